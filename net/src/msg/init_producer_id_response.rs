//! InitProducerId response bodies, versions 0-4.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct InitProducerIdResponse {
        throttle_time_ms: i32 [0, 4] = 0,
        error_code: i16 [0, 4] = 0,
        producer_id: i64 [0, 4] = -1,
        producer_epoch: i16 [0, 4] = 0,
    }
}
