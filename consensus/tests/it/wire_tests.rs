//! The wire format: round trips, zero-copy payloads, alignment handling,
//! integrity checks, hostile input and coalesced heartbeats.

use bytes::Bytes;
use consensus::wire::{self, Envelope, WireError, FRAME_ALIGN, HEADER_BYTES};
use consensus::{ConfState, Entry, EntryKind, Message, MessageBody, Snapshot, SnapshotMeta};
use proptest::prelude::*;

fn msg(body: MessageBody) -> Message {
    Message {
        from: 1,
        to: 2,
        term: 7,
        body,
    }
}

fn entry(index: u64, data: &[u8]) -> Entry {
    Entry {
        term: 7,
        index,
        kind: if index % 2 == 0 {
            EntryKind::ConfChange
        } else {
            EntryKind::Normal
        },
        data: Bytes::copy_from_slice(data),
    }
}

fn every_kind() -> Vec<Envelope> {
    let bodies = vec![
        MessageBody::PreVote {
            last_index: 10,
            last_term: 3,
        },
        MessageBody::PreVoteResponse { reject: true },
        MessageBody::Vote {
            last_index: 11,
            last_term: 4,
            transfer: true,
        },
        MessageBody::VoteResponse { reject: false },
        MessageBody::Append {
            prev_index: 9,
            prev_term: 6,
            commit: 8,
            entries: vec![entry(10, b"hello"), entry(11, &[7u8; 3000]), entry(12, b"")],
        },
        MessageBody::AppendResponse {
            reject: true,
            index: 12,
            hint_index: 5,
            hint_term: 2,
        },
        MessageBody::Heartbeat {
            commit: 99,
            read_ctx: 3,
        },
        MessageBody::HeartbeatResponse { read_ctx: 3 },
        MessageBody::InstallSnapshot {
            snapshot: Snapshot {
                meta: SnapshotMeta {
                    index: 50,
                    term: 6,
                    conf: ConfState::new(vec![1, 2, 3], vec![4]),
                },
                data: Bytes::from_static(b"state machine"),
            },
        },
        MessageBody::TimeoutNow,
    ];
    bodies
        .into_iter()
        .enumerate()
        .map(|(i, b)| Envelope {
            group: 1000 + i as u64,
            message: msg(b),
        })
        .collect()
}

fn payload_ranges(envelopes: &[Envelope]) -> Vec<&Bytes> {
    let mut out = Vec::new();
    for e in envelopes {
        match &e.message.body {
            MessageBody::Append { entries, .. } => {
                out.extend(entries.iter().map(|e| &e.data).filter(|d| !d.is_empty()))
            }
            MessageBody::InstallSnapshot { snapshot } => out.push(&snapshot.data),
            _ => {}
        }
    }
    out
}

fn within(inner: &Bytes, outer: &[u8]) -> bool {
    let (lo, hi) = (
        outer.as_ptr() as usize,
        outer.as_ptr() as usize + outer.len(),
    );
    let p = inner.as_ptr() as usize;
    p >= lo && p + inner.len() <= hi
}

#[test]
fn every_message_kind_round_trips_with_payloads_borrowed_from_the_frame() {
    let sent = every_kind();
    let frame = wire::encode(sent.clone());
    assert_eq!(frame.as_ptr() as usize % FRAME_ALIGN, 0);
    assert_eq!(
        frame.len() % FRAME_ALIGN,
        0,
        "frames are padded so back-to-back frames stay aligned"
    );
    assert_eq!(wire::frame_len(&frame).unwrap(), frame.len());
    let decoded = wire::decode(&frame).unwrap();
    assert!(!decoded.realigned);
    assert_eq!(decoded.envelopes, sent);
    let payloads = payload_ranges(&decoded.envelopes);
    assert_eq!(payloads.len(), 3, "two non-empty entries and a snapshot");
    for p in payloads {
        assert!(
            within(p, &frame),
            "payload was copied out of the receive buffer"
        );
    }
}

#[test]
fn an_unaligned_receive_buffer_is_copied_once_into_an_aligned_one() {
    let sent = every_kind();
    let frame = wire::encode(sent.clone());
    // Place the frame at an odd address inside a bigger receive buffer.
    let mut buf = vec![0u8; frame.len() + 1];
    buf[1..].copy_from_slice(&frame);
    let buf = Bytes::from(buf);
    let unaligned = buf.slice(1..);
    assert_ne!(unaligned.as_ptr() as usize % FRAME_ALIGN, 0);
    let decoded = wire::decode(&unaligned).unwrap();
    assert!(decoded.realigned);
    assert_eq!(decoded.envelopes, sent);
    for p in payload_ranges(&decoded.envelopes) {
        assert!(!within(p, &buf), "payload must live in the aligned copy");
    }
}

#[test]
fn back_to_back_frames_in_one_aligned_buffer_decode_in_place() {
    let frames: Vec<Bytes> = (0..3)
        .map(|i| {
            wire::encode(vec![Envelope {
                group: i,
                message: msg(MessageBody::Append {
                    prev_index: i,
                    prev_term: 1,
                    commit: 0,
                    entries: vec![entry(i + 1, &vec![i as u8; 100 + i as usize * 7])],
                }),
            }])
        })
        .collect();
    let mut stream = rkyv::util::AlignedVec::<16>::new();
    for f in &frames {
        stream.extend_from_slice(f);
    }
    let stream = Bytes::from_owner(stream);
    let mut at = 0;
    for (i, f) in frames.iter().enumerate() {
        let len = wire::frame_len(&stream[at..]).unwrap();
        assert_eq!(len, f.len());
        let d = wire::decode(&stream.slice(at..at + len)).unwrap();
        assert!(
            !d.realigned,
            "frame {i} should be aligned in a 16-aligned stream"
        );
        assert_eq!(d.envelopes[0].group, i as u64);
        at += len;
    }
}

#[test]
fn any_flipped_byte_is_detected() {
    let frame = wire::encode(every_kind());
    let body_bytes = u32::from_le_bytes(frame[8..12].try_into().unwrap()) as usize;
    for i in 0..HEADER_BYTES + body_bytes {
        let mut bad = frame.to_vec();
        bad[i] ^= 0x40;
        let r = wire::decode(&Bytes::from(bad));
        assert!(r.is_err(), "flipping byte {i} went unnoticed");
    }
    assert_eq!(
        wire::decode(&frame.slice(..frame.len() - 16)).unwrap_err(),
        WireError::Truncated
    );
}

#[test]
fn a_valid_checksum_over_a_malformed_archive_is_rejected_not_trusted() {
    let frame = wire::encode(every_kind());
    let body_bytes = u32::from_le_bytes(frame[8..12].try_into().unwrap()) as usize;
    let mut bad = frame.to_vec();
    // Point the root's relative offset somewhere absurd and fix the CRC.
    let root = HEADER_BYTES + body_bytes - 8;
    bad[root..root + 4].copy_from_slice(&0x7fff_fff0u32.to_le_bytes());
    let crc = crc32c::crc32c(&bad[HEADER_BYTES..HEADER_BYTES + body_bytes]);
    bad[12..16].copy_from_slice(&crc.to_le_bytes());
    assert!(matches!(
        wire::decode(&Bytes::from(bad)),
        Err(WireError::Invalid(_))
    ));
}

#[test]
fn heartbeats_of_many_groups_share_one_frame() {
    let groups = 10_000u64;
    let envelopes: Vec<Envelope> = (0..groups)
        .map(|g| Envelope {
            group: g,
            message: Message {
                from: 1,
                to: 2,
                term: 5,
                body: MessageBody::Heartbeat {
                    commit: g,
                    read_ctx: 0,
                },
            },
        })
        .collect();
    let frame = wire::encode(envelopes.clone());
    let per_group = frame.len() as u64 / groups;
    assert!(
        per_group <= 96,
        "a coalesced heartbeat costs {per_group} bytes per group"
    );
    let decoded = wire::decode(&frame).unwrap();
    assert_eq!(decoded.envelopes, envelopes);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = wire::decode(&Bytes::from(data));
    }

    #[test]
    fn corrupted_archives_with_fixed_checksums_never_panic(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        let frame = wire::encode(every_kind());
        let body_bytes = u32::from_le_bytes(frame[8..12].try_into().unwrap()) as usize;
        let mut bad = frame.to_vec();
        for (at, x) in flips {
            bad[HEADER_BYTES + at % body_bytes] ^= x;
        }
        let crc = crc32c::crc32c(&bad[HEADER_BYTES..HEADER_BYTES + body_bytes]);
        bad[12..16].copy_from_slice(&crc.to_le_bytes());
        let _ = wire::decode(&Bytes::from(bad));
    }
}

#[test]
fn outgoing_messages_are_packed_per_destination_in_order() {
    let mut outgoing = Vec::new();
    for group in 0..5u64 {
        for to in [2u64, 3] {
            outgoing.push(Envelope {
                group,
                message: Message {
                    from: 1,
                    to,
                    term: 3,
                    body: MessageBody::Heartbeat {
                        commit: group,
                        read_ctx: 0,
                    },
                },
            });
        }
    }
    let frames = wire::encode_by_destination(outgoing);
    assert_eq!(frames.len(), 2, "one frame per destination node");
    for (node, frame) in &frames {
        let d = wire::decode(frame).unwrap();
        assert!(d.envelopes.iter().all(|e| e.message.to == *node));
        let groups: Vec<u64> = d.envelopes.iter().map(|e| e.group).collect();
        assert_eq!(groups, vec![0, 1, 2, 3, 4], "per-destination order kept");
    }
}

#[test]
fn a_destination_with_too_much_for_one_frame_gets_several() {
    let big = Bytes::from(vec![9u8; 1024 * 1024]);
    let outgoing: Vec<Envelope> = (0..10u64)
        .map(|group| Envelope {
            group,
            message: msg(MessageBody::Append {
                prev_index: 0,
                prev_term: 0,
                commit: 0,
                entries: vec![Entry {
                    term: 1,
                    index: 1,
                    kind: EntryKind::Normal,
                    data: big.clone(),
                }],
            }),
        })
        .collect();
    let frames = wire::encode_by_destination(outgoing);
    assert!(frames.len() >= 3, "10 MiB must not fit one frame");
    let mut groups = Vec::new();
    for (_, frame) in &frames {
        assert!(frame.len() <= consensus::limits::FRAME_BYTES_MAX);
        groups.extend(
            wire::decode(frame)
                .unwrap()
                .envelopes
                .iter()
                .map(|e| e.group),
        );
    }
    assert_eq!(groups, (0..10).collect::<Vec<_>>());
}

fn arb_entry() -> impl Strategy<Value = Entry> {
    (
        any::<u64>(),
        any::<u64>(),
        any::<bool>(),
        proptest::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(|(term, index, conf, data)| Entry {
            term,
            index,
            kind: if conf {
                EntryKind::ConfChange
            } else {
                EntryKind::Normal
            },
            data: Bytes::from(data),
        })
}

fn arb_body() -> impl Strategy<Value = MessageBody> {
    prop_oneof![
        (any::<u64>(), any::<u64>()).prop_map(|(last_index, last_term)| MessageBody::PreVote {
            last_index,
            last_term
        }),
        any::<bool>().prop_map(|reject| MessageBody::PreVoteResponse { reject }),
        (any::<u64>(), any::<u64>(), any::<bool>()).prop_map(
            |(last_index, last_term, transfer)| MessageBody::Vote {
                last_index,
                last_term,
                transfer
            }
        ),
        any::<bool>().prop_map(|reject| MessageBody::VoteResponse { reject }),
        (
            any::<u64>(),
            any::<u64>(),
            any::<u64>(),
            proptest::collection::vec(arb_entry(), 0..6)
        )
            .prop_map(
                |(prev_index, prev_term, commit, entries)| MessageBody::Append {
                    prev_index,
                    prev_term,
                    commit,
                    entries
                }
            ),
        (any::<bool>(), any::<u64>(), any::<u64>(), any::<u64>()).prop_map(
            |(reject, index, hint_index, hint_term)| MessageBody::AppendResponse {
                reject,
                index,
                hint_index,
                hint_term
            }
        ),
        (any::<u64>(), any::<u64>())
            .prop_map(|(commit, read_ctx)| MessageBody::Heartbeat { commit, read_ctx }),
        any::<u64>().prop_map(|read_ctx| MessageBody::HeartbeatResponse { read_ctx }),
        (
            any::<u64>(),
            any::<u64>(),
            proptest::collection::btree_set(1..20u64, 0..6),
            proptest::collection::vec(any::<u8>(), 0..100)
        )
            .prop_map(|(index, term, ids, data)| {
                let ids: Vec<u64> = ids.into_iter().collect();
                let (voters, learners) = ids.split_at(ids.len() / 2);
                MessageBody::InstallSnapshot {
                    snapshot: Snapshot {
                        meta: SnapshotMeta {
                            index,
                            term,
                            conf: ConfState::new(voters.to_vec(), learners.to_vec()),
                        },
                        data: Bytes::from(data),
                    },
                }
            }),
        Just(MessageBody::TimeoutNow),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn any_messages_round_trip(bodies in proptest::collection::vec((any::<u64>(), 1..100u64, 1..100u64, any::<u64>(), arb_body()), 0..20), misalign in any::<bool>()) {
        let sent: Vec<Envelope> = bodies.into_iter().map(|(group, from, to, term, body)| Envelope { group, message: Message { from, to, term, body } }).collect();
        let frame = wire::encode(sent.clone());
        let frame = if misalign {
            let mut v = vec![0u8; frame.len() + 3];
            v[3..].copy_from_slice(&frame);
            Bytes::from(v).slice(3..)
        } else {
            frame
        };
        let decoded = wire::decode(&frame).unwrap();
        prop_assert_eq!(decoded.envelopes, sent);
    }
}
