//! The group coordinator's state machine for the classic consumer-group protocol
//! (apache/kafka: group-coordinator/.../classic/ClassicGroup.java, GroupMetadataManager.java).
//!
//! The broker that leads a group's `__consumer_offsets` partition is its coordinator. This
//! module holds membership, generations and the JoinGroup/SyncGroup barrier; the broker owns the
//! log, so committed offsets travel as records the broker appends and replicates before the
//! commit is answered. Membership is kept in memory only: when the coordinator moves, members
//! find the new one and join again, while committed offsets survive in the log.

use crate::error::ErrorCode;
use crate::event::Event;
use crate::ids::{Name, NodeId, TopicPartition};
use crate::node::Outbox;
use crate::protocol::{JoinedMember, Message, Subscription};
use crate::time::Instant;
use core::time::Duration;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Kafka's group states (`ClassicGroupState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupState {
    /// No members.
    Empty,
    /// Waiting for members to (re)join.
    PreparingRebalance,
    /// Join responses sent; waiting for the leader's assignment.
    CompletingRebalance,
    /// Assignment delivered.
    Stable,
    /// The group no longer exists on this coordinator (its offsets partition moved away or it
    /// was never created); Kafka's tools print `Dead` for it.
    Dead,
}

impl GroupState {
    /// The name Kafka's tools print.
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }
}

#[derive(Clone, Debug)]
struct Member {
    client_id: String,
    group_instance_id: Option<String>,
    session_timeout: Duration,
    rebalance_timeout: Duration,
    protocols: Vec<String>,
    subscription: Subscription,
    last_heartbeat: Instant,
    awaiting_join: Option<(NodeId, u64)>,
    awaiting_sync: Option<(NodeId, u64)>,
    assignment: Vec<TopicPartition>,
    join_order: u64,
}

#[derive(Clone, Debug)]
struct Group {
    state: GroupState,
    generation_id: i32,
    protocol: String,
    leader: Option<String>,
    members: BTreeMap<String, Member>,
    /// Static members: `group.instance.id` → current member id (KIP-345).
    static_members: BTreeMap<String, String>,
    pending_member_ids: BTreeSet<String>,
    /// When PreparingRebalance ends at the latest.
    rebalance_deadline: Option<Instant>,
    /// The initial delay for a group that was empty (`group.initial.rebalance.delay.ms`).
    initial_delay_until: Option<Instant>,
    next_join_order: u64,
}

impl Group {
    fn new() -> Group {
        Group {
            state: GroupState::Empty,
            generation_id: 0,
            protocol: String::new(),
            leader: None,
            members: BTreeMap::new(),
            static_members: BTreeMap::new(),
            pending_member_ids: BTreeSet::new(),
            rebalance_deadline: None,
            initial_delay_until: None,
            next_join_order: 0,
        }
    }

    /// Whether a member offering `protocols` shares at least one assignor with every other
    /// member (`ClassicGroup.supportsProtocols`).
    fn supports(&self, member_id: &str, protocols: &[String]) -> bool {
        protocols.iter().any(|p| {
            self.members.iter().filter(|(id, _)| id.as_str() != member_id).all(|(_, m)| m.protocols.contains(p))
        })
    }

    /// The assignor for the next generation (`ClassicGroup.selectProtocol`): among the
    /// assignors every member offers, each member votes for the first one in its own
    /// preference list, and the most votes win. Kafka breaks a tie by hash-map order; the lab
    /// breaks it by the leader's preference, so the choice is deterministic.
    fn select_protocol(&self, leader: &str) -> String {
        let leader_prefs = &self.members[leader].protocols;
        let candidates: Vec<&String> =
            leader_prefs.iter().filter(|p| self.members.values().all(|m| m.protocols.contains(p))).collect();
        let mut votes: BTreeMap<&String, usize> = BTreeMap::new();
        for m in self.members.values() {
            if let Some(choice) = m.protocols.iter().find(|p| candidates.contains(p)) {
                *votes.entry(choice).or_default() += 1;
            }
        }
        candidates
            .iter()
            .enumerate()
            .max_by_key(|(rank, c)| (votes.get(*c).copied().unwrap_or(0), usize::MAX - rank))
            .map(|(_, c)| (*c).clone())
            .expect("members share a protocol: joins without one are refused")
    }
}

/// A member as views show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberStatus {
    /// Member id.
    pub member_id: String,
    /// The consumer's client id.
    pub client_id: String,
    /// Its `group.instance.id` when it is a static member (KIP-345).
    pub group_instance_id: Option<String>,
    /// Assigned partitions.
    pub assignment: Vec<TopicPartition>,
}

/// A group as views show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupStatus {
    /// `group.id`.
    pub group: String,
    /// Kafka's state name.
    pub state: GroupState,
    /// Current generation.
    pub generation_id: i32,
    /// Selected assignor.
    pub protocol: String,
    /// Members in member-id order.
    pub members: Vec<MemberStatus>,
    /// Committed offsets.
    pub offsets: BTreeMap<TopicPartition, i64>,
}

/// Group-coordinator settings (broker configs).
#[derive(Clone, Debug)]
pub struct CoordinatorConfig {
    /// `group.initial.rebalance.delay.ms`.
    pub initial_rebalance_delay: Duration,
    /// `group.min.session.timeout.ms`.
    pub min_session_timeout: Duration,
    /// `group.max.session.timeout.ms`.
    pub max_session_timeout: Duration,
}

/// The group metadata the coordinator stores in `__consumer_offsets` under the key
/// `group:<group id>` whenever a generation completes or the group empties, so that the next
/// coordinator can load it (Kafka's `GroupMetadataValue`). Encoded as RON text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRecord {
    /// The generation.
    pub generation_id: i32,
    /// The selected assignor; empty for an empty group.
    pub protocol: String,
    /// The leader member id, if any.
    pub leader: Option<String>,
    /// Every member with its assignment.
    pub members: Vec<MemberRecord>,
}

/// One member inside a [`GroupRecord`] (Kafka's `MemberMetadata` as stored).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRecord {
    /// Member id.
    pub member_id: String,
    /// `group.instance.id`, for a static member.
    pub group_instance_id: Option<String>,
    /// `client.id`.
    pub client_id: String,
    /// `session.timeout.ms`.
    pub session_timeout_ms: u64,
    /// The rebalance timeout (`max.poll.interval.ms`), in milliseconds.
    pub rebalance_timeout_ms: u64,
    /// Offered assignors, most preferred first.
    pub protocols: Vec<String>,
    /// Subscribed topics.
    pub topics: Vec<String>,
    /// The member's assignment in this generation.
    pub assignment: Vec<TopicPartition>,
}

impl GroupRecord {
    /// The record value: RON text.
    pub fn encode(&self) -> String {
        ron::to_string(self).expect("group records always serialise")
    }

    /// Parses a record value written by [`GroupRecord::encode`]; `None` if it is not one.
    pub fn decode(value: &str) -> Option<GroupRecord> {
        ron::from_str(value).ok()
    }
}

/// A JoinGroup request as the coordinator needs it.
#[derive(Clone, Debug)]
pub struct JoinRequest {
    /// The member's node.
    pub from: NodeId,
    /// Echoed in the response.
    pub correlation_id: u64,
    /// `group.id`.
    pub group_id: String,
    /// Empty on a first join.
    pub member_id: String,
    /// `group.instance.id`, for a static member.
    pub group_instance_id: Option<String>,
    /// `client.id`.
    pub client_id: String,
    /// `session.timeout.ms`.
    pub session_timeout_ms: u64,
    /// `max.poll.interval.ms`, used as the rebalance timeout.
    pub rebalance_timeout_ms: u64,
    /// Offered assignors, most preferred first.
    pub protocols: Vec<String>,
    /// The subscription sent with them.
    pub subscription: Subscription,
}

/// All groups this broker coordinates.
#[derive(Debug)]
pub struct GroupCoordinator {
    config: CoordinatorConfig,
    groups: BTreeMap<String, Group>,
    offsets: BTreeMap<String, BTreeMap<TopicPartition, i64>>,
    /// Group records the broker must append to `__consumer_offsets`, in order.
    stores: Vec<(String, GroupRecord)>,
}

/// A validated commit the broker must append and replicate before answering.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcceptedCommit {
    /// The group.
    pub group: String,
    /// Offsets to store.
    pub offsets: Vec<(TopicPartition, i64)>,
}

/// A member id: the client id (or instance id) and a UUID drawn from the seeded PRNG, as
/// Kafka's `ClassicGroup.generateMemberId` builds it from a random UUID.
fn new_member_id(prefix: &str, rng: &mut ChaCha8Rng) -> String {
    let a: u64 = rng.gen();
    let b: u64 = rng.gen();
    format!(
        "{prefix}-{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0x0fff,
        (b >> 48) & 0x3fff | 0x8000,
        b & 0xffff_ffff_ffff
    )
}

impl GroupCoordinator {
    /// A coordinator with no groups.
    pub fn new(config: CoordinatorConfig) -> GroupCoordinator {
        GroupCoordinator { config, groups: BTreeMap::new(), offsets: BTreeMap::new(), stores: Vec::new() }
    }

    /// Forgets the groups for which `owned` says false (their offsets partition moved away).
    pub fn unload(&mut self, owned: impl Fn(&str) -> bool) {
        self.groups.retain(|g, _| owned(g));
        self.offsets.retain(|g, _| owned(g));
    }

    /// Loads a committed offset found in the log (`OffsetCommit` record replay).
    pub fn load_offset(&mut self, group: &str, tp: TopicPartition, offset: i64) {
        self.offsets.entry(group.to_string()).or_default().insert(tp, offset);
    }

    /// Loads a group's metadata found in the log when this broker becomes its coordinator
    /// (`GroupMetadataManager.loadGroup`). Members come back Stable with fresh session timers,
    /// so the ones still alive keep heartbeating without a rebalance.
    pub fn load_group(&mut self, now: Instant, outbox: &mut Outbox, group_id: &str, record: GroupRecord) {
        let mut group = Group::new();
        group.generation_id = record.generation_id;
        group.protocol = record.protocol;
        group.leader = record.leader;
        for (order, m) in record.members.into_iter().enumerate() {
            if let Some(instance) = &m.group_instance_id {
                group.static_members.insert(instance.clone(), m.member_id.clone());
            }
            group.members.insert(
                m.member_id,
                Member {
                    client_id: m.client_id,
                    group_instance_id: m.group_instance_id,
                    session_timeout: Duration::from_millis(m.session_timeout_ms),
                    rebalance_timeout: Duration::from_millis(m.rebalance_timeout_ms),
                    protocols: m.protocols,
                    subscription: Subscription { topics: m.topics, owned_partitions: Vec::new(), generation_id: -1 },
                    last_heartbeat: now,
                    awaiting_join: None,
                    awaiting_sync: None,
                    assignment: m.assignment,
                    join_order: order as u64,
                },
            );
        }
        group.next_join_order = group.members.len() as u64;
        group.state = if group.members.is_empty() { GroupState::Empty } else { GroupState::Stable };
        outbox.event(Event::GroupLoaded {
            group: Name::new(group_id),
            generation_id: group.generation_id,
            members: group.members.len(),
            offsets: self.offsets.get(group_id).map_or(0, |o| o.len()),
        });
        self.groups.insert(group_id.to_string(), group);
    }

    /// Group records to append to `__consumer_offsets`, oldest first.
    pub fn take_stores(&mut self) -> Vec<(String, GroupRecord)> {
        std::mem::take(&mut self.stores)
    }

    fn store(&mut self, group_id: &str) {
        let Some(group) = self.groups.get(group_id) else { return };
        let record = GroupRecord {
            generation_id: group.generation_id,
            protocol: group.protocol.clone(),
            leader: group.leader.clone(),
            members: group
                .members
                .iter()
                .map(|(id, m)| MemberRecord {
                    member_id: id.clone(),
                    group_instance_id: m.group_instance_id.clone(),
                    client_id: m.client_id.clone(),
                    session_timeout_ms: m.session_timeout.as_millis() as u64,
                    rebalance_timeout_ms: m.rebalance_timeout.as_millis() as u64,
                    protocols: m.protocols.clone(),
                    topics: m.subscription.topics.clone(),
                    assignment: m.assignment.clone(),
                })
                .collect(),
        };
        self.stores.push((group_id.to_string(), record));
    }

    /// Applies a commit once replicated.
    pub fn complete_commit(&mut self, outbox: &mut Outbox, commit: &AcceptedCommit) {
        for (tp, offset) in &commit.offsets {
            self.load_offset(&commit.group, tp.clone(), *offset);
            outbox.event(Event::OffsetCommitted { group: Name::new(&commit.group), tp: tp.clone(), offset: *offset });
        }
    }

    /// Committed offsets of a group.
    pub fn committed(&self, group: &str) -> BTreeMap<TopicPartition, i64> {
        self.offsets.get(group).cloned().unwrap_or_default()
    }

    /// Every committed offset this coordinator holds: group → partition → offset. A borrow
    /// of [`GroupCoordinator::committed`] for all groups, cheap enough to read every quantum.
    pub fn all_committed(&self) -> &BTreeMap<String, BTreeMap<TopicPartition, i64>> {
        &self.offsets
    }

    /// Groups for views.
    pub fn status(&self) -> Vec<GroupStatus> {
        let names: BTreeSet<&String> = self.groups.keys().chain(self.offsets.keys()).collect();
        names
            .into_iter()
            .map(|name| {
                let group = self.groups.get(name);
                GroupStatus {
                    group: name.clone(),
                    state: group.map_or(GroupState::Empty, |g| g.state),
                    generation_id: group.map_or(0, |g| g.generation_id),
                    protocol: group.map_or(String::new(), |g| g.protocol.clone()),
                    members: group
                        .map(|g| {
                            g.members
                                .iter()
                                .map(|(id, m)| MemberStatus {
                                    member_id: id.clone(),
                                    client_id: m.client_id.clone(),
                                    group_instance_id: m.group_instance_id.clone(),
                                    assignment: m.assignment.clone(),
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                    offsets: self.committed(name),
                }
            })
            .collect()
    }

    /// The earliest moment a timer is due.
    pub fn deadline(&self) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        let mut consider = |t: Instant| next = Some(next.map_or(t, |n| n.min(t)));
        for group in self.groups.values() {
            if let Some(d) = group.rebalance_deadline {
                consider(d);
            }
            if let Some(d) = group.initial_delay_until {
                consider(d);
            }
            for m in group.members.values() {
                if m.awaiting_join.is_none() {
                    consider(m.last_heartbeat + m.session_timeout);
                }
            }
        }
        next
    }

    /// JoinGroup (`GroupMetadataManager.classicGroupJoin`): hands out member ids (KIP-394),
    /// swaps a restarted static member in without a rebalance (KIP-345), and otherwise starts
    /// or joins a rebalance. The response waits until every member has rejoined or the
    /// rebalance timeout passes.
    pub fn join(&mut self, now: Instant, rng: &mut ChaCha8Rng, outbox: &mut Outbox, request: JoinRequest) {
        let JoinRequest { from, correlation_id, group_id, member_id, group_instance_id, client_id, .. } = &request;
        let (from, correlation_id) = (*from, *correlation_id);
        let session_timeout = Duration::from_millis(request.session_timeout_ms);
        let reply_error = |outbox: &mut Outbox, error: ErrorCode, member_id: String| {
            outbox.send(
                from,
                Message::JoinGroupResponse {
                    correlation_id,
                    error: Some(error),
                    generation_id: -1,
                    protocol: String::new(),
                    leader: String::new(),
                    member_id,
                    members: Vec::new(),
                },
            );
        };
        if session_timeout < self.config.min_session_timeout || session_timeout > self.config.max_session_timeout {
            // Kafka answers INVALID_SESSION_TIMEOUT; the scenario validator keeps values in range,
            // so reaching this is a simulator bug.
            panic!(
                "session.timeout.ms {} outside the broker's group.min/max.session.timeout.ms",
                request.session_timeout_ms
            );
        }
        let group = self.groups.entry(group_id.clone()).or_insert_with(Group::new);
        if !group.supports(member_id, &request.protocols) {
            return reply_error(outbox, ErrorCode::InconsistentGroupProtocol, member_id.clone());
        }
        let static_owner = group_instance_id.as_ref().and_then(|i| group.static_members.get(i)).cloned();
        let member_id = if member_id.is_empty() {
            match (group_instance_id, static_owner) {
                (Some(instance), Some(old_id)) => {
                    return self.rejoin_static_member(now, rng, outbox, request.clone(), instance.clone(), old_id);
                }
                (Some(instance), None) => {
                    // A new static member is admitted at once: its instance id already
                    // identifies it, so no MEMBER_ID_REQUIRED round trip is needed.
                    let new_id = new_member_id(instance, rng);
                    group.static_members.insert(instance.clone(), new_id.clone());
                    new_id
                }
                (None, _) => {
                    // KIP-394: hand out an id and ask the member to come back with it.
                    let new_id = new_member_id(client_id, rng);
                    group.pending_member_ids.insert(new_id.clone());
                    return reply_error(outbox, ErrorCode::MemberIdRequired, new_id);
                }
            }
        } else {
            if group_instance_id.is_some() {
                if static_owner.as_deref() != Some(member_id.as_str()) {
                    let error =
                        if static_owner.is_some() { ErrorCode::FencedInstanceId } else { ErrorCode::UnknownMemberId };
                    return reply_error(outbox, error, member_id.clone());
                }
            } else if !group.members.contains_key(member_id) && !group.pending_member_ids.remove(member_id) {
                return reply_error(outbox, ErrorCode::UnknownMemberId, member_id.clone());
            }
            member_id.clone()
        };
        let known = group.members.contains_key(&member_id);
        let join_order = group.next_join_order;
        let member = group.members.entry(member_id.clone()).or_insert_with(|| Member {
            client_id: client_id.clone(),
            group_instance_id: group_instance_id.clone(),
            session_timeout,
            rebalance_timeout: Duration::from_millis(request.rebalance_timeout_ms),
            protocols: request.protocols.clone(),
            subscription: request.subscription.clone(),
            last_heartbeat: now,
            awaiting_join: None,
            awaiting_sync: None,
            assignment: Vec::new(),
            join_order,
        });
        if !known {
            group.next_join_order += 1;
        }
        let metadata_changed = member.protocols != request.protocols || member.subscription != request.subscription;
        member.protocols = request.protocols.clone();
        member.subscription = request.subscription.clone();
        member.last_heartbeat = now;
        let is_leader = group.leader.as_deref() == Some(member_id.as_str());
        if known && group.state == GroupState::Stable && !is_leader && !metadata_changed {
            // A follower that rejoins with unchanged metadata gets the current generation back
            // without disturbing the group (`ClassicGroup` "member is already in the group").
            outbox.send(
                from,
                Message::JoinGroupResponse {
                    correlation_id,
                    error: None,
                    generation_id: group.generation_id,
                    protocol: group.protocol.clone(),
                    leader: group.leader.clone().unwrap_or_default(),
                    member_id,
                    members: Vec::new(),
                },
            );
            return;
        }
        member.awaiting_join = Some((from, correlation_id));
        let rebalance_timeout = member.rebalance_timeout;
        match group.state {
            GroupState::Empty | GroupState::Dead => {
                group.state = GroupState::PreparingRebalance;
                let delay = self.config.initial_rebalance_delay;
                group.initial_delay_until = Some(now + delay);
                group.rebalance_deadline = Some(now + delay.max(rebalance_timeout));
                outbox.event(Event::RebalanceStarted {
                    group: Name::new(group_id),
                    reason: format!("{client_id} joined an empty group"),
                });
            }
            GroupState::Stable | GroupState::CompletingRebalance => {
                let reason = if !known {
                    format!("new member {client_id} joined")
                } else if metadata_changed {
                    format!("{client_id} rejoined with a changed subscription or owned partitions")
                } else {
                    format!("{client_id} rejoined")
                };
                Self::prepare_rebalance(now, outbox, group_id, group, reason);
            }
            GroupState::PreparingRebalance => {
                if let Some(until) = group.initial_delay_until {
                    // Each new member of an initially empty group extends the delay, bounded by
                    // the rebalance timeout (`InitialDelayedJoin`).
                    let extended = now + self.config.initial_rebalance_delay;
                    let bound = group.rebalance_deadline.unwrap_or(extended);
                    group.initial_delay_until = Some(extended.min(bound).max(until));
                }
            }
        }
        let group_id = group_id.clone();
        self.maybe_complete_join(now, outbox, &group_id);
    }

    /// A static member came back with an empty member id: it restarted. The coordinator gives
    /// it a new member id, fences the old one, and, when the group is Stable and the member's
    /// metadata is unchanged, answers at once with the current generation so the member
    /// gets its old assignment back from SyncGroup without a rebalance
    /// (`GroupMetadataManager.updateStaticMemberThenRebalanceOrCompleteJoin`).
    fn rejoin_static_member(
        &mut self,
        now: Instant,
        rng: &mut ChaCha8Rng,
        outbox: &mut Outbox,
        request: JoinRequest,
        instance: String,
        old_id: String,
    ) {
        let group_id = request.group_id.clone();
        let group = self.groups.get_mut(&group_id).expect("the caller found the group");
        let new_id = new_member_id(&instance, rng);
        let mut member = group.members.remove(&old_id).expect("static members map to members");
        // The old incarnation's parked requests are answered FENCED_INSTANCE_ID.
        if let Some((node, corr)) = member.awaiting_join.take() {
            outbox.send(
                node,
                Message::JoinGroupResponse {
                    correlation_id: corr,
                    error: Some(ErrorCode::FencedInstanceId),
                    generation_id: -1,
                    protocol: String::new(),
                    leader: String::new(),
                    member_id: old_id.clone(),
                    members: Vec::new(),
                },
            );
        }
        if let Some((node, corr)) = member.awaiting_sync.take() {
            outbox.send(
                node,
                Message::SyncGroupResponse {
                    correlation_id: corr,
                    error: Some(ErrorCode::FencedInstanceId),
                    assignment: Vec::new(),
                },
            );
        }
        let metadata_changed =
            member.protocols != request.protocols || member.subscription.topics != request.subscription.topics;
        member.client_id = request.client_id.clone();
        member.session_timeout = Duration::from_millis(request.session_timeout_ms);
        member.rebalance_timeout = Duration::from_millis(request.rebalance_timeout_ms);
        member.protocols = request.protocols.clone();
        member.subscription = request.subscription.clone();
        member.last_heartbeat = now;
        group.members.insert(new_id.clone(), member);
        group.static_members.insert(instance.clone(), new_id.clone());
        if group.leader.as_deref() == Some(old_id.as_str()) {
            group.leader = Some(new_id.clone());
        }
        outbox.event(Event::StaticMemberRejoined {
            group: Name::new(&group_id),
            group_instance_id: instance,
            old_member_id: old_id,
            new_member_id: new_id.clone(),
        });
        if group.state == GroupState::Stable && !metadata_changed {
            outbox.send(
                request.from,
                Message::JoinGroupResponse {
                    correlation_id: request.correlation_id,
                    error: None,
                    generation_id: group.generation_id,
                    protocol: group.protocol.clone(),
                    leader: group.leader.clone().unwrap_or_default(),
                    member_id: new_id,
                    members: Vec::new(),
                },
            );
            self.store(&group_id);
            return;
        }
        let member = group.members.get_mut(&new_id).expect("inserted above");
        member.awaiting_join = Some((request.from, request.correlation_id));
        if group.state != GroupState::PreparingRebalance {
            let reason = format!("static member {} rejoined with changed metadata", request.client_id);
            Self::prepare_rebalance(now, outbox, &group_id, group, reason);
        }
        self.maybe_complete_join(now, outbox, &group_id);
    }

    fn prepare_rebalance(now: Instant, outbox: &mut Outbox, group_id: &str, group: &mut Group, reason: String) {
        // Parked syncs of the old round fail: the members must rejoin.
        for member in group.members.values_mut() {
            if let Some((node, corr)) = member.awaiting_sync.take() {
                outbox.send(
                    node,
                    Message::SyncGroupResponse {
                        correlation_id: corr,
                        error: Some(ErrorCode::RebalanceInProgress),
                        assignment: Vec::new(),
                    },
                );
            }
        }
        group.state = GroupState::PreparingRebalance;
        let timeout = group.members.values().map(|m| m.rebalance_timeout).max().unwrap_or_default();
        group.rebalance_deadline = Some(now + timeout);
        outbox.event(Event::RebalanceStarted { group: Name::new(group_id), reason });
    }

    fn maybe_complete_join(&mut self, now: Instant, outbox: &mut Outbox, group_id: &str) {
        let Some(group) = self.groups.get_mut(group_id) else { return };
        if group.state != GroupState::PreparingRebalance {
            return;
        }
        let all_joined = group.members.values().all(|m| m.awaiting_join.is_some());
        let delay_over = group.initial_delay_until.is_none_or(|t| now >= t);
        let timed_out = group.rebalance_deadline.is_some_and(|t| now >= t);
        if !((all_joined && delay_over) || timed_out) {
            return;
        }
        // Members that did not rejoin in time are dropped (`removeMemberAndUpdateGroup`).
        let absent: Vec<String> =
            group.members.iter().filter(|(_, m)| m.awaiting_join.is_none()).map(|(id, _)| id.clone()).collect();
        for id in absent {
            if let Some(m) = group.members.remove(&id) {
                if let Some(instance) = m.group_instance_id {
                    group.static_members.remove(&instance);
                }
            }
            outbox.event(Event::MemberRemoved {
                group: Name::new(group_id),
                member_id: id,
                reason: "did not rejoin before the rebalance timeout".into(),
            });
        }
        group.initial_delay_until = None;
        group.rebalance_deadline = None;
        group.generation_id += 1;
        if group.members.is_empty() {
            group.state = GroupState::Empty;
            group.leader = None;
            group.protocol.clear();
            self.store(group_id);
            return;
        }
        if group.leader.as_ref().is_none_or(|l| !group.members.contains_key(l)) {
            group.leader = group.members.iter().min_by_key(|(_, m)| m.join_order).map(|(id, _)| id.clone());
        }
        let leader = group.leader.clone().expect("a non-empty group has a leader");
        group.protocol = group.select_protocol(&leader);
        group.state = GroupState::CompletingRebalance;
        let joined: Vec<JoinedMember> = group
            .members
            .iter()
            .map(|(id, m)| JoinedMember {
                member_id: id.clone(),
                group_instance_id: m.group_instance_id.clone(),
                subscription: m.subscription.clone(),
            })
            .collect();
        for (id, member) in group.members.iter_mut() {
            member.last_heartbeat = now;
            member.assignment.clear();
            let (node, corr) = member.awaiting_join.take().expect("all members joined");
            outbox.send(
                node,
                Message::JoinGroupResponse {
                    correlation_id: corr,
                    error: None,
                    generation_id: group.generation_id,
                    protocol: group.protocol.clone(),
                    leader: leader.clone(),
                    member_id: id.clone(),
                    members: if *id == leader { joined.clone() } else { Vec::new() },
                },
            );
        }
        outbox.event(Event::GroupRebalanced {
            group: Name::new(group_id),
            generation_id: group.generation_id,
            leader,
            members: group.members.values().map(|m| m.client_id.clone()).collect(),
            protocol: group.protocol.clone(),
        });
    }

    /// Checks a static member's instance id against the member id it claims (KIP-345).
    fn fenced(group: &Group, member_id: &str, group_instance_id: Option<&str>) -> bool {
        group_instance_id
            .is_some_and(|instance| group.static_members.get(instance).is_some_and(|owner| owner != member_id))
    }

    /// SyncGroup.
    #[allow(clippy::too_many_arguments)]
    pub fn sync(
        &mut self,
        now: Instant,
        outbox: &mut Outbox,
        from: NodeId,
        correlation_id: u64,
        group_id: &str,
        generation_id: i32,
        member_id: &str,
        group_instance_id: Option<&str>,
        assignments: BTreeMap<String, Vec<TopicPartition>>,
    ) {
        let reply = |outbox: &mut Outbox, error: Option<ErrorCode>, assignment: Vec<TopicPartition>| {
            outbox.send(from, Message::SyncGroupResponse { correlation_id, error, assignment });
        };
        let Some(group) = self.groups.get_mut(group_id) else {
            return reply(outbox, Some(ErrorCode::UnknownMemberId), Vec::new());
        };
        if Self::fenced(group, member_id, group_instance_id) {
            return reply(outbox, Some(ErrorCode::FencedInstanceId), Vec::new());
        }
        if !group.members.contains_key(member_id) {
            return reply(outbox, Some(ErrorCode::UnknownMemberId), Vec::new());
        }
        if generation_id != group.generation_id {
            return reply(outbox, Some(ErrorCode::IllegalGeneration), Vec::new());
        }
        match group.state {
            GroupState::Empty | GroupState::Dead | GroupState::PreparingRebalance => {
                reply(outbox, Some(ErrorCode::RebalanceInProgress), Vec::new())
            }
            GroupState::Stable => {
                let assignment = group.members[member_id].assignment.clone();
                reply(outbox, None, assignment)
            }
            GroupState::CompletingRebalance => {
                let member = group.members.get_mut(member_id).expect("checked above");
                member.last_heartbeat = now;
                member.awaiting_sync = Some((from, correlation_id));
                if group.leader.as_deref() == Some(member_id) {
                    for (id, m) in group.members.iter_mut() {
                        m.assignment = assignments.get(id).cloned().unwrap_or_default();
                        if let Some((node, corr)) = m.awaiting_sync.take() {
                            outbox.send(
                                node,
                                Message::SyncGroupResponse {
                                    correlation_id: corr,
                                    error: None,
                                    assignment: m.assignment.clone(),
                                },
                            );
                        }
                    }
                    group.state = GroupState::Stable;
                    self.store(group_id);
                }
            }
        }
    }

    /// Heartbeat.
    #[allow(clippy::too_many_arguments)]
    pub fn heartbeat(
        &mut self,
        now: Instant,
        outbox: &mut Outbox,
        from: NodeId,
        correlation_id: u64,
        group_id: &str,
        generation_id: i32,
        member_id: &str,
        group_instance_id: Option<&str>,
    ) {
        let error = match self.groups.get_mut(group_id) {
            None => Some(ErrorCode::UnknownMemberId),
            Some(group) if Self::fenced(group, member_id, group_instance_id) => Some(ErrorCode::FencedInstanceId),
            Some(group) => match group.members.get_mut(member_id) {
                None => Some(ErrorCode::UnknownMemberId),
                Some(member) => {
                    member.last_heartbeat = now;
                    if generation_id != group.generation_id {
                        Some(ErrorCode::IllegalGeneration)
                    } else if group.state == GroupState::PreparingRebalance {
                        Some(ErrorCode::RebalanceInProgress)
                    } else {
                        None
                    }
                }
            },
        };
        outbox.send(from, Message::HeartbeatResponse { correlation_id, error });
    }

    /// LeaveGroup.
    pub fn leave(
        &mut self,
        now: Instant,
        outbox: &mut Outbox,
        from: NodeId,
        correlation_id: u64,
        group_id: &str,
        member_id: &str,
    ) {
        let removed = self.groups.get_mut(group_id).and_then(|g| {
            let removed = g.members.remove(member_id);
            if let Some(instance) = removed.as_ref().and_then(|m| m.group_instance_id.as_ref()) {
                g.static_members.remove(instance);
            }
            removed
        });
        let error = if removed.is_some() { None } else { Some(ErrorCode::UnknownMemberId) };
        outbox.send(from, Message::LeaveGroupResponse { correlation_id, error });
        if let Some(member) = removed {
            outbox.event(Event::MemberRemoved {
                group: group_id.into(),
                member_id: member_id.into(),
                reason: "left the group".into(),
            });
            self.after_removal(now, outbox, group_id, format!("{} left", member.client_id));
        }
    }

    fn after_removal(&mut self, now: Instant, outbox: &mut Outbox, group_id: &str, reason: String) {
        let Some(group) = self.groups.get_mut(group_id) else { return };
        if group.members.is_empty() {
            group.state = GroupState::Empty;
            group.generation_id += 1;
            group.leader = None;
            group.protocol.clear();
            group.rebalance_deadline = None;
            group.initial_delay_until = None;
            self.store(group_id);
            return;
        }
        if group.state != GroupState::PreparingRebalance {
            Self::prepare_rebalance(now, outbox, group_id, group, reason);
        }
        self.maybe_complete_join(now, outbox, group_id);
    }

    /// Validates an OffsetCommit. On success the broker appends the offsets and calls
    /// [`GroupCoordinator::complete_commit`] once they are replicated.
    pub fn validate_commit(
        &self,
        group_id: &str,
        generation_id: i32,
        member_id: &str,
        group_instance_id: Option<&str>,
    ) -> Result<(), ErrorCode> {
        let Some(group) = self.groups.get(group_id) else {
            // Commits from outside any group (manual assignment) use generation -1.
            return if generation_id < 0 { Ok(()) } else { Err(ErrorCode::IllegalGeneration) };
        };
        if generation_id < 0 && member_id.is_empty() && group.members.is_empty() {
            return Ok(());
        }
        if Self::fenced(group, member_id, group_instance_id) {
            return Err(ErrorCode::FencedInstanceId);
        }
        if !group.members.contains_key(member_id) {
            return Err(ErrorCode::UnknownMemberId);
        }
        if generation_id != group.generation_id {
            return Err(ErrorCode::IllegalGeneration);
        }
        if group.state == GroupState::CompletingRebalance {
            return Err(ErrorCode::RebalanceInProgress);
        }
        Ok(())
    }

    /// Timers: session expiry, the end of a rebalance.
    pub fn handle_timeout(&mut self, now: Instant, outbox: &mut Outbox) {
        let names: Vec<String> = self.groups.keys().cloned().collect();
        for name in names {
            let expired: Vec<(String, String)> = self.groups[&name]
                .members
                .iter()
                .filter(|(_, m)| m.awaiting_join.is_none() && now >= m.last_heartbeat + m.session_timeout)
                .map(|(id, m)| (id.clone(), m.client_id.clone()))
                .collect();
            for (id, client) in expired {
                let group = self.groups.get_mut(&name).expect("listed");
                if let Some(instance) = group.members.remove(&id).and_then(|m| m.group_instance_id) {
                    group.static_members.remove(&instance);
                }
                outbox.event(Event::MemberRemoved {
                    group: Name::new(&name),
                    member_id: id,
                    reason: "session.timeout.ms expired".into(),
                });
                self.after_removal(now, outbox, &name, format!("{client}'s session expired"));
            }
            self.maybe_complete_join(now, outbox, &name);
        }
    }
}

/// The `__consumer_offsets` partition for a group: `abs(groupId.hashCode) % partitions`, with
/// Java's `String.hashCode` (GroupCoordinator.partitionFor).
pub fn offsets_partition_for(group_id: &str, partitions: i32) -> i32 {
    let mut h: i32 = 0;
    for unit in group_id.encode_utf16() {
        h = h.wrapping_mul(31).wrapping_add(i32::from(unit));
    }
    // Kafka's Utils.abs maps Integer.MIN_VALUE to 0.
    let abs = if h == i32::MIN { 0 } else { h.abs() };
    abs % partitions
}

/// The key of an offset-commit record in `__consumer_offsets`.
pub fn offset_record_key(group_id: &str, tp: &TopicPartition) -> String {
    format!("offset:{group_id}:{}:{}", tp.topic, tp.partition)
}

/// Parses a key made by [`offset_record_key`].
pub fn parse_offset_record_key(key: &str) -> Option<(String, TopicPartition)> {
    let rest = key.strip_prefix("offset:")?;
    let (rest, partition) = rest.rsplit_once(':')?;
    // Topic names cannot hold ':' (legal characters are [a-zA-Z0-9._-]); group ids can.
    let (group, topic) = rest.rsplit_once(':')?;
    Some((group.to_string(), TopicPartition::new(topic, partition.parse().ok()?)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn coordinator() -> GroupCoordinator {
        GroupCoordinator::new(CoordinatorConfig {
            initial_rebalance_delay: Duration::from_millis(3000),
            min_session_timeout: Duration::from_millis(6000),
            max_session_timeout: Duration::from_millis(1_800_000),
        })
    }

    fn sent(outbox: &mut Outbox) -> Vec<(NodeId, Message)> {
        let mut out = Vec::new();
        while let Some(effect) = outbox.poll_effect() {
            if let crate::node::Effect::Send { to, message } = effect {
                out.push((to, *message));
            }
        }
        out
    }

    fn join(c: &mut GroupCoordinator, now: u64, rng: &mut ChaCha8Rng, outbox: &mut Outbox, node: i32, member: &str) {
        join_as(c, now, rng, outbox, node, member, None, &["range"]);
    }

    #[allow(clippy::too_many_arguments)]
    fn join_as(
        c: &mut GroupCoordinator,
        now: u64,
        rng: &mut ChaCha8Rng,
        outbox: &mut Outbox,
        node: i32,
        member: &str,
        instance: Option<&str>,
        protocols: &[&str],
    ) {
        c.join(
            Instant::from_millis(now),
            rng,
            outbox,
            JoinRequest {
                from: NodeId(node),
                correlation_id: 1,
                group_id: "billing".into(),
                member_id: member.into(),
                group_instance_id: instance.map(str::to_string),
                client_id: format!("c{node}"),
                session_timeout_ms: 10_000,
                rebalance_timeout_ms: 300_000,
                protocols: protocols.iter().map(|p| p.to_string()).collect(),
                subscription: Subscription { topics: vec!["orders".into()], ..Subscription::default() },
            },
        );
    }

    #[test]
    fn offsets_partition_matches_javas_string_hash() {
        // "billing".hashCode() == -109829509 in Java; abs % 50 == 9.
        assert_eq!(offsets_partition_for("billing", 50), 9);
        assert_eq!(offsets_partition_for("", 50), 0);
        let key = offset_record_key("g:1", &TopicPartition::new("orders", 7));
        assert_eq!(parse_offset_record_key(&key), Some(("g:1".into(), TopicPartition::new("orders", 7))));
    }

    #[test]
    fn two_members_join_get_one_generation_and_a_session_expiry_rebalances() {
        let mut c = coordinator();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut out = Outbox::default();
        join(&mut c, 0, &mut rng, &mut out, 5000, "");
        let Message::JoinGroupResponse { error: Some(ErrorCode::MemberIdRequired), member_id: m1, .. } =
            sent(&mut out).remove(0).1
        else {
            panic!("expected MEMBER_ID_REQUIRED")
        };
        join(&mut c, 0, &mut rng, &mut out, 5001, "");
        let Message::JoinGroupResponse { member_id: m2, .. } = sent(&mut out).remove(0).1 else { panic!() };
        join(&mut c, 10, &mut rng, &mut out, 5000, &m1);
        join(&mut c, 20, &mut rng, &mut out, 5001, &m2);
        assert!(sent(&mut out).is_empty(), "joins wait for group.initial.rebalance.delay.ms");
        // Each join into the initially empty group extends the delay: 20 ms + 3 s.
        c.handle_timeout(Instant::from_millis(3010), &mut out);
        assert!(sent(&mut out).is_empty());
        c.handle_timeout(Instant::from_millis(3020), &mut out);
        let responses = sent(&mut out);
        assert_eq!(responses.len(), 2);
        for (_, m) in &responses {
            let Message::JoinGroupResponse { error: None, generation_id: 1, leader, .. } = m else { panic!("{m:?}") };
            assert_eq!(leader, &m1, "the first member to join leads");
        }
        let status = &c.status()[0];
        assert_eq!(status.state, GroupState::CompletingRebalance);
        // The member that stops heartbeating is removed after session.timeout.ms (10 s).
        c.heartbeat(Instant::from_millis(12_000), &mut out, NodeId(5000), 2, "billing", 1, &m1, None);
        assert_eq!(sent(&mut out).len(), 1);
        c.handle_timeout(Instant::from_millis(13_021), &mut out);
        let status = &c.status()[0];
        assert_eq!(status.members.len(), 1);
        assert_eq!(status.state, GroupState::PreparingRebalance);
        // The survivor's next heartbeat tells it to rejoin.
        c.heartbeat(Instant::from_millis(13_100), &mut out, NodeId(5000), 3, "billing", 1, &m1, None);
        let (_, Message::HeartbeatResponse { error, .. }) = sent(&mut out).remove(0) else { panic!() };
        assert_eq!(error, Some(ErrorCode::RebalanceInProgress));
        join(&mut c, 13_200, &mut rng, &mut out, 5000, &m1);
        let (_, Message::JoinGroupResponse { generation_id, members, .. }) = sent(&mut out).remove(0) else { panic!() };
        assert_eq!(generation_id, 2);
        assert_eq!(members.len(), 1);
    }

    #[test]
    fn commits_from_a_stale_generation_are_refused() {
        let mut c = coordinator();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut out = Outbox::default();
        join(&mut c, 0, &mut rng, &mut out, 5000, "");
        let Message::JoinGroupResponse { member_id: m1, .. } = sent(&mut out).remove(0).1 else { panic!() };
        join(&mut c, 0, &mut rng, &mut out, 5000, &m1);
        c.handle_timeout(Instant::from_millis(3000), &mut out);
        assert_eq!(c.validate_commit("billing", 1, &m1, None), Err(ErrorCode::RebalanceInProgress));
        let mut assignment = BTreeMap::new();
        assignment.insert(m1.clone(), vec![TopicPartition::new("orders", 0)]);
        c.sync(Instant::from_millis(3001), &mut out, NodeId(5000), 2, "billing", 1, &m1, None, assignment);
        assert_eq!(c.validate_commit("billing", 1, &m1, None), Ok(()));
        assert_eq!(c.validate_commit("billing", 0, &m1, None), Err(ErrorCode::IllegalGeneration));
        assert_eq!(c.validate_commit("billing", 1, "stranger", None), Err(ErrorCode::UnknownMemberId));
    }

    fn sync_as(
        c: &mut GroupCoordinator,
        now: u64,
        out: &mut Outbox,
        node: i32,
        generation: i32,
        member: &str,
        instance: Option<&str>,
        assignments: BTreeMap<String, Vec<TopicPartition>>,
    ) {
        c.sync(Instant::from_millis(now), out, NodeId(node), 9, "billing", generation, member, instance, assignments);
    }

    /// Joins a static member and completes generation 1 with it owning orders-0.
    fn stable_static_group(c: &mut GroupCoordinator, rng: &mut ChaCha8Rng, out: &mut Outbox) -> String {
        join_as(c, 0, rng, out, 5000, "", Some("billing-a"), &["range"]);
        c.handle_timeout(Instant::from_millis(3000), out);
        let Message::JoinGroupResponse { error: None, member_id, generation_id: 1, .. } = sent(out).remove(0).1 else {
            panic!("a static member joins without MEMBER_ID_REQUIRED")
        };
        assert!(member_id.starts_with("billing-a-"), "{member_id}");
        let mut assignment = BTreeMap::new();
        assignment.insert(member_id.clone(), vec![TopicPartition::new("orders", 0)]);
        sync_as(c, 3001, out, 5000, 1, &member_id, Some("billing-a"), assignment);
        sent(out);
        member_id
    }

    #[test]
    fn a_restarted_static_member_gets_its_assignment_back_without_a_rebalance() {
        let mut c = coordinator();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut out = Outbox::default();
        let old = stable_static_group(&mut c, &mut rng, &mut out);
        // The restarted process has no member id, only its instance id.
        join_as(&mut c, 5000, &mut rng, &mut out, 5000, "", Some("billing-a"), &["range"]);
        let Message::JoinGroupResponse { error: None, member_id: new, generation_id, .. } = sent(&mut out).remove(0).1
        else {
            panic!("answered at once")
        };
        assert_ne!(new, old);
        assert_eq!(generation_id, 1, "no new generation");
        assert_eq!(c.status()[0].state, GroupState::Stable);
        sync_as(&mut c, 5001, &mut out, 5000, 1, &new, Some("billing-a"), BTreeMap::new());
        let Message::SyncGroupResponse { error: None, assignment, .. } = sent(&mut out).remove(0).1 else { panic!() };
        assert_eq!(assignment, vec![TopicPartition::new("orders", 0)]);
        // The old incarnation is fenced.
        c.heartbeat(Instant::from_millis(5002), &mut out, NodeId(5000), 3, "billing", 1, &old, Some("billing-a"));
        let Message::HeartbeatResponse { error, .. } = sent(&mut out).remove(0).1 else { panic!() };
        assert_eq!(error, Some(ErrorCode::FencedInstanceId));
        assert_eq!(c.validate_commit("billing", 1, &old, Some("billing-a")), Err(ErrorCode::FencedInstanceId));
        let events: Vec<Event> = std::iter::from_fn(|| out.poll_event()).collect();
        assert!(events.iter().any(|e| matches!(e, Event::StaticMemberRejoined { .. })), "{events:?}");
        assert_eq!(
            events.iter().filter(|e| matches!(e, Event::RebalanceStarted { .. })).count(),
            1,
            "only the first join"
        );
    }

    #[test]
    fn the_protocol_every_member_offers_wins_and_a_stranger_is_refused() {
        let mut c = coordinator();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut out = Outbox::default();
        join_as(&mut c, 0, &mut rng, &mut out, 5000, "", None, &["cooperative-sticky", "range"]);
        let Message::JoinGroupResponse { member_id: m1, .. } = sent(&mut out).remove(0).1 else { panic!() };
        join_as(&mut c, 0, &mut rng, &mut out, 5000, &m1, None, &["cooperative-sticky", "range"]);
        join_as(&mut c, 0, &mut rng, &mut out, 5001, "", None, &["range"]);
        let Message::JoinGroupResponse { member_id: m2, .. } = sent(&mut out).remove(0).1 else { panic!() };
        join_as(&mut c, 0, &mut rng, &mut out, 5001, &m2, None, &["range"]);
        // A member offering only roundrobin shares nothing with the others.
        join_as(&mut c, 0, &mut rng, &mut out, 5002, "x", None, &["roundrobin"]);
        let Message::JoinGroupResponse { error, .. } = sent(&mut out).remove(0).1 else { panic!() };
        assert_eq!(error, Some(ErrorCode::InconsistentGroupProtocol));
        c.handle_timeout(Instant::from_millis(3000), &mut out);
        for (_, m) in sent(&mut out) {
            let Message::JoinGroupResponse { protocol, .. } = m else { panic!() };
            assert_eq!(protocol, "range", "only range is offered by both");
        }
    }

    #[test]
    fn group_records_round_trip_and_a_new_coordinator_loads_the_group_stable() {
        let mut c = coordinator();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut out = Outbox::default();
        let member = stable_static_group(&mut c, &mut rng, &mut out);
        let stores = c.take_stores();
        let (group, record) = stores.last().expect("a completed generation is stored").clone();
        assert_eq!(GroupRecord::decode(&record.encode()), Some(record.clone()));
        assert_eq!(record.generation_id, 1);
        let mut next = coordinator();
        next.load_group(Instant::from_millis(9000), &mut out, &group, record);
        let status = &next.status()[0];
        assert_eq!(status.state, GroupState::Stable);
        assert_eq!(status.members[0].assignment, vec![TopicPartition::new("orders", 0)]);
        // The member heartbeats to the new coordinator with its old generation: no rebalance.
        next.heartbeat(Instant::from_millis(9100), &mut out, NodeId(5000), 4, "billing", 1, &member, Some("billing-a"));
        let Message::HeartbeatResponse { error, .. } = sent(&mut out).remove(0).1 else { panic!() };
        assert_eq!(error, None);
    }
}
