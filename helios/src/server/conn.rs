//! One client connection: read, execute a batch, make it durable, reply.
//!
//! The loop reads whatever the socket has, executes every complete command
//! in the buffer under one acquisition of the keyspace lock (pipelining
//! costs one lock and one `write` per batch, not per command), waits until
//! the AOF holds everything the batch wrote or read, and only then writes
//! the replies. A reply therefore never acknowledges a write that a crash
//! could lose (with `appendfsync always`; see `persist::aof`).

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use bytes::Bytes;

use super::{Client, ClientHandle, Server};
use crate::cmd::list::{block_spec, BlockSpec, Wants, BLOCKED_REPLY};
use crate::cmd::raft::RaftAdmin;
use crate::cmd::{execute, is, lookup, unix_ms, Action, Ctx, Flags};
use crate::raft::{AdminOp, RaftNode, ReadError, Request, WriteOutcome};
use crate::resp::{Limits, Out, RequestParser};

/// Output above this is written out before executing more of the batch.
const OUT_HIGH_WATER: usize = 1 << 20;

pub(super) async fn serve_connection(
    server: Arc<Server>,
    mut socket: TcpStream,
    peer: SocketAddr,
    local: SocketAddr,
) {
    let _ = socket.set_nodelay(true);
    let maxclients = server.config.read().maxclients;
    if server.clients.lock().len() >= maxclients {
        server
            .stats
            .rejected_connections
            .fetch_add(1, Ordering::Relaxed);
        let _ = socket
            .write_all(b"-ERR max number of clients reached\r\n")
            .await;
        return;
    }
    let handle = server.register_client(peer.to_string(), local.to_string());
    let id = handle.id;
    if server.is_shutting_down() {
        // Accepted just before the shutdown: the kill sweep may have missed it.
        server.unregister_client(id);
        return;
    }
    let authenticated = server.config.read().requirepass.is_none();
    let client = Client::new(handle, authenticated);
    let result = match server.raft.get() {
        Some(node) => run_raft(&server, node, socket, client).await,
        None => run(&server, socket, client).await,
    };
    if let Err(e) = result {
        tracing::debug!("client {id} ({peer}): {e}");
    }
    server.unregister_client(id);
}

/// Why a connection ended abnormally (logged at debug level).
type ConnResult = std::io::Result<()>;

async fn run(server: &Arc<Server>, mut socket: TcpStream, mut client: Client) -> ConnResult {
    let mut buf = BytesMut::with_capacity(16 * 1024);
    let mut parser = RequestParser::new(limits(server));
    let mut out = Out::new(false);
    let handle = client.handle.clone();
    loop {
        // 1. Execute every complete command in the buffer.
        let mut action = None;
        let mut close = false;
        let mut more_buffered = false;
        let mut needed = None;
        let mut executed = 0u64;
        if !buf.is_empty() {
            // Limits may have changed through CONFIG SET.
            parser.set_limits(limits(server));
            let mut guard = None;
            // One clock reading for the batch: the commands of one read run
            // back to back under one lock, as in one Redis event-loop turn.
            let now = unix_ms();
            loop {
                match parser.parse(&mut buf) {
                    Ok(Some(args)) if args.is_empty() => continue,
                    Ok(Some(args)) => {
                        if is_http_request(&args, &client) {
                            return Ok(());
                        }
                        feed_monitors(server, &client, &args);
                        let store = guard.get_or_insert_with(|| server.store.lock());
                        let mut ctx = Ctx {
                            server,
                            store: &mut *store,
                            client: &mut client,
                            out: &mut out,
                            now,
                            loading: false,
                            action: None,
                            seed: None,
                        };
                        execute(&mut ctx, &args);
                        executed += 1;
                        if let Some(a) = ctx.action.take() {
                            action = Some(a);
                            more_buffered = true;
                            break;
                        }
                        if out.len() > OUT_HIGH_WATER {
                            more_buffered = true;
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        out.error(&format!("ERR {e}"));
                        close = true;
                        break;
                    }
                }
            }
            if let Some(st) = guard {
                needed = Some(st.aof.end);
            }
        }
        count_executed(server, &client, executed);

        // 2. Durability before acknowledgement: everything this batch wrote,
        // and everything it could have read, is in the AOF.
        if let (Some(end), Some(aof)) = (needed, &server.aof) {
            aof.commit(end).await;
        }

        // A blocking pop that found nothing: earlier replies go out, then
        // the connection waits, retrying the command when woken.
        if let Some(Action::Block(spec)) = action.take_if(|a| matches!(a, Action::Block(_))) {
            flush_out(server, &mut socket, &mut out).await?;
            let mut waiter = BlockedWait::new(server, client.db, &spec);
            loop {
                let (reg, retry) = match waiter.wait(&mut out, &handle).await {
                    Wake::Killed => return Ok(()),
                    Wake::TimedOut => break,
                    Wake::Retry(reg, retry) => (reg, retry),
                };
                let mark = out.len();
                let (would_block, end) = {
                    let mut store = server.store.lock();
                    let mut ctx = Ctx {
                        server,
                        store: &mut store,
                        client: &mut client,
                        out: &mut out,
                        now: unix_ms(),
                        loading: false,
                        action: None,
                        seed: None,
                    };
                    execute(&mut ctx, &retry);
                    let blocked = matches!(ctx.action, Some(Action::Block(_)));
                    (blocked, store.aof.end)
                };
                if !waiter.retried(&reg, would_block, &mut out, mark) {
                    if let Some(aof) = &server.aof {
                        aof.commit(end).await;
                    }
                    break;
                }
            }
            flush_out(server, &mut socket, &mut out).await?;
        }

        // 3. Replies, work requested by a command (without the lock), then
        // more input.
        let end = BatchEnd {
            action,
            close,
            more_buffered,
        };
        let io = BatchIo {
            socket: &mut socket,
            out: &mut out,
            buf: &mut buf,
            parser: &parser,
            handle: &handle,
            messages: client.messages.as_mut(),
        };
        if !end_batch(server, None, 0, end, io).await? {
            return Ok(());
        }
    }
}

/// The keys of `keys` in database `db` that hold what a blocked client
/// wants, in its order.
fn ready_keys(server: &Server, db: usize, keys: &[Bytes], wants: Wants) -> Vec<Bytes> {
    use crate::atlas::Value;
    let store = server.store.lock();
    let now = unix_ms();
    keys.iter()
        .filter(|k| {
            matches!(
                (store.ks.dbs[db].peek(k, now).map(|e| &e.value), wants),
                (Some(Value::List(_)), Wants::List) | (Some(Value::Zset(_)), Wants::Zset)
            )
        })
        .cloned()
        .collect()
}

/// A client blocked in a list or sorted set pop (see `server::blocking`):
/// queued on its keys, it sleeps until woken, then runs its command again
/// (the caller does: locally, or as a Raft proposal), narrowed to the keys
/// that hold what it waits for. A wake-up with no such key, or a retry
/// that would block again, waits again at the front of its queues, as does
/// a pop answered WRONGTYPE (a key changed type between the look and the
/// retry; Redis keeps such a client blocked). A move's WRONGTYPE about its
/// destination is the client's answer, as in Redis. On timeout the reply
/// is a null.
struct BlockedWait<'a> {
    server: &'a Server,
    db: usize,
    spec: &'a BlockSpec,
    deadline: Option<tokio::time::Instant>,
    keep_turn: bool,
}

enum Wake {
    /// Woken: run this command, then call [`BlockedWait::retried`].
    Retry(crate::server::blocking::Registration, Vec<Bytes>),
    /// The timeout passed: the null reply is in `out`.
    TimedOut,
    /// The client was killed: close the connection.
    Killed,
}

impl<'a> BlockedWait<'a> {
    fn new(server: &'a Server, db: usize, spec: &'a BlockSpec) -> BlockedWait<'a> {
        BlockedWait {
            server,
            db,
            spec,
            deadline: spec.timeout.map(|t| tokio::time::Instant::now() + t),
            keep_turn: false,
        }
    }

    async fn wait(&mut self, out: &mut Out, handle: &ClientHandle) -> Wake {
        let blocked = &self.server.blocked;
        let (db, keys, wants) = (self.db, &self.spec.keys, self.spec.wants);
        loop {
            let reg = blocked.register(db, keys, wants, self.keep_turn);
            // An element may have come between the attempt and the queueing.
            if !ready_keys(self.server, db, keys, wants).is_empty() {
                reg.notify.notify_one();
            }
            let deadline = self.deadline;
            let until = async move {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            let woke = tokio::select! {
                _ = reg.notify.notified() => Some(true),
                _ = until => Some(false),
                _ = handle.kill.notified() => None,
            };
            blocked.unregister(&reg);
            match woke {
                Some(true) => {
                    let ready = ready_keys(self.server, db, keys, wants);
                    if ready.is_empty() {
                        // Spurious: wait on at the front, passing nothing on.
                        self.keep_turn = true;
                        continue;
                    }
                    return Wake::Retry(reg, self.spec.retry_command(&ready));
                }
                Some(false) => {
                    blocked.pass_on(&reg);
                    if self.spec.null_array {
                        out.null_array();
                    } else {
                        out.null();
                    }
                    return Wake::TimedOut;
                }
                None => {
                    blocked.pass_on(&reg);
                    return Wake::Killed;
                }
            }
        }
    }

    /// After a retry that wrote its reply from `mark` on: true when the
    /// client waits again (the reply is dropped), false when it was served
    /// (the turn passes to the next client).
    fn retried(
        &mut self,
        reg: &crate::server::blocking::Registration,
        would_block: bool,
        out: &mut Out,
        mark: usize,
    ) -> bool {
        let wrong_type = out.buf[mark..].starts_with(b"-WRONGTYPE");
        if would_block || (wrong_type && !self.spec.has_destination()) {
            out.buf.truncate(mark);
            self.keep_turn = true;
            return true;
        }
        self.server.blocked.pass_on(reg);
        false
    }
}

/// Redis's guard against browsers and HTTP clients talking to the port:
/// such a connection is closed without a reply.
fn is_http_request(args: &[Bytes], client: &Client) -> bool {
    let http = is(&args[0], "post") || is(&args[0], "host:");
    if http {
        tracing::warn!(
            "possible security attack: HTTP request on the Redis port from {}; connection closed",
            client.handle.addr
        );
    }
    http
}

/// Raft mode: whether a write must be refused for `maxmemory` before it is
/// proposed (the check is this node's; applying an entry never refuses).
fn oom(server: &Server, args: &[Bytes]) -> bool {
    if server.maxmemory.load(std::sync::atomic::Ordering::Relaxed) == 0 {
        return false;
    }
    resolve(args).is_some_and(|cmd| crate::cmd::over_maxmemory(server, &server.store.lock(), cmd))
}

/// Shows a command this connection received to the `MONITOR` clients
/// (administrative commands excepted, as in Redis).
fn feed_monitors(server: &Server, client: &Client, args: &[Bytes]) {
    if server.monitors.is_empty() || resolve(args).is_some_and(|c| c.has(Flags::ADMIN)) {
        return;
    }
    server
        .monitors
        .feed(client.id, client.db, &client.handle.addr, args);
}

fn count_executed(server: &Server, client: &Client, executed: u64) {
    if executed > 0 {
        server
            .stats
            .commands_processed
            .fetch_add(executed, Ordering::Relaxed);
        client.publish();
    }
}

/// How a batch of commands ended.
struct BatchEnd {
    action: Option<Action>,
    close: bool,
    /// Commands are left in the buffer (the batch stopped early).
    more_buffered: bool,
}

/// The connection's socket and buffers.
struct BatchIo<'a> {
    socket: &'a mut TcpStream,
    out: &'a mut Out,
    buf: &'a mut BytesMut,
    parser: &'a RequestParser,
    handle: &'a ClientHandle,
    /// Pub/sub messages to deliver while waiting for input.
    messages: Option<&'a mut Messages>,
}

/// After a batch: the replies, the requested action, then more input
/// unless commands are still buffered. Returns false when the connection
/// must close.
async fn end_batch(
    server: &Arc<Server>,
    node: Option<&Arc<RaftNode>>,
    last_write: u64,
    end: BatchEnd,
    io: BatchIo<'_>,
) -> std::io::Result<bool> {
    flush_out(server, io.socket, io.out).await?;
    if !run_action(
        server, node, last_write, end.action, io.socket, io.out, io.handle,
    )
    .await?
    {
        return Ok(false);
    }
    if end.close || io.handle.killed.load(Ordering::Acquire) {
        return Ok(false);
    }
    if end.more_buffered {
        return Ok(true);
    }
    read_more(server, io.socket, io.buf, io.parser, io.handle, io.messages).await
}

/// Carries out a command's [`Action`]. Returns false when the connection
/// must close.
async fn run_action(
    server: &Arc<Server>,
    node: Option<&Arc<RaftNode>>,
    last_write: u64,
    action: Option<Action>,
    socket: &mut TcpStream,
    out: &mut Out,
    handle: &ClientHandle,
) -> std::io::Result<bool> {
    match action {
        None => {}
        Some(Action::Close) => return Ok(false),
        Some(Action::Shutdown { save }) => {
            server.shutdown(save);
            return Ok(false);
        }
        Some(Action::Save) => {
            match server.save().await {
                Ok(()) => out.ok(),
                Err(e) => out.error(&format!("ERR {e}")),
            }
            flush_out(server, socket, out).await?;
        }
        Some(Action::Wait {
            numreplicas,
            timeout,
        }) => {
            let timeout = (!timeout.is_zero()).then_some(timeout);
            let have = match node {
                // Followers that hold this client's last write.
                Some(node) => {
                    let wait = node.wait_replicas(last_write, numreplicas as usize, timeout);
                    tokio::select! {
                        n = wait => n,
                        _ = handle.kill.notified() => return Ok(false),
                    }
                }
                // Standalone: no replica will ever acknowledge. Block like
                // Redis until the timeout (0 = until the client goes away).
                None => {
                    let sleep = async {
                        match timeout {
                            None => std::future::pending::<()>().await,
                            Some(t) => tokio::time::sleep(t).await,
                        }
                    };
                    tokio::select! {
                        _ = sleep => {}
                        _ = handle.kill.notified() => return Ok(false),
                    }
                    0
                }
            };
            out.int(have as i64);
            flush_out(server, socket, out).await?;
        }
        // Handled by the connection loops before the batch ends.
        Some(Action::Block(_)) => {}
        Some(Action::Raft(admin)) => {
            let Some(node) = node else {
                out.error("ERR raft is not enabled on this node (start it with -raft=true)");
                flush_out(server, socket, out).await?;
                return Ok(true);
            };
            let result = match admin {
                RaftAdmin::Init => node.init_cluster().await.map_err(|e| format!("ERR {e}")),
                RaftAdmin::Membership(op) => node.admin(op.into_op()).await,
                RaftAdmin::TransferLeader(to) => node.admin(AdminOp::TransferLeader { to }).await,
            };
            match result {
                Ok(msg) if msg == "OK" => out.ok(),
                Ok(msg) => out.simple(&msg),
                Err(e) => out.error(&e),
            }
            flush_out(server, socket, out).await?;
        }
    }
    Ok(true)
}

/// Waits for more input. Returns false when the connection must close
/// (EOF, idle timeout, killed).
async fn read_more(
    server: &Server,
    socket: &mut TcpStream,
    buf: &mut BytesMut,
    parser: &RequestParser,
    handle: &ClientHandle,
    messages: Option<&mut Messages>,
) -> std::io::Result<bool> {
    let want = parser.wanted.clamp(16 * 1024, 1 << 20);
    if buf.capacity() - buf.len() < want {
        buf.reserve(want);
    }
    // A subscriber waits for messages, not input: no idle timeout (Redis
    // exempts them too).
    let idle = if messages.is_some() {
        0
    } else {
        server.idle_timeout_secs.load(Ordering::Relaxed)
    };
    let mut messages = messages;
    let next_message = async {
        match messages.as_deref_mut() {
            Some(rx) => rx.recv().await,
            None => std::future::pending().await,
        }
    };
    let idle_timer = async {
        if idle == 0 {
            std::future::pending::<()>().await
        } else {
            tokio::time::sleep(std::time::Duration::from_secs(idle)).await
        }
    };
    tokio::select! {
        _ = idle_timer => Ok(false),
        r = socket.read_buf(buf) => {
            let n = r?;
            if n == 0 {
                return Ok(false);
            }
            server.stats.net_input_bytes.fetch_add(n as u64, Ordering::Relaxed);
            Ok(true)
        }
        _ = handle.kill.notified() => Ok(false),
        Some(first) = next_message => {
            // Everything queued so far, in one write.
            let mut batch = first.to_vec();
            if let Some(rx) = messages {
                while let Ok(m) = rx.try_recv() {
                    batch.extend_from_slice(&m);
                }
            }
            socket.write_all(&batch).await?;
            server
                .stats
                .net_output_bytes
                .fetch_add(batch.len() as u64, Ordering::Relaxed);
            Ok(true)
        }
    }
}

/// A subscribed client's queue of encoded pub/sub messages.
type Messages = tokio::sync::mpsc::UnboundedReceiver<Bytes>;

/// Writes collected for one Raft proposal: consecutive write commands from
/// one client with the same database and protocol.
struct PendingWrites {
    cmds: Vec<Vec<Bytes>>,
    db: usize,
    resp3: bool,
}

/// The raft-mode connection loop. Same shape as [`run`], but write
/// commands are collected and proposed as one Raft entry per run of
/// consecutive writes, and reads first pass the read barrier (once per
/// batch read from the socket).
async fn run_raft(
    server: &Arc<Server>,
    node: &Arc<RaftNode>,
    mut socket: TcpStream,
    mut client: Client,
) -> ConnResult {
    let mut buf = BytesMut::with_capacity(16 * 1024);
    let mut parser = RequestParser::new(limits(server));
    let mut out = Out::new(false);
    let handle = client.handle.clone();
    let client_id = node.new_client_id();
    let mut seq = 0u64;
    // Log index of this client's last write: reads wait until it is applied
    // here, and WAIT counts the followers that have it.
    let mut last_write = 0u64;
    loop {
        let mut action = None;
        let mut close = false;
        let mut more_buffered = false;
        let mut executed = 0u64;
        let mut barrier: Option<Result<(), String>> = None;
        let mut pending = PendingWrites {
            cmds: Vec::new(),
            db: 0,
            resp3: false,
        };
        if !buf.is_empty() {
            parser.set_limits(limits(server));
            loop {
                let args = match parser.parse(&mut buf) {
                    Ok(Some(args)) if args.is_empty() => continue,
                    Ok(Some(args)) => args,
                    Ok(None) => break,
                    Err(e) => {
                        propose(
                            node,
                            &mut pending,
                            client_id,
                            &mut seq,
                            &mut last_write,
                            &mut out,
                        )
                        .await;
                        out.error(&format!("ERR {e}"));
                        close = true;
                        break;
                    }
                };
                if is_http_request(&args, &client) {
                    return Ok(());
                }
                feed_monitors(server, &client, &args);
                executed += 1;
                match classify(&client, &args) {
                    Kind::Write if oom(server, &args) => {
                        propose(
                            node,
                            &mut pending,
                            client_id,
                            &mut seq,
                            &mut last_write,
                            &mut out,
                        )
                        .await;
                        out.error(crate::cmd::OOM);
                        continue;
                    }
                    Kind::Write => {
                        if !pending.cmds.is_empty()
                            && (pending.db != client.db || pending.resp3 != client.resp3)
                        {
                            propose(
                                node,
                                &mut pending,
                                client_id,
                                &mut seq,
                                &mut last_write,
                                &mut out,
                            )
                            .await;
                        }
                        if pending.cmds.is_empty() {
                            pending.db = client.db;
                            pending.resp3 = client.resp3;
                        }
                        pending.cmds.push(args.to_vec());
                        if pending.cmds.len() >= MAX_WRITES_PER_ENTRY {
                            propose(
                                node,
                                &mut pending,
                                client_id,
                                &mut seq,
                                &mut last_write,
                                &mut out,
                            )
                            .await;
                        }
                        continue;
                    }
                    Kind::Read => {
                        propose(
                            node,
                            &mut pending,
                            client_id,
                            &mut seq,
                            &mut last_write,
                            &mut out,
                        )
                        .await;
                        // Once per batch, and again after this client's
                        // own write if it is not applied here yet.
                        let behind =
                            last_write > node.sm.last_applied().map(|l| l.index).unwrap_or(0);
                        if barrier.is_none() || behind {
                            barrier = Some(read_barrier(node, last_write).await);
                        }
                        if let Some(Err(e)) = &barrier {
                            out.error(e);
                            continue;
                        }
                    }
                    Kind::Local => {
                        propose(
                            node,
                            &mut pending,
                            client_id,
                            &mut seq,
                            &mut last_write,
                            &mut out,
                        )
                        .await;
                    }
                    Kind::Exec => {
                        propose(
                            node,
                            &mut pending,
                            client_id,
                            &mut seq,
                            &mut last_write,
                            &mut out,
                        )
                        .await;
                        let (queued, watched) = match crate::cmd::multi::take_exec(&mut client) {
                            crate::cmd::multi::ExecPlan::Run { queued, watched } => {
                                (queued, watched)
                            }
                            crate::cmd::multi::ExecPlan::Doomed => {
                                out.error(crate::cmd::multi::EXECABORT);
                                continue;
                            }
                            crate::cmd::multi::ExecPlan::NoMulti => {
                                out.error("ERR EXEC without MULTI");
                                continue;
                            }
                        };
                        // One entry: the watches, then the queue, applied
                        // together on every node.
                        pending.db = client.db;
                        pending.resp3 = client.resp3;
                        pending.cmds.push(crate::cmd::multi::exec_marker(&watched));
                        pending.cmds.extend(queued);
                        let n = pending.cmds.len();
                        let mark = out.len();
                        propose(
                            node,
                            &mut pending,
                            client_id,
                            &mut seq,
                            &mut last_write,
                            &mut out,
                        )
                        .await;
                        // A refused proposal answers one error per command:
                        // the client gets one for its EXEC.
                        if n > 1 && out.buf[mark..].starts_with(b"-") {
                            let first = out.buf[mark..]
                                .iter()
                                .position(|&b| b == b'\n')
                                .map_or(out.len(), |i| mark + i + 1);
                            out.buf.truncate(first);
                        }
                        continue;
                    }
                    Kind::Blocking => {
                        propose(
                            node,
                            &mut pending,
                            client_id,
                            &mut seq,
                            &mut last_write,
                            &mut out,
                        )
                        .await;
                        // Bad arguments are answered here, without an entry.
                        let spec = match block_spec(&args) {
                            Ok(spec) => spec,
                            Err(e) => {
                                out.error(&e.0);
                                continue;
                            }
                        };
                        let mark = out.len();
                        pending.db = client.db;
                        pending.resp3 = client.resp3;
                        pending.cmds.push(args.to_vec());
                        propose(
                            node,
                            &mut pending,
                            client_id,
                            &mut seq,
                            &mut last_write,
                            &mut out,
                        )
                        .await;
                        if out.buf[mark..] == *BLOCKED_REPLY {
                            out.buf.truncate(mark);
                            action = Some(Action::Block(spec));
                            more_buffered = true;
                            break;
                        }
                        continue;
                    }
                }
                let mut store = server.store.lock();
                store.ks.set_lazy_delete(false);
                let mut ctx = Ctx {
                    server,
                    store: &mut store,
                    client: &mut client,
                    out: &mut out,
                    now: unix_ms(),
                    loading: false,
                    action: None,
                    seed: None,
                };
                execute(&mut ctx, &args);
                let a = ctx.action.take();
                drop(store);
                if let Some(a) = a {
                    action = Some(a);
                    more_buffered = true;
                    break;
                }
                if out.len() > OUT_HIGH_WATER {
                    more_buffered = true;
                    break;
                }
            }
            propose(
                node,
                &mut pending,
                client_id,
                &mut seq,
                &mut last_write,
                &mut out,
            )
            .await;
        }
        count_executed(server, &client, executed);
        if let Some(Action::Block(spec)) = action.take_if(|a| matches!(a, Action::Block(_))) {
            flush_out(server, &mut socket, &mut out).await?;
            let mut waiter = BlockedWait::new(server, client.db, &spec);
            loop {
                let (reg, retry) = match waiter.wait(&mut out, &handle).await {
                    Wake::Killed => return Ok(()),
                    Wake::TimedOut => break,
                    Wake::Retry(reg, retry) => (reg, retry),
                };
                let mark = out.len();
                let mut one = PendingWrites {
                    cmds: vec![retry],
                    db: client.db,
                    resp3: client.resp3,
                };
                propose(
                    node,
                    &mut one,
                    client_id,
                    &mut seq,
                    &mut last_write,
                    &mut out,
                )
                .await;
                let would_block = out.buf[mark..] == *BLOCKED_REPLY;
                if !waiter.retried(&reg, would_block, &mut out, mark) {
                    break;
                }
            }
            flush_out(server, &mut socket, &mut out).await?;
        }
        let end = BatchEnd {
            action,
            close,
            more_buffered,
        };
        let io = BatchIo {
            socket: &mut socket,
            out: &mut out,
            buf: &mut buf,
            parser: &parser,
            handle: &handle,
            messages: client.messages.as_mut(),
        };
        if !end_batch(server, Some(node), last_write, end, io).await? {
            return Ok(());
        }
    }
}

/// Writes above this many are split over several Raft entries.
const MAX_WRITES_PER_ENTRY: usize = 1024;

enum Kind {
    /// Replicated through the Raft log.
    Write,
    /// Reads the keyspace: needs the read barrier.
    Read,
    /// Connection, server and introspection commands, and anything that
    /// fails validation (its error reply is produced locally).
    Local,
    /// A blocking pop: proposed on its own, and waited for if it finds
    /// nothing.
    Blocking,
    /// `EXEC`: the queued transaction as one Raft entry.
    Exec,
}

/// The command `args` runs: the subcommand for a container (`CONFIG GET`).
fn resolve(args: &[Bytes]) -> Option<&'static crate::cmd::Command> {
    let cmd = lookup(&args[0])?;
    if cmd.subcommands.is_empty() {
        return Some(cmd);
    }
    let sub = String::from_utf8_lossy(args.get(1)?).to_ascii_lowercase();
    cmd.subcommands.iter().find(|s| s.name == sub)
}

fn classify(client: &Client, args: &[Bytes]) -> Kind {
    // A container (`OBJECT ENCODING`) is classified by its subcommand, so a
    // read among them waits for this client's earlier writes like any read.
    let Some(cmd) = resolve(args) else {
        return Kind::Local;
    };
    if !cmd.arity_ok(args.len()) {
        return Kind::Local;
    }
    if !client.authenticated && !cmd.has(Flags::NO_AUTH) {
        return Kind::Local;
    }
    // Inside MULTI everything but EXEC is queued (or refused) locally.
    if cmd.name == "exec" && client.multi.is_some() {
        return Kind::Exec;
    }
    if client.multi.is_some() {
        return Kind::Local;
    }
    // WATCH fingerprints what a linearizable read would see.
    if cmd.name == "watch" {
        return Kind::Read;
    }
    // PUBLISH goes through the log so that every node delivers it.
    if cmd.name == "publish" || cmd.name == "spublish" {
        return Kind::Write;
    }
    if cmd.has(Flags::WRITE) && cmd.has(Flags::BLOCKING) {
        Kind::Blocking
    } else if cmd.has(Flags::WRITE) {
        Kind::Write
    } else if cmd.has(Flags::READONLY) {
        Kind::Read
    } else {
        Kind::Local
    }
}

async fn read_barrier(node: &Arc<RaftNode>, last_write: u64) -> Result<(), String> {
    node.read_barrier().await.map_err(|e| match e {
        ReadError::NoLeader => "CLUSTERDOWN No raft leader".to_string(),
        ReadError::Unknown(e) => format!("TRYAGAIN {e}"),
    })?;
    if last_write > 0 {
        node.wait_applied(last_write)
            .await
            .map_err(|e| format!("TRYAGAIN {e}"))?;
    }
    Ok(())
}

/// Copies commands out of the connection's read buffer into one allocation
/// of their exact size. The entry they go into outlives the read (the log
/// keeps recent entries in memory): as slices they would each pin a whole
/// 16 KiB read buffer, and every read would need a fresh one.
fn compact(mut cmds: Vec<Vec<Bytes>>) -> Vec<Vec<Bytes>> {
    let total = cmds.iter().flatten().map(Bytes::len).sum();
    let mut store = bytes::BytesMut::with_capacity(total);
    for arg in cmds.iter().flatten() {
        store.extend_from_slice(arg);
    }
    let store = store.freeze();
    let mut at = 0;
    for arg in cmds.iter_mut().flatten() {
        let len = arg.len();
        *arg = store.slice(at..at + len);
        at += len;
    }
    cmds
}

/// Proposes the pending writes (if any) and appends their replies.
async fn propose(
    node: &Arc<RaftNode>,
    pending: &mut PendingWrites,
    client_id: u64,
    seq: &mut u64,
    last_write: &mut u64,
    out: &mut Out,
) {
    if pending.cmds.is_empty() {
        return;
    }
    *seq += 1;
    let n = pending.cmds.len();
    let req = Request {
        client: client_id,
        seq: *seq,
        now_ms: unix_ms(),
        db: pending.db as u32,
        resp3: pending.resp3,
        cmds: compact(std::mem::take(&mut pending.cmds)),
        expired: Vec::new(),
        acked: Vec::new(),
    };
    let err = match node.write(req).await {
        WriteOutcome::Applied { reply, index } => {
            *last_write = index;
            out.buf.extend_from_slice(&reply);
            return;
        }
        WriteOutcome::Moved(addr) => format!("MOVED 0 {addr}"),
        WriteOutcome::NoLeader => "CLUSTERDOWN No raft leader".to_string(),
        WriteOutcome::Unknown(e) => format!("TRYAGAIN {e}"),
    };
    for _ in 0..n {
        out.error(&err);
    }
}

fn limits(server: &Server) -> Limits {
    Limits {
        max_bulk_len: server.config.read().proto_max_bulk_len,
        ..Limits::default()
    }
}

async fn flush_out(server: &Server, socket: &mut TcpStream, out: &mut Out) -> ConnResult {
    if out.buf.is_empty() {
        return Ok(());
    }
    let res = socket.write_all(&out.buf).await;
    server
        .stats
        .net_output_bytes
        .fetch_add(out.buf.len() as u64, Ordering::Relaxed);
    out.buf.clear();
    if out.buf.capacity() > 4 * OUT_HIGH_WATER {
        out.buf.shrink_to(64 * 1024);
    }
    res
}
