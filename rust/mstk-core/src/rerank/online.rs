//! The online replay loop: requests are processed one at a time in the caller's order
//! (interval, then timestamp), carrying per-provider state from request to request.
//!
//! Stateless methods (top-K) run in parallel with rayon; stateful ones are sequential by
//! nature. Either way the result depends only on the input, never on thread count.

use rayon::prelude::*;

use super::ragged::Ragged;
use super::topk::{topk_priced, topk_priced_and_ideal, TopKScratch};
use crate::error::{CoreError, CoreResult};
use crate::metrics::{dcg_in_order, position_weights};

/// How requests are grouped into the batches that reset per-batch exposure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchSpec {
    /// A batch is one interval (the default of specs/rerank.md §4.5).
    Interval,
    /// The whole stream is one batch.
    All,
    /// Consecutive runs of this many requests in processing order.
    Size(usize),
}

#[derive(Debug, Clone, PartialEq)]
pub enum OnlineMethod {
    /// Top-K by score; no state.
    TopK,
    /// FairDiverse's min-regularizer: bonus_p = λ·(min_q B_q − B_p)/(w_p·T_b), where B is
    /// the exposure so far in the batch and T_b the batch's request count.
    MinRegularizer { lambda: f64, batch: BatchSpec },
    /// CPFair as in FairDiverse (not the original MILP): bonus_p = λ·(1 − B_p/(Σ_q B_q + 1e-5)).
    CpFair { lambda: f64, batch: BatchSpec },
    /// Only the `k` providers with the least batch exposure (ties: lower id) are eligible;
    /// the others only fill lists that the eligible ones cannot.
    KNeighbor { k: usize, batch: BatchSpec },
    /// TFROM (online, as public reimplementations run it): each request raises every
    /// provider's target by W_K·share_p; position by position, the best unselected item
    /// whose provider stays within its target takes the slot; slots left empty are filled
    /// in order with the best remaining items. Exposure is position-weighted (w_k) and the
    /// list keeps its fill order. `target0`/`spent0` continue a run from saved state
    /// (each provider's target and position-weighted exposure so far; empty = zeros).
    Tfrom {
        share: Vec<f64>,
        target0: Vec<f64>,
        spent0: Vec<f64>,
    },
    /// FairRec (offline per batch; producers are the ragged batch's "providers", which the
    /// caller may set to items): ℓ = ⌊α·T_b·K/n⌋ copies per producer handed out in
    /// ⌈ℓ·n/T_b⌉ greedy round-robin rounds in request order (each request takes its best
    /// producer with copies left and not yet in its list; the phase stops for everyone when
    /// one request finds none), then every list is filled to K with its best remaining items.
    FairRec { alpha: f64, batch: BatchSpec },
    /// P-MMF (online mirror descent on max-min fairness duals): providers with no budget
    /// left (ρ_p·T_b·K slots per batch) are blocked; μ follows a momentum-smoothed step
    /// projected onto {Σ_{p∈S} ρ_p μ_p ≥ −λ for every S} (closed form, see `pmmf_project`).
    Pmmf {
        lambda: f64,
        eta: f64,
        gamma: f64,
        batch: BatchSpec,
        share: Vec<f64>,
    },
}

/// Everything a method needs besides its parameters.
pub struct OnlineProblem<'a> {
    pub requests: Ragged<'a>,
    /// Processing order: a permutation of 0..T (validated).
    pub order: &'a [i64],
    /// Interval of each request, in input order.
    pub interval: &'a [i64],
    /// Per-provider weight (w_p of min-regularizer), length n_providers, all > 0.
    pub weight: &'a [f64],
    pub k: usize,
}

/// Results in **input** order: request t's list is `sel[sel_offsets[t]..sel_offsets[t+1]]`
/// (candidate positions within the request, display order).
#[derive(Debug, Clone, PartialEq)]
pub struct OnlineOutput {
    pub sel_offsets: Vec<i64>,
    pub sel: Vec<i32>,
    pub dcg: Vec<f64>,
    pub idcg: Vec<f64>,
    /// Total exposure (slots) per provider over the whole stream.
    pub exposure: Vec<f64>,
    /// Per-provider state at the end, for a later run to continue from (TFROM: the
    /// targets); empty for methods that carry nothing past the stream.
    pub carry: Vec<f64>,
}

pub(crate) fn validate(problem: &OnlineProblem) -> CoreResult<()> {
    let t = problem.requests.n_requests();
    if problem.k == 0 {
        return Err(CoreError::parameter("k must be at least 1"));
    }
    if problem.order.len() != t || problem.interval.len() != t {
        return Err(CoreError::shape(format!(
            "{t} requests but order has {} entries and interval {}",
            problem.order.len(),
            problem.interval.len()
        )));
    }
    let mut seen = vec![false; t];
    for &i in problem.order {
        if i < 0 || i as usize >= t || std::mem::replace(&mut seen[i as usize], true) {
            return Err(CoreError::shape(
                "order must be a permutation of the request indices",
            ));
        }
    }
    if problem.weight.len() != problem.requests.n_providers {
        return Err(CoreError::shape(format!(
            "{} provider weights for {} providers",
            problem.weight.len(),
            problem.requests.n_providers
        )));
    }
    if let Some(w) = problem
        .weight
        .iter()
        .find(|w| !(w.is_finite() && **w > 0.0))
    {
        return Err(CoreError::parameter(format!(
            "provider weights must be positive and finite, got {w}"
        )));
    }
    Ok(())
}

/// Lengths of the batches in processing order.
fn batch_lengths(order: &[i64], interval: &[i64], spec: BatchSpec) -> CoreResult<Vec<usize>> {
    let t = order.len();
    Ok(match spec {
        BatchSpec::All => vec![t],
        BatchSpec::Size(0) => return Err(CoreError::parameter("batch size must be at least 1")),
        BatchSpec::Size(n) => (0..t).step_by(n).map(|start| n.min(t - start)).collect(),
        BatchSpec::Interval => {
            let mut lens: Vec<usize> = Vec::new();
            let mut prev: Option<i64> = None;
            for &i in order {
                let n = interval[i as usize];
                if prev == Some(n) {
                    *lens.last_mut().unwrap() += 1;
                } else {
                    lens.push(1);
                    prev = Some(n);
                }
            }
            lens
        }
    })
}

pub(crate) fn longest_request(req: &Ragged) -> usize {
    req.offsets
        .windows(2)
        .map(|w| (w[1] - w[0]) as usize)
        .max()
        .unwrap_or(0)
}

fn check_lambda(lambda: f64) -> CoreResult<()> {
    if lambda.is_finite() && lambda >= 0.0 {
        Ok(())
    } else {
        Err(CoreError::parameter(format!(
            "lambda must be finite and >= 0, got {lambda}"
        )))
    }
}

/// The lists being built, in input order.
pub(crate) struct OutLists {
    pub(crate) sel: Vec<i32>,
    pub(crate) dcg: Vec<f64>,
    pub(crate) exposure: Vec<f64>,
}

impl OutLists {
    /// Store request t's list (positions within the request) at `start` in `sel`.
    pub(crate) fn record(
        &mut self,
        req: &Ragged,
        t: usize,
        start: usize,
        list: &[u32],
        weights: &[f64],
    ) {
        let r = req.range(t);
        let (s, prov) = (&req.score[r.clone()], &req.provider[r]);
        for (slot, &j) in list.iter().enumerate() {
            self.sel[start + slot] = j as i32;
            self.exposure[prov[j as usize] as usize] += 1.0;
        }
        self.dcg[t] = dcg_in_order(list.iter().map(|&j| s[j as usize]), weights);
    }
}

/// The loop every count-exposure method shares: batches in processing order, exposure B
/// reset per batch, and per request `price_fn(B, T_b, price, blocked)` sets the provider
/// prices (and, when it returns true, the blocked providers) before `topk_priced`.
fn run_batched(
    problem: &OnlineProblem,
    lens: &[usize],
    out: &mut OutLists,
    mut idcg: Option<&mut [f64]>,
    mut price_fn: impl FnMut(&[f64], usize, &mut [f64], &mut [bool]) -> bool,
) {
    let req = &problem.requests;
    let k = problem.k.min(longest_request(req));
    let weights = position_weights(k);
    let n_prov = req.n_providers;
    let mut batch_exposure = vec![0.0f64; n_prov];
    let mut price = vec![0.0f64; n_prov];
    let mut blocked = vec![false; n_prov];
    let mut scratch = TopKScratch::default();
    let mut list = Vec::with_capacity(k);
    let mut ideal = Vec::with_capacity(k);
    let mut start_of = vec![0usize; req.n_requests() + 1];
    for t in 0..req.n_requests() {
        start_of[t + 1] = start_of[t] + req.range(t).len().min(k);
    }
    let mut cursor = 0usize;
    for &len in lens {
        batch_exposure.iter_mut().for_each(|b| *b = 0.0);
        for &ti in &problem.order[cursor..cursor + len] {
            let t = ti as usize;
            let use_blocked = price_fn(&batch_exposure, len, &mut price, &mut blocked);
            let r = req.range(t);
            let (s, prov) = (&req.score[r.clone()], &req.provider[r]);
            let blocked_now = use_blocked.then_some(&blocked[..]);
            match idcg.as_deref_mut() {
                Some(idcg) => {
                    topk_priced_and_ideal(
                        s,
                        prov,
                        &price,
                        1.0,
                        k,
                        blocked_now,
                        &mut scratch,
                        &mut list,
                        &mut ideal,
                    );
                    idcg[t] = dcg_in_order(ideal.iter().map(|&j| s[j as usize]), &weights);
                }
                None => topk_priced(
                    s,
                    prov,
                    Some(&price),
                    1.0,
                    k,
                    blocked_now,
                    &mut scratch,
                    &mut list,
                ),
            }
            for &j in &list {
                batch_exposure[prov[j as usize] as usize] += 1.0;
            }
            out.record(req, t, start_of[t], &list, &weights);
        }
        cursor += len;
    }
}

/// Π of specs/rerank.md §4.5: the projection of μ̃ onto {Σ_{p∈S} ρ_p μ_p ≥ −λ ∀S}, i.e. of
/// y = ρ⊙μ̃ onto {Σ_p min(y_p, 0) ≥ −λ}: lift the negative part by the c > 0 with
/// Σ_p min(y_p + c, 0) = −λ (found from the sorted negatives, no bisection).
pub fn pmmf_project(mu: &mut [f64], rho: &[f64], lambda: f64) {
    let y: Vec<f64> = mu.iter().zip(rho).map(|(m, r)| m * r).collect();
    let negative: f64 = y.iter().map(|v| v.min(0.0)).sum();
    if negative >= -lambda {
        return;
    }
    let mut neg: Vec<f64> = y.iter().copied().filter(|v| *v < 0.0).collect();
    neg.sort_by(f64::total_cmp); // most negative first
                                 // with the m most negative values still below −c: Σ_{i<m} (y_i + c) = −λ
    let mut c = 0.0;
    let mut prefix = 0.0;
    for m in 1..=neg.len() {
        prefix += neg[m - 1];
        let candidate = (-lambda - prefix) / m as f64;
        let lower_ok = candidate > 0.0 && neg[m - 1] + candidate <= 0.0;
        let next_ok = m == neg.len() || neg[m] + candidate >= 0.0;
        if lower_ok && next_ok {
            c = candidate;
            break;
        }
    }
    for ((m, v), r) in mu.iter_mut().zip(y).zip(rho) {
        let lifted = if v <= -c {
            v + c
        } else if v < 0.0 {
            0.0
        } else {
            v
        };
        *m = if *r > 0.0 { lifted / r } else { *m };
    }
}

fn run_fairrec(
    problem: &OnlineProblem,
    alpha: f64,
    lens: &[usize],
    sel_offsets: &[i64],
    out: &mut OutLists,
) {
    let req = &problem.requests;
    let k = problem.k.min(longest_request(req));
    let weights = position_weights(k);
    let n_prod = req.n_providers;
    let mut copies = vec![0usize; n_prod];
    let mut cursor = 0usize;
    for &len in lens {
        let batch = &problem.order[cursor..cursor + len];
        cursor += len;
        let per_producer = ((alpha * len as f64 * k as f64) / n_prod as f64).floor() as usize;
        let rounds = (per_producer * n_prod).div_ceil(len.max(1));
        copies.iter_mut().for_each(|c| *c = per_producer);
        // each request's candidates by score (ties → lower position), and its list so far
        let ranked: Vec<Vec<u32>> = batch
            .iter()
            .map(|&t| {
                let s = &req.score[req.range(t as usize)];
                let mut r: Vec<u32> = (0..s.len() as u32).collect();
                r.sort_by(|&a, &b| s[b as usize].total_cmp(&s[a as usize]).then(a.cmp(&b)));
                r
            })
            .collect();
        let mut lists: Vec<Vec<u32>> = vec![Vec::new(); len];
        'phase1: for _ in 0..rounds {
            for (u, &t) in batch.iter().enumerate() {
                let t = t as usize;
                let k_t = k.min(req.range(t).len());
                if lists[u].len() >= k_t {
                    continue;
                }
                let prov = &req.provider[req.range(t)];
                let pick = ranked[u].iter().copied().find(|&j| {
                    let p = prov[j as usize] as usize;
                    copies[p] > 0 && !lists[u].iter().any(|&c| prov[c as usize] as usize == p)
                });
                match pick {
                    Some(j) => {
                        copies[prov[j as usize] as usize] -= 1;
                        lists[u].push(j);
                    }
                    None => break 'phase1, // as the original: one stuck request ends the phase
                }
            }
        }
        for (u, &t) in batch.iter().enumerate() {
            let t = t as usize;
            let s = &req.score[req.range(t)];
            let k_t = k.min(s.len());
            let list = &mut lists[u];
            for &j in &ranked[u] {
                if list.len() >= k_t {
                    break;
                }
                if !list.contains(&j) {
                    list.push(j);
                }
            }
            list.sort_by(|&a, &b| s[b as usize].total_cmp(&s[a as usize]).then(a.cmp(&b)));
            out.record(req, t, sel_offsets[t] as usize, list, &weights);
        }
    }
}

/// How many of the open providers' best candidates TFROM keeps in score order per request.
const TFROM_LEADERS: usize = 16;

fn run_tfrom(
    problem: &OnlineProblem,
    share: &[f64],
    start: (&[f64], &[f64]),
    sel_offsets: &[i64],
    ideal_lists: &[Vec<u32>],
    mut inline_idcg: Option<&mut [f64]>,
    out: &mut OutLists,
) -> Vec<f64> {
    let req = &problem.requests;
    let k = problem.k.min(longest_request(req));
    let weights = position_weights(k);
    let total_weight: f64 = weights.iter().sum();
    let from = |v: &[f64]| {
        if v.is_empty() {
            vec![0.0; req.n_providers]
        } else {
            v.to_vec()
        }
    };
    let mut target = from(start.0);
    // exposure carried in from an earlier run; the run's own exposure is added back at the end
    let carried = from(start.1);
    for (e, c) in out.exposure.iter_mut().zip(&carried) {
        *e += c;
    }
    let n_prov = req.n_providers;
    let mut is_open = vec![false; n_prov];
    // 0 for open providers, +∞ for closed ones: score − bar is the score or −∞, with no
    // branch on openness (it is close to a coin flip per candidate)
    let mut bar = vec![0.0f64; n_prov];
    let mut any_open;
    let mut taken: Vec<bool> = Vec::new();
    let mut slots: Vec<Option<u32>> = Vec::with_capacity(k);
    // the best candidates of open providers this request, (score desc, position asc)
    let mut leaders: Vec<(f64, u32)> = Vec::with_capacity(TFROM_LEADERS);
    // with `inline_idcg`, each request's ideal list is selected here, while the request is
    // in cache, instead of by a separate pass that kept one list per request
    let (mut scratch, mut own_ideal) = (TopKScratch::default(), Vec::new());
    for &ti in problem.order {
        let t = ti as usize;
        let r = req.range(t);
        let (s, prov) = (&req.score[r.clone()], &req.provider[r]);
        for (p, goal) in target.iter_mut().enumerate() {
            *goal += total_weight * share[p];
        }
        let k_t = k.min(s.len());
        taken.clear();
        taken.resize(s.len(), false);
        slots.clear();
        if k_t == 0 {
            out.dcg[t] = 0.0; // a request without candidates gets an empty list
            continue;
        }
        let by_score: &[u32] = match inline_idcg.as_deref_mut() {
            Some(idcg) => {
                topk_priced(s, prov, None, 1.0, k, None, &mut scratch, &mut own_ideal);
                idcg[t] = dcg_in_order(own_ideal.iter().map(|&j| s[j as usize]), &weights);
                &own_ideal
            }
            None => &ideal_lists[t],
        };
        // A slot takes the best untaken candidate whose provider stays within its target.
        // Exposure only grows within a request and w_k shrinks with k, so a provider that
        // misses its target even at the last slot's weight is never asked ("open" are the
        // others). Slots walk the open providers' best candidates in score order and take
        // the first that fits; the walk rarely goes past a few entries (the list holds
        // TFROM_LEADERS; a slot that exhausts it scans the whole request instead).
        let w_last = weights[k_t - 1];
        any_open = false;
        for p in 0..n_prov {
            is_open[p] = out.exposure[p] + w_last <= target[p];
            bar[p] = if is_open[p] { 0.0 } else { f64::INFINITY };
            any_open |= is_open[p];
        }
        leaders.clear();
        if any_open {
            // closed providers' candidates get −∞, which the threshold always rejects
            let mut threshold = f64::NEG_INFINITY;
            for (j, (&score, &p)) in s.iter().zip(prov).enumerate() {
                let key = score - bar[p as usize];
                if key <= threshold {
                    continue;
                }
                if leaders.len() == TFROM_LEADERS {
                    leaders.pop();
                }
                let mut i = leaders.len();
                leaders.push((key, j as u32));
                while i > 0 && key > leaders[i - 1].0 {
                    leaders[i] = leaders[i - 1];
                    i -= 1;
                }
                leaders[i] = (key, j as u32);
                if leaders.len() == TFROM_LEADERS {
                    threshold = leaders[TFROM_LEADERS - 1].0;
                }
            }
        }
        for &w in &weights[..k_t] {
            let exposure = &out.exposure;
            let fits = |j: u32| {
                let p = prov[j as usize] as usize;
                !taken[j as usize] && exposure[p] + w <= target[p]
            };
            let mut pick = leaders.iter().map(|&(_, j)| j).find(|&j| fits(j));
            if pick.is_none() && leaders.len() == TFROM_LEADERS {
                // past the leaders: the best fitting candidate of the whole request
                pick = (0..s.len() as u32)
                    .filter(|&j| is_open[prov[j as usize] as usize] && fits(j))
                    .fold(None, |best: Option<u32>, j| match best {
                        Some(b) if s[b as usize] >= s[j as usize] => Some(b),
                        _ => Some(j),
                    });
            }
            if let Some(j) = pick {
                taken[j as usize] = true;
                out.exposure[prov[j as usize] as usize] += w;
            }
            slots.push(pick);
        }
        // fill step: empty slots, in order, get the best remaining items. Fewer than k_t
        // are taken when a slot is empty, so the k_t best by score hold enough of them:
        // the request's ideal list (top-K's own selection, score desc, position asc),
        // already computed for the IDCG. Nearly every request has an empty slot (a
        // provider's deficit rarely covers a whole slot's weight), so selecting it again
        // here cost about a fifth of the run.
        let start = sel_offsets[t] as usize;
        let mut dcg = 0.0;
        let mut rest = 0;
        for (slot, pick) in slots.iter().enumerate() {
            let j = match pick {
                Some(j) => *j,
                None => {
                    while taken[by_score[rest] as usize] {
                        rest += 1;
                    }
                    let j = by_score[rest];
                    rest += 1;
                    out.exposure[prov[j as usize] as usize] += weights[slot];
                    j
                }
            };
            out.sel[start + slot] = j as i32;
            dcg += s[j as usize] * weights[slot];
        }
        out.dcg[t] = dcg;
    }
    for (e, c) in out.exposure.iter_mut().zip(&carried) {
        *e -= c;
    }
    target
}

/// TFROM as first written: every slot compares the heads of all open providers' own
/// rankings. The reference `run_tfrom` is tested against.
#[cfg(test)]
fn run_tfrom_by_provider_heads(
    problem: &OnlineProblem,
    share: &[f64],
    start: (&[f64], &[f64]),
    sel_offsets: &[i64],
    ideal_lists: &[Vec<u32>],
    out: &mut OutLists,
) -> Vec<f64> {
    let req = &problem.requests;
    let k = problem.k.min(longest_request(req));
    let weights = position_weights(k);
    let total_weight: f64 = weights.iter().sum();
    let from = |v: &[f64]| {
        if v.is_empty() {
            vec![0.0; req.n_providers]
        } else {
            v.to_vec()
        }
    };
    let mut target = from(start.0);
    // exposure carried in from an earlier run; the run's own exposure is added back at the end
    let carried = from(start.1);
    for (e, c) in out.exposure.iter_mut().zip(&carried) {
        *e += c;
    }
    let n_prov = req.n_providers;
    // per provider: its best untaken candidates this request (score desc, position asc),
    // `head` the next one; `open` lists the providers that can take a slot at all
    let mut best_of: Vec<Vec<u32>> = vec![Vec::new(); n_prov];
    let mut head = vec![0usize; n_prov];
    let mut is_open = vec![false; n_prov];
    let mut open: Vec<usize> = Vec::new();
    let mut taken: Vec<bool> = Vec::new();
    let mut slots: Vec<Option<u32>> = Vec::with_capacity(k);
    for &ti in problem.order {
        let t = ti as usize;
        let r = req.range(t);
        let (s, prov) = (&req.score[r.clone()], &req.provider[r]);
        for (p, goal) in target.iter_mut().enumerate() {
            *goal += total_weight * share[p];
        }
        let k_t = k.min(s.len());
        taken.clear();
        taken.resize(s.len(), false);
        slots.clear();
        // A slot takes the best untaken candidate whose provider stays within its target.
        // The best untaken candidate of a provider is always the head of its own ranking,
        // so a slot only compares the heads of the providers that fit. Exposure only grows
        // within a request and w_k shrinks with k, so a provider that misses its target
        // even at the last slot's weight is never asked; at most k_t candidates of any
        // provider can be taken, so only its k_t best are ranked.
        if k_t == 0 {
            out.dcg[t] = 0.0; // a request without candidates gets an empty list
            continue;
        }
        let w_last = weights[k_t - 1];
        for &p in &open {
            is_open[p] = false;
        }
        open.clear();
        for p in 0..n_prov {
            if out.exposure[p] + w_last <= target[p] {
                is_open[p] = true;
                open.push(p);
                best_of[p].clear();
                head[p] = 0;
            }
        }
        if !open.is_empty() {
            for (j, &p) in prov.iter().enumerate() {
                let p = p as usize;
                if !is_open[p] {
                    continue;
                }
                let list = &mut best_of[p];
                let j = j as u32;
                if list.len() == k_t {
                    // positions ascend, so an equal score never displaces an earlier one
                    if s[j as usize] <= s[list[k_t - 1] as usize] {
                        continue;
                    }
                    list.pop();
                }
                let at = list.partition_point(|&i| s[i as usize] >= s[j as usize]);
                list.insert(at, j);
            }
        }
        for w in &weights[..k_t] {
            let exposure = &out.exposure;
            let mut chosen: Option<(usize, u32)> = None;
            for &p in &open {
                let Some(&j) = best_of[p].get(head[p]) else {
                    continue;
                };
                if exposure[p] + w > target[p] {
                    continue;
                }
                let better = match chosen {
                    None => true,
                    Some((_, c)) => {
                        s[j as usize] > s[c as usize] || (s[j as usize] == s[c as usize] && j < c)
                    }
                };
                if better {
                    chosen = Some((p, j));
                }
            }
            if let Some((p, _)) = chosen {
                head[p] += 1;
            }
            let pick = chosen.map(|(_, j)| j);
            if let Some(j) = pick {
                taken[j as usize] = true;
                out.exposure[prov[j as usize] as usize] += w;
            }
            slots.push(pick);
        }
        // fill step: empty slots, in order, get the best remaining items. Fewer than k_t
        // are taken when a slot is empty, so the k_t best by score hold enough of them:
        // the request's ideal list (top-K's own selection, score desc, position asc),
        // already computed for the IDCG. Nearly every request has an empty slot (a
        // provider's deficit rarely covers a whole slot's weight), so selecting it again
        // here cost about a fifth of the run.
        let start = sel_offsets[t] as usize;
        let mut dcg = 0.0;
        let mut rest = 0;
        for (slot, pick) in slots.iter().enumerate() {
            let j = match pick {
                Some(j) => *j,
                None => {
                    let by_score = &ideal_lists[t];
                    while taken[by_score[rest] as usize] {
                        rest += 1;
                    }
                    let j = by_score[rest];
                    rest += 1;
                    out.exposure[prov[j as usize] as usize] += weights[slot];
                    j
                }
            };
            out.sel[start + slot] = j as i32;
            dcg += s[j as usize] * weights[slot];
        }
        out.dcg[t] = dcg;
    }
    for (e, c) in out.exposure.iter_mut().zip(&carried) {
        *e -= c;
    }
    target
}

/// Plain top-K: every list is its request's ideal list, so requests are independent and
/// each chunk of them writes its lists, DCG and exposure counts at once (no list kept per
/// request, no serial pass).
fn run_topk(req: &Ragged, k: usize, weights: &[f64], sel_offsets: Vec<i64>) -> OnlineOutput {
    const CHUNK: usize = 1024;
    let t_total = req.n_requests();
    let parts: Vec<(Vec<i32>, Vec<f64>, Vec<f64>)> = (0..t_total.div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| {
            let ts = c * CHUNK..((c + 1) * CHUNK).min(t_total);
            let mut scratch = TopKScratch::default();
            let mut list = Vec::new();
            let from = sel_offsets[ts.start] as usize;
            let mut sel = Vec::with_capacity(sel_offsets[ts.end] as usize - from);
            let mut dcg = Vec::with_capacity(ts.len());
            let mut exposure = vec![0.0f64; req.n_providers];
            for t in ts {
                let r = req.range(t);
                let (s, prov) = (&req.score[r.clone()], &req.provider[r]);
                topk_priced(s, prov, None, 1.0, k, None, &mut scratch, &mut list);
                for &j in &list {
                    sel.push(j as i32);
                    exposure[prov[j as usize] as usize] += 1.0;
                }
                dcg.push(dcg_in_order(list.iter().map(|&j| s[j as usize]), weights));
            }
            (sel, dcg, exposure)
        })
        .collect();
    let mut out = OnlineOutput {
        sel: Vec::with_capacity(*sel_offsets.last().unwrap() as usize),
        sel_offsets,
        dcg: Vec::with_capacity(t_total),
        idcg: Vec::new(),
        exposure: vec![0.0; req.n_providers],
        carry: Vec::new(),
    };
    for (sel, dcg, exposure) in parts {
        out.sel.extend(sel);
        out.dcg.extend(dcg);
        for (total, e) in out.exposure.iter_mut().zip(exposure) {
            *total += e;
        }
    }
    out.idcg = out.dcg.clone();
    out
}

pub fn run_online(problem: &OnlineProblem, method: &OnlineMethod) -> CoreResult<OnlineOutput> {
    validate(problem)?;
    let req = &problem.requests;
    let t_total = req.n_requests();
    let k = problem.k;
    // No list is longer than the longest request: size buffers by that, not by a user's k.
    let weights = position_weights(k.min(longest_request(req)));

    let mut sel_offsets = Vec::with_capacity(t_total + 1);
    sel_offsets.push(0i64);
    for t in 0..t_total {
        let n = req.range(t).len();
        sel_offsets.push(sel_offsets[t] + n.min(k) as i64);
    }
    if matches!(method, OnlineMethod::TopK) {
        return Ok(run_topk(req, k, &weights, sel_offsets));
    }
    let sel = vec![0i32; *sel_offsets.last().unwrap() as usize];
    let dcg = vec![0.0; t_total];
    let mut idcg = vec![0.0; t_total];

    // The ideal list (unpriced top-K) of every request: independent, so parallel. Only
    // top-K itself keeps the lists; the other methods need just their DCG (no list
    // allocated per request).
    let ideal = |scratch: &mut TopKScratch, list: &mut Vec<u32>, t: usize| {
        let r = req.range(t);
        topk_priced(
            &req.score[r.clone()],
            &req.provider[r],
            None,
            1.0,
            k,
            None,
            scratch,
            list,
        );
    };
    let ideal_dcg = |list: &[u32], t: usize| {
        let s = &req.score[req.range(t)];
        dcg_in_order(list.iter().map(|&j| s[j as usize]), &weights)
    };
    // TFROM fills empty slots from the ideal lists; the others keep only their DCG (an
    // empty Vec allocates nothing). Top-K returned above.
    let keep_lists = matches!(method, OnlineMethod::Tfrom { .. });
    // The batched methods stream every request's candidates once more in their own loop.
    // On one thread the ideal list is then computed there, while the request is in cache:
    // a separate pass over all requests read the candidates from memory twice, and
    // memory, not comparisons, bounds these kernels. With more threads the separate pass
    // runs in parallel, which is worth more. The values are the same either way.
    let inline_ideal = rayon::current_num_threads() == 1
        && matches!(
            method,
            OnlineMethod::MinRegularizer { .. }
                | OnlineMethod::CpFair { .. }
                | OnlineMethod::KNeighbor { .. }
                | OnlineMethod::Pmmf { .. }
                | OnlineMethod::Tfrom { .. }
        );
    let ideal_runs: Vec<(f64, Vec<u32>)> = (0..if inline_ideal { 0 } else { t_total })
        .into_par_iter()
        .map_init(
            || (TopKScratch::default(), Vec::new()),
            |(scratch, list), t| {
                ideal(scratch, list, t);
                let kept = if keep_lists { list.clone() } else { Vec::new() };
                (ideal_dcg(list, t), kept)
            },
        )
        .collect();
    let mut ideal_lists = Vec::with_capacity(if keep_lists { t_total } else { 0 });
    for (t, (dcg, list)) in ideal_runs.into_iter().enumerate() {
        idcg[t] = dcg;
        if keep_lists {
            ideal_lists.push(list);
        }
    }

    let mut out_lists = OutLists {
        sel,
        dcg,
        exposure: vec![0.0f64; req.n_providers],
    };
    let mut carry = Vec::new();
    match method {
        OnlineMethod::TopK => unreachable!("run_topk returned above"),
        OnlineMethod::MinRegularizer { lambda, batch } => {
            check_lambda(*lambda)?;
            let lens = batch_lengths(problem.order, problem.interval, *batch)?;
            run_batched(
                problem,
                &lens,
                &mut out_lists,
                inline_ideal.then_some(&mut idcg[..]),
                |b, len, price, _| {
                    // price = −bonus = λ·(B_p − min B)/(w_p·T_b) ≥ 0
                    let scale = lambda / len as f64;
                    let min_b = b.iter().copied().fold(f64::INFINITY, f64::min);
                    for (p, price) in price.iter_mut().enumerate() {
                        *price = scale * (b[p] - min_b) / problem.weight[p];
                    }
                    false
                },
            );
        }
        OnlineMethod::CpFair { lambda, batch } => {
            check_lambda(*lambda)?;
            let lens = batch_lengths(problem.order, problem.interval, *batch)?;
            run_batched(
                problem,
                &lens,
                &mut out_lists,
                inline_ideal.then_some(&mut idcg[..]),
                |b, _, price, _| {
                    // price = −bonus = −λ·(1 − B_p/(Σ_q B_q + 1e-5)); only differences matter
                    let total: f64 = b.iter().sum::<f64>() + 1e-5;
                    for (p, price) in price.iter_mut().enumerate() {
                        *price = -lambda * (1.0 - b[p] / total);
                    }
                    false
                },
            );
        }
        OnlineMethod::KNeighbor {
            k: neighbors,
            batch,
        } => {
            if *neighbors == 0 {
                return Err(CoreError::parameter(
                    "k_neighbor needs k >= 1 eligible providers",
                ));
            }
            let lens = batch_lengths(problem.order, problem.interval, *batch)?;
            let mut ranked: Vec<usize> = (0..req.n_providers).collect();
            let mut least: Vec<usize> = Vec::with_capacity(*neighbors);
            run_batched(
                problem,
                &lens,
                &mut out_lists,
                inline_ideal.then_some(&mut idcg[..]),
                |b, _, _, blocked| {
                    // eligible = the `neighbors` providers with least exposure (ties: lower id)
                    blocked.iter_mut().for_each(|x| *x = true);
                    let take = (*neighbors).min(ranked.len());
                    if take <= 8 {
                        // a few: one pass keeping them sorted (ids ascend, so ties keep the lower)
                        least.clear();
                        for (p, &e) in b.iter().enumerate() {
                            if least.len() == take && e >= b[least[take - 1]] {
                                continue;
                            }
                            if least.len() == take {
                                least.pop();
                            }
                            let mut i = least.len();
                            while i > 0 && e < b[least[i - 1]] {
                                i -= 1;
                            }
                            least.insert(i, p);
                        }
                        for &p in &least {
                            blocked[p] = false;
                        }
                        return true;
                    }
                    let by_exposure = |x: &usize, y: &usize| b[*x].total_cmp(&b[*y]).then(x.cmp(y));
                    if take < ranked.len() {
                        ranked.select_nth_unstable_by(take - 1, by_exposure);
                    }
                    for &p in &ranked[..take] {
                        blocked[p] = false;
                    }
                    true
                },
            );
        }
        OnlineMethod::Pmmf {
            lambda,
            eta,
            gamma,
            batch,
            share,
        } => {
            if share.len() != req.n_providers || share.iter().any(|x| !(x.is_finite() && *x >= 0.0))
            {
                return Err(CoreError::shape(
                    "pmmf needs one finite share >= 0 per provider",
                ));
            }
            if !(lambda.is_finite()
                && *lambda >= 0.0
                && eta.is_finite()
                && *eta > 0.0
                && *gamma > 0.0
                && *gamma <= 1.0)
            {
                return Err(CoreError::parameter(
                    "pmmf needs lambda >= 0, eta > 0 and gamma in (0, 1]",
                ));
            }
            let lens = batch_lengths(problem.order, problem.interval, *batch)?;
            let n_prov = req.n_providers;
            let rho: Vec<f64> = share
                .iter()
                .map(|s| (1.0 + 1.0 / n_prov as f64) * s)
                .collect();
            let (mut mu, mut g_cum, mut last) =
                (vec![0.0; n_prov], vec![0.0; n_prov], vec![0.0; n_prov]);
            let mut seen = 0usize;
            let kf = k as f64;
            run_batched(
                problem,
                &lens,
                &mut out_lists,
                inline_ideal.then_some(&mut idcg[..]),
                |b, len, price, blocked| {
                    if seen == 0 {
                        mu.iter_mut().for_each(|x| *x = 0.0);
                        g_cum.iter_mut().for_each(|x| *x = 0.0);
                        last.iter_mut().for_each(|x| *x = 0.0);
                    } else {
                        // dual step for the previous request, now that its slots are known
                        let step = eta / (len as f64).sqrt();
                        for p in 0..n_prov {
                            let cnt = b[p] - last[p];
                            let budget = rho[p] * len as f64 * kf - b[p];
                            let g = gamma * (budget / (len as f64 * kf) - cnt / kf)
                                + (1.0 - gamma) * g_cum[p];
                            g_cum[p] = g;
                            let r2 = (rho[p] * rho[p]).max(1e-12);
                            mu[p] -= step * g / r2;
                        }
                        pmmf_project(&mut mu, &rho, *lambda);
                    }
                    last.copy_from_slice(b);
                    for p in 0..n_prov {
                        price[p] = mu[p];
                        blocked[p] = rho[p] * len as f64 * kf - b[p] <= 0.0;
                    }
                    seen = if seen + 1 == len { 0 } else { seen + 1 };
                    true
                },
            );
        }
        OnlineMethod::FairRec { alpha, batch } => {
            if !(alpha.is_finite() && *alpha > 0.0 && *alpha <= 1.0) {
                return Err(CoreError::parameter(format!(
                    "fairrec needs alpha in (0, 1], got {alpha}"
                )));
            }
            let lens = batch_lengths(problem.order, problem.interval, *batch)?;
            run_fairrec(problem, *alpha, &lens, &sel_offsets, &mut out_lists);
        }
        OnlineMethod::Tfrom {
            share,
            target0,
            spent0,
        } => {
            if share.len() != req.n_providers || share.iter().any(|x| !(x.is_finite() && *x >= 0.0))
            {
                return Err(CoreError::shape(
                    "tfrom needs one finite share >= 0 per provider",
                ));
            }
            for (name, v) in [("target0", target0), ("spent0", spent0)] {
                if !v.is_empty() && (v.len() != req.n_providers || v.iter().any(|x| !x.is_finite()))
                {
                    return Err(CoreError::shape(format!(
                        "tfrom's {name} needs one finite value per provider"
                    )));
                }
            }
            carry = run_tfrom(
                problem,
                share,
                (target0, spent0),
                &sel_offsets,
                &ideal_lists,
                inline_ideal.then_some(&mut idcg[..]),
                &mut out_lists,
            );
        }
    }
    let OutLists { sel, dcg, exposure } = out_lists;
    Ok(OnlineOutput {
        sel_offsets,
        sel,
        dcg,
        idcg,
        exposure,
        carry,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem<'a>(
        offsets: &'a [i64],
        score: &'a [f64],
        prov: &'a [i32],
        np: usize,
        order: &'a [i64],
        interval: &'a [i64],
        weight: &'a [f64],
        k: usize,
    ) -> OnlineProblem<'a> {
        OnlineProblem {
            requests: Ragged::new(offsets, score, prov, np).unwrap(),
            order,
            interval,
            weight,
            k,
        }
    }

    #[test]
    fn min_regularizer_spec_vector_7() {
        // K = 1, two identical requests (x .9 of X, y .5 of Y), λ 1, T_b 2 → x then y.
        let (off, s, p) = ([0, 2, 4], [0.9, 0.5, 0.9, 0.5], [0, 1, 0, 1]);
        let pr = problem(&off, &s, &p, 2, &[0, 1], &[0, 0], &[1.0, 1.0], 1);
        let out = run_online(
            &pr,
            &OnlineMethod::MinRegularizer {
                lambda: 1.0,
                batch: BatchSpec::Interval,
            },
        )
        .unwrap();
        assert_eq!(out.sel, vec![0, 1]);
        assert_eq!(out.exposure, vec![1.0, 1.0]);
        // λ = 0 is top-K
        let out = run_online(
            &pr,
            &OnlineMethod::MinRegularizer {
                lambda: 0.0,
                batch: BatchSpec::Interval,
            },
        )
        .unwrap();
        assert_eq!(out.sel, vec![0, 0]);
        // separate intervals reset the batch exposure: x both times
        let pr = problem(&off, &s, &p, 2, &[0, 1], &[0, 1], &[1.0, 1.0], 1);
        let out = run_online(
            &pr,
            &OnlineMethod::MinRegularizer {
                lambda: 1.0,
                batch: BatchSpec::Interval,
            },
        )
        .unwrap();
        assert_eq!(out.sel, vec![0, 0]);
    }

    #[test]
    fn every_method_gives_the_same_lists_and_metrics_on_one_thread_or_several() {
        // One thread computes the batched methods' ideal lists inside their loop, several
        // in a pass of their own; top-K writes its lists in chunks. None may change a value.
        let (t, n, np) = (300usize, 40usize, 7usize);
        let mut state = 0x2545F4914F6CDD1Du64;
        let mut next = |m: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % m
        };
        // few distinct scores, so ties are common
        let score: Vec<f64> = (0..t * n).map(|_| next(20) as f64 / 20.0).collect();
        let prov: Vec<i32> = (0..t * n).map(|_| next(np as u64) as i32).collect();
        let off: Vec<i64> = (0..=t).map(|i| (i * n) as i64).collect();
        let order: Vec<i64> = (0..t as i64).collect();
        let interval: Vec<i64> = (0..t as i64).map(|i| i / 50).collect();
        let weight = vec![1.0; np];
        let share = vec![1.0 / np as f64; np];
        let methods = [
            OnlineMethod::TopK,
            OnlineMethod::MinRegularizer {
                lambda: 3.0,
                batch: BatchSpec::Interval,
            },
            OnlineMethod::CpFair {
                lambda: 0.5,
                batch: BatchSpec::Interval,
            },
            OnlineMethod::KNeighbor {
                k: 3,
                batch: BatchSpec::Interval,
            },
            OnlineMethod::Pmmf {
                lambda: 0.1,
                eta: 1e-2,
                gamma: 0.1,
                batch: BatchSpec::Size(16),
                share: share.clone(),
            },
            OnlineMethod::Tfrom {
                share,
                target0: vec![],
                spent0: vec![],
            },
        ];
        for method in &methods {
            let run = |threads: usize| {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                pool.install(|| {
                    let pr = problem(&off, &score, &prov, np, &order, &interval, &weight, 5);
                    run_online(&pr, method).unwrap()
                })
            };
            assert_eq!(run(1), run(3), "{method:?}");
        }
        let top = {
            let pr = problem(&off, &score, &prov, np, &order, &interval, &weight, 5);
            run_online(&pr, &OnlineMethod::TopK).unwrap()
        };
        for method in &methods {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(1)
                .build()
                .unwrap();
            let out = pool.install(|| {
                let pr = problem(&off, &score, &prov, np, &order, &interval, &weight, 5);
                run_online(&pr, method).unwrap()
            });
            assert_eq!(
                out.idcg, top.dcg,
                "{method:?}: the ideal DCG is top-K's DCG"
            );
        }
    }

    #[test]
    fn cpfair_and_k_neighbor_spec_vector_7() {
        let (off, s, p) = ([0, 2, 4], [0.9, 0.5, 0.9, 0.5], [0, 1, 0, 1]);
        let pr = problem(&off, &s, &p, 2, &[0, 1], &[0, 0], &[1.0, 1.0], 1);
        let cp = run_online(
            &pr,
            &OnlineMethod::CpFair {
                lambda: 0.5,
                batch: BatchSpec::Interval,
            },
        )
        .unwrap();
        assert_eq!(cp.sel, vec![0, 1]);
        let kn = run_online(
            &pr,
            &OnlineMethod::KNeighbor {
                k: 1,
                batch: BatchSpec::Interval,
            },
        )
        .unwrap();
        assert_eq!(kn.sel, vec![0, 1]);
        // limits equal to top-K: λ = 0, or every provider eligible
        let cp0 = run_online(
            &pr,
            &OnlineMethod::CpFair {
                lambda: 0.0,
                batch: BatchSpec::Interval,
            },
        )
        .unwrap();
        let kn_all = run_online(
            &pr,
            &OnlineMethod::KNeighbor {
                k: 2,
                batch: BatchSpec::Interval,
            },
        )
        .unwrap();
        let top = run_online(&pr, &OnlineMethod::TopK).unwrap();
        assert_eq!(cp0, top);
        assert_eq!(kn_all, top);
        assert!(run_online(
            &pr,
            &OnlineMethod::KNeighbor {
                k: 0,
                batch: BatchSpec::All
            }
        )
        .is_err());
    }

    #[test]
    fn pmmf_projection_spec_vector_4() {
        let check = |rho: &[f64], mu: &[f64], want: &[f64]| {
            let mut m = mu.to_vec();
            pmmf_project(&mut m, rho, 0.5);
            for (a, b) in m.iter().zip(want) {
                assert!((a - b).abs() < 1e-12, "{m:?} vs {want:?}");
            }
            // feasible and idempotent
            let neg: f64 = m.iter().zip(rho).map(|(a, r)| (a * r).min(0.0)).sum();
            assert!(neg >= -0.5 - 1e-12);
            let mut again = m.clone();
            pmmf_project(&mut again, rho, 0.5);
            assert_eq!(again, m);
        };
        check(&[0.5, 0.25, 0.25], &[-2.0, -1.0, 1.0], &[-1.0, 0.0, 1.0]);
        check(&[0.25; 4], &[-4.0, -1.0, 0.5, 2.0], &[-2.0, 0.0, 0.5, 2.0]);
        check(&[0.5, 0.25, 0.25], &[-0.5, 1.0, 1.0], &[-0.5, 1.0, 1.0]);
    }

    #[test]
    fn fairrec_spec_vector_7() {
        // α 1, producers = providers, users (x .9, y .5), (x .8, y .7): ℓ = R = 1 → [x], [y]
        let (off, s, p) = ([0, 2, 4], [0.9, 0.5, 0.8, 0.7], [0, 1, 0, 1]);
        let pr = problem(&off, &s, &p, 2, &[0, 1], &[0, 0], &[1.0, 1.0], 1);
        let out = run_online(
            &pr,
            &OnlineMethod::FairRec {
                alpha: 1.0,
                batch: BatchSpec::Interval,
            },
        )
        .unwrap();
        assert_eq!(out.sel, vec![0, 1]);
        assert!(run_online(
            &pr,
            &OnlineMethod::FairRec {
                alpha: 0.0,
                batch: BatchSpec::All
            }
        )
        .is_err());
    }

    #[test]
    fn tfrom_continues_from_saved_target_and_exposure() {
        // a stream cut in two gives the whole stream's lists when the second part starts
        // from the first part's targets (t·W_K·share) and exposure; spec vector 8's data
        let off = [0i64, 3, 6, 9];
        let s = [0.9, 0.8, 0.1, 0.9, 0.8, 0.1, 0.9, 0.8, 0.1];
        let p = [0, 0, 1, 0, 0, 1, 0, 0, 1];
        let tfrom = |target0: Vec<f64>, spent0: Vec<f64>| OnlineMethod::Tfrom {
            share: vec![0.5, 0.5],
            target0,
            spent0,
        };
        let w = [1.0, 1.0];
        let whole = run_online(
            &problem(&off, &s, &p, 2, &[0, 1, 2], &[0; 3], &w, 2),
            &tfrom(vec![], vec![]),
        )
        .unwrap();
        let head = run_online(
            &problem(&off[..2], &s[..3], &p[..3], 2, &[0], &[0], &w, 2),
            &tfrom(vec![], vec![]),
        )
        .unwrap();
        let w_k: f64 = position_weights(2).iter().sum();
        let tail = |target0: Vec<f64>, spent0: Vec<f64>| {
            run_online(
                &problem(&[0, 3, 6], &s[3..], &p[3..], 2, &[0, 1], &[0, 0], &w, 2),
                &tfrom(target0, spent0),
            )
            .unwrap()
        };
        assert_eq!(head.carry, vec![w_k * 0.5; 2]); // the targets after one request
        let continued = tail(head.carry.clone(), head.exposure.clone());
        assert_eq!(
            [head.sel.clone(), continued.sel.clone()].concat(),
            whole.sel
        );
        for q in 0..2 {
            assert!((head.exposure[q] + continued.exposure[q] - whole.exposure[q]).abs() < 1e-12);
        }
        // without the carried state the tail starts over: (x2, x1) again instead of (y1, x1)
        assert_eq!(tail(vec![], vec![]).sel[..2], [1, 0]);
        assert_eq!(continued.sel[..2], [2, 0]);
    }

    #[test]
    fn tfrom_by_leaders_equals_tfrom_by_provider_heads() {
        // random requests: few score levels (ties), skewed providers, long and short
        // requests, shares that leave many providers closed; runs long enough that the
        // leaders list overflows and slots fall back to the whole request
        let mut state = 0x9E3779B97F4A7C15u64;
        let mut next = |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        for case in 0..60 {
            let np = 1 + next(40) as usize;
            let t = 1 + next(300) as usize;
            let k = 1 + next(12) as usize;
            let mut off = vec![0i64];
            for _ in 0..t {
                let n = if next(4) == 0 { next(3) } else { next(200) };
                off.push(off.last().unwrap() + n as i64);
            }
            let total = *off.last().unwrap() as usize;
            let levels = 2 + next(50);
            let score: Vec<f64> = (0..total)
                .map(|_| next(levels) as f64 / levels as f64)
                .collect();
            let prov: Vec<i32> = (0..total)
                .map(|_| (next(np as u64) * next(np as u64) / np as u64) as i32)
                .collect();
            let mut share: Vec<f64> = (0..np).map(|_| next(10) as f64).collect();
            let sum: f64 = share.iter().sum::<f64>().max(1.0);
            share.iter_mut().for_each(|x| *x /= sum);
            let order: Vec<i64> = (0..t as i64).collect();
            let interval = vec![0i64; t];
            let weight = vec![1.0; np];
            let pr = problem(&off, &score, &prov, np, &order, &interval, &weight, k);
            let req = &pr.requests;
            let k_eff = k.min(longest_request(req));
            let mut sel_offsets = vec![0i64];
            let mut ideal_lists = Vec::new();
            let (mut scratch, mut list) = (TopKScratch::default(), Vec::new());
            for t in 0..t {
                let r = req.range(t);
                sel_offsets.push(sel_offsets[t] + r.len().min(k_eff) as i64);
                topk_priced(
                    &req.score[r.clone()],
                    &req.provider[r],
                    None,
                    1.0,
                    k_eff,
                    None,
                    &mut scratch,
                    &mut list,
                );
                ideal_lists.push(list.clone());
            }
            let ideal_dcg: Vec<f64> = (0..t)
                .map(|t| {
                    let s = &req.score[req.range(t)];
                    dcg_in_order(
                        ideal_lists[t].iter().map(|&j| s[j as usize]),
                        &position_weights(k_eff),
                    )
                })
                .collect();
            // 0: per-provider heads (reference), 1: leaders with the lists given,
            // 2: leaders selecting the ideal lists themselves
            let run = |mode: u8| {
                let mut out = OutLists {
                    sel: vec![0; *sel_offsets.last().unwrap() as usize],
                    dcg: vec![0.0; t],
                    exposure: vec![0.0; np],
                };
                let mut idcg = vec![0.0; t];
                let start: (&[f64], &[f64]) = (&[], &[]);
                let target = match mode {
                    0 => run_tfrom_by_provider_heads(
                        &pr,
                        &share,
                        start,
                        &sel_offsets,
                        &ideal_lists,
                        &mut out,
                    ),
                    1 => run_tfrom(
                        &pr,
                        &share,
                        start,
                        &sel_offsets,
                        &ideal_lists,
                        None,
                        &mut out,
                    ),
                    _ => {
                        let target = run_tfrom(
                            &pr,
                            &share,
                            start,
                            &sel_offsets,
                            &[],
                            Some(&mut idcg),
                            &mut out,
                        );
                        assert_eq!(idcg, ideal_dcg, "case {case}: inline ideal DCG");
                        target
                    }
                };
                (out.sel, out.dcg, out.exposure, target)
            };
            let want = run(0);
            assert_eq!(run(1), want, "case {case}");
            assert_eq!(run(2), want, "case {case} (inline ideal lists)");
        }
    }

    #[test]
    fn tfrom_spec_vector_8() {
        // K = 2, equal share, x1 .9, x2 .8 (X), y1 .1 (Y), three identical requests
        let off = [0i64, 3, 6, 9];
        let s = [0.9, 0.8, 0.1, 0.9, 0.8, 0.1, 0.9, 0.8, 0.1];
        let p = [0, 0, 1, 0, 0, 1, 0, 0, 1];
        let pr = problem(&off, &s, &p, 2, &[0, 1, 2], &[0, 0, 0], &[1.0, 1.0], 2);
        let out = run_online(
            &pr,
            &OnlineMethod::Tfrom {
                share: vec![0.5, 0.5],
                target0: vec![],
                spent0: vec![],
            },
        )
        .unwrap();
        assert_eq!(out.sel, vec![1, 0, 2, 0, 2, 0]); // (x2, x1), (y1, x1), (y1, x1)
        let pr1 = problem(&off[..2], &s[..3], &p[..3], 2, &[0], &[0], &[1.0, 1.0], 2);
        let one = run_online(
            &pr1,
            &OnlineMethod::Tfrom {
                share: vec![0.5, 0.5],
                target0: vec![],
                spent0: vec![],
            },
        )
        .unwrap();
        assert!((one.exposure[0] - 1.6309).abs() < 1e-4 && one.exposure[1] == 0.0);
        let pr2 = problem(
            &off[..3],
            &s[..6],
            &p[..6],
            2,
            &[0, 1],
            &[0, 0],
            &[1.0, 1.0],
            2,
        );
        let two = run_online(
            &pr2,
            &OnlineMethod::Tfrom {
                share: vec![0.5, 0.5],
                target0: vec![],
                spent0: vec![],
            },
        )
        .unwrap();
        assert!((two.exposure[0] - 2.2619).abs() < 1e-4 && (two.exposure[1] - 1.0).abs() < 1e-12);
    }

    #[test]
    fn results_follow_processing_order_but_are_stored_by_input_order() {
        let (off, s, p) = ([0, 2, 4], [0.9, 0.5, 0.9, 0.5], [0, 1, 0, 1]);
        let pr = problem(&off, &s, &p, 2, &[1, 0], &[0, 0], &[1.0, 1.0], 1);
        let out = run_online(
            &pr,
            &OnlineMethod::MinRegularizer {
                lambda: 1.0,
                batch: BatchSpec::All,
            },
        )
        .unwrap();
        // request 1 is processed first and gets x; request 0 then gets y
        assert_eq!(out.sel, vec![1, 0]);
    }

    #[test]
    fn bad_order_and_weights_are_errors_not_panics() {
        let (off, s, p) = ([0, 1], [0.5], [0]);
        let r = Ragged::new(&off, &s, &p, 1).unwrap();
        for (order, weight) in [(&[1i64][..], &[1.0][..]), (&[0], &[0.0]), (&[0], &[])] {
            let pr = OnlineProblem {
                requests: r,
                order,
                interval: &[0],
                weight,
                k: 1,
            };
            assert!(run_online(&pr, &OnlineMethod::TopK).is_err());
        }
        assert!(Ragged::new(&[0, 2], &[0.5], &[0], 1).is_err());
        assert!(Ragged::new(&[0, 1], &[f64::NAN], &[0], 1).is_err());
        assert!(Ragged::new(&[0, 1], &[0.5], &[3], 1).is_err());
    }

    #[test]
    fn a_huge_k_allocates_nothing_for_it() {
        let (off, s, p) = ([0, 2], [0.9, 0.5], [0, 1]);
        let pr = problem(&off, &s, &p, 2, &[0], &[0], &[1.0, 1.0], usize::MAX / 2);
        for method in [
            OnlineMethod::TopK,
            OnlineMethod::CpFair {
                lambda: 1.0,
                batch: BatchSpec::All,
            },
        ] {
            assert_eq!(run_online(&pr, &method).unwrap().sel, vec![0, 1]);
        }
    }

    #[test]
    fn batch_lengths_by_spec() {
        assert_eq!(
            batch_lengths(&[0, 1, 2, 3, 4], &[0, 0, 1, 1, 1], BatchSpec::Interval).unwrap(),
            vec![2, 3]
        );
        assert_eq!(
            batch_lengths(&[0, 1, 2, 3, 4], &[0; 5], BatchSpec::Size(2)).unwrap(),
            vec![2, 2, 1]
        );
        assert_eq!(
            batch_lengths(&[0, 1], &[0, 3], BatchSpec::All).unwrap(),
            vec![2]
        );
    }
}
