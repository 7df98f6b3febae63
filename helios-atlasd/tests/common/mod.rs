//! Test support: real `helios-atlasd` and `redis-server` processes on free
//! loopback ports, cleaned up (killed, temp dirs removed) even when a test
//! fails.

#![allow(dead_code)]

pub mod cluster;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One HTTP/1.1 request to 127.0.0.1:`port`; returns the status code and
/// the body (the gateway answers with Content-Length and closes on
/// `Connection: close`).
pub fn http(port: u16, method: &str, path: &str) -> (u16, String) {
    http_with(port, method, path, "")
}

/// [`http`] with a JSON request body.
pub fn http_with(port: u16, method: &str, path: &str, body: &str) -> (u16, String) {
    http_request(port, method, path, body, "")
}

/// [`http`] with `Authorization: Bearer <token>`.
pub fn http_auth(port: u16, method: &str, path: &str, token: &str) -> (u16, String) {
    http_request(
        port,
        method,
        path,
        "",
        &format!("Authorization: Bearer {token}\r\n"),
    )
}

fn http_request(port: u16, method: &str, path: &str, body: &str, headers: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to the HTTP port");
    s.set_read_timeout(Some(Duration::from_secs(90))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{headers}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).expect("HTTP response");
    let code = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("bad HTTP response: {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (code, body)
}

/// The value of one sample line (`name{labels} value`) in a `/metrics` body.
pub fn metric(body: &str, series: &str) -> Option<f64> {
    body.lines().find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind :0");
    l.local_addr().unwrap().port()
}

fn wait_for_port(port: u16, child: &mut Child, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited before listening on {port}: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not listen on {port} within 30s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A running `helios-atlasd`. Killed with SIGKILL on drop.
pub struct Atlasd {
    pub child: Child,
    pub port: u16,
    pub dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    log: PathBuf,
}

impl Atlasd {
    /// Starts a node with a fresh data directory.
    pub fn start(extra: &[&str]) -> Atlasd {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("data");
        let mut n = Atlasd::start_in(&dir, extra);
        n._tmp = Some(tmp);
        n
    }

    /// Starts a node on an existing data directory (restarts).
    pub fn start_in(dir: &Path, extra: &[&str]) -> Atlasd {
        let port = free_port();
        let log = dir.with_extension(format!("{port}.log"));
        let logf = std::fs::File::create(&log).expect("log file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_helios-atlasd"));
        cmd.arg(format!("-listen=127.0.0.1:{port}"))
            .arg(format!("-data-dir={}", dir.display()))
            .args(extra)
            .stdout(Stdio::null())
            .stderr(logf);
        for (k, _) in std::env::vars() {
            if k.starts_with("HELIOS_") {
                cmd.env_remove(k);
            }
        }
        let mut child = cmd.spawn().expect("spawn helios-atlasd");
        wait_for_port(port, &mut child, "helios-atlasd");
        Atlasd {
            child,
            port,
            dir: dir.to_path_buf(),
            _tmp: None,
            log,
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn client(&self) -> redis::Connection {
        connect(self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// kill -9, and wait for the process to be gone.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait up to 30s for a clean exit; returns the status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "helios-atlasd ignored SIGTERM for 30s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Atlasd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

pub fn connect(port: u16) -> redis::Connection {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
    let con = client
        .get_connection_with_timeout(Duration::from_secs(10))
        .expect("connect");
    con.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    con
}

/// Runs one command given as words and converts the reply, panicking on an
/// error reply (for test steps that must succeed).
pub fn run<T: redis::FromRedisValue>(c: &mut redis::Connection, words: &[&str]) -> T {
    let mut cmd = redis::cmd(words[0]);
    for w in &words[1..] {
        cmd.arg(*w);
    }
    cmd.query(c)
        .unwrap_or_else(|e| panic!("{}: {e}", words.join(" ")))
}

/// The real `redis-server` (Debian package), the oracle for semantics.
pub struct RedisServer {
    pub child: Child,
    pub port: u16,
    _tmp: tempfile::TempDir,
}

impl RedisServer {
    pub fn start() -> RedisServer {
        let tmp = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(tmp.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "redis-server must be installed (apt-get install redis-server; .ci/run does this)",
            );
        wait_for_port(port, &mut child, "redis-server");
        RedisServer {
            child,
            port,
            _tmp: tmp,
        }
    }

    pub fn client(&self) -> redis::Connection {
        connect(self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A raw TCP connection for protocol-level tests.
pub struct Raw {
    pub stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Raw {
    pub fn connect(port: u16) -> Raw {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        Raw { stream, reader }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// Reads one CRLF-terminated line (including the CRLF).
    pub fn line(&mut self) -> String {
        let mut s = String::new();
        self.reader.read_line(&mut s).unwrap();
        s
    }

    /// Reads one bulk string reply (`$<len>` line and body).
    pub fn bulk(&mut self) -> Vec<u8> {
        let header = self.line();
        let len: usize = header[1..].trim().parse().expect("bulk length");
        let mut body = vec![0u8; len + 2];
        self.reader.read_exact(&mut body).unwrap();
        body.truncate(len);
        body
    }

    /// Reads one whole reply (RESP2 or RESP3, nested) as raw bytes.
    pub fn reply(&mut self) -> Vec<u8> {
        let line = self.line();
        assert!(line.ends_with("\r\n"), "truncated reply line {line:?}");
        let mut out = line.clone().into_bytes();
        let n = || -> i64 { line[1..].trim().parse().expect("length") };
        match line.as_bytes()[0] {
            b'$' | b'=' | b'!' if n() >= 0 => {
                let mut body = vec![0u8; n() as usize + 2];
                self.reader.read_exact(&mut body).unwrap();
                out.extend(body);
            }
            b'*' | b'~' | b'>' if n() >= 0 => {
                for _ in 0..n() {
                    out.extend(self.reply());
                }
            }
            b'%' | b'|' => {
                for _ in 0..2 * n() {
                    out.extend(self.reply());
                }
            }
            _ => {}
        }
        out
    }

    /// Sends one command as a RESP array and returns its raw reply.
    pub fn call(&mut self, args: &[&[u8]]) -> Vec<u8> {
        let mut req = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            req.extend(format!("${}\r\n", a.len()).into_bytes());
            req.extend_from_slice(a);
            req.extend_from_slice(b"\r\n");
        }
        self.send(&req);
        self.reply()
    }

    /// True when the server closed the connection (EOF).
    pub fn closed(&mut self) -> bool {
        let mut b = [0u8; 1];
        matches!(self.reader.read(&mut b), Ok(0) | Err(_))
    }
}

/// Runs `redis-cli` with arguments against a port; returns stdout.
pub fn redis_cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .arg("-p")
        .arg(port.to_string())
        .args(args)
        .output()
        .expect("redis-cli must be installed (apt-get install redis-tools)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}
