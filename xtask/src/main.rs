//! Repository chores, run as `cargo xtask <task>` (alias in
//! `.cargo/config.toml`).
//!
//! `man` writes `man/`: `helios-ctl.1` and one page per subcommand
//! (`helios-ctl-cluster-up.1`, ...) rendered by clap_mangen from the very
//! clap definitions the binary parses with, and `helios-atlasd.1` from the
//! daemon's `-help` text (`helios::config::USAGE`, which a unit test keeps
//! in step with its flag table). `man --check` writes nothing and fails,
//! naming the files, when `man/` differs from what would be generated: CI
//! runs it, so a flag change without regenerated pages fails the build.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::CommandFactory;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf();
    match words[..] {
        ["man"] => match write_man(&root.join("man")) {
            Ok(n) => {
                eprintln!("xtask: wrote {n} man pages to man/");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("xtask: {e}");
                ExitCode::FAILURE
            }
        },
        ["man", "--check"] => match check_man(&root.join("man")) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("xtask: {e}");
                ExitCode::FAILURE
            }
        },
        _ => {
            eprintln!("usage: cargo xtask man [--check]");
            ExitCode::from(2)
        }
    }
}

/// Every page: file name -> contents.
fn pages() -> Result<BTreeMap<String, Vec<u8>>, String> {
    let mut out = BTreeMap::new();
    let mut ctl = helios_ctl::cli::Cli::command();
    ctl.build();
    ctl_pages(&ctl, "helios-ctl".into(), "helios-ctl".into(), &mut out)?;
    out.insert("helios-atlasd.1".into(), atlasd_page(helios::config::USAGE));
    Ok(out)
}

fn ctl_pages(
    cmd: &clap::Command,
    name: String,
    invocation: String,
    out: &mut BTreeMap<String, Vec<u8>>,
) -> Result<(), String> {
    let mut page = Vec::new();
    let named = cmd.clone().name(name.clone()).bin_name(invocation.clone());
    clap_mangen::Man::new(named)
        .render(&mut page)
        .map_err(|e| format!("rendering {name}: {e}"))?;
    out.insert(format!("{name}.1"), page);
    for sub in cmd.get_subcommands() {
        if sub.get_name() == "help" || sub.is_hide_set() {
            continue;
        }
        ctl_pages(
            sub,
            format!("{name}-{}", sub.get_name()),
            format!("{invocation} {}", sub.get_name()),
            out,
        )?;
    }
    Ok(())
}

/// roff-escapes text: backslashes, dashes, and a leading `.` or `'`.
fn roff(text: &str) -> String {
    let t = text.replace('\\', "\\\\").replace('-', "\\-");
    if t.starts_with('.') || t.starts_with('\'') {
        format!("\\&{t}")
    } else {
        t
    }
}

/// `helios-atlasd.1` from the `-help` text: its prose becomes the
/// description, each `  -flag` entry an option with its environment
/// variable.
fn atlasd_page(usage: &str) -> Vec<u8> {
    let mut lines = usage.lines().peekable();
    let mut synopsis = String::new();
    let mut prose: Vec<String> = Vec::new();
    let mut para = String::new();
    while let Some(l) = lines.peek() {
        if l.starts_with("  -") {
            break;
        }
        let l = lines.next().unwrap_or_default();
        if let Some(s) = l.strip_prefix("Usage: ") {
            synopsis = s.to_string();
        } else if l.trim().is_empty() {
            if !para.is_empty() {
                prose.push(std::mem::take(&mut para));
            }
        } else {
            if !para.is_empty() {
                para.push(' ');
            }
            para.push_str(l.trim());
        }
    }
    // (flag, env, description)
    let mut options: Vec<(String, String, String)> = Vec::new();
    for l in lines {
        if l.starts_with("  -") {
            let (flag, env) = match l.split_once(" env ") {
                Some((f, e)) => (f.trim().to_string(), e.trim().to_string()),
                None => (l.trim().to_string(), String::new()),
            };
            options.push((flag, env, String::new()));
        } else if let Some(o) = options.last_mut() {
            let t = l.trim();
            if let (true, Some(env)) = (o.1.is_empty(), t.strip_prefix("env ")) {
                o.1 = env.to_string();
            } else if !t.is_empty() {
                if !o.2.is_empty() {
                    o.2.push(' ');
                }
                o.2.push_str(t);
            }
        }
    }
    let mut page = format!(
        ".TH helios-atlasd 1 \"\" \"helios-atlasd {}\"\n.SH NAME\nhelios\\-atlasd \\- {}\n.SH SYNOPSIS\n\\fB{}\\fR\n.SH DESCRIPTION\n",
        env!("CARGO_PKG_VERSION"),
        roff(prose.first().map(String::as_str).unwrap_or("")),
        roff(&synopsis)
    );
    for p in prose.iter().skip(1) {
        page += &format!(".PP\n{}\n", roff(p));
    }
    page += ".SH OPTIONS\n";
    for (flag, env, desc) in &options {
        page += &format!(".TP\n\\fB{}\\fR\n", roff(flag));
        if !env.is_empty() {
            page += &format!("Environment: \\fB{}\\fR.\n.br\n", roff(env));
        }
        page += &format!("{}\n", roff(desc));
    }
    page += ".SH SEE ALSO\nhelios\\-ctl(1)\n";
    page.into_bytes()
}

fn write_man(dir: &Path) -> Result<usize, String> {
    let pages = pages()?;
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    // Pages of subcommands that no longer exist go too.
    for entry in std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.ends_with(".1") && !pages.contains_key(name) {
            std::fs::remove_file(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    for (name, body) in &pages {
        let path = dir.join(name);
        std::fs::write(&path, body).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(pages.len())
}

fn check_man(dir: &Path) -> Result<(), String> {
    let pages = pages()?;
    let mut stale: Vec<String> = Vec::new();
    for (name, body) in &pages {
        let path: PathBuf = dir.join(name);
        if std::fs::read(&path).ok().as_deref() != Some(body.as_slice()) {
            stale.push(format!("{name} (missing or out of date)"));
        }
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".1") && !pages.contains_key(&name) {
                stale.push(format!("{name} (no such command any more)"));
            }
        }
    }
    if stale.is_empty() {
        eprintln!("xtask: man/ is up to date ({} pages)", pages.len());
        Ok(())
    } else {
        Err(format!(
            "man/ is stale: {}; run `cargo xtask man` and commit the result",
            stale.join(", ")
        ))
    }
}
