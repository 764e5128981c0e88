//! The bytes of node-to-node frames: one 16-byte header for every kind of
//! frame, the RPC header inside RPC bodies, and the hello.
//!
//! Frame (all integers little-endian, as in `consensus::wire`):
//!
//! | offset | size | field                                                   |
//! |--------|------|---------------------------------------------------------|
//! | 0      | 4    | magic: the frame's kind (table [`KINDS`])               |
//! | 4      | 1    | version of that kind                                    |
//! | 5      | 3    | zero                                                    |
//! | 8      | 4    | `body_bytes`: length of the body                        |
//! | 12     | 4    | CRC32C of the body                                      |
//! | 16     | n    | body                                                    |
//! | 16 + n | 0–15 | zero padding to a multiple of 16                        |
//!
//! The Raft kind (`SLRF`) is exactly `consensus::wire`'s frame, whose body
//! is an rkyv archive; this module never looks inside it. Frames are
//! multiples of 16 bytes, so frames read back to back into a 16-aligned
//! buffer all start 16-aligned and their rkyv archives are read in place.
//!
//! RPC body (kind `SLRP`): a 16-byte RPC header, then the payload (opaque
//! bytes, an rkyv archive of the engine's; it starts 32 bytes into the frame,
//! so it is 16-aligned too):
//!
//! | offset | size | field                                                  |
//! |--------|------|--------------------------------------------------------|
//! | 0      | 8    | request id (chosen by the caller, echoed in the answer)|
//! | 8      | 2    | method (the engine's number for the request type)      |
//! | 10     | 1    | [`RpcKind`]: 0 request, 1 response, 2 unanswered       |
//! | 11     | 5    | zero                                                   |
//! | 16     | ...  | payload                                                |
//!
//! Hello body (kind `SLRH`), the first frame each side sends:
//!
//! | offset | size | field                                                  |
//! |--------|------|--------------------------------------------------------|
//! | 0      | 2    | protocol version ([`PROTOCOL_VERSION`])                |
//! | 2      | 2    | sender's shard count                                   |
//! | 4      | 2    | sender's shard                                         |
//! | 6      | 1    | cluster id length `c` (at most 255)                    |
//! | 7      | 1    | zero                                                   |
//! | 8      | 8    | sender's node id                                       |
//! | 16     | 8    | node id the sender expects to talk to                  |
//! | 24     | c    | cluster id (UTF-8)                                     |
//!
//! The hello is hand-laid rather than rkyv because it is what two versions
//! of Sluice must both read to find out that they differ.
//!
//! Integrity: the CRC covers the body; the padding must be zero. Anything
//! else (unknown magic, other version, non-zero reserved bytes, a body over
//! the limit) is a [`FrameError`] and closes the connection.

use bytes::Bytes;

use super::{NodeId, PeerId, ShardId};

/// Header bytes in front of every frame body.
pub const HEADER_BYTES: usize = 16;
/// Frames start and end on this boundary (rkyv's archive alignment).
pub const FRAME_ALIGN: usize = 16;
/// RPC header bytes at the start of an RPC body.
pub const RPC_HEADER_BYTES: usize = 16;
/// Version of the protocol as a whole (the kinds, their versions, the
/// hello). Both sides must have the same; a later version will negotiate.
pub const PROTOCOL_VERSION: u16 = 1;
/// Fixed part of the hello body, before the cluster id.
pub const HELLO_FIXED_BYTES: usize = 24;

/// What a frame carries; its magic says which.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Who is talking: first frame in each direction.
    Hello,
    /// A `consensus::wire` frame: Raft messages of many groups.
    Raft,
    /// A request or its answer, with an opaque payload.
    Rpc,
}

/// The one table of frame kinds: magic and version. The splitter, the
/// encoders and the tests all read it.
pub const KINDS: [(Kind, [u8; 4], u8); 3] = [
    (Kind::Hello, *b"SLRH", 1),
    (Kind::Raft, *b"SLRF", 1),
    (Kind::Rpc, *b"SLRP", 1),
];

impl Kind {
    pub fn magic(self) -> [u8; 4] {
        KINDS.iter().find(|k| k.0 == self).expect("in table").1
    }

    pub fn version(self) -> u8 {
        KINDS.iter().find(|k| k.0 == self).expect("in table").2
    }

    fn from_magic(magic: [u8; 4]) -> Option<Kind> {
        KINDS.iter().find(|k| k.1 == magic).map(|k| k.0)
    }
}

/// Why a byte stream is not a valid sequence of frames. Every case closes
/// the connection it came from and nothing else.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("unknown frame magic {0:02x?}")]
    UnknownMagic([u8; 4]),
    #[error("{kind:?} frame of version {version}, expected {expected}")]
    UnsupportedVersion {
        kind: Kind,
        version: u8,
        expected: u8,
    },
    #[error("reserved header bytes are not zero")]
    Reserved,
    #[error("frame body of {body_bytes} bytes exceeds the maximum of {max} bytes")]
    TooLarge { body_bytes: usize, max: usize },
    #[error("{kind:?} frame checksum mismatch")]
    Checksum { kind: Kind },
    #[error("frame padding is not zero")]
    Padding,
    #[error("malformed {kind:?} body: {reason}")]
    Malformed { kind: Kind, reason: &'static str },
    #[error("unexpected {got:?} frame: {reason}")]
    Unexpected { got: Kind, reason: &'static str },
}

/// A parsed frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    pub kind: Kind,
    pub body_bytes: usize,
    pub body_crc32c: u32,
}

impl FrameHeader {
    /// The header of a frame of `kind` whose body is `body` (its parts in
    /// order; they are not copied).
    pub fn for_body(kind: Kind, body: &[&[u8]]) -> Self {
        let crc = body
            .iter()
            .fold(0, |crc, part| crc32c::crc32c_append(crc, part));
        Self {
            kind,
            body_bytes: body.iter().map(|p| p.len()).sum(),
            body_crc32c: crc,
        }
    }

    pub fn encode(&self) -> [u8; HEADER_BYTES] {
        let mut out = [0u8; HEADER_BYTES];
        out[0..4].copy_from_slice(&self.kind.magic());
        out[4] = self.kind.version();
        let body_bytes = u32::try_from(self.body_bytes).expect("body over 4 GiB");
        out[8..12].copy_from_slice(&body_bytes.to_le_bytes());
        out[12..16].copy_from_slice(&self.body_crc32c.to_le_bytes());
        out
    }

    /// Parses and checks a header; `body_bytes_max` is the caller's bound.
    pub fn decode(bytes: &[u8; HEADER_BYTES], body_bytes_max: usize) -> Result<Self, FrameError> {
        let magic: [u8; 4] = bytes[0..4].try_into().expect("4 bytes");
        let kind = Kind::from_magic(magic).ok_or(FrameError::UnknownMagic(magic))?;
        if bytes[4] != kind.version() {
            return Err(FrameError::UnsupportedVersion {
                kind,
                version: bytes[4],
                expected: kind.version(),
            });
        }
        if bytes[5..8] != [0; 3] {
            return Err(FrameError::Reserved);
        }
        let body_bytes = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes")) as usize;
        if body_bytes > body_bytes_max {
            return Err(FrameError::TooLarge {
                body_bytes,
                max: body_bytes_max,
            });
        }
        Ok(Self {
            kind,
            body_bytes,
            body_crc32c: u32::from_le_bytes(bytes[12..16].try_into().expect("4 bytes")),
        })
    }

    /// Bytes of the whole frame: header, body and padding.
    pub fn frame_bytes(&self) -> usize {
        HEADER_BYTES + self.body_bytes.next_multiple_of(FRAME_ALIGN)
    }

    /// Checks a whole frame (as long as [`Self::frame_bytes`]) against this
    /// header: the body's CRC and the zero padding.
    pub fn verify(&self, frame: &[u8]) -> Result<(), FrameError> {
        debug_assert_eq!(frame.len(), self.frame_bytes());
        let body_end = HEADER_BYTES + self.body_bytes;
        if crc32c::crc32c(&frame[HEADER_BYTES..body_end]) != self.body_crc32c {
            return Err(FrameError::Checksum { kind: self.kind });
        }
        if frame[body_end..].iter().any(|&b| b != 0) {
            return Err(FrameError::Padding);
        }
        Ok(())
    }
}

/// Zero bytes for padding, shared by every frame.
static ZEROS: [u8; FRAME_ALIGN] = [0; FRAME_ALIGN];

/// The padding after a body of `body_bytes`.
pub fn padding(body_bytes: usize) -> Bytes {
    Bytes::from_static(&ZEROS[..body_bytes.next_multiple_of(FRAME_ALIGN) - body_bytes])
}

/// The header of a Raft frame made by `consensus::wire::encode`, checked
/// against the frame's length (the encoder is trusted: its CRC is not
/// recomputed). `None` if `frame` is not one whole Raft frame.
pub fn raft_frame_header(frame: &[u8], body_bytes_max: usize) -> Option<FrameHeader> {
    let header = FrameHeader::decode(frame.get(..HEADER_BYTES)?.try_into().ok()?, body_bytes_max)
        .ok()
        .filter(|h| h.kind == Kind::Raft)?;
    (header.frame_bytes() == frame.len()).then_some(header)
}

/// What an RPC frame is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum RpcKind {
    /// A call; the receiver answers with the same request id.
    Request = 0,
    /// The answer; the payload is the engine's response.
    Response = 1,
    /// The receiver dropped the request without answering it (empty
    /// payload), so the caller fails at once instead of at its timeout.
    Unanswered = 2,
}

/// The header at the start of every RPC body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RpcHeader {
    pub request_id: u64,
    pub method: u16,
    pub kind: RpcKind,
}

impl RpcHeader {
    pub fn encode(&self) -> [u8; RPC_HEADER_BYTES] {
        let mut out = [0u8; RPC_HEADER_BYTES];
        out[0..8].copy_from_slice(&self.request_id.to_le_bytes());
        out[8..10].copy_from_slice(&self.method.to_le_bytes());
        out[10] = self.kind as u8;
        out
    }

    pub fn decode(body: &[u8]) -> Result<Self, FrameError> {
        let malformed = |reason| FrameError::Malformed {
            kind: Kind::Rpc,
            reason,
        };
        let b: &[u8; RPC_HEADER_BYTES] = body
            .get(..RPC_HEADER_BYTES)
            .and_then(|b| b.try_into().ok())
            .ok_or(malformed("shorter than the RPC header"))?;
        let kind = match b[10] {
            0 => RpcKind::Request,
            1 => RpcKind::Response,
            2 => RpcKind::Unanswered,
            _ => return Err(malformed("unknown RPC kind")),
        };
        if b[11..] != [0; 5] {
            return Err(malformed("reserved RPC header bytes are not zero"));
        }
        Ok(Self {
            request_id: u64::from_le_bytes(b[0..8].try_into().expect("8 bytes")),
            method: u16::from_le_bytes(b[8..10].try_into().expect("2 bytes")),
            kind,
        })
    }
}

/// An RPC frame as three buffers for a vectored write: frame header and RPC
/// header together (32 bytes), the payload untouched, the padding.
pub fn encode_rpc(header: RpcHeader, payload: Bytes) -> [Bytes; 3] {
    let rpc = header.encode();
    let frame = FrameHeader::for_body(Kind::Rpc, &[&rpc, &payload]);
    let mut head = Vec::with_capacity(HEADER_BYTES + RPC_HEADER_BYTES);
    head.extend_from_slice(&frame.encode());
    head.extend_from_slice(&rpc);
    let pad = padding(frame.body_bytes);
    [Bytes::from(head), payload, pad]
}

/// The first frame on a connection, in each direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    pub protocol_version: u16,
    pub cluster_id: String,
    /// The sending node and shard.
    pub from: PeerId,
    pub shard_count: u16,
    /// The node the sender believes it is talking to.
    pub to_node: NodeId,
}

impl Hello {
    /// The whole frame, header and padding included.
    pub fn encode(&self) -> Bytes {
        let id = self.cluster_id.as_bytes();
        let id_len = u8::try_from(id.len()).expect("cluster id checked by Config");
        let mut body = Vec::with_capacity(HELLO_FIXED_BYTES + id.len());
        body.extend_from_slice(&self.protocol_version.to_le_bytes());
        body.extend_from_slice(&self.shard_count.to_le_bytes());
        body.extend_from_slice(&self.from.shard.to_le_bytes());
        body.push(id_len);
        body.push(0);
        body.extend_from_slice(&self.from.node.to_le_bytes());
        body.extend_from_slice(&self.to_node.to_le_bytes());
        body.extend_from_slice(id);
        let header = FrameHeader::for_body(Kind::Hello, &[&body]);
        let mut frame = Vec::with_capacity(header.frame_bytes());
        frame.extend_from_slice(&header.encode());
        frame.extend_from_slice(&body);
        frame.resize(header.frame_bytes(), 0);
        Bytes::from(frame)
    }

    /// Parses a hello body. Only the layout is checked here; whether the
    /// values are acceptable is the connection's decision.
    pub fn decode(body: &[u8]) -> Result<Self, FrameError> {
        let malformed = |reason| FrameError::Malformed {
            kind: Kind::Hello,
            reason,
        };
        if body.len() < HELLO_FIXED_BYTES {
            return Err(malformed("shorter than the fixed hello fields"));
        }
        let u16_at = |i: usize| u16::from_le_bytes([body[i], body[i + 1]]);
        let u64_at = |i: usize| u64::from_le_bytes(body[i..i + 8].try_into().expect("8 bytes"));
        let id_len = body[6] as usize;
        if body[7] != 0 {
            return Err(malformed("reserved hello byte is not zero"));
        }
        if body.len() != HELLO_FIXED_BYTES + id_len {
            return Err(malformed("length does not match the cluster id length"));
        }
        let cluster_id = std::str::from_utf8(&body[HELLO_FIXED_BYTES..])
            .map_err(|_| malformed("cluster id is not UTF-8"))?
            .to_owned();
        let from_shard: ShardId = u16_at(4);
        Ok(Self {
            protocol_version: u16_at(0),
            shard_count: u16_at(2),
            from: PeerId {
                node: u64_at(8),
                shard: from_shard,
            },
            to_node: u64_at(16),
            cluster_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_distinct() {
        for (i, a) in KINDS.iter().enumerate() {
            for b in &KINDS[i + 1..] {
                assert_ne!(a.0, b.0);
                assert_ne!(a.1, b.1);
            }
        }
    }

    /// Every byte of an RPC frame, field by field.
    #[test]
    fn golden_rpc_frame() {
        let header = RpcHeader {
            request_id: 0x0102_0304_0506_0708,
            method: 0x0a0b,
            kind: RpcKind::Response,
        };
        let chunks = encode_rpc(header, Bytes::from_static(b"abc"));
        let frame: Vec<u8> = chunks.concat();
        let body_crc = crc32c::crc32c(&[&header.encode()[..], b"abc"].concat());
        #[rustfmt::skip]
        let mut expected = vec![
            b'S', b'L', b'R', b'P',     // magic: RPC
            1,                          // version
            0, 0, 0,                    // reserved
            19, 0, 0, 0,                // body_bytes: 16 (RPC header) + 3
        ];
        expected.extend_from_slice(&body_crc.to_le_bytes()); // CRC32C of the body
        #[rustfmt::skip]
        expected.extend_from_slice(&[
            8, 7, 6, 5, 4, 3, 2, 1,     // request id
            0x0b, 0x0a,                 // method
            1,                          // kind: response
            0, 0, 0, 0, 0,              // reserved
            b'a', b'b', b'c',           // payload
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // padding to 48
        ]);
        assert_eq!(frame, expected);
        // Computed independently (bitwise CRC32C, polynomial 0x82F63B78, in Python).
        assert_eq!(body_crc, 0xe375_472c, "CRC32C of the body");
        let parsed = FrameHeader::decode(frame[..16].try_into().unwrap(), 1 << 20).unwrap();
        assert_eq!(parsed.kind, Kind::Rpc);
        assert_eq!(parsed.frame_bytes(), 48);
        parsed.verify(&frame).unwrap();
        assert_eq!(RpcHeader::decode(&frame[16..]).unwrap(), header);
    }

    /// Every byte of a hello frame, field by field.
    #[test]
    fn golden_hello_frame() {
        let hello = Hello {
            protocol_version: 1,
            cluster_id: "c1".into(),
            from: PeerId { node: 7, shard: 3 },
            shard_count: 4,
            to_node: 9,
        };
        let frame = hello.encode();
        #[rustfmt::skip]
        let body: &[u8] = &[
            1, 0,                       // protocol version
            4, 0,                       // shard count
            3, 0,                       // from shard
            2,                          // cluster id length
            0,                          // reserved
            7, 0, 0, 0, 0, 0, 0, 0,     // from node
            9, 0, 0, 0, 0, 0, 0, 0,     // to node
            b'c', b'1',                 // cluster id
        ];
        let mut expected = b"SLRH\x01\x00\x00\x00".to_vec();
        expected.extend_from_slice(&26u32.to_le_bytes());
        // CRC32C of the body, computed independently (bitwise, in Python).
        expected.extend_from_slice(&0x4206_bfb2u32.to_le_bytes());
        expected.extend_from_slice(body);
        expected.extend_from_slice(&[0; 6]); // padding to 48
        assert_eq!(&frame[..], &expected[..]);
        assert_eq!(Hello::decode(body).unwrap(), hello);
    }

    #[test]
    fn bad_headers_are_typed_errors() {
        let good = FrameHeader::for_body(Kind::Rpc, &[&[0u8; 20]]).encode();
        let with = |i: usize, b: u8| {
            let mut h = good;
            h[i] = b;
            FrameHeader::decode(&h, 100)
        };
        assert!(matches!(with(0, b'X'), Err(FrameError::UnknownMagic(_))));
        assert!(matches!(
            with(4, 2),
            Err(FrameError::UnsupportedVersion {
                kind: Kind::Rpc,
                ..
            })
        ));
        assert_eq!(with(6, 1), Err(FrameError::Reserved));
        assert_eq!(
            FrameHeader::decode(&good, 19),
            Err(FrameError::TooLarge {
                body_bytes: 20,
                max: 19
            })
        );
        let mut frame = encode_rpc(
            RpcHeader {
                request_id: 1,
                method: 2,
                kind: RpcKind::Request,
            },
            Bytes::from_static(b"x"),
        )
        .concat();
        let header = FrameHeader::decode(frame[..16].try_into().unwrap(), 100).unwrap();
        let last = frame.len() - 1;
        frame[last] = 1;
        assert_eq!(header.verify(&frame), Err(FrameError::Padding));
        frame[last] = 0;
        frame[20] ^= 1;
        assert_eq!(
            header.verify(&frame),
            Err(FrameError::Checksum { kind: Kind::Rpc })
        );
    }

    #[test]
    fn hostile_hello_bodies_are_refused() {
        let good = Hello {
            protocol_version: 1,
            cluster_id: "abc".into(),
            from: PeerId { node: 1, shard: 0 },
            shard_count: 1,
            to_node: 2,
        }
        .encode();
        let body = &good[HEADER_BYTES..HEADER_BYTES + HELLO_FIXED_BYTES + 3];
        for len in 0..body.len() {
            assert!(Hello::decode(&body[..len]).is_err(), "{len} bytes");
        }
        let mut long = body.to_vec();
        long[6] = 200; // claims a longer id than there is
        assert!(Hello::decode(&long).is_err());
        let mut bad_utf8 = body.to_vec();
        bad_utf8[HELLO_FIXED_BYTES] = 0xff;
        assert!(Hello::decode(&bad_utf8).is_err());
    }
}
