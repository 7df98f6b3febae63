#!/usr/bin/env python3
"""Run redis-py's own test suite against Helios, with redis-server as the oracle.

Fetches the redis-py source package from PyPI (pinned version and sha256),
builds a venv with a pinned pytest beside it (under target/redis-py/ by
default, reused on the next run), then runs the suite's command, pipeline /
transaction and pub/sub tests against up to three targets, one after the
other, each on free loopback ports with its own temporary data directory:

  redis      redis-server, the oracle
  standalone one helios-atlasd
  cluster    three helios-atlasd nodes in a Raft cluster; the suite talks to
             the leader

A test that passes on redis-server must pass on each helios target, unless
compat/redis-py/known-failures.txt lists it for that target
(`test-id<TAB>standalone|cluster|both<TAB>reason`, `#` starts a comment).

Usage: compat/redis-py/run.py [--bin PATH] [--workdir DIR]
                              [--only redis|standalone|cluster ...] [-k EXPR]
                              [--keep] [--write-known] [--known FILE]

Exit status: 0 when every difference from redis-server is a listed one;
1 on an unlisted failure, a target that did not start or a run that did not
finish (the temporary directory with node logs and pytest output is then
kept and its path printed); 2 on bad usage, a missing tool or a failed
setup.
"""

import argparse
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

REDIS_PY_VERSION = "5.0.8"
# sha256 of redis-5.0.8.tar.gz as served by PyPI.
REDIS_PY_SHA256 = "0c5b10d387568dfe0698c6fad6615750c24170e548ca2deac10c649d463e9870"
# What the suite's conftest needs (pytest, packaging; async-timeout, which
# redis-py imports on Python < 3.11.3 such as Debian's 3.11.2) and what building
# the sdist needs besides the venv's own setuptools (wheel); pytest-timeout
# turns a test that hangs on a server into one failure instead of a stuck run.
VENV_REQUIREMENTS = [
    "pytest==7.4.4",
    "async-timeout==4.0.3",
    "iniconfig==2.3.1",
    "packaging==26.4",
    "pluggy==1.7.0",
    "pytest-timeout==2.3.1",
    "wheel==0.45.1",
]

TEST_FILES = ["tests/test_commands.py", "tests/test_pipeline.py", "tests/test_pubsub.py"]
# onlycluster tests need a Redis Cluster (slots, RedisCluster client) and
# replica tests a replica on port 6380: neither is what is compared here.
MARK_EXPR = "not onlycluster and not replica"
# Connects to localhost:6379, whatever runs there (skipped by redis-server
# 7.0 anyway: it needs 7.2).
DESELECT = ["tests/test_commands.py::TestRedisCommands::test_client_setinfo"]
PER_TEST_TIMEOUT = 30  # seconds, pytest-timeout
RUN_TIMEOUT = 420  # seconds for one target's whole pytest run
START_TIMEOUT = 15  # seconds for a server to answer PING
LEADER_TIMEOUT = 30  # seconds for the Raft cluster to elect a leader

TARGETS = ["redis", "standalone", "cluster"]
HELIOS_TARGETS = ["standalone", "cluster"]
OUTCOMES = ["passed", "failed", "error", "skipped"]
REASON_MAX = 150


def show(path):
    """A path relative to the repository when it is inside it."""
    rel = os.path.relpath(path, REPO)
    return path if rel.startswith("..") else rel


def die(msg, code=2):
    print(f"run.py: {msg}", file=sys.stderr)
    sys.exit(code)


class SetupError(Exception):
    """A target could not be started or did not become ready."""


# ---------------------------------------------------------------- setup


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def run_quiet(cmd, what, cwd=None):
    """Runs a setup command; on failure prints its output and exits 2."""
    p = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        sys.stderr.write(p.stdout[-4000:])
        die(f"{what} failed (exit {p.returncode}): {' '.join(cmd)}")


def prepare(workdir):
    """Returns (source dir, venv python), creating what is missing."""
    os.makedirs(workdir, exist_ok=True)
    venv_dir = os.path.join(workdir, "venv")
    py = os.path.join(venv_dir, "bin", "python")
    src = os.path.join(workdir, f"redis-{REDIS_PY_VERSION}")
    tarball = os.path.join(workdir, f"redis-{REDIS_PY_VERSION}.tar.gz")
    stamp = os.path.join(venv_dir, ".helios-compat")
    want_stamp = "\n".join(VENV_REQUIREMENTS + [REDIS_PY_SHA256]) + "\n"

    have_stamp = None
    if os.path.exists(stamp) and os.path.exists(py) and os.path.isdir(src):
        with open(stamp) as f:
            have_stamp = f.read()
    if have_stamp == want_stamp:
        return src, py

    print(f"== setting up redis-py {REDIS_PY_VERSION} and a venv in {workdir}", flush=True)
    shutil.rmtree(venv_dir, ignore_errors=True)
    p = subprocess.run([sys.executable, "-m", "venv", venv_dir], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        sys.stderr.write(p.stdout[-2000:])
        die(f"'{sys.executable} -m venv' failed; on Debian install python3-venv")
    pip = [py, "-m", "pip", "--disable-pip-version-check", "--no-input", "-q"]

    if not (os.path.exists(tarball) and sha256_of(tarball) == REDIS_PY_SHA256):
        dl = tempfile.mkdtemp(prefix="download-", dir=workdir)
        try:
            run_quiet(pip + ["download", f"redis=={REDIS_PY_VERSION}", "--no-deps",
                             "--no-binary", ":all:", "-d", dl], "pip download")
            got = os.path.join(dl, os.path.basename(tarball))
            if not os.path.exists(got):
                die(f"pip download did not produce {os.path.basename(tarball)}: {os.listdir(dl)}")
            digest = sha256_of(got)
            if digest != REDIS_PY_SHA256:
                die(f"sha256 mismatch for {os.path.basename(tarball)}: got {digest}, "
                    f"pinned {REDIS_PY_SHA256}")
            os.replace(got, tarball)
        finally:
            shutil.rmtree(dl, ignore_errors=True)

    shutil.rmtree(src, ignore_errors=True)
    unpack = tempfile.mkdtemp(prefix="unpack-", dir=workdir)
    try:
        with tarfile.open(tarball) as tar:
            try:
                tar.extractall(unpack, filter="data")
            except TypeError:  # Python without extraction filters
                tar.extractall(unpack)
        os.replace(os.path.join(unpack, f"redis-{REDIS_PY_VERSION}"), src)
    finally:
        shutil.rmtree(unpack, ignore_errors=True)

    run_quiet(pip + ["install"] + VENV_REQUIREMENTS, "pip install of the test tools")
    run_quiet(pip + ["install", "--no-deps", "--no-build-isolation", src], "pip install of redis-py")
    with open(stamp, "w") as f:
        f.write(want_stamp)
    return src, py


# ---------------------------------------------------------------- servers


def free_ports(n):
    """n distinct free loopback ports (bound together, so no duplicates)."""
    socks = []
    try:
        while len(socks) < n:
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            if s.getsockname()[1] in (6379, 7000):
                s.close()
                continue
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def resp_command(port, *args, timeout=2.0):
    """Sends one command, returns the reply (str, int, None) or raises."""
    payload = f"*{len(args)}\r\n".encode()
    for a in args:
        b = str(a).encode()
        payload += b"$%d\r\n%s\r\n" % (len(b), b)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.settimeout(timeout)
        s.sendall(payload)
        buf = b""

        def need(cond):
            nonlocal buf
            while not cond():
                chunk = s.recv(65536)
                if not chunk:
                    raise ConnectionError("connection closed")
                buf += chunk

        need(lambda: b"\r\n" in buf)
        line, rest = buf.split(b"\r\n", 1)
        kind, body = line[:1], line[1:].decode(errors="replace")
        if kind == b"+":
            return body
        if kind == b"-":
            raise RuntimeError(body)
        if kind == b":":
            return int(body)
        if kind == b"$":
            n = int(body)
            if n < 0:
                return None
            buf = rest
            need(lambda: len(buf) >= n + 2)
            return buf[:n].decode(errors="replace")
        raise RuntimeError(f"unexpected reply {line!r}")


def clean_env():
    # HELIOS_* variables would override nothing given as a flag, but could
    # set things that are not (a password, a config file).
    return {k: v for k, v in os.environ.items() if not k.startswith("HELIOS_")}


class Node:
    def __init__(self, name, cmd, port, logpath):
        self.name, self.cmd, self.port, self.logpath = name, cmd, port, logpath
        self.proc = None

    def start(self):
        with open(self.logpath, "wb") as log:
            self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, env=clean_env(),
                                         start_new_session=True)

    def exited(self):
        return self.proc is not None and self.proc.poll() is not None

    def log_tail(self, n=15):
        try:
            with open(self.logpath, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def wait_ping(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.exited():
                raise SetupError(f"{self.name} exited with code {self.proc.returncode} at start-up; "
                                 f"log {self.logpath}:\n{self.log_tail()}")
            try:
                if resp_command(self.port, "PING", timeout=1.0) == "PONG":
                    return
            except (OSError, RuntimeError):
                pass
            time.sleep(0.1)
        raise SetupError(f"{self.name} did not answer PING on port {self.port} within "
                         f"{START_TIMEOUT}s; log {self.logpath}")


def stop_all(nodes, timeout=10.0):
    """SIGTERM each node's process group, then SIGKILL what is left."""
    live = [n for n in nodes if n.proc is not None and n.proc.poll() is None]
    for n in live:
        try:
            os.killpg(n.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    for n in live:
        try:
            n.proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            try:
                os.killpg(n.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            n.proc.wait()


def start_redis(tmp):
    port, = free_ports(1)
    data = os.path.join(tmp, "data")
    os.makedirs(data)
    cmd = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
           "--appendonly", "no", "--dir", data]
    node = Node("redis-server", cmd, port, os.path.join(tmp, "redis-server.log"))
    return [node], node


def start_standalone(tmp, binary):
    port, = free_ports(1)
    data = os.path.join(tmp, "data")
    os.makedirs(data)
    cmd = [binary, f"-listen=127.0.0.1:{port}", f"-data-dir={data}"]
    node = Node("helios-atlasd", cmd, port, os.path.join(tmp, "helios-atlasd.log"))
    return [node], node


def start_cluster(tmp, binary):
    ports = free_ports(6)
    client, raft = ports[:3], ports[3:]
    ids = [f"node-{i}" for i in (1, 2, 3)]
    nodes = []
    for i, nid in enumerate(ids):
        data = os.path.join(tmp, nid)
        os.makedirs(data)
        peers = ",".join(f"{ids[j]}:127.0.0.1:{raft[j]}" for j in range(3) if j != i)
        cmd = [binary, f"-listen=127.0.0.1:{client[i]}", f"-data-dir={data}", "-raft=true",
               f"-raft-node-id={nid}", f"-raft-addr=127.0.0.1:{raft[i]}",
               f"-raft-data-dir={os.path.join(data, 'raft')}", f"-raft-peers={peers}"]
        nodes.append(Node(f"helios-atlasd {nid}", cmd, client[i],
                          os.path.join(tmp, f"{nid}.log")))
    return nodes, None


def wait_leader(nodes):
    """Polls INFO raft until exactly one node says raft_state:Leader."""
    deadline = time.monotonic() + LEADER_TIMEOUT
    states = {}
    while time.monotonic() < deadline:
        leaders = []
        for n in nodes:
            if n.exited():
                raise SetupError(f"{n.name} exited with code {n.proc.returncode}; "
                                 f"log {n.logpath}:\n{n.log_tail()}")
            try:
                info = resp_command(n.port, "INFO", "raft", timeout=1.0) or ""
            except (OSError, RuntimeError) as e:
                states[n.name] = f"no answer ({e})"
                continue
            m = re.search(r"^raft_state:(\S+)", info, re.M)
            states[n.name] = m.group(1) if m else "no raft_state"
            if m and m.group(1) == "Leader":
                leaders.append(n)
        if len(leaders) == 1:
            leader = leaders[0]
            try:  # it takes writes (the suite starts with FLUSHDB)
                resp_command(leader.port, "SET", "__helios_compat_probe", "1")
                resp_command(leader.port, "DEL", "__helios_compat_probe")
                return leader
            except (OSError, RuntimeError) as e:
                states[leader.name] = f"Leader, but a write failed: {e}"
        time.sleep(0.2)
    raise SetupError(f"no single Raft leader within {LEADER_TIMEOUT}s: {states}")


# ---------------------------------------------------------------- pytest


def run_pytest(py, src, port, xml_path, log_path, k_expr, procs):
    cmd = [py, "-m", "pytest", *TEST_FILES,
           "-p", "no:asyncio", "-p", "no:cacheprovider",
           f"--redis-url=redis://127.0.0.1:{port}/9",
           f"--junitxml={xml_path}", "-o", "junit_family=xunit2",
           "-q", "--tb=native",  # pytest's own traceback style is slow on a 5,000-line file
           f"--timeout={PER_TEST_TIMEOUT}",
           "-W", "ignore::pytest.PytestUnknownMarkWarning",
           "-m", MARK_EXPR]
    for d in DESELECT:
        cmd += ["--deselect", d]
    if k_expr:
        cmd += ["-k", k_expr]
    with open(log_path, "wb") as log:
        p = subprocess.Popen(cmd, cwd=src, stdin=subprocess.DEVNULL, stdout=log,
                             stderr=subprocess.STDOUT, env=clean_env(), start_new_session=True)
        procs.append(p)
        timed_out = False
        try:
            p.wait(RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(p.pid, signal.SIGINT)  # pytest still writes the junit file
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        procs.remove(p)
    summary = ""
    with open(log_path, errors="replace") as f:
        for line in f:
            if re.search(r"\b(passed|failed|error|errors|skipped|deselected)\b.* in [0-9.]+s", line):
                summary = line.strip().strip("= ")
    return p.returncode, timed_out, summary


EXC_PREFIX = re.compile(r"\b(?:[a-z_][a-z0-9_]*\.)+(?=[A-Z]\w*(?:Error|Exception|Exit|Failed)\b)")


def one_line(text):
    text = (text or "").strip()
    line = text.splitlines()[0] if text else ""
    line = EXC_PREFIX.sub("", line).replace("\t", " ").strip()
    if len(line) > REASON_MAX:
        line = line[:REASON_MAX - 3].rstrip() + "..."
    return line


def test_id(src, classname, name):
    parts = classname.split(".")
    for i in range(len(parts), 0, -1):
        path = "/".join(parts[:i]) + ".py"
        if os.path.exists(os.path.join(src, path)):
            return "::".join([path] + parts[i:] + [name])
    return f"{classname}::{name}"


def parse_junit(path, src):
    """{test id: (outcome, reason)}."""
    results = {}
    try:
        cases = list(ET.parse(path).iter("testcase"))
    except (OSError, ET.ParseError):  # no file, or cut short by a kill
        return results
    for case in cases:
        tid = test_id(src, case.get("classname", ""), case.get("name", ""))
        kinds = {child.tag: child for child in case}
        for tag, outcome in (("failure", "failed"), ("error", "error"), ("skipped", "skipped")):
            if tag in kinds:
                el = kinds[tag]
                results[tid] = (outcome, one_line(el.get("message") or el.text))
                break
        else:
            results[tid] = ("passed", "")
    return results


# ---------------------------------------------------------------- known failures


def read_known(path):
    """{test id: (set of targets, reason)}."""
    known = {}
    if not os.path.exists(path):
        return known
    with open(path) as f:
        for no, raw in enumerate(f, 1):
            line = raw.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            fields = line.split("\t")
            if len(fields) < 2 or fields[1] not in ("standalone", "cluster", "both"):
                die(f"{path}:{no}: expected test-id<TAB>standalone|cluster|both<TAB>reason")
            tid = fields[0].strip()
            if tid in known:
                die(f"{path}:{no}: {tid} is listed twice")
            targets = set(HELIOS_TARGETS) if fields[1] == "both" else {fields[1]}
            known[tid] = (targets, fields[2].strip() if len(fields) > 2 else "")
    return known


def cause(reason):
    """A grouping key: ('1', 'ACL') for an unknown command, ('2', 'CLIENT X')
    for an unknown subcommand, ('3', '') for anything else."""
    m = re.search(r"unknown command '([^']+)'", reason)
    if m:
        return ("1", m.group(1).upper())
    m = re.search(r"unknown subcommand (?:or wrong number of arguments for )?'([^']+)'"
                  r"(?:\. Try (\S+) HELP)?", reason)
    if m:
        return ("2", f"{(m.group(2) or '?').upper()} {m.group(1).upper()}")
    return ("3", "")


KNOWN_HEADER = """\
# redis-py {version} tests that pass on redis-server but not (yet) on Helios.
# test-id<TAB>standalone|cluster|both<TAB>reason
# compat/redis-py/run.py fails on any other difference from redis-server and
# mentions listed tests that pass again. `run.py --write-known` rewrites this
# file from a run; a reason written by hand survives that while the test
# still fails for the same kind of cause (the same unknown command, or a
# different reply).
"""


def write_known(path, known, results, baseline, ran):
    """Rewrites the list: tests that ran on a helios target are taken from this
    run, entries for what did not run are kept."""
    entries = {}  # tid -> (targets, reason)
    for tid, (targets, reason) in known.items():
        keep = {t for t in targets if t not in ran or tid not in results[t]}
        if keep:
            entries[tid] = (keep, reason)
    for t in ran:
        for tid in sorted(baseline):
            outcome, reason = results[t].get(tid, ("passed", ""))
            if outcome == "passed":
                continue
            targets, _ = entries.get(tid, (set(), ""))
            # A reason from the old list (maybe written by hand) survives
            # while the cause is of the same kind; the first target's wins.
            old = known.get(tid, (None, ""))[1]
            if targets:
                reason = entries[tid][1]
            elif old and cause(old) == cause(reason):
                reason = old
            entries[tid] = (targets | {t}, reason)

    groups = {}
    for tid, (targets, reason) in entries.items():
        groups.setdefault(cause(reason), []).append(tid)
    with open(path, "w") as f:
        f.write(KNOWN_HEADER.format(version=REDIS_PY_VERSION))
        for key in sorted(groups):
            kind, name = key
            title = {"1": f"unknown command: {name}", "2": f"unknown subcommand: {name}",
                     "3": "implemented, but replies differently from redis-server"}[kind]
            f.write(f"\n# {title}\n")
            for tid in sorted(groups[key]):
                targets, reason = entries[tid]
                col = "both" if targets == set(HELIOS_TARGETS) else next(iter(targets))
                f.write(f"{tid}\t{col}\t{reason}\n")
    print(f"wrote {len(entries)} entries to {show(path)}")


# ---------------------------------------------------------------- main


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=os.path.join(REPO, "target", "release", "helios-atlasd"),
                    help="helios-atlasd binary (default: target/release/helios-atlasd)")
    ap.add_argument("--workdir", default=os.path.join(REPO, "target", "redis-py"),
                    help="where redis-py and its venv go (default: target/redis-py)")
    ap.add_argument("--only", action="append", choices=TARGETS,
                    help="run only this target (repeatable; redis-server runs anyway)")
    ap.add_argument("-k", dest="k_expr", help="pytest -k expression")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--write-known", action="store_true",
                    help="rewrite the known-failures list from this run")
    ap.add_argument("--known", default=os.path.join(HERE, "known-failures.txt"),
                    help="known-failures list (default: compat/redis-py/known-failures.txt)")
    args = ap.parse_args()

    targets = TARGETS if not args.only else [t for t in TARGETS if t == "redis" or t in args.only]
    helios = [t for t in targets if t in HELIOS_TARGETS]
    if not shutil.which("redis-server"):
        die("redis-server not found (Debian: apt-get install redis-server)")
    binary = os.path.abspath(args.bin)
    if helios and not os.access(binary, os.X_OK):
        die(f"{binary} is not an executable (build it: cargo build --release -p helios-atlasd)")
    known = read_known(args.known)

    src, py = prepare(os.path.abspath(args.workdir))

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    tmp = tempfile.mkdtemp(prefix="helios-redis-py-")
    nodes_all, procs = [], []
    keep = args.keep
    problems = []  # target-level failures: did not start, crashed, timed out
    results, times = {}, {}
    try:
        for t in targets:
            ttmp = os.path.join(tmp, t)
            os.makedirs(ttmp)
            print(f"== {t}: starting", flush=True)
            t0 = time.monotonic()
            try:
                if t == "redis":
                    nodes, target = start_redis(ttmp)
                elif t == "standalone":
                    nodes, target = start_standalone(ttmp, binary)
                else:
                    nodes, target = start_cluster(ttmp, binary)
                nodes_all += nodes
                for n in nodes:
                    n.start()
                for n in nodes:
                    n.wait_ping()
                if t == "cluster":
                    target = wait_leader(nodes)
                    print(f"   leader: {target.name} (port {target.port}) after "
                          f"{time.monotonic() - t0:.1f}s", flush=True)
            except SetupError as e:
                problems.append(f"{t}: {e}")
                print(f"   {t} did not start: {e}", flush=True)
                stop_all(nodes)
                results[t], times[t] = {}, time.monotonic() - t0
                continue
            xml = os.path.join(ttmp, "junit.xml")
            log = os.path.join(ttmp, "pytest.log")
            code, timed_out, summary = run_pytest(py, src, target.port, xml, log, args.k_expr, procs)
            crashed = [n for n in nodes if n.exited()]
            stop_all(nodes)
            times[t] = time.monotonic() - t0
            results[t] = parse_junit(xml, src)
            print(f"   {summary or f'pytest exit {code}, no summary'} ({times[t]:.0f}s)", flush=True)
            if timed_out:
                problems.append(f"{t}: the pytest run took longer than {RUN_TIMEOUT}s and was stopped")
            if code not in (0, 1, 5) and not timed_out:  # 5: -k selected nothing
                problems.append(f"{t}: pytest exited with {code} (see {log})")
            for n in crashed:
                problems.append(f"{t}: {n.name} exited with code {n.proc.returncode} during the "
                                f"run; log {n.logpath}")
            if t == "redis" and not results[t]:
                problems.append("redis: no test results from redis-server, nothing to compare")
                break

        ok = report(targets, helios, results, times, known, problems, args)
        if args.write_known and problems:
            print(f"not rewriting {show(args.known)}: a target did not run cleanly")
        elif args.write_known:
            ran = [t for t in helios if results.get(t)]
            # What redis-server passes, and what it skips (newer Redis
            # features) but a helios target runs.
            redis_results = results.get("redis", {})
            baseline = {tid for tid, (o, _) in redis_results.items() if o == "passed"}
            baseline |= {tid for tid, (o, _) in redis_results.items() if o == "skipped"
                         and any(results[t].get(tid, ("skipped", ""))[0] != "skipped"
                                 for t in ran)}
            write_known(args.known, known, results, baseline, ran)
        if not ok:
            keep = True
        return 0 if ok else 1
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    finally:
        for p in procs:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
        stop_all(nodes_all)
        if keep:
            print(f"node logs, pytest output and junit files kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def report(targets, helios, results, times, known, problems, args):
    print(f"\n== redis-py {REDIS_PY_VERSION}: outcomes per target")
    print(f"{'target':<12}{'passed':>8}{'failed':>8}{'error':>8}{'skipped':>9}{'time':>9}")
    for t in targets:
        counts = {o: 0 for o in OUTCOMES}
        for outcome, _ in results.get(t, {}).values():
            counts[outcome] += 1
        print(f"{t:<12}" + "".join(f"{counts[o]:>{9 if o == 'skipped' else 8}}" for o in OUTCOMES)
              + f"{times.get(t, 0):>8.0f}s")

    baseline = sorted(tid for tid, (o, _) in results.get("redis", {}).items() if o == "passed")
    differ = []  # (tid, target, outcome, reason, is_known)
    for tid in baseline:
        for t in helios:
            if not results.get(t) and any(p.startswith(f"{t}:") for p in problems):
                continue  # did not start: reported once as a problem
            outcome, reason = results[t].get(tid, ("missing", "did not run"))
            if outcome != "passed":
                differ.append((tid, t, outcome, reason, t in known.get(tid, (set(), ""))[0]))
    unexpected = [d for d in differ if not d[4]]
    now_pass = [(tid, t) for tid, (ts, _) in sorted(known.items()) for t in sorted(ts)
                if t in helios and results.get(t, {}).get(tid, ("", ""))[0] == "passed"]

    if problems:
        print("\n== PROBLEMS")
        for p in problems:
            print(f"  {p}")

    def lines(rows, marks):
        """One line per test, or per test and target when the targets differ."""
        by_test = {}
        for tid, t, outcome, reason, is_known in rows:
            by_test.setdefault(tid, []).append((t, outcome, reason, is_known))
        for tid, per in by_test.items():
            if len(per) == 2 and per[0][1:] == per[1][1:]:
                per = [("both",) + per[0][1:]]
            for t, outcome, reason, is_known in per:
                mark = ("known " if is_known else "NEW   ") if marks else ""
                print(f"  {mark}{tid} [{t}] {outcome}: {reason}")

    if unexpected:
        print(f"\n== UNEXPECTED: pass on redis-server, not on helios, and not listed in "
              f"{show(args.known)} ({len(unexpected)})")
        lines(unexpected, False)

    if helios:
        print(f"\n== pass on redis-server, not on helios ({len(differ)}; "
              f"{len(differ) - len(unexpected)} listed as known)")
        lines(differ, True)
    # Tests the oracle skips (Redis 7.2 features: Helios reports 7.2.0, the
    # oracle is 7.0) but Helios runs: nothing to compare them with, so they
    # are reported, and a failure is a problem like an unexpected one.
    redis_skipped = {tid for tid, (o, _) in results.get("redis", {}).items() if o == "skipped"}
    unlisted_beyond = []
    beyond = [(tid, t, *results[t][tid]) for tid in sorted(redis_skipped) for t in helios
              if tid in results.get(t, {}) and results[t][tid][0] != "skipped"]
    if beyond:
        print(f"\n== skipped on redis-server (a newer Redis's features), run on helios "
              f"({len(beyond)})")
        for tid, t, outcome, reason in beyond:
            listed = t in known.get(tid, (set(), ""))[0]
            mark = "" if outcome == "passed" else ("known " if listed else "NEW   ")
            print(f"  {mark}{tid} [{t}] {outcome}" + (f": {reason}" if outcome != "passed" else ""))
            if outcome != "passed" and not listed:
                unlisted_beyond.append(tid)

    if now_pass:
        print(f"\n== listed as known failures but passing now ({len(now_pass)}; "
              f"trim {show(args.known)}):")
        for tid, t in now_pass:
            print(f"  {tid} [{t}]")

    checked = len(baseline) * len([t for t in helios if results.get(t)])
    ok = not unexpected and not problems and not unlisted_beyond
    print()
    print("OK: no unexpected differences from redis-server" if ok else
          "FAILED: see UNEXPECTED and PROBLEMS above")
    if helios:
        print(f"{len(baseline)} tests pass on redis-server; checked on "
              f"{'/'.join(t for t in helios if results.get(t)) or 'no target'}: "
              f"{len(differ) - len(unexpected)} known differences")
        # the closing line: (test, helios target) pairs that match redis-server
        # and unlisted differences
        print(f"redis-py: {checked - len(differ)} passed, {len(unexpected)} failed")
    return ok


if __name__ == "__main__":
    sys.exit(main())
