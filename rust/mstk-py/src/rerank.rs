//! Bindings for mstk-core's re-ranking kernels and request codec.

use mstk_core::rerank::allocation::Rule;
use mstk_core::rerank::bankfair::{
    run_bankfair as run_bankfair_core, Allocation, BankFairInputs, BankFairParams,
};
use mstk_core::rerank::bankfair_plus::PlusParams;
use mstk_core::rerank::requests::{
    BadLine, ListResults, MissingProvider, RequestBatch as CoreBatch,
};
use mstk_core::rerank::stream::{StreamClock, TopKStream as CoreTopKStream};
use mstk_core::rerank::{
    self as core, BatchSpec, Normalization, OnlineMethod, OnlineOutput, OnlineProblem, Ragged,
    RaggedBuf, TopKScratch,
};
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::errors::{to_py, IntoPyResult, ParameterError};
use crate::with_threads;
use mstk_core::CoreError;

fn owned<T: numpy::Element + Copy>(a: &PyReadonlyArray1<'_, T>) -> Vec<T> {
    // The copy makes the data ours before the GIL is released; contiguous arrays (the
    // usual case) copy as one block, strided views element by element.
    match a.as_slice() {
        Ok(slice) => slice.to_vec(),
        Err(_) => a.as_array().iter().copied().collect(),
    }
}

/// The candidate arrays copied and checked in one pass (`RaggedBuf`), before the GIL is
/// released; strided arrays are made contiguous first.
fn ragged_copy(
    offsets: &PyReadonlyArray1<'_, i64>,
    scores: &PyReadonlyArray1<'_, f64>,
    providers: &PyReadonlyArray1<'_, i32>,
    n_providers: usize,
) -> PyResult<RaggedBuf> {
    fn contiguous<'a, T: numpy::Element + Copy>(
        a: &'a PyReadonlyArray1<'_, T>,
    ) -> std::borrow::Cow<'a, [T]> {
        match a.as_slice() {
            Ok(slice) => std::borrow::Cow::Borrowed(slice),
            Err(_) => std::borrow::Cow::Owned(a.as_array().iter().copied().collect()),
        }
    }
    RaggedBuf::copy_checked(
        &contiguous(offsets),
        &contiguous(scores),
        &contiguous(providers),
        n_providers,
    )
    .py()
}

/// Select min(k, n) positions of one request by key w·s − price[provider].
#[pyfunction]
#[pyo3(signature = (scores, providers, k, price=None, w=1.0, blocked=None))]
fn topk_priced<'py>(
    py: Python<'py>,
    scores: PyReadonlyArray1<'py, f64>,
    providers: PyReadonlyArray1<'py, i32>,
    k: usize,
    price: Option<PyReadonlyArray1<'py, f64>>,
    w: f64,
    blocked: Option<PyReadonlyArray1<'py, bool>>,
) -> PyResult<Bound<'py, PyArray1<i32>>> {
    let s = owned(&scores);
    let p = owned(&providers);
    let price = price.as_ref().map(owned);
    let blocked = blocked.as_ref().map(owned);
    let n_prov = price
        .as_ref()
        .map(|v| v.len())
        .or(blocked.as_ref().map(|v| v.len()));
    if let (Some(a), Some(b)) = (&price, &blocked) {
        if a.len() != b.len() {
            return Err(crate::errors::ShapeError::new_err(
                "price and blocked must have one entry per provider",
            ));
        }
    }
    // Validation (finite scores, provider ids within the price table) lives in Ragged.
    let offsets = [0i64, s.len() as i64];
    let bound =
        n_prov.unwrap_or_else(|| p.iter().map(|&x| x.max(0) as usize + 1).max().unwrap_or(0));
    Ragged::new(&offsets, &s, &p, bound).py()?;
    if !w.is_finite() {
        return Err(ParameterError::new_err("w must be finite"));
    }
    if let Some(pr) = &price {
        if pr.iter().any(|x| !x.is_finite()) {
            return Err(ParameterError::new_err("prices must be finite"));
        }
    }
    let out = py.detach(|| {
        let mut out = Vec::new();
        core::topk_priced(
            &s,
            &p,
            price.as_deref(),
            w,
            k,
            blocked.as_deref(),
            &mut TopKScratch::default(),
            &mut out,
        );
        out.into_iter().map(|x| x as i32).collect::<Vec<i32>>()
    });
    Ok(out.into_pyarray(py))
}

/// Divide `estate` among `claims`: "cea", "cel", "talmud" or "proportional".
#[pyfunction]
fn allocate<'py>(
    py: Python<'py>,
    rule: &str,
    estate: f64,
    claims: PyReadonlyArray1<'py, f64>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let rule: Rule = rule.parse().py()?;
    let claims = owned(&claims);
    let out = py
        .detach(|| core::allocation::allocate(rule, estate, &claims))
        .py()?;
    Ok(out.into_pyarray(py))
}

/// Gini coefficient of a non-negative exposure vector.
#[pyfunction]
fn gini(exposure: PyReadonlyArray1<'_, f64>) -> PyResult<f64> {
    mstk_core::metrics::fairness::gini(&owned(&exposure)).py()
}

/// Normalise scores per request: "minmax", "sigmoid" or "none".
#[pyfunction]
fn normalize_scores<'py>(
    py: Python<'py>,
    offsets: PyReadonlyArray1<'py, i64>,
    scores: PyReadonlyArray1<'py, f64>,
    mode: &str,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let mode: Normalization = mode.parse().py()?;
    let (o, s) = (owned(&offsets), owned(&scores));
    let p = vec![0i32; s.len()];
    Ragged::new(&o, &s, &p, 1).py()?;
    let out = py.detach(|| core::normalize_scores(&o, &s, mode));
    Ok(out.into_pyarray(py))
}

fn parse_method(method: &str, params: Option<&Bound<'_, PyDict>>) -> PyResult<OnlineMethod> {
    let get_f64 = |name: &str, default: f64| -> PyResult<f64> {
        match params.map(|d| d.get_item(name)).transpose()?.flatten() {
            Some(v) => v.extract::<f64>(),
            None => Ok(default),
        }
    };
    let batch = || -> PyResult<BatchSpec> {
        let Some(v) = params.map(|d| d.get_item("batch")).transpose()?.flatten() else {
            return Ok(BatchSpec::Interval);
        };
        if let Ok(n) = v.extract::<usize>() {
            return Ok(BatchSpec::Size(n));
        }
        match v.extract::<String>()?.as_str() {
            "interval" => Ok(BatchSpec::Interval),
            "all" => Ok(BatchSpec::All),
            other => Err(ParameterError::new_err(format!(
                "batch must be 'interval', 'all' or a positive integer, got '{other}'"
            ))),
        }
    };
    let share = || -> PyResult<Vec<f64>> {
        match params.map(|d| d.get_item("share")).transpose()?.flatten() {
            Some(v) => v.extract::<Vec<f64>>(),
            None => Err(ParameterError::new_err(format!(
                "method '{method}' needs a 'share' list (one entry per provider)"
            ))),
        }
    };
    match method {
        "topk" => Ok(OnlineMethod::TopK),
        "min_regularizer" => Ok(OnlineMethod::MinRegularizer {
            lambda: get_f64("lambda", 30.0)?,
            batch: batch()?,
        }),
        "cpfair" => Ok(OnlineMethod::CpFair {
            lambda: get_f64("lambda", 1.0)?,
            batch: batch()?,
        }),
        "tfrom" => {
            let optional = |name: &str| -> PyResult<Vec<f64>> {
                params
                    .map(|d| d.get_item(name))
                    .transpose()?
                    .flatten()
                    .map_or(Ok(Vec::new()), |v| v.extract())
            };
            Ok(OnlineMethod::Tfrom {
                share: share()?,
                target0: optional("target0")?,
                spent0: optional("spent0")?,
            })
        }
        "fairrec" => Ok(OnlineMethod::FairRec {
            alpha: get_f64("alpha", 0.8)?,
            batch: batch()?,
        }),
        "pmmf" => Ok(OnlineMethod::Pmmf {
            lambda: get_f64("lambda", 0.1)?,
            eta: get_f64("eta", 1e-3)?,
            gamma: get_f64("gamma", 0.1)?,
            batch: batch()?,
            share: share()?,
        }),
        "k_neighbor" => {
            let k = match params.map(|d| d.get_item("k")).transpose()?.flatten() {
                Some(v) => v.extract::<usize>()?,
                None => 3,
            };
            Ok(OnlineMethod::KNeighbor { k, batch: batch()? })
        }
        other => Err(ParameterError::new_err(format!(
            "the Rust core has no online method '{other}'"
        ))),
    }
}

/// Replay a stream of requests with an online method; results are in input order.
#[pyfunction]
#[pyo3(signature = (offsets, scores, providers, n_providers, order, interval, weight, k, method, params=None, threads=None))]
#[allow(clippy::too_many_arguments)]
fn run_online<'py>(
    py: Python<'py>,
    offsets: PyReadonlyArray1<'py, i64>,
    scores: PyReadonlyArray1<'py, f64>,
    providers: PyReadonlyArray1<'py, i32>,
    n_providers: usize,
    order: PyReadonlyArray1<'py, i64>,
    interval: PyReadonlyArray1<'py, i64>,
    weight: PyReadonlyArray1<'py, f64>,
    k: usize,
    method: &str,
    params: Option<Bound<'py, PyDict>>,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    let method = parse_method(method, params.as_ref())?;
    let requests = ragged_copy(&offsets, &scores, &providers, n_providers)?;
    let (ord, iv, w) = (owned(&order), owned(&interval), owned(&weight));
    let out = py
        .detach(|| {
            with_threads(threads, || {
                let problem = OnlineProblem {
                    requests: requests.view(),
                    order: &ord,
                    interval: &iv,
                    weight: &w,
                    k,
                };
                core::run_online(&problem, &method)
            })
        })?
        .py()?;
    lists_dict(py, out)
}

/// The lists of an online run as a dict of numpy arrays (moved, not copied).
fn lists_dict(py: Python<'_>, out: OnlineOutput) -> PyResult<Bound<'_, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("sel_offsets", out.sel_offsets.into_pyarray(py))?;
    d.set_item("sel", out.sel.into_pyarray(py))?;
    d.set_item("dcg", out.dcg.into_pyarray(py))?;
    d.set_item("idcg", out.idcg.into_pyarray(py))?;
    d.set_item("exposure", out.exposure.into_pyarray(py))?;
    d.set_item("carry", out.carry.into_pyarray(py))?;
    Ok(d)
}

/// A Python `bytes` object (or a range of it) as parser input, kept alive instead of
/// copied: `bytes` is immutable, so reading it without the GIL is sound.
struct BytesInput {
    _owner: Py<PyBytes>,
    ptr: *const u8,
    len: usize,
}

// SAFETY: the memory belongs to an immutable `bytes` object that `_owner` keeps alive.
unsafe impl Send for BytesInput {}
unsafe impl Sync for BytesInput {}

impl BytesInput {
    /// `data[start:end]`; a range lets a block reader hand over whole lines of a chunk it
    /// read without slicing (a copy of every block, and fresh pages for each copy).
    fn new(data: &Bound<'_, PyBytes>, span: Option<(usize, usize)>) -> PyResult<Self> {
        let bytes = data.as_bytes();
        let (start, end) = span.unwrap_or((0, bytes.len()));
        if start > end || end > bytes.len() {
            return Err(ParameterError::new_err(format!(
                "span ({start}, {end}) is not a range of the {} input bytes",
                bytes.len()
            )));
        }
        Ok(BytesInput {
            _owner: data.clone().unbind(),
            ptr: bytes[start..].as_ptr(),
            len: end - start,
        })
    }
}

impl AsRef<[u8]> for BytesInput {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: see the Send/Sync note above.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

fn bankfair_params(params: Option<&Bound<'_, PyDict>>, plus: bool) -> PyResult<BankFairParams> {
    let get = |name: &str| -> PyResult<Option<Bound<'_, PyAny>>> {
        Ok(params.map(|d| d.get_item(name)).transpose()?.flatten())
    };
    let f = |name: &str, default: f64| -> PyResult<f64> {
        get(name)?.map_or(Ok(default), |v| v.extract())
    };
    let text = |name: &str, default: &str| -> PyResult<String> {
        get(name)?.map_or(Ok(default.to_string()), |v| v.extract())
    };
    let choice = |name: &str, default: &str, options: &[&str]| -> PyResult<usize> {
        let v = text(name, default)?;
        options.iter().position(|o| *o == v).ok_or_else(|| {
            ParameterError::new_err(format!("{name} must be one of {options:?}, got '{v}'"))
        })
    };
    Ok(BankFairParams {
        theta: f("theta", 0.25)?,
        penalty_by_size: choice("penalty", "uniform", &["uniform", "size"])? == 1,
        penalty_mix: f("penalty_mix", 0.4)?,
        step: f("step", 1.0)?,
        gamma: f("gamma", 0.2)?,
        caps: choice("caps", "off", &["off", "share"])? == 1,
        cap_mix: f("cap_mix", 0.4)?,
        reset_each_interval: choice("reset", "interval", &["interval", "never"])? == 0,
        allocation: [
            Allocation::Talmud,
            Allocation::Proportional,
            Allocation::Equal,
        ][choice("allocation", "talmud", &["talmud", "proportional", "equal"])?],
        window: get("window")?.map_or(Ok(3), |v| v.extract())?,
        claim_mult: f("claim_mult", 1.1)?,
        official: choice("variant", "consistent", &["consistent", "official"])? == 1,
        plus: if plus {
            Some(PlusParams {
                delta: f("delta", 1.0)?,
                lambda: f("lambda", 0.0)?,
                alpha: f("alpha", 1.0)?,
                fp_iters: get("fp_iters")?.map_or(Ok(5), |v| v.extract())?,
                exhaustive: choice("solver", "fixedpoint", &["fixedpoint", "exhaustive"])? == 1,
            })
        } else {
            None
        },
    })
}

/// BankFair (consistent variant): lists in input order plus allocations and deliveries
/// per interval and provider (N×P).
#[pyfunction]
#[pyo3(signature = (offsets, scores, providers, n_providers, order, interval_index, k, min_exposure, n_items, share, traffic, forecast, params=None, threads=None, plus=false, gamma=None, v_ref=0.0, mu0=None, g_cum0=None))]
#[allow(clippy::too_many_arguments)]
fn run_bankfair<'py>(
    py: Python<'py>,
    offsets: PyReadonlyArray1<'py, i64>,
    scores: PyReadonlyArray1<'py, f64>,
    providers: PyReadonlyArray1<'py, i32>,
    n_providers: usize,
    order: PyReadonlyArray1<'py, i64>,
    interval_index: PyReadonlyArray1<'py, i64>,
    k: usize,
    min_exposure: PyReadonlyArray1<'py, f64>,
    n_items: PyReadonlyArray1<'py, f64>,
    share: PyReadonlyArray1<'py, f64>,
    traffic: PyReadonlyArray1<'py, f64>,
    forecast: PyReadonlyArray1<'py, f64>,
    params: Option<Bound<'py, PyDict>>,
    threads: Option<usize>,
    plus: bool,
    gamma: Option<PyReadonlyArray1<'py, f64>>,
    v_ref: f64,
    mu0: Option<PyReadonlyArray1<'py, f64>>,
    g_cum0: Option<PyReadonlyArray1<'py, f64>>,
) -> PyResult<Bound<'py, PyDict>> {
    let params = bankfair_params(params.as_ref(), plus)?;
    let mu0 = mu0.as_ref().map(owned).unwrap_or_default();
    let g_cum0 = g_cum0.as_ref().map(owned).unwrap_or_default();
    let gamma = gamma.as_ref().map(owned).unwrap_or_default();
    let requests = ragged_copy(&offsets, &scores, &providers, n_providers)?;
    let (ord, iv) = (owned(&order), owned(&interval_index));
    let (m, ni, sh, tr, fc) = (
        owned(&min_exposure),
        owned(&n_items),
        owned(&share),
        owned(&traffic),
        owned(&forecast),
    );
    let weight = vec![1.0; n_providers];
    let out = py
        .detach(|| {
            with_threads(threads, || {
                let problem = OnlineProblem {
                    requests: requests.view(),
                    order: &ord,
                    interval: &iv,
                    weight: &weight,
                    k,
                };
                let inputs = BankFairInputs {
                    min_exposure: &m,
                    n_items: &ni,
                    share: &sh,
                    interval_index: &iv,
                    traffic: &tr,
                    forecast: &fc,
                    gamma: &gamma,
                    v_ref,
                    start_mu: &mu0,
                    start_g_cum: &g_cum0,
                };
                run_bankfair_core(&problem, &params, &inputs)
            })
        })?
        .py()?;
    let d = lists_dict(py, out.lists)?;
    d.set_item("allocated", out.allocated.into_pyarray(py))?;
    d.set_item("delivered", out.delivered.into_pyarray(py))?;
    d.set_item("estate", out.estate.into_pyarray(py))?;
    d.set_item("mu", out.mu.into_pyarray(py))?;
    d.set_item("g_cum", out.g_cum.into_pyarray(py))?;
    Ok(d)
}

/// Parsed JSONL re-ranking requests (input order); owns the input bytes so that
/// unknown fields can be written back verbatim.
#[pyclass(module = "mstk._core", frozen)]
struct RequestBatch {
    inner: CoreBatch,
}

#[pymethods]
impl RequestBatch {
    /// Parse whole JSONL lines; returns (batch, [(line, reason), …] of rejected lines).
    #[staticmethod]
    ///
    /// `on_error="raise"` stops at the first bad line with `RecordError(line, reason)`;
    /// `"collect"` skips bad lines and returns them.
    /// `span=(start, end)` parses `data[start:end]` without copying it.
    #[pyo3(signature = (data, first_line=1, keep_candidates=false, missing_provider="error", on_error="raise", threads=None, span=None))]
    #[allow(clippy::too_many_arguments)]
    fn parse(
        py: Python<'_>,
        data: &Bound<'_, PyBytes>,
        first_line: u64,
        keep_candidates: bool,
        missing_provider: &str,
        on_error: &str,
        threads: Option<usize>,
        span: Option<(usize, usize)>,
    ) -> PyResult<(RequestBatch, Vec<(u64, String)>)> {
        let stop_at_first = stop_at_first(on_error)?;
        let missing = missing_provider_rule(missing_provider)?;
        let input = BytesInput::new(data, span)?;
        let (inner, bad) = py.detach(|| {
            with_threads(threads, || {
                CoreBatch::parse(input, first_line, keep_candidates, missing, stop_at_first)
            })
        })?;
        if stop_at_first {
            if let Some(BadLine { line, reason }) = bad.into_iter().next() {
                return Err(to_py(CoreError::record(line, reason)));
            }
            return Ok((RequestBatch { inner }, Vec::new()));
        }
        let bad = bad
            .into_iter()
            .map(|BadLine { line, reason }| (line, reason))
            .collect();
        Ok((RequestBatch { inner }, bad))
    }

    /// Number of the line after the parsed data (to number the next block).
    #[getter]
    fn next_line(&self) -> u64 {
        self.inner.next_line
    }
    #[getter]
    fn n_requests(&self) -> usize {
        self.inner.n_requests()
    }
    #[getter]
    fn line<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<u64>> {
        self.inner.line.clone().into_pyarray(py)
    }
    #[getter]
    fn offsets<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i64>> {
        self.inner.offsets.clone().into_pyarray(py)
    }
    #[getter]
    fn score<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.inner.score.clone().into_pyarray(py)
    }
    #[getter]
    fn provider<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i32>> {
        self.inner.provider.clone().into_pyarray(py)
    }
    /// Interval per request; `MISSING_INTERVAL` (i64 min) where absent.
    #[getter]
    fn interval<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i64>> {
        self.inner.interval.clone().into_pyarray(py)
    }
    /// Timestamp per request; NaN where absent.
    #[getter]
    fn ts<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.inner.ts.clone().into_pyarray(py)
    }
    /// Scores normalised per request ("minmax", "sigmoid" or "none"), computed from the
    /// parsed scores directly (no round trip through a numpy copy).
    #[pyo3(signature = (mode, threads=None))]
    fn normalized_scores<'py>(
        &self,
        py: Python<'py>,
        mode: &str,
        threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let mode: Normalization = mode.parse().py()?;
        let inner = &self.inner;
        let out = py.detach(|| {
            with_threads(threads, || {
                core::normalize_scores(&inner.offsets, &inner.score, mode)
            })
        })?;
        Ok(out.into_pyarray(py))
    }

    /// Dense item ids (order of first appearance) per candidate, and the id → string table.
    /// Computed on request: only methods that need global item ids pay for it.
    fn item_ids<'py>(&self, py: Python<'py>) -> (Bound<'py, PyArray1<i32>>, Vec<String>) {
        let inner = &self.inner;
        let (ids, table) = py.detach(|| inner.item_ids());
        (
            ids.into_pyarray(py),
            table.names().map(str::to_owned).collect(),
        )
    }
    #[getter]
    fn provider_names(&self) -> Vec<String> {
        self.inner.providers.names().map(str::to_owned).collect()
    }

    /// One JSONL output line per request, input order.
    #[pyo3(signature = (interval, rec_score, sel_offsets, sel, dcg, idcg, threads=None))]
    #[allow(clippy::too_many_arguments)]
    fn write_results<'py>(
        &self,
        py: Python<'py>,
        interval: PyReadonlyArray1<'py, i64>,
        rec_score: PyReadonlyArray1<'py, f64>,
        sel_offsets: PyReadonlyArray1<'py, i64>,
        sel: PyReadonlyArray1<'py, i32>,
        dcg: PyReadonlyArray1<'py, f64>,
        idcg: PyReadonlyArray1<'py, f64>,
        threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let (iv, rs, so, se, d, i) = (
            owned(&interval),
            owned(&rec_score),
            owned(&sel_offsets),
            owned(&sel),
            owned(&dcg),
            owned(&idcg),
        );
        let inner = &self.inner;
        let lists = ListResults {
            interval: &iv,
            rec_score: &rs,
            sel_offsets: &so,
            sel: &se,
            dcg: &d,
            idcg: &i,
        };
        let parts = py
            .detach(|| with_threads(threads, || inner.write_results_parts(&lists)))?
            .py()?;
        let total = parts.iter().map(Vec::len).sum();
        // Straight into the bytes object: concatenating first would copy the output twice.
        PyBytes::new_with(py, total, |buf| {
            let mut at = 0;
            for part in &parts {
                buf[at..at + part.len()].copy_from_slice(part);
                at += part.len();
            }
            Ok(())
        })
    }
}

fn stop_at_first(on_error: &str) -> PyResult<bool> {
    match on_error {
        "raise" => Ok(true),
        "collect" => Ok(false),
        other => Err(ParameterError::new_err(format!(
            "on_error must be 'raise' or 'collect', got '{other}'"
        ))),
    }
}

fn missing_provider_rule(missing_provider: &str) -> PyResult<MissingProvider> {
    match missing_provider {
        "error" => Ok(MissingProvider::Error),
        "singleton" => Ok(MissingProvider::Singleton),
        other => Err(ParameterError::new_err(format!(
            "missing_provider must be 'error' or 'singleton', got '{other}'"
        ))),
    }
}

/// (output, requests written, next line, bad lines as (line, reason)).
type ProcessedBlock<'py> = (Bound<'py, PyBytes>, usize, u64, Vec<(u64, String)>);

/// Plain top-K over a stream of JSONL blocks, each parsed, re-ranked and written in one
/// call (see `mstk_core::rerank::stream`); the output equals `RequestBatch.parse` →
/// top-K → `write_results`.
#[pyclass(module = "mstk._core")]
struct TopKStream {
    inner: CoreTopKStream,
}

#[pymethods]
impl TopKStream {
    /// `interval_length` is in the unit of `ts`.
    #[new]
    #[pyo3(signature = (k, normalize="minmax", keep_candidates=false, missing_provider="error", on_error="raise", interval_length=86400.0))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        k: usize,
        normalize: &str,
        keep_candidates: bool,
        missing_provider: &str,
        on_error: &str,
        interval_length: f64,
    ) -> PyResult<Self> {
        if k == 0 {
            return Err(ParameterError::new_err("k must be at least 1"));
        }
        if !(interval_length.is_finite() && interval_length > 0.0) {
            return Err(ParameterError::new_err(format!(
                "interval_length must be a positive number, got {interval_length}"
            )));
        }
        let clock = StreamClock {
            length: interval_length,
            origin: None,
            saw_time: false,
        };
        Ok(TopKStream {
            inner: CoreTopKStream::new(
                k,
                normalize.parse().py()?,
                keep_candidates,
                missing_provider_rule(missing_provider)?,
                stop_at_first(on_error)?,
                clock,
            ),
        })
    }

    /// Re-rank the whole lines of `data` (or of `data[start:end]` for `span`), the first
    /// numbered `first_line`. Returns (output, requests written, number of the next line,
    /// bad lines as (line, reason) when on_error="collect"). A `RecordError` that stops
    /// the block carries the lines skipped before it as `bad_lines`.
    #[pyo3(signature = (data, first_line=1, threads=None, span=None))]
    fn process<'py>(
        &mut self,
        py: Python<'py>,
        data: &Bound<'py, PyBytes>,
        first_line: u64,
        threads: Option<usize>,
        span: Option<(usize, usize)>,
    ) -> PyResult<ProcessedBlock<'py>> {
        let input = BytesInput::new(data, span)?;
        let inner = &mut self.inner;
        let block =
            py.detach(|| with_threads(threads, || inner.process(input.as_ref(), first_line)))?;
        let bad: Vec<(u64, String)> = block
            .bad
            .into_iter()
            .map(|BadLine { line, reason }| (line, reason))
            .collect();
        if let Some(error) = block.error {
            // the lines skipped before the block failed travel with the error
            let error = to_py(error);
            error.value(py).setattr("bad_lines", bad)?;
            return Err(error);
        }
        let total = block.parts.iter().map(Vec::len).sum();
        let out = PyBytes::new_with(py, total, |buf| {
            let mut at = 0;
            for part in &block.parts {
                buf[at..at + part.len()].copy_from_slice(part);
                at += part.len();
            }
            Ok(())
        })?;
        Ok((out, block.n_requests, block.next_line, bad))
    }

    /// How often each provider seen so far was shown (0.0 for those never shown).
    #[getter]
    fn exposure<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let out = PyDict::new(py);
        for (name, shown) in self.inner.exposure() {
            out.set_item(name, shown)?;
        }
        Ok(out)
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<TopKStream>()?;
    m.add_function(wrap_pyfunction!(topk_priced, m)?)?;
    m.add_function(wrap_pyfunction!(allocate, m)?)?;
    m.add_function(wrap_pyfunction!(gini, m)?)?;
    m.add_function(wrap_pyfunction!(normalize_scores, m)?)?;
    m.add_function(wrap_pyfunction!(run_online, m)?)?;
    m.add_function(wrap_pyfunction!(run_bankfair, m)?)?;
    m.add_class::<RequestBatch>()?;
    m.add(
        "MISSING_INTERVAL",
        mstk_core::rerank::requests::MISSING_INTERVAL,
    )?;
    Ok(())
}
