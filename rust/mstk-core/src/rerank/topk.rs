//! `topk_priced`: the selection step shared by every count-exposure method.
//!
//! Candidate j's key is `w·s_j − price[provider_j]`. The chosen set is the min(k, n)
//! best candidates in the order (unblocked first, key descending, position ascending),
//! which makes ties deterministic; the set is then displayed sorted by (score
//! descending, position ascending).

use std::cmp::Ordering;

#[derive(Clone, Copy, Debug)]
struct Entry {
    blocked: bool,
    key: f64,
    pos: u32,
}

/// `a` ranks before `b` (is better).
#[inline(always)]
fn better(a: &Entry, b: &Entry) -> bool {
    if a.blocked != b.blocked {
        return !a.blocked;
    }
    if a.key != b.key {
        return a.key > b.key;
    }
    a.pos < b.pos
}

#[inline(always)]
fn rank_order(a: &Entry, b: &Entry) -> Ordering {
    if better(a, b) {
        Ordering::Less
    } else if better(b, a) {
        Ordering::Greater
    } else {
        Ordering::Equal
    }
}

/// Reusable buffers, so the online loop allocates nothing per request.
#[derive(Default)]
pub struct TopKScratch {
    best: Vec<Entry>,
}

/// Small k: keep a sorted buffer of the k best seen so far; most candidates are rejected
/// by one comparison with the current k-th. Large k: partial sort (select_nth).
const INSERTION_MAX_K: usize = 32;

/// Select min(k, n) candidate positions into `out` (cleared first), in display order.
///
/// `score`, `provider` have the request's n candidates; `price` is indexed by provider id
/// (callers guarantee ids are in range, see `Ragged::new`); `blocked`, when given, is
/// indexed by provider id too.
#[allow(clippy::too_many_arguments)] // the kernel's contract (specs/rerank.md): one argument per input
pub fn topk_priced(
    score: &[f64],
    provider: &[i32],
    price: Option<&[f64]>,
    w: f64,
    k: usize,
    blocked: Option<&[bool]>,
    scratch: &mut TopKScratch,
    out: &mut Vec<u32>,
) {
    out.clear();
    let n = score.len();
    let k = k.min(n);
    if k == 0 {
        return;
    }
    let entry = |j: usize| {
        let p = provider[j] as usize;
        Entry {
            blocked: blocked.is_some_and(|b| b[p]),
            key: match price {
                Some(pr) => w * score[j] - pr[p],
                None => w * score[j],
            },
            pos: j as u32,
        }
    };
    let best = &mut scratch.best;
    best.clear();
    if k <= INSERTION_MAX_K && blocked.is_none() {
        // The hot path: no blocking, so the order is key desc then position asc, and a
        // later candidate must beat the current k-th key strictly. One comparison rejects
        // most candidates.
        let mut threshold = f64::NEG_INFINITY;
        for j in 0..n {
            let key = match price {
                Some(pr) => w * score[j] - pr[provider[j] as usize],
                None => w * score[j],
            };
            if best.len() == k {
                if key <= threshold {
                    continue;
                }
                best.pop();
            }
            let e = Entry {
                blocked: false,
                key,
                pos: j as u32,
            };
            let mut i = best.len();
            while i > 0 && key > best[i - 1].key {
                i -= 1;
            }
            best.insert(i, e);
            if best.len() == k {
                threshold = best[k - 1].key;
            }
        }
    } else if k <= INSERTION_MAX_K {
        for j in 0..n {
            let e = entry(j);
            if best.len() == k {
                if !better(&e, &best[k - 1]) {
                    continue;
                }
                best.pop();
            }
            // Insert keeping `best` sorted best-first; scanning from the back is cheap
            // because new entries are usually near the bottom.
            let mut i = best.len();
            while i > 0 && better(&e, &best[i - 1]) {
                i -= 1;
            }
            best.insert(i, e);
        }
    } else {
        best.extend((0..n).map(entry));
        if k < n {
            best.select_nth_unstable_by(k - 1, rank_order);
            best.truncate(k);
        }
    }
    // Display order: by score, not by priced key.
    best.sort_unstable_by(|a, b| {
        let (sa, sb) = (score[a.pos as usize], score[b.pos as usize]);
        sb.partial_cmp(&sa)
            .unwrap_or(Ordering::Equal)
            .then(a.pos.cmp(&b.pos))
    });
    out.extend(best.iter().map(|e| e.pos));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        score: &[f64],
        prov: &[i32],
        price: Option<&[f64]>,
        k: usize,
        blocked: Option<&[bool]>,
    ) -> Vec<u32> {
        let mut out = Vec::new();
        topk_priced(
            score,
            prov,
            price,
            1.0,
            k,
            blocked,
            &mut TopKScratch::default(),
            &mut out,
        );
        out
    }

    #[test]
    fn plain_topk_sorted_by_score() {
        let s = [0.1, 0.9, 0.5, 0.7];
        assert_eq!(run(&s, &[0, 0, 0, 0], None, 2, None), vec![1, 3]);
        assert_eq!(run(&s, &[0, 0, 0, 0], None, 10, None), vec![1, 3, 2, 0]);
    }

    #[test]
    fn ties_prefer_lower_position() {
        let s = [0.5, 0.5, 0.5];
        assert_eq!(run(&s, &[0, 0, 0], None, 2, None), vec![0, 1]);
    }

    #[test]
    fn price_changes_the_set_but_display_stays_by_score() {
        // provider 1 is taxed by 0.5: candidate 1 (0.9) loses to 2 (0.6) and 0 (0.5)
        let s = [0.5, 0.9, 0.6];
        let out = run(&s, &[0, 1, 0], Some(&[0.0, 0.5]), 2, None);
        assert_eq!(out, vec![2, 0]);
        // a negative price (bonus) pulls in a low score, shown last
        let out = run(&s, &[0, 1, 2], Some(&[-1.0, 0.0, 0.0]), 2, None);
        assert_eq!(out, vec![1, 0]);
    }

    #[test]
    fn blocked_providers_only_fill() {
        let s = [0.9, 0.8, 0.1];
        let out = run(&s, &[0, 0, 1], None, 2, Some(&[true, false]));
        assert_eq!(out, vec![0, 2]);
    }

    #[test]
    fn large_k_path_matches_small_k_path() {
        let n = 200;
        let s: Vec<f64> = (0..n).map(|i| ((i * 7919) % 101) as f64 / 100.0).collect();
        let prov: Vec<i32> = (0..n).map(|i| (i % 5) as i32).collect();
        let price = [0.1, 0.0, 0.3, -0.2, 0.05];
        let blocked = [false, true, false, false, false];
        for (k, blocked) in [1usize, 5, 32, 33, 64, 150, 200, 300]
            .into_iter()
            .flat_map(|k| [(k, blocked), (k, [false; 5])])
        {
            let unblocked = !blocked.iter().any(|&b| b);
            let fast = run(
                &s,
                &prov,
                Some(&price),
                k,
                if unblocked { None } else { Some(&blocked) },
            );
            // reference: full sort by the rank order
            let mut all: Vec<Entry> = (0..n)
                .map(|j| Entry {
                    blocked: blocked[prov[j] as usize],
                    key: s[j] - price[prov[j] as usize],
                    pos: j as u32,
                })
                .collect();
            all.sort_by(rank_order);
            let mut chosen: Vec<u32> = all[..k.min(n)].iter().map(|e| e.pos).collect();
            chosen.sort_by(|&a, &b| {
                s[b as usize]
                    .partial_cmp(&s[a as usize])
                    .unwrap()
                    .then(a.cmp(&b))
            });
            assert_eq!(fast, chosen, "k={k}");
        }
    }
}
