//! Connection commands: `PING`, `ECHO`, `SELECT`, `HELLO`, `AUTH`,
//! `CLIENT ...`, `QUIT`, `RESET`.

use bytes::Bytes;

use super::table::{flags as f, Command};
use super::{arg_db, arg_i64, help_reply, is, unix_ms, Action, CmdError, CmdResult, Ctx, SYNTAX};

const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

fn ping(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if args.len() > 2 {
        return Err("ERR wrong number of arguments for 'ping' command".into());
    }
    if !ctx.out.resp3 && ctx.client.subscribed() {
        // A subscribed RESP2 client gets PING's answer in message form.
        ctx.out.array(2);
        ctx.out.bulk(b"pong");
        ctx.out.bulk(args.get(1).map_or(&b""[..], |m| &m[..]));
        return Ok(());
    }
    match args.get(1) {
        Some(m) => ctx.out.bulk(m),
        None => ctx.out.simple("PONG"),
    }
    Ok(())
}

fn echo(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    ctx.out.bulk(&args[1]);
    Ok(())
}

fn select(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let id = arg_db(&args[1], ctx.store.ks.dbs.len())?;
    ctx.client.db = id;
    if ctx.loading {
        return Ok(());
    }
    ctx.out.ok();
    Ok(())
}

/// Checks a password for the `default` user (the only user Helios has).
fn check_auth(ctx: &Ctx, user: &[u8], pass: &[u8]) -> bool {
    if user != b"default" {
        return false;
    }
    match &ctx.server.config.read().requirepass {
        Some(p) => p.as_bytes() == pass,
        // The default user has no password: any password is accepted.
        None => true,
    }
}

fn auth(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if args.len() > 3 {
        return Err(SYNTAX.into());
    }
    let (user, pass): (&[u8], &[u8]) = if args.len() == 2 {
        if ctx.server.config.read().requirepass.is_none() {
            return Err("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?".into());
        }
        (b"default", &args[1])
    } else {
        (&args[1], &args[2])
    };
    if check_auth(ctx, user, pass) {
        ctx.client.authenticated = true;
        ctx.out.ok();
        Ok(())
    } else {
        Err(WRONGPASS.into())
    }
}

fn valid_client_name(name: &[u8]) -> bool {
    name.iter().all(|&c| (b'!'..=b'~').contains(&c))
}

/// `HELLO [protover [AUTH username password] [SETNAME clientname]]`
fn hello(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let mut ver = None;
    if args.len() >= 2 {
        let v = arg_i64(&args[1]).map_err(|_| {
            CmdError::from("ERR Protocol version is not an integer or out of range")
        })?;
        if !(2..=3).contains(&v) {
            return Err("NOPROTO unsupported protocol version".into());
        }
        ver = Some(v);
    }
    let mut setname = None;
    let mut j = 2;
    while j < args.len() {
        let more = args.len() - j - 1;
        if is(&args[j], "auth") && more >= 2 {
            if !check_auth(ctx, &args[j + 1], &args[j + 2]) {
                return Err(WRONGPASS.into());
            }
            ctx.client.authenticated = true;
            j += 3;
        } else if is(&args[j], "setname") && more >= 1 {
            if !valid_client_name(&args[j + 1]) {
                return Err(
                    "ERR Client names cannot contain spaces, newlines or special characters."
                        .into(),
                );
            }
            setname = Some(String::from_utf8_lossy(&args[j + 1]).into_owned());
            j += 2;
        } else {
            return Err(format!(
                "ERR Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(&args[j])
            )
            .into());
        }
    }
    if !ctx.client.authenticated {
        return Err("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time".into());
    }
    if let Some(n) = setname {
        ctx.client.name = n;
    }
    if let Some(v) = ver {
        ctx.client.resp3 = v == 3;
        ctx.out.resp3 = v == 3;
    }
    let out = &mut *ctx.out;
    out.map(7);
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(crate::REDIS_VERSION.as_bytes());
    out.bulk(b"proto");
    out.int(if ctx.client.resp3 { 3 } else { 2 });
    out.bulk(b"id");
    out.int(ctx.client.id as i64);
    out.bulk(b"mode");
    out.bulk(b"standalone");
    out.bulk(b"role");
    out.bulk(b"master");
    out.bulk(b"modules");
    out.array(0);
    Ok(())
}

fn quit(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    ctx.out.ok();
    ctx.action = Some(Action::Close);
    Ok(())
}

/// `MONITOR`: from now on the client is sent a line for every command
/// this node receives (see `server::monitor`).
fn monitor(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let mailbox = super::pubsub::mailbox(ctx);
    ctx.server.monitors.add(ctx.client.id, mailbox);
    ctx.out.ok();
    Ok(())
}

fn reset(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let c = &mut *ctx.client;
    c.db = 0;
    c.resp3 = false;
    ctx.out.resp3 = false;
    c.name.clear();
    c.no_evict = false;
    c.no_touch = false;
    c.multi = None;
    c.watched.clear();
    use crate::server::pubsub::Kind;
    for (kind, names) in [
        (Kind::Channel, std::mem::take(&mut c.channels)),
        (Kind::Pattern, std::mem::take(&mut c.patterns)),
        (Kind::Shard, std::mem::take(&mut c.shard_channels)),
    ] {
        for name in names {
            ctx.server.pubsub.unsubscribe(kind, &name, c.id);
        }
    }
    ctx.server.monitors.remove(c.id);
    c.authenticated = ctx.server.config.read().requirepass.is_none();
    ctx.out.simple("RESET");
    Ok(())
}

fn client_id(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    ctx.out.int(ctx.client.id as i64);
    Ok(())
}

fn client_setname(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if !valid_client_name(&args[2]) {
        return Err(
            "ERR Client names cannot contain spaces, newlines or special characters.".into(),
        );
    }
    ctx.client.name = String::from_utf8_lossy(&args[2]).into_owned();
    ctx.out.ok();
    Ok(())
}

fn client_getname(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    if ctx.client.name.is_empty() {
        ctx.out.null();
    } else {
        ctx.out.bulk(ctx.client.name.as_bytes());
    }
    Ok(())
}

fn client_setinfo(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let value = &args[3];
    if !valid_client_name(value) && !value.is_empty() {
        return Err(format!(
            "ERR {} cannot contain spaces, newlines or special characters.",
            String::from_utf8_lossy(&args[2]).to_ascii_uppercase()
        )
        .into());
    }
    let v = String::from_utf8_lossy(value).into_owned();
    if is(&args[2], "lib-name") {
        ctx.client.lib_name = v;
    } else if is(&args[2], "lib-ver") {
        ctx.client.lib_ver = v;
    } else {
        return Err(format!(
            "ERR Unrecognized option '{}'",
            String::from_utf8_lossy(&args[2])
        )
        .into());
    }
    ctx.out.ok();
    Ok(())
}

fn client_list(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let mut ids: Option<Vec<u64>> = None;
    let mut j = 2;
    while j < args.len() {
        if is(&args[j], "type") && j + 1 < args.len() {
            let t = &args[j + 1];
            if !(is(t, "normal")
                || is(t, "master")
                || is(t, "replica")
                || is(t, "slave")
                || is(t, "pubsub"))
            {
                return Err(
                    format!("ERR Unknown client type '{}'", String::from_utf8_lossy(t)).into(),
                );
            }
            if !is(t, "normal") {
                ids = Some(Vec::new());
            }
            j += 2;
        } else if is(&args[j], "id") && j + 1 < args.len() {
            let mut v = Vec::new();
            for a in &args[j + 1..] {
                match arg_i64(a) {
                    Ok(n) if n > 0 => v.push(n as u64),
                    _ => return Err("ERR Invalid client ID".into()),
                }
            }
            ids = Some(v);
            j = args.len();
        } else {
            return Err(SYNTAX.into());
        }
    }
    ctx.client.publish();
    let now = unix_ms();
    let clients = ctx.server.clients.lock();
    let mut handles: Vec<_> = clients.values().cloned().collect();
    drop(clients);
    handles.sort_by_key(|h| h.id);
    let mut text = String::new();
    for h in handles {
        if ids.as_ref().is_some_and(|ids| !ids.contains(&h.id)) {
            continue;
        }
        text.push_str(&h.info_line(now));
        text.push('\n');
    }
    ctx.out.verbatim(&text);
    Ok(())
}

fn client_info(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    ctx.client.publish();
    let line = ctx.client.handle.info_line(unix_ms()) + "\n";
    ctx.out.verbatim(&line);
    Ok(())
}

/// `CLIENT KILL ip:port` or `CLIENT KILL <filter> <value> ...`.
fn client_kill(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let handles: Vec<_> = ctx.server.clients.lock().values().cloned().collect();
    if args.len() == 3 {
        let addr = String::from_utf8_lossy(&args[2]);
        let Some(h) = handles.iter().find(|h| h.addr == addr) else {
            return Err("ERR No such client".into());
        };
        h.request_kill();
        ctx.out.ok();
        return Ok(());
    }
    if !args.len().is_multiple_of(2) {
        return Err(SYNTAX.into());
    }
    let (mut id, mut addr, mut laddr, mut skipme, mut maxage) = (None, None, None, true, None);
    let mut typ_matches_none = false;
    for pair in args[2..].chunks(2) {
        let (k, v) = (&pair[0], &pair[1]);
        let vs = String::from_utf8_lossy(v).into_owned();
        if is(k, "id") {
            id = Some(
                arg_i64(v)
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or(CmdError::from("ERR client-id should be greater than 0"))?
                    as u64,
            );
        } else if is(k, "addr") {
            addr = Some(vs);
        } else if is(k, "laddr") {
            laddr = Some(vs);
        } else if is(k, "skipme") {
            skipme = if is(v, "yes") {
                true
            } else if is(v, "no") {
                false
            } else {
                return Err(SYNTAX.into());
            };
        } else if is(k, "maxage") {
            maxage = Some(arg_i64(v)?.max(0) as u64);
        } else if is(k, "type") {
            if !(is(v, "normal")
                || is(v, "master")
                || is(v, "replica")
                || is(v, "slave")
                || is(v, "pubsub"))
            {
                return Err(format!("ERR Unknown client type '{vs}'").into());
            }
            typ_matches_none = !is(v, "normal");
        } else if is(k, "user") {
            typ_matches_none |= !is(v, "default");
        } else {
            return Err(SYNTAX.into());
        }
    }
    let mut killed = 0;
    for h in &handles {
        let matched = !typ_matches_none
            && id.is_none_or(|i| i == h.id)
            && addr.as_ref().is_none_or(|a| *a == h.addr)
            && laddr.as_ref().is_none_or(|a| *a == h.laddr)
            && maxage.is_none_or(|m| h.created.elapsed().as_secs() >= m)
            && !(skipme && h.id == ctx.client.id);
        if matched {
            h.request_kill();
            killed += 1;
        }
    }
    ctx.out.int(killed);
    Ok(())
}

fn on_off(a: &[u8]) -> Result<bool, CmdError> {
    if is(a, "on") {
        Ok(true)
    } else if is(a, "off") {
        Ok(false)
    } else {
        Err(SYNTAX.into())
    }
}

fn client_no_evict(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    ctx.client.no_evict = on_off(&args[2])?;
    ctx.out.ok();
    Ok(())
}

fn client_no_touch(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    ctx.client.no_touch = on_off(&args[2])?;
    ctx.out.ok();
    Ok(())
}

fn client_help(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let lines = [
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are: ID, ADDR, LADDR, TYPE, USER, SKIPME, MAXAGE.",
        "LIST [options ...]",
        "    Return information about client connections. Options: TYPE, ID.",
        "NO-EVICT (ON|OFF)",
        "    Protect current client connection from eviction.",
        "NO-TOUCH (ON|OFF)",
        "    Will not touch LRU/LFU stats when this mode is on.",
        "SETINFO <option> <value>",
        "    Set client meta attr. Options are: LIB-NAME, LIB-VER.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "HELP",
        "    Print this help.",
    ];
    help_reply(ctx.out, &lines);
    Ok(())
}

const C: u32 = f::NOSCRIPT | f::LOADING | f::STALE;

static CLIENT_SUBCOMMANDS: &[Command] = &[
    Command { name: "id", full_name: "client|id", arity: 2, flags: C, group: "connection", since: "5.0.0", summary: "Returns the unique client ID of the connection.", run: client_id, ..Command::BASE },
    Command { name: "setname", full_name: "client|setname", arity: 3, flags: C, group: "connection", since: "2.6.9", summary: "Sets the connection name.", syntax: "connection-name", run: client_setname, ..Command::BASE },
    Command { name: "getname", full_name: "client|getname", arity: 2, flags: C, group: "connection", since: "2.6.9", summary: "Returns the name of the connection.", run: client_getname, ..Command::BASE },
    Command { name: "setinfo", full_name: "client|setinfo", arity: 4, flags: C, group: "connection", since: "7.2.0", summary: "Sets information specific to the client or connection.", syntax: "LIB-NAME libname | LIB-VER libver", run: client_setinfo, ..Command::BASE },
    Command { name: "list", full_name: "client|list", arity: -2, flags: C | f::ADMIN, group: "connection", since: "2.4.0", summary: "Lists open connections.", complexity: "O(N) where N is the number of client connections", syntax: "[TYPE NORMAL | MASTER | REPLICA | PUBSUB] [ID client-id [client-id ...]]", run: client_list, ..Command::BASE },
    Command { name: "info", full_name: "client|info", arity: 2, flags: C, group: "connection", since: "6.2.0", summary: "Returns information about the connection.", run: client_info, ..Command::BASE },
    Command { name: "kill", full_name: "client|kill", arity: -3, flags: C | f::ADMIN, group: "connection", since: "2.4.0", summary: "Terminates open connections.", complexity: "O(N) where N is the number of client connections", syntax: "ip:port | [ID client-id] [TYPE NORMAL | MASTER | SLAVE | REPLICA | PUBSUB] [USER username] [ADDR ip:port] [LADDR ip:port] [SKIPME YES | NO] [MAXAGE maxage]", run: client_kill, ..Command::BASE },
    Command { name: "no-evict", full_name: "client|no-evict", arity: 3, flags: C | f::ADMIN, group: "connection", since: "7.0.0", summary: "Sets the client eviction mode of the connection.", syntax: "ON | OFF", run: client_no_evict, ..Command::BASE },
    Command { name: "no-touch", full_name: "client|no-touch", arity: 3, flags: C, group: "connection", since: "7.2.0", summary: "Controls whether commands sent by the client affect the LRU/LFU of accessed keys.", syntax: "ON | OFF", run: client_no_touch, ..Command::BASE },
    Command { name: "help", full_name: "client|help", arity: 2, flags: f::LOADING | f::STALE, group: "connection", since: "5.0.0", summary: "Returns helpful text about the different subcommands.", run: client_help, ..Command::BASE },
];

const AUTHLESS: u32 = f::NOSCRIPT | f::LOADING | f::STALE | f::FAST | f::NO_AUTH;

pub static COMMANDS: &[Command] = &[
    Command {
        name: "ping",
        full_name: "ping",
        arity: -1,
        flags: f::FAST,
        group: "connection",
        summary: "Returns the server's liveliness response.",
        syntax: "[message]",
        run: ping,
        ..Command::BASE
    },
    Command {
        name: "echo",
        full_name: "echo",
        arity: 2,
        flags: f::FAST,
        group: "connection",
        summary: "Returns the given string.",
        syntax: "message",
        run: echo,
        ..Command::BASE
    },
    Command {
        name: "select",
        full_name: "select",
        arity: 2,
        flags: f::LOADING | f::STALE | f::FAST,
        group: "connection",
        summary: "Changes the selected database.",
        syntax: "index",
        run: select,
        ..Command::BASE
    },
    Command {
        name: "auth",
        full_name: "auth",
        arity: -2,
        flags: AUTHLESS,
        group: "connection",
        summary: "Authenticates the connection.",
        complexity: "O(N) where N is the number of passwords defined for the user",
        syntax: "[username] password",
        run: auth,
        ..Command::BASE
    },
    Command {
        name: "hello",
        full_name: "hello",
        arity: -1,
        flags: AUTHLESS,
        group: "connection",
        since: "6.0.0",
        summary: "Handshakes with the Redis server.",
        syntax: "[protover [AUTH username password] [SETNAME clientname]]",
        run: hello,
        ..Command::BASE
    },
    Command {
        name: "quit",
        full_name: "quit",
        arity: -1,
        flags: AUTHLESS,
        group: "connection",
        summary: "Closes the connection.",
        run: quit,
        ..Command::BASE
    },
    Command {
        name: "monitor",
        full_name: "monitor",
        arity: 1,
        flags: f::ADMIN | f::NOSCRIPT | f::LOADING | f::STALE,
        group: "server",
        summary: "Listens for all requests received by the server in real-time.",
        run: monitor,
        ..Command::BASE
    },
    Command {
        name: "reset",
        full_name: "reset",
        arity: 1,
        flags: AUTHLESS,
        group: "connection",
        since: "6.2.0",
        summary: "Resets the connection.",
        run: reset,
        ..Command::BASE
    },
    Command {
        name: "client",
        full_name: "client",
        arity: -2,
        group: "connection",
        since: "2.4.0",
        summary: "A container for client connection commands.",
        complexity: "Depends on subcommand.",
        subcommands: CLIENT_SUBCOMMANDS,
        ..Command::BASE
    },
];
