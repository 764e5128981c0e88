//! The queue workload: producers writing unique values (producer number +
//! counter) with acks=all, some idempotent and some not; consumers of
//! assigned partitions reading everything; group members reading, committing
//! and resuming from their commits, now and then leaving and rejoining; and,
//! once the faults are over, the final read of every partition. Every
//! operation goes into the history as it completes.
//!
//! All of it runs on one glommio executor (the client is single-threaded);
//! the main thread steers it through [`Control`].

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use glommio::{LocalExecutorBuilder, Placement};
use net::client::Client;
use net::client::{
    ClientConfig, ClientError, ConsumedRecord, Consumer, Delivery, GroupMember, Producer,
    ProducerConfig,
};
use net::ErrorCode;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::history::{
    Commit, FetchOffsets, FinalRead, Micros, Op, Outcome, Poll, Record, Recorder, Send, Session,
    Value, FOREIGN_PRODUCER,
};
use super::limits;

/// What the workload does; see `sluice-check run --help` for the meaning
/// of each knob.
#[derive(Debug, Clone)]
pub struct WorkloadConfig {
    pub bootstrap: Vec<String>,
    pub topic: String,
    pub partitions: i32,
    pub producers: u32,
    /// Producers `0..idempotent_producers` are idempotent.
    pub idempotent_producers: u32,
    pub assign_consumers: u32,
    pub group_members: u32,
    pub group: String,
    /// Values per second over all producers.
    pub rate_per_s: u64,
    pub value_bytes: usize,
    pub seed: u64,
    pub request_timeout: Duration,
}

/// Shared between the workload's executor and the main thread.
#[derive(Default)]
pub struct Control {
    /// The topic exists and the tasks are running.
    pub ready: AtomicBool,
    /// Producers stop; consumers read up to the end offsets, then stop.
    pub draining: AtomicBool,
    pub values_acknowledged: AtomicU64,
    pub records_read: AtomicU64,
    pub sends_unknown: AtomicU64,
}

/// The value bytes of a value: the prefix says it is ours.
const VALUE_PREFIX: &[u8] = b"sc1:";

pub fn encode_value(value: Value, bytes: usize) -> Vec<u8> {
    let mut out = VALUE_PREFIX.to_vec();
    out.extend_from_slice(format!("{}:{}:", value.producer, value.counter).as_bytes());
    out.resize(out.len().max(bytes), b'.');
    out
}

/// The value a record carries; a record the workload did not write gets
/// [`FOREIGN_PRODUCER`] and a hash of its bytes.
pub fn decode_value(bytes: &[u8]) -> Value {
    let parsed = bytes.strip_prefix(VALUE_PREFIX).and_then(|rest| {
        let text = std::str::from_utf8(rest).ok()?;
        let mut fields = text.splitn(3, ':');
        let producer: u32 = fields.next()?.parse().ok()?;
        let counter: u64 = fields.next()?.parse().ok()?;
        fields.next()?;
        (producer != FOREIGN_PRODUCER).then_some(Value { producer, counter })
    });
    parsed.unwrap_or_else(|| {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        bytes.hash(&mut h);
        Value {
            producer: FOREIGN_PRODUCER,
            counter: h.finish(),
        }
    })
}

fn to_record(r: &ConsumedRecord) -> Record {
    Record {
        partition: r.partition,
        offset: r.offset,
        value: decode_value(r.value.as_deref().unwrap_or(&[])),
    }
}

/// Runs the workload on its own executor thread until the main thread
/// sets [`Control::draining`] and the consumers have read everything (or
/// the drain time is up).
pub fn run(
    config: WorkloadConfig,
    recorder: Arc<Recorder>,
    control: Arc<Control>,
) -> std::io::Result<std::thread::JoinHandle<Result<(), String>>> {
    std::thread::Builder::new()
        .name("check-workload".into())
        .spawn(move || {
            on_executor("check-workload", move || async move {
                let ctx = Rc::new(Ctx::new(config, recorder, control));
                workload(ctx).await
            })
        })
}

/// The final read of every partition, on a fresh executor and clients.
pub fn final_read(config: WorkloadConfig, recorder: Arc<Recorder>) -> Result<(), String> {
    on_executor("check-final-read", move || async move {
        let ctx = Rc::new(Ctx::new(config, recorder, Arc::new(Control::default())));
        read_everything(&ctx).await;
        ctx.result()
    })
}

fn on_executor<F, Fut>(name: &str, f: F) -> Result<(), String>
where
    F: FnOnce() -> Fut + std::marker::Send + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + 'static,
{
    LocalExecutorBuilder::new(Placement::Unbound)
        .name(name)
        .io_memory(limits::CLIENT_IO_MEMORY_BYTES)
        .spawn(f)
        .map_err(|e| format!("cannot start an executor: {e}"))?
        .join()
        .map_err(|e| format!("the executor failed: {e}"))?
}

struct Ctx {
    config: WorkloadConfig,
    topic: Rc<str>,
    recorder: Arc<Recorder>,
    control: Arc<Control>,
    /// End offsets once the producers stopped: consumers are done there.
    targets: RefCell<Option<Vec<i64>>>,
    /// How far the group has read each partition (next offset).
    group_progress: RefCell<Vec<i64>>,
    /// The drain time is up: every consumer stops where it is.
    stop: Cell<bool>,
    history_error: RefCell<Option<String>>,
}

impl Ctx {
    fn new(config: WorkloadConfig, recorder: Arc<Recorder>, control: Arc<Control>) -> Ctx {
        Ctx {
            topic: config.topic.as_str().into(),
            group_progress: RefCell::new(vec![0; config.partitions.max(0) as usize]),
            config,
            recorder,
            control,
            targets: RefCell::new(None),
            stop: Cell::new(false),
            history_error: RefCell::new(None),
        }
    }

    fn now_us(&self) -> Micros {
        self.recorder.now_us()
    }

    fn record(&self, op: Op) {
        if let Err(e) = self.recorder.record(&op) {
            // Without its history the run proves nothing: stop it (the
            // first error is the one reported).
            self.history_error
                .borrow_mut()
                .get_or_insert_with(|| format!("cannot write the history: {e}"));
            self.control.draining.store(true, Ordering::Relaxed);
            self.stop.set(true);
        }
    }

    /// The run's result so far: an error once the history could not be written.
    fn result(&self) -> Result<(), String> {
        self.history_error.borrow().clone().map_or(Ok(()), Err)
    }

    fn draining(&self) -> bool {
        self.control.draining.load(Ordering::Relaxed)
    }

    /// Whether reads up to `positions` (next offset per partition) reach
    /// the end offsets (or the drain time is up).
    fn caught_up(&self, positions: impl Fn(i32) -> i64) -> bool {
        if self.stop.get() {
            return true;
        }
        match &*self.targets.borrow() {
            None => false,
            Some(ends) => ends
                .iter()
                .enumerate()
                .all(|(p, &end)| positions(p as i32) >= end),
        }
    }

    /// A client that knows the topic, retried until it connects; `None`
    /// once `give_up` says so.
    async fn client(&self, give_up: impl Fn() -> bool) -> Option<Rc<Client>> {
        loop {
            if give_up() {
                return None;
            }
            // Routing needs the topic's metadata; a client that cannot get
            // it is no use yet.
            if let Ok(c) = self.connect().await {
                if c.refresh_metadata(std::slice::from_ref(&self.config.topic))
                    .await
                    .is_ok()
                    && c.partition_count(&self.config.topic).is_some()
                {
                    return Some(c);
                }
            }
            glommio::timer::sleep(limits::RETRY_BACKOFF).await;
        }
    }

    async fn connect(&self) -> Result<Rc<Client>, ClientError> {
        let mut config = ClientConfig::new(self.config.bootstrap[0].clone());
        config.bootstrap = self.config.bootstrap.clone();
        config.request_timeout = self.config.request_timeout;
        Client::connect(config).await
    }

    fn all_partitions(&self, offset: i64) -> Vec<(Rc<str>, i32, i64)> {
        (0..self.config.partitions)
            .map(|p| (self.topic.clone(), p, offset))
            .collect()
    }
}

async fn workload(ctx: Rc<Ctx>) -> Result<(), String> {
    create_topic(&ctx).await?;
    ctx.control.ready.store(true, Ordering::Relaxed);
    let producers: Vec<_> = (0..ctx.config.producers)
        .map(|slot| glommio::spawn_local(producer(ctx.clone(), slot)))
        .collect();
    let mut consumers: Vec<_> = (0..ctx.config.assign_consumers)
        .map(|id| glommio::spawn_local(assign_consumer(ctx.clone(), id)))
        .collect();
    for i in 0..ctx.config.group_members {
        let id = ctx.config.assign_consumers + i;
        consumers.push(glommio::spawn_local(group_member(ctx.clone(), id)));
    }
    while !ctx.draining() {
        glommio::timer::sleep(limits::CONTROL_POLL).await;
    }
    for p in producers {
        p.await;
    }
    // The drain clock runs from here: consumers read up to the end
    // offsets, or stop where they are when it runs out.
    let drain_deadline = Instant::now() + limits::DRAIN_TIMEOUT;
    {
        let ctx = ctx.clone();
        glommio::spawn_local(async move {
            glommio::timer::sleep(limits::DRAIN_TIMEOUT).await;
            ctx.stop.set(true);
        })
        .detach();
    }
    if let Some(ends) = end_offsets(&ctx, drain_deadline).await {
        *ctx.targets.borrow_mut() = Some(ends);
    }
    for c in consumers {
        c.await;
    }
    ctx.result()
}

async fn create_topic(ctx: &Ctx) -> Result<(), String> {
    let deadline = Instant::now() + limits::SETUP_TIMEOUT;
    let mut last = String::from("no attempt");
    while Instant::now() < deadline {
        // Not `ctx.client`: its metadata request would auto-create the
        // topic with the broker's default partition count.
        let client = match ctx.connect().await {
            Ok(c) => c,
            Err(e) => {
                last = e.to_string();
                glommio::timer::sleep(limits::RETRY_BACKOFF).await;
                continue;
            }
        };
        let topics = [(ctx.config.topic.clone(), ctx.config.partitions)];
        match client.create_topics(&topics, limits::SETUP_TIMEOUT).await {
            Ok(()) => {
                let have = client.partition_count(&ctx.config.topic).unwrap_or(0);
                if have != ctx.config.partitions as usize {
                    return Err(format!(
                        "topic {} exists with {have} partitions, the run needs {}",
                        ctx.config.topic, ctx.config.partitions
                    ));
                }
                return Ok(());
            }
            Err(e) => last = e.to_string(),
        }
        glommio::timer::sleep(limits::RETRY_BACKOFF).await;
    }
    Err(format!(
        "could not create topic {} within {:?}: {last}",
        ctx.config.topic,
        limits::SETUP_TIMEOUT
    ))
}

/// The end offset of every partition, retried until `deadline`.
async fn end_offsets(ctx: &Ctx, deadline: Instant) -> Option<Vec<i64>> {
    let partitions: Vec<i32> = (0..ctx.config.partitions).collect();
    while Instant::now() < deadline {
        let client = ctx.client(|| Instant::now() >= deadline).await?;
        if let Ok(ends) = client
            .list_offsets(&ctx.config.topic, &partitions, -1)
            .await
        {
            return Some(ends);
        }
        glommio::timer::sleep(limits::RETRY_BACKOFF).await;
    }
    None
}

/// Where each outstanding value of a producer was sent and when.
type Outstanding = RefCell<BTreeMap<u64, (i32, Micros)>>;

/// One producer slot: values `slot:0`, `slot:1`, ... at its share of the
/// rate. An idempotent producer whose batch fails for good cannot go on
/// (its sequence numbers have a gap the broker will refuse), so its
/// outstanding values are recorded as unknown and a new producer (a new
/// producer id) takes over the slot, as the Java client does.
async fn producer(ctx: Rc<Ctx>, slot: u32) {
    let idempotent = slot < ctx.config.idempotent_producers;
    let mut rng = SmallRng::seed_from_u64(ctx.config.seed ^ (u64::from(slot) << 32));
    let per_s = (ctx.config.rate_per_s as f64 / f64::from(ctx.config.producers.max(1))).max(1.0);
    let started = Instant::now();
    let mut counter = 0u64;
    let mut paced = 0u64;
    while !ctx.draining() {
        let Some(client) = ctx.client(|| ctx.draining()).await else {
            return;
        };
        let config = ProducerConfig {
            acks: -1,
            idempotent,
            linger: limits::PRODUCER_LINGER,
            request_timeout: ctx.config.request_timeout,
            ..Default::default()
        };
        let (producer, deliveries) = match Producer::new(client, config).await {
            Ok(p) => p,
            Err(_) => {
                // InitProducerId failed (broker down): try again shortly.
                glommio::timer::sleep(limits::RETRY_BACKOFF).await;
                continue;
            }
        };
        let outstanding: Rc<Outstanding> = Rc::default();
        let failed = Rc::new(Cell::new(false));
        let listener = glommio::spawn_local(record_deliveries(
            ctx.clone(),
            slot,
            idempotent,
            deliveries,
            outstanding.clone(),
            failed.clone(),
        ));
        // An idempotent producer cannot go on after a failed batch.
        let must_stop = || ctx.draining() || (idempotent && failed.get());
        while !must_stop() {
            glommio::timer::sleep(limits::PRODUCER_TICK).await;
            let due = (started.elapsed().as_secs_f64() * per_s) as u64;
            while paced < due && outstanding.borrow().len() < limits::OUTSTANDING_VALUES_MAX {
                let partition = rng.gen_range(0..ctx.config.partitions);
                let value = Value {
                    producer: slot,
                    counter,
                };
                outstanding
                    .borrow_mut()
                    .insert(counter, (partition, ctx.now_us()));
                let now_ms = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as i64);
                let bytes = encode_value(value, ctx.config.value_bytes);
                producer.send(&ctx.topic, partition, None, &bytes, now_ms, counter);
                counter += 1;
                paced += 1;
            }
            // Open loop with a bound: what could not be sent while the
            // broker was away is skipped, not sent in a burst later.
            paced = paced.max(due);
        }
        producer.flush();
        let settle = Instant::now() + limits::PRODUCER_SETTLE_TIMEOUT;
        while !outstanding.borrow().is_empty() && Instant::now() < settle {
            glommio::timer::sleep(limits::CONTROL_POLL).await;
        }
        drop(listener);
        abandon(&ctx, slot, idempotent, &outstanding);
    }
}

/// Records every delivery of one producer as a send operation.
async fn record_deliveries(
    ctx: Rc<Ctx>,
    slot: u32,
    idempotent: bool,
    deliveries: glommio::channels::local_channel::LocalReceiver<Delivery>,
    outstanding: Rc<Outstanding>,
    failed: Rc<Cell<bool>>,
) {
    while let Some(d) = deliveries.recv().await {
        let complete_us = ctx.now_us();
        let invoke_us = {
            let mut out = outstanding.borrow_mut();
            d.tags
                .iter()
                .filter_map(|tag| out.remove(tag).map(|(_, at)| at))
                .min()
                .unwrap_or(complete_us)
        };
        let (outcome, offset, error) = match &d.result {
            Ok(base) => (Outcome::Ok, Some(*base), None),
            Err(e) => (send_failure(e, d.retries), None, Some(e.to_string())),
        };
        match outcome {
            Outcome::Ok => ctx
                .control
                .values_acknowledged
                .fetch_add(d.tags.len() as u64, Ordering::Relaxed),
            _ => ctx.control.sends_unknown.fetch_add(1, Ordering::Relaxed),
        };
        if outcome != Outcome::Ok {
            failed.set(true);
        }
        ctx.record(Op::Send(Send {
            producer: slot,
            idempotent,
            partition: d.partition,
            counters: d.tags,
            invoke_us,
            complete_us,
            outcome,
            offset,
            retries: d.retries,
            error,
        }));
    }
}

/// Whether a failed batch certainly was not written: refused at its first
/// attempt for a reason the broker checks before appending anything.
/// Everything else (timeouts, broken connections, storage errors, any
/// failure after a retry) may have been written.
fn send_failure(e: &ClientError, retries: u32) -> Outcome {
    let refused_before_append = matches!(
        e,
        ClientError::Broker { code, .. } if matches!(
            code,
            ErrorCode::CorruptMessage
                | ErrorCode::MessageTooLarge
                | ErrorCode::RecordListTooLarge
                | ErrorCode::InvalidRecord
                | ErrorCode::UnsupportedForMessageFormat
                | ErrorCode::OutOfOrderSequenceNumber
                | ErrorCode::InvalidProducerEpoch
                | ErrorCode::InvalidRequiredAcks
        )
    );
    if retries == 0 && refused_before_append {
        Outcome::Fail
    } else {
        Outcome::Info
    }
}

/// Records the values a producer gave up on as sends of unknown outcome
/// (the client may still be retrying them), one per partition.
fn abandon(ctx: &Ctx, slot: u32, idempotent: bool, outstanding: &Outstanding) {
    let now = ctx.now_us();
    let mut by_partition: BTreeMap<i32, (Vec<u64>, Micros)> = BTreeMap::new();
    for (counter, (partition, at)) in std::mem::take(&mut *outstanding.borrow_mut()) {
        let entry = by_partition.entry(partition).or_insert((Vec::new(), at));
        entry.0.push(counter);
        entry.1 = entry.1.min(at);
    }
    for (partition, (counters, invoke_us)) in by_partition {
        ctx.control.sends_unknown.fetch_add(1, Ordering::Relaxed);
        ctx.record(Op::Send(Send {
            producer: slot,
            idempotent,
            partition,
            counters,
            invoke_us,
            complete_us: now,
            outcome: Outcome::Info,
            offset: None,
            retries: 0,
            error: Some("no delivery before the producer was abandoned".into()),
        }));
    }
}

/// Polls once and records the poll (unless it returned nothing).
async fn poll_once(
    ctx: &Ctx,
    consumer: &mut Consumer,
    id: u32,
    session: u64,
) -> Result<(), ClientError> {
    let invoke_us = ctx.now_us();
    let result = consumer.poll().await;
    let complete_us = ctx.now_us();
    match result {
        Ok(records) => {
            if !records.is_empty() {
                ctx.control
                    .records_read
                    .fetch_add(records.len() as u64, Ordering::Relaxed);
                ctx.record(Op::Poll(Poll {
                    consumer: id,
                    session,
                    invoke_us,
                    complete_us,
                    outcome: Outcome::Ok,
                    records: records.iter().map(to_record).collect(),
                    error: None,
                }));
            }
            Ok(())
        }
        Err(e) => {
            ctx.record(Op::Poll(Poll {
                consumer: id,
                session,
                invoke_us,
                complete_us,
                outcome: Outcome::Fail,
                records: Vec::new(),
                error: Some(e.to_string()),
            }));
            glommio::timer::sleep(limits::RETRY_BACKOFF).await;
            Err(e)
        }
    }
}

fn positions_of(consumer: &Consumer) -> Vec<(i32, i64)> {
    consumer
        .positions()
        .iter()
        .map(|((_, p), o)| (*p, *o))
        .collect()
}

/// A consumer of every partition from the start, in one session for as
/// long as the broker lets it (a broker restart is no reason to start
/// over: it must keep reading forward). A new session begins only after
/// an error that retrying cannot fix.
async fn assign_consumer(ctx: Rc<Ctx>, id: u32) {
    let mut session = 0u64;
    let mut at: BTreeMap<i32, i64> = BTreeMap::new();
    let done = |at: &BTreeMap<i32, i64>| ctx.caught_up(|p| at.get(&p).copied().unwrap_or(0));
    while !done(&at) {
        let Some(client) = ctx.client(|| done(&at)).await else {
            return;
        };
        let mut consumer = match Consumer::new(client, &ctx.all_partitions(-2)).await {
            Ok(c) => c,
            Err(_) => {
                glommio::timer::sleep(limits::RETRY_BACKOFF).await;
                continue;
            }
        };
        session += 1;
        ctx.record(Op::Session(Session {
            consumer: id,
            session,
            group: None,
            generation: None,
            at_us: ctx.now_us(),
            positions: positions_of(&consumer),
        }));
        while !done(&at) {
            let result = poll_once(&ctx, &mut consumer, id, session).await;
            at = positions_of(&consumer).into_iter().collect();
            if result.is_err_and(|e| !e.is_retriable()) {
                break;
            }
        }
    }
}

/// Why a group member's generation ended.
enum Next {
    /// Rejoin as the same member (rebalance, broken coordinator).
    Rejoin,
    /// Leave and join again as a new member.
    Leave,
    Done,
}

/// A member of the group: reads its partitions from the committed offsets,
/// commits as it goes, rejoins on every rebalance, and now and then leaves
/// and joins again, so that partitions change hands and every new owner
/// must resume exactly where the last commit says.
async fn group_member(ctx: Rc<Ctx>, id: u32) {
    let mut rng = SmallRng::seed_from_u64(ctx.config.seed ^ (u64::from(id) << 40) ^ 0x9e37);
    let mut session = 0u64;
    let done = || {
        let progress = ctx.group_progress.borrow();
        ctx.caught_up(|p| progress[p as usize])
    };
    let topics = [ctx.config.topic.clone()];
    'member: while !done() {
        let Some(client) = ctx.client(done).await else {
            return;
        };
        let (mut member, mut assignment) =
            match GroupMember::join(&client, &ctx.config.group, &topics).await {
                Ok(joined) => joined,
                Err(_) => {
                    glommio::timer::sleep(limits::RETRY_BACKOFF).await;
                    continue;
                }
            };
        let leave_after = Duration::from_millis(
            rng.gen_range(limits::MEMBER_STAY_MS.0..=limits::MEMBER_STAY_MS.1),
        );
        let joined_at = Instant::now();
        loop {
            let partitions = assignment
                .get(&ctx.config.topic)
                .cloned()
                .unwrap_or_default();
            session += 1;
            let next = generation(
                &ctx,
                &client,
                &member,
                id,
                session,
                &partitions,
                joined_at + leave_after,
            )
            .await;
            match next {
                Next::Rejoin => match member.rejoin(&client, &topics).await {
                    Ok(a) => assignment = a,
                    Err(_) => continue 'member,
                },
                Next::Leave => {
                    member.leave().await;
                    continue 'member;
                }
                Next::Done => {
                    member.leave().await;
                    return;
                }
            }
        }
    }
}

/// One generation of a member: fetch the committed offsets, read from
/// them, commit as it goes.
async fn generation(
    ctx: &Ctx,
    client: &Rc<Client>,
    member: &GroupMember,
    id: u32,
    session: u64,
    partitions: &[i32],
    leave_at: Instant,
) -> Next {
    let invoke_us = ctx.now_us();
    let fetched = member.committed(&ctx.config.topic, partitions).await;
    let complete_us = ctx.now_us();
    let (outcome, offsets, error) = match &fetched {
        Ok(o) => (Outcome::Ok, o.clone(), None),
        Err(e) => (Outcome::Fail, Vec::new(), Some(e.to_string())),
    };
    ctx.record(Op::FetchOffsets(FetchOffsets {
        consumer: id,
        group: ctx.config.group.clone(),
        invoke_us,
        complete_us,
        outcome,
        offsets: offsets.clone(),
        error,
    }));
    if fetched.is_err() {
        glommio::timer::sleep(limits::RETRY_BACKOFF).await;
        return Next::Rejoin;
    }
    // Nothing committed: from the start of the partition.
    let start: Vec<(Rc<str>, i32, i64)> = offsets
        .iter()
        .map(|&(p, o)| (ctx.topic.clone(), p, if o < 0 { -2 } else { o }))
        .collect();
    let mut consumer = match Consumer::new(client.clone(), &start).await {
        Ok(c) => c,
        Err(_) => {
            glommio::timer::sleep(limits::RETRY_BACKOFF).await;
            return Next::Rejoin;
        }
    };
    ctx.record(Op::Session(Session {
        consumer: id,
        session,
        group: Some(ctx.config.group.clone()),
        generation: Some(member.generation()),
        at_us: ctx.now_us(),
        positions: positions_of(&consumer),
    }));
    let mut committed: HashMap<i32, i64> = offsets.into_iter().collect();
    let mut last_commit = Instant::now();
    loop {
        let done = {
            let progress = ctx.group_progress.borrow();
            ctx.caught_up(|p| progress[p as usize])
        };
        let next = if done {
            Some(Next::Done)
        } else if member.needs_rejoin() {
            Some(Next::Rejoin)
        } else if Instant::now() >= leave_at && !ctx.draining() {
            Some(Next::Leave)
        } else {
            None
        };
        if let Some(next) = next {
            // Like a Kafka consumer giving up its partitions: commit first.
            if !commit(ctx, member, id, session, &consumer, &mut committed).await {
                return Next::Rejoin;
            }
            return next;
        }
        if partitions.is_empty() {
            glommio::timer::sleep(limits::CONTROL_POLL).await;
            continue;
        }
        let polled = poll_once(ctx, &mut consumer, id, session).await;
        {
            let mut progress = ctx.group_progress.borrow_mut();
            for (p, at) in positions_of(&consumer) {
                let slot = &mut progress[p as usize];
                *slot = (*slot).max(at);
            }
        }
        if polled.is_err_and(|e| !e.is_retriable()) {
            return Next::Rejoin;
        }
        if last_commit.elapsed() >= limits::COMMIT_INTERVAL {
            last_commit = Instant::now();
            if !commit(ctx, member, id, session, &consumer, &mut committed).await {
                return Next::Rejoin;
            }
        }
    }
}

/// Commits the positions that moved since the last commit; false if the
/// member must rejoin (fenced, or the coordinator unreachable).
async fn commit(
    ctx: &Ctx,
    member: &GroupMember,
    id: u32,
    session: u64,
    consumer: &Consumer,
    committed: &mut HashMap<i32, i64>,
) -> bool {
    let moved: Vec<(i32, i64)> = positions_of(consumer)
        .into_iter()
        .filter(|(p, o)| committed.get(p) != Some(o))
        .collect();
    if moved.is_empty() {
        return true;
    }
    let invoke_us = ctx.now_us();
    let result = member.commit(&ctx.config.topic, &moved).await;
    let complete_us = ctx.now_us();
    let answers: Vec<(i32, i64, Outcome, Option<String>)> = match &result {
        Ok(answers) => moved
            .iter()
            .zip(answers)
            .map(|(&(p, o), &(_, code))| {
                let outcome = match code {
                    ErrorCode::None => Outcome::Ok,
                    // Refused before anything is written.
                    ErrorCode::IllegalGeneration
                    | ErrorCode::UnknownMemberId
                    | ErrorCode::RebalanceInProgress => Outcome::Fail,
                    _ => Outcome::Info,
                };
                let error = (code != ErrorCode::None).then(|| format!("{code:?}"));
                (p, o, outcome, error)
            })
            .collect(),
        Err(e) => moved
            .iter()
            .map(|&(p, o)| (p, o, Outcome::Info, Some(e.to_string())))
            .collect(),
    };
    let mut ok = result.is_ok();
    for (partition, offset, outcome, error) in answers {
        if outcome == Outcome::Ok {
            committed.insert(partition, offset);
        } else {
            ok = false;
        }
        ctx.record(Op::Commit(Commit {
            consumer: id,
            session,
            group: ctx.config.group.clone(),
            generation: member.generation(),
            partition,
            offset,
            invoke_us,
            complete_us,
            outcome,
            error,
        }));
    }
    ok
}

/// Reads every partition from its start to its end offset.
async fn read_everything(ctx: &Ctx) {
    let deadline = Instant::now() + limits::FINAL_READ_TIMEOUT;
    for partition in 0..ctx.config.partitions {
        let invoke_us = ctx.now_us();
        let mut read = FinalRead {
            partition,
            invoke_us,
            complete_us: invoke_us,
            start_offset: -1,
            end_offset: -1,
            complete: false,
            records: Vec::new(),
            error: None,
        };
        if let Err(e) = read_partition(ctx, &mut read, deadline).await {
            read.error = Some(e);
        }
        read.complete_us = ctx.now_us();
        ctx.record(Op::FinalRead(read));
    }
}

async fn read_partition(ctx: &Ctx, read: &mut FinalRead, deadline: Instant) -> Result<(), String> {
    let expired = || Instant::now() >= deadline;
    let mut last_error = "the final read's time ran out".to_string();
    while !expired() {
        let Some(client) = ctx.client(expired).await else {
            break;
        };
        let p = read.partition;
        let bounds = async {
            let start = client.list_offsets(&ctx.config.topic, &[p], -2).await?[0];
            let end = client.list_offsets(&ctx.config.topic, &[p], -1).await?[0];
            Ok::<_, ClientError>((start, end))
        };
        let (start, end) = match bounds.await {
            Ok(b) => b,
            Err(e) => {
                last_error = e.to_string();
                glommio::timer::sleep(limits::RETRY_BACKOFF).await;
                continue;
            }
        };
        (read.start_offset, read.end_offset) = (start, end);
        read.records.clear();
        let mut consumer = match Consumer::new(client, &[(ctx.topic.clone(), p, start)]).await {
            Ok(c) => c,
            Err(e) => {
                last_error = e.to_string();
                continue;
            }
        };
        let position = |c: &Consumer| c.positions().values().next().copied().unwrap_or(end);
        while position(&consumer) < end && !expired() {
            match consumer.poll().await {
                Ok(records) => read.records.extend(records.iter().map(to_record)),
                Err(e) => {
                    last_error = e.to_string();
                    glommio::timer::sleep(limits::RETRY_BACKOFF).await;
                }
            }
        }
        if position(&consumer) >= end {
            read.complete = true;
            return Ok(());
        }
    }
    Err(last_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_anything_else_is_foreign() {
        let v = Value {
            producer: 3,
            counter: 12_345,
        };
        let bytes = encode_value(v, 64);
        assert_eq!(bytes.len(), 64);
        assert_eq!(decode_value(&bytes), v);
        assert_eq!(decode_value(&encode_value(v, 0)), v, "no padding needed");
        for other in [&b"hello"[..], b"sc1:3:x:", b"sc1:3:12", b""] {
            assert_eq!(decode_value(other).producer, FOREIGN_PRODUCER, "{other:?}");
        }
        assert_ne!(decode_value(b"a").counter, decode_value(b"b").counter);
    }
}
