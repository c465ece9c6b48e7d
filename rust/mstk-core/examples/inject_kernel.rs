//! Times the injector kernel on a JSONL file:
//! `cargo run --release --example inject_kernel FILE.jsonl [threads [types [unit]]]`
//! (`types` as in the CLI, e.g. `keyboard,visual,spelling`; without it, every combination).
//! Spelling uses the rules with an empty real-word list (the list's load time is separate).
use std::sync::Arc;

use mstk_core::inject::*;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("JSONL file");
    let threads: usize = args
        .next()
        .map(|t| t.parse().expect("threads"))
        .unwrap_or(2);
    let data = std::fs::read(path).expect("readable");
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool");
    let words = Arc::new(WordList::default());
    let model = |name: &str| match name {
        "keyboard" => ErrorModel::Keyboard(KeyboardModel::qwerty(CharsPerWord::Count(1))),
        "visual" => ErrorModel::Visual(VisualModel::builtin()),
        _ => ErrorModel::Spelling(SpellingModel::from_rules(words.clone())),
    };
    let only_types: Option<String> = args.next();
    let only_unit: Option<String> = args.next();
    let n = data.iter().filter(|&&b| b == b'\n').count();
    for types in [
        vec!["keyboard"],
        vec!["visual"],
        vec!["spelling"],
        vec!["keyboard", "visual", "spelling"],
    ] {
        if only_types.as_ref().is_some_and(|t| *t != types.join(",")) {
            continue;
        }
        for unit in [Unit::Query, Unit::Word] {
            if only_unit.as_ref().is_some_and(|u| u != unit.name()) {
                continue;
            }
            let config = Config {
                types: types.iter().map(|s| s.to_string()).collect(),
                rate_ppm: 200_000,
                unit,
                seed: 0,
                words_per_query: 1,
                scan: ScanOpts::default(),
            };
            let models: Vec<ErrorModel> = types.iter().map(|t| model(t)).collect();
            // The in-memory text path (what `Injector.corrupt_texts` runs), on texts and keys
            // extracted once outside the timing.
            let (keys, texts) = texts_of(&data);
            let refs: Vec<Option<&str>> = texts.iter().map(|t| Some(t.as_str())).collect();
            let mut best_texts = f64::MAX;
            for _ in 0..5 {
                let t = std::time::Instant::now();
                let out = pool
                    .install(|| inject_texts(&keys, &refs, &config, &models))
                    .expect("ok");
                std::hint::black_box(out);
                best_texts = best_texts.min(t.elapsed().as_secs_f64());
            }
            let mut best = f64::MAX;
            for _ in 0..5 {
                let t = std::time::Instant::now();
                let out = pool
                    .install(|| inject_jsonl(&data, &config, &models, &JsonlOptions::default()))
                    .expect("ok");
                std::hint::black_box(out);
                best = best.min(t.elapsed().as_secs_f64());
            }
            println!(
                "{:<26} {:<5} jsonl {:>10.0} queries/s   texts {:>10.0} queries/s",
                types.join(","),
                unit.name(),
                n as f64 / best,
                n as f64 / best_texts
            );
        }
    }
}

fn texts_of(data: &[u8]) -> (Vec<String>, Vec<String>) {
    let mut keys = Vec::new();
    let mut texts = Vec::new();
    for line in data.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let v: serde_json::Value = serde_json::from_slice(line).expect("JSON");
        keys.push(format!("i{}", v["id"].as_str().expect("id")));
        texts.push(v["question"].as_str().expect("question").to_string());
    }
    (keys, texts)
}
