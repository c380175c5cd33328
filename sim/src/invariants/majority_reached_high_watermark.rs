//! *MajorityReachedHighWatermark*: a majority of voters hold every committed metadata entry.
//!
//! Raft's commit rule: a leader advances the high watermark only over entries a majority has
//! flushed and acknowledged, so any committed entry survives the loss of a minority. Kafka's
//! Raft simulation checks that a majority of voters have an end offset at or above the leader's
//! high watermark (apache/kafka: raft/src/test/java/org/apache/kafka/raft/
//! RaftEventSimulationTest.java, `MajorityReachedHighWatermark`). Here it is checked at each
//! supervisor quantum, when every node can be looked at, and stricter: a voter counts only if
//! it holds the very entry that was committed last (Raft's log matching makes the last entry
//! stand for the prefix).
//!
//! A voter that is down counts with the log it went down with: Raft flushes an entry before it
//! acknowledges it, so that is what its disk holds.

use cluster::ids::NodeId;
use cluster::metadata::MetadataRecord;
use std::collections::BTreeMap;

/// What the checker knows about every voter's copy of the committed log.
#[derive(Clone, Debug, Default)]
pub struct MajorityReachedHighWatermark {
    voters: Vec<NodeId>,
    /// Per voter, at the last check: the committed length then and whether it held it.
    held: BTreeMap<NodeId, (usize, bool)>,
    /// The metadata log of each voter that is down, as it went down.
    down_logs: BTreeMap<NodeId, Vec<(i32, MetadataRecord)>>,
}

impl MajorityReachedHighWatermark {
    /// A checker for a quorum of `voters`.
    pub fn new(voters: Vec<NodeId>) -> MajorityReachedHighWatermark {
        MajorityReachedHighWatermark { voters, ..MajorityReachedHighWatermark::default() }
    }

    /// `node` went down with metadata log `log` (`None` for a node without one).
    pub fn node_down(&mut self, node: NodeId, log: Option<Vec<(i32, MetadataRecord)>>) {
        if let Some(log) = log {
            self.down_logs.insert(node, log);
        }
    }

    /// Checks that a majority holds the `committed_len` committed entries, whose last is
    /// `last`. `running` gives the entry each running voter holds at offset `committed_len - 1`
    /// (`None` when its log is shorter).
    ///
    /// # Errors
    /// The voters that hold the committed entries, and the size of a majority.
    pub fn observe(
        &mut self,
        committed_len: usize,
        last: Option<&(i32, MetadataRecord)>,
        running: &BTreeMap<NodeId, Option<(i32, MetadataRecord)>>,
    ) -> Result<(), String> {
        let (c, Some(last)) = (committed_len, last) else { return Ok(()) };
        if c == 0 {
            return Ok(());
        }
        for voter in &self.voters {
            if let Some(entry) = running.get(voter) {
                self.down_logs.remove(voter);
                self.held.insert(*voter, (c, entry.as_ref() == Some(last)));
            } else if let Some(log) = self.down_logs.get(voter) {
                self.held.insert(*voter, (c, log.get(c - 1) == Some(last)));
            }
        }
        let holders: Vec<NodeId> = self
            .voters
            .iter()
            .copied()
            .filter(|v| self.held.get(v).is_some_and(|&(len, holds)| len == c && holds))
            .collect();
        let majority = self.voters.len() / 2 + 1;
        if holders.len() < majority {
            return Err(format!(
                "only voters {holders:?} hold the {c} committed metadata entries; a majority is {majority} of {}",
                self.voters.len()
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: NodeId = NodeId(3000);
    const B: NodeId = NodeId(3001);
    const C: NodeId = NodeId(3002);

    fn change(epoch: i32, leader: NodeId) -> (i32, MetadataRecord) {
        (epoch, MetadataRecord::LeaderChange { leader_id: leader, voters: vec![A, B, C] })
    }

    #[test]
    fn a_commit_held_by_a_minority_is_caught() {
        let e = change(1, A);
        let mut c = MajorityReachedHighWatermark::new(vec![A, B, C]);
        let running = BTreeMap::from([(A, Some(e.clone())), (B, None), (C, Some(change(2, C)))]);
        assert_eq!(
            c.observe(1, Some(&e), &running).unwrap_err(),
            "only voters [NodeId(3000)] hold the 1 committed metadata entries; a majority is 2 of 3"
        );
    }

    #[test]
    fn a_voter_that_went_down_with_the_entry_flushed_still_counts() {
        let e = change(1, A);
        let mut c = MajorityReachedHighWatermark::new(vec![A, B, C]);
        c.node_down(B, Some(vec![e.clone()]));
        let running = BTreeMap::from([(A, Some(e.clone())), (C, None)]);
        c.observe(1, Some(&e), &running).unwrap();
        // Nothing committed yet: nothing to hold.
        c.observe(0, None, &BTreeMap::new()).unwrap();
    }
}
