//! SaslHandshake response bodies, versions 0-1.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    /// The SaslHandshake response.
    pub struct SaslHandshakeResponse {
        /// The error code, or 0 if there was no error.
        error_code: i16 [0, 1] = 0,
        /// The mechanisms enabled in the server.
        mechanisms: Vec<String> [0, 1] = Default::default(),
    }
}
