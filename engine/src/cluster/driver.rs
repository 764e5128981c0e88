//! The cluster on one broker: runs the controller on the controller shard,
//! carries its committed records to the metadata of every shard and runs
//! their side effects there (opening the partitions a shard now owns,
//! closing the ones it lost, hosting group coordinators), keeps this broker
//! registered, and turns metadata requests (create and delete topics,
//! producer ids) into controller proposals: on the leader, or forwarded to
//! it over the node-to-node transport.
//!
//! This is the one module of `cluster` that uses the shard container: it
//! combines the controller, the metadata caches, partitions, groups and the
//! transport.
//!
//! On the leader, the brokers' sessions decide fencing: a broker that sent
//! no heartbeat for the session timeout is fenced (its partitions lose
//! their leader, or move to another live replica); a registered broker is
//! unfenced once its heartbeat says it has applied the log up to its own
//! registration. The leader also creates `__consumer_offsets` once a broker
//! is live.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::rc::Rc;
use std::time::{Duration, Instant};

use consensus::{Index, Message};

use super::controller::{raft_id, Controller, ControllerError, Env, ProposalError, QuorumState};
use super::image::Change;
use super::proposals;
use super::records::{Endpoint, MetadataRecord, NodeId, RegisterBroker, TopicId};
use super::rpc::{
    self, ControllerRequest, ControllerResponse, WireEndpoint, WireError, WireNewTopic,
};
use super::topics::{NewTopic, TopicError};
use crate::group::placement::OFFSETS_TOPIC;
use crate::limits;
use crate::sequencer::Sequencer;
use crate::shard::mesh::{LocalFuture, ShardGone};
use crate::shard::Shard;

/// How often the leader checks the brokers' sessions.
const LEADER_DUTIES_INTERVAL: Duration = Duration::from_millis(200);
/// How long a new leader waits for every voter to register before it
/// creates `__consumer_offsets` over the brokers it has.
const OFFSETS_TOPIC_GRACE: Duration = Duration::from_secs(10);
/// How long a request to the controller keeps looking for the leader
/// (elections take about a second).
const FIND_LEADER_TIMEOUT: Duration = Duration::from_secs(15);

/// A broker's session, as the controller leader sees it.
#[derive(Debug, Clone, Copy)]
struct Session {
    incarnation: u64,
    last_heartbeat: Instant,
    /// The metadata log index the broker has applied.
    applied: Index,
    /// The index of its registration: applied that far, it has caught up.
    registered_at: Index,
}

/// The cluster's state on the controller shard of this broker.
pub struct ClusterNode {
    pub controller: Rc<Controller>,
    /// Requests take their turn in the order they reached this shard, so
    /// one connection's changes apply in its request order.
    order: Sequencer,
    /// This broker's current block of producer ids: `next..end`.
    producer_ids: Cell<(i64, i64)>,
    /// This process's incarnation (differs per start).
    pub incarnation: u64,
    /// On the leader: the brokers' sessions, by node.
    sessions: RefCell<HashMap<NodeId, Session>>,
    /// When this node last became leader: brokers it has not heard from yet
    /// get a session timeout from then.
    leader_since: Cell<Option<Instant>>,
}

/// Per shard: the side effects of applied metadata run one entry after the
/// other, and waiters learn how far they got.
#[derive(Default)]
pub struct Effects {
    order: Sequencer,
    done_through: Cell<Index>,
    done: storage::notify::Signal,
}

impl Effects {
    pub fn done_through(&self) -> Index {
        self.done_through.get()
    }

    /// Completes once this shard has run the side effects of `index`.
    pub async fn wait(&self, index: Index) {
        while self.done_through.get() < index {
            self.done.notified().await;
        }
    }
}

/// Runs on every shard, in commit order: applies one entry to the shard's
/// metadata now, and queues its side effects behind the earlier ones.
fn apply_on_shard(shard: &Rc<Shard>, index: Index, records: &[MetadataRecord], reset: bool) {
    let changes = if reset {
        shard.metadata.reset(index, records)
    } else {
        shard.metadata.apply(index, records)
    };
    let ticket = shard.effects.order.ticket();
    let shard = shard.clone();
    glommio::spawn_local(async move {
        let _turn = ticket.turn().await;
        for change in changes {
            run_side_effect(&shard, change).await;
        }
        shard.effects.done_through.set(index);
        shard.effects.done.notify_all();
    })
    .detach();
}

async fn run_side_effect(shard: &Rc<Shard>, change: Change) {
    match change {
        Change::Partition {
            topic_id,
            partition,
        } => {
            let Some((name, configs, leader_epoch)) = ({
                let image = shard.metadata.image();
                image.topic(&topic_id).map(|topic| {
                    (
                        topic.name.clone(),
                        topic.configs.clone(),
                        topic.partitions[partition as usize].leader_epoch,
                    )
                })
            }) else {
                return;
            };
            let mine = shard.metadata.shard_of(topic_id, partition) == Some(shard.id);
            if name == OFFSETS_TOPIC {
                if mine {
                    shard.groups.host(partition).await;
                }
                return;
            }
            if !mine {
                if let Err(e) = shard.partitions.close_one(&name, partition).await {
                    tracing::warn!(topic = %name, partition, error = %e, "closing a moved partition failed");
                }
                return;
            }
            match shard.partitions.open_one(&name, partition, &configs).await {
                Ok(opened) => opened.set_leader_epoch(leader_epoch),
                Err(e) => {
                    tracing::error!(topic = %name, partition, error = %e, "cannot open partition")
                }
            }
        }
        Change::TopicRemoved(topic) => {
            if topic.name == OFFSETS_TOPIC {
                return;
            }
            shard.groups.forget_topic(&topic.name).await;
            if let Err(e) = shard.partitions.delete_topic(&topic.name).await {
                tracing::error!(topic = %topic.name, error = %e, "deleting partitions failed");
            }
        }
        Change::Broker(node_id) => {
            let address = shard
                .metadata
                .image()
                .broker(node_id)
                .map(|b| (b.registration.rpc_host.clone(), b.registration.rpc_port));
            if let Some((host, port)) = address {
                if port != 0 {
                    shard.transport.set_address(raft_id(node_id), &host, port);
                }
            }
        }
        // A block of producer ids is taken by the request that asked for it
        // (`allocate_producer_id`), never from the log: a restarted broker
        // replaying its old blocks must not hand their ids out again.
        Change::ProducerIds { .. } | Change::TopicConfig(_) | Change::TopicCreated(_) => {}
    }
}

/// The controller's view of the broker: messages to peers, records to every
/// shard.
struct ShardEnv {
    shard: Rc<Shard>,
}

impl Env for ShardEnv {
    fn send(&self, messages: Vec<Message>) {
        self.shard
            .transport
            .send_raft(super::controller::CONTROLLER_GROUP, messages);
    }

    fn apply(&self, index: Index, records: Vec<MetadataRecord>) -> LocalFuture<()> {
        broadcast(self.shard.clone(), index, records, false)
    }

    fn reset(&self, index: Index, records: Vec<MetadataRecord>) -> LocalFuture<()> {
        broadcast(self.shard.clone(), index, records, true)
    }

    fn image_records(&self) -> Vec<MetadataRecord> {
        self.shard.metadata.image().to_records()
    }
}

/// Hands one entry's records to every shard, this one first, through the
/// ordered mesh path (each shard applies them in commit order). Completes
/// once every shard has them queued; their side effects run after.
fn broadcast(
    shard: Rc<Shard>,
    index: Index,
    records: Vec<MetadataRecord>,
    reset: bool,
) -> LocalFuture<()> {
    Box::pin(async move {
        apply_on_shard(&shard, index, &records, reset);
        for target in 0..shard.metadata.shard_count() {
            if target == shard.id {
                continue;
            }
            let records = records.clone();
            let sent = shard
                .send(target, move |s| {
                    apply_on_shard(&s, index, &records, reset);
                    async {}
                })
                .await;
            if let Err(ShardGone(gone)) = sent {
                tracing::debug!(shard = gone, "metadata not applied: shard stopping");
            }
        }
    })
}

impl ClusterNode {
    /// Opens the controller on the controller shard, replays the committed
    /// metadata into every shard, and starts driving the controller and,
    /// while this node leads, the leader's duties. Returns the node, the
    /// task running the controller, and the last index replayed.
    pub async fn start(
        shard: &Rc<Shard>,
        shard_storage: &Rc<storage::ShardStorage>,
    ) -> Result<(Rc<Self>, glommio::Task<()>, Index), ControllerError> {
        assert!(shard.is_controller_shard());
        let config = &shard.config;
        let cluster = &config.cluster;
        check_voters_agree(shard).await?;
        let dir = config.data_dir.join("meta").join("controller");
        let (controller, replay) = Controller::open(
            config.node_id,
            &cluster.initial_voters(config.node_id),
            &dir,
            config.log.storage_fsync(),
            cluster.controller_timing(),
            shard_storage,
        )
        .await?;
        let mut in_log = controller.voters();
        in_log.sort_unstable();
        let mut configured = cluster.initial_voters(config.node_id);
        configured.sort_unstable();
        // A broker that never ran has no membership yet: it learns it.
        if !in_log.is_empty() && in_log != configured {
            return Err(ControllerError::Voters(format!(
                "the configured voters {configured:?} are not the controller's voters {in_log:?} \
                 recorded in {}",
                dir.display()
            )));
        }
        let mut replayed = 0;
        for (index, records) in replay {
            broadcast(shard.clone(), index, records, false).await;
            replayed = index;
        }
        let node = Rc::new(Self {
            controller: controller.clone(),
            order: Sequencer::default(),
            producer_ids: Cell::new((0, 0)),
            incarnation: incarnation(shard),
            sessions: RefCell::new(HashMap::new()),
            leader_since: Cell::new(None),
        });
        let env: Rc<dyn Env> = Rc::new(ShardEnv {
            shard: shard.clone(),
        });
        let duties = glommio::spawn_local(leader_duties(shard.clone(), node.clone()));
        let task = glommio::spawn_local(async move {
            if let Err(e) = controller.run(env).await {
                tracing::error!(error = %e, "the controller failed");
            }
            duties.cancel().await;
        });
        Ok((node, task, replayed))
    }

    pub fn quorum_state(&self) -> QuorumState {
        self.controller.quorum_state()
    }
}

/// How long a starting voter looks for the other voters to compare their
/// configured voter lists (they may be starting too).
const VOTER_CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Fails if another node answers with a voter list other than this node's:
/// a voter bootstrapping the controller with other voters would make a
/// different group. Nodes that do not answer in time are not checked.
async fn check_voters_agree(shard: &Rc<Shard>) -> Result<(), ControllerError> {
    let mine = rpc::configured_voters(&shard.config);
    let deadline = Instant::now() + VOTER_CHECK_TIMEOUT;
    let mut unchecked: Vec<NodeId> = mine
        .iter()
        .map(|v| v.0)
        .filter(|&v| v != shard.config.node_id)
        .collect();
    while !unchecked.is_empty() && Instant::now() < deadline {
        let mut still = Vec::new();
        for peer in unchecked {
            let answer = shard
                .transport
                .call(
                    raft_id(peer),
                    rpc::METHOD_CONTROLLER,
                    rpc::encode(&ControllerRequest::Describe),
                    Duration::from_millis(500),
                )
                .await;
            match answer
                .ok()
                .and_then(|body| rpc::decode::<ControllerResponse>(&body).ok())
            {
                Some(ControllerResponse::Described { voters, .. }) if voters != mine => {
                    return Err(ControllerError::Voters(format!(
                        "the voters disagree: this node has {mine:?}, node {peer} has {voters:?}"
                    )));
                }
                Some(_) => {}
                None => still.push(peer),
            }
        }
        unchecked = still;
        if !unchecked.is_empty() {
            glommio::timer::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(())
}

/// A random incarnation number for this process start.
fn incarnation(shard: &Shard) -> u64 {
    let mut bytes = [0u8; 8];
    // SAFETY: the buffer is valid for 8 bytes; getrandom writes at most that.
    let n = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
    assert_eq!(n, 8, "getrandom failed");
    u64::from_le_bytes(bytes) ^ shard.clock.now_ms()
}

/// Waits until every shard of this broker has run the side effects of
/// `index` (the partitions of a new topic are open, say).
pub async fn wait_everywhere(shard: &Rc<Shard>, index: Index) -> Result<(), TopicError> {
    for answer in shard
        .call_all(move |s| async move { s.effects.wait(index).await })
        .await
    {
        answer?;
    }
    Ok(())
}

/// Hands `job` to the controller shard, where it runs in its turn: after
/// every request that reached the shard before it. Returns once the job is
/// on its way (in this shard's order), with the future of its answer.
async fn on_controller_shard<R, F, Fut>(
    shard: &Rc<Shard>,
    job: F,
) -> impl Future<Output = Result<R, TopicError>> + 'static
where
    R: Send + 'static,
    F: FnOnce(Rc<Shard>, Rc<ClusterNode>) -> Fut + Send + 'static,
    Fut: Future<Output = R> + 'static,
{
    let target = shard.metadata.controller_shard();
    let reply = shard
        .send(target, move |controller_shard| {
            let node = controller_shard
                .cluster
                .get()
                .expect("the controller runs on the controller shard")
                .clone();
            let ticket = node.order.ticket();
            async move {
                let _turn = ticket.turn().await;
                job(controller_shard, node).await
            }
        })
        .await;
    async move { Ok(reply?.await) }
}

/// Asks the controller leader: this node if it leads, else the leader over
/// the transport (looking for it among the voters while unknown). Waits
/// until this node has applied what the answer names, so that a client that
/// asked here sees the change in its next request.
async fn ask_controller(
    shard: &Rc<Shard>,
    node: &Rc<ClusterNode>,
    request: ControllerRequest,
) -> Result<ControllerResponse, TopicError> {
    let deadline = Instant::now() + FIND_LEADER_TIMEOUT;
    let voters = shard.config.cluster.initial_voters(shard.config.node_id);
    let mut next_voter = 0;
    loop {
        let response = if node.controller.is_leader() {
            lead(shard, node, shard.config.node_id, request.clone()).await
        } else {
            let target = node.controller.leader().unwrap_or_else(|| {
                next_voter += 1;
                voters[next_voter % voters.len()]
            });
            if target == shard.config.node_id {
                // Told that this node leads, but it does not (yet): wait.
                ControllerResponse::NotLeader { leader: None }
            } else {
                match shard
                    .transport
                    .call(
                        raft_id(target),
                        rpc::METHOD_CONTROLLER,
                        rpc::encode(&request),
                        rpc::CONTROLLER_CALL_TIMEOUT,
                    )
                    .await
                {
                    Ok(body) => rpc::decode::<ControllerResponse>(&body).unwrap_or_else(|e| {
                        ControllerResponse::Failed(WireError {
                            code: net::ErrorCode::UnknownServerError.code(),
                            message: format!("undecodable controller answer: {e}"),
                        })
                    }),
                    Err(e) => {
                        tracing::debug!(node = target, error = %e, "controller call failed");
                        ControllerResponse::NotLeader { leader: None }
                    }
                }
            }
        };
        match response {
            ControllerResponse::NotLeader { .. } if Instant::now() < deadline => {
                glommio::timer::sleep(Duration::from_millis(50)).await;
            }
            ControllerResponse::NotLeader { leader } => {
                return Err(TopicError::NotController(leader));
            }
            answer => {
                if let Some(index) = answer_index(&answer) {
                    node.controller
                        .wait_applied(index)
                        .await
                        .map_err(TopicError::from)?;
                    wait_everywhere(shard, index).await?;
                }
                return Ok(answer);
            }
        }
    }
}

fn answer_index(answer: &ControllerResponse) -> Option<Index> {
    match answer {
        ControllerResponse::Registered { index }
        | ControllerResponse::Topics { index, .. }
        | ControllerResponse::Deleted { index, .. }
        | ControllerResponse::PartitionsAdded { index, .. }
        | ControllerResponse::ProducerIds { index, .. } => Some(*index),
        _ => None,
    }
}

/// Serves a request another node sent this node's controller shard, in its
/// turn.
pub fn serve_controller_request(
    shard: Rc<Shard>,
    from: NodeId,
    request: ControllerRequest,
) -> impl Future<Output = ControllerResponse> + 'static {
    // Requests can arrive before this node's controller has started.
    let node = shard.cluster.get().cloned();
    let ticket = node.as_ref().map(|node| node.order.ticket());
    async move {
        let (Some(node), Some(ticket)) = (node, ticket) else {
            return ControllerResponse::NotLeader { leader: None };
        };
        let _turn = ticket.turn().await;
        if !node.controller.is_leader() {
            return ControllerResponse::NotLeader {
                leader: node.controller.leader(),
            };
        }
        lead(&shard, &node, from, request).await
    }
}

/// Runs a request on the leader (this node). Changes are committed (and
/// applied here) before the answer.
async fn lead(
    shard: &Rc<Shard>,
    node: &Rc<ClusterNode>,
    from: NodeId,
    request: ControllerRequest,
) -> ControllerResponse {
    let failed = |e: TopicError| ControllerResponse::Failed(wire_error(&e));
    match request {
        ControllerRequest::Register {
            node_id,
            incarnation,
            endpoints,
            rpc_host,
            rpc_port,
            rack,
            shard_count,
        } => {
            if let Some(existing) =
                live_duplicate(shard, node, node_id, incarnation, &rpc_host, rpc_port)
            {
                return failed(TopicError::DuplicateBroker { node_id, existing });
            }
            if !node.controller.is_member(node_id) {
                // It must receive the log to catch up: a learner.
                if let Err(e) = node.controller.add_learner(node_id) {
                    return failed(e.into());
                }
            }
            let registration = RegisterBroker {
                node_id,
                incarnation,
                endpoints: endpoints
                    .into_iter()
                    .map(|e| Endpoint {
                        listener: e.listener,
                        host: e.host,
                        port: e.port,
                    })
                    .collect(),
                rpc_host,
                rpc_port,
                rack,
                shard_count,
            };
            match commit(shard, node, &[MetadataRecord::RegisterBroker(registration)]).await {
                Ok(index) => {
                    node.sessions.borrow_mut().insert(
                        node_id,
                        Session {
                            incarnation,
                            last_heartbeat: Instant::now(),
                            applied: 0,
                            registered_at: index,
                        },
                    );
                    tracing::info!(node_id, from, incarnation, index, "broker registered");
                    ControllerResponse::Registered { index }
                }
                Err(e) => failed(e),
            }
        }
        ControllerRequest::Heartbeat {
            node_id,
            incarnation,
            applied,
        } => {
            if !record_heartbeat(shard, node, node_id, incarnation, applied) {
                return ControllerResponse::Heartbeat { fenced: true };
            }
            if !shard.metadata.image().is_live(node_id) {
                // Unfence at once when it caught up, rather than at the next
                // round of the leader's duties.
                set_liveness(shard, node, node_id, incarnation, true).await;
            }
            let fenced = !shard.metadata.image().is_live(node_id);
            ControllerResponse::Heartbeat { fenced }
        }
        ControllerRequest::CreateTopics {
            topics,
            validate_only,
        } => {
            let mut results = Vec::with_capacity(topics.len());
            let mut last = 0;
            for topic in topics {
                let topic = NewTopic {
                    name: topic.name,
                    partitions: topic.partitions,
                    replication_factor: topic.replication_factor,
                    configs: topic.configs,
                };
                results.push(
                    match create_on_leader(shard, node, topic, validate_only).await {
                        Ok((id, partitions, rf, index)) => {
                            last = last.max(index);
                            Ok((id.0, partitions, rf))
                        }
                        Err(e) => Err(wire_error(&e)),
                    },
                );
            }
            ControllerResponse::Topics {
                index: last,
                results,
            }
        }
        ControllerRequest::CreatePartitions {
            topics,
            validate_only,
        } => {
            let mut results = Vec::with_capacity(topics.len());
            let mut last = 0;
            for (name, count, assignments) in topics {
                let records =
                    proposals::add_partitions(&shard.metadata.image(), &name, count, assignments);
                results.push(match records {
                    Ok(_) if validate_only => Ok(()),
                    Ok(records) => match commit(shard, node, &records).await {
                        Ok(index) => {
                            last = last.max(index);
                            tracing::info!(topic = %name, partitions = count, "partitions added");
                            Ok(())
                        }
                        Err(e) => Err(wire_error(&e)),
                    },
                    Err(e) => Err(wire_error(&e)),
                });
            }
            ControllerResponse::PartitionsAdded {
                index: last,
                results,
            }
        }
        ControllerRequest::DeleteTopics { names } => {
            let mut results = Vec::with_capacity(names.len());
            let mut last = 0;
            for name in names {
                results.push(match delete_on_leader(shard, node, &name).await {
                    Ok((id, index)) => {
                        last = last.max(index);
                        Ok(id.0)
                    }
                    Err(e) => Err(wire_error(&e)),
                });
            }
            ControllerResponse::Deleted {
                index: last,
                results,
            }
        }
        ControllerRequest::Describe => ControllerResponse::Described {
            node_id: shard.config.node_id,
            voters: rpc::configured_voters(&shard.config),
        },
        ControllerRequest::AllocateProducerIds { node_id } => {
            let first_id = shard.metadata.image().next_producer_id();
            match commit(
                shard,
                node,
                &[MetadataRecord::ProducerIds {
                    node_id,
                    first_id,
                    count: limits::PRODUCER_ID_BLOCK,
                }],
            )
            .await
            {
                Ok(index) => ControllerResponse::ProducerIds {
                    index,
                    first_id,
                    count: limits::PRODUCER_ID_BLOCK,
                },
                Err(e) => failed(e),
            }
        }
    }
}

/// Notes a broker's heartbeat in its session; false for an incarnation the
/// metadata does not know (a stale process: it is told it is fenced).
fn record_heartbeat(
    shard: &Shard,
    node: &ClusterNode,
    node_id: NodeId,
    incarnation: u64,
    applied: Index,
) -> bool {
    let mut sessions = node.sessions.borrow_mut();
    if let Some(session) = sessions
        .get_mut(&node_id)
        .filter(|s| s.incarnation == incarnation)
    {
        session.last_heartbeat = Instant::now();
        session.applied = session.applied.max(applied);
        return true;
    }
    let known = shard
        .metadata
        .image()
        .broker(node_id)
        .is_some_and(|b| b.registration.incarnation == incarnation);
    if known {
        // Registered with an earlier leader: it has caught up once it has
        // applied what this leader has.
        sessions.insert(
            node_id,
            Session {
                incarnation,
                last_heartbeat: Instant::now(),
                applied,
                registered_at: shard.metadata.applied(),
            },
        );
    }
    known
}

/// Another live broker registered as `node_id` (a different process, at
/// another address, that still heartbeats): its address. A restart of the
/// same broker (same address, new incarnation) is not a duplicate.
fn live_duplicate(
    shard: &Shard,
    node: &ClusterNode,
    node_id: NodeId,
    incarnation: u64,
    rpc_host: &str,
    rpc_port: u16,
) -> Option<String> {
    let image = shard.metadata.image();
    let broker = image.broker(node_id)?;
    let same_address =
        broker.registration.rpc_host == rpc_host && broker.registration.rpc_port == rpc_port;
    if broker.fenced || broker.registration.incarnation == incarnation || same_address {
        return None;
    }
    let session_timeout = Duration::from_millis(shard.config.cluster.broker_session_timeout_ms);
    let alive = node.sessions.borrow().get(&node_id).is_some_and(|s| {
        s.incarnation == broker.registration.incarnation
            && s.last_heartbeat.elapsed() < session_timeout
    });
    alive.then(|| {
        format!(
            "{}:{}",
            broker.registration.rpc_host, broker.registration.rpc_port
        )
    })
}

/// Proposes `records` on the leader (this node); completes once they are
/// committed and applied here.
async fn commit(
    shard: &Rc<Shard>,
    node: &ClusterNode,
    records: &[MetadataRecord],
) -> Result<Index, TopicError> {
    let index = node.controller.propose(records).await?;
    debug_assert!(shard.metadata.applied() >= index);
    Ok(index)
}

fn wire_error(e: &TopicError) -> WireError {
    WireError {
        code: e.error_code().code(),
        message: e.to_string(),
    }
}

fn topic_error(e: WireError) -> TopicError {
    TopicError::Remote {
        code: e.code,
        message: e.message,
    }
}

async fn create_on_leader(
    shard: &Rc<Shard>,
    node: &ClusterNode,
    topic: NewTopic,
    validate_only: bool,
) -> Result<(TopicId, i32, i16, Index), TopicError> {
    let records = topic_records(shard, &topic)?;
    let MetadataRecord::Topic { id, .. } = &records[0] else {
        unreachable!("a topic's records start with the topic");
    };
    let id = *id;
    let replication_factor = match &records[1] {
        MetadataRecord::Partition(p) => p.replicas.len() as i16,
        _ => unreachable!("a topic's records continue with its partitions"),
    };
    if validate_only {
        return Ok((id, topic.partitions, replication_factor, 0));
    }
    let index = commit(shard, node, &records).await?;
    // A concurrent creation of the same name (an earlier leader's entry,
    // say) wins: the image decides.
    match shard.metadata.image().topic_by_name(&topic.name) {
        Some(t) if t.id == id => {
            tracing::info!(topic = %topic.name, partitions = topic.partitions, replication_factor, "topic created");
            Ok((id, topic.partitions, replication_factor, index))
        }
        _ => Err(TopicError::AlreadyExists),
    }
}

/// The records creating `topic` on this leader's image, with a fresh id.
fn topic_records(shard: &Shard, topic: &NewTopic) -> Result<Vec<MetadataRecord>, TopicError> {
    let image = shard.metadata.image();
    let live = image.brokers().filter(|b| !b.fenced).count();
    let default_rf = shard.config.topics.default_replication_factor(live);
    proposals::create_topic(&image, topic, TopicId(random_uuid()), default_rf)
}

/// A version-4 UUID from the kernel's random source. Chosen by the
/// proposer, never inside `apply` (which must be deterministic).
fn random_uuid() -> [u8; 16] {
    let mut id = [0u8; 16];
    // SAFETY: the buffer is valid for 16 bytes; getrandom writes at most that.
    let n = unsafe { libc::getrandom(id.as_mut_ptr().cast(), id.len(), 0) };
    assert_eq!(n, 16, "getrandom failed");
    id[6] = (id[6] & 0x0f) | 0x40;
    id[8] = (id[8] & 0x3f) | 0x80;
    id
}

async fn delete_on_leader(
    shard: &Rc<Shard>,
    node: &ClusterNode,
    name: &str,
) -> Result<(TopicId, Index), TopicError> {
    if name == OFFSETS_TOPIC {
        return Err(TopicError::InvalidName(format!("{name} is internal")));
    }
    let id = shard
        .metadata
        .image()
        .topic_by_name(name)
        .map(|t| t.id)
        .ok_or(TopicError::Unknown)?;
    let index = commit(shard, node, &[MetadataRecord::RemoveTopic { topic_id: id }]).await?;
    tracing::info!(topic = name, "topic deleted");
    Ok((id, index))
}

/// Creates `topics` (each independently), or only validates them. Returns
/// once the request is on its way to the controller shard, with the future
/// of one result per topic (its id, partitions, replication factor), in
/// order.
pub async fn create_topics(
    shard: &Rc<Shard>,
    topics: Vec<NewTopic>,
    validate_only: bool,
) -> impl Future<Output = Vec<Result<(TopicId, i32, i16), TopicError>>> + 'static {
    let count = topics.len();
    let answer = on_controller_shard(shard, move |shard, node| async move {
        let request = ControllerRequest::CreateTopics {
            topics: topics
                .into_iter()
                .map(|t| WireNewTopic {
                    name: t.name,
                    partitions: t.partitions,
                    replication_factor: t.replication_factor,
                    configs: t.configs,
                })
                .collect(),
            validate_only,
        };
        match ask_controller(&shard, &node, request).await {
            Ok(ControllerResponse::Topics { results, .. }) => results
                .into_iter()
                .map(|r| {
                    r.map(|(id, partitions, rf)| (TopicId(id), partitions, rf))
                        .map_err(topic_error)
                })
                .collect(),
            Ok(other) => vec![Err(unexpected(other)); count],
            Err(e) => vec![Err(e); count],
        }
    })
    .await;
    async move {
        answer
            .await
            .unwrap_or_else(|e| (0..count).map(|_| Err(e.clone())).collect())
    }
}

fn unexpected(answer: ControllerResponse) -> TopicError {
    match answer {
        ControllerResponse::Failed(e) => topic_error(e),
        other => TopicError::Remote {
            code: net::ErrorCode::UnknownServerError.code(),
            message: format!("unexpected controller answer {other:?}"),
        },
    }
}

/// Grows each topic to its partition count (with the given replica
/// assignments of the new partitions, or placed by the controller), or only
/// validates the change. Returns once the request is on its way to the
/// controller shard, with the future of one result per topic, in order.
pub async fn create_partitions(
    shard: &Rc<Shard>,
    topics: Vec<rpc::PartitionGrowth>,
    validate_only: bool,
) -> impl Future<Output = Vec<Result<(), TopicError>>> + 'static {
    let count = topics.len();
    let answer = on_controller_shard(shard, move |shard, node| async move {
        let request = ControllerRequest::CreatePartitions {
            topics,
            validate_only,
        };
        match ask_controller(&shard, &node, request).await {
            Ok(ControllerResponse::PartitionsAdded { results, .. }) => results
                .into_iter()
                .map(|r| r.map_err(topic_error))
                .collect(),
            Ok(other) => vec![Err(unexpected(other)); count],
            Err(e) => vec![Err(e); count],
        }
    })
    .await;
    async move {
        answer
            .await
            .unwrap_or_else(|e| (0..count).map(|_| Err(e.clone())).collect())
    }
}

/// Makes sure `name` exists, creating it with the default partition count
/// if auto-creation is on. Returns the topic's partition count.
pub async fn ensure_topic(shard: &Rc<Shard>, name: &str) -> Result<i32, TopicError> {
    if let Some(partitions) = shard.metadata.partition_count(name) {
        return Ok(partitions);
    }
    if !shard.config.topics.auto_create {
        return Err(TopicError::Unknown);
    }
    let topic = NewTopic {
        name: name.to_string(),
        partitions: shard.config.topics.default_partitions,
        replication_factor: -1,
        configs: Vec::new(),
    };
    let created = create_topics(shard, vec![topic], false).await.await;
    match created.into_iter().next().expect("one result per topic") {
        Ok((_, partitions, _)) => Ok(partitions),
        // Someone else created it meanwhile: fine.
        Err(e) if e.is_already_exists() => shard
            .metadata
            .partition_count(name)
            .ok_or(TopicError::Unknown),
        Err(e) => Err(e),
    }
}

/// Deletes the named topics. Returns once the request is on its way to the
/// controller shard, with the future of one result per name (the deleted
/// topic's id), in order.
pub async fn delete_topics(
    shard: &Rc<Shard>,
    names: Vec<String>,
) -> impl Future<Output = Vec<Result<TopicId, TopicError>>> + 'static {
    let count = names.len();
    let answer = on_controller_shard(shard, move |shard, node| async move {
        match ask_controller(&shard, &node, ControllerRequest::DeleteTopics { names }).await {
            Ok(ControllerResponse::Deleted { results, .. }) => results
                .into_iter()
                .map(|r| r.map(TopicId).map_err(topic_error))
                .collect(),
            Ok(other) => vec![Err(unexpected(other)); count],
            Err(e) => vec![Err(e); count],
        }
    })
    .await;
    async move {
        answer
            .await
            .unwrap_or_else(|e| (0..count).map(|_| Err(e.clone())).collect())
    }
}

/// Hands out a new producer id (epoch 0) from this broker's block, asking
/// the controller for a new block when it runs out. Returns once the
/// request is on its way to the controller shard.
pub async fn allocate_producer_id(
    shard: &Rc<Shard>,
) -> impl Future<Output = Result<i64, TopicError>> + 'static {
    let answer = on_controller_shard(shard, |shard, node| async move {
        let (next, end) = node.producer_ids.get();
        if next >= end {
            let request = ControllerRequest::AllocateProducerIds {
                node_id: shard.config.node_id,
            };
            match ask_controller(&shard, &node, request).await? {
                ControllerResponse::ProducerIds {
                    first_id, count, ..
                } => node
                    .producer_ids
                    .set((first_id, first_id + i64::from(count))),
                other => return Err(unexpected(other)),
            }
        }
        let (next, end) = node.producer_ids.get();
        assert!(next < end, "a fresh producer id block");
        node.producer_ids.set((next + 1, end));
        Ok(next)
    })
    .await;
    async move { answer.await? }
}

/// Registers this broker with the controller leader (after importing a
/// pre-controller catalogue on a node alone), then keeps its session alive
/// with heartbeats from a background task. Returns once registered and
/// caught up (unfenced).
pub async fn join(shard: Rc<Shard>, node: Rc<ClusterNode>) -> Result<(), TopicError> {
    let config = &shard.config;
    let node_id = config.node_id;
    let request = ControllerRequest::Register {
        node_id,
        incarnation: node.incarnation,
        endpoints: vec![WireEndpoint {
            listener: "PLAINTEXT".into(),
            host: config.advertise_host.clone(),
            port: config.advertise_port,
        }],
        rpc_host: config.cluster.rpc_advertise_host.clone(),
        rpc_port: config.cluster.rpc_advertise_port,
        rack: config.cluster.rack.clone(),
        shard_count: config.shards.len() as u16,
    };
    match ask_controller(&shard, &node, request).await? {
        ControllerResponse::Registered { index } => {
            tracing::info!(
                node_id,
                incarnation = node.incarnation,
                index,
                "registered with the controller"
            );
        }
        other => return Err(unexpected(other)),
    }
    if config.cluster.is_alone() {
        import_legacy_catalogue(&shard, &node).await?;
    }
    // Heartbeats until unfenced, then forever in the background.
    let interval = Duration::from_millis(config.cluster.broker_heartbeat_interval_ms);
    let fenced = heartbeat(&shard, &node).await?;
    let started = Instant::now();
    let mut fenced = fenced;
    while fenced {
        glommio::timer::sleep(Duration::from_millis(20).min(interval)).await;
        fenced = heartbeat(&shard, &node).await?;
        if started.elapsed() > FIND_LEADER_TIMEOUT {
            tracing::warn!(
                node_id,
                "still fenced; serving what the metadata gives meanwhile"
            );
            break;
        }
    }
    let (shard, node) = (shard.clone(), node.clone());
    glommio::spawn_local(async move {
        loop {
            glommio::timer::sleep(interval).await;
            if let Err(e) = heartbeat(&shard, &node).await {
                tracing::debug!(error = %e, "heartbeat failed");
            }
        }
    })
    .detach();
    Ok(())
}

/// One heartbeat to the leader; whether this broker is fenced.
async fn heartbeat(shard: &Rc<Shard>, node: &Rc<ClusterNode>) -> Result<bool, TopicError> {
    let request = ControllerRequest::Heartbeat {
        node_id: shard.config.node_id,
        incarnation: node.incarnation,
        applied: node.controller.applied(),
    };
    match ask_controller(shard, node, request).await? {
        ControllerResponse::Heartbeat { fenced } => Ok(fenced),
        other => Err(unexpected(other)),
    }
}

/// A node alone upgraded from a broker without controller: its topics come
/// from the old catalogue file, once.
async fn import_legacy_catalogue(
    shard: &Rc<Shard>,
    node: &Rc<ClusterNode>,
) -> Result<(), TopicError> {
    if shard.metadata.image().topic_count() > 0 {
        return Ok(());
    }
    let records = match super::legacy::import(&shard.config.data_dir, shard.config.node_id) {
        Ok(Some(records)) => records,
        Ok(None) => return Ok(()),
        Err(e) => {
            tracing::error!(error = %e, "cannot read the old topic catalogue; not imported");
            return Ok(());
        }
    };
    if !records.is_empty() {
        let index = commit(shard, node, &records).await?;
        wait_everywhere(shard, index).await?;
    }
    if let Err(e) = super::legacy::retire(&shard.config.data_dir) {
        tracing::warn!(error = %e, "cannot rename the imported catalogue");
    }
    tracing::info!(
        records = records.len(),
        "topics imported from the old catalogue"
    );
    Ok(())
}

/// On the leader: fences (`live` false) or unfences a broker incarnation,
/// moving partition leadership with it; an unfence only once the broker's
/// session says it has applied its own registration.
async fn set_liveness(
    shard: &Rc<Shard>,
    node: &ClusterNode,
    node_id: NodeId,
    incarnation: u64,
    live: bool,
) {
    if live {
        let caught_up = node.sessions.borrow().get(&node_id).is_some_and(|s| {
            s.incarnation == incarnation && s.registered_at > 0 && s.applied >= s.registered_at
        });
        if !caught_up {
            return;
        }
    }
    let mut records = vec![if live {
        MetadataRecord::UnfenceBroker {
            node_id,
            incarnation,
        }
    } else {
        MetadataRecord::FenceBroker {
            node_id,
            incarnation,
        }
    }];
    records.extend(shard.metadata.image().leadership_changes(node_id, live));
    match commit(shard, node, &records).await {
        Ok(_) if live => {
            tracing::info!(node_id, "broker caught up; unfenced");
            ensure_offsets_topic(shard, node).await;
        }
        Ok(_) => {}
        Err(e) => tracing::debug!(node_id, error = %e, "fencing change not committed"),
    }
}

/// Creates `__consumer_offsets`, if it does not exist, once every voter is
/// a live broker (its partitions then spread over them), or once this
/// leader has waited [`OFFSETS_TOPIC_GRACE`] for them.
async fn ensure_offsets_topic(shard: &Rc<Shard>, node: &ClusterNode) {
    if shard.metadata.partition_count(OFFSETS_TOPIC).is_some() {
        return;
    }
    let (live, voters_live) = {
        let image = shard.metadata.image();
        let voters = shard.config.cluster.initial_voters(shard.config.node_id);
        (
            image.brokers().filter(|b| !b.fenced).count(),
            voters.iter().all(|&v| image.is_live(v)),
        )
    };
    let waited = node
        .leader_since
        .get()
        .is_some_and(|since| since.elapsed() >= OFFSETS_TOPIC_GRACE);
    if live == 0 || !(voters_live || waited) {
        return;
    }
    let topic = NewTopic {
        name: OFFSETS_TOPIC.to_string(),
        partitions: crate::group::limits::OFFSETS_TOPIC_PARTITIONS,
        replication_factor: 1,
        configs: Vec::new(),
    };
    match create_on_leader(shard, node, topic, false).await {
        Ok(_) | Err(TopicError::AlreadyExists) => {}
        Err(e) => tracing::warn!(error = %e, "cannot create {OFFSETS_TOPIC} yet"),
    }
}

/// While this node leads the controller: fences brokers whose session
/// expired, unfences registered brokers that caught up (moving leadership
/// accordingly), and creates `__consumer_offsets` once a broker is live.
async fn leader_duties(shard: Rc<Shard>, node: Rc<ClusterNode>) {
    let session_timeout = Duration::from_millis(shard.config.cluster.broker_session_timeout_ms);
    loop {
        glommio::timer::sleep(LEADER_DUTIES_INTERVAL).await;
        if !node.controller.is_leader() {
            node.leader_since.set(None);
            node.sessions.borrow_mut().clear();
            continue;
        }
        let now = Instant::now();
        let since = *node.leader_since.get().get_or_insert(now);
        node.leader_since.set(Some(since));
        let _turn = node.order.ticket().turn().await;
        let mut changes = Vec::new();
        {
            let image = shard.metadata.image();
            let sessions = node.sessions.borrow();
            for broker in image.brokers() {
                let node_id = broker.node_id();
                let incarnation = broker.registration.incarnation;
                let session = sessions
                    .get(&node_id)
                    .filter(|s| s.incarnation == incarnation);
                let last_heard = session.map_or(since, |s| s.last_heartbeat.max(since));
                let expired = now.duration_since(last_heard) > session_timeout;
                if !broker.fenced && expired {
                    tracing::warn!(node_id, "broker missed its heartbeats; fencing it");
                    changes.push((node_id, incarnation, false));
                } else if broker.fenced
                    && !expired
                    && session.is_some_and(|s| s.applied >= s.registered_at && s.registered_at > 0)
                {
                    changes.push((node_id, incarnation, true));
                }
            }
        }
        for (node_id, incarnation, live) in changes {
            set_liveness(&shard, &node, node_id, incarnation, live).await;
        }
        ensure_offsets_topic(&shard, &node).await;
    }
}

impl From<ProposalError> for TopicError {
    fn from(e: ProposalError) -> Self {
        match e {
            ProposalError::NotLeader { leader } => TopicError::NotController(leader),
            other => TopicError::Proposal(other),
        }
    }
}

impl From<ShardGone> for TopicError {
    fn from(e: ShardGone) -> Self {
        TopicError::ShardGone(e)
    }
}
