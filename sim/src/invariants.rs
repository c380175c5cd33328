//! Safety invariants of the KRaft quorum, checked while a run goes, after Kafka's own Raft
//! simulation test (apache/kafka: raft/src/test/java/org/apache/kafka/raft/
//! RaftEventSimulationTest.java):
//!
//! - *SingleLeader*: at most one leader per epoch, over the whole run.
//! - *MonotonicEpoch*: a node's epoch never goes back, across restarts too (it is durable in
//!   `quorum-state`).
//! - *MonotonicHighWatermark*: a running node's high watermark never goes back, and neither
//!   does the leaders' high watermark once a leader has committed in its epoch.
//! - *ConsistentCommittedData*: every entry below a node's high watermark equals the entry first
//!   seen committed at that offset on any node.
//! - *MajorityReachedHighWatermark*: a majority of voters hold every committed entry (checked
//!   at each supervisor quantum, when every node can be looked at).
//!
//! The first four are checked after every step of every node that has a metadata replica. A
//! violation stops the run with the seed and a command that reproduces it.

use cluster::ids::NodeId;
use cluster::metadata::MetadataRecord;
use cluster::raft::{QuorumRole, QuorumStatus};
use cluster::time::Instant;
use std::collections::BTreeMap;

/// What the checker remembers between observations.
#[derive(Debug, Default)]
pub struct QuorumChecker {
    voters: Vec<NodeId>,
    /// The leader of each epoch seen so far.
    leaders: BTreeMap<i32, NodeId>,
    /// The highest epoch each node has had.
    epochs: BTreeMap<NodeId, i32>,
    /// Each running node's high watermark (forgotten when it goes down).
    high_watermarks: BTreeMap<NodeId, i64>,
    /// The newest leader epoch that has committed, and the highest high watermark exposed in
    /// it or before.
    leader_high_watermark: (i32, i64),
    /// The committed log as first seen: `(epoch, record)` per offset.
    committed: Vec<(i32, MetadataRecord)>,
    /// Per node, offsets below this were compared with `committed` (forgotten when it goes down).
    checked: BTreeMap<NodeId, i64>,
    /// Per voter, at the last majority check: the committed length then and whether it held it.
    held: BTreeMap<NodeId, (usize, bool)>,
    /// The metadata log of each voter that is down, as it went down. Raft flushes every entry
    /// before it acknowledges it, so this is what its disk holds.
    down_logs: BTreeMap<NodeId, Vec<(i32, MetadataRecord)>>,
}

impl QuorumChecker {
    /// A checker for a quorum of `voters`.
    pub fn new(voters: Vec<NodeId>) -> QuorumChecker {
        QuorumChecker { voters, ..QuorumChecker::default() }
    }

    /// The committed entries seen so far.
    pub fn committed_len(&self) -> usize {
        self.committed.len()
    }

    /// Looks at one node after a step. `entries` is its whole metadata log.
    ///
    /// # Errors
    /// A sentence naming the invariant that broke and the values that broke it.
    pub fn observe(
        &mut self,
        node: NodeId,
        status: &QuorumStatus,
        entries: &[(i32, MetadataRecord)],
        now: Instant,
    ) -> Result<(), String> {
        let _ = now;
        if let Some(&before) = self.epochs.get(&node) {
            if status.epoch < before {
                return Err(format!("MonotonicEpoch: node {node}'s epoch went back from {before} to {}", status.epoch));
            }
        }
        self.epochs.insert(node, status.epoch);
        if status.role == QuorumRole::Leader {
            match self.leaders.get(&status.epoch) {
                Some(&other) if other != node => {
                    return Err(format!("SingleLeader: nodes {other} and {node} both led epoch {}", status.epoch));
                }
                Some(_) => {}
                None => {
                    self.leaders.insert(status.epoch, node);
                }
            }
        }
        let hw = status.high_watermark;
        if let Some(&before) = self.high_watermarks.get(&node) {
            if hw < before {
                return Err(format!(
                    "MonotonicHighWatermark: node {node}'s high watermark went back from {before} to {hw}"
                ));
            }
        }
        self.high_watermarks.insert(node, hw);
        // A deposed leader that has not heard of the newer epoch yet is not "the leader": only
        // the newest epoch's leader is held to the high watermarks exposed before it.
        let (newest, exposed) = self.leader_high_watermark;
        if status.role == QuorumRole::Leader && status.leader_committed && status.epoch >= newest {
            if hw < exposed {
                return Err(format!(
                    "MonotonicHighWatermark: leader {node} of epoch {} exposes high watermark {hw}, below {exposed} exposed before",
                    status.epoch
                ));
            }
            self.leader_high_watermark = (status.epoch, hw);
        }
        let from = self.checked.get(&node).copied().unwrap_or(0).max(0) as usize;
        let to = (hw.max(0) as usize).min(entries.len());
        for (offset, entry) in entries.iter().enumerate().take(to).skip(from) {
            match self.committed.get(offset) {
                Some(first) if first != entry => {
                    return Err(format!(
                        "ConsistentCommittedData: node {node} has {:?} (epoch {}) committed at offset {offset}, \
                         but {:?} (epoch {}) was committed there first",
                        entry.1, entry.0, first.1, first.0
                    ));
                }
                Some(_) => {}
                None => self.committed.push(entry.clone()),
            }
        }
        self.checked.insert(node, to as i64);
        Ok(())
    }

    /// A node went down: its in-memory state is gone; its durable epoch is still remembered.
    /// `log` is its metadata log as it went down.
    pub fn node_down(&mut self, node: NodeId, log: Option<Vec<(i32, MetadataRecord)>>) {
        self.high_watermarks.remove(&node);
        self.checked.remove(&node);
        if let Some(log) = log {
            self.down_logs.insert(node, log);
        }
    }

    /// *MajorityReachedHighWatermark*, given the entry each running voter holds at the last
    /// committed offset (`None` when its log is shorter). A voter that is down counts with the
    /// log it went down with (see [`QuorumChecker::node_down`]), else with what it held when
    /// last checked. Raft's log matching makes the last entry stand for the prefix.
    ///
    /// # Errors
    /// A sentence naming the voters that hold the committed entries.
    pub fn check_majority(&mut self, running: &BTreeMap<NodeId, Option<(i32, MetadataRecord)>>) -> Result<(), String> {
        let c = self.committed.len();
        if c == 0 {
            return Ok(());
        }
        let last = &self.committed[c - 1];
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
                "MajorityReachedHighWatermark: only voters {holders:?} hold the {c} committed metadata entries; \
                 a majority is {majority} of {}",
                self.voters.len()
            ));
        }
        Ok(())
    }
}
