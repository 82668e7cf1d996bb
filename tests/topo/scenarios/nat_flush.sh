#!/usr/bin/env bash
# The NAT router of the first site forgets its mappings (conntrack -F, as a router
# reboot or a mapping timeout would): from then on the packets of the agent's
# tunnels are dropped both ways, silently. The agent must notice (keepalive: no
# answer for 3 intervals) and reconnect by itself; then the site serves again.
set -u
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "$0")/lib.sh"
s=${SITES%% *}
maps=$(on "nat-$s" "conntrack -L -p tcp --dport $RELAY_PORT 2>/dev/null | grep -c ESTABLISHED") ||
	fail "nat-$s has no mapping of edge-$s's tunnels"
ok "nat-$s maps $maps tunnel connection(s) of edge-$s to the relay"
n=$(forwards "$s")
silent=$(count "edge-$s" agent.log 'relay silent')
t0=$(now_ms)
on "nat-$s" 'conntrack -F 2>/dev/null' || fail "conntrack -F on nat-$s failed"
ok "nat-$s: conntrack table flushed"
wait_forwards "$s" $((n + 2)) 60
dt=$(($(now_ms) - t0))
[ "$(count "edge-$s" agent.log 'relay silent')" -gt "$silent" ] ||
	fail "edge-$s reconnected without its keepalive noticing the dead tunnel: $(on "edge-$s" 'tail -n 12 agent.log')"
ok "edge-$s: agent noticed ('relay silent for 3 keepalive intervals') and reconnected in $dt ms (keepalive $KEEPALIVE_MS ms)"
maps=$(on "nat-$s" "conntrack -L -p tcp --dport $RELAY_PORT 2>/dev/null | grep -c ESTABLISHED") ||
	fail "nat-$s has no new mapping"
ok "nat-$s maps $maps new tunnel connection(s)"
web_sha "$s"
pass
