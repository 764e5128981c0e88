//! InitProducerId response bodies, versions 0-4.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    /// The InitProducerId response.
    pub struct InitProducerIdResponse {
        /// The duration in milliseconds for which the request was throttled due to a quota
        /// violation, or zero if the request did not violate any quota.
        throttle_time_ms: i32 [0, 4] = 0,
        /// The error code, or 0 if there was no error.
        error_code: i16 [0, 4] = 0,
        /// The current producer id.
        producer_id: i64 [0, 4] = -1,
        /// The current epoch associated with the producer id.
        producer_epoch: i16 [0, 4] = 0,
    }
}
