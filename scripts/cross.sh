#!/usr/bin/env bash
# scripts/cross.sh arm64|armhf [BUILD_DIR]: cross-builds ferry-agent for a
# single-board computer with Debian's cross compilers and multiarch libraries
# (scripts/deps.sh cross installs what is missing), using the meson cross file
# scripts/cross/ARCH.ini. Only the agent: no DPDK, no tests, optimised for size.
#
# Leaves BUILD_DIR/agent/ferry-agent and a stripped copy BUILD_DIR/ferry-agent
# (default BUILD_DIR: build-cross-ARCH), and prints what it is, its size and the
# shared libraries it needs. Run it on the board with those libraries installed
# (Debian / Raspberry Pi OS: libssl3 liburing2), or here under
# qemu-user: qemu-aarch64-static / qemu-arm-static BUILD_DIR/ferry-agent --help.
set -eu
cd "$(dirname "$0")/.."
arch=${1:-}
case $arch in
arm64) triplet=aarch64-linux-gnu ;;
armhf) triplet=arm-linux-gnueabihf ;;
*) echo "usage: $0 arm64|armhf [BUILD_DIR]" >&2; exit 2 ;;
esac
dir=${2:-build-cross-$arch}

scripts/deps.sh cross
if [ ! -f "$dir/build.ninja" ]; then
	meson setup "$dir" --cross-file "scripts/cross/$arch.ini" -Ddpdk=disabled -Dtests=disabled \
		-Dbuildtype=minsize >"$dir.setup.log" 2>&1 || { cat "$dir.setup.log" >&2; exit 1; }
	rm -f "$dir.setup.log"
fi
ninja -C "$dir" agent/ferry-agent
"$triplet-strip" -o "$dir/ferry-agent" "$dir/agent/ferry-agent"
echo "cross ($arch): $dir/ferry-agent: $(file -b "$dir/ferry-agent" | cut -d, -f1-2)"
echo "cross ($arch): $(stat -c %s "$dir/ferry-agent") bytes stripped," \
	"needs $("$triplet-readelf" -d "$dir/ferry-agent" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | tr '\n' ' ')"
