//! Per-request score normalisation (specs/rerank.md §4.1): every method sees scores on
//! the same scale, so parameters such as λ or θ mean the same thing across data sets.

use crate::error::{CoreError, CoreResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Normalization {
    /// (s − min)/(max − min) per request; a constant request becomes all 1.
    MinMax,
    /// 1/(1 + e^{−s}).
    Sigmoid,
    None,
}

impl std::str::FromStr for Normalization {
    type Err = CoreError;
    fn from_str(s: &str) -> CoreResult<Self> {
        match s {
            "minmax" => Ok(Normalization::MinMax),
            "sigmoid" => Ok(Normalization::Sigmoid),
            "none" => Ok(Normalization::None),
            other => Err(CoreError::parameter(format!(
                "unknown normalisation '{other}' (use minmax, sigmoid or none)"
            ))),
        }
    }
}

pub fn normalize_scores(offsets: &[i64], score: &[f64], mode: Normalization) -> Vec<f64> {
    let mut out = score.to_vec();
    match mode {
        Normalization::None => {}
        Normalization::Sigmoid => out.iter_mut().for_each(|s| *s = 1.0 / (1.0 + (-*s).exp())),
        Normalization::MinMax => {
            for w in offsets.windows(2) {
                let r = &mut out[w[0] as usize..w[1] as usize];
                let (lo, hi) = r.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &s| (lo.min(s), hi.max(s)));
                let span = hi - lo;
                if span > 0.0 {
                    r.iter_mut().for_each(|s| *s = (*s - lo) / span);
                } else {
                    r.iter_mut().for_each(|s| *s = 1.0);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minmax_per_request_and_constant_rows() {
        let out = normalize_scores(&[0, 3, 5], &[2.0, 4.0, 3.0, 7.0, 7.0], Normalization::MinMax);
        assert_eq!(out, vec![0.0, 1.0, 0.5, 1.0, 1.0]);
    }

    #[test]
    fn sigmoid_of_zero_is_half() {
        assert_eq!(normalize_scores(&[0, 1], &[0.0], Normalization::Sigmoid), vec![0.5]);
    }
}
