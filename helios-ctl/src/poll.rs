//! Polling nodes: one `INFO` per node, all nodes at once (a thread each),
//! each bounded by the timeout. A node that does not answer becomes a
//! [`NodeReport`] with an error, never a stall.

use std::collections::HashMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use serde::Serialize;

use crate::spec::ClusterSpec;

/// A node to poll: its id when a spec names it, and its client address.
#[derive(Debug, Clone)]
pub struct Target {
    pub id: Option<String>,
    pub addr: String,
}

impl Target {
    pub fn from_spec(spec: &ClusterSpec) -> Vec<Target> {
        spec.nodes
            .iter()
            .map(|n| Target {
                id: Some(n.id.clone()),
                addr: n.client_address.clone(),
            })
            .collect()
    }

    pub fn from_endpoints(endpoints: &[String]) -> Vec<Target> {
        endpoints
            .iter()
            .map(|e| Target {
                id: None,
                addr: e.trim().to_string(),
            })
            .collect()
    }
}

/// What one node said about itself and the cluster (`INFO raft`).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct RaftView {
    pub node_id: String,
    pub state: String,
    pub term: u64,
    pub leader: Option<String>,
    pub commit_index: u64,
    pub applied_index: u64,
    pub last_log_index: u64,
    pub voters: Vec<String>,
    /// Milliseconds since this follower last heard from its leader.
    pub last_contact_ms: Option<u64>,
    /// Milliseconds since a quorum last acknowledged this leader.
    pub quorum_ack_ms: Option<u64>,
}

/// One node's poll result.
#[derive(Debug, Clone, Serialize)]
pub struct NodeReport {
    pub node: String,
    pub addr: String,
    #[serde(flatten)]
    pub raft: Option<RaftView>,
    pub error: Option<String>,
    /// It answered, but runs without Raft.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub standalone: bool,
}

/// The socket address to connect to: listen-style addresses (`:6379`,
/// `0.0.0.0:6379`) mean this machine.
pub fn connect_addr(addr: &str) -> Result<SocketAddr, String> {
    let sock = helios::config::parse_listen_addr(addr)
        .or_else(|_| {
            addr.to_socket_addrs()
                .map_err(|e| e.to_string())
                .and_then(|mut a| a.next().ok_or_else(|| "no address".to_string()))
        })
        .map_err(|e| format!("bad address {addr:?}: {e}; expected host:port"))?;
    Ok(if sock.ip().is_unspecified() {
        SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), sock.port())
    } else {
        sock
    })
}

/// A RESP reply, as far as helios-ctl needs to read one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+...` or `:...`, as text.
    Text(String),
    /// `$...`; `None` for the null bulk string.
    Bulk(Option<String>),
    Array(Vec<Reply>),
}

/// One connection to a node, every step (connect, write, each read)
/// bounded by the timeout it was opened with: a node that accepts the
/// connection but never answers (stopped, overloaded, not Helios at all)
/// costs one timeout, never a hang. (The `redis` crate's sync client sends
/// its own handshake on connect without a read timeout, which is why this
/// speaks RESP itself.)
#[derive(Debug)]
pub struct RespConn {
    addr: String,
    reader: std::io::BufReader<std::net::TcpStream>,
}

impl RespConn {
    pub fn open(addr: &str, timeout: Duration) -> Result<RespConn, String> {
        let sock = connect_addr(addr)?;
        let fail = |e: std::io::Error| format!("{addr}: {e}");
        let stream = std::net::TcpStream::connect_timeout(&sock, timeout).map_err(fail)?;
        stream.set_read_timeout(Some(timeout)).map_err(fail)?;
        stream.set_write_timeout(Some(timeout)).map_err(fail)?;
        let _ = stream.set_nodelay(true);
        Ok(RespConn {
            addr: addr.to_string(),
            reader: std::io::BufReader::new(stream),
        })
    }

    /// Sends one command and reads its reply; an error reply (`-ERR ...`)
    /// is `Err` like a broken connection, prefixed with the address.
    pub fn call(&mut self, args: &[&str]) -> Result<Reply, String> {
        use std::io::Write;
        let mut frame = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            frame.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            frame.extend_from_slice(a.as_bytes());
            frame.extend_from_slice(b"\r\n");
        }
        let addr = self.addr.clone();
        self.reader
            .get_mut()
            .write_all(&frame)
            .map_err(|e| format!("{addr}: {e}"))?;
        self.read_reply()
    }

    fn read_reply(&mut self) -> Result<Reply, String> {
        use std::io::{BufRead, Read};
        let addr = &self.addr;
        let fail = |e: std::io::Error| format!("{addr}: {e}");
        let mut line = String::new();
        if self.reader.read_line(&mut line).map_err(fail)? == 0 {
            return Err(format!("{addr}: connection closed without a reply"));
        }
        let line = line.trim_end_matches(['\r', '\n']).to_string();
        let len = |n: &str| -> Result<i64, String> {
            n.parse()
                .map_err(|_| format!("{addr}: bad length in reply {line:?}"))
        };
        match line.split_at_checked(1) {
            Some(("+", text)) | Some((":", text)) => Ok(Reply::Text(text.to_string())),
            Some(("-", err)) => Err(format!("{addr}: {err}")),
            Some(("$", n)) => {
                let n = len(n)?;
                if n < 0 {
                    return Ok(Reply::Bulk(None));
                }
                let mut body = vec![0; n as usize + 2];
                self.reader.read_exact(&mut body).map_err(fail)?;
                body.truncate(n as usize);
                Ok(Reply::Bulk(Some(
                    String::from_utf8_lossy(&body).into_owned(),
                )))
            }
            Some(("*", n)) => {
                let n = len(n)?;
                let mut items = Vec::with_capacity(n.max(0) as usize);
                for _ in 0..n {
                    items.push(self.read_reply()?);
                }
                Ok(Reply::Array(items))
            }
            _ => Err(format!(
                "{addr}: unexpected reply {line:?} (not a Redis-protocol server?)"
            )),
        }
    }
}

/// Sends one command on a fresh connection and returns its reply as text
/// (see [`RespConn`] for the timeouts).
pub fn query(addr: &str, timeout: Duration, args: &[&str]) -> Result<String, String> {
    match RespConn::open(addr, timeout)?.call(args)? {
        Reply::Text(t) | Reply::Bulk(Some(t)) => Ok(t),
        Reply::Bulk(None) => Ok(String::new()),
        Reply::Array(_) => Err(format!("{addr}: unexpected array reply to {}", args[0])),
    }
}

/// `INFO` text -> `field -> value`.
pub fn parse_info(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.trim_end().split_once(':'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The raft view from `INFO` fields; an error names what is missing.
pub fn raft_view(info: &HashMap<String, String>) -> Result<RaftView, String> {
    if info.get("raft_enabled").map(String::as_str) != Some("true") {
        return Err("raft is not enabled on this node (standalone mode)".into());
    }
    let text = |k: &str| -> Result<String, String> {
        info.get(k)
            .cloned()
            .ok_or_else(|| format!("INFO has no {k} field"))
    };
    let num = |k: &str| -> Result<u64, String> {
        text(k)?
            .parse()
            .map_err(|_| format!("INFO field {k} is not a number"))
    };
    let leader = text("raft_leader")?;
    Ok(RaftView {
        node_id: text("raft_node_id")?,
        state: text("raft_state")?,
        term: num("raft_term")?,
        leader: (!leader.is_empty()).then_some(leader),
        commit_index: num("raft_commit_index")?,
        applied_index: num("raft_applied_index")?,
        last_log_index: num("raft_last_log_index")?,
        voters: text("raft_voters")?
            .split(',')
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .collect(),
        last_contact_ms: info
            .get("raft_millis_since_leader_contact")
            .and_then(|v| v.parse().ok()),
        quorum_ack_ms: info
            .get("raft_millis_since_quorum_ack")
            .and_then(|v| v.parse().ok()),
    })
}

/// Polls every target at once.
pub fn poll_all(targets: &[Target], timeout: Duration) -> Vec<NodeReport> {
    std::thread::scope(|s| {
        let handles: Vec<_> = targets
            .iter()
            .map(|t| s.spawn(move || poll_one(t, timeout)))
            .collect();
        handles
            .into_iter()
            .zip(targets)
            .map(|(h, t)| {
                h.join().unwrap_or_else(|_| NodeReport {
                    node: t.id.clone().unwrap_or_default(),
                    addr: t.addr.clone(),
                    raft: None,
                    error: Some("poll panicked".into()),
                    standalone: false,
                })
            })
            .collect()
    })
}

fn poll_one(t: &Target, timeout: Duration) -> NodeReport {
    let info = query(&t.addr, timeout, &["INFO", "raft"]).map(|text| parse_info(&text));
    let standalone = info
        .as_ref()
        .is_ok_and(|i| i.get("raft_enabled").map(String::as_str) == Some("false"));
    match info.and_then(|i| raft_view(&i)) {
        Ok(view) => NodeReport {
            node: t.id.clone().unwrap_or_else(|| view.node_id.clone()),
            addr: t.addr.clone(),
            raft: Some(view),
            error: None,
            standalone: false,
        },
        Err(e) => NodeReport {
            node: t.id.clone().unwrap_or_else(|| "?".into()),
            addr: t.addr.clone(),
            raft: None,
            error: Some(e),
            standalone,
        },
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A node that could not be polled (for other modules' tests).
    pub fn down(id: &str) -> NodeReport {
        NodeReport {
            node: id.into(),
            addr: format!("{id}:1"),
            raft: None,
            error: Some("connection refused".into()),
            standalone: false,
        }
    }

    #[test]
    fn raft_view_reads_info_and_names_missing_fields() {
        let info = "# Raft\r\nraft_enabled:true\r\nraft_node_id:node-2\r\nraft_state:Follower\r\nraft_leader:node-1\r\nraft_leader_addr:127.0.0.1:7000\r\nraft_term:4\r\nraft_commit_index:10\r\nraft_applied_index:9\r\nraft_last_log_index:10\r\nraft_voters:node-1,node-2,node-3\r\nraft_millis_since_leader_contact:12\r\n";
        let v = raft_view(&parse_info(info)).unwrap();
        assert_eq!(v.leader.as_deref(), Some("node-1"));
        assert_eq!((v.term, v.commit_index, v.applied_index), (4, 10, 9));
        assert_eq!(v.voters.len(), 3);
        assert_eq!(v.last_contact_ms, Some(12));
        let e = raft_view(&parse_info(&info.replace("raft_term:4\r\n", ""))).unwrap_err();
        assert!(e.contains("raft_term"), "{e}");
        let e = raft_view(&parse_info("# Server\r\nredis_version:7.2.0\r\n")).unwrap_err();
        assert!(e.contains("standalone"), "{e}");
    }

    #[test]
    fn listen_style_addresses_connect_to_this_machine() {
        assert_eq!(connect_addr(":6379").unwrap().to_string(), "127.0.0.1:6379");
        assert_eq!(
            connect_addr("10.0.0.5:7000").unwrap().to_string(),
            "10.0.0.5:7000"
        );
        assert!(connect_addr("nohost").is_err());
    }

    #[test]
    fn a_silent_node_costs_one_timeout_not_a_hang() {
        // Accepts connections (the kernel does) but never answers.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = silent.local_addr().unwrap().to_string();
        let t = std::time::Instant::now();
        let r = poll_all(&Target::from_endpoints(&[addr]), Duration::from_millis(300));
        assert!(r[0].error.is_some());
        assert!(t.elapsed() < Duration::from_secs(30), "poll hung");
    }

    #[test]
    fn a_dead_node_is_reported_not_waited_for() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let r = poll_all(
            &Target::from_endpoints(&[format!("127.0.0.1:{port}")]),
            Duration::from_millis(500),
        );
        assert!(r[0].raft.is_none());
        assert!(r[0].error.is_some());
    }
}
