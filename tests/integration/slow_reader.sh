#!/usr/bin/env bash
# shellcheck disable=SC2119 # lib.sh helpers take optional arguments
# A slow reader on one stream does not stall the other streams of the same tunnel, and
# the relay's memory for that stream stays bounded by its window.
#
#                                  relay (--workers 1: one tunnel)            agent
#   slowpair ─ slow ─▶ :PUB_SLOW ─┐                                     ┌─▶ serve sink --slow-read 64K/s :SLOW
#            ─ fast ─▶ :PUB_FAST ─┼══════════ one TLS tunnel ═══════════┼─▶ serve sink                    :FAST
#   (no-read) ◀─ slow ─ :PUB_SRC ─┘                                     └── serve source 64 MiB          :SRC
#
# 1. client -> target: the slow stream pushes 64 MiB at a target that reads 64 KiB/s;
#    once its sender is blocked, a fast stream sends 32 MiB to another target on the same
#    tunnel and must finish (sha256 checked) while the slow one is still in progress.
# 2. target -> client: a client connects to a 64 MiB source and reads nothing. Once its
#    receive queue stops growing, a fast 32 MiB stream must complete; then, while the
#    non-reader is still connected, the relay's resident memory must stay below
#        baseline + BOUND,  BOUND = 2 streams x 2 directions x window (256 KiB) = 1 MiB
#                                   + 8 MiB slack (TLS records, allocator arenas, stacks)
#    Without flow control the relay would have to hold most of the 64 MiB. Checked on
#    samples of VmRSS and on VmHWM (the peak, which catches what falls between samples).
#    Finally the non-reader reads everything: all 64 MiB arrive intact.
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
fy_init 21200

fy_alloc_port RELAY_PORT
fy_alloc_port SLOW
fy_alloc_port FAST
fy_alloc_port SRC
fy_alloc_port PUB_SLOW
fy_alloc_port PUB_FAST
fy_alloc_port PUB_SRC
WINDOW=262144
SLACK_KB=$((8 * 1024))
if fy_is_asan "$RELAY_BIN"; then
	# ASan's quarantine and shadow memory grow with allocation churn, not with what is
	# held; keep the quarantine small and allow more slack.
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4"
	SLACK_KB=$((32 * 1024))
	fy_say "relay built with ASan: slack raised to 32 MiB"
fi
BOUND_KB=$((2 * 2 * WINDOW / 1024 + SLACK_KB))

fy_certs
TOK=$(fy_token slow "$FY_PORT_RANGE")
fy_serve serve-slow "$SLOW" --mode sink --slow-read 64K --rcvbuf 64K
fy_serve serve-fast "$FAST" --mode sink
fy_serve serve-src "$SRC" --mode source --bytes 64M --seed 3
fy_relay_start --workers 1 --window "$WINDOW"
fy_agent_start slow "$TOK" -R "$PUB_SLOW:127.0.0.1:$SLOW" -R "$PUB_FAST:127.0.0.1:$FAST" \
	-R "$PUB_SRC:127.0.0.1:$SRC"
wait_listen "$PUB_SLOW" 15
wait_listen "$PUB_FAST" 15
wait_listen "$PUB_SRC" 15

# 1. slow target, fast target, same tunnel.
load_ok "fast 32 MiB passes a blocked slow stream (client -> target)" slowpair \
	--slow "127.0.0.1:$PUB_SLOW" --slow-kind send --slow-bytes 64M \
	--fast "127.0.0.1:$PUB_FAST" --fast-kind send --fast-bytes 32M --seed 10 --timeout 60
grep -q 'slow=in-progress' <<<"$FY_OUT" || fail "slow stream was not in progress"

# 2. non-reading client on a 64 MiB source.
load_ok "warm-up" send --connect "127.0.0.1:$PUB_FAST" --bytes 4M --seed 5 --timeout 30
pid=$FY_RELAY_PID
base_kb=$(fy_rss_kb "$pid")
hwm0_kb=$(fy_hwm_kb "$pid")
limit_kb=$((base_kb + BOUND_KB))
fy_say "relay RSS baseline ${base_kb} KiB (peak so far ${hwm0_kb} KiB), limit ${limit_kb} KiB"

fy_bg noread "$LOAD" slowpair --slow "127.0.0.1:$PUB_SRC" --slow-kind noread --slow-bytes 64M \
	--fast "127.0.0.1:$PUB_FAST" --fast-kind send --fast-bytes 32M --seed 3 \
	--pause-file "$T/go" --timeout 120
max_kb=$base_kb
sample() {
	local r
	r=$(fy_rss_kb "$pid")
	[ "$r" -gt "$max_kb" ] && max_kb=$r
	return 0
}
# Sample while the fast stream runs (bounded: slowpair has its own --timeout).
while ! grep -q '^fast done' "$T/noread.out"; do
	fy_alive "${FY_PID[noread]}" || fail "slowpair ended early: $(tail -n 1 "$T/noread.out")"
	sample
	sleep 0.05
done
check_ok "$(grep '^fast done' "$T/noread.out") (target -> client, non-reader connected)"
# Keep the non-reader connected for 2 more seconds of samples.
for ((i = 0; i < 40; i++)); do
	sample
	sleep 0.05
done
hwm_kb=$(fy_hwm_kb "$pid")
fy_say "relay RSS: max sampled ${max_kb} KiB, VmHWM ${hwm_kb} KiB (was ${hwm0_kb}), baseline ${base_kb} KiB"
[ "$max_kb" -le "$limit_kb" ] ||
	fail "relay RSS reached ${max_kb} KiB with a non-reading client: over baseline ${base_kb} + bound ${BOUND_KB} KiB"
if [ "$hwm_kb" -gt "$hwm0_kb" ] && [ "$hwm_kb" -gt "$limit_kb" ]; then
	fail "relay peak RSS (VmHWM) reached ${hwm_kb} KiB: over baseline ${base_kb} + bound ${BOUND_KB} KiB"
fi
check_ok "relay RSS stayed within baseline + $((BOUND_KB / 1024)) MiB (grew $((max_kb - base_kb)) KiB)"

touch "$T/go"
fy_bg_wait noread
[ "$FY_RC" -eq 0 ] || fail "non-reading client, once it read: $(fy_result noread) (exit $FY_RC)"
check_ok "non-reader then read all 64 MiB intact: $(fy_result noread)"

pass
