//! Ranking metrics shared by the re-ranker and evaluators.

pub mod fairness;

/// Position weight w_k = 1/log2(k+1) for 1-based position k.
#[inline]
pub fn position_weight(k: usize) -> f64 {
    1.0 / ((k + 1) as f64).log2()
}

/// Table of w_1..w_k, so hot loops do not recompute logarithms.
pub fn position_weights(k: usize) -> Vec<f64> {
    (1..=k).map(position_weight).collect()
}

/// DCG of `scores` taken in the given order, with precomputed weights.
#[inline]
pub fn dcg_in_order(scores: impl Iterator<Item = f64>, weights: &[f64]) -> f64 {
    // fold from +0.0: `sum()` of nothing is −0.0, which would print as "-0.0"
    scores.zip(weights).fold(0.0, |acc, (s, w)| acc + s * w)
}

/// NDCG relative to the base scores: q/q*, and 1 when q* = 0 (nothing to lose).
#[inline]
pub fn ndcg(dcg: f64, idcg: f64) -> f64 {
    if idcg > 0.0 {
        dcg / idcg
    } else {
        1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_vector_idcg_and_ndcg() {
        // specs/rerank.md test 9: scores (.9,.8,.7,.6,.5), K = 3, list {.9,.6,.5}
        let w = position_weights(3);
        let idcg = dcg_in_order([0.9, 0.8, 0.7].into_iter(), &w);
        let dcg = dcg_in_order([0.9, 0.6, 0.5].into_iter(), &w);
        assert!((idcg - 1.7547).abs() < 1e-4, "{idcg}");
        assert!((ndcg(dcg, idcg) - 0.8711).abs() < 1e-4);
        assert_eq!(ndcg(0.0, 0.0), 1.0);
    }
}
