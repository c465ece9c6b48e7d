//! The whole `inject-errors` path on JSONL bytes: split lines, locate the field and id as raw
//! spans, select, and splice. Unchanged lines are copied byte for byte; a changed line
//! differs only in the field's string token and the appended annotation. Records are never
//! re-serialised, so huge integers, odd floats, duplicate keys and lone surrogates in other
//! fields survive untouched.

use std::borrow::Cow;
use std::fmt;

use hashbrown::HashSet;
use rayon::prelude::*;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::escape::write_json_str;
use super::models::ErrorModel;
use super::rng::DOMAIN;
use super::scan::{scan_words_into, ScanOpts};
use super::select::{
    corrupt_word_unit, inject_texts, Config, Corruption, Scratch, SelectStats, Unit, WordPlan,
};
use crate::error::{CoreError, CoreResult};

/// Record-level options of the JSONL path.
#[derive(Clone, Debug)]
pub struct JsonlOptions {
    pub field: String,
    /// `""` keys records by position.
    pub id_field: String,
    pub annotate: bool,
    pub annotate_key: String,
    /// Skip bad lines (reported in `Summary::skipped`) instead of failing on the first.
    pub skip_errors: bool,
}

impl Default for JsonlOptions {
    fn default() -> Self {
        JsonlOptions {
            field: "question".into(),
            id_field: "id".into(),
            annotate: true,
            annotate_key: "qe".into(),
            skip_errors: false,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    pub stats: SelectStats,
    /// "id" or "position".
    pub keys: &'static str,
    /// (1-based line, message) of every skipped line, ascending.
    pub skipped: Vec<(u64, String)>,
}

#[derive(Debug)]
pub struct JsonlOutput {
    /// The output, in order, as the parallel writers produced it: joining them is left to
    /// the caller, which usually copies once anyway (into a Python `bytes` or a file).
    pub chunks: Vec<Vec<u8>>,
    pub summary: Summary,
}

impl JsonlOutput {
    pub fn len(&self) -> usize {
        self.chunks.iter().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.chunks.iter().all(Vec::is_empty)
    }

    pub fn into_bytes(self) -> Vec<u8> {
        concat(self.chunks)
    }
}

/// What parsing found in one record line (offsets are bytes into the line).
#[derive(Debug)]
struct Located<'a> {
    field_start: usize,
    field_end: usize,
    /// The decoded field (borrowed when it has no escapes); `None` when it holds a lone
    /// surrogate (uncorruptible).
    text: Option<Cow<'a, str>>,
    /// The id as a stream key (`i…`), if the record has one.
    id: Option<String>,
    /// Position of the object's closing brace.
    close: usize,
}

enum Line<'a> {
    Blank,
    Record(Located<'a>),
    Bad(String),
}

#[derive(Clone, Copy, PartialEq)]
enum KeyKind {
    Field,
    Id,
    Annotation,
    Other,
}

struct KeySeed<'o>(&'o JsonlOptions);

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = KeyKind;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<KeyKind, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for KeySeed<'_> {
    type Value = KeyKind;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E: de::Error>(self, key: &str) -> Result<KeyKind, E> {
        let o = self.0;
        Ok(if key == o.field {
            KeyKind::Field
        } else if !o.id_field.is_empty() && key == o.id_field {
            KeyKind::Id
        } else if o.annotate && key == o.annotate_key {
            KeyKind::Annotation
        } else {
            KeyKind::Other
        })
    }
}

/// Collects the raw spans of the members we care about, rejecting duplicates of them.
struct ObjectSeed<'o>(&'o JsonlOptions);

#[derive(Default)]
struct Members<'de> {
    field: Option<&'de RawValue>,
    id: Option<&'de RawValue>,
}

impl<'de> Visitor<'de> for ObjectSeed<'_> {
    type Value = Members<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members<'de>, A::Error> {
        let o = self.0;
        let mut members = Members::default();
        while let Some(kind) = map.next_key_seed(KeySeed(o))? {
            let value: &'de RawValue = map.next_value()?;
            match kind {
                KeyKind::Field if members.field.is_some() => {
                    return Err(de::Error::custom(format!("duplicate key {:?}", o.field)))
                }
                KeyKind::Field => members.field = Some(value),
                KeyKind::Id if members.id.is_some() => {
                    return Err(de::Error::custom(format!("duplicate key {:?}", o.id_field)))
                }
                KeyKind::Id => members.id = Some(value),
                KeyKind::Annotation => {
                    return Err(de::Error::custom(format!(
                        "annotation key {:?} already present (use another --annotate-key to stack rounds)",
                        o.annotate_key
                    )))
                }
                KeyKind::Other => {}
            }
        }
        Ok(members)
    }
}

fn offset_in(line: &str, raw: &RawValue) -> (usize, usize) {
    let start = raw.get().as_ptr() as usize - line.as_ptr() as usize;
    (start, start + raw.get().len())
}

/// Strips serde's " at line 1 column N" suffix: the caller reports the file line.
fn clean_message(e: serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Parses one line; `valid` is the line as `str` when the caller already checked the
/// whole input's UTF-8 (one pass over the buffer is much cheaper than one per line).
fn parse_line<'a>(raw_line: &'a [u8], valid: Option<&'a str>, opts: &JsonlOptions) -> Line<'a> {
    if raw_line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r')) {
        return Line::Blank;
    }
    let line = match valid.map_or_else(|| std::str::from_utf8(raw_line), Ok) {
        Ok(s) => s,
        Err(e) => return Line::Bad(format!("invalid UTF-8 at byte {}", e.valid_up_to())),
    };
    let trimmed = line.trim_start_matches([' ', '\t', '\r']);
    if !trimmed.starts_with('{') {
        return Line::Bad(match serde_json::from_str::<de::IgnoredAny>(line) {
            Err(e) => format!("invalid JSON: {}", clean_message(e)),
            Ok(_) => "not a JSON object".to_string(),
        });
    }
    let mut de = serde_json::Deserializer::from_str(line);
    let members = match de
        .deserialize_map(ObjectSeed(opts))
        .and_then(|m| de.end().map(|_| m))
    {
        Ok(m) => m,
        Err(e) => return Line::Bad(format!("invalid JSON: {}", clean_message(e))),
    };
    let Some(field) = members.field else {
        return Line::Bad(format!("field {:?} missing", opts.field));
    };
    let raw = field.get();
    if !raw.starts_with('"') {
        return Line::Bad(format!("field {:?} is not a string", opts.field));
    }
    let (field_start, field_end) = offset_in(line, field);
    // A lone surrogate cannot become a Rust string: such a field is left alone.
    let text = if raw.contains('\\') {
        serde_json::from_str::<String>(raw).ok().map(Cow::Owned)
    } else {
        Some(Cow::Borrowed(&line[field_start + 1..field_end - 1]))
    };
    let id = match members.id {
        None => None,
        Some(v) => {
            let raw = v.get();
            if raw.starts_with('"') && !raw.contains('\\') {
                let mut key = String::with_capacity(raw.len() - 1);
                key.push('i');
                key.push_str(&raw[1..raw.len() - 1]);
                Some(key)
            } else if raw.starts_with('"') {
                match serde_json::from_str::<String>(raw) {
                    Ok(s) => Some(format!("i{s}")),
                    Err(_) => {
                        return Line::Bad(format!("id {:?} is not valid Unicode", opts.id_field))
                    }
                }
            } else if raw
                .bytes()
                .enumerate()
                .all(|(i, b)| b.is_ascii_digit() || (i == 0 && b == b'-'))
            {
                Some(format!("i{raw}"))
            } else {
                return Line::Bad(format!(
                    "id {:?} must be a string or an integer, got {raw}",
                    opts.id_field
                ));
            }
        }
    };
    let close = line.trim_end_matches([' ', '\t', '\r']).len() - 1;
    Line::Record(Located {
        field_start,
        field_end,
        text,
        id,
        close,
    })
}

/// "0.2", "1.0", "0.000001": the shortest decimal with at least one fractional digit.
pub fn rate_text(ppm: u32) -> String {
    let whole = ppm / 1_000_000;
    let frac = format!("{:06}", ppm % 1_000_000);
    let frac = frac.trim_end_matches('0');
    format!("{whole}.{}", if frac.is_empty() { "0" } else { frac })
}

/// One edit as the annotation writes it: code-point span, source and target words.
type EditRef<'a> = (usize, usize, &'a str, &'a str);

/// The bytes every annotation of a type starts with, up to `"clean":`, built once per run:
/// only the clean text and the edits differ between records.
fn annotation_heads(config: &Config, opts: &JsonlOptions) -> Vec<Vec<u8>> {
    (0..config.types.len())
        .map(|t| {
            let mut out = vec![b','];
            write_json_str(&mut out, &opts.annotate_key);
            out.extend_from_slice(b":{\"version\":");
            write_json_str(&mut out, DOMAIN);
            out.extend_from_slice(b",\"type\":");
            write_json_str(&mut out, &config.types[t]);
            out.extend_from_slice(b",\"seed\":");
            out.extend_from_slice(itoa::Buffer::new().format(config.seed).as_bytes());
            out.extend_from_slice(b",\"unit\":\"");
            out.extend_from_slice(config.unit.name().as_bytes());
            out.extend_from_slice(b"\",\"rate\":");
            out.extend_from_slice(rate_text(config.rate_ppm).as_bytes());
            out.extend_from_slice(b",\"field\":");
            write_json_str(&mut out, &opts.field);
            out.extend_from_slice(b",\"clean\":");
            out
        })
        .collect()
}

/// Writes `,"<key>":{…}` after the head of `annotation_heads`.
fn write_annotation<'a>(
    out: &mut Vec<u8>,
    head: &[u8],
    edits: impl Iterator<Item = EditRef<'a>>,
    clean: &str,
) {
    out.extend_from_slice(head);
    write_json_str(out, clean);
    out.extend_from_slice(b",\"edits\":[");
    let mut num = itoa::Buffer::new();
    for (i, (start, end, source, target)) in edits.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"start\":");
        out.extend_from_slice(num.format(start).as_bytes());
        out.extend_from_slice(b",\"end\":");
        out.extend_from_slice(num.format(end).as_bytes());
        out.extend_from_slice(b",\"from\":");
        write_json_str(out, source);
        out.extend_from_slice(b",\"to\":");
        write_json_str(out, target);
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
}

/// Writes a changed record: the line with its field token replaced by `text` and, with
/// `--annotate`, the annotation written by `annotate` inserted before the closing brace.
fn splice_record(
    out: &mut Vec<u8>,
    line: &[u8],
    r: &Located,
    text: &str,
    opts: &JsonlOptions,
    annotate: impl FnOnce(&mut Vec<u8>, &str),
) {
    out.extend_from_slice(&line[..r.field_start]);
    write_json_str(out, text);
    if opts.annotate {
        out.extend_from_slice(&line[r.field_end..r.close]);
        annotate(out, r.text.as_deref().unwrap_or(""));
        out.extend_from_slice(&line[r.close..]);
    } else {
        out.extend_from_slice(&line[r.field_end..]);
    }
}

/// Line spans `[start, end)` without their `\n`, plus whether a `\n` followed.
fn split_lines(data: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::with_capacity(data.len() / 64 + 1);
    let mut start = 0;
    for nl in memchr::memchr_iter(b'\n', data) {
        out.push((start, nl));
        start = nl + 1;
    }
    if start < data.len() {
        out.push((start, data.len()));
    }
    out
}

/// A changed field: its new text and how to write its annotation.
pub trait Replacement: Sync {
    fn text(&self) -> &str;
    /// Writes `,"<key>":{…}` (called only with `--annotate`); `clean` is the old field.
    fn write_annotation(&self, out: &mut Vec<u8>, clean: &str, opts: &JsonlOptions);
}

/// A replacement whose annotation bytes were built elsewhere (the nlpaug engine).
#[derive(Clone, Debug)]
pub struct PrebuiltReplacement {
    pub text: String,
    /// The annotation object's JSON (`{…}`), without the key.
    pub annotation: Vec<u8>,
}

impl Replacement for PrebuiltReplacement {
    fn text(&self) -> &str {
        &self.text
    }
    fn write_annotation(&self, out: &mut Vec<u8>, _clean: &str, opts: &JsonlOptions) {
        out.push(b',');
        write_json_str(out, &opts.annotate_key);
        out.push(b':');
        out.extend_from_slice(&self.annotation);
    }
}

struct KernelReplacement<'a> {
    corruption: &'a Corruption,
    heads: &'a [Vec<u8>],
}

impl Replacement for KernelReplacement<'_> {
    fn text(&self) -> &str {
        &self.corruption.text
    }
    fn write_annotation(&self, out: &mut Vec<u8>, clean: &str, _opts: &JsonlOptions) {
        let c = self.corruption;
        let edits = c
            .edits
            .iter()
            .map(|e| (e.start, e.end, e.source.as_str(), e.target.as_str()));
        write_annotation(out, &self.heads[c.type_index], edits, clean);
    }
}

/// JSONL split into lines and records, validated and keyed: the first half of every
/// injector run, shared by the kernel path and engines that rewrite texts elsewhere.
pub struct ParsedJsonl<'a> {
    data: &'a [u8],
    spans: Vec<(usize, usize)>,
    lines: Vec<Line<'a>>,
    /// Line index of each record, in input order.
    record_lines: Vec<usize>,
    /// Stream key of each record (`i<id>` or `n<position>`).
    pub keys: Vec<String>,
    pub by_id: bool,
    /// (1-based line, message) of every bad line (only with `skip_errors`).
    pub skipped: Vec<(u64, String)>,
}

impl<'a> ParsedJsonl<'a> {
    pub fn parse(data: &'a [u8], opts: &JsonlOptions) -> CoreResult<Self> {
        let spans = split_lines(data);
        // Lines end at '\n' bytes, which are character boundaries of valid UTF-8, so a
        // valid input can be sliced into line strings without checking each again.
        let whole = std::str::from_utf8(data).ok();
        let mut lines: Vec<Line> = spans
            .par_iter()
            .map(|&(s, e)| parse_line(&data[s..e], whole.map(|w| &w[s..e]), opts))
            .collect();

        // Keys: ids when every record has one, positions when none has (or --id-field '').
        let n_with_id = lines
            .iter()
            .filter(|l| matches!(l, Line::Record(r) if r.id.is_some()))
            .count();
        let n_records_parsed = lines
            .iter()
            .filter(|l| matches!(l, Line::Record(_)))
            .count();
        let by_id = !opts.id_field.is_empty() && n_with_id > 0;
        if by_id && n_with_id < n_records_parsed {
            let message = format!(
                "id {:?} missing (other records have one; use --id-field '' to key by position)",
                opts.id_field
            );
            for line in lines.iter_mut() {
                if matches!(line, Line::Record(r) if r.id.is_none()) {
                    *line = Line::Bad(message.clone());
                }
            }
        }
        let mut seen: HashSet<&str, foldhash::fast::FixedState> =
            HashSet::with_hasher(Default::default());
        let mut duplicates = Vec::new();
        if by_id {
            for (i, line) in lines.iter().enumerate() {
                if let Line::Record(r) = line {
                    let id = r.id.as_deref().expect("all records have ids");
                    if !seen.insert(id) {
                        duplicates.push((i, format!("duplicate id {:?}", &id[1..])));
                    }
                }
            }
        }
        drop(seen);
        for (i, message) in duplicates {
            lines[i] = Line::Bad(message);
        }

        let mut skipped = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            if let Line::Bad(message) = line {
                if !opts.skip_errors {
                    return Err(CoreError::record(i as u64 + 1, message.clone()));
                }
                skipped.push((i as u64 + 1, message.clone()));
            }
        }

        // Records in input order, keyed; position keys count every non-blank line.
        let mut record_lines = Vec::new();
        let mut keys = Vec::new();
        let mut position = 0usize;
        for (i, line) in lines.iter_mut().enumerate() {
            match line {
                Line::Blank => continue,
                Line::Record(r) => {
                    record_lines.push(i);
                    keys.push(if by_id {
                        r.id.take().expect("checked")
                    } else {
                        format!("n{position}")
                    });
                }
                Line::Bad(_) => {}
            }
            position += 1;
        }
        Ok(ParsedJsonl {
            data,
            spans,
            lines,
            record_lines,
            keys,
            by_id,
            skipped,
        })
    }

    /// Each record's field text, in input order (`None`: undecodable, cannot change).
    pub fn texts(&self) -> Vec<Option<&str>> {
        self.record_lines
            .iter()
            .map(|&i| match &self.lines[i] {
                Line::Record(r) => r.text.as_deref(),
                _ => unreachable!("record_lines holds records"),
            })
            .collect()
    }

    /// 1-based line number of each record.
    pub fn record_line_numbers(&self) -> Vec<u64> {
        self.record_lines.iter().map(|&i| i as u64 + 1).collect()
    }

    /// The output: every line as read, except records with a replacement (indexed by
    /// record), whose field token is rewritten and annotation appended. Bad lines are left
    /// out (they are in `skipped`).
    pub fn write<R: Replacement>(
        &self,
        changed: &[Option<R>],
        opts: &JsonlOptions,
    ) -> CoreResult<Vec<u8>> {
        if changed.len() != self.record_lines.len() {
            return Err(CoreError::shape(format!(
                "{} replacements for {} records",
                changed.len(),
                self.record_lines.len()
            )));
        }
        let parts = self.write_lines(
            opts,
            || (),
            |_, record, line, r, out| match &changed[record] {
                Some(c) => splice_record(out, line, r, c.text(), opts, |out, clean| {
                    c.write_annotation(out, clean, opts)
                }),
                None => out.extend_from_slice(line),
            },
        );
        Ok(concat(parts.into_iter().map(|(bytes, ())| bytes).collect()))
    }

    /// Writes every line in parallel chunks: blank lines as read, bad lines left out, and
    /// each record through `write_record(state, record index, line, located, out)`, which
    /// writes the record without its newline. Returns each chunk's bytes and worker state,
    /// in order.
    fn write_lines<S: Send, F>(
        &self,
        opts: &JsonlOptions,
        init: impl Fn() -> S + Sync + Send,
        write_record: F,
    ) -> Vec<(Vec<u8>, S)>
    where
        F: Fn(&mut S, usize, &[u8], &Located, &mut Vec<u8>) + Sync,
    {
        let mut record_of_line = vec![usize::MAX; self.lines.len()];
        for (record, &i) in self.record_lines.iter().enumerate() {
            record_of_line[i] = record;
        }
        let data = self.data;
        let lines: Vec<usize> = (0..self.lines.len()).collect();
        let chunk = (self.lines.len() / (rayon::current_num_threads() * 8)).max(256);
        lines
            .par_chunks(chunk)
            .map(|idx| {
                // Room for the annotations up front: growing a buffer copies it, and the
                // pages reserved but never written cost nothing.
                let input: usize = idx
                    .iter()
                    .map(|&i| self.spans[i].1 - self.spans[i].0 + 1)
                    .sum();
                let per_line = if opts.annotate {
                    3 * input / idx.len() + 256
                } else {
                    16
                };
                let mut out = Vec::with_capacity(input + per_line * idx.len());
                let mut state = init();
                for &i in idx {
                    let (s, e) = self.spans[i];
                    let line = &data[s..e];
                    match &self.lines[i] {
                        Line::Bad(_) => continue,
                        Line::Record(r) => {
                            write_record(&mut state, record_of_line[i], line, r, &mut out)
                        }
                        Line::Blank => out.extend_from_slice(line),
                    }
                    if e < data.len() {
                        out.push(b'\n');
                    }
                }
                (out, state)
            })
            .collect()
    }
}

fn concat(parts: Vec<Vec<u8>>) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(parts.iter().map(Vec::len).sum());
    for p in parts {
        bytes.extend_from_slice(&p);
    }
    bytes
}

/// Per-worker counts of the streamed word unit.
#[derive(Default)]
struct WordCounts {
    by_type: Vec<usize>,
    n_uncorruptible: usize,
}

/// The word unit in one pass per chunk: each record is decided, corrupted and written while
/// its line is in cache, with no per-record result kept in between.
fn inject_words_jsonl(
    parsed: &ParsedJsonl,
    config: &Config,
    models: &[ErrorModel],
    opts: &JsonlOptions,
) -> (Vec<Vec<u8>>, SelectStats) {
    let seed = config.seed.to_string();
    let heads = annotation_heads(config, opts);
    let parts = parsed.write_lines(
        opts,
        || {
            (
                Scratch::default(),
                WordCounts {
                    by_type: vec![0; models.len()],
                    n_uncorruptible: 0,
                },
            )
        },
        |(scratch, counts), record, line, r, out| {
            let key = &parsed.keys[record];
            match corrupt_word_unit(r.text.as_deref(), key, config, models, &seed, scratch) {
                WordPlan::Keep => out.extend_from_slice(line),
                WordPlan::Uncorruptible => {
                    counts.n_uncorruptible += 1;
                    out.extend_from_slice(line);
                }
                WordPlan::Change { t, .. } => {
                    counts.by_type[t] += 1;
                    let scratch = &*scratch;
                    splice_record(out, line, r, &scratch.text, opts, |out, clean| {
                        let edits = scratch.edits.iter().map(|(span, target)| {
                            (
                                span.start_cp,
                                span.end_cp,
                                &clean[span.start_byte..span.end_byte],
                                &scratch.targets[target.clone()],
                            )
                        });
                        write_annotation(out, &heads[t], edits, clean);
                    });
                }
            }
        },
    );
    let mut stats = SelectStats {
        n_records: parsed.record_lines.len(),
        by_type: vec![0; models.len()],
        ..Default::default()
    };
    let mut chunks = Vec::with_capacity(parts.len());
    for (bytes, (_, counts)) in parts {
        chunks.push(bytes);
        stats.n_uncorruptible += counts.n_uncorruptible;
        for (total, n) in stats.by_type.iter_mut().zip(counts.by_type) {
            *total += n;
        }
    }
    stats.n_changed = stats.by_type.iter().sum();
    stats.k = stats.n_changed;
    (chunks, stats)
}

/// Runs the injector over JSONL bytes; see the module docs for what is guaranteed.
pub fn inject_jsonl(
    data: &[u8],
    config: &Config,
    models: &[ErrorModel],
    opts: &JsonlOptions,
) -> CoreResult<JsonlOutput> {
    config.validate(models.len())?;
    let parsed = ParsedJsonl::parse(data, opts)?;
    let (chunks, stats) = if config.unit == Unit::Word {
        inject_words_jsonl(&parsed, config, models, opts)
    } else {
        let texts = parsed.texts();
        let (corruptions, stats) = inject_texts(&parsed.keys, &texts, config, models)?;
        let heads = annotation_heads(config, opts);
        let changed: Vec<Option<KernelReplacement>> = corruptions
            .iter()
            .map(|c| {
                c.as_ref().map(|corruption| KernelReplacement {
                    corruption,
                    heads: &heads,
                })
            })
            .collect();
        let bytes = parsed.write(&changed, opts)?;
        (vec![bytes], stats)
    };
    Ok(JsonlOutput {
        chunks,
        summary: Summary {
            stats,
            keys: if parsed.by_id { "id" } else { "position" },
            skipped: parsed.skipped,
        },
    })
}

/// Distinct scanner-eligible words of the field across every parsable record, in first-seen
/// order: phase one of running a plugin error model (the host asks the plugin for candidates
/// of exactly these words, then hands the table back to the kernel).
pub fn distinct_words_jsonl(data: &[u8], opts: &JsonlOptions, scan: &ScanOpts) -> Vec<String> {
    let spans = split_lines(data);
    let texts: Vec<Option<String>> = spans
        .par_iter()
        .map(|&(s, e)| match parse_line(&data[s..e], None, opts) {
            Line::Record(r) => r.text.map(Cow::into_owned),
            _ => None,
        })
        .collect();
    distinct_words(texts.iter().filter_map(|t| t.as_deref()), scan)
}

/// Distinct eligible words of `texts`, in first-seen order.
pub fn distinct_words<'a>(texts: impl Iterator<Item = &'a str>, scan: &ScanOpts) -> Vec<String> {
    let mut seen: HashSet<&str, foldhash::fast::FixedState> =
        HashSet::with_hasher(Default::default());
    let mut out = Vec::new();
    let mut buf = Vec::new();
    for text in texts {
        scan_words_into(text, scan, &mut buf);
        for s in &buf {
            let w = &text[s.start_byte..s.end_byte];
            if seen.insert(w) {
                out.push(w.to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inject::models::{CharsPerWord, KeyboardModel, VisualModel};
    use crate::inject::select::Unit;

    fn config(types: &[&str], rate_ppm: u32) -> Config {
        Config {
            types: types.iter().map(|s| s.to_string()).collect(),
            rate_ppm,
            unit: Unit::Query,
            seed: 0,
            words_per_query: 1,
            scan: ScanOpts::default(),
        }
    }

    fn run(data: &str, types: &[&str], rate_ppm: u32) -> CoreResult<JsonlOutput> {
        let models: Vec<ErrorModel> = types
            .iter()
            .map(|t| match *t {
                "keyboard" => ErrorModel::Keyboard(KeyboardModel::qwerty(CharsPerWord::Count(1))),
                _ => ErrorModel::Visual(VisualModel::builtin()),
            })
            .collect();
        inject_jsonl(
            data.as_bytes(),
            &config(types, rate_ppm),
            &models,
            &JsonlOptions::default(),
        )
    }

    #[test]
    fn spec_line_example() {
        let line = "{\"id\":\"test_1\",\"question\":\"when was the eiffel tower completed\",\"golden_answers\":[\"1889\"]}\n";
        let mut data = line.to_string();
        for i in 2..=5 {
            data.push_str(&format!("{{\"id\":\"x{i}\",\"question\":\"\"}}\n"));
        }
        // With 5 records at 0.2, k = 1: whichever record ranks first and is corruptible.
        let out = run(&data, &["keyboard"], 200_000).unwrap();
        assert_eq!(out.summary.stats.k, 1);
        let text = String::from_utf8(out.into_bytes()).unwrap();
        assert!(text.starts_with(
            "{\"id\":\"test_1\",\"question\":\"when was the diffel tower completed\",\"golden_answers\":[\"1889\"],\"qe\":{\"version\":\"mstk-qe/1\",\"type\":\"keyboard\",\"seed\":0,\"unit\":\"query\",\"rate\":0.2,\"field\":\"question\",\"clean\":\"when was the eiffel tower completed\",\"edits\":[{\"start\":13,\"end\":19,\"from\":\"eiffel\",\"to\":\"diffel\"}]}}\n"
        ), "{text}");
    }

    #[test]
    fn passthrough_and_errors() {
        let data = "\r\n{\"id\":1,\"question\":\"\\ud800\",\"n\":2e400,\"x\":1,\"x\":2}\r\n{\"id\":2,\"question\":\"tower\"}";
        let out = run(data, &["keyboard"], 0).unwrap();
        assert_eq!(out.summary.keys, "id");
        assert_eq!(out.into_bytes(), data.as_bytes());
        let err = run(
            "{\"id\":1,\"question\":\"a\"}\n{\"id\":1,\"question\":\"b\"}\n",
            &["keyboard"],
            0,
        )
        .unwrap_err();
        assert_eq!(err, CoreError::record(2, "duplicate id \"1\""));
        let err = run("{\"question\":3}\n", &["keyboard"], 0).unwrap_err();
        assert_eq!(
            err,
            CoreError::record(1, "field \"question\" is not a string")
        );
        let err = run("\n[1]\n", &["keyboard"], 0).unwrap_err();
        assert_eq!(err, CoreError::record(2, "not a JSON object"));
        let err = run(
            "{\"id\":1,\"question\":\"a\"}\n{\"question\":\"b\"}\n",
            &["keyboard"],
            0,
        )
        .unwrap_err();
        assert!(matches!(err, CoreError::Record { line: 2, .. }));
        let err = run("{\"question\":\"a\",\"qe\":{}}\n", &["keyboard"], 0).unwrap_err();
        assert!(matches!(err, CoreError::Record { line: 1, .. }));
    }

    #[test]
    fn rate_text_is_shortest() {
        assert_eq!(rate_text(200_000), "0.2");
        assert_eq!(rate_text(1_000_000), "1.0");
        assert_eq!(rate_text(0), "0.0");
        assert_eq!(rate_text(123_456), "0.123456");
        assert_eq!(rate_text(50), "0.00005");
    }
}
