#!/usr/bin/env bash
# Helios vs Redis: the same redis-benchmark loads against redis-server and
# helios-atlasd, started side by side on free loopback ports with equivalent
# persistence settings, in one run. See bench/README.md for what each line
# measures and how to read it.
#
# Usage: bench/compare.sh [--quick] [--bin PATH] [--only N] [--tmp DIR]
#   --quick     fewer requests / keys (smoke run for CI, < 60 s)
#   --bin PATH  helios-atlasd binary (default: target/release/helios-atlasd)
#   --only N    run only section N (1-5)
#   --tmp DIR   where the servers' data directories go (default: $TMPDIR or /tmp)
#
# Exit status: 0 when every load ran, 1 when a load failed (server error,
# crash, hang, wrong reply), 2 on bad usage or missing tools. A ratio below
# 1.0 is reported, not treated as a failure.

set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)

QUICK=0
ONLY=""
BIN="$REPO/target/release/helios-atlasd"
TMP_BASE="${TMPDIR:-/tmp}"

usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; }

while (($#)); do
    case "$1" in
        --quick) QUICK=1 ;;
        --bin) BIN="${2:?--bin needs a path}"; shift ;;
        --bin=*) BIN="${1#--bin=}" ;;
        --only) ONLY="${2:?--only needs a section number}"; shift ;;
        --only=*) ONLY="${1#--only=}" ;;
        --tmp) TMP_BASE="${2:?--tmp needs a directory}"; shift ;;
        --tmp=*) TMP_BASE="${1#--tmp=}" ;;
        -h | --help) usage; exit 0 ;;
        *) echo "compare.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

if [[ -n "$ONLY" && ! "$ONLY" =~ ^[1-5]$ ]]; then
    echo "compare.sh: --only takes a section number 1-5, got '$ONLY'" >&2
    exit 2
fi
for tool in redis-server redis-cli redis-benchmark python3 awk timeout; do
    command -v "$tool" >/dev/null || { echo "compare.sh: $tool not found in PATH" >&2; exit 2; }
done
if [[ ! -x "$BIN" ]]; then
    echo "compare.sh: helios binary '$BIN' not found or not executable" >&2
    echo "  build it first: cargo build --release -p helios-atlasd" >&2
    exit 2
fi
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")

WORK=$(mktemp -d "$TMP_BASE/helios-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# ---------------------------------------------------------------- sizes ----
if ((QUICK)); then
    N1=20000        # section 1 requests per test
    N2=200000       # section 2 (pipelined) requests per test
    N3=10000        # section 3 (fsync always) requests
    NKEYS=100000    # sections 4 and 5: keys loaded
    N5=30000        # section 5 requests
    RB_TIMEOUT=30   # seconds one redis-benchmark run may take
    PIPE_TIMEOUT=60
else
    N1=200000
    N2=2000000
    N3=100000
    NKEYS=1000000
    N5=300000
    RB_TIMEOUT=300
    PIPE_TIMEOUT=300
fi
MAX_BGSAVES=20          # BGSAVEs per section-5 run at most
BGSAVE_REPLY_TIMEOUT=5  # seconds a BGSAVE / INFO reply may take before we call the server hung
SNAP_LIMIT_MS=50        # requirement: no command waits longer because of a snapshot
AUTO_SNAP_EVERY=$((N5 / 4))

# Run a private copy, so a rebuild of the binary during the run changes nothing.
HELIOS_EXE="$WORK/helios-atlasd"
cp "$BIN" "$HELIOS_EXE"

# Nothing from the caller's environment may change helios' settings.
while read -r v; do unset "$v"; done < <(compgen -e | grep '^HELIOS_' || true)

# ------------------------------------------------------- state, cleanup ----
declare -a PIDS=()   # every server and background job we started
FAILED=0

alive() { # PID: running and not a zombie
    local st
    [[ -r /proc/$1/stat ]] || return 1
    st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
    [[ -n "$st" && "$st" != Z && "$st" != X ]]
}

kill_pid() { # PID: TERM, then KILL after 5 s; reaps it
    local pid=$1 i
    alive "$pid" || { wait "$pid" 2>/dev/null || true; return 0; }
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do alive "$pid" || break; sleep 0.1; done
    alive "$pid" && kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill_pid "$pid"; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo "compare.sh: interrupted" >&2; exit 130' INT TERM HUP

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

free_port() {
    python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'
}

# Results: RES[row/side/field]; row order in ROWS; row label/unit/kind in ROW_*.
declare -A RES=() ROW_LABEL=() ROW_UNIT=() ROW_KIND=()
declare -a ROWS=() NOTES=() ERRORS=()

add_row() { # ID LABEL UNIT KIND(higher|lower: which value is better)
    ROWS+=("$1"); ROW_LABEL[$1]=$2; ROW_UNIT[$1]=$3; ROW_KIND[$1]=$4
}
note() { NOTES+=("$*"); log "note: $*"; }
error() { ERRORS+=("$*"); FAILED=1; log "ERROR: $*"; }

# ------------------------------------------------------------- servers ----
# start_server SIDE NAME ARGS...: starts redis-server (SIDE=redis) or
# helios-atlasd (SIDE=helios); sets ${SIDE}_PID, ${SIDE}_PORT, ${SIDE}_DIR, ${SIDE}_LOG.
start_server() {
    local side=$1 name=$2; shift 2
    local port dir logf pid i rc
    port=$(free_port)
    dir="$WORK/$name-$side"
    mkdir -p "$dir"
    logf="$dir/server.log"
    if [[ $side == redis ]]; then
        redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --daemonize no \
            --logfile "$logf" "$@" </dev/null >>"$logf" 2>&1 &
    else
        "$HELIOS_EXE" -listen="127.0.0.1:$port" -data-dir="$dir/data" "$@" </dev/null >>"$logf" 2>&1 &
    fi
    pid=$!
    PIDS+=("$pid")
    printf -v "${side}_PID" '%s' "$pid"
    printf -v "${side}_PORT" '%s' "$port"
    printf -v "${side}_DIR" '%s' "$dir"
    printf -v "${side}_LOG" '%s' "$logf"
    for ((i = 0; i < 100; i++)); do
        if ! alive "$pid"; then
            wait "$pid" 2>/dev/null && rc=0 || rc=$?
            error "$side ($name) exited during startup (exit $rc); log tail:
$(tail -n 15 "$logf" | sed 's/^/      /')"
            return 1
        fi
        [[ $(timeout 2 redis-cli -p "$port" ping 2>/dev/null) == PONG ]] && return 0
        sleep 0.1
    done
    error "$side ($name) did not answer PING within 10 s on port $port"
    return 1
}

stop_server() { # SIDE: clean SHUTDOWN, then TERM/KILL if it does not exit
    local side=$1 pidv="${1}_PID" portv="${1}_PORT" i
    local pid=${!pidv:-} port=${!portv:-}
    [[ -n "$pid" ]] || return 0
    if alive "$pid" && [[ $(timeout 3 redis-cli -p "$port" ping 2>/dev/null) == PONG ]]; then
        timeout 10 redis-cli -p "$port" shutdown >/dev/null 2>&1 || true
        for ((i = 0; i < 100; i++)); do alive "$pid" || break; sleep 0.1; done
        if alive "$pid"; then
            note "$side did not exit within 10 s of SHUTDOWN; killed"
        fi
    fi
    kill_pid "$pid"
    printf -v "${side}_PID" '%s' ""
}

stop_both() { stop_server redis; stop_server helios; }

# server_state SIDE: "ok", or a description of what is wrong with it.
server_state() {
    local side=$1 pidv="${1}_PID" portv="${1}_PORT" logv="${1}_LOG"
    local pid=${!pidv:-} port=${!portv:-} logf=${!logv:-} rc
    if [[ -z "$pid" ]]; then echo "not running"; return; fi
    if ! alive "$pid"; then
        wait "$pid" 2>/dev/null && rc=0 || rc=$?
        printf 'DIED (exit status %s); last log lines:\n%s' "$rc" "$(tail -n 15 "$logf" 2>/dev/null | sed 's/^/      /')"
        return
    fi
    if [[ $(timeout 3 redis-cli -p "$port" ping 2>/dev/null) != PONG ]]; then
        printf 'HUNG (process alive but PING got no reply within 3 s)'
        if [[ -z "${HANG_REPORTED[$pid]:-}" ]]; then
            HANG_REPORTED[$pid]=1
            printf '; last log lines:\n%s' "$(tail -n 5 "$logf" 2>/dev/null | sed 's/^/      /')"
            if command -v gdb >/dev/null; then
                printf '\n    where its threads are blocked (gdb):\n%s' "$(thread_summary "$pid" | sed 's/^/      /')"
            fi
        fi
        echo
        return
    fi
    echo ok
}

declare -A HANG_REPORTED=()

# thread_summary PID: for each thread, the innermost frames of our code and
# the mutex it waits for (needs gdb and the binary's debug info).
thread_summary() {
    timeout 60 gdb -p "$1" -batch -ex 'thread apply all bt 30' 2>/dev/null | awk '
        /^Thread / {
            if (line != "") print line
            name = $0
            sub(/^Thread [0-9]+ \(Thread 0x[0-9a-f]+ \(LWP [0-9]+\) /, "", name); sub(/\):$/, "", name)
            line = name; frames = 0; next
        }
        /^#/ && /Mutex::lock</ && line !~ /waits/ {
            m = $0; sub(/.*RawMutex, /, "", m); sub(/> \(\).*/, "", m)
            line = line " waits Mutex<" m ">"; next
        }
        /^#/ && frames < 3 {
            f = $0; sub(/^#[0-9]+ +(0x[0-9a-f]+ in )?/, "", f)
            if (f !~ /^helios::/) next
            sub(/ \(\) at /, " ", f)
            line = line (frames ? " <- " : " in ") f; frames++
        }
        END { if (line != "") print line }'
}

rcli() { local port=$1; shift; timeout 10 redis-cli -p "$port" "$@" 2>&1; }

info_field() { # PORT SECTION FIELD
    timeout "$BGSAVE_REPLY_TIMEOUT" redis-cli -p "$1" info "$2" 2>/dev/null | tr -d '\r' |
        awk -F: -v f="$3" '$1 == f { print $2; found = 1 } END { exit !found }'
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# sanity SIDE: checks a few replies are right before measuring.
sanity() {
    local side=$1 portv="${1}_PORT" port got want
    port=${!portv}
    got=$(
        rcli "$port" del bench:sanity:s bench:sanity:c bench:sanity:a bench:sanity:b >/dev/null
        rcli "$port" set bench:sanity:s abc
        rcli "$port" get bench:sanity:s
        rcli "$port" incr bench:sanity:c
        rcli "$port" incr bench:sanity:c
        rcli "$port" mset bench:sanity:a 1 bench:sanity:b 2
        rcli "$port" mget bench:sanity:a bench:sanity:b
        rcli "$port" del bench:sanity:s bench:sanity:c bench:sanity:a bench:sanity:b
    )
    want=$'OK\nabc\n1\n2\nOK\n1\n2\n4'
    if [[ "$got" != "$want" ]]; then
        error "$side: wrong replies in the sanity check; expected: $(echo "$want" | tr '\n' '|') got: $(echo "$got" | tr '\n' '|')"
        return 1
    fi
}

# ---------------------------------------------------- redis-benchmark run ----
# rb SIDE ROWPREFIX OUTFILE ARGS...: runs redis-benchmark --csv against SIDE and
# stores rps/p50/p99/max for every test line under ROWPREFIX<TEST>.
# Returns 1 (after recording an error) when the run failed.
rb() {
    local side=$1 prefix=$2 out=$3; shift 3
    local portv="${side}_PORT" port rc=0 state
    port=${!portv}
    timeout "$RB_TIMEOUT" redis-benchmark -p "$port" --csv "$@" >"$out" 2>"$out.err" || rc=$?
    if ((rc != 0)); then
        state=$(server_state "$side")
        if ((rc == 124)); then
            error "$side: redis-benchmark $* did not finish within ${RB_TIMEOUT}s; server: $state"
        else
            error "$side: redis-benchmark $* exited with status $rc; stderr: $(head -c 600 "$out.err" | tr '\n' ' '); server: $state"
        fi
        return 1
    fi
    state=$(server_state "$side")
    if [[ $state != ok ]]; then
        error "$side: after redis-benchmark $*: server $state"
        return 1
    fi
    parse_csv "$side" "$prefix" "$out"
}

parse_csv() { # SIDE ROWPREFIX FILE
    local side=$1 prefix=$2 file=$3 test rps avg min p50 p95 p99 max n=0 row
    while IFS=, read -r test rps avg min p50 p95 p99 max; do
        test=${test//\"/}
        [[ $test == test || -z $test ]] && continue
        test=${test%% *} # "MSET (10 keys)" -> MSET
        row="$prefix$test"
        RES[$row/$side/rps]=${rps//\"/}
        RES[$row/$side/p50]=${p50//\"/}
        RES[$row/$side/p99]=${p99//\"/}
        RES[$row/$side/max]=${max//\"/}
        n=$((n + 1))
    done < <(tr -d '\r' <"$file")
    if ((n == 0)); then
        error "$side: redis-benchmark printed no result lines ($(head -c 300 "$file.err" | tr '\n' ' '))"
        return 1
    fi
}

mark_failed() { # ROW SIDE WHAT
    RES[$1/$2/rps]=$3
}

# ----------------------------------------------------------- settings ----
# Section 1/2/4: AOF, fsync once a second, no snapshots / AOF rewrites.
REDIS_EVERYSEC=(--appendonly yes --appendfsync everysec --save "" --auto-aof-rewrite-percentage 0)
HELIOS_EVERYSEC=(-aof-fsync=every -snapshot-interval-cmds=0 -snapshot-interval-time=0)
# Section 3: fsync before replying to every write.
REDIS_ALWAYS=(--appendonly yes --appendfsync always --save "" --auto-aof-rewrite-percentage 0)
HELIOS_ALWAYS=(-aof-fsync=always -snapshot-interval-cmds=0 -snapshot-interval-time=0)

want() { [[ -z "$ONLY" || "$ONLY" == "$1" ]]; }

# check_counter SIDE KEY EXPECTED LABEL: detects lost or extra writes.
check_counter() {
    local side=$1 key=$2 expect=$3 label=$4 portv="${1}_PORT" got
    got=$(rcli "${!portv}" get "$key")
    if [[ "$got" != "$expect" ]]; then
        error "$side ($label): GET $key = '$got' after the run, expected $expect (INCR count)"
    fi
}

# ------------------------------------------------------------ sections ----
section_throughput() { # NUM NAME LABELSUFFIX REQUESTS TESTS EXTRA-ARGS... -- uses REDIS_ARGS/HELIOS_ARGS
    local num=$1 name=$2 suffix=$3 n=$4 tests=$5; shift 5
    local t side
    for t in ${tests//,/ }; do
        t=${t^^}
        add_row "$num$t" "$num $t $suffix" ops/s higher
    done
    for side in redis helios; do
        local -n args="${side^^}_ARGS"
        if ! start_server "$side" "$name" "${args[@]}"; then
            for t in ${tests//,/ }; do mark_failed "$num${t^^}" "$side" START; done
            continue
        fi
        if sanity "$side"; then
            log "section $num: $side: redis-benchmark -t $tests -n $n $*"
            if rb "$side" "$num" "$WORK/$name-$side.csv" -t "$tests" -n "$n" "$@"; then
                [[ ",$tests," == *,incr,* ]] && check_counter "$side" 'counter:__rand_int__' "$n" "section $num"
            fi
        fi
        for t in ${tests//,/ }; do
            [[ -n "${RES[$num${t^^}/$side/rps]:-}" ]] || mark_failed "$num${t^^}" "$side" "$(short_state "$side")"
        done
        stop_server "$side"
    done
}

short_state() { # SIDE -> DIED / HUNG / ERROR (cheap: no log, no gdb)
    local pidv="${1}_PID" portv="${1}_PORT"
    local pid=${!pidv:-} port=${!portv:-}
    if [[ -z "$pid" ]] || ! alive "$pid"; then echo DIED; return; fi
    if [[ $(timeout 3 redis-cli -p "$port" ping 2>/dev/null) != PONG ]]; then echo HUNG; return; fi
    echo ERROR
}

RESP_FILE="$WORK/load-$NKEYS.resp"
make_resp() {
    [[ -s "$RESP_FILE" ]] && return 0
    log "generating RESP for $NKEYS SETs (key:NNNNNNNNNNNN, 3-byte value)"
    awk -v n="$NKEYS" 'BEGIN {
        for (i = 0; i < n; i++)
            printf "*3\r\n$3\r\nSET\r\n$16\r\nkey:%012d\r\n$3\r\nval\r\n", i
    }' >"$RESP_FILE"
}

# load_keys SIDE: loads NKEYS keys with redis-cli --pipe; checks the reply count.
load_keys() {
    local side=$1 portv="${1}_PORT" port out rc=0 state
    port=${!portv}
    make_resp
    out=$(timeout "$PIPE_TIMEOUT" redis-cli -p "$port" --pipe <"$RESP_FILE" 2>&1) || rc=$?
    if ((rc != 0)) || ! grep -q "errors: 0, replies: $NKEYS" <<<"$out"; then
        state=$(server_state "$side")
        error "$side: redis-cli --pipe of $NKEYS SETs failed (exit $rc): $(tr '\n' ' ' <<<"$out" | head -c 400); server: $state"
        return 1
    fi
    local dbsize
    dbsize=$(rcli "$port" dbsize)
    if [[ "$dbsize" != "$NKEYS" ]]; then
        error "$side: DBSIZE is '$dbsize' after loading $NKEYS keys"
        return 1
    fi
}

section_memory() {
    add_row 4MEM "4 used_memory growth per key" B/key lower
    add_row 4RSS "4 RSS growth per key" B/key lower
    local side port pid before after rss0 rss1
    for side in redis helios; do
        local -n args="${side^^}_ARGS"
        if ! start_server "$side" mem "${args[@]}"; then
            mark_failed 4MEM "$side" START; mark_failed 4RSS "$side" START; continue
        fi
        local portv="${side}_PORT" pidv="${side}_PID"
        port=${!portv}; pid=${!pidv}
        sleep 0.5
        before=$(info_field "$port" memory used_memory || echo "")
        rss0=$(rss_kb "$pid")
        log "section 4: $side: loading $NKEYS keys with redis-cli --pipe"
        if load_keys "$side"; then
            sleep 1.5 # let the AOF flush and allocator settle
            after=$(info_field "$port" memory used_memory || echo "")
            rss1=$(rss_kb "$pid")
            if [[ -z "$before" || -z "$after" ]]; then
                error "$side: INFO memory has no used_memory field"
                mark_failed 4MEM "$side" ERROR
            else
                RES[4MEM/$side/rps]=$(awk -v a="$after" -v b="$before" -v n="$NKEYS" 'BEGIN { printf "%.1f", (a - b) / n }')
                note "$side used_memory: $before -> $after bytes for $NKEYS keys"
            fi
            RES[4RSS/$side/rps]=$(awk -v a="$rss1" -v b="$rss0" -v n="$NKEYS" 'BEGIN { printf "%.1f", (a - b) * 1024 / n }')
            note "$side VmRSS: $rss0 kB -> $rss1 kB"
        else
            mark_failed 4MEM "$side" "$(short_state "$side")"; mark_failed 4RSS "$side" "$(short_state "$side")"
        fi
        stop_server "$side"
    done
}

wait_no_snapshot() { # PORT: waits until no snapshot runs; 1 if the server stops answering
    local port=$1 v i
    for ((i = 0; i < 1200; i++)); do
        v=$(info_field "$port" persistence rdb_bgsave_in_progress) || return 1
        [[ "$v" == 0 ]] && return 0
        sleep 0.05
    done
    return 1
}

# snap_run SIDE ROW MODE: SET load (-c 10, random keys) on a server holding
# NKEYS keys; MODE none (baseline), bgsave (BGSAVE in a loop) or auto
# (snapshots triggered by the server's own write-count setting).
snap_run() {
    local side=$1 row=$2 mode=$3 portv="${1}_PORT" port
    port=${!portv}
    local out="$WORK/snap-$row-$side.csv" bpid rc=0 count=0 hung="" reply t0 t1 durs="" saves0 saves1 state
    if ! wait_no_snapshot "$port"; then
        error "$side ($row): snapshot still running / no INFO reply before the run"
        mark_failed "$row" "$side" "$(short_state "$side")"; return 1
    fi
    saves0=$(info_field "$port" persistence rdb_saves || echo "")
    log "section 5: $side: SET -c 10 -n $N5 -r $NKEYS, snapshots: $mode"
    timeout "$RB_TIMEOUT" redis-benchmark -p "$port" --csv -t set -c 10 -n "$N5" -r "$NKEYS" >"$out" 2>"$out.err" &
    bpid=$!
    PIDS+=("$bpid")
    if [[ $mode == bgsave ]]; then
        sleep 0.2 # let the load get going first
        while alive "$bpid" && ((count < MAX_BGSAVES)); do
            t0=$(date +%s.%N)
            if ! reply=$(timeout "$BGSAVE_REPLY_TIMEOUT" redis-cli -p "$port" bgsave 2>&1); then
                hung="BGSAVE #$((count + 1)) got no reply within ${BGSAVE_REPLY_TIMEOUT}s; server: $(server_state "$side")"
                break
            fi
            if [[ "$reply" != *"started"* ]]; then
                error "$side: BGSAVE replied '$reply'"
                break
            fi
            if ! wait_no_snapshot "$port"; then
                hung="after BGSAVE #$((count + 1)) (sent $(date -d "@${t0%.*}" +%T)): INFO persistence got no reply within ${BGSAVE_REPLY_TIMEOUT}s or rdb_bgsave_in_progress stayed 1 for 60 s; server: $(server_state "$side")"
                break
            fi
            t1=$(date +%s.%N)
            count=$((count + 1))
            durs+="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')s "
            local st
            st=$(info_field "$port" persistence rdb_last_bgsave_status || echo "?")
            [[ "$st" == ok ]] || error "$side: rdb_last_bgsave_status:$st after BGSAVE #$count"
            sleep 0.2
        done
        if [[ -n "$hung" ]]; then
            kill_pid "$bpid"
            error "$side: $hung"
            mark_failed "$row" "$side" HUNG
            return 1
        fi
    fi
    wait "$bpid" && rc=0 || rc=$?
    if ((rc != 0)); then
        state=$(server_state "$side")
        error "$side ($row): redis-benchmark exited with status $rc$( ((rc == 124)) && echo " (timeout ${RB_TIMEOUT}s)"); stderr: $(head -c 400 "$out.err" | tr '\n' ' '); server: $state"
        mark_failed "$row" "$side" "$(short_state "$side")"
        return 1
    fi
    parse_csv "$side" "$row" "$out" || return 1
    # parse_csv stored under ROW+TEST (SET); move to ROW.
    local f
    for f in rps p50 p99 max; do RES[$row/$side/$f]=${RES[${row}SET/$side/$f]}; done
    case $mode in
        bgsave) note "$side ($row): $count BGSAVEs completed during the run, each (BGSAVE to rdb_bgsave_in_progress:0): $durs" ;;
        auto)
            saves1=$(info_field "$port" persistence rdb_saves || echo "")
            note "$side ($row): snapshots completed during the run: $((${saves1:-0} - ${saves0:-0}))" ;;
    esac
    RES[$row/$side/snaps]=$count
}

section_snapshot() {
    add_row 5A "5a SET c10 r$NKEYS, no snapshot" ops/s higher
    add_row 5B "5b SET c10 r$NKEYS + BGSAVE loop" ops/s higher
    add_row 5C "5c SET c10 r$NKEYS + auto snapshots" ops/s higher
    local side
    # 5a + 5b on one instance per server: only BGSAVE triggers snapshots.
    for side in redis helios; do
        local -n args="${side^^}_ARGS"
        if ! start_server "$side" snap "${args[@]}"; then
            mark_failed 5A "$side" START; mark_failed 5B "$side" START; continue
        fi
        log "section 5: $side: loading $NKEYS keys"
        if load_keys "$side"; then
            snap_run "$side" 5A none || true
            if [[ $(server_state "$side") == ok ]]; then
                snap_run "$side" 5B bgsave || true
            else
                mark_failed 5B "$side" "$(short_state "$side")"
            fi
        else
            mark_failed 5A "$side" "$(short_state "$side")"; mark_failed 5B "$side" "$(short_state "$side")"
        fi
        stop_server "$side"
    done
    # 5c: fresh instances whose own settings trigger a snapshot every
    # AUTO_SNAP_EVERY writes (helios -snapshot-interval-cmds, redis save "1 N").
    local -a REDIS_AUTO=(--appendonly yes --appendfsync everysec --save "1 $AUTO_SNAP_EVERY" --auto-aof-rewrite-percentage 0)
    local -a HELIOS_AUTO=(-aof-fsync=every -snapshot-interval-cmds="$AUTO_SNAP_EVERY" -snapshot-interval-time=0)
    for side in redis helios; do
        local -n aargs="${side^^}_AUTO"
        if ! start_server "$side" snapauto "${aargs[@]}"; then
            mark_failed 5C "$side" START; continue
        fi
        log "section 5: $side: loading $NKEYS keys (auto snapshots on)"
        if load_keys "$side"; then
            snap_run "$side" 5C auto || true
        else
            mark_failed 5C "$side" "$(short_state "$side")"
        fi
        stop_server "$side"
    done
}

# --------------------------------------------------------- environment ----
START_TS=$(date +%s)
{
    echo "== Helios vs Redis benchmark ($( ((QUICK)) && echo quick || echo full) run) =="
    echo "date:            $(date -Is)"
    echo "host:            $(uname -srm), nproc=$(nproc), $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
    echo "load average:    $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews results)"
    echo "memory:          $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
    echo "redis-server:    $(redis-server --version)"
    echo "redis-benchmark: $(redis-benchmark --version)"
    echo "helios binary:   $BIN ($(date -r "$BIN" '+%Y-%m-%d %H:%M:%S'), $("$BIN" -version 2>&1 | head -n 1))"
    if git -C "$REPO" rev-parse --short HEAD >/dev/null 2>&1; then
        echo "repo HEAD now:   $(git -C "$REPO" rev-parse --short HEAD)$(git -C "$REPO" diff --quiet HEAD -- helios helios-atlasd 2>/dev/null || echo ' + uncommitted changes')"
    fi
    newer=$(find "$REPO/helios" "$REPO/helios-atlasd" -name '*.rs' -newer "$BIN" 2>/dev/null | head -n 1 || true)
    [[ -n "$newer" ]] && echo "WARNING:         sources changed after the binary was built (e.g. ${newer#"$REPO"/})"
    echo "data dirs:       $WORK ($(df -PT "$WORK" | awk 'NR == 2 { print $2 }'))"
    echo "sizes:           s1 n=$N1, s2 n=$N2 -P 16, s3 n=$N3, keys=$NKEYS, s5 n=$N5"
    echo
} | tee "$WORK/env.txt"

# ----------------------------------------------------------------- run ----
if want 1; then
    REDIS_ARGS=("${REDIS_EVERYSEC[@]}"); HELIOS_ARGS=("${HELIOS_EVERYSEC[@]}")
    section_throughput 1 s1 "c50" "$N1" set,get,incr,mset,hset,sadd,spop,zadd,zpopmin,lpush,rpush,lpop,rpop,lrange_100 -c 50
fi
if want 2; then
    REDIS_ARGS=("${REDIS_EVERYSEC[@]}"); HELIOS_ARGS=("${HELIOS_EVERYSEC[@]}")
    section_throughput 2 s2 "c50 P16" "$N2" set,get,incr,mset,hset,sadd,spop,zadd,zpopmin,lpush,rpush,lpop,rpop,lrange_100 -c 50 -P 16
fi
if want 3; then
    REDIS_ARGS=("${REDIS_ALWAYS[@]}"); HELIOS_ARGS=("${HELIOS_ALWAYS[@]}")
    section_throughput 3 s3 "c50 fsync=always" "$N3" set -c 50
fi
if want 4; then
    REDIS_ARGS=("${REDIS_EVERYSEC[@]}"); HELIOS_ARGS=("${HELIOS_EVERYSEC[@]}")
    section_memory
fi
if want 5; then
    REDIS_ARGS=("${REDIS_EVERYSEC[@]}"); HELIOS_ARGS=("${HELIOS_EVERYSEC[@]}")
    section_snapshot
fi

# --------------------------------------------------------------- table ----
num_or_dash() { [[ -n "${1:-}" ]] && echo "$1" || echo -; }
fmt_val() { # value, unit -> formatted
    local v=${1:-}
    if [[ -z "$v" ]]; then echo -; return; fi
    if [[ "$v" =~ ^[0-9.]+$ ]]; then
        if [[ $2 == ops/s ]]; then printf '%.0f' "$v"; else printf '%.1f' "$v"; fi
    else
        echo "$v"
    fi
}

echo
echo "== Results (ratio: helios/redis for ops/s, redis/helios for B/key; >= 1.00 means helios is as good or better; latencies in ms) =="
hdr_fmt='%-40s %-6s %10s %10s %6s | %7s %7s %8s | %7s %7s %8s\n'
printf "$hdr_fmt" load unit redis helios ratio "r p50" "r p99" "r max" "h p50" "h p99" "h max"
printf '%s\n' "$(printf '%.0s-' {1..130})"
for row in "${ROWS[@]}"; do
    unit=${ROW_UNIT[$row]}
    r=${RES[$row/redis/rps]:-}
    h=${RES[$row/helios/rps]:-}
    ratio=-
    if [[ "$r" =~ ^[0-9.]+$ && "$h" =~ ^[0-9.]+$ ]]; then
        if [[ ${ROW_KIND[$row]} == higher ]]; then
            ratio=$(awk -v a="$h" -v b="$r" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
        else
            ratio=$(awk -v a="$r" -v b="$h" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
        fi
    fi
    printf "$hdr_fmt" "${ROW_LABEL[$row]}" "$unit" "$(fmt_val "$r" "$unit")" "$(fmt_val "$h" "$unit")" "$ratio" \
        "$(num_or_dash "${RES[$row/redis/p50]:-}")" "$(num_or_dash "${RES[$row/redis/p99]:-}")" "$(num_or_dash "${RES[$row/redis/max]:-}")" \
        "$(num_or_dash "${RES[$row/helios/p50]:-}")" "$(num_or_dash "${RES[$row/helios/p99]:-}")" "$(num_or_dash "${RES[$row/helios/max]:-}")"
done

if want 5; then
    echo
    echo "Snapshot pause requirement: no command waits more than ${SNAP_LIMIT_MS} ms because of a snapshot of $NKEYS keys"
    for row in 5B 5C; do
        for side in redis helios; do
            m=${RES[$row/$side/max]:-}
            if [[ -z "$m" ]]; then
                verdict="FAIL (no result: ${RES[$row/$side/rps]:-not run})"
            elif awk -v m="$m" -v l="$SNAP_LIMIT_MS" 'BEGIN { exit !(m <= l) }'; then
                verdict="PASS (max ${m} ms)"
            else
                verdict="FAIL (max ${m} ms; baseline without snapshots: ${RES[5A/$side/max]:-?} ms)"
            fi
            printf '  %-3s %-7s %s\n' "$row" "$side" "$verdict"
        done
    done
fi

if ((${#NOTES[@]})); then
    echo
    echo "Notes:"
    printf '  - %s\n' "${NOTES[@]}"
fi
if ((${#ERRORS[@]})); then
    echo
    echo "ERRORS:"
    printf '  - %s\n' "${ERRORS[@]}"
fi
echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "total time: $(($(date +%s) - START_TS)) s"
exit "$FAILED"
