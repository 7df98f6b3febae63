//! `top`: the live dashboard (ratatui + crossterm).
//!
//! Three parts, like bottom and ratatui's demo2: [`state::App`] is a plain
//! struct that polls and keys update; [`view::draw`] renders it and does
//! nothing else; this module runs the loop. Polling happens on its own
//! thread (every node at once, each bounded by `--timeout`) and sends
//! results over a channel, so a dead or frozen node never freezes the
//! screen: the loop only ever waits for a key, at most 100 ms.
//!
//! The terminal is restored on every exit path: normal quit, an error
//! (the guard's `Drop`), and a panic (ratatui's panic hook, installed by
//! `ratatui::try_init`).

pub mod state;
pub mod view;

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};

use crate::cli::{Cli, TopArgs};
use crate::poll::{self, Target};
use crate::Error;
use state::{Action, App, Key, NodePoll, Poll};

/// Restores the terminal when dropped.
struct TerminalGuard;

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        ratatui::restore();
    }
}

fn key_of(e: event::KeyEvent) -> Option<Key> {
    if e.kind != KeyEventKind::Press {
        return None;
    }
    Some(match e.code {
        KeyCode::Char('c') if e.modifiers.contains(KeyModifiers::CONTROL) => Key::CtrlC,
        KeyCode::Char(c) => Key::Char(c),
        KeyCode::Up => Key::Up,
        KeyCode::Down => Key::Down,
        KeyCode::Enter => Key::Enter,
        KeyCode::Esc => Key::Esc,
        _ => return None,
    })
}

/// Polls every target with `INFO` every `refresh`, until the receiver
/// hangs up.
fn start_poller(
    targets: Vec<Target>,
    timeout: Duration,
    refresh: Arc<Mutex<Duration>>,
    tx: mpsc::Sender<Poll>,
) {
    std::thread::spawn(move || {
        let start = Instant::now();
        loop {
            let began = Instant::now();
            let nodes = std::thread::scope(|s| {
                let handles: Vec<_> = targets
                    .iter()
                    .map(|t| {
                        s.spawn(move || NodePoll {
                            id: t.id.clone(),
                            addr: t.addr.clone(),
                            info: poll::query(&t.addr, timeout, &["INFO"])
                                .map(|text| poll::parse_info(&text)),
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .zip(&targets)
                    .map(|(h, t)| {
                        h.join().unwrap_or_else(|_| NodePoll {
                            id: t.id.clone(),
                            addr: t.addr.clone(),
                            info: Err("poll panicked".into()),
                        })
                    })
                    .collect()
            });
            let clock = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
                .to_string()
                .get(11..19)
                .unwrap_or_default()
                .to_string();
            let p = Poll {
                at_ms: start.elapsed().as_millis() as u64,
                clock,
                nodes,
            };
            if tx.send(p).is_err() {
                return;
            }
            // Short naps, so a new refresh rate (+/-) applies at once.
            loop {
                let every = *refresh.lock().unwrap_or_else(|e| e.into_inner());
                let left = every.saturating_sub(began.elapsed());
                if left.is_zero() {
                    break;
                }
                std::thread::sleep(left.min(Duration::from_millis(50)));
            }
        }
    });
}

pub fn run(cli: &Cli, args: &TopArgs) -> Result<u8, Error> {
    if args.refresh < state::MIN_REFRESH {
        return Err(Error::Usage(format!(
            "--refresh {}ms: at least 100ms",
            args.refresh.as_millis()
        )));
    }
    let targets = crate::cmd::targets(cli)?;
    let title = match (&cli.file, cli.endpoints.is_empty()) {
        (Some(_), true) => crate::cmd::load_spec(cli)?.name,
        _ => format!("{} endpoint(s)", targets.len()),
    };
    {
        use std::io::IsTerminal;
        if !std::io::stdout().is_terminal() {
            return Err(Error::Usage(
                "top needs a terminal; for scripts use status -o json".into(),
            ));
        }
    }
    let mut app = App::new(title, args.refresh);
    app.color = crate::output::use_color(cli.color);
    let refresh = Arc::new(Mutex::new(app.refresh));
    let (tx, rx) = mpsc::channel();
    start_poller(targets, cli.timeout, refresh.clone(), tx);

    let mut terminal = ratatui::try_init().map_err(|e| Error::Failed(format!("terminal: {e}")))?;
    let _guard = TerminalGuard;
    let draw_err = |e: std::io::Error| Error::Failed(format!("terminal: {e}"));
    loop {
        while let Ok(p) = rx.try_recv() {
            app.apply(p);
        }
        terminal.draw(|f| view::draw(f, &app)).map_err(draw_err)?;
        if event::poll(Duration::from_millis(100)).map_err(draw_err)? {
            if let Event::Key(k) = event::read().map_err(draw_err)? {
                match key_of(k).map(|k| app.key(k)) {
                    Some(Action::Quit) => break,
                    Some(Action::Refresh(d)) => {
                        *refresh.lock().unwrap_or_else(|e| e.into_inner()) = d;
                    }
                    _ => {}
                }
            }
        }
    }
    Ok(0)
}
