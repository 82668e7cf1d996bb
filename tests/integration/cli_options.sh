#!/usr/bin/env bash
# shellcheck disable=SC2119 # lib.sh helpers take optional arguments
# Option errors name the option given, sizes take K/M/G, token maxports= is written,
# listed and enforced.
#
#   (no network)  ferry-relay / ferry-agent / ferry-relay token with bad options:
#                 exit 2 and exactly "<prog>: --NAME must be ... (got 'VALUE')" +
#                 "Try '<prog> --help'." (old code printed "--?" for --dpdk-conns,
#                 --dpdk-syn-backlog: the name came from the enum's order)
#
#   fy-load send ──▶ relay :P_SINK ══╗  relay --window 2M --initial-window 128k       ╔▶ serve sink   :SINK
#   fy-load recv ◀── relay :P_SRC  ◀═╣  --max-buffer-mem 256M --max-buffer-per-session ╠═ serve source :SRC
#                                    ║  64M --max-ports-per-agent 2                    ║  agent sz --window 2M
#                                    ║                                                 ║  --max-buffer-mem 64M
#   relay :MP1..3 ═══════════════════╬═ agent mp (token maxports=2), 3 x -R ═══════════╝  --max-streams 8
#   relay :MQ1..3 ═══════════════════╬═ agent mq (token without maxports), 3 x -R   (all to serve sink :SINK)
#   relay :M51..3 ═══════════════════╝═ agent m5 (token maxports=5), 3 x -R
#
# 1. relay: a table of bad values, one per numeric or size option (and an abbreviated
#    option, --opt=value); --initial-window larger than --window (given or default) is
#    refused at start naming both, exit 2; equal is accepted.
# 2. agent: the same for its options (--max-streams, --window, --max-buffer-mem, ...).
# 3. the relay and agent above start with K/M/G sizes; the agent is told the initial
#    window (its log says "window 131072"); 16 MiB go each way, sha256 checked.
# 4. token add --max-ports 5 / -m 7 write " maxports=N" into the line, token list shows
#    "(at most N at once)"; --max-ports 0, 70000, abc, '' are refused (exit 2, the file
#    unchanged); token list refuses --max-ports.
# 5. enforcement: agent mp (maxports=2) gets 2 of its 3 ports, the relay and the agent
#    say "holds 2 ports, the most it may (maxports of its token)"; agent mq (no maxports,
#    relay --max-ports-per-agent 2) the same with "(--max-ports-per-agent)"; agent m5
#    (maxports=5 above the relay's 2) gets all 3.
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
fy_init 24900

fy_alloc_port RELAY_PORT
fy_alloc_port SINK
fy_alloc_port SRC
fy_alloc_port P_SINK
fy_alloc_port P_SRC
for v in MP1 MP2 MP3 MQ1 MQ2 MQ3 M51 M52 M53; do fy_alloc_port "$v"; done
fy_certs

# bad PROG BIN MESSAGE ARGS...: BIN ARGS exits 2 and prints exactly MESSAGE, then
# "Try 'PROG --help'.", and nothing else.
bad() {
	local prog=$1 bin=$2 msg=$3 rc=0 out want
	shift 3
	out=$(timeout 10 "$bin" "$@" 2>&1 </dev/null) || rc=$?
	[ "$rc" -eq 2 ] || fail "$prog $*: exit $rc, want 2: $out"
	want=$(printf "%s\nTry '%s --help'." "$msg" "$prog")
	[ "$out" = "$want" ] || fail "$prog $*: got [$out], want [$want]"
	check_ok "$prog $*: exit 2, '${msg#"$prog: "}'"
}
num() { printf '%s: --%s must be a number from %s to %s (got '\''%s'\'')' "$1" "$2" "$3" "$4" "$5"; }
size() {
	printf '%s: --%s must be a size from %s to %s bytes, with an optional K, M or G (got '\''%s'\'')' \
		"$1" "$2" "$3" "$4" "$5"
}
WMAX=2147483647
TB=1099511627776
R=ferry-relay
A=ferry-agent

# ------------------------------------------------------------- 1. relay options
bad $R "$RELAY_BIN" "$(num $R dpdk-conns 16 1048576 5)" --dpdk-conns 5
bad $R "$RELAY_BIN" "$(num $R dpdk-syn-backlog 1 1048576 0)" --dpdk-syn-backlog 0
bad $R "$RELAY_BIN" "$(num $R dpdk-mbufs 32 16777215 1)" --dpdk-mbufs 1
bad $R "$RELAY_BIN" "$(num $R dpdk-port 0 1023 1024)" --dpdk-port 1024
bad $R "$RELAY_BIN" "$(num $R dpdk-conns 16 1048576 5)" --dpdk-co 5
bad $R "$RELAY_BIN" "$(num $R workers 1 64 0)" --workers 0
bad $R "$RELAY_BIN" "$(num $R keepalive-ms 100 3600000 99)" --keepalive-ms 99
bad $R "$RELAY_BIN" "$(num $R handshake-timeout-ms 100 600000 600001)" --handshake-timeout-ms 600001
bad $R "$RELAY_BIN" "$(num $R max-unauth 1 1000000 0)" --max-unauth 0
bad $R "$RELAY_BIN" "$(num $R max-unauth-per-ip 1 65535 65536)" --max-unauth-per-ip 65536
bad $R "$RELAY_BIN" "$(num $R max-streams 1 10000000 0)" --max-streams 0
bad $R "$RELAY_BIN" "$(num $R max-ports-per-agent 1 65535 0)" --max-ports-per-agent 0
bad $R "$RELAY_BIN" "$(num $R max-ports-per-agent 1 65535 70000)" --max-ports-per-agent 70000
bad $R "$RELAY_BIN" "$(num $R fd-reserve 16 1048576 1)" --fd-reserve 1
bad $R "$RELAY_BIN" "$(num $R drain-ms 0 3600000 x)" --drain-ms x
bad $R "$RELAY_BIN" "$(size $R window 16384 $WMAX 1k)" --window 1k
bad $R "$RELAY_BIN" "$(size $R window 16384 $WMAX 1k)" --window=1k
bad $R "$RELAY_BIN" "$(size $R window 16384 $WMAX 16383)" --window 16383
bad $R "$RELAY_BIN" "$(size $R window 16384 $WMAX 3G)" --window 3G
bad $R "$RELAY_BIN" "$(size $R window 16384 $WMAX 2G)" --window 2G
bad $R "$RELAY_BIN" "$(size $R window 16384 $WMAX 1.5M)" --window 1.5M
bad $R "$RELAY_BIN" "$(size $R window 16384 $WMAX -1)" --window -1
bad $R "$RELAY_BIN" "$(size $R initial-window 16384 $WMAX 8K)" --initial-window 8K
bad $R "$RELAY_BIN" "$(size $R max-buffer-mem 1048576 $TB 12X)" --max-buffer-mem 12X
bad $R "$RELAY_BIN" "$(size $R max-buffer-mem 1048576 $TB 1023K)" --max-buffer-mem 1023K
bad $R "$RELAY_BIN" "$(size $R max-buffer-mem 1048576 $TB 2T)" --max-buffer-mem 2T
bad $R "$RELAY_BIN" "$(size $R max-buffer-per-session 65536 $TB 1K)" --max-buffer-per-session 1K
# The same option names from a --config file.
printf 'dpdk-conns 5\n' >"$T/relay.conf"
bad $R "$RELAY_BIN" "$(num $R dpdk-conns 16 1048576 5)" --config "$T/relay.conf"

# --initial-window above --window: refused at start, both named.
BASE=(--listen "127.0.0.1:$RELAY_PORT" --cert "$T/pki/relay.crt" --key "$T/pki/relay.key"
	--tokens "$T/tokens")
: >"$T/tokens"
chmod 600 "$T/tokens"
IW="ferry-relay: --initial-window (2097152) is larger than --window (1048576), the largest a window may grow to"
for args in "--initial-window 2M --window 1M" "--window 1M --initial-window 2M" "--initial-window 2M"; do
	rc=0
	# shellcheck disable=SC2086 # $args is split on purpose
	out=$(timeout 10 "$RELAY_BIN" "${BASE[@]}" $args 2>&1 </dev/null) || rc=$?
	if [ "$rc" -ne 2 ] || [ "$out" != "$IW" ]; then
		fail "ferry-relay $args: exit $rc, [$out], want exit 2, [$IW]"
	fi
	check_ok "ferry-relay $args: exit 2, '$IW'"
done
fy_listening "$RELAY_PORT" && fail "a refused relay listens on $RELAY_PORT"

# ------------------------------------------------------------- 2. agent options
bad $A "$AGENT_BIN" "$(num $A max-streams 1 1000000 0)" --max-streams 0
bad $A "$AGENT_BIN" "$(num $A max-streams 1 1000000 1000001)" --max-streams 1000001
bad $A "$AGENT_BIN" "$(size $A window 16384 $WMAX 8k)" --window 8k
bad $A "$AGENT_BIN" "$(size $A window 16384 $WMAX 3G)" --window 3G
bad $A "$AGENT_BIN" "$(size $A max-buffer-mem 1048576 $TB abc)" --max-buffer-mem abc
bad $A "$AGENT_BIN" "$(size $A max-buffer-mem 1048576 $TB 1023K)" --max-buffer-mem 1023K
bad $A "$AGENT_BIN" "$(num $A drain-ms 0 3600000 x)" --drain-ms x
bad $A "$AGENT_BIN" "$(num $A keepalive-ms 100 3600000 99)" --keepalive-ms 99
bad $A "$AGENT_BIN" "$(num $A backoff-min-ms 10 3600000 9)" --backoff-min-ms 9
bad $A "$AGENT_BIN" "$(num $A backoff-max-ms 10 3600000 x)" --backoff-max-ms x

# ------------------------------------------------------------- 4. token add --max-ports
TR=("$RELAY_BIN" token)
tok_ok() { # tok_ok ARGS...: token add succeeds; prints the token
	local t
	t=$("${TR[@]}" add --tokens "$T/tokens" "$@" 2>>"$T/token.err") || fail "token add $*: $(tail -n 3 "$T/token.err")"
	printf '%s\n' "$t"
}
TOK_SZ=$(tok_ok --agent sz --id sz --ports "$P_SINK,$P_SRC")
TOK_MP=$(tok_ok --agent mp --id mp2 --ports "$MP1-$MP3" --max-ports 2)
TOK_MQ=$(tok_ok --agent mq --id mq --ports "$MQ1-$MQ3")
TOK_M5=$(tok_ok --agent m5 --id m5 --ports "$M51-$M53" --max-ports 5)
tok_ok --agent m7 --id m7 --ports 24990 -m 7 >/dev/null
grep -Eq "^mp2 sha256:[0-9a-f]{64} agents=mp ports=$MP1-$MP3 maxports=2\$" "$T/tokens" ||
	fail "no 'maxports=2' line for mp2 in the tokens file: $(grep '^mp2 ' "$T/tokens")"
grep -Eq "^m5 sha256:[0-9a-f]{64} agents=m5 ports=$M51-$M53 maxports=5\$" "$T/tokens" ||
	fail "no 'maxports=5' line for m5: $(grep '^m5 ' "$T/tokens")"
grep -Eq "^m7 .* maxports=7\$" "$T/tokens" || fail "-m 7 did not write maxports=7: $(grep '^m7 ' "$T/tokens")"
grep -Eq "^mq sha256:[0-9a-f]{64} agents=mq ports=$MQ1-$MQ3\$" "$T/tokens" ||
	fail "the token without --max-ports: $(grep '^mq ' "$T/tokens")"
check_ok "token add --max-ports 5 / -m 7 write maxports=N; without it, no maxports="
"${TR[@]}" list --tokens "$T/tokens" >"$T/list.out" 2>&1 || fail "token list: $(cat "$T/list.out")"
grep -Eq "^m5 +m5 +$M51-$M53 \(at most 5 at once\)\$" "$T/list.out" || fail "token list: $(cat "$T/list.out")"
grep -Eq "^mp2 +mp +$MP1-$MP3 \(at most 2 at once\)\$" "$T/list.out" || fail "token list: $(cat "$T/list.out")"
grep -Eq "^m7 +m7 +24990 \(at most 7 at once\)\$" "$T/list.out" || fail "token list: $(cat "$T/list.out")"
grep -Eq "^mq +mq +$MQ1-$MQ3\$" "$T/list.out" || fail "token list (no maxports): $(cat "$T/list.out")"
check_ok "token list shows '(at most N at once)' exactly for the tokens with maxports="

before=$(sha256sum <"$T/tokens")
for v in 0 70000 abc ''; do
	rc=0
	out=$("${TR[@]}" add --tokens "$T/tokens" --agent x --ports 24991 --max-ports "$v" 2>&1) || rc=$?
	want="ferry-relay token: --max-ports must be a number from 1 to 65535 (got '$v')"
	[ "$rc" -eq 2 ] || fail "token add --max-ports '$v': exit $rc, want 2: $out"
	[ "$(head -n 1 <<<"$out")" = "$want" ] || fail "token add --max-ports '$v': '$(head -n 1 <<<"$out")', want '$want'"
	check_ok "token add --max-ports '$v': exit 2, '$want'"
done
rc=0
out=$("${TR[@]}" list --tokens "$T/tokens" --max-ports 5 2>&1) || rc=$?
if [ "$rc" -ne 2 ] || [ "$(head -n 1 <<<"$out")" != "ferry-relay token: token list takes only --tokens FILE" ]; then
	fail "token list --max-ports 5: exit $rc, $(head -n 1 <<<"$out")"
fi
[ "$(sha256sum <"$T/tokens")" = "$before" ] || fail "a refused token add changed the tokens file"
check_ok "token list --max-ports refused; the tokens file unchanged by the refused adds"

# --initial-window equal to --window is fine.
fy_relay_start --initial-window 1M --window 1M
fy_relay_stop
[ "$FY_RC" -eq 0 ] || fail "relay with --initial-window 1M --window 1M: exit $FY_RC on SIGTERM"
check_ok "ferry-relay --initial-window 1M --window 1M: starts, exits 0 on SIGTERM"

# ------------------------------------------------------------- 3. sizes with K/M/G
fy_serve serve-sink "$SINK" --mode sink
fy_serve serve-src "$SRC" --mode source --bytes 16M --seed 2
fy_relay_start --window 2M --initial-window 128k --max-buffer-mem 256M --max-buffer-per-session 64M \
	--max-ports-per-agent 2
fy_agent_start sz "$TOK_SZ" --window 2M --max-buffer-mem 64M --max-streams 8 \
	-R "$P_SINK:127.0.0.1:$SINK" -R "$P_SRC:127.0.0.1:$SRC"
wait_listen "$P_SINK" 20
wait_listen "$P_SRC" 20
wait_log "$T/agent-sz.log" 'connected to relay .* window 131072,' 10
check_ok "the agent is told the relay's --initial-window 128k: 'window 131072'"
want=$(gen_sha 16M 1)
load_ok "16 MiB client -> target" send --connect "127.0.0.1:$P_SINK" --bytes 16M --seed 1 --timeout 120
[ "$(field sha256 "$FY_OUT")" = "$want" ] || fail "digest differs from sha256sum of the input"
wait_log "$T/serve-sink.out" "^conn id=1 mode=sink in=$((16 << 20)) out=65 in_sha256=$want end=eof" 10
load_ok "16 MiB target -> client" recv --connect "127.0.0.1:$P_SRC" --bytes 16M --seed 2 --timeout 120
[ "$(field sha256 "$FY_OUT")" = "$(gen_sha 16M 2)" ] || fail "digest differs from sha256sum of the source"

# ------------------------------------------------------------- 5. maxports enforced
# claimed PORTS...: how many of PORTS listen.
claimed() {
	local n=0 p
	for p in "$@"; do fy_listening "$p" && n=$((n + 1)); done
	printf '%s\n' "$n"
}
fy_agent_start mp "$TOK_MP" -R "$MP1:127.0.0.1:$SINK" -R "$MP2:127.0.0.1:$SINK" -R "$MP3:127.0.0.1:$SINK"
fy_agent_start mq "$TOK_MQ" -R "$MQ1:127.0.0.1:$SINK" -R "$MQ2:127.0.0.1:$SINK" -R "$MQ3:127.0.0.1:$SINK"
fy_agent_start m5 "$TOK_M5" -R "$M51:127.0.0.1:$SINK" -R "$M52:127.0.0.1:$SINK" -R "$M53:127.0.0.1:$SINK"
wait_log "$T/relay.log" "agent 'mp' holds 2 ports, the most it may \(maxports of its token\)" 20
wait_log "$T/agent-mp.log" "holds 2 ports, the most it may \(maxports of its token\)" 10
wait_log "$T/relay.log" "agent 'mq' holds 2 ports, the most it may \(--max-ports-per-agent\)" 20
wait_log "$T/agent-mq.log" "holds 2 ports, the most it may \(--max-ports-per-agent\)" 10
wait_listen "$M51" 20
wait_listen "$M52" 20
wait_listen "$M53" 20
[ "$(claimed "$MP1" "$MP2" "$MP3")" -eq 2 ] || fail "agent mp (maxports=2) holds $(claimed "$MP1" "$MP2" "$MP3") of its 3 ports, want 2"
[ "$(claimed "$MQ1" "$MQ2" "$MQ3")" -eq 2 ] || fail "agent mq (--max-ports-per-agent 2) holds $(claimed "$MQ1" "$MQ2" "$MQ3") ports, want 2"
if grep -q "agent 'm5' holds" "$T/relay.log"; then fail "agent m5 (maxports=5) was limited: $(grep "agent 'm5' holds" "$T/relay.log")"; fi
check_ok "maxports=2: 2 of 3 ports; no maxports and --max-ports-per-agent 2: 2 of 3; maxports=5: all 3"
for p in "$MP1" "$MP2" "$MP3" "$MQ1" "$MQ2" "$MQ3"; do
	fy_listening "$p" || continue
	load_ok "a claimed port ($p) carries data" send --connect "127.0.0.1:$p" --bytes 64K --seed 3 --timeout 30
	break
done

pass
