//! The panes of the lab that draw the cluster itself: brokers, the controller quorum, clients,
//! the partition table and the consumer groups, in the shapes of Kafka's command-line tools.
//!
//! Every function here is pure: it reads a [`ClusterView`] and draws into a frame. Colours add
//! emphasis but never carry meaning alone: every state shown in colour is also spelled out in
//! text (`DOWN`, `UR`, `OFFLINE`, `no leader`, the ISR column).

use ratatui::buffer::{Buffer, CellWidth};
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table};
use sim::view::{ClusterView, GroupDescription, PartitionDescription, TopicDescription};

/// Formats milliseconds as seconds with one decimal: `12.3s`.
pub fn format_seconds(ms: u64) -> String {
    format!("{}.{}s", ms / 1000, ms % 1000 / 100)
}

/// Joins broker ids with commas, as `kafka-topics.sh` prints them.
pub fn join_ids(ids: &[i32]) -> String {
    ids.iter().map(|id| id.to_string()).collect::<Vec<_>>().join(",")
}

/// The text marker of a partition's health: `OFFLINE` without a leader, `UR` (under-replicated)
/// when the ISR is smaller than the replica set, and `<min` when the ISR is smaller than
/// `min.insync.replicas`, so `acks=all` writes fail. A healthy partition has no marker.
pub fn partition_status(topic: &TopicDescription, partition: &PartitionDescription) -> &'static str {
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

/// A bold table header row.
pub fn header_row<'a>(titles: &[&'a str]) -> Row<'a> {
    Row::new(titles.iter().map(|title| Cell::from(*title)))
        .style(Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED))
}

/// The controller quorum's summary, packed into lines of at most `width` columns: how many
/// voters and how many votes make a majority (`Q = floor(N/2)+1`), the leader (`no leader` in
/// red otherwise), its epoch, and the metadata log's committed offset. On a wide pane it is one
/// line, `3 voters, Q = floor(3/2)+1 = 2 · leader 3001 · epoch 2 · committed 118`.
pub fn quorum_summary(view: &ClusterView, width: usize) -> Vec<Line<'static>> {
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
pub fn pack_pieces(pieces: Vec<Vec<Span<'static>>>, width: usize, separator: &'static str) -> Vec<Line<'static>> {
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

/// The partition table's column headers.
const PARTITION_HEADERS: [&str; 10] =
    ["Topic", "Partition", "Leader", "Epoch", "Replicas", "Isr", "LogStart", "HW", "LEO", "Status"];

/// Which partition columns to hide first when the pane is narrow: leader epoch, then log
/// start offset, then the topic name.
const PARTITION_DROP_ORDER: [usize; 3] = [3, 6, 0];

/// The partition table, one row per partition as `kafka-topics.sh --describe` lists them; the
/// row at `selected` (counting partitions across topics) is reversed and marked `>`.
pub fn render_partitions(frame: &mut ratatui::Frame, area: Rect, topics: &[TopicDescription], selected: Option<usize>) {
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
    let rows = rows.into_iter().map(pick).enumerate().map(|(index, row)| {
        if Some(index) == selected {
            row.style(Style::new().add_modifier(Modifier::REVERSED))
        } else {
            row
        }
    });
    let table = Table::new(rows, constraints).header(header_row(&headers)).column_spacing(spacing as u16).block(block);
    let mut state = ratatui::widgets::TableState::default().with_selected(selected);
    frame.render_stateful_widget(table.highlight_symbol("> "), area, &mut state);
}

/// One partition's cells: the leader in bold, replicas outside the ISR in red, and the status
/// marker in text.
pub fn partition_cells(partition: &PartitionDescription, texts: [String; 10]) -> Vec<Cell<'static>> {
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

/// A group's state in words, and its colour: `Stable` green, a rebalance yellow with the word
/// `rebalancing`, `Empty` and `Dead` grey with what they mean, no coordinator red.
pub fn group_state(state: &str) -> Span<'static> {
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
pub fn group_header(group: &GroupDescription, width: usize) -> Vec<Line<'static>> {
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
pub fn text_table(headers: &[&str], rows: &[Vec<String>]) -> Vec<Line<'static>> {
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
pub fn member_table(group: &GroupDescription) -> Vec<Line<'static>> {
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
