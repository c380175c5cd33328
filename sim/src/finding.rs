//! The names of everything the checker can find: the history oracle's anomalies (after
//! Jepsen's Kafka workload) and the invariants checked while a run goes. Scenario expectations
//! name them both ways, `Happens(PollSkip)` and `NeverHappens(Violation(LeaderInIsr))`, and the
//! swarm prints them in its summary.
//!
//! The definitions live next to their checkers: anomalies in [`crate::oracle`], invariants in
//! [`crate::invariants`], one file each.

use serde::{Deserialize, Serialize};

/// A safety property checked at every supervisor quantum (and for the quorum after every step
/// of a node). A violation stops the run with the seed and a reproduce command, unless the
/// scenario expects it with `Happens(Violation(..))`; then it is recorded in the trace as
/// [`crate::trace::TraceBody::Violation`] and the run goes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Invariant {
    // ---- the KRaft quorum (apache/kafka: raft/.../RaftEventSimulationTest.java) ----
    /// At most one quorum leader per epoch over the whole run.
    SingleLeader,
    /// A node's quorum epoch never goes back, across restarts too.
    MonotonicEpoch,
    /// A running node's metadata high watermark never goes back, nor the leaders'.
    MonotonicHighWatermark,
    /// Every metadata entry below a node's high watermark equals the one first committed there.
    ConsistentCommittedData,
    /// A majority of voters hold every committed metadata entry.
    MajorityReachedHighWatermark,
    // ---- partition replication (KIP-101, KIP-279, kafka-semantics §6–§9) ----
    /// `log_start_offset <= high_watermark <= log_end_offset` on every replica.
    OffsetsInOrder,
    /// The leader of a partition is a member of its ISR.
    LeaderInIsr,
    /// The leader's high watermark never goes back within a leader epoch, and a new leader
    /// never exposes a lower one than the partition had committed (clean elections only).
    MonotonicPartitionHighWatermark,
    /// No two replicas hold different records below both their high watermarks.
    ReplicasAgreeBelowHighWatermark,
    // ---- consumer groups (classic protocol, KIP-429) ----
    /// No partition has two owners in one generation.
    SingleOwnerPerGeneration,
    /// A group's committed offset for a partition never goes back, except by an explicit seek
    /// or an offset reset.
    CommittedOffsetsNeverRegress,
    // ---- log compaction (kafka-semantics §4) ----
    /// After cleaning, the latest record of every key below the cleaned point is still there.
    CompactionKeepsLatestPerKey,
    /// Offsets in a log only increase, before and after cleaning.
    OffsetsIncrease,
    /// A tombstone stays readable for at least `delete.retention.ms` after the cleaner first
    /// reached it.
    TombstoneRetention,
}

impl Invariant {
    /// Every invariant, in declaration order.
    pub const ALL: [Invariant; 14] = [
        Invariant::SingleLeader,
        Invariant::MonotonicEpoch,
        Invariant::MonotonicHighWatermark,
        Invariant::ConsistentCommittedData,
        Invariant::MajorityReachedHighWatermark,
        Invariant::OffsetsInOrder,
        Invariant::LeaderInIsr,
        Invariant::MonotonicPartitionHighWatermark,
        Invariant::ReplicasAgreeBelowHighWatermark,
        Invariant::SingleOwnerPerGeneration,
        Invariant::CommittedOffsetsNeverRegress,
        Invariant::CompactionKeepsLatestPerKey,
        Invariant::OffsetsIncrease,
        Invariant::TombstoneRetention,
    ];

    /// The name as written in scenario files, e.g. `LeaderInIsr`.
    pub fn name(self) -> String {
        format!("{self:?}")
    }
}

impl std::fmt::Display for Invariant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

/// An anomaly the history oracle finds in the clients' history (jepsen-io/jepsen:
/// jepsen/src/jepsen/tests/kafka.clj; kafka-semantics §19).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Anomaly {
    /// An acknowledged send missing from the final log, not removed by retention or compaction.
    LostAckedWrite,
    /// One send stored at two offsets.
    Duplicate,
    /// One offset holding two values, or a send acknowledged at one offset and stored at another.
    InconsistentOffset,
    /// A consumer's next poll of a partition, within one assignment, skipped offsets that hold
    /// records.
    PollSkip,
    /// A consumer's next poll of a partition, within one assignment and without a seek, began
    /// at or before the offset its last poll ended at.
    NonMonotonicPoll,
    /// A producer's later send to a partition was acknowledged at a lower offset than an
    /// earlier one.
    NonMonotonicSend,
    /// An acknowledged send that a group reading its partition went past without ever polling.
    Unseen,
}

impl Anomaly {
    /// Every anomaly, in declaration order.
    pub const ALL: [Anomaly; 7] = [
        Anomaly::LostAckedWrite,
        Anomaly::Duplicate,
        Anomaly::InconsistentOffset,
        Anomaly::PollSkip,
        Anomaly::NonMonotonicPoll,
        Anomaly::NonMonotonicSend,
        Anomaly::Unseen,
    ];
}

impl std::fmt::Display for Anomaly {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

/// Anything the checker can find, as scenario expectations name it: an anomaly by its name
/// (`PollSkip`) or an invariant violation (`Violation(LeaderInIsr)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Finding {
    /// See [`Anomaly::LostAckedWrite`].
    LostAckedWrite,
    /// See [`Anomaly::Duplicate`].
    Duplicate,
    /// See [`Anomaly::InconsistentOffset`].
    InconsistentOffset,
    /// See [`Anomaly::PollSkip`].
    PollSkip,
    /// See [`Anomaly::NonMonotonicPoll`].
    NonMonotonicPoll,
    /// See [`Anomaly::NonMonotonicSend`].
    NonMonotonicSend,
    /// See [`Anomaly::Unseen`].
    Unseen,
    /// A violated invariant.
    Violation(Invariant),
}

impl Finding {
    /// The anomaly this finding names, if it names one.
    pub fn anomaly(self) -> Option<Anomaly> {
        Some(match self {
            Finding::LostAckedWrite => Anomaly::LostAckedWrite,
            Finding::Duplicate => Anomaly::Duplicate,
            Finding::InconsistentOffset => Anomaly::InconsistentOffset,
            Finding::PollSkip => Anomaly::PollSkip,
            Finding::NonMonotonicPoll => Anomaly::NonMonotonicPoll,
            Finding::NonMonotonicSend => Anomaly::NonMonotonicSend,
            Finding::Unseen => Anomaly::Unseen,
            Finding::Violation(_) => return None,
        })
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finding::Violation(i) => write!(f, "Violation({i})"),
            other => write!(f, "{other:?}"),
        }
    }
}
