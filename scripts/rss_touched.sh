#!/usr/bin/env bash
# scripts/rss_touched.sh [--runs N] [--seconds S]: the agent's RSS when every
# library page it maps is a page it touched (root; needs losetup and mkfs.ext4).
#
# Plain RSS counts more than the pages a process touches: a page fault maps
# the pages around it that are already in the page cache (fault-around,
# 64 KiB by default), and on kernels with large page-cache folios (6.18
# maps a whole folio per fault) nearly the whole of a library that some
# other process read sequentially. That is the kernel's doing and depends
# on the machine, so this script takes it out: it copies the libraries the
# agent needs onto a small ext4 image on a loop device whose readahead is
# 0, drops that copy from the page cache before each run, and runs
# scripts/rss.sh with LD_LIBRARY_PATH pointing there. Every library page
# then comes in alone, when first touched, and fault-around finds no
# cached neighbour to map: RSS is the touched set (ld.so itself stays the
# system's). Prints rss.sh's line for each run; cleans up what it made.
set -eu
RUNS=3 SECS=0
while [ $# -gt 0 ]; do
	case $1 in
	--runs) RUNS=$2; shift ;;
	--seconds) SECS=$2; shift ;;
	*) echo "usage: $0 [--runs N] [--seconds S]" >&2; exit 2 ;;
	esac
	shift
done
[ "$(id -u)" -eq 0 ] || { echo "rss_touched: needs root (loop device, mount)" >&2; exit 77; }
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${FY_BUILD:-$ROOT/build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
AGENT=$BUILD/agent/ferry-agent
[ -x "$AGENT" ] || { echo "rss_touched: $AGENT is missing: build first" >&2; exit 1; }

W=$(mktemp -d /tmp/ferry-rss-touched.XXXXXX)
LOOP=
cleanup() {
	set +e
	mountpoint -q "$W/mnt" && umount "$W/mnt"
	[ -n "$LOOP" ] && losetup -d "$LOOP"
	rm -rf "$W"
}
trap cleanup EXIT

truncate -s 48M "$W/img"
mkfs.ext4 -q -F "$W/img"
LOOP=$(losetup --find --show "$W/img")
mkdir "$W/mnt"
mount "$LOOP" "$W/mnt"
ldd "$AGENT" | awk '/=> \// { print $3 }' | grep -v '/ld-linux' | while read -r lib; do
	cp -L "$lib" "$W/mnt/"
done
umount "$W/mnt"
# No readahead: a fault reads the one page it needs, as a small folio.
echo 0 >"/sys/block/$(basename "$LOOP")/queue/read_ahead_kb"
mount -o ro "$LOOP" "$W/mnt"
for ((run = 1; run <= RUNS; run++)); do
	# Drop the copies from the page cache (clean, unmapped: always possible).
	for f in "$W"/mnt/*.so*; do
		dd if="$f" iflag=nocache count=0 status=none
	done
	FY_BUILD=$BUILD FY_AGENT_ENV="LD_LIBRARY_PATH=$W/mnt" \
		"$ROOT/scripts/rss.sh" --runs 1 --seconds "$SECS" | grep -E '^run 1 ' | sed "s/^run 1/run $run/"
done
