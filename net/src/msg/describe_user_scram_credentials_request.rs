//! DescribeUserScramCredentials request bodies, version 0.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct DescribeUserScramCredentialsRequest {
        users: Option<Vec<UserName>> [0, 0] = Some(Default::default()),
    }
}

message! {
    pub struct UserName {
        name: String [0, 0] = Default::default(),
    }
}
