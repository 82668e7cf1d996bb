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
# 2. A ferry build that starts but does nothing must make bench/run fail
#    loudly (exit 2, a message naming ferry) and report nothing for it.
#
# Prints one line per check and, last, "N passed, N failed".
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
	-h | --help) sed -n '2,16p' "$0"; exit 0 ;;
	*) echo "selftest: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done

PASS=0 FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok   - $*"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL - $*"; }

WORK=$(mktemp -d /tmp/ferry-bench-selftest.XXXXXX)
cleanup() { if ((KEEP)); then echo "kept $WORK"; else rm -rf "$WORK"; fi; }
trap cleanup EXIT

OUT="$WORK/out"
args=(--quick --out "$OUT")
[[ -n $ONLY ]] && args+=(--only "$ONLY")
[[ -n $WL ]] && args+=(--workload "$WL")
[[ -n $TOPO ]] && args+=(--topology "$TOPO")

# ---------------------------------------------------------------- 1. a real quick run
echo "# bench/run ${args[*]}"
start=$(date +%s)
"$HERE/run" "${args[@]}" >"$WORK/run.log" 2>&1
rc=$?
took=$(($(date +%s) - start))
if ((rc == 0)); then
	ok "bench/run --quick exited 0 in ${took}s"
else
	bad "bench/run --quick exited $rc after ${took}s; last lines:"
	tail -n 25 "$WORK/run.log" | sed 's/^/       | /'
fi

if grep -q '^\[[a-z-]*\] [a-z]* run [0-9]*/[0-9]* ' "$WORK/run.log"; then
	ok "progress lines like '[subject] workload run i/n ...' were printed"
else
	bad "no progress lines in the output"
fi

if [[ -f $OUT/results.md ]]; then ok "results.md exists"; else bad "results.md is missing"; fi

# the JSON checks, one line per finding, read back into ok/bad
if [[ -f $OUT/results.json ]]; then
	while IFS= read -r line; do
		case $line in
		OK\ *) ok "${line#OK }" ;;
		BAD\ *) bad "${line#BAD }" ;;
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
EOF
	)
else
	bad "results.json is missing"
fi

# every plot a real PNG; the set depends on the workloads
declare -A want=([bulk]="bulk.png" [rr]="rr_cdf_64.png rr_cdf_4096.png" [connect]="connect.png"
	[http]="http.png" [cost]="cost.png" [streams]="streams.png")
wls=${WL:-bulk,rr,connect,http,streams,cost}
for w in ${wls//,/ }; do
	for png in ${want[$w]:-}; do
		p="$OUT/$png"
		if [[ ! -s $p ]]; then
			bad "$png is missing"
			continue
		fi
		magic=$(head -c 8 "$p" | od -An -tx1 | tr -d ' \n')
		if [[ $magic != 89504e470d0a1a0a ]]; then
			bad "$png does not start with the PNG signature ($magic)"
		elif command -v file >/dev/null && ! file -b "$p" | grep -q '^PNG image data'; then
			bad "$png: file(1) says: $(file -b "$p")"
		else
			ok "$png is a valid PNG ($(stat -c %s "$p") bytes)"
		fi
	done
done

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

echo "$PASS passed, $FAIL failed"
((FAIL == 0))
