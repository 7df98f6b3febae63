//! The dashboard's state: a plain struct that polls and keys update, and
//! that rendering ([`super::view`]) only reads. Nothing here touches the
//! terminal or the network, so every behaviour is tested directly.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use crate::cmd::health::{self, HealthReport};
use crate::poll::{NodeReport, RaftView};

/// Samples kept per node for the sparklines.
pub const HISTORY: usize = 120;
/// Leader changes kept in the timeline.
pub const TIMELINE: usize = 50;
pub const MIN_REFRESH: Duration = Duration::from_millis(100);
pub const MAX_REFRESH: Duration = Duration::from_secs(60);

/// One node's answer to one poll: its `INFO` fields, or why there is none.
#[derive(Debug, Clone)]
pub struct NodePoll {
    pub id: Option<String>,
    pub addr: String,
    pub info: Result<HashMap<String, String>, String>,
}

/// One poll of every node, taken `at_ms` after the dashboard started
/// (wall-clock label for the timeline in `clock`).
#[derive(Debug, Clone)]
pub struct Poll {
    pub at_ms: u64,
    pub clock: String,
    pub nodes: Vec<NodePoll>,
}

/// What the dashboard knows about one node.
#[derive(Debug, Clone, Default)]
pub struct NodeState {
    pub id: String,
    pub addr: String,
    pub raft: Option<RaftView>,
    pub error: Option<String>,
    pub info: HashMap<String, String>,
    /// Commands per second between the last two polls.
    pub ops: Option<u64>,
    pub lag: Option<u64>,
    pub ops_history: VecDeque<u64>,
    pub lag_history: VecDeque<u64>,
    last_commands: Option<(u64, u64)>,
}

impl NodeState {
    pub fn field(&self, k: &str) -> Option<&str> {
        self.info.get(k).map(String::as_str)
    }
}

/// A leader change, as seen between two polls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderChange {
    pub clock: String,
    pub term: u64,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// What a key asks the loop to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    None,
    Quit,
    /// The refresh interval changed: tell the poller.
    Refresh(Duration),
}

/// A key press, stripped to what the dashboard reacts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Char(char),
    CtrlC,
    Up,
    Down,
    Enter,
    Esc,
}

#[derive(Debug, Clone)]
pub struct App {
    pub title: String,
    pub nodes: Vec<NodeState>,
    pub selected: usize,
    pub paused: bool,
    pub help: bool,
    pub detail: bool,
    pub refresh: Duration,
    pub health: Option<HealthReport>,
    pub timeline: VecDeque<LeaderChange>,
    pub polls: u64,
    pub last_clock: String,
    /// Colour on (`--color`, `NO_COLOR`); symbols say the same without it.
    pub color: bool,
    current_leader: Option<(String, u64)>,
}

impl App {
    pub fn new(title: String, refresh: Duration) -> App {
        App {
            title,
            nodes: Vec::new(),
            selected: 0,
            paused: false,
            help: false,
            detail: false,
            refresh: refresh.clamp(MIN_REFRESH, MAX_REFRESH),
            health: None,
            timeline: VecDeque::new(),
            polls: 0,
            last_clock: String::new(),
            color: true,
            current_leader: None,
        }
    }

    /// Folds one poll in (ignored while paused: the screen stays as it was).
    pub fn apply(&mut self, poll: Poll) {
        if self.paused {
            return;
        }
        self.polls += 1;
        self.last_clock = poll.clock.clone();
        let mut reports = Vec::with_capacity(poll.nodes.len());
        for (i, p) in poll.nodes.into_iter().enumerate() {
            if self.nodes.len() <= i {
                self.nodes.push(NodeState::default());
            }
            let n = &mut self.nodes[i];
            n.addr = p.addr.clone();
            match p.info {
                Ok(info) => {
                    let raft = crate::poll::raft_view(&info);
                    let commands: Option<u64> = info
                        .get("total_commands_processed")
                        .and_then(|v| v.parse().ok());
                    n.ops = match (n.last_commands, commands) {
                        (Some((prev, at)), Some(now)) if poll.at_ms > at && now >= prev => {
                            Some((now - prev) * 1000 / (poll.at_ms - at))
                        }
                        _ => None,
                    };
                    n.last_commands = commands.map(|c| (c, poll.at_ms));
                    n.info = info;
                    match raft {
                        Ok(v) => {
                            n.id = p.id.clone().unwrap_or_else(|| v.node_id.clone());
                            n.raft = Some(v);
                            n.error = None;
                        }
                        Err(e) => {
                            n.id = p.id.clone().unwrap_or_else(|| "?".into());
                            n.raft = None;
                            n.error = Some(e);
                        }
                    }
                }
                Err(e) => {
                    n.id = p.id.clone().unwrap_or_else(|| "?".into());
                    n.raft = None;
                    n.error = Some(e);
                    n.ops = None;
                    n.last_commands = None;
                    // The detail view must not show a dead node's old INFO.
                    n.info.clear();
                }
            }
            reports.push(NodeReport {
                node: n.id.clone(),
                addr: n.addr.clone(),
                raft: n.raft.clone(),
                error: n.error.clone(),
                standalone: false,
            });
        }
        let rows = crate::cmd::status::rows(reports.clone());
        for (n, row) in self.nodes.iter_mut().zip(&rows) {
            n.lag = row.lag;
            push(&mut n.ops_history, n.ops.unwrap_or(0));
            push(&mut n.lag_history, n.lag.unwrap_or(0));
        }
        self.health = Some(health::evaluate(&reports, 1000));
        self.note_leader(&reports, &poll.clock);
        self.selected = self.selected.min(self.nodes.len().saturating_sub(1));
    }

    /// Adds a timeline entry when the newest term's leader differs from
    /// the last one seen.
    fn note_leader(&mut self, reports: &[NodeReport], clock: &str) {
        let newest = reports
            .iter()
            .filter_map(|r| r.raft.as_ref())
            .filter(|v| v.state == "Leader")
            .max_by_key(|v| v.term)
            .map(|v| (v.node_id.clone(), v.term));
        let changed = match (&self.current_leader, &newest) {
            (None, None) => false,
            (Some((a, _)), Some((b, _))) => a != b,
            _ => true,
        };
        if changed {
            let term = newest
                .as_ref()
                .map(|(_, t)| *t)
                .or(self.current_leader.as_ref().map(|(_, t)| *t))
                .unwrap_or(0);
            self.timeline.push_front(LeaderChange {
                clock: clock.to_string(),
                term,
                from: self.current_leader.as_ref().map(|(l, _)| l.clone()),
                to: newest.as_ref().map(|(l, _)| l.clone()),
            });
            self.timeline.truncate(TIMELINE);
        }
        self.current_leader = newest;
    }

    pub fn key(&mut self, key: Key) -> Action {
        if self.help || self.detail {
            // An overlay takes the key that closes it; q still quits.
            match key {
                Key::Char('q') | Key::CtrlC => return Action::Quit,
                Key::Esc | Key::Enter | Key::Char('?') => {
                    self.help = false;
                    self.detail = false;
                    return Action::None;
                }
                _ => {}
            }
        }
        match key {
            Key::Char('q') | Key::CtrlC => Action::Quit,
            Key::Char('?') => {
                self.help = true;
                Action::None
            }
            Key::Char('j') | Key::Down => {
                if self.selected + 1 < self.nodes.len() {
                    self.selected += 1;
                }
                Action::None
            }
            Key::Char('k') | Key::Up => {
                self.selected = self.selected.saturating_sub(1);
                Action::None
            }
            Key::Enter => {
                self.detail = !self.nodes.is_empty();
                Action::None
            }
            Key::Char('p') => {
                self.paused = !self.paused;
                Action::None
            }
            Key::Char('+') => self.set_refresh(self.refresh * 2),
            Key::Char('-') => self.set_refresh(self.refresh / 2),
            _ => Action::None,
        }
    }

    fn set_refresh(&mut self, d: Duration) -> Action {
        self.refresh = d.clamp(MIN_REFRESH, MAX_REFRESH);
        Action::Refresh(self.refresh)
    }
}

fn push(h: &mut VecDeque<u64>, v: u64) {
    if h.len() == HISTORY {
        h.pop_front();
    }
    h.push_back(v);
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A node's `INFO` as helios-atlasd writes it.
    pub fn info(
        id: &str,
        state: &str,
        term: u64,
        leader: &str,
        commit: u64,
        commands: u64,
    ) -> NodePoll {
        let text = format!(
            "# Clients\r\nconnected_clients:3\r\n# Memory\r\nused_memory_human:1.20M\r\n# Stats\r\ntotal_commands_processed:{commands}\r\n# Raft\r\nraft_enabled:true\r\nraft_node_id:{id}\r\nraft_state:{state}\r\nraft_leader:{leader}\r\nraft_term:{term}\r\nraft_commit_index:{commit}\r\nraft_applied_index:{commit}\r\nraft_last_log_index:{commit}\r\nraft_voters:node-1,node-2,node-3\r\n"
        );
        NodePoll {
            id: Some(id.into()),
            addr: format!(
                "127.0.0.1:{}",
                6379 + id.trim_start_matches("node-").parse::<u16>().unwrap_or(0) - 1
            ),
            info: Ok(crate::poll::parse_info(&text)),
        }
    }

    pub fn down(id: &str) -> NodePoll {
        NodePoll {
            id: Some(id.into()),
            addr: "127.0.0.1:1".into(),
            info: Err("127.0.0.1:1: Connection refused (os error 111)".into()),
        }
    }

    pub fn poll(at_ms: u64, nodes: Vec<NodePoll>) -> Poll {
        Poll {
            at_ms,
            clock: format!("12:00:{:02}", at_ms / 1000),
            nodes,
        }
    }

    pub fn three(term: u64, leader: &str, commit: u64, commands: u64) -> Vec<NodePoll> {
        ["node-1", "node-2", "node-3"]
            .iter()
            .map(|id| {
                let state = if *id == leader { "Leader" } else { "Follower" };
                info(id, state, term, leader, commit, commands)
            })
            .collect()
    }

    #[test]
    fn polls_give_ops_per_second_lag_and_health() {
        let mut app = App::new("local".into(), Duration::from_secs(1));
        app.apply(poll(0, three(2, "node-1", 100, 1000)));
        assert_eq!(app.nodes.len(), 3);
        assert_eq!(app.nodes[0].ops, None, "one poll gives no rate");
        let mut next = three(2, "node-1", 150, 3000);
        next[2] = info("node-3", "Follower", 2, "node-1", 120, 3000);
        app.apply(poll(2000, next));
        assert_eq!(app.nodes[0].ops, Some(1000));
        assert_eq!(app.nodes[2].lag, Some(30));
        assert_eq!(app.nodes[2].lag_history.back(), Some(&30));
        assert_eq!(app.health.as_ref().unwrap().status, health::Level::Ok);
    }

    #[test]
    fn leader_changes_go_into_the_timeline_newest_first() {
        let mut app = App::new("local".into(), Duration::from_secs(1));
        app.apply(poll(0, three(2, "node-1", 10, 0)));
        app.apply(poll(1000, three(2, "node-1", 11, 0)));
        app.apply(poll(
            2000,
            vec![
                down("node-1"),
                info("node-2", "Candidate", 3, "", 11, 0),
                info("node-3", "Follower", 2, "", 11, 0),
            ],
        ));
        app.apply(poll(
            3000,
            vec![
                down("node-1"),
                info("node-2", "Leader", 3, "node-2", 12, 0),
                info("node-3", "Follower", 3, "node-2", 12, 0),
            ],
        ));
        let t: Vec<(Option<&str>, Option<&str>, u64)> = app
            .timeline
            .iter()
            .map(|c| (c.from.as_deref(), c.to.as_deref(), c.term))
            .collect();
        assert_eq!(
            t,
            [
                (None, Some("node-2"), 3),
                (Some("node-1"), None, 2),
                (None, Some("node-1"), 2),
            ]
        );
        assert_eq!(app.timeline[0].clock, "12:00:03");
        assert!(app.nodes[0].error.as_deref().unwrap().contains("refused"));
        assert!(
            app.nodes[0].info.is_empty(),
            "stale INFO kept for a down node"
        );
    }

    #[test]
    fn keys_select_pause_change_refresh_and_quit() {
        let mut app = App::new("local".into(), Duration::from_secs(1));
        app.apply(poll(0, three(2, "node-1", 10, 0)));
        assert_eq!(app.key(Key::Char('j')), Action::None);
        app.key(Key::Down);
        app.key(Key::Down);
        assert_eq!(app.selected, 2, "stops at the last node");
        app.key(Key::Char('k'));
        assert_eq!(app.selected, 1);
        app.key(Key::Char('p'));
        app.apply(poll(1000, three(5, "node-3", 99, 0)));
        assert_eq!(app.nodes[0].raft.as_ref().unwrap().term, 2, "paused");
        app.key(Key::Char('p'));
        assert_eq!(
            app.key(Key::Char('+')),
            Action::Refresh(Duration::from_secs(2))
        );
        for _ in 0..10 {
            app.key(Key::Char('-'));
        }
        assert_eq!(app.refresh, MIN_REFRESH);
        app.key(Key::Enter);
        assert!(app.detail);
        app.key(Key::Esc);
        assert!(!app.detail);
        app.key(Key::Char('?'));
        assert!(app.help);
        assert_eq!(app.key(Key::Char('q')), Action::Quit);
        assert_eq!(app.key(Key::CtrlC), Action::Quit);
    }
}
