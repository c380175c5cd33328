//! The controller: owner of the metadata log, broker liveness and partition leadership.
//!
//! The walking skeleton has a single controller node. It already works the way KRaft's active
//! controller does (apache/kafka: metadata/.../controller/ReplicationControlManager.java,
//! ClusterControlManager.java): brokers register and heartbeat, a broker whose session expires
//! is fenced and removed from leaderships and ISRs, leaders are elected cleanly from the ISR in
//! assignment order, and partition leaders change the ISR through `AlterPartition` (KIP-497).
//! Every decision is a record in the metadata log, which brokers follow by long-polling fetches.
//! The Raft quorum replaces the single node later without changing this interface.

use crate::config::BrokerConfig;
use crate::error::ErrorCode;
use crate::event::Event;
use crate::ids::{NodeId, TopicPartition};
use crate::metadata::{MetadataImage, MetadataRecord, PartitionState};
use crate::node::{DiskOp, Effect, Node, Outbox};
use crate::protocol::Message;
use crate::time::Instant;
use core::time::Duration;
use rand::Rng;
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
/// How long a broker's metadata fetch may be held when there is nothing new (KRaft's
/// `Fetch` long-poll, `replica.fetch.wait.max.ms`-like).
const METADATA_FETCH_WAIT: Duration = Duration::from_millis(500);
/// How often broker sessions are checked for expiry.
const SESSION_CHECK_INTERVAL: Duration = Duration::from_millis(250);

#[derive(Clone, Debug)]
struct BrokerSession {
    broker_epoch: i64,
    last_heartbeat: Instant,
}

#[derive(Clone, Debug)]
struct ParkedFetch {
    from: NodeId,
    correlation_id: u64,
    fetch_offset: i64,
    deadline: Instant,
}

/// The controller's observable state, for checkers and views.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControllerStatus {
    /// Records in the metadata log.
    pub metadata_log_end_offset: i64,
    /// The folded image.
    pub image: MetadataImage,
}

/// The single controller node.
pub struct Controller {
    config: BrokerConfig,
    rng: ChaCha8Rng,
    outbox: Outbox,
    log: Vec<MetadataRecord>,
    image: MetadataImage,
    sessions: std::collections::BTreeMap<NodeId, BrokerSession>,
    expected_brokers: Vec<NodeId>,
    pending_topics: Vec<TopicToCreate>,
    started_at: Instant,
    parked: Vec<ParkedFetch>,
    next_session_check: Instant,
}

impl Controller {
    /// A controller that will create `topics` once the `expected_brokers` have registered
    /// (or, after a grace period, once enough of them have for every replication factor).
    /// `recovered` is the metadata log read back from disk after a restart.
    pub fn new(
        now: Instant,
        config: BrokerConfig,
        rng: ChaCha8Rng,
        expected_brokers: Vec<NodeId>,
        topics: Vec<TopicToCreate>,
        recovered: Vec<MetadataRecord>,
    ) -> Controller {
        let mut image = MetadataImage::default();
        for record in &recovered {
            image.apply(record);
        }
        // Topics already in the recovered log are not created twice.
        let pending_topics = topics.into_iter().filter(|t| !image.topics.contains_key(&t.name)).collect();
        // A restarted controller gives every known broker a fresh session: heartbeat timing is
        // soft state (KIP-631), so failover can only delay fencing, never cause it.
        let sessions = image
            .brokers
            .iter()
            .map(|(id, b)| (*id, BrokerSession { broker_epoch: b.broker_epoch, last_heartbeat: now }))
            .collect();
        Controller {
            config,
            rng,
            outbox: Outbox::default(),
            log: recovered,
            image,
            sessions,
            expected_brokers,
            pending_topics,
            started_at: now,
            parked: Vec::new(),
            next_session_check: now + SESSION_CHECK_INTERVAL,
        }
    }

    /// A cheap snapshot for checkers and views.
    pub fn status(&self) -> ControllerStatus {
        ControllerStatus { metadata_log_end_offset: self.log.len() as i64, image: self.image.clone() }
    }

    fn append(&mut self, now: Instant, record: MetadataRecord) {
        self.image.apply(&record);
        self.outbox.disk(DiskOp::AppendMetadata { record: record.clone() });
        self.log.push(record);
        self.answer_parked(now, false);
    }

    fn answer_parked(&mut self, now: Instant, expire_only: bool) {
        let end = self.log.len() as i64;
        let mut still = Vec::new();
        for fetch in std::mem::take(&mut self.parked) {
            let has_data = fetch.fetch_offset < end;
            if (has_data && !expire_only) || now >= fetch.deadline {
                self.answer_fetch(fetch.from, fetch.correlation_id, fetch.fetch_offset);
            } else {
                still.push(fetch);
            }
        }
        self.parked = still;
    }

    fn answer_fetch(&mut self, to: NodeId, correlation_id: u64, fetch_offset: i64) {
        let start = fetch_offset.clamp(0, self.log.len() as i64);
        let records = self.log[start as usize..].to_vec();
        self.outbox.send(to, Message::MetadataFetchResponse { correlation_id, base_offset: start, records });
    }

    fn is_unfenced(&self, broker: NodeId) -> bool {
        self.image.brokers.get(&broker).is_some_and(|b| !b.fenced)
    }

    /// Clean election (`PartitionChangeBuilder`): the first replica in assignment order that is
    /// in the ISR and unfenced.
    fn elect(&self, replicas: &[NodeId], isr: &[NodeId]) -> Option<NodeId> {
        replicas.iter().copied().find(|r| isr.contains(r) && self.is_unfenced(*r))
    }

    fn maybe_create_topics(&mut self, now: Instant) {
        if self.pending_topics.is_empty() {
            return;
        }
        let live: Vec<NodeId> = self.image.live_brokers();
        let everyone = self.expected_brokers.iter().all(|b| live.contains(b));
        let needed = self.pending_topics.iter().map(|t| t.replication_factor).max().unwrap_or(1);
        let grace_over = now.saturating_since(self.started_at) >= TOPIC_CREATION_GRACE;
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

    fn fence(&mut self, now: Instant, broker: NodeId) {
        if !self.is_unfenced(broker) && self.image.brokers.get(&broker).is_some_and(|b| b.fenced) {
            // Already fenced: registration never completed, nothing leads or follows here.
            return;
        }
        self.append(now, MetadataRecord::FenceBroker { broker_id: broker });
        self.outbox.event(Event::BrokerFenced { broker_id: broker });
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
            if was_leader {
                state.leader = self.elect(&state.replicas, &state.isr);
                state.leader_epoch += 1;
            }
            state.partition_epoch += 1;
            self.report_change(&state, &old_isr, was_leader);
            self.append(now, MetadataRecord::Partition(state));
        }
    }

    fn report_change(&mut self, state: &PartitionState, old_isr: &[NodeId], leader_changed: bool) {
        let internal = self.image.topics.get(&state.tp.topic).is_some_and(|t| t.internal);
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
        // Offline partitions whose ISR holds this broker can be led again.
        let offline: Vec<PartitionState> =
            self.image.partitions.values().filter(|p| p.leader.is_none() && p.isr.contains(&broker)).cloned().collect();
        for mut state in offline {
            let old_isr = state.isr.clone();
            state.leader = self.elect(&state.replicas, &state.isr);
            state.leader_epoch += 1;
            state.partition_epoch += 1;
            self.report_change(&state, &old_isr, true);
            self.append(now, MetadataRecord::Partition(state));
        }
        self.maybe_create_topics(now);
    }

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
        let reply = |outbox: &mut Outbox, error: Option<ErrorCode>, state: Option<PartitionState>| {
            outbox.send(from, Message::AlterPartitionResponse { correlation_id, tp: tp.clone(), error, state });
        };
        if self.sessions.get(&from).map(|s| s.broker_epoch) != Some(broker_epoch) {
            return reply(&mut self.outbox, Some(ErrorCode::StaleBrokerEpoch), None);
        }
        let Some(current) = self.image.partitions.get(&tp).cloned() else {
            return reply(&mut self.outbox, Some(ErrorCode::UnknownTopicOrPartition), None);
        };
        if current.leader != Some(from) || current.leader_epoch != leader_epoch {
            return reply(&mut self.outbox, Some(ErrorCode::FencedLeaderEpoch), Some(current));
        }
        if current.partition_epoch != partition_epoch {
            return reply(&mut self.outbox, Some(ErrorCode::InvalidUpdateVersion), Some(current));
        }
        let eligible =
            new_isr.iter().all(|b| current.replicas.contains(b) && (current.isr.contains(b) || self.is_unfenced(*b)));
        if !eligible || !new_isr.contains(&from) {
            return reply(&mut self.outbox, Some(ErrorCode::IneligibleReplica), Some(current));
        }
        let mut state = current.clone();
        // Keep the ISR in assignment order so tables read the same as Kafka's.
        state.isr = current.replicas.iter().copied().filter(|b| new_isr.contains(b)).collect();
        state.partition_epoch += 1;
        self.report_change(&state, &current.isr, false);
        self.append(now, MetadataRecord::Partition(state.clone()));
        reply(&mut self.outbox, None, Some(state));
    }
}

impl Node for Controller {
    fn handle_message(&mut self, now: Instant, from: NodeId, message: Message) {
        match message {
            Message::BrokerRegistration { correlation_id, broker_id, incarnation } => {
                // A new incarnation replaces the old one: fence the old one first, so whatever it
                // led is re-elected and it rejoins ISRs only by catching up again.
                if self.is_unfenced(broker_id) {
                    self.fence(now, broker_id);
                }
                let broker_epoch = self.log.len() as i64;
                self.append(now, MetadataRecord::RegisterBroker { broker_id, incarnation, broker_epoch });
                self.sessions.insert(broker_id, BrokerSession { broker_epoch, last_heartbeat: now });
                self.outbox.event(Event::BrokerRegistered { broker_id, broker_epoch });
                self.outbox.send(from, Message::BrokerRegistrationResponse { correlation_id, broker_epoch });
            }
            Message::BrokerHeartbeat { correlation_id, broker_id, broker_epoch, metadata_offset } => {
                let known = self.sessions.get_mut(&broker_id).filter(|s| s.broker_epoch == broker_epoch);
                let Some(session) = known else {
                    self.outbox.send(
                        from,
                        Message::BrokerHeartbeatResponse {
                            correlation_id,
                            error: Some(ErrorCode::StaleBrokerEpoch),
                            is_fenced: true,
                        },
                    );
                    return;
                };
                session.last_heartbeat = now;
                // Unfence once the broker has replayed the metadata log up to its own
                // registration record (KIP-631).
                if !self.is_unfenced(broker_id) && metadata_offset > broker_epoch {
                    self.unfence(now, broker_id);
                }
                let is_fenced = !self.is_unfenced(broker_id);
                self.outbox.send(from, Message::BrokerHeartbeatResponse { correlation_id, error: None, is_fenced });
            }
            Message::MetadataFetch { correlation_id, fetch_offset, .. } => {
                if fetch_offset < self.log.len() as i64 {
                    self.answer_fetch(from, correlation_id, fetch_offset);
                } else {
                    self.parked.push(ParkedFetch {
                        from,
                        correlation_id,
                        fetch_offset,
                        deadline: now + METADATA_FETCH_WAIT,
                    });
                }
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
            other => panic!("controller got a message it never expects: {}", other.api_name()),
        }
    }

    fn handle_disconnect(&mut self, _now: Instant, peer: NodeId) {
        // Nobody would read the answers. Sessions are untouched: a broker is fenced by its
        // missing heartbeats, not by a closed connection (KIP-631).
        self.parked.retain(|p| p.from != peer);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.answer_parked(now, true);
        if now >= self.next_session_check {
            self.next_session_check = now + SESSION_CHECK_INTERVAL;
            let timeout = Duration::from_millis(self.config.broker_session_timeout_ms);
            let expired: Vec<NodeId> = self
                .sessions
                .iter()
                .filter(|(id, s)| self.is_unfenced(**id) && now.saturating_since(s.last_heartbeat) > timeout)
                .map(|(id, _)| *id)
                .collect();
            for broker in expired {
                self.fence(now, broker);
            }
            self.maybe_create_topics(now);
        }
    }

    fn poll_effect(&mut self) -> Option<Effect> {
        self.outbox.poll_effect()
    }

    fn poll_event(&mut self) -> Option<crate::event::Event> {
        self.outbox.poll_event()
    }

    fn poll_deadline(&self) -> Option<Instant> {
        let parked = self.parked.iter().map(|p| p.deadline).min();
        Some(parked.map_or(self.next_session_check, |p| p.min(self.next_session_check)))
    }
}
