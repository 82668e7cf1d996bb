#!/usr/bin/env bash
# shellcheck disable=SC2119 # lib.sh helpers take optional arguments
# A token guesser costs the relay ten TLS handshakes and a handful of log lines, not
# one of each per guess: refused HELLOs are summarised (one line in full per worker
# and 10 s, then one "N more agents refused" line), and an address with 10 failures
# within 60 s is refused at accept for 30 s. Real agents from other addresses are not
# disturbed, and an address with fewer than 10 failures is not refused.
#
#   fy-load tls --repeat 2000 --source 127.0.0.5 --hello WRONG ──┐
#   fy-load tls --repeat 9, then 2 --source 127.0.0.6 WRONG ─────┤
#                                                                ▼ :RELAY_PORT (--workers 2)
#   client ──▶ :PUB ◀── ferry-relay ◀══ TLS ══ agent a (127.0.0.1, good token) ──▶ serve sink :SINK
#                                                (started while the guesser runs)
#
# 127.0.0.1, 127.0.0.5 and 127.0.0.6 fall in different buckets of the relay's
# per-address failure table (XXH3 of the address mod 4096: 2241, 1072 and another).
# The guesses run one after another, so exactly 10 reach HELLO before the tarpit shuts
# the address out: error_AUTH=10, refused_early=1990.
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
fy_init 24400

fy_alloc_port RELAY_PORT
fy_alloc_port SINK
fy_alloc_port PUB
RELAY=127.0.0.1:$RELAY_PORT

fy_certs
TOK=$(fy_token a "$FY_PORT_RANGE")
BOGUS="fyt_$(head -c 32 /dev/urandom | base64 | tr -d '/+=' | head -c 43)"
fy_serve serve-sink "$SINK" --mode sink
fy_relay_start --workers 2
TLS=(tls --connect "$RELAY" --ca "$T/pki/ca.crt")

# --- 2,000 wrong tokens from 127.0.0.5; a real agent comes up meanwhile
t0=$(date +%s.%N)
fy_bg guesser "$LOAD" "${TLS[@]}" --repeat 2000 --source 127.0.0.5 --hello "$BOGUS" --timeout 100
fy_agent_start a "$TOK" -R "$PUB:127.0.0.1:$SINK"
wait_log "$T/agent-a.log" 'session up: 2 tunnels' 20
wait_listen "$PUB" 10
load_ok "the real agent (127.0.0.1) serves while 127.0.0.5 guesses" send --connect "127.0.0.1:$PUB" \
	--bytes 2M --seed 3 --timeout 30
fy_bg_wait guesser
t1=$(date +%s.%N)
g=$(fy_result guesser)
[ "$FY_RC" -eq 0 ] || fail "the guesser: $g (fy-load exit $FY_RC)"
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
{ [ "$(field error_AUTH "$g")" = 10 ] && [ "$(field refused_early "$g")" = 1990 ] &&
	[ "$(field other "$g")" = 0 ]; } ||
	fail "of 2000 wrong tokens want 10 answered with ERROR(AUTH) and 1990 refused at accept: $g"
check_ok "2000 wrong tokens from 127.0.0.5 in ${secs} s: $g"
wait_log "$T/relay.log" 'WARN .*127\.0\.0\.5:[0-9]+ failed authentication 10 times within 60 s: its address is refused for 30 s' 5

# --- what the relay logged about 127.0.0.5
warn5=$(grep ' WARN ' "$T/relay.log" | grep -c '127\.0\.0\.5:' || true)
full5=$(log_count "$T/relay.log" 'WARN .*agent from 127\.0\.0\.5:[0-9]+ refused: token not accepted \(more agents refused within 10 s are counted and reported in one line\)')
tarpit5=$(log_count "$T/relay.log" 'WARN .*127\.0\.0\.5:[0-9]+ failed authentication 10 times')
info5=$(log_count "$T/relay.log" 'INFO .*refusing 127\.0\.0\.5:[0-9]+: too many failed authentications from its address')
{ [ "$full5" -ge 1 ] && [ "$full5" -le 2 ]; } || fail "want 1 or 2 (one per worker) full 'refused' lines for 127.0.0.5, got $full5"
[ "$tarpit5" -eq 1 ] || fail "want the tarpit line once for 127.0.0.5, got $tarpit5"
[ "$warn5" -le 6 ] || fail "$warn5 WARN lines name 127.0.0.5 (want at most 6: <= 2 full, <= 2 summaries, 1 tarpit)"
{ [ "$info5" -ge 1 ] && [ "$info5" -le 200 ]; } ||
	fail "want the rate-limited 'refusing 127.0.0.5: too many failed authentications' INFO line 1..200 times, got $info5"
check_ok "relay log for 127.0.0.5: $full5 full refusal line(s), 1 tarpit line, $warn5 WARN in all, $info5 rate-limited INFO refusals for 1990 connections"

# The tarpit refuses the address, whatever it sends: even a good token.
load_ok "127.0.0.5 with a good token during its 30 s" "${TLS[@]}" --repeat 1 --source 127.0.0.5 \
	--hello "$TOK:a2" --timeout 20
[ "$(field refused_early "$FY_OUT")" = 1 ] || fail "127.0.0.5 was let in during its tarpit: $FY_OUT"

# --- 127.0.0.6: 9 failures are not enough; the 10th trips it
load_ok "9 wrong tokens from 127.0.0.6" "${TLS[@]}" --repeat 9 --source 127.0.0.6 --hello "$BOGUS" --timeout 30
{ [ "$(field error_AUTH "$FY_OUT")" = 9 ] && [ "$(field refused_early "$FY_OUT")" = 0 ]; } ||
	fail "127.0.0.6 was refused before its 10th failure: $FY_OUT"
n=$(log_count "$T/relay.log" '127\.0\.0\.6:[0-9]+ failed authentication|refusing 127\.0\.0\.6')
[ "$n" -eq 0 ] || fail "127.0.0.6 tarpitted after 9 failures ($n lines)"
load_ok "2 more wrong tokens from 127.0.0.6 (the 10th and 11th)" "${TLS[@]}" --repeat 2 --source 127.0.0.6 \
	--hello "$BOGUS" --timeout 30
{ [ "$(field error_AUTH "$FY_OUT")" = 1 ] && [ "$(field refused_early "$FY_OUT")" = 1 ]; } ||
	fail "want the 10th failure answered and the 11th refused at accept: $FY_OUT"
wait_log "$T/relay.log" '127\.0\.0\.6:[0-9]+ failed authentication 10 times within 60 s' 5

# --- the summary: full lines + counts in "N more agents refused" = the 20 refused HELLOs
total=0
for ((i = 0; i < 250; i++)); do
	full=$(log_count "$T/relay.log" 'WARN .*agent from 127\.0\.0\.[56]:[0-9]+ refused: token not accepted \(more')
	more=$(grep -E 'WARN .*[0-9]+ more agents refused in the last [0-9]+ s \(latest: agent from 127\.0\.0\.[56]:[0-9]+ refused: token not accepted\)' \
		"$T/relay.log" | sed -E 's/.* ([0-9]+) more agents refused.*/\1/' | awk '{ s += $1 } END { print s + 0 }')
	total=$((full + more))
	[ "$total" -ge 20 ] && [ "$more" -gt 0 ] && break
	sleep 0.1
done
[ "$total" -eq 20 ] || fail "full refusal lines ($full) + summarised counts ($more) = $total, want the 20 refused HELLOs"
check_ok "refused HELLOs logged as $full full line(s) + $(grep -c 'more agents refused in the last' "$T/relay.log") summary line(s) counting $more: $(grep -m1 'more agents refused in the last' "$T/relay.log" | sed 's/^.*WARN *//')"

fy_alive "${FY_AGENT_PID[a]}" || fail "agent a died"
load_ok "the real agent still serves" send --connect "127.0.0.1:$PUB" --bytes 1M --seed 4 --timeout 30
grep -q 'refusing 127\.0\.0\.1' "$T/relay.log" && fail "the relay refused the real agent's address"

pass
