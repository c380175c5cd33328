//! A broker: partition replicas, the replica fetcher, the produce and fetch paths, and the
//! group coordinator for the groups whose `__consumer_offsets` partition it leads.
//!
//! The rules follow Kafka's `ReplicaManager`, `Partition` and `AbstractFetcherThread`
//! (apache/kafka: core/src/main/scala/kafka/server/, core/src/main/scala/kafka/cluster/). The
//! broker learns everything about leadership from the controller's metadata log and changes the
//! ISR only through `AlterPartition`.

use crate::config::{BrokerConfig, LogConfig};
use crate::era::Era;
use crate::error::ErrorCode;
use crate::event::Event;
use crate::fetch_session::{FetchContext, FetchSessionCache, FetchSessionHandler};
use crate::group::{self, AcceptedCommit, CoordinatorConfig, GroupCoordinator, GroupRecord, GroupStatus, JoinRequest};
use crate::ids::{NodeId, TopicPartition};
use crate::key::Key;
use crate::log::producer_state::ProducerAppendCheck;
use crate::log::{checkpoint, Checkpoints, PartitionLog};
use crate::metadata::{MetadataImage, MetadataRecord, PartitionState};
use crate::node::{DiskOp, Effect, Node, Outbox};
use crate::partition::{Partition, Partitions, PendingIsrChange, ReplicaSlot};
use crate::protocol::{
    EpochEndOffset, FetchPartition, FetchPartitionResponse, Message, ProducePartition, ProducePartitionResponse,
    EARLIEST_TIMESTAMP, LATEST_TIMESTAMP,
};
use crate::raft::{QuorumConfig, RaftClient, METADATA_TOPIC};
use crate::record::{Record, RecordBatch};
use crate::time::Instant;
use core::time::Duration;
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The internal topic holding committed offsets.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// The key prefix of group metadata records in `__consumer_offsets` (`group:<group id>`).
const GROUP_RECORD_PREFIX: &str = "group:";

/// How long a controller request may go unanswered before it is sent again
/// (`controller.quorum.request.timeout.ms`, 2000).
const CONTROLLER_REQUEST_TIMEOUT: Duration = Duration::from_millis(2000);
/// How long a replica fetch may go unanswered (`replica.socket.timeout.ms`, 30000).
const REPLICA_FETCH_TIMEOUT: Duration = Duration::from_millis(30_000);
/// How long an `AlterPartition` may stay unanswered before the leader may propose again.
const ALTER_PARTITION_TIMEOUT: Duration = Duration::from_millis(5000);
/// Most bytes one fetch response carries per partition (`replica.fetch.max.bytes`, 1 MiB).
const FETCH_MAX_BYTES: usize = 1 << 20;
/// How long an `InitProducerId` may wait for a producer id block before it is answered
/// `REQUEST_TIMED_OUT`: the broker's `request.timeout.ms` default, 30000, which bounded the
/// wait in Kafka 3.0 to 3.4 (`RPCProducerIdManager`; from 3.5 Kafka answers
/// `COORDINATOR_LOAD_IN_PROGRESS` at once and the client retries).
const INIT_PRODUCER_ID_MAX_WAIT: Duration = Duration::from_millis(30_000);

/// The stream of the node's generator that draws fetch session ids (any number other than the
/// default stream, 0, would do).
const FETCH_SESSION_RNG_STREAM: u64 = 227;

/// What a broker needs to start.
pub struct BrokerSetup {
    /// `node.id`.
    pub id: NodeId,
    /// Counts restarts, so the controller can tell incarnations apart.
    pub incarnation: u64,
    /// Broker configs.
    pub config: BrokerConfig,
    /// Per-node PRNG.
    pub rng: ChaCha8Rng,
    /// The files of the broker's data directory that survived on disk (path → bytes): partition
    /// directories with their segments, and the broker-wide checkpoint files.
    pub files: BTreeMap<String, Vec<u8>>,
    /// The controller quorum, for a broker-only node that reads the metadata log as a Raft
    /// observer. `None` in a combined node, whose own controller's replica feeds the broker
    /// (see [`crate::combined`]).
    pub quorum: Option<QuorumConfig>,
    /// The behaviour era the scenario's `kafka_version` selects (replica recovery, high
    /// watermark and producer-state rules).
    pub era: Era,
}

#[derive(Clone, Debug)]
struct Fetcher {
    /// The fetch session with this leader (KIP-227).
    session: FetchSessionHandler,
    in_flight: Option<(u64, Instant)>,
    backoff_until: Instant,
    /// An `OffsetsForLeaderEpoch` request in flight to this leader (leader-epoch era before
    /// KAFKA-10554).
    epoch_lookup_in_flight: Option<(u64, Instant)>,
}

impl Fetcher {
    fn new(era: Era) -> Fetcher {
        Fetcher {
            session: FetchSessionHandler::new(era.incremental_fetch_sessions),
            in_flight: None,
            backoff_until: Instant::ZERO,
            epoch_lookup_in_flight: None,
        }
    }
}

#[derive(Clone, Debug)]
struct ParkedFetch {
    from: NodeId,
    correlation_id: u64,
    replica_id: i32,
    /// How the fetch is answered: in an incremental session, the session's partitions.
    context: FetchContext,
    /// The request's partitions.
    partitions: Vec<FetchPartition>,
    deadline: Instant,
}

/// The replica fetcher's plan: the leaders this broker follows with at least one partition ready
/// to fetch, and whether any partition waits for an `OffsetsForLeaderEpoch` answer first. It
/// changes only when a partition's role, leader or truncation state does, so it is kept until
/// then instead of being rebuilt from every partition after every input.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct FetchPlan {
    leaders: BTreeSet<NodeId>,
    any_truncating: bool,
}

/// One partition of a produce request, as the leader knows it so far (Kafka's
/// `ProducePartitionStatus`): its answer, and while `acks=all` still waits for the followers,
/// the offset the high watermark must reach.
#[derive(Clone, Debug)]
struct ProduceStatus {
    tp: TopicPartition,
    /// `None` on success, else the Kafka error.
    error: Option<ErrorCode>,
    /// Offset of the batch's first record, -1 when nothing was appended.
    base_offset: i64,
    /// `Some(offset)` while the answer waits for the high watermark to reach `offset`
    /// (Kafka's `acksPending` with its `requiredOffset`).
    required_offset: Option<i64>,
    /// Where the purgatory last found the partition's replica ([`Partitions::get_hinted`]).
    replica: Option<ReplicaSlot>,
}

impl ProduceStatus {
    fn failed(tp: TopicPartition, error: ErrorCode) -> ProduceStatus {
        ProduceStatus { tp, error: Some(error), base_offset: -1, required_offset: None, replica: None }
    }

    fn response(self) -> ProducePartitionResponse {
        ProducePartitionResponse { tp: self.tp, error: self.error, base_offset: self.base_offset }
    }
}

/// A produce request with `acks=all` waiting in the purgatory until every partition it
/// appended to is replicated to the ISR or `timeout_ms` passes (Kafka's `DelayedProduce`).
#[derive(Clone, Debug)]
struct DelayedProduce {
    from: NodeId,
    correlation_id: u64,
    /// Every partition of the request, in its order; those already answered (an error, or
    /// replicated) hold their answer.
    partitions: Vec<ProduceStatus>,
    deadline: Instant,
    /// Not tried since it was added: it may be completable at once (a duplicate of a batch
    /// already committed).
    fresh: bool,
}

/// A range of producer ids from the active controller (KIP-730, Kafka's `ProducerIdsBlock`):
/// `[first, end)`, of which `[next, end)` are still unused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ProducerIdBlock {
    first: i64,
    next: i64,
    end: i64,
}

/// An `InitProducerId` waiting for a producer id block.
#[derive(Clone, Debug)]
struct ParkedInitProducerId {
    from: NodeId,
    correlation_id: u64,
    /// When it is answered `REQUEST_TIMED_OUT` if no block came.
    deadline: Instant,
}

/// The producer ids this broker hands out, in blocks from the active controller (Kafka's
/// `RPCProducerIdManager`).
#[derive(Clone, Debug, Default)]
struct ProducerIdBlocks {
    /// The block ids are taken from.
    current: Option<ProducerIdBlock>,
    /// The next block, fetched before the current one runs out.
    prefetched: Option<ProducerIdBlock>,
    /// The `AllocateProducerIds` in flight: correlation id and when it was sent.
    in_flight: Option<(u64, Instant)>,
    /// Requests waiting for a block, oldest first.
    parked: Vec<ParkedInitProducerId>,
}

#[derive(Clone, Debug)]
struct PendingCommit {
    from: NodeId,
    correlation_id: u64,
    tp: TopicPartition,
    required_offset: i64,
    commit: AcceptedCommit,
    /// Not tried since it was added.
    fresh: bool,
}

/// One replica as views show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicaStatus {
    /// The committed partition state this broker knows.
    pub state: PartitionState,
    /// `log_start_offset`.
    pub log_start_offset: i64,
    /// This replica's high watermark.
    pub high_watermark: i64,
    /// This replica's log end offset.
    pub log_end_offset: i64,
    /// Segments in this replica's log, the active one included.
    pub segments: usize,
    /// Bytes in this replica's segments.
    pub size_bytes: u64,
}

/// A broker's observable state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerStatus {
    /// `node.id`.
    pub id: NodeId,
    /// Registered with a broker epoch.
    pub broker_epoch: Option<i64>,
    /// Fenced as far as this broker knows.
    pub fenced: bool,
    /// Its replicas.
    pub replicas: Vec<ReplicaStatus>,
    /// Groups it coordinates.
    pub groups: Vec<GroupStatus>,
}

/// A broker node.
pub struct Broker {
    /// The behaviour era (see [`BrokerSetup::era`]).
    era: Era,
    id: NodeId,
    incarnation: u64,
    config: BrokerConfig,
    rng: ChaCha8Rng,
    outbox: Outbox,
    next_correlation_id: u64,
    broker_epoch: Option<i64>,
    registration_in_flight: Option<(u64, Instant)>,
    fenced: bool,
    next_heartbeat: Instant,
    heartbeat_in_flight: Option<(u64, Instant)>,
    /// No controller request before this (after `NOT_CONTROLLER` or a disconnect).
    controller_backoff_until: Instant,
    /// The broker's observer replica of the metadata log (`None` in a combined node).
    raft: Option<RaftClient>,
    /// The active controller as the metadata quorum last named it.
    controller: Option<NodeId>,
    /// The next metadata offset to apply.
    metadata_offset: i64,
    /// Whether this incarnation has replayed the metadata log past its own registration record.
    /// Until then the image may still show the previous incarnation as leader, so the broker
    /// keeps its replicas idle (Kafka's broker waits for this initial catch-up before it
    /// publishes metadata to its replica manager).
    caught_up: bool,
    image: MetadataImage,
    partitions: Partitions,
    recovered: BTreeMap<TopicPartition, PartitionLog>,
    fetchers: BTreeMap<NodeId, Fetcher>,
    /// The fetch sessions of the fetchers of the partitions this broker leads (KIP-227).
    fetch_sessions: FetchSessionCache,
    parked_fetches: Vec<ParkedFetch>,
    delayed_produces: Vec<DelayedProduce>,
    /// An empty vector with room, swapped with `delayed_produces` at each pass over the
    /// purgatory: a pass runs after nearly every input, and building the kept list from nothing
    /// grew it anew each time.
    spare_delayed_produces: Vec<DelayedProduce>,
    pending_alters: BTreeMap<u64, TopicPartition>,
    coordinator: GroupCoordinator,
    pending_commits: Vec<PendingCommit>,
    /// Producer id blocks for `InitProducerId` (KIP-730).
    producer_ids: ProducerIdBlocks,
    next_isr_check: Instant,
    next_retention_check: Instant,
    next_cleaning: Instant,
    next_flush_check: Instant,
    next_high_watermark_checkpoint: Instant,
    next_recovery_point_checkpoint: Instant,
    next_log_start_checkpoint: Instant,
    /// The replica fetcher's plan; `None` after anything that may change it.
    fetch_plan: Option<FetchPlan>,
    /// A partition was added or removed, or its role, leader or epoch may have changed, since
    /// the purgatories were last checked.
    partitions_changed: bool,
    /// The partitions whose log end offset or high watermark moved since the purgatories were
    /// last checked (kept to reuse its allocation).
    moved: Vec<TopicPartition>,
}

/// `now + ms`, or never when `ms` is Kafka's "never" (`Long.MAX_VALUE`) or too far to matter.
/// An interval of 0 runs the task every millisecond rather than forever at one instant.
fn after_ms(now: Instant, ms: u64) -> Instant {
    if ms >= (i64::MAX as u64) / 2 {
        Instant::from_nanos(u64::MAX)
    } else {
        now + Duration::from_millis(ms.max(1))
    }
}

/// Loads every partition directory found in `files` (Kafka's `LogManager.loadLogs`), with the
/// broker's checkpoints. Returns the logs and the number of batches they hold.
fn load_logs(
    now: Instant,
    config: &BrokerConfig,
    files: &BTreeMap<String, Vec<u8>>,
) -> (BTreeMap<TopicPartition, PartitionLog>, usize) {
    let read = |name: &str| -> BTreeMap<TopicPartition, i64> {
        files.get(name).and_then(|b| checkpoint::decode_offsets(b).ok()).unwrap_or_default()
    };
    let (hw, recovery, start, cleaner) = (
        read(checkpoint::HIGH_WATERMARK_FILE),
        read(checkpoint::RECOVERY_POINT_FILE),
        read(checkpoint::LOG_START_OFFSET_FILE),
        read(checkpoint::CLEANER_OFFSET_FILE),
    );
    let mut dirs: BTreeMap<TopicPartition, BTreeMap<String, Vec<u8>>> = BTreeMap::new();
    for (path, bytes) in files {
        let Some((dir, name)) = path.split_once('/') else { continue };
        let Some((topic, partition)) = dir.rsplit_once('-') else { continue };
        let Ok(partition) = partition.parse::<i32>() else { continue };
        if topic == METADATA_TOPIC {
            // The metadata log belongs to the Raft replica, not to the log manager.
            continue;
        }
        dirs.entry(TopicPartition::new(topic, partition)).or_default().insert(name.to_string(), bytes.clone());
    }
    let mut logs = BTreeMap::new();
    let mut batches = 0;
    for (tp, dir_files) in dirs {
        let checkpoints = Checkpoints {
            recovery_point: recovery.get(&tp).copied(),
            log_start_offset: start.get(&tp).copied(),
            high_watermark: hw.get(&tp).copied(),
            cleaner_offset: cleaner.get(&tp).copied(),
        };
        let log = PartitionLog::load(tp.clone(), config.log.clone(), &dir_files, checkpoints, now.as_millis() as i64);
        batches += log.batches().count();
        logs.insert(tp, log);
    }
    (logs, batches)
}

impl Broker {
    /// Starts a broker: recovers its logs and registers with the controller.
    pub fn new(now: Instant, setup: BrokerSetup) -> Broker {
        let (recovered, recovered_batches) = load_logs(now, &setup.config, &setup.files);
        let coordinator = GroupCoordinator::new(CoordinatorConfig {
            initial_rebalance_delay: Duration::from_millis(setup.config.group_initial_rebalance_delay_ms),
            min_session_timeout: Duration::from_millis(setup.config.group_min_session_timeout_ms),
            max_session_timeout: Duration::from_millis(setup.config.group_max_session_timeout_ms),
        });
        let lag = Duration::from_millis(setup.config.replica_lag_time_max_ms);
        // Session ids come from their own stream of the node's generator, so that drawing them
        // does not shift what the broker draws for anything else.
        let mut session_rng = setup.rng.clone();
        session_rng.set_stream(FETCH_SESSION_RNG_STREAM);
        let fetch_sessions = FetchSessionCache::new(
            usize::try_from(setup.config.max_incremental_fetch_session_cache_slots).unwrap_or(0),
            session_rng,
        );
        let c = &setup.config;
        let timers = [
            after_ms(now, c.log_retention_check_interval_ms),
            after_ms(now, c.log_cleaner_backoff_ms),
            after_ms(now, c.log_flush_scheduler_interval_ms),
            // The high watermarks are written at once, then every interval, as Kafka's
            // `ReplicaManager.startHighWatermarkCheckPointThread` schedules them with no initial
            // delay (Kafka starts it at the broker's first metadata publish; here the recovered
            // logs are loaded at boot). This matters after a power loss: the checkpoint on disk
            // was flushed before it, and can name offsets the logs lost with the page cache.
            // Left there until the first interval is up, it would be read again at the next
            // restart, against records written since that were never committed.
            now,
            after_ms(now, c.log_flush_offset_checkpoint_interval_ms),
            after_ms(now, c.log_flush_start_offset_checkpoint_interval_ms),
        ];
        let mut broker = Broker {
            id: setup.id,
            era: setup.era,
            incarnation: setup.incarnation,
            config: setup.config,
            rng: setup.rng,
            outbox: Outbox::default(),
            next_correlation_id: 0,
            broker_epoch: None,
            registration_in_flight: None,
            fenced: true,
            next_heartbeat: now,
            heartbeat_in_flight: None,
            controller_backoff_until: now,
            raft: None,
            controller: None,
            metadata_offset: 0,
            caught_up: false,
            image: MetadataImage::default(),
            partitions: Partitions::default(),
            recovered,
            fetchers: BTreeMap::new(),
            fetch_sessions,
            parked_fetches: Vec::new(),
            delayed_produces: Vec::new(),
            spare_delayed_produces: Vec::new(),
            pending_alters: BTreeMap::new(),
            coordinator,
            pending_commits: Vec::new(),
            producer_ids: ProducerIdBlocks::default(),
            next_isr_check: now + lag / 2,
            next_retention_check: timers[0],
            next_cleaning: timers[1],
            next_flush_check: timers[2],
            next_high_watermark_checkpoint: timers[3],
            next_recovery_point_checkpoint: timers[4],
            next_log_start_checkpoint: timers[5],
            fetch_plan: None,
            partitions_changed: true,
            moved: Vec::new(),
        };
        broker.outbox.event(Event::BrokerStarted { incarnation: setup.incarnation, recovered_batches });
        let mut recovered = std::mem::take(&mut broker.recovered);
        for log in recovered.values_mut() {
            broker.drain_log(log);
        }
        broker.recovered = recovered;
        if let Some(quorum) = setup.quorum {
            use rand::{Rng, SeedableRng};
            let raft_rng = ChaCha8Rng::seed_from_u64(broker.rng.gen());
            let raft = RaftClient::new(now, broker.id, quorum, raft_rng, &setup.files);
            broker.raft = Some(raft);
            broker.drain_raft(now);
        }
        if broker.registration_in_flight.is_none() {
            broker.register(now);
        }
        broker
    }

    /// Moves the observer replica's effects into the broker's outbox and applies whatever it
    /// has newly committed.
    fn drain_raft(&mut self, now: Instant) {
        let Some(mut raft) = self.raft.take() else { return };
        raft.drain_into(&mut self.outbox);
        self.sync_metadata(now, &raft);
        self.raft = Some(raft);
    }

    /// Applies the metadata records `raft` has committed since the last call, and learns the
    /// active controller from it. A combined node calls this with its controller's replica.
    pub fn sync_metadata(&mut self, now: Instant, raft: &RaftClient) {
        self.controller = raft.leader_id();
        let hw = raft.high_watermark().min(raft.entries().len() as i64);
        if hw > self.metadata_offset {
            let base = self.metadata_offset;
            let records: Vec<MetadataRecord> =
                raft.entries()[base as usize..hw as usize].iter().map(|(_, r)| r.clone()).collect();
            self.apply_metadata(now, base, records);
        }
        if self.registration_in_flight.is_none() && self.broker_epoch.is_none() {
            self.register(now);
        }
    }

    fn correlation_id(&mut self) -> u64 {
        self.next_correlation_id += 1;
        self.next_correlation_id
    }

    /// Registers with the active controller, once the quorum names one.
    fn register(&mut self, now: Instant) {
        let Some(controller) = self.controller.filter(|_| now >= self.controller_backoff_until) else { return };
        let correlation_id = self.correlation_id();
        self.registration_in_flight = Some((correlation_id, now));
        self.outbox.send(
            controller,
            Message::BrokerRegistration { correlation_id, broker_id: self.id, incarnation: self.incarnation },
        );
    }

    /// The controller's answer was `NOT_CONTROLLER`: wait a little for the quorum to name the
    /// new one (`controller.quorum.retry.backoff.ms`).
    fn controller_moved(&mut self, now: Instant) {
        self.controller_backoff_until =
            now + Duration::from_millis(self.config.controller_quorum_retry_backoff_ms.max(1));
    }

    /// Removes the messages queued for `to` (see [`crate::node::Outbox::take_sends_to`]).
    pub fn take_sends_to(&mut self, to: NodeId) -> Vec<Message> {
        self.outbox.take_sends_to(to)
    }

    /// How many incremental fetch sessions this broker holds as a leader, as `(followers',
    /// consumers')`: Kafka's `NumIncrementalFetchSessions` gauge split by kind (KIP-227).
    pub fn incremental_fetch_sessions(&self) -> (usize, usize) {
        (self.fetch_sessions.count(true), self.fetch_sessions.count(false))
    }

    /// The log of a partition replica on this broker, if it hosts one.
    pub fn partition_log(&self, tp: &TopicPartition) -> Option<&PartitionLog> {
        self.partitions.get(tp).map(|p| &p.log)
    }

    /// Every partition replica this broker hosts now, in partition order: its log and the
    /// committed partition state (leader, ISR, leader epoch) it acts on. Read-only, for the
    /// invariants checked at every quantum. A log still being recovered after a restart is not
    /// listed until the broker has caught up with the metadata log.
    pub fn partitions(&self) -> &Partitions {
        &self.partitions
    }

    /// The group coordinator of this broker: the groups and committed offsets of the
    /// `__consumer_offsets` partitions it leads. Read-only, for the invariants.
    pub fn coordinator(&self) -> &GroupCoordinator {
        &self.coordinator
    }

    /// Whether this broker's replica of `tp` acts as its leader now.
    pub fn is_leader_of(&self, tp: &TopicPartition) -> bool {
        self.partitions.get(tp).is_some_and(|p| p.is_leader())
    }

    /// The broker's observer replica of the metadata log (`None` in a combined node, whose
    /// controller holds the replica).
    pub fn raft(&self) -> Option<&RaftClient> {
        self.raft.as_ref()
    }

    /// The metadata image this broker has folded so far.
    pub fn image(&self) -> &MetadataImage {
        &self.image
    }

    /// A cheap snapshot for checkers and views.
    pub fn status(&self) -> BrokerStatus {
        BrokerStatus {
            id: self.id,
            broker_epoch: self.broker_epoch,
            fenced: self.fenced,
            replicas: self
                .partitions
                .values()
                .map(|p| ReplicaStatus {
                    state: p.state.clone(),
                    log_start_offset: p.log.log_start_offset(),
                    high_watermark: p.log.high_watermark(),
                    log_end_offset: p.log.log_end_offset(),
                    segments: p.log.segments().len(),
                    size_bytes: p.log.size_bytes(),
                })
                .collect(),
            groups: self.coordinator.status(),
        }
    }

    fn offsets_partition(&self, group_id: &str) -> TopicPartition {
        let n = self.image.topics.get(OFFSETS_TOPIC).map_or(self.config.offsets_topic_num_partitions, |t| t.partitions);
        TopicPartition::new(OFFSETS_TOPIC, group::offsets_partition_for(group_id, n))
    }

    fn is_coordinator_for(&self, group_id: &str) -> bool {
        let tp = self.offsets_partition(group_id);
        self.partitions.get(&tp).is_some_and(|p| p.is_leader())
    }

    // ---- metadata ----

    /// Folds a batch of metadata records into the image, then acts on the final state of each
    /// partition that changed. Like Kafka's metadata loader, which publishes an image per batch,
    /// a broker replaying the log after a restart never acts on a leadership it has already
    /// lost further down the same batch.
    fn apply_metadata(&mut self, now: Instant, base_offset: i64, records: Vec<MetadataRecord>) {
        let mut changed: BTreeMap<TopicPartition, PartitionState> = BTreeMap::new();
        let mut removed: Vec<TopicPartition> = Vec::new();
        for (i, record) in records.into_iter().enumerate() {
            let offset = base_offset + i as i64;
            if offset < self.metadata_offset {
                continue;
            }
            self.image.apply(&record);
            self.metadata_offset = offset + 1;
            if let MetadataRecord::Partition(state) = record {
                if state.replicas.contains(&self.id) {
                    removed.retain(|tp| *tp != state.tp);
                    changed.insert(state.tp.clone(), state);
                } else if self.partitions.contains_key(&state.tp) || changed.contains_key(&state.tp) {
                    changed.remove(&state.tp);
                    removed.push(state.tp.clone());
                }
            }
        }
        if !self.caught_up {
            self.maybe_finish_catch_up(now);
            return;
        }
        for state in changed.into_values() {
            self.apply_partition_state(now, state);
        }
        for tp in removed {
            self.delete_replica(&tp);
        }
    }

    /// Once the image includes this incarnation's registration, acts on every partition
    /// assigned to this broker, from the image as it is now.
    fn maybe_finish_catch_up(&mut self, now: Instant) {
        let Some(broker_epoch) = self.broker_epoch else { return };
        if self.caught_up || self.metadata_offset <= broker_epoch {
            return;
        }
        self.caught_up = true;
        let mine: Vec<PartitionState> =
            self.image.partitions.values().filter(|p| p.replicas.contains(&self.id)).cloned().collect();
        for state in mine {
            self.apply_partition_state(now, state);
        }
    }

    /// A reassignment moved this replica away: stop it and delete its log (Kafka's
    /// `StopReplica` with `deletePartition`).
    fn delete_replica(&mut self, tp: &TopicPartition) {
        let Some(p) = self.partitions.remove(tp) else { return };
        self.partition_roles_changed();
        if p.is_leader() {
            self.resign(tp);
        }
        let dir = p.log.dir().to_string();
        for segment in p.log.segments() {
            for path in segment.paths(&dir) {
                self.outbox.disk(DiskOp::Delete { path });
            }
        }
        self.outbox.disk(DiskOp::Delete { path: format!("{dir}/{}", checkpoint::LEADER_EPOCH_FILE) });
        self.outbox.event(Event::ReplicaDeleted { tp: tp.clone() });
    }

    /// Something that may change a partition's presence, role, leader, epoch or truncation
    /// state happened: the replica fetcher's plan is remade and the purgatories are checked.
    fn partition_roles_changed(&mut self) {
        self.fetch_plan = None;
        self.partitions_changed = true;
    }

    fn apply_partition_state(&mut self, now: Instant, state: PartitionState) {
        self.partition_roles_changed();
        let tp = state.tp.clone();
        let min_isr = self.image.topics.get(tp.topic.as_str()).map_or(1, |t| t.min_insync_replicas);
        let log_config = self.log_config(&tp.topic);
        let internal = tp.topic == OFFSETS_TOPIC;
        let existing = self.partitions.contains_key(&tp);
        let partition = self.partitions.get_or_insert_with(tp.clone(), || {
            let log = self
                .recovered
                .remove(&tp)
                .unwrap_or_else(|| PartitionLog::new(tp.clone(), log_config.clone(), now.as_millis() as i64));
            let mut fresh = state.clone();
            // Until the first state is applied the replica has no role.
            fresh.leader = None;
            fresh.leader_epoch = -1;
            Partition::new(self.id, log, fresh, min_isr)
        });
        partition.min_insync_replicas = min_isr;
        partition.freeze_hw_under_min_isr = self.era.freeze_hw_under_min_isr;
        partition.log.set_config(log_config);
        let was_leader = existing && partition.is_leader();
        let old_epoch = partition.leader_epoch();
        if state.leader == Some(self.id) {
            if !was_leader || state.leader_epoch > old_epoch {
                let epoch = state.leader_epoch;
                partition.make_leader(now, state);
                let log_end_offset = partition.log.log_end_offset();
                if !internal {
                    self.outbox.event(Event::BecameLeader { tp: tp.clone(), leader_epoch: epoch, log_end_offset });
                }
                if internal {
                    self.load_group_state(now, &tp);
                }
            } else {
                partition.update_committed_state(state);
            }
            self.maybe_advance_high_watermark(&tp);
        } else {
            if was_leader || state.leader_epoch != old_epoch || !existing {
                let leader = state.leader;
                let epoch = state.leader_epoch;
                partition.make_follower(state);
                if !internal {
                    self.outbox.event(Event::BecameFollower { tp: tp.clone(), leader, leader_epoch: epoch });
                }
                if self.era.truncate_to_hw_on_become_follower {
                    // Before KIP-101 a new follower cut its log at its own high watermark, which
                    // trails the leader's by a fetch round trip (section 10 of the reference).
                    let from_offset = partition.log.log_end_offset();
                    let hw = partition.log.high_watermark();
                    if hw < from_offset {
                        partition.log.truncate_to(hw, now.as_millis() as i64);
                        self.outbox.event(Event::LogTruncated { tp: tp.clone(), from_offset, to_offset: hw });
                    }
                } else if self.era.offsets_for_leader_epoch_on_become_follower {
                    // KIP-101: ask the leader where our last epoch ends before fetching.
                    partition.truncating = partition.log.epochs().latest_epoch().is_some();
                }
                if was_leader {
                    self.resign(&tp);
                }
            } else {
                partition.update_committed_state(state);
            }
        }
    }

    /// Hands off the groups of `tp` when it is an offsets partition this broker stopped
    /// leading. Produces, commits and fetches waiting on the leadership are answered by
    /// [`Broker::complete_delayed`], which runs after every input.
    fn resign(&mut self, tp: &TopicPartition) {
        if tp.topic == OFFSETS_TOPIC {
            let led: Vec<TopicPartition> = self
                .partitions
                .values()
                .filter(|p| p.is_leader() && p.tp.topic == OFFSETS_TOPIC)
                .map(|p| p.tp.clone())
                .collect();
            let n = self.image.topics.get(OFFSETS_TOPIC).map_or(1, |t| t.partitions);
            self.coordinator.unload(|g| led.iter().any(|t| t.partition == group::offsets_partition_for(g, n)));
        }
    }

    /// Replays a newly led `__consumer_offsets` partition (`GroupMetadataManager.loadGroupsAndOffsets`):
    /// the last offset-commit record per partition and the last group record per group win,
    /// then each group found is loaded with its members and assignment.
    fn load_group_state(&mut self, now: Instant, tp: &TopicPartition) {
        let Some(p) = self.partitions.get(tp) else { return };
        let mut offsets = Vec::new();
        let mut groups: BTreeMap<String, GroupRecord> = BTreeMap::new();
        for batch in p.log.batches() {
            for record in batch.records().iter() {
                let Some(key) = record.key.as_deref() else { continue };
                if let Some(group_id) = key.strip_prefix(GROUP_RECORD_PREFIX) {
                    if let Some(value) = record.value.as_deref().and_then(GroupRecord::decode) {
                        groups.insert(group_id.to_string(), value);
                    }
                    continue;
                }
                let parsed = group::parse_offset_record_key(key);
                let offset = record.value.as_deref().and_then(|v| v.parse::<i64>().ok());
                if let (Some((g, part)), Some(offset)) = (parsed, offset) {
                    offsets.push((g, part, offset));
                }
            }
        }
        for (g, part, offset) in offsets {
            self.coordinator.load_offset(&g, part, offset);
        }
        for (group_id, record) in groups {
            self.coordinator.load_group(now, &mut self.outbox, &group_id, record);
        }
    }

    /// Appends the group records the coordinator produced to the groups' offsets partitions.
    /// They are not waited for: a member that reaches a new coordinator before its generation
    /// was replicated simply rejoins.
    fn flush_group_stores(&mut self, now: Instant) {
        for (group_id, record) in self.coordinator.take_stores() {
            let tp = self.offsets_partition(&group_id);
            let Some(p) = self.partitions.get_mut(&tp).filter(|p| p.is_leader()) else { continue };
            let records = vec![Record {
                offset_delta: 0,
                timestamp_ms: now.as_millis() as i64,
                key: Some(Key::from(format!("{GROUP_RECORD_PREFIX}{group_id}"))),
                value: Some(Arc::from(record.encode())),
                headers: Default::default(),
            }];
            let epoch = p.leader_epoch();
            p.log.append_as_leader(epoch, records, now.as_millis() as i64);
            self.maybe_advance_high_watermark(&tp);
        }
    }

    // ---- log manager: configs, disk writes, retention, cleaning, flushing, checkpoints ----

    /// The log config of `topic`: the broker's `log.*` defaults with the topic's overrides from
    /// the metadata (Kafka's `LogConfig.fromProps`).
    fn log_config(&self, topic: &str) -> LogConfig {
        let configs = self.image.topics.get(topic).map(|t| &t.configs);
        match configs {
            Some(c) => self.config.log.with_topic_overrides(c).expect("topic configs are validated at creation"),
            None => self.config.log.clone(),
        }
    }

    /// Moves a log's disk writes and events into the outbox. Events of the internal offsets
    /// topic are left out of the trace, as everywhere else.
    fn drain_log(&mut self, log: &mut PartitionLog) {
        if !log.has_output() {
            return;
        }
        for op in log.drain_disk_ops() {
            self.outbox.disk(op);
        }
        // This runs for every partition after every input; most have no events, and comparing
        // the topic name is not free.
        if !log.has_events() {
            return;
        }
        let offsets_topic = log.tp().topic == OFFSETS_TOPIC;
        let events = log.drain_events();
        if offsets_topic {
            // Dropping the drain discards them.
            return;
        }
        for event in events {
            self.outbox.event(event);
        }
    }

    /// Drains every log's output, and adds to `moved` the partitions whose log end offset or
    /// high watermark moved since the purgatories last looked (the one pass over all partitions
    /// an input costs).
    fn drain_logs(&mut self) {
        // Only a replica borrowed mutably since the last look can have written or moved.
        let mut partitions = std::mem::take(&mut self.partitions);
        partitions.take_touched(|p| {
            if p.log.has_output() {
                self.drain_log(&mut p.log);
            }
            let now_seen = (p.log.log_end_offset(), p.log.high_watermark());
            if p.purgatory_seen != now_seen {
                p.purgatory_seen = now_seen;
                self.moved.push(p.tp.clone());
            }
        });
        self.partitions = partitions;
    }

    /// The log manager's scheduled tasks (apache/kafka: core/.../log/LogManager.scala): the
    /// retention check, the cleaner, the flusher and the checkpoint writers.
    fn run_log_tasks(&mut self, now: Instant) {
        let now_ms = now.as_millis() as i64;
        if now >= self.next_retention_check {
            self.next_retention_check = after_ms(now, self.config.log_retention_check_interval_ms);
            for p in self.partitions.values_mut() {
                p.log.delete_old_segments(now_ms);
            }
        }
        if now >= self.next_cleaning {
            self.next_cleaning = after_ms(now, self.config.log_cleaner_backoff_ms);
            if self.config.log_cleaner_enable {
                // The filthiest log goes first, as `grabFilthiestCompactedLog` picks it; the
                // simulated cleaner is fast enough to clean every eligible log in one pass.
                let mut due: Vec<(f64, TopicPartition)> = self
                    .partitions
                    .values()
                    .filter(|p| p.log.cleaning_need(now_ms).is_some())
                    .map(|p| (p.log.dirty_ratio(now_ms), p.tp.clone()))
                    .collect();
                due.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
                let cleaned = !due.is_empty();
                for (_, tp) in due {
                    if let Some(p) = self.partitions.get_mut(&tp) {
                        p.log.clean(now_ms);
                    }
                }
                if cleaned {
                    self.write_offset_checkpoint(checkpoint::CLEANER_OFFSET_FILE, |log| {
                        log.config().is_compacted().then(|| log.first_dirty_offset())
                    });
                }
            }
        }
        if now >= self.next_flush_check {
            self.next_flush_check = after_ms(now, self.config.log_flush_scheduler_interval_ms);
            for p in self.partitions.values_mut() {
                p.log.flush_if_due(now_ms);
            }
        }
        if now >= self.next_high_watermark_checkpoint {
            self.next_high_watermark_checkpoint =
                after_ms(now, self.config.replica_high_watermark_checkpoint_interval_ms);
            self.write_offset_checkpoint(checkpoint::HIGH_WATERMARK_FILE, |log| Some(log.high_watermark()));
        }
        if now >= self.next_recovery_point_checkpoint {
            self.next_recovery_point_checkpoint = after_ms(now, self.config.log_flush_offset_checkpoint_interval_ms);
            self.write_offset_checkpoint(checkpoint::RECOVERY_POINT_FILE, |log| Some(log.recovery_point()));
        }
        if now >= self.next_log_start_checkpoint {
            self.next_log_start_checkpoint = after_ms(now, self.config.log_flush_start_offset_checkpoint_interval_ms);
            self.write_offset_checkpoint(checkpoint::LOG_START_OFFSET_FILE, |log| Some(log.log_start_offset()));
        }
    }

    /// Rewrites a broker-wide checkpoint file with `value` of every hosted log (and of logs
    /// recovered but not yet assigned, so a restart before the metadata arrives loses nothing).
    fn write_offset_checkpoint(&mut self, file: &str, value: impl Fn(&PartitionLog) -> Option<i64>) {
        let offsets: BTreeMap<TopicPartition, i64> = self
            .partitions
            .values()
            .map(|p| &p.log)
            .chain(self.recovered.values())
            .filter_map(|log| value(log).map(|v| (log.tp().clone(), v)))
            .collect();
        self.outbox
            .disk(DiskOp::WriteAtomically { path: file.to_string(), bytes: checkpoint::encode_offsets(&offsets) });
    }

    // ---- high watermark and delayed operations ----

    fn maybe_advance_high_watermark(&mut self, tp: &TopicPartition) {
        let Some(p) = self.partitions.get_mut(tp) else { return };
        if let Some(high_watermark) = p.maybe_advance_high_watermark() {
            if tp.topic != OFFSETS_TOPIC {
                self.outbox.event(Event::HighWatermarkAdvanced { tp: tp.clone(), high_watermark });
            }
        }
    }

    /// Completes delayed produces, offset commits and parked fetches whose condition now holds
    /// or whose time ran out (Kafka's purgatories, checked after every input).
    ///
    /// Kafka's purgatories watch each operation under its partitions' keys and try to complete
    /// it when one of them changes. Here operations are tried only after an input that moved a
    /// log end offset or high watermark, changed a partition's role, added a produce or commit,
    /// or brought a deadline: after any other input none can have become completable. And
    /// unless a role changed, a parked fetch is tried only on the partitions that moved, since
    /// its others were not ready at the last try and have not changed. Looking every parked
    /// fetch's partitions up after every input was the broker's largest cost.
    fn complete_delayed(&mut self, now: Instant) {
        self.drain_logs();
        // After a role change every parked fetch is tried on all its partitions; otherwise a
        // parked fetch can only have become ready through a partition that moved. A new delayed
        // produce or commit may be completable at once (a duplicate batch already committed).
        let full = std::mem::take(&mut self.partitions_changed);
        let due = full
            || !self.moved.is_empty()
            || self.parked_fetches.iter().any(|f| now >= f.deadline)
            || self.delayed_produces.iter().any(|d| d.fresh || now >= d.deadline)
            || self.pending_commits.iter().any(|c| c.fresh);
        let moved = std::mem::take(&mut self.moved);
        if due {
            self.complete_delayed_operations(now, full, &moved);
        }
        self.moved = moved;
        self.moved.clear();
    }

    /// Tries every delayed produce and offset commit, and the parked fetches: all of their
    /// partitions when `full`, otherwise only those in `moved`.
    fn complete_delayed_operations(&mut self, now: Instant, full: bool, moved: &[TopicPartition]) {
        // An operation that is not new, whose partition did not move and whose deadline has not
        // come was not completable at the last try and still is not.
        let untouched = |tp: &TopicPartition, fresh: bool| !full && !fresh && !moved.contains(tp);
        let mut kept = std::mem::take(&mut self.spare_delayed_produces);
        let mut tried = std::mem::take(&mut self.delayed_produces);
        for mut d in tried.drain(..) {
            if now < d.deadline && d.partitions.iter().all(|s| s.required_offset.is_none() || untouched(&s.tp, d.fresh))
            {
                kept.push(d);
                continue;
            }
            d.fresh = false;
            // `DelayedProduce.tryComplete`: each partition still waiting is answered once its
            // leader is gone or its high watermark covers the batch.
            for status in d.partitions.iter_mut() {
                let Some(required_offset) = status.required_offset else { continue };
                let Some(p) = self.partitions.get_hinted(&status.tp, &mut status.replica).filter(|p| p.is_leader())
                else {
                    *status = ProduceStatus::failed(status.tp.clone(), ErrorCode::NotLeaderOrFollower);
                    continue;
                };
                if p.log.high_watermark() >= required_offset {
                    // `Partition.checkEnoughReplicasReachOffset`: replicated, but the ISR may
                    // have shrunk below `min.insync.replicas` since the append.
                    status.error = ((p.maximal_isr_len() as i32) < p.min_insync_replicas)
                        .then_some(ErrorCode::NotEnoughReplicasAfterAppend);
                    status.required_offset = None;
                    if let Some(error) = status.error {
                        self.outbox.event(Event::ProduceRejected { tp: status.tp.clone(), error });
                    }
                }
            }
            if now >= d.deadline {
                // `DelayedProduce.onExpiration`: whatever still waits has timed out.
                for status in d.partitions.iter_mut().filter(|s| s.required_offset.is_some()) {
                    self.outbox
                        .event(Event::ProduceRejected { tp: status.tp.clone(), error: ErrorCode::RequestTimedOut });
                    *status = ProduceStatus::failed(status.tp.clone(), ErrorCode::RequestTimedOut);
                }
            }
            if d.partitions.iter().any(|s| s.required_offset.is_some()) {
                kept.push(d);
            } else {
                let partitions = d.partitions.into_iter().map(ProduceStatus::response).collect();
                self.outbox.send(d.from, Message::ProduceResponse { correlation_id: d.correlation_id, partitions });
            }
        }
        self.delayed_produces = kept;
        self.spare_delayed_produces = tried;

        let mut kept = Vec::new();
        for mut c in std::mem::take(&mut self.pending_commits) {
            if untouched(&c.tp, c.fresh) {
                kept.push(c);
                continue;
            }
            c.fresh = false;
            let Some(p) = self.partitions.get(&c.tp).filter(|p| p.is_leader()) else {
                self.outbox.send(
                    c.from,
                    Message::OffsetCommitResponse {
                        correlation_id: c.correlation_id,
                        error: Some(ErrorCode::NotCoordinator),
                        offsets: Vec::new(),
                    },
                );
                continue;
            };
            if p.log.high_watermark() >= c.required_offset {
                self.coordinator.complete_commit(&mut self.outbox, &c.commit);
                self.outbox.send(
                    c.from,
                    Message::OffsetCommitResponse {
                        correlation_id: c.correlation_id,
                        error: None,
                        offsets: c.commit.offsets,
                    },
                );
            } else {
                kept.push(c);
            }
        }
        self.pending_commits = kept;

        let parked = std::mem::take(&mut self.parked_fetches);
        for fetch in parked {
            let moved_on = |fp: &FetchPartition| {
                (full || moved.contains(&fp.tp))
                    && match self.partitions.get(&fp.tp) {
                        Some(p)
                            if p.is_leader() && p.leader_epoch() == fp.current_leader_epoch
                                || fp.current_leader_epoch < 0 && p.is_leader() =>
                        {
                            let upper =
                                if fetch.replica_id >= 0 { p.log.log_end_offset() } else { p.log.high_watermark() };
                            upper > fp.fetch_offset
                        }
                        _ => true,
                    }
            };
            let ready = now >= fetch.deadline
                || match fetch.context {
                    FetchContext::Incremental { session_id, .. } => {
                        self.fetch_sessions.partitions(session_id).iter().any(|c| moved_on(&c.fetch))
                    }
                    _ => fetch.partitions.iter().any(moved_on),
                };
            if ready {
                let answers = self.answer_fetch(now, fetch.replica_id, fetch.context, &fetch.partitions, false);
                self.respond_to_fetch(now, fetch.from, fetch.correlation_id, fetch.context, &fetch.partitions, answers);
            } else {
                self.parked_fetches.push(fetch);
            }
        }
    }

    // ---- produce ----

    /// A `Produce` request (Kafka's `KafkaApis.handleProduceRequest` and
    /// `ReplicaManager.appendRecords`): each partition's batch is checked and appended on its
    /// own, in the request's order. With `acks=all` the answer waits in the purgatory when at
    /// least one partition appended (`delayedProduceRequestRequired`); otherwise it goes at
    /// once, for all partitions together. With `acks=0` nothing answers unless a partition
    /// failed.
    fn handle_produce(
        &mut self,
        now: Instant,
        from: NodeId,
        correlation_id: u64,
        acks: i16,
        timeout_ms: u64,
        partitions: Vec<ProducePartition>,
    ) {
        let statuses: Vec<ProduceStatus> = if matches!(acks, -1..=1) {
            partitions
                .into_iter()
                .map(|ProducePartition { tp, batch }| self.append_produced(now, acks, tp, batch))
                .collect()
        } else {
            partitions.into_iter().map(|p| ProduceStatus::failed(p.tp, ErrorCode::InvalidRequiredAcks)).collect()
        };
        if statuses.iter().any(|s| s.required_offset.is_some()) {
            // A duplicate waits like a fresh append: until the high watermark covers the
            // original batch, which may not be committed yet.
            self.delayed_produces.push(DelayedProduce {
                from,
                correlation_id,
                partitions: statuses,
                deadline: now + Duration::from_millis(timeout_ms),
                fresh: true,
            });
        } else if acks != 0 || statuses.iter().any(|s| s.error.is_some()) {
            let partitions = statuses.into_iter().map(ProduceStatus::response).collect();
            self.outbox.send(from, Message::ProduceResponse { correlation_id, partitions });
        }
    }

    /// Checks and appends one partition's batch of a produce request; the status says what
    /// to answer for it, or with `acks=all` the offset its answer waits for.
    fn append_produced(&mut self, now: Instant, acks: i16, tp: TopicPartition, batch: RecordBatch) -> ProduceStatus {
        let Some(p) = self.partitions.get_mut(&tp).filter(|p| p.is_leader()) else {
            let error = if self.image.partitions.contains_key(&tp) {
                ErrorCode::NotLeaderOrFollower
            } else {
                ErrorCode::UnknownTopicOrPartition
            };
            return ProduceStatus::failed(tp, error);
        };
        let reject = |outbox: &mut Outbox, tp: TopicPartition, error: ErrorCode| {
            outbox.event(Event::ProduceRejected { tp: tp.clone(), error });
            ProduceStatus::failed(tp, error)
        };
        if acks == -1 && (p.isr().len() as i32) < p.min_insync_replicas {
            // Nothing is appended: the ISR is too small for the durability the producer asked.
            return reject(&mut self.outbox, tp, ErrorCode::NotEnoughReplicas);
        }
        let epoch = p.leader_epoch();
        if batch.size_bytes() as u64 > p.log.config().max_message_bytes {
            // Kafka's `analyzeAndValidateRecords`, before any other check on the records: a
            // batch larger than the topic's `max.message.bytes` (as stored, after compression)
            // is refused whole.
            return reject(&mut self.outbox, tp, ErrorCode::MessageTooLarge);
        }
        if p.log.config().is_compacted() && batch.records().iter().any(|r| r.key.is_none()) {
            // Kafka's `LogValidator`: a compacted topic keeps records by key, so a keyless one
            // could never be cleaned and is refused.
            return reject(&mut self.outbox, tp, ErrorCode::InvalidRecord);
        }
        // The idempotent producer's checks (KIP-98, `analyzeAndValidateProducerState`), last
        // before the append: a retry of a batch the log already holds is answered with the
        // original batch's offsets and not appended again; a fenced epoch or a sequence gap is
        // refused with nothing appended.
        let (base_offset, required_offset) =
            match p.log.analyze_producer_append(&batch, self.era.unknown_producer_rule()) {
                Err(error) => return reject(&mut self.outbox, tp, error),
                Ok(ProducerAppendCheck::Duplicate(original)) => {
                    self.outbox.event(Event::DuplicateBatchDropped {
                        tp: tp.clone(),
                        producer_id: batch.producer_id(),
                        producer_epoch: batch.producer_epoch(),
                        base_sequence: batch.base_sequence(),
                        original_offset: original.first_offset,
                    });
                    (original.first_offset, original.last_offset + 1)
                }
                Ok(ProducerAppendCheck::Append | ProducerAppendCheck::NoProducerId) => {
                    let batch = p.log.append_batch_as_leader(epoch, batch, now.as_millis() as i64);
                    (batch.base_offset(), batch.next_offset())
                }
            };
        self.maybe_advance_high_watermark(&tp);
        ProduceStatus {
            tp,
            error: None,
            base_offset,
            required_offset: (acks == -1).then_some(required_offset),
            replica: None,
        }
    }

    // ---- producer ids (KIP-98 InitProducerId, KIP-730 blocks) ----

    /// `InitProducerId` without a `transactional.id`: answers `(producer_id, producer_epoch)`.
    ///
    /// * `producer_id` -1 (or a negative epoch): a new producer id from this broker's block,
    ///   epoch 0. Without an id at hand the request waits for the next block from the active
    ///   controller (KIP-730), up to [`INIT_PRODUCER_ID_MAX_WAIT`], then gets
    ///   `REQUEST_TIMED_OUT` (7); with no controller known at all it gets
    ///   `COORDINATOR_NOT_AVAILABLE` (15) at once. Both are retriable.
    /// * An existing id and epoch: the same id with the epoch bumped by one (KIP-360), or a new
    ///   id at epoch 0 when the epoch is already `i16::MAX`. Kafka's idempotent producer bumps
    ///   its epoch locally and its broker hands a new id to every `InitProducerId` without a
    ///   `transactional.id`; kafkalab's producer asks instead, and the answer is the same pair
    ///   Kafka's client would compute.
    fn handle_init_producer_id(
        &mut self,
        now: Instant,
        from: NodeId,
        correlation_id: u64,
        producer_id: i64,
        producer_epoch: i16,
    ) {
        if producer_id >= 0 && (0..i16::MAX).contains(&producer_epoch) {
            let reply = Message::InitProducerIdResponse {
                correlation_id,
                error: None,
                producer_id,
                producer_epoch: producer_epoch + 1,
            };
            self.outbox.send(from, reply);
            return;
        }
        if let Some(id) = self.take_producer_id(now) {
            let reply =
                Message::InitProducerIdResponse { correlation_id, error: None, producer_id: id, producer_epoch: 0 };
            self.outbox.send(from, reply);
        } else if self.controller.is_none() {
            let error = Some(ErrorCode::CoordinatorNotAvailable);
            let reply = Message::InitProducerIdResponse { correlation_id, error, producer_id: -1, producer_epoch: -1 };
            self.outbox.send(from, reply);
        } else {
            self.producer_ids.parked.push(ParkedInitProducerId {
                from,
                correlation_id,
                deadline: now + INIT_PRODUCER_ID_MAX_WAIT,
            });
            self.maybe_request_producer_ids(now);
        }
    }

    /// The next producer id of this broker's blocks, moving to the prefetched block when the
    /// current one is used up, and asking for another block once 90% of the current one is
    /// gone (Kafka's `RPCProducerIdManager.generateProducerId`).
    fn take_producer_id(&mut self, now: Instant) -> Option<i64> {
        let blocks = &mut self.producer_ids;
        if blocks.current.is_none_or(|b| b.next >= b.end) {
            blocks.current = blocks.prefetched.take();
        }
        let id = blocks.current.as_mut().map(|b| {
            b.next += 1;
            b.next - 1
        });
        self.maybe_request_producer_ids(now);
        id
    }

    /// Sends `AllocateProducerIds` to the active controller when a block is needed — the
    /// current block is 90% used (Kafka's `PidPrefetchThreshold`), or a request waits, and
    /// none is prefetched — and none is in flight. One unanswered for
    /// `CONTROLLER_REQUEST_TIMEOUT` is given up and sent again. Also answers parked
    /// `InitProducerId` requests whose wait ran out.
    fn maybe_request_producer_ids(&mut self, now: Instant) {
        let (expired, waiting): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.producer_ids.parked).into_iter().partition(|p| now >= p.deadline);
        self.producer_ids.parked = waiting;
        for p in expired {
            let error = Some(ErrorCode::RequestTimedOut);
            let reply = Message::InitProducerIdResponse {
                correlation_id: p.correlation_id,
                error,
                producer_id: -1,
                producer_epoch: -1,
            };
            self.outbox.send(p.from, reply);
        }
        let blocks = &mut self.producer_ids;
        if blocks.in_flight.is_some_and(|(_, sent)| now.saturating_since(sent) >= CONTROLLER_REQUEST_TIMEOUT) {
            blocks.in_flight = None;
        }
        // Lazily, as Kafka does: a broker asks for its first block when the first request comes.
        let nearly_used = blocks.current.is_some_and(|b| (b.next - b.first) * 10 >= (b.end - b.first) * 9);
        let needed = blocks.prefetched.is_none() && (nearly_used || !blocks.parked.is_empty());
        if !needed || blocks.in_flight.is_some() || now < self.controller_backoff_until {
            return;
        }
        let (Some(controller), Some(broker_epoch)) = (self.controller, self.broker_epoch) else { return };
        let correlation_id = self.correlation_id();
        self.producer_ids.in_flight = Some((correlation_id, now));
        self.outbox.send(controller, Message::AllocateProducerIds { correlation_id, broker_id: self.id, broker_epoch });
    }

    /// The controller's answer to `AllocateProducerIds`: keep the block and answer the parked
    /// `InitProducerId` requests from it, oldest first. `NOT_CONTROLLER` waits for the quorum to
    /// name the active controller; `STALE_BROKER_EPOCH` waits for the broker to register again.
    fn handle_allocate_producer_ids_response(
        &mut self,
        now: Instant,
        correlation_id: u64,
        error: Option<ErrorCode>,
        producer_id_start: i64,
        producer_id_len: i32,
    ) {
        if self.producer_ids.in_flight.map(|(c, _)| c) != Some(correlation_id) {
            return;
        }
        self.producer_ids.in_flight = None;
        if error.is_some() {
            self.controller_moved(now);
            return;
        }
        assert!(
            producer_id_start >= 0 && producer_id_len > 0,
            "broker {}: the controller granted an empty producer id block at {producer_id_start}",
            self.id
        );
        let end = producer_id_start + i64::from(producer_id_len);
        let block = ProducerIdBlock { first: producer_id_start, next: producer_id_start, end };
        if self.producer_ids.current.is_none_or(|b| b.next >= b.end) {
            self.producer_ids.current = Some(block);
        } else {
            self.producer_ids.prefetched = Some(block);
        }
        for p in std::mem::take(&mut self.producer_ids.parked) {
            match self.take_producer_id(now) {
                Some(id) => {
                    let reply = Message::InitProducerIdResponse {
                        correlation_id: p.correlation_id,
                        error: None,
                        producer_id: id,
                        producer_epoch: 0,
                    };
                    self.outbox.send(p.from, reply);
                }
                None => self.producer_ids.parked.push(p),
            }
        }
    }

    /// A peer's connection closed: an `AllocateProducerIds` in flight to it (the controller)
    /// fails and is sent again to the next one; its own parked `InitProducerId` requests need
    /// no answer.
    fn producer_ids_peer_disconnected(&mut self, now: Instant, peer: NodeId) {
        self.producer_ids.parked.retain(|p| p.from != peer);
        if self.controller == Some(peer) && self.producer_ids.in_flight.take().is_some() {
            self.controller_moved(now);
        }
    }

    /// When the producer id machinery next needs [`Broker::maybe_request_producer_ids`].
    fn producer_ids_deadline(&self) -> Option<Instant> {
        let blocks = &self.producer_ids;
        let parked = blocks.parked.iter().map(|p| p.deadline).min();
        let retry = match blocks.in_flight {
            Some((_, sent)) => Some(sent + CONTROLLER_REQUEST_TIMEOUT),
            None if !blocks.parked.is_empty() && self.controller.is_some() && self.broker_epoch.is_some() => {
                Some(self.controller_backoff_until)
            }
            None => None,
        };
        [parked, retry].into_iter().flatten().min()
    }

    // ---- fetch (leader side) ----

    /// A `Fetch` request (Kafka's `KafkaApis.handleFetchRequest`): the fetch session decides
    /// which partitions it reads (`FetchManager.newContext`, KIP-227), every one of them is
    /// read, and the answer goes at once if any has something to say, else when data arrives
    /// or `max_wait_ms` passes.
    fn handle_fetch(&mut self, now: Instant, from: NodeId, fetch: Message) {
        let Message::Fetch {
            correlation_id,
            replica_id,
            max_wait_ms,
            metadata,
            partitions,
            forgotten_topics_data: forgotten,
            ..
        } = fetch
        else {
            unreachable!("only Fetch requests come here")
        };
        let context =
            self.fetch_sessions.new_context(now.as_millis(), metadata, &partitions, &forgotten, replica_id >= 0);
        let responses = self.answer_fetch(now, replica_id, context, &partitions, true);
        let has_data =
            responses.iter().any(|r| r.error.is_some() || r.diverging_epoch.is_some() || !r.batches.is_empty());
        if has_data || max_wait_ms == 0 || matches!(context, FetchContext::Error(_)) {
            self.respond_to_fetch(now, from, correlation_id, context, &partitions, responses);
        } else {
            // Long poll: hold the request until data arrives or `max_wait_ms` passes.
            // A fetch is parked only when none of its partitions has anything to answer, so it
            // needs trying again only when one of them moves (`moved`) or a role changes.
            self.parked_fetches.push(ParkedFetch {
                from,
                correlation_id,
                replica_id,
                context,
                partitions,
                deadline: now + Duration::from_millis(max_wait_ms),
            });
        }
    }

    /// Reads every partition a fetch covers, in order: the request's, or in an incremental
    /// session all of the session's, since the leader keeps each one's fetch offset. An
    /// incremental session's partitions with nothing new since the last response (no records,
    /// no error, the high watermark and log start offset last sent) get no answer: Kafka makes
    /// one and drops it in `updateAndGenerateResponseData`, and a session of quiet partitions
    /// (the `__consumer_offsets` partitions a follower fetches) would make one per partition per
    /// fetch for nothing.
    fn answer_fetch(
        &mut self,
        now: Instant,
        replica_id: i32,
        context: FetchContext,
        request: &[FetchPartition],
        first_read: bool,
    ) -> Vec<FetchPartitionResponse> {
        match context {
            FetchContext::Error(_) => Vec::new(),
            FetchContext::Incremental { session_id, .. } => {
                let mut cached = self.fetch_sessions.take_partitions(session_id);
                let answers = cached
                    .iter_mut()
                    .filter_map(|c| {
                        let last_sent = Some(c.last_sent());
                        self.answer_partition(now, replica_id, &c.fetch, first_read, &mut c.replica_hint, last_sent)
                    })
                    .collect();
                self.fetch_sessions.put_back(session_id, cached);
                answers
            }
            FetchContext::Sessionless | FetchContext::Full { .. } => request
                .iter()
                .map(|fp| {
                    self.answer_partition(now, replica_id, fp, first_read, &mut None, None)
                        .expect("a partition without a last response is always answered")
                })
                .collect(),
        }
    }

    /// Sends a fetch's response: the session keeps, of an incremental fetch's answers, those
    /// that say something new, and a full fetch may make a session here.
    fn respond_to_fetch(
        &mut self,
        now: Instant,
        to: NodeId,
        correlation_id: u64,
        context: FetchContext,
        request: &[FetchPartition],
        answers: Vec<FetchPartitionResponse>,
    ) {
        let (error, session_id, partitions) = self.fetch_sessions.respond(now.as_millis(), context, request, answers);
        self.outbox.send(to, Message::FetchResponse { correlation_id, error, session_id, partitions });
    }

    /// Reads one partition for a fetch (`Partition.fetchRecords`). `first_read` is true when
    /// the request has just arrived: only then does a follower's fetch update its state.
    /// `hint` is where the replica was found last time, kept by the fetch session
    /// ([`Partitions::slot_hinted`]). `last_sent` is, for a partition of an incremental
    /// session, the `(high_watermark, log_start_offset)` its last response carried
    /// ([`crate::fetch_session::CachedPartition::last_sent`]): when the read finds no records,
    /// no error and those offsets, there is nothing to answer and this returns `None`, having
    /// still taken in a follower's fetch.
    fn answer_partition(
        &mut self,
        now: Instant,
        replica_id: i32,
        fp: &FetchPartition,
        first_read: bool,
        hint: &mut Option<ReplicaSlot>,
        last_sent: Option<(i64, i64)>,
    ) -> Option<FetchPartitionResponse> {
        // The answer is put together only once it is known to say something: most of a
        // session's partitions have nothing new at most fetches.
        let answer = |error: Option<ErrorCode>, high_watermark: i64, log_start_offset: i64| FetchPartitionResponse {
            tp: fp.tp.clone(),
            error,
            high_watermark,
            log_start_offset,
            log_end_offset: -1,
            diverging_epoch: None,
            batches: Vec::new(),
        };
        // One search for the replica serves the whole answer (searching again, by topic name,
        // for each step was a hot spot).
        let Some(slot) = self.partitions.slot_hinted(&fp.tp, hint) else {
            return Some(answer(Some(ErrorCode::UnknownTopicOrPartition), -1, -1));
        };
        let p = self.partitions.at(slot);
        if !p.is_leader() {
            return Some(answer(Some(ErrorCode::NotLeaderOrFollower), -1, -1));
        }
        let follower = (replica_id >= 0).then_some(NodeId(replica_id));
        // KIP-320 fencing: only fetchers that send their view of the epoch are checked (replicas
        // from Kafka 2.2, consumers from 2.3; older fetchers send -1).
        if fp.current_leader_epoch >= 0 {
            if fp.current_leader_epoch < p.leader_epoch() {
                return Some(answer(Some(ErrorCode::FencedLeaderEpoch), -1, -1));
            }
            if fp.current_leader_epoch > p.leader_epoch() {
                return Some(answer(Some(ErrorCode::UnknownLeaderEpoch), -1, -1));
            }
        }
        let log_start_offset = p.log.log_start_offset();
        let leo = p.log.log_end_offset();
        // Only fetchers of the KAFKA-10554 era send `last_fetched_epoch`; older followers learn
        // where to truncate from `OffsetsForLeaderEpoch` (or, before KIP-101, not at all).
        if follower.is_some() && fp.last_fetched_epoch >= 0 {
            let (epoch, end) = p.log.epochs().end_offset_for(fp.last_fetched_epoch, leo);
            let diverging = if epoch < 0 {
                Some((-1, log_start_offset))
            } else if epoch < fp.last_fetched_epoch || end < fp.fetch_offset {
                // The follower holds records the leader's log does not: it must truncate before
                // it may fetch, and its state is not updated (KIP-101, KIP-279, KIP-595 style).
                Some((epoch, end))
            } else {
                None
            };
            if diverging.is_some() {
                let mut response = answer(None, p.log.high_watermark(), log_start_offset);
                response.diverging_epoch = diverging;
                return Some(response);
            }
        }
        if fp.fetch_offset < log_start_offset || fp.fetch_offset > leo {
            let mut response = answer(Some(ErrorCode::OffsetOutOfRange), p.log.high_watermark(), log_start_offset);
            if follower.is_some() {
                response.log_end_offset = leo;
            }
            return Some(response);
        }
        let upper = match follower {
            Some(f) => {
                if first_read {
                    self.take_in_follower_fetch(now, slot, f, fp);
                }
                leo
            }
            None => p.log.high_watermark(),
        };
        // Taking the fetch in may have moved the high watermark; the log is what it was.
        let p = self.partitions.at(slot);
        let high_watermark = p.log.high_watermark();
        let batches = p.log.read(fp.fetch_offset, upper, FETCH_MAX_BYTES);
        if batches.is_empty() && last_sent == Some((high_watermark, log_start_offset)) {
            return None;
        }
        Some(FetchPartitionResponse { batches, ..answer(None, high_watermark, log_start_offset) })
    }

    /// Takes in a follower's fetch of a partition this broker leads, as
    /// `Partition.updateFollowerFetchState` does: the follower's fetch state, then an ISR
    /// expansion if the follower caught up (`maybeExpandIsr`), then the high watermark
    /// (`maybeIncrementLeaderHW`).
    ///
    /// Most fetches of a quiet partition change nothing but the follower's fetch state, so the
    /// replica is borrowed mutably (which makes the purgatories and the invariant checker look
    /// at it again) only when the ISR or the high watermark will move.
    fn take_in_follower_fetch(&mut self, now: Instant, slot: ReplicaSlot, follower: NodeId, fp: &FetchPartition) {
        let p = self.partitions.record_follower_fetch_at(slot, now, follower, fp.fetch_offset);
        let joins = p.pending_isr.is_none() && p.may_join_isr(follower);
        // Without an ISR change, the high watermark found here is the one to set; with one, the
        // proposal's maximal ISR decides it, so it is found again below.
        let advance = if joins { None } else { p.high_watermark_advance() };
        if !joins && advance.is_none() {
            return;
        }
        if joins {
            let mut isr = p.isr().to_vec();
            isr.push(follower);
            self.propose_isr(now, &fp.tp, isr);
        }
        let p = self.partitions.at_mut(slot);
        let advanced = match advance {
            Some(high_watermark) => {
                p.log.set_high_watermark(high_watermark);
                Some(high_watermark)
            }
            None => p.maybe_advance_high_watermark(),
        };
        if let Some(high_watermark) = advanced {
            if fp.tp.topic != OFFSETS_TOPIC {
                self.outbox.event(Event::HighWatermarkAdvanced { tp: fp.tp.clone(), high_watermark });
            }
        }
    }

    // ---- ISR changes ----

    fn propose_isr(&mut self, now: Instant, tp: &TopicPartition, isr: Vec<NodeId>) {
        let Some(broker_epoch) = self.broker_epoch else { return };
        let correlation_id = self.correlation_id();
        let Some(p) = self.partitions.get_mut(tp) else { return };
        p.pending_isr = Some(PendingIsrChange { isr: isr.clone(), sent_at: now });
        self.pending_alters.insert(correlation_id, tp.clone());
        let Some(controller) = self.controller else {
            p.pending_isr = None;
            self.pending_alters.remove(&correlation_id);
            return;
        };
        self.outbox.send(
            controller,
            Message::AlterPartition {
                correlation_id,
                broker_id: self.id,
                broker_epoch,
                tp: tp.clone(),
                leader_epoch: p.state.leader_epoch,
                partition_epoch: p.state.partition_epoch,
                new_isr: isr,
            },
        );
    }

    fn check_isr(&mut self, now: Instant) {
        let lag = Duration::from_millis(self.config.replica_lag_time_max_ms);
        let mut proposals = Vec::new();
        for p in self.partitions.values_mut().filter(|p| p.is_leader()) {
            if let Some(pending) = &p.pending_isr {
                if now.saturating_since(pending.sent_at) < ALTER_PARTITION_TIMEOUT {
                    continue;
                }
                // The controller never answered; forget the proposal so it can be made again.
                p.pending_isr = None;
            }
            let out = p.out_of_sync_replicas(now, lag);
            if !out.is_empty() {
                let isr: Vec<NodeId> = p.isr().iter().copied().filter(|r| !out.contains(r)).collect();
                proposals.push((p.tp.clone(), isr));
            }
        }
        for (tp, isr) in proposals {
            self.propose_isr(now, &tp, isr);
        }
    }

    // ---- replica fetcher (follower side) ----

    fn maybe_send_fetches(&mut self, now: Instant) {
        // Which leaders this broker follows changes only with a partition's role, so the plan
        // is kept until then. The partition lists are built only for the leaders a request
        // actually goes to: most calls find every fetch still in flight.
        let plan = match self.fetch_plan.take() {
            Some(plan) => plan,
            None => self.make_fetch_plan(),
        };
        debug_assert_eq!(plan, self.make_fetch_plan(), "broker {}: the kept fetch plan is stale", self.id);
        if plan.any_truncating {
            let mut by_leader: BTreeMap<NodeId, bool> = plan.leaders.iter().map(|&l| (l, true)).collect();
            self.maybe_send_epoch_lookups(now, &mut by_leader);
            self.fetchers.retain(|leader, _| by_leader.contains_key(leader));
        } else {
            self.fetchers.retain(|leader, _| plan.leaders.contains(leader));
        }
        if let Some(broker_epoch) = self.broker_epoch {
            for &leader in &plan.leaders {
                self.maybe_fetch_from(now, broker_epoch, leader);
            }
        }
        self.fetch_plan = Some(plan);
    }

    /// Which leaders this broker follows with partitions ready to fetch (not truncating first).
    fn make_fetch_plan(&self) -> FetchPlan {
        let mut plan = FetchPlan::default();
        for p in self.partitions.values() {
            if p.is_leader() {
                continue;
            }
            let Some(leader) = p.state.leader else { continue };
            if p.truncating {
                // Asks `OffsetsForLeaderEpoch` first; see `maybe_send_epoch_lookups`.
                plan.any_truncating = true;
                continue;
            }
            plan.leaders.insert(leader);
        }
        plan
    }

    /// Sends a fetch to `leader` unless one is in flight (and not timed out) or the fetcher
    /// backs off.
    fn maybe_fetch_from(&mut self, now: Instant, broker_epoch: i64, leader: NodeId) {
        let era = self.era;
        let fetcher = self.fetchers.entry(leader).or_insert_with(|| Fetcher::new(era));
        if let Some((_, sent_at)) = fetcher.in_flight {
            if now.saturating_since(sent_at) < REPLICA_FETCH_TIMEOUT {
                return;
            }
            // Lost or unanswered: the leader's view of the session is unknown, so the next
            // request starts a new one.
            fetcher.in_flight = None;
            fetcher.session.handle_error();
        }
        if now < fetcher.backoff_until {
            return;
        }
        self.next_correlation_id += 1;
        let correlation_id = self.next_correlation_id;
        fetcher.in_flight = Some((correlation_id, now));
        let mut wanted = Vec::with_capacity(fetcher.session.last_wanted());
        wanted.extend(
            self.partitions.values().filter(|p| !p.is_leader() && p.state.leader == Some(leader) && !p.truncating).map(
                |p| FetchPartition {
                    tp: p.tp.clone(),
                    current_leader_epoch: if self.era.fetch_epoch_fencing { p.leader_epoch() } else { -1 },
                    fetch_offset: p.log.log_end_offset(),
                    last_fetched_epoch: if self.era.diverging_epoch_in_fetch {
                        p.log.last_batch_epoch().unwrap_or(-1)
                    } else {
                        -1
                    },
                },
            ),
        );
        let fetcher = self.fetchers.get_mut(&leader).expect("made above");
        let request = fetcher.session.build(wanted);
        self.outbox.send(
            leader,
            Message::Fetch {
                correlation_id,
                replica_id: self.id.0,
                broker_epoch,
                max_wait_ms: self.config.replica_fetch_wait_max_ms,
                metadata: request.metadata,
                partitions: request.partitions,
                forgotten_topics_data: request.forgotten_topics_data,
            },
        );
    }

    /// Sends `OffsetsForLeaderEpoch` for partitions that became followers in the leader-epoch
    /// era before KAFKA-10554 (KIP-101, `AbstractFetcherThread.truncateToEpochEndOffsets`). One
    /// request per leader is in flight at a time; an unanswered one is resent after the replica
    /// socket timeout. Leaders that only get lookups keep an entry in `by_leader` (`false`:
    /// nothing to fetch) so their fetcher state survives.
    fn maybe_send_epoch_lookups(&mut self, now: Instant, by_leader: &mut BTreeMap<NodeId, bool>) {
        let mut lookups: BTreeMap<NodeId, Vec<(TopicPartition, i32, i32)>> = BTreeMap::new();
        for p in self.partitions.values().filter(|p| p.truncating && !p.is_leader()) {
            let (Some(leader), Some(epoch)) = (p.state.leader, p.log.epochs().latest_epoch()) else { continue };
            let current = if self.era.fetch_epoch_fencing { p.leader_epoch() } else { -1 };
            lookups.entry(leader).or_default().push((p.tp.clone(), current, epoch));
        }
        for (leader, partitions) in lookups {
            by_leader.entry(leader).or_insert(false);
            let era = self.era;
            let fetcher = self.fetchers.entry(leader).or_insert_with(|| Fetcher::new(era));
            if fetcher.epoch_lookup_in_flight.is_some_and(|(_, at)| now.saturating_since(at) < REPLICA_FETCH_TIMEOUT)
                || now < fetcher.backoff_until
            {
                continue;
            }
            self.next_correlation_id += 1;
            let correlation_id = self.next_correlation_id;
            fetcher.epoch_lookup_in_flight = Some((correlation_id, now));
            self.outbox
                .send(leader, Message::OffsetsForLeaderEpoch { correlation_id, replica_id: self.id.0, partitions });
        }
    }

    /// Answers `OffsetsForLeaderEpoch` as a leader (`Partition.lastOffsetForLeaderEpoch`): the
    /// largest epoch at or below the one asked for and where it ends in this log. Before KIP-279
    /// the answer names no epoch.
    fn handle_offsets_for_leader_epoch(
        &mut self,
        from: NodeId,
        correlation_id: u64,
        partitions: Vec<(TopicPartition, i32, i32)>,
    ) {
        let answers = partitions
            .into_iter()
            .map(|(tp, current_leader_epoch, leader_epoch)| {
                let mut answer = EpochEndOffset { tp, error: None, leader_epoch: -1, end_offset: -1 };
                match self.partitions.get(&answer.tp) {
                    None => answer.error = Some(ErrorCode::UnknownTopicOrPartition),
                    Some(p) if !p.is_leader() => answer.error = Some(ErrorCode::NotLeaderOrFollower),
                    Some(p) if current_leader_epoch >= 0 && current_leader_epoch < p.leader_epoch() => {
                        answer.error = Some(ErrorCode::FencedLeaderEpoch)
                    }
                    Some(p) if current_leader_epoch > p.leader_epoch() => {
                        answer.error = Some(ErrorCode::UnknownLeaderEpoch)
                    }
                    Some(p) => {
                        let (epoch, end) = p.log.epochs().end_offset_for(leader_epoch, p.log.log_end_offset());
                        answer.end_offset = end;
                        if self.era.epoch_in_lookup_answer {
                            answer.leader_epoch = epoch;
                        }
                    }
                }
                answer
            })
            .collect();
        self.outbox.send(from, Message::OffsetsForLeaderEpochResponse { correlation_id, partitions: answers });
    }

    /// A follower applies the leader's `OffsetsForLeaderEpoch` answers: truncates by
    /// [`Partition::truncation_target`] and starts fetching, or asks again when KIP-279 says the
    /// answer did not settle it. Errors leave the partition asking after a backoff.
    fn handle_epoch_lookup_response(
        &mut self,
        now: Instant,
        from: NodeId,
        correlation_id: u64,
        answers: Vec<EpochEndOffset>,
    ) {
        let Some(fetcher) = self.fetchers.get_mut(&from) else { return };
        if fetcher.epoch_lookup_in_flight.map(|(c, _)| c) != Some(correlation_id) {
            return;
        }
        fetcher.epoch_lookup_in_flight = None;
        let mut errored = false;
        for answer in answers {
            let Some(p) = self.partitions.get_mut(&answer.tp) else { continue };
            if !p.truncating || p.state.leader != Some(from) {
                continue;
            }
            if answer.error.is_some() {
                errored = true;
                continue;
            }
            let (target, done) = p.truncation_target(answer.leader_epoch, answer.end_offset);
            let from_offset = p.log.log_end_offset();
            if target < from_offset {
                p.log.truncate_to(target, now.as_millis() as i64);
                self.outbox.event(Event::LogTruncated { tp: answer.tp.clone(), from_offset, to_offset: target });
            }
            p.truncating = !done && p.log.epochs().latest_epoch().is_some();
            self.fetch_plan = None;
        }
        if errored {
            if let Some(f) = self.fetchers.get_mut(&from) {
                f.backoff_until = now + Duration::from_millis(self.config.replica_fetch_backoff_ms);
            }
        }
    }

    /// A leader's answer to this follower's fetch (`AbstractFetcherThread.processFetchRequest`
    /// with `ReplicaFetcherThread.processPartitionData`). After a session error the answer is
    /// dropped and the next fetch, a full one, follows at once.
    fn handle_fetch_response(
        &mut self,
        now: Instant,
        from: NodeId,
        correlation_id: u64,
        error: Option<ErrorCode>,
        session_id: i32,
        partitions: Vec<FetchPartitionResponse>,
    ) {
        let Some(fetcher) = self.fetchers.get_mut(&from) else { return };
        if fetcher.in_flight.map(|(c, _)| c) != Some(correlation_id) {
            return;
        }
        fetcher.in_flight = None;
        if !fetcher.session.handle_response(error, session_id, &partitions) {
            return;
        }
        let mut errored = false;
        for response in partitions {
            let Some(p) = self.partitions.get_mut(&response.tp) else { continue };
            if p.is_leader() || p.state.leader != Some(from) {
                continue;
            }
            if response.error == Some(ErrorCode::OffsetOutOfRange) && response.log_start_offset > p.log.log_end_offset()
            {
                // The leader's retention or cleaner moved past everything this replica has:
                // start over at the leader's log start (`handleOutOfRangeError`,
                // `truncateFullyAndStartAt`).
                let from_offset = p.log.log_end_offset();
                p.log.truncate_fully_and_start_at(response.log_start_offset, now.as_millis() as i64);
                self.outbox.event(Event::LogTruncated {
                    tp: response.tp.clone(),
                    from_offset,
                    to_offset: response.log_start_offset,
                });
                continue;
            }
            if response.error == Some(ErrorCode::OffsetOutOfRange)
                && response.log_end_offset >= 0
                && response.log_end_offset < p.log.log_end_offset()
            {
                // The follower holds more than the leader (`handleOffsetOutOfRange` in Kafka
                // before leader epochs): it cuts back to the leader's log end and fetches on.
                let from_offset = p.log.log_end_offset();
                p.log.truncate_to(response.log_end_offset.max(p.log.log_start_offset()), now.as_millis() as i64);
                let to_offset = p.log.log_end_offset();
                self.outbox.event(Event::LogTruncated { tp: response.tp.clone(), from_offset, to_offset });
                continue;
            }
            if response.error.is_some() {
                errored = true;
                continue;
            }
            if let Some((epoch, end)) = response.diverging_epoch {
                // `getOffsetTruncationState`; the next fetch asks again if this did not settle it.
                let (target, _) = p.truncation_target(epoch, end);
                let leo = p.log.log_end_offset();
                if target < leo {
                    p.log.truncate_to(target, now.as_millis() as i64);
                    let to_offset = p.log.log_end_offset();
                    self.outbox.event(Event::LogTruncated { tp: response.tp.clone(), from_offset: leo, to_offset });
                }
                continue;
            }
            for batch in response.batches {
                let leo = p.log.log_end_offset();
                if batch.base_offset() >= leo {
                    // A batch past the LEO is fine: the leader's cleaner removed the batches in
                    // between, and offsets never change.
                    p.log.append_as_follower(batch, now.as_millis() as i64);
                } else if batch.next_offset() > leo {
                    // The batch straddles our end: the logs disagree, so the rest of the
                    // response cannot be applied until the next fetch sorts it out.
                    break;
                }
            }
            let high_watermark = response.high_watermark.min(p.log.log_end_offset());
            p.log.set_high_watermark(high_watermark);
            p.log.maybe_increment_log_start_offset(response.log_start_offset);
        }
        if errored {
            let backoff = Duration::from_millis(self.config.replica_fetch_backoff_ms);
            if let Some(f) = self.fetchers.get_mut(&from) {
                f.backoff_until = now + backoff;
            }
        }
    }

    // ---- group coordinator plumbing ----

    fn handle_offset_commit(
        &mut self,
        now: Instant,
        from: NodeId,
        correlation_id: u64,
        group_id: String,
        generation_id: i32,
        member_id: String,
        group_instance_id: Option<String>,
        offsets: Vec<(TopicPartition, i64)>,
    ) {
        if let Err(error) =
            self.coordinator.validate_commit(&group_id, generation_id, &member_id, group_instance_id.as_deref())
        {
            self.outbox
                .send(from, Message::OffsetCommitResponse { correlation_id, error: Some(error), offsets: Vec::new() });
            return;
        }
        let tp = self.offsets_partition(&group_id);
        let Some(p) = self.partitions.get_mut(&tp) else { return };
        let records: Vec<Record> = offsets
            .iter()
            .enumerate()
            .map(|(i, (part, offset))| Record {
                offset_delta: i as i32,
                timestamp_ms: now.as_millis() as i64,
                key: Some(Key::from(group::offset_record_key(&group_id, part))),
                value: Some(Arc::from(offset.to_string())),
                headers: Default::default(),
            })
            .collect();
        if records.is_empty() {
            self.outbox.send(from, Message::OffsetCommitResponse { correlation_id, error: None, offsets });
            return;
        }
        let epoch = p.leader_epoch();
        let batch = p.log.append_as_leader(epoch, records, now.as_millis() as i64);
        // Offsets are written with acks=all (`offsets.commit.required.acks`): answered once
        // the high watermark passes them.
        self.pending_commits.push(PendingCommit {
            from,
            correlation_id,
            tp: tp.clone(),
            required_offset: batch.next_offset(),
            commit: AcceptedCommit { group: group_id, offsets },
            fresh: true,
        });
        self.maybe_advance_high_watermark(&tp);
    }

    fn coordinator_message(&mut self, now: Instant, from: NodeId, message: Message) {
        let group_id = match &message {
            Message::JoinGroup { group_id, .. }
            | Message::SyncGroup { group_id, .. }
            | Message::Heartbeat { group_id, .. }
            | Message::LeaveGroup { group_id, .. }
            | Message::OffsetCommit { group_id, .. }
            | Message::OffsetFetch { group_id, .. } => group_id.clone(),
            _ => unreachable!("only group APIs come here"),
        };
        if !self.is_coordinator_for(&group_id) {
            let error = Some(ErrorCode::NotCoordinator);
            let reply = match message {
                Message::JoinGroup { correlation_id, member_id, .. } => Message::JoinGroupResponse {
                    correlation_id,
                    error,
                    generation_id: -1,
                    protocol: String::new(),
                    leader: String::new(),
                    member_id,
                    members: Vec::new(),
                },
                Message::SyncGroup { correlation_id, .. } => {
                    Message::SyncGroupResponse { correlation_id, error, assignment: Vec::new() }
                }
                Message::Heartbeat { correlation_id, .. } => Message::HeartbeatResponse { correlation_id, error },
                Message::LeaveGroup { correlation_id, .. } => Message::LeaveGroupResponse { correlation_id, error },
                Message::OffsetCommit { correlation_id, .. } => {
                    Message::OffsetCommitResponse { correlation_id, error, offsets: Vec::new() }
                }
                Message::OffsetFetch { correlation_id, .. } => {
                    Message::OffsetFetchResponse { correlation_id, error, offsets: Vec::new() }
                }
                _ => unreachable!(),
            };
            self.outbox.send(from, reply);
            return;
        }
        match message {
            Message::JoinGroup {
                correlation_id,
                group_id,
                member_id,
                client_id,
                session_timeout_ms,
                rebalance_timeout_ms,
                group_instance_id,
                protocols,
                subscription,
            } => {
                let request = JoinRequest {
                    from,
                    correlation_id,
                    group_id,
                    member_id,
                    group_instance_id,
                    client_id,
                    session_timeout_ms,
                    rebalance_timeout_ms,
                    protocols,
                    subscription,
                };
                self.coordinator.join(now, &mut self.rng, &mut self.outbox, request);
            }
            Message::SyncGroup {
                correlation_id,
                group_id,
                generation_id,
                member_id,
                group_instance_id,
                assignments,
            } => {
                self.coordinator.sync(
                    now,
                    &mut self.outbox,
                    from,
                    correlation_id,
                    &group_id,
                    generation_id,
                    &member_id,
                    group_instance_id.as_deref(),
                    assignments,
                );
            }
            Message::Heartbeat { correlation_id, group_id, generation_id, member_id, group_instance_id } => {
                self.coordinator.heartbeat(
                    now,
                    &mut self.outbox,
                    from,
                    correlation_id,
                    &group_id,
                    generation_id,
                    &member_id,
                    group_instance_id.as_deref(),
                );
            }
            Message::LeaveGroup { correlation_id, group_id, member_id } => {
                self.coordinator.leave(now, &mut self.outbox, from, correlation_id, &group_id, &member_id);
            }
            Message::OffsetCommit {
                correlation_id,
                group_id,
                generation_id,
                member_id,
                group_instance_id,
                offsets,
            } => {
                self.handle_offset_commit(
                    now,
                    from,
                    correlation_id,
                    group_id,
                    generation_id,
                    member_id,
                    group_instance_id,
                    offsets,
                );
            }
            Message::OffsetFetch { correlation_id, group_id, partitions } => {
                let committed = self.coordinator.committed(&group_id);
                let offsets = partitions
                    .into_iter()
                    .map(|tp| {
                        let offset = committed.get(&tp).copied().unwrap_or(-1);
                        (tp, offset)
                    })
                    .collect();
                self.outbox.send(from, Message::OffsetFetchResponse { correlation_id, error: None, offsets });
            }
            _ => unreachable!(),
        }
    }
}

impl Node for Broker {
    fn handle_message(&mut self, now: Instant, from: NodeId, message: Message) {
        match message {
            Message::BrokerRegistrationResponse { correlation_id, error, broker_epoch } => {
                if self.registration_in_flight.map(|(c, _)| c) == Some(correlation_id) {
                    self.registration_in_flight = None;
                    if error.is_some() {
                        self.controller_moved(now);
                    } else {
                        self.broker_epoch = Some(broker_epoch);
                        self.next_heartbeat = now;
                        self.maybe_finish_catch_up(now);
                    }
                }
            }
            Message::BrokerHeartbeatResponse { correlation_id, error, is_fenced } => {
                if self.heartbeat_in_flight.map(|(c, _)| c) == Some(correlation_id) {
                    self.heartbeat_in_flight = None;
                    match error {
                        Some(ErrorCode::StaleBrokerEpoch) => {
                            self.broker_epoch = None;
                            self.register(now);
                        }
                        Some(_) => {
                            // NOT_CONTROLLER: heartbeat the new active controller soon.
                            self.controller_moved(now);
                            self.next_heartbeat = self.controller_backoff_until;
                        }
                        None => self.fenced = is_fenced,
                    }
                }
            }
            m @ Message::QuorumFetchResponse { .. } => {
                if let Some(raft) = self.raft.as_mut() {
                    raft.handle_message(now, from, m);
                }
                self.drain_raft(now);
            }
            Message::AlterPartitionResponse { correlation_id, tp, error, state } => {
                if self.pending_alters.remove(&correlation_id).is_some() {
                    let mut updated = false;
                    if let Some(p) = self.partitions.get_mut(&tp) {
                        p.pending_isr = None;
                        if let (None, Some(state)) = (error, state) {
                            if p.is_leader()
                                && state.leader_epoch == p.leader_epoch()
                                && state.partition_epoch > p.state.partition_epoch
                            {
                                p.update_committed_state(state);
                                updated = true;
                            }
                        }
                    }
                    if updated {
                        self.partition_roles_changed();
                    }
                    self.maybe_advance_high_watermark(&tp);
                }
            }
            Message::Metadata { correlation_id, topics } => {
                let partitions = self
                    .image
                    .partitions
                    .values()
                    .filter(|p| {
                        if topics.is_empty() {
                            p.tp.topic != OFFSETS_TOPIC
                        } else {
                            topics.iter().any(|t| *t == p.tp.topic)
                        }
                    })
                    .cloned()
                    .collect();
                let brokers = self.image.live_brokers();
                self.outbox.send(from, Message::MetadataResponse { correlation_id, brokers, partitions });
            }
            Message::Produce { correlation_id, acks, timeout_ms, partitions } => {
                self.handle_produce(now, from, correlation_id, acks, timeout_ms, partitions);
            }
            fetch @ Message::Fetch { .. } => self.handle_fetch(now, from, fetch),
            Message::FetchResponse { correlation_id, error, session_id, partitions } => {
                self.handle_fetch_response(now, from, correlation_id, error, session_id, partitions);
            }
            Message::OffsetsForLeaderEpoch { correlation_id, partitions, .. } => {
                self.handle_offsets_for_leader_epoch(from, correlation_id, partitions);
            }
            Message::OffsetsForLeaderEpochResponse { correlation_id, partitions } => {
                self.handle_epoch_lookup_response(now, from, correlation_id, partitions);
            }
            Message::ListOffsets { correlation_id, tp, timestamp } => {
                let (error, offset) = match self.partitions.get(&tp).filter(|p| p.is_leader()) {
                    None => (Some(ErrorCode::NotLeaderOrFollower), -1),
                    Some(p) if timestamp == EARLIEST_TIMESTAMP => (None, p.log.log_start_offset()),
                    // Consumers at read_uncommitted see the high watermark as the end.
                    Some(p) if timestamp == LATEST_TIMESTAMP => (None, p.log.high_watermark()),
                    // By time: through the time indexes, and only committed records count.
                    Some(p) => (
                        None,
                        p.log
                            .offset_for_timestamp(timestamp)
                            .map(|(offset, _)| offset)
                            .filter(|&o| o < p.log.high_watermark())
                            .unwrap_or(-1),
                    ),
                };
                self.outbox.send(from, Message::ListOffsetsResponse { correlation_id, tp, error, offset });
            }
            Message::FindCoordinator { correlation_id, group_id } => {
                let tp = self.offsets_partition(&group_id);
                let coordinator = self.image.partitions.get(&tp).and_then(|p| p.leader);
                let error = coordinator.is_none().then_some(ErrorCode::CoordinatorNotAvailable);
                self.outbox.send(from, Message::FindCoordinatorResponse { correlation_id, error, coordinator });
            }
            m @ (Message::JoinGroup { .. }
            | Message::SyncGroup { .. }
            | Message::Heartbeat { .. }
            | Message::LeaveGroup { .. }
            | Message::OffsetCommit { .. }
            | Message::OffsetFetch { .. }) => {
                self.coordinator_message(now, from, m);
                self.flush_group_stores(now);
            }
            Message::InitProducerId { correlation_id, producer_id, producer_epoch } => {
                self.handle_init_producer_id(now, from, correlation_id, producer_id, producer_epoch);
            }
            Message::AllocateProducerIdsResponse { correlation_id, error, producer_id_start, producer_id_len } => {
                self.handle_allocate_producer_ids_response(
                    now,
                    correlation_id,
                    error,
                    producer_id_start,
                    producer_id_len,
                );
            }
            other => panic!("broker {} got a message it never expects: {}", self.id, other.api_name()),
        }
        self.complete_delayed(now);
        self.maybe_send_fetches(now);
    }

    /// A clean shutdown (`KafkaServer.shutdown`): `LogManager.shutdown` flushes every log and
    /// writes the recovery-point and log-start checkpoints, and `ReplicaManager.shutdown` the
    /// high-watermark checkpoint, so nothing the broker wrote is left only in the page cache.
    /// Kafka also writes `.kafka_cleanshutdown`, which lets the next start skip recovery; the
    /// lab always recovers, and finds every batch intact.
    fn shutdown(&mut self, now: Instant) {
        let now_ms = now.as_millis() as i64;
        let mut partitions = std::mem::take(&mut self.partitions);
        for log in partitions.values_mut().map(|p| &mut p.log) {
            log.flush(log.log_end_offset(), now_ms);
            self.drain_log(log);
        }
        self.partitions = partitions;
        let mut recovered = std::mem::take(&mut self.recovered);
        for log in recovered.values_mut() {
            log.flush(log.log_end_offset(), now_ms);
            self.drain_log(log);
        }
        self.recovered = recovered;
        self.write_offset_checkpoint(checkpoint::RECOVERY_POINT_FILE, |log| Some(log.recovery_point()));
        self.write_offset_checkpoint(checkpoint::LOG_START_OFFSET_FILE, |log| Some(log.log_start_offset()));
        self.write_offset_checkpoint(checkpoint::HIGH_WATERMARK_FILE, |log| Some(log.high_watermark()));
    }

    fn handle_disconnect(&mut self, now: Instant, peer: NodeId) {
        if let Some(raft) = self.raft.as_mut() {
            raft.handle_disconnect(now, peer);
        }
        self.drain_raft(now);
        if self.controller == Some(peer) {
            // The active controller's requests in flight fail now; send them again once the
            // quorum names a successor.
            if self.registration_in_flight.take().is_some() || self.heartbeat_in_flight.take().is_some() {
                self.controller_moved(now);
            }
        }
        // A fetch to a dead leader fails now; the fetcher backs off (`replica.fetch.backoff.ms`)
        // and tries again until metadata names another leader. Its next fetch is a full one:
        // a restarted leader has no sessions (`FetchSessionHandler.handleError`).
        if let Some(fetcher) = self.fetchers.get_mut(&peer) {
            let lookup = fetcher.epoch_lookup_in_flight.take().is_some();
            if fetcher.in_flight.take().is_some() || lookup {
                fetcher.backoff_until = now + Duration::from_millis(self.config.replica_fetch_backoff_ms);
            }
            fetcher.session.handle_error();
        }
        // Requests from the dead peer need no answer. Its offset commits still complete: they
        // are in the log already.
        self.parked_fetches.retain(|p| p.from != peer);
        self.delayed_produces.retain(|d| d.from != peer);
        self.producer_ids_peer_disconnected(now, peer);
        self.maybe_send_fetches(now);
    }

    fn handle_timeout(&mut self, now: Instant) {
        if let Some(raft) = self.raft.as_mut() {
            raft.handle_timeout(now);
        }
        self.drain_raft(now);
        match self.registration_in_flight {
            Some((_, sent)) if now.saturating_since(sent) >= CONTROLLER_REQUEST_TIMEOUT => {
                self.registration_in_flight = None;
                self.register(now);
            }
            None if self.broker_epoch.is_none() => self.register(now),
            _ => {}
        }
        if let Some((_, sent)) = self.heartbeat_in_flight {
            if now.saturating_since(sent) >= CONTROLLER_REQUEST_TIMEOUT {
                self.heartbeat_in_flight = None;
            }
        }
        if let (Some(broker_epoch), Some(controller)) = (self.broker_epoch, self.controller) {
            if now >= self.next_heartbeat && self.heartbeat_in_flight.is_none() {
                let correlation_id = self.correlation_id();
                self.heartbeat_in_flight = Some((correlation_id, now));
                self.next_heartbeat = now + Duration::from_millis(self.config.broker_heartbeat_interval_ms);
                self.outbox.send(
                    controller,
                    Message::BrokerHeartbeat {
                        correlation_id,
                        broker_id: self.id,
                        broker_epoch,
                        metadata_offset: self.metadata_offset,
                    },
                );
            }
        }
        if now >= self.next_isr_check {
            self.next_isr_check = now + Duration::from_millis(self.config.replica_lag_time_max_ms) / 2;
            self.check_isr(now);
        }
        self.run_log_tasks(now);
        self.coordinator.handle_timeout(now, &mut self.outbox);
        self.flush_group_stores(now);
        self.maybe_request_producer_ids(now);
        self.complete_delayed(now);
        self.maybe_send_fetches(now);
    }

    fn poll_effect(&mut self) -> Option<Effect> {
        self.outbox.poll_effect()
    }

    fn poll_event(&mut self) -> Option<Event> {
        self.outbox.poll_event()
    }

    fn poll_deadline(&self) -> Option<Instant> {
        let mut next = self.next_isr_check;
        let mut consider = |t: Instant| next = next.min(t);
        if self.broker_epoch.is_some() && self.heartbeat_in_flight.is_none() && self.controller.is_some() {
            consider(self.next_heartbeat);
        }
        if self.broker_epoch.is_none() && self.registration_in_flight.is_none() && self.controller.is_some() {
            consider(self.controller_backoff_until);
        }
        for (_, sent) in [self.registration_in_flight, self.heartbeat_in_flight].into_iter().flatten() {
            consider(sent + CONTROLLER_REQUEST_TIMEOUT);
        }
        if let Some(t) = self.raft.as_ref().and_then(|r| r.poll_deadline()) {
            consider(t);
        }
        for f in self.fetchers.values() {
            match f.in_flight {
                Some((_, sent)) => consider(sent + REPLICA_FETCH_TIMEOUT),
                None => consider(f.backoff_until),
            }
            if let Some((_, sent)) = f.epoch_lookup_in_flight {
                consider(sent + REPLICA_FETCH_TIMEOUT);
            }
        }
        for p in &self.parked_fetches {
            consider(p.deadline);
        }
        for d in &self.delayed_produces {
            consider(d.deadline);
        }
        if let Some(t) = self.coordinator.deadline() {
            consider(t);
        }
        if let Some(t) = self.producer_ids_deadline() {
            consider(t);
        }
        for t in [
            self.next_retention_check,
            self.next_cleaning,
            self.next_flush_check,
            self.next_high_watermark_checkpoint,
            self.next_recovery_point_checkpoint,
            self.next_log_start_checkpoint,
        ] {
            consider(t);
        }
        Some(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fetch_session::FetchMetadata;
    use crate::node::node_rng;
    use crate::record::unkeyed;

    const ME: NodeId = NodeId(1);
    const PRODUCER: NodeId = NodeId(5000);

    fn t(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    /// Committed metadata records reach the broker, as its observer replica would deliver them.
    fn feed(broker: &mut Broker, now: Instant, base_offset: i64, records: Vec<MetadataRecord>) {
        broker.apply_metadata(now, base_offset, records);
        broker.complete_delayed(now);
        broker.maybe_send_fetches(now);
    }

    fn sent(broker: &mut Broker) -> Vec<(NodeId, Message)> {
        let mut out = Vec::new();
        while let Some(effect) = broker.poll_effect() {
            if let Effect::Send { to, message } = effect {
                out.push((to, *message));
            }
        }
        out
    }

    /// A registered broker 1 leading `orders-0` (replicas 1, 2, 3) with the given ISR.
    fn leader(isr: &[i32], min_insync_replicas: i32) -> Broker {
        let setup = BrokerSetup {
            id: ME,
            incarnation: 1,
            config: BrokerConfig::default(),
            rng: node_rng(1, ME, 1),
            files: BTreeMap::new(),
            quorum: None,
            era: Era::default(),
        };
        let mut broker = Broker::new(t(0), setup);
        broker.controller = Some(NodeId::CONTROLLER);
        broker.register(t(0));
        broker.handle_message(
            t(1),
            NodeId::CONTROLLER,
            Message::BrokerRegistrationResponse { correlation_id: 1, error: None, broker_epoch: 0 },
        );
        let state = PartitionState {
            tp: TopicPartition::new("orders", 0),
            replicas: vec![NodeId(1), NodeId(2), NodeId(3)],
            isr: isr.iter().map(|b| NodeId(*b)).collect(),
            leader: Some(ME),
            leader_epoch: 0,
            partition_epoch: 0,
            adding_replicas: vec![],
            removing_replicas: vec![],
        };
        let records = vec![
            MetadataRecord::RegisterBroker { broker_id: ME, incarnation: 1, broker_epoch: 0 },
            MetadataRecord::Topic {
                name: "orders".into(),
                partitions: 1,
                replication_factor: 3,
                min_insync_replicas,
                internal: false,
                configs: BTreeMap::new(),
            },
            MetadataRecord::Partition(state),
        ];
        feed(&mut broker, t(2), 0, records);
        sent(&mut broker);
        broker
    }

    /// The moments `broker`'s high watermarks are written when stepped each millisecond up to
    /// `until_ms`.
    fn high_watermark_checkpoints(broker: &mut Broker, until_ms: u64) -> Vec<u64> {
        let mut written = Vec::new();
        for ms in 0..=until_ms {
            broker.handle_timeout(t(ms));
            while let Some(effect) = broker.poll_effect() {
                if matches!(&effect, Effect::Disk(DiskOp::WriteAtomically { path, .. }) if path == checkpoint::HIGH_WATERMARK_FILE)
                {
                    written.push(ms);
                }
            }
        }
        written
    }

    /// A broker writes its high watermarks as soon as it starts, then every
    /// `replica.high.watermark.checkpoint.interval.ms` (Kafka's checkpoint thread has no initial
    /// delay). A checkpoint left from before a power loss could otherwise name offsets that
    /// records written since, never committed, hold by the next restart.
    #[test]
    fn the_high_watermarks_are_written_at_start_then_every_interval() {
        let setup = BrokerSetup {
            id: ME,
            incarnation: 2,
            config: BrokerConfig::default(),
            rng: node_rng(1, ME, 2),
            files: BTreeMap::new(),
            quorum: None,
            era: Era::default(),
        };
        let mut broker = Broker::new(t(0), setup);
        let interval = BrokerConfig::default().replica_high_watermark_checkpoint_interval_ms;
        assert!(broker.poll_deadline().is_some_and(|d| d <= t(0)), "no wake-up at start");
        let written = high_watermark_checkpoints(&mut broker, 2 * interval);
        assert_eq!(written, [0, interval, 2 * interval]);
    }

    fn produce(broker: &mut Broker, now: u64, acks: i16, correlation_id: u64) {
        let record = unkeyed("v");
        broker.handle_message(
            t(now),
            PRODUCER,
            Message::Produce {
                correlation_id,
                acks,
                timeout_ms: 1000,
                partitions: vec![ProducePartition {
                    tp: TopicPartition::new("orders", 0),
                    batch: RecordBatch::new(0, -1, 0, vec![record]),
                }],
            },
        );
    }

    /// Every partition answer sent to the producer since the last drain, as
    /// `(correlation_id, error, base_offset)`.
    fn produce_responses(broker: &mut Broker) -> Vec<(u64, Option<ErrorCode>, i64)> {
        produce_response_messages(broker)
            .into_iter()
            .flat_map(|(c, partitions)| partitions.into_iter().map(move |p| (c, p.error, p.base_offset)))
            .collect()
    }

    fn follower_fetch(broker: &mut Broker, now: u64, follower: i32, fetch_offset: i64) {
        broker.handle_message(
            t(now),
            NodeId(follower),
            Message::Fetch {
                correlation_id: 77,
                replica_id: follower,
                broker_epoch: 0,
                max_wait_ms: 0,
                metadata: FetchMetadata::SESSIONLESS,
                forgotten_topics_data: vec![],
                partitions: vec![FetchPartition {
                    tp: TopicPartition::new("orders", 0),
                    current_leader_epoch: 0,
                    fetch_offset,
                    last_fetched_epoch: if fetch_offset > 0 { 0 } else { -1 },
                }],
            },
        );
    }

    /// Broker 2 fetches `orders-0` in a session: `(session_id, epoch)`, the partition's
    /// fetch offset if the request names it, and the long-poll bound. Returns the response's
    /// `(error, session_id, partitions)` if one was sent.
    fn session_fetch(
        broker: &mut Broker,
        now: u64,
        metadata: FetchMetadata,
        fetch_offset: Option<i64>,
        max_wait_ms: u64,
    ) -> Option<(Option<ErrorCode>, i32, Vec<FetchPartitionResponse>)> {
        let partitions = fetch_offset
            .map(|fetch_offset| FetchPartition {
                tp: TopicPartition::new("orders", 0),
                current_leader_epoch: 0,
                fetch_offset,
                last_fetched_epoch: if fetch_offset > 0 { 0 } else { -1 },
            })
            .into_iter()
            .collect();
        let fetch = Message::Fetch {
            correlation_id: 88,
            replica_id: 2,
            broker_epoch: 0,
            max_wait_ms,
            metadata,
            partitions,
            forgotten_topics_data: vec![],
        };
        broker.handle_message(t(now), NodeId(2), fetch);
        fetch_response(broker)
    }

    fn fetch_response(broker: &mut Broker) -> Option<(Option<ErrorCode>, i32, Vec<FetchPartitionResponse>)> {
        sent(broker).into_iter().find_map(|(_, m)| match m {
            Message::FetchResponse { error, session_id, partitions, .. } => Some((error, session_id, partitions)),
            _ => None,
        })
    }

    #[test]
    fn a_follower_in_a_fetch_session_hears_only_of_partitions_with_news() {
        let mut b = leader(&[1, 2], 2);
        let (error, id, partitions) = session_fetch(&mut b, 10, FetchMetadata::INITIAL, Some(0), 0).unwrap();
        assert_eq!((error, partitions.len()), (None, 1), "a full fetch answers every partition");
        assert_ne!(id, 0, "and opens a session");
        let at = |epoch| FetchMetadata { session_id: id, epoch };

        let (_, _, partitions) = session_fetch(&mut b, 11, at(1), None, 0).unwrap();
        assert!(partitions.is_empty(), "nothing new: {partitions:?}");

        // A record arrives: the leader reads the partition at the offset its session keeps.
        produce(&mut b, 12, -1, 7);
        let (_, _, partitions) = session_fetch(&mut b, 13, at(2), None, 0).unwrap();
        assert_eq!(partitions.len(), 1);
        assert_eq!((partitions[0].batches.len(), partitions[0].high_watermark), (1, 0));

        // The follower's new offset commits the record: the answer has no records, only the
        // new high watermark.
        let (_, _, partitions) = session_fetch(&mut b, 14, at(3), Some(1), 0).unwrap();
        assert_eq!(partitions.len(), 1);
        assert_eq!((partitions[0].batches.len(), partitions[0].high_watermark), (0, 1));
        assert_eq!(b.partition_log(&TopicPartition::new("orders", 0)).unwrap().high_watermark(), 1);
        let (_, _, partitions) = session_fetch(&mut b, 15, at(4), None, 0).unwrap();
        assert!(partitions.is_empty());

        // A long poll in the session waits for data, then answers with it.
        assert_eq!(session_fetch(&mut b, 16, at(5), None, 500), None, "parked");
        produce(&mut b, 17, 1, 8);
        let (_, _, partitions) = fetch_response(&mut b).expect("the append completes the parked fetch");
        assert_eq!((partitions.len(), partitions[0].batches.len()), (1, 1));

        let (error, _, partitions) = session_fetch(&mut b, 18, at(5), None, 0).unwrap();
        assert_eq!((error, partitions.len()), (Some(ErrorCode::InvalidFetchSessionEpoch), 0), "epoch 5 was used");
    }

    #[test]
    fn a_follower_fetch_with_nothing_new_lends_the_replica_out_only_when_it_moves_it() {
        let tp = TopicPartition::new("orders", 0);
        let lent_at = |b: &Broker| b.partitions().lent_at(b.partitions().slot(&tp).expect("hosted"));
        let follower_offset = |b: &Broker| {
            let p = b.partitions().values().find(|p| p.tp == tp).expect("hosted");
            (p.followers[&NodeId(2)].log_end_offset, p.followers[&NodeId(2)].last_fetch_time)
        };
        let mut b = leader(&[1, 2], 2);
        session_fetch(&mut b, 10, FetchMetadata::INITIAL, Some(0), 0).unwrap();
        let quiet = lent_at(&b);

        // Caught up, nothing new: the follower's fetch state moves, the replica is not lent.
        let (_, _, partitions) = session_fetch(&mut b, 11, FetchMetadata::INITIAL, Some(0), 0).unwrap();
        assert_eq!(partitions.len(), 1);
        assert_eq!(follower_offset(&b), (0, t(11)), "the fetch is taken in");
        assert_eq!(lent_at(&b), quiet, "a fetch that moves neither the log nor the high watermark lends nothing");

        // A record arrives (a loan), and the follower's fetch of it commits it (another).
        produce(&mut b, 12, -1, 7);
        let appended = lent_at(&b);
        assert!(appended > quiet, "an append is a loan");
        session_fetch(&mut b, 13, FetchMetadata::INITIAL, Some(1), 0).unwrap();
        assert_eq!(b.partition_log(&tp).unwrap().high_watermark(), 1);
        assert!(lent_at(&b) > appended, "a fetch that moves the high watermark lends the replica out");
    }

    #[test]
    fn a_follower_fetches_in_full_again_after_its_leader_restarts() {
        let mut b = leader(&[1, 2], 2);
        let (_, id, _) = session_fetch(&mut b, 10, FetchMetadata::INITIAL, Some(0), 0).unwrap();
        // The leader restarts and has no sessions: the follower's next incremental fetch is
        // refused, and the follower starts over with a full one.
        let mut restarted = leader(&[1, 2], 2);
        let (error, _, _) =
            session_fetch(&mut restarted, 11, FetchMetadata { session_id: id, epoch: 1 }, None, 0).unwrap();
        assert_eq!(error, Some(ErrorCode::FetchSessionIdNotFound));
        let mut fetcher = FetchSessionHandler::new(true);
        fetcher.build(vec![]);
        assert!(fetcher.handle_response(None, id, &[]));
        assert!(!fetcher.handle_response(error, 0, &[]));
        assert_eq!(fetcher.next_metadata(), FetchMetadata::INITIAL);
    }

    #[test]
    fn acks_one_is_answered_after_the_local_append() {
        let mut b = leader(&[1, 2, 3], 2);
        produce(&mut b, 10, 1, 7);
        assert_eq!(produce_responses(&mut b), vec![(7, None, 0)]);
        let log = b.partition_log(&TopicPartition::new("orders", 0)).unwrap();
        assert_eq!((log.log_end_offset(), log.high_watermark()), (1, 0), "acknowledged but not committed");
    }

    #[test]
    fn acks_zero_gets_no_response() {
        let mut b = leader(&[1, 2, 3], 2);
        produce(&mut b, 10, 0, 7);
        assert!(produce_responses(&mut b).is_empty());
        assert_eq!(b.partition_log(&TopicPartition::new("orders", 0)).unwrap().log_end_offset(), 1);
    }

    #[test]
    fn acks_all_waits_until_every_isr_member_has_the_record() {
        let mut b = leader(&[1, 2, 3], 2);
        produce(&mut b, 10, -1, 7);
        assert!(produce_responses(&mut b).is_empty());
        follower_fetch(&mut b, 12, 2, 1);
        assert!(produce_responses(&mut b).is_empty(), "broker 3 has not fetched yet");
        follower_fetch(&mut b, 13, 3, 1);
        assert_eq!(produce_responses(&mut b), vec![(7, None, 0)]);
        assert_eq!(b.partition_log(&TopicPartition::new("orders", 0)).unwrap().high_watermark(), 1);
    }

    /// One `Produce` request with a batch for `orders-0` and one for `other-0`, which does
    /// not exist.
    fn produce_two(broker: &mut Broker, now: u64, acks: i16, correlation_id: u64) {
        let partitions = ["orders", "other"]
            .into_iter()
            .map(|topic| ProducePartition {
                tp: TopicPartition::new(topic, 0),
                batch: RecordBatch::new(0, -1, 0, vec![unkeyed("v")]),
            })
            .collect();
        broker.handle_message(
            t(now),
            PRODUCER,
            Message::Produce { correlation_id, acks, timeout_ms: 1000, partitions },
        );
    }

    /// The `ProduceResponse`s sent to the producer since the last drain, whole.
    fn produce_response_messages(broker: &mut Broker) -> Vec<(u64, Vec<ProducePartitionResponse>)> {
        sent(broker)
            .into_iter()
            .filter_map(|(to, m)| match m {
                Message::ProduceResponse { correlation_id, partitions } if to == PRODUCER => {
                    Some((correlation_id, partitions))
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_request_for_several_partitions_is_answered_once_when_all_are_known() {
        let mut b = leader(&[1, 2, 3], 2);
        produce_two(&mut b, 10, -1, 7);
        // `other-0` failed at once, but its answer waits with `orders-0`'s (Kafka's
        // `DelayedProduce` holds the whole request).
        assert!(produce_response_messages(&mut b).is_empty());
        follower_fetch(&mut b, 12, 2, 1);
        follower_fetch(&mut b, 13, 3, 1);
        let answers = vec![
            ProducePartitionResponse { tp: TopicPartition::new("orders", 0), error: None, base_offset: 0 },
            ProducePartitionResponse {
                tp: TopicPartition::new("other", 0),
                error: Some(ErrorCode::UnknownTopicOrPartition),
                base_offset: -1,
            },
        ];
        assert_eq!(produce_response_messages(&mut b), vec![(7, answers)], "one response, in the request's order");
    }

    #[test]
    fn a_partition_still_waiting_at_the_timeout_fails_alone() {
        let mut b = leader(&[1, 2, 3], 1);
        produce_two(&mut b, 10, -1, 7);
        b.handle_timeout(t(1010));
        let errors: Vec<_> = produce_response_messages(&mut b)
            .into_iter()
            .flat_map(|(c, parts)| parts.into_iter().map(move |p| (c, p.tp.topic.to_string(), p.error)))
            .collect();
        assert_eq!(
            errors,
            [
                (7, "orders".to_string(), Some(ErrorCode::RequestTimedOut)),
                (7, "other".to_string(), Some(ErrorCode::UnknownTopicOrPartition))
            ]
        );
    }

    #[test]
    fn a_request_whose_every_partition_failed_is_answered_at_once() {
        // `delayedProduceRequestRequired`: with nothing appended there is nothing to wait for.
        let mut b = leader(&[1], 2);
        produce_two(&mut b, 10, -1, 7);
        let errors: Vec<_> =
            produce_response_messages(&mut b).into_iter().flat_map(|(_, parts)| parts).map(|p| p.error).collect();
        assert_eq!(errors, [Some(ErrorCode::NotEnoughReplicas), Some(ErrorCode::UnknownTopicOrPartition)]);
        // With acks=0 a request is answered only when a partition failed, and then whole.
        let mut b = leader(&[1, 2, 3], 2);
        produce_two(&mut b, 20, 0, 8);
        let answered: Vec<_> = produce_response_messages(&mut b)
            .into_iter()
            .flat_map(|(_, parts)| parts)
            .map(|p| (p.tp.topic.to_string(), p.error, p.base_offset))
            .collect();
        assert_eq!(
            answered,
            [("orders".to_string(), None, 0), ("other".to_string(), Some(ErrorCode::UnknownTopicOrPartition), -1)]
        );
    }

    #[test]
    fn acks_all_below_min_insync_replicas_is_refused_without_appending() {
        let mut b = leader(&[1], 2);
        produce(&mut b, 10, -1, 7);
        assert_eq!(produce_responses(&mut b), vec![(7, Some(ErrorCode::NotEnoughReplicas), -1)]);
        assert_eq!(b.partition_log(&TopicPartition::new("orders", 0)).unwrap().log_end_offset(), 0);
        // acks=1 is still accepted: min.insync.replicas only guards acks=all.
        produce(&mut b, 11, 1, 8);
        assert_eq!(produce_responses(&mut b), vec![(8, None, 0)]);
    }

    #[test]
    fn acks_all_times_out_when_followers_do_not_fetch() {
        let mut b = leader(&[1, 2, 3], 1);
        produce(&mut b, 10, -1, 7);
        b.handle_timeout(t(1009));
        assert!(produce_responses(&mut b).is_empty());
        b.handle_timeout(t(1010));
        assert_eq!(produce_responses(&mut b), vec![(7, Some(ErrorCode::RequestTimedOut), -1)]);
        // The record stays in the log: a timed-out acks=all write may still commit.
        assert_eq!(b.partition_log(&TopicPartition::new("orders", 0)).unwrap().log_end_offset(), 1);
    }

    #[test]
    fn invalid_acks_and_non_leaders_are_refused() {
        let mut b = leader(&[1, 2, 3], 1);
        produce(&mut b, 10, 2, 7);
        assert_eq!(produce_responses(&mut b), vec![(7, Some(ErrorCode::InvalidRequiredAcks), -1)]);
        let record = unkeyed("v");
        b.handle_message(
            t(11),
            PRODUCER,
            Message::Produce {
                correlation_id: 8,
                acks: 1,
                timeout_ms: 1000,
                partitions: vec![ProducePartition {
                    tp: TopicPartition::new("other", 0),
                    batch: RecordBatch::new(0, -1, 0, vec![record]),
                }],
            },
        );
        assert_eq!(produce_responses(&mut b), vec![(8, Some(ErrorCode::UnknownTopicOrPartition), -1)]);
    }

    /// The ISRs the broker proposed to the controller since the last drain.
    fn isr_proposals(broker: &mut Broker) -> Vec<Vec<NodeId>> {
        sent(broker)
            .into_iter()
            .filter_map(|(to, m)| match m {
                Message::AlterPartition { new_isr, .. } if to == NodeId::CONTROLLER => Some(new_isr),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_follower_that_stops_fetching_is_dropped_from_the_isr_after_the_lag_time() {
        let mut b = leader(&[1, 2, 3], 1);
        produce(&mut b, 10, 1, 7);
        sent(&mut b);
        follower_fetch(&mut b, 20, 2, 1);
        sent(&mut b);
        // Broker 3 never fetches. The ISR check runs every replica.lag.time.max.ms / 2.
        b.handle_timeout(t(30_000));
        let alters = isr_proposals(&mut b);
        assert!(alters.is_empty(), "30 s is not more than replica.lag.time.max.ms: {alters:?}");
        b.handle_timeout(t(45_000));
        let alters = isr_proposals(&mut b);
        assert_eq!(alters, vec![vec![NodeId(1), NodeId(2)]]);
    }

    #[test]
    fn a_diverging_follower_is_told_where_to_truncate() {
        let mut b = leader(&[1, 2, 3], 1);
        produce(&mut b, 10, 1, 7);
        // Re-elected in epoch 2: the epoch cache now reads [(0, 0), (2, 1)].
        let state = PartitionState {
            tp: TopicPartition::new("orders", 0),
            replicas: vec![NodeId(1), NodeId(2), NodeId(3)],
            isr: vec![NodeId(1), NodeId(2), NodeId(3)],
            leader: Some(ME),
            leader_epoch: 2,
            partition_epoch: 2,
            adding_replicas: vec![],
            removing_replicas: vec![],
        };
        let update = vec![MetadataRecord::Partition(state)];
        feed(&mut b, t(15), 3, update);
        sent(&mut b);
        // Broker 2 led epoch 1, which this leader never saw, and wrote up to offset 5 in it.
        b.handle_message(
            t(20),
            NodeId(2),
            Message::Fetch {
                correlation_id: 9,
                replica_id: 2,
                broker_epoch: 0,
                max_wait_ms: 0,
                metadata: FetchMetadata::SESSIONLESS,
                forgotten_topics_data: vec![],
                partitions: vec![FetchPartition {
                    tp: TopicPartition::new("orders", 0),
                    current_leader_epoch: 2,
                    fetch_offset: 5,
                    last_fetched_epoch: 1,
                }],
            },
        );
        let responses: Vec<FetchPartitionResponse> = sent(&mut b)
            .into_iter()
            .filter_map(|(_, m)| match m {
                Message::FetchResponse { partitions, .. } => Some(partitions),
                _ => None,
            })
            .flatten()
            .collect();
        assert_eq!(responses.len(), 1);
        // Epoch 0 (the largest at or below 1) ends where epoch 2 starts: offset 1.
        assert_eq!(responses[0].diverging_epoch, Some((0, 1)));
        assert!(responses[0].batches.is_empty());
    }

    // ---- idempotent producer, MESSAGE_TOO_LARGE, producer ids ----

    const PID: i64 = 7;

    /// Sends a batch of `count` records from producer `PID`, sequences from `base_sequence`.
    fn produce_idempotent(
        broker: &mut Broker,
        now: u64,
        acks: i16,
        correlation_id: u64,
        producer_epoch: i16,
        base_sequence: i32,
        count: i32,
    ) {
        let records = (0..count)
            .map(|i| Record {
                offset_delta: i,
                timestamp_ms: 0,
                key: None,
                value: Some(Arc::from("v")),
                headers: Default::default(),
            })
            .collect();
        let mut batch = RecordBatch::new(0, -1, 0, records);
        batch.header_mut().producer_id = PID;
        batch.header_mut().producer_epoch = producer_epoch;
        batch.header_mut().base_sequence = base_sequence;
        let tp = TopicPartition::new("orders", 0);
        let partitions = vec![ProducePartition { tp, batch }];
        broker.handle_message(
            t(now),
            PRODUCER,
            Message::Produce { correlation_id, acks, timeout_ms: 1000, partitions },
        );
    }

    fn events(broker: &mut Broker) -> Vec<Event> {
        std::iter::from_fn(|| broker.poll_event()).collect()
    }

    fn log_end(broker: &Broker) -> i64 {
        broker.partition_log(&TopicPartition::new("orders", 0)).unwrap().log_end_offset()
    }

    #[test]
    fn a_retried_idempotent_batch_is_answered_with_its_original_offset_and_not_appended() {
        let mut b = leader(&[1, 2, 3], 1);
        produce_idempotent(&mut b, 10, 1, 1, 0, 0, 2);
        produce_idempotent(&mut b, 11, 1, 2, 0, 2, 1);
        assert_eq!(produce_responses(&mut b), vec![(1, None, 0), (2, None, 2)]);
        events(&mut b);
        // The first request's answer was lost; the producer sends the same batch again.
        produce_idempotent(&mut b, 12, 1, 3, 0, 0, 2);
        assert_eq!(produce_responses(&mut b), vec![(3, None, 0)]);
        assert_eq!(log_end(&b), 3, "nothing appended");
        let tp = TopicPartition::new("orders", 0);
        let dropped = Event::DuplicateBatchDropped {
            tp: tp.clone(),
            producer_id: PID,
            producer_epoch: 0,
            base_sequence: 0,
            original_offset: 0,
        };
        assert_eq!(events(&mut b), vec![dropped]);
        // A gap, and then a fenced epoch, are refused with nothing appended.
        produce_idempotent(&mut b, 13, 1, 4, 0, 5, 1);
        produce_idempotent(&mut b, 14, 1, 5, 1, 0, 1);
        produce_idempotent(&mut b, 15, 1, 6, 0, 3, 1);
        assert_eq!(
            produce_responses(&mut b),
            vec![
                (4, Some(ErrorCode::OutOfOrderSequenceNumber), -1),
                (5, None, 3),
                (6, Some(ErrorCode::InvalidProducerEpoch), -1)
            ]
        );
        assert_eq!(log_end(&b), 4);
        let rejected: Vec<ErrorCode> = events(&mut b)
            .into_iter()
            .filter_map(|e| match e {
                Event::ProduceRejected { error, .. } => Some(error),
                _ => None,
            })
            .collect();
        assert_eq!(rejected, vec![ErrorCode::OutOfOrderSequenceNumber, ErrorCode::InvalidProducerEpoch]);
    }

    #[test]
    fn an_acks_all_duplicate_is_answered_once_the_original_is_committed() {
        let mut b = leader(&[1, 2, 3], 1);
        produce_idempotent(&mut b, 10, -1, 1, 0, 0, 1);
        produce_idempotent(&mut b, 11, -1, 2, 0, 0, 1);
        assert!(produce_responses(&mut b).is_empty(), "the original is not committed yet");
        assert_eq!(log_end(&b), 1);
        follower_fetch(&mut b, 12, 2, 1);
        follower_fetch(&mut b, 13, 3, 1);
        assert_eq!(produce_responses(&mut b), vec![(1, None, 0), (2, None, 0)]);
        // Once committed, a duplicate is answered at once.
        produce_idempotent(&mut b, 14, -1, 3, 0, 0, 1);
        assert_eq!(produce_responses(&mut b), vec![(3, None, 0)]);
    }

    #[test]
    fn an_unknown_producer_id_follows_the_era() {
        let mut b = leader(&[1, 2, 3], 1);
        produce_idempotent(&mut b, 10, 1, 1, 0, 42, 1);
        assert_eq!(produce_responses(&mut b), vec![(1, None, 0)], "KIP-360: any sequence");
        let mut old = leader(&[1, 2, 3], 1);
        old.era = crate::era::KafkaVersion::V2_0.era();
        produce_idempotent(&mut old, 10, 1, 1, 0, 42, 1);
        produce_idempotent(&mut old, 11, 1, 2, 0, 0, 1);
        assert_eq!(produce_responses(&mut old), vec![(1, Some(ErrorCode::UnknownProducerId), -1), (2, None, 0)]);
    }

    #[test]
    fn a_batch_above_max_message_bytes_is_refused_whole() {
        let mut b = leader(&[1, 2, 3], 1);
        let record = |value: &str| Record {
            offset_delta: 0,
            timestamp_ms: 0,
            key: None,
            value: Some(Arc::from(value)),
            headers: Default::default(),
        };
        let fits = RecordBatch::new(0, -1, 0, vec![record(&"x".repeat(100))]);
        let limit = fits.size_bytes();
        // The topic's max.message.bytes arrives with its metadata: exactly the size of `fits`.
        let configs: BTreeMap<String, String> = [("max.message.bytes".to_string(), limit.to_string())].into();
        let topic = MetadataRecord::Topic {
            name: "orders".into(),
            partitions: 1,
            replication_factor: 3,
            min_insync_replicas: 1,
            internal: false,
            configs,
        };
        let state = b.image().partitions[&TopicPartition::new("orders", 0)].clone();
        feed(&mut b, t(5), 3, vec![topic, MetadataRecord::Partition(state)]);
        sent(&mut b);
        events(&mut b);
        let tp = TopicPartition::new("orders", 0);
        let too_large = RecordBatch::new(0, -1, 0, vec![record(&"x".repeat(101))]);
        assert_eq!(too_large.size_bytes(), limit + 1);
        for (correlation_id, batch) in [(1, too_large), (2, fits)] {
            let partitions = vec![ProducePartition { tp: tp.clone(), batch }];
            let produce = Message::Produce { correlation_id, acks: 1, timeout_ms: 1000, partitions };
            b.handle_message(t(10), PRODUCER, produce);
        }
        assert_eq!(produce_responses(&mut b), vec![(1, Some(ErrorCode::MessageTooLarge), -1), (2, None, 0)]);
        assert_eq!(log_end(&b), 1);
        let rejected = Event::ProduceRejected { tp, error: ErrorCode::MessageTooLarge };
        assert!(events(&mut b).contains(&rejected));
    }

    fn init_producer_id(broker: &mut Broker, now: u64, correlation_id: u64, producer_id: i64, producer_epoch: i16) {
        broker.handle_message(
            t(now),
            PRODUCER,
            Message::InitProducerId { correlation_id, producer_id, producer_epoch },
        );
    }

    /// An `InitProducerIdResponse`: correlation id, error, producer id, epoch.
    type InitAnswer = (u64, Option<ErrorCode>, i64, i16);

    /// The `InitProducerId` answers to the producer and the correlation ids of the
    /// `AllocateProducerIds` requests to the controller, since the last drain.
    fn producer_id_traffic(broker: &mut Broker) -> (Vec<InitAnswer>, Vec<u64>) {
        let mut answers = Vec::new();
        let mut requests = Vec::new();
        for (to, m) in sent(broker) {
            match m {
                Message::InitProducerIdResponse { correlation_id, error, producer_id, producer_epoch } => {
                    assert_eq!(to, PRODUCER);
                    answers.push((correlation_id, error, producer_id, producer_epoch));
                }
                Message::AllocateProducerIds { correlation_id, broker_id, broker_epoch } => {
                    assert_eq!((to, broker_id, broker_epoch), (NodeId::CONTROLLER, ME, 0));
                    requests.push(correlation_id);
                }
                _ => {}
            }
        }
        (answers, requests)
    }

    fn grant_block(broker: &mut Broker, now: u64, correlation_id: u64, start: i64) {
        let response = Message::AllocateProducerIdsResponse {
            correlation_id,
            error: None,
            producer_id_start: start,
            producer_id_len: 1000,
        };
        broker.handle_message(t(now), NodeId::CONTROLLER, response);
    }

    #[test]
    fn init_producer_id_grants_ids_from_blocks_the_controller_allocates() {
        let mut b = leader(&[1, 2, 3], 1);
        // Blocks are fetched lazily: a broker nobody asks never takes ids.
        b.handle_timeout(t(5));
        assert_eq!(producer_id_traffic(&mut b), (vec![], vec![]));
        // No block yet: both requests wait, and one AllocateProducerIds goes out.
        init_producer_id(&mut b, 10, 1, -1, -1);
        init_producer_id(&mut b, 11, 2, -1, -1);
        let (answers, requests) = producer_id_traffic(&mut b);
        assert!(answers.is_empty());
        let [request] = requests[..] else { panic!("one AllocateProducerIds expected: {requests:?}") };
        // A stale answer is ignored; the real one serves the waiting requests in order.
        grant_block(&mut b, 12, request + 100, 9000);
        assert_eq!(producer_id_traffic(&mut b), (vec![], vec![]));
        grant_block(&mut b, 12, request, 5000);
        assert_eq!(producer_id_traffic(&mut b).0, vec![(1, None, 5000, 0), (2, None, 5001, 0)]);
        init_producer_id(&mut b, 13, 3, -1, -1);
        assert_eq!(producer_id_traffic(&mut b).0, vec![(3, None, 5002, 0)]);
        // An existing producer gets its epoch bumped (KIP-360); at i16::MAX, a new id instead.
        init_producer_id(&mut b, 14, 4, 5000, 3);
        init_producer_id(&mut b, 15, 5, 5001, i16::MAX);
        assert_eq!(producer_id_traffic(&mut b).0, vec![(4, None, 5000, 4), (5, None, 5003, 0)]);
        // Ids 5004..=5898 leave the block 89.9% used; id 5899 makes it 90%, and the next
        // block is asked for.
        for i in 0..895 {
            init_producer_id(&mut b, 16, 100 + i, -1, -1);
        }
        let (answers, requests) = producer_id_traffic(&mut b);
        assert_eq!((answers.len(), answers.last().unwrap().2), (895, 5898));
        assert!(requests.is_empty());
        init_producer_id(&mut b, 17, 1000, -1, -1);
        let (answers, requests) = producer_id_traffic(&mut b);
        assert_eq!(answers, vec![(1000, None, 5899, 0)]);
        let [request] = requests[..] else { panic!("the prefetch expected: {requests:?}") };
        grant_block(&mut b, 18, request, 7000);
        // The rest of the current block goes first, then the prefetched one.
        for i in 0..101 {
            init_producer_id(&mut b, 19, 2000 + i, -1, -1);
        }
        let (answers, _) = producer_id_traffic(&mut b);
        let ids: Vec<i64> = answers.iter().map(|a| a.2).collect();
        assert_eq!((ids[0], ids[99], ids[100]), (5900, 5999, 7000));
    }

    #[test]
    fn init_producer_id_without_a_block_waits_retries_and_gives_up() {
        // No controller known: refused at once, retriably.
        let mut b = leader(&[1, 2, 3], 1);
        b.controller = None;
        init_producer_id(&mut b, 10, 1, -1, -1);
        assert_eq!(producer_id_traffic(&mut b), (vec![(1, Some(ErrorCode::CoordinatorNotAvailable), -1, -1)], vec![]));

        let mut b = leader(&[1, 2, 3], 1);
        init_producer_id(&mut b, 10, 1, -1, -1);
        let (_, requests) = producer_id_traffic(&mut b);
        // NOT_CONTROLLER: asked again after controller.quorum.retry.backoff.ms (20 ms).
        let refused = Message::AllocateProducerIdsResponse {
            correlation_id: requests[0],
            error: Some(ErrorCode::NotController),
            producer_id_start: -1,
            producer_id_len: 0,
        };
        b.handle_message(t(11), NodeId::CONTROLLER, refused);
        assert_eq!(producer_id_traffic(&mut b), (vec![], vec![]));
        assert!(b.poll_deadline().is_some_and(|d| d <= t(31)));
        b.handle_timeout(t(30));
        assert_eq!(producer_id_traffic(&mut b), (vec![], vec![]));
        b.handle_timeout(t(31));
        let (answers, requests) = producer_id_traffic(&mut b);
        assert!(answers.is_empty());
        assert_eq!(requests.len(), 1);
        // Unanswered for controller.quorum.request.timeout.ms: sent again.
        b.handle_timeout(t(31 + 2000));
        assert_eq!(producer_id_traffic(&mut b).1.len(), 1);
        // Still no block after 30 s: the request is answered REQUEST_TIMED_OUT.
        b.handle_timeout(t(10 + 29_999));
        assert!(producer_id_traffic(&mut b).0.is_empty());
        b.handle_timeout(t(10 + 30_000));
        assert_eq!(producer_id_traffic(&mut b).0, vec![(1, Some(ErrorCode::RequestTimedOut), -1, -1)]);
    }
}
