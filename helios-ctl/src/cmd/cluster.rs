//! `cluster render` and `cluster init` (here), `cluster up|down`
//! ([`super::local`]).
//!
//! `cluster init`: for nodes that are running but not yet one cluster
//! (started without peers, as for `RAFT.NODE ADD`, or waiting for a
//! majority). It waits until every node of the spec answers, sends
//! `RAFT.CLUSTER INIT` to the first node unless some node already has a
//! leader, adds every spec node the membership lacks with `RAFT.NODE ADD`
//! (learner, catch-up, voter), and waits until `health` passes. On a formed
//! cluster it only reports: running it twice is safe.
//!
//! `cluster render`: one `helios-atlasd` config file per node of the spec,
//! named `<id>.yaml`, in the shape of the seed's `cluster-node*.yaml`.
//! Each file is loaded back with the daemon's own config code before this
//! reports success, so what it writes is what `helios-atlasd -config`
//! accepts.

use std::path::Path;

use std::time::{Duration, Instant};

use crate::cli::{Cli, ClusterCommand, InitArgs, RenderArgs};
use crate::cmd::health::{self, Level};
use crate::poll::{self, Target};
use crate::Error;

pub fn run(cli: &Cli, cmd: &ClusterCommand) -> Result<u8, Error> {
    if !cli.endpoints.is_empty() {
        return Err(Error::Usage(
            "cluster commands work from a spec: pass -f cluster.yaml, not --endpoints".into(),
        ));
    }
    match cmd {
        ClusterCommand::Render(args) => render(cli, args),
        ClusterCommand::Init(args) => init(cli, args),
        ClusterCommand::Up(args) => super::local::up(cli, args),
        ClusterCommand::Down(args) => super::local::down(cli, args),
    }
}

fn render(cli: &Cli, args: &RenderArgs) -> Result<u8, Error> {
    let spec = super::load_spec(cli)?;
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| Error::Io { path, source }
    };
    std::fs::create_dir_all(&args.dir).map_err(io(&args.dir))?;
    let source = cli
        .file
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let mut written = Vec::new();
    for (i, node) in spec.nodes.iter().enumerate() {
        let path = args.dir.join(format!("{}.yaml", node.id));
        let body = serde_norway::to_string(&spec.render_node(i))
            .map_err(|e| Error::Failed(format!("cannot encode {}: {e}", path.display())))?;
        let text = format!(
            "# helios-atlasd config for {} (node {} of {} in cluster {}),\n# rendered by helios-ctl cluster render from {source}.\n# Start it with: helios-atlasd -config {}\n{body}",
            node.id,
            i + 1,
            spec.nodes.len(),
            spec.name,
            path.display()
        );
        std::fs::write(&path, text).map_err(io(&path))?;
        let args = vec!["-config".to_string(), path.display().to_string()];
        helios::config::Config::load(&args, &|_| None).map_err(|e| {
            Error::Spec(format!(
                "rendered {} is not a valid node config: {e}",
                path.display()
            ))
        })?;
        written.push(path.display().to_string());
    }
    match cli.output {
        crate::cli::Format::Table => written.iter().for_each(|p| println!("{p}")),
        f => print!("{}", crate::output::structured(&written, f)?),
    }
    Ok(0)
}

fn init(cli: &Cli, args: &InitArgs) -> Result<u8, Error> {
    let spec = super::load_spec(cli)?;
    let targets = Target::from_spec(&spec);
    let deadline = Instant::now() + args.wait;
    let ids: Vec<String> = spec.nodes.iter().map(|n| n.id.clone()).collect();
    let bars = crate::progress::NodeBars::new(&ids, cli.quiet);
    let say = |msg: String| bars.say(cli.quiet, msg);
    // 1. Every node answers.
    let mut reported = std::collections::BTreeSet::new();
    let reports = loop {
        let reports = poll::poll_all(&targets, cli.timeout);
        bars.update(&reports);
        for r in reports.iter().filter(|r| r.raft.is_some()) {
            if reported.insert(r.node.clone()) {
                say(format!("{} answers at {}", r.node, r.addr));
            }
        }
        if reports.iter().all(|r| r.raft.is_some()) {
            break reports;
        }
        if Instant::now() >= deadline {
            let down: Vec<String> = reports
                .iter()
                .filter(|r| r.raft.is_none())
                .map(|r| format!("{} ({})", r.node, r.error.as_deref().unwrap_or("no answer")))
                .collect();
            return Err(Error::Failed(format!(
                "not every node answered within {}: {}",
                humantime::format_duration(args.wait),
                down.join(", ")
            )));
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    // 2. Initialize once.
    let has_leader = |reports: &[poll::NodeReport]| {
        reports
            .iter()
            .filter_map(|r| r.raft.as_ref())
            .find(|v| v.state == "Leader")
            .map(|v| v.node_id.clone())
    };
    if has_leader(&reports).is_none() {
        let first = &spec.nodes[0];
        let reply = poll::query(
            &first.client_address,
            cli.timeout,
            &["RAFT.CLUSTER", "INIT"],
        )
        .map_err(Error::Failed)?;
        say(format!("RAFT.CLUSTER INIT on {}: {reply}", first.id));
    }
    let leader = loop {
        let reports = poll::poll_all(&targets, cli.timeout);
        bars.update(&reports);
        if let Some(l) = has_leader(&reports) {
            break (l, reports);
        }
        if Instant::now() >= deadline {
            return Err(Error::Failed("no leader was elected in time".into()));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // 3. Add the members the leader's membership lacks.
    let (leader_id, reports) = leader;
    let voters: Vec<String> = reports
        .iter()
        .filter_map(|r| r.raft.as_ref())
        .find(|v| v.node_id == leader_id)
        .map(|v| v.voters.clone())
        .unwrap_or_default();
    let leader_addr = &spec
        .nodes
        .iter()
        .find(|n| n.id == leader_id)
        .map(|n| n.client_address.clone())
        .unwrap_or_else(|| spec.nodes[0].client_address.clone());
    for node in spec.nodes.iter().filter(|n| !voters.contains(&n.id)) {
        // Catch-up before promotion can take a while: a generous timeout.
        let reply = poll::query(
            leader_addr,
            cli.timeout.max(Duration::from_secs(70)),
            &["RAFT.NODE", "ADD", &node.id, &node.raft_address],
        )
        .map_err(|e| Error::Failed(format!("adding {}: {e}", node.id)))?;
        say(format!("RAFT.NODE ADD {}: {reply}", node.id));
    }
    // 4. One agreed leader, every node settled.
    loop {
        let reports = poll::poll_all(&targets, cli.timeout);
        bars.update(&reports);
        let report = health::evaluate(&reports, u64::MAX);
        if report.status == Level::Ok {
            bars.finish();
            super::status::print(cli, &super::status::rows(reports))?;
            return Ok(0);
        }
        if Instant::now() >= deadline {
            return Err(Error::Failed(format!(
                "the cluster did not settle in time: {}",
                report.summary
            )));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
