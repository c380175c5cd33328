//! The simulated world around the `cluster` crate: madsim nodes that host brokers, the
//! controller and clients; the disk and network they use; faults; scenario files; the trace;
//! the history oracle; and the reports front ends print.
//!
//! Determinism is absolute: the same scenario, seed and build give a byte-identical trace and
//! digest. Run each simulation on a fresh thread ([`run`] and [`live::LiveSession`] do).

#[cfg(not(madsim))]
compile_error!(
    "the sim crate must be built with `--cfg madsim` so every run is deterministic; \
     build from the workspace root, whose .cargo/config.toml sets it"
);

pub mod check;
pub mod live;
pub mod report;
pub mod scenario;
pub mod trace;
pub mod view;
pub mod world;

use report::RunReport;
use scenario::Scenario;

/// Runs `scenario` with `seed` to its end on a fresh thread and reports what happened.
///
/// A node panic (an impossible state inside the simulation) is re-raised here with the seed
/// and a command that reproduces it.
pub fn run(scenario: Scenario, seed: u64) -> RunReport {
    let name = scenario.name.clone();
    let result = std::thread::Builder::new()
        .name(format!("kafkalab-seed-{seed}"))
        .spawn(move || {
            let started = std::time::Instant::now();
            let mut world = world::World::new(scenario, seed);
            world.run_to_end();
            let wall_time_ms = started.elapsed().as_millis() as u64;
            check::report(&world, wall_time_ms)
        })
        .expect("spawning the simulation thread")
        .join();
    match result {
        Ok(report) => report,
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)");
            panic!(
                "the simulation of {name:?} crashed with seed {seed}: {message}\n\
                 reproduce with: kafkalab run <scenario.ron> --seed {seed}"
            );
        }
    }
}
