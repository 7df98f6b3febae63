//! The cluster spec: one YAML file naming every node of a cluster and the
//! settings they share. `cluster render` turns it into one `helios-atlasd`
//! config file per node; `status` and `health` take their node list from it.
//!
//! ```yaml
//! name: local
//! data_dir: ./data              # optional: node data under <data_dir>/<id>
//! nodes:
//!   - id: node-1
//!     client_address: 127.0.0.1:6379
//!     raft_address: 127.0.0.1:7000
//!     gateway_address: 127.0.0.1:8443   # optional
//!     metrics_address: 127.0.0.1:9090   # optional
//! atlas: { aof_fsync: always }          # copied into every node's atlas:
//! raft: { election_timeout: 500ms }     # copied into every node's atlas.raft:
//! observability: { log_level: info }    # copied into every node's observability:
//! ```
//!
//! Validation names the key and, where it can, the line: unknown keys,
//! duplicate ids, two nodes on one address, per-node keys (`listen`,
//! `node_id`, ...) set in a shared section. An even number of nodes is
//! allowed with a warning (it tolerates no more failures than one node
//! fewer). Whether the shared settings are valid `helios-atlasd` settings
//! is checked by rendering and loading the node files with the daemon's own
//! config code.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_norway::{Mapping, Value};
use std::time::Duration;

use crate::Error;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSpec {
    pub name: String,
    #[serde(default = "default_data_dir")]
    pub data_dir: String,
    pub nodes: Vec<NodeSpec>,
    #[serde(default)]
    pub atlas: Mapping,
    #[serde(default)]
    pub raft: Mapping,
    #[serde(default)]
    pub observability: Mapping,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    pub id: String,
    pub client_address: String,
    pub raft_address: String,
    #[serde(default)]
    pub gateway_address: Option<String>,
    #[serde(default)]
    pub metrics_address: Option<String>,
}

fn default_data_dir() -> String {
    "./data".into()
}

/// Keys each node file gets from its own `nodes[]` entry; setting them in
/// a shared section would give every node the same value.
const PER_NODE_ATLAS: &[(&str, &str)] = &[
    ("listen", "nodes[].client_address"),
    ("data_dir", "data_dir (the root) at the top level"),
    ("raft", "the top-level raft: section"),
];
const PER_NODE_RAFT: &[(&str, &str)] = &[
    ("enabled", "nothing: rendered nodes always run raft"),
    ("node_id", "nodes[].id"),
    ("bind_addr", "nodes[].raft_address"),
    ("data_dir", "data_dir (the root) at the top level"),
    ("peers", "nodes[]: every other node becomes a peer"),
];
const PER_NODE_OBSERVABILITY: &[(&str, &str)] = &[("metrics_port", "nodes[].metrics_address")];

/// Deserializes YAML, naming `origin` and the line and column of an error.
pub fn parse_yaml<T: serde::de::DeserializeOwned>(text: &str, origin: &str) -> Result<T, Error> {
    serde_norway::from_str(text).map_err(|e| {
        let at = e
            .location()
            .map(|l| format!(" (line {}, column {})", l.line(), l.column()))
            .unwrap_or_default();
        Error::Spec(format!("{origin}: {e}{at}"))
    })
}

impl ClusterSpec {
    /// `raft.election_timeout`, when the spec sets it.
    pub fn election_timeout(&self) -> Result<Option<Duration>, Error> {
        match self.raft.get("election_timeout") {
            None => Ok(None),
            Some(Value::String(s)) => crate::cli::parse_duration(s)
                .map(Some)
                .map_err(|e| Error::Spec(format!("raft.election_timeout: {e}"))),
            Some(other) => Err(Error::Spec(format!(
                "raft.election_timeout: {other:?} is not a duration; expected e.g. 500ms"
            ))),
        }
    }

    /// Reads and validates a spec file.
    pub fn load(path: &Path) -> Result<(ClusterSpec, Vec<String>), Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.display().to_string(),
            source,
        })?;
        ClusterSpec::parse(&text, &path.display().to_string())
    }

    /// Parses and validates spec text; `origin` names it in errors. Returns
    /// the spec and its warnings.
    pub fn parse(text: &str, origin: &str) -> Result<(ClusterSpec, Vec<String>), Error> {
        let spec: ClusterSpec = parse_yaml(text, origin)?;
        let warnings = spec.validate(text, origin)?;
        Ok((spec, warnings))
    }

    fn validate(&self, text: &str, origin: &str) -> Result<Vec<String>, Error> {
        let bad = |line: Option<usize>, msg: String| {
            let at = line.map(|l| format!(" (line {l})")).unwrap_or_default();
            Error::Spec(format!("{origin}: {msg}{at}"))
        };
        if self.name.trim().is_empty() {
            return Err(bad(
                line_of(text, "name:", 1),
                "name: must not be empty".into(),
            ));
        }
        if self.nodes.is_empty() {
            return Err(bad(
                line_of(text, "nodes:", 1),
                "nodes: needs at least one node".into(),
            ));
        }
        let mut seen_ids: BTreeMap<&str, usize> = BTreeMap::new();
        let mut seen_addrs: BTreeMap<String, (String, &str)> = BTreeMap::new();
        for (i, n) in self.nodes.iter().enumerate() {
            let count = seen_ids.entry(n.id.as_str()).or_default();
            *count += 1;
            if *count > 1 {
                return Err(bad(
                    line_of(text, &format!("id: {}", n.id), 2)
                        .or_else(|| line_of(text, &format!("id: \"{}\"", n.id), 2)),
                    format!(
                        "nodes[{i}].id: {:?} is used by two nodes; ids must be unique",
                        n.id
                    ),
                ));
            }
            helios::config::check_peer(&n.id, &n.raft_address)
                .map_err(|e| bad(None, format!("nodes[{i}] ({}): {e}", n.id)))?;
            let addrs = [
                ("client_address", Some(&n.client_address)),
                ("raft_address", Some(&n.raft_address)),
                ("gateway_address", n.gateway_address.as_ref()),
                ("metrics_address", n.metrics_address.as_ref()),
            ];
            for (key, addr) in addrs {
                let Some(addr) = addr else { continue };
                let sock = helios::config::parse_listen_addr(addr).map_err(|e| {
                    bad(
                        line_of(text, addr, 1),
                        format!("nodes[{i}].{key}: {e}; expected host:port"),
                    )
                })?;
                if sock.port() == 0 {
                    return Err(bad(
                        line_of(text, addr, 1),
                        format!("nodes[{i}].{key}: port 0; expected a fixed port"),
                    ));
                }
                if key == "raft_address" && sock.ip().is_unspecified() {
                    return Err(bad(
                        line_of(text, addr, 1),
                        format!(
                            "nodes[{i}].raft_address: {addr} is not an address the other nodes can reach; expected this node's own IP (it is also what the node binds)"
                        ),
                    ));
                }
                let canon = sock.to_string();
                // A node's gateway and metrics may share one listener.
                let shared_http = |(other, other_key): &(String, &str)| {
                    key == "metrics_address" && *other == n.id && *other_key == "gateway_address"
                };
                if let Some((other, other_key)) =
                    seen_addrs.get(&canon).filter(|seen| !shared_http(seen))
                {
                    return Err(bad(
                        line_of(text, addr, 2).or_else(|| line_of(text, addr, 1)),
                        format!(
                            "nodes[{i}].{key}: {addr} is already {other}'s {other_key}; two listeners cannot share a port"
                        ),
                    ));
                }
                seen_addrs.insert(canon, (n.id.clone(), key));
            }
        }
        for (section, map, reserved) in [
            ("atlas", &self.atlas, PER_NODE_ATLAS),
            ("raft", &self.raft, PER_NODE_RAFT),
            ("observability", &self.observability, PER_NODE_OBSERVABILITY),
        ] {
            for (key, instead) in reserved {
                if map.contains_key(*key) {
                    return Err(bad(
                        line_of(text, &format!("{key}:"), 1),
                        format!("{section}.{key} is set per node; use {instead}"),
                    ));
                }
            }
        }
        let mut warnings = Vec::new();
        let loopback: Vec<&str> = self
            .nodes
            .iter()
            .filter(|n| {
                helios::config::parse_listen_addr(&n.raft_address)
                    .is_ok_and(|a| a.ip().is_loopback())
            })
            .map(|n| n.id.as_str())
            .collect();
        if !loopback.is_empty() && loopback.len() < self.nodes.len() {
            warnings.push(format!(
                "{origin}: {} listen(s) for Raft on a loopback address, which nodes on other machines cannot reach",
                loopback.join(", ")
            ));
        }
        if self.nodes.len().is_multiple_of(2) {
            warnings.push(format!(
                "{origin}: {} nodes: an even count tolerates no more failures than {} (a majority is {})",
                self.nodes.len(),
                self.nodes.len() - 1,
                self.nodes.len() / 2 + 1
            ));
        }
        Ok(warnings)
    }

    /// The `helios-atlasd` config file for node `i`, in the shape of the
    /// seed's `cluster-node*.yaml`.
    pub fn render_node(&self, i: usize) -> Value {
        let node = &self.nodes[i];
        let dir = self.data_dir.trim_end_matches('/');
        let mut raft = Mapping::new();
        raft.insert("enabled".into(), true.into());
        raft.insert("node_id".into(), node.id.clone().into());
        raft.insert("bind_addr".into(), node.raft_address.clone().into());
        raft.insert("data_dir".into(), format!("{dir}/{}/raft", node.id).into());
        for (k, v) in &self.raft {
            raft.insert(k.clone(), v.clone());
        }
        let peers: Vec<Value> = self
            .nodes
            .iter()
            .filter(|p| p.id != node.id)
            .map(|p| {
                let mut m = Mapping::new();
                m.insert("id".into(), p.id.clone().into());
                m.insert("address".into(), p.raft_address.clone().into());
                Value::Mapping(m)
            })
            .collect();
        raft.insert("peers".into(), Value::Sequence(peers));

        let mut atlas = Mapping::new();
        atlas.insert("data_dir".into(), format!("{dir}/{}", node.id).into());
        atlas.insert("listen".into(), node.client_address.clone().into());
        for (k, v) in &self.atlas {
            atlas.insert(k.clone(), v.clone());
        }
        atlas.insert("raft".into(), Value::Mapping(raft));

        let mut root = Mapping::new();
        root.insert("atlas".into(), Value::Mapping(atlas));
        if let Some(g) = &node.gateway_address {
            let mut gw = Mapping::new();
            gw.insert("listen".into(), g.clone().into());
            root.insert("gateway".into(), Value::Mapping(gw));
        }
        let mut obs = self.observability.clone();
        if let Some(m) = &node.metrics_address {
            obs.insert("metrics_enabled".into(), true.into());
            obs.insert("metrics_port".into(), m.clone().into());
        }
        if !obs.is_empty() {
            root.insert("observability".into(), Value::Mapping(obs));
        }
        Value::Mapping(root)
    }
}

/// The 1-based line of the `nth` occurrence of `needle` in `text`.
fn line_of(text: &str, needle: &str, nth: usize) -> Option<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.contains(needle))
        .nth(nth.checked_sub(1)?)
        .map(|(i, _)| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "\
name: demo
nodes:
  - id: node-1
    client_address: 127.0.0.1:6379
    raft_address: 127.0.0.1:7000
    metrics_address: 127.0.0.1:9090
  - id: node-2
    client_address: 127.0.0.1:6380
    raft_address: 127.0.0.1:7001
  - id: node-3
    client_address: 127.0.0.1:6381
    raft_address: 127.0.0.1:7002
atlas:
  aof_fsync: always
raft:
  election_timeout: 500ms
observability:
  log_level: info
";

    fn err(text: &str) -> String {
        ClusterSpec::parse(text, "c.yaml").unwrap_err().to_string()
    }

    #[test]
    fn good_spec_parses_without_warnings() {
        let (spec, warnings) = ClusterSpec::parse(GOOD, "c.yaml").unwrap();
        assert_eq!(spec.nodes.len(), 3);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(spec.data_dir, "./data");
    }

    #[test]
    fn unknown_keys_are_named_with_their_line() {
        let e = err(&GOOD.replace(
            "    raft_address: 127.0.0.1:7001",
            "    raft_adress: 127.0.0.1:7001",
        ));
        assert!(e.contains("raft_adress") && e.contains("line 9"), "{e}");
        let e = err(&format!("{GOOD}colour: blue\n"));
        assert!(e.contains("colour"), "{e}");
    }

    #[test]
    fn duplicate_ids_and_shared_ports_are_refused_with_the_line() {
        let e = err(&GOOD.replace("id: node-3", "id: node-2"));
        assert!(
            e.contains("\"node-2\" is used by two nodes") && e.contains("line 10"),
            "{e}"
        );
        let e = err(&GOOD.replace("127.0.0.1:6381", "127.0.0.1:7000"));
        assert!(
            e.contains("already node-1's raft_address") && e.contains("line 11"),
            "{e}"
        );
        let e = err(&GOOD.replace("127.0.0.1:6380", "localhost"));
        assert!(
            e.contains("nodes[1].client_address") && e.contains("expected host:port"),
            "{e}"
        );
    }

    #[test]
    fn per_node_keys_in_shared_sections_are_refused() {
        let e = err(&GOOD.replace("  aof_fsync: always", "  listen: \":6379\""));
        assert!(
            e.contains("atlas.listen is set per node") && e.contains("client_address"),
            "{e}"
        );
        let e = err(&GOOD.replace("  election_timeout: 500ms", "  node_id: x"));
        assert!(e.contains("raft.node_id is set per node"), "{e}");
    }

    #[test]
    fn addresses_the_other_nodes_cannot_reach_are_named() {
        let e = ClusterSpec::parse(
            &GOOD.replacen(
                "raft_address: 127.0.0.1:7001",
                "raft_address: 0.0.0.0:7001",
                1,
            ),
            "c.yaml",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains(
                "nodes[1].raft_address: 0.0.0.0:7001 is not an address the other nodes can reach"
            ),
            "{e}"
        );
        let (_, warnings) = ClusterSpec::parse(
            &GOOD.replacen(
                "raft_address: 127.0.0.1:7001",
                "raft_address: 10.0.0.2:7001",
                1,
            ),
            "c.yaml",
        )
        .unwrap();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains("node-1, node-3 listen(s) for Raft on a loopback"),
            "{warnings:?}"
        );
    }

    #[test]
    fn even_node_counts_warn() {
        let two = GOOD.split("  - id: node-3").next().unwrap().to_string()
            + "atlas:\n  aof_fsync: always\n";
        let (_, warnings) = ClusterSpec::parse(&two, "c.yaml").unwrap();
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("2 nodes"), "{warnings:?}");
    }

    #[test]
    fn rendered_node_files_load_in_the_daemon_config() {
        let (spec, _) = ClusterSpec::parse(GOOD, "c.yaml").unwrap();
        let dir = tempfile::tempdir().unwrap();
        for i in 0..3 {
            let path = dir.path().join(format!("node{i}.yaml"));
            std::fs::write(
                &path,
                serde_norway::to_string(&spec.render_node(i)).unwrap(),
            )
            .unwrap();
            let args = vec!["-config".to_string(), path.display().to_string()];
            let config = helios::config::Config::load(&args, &|_| None)
                .unwrap_or_else(|e| panic!("node {i}: {e}"));
            let raft = &config.raft;
            assert!(raft.enabled);
            assert_eq!(raft.node_id, spec.nodes[i].id);
            assert_eq!(raft.peers.len(), 2);
            assert!(raft.peers.iter().all(|p| p.id != spec.nodes[i].id));
        }
    }
}

#[cfg(test)]
mod example_tests {
    use super::*;

    #[test]
    fn the_shipped_example_spec_is_valid_and_renders_the_seed_addresses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/cluster.yaml");
        let (spec, warnings) = ClusterSpec::load(&path).unwrap();
        assert!(warnings.is_empty());
        let node2 = serde_norway::to_string(&spec.render_node(1)).unwrap();
        for want in [
            "listen: 127.0.0.1:6380",
            "bind_addr: 127.0.0.1:7001",
            "address: 127.0.0.1:7000",
            "address: 127.0.0.1:7002",
            "election_timeout: 500ms",
        ] {
            assert!(node2.contains(want), "{want} missing in\n{node2}");
        }
    }
}
