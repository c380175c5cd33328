//! Teeth: each unsafe configuration in `scenarios/teeth/` expects the write guarantee it gives
//! up (`NoLostAckedWrites`, `NoDuplicates`), and a swarm sweep of random fault plans must find
//! it broken within a bounded number of seeds, shrink the failure, and hand back a reproducer
//! that still fails the same way. A checker that found nothing here would be blind, however
//! green the safe sweep is.

use std::path::{Path, PathBuf};

use sim::plan::{FaultKind, PlanSpace};
use sim::scenario::Scenario;
use sim::swarm::{sweep, SweepOptions};

fn teeth(name: &str) -> (PathBuf, Scenario) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/teeth").join(name);
    let scenario = sim::scenario::load_file(&path).unwrap_or_else(|e| panic!("{e}"));
    (path, scenario)
}

/// Sweeps `seeds` seeds of the scenario over random plans drawn from `space`, and checks that
/// at least one seed fails with `expected`, and only with it; that every failure shrank to no
/// more faults than it had; and that each reproducer, loaded back from its file, fails the same
/// way. Returns how many seeds failed.
fn finds(name: &str, space: impl Fn(&Scenario) -> PlanSpace, seeds: u64, expected: &str) -> usize {
    let (path, base) = teeth(name);
    let dir = tempfile::tempdir().unwrap();
    let mut options = SweepOptions::new(sim::swarm::SeedRange { start: 0, end: seeds });
    options.jobs = 2;
    options.randomize_faults = true;
    options.space = Some(space(&base));
    options.shrink_runs = 6;
    options.out_dir = Some(dir.path().to_path_buf());
    options.scenario_path = Some(path);
    let report = sweep(&base, &options, &|_| {}).unwrap();
    let summary = report.render_summary();
    eprintln!("{summary}");
    assert!(report.failed() >= 1, "{name}: no seed of {seeds} broke {expected}:\n{summary}");
    assert_eq!(report.by_kind.keys().collect::<Vec<_>>(), [expected], "{name}: {summary}");
    for finding in &report.findings {
        assert!(finding.faults_after <= finding.faults_before, "{summary}");
        let file = finding.reproducer.as_ref().expect("written");
        let reproducer = sim::scenario::load_file(file).unwrap_or_else(|e| panic!("{e}"));
        let (failures, _) = sim::swarm::evaluate(reproducer.clone(), reproducer.seed);
        assert!(
            !failures.is_empty() && failures.iter().all(|f| f.kind() == expected),
            "{}: {failures:?}",
            file.display()
        );
    }
    report.failed()
}

/// Kills, isolations and partitions, each lasting long enough (10–14 s) for the controller to
/// fence the broker (`broker.session.timeout.ms`, 9 s) and elect another leader meanwhile.
fn long_outages(base: &Scenario) -> PlanSpace {
    let mut space = PlanSpace::safe(base).only(&[FaultKind::Kill, FaultKind::Isolate, FaultKind::Partition]);
    space.lasts_ms = (10_000, 14_000);
    space.first_fault_ms = 3_000;
    space.all_clear_ms = base.duration.0 * 3 / 4;
    space
}

/// Kills, isolations and partitions of the default lengths (0.5–8 s).
fn outages(base: &Scenario) -> PlanSpace {
    PlanSpace::safe(base).only(&[FaultKind::Kill, FaultKind::Isolate, FaultKind::Partition])
}

#[test]
fn acks_zero_loses_writes() {
    finds("acks-0.ron", outages, 10, "NoLostAckedWrites");
}

#[test]
fn acks_one_loses_acknowledged_writes() {
    finds("acks-1.ron", long_outages, 16, "NoLostAckedWrites");
}

#[test]
fn unclean_leader_election_loses_acknowledged_writes() {
    finds("unclean-election.ron", long_outages, 40, "NoLostAckedWrites");
}

#[test]
fn retries_without_idempotence_duplicate_writes() {
    finds(
        "retries-without-idempotence.ron",
        |base| PlanSpace::safe(base).only(&[FaultKind::Duplicate]),
        10,
        "NoDuplicates",
    );
}

/// The same configuration with idempotence on, under the same plans, duplicates nothing: the
/// teeth above bite because of the configuration, not because the checker cries wolf.
#[test]
fn idempotence_closes_what_retries_open() {
    let (path, base) = teeth("retries-without-idempotence.ron");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace(r#""enable.idempotence": "false""#, r#""enable.idempotence": "true""#);
    let safe = sim::scenario::parse_str(&text, "idempotent variant").unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(safe.clients, base.clients);
    let mut options = SweepOptions::new(sim::swarm::SeedRange { start: 0, end: 10 });
    options.jobs = 2;
    options.randomize_faults = true;
    options.space = Some(PlanSpace::safe(&safe).only(&[FaultKind::Duplicate]));
    options.shrink_runs = 0;
    let report = sweep(&safe, &options, &|_| {}).unwrap();
    assert_eq!(report.failed(), 0, "{}", report.render_summary());
}

/// KAFKA-15591: before Kafka 4.5 a broker with no state for a producer takes any first
/// sequence, even on a partition it has only just learnt it leads, so a later batch can land
/// ahead of earlier ones refused a moment before. The swarm's reproducer reorders under 4.0's
/// rules; the same run under 4.5's keeps the order and every other guarantee.
#[test]
fn a_new_partition_reorders_an_idempotent_producer_before_kafka_4_5_only() {
    let (path, before) = teeth("new-partition-before-4-5.ron");
    assert_eq!(before.kafka_version, "4.0");
    let (failures, _) = sim::swarm::evaluate(before.clone(), before.seed);
    let kinds: Vec<String> = failures.iter().map(|f| f.kind()).collect();
    assert_eq!(kinds, ["NeverHappens(NonMonotonicSend)"], "{failures:?}");
    let text = std::fs::read_to_string(&path).unwrap().replace("kafka_version: \"4.0\"", "kafka_version: \"4.5\"");
    let after = sim::scenario::parse_str(&text, &path.display().to_string()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(after.kafka_version, "4.5");
    let (failures, _) = sim::swarm::evaluate(after.clone(), after.seed);
    assert!(failures.is_empty(), "{failures:?}");
}
