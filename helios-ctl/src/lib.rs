//! The `helios-ctl` library: every subcommand, the cluster spec and the
//! node polling they share. The binary only parses arguments and maps the
//! outcome to an exit code (see `main.rs` for the table).
//!
//! Nodes are reached over RESP (`INFO`, `RAFT.*`, `SHUTDOWN`), every step
//! bounded by `--timeout`, so one dead or silent node never stalls a report.

pub mod cli;
pub mod cmd;
pub mod output;
pub mod poll;
pub mod progress;
pub mod spec;
pub mod tui;

use cli::{Cli, Command};

/// Everything that can stop a subcommand.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The cluster spec (or another input file) is invalid.
    #[error("{0}")]
    Spec(String),
    /// Flags that make no sense together, or are missing.
    #[error("{0}")]
    Usage(String),
    /// Reading or writing local files.
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    /// The operation ran and failed (nodes unreachable, refused, ...).
    #[error("{0}")]
    Failed(String),
}

impl Error {
    /// The exit code for this error (see the table in `main.rs`).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Spec(_) | Error::Usage(_) => 2,
            Error::Io { .. } | Error::Failed(_) => 1,
        }
    }
}

/// Runs the parsed command; `Ok` carries the exit code (a report can be
/// printed and still end non-zero, like `health` or `status` with a dead
/// node).
pub fn run(cli: &Cli) -> Result<u8, Error> {
    match &cli.command {
        Command::Cluster(c) => cmd::cluster::run(cli, c),
        Command::Status => cmd::status::run(cli),
        Command::Health(h) => cmd::health::run(cli, h),
        Command::Check(cli::CheckCommand::SplitBrain(a)) => cmd::split_brain::run(cli, a),
        Command::Drill(cli::DrillCommand::Failover(a)) => cmd::drill::run(cli, a),
        Command::Top(a) => tui::run(cli, a),
        Command::Completions(a) => {
            use clap::CommandFactory;
            clap_complete::generate(
                a.shell,
                &mut cli::Cli::command(),
                "helios-ctl",
                &mut std::io::stdout(),
            );
            Ok(0)
        }
    }
}
