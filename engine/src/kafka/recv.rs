//! A connection's receive buffer that does not zero the same memory twice.
//!
//! Socket reads need an initialised `&mut [u8]`. Zeroing the whole spare
//! capacity before every read costs as much as a copy of everything received
//! (and more when a read returns less than asked), so this buffer remembers
//! how far its memory is already initialised and zeroes only the rest. Frames
//! are cut off the front with `net`'s [`FrameDecoder`], sharing the memory.

use bytes::{Bytes, BytesMut};
use net::{FrameDecoder, FrameError};

#[derive(Default)]
pub struct RecvBuffer {
    buf: BytesMut,
    /// Bytes from the start of `buf`'s view that are initialised memory
    /// within its capacity: the data, then leftovers of earlier reads.
    /// Invariant: `buf.len() <= initialized <= buf.capacity()`.
    initialized: usize,
}

/// Size prefix in front of every frame (`net::frame::SIZE_PREFIX_BYTES`).
const SIZE_PREFIX_BYTES: usize = net::frame::SIZE_PREFIX_BYTES;

impl RecvBuffer {
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Takes the next whole frame, if it has fully arrived.
    pub fn take_frame(&mut self, decoder: &FrameDecoder) -> Result<Option<Bytes>, FrameError> {
        let before = self.buf.as_ptr();
        let result = decoder.decode(&mut self.buf);
        match &result {
            Ok(Some(frame)) => {
                let consumed = SIZE_PREFIX_BYTES + frame.len();
                if self.buf.is_empty() {
                    // Let go of the memory the frame was cut from, so that
                    // the frame (and the record batches sliced from it) is
                    // its sole owner and the log can stamp offsets into it in
                    // place instead of copying it.
                    self.buf = BytesMut::new();
                    self.initialized = 0;
                } else if self.buf.as_ptr() == before.wrapping_add(consumed) {
                    self.initialized -= consumed;
                } else {
                    self.initialized = self.buf.len();
                }
            }
            // The decoder may have reserved room for the rest of a frame,
            // possibly moving the data to new (uninitialised) memory.
            Ok(None) if self.buf.as_ptr() != before => self.initialized = self.buf.len(),
            _ => {}
        }
        self.check();
        result
    }

    /// Room for `want` more bytes: read into it, then call [`Self::filled`].
    pub fn spare(&mut self, want: usize) -> &mut [u8] {
        let start = self.buf.len();
        let before = self.buf.as_ptr();
        self.buf.reserve(want);
        if self.buf.as_ptr() != before {
            self.initialized = start;
        }
        let end = start + want;
        if self.initialized < end {
            // SAFETY: bytes up to `initialized` are initialised memory inside
            // the capacity (the invariant), and `initialized >= len`.
            unsafe { self.buf.set_len(self.initialized) };
            self.buf.resize(end, 0);
            self.initialized = end;
        } else {
            // SAFETY: `end <= initialized`, all initialised and in capacity.
            unsafe { self.buf.set_len(end) };
        }
        self.check();
        &mut self.buf[start..end]
    }

    /// Keeps `n` of the bytes last handed out by [`Self::spare`].
    pub fn filled(&mut self, spare_start: usize, n: usize) {
        debug_assert!(spare_start + n <= self.buf.len());
        self.buf.truncate(spare_start + n);
        self.check();
    }

    /// Where the next [`Self::spare`] starts.
    pub fn spare_start(&self) -> usize {
        self.buf.len()
    }

    /// Bytes still missing from the frame being received, if known.
    pub fn missing_bytes(&self, decoder: &FrameDecoder) -> Option<usize> {
        decoder.missing_bytes(&self.buf)
    }

    fn check(&self) {
        debug_assert!(
            self.buf.len() <= self.initialized,
            "{} > {}",
            self.buf.len(),
            self.initialized
        );
        debug_assert!(self.initialized <= self.buf.capacity());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(body: &[u8]) -> Vec<u8> {
        let mut out = (body.len() as i32).to_be_bytes().to_vec();
        out.extend_from_slice(body);
        out
    }

    /// Feeds `stream` in reads of the given sizes (cycled) and returns the
    /// frames taken.
    fn run(stream: &[u8], read_sizes: &[usize], want: usize) -> Vec<Vec<u8>> {
        let decoder = FrameDecoder::new(1 << 20);
        let mut recv = RecvBuffer::default();
        let mut frames = Vec::new();
        let mut pos = 0;
        let mut i = 0;
        loop {
            while let Some(f) = recv.take_frame(&decoder).unwrap() {
                frames.push(f.to_vec());
            }
            if pos == stream.len() {
                return frames;
            }
            let start = recv.spare_start();
            let ask = recv
                .missing_bytes(&decoder)
                .unwrap_or(want)
                .clamp(1, 4 * want);
            let spare = recv.spare(ask);
            let n = read_sizes[i % read_sizes.len()]
                .min(spare.len())
                .min(stream.len() - pos);
            spare[..n].copy_from_slice(&stream[pos..pos + n]);
            // Garbage past what was "read" must never leak into a frame.
            let dirty = spare.len().min(n + 64);
            for b in &mut spare[n..dirty] {
                *b = 0xee;
            }
            recv.filled(start, n);
            pos += n;
            i += 1;
        }
    }

    #[test]
    fn frames_survive_any_read_pattern() {
        let bodies: Vec<Vec<u8>> = (0..30u32)
            .map(|i| {
                (0..(i * 997 % 20_000) as usize)
                    .map(|j| (j as u32 ^ i) as u8)
                    .collect()
            })
            .collect();
        let stream: Vec<u8> = bodies.iter().flat_map(|b| frame(b)).collect();
        for sizes in [
            &[61usize][..],
            &[7, 3, 65536],
            &[4096],
            &[100_000],
            &[13, 30_000, 5],
        ] {
            for want in [16, 4096, 65536] {
                assert_eq!(
                    run(&stream, sizes, want),
                    bodies,
                    "reads {sizes:?}, want {want}"
                );
            }
        }
    }

    #[test]
    fn reading_exactly_the_missing_bytes_leaves_large_frames_unshared() {
        let decoder = FrameDecoder::new(1 << 20);
        let mut recv = RecvBuffer::default();
        let big: Vec<u8> = (0..300_000u32).map(|i| i as u8).collect();
        let stream: Vec<u8> = [frame(&big), frame(&big)].concat();
        let mut pos = 0;
        let mut frames = Vec::new();
        while pos < stream.len() {
            let want = recv.missing_bytes(&decoder).unwrap_or(4096).min(65536);
            let start = recv.spare_start();
            let n = want.min(stream.len() - pos);
            recv.spare(want)[..n].copy_from_slice(&stream[pos..pos + n]);
            recv.filled(start, n);
            pos += n;
            while let Some(f) = recv.take_frame(&decoder).unwrap() {
                frames.push(f);
            }
        }
        assert_eq!(frames.len(), 2);
        for f in frames {
            assert_eq!(f[..], big[..]);
            assert!(
                f.try_into_mut().is_ok(),
                "a large frame still shares its memory"
            );
        }
    }

    #[test]
    fn a_drained_buffer_gives_frames_sole_ownership() {
        let decoder = FrameDecoder::new(1 << 20);
        let mut recv = RecvBuffer::default();
        let bytes = frame(b"hello");
        let start = recv.spare_start();
        recv.spare(bytes.len()).copy_from_slice(&bytes);
        recv.filled(start, bytes.len());
        let f = recv.take_frame(&decoder).unwrap().unwrap();
        assert!(recv.is_empty());
        assert!(
            f.try_into_mut().is_ok(),
            "the frame still shares its memory"
        );
    }
}
