//! Eligible words (spec inject-errors §4.3), shared by every error model.
//!
//! A candidate is a maximal run of ASCII letters that is not glued to other word material
//! (a non-ASCII letter, a mark, a digit, a joiner, an apostrophe or a hyphen), is long
//! enough, is not a protected stopword and does not overlap a URL, e-mail or `{slot}`.
//! Character classes come from tables generated from Python's `unicodedata` so that the
//! Python reference and this scanner agree on every code point.

use super::unicode_tables::{WHITE_SPACE, WORD_JOINERS};

/// One eligible word: byte offsets into the text (for slicing) and code-point offsets
/// (what the edit log reports).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub start_byte: usize,
    pub end_byte: usize,
    pub start_cp: usize,
    pub end_cp: usize,
}

#[derive(Clone, Debug)]
pub struct ScanOpts {
    pub min_word_len: usize,
    pub protect_stopwords: bool,
}

impl Default for ScanOpts {
    fn default() -> Self {
        ScanOpts {
            min_word_len: 3,
            protect_stopwords: true,
        }
    }
}

/// mstk's own 104 protected stopwords, sorted for binary search.
pub const STOPWORDS: [&str; 104] = {
    let mut words = [
        "the", "and", "for", "are", "but", "not", "nor", "yet", "you", "your", "yours", "she",
        "her", "hers", "him", "his", "its", "our", "ours", "they", "them", "their", "theirs",
        "this", "that", "these", "those", "who", "whom", "whose", "what", "which", "when", "where",
        "why", "how", "all", "any", "both", "each", "few", "more", "most", "other", "some", "such",
        "only", "own", "same", "than", "too", "very", "can", "could", "will", "would", "shall",
        "should", "may", "might", "must", "has", "had", "have", "having", "was", "were", "been",
        "being", "does", "did", "doing", "done", "into", "onto", "upon", "from", "with", "within",
        "without", "about", "above", "below", "over", "under", "after", "before", "between",
        "through", "during", "again", "further", "then", "once", "here", "there", "off", "out",
        "also", "just", "because", "until", "while", "against",
    ];
    // const insertion sort: the list stays readable in the spec's order above.
    let mut i = 1;
    while i < words.len() {
        let mut j = i;
        while j > 0 && str_lt(words[j], words[j - 1]) {
            let t = words[j];
            words[j] = words[j - 1];
            words[j - 1] = t;
            j -= 1;
        }
        i += 1;
    }
    words
};

const fn str_lt(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut i = 0;
    while i < a.len() && i < b.len() {
        if a[i] != b[i] {
            return a[i] < b[i];
        }
        i += 1;
    }
    a.len() < b.len()
}

/// Slots of the stopword hash table (a power of two, about 2.5× the word count, so a miss
/// usually ends at the first empty slot).
const STOPWORD_SLOTS: usize = 256;

/// The stopwords packed as little-endian u64s (all are ASCII and at most 8 bytes) in an
/// open-addressing table built at compile time: the check runs once per candidate word,
/// and one multiply plus a probe or two beat a binary search's unpredictable branches.
static STOPWORD_TABLE: [u64; STOPWORD_SLOTS] = {
    let mut table = [0u64; STOPWORD_SLOTS];
    let mut w = 0;
    while w < STOPWORDS.len() {
        let key = pack_const(STOPWORDS[w].as_bytes());
        let mut slot = stopword_slot(key);
        while table[slot] != 0 {
            slot = (slot + 1) % STOPWORD_SLOTS;
        }
        table[slot] = key;
        w += 1;
    }
    table
};

const fn pack_const(word: &[u8]) -> u64 {
    assert!(word.len() <= 8, "stopwords are at most 8 letters");
    let mut key = 0u64;
    let mut i = 0;
    while i < word.len() {
        key |= (word[i].to_ascii_lowercase() as u64) << (8 * i);
        i += 1;
    }
    key
}

const fn stopword_slot(key: u64) -> usize {
    (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as usize % STOPWORD_SLOTS
}

/// Whether `word` (ASCII letters, any case) is a protected stopword.
pub fn is_stopword(word: &str) -> bool {
    is_stopword_bytes(word.as_bytes())
}

fn is_stopword_bytes(bytes: &[u8]) -> bool {
    if bytes.is_empty() || bytes.len() > 8 {
        return false;
    }
    let mut buf = [0u8; 8];
    buf[..bytes.len()].copy_from_slice(bytes);
    // Setting bit 5 lowercases ASCII letters; a byte that is not a letter never becomes
    // one this way, so only real case variants of a stopword can match.
    let mask = u64::MAX >> (8 * (8 - bytes.len()));
    let key = u64::from_le_bytes(buf) | (0x2020_2020_2020_2020 & mask);
    let mut slot = stopword_slot(key);
    loop {
        let entry = STOPWORD_TABLE[slot];
        if entry == 0 {
            return false;
        }
        if entry == key {
            return true;
        }
        slot = (slot + 1) % STOPWORD_SLOTS;
    }
}

pub fn is_white_space(c: char) -> bool {
    WHITE_SPACE.binary_search(&(c as u32)).is_ok()
}

/// A character that, next to an ASCII letter run, makes the run part of a larger word.
fn glues(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric() || matches!(c, '_' | '\'' | '-');
    }
    if matches!(c, '\u{2019}' | '\u{2010}') {
        return true;
    }
    let cp = c as u32;
    let i = WORD_JOINERS.partition_point(|&(_, hi)| hi < cp);
    i < WORD_JOINERS.len() && WORD_JOINERS[i].0 <= cp
}

fn has_www(bytes: &[u8]) -> bool {
    memchr::memchr_iter(b'.', bytes)
        .any(|dot| dot >= 3 && bytes[dot - 3..dot].eq_ignore_ascii_case(b"www"))
}

/// Byte ranges no edit may touch: URL-like or e-mail-like tokens and `{slot}`s.
fn protected_ranges(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let has_token_marker = memchr::memchr(b'@', bytes).is_some()
        || memchr::memmem::find(bytes, b"://").is_some()
        || has_www(bytes);
    if has_token_marker {
        let mut start: Option<usize> = None;
        let check = |s: usize, e: usize, out: &mut Vec<(usize, usize)>| {
            let tok = &bytes[s..e];
            let url_like = tok.len() >= 4 && tok[..4].eq_ignore_ascii_case(b"www.");
            if url_like
                || memchr::memchr(b'@', tok).is_some()
                || memchr::memmem::find(tok, b"://").is_some()
            {
                out.push((s, e));
            }
        };
        for (i, c) in text.char_indices() {
            if is_white_space(c) {
                if let Some(s) = start.take() {
                    check(s, i, &mut out);
                }
            } else if start.is_none() {
                start = Some(i);
            }
        }
        if let Some(s) = start {
            check(s, bytes.len(), &mut out);
        }
    }
    // `{…}` with no brace inside: the innermost pairs of a nesting are still slots, an
    // unclosed `{` protects nothing.
    let mut open: Option<usize> = None;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'{' => open = Some(i),
            b'}' => {
                if let Some(s) = open.take() {
                    out.push((s, i + 1));
                }
            }
            _ => {}
        }
    }
    out
}

/// The eligible words of `text`, in text order.
pub fn scan_words(text: &str, opts: &ScanOpts) -> Vec<Span> {
    let mut spans = Vec::new();
    scan_words_into(text, opts, &mut spans);
    spans
}

/// `scan_words` into a reused buffer (the hot path calls this once per record).
pub fn scan_words_into(text: &str, opts: &ScanOpts, spans: &mut Vec<Span>) {
    spans.clear();
    let bytes = text.as_bytes();
    let ascii = bytes.is_ascii();
    let protected = if memchr::memchr3(b'@', b'{', b'/', bytes).is_some() || has_www(bytes) {
        protected_ranges(text)
    } else {
        Vec::new()
    };
    if ascii {
        scan_ascii(bytes, opts, &protected, spans);
        return;
    }
    let mut i = 0;
    let mut cp = 0; // code points before byte i
    let mut prev: Option<char> = None;
    while i < bytes.len() {
        if !bytes[i].is_ascii_alphabetic() {
            let c = if ascii {
                bytes[i] as char
            } else {
                text[i..].chars().next().unwrap_or('\0')
            };
            prev = Some(c);
            i += c.len_utf8();
            cp += 1;
            continue;
        }
        let start = i;
        let start_cp = cp;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        cp += i - start;
        let next = if i < bytes.len() {
            if ascii {
                Some(bytes[i] as char)
            } else {
                text[i..].chars().next()
            }
        } else {
            None
        };
        let word = &text[start..i];
        let ok = !prev.is_some_and(glues)
            && !next.is_some_and(glues)
            && word.len() >= opts.min_word_len
            && !(opts.protect_stopwords && is_stopword(word))
            && !protected.iter().any(|&(s, e)| start < e && s < i);
        if ok {
            spans.push(Span {
                start_byte: start,
                end_byte: i,
                start_cp,
                end_cp: cp,
            });
        }
        prev = word.chars().last();
    }
}

/// The common all-ASCII case: byte offsets are code-point offsets and every neighbour test
/// is a byte test.
fn scan_ascii(bytes: &[u8], opts: &ScanOpts, protected: &[(usize, usize)], spans: &mut Vec<Span>) {
    let glues_byte = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'\'' | b'-');
    let n = bytes.len();
    let mut i = 0;
    while i < n {
        while i < n && !bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        if i == n {
            break;
        }
        let start = i;
        while i < n && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        let ok = !(start > 0 && glues_byte(bytes[start - 1]))
            && !(i < n && glues_byte(bytes[i]))
            && i - start >= opts.min_word_len
            && !(opts.protect_stopwords && is_stopword_bytes(&bytes[start..i]))
            && !protected.iter().any(|&(s, e)| start < e && s < i);
        if ok {
            spans.push(Span {
                start_byte: start,
                end_byte: i,
                start_cp: start,
                end_cp: i,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<&str> {
        scan_words(text, &ScanOpts::default())
            .iter()
            .map(|s| &text[s.start_byte..s.end_byte])
            .collect()
    }

    #[test]
    fn spec_example_sentence() {
        let text = "Who's the naïve Müller of x2y state-of-the-art e-mail café? Visit www.ex.com or {slot} now, Nobel prize";
        assert_eq!(words(text), ["Visit", "now", "Nobel", "prize"]);
    }

    #[test]
    fn glued_material_blocks_a_word() {
        for text in [
            "cafe\u{301}",
            "prize\u{200d}",
            "don\u{2019}t",
            "x\u{2010}ray",
            "abc_def",
            "\u{e9}abc",
            "abc\u{663}",
            "x2y",
            "e-mail",
        ] {
            assert!(words(text).is_empty(), "{text}");
        }
        assert_eq!(words("cafe\u{301} prize\u{200d} tower"), ["tower"]);
    }

    #[test]
    fn offsets_count_code_points() {
        let text = "日本 tower ☃ prize";
        let spans = scan_words(text, &ScanOpts::default());
        assert_eq!(spans.len(), 2);
        assert_eq!((spans[0].start_cp, spans[0].end_cp), (3, 8));
        assert_eq!((spans[1].start_cp, spans[1].end_cp), (11, 16));
        assert_eq!(&text[spans[1].start_byte..spans[1].end_byte], "prize");
    }

    #[test]
    fn stopwords_and_length() {
        assert_eq!(words("The tower is WHICH and ox"), ["tower"]);
        let opts = ScanOpts {
            min_word_len: 2,
            protect_stopwords: false,
        };
        let spans = scan_words("The is ox", &opts);
        assert_eq!(spans.len(), 3);
        assert_eq!(STOPWORDS.len(), 104);
        assert!(
            STOPWORDS.windows(2).all(|w| w[0] < w[1]),
            "stopwords sorted and unique"
        );
        for w in STOPWORDS {
            assert!(is_stopword(w) && is_stopword(&w.to_uppercase()), "{w}");
        }
        for w in [
            "", "th", "thee", "tHe", "thesE", "againstt", "ag@inst", "@gainst", "tower",
        ] {
            assert_eq!(
                is_stopword(w),
                STOPWORDS.contains(&w.to_lowercase().as_str()),
                "{w}"
            );
        }
    }

    #[test]
    fn protected_tokens() {
        assert_eq!(words("mail bob@example.org now"), ["mail", "now"]);
        assert_eq!(words("see https://example.org/tower now"), ["see", "now"]);
        assert_eq!(words("see WWW.tower.com now"), ["see", "now"]);
        assert_eq!(
            words("a {first name} tower {unclosed tower"),
            ["tower", "unclosed", "tower"]
        );
        assert_eq!(words("{a {inner word} outer}"), ["outer"]);
    }
}
