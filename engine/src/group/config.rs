//! The coordinator's settings, with Kafka's broker defaults.

use super::limits;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupConfig {
    /// `group.min.session.timeout.ms`: shorter sessions are refused with
    /// INVALID_SESSION_TIMEOUT (they would make every GC pause a rebalance).
    pub session_timeout_min_ms: u64,
    /// `group.max.session.timeout.ms`.
    pub session_timeout_max_ms: u64,
    /// `group.initial.rebalance.delay.ms`: how long the first rebalance of an
    /// empty group waits for more members, so that a starting fleet of
    /// consumers does not rebalance once per member.
    pub initial_rebalance_delay_ms: u64,
    /// `group.max.size`.
    pub group_max_size: usize,
    /// `offset.metadata.max.bytes`.
    pub offset_metadata_max_bytes: usize,
    /// `offsets.retention.minutes`, in ms: offsets of an empty group are
    /// dropped this long after it became empty.
    pub offsets_retention_ms: u64,
    /// `offsets.retention.check.interval.ms`.
    pub offsets_retention_check_interval_ms: u64,
}

impl Default for GroupConfig {
    fn default() -> Self {
        Self {
            session_timeout_min_ms: 6_000,
            session_timeout_max_ms: 1_800_000,
            initial_rebalance_delay_ms: 3_000,
            group_max_size: limits::MEMBERS_PER_GROUP_MAX,
            offset_metadata_max_bytes: limits::OFFSET_METADATA_BYTES_DEFAULT,
            offsets_retention_ms: 7 * 24 * 3_600_000,
            offsets_retention_check_interval_ms: 600_000,
        }
    }
}

impl GroupConfig {
    /// Checks the settings against each other and the limits.
    pub fn validate(&self) -> Result<(), String> {
        if self.session_timeout_min_ms > self.session_timeout_max_ms {
            return Err("group session timeout min exceeds max".into());
        }
        if self.session_timeout_max_ms > i32::MAX as u64 {
            return Err("group session timeout max exceeds i32".into());
        }
        if self.group_max_size == 0 || self.group_max_size > limits::MEMBERS_PER_GROUP_MAX {
            return Err(format!(
                "group max size must be in 1..={}",
                limits::MEMBERS_PER_GROUP_MAX
            ));
        }
        if self.offsets_retention_check_interval_ms == 0 {
            return Err("offsets retention check interval must be positive".into());
        }
        Ok(())
    }
}
