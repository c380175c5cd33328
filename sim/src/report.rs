//! Describing a run: the cluster view front ends draw, the report `kafkalab run` prints, and
//! the text tables in the shape of Kafka's command-line tools.
//!
//! The consumer-group tables (`kafkalab describe groups` and the groups section of `kafkalab
//! run`) follow `kafka-consumer-groups.sh --describe` as apache/kafka's
//! `tools/src/main/java/org/apache/kafka/tools/consumer/group/ConsumerGroupCommand.java` prints
//! them (trunk of October 2024: the Kafka 3.9 tool with the layout fix of apache/kafka#17058),
//! column for column and space for space, notes and errors included. The one departure is the
//! `ASSIGNMENT` column of `--members --verbose`, which keeps the topic name as Kafka up to 3.7
//! printed it (`orders(0,1)`; the Java port drops it).

use crate::check::{Anomalies, ExpectationResult};
use crate::scenario::Scenario;
use crate::view::*;
use crate::world::{Hosted, NodeKind, World};
use crate::SimulationCrash;
use cluster::broker::{BrokerStatus, OFFSETS_TOPIC};
use cluster::group::{offsets_partition_for, GroupStatus};
use cluster::ids::{NodeId, TopicPartition};
use cluster::metadata::MetadataImage;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

/// Everything `kafkalab run` reports. With `--json` this is printed as one object; the field
/// names are a stable contract (later work adds fields, never renames them).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// Scenario name.
    pub scenario: String,
    /// Seed the run used.
    pub seed: u64,
    /// Trace digest: equal digests mean identical runs.
    pub digest: String,
    /// Simulated time covered, in milliseconds.
    pub sim_time_ms: u64,
    /// Wall-clock time the run took, in milliseconds.
    pub wall_time_ms: u64,
    /// `sim_time_ms / wall_time_ms`.
    pub speedup: f64,
    /// Trace records.
    pub events: u64,
    /// Brokers at the end.
    pub brokers: Vec<BrokerView>,
    /// Clients at the end.
    pub clients: Vec<ClientView>,
    /// Topics at the end (`kafka-topics.sh --describe`).
    pub topics: Vec<TopicDescription>,
    /// Groups at the end (`kafka-consumer-groups.sh --describe`).
    pub groups: Vec<GroupDescription>,
    /// The metadata quorum at the end (`kafka-metadata-quorum.sh describe`).
    pub quorum: QuorumDescription,
    /// Counts of anomalies the history oracle found.
    pub anomalies: Anomalies,
    /// The oracle's findings in words.
    pub findings: Vec<String>,
    /// Each expectation and whether it held.
    pub expectations: Vec<ExpectationResult>,
}

impl RunReport {
    /// Whether every expectation held.
    pub fn passed(&self) -> bool {
        self.expectations.iter().all(|e| e.passed)
    }
}

fn image_of(world: &World) -> MetadataImage {
    // The active controller's image is authoritative; without one, the freshest broker image
    // stands in, as `kafka-topics.sh` would then answer from a broker.
    if let Some(active) = world.active_controller() {
        let hosted = world.slots()[&active].hosted.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = hosted.as_ref().and_then(|h| h.controller()) {
            return c.status().image;
        }
    }
    let mut best: Option<MetadataImage> = None;
    for slot in world.slots().values() {
        let hosted = slot.hosted.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(b) = hosted.as_ref().and_then(|h| h.broker()) {
            let image = b.image();
            if best.as_ref().is_none_or(|i| i.partitions.len() < image.partitions.len()) {
                best = Some(image.clone());
            }
        }
    }
    best.unwrap_or_default()
}

/// The quorum as `kafka-metadata-quorum.sh describe` reports it: the leader's view of every
/// replica where there is a leader, each node's own state otherwise.
pub fn build_quorum(world: &World) -> QuorumDescription {
    let statuses = world.quorum_statuses();
    let voters = world.voters();
    let leader = statuses
        .iter()
        .filter(|s| s.role == cluster::raft::QuorumRole::Leader)
        .max_by_key(|s| (s.epoch, s.leader_committed));
    let leader_epoch = leader.map_or_else(|| statuses.iter().map(|s| s.epoch).max().unwrap_or(0), |l| l.epoch);
    let leader_end = leader.map_or(0, |l| l.log_end_offset);
    let describe = |id: NodeId| -> QuorumReplica {
        let own = statuses.iter().find(|s| s.node_id == id);
        let seen = leader.and_then(|l| l.replicas.iter().find(|(r, _)| r.node_id == id)).map(|(r, _)| r);
        let log_end_offset = match (seen, own) {
            (Some(r), _) if r.log_end_offset >= 0 => r.log_end_offset,
            (_, Some(s)) => s.log_end_offset,
            _ => -1,
        };
        QuorumReplica {
            node_id: id.0,
            log_end_offset,
            lag: if leader.is_some() && log_end_offset >= 0 { (leader_end - log_end_offset).max(0) } else { 0 },
            role: own.map_or("Down".to_string(), |s| s.role.name().to_string()),
            epoch: own.map_or(-1, |s| s.epoch),
            last_fetch_ms: seen.and_then(|r| r.last_fetch_ms),
            last_caught_up_ms: seen.and_then(|r| r.last_caught_up_ms),
        }
    };
    let observers: Vec<NodeId> =
        world.slots().values().filter(|s| s.is_broker() && !voters.contains(&s.id)).map(|s| s.id).collect();
    QuorumDescription {
        leader_id: leader.map(|l| l.node_id.0),
        leader_epoch,
        high_watermark: leader.map_or_else(
            || statuses.iter().filter(|s| voters.contains(&s.node_id)).map(|s| s.high_watermark).max().unwrap_or(0),
            |l| l.high_watermark,
        ),
        quorum_size: voters.len() / 2 + 1,
        voters: voters.iter().map(|v| describe(*v)).collect(),
        observers: observers.into_iter().map(describe).collect(),
    }
}

/// When each group of the scenario last completed a rebalance, in milliseconds of simulated
/// time: the coordinator records `GroupRebalanced` each time it moves a group to a new
/// generation, and the trace keeps the latest time per group as it records them.
fn last_rebalances(world: &World) -> BTreeMap<String, u64> {
    let wanted: Vec<String> = world.group_topics().into_keys().filter(|g| !g.is_empty()).collect();
    world.last_rebalance_ms().into_iter().filter(|(group, _)| wanted.contains(group)).collect()
}

/// Runs `scenario` with `seed` on a fresh thread up to `at` (default, and at most: its end),
/// the way `kafkalab dump-log` does, and returns the cluster as Kafka's tools would describe
/// it then.
///
/// Errors: [`SimulationCrash`] when a node panicked before `at`; it carries the seed that
/// reproduces it.
pub fn view_at(scenario: Scenario, seed: u64, at: Option<Duration>) -> Result<ClusterView, SimulationCrash> {
    let name = scenario.name.clone();
    std::thread::Builder::new()
        .name(format!("kafkalab-seed-{seed}"))
        .spawn(move || {
            let mut world = World::new(scenario, seed);
            let end = at.unwrap_or(world.duration()).min(world.duration());
            while world.elapsed() < end {
                world.step();
            }
            world.view()
        })
        .expect("spawning the simulation thread")
        .join()
        .map_err(|panic| {
            // `panic!` carries a `String` or a `&str`.
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|m| m.to_string()))
                .unwrap_or_else(|| "(no message)".to_string());
            SimulationCrash { scenario: name, seed, message }
        })
}

/// Builds the view of `world` now.
pub fn build_view(world: &World) -> ClusterView {
    let image = image_of(world);
    let mut broker_status: BTreeMap<NodeId, BrokerStatus> = BTreeMap::new();
    let mut clients = Vec::new();
    let controller_up = world.active_controller().is_some();
    for slot in world.slots().values() {
        let hosted = slot.hosted.lock().unwrap_or_else(|e| e.into_inner());
        match (&slot.kind, hosted.as_ref()) {
            (NodeKind::Controller, _) => {}
            (NodeKind::Broker | NodeKind::Combined, h) => {
                if let Some(b) = h.and_then(|h| h.broker()) {
                    broker_status.insert(slot.id, b.status());
                }
            }
            (NodeKind::Producer(_), h) => {
                let status = match h {
                    Some(Hosted::Producer(p)) => Some(p.status()),
                    _ => None,
                };
                clients.push(ClientView {
                    id: slot.name.clone(),
                    kind: "producer".into(),
                    up: status.is_some(),
                    records: status.as_ref().map_or(0, |s| s.acked),
                    state: match &status {
                        None => "down".into(),
                        Some(s) if s.queued > 0 => "sending".into(),
                        Some(_) => "idle".into(),
                    },
                });
            }
            (NodeKind::Consumer(_), h) => {
                let status = match h {
                    Some(Hosted::Consumer(c)) => Some(c.status()),
                    _ => None,
                };
                clients.push(ClientView {
                    id: slot.name.clone(),
                    kind: "consumer".into(),
                    up: status.is_some(),
                    records: status.as_ref().map_or(0, |s| s.polled),
                    state: status.map_or("down".into(), |s| s.phase.word().to_string()),
                });
            }
        }
    }
    let user = |tp: &TopicPartition| tp.topic != OFFSETS_TOPIC;
    let brokers = world
        .slots()
        .values()
        .filter(|s| s.is_broker())
        .map(|s| BrokerView {
            id: s.id.0,
            up: broker_status.contains_key(&s.id),
            fenced: image.brokers.get(&s.id).is_none_or(|b| b.fenced),
            leader_count: image.partitions.values().filter(|p| user(&p.tp) && p.leader == Some(s.id)).count(),
            replica_count: image.partitions.values().filter(|p| user(&p.tp) && p.replicas.contains(&s.id)).count(),
        })
        .collect();
    let replica = |broker: NodeId, tp: &TopicPartition| {
        broker_status.get(&broker).and_then(|s| s.replicas.iter().find(|r| &r.state.tp == tp).cloned())
    };
    let mut topics = Vec::new();
    for (name, topic) in image.topics.iter().filter(|(_, t)| !t.internal) {
        let mut partitions = Vec::new();
        for p in 0..topic.partitions {
            let tp = TopicPartition::new(name.clone(), p);
            let Some(state) = image.partitions.get(&tp) else { continue };
            let replica_offsets: Vec<ReplicaOffsets> = state
                .replicas
                .iter()
                .map(|b| {
                    let r = replica(*b, &tp);
                    ReplicaOffsets {
                        broker: b.0,
                        log_end_offset: r.as_ref().map(|r| r.log_end_offset),
                        high_watermark: r.as_ref().map(|r| r.high_watermark),
                    }
                })
                .collect();
            // Offsets come from the leader; an offline partition shows its best replica.
            let source = state
                .leader
                .and_then(|l| replica(l, &tp))
                .or_else(|| state.replicas.iter().filter_map(|b| replica(*b, &tp)).max_by_key(|r| r.log_end_offset));
            partitions.push(PartitionDescription {
                partition: p,
                leader: state.leader.map(|l| l.0),
                leader_epoch: state.leader_epoch,
                replicas: state.replicas.iter().map(|r| r.0).collect(),
                isr: state.isr.iter().map(|r| r.0).collect(),
                adding_replicas: state.adding_replicas.iter().map(|r| r.0).collect(),
                removing_replicas: state.removing_replicas.iter().map(|r| r.0).collect(),
                log_start_offset: source.as_ref().map_or(0, |r| r.log_start_offset),
                high_watermark: source.as_ref().map_or(0, |r| r.high_watermark),
                log_end_offset: source.as_ref().map_or(0, |r| r.log_end_offset),
                segments: source.as_ref().map_or(0, |r| r.segments),
                size_bytes: source.as_ref().map_or(0, |r| r.size_bytes),
                replica_offsets,
            });
        }
        topics.push(TopicDescription {
            name: name.clone(),
            replication_factor: topic.replication_factor,
            min_insync_replicas: topic.min_insync_replicas,
            configs: topic.configs.clone(),
            partitions,
        });
    }
    let offsets_partitions = image.topics.get(OFFSETS_TOPIC).map_or(0, |t| t.partitions);
    let last_rebalances = last_rebalances(world);
    // A consumer's address, as the coordinator sees the connection it joined from.
    let host_of = |client_id: &str| {
        world.slots().values().find(|s| s.name == client_id).map(|s| format!("/{}", crate::world::ip_of(s.id)))
    };
    let mut groups = Vec::new();
    // Consumers without a `group.id` use `assign` and belong to no group.
    for (group, group_topics) in world.group_topics().into_iter().filter(|(group, _)| !group.is_empty()) {
        let coordinator = (offsets_partitions > 0)
            .then(|| {
                image
                    .partitions
                    .get(&TopicPartition::new(OFFSETS_TOPIC, offsets_partition_for(&group, offsets_partitions)))
            })
            .flatten()
            .and_then(|p| p.leader);
        let status: Option<GroupStatus> = coordinator
            .and_then(|c| broker_status.get(&c))
            .and_then(|s| s.groups.iter().find(|g| g.group == group).cloned());
        let members: Vec<MemberDescription> = status
            .as_ref()
            .map(|s| {
                s.members
                    .iter()
                    .map(|m| MemberDescription {
                        member_id: m.member_id.clone(),
                        client_id: m.client_id.clone(),
                        group_instance_id: m.group_instance_id.clone(),
                        host: host_of(&m.client_id).unwrap_or_default(),
                        assignment: m
                            .assignment
                            .iter()
                            .map(|tp| AssignedPartition { topic: tp.topic.to_string(), partition: tp.partition })
                            .collect(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut offsets = Vec::new();
        for topic in &group_topics {
            let Some(description) = topics.iter().find(|t| &t.name == topic) else { continue };
            for p in &description.partitions {
                let tp = TopicPartition::new(topic.clone(), p.partition);
                let committed = status.as_ref().and_then(|s| s.offsets.get(&tp).copied());
                let owner = members
                    .iter()
                    .find(|m| m.assignment.iter().any(|a| a.topic == *topic && a.partition == p.partition));
                offsets.push(OffsetDescription {
                    topic: topic.clone(),
                    partition: p.partition,
                    committed_offset: committed,
                    log_end_offset: p.high_watermark,
                    lag: committed.map(|c| (p.high_watermark - c).max(0)),
                    consumer_id: owner.map(|m| m.member_id.clone()),
                    client_id: owner.map(|m| m.client_id.clone()),
                    host: owner.map(|m| m.host.clone()),
                });
            }
        }
        groups.push(GroupDescription {
            state: match (&status, coordinator) {
                (Some(s), _) => s.state.name().to_string(),
                // The coordinator holds nothing for the group: describing it answers `Dead`, and
                // Kafka's tool reports that the group does not exist.
                (None, Some(_)) => "Dead".to_string(),
                (None, None) => "Unknown".to_string(),
            },
            generation_id: status.as_ref().map_or(0, |s| s.generation_id),
            protocol: status.as_ref().map_or(String::new(), |s| s.protocol.clone()),
            coordinator: coordinator.map(|c| c.0),
            members,
            offsets,
            last_rebalance_ms: last_rebalances.get(&group).copied(),
            group,
        });
    }
    let logs = partition_logs(world, &topics);
    ClusterView {
        time_ms: world.elapsed().as_millis() as u64,
        duration_ms: world.duration().as_millis() as u64,
        controller_up,
        quorum: build_quorum(world),
        brokers,
        clients,
        topics,
        groups,
        nodes: world.node_views(),
        active_faults: world.active_faults(),
        logs,
    }
}

/// The tail of every replica's log of every user partition: the batches holding its last
/// [`LOG_WINDOW`] offsets, read newest first so a long log costs no more than a short one.
fn partition_logs(world: &World, topics: &[TopicDescription]) -> Vec<PartitionLogView> {
    let mut out = Vec::new();
    for topic in topics {
        for partition in &topic.partitions {
            let tp = TopicPartition::new(topic.name.clone(), partition.partition);
            let replicas = partition
                .replicas
                .iter()
                .map(|broker| {
                    world
                        .with_log(NodeId(*broker), &tp, |log| {
                            let from = log.log_end_offset() - LOG_WINDOW;
                            let mut batches: Vec<BatchView> = log
                                .segments()
                                .iter()
                                .rev()
                                .flat_map(|segment| segment.batches().iter().rev())
                                .map(|stored| &stored.batch)
                                .take_while(|batch| batch.last_offset() >= from)
                                .map(|batch| {
                                    let present: Vec<i64> = batch.record_offsets().collect();
                                    BatchView {
                                        base_offset: batch.base_offset(),
                                        last_offset: batch.last_offset(),
                                        leader_epoch: batch.partition_leader_epoch(),
                                        producer_id: batch.producer_id(),
                                        base_sequence: batch.base_sequence(),
                                        removed: (batch.base_offset()..=batch.last_offset())
                                            .filter(|o| !present.contains(o))
                                            .collect(),
                                        tombstones: batch
                                            .records()
                                            .iter()
                                            .filter(|r| r.value.is_none())
                                            .map(|r| batch.offset_of(r))
                                            .collect(),
                                    }
                                })
                                .collect();
                            batches.reverse();
                            ReplicaLogView {
                                broker: *broker,
                                up: true,
                                log_start_offset: log.log_start_offset(),
                                high_watermark: log.high_watermark(),
                                log_end_offset: log.log_end_offset(),
                                batches,
                            }
                        })
                        .unwrap_or(ReplicaLogView {
                            broker: *broker,
                            up: false,
                            log_start_offset: 0,
                            high_watermark: 0,
                            log_end_offset: 0,
                            batches: Vec::new(),
                        })
                })
                .collect();
            out.push(PartitionLogView { topic: topic.name.clone(), partition: partition.partition, replicas });
        }
    }
    out
}

fn ids(v: &[i32]) -> String {
    v.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
}

/// The topics as `kafka-topics.sh --describe` prints them, followed by the offsets Kafka keeps
/// per partition (`kafka-log-dirs.sh` and `GetOffsetShell` show these in real Kafka).
pub fn describe_topics(topics: &[TopicDescription]) -> String {
    let mut out = String::new();
    for t in topics {
        // Kafka lists the topic's overrides, sorted by key; min.insync.replicas shows the
        // effective value so the acks=all rule is always in view.
        let mut configs = t.configs.clone();
        configs.insert("min.insync.replicas".to_string(), t.min_insync_replicas.to_string());
        let configs = configs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
        let _ = writeln!(
            out,
            "Topic: {}\tPartitionCount: {}\tReplicationFactor: {}\tConfigs: {configs}",
            t.name,
            t.partitions.len(),
            t.replication_factor,
        );
        for p in &t.partitions {
            let leader = p.leader.map_or("none".to_string(), |l| l.to_string());
            // Kafka adds the reassignment columns only while one is in progress.
            let mut reassigning = String::new();
            if !p.adding_replicas.is_empty() {
                reassigning.push_str(&format!("\tAdding Replicas: {}", ids(&p.adding_replicas)));
            }
            if !p.removing_replicas.is_empty() {
                reassigning.push_str(&format!("\tRemoving Replicas: {}", ids(&p.removing_replicas)));
            }
            let _ = writeln!(
                out,
                "\tTopic: {}\tPartition: {}\tLeader: {}\tReplicas: {}\tIsr: {}{reassigning}",
                t.name,
                p.partition,
                leader,
                ids(&p.replicas),
                ids(&p.isr)
            );
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<16} {:>9} {:>12} {:>16} {:>14} {:>14} {:>8} {:>10}  REPLICA-LOG-END-OFFSETS",
        "TOPIC",
        "PARTITION",
        "LEADER-EPOCH",
        "LOG-START-OFFSET",
        "HIGH-WATERMARK",
        "LOG-END-OFFSET",
        "SEGMENTS",
        "SIZE"
    );
    for t in topics {
        for p in &t.partitions {
            let replicas = p
                .replica_offsets
                .iter()
                .map(|r| format!("{}:{}", r.broker, r.log_end_offset.map_or("down".to_string(), |o| o.to_string())))
                .collect::<Vec<_>>()
                .join(" ");
            let _ = writeln!(
                out,
                "{:<16} {:>9} {:>12} {:>16} {:>14} {:>14} {:>8} {:>10}  {}",
                t.name,
                p.partition,
                p.leader_epoch,
                p.log_start_offset,
                p.high_watermark,
                p.log_end_offset,
                p.segments,
                p.size_bytes,
                replicas
            );
        }
    }
    out
}

/// The port every simulated broker listens on (the address of broker `n` is
/// [`crate::world::ip_of`]`(n)` on this port).
pub const BROKER_PORT: u16 = 9092;

/// Kafka's tools print this for a value they do not have.
const MISSING: &str = "-";

/// One of the views of `kafka-consumer-groups.sh --describe`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupsView {
    /// `--offsets`, the default: each partition's committed offset, log end offset and lag.
    Offsets,
    /// `--members`: each member and how many partitions it has; `--verbose` adds which.
    Members {
        /// `--verbose`: add the `ASSIGNMENT` column.
        verbose: bool,
    },
    /// `--state`: coordinator, assignor, state and member count.
    State,
}

impl GroupsView {
    /// The options that select this view on Kafka's command line (empty for the default).
    pub fn options(self) -> &'static str {
        match self {
            GroupsView::Offsets => "",
            GroupsView::Members { verbose: false } => " --members",
            GroupsView::Members { verbose: true } => " --members --verbose",
            GroupsView::State => " --state",
        }
    }
}

/// Where a piece of a tool's output goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// Standard output: the tables and Kafka's `Error:` lines.
    Stdout,
    /// Standard error: Kafka's notes about empty and rebalancing groups.
    Stderr,
}

/// What a command-line tool prints, piece by piece in the order it prints them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ToolOutput {
    /// The pieces, each with the stream it goes to.
    pub pieces: Vec<(Stream, String)>,
}

impl ToolOutput {
    fn push(&mut self, stream: Stream, text: impl Into<String>) {
        self.pieces.push((stream, text.into()));
    }

    /// Everything printed to `stream`, in order.
    pub fn stream(&self, stream: Stream) -> String {
        self.pieces.iter().filter(|(s, _)| *s == stream).map(|(_, text)| text.as_str()).collect()
    }

    /// Both streams interleaved, as a terminal shows them.
    pub fn interleaved(&self) -> String {
        self.pieces.iter().map(|(_, text)| text.as_str()).collect()
    }
}

/// Left-aligns `text` in a column of `width` characters, as Java's `%-{width}s` does: longer
/// text is never cut.
fn pad(text: &str, width: usize) -> String {
    format!("{text:<width$}")
}

/// How Kafka's tool treats a group in `state` before printing a table for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StateCheck {
    /// Print the table (when it has rows).
    Print,
    /// The group does not exist: print no table (Kafka's `--members` view still prints its
    /// header).
    Missing,
}

/// The note Kafka's tool prints before a group's table (`shouldPrintMemberState` in
/// `ConsumerGroupCommand`): `Empty` and rebalancing groups get a line on standard error, a
/// `Dead` group an `Error:` line on standard output.
fn check_state(out: &mut ToolOutput, group: &str, state: &str) -> StateCheck {
    match state {
        "Dead" => {
            out.push(Stream::Stdout, format!("\nError: Consumer group '{group}' does not exist.\n"));
            return StateCheck::Missing;
        }
        "Empty" => out.push(Stream::Stderr, format!("\nConsumer group '{group}' has no active members.\n")),
        "PreparingRebalance" | "CompletingRebalance" | "Assigning" | "Reconciling" => {
            out.push(Stream::Stderr, format!("\nWarning: Consumer group '{group}' is rebalancing.\n"))
        }
        _ => {}
    }
    StateCheck::Print
}

/// The coordinator as Kafka's `--state` view prints it: `host:port  (id)`, with two spaces.
fn coordinator_text(coordinator: Option<i32>) -> String {
    coordinator.map_or(MISSING.to_string(), |id| format!("{}:{BROKER_PORT}  ({id})", crate::world::ip_of(NodeId(id))))
}

/// The group as Kafka's `DescribeGroups` answer carries it to the tool: outside `Stable` the
/// coordinator (`GroupMetadata.summary` in apache/kafka) sends each member without its
/// assignment and the group without its assignor, so the tables show no owners while a
/// rebalance is under way.
fn as_described(g: &GroupDescription) -> Cow<'_, GroupDescription> {
    if g.state == "Stable" {
        return Cow::Borrowed(g);
    }
    let mut described = g.clone();
    described.protocol.clear();
    for member in &mut described.members {
        member.assignment.clear();
    }
    Cow::Owned(described)
}

/// One row of the `--offsets` view, every cell already in text.
struct OffsetRow {
    topic: String,
    partition: String,
    current: String,
    log_end: String,
    lag: String,
    consumer_id: String,
    host: String,
    client_id: String,
}

/// The rows of the `--offsets` view of `g`, in Kafka's order: members that own partitions,
/// the most partitions first, each with its partitions by partition number; then the
/// partitions with a committed offset that no member owns, with `-` for the member. A
/// member without partitions has no row, and neither has a partition nobody owns or committed.
fn offset_rows(g: &GroupDescription) -> Vec<OffsetRow> {
    let find = |topic: &str, partition: i32| g.offsets.iter().find(|o| o.topic == topic && o.partition == partition);
    let row = |topic: &str, partition: i32, owner: Option<&MemberDescription>| {
        let offset = find(topic, partition);
        let committed = offset.and_then(|o| o.committed_offset).filter(|c| *c != -1);
        let log_end = offset.map(|o| o.log_end_offset);
        let text = |v: Option<i64>| v.map_or(MISSING.to_string(), |v| v.to_string());
        OffsetRow {
            topic: topic.to_string(),
            partition: partition.to_string(),
            current: text(offset.and_then(|o| o.committed_offset)),
            log_end: text(log_end),
            // Kafka subtracts without clamping: a committed offset past the end shows as a
            // negative lag.
            lag: text(committed.zip(log_end).map(|(c, end)| end - c)),
            consumer_id: owner.map_or(MISSING.to_string(), |m| m.member_id.clone()),
            host: owner.map_or(MISSING.to_string(), |m| m.host.clone()),
            client_id: owner.map_or(MISSING.to_string(), |m| m.client_id.clone()),
        }
    };
    let by_partition =
        |a: &&AssignedPartition, b: &&AssignedPartition| (a.partition, &a.topic).cmp(&(b.partition, &b.topic));
    let mut owners: Vec<&MemberDescription> = g.members.iter().filter(|m| !m.assignment.is_empty()).collect();
    // A stable sort, so members with as many partitions keep the coordinator's order.
    owners.sort_by_key(|m| std::cmp::Reverse(m.assignment.len()));
    let mut rows = Vec::new();
    for member in owners {
        let mut assigned: Vec<&AssignedPartition> = member.assignment.iter().collect();
        assigned.sort_by(by_partition);
        rows.extend(assigned.into_iter().map(|a| row(&a.topic, a.partition, Some(member))));
    }
    let owned = |o: &OffsetDescription| {
        g.members.iter().flat_map(|m| &m.assignment).any(|a| a.topic == o.topic && a.partition == o.partition)
    };
    let mut unowned: Vec<&OffsetDescription> =
        g.offsets.iter().filter(|o| o.committed_offset.is_some() && !owned(o)).collect();
    unowned.sort_by(|a, b| (a.partition, &a.topic).cmp(&(b.partition, &b.topic)));
    rows.extend(unowned.into_iter().map(|o| row(&o.topic, o.partition, None)));
    rows
}

/// The `--offsets` view of one group (`printOffsets`), its note included: `GROUP TOPIC
/// PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID HOST CLIENT-ID`. The group, topic,
/// consumer-id and host columns are as wide as their widest value and at least 15; partition
/// 10, the offsets and lag 15; client-id is last and unpadded. Outside `Stable` no member owns
/// a partition (see `as_described`), so only committed partitions are listed.
pub fn describe_group_offsets(g: &GroupDescription) -> ToolOutput {
    let g = as_described(g);
    let g = g.as_ref();
    let mut out = ToolOutput::default();
    let rows = offset_rows(g);
    if check_state(&mut out, &g.group, &g.state) == StateCheck::Missing || rows.is_empty() {
        return out;
    }
    let widest = |cell: fn(&OffsetRow) -> &str| rows.iter().map(|r| cell(r).chars().count()).fold(15, usize::max);
    let group_width = g.group.chars().count().max(15);
    let topic_width = widest(|r| &r.topic);
    let consumer_width = widest(|r| &r.consumer_id);
    let host_width = widest(|r| &r.host);
    let line = |cells: [&str; 9]| {
        format!(
            "\n{} {} {} {} {} {} {} {} {}",
            pad(cells[0], group_width),
            pad(cells[1], topic_width),
            pad(cells[2], 10),
            pad(cells[3], 15),
            pad(cells[4], 15),
            pad(cells[5], 15),
            pad(cells[6], consumer_width),
            pad(cells[7], host_width),
            cells[8]
        )
    };
    let mut text = line([
        "GROUP",
        "TOPIC",
        "PARTITION",
        "CURRENT-OFFSET",
        "LOG-END-OFFSET",
        "LAG",
        "CONSUMER-ID",
        "HOST",
        "CLIENT-ID",
    ]);
    for r in &rows {
        text.push_str(&line([
            &g.group,
            &r.topic,
            &r.partition,
            &r.current,
            &r.log_end,
            &r.lag,
            &r.consumer_id,
            &r.host,
            &r.client_id,
        ]));
    }
    text.push('\n');
    out.push(Stream::Stdout, text);
    out
}

/// A member's partitions as the `ASSIGNMENT` column shows them: `orders(0,1), payments(2)`,
/// partitions in numeric order within a topic and the topics sorted; `-` for none.
///
/// Kafka 3.8 and 3.9 (the Java port of the tool) drop the topic name and print only `(0,1)`;
/// this keeps the topic, as Kafka up to 3.7 (the Scala tool) printed it.
pub fn assignment_text(assignment: &[AssignedPartition]) -> String {
    if assignment.is_empty() {
        return MISSING.to_string();
    }
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for a in assignment {
        by_topic.entry(&a.topic).or_default().push(a.partition);
    }
    let mut parts: Vec<String> = by_topic
        .into_iter()
        .map(|(topic, mut partitions)| {
            partitions.sort_unstable();
            let list = partitions.iter().map(i32::to_string).collect::<Vec<_>>().join(",");
            format!("{topic}({list})")
        })
        .collect();
    parts.sort();
    parts.join(", ")
}

/// The `--members` view of one group (`printMembers`), its note included: `GROUP CONSUMER-ID
/// HOST CLIENT-ID #PARTITIONS`, with `GROUP-INSTANCE-ID` after the consumer id when any member
/// is static, and `ASSIGNMENT` last with `verbose`. Columns are as wide as their widest value
/// and at least 15 (17 for the instance id); `#PARTITIONS` is 15 wide and followed by a space
/// even at the end of the line, as in Kafka.
///
/// Kafka prints the header even when the group has no members, and even after saying a group
/// does not exist: since Kafka 3.8 the header no longer depends on that check. This does the
/// same. Outside `Stable` every member shows 0 partitions, as Kafka's coordinator reports them.
pub fn describe_group_members(g: &GroupDescription, verbose: bool) -> ToolOutput {
    let g = as_described(g);
    let g = g.as_ref();
    let mut out = ToolOutput::default();
    let printable = check_state(&mut out, &g.group, &g.state) == StateCheck::Print && !g.members.is_empty();
    let (mut group_width, mut consumer_width, mut instance_width, mut host_width, mut client_width) =
        (15, 15, 17, 15, 15);
    let mut static_members = false;
    // Kafka measures the columns only for a group it would print; otherwise the minimums stand.
    if printable {
        for m in &g.members {
            let instance = m.group_instance_id.as_deref().unwrap_or("");
            group_width = group_width.max(g.group.chars().count());
            consumer_width = consumer_width.max(m.member_id.chars().count());
            instance_width = instance_width.max(instance.chars().count());
            host_width = host_width.max(m.host.chars().count());
            client_width = client_width.max(m.client_id.chars().count());
            static_members |= !instance.is_empty();
        }
    }
    let line = |group: &str, consumer: &str, instance: &str, host: &str, client: &str, count: &str| {
        let mut text = format!("{} {} ", pad(group, group_width), pad(consumer, consumer_width));
        if static_members {
            text.push_str(&format!("{} ", pad(instance, instance_width)));
        }
        text.push_str(&format!("{} {} {} ", pad(host, host_width), pad(client, client_width), pad(count, 15)));
        text
    };
    let mut text = String::from("\n");
    text.push_str(&line("GROUP", "CONSUMER-ID", "GROUP-INSTANCE-ID", "HOST", "CLIENT-ID", "#PARTITIONS"));
    if verbose {
        text.push_str("ASSIGNMENT");
    }
    text.push('\n');
    for m in &g.members {
        let instance = m.group_instance_id.as_deref().unwrap_or("");
        let count = m.assignment.len().to_string();
        text.push_str(&line(&g.group, &m.member_id, instance, &m.host, &m.client_id, &count));
        if verbose {
            text.push_str(&assignment_text(&m.assignment));
        }
        text.push('\n');
    }
    out.push(Stream::Stdout, text);
    out
}

/// The `--state` view of one group (`printStates`), its note included: `GROUP COORDINATOR (ID)
/// ASSIGNMENT-STRATEGY STATE #MEMBERS`. As in Kafka, the first column is as wide as the
/// coordinator text (at least 25) while the coordinator column is 25 wide; the strategy
/// column is 20 and the state 15. Outside `Stable` the strategy is blank, as Kafka's
/// coordinator reports no assignor then.
pub fn describe_group_state(g: &GroupDescription) -> ToolOutput {
    let g = as_described(g);
    let g = g.as_ref();
    let mut out = ToolOutput::default();
    if check_state(&mut out, &g.group, &g.state) == StateCheck::Missing {
        return out;
    }
    let coordinator = coordinator_text(g.coordinator);
    let first_width = coordinator.chars().count().max(25);
    let line = |cells: [&str; 5]| {
        format!(
            "\n{} {} {} {} {}",
            pad(cells[0], first_width),
            pad(cells[1], 25),
            pad(cells[2], 20),
            pad(cells[3], 15),
            cells[4]
        )
    };
    let mut text = line(["GROUP", "COORDINATOR (ID)", "ASSIGNMENT-STRATEGY", "STATE", "#MEMBERS"]);
    text.push_str(&line([&g.group, &coordinator, &g.protocol, &g.state, &g.members.len().to_string()]));
    text.push('\n');
    out.push(Stream::Stdout, text);
    out
}

/// What `kafka-consumer-groups.sh --describe` prints for `selection` (`--group` once per name,
/// in name order) or, with `None`, for `--all-groups` (every group that exists), in `view`.
///
/// A name with no group gets Kafka's `Error: Consumer group '...' does not exist.` A group
/// whose coordinator cannot be found fails the whole command, as the admin client's describe
/// call does in Kafka, and only that error is printed.
pub fn describe_consumer_groups(
    groups: &[GroupDescription],
    selection: Option<&[String]>,
    view: GroupsView,
) -> ToolOutput {
    let mut chosen: Vec<GroupDescription> = match selection {
        None => groups.iter().filter(|g| g.state != "Dead" && g.state != "Unknown").cloned().collect(),
        Some(names) => {
            let mut names: Vec<&String> = names.iter().collect();
            names.sort();
            names.dedup();
            names
                .into_iter()
                .map(|name| {
                    groups.iter().find(|g| &g.group == name).cloned().unwrap_or_else(|| GroupDescription {
                        group: name.clone(),
                        state: "Dead".to_string(),
                        generation_id: -1,
                        protocol: String::new(),
                        coordinator: None,
                        members: Vec::new(),
                        offsets: Vec::new(),
                        last_rebalance_ms: None,
                    })
                })
                .collect()
        }
    };
    chosen.sort_by(|a, b| a.group.cmp(&b.group));
    let mut out = ToolOutput::default();
    if chosen.iter().any(|g| g.state == "Unknown") {
        out.push(
            Stream::Stdout,
            "\nError: Executing consumer group command failed due to \
             org.apache.kafka.common.errors.CoordinatorNotAvailableException: The coordinator is not available.\n",
        );
        return out;
    }
    for g in &chosen {
        let piece = match view {
            GroupsView::Offsets => describe_group_offsets(g),
            GroupsView::Members { verbose } => describe_group_members(g, verbose),
            GroupsView::State => describe_group_state(g),
        };
        out.pieces.extend(piece.pieces);
    }
    out
}

/// The groups section of `kafkalab run`'s report: `--describe --all-groups` with `--state`,
/// `--members --verbose` and the default offsets view, each after the command that prints it,
/// then one kafkalab line per group with its generation and latest rebalance, which Kafka's
/// tool does not show.
pub fn describe_groups(groups: &[GroupDescription]) -> String {
    let mut out = String::new();
    for view in [GroupsView::State, GroupsView::Members { verbose: true }, GroupsView::Offsets] {
        let _ = writeln!(out, "$ kafka-consumer-groups.sh --describe --all-groups{}", view.options());
        out.push_str(&describe_consumer_groups(groups, None, view).interleaved());
        let _ = writeln!(out);
    }
    for g in groups {
        let rebalance = g
            .last_rebalance_ms
            .map_or("no rebalance yet".to_string(), |ms| format!("last rebalance at {}.{:03}s", ms / 1000, ms % 1000));
        let _ = writeln!(out, "kafkalab: group {} is in generation {}, {rebalance}", g.group, g.generation_id);
    }
    out
}

/// The quorum as `kafka-metadata-quorum.sh describe --status` prints it. The cluster id is
/// left out: simulated clusters have none. `MaxFollowerLag` is over the voters.
pub fn describe_quorum_status(q: &QuorumDescription) -> String {
    let ids = |v: &[QuorumReplica]| v.iter().map(|r| r.node_id.to_string()).collect::<Vec<_>>().join(",");
    let max_lag = q.voters.iter().filter(|v| Some(v.node_id) != q.leader_id).map(|v| v.lag).max().unwrap_or(0);
    let mut out = String::new();
    let leader = q.leader_id.map_or("none".to_string(), |l| l.to_string());
    let _ = writeln!(out, "LeaderId:               {leader}");
    let _ = writeln!(out, "LeaderEpoch:            {}", q.leader_epoch);
    let _ = writeln!(out, "HighWatermark:          {}", q.high_watermark);
    let _ = writeln!(out, "MaxFollowerLag:         {max_lag}");
    let _ = writeln!(out, "CurrentVoters:          [{}]", ids(&q.voters));
    let _ = writeln!(out, "CurrentObservers:       [{}]", ids(&q.observers));
    let _ = writeln!(out, "QuorumSize:             {} of {} voters (floor(N/2) + 1)", q.quorum_size, q.voters.len());
    out
}

/// The quorum as `kafka-metadata-quorum.sh describe --replication` prints it, times in
/// milliseconds of simulated time. Status is each node's own role.
pub fn describe_quorum_replication(q: &QuorumDescription) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<8} {:>12} {:>6} {:>18} {:>21}  {:<12} {:>5}",
        "NodeId", "LogEndOffset", "Lag", "LastFetchTimestamp", "LastCaughtUpTimestamp", "Status", "Epoch"
    );
    let time = |t: Option<u64>| t.map_or("-".to_string(), |t| t.to_string());
    for r in q.voters.iter().chain(&q.observers) {
        let _ = writeln!(
            out,
            "{:<8} {:>12} {:>6} {:>18} {:>21}  {:<12} {:>5}",
            r.node_id,
            r.log_end_offset,
            r.lag,
            time(r.last_fetch_ms),
            time(r.last_caught_up_ms),
            r.role,
            r.epoch
        );
    }
    out
}

/// The speed line every headless run prints.
pub fn speed_line(report: &RunReport) -> String {
    format!(
        "speed: simulated {:.3}s in {:.3}s wall ({:.1}x real time), {} trace records",
        report.sim_time_ms as f64 / 1000.0,
        report.wall_time_ms as f64 / 1000.0,
        report.speedup,
        report.events
    )
}

/// The whole text report of `kafkalab run`. With `timings` false the wall-clock figures are
/// left out, so the text is identical across machines (used by snapshot tests).
pub fn render_text(report: &RunReport, timings: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "scenario: {}", report.scenario);
    let _ = writeln!(out, "seed: {}", report.seed);
    let _ = writeln!(out);
    let _ = writeln!(out, "$ kafka-topics.sh --describe");
    out.push_str(&describe_topics(&report.topics));
    let _ = writeln!(out);
    if !report.groups.is_empty() {
        out.push_str(&describe_groups(&report.groups));
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "$ kafka-metadata-quorum.sh describe --status");
    out.push_str(&describe_quorum_status(&report.quorum));
    let _ = writeln!(out);
    let _ = writeln!(out, "$ kafka-metadata-quorum.sh describe --replication");
    out.push_str(&describe_quorum_replication(&report.quorum));
    let _ = writeln!(out);
    let a = &report.anomalies;
    // The three counts every run prints, then the others only when found, so a clean run's
    // line stays short.
    let mut line = format!(
        "checker: {} lost acknowledged write(s), {} duplicate(s), {} inconsistent offset(s)",
        a.lost_acked_writes, a.duplicates, a.inconsistent_offsets
    );
    for (count, what) in [
        (a.poll_skips, "poll skip(s)"),
        (a.nonmonotonic_polls, "non-monotonic poll(s)"),
        (a.nonmonotonic_sends, "non-monotonic send(s)"),
        (a.unseen, "unseen write(s)"),
        (a.unjudged_partitions, "partition(s) without a leader to judge"),
    ] {
        if count > 0 {
            let _ = write!(line, ", {count} {what}");
        }
    }
    let _ = writeln!(out, "{line}");
    for finding in &report.findings {
        let _ = writeln!(out, "  - {finding}");
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "expectations:");
    for e in &report.expectations {
        let _ = writeln!(out, "  [{}] {} — {}", if e.passed { "PASS" } else { "FAIL" }, e.name, e.detail);
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "digest: {}", report.digest);
    if timings {
        let _ = writeln!(out, "{}", speed_line(report));
    }
    out
}
