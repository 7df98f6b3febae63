//! The command line: global flags and subcommands (clap derive). Parsing
//! only; what each command does is in [`crate::cmd`].

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "helios-ctl",
    version,
    about = "Operate Helios clusters: render node configs, show status, check health"
)]
pub struct Cli {
    /// Cluster spec (YAML): the nodes and their shared settings.
    #[arg(short = 'f', long = "file", global = true, env = "HELIOS_CLUSTER")]
    pub file: Option<PathBuf>,
    /// Nodes to talk to instead of a spec: host:port of their client
    /// (RESP) ports, comma-separated.
    #[arg(long, global = true, value_delimiter = ',', env = "HELIOS_ENDPOINTS")]
    pub endpoints: Vec<String>,
    /// Output format for reports.
    #[arg(short = 'o', long = "output", global = true, value_enum, default_value_t = Format::Table)]
    pub output: Format,
    /// How long to wait for each node (connect and reply), e.g. 2s, 500ms.
    #[arg(long, global = true, value_parser = parse_duration, default_value = "2s")]
    pub timeout: Duration,
    /// Print only the data (no hints on stderr).
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Colour in tables: auto (a terminal, and NO_COLOR unset), always, never.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Yaml,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Work with a whole cluster described by a spec file.
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// One row per node: state, term, leader, commit, applied, lag.
    Status,
    /// Named health checks; exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
    Health(HealthArgs),
    /// Look for evidence of a broken cluster over several polls.
    #[command(subcommand)]
    Check(CheckCommand),
    /// Inject failures under a writer and verify no acknowledged write is
    /// lost.
    #[command(subcommand)]
    Drill(DrillCommand),
    /// Live dashboard: node table, ops/s and lag sparklines, leader
    /// changes, health (q quits, ? help).
    Top(TopArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(CompletionsArgs),
}

#[derive(Debug, Args)]
pub struct TopArgs {
    /// How often to poll every node (at least 100ms; + and - change it).
    #[arg(long, value_parser = parse_duration, default_value = "1s")]
    pub refresh: Duration,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in, e.g. `helios-ctl completions bash >
    /// /etc/bash_completion.d/helios-ctl`.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Subcommand)]
pub enum DrillCommand {
    /// Fault the leader (or a script of faults) while a writer runs;
    /// measure time to a new leader and the write-unavailability window;
    /// then check every acknowledged write on every node. Exit 0 passed,
    /// 1 failed (a lost write, a missed threshold, no new leader).
    Failover(DrillArgs),
}

/// How a drill hurts a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Fault {
    /// SIGKILL (a crash); healed by starting the node again.
    Kill,
    /// SIGTERM (a clean stop: a leader hands over first); healed by
    /// starting the node again. Remote nodes get SHUTDOWN.
    Term,
    /// SIGSTOP (a hung process or an unreachable machine); healed by
    /// SIGCONT.
    Pause,
    /// RAFT.TRANSFER_LEADER (a planned handover); nothing to heal.
    Transfer,
    /// RAFT.DEBUG ISOLATE on (the node's Raft traffic cut both ways, as a
    /// network partition would; clients still reach it); healed by
    /// RAFT.DEBUG ISOLATE off.
    Partition,
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Fault::Kill => "kill",
            Fault::Term => "term",
            Fault::Pause => "pause",
            Fault::Transfer => "transfer",
            Fault::Partition => "partition",
        })
    }
}

#[derive(Debug, Args)]
pub struct DrillArgs {
    /// The fault to inject on the leader in every round.
    #[arg(long, value_enum, default_value_t = Fault::Kill)]
    pub fault: Fault,
    /// How many fault-heal rounds to run.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// A drill script (YAML list of steps) instead of --fault/--rounds.
    #[arg(long)]
    pub script: Option<PathBuf>,
    /// Really inject the faults (a drill kills, stops and restarts nodes).
    #[arg(long)]
    pub yes: bool,
    /// Print the plan and change nothing.
    #[arg(long, conflicts_with = "yes")]
    pub dry_run: bool,
    /// How long each fault lasts before it is healed.
    #[arg(long, value_parser = parse_duration, default_value = "2s")]
    pub hold: Duration,
    /// Fail when writes were unavailable longer than this in any round.
    #[arg(long, value_parser = parse_duration, default_value = "5s")]
    pub max_unavailability: Duration,
    /// How long to wait for a new leader, for writes to resume and for
    /// the cluster to heal.
    #[arg(long, value_parser = parse_duration, default_value = "30s")]
    pub wait: Duration,
    /// The `cluster up` directory: pid files of local nodes (kill, pause
    /// and restarts need them).
    #[arg(long, default_value = ".helios")]
    pub dir: PathBuf,
    /// The helios-atlasd executable for restarts [default: next to
    /// helios-ctl, else on PATH].
    #[arg(long)]
    pub atlasd: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum CheckCommand {
    /// Two leaders in one term, lasting disagreement on the leader, a term
    /// or commit index going backwards, a leader cut off from its quorum.
    /// Exit 0 nothing found, 1 found, 3 no node answered.
    SplitBrain(SplitBrainArgs),
}

#[derive(Debug, Args)]
pub struct SplitBrainArgs {
    /// How many times to poll every node.
    #[arg(long, default_value_t = 10)]
    pub samples: usize,
    /// Time between polls.
    #[arg(long, value_parser = parse_duration, default_value = "500ms")]
    pub interval: Duration,
    /// How long disagreement or a leader without quorum may last before it
    /// counts [default: the spec's raft.election_timeout, else 1s].
    #[arg(long, value_parser = parse_duration)]
    pub election_timeout: Option<Duration>,
}

#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Write one helios-atlasd config file per node of the spec.
    Render(RenderArgs),
    /// Form the cluster from running nodes: initialize once, add members
    /// that are missing, wait for one agreed leader, print the status table.
    Init(InitArgs),
    /// Start every node of the spec as a local process, wait for one agreed
    /// leader, print the status table.
    Up(UpArgs),
    /// Stop the nodes `cluster up` started (SHUTDOWN, then SIGKILL).
    Down(DownArgs),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// How long to wait for every node to answer and for one agreed leader.
    #[arg(long, value_parser = parse_duration, default_value = "30s")]
    pub wait: Duration,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Where node configs, data, logs and pid files go.
    #[arg(long, default_value = ".helios")]
    pub dir: PathBuf,
    /// The helios-atlasd executable [default: next to helios-ctl, else on PATH].
    #[arg(long)]
    pub atlasd: Option<PathBuf>,
    /// How long to wait for the cluster to elect a leader.
    #[arg(long, value_parser = parse_duration, default_value = "30s")]
    pub wait: Duration,
}

#[derive(Debug, Args)]
pub struct DownArgs {
    /// The directory given to `cluster up`.
    #[arg(long, default_value = ".helios")]
    pub dir: PathBuf,
    /// How long each node gets to shut down before SIGKILL.
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    pub grace: Duration,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Directory for the node files (created if missing).
    #[arg(short = 'd', long = "dir", default_value = ".")]
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct HealthArgs {
    /// Most entries a node's applied index may trail the leader's commit
    /// index before it counts as lagging (WARNING).
    #[arg(long, default_value_t = 1000)]
    pub max_lag: u64,
    /// Check only the first endpoint, on its own view of the cluster (for
    /// container health checks).
    #[arg(long)]
    pub local: bool,
}

/// Parses `500ms`, `2s`, `1m` (humantime), naming the expected form on error.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s)
        .map_err(|e| format!("bad duration {s:?} ({e}); expected e.g. 500ms, 2s, 1m"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_parse_anywhere_and_bad_durations_are_named() {
        let cli = Cli::try_parse_from([
            "helios-ctl",
            "status",
            "--endpoints",
            "127.0.0.1:1,127.0.0.1:2",
            "-o",
            "json",
            "--timeout",
            "250ms",
        ])
        .unwrap();
        assert_eq!(cli.endpoints, ["127.0.0.1:1", "127.0.0.1:2"]);
        assert_eq!(cli.output, Format::Json);
        assert_eq!(cli.timeout, Duration::from_millis(250));
        let err = Cli::try_parse_from(["helios-ctl", "status", "--timeout", "soon"]).unwrap_err();
        assert!(err.to_string().contains("expected e.g. 500ms"), "{err}");
    }
}
