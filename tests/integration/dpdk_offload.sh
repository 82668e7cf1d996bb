#!/usr/bin/env bash
# shellcheck disable=SC2119 # lib.sh helpers take optional arguments
# The DPDK relay on a port that has checksum offloads (net_tap: the PMD
# computes and checks IPv4/TCP checksums as a NIC would), and its counters read
# while it runs:
#
#   root ns (kernel TCP)
#   fy-load clients ──▶ NET.2:PUB_* ─┐
#   ferry-agent ══TLS══▶ NET.2:7000 ─┼─ fyt$$ NET.1 (tap) ◀─ net_tap ◀─ ferry-relay --backend dpdk
#      └─▶ fy-load targets 127.0.0.1 ┘                                  (relay/net at NET.2)
#
# 1. --dpdk-offload on (the default): the relay says the port computes and
#    checks checksums; 16 MiB each way and 50 echo streams arrive intact. The
#    kernel drops frames with bad checksums, and the stack now leaves the IPv4
#    checksum 0 and the TCP one half done, so a frame the port did not finish
#    would never arrive.
# 2. `ferry-relay stats` while it runs (DPDK telemetry): frames were handed to
#    the port for checksums and built in place in their mbufs (no copy), frames
#    came in with checksums the port vouched for, none were bad; the agent's
#    connection is counted; counters move between two reads.
# 3. --dpdk-offload off: checksums in software, the same transfers intact, no
#    frame handed to the port for checksums.
# Needs root (a TAP device) and a build with DPDK.
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=SCRIPTDIR/../lib_dpdk.sh
. "$(dirname "$0")/../lib_dpdk.sh"
fy_init 22900
dp_require

dp_pick_net 10.94
TAP=fyt$$
fy_alloc_port SINK
fy_alloc_port SRC
fy_alloc_port ECHO
fy_alloc_port PUB_IN
fy_alloc_port PUB_OUT
fy_alloc_port PUB_ECHO

dp_certs
TOK=$(fy_token edge "$FY_PORT_RANGE")
fy_serve serve-sink "$SINK" --mode sink
fy_serve serve-src "$SRC" --mode source --bytes 16M --seed 2
fy_serve serve-echo "$ECHO" --mode echo

# relay_up ARGS...: the relay on net_tap (it creates $TAP), the tap configured as
# NET.1/24, then the usual checks (log line, ICMP echo).
relay_up() {
	local i
	dp_relay_start --workers 1 --vdev "net_tap0,iface=$TAP" "$@"
	for ((i = 0; i < 100; i++)); do
		ip link show "$TAP" >/dev/null 2>&1 && break
		fy_alive "$DPID" || fail "relay exited at start: $(tail -n 5 "$T/relay.log")"
		sleep 0.1
	done
	ip addr add "$HIP/24" dev "$TAP" || fail "cannot configure $TAP"
	ip link set "$TAP" up
	dp_relay_wait_up "on net_tap"
}

start_agent() {
	"$AGENT_BIN" --relay "$RIP:$RELAY_PORT" --token "$TOK" --ca "$T/pki/ca.crt" --name edge \
		--io "$FY_AGENT_IO" --log-level debug --backoff-min-ms 300 --backoff-max-ms 1000 \
		-R "$PUB_IN:127.0.0.1:$SINK" -R "$PUB_OUT:127.0.0.1:$SRC" -R "$PUB_ECHO:127.0.0.1:$ECHO" \
		>>"$T/agent-edge.log" 2>&1 &
	FY_PID[agent-edge]=$!
	wait_log_count "$T/agent-edge.log" "forwarding relay port" "$1" 20
}

# transfers LABEL: 16 MiB each way, sha256 checked, and 50 echo streams.
transfers() {
	local want_in want_out
	want_in=$(gen_sha 16M 1)
	want_out=$(gen_sha 16M 2)
	load_ok "$1: 16 MiB client -> target" send --connect "$RIP:$PUB_IN" --bytes 16M --seed 1 --timeout 60
	[ "$(field sha256 "$FY_OUT")" = "$want_in" ] || fail "$1: digest differs client -> target"
	load_ok "$1: 16 MiB target -> client" recv --connect "$RIP:$PUB_OUT" --bytes 16M --seed 2 --timeout 60
	[ "$(field sha256 "$FY_OUT")" = "$want_out" ] || fail "$1: digest differs target -> client"
	load_ok "$1: 50 concurrent echo streams" multi --connect "$RIP:$PUB_ECHO" --streams 50 \
		--max-bytes 256K --seed 5 --timeout 60
}

# --- 1. offloads on
relay_up --log-level info
grep -q 'checksums on transmit by the port, on receive checked by the port' "$T/relay.log" ||
	fail "net_tap has checksum offloads, the relay did not use them: $(grep -o 'DPDK port.*' "$T/relay.log")"
check_ok "$(grep -o 'DPDK port 0.*' "$T/relay.log")"
start_agent 3
transfers "offload on"

# --- 2. counters while it runs
dp_stats
before=$(dp_stat rx_frames)
for c in tx_csum_offload rx_csum_hw_good tx_zero_copy; do
	[ "$(dp_stat $c)" -gt 1000 ] || fail "$c=$(dp_stat $c) after 32 MiB, want > 1000: $DP_STATS"
done
for c in ip_bad_csum tcp_bad_csum rx_csum_hw_bad; do
	[ "$(dp_stat $c)" -eq 0 ] || fail "$c=$(dp_stat $c), want 0"
done
[ "$(dp_stat conns)" -ge 1 ] || fail "conns=$(dp_stat conns) with the agent connected, want >= 1"
[ "$(dp_stat workers)" -eq 1 ] || fail "workers=$(dp_stat workers), want 1"
check_ok "stats while running: tx_csum_offload=$(dp_stat tx_csum_offload) rx_csum_hw_good=$(dp_stat rx_csum_hw_good) tx_zero_copy=$(dp_stat tx_zero_copy) tx_copied=$(dp_stat tx_copied) conns=$(dp_stat conns)"
load_ok "1 MiB more" send --connect "$RIP:$PUB_IN" --bytes 1M --seed 3 --timeout 30
sleep 0.3	# counters are published every 100 ms
dp_stats --worker 0
[ "$(dp_stat rx_frames)" -gt "$before" ] || fail "rx_frames did not move: $before, then $(dp_stat rx_frames)"
check_ok "worker 0's counters move: rx_frames $before -> $(dp_stat rx_frames)"
# stats_rc WANT_RC WANT_TEXT ARGS...: ferry-relay stats ARGS must exit WANT_RC saying WANT_TEXT.
stats_rc() {
	local want=$1 text=$2 rc=0 out
	shift 2
	out=$("$RELAY_BIN" stats "$@" 2>&1) || rc=$?
	[ "$rc" -eq "$want" ] && grep -q -- "$text" <<<"$out" ||
		fail "ferry-relay stats $*: exit $rc, want $want with '$text': $out"
}
stats_rc 1 "no such worker" --prefix "$DP_PREFIX" --worker 7
stats_rc 2 "takes a worker number" --prefix "$DP_PREFIX" --worker x
stats_rc 2 "is a name, not a path" --prefix ../x
stats_rc 0 '"/ferry/counters":{"workers":1' --prefix "$DP_PREFIX" --json
check_ok "ferry-relay stats: a missing worker, bad options, --json"
fy_stop agent-edge TERM 5
dp_relay_stop_ok
stats_rc 1 "cannot reach" --prefix "$DP_PREFIX"
check_ok "ferry-relay stats with no relay running: exit 1, says why"

# --- 3. offloads off
relay_up --log-level info --dpdk-offload off
grep -q 'checksums on transmit in software, on receive checked in software (--dpdk-offload off)' \
	"$T/relay.log" || fail "--dpdk-offload off not reported: $(grep -o 'DPDK port.*' "$T/relay.log")"
start_agent 6
transfers "offload off"
dp_stats
[ "$(dp_stat tx_csum_offload)" -eq 0 ] || fail "--dpdk-offload off: tx_csum_offload=$(dp_stat tx_csum_offload)"
[ "$(dp_stat rx_csum_hw_good)" -eq 0 ] || fail "--dpdk-offload off: rx_csum_hw_good=$(dp_stat rx_csum_hw_good)"
check_ok "software checksums: tx_csum_offload=0, rx_csum_hw_good=0, rx_frames=$(dp_stat rx_frames)"
dp_relay_stop_ok
pass
