//! Per-request score normalisation (specs/rerank.md §4.1): every method sees scores on
//! the same scale, so parameters such as λ or θ mean the same thing across data sets.

use rayon::prelude::*;

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
        Normalization::Sigmoid => out
            .par_iter_mut()
            .for_each(|s| *s = 1.0 / (1.0 + (-*s).exp())),
        Normalization::MinMax => {
            // Requests are independent: split the flat array at request boundaries into
            // groups and normalise the groups in parallel (same arithmetic, same result).
            let groups = split_requests(offsets, &mut out, 1 << 16);
            groups
                .into_par_iter()
                .for_each(|(offs, values)| normalize_in_place(offs, values, mode));
        }
    }
    out
}

/// Normalise, on the calling thread, the requests laid out by `offsets` (which may start
/// above 0: `values` holds the scores from `offsets[0]` on).
pub fn normalize_in_place(offsets: &[i64], values: &mut [f64], mode: Normalization) {
    match mode {
        Normalization::None => {}
        Normalization::Sigmoid => values
            .iter_mut()
            .for_each(|s| *s = 1.0 / (1.0 + (-*s).exp())),
        Normalization::MinMax => {
            let base = offsets[0];
            for w in offsets.windows(2) {
                minmax_in_place(&mut values[(w[0] - base) as usize..(w[1] - base) as usize]);
            }
        }
    }
}

fn minmax_in_place(r: &mut [f64]) {
    let (lo, hi) = r
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &s| {
            (lo.min(s), hi.max(s))
        });
    let span = hi - lo;
    if span.is_infinite() {
        // scores near ±f64::MAX: halve first so the difference cannot overflow
        let half_span = hi / 2.0 - lo / 2.0;
        r.iter_mut()
            .for_each(|s| *s = (*s / 2.0 - lo / 2.0) / half_span);
    } else if span > 0.0 {
        r.iter_mut().for_each(|s| *s = (*s - lo) / span);
    } else {
        r.iter_mut().for_each(|s| *s = 1.0);
    }
}

/// Cut `values` (laid out by `offsets`) into groups of whole requests of about `target`
/// values each; each group gets its slice of offsets (absolute) and of values.
fn split_requests<'a, 'v>(
    offsets: &'a [i64],
    mut values: &'v mut [f64],
    target: usize,
) -> Vec<(&'a [i64], &'v mut [f64])> {
    let mut groups = Vec::new();
    let mut first = 0usize;
    while first + 1 < offsets.len() {
        let start = offsets[first];
        let mut last = first + 1;
        while last + 1 < offsets.len() && ((offsets[last] - start) as usize) < target {
            last += 1;
        }
        let (head, tail) = values.split_at_mut((offsets[last] - start) as usize);
        groups.push((&offsets[first..=last], head));
        values = tail;
        first = last;
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minmax_per_request_and_constant_rows() {
        let out = normalize_scores(
            &[0, 3, 5],
            &[2.0, 4.0, 3.0, 7.0, 7.0],
            Normalization::MinMax,
        );
        assert_eq!(out, vec![0.0, 1.0, 0.5, 1.0, 1.0]);
    }

    #[test]
    fn parallel_groups_equal_one_pass() {
        let sizes: Vec<i64> = (0..5000).map(|i| (i * 37 % 300) as i64).collect();
        let mut offsets = vec![0i64];
        for s in &sizes {
            offsets.push(offsets.last().unwrap() + s);
        }
        let n = *offsets.last().unwrap() as usize;
        let score: Vec<f64> = (0..n).map(|i| ((i * 7919) % 1013) as f64 / 7.0).collect();
        let got = normalize_scores(&offsets, &score, Normalization::MinMax);
        let mut want = score.clone();
        for w in offsets.windows(2) {
            minmax_in_place(&mut want[w[0] as usize..w[1] as usize]);
        }
        assert_eq!(got, want);
    }

    #[test]
    fn extreme_scores_do_not_overflow() {
        let out = normalize_scores(&[0, 3], &[-1e308, 1e308, 0.0], Normalization::MinMax);
        assert_eq!(out, vec![0.0, 1.0, 0.5]);
    }

    #[test]
    fn sigmoid_of_zero_is_half() {
        assert_eq!(
            normalize_scores(&[0, 1], &[0.0], Normalization::Sigmoid),
            vec![0.5]
        );
    }
}
