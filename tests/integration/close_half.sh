#!/usr/bin/env bash
# shellcheck disable=SC2119 # lib.sh helpers take optional arguments
# Closes and half-closes cross the tunnel in each direction, never turning into a reset.
#
#   client ──▶ relay :P_SINK ══╗                 ╔══▶ agent ──▶ serve sink   :SINK  (reads to EOF, answers sha256)
#   client ──▶ relay :P_ECHO ══╬══ TLS tunnel ═══╬══▶ agent ──▶ serve echo   :ECHO  (echoes to EOF, then FIN)
#   client ──▶ relay :P_SRC  ══╝                 ╚══▶ agent ──▶ serve source :SRC   (writes 1 MiB, FIN, reads to EOF)
#
# a. client closes -> the target's connection sees EOF (sink logs exactly the bytes sent, end=eof).
# b. client shuts down writing and still receives: the sink's digest (sent after our FIN)
#    arrives; the echo returns every byte and then a clean EOF.
# c. target closes -> the client sees a clean EOF after exactly 1 MiB; when the client
#    then closes, the target sees EOF.
# d. target shuts down writing and still receives: after the source's FIN the client sends
#    2 MiB; the source logs exactly that sha256 and then EOF.
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
fy_init 21300

fy_alloc_port RELAY_PORT
fy_alloc_port SINK
fy_alloc_port ECHO
fy_alloc_port SRC
fy_alloc_port P_SINK
fy_alloc_port P_ECHO
fy_alloc_port P_SRC

fy_certs
TOK=$(fy_token half "$FY_PORT_RANGE")
fy_serve serve-sink "$SINK" --mode sink
fy_serve serve-echo "$ECHO" --mode echo
fy_serve serve-src "$SRC" --mode source --bytes 1M --seed 4
fy_relay_start
fy_agent_start half "$TOK" -R "$P_SINK:127.0.0.1:$SINK" -R "$P_ECHO:127.0.0.1:$ECHO" \
	-R "$P_SRC:127.0.0.1:$SRC"
wait_listen "$P_SINK" 15
wait_listen "$P_ECHO" 15
wait_listen "$P_SRC" 15

# a. client closes (sends 100000 bytes, close(), never reads).
sha=$(gen_sha 100000 21)
load_ok "client sends 100000 bytes and closes" send --connect "127.0.0.1:$P_SINK" --bytes 100000 \
	--seed 21 --no-digest --timeout 30
wait_log "$T/serve-sink.out" "^conn id=[0-9]+ mode=sink in=100000 out=[0-9]+ in_sha256=$sha end=eof" 10
check_ok "target saw all 100000 bytes, then EOF"

# b. client half-close: still receives after shutdown(SHUT_WR).
load_ok "client shuts down writing, then receives the sink's digest" send \
	--connect "127.0.0.1:$P_SINK" --bytes 1M --seed 22 --timeout 30
load_ok "client shuts down writing, echo returns all 4 MiB and a clean EOF" send \
	--connect "127.0.0.1:$P_ECHO" --bytes 4M --seed 23 --echo --timeout 30
wait_log "$T/serve-echo.out" "^conn id=[0-9]+ mode=echo in=4194304 out=4194304 .* end=eof" 10
check_ok "echo target saw EOF after 4 MiB"

# c. target closes: clean EOF at exactly 1 MiB (fy-load exits 4 on early EOF, 3 on reset).
n0=$(log_count "$T/serve-src.out" '^conn id=.* in=0 .*end=eof')
load_ok "target writes 1 MiB and closes: client sees clean EOF" recv --connect "127.0.0.1:$P_SRC" \
	--bytes 1M --seed 4 --timeout 30
load_ok "a client that only reads sees the target's close as EOF, not a reset" hold \
	--connect "127.0.0.1:$P_SRC" --expect eof --timeout 10
wait_log_count "$T/serve-src.out" '^conn id=.* out=1048576 in_sha256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 end=eof' $((n0 + 2)) 10
check_ok "client's close reached the target as EOF"

# d. target half-close: the client keeps sending after the target's FIN.
sha=$(gen_sha 2M 24)
load_ok "after the target's FIN the client still sends 2 MiB" recv --connect "127.0.0.1:$P_SRC" \
	--bytes 1M --seed 4 --then-send 2M --send-seed 24 --timeout 30
[ "$(field sent_sha256 "$FY_OUT")" = "$sha" ] || fail "fy-load reports a different sent digest"
wait_log "$T/serve-src.out" "^conn id=[0-9]+ mode=source in=2097152 out=1048576 in_sha256=$sha end=eof" 10
check_ok "target received those 2 MiB intact after its own FIN, then EOF"

pass
