//! The groups one shard coordinates, on its executor: one [`Coordinator`]
//! per owned `__consumer_offsets` partition, the partition's log, the
//! requests waiting for deferred answers, loading at start-up and the timer.
//!
//! This is the only part of `group` that awaits: it drives the pure
//! coordinator (call, then [`OffsetsPartition::drive`]: append the records,
//! wait until durable, then deliver the answers).

use std::cell::{Cell, RefCell};
use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::path::Path;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use glommio::channels::local_channel::{self, LocalSender};
use storage::notify::Signal;
use storage::{Log, LogConfig, ShardStorage};

use super::api::*;
use super::batch;
use super::config::GroupConfig;
use super::coordinator::Coordinator;
use super::error::ErrorCode;
use super::limits;
use super::placement::{offsets_partition_for, OFFSETS_TOPIC};
use crate::clock::Clock;

/// What loading one shard's partitions found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    pub partitions: usize,
    pub records: u64,
    pub groups: usize,
    /// Batches that could not be decoded and were skipped.
    pub corrupt_batches: u64,
    pub elapsed_ms: u64,
}

pub struct OffsetsPartition {
    pub index: i32,
    clock: Clock,
    coordinator: RefCell<Coordinator>,
    log: RefCell<Option<Log>>,
    /// Appends of this partition go to the log in the order the coordinator
    /// produced them (a later commit of a partition must replay after an
    /// earlier one): [`drive`](Self::drive) queues them here synchronously,
    /// right after taking them, and one writer task appends them in queue
    /// order. A lock would not do: a waiter woken by a release can be
    /// overtaken by a newcomer.
    appender: RefCell<Option<LocalSender<AppendJob>>>,
    waiters: RefCell<HashMap<RequestId, LocalSender<ReplyBody>>>,
    next_request: Cell<RequestId>,
    /// Set at shutdown: requests that would wait are refused at once.
    stopping: Cell<bool>,
    checkpoint_interval_ms: u64,
    next_checkpoint_ms: Cell<u64>,
    /// Records appended since the last checkpoint; none means the last
    /// checkpoint still covers the log.
    appended_since_checkpoint: Cell<u64>,
    /// When the last complete (durable) checkpoint was taken: every record
    /// older than this is redundant.
    last_checkpoint_ms: Cell<Option<u64>>,
    /// `persist` calls, numbered from 1 as they start. The coordinator
    /// applies a commit when it takes it, before its record is durable, so
    /// reads of committed offsets wait until everything taken before them
    /// has settled ([`Self::wait_settled`]).
    persists_started: Cell<u64>,
    /// Every persist up to this one has settled (durable, or failed).
    /// Failures can settle out of order (a full disk answers at once while
    /// an earlier append waits for its sync), hence `settled_ahead`.
    persists_settled: Cell<u64>,
    settled_ahead: RefCell<BTreeSet<u64>>,
    persists_failed: Cell<u64>,
    settled: Signal,
}

impl OffsetsPartition {
    fn new(index: i32, config: GroupConfig, nonce: u64, clock: Clock) -> Self {
        let checkpoint_interval_ms = config.offsets_checkpoint_interval_ms;
        Self {
            index,
            clock,
            coordinator: RefCell::new(Coordinator::new(config, nonce)),
            log: RefCell::new(None),
            appender: RefCell::new(None),
            waiters: RefCell::new(HashMap::new()),
            next_request: Cell::new(0),
            stopping: Cell::new(false),
            checkpoint_interval_ms,
            next_checkpoint_ms: Cell::new(u64::MAX),
            appended_since_checkpoint: Cell::new(0),
            last_checkpoint_ms: Cell::new(None),
            persists_started: Cell::new(0),
            persists_settled: Cell::new(0),
            settled_ahead: RefCell::new(BTreeSet::new()),
            persists_failed: Cell::new(0),
            settled: Signal::default(),
        }
    }

    /// Waits until every `persist` started before this call has settled.
    /// False if the shard stopped first or a persist failed meanwhile (what
    /// the caller read may then include a commit that is not on disk).
    fn wait_settled(self: &Rc<Self>) -> impl Future<Output = bool> + 'static {
        let target = self.persists_started.get();
        let failed_before = self.persists_failed.get();
        let this = self.clone();
        async move {
            loop {
                if this.persists_settled.get() >= target {
                    return this.persists_failed.get() == failed_before;
                }
                if this.stopping.get() {
                    return false;
                }
                this.settled.notified().await;
            }
        }
    }

    fn settle(&self, sequence: u64, ok: bool) {
        if !ok {
            self.persists_failed.set(self.persists_failed.get() + 1);
        }
        let mut ahead = self.settled_ahead.borrow_mut();
        ahead.insert(sequence);
        let mut through = self.persists_settled.get();
        while ahead.remove(&(through + 1)) {
            through += 1;
        }
        self.persists_settled.set(through);
        drop(ahead);
        self.settled.notify_all();
    }

    /// Runs `call` on the coordinator with a fresh request token, now, and
    /// returns the future of its deferred answer: None (the caller answers
    /// COORDINATOR_NOT_AVAILABLE, and the client finds the coordinator
    /// again) when the shard is stopping.
    fn deferred(
        self: &Rc<Self>,
        call: impl FnOnce(&mut Coordinator, RequestId),
    ) -> impl Future<Output = Option<ReplyBody>> + 'static {
        let started = (!self.stopping.get()).then(|| {
            let request = self.next_request.get() + 1;
            self.next_request.set(request);
            let (sender, receiver) = local_channel::new_bounded(1);
            self.waiters.borrow_mut().insert(request, sender);
            call(&mut self.coordinator.borrow_mut(), request);
            (self.drive(), receiver)
        });
        async move {
            let (driven, receiver) = started?;
            driven.await;
            receiver.recv().await
        }
    }

    /// Takes the coordinator's output and queues its records for the log,
    /// now; the future makes them durable, then delivers the answers, and
    /// is false if the records could not be written (the answers then
    /// carry errors).
    fn drive(self: &Rc<Self>) -> impl Future<Output = bool> + 'static {
        let mut ready = self.coordinator.borrow_mut().take_ready();
        let persisted = (!ready.records.is_empty()).then(|| self.persist(&ready.records));
        let this = self.clone();
        async move {
            let mut ok = true;
            if let Some(persisted) = persisted {
                if let Err(error) = persisted.await {
                    tracing::error!(partition = this.index, %error, "cannot write to {OFFSETS_TOPIC}");
                    ready.fail_replies(ErrorCode::CoordinatorNotAvailable);
                    ok = false;
                }
            }
            let mut waiters = this.waiters.borrow_mut();
            for reply in ready.replies {
                if let Some(sender) = waiters.remove(&reply.request) {
                    // The requester may be gone (connection closed); that is fine.
                    let _ = sender.try_send(reply.body);
                }
            }
            ok
        }
    }

    /// Queues `records` for the log now (this fixes their order), and
    /// returns the future of their durability.
    fn persist(
        self: &Rc<Self>,
        records: &[super::record::GroupRecord],
    ) -> impl Future<Output = Result<(), GroupLogError>> + 'static {
        let sequence = self.persists_started.get() + 1;
        self.persists_started.set(sequence);
        let appended = self.enqueue(records);
        let this = self.clone();
        async move {
            let result = async {
                let info = appended?
                    .recv()
                    .await
                    .ok_or(GroupLogError::WriterStopped)??;
                let log = this.log.borrow().clone().ok_or(GroupLogError::NotOpen)?;
                Ok(log.wait_durable(&info).await?)
            }
            .await;
            // A failed persist settles too (its requester gets an error), or
            // readers would wait for ever.
            this.settle(sequence, result.is_ok());
            result
        }
    }

    /// Hands `records` to the partition's writer; the receiver learns where
    /// they landed.
    fn enqueue(
        &self,
        records: &[super::record::GroupRecord],
    ) -> Result<local_channel::LocalReceiver<Appended>, GroupLogError> {
        let batches = batch::encode_batches(records, self.clock.now_ms() as i64);
        self.appended_since_checkpoint
            .set(self.appended_since_checkpoint.get() + records.len() as u64);
        let (done, appended) = local_channel::new_bounded(1);
        self.appender
            .borrow()
            .as_ref()
            .ok_or(GroupLogError::NotOpen)?
            .try_send(AppendJob { batches, done })
            .map_err(|_| GroupLogError::WriterStopped)?;
        Ok(appended)
    }

    /// Opens the partition's log and replays it into the coordinator.
    async fn load(
        &self,
        data_dir: &Path,
        log_config: LogConfig,
        storage: &Rc<ShardStorage>,
        report: &mut LoadReport,
    ) -> Result<(), GroupLogError> {
        let path = data_dir.join(format!("{OFFSETS_TOPIC}-{}", self.index));
        // Segments roll once per checkpoint interval and are deleted, after a
        // checkpoint, three intervals later (see `checkpoint`).
        let log_config = LogConfig {
            segment_age_ms: self.checkpoint_interval_ms,
            retention_ms: (self.checkpoint_interval_ms * limits::CHECKPOINT_INTERVALS_KEPT) as i64,
            retention_bytes: -1,
            ..log_config
        };
        let (log, _recovery) = Log::open(&path, log_config, storage)
            .await
            .map_err(|source| GroupLogError::Open {
                path: path.clone(),
                source,
            })?;
        let mut offset = log.log_start_offset();
        let end = log.high_watermark();
        while offset < end {
            let read = log
                .read(offset, limits::REPLAY_READ_BYTES)
                .await
                .map_err(|source| GroupLogError::Replay {
                    path: path.clone(),
                    offset,
                    source,
                })?;
            if read.batches.is_empty() {
                break;
            }
            let mut coordinator = self.coordinator.borrow_mut();
            for chunk in &read.batches {
                let mut at = 0;
                while at < chunk.len() {
                    let (header, one, _) =
                        storage::batch::split_batch(&chunk[at..]).map_err(|source| {
                            GroupLogError::Damaged {
                                path: path.clone(),
                                offset,
                                source,
                            }
                        })?;
                    let one = chunk.slice(at..at + one.len());
                    at += one.len();
                    offset = header.last_offset() + 1;
                    match batch::decode_batch(one) {
                        Ok(records) => {
                            report.records += records.len() as u64;
                            for record in records {
                                coordinator.replay(record);
                            }
                        }
                        Err(error) => {
                            // A batch we cannot read loses the commits in it,
                            // not the coordinator: later batches still apply.
                            tracing::error!(partition = self.index, base_offset = header.base_offset, %error, "skipping unreadable group batch");
                            report.corrupt_batches += 1;
                        }
                    }
                }
            }
        }
        let (jobs, queue) = local_channel::new_unbounded();
        glommio::spawn_local(append_in_order(log.clone(), queue)).detach();
        *self.appender.borrow_mut() = Some(jobs);
        *self.log.borrow_mut() = Some(log);
        self.next_checkpoint_ms
            .set(self.clock.now_ms() + self.checkpoint_interval_ms);
        // Replayed records count: the first checkpoint after a restart may
        // let the history before it go.
        self.appended_since_checkpoint.set(report.records.max(1));
        let mut coordinator = self.coordinator.borrow_mut();
        coordinator.finish_loading(self.clock.now_ms());
        report.groups += coordinator.group_count();
        Ok(())
    }
}

impl OffsetsPartition {
    /// Every checkpoint interval: rewrites the partition's live state at the
    /// end of the log, then deletes the segments that hold only records
    /// older than [`limits::CHECKPOINT_INTERVALS_KEPT`] intervals. A segment
    /// is deleted only if all its records are older than the start of the
    /// last durable checkpoint, so everything it held is superseded (by the
    /// checkpoint or by later records); a crash mid-checkpoint leaves
    /// duplicates of current values, which replay harmlessly.
    async fn checkpoint(self: &Rc<Self>, now: u64) {
        if now < self.next_checkpoint_ms.get() {
            return;
        }
        self.next_checkpoint_ms
            .set(now + self.checkpoint_interval_ms);
        if self.appended_since_checkpoint.get() > 0 {
            let Some(records) = self.coordinator.borrow().checkpoint() else {
                return;
            };
            let started = self.clock.now_ms();
            let count = records.len() as u64;
            let before = self.appended_since_checkpoint.get();
            if count > 0 {
                if let Err(error) = self.persist(&records).await {
                    tracing::error!(partition = self.index, %error, "group checkpoint failed");
                    return;
                }
            }
            // What others appended while the checkpoint was written is news
            // for the next one; the checkpoint's own records are not.
            let during = self
                .appended_since_checkpoint
                .get()
                .saturating_sub(before + count);
            self.appended_since_checkpoint.set(during);
            self.last_checkpoint_ms.set(Some(started));
            tracing::debug!(
                partition = self.index,
                records = count,
                "group checkpoint written"
            );
        }
        self.apply_retention().await;
    }

    async fn apply_retention(&self) {
        let Some(checkpoint_ms) = self.last_checkpoint_ms.get() else {
            return;
        };
        let now = self.clock.now_ms();
        let retention_ms = self.checkpoint_interval_ms * limits::CHECKPOINT_INTERVALS_KEPT;
        if now.saturating_sub(retention_ms) > checkpoint_ms {
            // Segments about to expire may hold records newer than the last
            // checkpoint (checkpoints have been failing): keep everything.
            return;
        }
        let Some(log) = self.log.borrow().clone() else {
            return;
        };
        match log.apply_retention(now as i64).await {
            Ok(report) => tracing::debug!(partition = self.index, ?report, "group log retention"),
            Err(error) => {
                tracing::warn!(partition = self.index, %error, "group log retention failed")
            }
        }
    }
}

/// Where the last batch of an append job landed, or why it did not.
type Appended = Result<storage::AppendInfo, GroupLogError>;

/// Why a `__consumer_offsets` partition could not be read or written.
#[derive(Debug, Clone, thiserror::Error)]
pub enum GroupLogError {
    #[error("the partition's log is not open")]
    NotOpen,
    #[error("the partition's log writer stopped")]
    WriterStopped,
    #[error("opening {}: {source}", path.display())]
    Open {
        path: std::path::PathBuf,
        source: storage::StorageError,
    },
    #[error("replaying {} at offset {offset}: {source}", path.display())]
    Replay {
        path: std::path::PathBuf,
        offset: i64,
        source: storage::StorageError,
    },
    #[error("replaying {} at offset {offset}: {source}", path.display())]
    Damaged {
        path: std::path::PathBuf,
        offset: i64,
        source: storage::batch::BatchError,
    },
    #[error(transparent)]
    Storage(#[from] storage::StorageError),
}

/// Batches to append, in order, and where to report the last one's place.
struct AppendJob {
    batches: Vec<bytes::Bytes>,
    done: LocalSender<Appended>,
}

/// A partition's one writer: appends each queued job's batches in queue
/// order (returning once they are buffered; durability is awaited by the
/// requester, so many jobs share one fdatasync). Ends when the queue's
/// sender is dropped.
async fn append_in_order(log: Log, queue: local_channel::LocalReceiver<AppendJob>) {
    while let Some(job) = queue.recv().await {
        assert!(!job.batches.is_empty(), "an append job without batches");
        let mut result = Err(GroupLogError::WriterStopped);
        for bytes in job.batches {
            match log.append(BytesMut::from(bytes), 0).await {
                Ok(info) => result = Ok(info),
                Err(e) => {
                    result = Err(e.into());
                    break;
                }
            }
        }
        let _ = job.done.try_send(result);
    }
}

/// Durability follows the broker's fsync policy. Retention is never by size
/// (that could drop live commits); the service sets its own time retention,
/// applied only behind a checkpoint.
fn broker_log_config(config: &crate::config::Config) -> LogConfig {
    LogConfig {
        fsync: config.log.storage_fsync(),
        retention_bytes: -1,
        retention_ms: -1,
        ..LogConfig::default()
    }
}

/// Where a service's `__consumer_offsets` partitions keep their logs.
#[derive(Clone)]
struct Store {
    dir: std::path::PathBuf,
    log_config: LogConfig,
    storage: Rc<ShardStorage>,
}

/// The group side of one shard: the `__consumer_offsets` partitions it
/// hosts, each with its coordinator.
pub struct GroupService {
    config: GroupConfig,
    nonce: u64,
    clock: Clock,
    partitions: RefCell<HashMap<i32, Rc<OffsetsPartition>>>,
    /// Set by [`GroupService::load`]: partitions hosted later load from here.
    store: RefCell<Option<Store>>,
}

impl GroupService {
    /// A service for the `__consumer_offsets` partitions in `owned`, all
    /// loading (requests get COORDINATOR_LOAD_IN_PROGRESS until
    /// [`GroupService::load`] has replayed them). `nonce` must differ between
    /// broker starts and between shards (member ids embed it).
    pub fn new(
        config: &GroupConfig,
        owned: impl IntoIterator<Item = i32>,
        nonce: u64,
        clock: Clock,
    ) -> Self {
        let service = Self {
            config: config.clone(),
            nonce,
            clock,
            partitions: RefCell::new(HashMap::new()),
            store: RefCell::new(None),
        };
        for index in owned {
            service.add(index);
        }
        service
    }

    fn add(&self, index: i32) -> Rc<OffsetsPartition> {
        let partition_nonce = self.nonce ^ ((index as u64) << 48);
        let partition = Rc::new(OffsetsPartition::new(
            index,
            self.config.clone(),
            partition_nonce,
            self.clock.clone(),
        ));
        self.partitions
            .borrow_mut()
            .insert(index, partition.clone());
        partition
    }

    /// Makes partitions hosted from now on load from the broker's data
    /// directory (`DATA_DIR/groups`), under its fsync policy.
    pub fn use_broker_store(&self, config: &crate::config::Config) {
        *self.store.borrow_mut() = Some(Store {
            dir: config.data_dir.join("groups"),
            log_config: broker_log_config(config),
            storage: ShardStorage::new(storage::ShardStorageConfig {
                cache_bytes_max: limits::REPLAY_READ_BYTES,
            }),
        });
    }

    /// Opens and replays the `__consumer_offsets` partitions under the
    /// broker's data directory (`DATA_DIR/groups`), logging the outcome;
    /// partitions hosted later load from there too. False if they cannot be
    /// loaded: the coordinators then stay in the loading state (group
    /// requests keep getting COORDINATOR_LOAD_IN_PROGRESS; partitions work).
    pub async fn load_for_broker(&self, config: &crate::config::Config, shard_id: usize) -> bool {
        let dir = config.data_dir.join("groups");
        let storage = ShardStorage::new(storage::ShardStorageConfig {
            cache_bytes_max: limits::REPLAY_READ_BYTES,
        });
        match self.load(&dir, broker_log_config(config), &storage).await {
            Ok(report) => {
                tracing::info!(
                    shard = shard_id,
                    partitions = report.partitions,
                    records = report.records,
                    groups = report.groups,
                    corrupt_batches = report.corrupt_batches,
                    elapsed_ms = report.elapsed_ms,
                    "consumer groups loaded"
                );
                true
            }
            Err(error) => {
                tracing::error!(shard = shard_id, %error, "cannot load consumer groups");
                false
            }
        }
    }

    /// Opens and replays every owned partition's log under
    /// `data_dir/__consumer_offsets-N`.
    pub async fn load(
        &self,
        data_dir: &Path,
        log_config: LogConfig,
        storage: &Rc<ShardStorage>,
    ) -> Result<LoadReport, GroupLogError> {
        *self.store.borrow_mut() = Some(Store {
            dir: data_dir.to_path_buf(),
            log_config: log_config.clone(),
            storage: storage.clone(),
        });
        let started = Instant::now();
        let mut report = LoadReport::default();
        let mut hosted: Vec<(i32, Rc<OffsetsPartition>)> = self
            .partitions
            .borrow()
            .iter()
            .map(|(&i, p)| (i, p.clone()))
            .collect();
        hosted.sort_unstable_by_key(|(i, _)| *i);
        for (_, partition) in hosted {
            partition
                .load(data_dir, log_config.clone(), storage, &mut report)
                .await?;
            report.partitions += 1;
        }
        report.elapsed_ms = started.elapsed().as_millis() as u64;
        Ok(report)
    }

    /// Starts coordinating the groups of `__consumer_offsets` partition
    /// `index` on this shard: replays its log if the service is loaded (else
    /// [`GroupService::load`] will). Nothing if it is hosted already.
    pub async fn host(&self, index: i32) {
        if self.partitions.borrow().contains_key(&index) {
            return;
        }
        let partition = self.add(index);
        let store = self.store.borrow().clone();
        if let Some(store) = store {
            let mut report = LoadReport::default();
            match partition
                .load(&store.dir, store.log_config, &store.storage, &mut report)
                .await
            {
                Ok(()) => tracing::debug!(
                    partition = index,
                    records = report.records,
                    groups = report.groups,
                    "group coordinator partition loaded"
                ),
                Err(error) => {
                    tracing::error!(partition = index, %error, "cannot load group coordinator partition")
                }
            }
        }
    }

    /// Whether this shard coordinates the groups of partition `index`.
    pub fn hosts(&self, index: i32) -> bool {
        self.partitions.borrow().contains_key(&index)
    }

    /// Shutdown, first step: answers every JoinGroup and SyncGroup still
    /// waiting for a rebalance (COORDINATOR_NOT_AVAILABLE, so that clients
    /// look for the coordinator again) instead of holding their connections
    /// open until the drain deadline, and refuses new ones.
    pub fn release_waiting(&self) {
        for partition in self.partitions.borrow().values() {
            partition.stopping.set(true);
            // Dropping the senders wakes each waiting request with None.
            partition.waiters.borrow_mut().clear();
            partition.settled.notify_all();
        }
    }

    /// Syncs and closes the logs (shutdown).
    pub async fn close(&self) -> Result<(), GroupLogError> {
        let all: Vec<_> = self.partitions.borrow().values().cloned().collect();
        for partition in all {
            // Dropping the queue's sender lets the writer finish and exit.
            partition.appender.borrow_mut().take();
            let log = partition.log.borrow_mut().take();
            if let Some(log) = log {
                log.close().await?;
            }
        }
        Ok(())
    }

    fn partition(&self, group_id: &str) -> Option<Rc<OffsetsPartition>> {
        self.partitions
            .borrow()
            .get(&offsets_partition_for(group_id))
            .cloned()
    }

    // The request methods below run the coordinator at once, when called,
    // and return the future of the answer (which waits for durability): the
    // order in which they are called is the order the coordinator sees, so
    // callers keep a connection's request order by calling them in it.

    pub fn join(&self, join: JoinRequest) -> impl Future<Output = JoinResponse> + 'static {
        let member_id = join.member_id.clone();
        let answer = self.partition(&join.group_id).map(|p| {
            let now = p.clock.now_ms();
            p.deferred(move |c, request| c.join_group(request, join, now))
        });
        async move {
            let Some(answer) = answer else {
                return JoinResponse::error(ErrorCode::NotCoordinator, &member_id);
            };
            match answer.await {
                Some(ReplyBody::Join(response)) => response,
                _ => JoinResponse::error(ErrorCode::CoordinatorNotAvailable, &member_id),
            }
        }
    }

    pub fn sync(&self, sync: SyncRequest) -> impl Future<Output = SyncResponse> + 'static {
        let answer = self.partition(&sync.group_id).map(|p| {
            let now = p.clock.now_ms();
            p.deferred(move |c, request| c.sync_group(request, sync, now))
        });
        async move {
            let Some(answer) = answer else {
                return SyncResponse::error(ErrorCode::NotCoordinator);
            };
            match answer.await {
                Some(ReplyBody::Sync(response)) => response,
                _ => SyncResponse::error(ErrorCode::CoordinatorNotAvailable),
            }
        }
    }

    pub fn heartbeat(
        &self,
        heartbeat: HeartbeatRequest,
    ) -> impl Future<Output = ErrorCode> + 'static {
        let answer = self.partition(&heartbeat.group_id).map(|p| {
            let error = p
                .coordinator
                .borrow_mut()
                .heartbeat(&heartbeat, p.clock.now_ms());
            (error, p.drive())
        });
        async move {
            let Some((error, driven)) = answer else {
                return ErrorCode::NotCoordinator;
            };
            driven.await;
            error
        }
    }

    pub fn leave(&self, leave: LeaveRequest) -> impl Future<Output = LeaveResponse> + 'static {
        let answer = self.partition(&leave.group_id).map(|p| {
            let response = p
                .coordinator
                .borrow_mut()
                .leave_group(leave, p.clock.now_ms());
            (response, p.drive())
        });
        async move {
            let Some((response, driven)) = answer else {
                return LeaveResponse {
                    error: ErrorCode::NotCoordinator,
                    members: Vec::new(),
                };
            };
            driven.await;
            response
        }
    }

    pub fn offset_commit(
        &self,
        commit: OffsetCommitRequest,
    ) -> impl Future<Output = OffsetCommitResponse> + 'static {
        let answer = self.partition(&commit.group_id).map(|p| {
            let response = p
                .coordinator
                .borrow_mut()
                .offset_commit(&commit, p.clock.now_ms());
            (response, p.drive())
        });
        async move {
            let Some((response, driven)) = answer else {
                return OffsetCommitResponse::all(&commit, ErrorCode::NotCoordinator);
            };
            if driven.await {
                response
            } else {
                OffsetCommitResponse::all(&commit, ErrorCode::CoordinatorNotAvailable)
            }
        }
    }

    /// The committed offsets, answered only once every commit taken before
    /// the request is durable: a reader never sees an offset that a crash
    /// could take back (Kafka updates its offset cache only after the
    /// append completes).
    pub fn offset_fetch(
        &self,
        fetch: OffsetFetchRequest,
    ) -> impl Future<Output = OffsetFetchResponse> + 'static {
        let answer = self.partition(&fetch.group_id).map(|p| {
            let response = p.coordinator.borrow().offset_fetch(&fetch);
            (response, p.wait_settled())
        });
        async move {
            let Some((response, settled)) = answer else {
                return OffsetFetchResponse {
                    error: ErrorCode::NotCoordinator,
                    topics: Vec::new(),
                };
            };
            if settled.await {
                response
            } else {
                OffsetFetchResponse {
                    error: ErrorCode::CoordinatorNotAvailable,
                    topics: Vec::new(),
                }
            }
        }
    }

    pub fn describe(&self, group_id: String) -> DescribedGroup {
        match self.partition(&group_id) {
            Some(p) => p
                .coordinator
                .borrow()
                .describe_groups(std::slice::from_ref(&group_id))
                .pop()
                .expect("one answer per group"),
            None => DescribedGroup {
                error: ErrorCode::NotCoordinator,
                group_id,
                state: "Dead",
                protocol_type: String::new(),
                protocol_name: String::new(),
                members: Vec::new(),
            },
        }
    }

    /// Every group of this shard (ListGroups is answered by all shards).
    pub fn list(&self, states: &[String], types: &[String]) -> (ErrorCode, Vec<ListedGroup>) {
        let mut error = ErrorCode::None;
        let mut all = Vec::new();
        for p in self.partitions.borrow().values() {
            match p.coordinator.borrow().list_groups(states, types) {
                Ok(groups) => all.extend(groups),
                Err(e) => error = e,
            }
        }
        all.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        (error, all)
    }

    pub fn delete(&self, group_id: String) -> impl Future<Output = ErrorCode> + 'static {
        let answer = self.partition(&group_id).map(|p| {
            let result = p
                .coordinator
                .borrow_mut()
                .delete_groups(std::slice::from_ref(&group_id), p.clock.now_ms());
            (result[0].1, p.drive())
        });
        async move {
            let Some((error, driven)) = answer else {
                return ErrorCode::NotCoordinator;
            };
            if !driven.await {
                return ErrorCode::CoordinatorNotAvailable;
            }
            error
        }
    }

    /// Forgets the committed offsets of a deleted topic in every group of
    /// this shard (call on every shard).
    pub async fn forget_topic(&self, topic: &str) {
        let all: Vec<_> = self.partitions.borrow().values().cloned().collect();
        for p in all {
            let forgotten = p
                .coordinator
                .borrow_mut()
                .forget_topic(topic, self.clock.now_ms());
            if !forgotten {
                tracing::warn!(
                    partition = p.index,
                    topic,
                    "groups still loading; offsets of the deleted topic kept"
                );
            }
            p.drive().await;
        }
    }

    /// Fires the coordinators' deadlines until the executor stops; spawn it
    /// once per shard after [`GroupService::load`] started.
    pub async fn run_timers(self: Rc<Self>) {
        loop {
            let now = self.clock.now_ms();
            let next = self
                .partitions
                .borrow()
                .values()
                .filter_map(|p| p.coordinator.borrow().next_deadline_ms())
                .min();
            let sleep_ms = next
                .map(|deadline| deadline.saturating_sub(now))
                .unwrap_or(limits::TIMER_TICK_MAX_MS)
                .clamp(1, limits::TIMER_TICK_MAX_MS);
            glommio::timer::sleep(Duration::from_millis(sleep_ms)).await;
            let now = self.clock.now_ms();
            let all: Vec<_> = self.partitions.borrow().values().cloned().collect();
            for p in all {
                let due = p
                    .coordinator
                    .borrow()
                    .next_deadline_ms()
                    .is_some_and(|deadline| deadline <= now);
                if due {
                    p.coordinator.borrow_mut().on_tick(now);
                    p.drive().await;
                }
                p.checkpoint(now).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use storage::ShardStorageConfig;

    use super::*;

    fn run<F: std::future::Future<Output = ()> + 'static>(f: impl FnOnce() -> F + Send + 'static) {
        glommio::LocalExecutorBuilder::default()
            .spawn(move || async move { f().await })
            .expect("executor")
            .join()
            .expect("executor finished");
    }

    fn join_request(member_id: &str) -> JoinRequest {
        JoinRequest {
            group_id: "service-group".into(),
            session_timeout_ms: 10_000,
            rebalance_timeout_ms: 10_000,
            member_id: member_id.into(),
            group_instance_id: None,
            protocol_type: "consumer".into(),
            protocols: vec![Protocol {
                name: "range".into(),
                metadata: Bytes::from_static(b"sub"),
            }],
            client_id: "c".into(),
            client_host: "/127.0.0.1".into(),
            require_known_member_id: false,
        }
    }

    /// A group settles and commits through real logs; a second service over
    /// the same directory replays both, as a restarted broker would.
    #[test]
    fn commits_and_groups_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        run(move || async move {
            let config = GroupConfig {
                initial_rebalance_delay_ms: 0,
                ..GroupConfig::default()
            };
            let storage = ShardStorage::new(ShardStorageConfig::default());
            let all = 0..limits::OFFSETS_TOPIC_PARTITIONS;
            let service = GroupService::new(&config, all.clone(), 1, Clock::system());
            let loading = service.heartbeat(HeartbeatRequest {
                group_id: "service-group".into(),
                generation_id: 0,
                member_id: "m".into(),
                group_instance_id: None,
            });
            assert_eq!(loading.await, ErrorCode::CoordinatorLoadInProgress);
            let report = service
                .load(&path, LogConfig::default(), &storage)
                .await
                .unwrap();
            assert_eq!(
                (report.partitions, report.records, report.groups),
                (16, 0, 0)
            );

            let joined = settle_group(&service).await;
            for offset in [10, 20, 30] {
                let committed = service
                    .offset_commit(OffsetCommitRequest {
                        group_id: "service-group".into(),
                        generation_id: joined.generation_id,
                        member_id: joined.member_id.clone(),
                        group_instance_id: None,
                        retention_time_ms: -1,
                        topics: vec![CommitTopic {
                            name: "t".into(),
                            partitions: vec![CommitPartition {
                                partition: 0,
                                offset,
                                leader_epoch: -1,
                                metadata: None,
                            }],
                        }],
                    })
                    .await;
                assert_eq!(committed.topics[0].partitions[0].1, ErrorCode::None);
            }
            service.close().await.unwrap();

            let restarted = GroupService::new(&config, all, 2, Clock::system());
            let report = restarted
                .load(&path, LogConfig::default(), &storage)
                .await
                .unwrap();
            assert_eq!(
                (report.records, report.groups, report.corrupt_batches),
                (4, 1, 0)
            );
            let fetched = restarted
                .offset_fetch(OffsetFetchRequest {
                    group_id: "service-group".into(),
                    topics: Some(vec![("t".into(), vec![0])]),
                })
                .await;
            assert_eq!(fetched.topics[0].partitions[0].offset, 30);
            assert_settled_group(&restarted);
            restarted.close().await.unwrap();
        });
    }

    #[test]
    fn shutdown_answers_requests_waiting_for_a_rebalance() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        run(move || async move {
            let config = GroupConfig {
                initial_rebalance_delay_ms: 0,
                ..GroupConfig::default()
            };
            let storage = ShardStorage::new(ShardStorageConfig::default());
            let service = loaded(&path, &config, &storage, 4).await;
            let first = service.join(join_request("")).await;
            assert_eq!(first.error, ErrorCode::None);
            // A second member makes the group rebalance; its join waits for
            // the first member, which never comes back.
            let waiting = glommio::spawn_local({
                let service = service.clone();
                async move { service.join(join_request("")).await }
            });
            glommio::timer::sleep(Duration::from_millis(20)).await;
            service.release_waiting();
            let answer = waiting.await;
            assert_eq!(answer.error, ErrorCode::CoordinatorNotAvailable);
            let late = service.join(join_request("")).await;
            assert_eq!(late.error, ErrorCode::CoordinatorNotAvailable);
            service.close().await.unwrap();
        });
    }

    fn simple_commit(offset: i64) -> OffsetCommitRequest {
        OffsetCommitRequest {
            group_id: "ordered".into(),
            generation_id: -1,
            member_id: String::new(),
            group_instance_id: None,
            retention_time_ms: -1,
            topics: vec![CommitTopic {
                name: "t".into(),
                partitions: vec![CommitPartition {
                    partition: 0,
                    offset,
                    leader_epoch: -1,
                    metadata: None,
                }],
            }],
        }
    }

    /// "service-group" with one member, joined and synced (assignment "p0").
    async fn settle_group(service: &GroupService) -> JoinResponse {
        let joined = service.join(join_request("")).await;
        assert_eq!(joined.error, ErrorCode::None);
        let synced = service
            .sync(SyncRequest {
                group_id: "service-group".into(),
                generation_id: joined.generation_id,
                member_id: joined.member_id.clone(),
                group_instance_id: None,
                protocol_type: None,
                protocol_name: None,
                assignments: vec![(joined.member_id.clone(), Bytes::from_static(b"p0"))],
            })
            .await;
        assert_eq!(synced.error, ErrorCode::None);
        assert_eq!(synced.assignment, Bytes::from_static(b"p0"));
        joined
    }

    /// The group [`settle_group`] made, as a restarted service sees it.
    fn assert_settled_group(service: &GroupService) {
        let described = service.describe("service-group".into());
        assert_eq!(described.state, "Stable");
        assert_eq!(described.members[0].assignment, Bytes::from_static(b"p0"));
    }

    /// A service over all offsets partitions, loaded from `path`.
    async fn loaded(
        path: &Path,
        config: &GroupConfig,
        storage: &Rc<ShardStorage>,
        nonce: u64,
    ) -> Rc<GroupService> {
        let service = Rc::new(GroupService::new(
            config,
            0..limits::OFFSETS_TOPIC_PARTITIONS,
            nonce,
            Clock::system(),
        ));
        service
            .load(path, LogConfig::default(), storage)
            .await
            .unwrap();
        service
    }

    /// An OffsetFetch that arrives while a commit is applied but not yet
    /// durable answers only once it is: a reader never sees an offset that a
    /// crash could take back.
    #[test]
    fn offset_fetch_waits_until_earlier_commits_are_durable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        run(move || async move {
            let storage = ShardStorage::new(ShardStorageConfig::default());
            let service = loaded(&path, &GroupConfig::default(), &storage, 9).await;
            let committer = service.clone();
            let commit =
                glommio::spawn_local(
                    async move { committer.offset_commit(simple_commit(42)).await },
                );
            // Let the commit be applied and handed to the log, not more.
            futures_lite::future::yield_now().await;
            let p = service.partition("ordered").unwrap().clone();
            assert!(
                p.persists_started.get() > p.persists_settled.get(),
                "the commit should be in flight"
            );
            let fetched = service
                .offset_fetch(OffsetFetchRequest {
                    group_id: "ordered".into(),
                    topics: None,
                })
                .await;
            assert_eq!(fetched.topics[0].partitions[0].offset, 42);
            let log = p.log.borrow().clone().unwrap();
            assert_eq!(
                log.durable_offset(),
                log.log_end_offset(),
                "answered before the commit was durable"
            );
            assert!(commit.await.topics[0].partitions[0].1.is_ok());
            service.close().await.unwrap();
        });
    }

    /// Many concurrent commits of one partition: the log keeps them in the
    /// order the coordinator applied them, so a restart sees the last one.
    #[test]
    fn concurrent_commits_replay_in_the_order_they_were_applied() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        run(move || async move {
            let config = GroupConfig::default();
            let storage = ShardStorage::new(ShardStorageConfig::default());
            let service = loaded(&path, &config, &storage, 5).await;
            let tasks: Vec<_> = (0..300)
                .map(|i| {
                    let service = service.clone();
                    // Large commits (many batches) interleave with small ones.
                    let mut commit = simple_commit(i);
                    if i % 7 == 0 {
                        commit.topics[0]
                            .partitions
                            .extend((1..2_500).map(|p| CommitPartition {
                                partition: p,
                                offset: i,
                                leader_epoch: -1,
                                metadata: None,
                            }));
                    }
                    glommio::spawn_local(async move { service.offset_commit(commit).await })
                })
                .collect();
            for task in tasks {
                let response = task.await;
                assert!(response.topics[0].partitions.iter().all(|(_, e)| e.is_ok()));
            }
            let fetch = || OffsetFetchRequest {
                group_id: "ordered".into(),
                topics: None,
            };
            let live = service.offset_fetch(fetch()).await;
            service.close().await.unwrap();
            let restarted = loaded(&path, &config, &storage, 6).await;
            assert_eq!(restarted.offset_fetch(fetch()).await, live);
            assert_eq!(live.topics[0].partitions[0].offset, 299);
            restarted.close().await.unwrap();
        });
    }

    /// With a short checkpoint interval the log keeps rolling and dropping
    /// old segments while commits go on, and a restart still finds every
    /// group and offset.
    #[test]
    fn checkpoints_let_old_segments_go_without_losing_state() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        run(move || async move {
            let config = GroupConfig {
                initial_rebalance_delay_ms: 0,
                offsets_checkpoint_interval_ms: 200,
                ..GroupConfig::default()
            };
            let storage = ShardStorage::new(ShardStorageConfig::default());
            let all = 0..limits::OFFSETS_TOPIC_PARTITIONS;
            let service = loaded(&path, &config, &storage, 7).await;
            let timers = glommio::spawn_local(service.clone().run_timers()).detach();
            // A settled consumer group (its snapshot is written once, early,
            // so only checkpoints keep it) and a stream of simple commits.
            let joined = settle_group(&service).await;
            let partition = service.partitions.borrow()[&offsets_partition_for("ordered")].clone();
            let started = Instant::now();
            let mut offset = 0;
            while started.elapsed() < Duration::from_millis(2_000) {
                offset += 1;
                let response = service.offset_commit(simple_commit(offset)).await;
                assert!(response.topics[0].partitions[0].1.is_ok());
                let heartbeat = HeartbeatRequest {
                    group_id: "service-group".into(),
                    generation_id: joined.generation_id,
                    member_id: joined.member_id.clone(),
                    group_instance_id: None,
                };
                assert_eq!(service.heartbeat(heartbeat).await, ErrorCode::None);
                glommio::timer::sleep(Duration::from_millis(2)).await;
            }
            let log_start = partition.log.borrow().as_ref().unwrap().log_start_offset();
            assert!(log_start > 0, "no segment was ever deleted");
            timers.cancel();
            let fetch = || OffsetFetchRequest {
                group_id: "ordered".into(),
                topics: None,
            };
            let live = service.offset_fetch(fetch()).await;
            assert_eq!(live.topics[0].partitions[0].offset, offset);
            service.close().await.unwrap();

            let restarted = GroupService::new(&config, all, 8, Clock::system());
            let report = restarted
                .load(&path, LogConfig::default(), &storage)
                .await
                .unwrap();
            assert!(
                report.records < offset as u64,
                "replay read the whole history: {report:?}"
            );
            assert_eq!(restarted.offset_fetch(fetch()).await, live);
            assert_settled_group(&restarted);
            restarted.close().await.unwrap();
        });
    }

    #[test]
    fn the_timer_expires_a_silent_member() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        run(move || async move {
            let config = GroupConfig {
                initial_rebalance_delay_ms: 0,
                session_timeout_min_ms: 100,
                ..GroupConfig::default()
            };
            let storage = ShardStorage::new(ShardStorageConfig::default());
            let service = loaded(&path, &config, &storage, 3).await;
            let timers = glommio::spawn_local(service.clone().run_timers()).detach();
            let mut join = join_request("");
            join.session_timeout_ms = 200;
            let joined = service.join(join).await;
            assert_eq!(joined.error, ErrorCode::None);
            glommio::timer::sleep(Duration::from_millis(400)).await;
            let described = service.describe("service-group".into());
            assert_eq!(
                described.state, "Empty",
                "the member expired: {described:?}"
            );
            timers.cancel();
            service.close().await.unwrap();
        });
    }
}
