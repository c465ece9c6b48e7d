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
use std::fmt;
use std::hash::BuildHasher;

use hashbrown::HashTable;
use rayon::prelude::*;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::fastpath;
use crate::error::{CoreError, CoreResult};

/// Maps strings to dense ids in order of first appearance.
///
/// Names live in one arena string (no allocation per name); the hash table stores only
/// ids and compares through the arena. Item catalogues reach millions of entries, where
/// per-name boxes and a weak hash dominated parsing time.
#[derive(Default, Debug)]
pub struct Interner {
    table: HashTable<u32>,
    hasher: foldhash::fast::FixedState,
    arena: String,
    ends: Vec<usize>,
    /// Names of at most 15 bytes, looked up by their packed bytes: provider ids repeat on
    /// every candidate, and comparing two words beats hashing the string and a `memcmp`
    /// through the arena.
    short: ShortTable,
}

/// Open addressing with linear probing, kept at most a quarter full so that a lookup
/// nearly always decides at its first slot (a general table's group probing cost twice
/// as much here, mostly in mispredicted branches).
#[derive(Debug, Default)]
struct ShortTable {
    slots: Vec<(ShortKey, u32)>,
    len: usize,
}

impl ShortTable {
    const EMPTY: u32 = u32::MAX;

    #[inline]
    fn start(&self, key: ShortKey) -> usize {
        (key.hash() >> (64 - self.slots.len().trailing_zeros())) as usize
    }

    #[inline]
    fn get(&self, key: ShortKey) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut i = self.start(key);
        loop {
            let (k, id) = self.slots[i];
            if id == Self::EMPTY {
                return None;
            }
            if k == key {
                return Some(id);
            }
            i = (i + 1) & mask;
        }
    }

    fn insert(&mut self, key: ShortKey, id: u32) {
        if (self.len + 1) * 4 > self.slots.len() {
            let size = (self.slots.len() * 2).max(64);
            let old = std::mem::replace(&mut self.slots, vec![(ShortKey(0, 0), Self::EMPTY); size]);
            self.len = 0;
            for (k, id) in old.into_iter().filter(|&(_, id)| id != Self::EMPTY) {
                self.insert(k, id);
            }
        }
        let mask = self.slots.len() - 1;
        let mut i = self.start(key);
        while self.slots[i].1 != Self::EMPTY {
            i = (i + 1) & mask;
        }
        self.slots[i] = (key, id);
        self.len += 1;
    }
}

/// A name of at most 15 bytes packed into two words, its length in the top byte (which
/// the bytes never reach), so equal keys mean equal names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ShortKey(u64, u64);

impl ShortKey {
    #[inline]
    fn of(s: &[u8]) -> Option<ShortKey> {
        let n = s.len();
        // Overlapping loads from both ends fill each word without a byte loop; bytes
        // loaded twice land on the same place, so OR-ing them is exact.
        let word = |s: &[u8]| -> u64 {
            let n = s.len();
            let le4 = |i: usize| u64::from(u32::from_le_bytes(s[i..i + 4].try_into().unwrap()));
            match n {
                0 => 0,
                1..=3 => {
                    u64::from(s[0])
                        | u64::from(s[n / 2]) << (8 * (n / 2))
                        | u64::from(s[n - 1]) << (8 * (n - 1))
                }
                4..=7 => le4(0) | le4(n - 4) << (8 * (n - 4)),
                _ => u64::from_le_bytes(s[..8].try_into().unwrap()),
            }
        };
        if n > 15 {
            return None;
        }
        let (lo, hi) = if n > 8 {
            (word(&s[..8]), word(&s[8..]))
        } else {
            (word(s), 0)
        };
        Some(ShortKey(lo, hi | ((n as u64) << 56)))
    }
    #[inline]
    fn hash(self) -> u64 {
        (self.0 ^ self.1.rotate_left(29)).wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }
}

impl Interner {
    #[inline]
    fn hash(&self, s: &str) -> u64 {
        self.hasher.hash_one(s)
    }

    pub fn name(&self, id: usize) -> &str {
        let start = if id == 0 { 0 } else { self.ends[id - 1] };
        &self.arena[start..self.ends[id]]
    }

    #[inline]
    pub fn intern(&mut self, s: &str) -> i32 {
        let Some(key) = ShortKey::of(s.as_bytes()) else {
            return self.intern_hashed(s);
        };
        if let Some(id) = self.short.get(key) {
            return id as i32;
        }
        let id = self.intern_hashed(s);
        self.short.insert(key, id as u32);
        id
    }

    fn intern_hashed(&mut self, s: &str) -> i32 {
        let hash = self.hash(s);
        let (arena, ends) = (&self.arena, &self.ends);
        let name = |id: u32| {
            let id = id as usize;
            let start = if id == 0 { 0 } else { ends[id - 1] };
            &arena[start..ends[id]]
        };
        if let Some(&id) = self.table.find(hash, |&id| name(id) == s) {
            return id as i32;
        }
        let id = self.ends.len() as u32;
        self.arena.push_str(s);
        self.ends.push(self.arena.len());
        let (arena, ends, hasher) = (&self.arena, &self.ends, &self.hasher);
        self.table.insert_unique(hash, id, |&other| {
            let other = other as usize;
            let start = if other == 0 { 0 } else { ends[other - 1] };
            hasher.hash_one(&arena[start..ends[other]])
        });
        id as i32
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        (0..self.len()).map(|i| self.name(i))
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
const OUTPUT_FIELDS: [&str; 7] = [
    "interval",
    "rec_items",
    "rec_providers",
    "rec_scores",
    "dcg",
    "idcg",
    "ndcg",
];
const CANDIDATE_FIELDS: [&str; 4] = ["items", "scores", "providers", "candidates"];

/// Where a candidate's item string is: raw bytes of the input (no escapes), or unescaped
/// in `owned_items`. Items are not interned while parsing: catalogues reach millions of
/// ids and a global table lookup per candidate dominated the parse; `item_ids` interns on
/// demand for the methods that need global item ids.
///
/// Packed into 8 bytes (one per candidate, so memory traffic matters): the top bit marks
/// an index into `owned_items`; otherwise 40 bits of start offset and 23 bits of length.
#[derive(Debug, Clone, Copy)]
struct TextRef(u64);

const OWNED_BIT: u64 = 1 << 63;
const LEN_BITS: u32 = 23;

enum Text {
    Raw { start: usize, len: usize },
    Owned(usize),
}

impl TextRef {
    /// None when the span does not fit (a > 1 TiB input or an 8 MiB item id): the caller
    /// then stores the string as owned.
    #[inline]
    fn raw(start: usize, len: usize) -> Option<TextRef> {
        if (start as u64) < (1 << 40) && (len as u64) < (1 << LEN_BITS) {
            Some(TextRef(((start as u64) << LEN_BITS) | len as u64))
        } else {
            None
        }
    }
    #[inline]
    fn owned(index: usize) -> TextRef {
        TextRef(OWNED_BIT | index as u64)
    }
    #[inline]
    fn get(self) -> Text {
        if self.0 & OWNED_BIT != 0 {
            Text::Owned((self.0 & !OWNED_BIT) as usize)
        } else {
            Text::Raw {
                start: (self.0 >> LEN_BITS) as usize,
                len: (self.0 & ((1 << LEN_BITS) - 1)) as usize,
            }
        }
    }
}

/// Finds a repeated string in a list; the table is reused across requests.
#[derive(Default)]
struct DuplicateFinder {
    /// (hash, generation, position); a slot is empty unless its generation is current
    slots: Vec<(u64, u32, u32)>,
    /// The same for lists of short strings, keyed by their packed bytes (no string hash,
    /// no `memcmp`): item ids are usually short.
    short_slots: Vec<(ShortKey, u32)>,
    generation: u32,
}

impl DuplicateFinder {
    /// `first_duplicate` for strings given as input spans, all at most 15 bytes; None
    /// when one is longer (the caller then uses the general search).
    fn first_duplicate_short(
        &mut self,
        spans: &[(usize, usize)],
        text: &[u8],
        base: usize,
    ) -> Option<Option<usize>> {
        let n = spans.len();
        let want = (n * 2).next_power_of_two().max(16);
        if self.short_slots.len() < want || self.generation == u32::MAX {
            self.short_slots = vec![(ShortKey(0, 0), 0); want];
            self.slots.clear();
            self.generation = 0;
        }
        self.generation += 1;
        let shift = 64 - self.short_slots.len().trailing_zeros();
        let mask = self.short_slots.len() - 1;
        for (j, &(start, len)) in spans.iter().enumerate() {
            let key = ShortKey::of(&text[start - base..start - base + len])?;
            let mut i = (key.hash() >> shift) as usize;
            loop {
                let (k, g) = self.short_slots[i];
                if g != self.generation {
                    self.short_slots[i] = (key, self.generation);
                    break;
                }
                if k == key {
                    return Some(Some(j));
                }
                i = (i + 1) & mask;
            }
        }
        Some(None)
    }

    /// Position of the first candidate whose item already appeared earlier, if any.
    fn first_duplicate<'s>(
        &mut self,
        n: usize,
        item: impl Fn(usize) -> &'s str,
        hasher: &foldhash::fast::FixedState,
    ) -> Option<usize> {
        let want = (n * 2).next_power_of_two().max(16);
        if self.slots.len() < want || self.generation == u32::MAX {
            self.slots = vec![(0, 0, 0); want];
            self.short_slots.clear();
            self.generation = 0;
        }
        self.generation += 1;
        let mask = self.slots.len() - 1;
        for j in 0..n {
            let text = item(j);
            let h = hasher.hash_one(text);
            let mut i = h as usize & mask;
            loop {
                let (sh, sg, sp) = self.slots[i];
                if sg != self.generation {
                    self.slots[i] = (h, self.generation, j as u32);
                    break;
                }
                if sh == h && item(sp as usize) == text {
                    return Some(j);
                }
                i = (i + 1) & mask;
            }
        }
        None
    }
}

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
    buf: InputBytes,
    /// Number the line after the parsed input would have (for numbering the next block).
    pub next_line: u64,
    /// 1-based input line of each record.
    pub line: Vec<u64>,
    pub offsets: Vec<i64>,
    /// Each candidate's item id string, as a span of the input (or an unescaped copy).
    item_text: Vec<TextRef>,
    /// Item strings that had JSON escapes, unescaped.
    owned_items: Vec<String>,
    pub score: Vec<f64>,
    pub provider: Vec<i32>,
    /// `i64::MIN` where the record has no `interval`.
    pub interval: Vec<i64>,
    /// NaN where the record has no `ts`.
    pub ts: Vec<f64>,
    pub providers: Interner,
    kept: Vec<KeptField>,
    kept_offsets: Vec<usize>,
    hasher: foldhash::fast::FixedState,
}

/// The input a batch was parsed from: any owned, immutable byte buffer (a `Vec<u8>`, or
/// in the bindings a Python `bytes` object, kept alive instead of copied).
pub struct InputBytes(Box<dyn AsRef<[u8]> + Send + Sync>);

impl Default for InputBytes {
    fn default() -> Self {
        InputBytes(Box::new(Vec::new()))
    }
}

impl std::fmt::Debug for InputBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InputBytes({} bytes)", self.bytes().len())
    }
}

impl InputBytes {
    pub fn new(bytes: impl AsRef<[u8]> + Send + Sync + 'static) -> Self {
        InputBytes(Box::new(bytes))
    }
    #[inline]
    fn bytes(&self) -> &[u8] {
        (*self.0).as_ref()
    }
}

impl std::ops::Index<std::ops::Range<usize>> for InputBytes {
    type Output = [u8];
    #[inline]
    fn index(&self, r: std::ops::Range<usize>) -> &[u8] {
        &self.bytes()[r]
    }
}

/// What a method chose, in input order, for `RequestBatch::write_results`.
#[derive(Clone, Copy)]
pub struct ListResults<'a> {
    pub interval: &'a [i64],
    /// Normalised score of every candidate (what `rec_scores` shows).
    pub rec_score: &'a [f64],
    pub sel_offsets: &'a [i64],
    /// Candidate positions within each request, display order.
    pub sel: &'a [i32],
    pub dcg: &'a [f64],
    pub idcg: &'a [f64],
}

/// A record that could not be parsed: 1-based line and reason.
#[derive(Debug, Clone, PartialEq)]
pub struct BadLine {
    pub line: u64,
    pub reason: String,
}

pub const MISSING_INTERVAL: i64 = i64::MIN;
/// Explicit intervals are bounded so that they can never collide with the sentinel.
pub const MAX_INTERVAL: u64 = 1 << 53;

struct Scratch<'a> {
    items: Vec<JsonStr<'a>>,
    providers: Vec<Option<JsonStr<'a>>>,
    scores: Vec<f64>,
    kept: Vec<KeptField>,
    dups: DuplicateFinder,
    fast: fastpath::FastRecord,
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
                Cow::Borrowed(k) => {
                    KeyText::Raw(offset_in(self.buf, k), offset_in(self.buf, k) + k.len())
                }
                Cow::Owned(k) => KeyText::Owned(k.as_str().into()),
            };
            let name: &str = &key.0;
            let raw: &'de RawValue = map.next_value()?;
            let text = raw.get();
            let span = (
                offset_in(self.buf, text),
                offset_in(self.buf, text) + text.len(),
            );
            let candidate_field = CANDIDATE_FIELDS.iter().position(|f| *f == name);
            if let Some(i) = candidate_field {
                if std::mem::replace(&mut self.saw[i], true) {
                    return Err(de_err(format!("duplicate field '{name}'")));
                }
                match i {
                    0 => parse_into(text, &mut self.scratch.items)
                        .map_err(|e| de_err(format!("'items' must be a list of strings ({e})")))?,
                    1 => parse_into(text, &mut self.scratch.scores)
                        .map_err(|e| de_err(format!("'scores' must be a list of numbers ({e})")))?,
                    2 => {
                        let v: Vec<JsonStr> = serde_json::from_str(text).map_err(|e| {
                            de_err(format!("'providers' must be a list of strings ({e})"))
                        })?;
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
                    self.scratch.kept.push(KeptField {
                        key: key_text,
                        value: span,
                    });
                }
                continue;
            }
            match name {
                "interval" => {
                    let v: i64 = serde_json::from_str(text)
                        .ok()
                        .filter(|v: &i64| v.unsigned_abs() <= MAX_INTERVAL)
                        .ok_or_else(|| {
                            de_err(format!(
                                "'interval' must be an integer within ±2^53, got {text}"
                            ))
                        })?;
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
                self.scratch.kept.push(KeptField {
                    key: key_text,
                    value: span,
                });
            }
        }
        Ok(self)
    }
}

/// Deserialize a JSON array into `out`, reusing its allocation across records.
fn parse_into<'a, T: Deserialize<'a>>(
    text: &'a str,
    out: &mut Vec<T>,
) -> Result<(), serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    Vec::<T>::deserialize_in_place(&mut de, out)?;
    de.end()
}

/// Split `buf` into about `n` ranges of whole lines.
pub(crate) fn line_chunks(buf: &[u8], n: usize) -> Vec<std::ops::Range<usize>> {
    let target = (buf.len() / n.max(1)).max(1 << 16);
    let mut chunks = Vec::new();
    let mut start = 0usize;
    while start < buf.len() {
        let mut end = (start + target).min(buf.len());
        if end < buf.len() {
            end = memchr::memchr(b'\n', &buf[end..]).map_or(buf.len(), |i| end + i + 1);
        }
        chunks.push(start..end);
        start = end;
    }
    chunks
}

/// Trim the JSON whitespace around a line (and a Windows `\r`).
fn trim(line: &[u8]) -> &[u8] {
    let is_ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let start = line.iter().position(|b| !is_ws(b)).unwrap_or(line.len());
    let end = line
        .iter()
        .rposition(|b| !is_ws(b))
        .map_or(start, |e| e + 1);
    &line[start..end]
}

impl RequestBatch {
    /// Parse `buf` (whole JSONL lines) whose first line is numbered `first_line`.
    ///
    /// Blank lines are not records and are ignored. A bad record is reported in the
    /// returned list; with `stop_at_first` parsing stops there (the error is the last
    /// entry), otherwise it continues and the bad record contributes nothing.
    pub fn parse(
        input: impl AsRef<[u8]> + Send + Sync + 'static,
        first_line: u64,
        keep_candidates: bool,
        missing_provider: MissingProvider,
        stop_at_first: bool,
    ) -> (RequestBatch, Vec<BadLine>) {
        let input = InputBytes::new(input);
        let buf = input.bytes();
        // Lines are independent, so chunks of lines parse in parallel (spans stay offsets
        // into the one shared buffer); the chunks are then merged in order, which keeps
        // ids in order of first appearance and the result independent of thread count.
        // Each chunk numbers its lines from 0 and counts its newlines; the merge shifts
        // them (counting every chunk's lines up front was a pass of its own). Several
        // chunks per thread: when the block reader or the system takes a core for a
        // while, the other threads take over its chunks instead of waiting.
        let parts: Vec<(RequestBatch, Vec<BadLine>, u64)> =
            line_chunks(buf, 4 * rayon::current_num_threads())
                .into_par_iter()
                .map(|range| {
                    // The first chunk's arrays receive every later chunk: room for the
                    // whole buffer saves regrowing (and re-copying) them in the merge.
                    let room = if range.start == 0 {
                        buf.len()
                    } else {
                        range.len()
                    };
                    Self::parse_range(
                        buf,
                        range,
                        0,
                        room,
                        keep_candidates,
                        missing_provider,
                        stop_at_first,
                    )
                })
                .collect();
        let mut parts = parts.into_iter();
        // The first chunk becomes the batch (moved, not copied); later ones are appended.
        let (mut batch, mut bad, mut line) = parts.next().unwrap_or_else(|| {
            (
                RequestBatch {
                    offsets: vec![0],
                    kept_offsets: vec![0],
                    ..Default::default()
                },
                Vec::new(),
                0,
            )
        });
        batch.line.iter_mut().for_each(|l| *l += first_line);
        bad.iter_mut().for_each(|b| b.line += first_line);
        line += first_line;
        let stopped = stop_at_first && !bad.is_empty();
        for (part, mut part_bad, newlines) in parts.take_while(|_| !stopped) {
            let stop = stop_at_first && !part_bad.is_empty();
            batch.append(part, line);
            part_bad.iter_mut().for_each(|b| b.line += line);
            bad.extend(part_bad);
            line += newlines;
            if stop {
                break;
            }
        }
        batch.next_line = line + u64::from(!buf.is_empty() && !buf.ends_with(b"\n"));
        batch.buf = input;
        (batch, bad)
    }

    /// Parse the lines of `buf[range]`, the first of which is numbered `first_line`; also
    /// returns the number of newlines read (all of the range's unless parsing stopped).
    /// The arrays get room for `room` bytes of records like the first.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn parse_range(
        buf: &[u8],
        range: std::ops::Range<usize>,
        first_line: u64,
        room: usize,
        keep_candidates: bool,
        missing_provider: MissingProvider,
        stop_at_first: bool,
    ) -> (RequestBatch, Vec<BadLine>, u64) {
        let mut batch = RequestBatch {
            offsets: vec![0],
            kept_offsets: vec![0],
            ..Default::default()
        };
        let mut bad = Vec::new();
        let mut scratch = Scratch {
            items: Vec::new(),
            providers: Vec::new(),
            scores: Vec::new(),
            kept: Vec::new(),
            dups: DuplicateFinder::default(),
            fast: Default::default(),
        };
        let mut line_no = first_line;
        let data = &buf[range.clone()];
        let mut start = 0;
        let mut newlines = 0;
        // memchr finds newlines a word at a time; a byte loop was a visible share of parsing.
        let ends = memchr::memchr_iter(b'\n', data).chain(std::iter::once(data.len()));
        for end in ends {
            if start > data.len() {
                break;
            }
            newlines += u64::from(end < data.len());
            let raw_line = &data[start..end];
            start = end + 1;
            let this_line = line_no;
            line_no += 1;
            let line = trim(raw_line);
            if line.is_empty() {
                continue;
            }
            let parsed =
                batch.parse_one(buf, line, keep_candidates, missing_provider, &mut scratch);
            if batch.line.is_empty() && parsed.is_ok() {
                batch.reserve_like_first(line.len(), room.saturating_sub(start));
            }
            if let Err(reason) = parsed {
                bad.push(BadLine {
                    line: this_line,
                    reason,
                });
                if stop_at_first {
                    break;
                }
                continue;
            }
            batch.line.push(this_line);
        }
        (batch, bad, newlines)
    }

    /// Reserve room for `rest` more bytes of lines shaped like the first record (`line_len`
    /// bytes): growing the per-candidate arrays by doubling copied each of them about once
    /// more and touched fresh pages for every copy. Over-reserved room is never touched.
    fn reserve_like_first(&mut self, line_len: usize, rest: usize) {
        let lines = rest / line_len.max(1) + rest / line_len.max(1) / 16 + 1;
        let candidates = lines * self.item_text.len();
        self.item_text.reserve(candidates);
        self.score.reserve(candidates);
        self.provider.reserve(candidates);
        self.line.reserve(lines);
        self.offsets.reserve(lines);
        self.interval.reserve(lines);
        self.ts.reserve(lines);
        self.kept.reserve(lines * self.kept.len());
        self.kept_offsets.reserve(lines);
    }

    /// Append a later chunk's records (parsed from the same buffer), whose lines are
    /// numbered from `first_line`.
    fn append(&mut self, part: RequestBatch, first_line: u64) {
        let provider_map: Vec<i32> = part
            .providers
            .names()
            .map(|name| self.providers.intern(name))
            .collect();
        let item_base = self.item_text.len() as i64;
        let owned_base = self.owned_items.len();
        let kept_base = self.kept.len();
        self.line.extend(part.line.iter().map(|l| l + first_line));
        self.offsets
            .extend(part.offsets[1..].iter().map(|o| o + item_base));
        self.item_text
            .extend(part.item_text.into_iter().map(|t| match t.get() {
                Text::Owned(i) => TextRef::owned(i + owned_base),
                Text::Raw { .. } => t,
            }));
        self.owned_items.extend(part.owned_items);
        self.score.extend(part.score);
        self.provider
            .extend(part.provider.into_iter().map(|p| provider_map[p as usize]));
        self.interval.extend(part.interval);
        self.ts.extend(part.ts);
        self.kept.extend(part.kept);
        self.kept_offsets
            .extend(part.kept_offsets[1..].iter().map(|o| o + kept_base));
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
        let base = offset_in(buf, text);
        let fast = !keep_candidates
            && fastpath::scan(line, base, &OUTPUT_FIELDS, &mut scratch.fast).is_some();
        if fast
            && self.push_fast(
                text,
                base,
                &scratch.fast,
                &mut scratch.dups,
                missing_provider,
            )
        {
            return Ok(());
        }
        // Not the plain shape, or something to report: the general path decides and words it.
        let (interval, ts, saw) = if fast {
            let f = &scratch.fast;
            // Spans lie inside `text`, which is valid UTF-8, and start/end at ASCII quotes.
            let at = |(start, len): (usize, usize)| {
                JsonStr(Cow::Borrowed(&text[start - base..start - base + len]))
            };
            scratch.items.extend(f.items.iter().map(|&span| at(span)));
            scratch.scores.extend_from_slice(&f.scores);
            scratch
                .providers
                .extend(f.providers.iter().map(|&span| Some(at(span))));
            scratch.kept.extend(f.kept.iter().map(|k| KeptField {
                key: KeyText::Raw(k.key.0, k.key.0 + k.key.1),
                value: (k.value.0, k.value.0 + k.value.1),
            }));
            (
                f.interval,
                f.ts,
                [f.has_items, f.has_scores, f.has_providers, false],
            )
        } else {
            let mut de = serde_json::Deserializer::from_str(text);
            let top = TopLevel {
                buf,
                scratch,
                keep_candidates,
                interval: None,
                ts: None,
                saw: [false; 4],
            };
            let top = de.deserialize_map(top).map_err(|e| match e.classify() {
                // a wrong type or a bad field value is not a JSON syntax error
                serde_json::error::Category::Data => strip_position(&e),
                _ => format!("invalid JSON: {}", strip_position(&e)),
            })?;
            de.end()
                .map_err(|_| "invalid JSON: trailing characters after the object".to_string())?;
            (top.interval, top.ts, top.saw)
        };
        let has_arrays = saw[0] || saw[1] || saw[2];
        if saw[3] && has_arrays {
            return Err(
                "give either 'candidates' or 'items'/'scores'/'providers', not both".into(),
            );
        }
        if !(saw[3] || saw[0] && saw[1]) {
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
            return Err(format!(
                "{} items but {} providers",
                n,
                scratch.providers.len()
            ));
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
        // Duplicate items: a small open-addressing table, reset per request by bumping a
        // generation stamp. Checked before interning providers, so a rejected record leaves
        // no trace in the provider universe.
        let items = &scratch.items;
        if let Some(j) = scratch
            .dups
            .first_duplicate(items.len(), |j| &*items[j].0, &self.hasher)
        {
            return Err(format!(
                "item '{}' appears twice (candidate {})",
                scratch.items[j].0,
                j + 1
            ));
        }
        for it in &scratch.items {
            let raw = match &it.0 {
                Cow::Borrowed(t) => TextRef::raw(offset_in(buf, t), t.len()),
                Cow::Owned(_) => None,
            };
            let text = raw.unwrap_or_else(|| {
                self.owned_items.push(it.0.to_string());
                TextRef::owned(self.owned_items.len() - 1)
            });
            self.item_text.push(text);
        }
        for (j, p) in scratch.providers.iter().enumerate() {
            let id = match p {
                Some(p) => self.providers.intern(&p.0),
                None => self.providers.intern(&scratch.items[j].0),
            };
            self.provider.push(id);
        }
        self.score.extend_from_slice(&scratch.scores);
        self.offsets.push(self.item_text.len() as i64);
        self.interval.push(interval.unwrap_or(MISSING_INTERVAL));
        self.ts.push(ts.unwrap_or(f64::NAN));
        self.kept.append(&mut scratch.kept);
        self.kept_offsets.push(self.kept.len());
        Ok(())
    }

    /// Append a record the fast scanner read, if it is valid; false = let the general path
    /// handle it (and word the error). Same rules and results as the general path.
    fn push_fast(
        &mut self,
        text: &str,
        base: usize,
        f: &fastpath::FastRecord,
        dups: &mut DuplicateFinder,
        missing_provider: MissingProvider,
    ) -> bool {
        let n = f.items.len();
        if !(f.has_items && f.has_scores) || f.scores.len() != n {
            return false;
        }
        if f.has_providers && f.providers.len() != n {
            return false;
        }
        if !f.has_providers && n > 0 && missing_provider == MissingProvider::Error {
            return false;
        }
        let at = |(start, len): (usize, usize)| &text[start - base..start - base + len];
        if dups
            .first_duplicate_short(&f.items, text.as_bytes(), base)
            .unwrap_or_else(|| dups.first_duplicate(n, |j| at(f.items[j]), &self.hasher))
            .is_some()
        {
            return false;
        }
        for &(start, len) in &f.items {
            let text = TextRef::raw(start, len).unwrap_or_else(|| {
                self.owned_items
                    .push(text[start - base..start - base + len].to_string());
                TextRef::owned(self.owned_items.len() - 1)
            });
            self.item_text.push(text);
        }
        if f.has_providers {
            for &span in &f.providers {
                let id = self.providers.intern(at(span));
                self.provider.push(id);
            }
        } else {
            for &span in &f.items {
                let id = self.providers.intern(at(span));
                self.provider.push(id);
            }
        }
        self.score.extend_from_slice(&f.scores);
        self.offsets.push(self.item_text.len() as i64);
        self.interval.push(f.interval.unwrap_or(MISSING_INTERVAL));
        self.ts.push(f.ts.unwrap_or(f64::NAN));
        self.kept.extend(f.kept.iter().map(|k| KeptField {
            key: KeyText::Raw(k.key.0, k.key.0 + k.key.1),
            value: (k.value.0, k.value.0 + k.value.1),
        }));
        self.kept_offsets.push(self.kept.len());
        true
    }

    pub fn n_requests(&self) -> usize {
        self.line.len()
    }

    /// The item string of candidate `j` (flat index).
    pub fn item(&self, j: usize) -> &str {
        match self.item_text[j].get() {
            // Raw spans were validated as UTF-8 text without escapes when parsed.
            Text::Raw { start, len } => {
                std::str::from_utf8(&self.buf[start..start + len]).unwrap_or("")
            }
            Text::Owned(i) => &self.owned_items[i],
        }
    }

    /// Dense item ids (order of first appearance) for every candidate, and the id table.
    pub fn item_ids(&self) -> (Vec<i32>, Interner) {
        let mut table = Interner::default();
        let ids = (0..self.item_text.len())
            .map(|j| table.intern(self.item(j)))
            .collect();
        (ids, table)
    }

    /// Write candidate `j`'s item as a JSON string (`buf` is `self.buf`'s bytes).
    #[inline]
    fn write_item(&self, buf: &[u8], j: usize, out: &mut Vec<u8>) {
        match self.item_text[j].get() {
            // a raw span sits between its quotes in the input: copy them along
            Text::Raw { start, len } => put(out, &buf[start - 1..start + len + 1]),
            Text::Owned(i) => serde_json::to_writer(&mut *out, &self.owned_items[i])
                .expect("writing to a Vec cannot fail"),
        }
    }

    /// Write one output line per record, in input order: the kept input fields, then
    /// `interval`, `rec_items`, `rec_providers`, `rec_scores` (the given, normalised
    /// scores), `dcg`, `idcg`, `ndcg`.
    pub fn write_results(&self, lists: &ListResults) -> CoreResult<Vec<u8>> {
        Ok(self.write_results_parts(lists)?.concat())
    }

    /// `write_results` as consecutive pieces, for a caller that copies them into its own
    /// buffer anyway (one copy of the output instead of two).
    pub fn write_results_parts(&self, lists: &ListResults) -> CoreResult<Vec<Vec<u8>>> {
        let ListResults {
            interval,
            rec_score,
            sel_offsets,
            sel,
            dcg,
            idcg,
        } = *lists;
        let t = self.n_requests();
        if interval.len() != t
            || dcg.len() != t
            || idcg.len() != t
            || sel_offsets.len() != t + 1
            || rec_score.len() != self.score.len()
        {
            return Err(CoreError::shape(
                "result arrays do not match the parsed requests",
            ));
        }
        if sel_offsets[0] != 0
            || sel_offsets.windows(2).any(|w| w[1] < w[0])
            || *sel_offsets.last().unwrap() as usize != sel.len()
        {
            return Err(CoreError::shape(
                "sel_offsets must be non-decreasing from 0 to len(sel)",
            ));
        }
        let names = ProviderJson::of(&self.providers);
        let buf = self.buf.bytes();
        // Records are independent: write ranges of them in parallel and concatenate in order.
        let per_chunk = (t / (4 * rayon::current_num_threads()).max(1)).max(1024);
        let starts: Vec<usize> = (0..t).step_by(per_chunk).collect();
        starts
            .into_par_iter()
            .map(|start| self.write_range(buf, start..(start + per_chunk).min(t), lists, &names))
            .collect()
    }

    /// Start loading the input bytes that writing record `r` will copy.
    #[inline]
    fn prefetch_record(&self, buf: &[u8], r: usize, sel: &[i32], sel_offsets: &[i64]) {
        if let Some(f) = self.kept.get(self.kept_offsets[r]) {
            prefetch(buf, f.value.0);
        }
        let base = self.offsets[r] as usize;
        let (from, to) = (sel_offsets[r] as usize, sel_offsets[r + 1] as usize);
        for &j in sel.get(from..to).unwrap_or_default() {
            if let Some(Text::Raw { start, .. }) =
                self.item_text.get(base + j as usize).map(|t| t.get())
            {
                prefetch(buf, start);
            }
        }
    }

    /// Write records `range` (no shape checks: `write_results_parts` makes them). `buf`
    /// is the input the batch was parsed from: this batch's own, or for a batch parsed by
    /// `parse_range` the caller's buffer.
    pub(crate) fn write_range(
        &self,
        buf: &[u8],
        range: std::ops::Range<usize>,
        lists: &ListResults,
        names: &ProviderJson,
    ) -> CoreResult<Vec<u8>> {
        let ListResults {
            interval,
            rec_score,
            sel_offsets,
            sel,
            dcg,
            idcg,
        } = *lists;
        let mut out = Vec::with_capacity(range.len() * 256);
        let mut fbuf = ryu::Buffer::new();
        let mut ibuf = itoa::Buffer::new();
        let end = range.end;
        for r in range {
            // The bytes copied from the input (kept fields, item ids) lie scattered over
            // lines parsed long ago, out of cache; waiting on them was most of the
            // writer's time. Ask for a later record's bytes while this one is written.
            if r + PREFETCH_AHEAD < end {
                self.prefetch_record(buf, r + PREFETCH_AHEAD, sel, sel_offsets);
            }
            let base = self.offsets[r] as usize;
            let n = self.offsets[r + 1] as usize - base;
            let chosen = &sel[sel_offsets[r] as usize..sel_offsets[r + 1] as usize];
            if let Some(&bad) = chosen.iter().find(|&&j| j < 0 || j as usize >= n) {
                return Err(CoreError::shape(format!(
                    "selected position {bad} outside request {r}'s {n} candidates"
                )));
            }
            out.push(b'{');
            for f in &self.kept[self.kept_offsets[r]..self.kept_offsets[r + 1]] {
                match &f.key {
                    // compact input (`"key":value`): the whole field is one span
                    KeyText::Raw(a, b) if f.value.0 == b + 2 && buf[*b + 1] == b':' => {
                        put(&mut out, &buf[a - 1..f.value.1]);
                        out.push(b',');
                        continue;
                    }
                    KeyText::Raw(a, b) => put(&mut out, &buf[a - 1..b + 1]),
                    KeyText::Owned(k) => {
                        serde_json::to_writer(&mut out, &**k).expect("writing to a Vec cannot fail")
                    }
                }
                out.push(b':');
                put(&mut out, &buf[f.value.0..f.value.1]);
                out.push(b',');
            }
            out.extend_from_slice(b"\"interval\":");
            out.extend_from_slice(ibuf.format(interval[r]).as_bytes());
            out.extend_from_slice(b",\"rec_items\":[");
            for (i, &j) in chosen.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                self.write_item(buf, base + j as usize, &mut out);
            }
            out.extend_from_slice(b"],\"rec_providers\":[");
            for (i, &j) in chosen.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                put(
                    &mut out,
                    names.get(self.provider[base + j as usize] as usize),
                );
            }
            out.push(b']');
            out.extend_from_slice(b",\"rec_scores\":[");
            for (i, &j) in chosen.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                put(
                    &mut out,
                    fbuf.format(rec_score[base + j as usize]).as_bytes(),
                );
            }
            let nd = crate::metrics::ndcg(dcg[r], idcg[r]);
            if !(dcg[r].is_finite() && idcg[r].is_finite() && nd.is_finite()) {
                return Err(CoreError::record(
                    self.line[r],
                    "the list's DCG is not a finite number (scores too large for --normalize none? use minmax or sigmoid)",
                ));
            }
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

/// Provider names as JSON strings, encoded once rather than once per slot.
pub(crate) struct ProviderJson {
    text: Vec<u8>,
    ends: Vec<usize>,
}

impl ProviderJson {
    pub(crate) fn of(providers: &Interner) -> ProviderJson {
        let mut text = Vec::new();
        let mut ends = Vec::with_capacity(providers.len());
        for name in providers.names() {
            serde_json::to_writer(&mut text, name).expect("writing to a Vec cannot fail");
            ends.push(text.len());
        }
        ProviderJson { text, ends }
    }

    #[inline]
    fn get(&self, p: usize) -> &[u8] {
        &self.text[if p == 0 { 0 } else { self.ends[p - 1] }..self.ends[p]]
    }
}

/// How many records ahead the writer prefetches input bytes (see `write_range`).
const PREFETCH_AHEAD: usize = 4;

/// A hint to load `buf[at]` into cache; it never faults, and does nothing off x86-64.
#[inline(always)]
fn prefetch(buf: &[u8], at: usize) {
    #[cfg(target_arch = "x86_64")]
    if at < buf.len() {
        // SAFETY: a prefetch reads nothing architecturally; the address is in `buf`.
        #[allow(unused_unsafe)]
        unsafe {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            _mm_prefetch::<_MM_HINT_T0>(buf.as_ptr().add(at).cast());
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (buf, at);
}

/// Append `s` to `out`. Output is built from many short pieces (ids, numbers); for up to
/// 16 bytes two overlapping word copies replace a `memcpy` call, which was a quarter of
/// the writer's time.
#[inline(always)]
fn put(out: &mut Vec<u8>, s: &[u8]) {
    let n = s.len();
    if !(4..=16).contains(&n) {
        out.extend_from_slice(s);
        return;
    }
    out.reserve(n);
    let len = out.len();
    // SAFETY: `reserve` made room for n more bytes at `len`; with a word of w ≤ n bytes
    // both copies lie in dst[0..n] (they overlap when n < 2w) and read only s[0..n].
    unsafe {
        let dst = out.as_mut_ptr().add(len);
        if n >= 8 {
            copy_both_ends::<u64>(s, dst);
        } else {
            copy_both_ends::<u32>(s, dst);
        }
        out.set_len(len + n);
    }
}

/// Copy the first and the last word of `s` (a word `T` no longer than `s`) to `dst`.
///
/// # Safety
/// `dst` must be valid for `s.len()` bytes of writes.
#[inline(always)]
unsafe fn copy_both_ends<T: Copy>(s: &[u8], dst: *mut u8) {
    let (src, tail) = (s.as_ptr(), s.len() - std::mem::size_of::<T>());
    std::ptr::write_unaligned(dst.cast::<T>(), std::ptr::read_unaligned(src.cast::<T>()));
    std::ptr::write_unaligned(
        dst.add(tail).cast::<T>(),
        std::ptr::read_unaligned(src.add(tail).cast::<T>()),
    );
}

/// serde_json appends "at line 1 column N"; within one JSONL line the column is useful,
/// the line is not (we report the file's line ourselves).
fn strip_position(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    match msg.rfind(" at line ") {
        Some(i) if e.column() > 0 => format!("{} (column {})", &msg[..i], e.column()),
        Some(i) => msg[..i].to_string(),
        None => msg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(s: &str) -> (RequestBatch, Vec<BadLine>) {
        RequestBatch::parse(
            s.as_bytes().to_vec(),
            1,
            false,
            MissingProvider::Error,
            false,
        )
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
        assert_eq!(b.next_line, 4);
        assert_eq!(
            RequestBatch::parse(
                b"{}\n\n{}".to_vec(),
                5,
                false,
                MissingProvider::Error,
                false
            )
            .0
            .next_line,
            8
        );
        assert_eq!(b.offsets, vec![0, 2, 3]);
        assert_eq!(b.item_ids().0, vec![0, 1, 1]);
        assert_eq!(b.item(2), "b");
        assert_eq!(b.provider, vec![0, 1, 1]);
        assert_eq!(b.score, vec![0.5, 2.0, 1.0]);
        assert_eq!(b.interval[0], MISSING_INTERVAL);
        assert_eq!(b.ts[1], 86400.0);
        let out = b
            .write_results(&ListResults {
                interval: &[0, 1],
                rec_score: &b.score,
                sel_offsets: &[0, 1, 2],
                sel: &[1, 0],
                dcg: &[2.0, 1.0],
                idcg: &[2.0, 1.0],
            })
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            r#"{"request_id":"r1","extra":{"x":[1,2]},"interval":0,"rec_items":["b"],"rec_providers":["Q"],"rec_scores":[2.0],"dcg":2.0,"idcg":2.0,"ndcg":1.0}"#
        );
        assert!(
            lines[1].starts_with(r#"{"ts":86400,"ué":1,"interval":1,"#),
            "{}",
            lines[1]
        );
    }

    #[test]
    fn bad_records_name_their_line_and_leave_no_trace() {
        let input = "{\"items\":[\"a\",\"a\"],\"scores\":[1,2],\"providers\":[\"X\",\"Y\"]}\n{\"items\":[\"a\"],\"scores\":[1],\"providers\":[\"P\"]}\n{oops\n";
        let (b, bad) = parse(input);
        assert_eq!(bad.len(), 2);
        assert_eq!(bad[0].line, 1);
        assert!(bad[0].reason.contains("appears twice"), "{}", bad[0].reason);
        assert_eq!(bad[1].line, 3);
        assert!(
            bad[1].reason.starts_with("invalid JSON"),
            "{}",
            bad[1].reason
        );
        assert_eq!(b.n_requests(), 1);
        // providers X and Y of the rejected record never entered the universe
        assert_eq!(b.providers.names().collect::<Vec<_>>(), vec!["P"]);
    }

    #[test]
    fn chunked_parsing_matches_one_chunk() {
        let mut input = String::new();
        for i in 0..5000 {
            if i % 997 == 13 {
                input.push_str("{bad\n\n");
            }
            input.push_str(&format!(
                "{{\"id\":{i},\"items\":[\"a{i}\",\"b\\u0041\"],\"scores\":[1,{i}],\"providers\":[\"P{}\",\"Q\"]}}\n",
                i % 7
            ));
        }
        let buf = input.into_bytes();
        let whole = RequestBatch::parse_range(
            &buf,
            0..buf.len(),
            1,
            buf.len(),
            false,
            MissingProvider::Error,
            false,
        );
        for threads in [2, 3, 8] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let (b, bad) = pool.install(|| {
                RequestBatch::parse(buf.clone(), 1, false, MissingProvider::Error, false)
            });
            assert_eq!(bad, whole.1);
            assert_eq!(b.line, whole.0.line);
            assert_eq!(b.offsets, whole.0.offsets);
            assert_eq!(b.provider, whole.0.provider);
            assert_eq!(
                b.providers.names().collect::<Vec<_>>(),
                whole.0.providers.names().collect::<Vec<_>>()
            );
            assert_eq!(b.item(b.item_text.len() - 1), "bA");
            let n = b.n_requests();
            let out = |x: &RequestBatch| {
                let sel: Vec<i32> = (0..n).flat_map(|_| [1, 0]).collect();
                let so: Vec<i64> = (0..=n as i64).map(|t| 2 * t).collect();
                x.write_results(&ListResults {
                    interval: &vec![0; n],
                    rec_score: &x.score,
                    sel_offsets: &so,
                    sel: &sel,
                    dcg: &vec![1.0; n],
                    idcg: &vec![1.0; n],
                })
                .unwrap()
            };
            let mut whole_owned = RequestBatch::parse_range(
                &buf,
                0..buf.len(),
                1,
                buf.len(),
                false,
                MissingProvider::Error,
                false,
            )
            .0;
            whole_owned.buf = InputBytes::new(buf.clone());
            assert_eq!(b.item_ids().0, whole_owned.item_ids().0);
            assert_eq!(out(&b), out(&whole_owned));
            // stop at first: the earliest bad line wins whatever the chunking
            let (_, first) = pool.install(|| {
                RequestBatch::parse(buf.clone(), 1, false, MissingProvider::Error, true)
            });
            assert_eq!(first, vec![whole.1[0].clone()]);
        }
    }

    /// xorshift: the tests below need many varied strings, not a crate.
    fn rng(seed: u64) -> impl FnMut(u64) -> u64 {
        let mut state = seed;
        move |n| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        }
    }

    /// Names of 0..=20 bytes from a small alphabet (NUL included), so that short and long
    /// names, repeats and near-misses all occur.
    fn random_name(next: &mut impl FnMut(u64) -> u64) -> String {
        let len = next(21) as usize;
        (0..len)
            .map(|_| char::from(b"\0ab\x7f"[next(4) as usize]))
            .collect()
    }

    #[test]
    fn interner_ids_are_first_appearance_order_for_short_and_long_names() {
        let mut next = rng(0x9E37_79B9);
        let mut interner = Interner::default();
        let mut reference: HashMap<String, i32> = HashMap::new();
        for _ in 0..50_000 {
            let name = random_name(&mut next);
            let fresh = reference.len() as i32;
            let want = *reference.entry(name.clone()).or_insert(fresh);
            assert_eq!(interner.intern(&name), want, "{name:?}");
        }
        assert_eq!(interner.len(), reference.len());
        for (name, &id) in &reference {
            assert_eq!(interner.name(id as usize), name);
        }
    }

    #[test]
    fn short_keys_tell_every_pair_of_names_apart() {
        let mut next = rng(12345);
        let names: Vec<String> = (0..3000)
            .map(|_| random_name(&mut next))
            .filter(|n| n.len() <= 15)
            .collect();
        for a in &names {
            for b in names.iter().take(300) {
                let (ka, kb) = (
                    ShortKey::of(a.as_bytes()).unwrap(),
                    ShortKey::of(b.as_bytes()).unwrap(),
                );
                assert_eq!(ka == kb, a == b, "{a:?} {b:?}");
            }
        }
        assert!(ShortKey::of(&[b'x'; 16]).is_none());
    }

    #[test]
    fn duplicate_search_agrees_for_short_and_long_ids() {
        let mut next = rng(777);
        let mut finder = DuplicateFinder::default();
        let hasher = foldhash::fast::FixedState::default();
        for round in 0..3000 {
            let names: Vec<String> = (0..next(40)).map(|_| random_name(&mut next)).collect();
            let mut text = String::new();
            let spans: Vec<(usize, usize)> = names
                .iter()
                .map(|n| {
                    let at = text.len() + 100;
                    text.push_str(n);
                    (at, n.len())
                })
                .collect();
            let want = names
                .iter()
                .enumerate()
                .position(|(j, n)| names[..j].contains(n));
            let general = finder.first_duplicate(names.len(), |j| names[j].as_str(), &hasher);
            assert_eq!(general, want, "round {round}");
            match finder.first_duplicate_short(&spans, text.as_bytes(), 100) {
                Some(found) => assert_eq!(found, want, "round {round}"),
                None => assert!(names.iter().any(|n| n.len() > 15)),
            }
        }
    }

    #[test]
    fn put_appends_like_extend_from_slice() {
        let mut next = rng(4242);
        let (mut got, mut want) = (Vec::new(), Vec::new());
        for _ in 0..5000 {
            let piece: Vec<u8> = (0..next(40)).map(|_| next(256) as u8).collect();
            put(&mut got, &piece);
            want.extend_from_slice(&piece);
        }
        assert_eq!(got, want);
    }

    #[test]
    fn fast_scanner_and_serde_path_agree() {
        let lines = [
            r#"{"request_id":"r1","items":["a","b","c"],"scores":[0.1,-2.5e-3,3],"providers":["P","Q","P"],"ts":5,"x":{"a":[1,{"b":null}]}}"#,
            r#" { "items" : [ "a" , "b" ] , "scores" : [ 1.0000000000000002 , 0.30000000000000004 ] , "providers" : [ "é" , "日本" ] } "#,
            r#"{"interval":3,"rec_items":["old"],"items":[],"scores":[],"providers":[]}"#,
            r#"{"items":["a"],"scores":[123456789012345678901234567890],"providers":["P"],"s":"x\"y"}"#,
        ];
        for line in lines {
            let buf = format!("{line}\n").into_bytes();
            let fast = RequestBatch::parse(buf.clone(), 1, false, MissingProvider::Error, true);
            let slow = RequestBatch::parse(buf.clone(), 1, true, MissingProvider::Error, true);
            assert!(
                fast.1.is_empty() && slow.1.is_empty(),
                "{line}: {:?} {:?}",
                fast.1,
                slow.1
            );
            assert_eq!(fast.0.score, slow.0.score, "{line}");
            assert_eq!(fast.0.offsets, slow.0.offsets);
            assert_eq!(fast.0.provider, slow.0.provider);
            assert_eq!(fast.0.interval, slow.0.interval);
            assert_eq!(fast.0.item_ids().0, slow.0.item_ids().0);
            // the slow run kept the candidate arrays; compare the rest of the output
            let n = fast.0.n_requests();
            let args = |b: &RequestBatch| {
                b.write_results(&ListResults {
                    interval: &vec![0; n],
                    rec_score: &b.score,
                    sel_offsets: &vec![0; n + 1],
                    sel: &[],
                    dcg: &vec![0.0; n],
                    idcg: &vec![0.0; n],
                })
                .unwrap()
            };
            let (f, s) = (
                String::from_utf8(args(&fast.0)).unwrap(),
                String::from_utf8(args(&slow.0)).unwrap(),
            );
            let strip = |t: &str| t.replace(r#""items":"#, "").len();
            assert!(s.len() >= f.len(), "{f} vs {s} ({})", strip(&s));
            assert!(f.ends_with("\n") && f.contains(r#""rec_items":[]"#));
        }
    }

    #[test]
    fn shape_errors() {
        for (line, needle) in [
            (
                r#"{"items":["a"],"scores":[1,2],"providers":["P"]}"#,
                "1 items but 2 scores",
            ),
            (r#"{"items":["a"],"scores":[1]}"#, "has no provider"),
            (
                r#"{"items":[1],"scores":[1],"providers":["P"]}"#,
                "list of strings",
            ),
            (r#"[1,2]"#, "expected a JSON object"),
            (
                r#"{"items":["a"],"scores":[1],"providers":["P"],"interval":-9223372036854775808}"#,
                "within ±2^53",
            ),
            (
                r#"{"items":["a"],"scores":[1],"providers":["P"]} x"#,
                "trailing",
            ),
            (r#"{"scores":[1]}"#, "missing 'items'"),
            (
                r#"{"items":["a"],"scores":[1],"providers":["P"],"interval":1.5}"#,
                "'interval' must be an integer",
            ),
        ] {
            let (_, bad) = parse(line);
            assert_eq!(bad.len(), 1, "{line}");
            assert!(bad[0].reason.contains(needle), "{line}: {}", bad[0].reason);
        }
        let (b, bad) = RequestBatch::parse(
            br#"{"items":["a"],"scores":[1]}"#.to_vec(),
            7,
            false,
            MissingProvider::Singleton,
            true,
        );
        assert!(bad.is_empty());
        assert_eq!(b.line, vec![7]);
        assert_eq!(b.providers.name(0), "a");
    }
}
