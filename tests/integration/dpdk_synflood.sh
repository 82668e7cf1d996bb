#!/usr/bin/env bash
# shellcheck disable=SC2119 # lib.sh helpers take optional arguments
# A bounded SYN flood against the DPDK relay while a legitimate client still
# connects and transfers (SYN cookies once the listener's SYN backlog is full):
#
#   root ns                                             relay ns
#   fy-synflood (raw, spoofed src NET.3-.254) ─┐
#   fy-load send 16 MiB ──▶ NET.2:PUB_IN ──────┼─ fso$$ NET.1 ══veth══ fsr$$ ◀─ net_af_packet ◀─ ferry-relay --backend dpdk
#   ferry-agent ══TLS══▶ NET.2:7000 ───────────┘
#      └─▶ fy-load serve sink 127.0.0.1:SINK
#
# 1. 200k SYNs at 20k/s (10 s; fy-synflood stops at 20 s in any case) to the public
#    port the client uses; meanwhile 16 MiB client -> agent target, sha256 checked,
#    done before the flood ends.
# 2. 100k SYNs at 20k/s to the agent port while the agent reconnects (SIGTERM, start
#    again): its TLS tunnel is back before the flood ends; 1 MiB through it afterwards.
# 3. SIGTERM: the relay exits 0 and its counters show that the backlog filled and
#    cookies were sent (tcp_syncookie_tx == tcp_syn_backlog_full > 0), that cookie
#    handshakes completed (tcp_syncookie_ok >= 1: the client's or the agent's
#    handshakes during the floods), and that no flood SYN had a bad
#    checksum (tcp_bad_csum absent).
# The spoofed sources are inside the test subnet (NET.3-.254): nobody answers
# ARP for them, so the SYN/ACKs never leave the veth pair.
# Needs root (namespaces, veth, raw socket) and a build with DPDK.
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=SCRIPTDIR/../lib_dpdk.sh
. "$(dirname "$0")/../lib_dpdk.sh"
fy_init 22700
dp_require
FLOOD=$FY_BUILD/tests/fy-synflood
[ -x "$FLOOD" ] || fail "$FLOOD is missing: build first (ninja -C ${FY_BUILD#"$FY_ROOT"/})"

# A /24 of our own: 10.97.X.0 with X from the PID, moved on while the root
# namespace already has a route into it (another run beside us).
dp_topology 10.97 fs
# The spoofed hosts: NET.3-NET.254 (FY_SYNFLOOD_HOSTS=LO-HI narrows it, to tell
# the relay's ARP cache (64 entries) apart from its TCP when this fails).
SRC_HOSTS=${FY_SYNFLOOD_HOSTS:-3-254}
SRC_LO=${SRC_HOSTS%-*}
SRC_HI=${SRC_HOSTS#*-}
fy_alloc_port SINK
fy_alloc_port PUB_IN

dp_certs
TOK=$(fy_token edge "$FY_PORT_RANGE")
fy_serve serve-sink "$SINK" --mode sink

# A backlog small enough that the flood keeps it full: the client's and the
# agent's handshakes then go through cookies (the default, 1024, may leave
# them a free slot now and then).
dp_relay_start --workers 1 --dpdk-mbufs 8191 --dpdk-syn-backlog 128 --handshake-timeout-ms 10000 \
	--log-level info
dp_relay_wait_up
check_ok "DPDK relay up at $RIP, answers ARP and ICMP"

start_agent() {
	"$AGENT_BIN" --relay "$RIP:$RELAY_PORT" --token "$TOK" --ca "$T/pki/ca.crt" --name edge \
		--io "$FY_AGENT_IO" --log-level debug --backoff-min-ms 300 --backoff-max-ms 1000 \
		-R "$PUB_IN:127.0.0.1:$SINK" >>"$T/agent-edge.log" 2>&1 &
	FY_PID[agent-edge]=$!
	wait_log_count "$T/agent-edge.log" "forwarding relay port" "$1" "${2:-20}"
}
start_agent 1
load_ok "before the flood: 1 MiB through" send --connect "$RIP:$PUB_IN" --bytes 1M --seed 9 --timeout 30

# flood LABEL PORT COUNT PPS: start fy-synflood in the background, wait until it sends.
flood() {
	fy_bg "$1" "$FLOOD" --dev "$VO" --net "$NET.0/24" --src-range "$NET.$SRC_LO-$NET.$SRC_HI" \
		--dst "$RIP:$2" --count "$3" --pps "$4" --seconds 20 --seed "$$"
	wait_log "$T/$1.out" '^(started|FAIL)' 5
	grep -q '^started' "$T/$1.out" || fail "fy-synflood: $(cat "$T/$1.out")"
}
# flood_done LABEL: it ended by itself, having sent every SYN.
flood_done() {
	local want=$2
	fy_bg_wait "$1"
	[ "$FY_RC" -eq 0 ] || fail "fy-synflood $1 exit $FY_RC: $(tail -n 2 "$T/$1.out")"
	[ "$(field sent "$(fy_result "$1")")" = "$want" ] || fail "fy-synflood $1: $(fy_result "$1"), want sent=$want"
	check_ok "flood $1: $(fy_result "$1")"
}

# --- 1. flood the public port while a client sends 16 MiB through it; the
# client must be served during the flood (its SYN gets a cookie), not after it.
want=$(gen_sha 16M 1)
flood flood-pub "$PUB_IN" 200000 20000
t0=$(date +%s%N)
load_ok "during the flood on :$PUB_IN: 16 MiB client -> target" \
	send --connect "$RIP:$PUB_IN" --bytes 16M --seed 1 --timeout 60
[ "$(field sha256 "$FY_OUT")" = "$want" ] || fail "16 MiB during the flood: digest differs"
took=$((($(date +%s%N) - t0) / 1000000))
fy_alive "${FY_PID[flood-pub]}" ||
	fail "the client was served only after the flood had ended: connect + 16 MiB took $took ms (data alone $(field secs "$FY_OUT") s)"
check_ok "served during the flood: connect + 16 MiB in $took ms"
flood_done flood-pub 200000
fy_alive "$DPID" || fail "relay died during the flood"

# --- 2. flood the agent port while the agent reconnects: it must be back
# (TLS + HELLO through a cookie handshake) before the flood ends.
flood flood-agent "$RELAY_PORT" 100000 20000
fy_stop agent-edge TERM 10
start_agent 2 30
fy_alive "${FY_PID[flood-agent]}" || fail "the agent got its tunnel back only after the flood had ended"
check_ok "agent reconnected (TLS + HELLO) during the flood on :$RELAY_PORT"
flood_done flood-agent 100000
load_ok "after the floods: 1 MiB through the new tunnel" \
	send --connect "$RIP:$PUB_IN" --bytes 1M --seed 7 --timeout 60

# --- 3. SIGTERM, then the counters
dp_relay_stop_ok
check_ok "SIGTERM: relay exited 0"
counters=$(grep -o 'worker 0 counters:.*' "$T/relay.log" | tail -n 1)
[ -n "$counters" ] || fail "no 'worker 0 counters:' line in relay.log"
fy_say "$counters"
cnt() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$counters"; }
full=$(cnt tcp_syn_backlog_full)
ctx=$(cnt tcp_syncookie_tx)
cok=$(cnt tcp_syncookie_ok)
bad=$(cnt tcp_bad_csum)
[ "${full:-0}" -gt 0 ] || fail "tcp_syn_backlog_full is ${full:-0}: the SYN backlog never filled"
[ "${ctx:-0}" -eq "$full" ] || fail "tcp_syncookie_tx=${ctx:-0} differs from tcp_syn_backlog_full=$full"
# The client's and the agent's handshakes both came while the backlog was full.
# At least one real handshake completed through a cookie (which ones do
# depends on whether the backlog was full at that instant).
[ "${cok:-0}" -ge 1 ] || fail "tcp_syncookie_ok is ${cok:-0}, want >= 1 (a real handshake through a cookie)"
[ -z "$bad" ] || fail "tcp_bad_csum=$bad: fy-synflood sent SYNs with bad checksums?"
check_ok "cookies: backlog full $full times, $ctx cookies sent, $cok cookie handshakes completed, no bad checksum"
pass
