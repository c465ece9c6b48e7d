//! `mstk rerank --method topk` as one pass over each block: parse, normalise, select and
//! write every chunk of lines on its own thread.
//!
//! Top-K needs nothing from other requests, so the general path's work between parsing
//! and writing (merging the chunks into one batch, handing flat arrays to Python and back,
//! a processing order, a separate normalisation pass) buys it nothing. Here each chunk
//! stays the batch `RequestBatch::parse_range` made of it, and only the interval clock,
//! which carries over from earlier records, runs between the two parallel passes. The
//! output is byte for byte the general path's (the CLI's tests compare the two).

use rayon::prelude::*;

use super::normalize::{normalize_in_place, Normalization};
use super::requests::{
    line_chunks, BadLine, Interner, ListResults, MissingProvider, ProviderJson, RequestBatch,
    MISSING_INTERVAL,
};
use super::topk::{topk_priced, TopKScratch};
use crate::error::{CoreError, CoreResult};
use crate::metrics::{dcg_in_order, position_weights};

/// Input bytes per chunk: small enough that a chunk's input is still in cache when it is
/// written, large enough to keep the per-chunk setup negligible.
const CHUNK_BYTES: usize = 1 << 19;

/// Interval numbers for requests without an explicit `interval`, as the general path's
/// `IntervalClock` assigns them: n = ⌊ts/len⌋ − ⌊ts₀/len⌋, ts₀ the first timestamp seen.
#[derive(Debug, Clone)]
pub struct StreamClock {
    /// Interval length in the unit of `ts`.
    pub length: f64,
    pub origin: Option<f64>,
    /// Whether any request so far had an `interval` or a `ts`.
    pub saw_time: bool,
}

/// Configured top-K over a stream of blocks; exposure accumulates across blocks.
pub struct TopKStream {
    pub k: usize,
    pub normalization: Normalization,
    pub keep_candidates: bool,
    pub missing_provider: MissingProvider,
    /// Stop at the first bad line (an error) rather than report it and go on.
    pub stop_at_first: bool,
    pub clock: StreamClock,
    providers: Interner,
    exposure: Vec<f64>,
}

/// One block's results: the output in pieces, in input order.
pub struct StreamBlock {
    pub parts: Vec<Vec<u8>>,
    pub n_requests: usize,
    pub next_line: u64,
    /// Bad lines (only when not `stop_at_first`), in line order.
    pub bad: Vec<BadLine>,
    /// What stopped the block (then nothing is written): the first bad line with
    /// `stop_at_first`, or an error of the block as a whole, which comes after `bad` (the
    /// general path reports the skipped lines before it fails).
    pub error: Option<CoreError>,
}

struct Chunk {
    batch: RequestBatch,
    /// Normalised scores (what selection uses and `rec_scores` shows).
    score: Vec<f64>,
    interval: Vec<i64>,
}

impl TopKStream {
    pub fn new(
        k: usize,
        normalization: Normalization,
        keep_candidates: bool,
        missing_provider: MissingProvider,
        stop_at_first: bool,
        clock: StreamClock,
    ) -> TopKStream {
        TopKStream {
            k,
            normalization,
            keep_candidates,
            missing_provider,
            stop_at_first,
            clock,
            providers: Interner::default(),
            exposure: Vec::new(),
        }
    }

    /// Times each provider was shown so far (every provider seen, shown or not), in order
    /// of first appearance.
    pub fn exposure(&self) -> impl Iterator<Item = (&str, f64)> {
        self.providers.names().zip(self.exposure.iter().copied())
    }

    /// Re-rank the whole lines of `buf`, the first numbered `first_line`.
    pub fn process(&mut self, buf: &[u8], first_line: u64) -> StreamBlock {
        let n_chunks = (buf.len() / CHUNK_BYTES).max(4 * rayon::current_num_threads());
        let (mode, keep, missing, stop) = (
            self.normalization,
            self.keep_candidates,
            self.missing_provider,
            self.stop_at_first,
        );
        let parsed: Vec<(Chunk, Vec<BadLine>, u64)> = line_chunks(buf, n_chunks)
            .into_par_iter()
            .map(|range| {
                let room = range.len();
                let (batch, bad, newlines) =
                    RequestBatch::parse_range(buf, range, 0, room, keep, missing, stop);
                let mut score = batch.score.clone();
                if !score.is_empty() {
                    normalize_in_place(&batch.offsets, &mut score, mode);
                }
                let chunk = Chunk {
                    batch,
                    score,
                    interval: Vec::new(),
                };
                (chunk, bad, newlines)
            })
            .collect();

        // Number the lines: each chunk counted from 0.
        let mut chunks = Vec::with_capacity(parsed.len());
        let mut bad = Vec::new();
        let mut line = first_line;
        for (mut chunk, chunk_bad, newlines) in parsed {
            chunk.batch.line.iter_mut().for_each(|l| *l += line);
            bad.extend(chunk_bad.into_iter().map(|b| BadLine {
                line: b.line + line,
                reason: b.reason,
            }));
            line += newlines;
            chunks.push(chunk);
        }
        let mut block = StreamBlock {
            parts: Vec::new(),
            n_requests: 0,
            next_line: line + u64::from(!buf.is_empty() && !buf.ends_with(b"\n")),
            bad: Vec::new(),
            error: None,
        };
        if stop {
            if let Some(first) = bad.into_iter().next() {
                block.error = Some(CoreError::record(first.line, first.reason));
                return block;
            }
        } else {
            block.bad = bad;
        }
        match self
            .assign_intervals(&mut chunks)
            .and_then(|()| self.select_and_write(buf, &chunks))
        {
            Ok((parts, n_requests)) => {
                block.parts = parts;
                block.n_requests = n_requests;
            }
            Err(error) => block.error = Some(error),
        }
        block
    }

    /// Top-K of every request, written per chunk in parallel; exposure is counted.
    fn select_and_write(
        &mut self,
        buf: &[u8],
        chunks: &[Chunk],
    ) -> CoreResult<(Vec<Vec<u8>>, usize)> {
        let k = self.k;
        let written: Vec<CoreResult<(Vec<u8>, Vec<f64>)>> = chunks
            .par_iter()
            .map(|chunk| select_and_write_chunk(buf, chunk, k))
            .collect();
        let mut parts = Vec::with_capacity(written.len());
        let mut n_requests = 0;
        let mut shown_per_chunk = Vec::with_capacity(written.len());
        for (chunk, result) in chunks.iter().zip(written) {
            let (out, shown) = result?; // the first error in input order
            n_requests += chunk.batch.n_requests();
            parts.push(out);
            shown_per_chunk.push(shown);
        }
        for (chunk, shown) in chunks.iter().zip(shown_per_chunk) {
            for (name, count) in chunk.batch.providers.names().zip(shown) {
                let id = self.providers.intern(name) as usize;
                if id == self.exposure.len() {
                    self.exposure.push(0.0);
                }
                self.exposure[id] += count;
            }
        }
        Ok((parts, n_requests))
    }

    /// Each request's own `interval`, else one from its `ts`, else 0 when no request so
    /// far carried either; the same rules and errors as the general path, whose clock also
    /// decides over a whole block at once.
    fn assign_intervals(&mut self, chunks: &mut [Chunk]) -> CoreResult<()> {
        let requests = || {
            chunks
                .iter()
                .flat_map(|c| (0..c.batch.n_requests()).map(move |r| (&c.batch, r)))
        };
        let (mut any_missing, mut all_need) = (false, true);
        let (mut first_need, mut first_ts) = (None, None);
        for (batch, r) in requests() {
            let (missing, ts) = (batch.interval[r] == MISSING_INTERVAL, batch.ts[r]);
            if !missing || !ts.is_nan() {
                self.clock.saw_time = true;
                all_need = false;
            } else if first_need.is_none() {
                first_need = Some(batch.line[r]);
            }
            if !ts.is_nan() && first_ts.is_none() {
                first_ts = Some(ts);
            }
            any_missing |= missing;
        }
        let length = self.clock.length;
        let mut origin_interval = 0.0;
        if any_missing {
            if let (Some(line), true) = (first_need, self.clock.saw_time) {
                return Err(CoreError::record(
                    line,
                    "request has neither 'interval' nor 'ts' while other requests do (give every request one of them)",
                ));
            }
            if !all_need {
                // ±2^53 intervals at most: beyond that numbers lose integer precision (and
                // could reach the missing-interval sentinel)
                let too_far = requests().find(|&(b, r)| {
                    b.interval[r] == MISSING_INTERVAL && beyond_interval_range(b.ts[r], length)
                });
                if let Some((batch, r)) = too_far {
                    let message = format!(
                        "'ts' {} is out of range for --interval",
                        python_float_repr(batch.ts[r])
                    );
                    return Err(CoreError::record(batch.line[r], message));
                }
                let first = first_ts.expect("a request without interval has a ts here");
                origin_interval = (*self.clock.origin.get_or_insert(first) / length).floor();
            }
        }
        for chunk in chunks.iter_mut() {
            let batch = &chunk.batch;
            chunk.interval = batch
                .interval
                .iter()
                .zip(&batch.ts)
                .map(|(&interval, &ts)| match interval {
                    MISSING_INTERVAL if ts.is_nan() => 0, // no request has a time (else an error above)
                    MISSING_INTERVAL => ((ts / length).floor() - origin_interval) as i64,
                    explicit => explicit,
                })
                .collect();
        }
        Ok(())
    }
}

/// Whether ts/length is too far from 0 for an interval number (NaN counts as too far).
#[allow(clippy::neg_cmp_op_on_partial_ord)] // the negation is what makes NaN fail
fn beyond_interval_range(ts: f64, length: f64) -> bool {
    !(ts.abs() / length < 9007199254740992.0)
}

/// Top-K of every request of `chunk`, written; also how often each of the chunk's
/// providers was shown.
fn select_and_write_chunk(buf: &[u8], chunk: &Chunk, k: usize) -> CoreResult<(Vec<u8>, Vec<f64>)> {
    let batch = &chunk.batch;
    let t = batch.n_requests();
    let longest = batch
        .offsets
        .windows(2)
        .map(|w| (w[1] - w[0]) as usize)
        .max()
        .unwrap_or(0);
    let weights = position_weights(k.min(longest));
    let mut scratch = TopKScratch::default();
    let mut list = Vec::new();
    let mut sel = Vec::with_capacity(t * k.min(longest));
    let mut sel_offsets = Vec::with_capacity(t + 1);
    sel_offsets.push(0i64);
    let mut dcg = Vec::with_capacity(t);
    let mut shown = vec![0.0f64; batch.providers.len()];
    for w in batch.offsets.windows(2) {
        let range = w[0] as usize..w[1] as usize;
        let (score, provider) = (&chunk.score[range.clone()], &batch.provider[range]);
        topk_priced(score, provider, None, 1.0, k, None, &mut scratch, &mut list);
        for &j in &list {
            sel.push(j as i32);
            shown[provider[j as usize] as usize] += 1.0;
        }
        sel_offsets.push(sel.len() as i64);
        dcg.push(dcg_in_order(
            list.iter().map(|&j| score[j as usize]),
            &weights,
        ));
    }
    let lists = ListResults {
        interval: &chunk.interval,
        rec_score: &chunk.score,
        sel_offsets: &sel_offsets,
        sel: &sel,
        dcg: &dcg,
        idcg: &dcg, // every top-K list is its request's ideal list
    };
    let out = batch.write_range(buf, 0..t, &lists, &ProviderJson::of(&batch.providers))?;
    Ok((out, shown))
}

/// `repr(v)` as Python writes a float (error messages quote values the way the rest of
/// the CLI, written in Python, does): the shortest round-trip digits, positional for
/// decimal exponents −4 ≤ e < 16, else `d.ddde±XX`.
pub fn python_float_repr(v: f64) -> String {
    if !v.is_finite() {
        return if v.is_nan() {
            "nan".into()
        } else if v > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    let sci = format!("{:e}", v.abs()); // shortest digits, "d.ddde±x"
    let (mantissa, exp) = sci.split_once('e').expect("{:e} has an exponent");
    let exp: i32 = exp.parse().expect("{:e} exponent is an integer");
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let sign = if v.is_sign_negative() { "-" } else { "" };
    let n = digits.len() as i32;
    let body = if (-4..16).contains(&exp) {
        let point = exp + 1; // digits before the decimal point
        if point <= 0 {
            format!("0.{}{}", "0".repeat((-point) as usize), digits)
        } else if point < n {
            format!(
                "{}.{}",
                &digits[..point as usize],
                &digits[point as usize..]
            )
        } else {
            format!("{}{}.0", digits, "0".repeat((point - n) as usize))
        }
    } else {
        let mantissa = if n > 1 {
            format!("{}.{}", &digits[..1], &digits[1..])
        } else {
            digits
        };
        format!(
            "{}e{}{:02}",
            mantissa,
            if exp < 0 { '-' } else { '+' },
            exp.abs()
        )
    };
    format!("{sign}{body}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_repr_follows_pythons_rules() {
        // each case checked against CPython 3.11's repr()
        for (v, want) in [
            (1e300, "1e+300"),
            (-1.5e300, "-1.5e+300"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (123.456, "123.456"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (2.5e-7, "2.5e-07"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (9007199254740993.0, "9007199254740992.0"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
        ] {
            assert_eq!(python_float_repr(v), want, "{v:e}");
        }
    }
}
