//! The speed benchmarks behind `kafkalab bench` (issue 10): how fast the simulator runs a
//! scenario, measured against what madsim itself can do on the same machine.
//!
//! - [`run_scenario`] runs one scenario once, on a fresh thread as [`crate::run`] does, and
//!   returns a [`Sample`]: wall-clock time, simulated time, messages the network delivered and
//!   records the producers had acknowledged.
//! - [`madsim_baseline`] is the yardstick: two bare madsim nodes bouncing small messages over
//!   madsim's own network ([`madsim::net::Endpoint`]), a window of them in flight at all times,
//!   with nothing else to do. Its messages per wall second are the most a madsim simulation can
//!   deliver on this machine; a scenario's figure is quoted as a share of it.
//! - [`swarm_seeds_per_sec`] sweeps seeds of a scenario with [`crate::swarm::sweep`].
//! - [`peak_rss_bytes`] reads the process's peak resident memory, so a front end that runs each
//!   scenario in a child process of its own can report it per scenario.
//!
//! Speed targets are checked by the benchmark, never by timed assertions in tests: the test
//! suite only checks that the harness runs.

use crate::scenario::Scenario;
use crate::SimulationCrash;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// One timed run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Wall-clock time of the simulation, in nanoseconds: building the world and running it to
    /// the end (what `kafkalab run`'s speed line counts).
    pub wall_ns: u64,
    /// Wall-clock time of the report after it (history oracle and expectations), in
    /// nanoseconds; 0 for the madsim baseline.
    #[serde(default)]
    pub report_ns: u64,
    /// Simulated time covered, in milliseconds.
    pub sim_ms: u64,
    /// Messages delivered from one node to another.
    pub messages: u64,
    /// Records the producers had acknowledged at the end (0 for the madsim baseline).
    pub records: u64,
}

impl Sample {
    /// Wall-clock seconds.
    pub fn wall_secs(&self) -> f64 {
        self.wall_ns.max(1) as f64 / 1e9
    }

    /// Simulated seconds per wall-clock second.
    pub fn sim_per_wall(&self) -> f64 {
        self.sim_ms as f64 / 1e3 / self.wall_secs()
    }

    /// Messages delivered per wall-clock second.
    pub fn messages_per_wall_sec(&self) -> f64 {
        self.messages as f64 / self.wall_secs()
    }

    /// Acknowledged records per wall-clock second.
    pub fn records_per_wall_sec(&self) -> f64 {
        self.records as f64 / self.wall_secs()
    }
}

/// The median of `values` (the mean of the middle two for an even count); 0 for none.
pub fn median(values: impl IntoIterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.into_iter().collect();
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

/// Medians over several samples of one benchmark.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// How many samples.
    pub runs: usize,
    /// Median wall-clock time per run, in milliseconds.
    pub wall_ms: f64,
    /// Median wall-clock time of the report after each run, in milliseconds.
    pub report_ms: f64,
    /// Fastest run's wall-clock time, in milliseconds.
    pub wall_min_ms: f64,
    /// Slowest run's wall-clock time, in milliseconds.
    pub wall_max_ms: f64,
    /// Median simulated seconds per wall-clock second.
    pub sim_per_wall: f64,
    /// Median messages delivered per wall-clock second.
    pub messages_per_wall_sec: f64,
    /// Median acknowledged records per wall-clock second.
    pub records_per_wall_sec: f64,
    /// Messages delivered in one run (the same in every run of a deterministic scenario).
    pub messages: u64,
    /// Records acknowledged in one run.
    pub records: u64,
}

impl Summary {
    /// Summarises `samples`.
    pub fn of(samples: &[Sample]) -> Summary {
        let walls = samples.iter().map(|s| s.wall_ns as f64 / 1e6);
        Summary {
            runs: samples.len(),
            wall_ms: median(walls.clone()),
            report_ms: median(samples.iter().map(|s| s.report_ns as f64 / 1e6)),
            wall_min_ms: walls.clone().fold(f64::INFINITY, f64::min).min(f64::MAX),
            wall_max_ms: walls.fold(0.0, f64::max),
            sim_per_wall: median(samples.iter().map(Sample::sim_per_wall)),
            messages_per_wall_sec: median(samples.iter().map(Sample::messages_per_wall_sec)),
            records_per_wall_sec: median(samples.iter().map(Sample::records_per_wall_sec)),
            messages: samples.first().map_or(0, |s| s.messages),
            records: samples.first().map_or(0, |s| s.records),
        }
    }
}

/// Runs `scenario` with `seed` to its end on a fresh thread and times it.
///
/// Errors: [`SimulationCrash`] when the run crashed.
pub fn run_scenario(scenario: Scenario, seed: u64) -> Result<Sample, SimulationCrash> {
    let name = scenario.name.clone();
    std::thread::Builder::new()
        .name(format!("kafkalab-seed-{seed}"))
        .spawn(move || {
            let started = std::time::Instant::now();
            let mut world = crate::world::World::new(scenario, seed);
            world.hold_needed_records(false);
            world.run_to_end();
            let simulated = started.elapsed();
            let report = crate::check::report(&world, simulated.as_millis() as u64);
            let report_ns = (started.elapsed() - simulated).as_nanos() as u64;
            let records = report.clients.iter().filter(|c| c.kind == "producer").map(|c| c.records).sum();
            Sample {
                wall_ns: simulated.as_nanos() as u64,
                report_ns,
                sim_ms: report.sim_time_ms,
                messages: world.messages_delivered(),
                records,
            }
        })
        .expect("spawning the simulation thread")
        .join()
        .map_err(|panic| SimulationCrash { scenario: name, seed, message: crate::panic_message(panic.as_ref()) })
}

/// Messages each side of the baseline keeps in flight.
pub const BASELINE_WINDOW: u64 = 64;

/// The raw-madsim baseline: two madsim nodes, each with an [`madsim::net::Endpoint`]; the
/// first keeps [`BASELINE_WINDOW`] small messages (a `u64`, passed as madsim's raw payload,
/// without serialising) in flight to the second, which sends each straight back, for
/// `sim_ms` of simulated time with madsim's default network (1–10 ms latency, no loss).
/// Counts every message received by either node; runs on a fresh thread.
pub fn madsim_baseline(sim_ms: u64, seed: u64) -> Sample {
    std::thread::Builder::new()
        .name("kafkalab-madsim-baseline".into())
        .spawn(move || {
            let started = std::time::Instant::now();
            let runtime = madsim::runtime::Runtime::with_seed_and_config(seed, madsim::Config::default());
            let delivered = Arc::new(AtomicU64::new(0));
            let counted = delivered.clone();
            runtime.block_on(async move {
                use madsim::net::Endpoint;
                let handle = madsim::runtime::Handle::current();
                let echo_addr: std::net::SocketAddr = "10.0.0.2:1".parse().expect("an address");
                let (bound, ready) = futures::channel::oneshot::channel::<()>();
                let echoed = counted.clone();
                let echo = handle.create_node().name("echo").ip(echo_addr.ip()).build();
                echo.spawn(async move {
                    let ep = Endpoint::bind(echo_addr).await.expect("binding the echo endpoint");
                    let _ = bound.send(());
                    while let Ok((payload, from)) = ep.recv_from_raw(0).await {
                        echoed.fetch_add(1, Ordering::Relaxed);
                        if ep.send_to_raw(from, 0, payload).await.is_err() {
                            break;
                        }
                    }
                });
                let pinger = handle.create_node().name("pinger").ip("10.0.0.1".parse().expect("an ip")).build();
                pinger.spawn(async move {
                    let ep = Endpoint::bind("10.0.0.1:1").await.expect("binding the pinger endpoint");
                    let _ = ready.await;
                    for i in 0..BASELINE_WINDOW {
                        ep.send_to_raw(echo_addr, 0, Box::new(i)).await.expect("sending");
                    }
                    while let Ok((payload, _)) = ep.recv_from_raw(0).await {
                        counted.fetch_add(1, Ordering::Relaxed);
                        if ep.send_to_raw(echo_addr, 0, payload).await.is_err() {
                            break;
                        }
                    }
                });
                madsim::time::sleep(Duration::from_millis(sim_ms)).await;
            });
            let wall_ns = started.elapsed().as_nanos() as u64;
            drop(runtime);
            Sample { wall_ns, report_ns: 0, sim_ms, messages: delivered.load(Ordering::Relaxed), records: 0 }
        })
        .expect("spawning the baseline thread")
        .join()
        .expect("the madsim baseline does not panic")
}

/// A swarm sweep's speed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SwarmSpeed {
    /// Simulations run at once.
    pub jobs: usize,
    /// Seeds run.
    pub seeds: u64,
    /// Seeds that failed (crashed or missed an expectation); they are not shrunk.
    pub failed: usize,
    /// Wall-clock time of the sweep, in milliseconds.
    pub wall_ms: u64,
    /// Seeds per wall-clock second.
    pub seeds_per_sec: f64,
}

/// Sweeps seeds `1..=seeds` of `scenario` (its own faults, no shrinking, no reproducers) on
/// `jobs` threads and times it.
///
/// Errors: the sweep's own ([`crate::swarm::SwarmError`]), e.g. for zero seeds.
pub fn swarm_seeds_per_sec(
    scenario: &Scenario,
    seeds: u64,
    jobs: usize,
) -> Result<SwarmSpeed, crate::swarm::SwarmError> {
    let range = crate::swarm::SeedRange { start: 1, end: seeds + 1 };
    let mut options = crate::swarm::SweepOptions::new(range);
    options.jobs = jobs.max(1);
    options.shrink_runs = 0;
    let started = std::time::Instant::now();
    let report = crate::swarm::sweep(scenario, &options, &|_| {})?;
    let wall = started.elapsed();
    Ok(SwarmSpeed {
        jobs: options.jobs,
        seeds,
        failed: report.failed(),
        wall_ms: wall.as_millis() as u64,
        seeds_per_sec: seeds as f64 / wall.as_secs_f64().max(1e-9),
    })
}

/// This process's peak resident set size so far, in bytes (`VmHWM` in `/proc/self/status`);
/// `None` where there is no such file (not Linux).
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.trim_start_matches("VmHWM:").trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib * 1024)
}

/// The machine the figures come from: logical CPUs and the CPU model (`/proc/cpuinfo`).
pub fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string());
    format!("{cpus} CPU(s), {model}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_takes_the_middle() {
        assert_eq!(median([3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median([4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median([]), 0.0);
    }

    #[test]
    fn the_madsim_baseline_delivers_messages() {
        let sample = madsim_baseline(1_000, 1);
        assert_eq!(sample.sim_ms, 1_000);
        // About a thousand a simulated second: the echo answers one message at a time, and
        // each of its sends waits out madsim's own small random delay.
        assert!(sample.messages > 300, "{sample:?}");
    }

    #[test]
    fn peak_rss_is_read_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(peak_rss_bytes().is_some_and(|b| b > 0));
        }
    }
}
