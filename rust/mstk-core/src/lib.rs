//! mstk-core: the performance-critical kernels of mstk, as plain Rust.
//!
//! Nothing here knows about Python: functions take slices and owned structs and return
//! `Result<_, CoreError>`. The `mstk-py` crate converts arrays, releases the GIL and maps
//! each `CoreError` variant to a Python exception. User input never panics: every
//! precondition a caller could violate is checked and reported as an error.

pub mod error;
pub mod inject;
pub mod metrics;
pub mod rerank;
pub mod retrieval;

pub use error::CoreError;
