//! Times loading a real-word list: `cargo run --release --example wordlist_load FILE.json`.
fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("path to an uncompressed en.json");
    let data = std::fs::read(path).expect("readable");
    for _ in 0..3 {
        let t = std::time::Instant::now();
        let list = mstk_core::inject::WordList::from_json_keys(&data).expect("valid");
        println!("{} words in {:?}", list.len(), t.elapsed());
    }
}
