//! What a front end sees of a run: the cluster described the way Kafka's command-line tools
//! describe it, plus the state of every node. `kafkalab run` prints these, `--json` serialises
//! them, and the TUI draws them.
//!
//! The JSON field names are a public contract (`kafkalab run --json`): later work adds fields
//! and never renames them.

use serde::{Deserialize, Serialize};

/// One partition, as a line of `kafka-topics.sh --describe` shows it, plus the offsets Kafka
/// keeps per replica.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionDescription {
    /// Partition index.
    pub partition: i32,
    /// Leader broker id, `None` when the partition is offline.
    pub leader: Option<i32>,
    /// Current leader epoch.
    pub leader_epoch: i32,
    /// Assigned replicas, preferred leader first.
    pub replicas: Vec<i32>,
    /// In-sync replicas.
    pub isr: Vec<i32>,
    /// Replicas a reassignment is adding (KIP-455); empty when none is in progress.
    #[serde(default)]
    pub adding_replicas: Vec<i32>,
    /// Replicas a reassignment will remove once the adding ones are in sync.
    #[serde(default)]
    pub removing_replicas: Vec<i32>,
    /// The leader's log start offset (or the best replica's when offline).
    pub log_start_offset: i64,
    /// The leader's high watermark.
    pub high_watermark: i64,
    /// The leader's log end offset.
    pub log_end_offset: i64,
    /// Segments in the leader's log, the active one included.
    pub segments: usize,
    /// Bytes in the leader's segments (`kafka-log-dirs.sh` reports this as `size`).
    pub size_bytes: u64,
    /// Every replica's view: `(broker, log_end_offset, high_watermark)`, `None` offsets for a
    /// replica whose broker is down.
    pub replica_offsets: Vec<ReplicaOffsets>,
}

/// One replica's offsets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaOffsets {
    /// Broker id.
    pub broker: i32,
    /// Log end offset, `None` when the broker is down.
    pub log_end_offset: Option<i64>,
    /// This replica's high watermark, `None` when the broker is down.
    pub high_watermark: Option<i64>,
}

/// A topic, as `kafka-topics.sh --describe` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicDescription {
    /// Topic name.
    pub name: String,
    /// Replication factor.
    pub replication_factor: i32,
    /// Effective `min.insync.replicas`.
    pub min_insync_replicas: i32,
    /// The topic's config overrides by Kafka key, as `Configs:` lists them.
    pub configs: std::collections::BTreeMap<String, String>,
    /// Partitions in order.
    pub partitions: Vec<PartitionDescription>,
}

/// A partition assigned to a member.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AssignedPartition {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
}

/// A group member, as `kafka-consumer-groups.sh --describe --members --verbose` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberDescription {
    /// Coordinator-assigned member id (`CONSUMER-ID`).
    pub member_id: String,
    /// The consumer's `client.id` (the scenario's client id).
    pub client_id: String,
    /// Its `group.instance.id` when it is a static member (KIP-345), `None` for a dynamic one.
    pub group_instance_id: Option<String>,
    /// The consumer's address as the coordinator sees it (`HOST` in Kafka's tables,
    /// `/10.0.0.5`).
    #[serde(default)]
    pub host: String,
    /// Assigned partitions, in the order the coordinator reports them.
    pub assignment: Vec<AssignedPartition>,
}

/// Committed offset and lag of one partition, as `kafka-consumer-groups.sh --describe` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffsetDescription {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
    /// Committed offset, `None` when nothing is committed (`-` in Kafka's table).
    pub committed_offset: Option<i64>,
    /// The partition's log end offset as consumers see it (the high watermark).
    pub log_end_offset: i64,
    /// `log_end_offset - committed_offset`, `None` when nothing is committed.
    pub lag: Option<i64>,
    /// Member id owning the partition, if any.
    pub consumer_id: Option<String>,
    /// Client id owning the partition, if any.
    pub client_id: Option<String>,
    /// Address of the owning consumer (`HOST` in Kafka's table, `/10.0.19.136`), if any.
    pub host: Option<String>,
}

/// A consumer group, as `kafka-consumer-groups.sh --describe` (with `--state`, `--members` or
/// `--offsets`) shows it, plus when it last rebalanced.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupDescription {
    /// `group.id`.
    pub group: String,
    /// `Empty`, `PreparingRebalance`, `CompletingRebalance`, `Stable`, `Dead` (the coordinator
    /// does not know the group: Kafka's tool says it does not exist) or `Unknown` (no
    /// coordinator can be found, so Kafka's tool would fail).
    pub state: String,
    /// Current generation.
    pub generation_id: i32,
    /// Assignor in use (`range`), empty before the first rebalance.
    pub protocol: String,
    /// Coordinator broker, `None` when unknown.
    pub coordinator: Option<i32>,
    /// Members.
    pub members: Vec<MemberDescription>,
    /// Offsets and lag per partition of the subscribed topics.
    pub offsets: Vec<OffsetDescription>,
    /// When the latest rebalance completed (the coordinator moved the group to its current
    /// generation), in milliseconds of simulated time; `None` before the first one.
    #[serde(default)]
    pub last_rebalance_ms: Option<u64>,
}

/// A broker's state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerView {
    /// Broker id.
    pub id: i32,
    /// Whether the process is running.
    pub up: bool,
    /// Whether the controller has fenced it.
    pub fenced: bool,
    /// Partitions it leads (user topics).
    pub leader_count: usize,
    /// Replicas it hosts (user topics).
    pub replica_count: usize,
}

/// A client's state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientView {
    /// Scenario client id.
    pub id: String,
    /// `producer` or `consumer`.
    pub kind: String,
    /// Whether the process is running.
    pub up: bool,
    /// Producer: records acknowledged; consumer: records polled.
    pub records: u64,
    /// A short state word (`sending`, `stable`, `joining`, ...).
    pub state: String,
}

/// One replica of the metadata log, as `kafka-metadata-quorum.sh describe --replication` lists
/// it (with the role this node reports itself).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuorumReplica {
    /// The node.
    pub node_id: i32,
    /// Its metadata log end offset (as the leader last heard it, else its own; -1 unknown).
    pub log_end_offset: i64,
    /// How far behind the leader's log end offset it is.
    pub lag: i64,
    /// `Leader`, `Follower`, `Candidate`, `Prospective`, `Unattached`, `Resigned`, `Observer`,
    /// or `Down` when its process is not running.
    pub role: String,
    /// The epoch it is in (-1 when down).
    pub epoch: i32,
    /// When it last fetched from the leader, in milliseconds of simulated time.
    pub last_fetch_ms: Option<u64>,
    /// When it last caught up with the leader, in milliseconds of simulated time.
    pub last_caught_up_ms: Option<u64>,
}

/// The KRaft metadata quorum (`kafka-metadata-quorum.sh describe --status`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuorumDescription {
    /// The leader (the active controller's node), if any.
    pub leader_id: Option<i32>,
    /// The leader's epoch, or the highest epoch any voter is in when there is no leader.
    pub leader_epoch: i32,
    /// The leader's high watermark: metadata records below it are committed.
    pub high_watermark: i64,
    /// Votes needed to elect a leader or commit: `floor(N/2) + 1`.
    pub quorum_size: usize,
    /// The voters (controllers).
    pub voters: Vec<QuorumReplica>,
    /// The observers (brokers that only read the log).
    pub observers: Vec<QuorumReplica>,
}

/// A node as the lab's overview shows it: every broker, controller and client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeView {
    /// `node.id` (clients count from 5000).
    pub id: i32,
    /// The name the trace uses: `broker 1`, `controller 3000`, `node 1` (combined), a client id.
    pub name: String,
    /// `broker`, `controller`, `broker+controller`, `producer` or `consumer`.
    pub kind: String,
    /// `up`, `down` (the process is not running) or `paused` (stopped, as by `SIGSTOP`).
    pub state: String,
    /// The node's own metadata-quorum state, for every running node that takes part in the
    /// quorum (voters and observing brokers); `None` for clients and stopped nodes.
    pub quorum: Option<NodeQuorumState>,
}

/// One node's own Raft state in the metadata quorum (KIP-595).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeQuorumState {
    /// Whether the node is a voter (a controller) rather than an observer.
    pub voter: bool,
    /// `Leader`, `Follower`, `Candidate`, `Prospective`, `Unattached`, `Resigned` or `Observer`.
    pub role: String,
    /// The epoch it is in.
    pub epoch: i32,
    /// The leader it knows for that epoch.
    pub leader_id: Option<i32>,
    /// The candidate it voted for in that epoch.
    pub voted_for: Option<i32>,
    /// Its metadata log end offset.
    pub log_end_offset: i64,
    /// Its high watermark: the metadata records below it are committed, as far as it knows.
    pub high_watermark: i64,
}

/// One batch of a replica's log, as the lab's log view draws it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchView {
    /// Offset of the first record.
    pub base_offset: i64,
    /// Offset of the last record the batch was written with.
    pub last_offset: i64,
    /// The leader epoch it was appended in (KIP-101's epoch boundaries).
    pub leader_epoch: i32,
    /// Producer id, -1 for a producer without idempotence.
    pub producer_id: i64,
    /// Sequence of the first record, -1 without idempotence.
    pub base_sequence: i32,
    /// Offsets in `base_offset..=last_offset` the cleaner removed (compaction).
    pub removed: Vec<i64>,
    /// Offsets holding a tombstone (a record with a key and a null value).
    pub tombstones: Vec<i64>,
}

/// The tail of one replica's log: the batches that hold its last [`LOG_WINDOW`] offsets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaLogView {
    /// Broker id.
    pub broker: i32,
    /// Whether the broker is running; a stopped broker's log is not read.
    pub up: bool,
    /// Its log start offset.
    pub log_start_offset: i64,
    /// Its high watermark: records below it are committed, as far as this replica knows.
    pub high_watermark: i64,
    /// Its log end offset.
    pub log_end_offset: i64,
    /// Batches overlapping the window, oldest first.
    pub batches: Vec<BatchView>,
}

/// How many of a replica's last offsets a [`ReplicaLogView`] covers.
pub const LOG_WINDOW: i64 = 64;

/// The replicas' logs of one partition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionLogView {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
    /// One per assigned replica, in replica order.
    pub replicas: Vec<ReplicaLogView>,
}

/// Everything a front end draws at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterView {
    /// Simulated time, in milliseconds.
    pub time_ms: u64,
    /// The scenario's duration, in milliseconds.
    pub duration_ms: u64,
    /// Whether the active controller is up (some controller leads the quorum and is active).
    pub controller_up: bool,
    /// The metadata quorum.
    pub quorum: QuorumDescription,
    /// Brokers by id.
    pub brokers: Vec<BrokerView>,
    /// Clients in scenario order.
    pub clients: Vec<ClientView>,
    /// User topics by name.
    pub topics: Vec<TopicDescription>,
    /// Groups by name.
    pub groups: Vec<GroupDescription>,
    /// Every node: brokers, controllers, clients (added for the lab; absent in old recordings).
    #[serde(default)]
    pub nodes: Vec<NodeView>,
    /// The faults in force now, in words: cuts, pauses, packet loss, latency.
    #[serde(default)]
    pub active_faults: Vec<String>,
    /// The tail of every replica's log of every user partition.
    #[serde(default)]
    pub logs: Vec<PartitionLogView>,
}
