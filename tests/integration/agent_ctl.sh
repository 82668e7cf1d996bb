#!/usr/bin/env bash
# The agent's local control socket, for scripts on the edge box:
#
#   ferry-agent ctl ──unix socket (0600)──▶ agent 'edge' ══TLS══▶ relay ◀── fy-load recv :PUB
#
# status; a -R opened through the socket is claimed on the relay (fetched by
# sha256) and listed by status and by the relay's admin API; closed, its
# port refuses; a bad spec and a target the relay refuses come back as
# errors with their reasons; nobody but the owner may open the socket.
. "$(dirname "$0")/../lib.sh"
fy_init 26400

fy_alloc_port RELAY_PORT
fy_alloc_port SRC
fy_alloc_port PUB
fy_alloc_port PUB0
fy_certs
TOK=$(fy_token edge "$FY_PORT_BASE-$((FY_PORT_BASE + 99))")
fy_relay_start
N=$((2 * 1024 * 1024))
fy_serve serve-src "$SRC" --mode source --bytes "$N" --seed 3
fy_serve serve-src0 "$((SRC + 50))" --mode source --bytes "$N" --seed 4
SOCK="$T/agent.sock"
fy_agent_start edge "$TOK" --ctl-socket "$SOCK" -R "$PUB0:127.0.0.1:$((SRC + 50))"
wait_log "$T/agent-edge.log" "forwarding relay port $PUB0" 20
actl() { "$AGENT_BIN" ctl --ctl-socket "$SOCK" "$@"; }

[ "$(stat -c %a "$SOCK")" = 600 ] || fail "control socket mode $(stat -c %a "$SOCK"), want 600"
# The session counts as up at the agent's next tick after its last tunnel.
for ((i = 0; i < 50; i++)); do
	out=$(actl status) || fail "status: $out"
	grep -q "^session up" <<<"$out" && break
	sleep 0.1
done
grep -qx "session up (protocol 3, 2 of 2 tunnels up)" <<<"$out" || fail "status: $out"
grep -q "^forward -R $PUB0:127.0.0.1:$((SRC + 50)) up$" <<<"$out" || fail "status lacks the -R: $out"
grep -qx ok <<<"$out" || fail "status without its verdict: $out"
check_ok "status: $(tr '\n' ';' <<<"$out")"

out=$(actl forwards open -R "$PUB:127.0.0.1:$SRC") || fail "open: $out"
case $out in "ok listening on 127.0.0.1:$PUB"*) ;; *) fail "open said: $out" ;; esac
check_ok "forwards open -R $PUB:127.0.0.1:$SRC: $out"
load_ok "2 MiB through the forward opened locally (sha256)" recv --connect "127.0.0.1:$PUB" --bytes "$N" --seed 3 --timeout 60
actl status | grep -q "^forward -R $PUB:127.0.0.1:$SRC up (opened at run time)$" || fail "status after open: $(actl status)"

rc=0
out=$(actl forwards open -R "80:127.0.0.1:$SRC") || rc=$?
case "$rc $out" in "1 error token not allowed to claim port 80"*) ;; *) fail "port 80: $rc $out" ;; esac
check_ok "a port outside the token: $(head -1 <<<"$out")"
actl status | grep -q "^forward -R 80:" && fail "a refused forward was kept"
rc=0
out=$(actl forwards open -R nonsense) || rc=$?
case "$rc $out" in "1 error bad -R 'nonsense'"*) ;; *) fail "bad spec: $rc $out" ;; esac
check_ok "a bad spec: $(head -1 <<<"$out")"

out=$(actl forwards close -R "$PUB:127.0.0.1:$SRC") || fail "close: $out"
case $out in "ok port $PUB is no longer forwarded"*) ;; *) fail "close said: $out" ;; esac
wait_closed "$PUB"
check_ok "forwards close: $out; the port refuses"
rc=0
out=$(actl forwards close -R "$PUB:127.0.0.1:$SRC") || rc=$?
[ "$rc" = 1 ] || fail "closing twice: $out"
check_ok "closing it again: $(head -1 <<<"$out")"

# Another user may not connect (the mode says so; root ignores it, so
# check with an unprivileged user when there is one).
if id nobody >/dev/null 2>&1 && command -v setpriv >/dev/null; then
	if setpriv --reuid=nobody --regid=nogroup --clear-groups "$AGENT_BIN" ctl --ctl-socket "$SOCK" status \
		>"$T/nobody.out" 2>&1; then
		fail "user nobody used the control socket: $(cat "$T/nobody.out")"
	fi
	check_ok "user nobody is refused: $(head -1 "$T/nobody.out")"
fi
pass
