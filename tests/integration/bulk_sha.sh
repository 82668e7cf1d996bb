#!/usr/bin/env bash
# shellcheck disable=SC2119 # lib.sh helpers take optional arguments
# Bytes arrive complete and in order: 64 MiB each way through one -R forward.
#
#   fy-load send ──TCP──▶ relay :PUB_IN  ══TLS 1.3 tunnel══▶ agent ──TCP──▶ fy-load serve sink   :SINK
#   fy-load recv ◀──TCP── relay :PUB_OUT ◀══════════════════ agent ◀──TCP── fy-load serve source :SRC
#                         (everything on 127.0.0.1, one relay, one agent)
#
# client -> target: send writes 64 MiB (seed 1), shuts down its write side, and compares
#   the sha256 line the sink answers with its own; the sink's log must show the same digest
#   and exactly 64 MiB.
# target -> client: recv reads the source's 64 MiB (seed 2) to a clean EOF, comparing
#   byte by byte and by sha256.
# Both digests are also checked against `fy-load gen | sha256sum` (independent hashing).
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
fy_init 21000

fy_alloc_port RELAY_PORT
fy_alloc_port SINK
fy_alloc_port SRC
fy_alloc_port PUB_IN
fy_alloc_port PUB_OUT
N=64M
BYTES=$((64 << 20))

fy_certs
TOK=$(fy_token bulk "$FY_PORT_RANGE")
fy_serve serve-sink "$SINK" --mode sink
fy_serve serve-src "$SRC" --mode source --bytes "$N" --seed 2
fy_relay_start
fy_agent_start bulk "$TOK" -R "$PUB_IN:127.0.0.1:$SINK" -R "$PUB_OUT:127.0.0.1:$SRC"
wait_listen "$PUB_IN" 15
wait_listen "$PUB_OUT" 15

want_in=$(gen_sha "$N" 1)
want_out=$(gen_sha "$N" 2)

load_ok "64 MiB client -> target" send --connect "127.0.0.1:$PUB_IN" --bytes "$N" --seed 1 --timeout 150
[ "$(field sha256 "$FY_OUT")" = "$want_in" ] || fail "client -> target digest differs from sha256sum of the input"
wait_log "$T/serve-sink.out" "^conn id=[0-9]+ mode=sink in=$BYTES out=65 in_sha256=$want_in end=eof" 10
check_ok "sink saw exactly $BYTES bytes, sha256 $want_in, then EOF"

load_ok "64 MiB target -> client" recv --connect "127.0.0.1:$PUB_OUT" --bytes "$N" --seed 2 --timeout 150
[ "$(field sha256 "$FY_OUT")" = "$want_out" ] || fail "target -> client digest differs from sha256sum of the source"

# Both directions at once, on two streams of the same tunnel.
fy_bg up "$LOAD" send --connect "127.0.0.1:$PUB_IN" --bytes "$N" --seed 1 --timeout 150
fy_bg down "$LOAD" recv --connect "127.0.0.1:$PUB_OUT" --bytes "$N" --seed 2 --timeout 150
fy_bg_wait up
[ "$FY_RC" -eq 0 ] || fail "concurrent client -> target: $(fy_result up) (exit $FY_RC)"
fy_bg_wait down
[ "$FY_RC" -eq 0 ] || fail "concurrent target -> client: $(fy_result down) (exit $FY_RC)"
check_ok "64 MiB each way at the same time: $(fy_result up) / $(fy_result down)"

pass
