//! Fusing the ranked lists of several indexes over one corpus, every query of a batch at
//! once (spec retrieval, "Fusion").
//!
//! RRF: s(d) = Σ_r w_r / (rrf_k + rank_r(d)), ranks 1-based, absent = 0.
//! Linear: per run and query min-max ((s − min) / max(max − min, 1e-9)), z-score
//! ((s − mean) / max(std, 1e-9), population std) or raw scores, then Σ_r w_r·s_r over the
//! union, absent = 0. Sums run in run order in f64 and the top k go by score descending,
//! then document index ascending, so results do not depend on the thread count.

use rayon::prelude::*;

use super::TopK;
use crate::error::{CoreError, CoreResult};

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Norm {
    MinMax,
    ZScore,
    None,
}

impl Norm {
    pub fn parse(name: &str) -> CoreResult<Self> {
        match name {
            "minmax" => Ok(Norm::MinMax),
            "zscore" => Ok(Norm::ZScore),
            "none" => Ok(Norm::None),
            other => Err(CoreError::parameter(format!(
                "norm must be minmax, zscore or none, got '{other}'"
            ))),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fusion {
    Rrf { rrf_k: f64 },
    Linear { norm: Norm },
}

/// Fused top-k per query: `k` columns, padded with −1 / −∞; scores in f64.
#[derive(Clone, Debug, PartialEq)]
pub struct Fused {
    pub k: usize,
    pub idx: Vec<i32>,
    pub score: Vec<f64>,
    pub count: Vec<u32>,
}

/// Fuse `runs` (each a top-k of the same queries) with one weight per run.
pub fn fuse(runs: &[&TopK], weights: &[f64], fusion: Fusion, k: usize) -> CoreResult<Fused> {
    if runs.is_empty() {
        return Err(CoreError::parameter("fusion needs at least one run"));
    }
    if weights.len() != runs.len() {
        return Err(CoreError::shape(format!(
            "{} weights for {} runs",
            weights.len(),
            runs.len()
        )));
    }
    if weights.iter().any(|w| !w.is_finite()) {
        return Err(CoreError::parameter("weights must be finite"));
    }
    if let Fusion::Rrf { rrf_k } = fusion {
        if !rrf_k.is_finite() || rrf_k < 0.0 {
            return Err(CoreError::parameter("rrf_k must be a non-negative number"));
        }
    }
    let n_queries = runs[0].count.len();
    for run in runs {
        if run.count.len() != n_queries
            || run.idx.len() != n_queries * run.k
            || run.score.len() != n_queries * run.k
            || run.count.iter().any(|&c| c as usize > run.k)
        {
            return Err(CoreError::shape(
                "every run needs the same queries, k columns each and counts of at most k",
            ));
        }
    }
    let per_query: Vec<Vec<(i32, f64)>> = (0..n_queries)
        .into_par_iter()
        .map_init(Vec::new, |entries, q| {
            fuse_query(runs, weights, fusion, k, q, entries)
        })
        .collect();
    let mut out = Fused {
        k,
        idx: vec![-1; n_queries * k],
        score: vec![f64::NEG_INFINITY; n_queries * k],
        count: Vec::with_capacity(n_queries),
    };
    for (q, hits) in per_query.into_iter().enumerate() {
        for (j, (doc, s)) in hits.iter().enumerate() {
            out.idx[q * k + j] = *doc;
            out.score[q * k + j] = *s;
        }
        out.count.push(hits.len() as u32);
    }
    Ok(out)
}

/// One query: every run's contributions as (doc, run, value), summed per document in run
/// order, then the k best.
fn fuse_query(
    runs: &[&TopK],
    weights: &[f64],
    fusion: Fusion,
    k: usize,
    q: usize,
    entries: &mut Vec<(i32, usize, f64)>,
) -> Vec<(i32, f64)> {
    entries.clear();
    for (r, (run, &w)) in runs.iter().zip(weights).enumerate() {
        let n = run.count[q] as usize;
        let docs = &run.idx[q * run.k..q * run.k + n];
        let scores = &run.score[q * run.k..q * run.k + n];
        match fusion {
            Fusion::Rrf { rrf_k } => {
                for (rank, &doc) in docs.iter().enumerate() {
                    entries.push((doc, r, w / (rrf_k + (rank + 1) as f64)));
                }
            }
            Fusion::Linear { norm } => {
                let (shift, scale) = normalization(scores, norm);
                for (&doc, &s) in docs.iter().zip(scores) {
                    let s = f64::from(s);
                    let value = match norm {
                        Norm::None => s,
                        _ => (s - shift) / scale,
                    };
                    entries.push((doc, r, w * value));
                }
            }
        }
    }
    entries.sort_unstable_by_key(|&(doc, r, _)| (doc, r));
    let mut fused: Vec<(i32, f64)> = Vec::with_capacity(entries.len());
    for &(doc, _, value) in entries.iter() {
        match fused.last_mut() {
            Some((last, total)) if *last == doc => *total += value,
            _ => fused.push((doc, 0.0 + value)),
        }
    }
    // scores are finite sums of finite terms: partial_cmp never fails
    fused.sort_unstable_by(|a, b| b.1.partial_cmp(&a.1).unwrap().then(a.0.cmp(&b.0)));
    fused.truncate(k);
    fused
}

/// (shift, scale) of a run's scores for min-max or z-score (sums in order, in f64).
fn normalization(scores: &[f32], norm: Norm) -> (f64, f64) {
    if scores.is_empty() {
        return (0.0, 1.0);
    }
    match norm {
        Norm::MinMax => {
            let lo = scores
                .iter()
                .map(|&s| f64::from(s))
                .fold(f64::INFINITY, f64::min);
            let hi = scores
                .iter()
                .map(|&s| f64::from(s))
                .fold(f64::NEG_INFINITY, f64::max);
            (lo, (hi - lo).max(1e-9))
        }
        Norm::ZScore => {
            let n = scores.len() as f64;
            let mut total = 0.0;
            for &s in scores {
                total += f64::from(s);
            }
            let mean = total / n;
            let mut squares = 0.0;
            for &s in scores {
                squares += (f64::from(s) - mean).powi(2);
            }
            // powf(0.5), not sqrt: the same libm call as Python's `** 0.5`
            (mean, (squares / n).powf(0.5).max(1e-9))
        }
        Norm::None => (0.0, 1.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(rows: &[&[(i32, f32)]], k: usize) -> TopK {
        let mut t = TopK {
            k,
            idx: vec![-1; rows.len() * k],
            score: vec![f32::NEG_INFINITY; rows.len() * k],
            count: Vec::new(),
        };
        for (q, row) in rows.iter().enumerate() {
            for (j, &(d, s)) in row.iter().enumerate() {
                t.idx[q * k + j] = d;
                t.score[q * k + j] = s;
            }
            t.count.push(row.len() as u32);
        }
        t
    }

    #[test]
    fn rrf_and_minmax_by_hand() {
        let a = run(&[&[(3, 9.0), (1, 5.0), (7, 1.0)]], 3);
        let b = run(&[&[(1, 0.8), (4, 0.6)]], 3);
        let rrf = fuse(&[&a, &b], &[1.0, 1.0], Fusion::Rrf { rrf_k: 60.0 }, 10).unwrap();
        // doc 1: 1/62 + 1/61; doc 3: 1/61; doc 4: 1/62; doc 7: 1/63
        assert_eq!(rrf.idx[..4], [1, 3, 4, 7]);
        assert_eq!(rrf.score[0], 1.0 / 62.0 + 1.0 / 61.0);
        assert_eq!(rrf.count, vec![4]);
        let lin = fuse(
            &[&a, &b],
            &[0.5, 0.5],
            Fusion::Linear { norm: Norm::MinMax },
            2,
        )
        .unwrap();
        // a: 3→1, 1→0.5, 7→0; b: 1→1, 4→0. doc 1: 0.5·0.5 + 0.5·1 = 0.75; doc 3: 0.5
        assert_eq!(lin.idx, vec![1, 3]);
        assert_eq!(lin.score, vec![0.75, 0.5]);
        // ties go to the lower document index; empty queries give empty rows
        let c = run(&[&[(5, 1.0), (2, 1.0)], &[]], 2);
        let tie = fuse(&[&c], &[1.0], Fusion::Linear { norm: Norm::None }, 2).unwrap();
        assert_eq!(tie.idx, vec![2, 5, -1, -1]);
        assert_eq!(tie.count, vec![2, 0]);
    }

    #[test]
    fn shape_errors() {
        let a = run(&[&[(1, 1.0)]], 1);
        let b = run(&[&[(1, 1.0)], &[(2, 1.0)]], 1);
        assert!(fuse(&[&a, &b], &[1.0, 1.0], Fusion::Rrf { rrf_k: 60.0 }, 1).is_err());
        assert!(fuse(&[&a], &[1.0, 1.0], Fusion::Rrf { rrf_k: 60.0 }, 1).is_err());
        assert!(fuse(&[], &[], Fusion::Rrf { rrf_k: 60.0 }, 1).is_err());
    }
}
