#!/usr/bin/env bash
# shellcheck disable=SC2119 # lib.sh helpers take optional arguments
# The DPDK relay with the smallest mbuf pool it accepts, under load:
#
#   root ns (kernel TCP)                            relay ns
#   fy-load clients ──▶ NET.2:PUB_* ─┐
#   ferry-agent ══TLS══▶ NET.2:7000 ─┼─ fpo$$ NET.1 ══veth══ fpr$$ ◀─ net_af_packet ◀─ ferry-relay --backend dpdk --dpdk-mbufs 512
#      └─▶ fy-load targets 127.0.0.1 ┘
#
# 1. --dpdk-mbufs 511 is refused before DPDK starts (exit 2, a line naming the
#    option); 512, the floor, starts.
# 2. All at once: 64 MiB client -> target, 64 MiB target -> client, 200 concurrent
#    echo streams; every byte checked (sha256 / echo digests); the relay alive.
# 3. It keeps serving: 1 MiB and 20 more streams afterwards.
# 4. SIGTERM: exit 0; its counters are printed (drops by reason, if any) and show
#    no checksum errors.
# Needs root (namespaces, veth) and a build with DPDK.
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
fy_init 22800

[ "$(id -u)" -eq 0 ] || skip "needs root for network namespaces"
"$RELAY_BIN" --help | grep -q -- "--backend kernel|dpdk" || skip "relay built without DPDK"
"$RELAY_BIN" --backend dpdk --cert x --key x --tokens x --dpdk-ip 1.2.3.4/24 --dpdk-eal "--version" \
	2>&1 | grep -q "no DPDK backend" && skip "relay built without the DPDK backend (libdpdk-dev missing)"

NS=fpr$$
VO=fpo$$
VR=fpr$$
x=$(($$ % 200 + 20))
for ((k = 0; k < 30; k++)); do
	ip -4 route show "10.96.$x.0/24" | grep -q . || break
	x=$(((x - 19) % 200 + 20))
done
NET=10.96.$x
RIP=$NET.2
RELAY_PORT=7000
MBUFS=512	# the floor of --dpdk-mbufs
fy_alloc_port SINK
fy_alloc_port SRC
fy_alloc_port ECHO
fy_alloc_port PUB_IN
fy_alloc_port PUB_OUT
fy_alloc_port PUB_ECHO
DPID=

dp_exit() {
	local rc=$?
	set +e
	trap - EXIT
	if [ -n "$DPID" ]; then
		kill -TERM "$DPID" 2>/dev/null
		for ((k = 0; k < 100; k++)); do fy_alive "$DPID" || break; sleep 0.05; done
		kill -KILL "$DPID" 2>/dev/null
		wait "$DPID" 2>/dev/null
		grep -o 'worker [0-9]* counters:.*' "$T/relay.log"
	fi
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
ethtool -K "$VO" tx off >/dev/null 2>&1 || fail "ethtool -K $VO tx off failed"

"$RELAY_BIN" cert init --dir "$T/pki" --name "$RIP,localhost" >"$T/cert.out" 2>&1 ||
	fail "cert init: $(cat "$T/cert.out")"
TOK=$(fy_token edge "$FY_PORT_RANGE")
fy_serve serve-sink "$SINK" --mode sink
fy_serve serve-src "$SRC" --mode source --bytes 64M --seed 2
fy_serve serve-echo "$ECHO" --mode echo

EAL="-l 0 --no-huge -m 512 --no-pci --no-shconf --vdev=net_af_packet0,iface=$VR --log-level=lib.eal:error"
relay_args() {
	printf '%s\n' --backend dpdk --workers 1 --listen "0.0.0.0:$RELAY_PORT" --dpdk-ip "$RIP/24" \
		--dpdk-mbufs "$1" --dpdk-eal "$EAL" --cert "$T/pki/relay.crt" --key "$T/pki/relay.key" \
		--tokens "$T/tokens" --log-level info
}

# --- 1. the floor
rc=0
mapfile -t args < <(relay_args $((MBUFS - 1)))
timeout 20 ip netns exec "$NS" "$RELAY_BIN" "${args[@]}" >"$T/relay-511.log" 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "--dpdk-mbufs $((MBUFS - 1)): exit $rc, want 2 (refused): $(tail -n 3 "$T/relay-511.log")"
grep -q -- 'dpdk-mbufs' "$T/relay-511.log" || fail "--dpdk-mbufs $((MBUFS - 1)) refused without naming the option: $(cat "$T/relay-511.log")"
check_ok "--dpdk-mbufs $((MBUFS - 1)) refused: $(head -n 1 "$T/relay-511.log")"

mapfile -t args < <(relay_args "$MBUFS")
ip netns exec "$NS" "$RELAY_BIN" "${args[@]}" >>"$T/relay.log" 2>&1 &
DPID=$!
for ((i = 0; i < 100; i++)); do
	grep -q "ferry-relay (dpdk) on port" "$T/relay.log" && break
	fy_alive "$DPID" || fail "DPDK relay with $MBUFS mbufs exited at start: $(tail -n 5 "$T/relay.log")"
	sleep 0.1
done
grep -q "ferry-relay (dpdk) on port" "$T/relay.log" || fail "DPDK relay not up after 10 s"
for ((i = 0; i < 20; i++)); do
	ping -c 1 -W 1 "$RIP" >/dev/null && break
done
[ "$i" -lt 20 ] || fail "no ICMP echo reply from the DPDK relay at $RIP in 20 tries"
check_ok "--dpdk-mbufs $MBUFS: relay up at $RIP, answers ARP and ICMP"

"$AGENT_BIN" --relay "$RIP:$RELAY_PORT" --token "$TOK" --ca "$T/pki/ca.crt" --name edge \
	--io "$FY_AGENT_IO" --log-level debug --backoff-min-ms 300 --backoff-max-ms 1000 \
	-R "$PUB_IN:127.0.0.1:$SINK" -R "$PUB_OUT:127.0.0.1:$SRC" -R "$PUB_ECHO:127.0.0.1:$ECHO" \
	>>"$T/agent-edge.log" 2>&1 &
FY_PID[agent-edge]=$!
wait_log_count "$T/agent-edge.log" "forwarding relay port" 3 20
check_ok "agent connected and claimed 3 ports"

# --- 2. everything at once
want_in=$(gen_sha 64M 1)
want_out=$(gen_sha 64M 2)
fy_bg up "$LOAD" send --connect "$RIP:$PUB_IN" --bytes 64M --seed 1 --timeout 100
fy_bg down "$LOAD" recv --connect "$RIP:$PUB_OUT" --bytes 64M --seed 2 --timeout 100
load_ok "200 concurrent echo streams beside 2 x 64 MiB" multi --connect "$RIP:$PUB_ECHO" \
	--streams 200 --max-bytes 256K --seed 5 --timeout 100
fy_bg_wait up
[ "$FY_RC" -eq 0 ] || fail "64 MiB client -> target: $(fy_result up) (exit $FY_RC)"
[ "$(field sha256 "$(fy_result up)")" = "$want_in" ] || fail "64 MiB client -> target: digest differs: $(fy_result up)"
check_ok "64 MiB client -> target: $(fy_result up)"
fy_bg_wait down
[ "$FY_RC" -eq 0 ] || fail "64 MiB target -> client: $(fy_result down) (exit $FY_RC)"
[ "$(field sha256 "$(fy_result down)")" = "$want_out" ] || fail "64 MiB target -> client: digest differs: $(fy_result down)"
check_ok "64 MiB target -> client: $(fy_result down)"
fy_alive "$DPID" || fail "relay died under load"

# --- 3. still serving
want=$(gen_sha 1M 7)
load_ok "afterwards: 1 MiB" send --connect "$RIP:$PUB_IN" --bytes 1M --seed 7 --timeout 30
[ "$(field sha256 "$FY_OUT")" = "$want" ] || fail "afterwards: digest differs"
load_ok "afterwards: 20 streams" multi --connect "$RIP:$PUB_ECHO" --streams 20 --max-bytes 64K \
	--seed 6 --timeout 30

# --- 4. SIGTERM, counters
kill -TERM "$DPID"
rc=0
wait "$DPID" || rc=$?
DPID=
[ "$rc" -eq 0 ] || fail "DPDK relay exited $rc on SIGTERM, want 0"
summary=$(grep -o 'worker 0: .*' "$T/relay.log" | tail -n 1)
counters=$(grep -o 'worker 0 counters:.*' "$T/relay.log" | tail -n 1)
if [ -z "$summary" ] || [ -z "$counters" ]; then
	fail "no per-worker counters in relay.log at exit"
fi
check_ok "SIGTERM: relay exited 0 ($summary)"
fy_say "$counters"
cnt() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$counters"; }
for c in ip_bad_csum tcp_bad_csum; do
	[ -z "$(cnt $c)" ] || fail "$c=$(cnt $c) at exit"
done
check_ok "drops at exit: tx_fail=$(cnt tx_fail) tcp_alloc_fail=$(cnt tcp_alloc_fail) arp_queue_drop=$(cnt arp_queue_drop) (empty: 0)"
pass
