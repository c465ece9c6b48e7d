//! JSONL codec for re-ranking requests (`mstk rerank`).
//!
//! Parsing happens here rather than in Python because a request carries hundreds of
//! candidates: building Python objects for them would cost more than the re-ranking
//! itself. Fields the re-ranker does not own are kept as byte ranges of the input and
//! written back verbatim, so unknown fields pass through untouched.
//!
//! Accepted request shapes (specs/rerank.md):
//! `{"items":[…],"scores":[…],"providers":[…], …}` or
//! `{"candidates":[{"item":…,"score":…,"provider":…},…], …}`; optional `interval`
//! (integer) and `ts` (number).

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::hash::BuildHasherDefault;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::{CoreError, CoreResult};

/// FNV-1a: item ids are short strings; SipHash's DoS resistance buys nothing here.
#[derive(Default)]
pub struct Fnv(u64);
impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 { 0xcbf29ce484222325 } else { self.0 };
        for &b in bytes {
            h ^= b as u64;
            h = h.wrapping_mul(0x100000001b3);
        }
        self.0 = h;
    }
}
type FnvMap<K, V> = HashMap<K, V, BuildHasherDefault<Fnv>>;

/// Maps strings to dense ids in order of first appearance.
#[derive(Default, Debug)]
pub struct Interner {
    ids: FnvMap<Box<str>, i32>,
    pub names: Vec<Box<str>>,
}

impl Interner {
    pub fn intern(&mut self, s: &str) -> i32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = self.names.len() as i32;
        self.names.push(s.into());
        self.ids.insert(s.into(), id);
        id
    }
    pub fn get(&self, s: &str) -> Option<i32> {
        self.ids.get(s).copied()
    }
    pub fn len(&self) -> usize {
        self.names.len()
    }
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// A JSON string that borrows from the input when it has no escapes.
struct JsonStr<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for JsonStr<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = JsonStr<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(JsonStr(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(JsonStr(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}

#[derive(Deserialize)]
struct CandidateObj<'a> {
    #[serde(borrow)]
    item: JsonStr<'a>,
    score: f64,
    #[serde(borrow, default)]
    provider: Option<JsonStr<'a>>,
}

/// Where a passthrough field's key and value sit in the input buffer.
#[derive(Debug, Clone)]
enum KeyText {
    /// Raw key bytes (no escapes), range into the buffer, written back between quotes.
    Raw(usize, usize),
    /// A key that had escapes; re-escaped on output.
    Owned(Box<str>),
}

#[derive(Debug, Clone)]
struct KeptField {
    key: KeyText,
    value: (usize, usize),
}

/// Fields the re-ranker writes itself: an input copy of them is replaced, not duplicated.
const OUTPUT_FIELDS: [&str; 7] = ["interval", "rec_items", "rec_providers", "rec_scores", "dcg", "idcg", "ndcg"];
const CANDIDATE_FIELDS: [&str; 4] = ["items", "scores", "providers", "candidates"];

/// How to treat a candidate without a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingProvider {
    Error,
    /// The item is its own provider (named after the item).
    Singleton,
}

/// Parsed requests in input order, owning the input bytes for passthrough output.
#[derive(Debug, Default)]
pub struct RequestBatch {
    buf: Vec<u8>,
    /// 1-based input line of each record.
    pub line: Vec<u64>,
    pub offsets: Vec<i64>,
    pub item: Vec<i32>,
    pub score: Vec<f64>,
    pub provider: Vec<i32>,
    /// `i64::MIN` where the record has no `interval`.
    pub interval: Vec<i64>,
    /// NaN where the record has no `ts`.
    pub ts: Vec<f64>,
    pub items: Interner,
    pub providers: Interner,
    kept: Vec<KeptField>,
    kept_offsets: Vec<usize>,
}

/// A record that could not be parsed: 1-based line and reason.
#[derive(Debug, Clone, PartialEq)]
pub struct BadLine {
    pub line: u64,
    pub reason: String,
}

pub const MISSING_INTERVAL: i64 = i64::MIN;

struct Scratch<'a> {
    items: Vec<JsonStr<'a>>,
    providers: Vec<Option<JsonStr<'a>>>,
    scores: Vec<f64>,
    kept: Vec<KeptField>,
    /// item id → last attempt that used it, for duplicate detection
    stamp: Vec<u32>,
    /// counts parse attempts (bad records included), so stamps never collide
    attempt: u32,
}

fn offset_in(buf: &[u8], s: &str) -> usize {
    s.as_ptr() as usize - buf.as_ptr() as usize
}

struct TopLevel<'a, 'b> {
    buf: &'a [u8],
    scratch: &'b mut Scratch<'a>,
    keep_candidates: bool,
    interval: Option<i64>,
    ts: Option<f64>,
    saw: [bool; 4],
}

fn de_err<E: de::Error>(msg: String) -> E {
    E::custom(msg)
}

impl<'de: 'a, 'a, 'b> Visitor<'de> for TopLevel<'a, 'b> {
    type Value = Self;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<M: MapAccess<'de>>(mut self, mut map: M) -> Result<Self, M::Error> {
        while let Some(key) = map.next_key::<JsonStr<'de>>()? {
            let key_text = match &key.0 {
                Cow::Borrowed(k) => KeyText::Raw(offset_in(self.buf, k), offset_in(self.buf, k) + k.len()),
                Cow::Owned(k) => KeyText::Owned(k.as_str().into()),
            };
            let name: &str = &key.0;
            let raw: &'de RawValue = map.next_value()?;
            let text = raw.get();
            let span = (offset_in(self.buf, text), offset_in(self.buf, text) + text.len());
            let candidate_field = CANDIDATE_FIELDS.iter().position(|f| *f == name);
            if let Some(i) = candidate_field {
                if std::mem::replace(&mut self.saw[i], true) {
                    return Err(de_err(format!("duplicate field '{name}'")));
                }
                match i {
                    0 => {
                        self.scratch.items = serde_json::from_str(text)
                            .map_err(|e| de_err(format!("'items' must be a list of strings ({e})")))?
                    }
                    1 => {
                        self.scratch.scores = serde_json::from_str(text)
                            .map_err(|e| de_err(format!("'scores' must be a list of numbers ({e})")))?
                    }
                    2 => {
                        let v: Vec<JsonStr> = serde_json::from_str(text)
                            .map_err(|e| de_err(format!("'providers' must be a list of strings ({e})")))?;
                        self.scratch.providers = v.into_iter().map(Some).collect();
                    }
                    _ => {
                        let v: Vec<CandidateObj> = serde_json::from_str(text).map_err(|e| {
                            de_err(format!("'candidates' must be a list of {{\"item\",\"score\",\"provider\"}} objects ({e})"))
                        })?;
                        self.scratch.items.clear();
                        self.scratch.scores.clear();
                        self.scratch.providers.clear();
                        for c in v {
                            self.scratch.items.push(c.item);
                            self.scratch.scores.push(c.score);
                            self.scratch.providers.push(c.provider);
                        }
                    }
                }
                if self.keep_candidates {
                    self.scratch.kept.push(KeptField { key: key_text, value: span });
                }
                continue;
            }
            match name {
                "interval" => {
                    let v: i64 = serde_json::from_str(text)
                        .map_err(|_| de_err(format!("'interval' must be an integer, got {text}")))?;
                    self.interval = Some(v);
                }
                "ts" => {
                    let v: f64 = serde_json::from_str(text)
                        .map_err(|_| de_err(format!("'ts' must be a number, got {text}")))?;
                    self.ts = Some(v);
                }
                _ => {}
            }
            if !OUTPUT_FIELDS.contains(&name) {
                self.scratch.kept.push(KeptField { key: key_text, value: span });
            }
        }
        Ok(self)
    }
}

/// Trim the JSON whitespace around a line (and a Windows `\r`).
fn trim(line: &[u8]) -> &[u8] {
    let is_ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let start = line.iter().position(|b| !is_ws(b)).unwrap_or(line.len());
    let end = line.iter().rposition(|b| !is_ws(b)).map_or(start, |e| e + 1);
    &line[start..end]
}

impl RequestBatch {
    /// Parse `buf` (whole JSONL lines) whose first line is numbered `first_line`.
    ///
    /// Blank lines are not records and are ignored. A bad record is reported in the
    /// returned list; with `stop_at_first` parsing stops there (the error is the last
    /// entry), otherwise it continues and the bad record contributes nothing.
    pub fn parse(
        buf: Vec<u8>,
        first_line: u64,
        keep_candidates: bool,
        missing_provider: MissingProvider,
        stop_at_first: bool,
    ) -> (RequestBatch, Vec<BadLine>) {
        let mut batch = RequestBatch { offsets: vec![0], kept_offsets: vec![0], ..Default::default() };
        let mut bad = Vec::new();
        // The records borrow from `buf` while parsing; it moves into the batch afterwards.
        {
            let data: &[u8] = &buf;
            let mut scratch = Scratch { items: Vec::new(), providers: Vec::new(), scores: Vec::new(), kept: Vec::new(), stamp: Vec::new(), attempt: 0 };
            let mut line_no = first_line;
            for raw_line in data.split(|&b| b == b'\n') {
                let this_line = line_no;
                line_no += 1;
                let line = trim(raw_line);
                if line.is_empty() {
                    continue;
                }
                if let Err(reason) = batch.parse_one(data, line, keep_candidates, missing_provider, &mut scratch) {
                    bad.push(BadLine { line: this_line, reason });
                    if stop_at_first {
                        break;
                    }
                    continue;
                }
                batch.line.push(this_line);
            }
        }
        batch.buf = buf;
        (batch, bad)
    }

    fn parse_one<'a>(
        &mut self,
        buf: &'a [u8],
        line: &'a [u8],
        keep_candidates: bool,
        missing_provider: MissingProvider,
        scratch: &mut Scratch<'a>,
    ) -> Result<(), String> {
        scratch.items.clear();
        scratch.scores.clear();
        scratch.providers.clear();
        scratch.kept.clear();
        let text = std::str::from_utf8(line).map_err(|e| format!("not valid UTF-8 ({e})"))?;
        let mut de = serde_json::Deserializer::from_str(text);
        let top = TopLevel { buf, scratch, keep_candidates, interval: None, ts: None, saw: [false; 4] };
        let top = de.deserialize_map(top).map_err(|e| format!("invalid JSON: {}", strip_position(&e)))?;
        de.end().map_err(|_| "invalid JSON: trailing characters after the object".to_string())?;
        let (interval, ts, saw) = (top.interval, top.ts, top.saw);
        let has_arrays = saw[0] || saw[1] || saw[2];
        if saw[3] && has_arrays {
            return Err("give either 'candidates' or 'items'/'scores'/'providers', not both".into());
        }
        if !saw[3] && !(saw[0] && saw[1]) {
            return Err("missing 'items' and 'scores' (or 'candidates')".into());
        }
        let n = scratch.items.len();
        if scratch.scores.len() != n {
            return Err(format!("{} items but {} scores", n, scratch.scores.len()));
        }
        if saw[0] && !saw[2] {
            scratch.providers.clear();
            scratch.providers.resize_with(n, || None);
        } else if scratch.providers.len() != n {
            return Err(format!("{} items but {} providers", n, scratch.providers.len()));
        }
        if let Some(j) = scratch.scores.iter().position(|s| !s.is_finite()) {
            return Err(format!("score of candidate {} is not finite", j + 1));
        }
        if missing_provider == MissingProvider::Error {
            if let Some(j) = scratch.providers.iter().position(|p| p.is_none()) {
                return Err(format!(
                    "candidate {} ('{}') has no provider (add 'providers', or use --missing-provider singleton)",
                    j + 1,
                    scratch.items[j].0
                ));
            }
        }
        // Duplicate items: check before interning providers, so a rejected record leaves
        // no trace in the provider universe.
        scratch.attempt += 1; // stamp 0 means "never"
        let t = scratch.attempt;
        let item_start = self.item.len();
        for (j, it) in scratch.items.iter().enumerate() {
            let id = self.items.intern(&it.0);
            let slot = id as usize;
            if slot >= scratch.stamp.len() {
                scratch.stamp.resize(slot + 1, 0);
            }
            if scratch.stamp[slot] == t {
                self.item.truncate(item_start);
                return Err(format!("item '{}' appears twice (candidate {})", it.0, j + 1));
            }
            scratch.stamp[slot] = t;
            self.item.push(id);
        }
        for (j, p) in scratch.providers.iter().enumerate() {
            let id = match p {
                Some(p) => self.providers.intern(&p.0),
                None => self.providers.intern(&scratch.items[j].0),
            };
            self.provider.push(id);
        }
        self.score.extend_from_slice(&scratch.scores);
        self.offsets.push(self.item.len() as i64);
        self.interval.push(interval.unwrap_or(MISSING_INTERVAL));
        self.ts.push(ts.unwrap_or(f64::NAN));
        self.kept.extend(scratch.kept.drain(..));
        self.kept_offsets.push(self.kept.len());
        Ok(())
    }

    pub fn n_requests(&self) -> usize {
        self.line.len()
    }

    /// Write one output line per record, in input order: the kept input fields, then
    /// `interval`, `rec_items`, `rec_providers`, `rec_scores` (the given, normalised
    /// scores), `dcg`, `idcg`, `ndcg`.
    pub fn write_results(
        &self,
        interval: &[i64],
        rec_score: &[f64],
        sel_offsets: &[i64],
        sel: &[i32],
        dcg: &[f64],
        idcg: &[f64],
    ) -> CoreResult<Vec<u8>> {
        let t = self.n_requests();
        if interval.len() != t || dcg.len() != t || idcg.len() != t || sel_offsets.len() != t + 1 || rec_score.len() != self.score.len() {
            return Err(CoreError::shape("result arrays do not match the parsed requests"));
        }
        if sel_offsets[0] != 0 || sel_offsets.windows(2).any(|w| w[1] < w[0]) || *sel_offsets.last().unwrap() as usize != sel.len() {
            return Err(CoreError::shape("sel_offsets must be non-decreasing from 0 to len(sel)"));
        }
        let mut out = Vec::with_capacity(t * 256);
        let mut fbuf = ryu::Buffer::new();
        let mut ibuf = itoa::Buffer::new();
        for r in 0..t {
            let base = self.offsets[r] as usize;
            let n = self.offsets[r + 1] as usize - base;
            let chosen = &sel[sel_offsets[r] as usize..sel_offsets[r + 1] as usize];
            if let Some(&bad) = chosen.iter().find(|&&j| j < 0 || j as usize >= n) {
                return Err(CoreError::shape(format!("selected position {bad} outside request {r}'s {n} candidates")));
            }
            out.push(b'{');
            for f in &self.kept[self.kept_offsets[r]..self.kept_offsets[r + 1]] {
                match &f.key {
                    KeyText::Raw(a, b) => {
                        out.push(b'"');
                        out.extend_from_slice(&self.buf[*a..*b]);
                        out.push(b'"');
                    }
                    KeyText::Owned(k) => serde_json::to_writer(&mut out, &**k).expect("writing to a Vec cannot fail"),
                }
                out.push(b':');
                out.extend_from_slice(&self.buf[f.value.0..f.value.1]);
                out.push(b',');
            }
            out.extend_from_slice(b"\"interval\":");
            out.extend_from_slice(ibuf.format(interval[r]).as_bytes());
            let names = |ids: &[i32], table: &Interner, out: &mut Vec<u8>| {
                out.push(b'[');
                for (i, &j) in chosen.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    serde_json::to_writer(&mut *out, &*table.names[ids[base + j as usize] as usize]).expect("Vec write");
                }
                out.push(b']');
            };
            out.extend_from_slice(b",\"rec_items\":");
            names(&self.item, &self.items, &mut out);
            out.extend_from_slice(b",\"rec_providers\":");
            names(&self.provider, &self.providers, &mut out);
            out.extend_from_slice(b",\"rec_scores\":[");
            for (i, &j) in chosen.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(fbuf.format(rec_score[base + j as usize]).as_bytes());
            }
            let nd = crate::metrics::ndcg(dcg[r], idcg[r]);
            for (name, v) in [("dcg", dcg[r]), ("idcg", idcg[r]), ("ndcg", nd)] {
                out.extend_from_slice(if name == "dcg" { b"],\"" } else { b",\"" });
                out.extend_from_slice(name.as_bytes());
                out.extend_from_slice(b"\":");
                out.extend_from_slice(fbuf.format(v).as_bytes());
            }
            out.extend_from_slice(b"}\n");
        }
        Ok(out)
    }
}

/// serde_json appends "at line 1 column N"; within one JSONL line the column is useful,
/// the line is not (we report the file's line ourselves).
fn strip_position(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    match msg.rfind(" at line ") {
        Some(i) => format!("{} (column {})", &msg[..i], e.column()),
        None => msg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> (RequestBatch, Vec<BadLine>) {
        RequestBatch::parse(s.as_bytes().to_vec(), 1, false, MissingProvider::Error, false)
    }

    #[test]
    fn parses_both_shapes_and_keeps_unknown_fields() {
        let input = concat!(
            r#"{"request_id":"r1","items":["a","b"],"scores":[0.5,2],"providers":["P","Q"],"extra":{"x":[1,2]}}"#,
            "\n\n",
            r#"{"candidates":[{"item":"b","score":1.0,"provider":"Q"}],"ts":86400,"u\u00e9":1}"#,
            "\n"
        );
        let (b, bad) = parse(input);
        assert!(bad.is_empty(), "{bad:?}");
        assert_eq!(b.line, vec![1, 3]);
        assert_eq!(b.offsets, vec![0, 2, 3]);
        assert_eq!(b.item, vec![0, 1, 1]);
        assert_eq!(b.provider, vec![0, 1, 1]);
        assert_eq!(b.score, vec![0.5, 2.0, 1.0]);
        assert_eq!(b.interval[0], MISSING_INTERVAL);
        assert_eq!(b.ts[1], 86400.0);
        let out = b.write_results(&[0, 1], &b.score, &[0, 1, 2], &[1, 0], &[2.0, 1.0], &[2.0, 1.0]).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            r#"{"request_id":"r1","extra":{"x":[1,2]},"interval":0,"rec_items":["b"],"rec_providers":["Q"],"rec_scores":[2.0],"dcg":2.0,"idcg":2.0,"ndcg":1.0}"#
        );
        assert!(lines[1].starts_with(r#"{"ts":86400,"ué":1,"interval":1,"#), "{}", lines[1]);
    }

    #[test]
    fn bad_records_name_their_line_and_leave_no_trace() {
        let input = "{\"items\":[\"a\",\"a\"],\"scores\":[1,2],\"providers\":[\"X\",\"Y\"]}\n{\"items\":[\"a\"],\"scores\":[1],\"providers\":[\"P\"]}\n{oops\n";
        let (b, bad) = parse(input);
        assert_eq!(bad.len(), 2);
        assert_eq!(bad[0].line, 1);
        assert!(bad[0].reason.contains("appears twice"), "{}", bad[0].reason);
        assert_eq!(bad[1].line, 3);
        assert!(bad[1].reason.starts_with("invalid JSON"), "{}", bad[1].reason);
        assert_eq!(b.n_requests(), 1);
        // providers X and Y of the rejected record never entered the universe
        assert_eq!(b.providers.names.iter().map(|s| &**s).collect::<Vec<_>>(), vec!["P"]);
    }

    #[test]
    fn shape_errors() {
        for (line, needle) in [
            (r#"{"items":["a"],"scores":[1,2],"providers":["P"]}"#, "1 items but 2 scores"),
            (r#"{"items":["a"],"scores":[1]}"#, "has no provider"),
            (r#"{"items":[1],"scores":[1],"providers":["P"]}"#, "list of strings"),
            (r#"[1,2]"#, "invalid JSON"),
            (r#"{"items":["a"],"scores":[1],"providers":["P"]} x"#, "trailing"),
            (r#"{"scores":[1]}"#, "missing 'items'"),
            (r#"{"items":["a"],"scores":[1],"providers":["P"],"interval":1.5}"#, "'interval' must be an integer"),
        ] {
            let (_, bad) = parse(line);
            assert_eq!(bad.len(), 1, "{line}");
            assert!(bad[0].reason.contains(needle), "{line}: {}", bad[0].reason);
        }
        let (b, bad) = RequestBatch::parse(br#"{"items":["a"],"scores":[1]}"#.to_vec(), 7, false, MissingProvider::Singleton, true);
        assert!(bad.is_empty());
        assert_eq!(b.line, vec![7]);
        assert_eq!(&*b.providers.names[0], "a");
    }
}
