//! One log segment: a `.log` file of record batches named by its base offset, with its offset
//! and time indexes (apache/kafka: storage/.../log/LogSegment.java).
//!
//! The segment keeps the decoded batches in memory beside their file positions (the page
//! cache, in effect); the bytes themselves go to the node's disk through [`DiskOp`]s, and a
//! restart rebuilds segments from those bytes alone.

use super::index::{OffsetIndex, TimeIndex};
use crate::chunked::Chunked;
use crate::config::LogConfig;
use crate::node::{DiskOp, DiskPath};
use crate::record::{DecodeError, RecordBatch};
use crate::shared_bytes::SharedBytes;
use std::sync::Arc;

/// Kafka's file name for a segment file: the base offset as 20 digits plus an extension, so
/// a directory listing sorts segments in offset order.
pub fn file_name(base_offset: i64, extension: &str) -> String {
    format!("{base_offset:020}.{extension}")
}

/// Paths of the `.log`, `.index` and `.timeindex` files of the segment at `base_offset` in `dir`.
pub fn paths(dir: &str, base_offset: i64) -> [String; 3] {
    ["log", "index", "timeindex"].map(|ext| format!("{dir}/{}", file_name(base_offset, ext)))
}

/// Parses a segment's base offset from a `.log` file name.
pub fn base_offset_of(file: &str) -> Option<i64> {
    let digits = file.strip_suffix(".log")?;
    (digits.len() == 20).then(|| digits.parse().ok()).flatten()
}

/// Why a segment was rolled (`LogSegment.shouldRoll`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RollReason {
    /// The batch would take the segment past `segment.bytes`.
    SegmentBytes,
    /// The segment's first record is older than `segment.ms`.
    SegmentMs,
    /// The offset or time index is full (`segment.index.bytes`).
    IndexFull,
    /// The batch's offsets no longer fit the index's 32-bit relative offsets.
    OffsetOverflow,
    /// Retention is about to delete every segment, so an empty active one comes first.
    Retention,
}

impl RollReason {
    /// The setting or event behind the roll, for the trace.
    pub fn describe(self) -> &'static str {
        match self {
            RollReason::SegmentBytes => "segment.bytes reached",
            RollReason::SegmentMs => "segment.ms passed",
            RollReason::IndexFull => "index full (segment.index.bytes)",
            RollReason::OffsetOverflow => "relative offset overflow",
            RollReason::Retention => "retention deletes every segment",
        }
    }
}

/// A batch held by a segment: where its bytes start in the `.log` file, how many there are,
/// and the batch (a leader's append holds its records only as those bytes; see
/// [`RecordBatch::into_encoded_only`]).
#[derive(Clone, Debug)]
pub struct StoredBatch {
    /// Byte position in the `.log` file.
    pub position: u32,
    /// Encoded size in bytes.
    pub size_bytes: u32,
    /// The batch.
    pub batch: Arc<RecordBatch>,
}

/// One segment.
#[derive(Clone, Debug)]
pub struct LogSegment {
    base_offset: i64,
    /// The batches, in chunks rather than one vector: a segment of a long run holds hundreds of
    /// thousands of them (heavy.ron's, 28,000 per replica), and a doubling vector's spare room
    /// and its moves to larger allocations were part of the run's peak memory.
    batches: Chunked<StoredBatch>,
    size_bytes: u64,
    offset_index: OffsetIndex,
    time_index: TimeIndex,
    bytes_since_last_index_entry: u64,
    max_timestamp_ms: i64,
    offset_of_max_timestamp: i64,
    created_ms: i64,
    /// The first batch's largest timestamp, kept when that batch is appended (Kafka's
    /// `rollingBasedTimestamp`): every append asks for it to decide on a roll, and the first
    /// batch can hold hundreds of records (a producer's backlog while the topic had no leader).
    rolling_based_timestamp_ms: Option<i64>,
    index_interval_bytes: u64,
    /// The `.log` file's path, formatted at the first append and shared by every later one's
    /// write: formatting the zero-padded offset each time was a hot spot, and so was copying
    /// and hashing it ([`DiskPath`]).
    log_path: Option<DiskPath>,
}

impl LogSegment {
    /// An empty segment starting at `base_offset`, created at `now_ms`.
    pub fn new(base_offset: i64, config: &LogConfig, now_ms: i64) -> LogSegment {
        LogSegment {
            base_offset,
            batches: Chunked::default(),
            size_bytes: 0,
            offset_index: OffsetIndex::new(base_offset, config.segment_index_bytes),
            time_index: TimeIndex::new(base_offset, config.segment_index_bytes),
            bytes_since_last_index_entry: 0,
            max_timestamp_ms: -1,
            offset_of_max_timestamp: base_offset,
            created_ms: now_ms,
            rolling_based_timestamp_ms: None,
            index_interval_bytes: config.index_interval_bytes,
            log_path: None,
        }
    }

    /// The first offset this segment may hold (its name).
    pub fn base_offset(&self) -> i64 {
        self.base_offset
    }

    /// Size of the `.log` file in bytes.
    pub fn size_bytes(&self) -> u64 {
        self.size_bytes
    }

    /// The batches, oldest first.
    pub fn batches(&self) -> &Chunked<StoredBatch> {
        &self.batches
    }

    /// The offset index.
    pub fn offset_index(&self) -> &OffsetIndex {
        &self.offset_index
    }

    /// The time index.
    pub fn time_index(&self) -> &TimeIndex {
        &self.time_index
    }

    /// The offset after the last batch, or the base offset when empty (`readNextOffset`).
    pub fn next_offset(&self) -> i64 {
        self.batches.last().map_or(self.base_offset, |b| b.batch.next_offset())
    }

    /// The largest record timestamp, or the creation time when empty (Kafka falls back to the
    /// file's modification time). Retention by `retention.ms` compares against this.
    pub fn largest_timestamp_ms(&self) -> i64 {
        if self.max_timestamp_ms >= 0 {
            self.max_timestamp_ms
        } else {
            self.created_ms
        }
    }

    /// The first batch's largest timestamp, which `segment.ms` measures from
    /// (`rollingBasedTimestamp`), or the creation time when empty.
    pub fn rolling_based_timestamp_ms(&self) -> i64 {
        debug_assert_eq!(self.rolling_based_timestamp_ms, self.batches.first().map(|b| b.batch.max_timestamp_ms()));
        self.rolling_based_timestamp_ms.unwrap_or(self.created_ms)
    }

    /// Paths of this segment's files inside `dir`.
    pub fn paths(&self, dir: &str) -> [String; 3] {
        paths(dir, self.base_offset)
    }

    /// Whether appending a batch of `size_bytes` ending at `last_offset` with records up to
    /// `max_timestamp_ms` must go to a new segment instead (`LogSegment.shouldRoll`).
    pub fn should_roll(
        &self,
        config: &LogConfig,
        size_bytes: u64,
        last_offset: i64,
        now_ms: i64,
    ) -> Option<RollReason> {
        if self.size_bytes > 0 && self.size_bytes + size_bytes > config.segment_bytes {
            return Some(RollReason::SegmentBytes);
        }
        let waited = now_ms.saturating_sub(self.rolling_based_timestamp_ms());
        // A compacted log also rolls by max.compaction.lag.ms, or the active segment (which the
        // cleaner never touches) could hold dirty records past that bound (`LogConfig.maxSegmentMs`).
        let segment_ms =
            if config.is_compacted() { config.segment_ms.min(config.max_compaction_lag_ms) } else { config.segment_ms };
        if self.size_bytes > 0 && waited > 0 && waited as u64 > segment_ms {
            return Some(RollReason::SegmentMs);
        }
        if self.offset_index.is_full() || self.time_index.is_full() {
            return Some(RollReason::IndexFull);
        }
        if last_offset - self.base_offset > i64::from(i32::MAX) {
            return Some(RollReason::OffsetOverflow);
        }
        None
    }

    /// Appends an encoded batch, adding index entries every `index.interval.bytes`, and pushes
    /// the file writes onto `ops`. `bytes` is the batch's shared encoding
    /// ([`RecordBatch::encoded`]): the `.log` write carries it without copying.
    pub fn append(&mut self, dir: &str, batch: Arc<RecordBatch>, bytes: SharedBytes, ops: &mut Vec<DiskOp>) {
        let (index_entry, time_entry) = self.add(batch, bytes.len() as u32);
        // The paths of [`paths`], each formatted only when written to: most appends add no
        // index entry, and formatting three paths per append was a hot spot.
        let base = self.base_offset;
        // The cached path is checked against `dir` (its prefix and length), so a segment appended
        // under another directory can never write to a stale path.
        let log_path = match &self.log_path {
            Some(path) if path.len() == dir.len() + 25 && path.starts_with(dir) => path,
            _ => self.log_path.insert(DiskPath::from(format!("{dir}/{base:020}.log"))),
        };
        ops.push(DiskOp::Append { path: log_path.clone(), bytes });
        // The index files' paths are the log's with another extension: built from it by hand,
        // since formatting them cost about 2,000 instructions each in heavy.ron.
        let stem = &log_path[..log_path.len() - "log".len()];
        let sibling = |extension: &str| {
            let mut path = String::with_capacity(stem.len() + extension.len());
            path.push_str(stem);
            path.push_str(extension);
            DiskPath::from(path)
        };
        if let Some(bytes) = index_entry {
            ops.push(DiskOp::Append { path: sibling("index"), bytes: SharedBytes::from(bytes) });
        }
        if let Some(bytes) = time_entry {
            ops.push(DiskOp::Append { path: sibling("timeindex"), bytes: SharedBytes::from(bytes) });
        }
    }

    /// The in-memory half of an append: index entries to write, if any.
    fn add(&mut self, batch: Arc<RecordBatch>, size_bytes: u32) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
        assert!(
            batch.base_offset() >= self.next_offset(),
            "segment {} appends must increase (batch at {}, segment end {})",
            self.base_offset,
            batch.base_offset(),
            self.next_offset()
        );
        let position = self.size_bytes as u32;
        let batch_max = batch.max_timestamp_ms();
        if self.batches.is_empty() {
            self.rolling_based_timestamp_ms = Some(batch_max);
        }
        if batch_max > self.max_timestamp_ms {
            self.max_timestamp_ms = batch_max;
            self.offset_of_max_timestamp = batch.last_offset();
        }
        let mut entries = (None, None);
        if self.bytes_since_last_index_entry > self.index_interval_bytes {
            entries.0 = Some(self.offset_index.append(batch.last_offset(), position));
            entries.1 = self.time_index.maybe_append(self.max_timestamp_ms, self.offset_of_max_timestamp);
            self.bytes_since_last_index_entry = 0;
        }
        self.bytes_since_last_index_entry += u64::from(size_bytes);
        self.size_bytes += u64::from(size_bytes);
        self.batches.push(StoredBatch { position, size_bytes, batch });
        entries
    }

    /// Index of the first batch holding an offset at or above `offset`, found through the
    /// offset index and then from the position it gives (`LogSegment.translateOffset`). Kafka
    /// scans forward from that position; the batches are in offset order, so a binary search
    /// over the same stretch finds the same batch while reading fewer of them (each read
    /// follows a pointer to a batch that is rarely in cache).
    ///
    /// Most reads are of the last few batches: a follower fetches what the leader appended
    /// since its previous fetch, a consumer that keeps up does the same, and the invariant
    /// checks read what was appended since the last quantum. Those batches were just written
    /// and are still in cache, so the last `TAIL_BATCHES` are searched first,
    /// galloping back from the end; the answer is the same either way.
    pub fn find_batch(&self, offset: i64) -> Option<usize> {
        let n = self.batches.len();
        let last_offset = |i: usize| self.batches[i].batch.last_offset();
        if n == 0 || last_offset(n - 1) < offset {
            return None;
        }
        // Invariant: the batch at `high` ends at or above `offset`, so the answer is at or
        // before it. Steps of 1, 2, 4, ... back find a batch that ends below `offset`, and the
        // answer lies just after it.
        let (mut high, mut step) = (n - 1, 1);
        while n - high <= Self::TAIL_BATCHES {
            let Some(low) = high.checked_sub(step) else {
                return Some(self.batches.partition_point_in(0..high + 1, |b| b.batch.last_offset() < offset));
            };
            if last_offset(low) < offset {
                return Some(self.batches.partition_point_in(low + 1..high + 1, |b| b.batch.last_offset() < offset));
            }
            (high, step) = (low, step * 2);
        }
        let (_, position) = self.offset_index.lookup(offset);
        let start = self.batches.partition_point(|b| b.position < position);
        let found = self.batches.partition_point_in(start..n, |b| b.batch.last_offset() < offset);
        (found < self.batches.len()).then_some(found)
    }

    /// How many batches at the end of a segment [`LogSegment::find_batch`] looks at before it
    /// searches through the index.
    const TAIL_BATCHES: usize = 64;

    /// The first record with a timestamp at or above `target_ms`, as `(offset, timestamp_ms)`,
    /// found through the time index and then the offset index (`findOffsetByTimestamp`).
    pub fn find_offset_by_timestamp(&self, target_ms: i64, from_offset: i64) -> Option<(i64, i64)> {
        if self.max_timestamp_ms < target_ms {
            return None;
        }
        let start = self.find_batch(self.time_index.lookup(target_ms).max(from_offset))?;
        self.batches.iter_from(start).find_map(|b| {
            b.batch
                .records()
                .iter()
                .find(|r| r.timestamp_ms >= target_ms && b.batch.offset_of(r) >= from_offset)
                .map(|r| (b.batch.offset_of(r), r.timestamp_ms))
        })
    }

    /// Drops every batch ending at or above `offset` (whole batches; a batch straddling
    /// `offset` goes too) and cuts the files to match. Returns the bytes removed.
    pub fn truncate_to(&mut self, dir: &str, offset: i64, ops: &mut Vec<DiskOp>) -> u64 {
        let keep = self.batches.partition_point(|b| b.batch.next_offset() <= offset);
        if keep == self.batches.len() {
            return 0;
        }
        let removed = self.size_bytes - u64::from(self.batches[keep].position);
        // Replaying the kept batches through the append path gives exactly the indexes and
        // timestamps they had before the cut.
        let mut fresh = LogSegment { batches: Chunked::default(), ..LogSegment::empty_like(self) };
        for b in std::mem::take(&mut self.batches).into_iter().take(keep) {
            fresh.add(b.batch, b.size_bytes);
        }
        *self = fresh;
        let [log, _, _] = self.paths(dir);
        ops.push(DiskOp::Truncate { path: log, len_bytes: self.size_bytes });
        self.write_all_ops(dir, None, ops);
        removed
    }

    fn empty_like(other: &LogSegment) -> LogSegment {
        LogSegment {
            base_offset: other.base_offset,
            batches: Chunked::default(),
            size_bytes: 0,
            offset_index: OffsetIndex::new(other.base_offset, other.offset_index.max_bytes()),
            time_index: TimeIndex::new(other.base_offset, other.time_index.max_bytes()),
            bytes_since_last_index_entry: 0,
            max_timestamp_ms: -1,
            offset_of_max_timestamp: other.base_offset,
            created_ms: other.created_ms,
            rolling_based_timestamp_ms: None,
            index_interval_bytes: other.index_interval_bytes,
            log_path: None,
        }
    }

    /// Builds a segment from batches (the cleaner's rewritten segment, or a recovery's
    /// rebuild), replaying the append path so its indexes are exactly what appends make.
    /// Returns the segment and its `.log` bytes.
    pub fn from_batches(
        base_offset: i64,
        batches: impl IntoIterator<Item = Arc<RecordBatch>>,
        config: &LogConfig,
        created_ms: i64,
    ) -> (LogSegment, Vec<u8>) {
        let mut segment = LogSegment::new(base_offset, config, created_ms);
        let mut bytes = Vec::new();
        for batch in batches {
            let before = bytes.len();
            batch.encode(&mut bytes);
            segment.add(batch, (bytes.len() - before) as u32);
        }
        (segment, bytes)
    }

    /// The ops that write this whole segment (its `.log` bytes given) durably, as the cleaner's
    /// swap and a recovery's index rebuild do.
    pub fn write_all_ops(&self, dir: &str, log_bytes: Option<Vec<u8>>, ops: &mut Vec<DiskOp>) {
        let [log, index, timeindex] = self.paths(dir);
        if let Some(bytes) = log_bytes {
            ops.push(DiskOp::WriteAtomically { path: log, bytes });
        }
        ops.push(DiskOp::WriteAtomically { path: index, bytes: self.offset_index.to_bytes() });
        ops.push(DiskOp::WriteAtomically { path: timeindex, bytes: self.time_index.to_bytes() });
    }

    /// Reads a segment back from its `.log` bytes, validating every batch (its CRC and that
    /// offsets increase) and stopping at the first bad one (`LogSegment.recover`). Returns the
    /// segment, rebuilt indexes included, and the number of bytes after the last valid batch.
    pub fn recover(base_offset: i64, bytes: &[u8], config: &LogConfig, created_ms: i64) -> (LogSegment, u64) {
        let mut segment = LogSegment::new(base_offset, config, created_ms);
        let mut at = 0usize;
        while at < bytes.len() {
            match RecordBatch::decode(&bytes[at..]) {
                // Kafka's checks: the CRC (in `decode`), offsets that keep increasing, and
                // offsets that fit the index's relative form (`ensureOffsetInRange`).
                Ok((batch, used))
                    if batch.base_offset() >= segment.next_offset()
                        && batch.last_offset() - base_offset <= i64::from(i32::MAX) =>
                {
                    // The batch keeps the bytes it was read from, and only those, as the log
                    // that wrote them did: replicas that hold the same bytes compare equal
                    // without decoding.
                    let read = SharedBytes::from(&bytes[at..at + used]);
                    segment.add(Arc::new(batch.with_encoding(read).into_encoded_only()), used as u32);
                    at += used;
                }
                Ok(_) | Err(DecodeError::Truncated | DecodeError::CrcMismatch | DecodeError::Malformed(_)) => break,
            }
        }
        (segment, (bytes.len() - at) as u64)
    }

    /// Reads a flushed segment (below the recovery point) back, trusting its bytes but checking
    /// its index files against the log (Kafka's `sanityCheck`, made exact). Returns the
    /// segment and whether its index files were missing or wrong and must be rewritten.
    pub fn load(
        base_offset: i64,
        log: &[u8],
        index: Option<&[u8]>,
        time_index: Option<&[u8]>,
        config: &LogConfig,
        created_ms: i64,
    ) -> (LogSegment, bool) {
        let (segment, leftover) = LogSegment::recover(base_offset, log, config, created_ms);
        assert_eq!(
            leftover, 0,
            "flushed segment {base_offset} holds a bad batch: a flushed file changed under the broker"
        );
        let index_ok = index.and_then(|b| OffsetIndex::from_bytes(base_offset, config.segment_index_bytes, b))
            == Some(segment.offset_index.clone())
            && time_index.and_then(|b| TimeIndex::from_bytes(base_offset, config.segment_index_bytes, b))
                == Some(segment.time_index.clone());
        (segment, !index_ok)
    }
}
