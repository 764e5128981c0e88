//! The controller's Raft state on disk, under `DATA_DIR/meta/controller/`:
//!
//! - `log-B/`: the entries after index `B`, in a `storage::Log`, one record
//!   batch per entry: entry index `i` is the batch at offset `i - 1 - B`,
//!   its term the batch's partition leader epoch, its single record's value
//!   the entry kind (one byte: 0 normal, 1 membership change) followed by
//!   the payload. `B` is 0 until a snapshot from the leader replaces a log
//!   that did not reach it; the entries then restart in `log-S/` (storage
//!   logs start at offset 0), and the old directory is deleted.
//! - `hard_state`: term, vote and commit, written atomically (temporary
//!   file, fsync, rename, directory fsync) whenever term or vote change.
//! - `snapshot`: the metadata image at an index, written atomically; the
//!   log's segments wholly below it are then deleted.
//!
//! File layouts (little-endian), each ending in a CRC32C of what precedes it:
//!
//! | file | offset | size | field |
//! |------|--------|------|-------|
//! | hard_state | 0 | 4 | magic `SLHS` |
//! |            | 4 | 4 | version (1) |
//! |            | 8 | 8 | term |
//! |            | 16 | 8 | vote (Raft node id, 0: none) |
//! |            | 24 | 8 | commit index |
//! |            | 32 | 4 | CRC32C of bytes 0..32 |
//! | snapshot | 0 | 4 | magic `SLSN` |
//! |          | 4 | 4 | version (1) |
//! |          | 8 | 8 | index |
//! |          | 16 | 8 | term |
//! |          | 24 | 4 | voter count V |
//! |          | 28 | 4 | learner count L |
//! |          | 32 | 8(V+L) | voter ids, then learner ids |
//! |          | ... | 4 | data length D |
//! |          | ... | D | data (the image as a record batch) |
//! |          | ... | 4 | CRC32C of everything before |

use std::cell::{Cell, RefCell};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use bytes::{Bytes, BytesMut};
use consensus::{
    ConfState, Entry, EntryKind, HardState, Index, MemStorage, Snapshot, SnapshotMeta, Storage,
};

use super::ControllerError;

const HARD_STATE_MAGIC: [u8; 4] = *b"SLHS";
const SNAPSHOT_MAGIC: [u8; 4] = *b"SLSN";
const FORMAT_VERSION: u32 = 1;
const HARD_STATE_BYTES: usize = 36;
const KIND_NORMAL: u8 = 0;
const KIND_CONF_CHANGE: u8 = 1;

/// The controller log's segments are small: the log is compacted by
/// snapshots, and only whole segments below a snapshot can be deleted.
const SEGMENT_BYTES: u64 = 8 << 20;

pub struct DurableRaft {
    dir: PathBuf,
    config: storage::LogConfig,
    shard_storage: Rc<storage::ShardStorage>,
    /// The log holding the entries after index `base`.
    log: RefCell<storage::Log>,
    base: Cell<Index>,
}

impl DurableRaft {
    /// Opens (recovering) the controller's state under `dir`, creating it if
    /// absent. Returns it with the in-memory view Raft reads: snapshot,
    /// entries after it, hard state. Empty for a node that never ran.
    pub async fn open(
        dir: &Path,
        fsync: storage::FsyncPolicy,
        shard_storage: &Rc<storage::ShardStorage>,
    ) -> Result<(Self, MemStorage), ControllerError> {
        std::fs::create_dir_all(dir).map_err(|source| ControllerError::Io {
            what: "create",
            path: dir.to_path_buf(),
            source,
        })?;
        let config = storage::LogConfig {
            segment_bytes_max: SEGMENT_BYTES,
            fsync,
            retention_bytes: -1,
            retention_ms: -1,
            ..storage::LogConfig::default()
        };
        let mut memory = MemStorage::default();
        let snapshot = read_snapshot(&dir.join("snapshot"))?;
        let snapshot_index = snapshot.as_ref().map_or(0, |s| s.meta.index);
        if let Some(snapshot) = snapshot {
            memory.apply_snapshot(snapshot);
        }
        let base = choose_log_base(dir, snapshot_index)?;
        let (log, _report) = storage::Log::open(&log_dir(dir, base), config.clone(), shard_storage)
            .await
            .map_err(ControllerError::Log)?;
        let hard_state = read_hard_state(&dir.join("hard_state"))?;
        let durable = Self {
            dir: dir.to_path_buf(),
            config,
            shard_storage: shard_storage.clone(),
            log: RefCell::new(log),
            base: Cell::new(base),
        };
        let entries = durable.read_entries(memory.first_index()).await?;
        memory.append(&entries);
        if let Some(mut hard_state) = hard_state {
            // The commit index is written lazily: it may trail (Raft learns
            // it again) but never points past the entries on disk.
            hard_state.commit = hard_state
                .commit
                .max(memory.first_index() - 1)
                .min(memory.last_index());
            memory.set_hard_state(hard_state);
        }
        Ok((durable, memory))
    }

    fn log(&self) -> storage::Log {
        self.log.borrow().clone()
    }

    /// The log offset of entry `index`.
    fn offset_of(&self, index: Index) -> i64 {
        assert!(index > self.base.get(), "entry {index} precedes the log");
        (index - 1 - self.base.get()) as i64
    }

    /// Every entry from `first` on, as stored.
    async fn read_entries(&self, first: Index) -> Result<Vec<Entry>, ControllerError> {
        let log = self.log();
        let base = self.base.get();
        let mut out = Vec::new();
        let start = log.log_start_offset();
        let wanted = self.offset_of(first.max(base + 1));
        if wanted < start {
            return Err(ControllerError::Damaged(format!(
                "entries from index {first} are needed but the log starts at index {}",
                start as u64 + base + 1
            )));
        }
        let mut offset = wanted;
        while offset < log.log_end_offset() {
            let read = log
                .read(offset, 1 << 20)
                .await
                .map_err(ControllerError::Log)?;
            if read.batches.is_empty() {
                break;
            }
            for chunk in &read.batches {
                for batch in net::records::batches(chunk) {
                    let batch = batch.map_err(|e| ControllerError::Damaged(e.to_string()))?;
                    offset = batch.header.last_offset() + 1;
                    if batch.header.base_offset < wanted {
                        continue;
                    }
                    out.push(entry_of(&batch, base)?);
                }
            }
        }
        Ok(out)
    }

    /// Appends `entries` (contiguous), first cutting any stored entries at
    /// or after the first one's index (a new leader overwrote them). Not
    /// durable until [`Self::sync`].
    pub async fn append(&self, entries: &[Entry]) -> Result<(), ControllerError> {
        let Some(first) = entries.first() else {
            return Ok(());
        };
        let log = self.log();
        let offset = self.offset_of(first.index);
        assert!(
            offset <= log.log_end_offset(),
            "a gap before entry {}",
            first.index
        );
        if offset < log.log_end_offset() {
            log.truncate(offset).await.map_err(ControllerError::Log)?;
        }
        for entry in entries {
            let term = i32::try_from(entry.term).expect("controller terms fit in i32");
            let info = log
                .append(batch_of(entry), term)
                .await
                .map_err(ControllerError::Log)?;
            assert_eq!(
                info.base_offset,
                self.offset_of(entry.index),
                "each entry is the batch at its own offset"
            );
        }
        Ok(())
    }

    /// Waits until everything appended is durable.
    pub async fn sync(&self) -> Result<(), ControllerError> {
        self.log().sync().await.map_err(ControllerError::Log)
    }

    pub async fn write_hard_state(&self, hard_state: HardState) -> Result<(), ControllerError> {
        let mut bytes = Vec::with_capacity(HARD_STATE_BYTES);
        bytes.extend_from_slice(&HARD_STATE_MAGIC);
        bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        bytes.extend_from_slice(&hard_state.term.to_le_bytes());
        bytes.extend_from_slice(&hard_state.vote.to_le_bytes());
        bytes.extend_from_slice(&hard_state.commit.to_le_bytes());
        seal(&mut bytes);
        write_atomically(self.dir.join("hard_state"), bytes).await
    }

    /// Makes `snapshot` of this node's own applied state the durable
    /// starting point, then deletes the log segments it covers.
    pub async fn write_snapshot(&self, snapshot: &Snapshot) -> Result<(), ControllerError> {
        write_atomically(self.dir.join("snapshot"), encode_snapshot(snapshot)).await?;
        let covered = snapshot.meta.index.saturating_sub(self.base.get()) as i64;
        self.log()
            .delete_segments_below(covered)
            .await
            .map_err(ControllerError::Log)?;
        Ok(())
    }

    /// Installs a snapshot received from the leader: it becomes the durable
    /// starting point and, unless the log already holds its index, the log
    /// restarts after it (the entries before are superseded).
    pub async fn install_snapshot(
        &self,
        snapshot: &Snapshot,
        log_holds_it: bool,
    ) -> Result<(), ControllerError> {
        if log_holds_it {
            return self.write_snapshot(snapshot).await;
        }
        write_atomically(self.dir.join("snapshot"), encode_snapshot(snapshot)).await?;
        let index = snapshot.meta.index;
        let (log, _report) = storage::Log::open(
            &log_dir(&self.dir, index),
            self.config.clone(),
            &self.shard_storage,
        )
        .await
        .map_err(ControllerError::Log)?;
        let old = self.log.replace(log);
        let old_base = self.base.replace(index);
        old.delete().await.map_err(ControllerError::Log)?;
        tracing::info!(
            index,
            old_base,
            "controller log restarted after an installed snapshot"
        );
        Ok(())
    }

    pub async fn close(&self) -> Result<(), ControllerError> {
        self.log().close().await.map_err(ControllerError::Log)
    }
}

fn batch_of(entry: &Entry) -> BytesMut {
    let kind = match entry.kind {
        EntryKind::Normal => KIND_NORMAL,
        EntryKind::ConfChange => KIND_CONF_CHANGE,
    };
    let mut value = Vec::with_capacity(1 + entry.data.len());
    value.push(kind);
    value.extend_from_slice(&entry.data);
    let mut batch = net::records::BatchBuilder::new(0);
    batch.push(0, None, Some(&value), &[]);
    BytesMut::from(&batch.build()[..])
}

fn log_dir(dir: &Path, base: Index) -> PathBuf {
    dir.join(format!("log-{base}"))
}

/// The base of the log to use: the newest `log-B` with `B` at most the
/// snapshot's index (a crash during [`DurableRaft::install_snapshot`] can
/// leave two); the others are removed. `0` when there is none.
fn choose_log_base(dir: &Path, snapshot_index: Index) -> Result<Index, ControllerError> {
    let io = |source| ControllerError::Io {
        what: "list",
        path: dir.to_path_buf(),
        source,
    };
    let mut bases: Vec<Index> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| {
            e.ok()?
                .file_name()
                .to_str()?
                .strip_prefix("log-")?
                .parse()
                .ok()
        })
        .collect();
    bases.sort_unstable();
    let chosen = bases
        .iter()
        .copied()
        .rfind(|&b| b <= snapshot_index)
        .unwrap_or(0);
    for base in bases.into_iter().filter(|&b| b != chosen) {
        std::fs::remove_dir_all(log_dir(dir, base)).map_err(io)?;
    }
    Ok(chosen)
}

fn entry_of(batch: &net::records::Batch, base: Index) -> Result<Entry, ControllerError> {
    let damaged = |why: &str| {
        ControllerError::Damaged(format!(
            "controller log batch at offset {}: {why}",
            batch.header.base_offset
        ))
    };
    let record = batch
        .records()
        .map_err(|e| damaged(&e.to_string()))?
        .next()
        .ok_or_else(|| damaged("no record"))?
        .map_err(|e| damaged(&e.to_string()))?;
    let value = record.value.ok_or_else(|| damaged("no value"))?;
    let kind = match value.first() {
        Some(&KIND_NORMAL) => EntryKind::Normal,
        Some(&KIND_CONF_CHANGE) => EntryKind::ConfChange,
        _ => return Err(damaged("unknown entry kind")),
    };
    Ok(Entry {
        term: u64::try_from(batch.header.partition_leader_epoch).map_err(|_| damaged("term"))?,
        index: batch.header.base_offset as Index + 1 + base,
        kind,
        data: value.slice(1..),
    })
}

fn seal(bytes: &mut Vec<u8>) {
    let crc = crc32c::crc32c(bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
}

/// The bytes before the CRC, if the CRC matches.
fn unseal<'a>(bytes: &'a [u8], what: &str) -> Result<&'a [u8], ControllerError> {
    let damaged = || ControllerError::Damaged(format!("{what}: bad checksum or truncated"));
    let body_len = bytes.len().checked_sub(4).ok_or_else(damaged)?;
    let (body, crc) = bytes.split_at(body_len);
    if crc32c::crc32c(body).to_le_bytes() != crc {
        return Err(damaged());
    }
    Ok(body)
}

fn read_file(path: &Path) -> Result<Option<Vec<u8>>, ControllerError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ControllerError::Io {
            what: "read",
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn read_hard_state(path: &Path) -> Result<Option<HardState>, ControllerError> {
    let Some(bytes) = read_file(path)? else {
        return Ok(None);
    };
    let body = unseal(&bytes, "controller hard state")?;
    if body.len() != HARD_STATE_BYTES - 4
        || body[..4] != HARD_STATE_MAGIC
        || u32::from_le_bytes(body[4..8].try_into().expect("4 bytes")) != FORMAT_VERSION
    {
        return Err(ControllerError::Damaged(
            "controller hard state: bad magic, version or length".into(),
        ));
    }
    let u64_at = |at: usize| u64::from_le_bytes(body[at..at + 8].try_into().expect("8 bytes"));
    Ok(Some(HardState {
        term: u64_at(8),
        vote: u64_at(16),
        commit: u64_at(24),
    }))
}

fn encode_snapshot(snapshot: &Snapshot) -> Vec<u8> {
    let conf = &snapshot.meta.conf;
    let mut bytes = Vec::with_capacity(48 + snapshot.data.len());
    bytes.extend_from_slice(&SNAPSHOT_MAGIC);
    bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    bytes.extend_from_slice(&snapshot.meta.index.to_le_bytes());
    bytes.extend_from_slice(&snapshot.meta.term.to_le_bytes());
    bytes.extend_from_slice(&(conf.voters.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&(conf.learners.len() as u32).to_le_bytes());
    for id in conf.voters.iter().chain(&conf.learners) {
        bytes.extend_from_slice(&id.to_le_bytes());
    }
    bytes.extend_from_slice(&(snapshot.data.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&snapshot.data);
    seal(&mut bytes);
    bytes
}

fn decode_snapshot(bytes: &[u8]) -> Result<Snapshot, ControllerError> {
    let body = unseal(bytes, "controller snapshot")?;
    let damaged = || ControllerError::Damaged("controller snapshot: bad layout".into());
    let mut at = 0;
    let mut take = |n: usize| -> Result<&[u8], ControllerError> {
        let part = body.get(at..at + n).ok_or_else(damaged)?;
        at += n;
        Ok(part)
    };
    if take(4)? != SNAPSHOT_MAGIC {
        return Err(damaged());
    }
    let u32_of = |b: &[u8]| u32::from_le_bytes(b.try_into().expect("4 bytes"));
    let u64_of = |b: &[u8]| u64::from_le_bytes(b.try_into().expect("8 bytes"));
    if u32_of(take(4)?) != FORMAT_VERSION {
        return Err(damaged());
    }
    let index = u64_of(take(8)?);
    let term = u64_of(take(8)?);
    let voter_count = u32_of(take(4)?) as usize;
    let learner_count = u32_of(take(4)?) as usize;
    if voter_count + learner_count > consensus::limits::MEMBERS_MAX {
        return Err(damaged());
    }
    let mut ids = Vec::with_capacity(voter_count + learner_count);
    for _ in 0..voter_count + learner_count {
        ids.push(u64_of(take(8)?));
    }
    let data_len = u32_of(take(4)?) as usize;
    let data = Bytes::copy_from_slice(take(data_len)?);
    if at != body.len() {
        return Err(damaged());
    }
    let learners = ids.split_off(voter_count);
    Ok(Snapshot {
        meta: SnapshotMeta {
            index,
            term,
            conf: ConfState::new(ids, learners),
        },
        data,
    })
}

fn read_snapshot(path: &Path) -> Result<Option<Snapshot>, ControllerError> {
    read_file(path)?
        .map(|bytes| decode_snapshot(&bytes))
        .transpose()
}

/// Writes `bytes` to `path` so that a crash leaves the old or the new file,
/// never a mix: a temporary file, fsync, rename, directory fsync. Runs on
/// glommio's blocking pool so the shard keeps serving.
async fn write_atomically(path: PathBuf, bytes: Vec<u8>) -> Result<(), ControllerError> {
    let target = path.clone();
    glommio::executor()
        .spawn_blocking(move || -> std::io::Result<()> {
            use std::io::Write;
            let tmp = path.with_extension("tmp");
            {
                let mut file = std::fs::File::create(&tmp)?;
                file.write_all(&bytes)?;
                file.sync_all()?;
            }
            std::fs::rename(&tmp, &path)?;
            let dir = path.parent().expect("a file in a directory");
            std::fs::File::open(dir)?.sync_all()
        })
        .await
        .map_err(|source| ControllerError::Io {
            what: "write",
            path: target,
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use storage::testing::run_local;

    fn entry(index: Index, term: u64, data: &'static [u8]) -> Entry {
        Entry {
            term,
            index,
            kind: EntryKind::Normal,
            data: Bytes::from_static(data),
        }
    }

    fn shard_storage() -> Rc<storage::ShardStorage> {
        storage::ShardStorage::new(storage::ShardStorageConfig {
            cache_bytes_max: 1 << 20,
        })
    }

    #[test]
    fn the_hard_state_file_has_a_fixed_layout() {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(b"SLHS");
        bytes.extend_from_slice(&1u32.to_le_bytes());
        bytes.extend_from_slice(&7u64.to_le_bytes()); // term
        bytes.extend_from_slice(&2u64.to_le_bytes()); // vote
        bytes.extend_from_slice(&40u64.to_le_bytes()); // commit
        bytes.extend_from_slice(&crc32c::crc32c(&bytes.clone()).to_le_bytes());
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("hard_state"), &bytes).unwrap();
        assert_eq!(
            read_hard_state(&dir.path().join("hard_state")).unwrap(),
            Some(HardState {
                term: 7,
                vote: 2,
                commit: 40
            })
        );
        bytes[9] ^= 1;
        std::fs::write(dir.path().join("hard_state"), &bytes).unwrap();
        assert!(read_hard_state(&dir.path().join("hard_state")).is_err());
    }

    #[test]
    fn snapshots_round_trip_and_damage_is_detected() {
        let snapshot = Snapshot {
            meta: SnapshotMeta {
                index: 12,
                term: 3,
                conf: ConfState::new(vec![1, 2, 3], vec![5]),
            },
            data: Bytes::from_static(b"image"),
        };
        let bytes = encode_snapshot(&snapshot);
        assert_eq!(&bytes[..4], b"SLSN");
        assert_eq!(bytes.len(), 4 + 4 + 8 + 8 + 4 + 4 + 4 * 8 + 4 + 5 + 4);
        assert_eq!(decode_snapshot(&bytes).unwrap(), snapshot);
        for cut in [0, 10, bytes.len() - 1] {
            assert!(decode_snapshot(&bytes[..cut]).is_err());
        }
    }

    #[test]
    fn entries_hard_state_and_snapshot_survive_a_reopen() {
        run_local(async {
            let dir = tempfile::tempdir().unwrap();
            let storage = shard_storage();
            let (durable, memory) =
                DurableRaft::open(dir.path(), storage::FsyncPolicy::Always, &storage)
                    .await
                    .unwrap();
            assert_eq!(memory.last_index(), 0);
            durable
                .append(&[entry(1, 1, b"a"), entry(2, 1, b"b"), entry(3, 1, b"c")])
                .await
                .unwrap();
            // A new leader overwrites index 3 on.
            durable
                .append(&[entry(3, 2, b"C"), entry(4, 2, b"D")])
                .await
                .unwrap();
            durable.sync().await.unwrap();
            durable
                .write_hard_state(HardState {
                    term: 2,
                    vote: 1,
                    commit: 9,
                })
                .await
                .unwrap();
            durable.close().await.unwrap();

            let (durable, memory) =
                DurableRaft::open(dir.path(), storage::FsyncPolicy::Always, &storage)
                    .await
                    .unwrap();
            assert_eq!(memory.last_index(), 4);
            let entries = memory.entries(1, 5, u64::MAX).unwrap();
            let datas: Vec<&[u8]> = entries.iter().map(|e| &e.data[..]).collect();
            assert_eq!(datas, [&b"a"[..], b"b", b"C", b"D"]);
            assert_eq!(memory.term(3).unwrap(), 2);
            // The commit written ahead of the entries is capped at them.
            assert_eq!(memory.hard_state().commit, 4);
            let snapshot = Snapshot {
                meta: SnapshotMeta {
                    index: 3,
                    term: 2,
                    conf: ConfState::new(vec![1], vec![]),
                },
                data: Bytes::from_static(b"img"),
            };
            durable.write_snapshot(&snapshot).await.unwrap();
            durable.close().await.unwrap();

            let (durable, memory) =
                DurableRaft::open(dir.path(), storage::FsyncPolicy::Always, &storage)
                    .await
                    .unwrap();
            assert_eq!(memory.first_index(), 4);
            assert_eq!(memory.last_index(), 4);
            assert_eq!(memory.snapshot().unwrap(), snapshot);
            durable.close().await.unwrap();
        });
    }
}
