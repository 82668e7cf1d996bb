#!/usr/bin/env bash
# Graceful drain on SIGTERM (relay --drain-ms 3000):
#
#   fy-load send 2 MiB ──▶ relay ◀══ agent ──▶ sink reading 1 MiB/s  (finishes in ~2 s)
#   fy-load hold (idle) ──▶ relay ◀══ agent ──▶ echo                  (never finishes)
#
# After SIGTERM the relay stops accepting at once, the transfer that fits in
# the deadline completes with the right sha256, the idle connection is reset
# when the deadline passes (not cut with a clean EOF), and the relay exits 0.
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
fy_init 22900

fy_alloc_port RELAY_PORT
fy_alloc_port SLOW
fy_alloc_port ECHO
fy_alloc_port P_SLOW
fy_alloc_port P_ECHO

fy_certs
TOK=$(fy_token drain "$FY_PORT_RANGE")
fy_serve serve-slow "$SLOW" --mode sink --slow-read 1M
fy_serve serve-echo "$ECHO" --mode echo
fy_relay_start --drain-ms 3000
fy_agent_start drain "$TOK" -R "$P_SLOW:127.0.0.1:$SLOW" -R "$P_ECHO:127.0.0.1:$ECHO"
wait_listen "$P_SLOW" 15
wait_listen "$P_ECHO" 15

fy_bg xfer "$LOAD" send --connect "127.0.0.1:$P_SLOW" --bytes 2M --seed 1 --timeout 30
fy_bg idle "$LOAD" hold --connect "127.0.0.1:$P_ECHO" --expect reset --send-bytes 10 --timeout 30
wait_log "$T/serve-slow.out" '^accept ' 10
wait_log "$T/serve-echo.out" '^accept ' 10

t0=$(date +%s%N)
kill -TERM "$FY_RELAY_PID"
wait_closed "$P_SLOW" 2
wait_closed "$RELAY_PORT" 2
check_ok "listeners closed at once on SIGTERM"

fy_bg_wait xfer
[ "$FY_RC" -eq 0 ] || fail "in-flight transfer during drain: $(fy_result xfer) (exit $FY_RC)"
[ "$(field sha256 "$(fy_result xfer)")" = "$(gen_sha 2M 1)" ] || fail "transfer digest differs"
check_ok "transfer in flight finished during the drain: $(fy_result xfer)"
fy_bg_wait idle
t1=$(date +%s%N)
[ "$FY_RC" -eq 0 ] || fail "idle connection at the deadline: $(fy_result idle) (want reset)"
ms=$(((t1 - t0) / 1000000))
[ "$ms" -ge 2500 ] || fail "idle connection ended after $ms ms, before the 3000 ms deadline"
check_ok "idle connection reset at the deadline (after $ms ms)"
fy_relay_stop TERM
[ "$FY_RC" -eq 0 ] || fail "relay exited $FY_RC after draining, want 0"
check_ok "relay exited 0"
pass
