#!/usr/bin/env bash
# The status page, in a real headless browser:
#
#   chromium --headless ──HTTP──▶ relay admin :ADM  /  (page), /agents, /ports, /metrics (its script)
#   agent 'pi-page' ══TLS══▶ relay, holding one port
#
# The page's script must have fetched the API with the token from the
# address (#token=...) and rendered the agent's name and port into the DOM
# (--dump-dom after --virtual-time-budget); the screenshot is kept as an
# artifact: build*/test-artifacts/admin_status.png.
. "$(dirname "$0")/../lib.sh"
fy_init 26200

CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
[ -n "$CHROMIUM" ] || skip "chromium is not installed (scripts/deps.sh test)"

fy_alloc_port RELAY_PORT
fy_alloc_port ADM
fy_alloc_port SRC
fy_alloc_port PUB
fy_certs
TOK=$(fy_token pi-page "$FY_PORT_BASE-$((FY_PORT_BASE + 99))")
ADMIN_TOK=$("$RELAY_BIN" token add --tokens "$T/tokens" --admin 2>/dev/null) || fail "token add --admin"
fy_relay_start --admin-listen "127.0.0.1:$ADM"
wait_port "$ADM"
fy_serve serve-echo "$SRC" --mode echo
fy_agent_start pi-page "$TOK" -R "$PUB:127.0.0.1:$SRC"
wait_log "$T/agent-pi-page.log" "forwarding relay port $PUB" 20

# Chromium as root needs --no-sandbox; its profile stays in $T.
browse() {
	timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run \
		--user-data-dir="$T/chromium" --virtual-time-budget=8000 --window-size=1200,800 \
		"$@" "http://127.0.0.1:$ADM/#token=$ADMIN_TOK" 2>>"$T/chromium.err"
}
browse --dump-dom >"$T/dom.html" || fail "chromium --dump-dom failed: $(tail -3 "$T/chromium.err")"
grep -q '<td>pi-page</td>' "$T/dom.html" || fail "the page did not render the agent: $(grep -o '<tbody id="agents">.\{0,300\}' "$T/dom.html")"
grep -q "<td class=\"n\">$PUB</td>" "$T/dom.html" || fail "the page did not render port $PUB"
grep -q 'ferry_sessions' "$T/dom.html" || fail "the page did not render the counters"
check_ok "the page rendered agent pi-page, port $PUB and the counters from the API"
browse --screenshot="$T/admin_status.png" >/dev/null || fail "chromium --screenshot failed: $(tail -3 "$T/chromium.err")"
[ -s "$T/admin_status.png" ] || fail "no screenshot"
art="$FY_BUILD/test-artifacts"
mkdir -p "$art"
cp "$T/admin_status.png" "$art/admin_status.png"
check_ok "screenshot kept: $art/admin_status.png ($(wc -c <"$art/admin_status.png") bytes)"
# Without a token the page asks for one instead of showing data.
timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run \
	--user-data-dir="$T/chromium2" --virtual-time-budget=5000 --dump-dom \
	"http://127.0.0.1:$ADM/" >"$T/dom2.html" 2>>"$T/chromium.err" || fail "chromium (no token)"
grep -q '<td>pi-page</td>' "$T/dom2.html" && fail "the page showed data without a token"
grep -q 'admin token needed' "$T/dom2.html" || fail "the page without a token does not ask for one"
check_ok "without a token the page shows no data and asks for one"
pass
