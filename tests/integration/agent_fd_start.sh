#!/usr/bin/env bash
# shellcheck disable=SC2119 # lib.sh helpers take optional arguments
# A session whose second tunnel cannot even be started (the agent is out of
# descriptors: connect fails at once) ends as a whole and is tried again; tunnel 0
# is not left up while the agent waits to retry (a retry that got a descriptor
# would then start a second tunnel 0 over it, the first one left open and unowned).
#
#   fy-load send ──▶ relay :P (--workers 2) ══ tunnel 0 ══▶ agent (ulimit -n: room for
#                                             tunnel 1 ✗       tunnel 0 only) ──▶ sink :SINK
#
# 1. relay --workers 1, the agent without a limit: the descriptor its tunnel gets
#    (ss -p) is the highest it needs for a session of one tunnel.
# 2. relay --workers 2, the agent limited to that descriptor + 1: tunnel 0 connects,
#    tunnel 1 fails with EMFILE; the relay then sees tunnel 0 close (the session
#    ends), and the agent tries again (a second EMFILE, after its backoff).
# 3. The agent without the limit: the session comes up with 2 tunnels and carries
#    1 MiB.
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
fy_init 26800

fy_alloc_port RELAY_PORT
fy_alloc_port SINK
fy_alloc_port P
fy_certs
TOK=$(fy_token fdy "$FY_PORT_RANGE")
fy_serve serve-sink "$SINK" --mode sink

# The descriptor of the agent's connection to the relay.
tunnel_fd() {
	ss -Htnp state established "dport = :$RELAY_PORT" 2>/dev/null |
		sed -n "s/.*pid=$1,fd=\([0-9]*\).*/\1/p" | sort -n | tail -n 1
}

# agent_limited LIMIT: the agent under ulimit -n LIMIT (soft and hard).
agent_limited() {
	printf '=== %s ferry-agent --name fdy (ulimit -n %s)\n' "$(date +%T.%3N)" "$1" \
		>>"$T/agent-fdy.log"
	(
		ulimit -n "$1" || exit 1
		exec "$AGENT_BIN" --relay "127.0.0.1:$RELAY_PORT" --token "$TOK" --ca "$T/pki/ca.crt" \
			--name fdy --io "$FY_AGENT_IO" --log-level debug -R "$P:127.0.0.1:$SINK"
	) >>"$T/agent-fdy.log" 2>&1 &
	FY_AGENT_PID[fdy]=$!
	FY_PID[agent-fdy]=$!
}

fy_relay_start --workers 1
fy_agent_start fdy "$TOK" -R "$P:127.0.0.1:$SINK"
wait_log "$T/agent-fdy.log" "session up: 1 tunnel" 15
fd=$(tunnel_fd "${FY_AGENT_PID[fdy]}")
[ -n "$fd" ] || fail "no descriptor for the agent's tunnel in ss -p"
check_ok "one tunnel: the agent's connection to the relay is its descriptor $fd"
fy_agent_stop fdy
fy_relay_stop

UP_RE="agent 'fdy' tunnel 0/2 from .* up on"
CLOSED_RE="agent 'fdy' tunnel 0 from .* closed"
closed0=$(log_count "$T/relay.log" "$CLOSED_RE")	# phase 1's
fy_relay_start --workers 2
agent_limited $((fd + 1))
wait_log "$T/relay.log" "$UP_RE" 15
wait_log "$T/agent-fdy.log" "connect: Too many open files" 15
check_ok "two tunnels, room for one: tunnel 1's connect fails at once (EMFILE)"
# The failing point before the fix: tunnel 0 stayed up while the agent waited.
wait_log_count "$T/relay.log" "$CLOSED_RE" $((closed0 + 1)) 20
check_ok "the session ends: the relay sees tunnel 0 close"
wait_log_count "$T/agent-fdy.log" "connect: Too many open files" 2 30
check_ok "the agent tries again (EMFILE again: the limit holds)"
n=$(log_count "$T/relay.log" "$UP_RE")
c=$(($(log_count "$T/relay.log" "$CLOSED_RE") - closed0))
[ $((n - c)) -le 1 ] || fail "$n tunnel 0 up, $c closed: more than one tunnel 0 open at once"
fy_agent_stop fdy
fy_alive "${FY_PID[relay]}" || fail "the relay died"

fy_agent_start fdy "$TOK" -R "$P:127.0.0.1:$SINK"
wait_log "$T/agent-fdy.log" "session up: 2 tunnels" 15
wait_listen "$P" 15
load_ok "without the limit: 1 MiB through" send --connect "127.0.0.1:$P" --bytes 1M --seed 1 \
	--timeout 30
fy_agent_stop fdy
fy_relay_stop
pass
