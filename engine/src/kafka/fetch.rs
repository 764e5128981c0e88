//! Fetch: read each partition on its owner shard within the request's byte
//! budgets, and long-poll (up to max wait) until min bytes are available.
//! With no transactions the last stable offset equals the high watermark, so
//! read_committed and read_uncommitted read the same data.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::Bytes;
use net::msg::fetch_request::FetchRequest;
use net::msg::fetch_response::{FetchResponse, FetchableTopicResponse, PartitionData};
use net::{ErrorCode, RecordSet};

use super::route::{locate, ByOwner};
use crate::limits;
use crate::partition::storage_error_code;
use crate::shard::Shard;

/// One partition to read, routed to its owner.
#[derive(Clone)]
struct Part {
    topic: String,
    index: i32,
    offset: i64,
    max_bytes: usize,
}

/// What the owner read.
#[derive(Clone)]
struct Read {
    error: ErrorCode,
    high_watermark: i64,
    log_start_offset: i64,
    /// The batches as storage returned them: handed to the response
    /// encoder chunk by chunk, never joined (that would copy every byte).
    records: RecordSet,
}

impl Read {
    fn failed(error: ErrorCode) -> Self {
        Self {
            error,
            high_watermark: -1,
            log_start_offset: -1,
            records: RecordSet::new(),
        }
    }
}

pub async fn handle(shard: &Rc<Shard>, request: FetchRequest) -> FetchResponse {
    let deadline = Instant::now()
        + Duration::from_millis(
            (request.max_wait_ms.max(0) as u64).min(limits::FETCH_MAX_WAIT_CEILING_MS),
        );
    let min_bytes = request.min_bytes.max(0) as usize;
    let max_bytes = (request.max_bytes.max(0) as usize).min(limits::FETCH_RESPONSE_BYTES_CEILING);

    let mut responses: Vec<FetchableTopicResponse> = Vec::with_capacity(request.topics.len());
    let mut by_owner = ByOwner::new(shard.metadata.shard_count());
    for (t, topic) in request.topics.into_iter().enumerate() {
        let mut out = FetchableTopicResponse {
            topic: topic.topic.clone(),
            partitions: Vec::with_capacity(topic.partitions.len()),
        };
        for (p, entry) in topic.partitions.into_iter().enumerate() {
            let located = locate(shard, &topic.topic, entry.partition);
            out.partitions.push(PartitionData {
                partition_index: entry.partition,
                error_code: located.err().map_or(0, |e| e.error.code()),
                high_watermark: -1,
                last_stable_offset: -1,
                log_start_offset: -1,
                ..Default::default()
            });
            if let Ok(owner) = located {
                let part = Part {
                    topic: topic.topic.clone(),
                    index: entry.partition,
                    offset: entry.fetch_offset,
                    max_bytes: entry.partition_max_bytes.max(0) as usize,
                };
                by_owner.push(owner, (t, p), part);
            }
        }
        responses.push(out);
    }

    loop {
        let (reads, total_bytes) = read_all(shard, &by_owner, max_bytes).await;
        let any_error = reads.iter().any(|(_, r)| r.error.is_error());
        let done = total_bytes >= min_bytes
            || any_error
            || Instant::now() >= deadline
            || by_owner.is_empty();
        if done || !wait_for_data(shard, &by_owner, deadline).await {
            for ((t, p), read) in reads {
                let out = &mut responses[t].partitions[p];
                out.error_code = read.error.code();
                out.high_watermark = read.high_watermark;
                out.last_stable_offset = read.high_watermark;
                out.log_start_offset = read.log_start_offset;
                out.records = Some(read.records);
            }
            return FetchResponse {
                responses,
                ..Default::default()
            };
        }
    }
}

/// One pass over every partition, all owners at once, each within the
/// whole response budget; the answers are then cut to the budget in
/// request order, as Kafka spends it: the first partition with data keeps
/// its data whatever its size (so a batch larger than the budget cannot
/// stall a consumer), later ones only while the budget lasts (what is cut
/// comes in the next fetch).
async fn read_all(
    shard: &Rc<Shard>,
    by_owner: &ByOwner<Part>,
    max_bytes: usize,
) -> (Vec<((usize, usize), Read)>, usize) {
    let mut reads = by_owner
        .clone()
        .send(
            shard,
            move |owner, parts| read_on_owner(owner, parts, max_bytes),
            Read::failed(ErrorCode::NotLeaderOrFollower),
        )
        .await
        .join()
        .await;
    let mut used = 0usize;
    for (_, read) in &mut reads {
        let len = read.records.len();
        if used > 0 && used + len > max_bytes {
            read.records = RecordSet::new();
        } else {
            used += len;
        }
    }
    (reads, used)
}

/// Runs on the owner: reads its partitions in order within `budget` bytes.
/// Its first batch is returned whole, even over the budget (see
/// [`read_all`]).
async fn read_on_owner(shard: Rc<Shard>, parts: Vec<Part>, budget: usize) -> Vec<Read> {
    let mut out = Vec::with_capacity(parts.len());
    let mut left = budget;
    let mut any_data = false;
    for part in parts {
        let Some(partition) = shard.partitions.get(&part.topic, part.index) else {
            out.push(Read::failed(ErrorCode::UnknownTopicOrPartition));
            continue;
        };
        let want = part.max_bytes.min(left);
        let result = if want == 0 && any_data {
            Ok(None)
        } else {
            // storage returns at least one whole batch whatever `want` is.
            partition.read(part.offset, want.max(1)).await.map(Some)
        };
        let read = match result {
            Ok(Some(r)) => {
                let mut batches = r.batches;
                // Only the response's first batch may exceed the budgets
                // (storage returns one whole batch whatever it is asked);
                // later partitions get theirs in the next fetch.
                if any_data && batches.iter().map(Bytes::len).sum::<usize>() > want {
                    batches.clear();
                }
                let records = RecordSet::from_chunks(batches);
                left = left.saturating_sub(records.len());
                any_data |= !records.is_empty();
                Read {
                    error: ErrorCode::None,
                    high_watermark: r.high_watermark,
                    log_start_offset: r.log_start_offset,
                    records,
                }
            }
            Ok(None) => Read {
                error: ErrorCode::None,
                high_watermark: partition.high_watermark(),
                log_start_offset: partition.log_start_offset(),
                records: RecordSet::new(),
            },
            Err(e) => Read {
                error: storage_error_code(&e),
                high_watermark: partition.high_watermark(),
                log_start_offset: partition.log_start_offset(),
                records: RecordSet::new(),
            },
        };
        out.push(read);
    }
    out
}

/// Waits until any partition may have new data past its fetch offset, or the
/// deadline. Returns false at the deadline.
async fn wait_for_data(shard: &Rc<Shard>, by_owner: &ByOwner<Part>, deadline: Instant) -> bool {
    let now = Instant::now();
    if now >= deadline || shard.connections.is_stopping() {
        return false;
    }
    let mut waits: Vec<Pin<Box<dyn Future<Output = bool>>>> = by_owner
        .owners()
        .map(|(owner, parts)| {
            let targets: Vec<(String, i32, i64)> = parts
                .iter()
                .map(|(_, p)| (p.topic.clone(), p.index, p.offset))
                .collect();
            let shard = shard.clone();
            Box::pin(async move {
                shard
                    .call(owner, move |owner| wait_on_owner(owner, targets, deadline))
                    .await
                    .unwrap_or(false)
            }) as Pin<Box<dyn Future<Output = bool>>>
        })
        .collect();
    // Shutdown ends long polls at once, so that in-flight requests finish
    // well within the drain deadline.
    let stopping = shard.clone();
    waits.push(Box::pin(async move {
        stopping.connections.stop_signal.notified().await;
        false
    }));
    first_of(waits).await
}

/// Runs on the owner: completes when any target partition's high watermark
/// passes its offset (true), or at the deadline (false).
async fn wait_on_owner(
    shard: Rc<Shard>,
    targets: Vec<(String, i32, i64)>,
    deadline: Instant,
) -> bool {
    let mut waits: Vec<Pin<Box<dyn Future<Output = bool>>>> = Vec::with_capacity(targets.len() + 1);
    for (topic, index, offset) in targets {
        if let Some(partition) = shard.partitions.get(&topic, index) {
            if partition.high_watermark() > offset {
                return true;
            }
            waits.push(Box::pin(async move {
                partition.wait_for_data(offset).await.is_ok()
            }));
        }
    }
    let timeout = deadline.saturating_duration_since(Instant::now());
    waits.push(Box::pin(async move {
        glommio::timer::sleep(timeout).await;
        false
    }));
    first_of(waits).await
}

/// The output of whichever future completes first; the rest are dropped.
async fn first_of<T>(mut futures: Vec<Pin<Box<dyn Future<Output = T>>>>) -> T {
    assert!(!futures.is_empty(), "first_of needs a future");
    std::future::poll_fn(move |cx| {
        for f in futures.iter_mut() {
            if let Poll::Ready(v) = f.as_mut().poll(cx) {
                return Poll::Ready(v);
            }
        }
        Poll::Pending
    })
    .await
}
