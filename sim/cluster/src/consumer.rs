//! The consumer client with the classic group protocol: find the coordinator, join, run the
//! range assignor when elected group leader, sync, fetch committed offsets (or reset by
//! `auto.offset.reset`), fetch records from partition leaders, heartbeat, and auto-commit
//! (apache/kafka: clients/.../consumer/internals/AbstractCoordinator.java,
//! ConsumerCoordinator.java, Fetcher.java).
//!
//! Rebalances are eager: before rejoining, the consumer commits its positions (when
//! `enable.auto.commit` is on) and gives up every partition.

use crate::assignor::{range_assign, MemberSubscription};
use crate::config::{AutoOffsetReset, ConsumerConfig};
use crate::era::Era;
use crate::error::ErrorCode;
use crate::event::Event;
use crate::ids::{NodeId, TopicPartition};
use crate::node::{Effect, Node, Outbox};
use crate::protocol::{
    EpochEndOffset, FetchPartition, FetchPartitionResponse, JoinedMember, Message, CONSUMER_REPLICA_ID,
    EARLIEST_TIMESTAMP, LATEST_TIMESTAMP,
};
use crate::time::Instant;
use core::time::Duration;
use std::collections::{BTreeMap, BTreeSet};

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
    /// Assigned and consuming.
    Stable,
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
        }
    }
}

/// A consumer's observable state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerStatus {
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
}

#[derive(Clone, Debug)]
struct Request {
    correlation_id: u64,
    sent_at: Instant,
}

/// A consumer node.
pub struct Consumer {
    client_id: String,
    group_id: String,
    topics: Vec<String>,
    config: ConsumerConfig,
    outbox: Outbox,
    start: Instant,
    bootstrap: Vec<NodeId>,
    bootstrap_index: usize,
    next_correlation_id: u64,
    phase: Phase,
    coordinator: Option<NodeId>,
    member_id: String,
    generation_id: i32,
    assignment: Vec<TopicPartition>,
    positions: BTreeMap<TopicPartition, i64>,
    committed_positions: BTreeMap<TopicPartition, i64>,
    leaders: BTreeMap<TopicPartition, (Option<NodeId>, i32)>,
    partition_counts: BTreeMap<String, i32>,
    group_request: Option<Request>,
    heartbeat: Option<Request>,
    commit: Option<Request>,
    offset_fetch: Option<Request>,
    metadata: Option<Request>,
    metadata_wanted: bool,
    next_metadata: Instant,
    resets: BTreeMap<TopicPartition, Request>,
    fetches: BTreeMap<NodeId, Request>,
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
    polled: u64,
}

impl Consumer {
    /// A consumer that starts at `setup.start`.
    pub fn new(now: Instant, setup: ConsumerSetup) -> Consumer {
        Consumer {
            client_id: setup.client_id,
            group_id: setup.group_id,
            topics: setup.topics,
            config: setup.config,
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
            positions: BTreeMap::new(),
            committed_positions: BTreeMap::new(),
            leaders: BTreeMap::new(),
            partition_counts: BTreeMap::new(),
            group_request: None,
            heartbeat: None,
            commit: None,
            offset_fetch: None,
            metadata: None,
            metadata_wanted: true,
            next_metadata: now,
            resets: BTreeMap::new(),
            fetches: BTreeMap::new(),
            era: setup.era,
            position_epochs: BTreeMap::new(),
            awaiting_validation: BTreeSet::new(),
            validations: BTreeMap::new(),
            retry_at: now,
            next_heartbeat: now,
            next_auto_commit: now,
            polled: 0,
        }
    }

    /// A cheap snapshot for views.
    pub fn status(&self) -> ConsumerStatus {
        ConsumerStatus {
            phase: self.phase,
            member_id: self.member_id.clone(),
            generation_id: self.generation_id,
            assignment: self.assignment.clone(),
            positions: self.positions.clone(),
            polled: self.polled,
        }
    }

    fn request(&mut self, now: Instant) -> Request {
        self.next_correlation_id += 1;
        Request { correlation_id: self.next_correlation_id, sent_at: now }
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
        if now < self.retry_at {
            return;
        }
        let request = self.request(now);
        let to = self.bootstrap_broker();
        self.outbox.send(
            to,
            Message::FindCoordinator { correlation_id: request.correlation_id, group_id: self.group_id.clone() },
        );
        self.group_request = Some(request);
    }

    /// Gives up the assignment (eager rebalance) and rejoins, committing first when auto commit
    /// is on so the next owner starts where this one stopped.
    fn prepare_rejoin(&mut self, now: Instant) {
        if self.config.enable_auto_commit && self.generation_id >= 0 && self.has_uncommitted() {
            self.phase = Phase::CommittingBeforeJoin;
            self.send_commit(now);
            if self.commit.is_some() {
                return;
            }
        }
        self.join(now);
    }

    fn join(&mut self, now: Instant) {
        self.assignment.clear();
        self.positions.clear();
        self.position_epochs.clear();
        self.awaiting_validation.clear();
        self.resets.clear();
        self.offset_fetch = None;
        let Some(coordinator) = self.coordinator else { return self.find_coordinator(now) };
        self.phase = Phase::Joining;
        let request = self.request(now);
        self.outbox.send(
            coordinator,
            Message::JoinGroup {
                correlation_id: request.correlation_id,
                group_id: self.group_id.clone(),
                member_id: self.member_id.clone(),
                client_id: self.client_id.clone(),
                session_timeout_ms: self.config.session_timeout_ms,
                rebalance_timeout_ms: self.config.max_poll_interval_ms,
                protocol: crate::group::PROTOCOL.to_string(),
                topics: self.topics.clone(),
            },
        );
        self.group_request = Some(request);
    }

    fn has_uncommitted(&self) -> bool {
        self.positions.iter().any(|(tp, pos)| self.committed_positions.get(tp) != Some(pos))
    }

    fn send_commit(&mut self, now: Instant) {
        let Some(coordinator) = self.coordinator else { return };
        if self.commit.is_some() {
            return;
        }
        let offsets: Vec<(TopicPartition, i64)> = self
            .positions
            .iter()
            .filter(|(tp, pos)| self.committed_positions.get(*tp) != Some(*pos))
            .map(|(tp, pos)| (tp.clone(), *pos))
            .collect();
        if offsets.is_empty() {
            return;
        }
        let request = self.request(now);
        self.outbox.send(
            coordinator,
            Message::OffsetCommit {
                correlation_id: request.correlation_id,
                group_id: self.group_id.clone(),
                generation_id: self.generation_id,
                member_id: self.member_id.clone(),
                offsets,
            },
        );
        self.commit = Some(request);
    }

    fn coordinator_lost(&mut self, now: Instant) {
        self.heartbeat = None;
        self.commit = None;
        self.retry_at = now + RETRY_BACKOFF;
        self.find_coordinator(now);
    }

    fn assign_as_leader(&self, members: &[JoinedMember]) -> BTreeMap<String, Vec<TopicPartition>> {
        let subscriptions: Vec<MemberSubscription> = members
            .iter()
            .map(|m| MemberSubscription {
                member_id: m.member_id.clone(),
                group_instance_id: m.group_instance_id.clone(),
                topics: m.topics.clone(),
                owned_partitions: Vec::new(),
                generation: None,
            })
            .collect();
        range_assign(&subscriptions, &self.partition_counts)
    }

    fn request_metadata(&mut self, now: Instant) {
        if self.metadata.is_some() {
            return;
        }
        let request = self.request(now);
        let to = self.bootstrap_broker();
        self.outbox.send(to, Message::Metadata { correlation_id: request.correlation_id, topics: self.topics.clone() });
        self.metadata = Some(request);
    }

    fn send_fetches(&mut self, now: Instant) {
        if self.phase != Phase::Stable {
            return;
        }
        let mut by_leader: BTreeMap<NodeId, Vec<FetchPartition>> = BTreeMap::new();
        self.send_validations(now);
        for tp in &self.assignment {
            let Some(position) = self.positions.get(tp) else { continue };
            if self.awaiting_validation.contains(tp) {
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
        for (leader, partitions) in by_leader {
            if self.fetches.get(&leader).is_some_and(|r| now.saturating_since(r.sent_at) < REQUEST_TIMEOUT) {
                continue;
            }
            let request = self.request(now);
            self.outbox.send(
                leader,
                Message::Fetch {
                    correlation_id: request.correlation_id,
                    replica_id: CONSUMER_REPLICA_ID,
                    broker_epoch: -1,
                    max_wait_ms: self.config.fetch_max_wait_ms,
                    partitions,
                },
            );
            self.fetches.insert(leader, request);
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
            if reset {
                self.positions.insert(tp.clone(), answer.end_offset);
                self.position_epochs.insert(tp, answer.leader_epoch);
            } else {
                self.positions.remove(&tp);
                self.position_epochs.remove(&tp);
            }
        }
    }

    fn reset_offset(&mut self, now: Instant, tp: TopicPartition) {
        let timestamp = match self.config.auto_offset_reset {
            AutoOffsetReset::Earliest => EARLIEST_TIMESTAMP,
            AutoOffsetReset::Latest => LATEST_TIMESTAMP,
            // `NoOffsetForPartitionException`: the application must seek; the simulated one
            // leaves the partition unconsumed.
            AutoOffsetReset::None => return,
        };
        let Some((Some(leader), _)) = self.leaders.get(&tp).cloned() else {
            self.metadata_wanted = true;
            return;
        };
        if self.resets.contains_key(&tp) {
            return;
        }
        let request = self.request(now);
        self.outbox
            .send(leader, Message::ListOffsets { correlation_id: request.correlation_id, tp: tp.clone(), timestamp });
        self.resets.insert(tp, request);
    }

    fn handle_fetch_response(
        &mut self,
        now: Instant,
        from: NodeId,
        correlation_id: u64,
        partitions: Vec<FetchPartitionResponse>,
    ) {
        if self.fetches.get(&from).map(|r| r.correlation_id) != Some(correlation_id) {
            return;
        }
        self.fetches.remove(&from);
        for response in partitions {
            let tp = response.tp.clone();
            let Some(position) = self.positions.get(&tp).copied() else { continue };
            match response.error {
                Some(ErrorCode::OffsetOutOfRange) => {
                    // KIP-320's consumer side: the position is gone (truncated or deleted).
                    self.positions.remove(&tp);
                    self.reset_offset(now, tp);
                    continue;
                }
                Some(_) => {
                    self.metadata_wanted = true;
                    continue;
                }
                None => {}
            }
            let mut records = Vec::new();
            for batch in &response.batches {
                for record in &batch.records {
                    let offset = batch.base_offset + i64::from(record.offset_delta);
                    if offset < position {
                        continue;
                    }
                    let id = record
                        .header(crate::ID_HEADER)
                        .map(str::to_string)
                        .unwrap_or_else(|| record.value.as_deref().unwrap_or("(tombstone)").to_string());
                    records.push((offset, id));
                }
            }
            // The position moves past whole batches, not just past their last surviving record:
            // compaction can leave a batch whose last offsets are gone (Kafka's fetcher uses
            // `batch.nextOffset()` the same way).
            if let Some(last) =
                response.batches.iter().filter(|b| b.next_offset() > position).max_by_key(|b| b.next_offset())
            {
                self.positions.insert(tp.clone(), last.next_offset());
                self.position_epochs.insert(tp.clone(), last.partition_leader_epoch);
            }
            if !records.is_empty() {
                self.polled += records.len() as u64;
                self.outbox.event(Event::Polled { consumer: self.client_id.clone(), tp, records });
            }
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
                for p in partitions {
                    let count = self.partition_counts.entry(p.tp.topic.clone()).or_insert(0);
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
                if self.topics.iter().any(|t| !self.partition_counts.contains_key(t)) {
                    self.metadata_wanted = true;
                    self.next_metadata = now + RETRY_BACKOFF;
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
                            self.join(now);
                        }
                    }
                    _ => {
                        self.retry_at = now + RETRY_BACKOFF;
                        self.bootstrap_index += 1;
                    }
                }
            }
            Message::JoinGroupResponse { correlation_id, error, generation_id, leader, member_id, members, .. } => {
                if !matches(&self.group_request, correlation_id) {
                    return;
                }
                self.group_request = None;
                match error {
                    Some(ErrorCode::MemberIdRequired) => {
                        self.member_id = member_id;
                        self.join(now);
                    }
                    Some(ErrorCode::UnknownMemberId) => {
                        self.member_id.clear();
                        self.join(now);
                    }
                    Some(ErrorCode::NotCoordinator | ErrorCode::CoordinatorNotAvailable) => self.coordinator_lost(now),
                    Some(_) => self.join(now),
                    None => {
                        self.member_id = member_id;
                        self.generation_id = generation_id;
                        self.phase = Phase::Syncing;
                        let assignments =
                            if leader == self.member_id { self.assign_as_leader(&members) } else { BTreeMap::new() };
                        let request = self.request(now);
                        if let Some(c) = self.coordinator {
                            self.outbox.send(
                                c,
                                Message::SyncGroup {
                                    correlation_id: request.correlation_id,
                                    group_id: self.group_id.clone(),
                                    generation_id,
                                    member_id: self.member_id.clone(),
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
                    Some(ErrorCode::UnknownMemberId) => {
                        self.member_id.clear();
                        self.join(now);
                    }
                    Some(ErrorCode::NotCoordinator | ErrorCode::CoordinatorNotAvailable) => self.coordinator_lost(now),
                    Some(_) => self.join(now),
                    None => {
                        self.phase = Phase::Stable;
                        self.assignment = assignment.clone();
                        self.committed_positions.clear();
                        self.next_auto_commit = now + Duration::from_millis(self.config.auto_commit_interval_ms);
                        self.outbox.event(Event::AssignmentReceived {
                            consumer: self.client_id.clone(),
                            group: self.group_id.clone(),
                            generation_id: self.generation_id,
                            partitions: assignment.clone(),
                        });
                        if !assignment.is_empty() {
                            let request = self.request(now);
                            if let Some(c) = self.coordinator {
                                self.outbox.send(
                                    c,
                                    Message::OffsetFetch {
                                        correlation_id: request.correlation_id,
                                        group_id: self.group_id.clone(),
                                        partitions: assignment,
                                    },
                                );
                            }
                            self.offset_fetch = Some(request);
                        }
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
                    if !self.assignment.contains(&tp) {
                        continue;
                    }
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
                if self.resets.get(&tp).map(|r| r.correlation_id) != Some(correlation_id) {
                    return;
                }
                self.resets.remove(&tp);
                if error.is_some() || !self.assignment.contains(&tp) {
                    self.metadata_wanted = true;
                    return;
                }
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
                self.position_epochs.remove(&tp);
                self.positions.insert(tp, offset);
            }
            Message::FetchResponse { correlation_id, partitions } => {
                self.handle_fetch_response(now, from, correlation_id, partitions);
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
                    Some(ErrorCode::RebalanceInProgress) => self.prepare_rejoin(now),
                    Some(ErrorCode::UnknownMemberId) => {
                        self.member_id.clear();
                        self.generation_id = -1;
                        self.join(now);
                    }
                    Some(ErrorCode::IllegalGeneration) => {
                        self.generation_id = -1;
                        self.join(now);
                    }
                    Some(_) => self.coordinator_lost(now),
                }
            }
            Message::OffsetCommitResponse { correlation_id, error, offsets } => {
                if !matches(&self.commit, correlation_id) {
                    return;
                }
                self.commit = None;
                if error.is_none() {
                    for (tp, offset) in offsets {
                        self.committed_positions.insert(tp, offset);
                    }
                } else if matches!(error, Some(ErrorCode::NotCoordinator | ErrorCode::CoordinatorNotAvailable)) {
                    self.coordinator = None;
                }
                if self.phase == Phase::CommittingBeforeJoin {
                    self.join(now);
                }
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
        if self.fetches.remove(&peer).is_some() || self.validations.remove(&peer).is_some() {
            self.metadata_wanted = true;
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
            // Group state is not kept across coordinators yet, so the member looks the new
            // one up and joins again; its committed offsets survive in `__consumer_offsets`.
            self.group_request = None;
            self.offset_fetch = None;
            self.coordinator_lost(now);
        }
        self.handle_timeout(now);
    }

    fn handle_timeout(&mut self, now: Instant) {
        if now < self.start {
            return;
        }
        if let Some(r) = &self.metadata {
            if now.saturating_since(r.sent_at) >= DISCOVERY_TIMEOUT {
                self.metadata = None;
                self.bootstrap_index += 1;
            }
        }
        if self.metadata_wanted || now >= self.next_metadata {
            self.request_metadata(now);
        }
        if self.phase == Phase::Idle {
            self.find_coordinator(now);
        }
        // A coordinator request without an answer: FindCoordinator goes to another broker;
        // the others mean the coordinator is unreachable.
        if let Some(r) = &self.group_request {
            if now.saturating_since(r.sent_at) >= self.group_request_limit() {
                self.group_request = None;
                self.bootstrap_index += 1;
                self.coordinator_lost(now);
            }
        } else if self.phase == Phase::FindingCoordinator {
            self.find_coordinator(now);
        }
        if self.commit.as_ref().is_some_and(|r| now.saturating_since(r.sent_at) >= REQUEST_TIMEOUT) {
            self.commit = None;
            if self.phase == Phase::CommittingBeforeJoin {
                self.join(now);
            }
        }
        if self.offset_fetch.as_ref().is_some_and(|r| now.saturating_since(r.sent_at) >= REQUEST_TIMEOUT) {
            self.coordinator_lost(now);
        }
        self.resets.retain(|_, r| now.saturating_since(r.sent_at) < REQUEST_TIMEOUT);
        let heartbeat_interval = Duration::from_millis(self.config.heartbeat_interval_ms);
        if let Some(r) = &self.heartbeat {
            if now.saturating_since(r.sent_at) >= self.heartbeat_limit() {
                self.coordinator_lost(now);
            }
        }
        if matches!(self.phase, Phase::Stable | Phase::Syncing)
            && self.heartbeat.is_none()
            && now >= self.next_heartbeat
        {
            if let Some(c) = self.coordinator {
                let request = self.request(now);
                self.outbox.send(
                    c,
                    Message::Heartbeat {
                        correlation_id: request.correlation_id,
                        group_id: self.group_id.clone(),
                        generation_id: self.generation_id,
                        member_id: self.member_id.clone(),
                    },
                );
                self.heartbeat = Some(request);
                self.next_heartbeat = now + heartbeat_interval;
            }
        }
        if self.phase == Phase::Stable && self.config.enable_auto_commit && now >= self.next_auto_commit {
            self.next_auto_commit = now + Duration::from_millis(self.config.auto_commit_interval_ms);
            self.send_commit(now);
        }
        if self.phase == Phase::Stable {
            let missing: Vec<TopicPartition> = self
                .assignment
                .iter()
                .filter(|tp| {
                    !self.positions.contains_key(*tp) && self.offset_fetch.is_none() && !self.resets.contains_key(*tp)
                })
                .cloned()
                .collect();
            for tp in missing {
                self.reset_offset(now, tp);
            }
        }
        self.send_fetches(now);
        if self.metadata_wanted {
            self.request_metadata(now);
        }
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
        let mut next: Option<Instant> = None;
        let mut consider = |t: Instant| next = Some(next.map_or(t, |n| n.min(t)));
        match &self.metadata {
            Some(r) => consider(r.sent_at + DISCOVERY_TIMEOUT),
            None => consider(self.next_metadata),
        }
        if let Some(r) = &self.group_request {
            consider(r.sent_at + self.group_request_limit());
        } else if self.phase == Phase::FindingCoordinator {
            consider(self.retry_at);
        }
        if matches!(self.phase, Phase::Stable | Phase::Syncing) && self.heartbeat.is_none() {
            consider(self.next_heartbeat);
        }
        if self.phase == Phase::Stable && self.config.enable_auto_commit {
            consider(self.next_auto_commit);
        }
        if let Some(r) = &self.heartbeat {
            consider(r.sent_at + self.heartbeat_limit());
        }
        for r in self.fetches.values().chain(self.commit.iter()).chain(self.offset_fetch.iter()) {
            consider(r.sent_at + REQUEST_TIMEOUT);
        }
        for r in self.resets.values() {
            consider(r.sent_at + REQUEST_TIMEOUT);
        }
        next
    }
}
