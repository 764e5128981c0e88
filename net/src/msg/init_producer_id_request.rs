//! InitProducerId request bodies, versions 0-4.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct InitProducerIdRequest {
        transactional_id: Option<String> [0, 4] = Some(Default::default()),
        transaction_timeout_ms: i32 [0, 4] = 0,
        producer_id: i64 [3, 4] = -1,
        producer_epoch: i16 [3, 4] = -1,
    }
}
