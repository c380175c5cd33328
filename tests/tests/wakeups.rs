//! No node asks to be woken for a deadline it then does not act on.
//!
//! A node's `poll_deadline` is the moment the simulator next steps it without input. A deadline
//! at or before the moment the node was just stepped at is served a millisecond later (madsim's
//! shortest sleep), so a node that keeps such a deadline is stepped a thousand times a simulated
//! second for nothing. Two did, until this test: a consumer still finding its coordinator or
//! joining (its expired auto-commit timer, with no generation to commit for), and a lone
//! controller (its check-quorum deadline, which a quorum of one never moves). Those spins were
//! most of the steps of `faults.ron`, and cost the lessons' runs and the swarm their time.
//!
//! The world counts, for each node, the steps taken for a deadline that leave a deadline already
//! due (`Slot::stale_deadlines`); a step for a message may leave one, since the node serves its
//! timers when it wakes for them. Every bundled scenario and the benchmarks' tutorial and
//! faults scenarios run with none.

use std::path::{Path, PathBuf};

fn scenarios() -> Vec<PathBuf> {
    let bench = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/bench");
    let mut files = kafkalab_tests::bundled_scenarios();
    files.push(bench.join("tutorial.ron"));
    files.push(bench.join("faults.ron"));
    files
}

/// Runs `path` at its own seed to the end: each node's name and stale-deadline count.
fn stale_deadlines(path: &Path) -> Vec<(String, u64)> {
    let scenario = sim::scenario::load_file(path).unwrap_or_else(|e| panic!("{e}"));
    std::thread::spawn(move || {
        let seed = scenario.seed;
        let mut world = sim::world::World::new(scenario, seed);
        world.run_to_end();
        world.slots().values().map(|slot| (slot.name.clone(), slot.stale_deadlines())).collect()
    })
    .join()
    .unwrap()
}

#[test]
fn no_node_keeps_a_deadline_it_has_passed() {
    let mut spinning = Vec::new();
    for path in scenarios() {
        for (node, count) in stale_deadlines(&path) {
            if count > 0 {
                spinning.push(format!("{}: {node} ended {count} steps with a deadline already due", path.display()));
            }
        }
    }
    assert!(spinning.is_empty(), "nodes woken for nothing:\n{}", spinning.join("\n"));
}
