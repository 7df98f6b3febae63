//! The HTTP side of a node (DESIGN 3.6): the status gateway on
//! `-gateway-listen` / `gateway.listen` and Prometheus metrics on
//! `-metrics-listen` / `observability.metrics_port`. Each runs only when
//! its address is configured; both on one address share a listener.
//!
//! Gateway endpoints (JSON; errors are `{"code": "...", "message": "..."}`):
//!
//! | endpoint | answer |
//! | --- | --- |
//! | `GET /livez` | 200 `{"status":"ok"}` while the process serves |
//! | `GET /readyz` | 200 when this node can serve: standalone always (data is loaded before anything listens); in raft mode when it knows a leader, is not a leader cut off from its quorum (no acknowledgement for two election timeouts), is not isolated, and has applied its commit index (within [`READY_APPLY_MARGIN`] entries). Else 503 `not_ready` naming the failing checks |
//! | `GET /v1/status` | this node: mode, and in raft mode every `INFO raft` field |
//! | `POST /v1/cluster/members` | `{"id", "raft_address"}`: `RAFT.NODE ADD` (learner, catch-up, voter), run on the leader |
//! | `DELETE /v1/cluster/members/{id}` | `RAFT.NODE REMOVE` |
//! | `POST /v1/cluster/transfer-leader` | optional `{"to"}`: `RAFT.TRANSFER_LEADER`; answers the new leader |
//! | `GET /v1/cluster` | members (voters, learners) with their addresses, leader, term and each peer's match index, lag and reachability as the leader sees them (asked of the leader when a follower answers; `view` names whose view it is, `view_is_leader` says whether that is the leader's, `answered_by` which node answered) |
//!
//! With `gateway.tls.cert_file` and `key_file` (`-gateway-tls-cert`,
//! `-gateway-tls-key`) the gateway's port speaks HTTPS only (rustls, TLS
//! 1.2/1.3); a separate metrics port stays plain HTTP, as Prometheus
//! scrapes usually are.
//!
//! With `gateway.auth_token` (`-gateway-auth-token`) set, the POST and
//! DELETE endpoints need `Authorization: Bearer <token>` (401
//! `unauthorized` otherwise); reads stay open for probes and dashboards.
//! Admin failures map to 503 `no_leader` / `try_again` (retry) or 409
//! `rejected`; a bad body is 400 `bad_request` naming what was expected.
//! Anything else is 404 `not_found` or 405 `method_not_allowed`, never a
//! 500. Listeners are bound before the node reports ready, so a bad or
//! taken address stops start-up with a clear error.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::net::TcpListener;

use crate::server::Server;
use crate::Error;

/// How far `applied` may trail `commit` for `/readyz` to pass: a node
/// applying a burst of writes is still ready.
pub const READY_APPLY_MARGIN: u64 = 100;

fn error(status: StatusCode, code: &'static str, message: impl Into<String>) -> Response {
    ApiError::new(status, code, message).into_response()
}

/// A JSON error answer: `{"code", "message"}` with an HTTP status.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({ "code": self.code, "message": self.message })),
        )
            .into_response()
    }
}

async fn livez() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Raft mode, but the node is still replaying its log and joining: the
/// gateway is up before the Raft node is.
fn raft_starting(server: &Server) -> bool {
    server.raft.get().is_none() && server.config.read().raft.enabled
}

/// The checks `/readyz` makes; empty when ready.
pub fn readiness_failures(server: &Server) -> Vec<String> {
    if raft_starting(server) {
        return vec!["raft is starting (replaying its log)".to_string()];
    }
    let Some(node) = server.raft.get() else {
        return Vec::new();
    };
    let st = node.status();
    let mut failing = Vec::new();
    if st.leader.is_none() {
        failing.push("no known leader".to_string());
    }
    // openraft keeps a leader that lost its quorum in the Leader state
    // (it refuses writes); it is not ready either.
    let quorum_limit = server.config.read().raft.election_timeout * 2;
    if let Some(ms) = st.millis_since_quorum_ack {
        if st.state == "Leader" && ms > quorum_limit.as_millis() as u64 {
            failing.push(format!(
                "leader without a quorum: no acknowledgement for {ms}ms"
            ));
        }
    }
    if st.isolated {
        failing.push("raft traffic is cut (RAFT.DEBUG ISOLATE on)".to_string());
    }
    if st.commit_index > st.applied_index + READY_APPLY_MARGIN {
        failing.push(format!(
            "applied index {} trails commit index {} by more than {READY_APPLY_MARGIN}",
            st.applied_index, st.commit_index
        ));
    }
    failing
}

async fn readyz(State(server): State<Arc<Server>>) -> Response {
    let failing = readiness_failures(&server);
    if failing.is_empty() {
        Json(json!({ "status": "ready" })).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({
                "code": "not_ready",
                "message": failing.join("; "),
                "checks": failing,
            })),
        )
            .into_response()
    }
}

async fn status(State(server): State<Arc<Server>>) -> Json<Value> {
    if raft_starting(&server) {
        return Json(json!({ "mode": "raft", "raft_enabled": true, "state": "Starting" }));
    }
    let Some(node) = server.raft.get() else {
        return Json(json!({ "mode": "standalone", "raft_enabled": false }));
    };
    let st = node.status();
    Json(json!({
        "mode": "raft",
        "raft_enabled": true,
        "node_id": st.id,
        "state": st.state,
        "leader": st.leader,
        "leader_addr": st.leader_addr,
        "term": st.term,
        "commit_index": st.commit_index,
        "applied_index": st.applied_index,
        "last_log_index": st.last_log_index,
        "snapshot_index": st.snapshot_index,
        "purged_index": st.purged_index,
        "snapshots_installed": st.snapshots_installed,
        "isolated": st.isolated,
        "millis_since_quorum_ack": st.millis_since_quorum_ack,
        "millis_since_leader_contact": st.millis_since_leader_contact,
        "voters": st.voters,
        "learners": st.learners,
    }))
}

async fn cluster(State(server): State<Arc<Server>>) -> Response {
    let node = match raft_node(&server) {
        Ok(n) => n,
        Err(e) => return e.into_response(),
    };
    let st = node.status();
    let addrs = node.member_addrs();
    // Progress is the leader's to know: ask it when this node follows.
    let (view, progress) = match node
        .leader_progress(std::time::Duration::from_secs(2))
        .await
    {
        Some((leader, peers)) => (leader, peers),
        None => (st.id.clone(), st.peers.clone()),
    };
    let members: Vec<Value> = st
        .voters
        .iter()
        .map(|id| (id, "voter"))
        .chain(st.learners.iter().map(|id| (id, "learner")))
        .map(|(id, role)| {
            let peer = progress.iter().find(|p| &p.id == id);
            let addr = addrs.get(id);
            let client_addr = peer
                .map(|p| p.client_addr.clone())
                .or_else(|| addr.map(|a| a.client_addr.clone()))
                .filter(|a| !a.is_empty());
            json!({
                "id": id,
                "role": role,
                "leader": st.leader.as_ref() == Some(id),
                "raft_addr": addr.map(|a| a.raft_addr.clone()),
                "client_addr": client_addr,
                "match_index": peer.map(|p| p.match_index),
                "lag": peer.map(|p| p.lag),
                "online": peer.map(|p| p.online),
            })
        })
        .collect();
    Json(json!({
        "view": view,
        "view_is_leader": st.leader.as_ref() == Some(&view),
        "answered_by": st.id,
        "leader": st.leader,
        "leader_client_addr": (!st.leader_client_addr.is_empty()).then_some(st.leader_client_addr),
        "term": st.term,
        "commit_index": st.commit_index,
        "members": members,
    }))
    .into_response()
}

/// An admin failure (RESP-style error text) as HTTP.
fn admin_error(e: String) -> ApiError {
    let (status, code) = match e.split(' ').next().unwrap_or("") {
        "CLUSTERDOWN" => (StatusCode::SERVICE_UNAVAILABLE, "no_leader"),
        "TRYAGAIN" => (StatusCode::SERVICE_UNAVAILABLE, "try_again"),
        _ => (StatusCode::CONFLICT, "rejected"),
    };
    let message = e
        .split_once(' ')
        .map(|(_, m)| m.to_string())
        .unwrap_or(e.clone());
    ApiError::new(status, code, message)
}

fn raft_node(server: &Server) -> Result<Arc<crate::raft::RaftNode>, ApiError> {
    if raft_starting(server) {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "try_again",
            "raft is starting (replaying its log)",
        ));
    }
    server.raft.get().cloned().ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "raft_disabled",
            "this node runs standalone: there is no cluster",
        )
    })
}

fn bad_request(what: impl std::fmt::Display, expected: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "bad_request",
        format!("{what}; expected {expected}"),
    )
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AddMember {
    id: String,
    raft_address: String,
}

async fn add_member(
    State(server): State<Arc<Server>>,
    req: Result<Json<AddMember>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let node = raft_node(&server)?;
    let Json(m) = req.map_err(|e| {
        bad_request(
            e.body_text(),
            r#"{"id": "node-4", "raft_address": "10.0.0.4:7000"}"#,
        )
    })?;
    crate::config::check_peer(&m.id, &m.raft_address)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", e.to_string()))?;
    let op = crate::raft::AdminOp::AddNode {
        id: m.id,
        addr: crate::raft::NodeAddr {
            raft_addr: m.raft_address,
            client_addr: String::new(),
        },
    };
    let result = node.admin(op).await.map_err(admin_error)?;
    Ok(Json(json!({ "status": "ok", "result": result })))
}

async fn remove_member(
    State(server): State<Arc<Server>>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Json<Value>, ApiError> {
    let node = raft_node(&server)?;
    let op = crate::raft::AdminOp::RemoveNode { id };
    let result = node.admin(op).await.map_err(admin_error)?;
    Ok(Json(json!({ "status": "ok", "result": result })))
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TransferLeader {
    to: Option<String>,
}

async fn transfer_leader(
    State(server): State<Arc<Server>>,
    raw: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let node = raft_node(&server)?;
    // The body is optional: empty means "the most caught-up voter".
    let req: TransferLeader = if raw.iter().all(u8::is_ascii_whitespace) {
        TransferLeader::default()
    } else {
        serde_json::from_slice(&raw)
            .map_err(|e| bad_request(e, r#"an empty body or {"to": "node-2"}"#))?
    };
    let op = crate::raft::AdminOp::TransferLeader { to: req.to };
    let leader = node.admin(op).await.map_err(admin_error)?;
    Ok(Json(json!({ "status": "ok", "leader": leader })))
}

async fn metrics(State(server): State<Arc<Server>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        crate::metrics::render(&server),
    )
        .into_response()
}

async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such endpoint; see /livez, /readyz, /v1/status, /v1/cluster, /metrics",
    )
}

async fn method_not_allowed() -> Response {
    error(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take that method",
    )
}

/// Byte comparison whose time does not depend on where the inputs differ.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// With `gateway.auth_token` set, changes need `Authorization: Bearer
/// <token>`; reads stay open (probes and dashboards).
async fn require_token(
    State(server): State<Arc<Server>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let want = server.config.read().gateway_auth_token.clone();
    if let Some(want) = want {
        let got = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if !got.is_some_and(|g| same_secret(g.trim().as_bytes(), want.as_bytes())) {
            return error(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "this endpoint needs the header Authorization: Bearer <gateway.auth_token>",
            );
        }
    }
    next.run(req).await
}

fn gateway_routes(server: &Arc<Server>) -> Router<Arc<Server>> {
    let changes = Router::new()
        .route("/v1/cluster/members", post(add_member))
        .route("/v1/cluster/members/{id}", delete(remove_member))
        .route("/v1/cluster/transfer-leader", post(transfer_leader))
        .route_layer(axum::middleware::from_fn_with_state(
            server.clone(),
            require_token,
        ));
    Router::new()
        .route("/livez", get(livez))
        .route("/readyz", get(readyz))
        .route("/v1/status", get(status))
        .route("/v1/cluster", get(cluster))
        .merge(changes)
}

fn metrics_routes() -> Router<Arc<Server>> {
    Router::new().route("/metrics", get(metrics))
}

/// The gateway's TLS setup from PEM files; errors name the file and what
/// was expected in it.
fn tls_acceptor(cert: &Path, key: &Path) -> Result<tokio_rustls::TlsAcceptor, Error> {
    let bad = |path: &Path, message: String| Error::Io {
        what: format!("gateway TLS: {}", path.display()),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, message),
    };
    let open = |path: &Path| {
        std::fs::File::open(path)
            .map(std::io::BufReader::new)
            .map_err(|e| Error::Io {
                what: format!("gateway TLS: cannot read {}", path.display()),
                source: e,
            })
    };
    let certs: Vec<_> = rustls_pemfile::certs(&mut open(cert)?)
        .collect::<Result<_, _>>()
        .map_err(|e| bad(cert, format!("not PEM: {e}")))?;
    if certs.is_empty() {
        return Err(bad(
            cert,
            "no certificate in it (expected PEM CERTIFICATE blocks)".into(),
        ));
    }
    let key_der = rustls_pemfile::private_key(&mut open(key)?)
        .map_err(|e| bad(key, format!("not PEM: {e}")))?
        .ok_or_else(|| {
            bad(
                key,
                "no private key in it (expected a PEM PRIVATE KEY block)".into(),
            )
        })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(cert, e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key_der)
        .map_err(|e| bad(key, format!("does not fit the certificate: {e}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Serves `app` over TLS until `shutdown` fires. A client that fails the
/// handshake (or takes over 10 s) is dropped; others are unaffected.
async fn serve_tls(
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    app: Router,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let tcp = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    tracing::warn!("HTTPS accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let handshake =
                tokio::time::timeout(std::time::Duration::from_secs(10), acceptor.accept(tcp));
            let Ok(Ok(tls)) = handshake.await else {
                return;
            };
            let service = hyper_util::service::TowerToHyperService::new(app);
            let _ =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .await;
        });
    }
}

/// Binds the configured HTTP listeners (none, one or two) and serves them
/// in the background until the server shuts down.
pub async fn start(server: &Arc<Server>) -> Result<(), Error> {
    let (gateway, metrics, tls) = {
        let c = server.config.read();
        (c.gateway_listen, c.metrics_listen, c.gateway_tls.clone())
    };
    let acceptor = match &tls {
        Some((cert, key)) if gateway.is_some() => Some(tls_acceptor(cert, key)?),
        _ => None,
    };
    // (address, routes, name, on the gateway's port: TLS when configured)
    let mut plan: Vec<(SocketAddr, Router<Arc<Server>>, &str, bool)> = Vec::new();
    match (gateway, metrics) {
        (Some(g), Some(m)) if g == m => plan.push((
            g,
            gateway_routes(server).merge(metrics_routes()),
            "gateway and metrics",
            true,
        )),
        (g, m) => {
            if let Some(g) = g {
                plan.push((g, gateway_routes(server), "gateway", true));
            }
            if let Some(m) = m {
                plan.push((m, metrics_routes(), "metrics", false));
            }
        }
    }
    for (addr, routes, what, gateway_port) in plan {
        let listener = TcpListener::bind(addr).await.map_err(|e| Error::Io {
            what: format!("cannot listen for the HTTP {what} on {addr}"),
            source: e,
        })?;
        let local = listener.local_addr().unwrap_or(addr);
        let app = routes
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .with_state(server.clone());
        let mut shutdown = server.shutdown_signal();
        if let (true, Some(acceptor)) = (gateway_port, acceptor.clone()) {
            tracing::info!("HTTPS {what} listening on {local}");
            tokio::spawn(serve_tls(listener, acceptor, app, shutdown));
            continue;
        }
        tracing::info!("HTTP {what} listening on {local}");
        tokio::spawn(async move {
            let stop = async move {
                let _ = shutdown.changed().await;
            };
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(stop)
                .await
            {
                tracing::warn!("HTTP {what} on {local} stopped: {e}");
            }
        });
    }
    Ok(())
}
