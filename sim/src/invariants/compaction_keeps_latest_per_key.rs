//! *CompactionKeepsLatestPerKey*: after cleaning, the latest record of every key below the
//! cleaned point is still there.
//!
//! Kafka's compaction guarantee (apache/kafka: docs/design.html, "Log Compaction Guarantees";
//! kafka-semantics §4): reading a compacted log from the start yields at least the final value
//! of every key. The cleaner builds a map from key to latest offset over the dirty section and
//! keeps a record only if it is the newest copy of its key (`LogCleaner.shouldRetainRecord`), so
//! it may remove superseded records, keyless ones and expired tombstones, but never the newest
//! value of a key. The cleaned point is the cleaner checkpoint, `first_dirty_offset`, which a
//! pass moves to the end of the section it cleaned. Tombstones are the one latest record that
//! may go, after `delete.retention.ms`; *TombstoneRetention* covers them.
//!
//! Per replica, as that replica appended them: every replica runs its own cleaner over its own
//! copy. Records below the log start offset are gone by retention (`compact,delete`), not by
//! the cleaner.
//!
//! Incremental: per replica a map from key to its latest offset and value, updated with the
//! records appended since the last observation; the keys are checked against the log only after
//! a cleaning pass. A restart or truncation rebuilds the map from the log as it is.

use super::{describe_value, CompactedTopics, LogRead};
use cluster::ids::{NodeId, TopicPartition};
use cluster::key::Key;
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Clone, Debug, Default)]
struct ReplicaKeys {
    /// Where the scanned batches end.
    scanned: Option<i64>,
    /// Key → (latest offset, its value; `None` for a tombstone).
    latest: BTreeMap<Key, (i64, Option<Arc<str>>)>,
}

/// Per replica of a compacted topic, the latest record of every key.
#[derive(Clone, Debug, Default)]
pub struct CompactionKeepsLatestPerKey {
    replicas: BTreeMap<(NodeId, TopicPartition), ReplicaKeys>,
    compacted_topics: CompactedTopics,
}

impl CompactionKeepsLatestPerKey {
    /// Reads the records `broker`'s replica of `tp` appended since the last observation and,
    /// when the cleaner ran since (`cleaned`), checks that every key's latest value below the
    /// cleaned point survived. `fresh` says the log may have been rewritten (first sighting,
    /// restart, truncation). Logs that are not compacted are skipped.
    ///
    /// # Errors
    /// The first key whose latest value is gone or changed, with its offset and the cleaned
    /// point.
    pub fn observe(
        &mut self,
        broker: NodeId,
        tp: &TopicPartition,
        log: &impl LogRead,
        fresh: bool,
        cleaned: bool,
    ) -> Result<(), String> {
        let compacted = log.is_compacted();
        if !self.compacted_topics.note(&tp.topic, compacted) {
            return Ok(());
        }
        if !compacted {
            self.replicas.remove(&(broker, tp.clone()));
            return Ok(());
        }
        let replica = self.replicas.entry((broker, tp.clone())).or_default();
        if fresh {
            *replica = ReplicaKeys::default();
        }
        for batch in log.batches_from(replica.scanned.unwrap_or(i64::MIN)) {
            for record in batch.records().iter() {
                if let Some(k) = &record.key {
                    replica.latest.insert(k.clone(), (batch.offset_of(record), record.value.clone()));
                }
            }
            replica.scanned = Some(batch.next_offset());
        }
        if !cleaned {
            return Ok(());
        }
        let (start, cleaned_point) = (log.log_start_offset(), log.first_dirty_offset());
        for (k, (offset, value)) in &replica.latest {
            if *offset < start || *offset >= cleaned_point || value.is_none() {
                continue;
            }
            let found = log.record_at(*offset);
            if found.as_ref().is_some_and(|r| r.key.as_ref() == Some(k) && r.value == *value) {
                continue;
            }
            return Err(format!(
                "after cleaning {tp} on broker {broker} up to offset {cleaned_point}, the latest record of key \
                 {k:?} ({k}={} at offset {offset}) is {}",
                describe_value(value.as_deref()),
                match &found {
                    None => "gone".to_string(),
                    Some(r) => format!("replaced by {}", super::describe_record(r)),
                }
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_log::{record, TestLog};
    use super::*;

    fn tp() -> TopicPartition {
        TopicPartition::new("prices", 0)
    }

    /// The example of the reference (§4): `0 a=1, 1 b=1, 2 a=2, 3 c=1, 4 b=null, 5 a=3`.
    fn prices() -> TestLog {
        let mut log = TestLog { compacted: true, ..TestLog::default() };
        for (k, v) in [("a", Some("1")), ("b", Some("1")), ("a", Some("2")), ("c", Some("1")), ("b", None)] {
            log.append(0, vec![record(k, v)]);
        }
        log.append(0, vec![record("a", Some("3"))]);
        log.high_watermark = 6;
        log
    }

    /// A replica of a topic that was never compacted is never stored; one whose topic stops
    /// being compacted is forgotten, and read from its start if it is compacted again.
    #[test]
    fn only_replicas_of_compacted_logs_are_kept() {
        let mut c = CompactionKeepsLatestPerKey::default();
        let plain = TestLog { compacted: false, ..prices() };
        c.observe(NodeId(1), &TopicPartition::new("orders", 0), &plain, true, false).unwrap();
        assert!(c.replicas.is_empty() && c.compacted_topics.0.is_empty());
        c.observe(NodeId(1), &tp(), &prices(), true, false).unwrap();
        assert_eq!(c.replicas[&(NodeId(1), tp())].scanned, Some(6));
        c.observe(NodeId(1), &tp(), &plain, false, false).unwrap();
        assert!(c.replicas.is_empty(), "the replica is forgotten once its log is not compacted");
        c.observe(NodeId(1), &tp(), &prices(), false, false).unwrap();
        assert_eq!(c.replicas[&(NodeId(1), tp())].latest.len(), 3, "read again from the start: a, b and c");
    }

    #[test]
    fn removing_the_latest_value_of_a_key_is_caught() {
        let mut log = prices();
        let mut c = CompactionKeepsLatestPerKey::default();
        c.observe(NodeId(1), &tp(), &log, true, false).unwrap();
        // A broken cleaner removes c=1 at 3, the only value of c.
        log.remove_record(3);
        log.first_dirty_offset = 6;
        let verdict = c.observe(NodeId(1), &tp(), &log, false, true).unwrap_err();
        assert!(verdict.contains("the latest record of key \"c\" (c=1 at offset 3) is gone"), "{verdict}");
    }

    #[test]
    fn removing_superseded_values_and_an_expired_tombstone_is_fine() {
        let mut log = prices();
        let mut c = CompactionKeepsLatestPerKey::default();
        c.observe(NodeId(1), &tp(), &log, true, false).unwrap();
        // The first pass: a=1, b=1 and a=2 go.
        for offset in [0, 1, 2] {
            log.remove_record(offset);
        }
        log.first_dirty_offset = 6;
        c.observe(NodeId(1), &tp(), &log, false, true).unwrap();
        // A later pass drops the tombstone of b once its horizon passed.
        log.remove_record(4);
        c.observe(NodeId(1), &tp(), &log, false, true).unwrap();
        // Keys whose latest record lies past the cleaned point are not checked yet.
        log.append(0, vec![record("c", Some("2"))]);
        log.remove_record(3);
        c.observe(NodeId(1), &tp(), &log, false, true).unwrap();
    }
}
