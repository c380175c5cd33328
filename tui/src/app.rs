//! The lab's state, its update function and its render function, in the Elm architecture.
//!
//! [`App`] holds everything the screen shows: the latest [`ClusterView`] published by the
//! simulation, a bounded feed of recent trace records, the latest narration line and the
//! playback state. Key presses arrive as [`Input`] and go through [`App::update`], which changes
//! the state and returns the [`Control`] to send to the simulation, if any. Frames from the
//! simulation go through [`App::apply_frame`]. [`App::render`] draws the state and does no I/O,
//! so the whole screen can be tested with ratatui's `TestBackend` and insta snapshots.
//!
//! The app never changes the simulation itself: it only asks for changes through [`Control`].
//! Colours add emphasis but never carry meaning alone: every state shown in colour is also
//! spelled out in text (`DOWN`, `UR`, `OFFLINE`, `no leader`, the ISR column).

use std::collections::VecDeque;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::buffer::{Buffer, CellWidth};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Clear, LineGauge, Paragraph, Row, Table, Wrap};
use sim::live::{self, Control};
use sim::trace::{TraceBody, TraceRecord};
use sim::view::{
    BrokerView, ClientView, ClusterView, GroupDescription, PartitionDescription, QuorumDescription, TopicDescription,
};

/// How many lines each event feed keeps; older lines are dropped first.
pub const FEED_CAPACITY: usize = 500;
/// The slowest playback speed, in simulated seconds per wall second.
pub const MIN_SPEED: f64 = 0.125;
/// The fastest playback speed, in simulated seconds per wall second.
pub const MAX_SPEED: f64 = 64.0;
/// How many lines Page Up and Page Down move the event feed.
const PAGE_LINES: usize = 10;
/// Width of the left column (brokers and clients).
const LEFT_COLUMN_WIDTH: u16 = 34;

/// A key press the app understands, independent of the terminal library.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// A printable character other than space.
    Char(char),
    /// The space bar.
    Space,
    /// The Escape key.
    Esc,
    /// The right arrow.
    Right,
    /// The up arrow.
    Up,
    /// The down arrow.
    Down,
    /// Page Up.
    PageUp,
    /// Page Down.
    PageDown,
    /// Home.
    Home,
    /// End.
    End,
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
            KeyCode::Esc => Some(Input::Esc),
            KeyCode::Right => Some(Input::Right),
            KeyCode::Up => Some(Input::Up),
            KeyCode::Down => Some(Input::Down),
            KeyCode::PageUp => Some(Input::PageUp),
            KeyCode::PageDown => Some(Input::PageDown),
            KeyCode::Home => Some(Input::Home),
            KeyCode::End => Some(Input::End),
            _ => None,
        }
    }
}

/// What kind of record a feed line came from, which decides its style.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FeedKind {
    /// A notable event from a node.
    Event,
    /// Routine traffic (high watermark moves, sends, polls, commits).
    Routine,
    /// A fault the supervisor applied.
    Fault,
    /// A narration line from the scenario.
    Narration,
}

/// One line of the event feed, already put into words.
#[derive(Clone, Debug, PartialEq, Eq)]
struct FeedLine {
    kind: FeedKind,
    text: String,
}

/// The latest narration line and when it was said.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Narration {
    time_ms: u64,
    text: String,
}

/// The lab's whole state.
#[derive(Debug)]
pub struct App {
    /// The scenario's name, shown in the status bar.
    scenario_name: String,
    /// The run's seed, shown in the status bar so a run can be reproduced.
    seed: u64,
    /// The scenario's duration, used before the first frame arrives.
    duration_ms: u64,
    /// The latest view of the cluster, `None` until the first frame.
    view: Option<ClusterView>,
    /// The last [`FEED_CAPACITY`] records that are not routine.
    notable: VecDeque<FeedLine>,
    /// The last [`FEED_CAPACITY`] records of every kind.
    everything: VecDeque<FeedLine>,
    /// The latest narration line.
    narration: Option<Narration>,
    /// Whether playback is paused.
    paused: bool,
    /// Playback speed, in simulated seconds per wall second.
    speed: f64,
    /// Whether the help popup is open.
    show_help: bool,
    /// Whether the feed shows routine records too.
    show_routine: bool,
    /// How many lines the feed is scrolled back from the newest; 0 follows new lines.
    feed_scroll: usize,
    /// Whether the scenario's duration is reached.
    finished: bool,
    /// Whether the user asked to quit.
    quit: bool,
}

impl App {
    /// Creates the state for a scenario before its first frame: playing at speed 1.0, as the
    /// live session starts.
    pub fn new(scenario_name: impl Into<String>, seed: u64, duration_ms: u64) -> App {
        App {
            scenario_name: scenario_name.into(),
            seed,
            duration_ms,
            view: None,
            notable: VecDeque::new(),
            everything: VecDeque::new(),
            narration: None,
            paused: false,
            speed: 1.0,
            show_help: false,
            show_routine: false,
            feed_scroll: 0,
            finished: false,
            quit: false,
        }
    }

    /// Whether the user asked to quit; the loop exits after sending [`Control::Quit`].
    pub fn should_quit(&self) -> bool {
        self.quit
    }

    /// Applies a key press and returns the control to send to the simulation, if any.
    ///
    /// `.` (or →) returns [`Control::Step`] and marks the app paused, because stepping only
    /// makes sense while paused; the caller makes sure the session is paused too.
    pub fn update(&mut self, input: Input) -> Option<Control> {
        match input {
            Input::Char('q') | Input::Interrupt => {
                self.quit = true;
                Some(Control::Quit)
            }
            Input::Space => {
                self.paused = !self.paused;
                Some(if self.paused { Control::Pause } else { Control::Resume })
            }
            Input::Char('.') | Input::Right => {
                self.paused = true;
                Some(Control::Step)
            }
            Input::Char(']') => self.set_speed(self.speed * 2.0),
            Input::Char('[') => self.set_speed(self.speed / 2.0),
            Input::Char('?') => {
                self.show_help = !self.show_help;
                None
            }
            Input::Esc => {
                self.show_help = false;
                None
            }
            Input::Char('r') => {
                self.show_routine = !self.show_routine;
                self.feed_scroll = 0;
                None
            }
            Input::Up | Input::Char('k') => self.scroll_back(1),
            Input::Down | Input::Char('j') => self.scroll_forward(1),
            Input::PageUp => self.scroll_back(PAGE_LINES),
            Input::PageDown => self.scroll_forward(PAGE_LINES),
            Input::Home | Input::Char('g') => self.scroll_back(usize::MAX),
            Input::End | Input::Char('G') => {
                self.feed_scroll = 0;
                None
            }
            Input::Char(_) => None,
        }
    }

    /// Takes in a frame from the simulation: the new view, the records since the previous
    /// frame, and whether the run is finished.
    pub fn apply_frame(&mut self, frame: live::Frame) {
        for record in &frame.records {
            self.push_record(record);
        }
        self.duration_ms = frame.view.duration_ms;
        self.view = Some(frame.view);
        self.finished = frame.finished;
    }

    /// Draws the whole screen. Pure: reads the state and writes only into `frame`.
    pub fn render(&self, frame: &mut ratatui::Frame) {
        let area = frame.area();
        let feed_height = (area.height / 4).clamp(6, 16);
        let [status, main, narration, feed, footer] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(6),
            Constraint::Length(4),
            Constraint::Length(feed_height),
            Constraint::Length(1),
        ])
        .areas(area);

        self.render_status(frame, status);
        match &self.view {
            Some(view) => render_cluster(frame, main, view),
            None => frame.render_widget(
                Paragraph::new("Waiting for the simulation's first frame...")
                    .block(Block::bordered().title(" Cluster ")),
                main,
            ),
        }
        self.render_narration(frame, narration);
        self.render_feed(frame, feed);
        render_footer(frame, footer);
        if self.show_help {
            render_help(frame, area);
        }
    }

    /// Sets the speed within bounds and returns the control, or `None` at a bound.
    fn set_speed(&mut self, speed: f64) -> Option<Control> {
        let speed = speed.clamp(MIN_SPEED, MAX_SPEED);
        if speed == self.speed {
            return None;
        }
        self.speed = speed;
        Some(Control::SetSpeed(speed))
    }

    /// The feed lines currently on display, oldest first.
    fn feed(&self) -> &VecDeque<FeedLine> {
        if self.show_routine {
            &self.everything
        } else {
            &self.notable
        }
    }

    /// Scrolls the feed towards older lines, stopping at the oldest.
    fn scroll_back(&mut self, lines: usize) -> Option<Control> {
        let oldest = self.feed().len().saturating_sub(1);
        self.feed_scroll = self.feed_scroll.saturating_add(lines).min(oldest);
        None
    }

    /// Scrolls the feed towards newer lines, stopping at the newest.
    fn scroll_forward(&mut self, lines: usize) -> Option<Control> {
        self.feed_scroll = self.feed_scroll.saturating_sub(lines);
        None
    }

    /// Files one record into the feeds and, for narration, into the narration line.
    fn push_record(&mut self, record: &TraceRecord) {
        let kind = match &record.body {
            TraceBody::Event(_) if record.is_routine() => FeedKind::Routine,
            TraceBody::Event(_) => FeedKind::Event,
            // A violation the scenario expects is shown like a fault: something broke on purpose.
            TraceBody::Fault(_) | TraceBody::Violation { .. } => FeedKind::Fault,
            TraceBody::Narration(text) => {
                self.narration = Some(Narration { time_ms: record.time_ms(), text: text.clone() });
                FeedKind::Narration
            }
        };
        let line = FeedLine { kind, text: record.describe() };
        // A feed scrolled back keeps showing the same lines while new ones arrive below.
        let shown_grows = self.show_routine || kind != FeedKind::Routine;
        if kind != FeedKind::Routine {
            push_bounded(&mut self.notable, line.clone());
        }
        push_bounded(&mut self.everything, line);
        if shown_grows && self.feed_scroll > 0 {
            let oldest = self.feed().len().saturating_sub(1);
            self.feed_scroll = (self.feed_scroll + 1).min(oldest);
        }
    }

    /// The top line: scenario, seed, playback state, speed, simulated time and progress.
    fn render_status(&self, frame: &mut ratatui::Frame, area: Rect) {
        let time_ms = self.view.as_ref().map_or(0, |view| view.time_ms);
        let state = if self.finished {
            Span::styled(" ■ FINISHED ", Style::new().fg(Color::Black).bg(Color::Green))
        } else if self.paused {
            Span::styled(" ❚❚ PAUSED ", Style::new().fg(Color::Black).bg(Color::Yellow))
        } else {
            Span::styled(" ▶ PLAYING ", Style::new().fg(Color::Black).bg(Color::Cyan))
        };
        let line = Line::from(vec![
            Span::styled(" kafkalab ", Style::new().add_modifier(Modifier::REVERSED)),
            Span::styled(format!(" {} ", self.scenario_name), Style::new().bold()),
            Span::raw(format!("seed {}  ", self.seed)),
            state,
            Span::raw(format!("  speed {}x  ", self.speed)),
            Span::styled(
                format!("{} / {}  ", format_seconds(time_ms), format_seconds(self.duration_ms)),
                Style::new().bold(),
            ),
        ]);
        let width = u16::try_from(line.width()).unwrap_or(u16::MAX);
        let [text, gauge] = Layout::horizontal([Constraint::Length(width), Constraint::Min(0)]).areas(area);
        frame.render_widget(line, text);
        let ratio =
            if self.duration_ms == 0 { 1.0 } else { (time_ms as f64 / self.duration_ms as f64).clamp(0.0, 1.0) };
        let gauge_widget = LineGauge::default()
            .ratio(ratio)
            .label(format!("{:>3}%", (ratio * 100.0).floor() as u32))
            .filled_style(Style::new().fg(Color::Cyan))
            .unfilled_style(Style::new().fg(Color::DarkGray));
        frame.render_widget(gauge_widget, gauge);
    }

    /// The narration pane: the scenario's latest words to the learner.
    fn render_narration(&self, frame: &mut ratatui::Frame, area: Rect) {
        let block = Block::bordered().title(" Narration ");
        let text = match &self.narration {
            Some(narration) => Line::from(vec![
                Span::styled(format!("{}  ", format_seconds(narration.time_ms)), Style::new().fg(Color::Yellow)),
                Span::styled(narration.text.clone(), Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD)),
            ]),
            None => Line::styled("No narration yet.", Style::new().add_modifier(Modifier::DIM)),
        };
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }).block(block), area);
    }

    /// The event feed, newest at the bottom, scrolled back by `feed_scroll` lines.
    fn render_feed(&self, frame: &mut ratatui::Frame, area: Rect) {
        let feed = self.feed();
        let visible = usize::from(area.height.saturating_sub(2));
        let scroll = self.feed_scroll.min(feed.len().saturating_sub(visible));
        let end = feed.len() - scroll;
        let start = end.saturating_sub(visible);
        let lines: Vec<Line> = feed
            .range(start..end)
            .map(|line| {
                let style = match line.kind {
                    FeedKind::Event => Style::new(),
                    FeedKind::Routine => Style::new().add_modifier(Modifier::DIM),
                    FeedKind::Fault => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
                    FeedKind::Narration => Style::new().fg(Color::Yellow),
                };
                Line::styled(line.text.clone(), style)
            })
            .collect();
        let shown = if self.show_routine { "all records" } else { "routine hidden, r shows" };
        let mut title = format!(" Events · {shown} ");
        if scroll > 0 {
            title.push_str(&format!("· {scroll} newer below, End follows "));
        }
        frame.render_widget(Paragraph::new(lines).block(Block::bordered().title(title)), area);
    }
}

/// Appends a line, dropping the oldest when the feed is full.
fn push_bounded(feed: &mut VecDeque<FeedLine>, line: FeedLine) {
    if feed.len() == FEED_CAPACITY {
        feed.pop_front();
    }
    feed.push_back(line);
}

/// Formats milliseconds as seconds with one decimal: `12.3s`.
fn format_seconds(ms: u64) -> String {
    format!("{}.{}s", ms / 1000, ms % 1000 / 100)
}

/// Joins broker ids with commas, as `kafka-topics.sh` prints them.
fn join_ids(ids: &[i32]) -> String {
    ids.iter().map(|id| id.to_string()).collect::<Vec<_>>().join(",")
}

/// The text marker of a partition's health: `OFFLINE` without a leader, `UR` (under-replicated)
/// when the ISR is smaller than the replica set, and `<min` when the ISR is smaller than
/// `min.insync.replicas`, so `acks=all` writes fail. A healthy partition has no marker.
fn partition_status(topic: &TopicDescription, partition: &PartitionDescription) -> &'static str {
    let isr = partition.isr.len();
    let under_replicated = isr < partition.replicas.len();
    let below_min = (isr as i64) < i64::from(topic.min_insync_replicas);
    match (partition.leader, under_replicated, below_min) {
        (None, _, _) => "OFFLINE",
        (Some(_), true, true) => "UR <min",
        (Some(_), false, true) => "<min",
        (Some(_), true, false) => "UR",
        (Some(_), false, false) => "",
    }
}

/// The four cluster panes: brokers and clients on the left, partitions and groups on the
/// right.
fn render_cluster(frame: &mut ratatui::Frame, area: Rect, view: &ClusterView) {
    // The left column widens for long client ids, but never past half the screen.
    let left_width = clients_width(&view.clients).max(LEFT_COLUMN_WIDTH).min(area.width / 2);
    let [left, right] = Layout::horizontal([Constraint::Length(left_width), Constraint::Fill(1)]).areas(area);

    // Brokers: one row each, plus the header and the borders. The controller quorum below:
    // its summary lines, the header, one row per voter and the borders. The clients pane takes
    // the rest.
    let brokers_height = u16::try_from(view.brokers.len() + 3).unwrap_or(u16::MAX);
    let summary = quorum_summary(view, usize::from(left_width.saturating_sub(2)));
    let quorum_height = u16::try_from(summary.len() + view.quorum.voters.len().max(1) + 3).unwrap_or(u16::MAX);
    let [brokers, quorum, clients] =
        Layout::vertical([Constraint::Length(brokers_height), Constraint::Length(quorum_height), Constraint::Fill(1)])
            .areas(left);
    render_brokers(frame, brokers, &view.brokers);
    render_quorum(frame, quorum, &view.quorum, summary);
    render_clients(frame, clients, &view.clients);

    // Partitions: one row each, plus the header and the borders; the groups pane keeps at
    // least six lines.
    let partition_rows: usize = view.topics.iter().map(|topic| topic.partitions.len()).sum();
    let wanted = u16::try_from(partition_rows.max(1) + 3).unwrap_or(u16::MAX);
    let partitions_height = wanted.min(right.height.saturating_sub(6)).max(3);
    let [partitions, groups] =
        Layout::vertical([Constraint::Length(partitions_height), Constraint::Fill(1)]).areas(right);
    render_partitions(frame, partitions, &view.topics);
    render_groups(frame, groups, &view.groups);
}

/// A bold table header row.
fn header_row<'a>(titles: &[&'a str]) -> Row<'a> {
    Row::new(titles.iter().map(|title| Cell::from(*title)))
        .style(Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED))
}

/// Brokers: up or DOWN, fenced, leader and replica counts.
fn render_brokers(frame: &mut ratatui::Frame, area: Rect, brokers: &[BrokerView]) {
    let rows = brokers.iter().map(|broker| {
        let state = if broker.up {
            Cell::from("up")
        } else {
            Cell::from(Span::styled("DOWN", Style::new().fg(Color::Red).bold()))
        };
        let fenced = if broker.fenced {
            Cell::from(Span::styled("fenced", Style::new().fg(Color::Yellow)))
        } else {
            Cell::from("-")
        };
        Row::new(vec![
            Cell::from(broker.id.to_string()),
            state,
            fenced,
            Cell::from(broker.leader_count.to_string()),
            Cell::from(broker.replica_count.to_string()),
        ])
    });
    let table = Table::new(
        rows,
        [
            Constraint::Length(2),
            Constraint::Length(5),
            Constraint::Length(6),
            Constraint::Length(7),
            Constraint::Length(8),
        ],
    )
    .header(header_row(&["ID", "STATE", "FENCED", "LEADERS", "REPLICAS"]))
    .block(Block::bordered().title(" Brokers "));
    frame.render_widget(table, area);
}

/// The controller quorum's summary, packed into lines of at most `width` columns: how many
/// voters and how many votes make a majority (`Q = floor(N/2)+1`), the leader (`no leader` in
/// red otherwise), its epoch, and the metadata log's committed offset. On a wide pane it is one
/// line, `3 voters, Q = floor(3/2)+1 = 2 · leader 3001 · epoch 2 · committed 118`.
fn quorum_summary(view: &ClusterView, width: usize) -> Vec<Line<'static>> {
    let quorum = &view.quorum;
    let voters = quorum.voters.len();
    let plural = if voters == 1 { "" } else { "s" };
    let mut pieces: Vec<Vec<Span<'static>>> =
        vec![vec![Span::raw(format!("{voters} voter{plural}, Q = floor({voters}/2)+1 = {}", quorum.quorum_size))]];
    match quorum.leader_id {
        Some(leader) if view.controller_up => {
            pieces.push(vec![Span::raw("leader "), Span::styled(leader.to_string(), Style::new().bold())]);
        }
        Some(leader) => pieces.push(vec![
            Span::raw("leader "),
            Span::styled(leader.to_string(), Style::new().bold()),
            Span::styled(" (not active yet)", Style::new().fg(Color::Yellow)),
        ]),
        None => pieces.push(vec![Span::styled("no leader", Style::new().fg(Color::Red).bold())]),
    }
    pieces.push(vec![Span::raw(format!("epoch {}", quorum.leader_epoch))]);
    pieces.push(vec![Span::raw(format!("committed {}", quorum.high_watermark))]);
    pack_pieces(pieces, width, " · ")
}

/// Packs pieces of text into lines no wider than `width`, joining the pieces on a line with
/// `separator`; a piece wider than `width` gets a line of its own.
fn pack_pieces(pieces: Vec<Vec<Span<'static>>>, width: usize, separator: &'static str) -> Vec<Line<'static>> {
    let mut lines: Vec<Line<'static>> = Vec::new();
    for piece in pieces {
        let piece_width: usize = piece.iter().map(Span::width).sum();
        match lines.last_mut() {
            Some(line) if line.width() + separator.chars().count() + piece_width <= width => {
                line.spans.push(Span::raw(separator));
                line.spans.extend(piece);
            }
            _ => lines.push(Line::from(piece)),
        }
    }
    lines
}

/// The controller quorum: the summary lines, then one row per voter with its role (`DOWN` in
/// red when its process is not running), epoch, metadata log end offset and lag behind the
/// leader. The leader's row is bold.
fn render_quorum(frame: &mut ratatui::Frame, area: Rect, quorum: &QuorumDescription, summary: Vec<Line<'static>>) {
    let block = Block::bordered().title(" Controller quorum ");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let summary_height = u16::try_from(summary.len()).unwrap_or(u16::MAX);
    let [summary_area, table_area] =
        Layout::vertical([Constraint::Length(summary_height), Constraint::Fill(1)]).areas(inner);
    frame.render_widget(Paragraph::new(summary), summary_area);
    if quorum.voters.is_empty() {
        frame.render_widget(Paragraph::new("No voters."), table_area);
        return;
    }

    const HEADERS: [&str; 5] = ["NODE", "ROLE", "EPOCH", "LEO", "LAG"];
    let known = |value: i64| if value < 0 { "-".to_string() } else { value.to_string() };
    let mut widths = HEADERS.map(str::len);
    let mut rows = Vec::new();
    for voter in &quorum.voters {
        let down = voter.role == "Down";
        let texts = [
            voter.node_id.to_string(),
            if down { "DOWN".to_string() } else { voter.role.clone() },
            known(i64::from(voter.epoch)),
            known(voter.log_end_offset),
            // Without a leader there is nothing to lag behind.
            if quorum.leader_id.is_some() && voter.log_end_offset >= 0 { voter.lag.to_string() } else { "-".into() },
        ];
        for (width, text) in widths.iter_mut().zip(&texts) {
            *width = (*width).max(text.chars().count());
        }
        let role_style = match voter.role.as_str() {
            "Down" => Style::new().fg(Color::Red).bold(),
            "Leader" | "Follower" | "Observer" => Style::new(),
            _ => Style::new().fg(Color::Yellow),
        };
        let [node, role, epoch, log_end, lag] = texts;
        let row = Row::new(vec![
            Cell::from(node),
            Cell::from(Span::styled(role, role_style)),
            Cell::from(epoch),
            Cell::from(log_end),
            Cell::from(lag),
        ]);
        let is_leader = quorum.leader_id == Some(voter.node_id) && voter.role == "Leader";
        rows.push(if is_leader { row.style(Style::new().bold()) } else { row });
    }
    let constraints = widths.map(|width| Constraint::Length(u16::try_from(width).unwrap_or(u16::MAX)));
    let table = Table::new(rows, constraints).header(header_row(&HEADERS)).column_spacing(1);
    frame.render_widget(table, table_area);
}

/// The widths of the clients table's columns: each fits its header and its widest cell.
fn client_column_widths(clients: &[ClientView]) -> [u16; 4] {
    let widest = |header: &str, cells: &mut dyn Iterator<Item = usize>| {
        let width = cells.fold(header.chars().count(), usize::max);
        u16::try_from(width).unwrap_or(u16::MAX)
    };
    let state = |client: &ClientView| {
        if client.up {
            client.state.chars().count()
        } else {
            4
        }
    };
    [
        widest("CLIENT", &mut clients.iter().map(|client| client.id.chars().count())),
        widest("KIND", &mut clients.iter().map(|client| client.kind.chars().count())),
        widest("STATE", &mut clients.iter().map(state)),
        widest("RECORDS", &mut clients.iter().map(|client| client.records.to_string().len())),
    ]
}

/// The width the clients pane needs: its columns, the spaces between them and the borders.
fn clients_width(clients: &[ClientView]) -> u16 {
    let columns: u16 = client_column_widths(clients).iter().sum();
    columns.saturating_add(3 + 2)
}

/// Clients: id, kind, state (`DOWN` when the process is not running) and records.
fn render_clients(frame: &mut ratatui::Frame, area: Rect, clients: &[ClientView]) {
    let block = Block::bordered().title(" Clients ");
    if clients.is_empty() {
        frame.render_widget(Paragraph::new("No clients.").block(block), area);
        return;
    }
    let [id_width, kind_width, state_width, records_width] = client_column_widths(clients);
    let rows = clients.iter().map(|client| {
        let state = if client.up {
            Cell::from(client.state.clone())
        } else {
            Cell::from(Span::styled("DOWN", Style::new().fg(Color::Red).bold()))
        };
        Row::new(vec![
            Cell::from(client.id.clone()),
            Cell::from(client.kind.clone()),
            state,
            Cell::from(Line::from(client.records.to_string()).right_aligned()),
        ])
    });
    let table = Table::new(
        rows,
        [
            Constraint::Length(id_width),
            Constraint::Length(kind_width),
            Constraint::Length(state_width),
            Constraint::Length(records_width),
        ],
    )
    .header(header_row(&["CLIENT", "KIND", "STATE", "RECORDS"]))
    .block(block);
    frame.render_widget(table, area);
}

/// The partition table's column headers.
const PARTITION_HEADERS: [&str; 10] =
    ["Topic", "Partition", "Leader", "Epoch", "Replicas", "Isr", "LogStart", "HW", "LEO", "Status"];

/// Which partition columns to hide first when the pane is narrow: leader epoch, then log
/// start offset, then the topic name.
const PARTITION_DROP_ORDER: [usize; 3] = [3, 6, 0];

/// The partition table, one row per partition as `kafka-topics.sh --describe` lists them.
fn render_partitions(frame: &mut ratatui::Frame, area: Rect, topics: &[TopicDescription]) {
    let block = Block::bordered().title(" Partitions ");
    if topics.is_empty() {
        frame.render_widget(Paragraph::new("No topics.").block(block), area);
        return;
    }
    // Column widths fit the widest cell, so the table reads like the command-line tool.
    let mut widths: Vec<usize> = PARTITION_HEADERS.iter().map(|header| header.len()).collect();
    let mut rows = Vec::new();
    for topic in topics {
        for partition in &topic.partitions {
            let texts = [
                topic.name.clone(),
                partition.partition.to_string(),
                partition.leader.map_or_else(|| "none".to_string(), |leader| leader.to_string()),
                partition.leader_epoch.to_string(),
                join_ids(&partition.replicas),
                join_ids(&partition.isr),
                partition.log_start_offset.to_string(),
                partition.high_watermark.to_string(),
                partition.log_end_offset.to_string(),
                partition_status(topic, partition).to_string(),
            ];
            for (width, text) in widths.iter_mut().zip(&texts) {
                *width = (*width).max(text.chars().count());
            }
            rows.push(partition_cells(partition, texts));
        }
    }

    // When the pane is too narrow, the columns a learner needs least go first, then the
    // spacing shrinks; anything still too wide is squeezed by the table layout.
    let available = usize::from(area.width.saturating_sub(2));
    let mut keep = [true; PARTITION_HEADERS.len()];
    let mut spacing = 2;
    let needed = |keep: &[bool], spacing: usize| {
        let columns: Vec<usize> = (0..keep.len()).filter(|&i| keep[i]).map(|i| widths[i]).collect();
        columns.iter().sum::<usize>() + spacing * columns.len().saturating_sub(1)
    };
    for column in PARTITION_DROP_ORDER {
        if needed(&keep, spacing) <= available {
            break;
        }
        keep[column] = false;
    }
    if needed(&keep, spacing) > available {
        spacing = 1;
    }

    let pick = |cells: Vec<Cell<'static>>| -> Row<'static> {
        Row::new(cells.into_iter().zip(keep).filter(|(_, kept)| *kept).map(|(cell, _)| cell))
    };
    let headers: Vec<&str> = PARTITION_HEADERS.iter().zip(keep).filter(|(_, kept)| *kept).map(|(h, _)| *h).collect();
    let constraints: Vec<Constraint> = widths
        .iter()
        .zip(keep)
        .filter(|(_, kept)| *kept)
        .map(|(width, _)| Constraint::Length(u16::try_from(*width).unwrap_or(u16::MAX)))
        .collect();
    let table = Table::new(rows.into_iter().map(pick), constraints)
        .header(header_row(&headers))
        .column_spacing(spacing as u16)
        .block(block);
    frame.render_widget(table, area);
}

/// One partition's cells: the leader in bold, replicas outside the ISR in red, and the status
/// marker in text.
fn partition_cells(partition: &PartitionDescription, texts: [String; 10]) -> Vec<Cell<'static>> {
    let [topic, index, leader, epoch, _, isr, log_start, high_watermark, log_end, status] = texts;
    let leader = match partition.leader {
        Some(_) => Cell::from(Span::styled(leader, Style::new().bold())),
        None => Cell::from(Span::styled(leader, Style::new().fg(Color::Red).bold())),
    };
    let mut replicas = Vec::new();
    for (position, replica) in partition.replicas.iter().enumerate() {
        if position > 0 {
            replicas.push(Span::raw(","));
        }
        let mut style = Style::new();
        if partition.leader == Some(*replica) {
            style = style.bold();
        }
        if !partition.isr.contains(replica) {
            style = style.fg(Color::Red).add_modifier(Modifier::DIM);
        }
        replicas.push(Span::styled(replica.to_string(), style));
    }
    let status_style = match status.as_str() {
        "" => Style::new(),
        "UR" => Style::new().fg(Color::Yellow).bold(),
        _ => Style::new().fg(Color::Red).bold(),
    };
    vec![
        Cell::from(topic),
        Cell::from(index),
        leader,
        Cell::from(epoch),
        Cell::from(Line::from(replicas)),
        Cell::from(isr),
        Cell::from(log_start),
        Cell::from(high_watermark),
        Cell::from(log_end),
        Cell::from(Span::styled(status, status_style)),
    ]
}

/// The consumer groups: for each, its header (state, generation and latest rebalance), its
/// members and the offsets table `kafka-consumer-groups.sh --describe` prints.
fn render_groups(frame: &mut ratatui::Frame, area: Rect, groups: &[GroupDescription]) {
    let block = Block::bordered().title(" Consumer groups ");
    let width = usize::from(area.width.saturating_sub(2));
    let mut lines = Vec::new();
    for (index, group) in groups.iter().enumerate() {
        if index > 0 {
            lines.push(Line::raw(""));
        }
        lines.extend(group_header(group, width));
        lines.extend(member_table(group));
        lines.extend(group_table(group));
    }
    if lines.is_empty() {
        lines.push(Line::raw("No consumer groups."));
    }
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// A group's state in words, and its colour: `Stable` green, a rebalance yellow with the word
/// `rebalancing`, `Empty` and `Dead` grey with what they mean, no coordinator red.
fn group_state(state: &str) -> Span<'static> {
    let (text, colour) = match state {
        "Stable" => ("Stable".to_string(), Color::Green),
        "PreparingRebalance" | "CompletingRebalance" => (format!("{state} (rebalancing)"), Color::Yellow),
        "Empty" => ("Empty (no members)".to_string(), Color::DarkGray),
        "Dead" => ("Dead (unknown to the coordinator)".to_string(), Color::DarkGray),
        "Unknown" => ("no coordinator".to_string(), Color::Red),
        other => (other.to_string(), Color::Reset),
    };
    Span::styled(text, Style::new().fg(colour).bold())
}

/// `group billing · Stable · generation 2 · last rebalance at 5.2s · range · coordinator 1 · 2
/// members`, packed into lines of at most `width` columns.
fn group_header(group: &GroupDescription, width: usize) -> Vec<Line<'static>> {
    let rebalance = match group.last_rebalance_ms {
        Some(ms) => format!("last rebalance at {}", format_seconds(ms)),
        None => "no rebalance yet".to_string(),
    };
    let mut pieces: Vec<Vec<Span<'static>>> = vec![
        vec![Span::raw("group "), Span::styled(group.group.clone(), Style::new().bold())],
        vec![group_state(&group.state)],
        // The generation and its rebalance are one piece, so they stay on one line.
        vec![Span::raw(format!("generation {} · {rebalance}", group.generation_id))],
    ];
    if !group.protocol.is_empty() {
        pieces.push(vec![Span::raw(group.protocol.clone())]);
    }
    pieces.push(vec![Span::raw(match group.coordinator {
        Some(coordinator) => format!("coordinator {coordinator}"),
        None => "coordinator unknown".to_string(),
    })]);
    let members = group.members.len();
    pieces.push(vec![Span::raw(format!("{members} member{}", if members == 1 { "" } else { "s" }))]);
    pack_pieces(pieces, width, " · ")
}

/// Lines of left-aligned columns, each as wide as its widest cell, two spaces apart; the
/// header is bold.
fn text_table(headers: &[&str], rows: &[Vec<String>]) -> Vec<Line<'static>> {
    let mut widths: Vec<usize> = headers.iter().map(|header| header.chars().count()).collect();
    for row in rows {
        for (width, text) in widths.iter_mut().zip(row) {
            *width = (*width).max(text.chars().count());
        }
    }
    let format_row = |cells: &[String]| -> String {
        let padded: Vec<String> =
            cells.iter().zip(&widths).map(|(cell, width)| format!("{cell:<width$}", width = *width)).collect();
        padded.join("  ").trim_end().to_string()
    };
    let header: Vec<String> = headers.iter().map(|header| header.to_string()).collect();
    let mut lines = vec![Line::styled(format_row(&header), Style::new().bold())];
    lines.extend(rows.iter().map(|row| Line::raw(format_row(row))));
    lines
}

/// The members of one group: client id, `group.instance.id` (a column only when some member
/// is static, as in Kafka's `--members` view), assigned partitions (`orders(0,1)`, `-` for
/// none) and member id. Nothing while the group has no members.
fn member_table(group: &GroupDescription) -> Vec<Line<'static>> {
    if group.members.is_empty() {
        return Vec::new();
    }
    let any_static = group.members.iter().any(|member| member.group_instance_id.is_some());
    let mut headers = vec!["CLIENT-ID"];
    if any_static {
        headers.push("GROUP-INSTANCE-ID");
    }
    headers.extend(["ASSIGNMENT", "CONSUMER-ID"]);
    let rows: Vec<Vec<String>> = group
        .members
        .iter()
        .map(|member| {
            let mut row = vec![member.client_id.clone()];
            if any_static {
                row.push(member.group_instance_id.clone().unwrap_or_else(|| "-".to_string()));
            }
            row.push(sim::report::assignment_text(&member.assignment));
            row.push(member.member_id.clone());
            row
        })
        .collect();
    text_table(&headers, &rows)
}

/// The offsets table of one group: every partition of its topics with the committed offset,
/// log end offset and lag (`-` where nothing is committed) and the member that owns it. The
/// client id comes before the long member id, so a narrow pane cuts only the latter.
fn group_table(group: &GroupDescription) -> Vec<Line<'static>> {
    const HEADERS: [&str; 7] =
        ["TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CLIENT-ID", "CONSUMER-ID"];
    let dash = || "-".to_string();
    let rows: Vec<Vec<String>> = group
        .offsets
        .iter()
        .map(|offset| {
            vec![
                offset.topic.clone(),
                offset.partition.to_string(),
                offset.committed_offset.map_or_else(dash, |o| o.to_string()),
                offset.log_end_offset.to_string(),
                offset.lag.map_or_else(dash, |lag| lag.to_string()),
                offset.client_id.clone().unwrap_or_else(dash),
                offset.consumer_id.clone().unwrap_or_else(dash),
            ]
        })
        .collect();
    text_table(&HEADERS, &rows)
}

/// The one-line key hint at the bottom.
fn render_footer(frame: &mut ratatui::Frame, area: Rect) {
    let keys = [
        ("space", "pause/resume"),
        (".", "step"),
        ("[ ]", "slower/faster"),
        ("r", "routine events"),
        ("↑ ↓", "scroll events"),
        ("?", "help"),
        ("q", "quit"),
    ];
    let mut spans = Vec::new();
    for (key, action) in keys {
        spans.push(Span::styled(format!(" {key} "), Style::new().add_modifier(Modifier::REVERSED)));
        spans.push(Span::raw(format!(" {action}  ")));
    }
    frame.render_widget(Line::from(spans), area);
}

/// The help popup: every key, and what the markers in the tables mean.
fn render_help(frame: &mut ratatui::Frame, area: Rect) {
    let key = |key: &'static str, action: &'static str| {
        Line::from(vec![Span::styled(format!("  {key:<12}"), Style::new().bold()), Span::raw(action)])
    };
    let lines = vec![
        Line::styled("Keys", Style::new().add_modifier(Modifier::UNDERLINED)),
        key("space", "pause or resume the simulation"),
        key(". or →", "pause and step 100 ms of simulated time"),
        key("[  ]", "half or double the speed (1/8x to 64x real time)"),
        key("r", "show or hide routine events in the feed"),
        key("↑ ↓ k j", "scroll the event feed one line"),
        key("PgUp PgDn", "scroll the event feed ten lines"),
        key("Home End", "jump to the oldest event, or follow the newest"),
        key("? or Esc", "close this help"),
        key("q  Ctrl-C", "quit"),
        Line::raw(""),
        Line::styled("Markers", Style::new().add_modifier(Modifier::UNDERLINED)),
        key("DOWN", "the process is not running"),
        key("fenced", "the controller will not let the broker lead"),
        key("UR", "under-replicated: the ISR is smaller than the replicas"),
        key("<min", "the ISR is below min.insync.replicas: acks=all fails"),
        key("OFFLINE", "no leader: the partition cannot be read or written"),
        key("Leader", "bold; replicas outside the ISR are red"),
        key("HW", "high watermark: consumers read up to here"),
        key("LEO", "log end offset: the next offset to be written"),
        key("LAG", "log end offset minus the group's committed offset"),
        Line::raw(""),
        Line::styled("Controller quorum", Style::new().add_modifier(Modifier::UNDERLINED)),
        key("Q", "votes a controller needs to lead or commit: floor(N/2)+1"),
        key("committed", "metadata records below this offset are on Q voters"),
        key("no leader", "no controller leads: brokers get no metadata changes"),
        key("Candidate", "asking the voters for votes (Prospective: pre-vote)"),
    ];
    let height = u16::try_from(lines.len() + 2).unwrap_or(u16::MAX).min(area.height);
    let width = 72.min(area.width);
    let popup = Rect { x: area.x + (area.width - width) / 2, y: area.y + (area.height - height) / 2, width, height };
    frame.render_widget(Clear, popup);
    let block = Block::bordered().title(" Help · ? or Esc closes ");
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}

/// The text of a buffer, one line per row with trailing spaces trimmed, for snapshot tests.
/// Cells hidden behind a wide character are skipped, so each line reads as the screen shows it.
#[cfg_attr(not(test), allow(dead_code))]
pub fn buffer_text(buffer: &Buffer) -> String {
    let width = usize::from(buffer.area.width).max(1);
    let mut text = String::new();
    for row in buffer.content().chunks(width) {
        let mut line = String::new();
        let mut hidden: u16 = 0;
        for cell in row {
            if hidden == 0 {
                line.push_str(cell.symbol());
            }
            hidden = hidden.max(cell.cell_width()).saturating_sub(1);
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use cluster::event::Event;
    use cluster::ids::{NodeId, TopicPartition};
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;
    use sim::view::{AssignedPartition, MemberDescription, OffsetDescription, ReplicaOffsets};

    /// Renders the app on a test terminal and returns the screen as text.
    fn screen(app: &App, width: u16, height: u16) -> String {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        terminal.draw(|frame| app.render(frame)).unwrap();
        buffer_text(terminal.backend().buffer())
    }

    fn record(seq: u64, time_ms: u64, node: &str, body: TraceBody) -> TraceRecord {
        TraceRecord { seq, time_ns: time_ms * 1_000_000, node: node.to_string(), body }
    }

    fn partition(index: i32, leader: i32, replicas: [i32; 3], isr: &[i32]) -> PartitionDescription {
        let high_watermark = 400 + i64::from(index) * 10;
        PartitionDescription {
            partition: index,
            leader: Some(leader),
            leader_epoch: 1,
            replicas: replicas.to_vec(),
            isr: isr.to_vec(),
            adding_replicas: vec![],
            removing_replicas: vec![],
            log_start_offset: 0,
            high_watermark,
            log_end_offset: high_watermark + 2,
            segments: 1,
            size_bytes: 40_000,
            replica_offsets: replicas
                .iter()
                .map(|broker| ReplicaOffsets {
                    broker: *broker,
                    log_end_offset: Some(high_watermark),
                    high_watermark: Some(high_watermark),
                })
                .collect(),
        }
    }

    fn member(member_id: &str, client_id: &str, partitions: &[i32]) -> MemberDescription {
        MemberDescription {
            member_id: member_id.to_string(),
            client_id: client_id.to_string(),
            group_instance_id: None,
            host: "/10.0.19.136".to_string(),
            assignment: partitions
                .iter()
                .map(|p| AssignedPartition { topic: "orders".to_string(), partition: *p })
                .collect(),
        }
    }

    fn offset(index: i32, committed: Option<i64>, log_end: i64, owner: (&str, &str)) -> OffsetDescription {
        OffsetDescription {
            topic: "orders".to_string(),
            partition: index,
            committed_offset: committed,
            log_end_offset: log_end,
            lag: committed.map(|c| log_end - c),
            consumer_id: Some(owner.0.to_string()),
            client_id: Some(owner.1.to_string()),
            host: Some("/10.0.19.136".to_string()),
        }
    }

    /// Three dedicated controllers, 3001 leading epoch 2, and the three brokers observing.
    fn fixture_quorum() -> sim::view::QuorumDescription {
        let replica = |node_id, log_end_offset, role: &str, epoch| sim::view::QuorumReplica {
            node_id,
            log_end_offset,
            lag: 120 - log_end_offset,
            role: role.to_string(),
            epoch,
            last_fetch_ms: Some(12_300),
            last_caught_up_ms: Some(12_300),
        };
        sim::view::QuorumDescription {
            leader_id: Some(3001),
            leader_epoch: 2,
            high_watermark: 118,
            quorum_size: 2,
            voters: vec![
                replica(3000, 118, "Follower", 2),
                replica(3001, 120, "Leader", 2),
                replica(3002, 120, "Follower", 2),
            ],
            observers: vec![
                replica(1, 118, "Observer", 2),
                replica(2, 118, "Observer", 2),
                replica(3, 118, "Observer", 2),
            ],
        }
    }

    /// Three brokers, `orders` with three partitions at replication factor 3 (one of them
    /// under-replicated), a producer, and group `billing` with two consumers.
    fn fixture_view() -> ClusterView {
        let broker = |id, leader_count| BrokerView { id, up: true, fenced: false, leader_count, replica_count: 3 };
        let client = |id: &str, kind: &str, records, state: &str| ClientView {
            id: id.to_string(),
            kind: kind.to_string(),
            up: true,
            records,
            state: state.to_string(),
        };
        ClusterView {
            time_ms: 12_345,
            duration_ms: 30_000,
            controller_up: true,
            quorum: fixture_quorum(),
            brokers: vec![broker(1, 1), broker(2, 1), broker(3, 1)],
            clients: vec![
                client("checkout", "producer", 1_230, "sending"),
                client("billing-1", "consumer", 790, "stable"),
                client("billing-2", "consumer", 405, "stable"),
            ],
            topics: vec![TopicDescription {
                name: "orders".to_string(),
                replication_factor: 3,
                min_insync_replicas: 2,
                configs: Default::default(),
                partitions: vec![
                    partition(0, 1, [1, 2, 3], &[1, 2, 3]),
                    partition(1, 2, [2, 3, 1], &[2, 1]),
                    partition(2, 3, [3, 1, 2], &[3, 1, 2]),
                ],
            }],
            groups: vec![GroupDescription {
                group: "billing".to_string(),
                state: "Stable".to_string(),
                generation_id: 2,
                protocol: "range".to_string(),
                coordinator: Some(1),
                members: vec![
                    member("billing-1-0001", "billing-1", &[0, 1]),
                    member("billing-2-0002", "billing-2", &[2]),
                ],
                offsets: vec![
                    offset(0, Some(395), 400, ("billing-1-0001", "billing-1")),
                    offset(1, Some(410), 410, ("billing-1-0001", "billing-1")),
                    offset(2, None, 420, ("billing-2-0002", "billing-2")),
                ],
                last_rebalance_ms: Some(5_214),
            }],
        }
    }

    fn fixture_records() -> Vec<TraceRecord> {
        let orders = |p| TopicPartition::new("orders", p);
        vec![
            record(
                0,
                250,
                "controller",
                TraceBody::Event(Event::LeaderElected {
                    tp: orders(1),
                    leader: NodeId(2),
                    leader_epoch: 1,
                    isr: vec![NodeId(2), NodeId(3), NodeId(1)],
                }),
            ),
            record(1, 4_000, "world", TraceBody::Narration("Three brokers share the topic.".into())),
            record(
                2,
                8_000,
                "broker 2",
                TraceBody::Event(Event::HighWatermarkAdvanced { tp: orders(1), high_watermark: 300 }),
            ),
            record(3, 9_000, "world", TraceBody::Fault("pause broker 3 for 10s".into())),
            record(
                4,
                11_000,
                "controller",
                TraceBody::Event(Event::IsrShrunk {
                    tp: orders(1),
                    removed: vec![NodeId(3)],
                    isr: vec![NodeId(2), NodeId(1)],
                    partition_epoch: 2,
                }),
            ),
            record(
                5,
                12_000,
                "world",
                TraceBody::Narration(
                    "Broker 3 stopped fetching, so the leader of orders-1 dropped it from the ISR.".into(),
                ),
            ),
        ]
    }

    fn fixture_app() -> App {
        let mut app = App::new("01-first-cluster", 42, 30_000);
        app.update(Input::Char(']'));
        app.apply_frame(live::Frame { view: fixture_view(), records: fixture_records(), finished: false });
        app
    }

    #[test]
    fn space_toggles_pause() {
        let mut app = App::new("s", 1, 1_000);
        assert!(matches!(app.update(Input::Space), Some(Control::Pause)));
        assert!(app.paused);
        assert!(matches!(app.update(Input::Space), Some(Control::Resume)));
        assert!(!app.paused);
    }

    #[test]
    fn step_pauses_and_steps() {
        let mut app = App::new("s", 1, 1_000);
        assert!(matches!(app.update(Input::Char('.')), Some(Control::Step)));
        assert!(app.paused);
        assert!(matches!(app.update(Input::Right), Some(Control::Step)));
        assert!(app.paused);
        // After stepping, space resumes.
        assert!(matches!(app.update(Input::Space), Some(Control::Resume)));
    }

    #[test]
    fn speed_doubles_and_halves_within_bounds() {
        let mut app = App::new("s", 1, 1_000);
        assert!(matches!(app.update(Input::Char(']')), Some(Control::SetSpeed(s)) if s == 2.0));
        for _ in 0..5 {
            app.update(Input::Char(']'));
        }
        assert_eq!(app.speed, MAX_SPEED);
        assert!(app.update(Input::Char(']')).is_none());
        assert_eq!(app.speed, MAX_SPEED);

        for _ in 0..9 {
            app.update(Input::Char('['));
        }
        assert_eq!(app.speed, MIN_SPEED);
        assert!(app.update(Input::Char('[')).is_none());
        assert!(matches!(app.update(Input::Char(']')), Some(Control::SetSpeed(s)) if s == 0.25));
    }

    #[test]
    fn q_and_ctrl_c_quit() {
        let mut app = App::new("s", 1, 1_000);
        assert!(!app.should_quit());
        assert!(matches!(app.update(Input::Char('q')), Some(Control::Quit)));
        assert!(app.should_quit());

        let mut app = App::new("s", 1, 1_000);
        assert!(matches!(app.update(Input::Interrupt), Some(Control::Quit)));
        assert!(app.should_quit());
    }

    #[test]
    fn question_mark_toggles_help_and_esc_closes_it() {
        let mut app = App::new("s", 1, 1_000);
        assert!(app.update(Input::Char('?')).is_none());
        assert!(app.show_help);
        assert!(app.update(Input::Char('?')).is_none());
        assert!(!app.show_help);
        app.update(Input::Char('?'));
        assert!(app.update(Input::Esc).is_none());
        assert!(!app.show_help);
    }

    #[test]
    fn key_events_map_to_inputs() {
        use crossterm::event::KeyEventState;
        let press = |code, modifiers| KeyEvent::new(code, modifiers);
        assert_eq!(Input::from_key_event(press(KeyCode::Char(' '), KeyModifiers::NONE)), Some(Input::Space));
        assert_eq!(Input::from_key_event(press(KeyCode::Char('c'), KeyModifiers::CONTROL)), Some(Input::Interrupt));
        assert_eq!(Input::from_key_event(press(KeyCode::Char('?'), KeyModifiers::SHIFT)), Some(Input::Char('?')));
        let release = KeyEvent {
            code: KeyCode::Char('q'),
            modifiers: KeyModifiers::NONE,
            kind: KeyEventKind::Release,
            state: KeyEventState::NONE,
        };
        assert_eq!(Input::from_key_event(release), None);
    }

    #[test]
    fn routine_records_are_hidden_until_r() {
        let app = fixture_app();
        assert_eq!(app.notable.len(), 5);
        assert_eq!(app.everything.len(), 6);
        assert!(!app.feed().iter().any(|line| line.text.contains("high watermark")));

        let mut app = app;
        app.update(Input::Char('r'));
        assert!(app.feed().iter().any(|line| line.text.contains("high watermark")));
    }

    #[test]
    fn narration_keeps_the_latest_line() {
        let app = fixture_app();
        let narration = app.narration.as_ref().unwrap();
        assert_eq!(narration.time_ms, 12_000);
        assert!(narration.text.starts_with("Broker 3 stopped fetching"));
    }

    #[test]
    fn feed_is_bounded() {
        let mut app = App::new("s", 1, 1_000);
        let records: Vec<TraceRecord> = (0..FEED_CAPACITY as u64 + 20)
            .map(|seq| record(seq, seq, "world", TraceBody::Fault(format!("fault {seq}"))))
            .collect();
        app.apply_frame(live::Frame { view: fixture_view(), records, finished: true });
        assert_eq!(app.notable.len(), FEED_CAPACITY);
        assert!(app.notable.front().unwrap().text.ends_with("fault 20"));
        assert!(app.finished);
    }

    #[test]
    fn scrolled_feed_stays_put_while_records_arrive() {
        let mut app = fixture_app();
        app.update(Input::Up);
        app.update(Input::Up);
        assert_eq!(app.feed_scroll, 2);
        let fault = record(9, 13_000, "world", TraceBody::Fault("crash broker 1".into()));
        app.apply_frame(live::Frame { view: fixture_view(), records: vec![fault], finished: false });
        assert_eq!(app.feed_scroll, 3);
        app.update(Input::End);
        assert_eq!(app.feed_scroll, 0);
        // Scrolling back never passes the oldest line.
        app.update(Input::Home);
        assert_eq!(app.feed_scroll, app.notable.len() - 1);
    }

    #[test]
    fn partition_status_markers() {
        let topic = &fixture_view().topics[0];
        let healthy = partition(0, 1, [1, 2, 3], &[1, 2, 3]);
        let under = partition(0, 1, [1, 2, 3], &[1, 2]);
        let under_min = partition(0, 1, [1, 2, 3], &[1]);
        let offline = PartitionDescription { leader: None, ..partition(0, 1, [1, 2, 3], &[1]) };
        assert_eq!(partition_status(topic, &healthy), "");
        assert_eq!(partition_status(topic, &under), "UR");
        assert_eq!(partition_status(topic, &under_min), "UR <min");
        assert_eq!(partition_status(topic, &offline), "OFFLINE");
        let strict = TopicDescription { min_insync_replicas: 4, ..topic.clone() };
        assert_eq!(partition_status(&strict, &healthy), "<min");
    }

    #[test]
    fn down_broker_and_offline_partition_are_spelled_out() {
        let mut view = fixture_view();
        view.brokers[2].up = false;
        view.brokers[2].fenced = true;
        view.topics[0].partitions[2].leader = None;
        let mut app = App::new("s", 1, 30_000);
        app.apply_frame(live::Frame { view, records: vec![], finished: true });
        let text = screen(&app, 120, 40);
        assert!(text.contains("DOWN"));
        assert!(text.contains("fenced"));
        assert!(text.contains("none"));
        assert!(text.contains("OFFLINE"));
        assert!(text.contains("FINISHED"));
    }

    /// The fixture's quorum after its leader 3001 crashed: 3000 and 3002 stand for election in
    /// epoch 3 and nobody leads yet.
    fn leaderless_view() -> ClusterView {
        let mut view = fixture_view();
        view.controller_up = false;
        let quorum = &mut view.quorum;
        quorum.leader_id = None;
        quorum.leader_epoch = 3;
        for voter in &mut quorum.voters {
            voter.lag = 0;
            if voter.node_id == 3001 {
                voter.role = "Down".to_string();
                voter.epoch = -1;
                voter.log_end_offset = -1;
            } else {
                voter.role = "Candidate".to_string();
                voter.epoch = 3;
            }
        }
        view
    }

    #[test]
    fn quorum_summary_and_voters_are_spelled_out() {
        let text = screen(&fixture_app(), 120, 40);
        assert!(text.contains("3 voters, Q = floor(3/2)+1 = 2"));
        assert!(text.contains("leader 3001 · epoch 2"));
        assert!(text.contains("committed 118"));
        assert!(text.contains("3001 Leader   2     120 0"));

        let mut app = App::new("s", 1, 30_000);
        app.apply_frame(live::Frame { view: leaderless_view(), records: vec![], finished: false });
        let text = screen(&app, 120, 40);
        assert!(text.contains("no leader · epoch 3"));
        assert!(text.contains("3001 DOWN"));
        assert!(text.contains("3002 Candidate 3     120 -"));
    }

    #[test]
    fn quorum_summary_packs_into_one_line_when_wide() {
        let lines = quorum_summary(&fixture_view(), 120);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].to_string(), "3 voters, Q = floor(3/2)+1 = 2 · leader 3001 · epoch 2 · committed 118");
        let lines = quorum_summary(&fixture_view(), 32);
        let texts: Vec<String> = lines.iter().map(Line::to_string).collect();
        assert_eq!(texts, ["3 voters, Q = floor(3/2)+1 = 2", "leader 3001 · epoch 2", "committed 118"]);
    }

    #[test]
    fn no_leader_is_red_and_in_words() {
        let lines = quorum_summary(&leaderless_view(), 32);
        let span = lines.iter().flat_map(|line| &line.spans).find(|span| span.content == "no leader").unwrap();
        assert_eq!(span.style.fg, Some(Color::Red));
        assert!(span.style.add_modifier.contains(Modifier::BOLD));
    }

    #[test]
    fn empty_app_renders_before_the_first_frame() {
        let app = App::new("01-first-cluster", 1, 30_000);
        let text = screen(&app, 80, 24);
        assert!(text.contains("Waiting for the simulation"));
        assert!(text.contains("0.0s / 30.0s"));
    }

    #[test]
    fn tiny_terminal_does_not_panic() {
        let mut app = fixture_app();
        app.update(Input::Char('?'));
        for (width, height) in [(1, 1), (10, 5), (40, 12), (200, 60)] {
            screen(&app, width, height);
        }
    }

    #[test]
    fn first_screen_fixture() {
        insta::assert_snapshot!("first_screen_fixture", screen(&fixture_app(), 120, 40));
    }

    #[test]
    fn quorum_without_leader() {
        let mut app = App::new("01-first-cluster", 42, 30_000);
        app.update(Input::Char(']'));
        app.apply_frame(live::Frame { view: leaderless_view(), records: fixture_records(), finished: false });
        insta::assert_snapshot!("quorum_without_leader", screen(&app, 120, 40));
    }

    /// The fixture's group mid-rebalance: billing-2 was a static member (`billing-b`) and has
    /// just lost its partition, and a second group, `audit`, has no members left.
    fn rebalancing_view() -> ClusterView {
        let mut view = fixture_view();
        let billing = &mut view.groups[0];
        billing.state = "PreparingRebalance".to_string();
        billing.generation_id = 3;
        billing.last_rebalance_ms = Some(11_800);
        billing.members[1].group_instance_id = Some("billing-b".to_string());
        billing.members[1].assignment.clear();
        billing.offsets[2].consumer_id = None;
        billing.offsets[2].client_id = None;
        let mut audit = billing.clone();
        audit.group = "audit".to_string();
        audit.state = "Empty".to_string();
        audit.protocol = String::new();
        audit.members.clear();
        audit.last_rebalance_ms = Some(2_500);
        audit.generation_id = 1;
        for offset in &mut audit.offsets {
            offset.consumer_id = None;
            offset.client_id = None;
        }
        view.groups.insert(0, audit);
        view
    }

    /// The span of the screen's group header that names `state`, found in the rendered lines.
    fn state_span(group: &GroupDescription) -> Span<'static> {
        let lines = group_header(group, 200);
        lines.into_iter().flat_map(|line| line.spans).nth(3).unwrap()
    }

    #[test]
    fn group_states_are_coloured_and_spelled_out() {
        let mut group = fixture_view().groups[0].clone();
        let stable = state_span(&group);
        assert_eq!((stable.content.as_ref(), stable.style.fg), ("Stable", Some(Color::Green)));
        for state in ["PreparingRebalance", "CompletingRebalance"] {
            group.state = state.to_string();
            let span = state_span(&group);
            assert_eq!(span.content, format!("{state} (rebalancing)"));
            assert_eq!(span.style.fg, Some(Color::Yellow));
        }
        group.state = "Empty".to_string();
        let empty = state_span(&group);
        assert_eq!((empty.content.as_ref(), empty.style.fg), ("Empty (no members)", Some(Color::DarkGray)));
        group.state = "Dead".to_string();
        let dead = state_span(&group);
        assert!(dead.content.starts_with("Dead"));
        assert_eq!(dead.style.fg, Some(Color::DarkGray));
    }

    #[test]
    fn group_header_shows_generation_and_last_rebalance() {
        let group = fixture_view().groups[0].clone();
        let text: Vec<String> = group_header(&group, 200).iter().map(Line::to_string).collect();
        assert_eq!(
            text,
            ["group billing · Stable · generation 2 · last rebalance at 5.2s · range · coordinator 1 · 2 members"]
        );
        let fresh = GroupDescription { last_rebalance_ms: None, generation_id: 0, ..group };
        let text = group_header(&fresh, 40).iter().map(Line::to_string).collect::<Vec<_>>().join("\n");
        assert!(text.contains("generation 0 · no rebalance yet"), "{text}");
    }

    #[test]
    fn static_members_show_their_instance_id() {
        let view = rebalancing_view();
        let lines: Vec<String> = member_table(&view.groups[1]).iter().map(Line::to_string).collect();
        assert_eq!(
            lines,
            [
                "CLIENT-ID  GROUP-INSTANCE-ID  ASSIGNMENT   CONSUMER-ID",
                "billing-1  -                  orders(0,1)  billing-1-0001",
                "billing-2  billing-b          -            billing-2-0002",
            ]
        );
        // Without static members the column is left out, as Kafka's --members view does.
        let lines: Vec<String> = member_table(&fixture_view().groups[0]).iter().map(Line::to_string).collect();
        assert_eq!(lines[0], "CLIENT-ID  ASSIGNMENT   CONSUMER-ID");
        assert!(member_table(&view.groups[0]).is_empty(), "an empty group lists no members");
    }

    #[test]
    fn groups_while_rebalancing() {
        let mut app = App::new("01-first-cluster", 42, 30_000);
        app.update(Input::Char(']'));
        app.apply_frame(live::Frame { view: rebalancing_view(), records: fixture_records(), finished: false });
        insta::assert_snapshot!("groups_while_rebalancing", screen(&app, 120, 40));
    }

    #[test]
    fn help_overlay() {
        let mut app = fixture_app();
        app.update(Input::Char('?'));
        insta::assert_snapshot!("help_overlay", screen(&app, 120, 40));
    }
}
