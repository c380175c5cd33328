//! *SingleLeader*: at most one quorum leader per epoch, over the whole run.
//!
//! Raft's election safety (Ongaro, "In Search of an Understandable Consensus Algorithm", §5.2):
//! a candidate needs the votes of a majority, and each voter votes at most once per epoch (the
//! vote is durable in `quorum-state`), so two leaders of one epoch would need two majorities that
//! do not overlap. Kafka's Raft simulation checks it across all persisted states after every
//! event (apache/kafka: raft/src/test/java/org/apache/kafka/raft/RaftEventSimulationTest.java,
//! `SingleLeader`). A leader that went down still counts: its epoch stays taken.

use cluster::ids::NodeId;
use cluster::raft::QuorumRole;
use std::collections::BTreeMap;

/// Remembers the leader of every epoch seen so far.
#[derive(Clone, Debug, Default)]
pub struct SingleLeader {
    /// The first node seen leading each epoch.
    leaders: BTreeMap<i32, NodeId>,
}

impl SingleLeader {
    /// Looks at `node` in quorum `epoch` with `role`.
    ///
    /// # Errors
    /// The two nodes that both led `epoch`.
    pub fn observe(&mut self, node: NodeId, epoch: i32, role: QuorumRole) -> Result<(), String> {
        if role != QuorumRole::Leader {
            return Ok(());
        }
        match self.leaders.get(&epoch) {
            Some(&other) if other != node => Err(format!("nodes {other} and {node} both led epoch {epoch}")),
            Some(_) => Ok(()),
            None => {
                self.leaders.insert(epoch, node);
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: NodeId = NodeId(3000);
    const B: NodeId = NodeId(3001);

    #[test]
    fn two_leaders_of_one_epoch_are_caught_even_after_the_first_went_down() {
        let mut c = SingleLeader::default();
        c.observe(A, 3, QuorumRole::Leader).unwrap();
        // Nothing is forgotten when A goes down: the checker has no `node_down`.
        assert_eq!(c.observe(B, 3, QuorumRole::Leader).unwrap_err(), "nodes 3000 and 3001 both led epoch 3");
    }

    #[test]
    fn one_leader_per_epoch_and_candidates_of_the_same_epoch_are_fine() {
        let mut c = SingleLeader::default();
        // B campaigned in epoch 3 and lost to A: a candidate is not a leader.
        c.observe(B, 3, QuorumRole::Candidate).unwrap();
        c.observe(A, 3, QuorumRole::Leader).unwrap();
        c.observe(A, 3, QuorumRole::Leader).unwrap();
        // A new epoch may have a new leader.
        c.observe(B, 4, QuorumRole::Leader).unwrap();
        c.observe(A, 3, QuorumRole::Resigned).unwrap();
    }
}
