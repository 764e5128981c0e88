//! InitProducerId request bodies, versions 0-4.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    /// The InitProducerId request.
    pub struct InitProducerIdRequest {
        /// The transactional id, or null if the producer is not transactional.
        transactional_id: Option<String> [0, 4] = Some(Default::default()),
        /// The time in ms to wait before aborting idle transactions sent by this producer. This is
        /// only relevant if a TransactionalId has been defined.
        transaction_timeout_ms: i32 [0, 4] = 0,
        /// The producer id. This is used to disambiguate requests if a transactional id is reused
        /// following its expiration.
        producer_id: i64 [3, 4] = -1,
        /// The producer's current epoch. This will be checked against the producer epoch on the
        /// broker, and the request will return an error if they do not match.
        producer_epoch: i16 [3, 4] = -1,
    }
}
