//! Golden bytes for the versions kafka-protocol no longer implements (see
//! `differential::ORACLE_LACKS`): Kafka 4.0 dropped them, but Sluice still
//! accepts them. Each body is spelled out field by field from the Kafka
//! schemas; the same bytes come out of kafka-python 3.0.12's hand-written
//! encoders in `kafka.protocol.old` (checked when this was written; its
//! DescribeLogDirs v0 request declares the partitions as one int32 instead of
//! an array, so that one was checked against its schema-driven encoder).
//! Distinct values in every field catch two fields of one type swapped.

use bytes::Bytes;

use super::{decode_body, encode_body};
use crate::codec::Wire;
use crate::msg::*;
use crate::ApiKey;

/// A classic (non-flexible) body written by hand, one field per call.
#[derive(Default)]
struct Golden(Vec<u8>);

impl Golden {
    fn i8(mut self, v: i8) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn i16(mut self, v: i16) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn i32(mut self, v: i32) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn i64(mut self, v: i64) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    /// Array element count (int32).
    fn count(self, n: i32) -> Self {
        self.i32(n)
    }
    /// String: int16 length, then UTF-8.
    fn str(mut self, s: &str) -> Self {
        self = self.i16(s.len() as i16);
        self.0.extend_from_slice(s.as_bytes());
        self
    }
    fn null_str(self) -> Self {
        self.i16(-1)
    }
}

/// `value` encodes to exactly `golden` in `version`, and `golden` decodes
/// back to `value`.
fn pinned<T: Wire + PartialEq + std::fmt::Debug>(
    api: ApiKey,
    version: i16,
    value: &T,
    golden: Golden,
) {
    let layout = api.layout(version);
    assert!(
        !layout.flexible,
        "the golden writer is for classic versions"
    );
    let golden = Bytes::from(golden.0);
    assert_eq!(encode_body(value, layout), golden, "{api:?} v{version}");
    assert_eq!(
        &decode_body::<T>(golden, layout),
        value,
        "{api:?} v{version}"
    );
}

#[test]
fn offset_for_leader_epoch_v0_and_v1() {
    use crate::msg::offset_for_leader_epoch_request as q;
    use crate::msg::offset_for_leader_epoch_response as r;

    // v1 changed only the response, so both versions send this request.
    let request = OffsetForLeaderEpochRequest {
        topics: vec![q::OffsetForLeaderTopic {
            topic: "t".into(),
            partitions: vec![q::OffsetForLeaderPartition {
                partition: 2,
                leader_epoch: 3,
                ..Default::default()
            }],
        }],
        ..Default::default()
    };
    for version in [0, 1] {
        let golden = Golden::default()
            .count(1) // topics
            .str("t") // topic
            .count(1) // partitions
            .i32(2) // partition
            .i32(3); // leader_epoch
        pinned(ApiKey::OffsetForLeaderEpoch, version, &request, golden);
    }

    let mut response = OffsetForLeaderEpochResponse {
        topics: vec![r::OffsetForLeaderTopicResult {
            topic: "t".into(),
            partitions: vec![r::EpochEndOffset {
                error_code: 4,
                partition: 5,
                end_offset: 6,
                ..Default::default()
            }],
        }],
        ..Default::default()
    };
    let v0 = Golden::default()
        .count(1) // topics
        .str("t") // topic
        .count(1) // partitions
        .i16(4) // error_code
        .i32(5) // partition
        .i64(6); // end_offset
    pinned(ApiKey::OffsetForLeaderEpoch, 0, &response, v0);
    response.topics[0].partitions[0].leader_epoch = 7;
    let v1 = Golden::default()
        .count(1) // topics
        .str("t") // topic
        .count(1) // partitions
        .i16(4) // error_code
        .i32(5) // partition
        .i32(7) // leader_epoch, new in v1
        .i64(6); // end_offset
    pinned(ApiKey::OffsetForLeaderEpoch, 1, &response, v1);
}

#[test]
fn describe_acls_v0() {
    use crate::msg::describe_acls_response as r;

    let request = DescribeAclsRequest {
        resource_type_filter: 2,
        resource_name_filter: Some("topic".into()),
        principal_filter: None,
        host_filter: Some("*".into()),
        operation: 3,
        permission_type: 4,
        ..Default::default()
    };
    let golden = Golden::default()
        .i8(2) // resource_type_filter
        .str("topic") // resource_name_filter
        .null_str() // principal_filter
        .str("*") // host_filter
        .i8(3) // operation
        .i8(4); // permission_type
    pinned(ApiKey::DescribeAcls, 0, &request, golden);

    let response = DescribeAclsResponse {
        throttle_time_ms: 5,
        error_code: 6,
        error_message: None,
        resources: vec![r::DescribeAclsResource {
            resource_type: 7,
            resource_name: "n".into(),
            acls: vec![r::AclDescription {
                principal: "User:a".into(),
                host: "h".into(),
                operation: 8,
                permission_type: 9,
            }],
            ..Default::default()
        }],
    };
    let golden = Golden::default()
        .i32(5) // throttle_time_ms
        .i16(6) // error_code
        .null_str() // error_message
        .count(1) // resources
        .i8(7) // resource_type
        .str("n") // resource_name
        .count(1) // acls
        .str("User:a") // principal
        .str("h") // host
        .i8(8) // operation
        .i8(9); // permission_type
    pinned(ApiKey::DescribeAcls, 0, &response, golden);
}

#[test]
fn create_acls_v0() {
    use crate::msg::create_acls_request as q;
    use crate::msg::create_acls_response as r;

    let request = CreateAclsRequest {
        creations: vec![q::AclCreation {
            resource_type: 2,
            resource_name: "topic".into(),
            principal: "User:a".into(),
            host: "*".into(),
            operation: 3,
            permission_type: 4,
            ..Default::default()
        }],
    };
    let golden = Golden::default()
        .count(1) // creations
        .i8(2) // resource_type
        .str("topic") // resource_name
        .str("User:a") // principal
        .str("*") // host
        .i8(3) // operation
        .i8(4); // permission_type
    pinned(ApiKey::CreateAcls, 0, &request, golden);

    let response = CreateAclsResponse {
        throttle_time_ms: 5,
        results: vec![r::AclCreationResult {
            error_code: 6,
            error_message: Some("e".into()),
        }],
    };
    let golden = Golden::default()
        .i32(5) // throttle_time_ms
        .count(1) // results
        .i16(6) // error_code
        .str("e"); // error_message
    pinned(ApiKey::CreateAcls, 0, &response, golden);
}

#[test]
fn delete_acls_v0() {
    use crate::msg::delete_acls_request as q;
    use crate::msg::delete_acls_response as r;

    let request = DeleteAclsRequest {
        filters: vec![q::DeleteAclsFilter {
            resource_type_filter: 2,
            resource_name_filter: None,
            principal_filter: Some("User:a".into()),
            host_filter: None,
            operation: 3,
            permission_type: 4,
            ..Default::default()
        }],
    };
    let golden = Golden::default()
        .count(1) // filters
        .i8(2) // resource_type_filter
        .null_str() // resource_name_filter
        .str("User:a") // principal_filter
        .null_str() // host_filter
        .i8(3) // operation
        .i8(4); // permission_type
    pinned(ApiKey::DeleteAcls, 0, &request, golden);

    let response = DeleteAclsResponse {
        throttle_time_ms: 5,
        filter_results: vec![r::DeleteAclsFilterResult {
            error_code: 6,
            error_message: None,
            matching_acls: vec![r::DeleteAclsMatchingAcl {
                error_code: 7,
                error_message: Some("m".into()),
                resource_type: 8,
                resource_name: "n".into(),
                principal: "User:b".into(),
                host: "h".into(),
                operation: 9,
                permission_type: 10,
                ..Default::default()
            }],
        }],
    };
    let golden = Golden::default()
        .i32(5) // throttle_time_ms
        .count(1) // filter_results
        .i16(6) // error_code
        .null_str() // error_message
        .count(1) // matching_acls
        .i16(7) // error_code
        .str("m") // error_message
        .i8(8) // resource_type
        .str("n") // resource_name
        .str("User:b") // principal
        .str("h") // host
        .i8(9) // operation
        .i8(10); // permission_type
    pinned(ApiKey::DeleteAcls, 0, &response, golden);
}

#[test]
fn describe_log_dirs_v0() {
    use crate::msg::describe_log_dirs_request as q;
    use crate::msg::describe_log_dirs_response as r;

    let request = DescribeLogDirsRequest {
        topics: Some(vec![q::DescribableLogDirTopic {
            topic: "t".into(),
            partitions: vec![2, 3],
        }]),
    };
    let golden = Golden::default()
        .count(1) // topics
        .str("t") // topic
        .count(2) // partitions
        .i32(2)
        .i32(3);
    pinned(ApiKey::DescribeLogDirs, 0, &request, golden);
    // null asks for every log directory
    let all = DescribeLogDirsRequest { topics: None };
    pinned(
        ApiKey::DescribeLogDirs,
        0,
        &all,
        Golden::default().count(-1),
    );

    let response = DescribeLogDirsResponse {
        throttle_time_ms: 4,
        results: vec![r::DescribeLogDirsResult {
            error_code: 5,
            log_dir: "/d".into(),
            topics: vec![r::DescribeLogDirsTopic {
                name: "t".into(),
                partitions: vec![r::DescribeLogDirsPartition {
                    partition_index: 6,
                    partition_size: 7,
                    offset_lag: 8,
                    is_future_key: true,
                }],
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let golden = Golden::default()
        .i32(4) // throttle_time_ms
        .count(1) // results
        .i16(5) // error_code
        .str("/d") // log_dir
        .count(1) // topics
        .str("t") // name
        .count(1) // partitions
        .i32(6) // partition_index
        .i64(7) // partition_size
        .i64(8) // offset_lag
        .i8(1); // is_future_key
    pinned(ApiKey::DescribeLogDirs, 0, &response, golden);
}
