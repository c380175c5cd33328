//! `kafkalab bench`: runs the benchmark scenarios (`scenarios/bench/`) and the raw-madsim
//! baseline several times each, sweeps seeds of `faults.ron`, and prints the medians against
//! the targets of issue 10. See [`sim::bench`] for what is measured.
//!
//! Each run of a benchmark is a child process of its own (this binary again, with the hidden
//! `--child NAME` flag), so the peak resident memory it reports is one run's alone.

use sim::bench::{Sample, Summary, SwarmSpeed};
use std::path::PathBuf;
use std::process::ExitCode;

/// The benchmarks, in the order they run: the baseline first.
const BENCHMARKS: [&str; 4] = ["madsim", "tutorial", "heavy", "faults"];

/// Targets (issue 10): tutorial and heavy simulated seconds per wall second.
const TUTORIAL_MIN_SIM_PER_WALL: f64 = 500.0;
const HEAVY_MIN_SIM_PER_WALL: f64 = 30.0;
/// Heavy's messages per wall second as a share of the raw-madsim baseline's.
const HEAVY_MIN_SHARE_OF_MADSIM: f64 = 0.40;
/// Swarm seeds per second over faults.ron with 2 jobs.
const SWARM_MIN_SEEDS_PER_SEC: f64 = 20.0;
/// Heavy's peak resident memory.
const HEAVY_MAX_RSS_BYTES: u64 = 200 * 1024 * 1024;

/// `kafkalab bench`'s arguments.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Runs of each scenario; medians are reported.
    #[arg(long, default_value_t = 5)]
    iterations: usize,
    /// Where tutorial.ron, heavy.ron and faults.ron are.
    #[arg(long, value_name = "DIR", default_value = "scenarios/bench")]
    dir: PathBuf,
    /// Seeds per swarm sweep over faults.ron (0 skips the swarm).
    #[arg(long, default_value_t = 40)]
    swarm_seeds: u64,
    /// Simulated milliseconds of each raw-madsim baseline run.
    #[arg(long, default_value_t = 10_000)]
    baseline_ms: u64,
    /// Run only these benchmarks, comma-separated: madsim, tutorial, heavy, faults, swarm.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
    /// Run one benchmark in this process and print its samples as JSON (used by the parent).
    #[arg(long, hide = true)]
    child: Option<String>,
}

/// What a child process reports.
#[derive(serde::Serialize, serde::Deserialize)]
struct ChildResult {
    samples: Vec<Sample>,
    peak_rss_bytes: Option<u64>,
}

/// One benchmark's figures.
#[derive(serde::Serialize)]
struct Row {
    name: String,
    summary: Summary,
    peak_rss_bytes: Option<u64>,
}

/// Runs `kafkalab bench`.
pub fn run(args: BenchArgs) -> ExitCode {
    if let Some(name) = &args.child {
        return match run_child(&args, name) {
            Ok(result) => {
                println!("{}", serde_json::to_string(&result).expect("results serialise"));
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(3)
            }
        };
    }
    let wanted = |name: &str| args.only.is_empty() || args.only.iter().any(|o| o == name);
    let build = if cfg!(debug_assertions) { "debug build (figures are not meaningful)" } else { "release build" };
    if !args.json {
        println!("kafkalab bench: {} run(s) each, medians; {}; {build}", args.iterations.max(1), sim::bench::machine());
    }
    let mut rows: Vec<Row> = Vec::new();
    for name in BENCHMARKS.iter().filter(|n| wanted(n)) {
        match run_iterations(&args, name) {
            Ok(result) => {
                let row = Row {
                    name: name.to_string(),
                    summary: Summary::of(&result.samples),
                    peak_rss_bytes: result.peak_rss_bytes,
                };
                if !args.json {
                    if rows.is_empty() {
                        println!("{}", header());
                    }
                    let madsim = rows.iter().find(|r| r.name == "madsim");
                    println!("{}", render_row(&row, madsim));
                }
                rows.push(row);
            }
            Err(e) => {
                eprintln!("error: {name}: {e}");
                return ExitCode::from(3);
            }
        }
    }
    let mut swarm: Vec<SwarmSpeed> = Vec::new();
    if wanted("swarm") && args.swarm_seeds > 0 {
        let path = args.dir.join("faults.ron");
        let scenario = match sim::scenario::load_file(&path) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        };
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut jobs = vec![2];
        if cores != 2 {
            jobs.push(cores);
        }
        for j in jobs {
            match sim::bench::swarm_seeds_per_sec(&scenario, args.swarm_seeds, j) {
                Ok(speed) => {
                    if !args.json {
                        let all = if j == cores { format!(" (all {cores} cores)") } else { String::new() };
                        println!(
                            "swarm over {}: {:.1} seeds/s with {j} job(s){all}: {} seeds in {} ms, {} failed",
                            path.display(),
                            speed.seeds_per_sec,
                            speed.seeds,
                            speed.wall_ms,
                            speed.failed
                        );
                    }
                    swarm.push(speed);
                }
                Err(e) => {
                    eprintln!("error: swarm: {e}");
                    return ExitCode::from(3);
                }
            }
        }
    }
    let targets = targets(&rows, &swarm);
    if args.json {
        let json = serde_json::json!({
            "machine": sim::bench::machine(),
            "release": !cfg!(debug_assertions),
            "benchmarks": rows,
            "swarm": swarm,
            "targets": targets.iter().map(|(what, figure, met)| serde_json::json!({"target": what, "measured": figure, "met": met})).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&json).expect("results serialise"));
    } else if !targets.is_empty() {
        println!("targets (issue 10):");
        for (what, figure, met) in &targets {
            println!("  {:<7} {what}: {figure}", if *met { "MET" } else { "MISSED" });
        }
    }
    ExitCode::SUCCESS
}

fn header() -> String {
    format!(
        "{:<9} {:>12} {:>24} {:>10} {:>16} {:>9} {:>15} {:>10}",
        "benchmark",
        "sim-s/wall-s",
        "wall ms (min-max)",
        "report ms",
        "messages/wall-s",
        "(madsim)",
        "records/wall-s",
        "peak RSS"
    )
}

fn render_row(row: &Row, madsim: Option<&Row>) -> String {
    let s = &row.summary;
    let share = match madsim {
        Some(m) if m.summary.messages_per_wall_sec > 0.0 && row.name != "madsim" => {
            format!("{:.0}%", 100.0 * s.messages_per_wall_sec / m.summary.messages_per_wall_sec)
        }
        _ => "-".to_string(),
    };
    format!(
        "{:<9} {:>12.1} {:>24} {:>10.1} {:>16.0} {:>9} {:>15.0} {:>10}",
        row.name,
        s.sim_per_wall,
        format!("{:.1} ({:.1}-{:.1})", s.wall_ms, s.wall_min_ms, s.wall_max_ms),
        s.report_ms,
        s.messages_per_wall_sec,
        share,
        s.records_per_wall_sec,
        row.peak_rss_bytes.map_or("-".to_string(), |b| format!("{:.1} MB", b as f64 / 1024.0 / 1024.0)),
    )
}

/// Each target that could be measured: what it asks, the figure, whether it is met.
fn targets(rows: &[Row], swarm: &[SwarmSpeed]) -> Vec<(String, String, bool)> {
    let row = |name: &str| rows.iter().find(|r| r.name == name);
    let mut out = Vec::new();
    if let Some(t) = row("tutorial") {
        let x = t.summary.sim_per_wall;
        out.push((
            format!("tutorial at least {TUTORIAL_MIN_SIM_PER_WALL:.0}x real time"),
            format!("{x:.0}x ({:.1} ms for {} s simulated)", t.summary.wall_ms, 30),
            x >= TUTORIAL_MIN_SIM_PER_WALL,
        ));
    }
    if let Some(h) = row("heavy") {
        let x = h.summary.sim_per_wall;
        out.push((
            format!("heavy at least {HEAVY_MIN_SIM_PER_WALL:.0}x real time"),
            format!("{x:.1}x"),
            x >= HEAVY_MIN_SIM_PER_WALL,
        ));
        if let Some(m) = row("madsim") {
            let share = h.summary.messages_per_wall_sec / m.summary.messages_per_wall_sec.max(1e-9);
            out.push((
                format!("heavy messages/wall-s at least {:.0}% of raw madsim", HEAVY_MIN_SHARE_OF_MADSIM * 100.0),
                format!(
                    "{:.0}% ({:.0} vs {:.0})",
                    share * 100.0,
                    h.summary.messages_per_wall_sec,
                    m.summary.messages_per_wall_sec
                ),
                share >= HEAVY_MIN_SHARE_OF_MADSIM,
            ));
        }
        if let Some(rss) = h.peak_rss_bytes {
            out.push((
                "heavy peak RSS under 200 MB (measured with recording off; `kafkalab run --record` for on)".to_string(),
                format!("{:.1} MB", rss as f64 / 1024.0 / 1024.0),
                rss < HEAVY_MAX_RSS_BYTES,
            ));
        }
    }
    if let Some(s) = swarm.iter().find(|s| s.jobs == 2) {
        out.push((
            format!("swarm over faults.ron at least {SWARM_MIN_SEEDS_PER_SEC:.0} seeds/s with 2 jobs"),
            format!("{:.1} seeds/s", s.seeds_per_sec),
            s.seeds_per_sec >= SWARM_MIN_SEEDS_PER_SEC,
        ));
    }
    out
}

/// Runs benchmark `name` `args.iterations` times, each in a child process of its own, so the
/// peak memory reported is one run's (the largest of them): runs in one process would add up
/// whatever the allocator kept from the ones before.
fn run_iterations(args: &BenchArgs, name: &str) -> Result<ChildResult, String> {
    let mut all = ChildResult { samples: Vec::new(), peak_rss_bytes: None };
    for _ in 0..args.iterations.max(1) {
        let one = run_in_child(args, name)?;
        all.samples.extend(one.samples);
        all.peak_rss_bytes = all.peak_rss_bytes.max(one.peak_rss_bytes);
    }
    Ok(all)
}

/// Runs one iteration of benchmark `name` in a child process and reads what it reports.
fn run_in_child(args: &BenchArgs, name: &str) -> Result<ChildResult, String> {
    let exe = std::env::current_exe().map_err(|e| format!("finding this program: {e}"))?;
    let output = std::process::Command::new(exe)
        .arg("bench")
        .arg("--child")
        .arg(name)
        .arg("--iterations")
        .arg("1")
        .arg("--dir")
        .arg(&args.dir)
        .arg("--baseline-ms")
        .arg(args.baseline_ms.to_string())
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("starting the child process: {e}"))?;
    if !output.status.success() {
        return Err(format!("the child process failed ({})", output.status));
    }
    serde_json::from_slice(&output.stdout).map_err(|e| format!("reading the child's result: {e}"))
}

/// Runs benchmark `name` here, `iterations` times.
fn run_child(args: &BenchArgs, name: &str) -> Result<ChildResult, String> {
    let iterations = args.iterations.max(1);
    let mut samples = Vec::with_capacity(iterations);
    if name == "madsim" {
        for i in 0..iterations {
            samples.push(sim::bench::madsim_baseline(args.baseline_ms, i as u64 + 1));
        }
    } else {
        let path = args.dir.join(format!("{name}.ron"));
        let scenario = sim::scenario::load_file(&path).map_err(|e| e.to_string())?;
        for _ in 0..iterations {
            let seed = scenario.seed;
            samples.push(sim::bench::run_scenario(scenario.clone(), seed).map_err(|e| e.to_string())?);
        }
    }
    Ok(ChildResult { samples, peak_rss_bytes: sim::bench::peak_rss_bytes() })
}
