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
use crate::ids::{NodeId, TopicPartition};
use crate::node::Outbox;
use crate::protocol::{JoinedMember, Message};
use crate::time::Instant;
use core::time::Duration;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet};

/// The assignor every member offers for now (Kafka's `RangeAssignor`).
pub const PROTOCOL: &str = crate::assignor::RANGE;

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
}

impl GroupState {
    /// The name Kafka's tools print.
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
        }
    }
}

#[derive(Clone, Debug)]
struct Member {
    client_id: String,
    session_timeout: Duration,
    rebalance_timeout: Duration,
    topics: Vec<String>,
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
    pending_member_ids: BTreeSet<String>,
    /// When PreparingRebalance ends at the latest.
    rebalance_deadline: Option<Instant>,
    /// The initial delay for a group that was empty (`group.initial.rebalance.delay.ms`).
    initial_delay_until: Option<Instant>,
}

impl Group {
    fn new() -> Group {
        Group {
            state: GroupState::Empty,
            generation_id: 0,
            protocol: String::new(),
            leader: None,
            members: BTreeMap::new(),
            pending_member_ids: BTreeSet::new(),
            rebalance_deadline: None,
            initial_delay_until: None,
        }
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

/// All groups this broker coordinates.
#[derive(Debug)]
pub struct GroupCoordinator {
    config: CoordinatorConfig,
    groups: BTreeMap<String, Group>,
    offsets: BTreeMap<String, BTreeMap<TopicPartition, i64>>,
}

/// A validated commit the broker must append and replicate before answering.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcceptedCommit {
    /// The group.
    pub group: String,
    /// Offsets to store.
    pub offsets: Vec<(TopicPartition, i64)>,
}

impl GroupCoordinator {
    /// A coordinator with no groups.
    pub fn new(config: CoordinatorConfig) -> GroupCoordinator {
        GroupCoordinator { config, groups: BTreeMap::new(), offsets: BTreeMap::new() }
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

    /// Applies a commit once replicated.
    pub fn complete_commit(&mut self, outbox: &mut Outbox, commit: &AcceptedCommit) {
        for (tp, offset) in &commit.offsets {
            self.load_offset(&commit.group, tp.clone(), *offset);
            outbox.event(Event::OffsetCommitted { group: commit.group.clone(), tp: tp.clone(), offset: *offset });
        }
    }

    /// Committed offsets of a group.
    pub fn committed(&self, group: &str) -> BTreeMap<TopicPartition, i64> {
        self.offsets.get(group).cloned().unwrap_or_default()
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
                                    group_instance_id: None,
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

    /// JoinGroup.
    pub fn join(
        &mut self,
        now: Instant,
        rng: &mut ChaCha8Rng,
        outbox: &mut Outbox,
        from: NodeId,
        correlation_id: u64,
        group_id: &str,
        member_id: &str,
        client_id: &str,
        session_timeout_ms: u64,
        rebalance_timeout_ms: u64,
        topics: Vec<String>,
    ) {
        let session_timeout = Duration::from_millis(session_timeout_ms);
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
            panic!("session.timeout.ms {session_timeout_ms} outside the broker's group.min/max.session.timeout.ms");
        }
        let group = self.groups.entry(group_id.to_string()).or_insert_with(Group::new);
        if member_id.is_empty() {
            // KIP-394: hand out an id and ask the member to come back with it.
            let new_id = format!("{client_id}-{:016x}", rng.gen::<u64>());
            group.pending_member_ids.insert(new_id.clone());
            return reply_error(outbox, ErrorCode::MemberIdRequired, new_id);
        }
        let known = group.members.contains_key(member_id);
        if !known && !group.pending_member_ids.remove(member_id) {
            return reply_error(outbox, ErrorCode::UnknownMemberId, member_id.to_string());
        }
        let join_order = group.members.values().map(|m| m.join_order + 1).max().unwrap_or(0);
        let member = group.members.entry(member_id.to_string()).or_insert_with(|| Member {
            client_id: client_id.to_string(),
            session_timeout,
            rebalance_timeout: Duration::from_millis(rebalance_timeout_ms),
            topics: topics.clone(),
            last_heartbeat: now,
            awaiting_join: None,
            awaiting_sync: None,
            assignment: Vec::new(),
            join_order,
        });
        let subscription_changed = member.topics != topics;
        member.topics = topics;
        member.last_heartbeat = now;
        member.awaiting_join = Some((from, correlation_id));
        match group.state {
            GroupState::Empty => {
                group.state = GroupState::PreparingRebalance;
                let delay = self.config.initial_rebalance_delay;
                group.initial_delay_until = Some(now + delay);
                group.rebalance_deadline = Some(now + delay.max(member.rebalance_timeout));
                outbox.event(Event::RebalanceStarted {
                    group: group_id.to_string(),
                    reason: format!("{client_id} joined an empty group"),
                });
            }
            GroupState::Stable | GroupState::CompletingRebalance => {
                let reason = if !known {
                    format!("new member {client_id} joined")
                } else if subscription_changed {
                    format!("{client_id} changed its subscription")
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
        self.maybe_complete_join(now, outbox, group_id);
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
        outbox.event(Event::RebalanceStarted { group: group_id.to_string(), reason });
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
            group.members.remove(&id);
            outbox.event(Event::MemberRemoved {
                group: group_id.to_string(),
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
            return;
        }
        group.protocol = PROTOCOL.to_string();
        if group.leader.as_ref().is_none_or(|l| !group.members.contains_key(l)) {
            group.leader = group.members.iter().min_by_key(|(_, m)| m.join_order).map(|(id, _)| id.clone());
        }
        let leader = group.leader.clone().expect("a non-empty group has a leader");
        group.state = GroupState::CompletingRebalance;
        let joined: Vec<JoinedMember> = group
            .members
            .iter()
            .map(|(id, m)| JoinedMember { member_id: id.clone(), group_instance_id: None, topics: m.topics.clone() })
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
            group: group_id.to_string(),
            generation_id: group.generation_id,
            leader,
            members: group.members.values().map(|m| m.client_id.clone()).collect(),
            protocol: group.protocol.clone(),
        });
    }

    /// SyncGroup.
    pub fn sync(
        &mut self,
        now: Instant,
        outbox: &mut Outbox,
        from: NodeId,
        correlation_id: u64,
        group_id: &str,
        generation_id: i32,
        member_id: &str,
        assignments: BTreeMap<String, Vec<TopicPartition>>,
    ) {
        let reply = |outbox: &mut Outbox, error: Option<ErrorCode>, assignment: Vec<TopicPartition>| {
            outbox.send(from, Message::SyncGroupResponse { correlation_id, error, assignment });
        };
        let Some(group) = self.groups.get_mut(group_id) else {
            return reply(outbox, Some(ErrorCode::UnknownMemberId), Vec::new());
        };
        if !group.members.contains_key(member_id) {
            return reply(outbox, Some(ErrorCode::UnknownMemberId), Vec::new());
        }
        if generation_id != group.generation_id {
            return reply(outbox, Some(ErrorCode::IllegalGeneration), Vec::new());
        }
        match group.state {
            GroupState::Empty | GroupState::PreparingRebalance => {
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
                }
            }
        }
    }

    /// Heartbeat.
    pub fn heartbeat(
        &mut self,
        now: Instant,
        outbox: &mut Outbox,
        from: NodeId,
        correlation_id: u64,
        group_id: &str,
        generation_id: i32,
        member_id: &str,
    ) {
        let error = match self.groups.get_mut(group_id) {
            None => Some(ErrorCode::UnknownMemberId),
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
        let removed = self.groups.get_mut(group_id).and_then(|g| g.members.remove(member_id));
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
            group.rebalance_deadline = None;
            group.initial_delay_until = None;
            return;
        }
        if group.state != GroupState::PreparingRebalance {
            Self::prepare_rebalance(now, outbox, group_id, group, reason);
        }
        self.maybe_complete_join(now, outbox, group_id);
    }

    /// Validates an OffsetCommit. On success the broker appends the offsets and calls
    /// [`GroupCoordinator::complete_commit`] once they are replicated.
    pub fn validate_commit(&self, group_id: &str, generation_id: i32, member_id: &str) -> Result<(), ErrorCode> {
        let Some(group) = self.groups.get(group_id) else {
            // Commits from outside any group (manual assignment) use generation -1.
            return if generation_id < 0 { Ok(()) } else { Err(ErrorCode::IllegalGeneration) };
        };
        if generation_id < 0 && member_id.is_empty() && group.members.is_empty() {
            return Ok(());
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
                self.groups.get_mut(&name).expect("listed").members.remove(&id);
                outbox.event(Event::MemberRemoved {
                    group: name.clone(),
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
                out.push((to, message));
            }
        }
        out
    }

    fn join(c: &mut GroupCoordinator, now: u64, rng: &mut ChaCha8Rng, outbox: &mut Outbox, node: i32, member: &str) {
        c.join(
            Instant::from_millis(now),
            rng,
            outbox,
            NodeId(node),
            1,
            "billing",
            member,
            &format!("c{node}"),
            10_000,
            300_000,
            vec!["orders".into()],
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
        c.heartbeat(Instant::from_millis(12_000), &mut out, NodeId(5000), 2, "billing", 1, &m1);
        assert_eq!(sent(&mut out).len(), 1);
        c.handle_timeout(Instant::from_millis(13_021), &mut out);
        let status = &c.status()[0];
        assert_eq!(status.members.len(), 1);
        assert_eq!(status.state, GroupState::PreparingRebalance);
        // The survivor's next heartbeat tells it to rejoin.
        c.heartbeat(Instant::from_millis(13_100), &mut out, NodeId(5000), 3, "billing", 1, &m1);
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
        assert_eq!(c.validate_commit("billing", 1, &m1), Err(ErrorCode::RebalanceInProgress));
        let mut assignment = BTreeMap::new();
        assignment.insert(m1.clone(), vec![TopicPartition::new("orders", 0)]);
        c.sync(Instant::from_millis(3001), &mut out, NodeId(5000), 2, "billing", 1, &m1, assignment);
        assert_eq!(c.validate_commit("billing", 1, &m1), Ok(()));
        assert_eq!(c.validate_commit("billing", 0, &m1), Err(ErrorCode::IllegalGeneration));
        assert_eq!(c.validate_commit("billing", 1, "stranger"), Err(ErrorCode::UnknownMemberId));
    }
}
