//! The checker: reads a history and finds every anomaly of a queue that
//! claims "nothing acknowledged is ever lost". It trusts nothing but the
//! history, and every verdict names the operations it rests on.
//!
//! The reference is the final read: after the faults healed, every
//! partition is read from its start to its end, which is the log as the
//! broker keeps it. Against it:
//!
//! | kind | found when |
//! |---|---|
//! | `lost-write` | a value the broker acknowledged is not in its partition's final read |
//! | `duplicate` | a value of an idempotent producer sits at two offsets (final read or polls) |
//! | `inconsistent-offset` | two different values were seen at one offset (acks, polls, final read) |
//! | `nonmonotonic-poll` | a consumer session read an offset not above the one it read before |
//! | `poll-skip` | a consumer session jumped over offsets that hold records |
//! | `dirty-read` | a consumer read a record at an offset the final read no longer has |
//! | `aborted-read` | a value whose write certainly failed was read |
//! | `resume-before-commit` | OffsetFetch returned an offset older than the last acknowledged commit (the commit was lost: records are read twice) |
//! | `resume-after-commit` | OffsetFetch returned an offset nobody committed, beyond the last commit (records are skipped) |
//! | `incomplete-final-read` | the final read could not reach a partition's end, so its writes cannot be checked |
//!
//! Non-idempotent producers may write a value twice (a retry after a lost
//! acknowledgement); that is counted, not reported.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::history::{
    Commit, FetchOffsets, FinalRead, History, Micros, Op, Outcome, Record, Value, FOREIGN_PRODUCER,
};
use super::limits;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AnomalyKind {
    LostWrite,
    Duplicate,
    InconsistentOffset,
    NonmonotonicPoll,
    PollSkip,
    DirtyRead,
    AbortedRead,
    ResumeBeforeCommit,
    ResumeAfterCommit,
    IncompleteFinalRead,
}

impl AnomalyKind {
    pub const ALL: [AnomalyKind; 10] = [
        AnomalyKind::LostWrite,
        AnomalyKind::Duplicate,
        AnomalyKind::InconsistentOffset,
        AnomalyKind::NonmonotonicPoll,
        AnomalyKind::PollSkip,
        AnomalyKind::DirtyRead,
        AnomalyKind::AbortedRead,
        AnomalyKind::ResumeBeforeCommit,
        AnomalyKind::ResumeAfterCommit,
        AnomalyKind::IncompleteFinalRead,
    ];

    pub fn name(self) -> &'static str {
        match self {
            AnomalyKind::LostWrite => "lost-write",
            AnomalyKind::Duplicate => "duplicate",
            AnomalyKind::InconsistentOffset => "inconsistent-offset",
            AnomalyKind::NonmonotonicPoll => "nonmonotonic-poll",
            AnomalyKind::PollSkip => "poll-skip",
            AnomalyKind::DirtyRead => "dirty-read",
            AnomalyKind::AbortedRead => "aborted-read",
            AnomalyKind::ResumeBeforeCommit => "resume-before-commit",
            AnomalyKind::ResumeAfterCommit => "resume-after-commit",
            AnomalyKind::IncompleteFinalRead => "incomplete-final-read",
        }
    }

    /// One line for the summary table.
    pub fn meaning(self) -> &'static str {
        match self {
            AnomalyKind::LostWrite => "acknowledged value missing from the log",
            AnomalyKind::Duplicate => "idempotent value at two offsets",
            AnomalyKind::InconsistentOffset => "two values seen at one offset",
            AnomalyKind::NonmonotonicPoll => "consumer went backwards",
            AnomalyKind::PollSkip => "consumer jumped over records",
            AnomalyKind::DirtyRead => "record read, later gone from the log",
            AnomalyKind::AbortedRead => "value of a failed write read",
            AnomalyKind::ResumeBeforeCommit => "committed offset went back",
            AnomalyKind::ResumeAfterCommit => "committed offset nobody committed",
            AnomalyKind::IncompleteFinalRead => "log could not be read to its end",
        }
    }
}

impl std::fmt::Display for AnomalyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One anomaly, described from the operations it rests on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Anomaly {
    pub kind: AnomalyKind,
    /// When the operation that shows it completed.
    pub at_us: Micros,
    pub description: String,
}

/// Counts over the whole history.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    pub sends_ok: u64,
    pub sends_failed: u64,
    pub sends_unknown: u64,
    pub values_sent: u64,
    pub values_acknowledged: u64,
    pub values_failed: u64,
    /// Sent with an unknown outcome (timeouts, broken connections).
    pub values_unknown: u64,
    /// Of those, how many the final read shows were written after all.
    pub values_unknown_in_log: u64,
    pub values_lost: u64,
    /// Acknowledged values in partitions whose final read was incomplete.
    pub values_unchecked: u64,
    /// Distinct values at more than one offset of the final read.
    pub values_duplicated: u64,
    pub values_duplicated_idempotent: u64,
    /// Distinct values consumers read, and records they read in total.
    pub values_read: u64,
    pub records_polled: u64,
    /// Acknowledged values no consumer session read (not an anomaly: the
    /// final read decides whether they are in the log).
    pub values_acknowledged_unread: u64,
    pub records_in_final_read: u64,
    /// Records whose value the workload never sent (foreign or garbage).
    pub records_foreign: u64,
    pub polls_with_records: u64,
    pub polls_failed: u64,
    pub sessions: u64,
    pub commits_ok: u64,
    pub commits_failed: u64,
    pub commits_unknown: u64,
    pub offset_fetches: u64,
    pub partitions: u64,
    pub partitions_read_completely: u64,
    /// Fault windows per kind.
    pub faults: BTreeMap<String, u64>,
}

/// The checker's verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// Every kind, zero or not.
    pub anomalies: BTreeMap<AnomalyKind, u64>,
    /// The first few anomalies of each kind.
    pub examples: BTreeMap<AnomalyKind, Vec<Anomaly>>,
    pub totals: Totals,
}

impl Analysis {
    /// Whether the history shows no anomaly at all.
    pub fn valid(&self) -> bool {
        self.anomaly_count() == 0
    }

    pub fn anomaly_count(&self) -> u64 {
        self.anomalies.values().sum()
    }

    pub fn count(&self, kind: AnomalyKind) -> u64 {
        self.anomalies.get(&kind).copied().unwrap_or(0)
    }
}

/// Who saw a value at an offset first, for the messages.
#[derive(Debug, Clone, Copy)]
enum Source {
    FinalRead,
    Ack { producer: u32, at_us: Micros },
    Poll { consumer: u32, at_us: Micros },
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::FinalRead => write!(f, "the final read"),
            Source::Ack { producer, at_us } => {
                write!(f, "producer {producer}'s ack at {}", secs(*at_us))
            }
            Source::Poll { consumer, at_us } => {
                write!(f, "consumer {consumer}'s poll at {}", secs(*at_us))
            }
        }
    }
}

/// `12.345s`.
pub fn secs(us: Micros) -> String {
    format!("{:.3}s", us as f64 / 1e6)
}

/// What the final read found in one partition.
struct FinalLog<'a> {
    read: &'a FinalRead,
    at: BTreeMap<i64, Value>,
}

impl FinalLog<'_> {
    /// Records the final read holds strictly between two offsets.
    fn records_between(&self, after: i64, before: i64) -> usize {
        if before <= after + 1 {
            return 0;
        }
        self.at.range(after + 1..before).count()
    }
}

#[derive(Default)]
struct Checker<'a> {
    anomalies: BTreeMap<AnomalyKind, u64>,
    examples: BTreeMap<AnomalyKind, Vec<Anomaly>>,
    totals: Totals,
    finals: BTreeMap<i32, FinalLog<'a>>,
    /// Every value seen at each (partition, offset), with who saw it first.
    observed: HashMap<(i32, i64), (Value, Source)>,
    /// (partition, offset, value) already reported as inconsistent.
    inconsistent: HashSet<(i32, i64, Value)>,
    /// Where the final read has each value.
    in_final: HashMap<Value, Vec<(i32, i64)>>,
    /// Where consumers read each value.
    in_polls: HashMap<Value, Vec<(i32, i64)>>,
    idempotent: HashMap<u32, bool>,
    acked: HashMap<Value, (i32, i64, Micros)>,
    failed: HashSet<Value>,
    unknown: HashSet<Value>,
}

/// Checks a whole history.
pub fn check(history: &History) -> Analysis {
    let mut c = Checker::default();
    for kind in AnomalyKind::ALL {
        c.anomalies.insert(kind, 0);
    }
    c.totals.partitions = history.run.partitions.max(0) as u64;
    c.index_final_reads(&history.ops);
    for p in 0..history.run.partitions {
        if !c.finals.contains_key(&p) {
            c.report(
                AnomalyKind::IncompleteFinalRead,
                0,
                format!(
                    "partition {p}: the history has no final read of it (did the run end early?)"
                ),
            );
        }
    }
    c.index_sends(&history.ops);
    c.check_polls(&history.ops);
    c.check_duplicates();
    c.check_writes();
    c.check_commits(&history.ops);
    for op in &history.ops {
        if let Op::Fault(f) = op {
            *c.totals.faults.entry(f.kind.clone()).or_default() += 1;
        }
    }
    Analysis {
        anomalies: c.anomalies,
        examples: c.examples,
        totals: c.totals,
    }
}

fn note(at: &mut HashMap<Value, Vec<(i32, i64)>>, r: Record) {
    let positions = at.entry(r.value).or_default();
    if !positions.contains(&(r.partition, r.offset)) {
        positions.push((r.partition, r.offset));
    }
}

impl<'a> Checker<'a> {
    fn report(&mut self, kind: AnomalyKind, at_us: Micros, description: String) {
        *self.anomalies.entry(kind).or_default() += 1;
        let examples = self.examples.entry(kind).or_default();
        if examples.len() < limits::EXAMPLES_PER_KIND {
            examples.push(Anomaly {
                kind,
                at_us,
                description,
            });
        }
    }

    /// Notes that `source` saw `record`; a second, different value at the
    /// same offset is an inconsistent offset.
    fn observe(&mut self, record: Record, source: Source, at_us: Micros) {
        let key = (record.partition, record.offset);
        match self.observed.get(&key) {
            None => {
                self.observed.insert(key, (record.value, source));
            }
            Some(&(seen, first)) if seen != record.value => {
                if self.inconsistent.insert((key.0, key.1, record.value)) {
                    self.report(
                        AnomalyKind::InconsistentOffset,
                        at_us,
                        format!(
                            "partition {} offset {}: {source} has {}, {first} has {seen}",
                            key.0, key.1, record.value
                        ),
                    );
                }
            }
            Some(_) => {}
        }
    }

    fn index_final_reads(&mut self, ops: &'a [Op]) {
        for op in ops {
            let Op::FinalRead(read) = op else { continue };
            // A partition read twice keeps its last read.
            self.finals.insert(
                read.partition,
                FinalLog {
                    read,
                    at: BTreeMap::new(),
                },
            );
        }
        let reads: Vec<&FinalRead> = self.finals.values().map(|f| f.read).collect();
        for read in reads {
            let p = read.partition;
            if read.complete {
                self.totals.partitions_read_completely += 1;
            } else {
                self.report(
                    AnomalyKind::IncompleteFinalRead,
                    read.complete_us,
                    format!(
                        "partition {p}: the final read stopped before the end offset {} ({})",
                        read.end_offset,
                        read.error.as_deref().unwrap_or("no error recorded")
                    ),
                );
            }
            for &r in &read.records {
                self.totals.records_in_final_read += 1;
                if r.value.producer == FOREIGN_PRODUCER {
                    self.totals.records_foreign += 1;
                }
                let log = self.finals.get_mut(&p).expect("indexed above");
                log.at.entry(r.offset).or_insert(r.value);
                self.observe(r, Source::FinalRead, read.complete_us);
                note(&mut self.in_final, r);
            }
        }
        self.totals.values_duplicated =
            self.in_final.values().filter(|at| at.len() > 1).count() as u64;
    }

    fn index_sends(&mut self, ops: &[Op]) {
        for op in ops {
            let Op::Send(send) = op else { continue };
            self.idempotent.insert(send.producer, send.idempotent);
            self.totals.values_sent += send.counters.len() as u64;
            match send.outcome {
                Outcome::Ok => self.totals.sends_ok += 1,
                Outcome::Fail => self.totals.sends_failed += 1,
                Outcome::Info => self.totals.sends_unknown += 1,
            }
            for (i, &counter) in send.counters.iter().enumerate() {
                let value = Value {
                    producer: send.producer,
                    counter,
                };
                match (send.outcome, send.offset) {
                    (Outcome::Ok, Some(base)) => {
                        let offset = base + i as i64;
                        self.acked
                            .insert(value, (send.partition, offset, send.complete_us));
                        let record = Record {
                            partition: send.partition,
                            offset,
                            value,
                        };
                        let source = Source::Ack {
                            producer: send.producer,
                            at_us: send.complete_us,
                        };
                        self.observe(record, source, send.complete_us);
                    }
                    // An ack without an offset (acks=0) promises nothing.
                    (Outcome::Ok, None) | (Outcome::Info, _) => {
                        self.unknown.insert(value);
                    }
                    (Outcome::Fail, _) => {
                        self.failed.insert(value);
                    }
                }
            }
        }
        self.totals.values_acknowledged = self.acked.len() as u64;
        self.totals.values_failed = self.failed.len() as u64;
        self.totals.values_unknown = self.unknown.len() as u64;
        self.totals.values_unknown_in_log = self
            .unknown
            .iter()
            .filter(|v| self.in_final.contains_key(v))
            .count() as u64;
        let mut aborted: Vec<(Value, (i32, i64))> = self
            .failed
            .iter()
            .filter_map(|v| Some((*v, *self.in_final.get(v)?.first()?)))
            .collect();
        aborted.sort();
        for (value, (partition, offset)) in aborted {
            let at_us = self.finals[&partition].read.complete_us;
            self.report(
                AnomalyKind::AbortedRead,
                at_us,
                format!(
                    "value {value} (its write failed) is in the final read at partition \
                     {partition} offset {offset}"
                ),
            );
        }
    }

    fn check_polls(&mut self, ops: &[Op]) {
        // (consumer, session) -> partition -> last offset read (or the
        // start position minus one).
        let mut sessions: HashMap<(u32, u64), HashMap<i32, i64>> = HashMap::new();
        for op in ops {
            match op {
                Op::Session(s) => {
                    self.totals.sessions += 1;
                    sessions.insert(
                        (s.consumer, s.session),
                        s.positions.iter().map(|&(p, o)| (p, o - 1)).collect(),
                    );
                }
                Op::Poll(poll) => {
                    if poll.outcome != Outcome::Ok {
                        self.totals.polls_failed += 1;
                        continue;
                    }
                    if !poll.records.is_empty() {
                        self.totals.polls_with_records += 1;
                    }
                    let last = sessions.entry((poll.consumer, poll.session)).or_default();
                    let mut last = std::mem::take(last);
                    for &r in &poll.records {
                        self.check_polled(poll.consumer, poll.complete_us, r, &mut last);
                    }
                    sessions.insert((poll.consumer, poll.session), last);
                }
                _ => {}
            }
        }
        self.totals.values_read = self.in_polls.len() as u64;
    }

    fn check_polled(
        &mut self,
        consumer: u32,
        at_us: Micros,
        r: Record,
        last: &mut HashMap<i32, i64>,
    ) {
        self.totals.records_polled += 1;
        if r.value.producer == FOREIGN_PRODUCER {
            self.totals.records_foreign += 1;
        }
        self.observe(r, Source::Poll { consumer, at_us }, at_us);
        note(&mut self.in_polls, r);
        if self.failed.contains(&r.value) {
            self.report(
                AnomalyKind::AbortedRead,
                at_us,
                format!(
                    "consumer {consumer} read value {} (its write failed) at partition {} offset {}",
                    r.value, r.partition, r.offset
                ),
            );
        }
        if let Some(&previous) = last.get(&r.partition) {
            if r.offset <= previous {
                self.report(
                    AnomalyKind::NonmonotonicPoll,
                    at_us,
                    format!(
                        "consumer {consumer} read partition {} offset {} after offset {previous}",
                        r.partition, r.offset
                    ),
                );
            } else if let Some(log) = self.finals.get(&r.partition) {
                let skipped = log.records_between(previous, r.offset);
                if skipped > 0 {
                    self.report(
                        AnomalyKind::PollSkip,
                        at_us,
                        format!(
                            "consumer {consumer} read partition {} offset {} after offset \
                             {previous}, skipping {skipped} records the log holds",
                            r.partition, r.offset
                        ),
                    );
                }
            }
        }
        // Follow the consumer: one report per jump, not one per record after it.
        last.insert(r.partition, r.offset);
        if let Some(log) = self.finals.get(&r.partition) {
            // Below the log start, retention (not a crash) removed records.
            let retained = r.offset >= log.read.start_offset;
            if log.read.complete && retained && !log.at.contains_key(&r.offset) {
                self.report(
                    AnomalyKind::DirtyRead,
                    at_us,
                    format!(
                        "consumer {consumer} read value {} at partition {} offset {}, which the \
                         final read (offsets {}..{}) does not have",
                        r.value, r.partition, r.offset, log.read.start_offset, log.read.end_offset
                    ),
                );
            }
        }
    }

    /// Values of idempotent producers at more than one offset, in the final
    /// read or in what consumers read.
    fn check_duplicates(&mut self) {
        let mut duplicated: BTreeMap<Value, Vec<(i32, i64)>> = BTreeMap::new();
        for (value, at) in self.in_final.iter().chain(self.in_polls.iter()) {
            if self.idempotent.get(&value.producer) != Some(&true) {
                continue;
            }
            let positions = duplicated.entry(*value).or_default();
            for p in at {
                if !positions.contains(p) {
                    positions.push(*p);
                }
            }
        }
        duplicated.retain(|_, at| at.len() > 1);
        self.totals.values_duplicated_idempotent = duplicated.len() as u64;
        for (value, mut at) in duplicated {
            at.sort();
            let places: Vec<String> = at.iter().map(|(p, o)| format!("{p}/{o}")).collect();
            self.report(
                AnomalyKind::Duplicate,
                0,
                format!(
                    "value {value} of idempotent producer {} is at partition/offset {}",
                    value.producer,
                    places.join(", ")
                ),
            );
        }
    }

    fn check_writes(&mut self) {
        let mut acked: Vec<(Value, (i32, i64, Micros))> =
            self.acked.iter().map(|(v, a)| (*v, *a)).collect();
        acked.sort_by_key(|(v, (_, _, at))| (*at, *v));
        for (value, (partition, offset, at_us)) in acked {
            if !self.in_polls.contains_key(&value) {
                self.totals.values_acknowledged_unread += 1;
            }
            let Some(log) = self.finals.get(&partition) else {
                self.totals.values_unchecked += 1;
                continue;
            };
            if !log.read.complete {
                self.totals.values_unchecked += 1;
                continue;
            }
            let in_log = self
                .in_final
                .get(&value)
                .is_some_and(|at| at.iter().any(|(p, _)| *p == partition));
            if in_log {
                continue;
            }
            self.totals.values_lost += 1;
            let there = match log.at.get(&offset) {
                Some(v) => format!("holds {v}"),
                None => format!(
                    "is not in the log (offsets {}..{})",
                    log.read.start_offset, log.read.end_offset
                ),
            };
            self.report(
                AnomalyKind::LostWrite,
                at_us,
                format!(
                    "value {value} acknowledged at partition {partition} offset {offset} is \
                     not in the final read; that offset {there}"
                ),
            );
        }
    }

    fn check_commits(&mut self, ops: &[Op]) {
        let mut commits: HashMap<(&str, i32), Vec<&Commit>> = HashMap::new();
        let mut fetches: Vec<&FetchOffsets> = Vec::new();
        for op in ops {
            match op {
                Op::Commit(c) => {
                    match c.outcome {
                        Outcome::Ok => self.totals.commits_ok += 1,
                        Outcome::Fail => self.totals.commits_failed += 1,
                        Outcome::Info => self.totals.commits_unknown += 1,
                    }
                    commits.entry((&c.group, c.partition)).or_default().push(c);
                }
                Op::FetchOffsets(f) => fetches.push(f),
                _ => {}
            }
        }
        for f in fetches {
            if f.outcome != Outcome::Ok {
                continue;
            }
            self.totals.offset_fetches += 1;
            for &(partition, offset) in &f.offsets {
                let of_partition = commits
                    .get(&(f.group.as_str(), partition))
                    .map_or(&[][..], Vec::as_slice);
                self.check_fetched(f, partition, offset, of_partition);
            }
        }
    }

    /// An OffsetFetch may return the last commit acknowledged before it
    /// began, or any commit that might have taken effect after that one:
    /// an acknowledged commit is ruled out only if another acknowledged
    /// commit began after it ended and ended before the fetch began. A
    /// commit with an unknown outcome is never ruled out: the broker may
    /// still have been working on it long after the client gave up.
    fn check_fetched(&mut self, f: &FetchOffsets, partition: i32, got: i64, commits: &[&Commit]) {
        let ok_before: Vec<&&Commit> = commits
            .iter()
            .filter(|c| c.outcome == Outcome::Ok && c.complete_us < f.invoke_us)
            .collect();
        let overwritten = |x: &Commit| {
            x.outcome == Outcome::Ok
                && ok_before
                    .iter()
                    .any(|y| x.complete_us < y.invoke_us && y.complete_us < f.invoke_us)
        };
        let possible = |offset: i64| {
            commits.iter().any(|c| {
                c.offset == offset
                    && c.outcome != Outcome::Fail
                    && c.invoke_us < f.complete_us
                    && !overwritten(c)
            })
        };
        let latest = ok_before.iter().max_by_key(|c| c.complete_us).copied();
        let valid = if got < 0 {
            latest.is_none()
        } else {
            possible(got)
        };
        if valid {
            return;
        }
        let (kind, last) = match latest {
            Some(c) if got < c.offset => (
                AnomalyKind::ResumeBeforeCommit,
                format!(
                    "the commit of offset {} acknowledged at {}",
                    c.offset,
                    secs(c.complete_us)
                ),
            ),
            Some(c) => (
                AnomalyKind::ResumeAfterCommit,
                format!(
                    "the last acknowledged commit was offset {} at {}",
                    c.offset,
                    secs(c.complete_us)
                ),
            ),
            None => (
                AnomalyKind::ResumeAfterCommit,
                "no commit was acknowledged before it".to_string(),
            ),
        };
        self.report(
            kind,
            f.complete_us,
            format!(
                "consumer {} of group {} fetched committed offset {got} for partition {partition} \
                 at {}; {last}",
                f.consumer,
                f.group,
                secs(f.complete_us)
            ),
        );
    }
}

#[cfg(test)]
mod tests;
