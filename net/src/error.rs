//! Kafka error codes as a typed enum carrying the numeric wire values.

/// A Kafka error code. `ErrorCode::None` (0) means success. Codes this
/// version of Sluice does not know decode to [`ErrorCode::Unknown`] so that a
/// response from a newer broker never fails to decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    UnknownServerError,
    None,
    OffsetOutOfRange,
    CorruptMessage,
    UnknownTopicOrPartition,
    InvalidFetchSize,
    LeaderNotAvailable,
    NotLeaderOrFollower,
    RequestTimedOut,
    BrokerNotAvailable,
    ReplicaNotAvailable,
    MessageTooLarge,
    StaleControllerEpoch,
    OffsetMetadataTooLarge,
    NetworkException,
    CoordinatorLoadInProgress,
    CoordinatorNotAvailable,
    NotCoordinator,
    InvalidTopicException,
    RecordListTooLarge,
    NotEnoughReplicas,
    NotEnoughReplicasAfterAppend,
    InvalidRequiredAcks,
    IllegalGeneration,
    InconsistentGroupProtocol,
    InvalidGroupId,
    UnknownMemberId,
    InvalidSessionTimeout,
    RebalanceInProgress,
    InvalidCommitOffsetSize,
    TopicAuthorizationFailed,
    GroupAuthorizationFailed,
    ClusterAuthorizationFailed,
    InvalidTimestamp,
    UnsupportedSaslMechanism,
    IllegalSaslState,
    UnsupportedVersion,
    TopicAlreadyExists,
    InvalidPartitions,
    InvalidReplicationFactor,
    InvalidReplicaAssignment,
    InvalidConfig,
    NotController,
    InvalidRequest,
    UnsupportedForMessageFormat,
    PolicyViolation,
    OutOfOrderSequenceNumber,
    DuplicateSequenceNumber,
    InvalidProducerEpoch,
    InvalidTxnState,
    InvalidProducerIdMapping,
    InvalidTransactionTimeout,
    ConcurrentTransactions,
    TransactionCoordinatorFenced,
    TransactionalIdAuthorizationFailed,
    SecurityDisabled,
    OperationNotAttempted,
    KafkaStorageError,
    LogDirNotFound,
    SaslAuthenticationFailed,
    UnknownProducerId,
    ReassignmentInProgress,
    DelegationTokenAuthDisabled,
    DelegationTokenNotFound,
    DelegationTokenOwnerMismatch,
    DelegationTokenRequestNotAllowed,
    DelegationTokenAuthorizationFailed,
    DelegationTokenExpired,
    InvalidPrincipalType,
    NonEmptyGroup,
    GroupIdNotFound,
    FetchSessionIdNotFound,
    InvalidFetchSessionEpoch,
    ListenerNotFound,
    TopicDeletionDisabled,
    FencedLeaderEpoch,
    UnknownLeaderEpoch,
    UnsupportedCompressionType,
    StaleBrokerEpoch,
    OffsetNotAvailable,
    MemberIdRequired,
    PreferredLeaderNotAvailable,
    GroupMaxSizeReached,
    FencedInstanceId,
    EligibleLeadersNotAvailable,
    ElectionNotNeeded,
    NoReassignmentInProgress,
    GroupSubscribedToTopic,
    InvalidRecord,
    UnstableOffsetCommit,
    ThrottlingQuotaExceeded,
    ProducerFenced,
    ResourceNotFound,
    DuplicateResource,
    UnacceptableCredential,
    InconsistentVoterSet,
    InvalidUpdateVersion,
    FeatureUpdateFailed,
    PrincipalDeserializationFailure,
    SnapshotNotFound,
    PositionOutOfRange,
    UnknownTopicId,
    DuplicateBrokerRegistration,
    BrokerIdNotRegistered,
    InconsistentTopicId,
    InconsistentClusterId,
    TransactionalIdNotFound,
    FetchSessionTopicIdError,
    IneligibleReplica,
    NewLeaderElected,
    OffsetMovedToTieredStorage,
    FencedMemberEpoch,
    UnreleasedInstanceId,
    UnsupportedAssignor,
    StaleMemberEpoch,
    MismatchedEndpointType,
    UnsupportedEndpointType,
    UnknownControllerId,
    UnknownSubscriptionId,
    TelemetryTooLarge,
    InvalidRegistration,
    TransactionAbortable,
    InvalidRecordState,
    ShareSessionNotFound,
    InvalidShareSessionEpoch,
    FencedStateEpoch,
    InvalidVoterKey,
    DuplicateVoter,
    VoterNotFound,
    InvalidRegularExpression,
    RebootstrapRequired,
    StreamsInvalidTopology,
    StreamsInvalidTopologyEpoch,
    StreamsTopologyFenced,
    ShareSessionLimitReached,
    /// A code not in this table, kept verbatim.
    Unknown(i16),
}

macro_rules! codes {
    ($(($name:ident, $code:literal, $retriable:literal)),* $(,)?) => {
        impl ErrorCode {
            /// The numeric value on the wire.
            pub const fn code(self) -> i16 {
                match self {
                    $(ErrorCode::$name => $code,)*
                    ErrorCode::Unknown(code) => code,
                }
            }

            /// Maps a wire value back to its code.
            pub const fn from_code(code: i16) -> Self {
                match code {
                    $($code => ErrorCode::$name,)*
                    other => ErrorCode::Unknown(other),
                }
            }

            /// Whether a client may retry the request that got this error.
            pub const fn is_retriable(self) -> bool {
                match self {
                    $(ErrorCode::$name => $retriable,)*
                    ErrorCode::Unknown(_) => false,
                }
            }
        }
    };
}

codes! {
    (UnknownServerError, -1, false),
    (None, 0, false),
    (OffsetOutOfRange, 1, false),
    (CorruptMessage, 2, true),
    (UnknownTopicOrPartition, 3, true),
    (InvalidFetchSize, 4, false),
    (LeaderNotAvailable, 5, true),
    (NotLeaderOrFollower, 6, true),
    (RequestTimedOut, 7, true),
    (BrokerNotAvailable, 8, false),
    (ReplicaNotAvailable, 9, true),
    (MessageTooLarge, 10, false),
    (StaleControllerEpoch, 11, false),
    (OffsetMetadataTooLarge, 12, false),
    (NetworkException, 13, true),
    (CoordinatorLoadInProgress, 14, true),
    (CoordinatorNotAvailable, 15, true),
    (NotCoordinator, 16, true),
    (InvalidTopicException, 17, false),
    (RecordListTooLarge, 18, false),
    (NotEnoughReplicas, 19, true),
    (NotEnoughReplicasAfterAppend, 20, true),
    (InvalidRequiredAcks, 21, false),
    (IllegalGeneration, 22, false),
    (InconsistentGroupProtocol, 23, false),
    (InvalidGroupId, 24, false),
    (UnknownMemberId, 25, false),
    (InvalidSessionTimeout, 26, false),
    (RebalanceInProgress, 27, false),
    (InvalidCommitOffsetSize, 28, false),
    (TopicAuthorizationFailed, 29, false),
    (GroupAuthorizationFailed, 30, false),
    (ClusterAuthorizationFailed, 31, false),
    (InvalidTimestamp, 32, false),
    (UnsupportedSaslMechanism, 33, false),
    (IllegalSaslState, 34, false),
    (UnsupportedVersion, 35, false),
    (TopicAlreadyExists, 36, false),
    (InvalidPartitions, 37, false),
    (InvalidReplicationFactor, 38, false),
    (InvalidReplicaAssignment, 39, false),
    (InvalidConfig, 40, false),
    (NotController, 41, true),
    (InvalidRequest, 42, false),
    (UnsupportedForMessageFormat, 43, false),
    (PolicyViolation, 44, false),
    (OutOfOrderSequenceNumber, 45, false),
    (DuplicateSequenceNumber, 46, false),
    (InvalidProducerEpoch, 47, false),
    (InvalidTxnState, 48, false),
    (InvalidProducerIdMapping, 49, false),
    (InvalidTransactionTimeout, 50, false),
    (ConcurrentTransactions, 51, false),
    (TransactionCoordinatorFenced, 52, false),
    (TransactionalIdAuthorizationFailed, 53, false),
    (SecurityDisabled, 54, false),
    (OperationNotAttempted, 55, false),
    (KafkaStorageError, 56, true),
    (LogDirNotFound, 57, false),
    (SaslAuthenticationFailed, 58, false),
    (UnknownProducerId, 59, false),
    (ReassignmentInProgress, 60, false),
    (DelegationTokenAuthDisabled, 61, false),
    (DelegationTokenNotFound, 62, false),
    (DelegationTokenOwnerMismatch, 63, false),
    (DelegationTokenRequestNotAllowed, 64, false),
    (DelegationTokenAuthorizationFailed, 65, false),
    (DelegationTokenExpired, 66, false),
    (InvalidPrincipalType, 67, false),
    (NonEmptyGroup, 68, false),
    (GroupIdNotFound, 69, false),
    (FetchSessionIdNotFound, 70, true),
    (InvalidFetchSessionEpoch, 71, true),
    (ListenerNotFound, 72, true),
    (TopicDeletionDisabled, 73, false),
    (FencedLeaderEpoch, 74, true),
    (UnknownLeaderEpoch, 75, true),
    (UnsupportedCompressionType, 76, false),
    (StaleBrokerEpoch, 77, false),
    (OffsetNotAvailable, 78, true),
    (MemberIdRequired, 79, false),
    (PreferredLeaderNotAvailable, 80, true),
    (GroupMaxSizeReached, 81, false),
    (FencedInstanceId, 82, false),
    (EligibleLeadersNotAvailable, 83, true),
    (ElectionNotNeeded, 84, true),
    (NoReassignmentInProgress, 85, false),
    (GroupSubscribedToTopic, 86, false),
    (InvalidRecord, 87, false),
    (UnstableOffsetCommit, 88, true),
    (ThrottlingQuotaExceeded, 89, true),
    (ProducerFenced, 90, false),
    (ResourceNotFound, 91, false),
    (DuplicateResource, 92, false),
    (UnacceptableCredential, 93, false),
    (InconsistentVoterSet, 94, false),
    (InvalidUpdateVersion, 95, false),
    (FeatureUpdateFailed, 96, false),
    (PrincipalDeserializationFailure, 97, false),
    (SnapshotNotFound, 98, false),
    (PositionOutOfRange, 99, false),
    (UnknownTopicId, 100, true),
    (DuplicateBrokerRegistration, 101, false),
    (BrokerIdNotRegistered, 102, false),
    (InconsistentTopicId, 103, true),
    (InconsistentClusterId, 104, false),
    (TransactionalIdNotFound, 105, false),
    (FetchSessionTopicIdError, 106, true),
    (IneligibleReplica, 107, false),
    (NewLeaderElected, 108, false),
    (OffsetMovedToTieredStorage, 109, false),
    (FencedMemberEpoch, 110, false),
    (UnreleasedInstanceId, 111, false),
    (UnsupportedAssignor, 112, false),
    (StaleMemberEpoch, 113, false),
    (MismatchedEndpointType, 114, false),
    (UnsupportedEndpointType, 115, false),
    (UnknownControllerId, 116, false),
    (UnknownSubscriptionId, 117, false),
    (TelemetryTooLarge, 118, false),
    (InvalidRegistration, 119, false),
    (TransactionAbortable, 120, false),
    (InvalidRecordState, 121, false),
    (ShareSessionNotFound, 122, true),
    (InvalidShareSessionEpoch, 123, true),
    (FencedStateEpoch, 124, false),
    (InvalidVoterKey, 125, false),
    (DuplicateVoter, 126, false),
    (VoterNotFound, 127, false),
    (InvalidRegularExpression, 128, false),
    (RebootstrapRequired, 129, false),
    (StreamsInvalidTopology, 130, false),
    (StreamsInvalidTopologyEpoch, 131, false),
    (StreamsTopologyFenced, 132, false),
    (ShareSessionLimitReached, 133, true),
}

impl ErrorCode {
    pub const fn is_error(self) -> bool {
        !matches!(self, ErrorCode::None)
    }
}

impl From<ErrorCode> for i16 {
    fn from(code: ErrorCode) -> i16 {
        code.code()
    }
}

impl From<i16> for ErrorCode {
    fn from(code: i16) -> Self {
        ErrorCode::from_code(code)
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}({})", self, self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_values() {
        assert_eq!(ErrorCode::UnknownServerError.code(), -1);
        assert_eq!(ErrorCode::OffsetOutOfRange.code(), 1);
        assert_eq!(ErrorCode::CorruptMessage.code(), 2);
        assert_eq!(ErrorCode::UnknownTopicOrPartition.code(), 3);
        assert_eq!(ErrorCode::NotLeaderOrFollower.code(), 6);
        assert_eq!(ErrorCode::UnsupportedVersion.code(), 35);
        assert_eq!(ErrorCode::InvalidRecord.code(), 87);
        assert!(ErrorCode::NotLeaderOrFollower.is_retriable());
        assert!(!ErrorCode::TopicAuthorizationFailed.is_retriable());
    }

    #[test]
    fn every_code_round_trips() {
        for code in -1i16..200 {
            assert_eq!(ErrorCode::from_code(code).code(), code);
        }
        assert_eq!(ErrorCode::from_code(9999), ErrorCode::Unknown(9999));
    }
}
