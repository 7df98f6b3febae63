//! Pub/sub commands: `SUBSCRIBE`, `PSUBSCRIBE`, `SSUBSCRIBE`, their `UN`
//! forms, `PUBLISH`, `SPUBLISH` and `PUBSUB`.
//!
//! Subscription replies and messages are RESP3 pushes, or arrays in RESP2
//! (where a subscribed client may only (un)subscribe, `PING`, `QUIT` and
//! `RESET`; dispatch enforces that). The registry and delivery are in
//! `server::pubsub`.
//!
//! In raft mode `PUBLISH` goes through the Raft log: every node applies it
//! and delivers to its own subscribers, so a message published on any node
//! reaches subscribers on every node, in log order. The reply is the
//! leader's count of receivers (its own subscribers), as a Redis cluster
//! node counts its own. `SPUBLISH` likewise: the whole keyspace is one
//! shard here, so shard channels are a separate namespace of channels. A node that applies a backlog (it was behind)
//! delivers those messages late rather than not at all.

use bytes::Bytes;

use super::table::{flags as f, Command};
use super::{help_reply, CmdResult, Ctx};
use crate::server::pubsub::{Kind, Mailbox};

/// The client's mailbox, made on its first subscription (in the protocol
/// the client speaks then).
pub(crate) fn mailbox(ctx: &mut Ctx) -> Mailbox {
    let resp3 = ctx.out.resp3;
    let c = &mut *ctx.client;
    if let Some(m) = &c.mailbox {
        return m.clone();
    }
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let m = Mailbox { tx, resp3 };
    c.messages = Some(rx);
    c.mailbox = Some(m.clone());
    m
}

/// `[verb, name, count]` as a push (or RESP2 array). Shard subscriptions
/// count shard channels only, the others channels plus patterns (Redis).
fn confirm(ctx: &mut Ctx, verb: &str, kind: Kind, name: Option<&[u8]>) {
    let count = match kind {
        Kind::Shard => ctx.client.shard_channels.len(),
        _ => ctx.client.subscriptions(),
    };
    ctx.out.push(3);
    ctx.out.bulk(verb.as_bytes());
    match name {
        Some(n) => ctx.out.bulk(n),
        None => ctx.out.null(),
    }
    ctx.out.int(count as i64);
}

fn names(client: &mut crate::server::Client, kind: Kind) -> &mut std::collections::BTreeSet<Bytes> {
    match kind {
        Kind::Channel => &mut client.channels,
        Kind::Pattern => &mut client.patterns,
        Kind::Shard => &mut client.shard_channels,
    }
}

fn verbs(kind: Kind) -> (&'static str, &'static str) {
    match kind {
        Kind::Channel => ("subscribe", "unsubscribe"),
        Kind::Pattern => ("psubscribe", "punsubscribe"),
        Kind::Shard => ("ssubscribe", "sunsubscribe"),
    }
}

fn subscribe_generic(ctx: &mut Ctx, args: &[Bytes], kind: Kind) -> CmdResult {
    let m = mailbox(ctx);
    let id = ctx.client.id;
    for name in &args[1..] {
        if names(ctx.client, kind).insert(name.clone()) {
            ctx.server.pubsub.subscribe(kind, name, id, &m);
        }
        confirm(ctx, verbs(kind).0, kind, Some(name));
    }
    Ok(())
}

fn unsubscribe_generic(ctx: &mut Ctx, args: &[Bytes], kind: Kind) -> CmdResult {
    let verb = verbs(kind).1;
    let list: Vec<Bytes> = if args.len() > 1 {
        args[1..].to_vec()
    } else {
        names(ctx.client, kind).iter().cloned().collect()
    };
    if list.is_empty() {
        confirm(ctx, verb, kind, None);
        return Ok(());
    }
    let id = ctx.client.id;
    for name in &list {
        if names(ctx.client, kind).remove(name) {
            ctx.server.pubsub.unsubscribe(kind, name, id);
        }
        confirm(ctx, verb, kind, Some(name));
    }
    Ok(())
}

fn subscribe(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    subscribe_generic(ctx, args, Kind::Channel)
}
fn psubscribe(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    subscribe_generic(ctx, args, Kind::Pattern)
}
fn ssubscribe(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    subscribe_generic(ctx, args, Kind::Shard)
}
fn unsubscribe(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    unsubscribe_generic(ctx, args, Kind::Channel)
}
fn punsubscribe(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    unsubscribe_generic(ctx, args, Kind::Pattern)
}
fn sunsubscribe(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    unsubscribe_generic(ctx, args, Kind::Shard)
}

fn spublish(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let n = ctx.server.pubsub.publish_shard(&args[1], &args[2]);
    ctx.out.int(n as i64);
    Ok(())
}

fn publish(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let n = ctx.server.pubsub.publish(&args[1], &args[2]);
    ctx.out.int(n as i64);
    Ok(())
}

fn channels_generic(ctx: &mut Ctx, args: &[Bytes], kind: Kind) -> CmdResult {
    let channels = ctx
        .server
        .pubsub
        .channels(kind, args.get(2).map(|p| &p[..]));
    ctx.out.bulk_array(channels.iter().map(|c| &c[..]));
    Ok(())
}

fn numsub_generic(ctx: &mut Ctx, args: &[Bytes], kind: Kind) -> CmdResult {
    ctx.out.array((args.len() - 2) * 2);
    for c in &args[2..] {
        ctx.out.bulk(c);
        ctx.out.int(ctx.server.pubsub.numsub(kind, c) as i64);
    }
    Ok(())
}

fn pubsub_channels(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    channels_generic(ctx, args, Kind::Channel)
}
fn pubsub_shardchannels(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    channels_generic(ctx, args, Kind::Shard)
}
fn pubsub_numsub(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    numsub_generic(ctx, args, Kind::Channel)
}
fn pubsub_shardnumsub(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    numsub_generic(ctx, args, Kind::Shard)
}

fn pubsub_numpat(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    ctx.out.int(ctx.server.pubsub.numpat() as i64);
    Ok(())
}

fn pubsub_help(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    help_reply(
        ctx.out,
        &[
            "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
            "HELP",
            "    Prints this help.",
        ],
    );
    Ok(())
}

/// What a RESP2 client with subscriptions may still run.
pub fn allowed_while_subscribed(name: &str) -> bool {
    matches!(
        name,
        "subscribe"
            | "unsubscribe"
            | "psubscribe"
            | "punsubscribe"
            | "ssubscribe"
            | "sunsubscribe"
            | "ping"
            | "quit"
            | "reset"
    )
}

const PS: u32 = f::NOSCRIPT | f::LOADING | f::STALE;

#[rustfmt::skip]
static PUBSUB_SUBCOMMANDS: &[Command] = &[
    Command { name: "channels", full_name: "pubsub|channels", arity: -2, flags: PS, group: "pubsub", since: "2.8.0", summary: "Returns the active channels.", complexity: "O(N) where N is the number of active channels, and assuming constant time pattern matching (relatively short channels and patterns)", syntax: "[pattern]", run: pubsub_channels, ..Command::BASE },
    Command { name: "numsub", full_name: "pubsub|numsub", arity: -2, flags: PS, group: "pubsub", since: "2.8.0", summary: "Returns a count of subscribers to channels.", complexity: "O(N) for the NUMSUB subcommand, where N is the number of requested channels", syntax: "[channel [channel ...]]", run: pubsub_numsub, ..Command::BASE },
    Command { name: "numpat", full_name: "pubsub|numpat", arity: 2, flags: PS, group: "pubsub", since: "2.8.0", summary: "Returns a count of unique pattern subscriptions.", run: pubsub_numpat, ..Command::BASE },
    Command { name: "shardchannels", full_name: "pubsub|shardchannels", arity: -2, flags: PS, group: "pubsub", since: "7.0.0", summary: "Returns the active shard channels.", complexity: "O(N) where N is the number of active shard channels, and assuming constant time pattern matching (relatively short shard channels).", syntax: "[pattern]", run: pubsub_shardchannels, ..Command::BASE },
    Command { name: "shardnumsub", full_name: "pubsub|shardnumsub", arity: -2, flags: PS, group: "pubsub", since: "7.0.0", summary: "Returns the count of subscribers of shard channels.", complexity: "O(N) for the SHARDNUMSUB subcommand, where N is the number of requested shard channels", syntax: "[shardchannel [shardchannel ...]]", run: pubsub_shardnumsub, ..Command::BASE },
    Command { name: "help", full_name: "pubsub|help", arity: 2, flags: f::LOADING | f::STALE, group: "pubsub", since: "6.2.0", summary: "Returns helpful text about the different subcommands.", run: pubsub_help, ..Command::BASE },
];

#[rustfmt::skip]
pub static COMMANDS: &[Command] = &[
    Command { name: "subscribe", full_name: "subscribe", arity: -2, flags: PS, group: "pubsub", since: "2.0.0", summary: "Listens for messages published to channels.", complexity: "O(N) where N is the number of channels to subscribe to.", syntax: "channel [channel ...]", run: subscribe, ..Command::BASE },
    Command { name: "unsubscribe", full_name: "unsubscribe", arity: -1, flags: PS, group: "pubsub", since: "2.0.0", summary: "Stops listening to messages posted to channels.", complexity: "O(N) where N is the number of channels to unsubscribe.", syntax: "[channel [channel ...]]", run: unsubscribe, ..Command::BASE },
    Command { name: "psubscribe", full_name: "psubscribe", arity: -2, flags: PS, group: "pubsub", since: "2.0.0", summary: "Listens for messages published to channels that match one or more patterns.", complexity: "O(N) where N is the number of patterns to subscribe to.", syntax: "pattern [pattern ...]", run: psubscribe, ..Command::BASE },
    Command { name: "punsubscribe", full_name: "punsubscribe", arity: -1, flags: PS, group: "pubsub", since: "2.0.0", summary: "Stops listening to messages published to channels that match one or more patterns.", complexity: "O(N) where N is the number of patterns to unsubscribe.", syntax: "[pattern [pattern ...]]", run: punsubscribe, ..Command::BASE },
    Command { name: "ssubscribe", full_name: "ssubscribe", arity: -2, flags: PS, keys: (1, -1, 1), group: "pubsub", since: "7.0.0", summary: "Listens for messages published to shard channels.", complexity: "O(N) where N is the number of shard channels to subscribe to.", syntax: "shardchannel [shardchannel ...]", run: ssubscribe, ..Command::BASE },
    Command { name: "sunsubscribe", full_name: "sunsubscribe", arity: -1, flags: PS, keys: (1, -1, 1), group: "pubsub", since: "7.0.0", summary: "Stops listening to messages posted to shard channels.", complexity: "O(N) where N is the number of shard channels to unsubscribe.", syntax: "[shardchannel [shardchannel ...]]", run: sunsubscribe, ..Command::BASE },
    Command { name: "spublish", full_name: "spublish", arity: 3, flags: PS | f::FAST, keys: (1, 1, 1), group: "pubsub", since: "7.0.0", summary: "Post a message to a shard channel", complexity: "O(N) where N is the number of clients subscribed to the receiving shard channel.", syntax: "shardchannel message", run: spublish, ..Command::BASE },
    Command { name: "publish", full_name: "publish", arity: 3, flags: PS | f::FAST, group: "pubsub", since: "2.0.0", summary: "Posts a message to a channel.", complexity: "O(N+M) where N is the number of clients subscribed to the receiving channel and M is the total number of subscribed patterns (by any client).", syntax: "channel message", run: publish, ..Command::BASE },
    Command { name: "pubsub", full_name: "pubsub", arity: -2, group: "pubsub", since: "2.8.0", summary: "A container for Pub/Sub commands.", complexity: "Depends on subcommand.", subcommands: PUBSUB_SUBCOMMANDS, ..Command::BASE },
];
