#!/usr/bin/env bash
# The relay's admin API, end to end, on loopback:
#
#   curl / ferry-relay ctl ──HTTP──▶ relay admin :ADM (and admin.sock)
#                                      │ FORWARD on tunnel 0
#   fy-load recv ──TCP──▶ relay :PUB ◀═╪══ agent 'pi'  (--remote-forwards 127.0.0.1:*) ──▶ fy-load source
#                                      └══ agent 'nof' (no --remote-forwards, --allow for pi's -L)
#
# Forwards opened on a connected agent through the API (-R, fetched by
# sha256; -L into the other agent), closed (the port refuses), kept across
# a reconnect; refusals with their reasons (agent not opted in, port
# outside the token, -L beyond reach=, -H beyond names=, -W); admin tokens vs agent tokens
# both ways; /metrics parsed by prometheus_client with counters that move;
# ferry-relay ctl's text and --json; the unix socket (0600); reload; kick.
. "$(dirname "$0")/../lib.sh"
fy_init 26000
# Debian's python3 (a python3 earlier on PATH may lack the Debian modules).
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

"$PY" -c 'import prometheus_client.parser' 2>/dev/null ||
	skip "python3-prometheus-client is not installed (scripts/deps.sh test)"
command -v curl >/dev/null || skip "curl is needed"

fy_alloc_port RELAY_PORT
fy_alloc_port ADM
fy_alloc_port SRC
fy_alloc_port PUB
fy_alloc_port PUB2
fy_alloc_port LOC
fy_certs
PI_TOK=$(fy_token pi "$FY_PORT_BASE-$((FY_PORT_BASE + 99))" --reach nof)
NOF_TOK=$(fy_token nof "$FY_PORT_BASE-$((FY_PORT_BASE + 99))")
ADMIN_TOK=$("$RELAY_BIN" token add --tokens "$T/tokens" --admin --id ops 2>>"$T/token.err") ||
	fail "token add --admin failed: $(cat "$T/token.err")"
grep -q '^ops sha256:[0-9a-f]* kind=admin$' "$T/tokens" || fail "admin token line: $(grep ops "$T/tokens")"
printf '%s\n' "$ADMIN_TOK" >"$T/admin.token"
chmod 600 "$T/admin.token"
check_ok "token add --admin wrote 'ops sha256:... kind=admin'"

fy_relay_start --workers 2 --admin-listen "127.0.0.1:$ADM" --admin-socket "$T/admin.sock"
wait_port "$ADM"
API="http://127.0.0.1:$ADM"
ctl() { "$RELAY_BIN" ctl --admin "$API" --token-file "$T/admin.token" "$@"; }

N=$((4 * 1024 * 1024))
fy_serve serve-src "$SRC" --mode source --bytes "$N" --seed 7
fy_agent_start pi "$PI_TOK" --remote-forwards '127.0.0.1:*' --backoff-min-ms 100 --backoff-max-ms 500
fy_agent_start nof "$NOF_TOK" --allow "127.0.0.1:$SRC"

# agents NAME...: poll until each is listed with all its tunnels.
wait_agents() {
	local i
	for ((i = 0; i < 100; i++)); do
		if ctl --json agents 2>/dev/null | "$PY" -c '
import json, sys
a = {x["name"]: x for x in json.load(sys.stdin)["agents"]}
sys.exit(0 if all(n in a and a[n]["tunnels"] == a[n]["tunnels_expected"] for n in sys.argv[1:]) else 1)' "$@"; then
			return 0
		fi
		sleep 0.1
	done
	fail "agents $* not all connected after 10s: $(ctl agents 2>&1)"
}
wait_agents pi nof
check_ok "both agents listed by GET /agents"

# ---- who may ask
code() { curl -s -o "$T/body" -w '%{http_code}' "$@"; }
[ "$(code "$API/agents")" = 401 ] || fail "no token: want 401, got $(cat "$T/body")"
[ "$(code -H "Authorization: Bearer fyt_wrong" "$API/agents")" = 401 ] || fail "wrong token: want 401"
[ "$(code -H "Authorization: Bearer $PI_TOK" "$API/agents")" = 403 ] ||
	fail "agent token: want 403, got $(cat "$T/body")"
grep -q 'agent token cannot use the admin API' "$T/body" || fail "403 without its reason: $(cat "$T/body")"
[ "$(code "$API/healthz")" = 200 ] || fail "/healthz without a token: want 200"
[ "$(code "$API/readyz")" = 200 ] || fail "/readyz: want 200, got $(cat "$T/body")"
check_ok "no token, a wrong one: 401; an agent token: 403 with the reason; probes open"
rc=0
timeout 20 "$AGENT_BIN" --relay "127.0.0.1:$RELAY_PORT" --token "$ADMIN_TOK" --ca "$T/pki/ca.crt" \
	--name pi2 -R "$PUB2:127.0.0.1:$SRC" >"$T/agent-admin.log" 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "an agent with the admin token: exit $rc, want 2 (refused)"
grep -q 'admin token' "$T/agent-admin.log" || fail "the refusal does not say why: $(tail -2 "$T/agent-admin.log")"
check_ok "the tunnel listener refuses the admin token: $(grep -o 'token not accepted[^"]*' "$T/agent-admin.log" | head -1)"

# ---- metrics before any traffic
scrape() {
	curl -sf -H "Authorization: Bearer $ADMIN_TOK" "$API/metrics" >"$T/metrics.$1" ||
		fail "GET /metrics failed"
}
# metric FILE NAME [LABEL=VALUE]: the sample's value, through the real parser.
metric() {
	"$PY" - "$@" <<'PY'
import sys
from prometheus_client.parser import text_string_to_metric_families
path, name = sys.argv[1], sys.argv[2]
want = dict(a.split("=", 1) for a in sys.argv[3:])
for fam in text_string_to_metric_families(open(path).read()):
    for s in fam.samples:
        if s.name == name and all(s.labels.get(k) == v for k, v in want.items()):
            print(int(s.value) if s.value == int(s.value) else s.value)
            sys.exit(0)
print("missing")
PY
}
scrape 0
families=$("$PY" -c '
import sys
from prometheus_client.parser import text_string_to_metric_families
print(len(list(text_string_to_metric_families(open(sys.argv[1]).read()))))' "$T/metrics.0") ||
	fail "prometheus_client cannot parse /metrics: $(head -5 "$T/metrics.0")"
for m in ferry_sessions ferry_tunnels ferry_tls_handshakes_total ferry_buffer_memory_bytes \
	process_open_fds ferry_join_opened_total ferry_udp_flows_opened_total; do
	[ "$(metric "$T/metrics.0" $m)" != missing ] || fail "/metrics lacks $m"
done
[ "$(metric "$T/metrics.0" ferry_sessions)" = 2 ] || fail "ferry_sessions: $(metric "$T/metrics.0" ferry_sessions), want 2"
[ "$(metric "$T/metrics.0" ferry_worker_busy_ratio worker=1)" != missing ] || fail "no busy ratio for worker 1"
[ "$(metric "$T/metrics.0" ferry_auth_refused_total reason=admin_token)" = 1 ] ||
	fail "auth refused (admin_token): $(metric "$T/metrics.0" ferry_auth_refused_total reason=admin_token), want 1"
in0=$(metric "$T/metrics.0" ferry_agent_received_bytes_total agent=pi)
check_ok "/metrics parses ($families families, $(wc -c <"$T/metrics.0") bytes); 2 sessions; pi received $in0 bytes"

# ---- open a forward on pi through the API, fetch through it
t0=$(date +%s%N)
out=$(ctl forwards open pi -R "$PUB:127.0.0.1:$SRC") || fail "forwards open: $out"
t1=$(date +%s%N)
case $out in *"listening on 127.0.0.1:$PUB"*) ;; *) fail "forwards open said: $out" ;; esac
check_ok "ctl forwards open pi -R $PUB:127.0.0.1:$SRC: '$out' ($(((t1 - t0) / 1000000)) ms with the ctl process)"
wait_port "$PUB"
load_ok "4 MiB through the opened forward (sha256)" recv --connect "127.0.0.1:$PUB" --bytes "$N" --seed 7 --timeout 60
# Counters are published once a worker tick (100 ms): poll.
for ((i = 0; i < 50; i++)); do
	scrape 1
	in1=$(metric "$T/metrics.1" ferry_agent_received_bytes_total agent=pi)
	[ "$in1" != missing ] && [ "$in1" -ge $((in0 + N)) ] && break
	sleep 0.1
done
[ "$in1" -ge $((in0 + N)) ] || fail "pi's received bytes went from $in0 to $in1, want +$N"
op=$(metric "$T/metrics.1" ferry_streams_opened_total)
[ "$op" -ge 1 ] || fail "ferry_streams_opened_total $op"
[ "$(metric "$T/metrics.1" ferry_forwards_opened_total)" = 1 ] || fail "ferry_forwards_opened_total"
check_ok "/metrics moved with the traffic: pi received $in0 -> $in1 bytes, $op stream(s) opened"

# ---- ctl output, text and JSON
ctl agents >"$T/agents.txt" || fail "ctl agents failed"
grep -Eq "^pi +127\.0\.0\.1:[0-9]+ .* $PUB " "$T/agents.txt" || fail "ctl agents: $(cat "$T/agents.txt")"
ctl --json agents | "$PY" -c '
import json, sys
a = {x["name"]: x for x in json.load(sys.stdin)["agents"]}
p = a["pi"]
assert [x["port"] for x in p["ports"]] == [int(sys.argv[1])], p["ports"]
assert p["protocol"] == 3 and p["tunnels"] == 2 and p["bytes_in"] >= int(sys.argv[2]), p
assert a["nof"]["ports"] == [], a["nof"]' "$PUB" "$N" || fail "ctl --json agents: $(ctl --json agents)"
ctl ports | grep -Eq "^$PUB +tcp +pi " || fail "ctl ports: $(ctl ports)"
ctl --json ports | "$PY" -c '
import json, sys
p = json.load(sys.stdin)["ports"]
assert {(x["port"], x["agent"]) for x in p} == {(int(sys.argv[1]), "pi")}, p' "$PUB" || fail "ctl --json ports"
[ "$(stat -c %a "$T/admin.sock")" = 600 ] || fail "admin socket mode $(stat -c %a "$T/admin.sock")"
"$RELAY_BIN" ctl --admin-socket "$T/admin.sock" --token-file "$T/admin.token" agent pi | grep -q '^pi ' ||
	fail "ctl over the unix socket"
check_ok "ctl agents/ports as text and --json (checked with python's json); the unix socket (0600) answers"

# ---- streams per agent, paged: 3 held client connections on pi's port
fy_bg hold "$LOAD" hold --connect "127.0.0.1:$PUB" --conns 3 --no-read --expect any --duration 30 --timeout 40
for ((i = 0; i < 100; i++)); do
	ctl --json streams pi >"$T/streams.json" 2>/dev/null &&
		"$PY" -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["total"] >= 3 else 1)' \
			"$T/streams.json" && break
	sleep 0.1
done
"$PY" - "$T/streams.json" "$PUB" <<'PYS' || fail "GET /agents/pi/streams: $(cat "$T/streams.json")"
import json, sys
d = json.load(open(sys.argv[1]))
cl = [s for s in d["streams"] if s["kind"] == "client" and s["port"] == int(sys.argv[2])]
assert d["agent"] == "pi" and len(cl) >= 3, d
assert all(s["peer"].startswith("127.0.0.1:") for s in cl), cl
PYS
page=$(ctl --json streams pi 1 1 | "$PY" -c 'import json,sys; d=json.load(sys.stdin); print(len(d["streams"]), d["offset"], d["limit"], d["total"])')
case $page in "1 1 1 "[3-9]*) ;; *) fail "a page of one stream from offset 1: $page" ;; esac
ctl streams pi | grep -Eq "^[0-9]+ +[0-9]+ +[0-9]+ +client +$PUB +127\.0\.0\.1:" || fail "ctl streams: $(ctl streams pi)"
fy_stop hold
check_ok "GET /agents/pi/streams lists the 3 held clients (kind, port, peer); paged: $page"

# ---- refusals, with reasons
rc=0
err=$(ctl forwards open nof -R "$PUB2:127.0.0.1:$SRC" 2>&1) || rc=$?
[ $rc = 1 ] || fail "nof opened a forward without --remote-forwards: $err"
case $err in *"without --remote-forwards"*"HTTP 403"*) ;; *) fail "nof's refusal: $err" ;; esac
check_ok "an agent without --remote-forwards refuses: $err"
rc=0
err=$(ctl forwards open pi -R "80:127.0.0.1:$SRC" 2>&1) || rc=$?
case "$rc $err" in "1 "*"may not claim port 80"*"HTTP 403"*) ;; *) fail "port 80: $err" ;; esac
check_ok "outside the token's ports, the relay refuses: $err"
rc=0
err=$(ctl forwards open pi -R "$PUB2:10.9.9.9:22" 2>&1) || rc=$?
case "$rc $err" in "1 "*"not on this agent's --remote-forwards list"*) ;; *) fail "allowlist: $err" ;; esac
check_ok "outside pi's --remote-forwards list, pi refuses: $err"
[ "$(code -X POST -H "Authorization: Bearer $ADMIN_TOK" -d '{"spec":"-H web:127.0.0.1:80"}' \
	"$API/agents/pi/forwards")" = 403 ] || fail "-H: want 403, got $(cat "$T/body")"
grep -q "may not claim name 'web' (allowed: none)" "$T/body" || fail "-H refusal: $(cat "$T/body")"
check_ok "-H beyond the token's names= (none) is refused with 403: $(cat "$T/body")"
[ "$(code -X POST -H "Authorization: Bearer $ADMIN_TOK" -d '{"spec":"-W pi:127.0.0.1:80"}' \
	"$API/agents/pi/forwards")" = 400 ] || fail "-W: want 400, got $(cat "$T/body")"
check_ok "-W (the agent's own) is refused with 400: $(cat "$T/body")"
rc=0
err=$(ctl forwards open nof -L "$LOC:pi:127.0.0.1:$SRC" 2>&1) || rc=$?
case "$rc $err" in "1 "*"does not reach agent 'pi'"*) ;; *) fail "reach: $err" ;; esac
check_ok "an -L beyond the token's reach=: $err"

# ---- -L on pi into nof's network
out=$(ctl forwards open pi -L "$LOC:nof:127.0.0.1:$SRC") || fail "-L open: $out"
wait_port "$LOC"
load_ok "4 MiB through the opened -L (pi -> nof -> source)" recv --connect "127.0.0.1:$LOC" --bytes "$N" --seed 7 --timeout 60
ctl forwards close pi -L "$LOC:nof:127.0.0.1:$SRC" >/dev/null || fail "-L close"
wait_closed "$LOC"
check_ok "-L opened ('$out') and closed on pi"

# ---- a reconnect keeps the forward; close makes the port refuse
ctl kick pi | grep -q "disconnected" || fail "kick pi"
wait_log "$T/agent-pi.log" "relay closed tunnel|relay closed the connection" 10
wait_log_count "$T/agent-pi.log" "session up" 2 20
wait_port "$PUB" 20
load_ok "the forward is back after a reconnect" recv --connect "127.0.0.1:$PUB" --bytes "$N" --seed 7 --timeout 60
out=$(ctl forwards close pi -R "$PUB:127.0.0.1:$SRC") || fail "forwards close: $out"
wait_closed "$PUB"
fy_can_connect "$PUB" && fail "port $PUB still accepts after the close"
ctl --json ports | "$PY" -c 'import json,sys; assert json.load(sys.stdin)["ports"] == []' ||
	fail "ports after close: $(ctl ports)"
check_ok "kick, reconnect, forward kept; closed: '$out', the port refuses"

# ---- reload
ctl reload | grep -qx reloaded || fail "ctl reload"
wait_log "$T/relay.log" "token\(s\) loaded" 5
check_ok "ctl reload"
pass
