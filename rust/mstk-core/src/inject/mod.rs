//! Query entry errors (spec inject-errors): deterministic keyboard, visual and spelling
//! errors injected into text fields, with an edit log that can undo every change.
//!
//! Layout: `rng` (keyed streams), `scan` (eligible words), `models` / `spelling` (what a
//! word becomes), `select` (which records and words change), `jsonl` (the byte-exact CLI
//! path), `escape` (JSON string writing that matches Python's `json.dumps`).

pub mod escape;
pub mod jsonl;
pub mod models;
pub mod rng;
pub mod scan;
pub mod select;
pub mod spelling;
#[rustfmt::skip]
mod unicode_tables;

pub use jsonl::{
    distinct_words, distinct_words_jsonl, inject_jsonl, rate_text, JsonlOptions, JsonlOutput,
    ParsedJsonl, PrebuiltReplacement, Replacement, Summary,
};
pub use models::{CharsPerWord, ErrorModel, KeyboardModel, TableModel, VisualModel};
pub use rng::{rank_hash, Rng, DOMAIN};
pub use scan::{scan_words, ScanOpts, Span};
pub use select::{corrupt_text, inject_texts, Config, Corruption, Edit, SelectStats, Unit};
pub use spelling::{DictStats, SpellingModel, WordList};
pub use unicode_tables::UNICODE_VERSION;
