#!/usr/bin/env bash
# Liveness: a tunnel whose far end stops answering is noticed within
# keepalive x 3, without any traffic of our own.
#
#   fy-load ──▶ relay (--keepalive-ms 300) ◀══ agent ──▶ sink
#
# 1. The agent is frozen (SIGSTOP): its sockets stay open, so only pings can
#    tell. The relay must drop the session and release the port within
#    about 0.9 s (we allow 3 s), then refuse clients.
# 2. The agent is thawed (SIGCONT): it finds its tunnel gone, reconnects by
#    itself and serves again.
# 3. The relay is frozen: the agent must notice within about 0.9 s (3 s allowed)
#    and start retrying.
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
fy_init 22800

fy_alloc_port RELAY_PORT
fy_alloc_port SINK
fy_alloc_port PUB

fy_certs
TOK=$(fy_token alive "$FY_PORT_RANGE")
fy_serve serve-sink "$SINK" --mode sink
fy_relay_start --keepalive-ms 300
fy_agent_start alive "$TOK" --backoff-min-ms 200 --backoff-max-ms 400 -R "$PUB:127.0.0.1:$SINK"
wait_listen "$PUB" 15
load_ok "before" send --connect "127.0.0.1:$PUB" --bytes 1M --seed 1 --timeout 30

APID=${FY_AGENT_PID[alive]}
kill -STOP "$APID"
t0=$(date +%s%N)
wait_log "$T/relay.log" "closed: no traffic for 900 ms \(keepalive\)" 3
t1=$(date +%s%N)
wait_closed "$PUB" 3
check_ok "relay dropped the frozen agent after $(((t1 - t0) / 1000000)) ms and released port $PUB"
load_ok "port refuses while the agent is frozen" hold --connect "127.0.0.1:$PUB" --expect refused --timeout 5

kill -CONT "$APID"
# (Thawed, the agent may first call the relay silent itself: it was.)
wait_log_count "$T/agent-alive.log" "forwarding relay port $PUB" 2 15
wait_listen "$PUB" 10
load_ok "agent thawed, reconnected and serves" send --connect "127.0.0.1:$PUB" --bytes 1M --seed 2 --timeout 30

silent=$(log_count "$T/agent-alive.log" "relay silent for 3 keepalive intervals; retrying")
ups=$(log_count "$T/agent-alive.log" "forwarding relay port $PUB")
kill -STOP "$FY_RELAY_PID"
t0=$(date +%s%N)
wait_log_count "$T/agent-alive.log" "relay silent for 3 keepalive intervals; retrying" $((silent + 1)) 3
t1=$(date +%s%N)
check_ok "agent noticed the frozen relay after $(((t1 - t0) / 1000000)) ms and is retrying"
kill -CONT "$FY_RELAY_PID"
wait_log_count "$T/agent-alive.log" "forwarding relay port $PUB" $((ups + 1)) 15
load_ok "relay thawed: served again" send --connect "127.0.0.1:$PUB" --bytes 1M --seed 3 --timeout 30
pass
