#!/usr/bin/env bash
# The agent as a systemd service (dpdk-config/ferry-agent.service) on the first
# site's machine, where systemd runs (the VMs; in namespaces this skips): installed
# by README.md's one-line recipe, its token in /etc/ferry/agent.token (0600), run inside
# the edge's network namespace by a drop-in (NetworkNamespacePath), it serves the
# edge's web server on a port of its own; it runs as a dynamic user without
# privileges; killed (SIGKILL), systemd starts it again and it serves again.
# shellcheck disable=SC2016 # scripts for the hosts: expanded there
set -u
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "$0")/lib.sh"
s=${SITES%% *}
PORT=8091
UNIT=$(dirname "$0")/../../../dpdk-config/ferry-agent.service
README=$(dirname "$0")/../../../README.md
[ -f "$UNIT" ] || fail "no $UNIT"
if ! on "nat-$s" '[ "$(cat /proc/1/comm)" = systemd ] && [ -d /run/systemd/system ]'; then
	echo "SKIP $SC_NAME: systemd does not run on nat-$s (namespaces: the VMs run this)"
	exit 77
fi
tok=$(on relay "ferry-relay token add --tokens pki/tokens --agent edge-$s-svc --ports $PORT") ||
	fail "token add for edge-$s-svc failed"
on relay 'kill -HUP $(cat relay.pid)' || fail "cannot make the relay reread its tokens"
ca=$(on relay 'cat pki/ca.crt')
# README.md's install recipe, verbatim, in a folder holding what it says to copy
recipe=$(grep -m1 '^    echo "$TOKEN" | sudo sh -c' "$README" | sed 's/^    //')
[ -n "$recipe" ] || fail "no install recipe in $README"
on "nat-$s" 'rm -rf pi && mkdir pi && cp /usr/local/bin/ferry-agent pi/ && cat >pi/ferry-agent.service' <"$UNIT" ||
	fail "cannot copy the unit"
printf '%s\n' "$ca" | on "nat-$s" 'cat >pi/ca.crt'
on "nat-$s" "cd pi && TOKEN=$(printf %q "$tok") && $recipe" >/dev/null ||
	fail "README's install recipe failed on nat-$s"
on "nat-$s" 'stat -c "%a %U" /etc/ferry/agent.token /etc/ferry | tr "\n" " "; systemctl is-enabled ferry-agent' |
	grep -q '^600 root 755 root enabled' || fail "the recipe left: $(on "nat-$s" 'ls -la /etc/ferry; systemctl is-enabled ferry-agent')"
ok "README's one-line install recipe ran on nat-$s: token 0600 in /etc/ferry, unit enabled"
# this relay, a name and port of its own, and edge-a's namespace (a drop-in)
on "nat-$s" "printf 'relay $RELAY:$RELAY_PORT\nca /etc/ferry/ca.crt\nname edge-$s-svc\nkeepalive-ms $KEEPALIVE_MS\nR $PORT:127.0.0.1:8080\n' >/etc/ferry/agent.conf &&
	mkdir -p /etc/systemd/system/ferry-agent.service.d &&
	printf '[Service]\nNetworkNamespacePath=/run/netns/edge-$s\n' >/etc/systemd/system/ferry-agent.service.d/netns.conf &&
	systemctl daemon-reload && systemctl restart ferry-agent" || fail "configuring the service failed"
ok "configured for this relay, run in edge-$s's namespace (drop-in)"
on relay "for ((i = 0; i < 150; i++)); do grep -q \"agent 'edge-$s-svc' claimed port $PORT\" relay.log && exit 0; sleep 0.2; done; exit 1" ||
	fail "the service's agent did not claim $PORT: $(on "nat-$s" 'journalctl -u ferry-agent --no-pager | tail -n 15')"
info=$(on "nat-$s" 'p=$(systemctl show -p MainPID --value ferry-agent); echo "user=$(ps -o user= -p $p) pid=$p nnp=$(grep NoNewPrivs /proc/$p/status | cut -f2) caps=$(grep CapEff /proc/$p/status | cut -f2) exposure=$(systemd-analyze security ferry-agent 2>/dev/null | grep -o "exposure level.*" | cut -d" " -f5-6)"')
if ! grep -q 'nnp=1 caps=0000000000000000' <<<"$info" || grep -q 'user=root' <<<"$info"; then
	fail "the service runs with privileges: $info"
fi
ok "running: $info"
want=$(on "edge-$s" 'sha256sum <www/big.bin')
got=$(on client "curl -sS --fail --max-time 300 http://$RELAY:$PORT/big.bin | sha256sum") || fail "curl through the service failed"
[ "${got%% *}" = "${want%% *}" ] || fail "sha256 ${got%% *}, want ${want%% *}"
ok "web through the service's agent: sha256 ${want%% *}"
pid=${info#*pid=}
pid=${pid%% *}
n=$(count relay relay.log "agent 'edge-$s-svc' claimed port $PORT")
on "nat-$s" "kill -KILL $pid" || fail "cannot kill $pid"
on "nat-$s" "for ((i = 0; i < 100; i++)); do p=\$(systemctl show -p MainPID --value ferry-agent); [ \"\$p\" != 0 ] && [ \"\$p\" != $pid ] && exit 0; sleep 0.2; done; exit 1" ||
	fail "systemd did not restart the agent: $(on "nat-$s" 'systemctl status ferry-agent --no-pager | tail -n 8')"
on relay "for ((i = 0; i < 150; i++)); do [ \$(grep -c \"agent 'edge-$s-svc' claimed port $PORT\" relay.log) -gt $n ] && exit 0; sleep 0.2; done; exit 1" ||
	fail "the restarted agent did not claim $PORT again"
got=$(on client "curl -sS --fail --max-time 300 http://$RELAY:$PORT/big.bin | sha256sum") || fail "curl after the restart failed"
[ "${got%% *}" = "${want%% *}" ] || fail "after the restart: sha256 ${got%% *}, want ${want%% *}"
ok "SIGKILL: systemd restarted the agent (Restart=on-failure), it serves again"
on "nat-$s" 'systemctl disable --now ferry-agent 2>/dev/null; rm -rf pi /etc/systemd/system/ferry-agent.service /etc/systemd/system/ferry-agent.service.d /etc/ferry; systemctl daemon-reload'
pass
