//! `sluice-bench`: a load generator for Kafka-compatible brokers whose
//! numbers can be trusted.
//!
//! Owns: workload models ([`workload`]), what producers send and when
//! ([`generate`]), measurement ([`stats`]), the run itself (the coordinator
//! in [`run`], one pinned executor per [`worker`], a throw-away broker in
//! [`embedded`]), and every output: table, `.hgrm`, interval log, JSON, plots ([`report`],
//! [`plot`]) and run comparison ([`compare`]).
//!
//! Never: speaks the Kafka protocol itself (it goes through `net::client`),
//! shares measurements between workers (each worker owns its histograms and
//! ships snapshots; only stop flags and progress counters are shared), or
//! measures latency from the moment the client got round
//! to sending: open-loop latency starts at the message's intended send time.

pub mod compare;
pub mod embedded;
pub mod generate;
pub mod limits;
pub mod plot;
pub mod report;
pub mod run;
pub mod stats;
pub mod worker;
pub mod workload;
