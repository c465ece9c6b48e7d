//! The single place where mstk-core's `CoreError` becomes a Python exception.
//!
//! Every class derives from `CoreError(ValueError)`, so callers that expect a
//! ValueError for bad values keep working; the subclasses let the host tell a bad record
//! (reported with file and line) from a programming error in array shapes.

use mstk_core::CoreError as RustCoreError;
use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

create_exception!(
    mstk._core,
    CoreError,
    PyValueError,
    "Base class of errors raised by mstk's Rust core."
);
create_exception!(
    mstk._core,
    RecordError,
    CoreError,
    "A malformed input record; args = (line, reason)."
);
create_exception!(
    mstk._core,
    ShapeError,
    CoreError,
    "Arrays that must agree in length or structure do not."
);
create_exception!(
    mstk._core,
    ParameterError,
    CoreError,
    "A parameter value outside its domain."
);

create_exception!(
    mstk._core,
    IndexCorruptError,
    CoreError,
    "An index file is damaged or not an mstk index (the message names the section)."
);
create_exception!(
    mstk._core,
    IndexVersionError,
    CoreError,
    "An index file written by a newer format major version."
);

pub fn to_py(err: RustCoreError) -> PyErr {
    match err {
        RustCoreError::Record { line, message } => RecordError::new_err((line, message)),
        RustCoreError::Shape(m) => ShapeError::new_err(m),
        RustCoreError::Parameter(m) => ParameterError::new_err(m),
        err @ RustCoreError::IndexCorrupt { .. } => IndexCorruptError::new_err(err.to_string()),
        err @ RustCoreError::IndexVersion { .. } => IndexVersionError::new_err(err.to_string()),
        RustCoreError::Io(m) => pyo3::exceptions::PyOSError::new_err(m),
    }
}

pub trait IntoPyResult<T> {
    fn py(self) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for Result<T, RustCoreError> {
    fn py(self) -> PyResult<T> {
        self.map_err(to_py)
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("CoreError", py.get_type::<CoreError>())?;
    m.add("RecordError", py.get_type::<RecordError>())?;
    m.add("ShapeError", py.get_type::<ShapeError>())?;
    m.add("ParameterError", py.get_type::<ParameterError>())?;
    m.add("IndexCorruptError", py.get_type::<IndexCorruptError>())?;
    m.add("IndexVersionError", py.get_type::<IndexVersionError>())?;
    Ok(())
}
