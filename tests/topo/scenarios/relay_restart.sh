#!/usr/bin/env bash
# The relay stops (SIGTERM: drains, exits 0) and starts again: every agent
# reconnects with its backoff, claims its ports again, and the edges serve.
set -u
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "$0")/lib.sh"
declare -A n r
for s in $SITES; do
	n[$s]=$(forwards "$s")
	r[$s]=$(count "edge-$s" agent.log 'retrying in')
done
on_kill relay relay TERM 30
ok "relay stopped (SIGTERM)"
for s in $SITES; do
	on_wait "edge-$s" "[ \$(grep -c 'retrying in' agent.log) -gt ${r[$s]} ]" 30 ||
		fail "edge-$s did not notice the relay going"
done
ok "every agent noticed and backs off"
t0=$(now_ms)
start_relay
ok "relay started again"
for s in $SITES; do
	wait_forwards "$s" $((n[$s] + 2)) 60
	ok "edge-$s reconnected, ports claimed again ($(($(now_ms) - t0)) ms after the relay's start)"
done
for s in $SITES; do web_sha "$s"; done
pass
