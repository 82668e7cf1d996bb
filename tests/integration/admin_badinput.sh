#!/usr/bin/env bash
# The admin listener under bad input: each bad request gets its error
# answer and ends only its own connection; the relay keeps serving.
#
#   curl / python3 sockets ──HTTP──▶ relay admin :ADM (--admin-timeout-ms 1000)
#
# huge headers -> 431, slow headers -> 408 after the timeout, unknown path
# -> 404, bad JSON -> 400, wrong method -> 405, a body over the limit ->
# 413, garbage -> 400, more connections than the cap -> closed; then
# /healthz and an authorized request still answer, and the relay logged
# each bad request.
. "$(dirname "$0")/../lib.sh"
fy_init 26100
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
command -v curl >/dev/null || skip "curl is needed"

fy_alloc_port RELAY_PORT
fy_alloc_port ADM
fy_certs
fy_token a "$FY_PORT_BASE-$((FY_PORT_BASE + 99))" >/dev/null
TOK=$("$RELAY_BIN" token add --tokens "$T/tokens" --admin 2>/dev/null) || fail "token add --admin"
fy_relay_start --admin-listen "127.0.0.1:$ADM" --admin-timeout-ms 1000
wait_port "$ADM"
API="http://127.0.0.1:$ADM"
AUTH="Authorization: Bearer $TOK"
code() { curl -s -o "$T/body" -w '%{http_code}' --max-time 10 "$@"; }
want() {
	local w=$1 desc=$2 got
	shift 2
	got=$(code "$@") || true
	[ "$got" = "$w" ] || fail "$desc: HTTP $got, want $w ($(head -c 300 "$T/body"))"
	check_ok "$desc: $w $(head -c 120 "$T/body")"
}

big=$(head -c 20000 /dev/zero | tr '\0' a)
want 431 "20 KB header" -H "$AUTH" -H "X-Big: $big" "$API/agents"
want 431 "200 headers" -H "$AUTH" $(for i in $(seq 200); do printf -- '-H X-%s:1 ' "$i"; done) "$API/agents"
want 404 "unknown path" -H "$AUTH" "$API/nothing/here"
want 404 "unknown agent" -H "$AUTH" "$API/agents/nobody"
want 405 "wrong method" -X PUT -H "$AUTH" "$API/agents"
want 405 "POST /metrics" -X POST -H "$AUTH" "$API/metrics"
want 400 "bad JSON" -X POST -H "$AUTH" -d '{"spec": ' "$API/agents/a/forwards"
want 400 "JSON without a spec" -X POST -H "$AUTH" -d '[1,2]' "$API/agents/a/forwards"
want 400 "a spec that does not parse" -X POST -H "$AUTH" -d '{"spec":"-R nonsense"}' "$API/agents/a/forwards"
want 404 "a forward for an agent not connected" -X POST -H "$AUTH" -d '{"spec":"-R 26150:127.0.0.1:1"}' "$API/agents/a/forwards"
head -c 40000 /dev/zero | tr '\0' x >"$T/big.json"
want 413 "40 KB body" -X POST -H "$AUTH" --data-binary @"$T/big.json" "$API/agents/a/forwards"

# Raw sockets: garbage, and headers that never end (slow client).
"$PY" - "$ADM" <<'PY' >"$T/raw.out" 2>&1 || fail "raw requests: $(cat "$T/raw.out")"
import socket, sys, time
port = int(sys.argv[1])
def ask(data, wait=None):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(data)
    if wait:
        time.sleep(wait)
    got = b""
    while True:
        b = s.recv(4096)
        if not b:
            break
        got += b
    s.close()
    return got.split(b"\r\n", 1)[0].decode()
line = ask(b"\x16\x03\x01\x02\x00garbage\r\n\r\n")
assert line.startswith("HTTP/1.1 400"), line
print("garbage:", line)
t = time.time()
line = ask(b"GET /agents HTTP/1.1\r\nHost: x\r\nX-Slow: ")
took = time.time() - t
assert line.startswith("HTTP/1.1 408"), line
print("slow headers:", line, "after %.1f s" % took)
PY
check_ok "raw: $(tr '\n' ';' <"$T/raw.out")"

# More connections than the cap (64): the extra ones are closed, the
# listener goes on.
"$PY" - "$ADM" <<'PY' >"$T/cap.out" 2>&1 || fail "connection cap: $(cat "$T/cap.out")"
import socket, sys, time
port = int(sys.argv[1])
socks, failed = [], 0
for _ in range(80):
    try:
        socks.append(socket.create_connection(("127.0.0.1", port), timeout=10))
    except OSError:
        failed += 1		# refused or reset while the server sheds: over the cap too
open_, closed = 0, 0
for s in socks:
    s.settimeout(2)
    try:
        if s.recv(1) == b"":
            closed += 1
        else:
            open_ += 1
    except socket.timeout:
        open_ += 1		# held: within the cap, waiting for its request
    except ConnectionResetError:
        closed += 1
for s in socks:
    s.close()
assert open_ <= 64 and closed + failed >= 16, (open_, closed, failed)
print("%d held, %d over the cap closed (%d more not let in)" % (open_, closed, failed))
PY
check_ok "$(cat "$T/cap.out")"

want 200 "/healthz after all that" "$API/healthz"
want 200 "an authorized request after all that" -H "$AUTH" "$API/agents"
fy_alive "$FY_RELAY_PID" || fail "the relay died"
wait_log "$T/relay.log" "bad request \(431\)" 5
wait_log "$T/relay.log" "no complete request within 1000 ms" 5
check_ok "the relay logged the bad requests and kept running"
pass
