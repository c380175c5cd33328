//! Incremental fetch sessions (KIP-227) change what a Fetch carries, never what a follower
//! learns: the faults benchmark (a leader crash, a network partition, a power loss of every
//! machine) runs to the very same trace with sessions and without them
//! (`max.incremental.fetch.session.cache.slots` = 0), and only the first run holds sessions,
//! for followers and consumers alike.

use std::path::Path;
use std::sync::PoisonError;
use std::time::Duration;

/// Runs `scenarios/bench/faults.ron` with `cluster_configs` in its cluster line: the trace's
/// digest, and the fetch sessions the brokers hold at 20 s (after the crash and the network
/// partition, before the power loss), followers' and consumers'.
fn run(cluster_configs: &str) -> (String, (usize, usize)) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/bench/faults.ron");
    let source = std::fs::read_to_string(&path).unwrap();
    let line = "cluster: (brokers: 3, controllers: 3, process_roles: Combined)";
    assert!(source.contains(line), "faults.ron's cluster line changed");
    let edited = line.replace(')', &format!(", configs: {{{cluster_configs}}})"));
    let scenario =
        sim::scenario::parse_str(&source.replace(line, &edited), "faults.ron").unwrap_or_else(|e| panic!("{e}"));
    std::thread::spawn(move || {
        let seed = scenario.seed;
        let mut world = sim::world::World::new(scenario, seed);
        while world.elapsed() < Duration::from_secs(20) {
            world.step();
        }
        let sessions = world
            .slots()
            .values()
            .map(|slot| {
                let hosted = slot.hosted.lock().unwrap_or_else(PoisonError::into_inner);
                hosted.as_ref().and_then(|h| h.broker()).map_or((0, 0), |b| b.incremental_fetch_sessions())
            })
            .fold((0, 0), |(f, c), (followers, consumers)| (f + followers, c + consumers));
        world.run_to_end();
        (world.digest(), sessions)
    })
    .join()
    .unwrap()
}

#[test]
fn fetch_sessions_leave_every_run_as_it_was_without_them() {
    let (with_sessions, sessions) = run("");
    let (without, none) = run(r#""max.incremental.fetch.session.cache.slots": "0""#);
    assert!(sessions.0 > 0 && sessions.1 > 0, "followers and consumers fetch in sessions by default: {sessions:?}");
    assert_eq!(none, (0, 0), "no slots, no sessions");
    assert_eq!(with_sessions, without, "the same trace, record for record");
}
