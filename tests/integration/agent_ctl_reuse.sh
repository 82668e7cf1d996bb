#!/usr/bin/env bash
# shellcheck disable=SC2119 # lib.sh helpers take optional arguments
# A forward opened at run time, closed before the relay's answer to its claim came
# back, and another opened right after: the second must get its own answer, not the
# first one's (which took its slot in the agent's list).
#
#   3 control connections ──unix socket──▶ agent 'edge' ══TLS══▶ relay ◀── fy-load :OK
#
# The agent is stopped (SIGSTOP) while three requests are written on three control
# connections it has accepted, so that it reads them in one turn, in order:
#   1. open -R BAD:...   (a port outside the token's: the relay will refuse it)
#   2. close -R BAD:...  (before the relay's answer)
#   3. open -R OK:...    (in the slot 1 left)
# Then: 3 is answered with its own claim ("ok ... listening on ...:OK"), the agent's
# status lists -R OK up, and a connection to OK is carried to the target (sha256).
# The agent's event loop is epoll here: its ready list keeps the order of the writes.
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
fy_init 26900
FY_AGENT_IO=epoll

fy_alloc_port RELAY_PORT
fy_alloc_port SRC
fy_alloc_port OK
BAD=$((FY_PORT_BASE + 150))	# outside the token's ports
fy_certs
TOK=$(fy_token edge "$FY_PORT_RANGE")
N=$((1024 * 1024))
fy_serve serve-src "$SRC" --mode source --bytes "$N" --seed 5
fy_relay_start
SOCK="$T/agent.sock"
fy_agent_start edge "$TOK" --ctl-socket "$SOCK"
wait_log "$T/agent-edge.log" "session up" 20
PID=${FY_AGENT_PID[edge]}

# Three connections, accepted (the agent holds three more descriptors), then the
# requests while the agent is stopped; each answer goes to $T/ctlN.out.
base=$(fy_fds "$PID")
python3 - "$SOCK" "$T" "$PID" "$base" "$BAD" "$OK" "$SRC" <<-'PY' >"$T/ctl.py.out" 2>&1 ||
	import os, signal, socket, sys, time
	sock, t, pid, base, bad, ok, src = sys.argv[1:]
	pid, base = int(pid), int(base)
	reqs = [f"open -R {bad}:127.0.0.1:{src}", f"close -R {bad}:127.0.0.1:{src}",
	        f"open -R {ok}:127.0.0.1:{src}"]
	cs = []
	for _ in reqs:
	    c = socket.socket(socket.AF_UNIX)
	    c.connect(sock)
	    cs.append(c)
	for _ in range(200):	# accepted: the agent holds them
	    if len(os.listdir(f"/proc/{pid}/fd")) >= base + 3:
	        break
	    time.sleep(0.05)
	else:
	    sys.exit("the agent did not accept the control connections")
	os.kill(pid, signal.SIGSTOP)
	try:
	    for c, r in zip(cs, reqs):
	        c.sendall((r + "\n").encode())
	finally:
	    os.kill(pid, signal.SIGCONT)
	for i, c in enumerate(cs, 1):
	    c.settimeout(30)
	    got = b""
	    while True:
	        d = c.recv(4096)
	        if not d:
	            break
	        got += d
	    open(f"{t}/ctl{i}.out", "wb").write(got)
	PY
	fail "control requests: $(cat "$T/ctl.py.out")"
for i in 1 2 3; do fy_say "request $i: $(tr '\n' ' ' <"$T/ctl$i.out")"; done
grep -q "^error" "$T/ctl1.out" || fail "open -R $BAD: $(cat "$T/ctl1.out")"
grep -q "^ok" "$T/ctl2.out" || fail "close -R $BAD: $(cat "$T/ctl2.out")"
check_ok "open -R $BAD and its close, in one turn: closed before it was claimed"
# The failing point before the fix: the relay's refusal of BAD answered this one.
grep -q "^ok .*listening on .*:$OK" "$T/ctl3.out" ||
	fail "open -R $OK got another forward's answer: $(cat "$T/ctl3.out")"
check_ok "open -R $OK in the freed slot got its own answer: $(head -n 1 "$T/ctl3.out")"

wait_log "$T/agent-edge.log" "forwarding relay port $OK " 10
out=$("$AGENT_BIN" ctl --ctl-socket "$SOCK" status) || fail "status: $out"
grep -q "^forward -R $OK:127.0.0.1:$SRC up (opened at run time)$" <<<"$out" ||
	fail "status does not list -R $OK up: $out"
grep -q "^forward -R $BAD:" <<<"$out" && fail "status still lists -R $BAD: $out"
wait_listen "$OK" 10
load_ok "through -R $OK: $N bytes by sha256" recv --connect "127.0.0.1:$OK" --bytes "$N" \
	--seed 5 --timeout 30
fy_agent_stop edge
fy_relay_stop
pass
