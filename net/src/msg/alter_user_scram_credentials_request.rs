//! AlterUserScramCredentials request bodies, version 0.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct AlterUserScramCredentialsRequest {
        deletions: Vec<ScramCredentialDeletion> [0, 0] = Default::default(),
        upsertions: Vec<ScramCredentialUpsertion> [0, 0] = Default::default(),
    }
}

message! {
    pub struct ScramCredentialDeletion {
        name: String [0, 0] = Default::default(),
        mechanism: i8 [0, 0] = 0,
    }
}

message! {
    pub struct ScramCredentialUpsertion {
        name: String [0, 0] = Default::default(),
        mechanism: i8 [0, 0] = 0,
        iterations: i32 [0, 0] = 0,
        salt: Bytes [0, 0] = Default::default(),
        salted_password: Bytes [0, 0] = Default::default(),
    }
}
