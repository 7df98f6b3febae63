//! `check split-brain`: polls every node several times and looks for the
//! evidence a Raft cluster must never show, or must not show for long:
//!
//! | finding | what it means |
//! | --- | --- |
//! | `two-leaders-one-term` | two nodes claimed leadership in the same term (in one sample or across samples): Raft's election safety is broken |
//! | `leader-disagreement` | answering nodes named different leaders (or none) for longer than an election timeout |
//! | `term-backwards` | a node reported a lower term than it had before (lost its vote state: a wiped or restored data dir) |
//! | `commit-backwards` | a node reported a lower commit index than before (lost committed state) |
//! | `leader-without-quorum` | a node still claims leadership but no quorum has acknowledged it for longer than an election timeout (a partitioned or stalled leader; it must not acknowledge writes) |
//!
//! A moment of disagreement during an election is normal; that is why the
//! disagreement and quorum findings wait out an election timeout. The
//! analysis ([`analyze`]) is a pure function of the samples, so each case
//! is unit-tested on recorded polls.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::cli::{Cli, SplitBrainArgs};
use crate::output::{self, colored, Cell, Color};
use crate::poll::{self, NodeReport};
use crate::Error;

/// One poll of every node, `at_ms` after the first.
#[derive(Debug, Clone)]
pub struct Sample {
    pub at_ms: u64,
    pub reports: Vec<NodeReport>,
}

/// One piece of evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub kind: &'static str,
    pub nodes: Vec<String>,
    pub evidence: String,
}

/// The whole check, as printed with `-o json|yaml`.
#[derive(Debug, Serialize)]
pub struct SplitBrainReport {
    pub samples: usize,
    pub duration_ms: u64,
    pub election_timeout_ms: u64,
    /// Polls in which at least one node answered.
    pub answered_samples: usize,
    pub findings: Vec<Finding>,
}

/// Judges `samples` (in polling order) against `election_timeout`.
pub fn analyze(samples: &[Sample], election_timeout: Duration) -> Vec<Finding> {
    let et = election_timeout.as_millis() as u64;
    let mut findings = Vec::new();

    // Election safety: at most one leader per term, ever.
    let mut leaders_by_term: BTreeMap<u64, BTreeMap<String, u64>> = BTreeMap::new();
    for s in samples {
        for v in s.reports.iter().filter_map(|r| r.raft.as_ref()) {
            if v.state == "Leader" {
                leaders_by_term
                    .entry(v.term)
                    .or_default()
                    .entry(v.node_id.clone())
                    .or_insert(s.at_ms);
            }
        }
    }
    for (term, leaders) in &leaders_by_term {
        if leaders.len() > 1 {
            findings.push(Finding {
                kind: "two-leaders-one-term",
                nodes: leaders.keys().cloned().collect(),
                evidence: format!(
                    "term {term}: {}",
                    leaders
                        .iter()
                        .map(|(n, at)| format!("{n} claimed leadership at +{at}ms"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
    }

    // Disagreement on the leader lasting longer than an election timeout.
    let mut since: Option<(u64, String)> = None;
    let mut reported = false;
    for s in samples {
        let named: BTreeMap<String, String> = s
            .reports
            .iter()
            .filter_map(|r| r.raft.as_ref())
            .map(|v| {
                (
                    v.node_id.clone(),
                    v.leader.clone().unwrap_or_else(|| "none".into()),
                )
            })
            .collect();
        let distinct: BTreeSet<&String> = named.values().collect();
        if distinct.len() <= 1 {
            since = None;
            reported = false;
            continue;
        }
        let said = named
            .iter()
            .map(|(n, l)| format!("{n} says {l}"))
            .collect::<Vec<_>>()
            .join(", ");
        let start = since.get_or_insert((s.at_ms, said.clone())).0;
        if !reported && s.at_ms - start > et {
            reported = true;
            findings.push(Finding {
                kind: "leader-disagreement",
                nodes: named.keys().cloned().collect(),
                evidence: format!(
                    "from +{start}ms to +{}ms ({}ms, election timeout {et}ms): {said}",
                    s.at_ms,
                    s.at_ms - start
                ),
            });
        }
    }

    // Per node: term and commit index never go back.
    let mut last: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    let mut backwards: BTreeSet<(&'static str, String)> = BTreeSet::new();
    for s in samples {
        for v in s.reports.iter().filter_map(|r| r.raft.as_ref()) {
            if let Some(&(term, commit, at)) = last.get(&v.node_id) {
                if v.term < term && backwards.insert(("term-backwards", v.node_id.clone())) {
                    findings.push(Finding {
                        kind: "term-backwards",
                        nodes: vec![v.node_id.clone()],
                        evidence: format!(
                            "term {term} at +{at}ms, then {} at +{}ms",
                            v.term, s.at_ms
                        ),
                    });
                }
                if v.commit_index < commit
                    && backwards.insert(("commit-backwards", v.node_id.clone()))
                {
                    findings.push(Finding {
                        kind: "commit-backwards",
                        nodes: vec![v.node_id.clone()],
                        evidence: format!(
                            "commit index {commit} at +{at}ms, then {} at +{}ms",
                            v.commit_index, s.at_ms
                        ),
                    });
                }
            }
            last.insert(v.node_id.clone(), (v.term, v.commit_index, s.at_ms));
        }
    }

    // A leader that has lost its quorum but still claims to lead.
    let mut stale: BTreeSet<String> = BTreeSet::new();
    for s in samples {
        for v in s.reports.iter().filter_map(|r| r.raft.as_ref()) {
            let Some(ack) = v.quorum_ack_ms else { continue };
            if v.state == "Leader" && ack > et && stale.insert(v.node_id.clone()) {
                findings.push(Finding {
                    kind: "leader-without-quorum",
                    nodes: vec![v.node_id.clone()],
                    evidence: format!(
                        "at +{}ms {} leads term {} but no quorum has acknowledged it for {ack}ms (election timeout {et}ms)",
                        s.at_ms, v.node_id, v.term
                    ),
                });
            }
        }
    }
    findings
}

/// The election timeout to judge by: the flag, else the spec's
/// `raft.election_timeout`, else helios-atlasd's default (1s).
fn election_timeout(cli: &Cli, args: &SplitBrainArgs) -> Result<Duration, Error> {
    if let Some(t) = args.election_timeout {
        return Ok(t);
    }
    if cli.file.is_some() && cli.endpoints.is_empty() {
        if let Some(t) = super::load_spec(cli)?.election_timeout()? {
            return Ok(t);
        }
    }
    Ok(Duration::from_secs(1))
}

/// Exit codes: 0 nothing found, 1 split-brain evidence, 3 no node answered
/// in any sample (nothing could be judged); bad usage is 2 (`main.rs`).
pub fn run(cli: &Cli, args: &SplitBrainArgs) -> Result<u8, Error> {
    if args.samples < 2 {
        return Err(Error::Usage(format!(
            "--samples {}: needs at least 2 (changes are seen between polls)",
            args.samples
        )));
    }
    let targets = super::targets(cli)?;
    let et = election_timeout(cli, args)?;
    let start = Instant::now();
    let mut samples = Vec::with_capacity(args.samples);
    for i in 0..args.samples {
        if i > 0 {
            let due = start + args.interval * i as u32;
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
        }
        let at_ms = start.elapsed().as_millis() as u64;
        samples.push(Sample {
            at_ms,
            reports: poll::poll_all(&targets, cli.timeout),
        });
    }
    let answered = samples
        .iter()
        .filter(|s| s.reports.iter().any(|r| r.raft.is_some()))
        .count();
    let report = SplitBrainReport {
        samples: samples.len(),
        duration_ms: start.elapsed().as_millis() as u64,
        election_timeout_ms: et.as_millis() as u64,
        answered_samples: answered,
        findings: analyze(&samples, et),
    };
    let code = if !report.findings.is_empty() {
        1
    } else if answered == 0 {
        3
    } else {
        0
    };
    let rows: Vec<Vec<Cell>> = report
        .findings
        .iter()
        .map(|f| {
            vec![
                colored(format!("✗ {}", f.kind), Color::Red),
                Cell::from(f.nodes.join(",")),
                Cell::from(f.evidence.clone()),
            ]
        })
        .collect();
    output::print_verdict(
        cli,
        &summary(&report, targets.len()),
        &["FINDING", "NODES", "EVIDENCE"],
        &rows,
        &report,
    )?;
    Ok(code)
}

fn summary(r: &SplitBrainReport, nodes: usize) -> String {
    let over = format!(
        "{} samples of {nodes} nodes over {}ms",
        r.samples, r.duration_ms
    );
    if !r.findings.is_empty() {
        format!("SPLIT-BRAIN: {} finding(s) in {over}", r.findings.len())
    } else if r.answered_samples == 0 {
        format!("UNKNOWN: no node answered in {over}")
    } else {
        format!("OK: no split-brain evidence in {over}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::poll::{parse_info, raft_view};

    /// A node's report built from recorded `INFO raft` text.
    fn info(
        id: &str,
        state: &str,
        term: u64,
        leader: &str,
        commit: u64,
        extra: &str,
    ) -> NodeReport {
        let text = format!(
            "# Raft\r\nraft_enabled:true\r\nraft_node_id:{id}\r\nraft_state:{state}\r\nraft_leader:{leader}\r\nraft_term:{term}\r\nraft_commit_index:{commit}\r\nraft_applied_index:{commit}\r\nraft_last_log_index:{commit}\r\nraft_voters:n1,n2,n3\r\n{extra}"
        );
        NodeReport {
            node: id.into(),
            addr: format!("{id}:1"),
            raft: Some(raft_view(&parse_info(&text)).unwrap()),
            error: None,
            standalone: false,
        }
    }

    use crate::poll::tests::down;

    fn healthy(term: u64, commit: u64) -> Vec<NodeReport> {
        vec![
            info(
                "n1",
                "Leader",
                term,
                "n1",
                commit,
                "raft_millis_since_quorum_ack:40\r\n",
            ),
            info("n2", "Follower", term, "n1", commit, ""),
            info("n3", "Follower", term, "n1", commit, ""),
        ]
    }

    fn samples(polls: Vec<Vec<NodeReport>>, every_ms: u64) -> Vec<Sample> {
        polls
            .into_iter()
            .enumerate()
            .map(|(i, reports)| Sample {
                at_ms: i as u64 * every_ms,
                reports,
            })
            .collect()
    }

    const ET: Duration = Duration::from_millis(500);

    fn kinds(f: &[Finding]) -> Vec<&'static str> {
        f.iter().map(|f| f.kind).collect()
    }

    #[test]
    fn a_healthy_cluster_and_a_clean_election_show_nothing() {
        let f = analyze(&samples(vec![healthy(3, 10), healthy(3, 12)], 200), ET);
        assert!(f.is_empty(), "{f:?}");
        // Leader n1 dies; for one sample n2 and n3 disagree, then n2 leads
        // term 4 and commits more.
        let polls = vec![
            healthy(3, 10),
            vec![
                down("n1"),
                info("n2", "Candidate", 4, "", 10, ""),
                info("n3", "Follower", 3, "n1", 10, ""),
            ],
            vec![
                down("n1"),
                info(
                    "n2",
                    "Leader",
                    4,
                    "n2",
                    11,
                    "raft_millis_since_quorum_ack:5\r\n",
                ),
                info("n3", "Follower", 4, "n2", 11, ""),
            ],
        ];
        let f = analyze(&samples(polls, 200), ET);
        assert!(f.is_empty(), "{f:?}");
    }

    #[test]
    fn two_leaders_in_one_term_are_found_within_and_across_samples() {
        let mut both = healthy(5, 10);
        both[1] = info(
            "n2",
            "Leader",
            5,
            "n2",
            10,
            "raft_millis_since_quorum_ack:3\r\n",
        );
        let f = analyze(&samples(vec![both], 200), ET);
        assert_eq!(kinds(&f), ["two-leaders-one-term"]);
        assert_eq!(f[0].nodes, ["n1", "n2"]);
        assert!(f[0].evidence.starts_with("term 5:"), "{}", f[0].evidence);

        // n1 leads term 5, later n2 leads term 5 too (n1 no longer answers).
        let later = vec![
            down("n1"),
            info(
                "n2",
                "Leader",
                5,
                "n2",
                11,
                "raft_millis_since_quorum_ack:3\r\n",
            ),
            info("n3", "Follower", 5, "n2", 11, ""),
        ];
        let f = analyze(&samples(vec![healthy(5, 10), later], 200), ET);
        assert_eq!(kinds(&f), ["two-leaders-one-term"]);
        assert!(f[0].evidence.contains("n2 claimed leadership at +200ms"));
    }

    #[test]
    fn disagreement_counts_only_past_an_election_timeout() {
        let split = || {
            vec![
                info(
                    "n1",
                    "Leader",
                    3,
                    "n1",
                    10,
                    "raft_millis_since_quorum_ack:40\r\n",
                ),
                info("n2", "Follower", 4, "n3", 12, ""),
                info(
                    "n3",
                    "Leader",
                    4,
                    "n3",
                    12,
                    "raft_millis_since_quorum_ack:4\r\n",
                ),
            ]
        };
        let agreed = || {
            vec![
                info("n1", "Follower", 4, "n3", 12, ""),
                info("n2", "Follower", 4, "n3", 12, ""),
                info(
                    "n3",
                    "Leader",
                    4,
                    "n3",
                    12,
                    "raft_millis_since_quorum_ack:4\r\n",
                ),
            ]
        };
        // 400ms of disagreement with a 500ms election timeout: an election.
        let f = analyze(&samples(vec![split(), split(), split()], 200), ET);
        assert!(f.is_empty(), "{f:?}");
        // 600ms: reported once, with who said what.
        let f = analyze(
            &samples(vec![split(), split(), split(), split(), agreed()], 200),
            ET,
        );
        assert_eq!(kinds(&f), ["leader-disagreement"]);
        assert!(
            f[0].evidence.contains("n1 says n1, n2 says n3, n3 says n3"),
            "{}",
            f[0].evidence
        );
    }

    #[test]
    fn term_or_commit_going_backwards_is_found_once_per_node() {
        let mut wiped = healthy(7, 100);
        wiped[2] = info("n3", "Follower", 1, "n1", 0, "");
        let f = analyze(
            &samples(vec![healthy(7, 100), wiped.clone(), wiped], 200),
            ET,
        );
        assert_eq!(kinds(&f), ["term-backwards", "commit-backwards"]);
        assert!(f.iter().all(|f| f.nodes == ["n3"]));
        assert_eq!(f[0].evidence, "term 7 at +0ms, then 1 at +200ms");
    }

    #[test]
    fn a_leader_cut_off_from_its_quorum_is_found() {
        // What an isolated leader looks like (the partition test records
        // it): still Leader of the old term, quorum ack growing.
        let polls = vec![
            vec![
                info(
                    "n1",
                    "Leader",
                    3,
                    "n1",
                    10,
                    "raft_millis_since_quorum_ack:900\r\n",
                ),
                info(
                    "n2",
                    "Leader",
                    4,
                    "n2",
                    12,
                    "raft_millis_since_quorum_ack:10\r\n",
                ),
                info("n3", "Follower", 4, "n2", 12, ""),
            ],
            vec![
                info(
                    "n1",
                    "Leader",
                    3,
                    "n1",
                    10,
                    "raft_millis_since_quorum_ack:1100\r\n",
                ),
                info(
                    "n2",
                    "Leader",
                    4,
                    "n2",
                    13,
                    "raft_millis_since_quorum_ack:12\r\n",
                ),
                info("n3", "Follower", 4, "n2", 13, ""),
            ],
        ];
        let f = analyze(&samples(polls, 200), ET);
        assert_eq!(kinds(&f), ["leader-without-quorum"]);
        assert_eq!(f[0].nodes, ["n1"]);
        assert!(f[0].evidence.contains("900ms"), "{}", f[0].evidence);
    }
}
