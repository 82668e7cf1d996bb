#!/usr/bin/env bash
# shellcheck disable=SC2119 # lib.sh helpers take optional arguments
# Wrong token, a name the token does not cover, a port outside the token's range, a
# port already held: each refused with a clear message on both sides; nothing else is
# disturbed (agent a keeps serving port 2221 throughout).
#
#   client ──▶ relay :2221 ══ TLS ══ agent a (token A: agent a, ports 2200-2299) ──▶ serve sink :SINK_A
#                    ▲
#                    ├══ agent with a made-up token           -> "token not accepted", exits 2
#                    ├══ --name other with token A            -> "token may not act as agent 'other' (allowed: a)"
#                    ├══ agent c (token C, 2200-2299), -R 2300 -> "not allowed to claim port 2300 (allowed: 2200-2299)"
#                    ├══ agent b (token B, 2200-2299), -R 2221 -> "port 2221 is held by agent 'a'"
#                    └══ raw TLS client, HELLO with a made-up token -> ERROR(AUTH=3), closed
#   (the refused agents' targets are serve sink :SINK_B, which must never see a connection)
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
fy_init 21600

fy_alloc_port RELAY_PORT
fy_alloc_port SINK_A
fy_alloc_port SINK_B
for p in 2221 2222 2300; do
	fy_listening "$p" && fail "port $p is in use on this machine; this scenario needs it"
done

fy_certs
TOK_A=$(fy_token a 2200-2299)
TOK_B=$(fy_token b 2200-2299)
TOK_C=$(fy_token c 2200-2299)
BOGUS="fyt_$(head -c 32 /dev/urandom | base64 | tr -d '/+=' | head -c 43)"
fy_serve serve-a "$SINK_A" --mode sink
fy_serve serve-b "$SINK_B" --mode sink
fy_relay_start
fy_agent_start a "$TOK_A" -R "2221:127.0.0.1:$SINK_A"
wait_listen 2221 15

# good_check WHAT: agent a still serves 2221 and its target sees the connection.
good=0
good_check() {
	good=$((good + 1))
	fy_alive "$FY_RELAY_PID" || fail "relay died after $1 (see the end of relay.log)"
	load_ok "after $1: agent a still serves 2221" send --connect 127.0.0.1:2221 --bytes 256K \
		--seed "$good" --timeout 30
	wait_log_count "$T/serve-a.out" '^conn id=.* end=eof' "$good" 10
	fy_alive "${FY_AGENT_PID[a]}" || fail "agent a died after $1"
	fy_alive "$FY_RELAY_PID" || fail "relay died after $1"
}
good_check "start"

# 1. wrong token: the agent gives up with exit 2.
rc=0
timeout 30 "$AGENT_BIN" --relay "127.0.0.1:$RELAY_PORT" --token "$BOGUS" --ca "$T/pki/ca.crt" \
	--io "$FY_AGENT_IO" -R "2222:127.0.0.1:$SINK_B" >"$T/agent-bogus.log" 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "agent with a wrong token exited $rc, want 2"
grep -q 'token not accepted' "$T/agent-bogus.log" || fail "agent log does not say 'token not accepted'"
wait_log "$T/relay.log" 'token not accepted' 5
check_ok "wrong token: agent exit 2, both logs say 'token not accepted'"
load_ok "wrong token over raw TLS: ERROR(AUTH) and close" tls --connect "127.0.0.1:$RELAY_PORT" \
	--ca "$T/pki/ca.crt" --hello "$BOGUS" --expect-error 3 --timeout 10
good_check "a wrong token"

# 2. a name the token does not cover.
fy_agent_start other "$TOK_A" -R "2222:127.0.0.1:$SINK_B"
wait_log "$T/agent-other.log" "token may not act as agent 'other' \(allowed: a\)" 15
wait_log "$T/relay.log" "token may not act as agent 'other'" 5
fy_listening 2222 && fail "port 2222 listens although agent 'other' was refused"
fy_agent_stop other
check_ok "--name other: refused, both logs say why (agent exit $FY_RC)"
good_check "a name the token does not cover"

# 3. a port outside the token's range.
fy_agent_start c "$TOK_C" -R "2300:127.0.0.1:$SINK_B"
wait_log "$T/agent-c.log" 'not allowed to claim port 2300' 15
grep -q 'allowed: 2200-2299' "$T/agent-c.log" || fail "agent c's log does not say 'allowed: 2200-2299'"
wait_log "$T/relay.log" 'not allowed to claim port 2300 \(allowed: 2200-2299\)' 5
fy_listening 2300 && fail "port 2300 listens although the token does not allow it"
if fy_can_connect 2300; then fail "port 2300 accepts connections"; fi
fy_agent_stop c
check_ok "port 2300: refused, 'allowed: 2200-2299' in both logs, nothing listens (agent exit $FY_RC)"
good_check "a port outside the range"

# 4. a second agent claiming a port already held.
fy_agent_start b "$TOK_B" -R "2221:127.0.0.1:$SINK_B"
wait_log "$T/agent-b.log" "port 2221 is held by agent 'a'" 15
wait_log "$T/relay.log" "port 2221 is held by agent 'a'" 5
good_check "a second claim on 2221"
fy_agent_stop b
check_ok "port 2221 claimed twice: refused with \"held by agent 'a'\" (agent b exit $FY_RC)"
good_check "agent b left"

n=$(log_count "$T/serve-b.out" '^accept ')
[ "$n" -eq 0 ] || fail "the refused agents' target saw $n connections"
check_ok "the refused agents' target never saw a connection"

pass
