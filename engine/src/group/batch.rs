//! Group records packed into Kafka record batches (magic 2) for the
//! `__consumer_offsets` partition log, and unpacked at replay.
//!
//! The batches are ordinary Kafka batches built by `net`'s batch builder
//! (uncompressed, no producer id, CRC sealed), so the topic stays readable by
//! Kafka tools and the engine never writes the wire format itself. Each
//! record's key and value are the flatbuffers of [`super::codec`].

use bytes::Bytes;
use net::records::{Batch, BatchBuilder, RecordsError};
use storage::batch::{self, BatchError};

use super::codec::{self, CodecError};
use super::limits;
use super::record::GroupRecord;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupBatchError {
    #[error(transparent)]
    Batch(#[from] BatchError),
    #[error(transparent)]
    Records(#[from] RecordsError),
    #[error(transparent)]
    Codec(#[from] CodecError),
    #[error("group batch is compressed, transactional or a control batch")]
    Unsupported,
    #[error("group record without a key")]
    MissingKey,
}

/// Packs `records` (at most [`limits::RECORDS_PER_BATCH_MAX`]) into one
/// batch with base offset 0; the log stamps the real offset.
pub fn encode_batch(records: &[GroupRecord], timestamp_ms: i64) -> Bytes {
    assert!(!records.is_empty(), "an empty batch is a bug in the caller");
    assert!(records.len() <= limits::RECORDS_PER_BATCH_MAX);
    let mut builder = BatchBuilder::new(timestamp_ms);
    for record in records {
        let (key, value) = codec::encode(record);
        builder.push(timestamp_ms, Some(&key), value.as_deref(), &[]);
    }
    builder.build()
}

/// Splits `records` into batches of at most [`limits::RECORDS_PER_BATCH_MAX`]
/// records and, unless one record alone is larger, about
/// [`limits::GROUP_BATCH_BYTES_TARGET`] bytes, keeping their order.
pub fn encode_batches(records: &[GroupRecord], timestamp_ms: i64) -> Vec<Bytes> {
    let mut batches = Vec::new();
    let mut builder = BatchBuilder::new(timestamp_ms);
    let mut bytes = 0usize;
    for record in records {
        let (key, value) = codec::encode(record);
        let size = key.len() + value.as_ref().map_or(0, Vec::len) + RECORD_OVERHEAD_BYTES;
        let full = builder.record_count() as usize >= limits::RECORDS_PER_BATCH_MAX
            || bytes + size > limits::GROUP_BATCH_BYTES_TARGET;
        if full && builder.record_count() > 0 {
            batches.push(std::mem::replace(&mut builder, BatchBuilder::new(timestamp_ms)).build());
            bytes = 0;
        }
        builder.push(timestamp_ms, Some(&key), value.as_deref(), &[]);
        bytes += size;
    }
    if builder.record_count() > 0 {
        batches.push(builder.build());
    }
    batches
}

/// Upper bound of a record's framing (length, attributes, deltas, key and
/// value lengths, header count as varints).
const RECORD_OVERHEAD_BYTES: usize = 32;

/// Unpacks one whole batch (CRC verified) into its records.
pub fn decode_batch(bytes: Bytes) -> Result<Vec<GroupRecord>, GroupBatchError> {
    batch::verify_crc(&bytes)?;
    let header = batch::BatchHeader::parse(&bytes)?;
    if header.attributes & 0x37 != 0 {
        return Err(GroupBatchError::Unsupported);
    }
    let mut records = Vec::with_capacity(header.record_count.clamp(0, 1_024) as usize);
    for record in (Batch { header, bytes }).records()? {
        let record = record?;
        let key = record.key.ok_or(GroupBatchError::MissingKey)?;
        records.push(codec::decode(&key, record.value.as_deref())?);
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::record::CommittedOffset;

    fn offset_record(partition: i32, offset: i64) -> GroupRecord {
        GroupRecord::Offset {
            group_id: "group".into(),
            topic: "topic".into(),
            partition,
            value: Some(CommittedOffset {
                offset,
                leader_epoch: -1,
                metadata: String::new(),
                commit_timestamp_ms: 5,
                expire_timestamp_ms: None,
            }),
        }
    }

    #[test]
    fn batches_round_trip_and_carry_a_valid_header() {
        let records: Vec<GroupRecord> = (0..300)
            .map(|p| offset_record(p, p as i64 * 1_000_000_007))
            .chain(std::iter::once(GroupRecord::Group {
                group_id: "group".into(),
                value: None,
            }))
            .collect();
        let bytes = encode_batch(&records, 1_234);
        let header = batch::BatchHeader::parse(&bytes).unwrap();
        assert_eq!(header.total_bytes(), bytes.len());
        assert_eq!(header.record_count, 301);
        assert_eq!(header.last_offset_delta, 300);
        assert_eq!(header.base_timestamp, 1_234);
        assert!(!header.has_producer_id());
        batch::verify_crc(&bytes).unwrap();
        assert_eq!(decode_batch(bytes.clone()).unwrap(), records);
        // The log may stamp offsets and epochs without breaking anything.
        let mut stamped = bytes.to_vec();
        batch::stamp(&mut stamped, 77, 4);
        assert_eq!(decode_batch(Bytes::from(stamped)).unwrap(), records);
    }

    #[test]
    fn corrupt_batches_are_refused() {
        let bytes = encode_batch(&[offset_record(0, 1)], 0);
        let mut flipped = bytes.to_vec();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(matches!(
            decode_batch(Bytes::from(flipped)),
            Err(GroupBatchError::Batch(_))
        ));
        for cut in 0..bytes.len() {
            assert!(decode_batch(bytes.slice(..cut)).is_err());
        }
        // A well-sealed batch whose record lies about its length.
        let mut lying = bytes.to_vec();
        lying[batch::HEADER_BYTES] = 0x7e;
        batch::seal_crc(&mut lying);
        assert!(matches!(
            decode_batch(Bytes::from(lying)),
            Err(GroupBatchError::Records(_))
        ));
        // A well-sealed batch whose key is not a flatbuffer.
        let mut builder = BatchBuilder::new(0);
        builder.push(0, Some(b"not a flatbuffer"), None, &[]);
        assert!(matches!(
            decode_batch(builder.build()),
            Err(GroupBatchError::Codec(_))
        ));
    }

    #[test]
    fn big_records_are_split_by_bytes_too() {
        use crate::group::record::{GroupSnapshot, MemberSnapshot};
        let big_group = |i: usize| GroupRecord::Group {
            group_id: format!("g-{i}"),
            value: Some(GroupSnapshot {
                protocol_type: Some("consumer".into()),
                generation: 1,
                protocol_name: Some("range".into()),
                leader: Some("m".into()),
                state_timestamp_ms: 0,
                members: vec![MemberSnapshot {
                    member_id: "m".into(),
                    group_instance_id: None,
                    client_id: "c".into(),
                    client_host: "h".into(),
                    session_timeout_ms: 1,
                    rebalance_timeout_ms: 1,
                    subscription: Bytes::from(vec![7u8; 300_000]),
                    assignment: Bytes::from(vec![9u8; 300_000]),
                }],
            }),
        };
        let records: Vec<GroupRecord> = (0..10).map(big_group).collect();
        let batches = encode_batches(&records, 0);
        assert!(batches.len() >= 5, "{} batches", batches.len());
        for b in &batches {
            assert!(b.len() <= limits::GROUP_BATCH_BYTES_TARGET + 700_000);
        }
        let decoded: Vec<GroupRecord> = batches
            .into_iter()
            .flat_map(|b| decode_batch(b).unwrap())
            .collect();
        assert_eq!(decoded, records);
    }

    #[test]
    fn large_commits_are_split_into_bounded_batches() {
        let records: Vec<GroupRecord> = (0..2_500).map(|p| offset_record(p, 1)).collect();
        let batches = encode_batches(&records, 0);
        assert_eq!(batches.len(), 3);
        let decoded: Vec<GroupRecord> = batches
            .into_iter()
            .flat_map(|b| decode_batch(b).unwrap())
            .collect();
        assert_eq!(decoded, records);
    }
}
