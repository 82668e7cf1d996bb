#!/usr/bin/env bash
# shellcheck disable=SC2119 # lib.sh helpers take optional arguments
# The DPDK relay with the smallest mbuf pool it accepts, under load:
#
#   root ns (kernel TCP)                            relay ns
#   fy-load clients ──▶ NET.2:PUB_* ─┐
#   ferry-agent ══TLS══▶ NET.2:7000 ─┼─ fpo$$ NET.1 ══veth══ fpr$$ ◀─ net_af_packet ◀─ ferry-relay --backend dpdk --dpdk-mbufs 32
#      └─▶ fy-load targets 127.0.0.1 ┘
#
# 1. --dpdk-mbufs 31 is refused before DPDK starts (exit 2, a line naming the
#    option); 32, the floor, starts. 32 mbufs are one RX burst: under load the
#    pool runs dry again and again. --dpdk-mtu 575 is refused the same way, and
#    --dpdk-mtu 9000 at port setup (af_packet's frames are 2 KiB), saying why.
# 2. All at once: 16 MiB client -> target, 16 MiB target -> client, 200 concurrent
#    echo streams; every byte checked (sha256 / echo digests); the relay alive.
#    Read while it runs (DPDK telemetry): frames were dropped for want of an mbuf
#    (tx_nombuf > 0) and TCP resent them.
# 3. It recovers: once idle every mbuf is back in the pool (none leaked); 1 MiB
#    and 20 more streams afterwards.
# 4. SIGTERM: exit 0; its counters are printed (drops by reason) and show no
#    checksum errors.
# Needs root (namespaces, veth) and a build with DPDK.
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=SCRIPTDIR/../lib_dpdk.sh
. "$(dirname "$0")/../lib_dpdk.sh"
fy_init 22800
dp_require

dp_topology 10.96 fp
MBUFS=32	# the floor of --dpdk-mbufs
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

# --- 1. the floor
rc=0
dp_relay_args --workers 1 --dpdk-mbufs $((MBUFS - 1)) --log-level info
timeout 20 ip netns exec "$NS" "$RELAY_BIN" "${DP_ARGS[@]}" >"$T/relay-floor.log" 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "--dpdk-mbufs $((MBUFS - 1)): exit $rc, want 2 (refused): $(tail -n 3 "$T/relay-floor.log")"
grep -q -- 'dpdk-mbufs' "$T/relay-floor.log" || fail "--dpdk-mbufs $((MBUFS - 1)) refused without naming the option: $(cat "$T/relay-floor.log")"
check_ok "--dpdk-mbufs $((MBUFS - 1)) refused: $(head -n 1 "$T/relay-floor.log")"

# An MTU the port cannot take: af_packet's frames are 2 KiB, so --dpdk-mtu 9000 is
# refused at port setup with the port's maximum, and the relay exits non-zero.
rc=0
dp_relay_args --workers 1 --dpdk-mtu 9000 --log-level info
timeout 20 ip netns exec "$NS" "$RELAY_BIN" "${DP_ARGS[@]}" >"$T/relay-mtu.log" 2>&1 || rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "--dpdk-mtu 9000 on af_packet: exit $rc, want a refusal: $(tail -n 3 "$T/relay-mtu.log")"
grep -Eq 'takes an MTU of at most [0-9]+, not 9000 \(--dpdk-mtu\)' "$T/relay-mtu.log" ||
	fail "--dpdk-mtu 9000 refused without saying why: $(tail -n 5 "$T/relay-mtu.log")"
check_ok "--dpdk-mtu 9000 on af_packet refused: $(grep -o 'takes an MTU.*' "$T/relay-mtu.log")"
rc=0
dp_relay_args --workers 1 --dpdk-mtu 575 --log-level info
"$RELAY_BIN" "${DP_ARGS[@]}" >"$T/relay-mtu575.log" 2>&1 || rc=$?
[ "$rc" -eq 2 ] && grep -q -- 'dpdk-mtu' "$T/relay-mtu575.log" ||
	fail "--dpdk-mtu 575: exit $rc, want 2 naming the option: $(tail -n 3 "$T/relay-mtu575.log")"
check_ok "--dpdk-mtu 575 refused before DPDK starts: $(head -n 1 "$T/relay-mtu575.log")"

dp_relay_start --workers 1 --dpdk-mbufs "$MBUFS" --log-level info
dp_relay_wait_up "with $MBUFS mbufs"
check_ok "--dpdk-mbufs $MBUFS: relay up at $RIP, answers ARP and ICMP"

"$AGENT_BIN" --relay "$RIP:$RELAY_PORT" --token "$TOK" --ca "$T/pki/ca.crt" --name edge \
	--io "$FY_AGENT_IO" --log-level debug --backoff-min-ms 300 --backoff-max-ms 1000 \
	-R "$PUB_IN:127.0.0.1:$SINK" -R "$PUB_OUT:127.0.0.1:$SRC" -R "$PUB_ECHO:127.0.0.1:$ECHO" \
	>>"$T/agent-edge.log" 2>&1 &
FY_PID[agent-edge]=$!
wait_log_count "$T/agent-edge.log" "forwarding relay port" 3 20
check_ok "agent connected and claimed 3 ports"

# --- 2. everything at once
want_in=$(gen_sha 16M 1)
want_out=$(gen_sha 16M 2)
fy_bg up "$LOAD" send --connect "$RIP:$PUB_IN" --bytes 16M --seed 1 --timeout 100
fy_bg down "$LOAD" recv --connect "$RIP:$PUB_OUT" --bytes 16M --seed 2 --timeout 100
load_ok "200 concurrent echo streams beside 2 x 16 MiB" multi --connect "$RIP:$PUB_ECHO" \
	--streams 200 --max-bytes 256K --seed 5 --timeout 100
fy_bg_wait up
[ "$FY_RC" -eq 0 ] || fail "16 MiB client -> target: $(fy_result up) (exit $FY_RC)"
[ "$(field sha256 "$(fy_result up)")" = "$want_in" ] || fail "16 MiB client -> target: digest differs: $(fy_result up)"
check_ok "16 MiB client -> target: $(fy_result up)"
fy_bg_wait down
[ "$FY_RC" -eq 0 ] || fail "16 MiB target -> client: $(fy_result down) (exit $FY_RC)"
[ "$(field sha256 "$(fy_result down)")" = "$want_out" ] || fail "16 MiB target -> client: digest differs: $(fy_result down)"
check_ok "16 MiB target -> client: $(fy_result down)"
fy_alive "$DPID" || fail "relay died under load"
dp_stats
[ "$(dp_stat tx_nombuf)" -gt 0 ] || fail "the pool of $MBUFS never ran dry (tx_nombuf=0): $DP_STATS"
[ "$(dp_stat tcp_retransmits)" -gt 0 ] || fail "frames dropped for want of mbufs, but no retransmits"
check_ok "pool ran dry and was counted: tx_nombuf=$(dp_stat tx_nombuf) tx_fail=$(dp_stat tx_fail) port_rx_nombuf=$(dp_stat port_rx_nombuf) tcp_retransmits=$(dp_stat tcp_retransmits)"

# --- 3. recovered: no mbuf leaked (the one the next frame will be built in
# aside), then still serving
for ((i = 0; i < 50; i++)); do
	dp_stats --all
	[ "$(dp_stat pool_avail)" -ge $(($(dp_stat pool_size) - 1)) ] && break
	sleep 0.1
done
[ "$(dp_stat pool_avail)" -ge $(($(dp_stat pool_size) - 1)) ] ||
	fail "idle, but only $(dp_stat pool_avail) of $(dp_stat pool_size) mbufs are back in the pool"
check_ok "idle: $(dp_stat pool_avail) of $(dp_stat pool_size) mbufs back in the pool"

want=$(gen_sha 1M 7)
load_ok "afterwards: 1 MiB" send --connect "$RIP:$PUB_IN" --bytes 1M --seed 7 --timeout 30
[ "$(field sha256 "$FY_OUT")" = "$want" ] || fail "afterwards: digest differs"
load_ok "afterwards: 20 streams" multi --connect "$RIP:$PUB_ECHO" --streams 20 --max-bytes 64K \
	--seed 6 --timeout 30

# --- 4. SIGTERM, counters
dp_relay_stop_ok
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
# The exit log carries the same drops the telemetry showed while running.
[ "$(cnt tx_nombuf)" -gt 0 ] && [ "$(cnt tx_fail)" -ge "$(cnt tx_nombuf)" ] ||
	fail "exit counters lost the pool-exhaustion drops: $counters"
check_ok "drops at exit: tx_nombuf=$(cnt tx_nombuf) tx_fail=$(cnt tx_fail)"
pass
