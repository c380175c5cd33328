//! *ConsistentCommittedData*: every metadata entry below a node's high watermark equals the
//! entry first seen committed at that offset on any node.
//!
//! Raft's state machine safety (Ongaro, §5.4.3): once an entry is committed, no node ever holds
//! a different entry at its index. Kafka's Raft simulation validates it the same way, against
//! the value first seen committed at each offset (apache/kafka:
//! raft/src/test/java/org/apache/kafka/raft/RaftEventSimulationTest.java,
//! `ConsistentCommittedData`).
//!
//! Incremental: per running node the checker remembers how far it compared, so each entry is
//! compared once per node; a node that goes down is compared again from the start when it comes
//! back, because its log was reloaded from disk.

use cluster::ids::NodeId;
use cluster::metadata::MetadataRecord;
use std::collections::BTreeMap;

/// The committed metadata log as first seen, and how far each running node was compared.
#[derive(Clone, Debug, Default)]
pub struct ConsistentCommittedData {
    /// The committed log as first seen: `(epoch, record)` per offset.
    committed: Vec<(i32, MetadataRecord)>,
    /// Per running node, offsets below this were compared with `committed`.
    checked: BTreeMap<NodeId, usize>,
}

impl ConsistentCommittedData {
    /// The committed entries seen so far.
    pub fn committed(&self) -> &[(i32, MetadataRecord)] {
        &self.committed
    }

    /// Compares `node`'s entries below its `high_watermark` with the committed log, from where
    /// the last observation of the node stopped. `entries` is its whole metadata log.
    ///
    /// # Errors
    /// The first offset where the node holds another entry than the one committed there first.
    pub fn observe(
        &mut self,
        node: NodeId,
        high_watermark: i64,
        entries: &[(i32, MetadataRecord)],
    ) -> Result<(), String> {
        let from = self.checked.get(&node).copied().unwrap_or(0);
        let to = (high_watermark.max(0) as usize).min(entries.len());
        let mut verdict = Ok(());
        for (offset, entry) in entries.iter().enumerate().take(to).skip(from) {
            match self.committed.get(offset) {
                Some(first) if first != entry => {
                    if verdict.is_ok() {
                        verdict = Err(format!(
                            "node {node} has {:?} (epoch {}) committed at offset {offset}, \
                             but {:?} (epoch {}) was committed there first",
                            entry.1, entry.0, first.1, first.0
                        ));
                    }
                }
                Some(_) => {}
                None => self.committed.push(entry.clone()),
            }
        }
        self.checked.insert(node, to);
        verdict
    }

    /// `node` went down: its log is reloaded from disk at restart and compared again from the
    /// start.
    pub fn node_down(&mut self, node: NodeId) {
        self.checked.remove(&node);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: NodeId = NodeId(3000);
    const B: NodeId = NodeId(3001);

    fn change(epoch: i32, leader: NodeId) -> (i32, MetadataRecord) {
        (epoch, MetadataRecord::LeaderChange { leader_id: leader, voters: vec![A, B] })
    }

    #[test]
    fn a_different_entry_at_a_committed_offset_is_caught_even_after_a_restart() {
        let mut c = ConsistentCommittedData::default();
        c.observe(A, 1, &[change(1, A)]).unwrap();
        assert!(c.observe(B, 1, &[change(2, B)]).unwrap_err().starts_with("node 3001 has LeaderChange"));
        let mut c = ConsistentCommittedData::default();
        c.observe(A, 1, &[change(1, A)]).unwrap();
        c.node_down(A);
        assert!(c.observe(A, 1, &[change(2, B)]).is_err());
    }

    #[test]
    fn an_uncommitted_tail_may_be_replaced_and_a_lagging_follower_is_fine() {
        let mut c = ConsistentCommittedData::default();
        // A holds two entries but only the first is committed.
        c.observe(A, 1, &[change(1, A), change(1, A)]).unwrap();
        // B, elected next, replaces A's uncommitted second entry: not a violation.
        c.observe(B, 2, &[change(1, A), change(2, B)]).unwrap();
        // A follower whose high watermark lags holds only a prefix.
        c.observe(A, 1, &[change(1, A)]).unwrap();
        assert_eq!(c.committed().len(), 2);
    }
}
