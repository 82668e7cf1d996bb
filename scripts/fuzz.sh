#!/usr/bin/env bash
# Runs a fuzz target under libFuzzer (clang) with ASan and UBSan for a bounded
# time. Input from a peer must never crash the relay or the agent.
#   scripts/fuzz.sh [SECONDS] [mux|wss|ingress]     (default 60, mux)
#     mux  the frame decoder and the mux (tests/fuzz/mux_fuzz.c)
#     ingress  the ingress's first bytes: ClientHello (sni.c), request heads and bodies
#          (hparse.c) (tests/fuzz/ingress_fuzz.c)
#     wss  WebSocket frames at both ends, the agent's response heads and the relay's
#          upgrade check (tests/fuzz/wss_fuzz.c)
set -eu
cd "$(dirname "$0")/.."
secs=${1:-60}
target=${2:-mux}
command -v clang >/dev/null || { echo "fuzz: clang is not installed (apt-get install clang)" >&2; exit 2; }
scripts/build.sh build >/dev/null
out=$(mktemp -d /tmp/ferry-fuzz.XXXXXX)
cflags=(-std=c11 -D_GNU_SOURCE -DFY_LIBFUZZER -g -O1 -fsanitize=fuzzer,address,undefined
	-Ilib/include -Ibuild)
case $target in
mux)
	clang "${cflags[@]}" tests/fuzz/mux_fuzz.c lib/frame.c lib/mux.c lib/sess.c lib/buf.c \
		lib/log.c lib/clock.c lib/budget.c lib/pool.c -lxxhash -o "$out/$target"
	;;
wss)
	clang "${cflags[@]}" -Iagent -Irelay tests/fuzz/wss_fuzz.c lib/ws.c lib/wskey.c lib/buf.c \
		agent/hresp.c relay/hparse.c relay/wsup.c -lwslay -lhttp_parser -lcrypto \
		-o "$out/$target"
	;;
ingress)
	clang "${cflags[@]}" -Irelay tests/fuzz/ingress_fuzz.c relay/hparse.c relay/sni.c \
		-lhttp_parser -o "$out/$target"
	;;
*) echo "usage: $0 [SECONDS] [mux|wss|ingress]" >&2; exit 2 ;;
esac
mkdir -p "$out/corpus"
"$out/$target" -max_total_time="$secs" -max_len=4096 "$out/corpus"
echo "fuzz: $target: no crash in $secs s (corpus in $out/corpus)"
