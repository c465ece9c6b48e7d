//! Division of an estate among claims (BankFair Module 1, specs/rerank.md §4.2):
//! constrained equal awards (CEA), constrained equal losses (CEL), the Talmud rule
//! (Aumann–Maschler) and proportional division.
//!
//! Exact: the level λ comes from one pass over the sorted claims (O(W log W)), never from
//! bisection, so awards sum to the estate up to rounding and equal inputs give equal awards.

use crate::error::{CoreError, CoreResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    Cea,
    Cel,
    Talmud,
    Proportional,
}

impl std::str::FromStr for Rule {
    type Err = CoreError;
    fn from_str(s: &str) -> CoreResult<Self> {
        match s {
            "cea" => Ok(Rule::Cea),
            "cel" => Ok(Rule::Cel),
            "talmud" => Ok(Rule::Talmud),
            "proportional" => Ok(Rule::Proportional),
            other => Err(CoreError::parameter(format!(
                "unknown allocation rule '{other}' (use cea, cel, talmud or proportional)"
            ))),
        }
    }
}

fn check(estate: f64, claims: &[f64]) -> CoreResult<()> {
    if !(estate.is_finite() && estate >= 0.0) {
        return Err(CoreError::parameter(format!(
            "estate must be finite and >= 0, got {estate}"
        )));
    }
    if let Some(c) = claims.iter().find(|c| !(c.is_finite() && **c >= 0.0)) {
        return Err(CoreError::parameter(format!(
            "claims must be finite and >= 0, got {c}"
        )));
    }
    Ok(())
}

/// Divide `estate` among `claims` by `rule`.
pub fn allocate(rule: Rule, estate: f64, claims: &[f64]) -> CoreResult<Vec<f64>> {
    check(estate, claims)?;
    Ok(match rule {
        Rule::Cea => cea(estate, claims),
        Rule::Cel => cel(estate, claims),
        Rule::Talmud => talmud(estate, claims),
        Rule::Proportional => proportional(estate, claims),
    })
}

/// a_j = min(d_j, λ) with Σ a = min(E, D).
fn cea(estate: f64, claims: &[f64]) -> Vec<f64> {
    let total: f64 = claims.iter().sum();
    if estate >= total {
        return claims.to_vec();
    }
    let mut sorted: Vec<f64> = claims.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut left = estate;
    let mut level = 0.0;
    for (i, &c) in sorted.iter().enumerate() {
        let rest = (sorted.len() - i) as f64;
        if c * rest > left {
            level = left / rest;
            break;
        }
        left -= c;
        level = c;
    }
    claims.iter().map(|&c| c.min(level)).collect()
}

/// a_j = max(d_j − λ, 0) with Σ a = min(E, D): the losses D − E shared equally (CEA on losses).
fn cel(estate: f64, claims: &[f64]) -> Vec<f64> {
    let total: f64 = claims.iter().sum();
    if estate >= total {
        return claims.to_vec();
    }
    let losses = cea(total - estate, claims);
    claims
        .iter()
        .zip(losses)
        .map(|(c, l)| (c - l).max(0.0))
        .collect()
}

/// Talmud: E ≥ D → d; E ≤ D/2 → CEA(E, d/2); else d/2 + CEL(E − D/2, d/2).
fn talmud(estate: f64, claims: &[f64]) -> Vec<f64> {
    let total: f64 = claims.iter().sum();
    if estate >= total {
        return claims.to_vec();
    }
    let half: Vec<f64> = claims.iter().map(|c| c / 2.0).collect();
    if estate <= total / 2.0 {
        cea(estate, &half)
    } else {
        half.iter()
            .zip(cel(estate - total / 2.0, &half))
            .map(|(h, a)| h + a)
            .collect()
    }
}

fn proportional(estate: f64, claims: &[f64]) -> Vec<f64> {
    let total: f64 = claims.iter().sum();
    if total <= 0.0 {
        return vec![0.0; claims.len()];
    }
    let share = estate.min(total) / total;
    claims.iter().map(|c| c * share).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f64], b: &[f64]) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-3, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn spec_vector_1_claims_100_200_300() {
        let d = [100.0, 200.0, 300.0];
        let third = 100.0 / 3.0;
        close(
            &allocate(Rule::Cea, 100.0, &d).unwrap(),
            &[third, third, third],
        );
        close(
            &allocate(Rule::Cea, 300.0, &d).unwrap(),
            &[100.0, 100.0, 100.0],
        );
        close(&allocate(Rule::Cel, 100.0, &d).unwrap(), &[0.0, 0.0, 100.0]);
        close(
            &allocate(Rule::Cel, 300.0, &d).unwrap(),
            &[0.0, 100.0, 200.0],
        );
        close(
            &allocate(Rule::Talmud, 100.0, &d).unwrap(),
            &[third, third, third],
        );
        close(
            &allocate(Rule::Talmud, 200.0, &d).unwrap(),
            &[50.0, 75.0, 75.0],
        );
        close(
            &allocate(Rule::Talmud, 300.0, &d).unwrap(),
            &[50.0, 100.0, 150.0],
        );
        close(&allocate(Rule::Talmud, 600.0, &d).unwrap(), &d);
        close(&allocate(Rule::Talmud, 900.0, &d).unwrap(), &d);
    }

    #[test]
    fn spec_vector_2_forecast_window() {
        close(
            &allocate(Rule::Talmud, 100.0, &[11.0, 33.0, 66.0]).unwrap(),
            &[7.667, 29.667, 62.667],
        );
        close(
            &allocate(Rule::Talmud, 100.0, &[30.0, 90.0, 180.0]).unwrap(),
            &[15.0, 42.5, 42.5],
        );
        close(
            &allocate(Rule::Proportional, 100.0, &[10.0, 30.0, 60.0]).unwrap(),
            &[10.0, 30.0, 60.0],
        );
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert!(allocate(Rule::Cea, -1.0, &[1.0]).is_err());
        assert!(allocate(Rule::Cea, 1.0, &[f64::NAN]).is_err());
        assert!(allocate(Rule::Talmud, f64::INFINITY, &[1.0]).is_err());
        assert_eq!(
            allocate(Rule::Proportional, 5.0, &[0.0, 0.0]).unwrap(),
            vec![0.0, 0.0]
        );
        assert_eq!(allocate(Rule::Talmud, 5.0, &[]).unwrap(), Vec::<f64>::new());
    }
}
