//! The client's view of the cluster: bootstrap, brokers, topic metadata,
//! leader routing and the one-off admin requests (CreateTopics, ListOffsets,
//! InitProducerId). One `Client` per executor; it is not `Send`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::rc::Rc;
use std::time::Duration;

use super::conn::Connection;
use super::error::{ClientError, ClientResult};
use super::limits;
use crate::error::ErrorCode;
use crate::msg::create_topics_request::CreatableTopic;
use crate::msg::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use crate::msg::metadata_request::MetadataRequestTopic;
use crate::msg::*;

#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `host:port` addresses tried in order until one answers.
    pub bootstrap: Vec<String>,
    /// Requests in flight per connection.
    pub in_flight_requests_max: usize,
    /// How long a request may go unanswered before its connection is
    /// declared broken (long-poll fetches add their wait to it).
    pub request_timeout: Duration,
}

impl ClientConfig {
    pub fn new(bootstrap: impl Into<String>) -> Self {
        Self {
            bootstrap: vec![bootstrap.into()],
            in_flight_requests_max: limits::IN_FLIGHT_REQUESTS_DEFAULT,
            request_timeout: limits::REQUEST_TIMEOUT,
        }
    }
}

/// Leader of every partition of one topic; `None` while it has none.
#[derive(Debug, Clone)]
struct TopicMeta {
    leaders: Vec<Option<i32>>,
}

pub struct Client {
    config: ClientConfig,
    bootstrap: RefCell<Rc<Connection>>,
    brokers: RefCell<HashMap<i32, SocketAddr>>,
    connections: RefCell<HashMap<i32, Rc<Connection>>>,
    topics: RefCell<HashMap<String, TopicMeta>>,
}

fn broker_error(context: impl Into<String>, code: i16) -> ClientResult<()> {
    match ErrorCode::from(code) {
        ErrorCode::None => Ok(()),
        code => Err(ClientError::Broker {
            context: context.into(),
            code,
        }),
    }
}

impl Client {
    /// Connects to the first bootstrap address that answers ApiVersions.
    pub async fn connect(config: ClientConfig) -> ClientResult<Rc<Client>> {
        if config.bootstrap.is_empty() {
            return Err(ClientError::Config("no bootstrap address".into()));
        }
        if config.request_timeout.is_zero() {
            return Err(ClientError::Config("request timeout must be > 0".into()));
        }
        if !(1..=limits::IN_FLIGHT_REQUESTS_MAX).contains(&config.in_flight_requests_max) {
            return Err(ClientError::Config(format!(
                "in-flight requests must be 1..={}",
                limits::IN_FLIGHT_REQUESTS_MAX
            )));
        }
        let mut last = None;
        for addr in &config.bootstrap {
            match connect_any(addr, &config).await {
                Ok(conn) => {
                    let client = Rc::new(Client {
                        config,
                        bootstrap: RefCell::new(conn),
                        brokers: RefCell::new(HashMap::new()),
                        connections: RefCell::new(HashMap::new()),
                        topics: RefCell::new(HashMap::new()),
                    });
                    client.refresh_metadata(&[]).await?;
                    return Ok(client);
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.expect("at least one address was tried"))
    }

    /// A connection for cluster-wide requests, reconnected if broken.
    pub async fn any_connection(&self) -> ClientResult<Rc<Connection>> {
        let conn = self.bootstrap.borrow().clone();
        if !conn.is_broken() {
            return Ok(conn);
        }
        let addr = conn.addr().to_string();
        let fresh = connect_any(&addr, &self.config).await?;
        *self.bootstrap.borrow_mut() = fresh.clone();
        Ok(fresh)
    }

    /// Re-reads brokers and the metadata of `topics` (plus every topic known
    /// so far). Missing topics are auto-created if the broker allows it.
    pub async fn refresh_metadata(&self, topics: &[String]) -> ClientResult<()> {
        let mut names: Vec<String> = self.topics.borrow().keys().cloned().collect();
        for t in topics {
            if !names.contains(t) {
                names.push(t.clone());
            }
        }
        let request = MetadataRequest {
            topics: Some(
                names
                    .iter()
                    .map(|n| MetadataRequestTopic {
                        name: Some(n.clone()),
                        ..Default::default()
                    })
                    .collect(),
            ),
            allow_auto_topic_creation: true,
            ..Default::default()
        };
        let conn = self.any_connection().await?;
        let (reply, _) = conn.request(&request, Duration::ZERO).await?;
        let mut brokers = self.brokers.borrow_mut();
        for b in &reply.brokers {
            let addr = (b.host.as_str(), b.port as u16)
                .to_socket_addrs()
                .ok()
                .and_then(|mut a| a.next());
            if let Some(addr) = addr {
                brokers.insert(b.node_id, addr);
            }
        }
        let mut known = self.topics.borrow_mut();
        for t in &reply.topics {
            let Some(name) = &t.name else { continue };
            if ErrorCode::from(t.error_code) != ErrorCode::None {
                // Leader not available yet (e.g. just auto-created): keep
                // the topic unknown and let the caller retry.
                known.remove(name);
                continue;
            }
            let count = t
                .partitions
                .iter()
                .map(|p| p.partition_index + 1)
                .max()
                .unwrap_or(0)
                .max(0) as usize;
            let mut leaders = vec![None; count];
            for p in &t.partitions {
                let ok = ErrorCode::from(p.error_code) == ErrorCode::None && p.leader_id >= 0;
                if p.partition_index >= 0 {
                    leaders[p.partition_index as usize] = ok.then_some(p.leader_id);
                }
            }
            known.insert(name.clone(), TopicMeta { leaders });
        }
        Ok(())
    }

    /// Partitions of `topic` per the last metadata, if known.
    pub fn partition_count(&self, topic: &str) -> Option<usize> {
        self.topics.borrow().get(topic).map(|t| t.leaders.len())
    }

    /// Creates topics (an existing topic is fine), then waits until every
    /// partition has a leader. Brokers without CreateTopics fall back to
    /// auto-creation through Metadata.
    pub async fn create_topics(
        &self,
        topics: &[(String, i32)],
        timeout: Duration,
    ) -> ClientResult<()> {
        let conn = self.any_connection().await?;
        if conn.version(crate::api::ApiKey::CreateTopics).is_ok() {
            let request = CreateTopicsRequest {
                topics: topics
                    .iter()
                    .map(|(name, partitions)| CreatableTopic {
                        name: name.clone(),
                        num_partitions: *partitions,
                        replication_factor: -1,
                        ..Default::default()
                    })
                    .collect(),
                timeout_ms: timeout.as_millis().min(i32::MAX as u128) as i32,
                validate_only: false,
            };
            let (reply, _) = conn.request(&request, timeout).await?;
            for t in &reply.topics {
                let code = ErrorCode::from(t.error_code);
                if code != ErrorCode::TopicAlreadyExists {
                    broker_error(format!("creating topic {}", t.name), t.error_code)?;
                }
            }
        }
        let names: Vec<String> = topics.iter().map(|(n, _)| n.clone()).collect();
        let deadline = std::time::Instant::now() + timeout;
        loop {
            self.refresh_metadata(&names).await?;
            let ready = {
                let known = self.topics.borrow();
                topics.iter().all(|(n, p)| {
                    known.get(n).is_some_and(|t| {
                        t.leaders.len() >= *p as usize && t.leaders.iter().all(Option::is_some)
                    })
                })
            };
            if ready {
                return Ok(());
            }
            if std::time::Instant::now() >= deadline {
                return Err(ClientError::Config(format!(
                    "topics {names:?} did not get leaders for all partitions within {} ms",
                    timeout.as_millis()
                )));
            }
            glommio::timer::sleep(limits::RETRY_BACKOFF).await;
        }
    }

    /// The connection to the leader of `topic`-`partition`, opened on first
    /// use and reopened if it broke.
    pub async fn leader(&self, topic: &str, partition: i32) -> ClientResult<Rc<Connection>> {
        let node = {
            let topics = self.topics.borrow();
            let meta = topics
                .get(topic)
                .ok_or_else(|| ClientError::UnknownPartition(topic.to_string(), partition))?;
            match meta.leaders.get(partition as usize) {
                None => return Err(ClientError::UnknownPartition(topic.to_string(), partition)),
                Some(None) => {
                    return Err(ClientError::NoLeader {
                        topic: topic.to_string(),
                        partition,
                    })
                }
                Some(Some(node)) => *node,
            }
        };
        self.node(node).await
    }

    /// The leader's node id per the last metadata, if known (no I/O).
    pub fn leader_id(&self, topic: &str, partition: i32) -> Option<i32> {
        self.topics
            .borrow()
            .get(topic)?
            .leaders
            .get(partition as usize)
            .copied()
            .flatten()
    }

    /// The connection to broker `node`, opened on first use.
    pub async fn node(&self, node: i32) -> ClientResult<Rc<Connection>> {
        if let Some(c) = self.connections.borrow().get(&node) {
            if !c.is_broken() {
                return Ok(c.clone());
            }
        }
        let addr =
            self.brokers
                .borrow()
                .get(&node)
                .copied()
                .ok_or_else(|| ClientError::Connect {
                    addr: format!("node {node}"),
                    reason: "not in the broker list of the metadata".into(),
                })?;
        let conn = Connection::connect(
            addr,
            self.config.in_flight_requests_max,
            self.config.request_timeout,
        )
        .await?;
        self.connections.borrow_mut().insert(node, conn.clone());
        Ok(conn)
    }

    /// The offset of `timestamp` in each partition: -1 is the end (the next
    /// offset to be written), -2 the start.
    pub async fn list_offsets(
        &self,
        topic: &str,
        partitions: &[i32],
        timestamp: i64,
    ) -> ClientResult<Vec<i64>> {
        let mut out = Vec::with_capacity(partitions.len());
        for &p in partitions {
            let conn = self.leader(topic, p).await?;
            let request = ListOffsetsRequest {
                replica_id: -1,
                isolation_level: 0,
                topics: vec![ListOffsetsTopic {
                    name: topic.to_string(),
                    partitions: vec![ListOffsetsPartition {
                        partition_index: p,
                        timestamp,
                        ..Default::default()
                    }],
                }],
            };
            let (reply, _) = conn.request(&request, Duration::ZERO).await?;
            let part = reply
                .topics
                .iter()
                .flat_map(|t| t.partitions.iter())
                .find(|r| r.partition_index == p)
                .ok_or_else(|| ClientError::Decode {
                    addr: conn.addr(),
                    api: crate::api::ApiKey::ListOffsets,
                    reason: format!("no answer for partition {p}"),
                })?;
            broker_error(format!("listing offsets of {topic}-{p}"), part.error_code)?;
            out.push(part.offset);
        }
        Ok(out)
    }

    /// A producer id and epoch for idempotent producing.
    pub async fn init_producer_id(&self) -> ClientResult<(i64, i16)> {
        let conn = self.any_connection().await?;
        let request = InitProducerIdRequest {
            transactional_id: None,
            transaction_timeout_ms: 60_000,
            ..Default::default()
        };
        let (reply, _) = conn.request(&request, Duration::ZERO).await?;
        broker_error("InitProducerId", reply.error_code)?;
        Ok((reply.producer_id, reply.producer_epoch))
    }
}

async fn connect_any(addr: &str, config: &ClientConfig) -> ClientResult<Rc<Connection>> {
    let addrs: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .map_err(|e| ClientError::Connect {
            addr: addr.to_string(),
            reason: e.to_string(),
        })?
        .collect();
    let mut last = ClientError::Connect {
        addr: addr.to_string(),
        reason: "resolves to no address".into(),
    };
    for a in addrs {
        match Connection::connect(a, config.in_flight_requests_max, config.request_timeout).await {
            Ok(c) => return Ok(c),
            Err(e) => last = e,
        }
    }
    Err(last)
}
