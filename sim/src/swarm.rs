//! The swarm: a parallel seed sweep over one scenario that finds failing seeds, shrinks each
//! failure to a small reproducer and writes it as a new scenario file.
//!
//! A seed **fails** when its run crashes ([`crate::SimulationCrash`]: an invariant broke or a
//! node panicked) or any of the scenario's expectations fails. With
//! [`SweepOptions::randomize_faults`] each seed also draws its own fault plan and knobs from
//! [`crate::plan`] (TigerBeetle's swarm testing: per seed, which fault kinds are on, how many
//! faults, and the broker and client knobs); without it the scenario's own faults run and only
//! the seed varies.
//!
//! **Shrinking** keeps the failing run's seed and looks for a smaller plan that still fails the
//! same way (at least one of the original failures, and nothing else):
//!
//! * a generated plan is shrunk by proptest's value tree, `simplify` while it still fails and
//!   `complicate` when it stopped failing, as proptest's own runner does, bounded by
//!   [`SweepOptions::shrink_runs`] simulation runs;
//! * the scenario's own (fixed) plan is shrunk greedily: each fault is dropped together with
//!   its undo (a kill with its restart, a partition with its heal) while the run still fails,
//!   then the run is shortened.
//!
//! Each failure's reproducer is the shrunk scenario, with the failing seed as its `seed`,
//! written to `<out>/<stem>.seed-<N>.ron` (`-2`, `-3`, ... when taken; an existing file is
//! never overwritten) after a `//` comment block saying what failed and how to run it again.
//! The summary and the reproducer names follow seed order, whatever order the runs finished
//! in; only the progress events come in completion order.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::finding::Invariant;
use crate::plan::{FaultPlan, PlanSpace};
use crate::scenario::{Fault, Scenario, Span, Target, Timed};
use crate::trace::TraceRecord;

/// The default number of simulation runs spent shrinking one failure.
pub const DEFAULT_SHRINK_RUNS: usize = 96;

/// The default wall-clock time one run may take before the sweep gives up on it as hung.
pub const DEFAULT_RUN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// A half-open range of seeds, `start..end`, written `A..B`; `A..=B` includes `B` and a lone
/// `N` means just that seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeedRange {
    /// The first seed.
    pub start: u64,
    /// One past the last seed.
    pub end: u64,
}

impl SeedRange {
    /// How many seeds the range holds.
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    /// Whether the range holds no seed (never true for a parsed range).
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }
}

impl fmt::Display for SeedRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

impl FromStr for SeedRange {
    type Err = String;

    /// Reads `A..B` (B excluded), `A..=B` (B included) or `N` (one seed).
    ///
    /// Errors: a sentence quoting the text, saying what is wrong and giving an example.
    fn from_str(text: &str) -> Result<SeedRange, String> {
        let t = text.trim();
        let number = |s: &str| {
            s.trim().parse::<u64>().map_err(|_| {
                format!(
                    "--seeds {text:?}: {:?} is not a seed (a whole number from 0); write A..B, e.g. --seeds 0..200",
                    s.trim()
                )
            })
        };
        let (start, end) = if let Some((a, b)) = t.split_once("..=") {
            let b = number(b)?;
            (
                number(a)?,
                b.checked_add(1).ok_or_else(|| format!("--seeds {text:?}: the range ends past the last seed"))?,
            )
        } else if let Some((a, b)) = t.split_once("..") {
            (number(a)?, number(b)?)
        } else {
            let n = number(t)?;
            (n, n.checked_add(1).ok_or_else(|| format!("--seeds {text:?}: the seed is too large to sweep"))?)
        };
        if end <= start {
            return Err(format!(
                "--seeds {text:?}: the range is empty; A..B runs seeds A to B-1, so B must be above A (e.g. --seeds {start}..{})",
                start.saturating_add(100)
            ));
        }
        Ok(SeedRange { start, end })
    }
}

/// One of `count` shards of a sweep, `index` from 1, written `K/M`: the shard runs the seeds
/// whose position in the range (from 0) is `K-1` modulo `M`, so `M` machines running shards
/// `1/M` to `M/M` split a sweep exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// Which shard, from 1 to `count`.
    pub index: u64,
    /// How many shards the sweep is split into, at least 1.
    pub count: u64,
}

impl Default for Shard {
    fn default() -> Shard {
        Shard { index: 1, count: 1 }
    }
}

impl Shard {
    /// The seeds of `range` this shard runs, in order.
    pub fn seeds(&self, range: SeedRange) -> Vec<u64> {
        (range.start..range.end).filter(|s| (s - range.start) % self.count == self.index - 1).collect()
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    /// Reads `K/M` with `1 <= K <= M`.
    ///
    /// Errors: a sentence quoting the text, saying what is wrong and giving an example.
    fn from_str(text: &str) -> Result<Shard, String> {
        let example = "write K/M with 1 <= K <= M, e.g. --shard 1/4 on the first of four machines";
        let (k, m) = text.trim().split_once('/').ok_or_else(|| format!("--shard {text:?}: no '/'; {example}"))?;
        let parse = |s: &str| {
            s.trim().parse::<u64>().map_err(|_| format!("--shard {text:?}: {s:?} is not a number; {example}"))
        };
        let (index, count) = (parse(k)?, parse(m)?);
        if count == 0 || index == 0 || index > count {
            return Err(format!("--shard {text:?}: shard {index} of {count} does not exist; {example}"));
        }
        Ok(Shard { index, count })
    }
}

/// How to sweep.
#[derive(Clone, Debug)]
pub struct SweepOptions {
    /// The seeds to run (before sharding).
    pub seeds: SeedRange,
    /// How many simulations run at once (at least 1).
    pub jobs: usize,
    /// Which part of the seeds this sweep runs.
    pub shard: Shard,
    /// Draw a fault plan and knobs per seed instead of running the scenario's own faults.
    pub randomize_faults: bool,
    /// What generated plans may contain; `None` is [`PlanSpace::safe`] for the scenario.
    pub space: Option<PlanSpace>,
    /// Simulation runs spent shrinking each failure (0: no shrinking).
    pub shrink_runs: usize,
    /// Where reproducers are written; `None` writes none.
    pub out_dir: Option<PathBuf>,
    /// The scenario file, for the reproducers' names (`<stem>.seed-<N>.ron`) and comments.
    pub scenario_path: Option<PathBuf>,
    /// Wall-clock time one run may take; a run still going then fails as [`Failure::Hung`]
    /// (its thread is left to finish on its own). `None` waits forever.
    pub run_timeout: Option<std::time::Duration>,
}

impl SweepOptions {
    /// A sweep of `seeds` on one job, the scenario's own faults, default shrinking and no
    /// reproducer files.
    pub fn new(seeds: SeedRange) -> SweepOptions {
        SweepOptions {
            seeds,
            jobs: 1,
            shard: Shard::default(),
            randomize_faults: false,
            space: None,
            shrink_runs: DEFAULT_SHRINK_RUNS,
            out_dir: None,
            scenario_path: None,
            run_timeout: Some(DEFAULT_RUN_TIMEOUT),
        }
    }
}

/// Why a seed failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The simulation crashed: an invariant broke or a node panicked.
    Crash {
        /// The panic message (for an invariant, it names it and the values involved).
        message: String,
    },
    /// An expectation of the scenario did not hold.
    Expectation {
        /// The expectation as written, e.g. `NoLostAckedWrites`.
        name: String,
        /// What was observed.
        detail: String,
    },
    /// The generated scenario did not load (a bug in the plan generator).
    InvalidPlan {
        /// The loader's message.
        message: String,
    },
    /// The run gave no result within [`SweepOptions::run_timeout`]: the simulation hangs or
    /// crawls.
    Hung {
        /// The wall-clock time waited, in milliseconds.
        after_ms: u64,
    },
}

impl Failure {
    /// What kind of failure this is, for counting and for matching while shrinking: the
    /// expectation as written, `crash: invariant <Name>`, `crash: panic` or `invalid plan`.
    pub fn kind(&self) -> String {
        match self {
            Failure::Expectation { name, .. } => name.clone(),
            Failure::Crash { message } => match Invariant::ALL.iter().find(|i| message.contains(&i.name())) {
                Some(i) if message.contains("invariant") => format!("crash: invariant {i}"),
                _ => "crash: panic".to_string(),
            },
            Failure::InvalidPlan { .. } => "invalid plan".to_string(),
            Failure::Hung { .. } => "hung".to_string(),
        }
    }

    /// One line: the kind and what happened.
    pub fn describe(&self) -> String {
        match self {
            Failure::Expectation { name, detail } => format!("{name}: {detail}"),
            Failure::Crash { message } => {
                format!("crashed: {}", message.lines().next().unwrap_or_default())
            }
            Failure::InvalidPlan { message } => format!("the generated scenario does not load: {message}"),
            Failure::Hung { after_ms } => format!(
                "hung: no result after {:.0}s of wall-clock time (the simulation loops or crawls)",
                *after_ms as f64 / 1000.0
            ),
        }
    }
}

/// The result of one seed's first run.
#[derive(Clone, Debug, PartialEq)]
pub struct SeedOutcome {
    /// The seed.
    pub seed: u64,
    /// What failed; empty when the seed passed.
    pub failures: Vec<Failure>,
    /// Faults the plan injected ([`FaultPlan::injected`]).
    pub faults: usize,
    /// The trace digest, when the run did not crash.
    pub digest: Option<String>,
}

impl SeedOutcome {
    /// Whether the seed passed.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// A failing seed, shrunk.
#[derive(Clone, Debug)]
pub struct SwarmFinding {
    /// The failing seed; the reproducer runs with it.
    pub seed: u64,
    /// What failed in the seed's first run.
    pub failures: Vec<Failure>,
    /// What fails in the shrunk reproducer.
    pub shrunk_failures: Vec<Failure>,
    /// Faults the plan injected before shrinking.
    pub faults_before: usize,
    /// Faults the shrunk plan injects.
    pub faults_after: usize,
    /// Knobs before and after shrinking.
    pub knobs: (usize, usize),
    /// The run's duration before and after shrinking.
    pub duration: (Span, Span),
    /// Simulation runs spent shrinking.
    pub shrink_runs: usize,
    /// Whether the plan was generated (`--randomize-faults`) or the scenario's own.
    pub generated: bool,
    /// The shrunk plan.
    pub plan: FaultPlan,
    /// The reproducer: the scenario with the shrunk plan and `seed` set to the failing seed.
    pub scenario: Scenario,
    /// Where the reproducer was written, if it was.
    pub reproducer: Option<PathBuf>,
}

impl SwarmFinding {
    /// The failure kinds of the first run, joined, e.g. `NoLostAckedWrites, NoDuplicates`.
    pub fn kinds(&self) -> String {
        self.failures.iter().map(Failure::kind).collect::<Vec<_>>().join(", ")
    }
}

/// What a sweep found.
#[derive(Clone, Debug)]
pub struct SwarmReport {
    /// The scenario's name.
    pub scenario: String,
    /// The seed range swept.
    pub seeds: SeedRange,
    /// The shard swept.
    pub shard: Shard,
    /// Whether plans were generated per seed.
    pub randomize_faults: bool,
    /// Every seed run, in seed order.
    pub outcomes: Vec<SeedOutcome>,
    /// The failing seeds, shrunk, in seed order.
    pub findings: Vec<SwarmFinding>,
    /// Failing seeds per failure kind ([`Failure::kind`]).
    pub by_kind: BTreeMap<String, usize>,
    /// Wall-clock time of the sweep, in milliseconds.
    pub wall_ms: u64,
}

impl SwarmReport {
    /// Seeds run.
    pub fn seeds_run(&self) -> usize {
        self.outcomes.len()
    }

    /// Seeds that passed.
    pub fn passed(&self) -> usize {
        self.outcomes.iter().filter(|o| o.passed()).count()
    }

    /// Seeds that failed.
    pub fn failed(&self) -> usize {
        self.outcomes.len() - self.passed()
    }

    /// The summary: counts, failures by kind, and one row per failing seed with its plan's
    /// size before and after shrinking and its reproducer.
    pub fn render_summary(&self) -> String {
        let mut out = String::new();
        let shard = if self.shard.count > 1 { format!(", shard {}", self.shard) } else { String::new() };
        let plans = if self.randomize_faults { "random fault plans" } else { "the scenario's own faults" };
        out.push_str(&format!(
            "swarm summary: {} ({} seeds {}{shard}, {plans})\n",
            self.scenario,
            self.seeds.len(),
            self.seeds
        ));
        out.push_str(&format!("  seeds run  {}\n", self.seeds_run()));
        out.push_str(&format!("  passed     {}\n", self.passed()));
        out.push_str(&format!("  failed     {}\n", self.failed()));
        out.push_str(&format!("  wall time  {:.1}s\n", self.wall_ms as f64 / 1000.0));
        if self.by_kind.is_empty() {
            return out;
        }
        out.push('\n');
        let width = self.by_kind.keys().map(String::len).max().unwrap_or(0).max("FAILURE KIND".len());
        out.push_str(&format!("{:<width$}  SEEDS\n", "FAILURE KIND"));
        for (kind, n) in &self.by_kind {
            out.push_str(&format!("{kind:<width$}  {n}\n"));
        }
        out.push('\n');
        let kinds_width = self.findings.iter().map(|f| f.kinds().len()).max().unwrap_or(0).max("FAILED".len());
        out.push_str(&format!("{:<8}{:<kinds_width$}  FAULTS  SHRUNK  RUNS  REPRODUCER\n", "SEED", "FAILED"));
        for f in &self.findings {
            let file = f.reproducer.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "-".to_string());
            out.push_str(&format!(
                "{:<8}{:<kinds_width$}  {:<6}  {:<6}  {:<4}  {file}\n",
                f.seed,
                f.kinds(),
                f.faults_before,
                f.faults_after,
                f.shrink_runs
            ));
        }
        out
    }
}

/// Something a sweep reports while it runs. Seeds finish in completion order.
#[derive(Debug)]
pub enum SwarmEvent<'a> {
    /// The sweep starts `total` seeds.
    Started {
        /// Seeds to run.
        total: usize,
    },
    /// A seed's first run finished.
    SeedDone(&'a SeedOutcome),
    /// A shrinking run of a failing seed finished; `faults` is the smallest failing plan so
    /// far.
    Shrinking {
        /// The failing seed.
        seed: u64,
        /// Shrinking runs so far.
        runs: usize,
        /// Faults in the smallest failing plan so far.
        faults: usize,
    },
    /// A failing seed is shrunk (its reproducer is written at the end, in seed order).
    Shrunk(&'a SwarmFinding),
}

/// Why a sweep could not run or finish.
#[derive(Debug, thiserror::Error)]
pub enum SwarmError {
    /// The plan space does not fit the scenario; the message says how to fix it.
    #[error("{0}")]
    Plan(String),
    /// No seed falls in this shard.
    #[error("shard {shard} of seeds {seeds} holds no seed; use fewer shards or more seeds")]
    EmptyShard {
        /// The seeds.
        seeds: SeedRange,
        /// The shard.
        shard: Shard,
    },
    /// A reproducer could not be written.
    #[error("{path}: cannot write the reproducer: {source} (choose another directory with --out)")]
    Write {
        /// The file or directory.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// Runs the sweep `options` describes over `base`, calling `on_event` as it goes (from worker
/// threads, hence `Sync`), and writes each failure's reproducer when `options.out_dir` is set.
///
/// Errors: [`SwarmError::Plan`] when generated plans do not fit the scenario,
/// [`SwarmError::EmptyShard`], [`SwarmError::Write`] when a reproducer cannot be written.
pub fn sweep(
    base: &Scenario,
    options: &SweepOptions,
    on_event: &(dyn Fn(SwarmEvent<'_>) + Sync),
) -> Result<SwarmReport, SwarmError> {
    let started = std::time::Instant::now();
    let space = options.space.clone().unwrap_or_else(|| PlanSpace::safe(base));
    if options.randomize_faults {
        let _checked = crate::plan::plan_strategy(base, &space).map_err(SwarmError::Plan)?;
    }
    let seeds = options.shard.seeds(options.seeds);
    if seeds.is_empty() {
        return Err(SwarmError::EmptyShard { seeds: options.seeds, shard: options.shard });
    }
    on_event(SwarmEvent::Started { total: seeds.len() });
    let next = AtomicUsize::new(0);
    let results: Mutex<BTreeMap<u64, (SeedOutcome, Option<SwarmFinding>)>> = Mutex::new(BTreeMap::new());
    let jobs = options.jobs.clamp(1, seeds.len());
    // With a simulation on every core, a run's helper threads would only take turns with
    // them; the results are the same either way.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let helper_threads = crate::set_helper_threads(jobs < cores);
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(&seed) = seeds.get(i) else { break };
                let result = sweep_seed(base, &space, options, seed, on_event);
                results.lock().unwrap_or_else(|e| e.into_inner()).insert(seed, result);
            });
        }
    });
    crate::set_helper_threads(helper_threads);
    let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    let mut outcomes = Vec::new();
    let mut findings = Vec::new();
    let mut by_kind: BTreeMap<String, usize> = BTreeMap::new();
    for (_, (outcome, finding)) in results {
        let kinds: BTreeSet<String> = outcome.failures.iter().map(Failure::kind).collect();
        for kind in kinds {
            *by_kind.entry(kind).or_insert(0) += 1;
        }
        outcomes.push(outcome);
        findings.extend(finding);
    }
    if let Some(dir) = &options.out_dir {
        let stem = options
            .scenario_path
            .as_ref()
            .and_then(|p| p.file_stem())
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| slug(&base.name));
        for finding in &mut findings {
            let path = write_reproducer(dir, &stem, finding, options.scenario_path.as_deref())?;
            finding.reproducer = Some(path);
        }
    }
    Ok(SwarmReport {
        scenario: base.name.clone(),
        seeds: options.seeds,
        shard: options.shard,
        randomize_faults: options.randomize_faults,
        outcomes,
        findings,
        by_kind,
        wall_ms: started.elapsed().as_millis() as u64,
    })
}

/// Runs one seed and, when it fails, shrinks it.
fn sweep_seed(
    base: &Scenario,
    space: &PlanSpace,
    options: &SweepOptions,
    seed: u64,
    on_event: &(dyn Fn(SwarmEvent<'_>) + Sync),
) -> (SeedOutcome, Option<SwarmFinding>) {
    let plan = if options.randomize_faults {
        crate::plan::generate(base, space, seed).expect("the plan space was checked before the sweep")
    } else {
        FaultPlan::from_scenario(base)
    };
    let scenario = scenario_for(base, &plan, seed, options.randomize_faults);
    let (failures, digest) = evaluate_within(scenario.clone(), seed, options.run_timeout);
    let outcome = SeedOutcome { seed, failures, faults: plan.injected(), digest };
    on_event(SwarmEvent::SeedDone(&outcome));
    if outcome.passed() {
        return (outcome, None);
    }
    let finding = shrink(base, space, options, seed, plan, scenario, &outcome.failures, on_event);
    on_event(SwarmEvent::Shrunk(&finding));
    (outcome, Some(finding))
}

/// The scenario a seed runs: `base` with `plan` applied (for a generated plan), and `seed` as
/// its seed, so that written out it reproduces the run.
fn scenario_for(base: &Scenario, plan: &FaultPlan, seed: u64, generated: bool) -> Scenario {
    let mut s = if generated { crate::plan::apply(base, plan) } else { base.clone() };
    s.seed = seed;
    s
}

/// Runs `scenario` with `seed`: what failed and the digest (absent after a crash). A scenario
/// that does not load back from its own text fails as [`Failure::InvalidPlan`] without running.
pub fn evaluate(scenario: Scenario, seed: u64) -> (Vec<Failure>, Option<String>) {
    evaluate_within(scenario, seed, None)
}

/// Like [`evaluate`], giving up after `timeout` of wall-clock time with [`Failure::Hung`]
/// (the run's thread is left behind to finish on its own).
pub fn evaluate_within(
    scenario: Scenario,
    seed: u64,
    timeout: Option<std::time::Duration>,
) -> (Vec<Failure>, Option<String>) {
    let Some(timeout) = timeout else { return evaluate_now(scenario, seed) };
    let (send, receive) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new().name(format!("kafkalab-seed-{seed}")).spawn(move || {
        let _ = send.send(evaluate_now(scenario, seed));
    });
    if spawned.is_err() {
        return (vec![Failure::Crash { message: "could not spawn a thread for the run".into() }], None);
    }
    match receive.recv_timeout(timeout) {
        Ok(result) => result,
        Err(_) => (vec![Failure::Hung { after_ms: timeout.as_millis() as u64 }], None),
    }
}

fn evaluate_now(scenario: Scenario, seed: u64) -> (Vec<Failure>, Option<String>) {
    let origin = scenario.origin.0.clone();
    let text = crate::plan::to_ron(&scenario);
    let mut loaded = match crate::scenario::parse_str(&text, "generated scenario") {
        Ok(s) => s,
        Err(e) => return (vec![Failure::InvalidPlan { message: e.to_string() }], None),
    };
    loaded.origin = crate::scenario::Origin(origin);
    match crate::run(loaded, seed) {
        Err(crash) => (vec![Failure::Crash { message: crash.message }], None),
        Ok(report) => {
            let failures = report
                .expectations
                .iter()
                .filter(|e| !e.passed)
                .map(|e| Failure::Expectation { name: e.name.clone(), detail: e.detail.clone() })
                .collect();
            (failures, Some(report.digest))
        }
    }
}

/// Whether `failures` count as the same failure as `original`: at least one failure, every
/// one of a kind the original run had.
fn same_failure(failures: &[Failure], original: &BTreeSet<String>) -> bool {
    !failures.is_empty() && failures.iter().all(|f| original.contains(&f.kind()))
}

/// Shrinks a failing seed (see the module doc).
#[allow(clippy::too_many_arguments)]
fn shrink(
    base: &Scenario,
    space: &PlanSpace,
    options: &SweepOptions,
    seed: u64,
    plan: FaultPlan,
    scenario: Scenario,
    failures: &[Failure],
    on_event: &(dyn Fn(SwarmEvent<'_>) + Sync),
) -> SwarmFinding {
    let original: BTreeSet<String> = failures.iter().map(Failure::kind).collect();
    let mut shrinker = Shrinker {
        seed,
        original,
        budget: options.shrink_runs,
        runs: 0,
        tried: BTreeMap::new(),
        best: (plan.clone(), scenario.clone(), failures.to_vec()),
        timeout: options.run_timeout,
        on_event,
    };
    // An invalid plan cannot be run, and a hung one would make every candidate wait it out.
    let invalid = failures.iter().any(|f| matches!(f, Failure::InvalidPlan { .. } | Failure::Hung { .. }));
    if !invalid && options.shrink_runs > 0 {
        if options.randomize_faults {
            shrinker.shrink_generated(base, space);
        } else {
            shrinker.shrink_fixed(&scenario);
        }
    }
    let (best_plan, best_scenario, best_failures) = shrinker.best;
    SwarmFinding {
        seed,
        failures: failures.to_vec(),
        shrunk_failures: best_failures,
        faults_before: plan.injected(),
        faults_after: best_plan.injected(),
        knobs: (plan.knob_count(), best_plan.knob_count()),
        duration: (scenario.duration, best_scenario.duration),
        shrink_runs: shrinker.runs,
        generated: options.randomize_faults,
        plan: best_plan,
        scenario: best_scenario,
        reproducer: None,
    }
}

/// The state of one shrink: the smallest failing candidate so far and the runs spent.
struct Shrinker<'a> {
    seed: u64,
    original: BTreeSet<String>,
    budget: usize,
    runs: usize,
    /// Candidates already run, by their scenario text: whether they failed the same way.
    tried: BTreeMap<String, (bool, Vec<Failure>)>,
    best: (FaultPlan, Scenario, Vec<Failure>),
    timeout: Option<std::time::Duration>,
    on_event: &'a (dyn Fn(SwarmEvent<'_>) + Sync),
}

impl Shrinker<'_> {
    fn exhausted(&self) -> bool {
        self.runs >= self.budget
    }

    /// Whether the candidate fails the same way; remembers it as the best when it does.
    /// Candidates that were run before are not run again.
    fn still_fails(&mut self, plan: FaultPlan, scenario: Scenario) -> bool {
        let key = crate::plan::to_ron(&scenario);
        let (fails, failures) = match self.tried.get(&key) {
            Some(known) => known.clone(),
            None => {
                let (failures, _) = evaluate_within(scenario.clone(), self.seed, self.timeout);
                self.runs += 1;
                let fails = same_failure(&failures, &self.original);
                self.tried.insert(key, (fails, failures.clone()));
                (fails, failures)
            }
        };
        if fails {
            self.best = (plan, scenario, failures);
        }
        (self.on_event)(SwarmEvent::Shrinking { seed: self.seed, runs: self.runs, faults: self.best.0.injected() });
        fails
    }

    /// proptest's shrinking loop over the seed's plan tree.
    fn shrink_generated(&mut self, base: &Scenario, space: &PlanSpace) {
        let Ok(mut tree) = crate::plan::plan_tree(base, space, self.seed) else { return };
        // Candidates already known cost nothing, so bound the steps as well as the runs.
        let mut steps = 0;
        if !tree.simplify() {
            return;
        }
        while !self.exhausted() && steps < self.budget * 50 {
            steps += 1;
            let plan = tree.current();
            let scenario = scenario_for(base, &plan, self.seed, true);
            if self.still_fails(plan, scenario) {
                if !tree.simplify() {
                    break;
                }
            } else if !tree.complicate() {
                break;
            }
        }
    }

    /// Greedy shrinking of the scenario's own faults, then of its duration.
    fn shrink_fixed(&mut self, scenario: &Scenario) {
        let with_faults = |faults: &[Timed<Fault>]| {
            let mut s = scenario.clone();
            s.faults = faults.to_vec();
            s
        };
        let mut faults = scenario.faults.clone();
        faults.sort_by_key(|f| f.at());
        // First drop injected faults with their undo, then whatever is left one at a time.
        for undoing_too in [false, true] {
            let mut i = 0;
            while i < faults.len() && !self.exhausted() {
                let undo = crate::plan::is_undo(faults[i].value());
                if undo && !undoing_too {
                    i += 1;
                    continue;
                }
                let mut drop = vec![i];
                if !undo {
                    if let Some(j) = exclusive_undo(&faults, i) {
                        drop.push(j);
                    }
                }
                let candidate: Vec<Timed<Fault>> =
                    faults.iter().enumerate().filter(|(k, _)| !drop.contains(k)).map(|(_, f)| f.clone()).collect();
                let s = with_faults(&candidate);
                if self.still_fails(FaultPlan::from_scenario(&s), s) {
                    faults = candidate;
                } else {
                    i += 1;
                }
            }
        }
        // Then shorten the run, halving the time after the last scheduled moment.
        let floor = latest_moment(&self.best.1) + 1_000;
        loop {
            let current = self.best.1.duration.0;
            let shorter = (floor + (current.saturating_sub(floor)) / 2) / 100 * 100;
            if self.exhausted() || shorter >= current || shorter < floor {
                break;
            }
            let mut s = self.best.1.clone();
            s.duration = Span(shorter);
            if !self.still_fails(FaultPlan::from_scenario(&s), s) {
                break;
            }
        }
    }
}

/// The last moment a scenario schedules anything at: faults, narration, scripted records,
/// flushes, seeks, consumer and producer starts, and trigger times; in milliseconds.
fn latest_moment(s: &Scenario) -> u64 {
    let mut last = 0;
    last = last.max(s.faults.iter().map(|f| f.at().0).max().unwrap_or(0));
    last = last.max(s.narration.iter().filter_map(|n| n.at()).map(|at| at.0).max().unwrap_or(0));
    for c in &s.clients {
        match c {
            crate::scenario::ClientSpec::Producer(p) => {
                last = last.max(p.start.0);
                last = last.max(p.records.iter().map(|r| r.at.0).max().unwrap_or(0));
                last = last.max(p.flushes.iter().map(|f| f.0).max().unwrap_or(0));
            }
            crate::scenario::ClientSpec::Consumer(c) => {
                last = last.max(c.start.0);
                last = last.max(c.seeks.iter().map(|s| s.at().0).max().unwrap_or(0));
            }
        }
    }
    if !s.triggers.is_empty() || s.expect.iter().any(|e| matches!(e, crate::scenario::Expectation::ConvergesWithin(_)))
    {
        // A trigger may fire late, and a convergence needs its time: keep the length.
        last = last.max(s.duration.0.saturating_sub(1_000));
    }
    last
}

/// The fault that undoes fault `i` of the time-ordered `faults`, when no other injected fault
/// relies on it: a kill's, crash's or shutdown's restart, a partition's or isolation's heal, a
/// pause's resume, a link condition's reset.
fn exclusive_undo(faults: &[Timed<Fault>], i: usize) -> Option<usize> {
    let j = undo_of(faults, i)?;
    let shared = (0..faults.len())
        .filter(|k| *k != i && !crate::plan::is_undo(faults[*k].value()))
        .any(|k| undo_of(faults, k) == Some(j));
    (!shared).then_some(j)
}

fn undo_of(faults: &[Timed<Fault>], i: usize) -> Option<usize> {
    let hit = faults[i].value();
    let later = || (i + 1..faults.len()).map(|j| (j, faults[j].value()));
    let find = |pred: &dyn Fn(&Fault) -> bool| later().find(|(_, f)| pred(f)).map(|(j, _)| j);
    match hit {
        Fault::Crash(t) | Fault::Kill(t) => {
            find(&|f| matches!(f, Fault::Restart(u) if u == t || *u == Target::LastCrashed))
        }
        Fault::Shutdown(t) => find(&|f| matches!(f, Fault::Restart(u) if u == t)),
        Fault::PowerLoss(ts) => {
            find(&|f| matches!(f, Fault::Restart(u) if ts.contains(u) || *u == Target::LastCrashed))
        }
        Fault::Partition(..) | Fault::Isolate(_) | Fault::OneWay(..) => {
            find(&|f| matches!(f, Fault::Heal | Fault::Reconnect(_)))
        }
        Fault::Pause(t) => find(&|f| matches!(f, Fault::Resume(u) if u == t)),
        Fault::Loss { nodes, .. } => find(&|f| match f {
            Fault::Loss { rate, nodes: n } => *rate <= 0.0 && n == nodes,
            Fault::Heal => true,
            _ => false,
        }),
        Fault::Duplicate { nodes, .. } => find(&|f| match f {
            Fault::Duplicate { rate, nodes: n } => *rate <= 0.0 && n == nodes,
            Fault::Heal => true,
            _ => false,
        }),
        Fault::Latency { nodes, .. } => find(&|f| match f {
            Fault::Latency { extra, jitter, nodes: n } => extra.is_zero() && jitter.is_zero() && n == nodes,
            Fault::Heal => true,
            _ => false,
        }),
        _ => None,
    }
}

/// A file-name-safe form of a scenario name.
fn slug(name: &str) -> String {
    let s: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    let s = s.split('-').filter(|p| !p.is_empty()).collect::<Vec<_>>().join("-");
    if s.is_empty() {
        "scenario".to_string()
    } else {
        s
    }
}

/// The reproducer's text: the `//` comment block, then the scenario. `path` is where it is
/// written (for the reproduce command), `source` the swept scenario file.
pub fn reproducer_text(finding: &SwarmFinding, path: &Path, source: Option<&Path>) -> String {
    let mut out = String::new();
    let from = source.map(|p| p.display().to_string()).unwrap_or_else(|| format!("\"{}\"", finding.scenario.name));
    out.push_str(&format!("// kafkalab swarm finding: seed {} of {from}\n", finding.seed));
    out.push_str("// what failed:\n");
    for f in &finding.shrunk_failures {
        out.push_str(&format!("//   {}\n", one_line(&f.describe())));
    }
    if finding.shrunk_failures != finding.failures {
        out.push_str("// (before shrinking:\n");
        for f in &finding.failures {
            out.push_str(&format!("//   {}\n", one_line(&f.describe())));
        }
        out.push_str("// )\n");
    }
    let origin =
        if finding.generated { "a random fault plan (--randomize-faults)" } else { "the scenario's own faults" };
    out.push_str(&format!(
        "// faults: {} injected by {origin}, shrunk to {} in {} run(s); knobs {} → {}; duration {} → {}\n",
        finding.faults_before,
        finding.faults_after,
        finding.shrink_runs,
        finding.knobs.0,
        finding.knobs.1,
        finding.duration.0,
        finding.duration.1
    ));
    out.push_str(&format!("// original seed: {} (the `seed` below)\n", finding.seed));
    out.push_str(&format!("// reproduce: kafkalab run {}\n", path.display()));
    out.push_str(&crate::plan::to_ron(&finding.scenario));
    out
}

fn one_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().chars().take(300).collect()
}

/// Writes a finding's reproducer as `<dir>/<stem>.seed-<N>.ron`, or `...seed-<N>-2.ron`,
/// `-3`, ... when taken: an existing file is never overwritten. Creates `dir` if needed.
///
/// Errors: [`SwarmError::Write`] naming the directory or file.
pub fn write_reproducer(
    dir: &Path,
    stem: &str,
    finding: &SwarmFinding,
    source: Option<&Path>,
) -> Result<PathBuf, SwarmError> {
    let fail = |path: &Path, source: std::io::Error| SwarmError::Write { path: path.display().to_string(), source };
    std::fs::create_dir_all(dir).map_err(|e| fail(dir, e))?;
    for n in 1u32.. {
        let name = if n == 1 {
            format!("{stem}.seed-{}.ron", finding.seed)
        } else {
            format!("{stem}.seed-{}-{n}.ron", finding.seed)
        };
        let path = dir.join(name);
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut file) => {
                let text = reproducer_text(finding, &path, source);
                file.write_all(text.as_bytes()).map_err(|e| fail(&path, e))?;
                return Ok(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(fail(&path, e)),
        }
    }
    unreachable!("some suffix is free")
}

/// The verdict of [`check_determinism`].
#[derive(Clone, Debug, PartialEq)]
pub enum Determinism {
    /// Both runs gave the same trace.
    Same {
        /// Trace records of each run.
        records: usize,
        /// The common digest.
        digest: String,
    },
    /// The traces differ first at record `seq`: each run's record there (`None` when that
    /// run's trace ended before it).
    Differs {
        /// The first differing position.
        seq: u64,
        /// The first run's record (boxed: a record is large and the verdict is passed around).
        first: Option<Box<TraceRecord>>,
        /// The second run's record.
        second: Option<Box<TraceRecord>>,
    },
}

impl Determinism {
    /// The verdict in words: `deterministic: N records, digest X`, or where the traces part
    /// with both records described.
    pub fn render(&self) -> String {
        match self {
            Determinism::Same { records, digest } => format!("deterministic: {records} records, digest {digest}\n"),
            Determinism::Differs { seq, first, second } => {
                let describe = |r: &Option<Box<TraceRecord>>| match r {
                    Some(r) => r.describe(),
                    None => "(the trace ended)".to_string(),
                };
                let (time, node) = first
                    .as_ref()
                    .or(second.as_ref())
                    .map(|r| (format!("{}", Span(r.time_ms())), r.node.to_string()))
                    .unwrap_or_default();
                format!(
                    "NOT deterministic: the traces differ first at record {seq} (time {time}, node {node})\n  \
                     first run:  {}\n  second run: {}\n",
                    describe(first),
                    describe(second)
                )
            }
        }
    }
}

/// Runs `scenario` twice with `seed` and compares the traces record by record.
///
/// Errors: the [`crate::SimulationCrash`] of either run.
pub fn check_determinism(scenario: Scenario, seed: u64) -> Result<Determinism, crate::SimulationCrash> {
    let (first_report, first) = crate::run_traced(scenario.clone(), seed)?;
    let (second_report, second) = crate::run_traced(scenario, seed)?;
    let differs = first.iter().zip(&second).position(|(a, b)| a != b);
    let seq = match differs {
        Some(i) => i,
        None if first.len() != second.len() => first.len().min(second.len()),
        None if first_report.digest == second_report.digest => {
            return Ok(Determinism::Same { records: first.len(), digest: first_report.digest })
        }
        // Same records but another digest cannot happen (the digest hashes the records);
        // report the end of the trace.
        None => first.len(),
    };
    Ok(Determinism::Differs {
        seq: seq as u64,
        first: first.get(seq).cloned().map(Box::new),
        second: second.get(seq).cloned().map(Box::new),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_ranges_parse_with_helpful_errors() {
        assert_eq!("0..200".parse::<SeedRange>().unwrap(), SeedRange { start: 0, end: 200 });
        assert_eq!("5..=7".parse::<SeedRange>().unwrap(), SeedRange { start: 5, end: 8 });
        assert_eq!("42".parse::<SeedRange>().unwrap(), SeedRange { start: 42, end: 43 });
        let e = "10..5".parse::<SeedRange>().unwrap_err();
        assert!(e.contains("--seeds") && e.contains("empty") && e.contains("10..110"), "{e}");
        let e = "a..b".parse::<SeedRange>().unwrap_err();
        assert!(e.contains("not a seed") && e.contains("0..200"), "{e}");
        assert!("1-5".parse::<SeedRange>().is_err());
    }

    #[test]
    fn shards_parse_and_split_exactly() {
        assert_eq!("2/3".parse::<Shard>().unwrap(), Shard { index: 2, count: 3 });
        for bad in ["0/3", "4/3", "1/0", "3", "a/b"] {
            let e = bad.parse::<Shard>().unwrap_err();
            assert!(e.contains("--shard") && e.contains("K/M"), "{bad}: {e}");
        }
        let range = SeedRange { start: 10, end: 27 };
        let mut all: Vec<u64> = (1..=4).flat_map(|k| Shard { index: k, count: 4 }.seeds(range)).collect();
        all.sort();
        assert_eq!(all, (10..27).collect::<Vec<_>>());
        assert_eq!(Shard { index: 2, count: 4 }.seeds(range), vec![11, 15, 19, 23]);
    }

    #[test]
    fn undo_pairs() {
        let t = |ms, f| Timed::At(Span(ms), f);
        let faults = vec![
            t(1, Fault::Kill(Target::Broker(1))),
            t(2, Fault::Isolate(Target::Broker(2))),
            t(3, Fault::Partition(vec![Target::Broker(3)], vec![Target::Broker(1)])),
            t(4, Fault::Heal),
            t(5, Fault::Restart(Target::Broker(1))),
        ];
        assert_eq!(undo_of(&faults, 0), Some(4));
        assert_eq!(undo_of(&faults, 1), Some(3));
        assert_eq!(exclusive_undo(&faults, 0), Some(4));
        // The heal undoes both the isolation and the partition.
        assert_eq!(exclusive_undo(&faults, 1), None);
    }
}
