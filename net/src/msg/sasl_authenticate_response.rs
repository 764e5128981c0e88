//! SaslAuthenticate response bodies, versions 0-2.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    /// The SaslAuthenticate response.
    pub struct SaslAuthenticateResponse {
        /// The error code, or 0 if there was no error.
        error_code: i16 [0, 2] = 0,
        /// The error message, or null if there was no error.
        error_message: Option<String> [0, 2] = Some(Default::default()),
        /// The SASL authentication bytes from the server, as defined by the SASL mechanism.
        auth_bytes: Bytes [0, 2] = Default::default(),
        /// Number of milliseconds after which only re-authentication over the existing connection
        /// to create a new session can occur.
        session_lifetime_ms: i64 [1, 2] = 0,
    }
}
