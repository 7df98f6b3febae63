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
//! | `GET /v1/cluster` | members (voters, learners) with their addresses, leader, term and, on the leader, each peer's match index, lag and reachability (`null` elsewhere); `view` says whose view it is |
//!
//! Anything else is 404 `not_found` or 405 `method_not_allowed`, never a
//! 500. Listeners are bound before the node reports ready, so a bad or
//! taken address stops start-up with a clear error.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::net::TcpListener;

use crate::server::Server;
use crate::Error;

/// How far `applied` may trail `commit` for `/readyz` to pass: a node
/// applying a burst of writes is still ready.
pub const READY_APPLY_MARGIN: u64 = 100;

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        Json(json!({ "code": code, "message": message.into() })),
    )
        .into_response()
}

async fn livez() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The checks `/readyz` makes; empty when ready.
pub fn readiness_failures(server: &Server) -> Vec<String> {
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
    let Some(node) = server.raft.get() else {
        return error(
            StatusCode::CONFLICT,
            "raft_disabled",
            "this node runs standalone: there is no cluster",
        );
    };
    let st = node.status();
    let addrs = node.member_addrs();
    let members: Vec<Value> = st
        .voters
        .iter()
        .map(|id| (id, "voter"))
        .chain(st.learners.iter().map(|id| (id, "learner")))
        .map(|(id, role)| {
            // Progress is the leader's to know; addresses every node has.
            let peer = st.peers.iter().find(|p| &p.id == id);
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
        "view": st.id,
        "view_is_leader": st.state == "Leader",
        "leader": st.leader,
        "leader_client_addr": (!st.leader_client_addr.is_empty()).then_some(st.leader_client_addr),
        "term": st.term,
        "commit_index": st.commit_index,
        "members": members,
    }))
    .into_response()
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

fn gateway_routes() -> Router<Arc<Server>> {
    Router::new()
        .route("/livez", get(livez))
        .route("/readyz", get(readyz))
        .route("/v1/status", get(status))
        .route("/v1/cluster", get(cluster))
}

fn metrics_routes() -> Router<Arc<Server>> {
    Router::new().route("/metrics", get(metrics))
}

/// Binds the configured HTTP listeners (none, one or two) and serves them
/// in the background until the server shuts down.
pub async fn start(server: &Arc<Server>) -> Result<(), Error> {
    let (gateway, metrics) = {
        let c = server.config.read();
        (c.gateway_listen, c.metrics_listen)
    };
    let mut plan: Vec<(SocketAddr, Router<Arc<Server>>, &str)> = Vec::new();
    match (gateway, metrics) {
        (Some(g), Some(m)) if g == m => plan.push((
            g,
            gateway_routes().merge(metrics_routes()),
            "gateway and metrics",
        )),
        (g, m) => {
            if let Some(g) = g {
                plan.push((g, gateway_routes(), "gateway"));
            }
            if let Some(m) = m {
                plan.push((m, metrics_routes(), "metrics"));
            }
        }
    }
    for (addr, routes, what) in plan {
        let listener = TcpListener::bind(addr).await.map_err(|e| Error::Io {
            what: format!("cannot listen for the HTTP {what} on {addr}"),
            source: e,
        })?;
        let local = listener.local_addr().unwrap_or(addr);
        tracing::info!("HTTP {what} listening on {local}");
        let app = routes
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .with_state(server.clone());
        let mut shutdown = server.shutdown_signal();
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
