//! Typed observations nodes report as they work, in Kafka's terms. The simulator stamps each
//! with simulated time, node and sequence number to make the trace; the TUI's event feed, the
//! history oracle and the expectations all read them.

use crate::error::ErrorCode;
use crate::ids::{Name, NodeId, TopicPartition};
use crate::key::Key;
use crate::raft::QuorumRole;
use crate::record::Compression;
use crate::SendId;
use serde::{Deserialize, Serialize};

/// One observation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    // ---- controller ----
    /// The controller registered a broker (new incarnation).
    BrokerRegistered {
        /// The broker (`node.id`).
        broker_id: NodeId,
        /// The broker epoch from registration (KIP-631), which fences old incarnations.
        broker_epoch: i64,
    },
    /// The broker caught up with metadata and may lead partitions.
    BrokerUnfenced {
        /// The broker (`node.id`).
        broker_id: NodeId,
    },
    /// The broker was fenced: it missed `broker.session.timeout.ms` of heartbeats, or a new
    /// incarnation of it registered.
    BrokerFenced {
        /// The broker (`node.id`).
        broker_id: NodeId,
        /// Why, in plain words.
        reason: String,
    },
    /// A reassignment started: the target replicas are being added (KIP-455).
    ReassignmentStarted {
        /// The partition.
        tp: TopicPartition,
        /// Replicas being added.
        adding: Vec<NodeId>,
        /// Replicas to remove once the adding ones are in sync.
        removing: Vec<NodeId>,
    },
    /// A reassignment finished: the partition has its target replicas.
    ReassignmentCompleted {
        /// The partition.
        tp: TopicPartition,
        /// The replicas now.
        replicas: Vec<NodeId>,
    },
    // ---- KRaft quorum ----
    /// A replica's Raft role, epoch, leader or vote changed (and `quorum-state` was written).
    QuorumStateChanged {
        /// The role now.
        role: QuorumRole,
        /// The epoch now.
        epoch: i32,
        /// The leader known for the epoch.
        leader_id: Option<NodeId>,
        /// The candidate voted for in the epoch.
        voted_id: Option<NodeId>,
        /// Why, in plain words.
        reason: String,
    },
    /// A voter answered a vote or pre-vote request.
    VoteCast {
        /// Who asked.
        candidate: NodeId,
        /// The epoch asked for.
        epoch: i32,
        /// Whether it was a pre-vote (KIP-996).
        pre_vote: bool,
        /// Whether the vote was granted.
        granted: bool,
        /// Why not, when refused.
        reason: Option<String>,
    },
    /// A candidate did not win its epoch (split vote or refusals) and backs off.
    ElectionFailed {
        /// The epoch lost.
        epoch: i32,
        /// Why.
        reason: String,
        /// The random pause before the next pre-vote, in milliseconds.
        backoff_ms: u64,
    },
    /// The Raft leader's high watermark moved: metadata records below it are committed.
    MetadataCommitted {
        /// The leader's epoch.
        epoch: i32,
        /// The new high watermark.
        high_watermark: i64,
    },
    /// A follower heard nothing from its leader within `controller.quorum.fetch.timeout.ms`.
    LeaderUnreachable {
        /// The leader it followed.
        leader_id: NodeId,
        /// The epoch.
        epoch: i32,
    },
    /// The Raft leader gave up its epoch.
    LeaderResigned {
        /// The epoch.
        epoch: i32,
        /// Why (shutdown, check-quorum).
        reason: String,
    },
    /// A follower's metadata log diverged from the leader's and was cut back.
    MetadataLogTruncated {
        /// The diverging epoch the leader named.
        diverging_epoch: i32,
        /// The log end offset before.
        from_offset: i64,
        /// The log end offset after.
        to_offset: i64,
    },
    /// This controller became the active controller: it leads the quorum and has committed an
    /// entry of its epoch, so its image holds everything committed before.
    ControllerActivated {
        /// The Raft epoch.
        epoch: i32,
        /// The metadata log end offset at activation.
        metadata_offset: i64,
    },
    /// This controller stopped being the active one (it lost the Raft leadership).
    ControllerDeactivated {
        /// The epoch it led.
        epoch: i32,
    },
    /// No ISR member was alive and the topic allows `unclean.leader.election.enable`: a replica
    /// outside the ISR became leader and the ISR was cut to it. Records it lacked are lost.
    UncleanLeaderElected {
        /// The partition.
        tp: TopicPartition,
        /// The new leader.
        leader: NodeId,
        /// The partition's leader epoch.
        leader_epoch: i32,
    },
    /// This broker stopped hosting a partition it is no longer assigned (after a reassignment)
    /// and deleted its log.
    ReplicaDeleted {
        /// The partition.
        tp: TopicPartition,
    },
    /// A topic was created.
    TopicCreated {
        /// Topic name.
        topic: String,
        /// Number of partitions.
        partitions: i32,
        /// Replicas per partition.
        replication_factor: i32,
    },
    /// A partition got a new leader (clean election from the ISR).
    LeaderElected {
        /// The partition.
        tp: TopicPartition,
        /// The leader (broker, or the leader member's id for groups).
        leader: NodeId,
        /// The partition's leader epoch.
        leader_epoch: i32,
        /// The in-sync replicas now.
        isr: Vec<NodeId>,
    },
    /// No ISR member is alive: the partition is offline until one returns.
    PartitionOffline {
        /// The partition.
        tp: TopicPartition,
        /// The partition's leader epoch.
        leader_epoch: i32,
        /// The in-sync replicas now.
        isr: Vec<NodeId>,
    },
    /// Replicas left the ISR.
    IsrShrunk {
        /// The partition.
        tp: TopicPartition,
        /// Replicas that left.
        removed: Vec<NodeId>,
        /// The in-sync replicas now.
        isr: Vec<NodeId>,
        /// The partition epoch the change is based on (KIP-497).
        partition_epoch: i32,
    },
    /// Replicas joined the ISR.
    IsrExpanded {
        /// The partition.
        tp: TopicPartition,
        /// Replicas that joined.
        added: Vec<NodeId>,
        /// The in-sync replicas now.
        isr: Vec<NodeId>,
        /// The partition epoch the change is based on (KIP-497).
        partition_epoch: i32,
    },

    // ---- broker ----
    /// The leader's high watermark moved forward.
    HighWatermarkAdvanced {
        /// The partition.
        tp: TopicPartition,
        /// The high watermark.
        high_watermark: i64,
    },
    /// This broker became the partition's leader.
    BecameLeader {
        /// The partition.
        tp: TopicPartition,
        /// The partition's leader epoch.
        leader_epoch: i32,
        /// The log end offset.
        log_end_offset: i64,
    },
    /// This broker became a follower of `leader`.
    BecameFollower {
        /// The partition.
        tp: TopicPartition,
        /// The leader (broker, or the leader member's id for groups).
        leader: Option<NodeId>,
        /// The partition's leader epoch.
        leader_epoch: i32,
    },
    /// A follower cut its log back after finding it diverged from the leader's.
    LogTruncated {
        /// The partition.
        tp: TopicPartition,
        /// The log end offset before truncation.
        from_offset: i64,
        /// The log end offset after truncation.
        to_offset: i64,
    },
    /// A log was loaded from disk at broker start (Kafka's `LogLoader`): torn or corrupt
    /// bytes after the last valid batch were cut and later segments deleted.
    LogRecovered {
        /// The partition.
        tp: TopicPartition,
        /// Segments after recovery.
        segments: usize,
        /// Log start offset after recovery.
        log_start_offset: i64,
        /// Log end offset after recovery.
        log_end_offset: i64,
        /// High watermark from the checkpoint, clamped into the log.
        high_watermark: i64,
        /// Bytes cut from the end of the last valid segment (a torn write).
        truncated_bytes: u64,
        /// Segments deleted because they followed a corrupt one.
        deleted_segments: usize,
        /// Segments whose indexes were rebuilt (every unflushed one, and any bad index file).
        rebuilt_indexes: usize,
    },
    /// A new active segment was started.
    SegmentRolled {
        /// The partition.
        tp: TopicPartition,
        /// Base offset of the new segment.
        base_offset: i64,
        /// What triggered the roll (`segment.bytes`, `segment.ms`, ...).
        reason: String,
    },
    /// Retention deleted whole segments, oldest first.
    SegmentsDeleted {
        /// The partition.
        tp: TopicPartition,
        /// Base offsets of the deleted segments.
        base_offsets: Vec<i64>,
        /// The rule that deleted them (`retention.ms`, `retention.bytes`, below the log start).
        reason: String,
        /// The log start offset afterwards.
        log_start_offset: i64,
    },
    /// Everything below `recovery_point` was flushed (`fsync`) to disk.
    LogFlushed {
        /// The partition.
        tp: TopicPartition,
        /// The new recovery point.
        recovery_point: i64,
    },
    /// The log cleaner compacted a log.
    LogCleaned {
        /// The partition.
        tp: TopicPartition,
        /// Start of the cleaned dirty section.
        first_dirty_offset: i64,
        /// End of the dirty section: the new cleaner checkpoint.
        end_offset: i64,
        /// Records in the rewritten segments before cleaning.
        records_before: usize,
        /// Records in the rewritten segments after cleaning.
        records_after: usize,
        /// Bytes before cleaning.
        bytes_before: u64,
        /// Bytes after cleaning.
        bytes_after: u64,
        /// Segments before cleaning.
        segments_before: usize,
        /// Segments after cleaning (groups merge).
        segments_after: usize,
    },
    /// The broker started, recovering `recovered_batches` batches from its disk.
    BrokerStarted {
        /// Counts the broker process's starts.
        incarnation: u64,
        /// Batches read back from disk.
        recovered_batches: usize,
    },
    /// A produce request was rejected or failed on the leader.
    ProduceRejected {
        /// The partition.
        tp: TopicPartition,
        /// `None` on success, else the Kafka error.
        error: ErrorCode,
    },
    /// The group coordinator moved the group to a new generation.
    GroupRebalanced {
        /// The consumer group (`group.id`).
        group: Name,
        /// The group generation the sender believes is current.
        generation_id: i32,
        /// The leader (broker, or the leader member's id for groups).
        leader: String,
        /// Client ids of the members.
        members: Vec<String>,
        /// The assignor (`range`).
        protocol: String,
    },
    /// A group member was removed (session expiry or leave).
    MemberRemoved {
        /// The consumer group (`group.id`).
        group: Name,
        /// The member id the coordinator assigned (empty before the first join).
        member_id: String,
        /// Why, in plain words.
        reason: String,
    },
    /// The group started rebalancing.
    RebalanceStarted {
        /// The consumer group (`group.id`).
        group: Name,
        /// Why, in plain words.
        reason: String,
    },
    /// The group's offsets for a partition were committed and replicated.
    OffsetCommitted {
        /// The consumer group (`group.id`).
        group: Name,
        /// The partition.
        tp: TopicPartition,
        /// The offset (-1 when unknown, as with `acks=0`).
        offset: i64,
    },

    // ---- clients (the history the oracle checks) ----
    /// A producer started sending a record (`value` is unique per run).
    SendInvoked {
        /// The producer's client id (interned: not copied or counted per record).
        producer: Name,
        /// The partition.
        tp: TopicPartition,
        /// The record key, if any (interned for a producer's cached key names: not counted per
        /// record).
        key: Option<Key>,
        /// The send's unique id (the value for rate-driven sends), held inline ([`SendId`]).
        value: SendId,
        /// Whether the record is a tombstone (a null value), which compaction removes after
        /// `delete.retention.ms`.
        tombstone: bool,
    },
    /// The leader acknowledged the record at `offset`.
    SendAcked {
        /// The producer's client id.
        producer: Name,
        /// The partition.
        tp: TopicPartition,
        /// The offset (-1 when unknown, as with `acks=0`).
        offset: i64,
        /// The send's unique id (the value for rate-driven sends).
        value: SendId,
    },
    /// The record failed for good (delivery timeout or non-retriable error).
    SendFailed {
        /// The producer's client id.
        producer: Name,
        /// The partition.
        tp: TopicPartition,
        /// The send's unique id (the value for rate-driven sends).
        value: SendId,
        /// `None` on success, else the Kafka error.
        error: ErrorCode,
    },
    /// A producer retries a request after a retriable error or a timeout.
    SendRetried {
        /// The producer's client id.
        producer: String,
        /// The partition.
        tp: TopicPartition,
        /// Polled `(offset, send id)` pairs in offset order, or the number of records retried.
        records: usize,
        /// Why, in plain words.
        reason: String,
    },
    /// A consumer's poll returned records: `(offset, value)` pairs in order.
    Polled {
        /// The consumer's client id.
        consumer: Name,
        /// The partition.
        tp: TopicPartition,
        /// Polled `(offset, send id)` pairs in offset order, the ids held inline ([`SendId`]).
        records: Vec<(i64, SendId)>,
    },
    /// A consumer received its assignment for a generation.
    AssignmentReceived {
        /// The consumer's client id.
        consumer: Name,
        /// The consumer group (`group.id`).
        group: Name,
        /// The group generation the sender believes is current.
        generation_id: i32,
        /// The assigned partitions.
        partitions: Vec<TopicPartition>,
    },
    /// A consumer's rebalance listener was told it lost these partitions in an orderly way
    /// (`ConsumerRebalanceListener.onPartitionsRevoked`): every partition before an eager
    /// rejoin, only the moving ones under the cooperative protocol (KIP-429).
    PartitionsRevoked {
        /// The consumer's client id.
        consumer: Name,
        /// The consumer group (`group.id`).
        group: Name,
        /// The revoked partitions.
        partitions: Vec<TopicPartition>,
    },
    /// A consumer's rebalance listener was given partitions (`onPartitionsAssigned`): the whole
    /// assignment under the eager protocol, only the added ones under the cooperative one.
    PartitionsAssigned {
        /// The consumer's client id.
        consumer: Name,
        /// The consumer group (`group.id`).
        group: Name,
        /// The generation the assignment belongs to.
        generation_id: i32,
        /// The partitions added.
        partitions: Vec<TopicPartition>,
    },
    /// A consumer learned it was no longer a member and dropped its partitions without being
    /// able to commit (`onPartitionsLost`, KIP-429): its session expired or it was fenced.
    PartitionsLost {
        /// The consumer's client id.
        consumer: Name,
        /// The consumer group (`group.id`).
        group: Name,
        /// The partitions dropped.
        partitions: Vec<TopicPartition>,
        /// Why, in plain words.
        reason: String,
    },
    /// The application finished processing records it polled: `(offset, send id)` pairs.
    Processed {
        /// The consumer's client id.
        consumer: Name,
        /// The consumer group (`group.id`).
        group: Name,
        /// The partition.
        tp: TopicPartition,
        /// Processed `(offset, send id)` pairs in offset order (ids inline, as in `Polled`).
        records: Vec<(i64, SendId)>,
    },
    /// A commit the application asked for was refused (`CommitFailedException` for a stale
    /// generation or an unknown member).
    CommitFailed {
        /// The consumer's client id.
        consumer: Name,
        /// The consumer group (`group.id`).
        group: Name,
        /// The coordinator's error.
        error: ErrorCode,
        /// The offsets that were not committed.
        offsets: Vec<(TopicPartition, i64)>,
    },
    /// More than `max.poll.interval.ms` passed between two polls, so the consumer's heartbeat
    /// thread left the group (`AbstractCoordinator.HeartbeatThread`, "consumer poll timeout has
    /// expired").
    PollTimeoutExpired {
        /// The consumer's client id.
        consumer: Name,
        /// The consumer group (`group.id`).
        group: Name,
        /// The configured limit, in milliseconds.
        max_poll_interval_ms: u64,
        /// Time since the last poll, in milliseconds.
        since_poll_ms: u64,
    },
    /// A scripted consumer moved its position (`seek`, `seekToBeginning`, `seekToEnd`,
    /// `offsetsForTimes`).
    Seeked {
        /// The consumer's client id.
        consumer: Name,
        /// The partition.
        tp: TopicPartition,
        /// The new position.
        offset: i64,
        /// What was asked, in Kafka's method names.
        how: String,
    },
    /// A static member restarted and rejoined under its `group.instance.id` with a new member
    /// id; the coordinator kept its assignment and started no rebalance (KIP-345).
    StaticMemberRejoined {
        /// The consumer group (`group.id`).
        group: Name,
        /// The member's `group.instance.id`.
        group_instance_id: String,
        /// The member id it had before.
        old_member_id: String,
        /// The member id it has now.
        new_member_id: String,
    },
    /// A broker became coordinator of a group and loaded its state and offsets from the log of
    /// its `__consumer_offsets` partition.
    GroupLoaded {
        /// The consumer group (`group.id`).
        group: Name,
        /// The generation found.
        generation_id: i32,
        /// Members found.
        members: usize,
        /// Committed offsets found.
        offsets: usize,
    },
    /// A consumer found no committed offset and reset by `auto.offset.reset`.
    OffsetReset {
        /// The consumer's client id.
        consumer: Name,
        /// The partition.
        tp: TopicPartition,
        /// The offset (-1 when unknown, as with `acks=0`).
        offset: i64,
        /// The `auto.offset.reset` value applied.
        policy: String,
    },
    /// A consumer found that its position's leader epoch ends below the position: the log was
    /// truncated under it, by an unclean election (KIP-320's validation).
    LogTruncationDetected {
        /// The consumer's client id.
        consumer: Name,
        /// The partition.
        tp: TopicPartition,
        /// The consumer's position before the check.
        position: i64,
        /// Where the leader's log diverges from what the consumer read.
        divergence_offset: i64,
        /// Whether the consumer moved back to the divergence point (`auto.offset.reset` set);
        /// otherwise the application gets `LogTruncationException`.
        reset: bool,
    },
    /// The application's `send()` blocked for `max.block.ms` (waiting for `buffer.memory` to
    /// free up, or for the partition to appear in metadata) and failed with Kafka's client-side
    /// `TimeoutException`. Like `SendAcked` and `SendFailed`, it ends the record: nothing was
    /// sent.
    SendBlockedTimeout {
        /// The producer's client id.
        producer: String,
        /// The partition.
        tp: TopicPartition,
        /// The send's unique id (the value for rate-driven sends).
        value: String,
        /// The `max.block.ms` that ran out, in milliseconds.
        max_block_ms: u64,
        /// What `send()` waited for, in Kafka's words.
        reason: String,
    },
    /// The record was refused by the producer itself, before any request, with Kafka's
    /// client-side `RecordTooLargeException`: its serialized size exceeds `max.request.size`
    /// or `buffer.memory`. It ends the record.
    SendTooLarge {
        /// The producer's client id.
        producer: String,
        /// The partition.
        tp: TopicPartition,
        /// The send's unique id (the value for rate-driven sends).
        value: String,
        /// The record's estimated size as a batch of its own, in bytes.
        size_bytes: usize,
        /// The limit it exceeds, in bytes.
        limit_bytes: usize,
        /// The config that sets the limit (`max.request.size` or `buffer.memory`).
        config: String,
    },
    /// A producer's `flush()` returned: every record sent before it has completed.
    ProducerFlushed {
        /// The producer's client id.
        producer: String,
        /// Records that were incomplete when `flush()` was called.
        records: usize,
        /// How long `flush()` blocked, in milliseconds.
        waited_ms: u64,
    },
    /// An idempotent producer received a new producer id and epoch from `InitProducerId`
    /// (KIP-98): its sequences start again at 0 on every partition.
    ProducerIdGranted {
        /// The producer's client id.
        producer: String,
        /// The producer id.
        producer_id: i64,
        /// The producer epoch.
        producer_epoch: i16,
    },
    /// An idempotent producer bumped its epoch to recover from a sequence gap (KIP-360): the
    /// batches not yet acknowledged on the affected partitions are renumbered from sequence 0.
    ProducerEpochBumped {
        /// The producer's client id.
        producer: String,
        /// The producer id.
        producer_id: i64,
        /// The new producer epoch.
        producer_epoch: i16,
        /// Why, in plain words.
        reason: String,
    },
    /// A partition leader dropped a retried batch it already holds (KIP-98): the same producer
    /// id and epoch with the (first, last) sequences of one of the producer's last 5 batches.
    /// Nothing was appended; the producer is answered with the original batch's offset.
    DuplicateBatchDropped {
        /// The partition.
        tp: TopicPartition,
        /// The producer id.
        producer_id: i64,
        /// The producer epoch.
        producer_epoch: i16,
        /// The retried batch's first sequence.
        base_sequence: i32,
        /// The offset the original batch was written at, which the answer carries.
        original_offset: i64,
    },
    /// The active controller reserved a block of producer ids for a broker (KIP-730), through a
    /// `ProducerIdsRecord`; the broker hears of it once the record is committed.
    ProducerIdsAllocated {
        /// The broker (`node.id`).
        broker_id: NodeId,
        /// The block's first producer id.
        first_producer_id: i64,
        /// How many ids the block holds.
        size: i32,
    },
    /// The leader stored a producer's batch in the codec of the topic's `compression.type`
    /// rather than the one it was sent in: it decompressed the records and compressed them again
    /// (Kafka's `LogValidator`). Followers copy the batch as stored.
    BatchRecompressed {
        /// The partition.
        tp: TopicPartition,
        /// The batch's first offset.
        base_offset: i64,
        /// The codec the producer sent the batch in.
        from: Compression,
        /// The codec the batch is stored in (the topic's).
        to: Compression,
        /// Records in the batch.
        records: usize,
        /// The batch's size as sent, in bytes.
        sent_bytes: u64,
        /// The batch's size as stored, in bytes.
        stored_bytes: u64,
    },
}

impl Event {
    /// One line of plain words for the event feed, without the time and node.
    pub fn describe(&self) -> String {
        fn ids(v: &[NodeId]) -> String {
            v.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(",")
        }
        match self {
            Event::BrokerRegistered { broker_id, broker_epoch } => {
                format!("broker {broker_id} registered (broker epoch {broker_epoch})")
            }
            Event::BrokerUnfenced { broker_id } => format!("broker {broker_id} unfenced: it may lead partitions"),
            Event::BrokerFenced { broker_id, reason } => format!("broker {broker_id} fenced: {reason}"),
            Event::ReassignmentStarted { tp, adding, removing } => {
                format!("{tp}: reassignment started, adding [{}], removing [{}]", ids(adding), ids(removing))
            }
            Event::ReassignmentCompleted { tp, replicas } => {
                format!("{tp}: reassignment completed, replicas now [{}]", ids(replicas))
            }
            Event::QuorumStateChanged { role, epoch, leader_id, voted_id, reason } => {
                let mut text = format!("quorum: {} in epoch {epoch}", role.name());
                if let Some(l) = leader_id {
                    text.push_str(&format!(", leader {l}"));
                }
                if let Some(v) = voted_id {
                    text.push_str(&format!(", voted for {v}"));
                }
                text.push_str(&format!(" ({reason})"));
                text
            }
            Event::VoteCast { candidate, epoch, pre_vote, granted, reason } => {
                let kind = if *pre_vote { "pre-vote" } else { "vote" };
                match (granted, reason) {
                    (true, _) => format!("quorum: granted {kind} to {candidate} for epoch {epoch}"),
                    (false, Some(r)) => format!("quorum: refused {kind} to {candidate} for epoch {epoch}: {r}"),
                    (false, None) => format!("quorum: refused {kind} to {candidate} for epoch {epoch}"),
                }
            }
            Event::ElectionFailed { epoch, reason, backoff_ms } => {
                format!("quorum: no leader in epoch {epoch} ({reason}); backing off {backoff_ms} ms")
            }
            Event::MetadataCommitted { epoch, high_watermark } => {
                format!("quorum: metadata committed below offset {high_watermark} (epoch {epoch})")
            }
            Event::LeaderUnreachable { leader_id, epoch } => format!(
                "quorum: no fetch answer from leader {leader_id} (epoch {epoch}) within controller.quorum.fetch.timeout.ms"
            ),
            Event::LeaderResigned { epoch, reason } => format!("quorum: resigned leadership of epoch {epoch} ({reason})"),
            Event::MetadataLogTruncated { diverging_epoch, from_offset, to_offset } => format!(
                "quorum: metadata log diverged at epoch {diverging_epoch}: truncated from {from_offset} to {to_offset}"
            ),
            Event::ControllerActivated { epoch, metadata_offset } => {
                format!("became the active controller (epoch {epoch}, metadata log end offset {metadata_offset})")
            }
            Event::ControllerDeactivated { epoch } => format!("no longer the active controller (epoch {epoch})"),
            Event::UncleanLeaderElected { tp, leader, leader_epoch } => format!(
                "{tp}: UNCLEAN election: broker {leader} leads (leader epoch {leader_epoch}) though it was not in the isr"
            ),
            Event::ReplicaDeleted { tp } => format!("{tp}: no longer a replica here; log deleted"),
            Event::TopicCreated { topic, partitions, replication_factor } => {
                format!("topic {topic} created: {partitions} partitions, replication factor {replication_factor}")
            }
            Event::LeaderElected { tp, leader, leader_epoch, isr } => {
                format!("{tp}: broker {leader} elected leader (leader epoch {leader_epoch}, isr [{}])", ids(isr))
            }
            Event::PartitionOffline { tp, isr, .. } => {
                format!("{tp}: OFFLINE, no live replica in isr [{}]", ids(isr))
            }
            Event::IsrShrunk { tp, removed, isr, .. } => {
                format!("{tp}: isr shrunk, removed [{}], isr now [{}]", ids(removed), ids(isr))
            }
            Event::IsrExpanded { tp, added, isr, .. } => {
                format!("{tp}: isr expanded, added [{}], isr now [{}]", ids(added), ids(isr))
            }
            Event::HighWatermarkAdvanced { tp, high_watermark } => {
                format!("{tp}: high watermark now {high_watermark}")
            }
            Event::BecameLeader { tp, leader_epoch, log_end_offset } => {
                format!("{tp}: now leader in epoch {leader_epoch} at log end offset {log_end_offset}")
            }
            Event::BecameFollower { tp, leader, leader_epoch } => match leader {
                Some(l) => format!("{tp}: now follower of broker {l} (leader epoch {leader_epoch})"),
                None => format!("{tp}: now follower, no leader (leader epoch {leader_epoch})"),
            },
            Event::LogTruncated { tp, from_offset, to_offset } => format!(
                "{tp}: log truncated from {from_offset} to {to_offset}: {} record(s) dropped",
                from_offset - to_offset
            ),
            Event::LogRecovered {
                tp,
                segments,
                log_start_offset,
                log_end_offset,
                high_watermark,
                truncated_bytes,
                deleted_segments,
                ..
            } => {
                let mut text = format!(
                    "{tp}: log recovered: {segments} segment(s), offsets {log_start_offset}..{log_end_offset}, \
                     high watermark {high_watermark}"
                );
                if *truncated_bytes > 0 {
                    text.push_str(&format!(", cut {truncated_bytes} torn byte(s)"));
                }
                if *deleted_segments > 0 {
                    text.push_str(&format!(", deleted {deleted_segments} later segment(s)"));
                }
                text
            }
            Event::SegmentRolled { tp, base_offset, reason } => {
                format!("{tp}: rolled a new segment at offset {base_offset} ({reason})")
            }
            Event::SegmentsDeleted { tp, base_offsets, reason, log_start_offset } => format!(
                "{tp}: {reason}: deleted {} segment(s), log start offset now {log_start_offset}",
                base_offsets.len()
            ),
            Event::LogFlushed { tp, recovery_point } => format!("{tp}: flushed to disk below offset {recovery_point}"),
            Event::LogCleaned { tp, first_dirty_offset, end_offset, records_before, records_after, bytes_before, bytes_after, segments_before, segments_after } => format!(
                "{tp}: cleaned dirty offsets {first_dirty_offset}..{end_offset}: {records_before} → {records_after} record(s), \
                 {bytes_before} → {bytes_after} bytes, {segments_before} → {segments_after} segment(s)"
            ),
            Event::BrokerStarted { incarnation, recovered_batches } => {
                format!("broker started (incarnation {incarnation}), recovered {recovered_batches} batch(es) from disk")
            }
            Event::ProduceRejected { tp, error } => format!("{tp}: produce rejected with {error}"),
            Event::GroupRebalanced { group, generation_id, members, protocol, .. } => format!(
                "group {group}: generation {generation_id} with {} member(s), assignor {protocol}",
                members.len()
            ),
            Event::MemberRemoved { group, member_id, reason } => {
                format!("group {group}: member {member_id} removed ({reason})")
            }
            Event::RebalanceStarted { group, reason } => format!("group {group}: rebalance started ({reason})"),
            Event::OffsetCommitted { group, tp, offset } => format!("group {group}: committed {tp} at {offset}"),
            Event::SendInvoked { producer, tp, value, .. } => format!("{producer} sends {value} to {tp}"),
            Event::SendAcked { producer, tp, offset, value } => {
                format!("{producer}: {value} acknowledged at {tp} offset {offset}")
            }
            Event::SendFailed { producer, tp, value, error } => {
                format!("{producer}: {value} to {tp} failed with {error}")
            }
            Event::SendRetried { producer, tp, records, reason } => {
                format!("{producer}: retrying {records} record(s) to {tp} ({reason})")
            }
            Event::Polled { consumer, tp, records } => match (records.first(), records.last()) {
                (Some(first), Some(last)) => {
                    format!("{consumer} polled {} record(s) from {tp}, offsets {}..={}", records.len(), first.0, last.0)
                }
                _ => format!("{consumer} polled nothing from {tp}"),
            },
            Event::AssignmentReceived { consumer, group, generation_id, partitions } => format!(
                "{consumer} assigned [{}] in group {group} generation {generation_id}",
                partitions.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", ")
            ),
            Event::PartitionsRevoked { consumer, group, partitions } => {
                format!("{consumer}: partitions revoked in group {group}: [{}]", list(partitions))
            }
            Event::PartitionsAssigned { consumer, group, generation_id, partitions } => format!(
                "{consumer}: partitions assigned in group {group} generation {generation_id}: [{}]",
                list(partitions)
            ),
            Event::PartitionsLost { consumer, group, partitions, reason } => {
                format!("{consumer}: partitions lost in group {group} ({reason}): [{}]", list(partitions))
            }
            Event::Processed { consumer, tp, records, .. } => match (records.first(), records.last()) {
                (Some(first), Some(last)) => format!(
                    "{consumer} processed {} record(s) from {tp}, offsets {}..={}",
                    records.len(),
                    first.0,
                    last.0
                ),
                _ => format!("{consumer} processed nothing from {tp}"),
            },
            Event::CommitFailed { consumer, group, error, offsets } => format!(
                "{consumer}: commit of [{}] in group {group} failed with {error} (CommitFailedException)",
                offsets.iter().map(|(tp, o)| format!("{tp}@{o}")).collect::<Vec<_>>().join(", ")
            ),
            Event::PollTimeoutExpired { consumer, group, max_poll_interval_ms, since_poll_ms } => format!(
                "{consumer}: {since_poll_ms} ms since the last poll exceeds max.poll.interval.ms={max_poll_interval_ms}; \
                 it leaves group {group}"
            ),
            Event::Seeked { consumer, tp, offset, how } => format!("{consumer}: {how} moved {tp} to offset {offset}"),
            Event::StaticMemberRejoined { group, group_instance_id, old_member_id, new_member_id } => format!(
                "group {group}: static member {group_instance_id} rejoined as {new_member_id} (was {old_member_id}); \
                 it keeps its partitions and no rebalance starts"
            ),
            Event::GroupLoaded { group, generation_id, members, offsets } => format!(
                "group {group}: loaded from __consumer_offsets: generation {generation_id}, {members} member(s), \
                 {offsets} committed offset(s)"
            ),
            Event::OffsetReset { consumer, tp, offset, policy } => {
                format!("{consumer}: no committed offset for {tp}, auto.offset.reset={policy} → {offset}")
            }
            Event::LogTruncationDetected { consumer, tp, position, divergence_offset, reset } => format!(
                "{consumer}: {tp} was truncated under its position {position}: the leader's log diverges at \
                 {divergence_offset}; {}",
                if *reset {
                    format!("records {divergence_offset} to {} it read are gone, it resumes at {divergence_offset}", position - 1)
                } else {
                    "auto.offset.reset=none, so the application gets LogTruncationException".to_string()
                }
            ),
            Event::SendBlockedTimeout { producer, tp, value, max_block_ms, reason } => {
                format!("{producer}: {value} to {tp} failed: send() blocked for max.block.ms={max_block_ms} ({reason})")
            }
            Event::SendTooLarge { producer, tp, value, size_bytes, limit_bytes, config } => format!(
                "{producer}: {value} to {tp} refused: {size_bytes} bytes is larger than {config}={limit_bytes}"
            ),
            Event::ProducerFlushed { producer, records, waited_ms } => {
                format!("{producer}: flush() returned after {waited_ms} ms; {records} record(s) completed")
            }
            Event::ProducerIdGranted { producer, producer_id, producer_epoch } => {
                format!("{producer}: producer id {producer_id}, epoch {producer_epoch}; sequences start at 0")
            }
            Event::ProducerEpochBumped { producer, producer_id, producer_epoch, reason } => format!(
                "{producer}: bumped producer {producer_id} to epoch {producer_epoch} ({reason}); sequences restart at 0"
            ),
            Event::DuplicateBatchDropped { tp, producer_id, producer_epoch, base_sequence, original_offset } => {
                format!(
                    "{tp}: dropped a duplicate batch from producer {producer_id} (epoch {producer_epoch}, sequence \
                     {base_sequence}); already written at offset {original_offset}, so that offset is the answer"
                )
            }
            Event::ProducerIdsAllocated { broker_id, first_producer_id, size } => format!(
                "producer ids {first_producer_id} to {} reserved for broker {broker_id}",
                first_producer_id + i64::from(*size) - 1
            ),
            Event::BatchRecompressed { tp, base_offset, from, to, records, sent_bytes, stored_bytes } => {
                let what = match (from, to) {
                    (Compression::None, _) => format!("compressed with {}", to.name()),
                    (_, Compression::None) => format!("decompressed from {}", from.name()),
                    _ => format!("recompressed from {} to {}", from.name(), to.name()),
                };
                format!(
                    "{tp}: batch at offset {base_offset} {what} by the topic's compression.type: {records} record(s), \
                     {sent_bytes} bytes as sent → {stored_bytes} bytes stored"
                )
            }
        }
    }

    /// Whether the event is routine traffic (high-watermark moves, per-record history and other
    /// per-batch work such as recompression) that the event feed hides unless asked.
    pub fn is_routine(&self) -> bool {
        matches!(
            self,
            Event::HighWatermarkAdvanced { .. }
                | Event::SendInvoked { .. }
                | Event::SendAcked { .. }
                | Event::Polled { .. }
                | Event::Processed { .. }
                | Event::OffsetCommitted { .. }
                | Event::LogFlushed { .. }
                | Event::MetadataCommitted { .. }
                | Event::BatchRecompressed { .. }
        )
    }

    /// Whether the event is part of an election: a partition leader or the active controller
    /// chosen, a Raft vote or state change, a failed election, or a partition going offline.
    /// The lab's "elections" filter and its Quorum view show these.
    pub fn is_election(&self) -> bool {
        matches!(
            self,
            Event::LeaderElected { .. }
                | Event::UncleanLeaderElected { .. }
                | Event::ControllerActivated { .. }
                | Event::ControllerDeactivated { .. }
                | Event::QuorumStateChanged { .. }
                | Event::VoteCast { .. }
                | Event::ElectionFailed { .. }
                | Event::BecameLeader { .. }
                | Event::PartitionOffline { .. }
        )
    }
}

/// Partitions as `orders-0, orders-1` for event texts.
fn list(partitions: &[TopicPartition]) -> String {
    partitions.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", ")
}
