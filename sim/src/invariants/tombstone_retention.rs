//! *TombstoneRetention*: a tombstone stays readable for at least `delete.retention.ms` after the
//! cleaner first reached it.
//!
//! A tombstone (a keyed record with a null value) tells readers a key was deleted; a reader that
//! reaches the head of a compacted log within `delete.retention.ms` of it must see it (apache/kafka:
//! docs/design.html, "Log Compaction Guarantees"; kafka-semantics §4). Since KIP-534 (Kafka 3.1)
//! the first cleaning pass that keeps a batch with tombstones stamps it with
//! `deleteHorizonMs = now + delete.retention.ms`, and only a later pass past that time drops them
//! (`LogCleaner.shouldRetainRecord`). A tombstone that a newer record of its key supersedes goes
//! like any superseded record, and retention (`compact,delete`) or truncation may remove it
//! without the cleaner: neither is a violation.
//!
//! The times are bounded from the observations, so that a violation is certain: the cleaner
//! first reached a tombstone no earlier than the earliest cleaning pass on a replica that was
//! followed by seeing the tombstone's batch stamped (or, at the latest, when the tombstone was
//! first seen), and removed it no later than the latest pass before the observation that found
//! it gone. A follower copies batches as the leader stored them, horizons included, so the
//! earliest reach over all replicas of a partition is the one that counts.
//!
//! Incremental: per replica the tombstones it holds and the latest offset of every key, updated
//! with the records appended since the last observation; held tombstones are looked up only
//! after a cleaning pass on that replica.

use super::{CompactedTopics, LogRead};
use cluster::ids::{NodeId, TopicPartition};
use cluster::key::Key;
use std::collections::BTreeMap;

/// One replica of a compacted partition at a quantum, with the cleaning passes since the last
/// one.
#[derive(Clone, Copy, Debug)]
pub struct TombstoneObservation<'a, L: LogRead> {
    /// The broker holding the replica.
    pub broker: NodeId,
    /// The partition.
    pub tp: &'a TopicPartition,
    /// The replica's log.
    pub log: &'a L,
    /// Whether the log may have been rewritten since the last observation (first sighting,
    /// restart, truncation).
    pub fresh: bool,
    /// The times of the earliest and latest cleaning pass on this replica since the last
    /// observation, in milliseconds of simulated time; `None` when there was none.
    pub cleaned_ms: Option<(u64, u64)>,
    /// The time of the previous observation, in milliseconds: anything new appeared after it.
    pub since_ms: u64,
}

#[derive(Clone, Debug, Default)]
struct ReplicaTombstones {
    scanned: Option<i64>,
    /// Offset → key of every tombstone this replica holds.
    held: BTreeMap<i64, Key>,
    /// Key → its latest offset in this replica.
    latest: BTreeMap<Key, i64>,
}

#[derive(Clone, Debug, Default)]
struct PartitionTombstones {
    /// Offset → when a tombstone there was first seen on any replica (a lower bound of when it
    /// was written).
    first_seen_ms: BTreeMap<i64, u64>,
    /// Offset → the earliest time the cleaner can have first reached the tombstone there.
    reached_ms: BTreeMap<i64, u64>,
}

/// Per compacted partition, the tombstones seen and when the cleaner first reached them.
#[derive(Clone, Debug, Default)]
pub struct TombstoneRetention {
    replicas: BTreeMap<(NodeId, TopicPartition), ReplicaTombstones>,
    partitions: BTreeMap<TopicPartition, PartitionTombstones>,
    compacted_topics: CompactedTopics,
}

impl TombstoneRetention {
    /// Reads what the replica appended since the last observation and, after a cleaning pass,
    /// checks every tombstone it held. Logs that are not compacted are skipped.
    ///
    /// # Errors
    /// The first tombstone removed by the cleaner before `delete.retention.ms` had passed since
    /// the cleaner first reached it, with the bounds of both times.
    pub fn observe<L: LogRead>(&mut self, o: TombstoneObservation<'_, L>) -> Result<(), String> {
        let compacted = o.log.is_compacted();
        if !self.compacted_topics.note(&o.tp.topic, compacted) {
            return Ok(());
        }
        if !compacted {
            self.replicas.remove(&(o.broker, o.tp.clone()));
            return Ok(());
        }
        let partition = self.partitions.entry(o.tp.clone()).or_default();
        let replica = self.replicas.entry((o.broker, o.tp.clone())).or_default();
        if o.fresh {
            *replica = ReplicaTombstones::default();
        }
        for batch in o.log.batches_from(replica.scanned.unwrap_or(i64::MIN)) {
            for record in batch.records().iter() {
                let Some(k) = &record.key else { continue };
                let offset = batch.offset_of(record);
                replica.latest.insert(k.clone(), offset);
                if record.value.is_none() {
                    replica.held.insert(offset, k.clone());
                    partition.first_seen_ms.entry(offset).or_insert(o.since_ms);
                }
            }
            replica.scanned = Some(batch.next_offset());
        }
        // Retention moved the log start past them: gone, but not by the cleaner.
        let start = o.log.log_start_offset();
        replica.held.retain(|offset, _| *offset >= start);
        let Some((earliest_ms, latest_ms)) = o.cleaned_ms else { return Ok(()) };
        let retention_ms = o.log.delete_retention_ms();
        let mut verdict = Ok(());
        let mut removed = Vec::new();
        for (&offset, k) in &replica.held {
            let batch = o.log.batch_at(offset);
            let record = o.log.record_at(offset);
            match (batch, record) {
                (Some(batch), Some(r)) if r.value.is_none() && r.key.as_ref() == Some(k) => {
                    if batch.delete_horizon_ms().is_some() {
                        let reached = partition.reached_ms.entry(offset).or_insert(earliest_ms);
                        *reached = (*reached).min(earliest_ms);
                    }
                }
                _ => {
                    removed.push(offset);
                    if replica.latest.get(k).is_some_and(|&latest| latest > offset) {
                        continue;
                    }
                    let first_seen = partition.first_seen_ms.get(&offset).copied().unwrap_or(0);
                    let reached = partition.reached_ms.get(&offset).copied().unwrap_or(first_seen.min(earliest_ms));
                    let lived_ms = latest_ms.saturating_sub(reached);
                    if lived_ms < retention_ms && verdict.is_ok() {
                        verdict = Err(format!(
                            "broker {} removed the tombstone of key {k:?} at offset {offset} of {} by a cleaning \
                             at or before {latest_ms} ms, at most {lived_ms} ms after the cleaner first reached it \
                             (at or after {reached} ms); delete.retention.ms is {retention_ms}",
                            o.broker, o.tp
                        ));
                    }
                }
            }
        }
        for offset in removed {
            replica.held.remove(&offset);
        }
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_log::{record, TestLog};
    use super::*;

    fn tp() -> TopicPartition {
        TopicPartition::new("prices", 0)
    }

    fn at<'a>(
        log: &'a TestLog,
        tp: &'a TopicPartition,
        cleaned_ms: Option<(u64, u64)>,
        since_ms: u64,
    ) -> TombstoneObservation<'a, TestLog> {
        TombstoneObservation { broker: NodeId(1), tp, log, fresh: false, cleaned_ms, since_ms }
    }

    /// `0 a=1, 1 b=null, 2 a=2` with `delete.retention.ms` 10 s, seen at 3 s.
    fn observed(c: &mut TombstoneRetention, tp: &TopicPartition) -> TestLog {
        let mut log = TestLog { compacted: true, delete_retention_ms: 10_000, ..TestLog::default() };
        log.append(0, vec![record("a", Some("1")), record("b", None), record("a", Some("2"))]);
        c.observe(TombstoneObservation { fresh: true, ..at(&log, tp, None, 3_000) }).unwrap();
        log
    }

    /// A replica of a topic that was never compacted is never stored; one whose topic stops
    /// being compacted is forgotten.
    #[test]
    fn only_replicas_of_compacted_logs_are_kept() {
        let tp = tp();
        let mut c = TombstoneRetention::default();
        let orders = TopicPartition::new("orders", 0);
        let plain = TestLog::default();
        c.observe(at(&plain, &orders, None, 1_000)).unwrap();
        assert!(c.replicas.is_empty() && c.compacted_topics.0.is_empty());
        let log = observed(&mut c, &tp);
        assert_eq!(c.replicas[&(NodeId(1), tp.clone())].held.len(), 1, "the tombstone of b");
        c.observe(at(&TestLog { compacted: false, ..log }, &tp, None, 4_000)).unwrap();
        assert!(c.replicas.is_empty(), "the replica is forgotten once its log is not compacted");
    }

    #[test]
    fn a_tombstone_dropped_before_its_retention_is_caught() {
        let tp = tp();
        let mut c = TombstoneRetention::default();
        let mut log = observed(&mut c, &tp);
        // The first pass at 10 s keeps and stamps the tombstone.
        log.stamp(1, 20_000);
        c.observe(at(&log, &tp, Some((10_000, 10_000)), 9_990)).unwrap();
        // A pass at 15 s drops it: only 5 s later.
        log.remove_record(1);
        let verdict = c.observe(at(&log, &tp, Some((15_000, 15_000)), 14_990)).unwrap_err();
        assert!(verdict.contains("at most 5000 ms after the cleaner first reached it"), "{verdict}");
    }

    #[test]
    fn a_tombstone_dropped_after_its_retention_or_superseded_is_fine() {
        let tp = tp();
        let mut c = TombstoneRetention::default();
        let mut log = observed(&mut c, &tp);
        log.stamp(1, 20_000);
        c.observe(at(&log, &tp, Some((10_000, 10_000)), 9_990)).unwrap();
        // Passes that find nothing new leave it alone; the one at 20 s drops it.
        c.observe(at(&log, &tp, Some((15_000, 15_000)), 14_990)).unwrap();
        log.remove_record(1);
        c.observe(at(&log, &tp, Some((20_000, 20_000)), 19_990)).unwrap();

        // A tombstone superseded by a newer value of its key goes with the superseded records.
        let mut c = TombstoneRetention::default();
        let mut log = observed(&mut c, &tp);
        log.append(0, vec![record("b", Some("2"))]);
        c.observe(at(&log, &tp, None, 4_000)).unwrap();
        log.remove_record(1);
        c.observe(at(&log, &tp, Some((10_000, 10_000)), 9_990)).unwrap();

        // Retention moving the log start past it is not the cleaner's doing.
        let mut c = TombstoneRetention::default();
        let mut log = observed(&mut c, &tp);
        log.log_start_offset = 2;
        log.remove_record(1);
        c.observe(at(&log, &tp, Some((10_000, 10_000)), 9_990)).unwrap();
    }
}
