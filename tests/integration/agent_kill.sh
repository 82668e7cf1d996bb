#!/usr/bin/env bash
# shellcheck disable=SC2119 # lib.sh helpers take optional arguments
# Agent killed with SIGKILL -> open public connections are reset (never a clean EOF that
# could pass for a complete transfer); the ports stop accepting; agent restarted -> served.
#
#   send 256 MiB ──▶ relay :P_SLOW ══╗                  ╔══▶ agent ──▶ serve sink --slow-read 256K/s :SLOW
#   3 x hold     ──▶ relay :P_ECHO ══╬══ TLS tunnel ════╬══▶ agent ──▶ serve echo                   :ECHO
#   send 1 MiB   ──▶ relay :P_SINK ══╝     (SIGKILL)    ╚══▶ agent ──▶ serve sink                   :SINK
#
# While the 256 MiB transfer is in flight (its target reads 256 KiB/s) and three more
# connections are open (each sent 1000 bytes; their streams have reached the echo
# target, and they wait for the end), the agent gets SIGKILL. Then: the transfer's
# sender fails with a reset (fy-load exit 3; exit 0 or 4 would be the silent-truncation
# bug), each open connection sees ECONNRESET, the three ports refuse connections; the
# same agent started again serves all three.
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
fy_init 21400

fy_alloc_port RELAY_PORT
fy_alloc_port SLOW
fy_alloc_port ECHO
fy_alloc_port SINK
fy_alloc_port P_SLOW
fy_alloc_port P_ECHO
fy_alloc_port P_SINK
FWD=(-R "$P_SLOW:127.0.0.1:$SLOW" -R "$P_ECHO:127.0.0.1:$ECHO" -R "$P_SINK:127.0.0.1:$SINK")

fy_certs
TOK=$(fy_token victim "$FY_PORT_RANGE")
fy_serve serve-slow "$SLOW" --mode sink --slow-read 256K
fy_serve serve-echo "$ECHO" --mode echo
fy_serve serve-sink "$SINK" --mode sink
fy_relay_start
fy_agent_start victim "$TOK" "${FWD[@]}"
wait_listen "$P_SLOW" 15
wait_listen "$P_ECHO" 15
wait_listen "$P_SINK" 15
load_ok "before: 1 MiB through" send --connect "127.0.0.1:$P_SINK" --bytes 1M --seed 1 --timeout 30

fy_bg xfer "$LOAD" send --connect "127.0.0.1:$P_SLOW" --bytes 256M --seed 2 --timeout 60
for i in 1 2 3; do
	fy_bg "hold$i" "$LOAD" hold --connect "127.0.0.1:$P_ECHO" --expect reset --send-bytes 1000 --timeout 30
done
# The transfer's stream and the three open streams have reached their targets.
wait_log "$T/serve-slow.out" '^accept ' 10
wait_log_count "$T/serve-echo.out" '^accept ' 3 10
fy_alive "${FY_PID[xfer]}" || fail "the transfer ended before the kill: $(fy_result xfer)"

fy_say "SIGKILL agent pid ${FY_AGENT_PID[victim]}"
fy_agent_stop victim KILL

fy_bg_wait xfer
case $FY_RC in
3) check_ok "in-flight transfer was reset: $(fy_result xfer)" ;;
0 | 4) fail "in-flight transfer ended cleanly after the agent died (exit $FY_RC): $(fy_result xfer)" ;;
*) fail "in-flight transfer: $(fy_result xfer) (exit $FY_RC, want 3 = reset)" ;;
esac
for i in 1 2 3; do
	fy_bg_wait "hold$i"
	[ "$FY_RC" -eq 0 ] || fail "open connection $i: $(fy_result "hold$i") (want reset)"
	check_ok "open connection $i: $(fy_result "hold$i")"
done

wait_closed "$P_SLOW" 10
wait_closed "$P_ECHO" 10
wait_closed "$P_SINK" 10
load_ok "ports refuse while the agent is gone" hold --connect "127.0.0.1:$P_SINK" --expect refused --timeout 5
kill -0 "$FY_RELAY_PID" || fail "relay died"

fy_agent_start victim "$TOK" "${FWD[@]}"
wait_listen "$P_SLOW" 15
wait_listen "$P_ECHO" 15
wait_listen "$P_SINK" 15
load_ok "after restart: 1 MiB through" send --connect "127.0.0.1:$P_SINK" --bytes 1M --seed 3 --timeout 30
load_ok "after restart: 16 echo streams" multi --connect "127.0.0.1:$P_ECHO" --streams 16 --max-bytes 256K \
	--seed 4 --timeout 30
load_ok "after restart: slow target reached" send --connect "127.0.0.1:$P_SLOW" --bytes 64K --seed 5 --timeout 30

pass
