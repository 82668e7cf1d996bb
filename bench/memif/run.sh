#!/usr/bin/env bash
# bench/memif/run.sh: ferry-relay's DPDK data plane with no kernel in the path.
#
#   fy-memif-load (lcore G)                        ferry-relay --backend dpdk (lcore R)
#   relay/net: agent (TLS, mux) + K clients ══memif══ relay/net + engine (TLS, mux, pumps)
#   10.77.0.2, net_memif role=server                 10.77.0.1, net_memif role=client,
#   (one process for all runs: --serve)               zero-copy=yes
#
# Both ends run the relay's own TCP stack on DPDK, in two processes with
# their own --file-prefix, joined by a memif (shared memory rings, a UNIX
# socket in a temp dir). For each run and workload it reads the relay's
# /ferry/counters over DPDK telemetry before and after, runs the generator,
# and prints Gbit/s, relay busy cycles per payload byte and per packet, and
# the relay lcore's utilisation. See bench/README.md.
#
#   bench/memif/run.sh [--bytes 1G] [--conns 4] [--runs 3] [--workloads up,down]
#                      [--relay-core 1] [--gen-core 0] [--timeout 60] [--build DIR]
#                      [--perf DIR] [--count N] [--req B] [--churn-conns K]
#                      [--syncookies auto|always] [--mtu N] [--memif zero-copy|copy]
#
# Workloads: up, down (bulk, --bytes over --conns connections); churn
# (--count connections, --churn-conns at a time: request of --req bytes,
# echo, close); rr (one connection, --count round trips of --req bytes);
# churn-loop, rr-loop: the same with the generator looped to itself (no
# relay), the baseline for latency. --syncookies always: the relay answers
# every SYN with a cookie (--dpdk-syncookies). --mtu N: the IP MTU of both
# ends (the relay's --dpdk-mtu; default 1500, up to 9000: jumbo frames).
#
# --memif zero-copy (the default): the relay is memif's client with
# zero-copy=yes, so frames go between the memif rings and its own mbufs with
# no copy on its side, as a NIC's DMA fills and drains them; the generator
# is the server and copies. A memif client connects once, at port start, so
# the generator starts first and serves every run (fy-memif-load --serve).
# --memif copy: the relay is the server and copies every frame in and out
# (how bench/README.md's tables before 2026-12-03 14:00 were measured).
#
# --perf DIR: perf record (cpu-clock samples) of the relay's lcore thread
# over all runs; DIR gets relay.perf.data and relay.report.txt (self time
# per function).
#
# Needs a build with DPDK (bash scripts/build.sh), 2 CPUs, python3. No
# hugepages (--no-huge: memif in copy mode uses its own memfd regions, a
# zero-copy client shares its EAL memory through --single-file-segments)
# and no root: DPDK's runtime dir is then $XDG_RUNTIME_DIR/dpdk or /tmp/dpdk.
# Exit: 0 all runs passed, 1 a run failed, 2 bad usage, 77 skipped (reason
# printed). Every process started here is stopped by its saved PID.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=$ROOT/build
BYTES=1G
CONNS=4
RUNS=3
WORKLOADS=up,down
RCORE=1
GCORE=0
TIMEOUT=60
PERFDIR=
COUNT=20000
REQ=64
CHURN_CONNS=16
SYNCOOKIES=auto
MTU=1500
MEMIF_MODE=zero-copy
RIP=10.77.0.1
GIP=10.77.0.2
APORT=7000
PPORT=9000

usage() {
	sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | grep '^#' | sed 's/^# \{0,1\}//'
	exit "${1:-2}"
}

while [ $# -gt 0 ]; do
	case $1 in
	--bytes) BYTES=$2 ;;
	--conns) CONNS=$2 ;;
	--runs) RUNS=$2 ;;
	--workloads) WORKLOADS=$2 ;;
	--relay-core) RCORE=$2 ;;
	--gen-core) GCORE=$2 ;;
	--timeout) TIMEOUT=$2 ;;
	--build) BUILD=$2 ;;
	--perf) PERFDIR=$2 ;;
	--count) COUNT=$2 ;;
	--req) REQ=$2 ;;
	--churn-conns) CHURN_CONNS=$2 ;;
	--syncookies) SYNCOOKIES=$2 ;;
	--mtu) MTU=$2 ;;
	--memif) MEMIF_MODE=$2 ;;
	-h | --help) usage 0 ;;
	*) echo "run.sh: unknown option $1" >&2; usage 2 ;;
	esac
	shift 2 || { echo "run.sh: $1 needs a value" >&2; exit 2; }
done
[[ $RUNS =~ ^[1-9][0-9]*$ && $TIMEOUT =~ ^[1-9][0-9]*$ && $RCORE =~ ^[0-9]+$ &&
	$GCORE =~ ^[0-9]+$ && $RCORE != "$GCORE" && $COUNT =~ ^[1-9][0-9]*$ &&
	$REQ =~ ^[1-9][0-9]*$ && $CHURN_CONNS =~ ^[1-9][0-9]*$ &&
	$SYNCOOKIES =~ ^(auto|always)$ && $MTU =~ ^[0-9]+$ && $MEMIF_MODE =~ ^(zero-copy|copy)$ ]] &&
	((MTU >= 576 && MTU <= 9000)) ||
	{ echo "run.sh: --runs/--timeout/--count/--req/--churn-conns must be positive, the cores distinct numbers, --syncookies auto or always, --mtu 576..9000, --memif zero-copy or copy" >&2; exit 2; }

RELAY=$BUILD/relay/ferry-relay
GEN=$BUILD/bench/memif/fy-memif-load

skip() {
	echo "run.sh: skipped: $*"
	exit 77
}

[ -x "$RELAY" ] || skip "no $RELAY (run: bash scripts/build.sh)"
[ -x "$GEN" ] || skip "no $GEN (needs libdpdk-dev at configure time: bash scripts/deps.sh dpdk, then bash scripts/build.sh)"
"$RELAY" --backend dpdk --cert x --key x --tokens x --dpdk-ip 1.2.3.4/24 --dpdk-eal --version 2>&1 |
	grep -q "no DPDK backend" && skip "ferry-relay was built without the DPDK backend"
command -v python3 >/dev/null || skip "python3 is needed to read DPDK telemetry"
NCPU=$(nproc)
if [ "$RCORE" -ge "$NCPU" ] || [ "$GCORE" -ge "$NCPU" ]; then
	skip "needs CPUs $RCORE (relay) and $GCORE (generator); this machine has $NCPU"
fi

# DPDK's runtime dir, where the relay's telemetry socket appears.
if [ "$(id -u)" -eq 0 ]; then
	RUNDIR=/var/run/dpdk
else
	RUNDIR=${XDG_RUNTIME_DIR:-/tmp}/dpdk
fi
RPREFIX=fyml$$-r
GPREFIX=fyml$$-g
LPREFIX=fyml$$-l	# --loop runs: beside a serving generator, which holds GPREFIX
TEL=$RUNDIR/$RPREFIX/dpdk_telemetry.v2

T=$(mktemp -d "${TMPDIR:-/tmp}/fyml.XXXXXX")
RPID=
GPID=
SPID=	# the --serve generator (--memif zero-copy)
SERVE_N=0
PPID_PERF=

# stop_serving TENTHS: closes the serving generator's input (EOF ends it),
# gives it TENTHS tenths of a second to exit, then kills it; its exit status
# in SERVE_RC (it covers what the generator says only at exit: a
# sanitizer's leak report).
SERVE_RC=0
stop_serving() {
	local k
	exec 3>&-
	for ((k = 0; k < $1; k++)); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$SPID" 2>/dev/null || true
	SERVE_RC=0
	wait "$SPID" 2>/dev/null || SERVE_RC=$?
	SPID=
}

# shellcheck disable=SC2317 # runs from the EXIT trap
cleanup() {
	local rc=$? k
	set +e
	trap - EXIT INT TERM
	[ -n "$GPID" ] && kill -KILL "$GPID" 2>/dev/null && wait "$GPID" 2>/dev/null
	[ -n "$SPID" ] && stop_serving 30
	[ -n "$PPID_PERF" ] && kill -INT "$PPID_PERF" 2>/dev/null && wait "$PPID_PERF" 2>/dev/null
	if [ -n "$RPID" ]; then
		kill -TERM "$RPID" 2>/dev/null
		for ((k = 0; k < 50; k++)); do kill -0 "$RPID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$RPID" 2>/dev/null
		wait "$RPID" 2>/dev/null
		# Every non-zero counter of the relay's stack, for the post-mortem.
		grep -o 'worker [0-9]* counters:.*' "$T/relay.log" 2>/dev/null | sed 's/^/relay /'
	fi
	[ "$rc" -eq 0 ] || { echo "--- relay log (last 15 lines):"; tail -n 15 "$T/relay.log" 2>/dev/null; }
	rm -rf "$T" "${RUNDIR:?}/$RPREFIX" "${RUNDIR:?}/$GPREFIX" "${RUNDIR:?}/$LPREFIX"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM PIPE	# PIPE: a write to a serving generator that died

"$RELAY" cert init --dir "$T/pki" --name "$RIP" >"$T/cert.out" 2>&1 ||
	{ echo "run.sh: cert init failed: $(cat "$T/cert.out")" >&2; exit 1; }
TOKEN=$("$RELAY" token add --tokens "$T/tokens" --agent memif --ports "$PPORT" 2>/dev/null)
[ -n "$TOKEN" ] || { echo "run.sh: token add failed" >&2; exit 1; }

# The memif socket is a file in $T (not the abstract default), so parallel
# runs never meet and cleanup removes it.
MEMIF="socket=$T/memif.sock,socket-abstract=no"
# Jumbo frames: a whole frame per memif buffer. With memif's 2 KiB default a
# 9000-byte frame goes as a chain of buffers, and with DPDK 22.11 the tunnel
# went silent at its first full-size segment (chained frames did not arrive
# whole; not traced further).
MEMIF_BSIZE=16384
((MTU > 1500)) && MEMIF+=",bsize=$MEMIF_BSIZE"
EAL_COMMON=(--no-huge -m 512 --no-pci --log-level=lib.eal:error)
# What the generator is told once (with --serve) or on every run; --loop
# runs need the addresses only.
GEN_ADDRS=(--relay-ip "$RIP" --ip "$GIP/24" --agent-port "$APORT" --public-port "$PPORT")
GEN_FIXED=("${GEN_ADDRS[@]}" --token "$TOKEN" --ca "$T/pki/ca.crt" --mtu "$MTU")

if [ "$MEMIF_MODE" = zero-copy ]; then
	# The generator first: it is memif's server, and the relay's client
	# connects only at its port start. Zero-copy clients export their
	# mbuf memory to the server, one file per memory list.
	mkfifo "$T/gen.ctl"
	# Its limit: every run of every workload at its own limit, and then some.
	NWL=$(tr ',' '\n' <<<"$WORKLOADS" | grep -c .)
	timeout $((RUNS * NWL * (TIMEOUT + 30) + 60)) "$GEN" -l "$GCORE" "${EAL_COMMON[@]}" \
		--file-prefix "$GPREFIX" "--vdev=net_memif0,role=server,$MEMIF" -- \
		"${GEN_FIXED[@]}" --serve <"$T/gen.ctl" >"$T/serve.out" 2>"$T/serve.err" &
	SPID=$!
	# fd 3 stays open for all runs (the generator's EOF is its end): the
	# relay and perf, which outlive runs, are started with it closed.
	exec 3>"$T/gen.ctl"
	for ((i = 0; i < 300; i++)); do
		[ -S "$T/memif.sock" ] && break
		kill -0 "$SPID" 2>/dev/null || break
		sleep 0.1
	done
	[ -S "$T/memif.sock" ] ||
		{ echo "run.sh: the generator did not open memif's socket: $(tail -n 2 "$T/serve.err")" >&2; exit 1; }
	RELAY_VDEV="--single-file-segments --vdev=net_memif0,role=client,zero-copy=yes,$MEMIF"
else
	RELAY_VDEV="--vdev=net_memif0,role=server,$MEMIF"
fi

"$RELAY" --backend dpdk --workers 1 --listen "0.0.0.0:$APORT" --dpdk-ip "$RIP/24" \
	--dpdk-eal "-l $RCORE ${EAL_COMMON[*]} --file-prefix $RPREFIX $RELAY_VDEV" \
	--dpdk-syncookies "$SYNCOOKIES" --dpdk-mtu "$MTU" \
	--cert "$T/pki/relay.crt" --key "$T/pki/relay.key" --tokens "$T/tokens" --log-level info \
	>"$T/relay.log" 2>&1 3>&- &
RPID=$!
# Start-up waits are generous (a loaded machine); each ends when its event comes.
for ((i = 0; i < 300; i++)); do
	grep -q "ferry-relay (dpdk) on port" "$T/relay.log" && break
	kill -0 "$RPID" 2>/dev/null || { echo "run.sh: the relay exited at start" >&2; exit 1; }
	sleep 0.1
done
grep -q "ferry-relay (dpdk) on port" "$T/relay.log" || { echo "run.sh: relay not up after 30 s" >&2; exit 1; }

# counters FILE: the relay's /ferry/counters as JSON into FILE ("{}" when
# the relay has no such command), plus oncpu_ns: the CPU time of its lcore
# threads (the main thread runs lcore 0's loop; DPDK names the others
# lcore-worker-N), from /proc/PID/task/TID/schedstat. The lcore publishes
# every 100 ms: wait a little more so the numbers include everything
# before this moment.
counters() {
	sleep 0.25
	python3 - "$TEL" "$1" "$RPID" <<'PY'
import json, os, socket, sys
tel, out, pid = sys.argv[1], sys.argv[2], sys.argv[3]
d = {}
oncpu = 0
for tid in os.listdir("/proc/%s/task" % pid):
    try:
        comm = open("/proc/%s/task/%s/comm" % (pid, tid)).read().strip()
        if tid == pid or comm.startswith(("lcore-worker", "rte-worker")):
            oncpu += int(open("/proc/%s/task/%s/schedstat" % (pid, tid)).read().split()[0])
    except OSError:
        pass
try:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(2)
    s.connect(tel)
    s.recv(4096)  # the greeting: version, pid, max_output_len
    s.send(b"/ferry/counters")
    d = json.loads(s.recv(1 << 20)).get("/ferry/counters") or {}
except (OSError, ValueError) as e:
    print("run.sh: telemetry %s: %s" % (tel, e), file=sys.stderr)
d = d if isinstance(d, dict) else {}
if d:
    d["oncpu_ns"] = oncpu
json.dump(d, open(out, "w"))
PY
}

# row WORKLOAD RUN GENLINE BEFORE AFTER: one table row from the generator's
# line and the counter difference; the numbers also go to $T/rows.jsonl.
# shellcheck disable=SC2317 # called as measure's "$1"
row() {
	python3 - "$@" "$T/rows.jsonl" <<'PY'
import json, sys
wl, run, line, before, after, rows = sys.argv[1:7]
g = dict(kv.split("=", 1) for kv in line.split())
a, b = json.load(open(after)), json.load(open(before))
nbytes, secs = int(g["bytes"]), float(g["secs"])
r = {"workload": wl, "gbit": float(g["gbit"]), "secs": secs,
     "gen_busy": float(g.get("gen_busy", "nan")),
     "gen_loss": "%s/%s" % (g.get("gen_retransmits", "?"), g.get("gen_tx_dropped", "?"))}
if "busy_cycles" in a and "busy_cycles" in b:
    d = {k: a[k] - b.get(k, 0) for k in a if isinstance(a[k], int)}
    pkts = d["rx_frames"] + d["tx_frames"]
    busy = d["busy_cycles"]
    r.update(cyc_byte=busy / nbytes, cyc_pkt=busy / max(pkts, 1),
             busy=busy / (a["tsc_hz"] * secs), pkts=pkts,
             retrans=d.get("tcp_retransmits", 0))
    # On-CPU cycles of the relay's lcore: its CPU time (schedstat) less
    # what its idle sleeps cost (sleep_cpu_ns), at the TSC rate, times the
    # share of its loop turns that moved packets (the rest is polling an
    # idle port before and after the run). A preempted lcore's wall-clock
    # TSC grows, its CPU time does not: this is the figure that holds on a
    # loaded machine.
    if "oncpu_ns" in d and "idle_cycles" in d:
        share = busy / max(busy + d["idle_cycles"], 1)
        cpu = (d["oncpu_ns"] - d.get("sleep_cpu_ns", 0)) * a["tsc_hz"] / 1e9 * share
        r.update(cpu_byte=cpu / nbytes, cpu_pkt=cpu / max(pkts, 1), busy_share=share)
if "gen_cpu" in g:
    r["gen_cpu_byte"] = float(g["gen_cpu"]) * a.get("tsc_hz", 0) / nbytes
open(rows, "a").write(json.dumps(r) + "\n")
cols = [wl, run, "%.2f" % r["gbit"], "%.3f" % secs]
if "cpu_byte" in r:
    cols += ["%.2f" % r["cpu_byte"], "%.0f" % r["cpu_pkt"]]
else:
    cols += ["-", "-"]
if "busy" in r:
    cols += ["%.2f" % r["cyc_byte"], "%.0f" % r["cyc_pkt"], "%.0f%%" % (100 * r["busy"])]
else:
    cols += ["-", "-", "-"]
cols += ["%.2f" % r["gen_cpu_byte"] if r.get("gen_cpu_byte") else "-",
         "%.0f%%" % (100 * r["gen_busy"])]
if "busy" in r:
    cols += [str(r["pkts"]), str(r["retrans"]), r["gen_loss"]]
else:
    cols += ["-", "-", r["gen_loss"]]
print("| " + " | ".join(cols) + " |")
PY
}

# summary: the median of each column per workload (runs vary on a shared VM).
summary() {
	[ -s "$T/rows.jsonl" ] || return 0
	python3 - "$T/rows.jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
for wl in dict.fromkeys(r["workload"] for r in rows):
    rs = [r for r in rows if r["workload"] == wl]
    med = lambda k: statistics.median(r[k] for r in rs)
    have = lambda k: all(k in r for r in rs)
    cols = [wl, "median of %d" % len(rs), "%.2f" % med("gbit"), "%.3f" % med("secs")]
    cols += ["%.2f" % med("cpu_byte"), "%.0f" % med("cpu_pkt")] if have("cpu_byte") else ["-", "-"]
    if have("busy"):
        cols += ["%.2f" % med("cyc_byte"), "%.0f" % med("cyc_pkt"), "%.0f%%" % (100 * med("busy"))]
    else:
        cols += ["-", "-", "-"]
    cols += ["%.2f" % med("gen_cpu_byte") if have("gen_cpu_byte") else "-",
             "%.0f%%" % (100 * med("gen_busy"))]
    if have("busy"):
        cols += ["%.0f" % med("pkts"), "%.0f" % med("retrans"), "-"]
    else:
        cols += ["-", "-", "-"]
    print("| **" + "** | **".join(cols) + "** |")
PY
}

# echo_row WORKLOAD RUN GENLINE BEFORE AFTER: a row of the echo workloads.
# Per operation (a connection for churn, a round trip for rr): the relay's
# CPU cycles (as cpu_byte above), and what one relay lcore would do per
# second at 100 % (TSC rate / cycles per operation): the figure that holds
# when the wall clock of a shared machine does not.
# shellcheck disable=SC2317 # called as measure's "$1"
echo_row() {
	python3 - "$@" "$T/echo.jsonl" <<'PY'
import json, sys
wl, run, line, before, after, rows = sys.argv[1:7]
g = dict(kv.split("=", 1) for kv in line.split())
a, b = json.load(open(after)), json.load(open(before))
ops = int(g["done"]) if wl.startswith("churn") else int(g["samples"])
r = {"workload": wl, "rate": float(g["rate"]), "secs": float(g["secs"]),
     "p50": float(g["p50_us"]), "p90": float(g["p90_us"]), "p99": float(g["p99_us"]),
     "ops": ops, "gen_busy": float(g["gen_busy"]),
     "gen_loss": "%s/%s" % (g["gen_retransmits"], g["gen_tx_dropped"])}
if not wl.endswith("-loop") and "busy_cycles" in a and "busy_cycles" in b:
    d = {k: a[k] - b.get(k, 0) for k in a if isinstance(a[k], int)}
    busy = d["busy_cycles"]
    share = busy / max(busy + d.get("idle_cycles", 0), 1)
    cpu = (d.get("oncpu_ns", 0) - d.get("sleep_cpu_ns", 0)) * a["tsc_hz"] / 1e9 * share
    r.update(cpu_op=cpu / ops, proj=a["tsc_hz"] / max(cpu / ops, 1),
             busy=busy / (a["tsc_hz"] * r["secs"]),
             pkt_op=(d["rx_frames"] + d["tx_frames"]) / ops,
             cookies=d.get("tcp_syncookie_ok", 0), retrans=d.get("tcp_retransmits", 0))
open(rows, "a").write(json.dumps(r) + "\n")
cols = [wl, run, "%.0f" % r["rate"], "%.1f" % r["p50"], "%.1f" % r["p90"], "%.1f" % r["p99"]]
if "cpu_op" in r:
    cols += ["%.0f" % r["cpu_op"], "%.0f" % r["proj"], "%.0f%%" % (100 * r["busy"]),
             "%.1f" % r["pkt_op"], str(r["cookies"]), str(r["retrans"])]
else:
    cols += ["-"] * 6
cols += ["%.0f%%" % (100 * r["gen_busy"]), r["gen_loss"]]
print("| " + " | ".join(cols) + " |")
PY
}

echo_summary() {
	[ -s "$T/echo.jsonl" ] || return 0
	python3 - "$T/echo.jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
for wl in dict.fromkeys(r["workload"] for r in rows):
    rs = [r for r in rows if r["workload"] == wl]
    med = lambda k: statistics.median(r[k] for r in rs)
    cols = [wl, "median of %d" % len(rs), "%.0f" % med("rate"), "%.1f" % med("p50"),
            "%.1f" % med("p90"), "%.1f" % med("p99")]
    if all("cpu_op" in r for r in rs):
        cols += ["%.0f" % med("cpu_op"), "%.0f" % med("proj"), "%.0f%%" % (100 * med("busy")),
                 "%.1f" % med("pkt_op"), "%.0f" % med("cookies"), "%.0f" % med("retrans")]
    else:
        cols += ["-"] * 6
    cols += ["%.0f%%" % (100 * med("gen_busy")), "-"]
    print("| **" + "** | **".join(cols) + "** |")
PY
}

# gen WORKLOAD: runs the generator once; its output in $T/gen.out/.err.
gen() {
	local wl=$1 args vdev=("--vdev=net_memif0,role=client,$MEMIF") k line prefix=$GPREFIX
	case $wl in
	up | down) args=(--workload "$wl" --conns "$CONNS" --bytes "$BYTES") ;;
	churn | churn-loop) args=(--workload churn --conns "$CHURN_CONNS" --count "$COUNT" --req "$REQ") ;;
	rr | rr-loop) args=(--workload rr --conns 1 --count "$COUNT" --req "$REQ") ;;
	esac
	args+=(--timeout "$TIMEOUT")
	if [[ $wl != *-loop && -n $SPID ]]; then
		# A line to the serving generator, then its output up to "end N".
		SERVE_N=$((SERVE_N + 1))
		kill -0 "$SPID" 2>/dev/null || { echo "the serving generator is gone" >"$T/gen.err"; return 1; }
		echo "${args[*]}" >&3
		for ((k = 0; k < (TIMEOUT + 30) * 10; k++)); do
			grep -q "^end $SERVE_N " "$T/serve.out" && break
			kill -0 "$SPID" 2>/dev/null || break
			sleep 0.1
		done
		awk -v n="$SERVE_N" '$1 == "end" && $2 == n - 1 { on = 1; next } $1 == "end" && $2 == n { exit } on || n == 1' \
			"$T/serve.out" >"$T/gen.out"
		cp "$T/serve.err" "$T/gen.err"
		line=$(grep "^end $SERVE_N " "$T/serve.out" || true)
		[ -n "$line" ] || { echo "no end of run $SERVE_N from the serving generator" >>"$T/gen.err"; return 1; }
		[ "$line" = "end $SERVE_N rc=0" ]
		return
	fi
	if [[ $wl == *-loop ]]; then
		args+=("${GEN_ADDRS[@]}" --loop)	# no relay, no memif: no --vdev
		vdev=()
		prefix=$LPREFIX
	else
		args+=("${GEN_FIXED[@]}")
	fi
	timeout $((TIMEOUT + 30)) "$GEN" -l "$GCORE" "${EAL_COMMON[@]}" --file-prefix "$prefix" \
		"${vdev[@]}" -- "${args[@]}" >"$T/gen.out" 2>"$T/gen.err" &
	GPID=$!
	wait "$GPID"
}

BULK=()
ECHO=()
for wl in ${WORKLOADS//,/ }; do
	case $wl in
	up | down) BULK+=("$wl") ;;
	churn | rr | churn-loop | rr-loop) ECHO+=("$wl") ;;
	*) echo "run.sh: unknown workload $wl (up, down, churn, rr, churn-loop, rr-loop)" >&2; exit 2 ;;
	esac
done

echo "relay: $(grep -o 'ferry-relay (dpdk).*' "$T/relay.log")"
echo "memif: $MEMIF_MODE ($([ "$MEMIF_MODE" = zero-copy ] && echo "the relay its zero-copy client" || echo "the relay its server, copying"))"
echo "MTU $MTU (relay --dpdk-mtu, generator --mtu)$( ((MTU > 1500)) && echo ", memif buffers of $MEMIF_BSIZE bytes")"
echo "relay lcore $RCORE, generator lcore $GCORE, $(nproc) CPUs, $(uname -r), SYN cookies $SYNCOOKIES"
echo "bulk: $CONNS connections, $BYTES per run; churn: $COUNT connections, $CHURN_CONNS at a time; rr: $COUNT round trips; requests of $REQ bytes"
echo
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
FAILED=0
if [ -n "$PERFDIR" ]; then
	command -v perf >/dev/null || { echo "run.sh: --perf needs perf" >&2; exit 2; }
	mkdir -p "$PERFDIR"
	# cpu-clock: this machine's VM has no hardware counters; the samples
	# are of the relay's main thread, which runs the (only) lcore's loop.
	perf record -e cpu-clock -F 4999 -t "$RPID" -o "$PERFDIR/relay.perf.data" \
		>"$T/perf.log" 2>&1 3>&- &
	PPID_PERF=$!
	sleep 0.5
fi
# measure KIND WORKLOAD RUN: one generator run between two counter reads,
# and its row (KIND row or echo_row).
measure() {
	local rc=0 line
	counters "$T/before.json"
	gen "$2" || rc=$?
	GPID=
	counters "$T/after.json"
	line=$(grep '^workload=' "$T/gen.out" || true)
	if [ "$rc" -ne 0 ] || [ -z "$line" ]; then
		echo "| $2 | $3 | FAILED (exit $rc): $(grep -v TELEMETRY "$T/gen.err" | tail -n 1) |"
		FAILED=1
		return 0
	fi
	"$1" "$2" "$3" "$line" "$T/before.json" "$T/after.json"
}
if [ ${#BULK[@]} -gt 0 ]; then
	echo
	echo "| workload | run | Gbit/s | secs | relay CPU cycles/byte | relay CPU cycles/packet | relay cycles/byte (TSC) | relay cycles/packet (TSC) | relay lcore busy | generator CPU cycles/byte | generator lcore busy | packets | relay retransmits | generator retransmits/tx dropped |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
	for ((run = 1; run <= RUNS; run++)); do
		for wl in "${BULK[@]}"; do measure row "$wl" "$run"; done
	done
	summary
fi
if [ ${#ECHO[@]} -gt 0 ]; then
	echo
	echo "| workload | run | conns or round trips/s | p50 us | p90 us | p99 us | relay CPU cycles/op | per relay lcore at 100 %, /s | relay lcore busy | relay packets/op | relay SYN cookies used | relay retransmits | generator lcore busy | generator retransmits/tx dropped |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
	for ((run = 1; run <= RUNS; run++)); do
		for wl in "${ECHO[@]}"; do measure echo_row "$wl" "$run"; done
	done
	echo_summary
fi
if [ -n "$PPID_PERF" ]; then
	kill -INT "$PPID_PERF" 2>/dev/null
	wait "$PPID_PERF" 2>/dev/null || true
	PPID_PERF=
	perf report -i "$PERFDIR/relay.perf.data" --no-children --sort dso,symbol --percent-limit 0.3 \
		--stdio 2>/dev/null | grep -v '^#' | grep -v '^$' >"$PERFDIR/relay.report.txt" || true
	echo
	echo "relay lcore profile (self time per function, $PERFDIR/relay.report.txt):"
	head -n 25 "$PERFDIR/relay.report.txt"
fi
if [ -n "$SPID" ]; then
	stop_serving 300
	if [ "$SERVE_RC" -ne 0 ] && [ "$FAILED" -eq 0 ]; then
		echo "run.sh: the serving generator exited $SERVE_RC after its runs:"
		grep -v TELEMETRY "$T/serve.err" | tail -n 15
		FAILED=1
	fi
fi
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
[ -s "$T/after.json" ] && python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
if "tsc_hz" in d: print("relay TSC: %.3f GHz (cycles above are at this rate)" % (d["tsc_hz"] / 1e9))' "$T/after.json"
[ -s "$T/after.json" ] && ! grep -q busy_cycles "$T/after.json" &&
	echo "(relay-side columns empty: the relay answers no /ferry/counters on $TEL)"
exit "$FAILED"
