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

/// Insert `e` into `list` (sorted by key descending; equal keys keep arrival order),
/// shifting as it searches from the back: new entries usually land near the bottom, and
/// for a list of k ≤ 32 this beats `Vec::insert`'s memmove call.
#[inline(always)]
fn insert_by_key(list: &mut Vec<Entry>, e: Entry) {
    list.push(e);
    let mut i = list.len() - 1;
    while i > 0 && e.key > list[i - 1].key {
        list[i] = list[i - 1];
        i -= 1;
    }
    list[i] = e;
}

/// Reusable buffers, so the online loop allocates nothing per request.
#[derive(Default)]
pub struct TopKScratch {
    best: Vec<Entry>,
    filler: Vec<Entry>,
    /// the plain top-K of `topk_priced_and_ideal`
    ideal: Vec<Entry>,
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
            insert_by_key(best, e);
            if best.len() == k {
                threshold = best[k - 1].key;
            }
        }
    } else if k <= INSERTION_MAX_K {
        // Blocked providers only fill: keep the k best unblocked and the k best blocked
        // candidates apart (each by key desc, position asc, with the one-comparison
        // rejection above), then take unblocked first. Cheaper than comparing the
        // blocked flag inside every comparison.
        let b = blocked.expect("the unblocked case is handled above");
        let filler = &mut scratch.filler;
        filler.clear();
        let (mut open_min, mut fill_min) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
        for j in 0..n {
            let p = provider[j] as usize;
            let key = match price {
                Some(pr) => w * score[j] - pr[p],
                None => w * score[j],
            };
            let (list, threshold) = if b[p] {
                (&mut *filler, &mut fill_min)
            } else {
                (&mut *best, &mut open_min)
            };
            if list.len() == k {
                if key <= *threshold {
                    continue;
                }
                list.pop();
            }
            let e = Entry {
                blocked: false,
                key,
                pos: j as u32,
            };
            insert_by_key(list, e);
            if list.len() == k {
                *threshold = list[k - 1].key;
            }
        }
        let room = k - best.len();
        best.extend(filler.iter().take(room).copied());
    } else {
        best.extend((0..n).map(entry));
        if k < n {
            best.select_nth_unstable_by(k - 1, rank_order);
            best.truncate(k);
        }
    }
    write_in_display_order(best, score, out);
}

/// The chosen entries' positions into `out`, by score descending then position: lists are
/// shown by score, not by the priced key they were chosen by.
#[inline]
fn write_in_display_order(list: &mut [Entry], score: &[f64], out: &mut Vec<u32>) {
    list.sort_unstable_by(|a, b| {
        let (sa, sb) = (score[a.pos as usize], score[b.pos as usize]);
        sb.partial_cmp(&sa)
            .unwrap_or(Ordering::Equal)
            .then(a.pos.cmp(&b.pos))
    });
    out.extend(list.iter().map(|e| e.pos));
}

/// `topk_priced(score, provider, Some(price), w, k, blocked, …)` into `priced` and the plain
/// top-K by score (`topk_priced(score, provider, None, 1.0, k, None, …)`, the ideal list
/// behind the IDCG) into `ideal`, in one pass: the online methods need both for every
/// request, and a second scan of the candidates cost nearly as much as the first. The
/// lists equal the two calls'.
#[allow(clippy::too_many_arguments)]
pub fn topk_priced_and_ideal(
    score: &[f64],
    provider: &[i32],
    price: &[f64],
    w: f64,
    k: usize,
    blocked: Option<&[bool]>,
    scratch: &mut TopKScratch,
    priced: &mut Vec<u32>,
    ideal: &mut Vec<u32>,
) {
    let n = score.len();
    let k = k.min(n);
    if k > INSERTION_MAX_K {
        topk_priced(score, provider, None, 1.0, k, None, scratch, ideal);
        topk_priced(score, provider, Some(price), w, k, blocked, scratch, priced);
        return;
    }
    priced.clear();
    ideal.clear();
    if k == 0 {
        return;
    }
    let TopKScratch {
        best,
        filler,
        ideal: top,
    } = scratch;
    best.clear();
    filler.clear();
    top.clear();
    let (mut open_min, mut fill_min, mut ideal_min) =
        (f64::NEG_INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY);
    // Each list keeps its k best so far by its key (ties: earlier position), and a later
    // candidate must beat its k-th key strictly, as in `topk_priced`'s hot path.
    let offer = |list: &mut Vec<Entry>, threshold: &mut f64, key: f64, j: usize| {
        if list.len() == k {
            if key <= *threshold {
                return;
            }
            list.pop();
        }
        insert_by_key(
            list,
            Entry {
                blocked: false,
                key,
                pos: j as u32,
            },
        );
        if list.len() == k {
            *threshold = list[k - 1].key;
        }
    };
    match blocked {
        None => {
            for j in 0..n {
                let s = score[j];
                offer(top, &mut ideal_min, 1.0 * s, j);
                offer(best, &mut open_min, w * s - price[provider[j] as usize], j);
            }
        }
        Some(b) => {
            // blocked providers only fill, as in `topk_priced`
            for j in 0..n {
                let (s, p) = (score[j], provider[j] as usize);
                offer(top, &mut ideal_min, 1.0 * s, j);
                let key = w * s - price[p];
                if b[p] {
                    offer(filler, &mut fill_min, key, j);
                } else {
                    offer(best, &mut open_min, key, j);
                }
            }
            let room = k - best.len();
            best.extend(filler.iter().take(room).copied());
        }
    }
    write_in_display_order(best, score, priced);
    write_in_display_order(top, score, ideal);
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
    fn random_ties_and_blocking_match_a_full_sort() {
        // scores from a 4-value set (many ties), random prices and blocked providers
        let mut state = 12345u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..400 {
            let n = (next() % 40) as usize;
            let n_prov = 1 + (next() % 6) as usize;
            let s: Vec<f64> = (0..n).map(|_| (next() % 4) as f64 * 0.25).collect();
            let prov: Vec<i32> = (0..n).map(|_| (next() % n_prov as u64) as i32).collect();
            let price: Vec<f64> = (0..n_prov).map(|_| (next() % 3) as f64 * 0.25).collect();
            let blocked: Vec<bool> = (0..n_prov).map(|_| next() % 3 == 0).collect();
            let k = 1 + (next() % 12) as usize;
            let use_price = round % 2 == 0;
            let use_blocked = round % 3 != 0;
            let got = run(
                &s,
                &prov,
                use_price.then_some(&price[..]),
                k,
                use_blocked.then_some(&blocked[..]),
            );
            let mut all: Vec<Entry> = (0..n)
                .map(|j| Entry {
                    blocked: use_blocked && blocked[prov[j] as usize],
                    key: s[j]
                        - if use_price {
                            price[prov[j] as usize]
                        } else {
                            0.0
                        },
                    pos: j as u32,
                })
                .collect();
            all.sort_by(rank_order);
            let mut want: Vec<u32> = all[..k.min(n)].iter().map(|e| e.pos).collect();
            want.sort_by(|&a, &b| s[b as usize].total_cmp(&s[a as usize]).then(a.cmp(&b)));
            assert_eq!(got, want, "round {round}");
        }
    }

    #[test]
    fn priced_and_ideal_in_one_pass_equal_two_calls() {
        let mut state = 0x2545F4914F6CDD1Du64;
        let mut next = |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        let (mut scratch, mut a, mut b, mut c, mut d) = (
            TopKScratch::default(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
        );
        for _ in 0..3000 {
            let n = next(80) as usize;
            let np = 1 + next(9) as usize;
            let levels = 1 + next(12);
            let score: Vec<f64> = (0..n).map(|_| next(levels) as f64 / 4.0 - 1.0).collect();
            let provider: Vec<i32> = (0..n).map(|_| next(np as u64) as i32).collect();
            let price: Vec<f64> = (0..np).map(|_| next(5) as f64 / 8.0 - 0.25).collect();
            let w = [1.0, 0.5, 2.0][next(3) as usize];
            let k = 1 + next(40) as usize;
            let blocked: Vec<bool> = (0..np).map(|_| next(3) == 0).collect();
            let blocked = (next(2) == 0).then_some(&blocked[..]);
            topk_priced_and_ideal(
                &score,
                &provider,
                &price,
                w,
                k,
                blocked,
                &mut scratch,
                &mut a,
                &mut b,
            );
            topk_priced(
                &score,
                &provider,
                Some(&price),
                w,
                k,
                blocked,
                &mut scratch,
                &mut c,
            );
            topk_priced(&score, &provider, None, 1.0, k, None, &mut scratch, &mut d);
            assert_eq!((&a, &b), (&c, &d), "n={n} k={k} w={w} blocked={blocked:?}");
        }
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
