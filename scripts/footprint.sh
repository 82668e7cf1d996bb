#!/usr/bin/env bash
# scripts/footprint.sh [--seconds N] [--bytes SIZE]: what ferry-agent costs on an
# edge machine, as a table (README.md, "The agent on single-board computers"):
#
#   size     the stripped agent for x86_64 (FY_BUILD), arm64 and armhf (scripts/cross.sh
#            builds them), and the shared libraries each needs
#   memory   the agent's RSS idle (connected, 3 forwards, nothing moving) and while
#            serving 1,000 requests/s through 50 streams (50 client connections
#            through the relay to an echo target, 64-byte request and reply, each
#            connection paced at 20/s) for N seconds (default 20): highest RSS
#            sampled every 100 ms, and the kernel's high-water mark (VmHWM); split
#            into the agent's own memory (RssAnon: heap, buffers, stacks) and pages
#            of files it maps (RssFile: mostly libcrypto and libc, shared with every
#            other process that uses them), and its PSS (shared pages divided among
#            their users)
#   CPU      the agent's CPU time (user + system, /proc) per GB carried, SIZE
#            (default 1G) each way through one stream; the relay's beside it
# Everything runs on 127.0.0.1 with the native build (FY_BUILD, default build/); the
# ARM builds are measured for size only (under qemu-user their RSS would be the
# emulator's). Needs python3.
# shellcheck disable=SC2119 # lib.sh helpers take optional arguments
SECS=20 BYTES=1G
while [ $# -gt 0 ]; do
	case $1 in
	--seconds) SECS=$2; shift ;;
	--bytes) BYTES=$2; shift ;;
	*) echo "usage: $0 [--seconds N] [--bytes SIZE]" >&2; exit 2 ;;
	esac
	shift
done
# shellcheck source=SCRIPTDIR/../tests/lib.sh
. "$(dirname "$0")/../tests/lib.sh"
fy_init 25200
command -v python3 >/dev/null || fail "python3 is needed"

kib() { echo $((($1 + 1023) / 1024)); }
needs() { "${1}readelf" -d "$2" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | tr '\n' ' '; }

# ---------------------------------------------------------------- size
declare -a ROWS=()
strip -o "$T/agent-x86_64" "$AGENT_BIN"
ROWS+=("| size, x86_64 (stripped) | $(kib "$(stat -c %s "$T/agent-x86_64")") KiB | needs $(needs "" "$T/agent-x86_64")|")
for arch in arm64 armhf; do
	case $arch in arm64) tp=aarch64-linux-gnu- ;; armhf) tp=arm-linux-gnueabihf- ;; esac
	if "$FY_ROOT/scripts/cross.sh" "$arch" >"$T/cross-$arch.out" 2>&1; then
		b=$FY_ROOT/build-cross-$arch/ferry-agent
		ROWS+=("| size, $arch (stripped) | $(kib "$(stat -c %s "$b")") KiB | needs $(needs "$tp" "$b")|")
	else
		ROWS+=("| size, $arch | not built | scripts/cross.sh $arch failed: $(tail -n 1 "$T/cross-$arch.out") |")
	fi
done

# ---------------------------------------------------------------- relay, agent
fy_alloc_port RELAY_PORT
fy_alloc_port ECHO
fy_alloc_port SINK
fy_alloc_port SRC
fy_alloc_port PUB_ECHO
fy_alloc_port PUB_SINK
fy_alloc_port PUB_SRC
fy_certs
TOK=$(fy_token edge "$FY_PORT_RANGE")
fy_serve serve-echo "$ECHO" --mode echo
fy_serve serve-sink "$SINK" --mode sink
fy_serve serve-src "$SRC" --mode source --bytes "$BYTES" --seed 5
fy_relay_start --log-level info
fy_agent_start edge "$TOK" --log-level info -R "$PUB_ECHO:127.0.0.1:$ECHO" \
	-R "$PUB_SINK:127.0.0.1:$SINK" -R "$PUB_SRC:127.0.0.1:$SRC"
AP=${FY_AGENT_PID[edge]}
wait_log_count "$T/agent-edge.log" "forwarding relay port" 3 20
LOOP=$(grep -o 'event loop [a-z_]*' "$T/agent-edge.log" | head -n 1)
sleep 3
st() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
pss() { awk '$1 == "Pss:" { print $2 }' "/proc/$1/smaps_rollup"; }
ROWS+=("| RSS idle (connected, 3 forwards) | $(st "$AP" VmRSS) KiB | own (RssAnon) $(st "$AP" RssAnon) KiB + mapped files (RssFile) $(st "$AP" RssFile) KiB; PSS $(pss "$AP") KiB; x86_64, $LOOP |")

# ---------------------------------------------------------------- 1,000 req/s, 50 streams
python3 "$FY_ROOT/scripts/paced_load.py" "$PUB_ECHO" "$AP" "$SECS" >"$T/load.out" 2>"$T/load.err" || fail "the paced load failed: $(cat "$T/load.err")"
L=$(cat "$T/load.out")
ROWS+=("| RSS at 1,000 req/s over 50 streams, ${SECS} s | $(field max_rss_kb "$L") KiB (VmHWM $(field hwm_kb "$L") KiB) | own (RssAnon) at most $(field max_anon_kb "$L") KiB; $(field rate "$L") req/s done, p50 $(field p50_ms "$L") ms, p99 $(field p99_ms "$L") ms, $(field errors "$L") wrong replies |")

# ---------------------------------------------------------------- CPU per GB
RP=$FY_RELAY_PID
cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }   # clock ticks
HZ=$(getconf CLK_TCK)
per_gb() { python3 -c "import sys; t, b, hz = map(float, sys.argv[1:]); print('%.2f' % (t / hz / (b / 1e9)))" "$@"; }
bytes=$(numfmt --from=iec "$BYTES")
a0=$(cpu "$AP") r0=$(cpu "$RP") t0=$(date +%s%N)
load_ok "upload $BYTES (client -> edge)" send --connect "127.0.0.1:$PUB_SINK" --bytes "$BYTES" --seed 1 --timeout 300
a1=$(cpu "$AP") r1=$(cpu "$RP") t1=$(date +%s%N)
load_ok "download $BYTES (edge -> client)" recv --connect "127.0.0.1:$PUB_SRC" --bytes "$BYTES" --seed 5 --timeout 300
a2=$(cpu "$AP") r2=$(cpu "$RP") t2=$(date +%s%N)
mbps() { python3 -c "import sys; b, ns = map(float, sys.argv[1:]); print('%.0f' % (b * 8 / (ns / 1e9) / 1e6))" "$@"; }
ROWS+=("| CPU per GB, client -> edge | agent $(per_gb $((a1 - a0)) "$bytes" "$HZ") s | relay $(per_gb $((r1 - r0)) "$bytes" "$HZ") s; $(mbps "$bytes" $((t1 - t0))) Mbit/s on loopback |")
ROWS+=("| CPU per GB, edge -> client | agent $(per_gb $((a2 - a1)) "$bytes" "$HZ") s | relay $(per_gb $((r2 - r1)) "$bytes" "$HZ") s; $(mbps "$bytes" $((t2 - t1))) Mbit/s on loopback |")
ROWS+=("| RSS after the 2 x $BYTES | $(st "$AP" VmRSS) KiB (VmHWM $(st "$AP" VmHWM) KiB) | own (RssAnon) $(st "$AP" RssAnon) KiB: stream windows grown for bulk |")

echo
echo "ferry-agent footprint ($(uname -m) host, $(nproc) cores, $(date -u +%Y-%m-%d), build $FY_BUILD)"
echo
echo "| what | ferry-agent | notes |"
echo "|---|---|---|"
printf '%s\n' "${ROWS[@]}"
echo
pass
