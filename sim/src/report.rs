//! Describing a run: the cluster view front ends draw, the report `kafkalab run` prints, and
//! the text tables in the shape of Kafka's command-line tools.

use crate::check::{Anomalies, ExpectationResult};
use crate::view::*;
use crate::world::{Hosted, NodeKind, World};
use cluster::broker::{BrokerStatus, OFFSETS_TOPIC};
use cluster::group::{offsets_partition_for, GroupStatus};
use cluster::ids::{NodeId, TopicPartition};
use cluster::metadata::MetadataImage;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write;

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
    let mut groups = Vec::new();
    for (group, group_topics) in world.group_topics() {
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
                        group_instance_id: None,
                        assignment: m
                            .assignment
                            .iter()
                            .map(|tp| AssignedPartition { topic: tp.topic.clone(), partition: tp.partition })
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
                    host: owner
                        .and_then(|m| world.slots().values().find(|s| s.name == m.client_id))
                        .map(|s| format!("/{}", crate::world::ip_of(s.id))),
                });
            }
        }
        groups.push(GroupDescription {
            group: group.clone(),
            state: match (&status, coordinator) {
                (Some(s), _) => s.state.name().to_string(),
                (None, Some(_)) => "Empty".to_string(),
                (None, None) => "Unknown".to_string(),
            },
            generation_id: status.as_ref().map_or(0, |s| s.generation_id),
            protocol: status.as_ref().map_or(String::new(), |s| s.protocol.clone()),
            coordinator: coordinator.map(|c| c.0),
            members,
            offsets,
        });
    }
    ClusterView {
        time_ms: world.elapsed().as_millis() as u64,
        duration_ms: world.duration().as_millis() as u64,
        controller_up,
        quorum: build_quorum(world),
        brokers,
        clients,
        topics,
        groups,
    }
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

/// The groups as `kafka-consumer-groups.sh --describe --state` and `--describe` print them.
pub fn describe_groups(groups: &[GroupDescription]) -> String {
    let mut out = String::new();
    for g in groups {
        let _ = writeln!(
            out,
            "{:<16} {:<18} {:<20} {:<20} #MEMBERS",
            "GROUP", "COORDINATOR (ID)", "ASSIGNMENT-STRATEGY", "STATE"
        );
        let coordinator = g.coordinator.map_or("unknown".to_string(), |c| format!("broker-{c}:9092 ({c})"));
        let _ =
            writeln!(out, "{:<16} {:<18} {:<20} {:<20} {}", g.group, coordinator, g.protocol, g.state, g.members.len());
        let _ = writeln!(out, "generation_id: {}", g.generation_id);
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{:<16} {:<16} {:>9} {:>14} {:>14} {:>6}  {:<36} CLIENT-ID",
            "GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID"
        );
        for o in &g.offsets {
            let _ = writeln!(
                out,
                "{:<16} {:<16} {:>9} {:>14} {:>14} {:>6}  {:<36} {:<14} {}",
                g.group,
                o.topic,
                o.partition,
                o.committed_offset.map_or("-".to_string(), |c| c.to_string()),
                o.log_end_offset,
                o.lag.map_or("-".to_string(), |l| l.to_string()),
                o.consumer_id.as_deref().unwrap_or("-"),
                o.host.as_deref().unwrap_or("-"),
                o.client_id.as_deref().unwrap_or("-")
            );
        }
        let _ = writeln!(out);
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
        let _ = writeln!(out, "$ kafka-consumer-groups.sh --describe --all-groups");
        out.push_str(&describe_groups(&report.groups));
    }
    let _ = writeln!(out, "$ kafka-metadata-quorum.sh describe --status");
    out.push_str(&describe_quorum_status(&report.quorum));
    let _ = writeln!(out);
    let _ = writeln!(out, "$ kafka-metadata-quorum.sh describe --replication");
    out.push_str(&describe_quorum_replication(&report.quorum));
    let _ = writeln!(out);
    let a = &report.anomalies;
    let _ = writeln!(
        out,
        "checker: {} lost acknowledged write(s), {} duplicate(s), {} inconsistent offset(s)",
        a.lost_acked_writes, a.duplicates, a.inconsistent_offsets
    );
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
