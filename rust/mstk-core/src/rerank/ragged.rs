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
        if offsets.is_empty() || offsets[0] != 0 {
            return Err(CoreError::shape(
                "offsets must start with 0 and have one entry more than there are requests",
            ));
        }
        if offsets.windows(2).any(|w| w[1] < w[0]) {
            return Err(CoreError::shape("offsets must be non-decreasing"));
        }
        let n = *offsets.last().unwrap();
        if n as usize != score.len() || n < 0 {
            return Err(CoreError::shape(format!(
                "offsets end at {n} but there are {} scores",
                score.len()
            )));
        }
        if provider.len() != score.len() {
            return Err(CoreError::shape(format!(
                "{} providers for {} scores",
                provider.len(),
                score.len()
            )));
        }
        // A fold without early exit vectorises (`all` stops at each element, so it does not);
        // chunks keep the early exit coarse. Look for the culprit only on failure.
        const CHUNK: usize = 1024;
        if !score
            .chunks(CHUNK)
            .all(|c| c.iter().fold(true, |ok, s| ok & s.is_finite()))
        {
            let i = score.iter().position(|s| !s.is_finite()).unwrap_or(0);
            return Err(CoreError::parameter(format!(
                "score {i} is not finite ({})",
                score[i]
            )));
        }
        let bound = n_providers.min(i32::MAX as usize) as u32;
        if !provider
            .chunks(CHUNK)
            .all(|c| c.iter().fold(true, |ok, &p| ok & ((p as u32) < bound)))
        {
            let i = provider
                .iter()
                .position(|&p| p < 0 || p as usize >= n_providers)
                .unwrap_or(0);
            return Err(CoreError::parameter(format!(
                "provider id {} at candidate {i} is outside 0..{n_providers}",
                provider[i]
            )));
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
