#!/usr/bin/env bash
# shellcheck disable=SC2119 # lib.sh helpers take optional arguments
# An agent out of descriptors does not spin on its listeners: a level-triggered
# listener with connections queued stays readable, and accepting fails with
# EMFILE each time. The agent rests the listener until its next tick, logs it
# once, and accepts again once descriptors are free.
#
#   python: 6 idle connections ──▶ agent's --ctl-socket (ulimit -n: room for 2)
#
# 1. The agent without a limit: its highest descriptor for a session of one
#    tunnel with a control socket.
# 2. Under ulimit -n (that + 3): two control connections take the room, the third
#    gets EMFILE. While the others wait in the queue the agent is idle: under a
#    quarter of a second of CPU in 3 s (a spinning loop takes a core; this is a
#    count of CPU time, not a timeout). "out of descriptors" logged.
# 3. The held connections close: `ferry-agent ctl status` answers (the listener
#    was resumed).
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
fy_init 27000

fy_alloc_port RELAY_PORT
fy_alloc_port SINK
fy_alloc_port P
fy_certs
TOK=$(fy_token emf "$FY_PORT_RANGE")
fy_serve serve-sink "$SINK" --mode sink
SOCK=$T/agent.sock

max_fd() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort -n | tail -n 1; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# agent_run [LIMIT]: the agent with only stdin/out/err of the descriptors this
# shell has open (an inherited high one would leave room below any limit),
# under ulimit -n LIMIT when given.
agent_run() {
	printf '=== %s ferry-agent --name emf (ulimit -n %s)\n' "$(date +%T.%3N)" "${1:-unlimited}" \
		>>"$T/agent-emf.log"
	(
		for f in /proc/$BASHPID/fd/*; do
			n=${f##*/}
			[ "$n" -gt 2 ] && eval "exec $n>&-"
		done
		if [ -n "${1:-}" ]; then ulimit -n "$1" || exit 1; fi
		exec "$AGENT_BIN" --relay "127.0.0.1:$RELAY_PORT" --token "$TOK" --ca "$T/pki/ca.crt" \
			--name emf --io "$FY_AGENT_IO" --log-level debug --ctl-socket "$SOCK" \
			-R "$P:127.0.0.1:$SINK"
	) >>"$T/agent-emf.log" 2>&1 &
	FY_AGENT_PID[emf]=$!
	FY_PID[agent-emf]=$!
}

fy_relay_start --workers 1
agent_run
wait_log_count "$T/agent-emf.log" "session up: 1 tunnel" 1 15
top=$(max_fd "${FY_AGENT_PID[emf]}")
[ -n "$top" ] || fail "no descriptors listed for the agent"
check_ok "unlimited: the agent's highest descriptor is $top"
fy_agent_stop emf

limit=$((top + 3))
agent_run "$limit"
pid=${FY_AGENT_PID[emf]}
wait_log_count "$T/agent-emf.log" "session up: 1 tunnel" 2 15

# Six idle connections to the control socket, held until $T/release exists.
python3 - "$SOCK" "$T/release" "$T/held" <<'PY' &
import os, socket, sys, time
path, release, held = sys.argv[1:4]
socks = []
for _ in range(6):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    socks.append(s)
open(held, "w").close()
deadline = time.time() + 120
while not os.path.exists(release) and time.time() < deadline:
    time.sleep(0.1)
PY
holder=$!
FY_PID[holder]=$holder
for ((i = 0; i < 100; i++)); do [ -e "$T/held" ] && break; sleep 0.1; done
[ -e "$T/held" ] || fail "the six control connections were not made"
# Both spare descriptors taken by control connections: the rest find none.
for ((i = 0; i < 150; i++)); do
	[ "$(max_fd "$pid")" -ge $((limit - 1)) ] && break
	sleep 0.1
done
[ "$(max_fd "$pid")" -ge $((limit - 1)) ] || fail "the agent never used its last descriptor"
c0=$(cpu_ticks "$pid")
sleep 3
c1=$(cpu_ticks "$pid")
used=$((c1 - c0))
ticks=$(getconf CLK_TCK)
[ "$used" -lt $((ticks / 4)) ] ||
	fail "the agent used $used CPU ticks (1/$ticks s each) in 3 s while out of descriptors: it spins"
check_ok "out of descriptors with connections queued: $used CPU ticks (1/$ticks s each) in 3 s, no spinning"
wait_log "$T/agent-emf.log" "control socket: out of descriptors" 15
check_ok "ulimit -n $limit: a control connection finds no descriptor, logged"
fy_alive "$pid" || fail "the agent died"

touch "$T/release"
wait "$holder" 2>/dev/null
unset "FY_PID[holder]"
out=""
for ((i = 0; i < 100; i++)); do
	out=$("$AGENT_BIN" ctl --ctl-socket "$SOCK" status 2>&1) && break
	sleep 0.2
done
grep -q "^session up" <<<"$out" || fail "ctl status after the connections closed: $out"
check_ok "descriptors free again: ferry-agent ctl status answers"

fy_agent_stop emf
fy_relay_stop
pass
