#!/usr/bin/env bash
# shellcheck disable=SC2119 # lib.sh helpers take optional arguments
# Streams between agents that must be refused, each for its own reason, and refused
# without harm: the -L client is reset, the reason is in the logs, the tunnel stays up.
#
#   a (-L only; token groups=ops, reach=@servers) ══╗              ╔══ b (groups=servers)
#   d (-L only; token without reach)              ══╬═══ relay ════╣   --allow ECHO, ECHO2, PDENY
#                                                   ║  --policy P  ╚══ c (no groups)
#                                                                       --allow ECHO
#   policy P:   deny  a b 127.0.0.1:PDENY
#               allow @ops @servers 127.0.0.1:ECHO
#               allow a b 127.0.0.1:OTHER
#               allow a b 127.0.0.1:ECHO2
#               allow d b *
#               allow a c *
#
# 0. a -> b ECHO is allowed by all three (reach via @servers, policy line 2, b's --allow):
#    1 MiB echoed intact. After every refusal below the same stream works again, and
#    agent a never reconnected (the relay never closed its tunnel).
# 1. a -> b OTHER: reach and policy allow it, b's --allow does not list it: the -L
#    client is reset; b says why ("--allow"), the relay passes the reason to a, whose log
#    names it too; the OTHER server was never dialed.
# 2. d -> b ECHO: d's token has no reach=: the relay refuses, naming d and b; b never
#    hears of it. a -> c ECHO: a's reach=@servers does not cover c: refused the same way.
# 3. a -> b PDENY: b allows it, reach allows it, policy line 1 denies it: refused, the
#    reason (with the line) in the relay's and a's logs; PDENY never dialed.
# 4. a -> b ECHO2 works; the policy's line 4 becomes a deny, SIGHUP, the relay logs the
#    reload: a new stream to ECHO2 is refused with "policy line 4"; ECHO still works.
# 5. A policy file that does not parse, SIGHUP: the relay says so and keeps the rules it
#    had (ECHO allowed, ECHO2 denied).
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
fy_init 25500

fy_alloc_port RELAY_PORT
for p in ECHO ECHO2 OTHER PDENY L_OK L_NOTLISTED L_PDENY L_REV L_C L_D; do
	fy_alloc_port "$p"
done

fy_certs
TOK_A=$(fy_token a "$FY_PORT_RANGE" --groups ops --reach @servers)
TOK_B=$(fy_token b "$FY_PORT_RANGE" --groups servers)
TOK_C=$(fy_token c "$FY_PORT_RANGE")
TOK_D=$(fy_token d "$FY_PORT_RANGE")
POLICY=$T/policy
write_policy() { # write_policy LINE4
	cat >"$POLICY.new" <<-EOF
		# edge_deny: first match decides, no match denies
		deny  a b 127.0.0.1:$PDENY
		allow @ops @servers 127.0.0.1:$ECHO
		allow a b 127.0.0.1:$OTHER
		$1
		allow d b *
		allow a c *
	EOF
	mv "$POLICY.new" "$POLICY"
}
write_policy "allow a b 127.0.0.1:$ECHO2"
# The lines are numbered from the comment: deny PDENY is line 2, ECHO2's is line 5.

fy_serve serve-echo "$ECHO" --mode echo
fy_serve serve-echo2 "$ECHO2" --mode echo
fy_serve serve-other "$OTHER" --mode echo
fy_serve serve-pdeny "$PDENY" --mode echo
fy_relay_start --policy "$POLICY"

fy_agent_start b "$TOK_B" --allow "127.0.0.1:$ECHO" --allow "127.0.0.1:$ECHO2" \
	--allow "127.0.0.1:$PDENY"
fy_agent_start c "$TOK_C" --allow "127.0.0.1:$ECHO"
fy_agent_start a "$TOK_A" -L "$L_OK:b:127.0.0.1:$ECHO" -L "$L_NOTLISTED:b:127.0.0.1:$OTHER" \
	-L "$L_PDENY:b:127.0.0.1:$PDENY" -L "$L_REV:b:127.0.0.1:$ECHO2" -L "$L_C:c:127.0.0.1:$ECHO"
fy_agent_start d "$TOK_D" -L "$L_D:b:127.0.0.1:$ECHO"
for n in a b c d; do
	wait_log "$T/agent-$n.log" 'session up' 15
done
for p in "$L_OK" "$L_NOTLISTED" "$L_PDENY" "$L_REV" "$L_C" "$L_D"; do
	wait_listen "$p" 10
done

# allowed DESC PORT SEED: 1 MiB echoed intact through -L port PORT.
allowed() {
	load_ok "$1" send --connect "127.0.0.1:$2" --bytes 1M --seed "$3" --echo --timeout 30
}
# refused DESC PORT: the -L client is reset.
refused() {
	load_ok "$1: the -L client is reset" hold --connect "127.0.0.1:$2" --expect reset \
		--send-text "hello" --timeout 15
}
# tunnel_intact: a's session never dropped, and the allowed stream still works.
ups_a=0
tunnel_intact() {
	allowed "$1: a following allowed stream works" "$L_OK" "$2"
	[ "$(log_count "$T/agent-a.log" 'session up')" -eq "$ups_a" ] ||
		fail "$1: agent a reconnected: its tunnel was ended by a refusal"
	if grep -Eq "tunnel_close: agent 'a' " "$T/relay.log"; then
		fail "$1: the relay closed a tunnel of agent a: $(grep "tunnel_close: agent 'a' " "$T/relay.log" | tail -n 1)"
	fi
}

# --- 0.
allowed "a -> b 127.0.0.1:ECHO (reach @servers, policy line 3, b's --allow)" "$L_OK" 1
ups_a=$(log_count "$T/agent-a.log" 'session up')

# --- 1. b's --allow
refused "a -> b 127.0.0.1:OTHER, not in b's --allow" "$L_NOTLISTED"
wait_log "$T/agent-b.log" "agent 'a' asked for tcp 127\.0\.0\.1:$OTHER is not in the target agent's --allow list: refused" 10
check_ok "b says why: $(grep -o "agent 'a' asked for tcp 127\.0\.0\.1:$OTHER.*" "$T/agent-b.log" | head -n 1)"
wait_log "$T/agent-a.log" "-L $L_NOTLISTED:b:127\.0\.0\.1:$OTHER: .*agent 'b'.*127\.0\.0\.1:$OTHER.*--allow.*\(denied\)" 10
check_ok "a says why: $(grep -o -- "-L $L_NOTLISTED:b:.*" "$T/agent-a.log" | tail -n 1)"
[ "$(log_count "$T/serve-other.out" '^accept ')" -eq 0 ] || fail "b dialed 127.0.0.1:$OTHER anyway"
check_ok "127.0.0.1:$OTHER was never dialed"
# The relay logs b's refusal too, with both names.
wait_log "$T/relay.log" "agent 'b' reset the stream from agent 'a': tcp 127\.0\.0\.1:$OTHER is not in the target agent's --allow list" 10
check_ok "relay says why: $(grep -o "agent 'b' reset the stream from agent 'a'.*" "$T/relay.log" | head -n 1)"
tunnel_intact "after b's --allow refusal" 2

# --- 2. reach
refused "d -> b (d's token has no reach=)" "$L_D"
wait_log "$T/relay.log" "refused: agent 'd' may not reach agent 'b' \(its token's reach= does not name it\)" 10
check_ok "relay: $(grep -o "refused: agent 'd' may not reach agent 'b'.*" "$T/relay.log" | head -n 1)"
wait_log "$T/agent-d.log" "-L $L_D:b:127\.0\.0\.1:$ECHO: agent 'd' may not reach agent 'b'.*\(denied\)" 10
check_ok "d says why: $(grep -o -- "-L $L_D:b:.*" "$T/agent-d.log" | tail -n 1)"
if grep -q "agent 'd'" "$T/agent-b.log"; then
	fail "b heard of d's refused stream: $(grep "agent 'd'" "$T/agent-b.log" | head -n 1)"
fi
refused "a -> c (a's reach=@servers does not cover c)" "$L_C"
wait_log "$T/relay.log" "refused: agent 'a' may not reach agent 'c' \(its token's reach= does not name it\)" 10
wait_log "$T/agent-a.log" "-L $L_C:c:127\.0\.0\.1:$ECHO: agent 'a' may not reach agent 'c'.*\(denied\)" 10
check_ok "a -> c refused by reach, in the relay's and a's logs"
[ "$(log_count "$T/agent-c.log" "agent 'a'")" -eq 0 ] || fail "c heard of a's refused stream"
tunnel_intact "after the reach refusals" 3

# --- 3. policy deny line
refused "a -> b 127.0.0.1:PDENY (policy line 2 denies)" "$L_PDENY"
wait_log "$T/relay.log" "refused: agent 'a' may not reach 127\.0\.0\.1:$PDENY at agent 'b' \(policy line 2\)" 10
check_ok "relay: $(grep -o "refused: agent 'a' may not reach 127\.0\.0\.1:$PDENY.*" "$T/relay.log" | head -n 1)"
wait_log "$T/agent-a.log" "-L $L_PDENY:b:127\.0\.0\.1:$PDENY: .*policy line 2.*\(denied\)" 10
check_ok "a says why: $(grep -o -- "-L $L_PDENY:b:.*" "$T/agent-a.log" | tail -n 1)"
[ "$(log_count "$T/serve-pdeny.out" '^accept ')" -eq 0 ] || fail "b dialed 127.0.0.1:$PDENY anyway"
check_ok "127.0.0.1:$PDENY was never dialed"
tunnel_intact "after the policy refusal" 4

# --- 4. SIGHUP revokes
allowed "a -> b 127.0.0.1:ECHO2 before the reload" "$L_REV" 5
reloads=$(log_count "$T/relay.log" 'policy rule\(s\) loaded from')
write_policy "deny  a b 127.0.0.1:$ECHO2"
kill -HUP "$FY_RELAY_PID"
wait_log_count "$T/relay.log" "6 policy rule\(s\) loaded from $POLICY" $((reloads + 1)) 10
fy_alive "$FY_RELAY_PID" || fail "relay died on SIGHUP"
check_ok "SIGHUP: $(grep -o '[0-9]* policy rule(s) loaded from.*' "$T/relay.log" | tail -n 1)"
refused "a -> b 127.0.0.1:ECHO2 after the reload" "$L_REV"
wait_log "$T/relay.log" "refused: agent 'a' may not reach 127\.0\.0\.1:$ECHO2 at agent 'b' \(policy line 5\)" 10
wait_log "$T/agent-a.log" "-L $L_REV:b:127\.0\.0\.1:$ECHO2: .*policy line 5.*\(denied\)" 10
check_ok "revoked: the relay and a name policy line 5"
n=$(log_count "$T/serve-echo2.out" '^accept ')
[ "$n" -eq 1 ] || fail "127.0.0.1:$ECHO2 saw $n connections, want only the one before the reload"
tunnel_intact "after the reload" 6

# --- 5. a broken policy changes nothing
printf 'permit everything\n' >>"$POLICY"
kill -HUP "$FY_RELAY_PID"
wait_log "$T/relay.log" "policy not reloaded, the rules loaded before stay in use: .*policy:8: " 10
fy_alive "$FY_RELAY_PID" || fail "relay died on SIGHUP"
check_ok "broken policy: $(grep -o 'policy not reloaded.*' "$T/relay.log" | tail -n 1)"
refused "a -> b 127.0.0.1:ECHO2 with the old rules still in use" "$L_REV"
tunnel_intact "after the broken reload" 7

for n in a b c d; do
	fy_alive "${FY_AGENT_PID[$n]}" || fail "agent $n died"
done
pass
