//! The Kafka record batch header (magic 2), the one piece of the Kafka format
//! that lives on disk.
//!
//! This is the single definition of the 61-byte header in Sluice: the log uses
//! it to assign offsets, stamp terms and verify batches during recovery, and
//! `net` uses it to validate batches that arrive on the wire. Records after the
//! header are never decoded here.
//!
//! Layout (all integers big-endian, as on the Kafka wire):
//!
//! | bytes  | field                  | covered by CRC |
//! |--------|------------------------|----------------|
//! | 0..8   | base offset (i64)      | no             |
//! | 8..12  | batch length (i32): bytes after this field | no |
//! | 12..16 | partition leader epoch (i32) | no       |
//! | 16     | magic (i8) = 2         | no             |
//! | 17..21 | CRC32C (u32) of bytes 21.. | -          |
//! | 21..23 | attributes (i16)       | yes            |
//! | 23..27 | last offset delta (i32)| yes            |
//! | 27..35 | base timestamp (i64)   | yes            |
//! | 35..43 | max timestamp (i64)    | yes            |
//! | 43..51 | producer id (i64)      | yes            |
//! | 51..53 | producer epoch (i16)   | yes            |
//! | 53..57 | base sequence (i32)    | yes            |
//! | 57..61 | record count (i32)     | yes            |
//!
//! Because the base offset and the leader epoch sit outside the CRC, the log
//! can rewrite both without touching the records or recomputing the checksum.

use std::fmt;

/// Bytes in the header, up to and including the record count.
pub const HEADER_BYTES: usize = 61;
/// Bytes before the part that `batch length` counts (base offset + length).
pub const LOG_OVERHEAD_BYTES: usize = 12;
/// The only record batch format Sluice accepts.
pub const MAGIC_V2: i8 = 2;

const BASE_OFFSET: usize = 0;
const BATCH_LENGTH: usize = 8;
const LEADER_EPOCH: usize = 12;
const MAGIC: usize = 16;
const CRC: usize = 17;
const ATTRIBUTES: usize = 21;
const LAST_OFFSET_DELTA: usize = 23;
const BASE_TIMESTAMP: usize = 27;
const MAX_TIMESTAMP: usize = 35;
const PRODUCER_ID: usize = 43;
const PRODUCER_EPOCH: usize = 51;
const BASE_SEQUENCE: usize = 53;
const RECORD_COUNT: usize = 57;
/// First byte covered by the CRC.
const CRC_START: usize = ATTRIBUTES;

/// Why a byte range is not a well-formed batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    #[error("batch truncated: need {needed} bytes, have {available}")]
    Truncated { needed: usize, available: usize },
    #[error("batch length {0} is outside the valid range")]
    BadLength(i32),
    #[error("unsupported record batch magic {0}")]
    BadMagic(i8),
    #[error("batch CRC mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    CrcMismatch { stored: u32, computed: u32 },
    #[error("last offset delta {0} is negative")]
    BadOffsetDelta(i32),
    #[error("record count {0} is negative")]
    BadRecordCount(i32),
}

/// Compression codec from bits 0..3 of the attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
    /// Codec ids 5..7 are not defined by Kafka.
    Unknown(u8),
}

/// Which clock the batch's timestamps come from (attribute bit 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampType {
    CreateTime,
    LogAppendTime,
}

/// The parsed header fields of one batch. Copying 61 bytes of fields out is
/// cheaper than it looks and keeps callers free of lifetimes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: i64,
    pub batch_length: i32,
    pub partition_leader_epoch: i32,
    pub magic: i8,
    pub crc: u32,
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub record_count: i32,
}

impl BatchHeader {
    /// Parses and checks the header at the start of `buf`: magic, a batch
    /// length that covers at least the header, and non-negative counts.
    /// Does not require the whole batch to be present; see [`split_batch`].
    pub fn parse(buf: &[u8]) -> Result<Self, BatchError> {
        if buf.len() < HEADER_BYTES {
            return Err(BatchError::Truncated {
                needed: HEADER_BYTES,
                available: buf.len(),
            });
        }
        let header = Self {
            base_offset: read_i64(buf, BASE_OFFSET),
            batch_length: read_i32(buf, BATCH_LENGTH),
            partition_leader_epoch: read_i32(buf, LEADER_EPOCH),
            magic: buf[MAGIC] as i8,
            crc: read_u32(buf, CRC),
            attributes: read_i16(buf, ATTRIBUTES),
            last_offset_delta: read_i32(buf, LAST_OFFSET_DELTA),
            base_timestamp: read_i64(buf, BASE_TIMESTAMP),
            max_timestamp: read_i64(buf, MAX_TIMESTAMP),
            producer_id: read_i64(buf, PRODUCER_ID),
            producer_epoch: read_i16(buf, PRODUCER_EPOCH),
            base_sequence: read_i32(buf, BASE_SEQUENCE),
            record_count: read_i32(buf, RECORD_COUNT),
        };
        if header.magic != MAGIC_V2 {
            return Err(BatchError::BadMagic(header.magic));
        }
        if (header.batch_length as i64) < (HEADER_BYTES - LOG_OVERHEAD_BYTES) as i64 {
            return Err(BatchError::BadLength(header.batch_length));
        }
        if header.last_offset_delta < 0 {
            return Err(BatchError::BadOffsetDelta(header.last_offset_delta));
        }
        if header.record_count < 0 {
            return Err(BatchError::BadRecordCount(header.record_count));
        }
        Ok(header)
    }

    /// Total bytes of the batch including the base offset and length fields.
    pub fn total_bytes(&self) -> usize {
        LOG_OVERHEAD_BYTES + self.batch_length as usize
    }

    /// Offset of the last record in the batch.
    pub fn last_offset(&self) -> i64 {
        self.base_offset + self.last_offset_delta as i64
    }

    pub fn compression(&self) -> Compression {
        match self.attributes & 0x7 {
            0 => Compression::None,
            1 => Compression::Gzip,
            2 => Compression::Snappy,
            3 => Compression::Lz4,
            4 => Compression::Zstd,
            other => Compression::Unknown(other as u8),
        }
    }

    pub fn timestamp_type(&self) -> TimestampType {
        if self.attributes & 0x8 != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }

    pub fn is_transactional(&self) -> bool {
        self.attributes & 0x10 != 0
    }

    pub fn is_control(&self) -> bool {
        self.attributes & 0x20 != 0
    }

    /// Producer id -1 means the producer is not idempotent.
    pub fn has_producer_id(&self) -> bool {
        self.producer_id >= 0
    }
}

/// Splits the first whole batch off `buf`, checking its header (not its CRC).
/// Returns the batch and the bytes after it.
pub fn split_batch(buf: &[u8]) -> Result<(BatchHeader, &[u8], &[u8]), BatchError> {
    let header = BatchHeader::parse(buf)?;
    let total = header.total_bytes();
    if buf.len() < total {
        return Err(BatchError::Truncated {
            needed: total,
            available: buf.len(),
        });
    }
    let (batch, rest) = buf.split_at(total);
    Ok((header, batch, rest))
}

/// CRC32C of the part of a whole batch that the stored CRC covers.
pub fn compute_crc(batch: &[u8]) -> u32 {
    assert!(
        batch.len() >= HEADER_BYTES,
        "compute_crc needs a whole batch"
    );
    crc32c::crc32c(&batch[CRC_START..])
}

/// Checks that `batch` (exactly one whole batch) carries a correct CRC.
pub fn verify_crc(batch: &[u8]) -> Result<(), BatchError> {
    let header = BatchHeader::parse(batch)?;
    if batch.len() != header.total_bytes() {
        return Err(BatchError::Truncated {
            needed: header.total_bytes(),
            available: batch.len(),
        });
    }
    let computed = compute_crc(batch);
    if computed != header.crc {
        return Err(BatchError::CrcMismatch {
            stored: header.crc,
            computed,
        });
    }
    Ok(())
}

/// Writes the base offset and the partition leader epoch (the writer's term)
/// into a batch. Both fields sit outside the CRC, so the batch stays valid.
pub fn stamp(batch: &mut [u8], base_offset: i64, partition_leader_epoch: i32) {
    assert!(batch.len() >= HEADER_BYTES, "stamp needs a whole header");
    batch[BASE_OFFSET..BASE_OFFSET + 8].copy_from_slice(&base_offset.to_be_bytes());
    batch[LEADER_EPOCH..LEADER_EPOCH + 4].copy_from_slice(&partition_leader_epoch.to_be_bytes());
}

/// Recomputes and stores the CRC; for writers of new batches (tests, tools,
/// clients), never for batches passing through the broker.
pub fn seal_crc(batch: &mut [u8]) {
    let crc = compute_crc(batch);
    batch[CRC..CRC + 4].copy_from_slice(&crc.to_be_bytes());
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Compression::None => f.write_str("none"),
            Compression::Gzip => f.write_str("gzip"),
            Compression::Snappy => f.write_str("snappy"),
            Compression::Lz4 => f.write_str("lz4"),
            Compression::Zstd => f.write_str("zstd"),
            Compression::Unknown(id) => write!(f, "unknown({id})"),
        }
    }
}

fn read_i16(buf: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([buf[at], buf[at + 1]])
}

fn read_i32(buf: &[u8], at: usize) -> i32 {
    i32::from_be_bytes(buf[at..at + 4].try_into().expect("4 bytes"))
}

fn read_u32(buf: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(buf[at..at + 4].try_into().expect("4 bytes"))
}

fn read_i64(buf: &[u8], at: usize) -> i64 {
    i64::from_be_bytes(buf[at..at + 8].try_into().expect("8 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header spelled out field by field; any change to the layout breaks it.
    fn golden_batch() -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&7i64.to_be_bytes()); // base offset
        b.extend_from_slice(&53i32.to_be_bytes()); // batch length = 49 header + 4 record bytes
        b.extend_from_slice(&3i32.to_be_bytes()); // leader epoch
        b.push(2); // magic
        b.extend_from_slice(&0u32.to_be_bytes()); // crc, sealed below
        b.extend_from_slice(&0x0013i16.to_be_bytes()); // lz4 | transactional
        b.extend_from_slice(&1i32.to_be_bytes()); // last offset delta
        b.extend_from_slice(&1_000i64.to_be_bytes()); // base timestamp
        b.extend_from_slice(&1_005i64.to_be_bytes()); // max timestamp
        b.extend_from_slice(&42i64.to_be_bytes()); // producer id
        b.extend_from_slice(&1i16.to_be_bytes()); // producer epoch
        b.extend_from_slice(&9i32.to_be_bytes()); // base sequence
        b.extend_from_slice(&2i32.to_be_bytes()); // record count
        b.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]); // opaque records
        seal_crc(&mut b);
        b
    }

    #[test]
    fn golden_header_fields() {
        let b = golden_batch();
        assert_eq!(b.len(), 65);
        let h = BatchHeader::parse(&b).unwrap();
        assert_eq!(h.base_offset, 7);
        assert_eq!(h.total_bytes(), 65);
        assert_eq!(h.partition_leader_epoch, 3);
        assert_eq!(h.compression(), Compression::Lz4);
        assert!(h.is_transactional());
        assert!(!h.is_control());
        assert_eq!(h.timestamp_type(), TimestampType::CreateTime);
        assert_eq!(h.last_offset(), 8);
        assert_eq!((h.base_timestamp, h.max_timestamp), (1_000, 1_005));
        assert_eq!(
            (h.producer_id, h.producer_epoch, h.base_sequence),
            (42, 1, 9)
        );
        assert_eq!(h.record_count, 2);
        assert_eq!(h.crc, crc32c::crc32c(&b[21..]));
        verify_crc(&b).unwrap();
    }

    #[test]
    fn stamping_keeps_crc_valid() {
        let mut b = golden_batch();
        stamp(&mut b, 1 << 40, 17);
        verify_crc(&b).unwrap();
        let h = BatchHeader::parse(&b).unwrap();
        assert_eq!((h.base_offset, h.partition_leader_epoch), (1 << 40, 17));
    }

    #[test]
    fn flipped_record_byte_fails_crc() {
        let mut b = golden_batch();
        b[63] ^= 1;
        assert!(matches!(
            verify_crc(&b),
            Err(BatchError::CrcMismatch { .. })
        ));
    }

    #[test]
    fn rejects_bad_headers() {
        let b = golden_batch();
        assert!(matches!(
            BatchHeader::parse(&b[..60]),
            Err(BatchError::Truncated { .. })
        ));
        let mut m = b.clone();
        m[16] = 1;
        assert_eq!(BatchHeader::parse(&m), Err(BatchError::BadMagic(1)));
        let mut l = b.clone();
        l[8..12].copy_from_slice(&(-1i32).to_be_bytes());
        assert_eq!(BatchHeader::parse(&l), Err(BatchError::BadLength(-1)));
        assert!(matches!(
            split_batch(&b[..64]),
            Err(BatchError::Truncated {
                needed: 65,
                available: 64
            })
        ));
    }

    #[test]
    fn split_returns_rest() {
        let mut two = golden_batch();
        two.extend_from_slice(&golden_batch());
        let (_, first, rest) = split_batch(&two).unwrap();
        assert_eq!(first.len(), 65);
        assert_eq!(rest.len(), 65);
    }
}
