//! A partition replica's log, as Kafka's `UnifiedLog` keeps it: segments of record batches with
//! sparse indexes, the log start and end offsets, the high watermark, the recovery point and
//! the leader-epoch cache, plus retention, flushing, recovery and (in [`cleaner`]) compaction.
//!
//! The log is the page cache's view. Everything it writes goes to the node's disk as
//! [`DiskOp`]s, which the host applies; only flushed bytes survive a power loss, and
//! [`PartitionLog::load`] rebuilds a log from the bytes that did (apache/kafka:
//! storage/.../log/LogLoader.java).

pub mod checkpoint;
pub mod cleaner;
pub mod index;
pub mod producer_state;
pub mod segment;
#[cfg(test)]
mod tests;

use crate::config::LogConfig;
use crate::error::ErrorCode;
use crate::event::Event;
use crate::ids::TopicPartition;
use crate::node::DiskOp;
use crate::record::{Record, RecordBatch};
use crate::shared_bytes::SharedBytes;
use producer_state::{ProducerAppendCheck, ProducerStateManager, UnknownProducerRule};
use segment::{LogSegment, RollReason};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The batches [`PartitionLog::read`] makes room for at once: a follower or consumer that keeps
/// up reads what was appended since its last fetch, a few batches. Growing from nothing instead
/// cost heavy.ron about 5,700 reallocations a simulated second.
const READ_ROOM_BATCHES: usize = 8;

/// `(epoch, start_offset)` pairs, increasing in both: the first offset written in each leader
/// epoch. Kafka keeps it in `leader-epoch-checkpoint` (apache/kafka:
/// storage/.../epoch/LeaderEpochFileCache.java) and uses it to find where two replicas' logs
/// diverge (KIP-101, KIP-279).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeaderEpochCache {
    entries: Vec<(i32, i64)>,
}

impl LeaderEpochCache {
    /// The entries, oldest first.
    pub fn entries(&self) -> &[(i32, i64)] {
        &self.entries
    }

    /// The newest epoch, if any.
    pub fn latest_epoch(&self) -> Option<i32> {
        self.entries.last().map(|e| e.0)
    }

    /// Records that `epoch` starts at `start_offset`. Skipped when `epoch` is already the
    /// latest and `start_offset` is not lower; otherwise entries with an epoch at or above
    /// `epoch`, or a start at or above `start_offset`, are dropped first (`assign`). Returns
    /// whether the entries changed (and the checkpoint must be rewritten).
    pub fn assign(&mut self, epoch: i32, start_offset: i64) -> bool {
        if let Some(&(latest, start)) = self.entries.last() {
            if latest == epoch && start_offset >= start {
                return false;
            }
        }
        while let Some(&(e, s)) = self.entries.last() {
            if e >= epoch || s >= start_offset {
                self.entries.pop();
            } else {
                break;
            }
        }
        self.entries.push((epoch, start_offset));
        true
    }

    /// Replaces the entries (loading `leader-epoch-checkpoint`).
    pub fn from_entries(entries: Vec<(i32, i64)>) -> LeaderEpochCache {
        LeaderEpochCache { entries }
    }

    /// Drops entries wholly below `offset` (the log start moved); the last of them is kept,
    /// moved to start at `offset`, since its epoch still covers the records from there
    /// (`truncateFromStart`). Returns whether the entries changed.
    pub fn truncate_from_start(&mut self, offset: i64) -> bool {
        let below = self.entries.partition_point(|&(_, start)| start <= offset);
        if below == 0 || (below == 1 && self.entries[0].1 == offset) {
            return false;
        }
        let (epoch, _) = self.entries[below - 1];
        self.entries.drain(..below);
        self.entries.insert(0, (epoch, offset));
        true
    }

    /// Drops entries that start at or after `offset` (log truncation to `offset`). Returns
    /// whether the entries changed.
    pub fn truncate_from_end(&mut self, offset: i64) -> bool {
        let before = self.entries.len();
        self.entries.retain(|&(_, start)| start < offset);
        self.entries.len() != before
    }

    /// Kafka's `endOffsetFor(requestedEpoch, logEndOffset)`: the largest epoch at or below the
    /// request and the offset where the epoch after it starts (or the LEO for the latest
    /// epoch). Returns `(-1, -1)` when the epoch is unknown or older than every entry's
    /// successor.
    pub fn end_offset_for(&self, requested: i32, log_end_offset: i64) -> (i32, i64) {
        if requested < 0 {
            return (-1, -1);
        }
        match self.latest_epoch() {
            None => (-1, -1),
            Some(latest) if latest == requested => (requested, log_end_offset),
            Some(_) => {
                let Some(higher) = self.entries.iter().position(|&(e, _)| e > requested) else {
                    return (-1, -1);
                };
                let next_start = self.entries[higher].1;
                if higher == 0 {
                    (requested, next_start)
                } else {
                    (self.entries[higher - 1].0, next_start)
                }
            }
        }
    }
}

/// Offsets a broker remembers for a log in its checkpoint files, used when loading it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Checkpoints {
    /// From `recovery-point-offset-checkpoint`: offsets below it were flushed.
    pub recovery_point: Option<i64>,
    /// From `log-start-offset-checkpoint`.
    pub log_start_offset: Option<i64>,
    /// From `replication-offset-checkpoint`.
    pub high_watermark: Option<i64>,
    /// From `cleaner-offset-checkpoint`: where the dirty section of a compacted log starts.
    pub cleaner_offset: Option<i64>,
}

/// One replica's copy of a partition.
#[derive(Clone, Debug)]
pub struct PartitionLog {
    tp: TopicPartition,
    dir: String,
    config: LogConfig,
    /// Oldest first; never empty: the last is the active segment.
    segments: Vec<LogSegment>,
    log_start_offset: i64,
    log_end_offset: i64,
    high_watermark: i64,
    recovery_point: i64,
    epochs: LeaderEpochCache,
    unflushed_messages: u64,
    last_flush_ms: i64,
    /// The cleaner's first dirty offset (`cleaner-offset-checkpoint`).
    first_dirty_offset: i64,
    /// Per producer id, the epoch and last batches (KIP-98), kept up to date by every append
    /// and rebuilt from the batches after recovery and truncation.
    producer_state: ProducerStateManager,
    disk: Vec<DiskOp>,
    events: Vec<Event>,
}

impl PartitionLog {
    /// The directory of a partition's files: `topic-partition`, as in Kafka's `log.dirs`.
    pub fn dir_name(tp: &TopicPartition) -> String {
        tp.to_string()
    }

    /// An empty log starting at offset 0 with one empty active segment, created at `now_ms`.
    pub fn new(tp: TopicPartition, config: LogConfig, now_ms: i64) -> PartitionLog {
        let dir = PartitionLog::dir_name(&tp);
        let mut log = PartitionLog {
            tp,
            dir,
            segments: vec![LogSegment::new(0, &config, now_ms)],
            config,
            log_start_offset: 0,
            log_end_offset: 0,
            high_watermark: 0,
            recovery_point: 0,
            epochs: LeaderEpochCache::default(),
            unflushed_messages: 0,
            last_flush_ms: now_ms,
            first_dirty_offset: 0,
            producer_state: ProducerStateManager::default(),
            disk: Vec::new(),
            events: Vec::new(),
        };
        log.create_files(0);
        log
    }

    fn create_files(&mut self, index: usize) {
        for path in self.segments[index].paths(&self.dir) {
            self.disk.push(DiskOp::Append { path: path.into(), bytes: SharedBytes::from(Vec::new()) });
        }
    }

    /// Rebuilds a log from the files of its directory (`files`: name inside the directory →
    /// bytes) after a restart, as Kafka's `LogLoader` does after an unclean shutdown:
    ///
    /// 1. Segments wholly below the recovery point were flushed: their batches are trusted and
    ///    their index files checked (and rewritten if wrong).
    /// 2. From the segment holding the recovery point on, every batch is validated (CRC, offsets
    ///    increasing); the first bad byte ends the log: the file is cut there (a torn write) and
    ///    later segments are deleted. Their indexes are rebuilt.
    /// 3. The leader-epoch cache is loaded from its checkpoint, fed the recovered batches' epochs
    ///    and cut to the new log end.
    /// 4. The log start offset and high watermark come from the broker's checkpoints, clamped
    ///    into the recovered log.
    ///
    /// Every file left on disk after a crash is durable, so the recovery point becomes the log
    /// end offset.
    pub fn load(
        tp: TopicPartition,
        config: LogConfig,
        files: &BTreeMap<String, Vec<u8>>,
        checkpoints: Checkpoints,
        now_ms: i64,
    ) -> PartitionLog {
        let mut log = PartitionLog::new(tp, config, now_ms);
        log.disk.clear();
        let bases: Vec<i64> = files.keys().filter_map(|f| segment::base_offset_of(f)).collect();
        if bases.is_empty() {
            log.create_files(0);
            return log;
        }
        let recovery_point = checkpoints.recovery_point.unwrap_or(0);
        let mut segments: Vec<LogSegment> = Vec::new();
        let mut truncated_bytes = 0u64;
        let mut rebuilt_indexes = 0usize;
        let mut deleted_segments = 0usize;
        let mut stop = false;
        for (i, &base) in bases.iter().enumerate() {
            let name = |ext: &str| segment::file_name(base, ext);
            let paths = segment::paths(&log.dir, base);
            if stop {
                // Kafka deletes the segments after a corrupt one: their offsets no longer
                // continue the log.
                deleted_segments += 1;
                for path in paths {
                    log.disk.push(DiskOp::Delete { path });
                }
                continue;
            }
            let bytes = &files[&name("log")];
            let next_base = bases.get(i + 1).copied().unwrap_or(i64::MAX);
            let flushed = next_base <= recovery_point;
            let (segment, leftover, rewrite_indexes) = if flushed {
                let (segment, bad_index) = LogSegment::load(
                    base,
                    bytes,
                    files.get(&name("index")).map(Vec::as_slice),
                    files.get(&name("timeindex")).map(Vec::as_slice),
                    &log.config,
                    now_ms,
                );
                (segment, 0, bad_index)
            } else {
                let (segment, leftover) = LogSegment::recover(base, bytes, &log.config, now_ms);
                (segment, leftover, true)
            };
            if leftover > 0 {
                truncated_bytes += leftover;
                log.disk.push(DiskOp::Truncate { path: paths[0].clone(), len_bytes: segment.size_bytes() });
                stop = true;
            }
            if rewrite_indexes {
                rebuilt_indexes += 1;
                segment.write_all_ops(&log.dir, None, &mut log.disk);
            }
            if let Some(prev) = segments.last() {
                if segment.base_offset() < prev.next_offset() {
                    panic!("{}: segment {} overlaps the one before it, ending at {}", log.tp, base, prev.next_offset());
                }
            }
            segments.push(segment);
        }
        log.segments = segments;
        log.log_end_offset = log.active().next_offset();
        log.recovery_point = log.log_end_offset;
        let first_base = log.segments[0].base_offset();
        log.log_start_offset = checkpoints.log_start_offset.unwrap_or(first_base).clamp(first_base, log.log_end_offset);
        if let Some(bytes) = files.get(checkpoint::LEADER_EPOCH_FILE) {
            if let Ok(entries) = checkpoint::decode_epochs(bytes) {
                log.epochs = LeaderEpochCache::from_entries(entries);
            }
        }
        let recovered: Vec<(i32, i64)> = log
            .segments
            .iter()
            .flat_map(|s| s.batches())
            .filter(|b| b.batch.next_offset() > recovery_point)
            .map(|b| (b.batch.partition_leader_epoch(), b.batch.base_offset()))
            .collect();
        let mut changed = false;
        for (epoch, base) in recovered {
            changed |= log.epochs.assign(epoch, base);
        }
        changed |= log.epochs.truncate_from_end(log.log_end_offset);
        changed |= log.epochs.truncate_from_start(log.log_start_offset);
        if changed {
            log.write_epoch_checkpoint();
        }
        log.high_watermark =
            checkpoints.high_watermark.unwrap_or(log.log_start_offset).clamp(log.log_start_offset, log.log_end_offset);
        log.first_dirty_offset =
            checkpoints.cleaner_offset.unwrap_or(log.log_start_offset).clamp(log.log_start_offset, log.log_end_offset);
        log.rebuild_producer_state();
        log.events.push(Event::LogRecovered {
            tp: log.tp.clone(),
            segments: log.segments.len(),
            log_start_offset: log.log_start_offset,
            log_end_offset: log.log_end_offset,
            high_watermark: log.high_watermark,
            truncated_bytes,
            deleted_segments,
            rebuilt_indexes,
        });
        log
    }

    /// The partition.
    pub fn tp(&self) -> &TopicPartition {
        &self.tp
    }

    /// The directory holding this log's files.
    pub fn dir(&self) -> &str {
        &self.dir
    }

    /// The log's configuration (broker defaults with the topic's overrides).
    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    /// Applies a new configuration (the topic's configs arrived with the metadata). Segments
    /// already written keep their indexes; new ones follow the new settings.
    pub fn set_config(&mut self, config: LogConfig) {
        self.config = config;
    }

    /// The segments, oldest first; the last is the active segment.
    pub fn segments(&self) -> &[LogSegment] {
        &self.segments
    }

    fn active(&self) -> &LogSegment {
        self.segments.last().expect("a log always has an active segment")
    }

    /// First offset still held.
    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset
    }

    /// The offset the next append will get (LEO).
    pub fn log_end_offset(&self) -> i64 {
        self.log_end_offset
    }

    /// Records below this offset are committed.
    pub fn high_watermark(&self) -> i64 {
        self.high_watermark
    }

    /// Offsets below this were flushed: a restart trusts them without validation.
    pub fn recovery_point(&self) -> i64 {
        self.recovery_point
    }

    /// Where the cleaner's next pass starts (the end of the last cleaned section).
    pub fn first_dirty_offset(&self) -> i64 {
        self.first_dirty_offset
    }

    /// The leader-epoch cache.
    pub fn epochs(&self) -> &LeaderEpochCache {
        &self.epochs
    }

    /// The producer state: per producer id, its epoch and last batches (KIP-98).
    pub fn producer_state(&self) -> &ProducerStateManager {
        &self.producer_state
    }

    /// The idempotent producer's checks on a client batch, before a leader appends it
    /// (`UnifiedLog.analyzeAndValidateProducerState`; the rules and errors are listed at
    /// [`ProducerStateManager::check_client_append`]). `unknown` is the era's rule for a
    /// producer id without state; KAFKA-15591's rule applies only while this log has never
    /// held a record (its log start and end offsets both 0: a log emptied by retention or
    /// `DeleteRecords` has moved its start). Appending updates the state; this only looks.
    pub fn analyze_producer_append(
        &self,
        batch: &RecordBatch,
        unknown: UnknownProducerRule,
    ) -> Result<ProducerAppendCheck, ErrorCode> {
        let unknown = match unknown {
            UnknownProducerRule::SequenceZeroOnNeverWritten
                if self.log_start_offset() != 0 || self.log_end_offset() != 0 =>
            {
                UnknownProducerRule::AnySequence
            }
            rule => rule,
        };
        self.producer_state.check_client_append(batch, unknown)
    }

    /// Replays the producer fields of the batches from the log start on. Kafka restores the
    /// state from its per-segment `.snapshot` files and replays only the batches after the
    /// latest one; kafkalab writes no snapshots and replays the whole log, which gives the same
    /// state as long as each producer still has a batch in the log (see
    /// [`producer_state`]).
    fn rebuild_producer_state(&mut self) {
        let start = self.log_start_offset;
        self.producer_state =
            ProducerStateManager::rebuild(self.batches().filter(|b| b.next_offset() > start).map(|b| &**b));
    }

    /// Total size of the segments, in bytes.
    pub fn size_bytes(&self) -> u64 {
        self.segments.iter().map(LogSegment::size_bytes).sum()
    }

    /// Every batch, oldest first.
    pub fn batches(&self) -> impl Iterator<Item = &Arc<RecordBatch>> + '_ {
        self.segments.iter().flat_map(|s| s.batches().iter().map(|b| &b.batch))
    }

    /// Epoch of the last batch, the follower's `lastFetchedEpoch`.
    pub fn last_batch_epoch(&self) -> Option<i32> {
        self.segments.iter().rev().find_map(|s| s.batches().last()).map(|b| b.batch.partition_leader_epoch())
    }

    /// The disk writes made since the last call, in order.
    pub fn take_disk_ops(&mut self) -> Vec<DiskOp> {
        std::mem::take(&mut self.disk)
    }

    /// The disk writes made since the last call, in order, drained so that the log keeps its
    /// buffer: the broker drains every written log after every input, and a buffer taken away
    /// had to grow anew at the next append.
    pub fn drain_disk_ops(&mut self) -> std::vec::Drain<'_, DiskOp> {
        self.disk.drain(..)
    }

    /// The events since the last call, in order, drained as [`PartitionLog::drain_disk_ops`]
    /// drains the disk writes.
    pub fn drain_events(&mut self) -> std::vec::Drain<'_, Event> {
        self.events.drain(..)
    }

    /// Whether there are disk operations or events to take: a cheap check for the broker,
    /// which drains every log after every input.
    pub fn has_output(&self) -> bool {
        !self.disk.is_empty() || !self.events.is_empty()
    }

    /// Whether there are events to take.
    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    /// The events since the last call, in order.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// Sets the high watermark, clamped to `[log_start_offset, log_end_offset]`. Callers apply
    /// Kafka's rules (leader: never lower; follower: min of the leader's and its own LEO).
    pub fn set_high_watermark(&mut self, high_watermark: i64) {
        self.high_watermark = high_watermark.clamp(self.log_start_offset, self.log_end_offset);
    }

    /// Leader append: assigns offsets from the LEO and stamps `leader_epoch` into the batch.
    /// Returns the appended batch (for the response and the followers).
    pub fn append_as_leader(&mut self, leader_epoch: i32, records: Vec<Record>, now_ms: i64) -> Arc<RecordBatch> {
        self.append_batch_as_leader(leader_epoch, RecordBatch::new(0, leader_epoch, now_ms, records), now_ms)
    }

    /// Leader append of a producer's batch (`UnifiedLog.appendAsLeader`): assigns offsets from
    /// the LEO, stamps `leader_epoch`, and keeps the producer id, epoch and base sequence the
    /// producer chose, and its base timestamp (the first record's create time, as Kafka keeps
    /// it under `message.timestamp.type=CreateTime`). Returns the appended batch, as stored.
    ///
    /// The codec follows the log's `compression.type` ([`LogConfig::compression_type`], Kafka's
    /// `LogValidator`): under `producer` the batch keeps the codec it was sent in; under a codec
    /// (`uncompressed`, `gzip`, `snappy`, `lz4`, `zstd`) a batch sent in another codec is
    /// decompressed and stored recompressed in the topic's, which changes its size on disk and
    /// is reported as [`Event::BatchRecompressed`]. Followers copy the batch as stored.
    pub fn append_batch_as_leader(
        &mut self,
        leader_epoch: i32,
        mut batch: RecordBatch,
        now_ms: i64,
    ) -> Arc<RecordBatch> {
        assert!(batch.record_count() > 0, "a batch holds at least one record");
        // A batch that arrives decoded (the group coordinator's own records, and tests') may
        // have had records changed after it was made: its last offset delta is taken from its
        // records again.
        if let Some(records) = batch.decoded_records() {
            let last_offset_delta = records.last().map_or(0, |r| r.offset_delta);
            batch.header_mut().last_offset_delta = last_offset_delta;
        }
        // The offsets and the epoch are stamped in place: a producer's batch arrives as bytes
        // (`RecordBatch::produced`) and keeps them, as Kafka's `LogValidator` assigns offsets
        // in an uncompressed batch without rewriting it.
        batch.stamp(self.log_end_offset, leader_epoch);
        let sent = batch.compression();
        let stored = self.config.compression_type.stored_codec(sent);
        // The producer's bytes differ from the stored ones only in the codec's block: the
        // stamped header fields have fixed widths.
        let sent_bytes = (stored != sent).then(|| batch.size_bytes() as u64);
        if stored != sent {
            batch.header_mut().compression = stored;
        }
        // Stored as its bytes alone (encoded here if it came decoded): followers and disks share
        // them (see `append`), and readers decode records from them when they read.
        let batch = Arc::new(batch.into_encoded_only());
        let bytes = batch.encoded();
        if let Some(sent_bytes) = sent_bytes {
            self.events.push(Event::BatchRecompressed {
                tp: self.tp.clone(),
                base_offset: batch.base_offset(),
                from: sent,
                to: stored,
                records: batch.record_count(),
                sent_bytes,
                stored_bytes: bytes.len() as u64,
            });
        }
        self.append_encoded(batch.clone(), bytes, now_ms);
        batch
    }

    /// Follower append of a batch copied from the leader. The batch may start past the LEO
    /// (the leader's cleaner removed whole batches), never before it: that would be an
    /// impossible state in the replication protocol, and panics.
    pub fn append_as_follower(&mut self, batch: Arc<RecordBatch>, now_ms: i64) {
        assert!(
            batch.base_offset() >= self.log_end_offset,
            "{}: follower append must continue the log (batch at {}, log end {})",
            self.tp,
            batch.base_offset(),
            self.log_end_offset
        );
        self.append(batch, now_ms);
    }

    fn append(&mut self, batch: Arc<RecordBatch>, now_ms: i64) {
        // The leader's append cached the batch's bytes in the batch a follower fetched, so the
        // follower shares them (one buffer for every replica's disk) instead of encoding again.
        let bytes = batch.encoded();
        self.append_encoded(batch, bytes, now_ms);
    }

    /// Appends `batch`, whose encoding is `bytes`, at the end of the active segment (rolling
    /// first if due), and flushes when `flush.messages` is reached.
    fn append_encoded(&mut self, batch: Arc<RecordBatch>, bytes: SharedBytes, now_ms: i64) {
        if let Some(reason) = self.active().should_roll(&self.config, bytes.len() as u64, batch.last_offset(), now_ms) {
            self.roll(reason, now_ms);
        }
        if self.epochs.assign(batch.partition_leader_epoch(), batch.base_offset()) {
            self.write_epoch_checkpoint();
        }
        self.log_end_offset = batch.next_offset();
        self.producer_state.update(&batch);
        self.unflushed_messages += batch.record_count() as u64;
        let active = self.segments.last_mut().expect("a log always has an active segment");
        active.append(&self.dir, batch, bytes, &mut self.disk);
        if self.unflushed_messages >= self.config.flush_messages {
            self.flush(self.log_end_offset, now_ms);
        }
    }

    /// Starts a new active segment at the LEO and flushes the old one (Kafka schedules that
    /// flush at once after a roll, so rolled segments are durable).
    pub fn roll(&mut self, reason: RollReason, now_ms: i64) {
        let base = self.log_end_offset;
        if self.active().base_offset() == base && self.active().batches().is_empty() {
            return;
        }
        self.segments.push(LogSegment::new(base, &self.config, now_ms));
        self.create_files(self.segments.len() - 1);
        self.events.push(Event::SegmentRolled {
            tp: self.tp.clone(),
            base_offset: base,
            reason: reason.describe().to_string(),
        });
        self.flush(base, now_ms);
    }

    /// Flushes every segment holding offsets below `offset` that is not flushed yet, and moves
    /// the recovery point there (`UnifiedLog.flush`).
    pub fn flush(&mut self, offset: i64, now_ms: i64) {
        let offset = offset.min(self.log_end_offset);
        if offset <= self.recovery_point {
            return;
        }
        for s in &self.segments {
            if s.next_offset() > self.recovery_point && s.base_offset() < offset {
                for path in s.paths(&self.dir) {
                    self.disk.push(DiskOp::Flush { path });
                }
            }
        }
        self.recovery_point = offset;
        if offset == self.log_end_offset {
            self.unflushed_messages = 0;
        }
        self.last_flush_ms = now_ms;
        self.events.push(Event::LogFlushed { tp: self.tp.clone(), recovery_point: offset });
    }

    /// The log flusher's check (every `log.flush.scheduler.interval.ms`): flushes when
    /// `flush.ms` has passed since the last flush and something is unflushed.
    pub fn flush_if_due(&mut self, now_ms: i64) {
        let since = now_ms.saturating_sub(self.last_flush_ms).max(0) as u64;
        if self.recovery_point < self.log_end_offset && since >= self.config.flush_ms {
            self.flush(self.log_end_offset, now_ms);
        }
    }

    /// Records that a newly elected leader's epoch starts at its LEO (Kafka does this at
    /// election, before the first append, so followers can be answered at once).
    pub fn assign_epoch_start(&mut self, leader_epoch: i32) {
        if self.epochs.assign(leader_epoch, self.log_end_offset) {
            self.write_epoch_checkpoint();
        }
    }

    fn write_epoch_checkpoint(&mut self) {
        self.disk.push(DiskOp::WriteAtomically {
            path: format!("{}/{}", self.dir, checkpoint::LEADER_EPOCH_FILE),
            bytes: checkpoint::encode_epochs(self.epochs.entries()),
        });
    }

    /// Removes every record at or above `offset` (truncation on divergence). Whole batches are
    /// dropped; a batch that straddles `offset` is dropped too, which is what Kafka does since
    /// batches are the unit of replication. Segments starting at or above the new end are
    /// deleted. Returns the new LEO.
    pub fn truncate_to(&mut self, offset: i64, now_ms: i64) -> i64 {
        if offset >= self.log_end_offset {
            return self.log_end_offset;
        }
        if offset <= self.log_start_offset {
            let start = self.log_start_offset;
            self.truncate_fully_and_start_at(start, now_ms);
            return self.log_end_offset;
        }
        while self.segments.len() > 1 && self.active().base_offset() >= offset {
            let gone = self.segments.pop().expect("more than one segment");
            for path in gone.paths(&self.dir) {
                self.disk.push(DiskOp::Delete { path });
            }
        }
        let dir = self.dir.clone();
        let active = self.segments.last_mut().expect("a log always has an active segment");
        active.truncate_to(&dir, offset, &mut self.disk);
        self.log_end_offset = active.next_offset();
        self.after_truncation();
        self.log_end_offset
    }

    fn after_truncation(&mut self) {
        if self.epochs.truncate_from_end(self.log_end_offset) {
            self.write_epoch_checkpoint();
        }
        self.rebuild_producer_state();
        self.high_watermark = self.high_watermark.min(self.log_end_offset);
        self.recovery_point = self.recovery_point.min(self.log_end_offset);
        self.first_dirty_offset = self.first_dirty_offset.min(self.log_end_offset);
    }

    /// Deletes every segment and starts an empty log at `offset` (`truncateFullyAndStartAt`):
    /// what a follower does when the leader no longer holds the offsets it needs.
    pub fn truncate_fully_and_start_at(&mut self, offset: i64, now_ms: i64) {
        for s in std::mem::take(&mut self.segments) {
            for path in s.paths(&self.dir) {
                self.disk.push(DiskOp::Delete { path });
            }
        }
        self.segments.push(LogSegment::new(offset, &self.config, now_ms));
        self.create_files(0);
        self.log_start_offset = offset;
        self.log_end_offset = offset;
        self.high_watermark = offset;
        self.recovery_point = offset;
        self.first_dirty_offset = offset;
        self.unflushed_messages = 0;
        self.producer_state = ProducerStateManager::default();
        if !self.epochs.entries().is_empty() {
            self.epochs = LeaderEpochCache::default();
            self.write_epoch_checkpoint();
        }
    }

    /// Moves the log start offset forward (a follower learning the leader's, or retention),
    /// never past the high watermark, and deletes segments wholly below it. Returns whether it
    /// moved.
    pub fn maybe_increment_log_start_offset(&mut self, offset: i64) -> bool {
        let offset = offset.min(self.high_watermark);
        if offset <= self.log_start_offset {
            return false;
        }
        self.log_start_offset = offset;
        self.first_dirty_offset = self.first_dirty_offset.max(offset);
        if self.epochs.truncate_from_start(offset) {
            self.write_epoch_checkpoint();
        }
        true
    }

    /// Kafka's retention pass (`UnifiedLog.deleteOldSegments`), run every
    /// `log.retention.check.interval.ms`: deletes whole segments, oldest first, that are below
    /// the log start offset, or (for `cleanup.policy` with `delete`) past `retention.bytes` or
    /// older than `retention.ms`. It stops at the first segment that must stay, never deletes a
    /// segment holding offsets at or above the high watermark, and rolls first when every
    /// segment would go. Returns the number of segments deleted.
    pub fn delete_old_segments(&mut self, now_ms: i64) -> usize {
        let mut deleted = self.delete_segments_while(now_ms, "below the log start offset", |log, i| {
            log.segment_upper_bound(i) <= log.log_start_offset
        });
        if self.config.deletes() {
            if self.config.retention_bytes >= 0 {
                let mut excess = self.size_bytes() as i64 - self.config.retention_bytes;
                deleted += self.delete_segments_while(now_ms, "retention.bytes", |log, i| {
                    let size = log.segments[i].size_bytes() as i64;
                    if excess - size >= 0 {
                        excess -= size;
                        true
                    } else {
                        false
                    }
                });
            }
            if self.config.retention_ms >= 0 {
                let retention_ms = self.config.retention_ms;
                deleted += self.delete_segments_while(now_ms, "retention.ms", |log, i| {
                    now_ms - log.segments[i].largest_timestamp_ms() > retention_ms
                });
            }
        }
        deleted
    }

    fn segment_upper_bound(&self, i: usize) -> i64 {
        self.segments.get(i + 1).map_or(self.log_end_offset, LogSegment::base_offset)
    }

    /// Deletes segments from the oldest while `predicate` holds and the segment is wholly
    /// below the high watermark (`deletableSegments`).
    fn delete_segments_while(
        &mut self,
        now_ms: i64,
        reason: &str,
        mut predicate: impl FnMut(&PartitionLog, usize) -> bool,
    ) -> usize {
        let mut count = 0;
        while count < self.segments.len() {
            let i = count;
            let is_last = i + 1 == self.segments.len();
            if is_last && self.segments[i].size_bytes() == 0 {
                break;
            }
            if self.segment_upper_bound(i) > self.high_watermark || !predicate(self, i) {
                break;
            }
            count += 1;
        }
        if count == 0 {
            return 0;
        }
        if count == self.segments.len() {
            self.roll(RollReason::Retention, now_ms);
        }
        let gone: Vec<LogSegment> = self.segments.drain(..count).collect();
        let base_offsets: Vec<i64> = gone.iter().map(LogSegment::base_offset).collect();
        for s in &gone {
            for path in s.paths(&self.dir) {
                self.disk.push(DiskOp::Delete { path });
            }
        }
        let new_start = self.segments[0].base_offset().max(self.log_start_offset);
        self.maybe_increment_log_start_offset(new_start);
        self.events.push(Event::SegmentsDeleted {
            tp: self.tp.clone(),
            base_offsets,
            reason: reason.to_string(),
            log_start_offset: self.log_start_offset,
        });
        count
    }

    /// Batches holding offsets in `[from, to)`, starting with the one that contains `from` (or
    /// the first after it, when compaction removed `from`), stopping once `max_bytes` is
    /// reached. At least one batch is returned when any is in range, as Kafka does so a large
    /// batch cannot block a reader. Lookups go through each segment's offset index.
    pub fn read(&self, from: i64, to: i64, max_bytes: usize) -> Vec<Arc<RecordBatch>> {
        if from >= to {
            return Vec::new();
        }
        // Room for the batches a fetch that keeps up finds (what was appended since the last
        // one), made once; a catch-up read grows it.
        let mut out = Vec::with_capacity(READ_ROOM_BATCHES);
        let first = self.segments.partition_point(|s| s.base_offset() <= from).saturating_sub(1);
        let mut bytes = 0usize;
        let mut position = (first, self.segments[first].find_batch(from));
        loop {
            let (si, bi) = position;
            let Some(segment) = self.segments.get(si) else { break };
            let Some(bi) = bi else {
                position = (si + 1, Some(0));
                continue;
            };
            let Some(stored) = segment.batches().try_get(bi) else {
                position = (si + 1, Some(0));
                continue;
            };
            if stored.batch.next_offset() > to {
                break;
            }
            bytes += stored.size_bytes as usize;
            out.push(stored.batch.clone());
            if bytes >= max_bytes {
                break;
            }
            position = (si, Some(bi + 1));
        }
        out
    }

    /// The record stored at `offset`, if one is there (compaction and retention leave gaps),
    /// decoded from its batch.
    pub fn record_at(&self, offset: i64) -> Option<Record> {
        let si = self.segments.partition_point(|s| s.base_offset() <= offset).checked_sub(1)?;
        let segment = &self.segments[si];
        let bi = segment.find_batch(offset)?;
        let batch = &segment.batches()[bi].batch;
        let index = batch.record_offsets().position(|o| o == offset)?;
        Some(batch.records()[index].clone())
    }

    /// `ListOffsets` by time: the first offset at or after the log start whose record has a
    /// timestamp at or above `timestamp_ms`, with that timestamp, looked up through the time
    /// indexes (`UnifiedLog.fetchOffsetByTimestamp`). `None` when every record is older.
    pub fn offset_for_timestamp(&self, timestamp_ms: i64) -> Option<(i64, i64)> {
        self.segments
            .iter()
            .filter(|s| s.next_offset() > self.log_start_offset)
            .find_map(|s| s.find_offset_by_timestamp(timestamp_ms, self.log_start_offset))
    }
}
