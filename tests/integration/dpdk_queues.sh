#!/usr/bin/env bash
# shellcheck disable=SC2119 # lib.sh helpers take optional arguments
# Two RX/TX queues on two lcores (net_af_packet qpairs=2): RSS spreads the
# connections, and a client whose lcore holds no tunnel of its agent is
# steered, segment by segment, to the lcore that does.
#
#   root ns (kernel TCP)                           relay ns (no kernel TCP in the path)
#   fy-load clients ──▶ 10.99.N.2:PUB ─┐
#   ferry-agent ══TLS══▶ 10.99.N.2:7000 ├─ fyo$$ 10.99.N.1 ══veth══ fyr$$ ◀─ net_af_packet ◀─ ferry-relay --backend dpdk
#      └─▶ fy-load targets 127.0.0.1   ─┘                                  (relay/net: ARP, IPv4, TCP; 10.99.N.2)
#
# A userspace TCP connection cannot move between lcores, and the agent's two
# tunnels stay on whichever lcores RSS gave them: one each, or both on one.
# 1. The agent is started again (bounded) until both tunnels share an lcore
#    (each start is a coin toss: RSS hashes the new source ports); a layout
#    with one tunnel per lcore met on the way serves 20 connections itself,
#    none steered.
# 2. Both tunnels on lcore Y, none on X: 60 connections, each 256 KiB with
#    sha256, all served, none refused; RSS gave both lcores some (X's were
#    steered to Y: steered_flows on X, steered_in on Y, read through DPDK
#    telemetry while the relay runs).
# 3. 20 downloads at once (the relay closes first, so its connections sit in
#    TIME_WAIT): right after, X still steers some flows (an entry lives as
#    long as Y holds the connection); once TIME_WAIT is over none is left,
#    and every mbuf is back in the pool (none stuck in a ring). With
#    --dpdk-syn-backlog 1, SYNs that meet on Y are answered with cookies, and
#    the ACKs completing them on X are handed over too (steer_cookie, shown).
# 4. SIGTERM: exit 0.
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
fy_alloc_port SRC
fy_alloc_port PUB_OUT

dp_certs
TOK=$(fy_token edge "$FY_PORT_RANGE")
fy_serve serve-sink "$SINK" --mode sink
fy_serve serve-src "$SRC" --mode source --bytes 64K --seed 7

dp_relay_start --workers 2 --queues 2 --dpdk-syn-backlog 1 --log-level debug
dp_relay_wait_up
grep -q "2 worker lcore(s)" "$T/relay.log" || fail "DPDK relay not up with 2 lcores: $(tail -n 3 "$T/relay.log")"
check_ok "DPDK relay up on 2 lcores, 2 queues"

# send_conns FIRST LAST: connections FIRST..LAST, 256 KiB each, sha256 checked.
send_conns() {
	local i
	for ((i = $1; i <= $2; i++)); do
		"$LOAD" send --connect "$RIP:$PUB_IN" --bytes 256K --seed "$i" --timeout 30 >"$T/conn.out" 2>&1 ||
			fail "connection $i: $(cat "$T/conn.out")"
		[ "$(field sha256 "$(cat "$T/conn.out")")" = "$(gen_sha 256K "$i")" ] || fail "connection $i: digest differs"
	done
}

# worker_stat W NAME: counter NAME of worker W, read now.
worker_stat() {
	dp_stats --worker "$1"
	dp_stat "$2"
}

# --- 1. the agent, until both its tunnels are on one lcore
ATTEMPTS=16
Y=
for ((a = 1; a <= ATTEMPTS; a++)); do
	before=$(wc -l <"$T/relay.log")
	"$AGENT_BIN" --relay "$RIP:$RELAY_PORT" --token "$TOK" --ca "$T/pki/ca.crt" --name edge \
		--io "$FY_AGENT_IO" --log-level debug --backoff-min-ms 100 --backoff-max-ms 500 \
		-R "$PUB_IN:127.0.0.1:$SINK" -R "$PUB_OUT:127.0.0.1:$SRC" >"$T/agent-edge.log" 2>&1 &
	FY_PID[agent-edge]=$!
	wait_log "$T/agent-edge.log" "session up: 2 tunnels" 20
	wait_log_count "$T/agent-edge.log" "forwarding relay port" 2 20
	layout=$(tail -n +"$((before + 1))" "$T/relay.log" |
		sed -n "s/.*agent 'edge' tunnel \([01]\)\/2 .* up on worker \([01]\)$/\2/p" | sort | tr -d '\n')
	case $layout in
	00 | 11) Y=${layout:0:1} ;;
	01)
		if [ -z "${SPLIT_DONE:-}" ]; then
			send_conns 101 120
			sleep 0.3
			grep -q "refused: the agent has no tunnel" "$T/relay.log" && fail "a client was refused for want of a tunnel"
			dp_stats
			[ "$(dp_stat steered_flows)" -eq 0 ] || fail "one tunnel per lcore, yet $(dp_stat steered_flows) clients were steered"
			check_ok "one tunnel on each lcore (attempt $a): 20 connections served, none steered"
			SPLIT_DONE=1
		fi
		;;
	*) fail "attempt $a: tunnels up on workers '$layout': $(grep 'up on worker' "$T/relay.log" | tail -n 2)" ;;
	esac
	[ -n "$Y" ] && break
	fy_agent_stop edge
	wait_log_count "$T/relay.log" "port $PUB_IN released" "$a" 20
done
[ -n "$Y" ] || fail "the agent's 2 tunnels never shared an lcore in $ATTEMPTS starts"
X=$((1 - Y))
check_ok "attempt $a: both tunnels up on worker $Y, none on worker $X"

# --- 2. clients of both lcores, X's steered to Y
flows0=$(worker_stat "$X" steered_flows)
in0=$(worker_stat "$Y" steered_in)
opens0=$(worker_stat "$Y" tcp_passive_opens)
send_conns 1 60
check_ok "60 connections, 256 KiB each, all served with the right sha256"
sleep 0.3	# the lcores publish their counters every 100 ms
grep -q "refused: the agent has no tunnel" "$T/relay.log" && fail "a client was refused for want of a tunnel"
grep -q "steering table full" "$T/relay.log" && fail "the steering table filled up: $(grep -m1 'steering table full' "$T/relay.log")"
flows=$(($(worker_stat "$X" steered_flows) - flows0))
out=$(worker_stat "$X" steered_out)
in=$(($(worker_stat "$Y" steered_in) - in0))
opens=$(($(worker_stat "$Y" tcp_passive_opens) - opens0))
[ "$flows" -gt 2 ] || fail "worker $X steered $flows clients; RSS should give it some of 60"
[ "$((60 - flows))" -gt 2 ] || fail "worker $Y got only $((60 - flows)) of 60 clients from RSS"
{ [ "$in" -gt 0 ] && [ "$out" -gt 0 ]; } || fail "steered_out=$out on worker $X, steered_in=$in on worker $Y"
[ "$opens" -ge 60 ] || fail "worker $Y opened $opens connections, want all 60"
check_ok "RSS: $((60 - flows)) clients on worker $Y, $flows on worker $X steered to it ($out segments out, $in in); worker $Y served all 60"

# --- 3. downloads: the relay's ends in TIME_WAIT keep their entries, then none
want=$(gen_sha 64K 7)
for ((i = 1; i <= 20; i++)); do
	fy_bg "recv$i" "$LOAD" recv --connect "$RIP:$PUB_OUT" --bytes 64K --seed 7 --timeout 30
done
for ((i = 1; i <= 20; i++)); do
	fy_bg_wait "recv$i"
	[ "$FY_RC" -eq 0 ] || fail "download $i: $(fy_result "recv$i") (exit $FY_RC)"
	[ "$(field sha256 "$(fy_result "recv$i")")" = "$want" ] || fail "download $i: digest differs: $(fy_result "recv$i")"
done
sleep 0.3
tw=$(worker_stat "$X" steer_entries)
[ "$tw" -gt 0 ] || fail "20 downloads just ended, worker $X steers no flow: were none of them RSS's for it, or was an entry dropped before TIME_WAIT ended?"
check_ok "20 downloads at once, all with the right sha256 ($(dp_stat steer_cookie) cookie handshakes completed on worker $X and handed over); worker $X still steers $tw flows whose connections are in TIME_WAIT on worker $Y"
for ((i = 0; i < 100; i++)); do
	dp_stats --worker "$X"
	[ "$(dp_stat steer_entries)" -eq 0 ] && break
	sleep 0.1
done
[ "$(dp_stat steer_entries)" -eq 0 ] || fail "idle for 10 s, worker $X still steers $(dp_stat steer_entries) flows"
check_ok "TIME_WAIT over ($(worker_stat "$Y" tcp_timewait_expired) expired on worker $Y): worker $X steers no flow any more"
dp_stats --worker "$X"
[ "$(dp_stat steer_forget_lost)" -eq 0 ] || fail "$(dp_stat steer_forget_lost) forget messages lost"
for ((i = 0; i < 50; i++)); do
	dp_stats
	# Each lcore may hold the mbuf its next frame will be built in.
	[ "$(dp_stat pool_avail)" -ge $(($(dp_stat pool_size) - 2)) ] && break
	sleep 0.1
done
[ "$(dp_stat pool_avail)" -ge $(($(dp_stat pool_size) - 2)) ] ||
	fail "idle, but only $(dp_stat pool_avail) of $(dp_stat pool_size) mbufs are back in the pool"
check_ok "idle: $(dp_stat pool_avail) of $(dp_stat pool_size) mbufs back in the pool"

dp_relay_stop_ok
grep -o "worker [01] counters:.*" "$T/relay.log" | grep -o "worker [01]\|steer[a-z_]*=[0-9]*" | tr '\n' ' '
echo
pass
