//! The consumer client with the classic group protocol (apache/kafka:
//! clients/.../consumer/internals/AbstractCoordinator.java, ConsumerCoordinator.java,
//! Fetcher.java, SubscriptionState.java).
//!
//! Two threads of the Java client are modelled. The *application thread* calls `poll()`: it
//! drives joins and rebalances, commits automatically, and returns at most `max.poll.records`
//! records, which the simulated application then processes for `processing` per record and
//! commits before or after processing as the scenario says. The *heartbeat thread* heartbeats
//! every `heartbeat.interval.ms` and leaves the group when the application has not polled for
//! `max.poll.interval.ms`. Records are prefetched from partition leaders into a buffer while the
//! application processes.
//!
//! Rebalances are eager or cooperative (KIP-429) by the configured assignors: an eager member
//! gives up every partition before it rejoins; a cooperative one keeps fetching what it owns,
//! reports it in JoinGroup, and gives up only what the new assignment moves elsewhere, then
//! rejoins so the next generation can hand it out. A member with `group.instance.id` is static
//! (KIP-345): it sends no LeaveGroup and a restart within the session timeout gets its
//! partitions back without a rebalance.

use crate::assignor::{Assignor, MemberSubscription, RebalanceProtocol};
use crate::config::{AutoOffsetReset, ConsumerConfig};
use crate::era::Era;
use crate::error::ErrorCode;
use crate::event::Event;
use crate::fetch_session::FetchSessionHandler;
use crate::ids::{Name, NodeId, TopicPartition};
use crate::node::{Effect, Node, Outbox};
use crate::protocol::{
    EpochEndOffset, FetchPartition, FetchPartitionResponse, JoinedMember, Message, Subscription, CONSUMER_REPLICA_ID,
    EARLIEST_TIMESTAMP, LATEST_TIMESTAMP,
};
use crate::time::Instant;
use crate::SendId;
use core::time::Duration;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// How long a metadata or FindCoordinator request may go unanswered before another broker is
/// asked.
const DISCOVERY_TIMEOUT: Duration = Duration::from_millis(2000);
/// Wait between failed discovery attempts (`retry.backoff.ms`).
const RETRY_BACKOFF: Duration = Duration::from_millis(100);
/// How long a coordinator or fetch request may go unanswered (`request.timeout.ms`, 30000).
const REQUEST_TIMEOUT: Duration = Duration::from_millis(30_000);
/// How often metadata is refreshed without errors (Kafka's `metadata.max.age.ms` is 5 minutes;
/// a shorter period lets the group leader notice new partitions sooner in short runs).
const METADATA_MAX_AGE: Duration = Duration::from_millis(10_000);
/// The room, in records, a partition's drained fetch buffer keeps: what a fetch of a consumer
/// that keeps up holds. A catch-up fetch holds thousands, and its room is given back once
/// drained (heavy.ron's four consumers held 6 MB of such room to the end).
const DRAINED_BUFFER_CAPACITY: usize = 256;

/// How the simulated application commits offsets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommitMode {
    /// `enable.auto.commit` decides: with it on, `poll()` commits the positions of records
    /// returned by earlier polls every `auto.commit.interval.ms`; with it off, nothing commits.
    Auto,
    /// `commitSync()` right after `poll()` returns, before processing: a crash during
    /// processing loses the polled records (at-most-once).
    BeforeProcessing,
    /// `commitSync()` after the polled records are processed: a crash before the commit
    /// redelivers them to the next owner (at-least-once).
    AfterProcessing,
}

/// A position change a scripted consumer makes (KafkaConsumer's seek methods).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seek {
    /// `seekToBeginning`: the log start offset, of one partition or (`None`) of every assigned one.
    Beginning(Option<TopicPartition>),
    /// `seekToEnd`: the high watermark, of one partition or of every assigned one.
    End(Option<TopicPartition>),
    /// `seek(partition, offset)`.
    Offset(TopicPartition, i64),
    /// `offsetsForTimes` then `seek`: the first offset whose timestamp is at or after this many
    /// milliseconds of simulated time, on every assigned partition.
    Timestamp(i64),
}

/// What a consumer needs to start.
pub struct ConsumerSetup {
    /// Its node id.
    pub id: NodeId,
    /// `client.id` (the scenario's client id).
    pub client_id: String,
    /// `group.id`; empty for a consumer that assigns partitions itself and commits nothing.
    pub group_id: String,
    /// Subscribed topics (`subscribe`); empty when `assign` is used.
    pub topics: Vec<String>,
    /// Partitions taken with `assign` (no group membership); empty when subscribing.
    pub assign: Vec<TopicPartition>,
    /// How long the application takes to process one record, in milliseconds.
    pub processing_ms_per_record: u64,
    /// How the application commits.
    pub commit: CommitMode,
    /// Scripted seeks, in time order.
    pub seeks: Vec<(Instant, Seek)>,
    /// Consumer configs.
    pub config: ConsumerConfig,
    /// When to start.
    pub start: Instant,
    /// Brokers to ask for metadata and the coordinator (`bootstrap.servers`).
    pub bootstrap: Vec<NodeId>,
    /// The behaviour era: from Kafka 2.3 ([`Era::fetch_epoch_fencing`]) the consumer validates
    /// its position after a leader change (KIP-320).
    pub era: Era,
}

/// Where the consumer is in the group protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Not started yet.
    Idle,
    /// Looking for the coordinator.
    FindingCoordinator,
    /// Committing positions before rejoining (eager protocol with auto commit).
    CommittingBeforeJoin,
    /// JoinGroup sent.
    Joining,
    /// SyncGroup sent.
    Syncing,
    /// Assigned and consuming (or, with `assign`, consuming its own partitions).
    Stable,
    /// The heartbeat thread left the group because `max.poll.interval.ms` passed without a
    /// poll; the member rejoins at its next poll.
    Left,
    /// A fatal error stopped the consumer (FENCED_INSTANCE_ID, INCONSISTENT_GROUP_PROTOCOL).
    Failed,
}

impl Phase {
    /// A short word for views.
    pub fn word(self) -> &'static str {
        match self {
            Phase::Idle => "idle",
            Phase::FindingCoordinator => "finding coordinator",
            Phase::CommittingBeforeJoin => "committing",
            Phase::Joining => "joining",
            Phase::Syncing => "syncing",
            Phase::Stable => "stable",
            Phase::Left => "left (poll timeout)",
            Phase::Failed => "failed",
        }
    }
}

/// A consumer's observable state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerStatus {
    /// `group.id`, empty without a group.
    pub group_id: String,
    /// Protocol phase.
    pub phase: Phase,
    /// Member id from the coordinator.
    pub member_id: String,
    /// Generation of the current assignment.
    pub generation_id: i32,
    /// Assigned partitions.
    pub assignment: Vec<TopicPartition>,
    /// Next offset to consume per assigned partition.
    pub positions: BTreeMap<TopicPartition, i64>,
    /// Records polled so far.
    pub polled: u64,
    /// Records processed so far.
    pub processed: u64,
}

#[derive(Clone, Debug)]
struct Request {
    correlation_id: u64,
    sent_at: Instant,
}

/// Why the commit in flight was sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CommitKind {
    /// Auto commit from `poll()`, or a cooperative member committing what it revokes.
    Async,
    /// `commitSync()` from the application (before or after processing).
    Sync,
    /// Auto commit before an eager rejoin (`onJoinPrepare`).
    BeforeJoin,
}

/// An OffsetCommit in flight: the request, why it was sent, and what it commits.
#[derive(Clone, Debug)]
struct InFlightCommit {
    request: Request,
    kind: CommitKind,
    offsets: Vec<(TopicPartition, i64)>,
}

/// What the simulated application is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum App {
    /// Inside `poll()`, waiting for records.
    Polling,
    /// Waiting for `commitSync()` before processing (at-most-once).
    CommittingBefore,
    /// Processing the records the last poll returned.
    Processing,
    /// Waiting for `commitSync()` after processing (at-least-once).
    CommittingAfter,
}

/// A record's `(offset, send id)`, as `Polled` and `Processed` report it.
type SendIdAt = (i64, SendId);

/// A record fetched but not yet returned by `poll()`.
#[derive(Clone, Debug)]
struct Fetched {
    offset: i64,
    /// The send id, held inline ([`SendId`]); empty for the end-of-batches marker.
    id: SendId,
    leader_epoch: i32,
}

/// A record the application is processing: done at `done_at`.
#[derive(Clone, Debug)]
struct InProcess {
    tp: TopicPartition,
    offset: i64,
    id: SendId,
    done_at: Instant,
}

/// A consumer node.
pub struct Consumer {
    client_id: Name,
    group_id: Name,
    topics: Vec<String>,
    manual: Vec<TopicPartition>,
    config: ConsumerConfig,
    protocol: RebalanceProtocol,
    outbox: Outbox,
    start: Instant,
    bootstrap: Vec<NodeId>,
    bootstrap_index: usize,
    next_correlation_id: u64,
    phase: Phase,
    coordinator: Option<NodeId>,
    member_id: String,
    generation_id: i32,
    /// Owned partitions.
    assignment: Vec<TopicPartition>,
    /// The assignment before the last eager rejoin, sent as the sticky assignors' user data.
    previous_assignment: (Vec<TopicPartition>, i32),
    /// An assignment received from SyncGroup, applied at the next poll (`onJoinComplete` runs
    /// on the application thread).
    pending_assignment: Option<Vec<TopicPartition>>,
    /// The application position: the next offset `poll()` returns, per owned partition.
    positions: BTreeMap<TopicPartition, i64>,
    committed_positions: BTreeMap<TopicPartition, i64>,
    leaders: BTreeMap<TopicPartition, (Option<NodeId>, i32)>,
    partition_counts: BTreeMap<String, i32>,
    group_request: Option<Request>,
    heartbeat: Option<Request>,
    commit: Option<InFlightCommit>,
    /// A `commitSync()` waiting for a coordinator or for the commit slot.
    pending_sync_commit: Option<Vec<(TopicPartition, i64)>>,
    offset_fetch: Option<Request>,
    /// Owned partitions whose committed offset has not been looked up yet.
    needs_offset: BTreeSet<TopicPartition>,
    metadata: Option<Request>,
    metadata_wanted: bool,
    next_metadata: Instant,
    /// No metadata request goes out before this: `retry.backoff.ms` after the last one was
    /// answered or timed out, as Kafka's `Metadata.timeToAllowUpdate` spaces refreshes. Without
    /// it, a consumer waiting for a topic to be created asks again the moment each answer
    /// arrives, a request every round trip.
    metadata_retry_at: Instant,
    /// ListOffsets in flight: an `auto.offset.reset` (`None`) or a seek (its method name), with
    /// the leader asked and the timestamp asked for.
    resets: BTreeMap<TopicPartition, (Request, Option<String>, NodeId, i64)>,
    /// Seeks whose ListOffsets could not be sent or failed (no known leader, the leader's
    /// connection broke, an error): retried at each step until one is answered, as the
    /// application's `seekToBeginning()`/`offsetsForTimes()` retries until its timeout.
    unsent_seeks: BTreeMap<TopicPartition, (i64, String)>,
    /// Fetches in flight by leader, with the offset each partition was fetched from.
    fetches: BTreeMap<NodeId, (Request, BTreeMap<TopicPartition, i64>)>,
    /// The fetch session with each leader fetched from (KIP-227, Kafka's `sessionHandlers`).
    fetch_sessions: BTreeMap<NodeId, FetchSessionHandler>,
    era: Era,
    /// The leader epoch of the batch each position was reached in (KIP-320), when known.
    position_epochs: BTreeMap<TopicPartition, i32>,
    /// Positions to validate with `OffsetsForLeaderEpoch` before fetching again, because the
    /// partition's leader changed since they were reached.
    awaiting_validation: BTreeSet<TopicPartition>,
    /// `OffsetsForLeaderEpoch` requests in flight, by leader.
    validations: BTreeMap<NodeId, Request>,
    retry_at: Instant,
    next_heartbeat: Instant,
    next_auto_commit: Instant,
    /// Set by the heartbeat thread (or a revocation); the next poll rejoins.
    rejoin_needed: bool,
    buffered: BTreeMap<TopicPartition, VecDeque<Fetched>>,
    app: App,
    last_poll: Instant,
    poll_cursor: usize,
    processing: VecDeque<InProcess>,
    processing_per_record: Duration,
    commit_mode: CommitMode,
    seeks: VecDeque<(Instant, Seek)>,
    polled: u64,
    processed: u64,
}

impl Consumer {
    /// A consumer that starts at `setup.start`.
    pub fn new(now: Instant, setup: ConsumerSetup) -> Consumer {
        let protocol = setup.config.rebalance_protocol();
        Consumer {
            client_id: Name::new(&setup.client_id),
            group_id: Name::new(&setup.group_id),
            topics: setup.topics,
            manual: setup.assign,
            config: setup.config,
            protocol,
            outbox: Outbox::default(),
            start: setup.start.max(now),
            bootstrap: setup.bootstrap,
            bootstrap_index: 0,
            next_correlation_id: 0,
            phase: Phase::Idle,
            coordinator: None,
            member_id: String::new(),
            generation_id: -1,
            assignment: Vec::new(),
            previous_assignment: (Vec::new(), -1),
            pending_assignment: None,
            positions: BTreeMap::new(),
            committed_positions: BTreeMap::new(),
            leaders: BTreeMap::new(),
            partition_counts: BTreeMap::new(),
            group_request: None,
            heartbeat: None,
            commit: None,
            pending_sync_commit: None,
            offset_fetch: None,
            needs_offset: BTreeSet::new(),
            metadata: None,
            metadata_wanted: true,
            next_metadata: now,
            metadata_retry_at: now,
            resets: BTreeMap::new(),
            unsent_seeks: BTreeMap::new(),
            fetches: BTreeMap::new(),
            fetch_sessions: BTreeMap::new(),
            era: setup.era,
            position_epochs: BTreeMap::new(),
            awaiting_validation: BTreeSet::new(),
            validations: BTreeMap::new(),
            retry_at: now,
            next_heartbeat: now,
            next_auto_commit: now,
            rejoin_needed: false,
            buffered: BTreeMap::new(),
            app: App::Polling,
            last_poll: now,
            poll_cursor: 0,
            processing: VecDeque::new(),
            processing_per_record: Duration::from_millis(setup.processing_ms_per_record),
            commit_mode: setup.commit,
            seeks: setup.seeks.into_iter().collect(),
            polled: 0,
            processed: 0,
        }
    }

    /// A cheap snapshot for views.
    pub fn status(&self) -> ConsumerStatus {
        ConsumerStatus {
            group_id: self.group_id.to_string(),
            phase: self.phase,
            member_id: self.member_id.clone(),
            generation_id: self.generation_id,
            assignment: self.assignment.clone(),
            positions: self.positions.clone(),
            polled: self.polled,
            processed: self.processed,
        }
    }

    /// What the consumer believes it owns: `(generation_id, member_id, assignment)`. Cheaper
    /// than [`Consumer::status`] (no positions), for invariants checked every quantum.
    pub fn membership(&self) -> (i32, &str, &[TopicPartition]) {
        (self.generation_id, &self.member_id, &self.assignment)
    }

    fn request(&mut self, now: Instant) -> Request {
        self.next_correlation_id += 1;
        Request { correlation_id: self.next_correlation_id, sent_at: now }
    }

    fn subscribed(&self) -> bool {
        self.manual.is_empty()
    }

    /// Whether `poll()` would commit once `auto.commit.interval.ms` is up: auto commit is on
    /// and the application leaves committing to it, and the consumer has a group to commit to
    /// (a member while it holds a generation, a consumer with `assign()` always). The timer
    /// is a wake-up only while this holds: a consumer still finding its coordinator or joining
    /// has an expired timer it cannot act on, and waking for it would spin.
    fn may_auto_commit(&self) -> bool {
        let has_group = if self.subscribed() {
            self.generation_id >= 0 && matches!(self.phase, Phase::Stable | Phase::Joining | Phase::Syncing)
        } else {
            true
        };
        self.config.enable_auto_commit && self.commit_mode == CommitMode::Auto && has_group
    }

    /// Whether a heartbeat goes out once `heartbeat.interval.ms` is up: a member of a
    /// generation, stable or syncing, with no heartbeat in flight and a known coordinator.
    fn may_heartbeat(&self) -> bool {
        self.subscribed()
            && matches!(self.phase, Phase::Stable | Phase::Syncing)
            && self.generation_id >= 0
            && self.heartbeat.is_none()
            && self.coordinator.is_some()
    }

    fn is_static(&self) -> bool {
        self.config.group_instance_id.is_some()
    }

    /// How long the outstanding coordinator request may take: JoinGroup is held by the
    /// coordinator for up to the rebalance timeout, so it gets that plus a margin (as Kafka's
    /// client does); FindCoordinator goes to another broker quickly.
    fn group_request_limit(&self) -> Duration {
        match self.phase {
            Phase::FindingCoordinator => DISCOVERY_TIMEOUT,
            Phase::Joining => Duration::from_millis(self.config.max_poll_interval_ms) + Duration::from_millis(5000),
            _ => REQUEST_TIMEOUT,
        }
    }

    /// A heartbeat unanswered for a whole session means the coordinator is gone.
    fn heartbeat_limit(&self) -> Duration {
        REQUEST_TIMEOUT.min(Duration::from_millis(self.config.session_timeout_ms))
    }

    fn bootstrap_broker(&self) -> NodeId {
        self.bootstrap[self.bootstrap_index % self.bootstrap.len()]
    }

    fn find_coordinator(&mut self, now: Instant) {
        self.phase = Phase::FindingCoordinator;
        self.coordinator = None;
        if now < self.retry_at || self.group_request.is_some() {
            return;
        }
        let request = self.request(now);
        let to = self.bootstrap_broker();
        self.outbox.send(
            to,
            Message::FindCoordinator { correlation_id: request.correlation_id, group_id: self.group_id.to_string() },
        );
        self.group_request = Some(request);
    }

    /// Drops partitions: their positions, buffered records and pending resets.
    fn drop_partitions(&mut self, partitions: &[TopicPartition]) {
        self.assignment.retain(|tp| !partitions.contains(tp));
        for tp in partitions {
            self.positions.remove(tp);
            self.position_epochs.remove(tp);
            self.awaiting_validation.remove(tp);
            self.resets.remove(tp);
            self.unsent_seeks.remove(tp);
            self.buffered.remove(tp);
            self.committed_positions.remove(tp);
            self.needs_offset.remove(tp);
        }
    }

    /// The member is no longer in the group as it thought: its partitions are lost, not
    /// revoked, since it can no longer commit for them (`onPartitionsLost`, KIP-429).
    fn lose_partitions(&mut self, reason: &str) {
        if !self.assignment.is_empty() {
            self.outbox.event(Event::PartitionsLost {
                consumer: self.client_id.clone(),
                group: self.group_id.clone(),
                partitions: self.assignment.clone(),
                reason: reason.to_string(),
            });
        }
        let all = self.assignment.clone();
        self.drop_partitions(&all);
        self.pending_assignment = None;
        self.offset_fetch = None;
    }

    /// Resets the membership after a fatal or fencing error from the coordinator.
    fn reset_generation(&mut self, forget_member_id: bool) {
        self.generation_id = -1;
        if forget_member_id {
            self.member_id.clear();
        }
    }

    /// `onJoinPrepare` and the JoinGroup request. Eager members commit (with auto commit) and
    /// revoke everything first; cooperative members keep what they own and report it.
    fn prepare_rejoin(&mut self, now: Instant) {
        self.rejoin_needed = false;
        if self.generation_id < 0 && !self.assignment.is_empty() {
            self.lose_partitions("the member lost its generation");
        }
        if self.protocol == RebalanceProtocol::Eager {
            if self.config.enable_auto_commit && self.generation_id >= 0 && self.has_uncommitted() {
                self.phase = Phase::CommittingBeforeJoin;
                self.send_commit(now, CommitKind::BeforeJoin, None);
                if self.commit.is_some() {
                    return;
                }
            }
            return self.prepare_rejoin_after_commit(now);
        } else if self.config.enable_auto_commit && self.generation_id >= 0 {
            self.send_commit(now, CommitKind::Async, None);
        }
        self.join(now);
    }

    /// A commit ended (answered or timed out) while an eager member waits to rejoin: after its
    /// own commit it goes on; after an earlier auto commit it sends its own first.
    fn continue_join_prepare(&mut self, now: Instant, finished: CommitKind) {
        if self.phase != Phase::CommittingBeforeJoin || self.commit.is_some() {
            return;
        }
        if finished != CommitKind::BeforeJoin && self.has_uncommitted() {
            self.send_commit(now, CommitKind::BeforeJoin, None);
            if self.commit.is_some() {
                return;
            }
        }
        self.prepare_rejoin_after_commit(now);
    }

    /// The rest of an eager `onJoinPrepare` once the commit before it is done: revoke every
    /// partition, remember them for the sticky assignors, and join.
    fn prepare_rejoin_after_commit(&mut self, now: Instant) {
        if !self.assignment.is_empty() {
            self.outbox.event(Event::PartitionsRevoked {
                consumer: self.client_id.clone(),
                group: self.group_id.clone(),
                partitions: self.assignment.clone(),
            });
        }
        self.previous_assignment = (self.assignment.clone(), self.generation_id);
        let all = self.assignment.clone();
        self.drop_partitions(&all);
        self.offset_fetch = None;
        self.join(now);
    }

    fn join(&mut self, now: Instant) {
        let Some(coordinator) = self.coordinator else { return self.find_coordinator(now) };
        self.phase = Phase::Joining;
        let request = self.request(now);
        let (owned_partitions, generation_id) = match self.protocol {
            RebalanceProtocol::Cooperative => (self.assignment.clone(), self.generation_id),
            RebalanceProtocol::Eager => self.previous_assignment.clone(),
        };
        self.outbox.send(
            coordinator,
            Message::JoinGroup {
                correlation_id: request.correlation_id,
                group_id: self.group_id.to_string(),
                member_id: self.member_id.clone(),
                client_id: self.client_id.to_string(),
                session_timeout_ms: self.config.session_timeout_ms,
                rebalance_timeout_ms: self.config.max_poll_interval_ms,
                group_instance_id: self.config.group_instance_id.clone(),
                protocols: self.config.partition_assignment_strategy.iter().map(|a| a.name().to_string()).collect(),
                subscription: Subscription { topics: self.topics.clone(), owned_partitions, generation_id },
            },
        );
        self.group_request = Some(request);
    }

    fn has_uncommitted(&self) -> bool {
        self.positions.iter().any(|(tp, pos)| self.committed_positions.get(tp) != Some(pos))
    }

    /// Sends an OffsetCommit of `offsets`, or of every changed position when `None`.
    fn send_commit(&mut self, now: Instant, kind: CommitKind, offsets: Option<Vec<(TopicPartition, i64)>>) {
        let Some(coordinator) = self.coordinator else { return };
        if self.commit.is_some() || self.group_id.is_empty() {
            return;
        }
        let offsets: Vec<(TopicPartition, i64)> = offsets.unwrap_or_else(|| {
            self.positions
                .iter()
                .filter(|(tp, pos)| self.committed_positions.get(*tp) != Some(*pos))
                .map(|(tp, pos)| (tp.clone(), *pos))
                .collect()
        });
        if offsets.is_empty() && kind != CommitKind::Sync {
            return;
        }
        let request = self.request(now);
        self.outbox.send(
            coordinator,
            Message::OffsetCommit {
                correlation_id: request.correlation_id,
                group_id: self.group_id.to_string(),
                generation_id: if self.subscribed() { self.generation_id } else { -1 },
                member_id: if self.subscribed() { self.member_id.clone() } else { String::new() },
                group_instance_id: self.config.group_instance_id.clone(),
                offsets: offsets.clone(),
            },
        );
        self.commit = Some(InFlightCommit { request, kind, offsets });
    }

    /// `commitSync()` of the current positions of owned partitions. A member that is not in
    /// a stable generation fails at once, as Kafka's `CommitFailedException` does.
    fn commit_sync(&mut self, now: Instant) {
        let offsets: Vec<(TopicPartition, i64)> = self.positions.iter().map(|(tp, o)| (tp.clone(), *o)).collect();
        if self.subscribed() && (self.generation_id < 0 || self.member_id.is_empty()) {
            self.outbox.event(Event::CommitFailed {
                consumer: self.client_id.clone(),
                group: self.group_id.clone(),
                error: ErrorCode::UnknownMemberId,
                offsets,
            });
            self.commit_sync_done(now);
            return;
        }
        self.pending_sync_commit = Some(offsets);
        self.flush_sync_commit(now);
    }

    fn flush_sync_commit(&mut self, now: Instant) {
        if self.commit.is_some() || self.coordinator.is_none() {
            return;
        }
        if let Some(offsets) = self.pending_sync_commit.take() {
            self.send_commit(now, CommitKind::Sync, Some(offsets));
        }
    }

    /// The application's `commitSync()` returned (or threw).
    fn commit_sync_done(&mut self, now: Instant) {
        match self.app {
            App::CommittingBefore => {
                self.app = App::Processing;
                self.schedule_processing(now);
            }
            App::CommittingAfter => self.app = App::Polling,
            App::Polling | App::Processing => {}
        }
    }

    fn coordinator_lost(&mut self, now: Instant) {
        self.heartbeat = None;
        if let Some(InFlightCommit { kind: CommitKind::Sync, offsets, .. }) = self.commit.take() {
            // `commitSync()` retries against the next coordinator.
            self.pending_sync_commit = Some(offsets);
        }
        self.group_request = None;
        self.offset_fetch = None;
        self.retry_at = now + RETRY_BACKOFF;
        self.find_coordinator(now);
    }

    fn assign_as_leader(&self, protocol: &str, members: &[JoinedMember]) -> BTreeMap<String, Vec<TopicPartition>> {
        let subscriptions: Vec<MemberSubscription> = members
            .iter()
            .map(|m| MemberSubscription {
                member_id: m.member_id.clone(),
                group_instance_id: m.group_instance_id.clone(),
                topics: m.subscription.topics.clone(),
                owned_partitions: m.subscription.owned_partitions.clone(),
                generation: (m.subscription.generation_id >= 0).then_some(m.subscription.generation_id),
            })
            .collect();
        let assignor = Assignor::from_name(protocol).expect("the coordinator selects an assignor every member offers");
        assignor.assign(&subscriptions, &self.partition_counts)
    }

    /// When the next metadata request goes out, none being in flight: as soon as the backoff
    /// allows when one is wanted, else at the periodic refresh, and never before the backoff (a
    /// refresh that timed out waits for it). The wake-up and the request both follow this, so
    /// the consumer is never woken for a request it may not send yet.
    fn metadata_due(&self) -> Instant {
        if self.metadata_wanted {
            self.metadata_retry_at
        } else {
            self.next_metadata.max(self.metadata_retry_at)
        }
    }

    fn request_metadata(&mut self, now: Instant) {
        if self.metadata.is_some() || now < self.metadata_retry_at {
            return;
        }
        let request = self.request(now);
        let to = self.bootstrap_broker();
        let mut topics = self.topics.clone();
        topics.extend(self.manual.iter().map(|tp| tp.topic.to_string()));
        topics.dedup();
        self.outbox.send(to, Message::Metadata { correlation_id: request.correlation_id, topics });
        self.metadata = Some(request);
    }

    fn send_fetches(&mut self, now: Instant) {
        if self.assignment.is_empty() {
            return;
        }
        let mut by_leader: BTreeMap<NodeId, Vec<FetchPartition>> = BTreeMap::new();
        self.send_validations(now);
        for tp in &self.assignment {
            let Some(position) = self.positions.get(tp) else { continue };
            // Like Kafka's fetcher, a partition with records still buffered is not fetched.
            if self.awaiting_validation.contains(tp) || self.buffered.get(tp).is_some_and(|b| !b.is_empty()) {
                continue;
            }
            match self.leaders.get(tp) {
                Some((Some(leader), epoch)) => by_leader.entry(*leader).or_default().push(FetchPartition {
                    tp: tp.clone(),
                    current_leader_epoch: *epoch,
                    fetch_offset: *position,
                    last_fetched_epoch: -1,
                }),
                _ => self.metadata_wanted = true,
            }
        }
        for (leader, mut partitions) in by_leader {
            if let Some((r, _)) = self.fetches.get(&leader) {
                if now.saturating_since(r.sent_at) < REQUEST_TIMEOUT {
                    continue;
                }
                // Unanswered: the leader's view of the session is unknown, so start a new one.
                if let Some(session) = self.fetch_sessions.get_mut(&leader) {
                    session.handle_error();
                }
            }
            let request = self.request(now);
            // A session compares partitions in partition order; the leader answers in it.
            partitions.sort_by(|a, b| a.tp.cmp(&b.tp));
            let offsets = partitions.iter().map(|p| (p.tp.clone(), p.fetch_offset)).collect();
            let sessions = self.era.incremental_fetch_sessions;
            let fetch = self
                .fetch_sessions
                .entry(leader)
                .or_insert_with(|| FetchSessionHandler::new(sessions))
                .build(partitions);
            self.outbox.send(
                leader,
                Message::Fetch {
                    correlation_id: request.correlation_id,
                    replica_id: CONSUMER_REPLICA_ID,
                    broker_epoch: -1,
                    max_wait_ms: self.config.fetch_max_wait_ms,
                    metadata: fetch.metadata,
                    partitions: fetch.partitions,
                    forgotten_topics_data: fetch.forgotten_topics_data,
                },
            );
            self.fetches.insert(leader, (request, offsets));
        }
    }

    /// Asks each partition's new leader where the epoch of the consumer's position ends
    /// (KIP-320, `OffsetsForLeaderEpoch` with replica id -1), one request per leader at a time.
    fn send_validations(&mut self, now: Instant) {
        let mut by_leader: BTreeMap<NodeId, Vec<(TopicPartition, i32, i32)>> = BTreeMap::new();
        for tp in &self.awaiting_validation {
            let (Some((Some(leader), current)), Some(epoch)) = (self.leaders.get(tp), self.position_epochs.get(tp))
            else {
                continue;
            };
            by_leader.entry(*leader).or_default().push((tp.clone(), *current, *epoch));
        }
        for (leader, partitions) in by_leader {
            if self.validations.get(&leader).is_some_and(|r| now.saturating_since(r.sent_at) < REQUEST_TIMEOUT) {
                continue;
            }
            let request = self.request(now);
            self.outbox.send(
                leader,
                Message::OffsetsForLeaderEpoch {
                    correlation_id: request.correlation_id,
                    replica_id: CONSUMER_REPLICA_ID,
                    partitions,
                },
            );
            self.validations.insert(leader, request);
        }
    }

    /// Applies the leader's answers to a position validation (`SubscriptionState.maybeCompleteValidation`):
    /// when the epoch of the position ends below the position, the log was truncated under the
    /// consumer (an unclean election). With a reset policy the consumer moves back to the
    /// divergence point; with `auto.offset.reset=none` the application gets
    /// `LogTruncationException` and the simulated one stops reading the partition.
    fn handle_validation(&mut self, from: NodeId, correlation_id: u64, answers: Vec<EpochEndOffset>) {
        if self.validations.get(&from).map(|r| r.correlation_id) != Some(correlation_id) {
            return;
        }
        self.validations.remove(&from);
        for answer in answers {
            let tp = answer.tp.clone();
            if !self.awaiting_validation.contains(&tp) {
                continue;
            }
            if answer.error.is_some() {
                self.metadata_wanted = true;
                continue;
            }
            self.awaiting_validation.remove(&tp);
            let Some(position) = self.positions.get(&tp).copied() else { continue };
            if answer.end_offset < 0 || answer.end_offset >= position {
                continue;
            }
            let reset = self.config.auto_offset_reset != AutoOffsetReset::None;
            self.outbox.event(Event::LogTruncationDetected {
                consumer: self.client_id.clone(),
                tp: tp.clone(),
                position,
                divergence_offset: answer.end_offset,
                reset,
            });
            self.buffered.remove(&tp);
            if reset {
                self.positions.insert(tp.clone(), answer.end_offset);
                self.position_epochs.insert(tp, answer.leader_epoch);
            } else {
                self.positions.remove(&tp);
                self.position_epochs.remove(&tp);
            }
        }
    }

    /// Looks an offset up with ListOffsets: for `auto.offset.reset` (`how` = `None`) or for a
    /// seek.
    fn list_offset(&mut self, now: Instant, tp: TopicPartition, timestamp: i64, how: Option<String>) {
        let Some((Some(leader), _)) = self.leaders.get(&tp).cloned() else {
            self.metadata_wanted = true;
            if let Some(how) = how {
                self.unsent_seeks.insert(tp, (timestamp, how));
            }
            return;
        };
        if self.resets.contains_key(&tp) {
            return;
        }
        self.unsent_seeks.remove(&tp);
        let request = self.request(now);
        self.outbox
            .send(leader, Message::ListOffsets { correlation_id: request.correlation_id, tp: tp.clone(), timestamp });
        self.resets.insert(tp, (request, how, leader, timestamp));
    }

    /// A ListOffsets that will not be answered (its connection broke, it timed out) or failed:
    /// an `auto.offset.reset` is asked again by [`Self::find_positions`]; a seek waits in
    /// `unsent_seeks` for its retry. Either way the leader may have moved.
    fn list_offset_failed(&mut self, tp: TopicPartition, how: Option<String>, timestamp: i64) {
        self.metadata_wanted = true;
        if let Some(how) = how {
            if self.assignment.contains(&tp) {
                self.unsent_seeks.insert(tp, (timestamp, how));
            }
        }
    }

    fn reset_offset(&mut self, now: Instant, tp: TopicPartition) {
        let timestamp = match self.config.auto_offset_reset {
            AutoOffsetReset::Earliest => EARLIEST_TIMESTAMP,
            AutoOffsetReset::Latest => LATEST_TIMESTAMP,
            // `NoOffsetForPartitionException`: the application must seek; the simulated one
            // leaves the partition unconsumed until a scripted seek.
            AutoOffsetReset::None => return,
        };
        self.list_offset(now, tp, timestamp, None);
    }

    /// Applies a scripted seek to the partitions it names that this consumer owns.
    fn apply_seek(&mut self, now: Instant, seek: Seek) {
        let owned = |tp: &Option<TopicPartition>| -> Vec<TopicPartition> {
            self.assignment.iter().filter(|a| tp.as_ref().is_none_or(|t| t == *a)).cloned().collect()
        };
        let (targets, timestamp, how): (Vec<TopicPartition>, i64, &str) = match &seek {
            Seek::Beginning(tp) => (owned(tp), EARLIEST_TIMESTAMP, "seekToBeginning"),
            Seek::End(tp) => (owned(tp), LATEST_TIMESTAMP, "seekToEnd"),
            Seek::Timestamp(ms) => (owned(&None), *ms, "offsetsForTimes"),
            Seek::Offset(tp, offset) => {
                if !self.assignment.contains(tp) {
                    return;
                }
                self.buffered.remove(tp);
                self.position_epochs.remove(tp);
                self.awaiting_validation.remove(tp);
                self.resets.remove(tp);
                self.unsent_seeks.remove(tp);
                self.positions.insert(tp.clone(), *offset);
                self.outbox.event(Event::Seeked {
                    consumer: self.client_id.clone(),
                    tp: tp.clone(),
                    offset: *offset,
                    how: "seek".into(),
                });
                return;
            }
        };
        for tp in targets {
            self.buffered.remove(&tp);
            self.position_epochs.remove(&tp);
            self.awaiting_validation.remove(&tp);
            self.resets.remove(&tp);
            self.list_offset(now, tp, timestamp, Some(how.to_string()));
        }
    }

    /// A leader's answer to a fetch (Kafka's `AbstractFetch.handleFetchSuccess`): the records
    /// of each partition still wanted from the offset it was fetched from go to its buffer.
    /// After a session error nothing is used, and the next fetch is a full one. In a session,
    /// the partitions left out had nothing new.
    fn handle_fetch_response(
        &mut self,
        from: NodeId,
        correlation_id: u64,
        error: Option<ErrorCode>,
        session_id: i32,
        partitions: Vec<FetchPartitionResponse>,
    ) {
        if self.fetches.get(&from).map(|(r, _)| r.correlation_id) != Some(correlation_id) {
            return;
        }
        let (_, fetched_from) = self.fetches.remove(&from).expect("checked");
        if let Some(session) = self.fetch_sessions.get_mut(&from) {
            if !session.handle_response(error, session_id, &partitions) {
                return;
            }
        }
        for response in partitions {
            let tp = response.tp.clone();
            let Some(position) = self.positions.get(&tp).copied() else { continue };
            // Data fetched from an offset the consumer has since left (a seek, a reset, a
            // truncation) is dropped, as Kafka's fetcher drops a completed fetch whose offset no
            // longer matches the position.
            if fetched_from.get(&tp) != Some(&position) {
                continue;
            }
            if self.buffered.get(&tp).is_some_and(|b| !b.is_empty()) || self.resets.contains_key(&tp) {
                continue;
            }
            match response.error {
                Some(ErrorCode::OffsetOutOfRange) => {
                    // KIP-320's consumer side: the position is gone (truncated or deleted).
                    self.positions.remove(&tp);
                    continue;
                }
                Some(_) => {
                    self.metadata_wanted = true;
                    continue;
                }
                None => {}
            }
            let buffer = self.buffered.entry(tp.clone()).or_default();
            for batch in &response.batches {
                let leader_epoch = batch.partition_leader_epoch();
                batch.for_each_send_id(batch.index_at_or_after(position), |offset, id| {
                    let id = id.map_or(SendId::const_new("(tombstone)"), SendId::new);
                    buffer.push_back(Fetched { offset, id, leader_epoch });
                });
            }
            // The position moves past whole batches, not just past their last surviving record:
            // compaction can leave a batch whose last offsets are gone (Kafka's fetcher uses
            // `batch.nextOffset()` the same way). With nothing left to return, it moves now.
            if buffer.is_empty() {
                if let Some(last) =
                    response.batches.iter().filter(|b| b.next_offset() > position).max_by_key(|b| b.next_offset())
                {
                    self.positions.insert(tp.clone(), last.next_offset());
                    self.position_epochs.insert(tp, last.partition_leader_epoch());
                }
            } else if let Some(last) =
                response.batches.iter().filter(|b| b.next_offset() > position).max_by_key(|b| b.next_offset())
            {
                // Remember where the fetched batches end, so the position can skip compacted
                // gaps once the buffer drains.
                buffer.push_back(Fetched { offset: last.next_offset(), id: SendId::default(), leader_epoch: -1 });
            }
        }
    }

    /// Applies an assignment from SyncGroup on the application thread (`onJoinComplete`).
    fn apply_assignment(&mut self, now: Instant, assignment: Vec<TopicPartition>) {
        let owned = self.assignment.clone();
        let revoked: Vec<TopicPartition> = owned.iter().filter(|tp| !assignment.contains(tp)).cloned().collect();
        let added: Vec<TopicPartition> = assignment.iter().filter(|tp| !owned.contains(tp)).cloned().collect();
        self.outbox.event(Event::AssignmentReceived {
            consumer: self.client_id.clone(),
            group: self.group_id.clone(),
            generation_id: self.generation_id,
            partitions: assignment.clone(),
        });
        if !revoked.is_empty() {
            // Only a cooperative member still owns partitions here: it revokes what moves,
            // committing it first when auto commit is on, and rejoins so the next generation
            // can hand the partitions to their new owners (KIP-429).
            if self.config.enable_auto_commit {
                let offsets: Vec<(TopicPartition, i64)> = revoked
                    .iter()
                    .filter_map(|tp| self.positions.get(tp).map(|o| (tp.clone(), *o)))
                    .filter(|(tp, o)| self.committed_positions.get(tp) != Some(o))
                    .collect();
                if !offsets.is_empty() {
                    self.send_commit(now, CommitKind::Async, Some(offsets));
                }
            }
            self.outbox.event(Event::PartitionsRevoked {
                consumer: self.client_id.clone(),
                group: self.group_id.clone(),
                partitions: revoked.clone(),
            });
            self.drop_partitions(&revoked);
            self.rejoin_needed = true;
        }
        self.assignment = assignment;
        self.outbox.event(Event::PartitionsAssigned {
            consumer: self.client_id.clone(),
            group: self.group_id.clone(),
            generation_id: self.generation_id,
            partitions: added.clone(),
        });
        self.needs_offset.extend(added);
        self.find_positions(now);
    }

    /// Looks up committed offsets (OffsetFetch) for owned partitions without a position, or
    /// resets them by `auto.offset.reset` when the consumer has no group or nothing was committed.
    fn find_positions(&mut self, now: Instant) {
        let pending = |tp: &TopicPartition| {
            self.positions.contains_key(tp) || self.resets.contains_key(tp) || self.unsent_seeks.contains_key(tp)
        };
        if self.assignment.iter().all(pending) {
            return;
        }
        let unknown: Vec<TopicPartition> = self.assignment.iter().filter(|tp| !pending(tp)).cloned().collect();
        let mut lookup = Vec::new();
        for tp in unknown {
            if self.needs_offset.contains(&tp) && !self.group_id.is_empty() {
                lookup.push(tp);
            } else {
                self.reset_offset(now, tp);
            }
        }
        if lookup.is_empty() || self.offset_fetch.is_some() {
            return;
        }
        let Some(c) = self.coordinator else { return };
        let request = self.request(now);
        self.outbox.send(
            c,
            Message::OffsetFetch {
                correlation_id: request.correlation_id,
                group_id: self.group_id.to_string(),
                partitions: lookup,
            },
        );
        self.offset_fetch = Some(request);
    }

    /// The heartbeat thread's poll-timeout check (`HeartbeatThread`, "consumer poll timeout
    /// has expired"): a dynamic member sends LeaveGroup; a static one just stops; both forget
    /// their generation and rejoin at the next poll.
    fn check_poll_timeout(&mut self, now: Instant) {
        if self.app == App::Polling || !self.subscribed() || self.generation_id < 0 {
            return;
        }
        let limit = Duration::from_millis(self.config.max_poll_interval_ms);
        let since = now.saturating_since(self.last_poll);
        if since < limit {
            return;
        }
        self.outbox.event(Event::PollTimeoutExpired {
            consumer: self.client_id.clone(),
            group: self.group_id.clone(),
            max_poll_interval_ms: self.config.max_poll_interval_ms,
            since_poll_ms: since.as_millis() as u64,
        });
        if !self.is_static() {
            self.send_leave_group(now);
        }
        self.reset_generation(!self.is_static());
        self.heartbeat = None;
        self.group_request = None;
        self.phase = Phase::Left;
        self.rejoin_needed = true;
    }

    /// LeaveGroup to the coordinator, if one is known (dynamic members only; static members
    /// leave by session expiry, KIP-345).
    fn send_leave_group(&mut self, now: Instant) {
        let Some(c) = self.coordinator else { return };
        let request = self.request(now);
        self.outbox.send(
            c,
            Message::LeaveGroup {
                correlation_id: request.correlation_id,
                group_id: self.group_id.to_string(),
                member_id: self.member_id.clone(),
            },
        );
    }

    /// Completes records whose processing time is over, and what follows the last one.
    fn advance_processing(&mut self, now: Instant) {
        let mut done: BTreeMap<TopicPartition, Vec<SendIdAt>> = BTreeMap::new();
        // Records wait for `commitSync()` before processing starts (at-most-once).
        if self.app == App::Processing {
            // A poll queues its records partition by partition, so the records due come in runs
            // of one partition: each run is counted, then moved in one go.
            while let Some(first) = self.processing.front().filter(|r| r.done_at <= now) {
                let run = self.processing.iter().take_while(|r| r.done_at <= now && r.tp == first.tp).count();
                let tp = first.tp.clone();
                let records = done.entry(tp).or_insert_with(|| Vec::with_capacity(run));
                records.extend(self.processing.drain(..run).map(|r| (r.offset, r.id)));
            }
        }
        for (tp, records) in done {
            self.processed += records.len() as u64;
            self.outbox.event(Event::Processed {
                consumer: self.client_id.clone(),
                group: self.group_id.clone(),
                tp,
                records,
            });
        }
        if self.app == App::Processing && self.processing.is_empty() {
            if self.commit_mode == CommitMode::AfterProcessing {
                self.app = App::CommittingAfter;
                self.commit_sync(now);
            } else {
                self.app = App::Polling;
            }
        }
    }

    fn schedule_processing(&mut self, now: Instant) {
        let mut at = now;
        for r in self.processing.iter_mut() {
            at = at + self.processing_per_record;
            r.done_at = at;
        }
        self.advance_processing(now);
    }

    /// One call of `poll()` by the application, when it is in its poll loop.
    fn app_poll(&mut self, now: Instant) {
        if self.app != App::Polling || self.phase == Phase::Failed {
            return;
        }
        self.last_poll = now;
        if let Some(assignment) = self.pending_assignment.take() {
            self.apply_assignment(now, assignment);
        }
        if self.subscribed() && (self.rejoin_needed || self.phase == Phase::Left) && self.coordinator.is_some() {
            if matches!(self.phase, Phase::Stable | Phase::Left) {
                self.prepare_rejoin(now);
            }
        } else if self.subscribed() && self.phase == Phase::Left {
            self.find_coordinator(now);
        }
        if self.may_auto_commit() && now >= self.next_auto_commit {
            self.next_auto_commit = now + Duration::from_millis(self.config.auto_commit_interval_ms);
            self.send_commit(now, CommitKind::Async, None);
        }
        if self.phase == Phase::CommittingBeforeJoin {
            // An eager member's poll blocks in `onJoinPrepare` until its commit returns.
            return;
        }
        // Hand out at most max.poll.records, partition by partition, rotating the starting
        // partition between polls so that no partition starves.
        if self.buffered.values().all(VecDeque::is_empty) {
            // Nothing fetched: poll() keeps waiting. This is the common case on every step, so
            // it allocates nothing.
            return;
        }
        let mut budget = self.config.max_poll_records as usize;
        let owned: Vec<TopicPartition> = self.assignment.clone();
        if owned.is_empty() {
            return;
        }
        let mut returned: Vec<(TopicPartition, Vec<SendIdAt>)> = Vec::new();
        for i in 0..owned.len() {
            if budget == 0 {
                break;
            }
            let tp = &owned[(self.poll_cursor + i) % owned.len()];
            let Some(position) = self.positions.get(tp).copied() else { continue };
            let Some(buffer) = self.buffered.get_mut(tp) else { continue };
            // At most the budget, and at most what is buffered (less its end-of-batches markers):
            // room made once, not grown record by record.
            let mut records = Vec::with_capacity(budget.min(buffer.len()));
            let mut new_position = position;
            let mut epoch = None;
            while budget > 0 {
                let Some(front) = buffer.front() else { break };
                if front.id.is_empty() {
                    // The end-of-batches marker: skip to it once every record before it is out.
                    new_position = new_position.max(front.offset);
                    buffer.pop_front();
                    continue;
                }
                let r = buffer.pop_front().expect("checked");
                new_position = r.offset + 1;
                epoch = Some(r.leader_epoch);
                records.push((r.offset, r.id));
                budget -= 1;
            }
            if buffer.front().is_some_and(|f| f.id.is_empty()) {
                new_position = new_position.max(buffer.pop_front().expect("checked").offset);
            }
            if buffer.is_empty() && buffer.capacity() > DRAINED_BUFFER_CAPACITY {
                // Kafka's fetcher drops a `CompletedFetch` once drained; a catch-up fetch's
                // room is given back here the same way instead of being held for the run.
                buffer.shrink_to(DRAINED_BUFFER_CAPACITY);
            }
            self.positions.insert(tp.clone(), new_position);
            if let Some(e) = epoch {
                self.position_epochs.insert(tp.clone(), e);
            }
            if !records.is_empty() {
                returned.push((tp.clone(), records));
            }
        }
        self.poll_cursor = (self.poll_cursor + 1) % owned.len();
        if returned.is_empty() {
            return;
        }
        for (tp, records) in returned {
            self.polled += records.len() as u64;
            for (offset, id) in &records {
                self.processing.push_back(InProcess { tp: tp.clone(), offset: *offset, id: id.clone(), done_at: now });
            }
            self.outbox.event(Event::Polled { consumer: self.client_id.clone(), tp, records });
        }
        if self.commit_mode == CommitMode::BeforeProcessing {
            self.app = App::CommittingBefore;
            self.commit_sync(now);
        } else {
            self.app = App::Processing;
            self.schedule_processing(now);
        }
    }

    fn handle_group_error(&mut self, now: Instant, error: ErrorCode, in_join: bool) {
        match error {
            ErrorCode::UnknownMemberId => {
                self.lose_partitions("the coordinator does not know the member (UNKNOWN_MEMBER_ID)");
                self.reset_generation(true);
                self.join(now);
            }
            ErrorCode::IllegalGeneration => {
                self.lose_partitions("its generation is stale (ILLEGAL_GENERATION)");
                self.reset_generation(false);
                self.join(now);
            }
            ErrorCode::FencedInstanceId | ErrorCode::InconsistentGroupProtocol => {
                // Fatal in Kafka: the application gets the exception and stops consuming.
                self.lose_partitions(if error == ErrorCode::FencedInstanceId {
                    "another member took its group.instance.id (FENCED_INSTANCE_ID)"
                } else {
                    "it shares no assignor with the group (INCONSISTENT_GROUP_PROTOCOL)"
                });
                self.phase = Phase::Failed;
            }
            ErrorCode::NotCoordinator | ErrorCode::CoordinatorNotAvailable => {
                // A join or sync round that failed this way is not over: the member joins the
                // next coordinator (`joinGroupIfNeeded` keeps going until a join succeeds).
                if in_join {
                    self.rejoin_needed = true;
                }
                self.coordinator_lost(now)
            }
            _ if in_join => self.join(now),
            _ => self.rejoin_needed = true,
        }
    }
}

impl Node for Consumer {
    fn handle_message(&mut self, now: Instant, from: NodeId, message: Message) {
        let matches = |r: &Option<Request>, c: u64| r.as_ref().map(|r| r.correlation_id) == Some(c);
        match message {
            Message::MetadataResponse { correlation_id, partitions, .. } => {
                if !matches(&self.metadata, correlation_id) {
                    return;
                }
                self.metadata = None;
                self.metadata_wanted = false;
                self.next_metadata = now + METADATA_MAX_AGE;
                self.metadata_retry_at = now + RETRY_BACKOFF;
                for p in partitions {
                    let count = self.partition_counts.entry(p.tp.topic.to_string()).or_insert(0);
                    *count = (*count).max(p.tp.partition + 1);
                    let previous = self.leaders.insert(p.tp.clone(), (p.leader, p.leader_epoch));
                    // KIP-320: a new leader epoch may mean the log was truncated under the
                    // position, so validate before fetching on.
                    if self.era.fetch_epoch_fencing
                        && previous.is_some_and(|(_, epoch)| epoch != p.leader_epoch)
                        && self.position_epochs.contains_key(&p.tp)
                    {
                        self.awaiting_validation.insert(p.tp.clone());
                    }
                }
                let wanted =
                    self.topics.iter().map(String::as_str).chain(self.manual.iter().map(|tp| tp.topic.as_str()));
                if wanted.into_iter().any(|t| !self.partition_counts.contains_key(t)) {
                    // Not created yet: ask again after `retry.backoff.ms`.
                    self.metadata_wanted = true;
                }
            }
            Message::FindCoordinatorResponse { correlation_id, error, coordinator } => {
                if !matches(&self.group_request, correlation_id) {
                    return;
                }
                self.group_request = None;
                match (error, coordinator) {
                    (None, Some(c)) => {
                        self.coordinator = Some(c);
                        if self.phase == Phase::FindingCoordinator {
                            if !self.subscribed() {
                                self.phase = Phase::Stable;
                            } else if self.generation_id >= 0 && !self.rejoin_needed {
                                // The coordinator moved: the member keeps its generation and
                                // heartbeats to the new one, which loaded the group from the log.
                                self.phase = Phase::Stable;
                                self.next_heartbeat = now;
                            } else if !self.rejoin_needed {
                                self.join(now);
                            } else {
                                self.phase = Phase::Stable;
                            }
                        }
                        self.flush_sync_commit(now);
                    }
                    _ => {
                        self.retry_at = now + RETRY_BACKOFF;
                        self.bootstrap_index += 1;
                    }
                }
            }
            Message::JoinGroupResponse {
                correlation_id,
                error,
                generation_id,
                protocol,
                leader,
                member_id,
                members,
                ..
            } => {
                if !matches(&self.group_request, correlation_id) {
                    return;
                }
                self.group_request = None;
                match error {
                    Some(ErrorCode::MemberIdRequired) => {
                        self.member_id = member_id;
                        self.join(now);
                    }
                    Some(error) => self.handle_group_error(now, error, true),
                    None => {
                        self.member_id = member_id;
                        self.generation_id = generation_id;
                        self.phase = Phase::Syncing;
                        let assignments = if leader == self.member_id && !members.is_empty() {
                            self.assign_as_leader(&protocol, &members)
                        } else {
                            BTreeMap::new()
                        };
                        let request = self.request(now);
                        if let Some(c) = self.coordinator {
                            self.outbox.send(
                                c,
                                Message::SyncGroup {
                                    correlation_id: request.correlation_id,
                                    group_id: self.group_id.to_string(),
                                    generation_id,
                                    member_id: self.member_id.clone(),
                                    group_instance_id: self.config.group_instance_id.clone(),
                                    assignments,
                                },
                            );
                        }
                        self.group_request = Some(request);
                        self.next_heartbeat = now + Duration::from_millis(self.config.heartbeat_interval_ms);
                    }
                }
            }
            Message::SyncGroupResponse { correlation_id, error, assignment } => {
                if !matches(&self.group_request, correlation_id) {
                    return;
                }
                self.group_request = None;
                match error {
                    Some(error) => self.handle_group_error(now, error, true),
                    None => {
                        self.phase = Phase::Stable;
                        self.next_auto_commit = now + Duration::from_millis(self.config.auto_commit_interval_ms);
                        self.pending_assignment = Some(assignment);
                    }
                }
            }
            Message::OffsetFetchResponse { correlation_id, error, offsets } => {
                if !matches(&self.offset_fetch, correlation_id) {
                    return;
                }
                self.offset_fetch = None;
                if error.is_some() {
                    return self.coordinator_lost(now);
                }
                for (tp, offset) in offsets {
                    if !self.assignment.contains(&tp) || self.positions.contains_key(&tp) {
                        continue;
                    }
                    self.needs_offset.remove(&tp);
                    if offset >= 0 {
                        self.positions.insert(tp.clone(), offset);
                        self.position_epochs.remove(&tp);
                        self.committed_positions.insert(tp, offset);
                    } else {
                        self.reset_offset(now, tp);
                    }
                }
            }
            Message::ListOffsetsResponse { correlation_id, tp, error, offset } => {
                if self.resets.get(&tp).map(|(r, ..)| r.correlation_id) != Some(correlation_id) {
                    return;
                }
                let (_, how, _, timestamp) = self.resets.remove(&tp).expect("checked");
                if error.is_some() || !self.assignment.contains(&tp) {
                    self.list_offset_failed(tp, how, timestamp);
                    return;
                }
                match how {
                    Some(how) => self.outbox.event(Event::Seeked {
                        consumer: self.client_id.clone(),
                        tp: tp.clone(),
                        offset,
                        how,
                    }),
                    None => {
                        let policy = match self.config.auto_offset_reset {
                            AutoOffsetReset::Earliest => "earliest",
                            AutoOffsetReset::Latest => "latest",
                            AutoOffsetReset::None => "none",
                        };
                        self.outbox.event(Event::OffsetReset {
                            consumer: self.client_id.clone(),
                            tp: tp.clone(),
                            offset,
                            policy: policy.into(),
                        });
                    }
                }
                self.position_epochs.remove(&tp);
                self.buffered.remove(&tp);
                self.positions.insert(tp, offset);
            }
            Message::FetchResponse { correlation_id, error, session_id, partitions } => {
                self.handle_fetch_response(from, correlation_id, error, session_id, partitions);
            }
            Message::OffsetsForLeaderEpochResponse { correlation_id, partitions } => {
                self.handle_validation(from, correlation_id, partitions);
            }
            Message::HeartbeatResponse { correlation_id, error } => {
                if !matches(&self.heartbeat, correlation_id) {
                    return;
                }
                self.heartbeat = None;
                if self.phase != Phase::Stable {
                    return;
                }
                match error {
                    None => {}
                    // The heartbeat thread only flags the rebalance; the application's next
                    // poll rejoins, which is why a slow poll loop delays a whole group.
                    Some(ErrorCode::RebalanceInProgress) => self.rejoin_needed = true,
                    Some(error) => self.handle_group_error(now, error, false),
                }
            }
            Message::OffsetCommitResponse { correlation_id, error, offsets } => {
                let Some(InFlightCommit { request, kind, offsets: sent }) = self.commit.take() else { return };
                if request.correlation_id != correlation_id {
                    self.commit = Some(InFlightCommit { request, kind, offsets: sent });
                    return;
                }
                match error {
                    None => {
                        for (tp, offset) in offsets {
                            self.committed_positions.insert(tp, offset);
                        }
                        if kind == CommitKind::Sync {
                            self.commit_sync_done(now);
                        }
                    }
                    Some(ErrorCode::NotCoordinator | ErrorCode::CoordinatorNotAvailable) => {
                        if kind == CommitKind::Sync {
                            self.pending_sync_commit = Some(sent);
                        }
                        self.coordinator_lost(now);
                    }
                    Some(error) => {
                        if kind == CommitKind::Sync {
                            self.outbox.event(Event::CommitFailed {
                                consumer: self.client_id.clone(),
                                group: self.group_id.clone(),
                                error,
                                offsets: sent,
                            });
                            self.commit_sync_done(now);
                        }
                        if matches!(error, ErrorCode::UnknownMemberId | ErrorCode::IllegalGeneration) {
                            self.rejoin_needed = true;
                        }
                    }
                }
                self.continue_join_prepare(now, kind);
            }
            Message::LeaveGroupResponse { .. } => {}
            other => panic!("consumer {} got a message it never expects: {}", self.client_id, other.api_name()),
        }
        self.handle_timeout(now);
    }

    fn handle_disconnect(&mut self, now: Instant, peer: NodeId) {
        if now < self.start {
            return;
        }
        if let Some(session) = self.fetch_sessions.get_mut(&peer) {
            session.handle_error();
        }
        if self.fetches.remove(&peer).is_some() || self.validations.remove(&peer).is_some() {
            self.metadata_wanted = true;
        }
        let lost: Vec<TopicPartition> =
            self.resets.iter().filter(|(_, (.., leader, _))| *leader == peer).map(|(tp, _)| tp.clone()).collect();
        for tp in lost {
            let (_, how, _, timestamp) = self.resets.remove(&tp).expect("listed");
            self.list_offset_failed(tp, how, timestamp);
        }
        if self.bootstrap_broker() == peer {
            if self.metadata.take().is_some() {
                self.bootstrap_index += 1;
            }
            if self.phase == Phase::FindingCoordinator && self.group_request.take().is_some() {
                self.bootstrap_index += 1;
            }
        }
        if self.coordinator == Some(peer) {
            if self.phase == Phase::Joining || self.phase == Phase::Syncing {
                // The join round died with the coordinator; rejoin at the new one.
                self.rejoin_needed = true;
            }
            self.coordinator_lost(now);
        }
        self.handle_timeout(now);
    }

    fn handle_timeout(&mut self, now: Instant) {
        if now < self.start || self.phase == Phase::Failed {
            return;
        }
        if let Some(r) = &self.metadata {
            if now.saturating_since(r.sent_at) >= DISCOVERY_TIMEOUT {
                self.metadata = None;
                self.bootstrap_index += 1;
                self.metadata_retry_at = now + RETRY_BACKOFF;
            }
        }
        if now >= self.metadata_due() {
            self.request_metadata(now);
        }
        if self.phase == Phase::Idle {
            if self.group_id.is_empty() {
                self.phase = Phase::Stable;
            } else {
                self.find_coordinator(now);
            }
            if !self.subscribed() && self.assignment.is_empty() {
                self.pending_assignment = Some(self.manual.clone());
            }
        }
        // A coordinator request without an answer: FindCoordinator goes to another broker;
        // the others mean the coordinator is unreachable.
        if let Some(r) = &self.group_request {
            if now.saturating_since(r.sent_at) >= self.group_request_limit() {
                if matches!(self.phase, Phase::Joining | Phase::Syncing) {
                    self.rejoin_needed = true;
                }
                self.group_request = None;
                self.bootstrap_index += 1;
                self.coordinator_lost(now);
            }
        } else if self.phase == Phase::FindingCoordinator {
            self.find_coordinator(now);
        }
        if self.commit.as_ref().is_some_and(|c| now.saturating_since(c.request.sent_at) >= REQUEST_TIMEOUT) {
            let InFlightCommit { kind, offsets: sent, .. } = self.commit.take().expect("checked");
            if kind == CommitKind::Sync {
                self.pending_sync_commit = Some(sent);
            }
            self.continue_join_prepare(now, kind);
        }
        self.flush_sync_commit(now);
        if self.offset_fetch.as_ref().is_some_and(|r| now.saturating_since(r.sent_at) >= REQUEST_TIMEOUT) {
            self.coordinator_lost(now);
        }
        let expired: Vec<TopicPartition> = self
            .resets
            .iter()
            .filter(|(_, (r, ..))| now.saturating_since(r.sent_at) >= REQUEST_TIMEOUT)
            .map(|(tp, _)| tp.clone())
            .collect();
        for tp in expired {
            let (_, how, _, timestamp) = self.resets.remove(&tp).expect("listed");
            self.list_offset_failed(tp, how, timestamp);
        }
        for (tp, (timestamp, how)) in std::mem::take(&mut self.unsent_seeks) {
            if self.assignment.contains(&tp) {
                self.list_offset(now, tp, timestamp, Some(how));
            }
        }
        let heartbeat_interval = Duration::from_millis(self.config.heartbeat_interval_ms);
        if let Some(r) = &self.heartbeat {
            if now.saturating_since(r.sent_at) >= self.heartbeat_limit() {
                self.coordinator_lost(now);
            }
        }
        self.check_poll_timeout(now);
        if self.may_heartbeat() && now >= self.next_heartbeat {
            if let Some(c) = self.coordinator {
                let request = self.request(now);
                self.outbox.send(
                    c,
                    Message::Heartbeat {
                        correlation_id: request.correlation_id,
                        group_id: self.group_id.to_string(),
                        generation_id: self.generation_id,
                        member_id: self.member_id.clone(),
                        group_instance_id: self.config.group_instance_id.clone(),
                    },
                );
                self.heartbeat = Some(request);
                self.next_heartbeat = now + heartbeat_interval;
            }
        }
        while self.seeks.front().is_some_and(|(at, _)| *at <= now) {
            let (_, seek) = self.seeks.pop_front().expect("checked");
            self.apply_seek(now, seek);
        }
        self.advance_processing(now);
        // The application calls poll() again as soon as it has processed what the last call
        // returned: with no processing time and records still buffered (a small
        // max.poll.records), that is in the same instant, not at the consumer's next wake-up.
        loop {
            let polled = self.polled;
            self.app_poll(now);
            if self.polled == polled || self.app != App::Polling {
                break;
            }
        }
        self.find_positions(now);
        self.send_fetches(now);
        if self.metadata_wanted {
            self.request_metadata(now);
        }
    }

    fn shutdown(&mut self, now: Instant) {
        // `close()`: commit with auto commit on, then leave the group. A static member sends
        // no LeaveGroup, so its partitions wait for it for a session timeout (KIP-345).
        if self.config.enable_auto_commit && self.commit_mode == CommitMode::Auto {
            self.send_commit(now, CommitKind::Async, None);
        }
        if self.subscribed() && !self.is_static() && !self.member_id.is_empty() {
            self.send_leave_group(now);
        }
        if !self.assignment.is_empty() {
            self.outbox.event(Event::PartitionsRevoked {
                consumer: self.client_id.clone(),
                group: self.group_id.clone(),
                partitions: self.assignment.clone(),
            });
        }
        self.phase = Phase::Failed;
    }

    fn poll_effect(&mut self) -> Option<Effect> {
        self.outbox.poll_effect()
    }

    fn poll_event(&mut self) -> Option<Event> {
        self.outbox.poll_event()
    }

    fn poll_deadline(&self) -> Option<Instant> {
        if self.phase == Phase::Idle {
            return Some(self.start);
        }
        if self.phase == Phase::Failed {
            return None;
        }
        let mut next: Option<Instant> = None;
        let mut consider = |t: Instant| next = Some(next.map_or(t, |n| n.min(t)));
        match &self.metadata {
            Some(r) => consider(r.sent_at + DISCOVERY_TIMEOUT),
            None => consider(self.metadata_due()),
        }
        if let Some(r) = &self.group_request {
            consider(r.sent_at + self.group_request_limit());
        } else if self.phase == Phase::FindingCoordinator {
            consider(self.retry_at);
        }
        // A timer is a wake-up only while it can fire: an expired one the consumer cannot act
        // on would wake it every millisecond until something else changed.
        if self.may_heartbeat() {
            consider(self.next_heartbeat);
        }
        if self.may_auto_commit() && self.app == App::Polling {
            consider(self.next_auto_commit);
        }
        if self.app != App::Polling && self.generation_id >= 0 {
            consider(self.last_poll + Duration::from_millis(self.config.max_poll_interval_ms));
        }
        if let Some(r) = &self.heartbeat {
            consider(r.sent_at + self.heartbeat_limit());
        }
        if let Some(r) = self.processing.front().filter(|_| self.app == App::Processing) {
            consider(r.done_at);
        }
        if let Some((at, _)) = self.seeks.front() {
            consider(*at);
        }
        for r in self
            .fetches
            .values()
            .map(|(r, _)| r)
            .chain(self.offset_fetch.iter())
            .chain(self.commit.iter().map(|c| &c.request))
        {
            consider(r.sent_at + REQUEST_TIMEOUT);
        }
        for (r, ..) in self.resets.values() {
            consider(r.sent_at + REQUEST_TIMEOUT);
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::era::KafkaVersion;

    const ME: NodeId = NodeId(5000);
    const BROKER: NodeId = NodeId(1);

    fn subscriber() -> Consumer {
        Consumer::new(
            Instant::ZERO,
            ConsumerSetup {
                id: ME,
                client_id: "c".to_string(),
                group_id: "g".to_string(),
                topics: vec!["orders".to_string()],
                assign: Vec::new(),
                processing_ms_per_record: 0,
                commit: CommitMode::Auto,
                seeks: Vec::new(),
                config: ConsumerConfig::default(),
                start: Instant::ZERO,
                bootstrap: vec![BROKER],
                era: Era::of(KafkaVersion::V3_9),
            },
        )
    }

    /// The correlation ids of the metadata requests the consumer sent since the last call.
    fn metadata_requests(consumer: &mut Consumer) -> Vec<u64> {
        let mut sent = Vec::new();
        while let Some(effect) = consumer.poll_effect() {
            if let Effect::Send { message, .. } = effect {
                if let Message::Metadata { correlation_id, .. } = *message {
                    sent.push(correlation_id);
                }
            }
        }
        sent
    }

    /// A consumer whose topic does not exist yet asks again `retry.backoff.ms` after each
    /// answer, not the moment the answer arrives (Kafka's `Metadata.timeToAllowUpdate`), and
    /// asks to be woken for it.
    #[test]
    fn a_missing_topic_is_asked_for_again_after_the_retry_backoff() {
        let mut consumer = subscriber();
        consumer.handle_timeout(Instant::ZERO);
        let first = metadata_requests(&mut consumer);
        assert_eq!(first.len(), 1, "the first wake-up asks for metadata");
        let answered = Instant::ZERO + Duration::from_millis(7);
        let answer = Message::MetadataResponse { correlation_id: first[0], brokers: vec![BROKER], partitions: vec![] };
        consumer.handle_message(answered, BROKER, answer);
        consumer.handle_timeout(answered);
        assert_eq!(metadata_requests(&mut consumer), Vec::<u64>::new(), "asked again at once");
        let due = answered + RETRY_BACKOFF;
        assert!(consumer.poll_deadline().is_some_and(|d| d <= due), "no wake-up for the retry");
        consumer.handle_timeout(answered + (RETRY_BACKOFF - Duration::from_millis(1)));
        assert_eq!(metadata_requests(&mut consumer), Vec::<u64>::new(), "asked again before the backoff");
        consumer.handle_timeout(due);
        assert_eq!(metadata_requests(&mut consumer).len(), 1, "not asked again after the backoff");
    }

    /// A periodic metadata refresh (every `metadata.max.age.ms`) that goes unanswered is sent
    /// again, to the next broker, after `retry.backoff.ms`; the consumer does not ask to be
    /// woken before then, which would wake it every millisecond for nothing.
    #[test]
    fn an_unanswered_refresh_is_sent_again_after_the_retry_backoff() {
        let mut consumer = subscriber();
        consumer.handle_timeout(Instant::ZERO);
        let first = metadata_requests(&mut consumer);
        let orders = crate::metadata::PartitionState {
            tp: TopicPartition::new("orders", 0),
            replicas: vec![BROKER],
            isr: vec![BROKER],
            leader: Some(BROKER),
            leader_epoch: 0,
            partition_epoch: 0,
            adding_replicas: vec![],
            removing_replicas: vec![],
        };
        let answer =
            Message::MetadataResponse { correlation_id: first[0], brokers: vec![BROKER], partitions: vec![orders] };
        consumer.handle_message(Instant::ZERO + Duration::from_millis(7), BROKER, answer);
        let refresh = Instant::ZERO + Duration::from_millis(7) + METADATA_MAX_AGE;
        consumer.handle_timeout(refresh);
        assert_eq!(metadata_requests(&mut consumer).len(), 1, "no refresh after metadata.max.age.ms");
        let timed_out = refresh + DISCOVERY_TIMEOUT;
        consumer.handle_timeout(timed_out);
        assert_eq!(metadata_requests(&mut consumer), Vec::<u64>::new(), "asked again at once");
        let due = timed_out + RETRY_BACKOFF;
        let deadline = consumer.poll_deadline();
        assert!(deadline.is_some_and(|d| d > timed_out && d <= due), "woken at {deadline:?}, not by {due:?}");
        consumer.handle_timeout(due);
        assert_eq!(metadata_requests(&mut consumer).len(), 1, "not asked again after the backoff");
    }
}
