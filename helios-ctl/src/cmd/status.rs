//! `status`: one row per node, polled concurrently (like `etcdctl endpoint
//! status -w table`). Exit 1 when any node could not be polled; the table
//! is printed either way.

use serde::Serialize;

use crate::cli::{Cli, Format};
use crate::output::{self, colored, Cell, Color};
use crate::poll::{self, NodeReport};
use crate::Error;

/// A node's row: its report plus how far it trails the leader.
#[derive(Debug, Serialize)]
pub struct StatusRow {
    #[serde(flatten)]
    pub report: NodeReport,
    /// The leader's commit index minus this node's applied index.
    pub lag: Option<u64>,
}

/// Rows for `reports`: lag is measured against the commit index of the
/// node that claims leadership in the highest term (or, without one, the
/// highest commit index seen).
pub fn rows(reports: Vec<NodeReport>) -> Vec<StatusRow> {
    let views = || reports.iter().filter_map(|r| r.raft.as_ref());
    let reference = views()
        .filter(|v| v.state == "Leader")
        .max_by_key(|v| v.term)
        .map(|v| v.commit_index)
        .or_else(|| views().map(|v| v.commit_index).max());
    reports
        .into_iter()
        .map(|r| {
            let lag = match (&r.raft, reference) {
                (Some(v), Some(c)) => Some(c.saturating_sub(v.applied_index)),
                _ => None,
            };
            StatusRow { report: r, lag }
        })
        .collect()
}

pub fn run(cli: &Cli) -> Result<u8, Error> {
    let targets = super::targets(cli)?;
    let rows = rows(poll::poll_all(&targets, cli.timeout));
    let failed = rows.iter().any(|r| r.report.error.is_some());
    print(cli, &rows)?;
    Ok(u8::from(failed))
}

/// Prints the rows as `-o` asks (also the report of `cluster up|init`).
pub fn print(cli: &Cli, rows: &[StatusRow]) -> Result<(), Error> {
    match cli.output {
        Format::Table => print!("{}", render(rows, output::use_color(cli.color))),
        f => print!("{}", output::structured(&rows, f)?),
    }
    Ok(())
}

/// The status table.
pub fn render(rows: &[StatusRow], color: bool) -> String {
    let header = [
        "NODE",
        "ADDR",
        "STATE",
        "TERM",
        "LEADER",
        "COMMIT",
        "APPLIED",
        "LAG",
        "LAST-CONTACT",
        "ERRORS",
    ];
    let dash = || Cell::from("-");
    let table: Vec<Vec<Cell>> = rows
        .iter()
        .map(|row| {
            let r = &row.report;
            let mut cells = vec![Cell::from(r.node.clone()), Cell::from(r.addr.clone())];
            match &r.raft {
                Some(v) => {
                    cells.push(match v.state.as_str() {
                        "Leader" => colored("● Leader", Color::Green),
                        "Follower" => Cell::from("○ Follower"),
                        other => colored(format!("◌ {other}"), Color::Yellow),
                    });
                    cells.push(Cell::from(v.term.to_string()));
                    cells.push(Cell::from(v.leader.clone().unwrap_or_else(|| "-".into())));
                    cells.push(Cell::from(v.commit_index.to_string()));
                    cells.push(Cell::from(v.applied_index.to_string()));
                    cells.push(row.lag.map_or_else(dash, |l| Cell::from(l.to_string())));
                    cells.push(
                        v.last_contact_ms
                            .map_or_else(dash, |ms| Cell::from(format!("{ms}ms"))),
                    );
                    cells.push(dash());
                }
                None => {
                    cells.push(colored("✗ down", Color::Red));
                    cells.extend((0..6).map(|_| dash()));
                    cells.push(Cell::from(r.error.clone().unwrap_or_default()));
                }
            }
            cells
        })
        .collect();
    output::table(&header, &table, color)
}
