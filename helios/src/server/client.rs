//! Per-connection client state, and the registry `CLIENT LIST` reads.
//!
//! [`Client`] is owned by its connection task and touched without locks.
//! The parts other connections may ask about (`CLIENT LIST`, `CLIENT KILL`)
//! live in a shared [`ClientHandle`], updated once per batch.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use tokio::sync::Notify;

/// What `CLIENT LIST` shows about a connection.
#[derive(Debug, Clone, Default)]
pub struct ClientMeta {
    pub name: String,
    pub lib_name: String,
    pub lib_ver: String,
    pub db: usize,
    pub resp: u8,
    pub last_cmd: &'static str,
    pub no_evict: bool,
    pub no_touch: bool,
}

/// The shared side of a connection.
#[derive(Debug)]
pub struct ClientHandle {
    pub id: u64,
    pub addr: String,
    pub laddr: String,
    pub created: Instant,
    pub meta: Mutex<ClientMeta>,
    /// Unix ms of the last command.
    pub last_active_ms: AtomicU64,
    pub killed: AtomicBool,
    pub kill: Notify,
}

impl ClientHandle {
    pub fn new(id: u64, addr: String, laddr: String) -> ClientHandle {
        ClientHandle {
            id,
            addr,
            laddr,
            created: Instant::now(),
            meta: Mutex::new(ClientMeta {
                resp: 2,
                last_cmd: "NULL",
                ..ClientMeta::default()
            }),
            last_active_ms: AtomicU64::new(crate::cmd::unix_ms()),
            killed: AtomicBool::new(false),
            kill: Notify::new(),
        }
    }

    /// Asks the connection to close after its current batch.
    pub fn request_kill(&self) {
        self.killed.store(true, Ordering::Release);
        self.kill.notify_one();
    }

    /// One `CLIENT LIST` line, in Redis's field order.
    pub fn info_line(&self, now_ms: u64) -> String {
        let m = self.meta.lock().clone();
        let idle = now_ms.saturating_sub(self.last_active_ms.load(Ordering::Relaxed)) / 1000;
        let mut flags = String::new();
        if m.no_evict {
            flags.push('e');
        }
        if m.no_touch {
            flags.push('T');
        }
        if flags.is_empty() {
            flags.push('N');
        }
        format!(
            "id={} addr={} laddr={} fd=0 name={} age={} idle={} flags={} db={} sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=16384 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={} user=default redir=-1 resp={} lib-name={} lib-ver={}",
            self.id,
            self.addr,
            self.laddr,
            m.name,
            self.created.elapsed().as_secs(),
            idle,
            flags,
            m.db,
            m.last_cmd,
            m.resp,
            m.lib_name,
            m.lib_ver
        )
    }
}

/// A connection's own state.
#[derive(Debug)]
pub struct Client {
    pub id: u64,
    pub db: usize,
    pub resp3: bool,
    pub authenticated: bool,
    pub name: String,
    pub lib_name: String,
    pub lib_ver: String,
    pub no_evict: bool,
    pub no_touch: bool,
    /// Full name of the command being (or last) run, for error texts.
    pub last_cmd: &'static str,
    pub handle: Arc<ClientHandle>,
    /// The open transaction (`MULTI`).
    pub multi: Option<crate::cmd::multi::Multi>,
    /// Keys `WATCH`ed for the next `EXEC`.
    pub watched: Vec<crate::cmd::multi::Watched>,
    /// Running a transaction's queue: blocking pops do not block.
    pub in_exec: bool,
    /// Pub/sub channels and patterns this client is subscribed to.
    pub channels: std::collections::BTreeSet<bytes::Bytes>,
    pub patterns: std::collections::BTreeSet<bytes::Bytes>,
    pub shard_channels: std::collections::BTreeSet<bytes::Bytes>,
    /// Where published messages for this client are queued (made on the
    /// first subscription), and the connection's end of it.
    pub mailbox: Option<super::pubsub::Mailbox>,
    pub messages: Option<tokio::sync::mpsc::UnboundedReceiver<bytes::Bytes>>,
}

impl Client {
    /// Channels plus patterns (what subscribe replies count).
    pub fn subscriptions(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    /// Whether the client is in subscribed mode (any kind of subscription).
    pub fn subscribed(&self) -> bool {
        self.subscriptions() + self.shard_channels.len() > 0
    }

    pub fn new(handle: Arc<ClientHandle>, authenticated: bool) -> Client {
        Client {
            id: handle.id,
            db: 0,
            resp3: false,
            authenticated,
            name: String::new(),
            lib_name: String::new(),
            lib_ver: String::new(),
            no_evict: false,
            no_touch: false,
            last_cmd: "NULL",
            handle,
            multi: None,
            watched: Vec::new(),
            in_exec: false,
            channels: Default::default(),
            patterns: Default::default(),
            shard_channels: Default::default(),
            mailbox: None,
            messages: None,
        }
    }

    /// A client for replaying the AOF: authenticated, not registered.
    pub fn internal() -> Client {
        Client::new(
            Arc::new(ClientHandle::new(0, "internal".into(), "internal".into())),
            true,
        )
    }

    /// Publishes this client's state to its handle.
    pub fn publish(&self) {
        let mut m = self.handle.meta.lock();
        m.name.clone_from(&self.name);
        m.lib_name.clone_from(&self.lib_name);
        m.lib_ver.clone_from(&self.lib_ver);
        m.db = self.db;
        m.resp = if self.resp3 { 3 } else { 2 };
        m.last_cmd = self.last_cmd;
        m.no_evict = self.no_evict;
        m.no_touch = self.no_touch;
        drop(m);
        self.handle
            .last_active_ms
            .store(crate::cmd::unix_ms(), Ordering::Relaxed);
    }
}
