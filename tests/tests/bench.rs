//! The benchmark scenarios (`scenarios/bench/`) load, and the `kafkalab bench` harness runs one
//! short iteration. Speed itself is checked by `kafkalab bench`, never by timed assertions here.
//!
//! `tests/tests/scenarios.rs` runs only the files directly in `scenarios/`, so the benchmark
//! scenarios (60 s of 20,000 records/s in heavy.ron) stay out of the teaching-scenario suite on
//! purpose; here each is cut to a short run.

use std::path::Path;

fn bench_scenario(name: &str) -> sim::scenario::Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/bench").join(name);
    sim::scenario::load_file(&path).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_bench_scenarios_load_with_the_shapes_issue_10_asks_for() {
    use sim::scenario::ClientSpec;
    let tutorial = bench_scenario("tutorial.ron");
    assert_eq!(
        (tutorial.cluster.brokers, tutorial.topics[0].partitions, tutorial.topics[0].replication_factor),
        (3, 3, 3)
    );
    assert_eq!(tutorial.duration.0, 30_000);
    assert!(tutorial.faults.is_empty());
    let heavy = bench_scenario("heavy.ron");
    assert_eq!(heavy.duration.0, 60_000);
    assert_eq!(heavy.topics[0].partitions, 12);
    let producers: Vec<&sim::scenario::ProducerSpec> = heavy
        .clients
        .iter()
        .filter_map(|c| match c {
            ClientSpec::Producer(p) => Some(p),
            ClientSpec::Consumer(_) => None,
        })
        .collect();
    assert_eq!(producers.len(), 4);
    assert_eq!(producers.iter().map(|p| p.rate_per_sec).sum::<f64>(), 20_000.0);
    assert!(producers.iter().all(|p| p.configs["enable.idempotence"] == "true" && p.configs["linger.ms"] == "5"));
    let faults = bench_scenario("faults.ron");
    assert!(faults.faults.len() >= 3, "crashes, a partition and a power loss");
}

#[test]
fn the_harness_runs_one_short_iteration_of_each_scenario() {
    for name in ["tutorial.ron", "heavy.ron", "faults.ron"] {
        let mut scenario = bench_scenario(name);
        // Long enough for the cluster to form and records to flow.
        scenario.duration = sim::scenario::Span(if name == "heavy.ron" { 6_000 } else { 8_000 });
        scenario.faults.retain(|f| f.at().0 < scenario.duration.0);
        let seed = scenario.seed;
        let sample = sim::bench::run_scenario(scenario, seed).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(sample.sim_ms, if name == "heavy.ron" { 6_000 } else { 8_000 });
        assert!(sample.messages > 100, "{name}: {sample:?}");
        assert!(sample.records > 0, "{name}: {sample:?}");
        assert!(sample.sim_per_wall() > 0.0);
    }
    let baseline = sim::bench::madsim_baseline(100, 1);
    assert!(baseline.messages > 0, "{baseline:?}");
    let mut short = bench_scenario("faults.ron");
    short.duration = sim::scenario::Span(2_000);
    short.faults.clear();
    let swarm = sim::bench::swarm_seeds_per_sec(&short, 1, 1).expect("a sweep of one seed");
    assert_eq!(swarm.seeds, 1);
}
