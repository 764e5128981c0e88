//! One worker: a pinned glommio executor running some producers and
//! consumers. It owns its client, histograms and counters; it reports to the
//! coordinator only by sending one [`Snapshot`] per interval.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::OnceLock;
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant, SystemTime};

use glommio::sync::Semaphore;
use net::client::{
    partition_for_key, Assignment, Client, ClientConfig, Codec, Consumer, Delivery, GroupMember,
    Producer, ProducerConfig,
};

use crate::generate::{read_stamp, stamp, MessageGenerator, Pacer};
use crate::limits;
use crate::stats::{Counts, Latencies, Metric, Snapshot};
use crate::workload::{Compression, ConsumerAssignment, Workload};

/// What every worker shares with the coordinator and the other workers:
/// flags and counters that decide when to stop, never measurements.
pub struct Control {
    /// Time zero of the run: set when the workers are ready (connected,
    /// topics routed, groups joined), so that set-up time never counts as
    /// warm-up or measured time. Read it only through [`Control::origin`].
    pub origin: OnceLock<(Instant, SystemTime)>,
    /// Set by the coordinator (end of run, Ctrl-C, stall): stop producing.
    pub stop: AtomicBool,
    /// Set once consumers should give up waiting for the rest.
    pub stop_consumers: AtomicBool,
    pub producers_running: AtomicUsize,
    /// Acknowledged messages per topic, and consumed per (topic, group).
    pub acked_per_topic: Vec<AtomicU64>,
    pub consumed_per_group: Vec<AtomicU64>,
    /// First fatal error of any worker.
    pub fatal: Mutex<Option<String>>,
    /// Latest error of any kind, for the report of a stalled run.
    pub last_error: Mutex<Option<String>>,
    /// Lets consumers find their start offsets before anyone produces.
    pub ready: Barrier,
}

impl Control {
    pub fn fail(&self, reason: String) {
        let mut f = self
            .fatal
            .lock()
            .expect("no worker panics while holding it");
        if f.is_none() {
            *f = Some(reason);
        }
        self.stop.store(true, Ordering::SeqCst);
        self.stop_consumers.store(true, Ordering::SeqCst);
    }

    pub fn note_error(&self, reason: String) {
        *self
            .last_error
            .lock()
            .expect("no worker panics while holding it") = Some(reason);
    }

    /// Time zero (monotonic and wall clock); the first caller after the
    /// start barrier fixes it.
    pub fn origin(&self) -> (Instant, SystemTime) {
        *self
            .origin
            .get_or_init(|| (Instant::now(), SystemTime::now()))
    }

    pub fn now_ns(&self) -> u64 {
        self.origin().0.elapsed().as_nanos() as u64
    }

    /// Wall-clock time of the origin in ms since the epoch (record timestamps).
    pub fn wall_origin_ms(&self) -> i64 {
        self.origin()
            .1
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as i64
    }
}

/// A producer task's identity.
#[derive(Debug, Clone, Copy)]
pub struct ProducerSpec {
    pub index: u32,
    pub topic: u32,
    /// Messages this producer sends, if the run is bounded by count.
    pub quota: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct ConsumerSpec {
    pub topic: u32,
    pub group: u32,
    pub partitions: Vec<i32>,
}

pub struct WorkerPlan {
    pub index: usize,
    pub bootstrap: String,
    pub workload: Workload,
    pub producers: Vec<ProducerSpec>,
    pub consumers: Vec<ConsumerSpec>,
    /// When producing stops (ns since origin), for duration-bounded runs.
    pub produce_until_ns: Option<u64>,
    /// Client request timeout: a broker silent for this long fails requests.
    pub request_timeout: Duration,
    /// Makes consumer group ids unique per run, so that members left over
    /// from an earlier run cannot delay this one's rebalance.
    pub group_suffix: u64,
}

type Stats = Rc<RefCell<(Latencies, Counts)>>;

fn us(ns: u64) -> u64 {
    ns / 1_000
}

/// Runs a worker to completion on the current (glommio) thread.
pub async fn run_worker(plan: WorkerPlan, control: Arc<Control>, snapshots: SyncSender<Snapshot>) {
    let stats: Stats = Rc::new(RefCell::new(Default::default()));
    let setup = setup(&plan).await;
    // Everyone waits here, failed or not, so that nobody blocks forever;
    // the run's clock starts when all are through.
    control.ready.wait();
    control.origin();
    let ticker = glommio::spawn_local(report_intervals(
        plan.index,
        stats.clone(),
        control.clone(),
        snapshots.clone(),
    ))
    .detach();
    let (client, consumers) = match setup {
        Ok(x) => x,
        Err(e) => {
            control.fail(e);
            control
                .producers_running
                .fetch_sub(plan.producers.len(), Ordering::SeqCst);
            finish(plan.index, &stats, &control, &snapshots, ticker).await;
            return;
        }
    };

    let mut tasks = Vec::new();
    for (spec, consumer) in plan.consumers.iter().cloned().zip(consumers) {
        tasks.push(
            glommio::spawn_local(consume(
                spec,
                consumer,
                plan.workload.clone(),
                stats.clone(),
                control.clone(),
            ))
            .detach(),
        );
    }
    for spec in plan.producers.iter().copied() {
        let task = produce(
            spec,
            client.clone(),
            plan.workload.clone(),
            plan.produce_until_ns,
            stats.clone(),
            control.clone(),
        );
        tasks.push(glommio::spawn_local(task).detach());
    }
    for t in tasks {
        t.await;
    }
    finish(plan.index, &stats, &control, &snapshots, ticker).await;
}

/// A consumer and, in group mode, its membership and where each partition
/// of its topic started (for partitions it gets in a later rebalance).
pub struct GroupedConsumer {
    /// Its own client: a broker answers a connection's requests in order,
    /// so a Fetch long poll on a shared connection would hold back the
    /// producers' answers (and other consumers') for up to its max wait.
    client: Rc<Client>,
    consumer: Consumer,
    member: Option<GroupMember>,
    topic: Rc<str>,
    start: BTreeMap<i32, i64>,
}

/// A consumer of `assignment`: partitions it already read continue at
/// `positions`, new ones at `start`.
async fn start_consumer(
    client: &Rc<Client>,
    topic: &Rc<str>,
    assignment: &Assignment,
    start: &BTreeMap<i32, i64>,
    positions: &BTreeMap<(Rc<str>, i32), i64>,
) -> Result<Consumer, net::client::ClientError> {
    let parts: Vec<_> = assignment
        .get(&**topic)
        .into_iter()
        .flatten()
        .map(|&p| {
            let at = positions
                .get(&(topic.clone(), p))
                .or(start.get(&p))
                .copied()
                .unwrap_or(-1);
            (topic.clone(), p, at)
        })
        .collect();
    Consumer::new(client.clone(), &parts).await
}

async fn setup(plan: &WorkerPlan) -> Result<(Rc<Client>, Vec<GroupedConsumer>), String> {
    let connect = || async {
        let mut config = ClientConfig::new(plan.bootstrap.clone());
        config.request_timeout = plan.request_timeout;
        Client::connect(config)
            .await
            .map_err(|e| format!("worker {}: {e}", plan.index))
    };
    // A consumer's own client, routed for its topic (which the producers'
    // client has made sure exists).
    let connect_for = |topic: String| async move {
        let client = connect().await?;
        client
            .refresh_metadata(&[topic])
            .await
            .map_err(|e| format!("metadata: {e}"))?;
        Ok::<_, String>(client)
    };
    let client = connect().await?;
    // Every topic this worker touches, so that producers can route at once.
    let mut topics: Vec<String> = plan
        .producers
        .iter()
        .map(|p| plan.workload.topic_name(p.topic))
        .collect();
    topics.extend(
        plan.consumers
            .iter()
            .map(|c| plan.workload.topic_name(c.topic)),
    );
    topics.sort();
    topics.dedup();
    client
        .refresh_metadata(&topics)
        .await
        .map_err(|e| format!("metadata: {e}"))?;
    let mut consumers = Vec::new();
    match plan.workload.consumer_assignment {
        ConsumerAssignment::Static => {
            for spec in &plan.consumers {
                let topic: Rc<str> = plan.workload.topic_name(spec.topic).into();
                let assignment: Vec<_> = spec
                    .partitions
                    .iter()
                    .map(|&p| (topic.clone(), p, -1))
                    .collect();
                let consumer_client = connect_for(topic.to_string()).await?;
                let consumer = Consumer::new(consumer_client.clone(), &assignment)
                    .await
                    .map_err(|e| format!("consumer start: {e}"))?;
                consumers.push(GroupedConsumer {
                    client: consumer_client,
                    consumer,
                    member: None,
                    topic,
                    start: BTreeMap::new(),
                });
            }
        }
        ConsumerAssignment::Group => {
            // All members of this worker join at once: joined one after the
            // other, each would wait out the coordinator's rebalance delay
            // and then be rebalanced by the next.
            // Connected first, so that no member joins while the next is
            // still connecting.
            let mut clients = Vec::new();
            for spec in &plan.consumers {
                clients.push(connect_for(plan.workload.topic_name(spec.topic)).await?);
            }
            let mut joins = Vec::new();
            for (spec, client) in plan.consumers.iter().zip(&clients) {
                let topic = plan.workload.topic_name(spec.topic);
                let group = format!("{}-g{}-{}", topic, spec.group, plan.group_suffix);
                let client = client.clone();
                joins.push(
                    glommio::spawn_local(async move {
                        GroupMember::join(&client, &group, &[topic]).await
                    })
                    .detach(),
                );
            }
            for ((spec, join), client) in plan.consumers.iter().zip(joins).zip(clients) {
                let (member, assignment) = join
                    .await
                    .ok_or("group join task cancelled")?
                    .map_err(|e| format!("joining the consumer group: {e} (--consumer-assignment static works without groups)"))?;
                let topic: Rc<str> = plan.workload.topic_name(spec.topic).into();
                let partitions: Vec<i32> = (0..plan.workload.partitions_per_topic as i32).collect();
                let ends = client
                    .list_offsets(&topic, &partitions, -1)
                    .await
                    .map_err(|e| format!("end offsets: {e}"))?;
                let start: BTreeMap<i32, i64> = partitions.into_iter().zip(ends).collect();
                let consumer =
                    start_consumer(&client, &topic, &assignment, &start, &BTreeMap::new())
                        .await
                        .map_err(|e| format!("consumer start: {e}"))?;
                consumers.push(GroupedConsumer {
                    client,
                    consumer,
                    member: Some(member),
                    topic,
                    start,
                });
            }
        }
    }
    Ok((client, consumers))
}

async fn finish(
    index: usize,
    stats: &Stats,
    control: &Control,
    snapshots: &SyncSender<Snapshot>,
    ticker: glommio::task::JoinHandle<()>,
) {
    ticker.cancel();
    let (latencies, counts) = stats.take();
    let snapshot = Snapshot {
        worker: index,
        interval: control.now_ns() / 1_000_000 / limits::INTERVAL_MS,
        latencies,
        counts,
        last: true,
    };
    // The last snapshot must arrive; the coordinator drains the queue
    // continuously, so waiting briefly for space is safe.
    let mut pending = snapshot;
    loop {
        match snapshots.try_send(pending) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => return,
            Err(TrySendError::Full(s)) => {
                pending = s;
                glommio::timer::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Ships the stats of each finished interval to the coordinator. If the
/// queue is full the snapshot is carried into the next one (never lost,
/// never blocking the worker).
async fn report_intervals(
    worker: usize,
    stats: Stats,
    control: Arc<Control>,
    snapshots: SyncSender<Snapshot>,
) {
    let mut carry: Option<Snapshot> = None;
    let mut next = 1u64;
    loop {
        let due = control.origin().0 + Duration::from_millis(next * limits::INTERVAL_MS);
        glommio::timer::sleep(due.saturating_duration_since(Instant::now())).await;
        let (latencies, counts) = stats.take();
        let mut s = Snapshot {
            worker,
            interval: next - 1,
            latencies,
            counts,
            last: false,
        };
        if let Some(old) = carry.take() {
            s.latencies.merge(&old.latencies);
            s.counts.merge(&old.counts);
        }
        if let Err(TrySendError::Full(s)) = snapshots.try_send(s) {
            carry = Some(s);
        }
        next = control.now_ns() / 1_000_000 / limits::INTERVAL_MS + 1;
    }
}

fn codec(c: Compression) -> Codec {
    match c {
        Compression::None => Codec::None,
        Compression::Lz4 => Codec::Lz4,
        Compression::Zstd => Codec::Zstd,
    }
}

async fn produce(
    spec: ProducerSpec,
    client: Rc<Client>,
    w: Workload,
    until_ns: Option<u64>,
    stats: Stats,
    control: Arc<Control>,
) {
    let result = produce_inner(spec, client, &w, until_ns, stats, &control).await;
    if let Err(e) = result {
        control.fail(e);
    }
    control.producers_running.fetch_sub(1, Ordering::SeqCst);
}

async fn produce_inner(
    spec: ProducerSpec,
    client: Rc<Client>,
    w: &Workload,
    until_ns: Option<u64>,
    stats: Stats,
    control: &Arc<Control>,
) -> Result<(), String> {
    let config = ProducerConfig {
        acks: w.acks.wire(),
        linger: Duration::from_millis(w.linger_ms),
        batch_bytes_max: w.batch_bytes_max,
        codec: codec(w.compression),
        idempotent: w.idempotent,
        ..Default::default()
    };
    let (producer, deliveries) = Producer::new(client, config)
        .await
        .map_err(|e| format!("producer {}: {e}", spec.index))?;
    let topic: Rc<str> = w.topic_name(spec.topic).into();
    let partitions = w.partitions_per_topic;
    let in_flight = Rc::new(Semaphore::new(w.in_flight_max as u64));
    let in_flight_bytes = Rc::new(Semaphore::new(limits::IN_FLIGHT_BYTES_MAX as u64));

    // Deliveries: latency per record, counts, and releasing the bounds.
    let outstanding = Rc::new(std::cell::Cell::new(0u64));
    let collector = {
        let (stats, control, in_flight, in_flight_bytes, outstanding) = (
            stats.clone(),
            control.clone(),
            in_flight.clone(),
            in_flight_bytes.clone(),
            outstanding.clone(),
        );
        let topic_index = spec.topic as usize;
        glommio::spawn_local(async move {
            while let Some(d) = deliveries.recv().await {
                let now = control.now_ns();
                let n = d.tags.len() as u64;
                record_delivery(&d, now, &stats, &control, topic_index);
                in_flight.signal(n);
                in_flight_bytes.signal(d.value_bytes as u64);
                outstanding.set(outstanding.get() - n);
            }
        })
        .detach()
    };

    let mut generator = MessageGenerator::new(w, spec.index as u64 + 1);
    let mut pacer = w
        .producer_messages_per_sec()
        // The schedule starts at the run's time zero, not when this producer
        // got ready: its set-up time counts against it, like any delay.
        .map(|rate| Pacer::new(0, rate));
    let mut value = Vec::with_capacity(w.message_size.bounds().1);
    let mut key_buf = String::new();
    // Unkeyed records stick to one partition for about a batch, like
    // Kafka's sticky partitioner, so batches fill up.
    let sticky_span = (w.batch_bytes_max / w.message_size.mean().max(1.0) as usize).max(1) as u64;
    let mut sent = 0u64;
    let wall_origin_ms = control.wall_origin_ms();
    loop {
        if control.stop.load(Ordering::Relaxed) || spec.quota.is_some_and(|q| sent >= q) {
            break;
        }
        let due_ns = match &pacer {
            Some(p) => {
                let due = p.next_due_ns();
                let now = control.now_ns();
                // The run ends on time even when the producer is behind; the
                // messages it never got to are reported as missed.
                if until_ns.is_some_and(|u| due >= u || now >= u) {
                    break;
                }
                // Sleeping costs ~50 us of timer slack; only sleep for gaps
                // worth it, otherwise send the (slightly early) message now.
                if due > now + 50_000 {
                    glommio::timer::sleep(Duration::from_nanos(due - now)).await;
                }
                due
            }
            None => {
                let now = control.now_ns();
                if until_ns.is_some_and(|u| now >= u) {
                    break;
                }
                now
            }
        };
        let size = generator.next_size();
        // Bounded memory: wait for room, re-checking the stop flag so that a
        // dead broker cannot hold the producer here forever.
        if !acquire(&in_flight, 1, control, until_ns).await
            || !acquire(&in_flight_bytes, size as u64, control, until_ns).await
        {
            break;
        }
        let late = control.now_ns().saturating_sub(due_ns) > limits::INTERVAL_MS * 1_000_000;
        let key = generator.next_key();
        let partition = match key {
            Some(k) => {
                key_buf.clear();
                key_buf.push_str(&k.to_string());
                partition_for_key(key_buf.as_bytes(), partitions)
            }
            None => ((sent / sticky_span + spec.index as u64) % partitions as u64) as i32,
        };
        value.resize(size, 0);
        generator.fill_payload(&mut value);
        stamp(&mut value, due_ns, sent);
        // In closed loop the due time is "now"; the tag carries it to the
        // delivery so latency is measured from it.
        producer.send(
            &topic,
            partition,
            key.map(|_| key_buf.as_bytes()),
            &value,
            wall_origin_ms + (due_ns / 1_000_000) as i64,
            due_ns,
        );
        outstanding.set(outstanding.get() + 1);
        sent += 1;
        if let Some(p) = &mut pacer {
            p.advance();
        }
        {
            let mut s = stats.borrow_mut();
            s.1.sent_messages += 1;
            if late {
                s.1.late_messages += 1;
            }
        }
        // Let the connection tasks run between bursts of sends.
        if sent % 64 == 0 {
            glommio::yield_if_needed().await;
        }
    }
    if let (Some(p), Some(end)) = (&pacer, until_ns) {
        let missed = p.unsent_before(end);
        stats.borrow_mut().1.missed_messages += missed;
    }
    producer.flush();
    // Wait for what is in flight, but not past the drain time or a stop.
    let deadline = Instant::now() + Duration::from_secs(limits::DRAIN_SECS_DEFAULT);
    while outstanding.get() > 0
        && Instant::now() < deadline
        && !control.stop_consumers.load(Ordering::Relaxed)
    {
        glommio::timer::sleep(Duration::from_millis(5)).await;
    }
    drop(producer);
    collector.cancel();
    Ok(())
}

/// Waits for `units` of `s`; false if the run stops (or its end passes)
/// first, so that a dead broker cannot hold a producer here forever.
async fn acquire(s: &Semaphore, units: u64, control: &Control, until_ns: Option<u64>) -> bool {
    loop {
        match glommio::timer::timeout(Duration::from_millis(100), s.acquire(units)).await {
            Ok(()) => return true,
            Err(glommio::GlommioError::TimedOut(_))
                if !control.stop.load(Ordering::Relaxed)
                    && until_ns.is_none_or(|u| control.now_ns() < u) =>
            {
                continue
            }
            Err(_) => return false,
        }
    }
}

fn record_delivery(
    d: &Delivery,
    now_ns: u64,
    stats: &Stats,
    control: &Control,
    topic_index: usize,
) {
    let mut s = stats.borrow_mut();
    let (lat, counts) = &mut *s;
    let n = d.tags.len() as u64;
    match &d.result {
        Ok(_) => {
            for &due in &d.tags {
                lat.record(Metric::Produce, us(now_ns.saturating_sub(due)));
            }
            if let Some(r) = d.request_latency {
                lat.record(Metric::ProduceRequest, r.as_micros() as u64);
            }
            counts.acked_messages += n;
            counts.acked_bytes += d.value_bytes as u64;
            control.acked_per_topic[topic_index].fetch_add(n, Ordering::SeqCst);
        }
        Err(e) => {
            counts.failed_messages += n;
            counts.error(&e.kind(), n);
            control.note_error(format!("produce to {}-{}: {e}", d.topic, d.partition));
            if !e.is_retriable() {
                control.fail(format!(
                    "produce to {}-{} failed: {e}",
                    d.topic, d.partition
                ));
            }
        }
    }
    if d.retries > 0 {
        counts.error("retried-batches", 1);
    }
}

async fn consume(
    spec: ConsumerSpec,
    c: GroupedConsumer,
    w: Workload,
    stats: Stats,
    control: Arc<Control>,
) {
    let GroupedConsumer {
        client,
        mut consumer,
        mut member,
        topic,
        start,
    } = c;
    consume_loop(
        &spec,
        &mut consumer,
        &mut member,
        &client,
        &topic,
        &start,
        &w,
        &stats,
        &control,
    )
    .await;
    if let Some(m) = member {
        m.leave().await;
    }
}

#[allow(clippy::too_many_arguments)]
async fn consume_loop(
    spec: &ConsumerSpec,
    consumer: &mut Consumer,
    member: &mut Option<GroupMember>,
    client: &Rc<Client>,
    topic: &Rc<str>,
    start: &BTreeMap<i32, i64>,
    w: &Workload,
    stats: &Stats,
    control: &Control,
) {
    let group_index = (spec.topic * w.consumer_groups + spec.group) as usize;
    let mut consecutive_errors = 0u32;
    loop {
        if control.stop_consumers.load(Ordering::Relaxed) {
            return;
        }
        if let Some(m) = member.as_mut().filter(|m| m.needs_rejoin()) {
            // A rebalance mid-run: partitions this member keeps continue
            // where they were; new ones start where the run started, so a
            // moved partition may be read twice (counted below).
            stats.borrow_mut().1.error("group-rebalance", 1);
            let rejoined = match m.rejoin(client, &[topic.to_string()]).await {
                Ok(a) => start_consumer(client, topic, &a, start, consumer.positions()).await,
                Err(e) => Err(e),
            };
            match rejoined {
                Ok(c) => *consumer = c,
                Err(e) => {
                    control.fail(format!("consumer of {topic}: rejoining the group: {e}"));
                    return;
                }
            }
        }
        if consumer.positions().is_empty() {
            // More members than partitions: this one idles, as in Kafka.
            glommio::timer::sleep(Duration::from_millis(100)).await;
            continue;
        }
        // Done when producers are done and this group has read everything
        // they got acknowledged.
        if control.producers_running.load(Ordering::SeqCst) == 0
            && control.consumed_per_group[group_index].load(Ordering::SeqCst)
                >= control.acked_per_topic[spec.topic as usize].load(Ordering::SeqCst)
        {
            return;
        }
        match consumer.poll().await {
            Ok(records) => {
                consecutive_errors = 0;
                let now = control.now_ns();
                let mut s = stats.borrow_mut();
                let (lat, counts) = &mut *s;
                for r in &records {
                    let value = r.value.as_deref().unwrap_or_default();
                    counts.consumed_messages += 1;
                    counts.consumed_bytes += value.len() as u64;
                    match read_stamp(value) {
                        Some((due, _)) if due <= now => lat.record(Metric::EndToEnd, us(now - due)),
                        _ => counts.error("foreign-record", 1),
                    }
                }
                control.consumed_per_group[group_index]
                    .fetch_add(records.len() as u64, Ordering::SeqCst);
            }
            Err(e) => {
                stats
                    .borrow_mut()
                    .1
                    .error(&format!("fetch-{}", e.kind()), 1);
                consecutive_errors += 1;
                control.note_error(format!("consumer of {}: {e}", w.topic_name(spec.topic)));
                if !e.is_retriable() || consecutive_errors > 50 {
                    control.fail(format!("consumer of {}: {e}", w.topic_name(spec.topic)));
                    return;
                }
                glommio::timer::sleep(net::client::limits::RETRY_BACKOFF).await;
            }
        }
    }
}
