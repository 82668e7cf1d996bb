#!/usr/bin/env bash
# shellcheck disable=SC2119 # lib.sh helpers take optional arguments
# The relay on DPDK, with our own TCP, against Linux TCP at both ends:
#
#   root ns (kernel TCP)                           relay ns (no kernel TCP in the path)
#   fy-load clients ──▶ 10.99.N.2:PUB ─┐
#   ferry-agent ══TLS══▶ 10.99.N.2:7000 ├─ fyo$$ 10.99.N.1 ══veth══ fyr$$ ◀─ net_af_packet ◀─ ferry-relay --backend dpdk
#      └─▶ fy-load targets 127.0.0.1   ─┘                                  (relay/net: ARP, IPv4, TCP; 10.99.N.2)
#
# Checks: 64 MiB each way with sha256, 200 concurrent streams, the same
# with 1% and 5% random loss (nftables drop rule on the veth; netem is not
# in this kernel), agent SIGKILL -> clients see resets, agent back ->
# served again, SIGTERM -> the relay drains and exits 0.
# Needs root (namespaces, veth) and a build with DPDK.
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=SCRIPTDIR/../lib_dpdk.sh
. "$(dirname "$0")/../lib_dpdk.sh"
fy_init 22600
dp_require nft

dp_topology 10.99 fy	# a subnet of our own, even beside another run
fy_alloc_port SINK
fy_alloc_port SRC
fy_alloc_port ECHO
fy_alloc_port PUB_IN
fy_alloc_port PUB_OUT
fy_alloc_port PUB_ECHO

dp_certs
TOK=$(fy_token edge "$FY_PORT_RANGE")
ADMIN_TOK=$("$RELAY_BIN" token add --tokens "$T/tokens" --admin 2>/dev/null) || fail "token add --admin"
fy_alloc_port ADM
fy_serve serve-sink "$SINK" --mode sink
fy_serve serve-src "$SRC" --mode source --bytes 64M --seed 2
fy_serve serve-echo "$ECHO" --mode echo

# The admin API on a kernel socket beside the DPDK port, in the relay's
# namespace: its control thread, not an lcore, answers.
dp_relay_start --workers 1 --dpdk-mbufs 8191 --handshake-timeout-ms 5000 --log-level debug \
	--admin-listen "127.0.0.1:$ADM"
dp_relay_wait_up
check_ok "DPDK relay up: $(grep -o 'ferry-relay (dpdk).*' "$T/relay.log")"
grep -q "DPDK port 0 (net_${FY_DPDK_PMD:-af_packet})" "$T/relay.log" ||
	fail "the relay is not on net_${FY_DPDK_PMD:-af_packet}: $(grep -o 'DPDK port 0.*' "$T/relay.log")"
check_ok "$(grep -o 'DPDK port 0.*' "$T/relay.log")"
check_ok "ARP resolved and ICMP echo answered by relay/net"

start_agent() {
	"$AGENT_BIN" --relay "$RIP:$RELAY_PORT" --token "$TOK" --ca "$T/pki/ca.crt" --name edge \
		--io "$FY_AGENT_IO" --log-level debug --backoff-min-ms 300 --backoff-max-ms 1000 \
		-R "$PUB_IN:127.0.0.1:$SINK" -R "$PUB_OUT:127.0.0.1:$SRC" -R "$PUB_ECHO:127.0.0.1:$ECHO" \
		>>"$T/agent-edge.log" 2>&1 &
	FY_PID[agent-edge]=$!
	FY_AGENT_PID[edge]=$!
	wait_log_count "$T/agent-edge.log" "forwarding relay port" "$1" 20
}
start_agent 3
check_ok "agent connected through the DPDK relay and claimed 3 ports"

# transfers LABEL SIZE STREAMS: SIZE each way + STREAMS echo streams, all checked
transfers() {
	local want_in want_out
	want_in=$(gen_sha "$2" 1)
	want_out=$(gen_sha 64M 2)
	load_ok "$1: $2 client -> target" send --connect "$RIP:$PUB_IN" --bytes "$2" --seed 1 --timeout 120
	[ "$(field sha256 "$FY_OUT")" = "$want_in" ] || fail "$1: digest differs client -> target"
	if [ "$2" = 64M ]; then
		load_ok "$1: 64M target -> client" recv --connect "$RIP:$PUB_OUT" --bytes 64M --seed 2 --timeout 120
		[ "$(field sha256 "$FY_OUT")" = "$want_out" ] || fail "$1: digest differs target -> client"
	fi
	load_ok "$1: $3 concurrent streams" multi --connect "$RIP:$PUB_ECHO" --streams "$3" \
		--max-bytes 256K --seed 5 --timeout 120
}
transfers "no loss" 64M 200

# Loss on the path. Both ends recover with SACK: the relay's counters must show
# it SACKed what it held out of order and used the kernel's SACKs.
for loss in 1 5; do
	dp_loss "$loss"
	if [ "$loss" = 1 ]; then transfers "1% loss" 16M 100; else transfers "5% loss" 8M 20; fi
done
dp_loss off
dp_stats
for c in tcp_sack_rx tcp_sack_tx tcp_retransmits; do
	[ "$(dp_stat $c)" -gt 0 ] || fail "$c=0 after transfers under loss: $DP_STATS"
done
check_ok "recovered with SACK: tcp_sack_rx=$(dp_stat tcp_sack_rx) tcp_sack_tx=$(dp_stat tcp_sack_tx) tcp_retransmits=$(dp_stat tcp_retransmits) tcp_loss_probes=$(dp_stat tcp_loss_probes) tcp_rto_timeouts=$(dp_stat tcp_rto_timeouts)"

# /metrics on the DPDK backend: the stack's counters (what `ferry-relay
# stats` shows) beside the engine's, parsed by prometheus_client.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
${NS:+ip netns exec "$NS"} curl -sf -H "Authorization: Bearer $ADMIN_TOK" \
	"http://127.0.0.1:$ADM/metrics" >"$T/metrics" || fail "GET /metrics on the DPDK relay failed"
"$PY" - "$T/metrics" "$(dp_stat tcp_sack_rx)" <<'PY' >"$T/metrics.check" 2>&1 || fail "DPDK /metrics: $(cat "$T/metrics.check")"
import sys
from prometheus_client.parser import text_string_to_metric_families
v = {}
for fam in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in fam.samples:
        v[(s.name, tuple(sorted(s.labels.items())))] = s.value
def get(name, **labels):
    return v[(name, tuple(sorted(labels.items())))]
assert any(k[0] == "ferry_build_info" and ("backend", "dpdk") in k[1] for k in v)
assert get("ferry_sessions") == 1 and get("ferry_tunnels") == 1
assert get("ferry_dpdk_tcp_sack_rx_total") >= int(sys.argv[2]) > 0
assert get("ferry_dpdk_rx_frames_total") > 0 and get("ferry_dpdk_pool_size") == 8191
assert get("ferry_agent_received_bytes_total", agent="edge") >= 64 << 20
assert get("ferry_agent_sent_bytes_total", agent="edge") >= 64 << 20
print("%d samples; tcp_sack_rx %d, rx_frames %d, edge received %d bytes" % (len(v),
      get("ferry_dpdk_tcp_sack_rx_total"), get("ferry_dpdk_rx_frames_total"),
      get("ferry_agent_received_bytes_total", agent="edge")))
PY
check_ok "/metrics on DPDK: $(cat "$T/metrics.check")"

fy_bg hold1 "$LOAD" hold --connect "$RIP:$PUB_ECHO" --expect reset --send-bytes 100 --timeout 30
wait_log_count "$T/serve-echo.out" '^accept ' 321 10
fy_agent_stop edge KILL
fy_bg_wait hold1
[ "$FY_RC" -eq 0 ] || fail "open connection after agent SIGKILL: $(fy_result hold1) (want reset)"
check_ok "agent SIGKILL: open client connection was reset"
start_agent 6
load_ok "agent back: 1 MiB through" send --connect "$RIP:$PUB_IN" --bytes 1M --seed 7 --timeout 60

kill -HUP "$DPID"
wait_log "$T/relay.log" 'SIGHUP: 2 token\(s\) loaded' 10
fy_alive "$DPID" || fail "DPDK relay died on SIGHUP"
load_ok "SIGHUP reloaded the tokens (lcore 0), still serving: 1 MiB" send --connect "$RIP:$PUB_IN" \
	--bytes 1M --seed 7 --timeout 60

dp_relay_stop_ok
check_ok "SIGTERM: relay drained and exited 0 ($(grep -o 'worker 0: .*' "$T/relay.log"))"
pass
