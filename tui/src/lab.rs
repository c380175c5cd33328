//! The interactive lab: a scenario playing live in the terminal.
//!
//! The loop polls the keyboard for about one frame time, turns key presses into controls
//! through [`App::update`], folds the simulation's new frames into the app with
//! [`App::apply_frame`], and redraws. The simulation runs on its own thread inside
//! [`LiveSession`]; the lab only sends it controls.

use std::time::Duration;

use anyhow::{bail, Context};
use crossterm::event::{self, Event};
use sim::live::{Control, LiveSession};
use sim::scenario::Scenario;

use crate::app::{App, Input};
use crate::terminal::{self, TerminalGuard, Tui};

/// How long the loop waits for a key before it redraws: about 30 frames per second.
const FRAME_TIME: Duration = Duration::from_millis(33);

/// Opens `scenario` with `seed` in the terminal and runs until the user quits. The terminal is
/// restored on every exit path, including a panic on any thread.
pub fn run_lab(scenario: Scenario, seed: u64) -> anyhow::Result<()> {
    let mut app = App::new(scenario.name.clone(), seed, scenario.duration.0);
    let mut guard = TerminalGuard::enter().context("cannot set up the terminal")?;
    let session = LiveSession::start(scenario, seed);
    let result = run_loop(guard.terminal(), &mut app, &session);
    // Stop the simulation thread whichever way the loop ended; after `q` this is the second
    // Quit, which the session ignores like any control after it stops.
    if !app.should_quit() {
        session.control(Control::Quit);
    }
    drop(guard);
    result
}

/// Draws, reads keys and applies frames until the user quits or something fails.
fn run_loop(terminal: &mut Tui, app: &mut App, session: &LiveSession) -> anyhow::Result<()> {
    loop {
        for frame in session.try_frames() {
            app.apply_frame(frame);
        }
        if terminal::panicked() {
            bail!("a thread panicked; the lab stopped (the panic message is printed above)");
        }
        terminal.draw(|frame| app.render(frame)).context("cannot draw")?;

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
            if let Some(control) = app.update(input) {
                if matches!(control, Control::Step) {
                    // Stepping implies pausing; Pause is harmless if the session is paused.
                    session.control(Control::Pause);
                }
                session.control(control);
            }
            if app.should_quit() {
                return Ok(());
            }
        }
    }
}
