//! Group records packed into Kafka record batches (magic 2) for the
//! `__consumer_offsets` partition log, and unpacked at replay.
//!
//! The batch header is `storage::batch`'s; inside, records use the Kafka v2
//! record layout (varint lengths, key, value, no headers) so that the topic
//! stays an ordinary Kafka topic that tools can read. Sluice writes these
//! batches itself, uncompressed and non-transactional, and seals their CRC.
//!
//! Only this file frames records for the group log; `net` owns records that
//! come from clients. If `net` grows a shared record builder, use it here.

use storage::batch::{self, BatchError, HEADER_BYTES, LOG_OVERHEAD_BYTES, MAGIC_V2};

use super::codec::{self, CodecError};
use super::limits;
use super::record::GroupRecord;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupBatchError {
    #[error(transparent)]
    Batch(#[from] BatchError),
    #[error(transparent)]
    Codec(#[from] CodecError),
    #[error("group batch is compressed, transactional or a control batch")]
    Unsupported,
    #[error("malformed record in group batch: {0}")]
    Record(&'static str),
}

/// Packs `records` (at most [`limits::RECORDS_PER_BATCH_MAX`]) into one
/// batch with base offset 0; the log stamps the real offset.
pub fn encode_batch(records: &[GroupRecord], timestamp_ms: i64) -> Vec<u8> {
    assert!(!records.is_empty(), "an empty batch is a bug in the caller");
    assert!(records.len() <= limits::RECORDS_PER_BATCH_MAX);
    let mut out = Vec::with_capacity(HEADER_BYTES + 128 * records.len());
    out.extend_from_slice(&0i64.to_be_bytes()); // base offset, stamped by the log
    out.extend_from_slice(&0i32.to_be_bytes()); // batch length, patched below
    out.extend_from_slice(&(-1i32).to_be_bytes()); // leader epoch, stamped by the log
    out.push(MAGIC_V2 as u8);
    out.extend_from_slice(&0u32.to_be_bytes()); // crc, sealed below
    out.extend_from_slice(&0i16.to_be_bytes()); // attributes: none
    out.extend_from_slice(&(records.len() as i32 - 1).to_be_bytes()); // last offset delta
    out.extend_from_slice(&timestamp_ms.to_be_bytes()); // base timestamp
    out.extend_from_slice(&timestamp_ms.to_be_bytes()); // max timestamp
    out.extend_from_slice(&(-1i64).to_be_bytes()); // producer id
    out.extend_from_slice(&(-1i16).to_be_bytes()); // producer epoch
    out.extend_from_slice(&(-1i32).to_be_bytes()); // base sequence
    out.extend_from_slice(&(records.len() as i32).to_be_bytes());
    debug_assert_eq!(out.len(), HEADER_BYTES);
    let mut body = Vec::with_capacity(128);
    for (delta, record) in records.iter().enumerate() {
        let (key, value) = codec::encode(record);
        body.clear();
        body.push(0); // record attributes
        put_varlong(&mut body, 0); // timestamp delta
        put_varlong(&mut body, delta as i64); // offset delta
        put_varlong(&mut body, key.len() as i64);
        body.extend_from_slice(&key);
        match &value {
            Some(v) => {
                put_varlong(&mut body, v.len() as i64);
                body.extend_from_slice(v);
            }
            None => put_varlong(&mut body, -1),
        }
        put_varlong(&mut body, 0); // headers
        put_varlong(&mut out, body.len() as i64);
        out.extend_from_slice(&body);
    }
    let batch_length = (out.len() - LOG_OVERHEAD_BYTES) as i32;
    out[8..12].copy_from_slice(&batch_length.to_be_bytes());
    batch::seal_crc(&mut out);
    out
}

/// Splits `records` into batches that respect the per-batch bound.
pub fn encode_batches(records: &[GroupRecord], timestamp_ms: i64) -> Vec<Vec<u8>> {
    records
        .chunks(limits::RECORDS_PER_BATCH_MAX)
        .map(|chunk| encode_batch(chunk, timestamp_ms))
        .collect()
}

/// Unpacks one whole batch (CRC verified) into its records.
pub fn decode_batch(bytes: &[u8]) -> Result<Vec<GroupRecord>, GroupBatchError> {
    batch::verify_crc(bytes)?;
    let header = batch::BatchHeader::parse(bytes)?;
    if header.attributes & 0x37 != 0 {
        return Err(GroupBatchError::Unsupported);
    }
    let count = header.record_count as usize;
    if count > limits::RECORDS_PER_BATCH_MAX {
        return Err(GroupBatchError::Record("too many records"));
    }
    let mut cursor = Cursor {
        buf: &bytes[HEADER_BYTES..],
    };
    let mut records = Vec::with_capacity(count);
    for _ in 0..count {
        let length = cursor.varlong()?;
        let mut record = Cursor {
            buf: cursor
                .take(length)?
                .ok_or(GroupBatchError::Record("null record"))?,
        };
        record.take(1)?; // attributes
        record.varlong()?; // timestamp delta
        record.varlong()?; // offset delta
        let key_length = record.varlong()?;
        let key = record
            .take(key_length)?
            .ok_or(GroupBatchError::Record("null key"))?;
        let value_length = record.varlong()?;
        let value = record.take(value_length)?;
        records.push(codec::decode(key, value)?);
    }
    if !cursor.buf.is_empty() {
        return Err(GroupBatchError::Record("bytes after the last record"));
    }
    Ok(records)
}

fn put_varlong(out: &mut Vec<u8>, value: i64) {
    let mut zigzag = ((value << 1) ^ (value >> 63)) as u64;
    while zigzag >= 0x80 {
        out.push((zigzag as u8) | 0x80);
        zigzag >>= 7;
    }
    out.push(zigzag as u8);
}

struct Cursor<'a> {
    buf: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn varlong(&mut self) -> Result<i64, GroupBatchError> {
        let mut raw: u64 = 0;
        for i in 0..10 {
            let (&byte, rest) = self
                .buf
                .split_first()
                .ok_or(GroupBatchError::Record("truncated varint"))?;
            self.buf = rest;
            raw |= ((byte & 0x7f) as u64) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok((raw >> 1) as i64 ^ -((raw & 1) as i64));
            }
        }
        Err(GroupBatchError::Record("varint longer than 10 bytes"))
    }

    /// `length` bytes, or None for length -1.
    fn take(&mut self, length: i64) -> Result<Option<&'a [u8]>, GroupBatchError> {
        if length == -1 {
            return Ok(None);
        }
        if length < 0 || length as u64 > self.buf.len() as u64 {
            return Err(GroupBatchError::Record("length outside the batch"));
        }
        let (taken, rest) = self.buf.split_at(length as usize);
        self.buf = rest;
        Ok(Some(taken))
    }
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
        assert_eq!(decode_batch(&bytes).unwrap(), records);
        // The log may stamp offsets and epochs without breaking anything.
        let mut stamped = bytes.clone();
        batch::stamp(&mut stamped, 77, 4);
        assert_eq!(decode_batch(&stamped).unwrap(), records);
    }

    #[test]
    fn varints_match_the_kafka_zigzag_encoding() {
        let cases: [(i64, &[u8]); 6] = [
            (0, &[0x00]),
            (-1, &[0x01]),
            (1, &[0x02]),
            (63, &[0x7e]),
            (64, &[0x80, 0x01]),
            (-65, &[0x81, 0x01]),
        ];
        for (value, bytes) in cases {
            let mut out = Vec::new();
            put_varlong(&mut out, value);
            assert_eq!(out, bytes, "{value}");
            assert_eq!(Cursor { buf: bytes }.varlong().unwrap(), value);
        }
        for value in [i64::MIN, i64::MAX, 1 << 40, -(1 << 33)] {
            let mut out = Vec::new();
            put_varlong(&mut out, value);
            assert_eq!(Cursor { buf: &out }.varlong().unwrap(), value);
        }
    }

    #[test]
    fn corrupt_batches_are_refused() {
        let bytes = encode_batch(&[offset_record(0, 1)], 0);
        let mut flipped = bytes.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(matches!(
            decode_batch(&flipped),
            Err(GroupBatchError::Batch(_))
        ));
        for cut in 0..bytes.len() {
            assert!(decode_batch(&bytes[..cut]).is_err());
        }
        // A well-sealed batch whose records lie about their lengths.
        let mut lying = bytes.clone();
        lying[HEADER_BYTES] = 0x7e;
        batch::seal_crc(&mut lying);
        assert!(matches!(
            decode_batch(&lying),
            Err(GroupBatchError::Record(_))
        ));
    }

    #[test]
    fn large_commits_are_split_into_bounded_batches() {
        let records: Vec<GroupRecord> = (0..2_500).map(|p| offset_record(p, 1)).collect();
        let batches = encode_batches(&records, 0);
        assert_eq!(batches.len(), 3);
        let decoded: Vec<GroupRecord> = batches
            .iter()
            .flat_map(|b| decode_batch(b).unwrap())
            .collect();
        assert_eq!(decoded, records);
    }
}
