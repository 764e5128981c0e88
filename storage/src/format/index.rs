//! The two index files of a segment, sharing one 64-byte header.
//!
//! Header (big-endian):
//!
//! | bytes  | field |
//! |--------|-------|
//! | 0..4   | magic: `SLOX` (offset index) or `SLTX` (time index) |
//! | 4..6   | version (u16) = 1 |
//! | 6..8   | entry size in bytes (u16): 8 or 12 |
//! | 8..12  | entry count (u32) |
//! | 12..16 | reserved, zero |
//! | 16..24 | segment base offset (i64) |
//! | 24..32 | covered bytes (u64): the entries describe every batch that ends at or before this segment position |
//! | 32..40 | next offset (i64): offset after the last covered batch |
//! | 40..48 | max timestamp (i64) of the covered batches, -1 if none |
//! | 48..56 | offset of the batch holding that timestamp (i64), -1 if none |
//! | 56..60 | reserved, zero |
//! | 60..64 | CRC32C (u32) of bytes 0..60 followed by all entries |
//!
//! Offset index entry (8 bytes): relative offset (u32, batch base offset
//! minus segment base), position of the batch in the segment (u32).
//! Time index entry (12 bytes): max timestamp so far (i64), relative offset
//! (u32) of the batch that reached it.

use crate::limits;

pub const HEADER_BYTES: usize = 64;
pub const OFFSET_ENTRY_BYTES: usize = 8;
pub const TIME_ENTRY_BYTES: usize = 12;
pub const VERSION: u16 = 1;
const OFFSET_MAGIC: [u8; 4] = *b"SLOX";
const TIME_MAGIC: [u8; 4] = *b"SLTX";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetEntry {
    pub relative_offset: u32,
    pub position: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeEntry {
    pub timestamp: i64,
    pub relative_offset: u32,
}

/// What an index file says about the segment besides its entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexMeta {
    pub base_offset: i64,
    pub covered_bytes: u64,
    pub next_offset: i64,
    pub max_timestamp: i64,
    pub max_timestamp_offset: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndexError {
    #[error("index file of {0} bytes is shorter than its header")]
    Short(usize),
    #[error("bad index magic {0:?}")]
    BadMagic([u8; 4]),
    #[error("unsupported index version {0}")]
    BadVersion(u16),
    #[error("index entry size {0} does not match the kind")]
    BadEntrySize(u16),
    #[error("index claims {count} entries but holds {available} bytes of them")]
    BadCount { count: u32, available: usize },
    #[error("index CRC mismatch")]
    Crc,
    #[error("index entries out of order at entry {0}")]
    Unordered(usize),
}

pub fn encode_offset_index(meta: &IndexMeta, entries: &[OffsetEntry]) -> Vec<u8> {
    let mut body = Vec::with_capacity(entries.len() * OFFSET_ENTRY_BYTES);
    for e in entries {
        body.extend_from_slice(&e.relative_offset.to_be_bytes());
        body.extend_from_slice(&e.position.to_be_bytes());
    }
    encode(OFFSET_MAGIC, OFFSET_ENTRY_BYTES, entries.len(), meta, body)
}

pub fn encode_time_index(meta: &IndexMeta, entries: &[TimeEntry]) -> Vec<u8> {
    let mut body = Vec::with_capacity(entries.len() * TIME_ENTRY_BYTES);
    for e in entries {
        body.extend_from_slice(&e.timestamp.to_be_bytes());
        body.extend_from_slice(&e.relative_offset.to_be_bytes());
    }
    encode(TIME_MAGIC, TIME_ENTRY_BYTES, entries.len(), meta, body)
}

fn encode(
    magic: [u8; 4],
    entry_bytes: usize,
    count: usize,
    meta: &IndexMeta,
    body: Vec<u8>,
) -> Vec<u8> {
    assert!(
        count <= limits::INDEX_ENTRIES_MAX,
        "index of {count} entries"
    );
    let mut out = Vec::with_capacity(HEADER_BYTES + body.len());
    out.extend_from_slice(&magic);
    out.extend_from_slice(&VERSION.to_be_bytes());
    out.extend_from_slice(&(entry_bytes as u16).to_be_bytes());
    out.extend_from_slice(&(count as u32).to_be_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&meta.base_offset.to_be_bytes());
    out.extend_from_slice(&meta.covered_bytes.to_be_bytes());
    out.extend_from_slice(&meta.next_offset.to_be_bytes());
    out.extend_from_slice(&meta.max_timestamp.to_be_bytes());
    out.extend_from_slice(&meta.max_timestamp_offset.to_be_bytes());
    out.extend_from_slice(&[0; 4]);
    let crc = crc32c::crc32c_append(crc32c::crc32c(&out), &body);
    out.extend_from_slice(&crc.to_be_bytes());
    debug_assert_eq!(out.len(), HEADER_BYTES);
    out.extend_from_slice(&body);
    out
}

/// Checks magic, version, size and CRC; returns the meta and the entry bytes.
fn decode(
    buf: &[u8],
    magic: [u8; 4],
    entry_bytes: usize,
) -> Result<(IndexMeta, &[u8]), IndexError> {
    if buf.len() < HEADER_BYTES {
        return Err(IndexError::Short(buf.len()));
    }
    let got_magic: [u8; 4] = buf[0..4].try_into().expect("4 bytes");
    if got_magic != magic {
        return Err(IndexError::BadMagic(got_magic));
    }
    let version = u16::from_be_bytes([buf[4], buf[5]]);
    if version != VERSION {
        return Err(IndexError::BadVersion(version));
    }
    let size = u16::from_be_bytes([buf[6], buf[7]]);
    if size as usize != entry_bytes {
        return Err(IndexError::BadEntrySize(size));
    }
    let count = u32::from_be_bytes(buf[8..12].try_into().expect("4 bytes"));
    let available = buf.len() - HEADER_BYTES;
    if count as usize > limits::INDEX_ENTRIES_MAX || count as usize * entry_bytes > available {
        return Err(IndexError::BadCount { count, available });
    }
    let body = &buf[HEADER_BYTES..HEADER_BYTES + count as usize * entry_bytes];
    let stored = u32::from_be_bytes(buf[60..64].try_into().expect("4 bytes"));
    if crc32c::crc32c_append(crc32c::crc32c(&buf[..60]), body) != stored {
        return Err(IndexError::Crc);
    }
    let i64_at = |at: usize| i64::from_be_bytes(buf[at..at + 8].try_into().expect("8 bytes"));
    let meta = IndexMeta {
        base_offset: i64_at(16),
        covered_bytes: i64_at(24) as u64,
        next_offset: i64_at(32),
        max_timestamp: i64_at(40),
        max_timestamp_offset: i64_at(48),
    };
    Ok((meta, body))
}

pub fn decode_offset_index(buf: &[u8]) -> Result<(IndexMeta, Vec<OffsetEntry>), IndexError> {
    let (meta, body) = decode(buf, OFFSET_MAGIC, OFFSET_ENTRY_BYTES)?;
    let entries: Vec<OffsetEntry> = body
        .chunks_exact(OFFSET_ENTRY_BYTES)
        .map(|c| OffsetEntry {
            relative_offset: u32::from_be_bytes(c[0..4].try_into().expect("4 bytes")),
            position: u32::from_be_bytes(c[4..8].try_into().expect("4 bytes")),
        })
        .collect();
    for (i, w) in entries.windows(2).enumerate() {
        if w[1].relative_offset <= w[0].relative_offset || w[1].position <= w[0].position {
            return Err(IndexError::Unordered(i + 1));
        }
    }
    if let Some(last) = entries.last() {
        if last.position as u64 >= meta.covered_bytes {
            return Err(IndexError::Unordered(entries.len() - 1));
        }
    }
    Ok((meta, entries))
}

pub fn decode_time_index(buf: &[u8]) -> Result<(IndexMeta, Vec<TimeEntry>), IndexError> {
    let (meta, body) = decode(buf, TIME_MAGIC, TIME_ENTRY_BYTES)?;
    let entries: Vec<TimeEntry> = body
        .chunks_exact(TIME_ENTRY_BYTES)
        .map(|c| TimeEntry {
            timestamp: i64::from_be_bytes(c[0..8].try_into().expect("8 bytes")),
            relative_offset: u32::from_be_bytes(c[8..12].try_into().expect("4 bytes")),
        })
        .collect();
    for (i, w) in entries.windows(2).enumerate() {
        if w[1].timestamp <= w[0].timestamp || w[1].relative_offset <= w[0].relative_offset {
            return Err(IndexError::Unordered(i + 1));
        }
    }
    Ok((meta, entries))
}

/// Position of the last indexed batch starting at or before `relative`
/// (0, the segment start, if none).
pub fn lookup_position(entries: &[OffsetEntry], relative: u32) -> u32 {
    let n = entries.partition_point(|e| e.relative_offset <= relative);
    if n == 0 {
        0
    } else {
        entries[n - 1].position
    }
}

/// Relative offset from which a scan for the first batch with a max
/// timestamp >= `timestamp` may start: the last entry whose timestamp is
/// below it (all batches up to it are below), else the segment start.
pub fn lookup_time(entries: &[TimeEntry], timestamp: i64) -> u32 {
    let n = entries.partition_point(|e| e.timestamp < timestamp);
    if n == 0 {
        0
    } else {
        entries[n - 1].relative_offset
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> IndexMeta {
        IndexMeta {
            base_offset: 100,
            covered_bytes: 9000,
            next_offset: 150,
            max_timestamp: 1_700,
            max_timestamp_offset: 140,
        }
    }

    #[test]
    fn golden_offset_index() {
        let entries = [
            OffsetEntry {
                relative_offset: 0,
                position: 0,
            },
            OffsetEntry {
                relative_offset: 20,
                position: 4200,
            },
        ];
        let bytes = encode_offset_index(&meta(), &entries);
        let mut expected = Vec::new();
        expected.extend_from_slice(b"SLOX");
        expected.extend_from_slice(&[0, 1, 0, 8]); // version 1, 8-byte entries
        expected.extend_from_slice(&[0, 0, 0, 2]); // two entries
        expected.extend_from_slice(&[0; 4]);
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 100]); // base offset
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0x23, 0x28]); // covered 9000
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 150]); // next offset
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0x06, 0xa4]); // max ts 1700
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 140]); // its offset
        expected.extend_from_slice(&[0; 4]);
        let mut entry_bytes = vec![0, 0, 0, 0, 0, 0, 0, 0];
        entry_bytes.extend_from_slice(&[0, 0, 0, 20, 0, 0, 0x10, 0x68]); // 20 @ 4200
        let crc = crc32c::crc32c_append(crc32c::crc32c(&expected), &entry_bytes);
        expected.extend_from_slice(&crc.to_be_bytes());
        expected.extend_from_slice(&entry_bytes);
        assert_eq!(bytes, expected);
        assert_eq!(
            decode_offset_index(&bytes).unwrap(),
            (meta(), entries.to_vec())
        );
    }

    #[test]
    fn golden_time_index() {
        let entries = [TimeEntry {
            timestamp: 1_600,
            relative_offset: 7,
        }];
        let bytes = encode_time_index(&meta(), &entries);
        assert_eq!(&bytes[0..8], b"SLTX\x00\x01\x00\x0c");
        assert_eq!(&bytes[8..12], &[0, 0, 0, 1]);
        assert_eq!(&bytes[64..76], &[0, 0, 0, 0, 0, 0, 0x06, 0x40, 0, 0, 0, 7]);
        let crc = crc32c::crc32c_append(crc32c::crc32c(&bytes[..60]), &bytes[64..]);
        assert_eq!(&bytes[60..64], &crc.to_be_bytes());
        assert_eq!(
            decode_time_index(&bytes).unwrap(),
            (meta(), entries.to_vec())
        );
    }

    #[test]
    fn every_flipped_bit_is_detected() {
        let entries = [
            OffsetEntry {
                relative_offset: 0,
                position: 0,
            },
            OffsetEntry {
                relative_offset: 3,
                position: 5000,
            },
        ];
        let bytes = encode_offset_index(&meta(), &entries);
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut b = bytes.clone();
                b[i] ^= 1 << bit;
                assert!(decode_offset_index(&b).is_err(), "flip at {i}:{bit}");
            }
        }
    }

    #[test]
    fn lookups() {
        let entries = [
            OffsetEntry {
                relative_offset: 0,
                position: 0,
            },
            OffsetEntry {
                relative_offset: 10,
                position: 4096,
            },
            OffsetEntry {
                relative_offset: 25,
                position: 8200,
            },
        ];
        assert_eq!(lookup_position(&entries, 0), 0);
        assert_eq!(lookup_position(&entries, 9), 0);
        assert_eq!(lookup_position(&entries, 10), 4096);
        assert_eq!(lookup_position(&entries, 24), 4096);
        assert_eq!(lookup_position(&entries, 1000), 8200);
        assert_eq!(lookup_position(&[], 5), 0);
        let times = [
            TimeEntry {
                timestamp: 100,
                relative_offset: 0,
            },
            TimeEntry {
                timestamp: 200,
                relative_offset: 10,
            },
        ];
        assert_eq!(lookup_time(&times, 50), 0);
        assert_eq!(lookup_time(&times, 100), 0);
        assert_eq!(lookup_time(&times, 150), 0);
        assert_eq!(lookup_time(&times, 201), 10);
    }
}
