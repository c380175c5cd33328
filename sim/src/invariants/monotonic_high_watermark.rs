//! *MonotonicHighWatermark*: a running node's metadata high watermark never goes back, and
//! neither does the quorum leaders' high watermark once a leader has committed in its epoch.
//!
//! Source: Kafka's Raft simulation (apache/kafka:
//! raft/src/test/java/org/apache/kafka/raft/RaftEventSimulationTest.java,
//! `MonotonicHighWatermark`), where a restart "drops unflushed batches and epoch entries and
//! resets the HW to 0". So the per-node rule holds only while the node runs: the checker
//! forgets a node's high watermark when it goes down ([`MonotonicHighWatermark::node_down`]).
//!
//! The leaders' rule is KRaft's `LeaderState.updateHighWatermark`: a new leader does not expose a
//! high watermark until an entry of its own epoch commits (`leader_committed`), because until
//! then it may know less than its predecessor did. A deposed leader that has not heard of the
//! newer epoch yet is not "the leader": only a leader of the newest epoch seen is held to the
//! high watermarks exposed before it.

use cluster::ids::NodeId;
use cluster::raft::{QuorumRole, QuorumStatus};
use std::collections::BTreeMap;

/// Each running node's high watermark, and the highest one exposed by a leader.
#[derive(Clone, Debug, Default)]
pub struct MonotonicHighWatermark {
    /// Each running node's high watermark (forgotten when it goes down).
    high_watermarks: BTreeMap<NodeId, i64>,
    /// The newest leader epoch that has committed, and the highest high watermark exposed in
    /// it or before.
    leader_high_watermark: (i32, i64),
}

impl MonotonicHighWatermark {
    /// Looks at one node's quorum state after a step.
    ///
    /// # Errors
    /// The node and the high watermarks it went back from and to, or the leader exposing a
    /// lower one than an earlier leader did.
    pub fn observe(&mut self, node: NodeId, status: &QuorumStatus) -> Result<(), String> {
        let hw = status.high_watermark;
        let mut verdict = Ok(());
        if let Some(&before) = self.high_watermarks.get(&node) {
            if hw < before {
                verdict = Err(format!("node {node}'s high watermark went back from {before} to {hw}"));
            }
        }
        self.high_watermarks.insert(node, hw);
        let (newest, exposed) = self.leader_high_watermark;
        if status.role == QuorumRole::Leader && status.leader_committed && status.epoch >= newest {
            if hw < exposed && verdict.is_ok() {
                verdict = Err(format!(
                    "leader {node} of epoch {} exposes high watermark {hw}, below {exposed} exposed before",
                    status.epoch
                ));
            }
            self.leader_high_watermark = (status.epoch, hw.max(exposed));
        }
        verdict
    }

    /// `node` went down: its in-memory high watermark is gone, and it restarts from what its
    /// disk holds.
    pub fn node_down(&mut self, node: NodeId) {
        self.high_watermarks.remove(&node);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: NodeId = NodeId(3000);
    const B: NodeId = NodeId(3001);

    fn status(node: NodeId, role: QuorumRole, epoch: i32, high_watermark: i64, leader_committed: bool) -> QuorumStatus {
        QuorumStatus {
            node_id: node,
            role,
            epoch,
            leader_id: None,
            voted_id: None,
            log_end_offset: high_watermark,
            high_watermark,
            leader_committed,
            replicas: Vec::new(),
        }
    }

    #[test]
    fn a_running_node_going_back_is_caught() {
        let mut c = MonotonicHighWatermark::default();
        c.observe(B, &status(B, QuorumRole::Follower, 1, 2, false)).unwrap();
        assert_eq!(
            c.observe(B, &status(B, QuorumRole::Follower, 1, 1, false)).unwrap_err(),
            "node 3001's high watermark went back from 2 to 1"
        );
    }

    #[test]
    fn a_new_leader_exposing_less_than_its_predecessor_is_caught() {
        let mut c = MonotonicHighWatermark::default();
        c.observe(A, &status(A, QuorumRole::Leader, 1, 3, true)).unwrap();
        c.node_down(A);
        let verdict = c.observe(B, &status(B, QuorumRole::Leader, 2, 2, true));
        assert_eq!(verdict.unwrap_err(), "leader 3001 of epoch 2 exposes high watermark 2, below 3 exposed before");
    }

    #[test]
    fn a_restart_resets_the_high_watermark_and_a_new_leader_may_lag_until_it_commits() {
        let mut c = MonotonicHighWatermark::default();
        c.observe(A, &status(A, QuorumRole::Leader, 1, 3, true)).unwrap();
        // A restarts: its high watermark starts again from zero.
        c.node_down(A);
        c.observe(A, &status(A, QuorumRole::Unattached, 1, 0, false)).unwrap();
        // B leads epoch 2 with the high watermark it had as a follower: not yet exposed.
        c.observe(B, &status(B, QuorumRole::Leader, 2, 1, false)).unwrap();
        c.observe(B, &status(B, QuorumRole::Leader, 2, 4, true)).unwrap();
        // A deposed leader of an older epoch may still show its stale high watermark.
        c.observe(A, &status(A, QuorumRole::Leader, 1, 0, true)).unwrap();
    }
}
