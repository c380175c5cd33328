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
/// Heavy's peak resident memory with recording on: 200 MB, in bytes (decimal megabytes, the
/// stricter reading of the target).
const HEAVY_MAX_RSS_BYTES: u64 = 200_000_000;
/// Seeking in the lab: the longest a seek to any moment of a 10-minute recording may take,
/// drawing included, in milliseconds.
const SEEK_MAX_MS: f64 = 100.0;
/// The width and height of the screen the seek benchmark draws: larger than the lab's usual
/// 120x40, so that each view draws more than a learner's terminal would.
const SEEK_SCREEN: (u16, u16) = (160, 50);

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
    /// Run only these benchmarks, comma-separated: madsim, tutorial, heavy, faults, swarm, seek,
    /// heavy-record (heavy.ron's peak memory with recording on).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Measure seeking in this recording (`kafkalab run --record`) instead of recording
    /// tutorial.ron for `--seek-minutes` first.
    #[arg(long, value_name = "FILE")]
    seek_recording: Option<PathBuf>,
    /// Simulated minutes of the tutorial.ron recording the seek benchmark makes.
    #[arg(long, default_value_t = 10)]
    seek_minutes: u64,
    /// Moments of the recording the seek benchmark seeks to, in every view.
    #[arg(long, default_value_t = 40)]
    seek_moments: usize,
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
    // The rustc wrapper in .cargo/pgo/ sets `kafkalab_pgo` when it optimises with the profile, so
    // that figures say which kind of release build they came from (book: performance).
    let build = if cfg!(debug_assertions) {
        "debug build (figures are not meaningful)"
    } else if cfg!(kafkalab_pgo) {
        "release build, profile-guided"
    } else {
        "release build without the profile (KAFKALAB_PGO=off, or a rustc on another LLVM than the profile's)"
    };
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
    // The memory target is for heavy.ron with recording on: one run of its own, in a child
    // process, streaming its recording to a temporary file.
    let mut heavy_recorded_rss: Option<u64> = None;
    if wanted("heavy-record") {
        match run_in_child(&args, "heavy-record") {
            Ok(result) => {
                heavy_recorded_rss = result.peak_rss_bytes;
                if !args.json {
                    let rss = result.peak_rss_bytes.map_or("-".to_string(), |b| format!("{:.1} MB", b as f64 / 1e6));
                    println!("heavy with recording on: peak RSS {rss}");
                }
            }
            Err(e) => {
                eprintln!("error: heavy-record: {e}");
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
    let mut seek: Option<SeekSpeed> = None;
    if wanted("seek") {
        match seek_speed(&args) {
            Ok(speed) => {
                if !args.json {
                    println!("{}", speed.render());
                }
                seek = Some(speed);
            }
            Err(e) => {
                eprintln!("error: seek: {e}");
                return ExitCode::from(3);
            }
        }
    }
    let targets = targets(&rows, heavy_recorded_rss, &swarm, seek.as_ref());
    if args.json {
        let json = serde_json::json!({
            "machine": sim::bench::machine(),
            "release": !cfg!(debug_assertions),
            "benchmarks": rows,
            "heavy_recorded_peak_rss_bytes": heavy_recorded_rss,
            "swarm": swarm,
            "seek": seek,
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
        row.peak_rss_bytes.map_or("-".to_string(), |b| format!("{:.1} MB", b as f64 / 1e6)),
    )
}

/// Each target that could be measured: what it asks, the figure, whether it is met.
fn targets(
    rows: &[Row],
    heavy_recorded_rss: Option<u64>,
    swarm: &[SwarmSpeed],
    seek: Option<&SeekSpeed>,
) -> Vec<(String, String, bool)> {
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
    }
    if let Some(rss) = heavy_recorded_rss {
        out.push((
            format!("heavy peak RSS with recording on under {:.0} MB", HEAVY_MAX_RSS_BYTES as f64 / 1e6),
            format!("{:.1} MB ({:.1} MiB)", rss as f64 / 1e6, rss as f64 / 1024.0 / 1024.0),
            rss < HEAVY_MAX_RSS_BYTES,
        ));
    }
    if let Some(s) = swarm.iter().find(|s| s.jobs == 2) {
        out.push((
            format!("swarm over faults.ron at least {SWARM_MIN_SEEDS_PER_SEC:.0} seeds/s with 2 jobs"),
            format!("{:.1} seeds/s", s.seeds_per_sec),
            s.seeds_per_sec >= SWARM_MIN_SEEDS_PER_SEC,
        ));
    }
    if let Some(s) = seek {
        out.push((
            format!(
                "TUI seeking to any moment of a {}-minute recording under {SEEK_MAX_MS:.0} ms",
                s.recording_ms / 60_000
            ),
            format!("worst {:.1} ms, median {:.1} ms over {} seeks", s.worst_ms, s.median_ms, s.seeks),
            s.worst_ms < SEEK_MAX_MS,
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
    } else if name == "heavy-record" {
        // Memory only: one run of heavy.ron streaming its recording to a temporary file of
        // this benchmark's own, deleted afterwards.
        let source = args.dir.join("heavy.ron");
        let text = std::fs::read_to_string(&source).map_err(|e| format!("{}: {e}", source.display()))?;
        let scenario = sim::scenario::parse_str(&text, &source.display().to_string()).map_err(|e| e.to_string())?;
        let path = sim::record::free_path(&std::env::temp_dir(), "kafkalab-bench-heavy", "klrec");
        let seed = scenario.seed;
        let recorded = sim::record::record_run(scenario, &text, seed, &path);
        let _ = std::fs::remove_file(&path);
        recorded.map_err(|e| format!("recording {}: {e}", source.display()))?;
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

/// What the seek benchmark measured: how long the lab takes to show a chosen moment of a long
/// recording.
#[derive(serde::Serialize, Debug)]
pub(crate) struct SeekSpeed {
    /// The recording measured.
    pub(crate) recording: String,
    /// Whether this benchmark made the recording (and deleted it afterwards).
    pub(crate) made_here: bool,
    /// Simulated length of the recording, in milliseconds.
    pub(crate) recording_ms: u64,
    /// Wall time the recording took to make (`kafkalab run --record`), when made here.
    pub(crate) record_wall_ms: Option<u64>,
    /// Size of the recording file, in bytes.
    pub(crate) file_bytes: u64,
    /// Keyframes in the recording (one every 100 ms of simulated time, and the end).
    pub(crate) keyframes: usize,
    /// Trace records in the recording.
    pub(crate) records: usize,
    /// Wall time to read the file into the lab's history, in milliseconds (once, on opening).
    pub(crate) load_ms: f64,
    /// Seeks timed: every view at every chosen moment.
    pub(crate) seeks: usize,
    /// Median, 90th percentile and worst time of one seek, drawing included, in milliseconds.
    pub(crate) median_ms: f64,
    pub(crate) p90_ms: f64,
    pub(crate) worst_ms: f64,
    /// Where the worst seek went: the view and the simulated time, in milliseconds.
    pub(crate) worst_view: String,
    pub(crate) worst_at_ms: u64,
    /// Each view's worst seek, in milliseconds, in the lab's tab order.
    pub(crate) worst_by_view: Vec<(String, f64)>,
}

impl SeekSpeed {
    fn render(&self) -> String {
        let made = match self.record_wall_ms {
            Some(ms) => format!("recorded here in {:.1} s, ", ms as f64 / 1000.0),
            None => String::new(),
        };
        format!(
            "seek in {} ({} min simulated, {} keyframes, {} records, {:.1} MB): {made}loaded in {:.0} ms\n  \
             seek + draw at {}x{}, {} seeks (every view at spread moments): median {:.2} ms, 90th percentile {:.2} ms, \
             worst {:.2} ms ({} view at {:.1} s)",
            self.recording,
            self.recording_ms / 60_000,
            self.keyframes,
            self.records,
            self.file_bytes as f64 / 1024.0 / 1024.0,
            self.load_ms,
            SEEK_SCREEN.0,
            SEEK_SCREEN.1,
            self.seeks,
            self.median_ms,
            self.p90_ms,
            self.worst_ms,
            self.worst_view,
            self.worst_at_ms as f64 / 1000.0,
        ) + &format!(
            "\n  worst per view: {}",
            self.worst_by_view.iter().map(|(view, ms)| format!("{view} {ms:.1} ms")).collect::<Vec<_>>().join(", ")
        )
    }
}

/// Measures seeking in the lab (issue 10's TUI target). The recording is `--seek-recording`,
/// or one this function makes: tutorial.ron run for `--seek-minutes` of simulated time and
/// recorded to a fresh file in the temporary directory, deleted afterwards. The recording is
/// read as `kafkalab replay` reads it; then, in each of the eight views, the cursor is moved to
/// `--seek-moments` keyframes spread evenly over the run (first to last) and the screen is
/// drawn on a test terminal. A seek's time is moving the cursor plus drawing the frame: what a
/// learner waits for between pressing a key and seeing that moment. Writing the frame to a real
/// terminal is not included (crossterm's output depends on the terminal, not on the lab).
fn seek_speed(args: &BenchArgs) -> Result<SeekSpeed, String> {
    let (path, made_here, record_wall_ms) = match &args.seek_recording {
        Some(path) => (path.clone(), false, None),
        None => {
            let source = args.dir.join("tutorial.ron");
            let mut scenario = sim::scenario::load_file(&source).map_err(|e| e.to_string())?;
            scenario.duration = sim::scenario::Span::from_secs(args.seek_minutes.max(1) * 60);
            // The recording carries the scenario's text; the lengthened scenario's own text
            // keeps it true to what ran.
            let text = sim::plan::to_ron(&scenario);
            let path = sim::record::free_path(&std::env::temp_dir(), "kafkalab-bench-seek", "klrec");
            let seed = scenario.seed;
            let started = std::time::Instant::now();
            let recorded = sim::record::record_run(scenario, &text, seed, &path);
            let wall_ms = started.elapsed().as_millis() as u64;
            if let Err(e) = recorded {
                let _ = std::fs::remove_file(&path);
                return Err(format!("recording {}: {e}", source.display()));
            }
            (path, true, Some(wall_ms))
        }
    };
    let measured = measure_seeks(&path, args.seek_moments.max(2));
    if made_here {
        // The file is this benchmark's own, in the temporary directory, never a user's.
        let _ = std::fs::remove_file(&path);
    }
    let mut speed = measured?;
    speed.made_here = made_here;
    speed.record_wall_ms = record_wall_ms;
    Ok(speed)
}

/// Loads the recording at `path` and times seeks to `moments` keyframes in every view.
pub(crate) fn measure_seeks(path: &std::path::Path, moments: usize) -> Result<SeekSpeed, String> {
    use crate::app::{App, Input, Tab};
    let file_bytes = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?.len();
    let started = std::time::Instant::now();
    let history = sim::record::read(path).map_err(|e| e.to_string())?;
    let load_ms = started.elapsed().as_secs_f64() * 1000.0;
    let origin = format!("{} (the scenario inside the recording)", path.display());
    let scenario = sim::scenario::parse_str(&history.header.scenario_text, &origin).map_err(|e| e.to_string())?;
    let keyframes = history.keyframes.len();
    let records = history.records.len();
    let recording_ms = history.keyframes.last().map_or(0, |k| k.time_ms);
    if keyframes == 0 {
        return Err(format!("{} holds no keyframes", path.display()));
    }
    let times: Vec<u64> = history.keyframes.iter().map(|k| k.time_ms).collect();
    let mut app = App::replay(scenario, history);
    let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(SEEK_SCREEN.0, SEEK_SCREEN.1))
        .map_err(|e| e.to_string())?;
    let mut timed: Vec<(f64, Tab, u64)> = Vec::new();
    for (n, tab) in Tab::ALL.iter().enumerate() {
        app.update(Input::Char(char::from(b'1' + n as u8)));
        for m in 0..moments {
            let index = m * (keyframes - 1) / (moments - 1);
            let started = std::time::Instant::now();
            app.cursor = index;
            terminal.draw(|frame| crate::screens::render(&app, frame)).map_err(|e| e.to_string())?;
            timed.push((started.elapsed().as_secs_f64() * 1000.0, *tab, times[index]));
        }
    }
    let mut ms: Vec<f64> = timed.iter().map(|t| t.0).collect();
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    let worst = timed.iter().max_by(|a, b| a.0.total_cmp(&b.0)).expect("at least one seek");
    Ok(SeekSpeed {
        recording: path.display().to_string(),
        made_here: false,
        recording_ms,
        record_wall_ms: None,
        file_bytes,
        keyframes,
        records,
        load_ms,
        seeks: ms.len(),
        median_ms: at(0.5),
        p90_ms: at(0.9),
        worst_ms: worst.0,
        worst_view: worst.1.title().to_string(),
        worst_at_ms: worst.2,
        worst_by_view: Tab::ALL
            .iter()
            .map(|tab| {
                let ms = timed.iter().filter(|t| t.1 == *tab).map(|t| t.0).fold(0.0, f64::max);
                (tab.title().to_string(), ms)
            })
            .collect(),
    })
}
