//! Drawing the dashboard: a pure function of [`App`]. Every colour comes
//! with a symbol or word that says the same (`● Leader`, `✗ down`,
//! `! WARNING`), so a monochrome terminal loses nothing.
//!
//! Layout, top to bottom: health banner; node table; sparklines of ops/s
//! and lag for the selected node; leader-change timeline; key hints. It
//! fits 80x24; more room goes to the table and the timeline.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Row, Sparkline, Table, Wrap};
use ratatui::Frame;

use super::state::App;
use crate::cmd::health::Level;

pub fn draw(f: &mut Frame, app: &App) {
    let area = f.area();
    let rows = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(5),
        Constraint::Length(5),
        Constraint::Length(6),
        Constraint::Length(1),
    ])
    .split(area);
    banner(f, app, rows[0]);
    node_table(f, app, rows[1]);
    sparklines(f, app, rows[2]);
    timeline(f, app, rows[3]);
    hints(f, app, rows[4]);
    if app.detail {
        detail(f, app, area);
    }
    if app.help {
        help(f, area);
    }
    if !app.color {
        // One rule for every widget: drop colour, keep bold/reverse.
        let buf = f.buffer_mut();
        for y in area.top()..area.bottom() {
            for x in area.left()..area.right() {
                buf[(x, y)].set_fg(Color::Reset).set_bg(Color::Reset);
            }
        }
    }
}

fn level_style(l: Level) -> (Style, &'static str) {
    match l {
        Level::Ok => (Style::default().fg(Color::Green), "✓ OK"),
        Level::Warning => (Style::default().fg(Color::Yellow), "! WARNING"),
        Level::Critical => (Style::default().fg(Color::Red), "✗ CRITICAL"),
        Level::Unknown => (Style::default().fg(Color::Yellow), "? UNKNOWN"),
    }
}

fn banner(f: &mut Frame, app: &App, area: Rect) {
    let line = match &app.health {
        None => Line::from(format!(" {}: waiting for the first poll…", app.title)),
        Some(h) => {
            let (style, word) = level_style(h.status);
            // The summary repeats the level word; show the rest.
            let rest = h
                .summary
                .split_once(": ")
                .map(|(_, r)| r)
                .unwrap_or(&h.summary);
            Line::from(vec![
                Span::styled(format!(" {word} "), style.add_modifier(Modifier::BOLD)),
                Span::raw(format!("{} · {rest}", app.title)),
            ])
        }
    };
    f.render_widget(Paragraph::new(line), area);
}

fn node_table(f: &mut Frame, app: &App, area: Rect) {
    // Wide terminals get every node's ops/s trend inline.
    let trend = area.width >= 100;
    let mut titles = vec![
        "NODE", "STATE", "TERM", "COMMIT", "APPLIED", "LAG", "OPS/S", "MEM", "CLIENTS",
    ];
    if trend {
        titles.push("OPS/S TREND");
    }
    let header = Row::new(titles).style(Style::default().add_modifier(Modifier::BOLD));
    let rows: Vec<Row> = app
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let marker = if i == app.selected { "▶ " } else { "  " };
            let mut cells = vec![format!("{marker}{}", n.id)];
            let style;
            match &n.raft {
                Some(v) => {
                    let (s, text) = match v.state.as_str() {
                        "Leader" => (Style::default().fg(Color::Green), "● Leader".to_string()),
                        "Follower" => (Style::default(), "○ Follower".to_string()),
                        other => (Style::default().fg(Color::Yellow), format!("◌ {other}")),
                    };
                    style = s;
                    cells.extend([
                        text,
                        v.term.to_string(),
                        v.commit_index.to_string(),
                        v.applied_index.to_string(),
                        n.lag.map_or("-".into(), |l| l.to_string()),
                        n.ops.map_or("-".into(), |o| o.to_string()),
                        n.field("used_memory_human").unwrap_or("-").to_string(),
                        n.field("connected_clients").unwrap_or("-").to_string(),
                    ]);
                }
                None => {
                    style = Style::default().fg(Color::Red);
                    // Why is in the banner and the detail view (Enter).
                    cells.push("✗ down".into());
                    cells.extend((0..7).map(|_| "-".to_string()));
                }
            }
            if trend {
                cells.push(bars(&n.ops_history, area.width.saturating_sub(88) as usize));
            }
            let style = if i == app.selected {
                style.add_modifier(Modifier::REVERSED)
            } else {
                style
            };
            Row::new(cells).style(style)
        })
        .collect();
    // 75 columns with the spacing: fits an 80-column terminal.
    let mut widths = vec![
        Constraint::Length(10),
        Constraint::Length(11),
        Constraint::Length(5),
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Length(5),
        Constraint::Length(6),
        Constraint::Length(7),
        Constraint::Length(7),
    ];
    if trend {
        widths.push(Constraint::Min(10));
    }
    let title = if app.paused {
        format!(" nodes · ⏸ paused · refresh {} ", ms(app.refresh))
    } else {
        format!(" nodes · refresh {} · {} ", ms(app.refresh), app.last_clock)
    };
    let table = Table::new(rows, widths)
        .header(header)
        .block(Block::default().borders(Borders::ALL).title(title));
    f.render_widget(table, area);
}

/// The newest `width` samples as bar characters, scaled to their maximum.
fn bars(h: &std::collections::VecDeque<u64>, width: usize) -> String {
    const LEVELS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let skip = h.len().saturating_sub(width);
    let max = h.iter().skip(skip).copied().max().unwrap_or(0).max(1);
    h.iter()
        .skip(skip)
        .map(|&v| LEVELS[((v * 7) / max) as usize])
        .collect()
}

fn ms(d: std::time::Duration) -> String {
    if d.as_millis().is_multiple_of(1000) {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

fn sparklines(f: &mut Frame, app: &App, area: Rect) {
    let cols =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).split(area);
    let Some(n) = app.nodes.get(app.selected) else {
        return;
    };
    let ops: Vec<u64> = n.ops_history.iter().copied().collect();
    let lag: Vec<u64> = n.lag_history.iter().copied().collect();
    let last = |h: &[u64]| h.last().map_or("-".into(), |v| v.to_string());
    f.render_widget(
        Sparkline::default()
            .block(Block::default().borders(Borders::ALL).title(format!(
                " {} ops/s {} ",
                n.id,
                last(&ops)
            )))
            .data(tail(&ops, cols[0].width))
            .style(Style::default().fg(Color::Cyan)),
        cols[0],
    );
    f.render_widget(
        Sparkline::default()
            .block(Block::default().borders(Borders::ALL).title(format!(
                " {} lag {} ",
                n.id,
                last(&lag)
            )))
            .data(tail(&lag, cols[1].width))
            .style(Style::default().fg(Color::Magenta)),
        cols[1],
    );
}

/// The newest samples that fit inside a bordered box `width` wide.
fn tail(h: &[u64], width: u16) -> Vec<u64> {
    let fit = width.saturating_sub(2) as usize;
    h[h.len().saturating_sub(fit)..].to_vec()
}

fn timeline(f: &mut Frame, app: &App, area: Rect) {
    let lines: Vec<Line> = app
        .timeline
        .iter()
        .take(area.height.saturating_sub(2) as usize)
        .map(|c| {
            let text = match (&c.from, &c.to) {
                (None, Some(to)) => format!("{}  term {:<4} ● {to} leads", c.clock, c.term),
                (Some(from), Some(to)) => {
                    format!("{}  term {:<4} ● {to} leads (was {from})", c.clock, c.term)
                }
                (Some(from), None) => {
                    format!("{}  term {:<4} ✗ no leader (was {from})", c.clock, c.term)
                }
                (None, None) => format!("{}  ✗ no leader", c.clock),
            };
            Line::from(text)
        })
        .collect();
    f.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" leader changes "),
        ),
        area,
    );
}

fn hints(f: &mut Frame, app: &App, area: Rect) {
    let pause = if app.paused { "p resume" } else { "p pause" };
    f.render_widget(
        Paragraph::new(format!(
            " q quit  ? help  j/k select  Enter detail  {pause}  +/- refresh"
        ))
        .style(Style::default().add_modifier(Modifier::DIM)),
        area,
    );
}

/// A box `pct_w`% x `pct_h`% in the middle of `area`.
fn centered(area: Rect, pct_w: u16, pct_h: u16) -> Rect {
    let v = Layout::vertical([
        Constraint::Percentage((100 - pct_h) / 2),
        Constraint::Percentage(pct_h),
        Constraint::Percentage((100 - pct_h) / 2),
    ])
    .split(area);
    Layout::horizontal([
        Constraint::Percentage((100 - pct_w) / 2),
        Constraint::Percentage(pct_w),
        Constraint::Percentage((100 - pct_w) / 2),
    ])
    .split(v[1])[1]
}

fn detail(f: &mut Frame, app: &App, area: Rect) {
    let Some(n) = app.nodes.get(app.selected) else {
        return;
    };
    let mut keys: Vec<(&String, &String)> = n
        .info
        .iter()
        .filter(|(k, _)| {
            k.starts_with("raft_")
                || [
                    "role",
                    "connected_clients",
                    "used_memory_human",
                    "total_commands_processed",
                    "instantaneous_ops_per_sec",
                    "master_link_status",
                ]
                .contains(&k.as_str())
        })
        .collect();
    keys.sort();
    let mut lines: Vec<Line> = vec![Line::from(format!("{} at {}", n.id, n.addr))];
    if let Some(e) = &n.error {
        lines.push(Line::styled(
            format!("✗ {e}"),
            Style::default().fg(Color::Red),
        ));
    }
    lines.extend(
        keys.into_iter()
            .map(|(k, v)| Line::from(format!("{k}: {v}"))),
    );
    let r = centered(area, 80, 80);
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::default()
                .borders(Borders::ALL)
                .title(format!(" {} · INFO raft + replication · Esc closes ", n.id)),
        ),
        r,
    );
}

fn help(f: &mut Frame, area: Rect) {
    let text = [
        "q, Ctrl-C   quit",
        "?           this help (Esc closes)",
        "j/k, ↓/↑    select a node",
        "Enter       the selected node's INFO raft and replication",
        "p           pause / resume polling",
        "+ / -       poll slower / faster (100ms at least)",
        "",
        "● Leader  ○ Follower  ◌ other state  ✗ down",
        "LAG: entries the node's applied index trails the leader's commit",
    ];
    let r = centered(area, 80, 60);
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(text.iter().map(|l| Line::from(*l)).collect::<Vec<_>>())
            .block(Block::default().borders(Borders::ALL).title(" help ")),
        r,
    );
}

#[cfg(test)]
mod tests {
    use super::super::state::tests::{down, info, poll, three};
    use super::super::state::{App, Key};
    use super::*;
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;
    use std::time::Duration;

    fn screen(app: &App, w: u16, h: u16) -> String {
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| draw(f, app)).unwrap();
        let buf = t.backend().buffer().clone();
        (0..h)
            .map(|y| {
                (0..w)
                    .map(|x| buf[(x, y)].symbol().to_string())
                    .collect::<String>()
                    .trim_end()
                    .to_string()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn sample_app() -> App {
        let mut app = App::new("local".into(), Duration::from_secs(1));
        app.apply(poll(0, three(2, "node-1", 100, 1000)));
        app.apply(poll(1000, three(2, "node-1", 140, 2500)));
        app.apply(poll(
            2000,
            vec![
                down("node-1"),
                info("node-2", "Leader", 3, "node-2", 150, 2600),
                info("node-3", "Follower", 3, "node-2", 145, 2600),
            ],
        ));
        app
    }

    /// The 80x24 screen, compared with the committed snapshot
    /// (`HELIOS_UPDATE_SNAPSHOTS=1` rewrites it after a deliberate change).
    #[test]
    fn an_80x24_screen_matches_the_snapshot() {
        let got = screen(&sample_app(), 80, 24);
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src/tui/snapshots/top_80x24.txt"
        );
        if std::env::var_os("HELIOS_UPDATE_SNAPSHOTS").is_some() {
            std::fs::write(path, &got).unwrap();
        }
        let want =
            std::fs::read_to_string(path).expect("snapshot (HELIOS_UPDATE_SNAPSHOTS=1 writes it)");
        assert_eq!(got, want, "\n{got}");
    }

    #[test]
    fn the_screen_shows_state_down_nodes_and_leader_changes() {
        let s = screen(&sample_app(), 100, 30);
        assert!(s.contains("! WARNING"), "{s}");
        assert!(s.contains("● Leader") && s.contains("○ Follower"), "{s}");
        assert!(s.contains("✗ down"), "{s}");
        assert!(s.contains("● node-2 leads (was node-1)"), "{s}");
        assert!(s.contains("node-1 ops/s"), "{s}");
        // 100 columns: every node's trend inline (node-2: 1000, 1500, 100).
        assert!(s.contains("OPS/S TREND"), "{s}");
        assert!(s.contains("▁▇▁") || s.contains("▁█▁"), "{s}");
    }

    #[test]
    fn overlays_and_pause_show() {
        let mut app = sample_app();
        app.key(Key::Char('j'));
        app.key(Key::Enter);
        let s = screen(&app, 80, 24);
        assert!(s.contains("node-2 · INFO raft"), "{s}");
        assert!(s.contains("raft_state: Leader"), "{s}");
        app.key(Key::Esc);
        app.key(Key::Char('?'));
        assert!(screen(&app, 80, 24).contains("pause / resume polling"));
        app.key(Key::Esc);
        app.key(Key::Char('p'));
        assert!(screen(&app, 80, 24).contains("⏸ paused"));
    }

    #[test]
    fn without_colour_no_cell_is_coloured_but_the_symbols_remain() {
        let mut app = sample_app();
        app.color = false;
        let mut t = Terminal::new(TestBackend::new(80, 24)).unwrap();
        t.draw(|f| draw(f, &app)).unwrap();
        let buf = t.backend().buffer().clone();
        let mut text = String::new();
        for y in 0..24 {
            for x in 0..80 {
                let c = &buf[(x, y)];
                assert_eq!((c.fg, c.bg), (Color::Reset, Color::Reset), "({x},{y})");
                text.push_str(c.symbol());
            }
        }
        assert!(text.contains("● Leader") && text.contains("✗ down"));
        // With colour on, the leader row is green.
        app.color = true;
        t.draw(|f| draw(f, &app)).unwrap();
        let coloured = t
            .backend()
            .buffer()
            .content
            .iter()
            .any(|c| c.fg == Color::Green);
        assert!(coloured);
    }

    #[test]
    fn tiny_terminals_do_not_panic() {
        for (w, h) in [(1, 1), (20, 5), (40, 10), (80, 24), (200, 60)] {
            screen(&sample_app(), w, h);
        }
    }
}
