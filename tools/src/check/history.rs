//! The history of a run: one JSON object per line (`history.jsonl`), the
//! run's parameters first, then every operation as it completed, with its
//! invoke and complete times (microseconds since the run started) and its
//! outcome. The checker reads nothing else, so a saved history can be
//! re-checked anywhere.
//!
//! Outcomes follow Jepsen: `ok` (the broker said it happened), `fail` (it
//! certainly did not happen: the broker refused it before doing anything),
//! `info` (unknown: a timeout, a broken connection, an error after which
//! the operation may or may not have taken effect).

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

use serde::{Deserialize, Serialize};

/// Version of the line format; `analyze` refuses other versions.
pub const FORMAT_VERSION: u32 = 1;

/// Producer number of a record whose value the workload did not write (a
/// foreign record in an attached cluster's topic, or garbage).
pub const FOREIGN_PRODUCER: u32 = u32::MAX;

/// Microseconds since the run started.
pub type Micros = u64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Ok,
    Fail,
    Info,
}

/// One value the workload wrote: the producer (workload slot) and its
/// counter, unique within a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(from = "(u32, u64)", into = "(u32, u64)")]
pub struct Value {
    pub producer: u32,
    pub counter: u64,
}

impl From<(u32, u64)> for Value {
    fn from((producer, counter): (u32, u64)) -> Self {
        Value { producer, counter }
    }
}

impl From<Value> for (u32, u64) {
    fn from(v: Value) -> Self {
        (v.producer, v.counter)
    }
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.producer == FOREIGN_PRODUCER {
            write!(f, "foreign#{:x}", self.counter)
        } else {
            write!(f, "{}:{}", self.producer, self.counter)
        }
    }
}

/// A record as a consumer or the final read saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "(i32, i64, u32, u64)", into = "(i32, i64, u32, u64)")]
pub struct Record {
    pub partition: i32,
    pub offset: i64,
    pub value: Value,
}

impl From<(i32, i64, u32, u64)> for Record {
    fn from((partition, offset, producer, counter): (i32, i64, u32, u64)) -> Self {
        Record {
            partition,
            offset,
            value: Value { producer, counter },
        }
    }
}

impl From<Record> for (i32, i64, u32, u64) {
    fn from(r: Record) -> Self {
        (r.partition, r.offset, r.value.producer, r.value.counter)
    }
}

/// The first line: what was run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    pub format_version: u32,
    pub tool_version: String,
    pub seed: u64,
    pub nodes: usize,
    pub topic: String,
    pub partitions: i32,
    pub faults: Vec<String>,
    pub duration_s: u64,
    pub started_unix_ms: u64,
}

/// One produced batch: its values, all to one partition.
fn is_zero(n: &u32) -> bool {
    *n == 0
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Send {
    pub producer: u32,
    pub idempotent: bool,
    pub partition: i32,
    /// Counters of the values, in batch order (record `i` is at `offset + i`).
    pub counters: Vec<u64>,
    pub invoke_us: Micros,
    pub complete_us: Micros,
    pub outcome: Outcome,
    /// Base offset the broker acknowledged (with `ok`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<i64>,
    /// Times the client sent the batch again after the first attempt.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retries: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A consumer session begins: from here on its reads of each partition
/// must go forward without gaps from `positions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub consumer: u32,
    pub session: u64,
    /// Set for group members; `None` for consumers of assigned partitions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<i32>,
    pub at_us: Micros,
    /// (partition, first offset to read).
    pub positions: Vec<(i32, i64)>,
}

/// One poll of a consumer session that returned records or failed (empty
/// successful polls carry nothing to check and are not written).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Poll {
    pub consumer: u32,
    pub session: u64,
    pub invoke_us: Micros,
    pub complete_us: Micros,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub records: Vec<Record>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// An OffsetCommit of one partition by a group member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Commit {
    pub consumer: u32,
    pub session: u64,
    pub group: String,
    pub generation: i32,
    pub partition: i32,
    pub offset: i64,
    pub invoke_us: Micros,
    pub complete_us: Micros,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// An OffsetFetch by a group member about to resume: where it will start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FetchOffsets {
    pub consumer: u32,
    pub group: String,
    pub invoke_us: Micros,
    pub complete_us: Micros,
    pub outcome: Outcome,
    /// (partition, committed offset or -1 for none), with `ok`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offsets: Vec<(i32, i64)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The read of a whole partition after the faults healed: the log as the
/// broker keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinalRead {
    pub partition: i32,
    pub invoke_us: Micros,
    pub complete_us: Micros,
    /// Log start and end offset (ListOffsets earliest and latest).
    pub start_offset: i64,
    pub end_offset: i64,
    /// Whether the read got from `start_offset` to `end_offset`.
    pub complete: bool,
    pub records: Vec<Record>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A fault window (an instant fault has `end_us == start_us`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<usize>,
    pub start_us: Micros,
    pub end_us: Micros,
    /// What was done, e.g. "SIGKILL, restarted in 412 ms".
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Op {
    Run(RunInfo),
    Send(Send),
    Session(Session),
    Poll(Poll),
    Commit(Commit),
    FetchOffsets(FetchOffsets),
    FinalRead(FinalRead),
    Fault(Fault),
}

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Parse {
        path: String,
        line: usize,
        message: String,
    },
    #[error("{path}: {message}")]
    Format { path: String, message: String },
}

/// A loaded history: the run's parameters and its operations in file order.
#[derive(Debug, Clone)]
pub struct History {
    pub run: RunInfo,
    pub ops: Vec<Op>,
}

impl History {
    pub fn load(path: &Path) -> Result<History, HistoryError> {
        let name = path.display().to_string();
        let file = File::open(path).map_err(|source| HistoryError::Read {
            path: name.clone(),
            source,
        })?;
        let mut run = None;
        let mut ops = Vec::new();
        for (i, line) in BufReader::new(file).lines().enumerate() {
            let line = line.map_err(|source| HistoryError::Read {
                path: name.clone(),
                source,
            })?;
            if line.trim().is_empty() {
                continue;
            }
            let op: Op = serde_json::from_str(&line).map_err(|e| HistoryError::Parse {
                path: name.clone(),
                line: i + 1,
                message: e.to_string(),
            })?;
            match (op, run.is_some()) {
                (Op::Run(info), false) => run = Some(info),
                (Op::Run(_), true) => {
                    return Err(HistoryError::Parse {
                        path: name,
                        line: i + 1,
                        message: "a second run header".into(),
                    })
                }
                (_, false) => {
                    return Err(HistoryError::Format {
                        path: name,
                        message: "the first line is not the run header".into(),
                    })
                }
                (op, true) => ops.push(op),
            }
        }
        let run = run.ok_or_else(|| HistoryError::Format {
            path: name.clone(),
            message: "empty history".into(),
        })?;
        if run.format_version != FORMAT_VERSION {
            return Err(HistoryError::Format {
                path: name,
                message: format!(
                    "history format {} (this checker reads {FORMAT_VERSION})",
                    run.format_version
                ),
            });
        }
        Ok(History { run, ops })
    }
}

/// Appends operations to `history.jsonl` as they complete, from any thread
/// (the workload's executor and the fault scheduler). Each line is written
/// whole under the lock, so a run that dies still leaves a readable prefix.
pub struct Recorder {
    started: Instant,
    out: Mutex<BufWriter<File>>,
}

impl Recorder {
    pub fn create(path: &Path, run: &RunInfo, started: Instant) -> std::io::Result<Recorder> {
        let recorder = Recorder {
            started,
            out: Mutex::new(BufWriter::new(File::create(path)?)),
        };
        recorder.record(&Op::Run(run.clone()))?;
        Ok(recorder)
    }

    /// Microseconds since the run started.
    pub fn now_us(&self) -> Micros {
        self.started.elapsed().as_micros() as Micros
    }

    pub fn started(&self) -> Instant {
        self.started
    }

    pub fn record(&self, op: &Op) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(op).expect("history types always serialise");
        line.push(b'\n');
        let mut out = self.out.lock().expect("a recorder user panicked");
        out.write_all(&line)
    }

    pub fn flush(&self) -> std::io::Result<()> {
        self.out.lock().expect("a recorder user panicked").flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip_and_a_bad_line_names_its_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        let run = RunInfo {
            format_version: FORMAT_VERSION,
            tool_version: "test".into(),
            seed: 7,
            nodes: 1,
            topic: "t".into(),
            partitions: 2,
            faults: vec!["kill".into()],
            duration_s: 10,
            started_unix_ms: 1,
        };
        let send = Op::Send(Send {
            producer: 1,
            idempotent: true,
            partition: 0,
            counters: vec![4, 5],
            invoke_us: 10,
            complete_us: 20,
            outcome: Outcome::Ok,
            offset: Some(100),
            retries: 0,
            error: None,
        });
        let poll = Op::Poll(Poll {
            consumer: 0,
            session: 3,
            invoke_us: 30,
            complete_us: 40,
            outcome: Outcome::Ok,
            records: vec![Record::from((0, 100, 1, 4))],
            error: None,
        });
        let recorder = Recorder::create(&path, &run, Instant::now()).unwrap();
        recorder.record(&send).unwrap();
        recorder.record(&poll).unwrap();
        recorder.flush().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.lines().nth(2).unwrap().contains("[[0,100,1,4]]"),
            "records are compact tuples: {text}"
        );
        let loaded = History::load(&path).unwrap();
        assert_eq!(loaded.run, run);
        assert_eq!(loaded.ops, vec![send, poll]);

        std::fs::write(
            &path,
            format!("{}\n{{\"type\":\"send\"}}\n", text.lines().next().unwrap()),
        )
        .unwrap();
        let e = History::load(&path).unwrap_err().to_string();
        assert!(e.contains(":2:"), "{e}");
        std::fs::write(&path, text.lines().nth(1).unwrap()).unwrap();
        let e = History::load(&path).unwrap_err().to_string();
        assert!(e.contains("run header"), "{e}");
    }
}
