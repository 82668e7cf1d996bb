#!/usr/bin/env bash
# Runs ferry's integration scenarios: every tests/integration/*.sh, or the ones named
# (by file or by name: `tests/run-integration.sh bulk_sha refusals`).
#
# Each runs under `timeout 180` in its own process group; its output goes to a log that
# is printed when it fails. Prints PASS/FAIL/SKIP per script (a script skips by exiting
# 77), then exactly one summary line "N passed, N failed", with ", N skipped" appended
# when some skipped. Exits non-zero when any failed.
#
# Environment: FY_BUILD (build directory, default build/), FY_AGENT_IO (auto|epoll|uring,
# the agent's event loop), FY_TIMEOUT (per-script limit, default 180), FY_KEEP=1 keeps
# every scenario's temp directory.
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
export FY_BUILD=${FY_BUILD:-$root/build}
case $FY_BUILD in /*) ;; *) FY_BUILD=$PWD/$FY_BUILD ;; esac
export FY_AGENT_IO=${FY_AGENT_IO:-auto}
limit=${FY_TIMEOUT:-180}

case $FY_AGENT_IO in
auto | epoll | uring) ;;
*)
	echo "FY_AGENT_IO must be auto, epoll or uring (got '$FY_AGENT_IO')" >&2
	exit 2
	;;
esac

scripts=()
if [ $# -eq 0 ]; then
	for f in "$here"/integration/*.sh; do
		[ -e "$f" ] && scripts+=("$f")
	done
else
	for a in "$@"; do
		if [ -f "$a" ]; then
			scripts+=("$(cd "$(dirname "$a")" && pwd)/$(basename "$a")")
		elif [ -f "$here/integration/${a%.sh}.sh" ]; then
			scripts+=("$here/integration/${a%.sh}.sh")
		else
			echo "no such scenario: $a" >&2
			exit 2
		fi
	done
fi
[ ${#scripts[@]} -gt 0 ] || {
	echo "no scenarios found in $here/integration" >&2
	exit 2
}

logdir=$(mktemp -d /tmp/ferry-integration.XXXXXX)
echo "# ferry integration: ${#scripts[@]} scenario(s), build $FY_BUILD, agent io $FY_AGENT_IO, logs $logdir"
passed=0
failed=0
skipped=0
failed_names=()
for s in "${scripts[@]}"; do
	name=$(basename "$s" .sh)
	log=$logdir/$name.log
	t0=$(date +%s)
	rc=0
	# timeout signals the whole process group it creates: relay, agent and helpers too.
	timeout -k 15 "$limit" bash "$s" >"$log" 2>&1 </dev/null || rc=$?
	secs=$(($(date +%s) - t0))
	case $rc in
	0)
		passed=$((passed + 1))
		echo "PASS $name (${secs}s)"
		;;
	77)
		skipped=$((skipped + 1))
		echo "SKIP $name: $(grep -m1 '^SKIP' "$log" | sed 's/^SKIP [^:]*: //')"
		;;
	*)
		failed=$((failed + 1))
		failed_names+=("$name")
		if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
			echo "FAIL $name: timed out after ${limit}s"
		else
			echo "FAIL $name (exit $rc, ${secs}s): $(grep -m1 '^FAIL' "$log" | sed 's/^FAIL [^:]*: //')"
		fi
		echo "----- $name output -----"
		tail -n 150 "$log"
		echo "----- end of $name (full log: $log)"
		;;
	esac
done

summary="$passed passed, $failed failed"
[ "$skipped" -gt 0 ] && summary="$summary, $skipped skipped"
[ "$failed" -gt 0 ] && echo "# failed: ${failed_names[*]}"
if [ "$failed" -eq 0 ] && [ "${FY_KEEP:-0}" != 1 ]; then
	rm -rf "$logdir"
fi
echo "$summary"
[ "$failed" -eq 0 ]
