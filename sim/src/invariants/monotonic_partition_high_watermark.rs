//! *MonotonicPartitionHighWatermark*: a partition leader's high watermark never goes back within
//! a leader epoch, and a new leader never exposes a lower one than the partition had committed
//! (clean elections only).
//!
//! Sources (kafka-semantics §6, §9, §10):
//!
//! - Within an epoch: `Partition.maybeIncrementLeaderHW` (apache/kafka:
//!   core/src/main/scala/kafka/cluster/Partition.scala) applies a new high watermark only if it
//!   is higher ("the leader HW never decreases").
//! - Across epochs: a clean election picks a leader from the ISR, and every ISR member holds
//!   every committed record, so the new leader's log reaches at least the old high watermark.
//!   Its own high watermark may still lag (it is the one it had as a follower, a fetch round
//!   trip behind), which Kafka hides: until the leader's high watermark reaches the start of its
//!   epoch, `ListOffsets` answers `OFFSET_NOT_AVAILABLE` (KIP-207, `Partition.
//!   fetchOffsetForTimestamp`) instead of exposing it. So a new leader is held to the high
//!   watermarks exposed before it only once its own high watermark reaches its epoch's start
//!   offset, like KRaft's leader once it commits in its epoch. KIP-101 exists because the rule
//!   failed before 0.11: a replica that truncated to a stale high watermark and was then elected
//!   exposed less than had been acknowledged.
//! - An unclean election (`unclean.leader.election.enable`, KIP-106; PartitionChangeBuilder)
//!   knowingly loses committed records; when the topic allows it, the new leader's high
//!   watermark becomes the new baseline. An unclean election the topic does not allow excuses
//!   nothing.
//! - Kafka promises committed records survive only "as long as one in-sync replica stays
//!   alive" (apache/kafka: docs/design.html, replication). When every replica of a partition was
//!   down at once and one came back with less than it had (its page cache lost), the failure is
//!   outside that promise, as a disk wipe is outside the Raft simulation's: the first leader
//!   epoch after it also starts a new baseline ([`MonotonicPartitionHighWatermark::history_lost`]).
//!
//! A leader of an older epoch that has not heard of its successor yet is not "the leader" and
//! is skipped, as in the quorum's `MonotonicHighWatermark`. A restart makes a new incarnation,
//! which the controller always moves to a new epoch, so the within-epoch rule is kept per
//! incarnation and a high watermark reset by a restart is judged by the exposure rule alone.

use cluster::ids::{NodeId, TopicPartition};
use std::collections::{BTreeMap, BTreeSet};

/// One leader's high watermark as seen at a quantum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaderHighWatermark {
    /// The broker that acts as leader.
    pub broker: NodeId,
    /// Its incarnation (starts counted from 1).
    pub incarnation: u64,
    /// The leader epoch it leads.
    pub leader_epoch: i32,
    /// Its high watermark.
    pub high_watermark: i64,
    /// Where its epoch starts in its leader-epoch cache (its log end offset when elected);
    /// `None` when the cache has no entry for the epoch.
    pub epoch_start_offset: Option<i64>,
}

#[derive(Clone, Debug, Default)]
struct PartitionHistory {
    /// The newest leader seen: (epoch, broker, incarnation, high watermark).
    newest: Option<(i32, NodeId, u64, i64)>,
    /// The highest high watermark a leader of the newest epochs has exposed, and that epoch.
    exposed: Option<(i64, i32)>,
    /// Leader epochs from which committed records may legitimately be gone: an unclean
    /// election the topic allows, or the first epoch after every replica lost its copy.
    reset_epochs: BTreeSet<i32>,
}

/// Per partition: the newest leader and the highest high watermark exposed so far.
#[derive(Clone, Debug, Default)]
pub struct MonotonicPartitionHighWatermark {
    partitions: BTreeMap<TopicPartition, PartitionHistory>,
}

impl MonotonicPartitionHighWatermark {
    /// The controller elected a leader of `tp` uncleanly in `leader_epoch`; `allowed` says
    /// whether the topic's `unclean.leader.election.enable` permits it.
    pub fn unclean_election(&mut self, tp: &TopicPartition, leader_epoch: i32, allowed: bool) {
        if allowed {
            self.history(tp).reset_epochs.insert(leader_epoch);
        }
    }

    /// Every replica of `tp` was down at once and committed records were lost with a page
    /// cache; leader epochs from `from_epoch` on start a new baseline.
    pub fn history_lost(&mut self, tp: &TopicPartition, from_epoch: i32) {
        self.history(tp).reset_epochs.insert(from_epoch);
    }

    fn history(&mut self, tp: &TopicPartition) -> &mut PartitionHistory {
        self.partitions.entry(tp.clone()).or_default()
    }

    /// Looks at the leader of `tp`.
    ///
    /// # Errors
    /// The leader whose high watermark went back within its epoch, or the new leader that
    /// exposes less than an earlier one did.
    pub fn observe(&mut self, tp: &TopicPartition, leader: LeaderHighWatermark) -> Result<(), String> {
        let history = self.history(tp);
        let LeaderHighWatermark { broker, incarnation, leader_epoch, high_watermark: hw, epoch_start_offset } = leader;
        let mut verdict = Ok(());
        if let Some((epoch, b, inc, before)) = history.newest {
            if leader_epoch < epoch {
                return Ok(());
            }
            if leader_epoch == epoch && broker == b && incarnation == inc && hw < before {
                verdict = Err(format!(
                    "broker {broker}, leader of {tp} in epoch {leader_epoch}, moved its high watermark back \
                     from {before} to {hw}"
                ));
            }
        }
        history.newest = Some((leader_epoch, broker, incarnation, hw));
        let exposes = epoch_start_offset.is_none_or(|start| hw >= start);
        if !exposes {
            return verdict;
        }
        match history.exposed {
            Some((_, epoch))
                if leader_epoch > epoch && history.reset_epochs.range(epoch + 1..=leader_epoch).next().is_some() =>
            {
                // An allowed unclean election, or a loss beyond Kafka's promise, happened since:
                // what the new leader has is the partition now.
                history.exposed = Some((hw, leader_epoch));
            }
            Some((before, epoch)) => {
                if hw < before && verdict.is_ok() {
                    verdict = Err(format!(
                        "broker {broker}, leader of {tp} in epoch {leader_epoch}, exposes high watermark {hw}, \
                         below the {before} exposed in epoch {epoch} (a clean election loses no committed record)"
                    ));
                }
                if hw >= before {
                    history.exposed = Some((hw, leader_epoch));
                }
            }
            None => history.exposed = Some((hw, leader_epoch)),
        }
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: NodeId = NodeId(1);
    const B: NodeId = NodeId(2);

    fn tp() -> TopicPartition {
        TopicPartition::new("payments", 0)
    }

    fn leader(broker: NodeId, leader_epoch: i32, high_watermark: i64, start: i64) -> LeaderHighWatermark {
        LeaderHighWatermark { broker, incarnation: 1, leader_epoch, high_watermark, epoch_start_offset: Some(start) }
    }

    #[test]
    fn a_leader_moving_its_high_watermark_back_is_caught() {
        let mut c = MonotonicPartitionHighWatermark::default();
        c.observe(&tp(), leader(A, 0, 5, 0)).unwrap();
        let verdict = c.observe(&tp(), leader(A, 0, 4, 0));
        assert!(verdict.unwrap_err().contains("moved its high watermark back from 5 to 4"));
    }

    #[test]
    fn a_new_leader_exposing_less_after_a_clean_election_is_caught() {
        // KIP-101's first scenario: B truncated to its stale high watermark 1 and is elected
        // in epoch 1, with its epoch starting at 1.
        let mut c = MonotonicPartitionHighWatermark::default();
        c.observe(&tp(), leader(A, 0, 2, 0)).unwrap();
        let verdict = c.observe(&tp(), leader(B, 1, 1, 1));
        assert!(verdict.unwrap_err().contains("exposes high watermark 1, below the 2 exposed in epoch 0"));
    }

    #[test]
    fn a_new_leader_lagging_until_its_epoch_starts_and_an_epoch_bump_are_fine() {
        let mut c = MonotonicPartitionHighWatermark::default();
        c.observe(&tp(), leader(A, 0, 8, 0)).unwrap();
        // B, elected in epoch 1 with log end 10, still has the high watermark it had as a
        // follower (6): not exposed until it reaches 10.
        c.observe(&tp(), leader(B, 1, 6, 10)).unwrap();
        c.observe(&tp(), leader(B, 1, 10, 10)).unwrap();
        // A, deposed but not told yet, still shows its old value.
        c.observe(&tp(), leader(A, 0, 8, 0)).unwrap();
        // B restarts and leads epoch 2 with the high watermark from its checkpoint (reset on
        // restart): again not exposed until it reaches its epoch's start.
        let restarted = LeaderHighWatermark { incarnation: 2, ..leader(B, 2, 3, 10) };
        c.observe(&tp(), restarted).unwrap();
        c.observe(&tp(), LeaderHighWatermark { incarnation: 2, ..leader(B, 2, 12, 10) }).unwrap();
    }

    #[test]
    fn an_unclean_election_excuses_the_loss_only_when_the_topic_allows_it() {
        let mut c = MonotonicPartitionHighWatermark::default();
        c.observe(&tp(), leader(A, 0, 20, 0)).unwrap();
        c.unclean_election(&tp(), 1, true);
        c.observe(&tp(), leader(B, 1, 12, 12)).unwrap();
        // The new baseline holds the next clean leader.
        assert!(c.observe(&tp(), leader(A, 2, 11, 11)).is_err());

        let mut c = MonotonicPartitionHighWatermark::default();
        c.observe(&tp(), leader(A, 0, 20, 0)).unwrap();
        c.unclean_election(&tp(), 1, false);
        assert!(c.observe(&tp(), leader(B, 1, 12, 12)).is_err());
    }

    #[test]
    fn a_loss_on_every_replica_starts_a_new_baseline() {
        // Every replica lost power and came back without the tail: epoch 3 starts afresh.
        let mut c = MonotonicPartitionHighWatermark::default();
        c.observe(&tp(), leader(A, 1, 21, 0)).unwrap();
        c.history_lost(&tp(), 2);
        c.observe(&tp(), leader(B, 3, 0, 0)).unwrap();
        c.observe(&tp(), leader(B, 3, 4, 0)).unwrap();
        // The new baseline holds from then on.
        assert!(c.observe(&tp(), leader(A, 4, 3, 3)).is_err());
    }
}
