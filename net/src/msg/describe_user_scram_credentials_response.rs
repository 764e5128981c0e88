//! DescribeUserScramCredentials response bodies, version 0.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct DescribeUserScramCredentialsResponse {
        throttle_time_ms: i32 [0, 0] = 0,
        error_code: i16 [0, 0] = 0,
        error_message: Option<String> [0, 0] = Some(Default::default()),
        results: Vec<DescribeUserScramCredentialsResult> [0, 0] = Default::default(),
    }
}

message! {
    pub struct CredentialInfo {
        mechanism: i8 [0, 0] = 0,
        iterations: i32 [0, 0] = 0,
    }
}

message! {
    pub struct DescribeUserScramCredentialsResult {
        user: String [0, 0] = Default::default(),
        error_code: i16 [0, 0] = 0,
        error_message: Option<String> [0, 0] = Some(Default::default()),
        credential_infos: Vec<CredentialInfo> [0, 0] = Default::default(),
    }
}
