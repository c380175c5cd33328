//! *LeaderInIsr*: the leader of a partition is a member of its ISR.
//!
//! The controller builds every partition change so that the leader is in the ISR (apache/kafka:
//! metadata/src/main/java/org/apache/kafka/controller/PartitionChangeBuilder.java): a clean
//! election picks the leader from the ISR; an ISR shrink never removes the leader; and an
//! unclean election (only when `unclean.leader.election.enable` allows it) sets the ISR to
//! just the new leader (KIP-704). A broker acts as leader only in the state the controller
//! committed (`Partition.makeLeader`), so a replica that leads while outside its own ISR means
//! the controller or the broker broke the rule (kafka-semantics §8, §9).
//!
//! Checked on the replica that acts as leader, in the state it acts on. Stateless.

use cluster::ids::{NodeId, TopicPartition};

/// Checks that a leading replica is in the ISR it leads.
#[derive(Clone, Copy, Debug, Default)]
pub struct LeaderInIsr;

impl LeaderInIsr {
    /// Looks at the replica of `tp` on `broker`, which acts as leader in `leader_epoch` with
    /// `isr`.
    ///
    /// # Errors
    /// The leader and the ISR it is missing from.
    pub fn observe(
        &mut self,
        broker: NodeId,
        tp: &TopicPartition,
        leader_epoch: i32,
        isr: &[NodeId],
    ) -> Result<(), String> {
        if isr.contains(&broker) {
            return Ok(());
        }
        let isr: Vec<i32> = isr.iter().map(|b| b.0).collect();
        Err(format!("broker {broker} leads {tp} in leader epoch {leader_epoch}, but the ISR is {isr:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_leader_outside_its_isr_is_caught() {
        let tp = TopicPartition::new("orders", 0);
        let verdict = LeaderInIsr.observe(NodeId(1), &tp, 4, &[NodeId(2), NodeId(3)]);
        assert_eq!(verdict.unwrap_err(), "broker 1 leads orders-0 in leader epoch 4, but the ISR is [2, 3]");
    }

    #[test]
    fn a_shrunk_isr_and_an_unclean_leader_alone_in_it_are_fine() {
        let tp = TopicPartition::new("orders", 0);
        // The ISR shrank to the leader alone (min.insync.replicas=1 keeps accepting writes).
        LeaderInIsr.observe(NodeId(2), &tp, 3, &[NodeId(2)]).unwrap();
        // An unclean election sets the ISR to the new leader.
        LeaderInIsr.observe(NodeId(1), &tp, 4, &[NodeId(1)]).unwrap();
    }
}
