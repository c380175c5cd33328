//! Every scenario in `scenarios/` runs and meets its own expectations, and runs are
//! deterministic: the same scenario and seed give the same digest and report, whether the run
//! holds its whole trace or only the records its checks read, and other seeds give others.

use kafkalab_tests::run_edited;
use std::path::{Path, PathBuf};

fn scenario_files() -> Vec<PathBuf> {
    let files = kafkalab_tests::bundled_scenarios();
    assert!(files.len() >= 3, "the three bundled scenarios are present");
    files
}

fn load(path: &Path) -> sim::scenario::Scenario {
    sim::scenario::load_file(path).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn every_scenario_meets_its_expectations() {
    let mut failures = Vec::new();
    for path in scenario_files() {
        let scenario = load(&path);
        assert!(!scenario.expect.is_empty(), "{} states no expectations", path.display());
        let seed = scenario.seed;
        let report = sim::run(scenario, seed).unwrap_or_else(|e| panic!("{e}"));
        for e in report.expectations.iter().filter(|e| !e.passed) {
            failures.push(format!("{}: {} ({})", path.display(), e.name, e.detail));
        }
    }
    assert!(failures.is_empty(), "expectations failed:\n{}", failures.join("\n"));
}

#[test]
fn the_same_seed_gives_the_same_digest_and_other_seeds_differ() {
    for path in scenario_files() {
        let scenario = load(&path);
        let seed = scenario.seed;
        let first = sim::run(scenario.clone(), seed).unwrap_or_else(|e| panic!("{e}"));
        // The second run holds its whole trace: every check must read the same from it as from
        // the records a plain run keeps (`check::RecordNeeds`).
        let (mut second, records) = sim::run_traced(scenario.clone(), seed).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(first.digest, second.digest, "{}: two runs with seed {seed} differ", path.display());
        assert_eq!(first.events, second.events);
        assert_eq!(records.len() as u64, first.events);
        (second.wall_time_ms, second.speedup) = (first.wall_time_ms, first.speedup);
        assert_eq!(first, second, "{}: the report depends on how much of the trace the run held", path.display());
        let other = sim::run(scenario, seed + 1).unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(first.digest, other.digest, "{}: seeds {seed} and {} gave the same run", path.display(), seed + 1);
    }
}

#[test]
fn acks_one_loses_writes_that_acks_all_keeps() {
    // The same fault plan as scenario 02, with acks=all: the isolated leader cannot get its
    // writes into the followers, so it never acknowledges them, and nothing acknowledged is lost.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/02-acks-one-loses-data.ron");
    let source = std::fs::read_to_string(&path).unwrap();
    let safe = source
        .replace(r#""acks": "1""#, r#""acks": "all""#)
        .replace("LostAckedWrites(at_least: 1)", "NoLostAckedWrites");
    assert_ne!(source, safe);
    let scenario = sim::scenario::parse_str(&safe, "02 with acks=all").unwrap_or_else(|e| panic!("{e}"));
    let seed = scenario.seed;
    let report = sim::run(scenario, seed).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.anomalies.lost_acked_writes, 0, "{:#?}", report.findings);
    assert!(report.passed(), "{:#?}", report.expectations);
}

#[test]
fn kip101_truncation_loses_the_write_only_before_leader_epochs() {
    // Scenario 14 runs in 0.10 and loses m2; every era with leader epochs keeps it.
    for version in ["0.11", "2.0", "2.8", "3.6", "3.9", "4.0"] {
        let report = run_edited(
            "14-kip101-hw-truncation-loses-acked-write.ron",
            &[
                (r#"kafka_version: "0.10""#, &format!(r#"kafka_version: "{version}""#)),
                ("LostAckedWrites(at_least: 1)", "NoLostAckedWrites"),
            ],
        );
        assert!(report.passed(), "{version}: {:#?}", report.expectations);
    }
}

#[test]
fn kip101_power_loss_divergence_heals_once_replicas_ask_where_epochs_end() {
    // Scenario 15 diverges in 0.10. In 0.11-2.7 the returning replica asks
    // OffsetsForLeaderEpoch; from 2.8 the leader's Fetch answer names the divergence.
    for version in ["0.11", "2.0", "2.8", "4.0"] {
        let report = run_edited(
            "15-kip101-power-loss-divergence.ron",
            &[
                (r#"kafka_version: "0.10""#, &format!(r#"kafka_version: "{version}""#)),
                ("ReplicasDiverge(", "ReplicasAgree("),
                // With leader epochs the replicas never disagree below the high watermark.
                ("Happens(Violation(", "NeverHappens(Violation("),
            ],
        );
        assert!(report.passed(), "{version}: {:#?}", report.expectations);
    }
}
