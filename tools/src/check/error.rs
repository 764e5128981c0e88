//! Why a run could not be carried out (as opposed to anomalies, which are
//! what a run finds).

use super::history::HistoryError;

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// Flags that do not fit together, or a request this version cannot do.
    #[error("{0}")]
    Usage(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("node {node}: {reason}")]
    Node { node: usize, reason: String },
    #[error("small disk for node {node}: {reason}")]
    Disk { node: usize, reason: String },
    #[error("the workload failed: {0}")]
    Workload(String),
    #[error(transparent)]
    History(#[from] HistoryError),
    #[error("writing the report: {0}")]
    Report(String),
}

impl CheckError {
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> CheckError {
        let what = what.into();
        move |source| CheckError::Io { what, source }
    }
}
