# shellcheck shell=bash
# tests/topo/topo.sh: ferry's test topology, as network namespaces (and, inside a VM,
# that VM's own part of it). Its addresses are in tests/topo/addrs and nowhere else.
#
#                     "internet" INET.0/24: a bridge (br0) in namespace PFX-inet
#   PFX-client ─────────┤ .4   curl, ssh: the public client
#   PFX-relay  ─────────┤ .2   ferry-relay (eth0; .3 on dpdk0 with --dpdk-port)
#   root ns (--host IF) ┤ .1   only when asked: then INET must be a /24 of the run's own
#   PFX-nat-a  ─────────┤ .11  wan0 │ masquerade, only established traffic back in
#                               lan0 LAN_A.1 ── PFX-edge-a eth0 LAN_A.12 (ferry-agent, services)
#   PFX-nat-b  ─────────┤ .12  wan0 │ the same
#                               lan0 LAN_B.1 ── PFX-edge-b eth0 LAN_B.5
#
# The relay reaches neither edge, the edges reach each other not at all, the client
# reaches only the relay: every byte between them goes through the relay. A router
# keeps no mapping it did not see open (nf_conntrack_tcp_loose=0), so flushing its
# conntrack table (conntrack -F in PFX-nat-a) cuts the site off as a NAT reboot or a
# mapping timeout does: mid-stream packets are dropped, both ways, silently.
# Each site has a private name: intranet.site-a (intranet.site-b) is 127.0.0.1 in edge-a
# (edge-b) and unknown everywhere else (ip netns exec mounts /etc/netns/NS/hosts over
# /etc/hosts), for tests of what only a site can resolve.
# Nothing of it lives in the root namespace (unless --host) but those hosts files:
# teardown is deleting the namespaces and them. Building it takes about 0.1 s.
#
# Used by tests/integration/topo_edges.sh, sbc_qemu.sh, vagrant_validate.sh, tests/lib_dpdk.sh
# (dp_topology, dp_topology3), bench/run (--topology netns), tests/topo/scenarios/lib.sh
# (the addresses) and, inside each VM, vagrant/provision.sh (topo.sh vm). Sourced:
#   . tests/topo/topo.sh
#   topo_up [--prefix PFX] [--sites "a b"|a|b|none] [--no-client] [--relay kernel|dpdk]
#           [--dpdk-port] [--host IF] [--inet A.B.C] [--open]
#       --relay dpdk   the relay's eth0 has no kernel address: a DPDK process in PFX-relay
#                      takes it (net_af_packet/af_xdp, iface=eth0) as RELAY_IP
#       --dpdk-port    a second port for a DPDK relay beside the kernel one: dpdk0, no
#                      kernel address, RELAY_DPDK_IP
#                      (a DPDK port's bridge side completes TCP checksums in software,
#                      `ethtool -K tx off`: DPDK reads raw frames, which veths otherwise
#                      leave with checksums for "hardware" to fill in)
#       --host IF      the root namespace joins the internet as HOST_IP on veth IF;
#                      pair it with --inet "$(topo_pick_inet 10.99)"
#       --open         the sites also accept connections from the internet (the relay,
#                      client and host get routes to the LANs): for baselines that need
#                      to reach a target directly (bench/run's "direct" and "socat")
#   topo_ns ROLE            the namespace of ROLE (inet relay client nat-a edge-a nat-b edge-b)
#   topo_down [PFX]         delete every namespace PFX-* (processes still in them are
#                           ended first, by PID, and named on stderr), and --host's veth
#   topo_addrs [INET]       TOPO_* variables: TOPO_RELAY_IP, TOPO_CLIENT_IP, TOPO_HOST_IP,
#                           TOPO_RELAY_DPDK_IP, TOPO_NAT_A_IP (its WAN side), TOPO_GW_A_IP
#                           (its LAN side), TOPO_EDGE_A_IP, TOPO_LAN_A (first 3 octets), ...
#   topo_pick_inet PREFIX   PREFIX.X, a /24 the root namespace has no route into (for --host)
#   topo_vm ROLE IFACE      inside a VM: configure this machine as ROLE (relay, client,
#                           site-a, site-b: router + edge namespace "edge-a"), IFACE being
#                           its port on the internet (vagrant/provision.sh)
# Run directly: tests/topo/topo.sh up [OPTIONS] | down PFX | vm ROLE IFACE | addrs
# Needs root, iproute2, nftables (and ethtool for DPDK ports).

TOPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOPO_PFX=${TOPO_PFX:-}
TOPO_HOST_IF=
TOPO_SITES_UP=

# topo_addrs [INET]: the plan from tests/topo/addrs into TOPO_*, and every address.
# shellcheck disable=SC2034,SC2153 # TOPO_* are read by the callers, set by the loop
topo_addrs() {
	local k v s S
	while IFS='=' read -r k v; do
		[[ $k =~ ^[A-Z][A-Z_]*$ ]] || continue
		printf -v "TOPO_$k" '%s' "$v"
	done <"$TOPO_DIR/addrs"
	[ -z "${1:-}" ] || TOPO_INET=$1
	TOPO_HOST_IP=$TOPO_INET.$TOPO_HOST
	TOPO_RELAY_IP=$TOPO_INET.$TOPO_RELAY
	TOPO_RELAY_DPDK_IP=$TOPO_INET.$TOPO_RELAY_DPDK
	TOPO_CLIENT_IP=$TOPO_INET.$TOPO_CLIENT
	for s in a b; do
		S=${s^^}
		v=TOPO_NAT_$S; printf -v "TOPO_NAT_${S}_IP" '%s' "$TOPO_INET.${!v}"
		k=TOPO_LAN_$S
		v=TOPO_GW_$S; printf -v "TOPO_GW_${S}_IP" '%s' "${!k}.${!v}"
		v=TOPO_EDGE_$S; printf -v "TOPO_EDGE_${S}_IP" '%s' "${!k}.${!v}"
	done
}

# topo_site_ip SITE WHAT: the address of WHAT (NAT, GW, EDGE) of site a or b.
topo_site_ip() {
	local v="TOPO_${2}_${1^^}_IP"
	printf '%s\n' "${!v}"
}

topo_ns() { printf '%s-%s\n' "$TOPO_PFX" "$1"; }

# topo_pick_inet PREFIX: PREFIX.X with X from our PID, moved on while the root
# namespace already has a route into it (another run beside us).
topo_pick_inet() {
	local x k
	x=$(($$ % 200 + 20))
	for ((k = 0; k < 30; k++)); do
		ip -4 route show "$1.$x.0/24" | grep -q . || break
		x=$(((x - 19) % 200 + 20))
	done
	printf '%s.%s\n' "$1" "$x"
}

# _topo_in NS CMD...: CMD in namespace NS ("" = this one).
_topo_in() {
	local ns=$1
	shift
	if [ -n "$ns" ]; then ip netns exec "$ns" "$@"; else "$@"; fi
}

# _topo_nat_rules WAN LAN LANNET OPEN: a home router's ruleset: the LAN goes out
# through WAN masqueraded; only what belongs to a connection it opened (conntrack
# established/related) comes back in; nothing reaches the router itself from WAN.
# OPEN=1 also forwards new connections from WAN to the LAN (no masquerade on them).
_topo_nat_rules() {
	local open_rule=
	[ "$4" = 1 ] && open_rule="iifname \"$1\" oifname \"$2\" ip daddr $3 accept"
	cat <<-NFT
		table ip ferry_nat {
			chain forward {
				type filter hook forward priority filter; policy drop;
				ct state established,related accept
				ct state invalid drop
				iifname "$2" oifname "$1" accept
				$open_rule
			}
			chain input {
				type filter hook input priority filter; policy accept;
				iifname "$1" ct state established,related accept
				iifname "$1" drop
			}
			chain postrouting {
				type nat hook postrouting priority srcnat; policy accept;
				oifname "$1" ip saddr $3 masquerade
			}
		}
	NFT
}

# Building goes through batches: the lines for `ip -b` of each namespace ("" = this
# one) and the rest (sysctl, nft) per namespace, run namespace by namespace in
# _TOPO_ORDER: some 20 processes for the whole topology instead of 100.
declare -A _TOPO_B=() _TOPO_POST=()
_TOPO_ORDER=()
_b() {
	local k=${1:-.}
	[ -n "${_TOPO_B[$k]+x}" ] || _TOPO_ORDER+=("$k")
	_TOPO_B[$k]+="$2"$'\n'
}
_post() { _TOPO_POST[${1:-.}]+="$2"$'\n'; }
_topo_flush() {
	local k ns
	for k in "${_TOPO_ORDER[@]}"; do
		ns=${k#.}
		ip ${ns:+-n "$ns"} -b - <<<"${_TOPO_B[$k]}"
	done
	for k in "${!_TOPO_POST[@]}"; do
		_topo_in "${k#.}" sh -ec "${_TOPO_POST[$k]}"
	done
	_TOPO_B=() _TOPO_POST=() _TOPO_ORDER=()
}

# _topo_site SITE ROUTER_NS EDGE_NS WAN OPEN: the router side of site a|b (in
# ROUTER_NS, "" = this namespace, whose port WAN is on the internet already) and
# its edge namespace EDGE_NS (which must exist) behind it on a veth.
# _topo_site_hosts NS SITE: the site's private name, for processes started in NS.
_topo_site_hosts() {
	mkdir -p "/etc/netns/$1"
	printf '127.0.0.1\tlocalhost\n::1\tlocalhost\n127.0.0.1\tintranet.site-%s\n' "$2" \
		>"/etc/netns/$1/hosts"
}

_topo_site() {
	local s=$1 rns=$2 ens=$3 wan=$4 open=$5 lan gw edge
	_topo_site_hosts "$ens" "$s"
	lan=TOPO_LAN_${s^^}
	lan=${!lan}
	gw=$(topo_site_ip "$s" GW)
	edge=$(topo_site_ip "$s" EDGE)
	_b "$rns" "link add lan0 type veth peer name eth0 netns $ens"
	_b "$rns" "addr add $gw/24 dev lan0"
	_b "$rns" "link set lan0 up"
	_b "$ens" "link set lo up"
	_b "$ens" "addr add $edge/24 dev eth0"
	_b "$ens" "link set eth0 up"
	_b "$ens" "route add default via $gw"
	_post "$rns" "sysctl -qw net.ipv4.ip_forward=1"
	_post "$rns" "nft -f - <<'NFT'
$(_topo_nat_rules "$wan" lan0 "$lan.0/24" "$open")
NFT"
	# The ruleset loaded conntrack here: a packet of no known connection is now
	# "invalid" (dropped), not taken up as if the connection were new.
	_post "$rns" "sysctl -qw net.netfilter.nf_conntrack_tcp_loose=0"
	# --open carries short-lived baseline connections too: let their TIME_WAIT
	# entries go sooner than the 120 s default.
	[ "$open" != 1 ] || _post "$rns" "sysctl -qw net.netfilter.nf_conntrack_tcp_timeout_time_wait=10"
}

# _topo_host_on ROLE IF: namespace ROLE on the internet bridge, as IF there.
_topo_host_on() {
	local sw ns
	sw=$(topo_ns inet)
	ns=$(topo_ns "$1")
	_b "$sw" "link add $1 type veth peer name $2 netns $ns"
	_b "$sw" "link set $1 master br0 up"
	_b "$ns" "link set $2 up"
}

# _topo_ns_add ROLE: a namespace for ROLE. A new namespace takes IPv4 forwarding
# from the root namespace's, which may have it on (libvirt, Docker turn it on): only
# the routers forward, so every other host says so itself.
_topo_ns_add() {
	local ns
	ns=$(topo_ns "$1")
	_TOPO_NEW+=("netns add $ns")
	_b "$ns" "link set lo up"
	case $1 in nat-*) ;; *) _post "$ns" "sysctl -qw net.ipv4.ip_forward=0" ;; esac
}

# _topo_dpdk_if NS IF PORT: IF in NS belongs to a DPDK process: no IPv6 chatter, no
# ARP answers from the kernel for its other addresses; the bridge's PORT completes
# checksums in software.
_topo_dpdk_if() {
	_post "$1" "sysctl -qw net.ipv6.conf.$2.disable_ipv6=1 net.ipv4.conf.$2.arp_ignore=1"
	_post "$(topo_ns inet)" "ethtool -K $3 tx off >/dev/null"
}

_topo_build() {
	local relay=$1 client=$2 dpdk_port=$3 host_if=$4 open=$5 s ns sw gwns lan
	_TOPO_NEW=()
	sw=$(topo_ns inet)
	_topo_ns_add inet
	_b "$sw" "link add br0 type bridge"
	_b "$sw" "link set br0 up"
	# the routers before the edges: their batches make the edges' ports
	for s in $TOPO_SITES_UP; do _topo_ns_add "nat-$s"; done
	if [ "$relay" != none ]; then
		_topo_ns_add relay
		_topo_host_on relay eth0
		ns=$(topo_ns relay)
		if [ "$relay" = dpdk ]; then
			_topo_dpdk_if "$ns" eth0 relay
		else
			_b "$ns" "addr add $TOPO_RELAY_IP/24 dev eth0"
		fi
		if [ "$dpdk_port" = 1 ]; then
			_b "$sw" "link add dpdk type veth peer name dpdk0 netns $ns"
			_b "$sw" "link set dpdk master br0 up"
			_b "$ns" "link set dpdk0 up"
			_topo_dpdk_if "$ns" dpdk0 dpdk
		fi
	fi
	if [ "$client" = 1 ]; then
		_topo_ns_add client
		_topo_host_on client eth0
		_b "$(topo_ns client)" "addr add $TOPO_CLIENT_IP/24 dev eth0"
	fi
	if [ -n "$host_if" ]; then
		_b "" "link add $host_if type veth peer name host netns $sw"
		_b "" "addr add $TOPO_HOST_IP/24 dev $host_if"
		_b "" "link set $host_if up"
		_post "$sw" "ip link set host master br0 up"
	fi
	for s in $TOPO_SITES_UP; do
		_topo_ns_add "edge-$s"
		_topo_host_on "nat-$s" wan0
		_b "$(topo_ns "nat-$s")" "addr add $(topo_site_ip "$s" NAT)/24 dev wan0"
		_topo_site "$s" "$(topo_ns "nat-$s")" "$(topo_ns "edge-$s")" wan0 "$open"
		[ "$open" = 1 ] || continue
		lan=TOPO_LAN_${s^^}
		for gwns in relay client; do
			[ "$gwns" = relay ] && [ "$relay" != kernel ] && continue
			[ "$gwns" = client ] && [ "$client" != 1 ] && continue
			_b "$(topo_ns "$gwns")" "route add ${!lan}.0/24 via $(topo_site_ip "$s" NAT)"
		done
		[ -z "$host_if" ] || _b "" "route add ${!lan}.0/24 via $(topo_site_ip "$s" NAT)"
	done
	printf '%s\n' "${_TOPO_NEW[@]}" | ip -b -
	# the root namespace's batch (--host) needs the internet's namespace; its
	# own lines run after the bridge exists
	local order=() n
	for n in "${_TOPO_ORDER[@]}"; do [ "$n" = . ] || order+=("$n"); done
	[ -z "${_TOPO_B[.]+x}" ] || order=("${order[0]}" . "${order[@]:1}")
	_TOPO_ORDER=("${order[@]}")
	_topo_flush
}

topo_up() {
	local inet="" relay=kernel client=1 dpdk_port=0 host_if="" open=0 sites="a b"
	while [ $# -gt 0 ]; do
		case $1 in
		--prefix) TOPO_PFX=$2; shift ;;
		--inet) inet=$2; shift ;;
		--sites) sites=$2; shift ;;
		--no-client) client=0 ;;
		--relay) relay=$2; shift ;;
		--dpdk-port) dpdk_port=1 ;;
		--host) host_if=$2; shift ;;
		--open) open=1 ;;
		*) echo "topo_up: unknown option '$1'" >&2; return 2 ;;
		esac
		shift
	done
	case $relay in kernel | dpdk | none) ;; *) echo "topo_up: --relay kernel|dpdk|none" >&2; return 2 ;; esac
	[ "$sites" = none ] && sites=
	[ -n "$TOPO_PFX" ] || TOPO_PFX=fyt$$
	TOPO_SITES_UP=$sites
	topo_addrs "$inet"
	if ip netns list | grep -q "^$TOPO_PFX-"; then
		echo "topo_up: namespaces $TOPO_PFX-* exist already" >&2
		return 1
	fi
	# errexit inside the subshell only: not in an if/|| (where bash ignores it),
	# and with the caller's own errexit off meanwhile.
	local rc e=0
	case $- in *e*) e=1; set +e ;; esac
	(set -e; _topo_build "$relay" "$client" "$dpdk_port" "$host_if" "$open")
	rc=$?
	[ "$e" = 0 ] || set -e
	TOPO_HOST_IF=$host_if
	if [ "$rc" -ne 0 ]; then
		echo "topo_up: building the topology $TOPO_PFX failed" >&2
		topo_down
		return 1
	fi
}

topo_down() {
	local pfx=${1:-$TOPO_PFX} ns pids p k
	[ -n "$pfx" ] || return 0
	[ -z "$TOPO_HOST_IF" ] || ip link del "$TOPO_HOST_IF" 2>/dev/null
	TOPO_HOST_IF=
	for ns in $(ip netns list | awk -v p="$pfx-" 'index($1, p) == 1 { print $1 }'); do
		pids=$(ip netns pids "$ns" 2>/dev/null)
		if [ -n "$pids" ]; then
			echo "topo_down: still running in $ns, ended now: ${pids//$'\n'/ }" >&2
			for p in $pids; do kill -TERM "$p" 2>/dev/null; done
			for ((k = 0; k < 40; k++)); do
				[ -n "$(ip netns pids "$ns" 2>/dev/null)" ] || break
				sleep 0.05
			done
			for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
		fi
		ip netns del "$ns"
		rm -rf "/etc/netns/$ns"
	done
	return 0
}

# topo_vm ROLE IFACE: this (virtual) machine's part of the topology; IFACE is its
# port on the internet. Run again, it puts the same state back.
topo_vm() {
	local role=$1 ifc=$2 ip s
	topo_addrs
	case $role in
	relay) ip=$TOPO_RELAY_IP ;;
	client) ip=$TOPO_CLIENT_IP ;;
	site-a | site-b) s=${role#site-}; ip=$(topo_site_ip "$s" NAT) ;;
	*) echo "topo_vm: ROLE is relay, client, site-a or site-b" >&2; return 2 ;;
	esac
	ip addr flush dev "$ifc"
	ip addr add "$ip/24" dev "$ifc"
	ip link set "$ifc" up
	[ -n "${s:-}" ] || sysctl -qw net.ipv4.ip_forward=0
	if [ -n "${s:-}" ]; then
		ip netns del "edge-$s" 2>/dev/null || true
		ip link del lan0 2>/dev/null || true
		ip netns add "edge-$s"
		nft delete table ip ferry_nat 2>/dev/null || true
		_topo_site "$s" "" "edge-$s" "$ifc" 0
		_topo_flush
	fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -eu
	case ${1:-} in
	up) shift; topo_up "$@"; echo "topology $TOPO_PFX up"; topo_addrs; set | grep '^TOPO_.*_IP=' ;;
	down) [ -n "${2:-}" ] || { echo "usage: $0 down PREFIX" >&2; exit 2; }; topo_down "$2" ;;
	vm) [ $# -eq 3 ] || { echo "usage: $0 vm ROLE IFACE" >&2; exit 2; }; topo_vm "$2" "$3" ;;
	addrs) topo_addrs "${2:-}"; set | grep '^TOPO_.*_IP=' ;;
	*) echo "usage: $0 up [OPTIONS] | down PREFIX | vm ROLE IFACE | addrs [INET]" >&2; exit 2 ;;
	esac
fi
