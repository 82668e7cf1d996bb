#!/usr/bin/env bash
# shellcheck disable=SC2119 # lib.sh helpers take optional arguments
# Relay restarted -> the agent reconnects and claims its ports again by itself.
#
#   fy-load send ──▶ relay :PUB ◀══ TLS tunnel ══ agent ──▶ serve sink :SINK
#                    (stopped and started again on the same 127.0.0.1:RELAY_PORT)
#
# 1. SIGTERM: the relay drains and exits 0; started again, the agent (still the same
#    process) has claimed PUB within 15 s and 1 MiB passes with its sha256.
# 2. SIGKILL, 2 s of outage (the agent's first reconnect attempts fail), started again:
#    again claimed within 15 s, traffic flows.
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
fy_init 21500

fy_alloc_port RELAY_PORT
fy_alloc_port SINK
fy_alloc_port PUB
LIMIT=15

fy_certs
TOK=$(fy_token phoenix "$FY_PORT_RANGE")
fy_serve serve-sink "$SINK" --mode sink
fy_relay_start
fy_agent_start phoenix "$TOK" -R "$PUB:127.0.0.1:$SINK"
APID=${FY_AGENT_PID[phoenix]}
wait_listen "$PUB" 15
load_ok "before: 1 MiB through" send --connect "127.0.0.1:$PUB" --bytes 1M --seed 1 --timeout 30

# restart_check HOW: after the relay is started again, PUB must be claimed within LIMIT s.
restart_check() {
	local how=$1 t0 i
	fy_alive "$APID" || fail "agent exited while the relay was away ($how)"
	fy_relay_start
	t0=$(date +%s.%N)
	for ((i = 0; i < LIMIT * 20; i++)); do
		fy_listening "$PUB" && break
		fy_alive "$APID" || fail "agent exited after the relay came back ($how)"
		sleep 0.05
	done
	fy_listening "$PUB" || fail "agent did not claim port $PUB again within ${LIMIT}s of the relay's restart ($how)"
	check_ok "$how: agent re-registered $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s after the relay came back"
	load_ok "$how: 1 MiB through" send --connect "127.0.0.1:$PUB" --bytes 1M --seed 2 --timeout 30
}

fy_relay_stop TERM
[ "$FY_RC" -eq 0 ] || fail "relay exited $FY_RC on SIGTERM, want 0"
check_ok "relay exited 0 on SIGTERM"
wait_closed "$PUB" 5
restart_check "after SIGTERM"

fy_relay_stop KILL
wait_closed "$PUB" 5
sleep 2 # the outage itself (not synchronisation): the agent's reconnects fail meanwhile
restart_check "after SIGKILL and 2 s away"

if [ "$APID" != "${FY_AGENT_PID[phoenix]}" ] || ! fy_alive "$APID"; then
	fail "agent process changed or died"
fi
pass
