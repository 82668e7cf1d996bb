#!/usr/bin/env bash
# The agent of the first site is killed (SIGKILL): its public ports go away at once
# (the other site keeps serving); started again, it claims them again and serves.
set -u
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "$0")/lib.sh"
s=${SITES%% *}
n=$(forwards "$s")
on_kill "edge-$s" agent KILL
ok "edge-$s: agent killed (SIGKILL)"
on_wait client "! curl -s --max-time 5 -o /dev/null http://$RELAY:${WEB[$s]}/hello.txt" 20 ||
	fail "port ${WEB[$s]} still serves 20 s after its agent died"
ok "the relay dropped edge-$s's ports: curl to ${WEB[$s]} fails"
for o in $SITES; do
	[ "$o" = "$s" ] && continue
	body=$(on client "curl -sS --fail --max-time 30 http://$RELAY:${WEB[$o]}/hello.txt") ||
		fail "edge-$o stopped serving while edge-$s's agent was down"
	[ "$body" = "hello from edge-$o" ] || fail "edge-$o answered '$body'"
	ok "edge-$o still serves meanwhile"
done
t0=$(now_ms)
start_agent "$s"
wait_forwards "$s" $((n + 2)) 60
ok "edge-$s: agent started again, ports claimed in $(($(now_ms) - t0)) ms"
web_sha "$s"
ssh_sha "$s"
pass
