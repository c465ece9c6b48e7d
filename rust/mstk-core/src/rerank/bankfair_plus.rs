//! BankFair+ (arXiv:2504.14550) per-request selection: an **mstk reconstruction**
//! (specs/rerank.md §4.4; the paper's method section was not available).
//!
//! A user's satisfaction is measured against their own top-K on the NDCG scale, q̃ =
//! q(L)/q*, through the regret-aware value Z(q̃) = q̃^α + 1 − e^{δ(1−q̃)} (increasing,
//! concave; losses weigh more as δ grows). A list's value is Φ(L) = q*·Z(q̃(L))/Z′(1) −
//! Σ_{j∈L} price_{p(j)}: at q̃ = 1 one score unit is worth one DCG unit, as in BankFair.

use super::topk::{topk_priced, TopKScratch};
use crate::error::{CoreError, CoreResult};
use crate::metrics::dcg_in_order;

#[derive(Debug, Clone, PartialEq)]
pub struct PlusParams {
    pub delta: f64,
    pub lambda: f64,
    pub alpha: f64,
    pub fp_iters: usize,
    /// Search all k-subsets (small instances only) instead of the fixed-point iteration.
    pub exhaustive: bool,
}

impl PlusParams {
    pub fn check(&self) -> CoreResult<()> {
        if !(self.delta >= 0.0
            && self.delta.is_finite()
            && self.lambda >= 0.0
            && self.lambda.is_finite()
            && self.alpha > 0.0
            && self.alpha <= 1.0)
        {
            return Err(CoreError::parameter(
                "need delta >= 0, lambda >= 0 and alpha in (0, 1]",
            ));
        }
        if self.fp_iters == 0 {
            return Err(CoreError::parameter("fp_iters must be at least 1"));
        }
        Ok(())
    }
}

/// Z(q̃) = q̃^α + 1 − e^{δ(1−q̃)}.
pub fn regret_value(q: f64, alpha: f64, delta: f64) -> f64 {
    q.powf(alpha) + 1.0 - (delta * (1.0 - q)).exp()
}

/// Z′(q̃) = α·q̃^{α−1} + δ·e^{δ(1−q̃)}, with q̃ ≥ 1e-9.
pub fn regret_slope(q: f64, alpha: f64, delta: f64) -> f64 {
    let q = q.max(1e-9);
    alpha * q.powf(alpha - 1.0) + delta * (delta * (1.0 - q)).exp()
}

/// Chooses one request's list; reusable buffers.
#[derive(Default)]
pub struct PlusSelector {
    scratch: TopKScratch,
    candidate: Vec<u32>,
    previous: Vec<u32>,
}

impl PlusSelector {
    /// Select into `out` (display order by score). `price` is indexed by provider;
    /// `ideal` = q*, the DCG of the unpriced top-K.
    #[allow(clippy::too_many_arguments)]
    pub fn select(
        &mut self,
        s: &[f64],
        prov: &[i32],
        price: &[f64],
        k: usize,
        blocked: Option<&[bool]>,
        ideal: f64,
        weights: &[f64],
        params: &PlusParams,
        out: &mut Vec<u32>,
    ) -> CoreResult<()> {
        let k_t = k.min(s.len());
        let slope_at_one = regret_slope(1.0, params.alpha, params.delta);
        let value = |list: &[u32]| -> f64 {
            let q = dcg_in_order(list.iter().map(|&j| s[j as usize]), weights);
            let satisfaction = if ideal > 0.0 {
                ideal * regret_value(q / ideal, params.alpha, params.delta) / slope_at_one
            } else {
                0.0
            };
            satisfaction
                - list
                    .iter()
                    .map(|&j| price[prov[j as usize] as usize])
                    .sum::<f64>()
        };
        out.clear();
        if k_t == 0 {
            return Ok(());
        }
        if params.exhaustive {
            if s.len() > 12 || k_t > 4 || blocked.is_some() {
                return Err(CoreError::parameter("solver=exhaustive is for small instances: at most 12 candidates, K <= 4, no caps"));
            }
            let mut best: Option<(f64, Vec<u32>)> = None;
            for_each_subset(s.len(), k_t, &mut |subset: &[u32]| {
                let mut list = subset.to_vec();
                list.sort_by(|&a, &b| s[b as usize].total_cmp(&s[a as usize]).then(a.cmp(&b)));
                let v = value(&list);
                // subsets come in lexicographic order: only a strictly better one replaces
                if best.as_ref().is_none_or(|(bv, _)| v > *bv) {
                    best = Some((v, list));
                }
            });
            out.extend(best.expect("k_t >= 1 subsets exist").1);
            return Ok(());
        }
        if k_t == 1 {
            // exact: the best single candidate (unblocked ones first, ties → lower position)
            let mut best: Option<(bool, f64, u32)> = None;
            for j in 0..s.len() as u32 {
                let is_blocked = blocked.is_some_and(|b| b[prov[j as usize] as usize]);
                let v = value(&[j]);
                let better = match best {
                    None => true,
                    Some((bb, bv, _)) => (!is_blocked && bb) || (is_blocked == bb && v > bv),
                };
                if better {
                    best = Some((is_blocked, v, j));
                }
            }
            out.push(best.expect("k_t >= 1").2);
            return Ok(());
        }
        // fixed point: re-weight scores by the regret slope at the current list's q̃
        let mut w = 1.0;
        let mut best_value = f64::NEG_INFINITY;
        self.previous.clear();
        for _ in 0..params.fp_iters {
            topk_priced(
                s,
                prov,
                Some(price),
                w,
                k,
                blocked,
                &mut self.scratch,
                &mut self.candidate,
            );
            if self.candidate == self.previous {
                break;
            }
            let v = value(&self.candidate);
            if v > best_value || out.is_empty() {
                best_value = v;
                out.clear();
                out.extend_from_slice(&self.candidate);
            }
            let q = dcg_in_order(self.candidate.iter().map(|&j| s[j as usize]), weights);
            let q_tilde = if ideal > 0.0 { q / ideal } else { 1.0 };
            w = regret_slope(q_tilde, params.alpha, params.delta) / slope_at_one;
            std::mem::swap(&mut self.previous, &mut self.candidate);
        }
        Ok(())
    }
}

/// Call `f` with every k-subset of 0..n, in lexicographic order.
fn for_each_subset(n: usize, k: usize, f: &mut dyn FnMut(&[u32])) {
    let mut idx: Vec<u32> = (0..k as u32).collect();
    loop {
        f(&idx);
        let mut i = k;
        loop {
            if i == 0 {
                return;
            }
            i -= 1;
            if (idx[i] as usize) < n - k + i {
                break;
            }
            if i == 0 {
                return;
            }
        }
        if (idx[i] as usize) >= n - k + i {
            return;
        }
        idx[i] += 1;
        for j in i + 1..k {
            idx[j] = idx[j - 1] + 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::position_weights;

    #[test]
    fn spec_vector_3_regret_values() {
        let z: Vec<f64> = [1.0, 0.9, 0.8, 0.5]
            .iter()
            .map(|&q| regret_value(q, 1.0, 5.0))
            .collect();
        let dz: Vec<f64> = [1.0, 0.9, 0.8, 0.5]
            .iter()
            .map(|&q| regret_slope(q, 1.0, 5.0))
            .collect();
        for (got, want) in z.iter().zip([1.0, 0.2513, -0.9183, -10.6825]) {
            assert!((got - want).abs() < 1e-4, "{z:?}");
        }
        for (got, want) in dz.iter().zip([6.0, 9.2436, 14.5914, 61.9125]) {
            assert!((got - want).abs() < 1e-4, "{dz:?}");
        }
        assert!((regret_value(0.37, 1.0, 0.0) - 0.37).abs() < 1e-15); // δ = 0: Z(q) = q
                                                                      // concave on a grid
        let grid: Vec<f64> = (0..=100)
            .map(|i| regret_value(i as f64 / 100.0, 0.7, 2.0))
            .collect();
        assert!(grid.windows(3).all(|w| w[0] + w[2] <= 2.0 * w[1] + 1e-12));
    }

    fn pick(delta: f64, exhaustive: bool) -> Vec<u32> {
        // spec test 6: K = 1, λ = 0, a (1.0, A, μ 0), b (.7, B, μ −.4)
        let params = PlusParams {
            delta,
            lambda: 0.0,
            alpha: 1.0,
            fp_iters: 5,
            exhaustive,
        };
        let mut out = Vec::new();
        PlusSelector::default()
            .select(
                &[1.0, 0.7],
                &[0, 1],
                &[0.0, -0.4],
                1,
                None,
                1.0,
                &position_weights(1),
                &params,
                &mut out,
            )
            .unwrap();
        out
    }

    #[test]
    fn spec_vector_6_switch_point() {
        for delta in [0.0, 1.0, 2.0, 2.42] {
            assert_eq!(pick(delta, false), vec![1], "δ = {delta}");
            assert_eq!(pick(delta, true), vec![1], "δ = {delta}");
        }
        for delta in [2.43, 3.0, 10.0] {
            assert_eq!(pick(delta, false), vec![0], "δ = {delta}");
        }
    }

    #[test]
    fn fixed_point_never_beats_exhaustive() {
        let weights = position_weights(3);
        for seed in 0..200u64 {
            let n = 5 + (seed % 6) as usize;
            let s: Vec<f64> = (0..n)
                .map(|i| (((seed + 1) * 7919 + i as u64 * 104729) % 1000) as f64 / 1000.0)
                .collect();
            let prov: Vec<i32> = (0..n).map(|i| ((seed as usize + i) % 3) as i32).collect();
            let price = [0.0, -0.2 * (seed % 4) as f64, 0.1];
            let mut ideal_list = Vec::new();
            topk_priced(
                &s,
                &prov,
                None,
                1.0,
                3,
                None,
                &mut TopKScratch::default(),
                &mut ideal_list,
            );
            let ideal = dcg_in_order(ideal_list.iter().map(|&j| s[j as usize]), &weights);
            let phi = |list: &[u32], p: &PlusParams| {
                let q = dcg_in_order(list.iter().map(|&j| s[j as usize]), &weights);
                ideal * regret_value(q / ideal, p.alpha, p.delta)
                    / regret_slope(1.0, p.alpha, p.delta)
                    - list
                        .iter()
                        .map(|&j| price[prov[j as usize] as usize])
                        .sum::<f64>()
            };
            let fixed = PlusParams {
                delta: 2.0,
                lambda: 0.0,
                alpha: 1.0,
                fp_iters: 5,
                exhaustive: false,
            };
            let full = PlusParams {
                exhaustive: true,
                ..fixed.clone()
            };
            let (mut a, mut b) = (Vec::new(), Vec::new());
            PlusSelector::default()
                .select(&s, &prov, &price, 3, None, ideal, &weights, &fixed, &mut a)
                .unwrap();
            PlusSelector::default()
                .select(&s, &prov, &price, 3, None, ideal, &weights, &full, &mut b)
                .unwrap();
            assert!(phi(&a, &fixed) <= phi(&b, &fixed) + 1e-12, "seed {seed}");
        }
    }

    #[test]
    fn subsets_are_enumerated_once_each() {
        let mut seen = Vec::new();
        for_each_subset(5, 2, &mut |s: &[u32]| seen.push(s.to_vec()));
        assert_eq!(seen.len(), 10);
        assert_eq!(seen[0], vec![0, 1]);
        assert_eq!(seen[9], vec![3, 4]);
        let mut all = Vec::new();
        for_each_subset(3, 3, &mut |s: &[u32]| all.push(s.to_vec()));
        assert_eq!(all, vec![vec![0, 1, 2]]);
    }
}
