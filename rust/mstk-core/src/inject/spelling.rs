//! Misspellings (spec inject-errors §4.6): candidates from mstk's rules or from a
//! `head variant …` dictionary, never a real word.

use std::sync::Arc;

use hashbrown::HashMap;

use super::rng::Rng;
use crate::error::{CoreError, CoreResult};

type FixedState = foldhash::fast::FixedState;

/// Lowercase real words; a misspelling that lands on one of them is not a misspelling.
/// Words live in one arena with a table of (offset, length): a 160k-word list then costs
/// two allocations instead of 160k, which is most of its load time.
#[derive(Default)]
pub struct WordList {
    arena: String,
    table: hashbrown::HashTable<(u32, u32)>,
    hasher: FixedState,
    /// One bit per hash prefix, set for every word: almost every lookup is a candidate
    /// misspelling, i.e. a miss, and this 256 KiB bitset (in cache, unlike the table's
    /// megabytes) answers most misses without touching the table. Empty = no prefilter.
    filter: Vec<u64>,
    filter_shift: u32,
}

impl std::fmt::Debug for WordList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WordList({} words)", self.len())
    }
}

impl WordList {
    pub fn from_words<I: IntoIterator<Item = S>, S: AsRef<str>>(words: I) -> Self {
        let mut list = WordList::default();
        for w in words {
            list.insert(w.as_ref());
        }
        list.build_filter();
        list
    }

    /// Sizes the prefilter at about 8 bits per word (a power of two, 4 Ki to 2 Mi bits:
    /// about 8% false positives, which go on to the table) and sets each word's bit.
    fn build_filter(&mut self) {
        let bits = (self.len() * 8).next_power_of_two().clamp(1 << 12, 1 << 21);
        self.filter_shift = 64 - bits.trailing_zeros();
        let mut filter = vec![0u64; bits / 64];
        for &(start, len) in self.table.iter() {
            let word = &self.arena.as_bytes()[start as usize..(start + len) as usize];
            let bit = (self.hash(word) >> self.filter_shift) as usize;
            filter[bit / 64] |= 1 << (bit % 64);
        }
        self.filter = filter;
    }

    /// Hashes the bytes (not the `str`) so that rule candidates, which are built as bytes,
    /// are looked up without a UTF-8 check each.
    fn hash(&self, word: &[u8]) -> u64 {
        use std::hash::BuildHasher;
        self.hasher.hash_one(word)
    }

    fn get(&self, &(start, len): &(u32, u32)) -> &str {
        &self.arena[start as usize..(start + len) as usize]
    }

    fn insert(&mut self, word: &str) {
        let lowered;
        let word = if word.is_ascii() && !word.bytes().any(|b| b.is_ascii_uppercase()) {
            word
        } else {
            lowered = word.to_lowercase();
            lowered.as_str()
        };
        let hash = self.hash(word.as_bytes());
        let (arena, table, hasher) = (&mut self.arena, &mut self.table, &self.hasher);
        let eq = |e: &(u32, u32)| &arena[e.0 as usize..(e.0 + e.1) as usize] == word;
        if table.find(hash, eq).is_some() {
            return;
        }
        let entry = (arena.len() as u32, word.len() as u32);
        arena.push_str(word);
        let arena = &*arena;
        table.insert_unique(hash, entry, |e| {
            use std::hash::BuildHasher;
            hasher.hash_one(&arena.as_bytes()[e.0 as usize..(e.0 + e.1) as usize])
        });
    }

    /// A JSON object whose keys are the words (pyspellchecker's `en.json`).
    pub fn from_json_keys(json: &[u8]) -> CoreResult<Self> {
        let mut list = match Self::scan_word_counts(json) {
            Some(list) => list,
            None => Self::parse_json_keys(json)?,
        };
        list.build_filter();
        Ok(list)
    }

    /// The common shape `{"word": count, …}` with no escapes, scanned by hand (10× faster
    /// than a general parser); `None` sends anything else to serde_json.
    fn scan_word_counts(json: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(json).ok()?;
        let b = text.as_bytes();
        let skip_ws = |mut i: usize| {
            while i < b.len() && matches!(b[i], b' ' | b'\n' | b'\r' | b'\t') {
                i += 1;
            }
            i
        };
        let mut list = WordList::default();
        list.arena.reserve(b.len() / 2);
        list.table.reserve(b.len() / 18, |_| 0);
        let mut i = skip_ws(0);
        if b.get(i) != Some(&b'{') {
            return None;
        }
        i = skip_ws(i + 1);
        if b.get(i) == Some(&b'}') {
            return (skip_ws(i + 1) == b.len()).then_some(list);
        }
        loop {
            if b.get(i) != Some(&b'"') {
                return None;
            }
            let end = i + 1 + memchr::memchr2(b'"', b'\\', &b[i + 1..])?;
            if b[end] != b'"' || b[i + 1..end].iter().any(|&c| c < 0x20) {
                return None;
            }
            list.insert(&text[i + 1..end]);
            i = skip_ws(end + 1);
            if b.get(i) != Some(&b':') {
                return None;
            }
            i = skip_ws(i + 1);
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i == start {
                return None;
            }
            i = skip_ws(i);
            match b.get(i) {
                Some(b',') => i = skip_ws(i + 1),
                Some(b'}') => return (skip_ws(i + 1) == b.len()).then_some(list),
                _ => return None,
            }
        }
    }

    fn parse_json_keys(json: &[u8]) -> CoreResult<Self> {
        struct Keys(usize);
        impl<'de> serde::de::Visitor<'de> for Keys {
            type Value = WordList;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object of words")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<WordList, A::Error> {
                let mut list = WordList::default();
                list.arena.reserve(self.0 * 9);
                list.table.reserve(self.0, |_| 0);
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    map.next_value::<serde::de::IgnoredAny>()?;
                    list.insert(&key);
                }
                Ok(list)
            }
        }
        use serde::Deserializer;
        let mut de = serde_json::Deserializer::from_slice(json);
        let list = de
            .deserialize_map(Keys(json.len() / 18))
            .and_then(|l| de.end().map(|_| l))
            .map_err(|e| {
                CoreError::parameter(format!("word list is not a JSON object of words: {e}"))
            })?;
        Ok(list)
    }

    /// `word [count]` lines (symspell's frequency list, a user file); `#` starts a comment.
    pub fn from_lines(text: &str) -> Self {
        Self::from_words(text.lines().filter_map(|l| {
            let w = l.split_whitespace().next()?;
            (!w.starts_with('#')).then_some(w)
        }))
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    pub fn contains(&self, lower: &str) -> bool {
        self.contains_bytes(lower.as_bytes())
    }

    fn contains_bytes(&self, lower: &[u8]) -> bool {
        let hash = self.hash(lower);
        if !self.filter.is_empty() {
            let bit = (hash >> self.filter_shift) as usize;
            if self.filter[bit / 64] & (1 << (bit % 64)) == 0 {
                return false;
            }
        }
        self.table
            .find(hash, |e| self.get(e).as_bytes() == lower)
            .is_some()
    }
}

/// The three case patterns a misspelling can carry over.
#[derive(Clone, Copy, Debug, PartialEq)]
enum CasePattern {
    Lower,
    Title,
    Upper,
}

fn case_pattern(word: &str) -> Option<CasePattern> {
    let b = word.as_bytes();
    if b.iter().all(u8::is_ascii_lowercase) {
        Some(CasePattern::Lower)
    } else if b.iter().all(u8::is_ascii_uppercase) {
        Some(CasePattern::Upper)
    } else if b[0].is_ascii_uppercase() && b[1..].iter().all(u8::is_ascii_lowercase) {
        Some(CasePattern::Title)
    } else {
        None
    }
}

fn apply_case(lower: &str, pattern: CasePattern) -> String {
    match pattern {
        CasePattern::Lower => lower.to_string(),
        CasePattern::Upper => lower.to_ascii_uppercase(),
        CasePattern::Title => {
            let mut s = lower.to_string();
            if let Some(first) = s.get_mut(..1) {
                first.make_ascii_uppercase();
            }
            s
        }
    }
}

const DOUBLABLE: &[u8] = b"bcdfgklmnprstz";

fn is_vowel(b: u8) -> bool {
    matches!(b, b'a' | b'e' | b'i' | b'o' | b'u')
}

/// Rules R1–R8 on a lowercase ASCII word: calls `emit` with each candidate in rule order,
/// positions left to right, replacements in the listed order (duplicates and `w` itself
/// included), each in a reused buffer so that eligibility checks allocate nothing. Stops
/// early when `emit` returns true, and returns whether it did.
pub fn for_each_rule_candidate(w: &str, mut emit: impl FnMut(&[u8]) -> bool) -> bool {
    let b = w.as_bytes();
    let n = b.len();
    // Candidates are built on the stack for words of ordinary length.
    let mut stack = [0u8; 72];
    let mut heap: Vec<u8> = Vec::new();
    let mut replaced = |at: usize, len: usize, with: &[u8]| -> bool {
        let total = n - len + with.len();
        let buf: &mut [u8] = if total <= stack.len() {
            &mut stack[..total]
        } else {
            heap.resize(total, 0);
            &mut heap[..]
        };
        buf[..at].copy_from_slice(&b[..at]);
        buf[at..at + with.len()].copy_from_slice(with);
        buf[at + with.len()..].copy_from_slice(&b[at + len..]);
        emit(buf)
    };
    // R1: drop one letter of a doubled pair.
    for i in 0..n.saturating_sub(1) {
        if b[i] == b[i + 1] && replaced(i, 1, b"") {
            return true;
        }
    }
    // R2: double a consonant that follows a vowel and has no identical neighbour.
    for i in 1..n {
        let c = b[i];
        if DOUBLABLE.contains(&c)
            && is_vowel(b[i - 1])
            && b.get(i + 1) != Some(&c)
            && replaced(i, 1, &[c, c])
        {
            return true;
        }
    }
    // R3: ie <-> ei.
    for i in 0..n.saturating_sub(1) {
        let hit = match (b[i], b[i + 1]) {
            (b'i', b'e') => replaced(i, 2, b"ei"),
            (b'e', b'i') => replaced(i, 2, b"ie"),
            _ => false,
        };
        if hit {
            return true;
        }
    }
    // R4: interior vowel swaps.
    for i in 1..n.saturating_sub(1) {
        let with: &[u8] = match b[i] {
            b'a' => b"ei",
            b'e' => b"ai",
            b'i' => b"ae",
            b'o' => b"au",
            b'u' => b"o",
            _ => b"",
        };
        for &r in with {
            if replaced(i, 1, &[r]) {
                return true;
            }
        }
    }
    // R5: drop a final e after a consonant.
    if n > 4 && b[n - 1] == b'e' && !is_vowel(b[n - 2]) && replaced(n - 1, 1, b"") {
        return true;
    }
    // R6: suffix confusions, stem of at least 3 letters.
    for (from, to) in [
        ("able", "ible"),
        ("ible", "able"),
        ("ance", "ence"),
        ("ence", "ance"),
        ("ant", "ent"),
        ("ent", "ant"),
    ] {
        if n >= from.len() + 3
            && w.ends_with(from)
            && replaced(n - from.len(), from.len(), to.as_bytes())
        {
            return true;
        }
    }
    // R7: ph -> f, then f -> ph.
    for i in 0..n.saturating_sub(1) {
        if &b[i..i + 2] == b"ph" && replaced(i, 2, b"f") {
            return true;
        }
    }
    for i in 0..n {
        if b[i] == b'f' && replaced(i, 1, b"ph") {
            return true;
        }
    }
    // R8: c <-> k before a, o, u.
    for i in 0..n.saturating_sub(1) {
        if matches!(b[i + 1], b'a' | b'o' | b'u') {
            let hit = match b[i] {
                b'c' => replaced(i, 1, b"k"),
                b'k' => replaced(i, 1, b"c"),
                _ => false,
            };
            if hit {
                return true;
            }
        }
    }
    false
}

/// Optimal string alignment distance (adjacent transpositions count 1).
pub fn osa_distance(a: &[u8], b: &[u8]) -> usize {
    let (n, m) = (a.len(), b.len());
    let mut d = vec![vec![0usize; m + 1]; n + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for j in 0..=m {
        d[0][j] = j;
    }
    for i in 1..=n {
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[n][m]
}

#[derive(Clone, Debug)]
enum Source {
    Rules,
    /// lowercase key -> lowercase variants, in file order.
    Dict(Arc<HashMap<String, Vec<String>, FixedState>>),
}

/// Misspellings from rules or a dictionary, filtered against a real-word list.
#[derive(Clone, Debug)]
pub struct SpellingModel {
    source: Source,
    real_words: Arc<WordList>,
}

/// Counts reported for a loaded dictionary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DictStats {
    pub lines: usize,
    pub keys: usize,
    pub pairs: usize,
}

fn letters_only(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphabetic())
}

impl SpellingModel {
    pub fn from_rules(real_words: Arc<WordList>) -> Self {
        SpellingModel {
            source: Source::Rules,
            real_words,
        }
    }

    /// `head variant …` lines. A head that is not ASCII letters drops its line; a variant
    /// survives if it is ASCII letters, differs from the head ignoring case, is within OSA
    /// distance 2 of it and is not a real word. Keys merge in file order; no reverse pairs.
    pub fn from_dict(text: &str, real_words: Arc<WordList>) -> (Self, DictStats) {
        let mut map: HashMap<String, Vec<String>, FixedState> =
            HashMap::with_hasher(FixedState::default());
        let mut stats = DictStats::default();
        for line in text.lines() {
            let content = line.split('#').next().unwrap_or("");
            let mut tokens = content.split_whitespace();
            let Some(head) = tokens.next() else { continue };
            stats.lines += 1;
            if !letters_only(head) {
                continue;
            }
            let key = head.to_ascii_lowercase();
            for v in tokens {
                if !letters_only(v) {
                    continue;
                }
                let lower = v.to_ascii_lowercase();
                if lower == key
                    || osa_distance(lower.as_bytes(), key.as_bytes()) > 2
                    || real_words.contains(&lower)
                {
                    continue;
                }
                let entry = map.entry_ref(key.as_str()).or_default();
                if !entry.contains(&lower) {
                    entry.push(lower);
                }
            }
        }
        stats.keys = map.len();
        stats.pairs = map.values().map(Vec::len).sum();
        (
            SpellingModel {
                source: Source::Dict(Arc::new(map)),
                real_words,
            },
            stats,
        )
    }

    /// Lowercase candidates for a lowercase word, in order.
    fn lower_candidates(&self, lower: &str) -> Vec<String> {
        match &self.source {
            Source::Dict(map) => map.get(lower).cloned().unwrap_or_default(),
            Source::Rules => {
                let (mut flat, mut ends) = (Vec::new(), Vec::new());
                self.rule_misspellings(lower, &mut flat, &mut ends);
                let starts = std::iter::once(0).chain(ends.iter().copied());
                starts
                    .zip(&ends)
                    .map(|(start, &end)| {
                        String::from_utf8(flat[start..end].to_vec()).expect("ASCII")
                    })
                    .collect()
            }
        }
    }

    /// Candidates in the word's case pattern; empty when the word is not eligible.
    pub fn candidates(&self, word: &str) -> Vec<String> {
        let Some(pattern) = case_pattern(word) else {
            return Vec::new();
        };
        let lower = word.to_ascii_lowercase();
        self.lower_candidates(&lower)
            .iter()
            .map(|c| apply_case(c, pattern))
            .collect()
    }

    pub fn eligible(&self, word: &str) -> bool {
        let Some(_) = case_pattern(word) else {
            return false;
        };
        with_lowercase(word, |lower| match &self.source {
            Source::Dict(map) => map.contains_key(lower),
            Source::Rules => for_each_rule_candidate(lower, |c| {
                c != lower.as_bytes() && !self.real_words.contains_bytes(c)
            }),
        })
    }

    pub fn corrupt(&self, word: &str, rng: &mut Rng) -> String {
        let mut out = String::with_capacity(word.len() + 2);
        self.corrupt_into(word, rng, &mut out);
        out
    }

    /// Appends the corrupted word to `out`: the same draw as `candidates(word)[uniform(n)]`,
    /// with the rule candidates kept in one flat buffer instead of a `String` each.
    pub fn corrupt_into(&self, word: &str, rng: &mut Rng, out: &mut String) {
        let pattern = case_pattern(word).expect("corrupt_into is only called on eligible words");
        let chosen = with_lowercase(word, |lower| match &self.source {
            Source::Dict(map) => {
                let list = &map[lower];
                list[rng.uniform(list.len() as u64) as usize].clone()
            }
            Source::Rules => {
                let mut flat: Vec<u8> = Vec::with_capacity(16 * (lower.len() + 2));
                let mut ends: Vec<usize> = Vec::with_capacity(16);
                self.rule_misspellings(lower, &mut flat, &mut ends);
                let i = rng.uniform(ends.len() as u64) as usize;
                let start = if i == 0 { 0 } else { ends[i - 1] };
                String::from_utf8(flat[start..ends[i]].to_vec()).expect("ASCII")
            }
        });
        out.push_str(&apply_case(&chosen, pattern));
    }
}

impl SpellingModel {
    /// The distinct rule candidates of `lower` that are misspellings (differ from it and are
    /// not real words), in rule order, appended to one flat buffer: candidate i is
    /// `flat[ends[i-1]..ends[i]]` (from 0 for the first). One buffer instead of a `String`
    /// per candidate keeps the hot path free of allocations.
    fn rule_misspellings(&self, lower: &str, flat: &mut Vec<u8>, ends: &mut Vec<usize>) {
        for_each_rule_candidate(lower, |c| {
            let mut start = 0;
            let seen = ends.iter().any(|&end| {
                let same = end - start == c.len() && &flat[start..end] == c;
                start = end;
                same
            });
            if c != lower.as_bytes() && !seen && !self.real_words.contains_bytes(c) {
                flat.extend_from_slice(c);
                ends.push(flat.len());
            }
            false
        });
    }
}

/// Calls `f` with the ASCII-lowercased word, on the stack for words of ordinary length.
fn with_lowercase<R>(word: &str, f: impl FnOnce(&str) -> R) -> R {
    let mut stack = [0u8; 64];
    if word.len() <= stack.len() {
        let buf = &mut stack[..word.len()];
        buf.copy_from_slice(word.as_bytes());
        buf.make_ascii_lowercase();
        f(std::str::from_utf8(buf).expect("lowercasing ASCII letters keeps UTF-8"))
    } else {
        f(&word.to_ascii_lowercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefilter_never_hides_a_word() {
        // Words and probes from a small LCG: the filtered lookup must agree with a plain
        // set for members (no false negatives) and non-members alike, on every loader.
        let mut x = 12345u64;
        let mut word = || {
            let mut w = String::new();
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            for i in 0..(3 + (x >> 60) as usize) {
                w.push((b'a' + ((x >> (i * 5 % 55)) % 26) as u8) as char);
            }
            w
        };
        let words: Vec<String> = (0..20_000).map(|_| word()).collect();
        let set: std::collections::HashSet<&str> = words.iter().map(String::as_str).collect();
        let json = format!(
            "{{{}}}",
            words
                .iter()
                .map(|w| format!("\"{w}\": 1"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let escaped = json.replacen("\": 1", "\\u0065\": 1", 1); // forces the serde path
        for list in [
            WordList::from_words(&words),
            WordList::from_json_keys(json.as_bytes()).unwrap(),
            WordList::from_lines(&words.join("\n")),
        ] {
            assert!(!list.filter.is_empty());
            assert!(words.iter().all(|w| list.contains(w)));
            for _ in 0..20_000 {
                let probe = word();
                assert_eq!(
                    list.contains(&probe),
                    set.contains(probe.as_str()),
                    "{probe}"
                );
            }
        }
        let serde_list = WordList::from_json_keys(escaped.as_bytes()).unwrap();
        assert!(!serde_list.filter.is_empty() && words[1..].iter().all(|w| serde_list.contains(w)));
    }

    #[test]
    fn corrupt_draws_from_the_candidate_list() {
        // corrupt_into keeps candidates in a flat buffer; the draw must be the one the
        // spec defines over `candidates(word)`.
        let rules = rules_with(&["necessary", "prize", "price", "pride", "recieve"]);
        let (dict, _) = SpellingModel::from_dict(
            "receive recieve receeve\nnecessary neccessary necesary",
            Arc::new(WordList::from_words(&["necessary"])),
        );
        for model in [&rules, &dict] {
            for word in [
                "necessary",
                "Necessary",
                "RECEIVE",
                "receive",
                "balloon",
                "committee",
            ] {
                let list = model.candidates(word);
                if list.is_empty() {
                    continue;
                }
                for seed in 0..40u64 {
                    let mut rng = Rng::from_state([seed, 3, 5, 7]);
                    let want = &list[rng.uniform(list.len() as u64) as usize];
                    let mut rng = Rng::from_state([seed, 3, 5, 7]);
                    assert_eq!(&model.corrupt(word, &mut rng), want, "{word} {seed}");
                }
            }
        }
        let long = "a".repeat(70) + "bb";
        assert!(rules.eligible(&long));
        let mut rng = Rng::from_state([1, 2, 3, 4]);
        assert_eq!(rules.corrupt(&long, &mut rng).len(), 71);
    }

    fn rules_with(real: &[&str]) -> SpellingModel {
        SpellingModel::from_rules(Arc::new(WordList::from_words(real)))
    }

    #[test]
    fn spec_rule_examples() {
        let m = rules_with(&["necessary", "prize", "price", "pride"]);
        assert_eq!(
            m.candidates("necessary"),
            [
                "necesary",
                "neccessary",
                "necessarry",
                "nacessary",
                "nicessary",
                "necassary",
                "necissary",
                "necessery",
                "necessiry"
            ]
        );
        assert_eq!(m.candidates("prize"), ["prizze", "praze", "preze", "priz"]);
        assert_eq!(m.candidates("Prize"), ["Prizze", "Praze", "Preze", "Priz"]);
        assert_eq!(m.candidates("PRIZE"), ["PRIZZE", "PRAZE", "PREZE", "PRIZ"]);
        assert!(m.candidates("pRize").is_empty() && !m.eligible("iPhone"));
    }

    #[test]
    fn remaining_rules() {
        let m = rules_with(&[]);
        assert!(m.candidates("believe").contains(&"beleive".to_string()));
        assert!(m.candidates("visible").contains(&"visable".to_string()));
        assert!(m.candidates("relevance").contains(&"relevence".to_string()));
        assert!(m.candidates("phone").contains(&"fone".to_string()));
        assert!(m.candidates("coat").contains(&"koat".to_string()));
        assert!(
            !m.candidates("cent").iter().any(|c| c == "kent"),
            "c->k only before a, o, u"
        );
    }

    #[test]
    fn dictionary_filters() {
        let real = Arc::new(WordList::from_words(["that", "want", "what", "the"]));
        let text = "what wat that want whta\n[[x y\nWhat whaat\nrecieve\n# comment\nteh the te5 tehh xyzxyzq\n";
        let (m, stats) = SpellingModel::from_dict(text, real);
        assert_eq!(
            stats,
            DictStats {
                lines: 5,
                keys: 2,
                pairs: 4
            }
        );
        assert_eq!(m.candidates("What"), ["Wat", "Whta", "Whaat"]);
        assert_eq!(m.candidates("teh"), ["tehh"]);
        assert!(!m.eligible("recieve"));
    }

    #[test]
    fn word_list_formats_agree() {
        let fast = WordList::from_json_keys(b"{\"the\": 5, \"Nobel\": 3,\n\"a's\":1}").unwrap();
        let slow =
            WordList::from_json_keys(b"{\"the\": 5.0, \"Nob\\u0065l\": 3, \"a's\": [1]}").unwrap();
        for list in [&fast, &slow] {
            assert_eq!(list.len(), 3);
            assert!(
                list.contains("nobel")
                    && list.contains("the")
                    && list.contains("a's")
                    && !list.contains("Nobel")
            );
        }
        assert!(WordList::from_json_keys(b"[1]").is_err());
        assert!(WordList::from_json_keys(b"{\"a\": 1").is_err());
        assert_eq!(WordList::from_lines("# c\nThe 5\nnobel\n").len(), 2);
    }

    #[test]
    fn osa() {
        assert_eq!(osa_distance(b"ca", b"ac"), 1);
        assert_eq!(osa_distance(b"kitten", b"sitting"), 3);
        assert_eq!(osa_distance(b"", b"abc"), 3);
    }
}
