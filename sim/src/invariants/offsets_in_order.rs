//! *OffsetsInOrder*: `log_start_offset <= high_watermark <= log_end_offset` on every replica.
//!
//! Kafka keeps the three in this order on every replica, leader or follower
//! (apache/kafka: storage/.../log/UnifiedLog.java): `updateHighWatermark` clamps a new high
//! watermark into `[logStartOffset, logEndOffset]` (a follower takes
//! `min(leader's HW, own LEO)`, `ReplicaFetcherThread.processPartitionData`), and
//! `maybeIncrementLogStartOffset` refuses to move the log start past the high watermark
//! ("Cannot increment the log start offset ... beyond the high watermark"). Retention deletes
//! only segments wholly below the high watermark, and truncation lowers the high watermark with
//! the log end (kafka-semantics §3, §6, §7).
//!
//! Stateless: each observation stands alone, so it costs three comparisons.

use cluster::ids::{NodeId, TopicPartition};

/// Checks the order of a replica's three offsets.
#[derive(Clone, Copy, Debug, Default)]
pub struct OffsetsInOrder;

impl OffsetsInOrder {
    /// Looks at the replica of `tp` on `broker`.
    ///
    /// # Errors
    /// The three offsets, when they are out of order.
    pub fn observe(
        &mut self,
        broker: NodeId,
        tp: &TopicPartition,
        log_start_offset: i64,
        high_watermark: i64,
        log_end_offset: i64,
    ) -> Result<(), String> {
        if log_start_offset <= high_watermark && high_watermark <= log_end_offset {
            return Ok(());
        }
        Err(format!(
            "broker {broker}'s replica of {tp} has log start offset {log_start_offset}, high watermark \
             {high_watermark}, log end offset {log_end_offset}: they must not decrease in that order"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_high_watermark_past_the_log_end_or_below_the_log_start_is_caught() {
        let tp = TopicPartition::new("orders", 0);
        let mut c = OffsetsInOrder;
        assert!(c.observe(NodeId(1), &tp, 0, 11, 10).is_err());
        assert!(c.observe(NodeId(1), &tp, 5, 4, 10).is_err());
    }

    #[test]
    fn equal_offsets_a_lagging_follower_and_a_restarted_replica_are_fine() {
        let tp = TopicPartition::new("orders", 0);
        let mut c = OffsetsInOrder;
        // An empty log, and one whose every segment retention deleted.
        c.observe(NodeId(1), &tp, 0, 0, 0).unwrap();
        c.observe(NodeId(1), &tp, 40, 40, 40).unwrap();
        // A follower whose high watermark lags its log end.
        c.observe(NodeId(2), &tp, 0, 3, 10).unwrap();
        // A restarted replica: its high watermark from the checkpoint, reset below the log end.
        c.observe(NodeId(2), &tp, 0, 0, 10).unwrap();
    }
}
