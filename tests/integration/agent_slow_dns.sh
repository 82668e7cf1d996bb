#!/usr/bin/env bash
# shellcheck disable=SC2119 # lib.sh helpers take optional arguments
# -R targets named through a slow DNS server must not stall the agent:
#
#   fy-load ──▶ relay :P_SLOW ══╗          ╔══▶ agent ──(slow.fy.test, answered after 3 s)──▶ echo
#   fy-load ──▶ relay :P_FAST ══╬═ tunnel ═╬══▶ agent ──(fast.fy.test, answered at once)────▶ echo
#   fy-load ──▶ relay :P_IP   ══╣          ╠══▶ agent ──(127.0.0.1)──────────────────────────▶ echo
#   fy-load ──▶ relay :P_NX   ══╝          ╚══▶ agent ──(nx.fy.test: NXDOMAIN) -> refused
#
# The whole scenario runs in a network namespace of its own whose resolv.conf
# (/etc/netns/NS/resolv.conf) points at tests/tools/fy_dns.py on 127.0.0.1:53.
# 1. A stream to P_SLOW waits for its name while streams to P_FAST and P_IP are
#    served: both finish before the DNS server has even answered slow.fy.test.
#    Then the waiting stream is served too (echo checked byte for byte).
# 2. The address is cached: another stream to P_SLOW is served with no new query.
# 3. A name that does not resolve: the client is reset, the agent says
#    "cannot resolve nx.fy.test: name not found", and keeps serving the others.
# 4. SIGTERM while a lookup hangs (slower.fy.test, answered after 60 s): a second
#    agent exits 0 at once, without waiting for getaddrinfo.
# Needs root (a network namespace and /etc/netns).
if [ -z "${FY_IN_DNS_NS:-}" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "SKIP agent_slow_dns: needs root (a network namespace with its own resolv.conf)"
		exit 77
	fi
	ns=fydns$$
	cleanup() {
		ip netns del "$ns" 2>/dev/null
		rm -rf "/etc/netns/$ns"
	}
	trap cleanup EXIT
	mkdir -p "/etc/netns/$ns"
	printf 'nameserver 127.0.0.1\noptions timeout:10 attempts:1\n' >"/etc/netns/$ns/resolv.conf"
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	rc=0
	FY_IN_DNS_NS=1 FY_KEEP=${FY_KEEP:-0} ip netns exec "$ns" bash "$0" "$@" || rc=$?
	exit "$rc"
fi

# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
fy_init 23200

fy_alloc_port RELAY_PORT
fy_alloc_port ECHO
fy_alloc_port P_SLOW
fy_alloc_port P_FAST
fy_alloc_port P_IP
fy_alloc_port P_NX

fy_bg dns python3 "$FY_ROOT/tests/tools/fy_dns.py" --listen 127.0.0.1:53 --lifetime 170 \
	--addr slow.fy.test=127.0.0.1 --addr fast.fy.test=127.0.0.1 --delay slow.fy.test=3 \
	--addr slower.fy.test=127.0.0.1 --delay slower.fy.test=60
wait_log "$T/dns.out" '^listening ' 10
getent hosts fast.fy.test | grep -q '^127\.0\.0\.1' ||
	fail "the namespace's resolver does not reach fy_dns.py: $(getent hosts fast.fy.test; cat "$T/dns.out")"

fy_certs
TOK=$(fy_token dns "$FY_PORT_RANGE")
TOK2=$(fy_token dns2 "$FY_PORT_RANGE")
fy_serve serve-echo "$ECHO" --mode echo
fy_relay_start
fy_agent_start dns "$TOK" -R "$P_SLOW:slow.fy.test:$ECHO" -R "$P_FAST:fast.fy.test:$ECHO" \
	-R "$P_IP:127.0.0.1:$ECHO" -R "$P_NX:nx.fy.test:$ECHO"
wait_log_count "$T/agent-dns.log" "forwarding relay port" 4 15
answered_slow() { grep -c '^answer slow.fy.test A ' "$T/dns.out"; }
[ "$(answered_slow)" -eq 0 ] || fail "slow.fy.test answered already: the test has no window"

# --- 1. one stream waits for its name, the others do not
fy_bg slow "$LOAD" multi --connect "127.0.0.1:$P_SLOW" --streams 1 --max-bytes 64K --seed 3 --timeout 30
load_ok "fast.fy.test while slow.fy.test is looked up" multi --connect "127.0.0.1:$P_FAST" \
	--streams 5 --max-bytes 64K --seed 4 --timeout 10
load_ok "127.0.0.1 while slow.fy.test is looked up" multi --connect "127.0.0.1:$P_IP" \
	--streams 5 --max-bytes 64K --seed 5 --timeout 10
[ "$(answered_slow)" -eq 0 ] || fail "slow.fy.test was answered before the other streams finished"
fy_alive "${FY_PID[slow]}" || fail "the stream to slow.fy.test ended before its name was known: $(fy_result slow)"
check_ok "both served while the stream to slow.fy.test still waited for its address"
fy_bg_wait slow
[ "$FY_RC" -eq 0 ] || fail "stream to slow.fy.test: $(fy_result slow) (exit $FY_RC)"
[ "$(answered_slow)" -ge 1 ] || fail "slow stream done, but slow.fy.test never answered"
check_ok "then the stream to slow.fy.test was served: $(fy_result slow)"

# --- 2. cached
queries=$(grep -c '^query slow.fy.test A' "$T/dns.out")
load_ok "again: from the cache" multi --connect "127.0.0.1:$P_SLOW" --streams 3 --max-bytes 64K \
	--seed 6 --timeout 10
[ "$(grep -c '^query slow.fy.test A' "$T/dns.out")" -eq "$queries" ] ||
	fail "slow.fy.test was asked again within the cache lifetime"
check_ok "no new query for slow.fy.test (asked $queries time(s) in all)"

# --- 3. a name that does not resolve
load_ok "nx.fy.test: the client is reset" hold --connect "127.0.0.1:$P_NX" --expect reset \
	--send-bytes 100 --timeout 20
wait_log "$T/agent-dns.log" 'cannot resolve nx.fy.test: name not found' 10
load_ok "the others still served" multi --connect "127.0.0.1:$P_IP" --streams 3 --max-bytes 16K \
	--seed 7 --timeout 10
fy_alive "${FY_AGENT_PID[dns]}" || fail "agent died"

# --- 4. exit while a lookup hangs
fy_alloc_port P_SLOWER
fy_agent_start dns2 "$TOK2" -R "$P_SLOWER:slower.fy.test:$ECHO"
wait_log "$T/dns.out" '^query slower.fy.test A' 15
fy_stop agent-dns2 TERM 20
[ "$FY_RC" -eq 0 ] || fail "agent exited $FY_RC on SIGTERM with a lookup hanging, want 0"
[ "$(grep -c '^answer slower.fy.test' "$T/dns.out")" -eq 0 ] ||
	fail "the agent waited for the hanging lookup before exiting"
check_ok "SIGTERM with a lookup hanging: exit 0 without waiting for it"
pass
