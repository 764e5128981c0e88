//! JoinGroup request bodies, versions 0-9.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    /// The JoinGroup request.
    pub struct JoinGroupRequest {
        /// The group identifier.
        group_id: String [0, 9] = Default::default(),
        /// The coordinator considers the consumer dead if it receives no heartbeat after this
        /// timeout in milliseconds.
        session_timeout_ms: i32 [0, 9] = 0,
        /// The maximum time in milliseconds that the coordinator will wait for each member to
        /// rejoin when rebalancing the group.
        rebalance_timeout_ms: i32 [1, 9] = -1,
        /// The member id assigned by the group coordinator.
        member_id: String [0, 9] = Default::default(),
        /// The unique identifier of the consumer instance provided by end user.
        group_instance_id: Option<String> [5, 9] = None,
        /// The unique name the for class of protocols implemented by the group we want to join.
        protocol_type: String [0, 9] = Default::default(),
        /// The list of protocols that the member supports.
        protocols: Vec<JoinGroupRequestProtocol> [0, 9] = Default::default(),
        /// The reason why the member (re-)joins the group.
        reason: Option<String> [8, 9] = None,
    }
}

message! {
    pub struct JoinGroupRequestProtocol {
        /// The protocol name.
        name: String [0, 9] = Default::default(),
        /// The protocol metadata.
        metadata: Bytes [0, 9] = Default::default(),
    }
}
