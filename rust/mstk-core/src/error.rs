//! The one error type of mstk-core. Each variant maps to one Python exception class in
//! `mstk-py` (see `rust/mstk-py/src/errors.rs`), so the mapping lives in one place.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum CoreError {
    /// One input record is malformed; `line` is 1-based in the caller's numbering.
    Record { line: u64, message: String },
    /// Arrays that must agree in length or structure do not (e.g. offsets vs scores).
    Shape(String),
    /// A parameter value is out of its domain (k = 0, negative claims, NaN step …).
    Parameter(String),
    /// An index file fails a structural or checksum test; `section` names the part.
    IndexCorrupt { section: String, message: String },
    /// An index file written by a newer format major version.
    IndexVersion { found: u16, supported: u16 },
    /// A file could not be read or written.
    Io(String),
}

impl CoreError {
    pub fn record(line: u64, message: impl Into<String>) -> Self {
        CoreError::Record {
            line,
            message: message.into(),
        }
    }
    pub fn shape(message: impl Into<String>) -> Self {
        CoreError::Shape(message.into())
    }
    pub fn parameter(message: impl Into<String>) -> Self {
        CoreError::Parameter(message.into())
    }
}

impl fmt::Display for CoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CoreError::Record { line, message } => write!(f, "line {line}: {message}"),
            CoreError::Shape(m) | CoreError::Parameter(m) | CoreError::Io(m) => f.write_str(m),
            CoreError::IndexCorrupt { section, message } => write!(f, "index corrupt in section {section:?}: {message}"),
            CoreError::IndexVersion { found, supported } => write!(
                f,
                "index format major version {found} is newer than this mstk supports ({supported}): rebuild the index or upgrade mstk"
            ),
        }
    }
}

impl std::error::Error for CoreError {}

pub type CoreResult<T> = Result<T, CoreError>;
