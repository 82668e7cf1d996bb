#!/usr/bin/env bash
# shellcheck disable=SC2119 # lib.sh helpers take optional arguments
# A sustained flood of idle TCP connections on the agent port keeps the relay's
# unauthenticated cap full; a real agent still gets in (the oldest silent
# unauthenticated connection is closed to make room, never one mid-handshake while a
# silent one is left), its forward carries a sha256-checked transfer,
# and the per-address cap still holds. Nothing leaks once the flood stops.
#
#   fy-load flood (300 idle conns, 127.0.0.2-127.0.0.33, replaced as they close)
#        │
#        ▼ :RELAY_PORT  (--workers 2 --max-unauth 256 --max-unauth-per-ip 16
#   ferry-relay           --handshake-timeout-ms 30000: no flood conn times out by itself)
#        ▲ ║
#        │ ╚══ TLS ══ agent a (from 127.0.0.1, started while the flood runs) ──▶ serve sink :SINK
#        └── client ─▶ :PUB (4 MiB, sha256 checked by the sink)
#   afterwards: 20 idle conns from 127.0.0.1 -> 16 held, 4 closed at once (per-address cap);
#               16 from 127.0.0.2 (a flooded address) all held: its count was released.
#
# 300 connections over 32 addresses is ~9.4 per address, under the per-address cap of 16,
# so only the total cap (256) bites. Before the eviction, a cap kept full by a flood like
# this one shut agents out for good (the flood reconnects faster than an agent with its
# 1 s+ reconnect backoff).
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
fy_init 24300

fy_alloc_port RELAY_PORT
fy_alloc_port SINK
fy_alloc_port PUB
RELAY=127.0.0.1:$RELAY_PORT

fy_certs
TOK=$(fy_token a "$FY_PORT_RANGE")
fy_serve serve-sink "$SINK" --mode sink
fy_relay_start --workers 2 --max-unauth 256 --max-unauth-per-ip 16 --handshake-timeout-ms 30000

# --- the flood: the cap fills and stays full
fy_bg flood "$LOAD" flood --connect "$RELAY" --conns 300 --sources 127.0.0.2-127.0.0.33 \
	--duration 90 --timeout 120
# The cap is full once the relay closes more of the flood's connections than it has
# open: wait for a progress line with closed_by_peer > 300.
fl=
for ((i = 0; i < 300; i++)); do
	fl=$(grep '^flood open=' "$T/flood.out" | tail -n 1) || true
	[ -n "$fl" ] && [ "$(field closed_by_peer "$fl")" -gt 300 ] && break
	fl=
	sleep 0.1
done
[ -n "$fl" ] || fail "the flood did not fill the cap in 30 s: $(tail -n 2 "$T/flood.out")"
check_ok "flood running, the cap is full: $fl"

# --- a real agent gets in while the flood goes on
t0=$(date +%s.%N)
fy_agent_start a "$TOK" -R "$PUB:127.0.0.1:$SINK"
wait_log "$T/agent-a.log" 'session up: 2 tunnels' 20
t1=$(date +%s.%N)
up_secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
check_ok "agent session up ${up_secs} s after start, under the flood"
wait_listen "$PUB" 10
fy_alive "${FY_PID[flood]}" || fail "the flood ended before the agent's check: $(tail -n 3 "$T/flood.out")"
load_ok "4 MiB through the agent's forward during the flood (sha256 by the sink)" \
	send --connect "127.0.0.1:$PUB" --bytes 4M --seed 7 --timeout 30
wait_log "$T/serve-sink.out" "^conn id=.* in=4194304 .*in_sha256=$(gen_sha 4194304 7) .*end=eof" 10
fy_alive "${FY_PID[flood]}" || fail "the flood ended before the transfer was done: $(tail -n 3 "$T/flood.out")"
# The next progress line (printed after the transfer) shows the flood still at the cap.
closed0=$(field closed_by_peer "$(grep '^flood open=' "$T/flood.out" | tail -n 1)")
wait_log_count "$T/flood.out" '^flood open=' $(($(log_count "$T/flood.out" '^flood open=') + 1)) 10
fl=$(grep '^flood open=' "$T/flood.out" | tail -n 1)
closed=$(field closed_by_peer "$fl")
[ "$closed" -gt $((closed0 + 300)) ] ||
	fail "the flood saw only $((closed - closed0)) of its connections closed in its last second (want > 300): $fl"
open=$(field open "$fl")
[ "$open" -ge 200 ] || fail "the flood holds only $open connections; it should keep the cap full: $fl"
check_ok "the flood kept going throughout: $fl"
n=$(log_count "$T/relay.log" 'unauthenticated connections at the cap \(256\): closing the oldest, from 127\.0\.0\.([2-9]|[12][0-9]|3[0-3]):[0-9]+ after [0-9]+ ms, to let 127\.0\.0\.[0-9]+:[0-9]+ in')
[ "$n" -ge 1 ] || fail "no eviction line in relay.log"
n_ref=$(log_count "$T/relay.log" 'none on this worker to evict')
check_ok "relay logged $n rate-limited eviction line(s), $n_ref 'none on this worker to evict'"
grep -q 'refusing 127\.0\.0\.1' "$T/relay.log" && fail "the relay refused the agent's address 127.0.0.1"
fy_alive "${FY_AGENT_PID[a]}" || fail "agent died under the flood"

# --- the flood stops: the counts come back down
fy_stop flood TERM 10
since=$(wc -l <"$T/relay.log")
# The relay has closed its side of every flood connection once none is in CLOSE-WAIT.
for ((i = 0; i < 400; i++)); do
	[ -z "$(ss -Htn state close-wait "( sport = :$RELAY_PORT )" 2>/dev/null)" ] && break
	sleep 0.05
done
n=$(ss -Htn state close-wait "( sport = :$RELAY_PORT )" 2>/dev/null | wc -l)
[ "$n" -eq 0 ] || fail "$n flood connections still open on the relay's side 20 s after the flood ended"

# The per-address cap holds: 20 idle connections from 127.0.0.1, 16 held, 4 closed at once.
load_ok "20 idle connections from 127.0.0.1 (--max-unauth-per-ip 16)" \
	hold --connect "$RELAY" --conns 20 --duration 4 --timeout 20
[ "$(field open "$FY_OUT")" = 16 ] || fail "want 16 of 20 connections held by the per-address cap: $FY_OUT"
[ $(($(field reset "$FY_OUT") + $(field eof "$FY_OUT"))) -eq 4 ] ||
	fail "want 4 of 20 connections closed by the per-address cap: $FY_OUT"
wait_log "$T/relay.log" 'refusing 127\.0\.0\.1:[0-9]+: 16 unauthenticated connections from its address already \(--max-unauth-per-ip\)' 10
check_ok "per-address cap: 16 held, 4 refused, relay says why"

# A flooded address got its count back: 16 idle connections from 127.0.0.2 all held.
out=$(load flood --connect "$RELAY" --conns 16 --sources 127.0.0.2 --duration 3 --timeout 20) ||
	fail "fy-load flood from 127.0.0.2 failed: $out"
FY_OUT=$(tail -n 1 <<<"$out")
check_ok "16 idle connections from 127.0.0.2 after the flood: $FY_OUT"
{ [ "$(field open "$FY_OUT")" = 16 ] && [ "$(field closed_by_peer "$FY_OUT")" = 0 ]; } ||
	fail "127.0.0.2's unauthenticated count was not released after the flood: $FY_OUT"
n=$(tail -n +$((since + 1)) "$T/relay.log" | grep -c 'at the cap' || true)
[ "$n" -eq 0 ] || fail "the relay still evicts after the flood stopped ($n lines): its total count leaked"
check_ok "after the flood: no eviction, 127.0.0.2 may hold its 16 again"

load_ok "the forward still works after the flood" send --connect "127.0.0.1:$PUB" --bytes 1M \
	--seed 8 --timeout 30
fy_alive "$FY_RELAY_PID" || fail "relay died"

pass
