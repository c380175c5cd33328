//! *MonotonicEpoch*: a node's quorum epoch never goes back, across restarts too.
//!
//! The epoch is durable in the `quorum-state` file and a node only ever moves to a higher one
//! (it adopts the epoch of any newer request or response it sees; Raft's `currentTerm`). Kafka's
//! Raft simulation checks that persisted epochs never decrease (apache/kafka:
//! raft/src/test/java/org/apache/kafka/raft/RaftEventSimulationTest.java, `MonotonicEpoch`). The
//! checker keeps each node's highest epoch when it goes down, so a restart that came back with
//! an older epoch (a lost or stale `quorum-state`) is caught.

use cluster::ids::NodeId;
use std::collections::BTreeMap;

/// Remembers the highest epoch of every node, running or not.
#[derive(Clone, Debug, Default)]
pub struct MonotonicEpoch {
    epochs: BTreeMap<NodeId, i32>,
}

impl MonotonicEpoch {
    /// Looks at `node` in quorum `epoch`.
    ///
    /// # Errors
    /// The node and the epochs it went back from and to.
    pub fn observe(&mut self, node: NodeId, epoch: i32) -> Result<(), String> {
        let before = self.epochs.insert(node, epoch);
        match before {
            Some(before) if epoch < before => {
                // Keep the highest: a node that went back once is held to it again.
                self.epochs.insert(node, before);
                Err(format!("node {node}'s epoch went back from {before} to {epoch}"))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: NodeId = NodeId(3000);

    #[test]
    fn an_epoch_going_back_is_caught() {
        let mut c = MonotonicEpoch::default();
        c.observe(A, 4).unwrap();
        assert_eq!(c.observe(A, 3).unwrap_err(), "node 3000's epoch went back from 4 to 3");
        // Still held to 4.
        assert!(c.observe(A, 3).is_err());
    }

    #[test]
    fn a_leader_epoch_bump_and_a_restart_with_the_durable_epoch_are_fine() {
        let mut c = MonotonicEpoch::default();
        c.observe(A, 4).unwrap();
        c.observe(A, 4).unwrap();
        // An election bumps the epoch.
        c.observe(A, 5).unwrap();
        // A restart reads epoch 5 back from `quorum-state`.
        c.observe(A, 5).unwrap();
    }
}
