//! The scenario's expectations, and the entry point to the history oracle.
//!
//! The oracle itself lives in [`crate::oracle`]: it builds the clients' history from the trace
//! and checks it against the final partition logs, after Jepsen's Kafka workload. This module
//! runs it for the report ([`report_located`]) and keeps [`Anomalies`] under its old path for
//! the expectations.

use crate::oracle::{at, final_logs};
use crate::report::RunReport;
use crate::scenario::{ClientSpec, Expectation, Scenario, Span};
use crate::trace::{TraceBody, TraceRecord};
use crate::view::{ClusterView, PartitionDescription};
use crate::world::World;
use cluster::event::Event;
use cluster::ids::{NodeId, TopicPartition};
use cluster::SendId;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

pub use crate::oracle::Anomalies;

/// One expectation and its outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpectationResult {
    /// The expectation as written in the scenario, e.g. `LostAckedWrites(at_least: 1)`.
    pub name: String,
    /// Whether it held.
    pub passed: bool,
    /// What was observed.
    pub detail: String,
}

/// Which trace records the end-of-run checks of a scenario read, so that a run which does not
/// hold its whole trace ([`crate::trace::Retention::Needed`]) keeps those.
///
/// The expectations read the trace by event kind. The kinds a busy cluster writes by the
/// hundred thousand (`SendInvoked`, `SendAcked`, `Polled`, `Processed`) are read only by
/// `ConsumedAll`, `UnprocessedRecords` and `RedeliveredRecords`, and the oracle has them in the
/// clients' history already. Three kinds of routine broker work are read by no end-of-run
/// check at all, and are not kept: `HighWatermarkAdvanced` (one each time a leader's high
/// watermark moves; keeping them cost heavy.ron 12 MB of its peak resident memory),
/// `LogFlushed` (one per flush, so one per message with `flush.messages=1`) and
/// `BatchRecompressed` (one per batch a topic's `compression.type` recompresses). Every other
/// record is few and kept. A check that comes to read a kind left out must be added here, or
/// it finds none in a run that holds only these records; `tests/tests/scenarios.rs` compares
/// every scenario's report with and without the whole trace.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecordNeeds {
    /// Whether an expectation reads the clients' sends, polls and processing.
    client_traffic: bool,
}

impl RecordNeeds {
    /// What the expectations of `scenario` read.
    pub fn of(scenario: &Scenario) -> RecordNeeds {
        let client_traffic = scenario.expect.iter().any(|e| {
            matches!(
                e,
                Expectation::ConsumedAll { .. }
                    | Expectation::UnprocessedRecords { .. }
                    | Expectation::RedeliveredRecords { .. }
            )
        });
        RecordNeeds { client_traffic }
    }

    /// Whether the end-of-run checks read `record`.
    pub fn keeps(&self, record: &TraceRecord) -> bool {
        match &record.body {
            TraceBody::Event(
                Event::SendInvoked { .. } | Event::SendAcked { .. } | Event::Polled { .. } | Event::Processed { .. },
            ) => self.client_traffic,
            TraceBody::Event(
                Event::HighWatermarkAdvanced { .. } | Event::LogFlushed { .. } | Event::BatchRecompressed { .. },
            ) => false,
            _ => true,
        }
    }
}

/// The expectation as written in scenario files.
pub fn expectation_name(e: &Expectation) -> String {
    match e {
        Expectation::LostAckedWrites { at_least } => format!("LostAckedWrites(at_least: {at_least})"),
        Expectation::NoLostAckedWrites => "NoLostAckedWrites".into(),
        Expectation::NoDuplicates => "NoDuplicates".into(),
        Expectation::AllPartitionsOnline => "AllPartitionsOnline".into(),
        Expectation::FullIsr => "FullIsr".into(),
        Expectation::GroupMembers { group, members } => format!("GroupMembers(group: {group:?}, members: {members})"),
        Expectation::MemberOwns { group, client, partitions } => {
            format!("MemberOwns(group: {group:?}, client: {client:?}, partitions: {partitions})")
        }
        Expectation::Rebalances { group, at_least, at_most } => {
            format!("Rebalances(group: {group:?}{})", bounds(at_least, at_most))
        }
        Expectation::ConsumedAll { group } => format!("ConsumedAll(group: {group:?})"),
        Expectation::UnprocessedRecords { group, at_least, at_most } => {
            format!("UnprocessedRecords(group: {group:?}{})", bounds(at_least, at_most))
        }
        Expectation::RedeliveredRecords { group, at_least, at_most } => {
            format!("RedeliveredRecords(group: {group:?}{})", bounds(at_least, at_most))
        }
        Expectation::UnownedTime { group, at_least, at_most } => {
            let quote = |span: &Option<Span>| span.map(|s| format!("\"{s}\""));
            format!("UnownedTime(group: {group:?}{})", bounds(&quote(at_least), &quote(at_most)))
        }
        Expectation::PollTimeouts { group, at_least } => {
            format!("PollTimeouts(group: {group:?}, at_least: {at_least})")
        }
        Expectation::CommitFailures { group, at_least } => {
            format!("CommitFailures(group: {group:?}, at_least: {at_least})")
        }
        Expectation::LogHolds { topic, partition, records } => {
            let list: Vec<String> = records
                .iter()
                .map(|(offset, key, value)| match value {
                    Some(v) => format!("({offset}, {key:?}, Some({v:?}))"),
                    None => format!("({offset}, {key:?}, None)"),
                })
                .collect();
            format!("LogHolds(topic: {topic:?}, partition: {partition}, records: [{}])", list.join(", "))
        }
        Expectation::LogStartOffset { topic, partition, at_least } => {
            format!("LogStartOffset(topic: {topic:?}, partition: {partition}, at_least: {at_least})")
        }
        Expectation::QuorumLeader => "QuorumLeader".into(),
        Expectation::NoQuorumLeader => "NoQuorumLeader".into(),
        Expectation::QuorumEpoch { at_least } => format!("QuorumEpoch(at_least: {at_least})"),
        Expectation::FailedElections { at_least } => format!("FailedElections(at_least: {at_least})"),
        Expectation::LeaderResignations { at_least } => format!("LeaderResignations(at_least: {at_least})"),
        Expectation::NoMetadataCommitsAfter { at } => format!("NoMetadataCommitsAfter(at: \"{at}\")"),
        Expectation::Replicas { topic, partition, replicas } => {
            format!("Replicas(topic: {topic:?}, partition: {partition}, replicas: {replicas:?})")
        }
        Expectation::PartitionLeader { topic, partition, leader } => {
            format!("PartitionLeader(topic: {topic:?}, partition: {partition}, leader: {leader})")
        }
        Expectation::Duplicates { at_least } => format!("Duplicates(at_least: {at_least})"),
        Expectation::ReplicasAgree { topic, partition } => {
            format!("ReplicasAgree(topic: {topic:?}, partition: {partition})")
        }
        Expectation::ReplicasDiverge { topic, partition } => {
            format!("ReplicasDiverge(topic: {topic:?}, partition: {partition})")
        }
        Expectation::ProduceErrors { error, at_least } => {
            format!("ProduceErrors(error: {error:?}, at_least: {at_least})")
        }
        Expectation::DuplicatesDropped { at_least } => format!("DuplicatesDropped(at_least: {at_least})"),
        Expectation::RecordsPerBatch { topic, at_least } => {
            format!("RecordsPerBatch(topic: {topic:?}, at_least: {at_least})")
        }
        Expectation::StoredCompression { topic, codec } => {
            format!("StoredCompression(topic: {topic:?}, codec: {codec:?})")
        }
        Expectation::TruncationDetected { at_least } => format!("TruncationDetected(at_least: {at_least})"),
        Expectation::Happens(f) => format!("Happens({f})"),
        Expectation::NeverHappens(f) => format!("NeverHappens({f})"),
        Expectation::ConvergesWithin(span) => format!("ConvergesWithin(\"{span}\")"),
    }
}

/// The optional bounds of an expectation as written: `, at_least: 2`, `, at_most: 3`, both or
/// nothing.
fn bounds<T: std::fmt::Display>(at_least: &Option<T>, at_most: &Option<T>) -> String {
    let mut out = String::new();
    if let Some(low) = at_least {
        out.push_str(&format!(", at_least: {low}"));
    }
    if let Some(high) = at_most {
        out.push_str(&format!(", at_most: {high}"));
    }
    out
}

/// Whether `value` lies within the optional bounds (both inclusive).
fn within<T: PartialOrd>(value: T, at_least: Option<T>, at_most: Option<T>) -> bool {
    at_least.is_none_or(|low| value >= low) && at_most.is_none_or(|high| value <= high)
}

/// Counts trace events matching `pick`, and the time of the last one, in milliseconds.
fn count_events(world: &World, pick: impl Fn(&Event) -> bool) -> (u32, Option<u64>) {
    world.with_records(|records| {
        let mut count = 0;
        let mut last = None;
        for r in records {
            if let TraceBody::Event(e) = &r.body {
                if pick(e) {
                    count += 1;
                    last = Some(r.time_ns / 1_000_000);
                }
            }
        }
        (count, last)
    })
}

/// The partition `topic`-`partition` as the view describes it.
/// How often the checker found `finding` in this run, and the first violation's words: an
/// anomaly's count comes from the oracle, an invariant's from the violations the trace
/// recorded (only expected ones are recorded; an unexpected one stops the run).
fn count_finding(finding: crate::finding::Finding, world: &World, anomalies: &Anomalies) -> (u64, Option<String>) {
    if let Some(anomaly) = finding.anomaly() {
        return (anomalies.count(anomaly), None);
    }
    let crate::finding::Finding::Violation(wanted) = finding else { unreachable!("anomalies returned above") };
    world.with_records(|records| {
        let mut n = 0;
        let mut first = None;
        for record in records {
            if let TraceBody::Violation { invariant, detail } = &record.body {
                if *invariant == wanted {
                    n += 1;
                    first.get_or_insert_with(|| format!("at {}: {detail}", at(record)));
                }
            }
        }
        (n, first)
    })
}

fn find_partition<'a>(view: &'a ClusterView, topic: &str, partition: i32) -> Option<&'a PartitionDescription> {
    view.topics.iter().find(|t| t.name == topic).and_then(|t| t.partitions.iter().find(|p| p.partition == partition))
}

/// Evaluates the quorum expectations, which read the quorum description and the trace.
fn evaluate_quorum(e: &Expectation, world: &World, view: &ClusterView) -> Option<(bool, String)> {
    let q = &view.quorum;
    let roles = || {
        q.voters.iter().map(|v| format!("{} {} (epoch {})", v.node_id, v.role, v.epoch)).collect::<Vec<_>>().join(", ")
    };
    Some(match e {
        Expectation::QuorumLeader => {
            let followers_agree =
                q.voters.iter().all(|v| v.role == "Down" || v.role == "Leader" || v.role == "Follower");
            let passed = q.leader_id.is_some() && view.controller_up && followers_agree;
            (passed, format!("voters: {}", roles()))
        }
        Expectation::NoQuorumLeader => (q.leader_id.is_none(), format!("voters: {}", roles())),
        Expectation::QuorumEpoch { at_least } => {
            (q.leader_epoch >= *at_least, format!("the quorum is in epoch {}", q.leader_epoch))
        }
        Expectation::FailedElections { at_least } => {
            let (n, _) = count_events(world, |e| matches!(e, Event::ElectionFailed { .. }));
            (n >= *at_least, format!("{n} election(s) failed"))
        }
        Expectation::LeaderResignations { at_least } => {
            let (n, _) = count_events(world, |e| matches!(e, Event::LeaderResigned { .. }));
            (n >= *at_least, format!("{n} leader resignation(s)"))
        }
        Expectation::NoMetadataCommitsAfter { at } => {
            let (_, last) = count_events(world, |e| matches!(e, Event::MetadataCommitted { .. }));
            let passed = last.is_none_or(|t| t < at.0);
            let detail = match last {
                Some(t) => format!("the last metadata commit was at {}", Span(t)),
                None => "no metadata commit at all".to_string(),
            };
            (passed, detail)
        }
        Expectation::Replicas { topic, partition, replicas } => match find_partition(view, topic, *partition) {
            None => (false, format!("{topic}-{partition} not found")),
            Some(p) => (
                &p.replicas == replicas && &p.isr == replicas,
                format!("{topic}-{partition} has replicas {:?} and isr {:?}", p.replicas, p.isr),
            ),
        },
        Expectation::PartitionLeader { topic, partition, leader } => match find_partition(view, topic, *partition) {
            None => (false, format!("{topic}-{partition} not found")),
            Some(p) => (
                p.leader == Some(*leader),
                format!("{topic}-{partition} is led by {}", p.leader.map_or("nobody".into(), |l| l.to_string())),
            ),
        },
        _ => return None,
    })
}

/// How long before the end a record must have been acknowledged for `ConsumedAll` to require
/// that it was read: consumers need a fetch round trip after the high watermark moves.
pub const CONSUMED_ALL_GRACE_MS: u64 = 2000;

/// Evaluates every expectation of `scenario`.
pub fn evaluate(
    scenario: &Scenario,
    world: &World,
    view: &ClusterView,
    anomalies: &Anomalies,
) -> Vec<ExpectationResult> {
    scenario
        .expect
        .iter()
        .map(|e| {
            let (passed, detail) = if let Some(verdict) = evaluate_quorum(e, world, view) {
                verdict
            } else {
                match e {
                    Expectation::LostAckedWrites { at_least } => (
                        anomalies.lost_acked_writes >= *at_least,
                        format!("found {} lost acknowledged write(s)", anomalies.lost_acked_writes),
                    ),
                    Expectation::NoLostAckedWrites => (
                        anomalies.lost_acked_writes == 0,
                        format!("found {} lost acknowledged write(s)", anomalies.lost_acked_writes),
                    ),
                    Expectation::NoDuplicates => {
                        (anomalies.duplicates == 0, format!("found {} duplicate(s)", anomalies.duplicates))
                    }
                    Expectation::AllPartitionsOnline => {
                        let offline: Vec<String> = view
                            .topics
                            .iter()
                            .flat_map(|t| {
                                t.partitions
                                    .iter()
                                    .filter(|p| p.leader.is_none())
                                    .map(move |p| format!("{}-{}", t.name, p.partition))
                            })
                            .collect();
                        (
                            offline.is_empty(),
                            if offline.is_empty() {
                                "every partition has a leader".into()
                            } else {
                                format!("offline: {}", offline.join(", "))
                            },
                        )
                    }
                    Expectation::FullIsr => {
                        let short: Vec<String> = view
                            .topics
                            .iter()
                            .flat_map(|t| {
                                t.partitions
                                    .iter()
                                    .filter(|p| p.isr.len() < p.replicas.len())
                                    .map(move |p| format!("{}-{}", t.name, p.partition))
                            })
                            .collect();
                        (
                            short.is_empty(),
                            if short.is_empty() {
                                "every ISR is full".into()
                            } else {
                                format!("under-replicated: {}", short.join(", "))
                            },
                        )
                    }
                    Expectation::GroupMembers { group, members } => {
                        match view.groups.iter().find(|g| &g.group == group) {
                            Some(g) => (
                                g.state == "Stable" && g.members.len() == *members,
                                format!("group is {} with {} member(s)", g.state, g.members.len()),
                            ),
                            None => (false, "group not found".into()),
                        }
                    }
                    Expectation::MemberOwns { group, client, partitions } => {
                        let owned = view
                            .groups
                            .iter()
                            .filter(|g| &g.group == group)
                            .flat_map(|g| g.members.iter())
                            .filter(|m| &m.client_id == client)
                            .map(|m| m.assignment.len())
                            .max();
                        match owned {
                            Some(n) => (n == *partitions, format!("{client} owns {n} partition(s)")),
                            None => (false, format!("{client} is not a member of {group}")),
                        }
                    }
                    Expectation::Rebalances { group, at_least, at_most } => {
                        let generation = view.groups.iter().find(|g| &g.group == group).map_or(0, |g| g.generation_id);
                        let as_i64 = |bound: &Option<u32>| bound.map(i64::from);
                        (
                            within(i64::from(generation), as_i64(at_least), as_i64(at_most)),
                            format!("generation_id is {generation}"),
                        )
                    }
                    Expectation::ConsumedAll { group } => consumed_all(scenario, world, view, group),
                    Expectation::UnprocessedRecords { group, at_least, at_most } => {
                        let topics = world.group_topics().remove(group).unwrap_or_default();
                        let committed = committed_offsets(view, group);
                        let found =
                            world.with_records(|records| unprocessed_records(records, group, &topics, &committed));
                        let n = found.len() as u64;
                        (within(n, *at_least, *at_most), describe_unprocessed(group, &found))
                    }
                    Expectation::RedeliveredRecords { group, at_least, at_most } => {
                        let (found, processed) = world.with_records(|records| redelivered_records(records, group));
                        let n = found.len() as u64;
                        (within(n, *at_least, *at_most), describe_redelivered(group, &found, processed))
                    }
                    Expectation::UnownedTime { group, at_least, at_most } => {
                        let end_ns = world.elapsed().as_nanos() as u64;
                        let per_partition = world.with_records(|records| unowned_time(records, group, end_ns));
                        let total_ms = per_partition.values().sum::<u64>() / 1_000_000;
                        (within(Span(total_ms), *at_least, *at_most), describe_unowned(group, total_ms, &per_partition))
                    }
                    Expectation::PollTimeouts { group, at_least } => {
                        let (n, _) = count_events(
                            world,
                            |e| matches!(e, Event::PollTimeoutExpired { group: g, .. } if g == group),
                        );
                        (n >= *at_least, format!("consumers of {group} exceeded max.poll.interval.ms {n} time(s)"))
                    }
                    Expectation::CommitFailures { group, at_least } => {
                        let mut errors: BTreeMap<String, u32> = BTreeMap::new();
                        world.with_records(|records| {
                            for r in records {
                                if let TraceBody::Event(Event::CommitFailed { group: g, error, .. }) = &r.body {
                                    if g == group {
                                        *errors.entry(error.name().to_string()).or_insert(0) += 1;
                                    }
                                }
                            }
                        });
                        let n: u32 = errors.values().sum();
                        let by_error: Vec<String> = errors.iter().map(|(e, k)| format!("{e} ×{k}")).collect();
                        let detail = if n == 0 {
                            format!("no commit by consumers of {group} was refused")
                        } else {
                            format!("{n} commit(s) by consumers of {group} refused: {}", by_error.join(", "))
                        };
                        (n >= *at_least, detail)
                    }
                    Expectation::LogHolds { topic, partition, records } => {
                        log_holds(world, view, topic, *partition, records)
                    }
                    Expectation::LogStartOffset { topic, partition, at_least } => {
                        let tp = TopicPartition::new(topic.clone(), *partition);
                        let leader = view
                            .topics
                            .iter()
                            .filter(|t| &t.name == topic)
                            .flat_map(|t| &t.partitions)
                            .find(|p| p.partition == *partition)
                            .and_then(|p| p.leader);
                        match leader.and_then(|l| world.with_log(NodeId(l), &tp, |log| log.log_start_offset())) {
                            Some(start) => (start >= *at_least, format!("{tp} log start offset is {start}")),
                            None => (false, format!("{tp} has no leader to ask")),
                        }
                    }
                    Expectation::Duplicates { at_least } => {
                        (anomalies.duplicates >= *at_least, format!("found {} duplicate(s)", anomalies.duplicates))
                    }
                    Expectation::ReplicasAgree { topic, partition } => {
                        let (disagreements, detail) = replica_disagreements(world, view, topic, *partition);
                        (disagreements == 0, detail)
                    }
                    Expectation::ReplicasDiverge { topic, partition } => {
                        let (disagreements, detail) = replica_disagreements(world, view, topic, *partition);
                        (disagreements > 0, detail)
                    }
                    Expectation::ProduceErrors { error, at_least } => {
                        let (n, _) = count_events(
                            world,
                            |e| matches!(e, Event::ProduceRejected { error: code, .. } if code.name() == error),
                        );
                        (u64::from(n) >= *at_least, format!("leaders answered {error} {n} time(s)"))
                    }
                    Expectation::DuplicatesDropped { at_least } => {
                        let (n, _) = count_events(world, |e| matches!(e, Event::DuplicateBatchDropped { .. }));
                        (u64::from(n) >= *at_least, format!("leaders dropped {n} duplicate batch(es)"))
                    }
                    Expectation::Happens(finding) | Expectation::NeverHappens(finding) => {
                        let (n, first) = count_finding(*finding, world, anomalies);
                        let happens = matches!(e, Expectation::Happens(_));
                        let detail = match first {
                            Some(first) => format!("found {n} time(s); first: {first}"),
                            None => format!("found {n} time(s)"),
                        };
                        ((n > 0) == happens, detail)
                    }
                    Expectation::ConvergesWithin(within) => match world.convergence() {
                        Some(c) => c.verdict(within.0),
                        None => (false, "convergence was not tracked in this run".to_string()),
                    },
                    Expectation::TruncationDetected { at_least } => {
                        let (n, _) = count_events(world, |e| matches!(e, Event::LogTruncationDetected { .. }));
                        (u64::from(n) >= *at_least, format!("consumers detected truncation {n} time(s)"))
                    }
                    Expectation::RecordsPerBatch { topic, at_least } => {
                        let (batches, records, _) = leader_batches(world, view, topic);
                        let average = if batches == 0 { 0.0 } else { records as f64 / batches as f64 };
                        (
                            batches > 0 && average >= *at_least,
                            format!("{records} record(s) in {batches} batch(es): {average:.1} per batch"),
                        )
                    }
                    Expectation::StoredCompression { topic, codec } => {
                        let (batches, _, codecs) = leader_batches(world, view, topic);
                        let found: Vec<String> = codecs.iter().map(|(c, n)| format!("{n} {c}")).collect();
                        (
                            batches > 0 && codecs.keys().all(|c| c == codec),
                            format!(
                                "batches by codec: {}",
                                if found.is_empty() { "none".into() } else { found.join(", ") }
                            ),
                        )
                    }
                    _ => unreachable!("quorum expectations are evaluated above"),
                }
            };
            ExpectationResult { name: expectation_name(e), passed, detail }
        })
        .collect()
}

/// Batches, records and batches per codec name in the logs of `topic`'s current leaders.
fn leader_batches(world: &World, view: &ClusterView, topic: &str) -> (u64, u64, BTreeMap<String, u64>) {
    let (mut batches, mut records, mut codecs) = (0, 0, BTreeMap::new());
    for p in view.topics.iter().filter(|t| t.name == topic).flat_map(|t| &t.partitions) {
        let Some(leader) = p.leader else { continue };
        let tp = TopicPartition::new(topic, p.partition);
        world.with_log(NodeId(leader), &tp, |log| {
            for b in log.batches() {
                batches += 1;
                records += b.record_count() as u64;
                *codecs.entry(b.compression().name().to_string()).or_insert(0) += 1;
            }
        });
    }
    (batches, records, codecs)
}

/// `ReplicasAgree` and `ReplicasDiverge`: the offsets at which two live replicas of the
/// partition hold different records, compared by record id (or value), with a description.
fn replica_disagreements(world: &World, view: &ClusterView, topic: &str, partition: i32) -> (u64, String) {
    let tp = TopicPartition::new(topic, partition);
    let replicas: Vec<i32> = find_partition(view, topic, partition).map(|p| p.replicas.clone()).unwrap_or_default();
    let mut held: Vec<(i32, BTreeMap<i64, String>)> = Vec::new();
    for replica in replicas {
        let records = world.with_log(NodeId(replica), &tp, |log| {
            log.batches()
                .flat_map(|b| {
                    let records = b.records();
                    records
                        .iter()
                        .map(|r| {
                            let id = r.send_id().map_or("(tombstone)", |id| &**id);
                            (b.offset_of(r), id.to_string())
                        })
                        .collect::<Vec<_>>()
                })
                .collect::<BTreeMap<i64, String>>()
        });
        if let Some(records) = records {
            held.push((replica, records));
        }
    }
    if held.len() < 2 {
        return (0, format!("only {} live replica(s) of {tp} to compare", held.len()));
    }
    let mut disagreements = 0;
    let mut first = None;
    for (i, (a, a_records)) in held.iter().enumerate() {
        for (b, b_records) in &held[i + 1..] {
            for (offset, id) in a_records {
                if let Some(other) = b_records.get(offset).filter(|other| *other != id) {
                    disagreements += 1;
                    first.get_or_insert_with(|| {
                        format!("offset {offset} holds {id} on broker {a} but {other} on broker {b}")
                    });
                }
            }
        }
    }
    match first {
        Some(first) => (disagreements, format!("{disagreements} offset(s) of {tp} disagree; first: {first}")),
        None => (0, format!("{} live replicas of {tp} agree at every offset they share", held.len())),
    }
}

/// `LogHolds`: every live replica holds exactly `expected`.
fn log_holds(
    world: &World,
    view: &ClusterView,
    topic: &str,
    partition: i32,
    expected: &[(i64, String, Option<String>)],
) -> (bool, String) {
    let tp = TopicPartition::new(topic, partition);
    let replicas: Vec<i32> = view
        .topics
        .iter()
        .filter(|t| t.name == topic)
        .flat_map(|t| &t.partitions)
        .filter(|p| p.partition == partition)
        .flat_map(|p| p.replicas.clone())
        .collect();
    let mut checked = 0;
    for replica in replicas {
        let held = world.with_log(NodeId(replica), &tp, |log| {
            log.batches()
                .flat_map(|b| {
                    let records = b.records();
                    records
                        .iter()
                        .map(|r| {
                            (
                                b.offset_of(r),
                                r.key.as_deref().unwrap_or("").to_string(),
                                r.value.as_deref().map(str::to_string),
                            )
                        })
                        .collect::<Vec<_>>()
                })
                .collect::<Vec<_>>()
        });
        let Some(held) = held else { continue };
        checked += 1;
        if held != expected {
            let show: Vec<String> =
                held.iter().map(|(o, k, v)| format!("{o}:{k}={}", v.as_deref().unwrap_or("null"))).collect();
            return (false, format!("broker {replica} holds {}", show.join(" ")));
        }
    }
    if checked == 0 {
        return (false, format!("no live replica of {tp} to read"));
    }
    (true, format!("{checked} replica(s) hold exactly the {} record(s) listed", expected.len()))
}

fn consumed_all(scenario: &Scenario, world: &World, view: &ClusterView, group: &str) -> (bool, String) {
    let members: BTreeSet<&str> = scenario
        .clients
        .iter()
        .filter_map(|c| match c {
            ClientSpec::Consumer(c) if c.group == group => Some(c.id.as_str()),
            _ => None,
        })
        .collect();
    let (logs, _) = final_logs(world, view);
    let cutoff_ns = view.time_ms.saturating_sub(CONSUMED_ALL_GRACE_MS) * 1_000_000;
    let mut polled: BTreeSet<SendId> = BTreeSet::new();
    let mut acked_early: BTreeSet<SendId> = BTreeSet::new();
    world.with_records(|records| {
        for r in records {
            match &r.body {
                TraceBody::Event(Event::Polled { consumer, records, .. }) if members.contains(consumer.as_str()) => {
                    polled.extend(records.iter().map(|(_, id)| id.clone()));
                }
                TraceBody::Event(Event::SendAcked { value, .. }) if r.time_ns <= cutoff_ns => {
                    acked_early.insert(value.clone());
                }
                _ => {}
            }
        }
    });
    let topics = world.group_topics().remove(group).unwrap_or_default();
    let mut missing = 0;
    let mut total = 0;
    for (tp, log) in &logs {
        if !topics.contains(tp.topic.as_str()) {
            continue;
        }
        for (offset, id) in log.records() {
            let id = id.to_string();
            if *offset < log.high_watermark && acked_early.contains(id.as_str()) {
                total += 1;
                if !polled.contains(id.as_str()) {
                    missing += 1;
                }
            }
        }
    }
    (missing == 0, format!("{} of {total} committed record(s) read by group {group}", total - missing))
}

// ---------------------------------------------------------------------------------------------
// Delivery-semantics expectations, computed from the trace so they can be tested on their own.

/// How many example records a delivery-semantics detail names.
const EXAMPLES: usize = 3;

/// `5.230s` for a time in milliseconds.
fn secs(ms: u64) -> String {
    format!("{}.{:03}s", ms / 1000, ms % 1000)
}

/// `340ms` below a second, else `12.4s`.
fn short_span(ms: u64) -> String {
    if ms < 1_000 {
        format!("{ms}ms")
    } else {
        format!("{:.1}s", ms as f64 / 1000.0)
    }
}

/// The group's committed offset per partition at the end, from the view.
pub fn committed_offsets(view: &ClusterView, group: &str) -> BTreeMap<TopicPartition, i64> {
    view.groups
        .iter()
        .filter(|g| g.group == group)
        .flat_map(|g| &g.offsets)
        .filter_map(|o| o.committed_offset.map(|c| (TopicPartition::new(o.topic.clone(), o.partition), c)))
        .collect()
}

/// An acknowledged record that a group skipped: below its committed offset, never processed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnprocessedRecord {
    /// The partition.
    pub tp: TopicPartition,
    /// The offset it was acknowledged at.
    pub offset: i64,
    /// The send's unique id.
    pub id: String,
}

/// `UnprocessedRecords`: acknowledged records (`SendAcked` with an offset of 0 or more) on
/// `topics` whose offset is below `committed` for their partition but which no consumer of
/// `group` ever finished processing (`Processed`), in partition and offset order. A send
/// acknowledged twice counts once.
pub fn unprocessed_records(
    records: &[TraceRecord],
    group: &str,
    topics: &BTreeSet<String>,
    committed: &BTreeMap<TopicPartition, i64>,
) -> Vec<UnprocessedRecord> {
    let mut processed: BTreeSet<(&TopicPartition, &str)> = BTreeSet::new();
    for r in records {
        if let TraceBody::Event(Event::Processed { group: g, tp, records: done, .. }) = &r.body {
            if g == group {
                processed.extend(done.iter().map(|(_, id)| (tp, &**id)));
            }
        }
    }
    let mut counted: BTreeSet<(&TopicPartition, &str)> = BTreeSet::new();
    let mut found: BTreeSet<(&TopicPartition, i64, &str)> = BTreeSet::new();
    for r in records {
        let TraceBody::Event(Event::SendAcked { tp, offset, value, .. }) = &r.body else { continue };
        if *offset < 0 || !topics.contains(tp.topic.as_str()) {
            continue;
        }
        let below = committed.get(tp).is_some_and(|c| *offset < *c);
        let key = (tp, &**value);
        if below && !processed.contains(&key) && counted.insert(key) {
            found.insert((tp, *offset, &**value));
        }
    }
    found.into_iter().map(|(tp, offset, id)| UnprocessedRecord { tp: tp.clone(), offset, id: id.to_string() }).collect()
}

fn describe_unprocessed(group: &str, found: &[UnprocessedRecord]) -> String {
    if found.is_empty() {
        return format!("group {group} processed every acknowledged record below its committed offsets");
    }
    let examples: Vec<String> =
        found.iter().take(EXAMPLES).map(|u| format!("{} at {} offset {}", u.id, u.tp, u.offset)).collect();
    let more = if found.len() > EXAMPLES { "; ..." } else { "" };
    format!(
        "{} acknowledged record(s) below group {group}'s committed offsets were never processed, e.g. {}{more}",
        found.len(),
        examples.join("; ")
    )
}

/// A record a group's consumers processed more than once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedeliveredRecord {
    /// The partition.
    pub tp: TopicPartition,
    /// The offset it was first processed at.
    pub offset: i64,
    /// The send's unique id.
    pub id: String,
    /// Every processing of it: the consumer's client id and the time, in milliseconds.
    pub processed_by: Vec<(String, u64)>,
}

/// `RedeliveredRecords`: the records (by partition and send id) that consumers of `group`
/// processed (`Processed`) more than once, in partition and offset order, and the number of
/// distinct records processed at all.
pub fn redelivered_records(records: &[TraceRecord], group: &str) -> (Vec<RedeliveredRecord>, usize) {
    // Per (partition, send id): the offset first processed at, and every processing of it.
    // The consumers' names are interned, so each processing holds a pointer, not a copy.
    type Processings = (i64, Vec<(&'static str, u64)>);
    let mut seen: BTreeMap<(&TopicPartition, &str), Processings> = BTreeMap::new();
    for r in records {
        let TraceBody::Event(Event::Processed { consumer, group: g, tp, records: done }) = &r.body else { continue };
        if g != group {
            continue;
        }
        for (offset, id) in done {
            seen.entry((tp, &**id)).or_insert_with(|| (*offset, Vec::new())).1.push((consumer.as_str(), r.time_ms()));
        }
    }
    let processed = seen.len();
    let mut found: Vec<RedeliveredRecord> = seen
        .into_iter()
        .filter(|(_, (_, by))| by.len() > 1)
        .map(|((tp, id), (offset, by))| RedeliveredRecord {
            tp: tp.clone(),
            offset,
            id: id.to_string(),
            processed_by: by.into_iter().map(|(consumer, at)| (consumer.to_string(), at)).collect(),
        })
        .collect();
    found.sort_by(|a, b| (&a.tp, a.offset, &a.id).cmp(&(&b.tp, b.offset, &b.id)));
    (found, processed)
}

fn describe_redelivered(group: &str, found: &[RedeliveredRecord], processed: usize) -> String {
    if found.is_empty() {
        return format!("group {group} processed each of its {processed} record(s) once");
    }
    let examples: Vec<String> = found
        .iter()
        .take(EXAMPLES)
        .map(|r| {
            let by: Vec<String> = r.processed_by.iter().map(|(c, ms)| format!("{c} at {}", secs(*ms))).collect();
            format!("{} ({} offset {}) by {}", r.id, r.tp, r.offset, by.join(" and "))
        })
        .collect();
    let more = if found.len() > EXAMPLES { "; ..." } else { "" };
    format!(
        "{} of {processed} record(s) were processed more than once by group {group}, e.g. {}{more}",
        found.len(),
        examples.join("; ")
    )
}

/// `UnownedTime`: per partition of `group`, the nanoseconds it spent unowned, from a
/// `PartitionsRevoked` or `PartitionsLost` by its owner until its next `PartitionsAssigned` to a
/// consumer of the group, or until `end_ns`. A partition counts only once first assigned; a
/// revocation by a consumer that no longer owns the partition (it moved on already) changes
/// nothing. Partitions never unowned are left out.
pub fn unowned_time(records: &[TraceRecord], group: &str, end_ns: u64) -> BTreeMap<TopicPartition, u64> {
    // The owner of each partition assigned so far (`None` while unowned) and since when it is
    // unowned.
    let mut owner: BTreeMap<&TopicPartition, Option<&str>> = BTreeMap::new();
    let mut since: BTreeMap<&TopicPartition, u64> = BTreeMap::new();
    let mut total: BTreeMap<TopicPartition, u64> = BTreeMap::new();
    for r in records {
        let TraceBody::Event(event) = &r.body else { continue };
        match event {
            Event::PartitionsAssigned { consumer, group: g, partitions, .. } if g == group => {
                for tp in partitions {
                    if let Some(from) = since.remove(tp) {
                        *total.entry(tp.clone()).or_insert(0) += r.time_ns.saturating_sub(from);
                    }
                    owner.insert(tp, Some(consumer.as_str()));
                }
            }
            Event::PartitionsRevoked { consumer, group: g, partitions }
            | Event::PartitionsLost { consumer, group: g, partitions, .. }
                if g == group =>
            {
                for tp in partitions {
                    if owner.get(tp) == Some(&Some(consumer.as_str())) {
                        owner.insert(tp, None);
                        since.insert(tp, r.time_ns);
                    }
                }
            }
            _ => {}
        }
    }
    for (tp, from) in since {
        *total.entry(tp.clone()).or_insert(0) += end_ns.saturating_sub(from);
    }
    total.retain(|_, ns| *ns > 0);
    total
}

fn describe_unowned(group: &str, total_ms: u64, per_partition: &BTreeMap<TopicPartition, u64>) -> String {
    if per_partition.is_empty() {
        return format!("no partition of group {group} was ever unowned after its first assignment");
    }
    let mut longest: Vec<(&TopicPartition, u64)> = per_partition.iter().map(|(tp, ns)| (tp, *ns)).collect();
    longest.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let examples: Vec<String> =
        longest.iter().take(EXAMPLES).map(|(tp, ns)| format!("{tp} {}", short_span(ns / 1_000_000))).collect();
    let more = if longest.len() > EXAMPLES { ", ..." } else { "" };
    format!(
        "{} of unowned partition time over {} partition(s) of group {group} ({}{more})",
        short_span(total_ms),
        per_partition.len(),
        examples.join(", ")
    )
}

/// Builds the report of a finished run.
pub fn report(world: &World, wall_time_ms: u64) -> RunReport {
    report_located(world, wall_time_ms).0
}

/// Builds the report of a finished run, with its findings as
/// [`crate::oracle::check_world_located`] gives them (each with the sequence number of the
/// record that revealed it): the oracle runs once for both, where a recording needs both and
/// the oracle is most of the report's time (about a second for heavy.ron).
pub fn report_located(world: &World, wall_time_ms: u64) -> (RunReport, Vec<(Option<u64>, String)>) {
    let view = world.view();
    let (anomalies, located) = crate::oracle::check_world_located(world, &view);
    let findings = located.iter().map(|(_, text)| text.clone()).collect();
    let expectations = evaluate(world.scenario(), world, &view, &anomalies);
    let sim_time_ms = world.elapsed().as_millis() as u64;
    let report = RunReport {
        scenario: world.scenario().name.clone(),
        seed: world.seed(),
        digest: world.digest(),
        sim_time_ms,
        wall_time_ms,
        speedup: sim_time_ms as f64 / (wall_time_ms.max(1)) as f64,
        events: world.record_count() as u64,
        brokers: view.brokers,
        clients: view.clients,
        topics: view.topics,
        groups: view.groups,
        quorum: view.quorum,
        anomalies,
        findings,
        expectations,
    };
    (report, located)
}
