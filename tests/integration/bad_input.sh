#!/usr/bin/env bash
# shellcheck disable=SC2119 # lib.sh helpers take optional arguments
# Bad input on the relay's agent port ends only that connection, with one log line
# saying why; the relay lives on and a good agent keeps serving. Unauthenticated
# connections time out and are capped.
#
#   client ──▶ relay :PUB ══ TLS tunnel ══ agent good ──▶ serve sink :SINK      (checked after every case)
#                 ▲ :RELAY_PORT (--workers 1 --handshake-timeout-ms 2000 --max-unauth 4 --window 256K)
#                 ├── plain TCP: HTTP text / nothing at all / half a TLS ClientHello
#                 ├── TLS, then crafted frames: data before HELLO, unknown type, oversized
#                 │   length, non-zero reserved bits, malformed HELLO, truncated frame
#                 ├── TLS + valid HELLO as agent "mallory" (own token), then: second HELLO,
#                 │   WINDOW for a stream never opened, OPEN reusing the relay's stream id,
#                 │   DATA beyond the window, WINDOW past 2^31-1  (public client on :MPORT)
#                 └── 10 idle TCP connections at once: 4 held until the handshake deadline,
#                     6 closed at once by the cap
#
# Each case is one `fy-load hold|tls` run that asserts how the connection ends (the
# ERROR code for framed input: 1 protocol, 6 flow control); then the relay log must gain
# a line (info or above) naming that peer's address that matches the reason; the
# relay must be alive and the good agent must pass a sha256 check.
# The handshake timeout is 2000 ms (not 1000) so that "closed at once" (< 1 s) and
# "closed by the deadline" (>= 1.5 s) stay apart on a loaded 2-core machine.
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
fy_init 21700

fy_alloc_port RELAY_PORT
fy_alloc_port SINK
fy_alloc_port PUB
fy_alloc_port MPORT

fy_certs
TOK=$(fy_token good "$FY_PORT_RANGE")
TOK_M=$(fy_token mallory "$FY_PORT_RANGE")
fy_serve serve-sink "$SINK" --mode sink
fy_relay_start --workers 1 --handshake-timeout-ms 2000 --max-unauth 4 --max-unauth-per-ip 64 --window 262144
fy_agent_start good "$TOK" -R "$PUB:127.0.0.1:$SINK"
wait_listen "$PUB" 15
RELAY=127.0.0.1:$RELAY_PORT
TLS=(tls --connect "$RELAY" --ca "$T/pki/ca.crt" --timeout 15)

good=0
BAD_OUT=
good_check() {
	good=$((good + 1))
	if ! FY_OUT=$(load send --connect "127.0.0.1:$PUB" --bytes 1M --seed "$good" --timeout 30); then
		fy_alive "$FY_RELAY_PID" || fail "relay died after $1 (see the end of relay.log)"
		fail "good agent's forward failed after $1: $FY_OUT"
	fi
	fy_alive "$FY_RELAY_PID" || fail "relay died after $1 (see the end of relay.log)"
	fy_alive "${FY_AGENT_PID[good]}" || fail "good agent died after $1"
}
good_check "start"

# shellcheck source=SCRIPTDIR/../lib_badinput.sh
. "$(dirname "$0")/../lib_badinput.sh"
bad_input_cases

# open_case DESC REASON_REGEX ERROR_CODE TLS-OPS...: as mallory, claim MPORT, let a public
# client connect (it reads nothing), misbehave on the stream the relay opens. The
# public client must then see a reset.
open_case() {
	local desc=$1 re=$2 code=$3 since
	shift 3
	since=$(wc -l <"$T/relay.log")
	fy_bg mallory "$LOAD" "${TLS[@]}" --hello "$TOK_M:mallory" --register "$MPORT" --wait-open "$@" \
		--expect-error "$code"
	wait_listen "$MPORT" 10
	fy_bg victim "$LOAD" hold --connect "127.0.0.1:$MPORT" --no-read --expect reset --timeout 15
	fy_bg_wait mallory
	[ "$FY_RC" -eq 0 ] || fail "$desc: $(fy_result mallory) (fy-load exit $FY_RC)"
	fy_bg_wait victim
	[ "$FY_RC" -eq 0 ] || fail "$desc: mallory's public client: $(fy_result victim)"
	expect_log "$desc -> $(fy_result mallory); its client: $(fy_result victim)" \
		"$(field local "$(fy_result mallory)")" "$re" "$since"
	wait_closed "$MPORT" 10
	good_check "$desc"
}
open_case "OPEN reusing the relay's stream id" 'stream|open|parity|reuse|protocol' 1 \
	--frame 0x10,0,S,20,0000000000000000000000000000000000000000
open_case "DATA beyond the stream's window" 'window|flow|credit|overflow|exceed' 6 \
	--fill S --overflow S
open_case "WINDOW pushing credit past 2^31-1" 'window|flow|credit|overflow|exceed' 6 \
	--frame 0x12,0,S,4,7fffffff

# --- the cap on unauthenticated connections: 4 of 10 held, 6 closed at once
since=$(wc -l <"$T/relay.log")
for i in $(seq 1 10); do
	fy_bg "idle$i" "$LOAD" hold --connect "$RELAY" --expect any --timeout 10
done
good_check "10 idle connections against --max-unauth 4"
fast=0
slow=0
for i in $(seq 1 10); do
	fy_bg_wait "idle$i"
	line=$(fy_result "idle$i")
	[ "$FY_RC" -eq 0 ] || fail "idle connection $i: $line"
	if secs_between "$line" 0 1; then
		fast=$((fast + 1))
		expect_log "capped: $line" "$(field local "$line")" 'unauth|too many|cap|limit' "$since"
	elif secs_between "$line" 1.5 8; then
		slow=$((slow + 1))
	else
		fail "idle connection $i closed after $(field secs "$line") s: neither at once nor at the deadline"
	fi
done
if [ "$fast" -ne 6 ] || [ "$slow" -ne 4 ]; then
	fail "of 10 idle connections $fast were closed at once and $slow at the deadline; want 6 and 4"
fi
check_ok "10 idle connections: 4 held until the 2 s deadline, 6 refused at once"
good_check "the cap"

pass
