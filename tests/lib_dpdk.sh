# shellcheck shell=bash
# Helpers for the DPDK relay scenarios (tests/integration/dpdk_*.sh). Source it
# after lib.sh and fy_init:
#
#   . "$(dirname "$0")/../lib.sh"
#   . "$(dirname "$0")/../lib_dpdk.sh"
#   fy_init 22600
#   dp_require nft           # root, a relay with the DPDK backend, [nft]
#   dp_topology 10.99 fy     # tests/topo/topo.sh with the root namespace on its
#                            # internet NET=10.99.X (veth fyo$$, HIP=NET.1) and the relay's
#                            # namespace fy$$-relay (DPDK on its eth0, RIP=NET.2)
#                            # (or dp_pick_net 10.99 alone: a port of the relay's own,
#                            # e.g. dp_relay_start --vdev net_tap0,iface=...)
#   dp_certs                 # CA + relay certificate for $RIP in $T/pki
#   dp_relay_start --workers 1 --dpdk-mbufs 8191 --log-level debug
#   dp_relay_wait_up         # "on port" line in relay.log, ICMP echo from $RIP
#   ...
#   dp_stats; dp_stat tx_fail  # counters while it runs (DPDK telemetry)
#   dp_relay_stop_ok         # SIGTERM, must exit 0
#
# The relay runs inside the namespace on net_af_packet over its port (VR, eth0 there),
# with its own TCP on $RIP:$RELAY_PORT (7000); everything else runs in the root
# namespace and reaches it over the topology's bridge through $VO (NET.1). Its PID
# is DPID (not in FY_PID: dp_exit, the EXIT trap that dp_topology sets, stops it
# before the namespaces go). The addresses are the topology's (tests/topo/addrs).
# Needs root (namespaces, veth) and a build with DPDK.

# shellcheck source=SCRIPTDIR/topo/topo.sh
. "$FY_ROOT/tests/topo/topo.sh"

NS=
NSE=
NSC=
VO=
VR=
NET=
RIP=
HIP=
EIP=
CIP=
DPID=
DP_ARGS=()

# dp_require [nft]: skip unless root and a relay built with the DPDK backend;
# with nft, fail unless nftables is installed (dp_loss needs it).
dp_require() {
	[ "$(id -u)" -eq 0 ] || skip "needs root for network namespaces"
	"$RELAY_BIN" --help | grep -q -- "--backend kernel|dpdk" || skip "relay built without DPDK"
	"$RELAY_BIN" --backend dpdk --cert x --key x --tokens x --dpdk-ip 1.2.3.4/24 --dpdk-eal "--version" \
		2>&1 | grep -q "no DPDK backend" && skip "relay built without the DPDK backend (libdpdk-dev missing)"
	if [ "${1:-}" = nft ]; then
		command -v nft >/dev/null || fail "nft (nftables) is needed"
	fi
	return 0
}

# dp_exit: the EXIT trap. Stops the clients (fy-load, fy-synflood), then the relay
# (SIGTERM first, so relay.log gets its counters for the post-mortem, then SIGKILL),
# removes the loss table, the EAL runtime directory and the topology (its
# namespaces and the root namespace's veth), then runs fy_cleanup.
dp_exit() {
	local rc=$? l k
	set +e
	trap - EXIT
	for l in "${!FY_PID[@]}"; do
		case $l in relay | agent-* | serve-*) continue ;; esac
		fy_stop "$l" TERM 5
	done
	if [ -n "$DPID" ]; then
		kill -TERM "$DPID" 2>/dev/null
		for ((k = 0; k < 100; k++)); do fy_alive "$DPID" || break; sleep 0.05; done
		kill -KILL "$DPID" 2>/dev/null
		wait "$DPID" 2>/dev/null
		DPID=
		grep -o 'worker [0-9]* counters:.*' "$T/relay.log" 2>/dev/null
	fi
	nft delete table inet "fyloss$$" 2>/dev/null
	rm -rf "/var/run/dpdk/$DP_PREFIX"	# the EAL leaves its runtime directory
	# Agents and targets may run in the namespaces: stop them before they go.
	for l in "${!FY_PID[@]}"; do
		case $l in agent-* | serve-*) fy_stop "$l" TERM 10 ;; esac
	done
	topo_down
	(exit "$rc")
	fy_cleanup
}

# dp_pick_net PREFIX: the topology's internet as NET=PREFIX.X, a /24 the root
# namespace has no route into yet (topo_pick_inet); its addresses: RIP (the relay),
# HIP (the root namespace, when it joins); RELAY_PORT=7000; sets the EXIT trap dp_exit.
dp_pick_net() {
	NET=$(topo_pick_inet "$1")
	topo_addrs "$NET"
	RIP=$TOPO_RELAY_IP
	# shellcheck disable=SC2034 # for the scenarios
	HIP=$TOPO_HOST_IP
	RELAY_PORT=7000
	trap dp_exit EXIT
}

# dp_topology PREFIX TAG: the topology with only the relay and the root namespace on
# its internet (dp_pick_net): the relay's namespace ${TAG}$$-relay (NS) with the
# DPDK port eth0 (VR, RIP = NET.2), the root namespace on veth ${TAG}o$$ (VO) as
# NET.1. Sets NS VO VR NET RIP HIP RELAY_PORT and the EXIT trap dp_exit.
dp_topology() {
	VO=${2}o$$
	dp_pick_net "$1"
	topo_up --prefix "$2$$" --inet "$NET" --sites none --no-client --relay dpdk --host "$VO" ||
		fail "could not build the topology (tests/topo/topo.sh)"
	NS=$(topo_ns relay)
	VR=eth0
}

# dp_topology3 PREFIX TAG: the whole topology (tests/topo/topo.sh; its own addresses,
# PREFIX is not needed) with one site, the relay on DPDK: the relay's namespace
# (NS; port VR = eth0 for DPDK, RIP), the edge's ${TAG}$$-edge-a behind its NAT
# router (NSE; EIP: the agent and its services) and the client's ${TAG}$$-client
# (NSC; CIP). Sets those and RELAY_PORT, and the EXIT trap dp_exit.
dp_topology3() {
	RELAY_PORT=7000
	trap dp_exit EXIT
	topo_up --prefix "$2$$" --sites a --relay dpdk || fail "could not build the topology (tests/topo/topo.sh)"
	# shellcheck disable=SC2034 # for the scenarios
	{
		NS=$(topo_ns relay) NSE=$(topo_ns edge-a) NSC=$(topo_ns client) VR=eth0
		NET=$TOPO_INET RIP=$TOPO_RELAY_IP EIP=$TOPO_EDGE_A_IP CIP=$TOPO_CLIENT_IP
	}
}

# dp_certs: a CA and a relay certificate for $RIP and localhost in $T/pki.
dp_certs() {
	"$RELAY_BIN" cert init --dir "$T/pki" --name "$RIP,localhost" >"$T/cert.out" 2>&1 ||
		fail "cert init: $(cat "$T/cert.out")"
}

# dp_relay_args [--workers N] [--queues N] [--vdev VDEV] [ARGS...]: the relay's
# arguments into DP_ARGS: N worker lcores (0..N-1, default 1), N RX/TX queue pairs
# on the net_af_packet port over $VR (net_af_xdp with FY_DPDK_PMD=af_xdp; default 1
# queue; or the port VDEV), listening on
# 0.0.0.0:$RELAY_PORT as $RIP/24, the certificates and tokens in $T, then ARGS
# (--dpdk-mbufs, --log-level, ...). The EAL's --file-prefix is DP_PREFIX, so its
# telemetry socket (dp_stats) is ours alone.
DP_PREFIX=fy$$
dp_relay_args() {
	local workers=1 queues=1 lcores vdev=
	while [ $# -gt 0 ]; do
		case $1 in
		--workers) workers=$2 ;;
		--queues) queues=$2 ;;
		--vdev) vdev=$2 ;;
		*) break ;;
		esac
		shift 2
	done
	lcores=$(seq -s, 0 $((workers - 1)))
	if [ -z "$vdev" ]; then
		case ${FY_DPDK_PMD:-af_packet} in
		af_packet)
			vdev=net_af_packet0,iface=$VR
			[ "$queues" -eq 1 ] || vdev=$vdev,qpairs=$queues
			;;
		af_xdp)
			vdev=net_af_xdp0,iface=$VR
			[ "$queues" -eq 1 ] || vdev=$vdev,queue_count=$queues
			;;
		*) fail "FY_DPDK_PMD must be af_packet or af_xdp, not '$FY_DPDK_PMD'" ;;
		esac
	fi
	DP_ARGS=(--backend dpdk --workers "$workers" --listen "0.0.0.0:$RELAY_PORT" --dpdk-ip "$RIP/24"
		--dpdk-eal "-l $lcores --no-huge -m 512 --no-pci --no-shconf --file-prefix=$DP_PREFIX --vdev=$vdev --log-level=lib.eal:error"
		--cert "$T/pki/relay.crt" --key "$T/pki/relay.key" --tokens "$T/tokens" "$@")
}

# dp_stats [ARGS...]: the running relay's counters ("name value" lines, from DPDK
# telemetry through `ferry-relay stats`) into DP_STATS; fails when they cannot be
# read. dp_stat NAME: one of them from DP_STATS (0 when absent: zeros are left out).
dp_stats() {
	DP_STATS=$("$RELAY_BIN" stats --prefix "$DP_PREFIX" "$@" 2>&1) ||
		fail "ferry-relay stats --prefix $DP_PREFIX $*: $DP_STATS"
}
dp_stat() {
	local v
	v=$(awk -v n="$1" '$1 == n { print $2 }' <<<"$DP_STATS")
	echo "${v:-0}"
}

# dp_relay_start [--workers N] [--queues N] [--vdev VDEV] [ARGS...]: start the relay
# (arguments as for dp_relay_args) in the namespace (or, without one, in ours), in
# the background, output appended to $T/relay.log; its PID in DPID (and
# FY_RELAY_PID).
dp_relay_start() {
	local netns=()
	dp_relay_args "$@"
	[ -n "$NS" ] && netns=(ip netns exec "$NS")
	"${netns[@]}" "$RELAY_BIN" "${DP_ARGS[@]}" >>"$T/relay.log" 2>&1 &
	DPID=$!
	# shellcheck disable=SC2034 # lib.sh's name for the relay's PID
	FY_RELAY_PID=$DPID
}

# dp_relay_wait_up [WHAT]: within 10 s relay.log says "ferry-relay (dpdk) on port"
# (fails at once if the relay exits; WHAT qualifies "DPDK relay" in that message),
# then within 20 pings the relay answers ICMP echo at $RIP (ARP resolved too), from
# the client namespace with dp_topology3.
dp_relay_wait_up() {
	local what=${1:+ $1} i
	for ((i = 0; i < 100; i++)); do
		grep -q "ferry-relay (dpdk) on port" "$T/relay.log" && break
		fy_alive "$DPID" || fail "DPDK relay$what exited at start: $(tail -n 5 "$T/relay.log")"
		sleep 0.1
	done
	grep -q "ferry-relay (dpdk) on port" "$T/relay.log" || fail "DPDK relay not up after 10 s"
	for ((i = 0; i < 20; i++)); do
		${NSC:+ip netns exec "$NSC"} ping -c 1 -W 1 "$RIP" >/dev/null && break
	done
	[ "$i" -lt 20 ] || fail "no ICMP echo reply from the DPDK relay at $RIP in 20 tries"
	return 0
}

# dp_relay_stop_ok: SIGTERM the relay; it must exit 0.
dp_relay_stop_ok() {
	local rc=0
	kill -TERM "$DPID"
	wait "$DPID" || rc=$?
	DPID=
	# shellcheck disable=SC2034 # lib.sh's name for the relay's PID
	FY_RELAY_PID=
	[ "$rc" -eq 0 ] || fail "DPDK relay exited $rc on SIGTERM, want 0"
}

# dp_loss PERCENT|off: drop PERCENT % of the packets each way on $VO at random
# (an nftables table fyloss$$; netem is not in this kernel), or remove that table.
dp_loss() {
	if [ "$1" = off ]; then
		nft delete table inet "fyloss$$" || fail "nft: could not delete table inet fyloss$$"
		return 0
	fi
	nft delete table inet "fyloss$$" 2>/dev/null || true
	nft -f - <<NFT || fail "nft: could not add the $1% loss table fyloss$$"
table inet fyloss$$ {
	chain out { type filter hook output priority 0; oifname "$VO" numgen random mod 100 < $1 drop; }
	chain in { type filter hook input priority 0; iifname "$VO" numgen random mod 100 < $1 drop; }
}
NFT
}
