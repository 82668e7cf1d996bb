#!/usr/bin/env bash
# scripts/rss.sh [--runs N] [--seconds S] [-- AGENT_ARGS...]: where ferry-agent's
# resident memory goes, idle and under the paced load of scripts/footprint.sh.
#
# For each of N runs (default 3) it starts a relay, an echo target and an agent
# with 3 forwards (as footprint.sh does), waits until the agent is connected and
# idle for 3 s, and reads /proc/PID/smaps: RSS, RssAnon, RssFile and PSS, and the
# resident KiB of each mapped object (libcrypto, libssl, libc, the agent, ...).
# With --seconds S > 0 it then runs S seconds of 1,000 req/s over 50 streams
# and reads the same again. It prints every run and the median of each figure.
#
# Made to compare one change at a time (the levers of issue 10): run it before
# and after, same host, same build type. FY_AGENT_ENV="K=V ..." is put in the
# agent's environment (to try GLIBC_TUNABLES or OPENSSL_CONF without a rebuild);
# FY_RSS_SMAPS=PATH keeps a copy of the idle smaps of run N as PATH.N.
# AGENT_ARGS are added to the agent's command line. FY_AGENT_WRAP="CMD ARGS" runs
# the agent under CMD (valgrind --tool=massif, say: then the figures are CMD's).
# shellcheck disable=SC2119 # lib.sh helpers take optional arguments
RUNS=3 SECS=0
while [ $# -gt 0 ]; do
	case $1 in
	--runs) RUNS=$2; shift ;;
	--seconds) SECS=$2; shift ;;
	--) shift; break ;;
	*) echo "usage: $0 [--runs N] [--seconds S] [-- AGENT_ARGS...]" >&2; exit 2 ;;
	esac
	shift
done
# shellcheck source=SCRIPTDIR/../tests/lib.sh
. "$(dirname "$0")/../tests/lib.sh"
fy_init 26800
command -v python3 >/dev/null || fail "python3 is needed"

# snap PID: one line of name=KiB pairs from smaps (resident KiB per object).
snap() {
	python3 - "$1" <<'PY'
import collections, os, sys
pid = sys.argv[1]
per = collections.OrderedDict()
tot = collections.Counter()
name = None
with open(f"/proc/{pid}/smaps") as f:
    for line in f:
        parts = line.split()
        if "-" in parts[0] and ":" not in parts[0]:
            path = parts[5] if len(parts) > 5 else ""
            base = os.path.basename(path)
            if base.startswith("libcrypto"): name = "libcrypto"
            elif base.startswith("libssl"): name = "libssl"
            elif base.startswith("libc.so"): name = "libc"
            elif base.startswith("ld-linux"): name = "ld"
            elif base == "ferry-agent": name = "agent"
            elif path == "[heap]": name = "heap"
            elif path == "[stack]": name = "stack"
            elif path.startswith("["): name = "other"
            elif path: name = "libother"
            else: name = "anonmap"
            per.setdefault(name, 0)
        elif parts[0] == "Rss:":
            per[name] += int(parts[1])
        elif parts[0] in ("Pss:", "Anonymous:"):
            tot[parts[0][:-1]] += int(parts[1])
st = {}
with open(f"/proc/{pid}/status") as f:
    for line in f:
        k, v = line.split(":", 1)
        if k in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
            st[k] = int(v.split()[0])
out = [f"rss={st['VmRSS']}", f"anon={st['RssAnon']}", f"file={st['RssFile']}",
       f"pss={tot['Pss']}", f"hwm={st['VmHWM']}"]
out += [f"{k}={v}" for k, v in per.items()]
print(" ".join(out))
PY
}

fy_alloc_port RELAY_PORT
fy_alloc_port ECHO
fy_alloc_port PUB_ECHO
fy_alloc_port PUB_B
fy_alloc_port PUB_C
fy_certs
TOK=$(fy_token edge "$FY_PORT_RANGE")
fy_serve serve-echo "$ECHO" --mode echo
fy_relay_start --log-level info
IDLE=() LOADED=()
for ((run = 1; run <= RUNS; run++)); do
	: >"$T/agent-edge.log"
	# shellcheck disable=SC2086 # FY_AGENT_ENV is a list of K=V words
	env ${FY_AGENT_ENV:-} true || fail "bad FY_AGENT_ENV"
	AGENT_ENV=${FY_AGENT_ENV:-}
	# the agent exactly as footprint.sh starts it, plus AGENT_ARGS
	# shellcheck disable=SC2086 # word lists on purpose
	env $AGENT_ENV ${FY_AGENT_WRAP:-} "$AGENT_BIN" --relay "127.0.0.1:$RELAY_PORT" --token "$TOK" \
		--ca "$T/pki/ca.crt" --name edge --io "$FY_AGENT_IO" --log-level info \
		-R "$PUB_ECHO:127.0.0.1:$ECHO" -R "$PUB_B:127.0.0.1:$ECHO" \
		-R "$PUB_C:127.0.0.1:$ECHO" "$@" >>"$T/agent-edge.log" 2>&1 &
	FY_PID[agent-edge]=$!
	AP=$!
	wait_log_count "$T/agent-edge.log" "forwarding relay port" 3 20
	sleep 3
	IDLE+=("$(snap "$AP")")
	[ -n "${FY_RSS_SMAPS:-}" ] && cp "/proc/$AP/smaps" "$FY_RSS_SMAPS.$run"
	printf 'run %d idle:   %s\n' "$run" "${IDLE[-1]}"
	if [ "$SECS" -gt 0 ]; then
		python3 "$FY_ROOT/scripts/paced_load.py" "$PUB_ECHO" "$AP" "$SECS" >"$T/load.out" \
			2>"$T/load.err" || fail "the paced load failed: $(cat "$T/load.err")"
		LOADED+=("$(snap "$AP") $(cat "$T/load.out")")
		printf 'run %d loaded: %s\n' "$run" "${LOADED[-1]}"
	fi
	fy_agent_stop edge
	wait_closed "$PUB_ECHO" 10
done

# median KEY LINES...: median of KEY=VALUE over the lines that have it
median() {
	local k=$1
	shift
	printf '%s\n' "$@" | sed -n "s/.*\b$k=\([0-9.]*\).*/\1/p" | sort -n |
		awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "-" }'
}
summary() {
	local what=$1 k line=
	shift
	for k in rss anon file pss libcrypto libssl libc ld agent heap anonmap stack libother \
		max_rss_kb max_anon_kb p50_ms p99_ms errors; do
		line+=" $k=$(median "$k" "$@")"
	done
	echo "median $what ($RUNS runs):$line"
}
echo
summary idle "${IDLE[@]}"
[ "$SECS" -gt 0 ] && summary loaded "${LOADED[@]}"
pass
