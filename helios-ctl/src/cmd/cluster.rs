//! `cluster render` (here) and `cluster up|down` ([`super::local`]).
//!
//! `cluster render`: one `helios-atlasd` config file per node of the spec,
//! named `<id>.yaml`, in the shape of the seed's `cluster-node*.yaml`.
//! Each file is loaded back with the daemon's own config code before this
//! reports success, so what it writes is what `helios-atlasd -config`
//! accepts.

use std::path::Path;

use crate::cli::{Cli, ClusterCommand, RenderArgs};
use crate::Error;

pub fn run(cli: &Cli, cmd: &ClusterCommand) -> Result<u8, Error> {
    match cmd {
        ClusterCommand::Render(args) => render(cli, args),
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
        println!("{}", path.display());
    }
    Ok(0)
}
