//! SaslHandshake response bodies, versions 0-1.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct SaslHandshakeResponse {
        error_code: i16 [0, 1] = 0,
        mechanisms: Vec<String> [0, 1] = Default::default(),
    }
}
