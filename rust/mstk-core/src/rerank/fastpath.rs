//! A hand-written scanner for the common shape of a re-ranking request:
//! `{"items":["…",…],"scores":[…],"providers":["…",…], other fields…}`.
//!
//! The three candidate arrays are most of every line; scanning them directly is several
//! times faster than a generic JSON parser. Anything outside the plain shape (escapes in a
//! key or an item string, a `candidates` field, a repeated key, malformed JSON) makes the
//! scanner give up and the caller re-parses the line with serde_json, which handles every
//! case and writes the error messages. So the scanner never decides that a line is bad;
//! it only accepts lines it fully understands, with results identical to the serde path
//! (numbers are correctly rounded on both paths).

use serde::Deserialize;
use serde_json::value::RawValue;

/// A field kept for output: raw key span (no escapes) and value span, offsets into the buffer.
pub struct FastField {
    pub key: (usize, usize),
    pub value: (usize, usize),
}

/// What the scanner extracted; spans are offsets into the whole buffer.
#[derive(Default)]
pub struct FastRecord {
    pub items: Vec<(usize, usize)>,
    pub scores: Vec<f64>,
    pub providers: Vec<(usize, usize)>,
    pub has_items: bool,
    pub has_scores: bool,
    pub has_providers: bool,
    pub interval: Option<i64>,
    pub ts: Option<f64>,
    pub kept: Vec<FastField>,
}

impl FastRecord {
    fn clear(&mut self) {
        self.items.clear();
        self.scores.clear();
        self.providers.clear();
        self.kept.clear();
        self.has_items = false;
        self.has_scores = false;
        self.has_providers = false;
        self.interval = None;
        self.ts = None;
    }
}

struct Cursor<'a> {
    s: &'a [u8],
    pos: usize,
    /// offset of `s` in the whole buffer
    base: usize,
}

type Scan<T> = Option<T>;

impl<'a> Cursor<'a> {
    #[inline]
    fn ws(&mut self) {
        while self.pos < self.s.len() && matches!(self.s[self.pos], b' ' | b'\t' | b'\r' | b'\n') {
            self.pos += 1;
        }
    }
    #[inline]
    fn eat(&mut self, b: u8) -> Scan<()> {
        self.ws();
        if self.s.get(self.pos) == Some(&b) {
            self.pos += 1;
            Some(())
        } else {
            None
        }
    }
    #[inline]
    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.s.get(self.pos).copied()
    }
    /// A string without escapes or control characters; returns the content span (global).
    #[inline]
    fn plain_string(&mut self) -> Scan<(usize, usize)> {
        self.eat(b'"')?;
        let start = self.pos;
        let rest = &self.s[start..];
        let len = special_byte(rest)?;
        if rest[len] != b'"' {
            return None;
        }
        self.pos = start + len + 1;
        Some((self.base + start, len))
    }
    /// A JSON number, correctly rounded.
    #[inline]
    fn number(&mut self) -> Scan<f64> {
        self.ws();
        let (v, len) = parse_number(&self.s[self.pos..])?;
        if !v.is_finite() {
            return None; // out of range: the serde path words the error
        }
        self.pos += len;
        Some(v)
    }
    /// `[e, e, …]` where `element` reads one e.
    fn array(&mut self, mut element: impl FnMut(&mut Self) -> Scan<()>) -> Scan<()> {
        self.eat(b'[')?;
        if self.peek()? == b']' {
            self.pos += 1;
            return Some(());
        }
        loop {
            element(self)?;
            match self.peek()? {
                b',' => self.pos += 1,
                b']' => {
                    self.pos += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }
    fn string_array(&mut self, out: &mut Vec<(usize, usize)>) -> Scan<()> {
        self.array(|c| c.plain_string().map(|span| out.push(span)))
    }
    fn number_array(&mut self, out: &mut Vec<f64>) -> Scan<()> {
        self.array(|c| c.number().map(|v| out.push(v)))
    }
    /// Any JSON value; returns its span (global). Plain strings, numbers and literals are
    /// read here; anything else is validated by serde_json, which needs the rest of the
    /// line as checked UTF-8 (a pass over the whole line per field, too slow for the
    /// ids and counters most records carry).
    fn raw_value(&mut self) -> Scan<(usize, usize)> {
        self.ws();
        let start = self.pos;
        let rest = &self.s[start..];
        let simple_len = match rest.first()? {
            b'"' => self.plain_string().map(|(_, len)| len + 2),
            b'-' | b'0'..=b'9' => json_number_len(rest),
            b't' if rest.starts_with(b"true") => Some(4),
            b'f' if rest.starts_with(b"false") => Some(5),
            b'n' if rest.starts_with(b"null") => Some(4),
            _ => None,
        };
        if let Some(len) = simple_len {
            self.pos = start + len;
            return Some((self.base + start, len));
        }
        self.pos = start;
        let text = std::str::from_utf8(&self.s[self.pos..]).ok()?;
        let mut de = serde_json::Deserializer::from_str(text);
        let raw = <&RawValue>::deserialize(&mut de).ok()?;
        let start = self.pos;
        self.pos += raw.get().len();
        Some((self.base + start, raw.get().len()))
    }
}

/// Index of the first `"`, `\\` or control byte of `s`, eight bytes at a time (item and
/// provider ids are short, so a word usually holds the whole string and its quote).
#[inline]
fn special_byte(s: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // The high bit of byte i of `has_zero(v)` is set for the first zero byte of v (later
    // bytes may be flagged falsely by the borrow, but only the first flag is read).
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let mut i = 0;
    while i + 8 <= s.len() {
        let x = u64::from_le_bytes(s[i..i + 8].try_into().unwrap());
        let hits = has_zero(x ^ (ONES * u64::from(b'"')))
            | has_zero(x ^ (ONES * u64::from(b'\\')))
            | (x.wrapping_sub(ONES * 0x20) & !x & HIGH); // bytes below 0x20
        if hits != 0 {
            return Some(i + (hits.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    s[i..]
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .map(|p| i + p)
}

/// 10^0 … 10^22, the powers of ten a double holds exactly.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// The JSON number at the start of `s` and its length, correctly rounded, or None.
///
/// Scores are mostly short decimals ("0.734512"): their digits fit a u64 below 2^53 and
/// the point is at most 22 places in, so the value is one division of two exact doubles,
/// which IEEE rounds correctly (Clinger's fast path). Anything else (an exponent, long
/// mantissas) goes through the general parser.
#[inline]
fn parse_number(s: &[u8]) -> Option<(f64, usize)> {
    let negative = s.first() == Some(&b'-');
    let mut i = usize::from(negative);
    let first_digit = i;
    let mut mantissa = 0u64;
    let take_digits = |i: &mut usize, mantissa: &mut u64| {
        while let Some(&c) = s.get(*i) {
            if !c.is_ascii_digit() {
                break;
            }
            // wraps only past 19 digits, which the fast path below refuses
            *mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(c - b'0'));
            *i += 1;
        }
    };
    match s.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => take_digits(&mut i, &mut mantissa),
        _ => return None,
    }
    let mut digits = i - first_digit;
    let mut decimals = 0;
    if s.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        take_digits(&mut i, &mut mantissa);
        decimals = i - start;
        if decimals == 0 {
            return None;
        }
        digits += decimals;
    }
    if !matches!(s.get(i), Some(b'e' | b'E'))
        && digits <= 19
        && mantissa <= 1 << 53
        && decimals < POW10.len()
    {
        let v = mantissa as f64 / POW10[decimals];
        return Some((if negative { -v } else { v }, i));
    }
    let len = json_number_len(s)?;
    let v: f64 = fast_float2::parse(&s[..len]).ok()?;
    Some((v, len))
}

/// Length of the JSON number at the start of `s` (grammar checked), or None.
#[inline]
fn json_number_len(s: &[u8]) -> Option<usize> {
    // index just past a run of digits starting at i
    let digits = |mut i: usize| {
        while matches!(s.get(i), Some(b'0'..=b'9')) {
            i += 1;
        }
        i
    };
    let mut i = usize::from(s.first() == Some(&b'-'));
    match s.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => i = digits(i),
        _ => return None,
    }
    if s.get(i) == Some(&b'.') {
        let end = digits(i + 1);
        if end == i + 1 {
            return None;
        }
        i = end;
    }
    if matches!(s.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(s.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let end = digits(i);
        if end == i {
            return None;
        }
        i = end;
    }
    Some(i)
}

/// Scan `line` (which starts at `base` in the buffer); None = use the serde path.
pub fn scan(
    line: &[u8],
    base: usize,
    skip_output_fields: &[&str],
    rec: &mut FastRecord,
) -> Option<()> {
    rec.clear();
    let mut c = Cursor {
        s: line,
        pos: 0,
        base,
    };
    c.eat(b'{')?;
    if c.peek()? == b'}' {
        c.pos += 1;
    } else {
        loop {
            let key = c.plain_string()?;
            c.eat(b':')?;
            let name = &line[key.0 - base..key.0 - base + key.1];
            match name {
                b"items" if !rec.has_items => {
                    rec.has_items = true;
                    c.string_array(&mut rec.items)?;
                }
                b"scores" if !rec.has_scores => {
                    rec.has_scores = true;
                    c.number_array(&mut rec.scores)?;
                }
                b"providers" if !rec.has_providers => {
                    rec.has_providers = true;
                    c.string_array(&mut rec.providers)?;
                }
                b"items" | b"scores" | b"providers" | b"candidates" => return None,
                _ => {
                    let value = c.raw_value()?;
                    let text = std::str::from_utf8(&line[value.0 - base..value.0 - base + value.1])
                        .ok()?;
                    if name == b"interval" {
                        let v: i64 = serde_json::from_str(text).ok()?;
                        if v.unsigned_abs() > super::requests::MAX_INTERVAL {
                            return None; // the general path reports it
                        }
                        rec.interval = Some(v);
                    } else if name == b"ts" {
                        rec.ts = Some(serde_json::from_str(text).ok()?);
                    }
                    let name = std::str::from_utf8(name).ok()?;
                    if rec
                        .kept
                        .iter()
                        .any(|f| &line[f.key.0 - base..f.key.0 - base + f.key.1] == name.as_bytes())
                    {
                        return None; // repeated key: let serde decide
                    }
                    if !skip_output_fields.contains(&name) {
                        rec.kept.push(FastField { key, value });
                    } else {
                        // still remember it for the repeated-key check
                        rec.kept.push(FastField {
                            key,
                            value: (usize::MAX, 0),
                        });
                    }
                }
            }
            match c.peek()? {
                b',' => c.pos += 1,
                b'}' => {
                    c.pos += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    c.ws();
    if c.pos != line.len() {
        return None;
    }
    rec.kept.retain(|f| f.value.0 != usize::MAX);
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_grammar() {
        for ok in ["0", "-0", "1.5", "12e3", "1E-7", "-0.25e+2"] {
            assert_eq!(json_number_len(ok.as_bytes()), Some(ok.len()), "{ok}");
        }
        for bad in ["+1", ".5", "1.", "01x", "-", "1e", "nan", "inf"] {
            let n = json_number_len(bad.as_bytes());
            assert!(
                n.is_none() || n != Some(bad.len()) || bad == "01x",
                "{bad}: {n:?}"
            );
        }
        assert_eq!(json_number_len(b"01"), Some(1)); // then the ',' check fails on '1'
    }

    #[test]
    fn numbers_equal_the_standard_parser() {
        // std's f64 parser rounds correctly; every form the grammar allows, fast path or not
        let mut state = 0x2545F4914F6CDD1Du64;
        let mut next = |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        let mut cases: Vec<String> = [
            "0",
            "-0",
            "0.0",
            "-0.0",
            "1",
            "0.5",
            "0.734512",
            "9007199254740992",
            "9007199254740993",
            "18446744073709551615",
            "99999999999999999999",
            "1e22",
            "1.5E-7",
            "-2.5e+3",
            "0.0000000000000000000001",
            "0.00000000000000000000001",
            "123456789012345678.9",
            "1.7976931348623157e308",
            "4.9e-324",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for _ in 0..20_000 {
            let int_digits = 1 + next(12) as usize;
            let mut t = String::new();
            if next(4) == 0 {
                t.push('-');
            }
            t.push(char::from(b'1' + next(9) as u8));
            for _ in 1..int_digits {
                t.push(char::from(b'0' + next(10) as u8));
            }
            if next(3) == 0 {
                t = t.replacen(|c: char| c.is_ascii_digit(), "0", 1);
                t.truncate(t.find('0').unwrap() + 1);
            }
            if next(4) != 0 {
                t.push('.');
                for _ in 0..1 + next(24) {
                    t.push(char::from(b'0' + next(10) as u8));
                }
            }
            if next(5) == 0 {
                t.push_str(&format!("e{}", next(40) as i64 - 20));
            }
            cases.push(t);
        }
        for case in &cases {
            let want: f64 = case.parse().unwrap();
            let (got, len) = parse_number(format!("{case},").as_bytes()).unwrap();
            assert_eq!(len, case.len(), "{case}");
            assert_eq!(got.to_bits(), want.to_bits(), "{case}: {got} vs {want}");
        }
        for bad in ["-", ".5", "1.", "+1", "e5", "-a"] {
            assert!(
                parse_number(bad.as_bytes()).is_none_or(|(_, n)| n != bad.len()),
                "{bad}"
            );
        }
    }

    #[test]
    fn special_byte_finds_the_first_quote_backslash_or_control() {
        let mut state = 7u64;
        for _ in 0..20_000 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let len = (state >> 58) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|j| {
                    let r = (state >> (j % 48)) as u8;
                    match r % 23 {
                        0 => b'"',
                        1 => b'\\',
                        2 => r % 0x20,
                        3 => 0x80 | r,
                        _ => b'a' + r % 26,
                    }
                })
                .collect();
            let want = bytes
                .iter()
                .position(|&b| b == b'"' || b == b'\\' || b < 0x20);
            assert_eq!(special_byte(&bytes), want, "{bytes:?}");
        }
    }

    #[test]
    fn scans_the_plain_shape_and_gives_up_on_the_rest() {
        let mut rec = FastRecord::default();
        let line = br#"{"id":"r1","items":["a","b"],"scores":[0.5, 2e0],"providers":["P","Q"],"x":{"y":[1]}}"#;
        assert!(scan(line, 10, &["interval"], &mut rec).is_some());
        assert_eq!(rec.items, vec![(10 + 21, 1), (10 + 25, 1)]);
        assert_eq!(rec.scores, vec![0.5, 2.0]);
        assert_eq!(rec.kept.len(), 2);
        for giveup in [
            &br#"{"items":["a\n"],"scores":[1]}"#[..],
            br#"{"items":["a"],"items":["b"],"scores":[1]}"#,
            br#"{"candidates":[]}"#,
            br#"{"items":["a"],"scores":[01]}"#,
            br#"{"items":["a"],"scores":[1],}"#,
            br#"{"items":["a"],"scores":[1]} x"#,
            br#"{"id":1,"id":2,"items":["a"],"scores":[1]}"#,
            br#"{"items":["a"],"scores":[1e999]}"#,
            br#"{"k\u0041":1,"items":["a"],"scores":[1]}"#,
        ] {
            assert!(
                scan(giveup, 0, &[], &mut rec).is_none(),
                "{}",
                String::from_utf8_lossy(giveup)
            );
        }
    }
}
