//! Linearizability checker for histories recorded against a Redis-compatible
//! key-value store (Wing & Gong search with the Lowe / Porcupine improvements).
//!
//! # What it checks
//! [`check`] splits the history by key and checks each key on its own. Every
//! command touches one key, and linearizability is local (Herlihy & Wing), so
//! the whole history is linearizable iff every per-key sub-history is. For each
//! key it searches for a total order of the operations that (a) respects real
//! time (if A completed before B was invoked, A comes first; ops whose
//! intervals merely touch at the same nanosecond count as concurrent) and
//! (b) is a legal run of the sequential model below, reproducing every reply.
//!
//! # Model
//! A key holds `Option<Vec<u8>>` (`None` = absent).
//! * `SET v`: value becomes `v`; reply `OK`.
//! * `GET`: reply is the current value.
//! * `INCR`: the value (absent = 0) must parse as a canonical decimal `i64`
//!   the way Redis parses it (optional `-`, no `+`, no leading zeros, no
//!   spaces); it becomes v+1 (stored as decimal) and the reply is v+1. On a
//!   non-integer value or overflow Redis replies an error and changes nothing,
//!   so an `Int` reply is then impossible; only `Unknown` fits.
//! * `APPEND s`: value becomes old ++ s (absent = empty); reply is the new length.
//!
//! Outcomes: `Unknown` ops took effect at one instant after their invocation,
//! or never, and their reply is unconstrained. `Failed` ops had no effect and
//! are dropped, as are `Unknown` GETs (they neither change nor reveal anything).
//!
//! A reply that does not fit its op (say a GET answered `Int`) never linearizes.
//!
//! # Algorithm
//! Per key: call/return entries sorted by time (call before return at equal
//! times) in a doubly linked list; the search repeatedly "lifts" a pending op
//! whose call precedes the first return entry if the model accepts it, and
//! backtracks when it reaches a return entry; a cache of (linearized ops, state)
//! prunes configurations already explored. An `Unknown` op's return is at
//! +infinity, and one that never took effect is simply never linearized: it
//! never forces backtracking, and the search succeeds once every definite op is
//! linearized. So the model stays deterministic. Because pending `Unknown` ops
//! could otherwise be tried at every point, the search also uses that a
//! linearization applying the fewest `Unknown` ops may be looked for:
//! * the cache keeps configurations that failed; a configuration with the same
//!   definite ops and state and a superset of applied `Unknown` ops is pruned;
//! * definite ops are tried before `Unknown` ones; identical `Unknown` ops are
//!   applied in invocation order; an `Unknown` op that leaves the value as it
//!   was, or as it would be without the `Unknown` op just before it, is skipped;
//! * a run of `Unknown` ops must lead to a value some pending GET, INCR or
//!   APPEND needs (see `Chain`);
//! * a configuration is dropped as soon as some pending definite op can no
//!   longer get its reply from the ops that may still precede it (`unsatisfiable`).
//!
//! A brute-force search in the tests cross-checks these rules.
//!
//! # What it does not do
//! * No multi-key or other commands (MSET, DEL, EXPIRE/TTL, MULTI/EXEC, Lua).
//! * Trusts timestamps: `invoke`/`complete` must be on one clock shared by all
//!   clients (or be conservative bounds). A `complete` before `invoke` is
//!   clamped to `invoke`.
//! * Trusts `Failed`: such ops are assumed to have had no effect at all.
//! * Worst case exponential (the problem is NP-complete) and there is no
//!   timeout. Histories with many `Unknown` ops on one key (above ~5% of the
//!   ops) can take seconds, mostly when they are not linearizable: every
//!   order and every subset of the `Unknown` ops must then be ruled out, and
//!   APPEND replies only pin down the length of the value.
//! * Reports only the first violating key (in byte order). The explanation is
//!   a diagnostic (the ops pending where the search got furthest in time, and
//!   the one among them that could not be linearized), not a proven minimal
//!   counterexample.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

/// A single-key command.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Op {
    Set(Vec<u8>),
    Get,
    Incr,
    Append(Vec<u8>),
}

/// What the client observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// SET replied OK.
    Ok,
    /// GET reply.
    Value(Option<Vec<u8>>),
    /// INCR reply (new value) or APPEND reply (new length).
    Int(i64),
    /// Error or timeout: may have taken effect at any time after `invoke`, or never.
    Unknown,
    /// Definite failure: no effect; dropped from the history.
    Failed,
}

/// One operation of one client. Times are in nanoseconds on a shared clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub client: usize,
    pub key: Vec<u8>,
    pub op: Op,
    pub invoke: u64,
    /// Ignored when `outcome` is `Unknown`.
    pub complete: u64,
    pub outcome: Outcome,
}

/// The history of `key` is not linearizable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub key: Vec<u8>,
    pub explanation: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "linearizability violation on key {}: {}",
            show(&self.key),
            self.explanation
        )
    }
}

impl std::error::Error for Violation {}

type Value = Option<Vec<u8>>;

/// Checks every key of `history`; returns the violation of the first
/// non-linearizable key in byte order.
pub fn check(history: &[Event]) -> Result<(), Violation> {
    let mut by_key: BTreeMap<&[u8], Vec<&Event>> = BTreeMap::new();
    for e in history {
        let dropped =
            e.outcome == Outcome::Failed || (e.op == Op::Get && e.outcome == Outcome::Unknown);
        if !dropped {
            by_key.entry(&e.key).or_default().push(e);
        }
    }
    for (key, ops) in by_key {
        check_key(&ops).map_err(|explanation| Violation {
            key: key.to_vec(),
            explanation,
        })?;
    }
    Ok(())
}

/// Redis `string2ll`: optional '-', digits without leading zeros ("0" alone is fine, "-0" is not).
fn parse_int(v: &[u8]) -> Option<i64> {
    let digits = v.strip_prefix(b"-").unwrap_or(v);
    let canonical = match digits {
        [] => false,
        [b'0'] => digits.len() == v.len(),
        [b'0', ..] => false,
        _ => digits.iter().all(u8::is_ascii_digit),
    };
    if !canonical {
        return None;
    }
    std::str::from_utf8(v).ok()?.parse().ok()
}

/// The new state if `op` can give `outcome` in `state` (any reply if Unknown);
/// `None` if it cannot be linearized here (or, if Unknown, would have no effect).
fn step(state: &Value, op: &Op, outcome: &Outcome) -> Option<Value> {
    let unknown = *outcome == Outcome::Unknown;
    match op {
        Op::Set(v) => (unknown || *outcome == Outcome::Ok).then(|| Some(v.clone())),
        Op::Get => matches!(outcome, Outcome::Value(v) if v == state).then(|| state.clone()),
        Op::Incr => {
            let next = state
                .as_deref()
                .map_or(Some(0), parse_int)?
                .checked_add(1)?;
            (unknown || *outcome == Outcome::Int(next)).then(|| Some(next.to_string().into_bytes()))
        }
        Op::Append(s) => {
            let mut v = state.clone().unwrap_or_default();
            v.extend_from_slice(s);
            let len_ok = matches!(outcome, Outcome::Int(n) if usize::try_from(*n) == Ok(v.len()));
            (unknown || len_ok).then_some(Some(v))
        }
    }
}

const NIL: usize = usize::MAX;

/// Doubly linked list of entries; entry `2i` is op i's call, `2i+1` its return.
struct List {
    next: Vec<usize>,
    prev: Vec<usize>,
}

impl List {
    fn lift(&mut self, call: usize) {
        for x in [call, call + 1] {
            let (p, n) = (self.prev[x], self.next[x]);
            self.next[p] = n;
            if n != NIL {
                self.prev[n] = p;
            }
        }
    }

    fn unlift(&mut self, call: usize) {
        for x in [call + 1, call] {
            let (p, n) = (self.prev[x], self.next[x]);
            self.next[p] = x;
            if n != NIL {
                self.prev[n] = x;
            }
        }
    }
}

/// Limits on chains of unknown ops applied back to back. Only linearizations that
/// apply as few unknown ops as possible need to be found, and in those a chain
/// applied in state `s` is followed by a pending definite op that needs it: a GET or
/// INCR that rejects `s` (any that accepts `s` would give the same result without
/// the chain; before a SET or at the end the chain can be dropped) or an APPEND.
/// Within such a chain a SET can only come first (it would make what precedes it
/// useless). So every value in the chain must lead, by the available unknown
/// APPENDs and INCRs, to a value such a GET or INCR wants (each value there has
/// one predecessor per op kind), or to a length such an APPEND accepts (APPENDs
/// only extend the value; an INCR adds at most one character, or removes one
/// from a negative number).
#[derive(Default)]
struct Chain {
    wants: Vec<Vec<u8>>, // values wanted by GETs and INCRs rejecting the state
    wanted: Option<Option<HashSet<Vec<u8>>>>, // and the values leading there, see `leads_to`
    lengths: Vec<usize>, // value lengths accepted by pending APPENDs
    suffixes: Vec<Vec<u8>>, // arguments of the available unknown APPENDs
    incrs: usize,        // number of available unknown INCRs
}

impl Chain {
    fn new(list: &List, head: usize, ops: &[&Event], state: &Value) -> Chain {
        let mut chain = Chain::default();
        let mut x = list.next[head];
        while x.is_multiple_of(2) {
            let e = ops[x / 2];
            let accepts = || step(state, &e.op, &e.outcome).is_some();
            match (&e.op, &e.outcome) {
                (Op::Get, Outcome::Value(Some(v))) if !accepts() => chain.wants.push(v.clone()),
                (Op::Incr, Outcome::Int(n)) if !accepts() => {
                    chain.wants.push(n.wrapping_sub(1).to_string().into_bytes())
                }
                (Op::Append(a), Outcome::Int(n)) => chain.lengths.extend(
                    usize::try_from(*n)
                        .ok()
                        .and_then(|n| n.checked_sub(a.len())),
                ),
                (Op::Append(a), Outcome::Unknown) => chain.suffixes.push(a.clone()),
                (Op::Incr, Outcome::Unknown) => chain.incrs += 1,
                _ => {}
            }
            x = list.next[x];
        }
        chain
    }

    fn useless(&self) -> bool {
        self.wants.is_empty() && self.lengths.is_empty()
    }

    /// Whether a chain that just applied unknown `op`, reaching `value`, can still
    /// reach a value that a pending definite op needs.
    fn can_reach(&mut self, value: &Value, op: &Op) -> bool {
        let v = value.as_deref().unwrap_or_default();
        let appends: usize = self.suffixes.iter().map(Vec::len).sum();
        let (appends, incrs) = match op {
            Op::Append(a) => (appends - a.len(), self.incrs),
            Op::Incr => (appends, self.incrs - 1),
            _ => (appends, self.incrs),
        };
        if self
            .lengths
            .iter()
            .any(|&t| can_grow(v, t, appends + incrs))
        {
            return true;
        }
        let (wants, incr, depth) = (
            &self.wants,
            self.incrs > 0,
            self.suffixes.len() + self.incrs,
        );
        let suffixes: Vec<&[u8]> = self.suffixes.iter().map(Vec::as_slice).collect();
        let wanted = self
            .wanted
            .get_or_insert_with(|| leads_to(wants.clone(), &suffixes, incr, depth));
        wanted.as_ref().is_none_or(|w| w.contains(v))
    }
}

/// Whether `v` can get to length `t` by APPENDs and INCRs adding at most `extra`
/// characters (an INCR only shortens a negative number, by at most one).
fn can_grow(v: &[u8], t: usize, extra: usize) -> bool {
    let lo = if v.first() == Some(&b'-') { 1 } else { v.len() };
    lo <= t && t <= v.len() + extra
}

/// Where the search got furthest (in time, then in definite ops linearized) before
/// an op could not be linearized, for the explanation.
struct Deepest {
    reached: (u64, usize), // completion of the blocking op, definite ops linearized
    done: usize,
    total: usize,
    value: Value,
    recent: Vec<usize>,
    pending: Vec<usize>,
    blocking: usize,
}

fn check_key(ops: &[&Event]) -> Result<(), String> {
    let n = ops.len();
    let definite: Vec<bool> = ops.iter().map(|e| e.outcome != Outcome::Unknown).collect();
    let n_definite = definite.iter().filter(|d| **d).count();
    let time = |x: usize| match (x % 2, definite[x / 2]) {
        (0, _) => ops[x / 2].invoke,
        (_, true) => ops[x / 2].complete.max(ops[x / 2].invoke),
        (_, false) => u64::MAX,
    };
    let mut order: Vec<usize> = (0..2 * n).collect();
    order.sort_by_key(|&x| (time(x), x % 2, !definite[x / 2], x));
    let head = 2 * n;
    let mut list = List {
        next: vec![NIL; 2 * n + 1],
        prev: vec![NIL; 2 * n + 1],
    };
    let mut last = head;
    for x in order {
        list.next[last] = x;
        list.prev[x] = last;
        last = x;
    }

    // Identical unknown ops are interchangeable: apply them in invocation order only.
    let mut prev_same: Vec<Option<usize>> = vec![None; n];
    let mut last_same: HashMap<&Op, usize> = HashMap::new();
    let mut x = list.next[head];
    while x != NIL {
        if x.is_multiple_of(2) && !definite[x / 2] {
            prev_same[x / 2] = last_same.insert(&ops[x / 2].op, x / 2);
        }
        x = list.next[x];
    }

    // `key` = bitset of linearized definite ops plus a last word holding the state id;
    // `unk` = bitset of unknown ops linearized (applied). `failed` maps a key to the
    // unknown-sets for which that configuration was fully explored without success.
    let words = n.div_ceil(64);
    let mut key = vec![0u64; words + 1];
    let mut unk = vec![0u64; words];
    let mut failed: HashMap<Vec<u64>, Vec<Vec<u64>>> = HashMap::new();
    let mut states: Vec<Value> = vec![None];
    let mut state_ids: HashMap<Value, usize> = HashMap::from([(None, 0)]);
    let mut state = 0;
    let mut stack: Vec<(usize, usize)> = Vec::new(); // (call entry, state before it)
    let mut done = 0; // definite ops currently linearized
    let mut deepest: Option<Deepest> = None;
    let mut entry = list.next[head];
    let mut unknown_pass = false; // first try definite ops, then unknown ones
    let mut chain = Chain::default(); // valid while `unknown_pass`
    while done < n_definite {
        if entry.is_multiple_of(2) {
            let i = entry / 2;
            let eligible = if definite[i] {
                !unknown_pass
            } else {
                unknown_pass
                    && !chain.useless()
                    && prev_same[i].is_none_or(|p| unk[p / 64] >> (p % 64) & 1 == 1)
            };
            let attempt = eligible
                .then(|| step(&states[state], &ops[i].op, &ops[i].outcome))
                .flatten();
            if let Some(v) = attempt {
                let id = *state_ids.entry(v).or_insert_with_key(|v| {
                    states.push(v.clone());
                    states.len() - 1
                });
                // Skip an unknown op that changes nothing, or that gives the same state
                // when applied in place of the unknown op just applied: fewer unknown ops
                // applied with the same state is never worse, and that sibling is tried too.
                let redundant = !definite[i]
                    && (id == state
                        || stack.last().is_some_and(|&(top, before)| {
                            !definite[top / 2]
                                && step(&states[before], &ops[i].op, &ops[i].outcome)
                                    .is_some_and(|w| state_ids.get(&w) == Some(&id))
                        })
                        || !chain.can_reach(&states[id], &ops[i].op));
                if !redundant {
                    flip(if definite[i] { &mut key } else { &mut unk }, i);
                    key[words] = id as u64;
                    let dominated = failed
                        .get(&key)
                        .is_some_and(|sets| sets.iter().any(|s| is_subset(s, &unk)));
                    if !dominated {
                        stack.push((entry, state));
                        list.lift(entry);
                        done += usize::from(definite[i]);
                        let blocked = (done < n_definite)
                            .then(|| unsatisfiable(&list, head, ops, &states[id]))
                            .flatten();
                        let Some(g) = blocked else {
                            state = id;
                            entry = list.next[head];
                            unknown_pass = false;
                            continue;
                        };
                        if deepest
                            .as_ref()
                            .is_none_or(|d| (ops[g].complete, done) > d.reached)
                        {
                            deepest =
                                Some(snapshot(ops, &list, head, &stack, &states[id], done, g));
                        }
                        remember(&mut failed, &key, &unk);
                        stack.pop();
                        list.unlift(entry);
                        done -= usize::from(definite[i]);
                    }
                    flip(if definite[i] { &mut key } else { &mut unk }, i);
                }
            }
            entry = list.next[entry];
        } else if !unknown_pass {
            unknown_pass = true;
            chain = Chain::new(&list, head, ops, &states[state]);
            entry = list.next[head];
        } else {
            if deepest
                .as_ref()
                .is_none_or(|d| (ops[entry / 2].complete, done) > d.reached)
            {
                deepest = Some(snapshot(
                    ops,
                    &list,
                    head,
                    &stack,
                    &states[state],
                    done,
                    entry / 2,
                ));
            }
            let Some((call, before)) = stack.pop() else {
                return Err(explain(
                    ops,
                    n_definite,
                    deepest.as_ref().expect("recorded above"),
                ));
            };
            key[words] = state as u64;
            remember(&mut failed, &key, &unk);
            let i = call / 2;
            flip(if definite[i] { &mut key } else { &mut unk }, i);
            done -= usize::from(definite[i]);
            state = before;
            list.unlift(call);
            entry = list.next[call];
            unknown_pass = !definite[i];
            if unknown_pass {
                chain = Chain::new(&list, head, ops, &states[state]);
            }
        }
    }
    Ok(())
}

/// Records an exhausted configuration, dropping the entries it dominates.
fn remember(failed: &mut HashMap<Vec<u64>, Vec<Vec<u64>>>, key: &[u64], unk: &[u64]) {
    let sets = failed.entry(key.to_vec()).or_default();
    sets.retain(|s| !is_subset(unk, s));
    sets.push(unk.to_vec());
}

fn snapshot(
    ops: &[&Event],
    list: &List,
    head: usize,
    stack: &[(usize, usize)],
    value: &Value,
    done: usize,
    blocking: usize,
) -> Deepest {
    let mut pending = Vec::new();
    let mut x = list.next[head];
    while x.is_multiple_of(2) {
        pending.push(x / 2);
        x = list.next[x];
    }
    if !pending.contains(&blocking) {
        pending.push(blocking);
    }
    let recent = stack.iter().rev().take(10).rev().map(|f| f.0 / 2).collect();
    let reached = (ops[blocking].complete, done);
    let (total, value) = (stack.len(), value.clone());
    Deepest {
        reached,
        done,
        total,
        value,
        recent,
        pending,
        blocking,
    }
}

/// Values from which one of `targets` can be reached by APPENDing `suffixes` and
/// INCRementing (each value has one predecessor per op kind), at most `depth`
/// steps back; `None` if that set grows too large to be worth computing.
fn leads_to(
    targets: Vec<Vec<u8>>,
    suffixes: &[&[u8]],
    incr: bool,
    depth: usize,
) -> Option<HashSet<Vec<u8>>> {
    let mut seen = HashSet::new();
    let mut frontier = targets;
    for _ in 0..=depth {
        frontier.retain(|v| seen.insert(v.clone()));
        if frontier.is_empty() || seen.len() > 1000 {
            break;
        }
        let mut back = Vec::new();
        for w in &frontier {
            let dec = parse_int(w).filter(|_| incr).and_then(|n| n.checked_sub(1));
            back.extend(dec.map(|n| n.to_string().into_bytes()));
            back.extend(
                suffixes
                    .iter()
                    .filter_map(|a| w.strip_suffix(*a))
                    .map(<[u8]>::to_vec),
            );
        }
        frontier = back;
    }
    (seen.len() <= 1000).then_some(seen)
}

/// A pending definite op of the window that can no longer get its reply. Each must
/// be linearized before its return, so until then only ops whose calls precede that
/// return can change the value (assumed here to apply, in any order).
fn unsatisfiable(list: &List, head: usize, ops: &[&Event], state: &Value) -> Option<usize> {
    let mut calls = Vec::new();
    let mut x = list.next[head];
    while x.is_multiple_of(2) {
        calls.push(x / 2);
        x = list.next[x];
    }
    let mut left = calls
        .iter()
        .filter(|&&i| ops[i].outcome != Outcome::Unknown)
        .count();
    while x != NIL && left > 0 {
        if x.is_multiple_of(2) {
            calls.push(x / 2);
        } else {
            left -= 1;
            let before = calls.iter().filter(|&&i| i != x / 2).map(|&i| &ops[i].op);
            if !satisfiable(ops[x / 2], state, before) {
                return Some(x / 2);
            }
        }
        x = list.next[x];
    }
    None
}

/// Whether `g` can get its reply from `state` if any of `before` apply first.
fn satisfiable<'a>(g: &Event, state: &Value, before: impl Iterator<Item = &'a Op>) -> bool {
    let (mut sets, mut suffixes, mut incrs) = (Vec::new(), Vec::new(), 0);
    for op in before {
        match op {
            Op::Set(v) => sets.push(&v[..]),
            Op::Append(a) => suffixes.push(&a[..]),
            Op::Incr => incrs += 1,
            Op::Get => {}
        }
    }
    let targets = match (&g.op, &g.outcome) {
        (Op::Append(a), Outcome::Int(n)) => {
            let Some(t) = usize::try_from(*n)
                .ok()
                .and_then(|n| n.checked_sub(a.len()))
            else {
                return false;
            };
            let extra = suffixes.iter().map(|a| a.len()).sum::<usize>() + incrs;
            let start = state.as_deref().unwrap_or_default();
            return sets
                .into_iter()
                .chain([start])
                .any(|v| can_grow(v, t, extra));
        }
        (Op::Get, Outcome::Value(w)) => vec![w.clone()],
        (Op::Incr, Outcome::Int(n)) => {
            let prev = n.checked_sub(1).map(|p| p.to_string().into_bytes());
            let absent = (*n == 1).then_some(None);
            prev.map(Some).into_iter().chain(absent).collect()
        }
        _ => return true,
    };
    if targets.contains(state) {
        return true;
    }
    let depth = suffixes.len() + incrs;
    let Some(seen) = leads_to(
        targets.into_iter().flatten().collect(),
        &suffixes,
        incrs > 0,
        depth,
    ) else {
        return true;
    };
    let from_absent = state.is_none() && (seen.contains(&b""[..]) || seen.contains(&b"0"[..]));
    from_absent
        || state.as_deref().is_some_and(|v| seen.contains(v))
        || sets.iter().any(|v| seen.contains(*v))
}

fn flip(bits: &mut [u64], i: usize) {
    bits[i / 64] ^= 1 << (i % 64);
}

fn is_subset(a: &[u64], b: &[u64]) -> bool {
    a.iter().zip(b).all(|(x, y)| x & !y == 0)
}

fn show(v: &[u8]) -> String {
    format!("\"{}\"", v.escape_ascii())
}

fn show_value(v: &Value) -> String {
    v.as_deref().map_or_else(|| "(nil)".to_string(), show)
}

fn describe(e: &Event) -> String {
    let op = match &e.op {
        Op::Set(v) => format!("SET {}", show(v)),
        Op::Get => "GET".to_string(),
        Op::Incr => "INCR".to_string(),
        Op::Append(v) => format!("APPEND {}", show(v)),
    };
    let (end, out) = match &e.outcome {
        Outcome::Ok => (e.complete.to_string(), "OK".to_string()),
        Outcome::Value(v) => (e.complete.to_string(), show_value(v)),
        Outcome::Int(i) => (e.complete.to_string(), format!("(integer) {i}")),
        Outcome::Unknown => (
            "?".to_string(),
            "unknown (may or may not have taken effect)".to_string(),
        ),
        Outcome::Failed => (e.complete.to_string(), "failed".to_string()),
    };
    format!(
        "client {} {op} [invoke {} ns, complete {end} ns] -> {out}",
        e.client, e.invoke
    )
}

fn explain(ops: &[&Event], n_definite: usize, d: &Deepest) -> String {
    let mut lines = vec![format!(
        "none of the orders of the {} ops on this key ({n_definite} with definite outcomes) \
         works. Furthest point reached: {} definite ops linearized ({} in all), value {}",
        ops.len(),
        d.done,
        d.total,
        show_value(&d.value)
    )];
    if !d.recent.is_empty() {
        lines.push(format!("last {} linearized ops, in order:", d.recent.len()));
        lines.extend(
            d.recent
                .iter()
                .map(|&i| format!("    {}", describe(ops[i]))),
        );
    }
    lines.push("pending ops there; the one marked * cannot get its reply:".into());
    for &i in &d.pending {
        let mark = if i == d.blocking { '*' } else { ' ' };
        lines.push(format!("  {mark} {}", describe(ops[i])));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Vec<u8> {
        s.as_bytes().to_vec()
    }
    fn e(client: usize, op: Op, invoke: u64, complete: u64, outcome: Outcome) -> Event {
        Event {
            client,
            key: b("k"),
            op,
            invoke,
            complete,
            outcome,
        }
    }
    fn set(c: usize, i: u64, r: u64, v: &str) -> Event {
        e(c, Op::Set(b(v)), i, r, Outcome::Ok)
    }
    fn get(c: usize, i: u64, r: u64, v: Option<&str>) -> Event {
        e(c, Op::Get, i, r, Outcome::Value(v.map(b)))
    }
    fn incr(c: usize, i: u64, r: u64, n: i64) -> Event {
        e(c, Op::Incr, i, r, Outcome::Int(n))
    }
    fn append(c: usize, i: u64, r: u64, s: &str, n: i64) -> Event {
        e(c, Op::Append(b(s)), i, r, Outcome::Int(n))
    }
    fn unknown(mut ev: Event) -> Event {
        ev.outcome = Outcome::Unknown;
        ev.complete = 0; // must be ignored
        ev
    }
    fn failed(mut ev: Event) -> Event {
        ev.outcome = Outcome::Failed;
        ev
    }
    fn on(key: &str, mut ev: Event) -> Event {
        ev.key = b(key);
        ev
    }
    fn ok(h: &[Event]) {
        if let Err(v) = check(h) {
            panic!("expected linearizable, got {v}");
        }
    }
    fn bad(h: &[Event]) -> Violation {
        check(h).expect_err("expected a violation")
    }

    #[test]
    fn sequential_linearizable() {
        ok(&[]);
        ok(&[
            get(0, 0, 1, None),
            set(0, 2, 3, "1"),
            incr(1, 4, 5, 2),
            append(0, 6, 7, "0", 2),
            get(1, 8, 9, Some("20")),
            incr(0, 10, 11, 21),
            set(1, 12, 13, "-5"),
            incr(1, 14, 15, -4),
        ]);
    }

    #[test]
    fn sequential_get_of_value_never_written() {
        let v = bad(&[set(0, 0, 1, "a"), get(1, 2, 3, Some("zzz"))]);
        assert_eq!(v.key, b("k"));
        assert!(v.explanation.contains("\"zzz\""), "{v}");
    }

    #[test]
    fn sequential_stale_read() {
        bad(&[
            set(0, 0, 10, "a"),
            set(1, 20, 30, "b"),
            get(2, 40, 50, Some("a")),
        ]);
        ok(&[
            set(0, 0, 10, "a"),
            set(1, 20, 30, "b"),
            get(2, 40, 50, Some("b")),
        ]);
    }

    #[test]
    fn sequential_duplicate_incr() {
        bad(&[incr(0, 0, 10, 1), incr(1, 20, 30, 1)]);
        ok(&[incr(0, 0, 10, 1), incr(1, 20, 30, 2)]);
    }

    #[test]
    fn sequential_lost_update() {
        bad(&[set(0, 0, 10, "5"), incr(1, 20, 30, 1)]);
        ok(&[set(0, 0, 10, "5"), incr(1, 20, 30, 6)]);
    }

    #[test]
    fn incr_parses_like_redis() {
        bad(&[set(0, 0, 1, "abc"), incr(0, 2, 3, 1)]);
        bad(&[set(0, 0, 1, "007"), incr(0, 2, 3, 8)]);
        bad(&[set(0, 0, 1, "-0"), incr(0, 2, 3, 1)]);
        bad(&[set(0, 0, 1, "+4"), incr(0, 2, 3, 5)]);
        bad(&[set(0, 0, 1, &i64::MAX.to_string()), incr(0, 2, 3, i64::MIN)]);
        // Redis answers an error: the client sees Unknown and nothing changes.
        ok(&[
            set(0, 0, 1, "abc"),
            unknown(e(0, Op::Incr, 2, 3, Outcome::Int(0))),
            get(0, 4, 5, Some("abc")),
        ]);
        ok(&[
            set(0, 0, 1, "0"),
            incr(0, 2, 3, 1),
            set(0, 4, 5, "-2"),
            incr(0, 6, 7, -1),
        ]);
    }

    #[test]
    fn touching_intervals_are_concurrent() {
        ok(&[set(0, 0, 10, "x"), get(1, 10, 20, None)]);
        bad(&[set(0, 0, 10, "x"), get(1, 11, 20, None)]);
    }

    #[test]
    fn overlapping_sets_either_order_then_consistent() {
        let sets = [set(0, 0, 100, "x"), set(1, 50, 150, "y")];
        for (first, second) in [("x", "x"), ("y", "y"), ("x", "y")] {
            let mut h = sets.to_vec();
            h.extend([
                get(2, 60, 70, Some(first)),
                get(2, 200, 210, Some(second)),
                get(3, 220, 230, Some(second)),
            ]);
            ok(&h);
        }
    }

    #[test]
    fn overlapping_sets_flip_flop_is_violation() {
        let mut h = vec![set(0, 0, 100, "x"), set(1, 0, 100, "y")];
        h.extend([
            get(2, 110, 120, Some("x")),
            get(3, 130, 140, Some("y")),
            get(2, 150, 160, Some("x")),
        ]);
        let v = bad(&h);
        assert!(v.explanation.contains("GET"), "{v}");
        h[3].outcome = Outcome::Value(Some(b("x")));
        ok(&h);
    }

    #[test]
    fn unknown_set_observed_is_fine() {
        ok(&[
            set(0, 0, 10, "a"),
            unknown(set(1, 20, 0, "b")),
            get(2, 500, 510, Some("b")),
            get(2, 520, 530, Some("b")),
        ]);
        // ...but it cannot take effect before it was invoked.
        bad(&[
            set(0, 0, 10, "a"),
            get(2, 20, 30, Some("b")),
            unknown(set(1, 40, 0, "b")),
        ]);
        // ...and it takes effect once: "b" cannot come back after being overwritten.
        bad(&[
            unknown(set(1, 0, 0, "b")),
            get(2, 20, 30, Some("b")),
            set(0, 40, 50, "c"),
            get(2, 60, 70, Some("b")),
        ]);
    }

    #[test]
    fn unknown_set_never_observed_is_fine() {
        ok(&[
            set(0, 0, 10, "a"),
            unknown(set(1, 20, 0, "b")),
            get(2, 500, 510, Some("a")),
            get(2, 600, 610, Some("a")),
        ]);
    }

    #[test]
    fn unknown_incr_cannot_apply_twice() {
        let h = |seen: &str| {
            vec![
                set(0, 0, 10, "5"),
                unknown(e(1, Op::Incr, 20, 0, Outcome::Unknown)),
                get(2, 100, 110, Some(seen)),
            ]
        };
        ok(&h("5"));
        ok(&h("6"));
        let v = bad(&h("7"));
        assert!(
            v.explanation.contains("INCR") && v.explanation.contains("\"7\""),
            "{v}"
        );
    }

    #[test]
    fn failed_ops_are_ignored() {
        ok(&[
            set(0, 0, 10, "x"),
            failed(set(1, 20, 30, "y")),
            get(2, 40, 50, Some("x")),
        ]);
        ok(&[
            failed(incr(0, 0, 10, 1)),
            incr(1, 20, 30, 1),
            failed(get(0, 40, 50, Some("bogus"))),
        ]);
        // A failed SET had no effect, so nobody may observe it.
        bad(&[
            set(0, 0, 10, "x"),
            failed(set(1, 20, 30, "y")),
            get(2, 40, 50, Some("y")),
        ]);
    }

    #[test]
    fn append_lengths_and_gets() {
        ok(&[
            append(0, 0, 10, "ab", 2),
            append(1, 20, 30, "c", 3),
            get(0, 40, 50, Some("abc")),
        ]);
        bad(&[append(0, 0, 10, "ab", 2), append(1, 20, 30, "c", 2)]);
        bad(&[set(0, 0, 10, "xyz"), append(1, 20, 30, "c", 1)]);
        bad(&[
            append(0, 0, 10, "ab", 2),
            append(1, 20, 30, "c", 3),
            get(0, 40, 50, Some("cab")),
        ]);
        // Concurrent appends: the lengths fix the order, and the GET must agree.
        let h = |seen: &str| {
            vec![
                append(0, 0, 100, "a", 2),
                append(1, 0, 100, "b", 1),
                get(2, 200, 210, Some(seen)),
            ]
        };
        ok(&h("ba"));
        bad(&h("ab"));
    }

    #[test]
    fn multiple_keys_are_independent() {
        // As one register this would fail (GET b sees nil after SET a); per key it is fine.
        ok(&[
            on("a", set(0, 0, 10, "x")),
            on("b", get(1, 20, 30, None)),
            on("a", get(1, 40, 50, Some("x"))),
        ]);
        let v = bad(&[
            on("a", set(0, 0, 10, "x")),
            on("b", set(0, 0, 10, "y")),
            on("a", get(1, 20, 30, Some("x"))),
            on("b", get(1, 20, 30, Some("x"))),
            on("c", get(1, 20, 30, None)),
        ]);
        assert_eq!(v.key, b("b"));
        assert!(v.to_string().contains("key \"b\""), "{v}");
    }

    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            (z ^ (z >> 31)) % n
        }
    }

    /// The sequential register the history is generated from (written independently of `step`).
    fn apply(value: &mut Value, op: &Op) -> Outcome {
        match op {
            Op::Set(v) => {
                *value = Some(v.clone());
                Outcome::Ok
            }
            Op::Get => Outcome::Value(value.clone()),
            Op::Incr => match value
                .as_deref()
                .map_or(Some(0), parse_int)
                .and_then(|n| n.checked_add(1))
            {
                Some(n) => {
                    *value = Some(n.to_string().into_bytes());
                    Outcome::Int(n)
                }
                None => Outcome::Unknown, // Redis error reply, no effect
            },
            Op::Append(s) => {
                let v = value.get_or_insert_with(Vec::new);
                v.extend_from_slice(s);
                Outcome::Int(v.len() as i64)
            }
        }
    }

    /// Clients run ops back to back; each op takes effect at a random instant strictly inside its interval.
    fn random_history(rng: &mut Rng, key: &str, clients: usize, per_client: usize) -> Vec<Event> {
        let mut planned = Vec::new();
        for client in 0..clients {
            let mut t = rng.below(50);
            for _ in 0..per_client {
                let invoke = t + rng.below(30);
                let point = invoke + 1 + rng.below(40);
                let complete = point + 1 + rng.below(40);
                t = complete + 1;
                let op = match rng.below(10) {
                    0..=2 => Op::Set(rng.below(100).to_string().into_bytes()),
                    3..=5 => Op::Get,
                    6..=7 => Op::Incr,
                    _ => Op::Append((1 + rng.below(9)).to_string().into_bytes()),
                };
                let ev = Event {
                    client,
                    key: b(key),
                    op,
                    invoke,
                    complete,
                    outcome: Outcome::Failed,
                };
                planned.push((point, client, ev, rng.below(50)));
            }
        }
        planned.sort_by_key(|p| (p.0, p.1));
        let mut value = None;
        let mut history: Vec<Event> = planned
            .into_iter()
            .map(|(_, _, mut ev, fate)| {
                ev.outcome = match fate {
                    0 => Outcome::Failed,
                    1 => {
                        apply(&mut value, &ev.op);
                        Outcome::Unknown
                    }
                    2 => Outcome::Unknown,
                    _ => apply(&mut value, &ev.op),
                };
                ev
            })
            .collect();
        history.sort_by_key(|ev| (ev.client, ev.invoke)); // recording order, not linearization order
        history
    }

    fn corrupt_one_get(rng: &mut Rng, h: &mut [Event]) {
        let gets: Vec<usize> = (0..h.len())
            .filter(|&i| h[i].op == Op::Get && matches!(h[i].outcome, Outcome::Value(_)))
            .collect();
        let i = gets[rng.below(gets.len() as u64) as usize];
        h[i].outcome = Outcome::Value(Some(b("never-written")));
    }

    #[test]
    fn randomized_linearizable_then_mutated() {
        for seed in 0..20 {
            let mut rng = Rng(seed);
            let mut h = random_history(&mut rng, "k", 5, 60);
            if let Err(v) = check(&h) {
                panic!("seed {seed}: generated history rejected: {v}");
            }
            corrupt_one_get(&mut rng, &mut h);
            let v = check(&h).expect_err("corrupted GET must be detected");
            assert!(v.explanation.contains("never-written"), "seed {seed}: {v}");
        }
    }

    /// Tries every order of every subset of the unknown ops; no pruning, no cache.
    fn brute_force(ops: &[&Event], used: &mut [bool], value: &Value) -> bool {
        let pending: Vec<usize> = (0..ops.len())
            .filter(|&r| !used[r] && ops[r].outcome != Outcome::Unknown)
            .collect();
        if pending.is_empty() {
            return true;
        }
        for i in 0..ops.len() {
            if used[i] || pending.iter().any(|&r| ops[r].complete < ops[i].invoke) {
                continue;
            }
            let mut v = value.clone();
            let out = apply(&mut v, &ops[i].op);
            if ops[i].outcome == Outcome::Unknown || ops[i].outcome == out {
                used[i] = true;
                let found = brute_force(ops, used, &v);
                used[i] = false;
                if found {
                    return true;
                }
            }
        }
        false
    }

    #[test]
    fn agrees_with_brute_force_on_small_histories() {
        let mut rng = Rng(7);
        let mut verdicts = [0, 0];
        for case in 0..3000 {
            let mut planned = Vec::new();
            for _ in 0..2 + rng.below(6) {
                let invoke = rng.below(30);
                let point = invoke + rng.below(6);
                let complete = point + rng.below(6);
                let op = match rng.below(4) {
                    0 => Op::Set(b(["1", "9", "12", "x"][rng.below(4) as usize])),
                    1 => Op::Get,
                    2 => Op::Incr,
                    _ => Op::Append(b(["1", "2"][rng.below(2) as usize])),
                };
                let client = rng.below(3) as usize;
                let ev = Event {
                    client,
                    key: b("k"),
                    op,
                    invoke,
                    complete,
                    outcome: Outcome::Failed,
                };
                planned.push((point, ev, rng.below(20)));
            }
            planned.sort_by_key(|p| p.0);
            let mut value = None;
            let mut h: Vec<Event> = Vec::new();
            for (_, mut ev, fate) in planned {
                let applied = !(2..=5).contains(&fate); // 0-1 unknown+applied, 2-3 unknown, 4-5 failed
                let out = if applied {
                    apply(&mut value, &ev.op)
                } else {
                    Outcome::Failed
                };
                ev.outcome = match fate {
                    0..=3 => Outcome::Unknown,
                    _ => out,
                };
                h.push(ev);
            }
            if rng.below(2) == 0 {
                let i = rng.below(h.len() as u64) as usize;
                h[i].outcome = match rng.below(4) {
                    0 => Outcome::Value(
                        [None, Some(b("1")), Some(b("2")), Some(b("12"))][rng.below(4) as usize]
                            .clone(),
                    ),
                    1 => Outcome::Int(rng.below(14) as i64),
                    2 => Outcome::Unknown,
                    _ => Outcome::Ok,
                };
            }
            let ops: Vec<&Event> = h.iter().filter(|e| e.outcome != Outcome::Failed).collect();
            let expected = brute_force(&ops, &mut vec![false; ops.len()], &None);
            assert_eq!(check(&h).is_ok(), expected, "case {case}: {h:#?}");
            verdicts[usize::from(expected)] += 1;
        }
        assert!(verdicts[0] > 300 && verdicts[1] > 300, "{verdicts:?}");
    }

    #[test]
    fn randomized_multi_key_violation_reported_on_its_key() {
        let mut rng = Rng(42);
        let mut h = random_history(&mut rng, "a", 5, 40);
        let mut hb = random_history(&mut rng, "b", 5, 40);
        h.extend(random_history(&mut rng, "c", 5, 40));
        ok(&h);
        corrupt_one_get(&mut rng, &mut hb);
        h.extend(hb);
        h.sort_by_key(|ev| ev.invoke);
        assert_eq!(bad(&h).key, b("b"));
    }
}
