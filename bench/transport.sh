#!/usr/bin/env bash
# bench/transport.sh: the agent over WebSocket (--transport wss, through the
# relay's HTTPS ingress) against the agent over TLS (the relay's agent port), on
# loopback, same relay, same targets, one after the other:
#
#   fy-load send/recv ──▶ relay -R port ══tls or wss══▶ agent ──▶ fy-load serve sink/source
#   fy-bench rr       ──▶ relay -R port ══tls or wss══▶ agent ──▶ fy-bench echo-server
#
#   bulk up    client → target, BYTES (256 MiB), sha256 checked by the sink
#   bulk down  target → client, BYTES, sha256 checked by the receiver
#   rr         CONNS (8) connections, 64-byte request/response, DURATION (5 s)
#
# Prints one line per subject and one with the ratios (wss / tls):
#   tls  up=… MB/s down=… MB/s rr=… req/s p50=… us p99=… us
#   wss  …
#   wss/tls  up=0.… down=0.… rr=0.…
# Every run is bounded (fy-load --timeout, fy-bench --duration); processes are
# ended by the PIDs this script started. Binaries from $FY_BUILD (default build/);
# fy-bench is compiled into build-bench/ as bench/run does.
#   bench/transport.sh [--bytes N] [--conns N] [--duration SECS]
set -eu
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${FY_BUILD:-$ROOT/build}
BYTES=$((256 << 20))
CONNS=8
DURATION=5
while [ $# -gt 0 ]; do
	case $1 in
	--bytes) BYTES=$2; shift ;;
	--conns) CONNS=$2; shift ;;
	--duration) DURATION=$2; shift ;;
	*) echo "usage: $0 [--bytes N] [--conns N] [--duration SECS]" >&2; exit 2 ;;
	esac
	shift
done
RELAY=$BUILD/relay/ferry-relay
AGENT=$BUILD/agent/ferry-agent
LOAD=$BUILD/tests/fy-load
for b in "$RELAY" "$AGENT" "$LOAD"; do
	[ -x "$b" ] || { echo "transport.sh: $b missing: build first (scripts/build.sh)" >&2; exit 2; }
done
mkdir -p "$ROOT/build-bench"
FYB=$ROOT/build-bench/fy-bench
[ "$FYB" -nt bench/fy-bench.c ] ||
	cc -O2 -std=c11 -D_GNU_SOURCE -pthread -o "$FYB" bench/fy-bench.c

T=$(mktemp -d /tmp/ferry-bench-transport.XXXXXX)
declare -A PIDS=()
cleanup() {
	local rc=$? p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	if [ "$rc" -ne 0 ]; then
		tail -n 20 "$T"/*.log >&2 || true
		echo "transport.sh: failed; logs in $T" >&2
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT
bg() {
	local label=$1
	shift
	"$@" >"$T/$label.log" 2>&1 &
	PIDS[$label]=$!
}
wait_log() {
	local i
	for ((i = 0; i < 300; i++)); do
		grep -Eq -- "$2" "$T/$1.log" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "transport.sh: no /$2/ in $1.log" >&2
	return 1
}
# Ports: a block of 20 below the ephemeral range that nothing listens on.
for try in $(seq 50); do
	BASE=$((28000 + RANDOM % 200 * 20))
	ss -Hltn "( sport >= :$BASE and sport < :$((BASE + 20)) )" | grep -q . || break
done
P_AGENT=$BASE P_HTTPS=$((BASE + 1))
P_SINK=$((BASE + 2)) P_SOURCE=$((BASE + 3)) P_ECHO=$((BASE + 4))

"$RELAY" cert init --dir "$T/pki" --name localhost,127.0.0.1 >"$T/cert.log" 2>&1
"$RELAY" token add --tokens "$T/tokens" --agent tls --ports "$((BASE + 10))-$((BASE + 12))" \
	>"$T/tok-tls" 2>>"$T/cert.log"
"$RELAY" token add --tokens "$T/tokens" --agent wss --ports "$((BASE + 13))-$((BASE + 15))" \
	>"$T/tok-wss" 2>>"$T/cert.log"
bg sink "$LOAD" serve --port "$P_SINK" --mode sink --timeout 600
bg source "$LOAD" serve --port "$P_SOURCE" --mode source --bytes "$BYTES" --seed 7 --timeout 600
bg echo "$FYB" echo-server --port "$P_ECHO" --threads 2 --max-seconds 600
# The ingress serves the relay's own certificate: agents trust one CA.
bg relay "$RELAY" --listen "127.0.0.1:$P_AGENT" --cert "$T/pki/relay.crt" --key "$T/pki/relay.key" \
	--tokens "$T/tokens" --public-bind 127.0.0.1 --https-listen "127.0.0.1:$P_HTTPS" \
	--https-cert "$T/pki/relay.crt" --https-key "$T/pki/relay.key" --log-level warn
wait_log sink "^listening" && wait_log source "^listening"
sleep 0.5
for tr in tls wss; do
	o=$([ $tr = tls ] && echo 10 || echo 13)
	bg "agent-$tr" "$AGENT" --relay "127.0.0.1:$P_AGENT" --token "$(cat "$T/tok-$tr")" \
		--ca "$T/pki/ca.crt" --name "$tr" --transport "$tr" --wss-port "$P_HTTPS" \
		--proxy none -R "$((BASE + o)):127.0.0.1:$P_SINK" \
		-R "$((BASE + o + 1)):127.0.0.1:$P_SOURCE" -R "$((BASE + o + 2)):127.0.0.1:$P_ECHO"
	wait_log "agent-$tr" "session up"
	wait_log "agent-$tr" "forwarding relay TCP port $((BASE + o + 2))"
done

declare -A UP DOWN RR P50 P99
SHA=$("$LOAD" gen --bytes "$BYTES" --seed 7 | sha256sum | cut -d' ' -f1)
for tr in tls wss; do
	o=$([ $tr = tls ] && echo 10 || echo 13)
	out=$("$LOAD" send --connect "127.0.0.1:$((BASE + o))" --bytes "$BYTES" --seed 9 --timeout 300 2>>"$T/load.log")
	[[ $out == ok* ]] || { echo "transport.sh: $tr bulk up: $out" >&2; exit 1; }
	UP[$tr]=$(sed -n 's/.*MBps=\([0-9.]*\).*/\1/p' <<<"$out")
	out=$("$LOAD" recv --connect "127.0.0.1:$((BASE + o + 1))" --bytes "$BYTES" --seed 7 --timeout 300 2>>"$T/load.log")
	[[ $out == ok* && $out == *"sha256=$SHA"* ]] || { echo "transport.sh: $tr bulk down: $out" >&2; exit 1; }
	DOWN[$tr]=$(sed -n 's/.*MBps=\([0-9.]*\).*/\1/p' <<<"$out")
	out=$("$FYB" rr --host 127.0.0.1 --port "$((BASE + o + 2))" --conns "$CONNS" --size 64 \
		--duration "$DURATION")
	RR[$tr]=$(sed -n 's/.*"rps":\([0-9.]*\).*/\1/p' <<<"$out")
	P50[$tr]=$(sed -n 's/.*"p50_us":\([0-9.]*\).*/\1/p' <<<"$out")
	P99[$tr]=$(sed -n 's/.*"p99_us":\([0-9.]*\).*/\1/p' <<<"$out")
	printf '%-8s up=%s MB/s down=%s MB/s rr=%s req/s p50=%s us p99=%s us (bytes=%s each way, sha256 ok; rr %s conns x %s s)\n' \
		"$tr" "${UP[$tr]}" "${DOWN[$tr]}" "${RR[$tr]}" "${P50[$tr]}" "${P99[$tr]}" "$BYTES" "$CONNS" "$DURATION"
done
awk -v u1="${UP[tls]}" -v u2="${UP[wss]}" -v d1="${DOWN[tls]}" -v d2="${DOWN[wss]}" \
	-v r1="${RR[tls]}" -v r2="${RR[wss]}" \
	'BEGIN { printf "%-8s up=%.2f down=%.2f rr=%.2f\n", "wss/tls", u2 / u1, d2 / d1, r2 / r1 }'
