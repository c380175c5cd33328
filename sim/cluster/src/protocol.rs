//! The requests and responses nodes exchange, named after Kafka's APIs.
//!
//! Each request carries a `correlation_id` that its response echoes, as on Kafka's wire. The
//! simulator passes these values between simulated nodes without serialising them; batches are
//! shared (`Arc`) so a fetch response does not copy the log.

use crate::error::ErrorCode;
use crate::fetch_session::FetchMetadata;
use crate::ids::{NodeId, TopicPartition};
use crate::metadata::PartitionState;
use crate::record::RecordBatch;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Kafka's `replica_id` for consumers in a Fetch request.
pub const CONSUMER_REPLICA_ID: i32 = -1;
/// ListOffsets timestamp meaning "the log start offset".
pub const EARLIEST_TIMESTAMP: i64 = -2;
/// ListOffsets timestamp meaning "the log end offset" (high watermark for consumers).
pub const LATEST_TIMESTAMP: i64 = -1;

/// One partition's answer to `OffsetsForLeaderEpoch`: the largest epoch at or below the one
/// asked for and the offset where it ends (`LeaderEpochFileCache.endOffsetFor`), or an error.
/// Before KIP-279 (Kafka 2.0) the answer carried only the end offset; `leader_epoch` is then -1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EpochEndOffset {
    /// The partition.
    pub tp: TopicPartition,
    /// `None` on success, else the Kafka error.
    pub error: Option<ErrorCode>,
    /// The epoch the answer is about, -1 when unknown.
    pub leader_epoch: i32,
    /// Where that epoch ends, -1 when unknown.
    pub end_offset: i64,
}

/// One partition's batch in a `Produce` request (Kafka's `PartitionProduceData`).
#[derive(Clone, Debug, PartialEq)]
pub struct ProducePartition {
    /// The partition.
    pub tp: TopicPartition,
    /// The producer's batch: records with offset deltas 0..n, the producer id, epoch and base
    /// sequence (or -1 without idempotence) and the producer's codec. The leader assigns
    /// offsets and stamps its leader epoch.
    pub batch: RecordBatch,
}

/// One partition's answer in a `ProduceResponse` (Kafka's `PartitionProduceResponse`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducePartitionResponse {
    /// The partition.
    pub tp: TopicPartition,
    /// `None` on success, else the Kafka error.
    pub error: Option<ErrorCode>,
    /// Offset of the batch's first record, or -1 with an error that appended nothing.
    pub base_offset: i64,
}

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
    /// With `OFFSET_OUT_OF_RANGE` to a follower: the leader's log end offset. Kafka's follower
    /// learns it with a separate `ListOffsets` request (`ReplicaFetcherThread.fetchLatestOffsetFromLeader`);
    /// the lab folds that round trip into the answer. -1 otherwise.
    pub log_end_offset: i64,
    /// Set when the follower's log diverges: `(epoch, end_offset)` to truncate by.
    pub diverging_epoch: Option<(i32, i64)>,
    /// Batches from `fetch_offset` on.
    pub batches: Vec<Arc<RecordBatch>>,
}

/// What a member sends with each assignor it offers in JoinGroup (the consumer protocol's
/// `Subscription`: topics, owned partitions since KIP-429, generation since KIP-792).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Subscription {
    /// Topics the member subscribes to.
    pub topics: Vec<String>,
    /// Partitions the member owns now (cooperative), or owned in its last generation (the
    /// eager sticky assignor's user data).
    pub owned_partitions: Vec<TopicPartition>,
    /// The generation those partitions belong to; -1 when none.
    pub generation_id: i32,
}

/// A consumer group member as the coordinator reports it to the group leader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinedMember {
    /// Coordinator-assigned member id.
    pub member_id: String,
    /// Static membership id (KIP-345).
    pub group_instance_id: Option<String>,
    /// The member's subscription.
    pub subscription: Subscription,
}

/// Every message in the simulated network.
#[derive(Clone, Debug, PartialEq)]
pub enum Message {
    // ---- controller APIs (KIP-631) ----
    /// Broker → controller at startup.
    BrokerRegistration {
        /// Echoed by the response, to match it with its request.
        correlation_id: u64,
        /// The broker (`node.id`).
        broker_id: NodeId,
        /// Counts the broker process's starts.
        incarnation: u64,
    },
    /// Controller → broker: the broker epoch is the registration record's offset.
    BrokerRegistrationResponse {
        /// Echoed by the response, to match it with its request.
        correlation_id: u64,
        /// `None` on success; `NOT_CONTROLLER` from a controller that is not active.
        error: Option<ErrorCode>,
        /// The broker epoch from registration (KIP-631), which fences old incarnations.
        broker_epoch: i64,
    },
    /// Broker → controller every `broker.heartbeat.interval.ms`.
    BrokerHeartbeat {
        /// Echoed by the response, to match it with its request.
        correlation_id: u64,
        /// The broker (`node.id`).
        broker_id: NodeId,
        /// The broker epoch from registration (KIP-631), which fences old incarnations.
        broker_epoch: i64,
        /// The next metadata log offset the broker has not applied yet.
        metadata_offset: i64,
    },
    /// Controller → broker.
    BrokerHeartbeatResponse {
        /// Echoed by the response, to match it with its request.
        correlation_id: u64,
        /// `None` on success, else the Kafka error.
        error: Option<ErrorCode>,
        /// Whether the controller keeps the broker fenced.
        is_fenced: bool,
    },
    // ---- KRaft quorum APIs (KIP-595, KIP-996) ----
    /// Prospective or candidate → voters: "vote for me". With `pre_vote` the sender asks
    /// whether the receiver *would* vote, without bumping the epoch (KIP-996).
    Vote {
        /// Echoed by the response, to match it with its request.
        correlation_id: u64,
        /// The node asking.
        candidate_id: NodeId,
        /// The epoch it campaigns in (its current epoch for a pre-vote).
        candidate_epoch: i32,
        /// The epoch of its last metadata log entry (0 when the log is empty).
        last_offset_epoch: i32,
        /// Its metadata log end offset.
        last_offset: i64,
        /// Whether this is a pre-vote.
        pre_vote: bool,
    },
    /// Voter → candidate.
    VoteResponse {
        /// Echoed by the response, to match it with its request.
        correlation_id: u64,
        /// `None` on success, else the Kafka error.
        error: Option<ErrorCode>,
        /// The receiver's epoch.
        leader_epoch: i32,
        /// The leader the receiver knows for that epoch.
        leader_id: Option<NodeId>,
        /// Whether the vote was granted.
        vote_granted: bool,
        /// Echoes the request's `pre_vote`.
        pre_vote: bool,
    },
    /// New leader → voters: "I lead this epoch". Resent until acknowledged.
    BeginQuorumEpoch {
        /// Echoed by the response, to match it with its request.
        correlation_id: u64,
        /// The new leader.
        leader_id: NodeId,
        /// Its epoch.
        leader_epoch: i32,
    },
    /// Voter → leader.
    BeginQuorumEpochResponse {
        /// Echoed by the response, to match it with its request.
        correlation_id: u64,
        /// `None` on success, else the Kafka error.
        error: Option<ErrorCode>,
        /// The receiver's epoch.
        leader_epoch: i32,
        /// The leader the receiver knows for that epoch.
        leader_id: Option<NodeId>,
    },
    /// Resigning leader → voters, on shutdown or check-quorum failure.
    EndQuorumEpoch {
        /// Echoed by the response, to match it with its request.
        correlation_id: u64,
        /// The resigning leader.
        leader_id: NodeId,
        /// Its epoch.
        leader_epoch: i32,
        /// Voters by log progress, most caught up first: the first may campaign at once.
        preferred_successors: Vec<NodeId>,
    },
    /// Voter → resigning leader.
    EndQuorumEpochResponse {
        /// Echoed by the response, to match it with its request.
        correlation_id: u64,
        /// `None` on success, else the Kafka error.
        error: Option<ErrorCode>,
        /// The receiver's epoch.
        leader_epoch: i32,
        /// The leader the receiver knows for that epoch.
        leader_id: Option<NodeId>,
    },
    /// Follower or observer → leader: Kafka's `Fetch` on `__cluster_metadata-0`. Voters'
    /// fetch offsets count toward the commit; observers' (brokers') do not.
    QuorumFetch {
        /// Echoed by the response, to match it with its request.
        correlation_id: u64,
        /// The fetching node.
        replica_id: NodeId,
        /// The epoch the fetcher is in.
        current_leader_epoch: i32,
        /// Its log end offset: the first offset wanted.
        fetch_offset: i64,
        /// The epoch of its last entry, -1 when empty: the leader checks the pair for
        /// divergence.
        last_fetched_epoch: i32,
        /// How long the leader may hold the fetch when there is nothing new.
        max_wait_ms: u64,
    },
    /// Leader (or a voter that is not the leader, with an error and a hint) → fetcher.
    QuorumFetchResponse {
        /// Echoed by the response, to match it with its request.
        correlation_id: u64,
        /// `None` on success, else the Kafka error.
        error: Option<ErrorCode>,
        /// The responder's epoch.
        leader_epoch: i32,
        /// The leader the responder knows.
        leader_id: Option<NodeId>,
        /// The leader's high watermark.
        high_watermark: i64,
        /// Set when the fetcher's log diverges: `(epoch, end_offset)` to truncate by.
        diverging_epoch: Option<(i32, i64)>,
        /// Metadata log batches from the fetch offset on.
        batches: Vec<Arc<RecordBatch>>,
    },
    /// Partition leader → controller: change the ISR (KIP-497).
    AlterPartition {
        /// Echoed by the response, to match it with its request.
        correlation_id: u64,
        /// The broker (`node.id`).
        broker_id: NodeId,
        /// The broker epoch from registration (KIP-631), which fences old incarnations.
        broker_epoch: i64,
        /// The partition.
        tp: TopicPartition,
        /// The partition's leader epoch.
        leader_epoch: i32,
        /// The partition epoch the change is based on (KIP-497).
        partition_epoch: i32,
        /// The proposed in-sync replicas, leader included.
        new_isr: Vec<NodeId>,
    },
    /// Controller → leader: the committed partition state, or an error.
    AlterPartitionResponse {
        /// Echoed by the response, to match it with its request.
        correlation_id: u64,
        /// The partition.
        tp: TopicPartition,
        /// `None` on success, else the Kafka error.
        error: Option<ErrorCode>,
        /// The committed partition state.
        state: Option<PartitionState>,
    },

    /// Admin client → active controller: move a partition's replicas
    /// (`kafka-reassign-partitions.sh --execute`, KIP-455).
    AlterPartitionReassignments {
        /// Echoed by the response, to match it with its request.
        correlation_id: u64,
        /// The partition.
        tp: TopicPartition,
        /// The target replica list, preferred leader first.
        replicas: Vec<NodeId>,
    },
    /// Controller → admin client.
    AlterPartitionReassignmentsResponse {
        /// Echoed by the response, to match it with its request.
        correlation_id: u64,
        /// `None` on success, else the Kafka error.
        error: Option<ErrorCode>,
    },
    /// Admin client → active controller: elect leaders (`kafka-leader-election.sh`, KIP-460).
    ElectLeaders {
        /// Echoed by the response, to match it with its request.
        correlation_id: u64,
        /// The partition.
        tp: TopicPartition,
        /// `false`: preferred election; `true`: unclean election from any live replica.
        unclean: bool,
    },
    /// Controller → admin client.
    ElectLeadersResponse {
        /// Echoed by the response, to match it with its request.
        correlation_id: u64,
        /// `None` on success, else the Kafka error.
        error: Option<ErrorCode>,
    },
    /// Broker → active controller: a block of producer ids to hand out to `InitProducerId`
    /// callers (KIP-730; Kafka's broker `RPCProducerIdManager`).
    AllocateProducerIds {
        /// Echoed by the response, to match it with its request.
        correlation_id: u64,
        /// The broker (`node.id`).
        broker_id: NodeId,
        /// The broker epoch from registration (KIP-631), which fences old incarnations.
        broker_epoch: i64,
    },
    /// Active controller → broker, once the `ProducerIdsRecord` reserving the block is
    /// committed. The block is `[producer_id_start, producer_id_start + producer_id_len)`.
    AllocateProducerIdsResponse {
        /// Echoed by the response, to match it with its request.
        correlation_id: u64,
        /// `None` on success; `NOT_CONTROLLER` from a controller that is not active,
        /// `STALE_BROKER_EPOCH` for a broker epoch that is not the broker's registration.
        error: Option<ErrorCode>,
        /// The first producer id of the block, -1 on error.
        producer_id_start: i64,
        /// How many ids the block holds (1000, Kafka's `ProducerIdsBlock.PRODUCER_ID_BLOCK_SIZE`),
        /// 0 on error.
        producer_id_len: i32,
    },

    // ---- client and replica APIs ----
    /// Client → any broker: who leads what, and which brokers are alive.
    Metadata {
        /// Echoed by the response, to match it with its request.
        correlation_id: u64,
        /// Topic names.
        topics: Vec<String>,
    },
    /// Broker → client.
    MetadataResponse {
        /// Echoed by the response, to match it with its request.
        correlation_id: u64,
        /// Brokers that are registered and unfenced.
        brokers: Vec<NodeId>,
        /// Per-partition requests or results, or partition states.
        partitions: Vec<PartitionState>,
    },
    /// Producer → leader: every batch the producer drained for this broker in one pass, at
    /// most one per partition (Kafka's `ProduceRequest`, built by `Sender.sendProduceRequest`).
    Produce {
        /// Echoed by the response, to match it with its request.
        correlation_id: u64,
        /// -1 (all), 0 or 1.
        acks: i16,
        /// How long the leader may wait for `acks=all` (`request.timeout.ms`).
        timeout_ms: u64,
        /// One batch per partition, in the order the producer drained them.
        partitions: Vec<ProducePartition>,
    },
    /// Leader → producer: one answer per partition of the request, sent when all of them are
    /// known (Kafka's `DelayedProduce`). Never sent for `acks=0`, unless a partition failed.
    ProduceResponse {
        /// Echoed by the response, to match it with its request.
        correlation_id: u64,
        /// One answer per partition of the request, in the request's order.
        partitions: Vec<ProducePartitionResponse>,
    },
    /// Follower or consumer → leader.
    Fetch {
        /// Echoed by the response, to match it with its request.
        correlation_id: u64,
        /// The follower's broker id, or [`CONSUMER_REPLICA_ID`].
        replica_id: i32,
        /// The follower's broker epoch (-1 for consumers).
        broker_epoch: i64,
        /// Long-poll bound (`replica.fetch.wait.max.ms` / `fetch.max.wait.ms`).
        max_wait_ms: u64,
        /// The fetch session and its epoch (KIP-227; see [`crate::fetch_session`]):
        /// [`FetchMetadata::SESSIONLESS`] from fetchers that use no session.
        metadata: FetchMetadata,
        /// The partitions to fetch: all of them in a full request, only those added or changed
        /// since the last request in an incremental one.
        partitions: Vec<FetchPartition>,
        /// Partitions an incremental request drops from its session (Kafka's
        /// `ForgottenTopicsData`).
        forgotten_topics_data: Vec<TopicPartition>,
    },
    /// Leader → fetcher.
    FetchResponse {
        /// Echoed by the response, to match it with its request.
        correlation_id: u64,
        /// A session error (`FETCH_SESSION_ID_NOT_FOUND`, `INVALID_FETCH_SESSION_EPOCH`), with
        /// no partitions; `None` otherwise.
        error: Option<ErrorCode>,
        /// The fetch session this response belongs to, or 0 for none (KIP-227).
        session_id: i32,
        /// One answer per partition of a full request; in an incremental session, only the
        /// partitions with records, an error, or a new high watermark or log start offset.
        partitions: Vec<FetchPartitionResponse>,
    },
    /// Producer → any broker: a producer id and epoch for an idempotent producer (KIP-98,
    /// `InitProducerId` without a `transactional.id`). A producer that already has an id sends
    /// it with its epoch to have the epoch bumped (KIP-360); otherwise both are -1.
    InitProducerId {
        /// Echoed by the response, to match it with its request.
        correlation_id: u64,
        /// The current producer id, or -1.
        producer_id: i64,
        /// The current producer epoch, or -1.
        producer_epoch: i16,
    },
    /// Broker → producer.
    InitProducerIdResponse {
        /// Echoed by the response, to match it with its request.
        correlation_id: u64,
        /// `None` on success, else the Kafka error.
        error: Option<ErrorCode>,
        /// The producer id granted, -1 on error.
        producer_id: i64,
        /// The producer epoch granted, -1 on error.
        producer_epoch: i16,
    },
    /// Follower or consumer → leader: where does `leader_epoch` end in the leader's log
    /// (KIP-101; `OffsetsForLeaderEpoch`). Followers of the leader-epoch era send it on becoming
    /// follower, before fetching; consumers send it to validate their position after a leader
    /// change (KIP-320).
    OffsetsForLeaderEpoch {
        /// Echoed by the response, to match it with its request.
        correlation_id: u64,
        /// The asking replica's id, or -1 for a consumer.
        replica_id: i32,
        /// Per partition: `(partition, current_leader_epoch, leader_epoch)`.
        partitions: Vec<(TopicPartition, i32, i32)>,
    },
    /// Leader → asker.
    OffsetsForLeaderEpochResponse {
        /// Echoed by the response, to match it with its request.
        correlation_id: u64,
        /// Per partition: the answer.
        partitions: Vec<EpochEndOffset>,
    },
    /// Consumer → leader: earliest or latest offset.
    ListOffsets {
        /// Echoed by the response, to match it with its request.
        correlation_id: u64,
        /// The partition.
        tp: TopicPartition,
        /// `EARLIEST_TIMESTAMP` (-2) or `LATEST_TIMESTAMP` (-1).
        timestamp: i64,
    },
    /// Leader → consumer.
    ListOffsetsResponse {
        /// Echoed by the response, to match it with its request.
        correlation_id: u64,
        /// The partition.
        tp: TopicPartition,
        /// `None` on success, else the Kafka error.
        error: Option<ErrorCode>,
        /// The offset found, -1 on error.
        offset: i64,
    },

    // ---- group APIs (classic protocol) ----
    /// Client → any broker: which broker coordinates this group.
    FindCoordinator {
        /// Echoed by the response, to match it with its request.
        correlation_id: u64,
        /// The consumer group (`group.id`).
        group_id: String,
    },
    /// Broker → client.
    FindCoordinatorResponse {
        /// Echoed by the response, to match it with its request.
        correlation_id: u64,
        /// `None` on success, else the Kafka error.
        error: Option<ErrorCode>,
        /// The coordinator broker, `None` when unknown.
        coordinator: Option<NodeId>,
    },
    /// Member → coordinator.
    JoinGroup {
        /// Echoed by the response, to match it with its request.
        correlation_id: u64,
        /// The consumer group (`group.id`).
        group_id: String,
        /// The member id the coordinator assigned (empty before the first join).
        member_id: String,
        /// The client's `client.id`.
        client_id: String,
        /// `session.timeout.ms`: silence after which the coordinator expires the member.
        session_timeout_ms: u64,
        /// How long the coordinator waits for members to rejoin (`max.poll.interval.ms`).
        rebalance_timeout_ms: u64,
        /// `group.instance.id` for a static member (KIP-345).
        group_instance_id: Option<String>,
        /// The assignors offered, most preferred first (`partition.assignment.strategy`).
        protocols: Vec<String>,
        /// The subscription sent with every offered assignor.
        subscription: Subscription,
    },
    /// Coordinator → member; `members` is filled for the leader only.
    JoinGroupResponse {
        /// Echoed by the response, to match it with its request.
        correlation_id: u64,
        /// `None` on success, else the Kafka error.
        error: Option<ErrorCode>,
        /// The group generation the sender believes is current.
        generation_id: i32,
        /// The assignor the coordinator selected.
        protocol: String,
        /// Member id of the group leader.
        leader: String,
        /// The member id the coordinator assigned (empty before the first join).
        member_id: String,
        /// Members with their subscriptions; filled for the group leader only.
        members: Vec<JoinedMember>,
    },
    /// Member → coordinator; the leader sends the assignment.
    SyncGroup {
        /// Echoed by the response, to match it with its request.
        correlation_id: u64,
        /// The consumer group (`group.id`).
        group_id: String,
        /// The group generation the sender believes is current.
        generation_id: i32,
        /// The member id the coordinator assigned (empty before the first join).
        member_id: String,
        /// `group.instance.id` for a static member.
        group_instance_id: Option<String>,
        /// The leader's assignment for every member; empty from other members.
        assignments: BTreeMap<String, Vec<TopicPartition>>,
    },
    /// Coordinator → member.
    SyncGroupResponse {
        /// Echoed by the response, to match it with its request.
        correlation_id: u64,
        /// `None` on success, else the Kafka error.
        error: Option<ErrorCode>,
        /// The partitions assigned to this member.
        assignment: Vec<TopicPartition>,
    },
    /// Member → coordinator every `heartbeat.interval.ms`.
    Heartbeat {
        /// Echoed by the response, to match it with its request.
        correlation_id: u64,
        /// The consumer group (`group.id`).
        group_id: String,
        /// The group generation the sender believes is current.
        generation_id: i32,
        /// The member id the coordinator assigned (empty before the first join).
        member_id: String,
        /// `group.instance.id` for a static member.
        group_instance_id: Option<String>,
    },
    /// Coordinator → member.
    HeartbeatResponse {
        /// Echoed by the response, to match it with its request.
        correlation_id: u64,
        /// `None` on success, else the Kafka error.
        error: Option<ErrorCode>,
    },
    /// Member → coordinator on a clean shutdown.
    LeaveGroup {
        /// Echoed by the response, to match it with its request.
        correlation_id: u64,
        /// The consumer group (`group.id`).
        group_id: String,
        /// The member id the coordinator assigned (empty before the first join).
        member_id: String,
    },
    /// Coordinator → member.
    LeaveGroupResponse {
        /// Echoed by the response, to match it with its request.
        correlation_id: u64,
        /// `None` on success, else the Kafka error.
        error: Option<ErrorCode>,
    },
    /// Member → coordinator.
    OffsetCommit {
        /// Echoed by the response, to match it with its request.
        correlation_id: u64,
        /// The consumer group (`group.id`).
        group_id: String,
        /// The group generation the sender believes is current.
        generation_id: i32,
        /// The member id the coordinator assigned (empty before the first join).
        member_id: String,
        /// `group.instance.id` for a static member.
        group_instance_id: Option<String>,
        /// Offsets per partition.
        offsets: Vec<(TopicPartition, i64)>,
    },
    /// Coordinator → member, after the commit is replicated.
    OffsetCommitResponse {
        /// Echoed by the response, to match it with its request.
        correlation_id: u64,
        /// `None` on success, else the Kafka error.
        error: Option<ErrorCode>,
        /// Offsets per partition.
        offsets: Vec<(TopicPartition, i64)>,
    },
    /// Member → coordinator.
    OffsetFetch {
        /// Echoed by the response, to match it with its request.
        correlation_id: u64,
        /// The consumer group (`group.id`).
        group_id: String,
        /// Per-partition requests or results, or partition states.
        partitions: Vec<TopicPartition>,
    },
    /// Coordinator → member; -1 where nothing is committed.
    OffsetFetchResponse {
        /// Echoed by the response, to match it with its request.
        correlation_id: u64,
        /// `None` on success, else the Kafka error.
        error: Option<ErrorCode>,
        /// Offsets per partition.
        offsets: Vec<(TopicPartition, i64)>,
    },
}

impl Message {
    /// A short name for traces and the event feed (`Fetch`, `ProduceResponse`, ...).
    pub fn api_name(&self) -> &'static str {
        match self {
            Message::BrokerRegistration { .. } => "BrokerRegistration",
            Message::BrokerRegistrationResponse { .. } => "BrokerRegistrationResponse",
            Message::BrokerHeartbeat { .. } => "BrokerHeartbeat",
            Message::BrokerHeartbeatResponse { .. } => "BrokerHeartbeatResponse",
            Message::Vote { .. } => "Vote",
            Message::VoteResponse { .. } => "VoteResponse",
            Message::BeginQuorumEpoch { .. } => "BeginQuorumEpoch",
            Message::BeginQuorumEpochResponse { .. } => "BeginQuorumEpochResponse",
            Message::EndQuorumEpoch { .. } => "EndQuorumEpoch",
            Message::EndQuorumEpochResponse { .. } => "EndQuorumEpochResponse",
            Message::QuorumFetch { .. } => "Fetch(__cluster_metadata)",
            Message::QuorumFetchResponse { .. } => "FetchResponse(__cluster_metadata)",
            Message::AlterPartitionReassignments { .. } => "AlterPartitionReassignments",
            Message::AlterPartitionReassignmentsResponse { .. } => "AlterPartitionReassignmentsResponse",
            Message::ElectLeaders { .. } => "ElectLeaders",
            Message::ElectLeadersResponse { .. } => "ElectLeadersResponse",
            Message::AllocateProducerIds { .. } => "AllocateProducerIds",
            Message::AllocateProducerIdsResponse { .. } => "AllocateProducerIdsResponse",
            Message::AlterPartition { .. } => "AlterPartition",
            Message::AlterPartitionResponse { .. } => "AlterPartitionResponse",
            Message::Metadata { .. } => "Metadata",
            Message::MetadataResponse { .. } => "MetadataResponse",
            Message::Produce { .. } => "Produce",
            Message::ProduceResponse { .. } => "ProduceResponse",
            Message::Fetch { .. } => "Fetch",
            Message::FetchResponse { .. } => "FetchResponse",
            Message::InitProducerId { .. } => "InitProducerId",
            Message::InitProducerIdResponse { .. } => "InitProducerIdResponse",
            Message::OffsetsForLeaderEpoch { .. } => "OffsetsForLeaderEpoch",
            Message::OffsetsForLeaderEpochResponse { .. } => "OffsetsForLeaderEpochResponse",
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

    /// The `correlation_id` the message carries: a request's own, or the one a response echoes
    /// from its request. Counters are per state machine, so a combined node's broker and
    /// controller may use the same value; [`Message::request_api_name`] tells them apart.
    pub fn correlation_id(&self) -> u64 {
        match self {
            Message::BrokerRegistration { correlation_id, .. }
            | Message::BrokerRegistrationResponse { correlation_id, .. }
            | Message::BrokerHeartbeat { correlation_id, .. }
            | Message::BrokerHeartbeatResponse { correlation_id, .. }
            | Message::Vote { correlation_id, .. }
            | Message::VoteResponse { correlation_id, .. }
            | Message::BeginQuorumEpoch { correlation_id, .. }
            | Message::BeginQuorumEpochResponse { correlation_id, .. }
            | Message::EndQuorumEpoch { correlation_id, .. }
            | Message::EndQuorumEpochResponse { correlation_id, .. }
            | Message::QuorumFetch { correlation_id, .. }
            | Message::QuorumFetchResponse { correlation_id, .. }
            | Message::AlterPartition { correlation_id, .. }
            | Message::AlterPartitionResponse { correlation_id, .. }
            | Message::AlterPartitionReassignments { correlation_id, .. }
            | Message::AlterPartitionReassignmentsResponse { correlation_id, .. }
            | Message::ElectLeaders { correlation_id, .. }
            | Message::ElectLeadersResponse { correlation_id, .. }
            | Message::AllocateProducerIds { correlation_id, .. }
            | Message::AllocateProducerIdsResponse { correlation_id, .. }
            | Message::Metadata { correlation_id, .. }
            | Message::MetadataResponse { correlation_id, .. }
            | Message::Produce { correlation_id, .. }
            | Message::ProduceResponse { correlation_id, .. }
            | Message::Fetch { correlation_id, .. }
            | Message::FetchResponse { correlation_id, .. }
            | Message::InitProducerId { correlation_id, .. }
            | Message::InitProducerIdResponse { correlation_id, .. }
            | Message::OffsetsForLeaderEpoch { correlation_id, .. }
            | Message::OffsetsForLeaderEpochResponse { correlation_id, .. }
            | Message::ListOffsets { correlation_id, .. }
            | Message::ListOffsetsResponse { correlation_id, .. }
            | Message::FindCoordinator { correlation_id, .. }
            | Message::FindCoordinatorResponse { correlation_id, .. }
            | Message::JoinGroup { correlation_id, .. }
            | Message::JoinGroupResponse { correlation_id, .. }
            | Message::SyncGroup { correlation_id, .. }
            | Message::SyncGroupResponse { correlation_id, .. }
            | Message::Heartbeat { correlation_id, .. }
            | Message::HeartbeatResponse { correlation_id, .. }
            | Message::LeaveGroup { correlation_id, .. }
            | Message::LeaveGroupResponse { correlation_id, .. }
            | Message::OffsetCommit { correlation_id, .. }
            | Message::OffsetCommitResponse { correlation_id, .. }
            | Message::OffsetFetch { correlation_id, .. }
            | Message::OffsetFetchResponse { correlation_id, .. } => *correlation_id,
        }
    }

    /// Whether the message answers a request (every API here is a request/response pair, as on
    /// Kafka's wire).
    pub fn is_response(&self) -> bool {
        self.api_name().contains("Response")
    }

    /// The API name of the request this message is or answers: `Produce` for both `Produce`
    /// and `ProduceResponse`, `Fetch(__cluster_metadata)` for the metadata log's fetches.
    pub fn request_api_name(&self) -> &'static str {
        match self.api_name() {
            "FetchResponse(__cluster_metadata)" => "Fetch(__cluster_metadata)",
            name => name.strip_suffix("Response").unwrap_or(name),
        }
    }
}
