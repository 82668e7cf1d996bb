#!/usr/bin/env bash
# The topology is what it claims: the edges reach the relay (through their NAT,
# which the relay sees as the agent's address), but the relay and the client
# reach no edge and no router, and the edges do not reach each other.
set -u
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "$0")/lib.sh"

# shellcheck disable=SC2016 # the script for FROM expands there
# unreachable FROM IP...: from FROM, no IP answers a ping or takes a TCP connection
# (port 22) within 2 s; all probed at once.
unreachable() {
	local from=$1 out
	shift
	out=$(on "$from" 'for ip in '"$*"'; do
		{ ping -c 1 -W 2 "$ip" >/dev/null 2>&1 && echo "$ip answers ping"; } &
		{ timeout 2 bash -c "</dev/tcp/$ip/22" 2>/dev/null && echo "$ip takes TCP"; } &
	done; wait') || fail "probing from $from failed"
	[ -z "$out" ] || fail "$from reaches what it must not: $out"
}
for s in $SITES; do
	on "edge-$s" "ping -c 1 -W 5 $RELAY >/dev/null" || fail "edge-$s does not reach the relay"
	from=$(count relay relay.log "agent 'edge-$s' tunnel .* from $(topo_site_ip "$s" NAT):[0-9]+ up")
	[ "$from" -ge 1 ] || fail "the relay did not see edge-$s come from nat-$s ($(topo_site_ip "$s" NAT))"
	ok "edge-$s reaches the relay; the relay sees its tunnels come from nat-$s ($(topo_site_ip "$s" NAT))"
done
ips=
for s in $SITES; do ips="$ips $(topo_site_ip "$s" EDGE) $(topo_site_ip "$s" NAT)"; done
for who in relay client; do
	# shellcheck disable=SC2086 # one argument per address
	unreachable "$who" $ips
	ok "$who reaches no edge and no router:$ips"
done
if [ "$SITES" = "a b" ]; then
	unreachable edge-a "$TOPO_EDGE_B_IP" "$TOPO_NAT_B_IP"
	unreachable edge-b "$TOPO_EDGE_A_IP" "$TOPO_NAT_A_IP"
	ok "edge-a and edge-b do not reach each other (nor each other's router)"
fi
pass
