//! The engine's side of the node-to-node transport (`net::rpc`): one link per
//! remote node on each shard, addressed by Raft node id, and the routing of
//! what arrives to the shard that owns it.
//!
//! Addresses come from the configured voters and, once registered, from the
//! brokers' registrations in the metadata image.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use consensus::wire::{self, Envelope};
use consensus::{GroupId, Message, NodeId};
use net::rpc::{CallError, Link};

/// A shard's links to the other nodes.
pub struct Transport {
    config: Option<net::rpc::Config>,
    local: NodeId,
    links: RefCell<HashMap<NodeId, Rc<Link>>>,
    addresses: RefCell<HashMap<NodeId, SocketAddr>>,
}

impl Transport {
    /// A transport for `local` (a Raft node id) with `config`; `None` for a
    /// node alone, which has nobody to talk to.
    pub fn new(local: NodeId, config: Option<net::rpc::Config>) -> Self {
        Self {
            config,
            local,
            links: RefCell::new(HashMap::new()),
            addresses: RefCell::new(HashMap::new()),
        }
    }

    /// Learns (or updates) where `node` takes node-to-node connections.
    pub fn set_address(&self, node: NodeId, host: &str, port: u16) {
        if node == self.local {
            return;
        }
        let Some(addr) = (host, port)
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
        else {
            tracing::warn!(node, host, port, "cannot resolve a node's address");
            return;
        };
        let changed = self.addresses.borrow_mut().insert(node, addr) != Some(addr);
        if changed {
            // A link to the old address is dropped; the next send makes one.
            if let Some(old) = self.links.borrow_mut().remove(&node) {
                glommio::spawn_local(async move { old.close().await }).detach();
            }
        }
    }

    fn link(&self, node: NodeId) -> Option<Rc<Link>> {
        let config = self.config.as_ref()?;
        if let Some(link) = self.links.borrow().get(&node) {
            return Some(link.clone());
        }
        let addr = *self.addresses.borrow().get(&node)?;
        let link = Rc::new(Link::new(config, node, addr));
        self.links.borrow_mut().insert(node, link.clone());
        Some(link)
    }

    /// Sends Raft messages of `group` to their nodes, one frame per node.
    /// Best effort: a message without a route or a full queue is dropped
    /// (Raft resends).
    pub fn send_raft(&self, group: GroupId, messages: Vec<Message>) {
        if messages.is_empty() {
            return;
        }
        let envelopes = messages
            .into_iter()
            .map(|message| Envelope { group, message })
            .collect();
        for (node, frame) in wire::encode_by_destination(envelopes) {
            match self.link(node) {
                Some(link) => {
                    let _ = link.send_raft(frame);
                }
                None => tracing::debug!(node, "no route to a node; Raft message dropped"),
            }
        }
    }

    /// Calls `method` on `node` with `body`, waiting at most `timeout`.
    pub async fn call(
        &self,
        node: NodeId,
        method: u16,
        body: Bytes,
        timeout: Duration,
    ) -> Result<Bytes, TransportError> {
        let link = self.link(node).ok_or(TransportError::NoRoute(node))?;
        link.call(method, body, timeout)
            .await
            .map_err(TransportError::Call)
    }

    pub async fn close(&self) {
        let links: Vec<_> = self.links.borrow_mut().drain().map(|(_, l)| l).collect();
        for link in links {
            link.close().await;
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("no address known for node {0}")]
    NoRoute(NodeId),
    #[error(transparent)]
    Call(CallError),
}
