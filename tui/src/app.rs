//! The lab's state and its update function, in the Elm architecture.
//!
//! [`App`] holds the whole run seen so far as a [`History`]: every trace record and a keyframe
//! (the whole [`ClusterView`]) every 100 ms of simulated time. The screen shows the keyframe
//! under the cursor, so scrubbing back and forth is only moving an index. Key presses arrive as
//! [`Input`] and go through [`App::update`], which changes the state and returns the
//! [`Effect`]s for the lab's loop to carry out (controls for the simulation, a fork, files to
//! write). Frames from the simulation go through [`App::apply_frame`], wall-clock time through
//! [`App::tick`]. Rendering ([`crate::screens`]) reads the state and does no I/O, so every
//! screen is tested with ratatui's `TestBackend` and insta snapshots.
//!
//! The app never changes the simulation itself. Acting on the present sends a fault to the
//! running world; acting in the past forks the run: the future is forgotten and a new run
//! re-executes the same scenario and seed to that moment (deterministic, so the prefix is the
//! same record for record), with the new fault added there.

use std::collections::BTreeSet;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use sim::live::{Control, ForkPoint, Frame};
use sim::record::{History, Keyframe, MarkerKind, KEYFRAME_INTERVAL_MS};
use sim::scenario::{Fault, Scenario, Span, Target, Timed};
use sim::trace::{TraceBody, TraceRecord};
use sim::view::{ClusterView, NodeView};

/// The slowest playback speed, in simulated seconds per wall second.
pub const MIN_SPEED: f64 = 0.125;
/// The fastest playback speed, in simulated seconds per wall second.
pub const MAX_SPEED: f64 = 64.0;
/// How many of the newest records (up to the moment on screen) the event feed's filters look
/// at: enough for minutes of a busy run, few enough to draw in a frame.
pub const FEED_SCAN_LIMIT: usize = 50_000;
/// How many lines Page Up and Page Down move a scrolled pane.
pub const PAGE_LINES: usize = 10;

/// A key press the app understands, independent of the terminal library.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// A printable character other than space.
    Char(char),
    /// The space bar.
    Space,
    /// Enter.
    Enter,
    /// Backspace.
    Backspace,
    /// The Escape key.
    Esc,
    /// Tab.
    Tab,
    /// Shift-Tab.
    BackTab,
    /// The left arrow.
    Left,
    /// The right arrow.
    Right,
    /// The up arrow.
    Up,
    /// The down arrow.
    Down,
    /// Page Up (presenter remotes send it for "back").
    PageUp,
    /// Page Down (presenter remotes send it for "next").
    PageDown,
    /// Home.
    Home,
    /// End.
    End,
    /// F5, which presenter remotes send to start a presentation.
    F5,
    /// Ctrl-C, which quits like `q`.
    Interrupt,
}

impl Input {
    /// Translates a crossterm key event, or returns `None` for keys the app ignores (including
    /// key releases and repeats, which some terminals report as separate events).
    pub fn from_key_event(event: KeyEvent) -> Option<Input> {
        if event.kind != KeyEventKind::Press {
            return None;
        }
        if event.modifiers.contains(KeyModifiers::CONTROL) {
            return match event.code {
                KeyCode::Char('c') => Some(Input::Interrupt),
                _ => None,
            };
        }
        match event.code {
            KeyCode::Char(' ') => Some(Input::Space),
            KeyCode::Char(c) => Some(Input::Char(c)),
            KeyCode::Enter => Some(Input::Enter),
            KeyCode::Backspace => Some(Input::Backspace),
            KeyCode::Esc => Some(Input::Esc),
            KeyCode::Tab => Some(Input::Tab),
            KeyCode::BackTab => Some(Input::BackTab),
            KeyCode::Left => Some(Input::Left),
            KeyCode::Right => Some(Input::Right),
            KeyCode::Up => Some(Input::Up),
            KeyCode::Down => Some(Input::Down),
            KeyCode::PageUp => Some(Input::PageUp),
            KeyCode::PageDown => Some(Input::PageDown),
            KeyCode::Home => Some(Input::Home),
            KeyCode::End => Some(Input::End),
            KeyCode::F(5) => Some(Input::F5),
            _ => None,
        }
    }
}

/// The lab's views, in `Tab` order; `1` to `8` jump to one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tab {
    /// Nodes, topics, active faults, narration and the latest events.
    Overview,
    /// The partition table with every replica's offsets.
    Partitions,
    /// One partition's replicas drawn as offset cells.
    Log,
    /// Consumer groups: assignment matrix, offsets, lag.
    Groups,
    /// The controller quorum.
    Quorum,
    /// The whole event feed, filterable.
    Events,
    /// What Kafka's command-line tools would print now.
    Cli,
    /// Rates and counts over time.
    Charts,
}

impl Tab {
    /// Every tab, in order.
    pub const ALL: [Tab; 8] =
        [Tab::Overview, Tab::Partitions, Tab::Log, Tab::Groups, Tab::Quorum, Tab::Events, Tab::Cli, Tab::Charts];

    /// The tab's title.
    pub fn title(self) -> &'static str {
        match self {
            Tab::Overview => "Overview",
            Tab::Partitions => "Partitions",
            Tab::Log => "Log",
            Tab::Groups => "Groups",
            Tab::Quorum => "Quorum",
            Tab::Events => "Events",
            Tab::Cli => "CLI",
            Tab::Charts => "Charts",
        }
    }

    fn index(self) -> usize {
        Tab::ALL.iter().position(|t| *t == self).expect("every tab is listed")
    }
}

/// Which records the event feed shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KindFilter {
    /// Every record (routine ones only with `v`).
    All,
    /// Faults and invariant violations.
    Faults,
    /// Partition and controller elections, and the quorum's state changes.
    Elections,
    /// ISR changes.
    Isr,
    /// Consumer groups and clients.
    Groups,
    /// Narration.
    Narration,
}

impl KindFilter {
    const ALL: [KindFilter; 6] = [
        KindFilter::All,
        KindFilter::Faults,
        KindFilter::Elections,
        KindFilter::Isr,
        KindFilter::Groups,
        KindFilter::Narration,
    ];

    /// The filter in words.
    pub fn name(self) -> &'static str {
        match self {
            KindFilter::All => "all kinds",
            KindFilter::Faults => "faults",
            KindFilter::Elections => "elections",
            KindFilter::Isr => "ISR changes",
            KindFilter::Groups => "groups and clients",
            KindFilter::Narration => "narration",
        }
    }

    /// Whether `record` passes.
    pub fn accepts(self, record: &TraceRecord) -> bool {
        use cluster::event::Event as E;
        match self {
            KindFilter::All => true,
            KindFilter::Faults => matches!(record.body, TraceBody::Fault(_) | TraceBody::Violation { .. }),
            KindFilter::Elections => {
                matches!(&record.body, TraceBody::Event(event) if event.is_election())
            }
            KindFilter::Isr => {
                matches!(&record.body, TraceBody::Event(E::IsrShrunk { .. } | E::IsrExpanded { .. }))
            }
            KindFilter::Groups => {
                matches!(&record.body, TraceBody::Event(_))
                    && record.node.chars().next().is_some_and(|c| c.is_lowercase())
                    && !record.node.starts_with("broker")
                    && !record.node.starts_with("controller")
                    && !record.node.starts_with("node")
                    || matches!(
                        &record.body,
                        TraceBody::Event(
                            E::GroupRebalanced { .. }
                                | E::RebalanceStarted { .. }
                                | E::MemberRemoved { .. }
                                | E::GroupLoaded { .. }
                        )
                    )
            }
            KindFilter::Narration => {
                matches!(record.body, TraceBody::Narration(_) | TraceBody::Chapter(_) | TraceBody::Prompt(_))
            }
        }
    }
}

/// A fault action the learner can take on the selected node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// `x`: the machine crashes (the page cache is lost).
    Crash,
    /// `r`: a down node starts again.
    Restart,
    /// `p`: pause a running node, or resume a paused one.
    PauseOrResume,
    /// `i`: cut the node off from every other node.
    Isolate,
    /// `n`: split the network: the marked nodes (or the selected one) against the rest.
    Split,
    /// `H`: end every cut and link degradation.
    Heal,
}

/// Where the lab's data comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// A simulation running now; the cursor may follow its newest frame.
    Live,
    /// A recording: nothing runs until the learner acts (which forks a live run).
    Replay,
}

/// What the lab's loop must do after an update.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Send this control to the running simulation.
    Control(Control),
    /// Replace the running simulation (if any) by a fork: `scenario` with `seed`, run silently
    /// to `at`, then live from there (playing or not).
    Fork {
        /// The scenario with the faults of the new timeline.
        scenario: Box<Scenario>,
        /// The seed.
        seed: u64,
        /// Where the new run takes over.
        at: ForkPoint,
        /// Whether it plays at once.
        playing: bool,
    },
    /// Save the session as a new scenario file (the text to write).
    SaveScenario {
        /// The RON text.
        text: String,
    },
    /// Write the session as a new recording.
    WriteRecording,
}

/// The lab's whole state.
#[derive(Debug)]
pub struct App {
    /// The scenario as loaded (for a replay: the recording's), without the session's faults.
    pub(crate) scenario: Scenario,
    /// The run's seed.
    pub(crate) seed: u64,
    /// The run so far.
    pub(crate) history: History,
    /// Faults the learner injected, with the times they applied at.
    pub(crate) session_faults: Vec<Timed<Fault>>,
    /// Faults sent to the running world that no frame has confirmed yet.
    pub(crate) pending: Vec<String>,
    /// Live or replay.
    pub(crate) source: Source,
    /// The keyframe on screen.
    pub(crate) cursor: usize,
    /// Whether the cursor follows the newest keyframe (live only).
    pub(crate) follow: bool,
    /// Whether time moves.
    pub(crate) playing: bool,
    /// Playback speed, in simulated seconds per wall second.
    pub(crate) speed: f64,
    /// Simulated milliseconds owed to playback through the history.
    owed_ms: f64,
    /// The view on screen.
    pub(crate) tab: Tab,
    /// Whether the help overlay is open.
    pub(crate) show_help: bool,
    /// Whether the feed shows routine records too.
    pub(crate) show_routine: bool,
    /// The feed's kind filter.
    pub(crate) kind_filter: KindFilter,
    /// The feed's text filter (node, partition or any words), empty for none.
    pub(crate) text_filter: String,
    /// Whether keys are typed into the text filter.
    pub(crate) editing_filter: bool,
    /// How many lines the feed (or the CLI pane) is scrolled back from the newest.
    pub(crate) scroll: usize,
    /// The selected node's id (Overview and Quorum).
    pub(crate) selected_node: Option<i32>,
    /// Nodes marked for a network split.
    pub(crate) marked: BTreeSet<i32>,
    /// The selected partition (Partitions and Log), as an index into the view's logs.
    pub(crate) selected_partition: usize,
    /// Whether the Log view lists the selected partition's batches.
    pub(crate) show_batches: bool,
    /// Presenter mode: playback stops at each chapter; PageUp/PageDown go chapter by chapter.
    pub(crate) presenter: bool,
    /// The prompt or chapter the lab waits on: its record's sequence number.
    pub(crate) waiting: Option<u64>,
    /// Prompts and chapters already stopped at (so playing on does not stop again).
    stopped_at: BTreeSet<u64>,
    /// A message for the status line (saved files, refusals).
    pub(crate) message: Option<String>,
    /// Whether colours are drawn (`NO_COLOR` turns them off).
    pub(crate) colour: bool,
    /// Whether the user asked to quit.
    quit: bool,
}

impl App {
    /// The state for a live run of `scenario` with `seed`, before its first frame: playing at
    /// speed 1.0, as the live session starts.
    pub fn live(scenario: Scenario, seed: u64) -> App {
        let header = sim::record::Header::new(&scenario, &sim::plan::to_ron(&scenario), seed);
        App::with(scenario, seed, History::new(header), Source::Live)
    }

    /// The state for replaying `history`, paused at its start.
    pub fn replay(scenario: Scenario, history: History) -> App {
        let seed = history.header.seed;
        let mut app = App::with(scenario, seed, history, Source::Replay);
        app.playing = false;
        app.follow = false;
        app
    }

    fn with(scenario: Scenario, seed: u64, history: History, source: Source) -> App {
        App {
            scenario,
            seed,
            history,
            session_faults: Vec::new(),
            pending: Vec::new(),
            source,
            cursor: 0,
            follow: true,
            playing: true,
            speed: 1.0,
            owed_ms: 0.0,
            tab: Tab::Overview,
            show_help: false,
            show_routine: false,
            kind_filter: KindFilter::All,
            text_filter: String::new(),
            editing_filter: false,
            scroll: 0,
            selected_node: None,
            marked: BTreeSet::new(),
            selected_partition: 0,
            show_batches: false,
            presenter: false,
            waiting: None,
            stopped_at: BTreeSet::new(),
            message: None,
            colour: true,
            quit: false,
        }
    }

    /// Whether the user asked to quit.
    pub fn should_quit(&self) -> bool {
        self.quit
    }

    /// Turns presenter mode on or off.
    pub fn set_presenter(&mut self, on: bool) {
        self.presenter = on;
    }

    /// Turns colours on or off (off for `NO_COLOR`).
    pub fn set_colour(&mut self, on: bool) {
        self.colour = on;
    }

    /// Shows a message on the status line until the next key.
    pub fn notify(&mut self, message: impl Into<String>) {
        self.message = Some(message.into());
    }

    /// The run so far.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// The keyframe on screen, if any frame has arrived.
    pub fn keyframe(&self) -> Option<&Keyframe> {
        self.history.keyframes.get(self.cursor)
    }

    /// The view on screen.
    pub fn view(&self) -> Option<&ClusterView> {
        self.keyframe().map(|k| &k.view)
    }

    /// The simulated time on screen, in milliseconds.
    pub fn time_ms(&self) -> u64 {
        self.keyframe().map_or(0, |k| k.time_ms)
    }

    /// The records that happened up to the moment on screen.
    pub fn records_now(&self) -> &[TraceRecord] {
        let end = self.keyframe().map_or(0, |k| k.records as usize).min(self.history.records.len());
        &self.history.records[..end]
    }

    /// The index of the newest keyframe.
    fn head(&self) -> usize {
        self.history.keyframes.len().saturating_sub(1)
    }

    /// Whether the run has reached its end (the newest keyframe is the last).
    pub fn finished(&self) -> bool {
        self.history.outcome.is_some()
            || self.history.keyframes.last().is_some_and(|k| k.time_ms >= self.history.header.duration_ms)
    }

    /// Whether the cursor is at the newest keyframe.
    pub fn at_head(&self) -> bool {
        self.cursor >= self.head()
    }

    /// Whether the running simulation should advance now: only while the cursor follows it
    /// and nothing waits for the learner.
    pub fn simulation_should_play(&self) -> bool {
        self.source == Source::Live && self.playing && self.follow && self.waiting.is_none()
    }

    /// The faults of the session's timeline, as a scenario: the loaded scenario with the
    /// learner's faults appended (stable-sorted by time, as the world orders them).
    pub fn session_scenario(&self) -> Scenario {
        let mut scenario = self.scenario.clone();
        scenario.faults.extend(self.session_faults.iter().cloned());
        scenario.faults.sort_by_key(|f| f.at());
        scenario
    }

    /// Takes in a frame from the simulation: its records and keyframe, the faults it applied
    /// and, at the end, the outcome. A following cursor moves to it, stopping at a prompt (and
    /// in presenter mode at a chapter) it passes.
    pub fn apply_frame(&mut self, frame: Frame) {
        self.history.push_records(frame.records);
        self.history.push_keyframe(frame.keyframe);
        for fault in frame.injected {
            self.pending.pop();
            self.session_faults.push(fault);
        }
        if let Some(outcome) = frame.outcome {
            self.history.set_outcome(outcome);
        }
        if self.follow && self.waiting.is_none() {
            let from = self.cursor;
            self.cursor = self.head();
            self.stop_between(from);
        }
        if self.finished() && self.at_head() {
            self.playing = false;
        }
    }

    /// Moves time on by `wall_ms` of wall-clock time: plays through the history when the
    /// cursor is behind (a replay, or a live run scrubbed back). Live frames move a following
    /// cursor by themselves.
    pub fn tick(&mut self, wall_ms: f64) {
        if !self.playing || self.waiting.is_some() || self.follow {
            self.owed_ms = 0.0;
            return;
        }
        self.owed_ms += wall_ms * self.speed;
        let interval = KEYFRAME_INTERVAL_MS as f64;
        while self.owed_ms >= interval && self.playing && self.waiting.is_none() {
            self.owed_ms -= interval;
            if self.at_head() {
                self.reach_head();
                break;
            }
            let from = self.cursor;
            self.cursor += 1;
            self.stop_between(from);
        }
        if self.at_head() && self.waiting.is_none() {
            self.reach_head();
        }
    }

    /// The cursor reached the newest keyframe while playing: a live run is followed again; a
    /// replay stops at its end.
    fn reach_head(&mut self) {
        match self.source {
            Source::Live if !self.finished() => self.follow = true,
            _ => self.playing = false,
        }
        self.owed_ms = 0.0;
    }

    /// Stops at the first prompt (or, presenting, chapter) recorded after keyframe `from` up to
    /// the cursor that has not been stopped at yet: the cursor goes to the keyframe that shows
    /// it and the lab waits for space.
    fn stop_between(&mut self, from: usize) {
        if self.cursor <= from {
            return;
        }
        let start = self.history.keyframes[from].records as usize;
        let end = (self.history.keyframes[self.cursor].records as usize).min(self.history.records.len());
        let stop = self.history.records[start..end].iter().find(|r| {
            !self.stopped_at.contains(&r.seq)
                && match r.body {
                    TraceBody::Prompt(_) => true,
                    TraceBody::Chapter(_) => self.presenter,
                    _ => false,
                }
        });
        if let Some(record) = stop {
            let seq = record.seq;
            self.stopped_at.insert(seq);
            self.cursor = self.keyframe_showing(seq);
            self.waiting = Some(seq);
            self.follow = false;
        }
    }

    /// The first keyframe that shows record `seq`.
    fn keyframe_showing(&self, seq: u64) -> usize {
        self.history.keyframes.partition_point(|k| k.records <= seq).min(self.head())
    }

    /// Applies a key press and returns what the lab's loop must do.
    pub fn update(&mut self, input: Input) -> Vec<Effect> {
        self.message = None;
        if self.editing_filter {
            return self.edit_filter(input);
        }
        if self.show_help {
            // Any key closes the help; `q` still quits.
            self.show_help = false;
            if !matches!(input, Input::Char('q') | Input::Interrupt) {
                return Vec::new();
            }
        }
        if self.presenter {
            match input {
                Input::PageDown | Input::Right | Input::Char('.') => return self.next_chapter(),
                Input::PageUp | Input::Left | Input::Char(',') => return self.previous_chapter(),
                _ => {}
            }
        }
        match input {
            Input::Char('q') | Input::Interrupt => {
                self.quit = true;
                vec![Effect::Control(Control::Quit)]
            }
            Input::Space | Input::Enter if self.waiting.is_some() => self.continue_after_wait(),
            Input::Space => self.toggle_play(),
            Input::Char('.') | Input::Right | Input::Char('l') => self.step_forward(),
            Input::Char(',') | Input::Left | Input::Char('h') => {
                self.step_back();
                Vec::new()
            }
            Input::Char('>') => self.jump_marker(true),
            Input::Char('<') => self.jump_marker(false),
            Input::Char('}') => self.jump_chapter(true),
            Input::Char('{') => self.jump_chapter(false),
            Input::Char(']') => self.set_speed(self.speed * 2.0),
            Input::Char('[') => self.set_speed(self.speed / 2.0),
            Input::Char('?') => {
                self.show_help = true;
                Vec::new()
            }
            Input::Esc => {
                self.waiting = None;
                Vec::new()
            }
            Input::Tab => {
                self.switch_tab(Tab::ALL[(self.tab.index() + 1) % Tab::ALL.len()]);
                Vec::new()
            }
            Input::BackTab => {
                self.switch_tab(Tab::ALL[(self.tab.index() + Tab::ALL.len() - 1) % Tab::ALL.len()]);
                Vec::new()
            }
            Input::Char(c @ '1'..='8') => {
                self.switch_tab(Tab::ALL[c as usize - '1' as usize]);
                Vec::new()
            }
            Input::Char('v') => {
                self.show_routine = !self.show_routine;
                self.scroll = 0;
                Vec::new()
            }
            Input::Char('f') => {
                let next = KindFilter::ALL.iter().position(|k| *k == self.kind_filter).map_or(0, |i| i + 1);
                self.kind_filter = KindFilter::ALL[next % KindFilter::ALL.len()];
                self.scroll = 0;
                Vec::new()
            }
            Input::Char('/') => {
                self.editing_filter = true;
                Vec::new()
            }
            Input::Char('b') => {
                self.show_batches = !self.show_batches;
                Vec::new()
            }
            Input::Char('P') | Input::F5 => {
                self.presenter = !self.presenter;
                self.notify(if self.presenter {
                    "presenter mode: PageDown/→ next chapter, PageUp/← previous; P leaves"
                } else {
                    "presenter mode off"
                });
                Vec::new()
            }
            Input::Up | Input::Char('k') => {
                self.move_selection(-1);
                Vec::new()
            }
            Input::Down | Input::Char('j') => {
                self.move_selection(1);
                Vec::new()
            }
            Input::PageUp => {
                self.scroll = self.scroll.saturating_add(PAGE_LINES);
                Vec::new()
            }
            Input::PageDown => {
                self.scroll = self.scroll.saturating_sub(PAGE_LINES);
                Vec::new()
            }
            Input::Home | Input::Char('g') => {
                self.scroll = usize::MAX / 2;
                Vec::new()
            }
            Input::End | Input::Char('G') => {
                self.scroll = 0;
                Vec::new()
            }
            Input::Char('m') => {
                if let Some(id) = self.selected_node {
                    if !self.marked.remove(&id) {
                        self.marked.insert(id);
                    }
                }
                Vec::new()
            }
            Input::Char('x') => self.act(Action::Crash),
            Input::Char('r') => self.act(Action::Restart),
            Input::Char('p') => self.act(Action::PauseOrResume),
            Input::Char('i') => self.act(Action::Isolate),
            Input::Char('n') => self.act(Action::Split),
            Input::Char('H') => self.act(Action::Heal),
            Input::Char('w') => {
                vec![Effect::SaveScenario { text: sim::plan::to_ron(&self.session_scenario()) }]
            }
            Input::Char('W') => vec![Effect::WriteRecording],
            _ => Vec::new(),
        }
    }

    /// Keys typed while the text filter is being edited: characters add, Backspace removes,
    /// Enter keeps the filter, Esc clears it.
    fn edit_filter(&mut self, input: Input) -> Vec<Effect> {
        match input {
            Input::Char(c) => self.text_filter.push(c),
            Input::Space => self.text_filter.push(' '),
            Input::Backspace => {
                self.text_filter.pop();
            }
            Input::Enter => self.editing_filter = false,
            Input::Esc => {
                self.text_filter.clear();
                self.editing_filter = false;
            }
            Input::Interrupt => {
                self.quit = true;
                return vec![Effect::Control(Control::Quit)];
            }
            _ => {}
        }
        self.scroll = 0;
        Vec::new()
    }

    fn switch_tab(&mut self, tab: Tab) {
        self.tab = tab;
        self.scroll = 0;
    }

    /// Space: pause, or play (from the cursor: through the history, then live).
    fn toggle_play(&mut self) -> Vec<Effect> {
        if self.playing {
            self.playing = false;
            return Vec::new();
        }
        if self.finished() && self.at_head() {
            self.notify("the run has ended: ← or < go back, q quits");
            return Vec::new();
        }
        self.playing = true;
        self.owed_ms = 0.0;
        Vec::new()
    }

    /// Space while waiting: the prompt is done, and playing goes on.
    fn continue_after_wait(&mut self) -> Vec<Effect> {
        self.waiting = None;
        self.playing = true;
        self.owed_ms = 0.0;
        // Anything recorded after the prompt is played through before following again.
        if self.at_head() {
            self.reach_head();
        }
        Vec::new()
    }

    /// One step forward: the next keyframe, or at the newest one of a live run, one more step
    /// of the simulation.
    fn step_forward(&mut self) -> Vec<Effect> {
        self.playing = false;
        self.waiting = None;
        if !self.at_head() {
            self.cursor += 1;
            self.follow = false;
            return Vec::new();
        }
        if self.source == Source::Live && !self.finished() {
            self.follow = true;
            return vec![Effect::Control(Control::Step)];
        }
        Vec::new()
    }

    /// One step back in the history.
    fn step_back(&mut self) {
        self.playing = false;
        self.waiting = None;
        self.follow = false;
        self.cursor = self.cursor.saturating_sub(1);
    }

    /// Moves the cursor to the keyframe showing the next (or previous) timeline mark.
    fn jump_marker(&mut self, forward: bool) -> Vec<Effect> {
        let target = self.marker_target(forward, |_| true);
        self.jump_to(target, "no more marks that way");
        Vec::new()
    }

    /// Moves the cursor to the next (or previous) chapter.
    fn jump_chapter(&mut self, forward: bool) -> Vec<Effect> {
        let target = self.marker_target(forward, |kind| kind == MarkerKind::Chapter);
        self.jump_to(target, "no more chapters that way");
        Vec::new()
    }

    fn jump_to(&mut self, target: Option<usize>, otherwise: &str) {
        match target {
            Some(index) => {
                self.cursor = index;
                self.follow = false;
                self.playing = false;
                self.waiting = None;
            }
            None => self.notify(otherwise),
        }
    }

    /// The keyframe showing the nearest mark after (or before) the cursor that `wanted`
    /// accepts.
    fn marker_target(&self, forward: bool, wanted: impl Fn(MarkerKind) -> bool) -> Option<usize> {
        let shown = self.keyframe().map_or(0, |k| k.records);
        let index_of = |m: &sim::record::Marker| match m.seq {
            Some(seq) => self.keyframe_showing(seq),
            None => self.history.keyframe_at(m.time_ms),
        };
        let marks = self.history.markers.iter().filter(|m| wanted(m.kind));
        if forward {
            marks.filter(|m| m.seq.map_or(m.time_ms > self.time_ms(), |s| s >= shown)).map(index_of).min()
        } else {
            marks.map(index_of).filter(|i| *i < self.cursor).max()
        }
    }

    /// Presenter: play on to the next chapter (where playback stops again).
    fn next_chapter(&mut self) -> Vec<Effect> {
        if self.waiting.is_some() {
            return self.continue_after_wait();
        }
        if self.finished() && self.at_head() {
            self.notify("the last chapter has ended");
            return Vec::new();
        }
        self.playing = true;
        self.owed_ms = 0.0;
        Vec::new()
    }

    /// Presenter: back to the start of the current chapter, or the one before when already
    /// there.
    fn previous_chapter(&mut self) -> Vec<Effect> {
        let target = self.marker_target(false, |kind| kind == MarkerKind::Chapter).unwrap_or(0);
        self.cursor = target;
        self.follow = false;
        self.playing = false;
        // Stopping at the chapter again when playing on is what a presenter expects.
        if let Some(seq) = self
            .history
            .markers
            .iter()
            .filter(|m| m.kind == MarkerKind::Chapter)
            .filter_map(|m| m.seq)
            .find(|seq| self.keyframe_showing(*seq) == target)
        {
            self.waiting = Some(seq);
        } else {
            self.waiting = None;
        }
        Vec::new()
    }

    fn set_speed(&mut self, speed: f64) -> Vec<Effect> {
        let speed = speed.clamp(MIN_SPEED, MAX_SPEED);
        if speed == self.speed {
            return Vec::new();
        }
        self.speed = speed;
        vec![Effect::Control(Control::SetSpeed(speed))]
    }

    /// The nodes in the order the Overview lists them.
    pub fn nodes(&self) -> &[NodeView] {
        self.view().map_or(&[], |v| v.nodes.as_slice())
    }

    /// j/k: the selected node (Overview, Quorum), partition (Partitions, Log) or the scroll
    /// position (Events, CLI, Groups).
    fn move_selection(&mut self, delta: i64) {
        match self.tab {
            Tab::Overview | Tab::Quorum => {
                let ids: Vec<i32> = self.nodes().iter().map(|n| n.id).collect();
                if ids.is_empty() {
                    return;
                }
                let current = self.selected_node.and_then(|id| ids.iter().position(|i| *i == id));
                let next = match current {
                    None => 0,
                    Some(i) => (i as i64 + delta).clamp(0, ids.len() as i64 - 1) as usize,
                };
                self.selected_node = Some(ids[next]);
            }
            Tab::Partitions | Tab::Log => {
                let count = self.view().map_or(0, |v| v.logs.len());
                if count > 0 {
                    self.selected_partition =
                        (self.selected_partition as i64 + delta).clamp(0, count as i64 - 1) as usize;
                }
            }
            Tab::Events | Tab::Cli | Tab::Groups | Tab::Charts => {
                // Up (-1) scrolls back, towards older lines.
                self.scroll = if delta < 0 { self.scroll.saturating_add(1) } else { self.scroll.saturating_sub(1) };
            }
        }
    }

    /// The selected node, or the first when none is selected yet.
    pub fn selected(&self) -> Option<&NodeView> {
        let nodes = self.nodes();
        self.selected_node.and_then(|id| nodes.iter().find(|n| n.id == id)).or(nodes.first())
    }

    /// The fault target naming `node`.
    fn target_of(node: &NodeView) -> Target {
        match node.kind.as_str() {
            "producer" | "consumer" => Target::Client(node.name.clone()),
            _ => Target::Node(node.id),
        }
    }

    /// The fault an action means for the current selection, or why there is none.
    fn fault_for(&self, action: Action) -> Result<Fault, String> {
        if action == Action::Heal {
            return Ok(Fault::Heal);
        }
        let node = self.selected().ok_or("no node to act on yet")?;
        let target = App::target_of(node);
        Ok(match action {
            Action::Crash if node.state == "down" => return Err(format!("{} is already down", node.name)),
            Action::Crash => Fault::Crash(target),
            Action::Restart if node.state != "down" => {
                return Err(format!("{} is running; crash it first (x)", node.name));
            }
            Action::Restart => Fault::Restart(target),
            Action::PauseOrResume if node.state == "paused" => Fault::Resume(target),
            Action::PauseOrResume if node.state == "down" => {
                return Err(format!("{} is down; there is nothing to pause", node.name));
            }
            Action::PauseOrResume => Fault::Pause(target),
            Action::Isolate => Fault::Isolate(target),
            Action::Split => {
                let side: Vec<i32> =
                    if self.marked.is_empty() { vec![node.id] } else { self.marked.iter().copied().collect() };
                let nodes = self.nodes();
                let (a, b): (Vec<&NodeView>, Vec<&NodeView>) = nodes.iter().partition(|n| side.contains(&n.id));
                if a.is_empty() || b.is_empty() {
                    return Err("a split needs nodes on both sides: mark some (m), not all".to_string());
                }
                Fault::Partition(
                    a.into_iter().map(App::target_of).collect(),
                    b.into_iter().map(App::target_of).collect(),
                )
            }
            Action::Heal => unreachable!("handled above"),
        })
    }

    /// Applies a fault action: to the running world when the cursor is at its present, else by
    /// forking the run at the moment on screen.
    fn act(&mut self, action: Action) -> Vec<Effect> {
        let fault = match self.fault_for(action) {
            Ok(fault) => fault,
            Err(why) => {
                self.notify(why);
                return Vec::new();
            }
        };
        let Some((time_ms, records)) = self.keyframe().map(|k| (k.time_ms, k.records)) else {
            self.notify("wait for the first frame");
            return Vec::new();
        };
        if time_ms >= self.history.header.duration_ms {
            self.notify("the run has ended; go back in time (← or <) to act there");
            return Vec::new();
        }
        let words = describe_fault(&fault);
        if action == Action::Split {
            self.marked.clear();
        }
        if self.source == Source::Live && self.at_head() {
            self.pending.push(words.clone());
            self.follow = true;
            self.notify(format!("{words}: applied at the next step"));
            return vec![Effect::Control(Control::Inject(fault))];
        }
        // Acting in the past: the future is discarded, and a fork re-executes to this moment.
        // The keyframe on screen already holds the work of its own boundary (narration and
        // faults due then), so the new fault applies at the next boundary, one quantum later,
        // exactly as a fault injected into a paused live run does (`World::inject`).
        let at_ms = time_ms + sim::world::QUANTUM.as_millis() as u64;
        self.history.truncate_after(self.cursor);
        self.session_faults.retain(|f| f.at().0 <= time_ms);
        self.session_faults.push(Timed::At(Span::from_millis(at_ms), fault));
        self.stopped_at.retain(|seq| *seq < records);
        self.pending.clear();
        self.source = Source::Live;
        self.follow = true;
        self.waiting = None;
        self.notify(format!("{words} at {}: the run forks here", crate::views::format_seconds(time_ms)));
        vec![Effect::Fork {
            scenario: Box::new(self.session_scenario()),
            seed: self.seed,
            at: ForkPoint { time_ms, records },
            playing: self.playing,
        }]
    }
}

/// A fault in a few words, for the status line.
pub fn describe_fault(fault: &Fault) -> String {
    let target = |t: &Target| match t {
        Target::Node(id) | Target::Broker(id) => format!("node {id}"),
        Target::Client(name) => name.clone(),
        other => format!("{other:?}"),
    };
    let side = |ts: &[Target]| ts.iter().map(target).collect::<Vec<_>>().join(", ");
    match fault {
        Fault::Crash(t) => format!("crash {}", target(t)),
        Fault::Restart(t) => format!("restart {}", target(t)),
        Fault::Pause(t) => format!("pause {}", target(t)),
        Fault::Resume(t) => format!("resume {}", target(t)),
        Fault::Isolate(t) => format!("isolate {}", target(t)),
        Fault::Partition(a, b) => format!("split [{}] | [{}]", side(a), side(b)),
        Fault::Heal => "heal".to_string(),
        other => format!("{other:?}"),
    }
}

/// The feed lines the Events view and the Overview show: records up to the cursor that pass
/// the filters, newest last, at most `limit` of them after skipping `scroll` from the newest.
/// Returns the lines and how many newer ones were skipped.
pub fn feed(app: &App, limit: usize, scroll: usize) -> (Vec<&TraceRecord>, usize) {
    let needle = app.text_filter.to_lowercase();
    let mut matched: Vec<&TraceRecord> = Vec::new();
    // Scan from the newest back, stopping once the page is full: a long run costs no more
    // than a short one.
    let wanted = limit.saturating_add(scroll);
    // A filter that matches little would otherwise put every record of a long run into words
    // on every frame; looking at the newest FEED_SCAN_LIMIT records keeps a frame fast.
    for record in app.records_now().iter().rev().take(FEED_SCAN_LIMIT) {
        if matched.len() >= wanted {
            break;
        }
        if !app.show_routine && record.is_routine() {
            continue;
        }
        if !app.kind_filter.accepts(record) {
            continue;
        }
        if !needle.is_empty() && !record.describe().to_lowercase().contains(&needle) {
            continue;
        }
        matched.push(record);
    }
    let skipped = scroll.min(matched.len().saturating_sub(limit.min(matched.len())));
    let page: Vec<&TraceRecord> = matched.into_iter().skip(skipped).take(limit).collect();
    (page.into_iter().rev().collect(), skipped)
}
