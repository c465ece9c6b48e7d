//! Exact dense top-k (spec retrieval, "Dense exact top-k"): inner product or cosine over
//! float32 vectors. Queries are processed in blocks against blocks of documents that fit in
//! cache; every score is one dot product in a fixed order, so results are identical at any
//! thread count. Ties go to the lower document index.

use rayon::prelude::*;
use serde_json::json;

use super::format::{self, Section};
use super::index::TopK;
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

pub struct DenseIndex {
    pub dim: usize,
    pub metric: Metric,
    /// Row-major [n_docs, dim]; L2-normalised rows for `cos`.
    pub vectors: Vec<f32>,
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
            vectors,
            doc_ids,
            contents: None,
            encoder: serde_json::Value::Null,
        })
    }

    pub fn n_docs(&self) -> usize {
        self.doc_ids.len()
    }

    /// Top `k` documents for each of the `queries` (row-major [n, dim]).
    pub fn topk(&self, queries: &[f32], k: usize) -> CoreResult<TopK> {
        if k == 0 {
            return Err(CoreError::parameter("k must be at least 1"));
        }
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
        let dim = self.dim;
        let n_q = queries.len() / dim;
        let keep = k.min(self.n_docs());
        let blocks: Vec<Vec<Vec<(f32, u32)>>> = queries
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
                    for (qi, row) in tile[..n_block_q * n_block_d].chunks_exact(n_block_d).enumerate() {
                        for (di, &score) in row.iter().enumerate() {
                            best[qi].offer(score, base + di as u32);
                        }
                    }
                }
                best.into_iter()
                    .map(|b| if keep == 0 { Vec::new() } else { b.finish() })
                    .collect()
            })
            .collect();
        let mut out = TopK {
            k,
            idx: vec![-1; n_q * k],
            score: vec![f32::NEG_INFINITY; n_q * k],
            count: vec![0; n_q],
        };
        for (i, hits) in blocks.into_iter().flatten().enumerate() {
            out.count[i] = hits.len() as u32;
            for (j, (s, d)) in hits.into_iter().enumerate() {
                out.idx[i * k + j] = d as i32;
                out.score[i * k + j] = s;
            }
        }
        Ok(out)
    }

    pub fn meta_json(&self) -> serde_json::Value {
        json!({
            "retriever": "dense",
            "params": {"metric": self.metric.name(), "dtype": "f32", "dim": self.dim},
            "encoder": self.encoder,
            "n_docs": self.n_docs(),
            "store_contents": self.contents.is_some(),
        })
    }

    pub fn to_bytes(&self) -> CoreResult<Vec<u8>> {
        let mut sections = vec![Section::f32s("vectors", &self.vectors)];
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
        let vectors = format::read_f32s(format::find(&sections, "vectors")?)?;
        let doc_ids = format::read_strings(&sections, "docid")?;
        if dim == 0 || vectors.len() != dim * doc_ids.len() {
            return Err(corrupt(
                "vectors",
                "vector count disagrees with the document ids",
            ));
        }
        let contents = if meta["store_contents"].as_bool() == Some(true) {
            Some(format::read_strings(&sections, "contents")?)
        } else {
            None
        };
        Ok(DenseIndex {
            dim,
            metric,
            vectors,
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
