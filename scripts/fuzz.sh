#!/usr/bin/env bash
# Runs the mux fuzz target under libFuzzer (clang) with ASan and UBSan for a
# bounded time. Input from a peer must never crash the relay or the agent.
#   scripts/fuzz.sh [SECONDS]      (default 60)
set -eu
cd "$(dirname "$0")/.."
secs=${1:-60}
command -v clang >/dev/null || { echo "fuzz: clang is not installed (apt-get install clang)" >&2; exit 2; }
scripts/build.sh build >/dev/null
out=$(mktemp -d /tmp/ferry-fuzz.XXXXXX)
clang -std=c11 -D_GNU_SOURCE -DFY_LIBFUZZER -g -O1 -fsanitize=fuzzer,address,undefined \
	-Ilib/include -Ibuild tests/fuzz/mux_fuzz.c lib/frame.c lib/mux.c lib/sess.c lib/buf.c \
	lib/log.c -lxxhash -o "$out/mux_fuzz"
mkdir -p "$out/corpus"
"$out/mux_fuzz" -max_total_time="$secs" -max_len=4096 "$out/corpus"
echo "fuzz: no crash in $secs s (corpus in $out/corpus)"
