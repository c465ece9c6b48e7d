//! BankFair (arXiv:2405.16120), `variant = consistent` (specs/rerank.md §4.2–4.3).
//!
//! Module 1 turns each provider's minimum exposure m_p (its "estate") into per-interval
//! allocations M_{p,n} from a traffic forecast over a short window (Talmud rule by
//! default), and carries the undelivered part forward. Module 2 serves each request with
//! top-K over prices μ (a boost for providers behind their per-request target), updated
//! online by a clipped, momentum-smoothed dual step.

use super::allocation::{allocate, Rule};
use super::bankfair_plus::{PlusParams, PlusSelector};
use super::online::{longest_request, validate, OnlineOutput, OnlineProblem, OutLists};
use super::topk::{topk_priced, topk_priced_and_ideal, TopKScratch};
use crate::error::{CoreError, CoreResult};
use crate::metrics::position_weights;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allocation {
    Talmud,
    Proportional,
    /// "Naive": the estate spread evenly over the remaining intervals.
    Equal,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BankFairParams {
    /// Bound c of the boost −μ_p (uniform) or its scale (size).
    pub theta: f64,
    /// c_p = θ·[mix·min_q n_q/n_p + (1−mix)/|P|]: small providers may get a larger boost.
    pub penalty_by_size: bool,
    pub penalty_mix: f64,
    pub step: f64,
    /// Weight of the newest gradient in the momentum average.
    pub gamma: f64,
    /// Per-interval caps ρ_p·r_n·K; a provider is blocked (only fills) once it has used its cap.
    pub caps: bool,
    pub cap_mix: f64,
    /// Reset μ and the momentum at every interval (the official behaviour).
    pub reset_each_interval: bool,
    pub allocation: Allocation,
    pub window: usize,
    /// Claims are claim_mult·ω; must lie in (1, 2) for Talmud to favour low-traffic intervals.
    pub claim_mult: f64,
    /// BankFair+ list selection (regret-aware, with a provider-variance price) instead of
    /// BankFair's priced top-K; Module 1 and the dual update stay the same.
    pub plus: Option<PlusParams>,
    /// `variant=official`: the official code's gradient (interval totals M or B⁰ against
    /// cnt/K) and a lower bound only; `step` is then √|I|/(2·lr), set by the caller.
    pub official: bool,
}

/// Per-provider and per-interval inputs the host prepares.
pub struct BankFairInputs<'a> {
    /// m_p, the minimum exposure over the horizon (the initial estate).
    pub min_exposure: &'a [f64],
    /// Items per provider (penalty by size).
    pub n_items: &'a [f64],
    /// σ_p, the provider's share for caps (sums to 1).
    pub share: &'a [f64],
    /// Interval index 0..N−1 of each request (input order).
    pub interval_index: &'a [i64],
    /// Actual traffic r_n (requests per interval), length N.
    pub traffic: &'a [f64],
    /// Row n holds the forecasts, made at the start of n, for n..n+W−1 (0 past the horizon): N×W.
    pub forecast: &'a [f64],
    /// γ_p, deserved exposure (BankFair+'s provider term); may be empty for BankFair.
    pub gamma: &'a [f64],
    /// V_ref, the provider variance Var_p(e_p/γ_p) of top-K on the same stream (BankFair+).
    pub v_ref: f64,
    /// μ and its momentum at the start (a run continued from saved state); empty = zeros.
    pub start_mu: &'a [f64],
    pub start_g_cum: &'a [f64],
}

pub struct BankFairOutput {
    pub lists: OnlineOutput,
    /// M_{p,n}, row-major N×P.
    pub allocated: Vec<f64>,
    /// Slots delivered per interval and provider, N×P.
    pub delivered: Vec<f64>,
    /// State at the end, to continue in a later run: the estates left (Module 1), μ and
    /// its momentum.
    pub estate: Vec<f64>,
    pub mu: Vec<f64>,
    pub g_cum: Vec<f64>,
}

fn check(
    problem: &OnlineProblem,
    p: &BankFairParams,
    inputs: &BankFairInputs,
) -> CoreResult<usize> {
    validate(problem)?;
    let n_prov = problem.requests.n_providers;
    let n_int = inputs.traffic.len();
    for (name, v) in [
        ("min_exposure", inputs.min_exposure),
        ("n_items", inputs.n_items),
        ("share", inputs.share),
    ] {
        if v.len() != n_prov {
            return Err(CoreError::shape(format!(
                "{name} has {} entries for {n_prov} providers",
                v.len()
            )));
        }
        if v.iter().any(|x| !(x.is_finite() && *x >= 0.0)) {
            return Err(CoreError::parameter(format!(
                "{name} must be finite and >= 0"
            )));
        }
    }
    for (name, v) in [
        ("start_mu", inputs.start_mu),
        ("start_g_cum", inputs.start_g_cum),
    ] {
        if !v.is_empty() && v.len() != n_prov {
            return Err(CoreError::shape(format!(
                "{name} has {} entries for {n_prov} providers",
                v.len()
            )));
        }
        if v.iter().any(|x| !x.is_finite()) {
            return Err(CoreError::parameter(format!("{name} must be finite")));
        }
    }
    if inputs.interval_index.len() != problem.requests.n_requests() {
        return Err(CoreError::shape("one interval index per request is needed"));
    }
    if inputs
        .interval_index
        .iter()
        .any(|&n| n < 0 || n as usize >= n_int)
    {
        return Err(CoreError::shape(format!(
            "interval indices must lie in 0..{n_int}"
        )));
    }
    if p.window == 0 || inputs.forecast.len() != n_int * p.window {
        return Err(CoreError::shape(format!(
            "forecast must be {n_int}×{} (intervals × window)",
            p.window
        )));
    }
    if inputs
        .forecast
        .iter()
        .chain(inputs.traffic)
        .any(|x| !(x.is_finite() && *x >= 0.0))
    {
        return Err(CoreError::parameter(
            "traffic and forecasts must be finite and >= 0",
        ));
    }
    let unit = |x: f64| (0.0..=1.0).contains(&x);
    if !(p.theta >= 0.0
        && p.theta.is_finite()
        && p.step > 0.0
        && p.step.is_finite()
        && unit(p.gamma)
        && p.gamma > 0.0
        && unit(p.penalty_mix)
        && unit(p.cap_mix))
    {
        return Err(CoreError::parameter(
            "need theta >= 0, step > 0, gamma in (0, 1], penalty_mix and cap_mix in [0, 1]",
        ));
    }
    if !(p.claim_mult > 0.0 && p.claim_mult.is_finite()) {
        return Err(CoreError::parameter("claim_mult must be positive"));
    }
    if let Some(plus) = &p.plus {
        plus.check()?;
        if inputs.gamma.len() != n_prov
            || inputs.gamma.iter().any(|g| !(g.is_finite() && *g >= 0.0))
        {
            return Err(CoreError::shape(
                "BankFair+ needs one finite γ_p >= 0 per provider",
            ));
        }
        if !(inputs.v_ref.is_finite() && inputs.v_ref >= 0.0) {
            return Err(CoreError::parameter("v_ref must be finite and >= 0"));
        }
    }
    Ok(n_int)
}

pub fn run_bankfair(
    problem: &OnlineProblem,
    params: &BankFairParams,
    inputs: &BankFairInputs,
) -> CoreResult<BankFairOutput> {
    let n_int = check(problem, params, inputs)?;
    let req = &problem.requests;
    let n_prov = req.n_providers;
    let k = problem.k.min(longest_request(req));
    let weights = position_weights(k);
    let n_req = req.n_requests();

    let mut sel_offsets = vec![0i64; n_req + 1];
    for t in 0..n_req {
        sel_offsets[t + 1] = sel_offsets[t] + req.range(t).len().min(k) as i64;
    }
    let mut out = OutLists {
        sel: vec![0; *sel_offsets.last().unwrap() as usize],
        dcg: vec![0.0; n_req],
        exposure: vec![0.0; n_prov],
    };
    let mut idcg = vec![0.0; n_req];
    let mut allocated = vec![0.0; n_int * n_prov];
    let mut delivered = vec![0.0; n_int * n_prov];

    // bound of the boost per provider
    let min_items = inputs.n_items.iter().copied().fold(f64::INFINITY, f64::min);
    let bound: Vec<f64> = (0..n_prov)
        .map(|p| {
            if params.penalty_by_size {
                let ratio = if inputs.n_items[p] > 0.0 {
                    min_items / inputs.n_items[p]
                } else {
                    1.0
                };
                params.theta
                    * (params.penalty_mix * ratio + (1.0 - params.penalty_mix) / n_prov as f64)
            } else {
                params.theta
            }
        })
        .collect();
    let rho: Vec<f64> = (0..n_prov)
        .map(|p| (1.0 - params.cap_mix) * inputs.share[p] + params.cap_mix * 2.0 / n_prov as f64)
        .collect();

    let mut estate = inputs.min_exposure.to_vec();
    let mut alloc_now = vec![0.0; n_prov];
    let mut target = vec![0.0; n_prov];
    let mut remaining_cap = vec![0.0; n_prov];
    let mut blocked = vec![false; n_prov];
    let start = |v: &[f64]| {
        if v.is_empty() {
            vec![0.0; n_prov]
        } else {
            v.to_vec()
        }
    };
    let mut mu = start(inputs.start_mu);
    let mut g_cum = start(inputs.start_g_cum);
    let mut cnt = vec![0.0; n_prov];
    let mut scratch = TopKScratch::default();
    let mut list = Vec::with_capacity(k);
    let mut ideal = Vec::with_capacity(k);
    let mut selector = PlusSelector::default();
    let mut price = vec![0.0; n_prov];

    let mut order = problem.order.iter().map(|&t| t as usize).peekable();
    // Walk every interval of the horizon, including empty ones: their allocation is still
    // made (and, undelivered, carried forward).
    for n in 0..n_int {
        // Module 1: allocation for interval n
        let end = (n + params.window).min(n_int);
        let row = &inputs.forecast[n * params.window..n * params.window + (end - n)];
        let total: f64 = row.iter().sum();
        // share of the estate given to interval n (M = 0 when nothing is forecast)
        let fraction = match params.allocation {
            Allocation::Equal => 1.0 / (n_int - n) as f64,
            _ if total <= 0.0 => 0.0,
            Allocation::Proportional => row[0] / total,
            Allocation::Talmud => {
                // TAL is homogeneous: TAL(E, E·c) = E·TAL(1, c), so one division serves all providers
                let claims: Vec<f64> = row.iter().map(|r| params.claim_mult * r / total).collect();
                allocate(Rule::Talmud, 1.0, &claims)?[0]
            }
        };
        let forecast_now = row.first().copied().unwrap_or(0.0).max(1.0);
        for p in 0..n_prov {
            alloc_now[p] = estate[p] * fraction;
            allocated[n * n_prov + p] = alloc_now[p];
            target[p] = alloc_now[p] / forecast_now;
            remaining_cap[p] = rho[p] * inputs.traffic[n] * k as f64;
            blocked[p] = params.caps && remaining_cap[p] <= 0.0;
        }
        if params.reset_each_interval {
            mu.iter_mut().for_each(|x| *x = 0.0);
            g_cum.iter_mut().for_each(|x| *x = 0.0);
        }

        // Module 2: the requests of interval n, in processing order
        while let Some(&t) = order.peek() {
            if inputs.interval_index[t] as usize != n {
                if (inputs.interval_index[t] as usize) < n {
                    return Err(CoreError::shape(
                        "processing order must not go back in time",
                    ));
                }
                break;
            }
            order.next();
            let r = req.range(t);
            let (s, prov) = (&req.score[r.clone()], &req.provider[r]);
            let blocked_now = params.caps.then_some(&blocked[..]);
            if params.plus.is_none() {
                let (price, blocked) = (&mu[..], blocked_now);
                topk_priced_and_ideal(
                    s,
                    prov,
                    price,
                    1.0,
                    k,
                    blocked,
                    &mut scratch,
                    &mut list,
                    &mut ideal,
                );
            } else {
                topk_priced(s, prov, None, 1.0, k, None, &mut scratch, &mut ideal);
            }
            idcg[t] = crate::metrics::dcg_in_order(ideal.iter().map(|&j| s[j as usize]), &weights);
            match &params.plus {
                None => {} // selected with the ideal list above
                Some(plus) => {
                    plus_price(&mut price, &mu, &out.exposure, inputs, plus, n_req);
                    selector.select(
                        s,
                        prov,
                        &price,
                        k,
                        blocked_now,
                        idcg[t],
                        &weights,
                        plus,
                        &mut list,
                    )?;
                }
            }
            for &j in &list {
                cnt[prov[j as usize] as usize] += 1.0;
            }
            for p in 0..n_prov {
                let gradient = if params.official {
                    // the official code's units: interval totals against a per-request share
                    let goal = if mu[p] < 0.0 {
                        alloc_now[p]
                    } else {
                        rho[p] * inputs.traffic[n] * k as f64
                    };
                    goal - cnt[p] / k as f64
                } else {
                    let goal = if !params.caps || mu[p] < 0.0 {
                        target[p]
                    } else {
                        rho[p] * k as f64
                    };
                    goal - cnt[p]
                };
                let g = params.gamma * gradient + (1.0 - params.gamma) * g_cum[p];
                g_cum[p] = g;
                mu[p] = if params.official {
                    (mu[p] - params.step * g).max(-bound[p]) // the official solve bounds μ below only
                } else {
                    let upper = if params.caps { f64::INFINITY } else { 0.0 };
                    (mu[p] - params.step * g).clamp(-bound[p], upper)
                };
            }
            // Deliveries touch only the (at most K) providers just shown: a pass over them
            // rather than a test in the loop over every provider, which kept that loop
            // from being straight-line code.
            for &j in &list {
                let p = prov[j as usize] as usize;
                if cnt[p] > 0.0 {
                    delivered[n * n_prov + p] += cnt[p];
                    remaining_cap[p] -= cnt[p];
                    blocked[p] = params.caps && remaining_cap[p] <= 0.0;
                    cnt[p] = 0.0;
                }
            }
            out.record(req, t, sel_offsets[t] as usize, &list, &weights);
        }
        // Module 1: what was not delivered stays in the estate (over-delivery is not credited)
        for p in 0..n_prov {
            let d = delivered[n * n_prov + p];
            estate[p] = (estate[p] - alloc_now[p].min(d)).max(0.0);
        }
    }
    if order.next().is_some() {
        return Err(CoreError::shape(
            "processing order must not go back in time",
        ));
    }
    let OutLists { sel, dcg, exposure } = out;
    Ok(BankFairOutput {
        lists: OnlineOutput {
            sel_offsets,
            sel,
            dcg,
            idcg,
            exposure,
            carry: Vec::new(),
        },
        allocated,
        delivered,
        estate,
        mu,
        g_cum,
    })
}

/// BankFair+ prices: μ_p plus λ·(T/V_ref)·(2/|P|)·(e_p/γ_p − mean_q e_q/γ_q)/γ_p, the
/// gradient of the provider-variance goal scaled to one request (0 when λ or V_ref is 0).
fn plus_price(
    price: &mut [f64],
    mu: &[f64],
    exposure: &[f64],
    inputs: &BankFairInputs,
    plus: &PlusParams,
    n_req: usize,
) {
    price.copy_from_slice(mu);
    if plus.lambda == 0.0 || inputs.v_ref == 0.0 {
        return;
    }
    let n_prov = price.len() as f64;
    let ratio = |p: usize| {
        if inputs.gamma[p] > 0.0 {
            exposure[p] / inputs.gamma[p]
        } else {
            0.0
        }
    };
    let mean = (0..price.len()).map(ratio).sum::<f64>() / n_prov;
    let scale = plus.lambda * (n_req as f64 / inputs.v_ref) * (2.0 / n_prov);
    for (p, value) in price.iter_mut().enumerate() {
        if inputs.gamma[p] > 0.0 {
            *value += scale * (ratio(p) - mean) / inputs.gamma[p];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rerank::{run_online, OnlineMethod, Ragged};

    fn params(theta: f64, step: f64, gamma: f64) -> BankFairParams {
        BankFairParams {
            theta,
            penalty_by_size: false,
            penalty_mix: 0.4,
            step,
            gamma,
            caps: false,
            cap_mix: 0.4,
            reset_each_interval: true,
            allocation: Allocation::Talmud,
            window: 3,
            claim_mult: 1.1,
            plus: None,
            official: false,
        }
    }

    /// The spec's two-provider example: m = (0, 1), one interval of 2 requests (r̂ = 2).
    fn spec_inputs() -> BankFairInputs<'static> {
        BankFairInputs {
            min_exposure: &[0.0, 1.0],
            n_items: &[1.0, 1.0],
            share: &[0.5, 0.5],
            interval_index: &[0, 0],
            traffic: &[2.0],
            forecast: &[2.0, 0.0, 0.0],
            gamma: &[],
            v_ref: 0.0,
            start_mu: &[],
            start_g_cum: &[],
        }
    }

    #[test]
    fn spec_vector_5a() {
        // K = 1, providers A, B with m = (0, 1): M = (0, 1), r̂ = 2, c = .1, step 1, γ = 1
        let (off, s, p) = ([0, 2, 4], [0.9, 0.2, 0.9, 0.85], [0, 1, 0, 1]);
        let problem = OnlineProblem {
            requests: Ragged::new(&off, &s, &p, 2).unwrap(),
            order: &[0, 1],
            interval: &[0, 0],
            weight: &[1.0, 1.0],
            k: 1,
        };
        let inputs = spec_inputs();
        let out = run_bankfair(&problem, &params(0.1, 1.0, 1.0), &inputs).unwrap();
        assert_eq!(out.lists.sel, vec![0, 1]); // A, then B (.85 + .1 > .9)
        assert!((out.allocated[1] - 1.0).abs() < 1e-12 && out.allocated[0] == 0.0);
        assert_eq!(out.delivered, vec![1.0, 1.0]);
        assert!((out.lists.dcg[1] / out.lists.idcg[1] - 0.85 / 0.9).abs() < 1e-12);
        // reversed order of the two requests: A both times (B's .2 cannot catch up)
        let (off, s, p) = ([0, 2, 4], [0.9, 0.85, 0.9, 0.2], [0, 1, 0, 1]);
        let problem = OnlineProblem {
            requests: Ragged::new(&off, &s, &p, 2).unwrap(),
            order: &[0, 1],
            interval: &[0, 0],
            weight: &[1.0, 1.0],
            k: 1,
        };
        let out = run_bankfair(&problem, &params(0.1, 1.0, 1.0), &inputs).unwrap();
        assert_eq!(out.lists.sel, vec![0, 0]);
    }

    #[test]
    fn spec_vector_5b_official_variant() {
        // |I| = 2, lr .01 → step √2/(2·.01) = 70.71; θ .25, penalty size with n = (1, 1) → c = .175;
        // equal weights → ρ = .7, B⁰ = 1.4; γ = .2: after request 1 μ = (−.175, −.175) and B
        // is never shown, in either order.
        for scores in [[0.9, 0.2, 0.9, 0.85], [0.9, 0.85, 0.9, 0.2]] {
            let (off, p) = ([0, 2, 4], [0, 1, 0, 1]);
            let problem = OnlineProblem {
                requests: Ragged::new(&off, &scores, &p, 2).unwrap(),
                order: &[0, 1],
                interval: &[0, 0],
                weight: &[1.0, 1.0],
                k: 1,
            };
            let inputs = spec_inputs();
            let official = BankFairParams {
                theta: 0.25,
                penalty_by_size: true,
                caps: true,
                step: 2f64.sqrt() / (2.0 * 0.01),
                official: true,
                ..params(0.25, 1.0, 0.2)
            };
            let out = run_bankfair(&problem, &official, &inputs).unwrap();
            assert_eq!(out.lists.sel, vec![0, 0], "{scores:?}");
            assert_eq!(out.delivered, vec![2.0, 0.0]);
        }
    }

    #[test]
    fn without_boost_or_floors_it_is_top_k() {
        let off = [0i64, 3, 6, 9];
        let s = [0.9, 0.5, 0.1, 0.3, 0.8, 0.7, 0.2, 0.6, 0.4];
        let p = [0, 1, 2, 1, 0, 2, 2, 1, 0];
        let problem = OnlineProblem {
            requests: Ragged::new(&off, &s, &p, 3).unwrap(),
            order: &[0, 1, 2],
            interval: &[0, 0, 1],
            weight: &[1.0; 3],
            k: 2,
        };
        let top = run_online(&problem, &OnlineMethod::TopK).unwrap();
        for (theta, m) in [(0.0, [5.0, 5.0, 5.0]), (0.5, [0.0, 0.0, 0.0])] {
            let inputs = BankFairInputs {
                min_exposure: &m,
                n_items: &[1.0; 3],
                share: &[1.0 / 3.0; 3],
                interval_index: &[0, 0, 1],
                traffic: &[2.0, 1.0],
                forecast: &[2.0, 1.0, 0.0, 1.0, 0.0, 0.0],
                gamma: &[1.0; 3],
                v_ref: 1.0,
                start_mu: &[],
                start_g_cum: &[],
            };
            let out = run_bankfair(&problem, &params(theta, 1.0, 0.2), &inputs).unwrap();
            assert_eq!(out.lists, top, "theta {theta}");
            // BankFair+ with δ = λ = 0, α = 1 is BankFair
            let plus = BankFairParams {
                plus: Some(PlusParams {
                    delta: 0.0,
                    lambda: 0.0,
                    alpha: 1.0,
                    fp_iters: 5,
                    exhaustive: false,
                }),
                ..params(theta, 1.0, 0.2)
            };
            assert_eq!(
                run_bankfair(&problem, &plus, &inputs).unwrap().lists,
                out.lists
            );
        }
    }
}
