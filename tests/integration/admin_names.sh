#!/usr/bin/env bash
# Names opened and closed at run time, on loopback: the admin API asks a
# connected agent to claim -H NAME (HTTP by Host) and the agent's own
# control socket closes one:
#
#   ferry-relay ctl ──HTTP──▶ relay admin :ADM ── FORWARD on tunnel 0 ──▶ agent 'pi'
#   curl -H 'Host: web.example.org' ──▶ relay :HTTP ══ -H web ══▶ agent 'pi' ──▶ fy_http.py
#
# Checks: a name opened through the API serves a 1 MiB file by sha256; a
# name outside the token's names= and a name on an agent without
# --remote-forwards are refused with their reasons; closing through the
# API makes the ingress answer 404; a name opened and closed through the
# agent's control socket (ferry-agent ctl) is released on the relay too.
. "$(dirname "$0")/../lib.sh"
fy_init 26700
command -v curl >/dev/null || skip "curl is needed"
HTTP_TOOL="$FY_ROOT/tests/tools/fy_http.py"

fy_alloc_port RELAY_PORT
fy_alloc_port ADM
fy_alloc_port HTTP
fy_alloc_port WEB
fy_alloc_port PP
fy_certs
PI_TOK=$(fy_token pi "$PP" --names 'web,pi-*')
NOF_TOK=$(fy_token nof "$PP" --names 'nof')
ADMIN_TOK=$("$RELAY_BIN" token add --tokens "$T/tokens" --admin --id ops 2>>"$T/token.err") ||
	fail "token add --admin failed: $(cat "$T/token.err")"
printf '%s\n' "$ADMIN_TOK" >"$T/admin.token"
chmod 600 "$T/admin.token"

mkdir -p "$T/web"
head -c 1048576 /dev/urandom >"$T/web/blob"
SHA=$(sha256sum <"$T/web/blob" | cut -d' ' -f1)
fy_bg web python3 "$HTTP_TOOL" serve --port "$WEB" --name pi --dir "$T/web" --timeout 170
wait_log "$T/web.out" "^listening port=$WEB" 10

fy_relay_start --workers 2 --http-listen "127.0.0.1:$HTTP" --domain example.org \
	--admin-listen "127.0.0.1:$ADM"
wait_listen "$HTTP" 10
wait_port "$ADM"
ctl() { "$RELAY_BIN" ctl --admin "http://127.0.0.1:$ADM" --token-file "$T/admin.token" "$@"; }
actl() { "$AGENT_BIN" ctl --ctl-socket "$T/pi.sock" "$@"; }
fy_agent_start pi "$PI_TOK" --remote-forwards '127.0.0.1:*' --ctl-socket "$T/pi.sock"
fy_agent_start nof "$NOF_TOK" -R "$PP:127.0.0.1:$WEB"
wait_log "$T/agent-pi.log" "session up" 15
wait_log "$T/agent-nof.log" "session up" 15

# get NAME: the blob through the ingress by Host; prints its sha256, or
# the HTTP status when it is not 200.
get() {
	local code
	code=$(curl -sS --max-time 20 -o "$T/got" -w '%{http_code}' -H "Host: $1.example.org" \
		"http://127.0.0.1:$HTTP/file/blob") || { echo "curl-failed"; return; }
	if [ "$code" = 200 ]; then sha256sum <"$T/got" | cut -d' ' -f1; else echo "$code"; fi
}

[ "$(get web)" = 404 ] || fail "web before any claim: want 404"
out=$(ctl forwards open pi -H "Web:127.0.0.1:$WEB" 2>&1) || fail "open -H web: $out"
grep -qi "web" <<<"$out" || fail "open -H web answered without the name: $out"
wait_log "$T/relay.log" "agent 'pi' claimed HTTP name 'web'" 10
[ "$(get web)" = "$SHA" ] || fail "web after the API opened it: $(get web)"
check_ok "-H web opened through the API (name lowered): 1 MiB by sha256 through the ingress"

actl status | grep -qx "forward -H web:127.0.0.1:$WEB up (opened at run time)" ||
	fail "agent status does not list the name: $(actl status 2>&1)"
check_ok "the agent's status lists '-H web:127.0.0.1:$WEB up (opened at run time)'"
ctl --json agents | python3 -c '
import json, sys
a = {x["name"]: x for x in json.load(sys.stdin)["agents"]}
n = a["pi"]["names"]
assert [(x["name"], x["kind"], x["gone"]) for x in n] == [("web", "http", False)], n
assert [p["port"] for p in a["pi"]["ports"]] == [], a["pi"]["ports"]' || fail "GET /agents names: $(ctl --json agents)"
ctl ports | grep -Eq '^web +http +pi ' || fail "ctl ports does not list web: $(ctl ports)"
ctl agents | grep -Eq '^pi .* web\(http\) ' || fail "ctl agents does not show web(http): $(ctl agents)"
check_ok "GET /agents lists the name (kind http), ctl ports and ctl agents show it"

rc=0
out=$(ctl forwards open pi -H "api:127.0.0.1:$WEB" 2>&1) || rc=$?
[ $rc -ne 0 ] || fail "open -H api outside the token's names= succeeded: $out"
grep -q "may not claim name 'api' (allowed: web,pi-\*)" <<<"$out" || fail "refusal without its reason: $out"
rc=0
out=$(ctl forwards open nof -H "nof:127.0.0.1:$WEB" 2>&1) || rc=$?
[ $rc -ne 0 ] || fail "an agent without --remote-forwards took a name: $out"
grep -q "without --remote-forwards" <<<"$out" || fail "refusal without its reason: $out"
[ "$(get nof)" = 404 ] || fail "nof is routed although its agent refused"
check_ok "refused: a name outside names= (relay), an agent that did not opt in (agent)"

out=$(ctl forwards close pi -H "web:127.0.0.1:$WEB" 2>&1) || fail "close -H web: $out"
wait_log "$T/relay.log" "name 'web' released \\(agent 'pi'\\)" 10
[ "$(get web)" = 404 ] || fail "web after close: want 404, got $(get web)"
check_ok "closed through the API: the relay releases it, the ingress answers 404"

out=$(actl forwards open -H "pi-box:127.0.0.1:$WEB" 2>&1) || fail "agent ctl open -H pi-box: $out"
wait_log "$T/relay.log" "agent 'pi' claimed HTTP name 'pi-box'" 10
[ "$(get pi-box)" = "$SHA" ] || fail "pi-box opened locally: $(get pi-box)"
out=$(actl forwards close -H "pi-box:127.0.0.1:$WEB" 2>&1) || fail "agent ctl close -H pi-box: $out"
wait_log "$T/relay.log" "agent 'pi' closed '-H pi-box:127.0.0.1:$WEB' itself" 10
[ "$(get pi-box)" = 404 ] || fail "pi-box after the agent closed it: want 404, got $(get pi-box)"
check_ok "opened and closed on the agent's control socket: routed, then released on the relay (404)"

fy_agent_stop pi
fy_agent_stop nof
fy_relay_stop
pass
