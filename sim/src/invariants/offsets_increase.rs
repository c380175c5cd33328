//! *OffsetsIncrease*: offsets in a log only increase, before and after cleaning.
//!
//! Kafka's log is a sequence of batches whose offsets strictly increase: a leader assigns them
//! from the log end (`UnifiedLog.appendAsLeader`), a follower's append must start at or past its
//! log end (`UnifiedLog.appendAsFollower` fails with `UnexpectedAppendOffsetException`
//! otherwise), and the recovery after a crash cuts the log at the first batch that does not
//! continue it (`LogSegment.recover`). Compaction removes records and never reorders or renumbers
//! them: offsets never change, a cleaned batch keeps its base and last offsets, and gaps appear
//! (apache/kafka: docs/design.html, "Log Compaction Guarantees"; kafka-semantics §4). Jepsen's
//! Kafka analysis shows what breaks otherwise: compressed batches read from diverged replicas
//! made offsets go backwards (kafka-semantics §10).
//!
//! Checked per replica: each batch starts after the previous one ends, its records' offsets
//! increase within its `[base_offset, last_offset]`, and none ends past the log end offset.
//!
//! Incremental: per replica the last verified batch; each quantum only the batches stored after
//! it are verified. After a cleaning pass (which rewrites segments), a restart or a truncation,
//! the whole log is verified again; those are rare.

use super::LogRead;
use cluster::ids::{NodeId, TopicPartition};
use std::collections::btree_map::Entry;
use std::collections::BTreeMap;

/// Per replica, where the verified batches end.
#[derive(Clone, Debug, Default)]
pub struct OffsetsIncrease {
    /// Per replica, the last verified batch's base offset and where the verified batches end.
    verified: BTreeMap<(NodeId, TopicPartition), (i64, i64)>,
}

impl OffsetsIncrease {
    /// Verifies the batches of `broker`'s replica of `tp` not verified yet. `fresh` says the
    /// log may have been rewritten (first sighting, restart, truncation) and `cleaned` that the
    /// cleaner rewrote it since the last observation: both verify it again from its start.
    ///
    /// # Errors
    /// The first batch or record whose offset does not increase, or a batch past the log end.
    pub fn observe(
        &mut self,
        broker: NodeId,
        tp: &TopicPartition,
        log: &impl LogRead,
        fresh: bool,
        cleaned: bool,
    ) -> Result<(), String> {
        // One search finds the replica's entry, read here and written at the end.
        let slot = self.verified.entry((broker, tp.clone()));
        // Where the verified batches end: the last one's base offset and its end. Reading on
        // from that batch, in stored order, also meets a batch stored after it with lower
        // offsets.
        let verified = match &slot {
            Entry::Occupied(entry) if !fresh && !cleaned => Some(*entry.get()),
            _ => None,
        };
        let mut previous_end = verified.map(|(_, end)| end);
        let mut last_base = verified.map(|(base, _)| base);
        let log_end_offset = log.log_end_offset();
        let mut verdict = Ok(());
        let mut fail = |message: String| {
            if verdict.is_ok() {
                verdict = Err(format!("broker {broker}'s replica of {tp}: {message}"));
            }
        };
        let mut first = true;
        for batch in log.batches_from(verified.map_or(i64::MIN, |(base, _)| base)) {
            let (base, last) = (batch.base_offset(), batch.last_offset());
            if std::mem::take(&mut first) && verified == Some((base, batch.next_offset())) {
                continue;
            }
            if let Some(end) = previous_end {
                if base < end {
                    fail(format!(
                        "the batch at offsets {base}..={last} starts before the previous batch ends at {end}"
                    ));
                }
            }
            if last < base {
                fail(format!("the batch at base offset {base} ends before it starts, at {last}"));
            }
            if batch.next_offset() > log_end_offset {
                fail(format!("the batch at offsets {base}..={last} ends past the log end offset {log_end_offset}"));
            }
            let mut previous_offset = None;
            for offset in batch.record_offsets() {
                if offset < base || offset > last || previous_offset.is_some_and(|p| offset <= p) {
                    fail(format!(
                        "a record of the batch at offsets {base}..={last} has offset {offset}, after {}",
                        previous_offset.map_or("nothing".to_string(), |p| p.to_string())
                    ));
                }
                previous_offset = Some(offset);
            }
            previous_end = Some(batch.next_offset().max(previous_end.unwrap_or(i64::MIN)));
            last_base = Some(base);
        }
        match (last_base.zip(previous_end), slot) {
            (Some(verified), Entry::Occupied(mut entry)) => {
                entry.insert(verified);
            }
            (Some(verified), Entry::Vacant(entry)) => {
                entry.insert(verified);
            }
            (None, Entry::Occupied(entry)) => {
                entry.remove();
            }
            (None, Entry::Vacant(_)) => {}
        }
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_log::{record, TestLog};
    use super::*;
    use cluster::record::RecordBatch;
    use std::sync::Arc;

    fn tp() -> TopicPartition {
        TopicPartition::new("prices", 0)
    }

    #[test]
    fn a_batch_starting_inside_the_previous_one_or_records_out_of_order_are_caught() {
        let mut log = TestLog::default();
        log.append(0, vec![record("a", Some("1")), record("b", Some("1"))]);
        let mut c = OffsetsIncrease::default();
        c.observe(NodeId(1), &tp(), &log, true, false).unwrap();
        // A batch at offset 1 although the log already holds 0..=1: checked incrementally.
        let overlapping = RecordBatch::new(1, 0, 0, vec![record("c", Some("1"))]);
        log.push(Arc::new(overlapping));
        let verdict = c.observe(NodeId(1), &tp(), &log, false, false).unwrap_err();
        assert!(verdict.contains("starts before the previous batch ends at 2"), "{verdict}");

        let mut log = TestLog::default();
        let mut second = record("b", Some("1"));
        second.offset_delta = 0;
        let mut batch = RecordBatch::new(0, 0, 0, vec![record("a", Some("1")), second]);
        batch.header_mut().last_offset_delta = 1;
        log.push(Arc::new(batch));
        assert!(c.observe(NodeId(2), &tp(), &log, true, false).is_err());
    }

    #[test]
    fn gaps_left_by_compaction_and_a_truncation_are_fine() {
        let mut log = TestLog::default();
        log.append(0, vec![record("a", Some("1")), record("b", Some("1")), record("a", Some("2"))]);
        log.append(0, vec![record("c", Some("1"))]);
        let mut c = OffsetsIncrease::default();
        c.observe(NodeId(1), &tp(), &log, true, false).unwrap();
        // The cleaner drops a=1 at offset 0: the batch keeps its range, a gap appears.
        log.remove_record(0);
        c.observe(NodeId(1), &tp(), &log, false, true).unwrap();
        // The cleaner drops the whole second batch... and a new one continues at 4.
        log.remove_record(3);
        log.append(1, vec![record("d", Some("1"))]);
        c.observe(NodeId(1), &tp(), &log, false, true).unwrap();
        // A follower truncated its tail and fetched a different one from a new leader.
        let mut truncated = TestLog::default();
        truncated.push(log.batches[0].clone());
        truncated.append(2, vec![record("e", Some("1"))]);
        c.observe(NodeId(1), &tp(), &truncated, true, false).unwrap();
    }
}
