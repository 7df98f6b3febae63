//! The server: start-up and recovery, the listener, background jobs
//! (active expiry, snapshot scheduling) and graceful shutdown.
//!
//! One [`Server`] value is shared by every task. The keyspace and the AOF
//! stream sit behind one mutex ([`Server::store`]): a connection takes it
//! once per batch of pipelined commands, so commands are atomic and the AOF
//! records changes in the order they happened. Nothing slow happens under
//! that lock: file writes, fsyncs and snapshot serialisation all happen
//! outside it (see `persist`).
//!
//! Shutdown (SIGTERM, SIGINT or `SHUTDOWN`) is a watch signal: the listener
//! stops accepting, every connection finishes the batch it is running and
//! flushes its replies, then the AOF is flushed and fsynced and `run` returns.

pub mod blocking;
pub mod client;
mod conn;
pub mod monitor;
mod notify;
pub mod pubsub;
pub mod reload;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};

pub use client::{Client, ClientHandle};

use crate::cmd::{unix_ms, Ctx, Store};
use crate::config::Config;
use crate::persist::{self, snapshot, AofWriter};
use crate::resp::Out;
use crate::Error;

/// Counters reported by `INFO stats`.
#[derive(Debug, Default)]
pub struct Stats {
    pub connections_received: AtomicU64,
    pub commands_processed: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
    pub ops_per_sec: AtomicU64,
    pub peak_memory: AtomicU64,
}

/// State of background snapshots, for `INFO persistence`, `LASTSAVE` and
/// the commands that wait for one.
#[derive(Debug)]
pub struct SnapshotStatus {
    pub in_progress: bool,
    pub started: Option<Instant>,
    pub last_save_unix: u64,
    pub last_ok: bool,
    pub last_duration: Duration,
    pub count: u64,
    pub last_keys: u64,
    pub scheduled: bool,
    waiters: Vec<Waiter>,
}

type Waiter = oneshot::Sender<Result<(), String>>;

/// Everything shared by the server's tasks.
pub struct Server {
    pub store: Arc<Mutex<Store>>,
    /// The append-only file; `None` in raft mode, where the Raft log is the
    /// record of writes.
    pub aof: Option<Arc<AofWriter>>,
    /// The Raft node, in raft mode (set once at start-up).
    pub raft: std::sync::OnceLock<Arc<crate::raft::RaftNode>>,
    pub config: RwLock<Config>,
    pub clients: Mutex<HashMap<u64, Arc<ClientHandle>>>,
    next_client_id: AtomicU64,
    pub stats: Stats,
    pub snapshots: Mutex<SnapshotStatus>,
    pub started: Instant,
    pub run_id: String,
    /// The port actually bound (differs from the config for `:0`).
    pub port: AtomicU64,
    pub active_expire: AtomicBool,
    /// `CONFIG SET maxmemory`: bytes of `used_memory` above which writes
    /// that add data are refused (`noeviction`); 0 = no limit.
    pub maxmemory: AtomicU64,
    /// Close clients idle for this many seconds; 0 = never (`CONFIG SET timeout`).
    pub idle_timeout_secs: AtomicU64,
    /// Clients waiting in a blocking pop.
    pub blocked: blocking::Blocked,
    /// Pub/sub subscriptions.
    pub pubsub: pubsub::PubSub,
    /// Clients in `MONITOR` mode.
    pub monitors: monitor::Monitors,
    /// `SLOWLOG` and its settings.
    pub slowlog: crate::cmd::slowlog::SlowLog,
    shutdown_tx: watch::Sender<bool>,
    shutdown_save: AtomicBool,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("run_id", &self.run_id)
            .finish()
    }
}

fn random_hex(n: usize) -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..n)
        .map(|_| format!("{:x}", rng.gen_range(0..16u8)))
        .collect()
}

impl Server {
    /// Opens the data directory, recovers the keyspace (snapshot + AOF) and
    /// returns a server ready to accept connections.
    pub fn open(config: Config) -> Result<Arc<Server>, Error> {
        let dir = config.data_dir.clone();
        std::fs::create_dir_all(&dir).map_err(|e| Error::Io {
            what: format!("cannot create data directory {}", dir.display()),
            source: e,
        })?;
        let raft_mode = config.raft.enabled;
        let files = if raft_mode {
            persist::DataFiles::default()
        } else {
            persist::scan_dir(&dir)?
        };
        for p in &files.stale {
            tracing::info!("removing superseded file {}", p.display());
            let _ = std::fs::remove_file(p);
        }
        let gen = files.aofs.last().copied().or(files.snapshot).unwrap_or(1);
        let mut store = Store::new(config.databases);
        store.aof.gen = gen;
        store.replicated = raft_mode;
        let store = Arc::new(Mutex::new(store));
        // In raft mode the keyspace is restored by the state machine
        // (snapshot + log replay) when the Raft node starts.
        let aof = if raft_mode {
            None
        } else {
            Some(AofWriter::open(&dir, gen, config.aof_fsync, store.clone())?)
        };
        let (shutdown_tx, _) = watch::channel(false);
        let server = Arc::new(Server {
            store,
            aof,
            raft: std::sync::OnceLock::new(),
            config: RwLock::new(config),
            clients: Mutex::new(HashMap::new()),
            next_client_id: AtomicU64::new(1),
            stats: Stats::default(),
            snapshots: Mutex::new(SnapshotStatus {
                in_progress: false,
                started: None,
                last_save_unix: unix_ms() / 1000,
                last_ok: true,
                last_duration: Duration::ZERO,
                count: 0,
                last_keys: 0,
                scheduled: false,
                waiters: Vec::new(),
            }),
            started: Instant::now(),
            run_id: random_hex(40),
            port: AtomicU64::new(0),
            active_expire: AtomicBool::new(true),
            idle_timeout_secs: AtomicU64::new(0),
            maxmemory: AtomicU64::new(0),
            blocked: blocking::Blocked::default(),
            pubsub: pubsub::PubSub::default(),
            monitors: monitor::Monitors::default(),
            slowlog: Default::default(),
            shutdown_tx,
            shutdown_save: AtomicBool::new(false),
        });
        server.recover(&dir, &files)?;
        Ok(server)
    }

    /// Loads the snapshot and replays the AOF chain into the keyspace.
    fn recover(
        self: &Arc<Self>,
        dir: &std::path::Path,
        files: &persist::DataFiles,
    ) -> Result<(), Error> {
        let t = Instant::now();
        let mut store = self.store.lock();
        if let Some(g) = files.snapshot {
            let info = snapshot::load(&persist::snapshot_path(dir, g), &mut store.ks)?;
            tracing::info!("loaded snapshot generation {g}: {} keys", info.keys);
        }
        let mut total = 0;
        for (i, &g) in files.aofs.iter().enumerate() {
            let last = i + 1 == files.aofs.len();
            let path = persist::aof_path(dir, g);
            // Each file starts in database 0, like a fresh Redis client.
            let mut client = Client::internal();
            let mut out = Out::new(false);
            let report = persist::aof::replay(&path, last, |args| {
                out.buf.clear();
                let mut ctx = Ctx {
                    server: self,
                    store: &mut store,
                    client: &mut client,
                    out: &mut out,
                    now: 0,
                    loading: true,
                    action: None,
                    seed: None,
                };
                crate::cmd::execute(&mut ctx, args);
                if out.buf.first() == Some(&b'-') {
                    return Err(String::from_utf8_lossy(&out.buf[1..])
                        .trim_end()
                        .to_string());
                }
                Ok(())
            })?;
            if let Some(len) = report.truncated_to {
                tracing::warn!(
                    "{}: truncated a torn final batch (never acknowledged) at byte {len}",
                    path.display()
                );
            }
            total += report.commands;
        }
        store.dirty = 0;
        let keys = store.ks.total_keys();
        drop(store);
        if files.snapshot.is_some() || total > 0 {
            tracing::info!(
                "recovered {keys} keys ({total} AOF commands replayed) in {:.3}s",
                t.elapsed().as_secs_f64()
            );
        }
        Ok(())
    }

    /// Starts a graceful shutdown: the listener and background jobs stop on
    /// the watch signal; every connection is asked to close after the batch
    /// it is running (connections wait on their own handle rather than on a
    /// shared signal, which would cost a contended registration per read).
    pub fn shutdown(&self, save: bool) {
        if save {
            self.shutdown_save.store(true, Ordering::Release);
        }
        self.shutdown_tx.send_replace(true);
        let clients: Vec<_> = self.clients.lock().values().cloned().collect();
        for c in clients {
            c.request_kill();
        }
    }

    pub fn is_shutting_down(&self) -> bool {
        *self.shutdown_tx.borrow()
    }

    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown_tx.subscribe()
    }

    fn register_client(&self, addr: String, laddr: String) -> Arc<ClientHandle> {
        let id = self.next_client_id.fetch_add(1, Ordering::Relaxed);
        let h = Arc::new(ClientHandle::new(id, addr, laddr));
        self.clients.lock().insert(id, h.clone());
        h
    }

    fn unregister_client(&self, id: u64) {
        self.clients.lock().remove(&id);
        self.pubsub.remove_client(id);
        self.monitors.remove(id);
    }

    /// Starts a background snapshot. Errors if one is already running.
    pub fn start_snapshot(self: &Arc<Self>) -> Result<(), &'static str> {
        let mut st = self.store.lock();
        self.start_snapshot_locked(&mut st)
    }

    /// [`Server::start_snapshot`] for a caller that already holds the
    /// keyspace lock (a command handler).
    pub fn start_snapshot_locked(self: &Arc<Self>, st: &mut Store) -> Result<(), &'static str> {
        if let Some(node) = self.raft.get() {
            let node = node.clone();
            tokio::spawn(async move {
                if let Err(e) = node.raft().trigger().snapshot().await {
                    tracing::warn!("raft snapshot: {e}");
                }
            });
            return Ok(());
        }
        self.begin_snapshot(st, None)
            .map_err(|_| "ERR Background save already in progress")
    }

    /// Starts a snapshot of `st`, registering `waiter` for its result;
    /// gives the waiter back if a snapshot is already running.
    fn begin_snapshot(
        self: &Arc<Self>,
        st: &mut Store,
        waiter: Option<Waiter>,
    ) -> Result<(), Option<Waiter>> {
        {
            let mut s = self.snapshots.lock();
            if s.in_progress {
                return Err(waiter);
            }
            s.in_progress = true;
            s.scheduled = false;
            s.started = Some(Instant::now());
            s.waiters.extend(waiter);
        }
        let created = unix_ms();
        let gen = st.aof.cut();
        st.dirty = 0;
        let view = snapshot::capture(&st.ks);
        let server = self.clone();
        let spawned = std::thread::Builder::new()
            .name("snapshot".into())
            .spawn(move || server.finish_snapshot(gen, view, created));
        if let Err(e) = spawned {
            tracing::error!("cannot start snapshot thread: {e}");
            self.snapshot_done(Err(e.to_string()), 0);
        }
        Ok(())
    }

    /// Takes a snapshot and waits for it (`SAVE`, `SHUTDOWN SAVE`,
    /// `DEBUG RELOAD`). If one is already running, waits for it and then
    /// takes a new one, so the result covers every write made before the call.
    pub async fn save(self: &Arc<Self>) -> Result<(), String> {
        if let Some(node) = self.raft.get() {
            return node.snapshot_now().await;
        }
        loop {
            let (tx, rx) = oneshot::channel();
            let started = {
                let mut st = self.store.lock();
                self.begin_snapshot(&mut st, Some(tx))
            };
            match started {
                Ok(()) => {
                    return rx
                        .await
                        .unwrap_or_else(|_| Err("snapshot abandoned".into()))
                }
                Err(tx) => {
                    let registered = {
                        let mut s = self.snapshots.lock();
                        s.in_progress && {
                            s.waiters.extend(tx);
                            true
                        }
                    };
                    if registered {
                        let _ = rx.await;
                    }
                }
            }
        }
    }

    fn finish_snapshot(self: Arc<Self>, gen: u64, view: snapshot::View, created: u64) {
        let dir = self.config.read().data_dir.clone();
        let path = persist::snapshot_path(&dir, gen);
        let result = snapshot::write(&path, &view, gen, created);
        drop(view);
        // Make the AOF switch to the new generation before deleting the old
        // one, even if no write arrived since the cut.
        if let Some(aof) = &self.aof {
            aof.flush_and_sync();
        }
        match result {
            Ok(keys) => {
                if let Ok(files) = persist::scan_dir(&dir) {
                    for p in files.stale {
                        let _ = std::fs::remove_file(p);
                    }
                }
                tracing::info!("snapshot generation {gen} written: {keys} keys");
                self.snapshot_done(Ok(()), keys);
            }
            Err(e) => {
                tracing::error!("snapshot failed: {e}");
                self.snapshot_done(Err(e.to_string()), 0);
            }
        }
    }

    fn snapshot_done(&self, result: Result<(), String>, keys: u64) {
        let mut s = self.snapshots.lock();
        s.in_progress = false;
        s.last_ok = result.is_ok();
        if let Some(t) = s.started.take() {
            s.last_duration = t.elapsed();
        }
        if result.is_ok() {
            s.last_save_unix = unix_ms() / 1000;
            s.count += 1;
            s.last_keys = keys;
        }
        for w in s.waiters.drain(..) {
            let _ = w.send(result.clone());
        }
    }

    /// Active expiry, ops/s sampling and snapshot scheduling, ten times a
    /// second.
    async fn cron(self: Arc<Self>) {
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        let mut shutdown = self.shutdown_signal();
        let mut samples = [0u64; 16];
        let mut i = 0;
        let mut last_cmds = 0;
        let mut last_t = Instant::now();
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => return,
            }
            let now = unix_ms();
            // In raft mode the leader proposes expiry (raft::node).
            if self.active_expire.load(Ordering::Relaxed) && self.raft.get().is_none() {
                let mut st = self.store.lock();
                for db in st.ks.dbs.iter_mut() {
                    db.sweep_expired(now, 16);
                }
            }
            let cmds = self.stats.commands_processed.load(Ordering::Relaxed);
            let dt = last_t.elapsed().as_secs_f64().max(1e-3);
            samples[i % samples.len()] = ((cmds - last_cmds) as f64 / dt) as u64;
            i += 1;
            last_cmds = cmds;
            last_t = Instant::now();
            let n = i.min(samples.len());
            self.stats.ops_per_sec.store(
                samples[..n].iter().sum::<u64>() / n as u64,
                Ordering::Relaxed,
            );
            let (dirty, mem) = {
                let st = self.store.lock();
                (st.dirty, st.ks.used_memory() as u64)
            };
            self.stats.peak_memory.fetch_max(mem, Ordering::Relaxed);
            let (every_cmds, every_time) = {
                let c = self.config.read();
                (c.snapshot_interval_cmds, c.snapshot_interval_time)
            };
            let due = {
                let s = self.snapshots.lock();
                let since = Duration::from_secs((now / 1000).saturating_sub(s.last_save_unix));
                !s.in_progress
                    && dirty > 0
                    && ((every_cmds > 0 && dirty >= every_cmds)
                        || (!every_time.is_zero() && since >= every_time)
                        || s.scheduled)
            };
            if due && self.aof.is_some() {
                let _ = self.start_snapshot();
            }
        }
    }
}

/// Runs a server until shutdown.
pub async fn run(config: Config) -> Result<(), Error> {
    // SIGHUP's default action kills the process: take it over before the
    // (possibly long) start-up, so `systemctl reload` during it is harmless.
    // The handler stays installed for the process; `serve` acts on it.
    drop(
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).map_err(|e| {
            Error::Io {
                what: "cannot install SIGHUP handler".into(),
                source: e,
            }
        })?,
    );
    let listen = config.listen;
    let raft_mode = config.raft.enabled;
    let server = Server::open(config)?;
    // HTTP first: once the client port answers, so do the gateway and
    // metrics (their handlers look the raft node up per request).
    crate::http::start(&server).await?;
    let listener = TcpListener::bind(listen).await.map_err(|e| Error::Io {
        what: format!("cannot listen on {listen}"),
        source: e,
    })?;
    if raft_mode {
        let local = listener.local_addr().unwrap_or(listen);
        let node = crate::raft::RaftNode::start(&server, local).await?;
        let _ = server.raft.set(node);
    }
    serve(server, listener).await
}

/// Serves connections on `listener` until shutdown, then shuts down cleanly.
pub async fn serve(server: Arc<Server>, listener: TcpListener) -> Result<(), Error> {
    let local: SocketAddr = listener.local_addr().map_err(|e| Error::Io {
        what: "listener address".into(),
        source: e,
    })?;
    server.port.store(local.port() as u64, Ordering::Relaxed);
    {
        let c = server.config.read();
        let mode = match server.raft.get() {
            Some(n) => format!("raft node_id={} raft_addr={}", n.id, c.raft.bind_addr),
            None => "standalone".to_string(),
        };
        tracing::info!(
            "helios-atlasd {} ready: mode={} listen={} data_dir={} appendfsync={} io_threads={} keys={}",
            env!("CARGO_PKG_VERSION"),
            mode,
            local,
            c.data_dir.display(),
            c.aof_fsync,
            c.io_threads,
            server.store.lock().ks.total_keys()
        );
    }
    tokio::spawn(server.clone().cron());
    // Data loaded, client, Raft and HTTP listeners bound.
    notify::notify("READY=1");
    let mut shutdown = server.shutdown_signal();
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| Error::Io {
            what: "cannot install SIGTERM handler".into(),
            source: e,
        })?;
    let mut sighup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .map_err(|e| Error::Io {
            what: "cannot install SIGHUP handler".into(),
            source: e,
        })?;
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = sighup.recv() => {
                tracing::info!("received SIGHUP, reloading the configuration");
                reload::reload(&server);
            }
            accepted = listener.accept() => {
                let (socket, peer) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        // EMFILE and friends: back off instead of spinning.
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                server.stats.connections_received.fetch_add(1, Ordering::Relaxed);
                let s = server.clone();
                tasks.spawn(async move { conn::serve_connection(s, socket, peer, local).await });
                while tasks.try_join_next().is_some() {}
            }
            _ = shutdown.changed() => break,
            _ = sigterm.recv() => {
                tracing::info!("received SIGTERM, shutting down");
                // A leader hands over first, while its clients are still
                // served (their writes are then forwarded).
                if let Some(node) = server.raft.get() {
                    node.step_down().await;
                }
                server.shutdown(false);
            }
            _ = tokio::signal::ctrl_c() => {
                tracing::info!("received SIGINT, shutting down");
                server.shutdown(false);
            }
        }
    }
    notify::notify("STOPPING=1");
    drop(listener);
    // Connections see the signal at their next read and finish their batch.
    let drain = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_secs(10), drain)
        .await
        .is_err()
    {
        tracing::warn!("some connections did not finish within 10s");
    }
    if server.shutdown_save.load(Ordering::Acquire) {
        if let Err(e) = server.save().await {
            tracing::error!("final snapshot failed: {e}");
        }
    }
    if let Some(node) = server.raft.get() {
        node.shutdown().await;
        tracing::info!("helios-atlasd stopped; raft log flushed and synced");
    }
    if let Some(aof) = &server.aof {
        aof.close();
        tracing::info!("helios-atlasd stopped; append-only file flushed and synced");
    }
    Ok(())
}
