//! The KRaft controller: a voter of the metadata quorum that, while it leads, is the *active
//! controller* and decides broker liveness and partition leadership.
//!
//! It works the way Kafka's `QuorumController` does (apache/kafka: metadata/.../controller/
//! QuorumController.java, ReplicationControlManager.java, ClusterControlManager.java):
//!
//! - It becomes active only once its Raft epoch has committed an entry, so everything its
//!   predecessors committed is in its image; it stops being active the moment it loses the
//!   leadership, and then rebuilds its image from committed records only.
//! - Every decision is a metadata record appended through Raft. Answers that depend on a record
//!   (a registration's broker epoch, an `AlterPartition` result) are sent only when the record
//!   is committed, as Kafka completes its controller futures at the high watermark.
//! - Brokers register and heartbeat; a broker whose session expires is fenced and removed from
//!   leaderships and ISRs. Heartbeat timing is soft state, so a new active controller gives
//!   every broker a fresh session (KIP-631).
//! - Leaders are elected cleanly from the ISR in assignment order, or, with
//!   `unclean.leader.election.enable`, from any live replica when no ISR member is left.
//!   Partition leaders change the ISR through `AlterPartition` (KIP-497). Preferred leaders are
//!   restored every `leader.imbalance.check.interval.seconds` with
//!   `auto.leader.rebalance.enable`, and replicas move with `AlterPartitionReassignments`
//!   (KIP-455).
//!
//! Every other voter is a standby controller: it replicates the log and keeps a committed image,
//! and answers controller requests with `NOT_CONTROLLER`.

use crate::config::BrokerConfig;
use crate::era::Era;
use crate::error::ErrorCode;
use crate::event::Event;
use crate::ids::{NodeId, TopicPartition};
use crate::metadata::{MetadataImage, MetadataRecord, PartitionState};
use crate::node::{Effect, Node, Outbox};
use crate::protocol::Message;
use crate::raft::{QuorumConfig, QuorumStatus, RaftClient};
use crate::time::Instant;
use core::time::Duration;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

/// A topic the controller creates once enough brokers have joined.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicToCreate {
    /// Topic name.
    pub name: String,
    /// Number of partitions.
    pub partitions: i32,
    /// Replicas per partition (at most the number of brokers).
    pub replication_factor: i32,
    /// Effective `min.insync.replicas`.
    pub min_insync_replicas: i32,
    /// Whether the topic is internal (`__consumer_offsets`).
    pub internal: bool,
    /// Config overrides by Kafka key, already validated.
    pub configs: BTreeMap<String, String>,
}

/// How long a fresh controller waits for every expected broker before creating topics with
/// whichever brokers have joined.
const TOPIC_CREATION_GRACE: Duration = Duration::from_secs(5);
/// How often broker sessions are checked for expiry.
const SESSION_CHECK_INTERVAL: Duration = Duration::from_millis(250);

#[derive(Clone, Debug)]
struct BrokerSession {
    broker_epoch: i64,
    last_heartbeat: Instant,
}

/// What a controller needs to start.
pub struct ControllerSetup {
    /// `node.id`.
    pub id: NodeId,
    /// The cluster's configs (quorum timing, session timeout, election settings).
    pub config: BrokerConfig,
    /// The quorum: voters and timing.
    pub quorum: QuorumConfig,
    /// Per-node PRNG.
    pub rng: ChaCha8Rng,
    /// The node's data directory (path → bytes): the metadata log and `quorum-state`.
    pub files: BTreeMap<String, Vec<u8>>,
    /// Brokers expected to register before topics are created.
    pub expected_brokers: Vec<NodeId>,
    /// Topics to create once the brokers are there (skipped when already in the log).
    pub topics: Vec<TopicToCreate>,
    /// The behaviour era (an ISR shrink bumps the leader epoch before Kafka 3.6, KAFKA-15021).
    pub era: Era,
}

/// The controller's observable state, for checkers and views.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControllerStatus {
    /// Records in the metadata log.
    pub metadata_log_end_offset: i64,
    /// Whether this controller is the active one.
    pub active: bool,
    /// The folded image (with uncommitted records on the active controller).
    pub image: MetadataImage,
}

/// One controller: a Raft voter, and the active controller while it leads.
pub struct Controller {
    id: NodeId,
    era: Era,
    config: BrokerConfig,
    rng: ChaCha8Rng,
    raft: RaftClient,
    outbox: Outbox,
    image: MetadataImage,
    /// Offsets below this are folded into `image`.
    applied: i64,
    /// The Raft epoch in which this controller is active.
    active: Option<i32>,
    sessions: BTreeMap<NodeId, BrokerSession>,
    expected_brokers: Vec<NodeId>,
    topics: Vec<TopicToCreate>,
    pending_topics: Vec<TopicToCreate>,
    activated_at: Instant,
    /// Answers waiting for the high watermark to pass an offset.
    pending_replies: Vec<(i64, NodeId, Message)>,
    next_session_check: Instant,
    next_imbalance_check: Instant,
}

impl Controller {
    /// Starts a controller from its disk: the metadata log is recovered and replayed as the
    /// quorum commits it.
    pub fn new(now: Instant, setup: ControllerSetup) -> Controller {
        let mut rng = setup.rng;
        let raft_rng = ChaCha8Rng::seed_from_u64(rng.gen());
        let raft = RaftClient::new(now, setup.id, setup.quorum, raft_rng, &setup.files);
        let mut controller = Controller {
            id: setup.id,
            config: setup.config,
            era: setup.era,
            rng,
            raft,
            outbox: Outbox::default(),
            image: MetadataImage::default(),
            applied: 0,
            active: None,
            sessions: BTreeMap::new(),
            expected_brokers: setup.expected_brokers,
            topics: setup.topics,
            pending_topics: Vec::new(),
            activated_at: now,
            pending_replies: Vec::new(),
            next_session_check: now + SESSION_CHECK_INTERVAL,
            next_imbalance_check: now,
        };
        controller.sync(now);
        controller
    }

    /// This controller's Raft replica.
    pub fn raft(&self) -> &RaftClient {
        &self.raft
    }

    /// The quorum state of this controller.
    pub fn quorum_status(&self) -> QuorumStatus {
        self.raft.status()
    }

    /// A cheap snapshot for checkers and views.
    pub fn status(&self) -> ControllerStatus {
        ControllerStatus {
            metadata_log_end_offset: self.raft.log_end_offset(),
            active: self.active.is_some(),
            image: self.image.clone(),
        }
    }

    /// Removes the messages queued for `to` (see [`crate::node::Outbox::take_sends_to`]).
    pub fn take_sends_to(&mut self, to: NodeId) -> Vec<Message> {
        self.outbox.take_sends_to(to)
    }

    /// Whether this controller is the active one.
    pub fn is_active(&self) -> bool {
        self.active.is_some()
    }

    /// Brings the image and the activity up to date with the Raft replica, after every input.
    fn sync(&mut self, now: Instant) {
        // The replica's own events (its role changes) come before what the controller makes
        // of them.
        self.raft.drain_into(&mut self.outbox);
        let ready = self.raft.is_leader_ready();
        if let Some(epoch) = self.active {
            if !ready || self.raft.epoch() != epoch {
                // Lost the leadership: uncommitted records may be gone. Start again from what
                // is committed, as Kafka's controller reverts to its last committed snapshot.
                self.active = None;
                self.pending_replies.clear();
                self.image = MetadataImage::default();
                self.applied = 0;
                self.outbox.event(Event::ControllerDeactivated { epoch });
            }
        }
        if self.active.is_none() {
            let hw = self.raft.high_watermark();
            self.fold(hw);
            if ready {
                self.activate(now);
            }
        }
        if self.active.is_some() {
            let hw = self.raft.high_watermark();
            let (due, later): (Vec<_>, Vec<_>) =
                std::mem::take(&mut self.pending_replies).into_iter().partition(|(offset, _, _)| *offset <= hw);
            self.pending_replies = later;
            for (_, to, message) in due {
                self.outbox.send(to, message);
            }
        }
        self.raft.drain_into(&mut self.outbox);
    }

    fn fold(&mut self, to: i64) {
        let entries = self.raft.entries();
        let to = to.min(entries.len() as i64);
        for (_, record) in &entries[self.applied.max(0) as usize..to.max(self.applied) as usize] {
            self.image.apply(record);
        }
        self.applied = self.applied.max(to);
    }

    fn activate(&mut self, now: Instant) {
        let leo = self.raft.log_end_offset();
        self.fold(leo);
        self.active = Some(self.raft.epoch());
        self.activated_at = now;
        // Heartbeat timing is soft state (KIP-631): a new active controller gives every known
        // broker a fresh session, so failover can delay fencing but never cause it.
        self.sessions = self
            .image
            .brokers
            .iter()
            .map(|(id, b)| (*id, BrokerSession { broker_epoch: b.broker_epoch, last_heartbeat: now }))
            .collect();
        self.pending_topics =
            self.topics.iter().filter(|t| !self.image.topics.contains_key(&t.name)).cloned().collect();
        self.next_session_check = now + SESSION_CHECK_INTERVAL;
        self.next_imbalance_check = now + Duration::from_secs(self.config.leader_imbalance_check_interval_seconds);
        self.outbox.event(Event::ControllerActivated { epoch: self.raft.epoch(), metadata_offset: leo });
        self.maybe_create_topics(now);
    }

    /// Appends a record as the active controller and folds it into the working image.
    /// Returns the offset after it: answers that depend on it wait for the high watermark.
    fn append(&mut self, now: Instant, record: MetadataRecord) -> i64 {
        self.image.apply(&record);
        let end = self.raft.append(now, vec![record]).expect("only the active controller appends, and it leads");
        self.applied = end;
        end
    }

    fn reply_when_committed(&mut self, offset: i64, to: NodeId, message: Message) {
        if offset <= self.raft.high_watermark() {
            self.outbox.send(to, message);
        } else {
            self.pending_replies.push((offset, to, message));
        }
    }

    fn is_unfenced(&self, broker: NodeId) -> bool {
        self.image.brokers.get(&broker).is_some_and(|b| !b.fenced)
    }

    fn unclean_allowed(&self, topic: &str) -> bool {
        self.image
            .topics
            .get(topic)
            .and_then(|t| t.configs.get("unclean.leader.election.enable"))
            .map_or(self.config.unclean_leader_election_enable, |v| v.trim().eq_ignore_ascii_case("true"))
    }

    /// Clean election (`PartitionChangeBuilder`): the first replica in assignment order that is
    /// in the ISR and unfenced.
    fn elect(&self, replicas: &[NodeId], isr: &[NodeId]) -> Option<NodeId> {
        replicas.iter().copied().find(|r| isr.contains(r) && self.is_unfenced(*r))
    }

    /// Elects a leader for `state` in place: cleanly from the ISR, or, when the topic allows it
    /// and no ISR member is alive, the first live replica with the ISR cut to it alone.
    /// Returns whether the election was unclean.
    fn elect_into(&self, state: &mut PartitionState) -> bool {
        state.leader = self.elect(&state.replicas, &state.isr);
        state.leader.is_none() && self.unclean_allowed(&state.tp.topic) && self.elect_unclean(state)
    }

    /// Unclean election (KIP-704's shape): the first live replica leads and the ISR is cut to
    /// it alone. Returns whether a live replica was found.
    fn elect_unclean(&self, state: &mut PartitionState) -> bool {
        let Some(live) = state.replicas.iter().copied().find(|r| self.is_unfenced(*r)) else { return false };
        state.leader = Some(live);
        state.isr = vec![live];
        true
    }

    fn maybe_create_topics(&mut self, now: Instant) {
        if self.pending_topics.is_empty() || self.active.is_none() {
            return;
        }
        let live: Vec<NodeId> = self.image.live_brokers();
        let everyone = self.expected_brokers.iter().all(|b| live.contains(b));
        let needed = self.pending_topics.iter().map(|t| t.replication_factor).max().unwrap_or(1);
        let grace_over = now.saturating_since(self.activated_at) >= TOPIC_CREATION_GRACE;
        if !(everyone || (grace_over && live.len() as i32 >= needed)) {
            return;
        }
        for topic in std::mem::take(&mut self.pending_topics) {
            self.create_topic(now, &live, topic);
        }
    }

    /// Places replicas round-robin from a random starting broker, so leaders spread over the
    /// brokers as with Kafka's rack-unaware placement, then elects the first replica of each.
    fn create_topic(&mut self, now: Instant, live: &[NodeId], topic: TopicToCreate) {
        let n = live.len();
        let rf = (topic.replication_factor as usize).min(n);
        let start = self.rng.gen_range(0..n);
        self.append(
            now,
            MetadataRecord::Topic {
                name: topic.name.clone(),
                partitions: topic.partitions,
                replication_factor: rf as i32,
                min_insync_replicas: topic.min_insync_replicas.min(rf as i32),
                internal: topic.internal,
                configs: topic.configs.clone(),
            },
        );
        self.outbox.event(Event::TopicCreated {
            topic: topic.name.clone(),
            partitions: topic.partitions,
            replication_factor: rf as i32,
        });
        for p in 0..topic.partitions {
            let replicas: Vec<NodeId> = (0..rf).map(|j| live[(start + p as usize + j) % n]).collect();
            let leader = replicas[0];
            let state = PartitionState {
                tp: TopicPartition::new(topic.name.clone(), p),
                replicas: replicas.clone(),
                isr: replicas.clone(),
                leader: Some(leader),
                leader_epoch: 0,
                partition_epoch: 0,
                adding_replicas: Vec::new(),
                removing_replicas: Vec::new(),
            };
            if !topic.internal {
                self.outbox.event(Event::LeaderElected {
                    tp: state.tp.clone(),
                    leader,
                    leader_epoch: 0,
                    isr: replicas,
                });
            }
            self.append(now, MetadataRecord::Partition(state));
        }
    }

    fn fence(&mut self, now: Instant, broker: NodeId, reason: &str) {
        if !self.is_unfenced(broker) {
            // Already fenced: registration never completed, nothing leads or follows here.
            return;
        }
        self.append(now, MetadataRecord::FenceBroker { broker_id: broker });
        self.outbox.event(Event::BrokerFenced { broker_id: broker, reason: reason.to_string() });
        // `handleBrokerFenced`: remove the broker from every ISR it can leave and move every
        // leadership it held.
        let affected: Vec<PartitionState> =
            self.image.partitions.values().filter(|p| p.replicas.contains(&broker)).cloned().collect();
        for mut state in affected {
            let in_isr = state.isr.contains(&broker);
            let was_leader = state.leader == Some(broker);
            if !in_isr && !was_leader {
                continue;
            }
            let old_isr = state.isr.clone();
            if in_isr && state.isr.len() > 1 {
                // The last ISR member stays, so a later clean election can still find it.
                state.isr.retain(|b| *b != broker);
            }
            let mut unclean = false;
            if was_leader {
                unclean = self.elect_into(&mut state);
                state.leader_epoch += 1;
            }
            state.partition_epoch += 1;
            self.report_change(&state, &old_isr, was_leader, unclean);
            self.append(now, MetadataRecord::Partition(state));
        }
    }

    fn report_change(&mut self, state: &PartitionState, old_isr: &[NodeId], leader_changed: bool, unclean: bool) {
        let internal = self.image.topics.get(state.tp.topic.as_str()).is_some_and(|t| t.internal);
        let removed: Vec<NodeId> = old_isr.iter().copied().filter(|b| !state.isr.contains(b)).collect();
        let added: Vec<NodeId> = state.isr.iter().copied().filter(|b| !old_isr.contains(b)).collect();
        if internal {
            return;
        }
        if !removed.is_empty() {
            self.outbox.event(Event::IsrShrunk {
                tp: state.tp.clone(),
                removed,
                isr: state.isr.clone(),
                partition_epoch: state.partition_epoch,
            });
        }
        if !added.is_empty() {
            self.outbox.event(Event::IsrExpanded {
                tp: state.tp.clone(),
                added,
                isr: state.isr.clone(),
                partition_epoch: state.partition_epoch,
            });
        }
        if leader_changed {
            match state.leader {
                Some(leader) if unclean => self.outbox.event(Event::UncleanLeaderElected {
                    tp: state.tp.clone(),
                    leader,
                    leader_epoch: state.leader_epoch,
                }),
                Some(leader) => self.outbox.event(Event::LeaderElected {
                    tp: state.tp.clone(),
                    leader,
                    leader_epoch: state.leader_epoch,
                    isr: state.isr.clone(),
                }),
                None => self.outbox.event(Event::PartitionOffline {
                    tp: state.tp.clone(),
                    leader_epoch: state.leader_epoch,
                    isr: state.isr.clone(),
                }),
            }
        }
    }

    fn unfence(&mut self, now: Instant, broker: NodeId) {
        self.append(now, MetadataRecord::UnfenceBroker { broker_id: broker });
        self.outbox.event(Event::BrokerUnfenced { broker_id: broker });
        // Offline partitions whose ISR holds this broker can be led again; with unclean
        // election allowed, any offline partition this broker replicates can.
        let offline: Vec<PartitionState> = self
            .image
            .partitions
            .values()
            .filter(|p| {
                p.leader.is_none()
                    && (p.isr.contains(&broker) || (p.replicas.contains(&broker) && self.unclean_allowed(&p.tp.topic)))
            })
            .cloned()
            .collect();
        for mut state in offline {
            let old_isr = state.isr.clone();
            let unclean = self.elect_into(&mut state);
            if state.leader.is_none() {
                continue;
            }
            state.leader_epoch += 1;
            state.partition_epoch += 1;
            self.report_change(&state, &old_isr, true, unclean);
            self.append(now, MetadataRecord::Partition(state));
        }
        self.maybe_create_topics(now);
    }

    #[allow(clippy::too_many_arguments)]
    fn alter_partition(
        &mut self,
        now: Instant,
        from: NodeId,
        correlation_id: u64,
        broker_epoch: i64,
        tp: TopicPartition,
        leader_epoch: i32,
        partition_epoch: i32,
        new_isr: Vec<NodeId>,
    ) {
        let reply = |this: &mut Controller, error: Option<ErrorCode>, state: Option<PartitionState>| {
            let message = Message::AlterPartitionResponse { correlation_id, tp: tp.clone(), error, state };
            this.outbox.send(from, message);
        };
        if self.sessions.get(&from).map(|s| s.broker_epoch) != Some(broker_epoch) {
            return reply(self, Some(ErrorCode::StaleBrokerEpoch), None);
        }
        let Some(current) = self.image.partitions.get(&tp).cloned() else {
            return reply(self, Some(ErrorCode::UnknownTopicOrPartition), None);
        };
        if current.leader != Some(from) || current.leader_epoch != leader_epoch {
            return reply(self, Some(ErrorCode::FencedLeaderEpoch), Some(current));
        }
        if current.partition_epoch != partition_epoch {
            return reply(self, Some(ErrorCode::InvalidUpdateVersion), Some(current));
        }
        let eligible =
            new_isr.iter().all(|b| current.replicas.contains(b) && (current.isr.contains(b) || self.is_unfenced(*b)));
        if !eligible || !new_isr.contains(&from) {
            return reply(self, Some(ErrorCode::IneligibleReplica), Some(current));
        }
        let mut state = current.clone();
        // Keep the ISR in assignment order so tables read the same as Kafka's.
        state.isr = current.replicas.iter().copied().filter(|b| new_isr.contains(b)).collect();
        state.partition_epoch += 1;
        if self.era.leader_epoch_bump_on_shrink && current.isr.iter().any(|b| !state.isr.contains(b)) {
            // Before metadata version 3.6-IV0 a shrink also started a new leader epoch, so
            // followers re-ran their truncation logic after every ISR change (KAFKA-15021).
            state.leader_epoch += 1;
        }
        self.report_change(&state, &current.isr, false, false);
        let mut end = self.append(now, MetadataRecord::Partition(state.clone()));
        if let Some((finished, offset)) = self.maybe_complete_reassignment(now, &state) {
            state = finished;
            end = offset;
        }
        let message =
            Message::AlterPartitionResponse { correlation_id, tp: tp.clone(), error: None, state: Some(state) };
        self.reply_when_committed(end, from, message);
    }

    /// KIP-455: once every adding replica is in the ISR, the removing ones leave the replica
    /// set and the ISR; a removed leader hands over to the first target replica in the ISR.
    fn maybe_complete_reassignment(&mut self, now: Instant, state: &PartitionState) -> Option<(PartitionState, i64)> {
        if state.adding_replicas.is_empty() && state.removing_replicas.is_empty() {
            return None;
        }
        if !state.adding_replicas.iter().all(|r| state.isr.contains(r)) {
            return None;
        }
        let mut next = state.clone();
        let removing = std::mem::take(&mut next.removing_replicas);
        next.adding_replicas.clear();
        next.replicas.retain(|r| !removing.contains(r));
        next.isr.retain(|r| !removing.contains(r));
        let leader_removed = next.leader.is_some_and(|l| removing.contains(&l));
        if leader_removed {
            next.leader = self.elect(&next.replicas, &next.isr);
            next.leader_epoch += 1;
        }
        next.partition_epoch += 1;
        self.report_change(&next, &state.isr, leader_removed, false);
        self.outbox.event(Event::ReassignmentCompleted { tp: next.tp.clone(), replicas: next.replicas.clone() });
        let end = self.append(now, MetadataRecord::Partition(next.clone()));
        Some((next, end))
    }

    fn reassign(&mut self, now: Instant, tp: &TopicPartition, target: Vec<NodeId>) -> Option<ErrorCode> {
        let Some(current) = self.image.partitions.get(tp).cloned() else {
            return Some(ErrorCode::UnknownTopicOrPartition);
        };
        if target.is_empty() || target.iter().any(|b| !self.image.brokers.contains_key(b)) {
            return Some(ErrorCode::IneligibleReplica);
        }
        // The original replicas are the current ones minus any reassignment in progress.
        let original: Vec<NodeId> =
            current.replicas.iter().copied().filter(|r| !current.adding_replicas.contains(r)).collect();
        let adding: Vec<NodeId> = target.iter().copied().filter(|r| !original.contains(r)).collect();
        let removing: Vec<NodeId> = original.iter().copied().filter(|r| !target.contains(r)).collect();
        let mut state = current.clone();
        // Kafka's `PartitionReassignmentReplicas`: target first, then the ones leaving.
        state.replicas = target.iter().copied().chain(removing.iter().copied()).collect();
        state.adding_replicas = adding.clone();
        state.removing_replicas = removing.clone();
        state.isr.retain(|r| state.replicas.contains(r));
        state.partition_epoch += 1;
        self.outbox.event(Event::ReassignmentStarted { tp: tp.clone(), adding, removing });
        self.append(now, MetadataRecord::Partition(state.clone()));
        self.maybe_complete_reassignment(now, &state);
        None
    }

    /// Preferred (or unclean) leader election for one partition (`kafka-leader-election.sh`).
    fn elect_leader(&mut self, now: Instant, tp: &TopicPartition, unclean: bool) -> Option<ErrorCode> {
        let Some(current) = self.image.partitions.get(tp).cloned() else {
            return Some(ErrorCode::UnknownTopicOrPartition);
        };
        let mut state = current.clone();
        let preferred = state.replicas[0];
        let mut was_unclean = false;
        if state.isr.contains(&preferred) && self.is_unfenced(preferred) {
            state.leader = Some(preferred);
        } else if unclean && state.leader.is_none() {
            was_unclean = self.elect_unclean(&mut state);
        }
        if state.leader == current.leader {
            return None;
        }
        state.leader_epoch += 1;
        state.partition_epoch += 1;
        self.report_change(&state, &current.isr, true, was_unclean);
        self.append(now, MetadataRecord::Partition(state));
        None
    }

    /// `auto.leader.rebalance.enable`: moves leadership back to each partition's preferred
    /// replica where it is in the ISR and unfenced (`maybeBalancePartitionLeaders`).
    fn balance_leaders(&mut self, now: Instant) {
        let imbalanced: Vec<TopicPartition> = self
            .image
            .partitions
            .values()
            .filter(|p| p.leader.is_some() && p.leader != Some(p.replicas[0]))
            .filter(|p| p.isr.contains(&p.replicas[0]) && self.is_unfenced(p.replicas[0]))
            .map(|p| p.tp.clone())
            .collect();
        for tp in imbalanced {
            self.elect_leader(now, &tp, false);
        }
    }

    fn not_controller(&self) -> Option<ErrorCode> {
        self.active.is_none().then_some(ErrorCode::NotController)
    }
}

impl Node for Controller {
    fn handle_message(&mut self, now: Instant, from: NodeId, message: Message) {
        let message = match self.raft_message(now, from, message) {
            None => {
                self.sync(now);
                return;
            }
            Some(m) => m,
        };
        match message {
            Message::BrokerRegistration { correlation_id, broker_id, incarnation } => {
                if let Some(error) = self.not_controller() {
                    let reply =
                        Message::BrokerRegistrationResponse { correlation_id, error: Some(error), broker_epoch: -1 };
                    self.outbox.send(from, reply);
                    return self.sync(now);
                }
                // A new incarnation replaces the old one: fence the old one first, so whatever it
                // led is re-elected and it rejoins ISRs only by catching up again.
                if self.is_unfenced(broker_id) {
                    self.fence(now, broker_id, "a new incarnation registered");
                }
                let broker_epoch = self.raft.log_end_offset();
                let end = self.append(now, MetadataRecord::RegisterBroker { broker_id, incarnation, broker_epoch });
                self.sessions.insert(broker_id, BrokerSession { broker_epoch, last_heartbeat: now });
                self.outbox.event(Event::BrokerRegistered { broker_id, broker_epoch });
                let reply = Message::BrokerRegistrationResponse { correlation_id, error: None, broker_epoch };
                self.reply_when_committed(end, from, reply);
            }
            Message::BrokerHeartbeat { correlation_id, broker_id, broker_epoch, metadata_offset } => {
                if let Some(error) = self.not_controller() {
                    let reply =
                        Message::BrokerHeartbeatResponse { correlation_id, error: Some(error), is_fenced: true };
                    self.outbox.send(from, reply);
                    return self.sync(now);
                }
                let known = self.sessions.get_mut(&broker_id).filter(|s| s.broker_epoch == broker_epoch);
                let Some(session) = known else {
                    let error = Some(ErrorCode::StaleBrokerEpoch);
                    self.outbox.send(from, Message::BrokerHeartbeatResponse { correlation_id, error, is_fenced: true });
                    return self.sync(now);
                };
                session.last_heartbeat = now;
                // Unfence once the broker has replayed the metadata log up to its own
                // registration record (KIP-631).
                let mut end = 0;
                if !self.is_unfenced(broker_id) && metadata_offset > broker_epoch {
                    self.unfence(now, broker_id);
                    end = self.raft.log_end_offset();
                }
                let is_fenced = !self.is_unfenced(broker_id);
                let reply = Message::BrokerHeartbeatResponse { correlation_id, error: None, is_fenced };
                self.reply_when_committed(end, from, reply);
            }
            Message::AlterPartition {
                correlation_id,
                broker_epoch,
                tp,
                leader_epoch,
                partition_epoch,
                new_isr,
                ..
            } => {
                if let Some(error) = self.not_controller() {
                    let reply = Message::AlterPartitionResponse { correlation_id, tp, error: Some(error), state: None };
                    self.outbox.send(from, reply);
                    return self.sync(now);
                }
                self.alter_partition(
                    now,
                    from,
                    correlation_id,
                    broker_epoch,
                    tp,
                    leader_epoch,
                    partition_epoch,
                    new_isr,
                );
            }
            Message::AlterPartitionReassignments { correlation_id, tp, replicas } => {
                let error = self.not_controller().or_else(|| self.reassign(now, &tp, replicas));
                let end = if error.is_none() { self.raft.log_end_offset() } else { 0 };
                let reply = Message::AlterPartitionReassignmentsResponse { correlation_id, error };
                self.reply_when_committed(end, from, reply);
            }
            Message::ElectLeaders { correlation_id, tp, unclean } => {
                let error = self.not_controller().or_else(|| self.elect_leader(now, &tp, unclean));
                let end = if error.is_none() { self.raft.log_end_offset() } else { 0 };
                self.reply_when_committed(end, from, Message::ElectLeadersResponse { correlation_id, error });
            }
            Message::AllocateProducerIds { correlation_id, broker_id, broker_epoch } => {
                self.allocate_producer_ids(now, from, correlation_id, broker_id, broker_epoch);
            }
            other => panic!("controller {} got a message it never expects: {}", self.id, other.api_name()),
        }
        self.sync(now);
    }

    fn handle_disconnect(&mut self, now: Instant, peer: NodeId) {
        // Sessions are untouched: a broker is fenced by its missing heartbeats, not by a closed
        // connection (KIP-631).
        self.raft.handle_disconnect(now, peer);
        self.sync(now);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.raft.handle_timeout(now);
        self.sync(now);
        if self.active.is_some() && now >= self.next_session_check {
            self.next_session_check = now + SESSION_CHECK_INTERVAL;
            let timeout = Duration::from_millis(self.config.broker_session_timeout_ms);
            let expired: Vec<NodeId> = self
                .sessions
                .iter()
                .filter(|(id, s)| self.is_unfenced(**id) && now.saturating_since(s.last_heartbeat) > timeout)
                .map(|(id, _)| *id)
                .collect();
            for broker in expired {
                self.fence(now, broker, "no heartbeat within broker.session.timeout.ms");
            }
            self.maybe_create_topics(now);
        }
        if self.active.is_some() && now >= self.next_imbalance_check {
            self.next_imbalance_check = now + Duration::from_secs(self.config.leader_imbalance_check_interval_seconds);
            if self.config.auto_leader_rebalance_enable {
                self.balance_leaders(now);
            }
        }
        self.sync(now);
    }

    fn shutdown(&mut self, now: Instant) {
        self.raft.resign(now, "graceful shutdown");
        self.sync(now);
    }

    fn poll_effect(&mut self) -> Option<Effect> {
        self.outbox.poll_effect()
    }

    fn poll_event(&mut self) -> Option<crate::event::Event> {
        self.outbox.poll_event()
    }

    fn poll_deadline(&self) -> Option<Instant> {
        let raft = self.raft.poll_deadline();
        let own = self.active.map(|_| self.next_session_check.min(self.next_imbalance_check));
        [raft, own].into_iter().flatten().min()
    }
}

impl Controller {
    /// Passes quorum messages to the Raft replica. Returns the message back when it is not one.
    fn raft_message(&mut self, now: Instant, from: NodeId, message: Message) -> Option<Message> {
        if is_quorum_message(&message) {
            let handled = self.raft.handle_message(now, from, message);
            debug_assert!(handled);
            None
        } else {
            Some(message)
        }
    }
}

// ---- producer id blocks (KIP-730) ----
//
// Kept apart from the broker-liveness and partition-leadership code above: this part only
// reserves ranges of producer ids through the metadata log.

/// Producer ids in one block a broker gets (Kafka's `ProducerIdsBlock.PRODUCER_ID_BLOCK_SIZE`).
pub const PRODUCER_ID_BLOCK_SIZE: i32 = 1000;

impl Controller {
    /// `AllocateProducerIds` (KIP-730; Kafka's `ProducerIdControlManager.generateNextProducerId`):
    /// reserves the next [`PRODUCER_ID_BLOCK_SIZE`] ids for `broker_id` with a
    /// `ProducerIdsRecord` and answers once that record is committed, so a block the broker
    /// hands out can never be handed out again, even by the next active controller. Blocks
    /// are consecutive: each starts where the working image's `next_producer_id` stands, which
    /// already counts blocks whose records are not committed yet.
    ///
    /// Errors: `NOT_CONTROLLER` from a controller that is not active; `STALE_BROKER_EPOCH` when
    /// `broker_epoch` is not the epoch of the broker's registration (`checkBrokerEpoch`). Kafka
    /// answers `UNKNOWN_SERVER_ERROR` once the ids would pass `i64::MAX`; nine quintillion ids
    /// cannot be used up in a simulation, so that panics.
    fn allocate_producer_ids(
        &mut self,
        now: Instant,
        from: NodeId,
        correlation_id: u64,
        broker_id: NodeId,
        broker_epoch: i64,
    ) {
        let refuse = |error: ErrorCode| Message::AllocateProducerIdsResponse {
            correlation_id,
            error: Some(error),
            producer_id_start: -1,
            producer_id_len: 0,
        };
        if let Some(error) = self.not_controller() {
            self.outbox.send(from, refuse(error));
            return;
        }
        if self.image.brokers.get(&broker_id).map(|b| b.broker_epoch) != Some(broker_epoch) {
            self.outbox.send(from, refuse(ErrorCode::StaleBrokerEpoch));
            return;
        }
        let first = self.image.next_producer_id;
        let next_producer_id =
            first.checked_add(i64::from(PRODUCER_ID_BLOCK_SIZE)).expect("producer ids exhausted: past i64::MAX");
        let end = self.append(now, MetadataRecord::ProducerIds { broker_id, broker_epoch, next_producer_id });
        self.outbox.event(Event::ProducerIdsAllocated {
            broker_id,
            first_producer_id: first,
            size: PRODUCER_ID_BLOCK_SIZE,
        });
        let reply = Message::AllocateProducerIdsResponse {
            correlation_id,
            error: None,
            producer_id_start: first,
            producer_id_len: PRODUCER_ID_BLOCK_SIZE,
        };
        self.reply_when_committed(end, from, reply);
    }
}

/// Whether a message belongs to the Raft quorum protocol (rather than the controller's APIs).
pub fn is_quorum_message(message: &Message) -> bool {
    matches!(
        message,
        Message::Vote { .. }
            | Message::VoteResponse { .. }
            | Message::BeginQuorumEpoch { .. }
            | Message::BeginQuorumEpochResponse { .. }
            | Message::EndQuorumEpoch { .. }
            | Message::EndQuorumEpochResponse { .. }
            | Message::QuorumFetch { .. }
            | Message::QuorumFetchResponse { .. }
    )
}

/// Whether a message is a request to the controller (served by the controller half of a
/// combined node).
pub fn is_controller_request(message: &Message) -> bool {
    matches!(
        message,
        Message::BrokerRegistration { .. }
            | Message::BrokerHeartbeat { .. }
            | Message::AlterPartition { .. }
            | Message::AlterPartitionReassignments { .. }
            | Message::ElectLeaders { .. }
            | Message::AllocateProducerIds { .. }
    )
}

#[cfg(test)]
mod producer_id_tests {
    use super::*;
    use crate::node::node_rng;
    use std::collections::BTreeSet;

    const BROKER: NodeId = NodeId(100);

    /// Three controllers on a network that delivers every message at once, except to and from
    /// the nodes in `down`; messages for [`BROKER`] are kept in `to_broker`.
    struct Quorum {
        now: Instant,
        nodes: BTreeMap<NodeId, Controller>,
        down: BTreeSet<NodeId>,
        to_broker: Vec<Message>,
        events: Vec<Event>,
    }

    impl Quorum {
        fn new() -> Quorum {
            let config = BrokerConfig::default();
            let voters: Vec<NodeId> = (1..=3).map(NodeId).collect();
            let now = Instant::from_millis(0);
            let nodes = voters
                .iter()
                .map(|&id| {
                    let setup = ControllerSetup {
                        id,
                        config: config.clone(),
                        quorum: QuorumConfig::new(&config, voters.clone(), false),
                        rng: node_rng(7, id, 1),
                        files: BTreeMap::new(),
                        expected_brokers: Vec::new(),
                        topics: Vec::new(),
                        era: Era::default(),
                    };
                    (id, Controller::new(now, setup))
                })
                .collect();
            Quorum { now, nodes, down: BTreeSet::new(), to_broker: Vec::new(), events: Vec::new() }
        }

        /// Delivers messages until none is left.
        fn settle(&mut self) {
            loop {
                let mut queue = Vec::new();
                for (&id, node) in self.nodes.iter_mut() {
                    while let Some(effect) = node.poll_effect() {
                        if let Effect::Send { to, message } = effect {
                            if !self.down.contains(&id) {
                                queue.push((id, to, message));
                            }
                        }
                    }
                    while let Some(event) = node.poll_event() {
                        self.events.push(event);
                    }
                }
                if queue.is_empty() {
                    return;
                }
                for (from, to, message) in queue {
                    if to == BROKER {
                        self.to_broker.push(*message);
                    } else if !self.down.contains(&to) {
                        self.nodes.get_mut(&to).expect("a voter").handle_message(self.now, from, *message);
                    }
                }
            }
        }

        /// Moves time to the next deadline of a running node and fires the timers due.
        fn advance(&mut self) {
            let next = self
                .nodes
                .iter()
                .filter(|(id, _)| !self.down.contains(id))
                .filter_map(|(_, n)| n.poll_deadline())
                .min()
                .expect("a running controller always has a timer");
            self.now = self.now.max(next);
            for (id, node) in self.nodes.iter_mut() {
                if !self.down.contains(id) && node.poll_deadline().is_some_and(|d| d <= self.now) {
                    node.handle_timeout(self.now);
                }
            }
            self.settle();
        }

        fn active(&self) -> Option<NodeId> {
            self.nodes.iter().find(|(id, n)| !self.down.contains(id) && n.is_active()).map(|(id, _)| *id)
        }

        fn run_until(&mut self, mut done: impl FnMut(&mut Quorum) -> bool) {
            for _ in 0..100_000 {
                if done(self) {
                    return;
                }
                self.advance();
            }
            panic!("the condition never held");
        }

        fn wait_for_active(&mut self) -> NodeId {
            self.run_until(|q| q.active().is_some());
            self.active().expect("active")
        }

        /// Sends `message` from the broker to `to` and waits for the answer with the same
        /// correlation id.
        fn ask(&mut self, to: NodeId, message: Message, correlation_id: u64) -> Message {
            self.nodes.get_mut(&to).expect("a voter").handle_message(self.now, BROKER, message);
            self.settle();
            let mut found = None;
            self.run_until(|q| {
                let at = q.to_broker.iter().position(|m| correlation_of(m) == correlation_id);
                found = at.map(|i| q.to_broker.remove(i));
                found.is_some()
            });
            found.expect("answered")
        }
    }

    fn correlation_of(message: &Message) -> u64 {
        match message {
            Message::BrokerRegistrationResponse { correlation_id, .. }
            | Message::AllocateProducerIdsResponse { correlation_id, .. } => *correlation_id,
            _ => 0,
        }
    }

    fn allocate(correlation_id: u64, broker_epoch: i64) -> Message {
        Message::AllocateProducerIds { correlation_id, broker_id: BROKER, broker_epoch }
    }

    fn block(response: &Message) -> (Option<ErrorCode>, i64, i32) {
        match response {
            Message::AllocateProducerIdsResponse { error, producer_id_start, producer_id_len, .. } => {
                (*error, *producer_id_start, *producer_id_len)
            }
            other => panic!("not an AllocateProducerIdsResponse: {other:?}"),
        }
    }

    #[test]
    fn blocks_are_consecutive_committed_and_survive_a_controller_failover() {
        let mut q = Quorum::new();
        let first = q.wait_for_active();
        let registration = Message::BrokerRegistration { correlation_id: 1, broker_id: BROKER, incarnation: 1 };
        let Message::BrokerRegistrationResponse { error: None, broker_epoch, .. } = q.ask(first, registration, 1)
        else {
            panic!("registration failed");
        };

        // Two requests before either record commits still get adjacent blocks: the working
        // image counts the uncommitted one.
        let c = q.nodes.get_mut(&first).unwrap();
        c.handle_message(q.now, BROKER, allocate(2, broker_epoch));
        c.handle_message(q.now, BROKER, allocate(3, broker_epoch));
        assert!(c.take_sends_to(BROKER).is_empty(), "answered before the records commit");
        q.settle();
        q.run_until(|q| q.to_broker.len() == 2);
        let blocks: Vec<_> = q.to_broker.drain(..).map(|m| (correlation_of(&m), block(&m))).collect();
        assert_eq!(blocks, vec![(2, (None, 0, 1000)), (3, (None, 1000, 1000))]);
        let allocated: Vec<(NodeId, i64, i32)> = q
            .events
            .iter()
            .filter_map(|e| match e {
                Event::ProducerIdsAllocated { broker_id, first_producer_id, size } => {
                    Some((*broker_id, *first_producer_id, *size))
                }
                _ => None,
            })
            .collect();
        assert_eq!(allocated, vec![(BROKER, 0, 1000), (BROKER, 1000, 1000)]);

        // Standbys refuse; a wrong broker epoch is refused.
        let standby = *q.nodes.keys().find(|id| **id != first).unwrap();
        assert_eq!(block(&q.ask(standby, allocate(4, broker_epoch), 4)), (Some(ErrorCode::NotController), -1, 0));
        assert_eq!(block(&q.ask(first, allocate(5, broker_epoch + 1), 5)), (Some(ErrorCode::StaleBrokerEpoch), -1, 0));

        // The active controller dies; its successor replays the ProducerIdsRecords from the log
        // and goes on after the last block.
        q.down.insert(first);
        let second = q.wait_for_active();
        assert_ne!(second, first);
        assert_eq!(q.nodes[&second].status().image.next_producer_id, 2000);
        assert_eq!(block(&q.ask(second, allocate(6, broker_epoch), 6)), (None, 2000, 1000));
        let records: Vec<i64> = q.nodes[&second]
            .raft()
            .entries()
            .iter()
            .filter_map(|(_, r)| match r {
                MetadataRecord::ProducerIds { broker_id, broker_epoch: e, next_producer_id } => {
                    assert_eq!((*broker_id, *e), (BROKER, broker_epoch));
                    Some(*next_producer_id)
                }
                _ => None,
            })
            .collect();
        assert_eq!(records, vec![1000, 2000, 3000]);
    }
}
