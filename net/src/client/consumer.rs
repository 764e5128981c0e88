//! A consumer of explicitly assigned partitions: plain (sessionless) Fetch
//! requests, one per leader, with long polling; batches are CRC-checked and
//! decompressed, and records come back as slices of the response.

use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;

use super::cluster::Client;
use super::compression::decompress;
use super::error::{ClientError, ClientResult};
use super::limits;
use crate::error::ErrorCode;
use crate::msg::fetch_request::{FetchPartition, FetchTopic};
use crate::msg::FetchRequest;
use crate::records::batches;

/// A partition and an offset in it.
type Position = (Rc<str>, i32, i64);

/// One consumed record.
#[derive(Debug, Clone)]
pub struct ConsumedRecord {
    pub topic: Rc<str>,
    pub partition: i32,
    pub offset: i64,
    pub timestamp_ms: i64,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
}

pub struct Consumer {
    client: Rc<Client>,
    /// Next offset to fetch per assigned partition.
    positions: BTreeMap<(Rc<str>, i32), i64>,
    max_wait_ms: i32,
}

impl Consumer {
    /// A consumer of `assignment` (topic, partition, first offset to read;
    /// -1 means the current end, -2 the start).
    pub async fn new(
        client: Rc<Client>,
        assignment: &[(Rc<str>, i32, i64)],
    ) -> ClientResult<Consumer> {
        let mut positions = BTreeMap::new();
        for (topic, partition, start) in assignment {
            let offset = if *start < 0 {
                client.list_offsets(topic, &[*partition], *start).await?[0]
            } else {
                *start
            };
            positions.insert((topic.clone(), *partition), offset);
        }
        Ok(Consumer {
            client,
            positions,
            max_wait_ms: limits::FETCH_MAX_WAIT_MS,
        })
    }

    /// Next offset to be read from each partition.
    pub fn positions(&self) -> &BTreeMap<(Rc<str>, i32), i64> {
        &self.positions
    }

    /// One round of fetches (one request per leader, waiting up to the long-
    /// poll time for data); returns what arrived, possibly nothing.
    pub async fn poll(&mut self) -> ClientResult<Vec<ConsumedRecord>> {
        let mut by_leader: BTreeMap<Option<i32>, Vec<Position>> = BTreeMap::new();
        for ((t, p), off) in &self.positions {
            by_leader
                .entry(self.client.leader_id(t, *p))
                .or_default()
                .push((t.clone(), *p, *off));
        }
        let mut out = Vec::new();
        for (_, parts) in by_leader {
            if let Err(e) = self.fetch_from(&parts, &mut out).await {
                if e.is_retriable() {
                    // A moved leader or a restarted broker: the next poll
                    // routes by fresh metadata. A failed refresh shows up
                    // again as the next poll's error.
                    let mut topics: Vec<String> =
                        parts.iter().map(|(t, _, _)| t.to_string()).collect();
                    topics.dedup();
                    let _ = self.client.refresh_metadata(&topics).await;
                }
                // Records already read from other leaders have advanced
                // their positions: hand them out; a lasting (retriable)
                // error comes back on the next poll.
                if e.is_retriable() && !out.is_empty() {
                    return Ok(out);
                }
                return Err(e);
            }
        }
        Ok(out)
    }

    async fn fetch_from(
        &mut self,
        parts: &[Position],
        out: &mut Vec<ConsumedRecord>,
    ) -> ClientResult<()> {
        let conn = self.client.leader(&parts[0].0, parts[0].1).await?;
        let mut topics: Vec<FetchTopic> = Vec::new();
        for (t, p, off) in parts {
            let fp = FetchPartition {
                partition: *p,
                fetch_offset: *off,
                partition_max_bytes: limits::FETCH_PARTITION_BYTES_MAX,
                ..Default::default()
            };
            match topics.iter_mut().find(|x| *x.topic == **t) {
                Some(x) => x.partitions.push(fp),
                None => topics.push(FetchTopic {
                    topic: t.to_string(),
                    partitions: vec![fp],
                }),
            }
        }
        let request = FetchRequest {
            replica_id: -1,
            max_wait_ms: self.max_wait_ms,
            min_bytes: 1,
            max_bytes: limits::FETCH_RESPONSE_BYTES_MAX,
            isolation_level: 0,
            session_id: 0,
            session_epoch: -1,
            topics,
            ..Default::default()
        };
        let extra = Duration::from_millis(self.max_wait_ms as u64);
        let (reply, _) = conn.request(&request, extra).await?;
        if ErrorCode::from(reply.error_code) != ErrorCode::None {
            return Err(ClientError::Broker {
                context: "fetch".into(),
                code: ErrorCode::from(reply.error_code),
            });
        }
        for t in &reply.responses {
            let Some((topic, _, _)) = parts.iter().find(|(n, _, _)| **n == *t.topic) else {
                continue;
            };
            for p in &t.partitions {
                let key = (topic.clone(), p.partition_index);
                let Some(&position) = self.positions.get(&key) else {
                    continue;
                };
                match ErrorCode::from(p.error_code) {
                    ErrorCode::None => {}
                    code if code.is_retriable() => {
                        let _ = self.client.refresh_metadata(&[topic.to_string()]).await;
                        continue;
                    }
                    code => {
                        return Err(ClientError::Broker {
                            context: format!(
                                "fetching {}-{} at {position}",
                                topic, p.partition_index
                            ),
                            code,
                        })
                    }
                }
                let Some(records) = &p.records else { continue };
                // A decoded set is one slice of the response: no copy.
                let records = records.to_contiguous();
                let mut next = position;
                for batch in batches(&records) {
                    let batch = match batch {
                        Ok(b) => b,
                        // A partial batch at the end of a response is normal
                        // (the size limit cut it); it is fetched again next time.
                        Err(crate::records::RecordsError::Header(
                            storage::batch::BatchError::Truncated { .. },
                        )) => break,
                        Err(e) => return Err(ClientError::BadBatch(e.to_string())),
                    };
                    storage::batch::verify_crc(&batch.bytes)
                        .map_err(|e| ClientError::BadBatch(e.to_string()))?;
                    if batch.header.last_offset() < next {
                        continue; // already consumed (the broker starts at a batch boundary)
                    }
                    if batch.header.is_control() {
                        next = batch.header.last_offset() + 1;
                        continue;
                    }
                    let batch = decompress(&batch)?;
                    for r in batch
                        .records()
                        .map_err(|e| ClientError::BadBatch(e.to_string()))?
                    {
                        let r = r.map_err(|e| ClientError::BadBatch(e.to_string()))?;
                        if r.offset < next {
                            continue;
                        }
                        out.push(ConsumedRecord {
                            topic: topic.clone(),
                            partition: p.partition_index,
                            offset: r.offset,
                            timestamp_ms: r.timestamp,
                            key: r.key,
                            value: r.value,
                        });
                    }
                    next = batch.header.last_offset() + 1;
                }
                self.positions.insert(key, next);
            }
        }
        Ok(())
    }
}
