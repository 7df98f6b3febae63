//! `helios-ctl`: arguments in, a subcommand run, an exit code out. The
//! commands live in the `helios_ctl` library.
//!
//! Exit codes (all commands but `health`):
//!
//! | code | meaning |
//! | --- | --- |
//! | 0 | done |
//! | 1 | the operation failed: a node unreachable, an answer not understood |
//! | 2 | bad usage, flags or cluster spec |
//!
//! `health` uses the Nagios plugin convention instead: 0 OK, 1 WARNING,
//! 2 CRITICAL, 3 UNKNOWN (bad usage included). `check split-brain`: 0
//! nothing found, 1 evidence found, 2 bad usage, 3 no node answered.
//! `drill failover`: 0 passed, 1 failed, 2 bad usage or no `--yes`, 130
//! interrupted (it healed what it broke first).

use std::process::ExitCode;

use clap::Parser;
use helios_ctl::cli::{Cli, Command};

fn main() -> ExitCode {
    let health = std::env::args().nth(1).is_some_and(|a| a == "health");
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ if health => ExitCode::from(3),
                _ => ExitCode::from(2),
            };
        }
    };
    let is_health = matches!(cli.command, Command::Health(_));
    match helios_ctl::run(&cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("helios-ctl: {e}");
            ExitCode::from(if is_health { 3 } else { e.exit_code() })
        }
    }
}
