//! `mstk._core`: thin pyo3 bindings over mstk-core.
//!
//! This crate only converts types, releases the GIL around pure-Rust work (after copying
//! inputs into owned buffers, so no Python thread can mutate them mid-run) and maps
//! errors (errors.rs). All logic lives in mstk-core.

mod errors;
mod inject;
mod rerank;
mod retrieval;

use pyo3::prelude::*;

// Every Rust allocation of the extension; Python objects keep CPython's allocator (outputs
// are copied into Python bytes, so no pointer crosses allocators).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Run `f` on a rayon pool of `threads` workers (None = rayon's global pool: all cores).
/// Pools are built once per thread count and reused: building one costs thread spawns.
pub(crate) fn with_threads<T: Send>(
    threads: Option<usize>,
    f: impl FnOnce() -> T + Send,
) -> PyResult<T> {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock};

    static POOLS: OnceLock<Mutex<HashMap<usize, Arc<rayon::ThreadPool>>>> = OnceLock::new();
    match threads {
        None => Ok(f()),
        Some(0) => Err(errors::ParameterError::new_err(
            "threads must be at least 1",
        )),
        Some(n) => {
            let pool = {
                let mut pools = POOLS
                    .get_or_init(Default::default)
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                match pools.get(&n) {
                    Some(pool) => pool.clone(),
                    None => {
                        let pool = rayon::ThreadPoolBuilder::new()
                            .num_threads(n)
                            .build()
                            .map_err(|e| {
                                pyo3::exceptions::PyRuntimeError::new_err(e.to_string())
                            })?;
                        pools.entry(n).or_insert(Arc::new(pool)).clone()
                    }
                }
            };
            Ok(pool.install(f))
        }
    }
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::register(m)?;
    rerank::register(m)?;
    inject::register(m)?;
    retrieval::register(m)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
