//! Errors for bad task specifications and suites.

use thiserror::Error;

/// What went wrong building a task or loading a suite.
#[derive(Debug, Error, PartialEq)]
pub enum TaskError {
    /// The family name is not in the registry.
    #[error("unknown task family `{name}`; valid families: {valid}")]
    UnknownFamily { name: String, valid: String },
    /// A configuration key the family does not have.
    #[error("task family `{family}` has no key `{key}`; valid keys: {valid}")]
    UnknownKey { family: String, key: String, valid: String },
    /// A value that does not parse or is out of range.
    #[error("task family `{family}`: `{key}={value}` is invalid; expected {expected}")]
    BadValue { family: String, key: String, value: String, expected: String },
    /// A task string that is not `FAMILY[:key=value,...]`.
    #[error("cannot parse task `{spec}`: {reason}")]
    Syntax { spec: String, reason: String },
    /// An unknown suite or a malformed suite file.
    #[error("suite `{suite}`: {reason}")]
    Suite { suite: String, reason: String },
}
