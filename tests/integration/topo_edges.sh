#!/usr/bin/env bash
# shellcheck disable=SC2119 # lib.sh helpers take optional arguments
# The test topology (tests/topo/topo.sh) as network namespaces: a relay and a
# public client on an "internet" bridge, two sites each behind its own NAT router
# (masquerade, only established traffic back in) with an edge running ferry-agent
# and private services; then the same scenarios vagrant/run runs in VMs
# (tests/topo/run.sh on the netns backend):
#
#   isolation      the relay and the client reach no edge, the edges not each other;
#                  the relay sees each agent come from its router's address
#   web_ssh        curl and ssh from the client to both edges through the relay,
#                  checked by sha256
#   edge_to_edge   site to site: ssh through -L and with ProxyCommand -W, curl through
#                  -D by a name only the far site resolves, a target not allowed; DNS
#                  from the client through -R udp
#   agent_restart  SIGKILL an agent: its ports go, the other site serves; restarted,
#                  it serves again
#   nat_flush      conntrack -F on a router: the agent's keepalive notices the dead
#                  tunnel and it reconnects by itself
#   relay_restart  SIGTERM the relay and start it again: every agent comes back
# Needs root, nftables, conntrack, busybox (httpd), curl, ssh, sshd.
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
fy_init 25000
[ "$(id -u)" -eq 0 ] || skip "needs root for network namespaces"
for t in nft conntrack busybox curl ssh ssh-keygen ping dig python3; do
	command -v "$t" >/dev/null || fail "$t is needed (scripts/deps.sh test installs it)"
done
[ -x /usr/sbin/sshd ] || fail "/usr/sbin/sshd is needed (scripts/deps.sh installs openssh-server)"
# shellcheck source=SCRIPTDIR/../topo/topo.sh
. "$FY_ROOT/tests/topo/topo.sh"

topo_exit() {
	local rc=$?
	set +e
	trap - EXIT
	if [ -n "${TOPO_PFX:-}" ]; then
		TOPO_BACKEND=netns TOPO_WORK=$T/roles TOPO_BIN=$T/bin bash -c \
			". '$FY_ROOT/tests/topo/drive.sh'; on_stop_all" 2>/dev/null
		topo_down
	fi
	(exit "$rc")
	fy_cleanup
}
trap topo_exit EXIT

t0=$(date +%s%N)
topo_up --prefix "fye$$" || fail "topo_up failed"
check_ok "topology up in $((($(date +%s%N) - t0) / 1000000)) ms: namespaces $(ip netns list | grep -c "^fye$$-")"

mkdir -p "$T/bin" "$T/roles"
ln -s "$RELAY_BIN" "$T/bin/ferry-relay"
ln -s "$AGENT_BIN" "$T/bin/ferry-agent"
export TOPO_BACKEND=netns TOPO_PFX TOPO_BIN=$T/bin TOPO_WORK=$T/roles TOPO_LOGS=$T/scenarios
export TOPO_AGENT_IO=$FY_AGENT_IO TOPO_SITES="a b"
rc=0
"$FY_ROOT/tests/topo/run.sh" || rc=$?
# sanitizer reports in the hosts' logs (fy_cleanup looks only in $T)
if grep -rlE 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error:' "$T/roles" 2>/dev/null; then
	fail "sanitizer report in the logs above"
fi
[ "$rc" -eq 0 ] || fail "a topology scenario failed (table above)"

t0=$(date +%s%N)
topo_down
TOPO_PFX=
left=$(ip netns list | grep -c "^fye$$-") || true
[ "$left" -eq 0 ] || fail "$left namespaces left after topo_down"
check_ok "topology down in $((($(date +%s%N) - t0) / 1000000)) ms, nothing left"
pass
