//! One member of a group, and how member ids are made.

use bytes::Bytes;

use super::api::{Protocol, RequestId};
use super::limits;

#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout_ms: u64,
    pub rebalance_timeout_ms: u64,
    /// In the member's order of preference.
    pub protocols: Vec<Protocol>,
    pub assignment: Bytes,
    /// The JoinGroup waiting for the current rebalance to complete.
    pub awaiting_join: Option<RequestId>,
    /// The SyncGroup waiting for the leader's assignment.
    pub awaiting_sync: Option<RequestId>,
    /// The member is removed when this passes without a heartbeat, unless it
    /// is waiting in a join or sync round (those have their own deadline).
    pub session_deadline_ms: u64,
    /// Order of arrival; the earliest member becomes leader when the leader
    /// is gone, which keeps leader choice deterministic.
    pub join_seq: u64,
}

impl Member {
    pub fn metadata_for(&self, protocol: &str) -> Option<&Bytes> {
        self.protocols
            .iter()
            .find(|p| p.name == protocol)
            .map(|p| &p.metadata)
    }

    pub fn supports(&self, protocol: &str) -> bool {
        self.metadata_for(protocol).is_some()
    }

    pub fn same_protocols(&self, protocols: &[Protocol]) -> bool {
        self.protocols == protocols
    }

    /// Whether the session timer may remove the member now.
    pub fn session_expired(&self, now_ms: u64) -> bool {
        self.awaiting_join.is_none()
            && self.awaiting_sync.is_none()
            && now_ms >= self.session_deadline_ms
    }

    pub fn touch(&mut self, now_ms: u64) {
        self.session_deadline_ms = now_ms + self.session_timeout_ms;
    }
}

/// Generates member ids that are unique across restarts of the broker: the
/// nonce differs per start (the engine seeds it from the clock), the counter
/// per member. Kafka's ids look like `client-id-<uuid>`; clients treat them
/// as opaque.
#[derive(Debug, Clone)]
pub(crate) struct MemberIds {
    nonce: u64,
    next: u64,
}

impl MemberIds {
    pub fn new(nonce: u64) -> Self {
        Self { nonce, next: 0 }
    }

    pub fn generate(&mut self, client_id: &str) -> String {
        let mut end = client_id.len().min(limits::MEMBER_ID_PREFIX_BYTES_MAX);
        while !client_id.is_char_boundary(end) {
            end -= 1;
        }
        self.next += 1;
        format!(
            "{}-{:016x}-{:08x}",
            &client_id[..end],
            self.nonce,
            self.next
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_ids_are_unique_and_prefixed_by_a_truncated_client_id() {
        let mut ids = MemberIds::new(0xabc);
        let a = ids.generate("consumer");
        let b = ids.generate("consumer");
        assert_ne!(a, b);
        assert!(a.starts_with("consumer-0000000000000abc-"));
        let long = "é".repeat(100);
        let c = ids.generate(&long);
        assert!(c.len() < long.len());
        assert!(c.starts_with("éé"));
        let mut other_start = MemberIds::new(0xabd);
        assert_ne!(other_start.generate("consumer"), a);
    }
}
