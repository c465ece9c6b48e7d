//! A ragged batch of re-ranking requests: flat candidate arrays plus request offsets,
//! the same shape that crosses the Python boundary (numpy arrays, no Python objects).

use crate::error::{CoreError, CoreResult};

#[derive(Debug, Clone, Copy)]
pub struct Ragged<'a> {
    /// `offsets[t]..offsets[t+1]` are request t's candidates; `offsets[0] == 0`.
    pub offsets: &'a [i64],
    pub score: &'a [f64],
    /// Provider id of each candidate, in `0..n_providers`.
    pub provider: &'a [i32],
    pub n_providers: usize,
}

impl<'a> Ragged<'a> {
    /// Checks every structural precondition once, so kernels can index without panicking.
    pub fn new(
        offsets: &'a [i64],
        score: &'a [f64],
        provider: &'a [i32],
        n_providers: usize,
    ) -> CoreResult<Self> {
        check_shape(offsets, score.len(), provider.len())?;
        // A fold without early exit vectorises (`all` stops at each element, so it does not);
        // chunks keep the early exit coarse. Look for the culprit only on failure.
        if !score.chunks(CHUNK).all(all_finite) {
            return Err(non_finite_score(score));
        }
        if !provider.chunks(CHUNK).all(|c| all_below(c, n_providers)) {
            return Err(provider_out_of_range(provider, n_providers));
        }
        Ok(Ragged {
            offsets,
            score,
            provider,
            n_providers,
        })
    }

    pub fn n_requests(&self) -> usize {
        self.offsets.len() - 1
    }

    #[inline]
    pub fn range(&self, t: usize) -> std::ops::Range<usize> {
        self.offsets[t] as usize..self.offsets[t + 1] as usize
    }
}

/// A ragged batch that owns its arrays, checked while they were copied in.
///
/// The bindings copy their inputs before releasing the GIL; checking each chunk as it is
/// copied, while it is in cache, saves `Ragged::new`'s separate pass over memory (these
/// kernels are bound by memory, and that pass was a tenth of a top-K run).
#[derive(Debug, Clone)]
pub struct RaggedBuf {
    offsets: Vec<i64>,
    score: Vec<f64>,
    provider: Vec<i32>,
    n_providers: usize,
}

impl RaggedBuf {
    /// Copy the arrays, with the checks of `Ragged::new` (and its errors).
    pub fn copy_checked(
        offsets: &[i64],
        score: &[f64],
        provider: &[i32],
        n_providers: usize,
    ) -> CoreResult<RaggedBuf> {
        check_shape(offsets, score.len(), provider.len())?;
        let mut copied_score = Vec::with_capacity(score.len());
        let mut copied_provider = Vec::with_capacity(provider.len());
        let (mut finite, mut in_range) = (true, true);
        for (s, p) in score.chunks(CHUNK).zip(provider.chunks(CHUNK)) {
            copied_score.extend_from_slice(s);
            copied_provider.extend_from_slice(p);
            finite &= all_finite(s);
            in_range &= all_below(p, n_providers);
        }
        if !finite {
            return Err(non_finite_score(score));
        }
        if !in_range {
            return Err(provider_out_of_range(provider, n_providers));
        }
        Ok(RaggedBuf {
            offsets: offsets.to_vec(),
            score: copied_score,
            provider: copied_provider,
            n_providers,
        })
    }

    /// The batch as kernels take it (checked when it was built).
    pub fn view(&self) -> Ragged<'_> {
        Ragged {
            offsets: &self.offsets,
            score: &self.score,
            provider: &self.provider,
            n_providers: self.n_providers,
        }
    }
}

const CHUNK: usize = 1024;

fn check_shape(offsets: &[i64], n_scores: usize, n_provider_ids: usize) -> CoreResult<()> {
    if offsets.is_empty() || offsets[0] != 0 {
        return Err(CoreError::shape(
            "offsets must start with 0 and have one entry more than there are requests",
        ));
    }
    if offsets.windows(2).any(|w| w[1] < w[0]) {
        return Err(CoreError::shape("offsets must be non-decreasing"));
    }
    let n = *offsets.last().unwrap();
    if n as usize != n_scores || n < 0 {
        return Err(CoreError::shape(format!(
            "offsets end at {n} but there are {n_scores} scores"
        )));
    }
    if n_provider_ids != n_scores {
        return Err(CoreError::shape(format!(
            "{n_provider_ids} providers for {n_scores} scores"
        )));
    }
    Ok(())
}

#[inline]
fn all_finite(c: &[f64]) -> bool {
    c.iter().fold(true, |ok, s| ok & s.is_finite())
}

#[inline]
fn all_below(c: &[i32], n_providers: usize) -> bool {
    let bound = n_providers.min(i32::MAX as usize) as u32;
    c.iter().fold(true, |ok, &p| ok & ((p as u32) < bound))
}

fn non_finite_score(score: &[f64]) -> CoreError {
    let i = score.iter().position(|s| !s.is_finite()).unwrap_or(0);
    CoreError::parameter(format!("score {i} is not finite ({})", score[i]))
}

fn provider_out_of_range(provider: &[i32], n_providers: usize) -> CoreError {
    let i = provider
        .iter()
        .position(|&p| p < 0 || p as usize >= n_providers)
        .unwrap_or(0);
    CoreError::parameter(format!(
        "provider id {} at candidate {i} is outside 0..{n_providers}",
        provider[i]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copying_checks_like_borrowing() {
        let offsets = [0i64, 2, 3000];
        let good_s: Vec<f64> = (0..3000).map(|i| i as f64 / 7.0).collect();
        let good_p: Vec<i32> = (0..3000).map(|i| (i % 5) as i32).collect();
        let mut cases = vec![(offsets.to_vec(), good_s.clone(), good_p.clone(), 5usize)];
        for at in [0usize, 1023, 1024, 2999] {
            let mut s = good_s.clone();
            s[at] = f64::NAN;
            cases.push((offsets.to_vec(), s, good_p.clone(), 5));
            let mut p = good_p.clone();
            p[at] = if at % 2 == 0 { -1 } else { 5 };
            cases.push((offsets.to_vec(), good_s.clone(), p, 5));
        }
        cases.push((vec![1, 3000], good_s.clone(), good_p.clone(), 5));
        cases.push((vec![0, 2999], good_s.clone(), good_p.clone(), 5));
        cases.push((offsets.to_vec(), good_s.clone(), good_p[1..].to_vec(), 5));
        for (o, s, p, n) in &cases {
            let borrowed = Ragged::new(o, s, p, *n).map(|r| (r.offsets.to_vec(), r.score.to_vec()));
            let copied = RaggedBuf::copy_checked(o, s, p, *n);
            match (borrowed, copied) {
                (Ok(want), Ok(buf)) => {
                    let view = buf.view();
                    assert_eq!((view.offsets.to_vec(), view.score.to_vec()), want);
                    assert_eq!(view.provider, &p[..]);
                }
                (Err(want), Err(got)) => assert_eq!(got.to_string(), want.to_string()),
                (want, got) => panic!("{:?} vs {:?}", want.is_ok(), got.is_ok()),
            }
        }
    }
}
