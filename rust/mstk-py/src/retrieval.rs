//! Bindings for BM25 retrieval (mstk-core `retrieval`). The index object owns its arrays;
//! building and searching run without the GIL on a rayon pool of the requested size.

use mstk_core::retrieval::{
    Bm25Index, Bm25Params, DenseIndex, Metric, Storage, Tokenizer, TokenizerConfig, TopK, Variant,
};
use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods,
};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::errors::{IntoPyResult, ParameterError};
use crate::with_threads;

#[allow(clippy::too_many_arguments)]
fn make_config(
    tokenizer: &str,
    stopwords: Option<Vec<String>>,
    stemmer: Option<bool>,
    normalize: &str,
) -> PyResult<TokenizerConfig> {
    let mut config = TokenizerConfig::new(tokenizer).py()?;
    if let Some(words) = stopwords {
        config.stopwords = words;
    }
    if let Some(stem) = stemmer {
        config.stem = stem;
    }
    config.normalize = TokenizerConfig::parse_normalize(normalize).py()?;
    Ok(config)
}

fn make_params(
    variant: &str,
    k1: Option<f64>,
    b: Option<f64>,
    delta: Option<f64>,
    epsilon: Option<f64>,
    lucene_norms: bool,
) -> PyResult<Bm25Params> {
    Bm25Params::new(
        Variant::parse(variant).py()?,
        k1,
        b,
        delta,
        epsilon,
        lucene_norms,
    )
    .py()
}

/// Tokens of each text, as the index's tokenizer would produce them.
#[pyfunction]
#[pyo3(signature = (texts, tokenizer="word", *, stopwords=None, stemmer=None, normalize="none"))]
fn tokenize(
    py: Python<'_>,
    texts: Vec<String>,
    tokenizer: &str,
    stopwords: Option<Vec<String>>,
    stemmer: Option<bool>,
    normalize: &str,
) -> PyResult<Vec<Vec<String>>> {
    let config = make_config(tokenizer, stopwords, stemmer, normalize)?;
    Ok(py.detach(|| {
        let mut tok = Tokenizer::new(&config);
        texts.iter().map(|t| tok.tokenize(t)).collect()
    }))
}

type Hits<'py> = (
    Bound<'py, PyArray2<i32>>,
    Bound<'py, PyArray2<f32>>,
    Bound<'py, PyArray1<i32>>,
);

#[pyclass(module = "mstk._core", name = "Bm25Index", frozen)]
struct PyBm25Index(Bm25Index);

#[pymethods]
impl PyBm25Index {
    /// Tokenize and index `texts` (one per id).
    #[staticmethod]
    #[pyo3(signature = (texts, ids, *, tokenizer="word", stopwords=None, stemmer=None, normalize="none",
        variant="lucene", k1=None, b=None, delta=None, epsilon=None, lucene_norms=false, store_contents=false,
        threads=None))]
    #[allow(clippy::too_many_arguments)]
    fn build(
        py: Python<'_>,
        texts: Vec<String>,
        ids: Vec<String>,
        tokenizer: &str,
        stopwords: Option<Vec<String>>,
        stemmer: Option<bool>,
        normalize: &str,
        variant: &str,
        k1: Option<f64>,
        b: Option<f64>,
        delta: Option<f64>,
        epsilon: Option<f64>,
        lucene_norms: bool,
        store_contents: bool,
        threads: Option<usize>,
    ) -> PyResult<Self> {
        if texts.len() != ids.len() {
            return Err(crate::errors::ShapeError::new_err(format!(
                "{} texts for {} ids",
                texts.len(),
                ids.len()
            )));
        }
        let config = make_config(tokenizer, stopwords, stemmer, normalize)?;
        let params = make_params(variant, k1, b, delta, epsilon, lucene_norms)?;
        let index = py
            .detach(|| {
                with_threads(threads, || {
                    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
                    Bm25Index::build(&config, params, &refs).map(|mut index| {
                        index.doc_ids = ids;
                        if store_contents {
                            index.contents = Some(texts);
                        }
                        index
                    })
                })
            })?
            .py()?;
        Ok(PyBm25Index(index))
    }

    /// Index documents given as token lists (tokenized elsewhere, e.g. jieba in Python).
    #[staticmethod]
    #[pyo3(signature = (tokens, ids, *, tokenizer="whitespace", variant="lucene", k1=None, b=None, delta=None,
        epsilon=None, lucene_norms=false, threads=None))]
    #[allow(clippy::too_many_arguments)]
    fn build_pretokenized(
        py: Python<'_>,
        tokens: Vec<Vec<String>>,
        ids: Vec<String>,
        tokenizer: &str,
        variant: &str,
        k1: Option<f64>,
        b: Option<f64>,
        delta: Option<f64>,
        epsilon: Option<f64>,
        lucene_norms: bool,
        threads: Option<usize>,
    ) -> PyResult<Self> {
        if tokens.len() != ids.len() {
            return Err(crate::errors::ShapeError::new_err(format!(
                "{} documents for {} ids",
                tokens.len(),
                ids.len()
            )));
        }
        let config = TokenizerConfig::new(tokenizer).py()?;
        let params = make_params(variant, k1, b, delta, epsilon, lucene_norms)?;
        let index = py
            .detach(|| {
                with_threads(threads, || {
                    Bm25Index::build_pretokenized(config, params, &tokens).map(|mut index| {
                        index.doc_ids = ids;
                        index
                    })
                })
            })?
            .py()?;
        Ok(PyBm25Index(index))
    }

    #[staticmethod]
    #[pyo3(signature = (data, verify=true))]
    fn from_bytes(py: Python<'_>, data: &Bound<'_, PyBytes>, verify: bool) -> PyResult<Self> {
        let bytes: &[u8] = data.as_bytes();
        Ok(PyBm25Index(
            py.detach(|| Bm25Index::from_bytes(bytes, verify)).py()?,
        ))
    }

    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = py.detach(|| self.0.to_bytes()).py()?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// The index's description (params, tokenizer, counts) as a JSON string.
    fn meta(&self) -> String {
        mstk_core::retrieval::store::meta_json(&self.0).to_string()
    }

    #[getter]
    fn n_docs(&self) -> usize {
        self.0.n_docs()
    }

    fn doc_ids(&self) -> Vec<String> {
        self.0.doc_ids.clone()
    }

    fn doc_id(&self, i: i64) -> Option<String> {
        usize::try_from(i)
            .ok()
            .and_then(|i| self.0.doc_ids.get(i).cloned())
    }

    /// Stored text of document `i` (None without `store_contents`).
    fn content(&self, i: i64) -> Option<String> {
        let i = usize::try_from(i).ok()?;
        self.0.contents.as_ref().and_then(|c| c.get(i).cloned())
    }

    #[getter]
    fn has_contents(&self) -> bool {
        self.0.contents.is_some()
    }

    /// Top k per query text: (doc index i32[n,k] padded −1, score f32[n,k] padded −inf,
    /// count i32[n]).
    #[pyo3(signature = (queries, k=10, threads=None))]
    fn search<'py>(
        &self,
        py: Python<'py>,
        queries: Vec<String>,
        k: usize,
        threads: Option<usize>,
    ) -> PyResult<Hits<'py>> {
        let top = py
            .detach(|| {
                with_threads(threads, || {
                    let refs: Vec<&str> = queries.iter().map(String::as_str).collect();
                    let (q, off) = self.0.query_terms(&refs);
                    self.0.topk(&q, &off, k)
                })
            })?
            .py()?;
        hits(py, top)
    }

    /// Top k per pre-tokenized query.
    #[pyo3(signature = (queries, k=10, threads=None))]
    fn search_tokens<'py>(
        &self,
        py: Python<'py>,
        queries: Vec<Vec<String>>,
        k: usize,
        threads: Option<usize>,
    ) -> PyResult<Hits<'py>> {
        let top = py
            .detach(|| {
                with_threads(threads, || {
                    let mut q = Vec::new();
                    let mut off = vec![0u64];
                    for tokens in &queries {
                        q.extend(self.0.term_ids(tokens));
                        off.push(q.len() as u64);
                    }
                    self.0.topk(&q, &off, k)
                })
            })?
            .py()?;
        hits(py, top)
    }

    /// Grouped top-k over candidate documents: group g ranks `cand[cand_off[g]..cand_off[g+1]]`
    /// for query text `queries[group_query[g]]`.
    #[pyo3(signature = (queries, group_query, cand, cand_off, k=10, threads=None))]
    #[allow(clippy::too_many_arguments)]
    fn topk_groups<'py>(
        &self,
        py: Python<'py>,
        queries: Vec<String>,
        group_query: Vec<u32>,
        cand: Vec<u32>,
        cand_off: Vec<u64>,
        k: usize,
        threads: Option<usize>,
    ) -> PyResult<Hits<'py>> {
        let top = py
            .detach(|| {
                with_threads(threads, || {
                    let refs: Vec<&str> = queries.iter().map(String::as_str).collect();
                    let (q, off) = self.0.query_terms(&refs);
                    self.0
                        .topk_groups(&q, &off, &group_query, &cand, &cand_off, k)
                })
            })?
            .py()?;
        hits(py, top)
    }

    /// Scores of every document for one query text (or token list), for parity checks.
    fn scores<'py>(
        &self,
        py: Python<'py>,
        query: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        let tokens: Vec<String> = match query.extract::<String>() {
            Ok(text) => Tokenizer::new(&self.0.tokenizer).tokenize(&text),
            Err(_) => query.extract()?,
        };
        let terms = self.0.term_ids(&tokens);
        Ok(py.detach(|| self.0.scores_all(&terms)).into_pyarray(py))
    }
}

fn hits(py: Python<'_>, top: mstk_core::retrieval::TopK) -> PyResult<Hits<'_>> {
    let n = top.count.len();
    let k = top.k;
    let idx = numpy::ndarray::Array2::from_shape_vec((n, k), top.idx)
        .map_err(|e| crate::errors::ShapeError::new_err(e.to_string()))?;
    let score = numpy::ndarray::Array2::from_shape_vec((n, k), top.score)
        .map_err(|e| crate::errors::ShapeError::new_err(e.to_string()))?;
    let count: Vec<i32> = top.count.iter().map(|&c| c as i32).collect();
    Ok((
        idx.into_pyarray(py),
        score.into_pyarray(py),
        count.into_pyarray(py),
    ))
}

/// An exact dense index (float32 vectors, inner product or cosine).
#[pyclass(module = "mstk._core", name = "DenseIndex", frozen)]
struct PyDenseIndex(DenseIndex);

fn rows(a: &PyReadonlyArray2<'_, f32>) -> (Vec<f32>, usize) {
    let view = a.as_array();
    let dim = view.ncols();
    (view.iter().copied().collect(), dim)
}

impl PyDenseIndex {
    /// Owned query rows, refused when their width is not the index's dimension.
    fn query_rows(&self, queries: &PyReadonlyArray2<'_, f32>) -> PyResult<Vec<f32>> {
        let (data, dim) = rows(queries);
        if dim != self.0.dim {
            return Err(crate::errors::ShapeError::new_err(format!(
                "queries have dimension {dim}, the index {}",
                self.0.dim
            )));
        }
        Ok(data)
    }
}

#[pymethods]
impl PyDenseIndex {
    #[staticmethod]
    #[pyo3(signature = (vectors, ids, *, metric="ip", contents=None, encoder_json="null", dtype="f32"))]
    fn build(
        vectors: PyReadonlyArray2<'_, f32>,
        ids: Vec<String>,
        metric: &str,
        contents: Option<Vec<String>>,
        encoder_json: &str,
        dtype: &str,
    ) -> PyResult<Self> {
        let storage = Storage::parse(dtype).py()?;
        let (data, dim) = rows(&vectors);
        let mut index = DenseIndex::new(data, dim, Metric::parse(metric).py()?, ids).py()?;
        if storage == Storage::Int8 {
            index = index.into_int8();
        }
        if let Some(c) = contents {
            if c.len() != index.n_docs() {
                return Err(crate::errors::ShapeError::new_err(
                    "contents and ids differ in length",
                ));
            }
            index.contents = Some(c);
        }
        index.encoder = serde_json::from_str(encoder_json)
            .map_err(|e| crate::errors::ParameterError::new_err(format!("encoder_json: {e}")))?;
        Ok(PyDenseIndex(index))
    }

    #[staticmethod]
    #[pyo3(signature = (data, verify=true))]
    fn from_bytes(py: Python<'_>, data: &Bound<'_, PyBytes>, verify: bool) -> PyResult<Self> {
        let bytes: &[u8] = data.as_bytes();
        Ok(PyDenseIndex(
            py.detach(|| DenseIndex::from_bytes(bytes, verify)).py()?,
        ))
    }

    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = py.detach(|| self.0.to_bytes()).py()?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// Grouped top-k over candidate documents: group g ranks `cand[cand_off[g]..cand_off[g+1]]`
    /// for query row `queries[group_query[g]]`.
    #[pyo3(signature = (queries, group_query, cand, cand_off, k=10, threads=None))]
    #[allow(clippy::too_many_arguments)]
    fn topk_groups<'py>(
        &self,
        py: Python<'py>,
        queries: PyReadonlyArray2<'py, f32>,
        group_query: Vec<u32>,
        cand: Vec<u32>,
        cand_off: Vec<u64>,
        k: usize,
        threads: Option<usize>,
    ) -> PyResult<Hits<'py>> {
        let q = self.query_rows(&queries)?;
        let top = py
            .detach(|| {
                with_threads(threads, || {
                    self.0.topk_groups(&q, &group_query, &cand, &cand_off, k)
                })
            })?
            .py()?;
        hits(py, top)
    }

    fn meta(&self) -> String {
        self.0.meta_json().to_string()
    }

    #[getter]
    fn n_docs(&self) -> usize {
        self.0.n_docs()
    }

    #[getter]
    fn dim(&self) -> usize {
        self.0.dim
    }

    fn doc_ids(&self) -> Vec<String> {
        self.0.doc_ids.clone()
    }

    fn doc_id(&self, i: i64) -> Option<String> {
        usize::try_from(i)
            .ok()
            .and_then(|i| self.0.doc_ids.get(i).cloned())
    }

    fn content(&self, i: i64) -> Option<String> {
        let i = usize::try_from(i).ok()?;
        self.0.contents.as_ref().and_then(|c| c.get(i).cloned())
    }

    #[getter]
    fn has_contents(&self) -> bool {
        self.0.contents.is_some()
    }

    /// Top k per query row: (doc index i32[n,k], score f32[n,k], count i32[n]).
    #[pyo3(signature = (queries, k=10, threads=None))]
    fn search<'py>(
        &self,
        py: Python<'py>,
        queries: PyReadonlyArray2<'py, f32>,
        k: usize,
        threads: Option<usize>,
    ) -> PyResult<Hits<'py>> {
        let data = self.query_rows(&queries)?;
        let top = py
            .detach(|| with_threads(threads, || self.0.topk(&data, k)))?
            .py()?;
        hits(py, top)
    }
}

/// BM25 per group of documents (N, df, avgdl from the group only), one score per document.
#[pyfunction]
#[pyo3(signature = (docs, group_off, queries, *, variant="okapi", k1=None, b=None, delta=None, epsilon=None, threads=None))]
#[allow(clippy::too_many_arguments)]
fn bm25_score_groups<'py>(
    py: Python<'py>,
    docs: Vec<Vec<String>>,
    group_off: Vec<u64>,
    queries: Vec<Vec<String>>,
    variant: &str,
    k1: Option<f64>,
    b: Option<f64>,
    delta: Option<f64>,
    epsilon: Option<f64>,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyArray1<f32>>> {
    let params = make_params(variant, k1, b, delta, epsilon, false)?;
    let scores = py
        .detach(|| {
            with_threads(threads, || {
                mstk_core::retrieval::bm25_score_groups(params, &docs, &group_off, &queries)
            })
        })?
        .py()?;
    Ok(scores.into_pyarray(py))
}

/// xxh3-64 of `data` (the index format's checksum), for manifests.
/// Fuse several runs over the same queries (RRF or linear); each run is (idx [n, k_r]
/// int32, scores [n, k_r] float32, count [n] int32) as the indexes' search returns them.
#[pyfunction]
#[pyo3(signature = (runs, weights, k, *, fusion="rrf", rrf_k=60.0, norm="minmax", threads=None))]
#[allow(clippy::type_complexity, clippy::too_many_arguments)]
fn fuse<'py>(
    py: Python<'py>,
    runs: Vec<(
        PyReadonlyArray2<'py, i32>,
        PyReadonlyArray2<'py, f32>,
        PyReadonlyArray1<'py, i32>,
    )>,
    weights: Vec<f64>,
    k: usize,
    fusion: &str,
    rrf_k: f64,
    norm: &str,
    threads: Option<usize>,
) -> PyResult<(
    Bound<'py, PyArray2<i32>>,
    Bound<'py, PyArray2<f64>>,
    Bound<'py, PyArray1<i32>>,
)> {
    if k == 0 {
        return Err(ParameterError::new_err("k must be at least 1"));
    }
    let method = match fusion {
        "rrf" => mstk_core::retrieval::Fusion::Rrf { rrf_k },
        "linear" => mstk_core::retrieval::Fusion::Linear {
            norm: mstk_core::retrieval::Norm::parse(norm).py()?,
        },
        other => {
            return Err(ParameterError::new_err(format!(
                "fusion must be rrf or linear, got '{other}'"
            )))
        }
    };
    // Owned copies before the GIL is released.
    let mut owned = Vec::with_capacity(runs.len());
    for (idx, score, count) in &runs {
        let shape = idx.shape();
        if score.shape() != shape
            || count.len() != shape[0]
            || count.as_array().iter().any(|&c| c < 0)
        {
            return Err(crate::errors::ShapeError::new_err(
                "a run is (idx [n, k], scores [n, k], count [n]) with counts of at least 0",
            ));
        }
        owned.push(TopK {
            k: shape[1],
            idx: idx.as_array().iter().copied().collect(),
            score: score.as_array().iter().copied().collect(),
            count: count.as_array().iter().map(|&c| c as u32).collect(),
        });
    }
    let fused = py
        .detach(|| {
            with_threads(threads, || {
                let refs: Vec<&TopK> = owned.iter().collect();
                mstk_core::retrieval::fuse(&refs, &weights, method, k)
            })
        })?
        .py()?;
    let n = fused.count.len();
    let idx = numpy::ndarray::Array2::from_shape_vec((n, k), fused.idx).expect("n·k entries");
    let score = numpy::ndarray::Array2::from_shape_vec((n, k), fused.score).expect("n·k entries");
    let count: Vec<i32> = fused.count.iter().map(|&c| c as i32).collect();
    Ok((
        idx.into_pyarray(py),
        score.into_pyarray(py),
        count.into_pyarray(py),
    ))
}

#[pyfunction]
fn xxh3_64(data: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(data)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyBm25Index>()?;
    m.add_class::<PyDenseIndex>()?;
    m.add_function(wrap_pyfunction!(tokenize, m)?)?;
    m.add_function(wrap_pyfunction!(bm25_score_groups, m)?)?;
    m.add_function(wrap_pyfunction!(xxh3_64, m)?)?;
    m.add_function(wrap_pyfunction!(fuse, m)?)?;
    Ok(())
}
