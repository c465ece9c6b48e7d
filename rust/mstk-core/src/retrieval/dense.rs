//! Exact dense top-k (spec retrieval, "Dense exact top-k"): inner product or cosine over
//! float32 vectors. Queries are processed in blocks against blocks of documents that fit in
//! cache; every score is one dot product in a fixed order, so results are identical at any
//! thread count. Ties go to the lower document index.

use rayon::prelude::*;
use serde_json::json;

use super::format::{self, Section};
use super::index::{check_groups, TopK};
use crate::error::{CoreError, CoreResult};

pub const KIND_DENSE: u16 = 2;
// A [QUERY_BLOCK x DOC_BLOCK] score tile (512 KiB) per sgemm call; threads take query
// blocks, so each score is computed by the same call shape at any thread count.
const QUERY_BLOCK: usize = 128;
const DOC_BLOCK: usize = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    Ip,
    Cos,
}

impl Metric {
    pub fn parse(name: &str) -> CoreResult<Self> {
        match name {
            "ip" => Ok(Metric::Ip),
            "cos" => Ok(Metric::Cos),
            other => Err(CoreError::parameter(format!(
                "metric must be ip or cos, got {other:?}"
            ))),
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Metric::Ip => "ip",
            Metric::Cos => "cos",
        }
    }
}

/// How document vectors are stored: float32, or int8 codes with one scale per row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Storage {
    F32,
    Int8,
}

impl Storage {
    pub fn parse(name: &str) -> CoreResult<Self> {
        match name {
            "f32" => Ok(Storage::F32),
            "int8" => Ok(Storage::Int8),
            other => Err(CoreError::parameter(format!(
                "dtype must be f32 or int8, got {other:?}"
            ))),
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Storage::F32 => "f32",
            Storage::Int8 => "int8",
        }
    }
}

pub struct DenseIndex {
    pub dim: usize,
    pub metric: Metric,
    pub storage: Storage,
    /// Row-major [n_docs, dim]; L2-normalised rows for `cos`. Empty for int8 storage.
    pub vectors: Vec<f32>,
    /// int8 storage: row-major codes and one scale per row (value ≈ scale · code).
    pub codes: Vec<i8>,
    pub scales: Vec<f32>,
    pub doc_ids: Vec<String>,
    pub contents: Option<Vec<String>>,
    /// Free-form JSON describing the encoder that made the vectors (fingerprint).
    pub encoder: serde_json::Value,
}

/// Dot product with 8 independent accumulators, combined pairwise: a fixed order, so the
/// same pair of vectors always gives the same bits.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for j in 0..8 {
            acc[j] += x[j] * y[j];
        }
    }
    let mut s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

/// Inner products of every query row with every document row of one block, into `out`
/// ([queries, docs] row-major), by matrixmultiply's sgemm (packed panels, FMA kernels
/// picked at run time). The summation order depends only on `dim` and the call shape,
/// never on the thread count.
#[rustfmt::skip] // one line per matrix in the sgemm call
fn scores_tile(queries: &[f32], docs: &[f32], dim: usize, out: &mut [f32]) {
    let (m, n) = (queries.len() / dim, docs.len() / dim);
    debug_assert_eq!(out.len(), m * n);
    if m == 0 || n == 0 {
        return;
    }
    // SAFETY: the slices hold m x dim, n x dim and m x n floats; the strides below index
    // inside them (queries row-major, docs read as the transposed [dim, n] matrix).
    unsafe {
        matrixmultiply::sgemm(
            m, dim, n,
            1.0,
            queries.as_ptr(), dim as isize, 1,
            docs.as_ptr(), 1, dim as isize,
            0.0,
            out.as_mut_ptr(), n as isize, 1,
        );
    }
}

fn normalize_rows(v: &mut [f32], dim: usize) {
    for row in v.chunks_exact_mut(dim) {
        let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
        for x in row.iter_mut() {
            *x /= norm;
        }
    }
}

/// Per-row symmetric int8 codes: s = max|x|/127 (1 for an all-zero row), q = x/s rounded
/// half to even and clamped to ±127, all in f32.
pub fn quantize_rows(v: &[f32], dim: usize) -> (Vec<i8>, Vec<f32>) {
    let mut codes = Vec::with_capacity(v.len());
    let mut scales = Vec::with_capacity(v.len() / dim.max(1));
    for row in v.chunks_exact(dim) {
        let max = row.iter().fold(0f32, |m, x| m.max(x.abs()));
        let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
        codes.extend(
            row.iter()
                .map(|x| (x / scale).round_ties_even().clamp(-127.0, 127.0) as i8),
        );
        scales.push(scale);
    }
    (codes, scales)
}

/// Σ a_i·b_i in i32; the AVX2 build of the same loop where the CPU has it (LLVM turns
/// it into vpmaddwd), chosen once per search.
fn dot_i8_kernel() -> fn(&[i8], &[i8]) -> i32 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            return |a, b| {
                // SAFETY: AVX2 is present (checked just above).
                unsafe { dot_i8_avx2(a, b) }
            };
        }
    }
    dot_i8
}

#[inline(always)]
fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| i32::from(x) * i32::from(y))
        .sum()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn dot_i8_avx2(a: &[i8], b: &[i8]) -> i32 {
    dot_i8(a, b)
}

/// A bounded list of the best (score, index) pairs: score desc, index asc.
struct Best {
    k: usize,
    items: Vec<(f32, u32)>,
}

impl Best {
    fn worse(a: &(f32, u32), b: &(f32, u32)) -> bool {
        // a ranks after b
        a.0 < b.0 || (a.0 == b.0 && a.1 > b.1)
    }
    fn offer(&mut self, score: f32, idx: u32) {
        if self.items.len() < self.k {
            self.items.push((score, idx));
            if self.items.len() == self.k {
                self.items
                    .sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            }
            return;
        }
        let last = self.items[self.k - 1];
        if Self::worse(&(score, idx), &last) {
            return;
        }
        // insert in order, dropping the last
        let pos = self
            .items
            .partition_point(|x| !Self::worse(x, &(score, idx)));
        self.items.insert(pos, (score, idx));
        self.items.pop();
    }
    fn finish(mut self) -> Vec<(f32, u32)> {
        self.items
            .sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        self.items
    }
}

impl DenseIndex {
    pub fn new(
        vectors: Vec<f32>,
        dim: usize,
        metric: Metric,
        doc_ids: Vec<String>,
    ) -> CoreResult<Self> {
        if dim == 0 || vectors.len() % dim != 0 {
            return Err(CoreError::shape(format!(
                "{} values are not rows of dimension {dim}",
                vectors.len()
            )));
        }
        if vectors.len() / dim != doc_ids.len() {
            return Err(CoreError::shape(format!(
                "{} vectors for {} ids",
                vectors.len() / dim,
                doc_ids.len()
            )));
        }
        if vectors.iter().any(|x| !x.is_finite()) {
            return Err(CoreError::parameter("vectors hold NaN or infinity"));
        }
        let mut vectors = vectors;
        if metric == Metric::Cos {
            normalize_rows(&mut vectors, dim);
        }
        Ok(DenseIndex {
            dim,
            metric,
            storage: Storage::F32,
            vectors,
            codes: Vec::new(),
            scales: Vec::new(),
            doc_ids,
            contents: None,
            encoder: serde_json::Value::Null,
        })
    }

    /// Store the vectors as int8 (spec: per-row symmetric scale s = max|x|/127, 1 for an
    /// all-zero row; q = round-half-even(x/s) clamped to ±127). A quarter of the memory;
    /// scores become approximate.
    pub fn into_int8(mut self) -> Self {
        if self.storage == Storage::Int8 {
            return self;
        }
        let (codes, scales) = quantize_rows(&self.vectors, self.dim);
        self.codes = codes;
        self.scales = scales;
        self.vectors = Vec::new();
        self.storage = Storage::Int8;
        self
    }

    pub fn n_docs(&self) -> usize {
        self.doc_ids.len()
    }

    /// Top `k` documents for each of the `queries` (row-major [n, dim]).
    pub fn topk(&self, queries: &[f32], k: usize) -> CoreResult<TopK> {
        if k == 0 {
            return Err(CoreError::parameter("k must be at least 1"));
        }
        let queries = self.prepared_queries(queries)?;
        let dim = self.dim;
        let n_q = queries.len() / dim;
        let keep = k.min(self.n_docs());
        let blocks: Vec<Vec<Vec<(f32, u32)>>> = if self.storage == Storage::Int8 {
            self.int8_blocks(&queries, keep)
        } else {
            queries
                .par_chunks(QUERY_BLOCK * dim)
                .map(|qblock| {
                    let mut best: Vec<Best> = (0..qblock.len() / dim)
                        .map(|_| Best {
                            k: keep.max(1),
                            items: Vec::with_capacity(keep + 1),
                        })
                        .collect();
                    let n_block_q = qblock.len() / dim;
                    let mut tile = vec![0f32; QUERY_BLOCK * DOC_BLOCK];
                    for (b, dblock) in self.vectors.chunks(DOC_BLOCK * dim).enumerate() {
                        let base = (b * DOC_BLOCK) as u32;
                        let n_block_d = dblock.len() / dim;
                        scores_tile(qblock, dblock, dim, &mut tile[..n_block_q * n_block_d]);
                        for (qi, row) in tile[..n_block_q * n_block_d]
                            .chunks_exact(n_block_d)
                            .enumerate()
                        {
                            for (di, &score) in row.iter().enumerate() {
                                best[qi].offer(score, base + di as u32);
                            }
                        }
                    }
                    best.into_iter()
                        .map(|b| if keep == 0 { Vec::new() } else { b.finish() })
                        .collect()
                })
                .collect()
        };
        let lists: Vec<Vec<(f32, u32)>> = blocks.into_iter().flatten().collect();
        debug_assert_eq!(lists.len(), n_q);
        Ok(TopK::from_lists(k, lists))
    }

    /// Grouped top-k: group g ranks only the candidate documents
    /// `cand[cand_off[g]..cand_off[g+1]]` for query row `group_query[g]` (two-level tree
    /// retrieval with dense children). Each score is one per-pair dot product (`dot`, or the
    /// int8 dot for int8 storage), so it may differ in the last bits from `topk`'s sgemm
    /// tiles; ties go to the lower document index.
    pub fn topk_groups(
        &self,
        queries: &[f32],
        group_query: &[u32],
        cand: &[u32],
        cand_off: &[u64],
        k: usize,
    ) -> CoreResult<TopK> {
        let queries = self.prepared_queries(queries)?;
        let dim = self.dim;
        check_groups(
            k,
            group_query,
            cand,
            cand_off,
            queries.len() / dim,
            self.n_docs(),
        )?;
        let n_groups = group_query.len();
        let quantised = (self.storage == Storage::Int8).then(|| quantize_rows(&queries, dim));
        let dot8 = dot_i8_kernel();
        let per_group: Vec<Vec<(f32, u32)>> = (0..n_groups)
            .into_par_iter()
            .map(|g| {
                let qi = group_query[g] as usize;
                let docs = &cand[cand_off[g] as usize..cand_off[g + 1] as usize];
                let mut best = Best {
                    k,
                    items: Vec::with_capacity(k + 1),
                };
                for &d in docs {
                    let d_us = d as usize;
                    let score = match &quantised {
                        Some((codes, scales)) => {
                            let q = &codes[qi * dim..(qi + 1) * dim];
                            let row = &self.codes[d_us * dim..(d_us + 1) * dim];
                            (scales[qi] * self.scales[d_us]) * dot8(q, row) as f32
                        }
                        None => dot(
                            &queries[qi * dim..(qi + 1) * dim],
                            &self.vectors[d_us * dim..(d_us + 1) * dim],
                        ),
                    };
                    best.offer(score, d);
                }
                best.finish()
            })
            .collect();
        Ok(TopK::from_lists(k, per_group))
    }

    /// Query rows as the documents are stored: checked against `dim`, L2-normalised for `cos`.
    fn prepared_queries(&self, queries: &[f32]) -> CoreResult<Vec<f32>> {
        if queries.len() % self.dim != 0 {
            return Err(CoreError::shape(format!(
                "query values are not rows of dimension {}",
                self.dim
            )));
        }
        let mut queries = queries.to_vec();
        if self.metric == Metric::Cos {
            normalize_rows(&mut queries, self.dim);
        }
        Ok(queries)
    }

    /// int8 search: queries quantised like the documents, score = s_q·s_d·Σ q_q q_d with
    /// the sum in i32 (exact, so the order of terms does not matter).
    fn int8_blocks(&self, queries: &[f32], keep: usize) -> Vec<Vec<Vec<(f32, u32)>>> {
        let dim = self.dim;
        let (q_codes, q_scales) = quantize_rows(queries, dim);
        let dot = dot_i8_kernel();
        q_codes
            .par_chunks(QUERY_BLOCK * dim)
            .zip(q_scales.par_chunks(QUERY_BLOCK))
            .map(|(qblock, qscale)| {
                let mut best: Vec<Best> = (0..qscale.len())
                    .map(|_| Best {
                        k: keep.max(1),
                        items: Vec::with_capacity(keep + 1),
                    })
                    .collect();
                for (b, (dblock, dscale)) in self
                    .codes
                    .chunks(DOC_BLOCK * dim)
                    .zip(self.scales.chunks(DOC_BLOCK))
                    .enumerate()
                {
                    let base = (b * DOC_BLOCK) as u32;
                    for ((q, &sq), best) in
                        qblock.chunks_exact(dim).zip(qscale).zip(best.iter_mut())
                    {
                        for (di, (d, &sd)) in dblock.chunks_exact(dim).zip(dscale).enumerate() {
                            let score = (sq * sd) * dot(q, d) as f32;
                            best.offer(score, base + di as u32);
                        }
                    }
                }
                best.into_iter()
                    .map(|b| if keep == 0 { Vec::new() } else { b.finish() })
                    .collect()
            })
            .collect()
    }

    pub fn meta_json(&self) -> serde_json::Value {
        json!({
            "retriever": "dense",
            "params": {"metric": self.metric.name(), "dtype": self.storage.name(), "dim": self.dim},
            "encoder": self.encoder,
            "n_docs": self.n_docs(),
            "store_contents": self.contents.is_some(),
        })
    }

    pub fn to_bytes(&self) -> CoreResult<Vec<u8>> {
        let mut sections = match self.storage {
            Storage::F32 => vec![Section::f32s("vectors", &self.vectors)],
            Storage::Int8 => vec![
                Section::i8s("codes", &self.codes),
                Section::f32s("scales", &self.scales),
            ],
        };
        sections.extend(Section::strings("docid", &self.doc_ids));
        if let Some(c) = &self.contents {
            sections.extend(Section::strings("contents", c));
        }
        let meta = serde_json::to_vec(&self.meta_json())
            .map_err(|e| CoreError::parameter(e.to_string()))?;
        sections.push(Section::utf8("meta", &meta));
        format::encode(KIND_DENSE, &sections)
    }

    pub fn from_bytes(bytes: &[u8], verify: bool) -> CoreResult<Self> {
        let (kind, sections) = format::decode(bytes, verify)?;
        let corrupt = |section: &str, m: &str| CoreError::IndexCorrupt {
            section: section.into(),
            message: m.into(),
        };
        if kind != KIND_DENSE {
            return Err(corrupt("header", "not a dense index"));
        }
        let meta: serde_json::Value =
            serde_json::from_slice(&format::find(&sections, "meta")?.bytes)
                .map_err(|_| corrupt("meta", "not JSON"))?;
        let dim = meta["params"]["dim"]
            .as_u64()
            .ok_or_else(|| corrupt("meta", "dim missing"))? as usize;
        let metric = Metric::parse(meta["params"]["metric"].as_str().unwrap_or(""))
            .map_err(|_| corrupt("meta", "bad metric"))?;
        let storage = Storage::parse(meta["params"]["dtype"].as_str().unwrap_or("f32"))
            .map_err(|_| corrupt("meta", "bad dtype"))?;
        let doc_ids = format::read_strings(&sections, "docid")?;
        let (mut vectors, mut codes, mut scales) = (Vec::new(), Vec::new(), Vec::new());
        match storage {
            Storage::F32 => {
                vectors = format::read_f32s(format::find(&sections, "vectors")?)?;
                if dim == 0 || vectors.len() != dim * doc_ids.len() {
                    return Err(corrupt(
                        "vectors",
                        "vector count disagrees with the document ids",
                    ));
                }
            }
            Storage::Int8 => {
                codes = format::read_i8s(format::find(&sections, "codes")?)?;
                scales = format::read_f32s(format::find(&sections, "scales")?)?;
                if dim == 0 || codes.len() != dim * doc_ids.len() || scales.len() != doc_ids.len() {
                    return Err(corrupt(
                        "codes",
                        "code or scale count disagrees with the document ids",
                    ));
                }
            }
        }
        let contents = if meta["store_contents"].as_bool() == Some(true) {
            Some(format::read_strings(&sections, "contents")?)
        } else {
            None
        };
        Ok(DenseIndex {
            dim,
            metric,
            storage,
            vectors,
            codes,
            scales,
            doc_ids,
            contents,
            encoder: meta["encoder"].clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int8_quantisation_and_scores_by_hand() {
        // row max 2.54 → scale 0.02: 1.0/0.02 = 50, -2.54 → -127, 0.01/0.02 = 0.5 → 0 (even)
        let (codes, scales) = quantize_rows(&[1.0, -2.54, 0.01, 0.0, 0.0, 0.0], 3);
        assert_eq!(codes, vec![50, -127, 0, 0, 0, 0]);
        assert_eq!(scales, vec![2.54f32 / 127.0, 1.0]);
        let docs = vec![1.0, -2.54, 0.01, 0.5, 0.5, 0.0];
        let index = DenseIndex::new(docs, 3, Metric::Ip, vec!["a".into(), "b".into()])
            .unwrap()
            .into_int8();
        let top = index.topk(&[2.0, 0.0, 0.0], 2).unwrap();
        // query codes [127, 0, 0], scale 2/127: a = (2/127)(2.54/127)·6350, b = (2/127)(0.5/127)·16129
        let (sq, sa, sb) = (2.0f32 / 127.0, 2.54f32 / 127.0, 0.5f32 / 127.0);
        assert_eq!(top.idx, vec![0, 1]);
        assert_eq!(top.score, vec![(sq * sa) * 6350.0, (sq * sb) * 16129.0]);
        let back = DenseIndex::from_bytes(&index.to_bytes().unwrap(), true).unwrap();
        assert_eq!(back.storage, Storage::Int8);
        assert_eq!(back.topk(&[2.0, 0.0, 0.0], 2).unwrap(), top);
        assert_eq!(dot_i8_kernel()(&[127, -127, 3], &[127, 127, -2]), -6);
    }

    #[test]
    fn topk_matches_a_full_sort_with_ties() {
        let dim = 3;
        let docs: Vec<f32> = (0..600).map(|i| ((i * 7) % 5) as f32 - 2.0).collect();
        let ids = (0..200).map(|i| i.to_string()).collect();
        let index = DenseIndex::new(docs.clone(), dim, Metric::Ip, ids).unwrap();
        let queries: Vec<f32> = vec![1.0, 0.0, -1.0, 0.5, 0.5, 0.5];
        let top = index.topk(&queries, 7).unwrap();
        for (qi, q) in queries.chunks(dim).enumerate() {
            let mut all: Vec<(f32, u32)> = docs
                .chunks(dim)
                .enumerate()
                .map(|(i, d)| (dot(q, d), i as u32))
                .collect();
            all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            let want: Vec<i32> = all[..7].iter().map(|x| x.1 as i32).collect();
            assert_eq!(&top.idx[qi * 7..qi * 7 + 7], &want[..]);
        }
        let all = index.topk(&queries[..3], 500).unwrap();
        assert_eq!(all.count, [200]);
    }

    #[test]
    fn round_trip() {
        let mut index = DenseIndex::new(
            vec![3.0, 4.0, 1.0, 0.0],
            2,
            Metric::Cos,
            vec!["a".into(), "b".into()],
        )
        .unwrap();
        index.encoder = json!({"name": "test"});
        let back = DenseIndex::from_bytes(&index.to_bytes().unwrap(), true).unwrap();
        assert_eq!(back.vectors, vec![0.6, 0.8, 1.0, 0.0]);
        assert_eq!(back.encoder, json!({"name": "test"}));
    }
}
