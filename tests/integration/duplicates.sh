#!/usr/bin/env bash
# One name, one live session; one port, one relay. (The second agent runs
# from a config file.)
#
#   fy-load ──▶ relay :PUB ◀══ agent "twin" (first)  ──▶ sink :SINK
#                          ◀══ agent "twin" (second, same token and name): refused, retries
#   second ferry-relay on the same agent port: refuses to start
#
# The first agent keeps serving (sha256 checked) while the second is refused
# with "already connected"; when the first is stopped, the second takes over
# by itself (its retries) and serves the same port. A second relay on the
# same --listen address exits with "cannot listen", even though listeners
# use SO_REUSEPORT.
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
fy_init 22400

fy_alloc_port RELAY_PORT
fy_alloc_port SINK
fy_alloc_port PUB

fy_certs
TOK=$(fy_token twin "$FY_PORT_RANGE")
fy_serve serve-sink "$SINK" --mode sink
fy_relay_start
fy_agent_start twin "$TOK" -R "$PUB:127.0.0.1:$SINK"
wait_listen "$PUB" 15
load_ok "first agent serves" send --connect "127.0.0.1:$PUB" --bytes 1M --seed 1 --timeout 30

# The second agent with the same name, started by hand so both can run,
# and from a config file (same option names as the flags).
cat >"$T/second.conf" <<CONF
# the second agent
relay 127.0.0.1:$RELAY_PORT
token $TOK
ca = $T/pki/ca.crt
name twin
backoff-min-ms 200
backoff-max-ms 500
R $PUB:127.0.0.1:$SINK
CONF
"$AGENT_BIN" --config "$T/second.conf" --io "$FY_AGENT_IO" >"$T/agent-second.log" 2>&1 &
FY_PID[agent-second]=$!
wait_log "$T/agent-second.log" "already connected \(from 127\.0\.0\.1:[0-9]+\)" 10
check_ok "second agent refused: $(grep -m1 -o "agent 'twin' is already connected[^;]*" "$T/agent-second.log")"
wait_log "$T/relay.log" "refused: agent 'twin' is already connected" 5
wait_log_count "$T/agent-second.log" "already connected" 3 10
check_ok "second agent retries with backoff"
fy_alive "${FY_PID[agent-second]}" || fail "second agent exited; it should keep retrying"
load_ok "first agent still serves" send --connect "127.0.0.1:$PUB" --bytes 4M --seed 2 --timeout 30
[ "$(log_count "$T/agent-twin.log" "schedule_retry")" -eq 0 ] ||
	fail "the first agent's session was disturbed: $(grep -m1 schedule_retry "$T/agent-twin.log")"
check_ok "first agent's session untouched"

fy_agent_stop twin TERM
wait_log "$T/agent-second.log" "forwarding relay port $PUB" 15
check_ok "second agent took over once the first was gone"
wait_listen "$PUB" 10
load_ok "second agent serves" send --connect "127.0.0.1:$PUB" --bytes 1M --seed 3 --timeout 30

# A second relay on the same agent port must not share it silently.
rc=0
timeout 10 "$RELAY_BIN" --listen "127.0.0.1:$RELAY_PORT" --cert "$T/pki/relay.crt" \
	--key "$T/pki/relay.key" --tokens "$T/tokens" >"$T/relay2.log" 2>&1 || rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "a second relay on port $RELAY_PORT started (exit $rc)"
grep -q "cannot listen on 127.0.0.1:$RELAY_PORT: Address already in use" "$T/relay2.log" ||
	fail "second relay: unexpected message: $(cat "$T/relay2.log")"
check_ok "second relay refused: $(head -n1 "$T/relay2.log")"
fy_alive "$FY_RELAY_PID" || fail "the first relay died"
pass
