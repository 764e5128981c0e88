//! SaslHandshake request bodies, versions 0-1.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    /// The SaslHandshake request.
    pub struct SaslHandshakeRequest {
        /// The SASL mechanism chosen by the client.
        mechanism: String [0, 1] = Default::default(),
    }
}
