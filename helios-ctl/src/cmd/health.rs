//! `health`: named checks over every node's view of the cluster, one
//! summary line, then a table. Exit codes follow the Nagios plugin
//! convention: 0 OK, 1 WARNING (degraded but serving: a node down or
//! lagging while a quorum and one agreed leader hold), 2 CRITICAL (no
//! leader, two leaders in one term, quorum lost), 3 UNKNOWN (bad usage).
//!
//! `--local` judges one node by itself, for container health checks: it
//! answers, knows a leader, and applies what it has committed.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::cli::{Cli, HealthArgs};
use crate::output::{self, colored, Cell, Color};
use crate::poll::{self, NodeReport};
use crate::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    Ok = 0,
    Warning = 1,
    Critical = 2,
    Unknown = 3,
}

impl Level {
    fn cell(self) -> Cell {
        match self {
            Level::Ok => colored("✓ OK", Color::Green),
            Level::Warning => colored("! WARNING", Color::Yellow),
            Level::Critical => colored("✗ CRITICAL", Color::Red),
            Level::Unknown => colored("? UNKNOWN", Color::Yellow),
        }
    }

    /// Severity when checks are combined: a check that could not be made
    /// (UNKNOWN) does not hide one that failed (CRITICAL).
    fn severity(self) -> u8 {
        match self {
            Level::Ok => 0,
            Level::Warning => 1,
            Level::Unknown => 2,
            Level::Critical => 3,
        }
    }

    fn word(self) -> &'static str {
        match self {
            Level::Ok => "OK",
            Level::Warning => "WARNING",
            Level::Critical => "CRITICAL",
            Level::Unknown => "UNKNOWN",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub status: Level,
    pub detail: String,
}

fn check(name: &'static str, status: Level, detail: impl Into<String>) -> Check {
    Check {
        name,
        status,
        detail: detail.into(),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct HealthReport {
    pub status: Level,
    pub summary: String,
    pub checks: Vec<Check>,
}

/// Judges the cluster from every node's report.
pub fn evaluate(reports: &[NodeReport], max_lag: u64) -> HealthReport {
    let up: Vec<&NodeReport> = reports.iter().filter(|r| r.raft.is_some()).collect();
    let down: Vec<String> = reports
        .iter()
        .filter(|r| r.raft.is_none())
        .map(|r| format!("{} ({})", r.node, r.error.as_deref().unwrap_or("no answer")))
        .collect();
    let views: Vec<crate::poll::RaftView> = up.iter().filter_map(|r| r.raft.clone()).collect();
    let mut checks = Vec::new();

    checks.push(if down.is_empty() {
        check(
            "reachable",
            Level::Ok,
            format!("{}/{} nodes answered", up.len(), reports.len()),
        )
    } else {
        check(
            "reachable",
            if up.is_empty() {
                Level::Critical
            } else {
                Level::Warning
            },
            format!(
                "{}/{} answered; down: {}",
                up.len(),
                reports.len(),
                down.join(", ")
            ),
        )
    });

    // Voters as the most recent term's nodes see them; the polled list
    // when no node answered.
    let voters: BTreeSet<String> = views
        .iter()
        .max_by_key(|v| v.term)
        .map(|v| v.voters.iter().cloned().collect())
        .unwrap_or_default();
    let total = if voters.is_empty() {
        reports.len()
    } else {
        voters.len()
    };
    let reachable_voters = if voters.is_empty() {
        up.len()
    } else {
        views.iter().filter(|v| voters.contains(&v.node_id)).count()
    };
    let majority = total / 2 + 1;
    checks.push(check(
        "quorum-reachable",
        if reachable_voters >= majority {
            Level::Ok
        } else {
            Level::Critical
        },
        format!("{reachable_voters} of {total} voters answer; a quorum is {majority}"),
    ));

    let leaders: Vec<(String, u64)> = views
        .iter()
        .filter(|v| v.state == "Leader")
        .map(|v| (v.node_id.clone(), v.term))
        .collect();
    let newest = leaders.iter().max_by_key(|(_, t)| *t).cloned();
    checks.push(match &newest {
        Some((id, term)) => check(
            "has-leader",
            Level::Ok,
            format!("{id} leads in term {term}"),
        ),
        None => check("has-leader", Level::Critical, "no node is leader"),
    });

    let top_term = newest.as_ref().map(|(_, t)| *t).unwrap_or(0);
    let same_term: Vec<&String> = leaders
        .iter()
        .filter(|(_, t)| *t == top_term)
        .map(|(id, _)| id)
        .collect();
    checks.push(if same_term.len() > 1 {
        check(
            "single-leader",
            Level::Critical,
            format!(
                "{} all claim leadership in term {top_term}",
                join(&same_term)
            ),
        )
    } else if leaders.len() > 1 {
        let stale: Vec<String> = leaders
            .iter()
            .filter(|(_, t)| *t < top_term)
            .map(|(id, t)| format!("{id} (term {t})"))
            .collect();
        check(
            "single-leader",
            Level::Warning,
            format!("stale leader not yet stepped down: {}", stale.join(", ")),
        )
    } else {
        check(
            "single-leader",
            Level::Ok,
            format!("{} node(s) claim leadership", leaders.len()),
        )
    });

    let named: BTreeSet<Option<String>> = views.iter().map(|v| v.leader.clone()).collect();
    // A node that knows the leader but has not received the membership yet
    // reports Learner (or Candidate): not settled.
    let unsettled: Vec<String> = views
        .iter()
        .filter(|v| v.state != "Leader" && v.state != "Follower")
        .map(|v| format!("{} is {}", v.node_id, v.state))
        .collect();
    checks.push(match (&newest, named.len()) {
        (Some(_), 1) if !unsettled.is_empty() => {
            check("agreed-leader", Level::Warning, unsettled.join(", "))
        }
        (Some((id, _)), 1) if named.contains(&Some(id.clone())) => check(
            "agreed-leader",
            Level::Ok,
            format!("every answering node names {id}"),
        ),
        _ => {
            let said: Vec<String> = views
                .iter()
                .map(|v| {
                    format!(
                        "{} says {}",
                        v.node_id,
                        v.leader.as_deref().unwrap_or("none")
                    )
                })
                .collect();
            check("agreed-leader", Level::Warning, said.join(", "))
        }
    });

    let reference = views
        .iter()
        .filter(|v| v.state == "Leader" && v.term == top_term)
        .map(|v| v.commit_index)
        .max();
    checks.push(match reference {
        None => check("lag", Level::Unknown, "no leader to measure against"),
        Some(commit) => {
            let lagging: Vec<String> = views
                .iter()
                .filter(|v| commit.saturating_sub(v.applied_index) > max_lag)
                .map(|v| format!("{} ({} behind)", v.node_id, commit - v.applied_index))
                .collect();
            let worst = views
                .iter()
                .map(|v| commit.saturating_sub(v.applied_index))
                .max()
                .unwrap_or(0);
            if lagging.is_empty() {
                check(
                    "lag",
                    Level::Ok,
                    format!("at most {worst} entries behind the leader (limit {max_lag})"),
                )
            } else {
                check(
                    "lag",
                    Level::Warning,
                    format!("over {max_lag} entries behind: {}", lagging.join(", ")),
                )
            }
        }
    });
    checks.push(applied_check(&views, max_lag));
    finish(checks, |status, checks| {
        summary(status, checks, &newest, up.len(), reports.len())
    })
}

/// Every node applies what it has committed (an apply stall shows here).
fn applied_check(views: &[crate::poll::RaftView], max_lag: u64) -> Check {
    let stuck: Vec<String> = views
        .iter()
        .filter(|v| v.commit_index.saturating_sub(v.applied_index) > max_lag)
        .map(|v| {
            format!(
                "{} applied {} of {}",
                v.node_id, v.applied_index, v.commit_index
            )
        })
        .collect();
    if stuck.is_empty() {
        check(
            "applied-caught-up",
            Level::Ok,
            "every node applies what it commits",
        )
    } else {
        check("applied-caught-up", Level::Warning, stuck.join(", "))
    }
}

/// Judges one node on its own.
pub fn evaluate_local(report: &NodeReport, max_lag: u64) -> HealthReport {
    if report.standalone {
        // A standalone node that answers is all there is to judge (the
        // same image runs both ways).
        let checks = vec![check(
            "reachable",
            Level::Ok,
            format!("{} answered (standalone, no Raft)", report.addr),
        )];
        return finish(checks, |s, c| {
            format!("HEALTH {}: {}", s.word(), c[0].detail)
        });
    }
    let Some(v) = &report.raft else {
        let checks = vec![check(
            "reachable",
            Level::Critical,
            format!(
                "{}: {}",
                report.addr,
                report.error.as_deref().unwrap_or("no answer")
            ),
        )];
        return finish(checks, |s, c| {
            format!("HEALTH {}: {}", s.word(), c[0].detail)
        });
    };
    let mut checks = vec![check(
        "reachable",
        Level::Ok,
        format!("{} answered", v.node_id),
    )];
    checks.push(match (&v.leader, v.state.as_str()) {
        (Some(l), _) => check(
            "has-leader",
            Level::Ok,
            format!("{} follows {l} (term {})", v.node_id, v.term),
        ),
        (None, _) => check(
            "has-leader",
            Level::Critical,
            format!("{} knows no leader", v.node_id),
        ),
    });
    checks.push(applied_check(std::slice::from_ref(v), max_lag));
    let id = v.node_id.clone();
    finish(checks, |s, c| {
        let bad: Vec<&str> = c
            .iter()
            .filter(|x| x.status != Level::Ok)
            .map(|x| x.detail.as_str())
            .collect();
        if bad.is_empty() {
            format!("HEALTH {}: {id} is serving", s.word())
        } else {
            format!("HEALTH {}: {}", s.word(), bad.join("; "))
        }
    })
}

fn finish(checks: Vec<Check>, summary: impl Fn(Level, &[Check]) -> String) -> HealthReport {
    let status = checks
        .iter()
        .map(|c| c.status)
        .max_by_key(|l| l.severity())
        .unwrap_or(Level::Unknown);
    HealthReport {
        summary: summary(status, &checks),
        status,
        checks,
    }
}

fn summary(
    status: Level,
    checks: &[Check],
    leader: &Option<(String, u64)>,
    up: usize,
    total: usize,
) -> String {
    let problems: Vec<String> = checks
        .iter()
        .filter(|c| c.status != Level::Ok)
        .map(|c| format!("{}: {}", c.name, c.detail))
        .collect();
    if problems.is_empty() {
        let (id, term) = leader.clone().unwrap_or_default();
        format!("HEALTH OK: {up}/{total} nodes answer, {id} leads in term {term}")
    } else {
        format!("HEALTH {}: {}", status.word(), problems.join("; "))
    }
}

fn join(ids: &[&String]) -> String {
    ids.iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn run(cli: &Cli, args: &HealthArgs) -> Result<u8, Error> {
    let mut targets = super::targets(cli)?;
    let report = if args.local {
        targets.truncate(1);
        let reports = poll::poll_all(&targets, cli.timeout);
        evaluate_local(&reports[0], args.max_lag)
    } else {
        evaluate(&poll::poll_all(&targets, cli.timeout), args.max_lag)
    };
    let rows: Vec<Vec<Cell>> = report
        .checks
        .iter()
        .map(|c| {
            vec![
                Cell::from(c.name),
                c.status.cell(),
                Cell::from(c.detail.clone()),
            ]
        })
        .collect();
    output::print_verdict(
        cli,
        &report.summary,
        &["CHECK", "STATUS", "DETAIL"],
        &rows,
        &report,
    )?;
    Ok(report.status as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::poll::RaftView;

    fn node(
        id: &str,
        state: &str,
        term: u64,
        leader: Option<&str>,
        commit: u64,
        applied: u64,
    ) -> NodeReport {
        NodeReport {
            node: id.into(),
            addr: format!("{id}:1"),
            raft: Some(RaftView {
                node_id: id.into(),
                state: state.into(),
                term,
                leader: leader.map(str::to_string),
                commit_index: commit,
                applied_index: applied,
                last_log_index: commit,
                voters: vec!["a".into(), "b".into(), "c".into()],
                last_contact_ms: None,
                quorum_ack_ms: None,
            }),
            error: None,
            standalone: false,
        }
    }

    use crate::poll::tests::down;

    fn level_of(r: &HealthReport, name: &str) -> Level {
        r.checks.iter().find(|c| c.name == name).unwrap().status
    }

    #[test]
    fn healthy_cluster_is_ok() {
        let r = evaluate(
            &[
                node("a", "Leader", 3, Some("a"), 10, 10),
                node("b", "Follower", 3, Some("a"), 10, 9),
                node("c", "Follower", 3, Some("a"), 10, 10),
            ],
            1000,
        );
        assert_eq!(r.status, Level::Ok, "{r:?}");
        assert!(
            r.summary
                .starts_with("HEALTH OK: 3/3 nodes answer, a leads in term 3"),
            "{}",
            r.summary
        );
    }

    #[test]
    fn one_node_down_or_lagging_is_a_warning() {
        let r = evaluate(
            &[
                node("a", "Leader", 3, Some("a"), 10, 10),
                node("b", "Follower", 3, Some("a"), 10, 10),
                down("c"),
            ],
            1000,
        );
        assert_eq!(r.status, Level::Warning);
        assert_eq!(level_of(&r, "quorum-reachable"), Level::Ok);
        assert!(
            r.summary.contains("c (connection refused)"),
            "{}",
            r.summary
        );
        let r = evaluate(
            &[
                node("a", "Leader", 3, Some("a"), 5000, 5000),
                node("b", "Follower", 3, Some("a"), 5000, 5000),
                node("c", "Follower", 3, Some("a"), 100, 100),
            ],
            1000,
        );
        assert_eq!(level_of(&r, "lag"), Level::Warning);
        assert!(r.summary.contains("c (4900 behind)"), "{}", r.summary);
    }

    #[test]
    fn quorum_loss_no_leader_and_split_brain_are_critical() {
        let r = evaluate(
            &[node("a", "Follower", 3, None, 10, 10), down("b"), down("c")],
            1000,
        );
        assert_eq!(r.status, Level::Critical);
        assert_eq!(level_of(&r, "quorum-reachable"), Level::Critical);
        assert_eq!(level_of(&r, "has-leader"), Level::Critical);
        let r = evaluate(
            &[
                node("a", "Leader", 4, Some("a"), 10, 10),
                node("b", "Leader", 4, Some("b"), 10, 10),
                node("c", "Follower", 4, Some("a"), 10, 10),
            ],
            1000,
        );
        assert_eq!(level_of(&r, "single-leader"), Level::Critical);
        assert_eq!(r.status, Level::Critical);
        // A deposed leader that has not noticed yet: degraded, not split.
        let r = evaluate(
            &[
                node("a", "Leader", 3, Some("a"), 10, 10),
                node("b", "Leader", 4, Some("b"), 12, 12),
                node("c", "Follower", 4, Some("b"), 12, 12),
            ],
            1000,
        );
        assert_eq!(level_of(&r, "single-leader"), Level::Warning);
        assert_eq!(level_of(&r, "agreed-leader"), Level::Warning);
        assert_eq!(r.status, Level::Warning);
    }

    #[test]
    fn a_node_not_yet_in_the_membership_is_not_settled() {
        let r = evaluate(
            &[
                node("a", "Leader", 3, Some("a"), 10, 10),
                node("b", "Follower", 3, Some("a"), 10, 10),
                node("c", "Learner", 3, Some("a"), 10, 10),
            ],
            1000,
        );
        assert_eq!(level_of(&r, "agreed-leader"), Level::Warning);
        assert!(r.summary.contains("c is Learner"), "{}", r.summary);
    }

    #[test]
    fn local_check_judges_one_node() {
        assert_eq!(
            evaluate_local(&node("b", "Follower", 3, Some("a"), 10, 10), 1000).status,
            Level::Ok
        );
        assert_eq!(
            evaluate_local(&node("b", "Follower", 3, None, 10, 10), 1000).status,
            Level::Critical
        );
        assert_eq!(evaluate_local(&down("b"), 1000).status, Level::Critical);
        let mut standalone = down("b");
        standalone.standalone = true;
        assert_eq!(evaluate_local(&standalone, 1000).status, Level::Ok);
    }
}
