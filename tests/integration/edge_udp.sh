#!/usr/bin/env bash
# shellcheck disable=SC2119 # lib.sh helpers take optional arguments
# UDP: -R udp (a public UDP port on the relay) and -L udp (agent a -> agent b), with dig
# against a tiny DNS server, numbered datagrams against an echo, a flood at a target
# that never answers, idle flows, and the relay's cap on flows per port.
#
#   dig ──────────▶ relay :P_DNS/udp  ══╗                      ╔══▶ b ──▶ fy_dns.py      :DNS/udp
#   fy-load udp ──▶ relay :P_ECHO/udp ══╣                      ╠══▶ b ──▶ udpecho        :UECHO/udp
#   fy-load udp ──▶ relay :P_CAP/udp  ══╣   relay              ╠══▶ b ──▶ udpecho        :UECHO/udp
#   fy-load udp ──▶ relay :P_SINK/udp ══╣   --udp-idle-ms 1000 ╠══▶ b ──▶ udp-sink       :USINK/udp
#   dig ──────────▶ a :L_DNS/udp  ══════╣   --max-udp-flows-   ╠══▶ b ──▶ fy_dns.py      :DNS/udp
#   fy-load udp ──▶ a :L_ECHO/udp ══════╣     per-port 4       ╠══▶ b ──▶ udpecho        :UECHO/udp
#   fy-load udp ──▶ a :L_SINK/udp ══════╣                      ╠══▶ b ──▶ udp-sink       :USINK/udp
#   fy-load udp ──▶ relay :P_IDLE/udp ══╣                      ╠══▶ b ──▶ udpecho        :UECHO2/udp
#   fy-load udp ──▶ a :L_IDLE/udp ══════╝                      ╚══▶ b ──▶ udpecho        :UECHO2/udp
#   (a: -L udp only, --udp-idle-ms 1000; b: -R udp and --allow udp:..., --udp-idle-ms 1000)
#
# 1. dig through -R udp and through -L udp: the A records fy_dns.py was given, NXDOMAIN
#    for a name it was not; fy_dns.py logged the queries.
# 2. 10,000 numbered datagrams (512 bytes, 2000/s) through -L udp to the echo and back,
#    and 5,000 through -R udp: no corrupt datagram (fy-load compares every byte), some
#    received, loss under 5%; loss and reordering are printed.
# 3. Floods (unpaced, 1200-byte datagrams, for 4 s) through -L udp and -R udp at a
#    sink that never answers: the VmRSS of the relay and of both agents, sampled
#    throughout, stays under baseline + BOUND (16 MiB; 64 MiB with ASan): datagrams are
#    dropped, never queued. How many were sent, reached the sink, and what a's log
#    counted as dropped is printed (not asserted). Afterwards an echo flow still works.
# 4. Idle flows end after 1 s: a flow from a fixed source port through -R udp, then one
#    through -L udp (one after the other, to a target nothing else uses) end (either
#    side's log line), and the same source then gets a new flow (the relay's, resp. a's,
#    lines for a new flow from that source: 2).
# 5. --max-udp-flows-per-port 4: 8 sources send to P_CAP in turn; exactly 4 get echoes,
#    and the relay logs the drops "(--max-udp-flows-per-port)".
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
fy_init 25700

command -v dig >/dev/null || skip "needs dig (bind9-dnsutils)"
command -v python3 >/dev/null || skip "needs python3"

fy_alloc_port RELAY_PORT
for p in DNS UECHO UECHO2 USINK P_DNS P_ECHO P_CAP P_SINK P_IDLE L_DNS L_ECHO L_SINK L_IDLE SRC1 SRC2; do
	fy_alloc_port "$p"
done
IDLE_MS=1000
CAP=4
BOUND_KB=$((16 * 1024))
if fy_is_asan "$RELAY_BIN"; then
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4"
	BOUND_KB=$((64 * 1024))
	fy_say "built with ASan: memory bound raised to 64 MiB"
fi

fy_certs
TOK_A=$(fy_token a "$FY_PORT_RANGE" --reach b)
TOK_B=$(fy_token b "$FY_PORT_RANGE")

fy_bg dns python3 -u "$FY_ROOT/tests/tools/fy_dns.py" --listen "127.0.0.1:$DNS" --lifetime 170 \
	--addr r.fy.test=10.1.2.3 --addr l.fy.test=10.4.5.6
wait_log "$T/dns.out" '^listening ' 10
fy_serve serve-uecho "$UECHO" --mode udp-echo
fy_serve serve-uecho2 "$UECHO2" --mode udp-echo
fy_serve serve-usink "$USINK" --mode udp-sink
fy_relay_start --workers 1 --udp-idle-ms "$IDLE_MS" --max-udp-flows-per-port "$CAP"

fy_agent_start b "$TOK_B" --udp-idle-ms "$IDLE_MS" \
	-R "udp:$P_DNS:127.0.0.1:$DNS" -R "udp:$P_ECHO:127.0.0.1:$UECHO" \
	-R "udp:$P_CAP:127.0.0.1:$UECHO" -R "udp:$P_SINK:127.0.0.1:$USINK" \
	-R "udp:$P_IDLE:127.0.0.1:$UECHO2" --allow "udp:127.0.0.1:$DNS" --allow "udp:127.0.0.1:$UECHO" \
	--allow "udp:127.0.0.1:$UECHO2" --allow "udp:127.0.0.1:$USINK"
fy_agent_start a "$TOK_A" --udp-idle-ms "$IDLE_MS" \
	-L "udp:$L_DNS:b:127.0.0.1:$DNS" -L "udp:127.0.0.1:$L_ECHO:b:127.0.0.1:$UECHO" \
	-L "udp:$L_SINK:b:127.0.0.1:$USINK" -L "udp:$L_IDLE:b:127.0.0.1:$UECHO2"
wait_log_count "$T/agent-b.log" 'forwarding relay UDP port' 5 15
wait_log "$T/agent-a.log" 'session up' 15
wait_log_count "$T/agent-a.log" '-L udp:.* listening on 127\.0\.0\.1:' 4 10
check_ok "b forwards 5 relay UDP ports; a listens on 4 -L udp ports"

# --- 1. DNS
# ask PORT NAME: dig's answer section (+short), bounded by dig's own retries.
ask() { dig @127.0.0.1 -p "$1" "$2" A +short +time=2 +tries=3 2>&1; }
status_of() { dig @127.0.0.1 -p "$1" "$2" A +time=2 +tries=3 2>&1 | sed -n 's/.*status: \([A-Z]*\),.*/\1/p'; }
got=$(ask "$P_DNS" r.fy.test)
[ "$got" = 10.1.2.3 ] || fail "dig r.fy.test through -R udp: '$got', want 10.1.2.3"
check_ok "dig @relay:$P_DNS (-R udp) r.fy.test: $got"
got=$(ask "$L_DNS" l.fy.test)
[ "$got" = 10.4.5.6 ] || fail "dig l.fy.test through -L udp: '$got', want 10.4.5.6"
check_ok "dig @a:$L_DNS (-L udp via b) l.fy.test: $got"
st=$(status_of "$L_DNS" nx.fy.test)
[ "$st" = NXDOMAIN ] || fail "dig nx.fy.test through -L udp: status '$st', want NXDOMAIN"
st2=$(status_of "$P_DNS" nx.fy.test)
[ "$st2" = NXDOMAIN ] || fail "dig nx.fy.test through -R udp: status '$st2', want NXDOMAIN"
check_ok "dig nx.fy.test: NXDOMAIN through both"
for q in 'query r.fy.test A' 'query l.fy.test A' 'query nx.fy.test A'; do
	grep -q "^$q\$" "$T/dns.out" || fail "fy_dns.py never saw '$q'"
done
wait_log "$T/relay.log" "port $P_DNS/udp: flow from 127\.0\.0\.1:[0-9]+ -> agent 'b'" 5
wait_log "$T/relay.log" "join [0-9]+: agent 'a' stream [0-9]+ -> agent 'b' 127\.0\.0\.1:$DNS \(udp\)" 5
check_ok "the DNS server saw the queries; the relay logged the -R udp flow and the -L udp join"

# --- 2. numbered datagrams
# udp_run DESC PORT COUNT SEED: COUNT datagrams at 2000/s to PORT and back; loss < 5%.
udp_run() {
	local desc=$1 port=$2 count=$3 seed=$4 recvd lost
	load_ok "$desc" udp --connect "127.0.0.1:$port" --count "$count" --size 512 --rate 2000 \
		--seed "$seed" --timeout 60
	[ "$(field corrupt "$FY_OUT")" = 0 ] || fail "$desc: corrupt datagrams"
	recvd=$(field received "$FY_OUT")
	lost=$(field lost "$FY_OUT")
	[ "$recvd" -gt 0 ] || fail "$desc: nothing came back"
	[ $((lost * 100)) -lt $((count * 5)) ] || fail "$desc: $lost of $count lost, 5% or more"
	fy_say "$desc: loss $lost/$count, reordered $(field reordered "$FY_OUT"), dup $(field dup "$FY_OUT")"
}
udp_run "10,000 datagrams through -L udp (a -> relay -> b -> echo)" "$L_ECHO" 10000 7
udp_run "5,000 datagrams through -R udp (relay port -> b -> echo)" "$P_ECHO" 5000 8

# --- 3. floods at a target that never answers
declare -A BASE=() MAX=()
PIDS=("relay:$FY_RELAY_PID" "a:${FY_AGENT_PID[a]}" "b:${FY_AGENT_PID[b]}")
for e in "${PIDS[@]}"; do
	BASE[${e%%:*}]=$(fy_rss_kb "${e#*:}")
	MAX[${e%%:*}]=${BASE[${e%%:*}]}
done
fy_say "VmRSS before the floods: relay ${BASE[relay]} KiB, a ${BASE[a]} KiB, b ${BASE[b]} KiB"
sink_before=$(grep -o 'udp in=[0-9]*' "$T/serve-usink.out" | tail -n 1 | cut -d= -f2)
sink_before=${sink_before:-0}
drops_before=$(log_count "$T/agent-a.log" 'datagram dropped')
fy_bg flood-l "$LOAD" udp --connect "127.0.0.1:$L_SINK" --count 1G --size 1200 --no-read \
	--seed 9 --duration 4 --timeout 10
fy_bg flood-r "$LOAD" udp --connect "127.0.0.1:$P_SINK" --count 1G --size 1200 --no-read \
	--seed 10 --duration 4 --timeout 10
samples=0
while fy_alive "${FY_PID[flood-l]}" || fy_alive "${FY_PID[flood-r]}"; do
	for e in "${PIDS[@]}"; do
		r=$(fy_rss_kb "${e#*:}")
		[ "$r" -gt "${MAX[${e%%:*}]}" ] && MAX[${e%%:*}]=$r
	done
	samples=$((samples + 1))
	sleep 0.05
done
for f in flood-l flood-r; do
	fy_bg_wait "$f"
	[ "$FY_RC" -eq 0 ] || fail "$f: $(fy_result "$f") (exit $FY_RC)"
done
sent_l=$(field sent "$(fy_result flood-l)")
sent_r=$(field sent "$(fy_result flood-r)")
for e in "${PIDS[@]}"; do
	n=${e%%:*}
	fy_alive "${e#*:}" || fail "$n died during the flood"
	fy_say "$n VmRSS: baseline ${BASE[$n]} KiB, max sampled ${MAX[$n]} KiB (+$((MAX[$n] - BASE[$n])) KiB), VmHWM $(fy_hwm_kb "${e#*:}") KiB"
	[ "${MAX[$n]}" -le $((BASE[$n] + BOUND_KB)) ] ||
		fail "$n VmRSS reached ${MAX[$n]} KiB during a UDP flood: over baseline ${BASE[$n]} + $((BOUND_KB / 1024)) MiB"
done
check_ok "relay, a and b stayed within their baseline + $((BOUND_KB / 1024)) MiB over $samples samples of two 4 s floods"
# The sink prints its counts about once a second while they change: for the report,
# wait (up to 3 s, not asserted) for the line that follows the floods' end.
n0=$(log_count "$T/serve-usink.out" '^udp in=')
for ((i = 0; i < 60; i++)); do
	[ "$(log_count "$T/serve-usink.out" '^udp in=')" -gt "$n0" ] && break
	sleep 0.05
done
sink_after=$(grep -o 'udp in=[0-9]*' "$T/serve-usink.out" | tail -n 1 | cut -d= -f2)
drops=$(($(log_count "$T/agent-a.log" 'datagram dropped') - drops_before))
fy_say "floods: $sent_l datagrams sent to a's -L udp port and $sent_r to the relay's -R udp port in 4 s; the sink got $((${sink_after:-0} - sink_before)); a logged $drops drop line(s): $(grep -o '[0-9]* dropped so far' "$T/agent-a.log" | tail -n 1)"
udp_run "after the floods: 2,000 datagrams through -L udp" "$L_ECHO" 2000 11

# --- 4. idle flows end
# Both sides of each flow time out after 1 s and either may be first, so each wait takes
# either side's line. Both parts use UECHO2, which nothing else uses, each from a fixed
# source port of its own, one after the other, so every line about UECHO2 is this flow's.
udp_once() { # udp_once DESC PORT SRC: 10 datagrams (over 0.1 s) from source port SRC, echoed
	load_ok "$1" udp --connect "127.0.0.1:$2" --count 10 --rate 100 --source-port "$3" \
		--seed 12 --linger 2 --timeout 20
	[ "$(field received "$FY_OUT")" -ge 1 ] || fail "$1: no echo"
}
# wait_any SECS FILE RE N [FILE RE N ...]: polls until some FILE has more than N lines
# matching its RE.
wait_any() {
	local secs=$1 i j
	shift
	local -a args=("$@")
	for ((i = 0; i < secs * 20; i++)); do
		for ((j = 0; j < ${#args[@]}; j += 3)); do
			[ "$(log_count "${args[j]}" "${args[j + 1]}")" -gt "${args[j + 2]}" ] && return 0
		done
		sleep 0.05
	done
	fail "none of these after $secs s: $(for ((j = 0; j < ${#args[@]}; j += 3)); do
		printf '/%s/ in %s; ' "${args[j + 1]}" "$(basename "${args[j]}")"; done)"
}
opened_r() { log_count "$T/relay.log" "port $P_IDLE/udp: flow from 127\.0\.0\.1:$SRC1 -> agent 'b'"; }
opened_l() { log_count "$T/agent-a.log" "-L udp:$L_IDLE:b:127\.0\.0\.1:$UECHO2: new flow from 127\.0\.0\.1:$SRC2\$"; }
RE_RELAY_END="port $P_IDLE/udp: flow from 127\.0\.0\.1:$SRC1 ended: UDP flow idle"
RE_B_RESET="UDP flow udp 127\.0\.0\.1:$UECHO2 reset: UDP flow idle for $IDLE_MS ms"
RE_B_IDLE="UDP flow udp 127\.0\.0\.1:$UECHO2 idle for $IDLE_MS ms: ended"
RE_A_IDLE="UDP flow udp b:127\.0\.0\.1:$UECHO2 from 127\.0\.0\.1:$SRC2 idle for $IDLE_MS ms: ended"

# Which lines an idle -R flow leaves: b ended it (b: RE_B_IDLE; the relay, getting b's
# reset: RE_RELAY_END), or the relay did (it logs nothing of its own; b: RE_B_RESET, or, when
# both timers fired at once and the resets crossed, b's own RE_B_IDLE).
r_idle_seen() { # r_idle_seen N_RELAY_END N_B_RESET N_B_IDLE
	wait_any 10 "$T/relay.log" "$RE_RELAY_END" "$1" "$T/agent-b.log" "$RE_B_RESET" "$2" \
		"$T/agent-b.log" "$RE_B_IDLE" "$3"
}
udp_once "-R udp: 10 datagrams from source port $SRC1" "$P_IDLE" "$SRC1"
[ "$(opened_r)" -eq 1 ] || fail "the relay opened $(opened_r) flows for 127.0.0.1:$SRC1, want 1"
r_idle_seen 0 0 0
check_ok "-R udp flow idle: $(grep -Eho "$RE_RELAY_END.*|$RE_B_RESET.*|$RE_B_IDLE" "$T/relay.log" "$T/agent-b.log" | head -n 1)"
n_end=$(log_count "$T/relay.log" "$RE_RELAY_END")
n_reset=$(log_count "$T/agent-b.log" "$RE_B_RESET")
n_idle=$(log_count "$T/agent-b.log" "$RE_B_IDLE")
udp_once "-R udp: the same source again after the idle time" "$P_IDLE" "$SRC1"
[ "$(opened_r)" -eq 2 ] || fail "the relay opened $(opened_r) flows for 127.0.0.1:$SRC1, want 2 (a new one after expiry)"
check_ok "-R udp: the same source got a new flow after expiry"
# It ends again before the -L part starts, so that b's lines for UECHO2 are then the -L flow's.
r_idle_seen "$n_end" "$n_reset" "$n_idle"

b_idle0=$(log_count "$T/agent-b.log" "$RE_B_IDLE")
udp_once "-L udp: 10 datagrams from source port $SRC2" "$L_IDLE" "$SRC2"
[ "$(opened_l)" -eq 1 ] || fail "a opened $(opened_l) flows for 127.0.0.1:$SRC2, want 1"
# a ended it (RE_A_IDLE), or b did (RE_B_IDLE; a's end is then reset without a line).
wait_any 10 "$T/agent-a.log" "$RE_A_IDLE" 0 "$T/agent-b.log" "$RE_B_IDLE" "$b_idle0"
check_ok "-L udp flow idle: $(grep -Eho "$RE_A_IDLE|$RE_B_IDLE" "$T/agent-a.log" "$T/agent-b.log" | tail -n 1)"
udp_once "-L udp: the same source again after the idle time" "$L_IDLE" "$SRC2"
[ "$(opened_l)" -eq 2 ] || fail "a opened $(opened_l) flows for 127.0.0.1:$SRC2, want 2 (a new one after expiry)"
check_ok "-L udp: the same source got a new flow after expiry"

# --- 5. flows per port
load_ok "8 sources to P_CAP in turn" udp --connect "127.0.0.1:$P_CAP" --conns 8 --count 160 \
	--rate 400 --seed 13 --timeout 30
answered=$(field answered_sources "$FY_OUT")
[ "$answered" -eq "$CAP" ] || fail "$answered of 8 sources got echoes through a port capped at $CAP flows"
n=$(log_count "$T/relay.log" "port $P_CAP/udp: flow from 127\.0\.0\.1:[0-9]+ -> agent 'b'")
[ "$n" -eq "$CAP" ] || fail "the relay opened $n flows on port $P_CAP, want $CAP"
wait_log "$T/relay.log" "port $P_CAP/udp: datagram from 127\.0\.0\.1:[0-9]+ dropped: the port has $CAP flows, the most it may \(--max-udp-flows-per-port\)" 5
check_ok "cap $CAP: $answered of 8 sources answered, the relay opened $n flows and logged the drops"

for n in a b; do
	fy_alive "${FY_AGENT_PID[$n]}" || fail "agent $n died"
done
pass
