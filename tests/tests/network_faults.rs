//! The network faults beyond crashes and clean partitions: `Pause`/`Resume`, `OneWay`,
//! `Reconnect`, and the TCP-faithful degradations `Loss`, `Latency` and `Duplicate`.

use kafkalab_tests::run_edited;
use sim::report::RunReport;
use sim::trace::{TraceBody, TraceRecord};
use std::collections::BTreeMap;

/// One producer writing to a three-way replicated partition; `FAULTS` and `EXPECT` are replaced
/// by each test.
const BASE: &str = r#"
Scenario(
    name: "network faults",
    seed: 3,
    duration: "30s",
    cluster: (brokers: 3),
    topics: [(name: "orders", partitions: 1, replication_factor: 3, configs: {"min.insync.replicas": "2"})],
    clients: [
        Producer(id: "checkout", topic: "orders", rate_per_sec: 50.0, keys: Uniform(8),
                 configs: {"acks": "all", "enable.idempotence": "IDEMPOTENCE"}),
    ],
    faults: [FAULTS],
    expect: [EXPECT],
)
"#;

fn source(idempotence: bool, faults: &str, expect: &str) -> String {
    BASE.replace("IDEMPOTENCE", if idempotence { "true" } else { "false" })
        .replace("FAULTS", faults)
        .replace("EXPECT", expect)
}

fn run_source(source: &str) -> (RunReport, Vec<TraceRecord>) {
    let scenario = sim::scenario::parse_str(source, "network_faults.rs").unwrap_or_else(|e| panic!("{e}"));
    let seed = scenario.seed;
    sim::run_traced(scenario, seed).unwrap_or_else(|e| panic!("{e}"))
}

fn run(idempotence: bool, faults: &str, expect: &str) -> (RunReport, Vec<TraceRecord>) {
    run_source(&source(idempotence, faults, expect))
}

fn assert_passed(report: &RunReport) {
    for e in &report.expectations {
        assert!(e.passed, "{} — {}\n{:#?}", e.name, e.detail, report.findings);
    }
}

fn fault_lines(records: &[TraceRecord]) -> Vec<String> {
    records
        .iter()
        .filter_map(|r| match &r.body {
            TraceBody::Fault(text) => Some(text.clone()),
            _ => None,
        })
        .collect()
}

/// For each acknowledged send, the time from `send()` to its acknowledgement, in ms, keyed by
/// the time it was sent.
fn ack_latencies(records: &[TraceRecord]) -> BTreeMap<u64, u64> {
    let mut sent = BTreeMap::new();
    let mut out = BTreeMap::new();
    for r in records {
        match &r.body {
            TraceBody::Event(cluster::event::Event::SendInvoked { value, .. }) => {
                sent.insert(value.clone(), r.time_ms());
            }
            TraceBody::Event(cluster::event::Event::SendAcked { value, .. }) => {
                if let Some(at) = sent.get(value) {
                    out.insert(*at, r.time_ms() - at);
                }
            }
            _ => {}
        }
    }
    out
}

#[test]
fn a_broken_connection_duplicates_writes_unless_the_producer_is_idempotent() {
    // A request delivered, then the connection breaks before the answer: the producer cannot
    // tell whether the write happened and sends it again.
    let faults = r#"At("5s", Duplicate(rate: 0.2, nodes: [Client("checkout")])), At("15s", Heal)"#;
    let (report, records) = run(false, faults, "Duplicates(at_least: 1), NoLostAckedWrites");
    assert_passed(&report);
    let retried = records.iter().filter(|r| {
        matches!(&r.body, TraceBody::Event(cluster::event::Event::SendRetried { reason, .. }) if reason == "NETWORK_EXCEPTION")
    });
    assert!(retried.count() > 0, "the producer saw the connection close and retried");
    assert!(
        fault_lines(&records)[0].starts_with("break the connection after 20% of requests on links of checkout"),
        "{:?}",
        fault_lines(&records)
    );

    // The idempotent producer's retries carry the same sequence numbers: the leader drops them.
    let (report, _) = run(true, faults, "NoDuplicates, DuplicatesDropped(at_least: 1), NoLostAckedWrites");
    assert_passed(&report);
}

#[test]
fn a_paused_process_does_nothing_until_it_resumes() {
    let faults =
        r#"At("5s", Pause(Client("checkout"))), At("15s", Resume(Client("checkout"))), At("16s", Resume(Broker(1)))"#;
    let (report, records) = run(true, faults, "NoLostAckedWrites, NoDuplicates, FullIsr");
    assert_passed(&report);
    let sends: Vec<u64> = records
        .iter()
        .filter(|r| matches!(&r.body, TraceBody::Event(cluster::event::Event::SendInvoked { .. })))
        .map(TraceRecord::time_ms)
        .collect();
    assert!(sends.iter().any(|t| *t < 5_000) && sends.iter().any(|t| *t > 15_000), "it sends before and after");
    // Its timers stood still: the 50-a-second send timer did not fire while it slept. (A step
    // in the instant of the pause, 5 s, may run before it; the first step after the resume
    // catches up, at 15 s exactly.)
    let asleep: Vec<&u64> = sends.iter().filter(|t| (5_001..15_000).contains(*t)).collect();
    assert!(asleep.is_empty(), "sends while paused: {asleep:?}");
    let lines = fault_lines(&records);
    assert!(lines[0].starts_with("pause checkout (a stop-the-world pause"), "{lines:?}");
    assert!(lines[1].starts_with("resume checkout after 10s paused"), "{lines:?}");
    assert_eq!(lines[2], "resume broker 1: it was not paused");
}

#[test]
fn a_paused_leader_that_acknowledges_with_acks_one_loses_the_writes() {
    // Scenario 36 with acks=1: the stale leader acknowledges the requests that queued while it
    // slept, before it learns that it no longer leads, then truncates them. Five requests were
    // in flight when it stopped (`max.in.flight.requests.per.connection`), one record each
    // (`linger.ms=0` at 50 records a second); whether the batch the producer sends on the first
    // answer also lands before the news depends on the run's latencies.
    let report = run_edited(
        "36-paused-leader-wakes-up-fenced.ron",
        &[
            (r#"configs: {"acks": "all"}"#, r#"configs: {"acks": "1", "enable.idempotence": "false"}"#),
            ("        NoLostAckedWrites,\n", "        LostAckedWrites(at_least: 1),\n"),
        ],
    );
    assert!(report.passed(), "{:#?}", report.expectations);
    assert!(report.anomalies.lost_acked_writes >= 5, "{}", report.anomalies.lost_acked_writes);
}

#[test]
fn reconnect_ends_only_the_cuts_of_the_node_it_names() {
    // FoundationDB's swizzle: cut, then reconnect nodes one by one, never healing all at once.
    let faults = r#"
        At("5s", Partition([Broker(1)], [Broker(2), Broker(3)])), At("5s", Isolate(Broker(3))),
        At("5s", OneWay([Client("checkout")], [Broker(2)])),
        At("10s", Reconnect(Broker(2))), At("12s", Reconnect(Broker(2))),
        At("14s", Reconnect(Broker(3))), At("16s", Reconnect(Client("checkout")))"#;
    // A cut holds the followers' fetches as TCP does, and they go again only at the next
    // retransmission, whose timeout doubles at each try: the ISR may be full again only well
    // after the last reconnect, so the run lasts 45 s.
    let source = source(true, faults, "NoLostAckedWrites, AllPartitionsOnline, FullIsr")
        .replace(r#"duration: "30s""#, r#"duration: "45s""#);
    let (report, records) = run_source(&source);
    assert_passed(&report);
    let lines = fault_lines(&records);
    assert_eq!(
        &lines[3..],
        [
            "reconnect broker 2 (its cuts to broker 1, checkout end; other cuts stay)",
            "reconnect broker 2: it was not cut off",
            "reconnect broker 3 (its isolation ends, its cuts to broker 1 end; other cuts stay)",
            "reconnect checkout: it was not cut off",
        ]
    );
}

#[test]
fn latency_slows_every_acknowledgement_and_heal_ends_it() {
    let faults = r#"At("5s", Latency(extra: "300ms", jitter: "20ms", nodes: [Client("checkout")])), At("15s", Heal)"#;
    let (report, records) = run(true, faults, "NoLostAckedWrites, NoDuplicates");
    assert_passed(&report);
    let latencies = ack_latencies(&records);
    // The request and its answer each take 280 ms to 320 ms more.
    let during: Vec<u64> = latencies.range(5_100..14_000).map(|(_, l)| *l).collect();
    assert!(!during.is_empty() && during.iter().all(|l| *l >= 560), "{during:?}");
    let after: Vec<u64> = latencies.range(17_000..).map(|(_, l)| *l).collect();
    assert!(!after.is_empty() && after.iter().all(|l| *l < 100), "{after:?}");
    let lines = fault_lines(&records);
    assert_eq!(lines[0], "add 300ms ± 20ms of latency on links of checkout (order kept, as on a TCP connection)");
    assert_eq!(lines[1], "heal the network (packet loss, added latency and connection breaks end too)");
}

#[test]
fn packet_loss_costs_retransmissions_but_loses_and_reorders_nothing() {
    let faults = r#"At("5s", Loss(rate: 0.3)), At("20s", Loss(rate: 0.0)), At("25s", Heal)"#;
    let (report, records) = run(true, faults, "NoLostAckedWrites, NoDuplicates, AllPartitionsOnline");
    assert_passed(&report);
    assert_eq!(report.anomalies.lost_acked_writes, 0);
    let latencies = ack_latencies(&records);
    let slow = latencies.range(5_100..19_000).filter(|(_, l)| **l >= 200).count();
    assert!(slow > 0, "some acknowledgements waited for a retransmission");
    // TCP keeps order: the idempotent producer's five requests in flight never overtake one
    // another, or the leader would refuse them as out of sequence.
    let out_of_order = records.iter().filter(|r| {
        matches!(
            &r.body,
            TraceBody::Event(cluster::event::Event::ProduceRejected {
                error: cluster::error::ErrorCode::OutOfOrderSequenceNumber,
                ..
            })
        )
    });
    assert_eq!(out_of_order.count(), 0);
    let lines = fault_lines(&records);
    assert!(
        lines[0].starts_with("lose 30% of packets on every link (each loss costs a TCP retransmission"),
        "{lines:?}"
    );
    assert_eq!(lines[1], "stop losing packets on every link");
    assert_eq!(lines[2], "heal the network", "nothing was left to heal but the name");
}

#[test]
fn network_faults_are_deterministic() {
    let faults = r#"
        At("3s", Loss(rate: 0.2, nodes: [Broker(2)])), At("4s", Latency(extra: "50ms", jitter: "40ms")),
        At("5s", Duplicate(rate: 0.1)), At("6s", Pause(Broker(3))), At("8s", OneWay([Broker(1)], [Broker(2)])),
        At("12s", Resume(Broker(3))), At("14s", Heal)"#;
    let (first, _) = run(true, faults, "NoLostAckedWrites, NoDuplicates");
    let (second, _) = run(true, faults, "NoLostAckedWrites, NoDuplicates");
    assert_passed(&first);
    assert_eq!(first.digest, second.digest);
}
