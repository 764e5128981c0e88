//! Record batches on the wire: splitting a records field into batches,
//! validating what a producer sends, and iterating the records inside an
//! uncompressed batch.
//!
//! The 61-byte header layout, its parsing and the CRC live in
//! [`storage::batch`]; this module adds the rules a broker applies to batches
//! arriving from clients. Splitting is O(number of batches): records stay
//! opaque bytes, sliced from the frame. Only [`Batch::records`] looks inside,
//! for tests, tools and (later) compaction.

use bytes::Bytes;
use storage::batch::{self, BatchError, BatchHeader, Compression};

use crate::codec::{DecodeError, Decoder};
use crate::error::ErrorCode;
use crate::limits;

/// Attribute bits Kafka defines: codec (0-2), timestamp type (3),
/// transactional (4), control (5), delete horizon (6). Others must be zero.
const ATTRIBUTES_DEFINED_MASK: i16 = 0x7f;
const ATTRIBUTE_DELETE_HORIZON: i16 = 0x40;

/// Why a batch was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordsError {
    #[error(transparent)]
    Header(#[from] BatchError),
    #[error("unknown compression codec {0}")]
    UnknownCompression(u8),
    #[error("undefined attribute bits set: {0:#06x}")]
    UndefinedAttributes(i16),
    #[error("control batches may not be produced by clients")]
    ControlBatch,
    #[error("delete-horizon batches may not be produced by clients")]
    DeleteHorizon,
    #[error("transactional batch without a producer id")]
    TransactionalWithoutProducer,
    #[error("producer id {producer_id} with epoch {producer_epoch} and base sequence {base_sequence} is inconsistent")]
    BadProducerFields {
        producer_id: i64,
        producer_epoch: i16,
        base_sequence: i32,
    },
    #[error("record count {record_count} does not match last offset delta {last_offset_delta}")]
    CountMismatch {
        record_count: i32,
        last_offset_delta: i32,
    },
    #[error("batch has no records")]
    Empty,
    #[error("record count {record_count} cannot fit in {bytes} bytes of records")]
    CountTooLarge { record_count: i32, bytes: usize },
    #[error("batch is {compression}-compressed; records cannot be read without decompressing")]
    Compressed { compression: Compression },
    #[error("malformed record {index}: {error}")]
    BadRecord { index: i32, error: DecodeError },
    #[error("records take {actual} bytes but the batch holds {expected}")]
    RecordsLength { expected: usize, actual: usize },
}

impl RecordsError {
    /// The error code a Produce response carries for this batch.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            RecordsError::Header(BatchError::CrcMismatch { .. }) => ErrorCode::CorruptMessage,
            // Kafka answers old-format batches in a v3+ Produce with
            // INVALID_RECORD too.
            RecordsError::Header(BatchError::BadMagic(_)) => ErrorCode::InvalidRecord,
            RecordsError::UnknownCompression(_) => ErrorCode::UnsupportedCompressionType,
            RecordsError::Header(_) => ErrorCode::CorruptMessage,
            _ => ErrorCode::InvalidRecord,
        }
    }
}

/// One whole batch: its parsed header and its bytes, shared with the frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub header: BatchHeader,
    pub bytes: Bytes,
}

impl Batch {
    /// The records inside, for an uncompressed batch; a compressed one is
    /// reported as [`RecordsError::Compressed`].
    pub fn records(&self) -> Result<RecordIter, RecordsError> {
        let compression = self.header.compression();
        if compression != Compression::None {
            return Err(RecordsError::Compressed { compression });
        }
        let body = self.bytes.slice(batch::HEADER_BYTES..);
        let count = self.header.record_count;
        if count as usize > body.len() / limits::RECORD_BYTES_MIN {
            return Err(RecordsError::CountTooLarge {
                record_count: count,
                bytes: body.len(),
            });
        }
        Ok(RecordIter {
            decoder: Decoder::new(body),
            index: 0,
            count,
            base_offset: self.header.base_offset,
            base_timestamp: self.header.base_timestamp,
        })
    }
}

/// Iterates the batches of a records field, checking each header (not the
/// CRC) as it goes. Stops at the first malformed batch.
#[derive(Debug, Clone)]
pub struct Batches {
    rest: Bytes,
    failed: bool,
}

/// The batches of a records field, as slices of it.
pub fn batches(records: &Bytes) -> Batches {
    Batches {
        rest: records.clone(),
        failed: false,
    }
}

impl Iterator for Batches {
    type Item = Result<Batch, RecordsError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() || self.failed {
            return None;
        }
        match batch::split_batch(&self.rest) {
            Ok((header, whole, _)) => {
                let len = whole.len();
                let bytes = self.rest.split_to(len);
                Some(Ok(Batch { header, bytes }))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e.into()))
            }
        }
    }
}

/// Checks a batch sent by a producer: the header and CRC through
/// [`storage::batch`], then the wire rules Kafka applies to produced batches.
pub fn validate_produced(batch: &Batch) -> Result<(), RecordsError> {
    batch::verify_crc(&batch.bytes)?;
    let h = &batch.header;
    if let Compression::Unknown(codec) = h.compression() {
        return Err(RecordsError::UnknownCompression(codec));
    }
    if h.attributes & !ATTRIBUTES_DEFINED_MASK != 0 {
        return Err(RecordsError::UndefinedAttributes(h.attributes));
    }
    if h.is_control() {
        return Err(RecordsError::ControlBatch);
    }
    if h.attributes & ATTRIBUTE_DELETE_HORIZON != 0 {
        return Err(RecordsError::DeleteHorizon);
    }
    // Producer id -1 means "no producer": epoch and sequence must say so too.
    // An idempotent producer has all three non-negative.
    let no_producer = h.producer_id == -1 && h.producer_epoch == -1 && h.base_sequence == -1;
    let idempotent = h.producer_id >= 0 && h.producer_epoch >= 0 && h.base_sequence >= 0;
    if h.is_transactional() && !idempotent {
        return Err(RecordsError::TransactionalWithoutProducer);
    }
    if !no_producer && !idempotent {
        return Err(RecordsError::BadProducerFields {
            producer_id: h.producer_id,
            producer_epoch: h.producer_epoch,
            base_sequence: h.base_sequence,
        });
    }
    if h.record_count == 0 {
        return Err(RecordsError::Empty);
    }
    // Producers number records 0..count: offsets are assigned densely.
    if i64::from(h.last_offset_delta) != i64::from(h.record_count) - 1 {
        return Err(RecordsError::CountMismatch {
            record_count: h.record_count,
            last_offset_delta: h.last_offset_delta,
        });
    }
    let body_bytes = batch.bytes.len() - batch::HEADER_BYTES;
    if h.compression() == Compression::None
        && h.record_count as usize > body_bytes / limits::RECORD_BYTES_MIN
    {
        return Err(RecordsError::CountTooLarge {
            record_count: h.record_count,
            bytes: body_bytes,
        });
    }
    Ok(())
}

/// One record header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordHeader {
    pub key: Bytes,
    pub value: Option<Bytes>,
}

/// One record of an uncompressed batch. Keys, values and headers are slices
/// of the batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub attributes: i8,
    pub offset: i64,
    pub timestamp: i64,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<RecordHeader>,
}

/// Iterates the records of an uncompressed batch. Yields an error and stops
/// at the first malformed record; after the last record it checks that the
/// records used exactly the batch's bytes.
#[derive(Debug)]
pub struct RecordIter {
    decoder: Decoder,
    index: i32,
    count: i32,
    base_offset: i64,
    base_timestamp: i64,
}

impl RecordIter {
    fn record(&mut self) -> Result<Record, DecodeError> {
        let d = &mut self.decoder;
        let length = d.varint()?;
        let length =
            usize::try_from(length).map_err(|_| DecodeError::NegativeLength(length.into()))?;
        let mut d = Decoder::new(d.take_bytes(length)?);
        let attributes = d.i8()?;
        let timestamp_delta = d.varlong()?;
        let offset_delta = d.varint()?;
        let key = varint_bytes(&mut d)?;
        let value = varint_bytes(&mut d)?;
        let header_count = d.varint()?;
        let header_count = usize::try_from(header_count)
            .map_err(|_| DecodeError::NegativeLength(header_count.into()))?;
        // Each header takes at least two bytes (two varint lengths).
        if header_count > limits::RECORD_HEADERS_MAX || header_count * 2 > d.remaining() {
            return Err(DecodeError::CountPastEnd {
                count: header_count as u64,
                left: d.remaining(),
            });
        }
        let mut headers = Vec::with_capacity(header_count);
        for _ in 0..header_count {
            let key = varint_bytes(&mut d)?.ok_or(DecodeError::UnexpectedNull)?;
            let value = varint_bytes(&mut d)?;
            headers.push(RecordHeader { key, value });
        }
        d.finish()?;
        Ok(Record {
            attributes,
            offset: self.base_offset.wrapping_add(i64::from(offset_delta)),
            timestamp: self.base_timestamp.wrapping_add(timestamp_delta),
            key,
            value,
            headers,
        })
    }
}

fn varint_bytes(d: &mut Decoder) -> Result<Option<Bytes>, DecodeError> {
    let len = d.varint()?;
    match len {
        -1 => Ok(None),
        n if n < 0 => Err(DecodeError::NegativeLength(n.into())),
        n => d.take_bytes(n as usize).map(Some),
    }
}

impl Iterator for RecordIter {
    type Item = Result<Record, RecordsError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.index >= self.count {
            if self.index == self.count {
                self.index += 1;
                let left = self.decoder.remaining();
                if left != 0 {
                    return Some(Err(RecordsError::RecordsLength {
                        expected: self.decoder.position() + left,
                        actual: self.decoder.position(),
                    }));
                }
            }
            return None;
        }
        let index = self.index;
        match self.record() {
            Ok(record) => {
                self.index += 1;
                Some(Ok(record))
            }
            Err(error) => {
                self.index = self.count + 1;
                Some(Err(RecordsError::BadRecord { index, error }))
            }
        }
    }
}

/// Builds uncompressed batches, for tests, tools and the load generator.
#[derive(Debug)]
pub struct BatchBuilder {
    base_timestamp: i64,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    transactional: bool,
    records: crate::codec::Encoder,
    count: i32,
    max_timestamp: i64,
}

impl BatchBuilder {
    /// A batch without a producer id (not idempotent).
    pub fn new(base_timestamp: i64) -> Self {
        Self {
            base_timestamp,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            transactional: false,
            records: crate::codec::Encoder::new(),
            count: 0,
            max_timestamp: base_timestamp,
        }
    }

    /// Marks the batch as sent by an idempotent (or transactional) producer.
    pub fn producer(
        mut self,
        producer_id: i64,
        producer_epoch: i16,
        base_sequence: i32,
        transactional: bool,
    ) -> Self {
        self.producer_id = producer_id;
        self.producer_epoch = producer_epoch;
        self.base_sequence = base_sequence;
        self.transactional = transactional;
        self
    }

    pub fn record_count(&self) -> i32 {
        self.count
    }

    /// Appends a record stamped `timestamp`.
    pub fn push(
        &mut self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[(&[u8], Option<&[u8]>)],
    ) {
        let mut r = crate::codec::Encoder::new();
        r.i8(0);
        r.varlong(timestamp - self.base_timestamp);
        r.varint(self.count);
        put_varint_bytes(&mut r, key);
        put_varint_bytes(&mut r, value);
        r.varint(i32::try_from(headers.len()).expect("header count fits i32"));
        for (k, v) in headers {
            put_varint_bytes(&mut r, Some(k));
            put_varint_bytes(&mut r, *v);
        }
        self.records
            .varint(i32::try_from(r.len()).expect("record fits i32"));
        self.records.append(r);
        self.count += 1;
        self.max_timestamp = self.max_timestamp.max(timestamp);
    }

    /// The finished batch with base offset 0 and a sealed CRC.
    pub fn build(self) -> Bytes {
        assert!(self.count > 0, "a batch needs at least one record");
        let records = self.records.into_chunks().concat();
        let mut b = Vec::with_capacity(batch::HEADER_BYTES + records.len());
        b.extend_from_slice(&0i64.to_be_bytes());
        let length = batch::HEADER_BYTES - batch::LOG_OVERHEAD_BYTES + records.len();
        b.extend_from_slice(&i32::try_from(length).expect("batch fits i32").to_be_bytes());
        b.extend_from_slice(&0i32.to_be_bytes()); // leader epoch
        b.push(batch::MAGIC_V2 as u8);
        b.extend_from_slice(&0u32.to_be_bytes()); // crc, sealed below
        let attributes: i16 = if self.transactional { 0x10 } else { 0 };
        b.extend_from_slice(&attributes.to_be_bytes());
        b.extend_from_slice(&(self.count - 1).to_be_bytes());
        b.extend_from_slice(&self.base_timestamp.to_be_bytes());
        b.extend_from_slice(&self.max_timestamp.to_be_bytes());
        b.extend_from_slice(&self.producer_id.to_be_bytes());
        b.extend_from_slice(&self.producer_epoch.to_be_bytes());
        b.extend_from_slice(&self.base_sequence.to_be_bytes());
        b.extend_from_slice(&self.count.to_be_bytes());
        b.extend_from_slice(&records);
        batch::seal_crc(&mut b);
        Bytes::from(b)
    }
}

fn put_varint_bytes(e: &mut crate::codec::Encoder, data: Option<&[u8]>) {
    match data {
        None => e.varint(-1),
        Some(d) => {
            e.varint(i32::try_from(d.len()).expect("field fits i32"));
            e.put_slice(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_record_batch() -> Bytes {
        let mut b = BatchBuilder::new(1_000);
        b.push(1_000, Some(b"k"), Some(b"hello"), &[(b"h", Some(b"v"))]);
        b.push(1_007, None, Some(b"world"), &[]);
        b.build()
    }

    #[test]
    fn built_batch_validates_and_iterates() {
        let bytes = two_record_batch();
        let all: Vec<Batch> = batches(&bytes).collect::<Result<_, _>>().unwrap();
        assert_eq!(all.len(), 1);
        validate_produced(&all[0]).unwrap();
        assert_eq!(all[0].bytes.as_ptr(), bytes.as_ptr());
        let records: Vec<Record> = all[0].records().unwrap().collect::<Result<_, _>>().unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].key.as_deref(), Some(&b"k"[..]));
        assert_eq!(records[0].value.as_deref(), Some(&b"hello"[..]));
        assert_eq!(records[0].headers[0].key, Bytes::from_static(b"h"));
        assert_eq!((records[1].offset, records[1].timestamp), (1, 1_007));
        assert_eq!(records[1].key, None);
    }

    #[test]
    fn several_batches_split_in_order() {
        let one = two_record_batch();
        let mut cat = one.to_vec();
        cat.extend_from_slice(&one);
        cat.extend_from_slice(&one[..20]); // a truncated third batch
        let cat = Bytes::from(cat);
        let got: Vec<_> = batches(&cat).collect();
        assert_eq!(got.len(), 3);
        assert!(got[0].is_ok() && got[1].is_ok());
        assert!(matches!(
            got[2],
            Err(RecordsError::Header(BatchError::Truncated { .. }))
        ));
    }

    fn resealed(mut bytes: Vec<u8>, at: usize, value: &[u8]) -> Batch {
        bytes[at..at + value.len()].copy_from_slice(value);
        batch::seal_crc(&mut bytes);
        let bytes = Bytes::from(bytes);
        Batch {
            header: BatchHeader::parse(&bytes).unwrap(),
            bytes,
        }
    }

    #[test]
    fn produced_batch_rules() {
        let good = two_record_batch().to_vec();
        let attrs = 21;
        type Expect = fn(&RecordsError) -> bool;
        let cases: Vec<(Batch, Expect)> = vec![
            (resealed(good.clone(), attrs, &5i16.to_be_bytes()), |e| {
                matches!(e, RecordsError::UnknownCompression(5))
            }),
            (resealed(good.clone(), attrs, &0x80i16.to_be_bytes()), |e| {
                matches!(e, RecordsError::UndefinedAttributes(_))
            }),
            (resealed(good.clone(), attrs, &0x20i16.to_be_bytes()), |e| {
                *e == RecordsError::ControlBatch
            }),
            (resealed(good.clone(), attrs, &0x10i16.to_be_bytes()), |e| {
                *e == RecordsError::TransactionalWithoutProducer
            }),
            (resealed(good.clone(), 43, &7i64.to_be_bytes()), |e| {
                matches!(e, RecordsError::BadProducerFields { .. })
            }),
            (resealed(good.clone(), 23, &5i32.to_be_bytes()), |e| {
                matches!(e, RecordsError::CountMismatch { .. })
            }),
            (resealed(good.clone(), 57, &0i32.to_be_bytes()), |e| {
                *e == RecordsError::Empty
            }),
        ];
        for (batch, expected) in cases {
            let err = validate_produced(&batch).unwrap_err();
            assert!(expected(&err), "{err:?}");
            assert_eq!(
                err.error_code(),
                if matches!(err, RecordsError::UnknownCompression(_)) {
                    ErrorCode::UnsupportedCompressionType
                } else {
                    ErrorCode::InvalidRecord
                }
            );
        }
        assert_eq!(
            RecordsError::Header(BatchError::BadMagic(1)).error_code(),
            ErrorCode::InvalidRecord
        );
        let mut corrupt = good.clone();
        corrupt[70] ^= 1;
        let corrupt = Bytes::from(corrupt);
        let batch = Batch {
            header: BatchHeader::parse(&corrupt).unwrap(),
            bytes: corrupt,
        };
        let err = validate_produced(&batch).unwrap_err();
        assert_eq!(err.error_code(), ErrorCode::CorruptMessage);
    }

    #[test]
    fn idempotent_batch_is_accepted() {
        let mut b = BatchBuilder::new(5).producer(42, 3, 100, true);
        b.push(5, None, Some(b"x"), &[]);
        let bytes = b.build();
        let batch = batches(&bytes).next().unwrap().unwrap();
        validate_produced(&batch).unwrap();
        assert!(batch.header.is_transactional());
        assert_eq!(
            (batch.header.producer_id, batch.header.base_sequence),
            (42, 100)
        );
    }

    #[test]
    fn compressed_batches_are_reported() {
        let good = two_record_batch().to_vec();
        let batch = resealed(good, 21, &4i16.to_be_bytes());
        assert_eq!(
            batch.records().unwrap_err(),
            RecordsError::Compressed {
                compression: Compression::Zstd
            }
        );
    }

    #[test]
    fn lying_record_counts_and_lengths_are_errors() {
        let good = two_record_batch().to_vec();
        // count far above what the bytes can hold: refused before looping
        let batch = resealed(good.clone(), 57, &i32::MAX.to_be_bytes());
        assert!(matches!(
            batch.records(),
            Err(RecordsError::CountTooLarge { .. })
        ));
        // count one higher than the records present
        let batch = resealed(good.clone(), 57, &3i32.to_be_bytes());
        let results: Vec<_> = batch.records().unwrap().collect();
        assert!(matches!(
            results.last(),
            Some(Err(RecordsError::BadRecord { index: 2, .. }))
        ));
        // count one lower: the leftover record is reported
        let batch = resealed(good.clone(), 57, &1i32.to_be_bytes());
        let results: Vec<_> = batch.records().unwrap().collect();
        assert!(matches!(
            results.last(),
            Some(Err(RecordsError::RecordsLength { .. }))
        ));
        // a record length pointing past the batch
        let mut bad = good.clone();
        bad[61] = 0x7e; // varint 63: longer than the record
        let batch = resealed(bad, 61, &[0x7e]);
        let first = batch.records().unwrap().next().unwrap();
        assert!(matches!(
            first,
            Err(RecordsError::BadRecord { index: 0, .. })
        ));
    }
}
