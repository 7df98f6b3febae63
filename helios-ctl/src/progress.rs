//! Progress on stderr while commands wait: indicatif bars on a terminal,
//! nothing otherwise (logs and CI output stay plain lines), nothing with
//! `-q`.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::poll::NodeReport;

/// One spinner per node, each saying what that node reports right now.
pub struct NodeBars {
    bars: Vec<ProgressBar>,
    _multi: Option<MultiProgress>,
}

impl NodeBars {
    /// Bars for `ids` when stderr is a terminal and not `quiet`.
    pub fn new(ids: &[String], quiet: bool) -> NodeBars {
        if quiet || !std::io::stderr().is_terminal() {
            return NodeBars {
                bars: Vec::new(),
                _multi: None,
            };
        }
        let multi = MultiProgress::new();
        let style = ProgressStyle::with_template("{spinner} {prefix:10} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        let bars = ids
            .iter()
            .map(|id| {
                let b = multi.add(ProgressBar::new_spinner());
                b.set_style(style.clone());
                b.set_prefix(id.clone());
                b.set_message("waiting for an answer");
                b.enable_steady_tick(Duration::from_millis(100));
                b
            })
            .collect();
        NodeBars {
            bars,
            _multi: Some(multi),
        }
    }

    /// Shows each node's latest report.
    pub fn update(&self, reports: &[NodeReport]) {
        for (b, r) in self.bars.iter().zip(reports) {
            b.set_message(match &r.raft {
                Some(v) => match v.state.as_str() {
                    "Leader" => format!("● Leader, term {}", v.term),
                    "Follower" => format!(
                        "○ Follower of {}, term {}",
                        v.leader.as_deref().unwrap_or("?"),
                        v.term
                    ),
                    other => format!("◌ {other}, term {}", v.term),
                },
                None => format!("waiting: {}", r.error.as_deref().unwrap_or("no answer yet")),
            });
        }
    }

    /// Prints a line above the bars (or plainly when there are none).
    pub fn say(&self, quiet: bool, msg: String) {
        match self.bars.first() {
            Some(b) => b.println(format!("helios-ctl: {msg}")),
            None if !quiet => eprintln!("helios-ctl: {msg}"),
            None => {}
        }
    }

    pub fn finish(&self) {
        for b in &self.bars {
            b.finish_and_clear();
        }
    }
}

impl Drop for NodeBars {
    fn drop(&mut self) {
        self.finish();
    }
}

/// One spinner with a status line; messages print above it (or as plain
/// lines without a terminal).
pub struct Spinner {
    bar: Option<ProgressBar>,
    quiet: bool,
}

impl Spinner {
    pub fn new(quiet: bool) -> Spinner {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let b = ProgressBar::new_spinner();
            b.enable_steady_tick(Duration::from_millis(100));
            b
        });
        Spinner { bar, quiet }
    }

    pub fn say(&self, msg: String) {
        match &self.bar {
            Some(b) => b.println(format!("helios-ctl: {msg}")),
            None if !self.quiet => eprintln!("helios-ctl: {msg}"),
            None => {}
        }
    }

    pub fn status(&self, msg: String) {
        if let Some(b) = &self.bar {
            b.set_message(msg);
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
