#!/usr/bin/env python3
"""Helios 3-node Raft cluster vs a durable redis-server, in one run.

Section 1 (throughput): a local 3-node cluster (aof_fsync always: every
write is fsynced on a majority before it is acknowledged) and
`redis-server --appendonly yes --appendfsync always` (every write fsynced on
one node) get the same `redis-benchmark -t set,get,incr -c 50` load, against
the leader. Prints ops/s, p50/p99 and the ratio helios/redis.

Section 2 (failover): a writer sends SETs as fast as it can, one at a time,
to any node that answers; the leader is killed with SIGKILL (a crash: the
survivors find its port closed and elect at once), then in a second series
frozen with SIGSTOP (a hung leader or a dead machine: only the election
timeout can replace it; it is resumed afterwards and rejoins as a follower),
then in a third stopped with SIGTERM (which hands leadership over first). The
write-unavailability window of one failover is the gap between the last
acknowledged write before the fault and the first one after it. Prints
median and max over the runs. Every acknowledged write is then checked on
every node: a lost write fails the run.

Usage: bench/cluster.py [--quick] [--bin PATH] [--only 1|2] [--runs N]
Exit status: 0 when everything ran and no write was lost, 1 on a failure
(crash, lost write, no leader), 2 on bad usage or a missing tool.
"""

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Resp:
    """A minimal RESP client: enough for SET/GET/INFO, with timeouts."""

    def __init__(self, port, timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.buf = b""

    def close(self):
        self.sock.close()

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _read(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind in (b"+", b":"):
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("closed")
                self.buf += chunk
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data.decode()
        if kind == b"*":
            return [self._read() for _ in range(int(rest))]
        raise RuntimeError("bad reply %r" % line)

    def cmd(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)
        return self._read()


class Cluster:
    def __init__(self, binary, work, n=3, extra=()):
        self.binary, self.work, self.extra = binary, work, list(extra)
        os.makedirs(work, exist_ok=True)
        self.nodes = []
        for i in range(1, n + 1):
            self.nodes.append({
                "id": "node-%d" % i, "port": free_port(), "raft": free_port(),
                "dir": os.path.join(work, "node%d" % i), "proc": None,
            })
        for i in range(n):
            self.start(i)

    def start(self, i):
        node = self.nodes[i]
        peers = ",".join("%s:127.0.0.1:%d" % (o["id"], o["raft"]) for o in self.nodes if o is not node)
        env = {k: v for k, v in os.environ.items() if not k.startswith("HELIOS_")}
        env["HELIOS_RAFT_PEERS"] = peers
        log = open(os.path.join(self.work, "%s.log" % node["id"]), "ab")
        node["proc"] = subprocess.Popen(
            [self.binary, "-data-dir=" + node["dir"], "-listen=127.0.0.1:%d" % node["port"],
             "-raft=true", "-raft-node-id=" + node["id"], "-raft-addr=127.0.0.1:%d" % node["raft"],
             "-raft-data-dir=" + os.path.join(node["dir"], "raft")] + self.extra,
            stdout=subprocess.DEVNULL, stderr=log, env=env)
        deadline = time.time() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", node["port"]), timeout=0.5).close()
                return
            except OSError:
                if node["proc"].poll() is not None or time.time() > deadline:
                    raise SystemExit("node %s did not start (see %s)" % (node["id"], self.work))
                time.sleep(0.02)

    def info(self, i):
        try:
            c = Resp(self.nodes[i]["port"], timeout=1)
            text = c.cmd("INFO", "raft")
            c.close()
            return dict(line.split(":", 1) for line in text.split("\r\n") if ":" in line)
        except (OSError, RuntimeError, ConnectionError):
            return None

    def leader(self, timeout=30):
        """Index of the leader once every running node agrees on it."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            running = [i for i, n in enumerate(self.nodes) if n["proc"] and n["proc"].poll() is None]
            infos = [self.info(i) for i in running]
            if all(infos):
                named = {m.get("raft_leader", "") for m in infos}
                leaders = [m for m in infos if m.get("raft_state") == "Leader"]
                if len(named) == 1 and "" not in named and len(leaders) == 1:
                    lid = named.pop()
                    return next(i for i, n in enumerate(self.nodes) if n["id"] == lid)
            time.sleep(0.02)
        raise SystemExit("no agreed leader within %ss" % timeout)

    def converged(self, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            running = [i for i, n in enumerate(self.nodes) if n["proc"] and n["proc"].poll() is None]
            applied = [self.info(i) for i in running]
            if all(applied) and len({m["raft_applied_index"] for m in applied}) == 1:
                return
            time.sleep(0.05)
        raise SystemExit("nodes did not converge")

    def stop_all(self):
        for n in self.nodes:
            if n["proc"] and n["proc"].poll() is None:
                n["proc"].kill()
                n["proc"].wait()


def benchmark(port, test, clients, requests):
    out = subprocess.run(
        ["redis-benchmark", "-p", str(port), "-t", test, "-c", str(clients), "-n", str(requests),
         "-r", "100000", "--csv"], capture_output=True, text=True, timeout=600)
    for line in out.stdout.splitlines():
        cells = [c.strip('"') for c in line.split(",")]
        if cells and cells[0].upper().startswith(test.upper()):
            # test, rps, avg, min, p50, p95, p99, max
            return float(cells[1]), float(cells[4]), float(cells[6])
    raise SystemExit("redis-benchmark %s on %d gave no result:\n%s%s" % (test, port, out.stdout, out.stderr))


def section_throughput(binary, work, requests):
    print("== 1. throughput: 3-node Helios (fsync always, majority) vs redis-server (appendfsync always)")
    rport = free_port()
    rdir = os.path.join(work, "redis")
    os.makedirs(rdir)
    redis = subprocess.Popen(
        ["redis-server", "--port", str(rport), "--bind", "127.0.0.1", "--dir", rdir, "--save", "",
         "--appendonly", "yes", "--appendfsync", "always"], stdout=subprocess.DEVNULL)
    cluster = None
    try:
        cluster = Cluster(binary, os.path.join(work, "c1"))
        leader = cluster.leader()
        lport = cluster.nodes[leader]["port"]
        while True:
            try:
                Resp(rport).cmd("PING")
                break
            except OSError:
                time.sleep(0.05)
        print("%-6s %12s %12s %9s %9s %9s %9s %7s" % (
            "test", "helios op/s", "redis op/s", "h p50ms", "r p50ms", "h p99ms", "r p99ms", "ratio"))
        for test in ("set", "get", "incr"):
            h = benchmark(lport, test, 50, requests)
            r = benchmark(rport, test, 50, requests)
            print("%-6s %12.0f %12.0f %9.3f %9.3f %9.3f %9.3f %7.2f" % (
                test.upper(), h[0], r[0], h[1], r[1], h[2], r[2], h[0] / r[0]))
    finally:
        if cluster:
            cluster.stop_all()
        redis.kill()
        redis.wait()


SIGNALS = {"kill": signal.SIGKILL, "stop": signal.SIGSTOP, "term": signal.SIGTERM}
LABELS = {
    "kill": "kill -9 leader",
    "stop": "SIGSTOP leader (hung)",
    "term": "SIGTERM leader (transfer)",
}


def failover_run(cluster, how, settle):
    """One fault under a writer; returns (unavailable seconds, acked keys)."""
    leader = cluster.leader()
    ports = [n["port"] for n in cluster.nodes]
    if how == "stop":
        # A request sent to a frozen process just hangs (a client would
        # wait out its own timeout): write through the followers, which
        # forward to whichever node leads.
        ports = [p for j, p in enumerate(ports) if j != leader]
    acked, times = [], []
    conn, which, i = None, 0, 0
    fault_at = None
    t_end = None
    while True:
        now = time.time()
        if fault_at is None and len(acked) >= 200:
            fault_at = time.time()
            proc = cluster.nodes[leader]["proc"]
            proc.send_signal(SIGNALS[how])
            t_end = fault_at + settle
        if t_end is not None and now > t_end:
            break
        if conn is None:
            port = ports[which % len(ports)]
            which += 1
            try:
                conn = Resp(port, timeout=5)
            except OSError:
                time.sleep(0.01)
                continue
        i += 1
        key = "fo:%s:%d:%d" % (how, os.getpid(), time.time_ns())
        try:
            conn.cmd("SET", key, i)
            acked.append(key)
            times.append(time.time())
        except (OSError, ConnectionError):
            conn = None
        except RuntimeError:
            time.sleep(0.005)
    if how == "stop":
        # Resumed, the old leader finds a newer term and follows.
        cluster.nodes[leader]["proc"].send_signal(signal.SIGCONT)
    else:
        cluster.nodes[leader]["proc"].wait()
    before = [t for t in times if t <= fault_at]
    after = [t for t in times if t > fault_at]
    if not after:
        raise SystemExit("no write succeeded within %.1fs after the %s" % (settle, how))
    gap = after[0] - (before[-1] if before else fault_at)
    if how != "stop":
        cluster.start(leader)
    return gap, acked


def check_all(cluster, keys):
    cluster.leader()
    cluster.converged()
    for i, n in enumerate(cluster.nodes):
        c = Resp(n["port"], timeout=10)
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            vals = c.cmd("MGET", *chunk)
            missing = [k for k, v in zip(chunk, vals) if v is None]
            if missing:
                raise SystemExit("LOST %d acknowledged writes on %s, e.g. %s" % (len(missing), n["id"], missing[0]))
        c.close()


def section_failover(binary, work, runs):
    print("== 2. failover: write unavailability with election_timeout 500ms (%d runs each)" % runs)
    for how in ("kill", "stop", "term"):
        cluster = Cluster(binary, os.path.join(work, "c2-" + how))
        try:
            gaps, keys = [], []
            for _ in range(runs):
                gap, acked = failover_run(cluster, how, settle=4.0)
                gaps.append(gap)
                keys += acked
                cluster.leader()
            check_all(cluster, keys)
            label = LABELS[how]
            print("%-26s median %6.0f ms   max %6.0f ms   writes checked on all nodes: %d" % (
                label, statistics.median(gaps) * 1000, max(gaps) * 1000, len(keys)))
        finally:
            cluster.stop_all()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer requests and runs (CI smoke run)")
    ap.add_argument("--bin", default=os.path.join(REPO, "target", "release", "helios-atlasd"))
    ap.add_argument("--only", choices=["1", "2"])
    ap.add_argument("--runs", type=int, help="failovers per series (default 10, quick 3)")
    args = ap.parse_args()
    for tool in ("redis-server", "redis-benchmark"):
        if shutil.which(tool) is None:
            print("cluster.py: %s not found in PATH" % tool, file=sys.stderr)
            return 2
    if not os.access(args.bin, os.X_OK):
        print("cluster.py: helios binary %s not found; run cargo build --release -p helios-atlasd" % args.bin,
              file=sys.stderr)
        return 2
    work = tempfile.mkdtemp(prefix="helios-cluster-bench.")
    binary = os.path.join(work, "helios-atlasd")
    shutil.copy2(args.bin, binary)
    try:
        print("nproc %d, load %s, helios %s" % (os.cpu_count(), os.getloadavg(), args.bin))
        if args.only in (None, "1"):
            section_throughput(binary, work, 20000 if args.quick else 100000)
        if args.only in (None, "2"):
            section_failover(binary, work, args.runs or (3 if args.quick else 10))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
