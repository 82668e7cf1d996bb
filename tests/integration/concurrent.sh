#!/usr/bin/env bash
# shellcheck disable=SC2119 # lib.sh helpers take optional arguments
# 200 concurrent streams with random sizes, all intact; afterwards nothing leaks.
#
#   fy-load multi ══ 200 TCP connections ══▶ relay :PUB ══TLS tunnel(s)══▶ agent ══ 200 ══▶ fy-load serve echo :ECHO
#   (127.0.0.1)                                                                              (127.0.0.1)
#
# Each stream sends 0..1 MiB (sizes and bytes from the seed) while reading the echo at
# the same time, half-closes, and checks that the echo has the same length and sha256 and
# ends with a clean EOF. Then: the echo target saw 200 connections end with EOF, and the
# relay's and the agent's descriptor counts return to what they were before the streams.
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
fy_init 21100

fy_alloc_port RELAY_PORT
fy_alloc_port ECHO
fy_alloc_port PUB
STREAMS=200

fy_certs
TOK=$(fy_token conc "$FY_PORT_RANGE")
fy_serve serve-echo "$ECHO" --mode echo
fy_relay_start
fy_agent_start conc "$TOK" -R "$PUB:127.0.0.1:$ECHO"
wait_listen "$PUB" 15

# One small stream first, so that every tunnel the agent opens is up, then the baseline.
load_ok "warm-up stream" send --connect "127.0.0.1:$PUB" --bytes 64K --echo --timeout 30
wait_log_count "$T/serve-echo.out" '^conn id=.* end=eof' 1 10
relay_fds=$(fy_fds "$FY_RELAY_PID")
agent_fds=$(fy_fds "${FY_AGENT_PID[conc]}")

load_ok "$STREAMS concurrent echo streams" multi --connect "127.0.0.1:$PUB" --streams "$STREAMS" \
	--max-bytes 1M --seed 7 --timeout 150

wait_log_count "$T/serve-echo.out" '^conn id=.* end=eof' $((STREAMS + 1)) 20
n=$(log_count "$T/serve-echo.out" '^conn id=')
[ "$n" -eq $((STREAMS + 1)) ] || fail "echo target saw $n connections, want $((STREAMS + 1))"
bad=$(grep '^conn id=' "$T/serve-echo.out" | grep -vc 'end=eof' || true)
[ "$bad" -eq 0 ] || fail "$bad target connections did not end with a clean EOF"
check_ok "target saw $STREAMS + 1 connections, each ending with EOF"

# Nothing leaks: descriptors return to the baseline (bounded poll).
for ((i = 0; i < 200; i++)); do
	r=$(fy_fds "$FY_RELAY_PID")
	a=$(fy_fds "${FY_AGENT_PID[conc]}")
	[ "$r" -le "$relay_fds" ] && [ "$a" -le "$agent_fds" ] && break
	sleep 0.05
done
[ "$r" -le "$relay_fds" ] || fail "relay holds $r descriptors after the streams, $relay_fds before"
[ "$a" -le "$agent_fds" ] || fail "agent holds $a descriptors after the streams, $agent_fds before"
check_ok "descriptors back to baseline (relay $r, agent $a)"

pass
