//! The checker on hand-built histories: one history per anomaly kind, each
//! next to the same history without the fault, which must pass.

use super::*;
use crate::check::history::{
    FetchOffsets, FinalRead, Poll, RunInfo, Send, Session, FORMAT_VERSION,
};

const GROUP: &str = "g";

/// A history under construction; times are whatever the test says.
struct H {
    ops: Vec<Op>,
}

impl H {
    fn new() -> H {
        H { ops: Vec::new() }
    }

    #[allow(clippy::too_many_arguments)]
    fn send(
        &mut self,
        producer: u32,
        idempotent: bool,
        partition: i32,
        counters: &[u64],
        outcome: Outcome,
        offset: Option<i64>,
        at: (Micros, Micros),
    ) -> &mut Self {
        self.ops.push(Op::Send(Send {
            producer,
            idempotent,
            partition,
            counters: counters.to_vec(),
            invoke_us: at.0,
            complete_us: at.1,
            outcome,
            offset,
            retries: 0,
            error: (outcome != Outcome::Ok).then(|| "test".to_string()),
        }));
        self
    }

    /// An acknowledged batch of idempotent producer `producer`.
    fn ack(&mut self, producer: u32, partition: i32, offset: i64, counters: &[u64]) -> &mut Self {
        let t = 10 * (offset as Micros + 1);
        self.send(
            producer,
            true,
            partition,
            counters,
            Outcome::Ok,
            Some(offset),
            (t, t + 5),
        )
    }

    fn session(&mut self, consumer: u32, session: u64, positions: &[(i32, i64)]) -> &mut Self {
        self.ops.push(Op::Session(Session {
            consumer,
            session,
            group: None,
            generation: None,
            at_us: 0,
            positions: positions.to_vec(),
        }));
        self
    }

    /// A successful poll of (partition, offset, producer, counter) records.
    fn poll(
        &mut self,
        consumer: u32,
        session: u64,
        at: Micros,
        records: &[(i32, i64, u32, u64)],
    ) -> &mut Self {
        self.ops.push(Op::Poll(Poll {
            consumer,
            session,
            invoke_us: at,
            complete_us: at + 1,
            outcome: Outcome::Ok,
            records: records.iter().map(|&r| Record::from(r)).collect(),
            error: None,
        }));
        self
    }

    /// A complete final read of `partition`: (offset, producer, counter).
    fn final_read(&mut self, partition: i32, records: &[(i64, u32, u64)], end: i64) -> &mut Self {
        self.final_read_of(partition, records, end, true)
    }

    fn final_read_of(
        &mut self,
        partition: i32,
        records: &[(i64, u32, u64)],
        end: i64,
        complete: bool,
    ) -> &mut Self {
        self.ops.push(Op::FinalRead(FinalRead {
            partition,
            invoke_us: 1_000_000,
            complete_us: 1_000_001,
            start_offset: 0,
            end_offset: end,
            complete,
            records: records
                .iter()
                .map(|&(o, p, c)| Record::from((partition, o, p, c)))
                .collect(),
            error: (!complete).then(|| "timed out".to_string()),
        }));
        self
    }

    fn commit(
        &mut self,
        partition: i32,
        offset: i64,
        outcome: Outcome,
        at: (Micros, Micros),
    ) -> &mut Self {
        self.ops.push(Op::Commit(Commit {
            consumer: 0,
            session: 0,
            group: GROUP.into(),
            generation: 1,
            partition,
            offset,
            invoke_us: at.0,
            complete_us: at.1,
            outcome,
            error: None,
        }));
        self
    }

    fn fetch(&mut self, partition: i32, offset: i64, at: (Micros, Micros)) -> &mut Self {
        self.ops.push(Op::FetchOffsets(FetchOffsets {
            consumer: 1,
            group: GROUP.into(),
            invoke_us: at.0,
            complete_us: at.1,
            outcome: Outcome::Ok,
            offsets: vec![(partition, offset)],
            error: None,
        }));
        self
    }

    fn check(&self) -> Analysis {
        check(&History {
            run: RunInfo {
                format_version: FORMAT_VERSION,
                tool_version: "test".into(),
                seed: 0,
                nodes: 1,
                topic: "t".into(),
                partitions: 2,
                faults: Vec::new(),
                duration_s: 1,
                started_unix_ms: 0,
            },
            ops: self.ops.clone(),
        })
    }
}

/// Asserts that the analysis found exactly `n` anomalies of `kind` and none
/// of any other kind.
fn only(a: &Analysis, kind: AnomalyKind, n: u64) {
    let others: Vec<_> = a
        .anomalies
        .iter()
        .filter(|(k, c)| **k != kind && **c > 0)
        .collect();
    assert!(
        a.count(kind) == n && others.is_empty(),
        "want {n} {kind} and nothing else; got {:?}\n{:#?}",
        a.anomalies,
        a.examples
    );
    if n > 0 {
        assert!(!a.examples[&kind].is_empty());
    }
}

/// Two partitions, two producers, a consumer reading everything, a group
/// committing: nothing wrong.
fn healthy() -> H {
    let mut h = H::new();
    h.ack(0, 0, 0, &[0, 1])
        .ack(1, 1, 0, &[0])
        .ack(0, 0, 2, &[2])
        .send(1, false, 1, &[1], Outcome::Info, None, (50, 60))
        .session(0, 0, &[(0, 0), (1, 0)])
        .poll(0, 0, 100, &[(0, 0, 0, 0), (0, 1, 0, 1), (1, 0, 1, 0)])
        .poll(0, 0, 200, &[(0, 2, 0, 2), (1, 1, 1, 1)])
        .commit(0, 3, Outcome::Ok, (210, 220))
        .fetch(0, 3, (300, 310))
        .final_read(0, &[(0, 0, 0), (1, 0, 1), (2, 0, 2)], 3)
        .final_read(1, &[(0, 1, 0), (1, 1, 1)], 2);
    h
}

#[test]
fn a_healthy_history_has_no_anomaly_and_counts_add_up() {
    let a = healthy().check();
    only(&a, AnomalyKind::LostWrite, 0);
    assert!(a.valid());
    let t = &a.totals;
    assert_eq!(t.values_sent, 5);
    assert_eq!(t.values_acknowledged, 4);
    assert_eq!(t.values_unknown, 1);
    assert_eq!(t.values_unknown_in_log, 1, "the unknown write landed");
    assert_eq!(t.values_read, 5);
    assert_eq!(t.records_in_final_read, 5);
    assert_eq!(t.partitions_read_completely, 2);
    assert_eq!((t.commits_ok, t.offset_fetches), (1, 1));
}

#[test]
fn an_acknowledged_value_missing_from_the_log_is_a_lost_write() {
    let mut h = healthy();
    h.ops
        .retain(|op| !matches!(op, Op::FinalRead(r) if r.partition == 0));
    // Offset 1 (value 0:1) vanished and the log ends early: 0:2 is gone too.
    h.final_read(0, &[(0, 0, 0)], 1);
    let a = h.check();
    assert_eq!(a.count(AnomalyKind::LostWrite), 2, "{:#?}", a.examples);
    assert_eq!(a.totals.values_lost, 2);
    // The consumer read both: those reads are dirty too.
    assert_eq!(a.count(AnomalyKind::DirtyRead), 2, "{:#?}", a.examples);
    let text = &a.examples[&AnomalyKind::LostWrite][0].description;
    assert!(
        text.contains("value 0:1") && text.contains("offset 1"),
        "{text}"
    );
}

#[test]
fn the_broken_brokers_lie_is_a_lost_write_and_an_inconsistent_offset() {
    // The broker acknowledged 0:9 at offset 3 and wrote 0:10 there instead.
    let mut h = H::new();
    h.ack(0, 0, 3, &[9])
        .ack(0, 0, 3, &[10])
        .final_read(0, &[(3, 0, 10)], 4);
    h.ops.push(Op::FinalRead(FinalRead {
        partition: 1,
        invoke_us: 0,
        complete_us: 0,
        start_offset: 0,
        end_offset: 0,
        complete: true,
        records: Vec::new(),
        error: None,
    }));
    let a = h.check();
    assert_eq!(a.count(AnomalyKind::LostWrite), 1, "{:#?}", a.examples);
    assert_eq!(
        a.count(AnomalyKind::InconsistentOffset),
        1,
        "{:#?}",
        a.examples
    );
}

#[test]
fn an_idempotent_value_at_two_offsets_is_a_duplicate_a_plain_one_is_counted() {
    let mut h = H::new();
    h.ack(0, 0, 0, &[0])
        .send(1, false, 0, &[0], Outcome::Ok, Some(1), (30, 40))
        .final_read(0, &[(0, 0, 0), (1, 1, 0), (2, 1, 0)], 3)
        .final_read(1, &[], 0);
    let a = h.check();
    only(&a, AnomalyKind::Duplicate, 0);
    assert_eq!(a.totals.values_duplicated, 1);

    let mut h = H::new();
    h.ack(0, 0, 0, &[0])
        .final_read(0, &[(0, 0, 0), (1, 0, 0)], 2)
        .final_read(1, &[], 0);
    let a = h.check();
    only(&a, AnomalyKind::Duplicate, 1);
    assert_eq!(a.totals.values_duplicated_idempotent, 1);

    // Consumers reading a value at two offsets is a duplicate too, even if
    // the log was repaired since (the read is then also dirty).
    let mut h = H::new();
    h.ack(0, 0, 0, &[0])
        .session(0, 0, &[(0, 0)])
        .poll(0, 0, 100, &[(0, 0, 0, 0)])
        .session(0, 1, &[(0, 0)])
        .poll(0, 1, 200, &[(0, 0, 0, 0), (0, 1, 0, 0)])
        .final_read(0, &[(0, 0, 0)], 1)
        .final_read(1, &[], 0);
    let a = h.check();
    assert_eq!(a.count(AnomalyKind::Duplicate), 1, "{:#?}", a.examples);
}

#[test]
fn two_values_at_one_offset_are_inconsistent() {
    let mut h = healthy();
    // The consumer saw 1:7 at partition 1 offset 1, where the log has 1:1.
    h.session(5, 0, &[(1, 1)]).poll(5, 0, 400, &[(1, 1, 1, 7)]);
    let a = h.check();
    only(&a, AnomalyKind::InconsistentOffset, 1);
    let text = &a.examples[&AnomalyKind::InconsistentOffset][0].description;
    assert!(text.contains("1:7") && text.contains("1:1"), "{text}");
}

#[test]
fn a_consumer_going_backwards_is_a_nonmonotonic_poll() {
    let mut h = healthy();
    h.session(1, 0, &[(0, 0)])
        .poll(1, 0, 100, &[(0, 0, 0, 0), (0, 1, 0, 1)])
        .poll(1, 0, 200, &[(0, 1, 0, 1), (0, 2, 0, 2)]);
    only(&h.check(), AnomalyKind::NonmonotonicPoll, 1);

    // A new session may start over.
    let mut h = healthy();
    h.session(1, 0, &[(0, 0)])
        .poll(1, 0, 100, &[(0, 0, 0, 0), (0, 1, 0, 1)])
        .session(1, 1, &[(0, 1)])
        .poll(1, 1, 200, &[(0, 1, 0, 1), (0, 2, 0, 2)]);
    only(&h.check(), AnomalyKind::NonmonotonicPoll, 0);
}

#[test]
fn jumping_over_records_is_a_poll_skip_within_a_poll_across_polls_and_at_the_start() {
    let skip_in_a_poll = |records: &[(i32, i64, u32, u64)]| {
        let mut h = healthy();
        h.session(1, 0, &[(0, 0)]).poll(1, 0, 100, records);
        h.check()
    };
    only(
        &skip_in_a_poll(&[(0, 0, 0, 0), (0, 2, 0, 2)]),
        AnomalyKind::PollSkip,
        1,
    );
    only(&skip_in_a_poll(&[(0, 1, 0, 1)]), AnomalyKind::PollSkip, 1);
    only(
        &skip_in_a_poll(&[(0, 0, 0, 0), (0, 1, 0, 1)]),
        AnomalyKind::PollSkip,
        0,
    );

    let mut h = healthy();
    h.session(1, 0, &[(0, 0)])
        .poll(1, 0, 100, &[(0, 0, 0, 0)])
        .poll(1, 0, 200, &[(0, 2, 0, 2)]);
    only(&h.check(), AnomalyKind::PollSkip, 1);

    // A gap the log has too (no records there) is no skip.
    let mut h = H::new();
    h.ack(0, 0, 0, &[0])
        .ack(0, 0, 5, &[1])
        .session(0, 0, &[(0, 0)])
        .poll(0, 0, 100, &[(0, 0, 0, 0), (0, 5, 0, 1)])
        .final_read(0, &[(0, 0, 0), (5, 0, 1)], 6)
        .final_read(1, &[], 0);
    only(&h.check(), AnomalyKind::PollSkip, 0);
}

/// Value 0:0 acknowledged at offset 0, then 0:1 written with `outcome`;
/// a consumer reads both; the final read has 0:1 at offset 1 or not.
fn second_write_read(outcome: Outcome, in_final_read: bool) -> Analysis {
    let mut h = H::new();
    let log: &[(i64, u32, u64)] = if in_final_read {
        &[(0, 0, 0), (1, 0, 1)]
    } else {
        &[(0, 0, 0)]
    };
    h.ack(0, 0, 0, &[0])
        .send(0, true, 0, &[1], outcome, None, (20, 30))
        .session(0, 0, &[(0, 0)])
        .poll(0, 0, 100, &[(0, 0, 0, 0), (0, 1, 0, 1)])
        .final_read(0, log, log.len() as i64)
        .final_read(1, &[], 0);
    h.check()
}

#[test]
fn a_read_the_log_later_lost_is_a_dirty_read() {
    only(
        &second_write_read(Outcome::Info, false),
        AnomalyKind::DirtyRead,
        1,
    );
    only(
        &second_write_read(Outcome::Info, true),
        AnomalyKind::DirtyRead,
        0,
    );
}

#[test]
fn reading_a_failed_write_is_an_aborted_read() {
    // Read once by the consumer, once in the final read.
    only(
        &second_write_read(Outcome::Fail, true),
        AnomalyKind::AbortedRead,
        2,
    );
    // The same value with an unknown outcome may well have been written.
    only(
        &second_write_read(Outcome::Info, true),
        AnomalyKind::AbortedRead,
        0,
    );
}

/// A group with commits of 10 (acknowledged at 20) and 20 (at 40).
fn committed() -> H {
    let mut h = healthy();
    h.commit(1, 10, Outcome::Ok, (10, 20))
        .commit(1, 20, Outcome::Ok, (30, 40));
    h
}

/// Each case: the history before the fetch, the committed offset the fetch
/// returns, when it ran, and how many anomalies of `kind` that makes.
fn fetch_cases(kind: AnomalyKind, cases: &[(H, i64, (Micros, Micros), u64)]) {
    for (i, (history, fetched, at, want)) in cases.iter().enumerate() {
        let mut h = H {
            ops: history.ops.clone(),
        };
        h.fetch(1, *fetched, *at);
        eprintln!("case {i}: fetched {fetched}");
        only(&h.check(), kind, *want);
    }
}

fn with_commit(mut h: H, offset: i64, outcome: Outcome, at: (Micros, Micros)) -> H {
    h.commit(1, offset, outcome, at);
    h
}

#[test]
fn an_offset_fetch_older_than_the_last_commit_resumes_before_it() {
    fetch_cases(
        AnomalyKind::ResumeBeforeCommit,
        &[
            (committed(), 20, (50, 60), 0),
            (committed(), 10, (50, 60), 1),
            (committed(), -1, (50, 60), 1),
            // A fetch overlapping the second commit may see either.
            (committed(), 10, (35, 60), 0),
            // A later commit with an unknown outcome may or may not have landed.
            (
                with_commit(committed(), 15, Outcome::Info, (45, 48)),
                15,
                (50, 60),
                0,
            ),
            (
                with_commit(committed(), 15, Outcome::Info, (45, 48)),
                20,
                (50, 60),
                0,
            ),
            // Commit 5 timed out at 8, yet the broker may apply it after 20.
            (
                with_commit(committed(), 5, Outcome::Info, (1, 8)),
                5,
                (50, 60),
                0,
            ),
        ],
    );
}

#[test]
fn an_offset_fetch_nobody_committed_resumes_after_the_commit() {
    fetch_cases(
        AnomalyKind::ResumeAfterCommit,
        &[
            (committed(), 30, (50, 60), 1),
            // Nothing committed yet: only "none" is right.
            (healthy(), -1, (5, 6), 0),
            (healthy(), 4, (5, 6), 1),
            // A refused commit never happened.
            (
                with_commit(committed(), 30, Outcome::Fail, (45, 48)),
                30,
                (50, 60),
                1,
            ),
        ],
    );
}

#[test]
fn a_final_read_that_stops_early_is_reported_and_its_writes_unchecked() {
    let mut h = H::new();
    h.ack(0, 0, 0, &[0, 1])
        .final_read_of(0, &[(0, 0, 0)], 2, false)
        .final_read(1, &[], 0);
    let a = h.check();
    only(&a, AnomalyKind::IncompleteFinalRead, 1);
    assert_eq!(a.totals.values_unchecked, 2);
    assert_eq!(a.totals.values_lost, 0);

    // A history that ends before its final read proves nothing either.
    let mut h = H::new();
    h.ack(0, 0, 0, &[0]);
    only(&h.check(), AnomalyKind::IncompleteFinalRead, 2);
}
