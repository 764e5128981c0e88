//! The records field of a Fetch response as several shared buffers.
//!
//! Storage returns a read as whole batches, each its own `Bytes` (some from
//! the segment file, some from the shard's batch cache). Joining them into one
//! buffer would copy every fetched byte once per fetch; a [`RecordSet`] keeps
//! them apart so that the encoder hands each over as its own chunk of the
//! response frame. On the wire it is an ordinary bytes field whose length is
//! the total of its chunks. Decoding yields a single chunk sliced from the
//! receive buffer, so neither side copies record data.

use bytes::{Bytes, BytesMut};

use crate::codec::{DecodeResult, Decoder, Encoder, Layout, Wire};

/// Record batches as an ordered list of buffers. Equality compares contents,
/// not how they are split into chunks.
#[derive(Debug, Clone, Default)]
pub struct RecordSet {
    /// Never holds an empty chunk, so every chunk is worth a write.
    chunks: Vec<Bytes>,
    len: usize,
}

impl RecordSet {
    /// An empty record set (allocates nothing).
    pub fn new() -> Self {
        Self::default()
    }

    /// The chunks in order, empty ones dropped.
    pub fn from_chunks(chunks: Vec<Bytes>) -> Self {
        let mut set = Self {
            chunks: Vec::with_capacity(chunks.len()),
            len: 0,
        };
        for chunk in chunks {
            set.push(chunk);
        }
        set
    }

    /// Appends `chunk` after the bytes already held.
    pub fn push(&mut self, chunk: Bytes) {
        if chunk.is_empty() {
            return;
        }
        self.len += chunk.len();
        self.chunks.push(chunk);
    }

    /// Total bytes across all chunks.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The chunks in order; none is empty.
    pub fn chunks(&self) -> &[Bytes] {
        &self.chunks
    }

    /// All bytes as one buffer, for readers that need one slice (batch
    /// splitting). Free for zero or one chunk, which is every decoded set;
    /// several chunks are copied.
    pub fn to_contiguous(&self) -> Bytes {
        match self.chunks.as_slice() {
            [] => Bytes::new(),
            [one] => one.clone(),
            many => {
                let mut out = BytesMut::with_capacity(self.len);
                for chunk in many {
                    out.extend_from_slice(chunk);
                }
                out.freeze()
            }
        }
    }
}

impl From<Bytes> for RecordSet {
    fn from(bytes: Bytes) -> Self {
        Self::from_chunks(vec![bytes])
    }
}

impl From<Vec<Bytes>> for RecordSet {
    fn from(chunks: Vec<Bytes>) -> Self {
        Self::from_chunks(chunks)
    }
}

impl PartialEq for RecordSet {
    fn eq(&self, other: &Self) -> bool {
        if self.len != other.len {
            return false;
        }
        // Walk both chunk lists in step; equal totals and no empty chunks
        // mean both run out together.
        let (mut ours, mut theirs) = (self.chunks.iter(), other.chunks.iter());
        let (mut a, mut b): (&[u8], &[u8]) = (&[], &[]);
        loop {
            if a.is_empty() {
                match ours.next() {
                    Some(chunk) => a = chunk,
                    None => return true,
                }
            }
            if b.is_empty() {
                b = theirs
                    .next()
                    .expect("equal lengths leave bytes on both sides");
            }
            let n = a.len().min(b.len());
            if a[..n] != b[..n] {
                return false;
            }
            (a, b) = (&a[n..], &b[n..]);
        }
    }
}

impl Eq for RecordSet {}

impl Wire for Option<RecordSet> {
    fn decode(d: &mut Decoder, layout: Layout) -> DecodeResult<Self> {
        Ok(d.nullable_bytes(layout)?.map(RecordSet::from))
    }

    fn encode(&self, e: &mut Encoder, layout: Layout) {
        e.bytes_len(layout, self.as_ref().map(RecordSet::len));
        for chunk in self.iter().flat_map(RecordSet::chunks) {
            e.put_shared(chunk);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits;

    fn set(chunks: &[&'static [u8]]) -> RecordSet {
        RecordSet::from_chunks(chunks.iter().map(|c| Bytes::from_static(c)).collect())
    }

    #[test]
    fn equality_ignores_chunk_boundaries() {
        assert_eq!(set(&[b"abc", b"de"]), set(&[b"a", b"bcd", b"", b"e"]));
        assert_eq!(set(&[b"abcde"]), set(&[b"ab", b"cde"]));
        assert_ne!(set(&[b"abc", b"de"]), set(&[b"abc", b"dx"]));
        assert_ne!(set(&[b"abc"]), set(&[b"ab"]));
        assert_eq!(set(&[]), set(&[b""]));
        assert_eq!(set(&[b"", b"x", b""]).chunks().len(), 1);
    }

    #[test]
    fn contiguous_form_copies_only_several_chunks() {
        let one = Bytes::from_static(b"batch");
        assert_eq!(
            RecordSet::from(one.clone()).to_contiguous().as_ptr(),
            one.as_ptr()
        );
        assert_eq!(
            set(&[b"ab", b"cd"]).to_contiguous(),
            Bytes::from_static(b"abcd")
        );
        assert!(RecordSet::new().to_contiguous().is_empty());
    }

    #[test]
    fn chunks_are_written_untouched_after_one_length_prefix() {
        let big = || Bytes::from(vec![9u8; limits::ENCODE_INLINE_BYTES_MAX]);
        let (first, second) = (big(), big());
        let records = Some(RecordSet::from_chunks(vec![first.clone(), second.clone()]));
        for (layout, prefix) in [
            (
                Layout {
                    version: 0,
                    flexible: false,
                },
                (2 * first.len() as i32).to_be_bytes().to_vec(),
            ),
            // compact length: total + 1 = 1025 as an unsigned varint
            (
                Layout {
                    version: 0,
                    flexible: true,
                },
                vec![0x81, 0x08],
            ),
        ] {
            let mut e = Encoder::new();
            records.encode(&mut e, layout);
            let chunks = e.into_chunks();
            assert_eq!(chunks.len(), 3);
            assert_eq!(chunks[0][..], prefix[..]);
            assert_eq!(chunks[1].as_ptr(), first.as_ptr());
            assert_eq!(chunks[2].as_ptr(), second.as_ptr());

            let wire = Bytes::from(chunks.concat());
            let mut d = Decoder::new(wire.clone());
            let decoded = Option::<RecordSet>::decode(&mut d, layout)
                .unwrap()
                .unwrap();
            d.finish().unwrap();
            assert_eq!(Some(&decoded), records.as_ref());
            assert_eq!(decoded.chunks().len(), 1);
            assert_eq!(decoded.chunks()[0].as_ptr(), wire[prefix.len()..].as_ptr());
        }
    }

    #[test]
    fn null_and_empty_differ_on_the_wire() {
        let layout = Layout {
            version: 0,
            flexible: true,
        };
        for value in [None, Some(RecordSet::new())] {
            let mut e = Encoder::new();
            value.encode(&mut e, layout);
            let mut d = Decoder::new(Bytes::from(e.into_chunks().concat()));
            assert_eq!(Option::<RecordSet>::decode(&mut d, layout).unwrap(), value);
        }
    }
}
