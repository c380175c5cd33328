//! Drawing the lab: the status line, the tab bar, each view, the narration pane, the timeline,
//! the key hints and the help overlay. Pure functions of [`App`]: nothing here does I/O.
//!
//! Colours never carry meaning alone: every state has a word or a symbol too (`DOWN`, `paused`,
//! `UR`, `█` committed and `▒` uncommitted cells, `F`/`E`/`I`/`R` timeline marks), and with
//! `NO_COLOR` set the whole screen is drawn without colour.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Sparkline, Wrap};
use sim::record::{Keyframe, MarkerKind};
use sim::trace::TraceBody;
use sim::view::{ClusterView, PartitionLogView, ReplicaLogView};

use crate::app::{feed, App, Source, Tab};
use crate::views::{self, format_seconds, text_table};

/// The smallest terminal the lab draws on.
pub const MIN_WIDTH: u16 = 80;
/// The smallest terminal height the lab draws on.
pub const MIN_HEIGHT: u16 = 24;

/// Draws the whole screen.
pub fn render(app: &App, frame: &mut ratatui::Frame) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let text = vec![
            Line::styled("kafkalab needs a terminal of at least 80x24.", Style::new().bold()),
            Line::raw(format!("This one is {}x{}: enlarge it, or press q to quit.", area.width, area.height)),
        ];
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), area);
        strip_colour(app, frame);
        return;
    }
    let [status, tabs, main, narration, timeline, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(8),
        Constraint::Length(4),
        Constraint::Length(2),
        Constraint::Length(1),
    ])
    .areas(area);
    render_status(app, frame, status);
    render_tabs(app, frame, tabs);
    match app.view() {
        None => frame.render_widget(
            Paragraph::new("Waiting for the simulation's first frame...").block(Block::bordered()),
            main,
        ),
        Some(view) => match app.tab {
            Tab::Overview => render_overview(app, frame, main, view),
            Tab::Partitions => render_partitions_tab(app, frame, main, view),
            Tab::Log => render_log(app, frame, main, view),
            Tab::Groups => render_groups_tab(app, frame, main, view),
            Tab::Quorum => render_quorum_tab(app, frame, main, view),
            Tab::Events => render_events(app, frame, main),
            Tab::Cli => render_cli(app, frame, main, view),
            Tab::Charts => render_charts(app, frame, main),
        },
    }
    render_narration(app, frame, narration);
    render_timeline(app, frame, timeline);
    render_footer(app, frame, footer);
    if app.show_help {
        render_help(frame, area);
    }
    strip_colour(app, frame);
}

/// With colours off (`NO_COLOR`), resets every cell's colours, keeping bold, reverse and the
/// like, which carry emphasis without colour.
fn strip_colour(app: &App, frame: &mut ratatui::Frame) {
    if app.colour {
        return;
    }
    for cell in frame.buffer_mut().content.iter_mut() {
        cell.fg = Color::Reset;
        cell.bg = Color::Reset;
    }
}

fn render_status(app: &App, frame: &mut ratatui::Frame, area: Rect) {
    let (word, colour) = if app.waiting.is_some() {
        (" ⏸ WAITING ", Color::Magenta)
    } else if app.finished() && app.at_head() {
        (" ■ FINISHED ", Color::Green)
    } else if app.playing {
        (" ▶ PLAYING ", Color::Cyan)
    } else {
        (" ❚❚ PAUSED ", Color::Yellow)
    };
    let source = match app.source {
        Source::Live if app.follow => "live",
        Source::Live => "past",
        Source::Replay => "replay",
    };
    let mut spans = vec![
        Span::styled(" kafkalab ", Style::new().add_modifier(Modifier::REVERSED)),
        Span::styled(format!(" {} ", app.scenario.name), Style::new().bold()),
        Span::raw(format!("seed {} · {source}  ", app.seed)),
        Span::styled(word, Style::new().fg(Color::Black).bg(colour)),
        Span::raw(format!("  {}x  ", app.speed)),
        Span::styled(
            format!("{} / {}", format_seconds(app.time_ms()), format_seconds(app.history.header.duration_ms)),
            Style::new().bold(),
        ),
    ];
    if app.presenter {
        spans.push(Span::styled("  PRESENTER", Style::new().bold()));
    }
    if !app.pending.is_empty() {
        spans.push(Span::raw(format!("  pending: {}", app.pending.join(", "))));
    }
    if let Some(message) = &app.message {
        spans.push(Span::styled(format!("  {message}"), Style::new().fg(Color::Yellow).bold()));
    }
    frame.render_widget(Line::from(spans), area);
}

fn render_tabs(app: &App, frame: &mut ratatui::Frame, area: Rect) {
    let mut spans = Vec::new();
    for (index, tab) in Tab::ALL.iter().enumerate() {
        let text = format!("{} {}", index + 1, tab.title());
        if *tab == app.tab {
            spans.push(Span::styled(
                format!("[{text}]"),
                Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD),
            ));
        } else {
            spans.push(Span::raw(format!(" {text} ")));
        }
        spans.push(Span::raw(" "));
    }
    frame.render_widget(Line::from(spans), area);
}

/// Overview: every node (selectable, the target of fault keys), the topics, the faults in
/// force and the latest events.
fn render_overview(app: &App, frame: &mut ratatui::Frame, area: Rect, view: &ClusterView) {
    // On a narrow screen the node table drops its KIND column (the names say it too).
    let compact = area.width < 110;
    let left_width = if compact { 46 } else { 57 };
    let [left, right] = Layout::horizontal([Constraint::Length(left_width), Constraint::Fill(1)]).areas(area);
    let nodes_height = u16::try_from(view.nodes.len() + 3).unwrap_or(u16::MAX).min(left.height.saturating_sub(4));
    let [nodes, groups] = Layout::vertical([Constraint::Length(nodes_height), Constraint::Fill(1)]).areas(left);
    render_nodes(app, frame, nodes, view, compact);
    let group_rows: Vec<Vec<String>> = view
        .groups
        .iter()
        .map(|g| {
            let lag: i64 = g.offsets.iter().filter_map(|o| o.lag).sum();
            vec![
                g.group.clone(),
                g.state.clone(),
                g.generation_id.to_string(),
                g.members.len().to_string(),
                lag.to_string(),
            ]
        })
        .collect();
    let group_lines = if group_rows.is_empty() {
        vec![Line::raw("No consumer groups.")]
    } else {
        text_table(&["GROUP", "STATE", "GENERATION", "MEMBERS", "LAG"], &group_rows)
    };
    frame.render_widget(Paragraph::new(group_lines).block(Block::bordered().title(" Groups · 4 shows more ")), groups);
    let topics_height = u16::try_from(view.topics.len() + 3).unwrap_or(u16::MAX).min(right.height / 3).max(3);
    let faults_height = u16::try_from(view.active_faults.len().max(1) + 2).unwrap_or(u16::MAX).min(6);
    // The partition table too, when there is room for it above a few lines of events.
    let partition_rows: usize = view.topics.iter().map(|t| t.partitions.len()).sum();
    let spare = right.height.saturating_sub(topics_height + faults_height + 6);
    let partitions_height = u16::try_from(partition_rows + 3).unwrap_or(u16::MAX).min(spare / 2);
    let [topics, faults, partitions, events] = Layout::vertical([
        Constraint::Length(topics_height),
        Constraint::Length(faults_height),
        Constraint::Length(if partitions_height >= 4 { partitions_height } else { 0 }),
        Constraint::Fill(1),
    ])
    .areas(right);
    if partitions.height > 0 {
        views::render_partitions(frame, partitions, &view.topics, None);
    }
    let rows: Vec<Vec<String>> = view
        .topics
        .iter()
        .map(|t| {
            let under = t.partitions.iter().filter(|p| p.isr.len() < p.replicas.len()).count();
            let offline = t.partitions.iter().filter(|p| p.leader.is_none()).count();
            vec![
                t.name.clone(),
                t.partitions.len().to_string(),
                t.replication_factor.to_string(),
                t.min_insync_replicas.to_string(),
                under.to_string(),
                offline.to_string(),
            ]
        })
        .collect();
    let lines = text_table(&["TOPIC", "PARTITIONS", "RF", "MIN-ISR", "UNDER-REPLICATED", "OFFLINE"], &rows);
    frame.render_widget(Paragraph::new(lines).block(Block::bordered().title(" Topics ")), topics);
    let fault_lines: Vec<Line> = if view.active_faults.is_empty() {
        vec![Line::styled("none: the network is whole and nothing is paused", Style::new().add_modifier(Modifier::DIM))]
    } else {
        view.active_faults.iter().map(|f| Line::styled(f.clone(), Style::new().fg(Color::Red))).collect()
    };
    frame.render_widget(Paragraph::new(fault_lines).block(Block::bordered().title(" Faults in force ")), faults);
    render_feed_lines(app, frame, events, " Latest events · 6 shows all ", 0);
}

/// The node table: selection `>`, split marks `*`, kind, state, quorum role and epoch.
fn render_nodes(app: &App, frame: &mut ratatui::Frame, area: Rect, view: &ClusterView, compact: bool) {
    let selected = app.selected().map(|n| n.id);
    let kind_header = if compact { String::new() } else { format!("{:<10} ", "KIND") };
    let mut lines = vec![Line::styled(
        format!("  {:<5} {:<11} {kind_header}{:<6} {:<10} {}", "ID", "NAME", "STATE", "ROLE", "EPOCH"),
        Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
    )];
    for node in &view.nodes {
        let pointer = if Some(node.id) == selected { '>' } else { ' ' };
        let mark = if app.marked.contains(&node.id) { '*' } else { ' ' };
        let kind = match node.kind.as_str() {
            "broker+controller" => "combined",
            other => other,
        };
        let (role, epoch) = node.quorum.as_ref().map_or(("-".to_string(), "-".to_string()), |q| {
            (if q.voter { q.role.clone() } else { "Observer".to_string() }, q.epoch.to_string())
        });
        let name: String = node.name.chars().take(11).collect();
        // A running broker the controller has fenced may not lead: say so instead of `up`.
        let fenced = node.state == "up" && view.brokers.iter().any(|b| b.id == node.id && b.fenced);
        let state = match node.state.as_str() {
            "down" => "DOWN",
            "paused" => "paused",
            _ if fenced => "fenced",
            _ => "up",
        };
        let style = match state {
            "DOWN" => Style::new().fg(Color::Red).bold(),
            "paused" | "fenced" => Style::new().fg(Color::Yellow).bold(),
            _ => Style::new(),
        };
        let mut line = Line::from(vec![
            Span::raw(if compact {
                format!("{pointer}{mark}{:<5} {name:<11} ", node.id)
            } else {
                format!("{pointer}{mark}{:<5} {name:<11} {kind:<10} ", node.id)
            }),
            Span::styled(format!("{state:<6}"), style),
            Span::raw(format!(" {role:<10} {epoch}")),
        ]);
        if Some(node.id) == selected {
            line = line.style(Style::new().add_modifier(Modifier::REVERSED));
        }
        lines.push(line);
    }
    let title = " Nodes · j/k select · x r p i n H act ";
    frame.render_widget(Paragraph::new(lines).block(Block::bordered().title(title)), area);
}

/// Partitions: the `kafka-topics.sh --describe` table with the selection, and every replica of
/// the selected partition with its own offsets.
fn render_partitions_tab(app: &App, frame: &mut ratatui::Frame, area: Rect, view: &ClusterView) {
    let count: usize = view.topics.iter().map(|t| t.partitions.len()).sum();
    let table_height = u16::try_from(count + 3).unwrap_or(u16::MAX).min(area.height.saturating_sub(7));
    let [table, detail] = Layout::vertical([Constraint::Length(table_height), Constraint::Fill(1)]).areas(area);
    let selected = app.selected_partition.min(count.saturating_sub(1));
    views::render_partitions(frame, table, &view.topics, (count > 0).then_some(selected));
    let Some((topic, partition)) =
        view.topics.iter().flat_map(|t| t.partitions.iter().map(move |p| (t, p))).nth(selected)
    else {
        return;
    };
    let leader_end = partition.log_end_offset;
    let rows: Vec<Vec<String>> = partition
        .replica_offsets
        .iter()
        .map(|r| {
            let role = if partition.leader == Some(r.broker) { "leader" } else { "follower" };
            let in_isr = if partition.isr.contains(&r.broker) { "yes" } else { "NO" };
            let known = |v: Option<i64>| v.map_or_else(|| "down".to_string(), |v| v.to_string());
            vec![
                r.broker.to_string(),
                role.to_string(),
                in_isr.to_string(),
                known(r.log_end_offset),
                known(r.high_watermark),
                r.log_end_offset.map_or_else(|| "-".to_string(), |leo| (leader_end - leo).max(0).to_string()),
            ]
        })
        .collect();
    let mut lines =
        text_table(&["BROKER", "ROLE", "IN-ISR", "LOG-END-OFFSET", "HIGH-WATERMARK", "BEHIND-LEADER"], &rows);
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        "A record is committed once every ISR member has it: the leader's high watermark is the lowest \
         log end offset in the ISR. Consumers read below it.",
        Style::new().add_modifier(Modifier::DIM),
    ));
    let title = format!(" Replicas of {}-{} · j/k select · 3 draws its log ", topic.name, partition.partition);
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(Block::bordered().title(title)), detail);
}

/// The symbol and style of one offset cell of a replica's log.
fn cell_of(replica: &ReplicaLogView, offset: i64) -> (char, Style) {
    if !replica.up {
        return (' ', Style::new());
    }
    if offset < replica.log_start_offset {
        return ('-', Style::new().add_modifier(Modifier::DIM));
    }
    if offset >= replica.log_end_offset {
        return ('·', Style::new().fg(Color::DarkGray));
    }
    let batch = replica.batches.iter().find(|b| b.base_offset <= offset && offset <= b.last_offset);
    match batch {
        None => ('?', Style::new()),
        Some(b) if b.removed.contains(&offset) => ('x', Style::new().fg(Color::DarkGray)),
        Some(b) if b.tombstones.contains(&offset) => ('T', Style::new().fg(Color::Magenta).bold()),
        Some(_) if offset < replica.high_watermark => ('█', Style::new().fg(Color::Green)),
        Some(_) => ('▒', Style::new().fg(Color::Yellow)),
    }
}

/// The leader epoch of the batch holding `offset` in `replica`, if any.
fn epoch_of(replica: &ReplicaLogView, offset: i64) -> Option<i32> {
    replica.batches.iter().find(|b| b.base_offset <= offset && offset <= b.last_offset).map(|b| b.leader_epoch)
}

/// Log: each replica of the selected partition as a row of offset cells, with leader-epoch
/// boundaries, and on `b` the batches (producer id, sequence, epoch) of the leader's tail.
fn render_log(app: &App, frame: &mut ratatui::Frame, area: Rect, view: &ClusterView) {
    let Some(log) = view.logs.get(app.selected_partition.min(view.logs.len().saturating_sub(1))) else {
        frame.render_widget(Paragraph::new("No partitions.").block(Block::bordered().title(" Log ")), area);
        return;
    };
    let title = format!(" Log of {}-{} · j/k partition · b batches ", log.topic, log.partition);
    let block = Block::bordered().title(title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let lines = log_lines(log, usize::from(inner.width), app.show_batches);
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}

/// The lines of the Log view for `log` in `width` columns.
pub fn log_lines(log: &PartitionLogView, width: usize, show_batches: bool) -> Vec<Line<'static>> {
    let label_width = 26;
    let cells = width.saturating_sub(label_width + 1).clamp(8, sim::view::LOG_WINDOW as usize);
    let end = log.replicas.iter().filter(|r| r.up).map(|r| r.log_end_offset).max().unwrap_or(0);
    let start = (end - cells as i64).max(0);
    let mut lines = Vec::new();
    lines.push(Line::styled(
        format!("{:<label_width$} offsets {start}..{}", "", end.max(start + 1) - 1),
        Style::new().add_modifier(Modifier::DIM),
    ));
    for replica in &log.replicas {
        let label = if replica.up {
            format!("broker {} hw {} leo {}", replica.broker, replica.high_watermark, replica.log_end_offset)
        } else {
            format!("broker {} DOWN", replica.broker)
        };
        let mut spans = vec![Span::raw(format!("{label:<label_width$.label_width$} "))];
        let mut epochs = String::new();
        let mut previous_epoch = None;
        for offset in start..start + cells as i64 {
            let (symbol, style) = cell_of(replica, offset);
            spans.push(Span::styled(symbol.to_string(), style));
            let epoch = epoch_of(replica, offset);
            epochs.push(match (epoch, previous_epoch) {
                (Some(e), p) if p != Some(e) => char::from_digit((e % 10) as u32, 10).unwrap_or('?'),
                (Some(_), _) => ' ',
                (None, _) => ' ',
            });
            previous_epoch = epoch.or(previous_epoch);
        }
        lines.push(Line::from(spans));
        lines.push(Line::styled(
            format!("{:<label_width$} {epochs}", "  epoch starts"),
            Style::new().add_modifier(Modifier::DIM),
        ));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        "█ committed (below this replica's high watermark)  ▒ uncommitted  · missing  T tombstone  \
         x removed by compaction  - deleted (below log start)  digits: a leader epoch starts",
        Style::new().add_modifier(Modifier::DIM),
    ));
    if show_batches {
        if let Some(leader) = log.replicas.iter().filter(|r| r.up).max_by_key(|r| r.log_end_offset) {
            lines.push(Line::raw(""));
            let rows: Vec<Vec<String>> = leader
                .batches
                .iter()
                .rev()
                .take(12)
                .map(|b| {
                    vec![
                        format!("{}..{}", b.base_offset, b.last_offset),
                        b.leader_epoch.to_string(),
                        b.producer_id.to_string(),
                        b.base_sequence.to_string(),
                        b.tombstones.len().to_string(),
                        b.removed.len().to_string(),
                    ]
                })
                .collect();
            lines.push(Line::styled(format!("batches of broker {}, newest first", leader.broker), Style::new().bold()));
            lines.extend(text_table(
                &["OFFSETS", "LEADER-EPOCH", "PRODUCER-ID", "BASE-SEQUENCE", "TOMBSTONES", "REMOVED"],
                &rows,
            ));
        }
    }
    lines
}

/// A sparkline of `values` in block characters, as text (scaled to the largest value).
fn spark(values: &[u64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = values.iter().copied().max().unwrap_or(0).max(1);
    values.iter().map(|v| BARS[((v * 7) / max) as usize]).collect()
}

/// The keyframes up to the cursor, at most `count` of them, `every` keyframes apart.
fn recent_keyframes(app: &App, count: usize, every: usize) -> Vec<&Keyframe> {
    let end = app.cursor + 1;
    let frames = &app.history.keyframes[..end.min(app.history.keyframes.len())];
    let mut picked: Vec<&Keyframe> = frames.iter().rev().step_by(every.max(1)).take(count).collect();
    picked.reverse();
    picked
}

/// Groups: each group's state and generation, the assignment matrix, its members, offsets
/// and lag with a lag sparkline per partition over the last 20 seconds, and its rebalances.
fn render_groups_tab(app: &App, frame: &mut ratatui::Frame, area: Rect, view: &ClusterView) {
    let width = usize::from(area.width.saturating_sub(2));
    let history = recent_keyframes(app, 20, 10);
    let mut lines: Vec<Line> = Vec::new();
    for (index, group) in view.groups.iter().enumerate() {
        if index > 0 {
            lines.push(Line::raw(""));
        }
        lines.extend(views::group_header(group, width));
        lines.extend(views::member_table(group));
        // The assignment matrix: a row per member, a column per partition.
        let partitions: Vec<String> = group.offsets.iter().map(|o| format!("{}-{}", o.topic, o.partition)).collect();
        if !group.members.is_empty() && !partitions.is_empty() {
            let mut rows = Vec::new();
            for member in &group.members {
                let mut row = vec![member.client_id.clone()];
                for offset in &group.offsets {
                    let owns =
                        member.assignment.iter().any(|a| a.topic == offset.topic && a.partition == offset.partition);
                    row.push(if owns { "●".to_string() } else { "·".to_string() });
                }
                rows.push(row);
            }
            let mut headers: Vec<&str> = vec!["ASSIGNMENT"];
            headers.extend(partitions.iter().map(String::as_str));
            lines.extend(text_table(&headers, &rows));
        }
        let rows: Vec<Vec<String>> = group
            .offsets
            .iter()
            .map(|o| {
                let lags: Vec<u64> = history
                    .iter()
                    .map(|k| {
                        k.view
                            .groups
                            .iter()
                            .find(|g| g.group == group.group)
                            .and_then(|g| g.offsets.iter().find(|x| x.topic == o.topic && x.partition == o.partition))
                            .and_then(|x| x.lag)
                            .map_or(0, |lag| lag.max(0) as u64)
                    })
                    .collect();
                let dash = || "-".to_string();
                vec![
                    format!("{}-{}", o.topic, o.partition),
                    o.committed_offset.map_or_else(dash, |c| c.to_string()),
                    o.log_end_offset.to_string(),
                    o.lag.map_or_else(dash, |l| l.to_string()),
                    spark(&lags),
                    o.client_id.clone().unwrap_or_else(dash),
                ]
            })
            .collect();
        lines.extend(text_table(
            &["PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "LAG (last 20 s)", "CLIENT-ID"],
            &rows,
        ));
        let rebalances: Vec<String> = app
            .history
            .markers
            .iter()
            .filter(|m| m.kind == MarkerKind::Rebalance && m.time_ms <= app.time_ms())
            .filter(|m| m.label.contains(&format!("group {}", group.group)))
            .map(|m| format_seconds(m.time_ms))
            .collect();
        if !rebalances.is_empty() {
            let shown: Vec<String> = rebalances.iter().rev().take(8).rev().cloned().collect();
            lines.push(Line::raw(format!("rebalance marks (R): {}", shown.join(", "))));
        }
    }
    if lines.is_empty() {
        lines.push(Line::raw("No consumer groups."));
    }
    let scroll = u16::try_from(app.scroll).unwrap_or(u16::MAX);
    frame.render_widget(
        Paragraph::new(lines).scroll((scroll, 0)).block(Block::bordered().title(" Consumer groups · j/k scroll ")),
        area,
    );
}

/// Quorum: every controller's own Raft state (role, epoch, leader, vote, log end and commit
/// point), the observers, and the latest quorum events.
fn render_quorum_tab(app: &App, frame: &mut ratatui::Frame, area: Rect, view: &ClusterView) {
    let width = usize::from(area.width.saturating_sub(2));
    let mut lines = views::quorum_summary(view, width);
    lines.push(Line::raw(""));
    let dash = || "-".to_string();
    let row = |node: &sim::view::NodeView| -> Vec<String> {
        match &node.quorum {
            Some(q) => vec![
                node.id.to_string(),
                node.state.clone(),
                q.role.clone(),
                q.epoch.to_string(),
                q.leader_id.map_or_else(dash, |l| l.to_string()),
                q.voted_for.map_or_else(dash, |v| v.to_string()),
                q.log_end_offset.to_string(),
                q.high_watermark.to_string(),
            ],
            None => {
                vec![node.id.to_string(), node.state.to_uppercase(), dash(), dash(), dash(), dash(), dash(), dash()]
            }
        }
    };
    let headers = ["NODE", "STATE", "ROLE", "EPOCH", "LEADER", "VOTED-FOR", "LOG-END-OFFSET", "HIGH-WATERMARK"];
    let voters: Vec<Vec<String>> =
        view.nodes.iter().filter(|n| view.quorum.voters.iter().any(|v| v.node_id == n.id)).map(row).collect();
    lines.push(Line::styled("Voters (controllers): each one's own state", Style::new().bold()));
    lines.extend(text_table(&headers, &voters));
    let observers: Vec<Vec<String>> =
        view.nodes.iter().filter(|n| view.quorum.observers.iter().any(|o| o.node_id == n.id)).map(row).collect();
    if !observers.is_empty() {
        lines.push(Line::raw(""));
        lines.push(Line::styled("Observers (brokers replicating the metadata log)", Style::new().bold()));
        lines.extend(text_table(&headers, &observers));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled("Latest quorum events", Style::new().bold()));
    for record in app.history().last_quorum_events_before(app.records_now().len(), 8) {
        lines.push(Line::raw(record.describe()));
    }
    frame.render_widget(Paragraph::new(lines).block(Block::bordered().title(" Controller quorum (KRaft) ")), area);
}

/// Events: the whole feed up to the cursor, with its filters in the title.
fn render_events(app: &App, frame: &mut ratatui::Frame, area: Rect) {
    let mut title = format!(
        " Events · f kind: {} · v routine: {} · / text: {}",
        app.kind_filter.name(),
        if app.show_routine { "shown" } else { "hidden" },
        if app.text_filter.is_empty() { "none".to_string() } else { format!("\"{}\"", app.text_filter) }
    );
    if app.editing_filter {
        title.push_str(" (typing: Enter keeps, Esc clears)");
    }
    title.push(' ');
    render_feed_lines(app, frame, area, &title, app.scroll);
}

/// A feed pane: the records the filters pass, newest at the bottom, checker findings
/// highlighted after the record that revealed them.
fn render_feed_lines(app: &App, frame: &mut ratatui::Frame, area: Rect, title: &str, scroll: usize) {
    let visible = usize::from(area.height.saturating_sub(2));
    let (records, skipped) = feed(app, visible, scroll);
    let findings = app.history.outcome.as_ref().map(|o| o.findings.as_slice()).unwrap_or(&[]);
    let mut lines: Vec<Line> = Vec::new();
    for record in records {
        let style = match &record.body {
            TraceBody::Event(_) if record.is_routine() => Style::new().add_modifier(Modifier::DIM),
            TraceBody::Event(_) => Style::new(),
            TraceBody::Fault(_) => Style::new().fg(Color::Red).bold(),
            TraceBody::Violation { .. } => Style::new().fg(Color::Red).bold().add_modifier(Modifier::REVERSED),
            TraceBody::Narration(_) | TraceBody::Prompt(_) => Style::new().fg(Color::Yellow),
            TraceBody::Chapter(_) => Style::new().fg(Color::Yellow).bold(),
        };
        lines.push(Line::styled(record.describe(), style));
        for finding in findings.iter().filter(|f| f.seq == Some(record.seq)) {
            lines.push(Line::styled(
                format!("          CHECKER FOUND: {}", finding.text),
                Style::new().fg(Color::Red).bold().add_modifier(Modifier::REVERSED),
            ));
        }
    }
    let start = lines.len().saturating_sub(visible);
    let lines: Vec<Line> = lines.split_off(start);
    let mut title = title.to_string();
    if skipped > 0 {
        title.push_str(&format!("· {skipped} newer below, End follows "));
    }
    frame.render_widget(Paragraph::new(lines).block(Block::bordered().title(title)), area);
}

/// The text of the CLI pane: what Kafka's three describe tools print at this moment.
pub fn cli_text(view: &ClusterView) -> String {
    let mut out = String::new();
    out.push_str("$ kafka-topics.sh --bootstrap-server localhost:9092 --describe\n");
    out.push_str(&sim::report::describe_topics(&view.topics));
    out.push_str("\n$ kafka-consumer-groups.sh --bootstrap-server localhost:9092 --describe --all-groups\n");
    out.push_str(
        &sim::report::describe_consumer_groups(&view.groups, None, sim::report::GroupsView::Offsets).interleaved(),
    );
    out.push_str("\n$ kafka-metadata-quorum.sh --bootstrap-server localhost:9092 describe --status\n");
    out.push_str(&sim::report::describe_quorum_status(&view.quorum));
    out
}

fn render_cli(app: &App, frame: &mut ratatui::Frame, area: Rect, view: &ClusterView) {
    let text = cli_text(view);
    let lines: Vec<Line> = text
        .lines()
        .map(expand_tabs)
        .map(|l| if l.starts_with("$ ") { Line::styled(l, Style::new().bold()) } else { Line::raw(l) })
        .collect();
    let max_scroll = lines.len().saturating_sub(usize::from(area.height.saturating_sub(2)));
    // In this pane `k`/PgUp scroll towards the top, so the scroll counts lines from the top.
    let from_top = max_scroll.saturating_sub(app.scroll.min(max_scroll));
    let scroll = u16::try_from(max_scroll - from_top).unwrap_or(0);
    frame.render_widget(
        Paragraph::new(lines)
            .scroll((scroll, 0))
            .block(Block::bordered().title(" What Kafka's tools print now · j/k scroll ")),
        area,
    );
}

/// Expands tabs to the next multiple of eight columns, as a terminal shows Kafka's
/// tab-separated `--describe` lines.
pub fn expand_tabs(line: &str) -> String {
    let mut out = String::new();
    for c in line.chars() {
        if c == '\t' {
            let pad = 8 - out.chars().count() % 8;
            out.extend(std::iter::repeat_n(' ', pad));
        } else {
            out.push(c);
        }
    }
    out
}

/// One chart's series: per keyframe (by index), the value to plot.
fn series(frames: &[&Keyframe], value: impl Fn(usize) -> u64) -> Vec<u64> {
    (0..frames.len()).map(value).collect()
}

/// Charts: produce and consume rates, under-replicated partitions, ISR size and total lag over
/// the keyframes up to the cursor.
fn render_charts(app: &App, frame: &mut ratatui::Frame, area: Rect) {
    let points = usize::from(area.width.saturating_sub(2)).max(1);
    let frames = recent_keyframes(app, points + 10, 1);
    let per_second = 1000 / sim::record::KEYFRAME_INTERVAL_MS;
    let total =
        |k: &Keyframe, kind: &str| -> u64 { k.view.clients.iter().filter(|c| c.kind == kind).map(|c| c.records).sum() };
    // Rates are averaged over the last second (ten keyframes): records are acknowledged and
    // polled in batches, so a per-keyframe rate would only show the batching.
    let rate = |kind: &'static str| {
        let frames = &frames;
        move |index: usize| {
            index
                .checked_sub(per_second as usize)
                .map_or(0, |p| total(frames[index], kind).saturating_sub(total(frames[p], kind)))
        }
    };
    let charts: [(&str, Vec<u64>); 5] = [
        ("produce rate (records acknowledged / s)", series(&frames, rate("producer"))),
        ("consume rate (records polled / s)", series(&frames, rate("consumer"))),
        (
            "under-replicated partitions",
            series(&frames, |i| {
                frames[i]
                    .view
                    .topics
                    .iter()
                    .flat_map(|t| &t.partitions)
                    .filter(|p| p.isr.len() < p.replicas.len())
                    .count() as u64
            }),
        ),
        (
            "ISR size (replicas in sync, all partitions)",
            series(&frames, |i| {
                frames[i].view.topics.iter().flat_map(|t| &t.partitions).map(|p| p.isr.len() as u64).sum()
            }),
        ),
        (
            "consumer lag (all groups)",
            series(&frames, |i| {
                frames[i]
                    .view
                    .groups
                    .iter()
                    .flat_map(|g| &g.offsets)
                    .filter_map(|o| o.lag)
                    .map(|l| l.max(0) as u64)
                    .sum()
            }),
        ),
    ];
    let areas = Layout::vertical([Constraint::Fill(1); 5]).split(area);
    for ((title, data), area) in charts.iter().zip(areas.iter()) {
        // The first second has no rate yet; the sparkline shows the newest points that fit.
        let data: Vec<u64> = data.iter().skip(data.len().saturating_sub(points)).copied().collect();
        let now = data.last().copied().unwrap_or(0);
        let max = data.iter().copied().max().unwrap_or(0);
        let block = Block::bordered().title(format!(" {title}: now {now}, max {max} "));
        frame.render_widget(Sparkline::default().block(block).data(&data).style(Style::new().fg(Color::Cyan)), *area);
    }
}

/// The narration pane: the latest line up to the cursor, its chapter, and a prompt to continue
/// when the lab waits.
fn render_narration(app: &App, frame: &mut ratatui::Frame, area: Rect) {
    let end = app.records_now().len();
    let chapter = app.history().last_chapter_before(end).and_then(|r| match &r.body {
        TraceBody::Chapter(title) => Some(title.clone()),
        _ => None,
    });
    let latest = app.history().last_narration_before(end);
    let title = match &chapter {
        Some(title) => format!(" Narration · {title} "),
        None => " Narration ".to_string(),
    };
    let mut lines = Vec::new();
    match latest {
        Some(record) => {
            let text = match &record.body {
                TraceBody::Narration(text) | TraceBody::Prompt(text) => text.clone(),
                _ => String::new(),
            };
            lines.push(Line::from(vec![
                Span::styled(format!("{}  ", format_seconds(record.time_ms())), Style::new().fg(Color::Yellow)),
                Span::styled(text, Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD)),
            ]));
        }
        None => lines.push(Line::styled("No narration yet.", Style::new().add_modifier(Modifier::DIM))),
    }
    if app.waiting.is_some() {
        let continue_key = if app.presenter { "PageDown or space" } else { "space" };
        lines.push(Line::styled(
            format!("▶ press {continue_key} to continue"),
            Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD),
        ));
    }
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }).block(Block::bordered().title(title)), area);
}

/// The priority of a mark when several share a column: the rarest and most telling wins.
fn priority(kind: MarkerKind) -> u8 {
    match kind {
        MarkerKind::Violation => 8,
        MarkerKind::Finding => 7,
        MarkerKind::Fault => 6,
        MarkerKind::Chapter => 5,
        MarkerKind::Prompt => 4,
        MarkerKind::Election => 3,
        MarkerKind::Rebalance => 2,
        MarkerKind::Isr => 1,
    }
}

/// The timeline: marks over the whole duration (F fault, E election, I ISR, R rebalance, C
/// chapter, P prompt, ! violation, X checker finding), then the run so far (`━`), what is not
/// run yet (`┄`) and the cursor (`▲`).
fn render_timeline(app: &App, frame: &mut ratatui::Frame, area: Rect) {
    let width = usize::from(area.width).saturating_sub(2).max(1);
    let duration = app.history.header.duration_ms.max(1);
    let column = |time_ms: u64| ((time_ms.min(duration) as u128 * (width as u128 - 1)) / duration as u128) as usize;
    let mut marks: Vec<Option<MarkerKind>> = vec![None; width];
    for marker in &app.history.markers {
        let slot = &mut marks[column(marker.time_ms)];
        if slot.is_none_or(|k| priority(k) < priority(marker.kind)) {
            *slot = Some(marker.kind);
        }
    }
    let mark_spans: Vec<Span> = std::iter::once(Span::raw(" "))
        .chain(marks.iter().map(|m| match m {
            None => Span::raw(" "),
            Some(kind) => {
                let colour = match kind {
                    MarkerKind::Fault | MarkerKind::Violation | MarkerKind::Finding => Color::Red,
                    MarkerKind::Election => Color::Cyan,
                    MarkerKind::Isr => Color::Yellow,
                    MarkerKind::Rebalance => Color::Green,
                    MarkerKind::Chapter | MarkerKind::Prompt => Color::Magenta,
                };
                Span::styled(kind.symbol().to_string(), Style::new().fg(colour).bold())
            }
        }))
        .collect();
    let head = app.history.keyframes.last().map_or(0, |k| k.time_ms);
    let (head_column, cursor_column) = (column(head), column(app.time_ms()));
    let axis: Vec<Span> = std::iter::once(Span::raw(" "))
        .chain((0..width).map(|c| {
            if c == cursor_column {
                Span::styled("▲", Style::new().bold().fg(Color::White))
            } else if c <= head_column {
                Span::styled("━", Style::new().fg(Color::Cyan))
            } else {
                Span::styled("┄", Style::new().fg(Color::DarkGray))
            }
        }))
        .collect();
    frame.render_widget(Paragraph::new(vec![Line::from(mark_spans), Line::from(axis)]), area);
}

fn render_footer(app: &App, frame: &mut ratatui::Frame, area: Rect) {
    let keys: &[(&str, &str)] = if app.presenter {
        &[("PgDn →", "next chapter"), ("PgUp ←", "previous"), ("P", "leave presenter"), ("?", "help"), ("q", "quit")]
    } else {
        &[
            ("space", "play"),
            ("← →", "step"),
            ("< >", "marks"),
            ("[ ]", "speed"),
            ("Tab", "views"),
            ("x r p", "faults"),
            ("?", "help"),
            ("q", "quit"),
        ]
    };
    let mut spans = Vec::new();
    for (key, action) in keys {
        spans.push(Span::styled(format!(" {key} "), Style::new().add_modifier(Modifier::REVERSED)));
        spans.push(Span::raw(format!(" {action} ")));
    }
    frame.render_widget(Line::from(spans), area);
}

/// Every key, in the order a learner needs them.
pub const HELP_KEYS: &[(&str, &str)] = &[
    ("space", "play or pause; continues after a prompt"),
    (". → l", "step 100 ms forward (at the live edge: run one more step)"),
    (", ← h", "step 100 ms back in time"),
    ("< >", "jump to the previous or next timeline mark"),
    ("{ }", "jump to the previous or next chapter"),
    ("[ ]", "half or double the speed (1/8x to 64x)"),
    ("Tab S-Tab 1-8", "switch views"),
    ("↑ ↓ k j", "select a node or partition, or scroll"),
    ("PgUp PgDn", "scroll ten lines (presenter: chapters)"),
    ("Home End g G", "scroll to the oldest, or follow the newest"),
    ("x r p i", "crash, restart, pause/resume, isolate the node"),
    ("m n H", "mark nodes, split marked | rest, heal all"),
    ("f v /", "events: kind filter, routine, text filter"),
    ("b", "log view: list the batches (producer, sequence)"),
    ("w", "save this session as a new scenario file"),
    ("W", "write this session as a new recording"),
    ("P F5", "presenter mode: stop at each chapter"),
    ("? Esc", "help; Esc also dismisses a prompt"),
    ("q Ctrl-C", "quit"),
];

/// The help overlay: every key, what the marks mean, and how acting in the past works.
fn render_help(frame: &mut ratatui::Frame, area: Rect) {
    let key = |key: &str, action: &str| {
        Line::from(vec![Span::styled(format!("  {key:<15}"), Style::new().bold()), Span::raw(action.to_string())])
    };
    let mut lines = vec![Line::styled("Keys", Style::new().add_modifier(Modifier::UNDERLINED))];
    lines.extend(HELP_KEYS.iter().map(|(k, a)| key(k, a)));
    lines.push(Line::raw(""));
    lines.push(Line::styled("Timeline", Style::new().add_modifier(Modifier::UNDERLINED)));
    lines.push(key("F E I R", "fault, election, ISR change, rebalance"));
    lines.push(key("C P ! X", "chapter, prompt, invariant violated, checker finding"));
    lines.push(key("━ ┄ ▲", "run so far, not run yet, the moment shown"));
    lines.push(Line::raw("  Acting in the past forks the run there; the future is discarded."));
    let height = u16::try_from(lines.len() + 2).unwrap_or(u16::MAX).min(area.height);
    let width = 78.min(area.width);
    let popup = Rect { x: area.x + (area.width - width) / 2, y: area.y + (area.height - height) / 2, width, height };
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(Block::bordered().title(" Help · any key closes ")), popup);
}
