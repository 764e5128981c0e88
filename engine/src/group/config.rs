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
    /// How often each `__consumer_offsets` partition rewrites its live state
    /// (a checkpoint) so that segments older than three intervals can be
    /// deleted: this bounds the log, and the replay at start-up, to about
    /// three intervals of commits plus the live offsets.
    pub offsets_checkpoint_interval_ms: u64,
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
            offsets_checkpoint_interval_ms: 600_000,
        }
    }
}

/// A `[groups]` setting that is out of range, by key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupConfigError {
    #[error("session_timeout_min_ms exceeds session_timeout_max_ms")]
    SessionTimeoutsInverted,
    #[error("session_timeout_max_ms exceeds {}", i32::MAX)]
    SessionTimeoutTooLong,
    #[error("max_size must be in 1..={}", limits::MEMBERS_PER_GROUP_MAX)]
    MaxSize,
    #[error("offsets_retention_check_interval_ms must be positive")]
    RetentionCheckInterval,
    #[error("offsets_checkpoint_interval_ms must be positive and at most {}", i64::MAX / 4)]
    CheckpointInterval,
}

impl GroupConfig {
    /// Checks the settings against each other and the limits.
    pub fn validate(&self) -> Result<(), GroupConfigError> {
        if self.session_timeout_min_ms > self.session_timeout_max_ms {
            return Err(GroupConfigError::SessionTimeoutsInverted);
        }
        if self.session_timeout_max_ms > i32::MAX as u64 {
            return Err(GroupConfigError::SessionTimeoutTooLong);
        }
        if self.group_max_size == 0 || self.group_max_size > limits::MEMBERS_PER_GROUP_MAX {
            return Err(GroupConfigError::MaxSize);
        }
        if self.offsets_retention_check_interval_ms == 0 {
            return Err(GroupConfigError::RetentionCheckInterval);
        }
        if self.offsets_checkpoint_interval_ms == 0
            || self.offsets_checkpoint_interval_ms > i64::MAX as u64 / 4
        {
            return Err(GroupConfigError::CheckpointInterval);
        }
        Ok(())
    }
}

/// The `[groups]` section of the broker's TOML file; every key optional.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileGroups {
    pub session_timeout_min_ms: Option<u64>,
    pub session_timeout_max_ms: Option<u64>,
    pub initial_rebalance_delay_ms: Option<u64>,
    pub max_size: Option<usize>,
    pub offset_metadata_max_bytes: Option<usize>,
    pub offsets_retention_ms: Option<u64>,
    pub offsets_retention_check_interval_ms: Option<u64>,
    pub offsets_checkpoint_interval_ms: Option<u64>,
}

impl FileGroups {
    /// Kafka's defaults overlaid with the keys given, validated.
    pub fn into_config(self) -> Result<GroupConfig, GroupConfigError> {
        let d = GroupConfig::default();
        let config = GroupConfig {
            session_timeout_min_ms: self
                .session_timeout_min_ms
                .unwrap_or(d.session_timeout_min_ms),
            session_timeout_max_ms: self
                .session_timeout_max_ms
                .unwrap_or(d.session_timeout_max_ms),
            initial_rebalance_delay_ms: self
                .initial_rebalance_delay_ms
                .unwrap_or(d.initial_rebalance_delay_ms),
            group_max_size: self.max_size.unwrap_or(d.group_max_size),
            offset_metadata_max_bytes: self
                .offset_metadata_max_bytes
                .unwrap_or(d.offset_metadata_max_bytes),
            offsets_retention_ms: self.offsets_retention_ms.unwrap_or(d.offsets_retention_ms),
            offsets_retention_check_interval_ms: self
                .offsets_retention_check_interval_ms
                .unwrap_or(d.offsets_retention_check_interval_ms),
            offsets_checkpoint_interval_ms: self
                .offsets_checkpoint_interval_ms
                .unwrap_or(d.offsets_checkpoint_interval_ms),
        };
        config.validate()?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_section_overrides_defaults_and_is_validated() {
        let config = FileGroups {
            session_timeout_min_ms: Some(500),
            initial_rebalance_delay_ms: Some(0),
            ..FileGroups::default()
        }
        .into_config()
        .unwrap();
        assert_eq!(config.session_timeout_min_ms, 500);
        assert_eq!(config.initial_rebalance_delay_ms, 0);
        assert_eq!(config.session_timeout_max_ms, 1_800_000);
        let inverted = FileGroups {
            session_timeout_min_ms: Some(10_000),
            session_timeout_max_ms: Some(5_000),
            ..FileGroups::default()
        };
        assert!(inverted.into_config().is_err());
        let too_big = FileGroups {
            max_size: Some(limits::MEMBERS_PER_GROUP_MAX + 1),
            ..FileGroups::default()
        };
        assert!(too_big.into_config().is_err());
    }
}
