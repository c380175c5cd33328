//! The requests and responses nodes exchange, named after Kafka's APIs.
//!
//! Each request carries a `correlation_id` that its response echoes, as on Kafka's wire. The
//! simulator passes these values between madsim nodes without serialising them; batches are
//! shared (`Arc`) so a fetch response does not copy the log.

use crate::error::ErrorCode;
use crate::ids::{NodeId, TopicPartition};
use crate::metadata::{MetadataRecord, PartitionState};
use crate::record::{Record, RecordBatch};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Kafka's `replica_id` for consumers in a Fetch request.
pub const CONSUMER_REPLICA_ID: i32 = -1;
/// ListOffsets timestamp meaning "the log start offset".
pub const EARLIEST_TIMESTAMP: i64 = -2;
/// ListOffsets timestamp meaning "the log end offset" (high watermark for consumers).
pub const LATEST_TIMESTAMP: i64 = -1;

/// One partition of a Fetch request.
#[derive(Clone, Debug, PartialEq)]
pub struct FetchPartition {
    /// The partition.
    pub tp: TopicPartition,
    /// The fetcher's view of the leader epoch (KIP-320 fencing).
    pub current_leader_epoch: i32,
    /// First offset wanted; for a follower this is its LEO.
    pub fetch_offset: i64,
    /// Epoch of the follower's last batch, -1 if none (divergence check, KIP-595 style
    /// truncation on fetch, Kafka 2.7+).
    pub last_fetched_epoch: i32,
}

/// One partition of a Fetch response.
#[derive(Clone, Debug, PartialEq)]
pub struct FetchPartitionResponse {
    /// The partition.
    pub tp: TopicPartition,
    /// `None` on success.
    pub error: Option<ErrorCode>,
    /// The leader's high watermark.
    pub high_watermark: i64,
    /// The leader's log start offset.
    pub log_start_offset: i64,
    /// Set when the follower's log diverges: `(epoch, end_offset)` to truncate by.
    pub diverging_epoch: Option<(i32, i64)>,
    /// Batches from `fetch_offset` on.
    pub batches: Vec<Arc<RecordBatch>>,
}

/// A consumer group member as the coordinator reports it to the group leader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinedMember {
    /// Coordinator-assigned member id.
    pub member_id: String,
    /// Static membership id (KIP-345), unused for now.
    pub group_instance_id: Option<String>,
    /// Topics the member subscribes to.
    pub topics: Vec<String>,
}

/// Every message in the simulated network.
#[derive(Clone, Debug, PartialEq)]
pub enum Message {
    // ---- controller APIs (KIP-631) ----
    /// Broker → controller at startup.
    BrokerRegistration { correlation_id: u64, broker_id: NodeId, incarnation: u64 },
    /// Controller → broker: the broker epoch is the registration record's offset.
    BrokerRegistrationResponse { correlation_id: u64, broker_epoch: i64 },
    /// Broker → controller every `broker.heartbeat.interval.ms`.
    BrokerHeartbeat { correlation_id: u64, broker_id: NodeId, broker_epoch: i64, metadata_offset: i64 },
    /// Controller → broker.
    BrokerHeartbeatResponse { correlation_id: u64, error: Option<ErrorCode>, is_fenced: bool },
    /// Broker → controller: long-poll for metadata records from `fetch_offset` (KRaft brokers
    /// follow the metadata log as observers).
    MetadataFetch { correlation_id: u64, broker_id: NodeId, fetch_offset: i64 },
    /// Controller → broker: records at `[base_offset, base_offset + records.len())`.
    MetadataFetchResponse { correlation_id: u64, base_offset: i64, records: Vec<MetadataRecord> },
    /// Partition leader → controller: change the ISR (KIP-497).
    AlterPartition {
        correlation_id: u64,
        broker_id: NodeId,
        broker_epoch: i64,
        tp: TopicPartition,
        leader_epoch: i32,
        partition_epoch: i32,
        new_isr: Vec<NodeId>,
    },
    /// Controller → leader: the committed partition state, or an error.
    AlterPartitionResponse {
        correlation_id: u64,
        tp: TopicPartition,
        error: Option<ErrorCode>,
        state: Option<PartitionState>,
    },

    // ---- client and replica APIs ----
    /// Client → any broker: who leads what, and which brokers are alive.
    Metadata { correlation_id: u64, topics: Vec<String> },
    /// Broker → client.
    MetadataResponse { correlation_id: u64, brokers: Vec<NodeId>, partitions: Vec<PartitionState> },
    /// Producer → leader.
    Produce {
        correlation_id: u64,
        /// -1 (all), 0 or 1.
        acks: i16,
        /// How long the leader may wait for `acks=all` (`request.timeout.ms`).
        timeout_ms: u64,
        tp: TopicPartition,
        /// Records with offset deltas 0..n; the leader assigns offsets.
        records: Vec<Record>,
    },
    /// Leader → producer (never sent for `acks=0`).
    ProduceResponse { correlation_id: u64, tp: TopicPartition, error: Option<ErrorCode>, base_offset: i64 },
    /// Follower or consumer → leader.
    Fetch {
        correlation_id: u64,
        /// The follower's broker id, or [`CONSUMER_REPLICA_ID`].
        replica_id: i32,
        /// The follower's broker epoch (-1 for consumers).
        broker_epoch: i64,
        /// Long-poll bound (`replica.fetch.wait.max.ms` / `fetch.max.wait.ms`).
        max_wait_ms: u64,
        partitions: Vec<FetchPartition>,
    },
    /// Leader → fetcher.
    FetchResponse { correlation_id: u64, partitions: Vec<FetchPartitionResponse> },
    /// Consumer → leader: earliest or latest offset.
    ListOffsets { correlation_id: u64, tp: TopicPartition, timestamp: i64 },
    /// Leader → consumer.
    ListOffsetsResponse { correlation_id: u64, tp: TopicPartition, error: Option<ErrorCode>, offset: i64 },

    // ---- group APIs (classic protocol) ----
    /// Client → any broker: which broker coordinates this group.
    FindCoordinator { correlation_id: u64, group_id: String },
    /// Broker → client.
    FindCoordinatorResponse { correlation_id: u64, error: Option<ErrorCode>, coordinator: Option<NodeId> },
    /// Member → coordinator.
    JoinGroup {
        correlation_id: u64,
        group_id: String,
        member_id: String,
        client_id: String,
        session_timeout_ms: u64,
        rebalance_timeout_ms: u64,
        protocol: String,
        topics: Vec<String>,
    },
    /// Coordinator → member; `members` is filled for the leader only.
    JoinGroupResponse {
        correlation_id: u64,
        error: Option<ErrorCode>,
        generation_id: i32,
        protocol: String,
        leader: String,
        member_id: String,
        members: Vec<JoinedMember>,
    },
    /// Member → coordinator; the leader sends the assignment.
    SyncGroup {
        correlation_id: u64,
        group_id: String,
        generation_id: i32,
        member_id: String,
        assignments: BTreeMap<String, Vec<TopicPartition>>,
    },
    /// Coordinator → member.
    SyncGroupResponse { correlation_id: u64, error: Option<ErrorCode>, assignment: Vec<TopicPartition> },
    /// Member → coordinator every `heartbeat.interval.ms`.
    Heartbeat { correlation_id: u64, group_id: String, generation_id: i32, member_id: String },
    /// Coordinator → member.
    HeartbeatResponse { correlation_id: u64, error: Option<ErrorCode> },
    /// Member → coordinator on a clean shutdown.
    LeaveGroup { correlation_id: u64, group_id: String, member_id: String },
    /// Coordinator → member.
    LeaveGroupResponse { correlation_id: u64, error: Option<ErrorCode> },
    /// Member → coordinator.
    OffsetCommit {
        correlation_id: u64,
        group_id: String,
        generation_id: i32,
        member_id: String,
        offsets: Vec<(TopicPartition, i64)>,
    },
    /// Coordinator → member, after the commit is replicated.
    OffsetCommitResponse { correlation_id: u64, error: Option<ErrorCode>, offsets: Vec<(TopicPartition, i64)> },
    /// Member → coordinator.
    OffsetFetch { correlation_id: u64, group_id: String, partitions: Vec<TopicPartition> },
    /// Coordinator → member; -1 where nothing is committed.
    OffsetFetchResponse { correlation_id: u64, error: Option<ErrorCode>, offsets: Vec<(TopicPartition, i64)> },
}

impl Message {
    /// A short name for traces and the event feed (`Fetch`, `ProduceResponse`, ...).
    pub fn api_name(&self) -> &'static str {
        match self {
            Message::BrokerRegistration { .. } => "BrokerRegistration",
            Message::BrokerRegistrationResponse { .. } => "BrokerRegistrationResponse",
            Message::BrokerHeartbeat { .. } => "BrokerHeartbeat",
            Message::BrokerHeartbeatResponse { .. } => "BrokerHeartbeatResponse",
            Message::MetadataFetch { .. } => "MetadataFetch",
            Message::MetadataFetchResponse { .. } => "MetadataFetchResponse",
            Message::AlterPartition { .. } => "AlterPartition",
            Message::AlterPartitionResponse { .. } => "AlterPartitionResponse",
            Message::Metadata { .. } => "Metadata",
            Message::MetadataResponse { .. } => "MetadataResponse",
            Message::Produce { .. } => "Produce",
            Message::ProduceResponse { .. } => "ProduceResponse",
            Message::Fetch { .. } => "Fetch",
            Message::FetchResponse { .. } => "FetchResponse",
            Message::ListOffsets { .. } => "ListOffsets",
            Message::ListOffsetsResponse { .. } => "ListOffsetsResponse",
            Message::FindCoordinator { .. } => "FindCoordinator",
            Message::FindCoordinatorResponse { .. } => "FindCoordinatorResponse",
            Message::JoinGroup { .. } => "JoinGroup",
            Message::JoinGroupResponse { .. } => "JoinGroupResponse",
            Message::SyncGroup { .. } => "SyncGroup",
            Message::SyncGroupResponse { .. } => "SyncGroupResponse",
            Message::Heartbeat { .. } => "Heartbeat",
            Message::HeartbeatResponse { .. } => "HeartbeatResponse",
            Message::LeaveGroup { .. } => "LeaveGroup",
            Message::LeaveGroupResponse { .. } => "LeaveGroupResponse",
            Message::OffsetCommit { .. } => "OffsetCommit",
            Message::OffsetCommitResponse { .. } => "OffsetCommitResponse",
            Message::OffsetFetch { .. } => "OffsetFetch",
            Message::OffsetFetchResponse { .. } => "OffsetFetchResponse",
        }
    }
}
