//! The built-in error models (spec inject-errors §4.4–4.6) and the table model that carries
//! plugin-supplied candidates into the kernel.
//!
//! A model answers two questions about an eligible word: can it be corrupted, and what does
//! it become given the word's own edit stream. Models never own randomness.

use hashbrown::HashMap;

use super::rng::Rng;
use super::spelling::SpellingModel;
use crate::error::{CoreError, CoreResult};

/// US QWERTY letter neighbours (rows at x-offsets 0, 0.25, 0.75; |Δrow| ≤ 1, |Δx| ≤ 1).
pub const QWERTY: &str = "a:qswz b:ghnv c:dfvx d:cefrsx e:drsw f:cdgrtv g:bfhtvy h:bgjnuy \
i:jkou j:hikmnu k:ijlmo l:kop m:jkn n:bhjm o:iklp p:lo q:aw r:deft s:adewxz t:fgry u:hijy \
v:bcfg w:aeqs x:cdsz y:ghtu z:asx";

/// Visual confusions: multi-character rules first, then single-character ones, each in
/// the order they are tried at a position.
pub const VISUAL_RULES: &[(&str, &str)] = &[
    ("rn", "m"),
    ("m", "rn"),
    ("cl", "d"),
    ("d", "cl"),
    ("vv", "w"),
    ("w", "vv"),
    ("ri", "n"),
    ("li", "h"),
    ("o", "0"),
    ("O", "0"),
    ("O", "D"),
    ("D", "O"),
    ("l", "1"),
    ("l", "I"),
    ("I", "l"),
    ("I", "1"),
    ("i", "1"),
    ("i", "l"),
    ("s", "5"),
    ("S", "5"),
    ("b", "6"),
    ("G", "6"),
    ("g", "9"),
    ("g", "q"),
    ("q", "9"),
    ("q", "g"),
    ("z", "2"),
    ("Z", "2"),
    ("B", "8"),
    ("e", "c"),
    ("c", "e"),
    ("u", "v"),
    ("v", "u"),
    ("n", "h"),
    ("h", "b"),
    ("E", "F"),
];

/// How many letters a keyboard slip changes in one word.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CharsPerWord {
    Count(usize),
    /// ⌈f·len⌉ letters, f in (0, 1) held as parts per million so the ceiling is exact
    /// (0.3·10 is 3, not the 4 that float rounding would give).
    FractionPpm(u32),
}

impl CharsPerWord {
    pub fn new(value: f64) -> CoreResult<Self> {
        if value.is_finite() && value > 0.0 && value < 1.0 {
            Ok(CharsPerWord::FractionPpm(
                ((value * 1e6).round() as u32).clamp(1, 999_999),
            ))
        } else if value >= 1.0 && value.fract() == 0.0 && value <= 1e6 {
            Ok(CharsPerWord::Count(value as usize))
        } else {
            Err(CoreError::parameter(format!(
                "chars-per-word must be a whole number >= 1 or a fraction in (0, 1), got {value}"
            )))
        }
    }

    fn for_len(self, len: usize) -> usize {
        match self {
            CharsPerWord::Count(c) => c.min(len),
            CharsPerWord::FractionPpm(ppm) => (ppm as usize * len)
                .div_ceil(1_000_000)
                .clamp(1, len.max(1))
                .min(len),
        }
    }
}

/// Keyboard slips: c distinct letters, each replaced by a neighbour, case kept.
#[derive(Clone, Debug)]
pub struct KeyboardModel {
    /// Neighbours of each lowercase ASCII letter, in table order.
    neighbours: [Vec<String>; 26],
    chars_per_word: CharsPerWord,
}

impl KeyboardModel {
    pub fn qwerty(chars_per_word: CharsPerWord) -> Self {
        let pairs: Vec<(String, Vec<String>)> = QWERTY
            .split(' ')
            .map(|entry| {
                let (src, dst) = entry.split_once(':').expect("table entry");
                (src.to_string(), dst.chars().map(String::from).collect())
            })
            .collect();
        Self::from_table(&pairs, chars_per_word).expect("built-in table is valid")
    }

    /// A user table: single-letter sources (either case, merged), non-empty targets.
    pub fn from_table(
        table: &[(String, Vec<String>)],
        chars_per_word: CharsPerWord,
    ) -> CoreResult<Self> {
        let mut neighbours: [Vec<String>; 26] = Default::default();
        for (src, dsts) in table {
            let b = src.as_bytes();
            if b.len() != 1 || !b[0].is_ascii_alphabetic() {
                return Err(CoreError::parameter(format!(
                    "keyboard table: source {src:?} is not a single ASCII letter"
                )));
            }
            let slot = &mut neighbours[(b[0].to_ascii_lowercase() - b'a') as usize];
            for dst in dsts {
                if dst.is_empty()
                    || dst
                        .chars()
                        .any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}'))
                {
                    return Err(CoreError::parameter(format!(
                        "keyboard table: invalid target {dst:?} for {src:?}"
                    )));
                }
                let lower = dst.to_lowercase();
                if !slot.contains(&lower) && lower != src.to_ascii_lowercase() {
                    slot.push(lower);
                }
            }
        }
        Ok(KeyboardModel {
            neighbours,
            chars_per_word,
        })
    }

    fn neighbours_of(&self, b: u8) -> &[String] {
        &self.neighbours[(b.to_ascii_lowercase() - b'a') as usize]
    }

    pub fn eligible(&self, word: &str) -> bool {
        word.bytes().any(|b| !self.neighbours_of(b).is_empty())
    }

    /// Appends the corrupted word to `out`.
    pub fn corrupt_into(&self, word: &str, rng: &mut Rng, out: &mut String) {
        let bytes = word.as_bytes();
        // Positions with at least one neighbour (all of them with the built-in table); on
        // the stack for any word of ordinary length.
        let mut stack = [0u32; 48];
        let mut heap = Vec::new();
        let positions: &mut [u32] = if bytes.len() <= stack.len() {
            let mut n = 0;
            for (i, &b) in bytes.iter().enumerate() {
                if !self.neighbours_of(b).is_empty() {
                    stack[n] = i as u32;
                    n += 1;
                }
            }
            &mut stack[..n]
        } else {
            heap.extend(
                (0..bytes.len() as u32)
                    .filter(|&i| !self.neighbours_of(bytes[i as usize]).is_empty()),
            );
            &mut heap
        };
        let c = self.chars_per_word.for_len(positions.len());
        for i in 0..c {
            let j = i + rng.uniform((positions.len() - i) as u64) as usize;
            positions.swap(i, j);
        }
        let chosen = &mut positions[..c];
        chosen.sort_unstable();
        let mut last = 0;
        for &p in chosen.iter() {
            let p = p as usize;
            out.push_str(&word[last..p]);
            let list = self.neighbours_of(bytes[p]);
            let pick = &list[rng.uniform(list.len() as u64) as usize];
            if bytes[p].is_ascii_uppercase() {
                out.extend(pick.chars().flat_map(char::to_uppercase));
            } else {
                out.push_str(pick);
            }
            last = p + 1;
        }
        out.push_str(&word[last..]);
    }

    pub fn corrupt(&self, word: &str, rng: &mut Rng) -> String {
        let mut out = String::with_capacity(word.len() + 4);
        self.corrupt_into(word, rng, &mut out);
        out
    }
}

/// Visual confusions: one rule applied at one position.
#[derive(Clone, Debug)]
pub struct VisualModel {
    rules: Vec<(String, String)>,
    /// Rule indices by the source's first byte (ASCII letters only), in rule order: a word
    /// position is tested against the few rules that can start there, not all 36.
    by_first: Vec<Vec<u16>>,
}

impl VisualModel {
    pub fn builtin() -> Self {
        Self::from_rules(
            VISUAL_RULES
                .iter()
                .map(|&(s, d)| (s.to_string(), d.to_string()))
                .collect(),
        )
        .expect("built-in rules are valid")
    }

    /// Rules in the caller's order; multi-character sources are moved before single ones
    /// (stably), which is the order the spec tries them at each position.
    pub fn from_rules(rules: Vec<(String, String)>) -> CoreResult<Self> {
        for (src, dst) in &rules {
            if src.is_empty() || !src.bytes().all(|b| b.is_ascii_alphabetic()) {
                return Err(CoreError::parameter(format!(
                    "visual table: source {src:?} must be ASCII letters"
                )));
            }
            if dst.is_empty()
                || dst == src
                || dst
                    .chars()
                    .any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}'))
            {
                return Err(CoreError::parameter(format!(
                    "visual table: invalid target {dst:?} for {src:?}"
                )));
            }
        }
        let (mut multi, single): (Vec<_>, Vec<_>) =
            rules.into_iter().partition(|(s, _)| s.len() > 1);
        multi.extend(single);
        let mut by_first = vec![Vec::new(); 128];
        for (r, (src, _)) in multi.iter().enumerate() {
            by_first[src.as_bytes()[0] as usize].push(r as u16);
        }
        Ok(VisualModel {
            rules: multi,
            by_first,
        })
    }

    fn rules_at<'a>(&'a self, bytes: &'a [u8], pos: usize) -> impl Iterator<Item = usize> + 'a {
        let rest = &bytes[pos..];
        let candidates: &[u16] = if rest[0] < 128 {
            &self.by_first[rest[0] as usize]
        } else {
            &[]
        };
        // `by_first` already matched the first byte; rules are one or two letters long
        // (user tables may be longer), so compare the rest byte by byte, not via memcmp.
        candidates.iter().map(|&r| r as usize).filter(move |&r| {
            let src = self.rules[r].0.as_bytes();
            match src.len() {
                1 => true,
                2 => rest.get(1) == Some(&src[1]),
                _ => rest.starts_with(src),
            }
        })
    }

    /// Every (position, rule index) match, by ascending position then rule order (the
    /// spec's definition, kept as the reference `corrupt_into` is tested against).
    #[cfg(test)]
    fn matches(&self, word: &str, out: &mut Vec<(usize, usize)>) {
        out.clear();
        let bytes = word.as_bytes();
        for pos in 0..bytes.len() {
            out.extend(self.rules_at(bytes, pos).map(|r| (pos, r)));
        }
    }

    pub fn eligible(&self, word: &str) -> bool {
        let bytes = word.as_bytes();
        (0..bytes.len()).any(|pos| self.rules_at(bytes, pos).next().is_some())
    }

    /// Appends the corrupted word to `out`.
    pub fn corrupt_into(&self, word: &str, rng: &mut Rng, out: &mut String) {
        // Counting first and walking again to the drawn match keeps this allocation-free.
        let bytes = word.as_bytes();
        let count: usize = (0..bytes.len())
            .map(|pos| self.rules_at(bytes, pos).count())
            .sum();
        let mut draw = rng.uniform(count as u64) as usize;
        for pos in 0..bytes.len() {
            for r in self.rules_at(bytes, pos) {
                if draw == 0 {
                    let (src, dst) = &self.rules[r];
                    out.push_str(&word[..pos]);
                    out.push_str(dst);
                    out.push_str(&word[pos + src.len()..]);
                    return;
                }
                draw -= 1;
            }
        }
        unreachable!("corrupt_into is only called on eligible words");
    }

    pub fn corrupt(&self, word: &str, rng: &mut Rng) -> String {
        let mut out = String::with_capacity(word.len() + 2);
        self.corrupt_into(word, rng, &mut out);
        out
    }

    #[cfg(test)]
    fn count_matches(&self, word: &str) -> usize {
        let mut found = Vec::new();
        self.matches(word, &mut found);
        found.len()
    }
}

/// Candidates computed outside the kernel (error-model plugins): word → ordered list.
#[derive(Clone, Debug, Default)]
pub struct TableModel {
    candidates: HashMap<String, Vec<String>, foldhash::fast::FixedState>,
}

impl TableModel {
    pub fn new(entries: Vec<(String, Vec<String>)>) -> Self {
        let mut candidates = HashMap::with_hasher(foldhash::fast::FixedState::default());
        for (word, list) in entries {
            if !list.is_empty() {
                candidates.insert(word, list);
            }
        }
        TableModel { candidates }
    }

    pub fn eligible(&self, word: &str) -> bool {
        self.candidates.contains_key(word)
    }

    fn corrupt_into(&self, word: &str, rng: &mut Rng, out: &mut String) {
        let list = &self.candidates[word];
        out.push_str(&list[rng.uniform(list.len() as u64) as usize]);
    }
}

/// One error type as the kernel runs it.
#[derive(Clone, Debug)]
pub enum ErrorModel {
    Keyboard(KeyboardModel),
    Visual(VisualModel),
    Spelling(SpellingModel),
    Table(TableModel),
}

impl ErrorModel {
    pub fn eligible(&self, word: &str) -> bool {
        match self {
            ErrorModel::Keyboard(m) => m.eligible(word),
            ErrorModel::Visual(m) => m.eligible(word),
            ErrorModel::Spelling(m) => m.eligible(word),
            ErrorModel::Table(m) => m.eligible(word),
        }
    }

    /// Corrupts an eligible word; the result always differs from `word`.
    pub fn corrupt(&self, word: &str, rng: &mut Rng) -> String {
        let mut out = String::with_capacity(word.len() + 4);
        self.corrupt_into(word, rng, &mut out);
        out
    }

    /// `corrupt`, appending to `out` (the hot path reuses one buffer per worker).
    pub fn corrupt_into(&self, word: &str, rng: &mut Rng, out: &mut String) {
        match self {
            ErrorModel::Keyboard(m) => m.corrupt_into(word, rng, out),
            ErrorModel::Visual(m) => m.corrupt_into(word, rng, out),
            ErrorModel::Spelling(m) => m.corrupt_into(word, rng, out),
            ErrorModel::Table(m) => m.corrupt_into(word, rng, out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qwerty_table_is_symmetric_with_110_pairs() {
        let kb = KeyboardModel::qwerty(CharsPerWord::Count(1));
        let mut pairs = 0;
        for (i, list) in kb.neighbours.iter().enumerate() {
            let a = (b'a' + i as u8) as char;
            assert!((2..=6).contains(&list.len()), "{a}");
            for n in list {
                pairs += 1;
                let back = &kb.neighbours[(n.as_bytes()[0] - b'a') as usize];
                assert!(
                    back.iter().any(|x| x.starts_with(a)),
                    "{a}->{n} not symmetric"
                );
            }
        }
        assert_eq!(pairs, 110);
    }

    #[test]
    fn keyboard_keeps_case_and_length() {
        let kb = KeyboardModel::qwerty(CharsPerWord::Count(2));
        for seed in 0..200u64 {
            let mut rng = Rng::from_state([seed, 1, 2, 3]);
            let out = kb.corrupt("EiFfel", &mut rng);
            assert_eq!(out.len(), 6);
            let changed: Vec<usize> = (0..6)
                .filter(|&i| out.as_bytes()[i] != b"EiFfel"[i])
                .collect();
            assert_eq!(changed.len(), 2, "{out}");
            for &i in &changed {
                assert_eq!(
                    out.as_bytes()[i].is_ascii_uppercase(),
                    b"EiFfel"[i].is_ascii_uppercase()
                );
            }
        }
        assert_eq!(CharsPerWord::new(0.5).unwrap().for_len(5), 3);
        assert_eq!(CharsPerWord::new(0.3).unwrap().for_len(10), 3);
        assert!(CharsPerWord::new(0.0).is_err() && CharsPerWord::new(1.5).is_err());
    }

    #[test]
    fn visual_draws_the_spec_match() {
        // corrupt_into walks to the drawn match without listing them: same choice as
        // found[uniform(|found|)] over the listed matches.
        let v = VisualModel::builtin();
        for word in [
            "language",
            "modern",
            "millimetre",
            "Oslo",
            "GODS",
            "rnrn",
            "vvv",
        ] {
            for seed in 0..50u64 {
                let mut found = Vec::new();
                v.matches(word, &mut found);
                let mut rng = Rng::from_state([seed, 11, 12, 13]);
                let (pos, r) = found[rng.uniform(found.len() as u64) as usize];
                let (src, dst) = &v.rules[r];
                let want = format!("{}{}{}", &word[..pos], dst, &word[pos + src.len()..]);
                let mut rng = Rng::from_state([seed, 11, 12, 13]);
                assert_eq!(v.corrupt(word, &mut rng), want, "{word} {seed}");
            }
        }
    }

    #[test]
    fn visual_matches_follow_the_spec_example() {
        let v = VisualModel::builtin();
        assert_eq!(v.count_matches("language"), 9);
        assert!(!v.eligible("xyk"));
        for seed in 0..100u64 {
            let mut rng = Rng::from_state([seed, 5, 6, 7]);
            assert_ne!(v.corrupt("modern", &mut rng), "modern");
        }
    }
}
