//! `kafkalab`: the terminal lab and its command line.
//!
//! * `kafkalab` opens the bundled first scenario in the terminal lab.
//! * `kafkalab tui <scenario.ron> [--seed N]` opens any scenario file.
//! * `kafkalab run <scenario.ron> [--seed N] [--json]` runs a scenario headless and reports.
//! * `kafkalab dump-log <scenario.ron> --topic T --partition P [--broker B] [--at TIME] [--json]`
//!   runs a scenario to TIME and prints a replica's segment files as `kafka-dump-log.sh` does.
//! * `kafkalab describe groups <scenario.ron> [--at TIME] [--seed N] [--group G]... [--members
//!   [--verbose] | --state | --offsets]` runs a scenario to TIME and prints its consumer groups
//!   as `kafka-consumer-groups.sh --describe` does.
//!
//! Exit status: 0 when every expectation holds, 1 when one fails, 2 for bad input or usage,
//! 3 when the simulation itself crashed (a bug in kafkalab; the message gives the seed).

mod app;
mod lab;
mod terminal;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

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
    let cli = Cli::parse();
    match cli.command {
        None => {
            let scenario = sim::scenario::parse_str(FIRST_SCENARIO, FIRST_SCENARIO_NAME)
                .expect("the bundled scenario is valid (a test checks it)");
            let seed = scenario.seed;
            open_lab(scenario, seed)
        }
        Some(Command::Tui { scenario, seed }) => match sim::scenario::load_file(&scenario) {
            Ok(s) => {
                let seed = seed.unwrap_or(s.seed);
                open_lab(s, seed)
            }
            Err(e) => bad_input(&e),
        },
        Some(Command::Run { scenario, seed, json, events }) => match sim::scenario::load_file(&scenario) {
            Ok(s) => {
                let seed = seed.unwrap_or(s.seed);
                let report = match sim::run_traced(s, seed) {
                    Ok((report, records)) => {
                        if events {
                            println!("$ events");
                            for record in records.iter().filter(|r| !r.is_routine()) {
                                println!("{}", record.describe());
                            }
                            println!();
                        }
                        report
                    }
                    Err(crash) => {
                        eprintln!("error: {crash}");
                        eprintln!("reproduce with: {}", crash.reproduce_command(&scenario.display().to_string()));
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
        },
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
                    eprintln!("error: {crash}");
                    eprintln!("reproduce with: {}", crash.reproduce_command(&scenario.display().to_string()));
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
                    eprintln!("error: {crash}");
                    eprintln!("reproduce with: {}", crash.reproduce_command(&scenario.display().to_string()));
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

fn bad_input(error: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("error: {error}");
    ExitCode::from(2)
}

fn open_lab(scenario: sim::scenario::Scenario, seed: u64) -> ExitCode {
    match lab::run_lab(scenario, seed) {
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
        let frame = std::thread::spawn(move || {
            let mut world = sim::world::World::new(scenario, seed);
            while world.elapsed() < std::time::Duration::from_secs(5) {
                world.step();
            }
            sim::live::Frame { view: world.view(), records: world.records_since(0), finished: world.finished() }
        })
        .join()
        .unwrap();
        let mut app = app::App::new("first cluster", seed, 30_000);
        app.apply_frame(frame);
        let backend = ratatui::backend::TestBackend::new(120, 40);
        let mut terminal = ratatui::Terminal::new(backend).unwrap();
        terminal.draw(|f| app.render(f)).unwrap();
        insta::assert_snapshot!("first_screen_01_first_cluster", app::buffer_text(terminal.backend().buffer()));
    }
}
