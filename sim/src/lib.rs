//! The simulated world around the `cluster` crate: madsim nodes that host brokers, the
//! controller and clients; the disk and network they use; faults; scenario files; the trace;
//! the history oracle; and the reports front ends print.
//!
//! Determinism is absolute: the same scenario, seed and build give a byte-identical trace and
//! digest. Run each simulation on a fresh thread ([`run`] and [`live::LiveSession`] do).

#![warn(missing_docs)]

#[cfg(not(madsim))]
compile_error!(
    "the sim crate must be built with `--cfg madsim` so every run is deterministic; \
     build from the workspace root, whose .cargo/config.toml sets it"
);

pub mod check;
pub mod disk;
pub mod live;
pub mod report;
pub mod scenario;
pub mod trace;
pub mod view;
pub mod world;

use report::RunReport;
use scenario::Scenario;

/// A simulation that stopped because a node hit an impossible state (a panic inside the
/// simulated world). The seed reproduces it exactly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimulationCrash {
    /// The scenario's name.
    pub scenario: String,
    /// The seed of the run.
    pub seed: u64,
    /// The panic message.
    pub message: String,
}

impl SimulationCrash {
    /// The command that reproduces the crash, given the scenario file's path.
    pub fn reproduce_command(&self, path: &str) -> String {
        format!("kafkalab run {path} --seed {}", self.seed)
    }
}

impl std::fmt::Display for SimulationCrash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the simulation of {:?} crashed with seed {}: {}", self.scenario, self.seed, self.message)
    }
}

impl std::error::Error for SimulationCrash {}

/// Runs `scenario` with `seed` to its end on a fresh thread and reports what happened.
///
/// Errors: [`SimulationCrash`] when a node panicked, which means the simulator reached a state
/// the protocol forbids; it carries the seed that reproduces it.
pub fn run(scenario: Scenario, seed: u64) -> Result<RunReport, SimulationCrash> {
    run_traced(scenario, seed).map(|(report, _)| report)
}

/// Like [`run`], and also returns every trace record of the run.
pub fn run_traced(scenario: Scenario, seed: u64) -> Result<(RunReport, Vec<trace::TraceRecord>), SimulationCrash> {
    let name = scenario.name.clone();
    std::thread::Builder::new()
        .name(format!("kafkalab-seed-{seed}"))
        .spawn(move || {
            let started = std::time::Instant::now();
            let mut world = world::World::new(scenario, seed);
            world.run_to_end();
            let wall_time_ms = started.elapsed().as_millis() as u64;
            (check::report(&world, wall_time_ms), world.records_since(0))
        })
        .expect("spawning the simulation thread")
        .join()
        .map_err(|panic| {
            let message = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)")
                .to_string();
            SimulationCrash { scenario: name, seed, message }
        })
}
