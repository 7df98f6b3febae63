//! `RAFT.*`: cluster administration over RESP (what `helios-ctl` uses).
//!
//! `RAFT.INFO` answers from this node's state. The others change the
//! cluster, which takes network round trips, so they only validate here
//! and hand the work to the connection as [`Action::Raft`]; the connection
//! runs it on the leader (forwarding as needed) without holding the
//! keyspace lock.

use bytes::Bytes;

use super::table::{flags as f, Command};
use super::{Action, CmdResult, Ctx};
use crate::raft::{AdminOp, NodeAddr};

const NOT_ENABLED: &str = "ERR raft is not enabled on this node (start it with -raft=true)";

/// Administrative work for the connection to carry out.
#[derive(Debug, Clone, PartialEq)]
pub enum RaftAdmin {
    Init,
    Membership(AdminOpKind),
    TransferLeader(Option<String>),
}

/// [`AdminOp`] without openraft types, comparable for `Action`.
#[derive(Debug, Clone, PartialEq)]
pub enum AdminOpKind {
    Add { id: String, raft_addr: String },
    Remove { id: String },
}

impl AdminOpKind {
    pub fn into_op(self) -> AdminOp {
        match self {
            AdminOpKind::Add { id, raft_addr } => AdminOp::AddNode {
                id,
                addr: NodeAddr {
                    raft_addr,
                    client_addr: String::new(),
                },
            },
            AdminOpKind::Remove { id } => AdminOp::RemoveNode { id },
        }
    }
}

fn require_raft(ctx: &Ctx) -> CmdResult {
    if ctx.server.raft.get().is_none() {
        return Err(NOT_ENABLED.into());
    }
    Ok(())
}

fn text(a: &Bytes) -> String {
    String::from_utf8_lossy(a).into_owned()
}

fn raft_info(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    require_raft(ctx)?;
    let text = super::info::render(ctx, &["raft".to_string()]);
    ctx.out.verbatim(&text);
    Ok(())
}

fn cluster_init(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    require_raft(ctx)?;
    ctx.action = Some(Action::Raft(RaftAdmin::Init));
    Ok(())
}

fn node_add(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    require_raft(ctx)?;
    let id = text(&args[2]);
    let raft_addr = text(&args[3]);
    crate::config::check_peer(&id, &raft_addr).map_err(|e| format!("ERR {e}"))?;
    ctx.action = Some(Action::Raft(RaftAdmin::Membership(AdminOpKind::Add {
        id,
        raft_addr,
    })));
    Ok(())
}

fn node_remove(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    require_raft(ctx)?;
    ctx.action = Some(Action::Raft(RaftAdmin::Membership(AdminOpKind::Remove {
        id: text(&args[2]),
    })));
    Ok(())
}

fn transfer_leader(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    require_raft(ctx)?;
    let to = args.get(1).map(text);
    ctx.action = Some(Action::Raft(RaftAdmin::TransferLeader(to)));
    Ok(())
}

/// `RAFT.DEBUG ISOLATE on|off`: cuts this node's Raft traffic both ways,
/// as a network partition would, while clients can still connect (for
/// partition drills: `helios-ctl drill failover --fault partition`).
fn debug_isolate(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    require_raft(ctx)?;
    let on = match text(&args[2]).to_ascii_lowercase().as_str() {
        "on" | "1" | "yes" => true,
        "off" | "0" | "no" => false,
        other => {
            return Err(format!("ERR RAFT.DEBUG ISOLATE takes on or off, not '{other}'").into())
        }
    };
    if let Some(node) = ctx.server.raft.get() {
        node.pool.set_isolated(on);
    }
    ctx.out.ok();
    Ok(())
}

static DEBUG_SUBCOMMANDS: &[Command] = &[Command {
    name: "isolate",
    full_name: "raft.debug|isolate",
    arity: 3,
    flags: f::ADMIN,
    group: "cluster",
    since: "7.2.0",
    summary:
        "Cuts (on) or restores (off) all of this node's Raft traffic, as a network partition would.",
    syntax: "on|off",
    run: debug_isolate,
    ..Command::BASE
}];

static CLUSTER_SUBCOMMANDS: &[Command] = &[Command {
    name: "init",
    full_name: "raft.cluster|init",
    arity: 2,
    flags: f::ADMIN,
    group: "cluster",
    since: "7.2.0",
    summary: "Initializes the Raft cluster with the configured members (or this node alone).",
    syntax: "",
    run: cluster_init,
    ..Command::BASE
}];

static NODE_SUBCOMMANDS: &[Command] = &[
    Command {
        name: "add",
        full_name: "raft.node|add",
        arity: 4,
        flags: f::ADMIN,
        group: "cluster",
        since: "7.2.0",
        summary: "Adds a node as a learner, waits until it has caught up, then makes it a voter.",
        syntax: "id raft-addr",
        run: node_add,
        ..Command::BASE
    },
    Command {
        name: "remove",
        full_name: "raft.node|remove",
        arity: 3,
        flags: f::ADMIN,
        group: "cluster",
        since: "7.2.0",
        summary: "Removes a node from the Raft membership.",
        syntax: "id",
        run: node_remove,
        ..Command::BASE
    },
];

pub static COMMANDS: &[Command] = &[
    Command {
        name: "raft.info",
        full_name: "raft.info",
        arity: 1,
        flags: f::STALE | f::LOADING,
        group: "cluster",
        since: "7.2.0",
        summary:
            "Returns this node's Raft state: term, leader, indexes, members and per-peer progress.",
        complexity: "O(N) where N is the number of members",
        run: raft_info,
        ..Command::BASE
    },
    Command {
        name: "raft.cluster",
        full_name: "raft.cluster",
        arity: -2,
        group: "cluster",
        since: "7.2.0",
        summary: "A container for Raft cluster commands.",
        complexity: "Depends on subcommand.",
        subcommands: CLUSTER_SUBCOMMANDS,
        ..Command::BASE
    },
    Command {
        name: "raft.node",
        full_name: "raft.node",
        arity: -2,
        group: "cluster",
        since: "7.2.0",
        summary: "A container for Raft membership commands.",
        complexity: "Depends on subcommand.",
        subcommands: NODE_SUBCOMMANDS,
        ..Command::BASE
    },
    Command {
        name: "raft.debug",
        full_name: "raft.debug",
        arity: -2,
        group: "cluster",
        since: "7.2.0",
        summary: "A container for Raft fault-injection commands.",
        complexity: "Depends on subcommand.",
        subcommands: DEBUG_SUBCOMMANDS,
        ..Command::BASE
    },
    Command {
        name: "raft.transfer_leader",
        full_name: "raft.transfer_leader",
        arity: -1,
        flags: f::ADMIN,
        group: "cluster",
        since: "7.2.0",
        summary: "Hands leadership to the given voter, or to the most caught-up one.",
        syntax: "[id]",
        run: transfer_leader,
        ..Command::BASE
    },
];
