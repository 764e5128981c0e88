//! The producer: per-partition batching with linger and size limits, one
//! Produce request per leader and flush, acks 0/1/all, idempotence
//! (producer id + per-partition sequences), retries of retriable errors.
//!
//! `send` only appends to a partition's open batch; batches are closed when
//! full or when the linger timer finds them old enough, and every closed
//! batch ends as exactly one [`Delivery`] on the delivery channel, success
//! or failure. The application bounds what it has outstanding (the load
//! generator counts messages and bytes in flight), which bounds the
//! producer's memory.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use glommio::channels::local_channel::{self, LocalReceiver, LocalSender};
use glommio::task::JoinHandle;

use super::cluster::Client;
use super::compression::{compress, Codec};
use super::error::{ClientError, ClientResult};
use super::limits;
use crate::error::ErrorCode;
use crate::msg::produce_request::{PartitionProduceData, TopicProduceData};
use crate::msg::ProduceRequest;
use crate::records::BatchBuilder;

#[derive(Debug, Clone)]
pub struct ProducerConfig {
    /// 0, 1 or -1 (all).
    pub acks: i16,
    pub linger: Duration,
    /// A batch is closed once its records reach this many bytes.
    pub batch_bytes_max: usize,
    pub codec: Codec,
    pub idempotent: bool,
    /// Broker-side timeout of a Produce request.
    pub request_timeout: Duration,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        Self {
            acks: -1,
            linger: Duration::from_millis(1),
            batch_bytes_max: 128 * 1024,
            codec: Codec::None,
            idempotent: false,
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// The fate of one batch.
#[derive(Debug)]
pub struct Delivery {
    pub topic: Rc<str>,
    pub partition: i32,
    /// The application's tag of every record, in order.
    pub tags: Vec<u64>,
    /// Uncompressed value bytes of the records.
    pub value_bytes: usize,
    /// Base offset assigned by the broker (-1 with acks=0), or why the batch
    /// failed for good.
    pub result: ClientResult<i64>,
    /// Request written until response read, of the last attempt; `None`
    /// with acks=0.
    pub request_latency: Option<Duration>,
    /// Attempts after the first.
    pub retries: u32,
}

struct OpenBatch {
    builder: BatchBuilder,
    tags: Vec<u64>,
    value_bytes: usize,
    encoded_bytes: usize,
    opened_at: Instant,
}

#[derive(Default)]
struct PartitionState {
    open: Option<OpenBatch>,
    /// Next base sequence (idempotent producing).
    next_sequence: i32,
}

struct ClosedBatch {
    topic: Rc<str>,
    partition: i32,
    bytes: Bytes,
    tags: Vec<u64>,
    value_bytes: usize,
}

pub struct Producer {
    client: Rc<Client>,
    config: ProducerConfig,
    producer_id: i64,
    producer_epoch: i16,
    partitions: RefCell<HashMap<(Rc<str>, i32), PartitionState>>,
    deliveries: LocalSender<Delivery>,
    /// Closed batches in the order they were closed, for the sender task.
    /// Bounded by what the application keeps in flight.
    outbox: LocalSender<Vec<ClosedBatch>>,
    /// Requests queued in the outbox and not yet written. While the sender
    /// is behind, lingering batches stay open and keep filling (as Kafka's
    /// accumulator does) instead of queueing as many small requests.
    queued: std::cell::Cell<usize>,
    tasks: RefCell<Vec<JoinHandle<()>>>,
}

impl Producer {
    /// A producer and the channel its deliveries arrive on.
    pub async fn new(
        client: Rc<Client>,
        config: ProducerConfig,
    ) -> ClientResult<(Rc<Producer>, LocalReceiver<Delivery>)> {
        if config.idempotent && config.acks != -1 {
            return Err(ClientError::Config(
                "idempotent producing needs acks=all".into(),
            ));
        }
        if ![0, 1, -1].contains(&config.acks) {
            return Err(ClientError::Config(format!(
                "acks must be 0, 1 or -1, not {}",
                config.acks
            )));
        }
        let (producer_id, producer_epoch) = if config.idempotent {
            client.init_producer_id().await?
        } else {
            (-1, -1)
        };
        let (tx, rx) = local_channel::new_bounded(limits::DELIVERY_QUEUE_MAX);
        let (outbox, outbox_rx) = local_channel::new_unbounded();
        let producer = Rc::new(Producer {
            client,
            config,
            producer_id,
            producer_epoch,
            partitions: RefCell::new(HashMap::new()),
            deliveries: tx,
            outbox,
            queued: std::cell::Cell::new(0),
            tasks: RefCell::new(Vec::new()),
        });
        // One task writes every request, so requests reach the wire in the
        // order their batches were closed (sequence order per partition).
        let weak = Rc::downgrade(&producer);
        let sender = glommio::spawn_local(async move {
            while let Some(batches) = outbox_rx.recv().await {
                let Some(p) = weak.upgrade() else { return };
                p.clone().dispatch(batches, 0).await;
                p.queued.set(p.queued.get() - 1);
            }
        })
        .detach();
        let weak = Rc::downgrade(&producer);
        let tick = producer.config.linger.max(Duration::from_micros(200));
        let task = glommio::spawn_local(async move {
            loop {
                glommio::timer::sleep(tick).await;
                let Some(p) = weak.upgrade() else { return };
                if p.queued.get() == 0 {
                    p.flush_older_than(p.config.linger);
                }
            }
        })
        .detach();
        producer.tasks.borrow_mut().extend([sender, task]);
        Ok((producer, rx))
    }

    /// Appends a record to `topic`-`partition`'s open batch; `tag` comes back
    /// in the batch's [`Delivery`].
    pub fn send(
        self: &Rc<Self>,
        topic: &Rc<str>,
        partition: i32,
        key: Option<&[u8]>,
        value: &[u8],
        timestamp_ms: i64,
        tag: u64,
    ) {
        let record_bytes = value.len() + key.map_or(0, <[u8]>::len) + 24;
        let full = {
            let mut parts = self.partitions.borrow_mut();
            let state = parts.entry((topic.clone(), partition)).or_default();
            let open = state.open.get_or_insert_with(|| OpenBatch {
                builder: BatchBuilder::new(timestamp_ms),
                tags: Vec::new(),
                value_bytes: 0,
                encoded_bytes: storage::batch::HEADER_BYTES,
                opened_at: Instant::now(),
            });
            open.builder.push(timestamp_ms, key, Some(value), &[]);
            open.tags.push(tag);
            open.value_bytes += value.len();
            open.encoded_bytes += record_bytes;
            open.encoded_bytes >= self.config.batch_bytes_max
                || open.tags.len() >= limits::BATCH_RECORDS_MAX
        };
        if full {
            self.flush_partition(topic, partition);
        }
    }

    /// Closes and sends every open batch.
    pub fn flush(self: &Rc<Self>) {
        self.flush_older_than(Duration::ZERO);
    }

    fn flush_older_than(self: &Rc<Self>, age: Duration) {
        let now = Instant::now();
        let due: Vec<(Rc<str>, i32)> = self
            .partitions
            .borrow()
            .iter()
            .filter(|(_, s)| {
                s.open
                    .as_ref()
                    .is_some_and(|o| now.duration_since(o.opened_at) >= age)
            })
            .map(|(k, _)| k.clone())
            .collect();
        let mut closed = Vec::with_capacity(due.len());
        for (topic, partition) in due {
            closed.extend(self.close(&topic, partition));
        }
        self.send_closed(closed);
    }

    fn flush_partition(self: &Rc<Self>, topic: &Rc<str>, partition: i32) {
        let closed = self.close(topic, partition).into_iter().collect();
        self.send_closed(closed);
    }

    /// Seals a partition's open batch: producer fields, sequence, codec.
    fn close(&self, topic: &Rc<str>, partition: i32) -> Option<ClosedBatch> {
        let mut parts = self.partitions.borrow_mut();
        let state = parts.get_mut(&(topic.clone(), partition))?;
        let open = state.open.take()?;
        let count = open.tags.len() as i32;
        let builder = if self.config.idempotent {
            let seq = state.next_sequence;
            // Sequences wrap at i32::MAX as in Kafka.
            state.next_sequence = seq.wrapping_add(count) & i32::MAX;
            open.builder
                .producer(self.producer_id, self.producer_epoch, seq, false)
        } else {
            open.builder
        };
        let bytes = compress(builder.build(), self.config.codec);
        Some(ClosedBatch {
            topic: topic.clone(),
            partition,
            bytes,
            tags: open.tags,
            value_bytes: open.value_bytes,
        })
    }

    /// Groups closed batches by leader and sends one request per leader.
    fn send_closed(self: &Rc<Self>, closed: Vec<ClosedBatch>) {
        if closed.is_empty() {
            return;
        }
        let mut by_leader: HashMap<Option<i32>, Vec<ClosedBatch>> = HashMap::new();
        for b in closed {
            by_leader
                .entry(self.client.leader_id(&b.topic, b.partition))
                .or_default()
                .push(b);
        }
        for (_, batches) in by_leader {
            // Unbounded channel: sending fails only if the sender task is
            // gone, i.e. the producer is being dropped.
            if self.outbox.try_send(batches).is_ok() {
                self.queued.set(self.queued.get() + 1);
            }
        }
    }

    /// Writes the request for `batches` and hands its response to a task of
    /// its own, so the next request can be written meanwhile.
    async fn dispatch(self: Rc<Self>, batches: Vec<ClosedBatch>, retries: u32) {
        let (topic, partition) = (batches[0].topic.clone(), batches[0].partition);
        let conn = match self.client.leader(&topic, partition).await {
            Ok(c) => c,
            Err(e) => return self.retry_or_fail(batches, retries, e).await,
        };
        let mut topics: Vec<TopicProduceData> = Vec::new();
        for b in &batches {
            let data = PartitionProduceData {
                index: b.partition,
                records: Some(b.bytes.clone()),
            };
            match topics.iter_mut().find(|t| *t.name == *b.topic) {
                Some(t) => t.partition_data.push(data),
                None => topics.push(TopicProduceData {
                    name: b.topic.to_string(),
                    partition_data: vec![data],
                }),
            }
        }
        let request = ProduceRequest {
            transactional_id: None,
            acks: self.config.acks,
            timeout_ms: self
                .config
                .request_timeout
                .as_millis()
                .min(i32::MAX as u128) as i32,
            topic_data: topics,
        };
        if self.config.acks == 0 {
            let result = conn.send_only(&request).await;
            for b in batches {
                self.deliver(b, result.clone().map(|_| -1), None, retries)
                    .await;
            }
            return;
        }
        let in_flight = match conn.start(&request, self.config.request_timeout).await {
            Ok(f) => f,
            Err(e) => return self.retry_or_fail(batches, retries, e).await,
        };
        glommio::spawn_local(async move {
            let reply = in_flight.wait().await;
            self.handle_reply(conn.addr(), batches, retries, reply)
                .await;
        })
        .detach();
    }

    async fn handle_reply(
        self: Rc<Self>,
        addr: std::net::SocketAddr,
        batches: Vec<ClosedBatch>,
        retries: u32,
        reply: ClientResult<(crate::msg::ProduceResponse, Duration)>,
    ) {
        let (reply, latency) = match reply {
            Ok(r) => r,
            Err(e) => return self.retry_or_fail(batches, retries, e).await,
        };
        let mut retry = Vec::new();
        let mut retry_error = None;
        for b in batches {
            let answer = reply
                .responses
                .iter()
                .filter(|t| *t.name == *b.topic)
                .flat_map(|t| t.partition_responses.iter())
                .find(|p| p.index == b.partition);
            let result = match answer {
                None => Err(ClientError::Decode {
                    addr,
                    api: crate::api::ApiKey::Produce,
                    reason: format!("no answer for {}-{}", b.topic, b.partition),
                }),
                Some(p) => match ErrorCode::from(p.error_code) {
                    ErrorCode::None => Ok(p.base_offset),
                    // A retried batch the broker already has: success.
                    ErrorCode::DuplicateSequenceNumber => Ok(p.base_offset),
                    code => Err(ClientError::Broker {
                        context: format!("producing to {}-{}", b.topic, b.partition),
                        code,
                    }),
                },
            };
            match result {
                Err(e) if e.is_retriable() && retries < limits::PRODUCE_RETRIES_MAX => {
                    retry_error = Some(e);
                    retry.push(b);
                }
                result => self.deliver(b, result, Some(latency), retries).await,
            }
        }
        if let Some(e) = retry_error {
            self.retry_or_fail(retry, retries, e).await;
        }
    }

    async fn retry_or_fail(
        self: Rc<Self>,
        batches: Vec<ClosedBatch>,
        retries: u32,
        error: ClientError,
    ) {
        if !error.is_retriable() || retries >= limits::PRODUCE_RETRIES_MAX {
            for b in batches {
                self.deliver(b, Err(error.clone()), None, retries).await;
            }
            return;
        }
        tracing::debug!(%error, retries, "retrying produce");
        glommio::timer::sleep(limits::RETRY_BACKOFF).await;
        let topics: Vec<String> = batches.iter().map(|b| b.topic.to_string()).collect();
        // A failed refresh shows up again as the next attempt's error.
        let _ = self.client.refresh_metadata(&topics).await;
        Box::pin(self.dispatch(batches, retries + 1)).await;
    }

    async fn deliver(
        &self,
        b: ClosedBatch,
        result: ClientResult<i64>,
        request_latency: Option<Duration>,
        retries: u32,
    ) {
        let d = Delivery {
            topic: b.topic,
            partition: b.partition,
            tags: b.tags,
            value_bytes: b.value_bytes,
            result,
            request_latency,
            retries,
        };
        // The receiver is gone only when the application stopped listening.
        let _ = self.deliveries.send(d).await;
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        for t in self.tasks.borrow_mut().drain(..) {
            t.cancel();
        }
    }
}

/// Kafka's default partitioner for keyed records: murmur2 of the key,
/// made positive, modulo the partition count.
pub fn partition_for_key(key: &[u8], partitions: u32) -> i32 {
    assert!(partitions > 0);
    ((murmur2(key) & 0x7fff_ffff) % partitions) as i32
}

/// The 32-bit murmur2 variant the Java client uses (seed 0x9747b28c).
pub fn murmur2(data: &[u8]) -> u32 {
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let mut h: u32 = 0x9747_b28c ^ data.len() as u32;
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let rest = chunks.remainder();
    if rest.len() >= 3 {
        h ^= (rest[2] as u32) << 16;
    }
    if rest.len() >= 2 {
        h ^= (rest[1] as u32) << 8;
    }
    if !rest.is_empty() {
        h ^= rest[0] as u32;
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur2_matches_the_java_client() {
        // Values from Kafka's UtilsTest.testMurmur2 (as signed i32 there).
        let cases: [(&[u8], i32); 4] = [
            (b"21", -973932308),
            (b"foobar", -790332482),
            (b"a-little-bit-long-string", -985981536),
            (b"a-little-bit-longer-string", -1486304829),
        ];
        for (input, want) in cases {
            assert_eq!(
                murmur2(input) as i32,
                want,
                "{}",
                String::from_utf8_lossy(input)
            );
        }
        assert!(partition_for_key(b"foobar", 7) < 7);
    }
}
