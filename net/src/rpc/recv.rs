//! Splits a connection's byte stream into frames without copying them, each
//! frame starting 16-aligned so that rkyv archives inside are read in place
//! and Kafka record batches inside are sliced, not copied.
//!
//! Memory comes in chunks (16-aligned by construction, zeroed once when
//! allocated, never again). The socket reads into the chunk's free tail;
//! whole frames are cut off the front as `Bytes` sharing the chunk. Because
//! every frame is a multiple of 16 bytes, every frame in a chunk starts
//! 16-aligned. When the frame in progress does not fit in what is left of
//! the chunk, a new chunk is started and only the part of that frame
//! received so far is copied; a frame larger than a chunk gets a chunk of
//! exactly its size, so it owns that memory alone and ends any read. When
//! nothing of the next frame has arrived and the chunk has no room left,
//! the header is read alone into a 16-byte buffer and the new chunk is
//! sized from it: reading into a standard chunk first would copy the start
//! of a large frame again (256 KiB of a 257 KiB Raft append) and zero a
//! chunk for nothing. That costs one small read per chunk.
//!
//! A frame (and every slice of it) keeps its whole chunk alive: a receiver
//! that holds small pieces for long should copy them.

use bytes::{Bytes, BytesMut};

use super::frame::{
    FrameError, FrameHeader, Kind, RpcHeader, FRAME_ALIGN, HEADER_BYTES, RPC_HEADER_BYTES,
};

/// One frame as received: header parsed and checked, CRC verified.
#[derive(Debug, Clone)]
pub struct Frame {
    pub header: FrameHeader,
    /// The whole frame: header, body and padding; starts 16-aligned.
    pub bytes: Bytes,
}

impl Frame {
    /// The body, without header and padding (a slice, no copy).
    pub fn body(&self) -> Bytes {
        self.bytes
            .slice(HEADER_BYTES..HEADER_BYTES + self.header.body_bytes)
    }

    /// The RPC header and the payload (a slice, no copy) of an RPC frame.
    pub fn rpc(&self) -> Result<(RpcHeader, Bytes), FrameError> {
        if self.header.kind != Kind::Rpc {
            return Err(FrameError::Unexpected {
                got: self.header.kind,
                reason: "expected an RPC frame",
            });
        }
        let body = self.body();
        let header = RpcHeader::decode(&body)?;
        Ok((header, body.slice(RPC_HEADER_BYTES..)))
    }
}

/// A connection's receive buffer; see the module documentation.
pub struct RecvBuffer {
    /// Received bytes not yet taken as frames. Starts 16-aligned.
    data: BytesMut,
    /// Zeroed memory right after `data` in the same chunk, `len ==`
    /// its capacity: where the next read goes.
    spare: BytesMut,
    chunk_bytes: usize,
    /// Total bytes of the frame at the front of `data`, once its header has
    /// been parsed.
    front_frame_bytes: Option<usize>,
    /// Bytes copied from a full chunk into a new one, over the buffer's life.
    copied_bytes: u64,
}

impl RecvBuffer {
    /// A buffer allocating chunks of `chunk_bytes` (a multiple of 16).
    pub fn new(chunk_bytes: usize) -> Self {
        assert!(
            chunk_bytes >= HEADER_BYTES && chunk_bytes % FRAME_ALIGN == 0,
            "chunk of {chunk_bytes} bytes"
        );
        Self {
            data: BytesMut::new(),
            spare: BytesMut::new(),
            chunk_bytes,
            front_frame_bytes: None,
            copied_bytes: 0,
        }
    }

    /// Bytes received and not yet taken as frames.
    pub fn buffered_bytes(&self) -> usize {
        self.data.len()
    }

    /// Bytes copied so far because a frame did not fit in what was left of
    /// its chunk.
    pub fn copied_bytes(&self) -> u64 {
        self.copied_bytes
    }

    /// Takes the next whole frame, if it has fully arrived. Its body may be
    /// at most `body_bytes_max` (checked as soon as the header is in, before
    /// any room is made for the body). An error means the stream is corrupt
    /// and the connection must be closed.
    pub fn next_frame(&mut self, body_bytes_max: usize) -> Result<Option<Frame>, FrameError> {
        let Some(header_bytes) = self.data.get(..HEADER_BYTES) else {
            return Ok(None);
        };
        let header =
            FrameHeader::decode(header_bytes.try_into().expect("16 bytes"), body_bytes_max)?;
        let total = header.frame_bytes();
        if self.data.len() < total {
            self.front_frame_bytes = Some(total);
            return Ok(None);
        }
        self.front_frame_bytes = None;
        let bytes = self.data.split_to(total).freeze();
        assert_eq!(
            bytes.as_ptr() as usize % FRAME_ALIGN,
            0,
            "frames start aligned"
        );
        header.verify(&bytes)?;
        Ok(Some(Frame { header, bytes }))
    }

    /// Room to read into: at least one byte, and the whole rest of the frame
    /// in progress fits before the chunk ends (only a header's worth when
    /// a new chunk is needed before anything of the frame has arrived). Read, then call
    /// [`Self::filled`] with the number of bytes read.
    pub fn spare(&mut self) -> &mut [u8] {
        let needed = self.front_frame_bytes.unwrap_or(HEADER_BYTES);
        let missing = needed.saturating_sub(self.data.len()).max(1);
        if self.spare.len() < missing {
            let capacity = if self.data.is_empty() {
                HEADER_BYTES
            } else {
                self.chunk_bytes
                    .max((self.data.len() + missing).next_multiple_of(FRAME_ALIGN))
            };
            let mut chunk = aligned_zeroed(capacity);
            chunk[..self.data.len()].copy_from_slice(&self.data);
            self.copied_bytes += self.data.len() as u64;
            self.data = chunk.split_to(self.data.len());
            self.spare = chunk;
        }
        &mut self.spare[..]
    }

    /// Keeps the first `n` bytes of the last [`Self::spare`] as received.
    pub fn filled(&mut self, n: usize) {
        assert!(n <= self.spare.len(), "filled more than the spare room");
        let received = self.spare.split_to(n);
        // O(1): `received` starts where `data` ends, in the same chunk.
        self.data.unsplit(received);
    }
}

/// `capacity` zeroed bytes (`len == capacity`) starting 16-aligned. The
/// allocator promises alignment 1 for bytes, so over-allocate and skip to
/// the boundary; the buffer is never grown, so the start stays aligned.
fn aligned_zeroed(capacity: usize) -> BytesMut {
    let mut chunk = BytesMut::zeroed(capacity + FRAME_ALIGN - 1);
    let skip = chunk.as_ptr().align_offset(FRAME_ALIGN);
    let _ = chunk.split_to(skip);
    chunk.truncate(capacity);
    debug_assert_eq!(chunk.as_ptr() as usize % FRAME_ALIGN, 0);
    chunk
}

#[cfg(test)]
mod tests {
    use super::super::frame::{encode_rpc, RpcKind};
    use super::*;
    use proptest::prelude::*;

    fn rpc_frame(id: u64, payload_bytes: usize) -> Vec<u8> {
        let payload: Vec<u8> = (0..payload_bytes).map(|i| (i as u64 ^ id) as u8).collect();
        encode_rpc(
            RpcHeader {
                request_id: id,
                method: 1,
                kind: RpcKind::Request,
            },
            Bytes::from(payload),
        )
        .concat()
    }

    /// Reads all of `bytes` into `recv`, as much per read as it offers.
    fn feed(recv: &mut RecvBuffer, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let spare = recv.spare();
            let n = spare.len().min(bytes.len());
            spare[..n].copy_from_slice(&bytes[..n]);
            recv.filled(n);
            bytes = &bytes[n..];
        }
    }

    /// Feeds `stream` in reads of the given sizes (cycled); returns the
    /// frames taken, each checked to start aligned.
    fn split(stream: &[u8], read_sizes: &[usize], chunk_bytes: usize) -> Vec<Vec<u8>> {
        let mut recv = RecvBuffer::new(chunk_bytes);
        let mut frames = Vec::new();
        let (mut pos, mut i) = (0, 0);
        loop {
            while let Some(frame) = recv.next_frame(1 << 24).unwrap() {
                assert_eq!(frame.bytes.as_ptr() as usize % 16, 0);
                assert_eq!(frame.body().len(), frame.header.body_bytes);
                frames.push(frame.bytes.to_vec());
            }
            if pos == stream.len() {
                assert_eq!(recv.buffered_bytes(), 0);
                return frames;
            }
            let spare = recv.spare();
            assert!(!spare.is_empty());
            let n = read_sizes[i % read_sizes.len()]
                .clamp(1, spare.len())
                .min(stream.len() - pos);
            spare[..n].copy_from_slice(&stream[pos..pos + n]);
            recv.filled(n);
            pos += n;
            i += 1;
        }
    }

    proptest! {
        #[test]
        fn frames_survive_any_read_boundaries(
            payloads in proptest::collection::vec(0usize..5000, 1..40),
            read_sizes in proptest::collection::vec(1usize..9000, 1..8),
            chunk_bytes in (1usize..64).prop_map(|k| k * 256),
        ) {
            let frames: Vec<Vec<u8>> = payloads
                .iter()
                .enumerate()
                .map(|(i, &n)| rpc_frame(i as u64, n))
                .collect();
            let stream = frames.concat();
            prop_assert_eq!(split(&stream, &read_sizes, chunk_bytes), frames);
        }
    }

    #[test]
    fn a_frame_larger_than_a_chunk_owns_its_memory() {
        let big = rpc_frame(1, 100_000);
        let stream = [
            rpc_frame(0, 10),
            big.clone(),
            big.clone(),
            big.clone(),
            rpc_frame(2, 10),
        ]
        .concat();
        let mut recv = RecvBuffer::new(4096);
        let mut taken = Vec::new();
        let mut pos = 0;
        while pos < stream.len() {
            let spare = recv.spare();
            let n = spare.len().min(stream.len() - pos);
            spare[..n].copy_from_slice(&stream[pos..pos + n]);
            recv.filled(n);
            pos += n;
            while let Some(f) = recv.next_frame(1 << 20).unwrap() {
                taken.push(f.bytes);
            }
        }
        assert_eq!(taken.len(), 5);
        // The start of the first large frame, read with the small one before
        // it, was copied, and 16-byte headers; the other large frames began
        // in chunks of their own.
        assert!(
            recv.copied_bytes() < 2 * 4096,
            "{} bytes copied",
            recv.copied_bytes()
        );
        for frame in taken.drain(1..4) {
            assert_eq!(&frame[..], &big[..]);
            assert!(
                frame.try_into_mut().is_ok(),
                "a large frame shares its chunk"
            );
        }
    }

    #[test]
    fn a_hostile_length_is_refused_before_any_room_is_made() {
        let mut header = rpc_frame(0, 0);
        header[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        let mut recv = RecvBuffer::new(4096);
        recv.spare()[..16].copy_from_slice(&header[..16]);
        recv.filled(16);
        assert!(matches!(
            recv.next_frame(1 << 20),
            Err(FrameError::TooLarge { .. })
        ));
    }

    #[test]
    fn corruption_anywhere_in_a_frame_is_caught() {
        let frame = rpc_frame(5, 37);
        for i in 0..frame.len() {
            let mut bad = frame.clone();
            bad[i] ^= 0x40;
            let mut recv = RecvBuffer::new(4096);
            feed(&mut recv, &bad);
            match recv.next_frame(1 << 20) {
                Err(_) => {}
                // A flipped length bit may make the frame look incomplete.
                Ok(None) if (8..12).contains(&i) => {}
                Ok(other) => panic!("byte {i} flipped: {other:?}"),
            }
        }
        let kind = FrameHeader::decode(frame[..16].try_into().unwrap(), 1 << 20)
            .unwrap()
            .kind;
        assert_eq!(kind, Kind::Rpc);
    }
}
