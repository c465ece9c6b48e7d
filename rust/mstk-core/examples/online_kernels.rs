//! Time the online kernels without any Python: `cargo run --release --example online_kernels`.
//! REQUESTS (default 100,000) × 500 candidates, K = 10, 200 providers, one thread:
//! `cargo run --release --example online_kernels [REQUESTS [METHOD]]` (METHOD: time only that one).
use mstk_core::rerank::bankfair::{run_bankfair, Allocation, BankFairInputs, BankFairParams};
use mstk_core::rerank::bankfair_plus::PlusParams;
use mstk_core::rerank::{run_online, BatchSpec, OnlineMethod, OnlineProblem, Ragged};
use std::time::Instant;

fn main() {
    let t: usize = std::env::args()
        .nth(1)
        .map_or(100_000, |a| a.parse().expect("REQUESTS is a number"));
    let only = std::env::args().nth(2);
    let wanted = |name: &str| only.as_deref().is_none_or(|o| o == name);
    let (n, p, k) = (500usize, 200usize, 10usize);
    let mut state = 0x9E3779B97F4A7C15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let score: Vec<f64> = (0..t * n)
        .map(|_| (next() >> 11) as f64 / (1u64 << 53) as f64)
        .collect();
    let provider: Vec<i32> = (0..t * n).map(|_| (next() % p as u64) as i32).collect();
    let offsets: Vec<i64> = (0..=t).map(|i| (i * n) as i64).collect();
    let order: Vec<i64> = (0..t as i64).collect();
    let interval: Vec<i64> = (0..t as i64).map(|i| i / 1000).collect();
    let weight = vec![1.0; p];
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    // The batch as every timed call sees it (checking it is part of each call).
    let problem = || OnlineProblem {
        requests: Ragged::new(&offsets, &score, &provider, p).unwrap(),
        order: &order,
        interval: &interval,
        weight: &weight,
        k,
    };
    // Requests per second, best of 5 runs on the one-thread pool.
    let best_rate = |run: &(dyn Fn() + Sync)| {
        let mut best = f64::INFINITY;
        for _ in 0..5 {
            let start = Instant::now();
            pool.install(run);
            best = best.min(start.elapsed().as_secs_f64());
        }
        t as f64 / best
    };
    for (name, method) in [
        ("topk", OnlineMethod::TopK),
        (
            "min_regularizer",
            OnlineMethod::MinRegularizer {
                lambda: 30.0,
                batch: BatchSpec::Interval,
            },
        ),
        (
            "cpfair",
            OnlineMethod::CpFair {
                lambda: 1.0,
                batch: BatchSpec::Interval,
            },
        ),
        (
            "k_neighbor",
            OnlineMethod::KNeighbor {
                k: 3,
                batch: BatchSpec::Interval,
            },
        ),
        (
            "pmmf",
            OnlineMethod::Pmmf {
                lambda: 0.1,
                eta: 1e-3,
                gamma: 0.1,
                batch: BatchSpec::Size(256),
                share: vec![1.0 / p as f64; p],
            },
        ),
        (
            "tfrom",
            OnlineMethod::Tfrom {
                share: vec![1.0 / p as f64; p],
                target0: vec![],
                spent0: vec![],
            },
        ),
    ] {
        if !wanted(name) {
            continue;
        }
        let rate = best_rate(&|| {
            run_online(&problem(), &method).unwrap();
        });
        println!("{name} {rate:.0}");
    }

    // BankFair and BankFair+ with bench/rerank_kernels.py's inputs: m_p = 0.9·γ_p with
    // γ_p = K·T/|P|, oracle traffic per interval of 1,000 requests, a 3-interval window,
    // θ = 0.5 and the binding's other defaults.
    let n_int = t.div_ceil(1000);
    let traffic: Vec<f64> = (0..n_int)
        .map(|n| (t - n * 1000).min(1000) as f64)
        .collect();
    let mut forecast = vec![0.0; n_int * 3];
    for n in 0..n_int {
        for h in 0..3.min(n_int - n) {
            forecast[n * 3 + h] = traffic[n + h];
        }
    }
    let gamma = vec![(k * t) as f64 / p as f64; p];
    let min_exposure: Vec<f64> = gamma.iter().map(|g| 0.9 * g).collect();
    let (n_items, share) = (vec![1.0; p], vec![1.0 / p as f64; p]);
    for (name, plus) in [("bankfair", false), ("bankfair_plus", true)] {
        if !wanted(name) {
            continue;
        }
        let params = BankFairParams {
            theta: 0.5,
            penalty_by_size: false,
            penalty_mix: 0.4,
            step: 1.0,
            gamma: 0.2,
            caps: false,
            cap_mix: 0.4,
            reset_each_interval: true,
            allocation: Allocation::Talmud,
            window: 3,
            claim_mult: 1.1,
            official: false,
            plus: plus.then_some(PlusParams {
                delta: 1.0,
                lambda: 0.0,
                alpha: 1.0,
                fp_iters: 5,
                exhaustive: false,
            }),
        };
        let inputs = BankFairInputs {
            min_exposure: &min_exposure,
            n_items: &n_items,
            share: &share,
            interval_index: &interval,
            traffic: &traffic,
            forecast: &forecast,
            gamma: &gamma,
            v_ref: 1.0,
            start_mu: &[],
            start_g_cum: &[],
        };
        let rate = best_rate(&|| {
            run_bankfair(&problem(), &params, &inputs).unwrap();
        });
        println!("{name} {rate:.0}");
    }
}
