#!/usr/bin/env bash
# Configures and builds ferry into a build directory.
#   scripts/build.sh [DIR] [meson options...]     (default DIR: build)
# Options given for a directory that exists already are applied to it
# (meson configure), so a build set up before a library was installed
# (the demo's, say, before libdpdk-dev) can be switched to require it.
set -eu
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
if [ ! -f "$dir/build.ninja" ]; then
	meson setup "$dir" "$@" >/dev/null
elif [ $# -gt 0 ]; then
	meson configure "$dir" "$@" >/dev/null
fi
ninja -C "$dir" >/dev/null
