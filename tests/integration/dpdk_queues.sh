#!/usr/bin/env bash
# shellcheck disable=SC2119 # lib.sh helpers take optional arguments
# Two RX/TX queues on two lcores (net_af_packet qpairs=2): RSS spreads the
# connections, every lcore must serve its share.
#
#   root ns (kernel TCP)                           relay ns (no kernel TCP in the path)
#   fy-load clients ──▶ 10.99.N.2:PUB ─┐
#   ferry-agent ══TLS══▶ 10.99.N.2:7000 ├─ fyo$$ 10.99.N.1 ══veth══ fyr$$ ◀─ net_af_packet ◀─ ferry-relay --backend dpdk
#      └─▶ fy-load targets 127.0.0.1   ─┘                                  (relay/net: ARP, IPv4, TCP; 10.99.N.2)
#
# A userspace TCP connection cannot move between lcores, so the agent must
# hold a tunnel on each: the relay sends back a tunnel that lands on an
# lcore that has one (ERROR AGAIN) and the agent opens it again. Checks:
# 60 connections, each 256 KiB with sha256, all served; both lcores
# accepted some (per-worker counters at exit); relay exits 0 on SIGTERM.
# Needs root (namespaces, veth) and a build with DPDK.
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=SCRIPTDIR/../lib_dpdk.sh
. "$(dirname "$0")/../lib_dpdk.sh"
fy_init 23000
dp_require nft

dp_topology 10.99 fy	# a subnet of our own, even beside another run
fy_alloc_port SINK
fy_alloc_port PUB_IN

dp_certs
TOK=$(fy_token edge "$FY_PORT_RANGE")
fy_serve serve-sink "$SINK" --mode sink

dp_relay_start --workers 2 --queues 2 --log-level debug
dp_relay_wait_up
grep -q "2 worker lcore(s)" "$T/relay.log" || fail "DPDK relay not up with 2 lcores: $(tail -n 3 "$T/relay.log")"
check_ok "DPDK relay up on 2 lcores, 2 queues"

"$AGENT_BIN" --relay "$RIP:$RELAY_PORT" --token "$TOK" --ca "$T/pki/ca.crt" --name edge \
	--io "$FY_AGENT_IO" --log-level debug -R "$PUB_IN:127.0.0.1:$SINK" >>"$T/agent-edge.log" 2>&1 &
FY_PID[agent-edge]=$!
wait_log "$T/agent-edge.log" "session up: 2 tunnels" 20
check_ok "agent holds a tunnel on each lcore ($(grep -c "open it again" "$T/relay.log") sent back to be opened again)"
grep -Eq "tunnel 0/2 .* up on worker [01]" "$T/relay.log" && grep -Eq "tunnel 1/2 .* up on worker [01]" "$T/relay.log" ||
	fail "tunnels not up: $(grep 'up on worker' "$T/relay.log")"

for ((i = 1; i <= 60; i++)); do
	"$LOAD" send --connect "$RIP:$PUB_IN" --bytes 256K --seed "$i" --timeout 30 >"$T/conn.out" 2>&1 ||
		fail "connection $i: $(cat "$T/conn.out")"
	[ "$(field sha256 "$(cat "$T/conn.out")")" = "$(gen_sha 256K "$i")" ] || fail "connection $i: digest differs"
done
check_ok "60 connections, 256 KiB each, all served with the right sha256"
grep -q "refused: the agent has no tunnel" "$T/relay.log" && fail "a client was refused for want of a tunnel"

dp_relay_stop_ok
for w in 0 1; do
	n=$(sed -n "s/.*worker $w counters:.* tcp_passive_opens=\([0-9]*\).*/\1/p" "$T/relay.log")
	[ "${n:-0}" -gt 2 ] || fail "worker $w accepted ${n:-0} connections; RSS should spread them"
	check_ok "worker $w accepted $n connections"
done
pass
