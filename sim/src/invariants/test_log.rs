//! A hand-built replica log for the checkers' unit tests: batches in a vector and offsets set by
//! hand, so a test can build states the real log never would (the violations).

use super::LogRead;
use cluster::record::{Record, RecordBatch};
use std::sync::Arc;

/// A log the test edits directly.
#[derive(Clone, Debug, Default)]
pub struct TestLog {
    pub batches: Vec<Arc<RecordBatch>>,
    pub log_start_offset: i64,
    pub high_watermark: i64,
    pub log_end_offset: i64,
    pub first_dirty_offset: i64,
    pub compacted: bool,
    pub delete_retention_ms: u64,
    pub epochs: Vec<(i32, i64)>,
}

/// A record with `key` and `value` (`None`: a tombstone); `TestLog::append` numbers it.
pub fn record(key: &str, value: Option<&str>) -> Record {
    Record {
        offset_delta: 0,
        timestamp_ms: 0,
        key: Some(cluster::key::Key::from(key)),
        value: value.map(Arc::from),
        headers: Default::default(),
    }
}

impl TestLog {
    /// Appends `records` as one batch of `leader_epoch` at the log end, as a leader does: the
    /// batch is stored as its bytes alone ([`RecordBatch::into_encoded_only`]), as the
    /// cluster's log stores it.
    pub fn append(&mut self, leader_epoch: i32, mut records: Vec<Record>) {
        for (i, r) in records.iter_mut().enumerate() {
            r.offset_delta = i as i32;
        }
        let batch = RecordBatch::new(self.log_end_offset, leader_epoch, 0, records);
        if self.epochs.last().is_none_or(|&(e, _)| e < leader_epoch) {
            self.epochs.push((leader_epoch, self.log_end_offset));
        }
        self.log_end_offset = batch.next_offset();
        self.batches.push(Arc::new(batch.into_encoded_only()));
    }

    /// Appends a copy of another log's batch, as a follower does.
    pub fn push(&mut self, batch: Arc<RecordBatch>) {
        self.log_end_offset = self.log_end_offset.max(batch.next_offset());
        self.batches.push(batch);
    }

    /// Removes the record at `offset` as the cleaner does: the batch keeps its offset range,
    /// and goes when it is left empty.
    pub fn remove_record(&mut self, offset: i64) {
        for slot in &mut self.batches {
            if slot.base_offset() <= offset && offset <= slot.last_offset() {
                let mut batch = RecordBatch::clone(slot);
                batch.records_mut().retain(|r| slot.offset_of(r) != offset);
                *slot = Arc::new(batch);
            }
        }
        self.batches.retain(|b| b.record_count() > 0);
    }

    /// Stamps the batch holding `offset` with a tombstone horizon, as the cleaner does.
    pub fn stamp(&mut self, offset: i64, horizon_ms: i64) {
        for slot in &mut self.batches {
            if slot.base_offset() <= offset && offset <= slot.last_offset() {
                let mut batch = RecordBatch::clone(slot);
                batch.header_mut().delete_horizon_ms = Some(horizon_ms);
                *slot = Arc::new(batch);
            }
        }
    }

    /// The same log read back from disk after a restart: equal batches, not shared ones.
    pub fn reloaded(&self) -> TestLog {
        let mut log = self.clone();
        log.batches = self.batches.iter().map(|b| Arc::new(RecordBatch::clone(b))).collect();
        log
    }
}

impl LogRead for TestLog {
    fn log_start_offset(&self) -> i64 {
        self.log_start_offset
    }

    fn high_watermark(&self) -> i64 {
        self.high_watermark
    }

    fn log_end_offset(&self) -> i64 {
        self.log_end_offset
    }

    fn first_dirty_offset(&self) -> i64 {
        self.first_dirty_offset
    }

    fn is_compacted(&self) -> bool {
        self.compacted
    }

    fn delete_retention_ms(&self) -> u64 {
        self.delete_retention_ms
    }

    fn epoch_start_offset(&self, leader_epoch: i32) -> Option<i64> {
        self.epochs.iter().find(|(e, _)| *e == leader_epoch).map(|(_, s)| *s)
    }

    fn batches_from(&self, offset: i64) -> impl Iterator<Item = &Arc<RecordBatch>> + '_ {
        // Like the real log: from the first batch reaching `offset`, everything stored after it.
        self.batches.iter().skip_while(move |b| b.last_offset() < offset)
    }

    fn last_batch(&self) -> Option<&Arc<RecordBatch>> {
        self.batches.last()
    }
}
