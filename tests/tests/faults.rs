//! Every fault kind at once, with a safe configuration: nothing acknowledged is lost, every
//! partition ends with a leader, and the consumer group settles with the restarted member.

const SCENARIO: &str = r#"
Scenario(
    name: "every fault kind",
    seed: 11,
    duration: "100s",
    cluster: (brokers: 3),
    topics: [(name: "orders", partitions: 3, replication_factor: 3, configs: {"min.insync.replicas": "2"})],
    clients: [
        Producer(id: "checkout", topic: "orders", rate_per_sec: 100.0, configs: {"enable.idempotence": "false"}),
        Consumer(id: "billing-1", group: "billing", topics: ["orders"], configs: {"auto.offset.reset": "earliest"}),
    ],
    faults: [
        // Brokers keep serving while the controller is away; metadata fetches retry.
        At("5s", Crash(Controller)), At("8s", Restart(Controller)),
        // Leaders on broker 1 move once its session expires; it rejoins after recovery.
        At("12s", Crash(Broker(1))), At("30s", Restart(Broker(1))),
        // A restarted consumer joins as a new member; the group waits for the old member's
        // session (45 s by default) to expire before it settles.
        At("35s", Crash(Client("billing-1"))), At("37s", Restart(Client("billing-1"))),
        At("40s", Isolate(Broker(2))), At("45s", Heal),
        // A killed process keeps its page cache; a power loss loses one replica's unflushed
        // tail, which replication restores. The power loss spares the group's coordinator
        // (broker 2): a JoinGroup parked on a coordinator that lost power gets no answer and no
        // reset, so the consumer would wait out its rebalance timeout (5 minutes), as in Kafka.
        At("50s", Kill(Broker(3))), At("52s", Restart(LastCrashed)),
        At("60s", PowerLoss([Broker(1)])), At("62s", Restart(LastCrashed)),
    ],
    expect: [NoLostAckedWrites, AllPartitionsOnline, GroupMembers(group: "billing", members: 1), ConsumedAll(group: "billing"),
             ConvergesWithin("30s")],
)
"#;

#[test]
fn a_safe_configuration_survives_every_fault_kind() {
    let scenario = sim::scenario::parse_str(SCENARIO, "faults.rs").unwrap_or_else(|e| panic!("{e}"));
    let seed = scenario.seed;
    let report = sim::run(scenario, seed).unwrap_or_else(|e| panic!("{e}"));
    for e in &report.expectations {
        assert!(e.passed, "{} — {}", e.name, e.detail);
    }
    assert_eq!(report.anomalies.unjudged_partitions, 0);
    // Liveness is measured from the last fault (the restart at 62 s), not from the start.
    let converges = report.expectations.iter().find(|e| e.name.starts_with("ConvergesWithin")).expect("listed");
    assert!(converges.detail.contains("after the last fault at 62.0s"), "{}", converges.detail);
}

#[test]
fn convergence_fails_when_a_broker_stays_down() {
    // The same plan without the last restart leaves broker 1 down: its partitions never get a
    // full ISR again, so the cluster cannot converge however long it is given.
    let text = SCENARIO.replace(r#"At("62s", Restart(LastCrashed)),"#, "");
    let scenario = sim::scenario::parse_str(&text, "faults.rs").unwrap_or_else(|e| panic!("{e}"));
    let seed = scenario.seed;
    let report = sim::run(scenario, seed).unwrap_or_else(|e| panic!("{e}"));
    let converges = report.expectations.iter().find(|e| e.name.starts_with("ConvergesWithin")).expect("listed");
    assert!(!converges.passed, "{}", converges.detail);
    assert!(
        converges.detail.contains("not converged") && converges.detail.contains("of replicas"),
        "{}",
        converges.detail
    );
}

/// Runs a three-broker cluster with a producer writing to `orders-0` and `faults` (broker 1 is
/// restarted at 14 s). Returns the fault lines that mention a power loss, and the log end offset
/// broker 1 recovers `orders-0` with after its restart.
fn power_loss_run(faults: &str) -> (String, i64) {
    let text = format!(
        r#"Scenario(
    name: "a stop, then a power loss",
    seed: 5,
    duration: "20s",
    cluster: (brokers: 3),
    topics: [(name: "orders", partitions: 1, replication_factor: 3, configs: {{"min.insync.replicas": "2"}})],
    clients: [Producer(id: "checkout", topic: "orders", rate_per_sec: 100.0)],
    faults: [{faults} At("14s", Restart(Broker(1)))],
    expect: [NoLostAckedWrites],
)"#
    );
    let scenario = sim::scenario::parse_str(&text, "faults.rs").unwrap_or_else(|e| panic!("{e}"));
    let seed = scenario.seed;
    let (report, records) = sim::run_traced(scenario, seed).unwrap_or_else(|e| panic!("{e}"));
    assert!(report.expectations.iter().all(|e| e.passed), "replication restores what was lost");
    let fault = records.iter().map(|r| r.describe()).filter(|line| line.contains("power loss")).collect();
    let leo = records
        .iter()
        .filter(|r| r.time_ns >= 14_000_000_000 && &*r.node == "broker 1")
        .find_map(|r| match &r.body {
            sim::trace::TraceBody::Event(cluster::event::Event::LogRecovered { tp, log_end_offset, .. })
                if tp.topic.as_str() == "orders" =>
            {
                Some(*log_end_offset)
            }
            _ => None,
        })
        .expect("broker 1 recovers orders-0");
    (fault, leo)
}

/// A killed broker's machine keeps its page cache, and a power loss on that machine later takes
/// it: the broker comes back with less than it had when it was killed.
#[test]
fn a_power_loss_after_a_kill_takes_the_page_cache_the_kill_left() {
    let (_, kept) = power_loss_run(r#"At("10s", Kill(Broker(1))),"#);
    let (fault, after_power_loss) = power_loss_run(r#"At("10s", Kill(Broker(1))), At("12s", PowerLoss([Broker(1)])),"#);
    assert!(fault.contains("broker 1: ") && fault.contains("unflushed byte(s) lost"), "{fault}");
    assert!(after_power_loss < kept, "recovered {after_power_loss}, against {kept} without the power loss");
}

/// A broker shut down gracefully flushes its logs first (`LogManager.shutdown`), so a power
/// loss afterwards finds nothing in the page cache to take.
#[test]
fn a_power_loss_after_a_graceful_shutdown_takes_nothing() {
    let (_, kept) = power_loss_run(r#"At("10s", Shutdown(Broker(1))),"#);
    let (fault, after_power_loss) =
        power_loss_run(r#"At("10s", Shutdown(Broker(1))), At("12s", PowerLoss([Broker(1)])),"#);
    assert!(fault.contains("power loss: broker 1") && !fault.contains("lost"), "{fault}");
    assert_eq!(after_power_loss, kept);
}
