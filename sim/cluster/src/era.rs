//! Behaviour eras: which of Kafka's rules a run follows, chosen by the scenario's
//! `kafka_version`.
//!
//! Kafka changed several replication and producer rules over its history, each time because the
//! old rule lost or corrupted data. The lab keeps the old rules so a learner can watch them fail:
//! a `kafka_version` expands into the feature flags below, one per rule change, each naming the
//! KIP or JIRA that made it. The cluster is always a KRaft cluster; an era only switches the rules
//! these flags name, so "0.10" means "a KRaft cluster whose replicas recover the way 0.10's did".

use crate::log::producer_state::UnknownProducerRule;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A Kafka release whose rules the lab can follow. Versions in between behave like the
/// nearest one below.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum KafkaVersion {
    /// 0.10: replicas truncate to their high watermark before following (before KIP-101).
    V0_10,
    /// 0.11: leader epochs (KIP-101), idempotent producer (KIP-98), unclean election off by
    /// default.
    V0_11,
    /// 2.0: the epoch lookup answer names the epoch, so followers iterate (KIP-279); followers
    /// fetch in incremental fetch sessions (KIP-227, 1.1).
    V2_0,
    /// 2.8: followers learn divergence from the Fetch response itself (KIP-595 style
    /// `DivergingEpoch`, KAFKA-10554); no separate `OffsetsForLeaderEpoch` round trip.
    V2_8,
    /// 3.6: an ISR shrink no longer bumps the leader epoch (KAFKA-15021).
    V3_6,
    /// 3.9: the high watermark freezes while the ISR is below `min.insync.replicas`
    /// (KAFKA-15583, 3.7), check-quorum in KRaft (KAFKA-15489, 3.7), KIP-794's uniform sticky
    /// partitioner (3.3).
    V3_9,
    /// 4.0: KRaft pre-vote (KIP-996).
    V4_0,
    /// 4.5: a partition whose log has never held a record takes only sequence 0 from a
    /// producer it has no state for (KAFKA-15591).
    V4_5,
}

impl KafkaVersion {
    /// Every version, oldest first.
    pub const ALL: [KafkaVersion; 8] = [
        KafkaVersion::V0_10,
        KafkaVersion::V0_11,
        KafkaVersion::V2_0,
        KafkaVersion::V2_8,
        KafkaVersion::V3_6,
        KafkaVersion::V3_9,
        KafkaVersion::V4_0,
        KafkaVersion::V4_5,
    ];

    /// The default: the current era.
    pub const CURRENT: KafkaVersion = KafkaVersion::V4_0;

    /// The version as written in scenarios (`"0.10"`, `"4.0"`).
    pub fn as_str(self) -> &'static str {
        match self {
            KafkaVersion::V0_10 => "0.10",
            KafkaVersion::V0_11 => "0.11",
            KafkaVersion::V2_0 => "2.0",
            KafkaVersion::V2_8 => "2.8",
            KafkaVersion::V3_6 => "3.6",
            KafkaVersion::V3_9 => "3.9",
            KafkaVersion::V4_0 => "4.0",
            KafkaVersion::V4_5 => "4.5",
        }
    }

    /// The version written `text`, if the lab knows it.
    pub fn parse(text: &str) -> Option<KafkaVersion> {
        KafkaVersion::ALL.into_iter().find(|v| v.as_str() == text)
    }

    /// The rules of this version.
    pub fn era(self) -> Era {
        Era::of(self)
    }
}

impl fmt::Display for KafkaVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The rules of one era, one flag per rule change. `Era::default()` is the current era.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Era {
    /// The version these flags came from.
    pub version: KafkaVersion,
    /// Before KIP-101 (0.11, KAFKA-1211): a replica that restarts or becomes a follower first
    /// truncates its log to its own checkpointed high watermark. Followers learn the high
    /// watermark a round trip late, so this can cut acknowledged records (section 10 of the
    /// semantics reference, both scenarios).
    pub truncate_to_hw_on_become_follower: bool,
    /// KIP-101 (0.11) until 2.8: a new follower asks the leader `OffsetsForLeaderEpoch` where
    /// its last epoch ends and truncates there before its first fetch.
    pub offsets_for_leader_epoch_on_become_follower: bool,
    /// KIP-279 (2.0): the `OffsetsForLeaderEpoch` answer names the epoch it is about, so the
    /// follower can look again when the leader never saw the follower's epoch.
    pub epoch_in_lookup_answer: bool,
    /// KIP-227 (1.1): followers fetch in incremental fetch sessions, naming only the
    /// partitions whose fetch state changed, and leaders answer only the partitions that have
    /// something new (see [`crate::fetch_session`]).
    pub incremental_fetch_sessions: bool,
    /// KIP-320 (2.2 for replicas, 2.3 for consumers): fetchers send their current leader
    /// epoch and a leader answers `FENCED_LEADER_EPOCH` or `UNKNOWN_LEADER_EPOCH` on mismatch.
    pub fetch_epoch_fencing: bool,
    /// KAFKA-10554 (2.8): the leader checks every follower Fetch against its epoch cache and
    /// answers `DivergingEpoch`; the follower truncates on the fetch path.
    pub diverging_epoch_in_fetch: bool,
    /// KAFKA-15021 (3.6): before it, an ISR shrink also bumped the leader epoch.
    pub leader_epoch_bump_on_shrink: bool,
    /// KAFKA-15583 (3.7): the leader's high watermark does not advance while the committed ISR
    /// is smaller than `min.insync.replicas`.
    pub freeze_hw_under_min_isr: bool,
    /// `unclean.leader.election.enable` defaults to `true` before 0.11 (KIP-106).
    pub unclean_election_default: bool,
    /// `enable.idempotence=true` and `acks=all` by default from 3.0 (KIP-679).
    pub idempotence_default: bool,
    /// KIP-360 (2.5): a broker with no state for a producer id accepts any sequence instead of
    /// answering `UNKNOWN_PRODUCER_ID`.
    pub unknown_producer_id_any_sequence: bool,
    /// KAFKA-15591 (4.5): a partition whose log has never held a record takes only sequence 0
    /// from a producer it has no state for, and answers `OUT_OF_ORDER_SEQUENCE_NUMBER`
    /// otherwise. Before it, two batches in flight to a partition its leader has just learnt
    /// about could land in the wrong order (see [`crate::log::producer_state::UnknownProducerRule`]).
    pub first_sequence_zero_on_new_partition: bool,
    /// KIP-794 (3.3): keyless records stick to a partition until `batch.size` bytes went to
    /// it, instead of switching partition on every new batch (KIP-480, 2.4).
    pub uniform_sticky_partitioner: bool,
    /// KRaft check-quorum (KAFKA-15489, 3.7): a leader that hears from no majority resigns.
    pub raft_check_quorum: bool,
    /// KIP-996 (4.0): candidates first ask for pre-votes.
    pub raft_pre_vote: bool,
}

impl Era {
    /// The rules of `version`.
    pub fn of(version: KafkaVersion) -> Era {
        use KafkaVersion::*;
        Era {
            version,
            truncate_to_hw_on_become_follower: version < V0_11,
            offsets_for_leader_epoch_on_become_follower: (V0_11..V2_8).contains(&version),
            epoch_in_lookup_answer: version >= V2_0,
            incremental_fetch_sessions: version >= V2_0,
            fetch_epoch_fencing: version >= V2_8,
            diverging_epoch_in_fetch: version >= V2_8,
            leader_epoch_bump_on_shrink: version < V3_6,
            freeze_hw_under_min_isr: version >= V3_9,
            unclean_election_default: version < V0_11,
            idempotence_default: version >= V3_6,
            unknown_producer_id_any_sequence: version >= V2_8,
            first_sequence_zero_on_new_partition: version >= V4_5,
            uniform_sticky_partitioner: version >= V3_6,
            raft_check_quorum: version >= V3_9,
            raft_pre_vote: version >= V4_0,
        }
    }

    /// What a leader accepts as the first batch of a producer id it has no state for.
    pub fn unknown_producer_rule(&self) -> UnknownProducerRule {
        if self.first_sequence_zero_on_new_partition {
            UnknownProducerRule::SequenceZeroOnNeverWritten
        } else if self.unknown_producer_id_any_sequence {
            UnknownProducerRule::AnySequence
        } else {
            UnknownProducerRule::SequenceZero
        }
    }

    /// Whether replicas use leader epochs at all (0.11 and later).
    pub fn has_leader_epochs(&self) -> bool {
        !self.truncate_to_hw_on_become_follower
    }
}

impl Default for Era {
    fn default() -> Self {
        Era::of(KafkaVersion::CURRENT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_round_trip_and_eras_switch_where_kafka_did() {
        for v in KafkaVersion::ALL {
            assert_eq!(KafkaVersion::parse(v.as_str()), Some(v));
        }
        assert_eq!(KafkaVersion::parse("2.7"), None);
        let legacy = KafkaVersion::V0_10.era();
        assert!(legacy.truncate_to_hw_on_become_follower && !legacy.has_leader_epochs());
        assert!(legacy.unclean_election_default && !legacy.diverging_epoch_in_fetch);
        let epochs = KafkaVersion::V0_11.era();
        assert!(epochs.offsets_for_leader_epoch_on_become_follower && !epochs.epoch_in_lookup_answer);
        assert!(!epochs.freeze_hw_under_min_isr && epochs.leader_epoch_bump_on_shrink);
        assert!(!epochs.incremental_fetch_sessions && KafkaVersion::V2_0.era().incremental_fetch_sessions);
        let current = Era::default();
        assert_eq!(current.version, KafkaVersion::V4_0);
        assert!(current.diverging_epoch_in_fetch && current.freeze_hw_under_min_isr && current.raft_pre_vote);
        assert!(!current.offsets_for_leader_epoch_on_become_follower && !current.unclean_election_default);
        assert!(!KafkaVersion::V3_9.era().raft_pre_vote);
        assert_eq!(current.unknown_producer_rule(), UnknownProducerRule::AnySequence);
        assert_eq!(KafkaVersion::V2_0.era().unknown_producer_rule(), UnknownProducerRule::SequenceZero);
        assert_eq!(KafkaVersion::V4_5.era().unknown_producer_rule(), UnknownProducerRule::SequenceZeroOnNeverWritten);
    }
}
