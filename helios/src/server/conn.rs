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

use super::{Client, Server};
use crate::cmd::{execute, is, unix_ms, Action, Ctx};
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
    if let Err(e) = run(&server, socket, client).await {
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
            loop {
                match parser.parse(&mut buf) {
                    Ok(Some(args)) if args.is_empty() => continue,
                    Ok(Some(args)) => {
                        // Redis's guard against browsers and HTTP clients
                        // talking to the port: close without a reply.
                        if is(&args[0], "post") || is(&args[0], "host:") {
                            tracing::warn!(
                                "possible security attack: HTTP request on the Redis port from {}; connection closed",
                                client.handle.addr
                            );
                            return Ok(());
                        }
                        let store = guard.get_or_insert_with(|| server.store.lock());
                        let mut ctx = Ctx {
                            server,
                            store: &mut *store,
                            client: &mut client,
                            out: &mut out,
                            now: unix_ms(),
                            loading: false,
                            action: None,
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
        if executed > 0 {
            server
                .stats
                .commands_processed
                .fetch_add(executed, Ordering::Relaxed);
            client.publish();
        }

        // 2. Durability before acknowledgement: everything this batch wrote,
        // and everything it could have read, is in the AOF.
        if let Some(end) = needed {
            server.aof.commit(end).await;
        }

        // 3. Replies.
        flush_out(server, &mut socket, &mut out).await?;

        // 4. Work requested by a command, done without the lock.
        match action {
            None => {}
            Some(Action::Close) => return Ok(()),
            Some(Action::Shutdown { save }) => {
                server.shutdown(save);
                return Ok(());
            }
            Some(Action::Save) => {
                match server.save().await {
                    Ok(()) => out.ok(),
                    Err(e) => out.error(&format!("ERR {e}")),
                }
                flush_out(server, &mut socket, &mut out).await?;
            }
            Some(Action::Wait { timeout }) => {
                // Standalone: no replica will ever acknowledge. Block like
                // Redis until the timeout (0 = until the client goes away).
                let sleep = async {
                    if timeout.is_zero() {
                        std::future::pending::<()>().await
                    } else {
                        tokio::time::sleep(timeout).await
                    }
                };
                tokio::select! {
                    _ = sleep => {}
                    _ = handle.kill.notified() => return Ok(()),
                }
                out.int(0);
                flush_out(server, &mut socket, &mut out).await?;
            }
        }
        if close || handle.killed.load(Ordering::Acquire) {
            return Ok(());
        }
        if more_buffered {
            continue;
        }

        // 5. Read more.
        let want = parser.wanted.clamp(16 * 1024, 1 << 20);
        if buf.capacity() - buf.len() < want {
            buf.reserve(want);
        }
        let idle = server.idle_timeout_secs.load(Ordering::Relaxed);
        let idle_timer = async {
            if idle == 0 {
                std::future::pending::<()>().await
            } else {
                tokio::time::sleep(std::time::Duration::from_secs(idle)).await
            }
        };
        tokio::select! {
            _ = idle_timer => return Ok(()),
            r = socket.read_buf(&mut buf) => {
                let n = r?;
                if n == 0 {
                    return Ok(());
                }
                server.stats.net_input_bytes.fetch_add(n as u64, Ordering::Relaxed);
            }
            _ = handle.kill.notified() => return Ok(()),
        }
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
