//! SaslAuthenticate response bodies, versions 0-2.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct SaslAuthenticateResponse {
        error_code: i16 [0, 2] = 0,
        error_message: Option<String> [0, 2] = Some(Default::default()),
        auth_bytes: Bytes [0, 2] = Default::default(),
        session_lifetime_ms: i64 [1, 2] = 0,
    }
}
