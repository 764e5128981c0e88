//! Every bound of `sluice-check`, with the reason it has that value.

/// Anomalies of one kind kept with their descriptions for the report; the
/// rest are only counted. Twenty show a pattern without burying the report.
pub const EXAMPLES_PER_KIND: usize = 20;
