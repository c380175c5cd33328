//! Helpers the lab's tests share: rendering an app on a test terminal.

use ratatui::backend::TestBackend;
use ratatui::Terminal;

use crate::app::App;

/// Renders `app` on a `width` x `height` test terminal and returns the screen as text.
pub fn screen(app: &App, width: u16, height: u16) -> String {
    crate::views::buffer_text(&buffer(app, width, height))
}

/// Renders `app` on a test terminal and returns the buffer (text and styles).
pub fn buffer(app: &App, width: u16, height: u16) -> ratatui::buffer::Buffer {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| crate::screens::render(app, frame)).unwrap();
    terminal.backend().buffer().clone()
}
