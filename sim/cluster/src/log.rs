//! A partition's log: batches at increasing offsets, the log start and end offsets, the high
//! watermark, and the leader-epoch cache.
//!
//! This is the walking skeleton's log: one in-memory sequence of batches per replica. Segments,
//! indexes, retention and compaction arrive with the storage work; the offsets and the rules
//! below do not change when they do.

use crate::record::{Record, RecordBatch};
use std::sync::Arc;

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
    /// `epoch`, or a start at or above `start_offset`, are dropped first (`assign`).
    pub fn assign(&mut self, epoch: i32, start_offset: i64) {
        if let Some(&(latest, start)) = self.entries.last() {
            if latest == epoch && start_offset >= start {
                return;
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
    }

    /// Drops entries that start at or after `offset` (log truncation to `offset`).
    pub fn truncate_from_end(&mut self, offset: i64) {
        self.entries.retain(|&(_, start)| start < offset);
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

/// One replica's copy of a partition.
#[derive(Clone, Debug, Default)]
pub struct PartitionLog {
    batches: Vec<Arc<RecordBatch>>,
    log_start_offset: i64,
    log_end_offset: i64,
    high_watermark: i64,
    epochs: LeaderEpochCache,
}

impl PartitionLog {
    /// An empty log starting at offset 0.
    pub fn new() -> PartitionLog {
        PartitionLog::default()
    }

    /// Rebuilds a log from batches read back from disk (log recovery). The epoch cache is
    /// rebuilt from each batch's `partition_leader_epoch`, as Kafka does when its checkpoint
    /// file is missing. The high watermark restarts at the log start offset; it is learned
    /// again from the leader (followers) or from followers' fetches (leaders).
    pub fn recover(batches: Vec<RecordBatch>) -> PartitionLog {
        let mut log = PartitionLog::new();
        for batch in batches {
            if batch.base_offset != log.log_end_offset {
                // A gap means the rest of the file is not a continuation of this log; recovery
                // stops at the last good batch, as Kafka's does at a corrupt one.
                break;
            }
            log.push(Arc::new(batch));
        }
        log
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

    /// The leader-epoch cache.
    pub fn epochs(&self) -> &LeaderEpochCache {
        &self.epochs
    }

    /// The batches, oldest first.
    pub fn batches(&self) -> &[Arc<RecordBatch>] {
        &self.batches
    }

    /// Epoch of the last batch, the follower's `lastFetchedEpoch`.
    pub fn last_batch_epoch(&self) -> Option<i32> {
        self.batches.last().map(|b| b.partition_leader_epoch)
    }

    /// Sets the high watermark, clamped to `[log_start_offset, log_end_offset]`. Callers apply
    /// Kafka's rules (leader: never lower; follower: min of the leader's and its own LEO).
    pub fn set_high_watermark(&mut self, high_watermark: i64) {
        self.high_watermark = high_watermark.clamp(self.log_start_offset, self.log_end_offset);
    }

    /// Leader append: assigns offsets from the LEO and stamps `leader_epoch` into the batch.
    /// Returns the appended batch (for the disk and the response).
    pub fn append_as_leader(
        &mut self,
        leader_epoch: i32,
        records: Vec<Record>,
        first_timestamp_ms: i64,
    ) -> Arc<RecordBatch> {
        assert!(!records.is_empty(), "a batch holds at least one record");
        let batch = Arc::new(RecordBatch {
            base_offset: self.log_end_offset,
            partition_leader_epoch: leader_epoch,
            producer_id: crate::record::NO_PRODUCER_ID,
            producer_epoch: -1,
            base_sequence: crate::record::NO_SEQUENCE,
            first_timestamp_ms,
            is_control: false,
            records,
        });
        self.push(batch.clone());
        batch
    }

    /// Follower append of a batch copied from the leader. The batch must start at the LEO;
    /// anything else is an impossible state in the replication protocol and panics.
    pub fn append_as_follower(&mut self, batch: Arc<RecordBatch>) {
        assert_eq!(
            batch.base_offset, self.log_end_offset,
            "follower append must continue the log (batch at {}, log end {})",
            batch.base_offset, self.log_end_offset
        );
        self.push(batch);
    }

    fn push(&mut self, batch: Arc<RecordBatch>) {
        self.epochs.assign(batch.partition_leader_epoch, batch.base_offset);
        self.log_end_offset = batch.next_offset();
        self.batches.push(batch);
    }

    /// Records that a newly elected leader's epoch starts at its LEO (Kafka does this at
    /// election, before the first append, so followers can be answered at once).
    pub fn assign_epoch_start(&mut self, leader_epoch: i32) {
        self.epochs.assign(leader_epoch, self.log_end_offset);
    }

    /// Removes every record at or above `offset` (truncation on divergence). Whole batches are
    /// dropped; a batch that straddles `offset` is dropped too, which is what Kafka does since
    /// batches are the unit of replication. Returns the new LEO.
    pub fn truncate_to(&mut self, offset: i64) -> i64 {
        while let Some(last) = self.batches.last() {
            if last.next_offset() > offset {
                self.batches.pop();
            } else {
                break;
            }
        }
        self.log_end_offset = self.batches.last().map_or(self.log_start_offset, |b| b.next_offset());
        self.epochs.truncate_from_end(self.log_end_offset);
        self.high_watermark = self.high_watermark.min(self.log_end_offset);
        self.log_end_offset
    }

    /// Batches holding offsets in `[from, to)`, starting with the one that contains `from`,
    /// stopping once `max_bytes` is reached (at least one batch is returned when any is in
    /// range, as Kafka does so a large batch cannot block a reader).
    pub fn read(&self, from: i64, to: i64, max_bytes: usize) -> Vec<Arc<RecordBatch>> {
        if from >= to {
            return Vec::new();
        }
        let start = self.batches.partition_point(|b| b.next_offset() <= from);
        let mut out = Vec::new();
        let mut bytes = 0;
        for batch in &self.batches[start..] {
            if batch.base_offset >= to || batch.next_offset() > to {
                break;
            }
            bytes += 16 + batch.records.len() * 24;
            out.push(batch.clone());
            if bytes >= max_bytes {
                break;
            }
        }
        out
    }

    /// The value stored at `offset`, if a record is there.
    pub fn record_at(&self, offset: i64) -> Option<&Record> {
        let index = self.batches.partition_point(|b| b.next_offset() <= offset);
        let batch = self.batches.get(index)?;
        batch.records.iter().find(|r| batch.base_offset + i64::from(r.offset_delta) == offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rec(v: &str) -> Record {
        Record { offset_delta: 0, timestamp_ms: 0, key: None, value: Some(Arc::from(v)), headers: Vec::new() }
    }

    #[test]
    fn epoch_cache_lookup_matches_kafkas_examples() {
        // The reference's invented check: cache [(0,0),(2,40),(5,90)], LEO 120.
        let mut cache = LeaderEpochCache::default();
        cache.assign(0, 0);
        cache.assign(2, 40);
        cache.assign(5, 90);
        assert_eq!(cache.end_offset_for(5, 120), (5, 120));
        assert_eq!(cache.end_offset_for(3, 120), (2, 90));
        assert_eq!(cache.end_offset_for(2, 120), (2, 90));
        assert_eq!(cache.end_offset_for(1, 120), (0, 40));
        assert_eq!(cache.end_offset_for(7, 120), (-1, -1));
        let mut other = LeaderEpochCache::default();
        other.assign(4, 200);
        other.assign(6, 260);
        assert_eq!(other.end_offset_for(2, 300), (2, 200));
    }

    #[test]
    fn assigning_an_older_epoch_drops_newer_entries() {
        let mut cache = LeaderEpochCache::default();
        cache.assign(1, 0);
        cache.assign(3, 10);
        cache.assign(2, 5);
        assert_eq!(cache.entries(), &[(1, 0), (2, 5)]);
        cache.assign(2, 8); // same epoch, later start: ignored
        assert_eq!(cache.entries(), &[(1, 0), (2, 5)]);
    }

    #[test]
    fn truncation_drops_records_and_epochs_and_clamps_the_high_watermark() {
        let mut log = PartitionLog::new();
        log.append_as_leader(0, vec![rec("a")], 0);
        log.append_as_leader(0, vec![rec("b")], 0);
        log.append_as_leader(1, vec![rec("c")], 0);
        log.set_high_watermark(3);
        assert_eq!(log.truncate_to(1), 1);
        assert_eq!(log.high_watermark(), 1);
        assert_eq!(log.epochs().entries(), &[(0, 0)]);
        assert_eq!(log.record_at(0).and_then(|r| r.value.as_deref()), Some("a"));
        assert!(log.record_at(1).is_none());
    }

    proptest! {
        /// The log behaves like a `Vec` of values: appends get consecutive offsets, reads
        /// return exactly the appended values, truncation cuts the tail.
        #[test]
        fn log_matches_a_vec_model(values in proptest::collection::vec("[a-z]{1,4}", 1..40), cut in 0usize..40, from in 0usize..40) {
            let mut log = PartitionLog::new();
            let mut model: Vec<String> = Vec::new();
            for (i, v) in values.iter().enumerate() {
                let batch = log.append_as_leader((i / 7) as i32, vec![rec(v)], 0);
                prop_assert_eq!(batch.base_offset, model.len() as i64);
                model.push(v.clone());
            }
            let cut = cut.min(model.len());
            log.truncate_to(cut as i64);
            model.truncate(cut);
            prop_assert_eq!(log.log_end_offset(), model.len() as i64);
            let read: Vec<String> = log
                .read(from as i64, log.log_end_offset(), usize::MAX)
                .iter()
                .flat_map(|b| b.records.iter().map(|r| r.value.as_deref().unwrap().to_string()))
                .collect();
            let expected: Vec<String> = model.iter().skip(from).cloned().collect();
            prop_assert_eq!(read, expected);
        }
    }
}
