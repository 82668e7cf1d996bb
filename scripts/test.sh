#!/usr/bin/env bash
# Everything the project tests, as CI runs it: installs what is missing,
# builds twice (plain, and with AddressSanitizer + UBSan) and cross-builds the
# agent for arm64 and armhf, runs the CUnit
# unit tests in both builds, the integration tests (real relay, agent,
# curl, ssh, iperf3 on loopback) with the agent on io_uring and on epoll and
# again under the sanitizers, and the benchmark harness's quick self-test.
# Prints one line per step and ends with "N passed, N failed".
#   scripts/test.sh [--no-bench] [--no-asan]
set -u
cd "$(dirname "$0")/.."

bench=1 asan=1
for a in "$@"; do
	case "$a" in
	--no-bench) bench=0 ;;
	--no-asan) asan=0 ;;
	*) echo "usage: $0 [--no-bench] [--no-asan]" >&2; exit 2 ;;
	esac
done

scripts/deps.sh test || { echo "test: installing dependencies failed" >&2; exit 1; }
# As root on Debian every scenario can run (deps.sh installed DPDK, the
# namespaces work): the DPDK backend is required, and a scenario that
# skips counts as a failure. Elsewhere what cannot run skips with a reason.
strict=0 meson_opts=()
if [ "$(id -u)" -eq 0 ]; then
	strict=1
	meson_opts=(-Ddpdk=enabled)
else
	echo "test: not root: tests that need namespaces or raw sockets will skip"
fi

passed=0 failed=0 skipped=0
logdir=$(mktemp -d /tmp/ferry-test.XXXXXX)
failures=()

# count OUT_FILE: adds the counts from a meson or integration summary.
count() {
	local p f s
	if grep -qE '^ *Ok: +[0-9]+' "$1"; then	# meson's summary
		p=$(grep -E '^ *Ok: +[0-9]+' "$1" | awk '{s+=$2} END {print s+0}')
		f=$(grep -E '^ *(Fail|Timeout|Unexpected Pass): +[0-9]+' "$1" | awk '{s+=$NF} END {print s+0}')
		s=$(grep -E '^ *Skipped: +[0-9]+' "$1" | awk '{s+=$2} END {print s+0}')
	else					# "N passed, N failed[, N skipped]"
		read -r p f s < <(sed -nE 's/^([0-9]+) passed, ([0-9]+) failed(, ([0-9]+) skipped)?$/\1 \2 \4/p' "$1" | tail -n1)
	fi
	p=${p:-0} f=${f:-0} s=${s:-0}
	if [ $strict = 1 ] && [ "$s" -gt 0 ]; then
		echo "   $s skipped as root on Debian: counted as failed (everything can run here)"
		f=$((f + s)) s=0
	fi
	passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
}

# step NAME CMD...: runs a step, keeps its output, counts its tests.
step() {
	local name=$1 out rc
	shift
	out="$logdir/$(echo "$name" | tr ' /' '__').log"
	echo "== $name"
	"$@" >"$out" 2>&1
	rc=$?
	count "$out"
	grep -E '^(PASS|FAIL|SKIP) |^ *(Ok|Fail|Skipped|Timeout):' "$out" | sed 's/^/   /'
	if [ $rc -ne 0 ]; then
		failures+=("$name")
		# A step that failed without counting a test still counts once.
		grep -qE '^(FAIL )|^ *Fail: +[1-9]' "$out" || failed=$((failed + 1))
		echo "   step failed (exit $rc); last lines of $out:"
		tail -n 40 "$out" | sed 's/^/   | /'
	fi
}

step "build" scripts/build.sh build "${meson_opts[@]}"
# ferry-agent for single-board computers; tests/integration/sbc_qemu.sh runs them
step "cross build (arm64)" scripts/cross.sh arm64
step "cross build (armhf)" scripts/cross.sh armhf
step "unit tests" meson test -C build --suite unit --print-errorlogs
step "relay/net against Linux TCP (TAP)" meson test -C build --suite net-interop --print-errorlogs
step "integration (agent on io_uring)" env FY_BUILD=build FY_AGENT_IO=uring tests/run-integration.sh
step "integration (agent on epoll)" env FY_BUILD=build FY_AGENT_IO=epoll tests/run-integration.sh
if [ $asan = 1 ]; then
	step "build (ASan+UBSan)" scripts/build.sh build-asan -Db_sanitize=address,undefined \
		-Db_lundef=false "${meson_opts[@]}"
	export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
	export LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0
	step "unit tests (ASan+UBSan)" meson test -C build-asan --suite unit --print-errorlogs
	step "integration (ASan+UBSan)" env FY_BUILD=build-asan FY_AGENT_IO=auto FY_SANITIZED=1 tests/run-integration.sh
	unset ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS
fi
if [ $bench = 1 ]; then
	step "bench --quick self-test" bench/selftest.sh
fi

echo
if [ ${#failures[@]} -gt 0 ]; then
	echo "failed steps: ${failures[*]} (logs in $logdir)"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ] && [ ${#failures[@]} -eq 0 ]
