//! Compressing and decompressing the records section of a batch.
//!
//! A batch is built uncompressed by [`crate::records::BatchBuilder`]; to
//! compress it the records after the 61-byte header are replaced by their
//! compressed form, and the header's length and codec bits are updated
//! before the CRC is sealed again with `storage::batch`. Decompression does
//! the inverse so that [`crate::records::Batch::records`] can iterate.

use std::io::{Read, Write};

use bytes::Bytes;
use storage::batch::{self, BatchHeader};

use super::error::ClientError;
use crate::records::Batch;

/// Byte offsets of the two header fields rewritten here (see the layout
/// table in `storage::batch`).
const BATCH_LENGTH_AT: usize = 8;
const ATTRIBUTES_AT: usize = 21;
const CODEC_MASK: i16 = 0x7;

/// Largest decompressed records section accepted from a broker, so that a
/// corrupt or hostile batch cannot make the client allocate without bound.
pub const DECOMPRESSED_BYTES_MAX: usize = 64 << 20;

/// Client-side codecs. gzip and snappy are read-only in Kafka terms here:
/// the load generator does not produce them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    None,
    Lz4,
    Zstd,
}

impl Codec {
    fn id(self) -> i16 {
        match self {
            Codec::None => 0,
            Codec::Lz4 => 3,
            Codec::Zstd => 4,
        }
    }
}

/// Compresses an uncompressed, sealed batch. `Codec::None` returns it as is.
pub fn compress(uncompressed: Bytes, codec: Codec) -> Bytes {
    if codec == Codec::None {
        return uncompressed;
    }
    let records = &uncompressed[batch::HEADER_BYTES..];
    let compressed = match codec {
        Codec::None => unreachable!(),
        Codec::Lz4 => {
            let mut enc =
                lz4_flex::frame::FrameEncoder::new(Vec::with_capacity(records.len() / 2 + 64));
            enc.write_all(records)
                .expect("writing to a Vec cannot fail");
            enc.finish()
                .expect("finishing an in-memory lz4 frame cannot fail")
        }
        Codec::Zstd => {
            zstd::bulk::compress(records, 3).expect("in-memory zstd compression cannot fail")
        }
    };
    let mut out = Vec::with_capacity(batch::HEADER_BYTES + compressed.len());
    out.extend_from_slice(&uncompressed[..batch::HEADER_BYTES]);
    out.extend_from_slice(&compressed);
    let length = i32::try_from(out.len() - batch::LOG_OVERHEAD_BYTES).expect("batch fits i32");
    out[BATCH_LENGTH_AT..BATCH_LENGTH_AT + 4].copy_from_slice(&length.to_be_bytes());
    let attributes = i16::from_be_bytes([out[ATTRIBUTES_AT], out[ATTRIBUTES_AT + 1]]);
    let attributes = (attributes & !CODEC_MASK) | codec.id();
    out[ATTRIBUTES_AT..ATTRIBUTES_AT + 2].copy_from_slice(&attributes.to_be_bytes());
    batch::seal_crc(&mut out);
    Bytes::from(out)
}

/// The batch with its records decompressed (CRC resealed), or the batch
/// itself if it was not compressed.
pub fn decompress(b: &Batch) -> Result<Batch, ClientError> {
    use storage::batch::Compression as C;
    let body = &b.bytes[batch::HEADER_BYTES..];
    let bad = |e: std::io::Error| ClientError::BadBatch(format!("{}: {e}", b.header.compression()));
    let mut records = Vec::new();
    match b.header.compression() {
        C::None => return Ok(b.clone()),
        C::Lz4 => {
            lz4_flex::frame::FrameDecoder::new(body)
                .take(DECOMPRESSED_BYTES_MAX as u64 + 1)
                .read_to_end(&mut records)
                .map_err(bad)?;
        }
        C::Zstd => {
            zstd::stream::Decoder::new(body)
                .map_err(bad)?
                .take(DECOMPRESSED_BYTES_MAX as u64 + 1)
                .read_to_end(&mut records)
                .map_err(bad)?;
        }
        other => {
            return Err(ClientError::BadBatch(format!(
                "unsupported compression {other}"
            )))
        }
    }
    if records.len() > DECOMPRESSED_BYTES_MAX {
        return Err(ClientError::BadBatch(format!(
            "decompresses to more than {DECOMPRESSED_BYTES_MAX} bytes"
        )));
    }
    let mut out = Vec::with_capacity(batch::HEADER_BYTES + records.len());
    out.extend_from_slice(&b.bytes[..batch::HEADER_BYTES]);
    out.extend_from_slice(&records);
    let length = i32::try_from(out.len() - batch::LOG_OVERHEAD_BYTES)
        .map_err(|_| ClientError::BadBatch("decompressed batch over 2 GiB".into()))?;
    out[BATCH_LENGTH_AT..BATCH_LENGTH_AT + 4].copy_from_slice(&length.to_be_bytes());
    let attributes = b.header.attributes & !CODEC_MASK;
    out[ATTRIBUTES_AT..ATTRIBUTES_AT + 2].copy_from_slice(&attributes.to_be_bytes());
    batch::seal_crc(&mut out);
    let header = BatchHeader::parse(&out).map_err(|e| ClientError::BadBatch(e.to_string()))?;
    Ok(Batch {
        header,
        bytes: Bytes::from(out),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::BatchBuilder;

    fn sample() -> Bytes {
        let mut b = BatchBuilder::new(1_000).producer(7, 0, 42, false);
        for i in 0..50u32 {
            let value = format!("value {i} {}", "x".repeat(100));
            b.push(
                1_000 + i as i64,
                Some(&i.to_be_bytes()),
                Some(value.as_bytes()),
                &[],
            );
        }
        b.build()
    }

    #[test]
    fn compressed_batches_round_trip_with_valid_crc() {
        let plain = sample();
        for codec in [Codec::Lz4, Codec::Zstd] {
            let packed = compress(plain.clone(), codec);
            assert!(packed.len() < plain.len() / 2, "{codec:?} did not compress");
            batch::verify_crc(&packed).unwrap();
            let header = BatchHeader::parse(&packed).unwrap();
            assert_eq!(header.total_bytes(), packed.len());
            assert_eq!(
                (
                    header.producer_id,
                    header.base_sequence,
                    header.record_count
                ),
                (7, 42, 50)
            );
            let unpacked = decompress(&Batch {
                header,
                bytes: packed,
            })
            .unwrap();
            assert_eq!(unpacked.bytes, plain, "{codec:?}");
            let values: Vec<_> = unpacked
                .records()
                .unwrap()
                .map(|r| r.unwrap().value.unwrap())
                .collect();
            assert_eq!(values.len(), 50);
            assert!(values[49].starts_with(b"value 49 "));
        }
    }

    #[test]
    fn garbage_compressed_records_are_an_error_not_a_panic() {
        let packed = compress(sample(), Codec::Zstd);
        let mut broken = packed.to_vec();
        for b in &mut broken[batch::HEADER_BYTES + 4..] {
            *b ^= 0x5a;
        }
        let header = BatchHeader::parse(&broken).unwrap();
        let result = decompress(&Batch {
            header,
            bytes: Bytes::from(broken),
        });
        assert!(
            matches!(result, Err(ClientError::BadBatch(_))),
            "{result:?}"
        );
    }
}
