//! `drill failover`: fault the cluster while a writer runs, measure how
//! long it took to get a new leader and how long writes were unavailable,
//! then prove that every acknowledged write is on every node.
//!
//! A drill is a list of [`Step`]s: from `--fault/--rounds` (each round:
//! fault the leader, hold it `--hold`, heal, wait until healthy), or from
//! a `--script` file. The writer runs from the first step to the last:
//! one `SET helios-drill:<run>:<seq> <seq>` at a time, recording which were
//! acknowledged. It talks to a node the current fault does not target
//! (followers forward writes), so the window measures the cluster's
//! failover, not a client waiting out its own timeout on a dead socket.
//!
//! Measurements per fault:
//! - time to new leader: from the fault until a node other than the old
//!   leader (any node, for `transfer`) leads a newer term;
//! - unavailability: the gap between the last write acknowledged before
//!   the fault and the first one acknowledged after it.
//!
//! Faults reach local nodes (started by `cluster up`, pid files under
//! `--dir`) by signal; remote nodes only over RESP: `transfer`
//! (`RAFT.TRANSFER_LEADER`), `partition` (`RAFT.DEBUG ISOLATE on|off`) and
//! `term` (`SHUTDOWN`, which cannot be healed from here). `kill` and
//! `pause` need local nodes.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::cli::{Cli, DrillArgs, Fault, Format};
use crate::cmd::health::{self, Level};
use crate::output::{self, colored, Cell, Color};
use crate::poll::{self, Reply, RespConn, Target};
use crate::progress::Spinner;
use crate::spec::ClusterSpec;
use crate::Error;

/// Which node a fault hits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Aim {
    Leader,
    Follower,
    Node(String),
}

/// What a drill checks at an `assert` step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assertion {
    /// One agreed leader, every node answering (waits up to `--wait`).
    Healthy,
    /// Every write acknowledged so far is readable on every node.
    NoLostWrites,
    /// The last fault's unavailability window was at most this.
    MaxUnavailability(Duration),
}

/// One step of a drill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Fault {
        fault: Fault,
        aim: Aim,
    },
    Wait(Duration),
    /// Restart killed/stopped nodes, resume paused ones, reconnect
    /// isolated ones.
    Heal,
    Assert(Assertion),
}

/// A step as written in a script: exactly one of `fault` (with an
/// optional `target`), `wait`, `heal`, `assert`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StepSpec {
    fault: Option<Fault>,
    target: Option<String>,
    wait: Option<String>,
    heal: Option<bool>,
    assert: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScriptSpec {
    steps: Vec<StepSpec>,
}

/// Parses a drill script; errors name the step (1-based) or YAML line.
pub fn parse_script(text: &str, origin: &str) -> Result<Vec<Step>, Error> {
    let spec: ScriptSpec = crate::spec::parse_yaml(text, origin)?;
    if spec.steps.is_empty() {
        return Err(Error::Spec(format!("{origin}: steps: is empty")));
    }
    let mut steps = Vec::new();
    for (i, s) in spec.steps.into_iter().enumerate() {
        let bad = |msg: String| Error::Spec(format!("{origin}: step {}: {msg}", i + 1));
        let set = [
            s.fault.is_some(),
            s.wait.is_some(),
            s.heal.is_some(),
            s.assert.is_some(),
        ]
        .iter()
        .filter(|x| **x)
        .count();
        if set != 1 {
            return Err(bad(
                "needs exactly one of fault:, wait:, heal:, assert:".into()
            ));
        }
        if s.target.is_some() && s.fault.is_none() {
            return Err(bad("target: only goes with fault:".into()));
        }
        steps.push(if let Some(fault) = s.fault {
            let aim = match s.target.as_deref().unwrap_or("leader") {
                "leader" => Aim::Leader,
                "follower" => Aim::Follower,
                id => Aim::Node(id.to_string()),
            };
            Step::Fault { fault, aim }
        } else if let Some(w) = s.wait {
            Step::Wait(crate::cli::parse_duration(&w).map_err(|e| bad(format!("wait: {e}")))?)
        } else if let Some(h) = s.heal {
            if !h {
                return Err(bad("heal: false does nothing; write heal: true".into()));
            }
            Step::Heal
        } else {
            let a = s.assert.unwrap_or_default();
            Step::Assert(match a.split_whitespace().collect::<Vec<_>>()[..] {
                ["healthy"] => Assertion::Healthy,
                ["no-lost-writes"] => Assertion::NoLostWrites,
                ["max-unavailability", d] => Assertion::MaxUnavailability(
                    crate::cli::parse_duration(d).map_err(|e| bad(format!("assert: {e}")))?,
                ),
                _ => {
                    return Err(bad(format!(
                        "assert: {a:?}: expected healthy, no-lost-writes or max-unavailability <duration>"
                    )))
                }
            })
        });
    }
    // Writes acknowledged after a mid-script check are checked too.
    if steps.last() != Some(&Step::Assert(Assertion::NoLostWrites)) {
        steps.push(Step::Assert(Assertion::NoLostWrites));
    }
    Ok(steps)
}

/// The steps `--fault/--rounds/--hold` stand for.
pub fn steps_from_flags(args: &DrillArgs) -> Vec<Step> {
    let mut steps = Vec::new();
    for _ in 0..args.rounds {
        steps.push(Step::Fault {
            fault: args.fault,
            aim: Aim::Leader,
        });
        steps.push(Step::Wait(args.hold));
        steps.push(Step::Heal);
        steps.push(Step::Assert(Assertion::Healthy));
    }
    steps.push(Step::Assert(Assertion::NoLostWrites));
    steps
}

// ---- the writer ---------------------------------------------------------

/// What the writer has seen, shared with the drill.
#[derive(Debug, Default)]
struct WriterLog {
    /// (sequence number, when acknowledged).
    acked: Vec<(u64, Instant)>,
    errors: u64,
    last_error: Option<String>,
}

struct Writer {
    log: Arc<Mutex<WriterLog>>,
    /// Index of the node the writer must not use (the fault's target);
    /// `usize::MAX` for none.
    avoid: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Writer {
    fn start(addrs: Vec<String>, run: String, timeout: Duration) -> Writer {
        let log = Arc::new(Mutex::new(WriterLog::default()));
        let avoid = Arc::new(AtomicUsize::new(usize::MAX));
        let stop = Arc::new(AtomicBool::new(false));
        let (l, a, s) = (log.clone(), avoid.clone(), stop.clone());
        let handle = std::thread::spawn(move || {
            let mut conn: Option<(usize, RespConn)> = None;
            let mut next = 0usize;
            let mut seq = 0u64;
            while !s.load(Ordering::Relaxed) {
                let avoid = a.load(Ordering::Relaxed);
                if conn.as_ref().is_some_and(|(i, _)| *i == avoid) {
                    conn = None;
                }
                if conn.is_none() {
                    let mut i = next % addrs.len();
                    if i == avoid {
                        i = (i + 1) % addrs.len();
                    }
                    next = i + 1;
                    match RespConn::open(&addrs[i], timeout) {
                        Ok(c) => conn = Some((i, c)),
                        Err(_) => {
                            std::thread::sleep(Duration::from_millis(10));
                            continue;
                        }
                    }
                }
                let Some((_, c)) = conn.as_mut() else {
                    continue;
                };
                seq += 1;
                let key = format!("helios-drill:{run}:{seq}");
                match c.call(&["SET", &key, &seq.to_string()]) {
                    Ok(_) => l.lock().unwrap().acked.push((seq, Instant::now())),
                    Err(e) => {
                        let mut log = l.lock().unwrap();
                        log.errors += 1;
                        log.last_error = Some(e);
                        drop(log);
                        // Refused (no leader yet) or broken: try the
                        // next node shortly, as a client with a list of
                        // endpoints would.
                        conn = None;
                        std::thread::sleep(Duration::from_millis(5));
                    }
                }
            }
        });
        Writer {
            log,
            avoid,
            stop,
            handle: Some(handle),
        }
    }

    fn acked(&self) -> usize {
        self.log.lock().unwrap().acked.len()
    }

    fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The write-unavailability window of a fault at `at`: the longest gap
/// between consecutive acknowledgements from the last one before the fault
/// to the first one after `resumed_after`. (A write in flight when the
/// fault hit can still be acknowledged just after it; the gap that follows
/// is the outage.) `None` until writes have resumed.
pub fn unavailability(
    acked: &[(u64, Instant)],
    at: Instant,
    resumed_after: Instant,
) -> Option<Duration> {
    let end = acked.iter().position(|(_, t)| *t > resumed_after)?;
    let start = acked[..end]
        .iter()
        .rposition(|(_, t)| *t <= at)
        .unwrap_or(end);
    let mut times: Vec<Instant> = acked[start..=end].iter().map(|x| x.1).collect();
    if acked[start].1 > at {
        // No acknowledgement before the fault: count from the fault.
        times.insert(0, at);
    }
    times.windows(2).map(|w| w[1] - w[0]).max()
}

// ---- the report ---------------------------------------------------------

/// One injected fault, measured.
#[derive(Debug, Clone, Serialize)]
pub struct FaultReport {
    pub fault: Fault,
    pub target: String,
    pub old_leader: Option<String>,
    pub new_leader: Option<String>,
    /// From the fault until another node led a newer term (faults on the
    /// leader only).
    pub time_to_leader_ms: Option<u64>,
    /// Gap between the last write acknowledged before the fault and the
    /// first after it; `None` when no write succeeded within `--wait`.
    pub unavailable_ms: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct DrillReport {
    pub passed: bool,
    pub faults: Vec<FaultReport>,
    pub acknowledged: usize,
    pub write_errors: u64,
    pub nodes_verified: usize,
    pub lost: usize,
    /// Up to 20 keys that were acknowledged but missing somewhere.
    pub lost_keys: Vec<String>,
    pub failures: Vec<String>,
}

// ---- running it ---------------------------------------------------------

enum Injured {
    /// Killed or stopped: start it again.
    Down(usize),
    /// SIGSTOPped: SIGCONT.
    Paused(usize, u32),
    /// Shut down over RESP: cannot be restarted from here.
    Remote(usize),
    /// Raft traffic cut: RAFT.DEBUG ISOLATE off.
    Isolated(usize),
}

struct Drill<'a> {
    cli: &'a Cli,
    args: &'a DrillArgs,
    spec: ClusterSpec,
    dir: PathBuf,
    targets: Vec<Target>,
    run: String,
    writer: Option<Writer>,
    injured: Vec<Injured>,
    report: DrillReport,
    progress: Spinner,
    /// Set by SIGINT/SIGTERM: stop at the next wait, heal, report.
    interrupted: Arc<AtomicBool>,
}

const INTERRUPTED: &str = "interrupted by a signal";

impl Drill<'_> {
    /// Sleeps `d` unless the drill is interrupted meanwhile.
    fn nap(&self, d: Duration) -> Result<(), String> {
        let until = Instant::now() + d;
        loop {
            if self.interrupted.load(Ordering::Relaxed) {
                return Err(INTERRUPTED.into());
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            std::thread::sleep(left.min(Duration::from_millis(50)));
        }
    }

    fn index_of(&self, id: &str) -> Option<usize> {
        self.spec.nodes.iter().position(|n| n.id == id)
    }

    fn local_pid(&self, i: usize) -> Option<u32> {
        super::local::running_pid(&self.dir, &self.spec.nodes[i].id)
    }

    /// The node every answering node agrees leads, with its term.
    /// The node every answering node agrees leads, its term, and which
    /// nodes answered.
    fn agreed_leader(&self) -> Option<(usize, u64, Vec<usize>)> {
        let reports = poll::poll_all(&self.targets, self.cli.timeout);
        let views: Vec<_> = reports.iter().filter_map(|r| r.raft.as_ref()).collect();
        let leader = views.iter().find(|v| v.state == "Leader")?;
        let answering: Vec<usize> = reports
            .iter()
            .enumerate()
            .filter(|(_, r)| r.raft.is_some())
            .map(|(i, _)| i)
            .collect();
        views
            .iter()
            .all(|v| v.leader.as_deref() == Some(leader.node_id.as_str()))
            .then(|| {
                self.index_of(&leader.node_id)
                    .map(|i| (i, leader.term, answering))
            })
            .flatten()
    }

    fn wait_healthy(&self) -> Result<(), String> {
        let deadline = Instant::now() + self.args.wait;
        loop {
            let reports = poll::poll_all(&self.targets, self.cli.timeout);
            let h = health::evaluate(&reports, 1000);
            if h.status == Level::Ok {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "not healthy within {}: {}",
                    humantime::format_duration(self.args.wait),
                    h.summary
                ));
            }
            self.nap(Duration::from_millis(100))?;
        }
    }

    fn writer(&self) -> &Writer {
        self.writer.as_ref().expect("writer runs during the drill")
    }

    fn fault(&mut self, fault: Fault, aim: &Aim) -> Result<(), String> {
        let (leader, term, answering) = self
            .agreed_leader()
            .ok_or("no agreed leader before the fault")?;
        let target = match aim {
            Aim::Leader => leader,
            Aim::Follower => answering
                .iter()
                .copied()
                .find(|&i| i != leader)
                .ok_or("no follower answers")?,
            Aim::Node(id) => self
                .index_of(id)
                .ok_or(format!("no node {id} in the spec"))?,
        };
        let id = self.spec.nodes[target].id.clone();
        if fault == Fault::Transfer && target != leader {
            return Err(format!(
                "transfer moves leadership away from the leader; {id} is a follower"
            ));
        }
        // Steer the writer away from the target and let it settle there.
        self.writer().avoid.store(target, Ordering::Relaxed);
        let settled = self.writer().acked() + 20;
        let deadline = Instant::now() + self.args.wait;
        while self.writer().acked() < settled {
            if Instant::now() > deadline {
                return Err("the writer made no progress before the fault".into());
            }
            self.nap(Duration::from_millis(5))?;
        }
        self.progress.status(format!("{fault} {id}"));
        let at = Instant::now();
        self.inject(fault, target)?;
        let moves = fault == Fault::Transfer || target == leader;
        let mut new_leader = None;
        let mut time_to_leader_ms = None;
        if moves {
            let deadline = at + self.args.wait;
            let others: Vec<Target> = self
                .targets
                .iter()
                .enumerate()
                .filter(|(i, _)| fault == Fault::Transfer || *i != target)
                .map(|(_, t)| t.clone())
                .collect();
            let poll_timeout = self.cli.timeout.min(Duration::from_millis(500));
            while new_leader.is_none() {
                let found = poll::poll_all(&others, poll_timeout)
                    .into_iter()
                    .filter_map(|r| r.raft)
                    .find(|v| v.state == "Leader" && v.term > term && v.node_id != id);
                if let Some(v) = found {
                    time_to_leader_ms = Some(at.elapsed().as_millis() as u64);
                    new_leader = Some(v.node_id);
                } else if Instant::now() > deadline {
                    break;
                } else {
                    self.nap(Duration::from_millis(10))?;
                }
            }
        }
        // Writes are back once one is acknowledged after the new leader
        // was seen (after the fault, when leadership does not move).
        let resumed_after = at + Duration::from_millis(time_to_leader_ms.unwrap_or(0));
        let deadline = at + self.args.wait;
        let unavailable_ms = loop {
            {
                let log = self.writer().log.lock().unwrap();
                if let Some(w) = unavailability(&log.acked, at, resumed_after) {
                    break Some(w.as_millis() as u64);
                }
            }
            if Instant::now() > deadline {
                break None;
            }
            self.nap(Duration::from_millis(5))?;
        };
        let old = self.spec.nodes[leader].id.clone();
        if !moves {
            new_leader = Some(old.clone());
        }
        self.progress.say(format!(
            "{fault} {id}: {}; writes {}",
            match (moves, &new_leader, time_to_leader_ms) {
                (false, _, _) => format!("{old} stays leader"),
                (true, Some(n), Some(ms)) => format!("{n} leads after {ms}ms"),
                _ => "no new leader".into(),
            },
            match unavailable_ms {
                Some(ms) => format!("unavailable for {ms}ms"),
                None => "did not resume".into(),
            }
        ));
        self.report.faults.push(FaultReport {
            fault,
            target: id.clone(),
            old_leader: Some(old),
            new_leader: new_leader.clone(),
            time_to_leader_ms,
            unavailable_ms,
        });
        if moves && new_leader.is_none() {
            return Err(format!(
                "no new leader within {} after {fault} {id}",
                humantime::format_duration(self.args.wait)
            ));
        }
        if unavailable_ms.is_none() {
            let last = self.writer().log.lock().unwrap().last_error.clone();
            return Err(format!(
                "no write succeeded within {} after {fault} {id} (last error: {})",
                humantime::format_duration(self.args.wait),
                last.unwrap_or_default()
            ));
        }
        Ok(())
    }

    fn inject(&mut self, fault: Fault, i: usize) -> Result<(), String> {
        let node = &self.spec.nodes[i];
        let pid = self.local_pid(i);
        let signal = |sig: &str, pid: u32| -> Result<(), String> {
            let ok = std::process::Command::new("kill")
                .args([sig, &pid.to_string()])
                .status()
                .is_ok_and(|s| s.success());
            ok.then_some(())
                .ok_or(format!("kill {sig} {pid} ({}) failed", node.id))
        };
        match (fault, pid) {
            (Fault::Kill, Some(pid)) => {
                signal("-KILL", pid)?;
                self.injured.push(Injured::Down(i));
            }
            (Fault::Term, Some(pid)) => {
                signal("-TERM", pid)?;
                self.injured.push(Injured::Down(i));
            }
            (Fault::Pause, Some(pid)) => {
                signal("-STOP", pid)?;
                self.injured.push(Injured::Paused(i, pid));
            }
            (Fault::Term, None) => {
                // The connection may close before a reply: that is success.
                let _ = poll::query(&node.client_address, self.cli.timeout, &["SHUTDOWN"]);
                self.injured.push(Injured::Remote(i));
            }
            (Fault::Partition, _) => {
                poll::query(
                    &node.client_address,
                    self.cli.timeout,
                    &["RAFT.DEBUG", "ISOLATE", "on"],
                )?;
                self.injured.push(Injured::Isolated(i));
            }
            (Fault::Transfer, _) => {
                poll::query(
                    &node.client_address,
                    self.cli.timeout,
                    &["RAFT.TRANSFER_LEADER"],
                )?;
            }
            // plan() saw a pid file; the process has gone since (a crash,
            // an earlier fault not healed).
            (Fault::Kill | Fault::Pause, None) => {
                return Err(format!(
                    "{fault} {}: its process is not running any more",
                    node.id
                ))
            }
        }
        Ok(())
    }

    /// Heals every injured node; one that cannot be healed is kept in the
    /// list (and reported) without stopping the others' healing.
    fn heal(&mut self) -> Result<(), String> {
        let mut errors = Vec::new();
        let mut left = Vec::new();
        for injured in std::mem::take(&mut self.injured) {
            if let Err(e) = self.heal_one(&injured) {
                errors.push(e);
                if !matches!(injured, Injured::Remote(_)) {
                    left.push(injured);
                }
            }
        }
        self.injured = left;
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }

    fn heal_one(&self, injured: &Injured) -> Result<(), String> {
        match *injured {
            Injured::Paused(i, pid) => {
                let _ = std::process::Command::new("kill")
                    .args(["-CONT", &pid.to_string()])
                    .status();
                self.progress
                    .say(format!("resumed {}", self.spec.nodes[i].id));
            }
            Injured::Down(i) => {
                let id = self.spec.nodes[i].id.clone();
                // Wait for the old process to be gone (SIGTERM takes a
                // moment: the node hands over and flushes first).
                let deadline = Instant::now() + self.args.wait;
                while self.local_pid(i).is_some() && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(20));
                }
                let atlasd = super::local::find_atlasd(self.args.atlasd.as_ref())
                    .map_err(|e| format!("cannot restart {id}: {e}"))?;
                super::local::start_node(self.cli, &self.spec, i, &self.dir, &atlasd)
                    .map_err(|e| format!("cannot restart {id}: {e}"))?;
            }
            Injured::Isolated(i) => {
                let node = &self.spec.nodes[i];
                poll::query(
                    &node.client_address,
                    self.cli.timeout,
                    &["RAFT.DEBUG", "ISOLATE", "off"],
                )
                .map_err(|e| format!("cannot reconnect {}: {e}", node.id))?;
                self.progress.say(format!("reconnected {}", node.id));
            }
            Injured::Remote(i) => {
                return Err(format!(
                    "{} was shut down over RESP and cannot be restarted from here (start it, then re-run)",
                    self.spec.nodes[i].id
                ));
            }
        }
        Ok(())
    }

    /// Reads every acknowledged key on every node; keys missing at first
    /// are read again until `--wait` runs out (a node may still be
    /// applying). Returns the keys still missing somewhere.
    fn verify(&mut self) -> Result<(), String> {
        let acked: Vec<u64> = self
            .writer()
            .log
            .lock()
            .unwrap()
            .acked
            .iter()
            .map(|x| x.0)
            .collect();
        self.progress
            .status(format!("verifying {} writes", acked.len()));
        let mut lost: BTreeSet<u64> = BTreeSet::new();
        for t in &self.targets {
            let deadline = Instant::now() + self.args.wait;
            let mut missing: Vec<u64> = acked.clone();
            loop {
                missing = self.missing_on(&t.addr, &missing)?;
                if missing.is_empty() || Instant::now() > deadline {
                    break;
                }
                self.nap(Duration::from_millis(200))?;
            }
            lost.extend(missing);
        }
        self.report.acknowledged = acked.len();
        self.report.nodes_verified = self.targets.len();
        self.report.lost = lost.len();
        self.report.lost_keys = lost
            .iter()
            .take(20)
            .map(|s| format!("helios-drill:{}:{s}", self.run))
            .collect();
        if lost.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{} acknowledged write(s) missing on some node, e.g. {}",
                lost.len(),
                self.report.lost_keys[0]
            ))
        }
    }

    fn missing_on(&self, addr: &str, seqs: &[u64]) -> Result<Vec<u64>, String> {
        let mut conn = RespConn::open(addr, self.cli.timeout.max(Duration::from_secs(5)))?;
        let mut missing = Vec::new();
        for chunk in seqs.chunks(500) {
            let keys: Vec<String> = chunk
                .iter()
                .map(|s| format!("helios-drill:{}:{s}", self.run))
                .collect();
            let mut args = vec!["MGET"];
            args.extend(keys.iter().map(String::as_str));
            let Reply::Array(values) = conn.call(&args)? else {
                return Err(format!("{addr}: MGET did not return an array"));
            };
            for (seq, v) in chunk.iter().zip(values) {
                if v != Reply::Bulk(Some(seq.to_string())) {
                    missing.push(*seq);
                }
            }
        }
        Ok(missing)
    }

    fn step(&mut self, step: &Step) -> Result<(), String> {
        match step {
            Step::Fault { fault, aim } => self.fault(*fault, aim),
            Step::Wait(d) => {
                self.progress
                    .status(format!("holding {}", humantime::format_duration(*d)));
                self.nap(*d)
            }
            Step::Heal => self.heal(),
            Step::Assert(Assertion::Healthy) => {
                self.progress.status("waiting for a healthy cluster".into());
                self.wait_healthy()
            }
            Step::Assert(Assertion::NoLostWrites) => self.verify(),
            Step::Assert(Assertion::MaxUnavailability(max)) => {
                let last = self
                    .report
                    .faults
                    .last()
                    .ok_or("no fault before this assert")?;
                match last.unavailable_ms {
                    Some(ms) if ms <= max.as_millis() as u64 => Ok(()),
                    Some(ms) => Err(format!(
                        "writes were unavailable for {ms}ms after {} {}, over {}",
                        last.fault,
                        last.target,
                        humantime::format_duration(*max)
                    )),
                    None => Err("writes did not resume".into()),
                }
            }
        }
    }
}

/// Checks that every fault can be carried out here; returns one line per
/// step saying how.
fn plan(steps: &[Step], spec: &ClusterSpec, dir: &Path) -> Result<Vec<String>, Error> {
    let local: Vec<bool> = spec
        .nodes
        .iter()
        .map(|n| super::local::running_pid(dir, &n.id).is_some())
        .collect();
    let all_local = local.iter().all(|l| *l);
    let mut lines = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        let line = match s {
            Step::Fault { fault, aim } => {
                if let Aim::Node(id) = aim {
                    if !spec.nodes.iter().any(|n| &n.id == id) {
                        return Err(Error::Usage(format!(
                            "step {}: no node {id} in the spec",
                            i + 1
                        )));
                    }
                }
                if matches!(fault, Fault::Kill | Fault::Pause) && !all_local {
                    return Err(Error::Usage(format!(
                        "step {}: {fault} needs nodes started by `helios-ctl cluster up --dir {}` (no running pid file for {})",
                        i + 1,
                        dir.display(),
                        spec.nodes
                            .iter()
                            .zip(&local)
                            .filter(|(_, l)| !**l)
                            .map(|(n, _)| n.id.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
                let how = match (fault, all_local) {
                    (Fault::Kill, _) => "SIGKILL, restarted at heal",
                    (Fault::Term, true) => "SIGTERM, restarted at heal",
                    (Fault::Term, false) => "SHUTDOWN over RESP (not restarted)",
                    (Fault::Pause, _) => "SIGSTOP, SIGCONT at heal",
                    (Fault::Transfer, _) => "RAFT.TRANSFER_LEADER",
                    (Fault::Partition, _) => "RAFT.DEBUG ISOLATE on, off at heal",
                };
                let who = match aim {
                    Aim::Leader => "the leader".to_string(),
                    Aim::Follower => "a follower".to_string(),
                    Aim::Node(id) => id.clone(),
                };
                format!("fault {fault} on {who} ({how}); measure time to leader and unavailability")
            }
            Step::Wait(d) => format!("wait {}", humantime::format_duration(*d)),
            Step::Heal => {
                "heal: restart stopped nodes, resume paused ones, reconnect isolated ones".into()
            }
            Step::Assert(Assertion::Healthy) => {
                "assert healthy (one agreed leader, all nodes answer)".into()
            }
            Step::Assert(Assertion::NoLostWrites) => {
                "assert no lost writes (every acknowledged write on every node)".into()
            }
            Step::Assert(Assertion::MaxUnavailability(d)) => format!(
                "assert the last fault's unavailability <= {}",
                humantime::format_duration(*d)
            ),
        };
        lines.push(format!("{:>2}. {line}", i + 1));
    }
    Ok(lines)
}

pub fn run(cli: &Cli, args: &DrillArgs) -> Result<u8, Error> {
    if !cli.endpoints.is_empty() {
        return Err(Error::Usage(
            "drill works from a spec: pass -f cluster.yaml, not --endpoints".into(),
        ));
    }
    let mut spec = super::load_spec(cli)?;
    let steps = match &args.script {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
                path: path.display().to_string(),
                source,
            })?;
            parse_script(&text, &path.display().to_string())?
        }
        None => {
            if args.rounds == 0 {
                return Err(Error::Usage("--rounds 0: nothing to drill".into()));
            }
            steps_from_flags(args)
        }
    };
    let dir = std::path::absolute(&args.dir).map_err(|source| Error::Io {
        path: args.dir.display().to_string(),
        source,
    })?;
    let lines = plan(&steps, &spec, &dir)?;
    if args.dry_run || !args.yes {
        println!(
            "drill failover on cluster {} ({} nodes):",
            spec.name,
            spec.nodes.len()
        );
        for l in &lines {
            println!("{l}");
        }
        println!("a writer runs throughout; writes go to helios-drill:<run>:<n> keys");
        if args.dry_run {
            return Ok(0);
        }
        return Err(Error::Usage(
            "drill failover kills, stops and restarts nodes: pass --yes to run it (or --dry-run for just the plan)".into(),
        ));
    }
    if dir.join("pids").is_dir() {
        spec.data_dir = dir.join("data").display().to_string();
    }
    let targets = Target::from_spec(&spec);
    let run = format!(
        "{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0)
    );
    let mut drill = Drill {
        cli,
        args,
        dir,
        targets: targets.clone(),
        run: run.clone(),
        writer: None,
        injured: Vec::new(),
        report: DrillReport {
            passed: false,
            faults: Vec::new(),
            acknowledged: 0,
            write_errors: 0,
            nodes_verified: 0,
            lost: 0,
            lost_keys: Vec::new(),
            failures: Vec::new(),
        },
        progress: Spinner::new(cli.quiet),
        interrupted: Arc::new(AtomicBool::new(false)),
        spec,
    };
    // Ctrl-C (or a TERM) must not leave nodes stopped or isolated: the
    // drill notices at its next wait, heals and reports.
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, drill.interrupted.clone())
            .map_err(|e| Error::Failed(format!("cannot handle signals: {e}")))?;
    }
    if let Err(e) = drill.wait_healthy() {
        return Err(Error::Failed(format!("before the drill: {e}")));
    }
    drill.writer = Some(Writer::start(
        targets.iter().map(|t| t.addr.clone()).collect(),
        run,
        cli.timeout,
    ));
    let mut stopped_early = false;
    for (i, step) in steps.iter().enumerate() {
        if let Err(e) = drill.step(step) {
            drill.report.failures.push(format!("step {}: {e}", i + 1));
            // Leave the cluster as whole as we can, then stop.
            if let Err(e) = drill.heal() {
                drill.report.failures.push(format!("heal: {e}"));
            }
            stopped_early = true;
            break;
        }
    }
    if let Some(w) = drill.writer.as_mut() {
        w.stop();
        drill.report.write_errors = w.log.lock().unwrap().errors;
    }
    let interrupted = drill.interrupted.load(Ordering::Relaxed);
    if stopped_early && !interrupted {
        // A failed step must not hide lost writes: check what was
        // acknowledged, once the cluster has had its chance to recover.
        let _ = drill.wait_healthy();
        if let Err(e) = drill.verify() {
            drill.report.failures.push(e);
        }
    }
    for f in &drill.report.faults {
        if let Some(ms) = f.unavailable_ms {
            if ms > args.max_unavailability.as_millis() as u64 {
                drill.report.failures.push(format!(
                    "{} {}: writes unavailable for {ms}ms, over --max-unavailability {}",
                    f.fault,
                    f.target,
                    humantime::format_duration(args.max_unavailability)
                ));
            }
        }
    }
    drill.progress.finish();
    let report = &mut drill.report;
    report.passed = report.failures.is_empty() && report.lost == 0;
    match cli.output {
        Format::Table => print!("{}", render(report, output::use_color(cli.color))),
        f => print!("{}", output::structured(&report, f)?),
    }
    if interrupted {
        // The shell convention for "stopped by SIGINT".
        return Ok(130);
    }
    Ok(u8::from(!report.passed))
}

/// The report table and verdict.
pub fn render(r: &DrillReport, color: bool) -> String {
    let ms = |v: Option<u64>| v.map_or_else(|| "-".to_string(), |v| format!("{v}ms"));
    let rows: Vec<Vec<Cell>> = r
        .faults
        .iter()
        .enumerate()
        .map(|(i, f)| {
            vec![
                Cell::from((i + 1).to_string()),
                Cell::from(f.fault.to_string()),
                Cell::from(f.target.clone()),
                Cell::from(format!(
                    "{} -> {}",
                    f.old_leader.as_deref().unwrap_or("-"),
                    f.new_leader.as_deref().unwrap_or("-")
                )),
                Cell::from(ms(f.time_to_leader_ms)),
                Cell::from(ms(f.unavailable_ms)),
            ]
        })
        .collect();
    let mut out = output::table(
        &[
            "#",
            "FAULT",
            "TARGET",
            "LEADER",
            "NEW-LEADER-IN",
            "UNAVAILABLE",
        ],
        &rows,
        color,
    );
    let verdict = if r.passed {
        colored("✓ DRILL PASSED", Color::Green)
    } else {
        colored("✗ DRILL FAILED", Color::Red)
    };
    let worst = r.faults.iter().filter_map(|f| f.unavailable_ms).max();
    out += &format!(
        "{}: {} fault(s), {} acknowledged writes checked on {} nodes, {} lost{}\n",
        verdict.render(color),
        r.faults.len(),
        r.acknowledged,
        r.nodes_verified,
        r.lost,
        worst
            .map(|w| format!("; worst unavailability {w}ms"))
            .unwrap_or_default()
    );
    for f in &r.failures {
        out += &format!("  {f}\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_parse_into_steps_and_bad_ones_are_named() {
        let steps = parse_script(
            "steps:\n  - fault: kill\n    target: leader\n  - wait: 1s\n  - heal: true\n  - assert: healthy\n  - fault: pause\n    target: node-2\n  - heal: true\n  - assert: max-unavailability 3s\n",
            "d.yaml",
        )
        .unwrap();
        assert_eq!(
            steps,
            [
                Step::Fault {
                    fault: Fault::Kill,
                    aim: Aim::Leader
                },
                Step::Wait(Duration::from_secs(1)),
                Step::Heal,
                Step::Assert(Assertion::Healthy),
                Step::Fault {
                    fault: Fault::Pause,
                    aim: Aim::Node("node-2".into())
                },
                Step::Heal,
                Step::Assert(Assertion::MaxUnavailability(Duration::from_secs(3))),
                // Always checked at the end.
                Step::Assert(Assertion::NoLostWrites),
            ]
        );
        for (text, expect) in [
            ("steps:\n  - fault: explode\n", "explode"),
            ("steps:\n  - wait: soon\n", "step 1: wait: bad duration"),
            (
                "steps:\n  - heal: true\n    wait: 1s\n",
                "step 1: needs exactly one",
            ),
            ("steps:\n  - wait: 1s\n  - target: leader\n", "step 2"),
            ("steps:\n  - assert: fast\n", "expected healthy"),
            ("steps:\n  - faults: kill\n", "unknown field `faults`"),
            ("steps: []\n", "steps: is empty"),
        ] {
            let e = parse_script(text, "d.yaml").unwrap_err().to_string();
            assert!(e.contains(expect) && e.starts_with("d.yaml"), "{text}: {e}");
        }
    }

    #[test]
    fn flags_make_rounds_of_fault_hold_heal_check_then_verify() {
        use clap::Parser;
        let cli = crate::cli::Cli::try_parse_from([
            "helios-ctl",
            "drill",
            "failover",
            "--fault",
            "pause",
            "--rounds",
            "2",
            "--hold",
            "1s",
        ])
        .unwrap();
        let crate::cli::Command::Drill(crate::cli::DrillCommand::Failover(args)) = cli.command
        else {
            panic!("parsed as {:?}", cli.command);
        };
        let steps = steps_from_flags(&args);
        assert_eq!(steps.len(), 9);
        assert_eq!(
            steps[0],
            Step::Fault {
                fault: Fault::Pause,
                aim: Aim::Leader
            }
        );
        assert_eq!(steps[1], Step::Wait(Duration::from_secs(1)));
        assert_eq!(steps[8], Step::Assert(Assertion::NoLostWrites));
    }

    #[test]
    fn unavailability_is_the_longest_gap_until_writes_resume() {
        let t0 = Instant::now();
        let ms = |m: u64| t0 + Duration::from_millis(m);
        // Acks every 5ms, the fault at 100, one in-flight write acked at
        // 103, the new leader seen at 700, writes back at 650.
        let mut acked: Vec<(u64, Instant)> = (0..=20).map(|i| (i, ms(i * 5))).collect();
        acked.push((21, ms(103)));
        acked.extend((22..40).map(|i| (i, ms(650 + (i - 22) * 5))));
        let w = unavailability(&acked, ms(100), ms(700)).unwrap();
        assert_eq!(w, Duration::from_millis(547));
        // Not resumed yet.
        assert_eq!(unavailability(&acked[..22], ms(100), ms(700)), None);
        // A follower fault: nothing stops, the gap is the usual 5ms.
        let steady: Vec<(u64, Instant)> = (0..40).map(|i| (i, ms(i * 5))).collect();
        assert_eq!(
            unavailability(&steady, ms(101), ms(101)),
            Some(Duration::from_millis(5))
        );
    }

    #[test]
    fn the_report_says_what_failed() {
        let r = DrillReport {
            passed: false,
            faults: vec![FaultReport {
                fault: Fault::Kill,
                target: "node-1".into(),
                old_leader: Some("node-1".into()),
                new_leader: Some("node-2".into()),
                time_to_leader_ms: Some(90),
                unavailable_ms: Some(140),
            }],
            acknowledged: 500,
            write_errors: 3,
            nodes_verified: 3,
            lost: 1,
            lost_keys: vec!["helios-drill:1:7".into()],
            failures: vec!["1 acknowledged write(s) missing".into()],
        };
        let t = render(&r, false);
        assert!(t.contains("node-1 -> node-2"), "{t}");
        assert!(t.contains("90ms") && t.contains("140ms"), "{t}");
        assert!(
            t.contains(
                "✗ DRILL FAILED: 1 fault(s), 500 acknowledged writes checked on 3 nodes, 1 lost"
            ),
            "{t}"
        );
    }
}
