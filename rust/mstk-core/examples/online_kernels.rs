//! Time the online kernels without any Python: `cargo run --release --example online_kernels`.
//! 20,000 requests × 500 candidates, K = 10, 200 providers, one thread.
use mstk_core::rerank::{run_online, BatchSpec, OnlineMethod, OnlineProblem, Ragged};
use std::time::Instant;

fn main() {
    let (t, n, p, k) = (20_000usize, 500usize, 200usize, 10usize);
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
        let mut best = f64::INFINITY;
        for _ in 0..5 {
            let start = Instant::now();
            pool.install(|| {
                let problem = OnlineProblem {
                    requests: Ragged::new(&offsets, &score, &provider, p).unwrap(),
                    order: &order,
                    interval: &interval,
                    weight: &weight,
                    k,
                };
                run_online(&problem, &method).unwrap()
            });
            best = best.min(start.elapsed().as_secs_f64());
        }
        println!("{name} {:.0}", t as f64 / best);
    }
}
