//! Wire format of Raft messages: one frame carries messages of many groups
//! (so heartbeats towards one node travel together), encoded with rkyv and
//! read in place from the receive buffer.
//!
//! Frame layout (all little-endian):
//!
//! | offset | size | field                                             |
//! |--------|------|---------------------------------------------------|
//! | 0      | 4    | magic `b"SLRF"`                                   |
//! | 4      | 1    | version (1)                                       |
//! | 5      | 3    | zero                                              |
//! | 8      | 4    | `body_bytes`: length of the rkyv archive          |
//! | 12     | 4    | CRC32C of the archive bytes                       |
//! | 16     | ...  | rkyv archive of [`Frame`], then zero padding to a multiple of 16 |
//!
//! Alignment: rkyv reads archived `u64`s in place, which needs the archive
//! to start at an address aligned to [`FRAME_ALIGN`]. The header is 16 bytes
//! and frames are padded to a multiple of 16, so a receiver that reads frames
//! back to back into a 16-aligned buffer never copies. If a buffer is not
//! aligned anyway, [`decode`] copies the archive once into an aligned
//! allocation (and reports it in [`Decoded::realigned`]); payloads are then
//! slices of that copy.
//!
//! Integrity: bytecheck only proves the archive is memory-safe to read; the
//! CRC catches corruption that would still be a valid archive.

use bytes::Bytes;
use rkyv::rancor;
use rkyv::util::AlignedVec;

use crate::limits;
use crate::message::{ArchivedMessageBody, Message, MessageBody};
use crate::types::NodeId;
use crate::types::{
    ArchivedConfState, ArchivedEntry, ArchivedEntryKind, ConfState, Entry, EntryKind, GroupId,
    Snapshot, SnapshotMeta,
};

pub const MAGIC: [u8; 4] = *b"SLRF";
pub const VERSION: u8 = 1;
pub const HEADER_BYTES: usize = 16;
/// Alignment the archive needs; also the frame length granularity.
pub const FRAME_ALIGN: usize = 16;

/// One message of one group.
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize)]
pub struct Envelope {
    pub group: GroupId,
    pub message: Message,
}

/// The archived root: every message a sender has for one destination node.
#[derive(Debug, rkyv::Archive, rkyv::Serialize)]
pub struct Frame {
    pub envelopes: Vec<Envelope>,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("frame shorter than its header or its declared length")]
    Truncated,
    #[error("bad magic or version")]
    BadHeader,
    #[error("frame of {0} bytes exceeds the limit")]
    TooLarge(usize),
    #[error("checksum mismatch")]
    Checksum,
    #[error("archive failed validation: {0}")]
    Invalid(String),
    #[error("too many envelopes in one frame")]
    TooManyEnvelopes,
}

/// Total length (header, archive, padding) of the frame whose header starts
/// `header`, for splitting a byte stream into frames.
pub fn frame_len(header: &[u8]) -> Result<usize, WireError> {
    if header.len() < HEADER_BYTES {
        return Err(WireError::Truncated);
    }
    if header[0..4] != MAGIC || header[4] != VERSION || header[5..8] != [0; 3] {
        return Err(WireError::BadHeader);
    }
    let body = u32::from_le_bytes(header[8..12].try_into().expect("4 bytes")) as usize;
    if body > limits::FRAME_BYTES_MAX {
        return Err(WireError::TooLarge(body));
    }
    Ok(HEADER_BYTES + body.next_multiple_of(FRAME_ALIGN))
}

/// Encodes envelopes into one frame. The returned buffer starts 16-aligned.
pub fn encode(envelopes: Vec<Envelope>) -> Bytes {
    assert!(
        envelopes.len() <= limits::FRAME_ENVELOPES_MAX,
        "caller must split frames"
    );
    let frame = Frame { envelopes };
    // Size the buffer up front: growing it would copy every payload again.
    let mut buf = AlignedVec::<FRAME_ALIGN>::with_capacity(estimate_bytes(&frame));
    buf.extend_from_slice(&[0; HEADER_BYTES]);
    let mut buf = rkyv::api::high::to_bytes_in::<_, rancor::Error>(&frame, buf)
        .expect("serializing into memory cannot fail");
    let body_bytes = buf.len() - HEADER_BYTES;
    let crc = crc32c::crc32c(&buf[HEADER_BYTES..]);
    while buf.len() % FRAME_ALIGN != 0 {
        buf.push(0);
    }
    buf[0..4].copy_from_slice(&MAGIC);
    buf[4] = VERSION;
    buf[8..12].copy_from_slice(&(body_bytes as u32).to_le_bytes());
    buf[12..16].copy_from_slice(&crc.to_le_bytes());
    Bytes::from_owner(buf)
}

/// Upper estimate of a frame's encoded size: payloads plus generous
/// per-message and per-entry overhead.
fn estimate_bytes(frame: &Frame) -> usize {
    HEADER_BYTES
        + FRAME_ALIGN
        + 64
        + frame
            .envelopes
            .iter()
            .map(estimate_bytes_one)
            .sum::<usize>()
}

fn estimate_bytes_one(e: &Envelope) -> usize {
    let payload = match &e.message.body {
        MessageBody::Append { entries, .. } => {
            entries.iter().map(|e| e.data.len() + 48).sum::<usize>()
        }
        MessageBody::InstallSnapshot { snapshot } => {
            let members = snapshot.meta.conf.voters.len() + snapshot.meta.conf.learners.len();
            snapshot.data.len() + 16 * members
        }
        _ => 0,
    };
    160 + payload
}

/// Packs the outgoing messages of many groups into frames, grouped by
/// destination node, in the order given per destination (Raft relies on a
/// connection's order only for latency, never for safety). A destination
/// gets several frames only when one would exceed the envelope or byte
/// bounds. This is how heartbeats of all groups towards a node travel
/// together.
pub fn encode_by_destination(outgoing: Vec<Envelope>) -> Vec<(NodeId, Bytes)> {
    let mut by_node: std::collections::BTreeMap<NodeId, Vec<Vec<Envelope>>> = Default::default();
    let mut bytes_in_last: std::collections::BTreeMap<NodeId, usize> = Default::default();
    for e in outgoing {
        let size = estimate_bytes_one(&e);
        let frames = by_node.entry(e.message.to).or_default();
        let bytes = bytes_in_last.entry(e.message.to).or_default();
        let full = frames.last().is_none_or(|f| {
            f.len() >= limits::FRAME_ENVELOPES_MAX || *bytes + size > limits::FRAME_BYTES_MAX / 2
        });
        if full {
            frames.push(Vec::new());
            *bytes = 0;
        }
        *bytes += size;
        frames.last_mut().expect("pushed above").push(e);
    }
    by_node
        .into_iter()
        .flat_map(|(node, frames)| frames.into_iter().map(move |f| (node, encode(f))))
        .collect()
}

/// Decoded messages; entry and snapshot payloads share the frame's buffer.
#[derive(Debug)]
pub struct Decoded {
    pub envelopes: Vec<Envelope>,
    /// The buffer was not aligned and the archive was copied once.
    pub realigned: bool,
}

/// Validates and decodes one frame (`frame` holds exactly one frame, as
/// delimited by [`frame_len`]).
pub fn decode(frame: &Bytes) -> Result<Decoded, WireError> {
    let total = frame_len(frame)?;
    if frame.len() < total {
        return Err(WireError::Truncated);
    }
    let body_bytes = u32::from_le_bytes(frame[8..12].try_into().expect("4 bytes")) as usize;
    let crc = u32::from_le_bytes(frame[12..16].try_into().expect("4 bytes"));
    let mut body = frame.slice(HEADER_BYTES..HEADER_BYTES + body_bytes);
    if crc32c::crc32c(&body) != crc {
        return Err(WireError::Checksum);
    }
    let realigned = body.as_ptr() as usize % FRAME_ALIGN != 0;
    if realigned {
        let mut aligned = AlignedVec::<FRAME_ALIGN>::with_capacity(body.len());
        aligned.extend_from_slice(&body);
        body = Bytes::from_owner(aligned);
    }
    let archived = rkyv::access::<ArchivedFrame, rancor::Error>(&body)
        .map_err(|e| WireError::Invalid(e.to_string()))?;
    if archived.envelopes.len() > limits::FRAME_ENVELOPES_MAX {
        return Err(WireError::TooManyEnvelopes);
    }
    let envelopes = archived
        .envelopes
        .iter()
        .map(|e| {
            Ok(Envelope {
                group: e.group.to_native(),
                message: message_from(&body, &e.message)?,
            })
        })
        .collect::<Result<_, WireError>>()?;
    Ok(Decoded {
        envelopes,
        realigned,
    })
}

/// A slice of `body` (the buffer the archive lives in) for `part`.
fn share(body: &Bytes, part: &[u8]) -> Bytes {
    if part.is_empty() {
        return Bytes::new();
    }
    body.slice_ref(part)
}

fn entry_from(body: &Bytes, e: &ArchivedEntry) -> Entry {
    let kind = match e.kind {
        ArchivedEntryKind::Normal => EntryKind::Normal,
        ArchivedEntryKind::ConfChange => EntryKind::ConfChange,
    };
    Entry {
        term: e.term.to_native(),
        index: e.index.to_native(),
        kind,
        data: share(body, e.data.as_slice()),
    }
}

fn conf_from(c: &ArchivedConfState) -> ConfState {
    // Not `ConfState::new`: it asserts, and bad input must not crash us.
    ConfState {
        voters: c.voters.iter().map(|v| v.to_native()).collect(),
        learners: c.learners.iter().map(|v| v.to_native()).collect(),
    }
}

fn message_from(body: &Bytes, m: &crate::message::ArchivedMessage) -> Result<Message, WireError> {
    let b = match &m.body {
        ArchivedMessageBody::PreVote {
            last_index,
            last_term,
        } => MessageBody::PreVote {
            last_index: last_index.to_native(),
            last_term: last_term.to_native(),
        },
        ArchivedMessageBody::PreVoteResponse { reject } => {
            MessageBody::PreVoteResponse { reject: *reject }
        }
        ArchivedMessageBody::Vote {
            last_index,
            last_term,
            transfer,
        } => MessageBody::Vote {
            last_index: last_index.to_native(),
            last_term: last_term.to_native(),
            transfer: *transfer,
        },
        ArchivedMessageBody::VoteResponse { reject } => {
            MessageBody::VoteResponse { reject: *reject }
        }
        ArchivedMessageBody::Append {
            prev_index,
            prev_term,
            commit,
            entries,
        } => MessageBody::Append {
            prev_index: prev_index.to_native(),
            prev_term: prev_term.to_native(),
            commit: commit.to_native(),
            entries: entries.iter().map(|e| entry_from(body, e)).collect(),
        },
        ArchivedMessageBody::AppendResponse {
            reject,
            index,
            hint_index,
            hint_term,
        } => MessageBody::AppendResponse {
            reject: *reject,
            index: index.to_native(),
            hint_index: hint_index.to_native(),
            hint_term: hint_term.to_native(),
        },
        ArchivedMessageBody::Heartbeat { commit, read_ctx } => MessageBody::Heartbeat {
            commit: commit.to_native(),
            read_ctx: read_ctx.to_native(),
        },
        ArchivedMessageBody::HeartbeatResponse { read_ctx } => MessageBody::HeartbeatResponse {
            read_ctx: read_ctx.to_native(),
        },
        ArchivedMessageBody::InstallSnapshot { snapshot } => MessageBody::InstallSnapshot {
            snapshot: Snapshot {
                meta: SnapshotMeta {
                    index: snapshot.meta.index.to_native(),
                    term: snapshot.meta.term.to_native(),
                    conf: conf_from(&snapshot.meta.conf),
                },
                data: share(body, snapshot.data.as_slice()),
            },
        },
        ArchivedMessageBody::TimeoutNow => MessageBody::TimeoutNow,
    };
    Ok(Message {
        from: m.from.to_native(),
        to: m.to.to_native(),
        term: m.term.to_native(),
        body: b,
    })
}
