//! BM25 variants (spec retrieval, "BM25"): idf, term weights and Lucene's one-byte length
//! norms. Arithmetic follows bm25s 0.3.16 step for step (idf in f64 stored as f32, each
//! weight one f32 rounding of an f64 product), so lucene scores equal bm25s bit for bit;
//! okapi follows rank-bm25 0.2.2 (ε floor from the mean raw idf).

use crate::error::{CoreError, CoreResult};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    Lucene,
    Okapi,
    Bm25L,
    Bm25Plus,
}

impl Variant {
    pub fn parse(name: &str) -> CoreResult<Self> {
        match name {
            "lucene" => Ok(Variant::Lucene),
            "okapi" => Ok(Variant::Okapi),
            "bm25l" => Ok(Variant::Bm25L),
            "bm25+" | "bm25plus" => Ok(Variant::Bm25Plus),
            other => Err(CoreError::parameter(format!(
                "unknown BM25 variant {other:?} (lucene, okapi, bm25l, bm25+)"
            ))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Variant::Lucene => "lucene",
            Variant::Okapi => "okapi",
            Variant::Bm25L => "bm25l",
            Variant::Bm25Plus => "bm25+",
        }
    }

    /// Variants whose weight at tf = 0 is not zero (stored as weight − nonocc per posting).
    pub fn has_nonocc(self) -> bool {
        matches!(self, Variant::Bm25L | Variant::Bm25Plus)
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bm25Params {
    pub variant: Variant,
    pub k1: f64,
    pub b: f64,
    pub delta: f64,
    pub epsilon: f64,
    /// Lucene's lossy one-byte document lengths and float arithmetic (lucene only).
    pub lucene_norms: bool,
}

impl Bm25Params {
    /// Per-variant defaults: lucene k1 0.9, b 0.4; the others k1 1.5, b 0.75 (rank-bm25's),
    /// δ 0.5 (bm25l) or 1.0 (bm25+), ε 0.25 (okapi).
    pub fn new(
        variant: Variant,
        k1: Option<f64>,
        b: Option<f64>,
        delta: Option<f64>,
        epsilon: Option<f64>,
        lucene_norms: bool,
    ) -> CoreResult<Self> {
        let (dk1, db) = if variant == Variant::Lucene {
            (0.9, 0.4)
        } else {
            (1.5, 0.75)
        };
        let ddelta = match variant {
            Variant::Bm25L => 0.5,
            Variant::Bm25Plus => 1.0,
            _ => 0.0,
        };
        let p = Bm25Params {
            variant,
            k1: k1.unwrap_or(dk1),
            b: b.unwrap_or(db),
            delta: delta.unwrap_or(ddelta),
            epsilon: epsilon.unwrap_or(0.25),
            lucene_norms,
        };
        if !(p.k1.is_finite() && p.k1 >= 0.0) {
            return Err(CoreError::parameter(format!(
                "k1 must be a finite number >= 0, got {}",
                p.k1
            )));
        }
        if !(0.0..=1.0).contains(&p.b) {
            return Err(CoreError::parameter(format!(
                "b must be in [0, 1], got {}",
                p.b
            )));
        }
        if !(p.delta.is_finite() && p.delta >= 0.0) || !p.epsilon.is_finite() {
            return Err(CoreError::parameter(
                "delta must be >= 0 and epsilon finite",
            ));
        }
        if lucene_norms && variant != Variant::Lucene {
            return Err(CoreError::parameter(
                "--lucene-norms applies to the lucene variant only",
            ));
        }
        if variant != Variant::Okapi && epsilon.is_some() {
            return Err(CoreError::parameter(
                "epsilon applies to the okapi variant only",
            ));
        }
        if !variant.has_nonocc() && delta.is_some() {
            return Err(CoreError::parameter(
                "delta applies to bm25l and bm25+ only",
            ));
        }
        Ok(p)
    }

    /// The idf of a term (f64), before Okapi's floor.
    pub fn idf(&self, n: f64, df: f64) -> f64 {
        match self.variant {
            Variant::Lucene => (1.0 + (n - df + 0.5) / (df + 0.5)).ln(),
            Variant::Okapi => (n - df + 0.5).ln() - (df + 0.5).ln(),
            Variant::Bm25L => ((n + 1.0) / (df + 0.5)).ln(),
            Variant::Bm25Plus => ((n + 1.0) / df).ln(),
        }
    }

    /// The tf component in f64, with bm25s' / rank-bm25's exact order of operations.
    pub fn tfc(&self, tf: f64, dl: f64, avgdl: f64) -> f64 {
        let (k1, b, delta) = (self.k1, self.b, self.delta);
        match self.variant {
            Variant::Lucene => tf / (k1 * ((1.0 - b) + b * dl / avgdl) + tf),
            Variant::Okapi => tf * (k1 + 1.0) / (tf + k1 * (1.0 - b + b * dl / avgdl)),
            Variant::Bm25L => {
                let c = tf / (1.0 - b + b * dl / avgdl);
                ((k1 + 1.0) * (c + delta)) / (k1 + c + delta)
            }
            Variant::Bm25Plus => ((k1 + 1.0) * tf) / (k1 * (1.0 - b + b * dl / avgdl) + tf) + delta,
        }
    }
}

/// Lucene `SmallFloat.longToInt4`: keep the 4 most significant bits (values < 8 verbatim).
pub fn long_to_int4(i: u64) -> u32 {
    let bits = 64 - i.leading_zeros();
    if bits < 4 {
        return i as u32;
    }
    let shift = bits - 4;
    (((i >> shift) & 7) as u32) | ((shift + 1) << 3)
}

/// Lucene `SmallFloat.int4ToLong`.
pub fn int4_to_long(code: u32) -> u64 {
    let bits = (code & 7) as u64;
    let shift = (code >> 3) as i64 - 1;
    if shift < 0 {
        bits
    } else {
        (bits | 8) << shift
    }
}

/// Lengths below this are stored exactly in Lucene's norm byte.
const NUM_FREE_VALUES: u64 = 24;

/// A document length as Lucene stores it (one byte) and reads it back.
pub fn lucene_length(dl: u64) -> u64 {
    if dl < NUM_FREE_VALUES {
        dl
    } else {
        NUM_FREE_VALUES + int4_to_long(long_to_int4(dl - NUM_FREE_VALUES))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lucene_length_vectors() {
        for (dl, want) in [
            (0, 0),
            (23, 23),
            (24, 24),
            (40, 40),
            (41, 40),
            (47, 46),
            (48, 48),
            (73, 72),
            (100, 96),
            (255, 248),
            (1000, 984),
            (10000, 9240),
        ] {
            assert_eq!(lucene_length(dl), want, "{dl}");
        }
        assert_eq!(long_to_int4(2u64.pow(31) - 1), 231);
    }

    #[test]
    fn defaults_and_validation() {
        let p = Bm25Params::new(Variant::Lucene, None, None, None, None, false).unwrap();
        assert_eq!((p.k1, p.b), (0.9, 0.4));
        let p = Bm25Params::new(Variant::Bm25Plus, None, None, None, None, false).unwrap();
        assert_eq!((p.k1, p.b, p.delta), (1.5, 0.75, 1.0));
        assert!(Bm25Params::new(Variant::Okapi, None, Some(1.5), None, None, false).is_err());
        assert!(Bm25Params::new(Variant::Okapi, None, None, None, None, true).is_err());
        assert!(Bm25Params::new(Variant::Lucene, None, None, None, Some(0.1), false).is_err());
    }
}
