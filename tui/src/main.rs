//! `kafkalab`: the terminal lab and its command line.
//!
//! * `kafkalab` opens the bundled first scenario in the terminal lab.
//! * `kafkalab tui <scenario.ron> [--seed N] [--present] [--paused]` opens any scenario file.
//! * `kafkalab run <scenario.ron> [--seed N] [--json] [--record FILE]` runs a scenario headless
//!   and reports; with `--record` it also writes a recording.
//! * `kafkalab replay <recording.klrec> [--verify] [--present]` opens a recording without
//!   simulating, or re-executes it and reports the first divergent record.
//! * `kafkalab dump-log <scenario.ron> --topic T --partition P [--broker B] [--at TIME] [--json]`
//!   runs a scenario to TIME and prints a replica's segment files as `kafka-dump-log.sh` does.
//! * `kafkalab describe groups <scenario.ron> [--at TIME] [--seed N] [--group G]... [--members
//!   [--verbose] | --state | --offsets]` runs a scenario to TIME and prints its consumer groups
//!   as `kafka-consumer-groups.sh --describe` does.
//! * `kafkalab run <scenario.ron> --check-determinism` runs it twice with the same seed and
//!   compares the traces record by record.
//! * `kafkalab swarm <scenario.ron> --seeds A..B [--jobs N] [--shard K/M] [--randomize-faults]
//!   [--out DIR]` sweeps seeds in parallel and writes a shrunk reproducer per failing seed
//!   (see [`sim::swarm`]).
//!
//! Exit status: 0 when every expectation holds, 1 when one fails (or a swarm seed fails, or a
//! determinism check finds two different runs), 2 for bad input or usage, 3 when the
//! simulation itself crashed (a bug in kafkalab; the message gives the seed).

mod allocator;
mod app;
mod bench;
mod lab;
mod screens;
mod terminal;
mod views;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// mimalloc instead of the system allocator: a simulation allocates and frees millions of small
/// objects (messages, records, events), and glibc's `malloc` and `free` were about a fifth of
/// the native profile (see the book's performance chapter). No allocation address reaches a
/// run's output, so the allocator cannot change a trace. [`allocator::MiMalloc`] calls it
/// through its plain entry points where they give the alignment asked for.
#[global_allocator]
static GLOBAL: allocator::MiMalloc = allocator::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (its place in the `mi_option_e` enum of mimalloc.h; the
/// crate's bindings name the options around it but not this one). A test checks that the
/// number still names the purge delay.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Tells mimalloc to keep the memory a run frees for the run's later allocations instead of
/// handing it back to the operating system after its purge delay (10 ms by default).
///
/// Why: a simulation frees and allocates in waves, and memory handed back is faulted in again
/// moments later, where the kernel zeroes every page (2 MiB at a time with the transparent huge
/// pages mimalloc asked for then). `perf record` of heavy.ron's first 6 s put the kernel's `clear_page_erms` at up to a
/// third of the samples. Keeping the memory cut that run's page faults from about 1,840 to 250,
/// and tutorial.ron ran 5 to 10% faster in alternating runs, for 5 MB more at heavy.ron's peak
/// (book: performance chapter).
fn keep_freed_memory() {
    // SAFETY: `mi_option_set` only stores the option's value; any value is valid for the
    // purge delay (-1 means never purge), and mimalloc reads it afresh at each purge.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) }
}

/// Lets a reader that stops reading end the process quietly, as it ends `cat` or `grep`:
/// `kafkalab dump-log ... | head` must not print a panic about a broken pipe.
///
/// Why: Rust starts every program with SIGPIPE ignored, so a write to a closed pipe returns an
/// error, and `println!` panics on it. Restoring the default action ends the process at that
/// write instead. Nothing kafkalab writes to a pipe is a user's file, so nothing is lost.
fn end_quietly_on_a_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to its default is async-signal-safe and done
    // before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// The first scenario, embedded so `kafkalab` works from any directory.
const FIRST_SCENARIO: &str = include_str!("../../scenarios/01-first-cluster.ron");
const FIRST_SCENARIO_NAME: &str = "scenarios/01-first-cluster.ron (bundled)";

/// A deterministic simulation and teaching lab for Kafka-style clusters.
#[derive(Parser, Debug)]
#[command(name = "kafkalab", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Open a scenario in the terminal lab.
    Tui {
        /// The scenario file (RON).
        scenario: PathBuf,
        /// Run with this seed instead of the scenario's own.
        #[arg(long)]
        seed: Option<u64>,
        /// Presenter mode: playback stops at each narration chapter; PageDown/→ goes on to the
        /// next, PageUp/← back (the keys presenter remotes send).
        #[arg(long)]
        present: bool,
        /// Open paused at time zero.
        #[arg(long)]
        paused: bool,
    },
    /// Open a recording (`kafkalab run --record`, or `W` in the lab) without simulating: scrub
    /// it back and forth. Acting on it (a fault key) forks a live run from that moment.
    Replay {
        /// The recording (`.klrec`).
        recording: PathBuf,
        /// Re-execute the recorded scenario with its seed instead, compare the traces record by
        /// record and print the first divergent record (exit 1), or that they match.
        #[arg(long)]
        verify: bool,
        /// Presenter mode, as for `kafkalab tui --present`.
        #[arg(long, conflicts_with = "verify")]
        present: bool,
    },
    /// Run a scenario headless: print the cluster as Kafka's tools describe it, the checker's
    /// findings, each expectation, the digest and the speed.
    Run {
        /// The scenario file (RON).
        scenario: PathBuf,
        /// Run with this seed instead of the scenario's own.
        #[arg(long)]
        seed: Option<u64>,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
        /// Print the event feed first: faults, narration and what the cluster did, in plain
        /// words (routine traffic such as each acknowledged record is left out).
        #[arg(long, conflicts_with = "json")]
        events: bool,
        /// Run the scenario twice with the same seed and compare the traces: print
        /// `deterministic: N records, digest X`, or the first record where they differ (and
        /// exit with 1).
        #[arg(long, conflicts_with_all = ["json", "events"])]
        check_determinism: bool,
        /// Also write a recording of the run to FILE (which must not exist): the scenario, the
        /// seed, every trace record and a keyframe every 100 ms, streamed to disk. Replay it
        /// with `kafkalab replay FILE`.
        #[arg(long, value_name = "FILE", conflicts_with = "check_determinism")]
        record: Option<PathBuf>,
    },
    /// Sweep many seeds of a scenario in parallel: print each failing seed as it is found,
    /// then a summary, and write a shrunk reproducer scenario for every failure (TigerBeetle's
    /// swarm testing, FoundationDB's swizzle-clogging, proptest's shrinking).
    ///
    /// A seed fails when its run crashes (an invariant or a panic) or an expectation fails.
    /// Reproducers go to `<out>/<stem>.seed-<N>.ron` (`-2`, `-3`, ... if taken; nothing is
    /// overwritten), each starting with a comment saying what failed and the `kafkalab run`
    /// command that replays it.
    Swarm {
        /// The scenario file (RON).
        scenario: PathBuf,
        /// The seeds: `A..B` (B excluded), `A..=B`, or one seed `N`.
        #[arg(long, value_parser = parse_seeds)]
        seeds: sim::swarm::SeedRange,
        /// Simulations run at once (default: the number of CPUs).
        #[arg(long)]
        jobs: Option<usize>,
        /// Run only shard K of M (1-based): the seeds whose position in A..B is K-1 modulo M,
        /// so M machines split a sweep exactly.
        #[arg(long, value_parser = parse_shard, value_name = "K/M")]
        shard: Option<sim::swarm::Shard>,
        /// Draw a fault plan and broker/client knobs per seed (reproducible from the seed)
        /// instead of running the scenario's own faults; machine crashes and power losses are
        /// left out unless `--page-cache-loss` is given.
        #[arg(long)]
        randomize_faults: bool,
        /// With `--randomize-faults`, also draw machine crashes and power losses, which lose
        /// the page cache and may legitimately lose acknowledged writes under Kafka's default
        /// no-fsync durability (for teeth tests).
        #[arg(long, requires = "randomize_faults")]
        page_cache_loss: bool,
        /// With `--randomize-faults`, draw only these fault kinds, comma-separated (Crash,
        /// ClientCrash, Kill, Shutdown, PowerLoss, Partition, Isolate, Swizzle, Pause, OneWay,
        /// Loss, Latency, Duplicate).
        #[arg(long, requires = "randomize_faults", value_delimiter = ',', value_parser = parse_kind)]
        kinds: Vec<sim::plan::FaultKind>,
        /// Where reproducers are written (default: ./swarm-findings).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Simulation runs spent shrinking each failure (0 keeps the failing plan as it is).
        #[arg(long, default_value_t = sim::swarm::DEFAULT_SHRINK_RUNS)]
        shrink_runs: usize,
        /// Wall-clock seconds one run may take before its seed fails as hung.
        #[arg(long, value_name = "SECS", default_value_t = sim::swarm::DEFAULT_RUN_TIMEOUT.as_secs())]
        timeout: u64,
    },
    /// Run a scenario to a point in time and print one replica's segment files the way
    /// `kafka-dump-log.sh --print-data-log` does: batches, their offsets, epochs and CRCs, and
    /// every record. Reads the broker's disk, so unflushed bytes and torn writes show.
    DumpLog {
        /// The scenario file (RON).
        scenario: PathBuf,
        /// The topic.
        #[arg(long)]
        topic: String,
        /// The partition index.
        #[arg(long)]
        partition: i32,
        /// Read this broker's replica (default: the partition's leader at that time).
        #[arg(long)]
        broker: Option<i32>,
        /// Stop the run at this simulated time, e.g. `12s` or `1500ms` (default: the end).
        #[arg(long)]
        at: Option<sim::scenario::Span>,
        /// Run with this seed instead of the scenario's own.
        #[arg(long)]
        seed: Option<u64>,
        /// Print one JSON object: `segments[]` and `records[]`.
        #[arg(long)]
        json: bool,
    },
    /// Measure the simulator's speed: run the benchmark scenarios (scenarios/bench/) and a
    /// raw-madsim baseline several times each, sweep seeds of faults.ron, and print the medians
    /// (simulated seconds, messages and records per wall second, peak memory) against the
    /// targets. Build with `--release`.
    Bench(bench::BenchArgs),
    /// Run a scenario to a point in time and describe part of the cluster the way Kafka's
    /// command-line tools do.
    Describe {
        /// What to describe.
        #[command(subcommand)]
        what: Describe,
    },
}

/// What `kafkalab describe` can describe.
#[derive(Subcommand, Debug)]
enum Describe {
    /// The consumer groups, exactly as `kafka-consumer-groups.sh --describe --group G` (or
    /// `--all-groups`) prints them: by default each partition's committed offset, log end offset
    /// and lag; `--members` lists the members, `--state` the coordinator, assignor and state.
    /// Kafka's notes about empty and rebalancing groups go to standard error, as in Kafka.
    Groups {
        /// The scenario file (RON).
        scenario: PathBuf,
        /// Stop the run at this simulated time, e.g. `12s` or `1500ms` (default: the end).
        #[arg(long)]
        at: Option<sim::scenario::Span>,
        /// Run with this seed instead of the scenario's own.
        #[arg(long)]
        seed: Option<u64>,
        /// Describe this group; repeat for several (default: every group, as `--all-groups`).
        #[arg(long = "group", value_name = "GROUP")]
        groups: Vec<String>,
        /// Describe every group that exists (the default when no `--group` is given).
        #[arg(long, conflicts_with = "groups")]
        all_groups: bool,
        /// List the members: `GROUP CONSUMER-ID HOST CLIENT-ID #PARTITIONS`.
        #[arg(long, conflicts_with_all = ["state", "offsets"])]
        members: bool,
        /// With `--members`, add each member's partitions (`ASSIGNMENT`).
        #[arg(long, requires = "members")]
        verbose: bool,
        /// Show the coordinator, assignor, state and member count of each group.
        #[arg(long, conflicts_with = "offsets")]
        state: bool,
        /// List each partition's offsets and lag (the default).
        #[arg(long)]
        offsets: bool,
    },
}

fn main() -> ExitCode {
    keep_freed_memory();
    end_quietly_on_a_closed_pipe();
    let cli = Cli::parse();
    match cli.command {
        None => {
            let scenario = sim::scenario::parse_str(FIRST_SCENARIO, FIRST_SCENARIO_NAME)
                .expect("the bundled scenario is valid (a test checks it)");
            let seed = scenario.seed;
            open_lab(scenario, seed, lab::LabOptions::default())
        }
        Some(Command::Bench(args)) => bench::run(args),
        Some(Command::Tui { scenario, seed, present, paused }) => match sim::scenario::load_file(&scenario) {
            Ok(s) => {
                let seed = seed.unwrap_or(s.seed);
                open_lab(s, seed, lab::LabOptions { presenter: present, paused })
            }
            Err(e) => bad_input(&e),
        },
        Some(Command::Replay { recording, verify: true, present: _ }) => match sim::record::verify(&recording) {
            Ok(verdict) => {
                print!("{}", verdict.render());
                match verdict {
                    sim::record::Verification::Same { .. } => ExitCode::SUCCESS,
                    sim::record::Verification::Differs { .. } => ExitCode::from(1),
                }
            }
            Err(e) => bad_input(&e),
        },
        Some(Command::Replay { recording, verify: false, present }) => {
            let history = match sim::record::read(&recording) {
                Ok(history) => history,
                Err(e) => return bad_input(&e),
            };
            // The recorded scenario is needed only to fork; a recording whose scenario this
            // build cannot load still plays, and forking from it is refused in words.
            let origin = format!("{} (the scenario inside the recording)", recording.display());
            let scenario = match sim::scenario::parse_str(&history.header.scenario_text, &origin) {
                Ok(s) => s,
                Err(e) => {
                    return bad_input(&format!(
                        "{}: the recorded scenario does not load in this build: {e}",
                        recording.display()
                    ))
                }
            };
            match lab::replay_lab(scenario, history, lab::LabOptions { presenter: present, paused: true }) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::from(2)
                }
            }
        }
        Some(Command::Run { scenario, seed, json: _, events: _, check_determinism: true, record: _ }) => {
            match sim::scenario::load_file(&scenario) {
                Ok(s) => {
                    let seed = seed.unwrap_or(s.seed);
                    match sim::swarm::check_determinism(s, seed) {
                        Ok(verdict) => {
                            print!("{}", verdict.render());
                            match verdict {
                                sim::swarm::Determinism::Same { .. } => ExitCode::SUCCESS,
                                sim::swarm::Determinism::Differs { .. } => ExitCode::from(1),
                            }
                        }
                        Err(crash) => {
                            report_crash(&crash, &scenario);
                            ExitCode::from(3)
                        }
                    }
                }
                Err(e) => bad_input(&e),
            }
        }
        Some(Command::Swarm {
            scenario,
            seeds,
            jobs,
            shard,
            randomize_faults,
            page_cache_loss,
            kinds,
            out,
            shrink_runs,
            timeout,
        }) => {
            let s = match sim::scenario::load_file(&scenario) {
                Ok(s) => s,
                Err(e) => return bad_input(&e),
            };
            let mut options = sim::swarm::SweepOptions::new(seeds);
            options.jobs = jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1);
            options.shard = shard.unwrap_or_default();
            options.randomize_faults = randomize_faults;
            let mut space = sim::plan::PlanSpace::safe(&s);
            if page_cache_loss {
                space = space.with_page_cache_loss(2);
            }
            if !kinds.is_empty() {
                space = space.only(&kinds);
            }
            options.space = Some(space);
            options.shrink_runs = shrink_runs;
            options.run_timeout = Some(std::time::Duration::from_secs(timeout.max(1)));
            options.out_dir = Some(out.unwrap_or_else(|| PathBuf::from(DEFAULT_FINDINGS_DIR)));
            options.scenario_path = Some(scenario.clone());
            run_swarm(&s, &options, &scenario)
        }
        Some(Command::Run { scenario, seed, json, events: _, check_determinism: false, record: Some(file) }) => {
            let text = match std::fs::read_to_string(&scenario) {
                Ok(text) => text,
                Err(e) => return bad_input(&format!("{}: {e}", scenario.display())),
            };
            let s = match sim::scenario::parse_str(&text, &scenario.display().to_string()) {
                Ok(s) => s,
                Err(e) => return bad_input(&e),
            };
            let seed = seed.unwrap_or(s.seed);
            match sim::record::record_run(s, &text, seed, &file) {
                Ok(report) => {
                    if json {
                        println!("{}", serde_json::to_string_pretty(&report).expect("reports serialise"));
                    } else {
                        print!("{}", sim::report::render_text(&report, true));
                        println!("recording: {} (kafkalab replay {})", file.display(), file.display());
                    }
                    if report.passed() {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::from(1)
                    }
                }
                Err(sim::record::RecordRunError::Crash(crash)) => {
                    report_crash(&crash, &scenario);
                    eprintln!("the recording up to the crash is in {}", file.display());
                    ExitCode::from(3)
                }
                Err(sim::record::RecordRunError::Recording(e)) => bad_input(&e),
            }
        }
        Some(Command::Run { scenario, seed, json, events, check_determinism: false, record: None }) => {
            match sim::scenario::load_file(&scenario) {
                Ok(s) => {
                    let seed = seed.unwrap_or(s.seed);
                    // Only `--events` needs the records; without it, the run holds just what its
                    // checks read.
                    let run = if events {
                        sim::run_traced(s, seed).map(|(report, records)| {
                            println!("$ events");
                            for record in records.iter().filter(|r| !r.is_routine()) {
                                println!("{}", record.describe());
                            }
                            println!();
                            report
                        })
                    } else {
                        sim::run(s, seed)
                    };
                    let report = match run {
                        Ok(report) => report,
                        Err(crash) => {
                            report_crash(&crash, &scenario);
                            return ExitCode::from(3);
                        }
                    };
                    if json {
                        println!("{}", serde_json::to_string_pretty(&report).expect("reports serialise"));
                    } else {
                        print!("{}", sim::report::render_text(&report, true));
                    }
                    if report.passed() {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::from(1)
                    }
                }
                Err(e) => bad_input(&e),
            }
        }
        Some(Command::DumpLog { scenario, topic, partition, broker, at, seed, json }) => {
            let s = match sim::scenario::load_file(&scenario) {
                Ok(s) => s,
                Err(e) => return bad_input(&e),
            };
            let seed = seed.unwrap_or(s.seed);
            let at = at.map(|span| std::time::Duration::from_millis(span.0));
            match sim::dump_log(s, seed, at, &topic, partition, broker) {
                Ok(dump) if json => {
                    println!("{}", serde_json::to_string_pretty(&dump).expect("dumps serialise"));
                    ExitCode::SUCCESS
                }
                Ok(dump) => {
                    print!("{}", sim::dump::render_text(&dump));
                    ExitCode::SUCCESS
                }
                Err(sim::DumpError::Crash(crash)) => {
                    report_crash(&crash, &scenario);
                    ExitCode::from(3)
                }
                Err(e) => bad_input(&format!("{}: {e}", scenario.display())),
            }
        }
        Some(Command::Describe {
            what: Describe::Groups { scenario, at, seed, groups, all_groups: _, members, verbose, state, offsets: _ },
        }) => {
            let s = match sim::scenario::load_file(&scenario) {
                Ok(s) => s,
                Err(e) => return bad_input(&e),
            };
            if let Some(at) = at.filter(|at| *at > s.duration) {
                return bad_input(&format!(
                    "{}: --at {at} is after the end of the scenario (its duration is {})",
                    scenario.display(),
                    s.duration
                ));
            }
            let seed = seed.unwrap_or(s.seed);
            let view = match sim::report::view_at(s, seed, at.map(|span| span.as_duration())) {
                Ok(view) => view,
                Err(crash) => {
                    report_crash(&crash, &scenario);
                    return ExitCode::from(3);
                }
            };
            let shown = if members {
                sim::report::GroupsView::Members { verbose }
            } else if state {
                sim::report::GroupsView::State
            } else {
                sim::report::GroupsView::Offsets
            };
            let selection = (!groups.is_empty()).then_some(groups.as_slice());
            print_tool_output(&sim::report::describe_consumer_groups(&view.groups, selection, shown));
            // Kafka's tool exits with 0 even when a group does not exist.
            ExitCode::SUCCESS
        }
    }
}

/// Prints each piece of a tool's output to its stream, in order, flushing between them so a
/// terminal shows them interleaved as Kafka's tool would.
fn print_tool_output(output: &sim::report::ToolOutput) {
    use std::io::Write;
    let (mut stdout, mut stderr) = (std::io::stdout().lock(), std::io::stderr().lock());
    for (stream, text) in &output.pieces {
        let written = match stream {
            sim::report::Stream::Stdout => stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()),
            sim::report::Stream::Stderr => stderr.write_all(text.as_bytes()).and_then(|()| stderr.flush()),
        };
        // A closed pipe (`| head`) is not an error worth reporting.
        if written.is_err() {
            return;
        }
    }
}

/// Where `kafkalab swarm` writes reproducers without `--out`: a directory of its own in the
/// current directory, never `scenarios/` (whose every file the test suite runs).
const DEFAULT_FINDINGS_DIR: &str = "swarm-findings";

/// Prints a crashed simulation's error and the command that reproduces it (once: an invariant
/// violation's own message already names it).
fn report_crash(crash: &sim::SimulationCrash, scenario: &std::path::Path) {
    eprintln!("error: {crash}");
    if !crash.message.contains("reproduce with") {
        eprintln!("reproduce with: {}", crash.reproduce_command(&scenario.display().to_string()));
    }
}

fn parse_seeds(text: &str) -> Result<sim::swarm::SeedRange, String> {
    text.parse()
}

fn parse_kind(text: &str) -> Result<sim::plan::FaultKind, String> {
    sim::plan::FaultKind::ALL.iter().copied().find(|k| k.to_string().eq_ignore_ascii_case(text.trim())).ok_or_else(
        || {
            let names: Vec<String> = sim::plan::FaultKind::ALL.iter().map(|k| k.to_string()).collect();
            format!("--kinds: no fault kind {text:?}; choose from {}", names.join(", "))
        },
    )
}

fn parse_shard(text: &str) -> Result<sim::swarm::Shard, String> {
    text.parse()
}

/// Runs a sweep with a progress bar on standard error (hidden when it is not a terminal), a
/// line per failing seed as it is found and the summary at the end, on standard output.
fn run_swarm(
    scenario: &sim::scenario::Scenario,
    options: &sim::swarm::SweepOptions,
    path: &std::path::Path,
) -> ExitCode {
    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
    use sim::swarm::SwarmEvent;
    use std::io::IsTerminal;

    let seeds = options.shard.seeds(options.seeds).len();
    let plans = if options.randomize_faults { "random fault plans and knobs" } else { "the scenario's own faults" };
    let shard = if options.shard.count > 1 { format!(", shard {}", options.shard) } else { String::new() };
    println!(
        "swarm: {} — {seeds} seed(s) of {}{shard}, {} job(s), {plans}",
        path.display(),
        options.seeds,
        options.jobs.min(seeds.max(1))
    );
    let bar = ProgressBar::with_draw_target(Some(seeds as u64), ProgressDrawTarget::stderr());
    if !std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} seeds  {msg}  [{elapsed_precise}, eta {eta}]")
            .expect("a valid template"),
    );
    // A crashing seed's panic is reported in its FAIL line and the summary; keep the default
    // hook's message for panics elsewhere.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let simulating = std::thread::current().name().is_some_and(|n| n.starts_with("kafkalab-seed-"));
        if !simulating {
            default_hook(info);
        }
    }));
    let failed = std::sync::atomic::AtomicUsize::new(0);
    let on_event = |event: SwarmEvent<'_>| match event {
        SwarmEvent::Started { .. } => {}
        SwarmEvent::SeedDone(outcome) => {
            bar.inc(1);
            if !outcome.passed() {
                let n = failed.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                bar.set_message(format!("{n} failed"));
                let what: Vec<String> = outcome.failures.iter().map(|f| f.describe()).collect();
                bar.suspend(|| println!("FAIL seed {}: {}", outcome.seed, what.join("; ")));
            }
        }
        SwarmEvent::Shrinking { seed, runs, faults } => {
            let n = failed.load(std::sync::atomic::Ordering::SeqCst);
            bar.set_message(format!("{n} failed; shrinking seed {seed}: {faults} fault(s) after {runs} run(s)"));
        }
        SwarmEvent::Shrunk(finding) => {
            bar.suspend(|| {
                println!(
                    "  seed {} shrunk: {} → {} fault(s) in {} run(s)",
                    finding.seed, finding.faults_before, finding.faults_after, finding.shrink_runs
                )
            });
        }
    };
    let result = sim::swarm::sweep(scenario, options, &on_event);
    bar.finish_and_clear();
    let _ = std::panic::take_hook();
    match result {
        Ok(report) => {
            println!();
            print!("{}", report.render_summary());
            if report.failed() == 0 {
                ExitCode::SUCCESS
            } else {
                println!();
                for f in &report.findings {
                    if let Some(file) = &f.reproducer {
                        println!("reproduce seed {}: kafkalab run {}", f.seed, file.display());
                    }
                }
                ExitCode::from(1)
            }
        }
        Err(e) => bad_input(&format!("{}: {e}", path.display())),
    }
}

fn bad_input(error: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("error: {error}");
    ExitCode::from(2)
}

fn open_lab(scenario: sim::scenario::Scenario, seed: u64, options: lab::LabOptions) -> ExitCode {
    match lab::run_lab(scenario, seed, options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_option_set_at_start_is_mimallocs_purge_delay() {
        let get = |option| unsafe { libmimalloc_sys::mi_option_get(option) };
        // mimalloc 2's defaults around the purge delay: `eager_commit_delay` 1, `purge_delay`
        // 10 ms, `use_numa_nodes` 0, then `disallow_os_alloc` 0 and `os_tag` 100. A mimalloc
        // that renumbered its options fails here.
        if std::env::vars_os().all(|(name, _)| !name.to_string_lossy().starts_with("MIMALLOC_")) {
            assert_eq!([14, 15, 16, 17, 18].map(get), [1, 10, 0, 0, 100]);
        }
        keep_freed_memory();
        assert_eq!(get(MI_OPTION_PURGE_DELAY), -1);
    }

    #[test]
    fn the_bundled_scenario_is_the_file_in_scenarios() {
        let scenario = sim::scenario::parse_str(FIRST_SCENARIO, FIRST_SCENARIO_NAME).unwrap();
        assert_eq!(scenario.name, "first cluster");
    }

    #[test]
    fn describe_groups_takes_kafkas_options() {
        let parse = |args: &[&str]| {
            let mut all = vec!["kafkalab", "describe", "groups", "s.ron"];
            all.extend_from_slice(args);
            Cli::try_parse_from(all)
        };
        let cli = parse(&["--at", "12s", "--group", "billing", "--group", "audit", "--members", "--verbose"]).unwrap();
        let Some(Command::Describe { what: Describe::Groups { at, groups, members, verbose, .. } }) = cli.command
        else {
            panic!("not describe groups");
        };
        assert_eq!(at, Some(sim::scenario::Span::from_secs(12)));
        assert_eq!(groups, ["billing", "audit"]);
        assert!(members && verbose);
        assert!(parse(&["--state"]).is_ok());
        assert!(parse(&["--offsets", "--all-groups"]).is_ok());
        // As in Kafka: one view at a time, --verbose with --members, --group or --all-groups.
        assert!(parse(&["--members", "--state"]).is_err());
        assert!(parse(&["--state", "--offsets"]).is_err());
        assert!(parse(&["--verbose"]).is_err());
        assert!(parse(&["--group", "billing", "--all-groups"]).is_err());
        // A time without a unit is refused with the reason.
        let error = parse(&["--at", "12"]).unwrap_err().to_string();
        assert!(error.contains("--at") && error.contains("unit"), "{error}");
    }

    #[test]
    fn the_first_screen_of_the_first_scenario() {
        // Five seconds into the bundled scenario: brokers up, leaders elected, the group formed.
        let scenario = sim::scenario::parse_str(FIRST_SCENARIO, FIRST_SCENARIO_NAME).unwrap();
        let seed = scenario.seed;
        let mut app = app::App::live(scenario.clone(), seed);
        for frame in sim::live::run_frames(scenario, seed, 5_000) {
            app.apply_frame(frame);
        }
        insta::assert_snapshot!("first_screen_01_first_cluster", tests_support::screen(&app, 120, 40));
    }
}

#[cfg(test)]
mod lab_tests;
#[cfg(test)]
mod tests_support;
