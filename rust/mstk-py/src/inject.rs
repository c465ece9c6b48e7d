//! Bindings for the query-error injector (mstk-core `inject`). Models are built once as
//! opaque `ErrorModel` objects; the JSONL path and the text path release the GIL.

use std::sync::Arc;

use mstk_core::inject::{
    self as core, CharsPerWord, Config, Corruption, ErrorModel, JsonlOptions, KeyboardModel,
    ScanOpts, SelectStats, SpellingModel, TableModel, Unit, VisualModel,
};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::errors::{IntoPyResult, ParameterError};
use crate::with_threads;

/// A lowercase real-word list (misspellings that form one are discarded).
#[pyclass(module = "mstk._core", name = "WordList", frozen)]
struct PyWordList(Arc<core::WordList>);

#[pymethods]
impl PyWordList {
    /// Keys of a JSON object (pyspellchecker's `en.json`).
    #[staticmethod]
    fn from_json_keys(py: Python<'_>, data: &[u8]) -> PyResult<Self> {
        let data = data.to_vec();
        let list = py.detach(|| core::WordList::from_json_keys(&data)).py()?;
        Ok(PyWordList(Arc::new(list)))
    }

    /// `word [count]` lines; `#` starts a comment.
    #[staticmethod]
    fn from_lines(text: &str) -> Self {
        PyWordList(Arc::new(core::WordList::from_lines(text)))
    }

    #[staticmethod]
    fn from_words(words: Vec<String>) -> Self {
        PyWordList(Arc::new(core::WordList::from_words(words)))
    }

    fn __len__(&self) -> usize {
        self.0.len()
    }

    fn __contains__(&self, word: &str) -> bool {
        self.0.contains(&word.to_lowercase())
    }
}

/// One error type as the kernel runs it (built by the `*_model` functions).
#[pyclass(module = "mstk._core", name = "ErrorModel", frozen)]
struct PyErrorModel(ErrorModel);

#[pymethods]
impl PyErrorModel {
    fn eligible(&self, word: &str) -> bool {
        word.bytes().all(|b| b.is_ascii_alphabetic()) && !word.is_empty() && self.0.eligible(word)
    }

    /// The word corrupted with the edit stream of (seed, key, type, start) — what the
    /// injector would write for that word.
    fn corrupt(
        &self,
        word: &str,
        seed: u64,
        key: &str,
        type_name: &str,
        start: usize,
    ) -> PyResult<String> {
        if !self.eligible(word) {
            return Err(ParameterError::new_err(format!(
                "{word:?} is not eligible for this model"
            )));
        }
        let (seed, start) = (seed.to_string(), start.to_string());
        let mut rng = core::Rng::from_parts(&[
            core::DOMAIN.as_bytes(),
            b"edit",
            seed.as_bytes(),
            key.as_bytes(),
            type_name.as_bytes(),
            start.as_bytes(),
        ]);
        Ok(self.0.corrupt(word, &mut rng))
    }

    /// Misspelling candidates (spelling models only; others return []).
    fn candidates(&self, word: &str) -> Vec<String> {
        match &self.0 {
            ErrorModel::Spelling(m)
                if word.bytes().all(|b| b.is_ascii_alphabetic()) && !word.is_empty() =>
            {
                m.candidates(word)
            }
            _ => Vec::new(),
        }
    }
}

#[pyfunction]
#[pyo3(signature = (table=None, chars_per_word=1.0))]
fn keyboard_model(
    table: Option<Vec<(String, Vec<String>)>>,
    chars_per_word: f64,
) -> PyResult<PyErrorModel> {
    let c = CharsPerWord::new(chars_per_word).py()?;
    let model = match table {
        None => KeyboardModel::qwerty(c),
        Some(t) => KeyboardModel::from_table(&t, c).py()?,
    };
    Ok(PyErrorModel(ErrorModel::Keyboard(model)))
}

#[pyfunction]
#[pyo3(signature = (rules=None))]
fn visual_model(rules: Option<Vec<(String, String)>>) -> PyResult<PyErrorModel> {
    let model = match rules {
        None => VisualModel::builtin(),
        Some(r) => VisualModel::from_rules(r).py()?,
    };
    Ok(PyErrorModel(ErrorModel::Visual(model)))
}

#[pyfunction]
fn spelling_rules_model(words: &PyWordList) -> PyErrorModel {
    PyErrorModel(ErrorModel::Spelling(SpellingModel::from_rules(
        words.0.clone(),
    )))
}

/// A spelling model from `head variant …` lines; returns (model, (lines, keys, pairs)).
#[pyfunction]
fn spelling_dict_model(
    py: Python<'_>,
    text: String,
    words: &PyWordList,
) -> (PyErrorModel, (usize, usize, usize)) {
    let real = words.0.clone();
    let (model, stats) = py.detach(|| SpellingModel::from_dict(&text, real));
    (
        PyErrorModel(ErrorModel::Spelling(model)),
        (stats.lines, stats.keys, stats.pairs),
    )
}

/// Candidates computed in Python (plugin models): word -> ordered candidates.
#[pyfunction]
fn table_model(entries: Vec<(String, Vec<String>)>) -> PyErrorModel {
    PyErrorModel(ErrorModel::Table(TableModel::new(entries)))
}

/// xoshiro256** over the digest of `parts` (spec inject-errors §4.1).
#[pyclass(module = "mstk._core", name = "QeRng")]
struct PyQeRng(core::Rng);

#[pymethods]
impl PyQeRng {
    #[new]
    fn new(parts: Vec<String>) -> Self {
        let bytes: Vec<&[u8]> = parts.iter().map(|p| p.as_bytes()).collect();
        PyQeRng(core::Rng::from_parts(&bytes))
    }

    #[staticmethod]
    fn from_state(state: [u64; 4]) -> Self {
        PyQeRng(core::Rng::from_state(state))
    }

    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    fn uniform(&mut self, n: u64) -> u64 {
        self.0.uniform(n)
    }
}

/// H: the first 8 bytes of the SHA-256 of the length-prefixed parts, big-endian.
#[pyfunction]
fn qe_rank_hash(parts: Vec<String>) -> u64 {
    let bytes: Vec<&[u8]> = parts.iter().map(|p| p.as_bytes()).collect();
    core::rank_hash(&bytes)
}

/// Eligible word spans of `text` as (start, end) code-point offsets.
#[pyfunction]
#[pyo3(signature = (text, min_word_len=3, protect_stopwords=true))]
fn scan_words(text: &str, min_word_len: usize, protect_stopwords: bool) -> Vec<(usize, usize)> {
    core::scan_words(
        text,
        &ScanOpts {
            min_word_len,
            protect_stopwords,
        },
    )
    .iter()
    .map(|s| (s.start_cp, s.end_cp))
    .collect()
}

fn parse_unit(unit: &str) -> PyResult<Unit> {
    match unit {
        "query" => Ok(Unit::Query),
        "word" => Ok(Unit::Word),
        other => Err(ParameterError::new_err(format!(
            "unit must be 'query' or 'word', got {other:?}"
        ))),
    }
}

#[allow(clippy::too_many_arguments)]
fn make_config(
    types: Vec<String>,
    rate_ppm: u32,
    unit: &str,
    seed: u64,
    words_per_query: usize,
    min_word_len: usize,
    protect_stopwords: bool,
) -> PyResult<Config> {
    Ok(Config {
        types,
        rate_ppm,
        unit: parse_unit(unit)?,
        seed,
        words_per_query,
        scan: ScanOpts {
            min_word_len,
            protect_stopwords,
        },
    })
}

fn stats_dict<'py>(
    py: Python<'py>,
    stats: &SelectStats,
    types: &[String],
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("n_records", stats.n_records)?;
    d.set_item("k", stats.k)?;
    d.set_item("n_changed", stats.n_changed)?;
    let by_type = PyDict::new(py);
    for (t, n) in types.iter().zip(&stats.by_type) {
        by_type.set_item(t, n)?;
    }
    d.set_item("by_type", by_type)?;
    d.set_item("n_uncorruptible", stats.n_uncorruptible)?;
    d.set_item("shortfall", stats.shortfall)?;
    Ok(d)
}

fn models_of(models: &[PyRef<'_, PyErrorModel>]) -> Vec<ErrorModel> {
    models.iter().map(|m| m.0.clone()).collect()
}

/// The whole `inject-errors` path on JSONL bytes. Returns (output bytes, summary dict);
/// the summary's `skipped` lists (line, message) of lines dropped under `skip_errors`.
#[pyfunction]
#[pyo3(signature = (data, types, models, *, rate_ppm, unit="query", seed=0, words_per_query=1,
    min_word_len=3, protect_stopwords=true, field="question", id_field="id", annotate=true,
    annotate_key="qe", skip_errors=false, threads=None))]
#[allow(clippy::too_many_arguments)]
fn inject_jsonl<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyBytes>,
    types: Vec<String>,
    models: Vec<PyRef<'py, PyErrorModel>>,
    rate_ppm: u32,
    unit: &str,
    seed: u64,
    words_per_query: usize,
    min_word_len: usize,
    protect_stopwords: bool,
    field: &str,
    id_field: &str,
    annotate: bool,
    annotate_key: &str,
    skip_errors: bool,
    threads: Option<usize>,
) -> PyResult<(Bound<'py, PyBytes>, Bound<'py, PyDict>)> {
    let config = make_config(
        types,
        rate_ppm,
        unit,
        seed,
        words_per_query,
        min_word_len,
        protect_stopwords,
    )?;
    let models = models_of(&models);
    let opts = JsonlOptions {
        field: field.into(),
        id_field: id_field.into(),
        annotate,
        annotate_key: annotate_key.into(),
        skip_errors,
    };
    // bytes objects are immutable, so the kernel can read the buffer without the GIL.
    let input: &[u8] = data.as_bytes();
    let out = py
        .detach(|| {
            with_threads(threads, || {
                core::inject_jsonl(input, &config, &models, &opts)
            })
        })?
        .py()?;
    let summary = stats_dict(py, &out.summary.stats, &config.types)?;
    summary.set_item("keys", out.summary.keys)?;
    summary.set_item("skipped", &out.summary.skipped)?;
    // One copy from the writers' chunks straight into the bytes object.
    let bytes = PyBytes::new_with(py, out.len(), |buf| {
        let mut at = 0;
        for chunk in &out.chunks {
            buf[at..at + chunk.len()].copy_from_slice(chunk);
            at += chunk.len();
        }
        Ok(())
    })?;
    Ok((bytes, summary))
}

type PyCorruption = (String, usize, Vec<(usize, usize, String, String)>);

/// Selection and corruption over in-memory texts (`None` = cannot change). Keys are the
/// stream keys (`i<id>` / `n<index>`), one per text.
#[pyfunction]
#[pyo3(signature = (keys, texts, types, models, *, rate_ppm, unit="query", seed=0, words_per_query=1,
    min_word_len=3, protect_stopwords=true, threads=None))]
#[allow(clippy::too_many_arguments)]
fn inject_texts<'py>(
    py: Python<'py>,
    keys: Vec<String>,
    texts: Vec<Option<String>>,
    types: Vec<String>,
    models: Vec<PyRef<'py, PyErrorModel>>,
    rate_ppm: u32,
    unit: &str,
    seed: u64,
    words_per_query: usize,
    min_word_len: usize,
    protect_stopwords: bool,
    threads: Option<usize>,
) -> PyResult<(Vec<Option<PyCorruption>>, Bound<'py, PyDict>)> {
    let config = make_config(
        types,
        rate_ppm,
        unit,
        seed,
        words_per_query,
        min_word_len,
        protect_stopwords,
    )?;
    let models = models_of(&models);
    let (out, stats) = py
        .detach(|| {
            with_threads(threads, || {
                let refs: Vec<Option<&str>> = texts.iter().map(|t| t.as_deref()).collect();
                core::inject_texts(&keys, &refs, &config, &models)
            })
        })?
        .py()?;
    let converted = out
        .into_iter()
        .map(|c: Option<Corruption>| {
            c.map(|c| {
                let edits = c
                    .edits
                    .into_iter()
                    .map(|e| (e.start, e.end, e.source, e.target))
                    .collect();
                (c.text, c.type_index, edits)
            })
        })
        .collect();
    Ok((converted, stats_dict(py, &stats, &config.types)?))
}

/// Distinct eligible words of the field over a JSONL buffer, first-seen order.
#[pyfunction]
#[pyo3(signature = (data, *, field="question", min_word_len=3, protect_stopwords=true))]
fn distinct_words_jsonl(
    py: Python<'_>,
    data: &Bound<'_, PyBytes>,
    field: &str,
    min_word_len: usize,
    protect_stopwords: bool,
) -> Vec<String> {
    let opts = JsonlOptions {
        field: field.into(),
        id_field: String::new(),
        annotate: false,
        ..Default::default()
    };
    let scan = ScanOpts {
        min_word_len,
        protect_stopwords,
    };
    let input: &[u8] = data.as_bytes();
    py.detach(|| core::distinct_words_jsonl(input, &opts, &scan))
}

/// Distinct eligible words of `texts`, first-seen order.
#[pyfunction]
#[pyo3(signature = (texts, *, min_word_len=3, protect_stopwords=true))]
fn distinct_words(texts: Vec<String>, min_word_len: usize, protect_stopwords: bool) -> Vec<String> {
    core::distinct_words(
        texts.iter().map(String::as_str),
        &ScanOpts {
            min_word_len,
            protect_stopwords,
        },
    )
}

fn jsonl_options(
    field: &str,
    id_field: &str,
    annotate: bool,
    annotate_key: &str,
    skip_errors: bool,
) -> JsonlOptions {
    JsonlOptions {
        field: field.into(),
        id_field: id_field.into(),
        annotate,
        annotate_key: annotate_key.into(),
        skip_errors,
    }
}

type ParsedRecords = (
    Vec<String>,
    Vec<Option<String>>,
    Vec<u64>,
    &'static str,
    Vec<(u64, String)>,
);

/// Validated, keyed records of a JSONL buffer, for engines that rewrite texts outside the
/// kernel: (keys, texts, line numbers, "id"|"position", skipped lines).
#[pyfunction]
#[pyo3(signature = (data, *, field="question", id_field="id", annotate=true, annotate_key="qe", skip_errors=false))]
fn parse_jsonl_records(
    py: Python<'_>,
    data: &Bound<'_, PyBytes>,
    field: &str,
    id_field: &str,
    annotate: bool,
    annotate_key: &str,
    skip_errors: bool,
) -> PyResult<ParsedRecords> {
    let opts = jsonl_options(field, id_field, annotate, annotate_key, skip_errors);
    let input: &[u8] = data.as_bytes();
    py.detach(|| {
        let parsed = core::ParsedJsonl::parse(input, &opts)?;
        let texts = parsed
            .texts()
            .iter()
            .map(|t| t.map(str::to_string))
            .collect();
        let lines = parsed.record_line_numbers();
        Ok((
            parsed.keys.clone(),
            texts,
            lines,
            if parsed.by_id { "id" } else { "position" },
            parsed.skipped.clone(),
        ))
    })
    .py()
}

/// Writes the JSONL back with the given records replaced: `replacements[i]` is None or
/// (new field text, annotation object JSON) for record i of `parse_jsonl_records`.
#[pyfunction]
#[pyo3(signature = (data, replacements, *, field="question", id_field="id", annotate=true, annotate_key="qe", skip_errors=false))]
#[allow(clippy::too_many_arguments)]
fn splice_jsonl<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyBytes>,
    replacements: Vec<Option<(String, Vec<u8>)>>,
    field: &str,
    id_field: &str,
    annotate: bool,
    annotate_key: &str,
    skip_errors: bool,
) -> PyResult<Bound<'py, PyBytes>> {
    let opts = jsonl_options(field, id_field, annotate, annotate_key, skip_errors);
    let changed: Vec<Option<core::PrebuiltReplacement>> = replacements
        .into_iter()
        .map(|r| r.map(|(text, annotation)| core::PrebuiltReplacement { text, annotation }))
        .collect();
    let input: &[u8] = data.as_bytes();
    let out = py
        .detach(|| core::ParsedJsonl::parse(input, &opts).and_then(|p| p.write(&changed, &opts)))
        .py()?;
    Ok(PyBytes::new(py, &out))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyWordList>()?;
    m.add_class::<PyErrorModel>()?;
    m.add_class::<PyQeRng>()?;
    m.add_function(wrap_pyfunction!(keyboard_model, m)?)?;
    m.add_function(wrap_pyfunction!(visual_model, m)?)?;
    m.add_function(wrap_pyfunction!(spelling_rules_model, m)?)?;
    m.add_function(wrap_pyfunction!(spelling_dict_model, m)?)?;
    m.add_function(wrap_pyfunction!(table_model, m)?)?;
    m.add_function(wrap_pyfunction!(qe_rank_hash, m)?)?;
    m.add_function(wrap_pyfunction!(scan_words, m)?)?;
    m.add_function(wrap_pyfunction!(inject_jsonl, m)?)?;
    m.add_function(wrap_pyfunction!(inject_texts, m)?)?;
    m.add_function(wrap_pyfunction!(distinct_words_jsonl, m)?)?;
    m.add_function(wrap_pyfunction!(distinct_words, m)?)?;
    m.add_function(wrap_pyfunction!(parse_jsonl_records, m)?)?;
    m.add_function(wrap_pyfunction!(splice_jsonl, m)?)?;
    m.add("UNICODE_VERSION", core::UNICODE_VERSION)?;
    Ok(())
}
