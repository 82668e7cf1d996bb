#!/usr/bin/env bash
# Configures (once) and builds ferry into a build directory.
#   scripts/build.sh [DIR] [meson options...]     (default DIR: build)
set -eu
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
if [ ! -f "$dir/build.ninja" ]; then
	meson setup "$dir" "$@" >/dev/null
fi
ninja -C "$dir" >/dev/null
