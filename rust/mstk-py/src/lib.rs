//! `mstk._core`: thin pyo3 bindings over mstk-core.
//!
//! This crate only converts types, releases the GIL around pure-Rust work (after copying
//! inputs into owned buffers, so no Python thread can mutate them mid-run) and maps
//! errors (errors.rs). All logic lives in mstk-core.

mod errors;
mod rerank;

use pyo3::prelude::*;

/// Run `f` on a rayon pool of `threads` workers (None = rayon's default: all cores).
pub(crate) fn with_threads<T: Send>(threads: Option<usize>, f: impl FnOnce() -> T + Send) -> PyResult<T> {
    match threads {
        None => Ok(f()),
        Some(0) => Err(errors::ParameterError::new_err("threads must be at least 1")),
        Some(n) => {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(e.to_string()))?;
            Ok(pool.install(f))
        }
    }
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::register(m)?;
    rerank::register(m)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
