//! Replication end to end: a follower cut off from its leaders leaves the ISR after
//! `replica.lag.time.max.ms`, acks=all writes are refused while the ISR is below
//! `min.insync.replicas`, and the follower rejoins the ISR once it has caught up.

use cluster::error::ErrorCode;
use cluster::event::Event;
use cluster::ids::NodeId;
use sim::trace::{TraceBody, TraceRecord};

const SCENARIO: &str = r#"
Scenario(
    name: "a follower is cut off",
    seed: 5,
    duration: "130s",
    cluster: (brokers: 3),
    topics: [(name: "orders", partitions: 3, replication_factor: 3, configs: {"min.insync.replicas": "2"})],
    clients: [Producer(id: "checkout", topic: "orders", rate_per_sec: 50.0, configs: {"enable.idempotence": "false"})],
    faults: [At("5s", Partition([Broker(3)], [Broker(1), Broker(2)])), At("80s", Heal)],
    expect: [FullIsr, AllPartitionsOnline, NoLostAckedWrites],
)
"#;

fn run() -> (Vec<TraceRecord>, sim::report::RunReport) {
    let scenario = sim::scenario::parse_str(SCENARIO, "replication.rs").unwrap_or_else(|e| panic!("{e}"));
    std::thread::spawn(move || {
        let seed = scenario.seed;
        let mut world = sim::world::World::new(scenario, seed);
        world.run_to_end();
        let records = world.records_since(0);
        (records, sim::check::report(&world, 0))
    })
    .join()
    .unwrap()
}

fn time_ms(r: &TraceRecord) -> u64 {
    r.time_ms()
}

#[test]
fn a_cut_off_follower_leaves_the_isr_and_rejoins_after_healing() {
    let (records, report) = run();
    let events: Vec<(&TraceRecord, &Event)> = records
        .iter()
        .filter_map(|r| match &r.body {
            TraceBody::Event(e) => Some((r, e)),
            _ => None,
        })
        .collect();
    let shrink_without_3 =
        events.iter().find(|(_, e)| matches!(e, Event::IsrShrunk { removed, .. } if removed == &vec![NodeId(3)]));
    let (at, _) = shrink_without_3.expect("the leaders on brokers 1 and 2 drop broker 3 from their ISRs");
    // Not before replica.lag.time.max.ms (30 s) after the cut at 5 s, and within one more
    // check interval (15 s).
    assert!((35_000..=50_000).contains(&time_ms(at)), "shrunk at {}", at.describe());

    let shrink_to_3 = events.iter().find(|(_, e)| matches!(e, Event::IsrShrunk { isr, .. } if isr == &vec![NodeId(3)]));
    assert!(shrink_to_3.is_some(), "the leader on broker 3 loses both followers");

    let refused = events.iter().any(|(r, e)| {
        &*r.node == "broker 3" && matches!(e, Event::ProduceRejected { error: ErrorCode::NotEnoughReplicas, .. })
    });
    assert!(refused, "acks=all writes to broker 3's partition are refused below min.insync.replicas");

    let expanded = events.iter().filter(|(r, e)| time_ms(r) > 80_000 && matches!(e, Event::IsrExpanded { .. })).count();
    assert!(expanded >= 3, "every partition regains its missing replicas after the heal, got {expanded}");

    for e in &report.expectations {
        assert!(e.passed, "{} — {}", e.name, e.detail);
    }
}
