//! Kafka's error codes, by the names and wire numbers of
//! `org.apache.kafka.common.protocol.Errors` (apache/kafka: clients/.../protocol/Errors.java).

use serde::{Deserialize, Serialize};
use std::fmt;

/// An error a broker or controller returns in a response. Only the codes the simulator can
/// produce are listed; each variant's doc names when it is returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ErrorCode {
    /// 1: the requested offset is outside `[log_start_offset, log_end_offset]`.
    OffsetOutOfRange,
    /// 6: this broker does not lead the partition (or does not host it).
    NotLeaderOrFollower,
    /// 7: the request waited longer than its timeout (for `acks=all`, the write may still
    /// commit later).
    RequestTimedOut,
    /// 15: the group coordinator is loading or not yet known.
    CoordinatorNotAvailable,
    /// 16: this broker is not the coordinator for the group.
    NotCoordinator,
    /// 19: `acks=all` and the ISR is smaller than `min.insync.replicas`; nothing was appended.
    NotEnoughReplicas,
    /// 20: the write was appended, but the ISR shrank below `min.insync.replicas` before it
    /// was acknowledged.
    NotEnoughReplicasAfterAppend,
    /// 21: `acks` was not -1, 0 or 1.
    InvalidRequiredAcks,
    /// 22: the request carried a generation other than the group's current one.
    IllegalGeneration,
    /// 25: the coordinator does not know this member id.
    UnknownMemberId,
    /// 27: the group is rebalancing; the member must rejoin.
    RebalanceInProgress,
    /// 13: the connection closed before a response arrived (a client-side error in Kafka,
    /// `NetworkException`).
    NetworkException,
    /// 3: the topic or partition does not exist.
    UnknownTopicOrPartition,
    /// 74: the request's leader epoch is older than the partition's.
    FencedLeaderEpoch,
    /// 75: the request's leader epoch is newer than the broker knows.
    UnknownLeaderEpoch,
    /// 77: a broker request carried an old broker epoch.
    StaleBrokerEpoch,
    /// 79: first JoinGroup without a member id; rejoin with the id in the response (KIP-394).
    MemberIdRequired,
    /// 82: a static member's `group.instance.id` now belongs to a newer member id (KIP-345).
    FencedInstanceId,
    /// 23: the member offers no assignor that every other member also offers.
    InconsistentGroupProtocol,
    /// 41: the request went to a controller that is not the active one (the Raft leader, once
    /// it has committed its first entry).
    NotController,
    /// 58: AlterPartition was based on a stale partition epoch.
    InvalidUpdateVersion,
    /// 87: the broker refused a record, such as a keyless record for a compacted topic
    /// (`InvalidRecordException` from `LogValidator`). Not retriable.
    InvalidRecord,
    /// 10: the batch is larger than the topic's `max.message.bytes` (`MESSAGE_TOO_LARGE`).
    MessageTooLarge,
    /// 45: an idempotent producer's batch does not continue its sequence.
    OutOfOrderSequenceNumber,
    /// 46: a duplicate sequence (defined; current brokers answer duplicates with the original
    /// offsets instead).
    DuplicateSequenceNumber,
    /// 47: the producer epoch is older than the one the broker knows (fenced producer).
    InvalidProducerEpoch,
    /// 59: the broker has no state for this producer id (pre-KIP-360 answer).
    UnknownProducerId,
    /// 89: AlterPartition asked to add a replica that is not eligible (fenced or offline).
    IneligibleReplica,
    /// 70: an incremental Fetch named a fetch session the leader does not hold (KIP-227).
    FetchSessionIdNotFound,
    /// 71: an incremental Fetch carried another session epoch than the leader expects (KIP-227).
    InvalidFetchSessionEpoch,
}

impl ErrorCode {
    /// The wire number Kafka uses for this error.
    pub fn code(self) -> i16 {
        match self {
            ErrorCode::OffsetOutOfRange => 1,
            ErrorCode::UnknownTopicOrPartition => 3,
            ErrorCode::NetworkException => 13,
            ErrorCode::NotLeaderOrFollower => 6,
            ErrorCode::RequestTimedOut => 7,
            ErrorCode::CoordinatorNotAvailable => 15,
            ErrorCode::NotCoordinator => 16,
            ErrorCode::NotEnoughReplicas => 19,
            ErrorCode::NotEnoughReplicasAfterAppend => 20,
            ErrorCode::InvalidRequiredAcks => 21,
            ErrorCode::IllegalGeneration => 22,
            ErrorCode::UnknownMemberId => 25,
            ErrorCode::RebalanceInProgress => 27,
            ErrorCode::NotController => 41,
            ErrorCode::InvalidUpdateVersion => 58,
            ErrorCode::FencedLeaderEpoch => 74,
            ErrorCode::UnknownLeaderEpoch => 75,
            ErrorCode::StaleBrokerEpoch => 77,
            ErrorCode::MemberIdRequired => 79,
            ErrorCode::FencedInstanceId => 82,
            ErrorCode::InconsistentGroupProtocol => 23,
            ErrorCode::InvalidRecord => 87,
            ErrorCode::MessageTooLarge => 10,
            ErrorCode::OutOfOrderSequenceNumber => 45,
            ErrorCode::DuplicateSequenceNumber => 46,
            ErrorCode::InvalidProducerEpoch => 47,
            ErrorCode::UnknownProducerId => 59,
            ErrorCode::IneligibleReplica => 89,
            ErrorCode::FetchSessionIdNotFound => 70,
            ErrorCode::InvalidFetchSessionEpoch => 71,
        }
    }

    /// The upper-case name Kafka prints (`NOT_ENOUGH_REPLICAS`).
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::OffsetOutOfRange => "OFFSET_OUT_OF_RANGE",
            ErrorCode::UnknownTopicOrPartition => "UNKNOWN_TOPIC_OR_PARTITION",
            ErrorCode::NetworkException => "NETWORK_EXCEPTION",
            ErrorCode::NotLeaderOrFollower => "NOT_LEADER_OR_FOLLOWER",
            ErrorCode::RequestTimedOut => "REQUEST_TIMED_OUT",
            ErrorCode::CoordinatorNotAvailable => "COORDINATOR_NOT_AVAILABLE",
            ErrorCode::NotCoordinator => "NOT_COORDINATOR",
            ErrorCode::NotEnoughReplicas => "NOT_ENOUGH_REPLICAS",
            ErrorCode::NotEnoughReplicasAfterAppend => "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
            ErrorCode::InvalidRequiredAcks => "INVALID_REQUIRED_ACKS",
            ErrorCode::IllegalGeneration => "ILLEGAL_GENERATION",
            ErrorCode::UnknownMemberId => "UNKNOWN_MEMBER_ID",
            ErrorCode::RebalanceInProgress => "REBALANCE_IN_PROGRESS",
            ErrorCode::NotController => "NOT_CONTROLLER",
            ErrorCode::InvalidUpdateVersion => "INVALID_UPDATE_VERSION",
            ErrorCode::FencedLeaderEpoch => "FENCED_LEADER_EPOCH",
            ErrorCode::UnknownLeaderEpoch => "UNKNOWN_LEADER_EPOCH",
            ErrorCode::StaleBrokerEpoch => "STALE_BROKER_EPOCH",
            ErrorCode::MemberIdRequired => "MEMBER_ID_REQUIRED",
            ErrorCode::FencedInstanceId => "FENCED_INSTANCE_ID",
            ErrorCode::InconsistentGroupProtocol => "INCONSISTENT_GROUP_PROTOCOL",
            ErrorCode::InvalidRecord => "INVALID_RECORD",
            ErrorCode::MessageTooLarge => "MESSAGE_TOO_LARGE",
            ErrorCode::OutOfOrderSequenceNumber => "OUT_OF_ORDER_SEQUENCE_NUMBER",
            ErrorCode::DuplicateSequenceNumber => "DUPLICATE_SEQUENCE_NUMBER",
            ErrorCode::InvalidProducerEpoch => "INVALID_PRODUCER_EPOCH",
            ErrorCode::UnknownProducerId => "UNKNOWN_PRODUCER_ID",
            ErrorCode::IneligibleReplica => "INELIGIBLE_REPLICA",
            ErrorCode::FetchSessionIdNotFound => "FETCH_SESSION_ID_NOT_FOUND",
            ErrorCode::InvalidFetchSessionEpoch => "INVALID_FETCH_SESSION_EPOCH",
        }
    }

    /// The error Kafka names `name` (`NOT_ENOUGH_REPLICAS`), among those the simulator uses.
    pub fn from_name(name: &str) -> Option<ErrorCode> {
        use ErrorCode::*;
        [
            OffsetOutOfRange,
            UnknownTopicOrPartition,
            NetworkException,
            NotLeaderOrFollower,
            RequestTimedOut,
            CoordinatorNotAvailable,
            NotCoordinator,
            NotEnoughReplicas,
            NotEnoughReplicasAfterAppend,
            InvalidRequiredAcks,
            IllegalGeneration,
            UnknownMemberId,
            RebalanceInProgress,
            NotController,
            InvalidUpdateVersion,
            FencedLeaderEpoch,
            UnknownLeaderEpoch,
            StaleBrokerEpoch,
            MemberIdRequired,
            FencedInstanceId,
            InconsistentGroupProtocol,
            InvalidRecord,
            IneligibleReplica,
            MessageTooLarge,
            OutOfOrderSequenceNumber,
            DuplicateSequenceNumber,
            InvalidProducerEpoch,
            UnknownProducerId,
            FetchSessionIdNotFound,
            InvalidFetchSessionEpoch,
        ]
        .into_iter()
        .find(|e| e.name() == name)
    }

    /// Whether a producer may retry the request (Kafka's `RetriableException` subclasses).
    pub fn is_retriable(self) -> bool {
        matches!(
            self,
            ErrorCode::NotLeaderOrFollower
                | ErrorCode::RequestTimedOut
                | ErrorCode::NotEnoughReplicas
                | ErrorCode::NotEnoughReplicasAfterAppend
                | ErrorCode::UnknownTopicOrPartition
                | ErrorCode::NetworkException
                | ErrorCode::FencedLeaderEpoch
                | ErrorCode::UnknownLeaderEpoch
                | ErrorCode::CoordinatorNotAvailable
                | ErrorCode::NotCoordinator
                | ErrorCode::NotController
        )
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.code())
    }
}
