//! Profile the JSONL request codec on a file: `cargo run --release --example parse_requests FILE`.
use mstk_core::rerank::requests::{MissingProvider, RequestBatch};
use std::time::Instant;

fn main() {
    let path = std::env::args().nth(1).expect("usage: parse_requests FILE");
    let data = std::fs::read(path).expect("readable file");
    scan_only(&data);
    scan_only(&data);
    for _ in 0..6 {
        let t = Instant::now();
        let (b, bad) = RequestBatch::parse(data.clone(), 1, false, MissingProvider::Error, true);
        let secs = t.elapsed().as_secs_f64();
        println!(
            "{} requests ({} bad) in {secs:.3}s = {:.0} req/s, {:.0} MB/s",
            b.n_requests(),
            bad.len(),
            b.n_requests() as f64 / secs,
            data.len() as f64 / secs / 1e6
        );
    }
    if std::env::var("SKIP_BASELINE").is_ok() {
        return;
    }
    let t = Instant::now();
    let v: Vec<serde_json::Value> = data
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    println!(
        "serde_json::Value baseline: {} in {:.3}s",
        v.len(),
        t.elapsed().as_secs_f64()
    );
}

#[allow(dead_code)]
fn scan_only(data: &[u8]) {
    let mut rec = mstk_core::rerank::fastpath::FastRecord::default();
    let t = Instant::now();
    let mut n = 0usize;
    for line in data.split(|&b| b == b'\n') {
        if line.is_empty() {
            continue;
        }
        let base = line.as_ptr() as usize - data.as_ptr() as usize;
        if mstk_core::rerank::fastpath::scan(line, base, &[], &mut rec).is_some() {
            n += rec.items.len();
        }
    }
    println!(
        "scan only: {n} candidates in {:.3}s",
        t.elapsed().as_secs_f64()
    );
}
