#!/usr/bin/env bash
# shellcheck disable=SC2016 # scripts for the hosts: expanded there, not here
# tests/topo/run.sh: runs the topology scenarios (tests/topo/scenarios/) against a
# topology that is already up, on the backend TOPO_BACKEND (netns or vagrant, see
# tests/topo/drive.sh), and prints a table of results.
#
#   tests/topo/run.sh [SCENARIO...]
#
# Default order: up isolation web_ssh edge_to_edge agent_restart nat_flush relay_restart
# systemd_unit down. A scenario that cannot run on this backend exits 77 and is
# reported SKIP (systemd_unit on namespaces).
# "up" runs first and "down" last whatever is named; when up fails the rest are
# not run (reported as such). Each scenario's output goes to TOPO_LOGS/NAME.log
# (default: a new /tmp/ferry-topo.XXXXXX) and is printed when it fails, with the
# tail of every log on every host. Exit status 0 when every scenario passed.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=SCRIPTDIR/drive.sh
. "$here/drive.sh"

all=(isolation web_ssh edge_to_edge agent_restart nat_flush relay_restart systemd_unit)
if [ $# -gt 0 ]; then
	want=()
	for a in "$@"; do
		a=${a%.sh}
		[ "$a" = up ] || [ "$a" = down ] && continue
		[ -f "$here/scenarios/$a.sh" ] || { echo "run.sh: no scenario '$a' in $here/scenarios" >&2; exit 2; }
		want+=("$a")
	done
else
	want=("${all[@]}")
fi
logs=${TOPO_LOGS:-$(mktemp -d /tmp/ferry-topo.XXXXXX)}
mkdir -p "$logs"

names=() results=() secs=() notes=()
failed=0

# host_logs: the tail of every log on every host (after a failure).
host_logs() {
	local r
	for r in $TOPO_ROLES; do
		on "$r" 'for f in *.log; do [ -f "$f" ] || continue; echo "----- '"$r"'/$f (last 25 lines)"; tail -n 25 "$f"; done' 2>/dev/null
	done
}

run_one() {
	local name=$1 t0 rc=0 dt note
	t0=$(date +%s%3N)
	echo "== $name"
	bash "$here/scenarios/$name.sh" </dev/null >"$logs/$name.log" 2>&1 || rc=$?
	dt=$(($(date +%s%3N) - t0))
	dt=$((dt / 1000)).$((dt % 1000 / 100))
	sed 's/^/   /' "$logs/$name.log" | grep -E '^ +(ok - |PASS |FAIL )'
	names+=("$name")
	secs+=("$dt")
	if [ "$rc" -eq 77 ]; then
		results+=(SKIP)
		notes+=("$(grep -m1 "^SKIP $name" "$logs/$name.log" | sed "s/^SKIP $name: //")")
		echo "   SKIP $name"
		return 0
	elif [ "$rc" -eq 0 ] && grep -q "^PASS $name" "$logs/$name.log"; then
		results+=(PASS)
		note=$(grep -c '^  ok - ' "$logs/$name.log")
		notes+=("$note checks")
	else
		results+=(FAIL)
		failed=$((failed + 1))
		note=$(grep -m1 "^FAIL $name" "$logs/$name.log" | sed "s/^FAIL $name: //")
		notes+=("${note:-exit $rc}")
		echo "----- $name output"
		cat "$logs/$name.log"
		host_logs | tee "$logs/$name.hosts.log"
		echo "----- end of $name"
	fi
	return "$rc"
}

start=$(date +%s)
if run_one up; then
	for n in "${want[@]}"; do run_one "$n"; done
else
	for n in "${want[@]}"; do
		names+=("$n") results+=("NOT RUN") secs+=(-) notes+=("up failed")
		failed=$((failed + 1))
	done
fi
run_one down

echo
printf '%-16s %-8s %8s  %s\n' scenario result seconds notes
printf '%-16s %-8s %8s  %s\n' ---------------- ------ ------- -----
for i in "${!names[@]}"; do
	printf '%-16s %-8s %8s  %s\n' "${names[$i]}" "${results[$i]}" "${secs[$i]}" "${notes[$i]}"
done
skips=$(printf '%s\n' "${results[@]}" | grep -c '^SKIP$')
echo "backend $TOPO_BACKEND, sites ${TOPO_SITES:-a b}, $((${#names[@]} - failed - skips)) passed, $failed failed, $skips skipped," \
	"$(($(date +%s) - start)) s; logs in $logs"
[ "$failed" -eq 0 ]
