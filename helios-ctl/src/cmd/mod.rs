//! One module per subcommand, plus how every command finds its nodes.

pub mod cluster;
pub mod drill;
pub mod health;
pub mod local;
pub mod split_brain;
pub mod status;

use crate::cli::Cli;
use crate::poll::Target;
use crate::spec::ClusterSpec;
use crate::Error;

/// Loads the spec named by `-f`, printing its warnings unless `-q`.
pub fn load_spec(cli: &Cli) -> Result<ClusterSpec, Error> {
    let path = cli.file.as_ref().ok_or_else(|| {
        Error::Usage("no cluster spec: pass -f cluster.yaml (or set HELIOS_CLUSTER)".into())
    })?;
    let (spec, warnings) = ClusterSpec::load(path)?;
    if !cli.quiet {
        for w in warnings {
            eprintln!("helios-ctl: warning: {w}");
        }
    }
    Ok(spec)
}

/// The nodes to talk to: `--endpoints` when given, else the spec's nodes.
pub fn targets(cli: &Cli) -> Result<Vec<Target>, Error> {
    if !cli.endpoints.is_empty() {
        return Ok(Target::from_endpoints(&cli.endpoints));
    }
    if cli.file.is_none() {
        return Err(Error::Usage(
            "no nodes: pass -f cluster.yaml or --endpoints host:port,...".into(),
        ));
    }
    Ok(Target::from_spec(&load_spec(cli)?))
}
