//! The interactive lab: a scenario playing live in the terminal, or a recording replayed.
//!
//! The loop polls the keyboard for about one frame time, turns key presses into effects
//! through [`App::update`], carries them out (controls for the simulation, forks, files),
//! folds the simulation's new frames into the app with [`App::apply_frame`], moves playback on
//! with [`App::tick`], and redraws. The simulation runs on its own thread inside
//! [`LiveSession`]; the lab only sends it controls.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use crossterm::event::{self, Event};
use sim::live::{Control, LiveSession};
use sim::record::History;
use sim::scenario::Scenario;

use crate::app::{App, Effect, Input};
use crate::terminal::{self, TerminalGuard, Tui};

/// How long the loop waits for a key before it redraws: about 30 frames per second.
const FRAME_TIME: Duration = Duration::from_millis(33);

/// How the lab opens.
#[derive(Clone, Debug, Default)]
pub struct LabOptions {
    /// Start in presenter mode.
    pub presenter: bool,
    /// Start paused.
    pub paused: bool,
}

/// Whether colours are wanted: `NO_COLOR` set to anything non-empty turns them off
/// (<https://no-color.org>).
pub fn colour_wanted() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Opens `scenario` with `seed` in the terminal and runs until the user quits. The terminal is
/// restored on every exit path, including a panic on any thread.
pub fn run_lab(scenario: Scenario, seed: u64, options: LabOptions) -> anyhow::Result<()> {
    let mut app = App::live(scenario.clone(), seed);
    app.set_presenter(options.presenter);
    app.set_colour(colour_wanted());
    let playing = !options.paused && !options.presenter;
    if !playing {
        app.update(Input::Space);
    }
    let session = LiveSession::start(scenario, seed, playing);
    run(app, Some(session))
}

/// Opens a recording in the terminal without simulating; acting on it forks a live run.
pub fn replay_lab(scenario: Scenario, history: History, options: LabOptions) -> anyhow::Result<()> {
    let mut app = App::replay(scenario, history);
    app.set_presenter(options.presenter);
    app.set_colour(colour_wanted());
    run(app, None)
}

fn run(mut app: App, session: Option<LiveSession>) -> anyhow::Result<()> {
    let mut guard = TerminalGuard::enter().context("cannot set up the terminal")?;
    let mut lab = Lab { session, sim_playing: None };
    let result = lab.run_loop(guard.terminal(), &mut app);
    drop(lab);
    drop(guard);
    result
}

struct Lab {
    session: Option<LiveSession>,
    /// Whether the simulation was last told to play (`None` before the first control).
    sim_playing: Option<bool>,
}

impl Lab {
    /// Draws, reads keys and applies frames until the user quits or something fails.
    fn run_loop(&mut self, terminal: &mut Tui, app: &mut App) -> anyhow::Result<()> {
        let mut last_tick = Instant::now();
        loop {
            if let Some(session) = &self.session {
                for frame in session.try_frames() {
                    app.apply_frame(frame);
                }
            }
            let now = Instant::now();
            app.tick((now - last_tick).as_secs_f64() * 1000.0);
            last_tick = now;
            self.sync(app);
            if terminal::panicked() {
                bail!("a thread panicked; the lab stopped (the panic message is printed above)");
            }
            terminal.draw(|frame| crate::screens::render(app, frame)).context("cannot draw")?;

            // Wait up to one frame time for input, then take every event already queued so a
            // burst of key presses is handled before the next draw.
            let mut timeout = FRAME_TIME;
            while event::poll(timeout).context("cannot read the terminal")? {
                timeout = Duration::ZERO;
                let Event::Key(key) = event::read().context("cannot read the terminal")? else {
                    // Resizes need no handling: the next draw fits the new size.
                    continue;
                };
                let Some(input) = Input::from_key_event(key) else {
                    continue;
                };
                for effect in app.update(input) {
                    self.carry_out(effect, app);
                }
                if app.should_quit() {
                    return Ok(());
                }
            }
        }
    }

    /// Tells the simulation to play or pause when the app's wish changed.
    fn sync(&mut self, app: &App) {
        let Some(session) = &self.session else { return };
        let wanted = app.simulation_should_play();
        if self.sim_playing != Some(wanted) {
            session.control(if wanted { Control::Resume } else { Control::Pause });
            self.sim_playing = Some(wanted);
        }
    }

    fn carry_out(&mut self, effect: Effect, app: &mut App) {
        match effect {
            Effect::Control(control) => {
                if let Some(session) = &self.session {
                    if matches!(control, Control::Step) {
                        session.control(Control::Pause);
                        self.sim_playing = Some(false);
                    }
                    session.control(control);
                }
            }
            Effect::Fork { scenario, seed, at, playing } => {
                // The old run stops (its thread joins) before the new one starts.
                self.session = None;
                self.sim_playing = None;
                self.session = Some(LiveSession::fork(*scenario, seed, playing, at));
            }
            Effect::SaveScenario { text } => {
                let message = match save_session(app, &text) {
                    Ok(path) => format!("saved the session as {}", path.display()),
                    Err(e) => format!("could not save: {e:#}"),
                };
                app.notify(message);
            }
            Effect::WriteRecording => {
                let message = match write_recording(app) {
                    Ok(path) => format!("recorded to {}", path.display()),
                    Err(e) => format!("could not record: {e:#}"),
                };
                app.notify(message);
            }
        }
    }
}

/// The stem for files a session writes: the scenario file's name without `.ron`.
fn stem_of(app: &App) -> String {
    let origin = &app.history().header.scenario_origin;
    let path = origin.split(" (").next().unwrap_or(origin);
    Path::new(path)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "session".to_string())
}

/// Writes the session's scenario (the loaded one plus the learner's faults) as a new file in
/// the current directory: `<stem>-session-<n>.ron`, never overwriting a file.
pub fn save_session(app: &App, text: &str) -> anyhow::Result<PathBuf> {
    let path = sim::record::free_path(Path::new("."), &format!("{}-session", stem_of(app)), "ron");
    let header = format!(
        "// Saved from a kafkalab session: the scenario with the faults applied in the lab.\n\
         // Replay it exactly with: kafkalab run {} --seed {}\n",
        path.display(),
        app.history().header.seed
    );
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .with_context(|| format!("{}", path.display()))?;
    std::io::Write::write_all(&mut file, format!("{header}{text}").as_bytes())
        .with_context(|| format!("{}", path.display()))?;
    Ok(path)
}

/// Writes the session so far as a new recording in the current directory:
/// `<stem>-<n>.klrec`, never overwriting a file.
pub fn write_recording(app: &App) -> anyhow::Result<PathBuf> {
    let path = sim::record::free_path(Path::new("."), &stem_of(app), sim::record::EXTENSION);
    let mut history = app.history().clone();
    let scenario = app.session_scenario();
    history.header = sim::record::Header::new(&scenario, &sim::plan::to_ron(&scenario), app.history().header.seed);
    history.header.scenario_origin = app.history().header.scenario_origin.clone();
    history.write(&path)?;
    Ok(path)
}
