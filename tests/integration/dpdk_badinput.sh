#!/usr/bin/env bash
# shellcheck disable=SC2119 # lib.sh helpers take optional arguments
# bad_input.sh against the DPDK relay (our own TCP): bad input on the agent port
# ends only that connection, with one log line saying why; the relay lives on and a
# good agent keeps passing a sha256 check.
#
#   root ns (kernel TCP)                              relay ns
#   fy-load hold|tls (bad peers) ──▶ NET.2:7000 ─┐
#   fy-load send ──▶ NET.2:PUB ──────────────────┼─ fbo$$ NET.1 ══veth══ fbr$$ ◀─ net_af_packet ◀─ ferry-relay --backend dpdk
#   ferry-agent good ══TLS══▶ NET.2:7000 ────────┘      (--handshake-timeout-ms 2000 --max-unauth 4 --window 256K)
#      └─▶ fy-load serve sink 127.0.0.1:SINK
#
# Cases (each one `fy-load hold|tls` run that asserts how its connection ends, then a
# relay log line (info or above) naming that peer and matching the reason, then the
# relay alive and 1 MiB through the good agent with the right sha256):
#   before TLS: plain-text HTTP; a connection that sends nothing (closed at the 2 s
#     deadline); half a ClientHello, then nothing (deadline)
#   TLS, bad frames before HELLO (ERROR 1): DATA, unknown type, length 70000, reserved
#     bits, overrunning HELLO; truncated frame + close_notify; truncated HELLO + silence
#   TLS + HELLO as "mallory": second HELLO, WINDOW for an unknown stream; with a public
#     client on mallory's port: OPEN reusing the relay's id (ERROR 1), DATA past the
#     window (ERROR 6), WINDOW past 2^31-1 (ERROR 6); its public client sees a reset
#   10 idle connections: 4 held until the deadline, 6 closed at once by --max-unauth 4
# Then SIGTERM: the relay exits 0.
# Needs root (namespaces, veth) and a build with DPDK.
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=SCRIPTDIR/../lib_dpdk.sh
. "$(dirname "$0")/../lib_dpdk.sh"
fy_init 22900
dp_require

dp_topology 10.95 fb
fy_alloc_port SINK
fy_alloc_port PUB
fy_alloc_port MPORT

dp_certs
TOK=$(fy_token good "$FY_PORT_RANGE")
TOK_M=$(fy_token mallory "$FY_PORT_RANGE")
fy_serve serve-sink "$SINK" --mode sink

dp_relay_start --workers 1 --dpdk-mbufs 8191 \
	--handshake-timeout-ms 2000 --max-unauth 4 --max-unauth-per-ip 64 --window 262144 \
	--log-level debug
dp_relay_wait_up
check_ok "DPDK relay up at $RIP"

"$AGENT_BIN" --relay "$RIP:$RELAY_PORT" --token "$TOK" --ca "$T/pki/ca.crt" --name good \
	--io "$FY_AGENT_IO" --log-level debug -R "$PUB:127.0.0.1:$SINK" >>"$T/agent-good.log" 2>&1 &
FY_PID[agent-good]=$!
FY_AGENT_PID[good]=$!
wait_log "$T/agent-good.log" "forwarding relay port $PUB" 20
RELAY=$RIP:$RELAY_PORT
TLS=(tls --connect "$RELAY" --ca "$T/pki/ca.crt" --timeout 15)

good=0
BAD_OUT=
good_check() {
	local want
	good=$((good + 1))
	want=$(gen_sha 1M "$good")
	if ! FY_OUT=$(load send --connect "$RIP:$PUB" --bytes 1M --seed "$good" --timeout 30); then
		fy_alive "$DPID" || fail "relay died after $1 (see the end of relay.log)"
		fail "good agent's forward failed after $1: $FY_OUT"
	fi
	[ "$(field sha256 "$FY_OUT")" = "$want" ] || fail "good agent's forward after $1: digest differs: $FY_OUT"
	fy_alive "$DPID" || fail "relay died after $1 (see the end of relay.log)"
	fy_alive "${FY_AGENT_PID[good]}" || fail "good agent died after $1"
}
good_check "start"

# shellcheck source=SCRIPTDIR/../lib_badinput.sh
. "$(dirname "$0")/../lib_badinput.sh"
bad_input_cases

# open_case DESC REASON_REGEX ERROR_CODE TLS-OPS...: as mallory, claim MPORT, let a public
# client connect (it reads nothing), misbehave on the stream the relay opens. The
# public client must then see a reset. (The relay's listeners live in our own TCP,
# not the kernel's: its log says when MPORT is claimed and released.)
open_case() {
	local desc=$1 re=$2 code=$3 since
	shift 3
	since=$(wc -l <"$T/relay.log")
	fy_bg mallory "$LOAD" "${TLS[@]}" --hello "$TOK_M:mallory" --register "$MPORT" --wait-open "$@" \
		--expect-error "$code"
	for ((i = 0; i < 200; i++)); do
		tail -n +$((since + 1)) "$T/relay.log" | grep -q "agent 'mallory' claimed port $MPORT" && break
		sleep 0.05
	done
	[ "$i" -lt 200 ] || fail "$desc: mallory did not claim port $MPORT within 10 s: $(fy_result mallory)"
	fy_bg victim "$LOAD" hold --connect "$RIP:$MPORT" --no-read --expect reset --timeout 15
	fy_bg_wait mallory
	[ "$FY_RC" -eq 0 ] || fail "$desc: $(fy_result mallory) (fy-load exit $FY_RC)"
	fy_bg_wait victim
	[ "$FY_RC" -eq 0 ] || fail "$desc: mallory's public client: $(fy_result victim)"
	expect_log "$desc -> $(fy_result mallory); its client: $(fy_result victim)" \
		"$(field local "$(fy_result mallory)")" "$re" "$since"
	wait_log "$T/relay.log" "port $MPORT released \\(agent 'mallory'\\)" 10
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
# The relay refuses with RST as soon as the handshake completes; our TCP does
# that within microseconds, so the client's connect() itself may already see
# the reset (fy-load then reports "reset during connect: Connection reset by peer",
# with no local address): counted as refused at once, and the relay's refusal
# lines are counted below.
fast=0
slow=0
rst_at_connect=0
for i in $(seq 1 10); do
	fy_bg_wait "idle$i"
	line=$(fy_result "idle$i")
	[ "$FY_RC" -eq 0 ] || fail "idle connection $i: $line"
	case $line in
	"reset during connect:"*)
		secs_between "$line" 0 1 || fail "idle connection $i: $line: not at once"
		fast=$((fast + 1))
		rst_at_connect=$((rst_at_connect + 1))
		continue
		;;
	esac
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
refusals=$(tail -n +$((since + 1)) "$T/relay.log" | grep -c 'too many unauthenticated connections' || true)
[ "$refusals" -eq 6 ] || fail "relay logged $refusals refusals for the cap, want 6"
check_ok "10 idle connections: 4 held until the 2 s deadline, 6 refused at once ($rst_at_connect of them reset during connect); 6 refusal lines"
good_check "the cap"

# The good agent's tunnel lived through all of it.
[ "$(log_count "$T/agent-good.log" 'connected to relay')" -eq 1 ] ||
	fail "the good agent reconnected during the run: $(grep -c 'connected to relay' "$T/agent-good.log") connections"
check_ok "the good agent kept its one tunnel through $good checks"

dp_relay_stop_ok
check_ok "SIGTERM: relay exited 0 ($(grep -o 'worker 0: .*' "$T/relay.log" | tail -n 1))"
pass
