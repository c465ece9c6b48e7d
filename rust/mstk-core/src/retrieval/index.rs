//! A BM25 index in CSC form: per term (bytewise-sorted vocabulary) the ascending documents
//! that contain it and their precomputed weights. Build and search are deterministic at any
//! thread count: documents are tokenized in fixed chunks, merged in order, and each query
//! is scored by one task that adds weights in query-token order.

use hashbrown::HashMap;
use rayon::prelude::*;

use super::bm25::{lucene_length, Bm25Params, Variant};
use super::tokenize::{Tokenizer, TokenizerConfig};
use crate::error::{CoreError, CoreResult};

type FixedState = foldhash::fast::FixedState;

/// Documents tokenized per task: a fixed size, so the work split never depends on threads.
const CHUNK_DOCS: usize = 1024;

/// Ranked hits of a batch of queries: `k` columns per query, padded with −1 / −∞.
#[derive(Clone, Debug, PartialEq)]
pub struct TopK {
    pub k: usize,
    pub idx: Vec<i32>,
    pub score: Vec<f32>,
    pub count: Vec<u32>,
}

impl TopK {
    /// Rows of (score, doc) pairs, best first, into the padded column layout.
    pub fn from_lists(k: usize, lists: Vec<Vec<(f32, u32)>>) -> TopK {
        let n = lists.len();
        let mut out = TopK {
            k,
            idx: vec![-1; n * k],
            score: vec![f32::NEG_INFINITY; n * k],
            count: vec![0; n],
        };
        for (row, hits) in lists.into_iter().enumerate() {
            out.count[row] = hits.len() as u32;
            for (j, (s, d)) in hits.into_iter().enumerate() {
                out.idx[row * k + j] = d as i32;
                out.score[row * k + j] = s;
            }
        }
        out
    }
}

/// Checks the arguments of a grouped top-k (BM25 and dense alike): k ≥ 1, offsets that
/// describe the groups, query and candidate indexes in range.
pub(crate) fn check_groups(
    k: usize,
    group_query: &[u32],
    cand: &[u32],
    cand_off: &[u64],
    n_queries: usize,
    n_docs: usize,
) -> CoreResult<()> {
    if k == 0 {
        return Err(CoreError::parameter("k must be at least 1"));
    }
    if cand_off.len() != group_query.len() + 1
        || cand_off.first() != Some(&0)
        || cand_off.last().copied() != Some(cand.len() as u64)
        || cand_off.windows(2).any(|w| w[0] > w[1])
    {
        return Err(CoreError::shape(
            "candidate offsets do not describe the groups",
        ));
    }
    if group_query.iter().any(|&g| g as usize >= n_queries)
        || cand.iter().any(|&d| d as usize >= n_docs)
    {
        return Err(CoreError::shape(
            "group query or candidate index out of range",
        ));
    }
    Ok(())
}

pub struct Bm25Index {
    pub params: Bm25Params,
    pub tokenizer: TokenizerConfig,
    /// Terms, sorted bytewise.
    pub vocab: Vec<String>,
    /// `indptr[t]..indptr[t+1]` are term t's postings.
    pub indptr: Vec<u64>,
    pub postings: Vec<u32>,
    pub weights: Vec<f32>,
    /// Stored idf (f32), for inspection.
    pub idf: Vec<f32>,
    /// Weight at tf = 0 (bm25l, bm25+), added to every scored document; empty otherwise.
    pub nonocc: Vec<f32>,
    pub doclen: Vec<u32>,
    pub avgdl: f64,
    /// External document ids, one per document (set by the caller after building).
    pub doc_ids: Vec<String>,
    /// Document texts, when the index stores them (`--store-contents`).
    pub contents: Option<Vec<String>>,
}

/// One tokenized chunk: its own first-seen vocabulary and (term, tf) lists per document.
struct Chunk {
    vocab: Vec<String>,
    terms: Vec<(u32, u32)>,
    doc_end: Vec<usize>,
    dl: Vec<u32>,
}

fn chunk_from_tokens<'a>(docs: impl Iterator<Item = &'a [String]>) -> Chunk {
    let mut ids: HashMap<&str, u32, FixedState> = HashMap::with_hasher(FixedState::default());
    let mut vocab: Vec<String> = Vec::new();
    let mut terms = Vec::new();
    let mut doc_end = Vec::new();
    let mut dl = Vec::new();
    let mut scratch: Vec<u32> = Vec::new();
    for doc in docs {
        scratch.clear();
        for token in doc {
            let id = *ids.entry_ref(token.as_str()).or_insert_with(|| {
                vocab.push(token.clone());
                (vocab.len() - 1) as u32
            });
            scratch.push(id);
        }
        dl.push(doc.len() as u32);
        scratch.sort_unstable();
        let mut i = 0;
        while i < scratch.len() {
            let mut j = i + 1;
            while j < scratch.len() && scratch[j] == scratch[i] {
                j += 1;
            }
            terms.push((scratch[i], (j - i) as u32));
            i = j;
        }
        doc_end.push(terms.len());
    }
    Chunk {
        vocab,
        terms,
        doc_end,
        dl,
    }
}

/// Document frequency per final term id: chunks are counted in parallel, one array per
/// group of chunks, then summed (integer sums, so the result never depends on threads).
fn count_df(chunks: &[Chunk], n_terms: usize) -> Vec<u32> {
    let groups = rayon::current_num_threads().clamp(1, chunks.len().max(1));
    let per_group = chunks.len().div_ceil(groups).max(1);
    chunks
        .par_chunks(per_group)
        .map(|group| {
            let mut df = vec![0u32; n_terms];
            for chunk in group {
                for &(t, _) in &chunk.terms {
                    df[t as usize] += 1;
                }
            }
            df
        })
        .reduce_with(|mut a, b| {
            a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
            a
        })
        .unwrap_or_else(|| vec![0u32; n_terms])
}

/// Fill the CSC postings (document ids ascending per term) and their tfs.
///
/// The scatter is a random write per posting, the slowest pass of a build. Each thread
/// owns a contiguous range of terms (balanced by postings), so it owns a contiguous slice
/// of the output: it reads every chunk and writes only its own terms, in document order.
fn scatter_postings(chunks: &[Chunk], indptr: &[u64], postings: &mut [u32], tfs: &mut [u32]) {
    let n_terms = indptr.len() - 1;
    let nnz = indptr[n_terms];
    let parts = rayon::current_num_threads().clamp(1, n_terms.max(1));
    let mut bounds = vec![0usize];
    for i in 1..parts {
        let target = nnz * i as u64 / parts as u64;
        let t = indptr.partition_point(|&x| x < target).min(n_terms);
        bounds.push(t.max(*bounds.last().unwrap()));
    }
    bounds.push(n_terms);
    let mut jobs = Vec::with_capacity(parts);
    let (mut post_rest, mut tf_rest) = (postings, tfs);
    for w in bounds.windows(2) {
        let len = (indptr[w[1]] - indptr[w[0]]) as usize;
        let (post, p_rest) = post_rest.split_at_mut(len);
        let (tf, t_rest) = tf_rest.split_at_mut(len);
        post_rest = p_rest;
        tf_rest = t_rest;
        jobs.push((w[0], w[1], post, tf));
    }
    jobs.into_par_iter().for_each(|(lo, hi, post, tf)| {
        let base = indptr[lo];
        let mut fill: Vec<u64> = indptr[lo..hi].iter().map(|&x| x - base).collect();
        let (lo32, span) = (lo as u32, (hi - lo) as u32);
        let mut doc = 0u32;
        for chunk in chunks {
            let mut start = 0;
            for &end in &chunk.doc_end {
                for &(t, f) in &chunk.terms[start..end] {
                    // one unsigned compare tests lo <= t < hi
                    let local = t.wrapping_sub(lo32);
                    if local < span {
                        let at = fill[local as usize] as usize;
                        post[at] = doc;
                        tf[at] = f;
                        fill[local as usize] += 1;
                    }
                }
                start = end;
                doc += 1;
            }
        }
    });
}

impl Bm25Index {
    /// Tokenizes and indexes `texts`.
    pub fn build(
        tokenizer: &TokenizerConfig,
        params: Bm25Params,
        texts: &[&str],
    ) -> CoreResult<Self> {
        let chunks: Vec<Chunk> = texts
            .par_chunks(CHUNK_DOCS)
            .map(|docs| {
                let mut tok = Tokenizer::new(tokenizer);
                let tokens: Vec<Vec<String>> = docs.iter().map(|t| tok.tokenize(t)).collect();
                chunk_from_tokens(tokens.iter().map(Vec::as_slice))
            })
            .collect();
        Self::from_chunks(tokenizer.clone(), params, chunks)
    }

    /// Indexes documents given as token lists.
    pub fn build_pretokenized(
        tokenizer: TokenizerConfig,
        params: Bm25Params,
        docs: &[Vec<String>],
    ) -> CoreResult<Self> {
        let chunks: Vec<Chunk> = docs
            .par_chunks(CHUNK_DOCS)
            .map(|c| chunk_from_tokens(c.iter().map(Vec::as_slice)))
            .collect();
        Self::from_chunks(tokenizer, params, chunks)
    }

    fn from_chunks(
        tokenizer: TokenizerConfig,
        params: Bm25Params,
        chunks: Vec<Chunk>,
    ) -> CoreResult<Self> {
        // Merge chunk vocabularies in document order into provisional global ids.
        let mut global: HashMap<String, u32, FixedState> =
            HashMap::with_hasher(FixedState::default());
        let mut names: Vec<String> = Vec::new();
        let mut maps: Vec<Vec<u32>> = Vec::with_capacity(chunks.len());
        for chunk in &chunks {
            let map = chunk
                .vocab
                .iter()
                .map(|w| {
                    *global.entry_ref(w.as_str()).or_insert_with(|| {
                        names.push(w.clone());
                        (names.len() - 1) as u32
                    })
                })
                .collect();
            maps.push(map);
        }
        drop(global);
        let n_docs: usize = chunks.iter().map(|c| c.dl.len()).sum();
        if n_docs > u32::MAX as usize - 1 {
            return Err(CoreError::parameter("more than 2^32 - 2 documents"));
        }
        // Final ids: bytewise-sorted vocabulary.
        let mut order: Vec<u32> = (0..names.len() as u32).collect();
        order.par_sort_unstable_by(|&a, &b| {
            names[a as usize]
                .as_bytes()
                .cmp(names[b as usize].as_bytes())
        });
        let mut final_id = vec![0u32; names.len()];
        for (new, &old) in order.iter().enumerate() {
            final_id[old as usize] = new as u32;
        }
        let vocab: Vec<String> = order
            .iter()
            .map(|&old| std::mem::take(&mut names[old as usize]))
            .collect();
        let n_terms = vocab.len();

        // Rewrite every chunk's term ids to final ids once (in parallel), so the counting
        // and scattering passes below read one id per posting instead of two lookups.
        let mut chunks = chunks;
        chunks.par_iter_mut().zip(maps).for_each(|(chunk, map)| {
            for entry in chunk.terms.iter_mut() {
                entry.0 = final_id[map[entry.0 as usize] as usize];
            }
        });
        drop(final_id);
        let mut doclen = Vec::with_capacity(n_docs);
        for chunk in &chunks {
            doclen.extend_from_slice(&chunk.dl);
        }
        let df = count_df(&chunks, n_terms);
        let mut indptr = vec![0u64; n_terms + 1];
        for t in 0..n_terms {
            indptr[t + 1] = indptr[t] + df[t] as u64;
        }
        let nnz = indptr[n_terms] as usize;
        let mut postings = vec![0u32; nnz];
        let mut tfs = vec![0u32; nnz];
        scatter_postings(&chunks, &indptr, &mut postings, &mut tfs);
        drop(chunks);

        let total: u64 = doclen.iter().map(|&d| d as u64).sum();
        let avgdl = if n_docs == 0 {
            0.0
        } else {
            total as f64 / n_docs as f64
        };
        let mut index = Bm25Index {
            params,
            tokenizer,
            vocab,
            indptr,
            postings,
            weights: Vec::new(),
            idf: Vec::new(),
            nonocc: Vec::new(),
            doclen,
            avgdl,
            doc_ids: Vec::new(),
            contents: None,
        };
        index.compute_weights(&df, &tfs, total);
        Ok(index)
    }

    /// idf per term and one weight per posting (see bm25.rs for the arithmetic).
    fn compute_weights(&mut self, df: &[u32], tfs: &[u32], total_tokens: u64) {
        let p = self.params;
        let n_terms = self.vocab.len();
        let n = self.doclen.len() as f64;
        if p.lucene_norms {
            // Lucene's float path: documents without tokens are not counted, lengths are
            // the one-byte norms, the per-length factor is cached in f32.
            let doc_count = self.doclen.iter().filter(|&&d| d > 0).count() as f64;
            let avgdl32 = if doc_count > 0.0 {
                (total_tokens as f64 / doc_count) as f32
            } else {
                1.0
            };
            let (k1, b) = (p.k1 as f32, p.b as f32);
            self.idf = df
                .iter()
                .map(|&d| (1.0 + (doc_count - d as f64 + 0.5) / (d as f64 + 0.5)).ln() as f32)
                .collect();
            let mut weights = vec![0f32; tfs.len()];
            for t in 0..n_terms {
                let idf = self.idf[t];
                for i in self.indptr[t] as usize..self.indptr[t + 1] as usize {
                    let dl = lucene_length(self.doclen[self.postings[i] as usize] as u64) as f32;
                    let cache = 1f32 / (k1 * ((1f32 - b) + b * dl / avgdl32));
                    weights[i] = idf - idf / (1f32 + tfs[i] as f32 * cache);
                }
            }
            self.weights = weights;
            return;
        }
        let mut idf64: Vec<f64> = df.iter().map(|&d| p.idf(n, d as f64)).collect();
        if p.variant == Variant::Okapi && n_terms > 0 {
            // rank-bm25: the mean of the raw idf over every term, negative ones included;
            // only strictly negative values take ε·mean.
            let mean = idf64.iter().sum::<f64>() / n_terms as f64;
            for v in idf64.iter_mut() {
                if *v < 0.0 {
                    *v = p.epsilon * mean;
                }
            }
        }
        self.idf = idf64.iter().map(|&v| v as f32).collect();
        if p.variant.has_nonocc() {
            self.nonocc = idf64
                .iter()
                .map(|&v| (v * p.tfc(0.0, self.avgdl, self.avgdl)) as f32)
                .collect();
        }
        let avgdl = self.avgdl;
        let (indptr, idf, nonocc_all, doclen, postings) = (
            &self.indptr,
            &self.idf,
            &self.nonocc,
            &self.doclen,
            &self.postings,
        );
        let idf64 = &idf64;
        let weights: Vec<f32> = (0..n_terms)
            .into_par_iter()
            .flat_map_iter(|t| {
                let (lo, hi) = (indptr[t] as usize, indptr[t + 1] as usize);
                let idf32 = idf[t] as f64;
                let okapi_idf = idf64[t];
                let nonocc = nonocc_all.get(t).map(|&v| v as f64);
                (lo..hi).map(move |i| {
                    let tfc = p.tfc(tfs[i] as f64, doclen[postings[i] as usize] as f64, avgdl);
                    match (p.variant, nonocc) {
                        (Variant::Okapi, _) => (okapi_idf * tfc) as f32,
                        (_, Some(no)) => (idf32 * tfc - no) as f32,
                        _ => (idf32 * tfc) as f32,
                    }
                })
            })
            .collect();
        self.weights = weights;
    }

    pub fn n_docs(&self) -> usize {
        self.doclen.len()
    }

    pub fn nnz(&self) -> usize {
        self.postings.len()
    }

    /// Term ids of `tokens` in order, repeats kept, out-of-vocabulary tokens dropped.
    pub fn term_ids(&self, tokens: &[String]) -> Vec<u32> {
        tokens
            .iter()
            .filter_map(|t| {
                self.vocab
                    .binary_search_by(|v| v.as_bytes().cmp(t.as_bytes()))
                    .ok()
                    .map(|i| i as u32)
            })
            .collect()
    }

    /// The query's constant for bm25l / bm25+: Σ nonocc over its terms, summed as NumPy
    /// sums a float32 array (pairwise), so scores equal bm25s' bit for bit.
    fn nonocc_sum(&self, terms: &[u32]) -> f32 {
        if self.nonocc.is_empty() {
            return 0.0;
        }
        let values: Vec<f32> = terms.iter().map(|&t| self.nonocc[t as usize]).collect();
        numpy_pairwise_sum(&values)
    }

    /// Scores of every document for one query (documents matching no term get the
    /// bm25l/bm25+ constant, or 0).
    pub fn scores_all(&self, terms: &[u32]) -> Vec<f32> {
        let mut acc = vec![0f32; self.n_docs()];
        for &t in terms {
            let (lo, hi) = (
                self.indptr[t as usize] as usize,
                self.indptr[t as usize + 1] as usize,
            );
            for i in lo..hi {
                acc[self.postings[i] as usize] += self.weights[i];
            }
        }
        let c = self.nonocc_sum(terms);
        if c != 0.0 {
            for v in acc.iter_mut() {
                *v += c;
            }
        }
        acc
    }

    /// Top `k` matching documents per query, by (score desc, doc index asc). Queries are
    /// term-id lists `q[q_off[i]..q_off[i+1]]`.
    pub fn topk(&self, q: &[u32], q_off: &[u64], k: usize) -> CoreResult<TopK> {
        if k == 0 {
            return Err(CoreError::parameter("k must be at least 1"));
        }
        if q_off.is_empty()
            || q_off[q_off.len() - 1] as usize != q.len()
            || q_off.windows(2).any(|w| w[0] > w[1])
        {
            return Err(CoreError::shape(
                "query offsets do not describe the term array",
            ));
        }
        let n_terms = self.vocab.len() as u32;
        if q.iter().any(|&t| t >= n_terms) {
            return Err(CoreError::shape("query term id out of range"));
        }
        let n_q = q_off.len() - 1;
        let n_docs = self.n_docs();
        let per_query: Vec<(Vec<i32>, Vec<f32>)> = (0..n_q)
            .into_par_iter()
            .map_init(
                || (vec![0f32; n_docs], vec![false; n_docs], Vec::<u32>::new()),
                |(acc, seen, touched), i| {
                    let terms = &q[q_off[i] as usize..q_off[i + 1] as usize];
                    for &t in terms {
                        let (lo, hi) = (
                            self.indptr[t as usize] as usize,
                            self.indptr[t as usize + 1] as usize,
                        );
                        for j in lo..hi {
                            let d = self.postings[j] as usize;
                            if !seen[d] {
                                seen[d] = true;
                                touched.push(d as u32);
                            }
                            acc[d] += self.weights[j];
                        }
                    }
                    let c = self.nonocc_sum(terms);
                    let mut hits: Vec<(f32, u32)> =
                        touched.iter().map(|&d| (acc[d as usize] + c, d)).collect();
                    for &d in touched.iter() {
                        acc[d as usize] = 0.0;
                        seen[d as usize] = false;
                    }
                    touched.clear();
                    let better =
                        |a: &(f32, u32), b: &(f32, u32)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
                    if hits.len() > k {
                        hits.select_nth_unstable_by(k - 1, better);
                        hits.truncate(k);
                    }
                    hits.sort_unstable_by(better);
                    (
                        hits.iter().map(|h| h.1 as i32).collect(),
                        hits.iter().map(|h| h.0).collect(),
                    )
                },
            )
            .collect();
        let mut out = TopK {
            k,
            idx: vec![-1; n_q * k],
            score: vec![f32::NEG_INFINITY; n_q * k],
            count: vec![0; n_q],
        };
        for (i, (idx, score)) in per_query.into_iter().enumerate() {
            out.count[i] = idx.len() as u32;
            out.idx[i * k..i * k + idx.len()].copy_from_slice(&idx);
            out.score[i * k..i * k + score.len()].copy_from_slice(&score);
        }
        Ok(out)
    }

    /// Grouped top-k: group g ranks only the candidate documents
    /// `cand[cand_off[g]..cand_off[g+1]]` for query `group_query[g]` (term ids
    /// `q[q_off[i]..q_off[i+1]]`); matching candidates only, ties to the lower index.
    pub fn topk_groups(
        &self,
        q: &[u32],
        q_off: &[u64],
        group_query: &[u32],
        cand: &[u32],
        cand_off: &[u64],
        k: usize,
    ) -> CoreResult<TopK> {
        if q_off.is_empty()
            || q_off[q_off.len() - 1] as usize != q.len()
            || q_off.windows(2).any(|w| w[0] > w[1])
        {
            return Err(CoreError::shape(
                "query offsets do not describe the term array",
            ));
        }
        check_groups(
            k,
            group_query,
            cand,
            cand_off,
            q_off.len() - 1,
            self.n_docs(),
        )?;
        let n_groups = group_query.len();
        if q.iter().any(|&t| t as usize >= self.vocab.len()) {
            return Err(CoreError::shape("query term id out of range"));
        }
        let n_docs = self.n_docs();
        let per_group: Vec<Vec<(f32, u32)>> = (0..n_groups)
            .into_par_iter()
            .map_init(
                || (vec![0f32; n_docs], vec![false; n_docs], Vec::<u32>::new()),
                |(acc, seen, touched), g| {
                    let qi = group_query[g] as usize;
                    let terms = &q[q_off[qi] as usize..q_off[qi + 1] as usize];
                    for &t in terms {
                        for j in
                            self.indptr[t as usize] as usize..self.indptr[t as usize + 1] as usize
                        {
                            let d = self.postings[j] as usize;
                            if !seen[d] {
                                seen[d] = true;
                                touched.push(d as u32);
                            }
                            acc[d] += self.weights[j];
                        }
                    }
                    let c = self.nonocc_sum(terms);
                    let mut hits: Vec<(f32, u32)> = cand
                        [cand_off[g] as usize..cand_off[g + 1] as usize]
                        .iter()
                        .filter(|&&d| seen[d as usize])
                        .map(|&d| (acc[d as usize] + c, d))
                        .collect();
                    for &d in touched.iter() {
                        acc[d as usize] = 0.0;
                        seen[d as usize] = false;
                    }
                    touched.clear();
                    hits.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
                    hits.dedup_by_key(|h| h.1);
                    hits.truncate(k);
                    hits
                },
            )
            .collect();
        Ok(TopK::from_lists(k, per_group))
    }

    /// Tokenizes query texts with the index's tokenizer and maps them to term ids.
    pub fn query_terms(&self, queries: &[&str]) -> (Vec<u32>, Vec<u64>) {
        let parts: Vec<Vec<u32>> = queries
            .par_chunks(CHUNK_DOCS)
            .flat_map_iter(|chunk| {
                let mut tok = Tokenizer::new(&self.tokenizer);
                chunk
                    .iter()
                    .map(|q| self.term_ids(&tok.tokenize(q)))
                    .collect::<Vec<_>>()
            })
            .collect();
        let mut q = Vec::new();
        let mut off = vec![0u64];
        for p in parts {
            q.extend_from_slice(&p);
            off.push(q.len() as u64);
        }
        (q, off)
    }
}

/// BM25 over many small corpora (LaMP / CFRAG: one per user profile): documents
/// `docs[group_off[g]..group_off[g+1]]` form group g, scored against `queries[g]` with N,
/// df and avgdl of that group only. Returns one score per document, in document order.
pub fn bm25_score_groups(
    params: Bm25Params,
    docs: &[Vec<String>],
    group_off: &[u64],
    queries: &[Vec<String>],
) -> CoreResult<Vec<f32>> {
    if group_off.first() != Some(&0)
        || group_off.last().copied() != Some(docs.len() as u64)
        || group_off.windows(2).any(|w| w[0] > w[1])
    {
        return Err(CoreError::shape(
            "group offsets do not describe the documents",
        ));
    }
    if queries.len() + 1 != group_off.len() {
        return Err(CoreError::shape(format!(
            "{} queries for {} groups",
            queries.len(),
            group_off.len() - 1
        )));
    }
    let tokenizer = TokenizerConfig::new("whitespace")?;
    let per_group: Vec<CoreResult<Vec<f32>>> = (0..queries.len())
        .into_par_iter()
        .map(|g| {
            let group = &docs[group_off[g] as usize..group_off[g + 1] as usize];
            if group.is_empty() {
                return Ok(Vec::new());
            }
            let index = Bm25Index::from_chunks(
                tokenizer.clone(),
                params,
                vec![chunk_from_tokens(group.iter().map(Vec::as_slice))],
            )?;
            Ok(index.scores_all(&index.term_ids(&queries[g])))
        })
        .collect();
    let mut out = Vec::with_capacity(docs.len());
    for scores in per_group {
        out.extend(scores?);
    }
    Ok(out)
}

/// NumPy's float32 `sum`: sequential below 8 values, else 8 interleaved partial sums
/// combined pairwise, then the tail; blocks above 128 values split in halves.
pub fn numpy_pairwise_sum(a: &[f32]) -> f32 {
    let n = a.len();
    if n < 8 {
        let mut res = 0f32;
        for &v in a {
            res += v;
        }
        // NumPy starts from -0.0 for an all -0.0 input; irrelevant to scores (weights > 0).
        res
    } else if n <= 128 {
        let mut r = [0f32; 8];
        r.copy_from_slice(&a[..8]);
        let full = n - n % 8;
        let mut i = 8;
        while i < full {
            for j in 0..8 {
                r[j] += a[i + j];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &v in &a[full..] {
            res += v;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        numpy_pairwise_sum(&a[..n2]) + numpy_pairwise_sum(&a[n2..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retrieval::bm25::Variant;

    fn spec_index(variant: Variant, k1: f64, b: f64) -> Bm25Index {
        let docs: Vec<Vec<String>> = [
            "the cat sat on the mat",
            "the dog sat",
            "the cat and the dog",
            "birds sing",
            "cat",
        ]
        .iter()
        .map(|d| d.split(' ').map(String::from).collect())
        .collect();
        let params = Bm25Params::new(variant, Some(k1), Some(b), None, None, false).unwrap();
        Bm25Index::build_pretokenized(TokenizerConfig::new("whitespace").unwrap(), params, &docs)
            .unwrap()
    }

    fn query(index: &Bm25Index) -> Vec<u32> {
        index.term_ids(&["cat", "dog", "dog", "unicorn"].map(String::from))
    }

    #[test]
    fn spec_hand_computed_table() {
        let cases: [(Variant, f64, f64, [f32; 5]); 5] = [
            (
                Variant::Lucene,
                1.5,
                0.75,
                [0.160402, 0.739526, 0.755901, 0.0, 0.315963],
            ),
            (
                Variant::Lucene,
                0.9,
                0.4,
                [0.247781, 0.942557, 1.106563, 0.0, 0.327482],
            ),
            (
                Variant::Okapi,
                1.5,
                0.75,
                [0.113521, 0.710562, 0.681262, 0.0, 0.223616],
            ),
            (
                Variant::Bm25L,
                1.5,
                0.75,
                [1.674904, 2.593941, 2.589806, 1.431209, 1.951830],
            ),
            (
                Variant::Bm25Plus,
                1.5,
                0.75,
                [3.406061, 5.210423, 5.275630, 2.890372, 3.906191],
            ),
        ];
        for (variant, k1, b, want) in cases {
            let index = spec_index(variant, k1, b);
            let got = index.scores_all(&query(&index));
            for (g, w) in got.iter().zip(want) {
                assert!((g - w).abs() < 2e-6, "{variant:?} {got:?} vs {want:?}");
            }
        }
        // bm25s bit patterns for lucene 1.5/0.75.
        let index = spec_index(Variant::Lucene, 1.5, 0.75);
        let bits: Vec<u32> = index
            .scores_all(&query(&index))
            .iter()
            .map(|s| s.to_bits())
            .collect();
        assert_eq!(bits, [0x3e244050, 0x3f3d519a, 0x3f4182b3, 0, 0x3ea1c5f7]);
    }

    #[test]
    fn csc_arrays_match_a_naive_build_at_any_thread_count() {
        // Skewed term frequencies over several chunks, so the threads' term ranges differ
        // in size and some terms occur in one chunk only.
        let mut state = 7u64;
        let docs: Vec<Vec<String>> = (0..3 * CHUNK_DOCS + 17)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let len = (state >> 59) as usize;
                (0..len)
                    .map(|j| {
                        let x = (state >> (j % 40)) & 0xffff;
                        format!("t{}", x * x / 65536 / 64)
                    })
                    .collect()
            })
            .collect();
        // reference: sorted vocabulary, postings in document order, tf counted directly
        let mut vocab: Vec<String> = docs.iter().flatten().cloned().collect();
        vocab.sort();
        vocab.dedup();
        let mut want_post: Vec<Vec<u32>> = vec![Vec::new(); vocab.len()];
        for (d, doc) in docs.iter().enumerate() {
            let mut ids: Vec<usize> = doc
                .iter()
                .map(|t| vocab.binary_search(t).unwrap())
                .collect();
            ids.sort_unstable();
            ids.dedup();
            for t in ids {
                want_post[t].push(d as u32);
            }
        }
        let params = Bm25Params::new(Variant::Lucene, None, None, None, None, false).unwrap();
        for threads in [1, 2, 3, 7] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let index = pool.install(|| {
                Bm25Index::build_pretokenized(
                    TokenizerConfig::new("whitespace").unwrap(),
                    params,
                    &docs,
                )
                .unwrap()
            });
            assert_eq!(index.vocab, vocab, "threads={threads}");
            for (t, want) in want_post.iter().enumerate() {
                let (lo, hi) = (index.indptr[t] as usize, index.indptr[t + 1] as usize);
                assert_eq!(
                    &index.postings[lo..hi],
                    &want[..],
                    "term {} threads={threads}",
                    vocab[t]
                );
            }
        }
    }

    #[test]
    fn topk_returns_matching_documents_only() {
        let index = spec_index(Variant::Lucene, 1.5, 0.75);
        let q = query(&index);
        let top = index.topk(&q, &[0, q.len() as u64], 5).unwrap();
        assert_eq!(top.count, [4]);
        assert_eq!(&top.idx, &[2, 1, 4, 0, -1]);
        let empty = index.topk(&[], &[0, 0], 3).unwrap();
        assert_eq!(empty.count, [0]);
        assert!(index.topk(&q, &[0, q.len() as u64], 0).is_err());
    }

    #[test]
    fn grouped_topk_ranks_candidates_only() {
        let index = spec_index(Variant::Lucene, 1.5, 0.75);
        let q = query(&index);
        // group 0: candidates d0, d3, d4 (d3 matches nothing); group 1: d1, d2.
        let top = index
            .topk_groups(
                &q,
                &[0, q.len() as u64],
                &[0, 0],
                &[0, 3, 4, 1, 2],
                &[0, 3, 5],
                5,
            )
            .unwrap();
        assert_eq!(top.count, [2, 2]);
        assert_eq!(&top.idx[..2], &[4, 0]);
        assert_eq!(&top.idx[5..7], &[2, 1]);
    }

    #[test]
    fn pairwise_sum_matches_numpy_order() {
        let a: Vec<f32> = (0..20).map(|i| 0.1 + i as f32 * 0.37).collect();
        let mut r = [0f32; 8];
        r.copy_from_slice(&a[..8]);
        for j in 0..8 {
            r[j] += a[8 + j];
        }
        let want = ((r[0] + r[1]) + (r[2] + r[3]))
            + ((r[4] + r[5]) + (r[6] + r[7]))
            + a[16]
            + a[17]
            + a[18]
            + a[19];
        assert_eq!(numpy_pairwise_sum(&a).to_bits(), want.to_bits());
    }
}
