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
        let len = rest
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
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
        let rest = &self.s[self.pos..];
        let len = json_number_len(rest)?;
        let v: f64 = fast_float2::parse(&rest[..len]).ok()?;
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
    /// Any JSON value, validated by serde_json; returns its span (global).
    fn raw_value(&mut self) -> Scan<(usize, usize)> {
        self.ws();
        let text = std::str::from_utf8(&self.s[self.pos..]).ok()?;
        let mut de = serde_json::Deserializer::from_str(text);
        let raw = <&RawValue>::deserialize(&mut de).ok()?;
        let start = self.pos;
        self.pos += raw.get().len();
        Some((self.base + start, raw.get().len()))
    }
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
