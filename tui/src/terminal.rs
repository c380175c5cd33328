//! Terminal setup and restore: raw mode and the alternate screen on entry, and a guard and a
//! panic hook that put the terminal back however the lab ends.
//!
//! Restoring is idempotent: the panic hook and the guard's `Drop` may both run during one
//! panic, and only the first one writes anything.

use std::io::{self, Stdout};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;

use crossterm::cursor::{Hide, Show};
use crossterm::execute;
use crossterm::terminal::{disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;

/// The terminal the lab draws on.
pub type Tui = Terminal<CrosstermBackend<Stdout>>;

/// Whether the terminal is in raw mode on the alternate screen, and so needs restoring.
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// Whether any thread has panicked since the hook was installed.
static PANICKED: AtomicBool = AtomicBool::new(false);
/// Guards the one-time installation of the panic hook.
static HOOK: Once = Once::new();

/// Owns the terminal while the lab runs and restores it when dropped, on every exit path:
/// a normal return, an early `?` return, or unwinding from a panic.
pub struct TerminalGuard {
    terminal: Tui,
}

impl TerminalGuard {
    /// Installs the panic hook, then switches to raw mode and the alternate screen and hides
    /// the cursor. If any step fails, whatever was already changed is undone.
    pub fn enter() -> io::Result<TerminalGuard> {
        install_panic_hook();
        ACTIVE.store(true, Ordering::SeqCst);
        let entered = enable_raw_mode()
            .and_then(|()| execute!(io::stdout(), EnterAlternateScreen, Hide))
            .and_then(|()| Terminal::new(CrosstermBackend::new(io::stdout())));
        match entered {
            Ok(terminal) => Ok(TerminalGuard { terminal }),
            Err(error) => {
                let _ = restore();
                Err(error)
            }
        }
    }

    /// The terminal to draw on.
    pub fn terminal(&mut self) -> &mut Tui {
        &mut self.terminal
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        // Nothing useful can be done with an error while dropping, and the process is
        // usually about to exit anyway.
        let _ = restore();
    }
}

/// Leaves the alternate screen, shows the cursor and disables raw mode. Does nothing when the
/// terminal is not active, so calling it twice is harmless.
pub fn restore() -> io::Result<()> {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return Ok(());
    }
    // Every step is attempted even if an earlier one fails, and the first error is returned.
    let screen = execute!(io::stdout(), LeaveAlternateScreen, Show);
    let raw = disable_raw_mode();
    screen.and(raw)
}

/// Installs, once per process, a panic hook that restores the terminal and then runs the
/// previous hook, so the panic message prints on the normal screen in cooked mode.
pub fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICKED.store(true, Ordering::SeqCst);
            let _ = restore();
            previous(info);
        }));
    });
}

/// Whether any thread (the simulation's included) has panicked since the hook was installed.
/// The lab checks this to stop drawing on a terminal that the hook has already restored.
pub fn panicked() -> bool {
    PANICKED.load(Ordering::SeqCst)
}
