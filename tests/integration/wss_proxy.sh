#!/usr/bin/env bash
# shellcheck disable=SC2119 # lib.sh helpers take optional arguments
# Agents that get out through HTTP-only networks: WebSocket over HTTPS
# (--transport wss) through an HTTP proxy (tinyproxy, CONNECT with Basic auth),
# --transport auto falling back to wss, and bad WebSocket input at the relay.
#
#   client 198.51.100.4 ── curl :2280, :2281; fy_wsbad.py :443 ──┐
#                                                                ▼
#   relay 198.51.100.2: --listen :7000 (TLS), --https-listen :443 (/_ferry/tunnel)
#        ▲ wss                                   ▲ wss (auto: TLS to :7000 dropped)
#   nat-a 198.51.100.11 │ 192.168.10.1           nat-b 198.51.100.12 │ 10.10.10.1
#     tinyproxy :3128 (BasicAuth, CONNECT only to :443)               │
#        ▲ the only thing edge-a may reach (nft: output policy drop)  │
#   edge-a 192.168.10.12: agent a, web :8081 ── -R 2280   edge-b 10.10.10.5: agent b,
#                                                          web :8082 ── -R 2281
#                                                          (nft: TCP to :7000 dropped)
#
# Checks, in order:
#   1. agent a: --transport wss --proxy http://ferry:...@192.168.10.1:3128 (from a
#      --config file) comes up; the relay says its tunnels are WebSocket ones, the proxy
#      logged the CONNECTs; curl from the client gets 8 MiB through -R 2280 (sha256)
#   2. agent b: --transport auto, no proxy; TLS to :7000 dropped by edge-b's firewall:
#      it logs the fallback and comes up over wss; curl through -R 2281 (sha256)
#   3. agent a again, from https_proxy alone with --transport auto: the proxy refuses
#      CONNECT to :7000 (403), the agent logs it and gets wss; curl again (sha256)
#   4. --transport tls from edge-a (no proxy): blocked, no session
#   5. a wrong proxy password: the proxy's refusal (tinyproxy answers 401, not 407) in
#      the agent's log, no session; no log
#      of any agent holds a proxy password
#      and a wrong --wss-path: the relay's 404, said plainly, no session; a bad token
#      over wss: refused as over TLS, the agent exits 2
#   6. bad WebSocket input from the client (unmasked frame, oversized message, a text
#      message): the relay closes each with the
#      RFC's close code (or a reset, when the client's unread bytes are still in
#      flight) and one log line, and both agents keep serving (sha256). (A fragmented
#      message over the bound cannot be shown here: its first bytes reach the HELLO
#      parser, which refuses them first; wss_test covers that bound.)
# Needs root (namespaces), nft, tinyproxy, curl, busybox (httpd), python3.
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
fy_init 25800
[ "$(id -u)" -eq 0 ] || skip "needs root for network namespaces"
for t in nft tinyproxy curl busybox python3 openssl; do
	command -v "$t" >/dev/null || fail "$t is needed (scripts/deps.sh test installs it)"
done
# shellcheck source=SCRIPTDIR/../topo/topo.sh
. "$FY_ROOT/tests/topo/topo.sh"
WSBAD="$FY_ROOT/tests/tools/fy_wsbad.py"

PFX=fyw$$
ns() { printf '%s-%s' "$PFX" "$1"; }
# nsx ROLE CMD...: run CMD in ROLE's namespace (foreground).
nsx() {
	local role=$1
	shift
	ip netns exec "$(ns "$role")" "$@"
}
# bg_in LABEL ROLE CMD...: in the background, output to $T/LABEL.out, PID kept
# (ip netns exec execs the command: the PID is the command's).
bg_in() {
	local label=$1 role=$2
	shift 2
	fy_bg "$label" ip netns exec "$(ns "$role")" "$@"
}

wss_exit() {
	local rc=$?
	set +e
	trap - EXIT
	# Our processes first, by PID (fy_cleanup's order), then the namespaces.
	for label in "${!FY_PID[@]}"; do
		case $label in agent-*) fy_stop "$label" TERM 10 ;; esac
	done
	[ -n "${FY_PID[relay]:-}" ] && fy_stop relay TERM 20 && RELAY_RC=$FY_RC
	for label in "${!FY_PID[@]}"; do fy_stop "$label" TERM 5; done
	[ -n "${TOPO_PFX:-}" ] && topo_down
	if [ "$rc" -eq 0 ] && [ "${RELAY_RC:-0}" -ne 0 ]; then
		echo "FAIL $FY_NAME: ferry-relay exited $RELAY_RC on SIGTERM, want 0"
		rc=1
	fi
	(exit "$rc")
	fy_cleanup
}
trap wss_exit EXIT

topo_up --prefix "$PFX" --sites "a b" || fail "topo_up failed"
RELAY_IP=$TOPO_RELAY_IP
PROXY_IP=$TOPO_GW_A_IP
check_ok "topology up: relay $RELAY_IP, proxy on nat-a $PROXY_IP, edges $TOPO_EDGE_A_IP and $TOPO_EDGE_B_IP"

# Certificates: the relay's agent port (its own CA) and the HTTPS ingress (the
# test web CA, a wildcard that also names the relay's address); agents trust both.
"$RELAY_BIN" cert init --dir "$T/pki" --name "relay.example.org,$RELAY_IP" >"$T/cert.out" 2>&1 ||
	fail "cert init: $(tail -n 3 "$T/cert.out")"
fy_web_certs
fy_web_leaf wild ca '*.example.org' "DNS:*.example.org,DNS:example.org,IP:$RELAY_IP"
cat "$T/pki/ca.crt" "$T/web/ca.crt" >"$T/cas.crt"
TOKA=$(fy_token a 2280)
TOKB=$(fy_token b 2281)
TOKC=$(fy_token c 2282)

# Web servers on the edges (busybox httpd, loopback only) with 8 MiB bodies.
for s in a:8081 b:8082; do
	mkdir -p "$T/www-${s%%:*}"
	head -c 8388608 /dev/urandom >"$T/www-${s%%:*}/blob"
	bg_in "web-${s%%:*}" "edge-${s%%:*}" busybox httpd -f -p "127.0.0.1:${s#*:}" -h "$T/www-${s%%:*}"
done
SHA_A=$(sha256sum <"$T/www-a/blob" | cut -d' ' -f1)
SHA_B=$(sha256sum <"$T/www-b/blob" | cut -d' ' -f1)

# The proxy on site a's router: Basic auth, CONNECT only to the relay's 443.
cat >"$T/tinyproxy.conf" <<-CONF
	Port 3128
	Listen $PROXY_IP
	Timeout 600
	MaxClients 64
	LogLevel Connect
	BasicAuth ferry pa55word
	ConnectPort 443
	Allow $TOPO_LAN_A.0/24
CONF
bg_in tinyproxy nat-a tinyproxy -d -c "$T/tinyproxy.conf"

# edge-a reaches nothing but the proxy; edge-b nothing on the relay's TLS port.
nsx edge-a nft -f - <<-NFT
	table inet fyw {
		chain out {
			type filter hook output priority filter; policy drop;
			oifname "lo" accept
			ct state established,related accept
			ip daddr $PROXY_IP tcp dport 3128 accept
		}
	}
NFT
nsx edge-b nft -f - <<-NFT
	table inet fyw {
		chain out {
			type filter hook output priority filter; policy accept;
			ip daddr $RELAY_IP tcp dport 7000 drop
		}
	}
NFT

printf '=== %s ferry-relay\n' "$(date +%T.%3N)" >>"$T/relay.log"
bg_in relay relay "$RELAY_BIN" --listen 0.0.0.0:7000 --cert "$T/pki/relay.crt" \
	--key "$T/pki/relay.key" --tokens "$T/tokens" --public-bind 0.0.0.0 --workers 2 \
	--https-listen 0.0.0.0:443 --domain example.org --https-cert "$T/web/wild.crt" \
	--https-key "$T/web/wild.key" --log-level debug
wait_log "$T/relay.out" "agents may connect with --transport wss to 0.0.0.0:443, path /_ferry/tunnel" 15
wait_log "$T/relay.out" "listening for agents" 15
nsx nat-a bash -c "for i in \$(seq 100); do ss -Hltn 'sport = :3128' | grep -q . && exit 0; sleep 0.1; done; exit 1" ||
	fail "tinyproxy does not listen on $PROXY_IP:3128"
check_ok "relay serves TLS on :7000 and wss on :443; tinyproxy listens on $PROXY_IP:3128"

# agent_in LABEL ROLE NAME TOKEN ARGS...: an agent in ROLE's namespace.
agent_in() {
	local label=$1 role=$2 name=$3 tok=$4
	shift 4
	printf '=== %s ferry-agent %s %s\n' "$(date +%T.%3N)" "$name" "$*" >>"$T/$label.out"
	FY_PID[$label]=
	ip netns exec "$(ns "$role")" env -u https_proxy -u HTTPS_PROXY ${AGENT_ENV:-} "$AGENT_BIN" \
		--relay "$RELAY_IP:7000" --token "$tok" --ca "$T/cas.crt" --name "$name" \
		--io "$FY_AGENT_IO" --log-level debug --backoff-min-ms 500 --backoff-max-ms 2000 "$@" \
		>>"$T/$label.out" 2>&1 &
	FY_PID[$label]=$!
}

# fetch LABEL PORT SHA: curl from the client through the relay's -R port.
fetch() {
	local got
	got=$(nsx client curl -sS --max-time 60 "http://$RELAY_IP:$2/blob" | sha256sum | cut -d' ' -f1)
	[ "$got" = "$3" ] || fail "$1: sha256 $got through :$2, want $3"
	check_ok "$1: curl through -R $2: 8 MiB, sha256 equal"
}

# ---- 1. wss through the proxy, credentials from a config file
printf 'proxy http://ferry:pa55w%%6Frd@%s:3128\n' "$PROXY_IP" >"$T/agent-a.conf"
chmod 600 "$T/agent-a.conf"
agent_in agent-a edge-a a "$TOKA" --config "$T/agent-a.conf" --transport wss --wss-port 443 \
	-R 2280:127.0.0.1:8081
wait_log "$T/agent-a.out" "session up: 2 tunnels" 30
wait_log "$T/agent-a.out" "connected to relay $RELAY_IP:443 over wss \(WebSocket over HTTPS\) via HTTP proxy $PROXY_IP" 5
wait_log "$T/agent-a.out" "connecting to relay $RELAY_IP:443 over wss through HTTP proxy $PROXY_IP:3128 \(from --proxy, with credentials\)" 5
wait_log_count "$T/relay.out" "agent 'a' tunnel [01]/2 from $TOPO_NAT_A_IP:[0-9]+ up on worker [01] \(WebSocket\)" 2 10
[ "$(log_count "$T/tinyproxy.out" "CONNECT.*$RELAY_IP:443")" -ge 2 ] ||
	grep -q "Established connection to host \"$RELAY_IP\"" "$T/tinyproxy.out" ||
	fail "tinyproxy logged no CONNECT to $RELAY_IP:443"
check_ok "agent a up over wss through tinyproxy (Basic auth), 2 WebSocket tunnels on the relay"
fetch "wss via proxy" 2280 "$SHA_A"

# ---- 2. auto without a proxy, TLS port dropped by the firewall
agent_in agent-b edge-b b "$TOKB" --transport auto --wss-port 443 -R 2281:127.0.0.1:8082
wait_log "$T/agent-b.out" "transport auto: tls to relay $RELAY_IP:7000 failed \(no answer within 5 s\); trying wss on port 443" 30
wait_log "$T/agent-b.out" "connected to relay $RELAY_IP:443 over wss \(WebSocket over HTTPS\), chosen by --transport auto after tls failed" 30
wait_log "$T/agent-b.out" "session up: 2 tunnels" 15
check_ok "agent b: auto, TLS to :7000 dropped, fell back to wss and said so"
fetch "auto fallback, no proxy" 2281 "$SHA_B"

# ---- 3. auto with https_proxy from the environment: the proxy refuses :7000
fy_stop agent-a TERM 10
AGENT_ENV="https_proxy=http://ferry:pa55word@$PROXY_IP:3128 no_proxy=example.net,.other" \
	agent_in agent-a2 edge-a a "$TOKA" --transport auto --wss-port 443 -R 2280:127.0.0.1:8081
wait_log "$T/agent-a2.out" "connecting to relay $RELAY_IP:7000 over tls through HTTP proxy $PROXY_IP:3128 \(from https_proxy, with credentials\)" 15
wait_log "$T/agent-a2.out" "transport auto: tls to relay $RELAY_IP:7000 failed \(the proxy refused a tunnel to the relay's port \(HTTP 403\)\); trying wss on port 443" 15
wait_log "$T/agent-a2.out" "connected to relay $RELAY_IP:443 over wss .*via HTTP proxy $PROXY_IP, chosen by --transport auto after tls failed" 15
wait_log "$T/agent-a2.out" "session up: 2 tunnels" 15
check_ok "agent a: https_proxy from the environment, auto: the proxy's 403 for :7000 logged, wss used"
fetch "auto via https_proxy" 2280 "$SHA_A"

# ---- 4. plain TLS from edge-a: blocked
agent_in agent-c edge-a c "$TOKC" --transport tls --proxy none -R 2282:127.0.0.1:8081
wait_log "$T/agent-c.out" "no session within 15 s; retrying" 40
! grep -q "session up" "$T/agent-c.out" || fail "agent c got a session over TLS through the firewall"
fy_stop agent-c TERM 10
check_ok "--transport tls from edge-a: blocked by its firewall, no session"

# ---- 5. a wrong proxy password
agent_in agent-d edge-a c "$TOKC" --transport wss --wss-port 443 \
	--proxy "http://ferry:WrongPass@$PROXY_IP:3128" -R 2282:127.0.0.1:8081
wait_log "$T/agent-d.out" "the proxy wants credentials or refused ours \(HTTP 40[17]\)" 20
! grep -q "session up" "$T/agent-d.out" || fail "agent d got a session with a wrong proxy password"
fy_stop agent-d TERM 10
for f in "$T"/agent-*.out; do
	# (the === lines are this script's own record of the command lines)
	! grep -v '^===' "$f" | grep -Eq "pa55w|WrongPass|ZmVycnk6" ||
		fail "a proxy credential in $(basename "$f")"
done
check_ok "a wrong proxy password: the proxy's refusal (tinyproxy: 401) in the agent's log; no credential in any agent log"

# ---- 5b. a tunnel path the relay does not serve: its 404, said plainly
agent_in agent-e edge-b c "$TOKC" --transport wss --wss-port 443 --wss-path /wrong \
	-R 2282:127.0.0.1:8082
wait_log "$T/agent-e.out" "the relay answered HTTP 404 to the WebSocket upgrade \(a wrong --wss-path" 20
! grep -q "session up" "$T/agent-e.out" || fail "agent e got a session on a wrong path"
fy_stop agent-e TERM 10
check_ok "a wrong --wss-path: the relay's 404 in the agent's log, no session"

# ---- 5c. the same authentication inside: a bad token over wss is refused for good
agent_in agent-f edge-b c "${TOKC}x" --transport wss --wss-port 443 -R 2282:127.0.0.1:8082
wait_log "$T/agent-f.out" "relay refused: token not accepted" 20
for ((i = 0; i < 100; i++)); do fy_alive "${FY_PID[agent-f]}" || break; sleep 0.1; done
rc=0
wait "${FY_PID[agent-f]}" || rc=$?
unset "FY_PID[agent-f]"
[ "$rc" -eq 2 ] || fail "an agent with a bad token over wss exited $rc, want 2"
check_ok "a bad token over wss: 'relay refused: token not accepted', the agent exits 2"

# ---- 6. bad WebSocket input: one log line each, the agents keep serving
wsbad() {
	local kind=$1 code=$2 re=$3 before out
	before=$(log_count "$T/relay.out" "$re")
	out=$(nsx client python3 "$WSBAD" --addr "$RELAY_IP" --port 443 "$kind") ||
		fail "fy_wsbad $kind: $out"
	# A close frame with the code, or (when our unread bytes turned the close into
	# a reset) none: $code is a pattern.
	[[ "$(field close_code "$out")" =~ ^($code)$ ]] || fail "fy_wsbad $kind: $out (want close_code=$code)"
	wait_log_count "$T/relay.out" "$re" $((before + 1)) 10
	[ "$(log_count "$T/relay.out" "$re")" -eq $((before + 1)) ] ||
		fail "$kind: $(log_count "$T/relay.out" "$re") log lines, want $((before + 1))"
	check_ok "bad WebSocket ($kind): closed with $(field close_code "$out"), one log line: $(grep -E "$re" "$T/relay.out" | tail -n 1 | sed 's/.*closed before authentication: //')"
}
wsbad unmasked 1002 "connection from $TOPO_CLIENT_IP:[0-9]+ closed before authentication: WebSocket: a frame breaking RFC 6455"
wsbad oversized "1009|0" "connection from $TOPO_CLIENT_IP:[0-9]+ closed before authentication: WebSocket: a frame over the message size limit"
wsbad text 1003 "connection from $TOPO_CLIENT_IP:[0-9]+ closed before authentication: WebSocket: a text message"
fetch "agent a after bad input" 2280 "$SHA_A"
fetch "agent b after bad input" 2281 "$SHA_B"
fy_alive "${FY_PID[relay]}" || fail "the relay died"
pass
