//! Provider-side fairness measures over an exposure vector (specs/rerank.md §4.6).

use crate::error::{CoreError, CoreResult};

/// Gini = ΣᵢΣⱼ|eᵢ − eⱼ| / (2·n²·ē), computed from the sorted values in O(n log n)
/// (ΣᵢΣⱼ|eᵢ − eⱼ| = 2·Σᵢ (2i − n + 1)·e₍ᵢ₎ for ascending e₍ᵢ₎, 0-based i). 0 when all are 0.
pub fn gini(exposure: &[f64]) -> CoreResult<f64> {
    if let Some(e) = exposure.iter().find(|e| !(e.is_finite() && **e >= 0.0)) {
        return Err(CoreError::parameter(format!(
            "exposures must be finite and >= 0, got {e}"
        )));
    }
    let n = exposure.len();
    let total: f64 = exposure.iter().sum();
    if n == 0 || total == 0.0 {
        return Ok(0.0);
    }
    let mut sorted = exposure.to_vec();
    sorted.sort_by(f64::total_cmp);
    let nf = n as f64;
    let weighted: f64 = sorted
        .iter()
        .enumerate()
        .map(|(i, e)| (2.0 * i as f64 - nf + 1.0) * e)
        .sum();
    let mean = total / nf;
    Ok(2.0 * weighted / (2.0 * nf * nf * mean))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_vector_9() {
        assert!((gini(&[0.0, 0.0, 10.0, 10.0]).unwrap() - 0.5).abs() < 1e-12);
        assert_eq!(gini(&[5.0; 4]).unwrap(), 0.0);
        assert!((gini(&[1.0, 2.0, 3.0, 4.0]).unwrap() - 0.25).abs() < 1e-12);
        assert_eq!(gini(&[]).unwrap(), 0.0);
        assert!(gini(&[1.0, -1.0]).is_err());
    }

    #[test]
    fn equals_the_pairwise_definition() {
        let e: Vec<f64> = (0..57).map(|i| ((i * 7919) % 101) as f64).collect();
        let n = e.len() as f64;
        let pairs: f64 = e
            .iter()
            .flat_map(|a| e.iter().map(move |b| (a - b).abs()))
            .sum();
        let mean = e.iter().sum::<f64>() / n;
        assert!((gini(&e).unwrap() - pairs / (2.0 * n * n * mean)).abs() < 1e-12);
    }
}
