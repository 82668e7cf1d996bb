#!/usr/bin/env bash
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
fy_init 23000

[ "$(id -u)" -eq 0 ] || skip "needs root for network namespaces"
"$RELAY_BIN" --help | grep -q -- "--backend kernel|dpdk" || skip "relay built without DPDK"
"$RELAY_BIN" --backend dpdk --cert x --key x --tokens x --dpdk-ip 1.2.3.4/24 --dpdk-eal "--version" \
	2>&1 | grep -q "no DPDK backend" && skip "relay built without the DPDK backend (libdpdk-dev missing)"
command -v nft >/dev/null || fail "nft (nftables) is needed"

NS=fyr$$
VO=fyo$$
VR=fyr$$
NET=10.99.$(($$ % 200 + 20))	# a subnet of our own, even beside another run
RIP=$NET.2
RELAY_PORT=7000
fy_alloc_port SINK
fy_alloc_port PUB_IN
DPID=

dp_exit() {
	local rc=$?
	set +e
	trap - EXIT
	[ -n "$DPID" ] && kill -KILL "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
	nft delete table inet "fyloss$$" 2>/dev/null
	ip link del "$VO" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	(exit "$rc")
	fy_cleanup
}
trap dp_exit EXIT

ip netns add "$NS"
ip link add "$VO" type veth peer name "$VR"
ip link set "$VR" netns "$NS"
ip addr add "$NET.1/24" dev "$VO"
ip link set "$VO" up
ip netns exec "$NS" ip link set "$VR" up
ip netns exec "$NS" ip link set lo up
# Without this the kernel leaves TCP checksums to "hardware", and the DPDK
# side, which sees the raw frames, gets segments with unfilled checksums.
ethtool -K "$VO" tx off >/dev/null 2>&1 || fail "ethtool -K $VO tx off failed"

"$RELAY_BIN" cert init --dir "$T/pki" --name "$RIP,localhost" >"$T/cert.out" 2>&1 ||
	fail "cert init: $(cat "$T/cert.out")"
TOK=$(fy_token edge "$FY_PORT_RANGE")
fy_serve serve-sink "$SINK" --mode sink

ip netns exec "$NS" "$RELAY_BIN" --backend dpdk --workers 2 --listen "0.0.0.0:$RELAY_PORT" \
	--dpdk-ip "$RIP/24" \
	--dpdk-eal "-l 0,1 --no-huge -m 512 --no-pci --no-shconf --vdev=net_af_packet0,iface=$VR,qpairs=2 --log-level=lib.eal:error" \
	--cert "$T/pki/relay.crt" --key "$T/pki/relay.key" --tokens "$T/tokens" \
	--log-level debug >>"$T/relay.log" 2>&1 &
DPID=$!
for ((i = 0; i < 100; i++)); do
	grep -q "ferry-relay (dpdk) on port" "$T/relay.log" && break
	fy_alive "$DPID" || fail "DPDK relay exited at start: $(tail -n 5 "$T/relay.log")"
	sleep 0.1
done
grep -q "2 worker lcore(s)" "$T/relay.log" || fail "DPDK relay not up with 2 lcores: $(tail -n 3 "$T/relay.log")"
check_ok "DPDK relay up on 2 lcores, 2 queues"
for ((i = 0; i < 20; i++)); do
	ping -c 1 -W 1 "$RIP" >/dev/null && break
done

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

kill -TERM "$DPID"
rc=0
wait "$DPID" || rc=$?
DPID=
[ "$rc" -eq 0 ] || fail "DPDK relay exited $rc on SIGTERM, want 0"
for w in 0 1; do
	n=$(sed -n "s/.*worker $w counters:.* tcp_passive_opens=\([0-9]*\).*/\1/p" "$T/relay.log")
	[ "${n:-0}" -gt 2 ] || fail "worker $w accepted ${n:-0} connections; RSS should spread them"
	check_ok "worker $w accepted $n connections"
done
pass
