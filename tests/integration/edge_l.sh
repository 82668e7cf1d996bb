#!/usr/bin/env bash
# shellcheck disable=SC2119 # lib.sh helpers take optional arguments
# -L: a local listener on agent a whose connections become streams through the relay to
# agent b, which dials the target because its --allow lists it (docs/PROTOCOL.md,
# "Version 2": CONNECT at a, DIAL at b, the relay joins the two streams).
#
#   fy-load ─▶ a :L_SINK ══╗                     ╔══▶ b ──▶ serve sink   :SINK   (--allow 127.0.0.0/8:SINK)
#   fy-load ◀─ a :L_SRC  ══╣   a ══ relay ══ b   ╠══▶ b ──▶ serve source :SRC    (--allow tcp:127.0.0.1:SRC)
#   fy-load ◀▶ a :L_ECHO ══╣  (token a: reach=b) ╠══▶ b ──▶ serve echo   :ECHO   (--allow 127.0.0.1:ECHO)
#   slowpair ─ a :L_SLOW ══╣                     ╠══▶ b ──▶ serve sink --slow-read 64K/s :SLOW
#            ─ a :L_FAST ══╝                     ╚══▶ b ──▶ serve sink   :FAST
#
# 1. (relay --workers 2: a's and b's streams may sit on different workers) 64 MiB a -> b
#    into a sink and 64 MiB b -> a from a source: the sink's digest (a -> b) and the
#    receiver's (b -> a) must equal sha256sum of fy-load gen's stream; the MB/s are printed.
# 2. 20 concurrent echo streams of random sizes (fy-load multi), all intact; the echo
#    target saw 20 connections end cleanly.
# 3. The relay restarted with --workers 1, so that both agents have one tunnel each and
#    every stream between them shares it: both agents come back by themselves, and a
#    fast 32 MiB stream finishes while a stream into a target reading 64 KiB/s is
#    blocked (flow control per stream and per hop, not per tunnel).
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
fy_init 25400

fy_alloc_port RELAY_PORT
for p in SINK SRC ECHO SLOW FAST L_SINK L_SRC L_ECHO L_SLOW L_FAST; do
	fy_alloc_port "$p"
done
BIG=64M
STREAMS=20

fy_certs
TOK_A=$(fy_token a "$FY_PORT_RANGE" --reach b)
TOK_B=$(fy_token b "$FY_PORT_RANGE")
fy_serve serve-sink "$SINK" --mode sink
fy_serve serve-src "$SRC" --mode source --bytes "$BIG" --seed 12
fy_serve serve-echo "$ECHO" --mode echo
fy_serve serve-slow "$SLOW" --mode sink --slow-read 64K --rcvbuf 64K
fy_serve serve-fast "$FAST" --mode sink
fy_relay_start --workers 2

fy_agent_start b "$TOK_B" --backoff-min-ms 200 --backoff-max-ms 1000 \
	--allow "127.0.0.0/8:$SINK" --allow "tcp:127.0.0.1:$SRC" --allow "127.0.0.1:$ECHO" \
	--allow "127.0.0.1:$SLOW" --allow "127.0.0.1:$FAST"
fy_agent_start a "$TOK_A" --backoff-min-ms 200 --backoff-max-ms 1000 \
	-L "$L_SINK:b:127.0.0.1:$SINK" -L "127.0.0.1:$L_SRC:b:127.0.0.1:$SRC" \
	-L "$L_ECHO:b:127.0.0.1:$ECHO" -L "$L_SLOW:b:127.0.0.1:$SLOW" -L "$L_FAST:b:127.0.0.1:$FAST"
wait_log "$T/agent-b.log" 'session up' 15
wait_log "$T/agent-a.log" 'session up' 15
for p in "$L_SINK" "$L_SRC" "$L_ECHO" "$L_SLOW" "$L_FAST"; do
	wait_listen "$p" 10
done
wait_log "$T/relay.log" "agent 'a' .*tunnel .* up" 10
check_ok "agents up: a with 5 -L listeners, b with 5 --allow entries"

# --- 1. 64 MiB each way
want_up=$(gen_sha "$BIG" 11)
load_ok "$BIG a -> b through -L into a sink" send --connect "127.0.0.1:$L_SINK" --bytes "$BIG" \
	--seed 11 --timeout 150
up=$FY_OUT
[ "$(field sha256 "$up")" = "$want_up" ] || fail "a -> b: sender's sha256 is not sha256sum's ($want_up)"
wait_log "$T/serve-sink.out" "^conn id=.* in=$((64 << 20)) .*in_sha256=$want_up end=eof" 10
check_ok "the sink behind b got $BIG with sha256 $want_up"

want_down=$(gen_sha "$BIG" 12)
load_ok "$BIG b -> a through -L from a source" recv --connect "127.0.0.1:$L_SRC" --bytes "$BIG" \
	--seed 12 --timeout 150
down=$FY_OUT
[ "$(field sha256 "$down")" = "$want_down" ] || fail "b -> a: received sha256 is not sha256sum's ($want_down)"
check_ok "a got $BIG from the source behind b with sha256 $want_down"
fy_say "throughput through -L (relay --workers 2): a -> b $(field MBps "$up") MB/s, b -> a $(field MBps "$down") MB/s"

# --- 2. 20 concurrent streams
load_ok "$STREAMS concurrent echo streams through -L" multi --connect "127.0.0.1:$L_ECHO" \
	--streams "$STREAMS" --max-bytes 4M --seed 13 --timeout 120
wait_log_count "$T/serve-echo.out" '^conn id=.* end=eof' "$STREAMS" 10
n=$(log_count "$T/serve-echo.out" '^conn id=')
[ "$n" -eq "$STREAMS" ] || fail "the echo target saw $n connections, want $STREAMS"
check_ok "the echo target behind b saw $STREAMS connections, all ending with EOF"
wait_log "$T/relay.log" "join [0-9]+: agent 'a' stream [0-9]+ -> agent 'b' 127\.0\.0\.1:$ECHO" 5
check_ok "the relay logged the joins a -> b"

# --- 3. one tunnel each: a slow reader does not stall a fast stream
ups_a=$(log_count "$T/agent-a.log" 'session up')
ups_b=$(log_count "$T/agent-b.log" 'session up')
fy_relay_stop TERM
[ "$FY_RC" -eq 0 ] || fail "relay exited $FY_RC on SIGTERM, want 0"
fy_relay_start --workers 1
wait_log_count "$T/agent-b.log" 'session up' $((ups_b + 1)) 20
wait_log_count "$T/agent-a.log" 'session up' $((ups_a + 1)) 20
check_ok "relay restarted with --workers 1: agents a and b are back"
load_ok "fast 32 MiB passes a blocked slow stream between the same two agents" slowpair \
	--slow "127.0.0.1:$L_SLOW" --slow-kind send --slow-bytes 64M \
	--fast "127.0.0.1:$L_FAST" --fast-kind send --fast-bytes 32M --seed 20 --timeout 90
grep -q 'slow=in-progress' <<<"$FY_OUT" || fail "the slow stream was not in progress"
want_fast=$(gen_sha 32M 21)
wait_log "$T/serve-fast.out" "^conn id=.* in=$((32 << 20)) .*in_sha256=$want_fast end=eof" 10
check_ok "the fast target got 32 MiB intact (sha256 $want_fast)"

# --- 4. relay gone: a connection to -L is refused at once, and the log
# line names where it came from (at info level, where FY_DEBUG's
# arguments are not evaluated)
fy_relay_stop TERM
fy_agent_stop a
fy_agent_start a "$TOK_A" --log-level info -L "$L_ECHO:b:127.0.0.1:$ECHO"
wait_listen "$L_ECHO" 10
python3 -c 'import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.settimeout(10)
try:
    s.recv(1)
except OSError:
    pass' "$L_ECHO" || true
wait_log "$T/agent-a.log" "-L $L_ECHO:b:127\.0\.0\.1:$ECHO: connection from 127\.0\.0\.1:[0-9]+ refused: not connected to the relay" 10
check_ok "without a relay, -L refuses and logs the client's address"

for n in a b; do
	fy_alive "${FY_AGENT_PID[$n]}" || fail "agent $n died"
done
pass
