#!/usr/bin/env bash
# shellcheck disable=SC2119 # lib.sh helpers take optional arguments
# The ingress: services by name over HTTP and HTTPS, TLS passed through by SNI,
# and what bad HTTP input gets.
#
#   curl ─HTTPS web.example.org─▶ relay :HTTPS (certificate *.example.org, test CA)
#   curl ─HTTP /forward/api/...─▶ relay :HTTP            │ by name / path
#   openssl ─TLS secure.example.org─▶ relay :HTTPS ─┐    ▼
#     (passed through untouched)                     ══TLS tunnels══▶ agent a ─▶ web target :WA
#                                                                      │        └▶ openssl s_server :TLS
#                                                                      │           (its own CA)
#                                                    ══════════════▶ agent b ─▶ api target :WB
#   (everything on 127.0.0.1; targets: tests/tools/fy_http.py, HTTP/1.1 with keep-alive)
#
# Checks: two agents by name over HTTPS (sha256 of 1 MiB bodies), X-Forwarded-*
# set by the relay (the client's own dropped), a webhook by path (POST sha256 equal at
# the target, length and chunked), keep-alive across names (three requests on one
# connection, each to the right agent), a WebSocket echo through the ingress, SNI
# passthrough (the target's certificate, from another CA, reaches the client), PROXY
# protocol v2 on a -R port, and bad input: 431, 408 (slow head), 400 (CL+TE), 404,
# 502 (target down, agent gone): each one log line, that connection ends, others work.
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
fy_init 23400

command -v curl >/dev/null || skip "curl is needed"
command -v openssl >/dev/null || skip "openssl is needed"
HTTP_TOOL="$FY_ROOT/tests/tools/fy_http.py"

fy_alloc_port RELAY_PORT
fy_alloc_port HTTP
fy_alloc_port HTTPS
fy_alloc_port WA
fy_alloc_port WB
fy_alloc_port TLS
fy_alloc_port PP
fy_alloc_port PPT

fy_certs
fy_web_certs
TOKA=$(fy_token a "$PP" --names 'web,secure,pi-*')
TOKB=$(fy_token b "$PP" --names api)
mkdir -p "$T/wa" "$T/wb"
head -c 1048576 /dev/urandom >"$T/wa/blob"
head -c 1048576 /dev/urandom >"$T/wb/blob"
SHA_A=$(sha256sum <"$T/wa/blob" | cut -d' ' -f1)
SHA_B=$(sha256sum <"$T/wb/blob" | cut -d' ' -f1)

fy_bg web-a python3 "$HTTP_TOOL" serve --port "$WA" --name a --dir "$T/wa" --timeout 170
fy_bg web-b python3 "$HTTP_TOOL" serve --port "$WB" --name b --dir "$T/wb" --timeout 170
fy_bg ppecho python3 "$HTTP_TOOL" proxyecho --port "$PPT" --timeout 170
fy_bg s_server openssl s_server -accept "127.0.0.1:$TLS" -cert "$T/web/edge.crt" \
	-key "$T/web/edge.key" -www -quiet
wait_log "$T/web-a.out" "^listening port=$WA" 10
wait_log "$T/web-b.out" "^listening port=$WB" 10
wait_log "$T/ppecho.out" "^listening port=$PPT" 10
wait_listen "$TLS" 10

fy_relay_start --http-listen "127.0.0.1:$HTTP" --https-listen "127.0.0.1:$HTTPS" \
	--sni-listen "127.0.0.1:$HTTPS" --domain example.org --https-cert "$T/web/wild.crt" \
	--https-key "$T/web/wild.key" --http-header-timeout-ms 1500
wait_listen "$HTTP" 10
wait_listen "$HTTPS" 10
fy_agent_start a "$TOKA" -H "web:127.0.0.1:$WA" -S "secure:127.0.0.1:$TLS" \
	-R "$PP:127.0.0.1:$PPT,proxy-protocol" -H "other:127.0.0.1:$WA"
fy_agent_start b "$TOKB" -H "Api:127.0.0.1:$WB"
wait_log "$T/relay.log" "agent 'a' claimed HTTP name 'web'" 15
wait_log "$T/relay.log" "agent 'a' claimed TLS name 'secure'" 15
wait_log "$T/relay.log" "agent 'b' claimed HTTP name 'api'" 15
wait_log "$T/agent-a.log" "session up" 15
wait_log "$T/agent-b.log" "session up" 15
wait_log "$T/relay.log" "agent 'a' refused HTTP name 'other': token not allowed to claim name 'other' \(allowed: web,secure,pi-\*\)" 10
check_ok "names claimed; a name the token does not cover is refused with its patterns"

CURL=(curl -sS --max-time 20 --cacert "$T/web/ca.crt" --resolve "web.example.org:$HTTPS:127.0.0.1"
	--resolve "api.example.org:$HTTPS:127.0.0.1" --resolve "example.org:$HTTPS:127.0.0.1"
	--resolve "secure.example.org:$HTTPS:127.0.0.1")

# 1. Two agents by name over HTTPS, bodies by sha256.
got=$("${CURL[@]}" "https://web.example.org:$HTTPS/file/blob" | sha256sum | cut -d' ' -f1)
[ "$got" = "$SHA_A" ] || fail "https://web.example.org: sha256 $got, want $SHA_A"
got=$("${CURL[@]}" "https://API.example.org:$HTTPS/file/blob" | sha256sum | cut -d' ' -f1)
[ "$got" = "$SHA_B" ] || fail "https://api.example.org: sha256 $got, want $SHA_B"
check_ok "HTTPS by name: 1 MiB from agent a and from agent b, sha256 equal"

who=$("${CURL[@]}" -H 'X-Forwarded-For: 6.6.6.6' "https://web.example.org:$HTTPS/who")
case $who in
"agent=a path=/who xff=127.0.0.1 proto=https host=web.example.org:$HTTPS "*) ;;
*) fail "X-Forwarded-* at the target: '$who'" ;;
esac
check_ok "the target sees X-Forwarded-For/-Proto/-Host from the relay, not the client's"

# 2. A webhook by path, plain HTTP and HTTPS, length and chunked bodies.
head -c 3000000 /dev/urandom >"$T/hook"
want=$(sha256sum <"$T/hook" | cut -d' ' -f1)
got=$(curl -sS --max-time 20 --data-binary @"$T/hook" "http://127.0.0.1:$HTTP/forward/api/hook/x?y=1")
[ "$got" = "sha256=$want bytes=3000000 path=/hook/x?y=1" ] || fail "webhook by path: '$got'"
got=$("${CURL[@]}" -H 'Transfer-Encoding: chunked' --data-binary @"$T/hook" \
	"https://example.org:$HTTPS/forward/api/chunked")
[ "$got" = "sha256=$want bytes=3000000 path=/chunked" ] || fail "chunked webhook: '$got'"
got=$(curl -sS --max-time 20 "http://127.0.0.1:$HTTP/forward/web")
[ "$got" = "agent=a path=/" ] || fail "/forward/web is the root: '$got'"
check_ok "webhook by path: 3 MB POST (length and chunked) with the prefix stripped, sha256 equal at the target"

# 3. Keep-alive across names: one connection, three requests, two agents.
out=$(curl -sS --max-time 20 -w 'connects=%{num_connects}\n' "http://127.0.0.1:$HTTP/forward/web/who" \
	"http://127.0.0.1:$HTTP/forward/api/who" "http://127.0.0.1:$HTTP/forward/web/who")
agents=$(grep -o '^agent=[ab]' <<<"$out" | tr '\n' ' ')
[ "$agents" = "agent=a agent=b agent=a " ] || fail "keep-alive across names answered by: $agents ($out)"
[ "$(grep -c '^connects=1$' <<<"$out")" = 1 ] && [ "$(grep -c '^connects=0$' <<<"$out")" = 2 ] ||
	fail "curl did not keep one connection: $(grep connects <<<"$out" | tr '\n' ' ')"
out=$(curl -sS --max-time 20 "http://127.0.0.1:$HTTP/forward/api/who" "http://127.0.0.1:$HTTP/forward/api/who")
c1=$(sed -n '1s/.*conn=//p' <<<"$out")
c2=$(sed -n '2s/.*conn=//p' <<<"$out")
[ -n "$c1" ] && [ "$c1" = "$c2" ] || fail "two requests to one name did not share the target connection: $out"
check_ok "keep-alive: web, api, web on one client connection, each answered by its agent; api twice on one target connection"

# 4. WebSocket through the ingress.
out=$(python3 "$HTTP_TOOL" wsclient --port "$HTTP" --host web.example.org "hello ferry" "second")
[ "$out" = $'echo hello ferry\necho second\nbig ok' ] || fail "websocket: $out"
check_ok "WebSocket upgrade through the ingress: two messages and 200 kB echoed"

# 5. SNI passthrough: the edge's certificate (another CA) reaches the client.
subj=$(openssl s_client -connect "127.0.0.1:$HTTPS" -servername secure.example.org \
	-CAfile "$T/web/eca.crt" </dev/null 2>/dev/null | grep -E '^(subject=|issuer=|Verify return code)' | tr '\n' ';')
case $subj in
*"subject=CN = secure.example.org"*"issuer=CN = ferry-test-eca"*"Verify return code: 0 (ok)"*) ;;
*) fail "SNI passthrough: the client saw '$subj'" ;;
esac
got=$(curl -sS --max-time 20 --cacert "$T/web/eca.crt" --resolve "secure.example.org:$HTTPS:127.0.0.1" \
	"https://secure.example.org:$HTTPS/" | grep -c 's_server' || true)
[ "$got" -ge 1 ] || fail "curl through SNI passthrough got no s_server page"
check_ok "SNI passthrough: the edge's own certificate (edge CA) verified at the client; the relay never terminated it"

# 6. PROXY protocol v2 on a -R port: the target sees the client's address.
out=$(python3 "$HTTP_TOOL" ppclient --port "$PP")
me=$(sed -n 's/^me=\([^ ]*\) .*/\1/p' <<<"$out")
[ "$out" = "me=$me src=$me" ] || fail "PROXY protocol: $out"
check_ok "PROXY protocol v2: the target saw the client's own address ($me)"

# 7. Bad input: one log line each, that connection ends, other routes work.
bad() {	# bad WANT DESC ARGS...: the first line of the answer must be WANT
	local want=$1 desc=$2 before out
	shift 2
	before=$(log_count "$T/relay.log" "(WARN|INFO) relay.ingress")
	out=$(python3 "$HTTP_TOOL" raw --port "$HTTP" "$@")
	[ "$out" = "$want" ] || fail "$desc: answer '$out', want '$want'"
	wait_log_count "$T/relay.log" "(WARN|INFO) relay.ingress" $((before + 1)) 5
	sleep 0.2	# a second line, if any, would be written by now
	[ "$(log_count "$T/relay.log" "(WARN|INFO) relay.ingress")" = $((before + 1)) ] ||
		fail "$desc: $(($(log_count "$T/relay.log" "(WARN|INFO) relay.ingress") - before)) log lines, want 1"
	got=$(curl -sS --max-time 10 -H 'Host: web.example.org' "http://127.0.0.1:$HTTP/who" | cut -d' ' -f1)
	[ "$got" = agent=a ] || fail "after $desc, web no longer answers: '$got'"
	check_ok "$desc: '$want', one log line ($(grep -E "(WARN|INFO) relay.ingress" "$T/relay.log" | tail -n 1 | sed 's/.*relay.ingress //' | cut -c1-90))"
}
big=$(printf 'a%.0s' $(seq 1 20000))
bad "HTTP/1.1 431 Request Header Fields Too Large" "oversized head" \
	"GET / HTTP/1.1\r\nHost: web.example.org\r\nX-Big: $big\r\n\r\n"
bad "HTTP/1.1 408 Request Timeout" "slow head (slowloris)" --hold 0 --wait 10 \
	"GET / HTTP/1.1\r\nHost: web.exa"
bad "HTTP/1.1 400 Bad Request" "Content-Length and Transfer-Encoding" \
	"POST / HTTP/1.1\r\nHost: web.example.org\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
bad "HTTP/1.1 400 Bad Request" "two different Content-Length" \
	"POST / HTTP/1.1\r\nHost: web.example.org\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde"
bad "HTTP/1.1 400 Bad Request" "bad chunk size" \
	"POST / HTTP/1.1\r\nHost: web.example.org\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
bad "HTTP/1.1 404 Not Found" "unknown name" \
	"GET / HTTP/1.1\r\nHost: nosuch.example.org\r\n\r\n"
page=$(curl -sS --max-time 10 -H 'Host: nosuch.example.org' "http://127.0.0.1:$HTTP/")
grep -qiE 'ferry|agent|nosuch|127\.0\.0\.1' <<<"$page" && fail "the 404 page names something internal: $page"
fy_stop web-b
bad "HTTP/1.1 502 Bad Gateway" "agent's target down" \
	"GET / HTTP/1.1\r\nHost: api.example.org\r\n\r\n"
fy_agent_stop b
wait_log "$T/relay.log" "name 'api' released|agent 'b'.*(closed|gone|ended)" 10
bad "HTTP/1.1 502 Bad Gateway" "agent gone" \
	"GET / HTTP/1.1\r\nHost: api.example.org\r\n\r\n"

# The relay is still whole: a last 1 MiB by name.
got=$("${CURL[@]}" "https://web.example.org:$HTTPS/file/blob" | sha256sum | cut -d' ' -f1)
[ "$got" = "$SHA_A" ] || fail "after the bad input: sha256 $got, want $SHA_A"
fy_relay_stop
[ "$FY_RC" -eq 0 ] || fail "relay exit status $FY_RC"
check_ok "relay exits 0 after SIGTERM"
pass
