#!/usr/bin/env bash
# shellcheck disable=SC2119 # lib.sh helpers take optional arguments
# How many ports one agent may hold: its token's maxports=, else the relay's
# --max-ports-per-agent (default 64). A claim beyond it is refused on both sides and not
# retried; what was claimed works; the count is per session, so a restarted agent gets
# the same number again.
#
#                     relay 1 (defaults: --max-ports-per-agent 64)
#   agent a  (token A: all 100 ports of this script, --max-ports 5)  12 x -R ──┐
#   agent f  (token F: same ports, no maxports)                      64 x -R ──┼──▶ serve sink :SINK
#   agent g  (token F)                                               65 x -R: usage error, exit 2
#                     relay 2 (--max-ports-per-agent 3)
#   agent c  (token C: no maxports)                                   6 x -R ──┤
#   agent a  (token A: maxports=5)                                    6 x -R ──┘
#
# 1. agent a, 12 forwards, cap 5 from its token: exactly 5 ports listen, the other 7 are
#    refused: relay "agent 'a' refused port P: agent 'a' holds 5 ports, the most it may
#    (maxports of its token)", agent "relay refused -R P:127.0.0.1:SINK: ... (not
#    retried)", once per refused port, for exactly the ports that do not listen; a
#    claimed port carries a stream (1 MiB, sha256 checked by the sink).
# 2. agent a killed (SIGKILL) and started again: again exactly 5 listen, 7 refused.
# 3. 64 forwards (the agent's maximum) under the relay's default cap of 64: all claimed;
#    65 forwards: the agent refuses to start (exit 2, "at most 64 -R forwards").
# 4. relay 2 with --max-ports-per-agent 3: a token without maxports gets 3 of 6 ports
#    ("... holds 3 ports, the most it may (--max-ports-per-agent)"); token A's own
#    maxports=5 takes precedence over the relay-wide 3: 5 of 6.
# (The relay before this change has no cap: the 12 forwards of step 1 all listen.)
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
fy_init 24200

fy_alloc_port RELAY_PORT
fy_alloc_port SINK
PORTS=()
for ((i = 0; i < 64; i++)); do
	fy_alloc_port p
	PORTS+=("$p")
done

fy_certs
TOK_A=$("$RELAY_BIN" token add --tokens "$T/tokens" --agent a --ports "$FY_PORT_RANGE" --max-ports 5 \
	2>>"$T/token.err") || fail "token add --max-ports 5 failed: $(tail -n 3 "$T/token.err")"
"$RELAY_BIN" token list --tokens "$T/tokens" >"$T/token-list.out" 2>&1 ||
	fail "token list failed: $(cat "$T/token-list.out")"
TOK_C=$(fy_token c "$FY_PORT_RANGE")
TOK_F=$(fy_token f,g "$FY_PORT_RANGE")
fy_serve serve "$SINK" --mode sink

# r_args FIRST COUNT: -R options for PORTS[FIRST .. FIRST+COUNT-1], all to the sink.
r_args() {
	local i
	R=()
	for ((i = $1; i < $1 + $2; i++)); do
		R+=(-R "${PORTS[i]}:127.0.0.1:$SINK")
	done
}

# since_start FILE: FILE's lines from its last '=== ' line (the latest start) on.
since_start() {
	# shellcheck disable=SC2016 # sed's $, not the shell's
	sed -n '/^=== /h; /^=== /!H; ${x; p}' "$1"
}

# cap_check NAME FIRST COUNT WANT WHY: agent NAME asked for COUNT ports from PORTS[FIRST];
# exactly WANT of them listen, and each of the others was refused in both logs with
# "agent 'NAME' holds WANT ports, the most it may (WHY)". Only the lines after the
# latest start of the relay and of the agent count.
cap_check() {
	local name=$1 first=$2 count=$3 want=$4 why=$5 i p up=0 refused=0 rlog alog
	local msg="agent '$name' holds $want ports, the most it may \\($why\\)"
	# Settled: every forward has an answer in the agent's log (claimed or refused).
	for ((i = 0; i < 300; i++)); do
		alog=$(since_start "$T/agent-$name.log")
		up=$(grep -Ec 'forwarding relay port [0-9]+ to' <<<"$alog" || true)
		refused=$(grep -Ec 'relay refused -R' <<<"$alog" || true)
		[ $((up + refused)) -ge "$count" ] && break
		sleep 0.1
	done
	[ "$up" -eq "$want" ] || fail "agent $name: $up ports claimed, want $want (of $count)"
	[ "$refused" -eq $((count - want)) ] || fail "agent $name: $refused refusals, want $((count - want))"
	rlog=$(since_start "$T/relay.log")
	up=0
	for ((i = first; i < first + count; i++)); do
		p=${PORTS[i]}
		if grep -q "forwarding relay port $p to" <<<"$alog"; then
			wait_listen "$p" 10
			grep -q "agent '$name' claimed port $p: listening" <<<"$rlog" ||
				fail "relay log has no claim of port $p by agent $name"
			up=$((up + 1))
		else
			grep -Eq "relay refused -R $p:127\.0\.0\.1:$SINK: $msg \(not retried\)" <<<"$alog" ||
				fail "agent $name's log has no refusal of port $p saying \"$msg (not retried)\""
			grep -Eq "agent '$name' refused port $p: $msg" <<<"$rlog" ||
				fail "relay log has no refusal of port $p for agent $name saying \"$msg\""
			if fy_listening "$p"; then fail "port $p listens although its claim was refused"; fi
		fi
	done
	[ "$up" -eq "$want" ] || fail "agent $name: $up distinct ports claimed, want $want"
	claimed=()
	for ((i = first; i < first + count; i++)); do
		grep -q "forwarding relay port ${PORTS[i]} to" <<<"$alog" && claimed+=("${PORTS[i]}")
	done
	if [ "$want" -eq "$count" ]; then
		check_ok "agent $name: all $count ports listen (${claimed[0]}..${claimed[count - 1]}), none refused"
	else
		check_ok "agent $name: $want of $count ports listen (${claimed[*]}), $((count - want)) refused in both logs: \"agent '$name' holds $want ports, the most it may ($why)\""
	fi
}

# ---------------------------------------------------------------- relay 1: defaults
fy_relay_start
grep -q ' maxports=5$' "$T/tokens" || fail "token file has no maxports=5 rule: $(cat "$T/tokens")"
grep -Eq "^a-[0-9a-f]+ +a +$FY_PORT_RANGE \(at most 5 at once\)" "$T/token-list.out" ||
	fail "token list does not show A's cap of 5: $(cat "$T/token-list.out")"
check_ok "token A: $(grep '(at most' "$T/token-list.out")"

# 1. 12 forwards, token cap 5.
r_args 0 12
fy_agent_start a "$TOK_A" "${R[@]}"
cap_check a 0 12 5 "maxports of its token"
load_ok "a claimed port carries a stream" send --connect "127.0.0.1:${claimed[0]}" --bytes 1M --seed 1 --timeout 30
# Refused claims are not retried (a retried one would come back after 1 s of backoff).
sleep 2
n=$(log_count "$T/agent-a.log" 'relay refused -R')
[ "$n" -eq 7 ] || fail "agent a logged $n refusals, want 7 (no retries)"
n=$(log_count "$T/relay.log" "agent 'a' refused port")
[ "$n" -eq 7 ] || fail "relay logged $n refusals for agent a, want 7 (no retries)"
check_ok "2 s later still 7 refusals in each log: not retried"

# 2. Killed and started again: the new session may hold 5 again.
fy_agent_stop a KILL
fy_agent_start a "$TOK_A" "${R[@]}"
cap_check a 0 12 5 "maxports of its token"
n=$(log_count "$T/relay.log" "agent 'a' refused port")
[ "$n" -eq 14 ] || fail "relay logged $n refusals for agent a after its restart, want 7 + 7"
fy_agent_stop a

# 3. The agent's most forwards, 64, against the relay's default cap, 64.
r_args 0 64
fy_agent_start f "$TOK_F" "${R[@]}"
cap_check f 0 64 64 "--max-ports-per-agent"
load_ok "the 64th port carries a stream" send --connect "127.0.0.1:${PORTS[63]}" --bytes 1M --seed 2 --timeout 30
fy_agent_stop f
R+=(-R "$((PORTS[63] + 1)):127.0.0.1:$SINK")
rc=0
timeout 20 "$AGENT_BIN" --relay "127.0.0.1:$RELAY_PORT" --token "$TOK_F" --ca "$T/pki/ca.crt" --name g \
	"${R[@]}" >"$T/agent-g.log" 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "agent with 65 -R exited $rc, want 2: $(tail -n 2 "$T/agent-g.log")"
grep -q 'at most 64 -R forwards' "$T/agent-g.log" || fail "agent with 65 -R: $(tail -n 2 "$T/agent-g.log")"
check_ok "65 -R: the agent exits 2 with \"$(grep -m1 'at most 64' "$T/agent-g.log")\""
for ((i = 0; i < 64; i++)); do wait_closed "${PORTS[i]}" 10; done
check_ok "all 64 ports released after agent f left"

# ------------------------------------------------- relay 2: --max-ports-per-agent 3
fy_relay_stop
[ "$FY_RC" -eq 0 ] || fail "relay 1 exited $FY_RC on SIGTERM"
fy_relay_start --max-ports-per-agent 3
r_args 0 6
fy_agent_start c "$TOK_C" "${R[@]}"
cap_check c 0 6 3 "--max-ports-per-agent"
r_args 6 6
fy_agent_start a "$TOK_A" "${R[@]}"
cap_check a 6 6 5 "maxports of its token"
load_ok "agent a's port ${claimed[0]} carries a stream" send --connect "127.0.0.1:${claimed[0]}" --bytes 1M --seed 3 --timeout 30

pass
