//! Log compaction for `cleanup.policy=compact`: keep the latest record per key, drop the older
//! ones, and drop tombstones once they have been visible for `delete.retention.ms` (apache/kafka:
//! core/src/main/scala/kafka/log/LogCleaner.scala and LogCleanerManager.scala).
//!
//! A pass works like Kafka's cleaner thread on one log:
//!
//! 1. The **dirty section** is `[first_dirty, first_uncleanable)`: from the cleaner checkpoint
//!    to the smallest of the high watermark (the last stable offset, with no transactions),
//!    the active segment's base offset and the base of the first segment newer than
//!    `min.compaction.lag.ms`.
//! 2. A map from key to latest offset is built over the dirty section.
//! 3. Segments from the log start to the end of the dirty section are rewritten in groups no
//!    larger than `segment.bytes` (so small segments merge), keeping a record only when it is
//!    past the map, or the newest copy of its key, and not a tombstone past its horizon.
//!    Offsets never change: batches keep their base and last offsets, and gaps appear.
//! 4. The checkpoint moves to the end of the dirty section.

use super::segment::LogSegment;
use super::PartitionLog;
use crate::event::Event;
use crate::key::Key;
use crate::node::DiskOp;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Why a log is due for cleaning, if it is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CleaningNeed {
    /// The dirty ratio passed `min.cleanable.dirty.ratio`.
    DirtyRatio(f64),
    /// Dirty data is older than `max.compaction.lag.ms`.
    MaxCompactionLag,
    /// Some batch's tombstone horizon has passed (KIP-534), so a pass can drop tombstones.
    TombstonesExpired,
}

/// What a cleaning pass did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CleanStats {
    /// Start of the dirty section that was cleaned.
    pub first_dirty_offset: i64,
    /// End of the dirty section: the new cleaner checkpoint.
    pub end_offset: i64,
    /// Records in the rewritten segments before and after.
    pub records: (usize, usize),
    /// Bytes of the rewritten segments before and after.
    pub bytes: (u64, u64),
    /// Segments before and after the rewrite.
    pub segments: (usize, usize),
}

impl PartitionLog {
    /// The dirty section `[first_dirty, first_uncleanable)` at `now_ms`
    /// (`LogCleanerManager.cleanableOffsets`).
    pub fn cleanable_range(&self, now_ms: i64) -> (i64, i64) {
        let first_dirty = self.first_dirty_offset.max(self.log_start_offset);
        let mut first_uncleanable = self.high_watermark.min(self.active().base_offset());
        if self.config.min_compaction_lag_ms > 0 {
            let horizon = now_ms.saturating_sub(self.config.min_compaction_lag_ms.min(i64::MAX as u64) as i64);
            if let Some(s) =
                self.segments.iter().find(|s| s.next_offset() > first_dirty && s.largest_timestamp_ms() > horizon)
            {
                first_uncleanable = first_uncleanable.min(s.base_offset());
            }
        }
        (first_dirty, first_uncleanable.max(first_dirty))
    }

    /// `dirty_bytes / (clean_bytes + dirty_bytes)` over whole segments, as Kafka's
    /// `LogToClean.cleanableRatio` computes it; 0 for an empty log.
    pub fn dirty_ratio(&self, now_ms: i64) -> f64 {
        let (first_dirty, first_uncleanable) = self.cleanable_range(now_ms);
        let overlapping = |from: i64, to: i64| -> u64 {
            self.segments
                .iter()
                .enumerate()
                .filter(|(i, s)| s.base_offset() < to && self.segment_upper_bound(*i) > from)
                .map(|(_, s)| s.size_bytes())
                .sum()
        };
        let clean = overlapping(self.log_start_offset, first_dirty);
        let dirty = if first_uncleanable > first_dirty { overlapping(first_dirty, first_uncleanable) } else { 0 };
        if clean + dirty == 0 {
            0.0
        } else {
            dirty as f64 / (clean + dirty) as f64
        }
    }

    /// Whether the cleaner should pick this log now, and why (`grabFilthiestCompactedLog`).
    pub fn cleaning_need(&self, now_ms: i64) -> Option<CleaningNeed> {
        if !self.config.is_compacted() {
            return None;
        }
        let (first_dirty, first_uncleanable) = self.cleanable_range(now_ms);
        if first_uncleanable > first_dirty {
            let ratio = self.dirty_ratio(now_ms);
            if ratio > self.config.min_cleanable_dirty_ratio {
                return Some(CleaningNeed::DirtyRatio(ratio));
            }
            let first_dirty_timestamp =
                self.batches().find(|b| b.last_offset() >= first_dirty).map(|b| b.first_timestamp_ms());
            if let Some(ts) = first_dirty_timestamp {
                if now_ms.saturating_sub(ts).max(0) as u64 > self.config.max_compaction_lag_ms {
                    return Some(CleaningNeed::MaxCompactionLag);
                }
            }
        }
        let horizon_passed = self.batches().filter(|b| b.next_offset() <= first_uncleanable).any(|b| {
            b.delete_horizon_ms().is_some_and(|h| h <= now_ms) && b.records().iter().any(|r| r.value.is_none())
        });
        horizon_passed.then_some(CleaningNeed::TombstonesExpired)
    }

    /// Runs one cleaning pass if [`PartitionLog::cleaning_need`] says so. Returns what it did.
    pub fn clean_if_needed(&mut self, now_ms: i64) -> Option<CleanStats> {
        self.cleaning_need(now_ms)?;
        Some(self.clean(now_ms))
    }

    /// One cleaning pass over `[log_start, first_uncleanable)` (`LogCleaner.doClean`).
    pub fn clean(&mut self, now_ms: i64) -> CleanStats {
        let (first_dirty, end_offset) = self.cleanable_range(now_ms);
        // Key → latest offset over the dirty section (Kafka's `SkimpyOffsetMap`, without its
        // size limit: the whole dirty section fits).
        let mut latest: BTreeMap<Key, i64> = BTreeMap::new();
        for batch in self.batches() {
            for record in batch.records().iter() {
                let offset = batch.offset_of(record);
                if offset >= first_dirty && offset < end_offset {
                    if let Some(key) = &record.key {
                        latest.insert(key.clone(), offset);
                    }
                }
            }
        }
        // Segments to rewrite: from the log start up to the end of the dirty section, never the
        // active one.
        let count =
            self.segments.iter().take(self.segments.len() - 1).take_while(|s| s.base_offset() < end_offset).count();
        let old: Vec<LogSegment> = self.segments.drain(..count).collect();
        let before_records: usize = old.iter().flat_map(|s| s.batches()).map(|b| b.batch.record_count()).sum();
        let before_bytes: u64 = old.iter().map(LogSegment::size_bytes).sum();
        let last_batch_of_round = old
            .iter()
            .flat_map(|s| s.batches())
            .filter(|b| b.batch.base_offset() < end_offset)
            .map(|b| b.batch.base_offset())
            .max();
        let retention_ms = self.config.delete_retention_ms.min(i64::MAX as u64) as i64;
        let mut groups: Vec<Vec<&LogSegment>> = Vec::new();
        let mut group_bytes = 0u64;
        for segment in &old {
            let fits = groups.last().is_some_and(|g: &Vec<&LogSegment>| {
                group_bytes + segment.size_bytes() <= self.config.segment_bytes
                    && segment.next_offset() - g[0].base_offset() <= i64::from(i32::MAX)
            });
            if fits {
                groups.last_mut().expect("checked").push(segment);
                group_bytes += segment.size_bytes();
            } else {
                groups.push(vec![segment]);
                group_bytes = segment.size_bytes();
            }
        }
        let mut cleaned: Vec<LogSegment> = Vec::new();
        for group in &groups {
            let base = group[0].base_offset();
            let mut kept_batches = Vec::new();
            for stored in group.iter().flat_map(|s| s.batches()) {
                let batch = &stored.batch;
                let records: Vec<_> = batch
                    .records()
                    .iter()
                    .filter(|r| {
                        let offset = batch.offset_of(r);
                        // Past the dirty section (beyond the key map): not this pass's business.
                        if offset >= end_offset {
                            return true;
                        }
                        let Some(key) = &r.key else { return false };
                        let newest = latest.get(key).is_none_or(|&l| offset >= l);
                        let tombstone_alive = batch.delete_horizon_ms().is_none_or(|h| now_ms < h);
                        newest && (r.value.is_some() || tombstone_alive)
                    })
                    .cloned()
                    .collect();
                let keep_empty = Some(batch.base_offset()) == last_batch_of_round;
                if records.is_empty() && !keep_empty {
                    continue;
                }
                let has_tombstones = records.iter().any(|r| r.value.is_none());
                let unchanged = records.len() == batch.record_count();
                let stamp = has_tombstones && batch.delete_horizon_ms().is_none();
                if unchanged && !stamp {
                    kept_batches.push(batch.clone());
                } else {
                    let mut rewritten = batch.with_records(records);
                    if stamp {
                        rewritten.header_mut().delete_horizon_ms = Some(now_ms.saturating_add(retention_ms));
                    }
                    if let Some(horizon) = rewritten.delete_horizon_ms() {
                        // Format v2 keeps the horizon in the header's base timestamp (KIP-534),
                        // so a batch with one reads back with its first record's timestamp as
                        // its first: set it so, so that the batch equals its own bytes.
                        let first = rewritten.records().first().map_or(horizon, |r| r.timestamp_ms);
                        rewritten.header_mut().first_timestamp_ms = first;
                    }
                    kept_batches.push(Arc::new(rewritten));
                }
            }
            let created = group[0].rolling_based_timestamp_ms();
            let (segment, bytes) = LogSegment::from_batches(base, kept_batches, &self.config, created);
            // The cleaned segment replaces the group under the first segment's name; the
            // others' files go (Kafka's `.cleaned` → `.swap` → rename dance, made atomic).
            segment.write_all_ops(&self.dir, Some(bytes), &mut self.disk);
            for gone in &group[1..] {
                for path in gone.paths(&self.dir) {
                    self.disk.push(DiskOp::Delete { path });
                }
            }
            cleaned.push(segment);
        }
        let after_records: usize = cleaned.iter().flat_map(|s| s.batches()).map(|b| b.batch.record_count()).sum();
        let after_bytes: u64 = cleaned.iter().map(LogSegment::size_bytes).sum();
        let stats = CleanStats {
            first_dirty_offset: first_dirty,
            end_offset,
            records: (before_records, after_records),
            bytes: (before_bytes, after_bytes),
            segments: (old.len(), cleaned.len()),
        };
        cleaned.append(&mut self.segments);
        self.segments = cleaned;
        self.first_dirty_offset = end_offset;
        self.events.push(Event::LogCleaned {
            tp: self.tp.clone(),
            first_dirty_offset: first_dirty,
            end_offset,
            records_before: before_records,
            records_after: after_records,
            bytes_before: before_bytes,
            bytes_after: after_bytes,
            segments_before: old.len(),
            segments_after: stats.segments.1,
        });
        stats
    }
}
