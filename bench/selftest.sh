#!/usr/bin/env bash
# bench/selftest.sh: CI check of the benchmark harness (no speed thresholds).
#
#   bench/selftest.sh [--only SUBJECTS] [--workload LIST] [--topology T] [--keep]
#
# 1. bench/run --quick into a temporary directory; then checks that every
#    requested subject produced a non-zero number for every metric of every
#    workload and run (metrics that cannot exist, like the relay CPU of
#    "direct", must be declared n/a, never reported as 0), that results.json
#    parses and holds every run and the machine facts, that results.md lists
#    every subject, and that every plot is a valid PNG.
#    In loopback, ferry-dpdk must be skipped with a printed reason.  The
#    agent-to-agent subjects (ssh-l, ssh-l-tuned, ferry-l) are checked for
#    bulk, rr and connect only (they measure nothing else), and when ferry-l
#    and ssh-l both ran, results.md must hold ferry-l's ratios against ssh-l.
# 1b. ferry-dpdk (the DPDK relay) needs the namespace topology and root: when
#    it is requested (it is by default) and the run above did not cover it,
#    bench/run --quick --topology netns --only ferry-dpdk, with the same
#    checks; without root this prints a SKIP line with the reason.
# 1c. The DPDK data plane alone: bench/memif/run.sh --runs 1 --bytes 64M (relay and
#    generator over net_memif, no kernel in the path) passes and prints numbers, at an
#    MTU of 1500 and of 9000 (jumbo frames: fewer frames than 1500 allows), with
#    the relay as memif's zero-copy client (the default), and at 1500 once more
#    with the relay as the copying server (--memif copy).
# 2. A ferry build that starts but does nothing must make bench/run fail
#    loudly (exit 2, a message naming ferry) and report nothing for it; the
#    same for ferry-l (two agents and -L), and for ferry-dpdk in netns when
#    running as root.
#
# Prints one line per check and, last, "N passed, N failed, N skipped".
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
ONLY="" WL="" TOPO="" KEEP=0
while [[ $# -gt 0 ]]; do
	case $1 in
	--only) ONLY=${2:?--only needs a list}; shift ;;
	--workload | --workloads) WL=${2:?--workload needs a list}; shift ;;
	--topology) TOPO=${2:?--topology needs a value}; shift ;;
	--keep) KEEP=1 ;;
	-h | --help) sed -n '2,27p' "$0"; exit 0 ;;
	*) echo "selftest: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done

PASS=0 FAIL=0 SKIP=0
ok() { PASS=$((PASS + 1)); echo "ok   - $*"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL - $*"; }
skipped() { SKIP=$((SKIP + 1)); echo "SKIP - $*"; }

WORK=$(mktemp -d /tmp/ferry-bench-selftest.XXXXXX)
cleanup() { if ((KEEP)); then echo "kept $WORK"; else rm -rf "$WORK"; fi; }
trap cleanup EXIT

# is ferry-dpdk requested, and which subjects does the first run get
WANT_DPDK=0
[[ -z $ONLY || ,$ONLY, == *,ferry-dpdk,* ]] && WANT_DPDK=1
IS_ROOT=0
[[ $(id -u) == 0 ]] && IS_ROOT=1

# quick_run LABEL OUT LOG bench/run-args...: one real --quick run and every check on it
quick_run() {
	local label=$1 OUT=$2 log=$3 start rc took
	shift 3
	echo "# bench/run $*"
	start=$(date +%s)
	"$HERE/run" "$@" --out "$OUT" >"$log" 2>&1
	rc=$?
	took=$(($(date +%s) - start))
	if ((rc == 0)); then
		ok "$label: bench/run --quick exited 0 in ${took}s"
	else
		bad "$label: bench/run --quick exited $rc after ${took}s; last lines:"
		tail -n 25 "$log" | sed 's/^/       | /'
	fi

	if grep -q '^\[[a-z-]*\] [a-z]* run [0-9]*/[0-9]* ' "$log"; then
		ok "$label: progress lines like '[subject] workload run i/n ...' were printed"
	else
		bad "$label: no progress lines in the output"
	fi

	if [[ -f $OUT/results.md ]]; then ok "$label: results.md exists"; else bad "$label: results.md is missing"; fi

	# the JSON checks, one line per finding, read back into ok/bad
	if [[ -f $OUT/results.json ]]; then
		while IFS= read -r line; do
			case $line in
			OK\ *) ok "$label: ${line#OK }" ;;
			BAD\ *) bad "$label: ${line#BAD }" ;;
			esac
		done < <(python3 - "$OUT" "$HERE" <<'EOF'
import json, math, os, sys
out, here = sys.argv[1], sys.argv[2]
sys.path.insert(0, here)
import report  # METRICS and NOT_APPLICABLE: one definition for run and test

try:
    with open(os.path.join(out, "results.json")) as f:
        d = json.load(f)
    print("OK results.json parses")
except Exception as e:
    print("BAD results.json does not parse: %s" % e)
    sys.exit(0)

facts = d.get("facts", {})
missing = [k for k in ("cpu_model", "cores", "kernel", "openssh", "openssl", "ferry_commit",
                       "subjects", "workloads", "runs") if not facts.get(k)]
if missing:
    print("BAD machine facts missing: %s" % ", ".join(missing))
else:
    print("OK machine facts present (%s, %s cores, kernel %s, commit %s)"
          % (facts["cpu_model"], facts["cores"], facts["kernel"], facts["ferry_commit"][:12]))

subjects, workloads, runs = facts.get("subjects", []), facts.get("workloads", []), facts.get("runs", 0)
recs = d.get("runs", [])
with open(os.path.join(out, "runs.jsonl")) as f:
    nlines = sum(1 for l in f if l.strip())
if nlines == len(recs) and recs:
    print("OK results.json holds all %d run records" % len(recs))
else:
    print("BAD results.json holds %d run records, runs.jsonl %d" % (len(recs), nlines))

for s in subjects:
    for w in workloads:
        problems, count = [], 0
        if not report.measured(s, w):
            continue  # an -L subject and a workload it does not take part in
        na = report.not_applicable(s, w)
        wruns = min(runs, facts.get("streams_runs", runs)) if w == "streams" else runs
        for variant, metric, label, unit, _ in report.METRICS[w]:
            for i in range(1, wruns + 1):
                r = [x for x in recs if (x["subject"], x["workload"], x["variant"], x["run"])
                     == (s, w, variant, i)]
                if not r:
                    problems.append("%s run %d: no record" % (variant, i))
                    continue
                r = r[-1]
                if not r["ok"]:
                    problems.append("%s run %d failed: %s" % (variant, i, r.get("error", "")[:120]))
                    continue
                if metric in na:
                    if metric in r["metrics"] or metric not in r.get("not_applicable", []):
                        problems.append("%s %s: should be declared n/a" % (variant, metric))
                    continue
                v = r["metrics"].get(metric)
                if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) or v == 0:
                    problems.append("%s run %d: %s = %r" % (variant, i, metric, v))
                else:
                    count += 1
        problems = sorted(set(problems))
        if problems:
            print("BAD %s/%s: %s" % (s, w, "; ".join(problems[:4])))
        else:
            print("OK %s/%s: %d numbers, none zero or null%s" % (
                s, w, count, ", %d n/a by design" % (len(na) * wruns) if na else ""))

rows = [r for r in d.get("summary", []) if "median" in r and not r.get("not_applicable")]
if any(r["median"] == 0 for r in rows):
    print("BAD a median in the summary is 0")
with open(os.path.join(out, "results.md")) as f:
    md = f.read()
absent = [s for s in subjects if "| %s |" % s not in md]
print("BAD results.md lacks %s" % absent if absent else "OK results.md lists every subject")

# -L: ferry-l against ssh-l, pair by pair from the same run, in the -L table
if "ferry-l" in subjects and "ssh-l" in subjects:
    want = [r for r in d.get("summary", []) if r["subject"] == "ferry-l" and "median" in r]
    bad = [r["workload"] + "/" + r["variant"] + "/" + r["metric"] for r in want
           if not isinstance(r.get("ratio_vs_ssh_l"), (int, float)) or r["ratio_vs_ssh_l"] <= 0]
    lmd = md.split("### Agent to agent (-L)", 1)
    cells = [l for l in (lmd[1] if len(lmd) == 2 else "").splitlines()
             if l.startswith("| ") and "| ferry-l |" in l]
    if not want or bad:
        print("BAD ferry-l has no ratio against ssh-l for %s" % (", ".join(bad[:4]) or "any metric"))
    elif len(cells) != len(want) or any(not c.split("|")[6].strip().endswith("x") for c in cells):
        print("BAD results.md: the -L table lacks ferry-l's 'vs ssh-l' ratios")
    else:
        print("OK ferry-l against ssh-l: %d ratios, each from pairs of the same run, in the -L table"
              % len(want))
EOF
		)
	else
		bad "$label: results.json is missing"
	fi

	# every plot a real PNG; the set depends on the workloads
	local -A want=([bulk]="bulk.png" [rr]="rr_cdf_64.png rr_cdf_4096.png" [connect]="connect.png"
		[http]="http.png" [cost]="cost.png" [streams]="streams.png")
	local wls=${WL:-bulk,rr,connect,http,streams,cost} w png p magic
	for w in ${wls//,/ }; do
		for png in ${want[$w]:-}; do
			p="$OUT/$png"
			if [[ ! -s $p ]]; then
				bad "$label: $png is missing"
				continue
			fi
			magic=$(head -c 8 "$p" | od -An -tx1 | tr -d ' \n')
			if [[ $magic != 89504e470d0a1a0a ]]; then
				bad "$label: $png does not start with the PNG signature ($magic)"
			elif command -v file >/dev/null && ! file -b "$p" | grep -q '^PNG image data'; then
				bad "$label: $png: file(1) says: $(file -b "$p")"
			else
				ok "$label: $png is a valid PNG ($(stat -c %s "$p") bytes)"
			fi
		done
	done
}

args=(--quick)
[[ -n $ONLY ]] && args+=(--only "$ONLY")
[[ -n $WL ]] && args+=(--workload "$WL")
[[ -n $TOPO ]] && args+=(--topology "$TOPO")

# ---------------------------------------------------------------- 1. a real quick run
DPDK_DONE=0
if [[ $ONLY == ferry-dpdk && ${TOPO:-loopback} != netns ]]; then
	echo "# (only ferry-dpdk asked: it runs in 1b, in netns)"
else
	quick_run "${TOPO:-loopback}" "$WORK/out" "$WORK/run.log" "${args[@]}"
	if ((WANT_DPDK)); then
		if [[ $TOPO == netns ]]; then
			DPDK_DONE=1 # measured and checked above, with the others
		elif grep -q 'ferry-dpdk skipped: it needs --topology netns' "$WORK/run.log" &&
			python3 -c 'import json,sys; f=json.load(open(sys.argv[1]))["facts"]
sys.exit(not ("ferry-dpdk" in f.get("skipped_subjects", {}) and "ferry-dpdk" not in f["subjects"]))' \
				"$WORK/out/results.json" 2>/dev/null; then
			ok "loopback: ferry-dpdk skipped with a printed reason (needs --topology netns), recorded in facts"
		else
			bad "loopback: ferry-dpdk was not skipped with a printed reason"
		fi
	fi
fi

# ---------------------------------------------------------------- 1b. ferry-dpdk in netns
if ((WANT_DPDK && !DPDK_DONE)); then
	if ((IS_ROOT)); then
		dargs=(--quick --topology netns --only ferry-dpdk)
		[[ -n $WL ]] && dargs+=(--workload "$WL")
		quick_run "netns ferry-dpdk" "$WORK/out-dpdk" "$WORK/run-dpdk.log" "${dargs[@]}"
	else
		skipped "ferry-dpdk in netns: needs root (namespaces, veth, DPDK on af_packet); run bench/selftest.sh as root"
	fi
fi

# ---------------------------------------------------------------- 1c. DPDK data plane on memif
# bench/memif/run.sh once, small: the relay and fy-memif-load over net_memif, every
# byte checked by the generator; both workloads must give a median row with numbers.
# Then the same with jumbo frames (--mtu 9000): it must carry the bytes in fewer
# frames than a 1500-byte MTU can (64 MiB crosses two TCP connections: at an MSS of
# 1460 that alone is over 91,900 data frames). Last, the relay as memif's copying
# server (--memif copy) instead of its zero-copy client.
memif_check() { # memif_check MTU MODE
	local mtu=$1 mode=$2 log="$WORK/memif-$1-$2.log" rc num pk
	"$HERE/memif/run.sh" --runs 1 --bytes 64M --timeout 60 --mtu "$mtu" --memif "$mode" >"$log" 2>&1
	rc=$?
	num='\*\*[0-9]+(\.[0-9]+)?\*\*'
	gbit() { awk -F'|' -v w="**$1**" 'index($2, w) && /median/ { gsub(/[ *]/, "", $4); print $4 }' "$log"; }
	packets() { awk -F'|' -v w="**$1**" 'index($2, w) && /median/ { gsub(/[ *]/, "", $13); print $13 }' "$log"; }
	if ((rc == 77)); then
		skipped "memif data plane ($mode), MTU $mtu: $(tail -n 1 "$log")"
	elif ((rc == 0)) &&
		grep -Eq "^\| \*\*up\*\* \| \*\*median of 1\*\* \| $num \| $num \| $num \|" "$log" &&
		grep -Eq "^\| \*\*down\*\* \| \*\*median of 1\*\* \| $num \| $num \| $num \|" "$log"; then
		if ((mtu > 1500)); then
			for w in up down; do
				pk=$(packets "$w")
				if ! [[ $pk =~ ^[0-9]+$ ]] || ((pk >= 2 * 64 * 1048576 / 1460)); then
					bad "memif data plane ($mode), MTU $mtu: $w took ${pk:-?} frames, not fewer than an MTU of 1500 needs"
					return
				fi
			done
		fi
		ok "memif data plane ($mode), MTU $mtu: 64 MiB up and down, every byte checked ($(gbit up) Gbit/s up, $(gbit down) down; $(packets up)/$(packets down) relay frames)"
	else
		bad "memif data plane ($mode), MTU $mtu: exit $rc; output:"
		tail -n 15 "$log" | sed 's/^/       | /'
	fi
}
if ((WANT_DPDK)); then
	if [[ ! -x $ROOT/build/bench/memif/fy-memif-load ]]; then
		skipped "memif data plane: build/bench/memif/fy-memif-load not built (no DPDK at configure time)"
	else
		memif_check 1500 zero-copy
		memif_check 9000 zero-copy
		memif_check 1500 copy
	fi
fi

# ---------------------------------------------------------------- 2. fail loudly
# A "ferry" that starts and exits 0 without doing anything: bench/run must
# stop with exit 2 and say so, not report zeros.
FAKE="$WORK/fake-ferry"
mkdir -p "$FAKE/relay" "$FAKE/agent"
printf 'rule noop\n  command = true\nbuild all: phony\ndefault all\n' >"$FAKE/build.ninja"
printf '#!/bin/sh\nexit 0\n' >"$FAKE/relay/ferry-relay"
printf '#!/bin/sh\nexit 0\n' >"$FAKE/agent/ferry-agent"
chmod +x "$FAKE/relay/ferry-relay" "$FAKE/agent/ferry-agent"
"$HERE/run" --quick --only ferry --workload rr --ferry-build "$FAKE" --out "$WORK/fake-out" \
	>"$WORK/fake.log" 2>&1
rc=$?
if ((rc == 2)) && grep -q 'ferry' "$WORK/fake.log" && ! grep -qs '"ok": true' "$WORK/fake-out/runs.jsonl"; then
	ok "a ferry that does nothing makes bench/run fail loudly (exit 2, no numbers)"
else
	bad "a do-nothing ferry gave exit $rc; output:"
	tail -n 10 "$WORK/fake.log" | sed 's/^/       | /'
fi

# the same for ferry-l (agent to agent): neither agent does anything
"$HERE/run" --quick --only ferry-l --workload rr --ferry-build "$FAKE" --out "$WORK/fake-l-out" \
	>"$WORK/fake-l.log" 2>&1
rc=$?
if ((rc == 2)) && grep -q '!!! ferry-l' "$WORK/fake-l.log" && ! grep -qs '"ok": true' "$WORK/fake-l-out/runs.jsonl"; then
	ok "a ferry-l that does nothing makes bench/run fail loudly (exit 2, no numbers)"
else
	bad "a do-nothing ferry-l gave exit $rc; output:"
	tail -n 10 "$WORK/fake-l.log" | sed 's/^/       | /'
fi

# the same for the DPDK relay: a relay without a working DPDK backend stops the run
if ((WANT_DPDK && IS_ROOT)); then
	"$HERE/run" --quick --only ferry-dpdk --topology netns --workload rr --ferry-build "$FAKE" \
		--out "$WORK/fake-dpdk-out" >"$WORK/fake-dpdk.log" 2>&1
	rc=$?
	if ((rc == 2)) && grep -q '!!! ferry-dpdk' "$WORK/fake-dpdk.log" &&
		! grep -qs '"ok": true' "$WORK/fake-dpdk-out/runs.jsonl"; then
		ok "a ferry-dpdk that does nothing makes bench/run fail loudly (exit 2, no numbers)"
	else
		bad "a do-nothing ferry-dpdk gave exit $rc; output:"
		tail -n 10 "$WORK/fake-dpdk.log" | sed 's/^/       | /'
	fi
fi

echo "$PASS passed, $FAIL failed, $SKIP skipped"
((FAIL == 0))
