//! Which records and which words change (spec inject-errors §4.2).
//!
//! Query unit: records are ranked by a keyed hash and walked in rank order until exactly
//! k = round(r·N) have changed, types taken in turn. Word unit: every record independently
//! gets ⌈r·E⌉ of its E eligible words changed. Every draw comes from a stream keyed by the
//! record, so ranks, types and edits do not depend on the rate: lower rates nest in higher.

use rayon::prelude::*;

use super::models::ErrorModel;
use super::rng::{rank_hash, Rng, DOMAIN};
use super::scan::{scan_words_into, ScanOpts, Span};
use crate::error::{CoreError, CoreResult};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Query,
    Word,
}

impl Unit {
    pub fn name(self) -> &'static str {
        match self {
            Unit::Query => "query",
            Unit::Word => "word",
        }
    }
}

/// Everything that decides the output besides the models and the data.
#[derive(Clone, Debug)]
pub struct Config {
    /// Type names, in the order slots are handed out; `models[i]` implements `types[i]`.
    pub types: Vec<String>,
    /// Rate in parts per million, 0..=1_000_000.
    pub rate_ppm: u32,
    pub unit: Unit,
    pub seed: u64,
    /// Words changed per chosen record (query unit).
    pub words_per_query: usize,
    pub scan: ScanOpts,
}

impl Config {
    pub fn validate(&self, n_models: usize) -> CoreResult<()> {
        if self.types.is_empty() {
            return Err(CoreError::parameter("at least one error type is needed"));
        }
        if self.types.len() != n_models {
            return Err(CoreError::shape(format!(
                "{} types but {} models",
                self.types.len(),
                n_models
            )));
        }
        if self.rate_ppm > 1_000_000 {
            return Err(CoreError::parameter(format!(
                "rate must be in [0, 1], got {} ppm",
                self.rate_ppm
            )));
        }
        if self.words_per_query == 0 {
            return Err(CoreError::parameter("words-per-query must be at least 1"));
        }
        Ok(())
    }

    /// k = ⌊(r·N + 500000) / 10^6⌋: the rate rounded half up to whole records.
    pub fn target_count(&self, n: usize) -> usize {
        ((self.rate_ppm as u128 * n as u128 + 500_000) / 1_000_000) as usize
    }
}

/// One changed word; offsets are code points into the clean text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edit {
    pub start: usize,
    pub end: usize,
    pub source: String,
    pub target: String,
}

/// A changed text and how it was changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Corruption {
    pub text: String,
    pub type_index: usize,
    pub edits: Vec<Edit>,
}

/// Counts of a selection run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SelectStats {
    pub n_records: usize,
    pub k: usize,
    pub n_changed: usize,
    pub by_type: Vec<usize>,
    pub n_uncorruptible: usize,
    pub shortfall: usize,
}

fn eligible_spans(text: &str, model: &ErrorModel, scan: &ScanOpts, buf: &mut Vec<Span>) {
    scan_words_into(text, scan, buf);
    buf.retain(|s| model.eligible(&text[s.start_byte..s.end_byte]));
}

/// One worker's reusable buffers: the eligible spans of the record at hand, and its
/// corrupted text and edits, so the hot path does not allocate per record.
#[derive(Debug, Default)]
pub struct Scratch {
    spans: Vec<Span>,
    /// The corrupted text.
    pub text: String,
    /// Each edit: the word's span in the clean text and its replacement's byte range in
    /// `targets`, in position order.
    pub edits: Vec<(Span, std::ops::Range<usize>)>,
    pub targets: String,
}

/// Corrupt(text, t, n) of §4.2 into `scratch`: n of the eligible words in `scratch.spans`
/// picked by a partial Fisher–Yates on the record's pick stream, each rewritten with its
/// own edit stream.
fn corrupt_into_scratch(
    text: &str,
    key: &str,
    type_name: &str,
    model: &ErrorModel,
    n: usize,
    seed: &str,
    scratch: &mut Scratch,
) {
    let spans = &mut scratch.spans;
    let n = n.min(spans.len());
    let mut pick = Rng::from_parts(&[
        DOMAIN.as_bytes(),
        b"pick",
        seed.as_bytes(),
        key.as_bytes(),
        type_name.as_bytes(),
    ]);
    for i in 0..n {
        let j = i + pick.uniform((spans.len() - i) as u64) as usize;
        spans.swap(i, j);
    }
    let chosen = &mut spans[..n];
    chosen.sort_unstable_by_key(|s| s.start_byte);
    scratch.text.clear();
    scratch.edits.clear();
    scratch.targets.clear();
    let mut last = 0;
    let mut offset = itoa::Buffer::new();
    for span in chosen.iter() {
        let word = &text[span.start_byte..span.end_byte];
        let start = offset.format(span.start_cp);
        let mut rng = Rng::from_parts(&[
            DOMAIN.as_bytes(),
            b"edit",
            seed.as_bytes(),
            key.as_bytes(),
            type_name.as_bytes(),
            start.as_bytes(),
        ]);
        let from = scratch.targets.len();
        model.corrupt_into(word, &mut rng, &mut scratch.targets);
        let target = &scratch.targets[from..];
        scratch.text.push_str(&text[last..span.start_byte]);
        scratch.text.push_str(target);
        last = span.end_byte;
        scratch.edits.push((*span, from..scratch.targets.len()));
    }
    scratch.text.push_str(&text[last..]);
}

impl Corruption {
    fn from_scratch(clean: &str, type_index: usize, scratch: &Scratch) -> Self {
        Corruption {
            text: scratch.text.clone(),
            type_index,
            edits: scratch
                .edits
                .iter()
                .map(|(span, target)| Edit {
                    start: span.start_cp,
                    end: span.end_cp,
                    source: clean[span.start_byte..span.end_byte].to_string(),
                    target: scratch.targets[target.clone()].to_string(),
                })
                .collect(),
        }
    }
}

/// Corrupts `n` eligible words of `text` with one model; `None` if no word is eligible.
pub fn corrupt_text(
    text: &str,
    key: &str,
    type_name: &str,
    model: &ErrorModel,
    n: usize,
    seed: u64,
    scan: &ScanOpts,
) -> Option<Corruption> {
    let mut scratch = Scratch::default();
    eligible_spans(text, model, scan, &mut scratch.spans);
    if scratch.spans.is_empty() {
        return None;
    }
    let seed = seed.to_string();
    corrupt_into_scratch(text, key, type_name, model, n, &seed, &mut scratch);
    Some(Corruption::from_scratch(text, 0, &scratch))
}

/// What the word unit does with one record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WordPlan {
    /// Rate 0: nothing changes and nothing is counted.
    Keep,
    /// No eligible word for the drawn type (or no decodable text).
    Uncorruptible,
    /// Type index `t` with `n` words to change (the eligible spans are in the scratch).
    Change { t: usize, n: usize },
}

/// The word unit on one record (§4.2), into `scratch`: draw the type, find the eligible
/// words and change ⌈r·E⌉ of them (at least one). When it changes, the corrupted text and
/// edits are in `scratch.text` and `scratch.edits`. The JSONL path calls this while it
/// writes each line, so no per-record result is kept.
pub fn corrupt_word_unit(
    text: Option<&str>,
    key: &str,
    config: &Config,
    models: &[ErrorModel],
    seed: &str,
    scratch: &mut Scratch,
) -> WordPlan {
    let rate = config.rate_ppm as u64;
    if rate == 0 {
        return WordPlan::Keep;
    }
    let Some(text) = text else {
        return WordPlan::Uncorruptible;
    };
    let n_types = models.len() as u64;
    let t = if n_types > 1 {
        let mut rng =
            Rng::from_parts(&[DOMAIN.as_bytes(), b"type", seed.as_bytes(), key.as_bytes()]);
        rng.uniform(n_types) as usize
    } else {
        0
    };
    eligible_spans(text, &models[t], &config.scan, &mut scratch.spans);
    let e = scratch.spans.len() as u64;
    if e == 0 {
        return WordPlan::Uncorruptible;
    }
    let n = e.min((rate * e).div_ceil(1_000_000).max(1)) as usize;
    corrupt_into_scratch(text, key, &config.types[t], &models[t], n, seed, scratch);
    WordPlan::Change { t, n }
}

/// Selection over records. `texts[i] = None` marks a record that cannot change (an empty
/// or undecodable field); `keys[i]` is its stream key (`i…` or `n…`).
pub fn inject_texts(
    keys: &[String],
    texts: &[Option<&str>],
    config: &Config,
    models: &[ErrorModel],
) -> CoreResult<(Vec<Option<Corruption>>, SelectStats)> {
    config.validate(models.len())?;
    if keys.len() != texts.len() {
        return Err(CoreError::shape(format!(
            "{} keys for {} texts",
            keys.len(),
            texts.len()
        )));
    }
    match config.unit {
        Unit::Query => Ok(select_queries(keys, texts, config, models)),
        Unit::Word => Ok(select_words(keys, texts, config, models)),
    }
}

fn select_queries(
    keys: &[String],
    texts: &[Option<&str>],
    config: &Config,
    models: &[ErrorModel],
) -> (Vec<Option<Corruption>>, SelectStats) {
    let n_records = texts.len();
    let k = config.target_count(n_records);
    let seed = config.seed.to_string();
    let mut out: Vec<Option<Corruption>> = vec![None; n_records];
    let mut stats = SelectStats {
        n_records,
        k,
        by_type: vec![0; models.len()],
        ..Default::default()
    };
    if k == 0 {
        return (out, stats);
    }
    let mut order: Vec<(u64, usize)> = keys
        .par_iter()
        .enumerate()
        .map(|(i, key)| {
            (
                rank_hash(&[DOMAIN.as_bytes(), b"rank", seed.as_bytes(), key.as_bytes()]),
                i,
            )
        })
        .collect();
    order.par_sort_unstable();

    // Walk in rank order. Eligibility is computed in parallel, one block at a time, just
    // far enough ahead of the walk: most records past position k are never looked at.
    let n_types = models.len();
    let mut chosen: Vec<(usize, usize)> = Vec::with_capacity(k);
    let mut pos = 0;
    let mut j = 0;
    while j < k && pos < order.len() {
        let want = ((k - j) + (k - j) / 8 + 64).min(order.len() - pos);
        let block = &order[pos..pos + want];
        let masks: Vec<u64> = block
            .par_iter()
            .map_init(Vec::new, |buf, &(_, i)| {
                let Some(text) = texts[i] else { return 0 };
                scan_words_into(text, &config.scan, buf);
                let mut mask = 0u64;
                for (t, model) in models.iter().enumerate().take(64) {
                    if buf
                        .iter()
                        .any(|s| model.eligible(&text[s.start_byte..s.end_byte]))
                    {
                        mask |= 1 << t;
                    }
                }
                mask
            })
            .collect();
        for (&(_, i), mask) in block.iter().zip(masks) {
            if j == k {
                break;
            }
            let t = j % n_types;
            if mask & (1 << t) != 0 {
                chosen.push((i, t));
                j += 1;
            } else {
                stats.n_uncorruptible += 1;
            }
        }
        pos += want;
    }
    stats.shortfall = k - j;

    let done: Vec<(usize, Corruption)> = chosen
        .par_iter()
        .map_init(Scratch::default, |scratch, &(i, t)| {
            let text = texts[i].expect("chosen records have text");
            eligible_spans(text, &models[t], &config.scan, &mut scratch.spans);
            corrupt_into_scratch(
                text,
                &keys[i],
                &config.types[t],
                &models[t],
                config.words_per_query,
                &seed,
                scratch,
            );
            (i, Corruption::from_scratch(text, t, scratch))
        })
        .collect();
    for (i, c) in done {
        stats.by_type[c.type_index] += 1;
        out[i] = Some(c);
    }
    stats.n_changed = chosen.len();
    (out, stats)
}

fn select_words(
    keys: &[String],
    texts: &[Option<&str>],
    config: &Config,
    models: &[ErrorModel],
) -> (Vec<Option<Corruption>>, SelectStats) {
    let n_records = texts.len();
    let seed = config.seed.to_string();
    let results: Vec<(Option<Corruption>, bool)> = texts
        .par_iter()
        .zip(keys.par_iter())
        .map_init(
            Scratch::default,
            |scratch, (&text, key)| match corrupt_word_unit(
                text, key, config, models, &seed, scratch,
            ) {
                WordPlan::Keep => (None, false),
                WordPlan::Uncorruptible => (None, true),
                WordPlan::Change { t, .. } => (
                    Some(Corruption::from_scratch(
                        text.expect("changed records have text"),
                        t,
                        scratch,
                    )),
                    false,
                ),
            },
        )
        .collect();
    let mut stats = SelectStats {
        n_records,
        by_type: vec![0; models.len()],
        ..Default::default()
    };
    let out = results
        .into_iter()
        .map(|(c, uncorruptible)| {
            stats.n_uncorruptible += usize::from(uncorruptible);
            if let Some(c) = &c {
                stats.by_type[c.type_index] += 1;
                stats.n_changed += 1;
            }
            c
        })
        .collect();
    stats.k = stats.n_changed;
    (out, stats)
}
