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

pub mod bench;
pub mod check;
pub mod converge;
pub mod disk;
pub mod dump;
pub mod finding;
pub mod invariants;
pub mod live;
pub mod net;
pub mod oracle;
pub mod plan;
pub mod record;
pub mod report;
pub mod scenario;
pub mod swarm;
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

/// Whether a run may use helper threads beside the simulation's own: the trace's hashing
/// ([`trace::Trace::with_digest_thread`]), the trace's clerk, which builds the digest and the
/// clients' history from the records a run lets go ([`trace::Trace::set_retention`]), and the
/// end-of-run oracle's partition checks ([`oracle::check_world_located`]). On by default.
static HELPER_THREADS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Allows or forbids helper threads for runs from now on, and gives the previous setting. A
/// sweep that runs a simulation on every core has no core to spare, and turns them off while
/// it runs. Results, traces and digests are the same either way; only the wall time differs.
pub fn set_helper_threads(allowed: bool) -> bool {
    HELPER_THREADS.swap(allowed, std::sync::atomic::Ordering::Relaxed)
}

/// Whether runs may use helper threads now (see [`set_helper_threads`]).
pub fn helper_threads_allowed() -> bool {
    HELPER_THREADS.load(std::sync::atomic::Ordering::Relaxed)
}

/// Runs `scenario` with `seed` to its end on a fresh thread and reports what happened.
///
/// Errors: [`SimulationCrash`] when a node panicked, which means the simulator reached a state
/// the protocol forbids; it carries the seed that reproduces it.
///
/// The run holds only the trace records its checks read ([`world::World::hold_needed_records`]).
pub fn run(scenario: Scenario, seed: u64) -> Result<RunReport, SimulationCrash> {
    run_on_thread(scenario, seed, |world| world.hold_needed_records(false), |_, report| report)
}

/// Like [`run`], and also returns every trace record of the run.
pub fn run_traced(scenario: Scenario, seed: u64) -> Result<(RunReport, Vec<trace::TraceRecord>), SimulationCrash> {
    run_on_thread(scenario, seed, |_| {}, |world, report| (report, world.take_records()))
}

/// Builds the world on a thread of its own named after the seed, lets `prepare` set it up, runs
/// it to its end, reports, and hands the world and the report to `finish`. A panic on that
/// thread becomes a [`SimulationCrash`] carrying the seed.
fn run_on_thread<R: Send + 'static>(
    scenario: Scenario,
    seed: u64,
    prepare: impl FnOnce(&mut world::World) + Send + 'static,
    finish: impl FnOnce(&world::World, RunReport) -> R + Send + 'static,
) -> Result<R, SimulationCrash> {
    let name = scenario.name.clone();
    std::thread::Builder::new()
        .name(format!("kafkalab-seed-{seed}"))
        .spawn(move || {
            let started = std::time::Instant::now();
            let mut world = world::World::new(scenario, seed);
            prepare(&mut world);
            world.run_to_end();
            let wall_time_ms = started.elapsed().as_millis() as u64;
            let report = check::report(&world, wall_time_ms);
            finish(&world, report)
        })
        .expect("spawning the simulation thread")
        .join()
        .map_err(|panic| SimulationCrash { scenario: name, seed, message: panic_message(panic.as_ref()) })
}

/// Why a log could not be dumped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DumpError {
    /// The simulation crashed before the dump time.
    Crash(SimulationCrash),
    /// No such partition, or the broker holds no replica of it; the message suggests a fix.
    NoReplica(String),
}

impl std::fmt::Display for DumpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DumpError::Crash(c) => c.fmt(f),
            DumpError::NoReplica(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for DumpError {}

/// Runs `scenario` with `seed` up to `at` (default: its end) on a fresh thread and reads the
/// files of partition `topic`-`partition` from `broker`'s disk; without `broker`, from the
/// partition's leader at that time (or its first replica when it has none).
///
/// Errors: [`DumpError::NoReplica`] for an unknown partition or a broker without a replica
/// of it, [`DumpError::Crash`] when the simulation crashed.
pub fn dump_log(
    scenario: Scenario,
    seed: u64,
    at: Option<std::time::Duration>,
    topic: &str,
    partition: i32,
    broker: Option<i32>,
) -> Result<dump::LogDump, DumpError> {
    let name = scenario.name.clone();
    let tp = cluster::ids::TopicPartition::new(topic, partition);
    std::thread::Builder::new()
        .name(format!("kafkalab-seed-{seed}"))
        .spawn(move || {
            let mut world = world::World::new(scenario, seed);
            let end = at.unwrap_or(world.duration()).min(world.duration());
            while world.elapsed() < end {
                world.step();
            }
            if tp.topic == cluster::raft::METADATA_TOPIC {
                // The metadata log lives on every controller and every broker (observers keep a
                // copy too); by default show the active controller's.
                let voters = world.voters().to_vec();
                let chosen = broker.map(cluster::ids::NodeId).or(world.active_controller()).unwrap_or(voters[0]);
                return dump::dump(&world, chosen, &tp).ok_or_else(|| {
                    DumpError::NoReplica(format!("node {chosen} has no metadata log files yet; try a later --at"))
                });
            }
            let view = world.view();
            let Some(description) = view.topics.iter().find(|t| t.name == tp.topic) else {
                let names: Vec<&str> = view.topics.iter().map(|t| t.name.as_str()).collect();
                return Err(DumpError::NoReplica(format!(
                    "no topic \"{}\" at this time; topics: {}",
                    tp.topic,
                    names.join(", ")
                )));
            };
            let Some(p) = description.partitions.iter().find(|p| p.partition == tp.partition) else {
                return Err(DumpError::NoReplica(format!(
                    "topic \"{}\" has no partition {}; use --partition 0 to {}",
                    tp.topic,
                    tp.partition,
                    description.partitions.len().saturating_sub(1)
                )));
            };
            let chosen = broker.or(p.leader).unwrap_or(p.replicas[0]);
            if !p.replicas.contains(&chosen) {
                return Err(DumpError::NoReplica(format!(
                    "broker {chosen} holds no replica of {tp}; its replicas are on brokers {:?}",
                    p.replicas
                )));
            }
            dump::dump(&world, cluster::ids::NodeId(chosen), &tp).ok_or_else(|| {
                DumpError::NoReplica(format!("broker {chosen} has no files for {tp} yet; try a later --at"))
            })
        })
        .expect("spawning the simulation thread")
        .join()
        .map_err(|panic| {
            DumpError::Crash(SimulationCrash { scenario: name, seed, message: panic_message(panic.as_ref()) })
        })?
}

/// The message of a panic payload (`panic!` gives a `String` or a `&str`).
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)")
        .to_string()
}
