#!/usr/bin/env bash
# bench/memif/ab.sh: two builds of ferry compared on memif, fairly on a shared
# machine. run.sh runs alternately against build A and build B, ROUNDS times
# each, so both see the same load; then prints, per build and workload, the
# median of every numeric column over all their runs (FAILED runs counted).
#
#   bench/memif/ab.sh [--rounds 3] DIR_A DIR_B [run.sh options...]
#   bench/memif/ab.sh /tmp/base/build build --runs 2 --bytes 512M
#   bench/memif/ab.sh /tmp/base/build build --runs 2 --workloads churn --count 30000 --churn-conns 64
#
# DIR_A/B are meson build dirs with ferry-relay and fy-memif-load (a base is
# easily had: git worktree add /tmp/base COMMIT && scripts/build.sh there).
# For a comparison of relays, give both the same generator (copy one
# fy-memif-load over the other). Exit: 0, or 1 when a run failed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
rounds=3
if [ "${1:-}" = --rounds ]; then
	rounds=$2
	shift 2
fi
if [ $# -lt 2 ] || ! [[ $rounds =~ ^[1-9][0-9]*$ ]]; then
	sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
	exit 2
fi
a=$1 b=$2
shift 2
out=$(mktemp -d "${TMPDIR:-/tmp}/fyab.XXXXXX")
trap 'rm -rf "$out"' EXIT
failed=0
for ((i = 1; i <= rounds; i++)); do
	for side in A B; do
		dir=$a
		[ $side = B ] && dir=$b
		# Only the table rows: "| workload | run | ..." (medians are recomputed).
		"$here/run.sh" --build "$dir" "$@" >"$out/last" 2>&1 || true
		grep -E '^\| [a-z-]+ \| [0-9]+ \|' "$out/last" | sed "s/^/$side /" >>"$out/rows" || true
		grep -E '^\| workload \| run \|' "$out/last" >>"$out/headers" || true
	done
done
grep -q FAILED "$out/rows" && failed=1
echo "columns (from the third on), per table:"
sort -u "$out/headers" | sed 's/^| workload | run | /  /'
python3 - "$out/rows" "$a" "$b" <<'PY'
import collections, statistics, sys
rows, fails = collections.defaultdict(list), collections.Counter()
for line in open(sys.argv[1]):
    side, rest = line.split(" ", 1)
    cols = [c.strip() for c in rest.strip().strip("|").split("|")]
    if "FAILED" in rest:
        fails[side, cols[0]] += 1
    else:
        rows[side, cols[0]].append(cols)
names = {"A": sys.argv[2], "B": sys.argv[3]}
for (side, wl), rs in sorted(rows.items(), key=lambda kv: (kv[0][1], kv[0][0])):
    meds = []
    for k in range(2, len(rs[0])):
        try:
            meds.append("%.4g" % statistics.median(float(r[k].rstrip("%").replace(",", ""))
                                                   for r in rs))
        except ValueError:
            meds.append("-")
    print("%s %s (%s): %d runs, %d failed: %s" % (wl, side, names[side], len(rs),
                                                  fails[side, wl], " | ".join(meds)))
PY
exit "$failed"
