//! The safe configuration keeps its promise under random faults: with `acks=all`, replication
//! factor 3, `min.insync.replicas=2`, the idempotent producer and unclean election off, random
//! plans of broker kills, crashes, restarts, isolations and network partitions never lose an
//! acknowledged write, never store one twice, and never give one offset two values.
//!
//! The plans keep to failures this configuration is meant to survive: process crashes
//! (`kill -9`: the page cache survives), restarts and network splits. Machine crashes that lose
//! the page cache are left out on purpose. Kafka does not fsync each write, and before
//! Eligible Leader Replicas (KIP-966, off by default in 4.0) a replica that lost its unflushed
//! tail can still be the last member of the ISR and be elected: an earlier version of this test
//! found exactly that plan (broker 1 loses power, brokers 2 and 3 restart before broker 1's
//! session expires, so their new incarnations leave the ISR and broker 1, empty, leads). That is
//! Kafka's documented trade-off, not a bug in the lab.
//!
//! The checker must have teeth too: the same plans with `acks=1` and idempotence off find lost
//! writes within a bounded number of cases.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{RngAlgorithm, RngSeed};
use std::fmt::Write;

/// Faults fire between 4 s (topics exist and the producer is writing by then) and 20 s.
const FIRST_FAULT_MS: u64 = 4_000;
/// When everything is healed and every broker restarted.
const ALL_CLEAR_MS: u64 = 22_000;
/// Run length: time after the all-clear for fencing (9 s), elections and catch-up.
const DURATION_MS: u64 = 36_000;

#[derive(Clone, Debug)]
enum Hit {
    Kill(i32),
    Isolate(i32),
    /// This broker on one side, the other two on the other.
    Split(i32),
    /// The leader of orders-0 at that moment is killed.
    KillLeader,
}

#[derive(Clone, Debug)]
struct TimedHit {
    at_ms: u64,
    hit: Hit,
    lasts_ms: u64,
}

#[derive(Clone, Debug)]
struct Plan {
    seed: u64,
    faults: Vec<TimedHit>,
}

impl Plan {
    /// The scenario text, with `producer_configs` for the producer.
    fn render(&self, producer_configs: &str) -> String {
        let mut faults = String::new();
        for f in &self.faults {
            let end = (f.at_ms + f.lasts_ms).min(ALL_CLEAR_MS - 100);
            let (start, undo) = match &f.hit {
                Hit::Kill(b) => (format!("Kill(Broker({b}))"), format!("Restart(Broker({b}))")),
                Hit::Isolate(b) => (format!("Isolate(Broker({b}))"), "Heal".to_string()),
                Hit::Split(b) => {
                    let others: Vec<String> = (1..=3).filter(|o| o != b).map(|o| format!("Broker({o})")).collect();
                    (format!("Partition([Broker({b})], [{}])", others.join(", ")), "Heal".to_string())
                }
                Hit::KillLeader => ("Kill(Leader(\"orders\", 0))".to_string(), "Restart(LastCrashed)".to_string()),
            };
            let _ = writeln!(faults, "        At(\"{}ms\", {start}),", f.at_ms);
            let _ = writeln!(faults, "        At(\"{end}ms\", {undo}),");
        }
        let _ = writeln!(faults, "        At(\"{ALL_CLEAR_MS}ms\", Heal),");
        for b in 1..=3 {
            let _ = writeln!(faults, "        At(\"{ALL_CLEAR_MS}ms\", Restart(Broker({b}))),");
        }
        format!(
            r#"Scenario(
    name: "random plan",
    seed: {seed},
    duration: "{DURATION_MS}ms",
    cluster: (brokers: 3),
    topics: [(name: "orders", partitions: 2, replication_factor: 3, configs: {{"min.insync.replicas": "2"}})],
    clients: [
        Producer(id: "checkout", topic: "orders", rate_per_sec: 50.0, keys: Uniform(8),
                 configs: {{{producer_configs}}}),
    ],
    faults: [
{faults}    ],
)"#,
            seed = self.seed
        )
    }
}

fn hit() -> impl Strategy<Value = Hit> {
    prop_oneof![
        (1i32..=3).prop_map(Hit::Kill),
        (1i32..=3).prop_map(Hit::Isolate),
        (1i32..=3).prop_map(Hit::Split),
        Just(Hit::KillLeader),
    ]
}

fn plan() -> impl Strategy<Value = Plan> {
    let timed = ((FIRST_FAULT_MS / 100)..(20_000 / 100), hit(), 5u64..=80).prop_map(|(at, hit, lasts)| TimedHit {
        at_ms: at * 100,
        hit,
        lasts_ms: lasts * 100,
    });
    (1u64..10_000, proptest::collection::vec(timed, 1..=5)).prop_map(|(seed, mut faults)| {
        faults.sort_by_key(|f| f.at_ms);
        Plan { seed, faults }
    })
}

/// The outcome of one plan: lost, duplicated and inconsistent records, or the crash message.
fn run(plan: &Plan, producer_configs: &str) -> Result<sim::check::Anomalies, String> {
    let text = plan.render(producer_configs);
    let scenario = sim::scenario::parse_str(&text, "durability.rs (generated)")
        .unwrap_or_else(|e| panic!("the generated scenario does not load: {e}\n{text}"));
    match sim::run(scenario, plan.seed) {
        Ok(report) => Ok(report.anomalies),
        Err(crash) => Err(format!("{crash}\nscenario:\n{text}")),
    }
}

const SAFE: &str = r#""acks": "all", "enable.idempotence": "true""#;

fn config(cases: u32, seed: u64) -> ProptestConfig {
    ProptestConfig {
        cases,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        max_shrink_iters: 128,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(40, 0x0064_7572_6162_6c65))]

    #[test]
    fn the_safe_configuration_never_loses_or_duplicates_an_acknowledged_write(plan in plan()) {
        match run(&plan, SAFE) {
            Ok(a) => prop_assert!(
                a.lost_acked_writes == 0 && a.duplicates == 0 && a.inconsistent_offsets == 0,
                "{a:?}\nscenario:\n{}",
                plan.render(SAFE)
            ),
            Err(why) => prop_assert!(false, "{}", why),
        }
    }
}

#[test]
fn acks_one_loses_writes_under_the_same_kind_of_plans() {
    // The checker's teeth: the same generator with acks=1 finds a lost acknowledged write
    // within a bounded number of plans.
    let unsafe_configs = r#""acks": "1", "enable.idempotence": "false""#;
    let mut runner = proptest::test_runner::TestRunner::new(config(60, 0x0074_6565_7468));
    let mut found = None;
    for i in 0..60 {
        let plan = plan().new_tree(&mut runner).expect("a plan").current();
        let anomalies = run(&plan, unsafe_configs).unwrap_or_else(|e| panic!("{e}"));
        if anomalies.lost_acked_writes > 0 {
            found = Some(i);
            break;
        }
    }
    assert!(found.is_some(), "60 random plans with acks=1 lost no acknowledged write");
}
