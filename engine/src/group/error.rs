//! The Kafka error codes the group coordinator answers with. Only the codes
//! this module produces are listed; `net` owns the full table.

/// A Kafka error code as the coordinator decides it. The numeric values are
/// the protocol's and must never change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i16)]
pub enum ErrorCode {
    None = 0,
    UnknownServerError = -1,
    UnknownTopicOrPartition = 3,
    OffsetMetadataTooLarge = 12,
    CoordinatorLoadInProgress = 14,
    CoordinatorNotAvailable = 15,
    NotCoordinator = 16,
    IllegalGeneration = 22,
    InconsistentGroupProtocol = 23,
    InvalidGroupId = 24,
    UnknownMemberId = 25,
    InvalidSessionTimeout = 26,
    RebalanceInProgress = 27,
    InvalidCommitOffsetSize = 28,
    InvalidRequest = 42,
    KafkaStorageError = 56,
    NonEmptyGroup = 68,
    GroupIdNotFound = 69,
    MemberIdRequired = 79,
    GroupMaxSizeReached = 81,
    FencedInstanceId = 82,
}

impl ErrorCode {
    /// The value on the wire.
    pub fn code(self) -> i16 {
        self as i16
    }

    pub fn is_ok(self) -> bool {
        self == ErrorCode::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The protocol's numbers, spelled out: a renumbering would break every
    /// client's recovery logic.
    #[test]
    fn codes_match_the_kafka_protocol() {
        let expected: [(ErrorCode, i16); 21] = [
            (ErrorCode::None, 0),
            (ErrorCode::UnknownServerError, -1),
            (ErrorCode::UnknownTopicOrPartition, 3),
            (ErrorCode::OffsetMetadataTooLarge, 12),
            (ErrorCode::CoordinatorLoadInProgress, 14),
            (ErrorCode::CoordinatorNotAvailable, 15),
            (ErrorCode::NotCoordinator, 16),
            (ErrorCode::IllegalGeneration, 22),
            (ErrorCode::InconsistentGroupProtocol, 23),
            (ErrorCode::InvalidGroupId, 24),
            (ErrorCode::UnknownMemberId, 25),
            (ErrorCode::InvalidSessionTimeout, 26),
            (ErrorCode::RebalanceInProgress, 27),
            (ErrorCode::InvalidCommitOffsetSize, 28),
            (ErrorCode::InvalidRequest, 42),
            (ErrorCode::KafkaStorageError, 56),
            (ErrorCode::NonEmptyGroup, 68),
            (ErrorCode::GroupIdNotFound, 69),
            (ErrorCode::MemberIdRequired, 79),
            (ErrorCode::GroupMaxSizeReached, 81),
            (ErrorCode::FencedInstanceId, 82),
        ];
        for (error, code) in expected {
            assert_eq!(error.code(), code, "{error:?}");
        }
    }
}
