//! `cluster up` and `cluster down`: a whole cluster as local processes, the
//! quickest way from a checkout to a running cluster (like `tiup
//! playground`).
//!
//! `up` renders every node's config into `<dir>/conf/<id>.yaml` with its
//! data under `<dir>/data/<id>`, starts `helios-atlasd -config` for each
//! in its own process group (so a Ctrl-C in this terminal later does not
//! reach them), its output in `<dir>/logs/<id>.log` and its pid in
//! `<dir>/pids/<id>.pid`. The nodes form the cluster by themselves (every
//! config names the others as peers); `up` waits until `health` passes and
//! prints the status table. A node that is already running (its pid alive)
//! is left alone, so a second `up` only reports.
//!
//! `down` asks each recorded node to `SHUTDOWN` (a leader hands over
//! leadership first), waits `--grace`, then kills what is left.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::cli::{Cli, DownArgs, UpArgs};
use crate::cmd::health::{self, Level};
use crate::poll::{self, Target};
use crate::spec::ClusterSpec;
use crate::Error;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.display().to_string();
    move |source| Error::Io { path, source }
}

/// The helios-atlasd to run: `--atlasd`, else next to this executable,
/// else the first on PATH.
pub fn find_atlasd(given: Option<&PathBuf>) -> Result<PathBuf, Error> {
    if let Some(p) = given {
        return if p.is_file() {
            Ok(p.clone())
        } else {
            Err(Error::Usage(format!(
                "--atlasd {}: no such file",
                p.display()
            )))
        };
    }
    let beside = std::env::current_exe()
        .ok()
        .map(|e| e.with_file_name("helios-atlasd"))
        .filter(|p| p.is_file());
    let on_path = || {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join("helios-atlasd"))
                .find(|p| p.is_file())
        })
    };
    beside.or_else(on_path).ok_or_else(|| {
        Error::Usage(
            "helios-atlasd not found next to helios-ctl or on PATH: build it (cargo build --release) or pass --atlasd PATH".into(),
        )
    })
}

/// Whether `pid` is a live process (not a zombie).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| !rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

/// Whether `pid` is still the node started with config `conf` (a pid file
/// can outlive its process, and the pid be reused by another).
fn runs_node(pid: u32, conf: &Path) -> bool {
    alive(pid)
        && std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
            c.split(|&b| b == 0)
                .any(|arg| arg == conf.as_os_str().as_encoded_bytes())
        })
}

fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The last non-empty line of a node's log, to explain why it exited.
fn last_line(path: &Path) -> String {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| {
            s.lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .map(str::to_string)
        })
        .unwrap_or_else(|| "no output".into())
}

/// Where node `id`'s files live under a `cluster up` directory.
fn node_file(dir: &Path, sub: &str, id: &str, ext: &str) -> PathBuf {
    dir.join(sub).join(format!("{id}.{ext}"))
}

/// The pid of node `id` as `cluster up` started it under `dir`, when that
/// process still runs.
pub fn running_pid(dir: &Path, id: &str) -> Option<u32> {
    let pid = read_pid(&node_file(dir, "pids", id, "pid"))?;
    runs_node(pid, &node_file(dir, "conf", id, "yaml")).then_some(pid)
}

/// Prepares `dir` for local nodes and points the spec's data there.
pub fn prepare_dir(spec: &mut ClusterSpec, dir: &Path) -> Result<PathBuf, Error> {
    let dir = std::path::absolute(dir).map_err(io(dir))?;
    for sub in ["conf", "data", "logs", "pids"] {
        std::fs::create_dir_all(dir.join(sub)).map_err(io(&dir.join(sub)))?;
    }
    spec.data_dir = dir.join("data").display().to_string();
    Ok(dir)
}

/// Renders node `i`'s config under `dir` and starts it in its own process
/// group (a Ctrl-C in this terminal later does not reach it), output to
/// its log, pid recorded.
pub fn start_node(
    cli: &Cli,
    spec: &ClusterSpec,
    i: usize,
    dir: &Path,
    atlasd: &Path,
) -> Result<Child, Error> {
    let node = &spec.nodes[i];
    let pid_file = node_file(dir, "pids", &node.id, "pid");
    let conf = node_file(dir, "conf", &node.id, "yaml");
    let body = serde_norway::to_string(&spec.render_node(i))
        .map_err(|e| Error::Failed(format!("cannot encode {}: {e}", conf.display())))?;
    std::fs::write(&conf, body).map_err(io(&conf))?;
    let log_path = node_file(dir, "logs", &node.id, "log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(io(&log_path))?;
    let log2 = log.try_clone().map_err(io(&log_path))?;
    let child = {
        use std::os::unix::process::CommandExt;
        Command::new(atlasd)
            .arg("-config")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .process_group(0)
            .spawn()
            .map_err(io(atlasd))?
    };
    std::fs::write(&pid_file, format!("{}\n", child.id())).map_err(io(&pid_file))?;
    if !cli.quiet {
        eprintln!(
            "helios-ctl: started {} (pid {}, client {}, log {})",
            node.id,
            child.id(),
            node.client_address,
            log_path.display()
        );
    }
    Ok(child)
}

pub fn up(cli: &Cli, args: &UpArgs) -> Result<u8, Error> {
    let mut spec = super::load_spec(cli)?;
    let atlasd = find_atlasd(args.atlasd.as_ref())?;
    let dir = prepare_dir(&mut spec, &args.dir)?;
    let mut started: Vec<(usize, Child)> = Vec::new();
    for (i, node) in spec.nodes.iter().enumerate() {
        if running_pid(&dir, &node.id).is_some() {
            if !cli.quiet {
                eprintln!("helios-ctl: {} is already running", node.id);
            }
            continue;
        }
        started.push((i, start_node(cli, &spec, i, &dir, &atlasd)?));
    }
    let targets = Target::from_spec(&spec);
    let deadline = Instant::now() + args.wait;
    let ids: Vec<String> = spec.nodes.iter().map(|n| n.id.clone()).collect();
    let bars = crate::progress::NodeBars::new(&ids, cli.quiet);
    let reports = loop {
        for (i, child) in started.iter_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                let id = &spec.nodes[*i].id;
                let log = dir.join("logs").join(format!("{id}.log"));
                return Err(Error::Failed(format!(
                    "{id} exited ({status}) while starting: {}",
                    last_line(&log)
                )));
            }
        }
        let reports = poll::poll_all(&targets, cli.timeout);
        bars.update(&reports);
        let report = health::evaluate(&reports, u64::MAX);
        if report.status == Level::Ok {
            bars.finish();
            // Healthy, but is it ours? Another cluster on the same ports
            // answers just as well while the nodes just started exit.
            for (i, child) in started.iter_mut() {
                let node = &spec.nodes[*i];
                let pid = poll::query(&node.client_address, cli.timeout, &["INFO", "server"])
                    .ok()
                    .and_then(|t| poll::parse_info(&t).get("process_id").cloned());
                if pid.as_deref() != Some(child.id().to_string().as_str()) {
                    let _ = child.kill();
                    let log = dir.join("logs").join(format!("{}.log", node.id));
                    return Err(Error::Failed(format!(
                        "{} at {} is another process (pid {}), not the node just started: {}",
                        node.id,
                        node.client_address,
                        pid.unwrap_or_else(|| "?".into()),
                        last_line(&log)
                    )));
                }
            }
            break reports;
        }
        if Instant::now() >= deadline {
            return Err(Error::Failed(format!(
                "the cluster did not become healthy within {}: {} (logs in {})",
                humantime::format_duration(args.wait),
                report.summary,
                dir.join("logs").display()
            )));
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    super::status::print(cli, &super::status::rows(reports))?;
    if !cli.quiet {
        let first = &spec.nodes[0].client_address;
        let sock = poll::connect_addr(first).map_err(Error::Failed)?;
        eprintln!(
            "helios-ctl: cluster {} is up; connect with redis-cli -h {} -p {}; stop it with helios-ctl cluster down -f {} --dir {}",
            spec.name,
            sock.ip(),
            sock.port(),
            cli.file.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
            args.dir.display()
        );
    }
    Ok(0)
}

pub fn down(cli: &Cli, args: &DownArgs) -> Result<u8, Error> {
    let spec = super::load_spec(cli)?;
    let dir = std::path::absolute(&args.dir).map_err(io(&args.dir))?;
    let mut running: Vec<(String, u32)> = Vec::new();
    for node in &spec.nodes {
        let pid_file = dir.join("pids").join(format!("{}.pid", node.id));
        let conf = dir.join("conf").join(format!("{}.yaml", node.id));
        match read_pid(&pid_file) {
            Some(pid) if runs_node(pid, &conf) => {
                // SHUTDOWN: a leader transfers leadership before it exits.
                let _ = poll::query(&node.client_address, cli.timeout, &["SHUTDOWN"]);
                running.push((node.id.clone(), pid));
            }
            _ => {
                let _ = std::fs::remove_file(&pid_file);
            }
        }
    }
    let deadline = Instant::now() + args.grace;
    while running.iter().any(|(_, pid)| alive(*pid)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut killed = Vec::new();
    for (id, pid) in &running {
        if alive(*pid) {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            killed.push(id.clone());
        }
        let _ = std::fs::remove_file(dir.join("pids").join(format!("{id}.pid")));
    }
    if !cli.quiet {
        eprintln!(
            "helios-ctl: stopped {} node(s){}",
            running.len(),
            if killed.is_empty() {
                String::new()
            } else {
                format!(
                    "; killed after {}: {}",
                    humantime::format_duration(args.grace),
                    killed.join(", ")
                )
            }
        );
    }
    Ok(0)
}
