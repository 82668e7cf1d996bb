#!/usr/bin/env bash
# shellcheck disable=SC2119 # lib.sh helpers take optional arguments
# The ingress on the DPDK relay: its own TCP stack terminates the HTTP, HTTPS and
# SNI connections, the relay core routes them by name (the same code as on kernel
# sockets).
#
#   client ns (CIP)                      relay ns (RIP)                        edge ns, behind NAT
#   curl ─HTTPS web.example.org─▶ :HTTPS ─┐                                    ferry-agent
#   curl ─HTTP /forward/web/...─▶ :HTTP  ─┼─ ferry-relay --backend dpdk ◀══TLS══ -H web ─▶ fy_http.py serve
#   openssl ─TLS secure.example.org─▶    ─┘  (net_af_packet)                    -S secure ─▶ openssl s_server
#
# Checks: 4 MiB by name over HTTPS (sha256), a 2 MB webhook POST by path (sha256 at the
# target), keep-alive across two requests, SNI passthrough with the edge's own
# certificate, a 404 and a 431 with one log line each; agents' WebSocket tunnels
# refused with 501 (and said so at start).
# Needs root (namespaces), a build with DPDK, curl, python3, openssl.
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=SCRIPTDIR/../lib_dpdk.sh
. "$(dirname "$0")/../lib_dpdk.sh"
fy_init 23500
dp_require
for t in curl python3 openssl; do
	command -v "$t" >/dev/null || fail "$t is needed (scripts/deps.sh installs it)"
done
HTTP_TOOL="$FY_ROOT/tests/tools/fy_http.py"

dp_topology3 10.94 fh
fy_alloc_port WEB
fy_alloc_port TLS
fy_alloc_port HTTP
fy_alloc_port HTTPS
E=(ip netns exec "$NSE")
C=(ip netns exec "$NSC")

dp_certs
fy_web_certs
d=$T/web
TOK=$(fy_token edge "$FY_PORT_RANGE" --names web,secure)

mkdir -p "$T/www"
"$LOAD" gen --bytes 4M --seed 7 >"$T/www/blob"
fy_bg web "${E[@]}" python3 "$HTTP_TOOL" serve --port "$WEB" --name edge --dir "$T/www" --timeout 170
fy_bg s_server "${E[@]}" openssl s_server -accept "127.0.0.1:$TLS" -cert "$d/edge.crt" \
	-key "$d/edge.key" -www -quiet
wait_log "$T/web.out" "^listening port=$WEB" 10

dp_relay_start --workers 1 --log-level info --http-listen "0.0.0.0:$HTTP" \
	--https-listen "0.0.0.0:$HTTPS" --sni-listen "0.0.0.0:$HTTPS" --domain example.org \
	--https-cert "$d/wild.crt" --https-key "$d/wild.key"
dp_relay_wait_up
"${E[@]}" "$AGENT_BIN" --relay "$RIP:$RELAY_PORT" --token "$TOK" --ca "$T/pki/ca.crt" --name edge \
	--io "$FY_AGENT_IO" --log-level debug -H "web:127.0.0.1:$WEB" -S "secure:127.0.0.1:$TLS" \
	>>"$T/agent-edge.log" 2>&1 &
FY_PID[agent-edge]=$!
wait_log_count "$T/agent-edge.log" "forwarding (HTTP|TLS) name" 2 20
check_ok "DPDK relay up; the edge's agent claimed 'web' (HTTP) and 'secure' (TLS)"

want=$(sha256sum <"$T/www/blob" | cut -d' ' -f1)
got=$("${C[@]}" curl -sS --max-time 60 --cacert "$d/ca.crt" --resolve "web.example.org:$HTTPS:$RIP" \
	"https://web.example.org:$HTTPS/file/blob" | sha256sum | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "HTTPS by name through DPDK: sha256 $got, want $want"
check_ok "4 MiB over HTTPS by name, terminated on the DPDK relay: sha256 equal"

"$LOAD" gen --bytes 2000000 --seed 8 >"$T/hook"
want=$(sha256sum <"$T/hook" | cut -d' ' -f1)
got=$("${C[@]}" curl -sS --max-time 60 --data-binary @"$T/hook" "http://$RIP:$HTTP/forward/web/hook")
[ "$got" = "sha256=$want bytes=2000000 path=/hook" ] || fail "webhook by path through DPDK: '$got'"
out=$("${C[@]}" curl -sS --max-time 30 -w 'connects=%{num_connects}\n' "http://$RIP:$HTTP/forward/web/who" \
	"http://$RIP:$HTTP/forward/web/who")
[ "$(grep -c '^agent=edge path=/who xff=' <<<"$out")" = 2 ] && [ "$(grep -c '^connects=0$' <<<"$out")" = 1 ] ||
	fail "keep-alive through DPDK: $out"
grep -q "xff=$CIP " <<<"$out" || fail "X-Forwarded-For is not the client's address $CIP: $out"
check_ok "webhook by path (2 MB POST, sha256 at the target); keep-alive; X-Forwarded-For $CIP"

subj=$("${C[@]}" openssl s_client -connect "$RIP:$HTTPS" -servername secure.example.org \
	-CAfile "$d/eca.crt" </dev/null 2>/dev/null | grep -E '^(subject=|Verify return code)' | tr '\n' ';')
case $subj in
*"subject=CN = secure.example.org"*"Verify return code: 0 (ok)"*) ;;
*) fail "SNI passthrough through DPDK: the client saw '$subj'" ;;
esac
check_ok "SNI passthrough through DPDK: the edge's certificate verified at the client"

for case in "404 Not Found|GET / HTTP/1.1\r\nHost: nosuch.example.org\r\n\r\n" \
	"431 Request Header Fields Too Large|GET / HTTP/1.1\r\nHost: web.example.org\r\nX: $(printf 'b%.0s' $(seq 1 20000))\r\n\r\n"; do
	st=${case%%|*}
	before=$(log_count "$T/relay.log" "WARN relay.ingress")
	out=$("${C[@]}" python3 "$HTTP_TOOL" raw --port "$HTTP" --host-addr "$RIP" "${case#*|}")
	[ "$out" = "HTTP/1.1 $st" ] || fail "through DPDK: answer '$out', want 'HTTP/1.1 $st'"
	wait_log_count "$T/relay.log" "WARN relay.ingress" $((before + 1)) 5
	check_ok "through DPDK: $st, one log line"
done
# Agents over WebSocket (--transport wss) are not served on DPDK: the relay says so
# at start, and an agent's upgrade gets a 501 (one log line), not a tunnel.
grep -q "agents' WebSocket tunnels (--transport wss) are not served on the dpdk backend" \
	"$T/relay.log" || fail "the DPDK relay did not say at start that it serves no wss tunnels"
before=$(log_count "$T/relay.log" "WARN relay.ingress")
out=$("${C[@]}" python3 "$HTTP_TOOL" raw --port "$HTTPS" --host-addr "$RIP" --tls-host \
	relay.example.org --cafile "$d/ca.crt" "GET /_ferry/tunnel HTTP/1.1\r\nHost: relay.example.org\r\n\
Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: ferry\r\n\r\n")
[ "$out" = "HTTP/1.1 501 Not Implemented" ] || fail "a wss upgrade on DPDK: '$out', want 501"
wait_log_count "$T/relay.log" "WARN relay.ingress" $((before + 1)) 5
check_ok "a wss upgrade on DPDK: said at start, answered 501 Not Implemented, one log line"
dp_relay_stop_ok
pass
