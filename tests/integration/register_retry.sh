#!/usr/bin/env bash
# shellcheck disable=SC2119 # lib.sh helpers take optional arguments
# A claim the relay refuses for now (the port is busy on the relay host: RESULT
# IN_USE) is claimed again with backoff and comes up once the port is free, in the
# same session; a claim refused as not allowed (DENIED: outside the token's ports) is
# reported once with "(not retried)" and never sent again.
#
#   blocker: fy-load serve on 127.0.0.1:BUSY (another program on the relay host,
#            no SO_REUSEPORT), stopped after the agent's third try
#
#   client ──▶ relay :BUSY ══ TLS ══ agent a ──▶ serve sink :SINK
#                                     -R BUSY:127.0.0.1:SINK  (IN_USE, retried: 1, 2, 4 s ...)
#                                     -R DENY:127.0.0.1:SINK  (token a: ports PORT_BASE..+98,
#                                                              DENY = PORT_BASE+99: DENIED, once)
#   client ──▶ relay :OK ═══╝         -R OK:127.0.0.1:SINK    (comes up at once)
#
# Before the retries, the busy claim was reported once and the forward stayed down
# until the agent reconnected for some other reason.
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
fy_init 24600

fy_alloc_port RELAY_PORT
fy_alloc_port SINK
fy_alloc_port BUSY
fy_alloc_port OK
DENY=$((FY_PORT_BASE + 99))
fy_listening "$DENY" && fail "port $DENY is in use on this machine; this scenario needs it free"

fy_certs
TOK=$(fy_token a "$FY_PORT_BASE-$((FY_PORT_BASE + 98))")
fy_serve serve-sink "$SINK" --mode sink
fy_serve blocker "$BUSY" --mode sink
fy_relay_start --workers 2
fy_agent_start a "$TOK" -R "$BUSY:127.0.0.1:$SINK" -R "$DENY:127.0.0.1:$SINK" -R "$OK:127.0.0.1:$SINK"
AG=$T/agent-a.log
BUSY_RE="relay refused -R $BUSY:127\.0\.0\.1:$SINK for now: cannot listen on 127\.0\.0\.1:$BUSY: Address already in use; claiming it again in"
DENY_RE="relay refused -R $DENY:127\.0\.0\.1:$SINK: token not allowed to claim port $DENY \(allowed: $FY_PORT_BASE-$((FY_PORT_BASE + 98))\) \(not retried\)"

wait_log "$AG" 'session up' 20
wait_log "$AG" "forwarding relay port $OK to 127\.0\.0\.1:$SINK" 10
wait_log "$AG" "ERROR .*$DENY_RE" 10
wait_log "$AG" "WARN.* $BUSY_RE 1\.0 s" 10
check_ok "busy port: $(grep -m1 -E "$BUSY_RE" "$AG" | sed 's/^.*WARN *//')"
check_ok "denied port: $(grep -m1 -E "$DENY_RE" "$AG" | sed 's/^.*ERROR *//')"
load_ok "the free port works meanwhile" send --connect "127.0.0.1:$OK" --bytes 1M --seed 1 --timeout 30

# Backoff doubles: 1, 2, 4 s. The third try is about 3 s after the first.
wait_log "$AG" "WARN.* $BUSY_RE 2\.0 s" 15
wait_log "$AG" "WARN.* $BUSY_RE 4\.0 s" 15
nb=$(log_count "$AG" "$BUSY_RE")
nbr=$(log_count "$T/relay.log" "agent 'a' refused port $BUSY: cannot listen on 127\.0\.0\.1:$BUSY: Address already in use")
{ [ "$nbr" -ge 3 ] && [ "$nbr" -le "$nb" ]; } || fail "the relay refused port $BUSY $nbr times; the agent logged $nb retries"
check_ok "$nb claims of $BUSY refused as busy, retried with backoff 1, 2, 4 s"
fy_listening "$BUSY" || fail "the blocker no longer listens on $BUSY"

# The port comes free: the next try (at most 4 s away) gets it.
fy_stop blocker TERM 10
t0=$(date +%s.%N)
wait_log "$AG" "forwarding relay port $BUSY to 127\.0\.0\.1:$SINK" 20
t1=$(date +%s.%N)
wait_log "$T/relay.log" "agent 'a' claimed port $BUSY: listening on 127\.0\.0\.1:$BUSY" 5
check_ok "forward $BUSY up $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s after the blocker left"
wait_listen "$BUSY" 5
load_ok "4 MiB through the retried forward" send --connect "127.0.0.1:$BUSY" --bytes 4M --seed 2 --timeout 30
wait_log "$T/serve-sink.out" "^conn id=.* in=4194304 .*in_sha256=$(gen_sha 4194304 2) .*end=eof" 10

# The denied claim: said once by each side, never claimed again (over 8+ s, 4 busy tries).
sleep 2 # a DENY claim sent again would have had ample time to show up
nd=$(log_count "$AG" "relay refused -R $DENY:")
ndr=$(log_count "$T/relay.log" "agent 'a' refused port $DENY: token not allowed to claim port $DENY")
nall=$(log_count "$T/relay.log" "refused port $DENY|claimed port $DENY")
{ [ "$nd" -eq 1 ] && [ "$ndr" -eq 1 ] && [ "$nall" -eq 1 ]; } ||
	fail "the denied claim of $DENY: $nd agent line(s), $ndr relay refusal(s), $nall relay line(s) about it; want 1 each"
fy_listening "$DENY" && fail "port $DENY listens although the token does not allow it"
check_ok "denied claim: 1 agent line with '(not retried)', 1 relay refusal, nothing listens on $DENY"

n=$(log_count "$AG" 'connecting to relay')
[ "$n" -eq 1 ] || fail "the agent connected $n times; the retries must happen within one session"
fy_alive "${FY_AGENT_PID[a]}" || fail "agent died"

pass
