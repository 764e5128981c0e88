//! Request order on the produce path, on real shards (`crate::testing`): one
//! connection's appends to a partition reach the log in the order its
//! requests arrived, whatever shard the partition lives on, however long
//! each request takes between arriving and appending, and however full the
//! cross-shard channels are.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use net::msg::offset_commit_request::{
    OffsetCommitRequest, OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use net::msg::offset_fetch_request::{OffsetFetchRequest, OffsetFetchRequestTopic};
use net::msg::produce_request::{PartitionProduceData, ProduceRequest, TopicProduceData};
use net::{ApiKey, Request, RequestHeader, Response};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};

use crate::cluster::Owner;
use crate::delays::{schedule, Point};
use crate::kafka::Peer;
use crate::kafka::Responding;
use crate::shard::Shard;
use crate::shard::ShardId;
use crate::testing::{self, Rendezvous};

const PRODUCE_VERSION: i16 = 9;

/// The names of one-partition topics `t0..t{count}`.
fn topic_names(count: usize) -> Vec<String> {
    (0..count).map(|t| format!("t{t}")).collect()
}

fn one_partition_each(names: &[String]) -> Vec<(&str, i32)> {
    names.iter().map(|n| (n.as_str(), 1)).collect()
}

/// The shard of this broker that owns partition 0 of `topic`.
fn owner_of(shard: &Shard, topic: &str) -> ShardId {
    match shard.metadata.owner(topic, 0) {
        Some(Owner::Local(owner)) => owner,
        other => panic!("{topic}-0 is not served here: {other:?}"),
    }
}

/// A one-topic, one-partition, one-batch Produce of `value` with acks=1.
fn produce(topic: &str, value: &str) -> Request {
    let mut batch = net::records::BatchBuilder::new(0);
    batch.push(0, None, Some(value.as_bytes()), &[]);
    Request::Produce(ProduceRequest {
        acks: 1,
        timeout_ms: 30_000,
        topic_data: vec![TopicProduceData {
            name: topic.to_string(),
            partition_data: vec![PartitionProduceData {
                index: 0,
                records: Some(batch.build()),
            }],
        }],
        ..Default::default()
    })
}

/// Sends `requests` (each with its version) as a connection's read loop
/// does: each dispatched before the next, up to `in_flight_max` responses
/// outstanding. Returns the response bodies in request order.
async fn pipeline(
    shard: &Rc<Shard>,
    requests: Vec<(Request, i16)>,
    in_flight_max: usize,
) -> Vec<Response> {
    let peer = Rc::new(Peer {
        addr: None,
        client_id: Some("ordering-test".into()),
    });
    let mut responses = Vec::new();
    let mut in_flight = VecDeque::new();
    for (i, (request, version)) in requests.into_iter().enumerate() {
        if in_flight.len() == in_flight_max {
            responses.push(decoded(in_flight.pop_front().unwrap()).await);
        }
        let api = request.api_key();
        let header = RequestHeader::new(api, version, i as i32);
        let responding = crate::kafka::dispatch(shard, &peer, header, request).await;
        in_flight.push_back((responding, api, version));
    }
    for response in in_flight {
        responses.push(decoded(response).await);
    }
    responses
}

async fn decoded((responding, api, version): (Responding, ApiKey, i16)) -> Response {
    let frame = responding.await.expect("an answer").to_bytes();
    let frame = frame.slice(net::frame::SIZE_PREFIX_BYTES..);
    net::decode_any_response(frame, api, version).unwrap().1
}

/// A connection of produces with acks=1; every one must succeed.
async fn connection(shard: &Rc<Shard>, requests: Vec<Request>, in_flight_max: usize) {
    let requests = requests.into_iter().map(|r| (r, PRODUCE_VERSION)).collect();
    for response in pipeline(shard, requests, in_flight_max).await {
        let Response::Produce(body) = response else {
            panic!("not a produce response: {response:?}");
        };
        for partition in body.responses.iter().flat_map(|t| &t.partition_responses) {
            assert_eq!(partition.error_code, 0, "produce failed: {partition:?}");
        }
    }
}

/// The record values of `topic`-0, in log order (call on its owner).
async fn log_values(shard: &Rc<Shard>, topic: &str) -> Vec<String> {
    let partition = shard.partitions.get(topic, 0).expect("owned partition");
    let mut values = Vec::new();
    let mut offset = 0;
    while offset < partition.high_watermark() {
        let read = partition.read(offset, 1 << 20).await.unwrap();
        for chunk in &read.batches {
            for batch in net::records::batches(chunk) {
                let batch = batch.unwrap();
                for record in batch.records().unwrap() {
                    let value = record.unwrap().value.expect("a value");
                    values.push(String::from_utf8(value.to_vec()).unwrap());
                }
                offset = batch.header.last_offset() + 1;
            }
        }
    }
    values
}

/// A request that is slow between reaching its partition's owner and
/// appending (here 30 ms, as a full disk queue or a long validation might
/// make it) must not let the request sent after it on the same connection
/// append first; for a partition on the connection's own shard and on the
/// other one.
#[test]
fn a_delayed_first_request_is_not_overtaken() {
    let names = topic_names(2);
    let mut seen = Vec::new();
    for connection_shard in 0..2 {
        for topic in &names {
            let (config, _dir) = testing::config(2, "");
            let topic = topic.clone();
            let logged = Arc::new(Mutex::new(Vec::new()));
            let owned_by = Arc::new(Mutex::new(None));
            let rendezvous = Rendezvous::new(2);
            let (found, owner_found) = (logged.clone(), owned_by.clone());
            testing::run_shards(config, &one_partition_each(&names), move |shard| {
                let (topic, logged, owned_by, rendezvous) = (
                    topic.clone(),
                    found.clone(),
                    owner_found.clone(),
                    rendezvous.clone(),
                );
                async move {
                    let owner = owner_of(&shard, &topic);
                    *owned_by.lock().unwrap() = Some(owner);
                    if shard.id == owner {
                        let first = Rc::new(RefCell::new(true));
                        schedule::set(move |point| match point {
                            Point::AppendBeforeTurn if first.replace(false) => {
                                Duration::from_millis(30)
                            }
                            Point::AppendBeforeTurn => Duration::ZERO,
                        });
                    }
                    if shard.id == connection_shard {
                        let requests = vec![produce(&topic, "first"), produce(&topic, "second")];
                        connection(&shard, requests, 16).await;
                    }
                    rendezvous.wait().await;
                    if shard.id == owner {
                        *logged.lock().unwrap() = log_values(&shard, &topic).await;
                    }
                }
            });
            let owner = owned_by.lock().unwrap().expect("an owner");
            assert_eq!(
                *logged.lock().unwrap(),
                ["first", "second"],
                "connection on shard {connection_shard}, partition on shard {owner}"
            );
            seen.push(connection_shard == owner);
        }
    }
    assert!(
        seen.contains(&true) && seen.contains(&false),
        "both the local and the cross-shard path ran"
    );
}

/// One random run: `connections` connections per shard each send `requests`
/// pipelined produces spread over `topics` one-partition topics, with random
/// delays between each append's arrival and its turn, through cross-shard
/// channels of `channel_capacity`. Every connection's values must appear in
/// each partition's log in the order they were sent, none missing.
fn random_interleaving(
    seed: u64,
    connections: usize,
    requests: usize,
    topics: usize,
    channel_capacity: usize,
    delay_max_us: u64,
) {
    let names = topic_names(topics);
    let (config, _dir) = testing::config(2, "");
    let logs = Arc::new(Mutex::new(HashMap::new()));
    let rendezvous = Rendezvous::new(2);
    let found = logs.clone();
    let owned = names.clone();
    let created = one_partition_each(&names);
    testing::run_shards_with_capacity(config, &created, channel_capacity, move |shard| {
        let (logs, rendezvous, owned) = (found.clone(), rendezvous.clone(), owned.clone());
        async move {
            let mut rng = rand::rngs::SmallRng::seed_from_u64(seed ^ shard.id as u64);
            let mut delays =
                rand::rngs::SmallRng::seed_from_u64(seed.rotate_left(7) ^ shard.id as u64);
            schedule::set(move |_| Duration::from_micros(delays.gen_range(0..=delay_max_us)));
            let tasks: Vec<_> = (0..connections)
                .map(|c| {
                    let name = format!("s{}c{c}", shard.id);
                    let requests = (0..requests)
                        .map(|i| {
                            produce(
                                &format!("t{}", rng.gen_range(0..topics)),
                                &format!("{name}:{i}"),
                            )
                        })
                        .collect();
                    let in_flight_max = rng.gen_range(1..=16);
                    let shard = shard.clone();
                    glommio::spawn_local(async move {
                        connection(&shard, requests, in_flight_max).await
                    })
                })
                .collect();
            for task in tasks {
                task.await;
            }
            rendezvous.wait().await;
            for topic in owned {
                if owner_of(&shard, &topic) == shard.id {
                    let values = log_values(&shard, &topic).await;
                    logs.lock().unwrap().insert(topic, values);
                }
            }
        }
    });
    let logs = logs.lock().unwrap();
    let mut total = 0;
    for (topic, values) in logs.iter() {
        let mut last: HashMap<&str, usize> = HashMap::new();
        for value in values {
            let (connection, index) = value.split_once(':').unwrap();
            let index: usize = index.parse().unwrap();
            if let Some(&before) = last.get(connection) {
                assert!(
                    index > before,
                    "{topic}: {connection}'s request {index} appended after its request {before}"
                );
            }
            last.insert(connection, index);
        }
        total += values.len();
    }
    assert_eq!(
        total,
        2 * connections * requests,
        "every produce appended once"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn pipelined_produces_keep_their_connection_order(
        seed in any::<u64>(),
        connections in 1usize..4,
        requests in 1usize..40,
        topics in 1usize..4,
        channel_capacity in 1usize..8,
        delay_max_us in prop_oneof![Just(0u64), 1u64..3_000],
    ) {
        random_interleaving(seed, connections, requests, topics, channel_capacity, delay_max_us);
    }
}

/// Pipelined OffsetCommits of one connection to one partition apply in
/// request order: the OffsetFetch sent after them reads the last one, for a
/// connection on the coordinator's shard and on the other.
#[test]
fn pipelined_offset_commits_apply_in_request_order() {
    const COMMITS: i64 = 64;
    const VERSION: i16 = 7;
    let commit = |offset: i64| {
        Request::OffsetCommit(OffsetCommitRequest {
            group_id: "ordered-commits".into(),
            topics: vec![OffsetCommitRequestTopic {
                name: "t0".into(),
                partitions: vec![OffsetCommitRequestPartition {
                    partition_index: 0,
                    committed_offset: offset,
                    ..Default::default()
                }],
            }],
            ..Default::default()
        })
    };
    for connection_shard in 0..2 {
        let (config, _dir) = testing::config(2, "");
        let committed = Arc::new(Mutex::new(None));
        let found = committed.clone();
        testing::run_shards_with_capacity(config, &[("t0", 1)], 1, move |shard| {
            let found = found.clone();
            async move {
                if shard.id != connection_shard {
                    return;
                }
                let mut requests: Vec<_> = (1..=COMMITS).map(|o| (commit(o), VERSION)).collect();
                let fetch = OffsetFetchRequest {
                    group_id: "ordered-commits".into(),
                    topics: Some(vec![OffsetFetchRequestTopic {
                        name: "t0".into(),
                        partition_indexes: vec![0],
                    }]),
                    ..Default::default()
                };
                requests.push((Request::OffsetFetch(fetch), VERSION));
                let responses = pipeline(&shard, requests, 16).await;
                for response in &responses[..COMMITS as usize] {
                    let Response::OffsetCommit(body) = response else {
                        panic!("not a commit response: {response:?}");
                    };
                    assert_eq!(body.topics[0].partitions[0].error_code, 0, "{body:?}");
                }
                let Some(Response::OffsetFetch(fetched)) = responses.last() else {
                    panic!("no fetch response");
                };
                *found.lock().unwrap() = Some(fetched.topics[0].partitions[0].committed_offset);
            }
        });
        assert_eq!(
            *committed.lock().unwrap(),
            Some(COMMITS),
            "connection on shard {connection_shard}"
        );
    }
}
