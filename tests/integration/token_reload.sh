#!/usr/bin/env bash
# shellcheck disable=SC2119 # lib.sh helpers take optional arguments
# SIGHUP reloads the token file, as sshd rereads authorized_keys:
#
# 1. Token B is not in the file: agent b is refused ("token not accepted", exit 2).
# 2. B's line appended, SIGHUP: the relay logs the new count; agent b connects and
#    1 MiB goes through its port (sha256).
# 3. A line that does not parse, SIGHUP: the relay says why and keeps the tokens it
#    had: a new agent b process still gets in.
# 4. A's line removed, SIGHUP: agent a, connected all along, keeps serving (1 MiB);
#    a new agent a process is refused.
# The relay stays up throughout and exits 0 on SIGTERM.
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
fy_init 23100

fy_alloc_port RELAY_PORT
fy_alloc_port SINK
fy_alloc_port PA
fy_alloc_port PB

fy_certs
TOK_A=$(fy_token a "$FY_PORT_RANGE")
TOK_B=$("$RELAY_BIN" token add --tokens "$T/tokens-b" --agent b --ports "$FY_PORT_RANGE" 2>>"$T/token.err") ||
	fail "token add for b failed: $(cat "$T/token.err")"
LINE_A=$(grep -v '^#' "$T/tokens" | grep .)
LINE_B=$(grep -v '^#' "$T/tokens-b" | grep .)
fy_serve serve-sink "$SINK" --mode sink
fy_relay_start

fy_agent_start a "$TOK_A" --backoff-min-ms 200 -R "$PA:127.0.0.1:$SINK"
wait_log "$T/agent-a.log" "forwarding relay port $PA" 15
want=$(gen_sha 1M 1)

# through PORT: 1 MiB through the relay's PORT, sha256 checked.
through() {
	load_ok "$1" send --connect "127.0.0.1:$2" --bytes 1M --seed 1 --timeout 30
	[ "$(field sha256 "$FY_OUT")" = "$want" ] || fail "$1: digest differs"
}
through "agent a serving" "$PA"

# hup_and_wait N RE: SIGHUP, then the N-th relay log line matching RE.
hup_and_wait() {
	kill -HUP "$FY_RELAY_PID"
	wait_log_count "$T/relay.log" "$2" "$1" 10
	fy_alive "$FY_RELAY_PID" || fail "relay died on SIGHUP"
}

# agent_b_once: a short-lived agent b; its exit code in RC_B.
agent_b_once() {
	RC_B=0
	timeout 20 "$AGENT_BIN" --relay "127.0.0.1:$RELAY_PORT" --token "$TOK_B" --ca "$T/pki/ca.crt" \
		--name b --io "$FY_AGENT_IO" -R "$PB:127.0.0.1:$SINK" >"$T/agent-b-$1.log" 2>&1 || RC_B=$?
}

# --- 1. unknown token
agent_b_once refused
[ "$RC_B" -eq 2 ] && grep -q 'token not accepted' "$T/agent-b-refused.log" ||
	fail "agent b before its token was added: exit $RC_B: $(tail -n 3 "$T/agent-b-refused.log")"
check_ok "token B not in the file: agent b refused (exit 2, 'token not accepted')"

# --- 2. added, SIGHUP
printf '%s\n' "$LINE_B" >>"$T/tokens"
hup_and_wait 1 'SIGHUP: 2 token\(s\) loaded .*\(1 before\)'
fy_agent_start b "$TOK_B" -R "$PB:127.0.0.1:$SINK"
wait_log "$T/agent-b.log" "forwarding relay port $PB" 15
through "after SIGHUP: agent b serving" "$PB"
fy_agent_stop b

# --- 3. a broken file changes nothing
printf 'this is not a token line\n' >>"$T/tokens"
hup_and_wait 1 'SIGHUP: tokens not reloaded, the 2 loaded before stay in use: .*tokens:[0-9]+:'
check_ok "broken file: $(grep -o 'SIGHUP: tokens not reloaded.*' "$T/relay.log" | tail -n 1)"
fy_agent_start b "$TOK_B" -R "$PB:127.0.0.1:$SINK"
wait_log_count "$T/agent-b.log" "forwarding relay port $PB" 2 15
through "broken file kept the old set: agent b serving again" "$PB"
fy_agent_stop b

# --- 4. A removed: connected agent a keeps its session, a new one is refused
printf '%s\n' "$LINE_B" >"$T/tokens"
hup_and_wait 1 'SIGHUP: 1 token\(s\) loaded .*\(2 before\)'
through "token A removed: agent a, connected before, still serving" "$PA"
fy_agent_stop a
rc=0
timeout 20 "$AGENT_BIN" --relay "127.0.0.1:$RELAY_PORT" --token "$TOK_A" --ca "$T/pki/ca.crt" \
	--name a --io "$FY_AGENT_IO" -R "$PA:127.0.0.1:$SINK" >"$T/agent-a-new.log" 2>&1 || rc=$?
[ "$rc" -eq 2 ] && grep -q 'token not accepted' "$T/agent-a-new.log" ||
	fail "new agent a after its token was removed: exit $rc: $(tail -n 3 "$T/agent-a-new.log")"
check_ok "token A removed: a new agent a is refused"
fy_alive "$FY_RELAY_PID" || fail "relay died"
pass
