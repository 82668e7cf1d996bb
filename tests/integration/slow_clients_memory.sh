#!/usr/bin/env bash
# shellcheck disable=SC2119 # lib.sh helpers take optional arguments
# 1,000 public clients that ask for a large response and never read cost the relay
# about their initial windows, not a full window each; other clients keep being served.
#
#                                 relay --max-buffer-mem 32M (share per agent: 8M)
#   hold x1000 (--no-read) ─▶ :PUB_A ─┐                              ┌─▶ serve source 4 MiB seed 7 :SRC_A
#   recv 4 MiB   (reads)   ─▶ :PUB_A ─┴══ agent a (token A) ═════════┘
#   recv 16 MiB  (reads)   ─▶ :PUB_C ────══ agent a ═════════════════──▶ serve source 16 MiB seed 9 :SRC_C
#   recv 16 MiB  (reads)   ─▶ :PUB_B ────══ agent b (token B) ═══════──▶ serve source 16 MiB seed 8 :SRC_B
#
# Runs in a network namespace of its own whose TCP buffers are capped at 128 KiB
# (net.ipv4.tcp_rmem / tcp_wmem are per namespace): with the defaults (up to 4 MiB of
# send buffer per socket) 1,000 sources park gigabytes in the kernel, push the
# machine's global tcp_mem past its pressure line (slowing every TCP user on the
# box) and leave nothing for the relay to buffer. fy-load has no option to set the
# non-readers' SO_RCVBUF or the source's SO_SNDBUF; the namespace does it for all.
#
# 1. The 1,000 non-readers connect; every one reaches the target (1,000 accepts), which
#    writes 4 MiB to each: far more than the kernel buffers on the way can take, so
#    each stream's relay buffer fills to its window. Once the relay's RSS has stopped
#    growing (bounded wait), its growth over the baseline must stay below
#        BOUND = 1000 x 64 KiB  initial windows (what a stream may hold without growth)
#              +        8 MiB  agent a's share of the budget (all the growth it may get)
#              +       48 MiB  overhead: per-stream structures, TLS records, buffer
#                              rounding, allocator arenas
#              = 118.5 MiB     (measured: ~67 MiB, see the log line "relay RSS grew")
#    The relay before the buffer budget (a 1 MiB window per stream from the start)
#    grew by ~800 MiB here, and was still growing.
# 2. While the 1,000 are held: a client on the same port (agent a, 4 MiB), one on
#    another port of agent a (16 MiB) and one on agent b's port (16 MiB) each receive
#    everything, byte-checked and sha256-verified, and the relay's RSS (and its peak,
#    VmHWM) is still within the bound.
# 3. The 1,000 leave: none of them was reset or ended while held, the target sees all
#    1,000 connections end, the relay's descriptors return to the baseline, its RSS
#    does not climb further, and another 16 MiB transfer works.
# Needs root (a network namespace).
if [ -z "${FY_IN_MEM_NS:-}" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "SKIP slow_clients_memory: needs root (a network namespace with small TCP buffers)"
		exit 77
	fi
	ns=fymem$$
	trap 'ip netns del "$ns" 2>/dev/null' EXIT
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	ip netns exec "$ns" sh -c 'echo "4096 65536 131072" >/proc/sys/net/ipv4/tcp_rmem &&
		echo "4096 16384 131072" >/proc/sys/net/ipv4/tcp_wmem' ||
		{ echo "FAIL slow_clients_memory: cannot set the namespace's TCP buffer sizes"; exit 1; }
	rc=0
	FY_IN_MEM_NS=1 FY_KEEP=${FY_KEEP:-0} ip netns exec "$ns" bash "$0" "$@" || rc=$?
	exit "$rc"
fi

# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
fy_init 24000
# 1,000 connections in each of the clients, the relay, the agent and the target.
hard=$(ulimit -Hn)
[ "$hard" = unlimited ] || [ "$hard" -ge 4096 ] || skip "needs a hard descriptor limit of 4096 or more (ulimit -Hn: $hard)"
[ "$(ulimit -Sn)" = unlimited ] || [ "$(ulimit -Sn)" -ge 4096 ] || ulimit -Sn 4096

fy_alloc_port RELAY_PORT
fy_alloc_port SRC_A
fy_alloc_port SRC_B
fy_alloc_port SRC_C
fy_alloc_port PUB_A
fy_alloc_port PUB_B
fy_alloc_port PUB_C
N=1000
INIT_WINDOW_KB=64
SHARE_KB=$((8 * 1024))
OVERHEAD_KB=$((48 * 1024))
if fy_is_asan "$RELAY_BIN"; then
	# ASan's shadow memory and quarantine grow with allocations, not with what is held.
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=16"
	OVERHEAD_KB=$((160 * 1024))
	fy_say "relay built with ASan: overhead allowance raised to 160 MiB"
fi
BOUND_KB=$((N * INIT_WINDOW_KB + SHARE_KB + OVERHEAD_KB))
fy_say "TCP buffers here: rmem $(tr '\t' ' ' </proc/sys/net/ipv4/tcp_rmem), wmem $(tr '\t' ' ' </proc/sys/net/ipv4/tcp_wmem)"

fy_certs
TOK_A=$(fy_token a "$FY_PORT_RANGE")
TOK_B=$(fy_token b "$FY_PORT_RANGE")
fy_serve serve-a "$SRC_A" --mode source --bytes 4M --seed 7
fy_serve serve-b "$SRC_B" --mode source --bytes 16M --seed 8
fy_serve serve-c "$SRC_C" --mode source --bytes 16M --seed 9
fy_relay_start --max-buffer-mem 32M
fy_agent_start a "$TOK_A" -R "$PUB_A:127.0.0.1:$SRC_A" -R "$PUB_C:127.0.0.1:$SRC_C"
fy_agent_start b "$TOK_B" -R "$PUB_B:127.0.0.1:$SRC_B"
wait_listen "$PUB_A" 20
wait_listen "$PUB_B" 20
wait_listen "$PUB_C" 20
pid=$FY_RELAY_PID

# transfer_ok DESC PORT BYTES SEED: a reading client gets all of the source, intact.
transfer_ok() {
	load_ok "$1" recv --connect "127.0.0.1:$2" --bytes "$3" --seed "$4" --timeout 90
	[ "$(field sha256 "$FY_OUT")" = "$(gen_sha "$3" "$4")" ] ||
		fail "$1: sha256 differs from sha256sum of the generator's stream"
}

# Warm-up: every tunnel is up and the relay's allocator has seen transfers.
transfer_ok "warm-up, agent a" "$PUB_A" 4M 7
transfer_ok "warm-up, agent a, 2nd port" "$PUB_C" 16M 9
transfer_ok "warm-up, agent b" "$PUB_B" 16M 8
wait_log_count "$T/serve-a.out" '^conn id=' 1 20
wait_log_count "$T/serve-b.out" '^conn id=' 1 20
wait_log_count "$T/serve-c.out" '^conn id=' 1 20
base_kb=$(fy_rss_kb "$pid")
base_fds=$(fy_fds "$pid")
limit_kb=$((base_kb + BOUND_KB))
fy_say "relay baseline: RSS ${base_kb} KiB, ${base_fds} descriptors; RSS limit ${limit_kb} KiB (bound $((BOUND_KB / 1024)) MiB)"

# 1. The non-readers.
fy_bg hold "$LOAD" hold --connect "127.0.0.1:$PUB_A" --conns "$N" --no-read --duration 150 \
	--timeout 170
# Every one of them is a stream: the target accepts N more connections (the warm-up was 1).
wait_log_count "$T/serve-a.out" '^accept ' $((N + 1)) 60
check_ok "$N non-reading clients connected, the target accepted all of them"

max_kb=$base_kb
rss_kb=$base_kb
sample() {
	rss_kb=$(fy_rss_kb "$pid")
	[ "$rss_kb" -gt "$max_kb" ] && max_kb=$rss_kb
	[ "$rss_kb" -le "$limit_kb" ] ||
		fail "relay RSS reached ${rss_kb} KiB with $N non-readers: over baseline ${base_kb} + bound ${BOUND_KB} KiB"
	return 0
}
# Settled: less than 1 MiB of growth over the last 4 s (samples every 0.5 s); at most 90 s.
hist=()
settled=0
for ((i = 0; i < 180; i++)); do
	fy_alive "${FY_PID[hold]}" || fail "hold ended early: $(tail -n 2 "$T/hold.out")"
	sleep 0.5
	sample
	hist+=("$rss_kb")
	n=${#hist[@]}
	# (and the windows have begun to fill: half of N x 64 KiB at least)
	if [ "$n" -ge 9 ] && [ $((rss_kb - hist[n - 9])) -lt 1024 ] &&
		[ $((rss_kb - base_kb)) -ge $((N * INIT_WINDOW_KB / 2)) ]; then
		settled=1
		break
	fi
done
trace=
for ((j = 0; j < ${#hist[@]}; j += 4)); do trace="$trace $((hist[j] / 1024))"; done
fy_say "relay RSS (MiB, every 2 s):$trace"
grown_kb=$((max_kb - base_kb))
# With nothing held in the relay this scenario would prove nothing: the windows must fill.
[ "$grown_kb" -ge $((N * INIT_WINDOW_KB / 2)) ] ||
	fail "relay RSS grew only ${grown_kb} KiB in 90 s: the non-readers' windows did not fill"
[ "$settled" -eq 1 ] || fail "relay RSS still growing after 90 s: ${rss_kb} KiB (baseline ${base_kb})"
fy_say "relay RSS grew ${grown_kb} KiB ($((grown_kb / 1024)) MiB) with $N non-readers, settled at ${rss_kb} KiB after $((${#hist[@]} / 2)) s; bound $((BOUND_KB / 1024)) MiB"
check_ok "relay RSS settled ${grown_kb} KiB over baseline with $N non-readers (bound ${BOUND_KB} KiB)"

# 2. Other clients are served meanwhile.
transfer_ok "while $N are held: 4 MiB through agent a, same port" "$PUB_A" 4M 7
transfer_ok "while $N are held: 16 MiB through agent a, other port" "$PUB_C" 16M 9
transfer_ok "while $N are held: 16 MiB through agent b" "$PUB_B" 16M 8
sample
fy_alive "${FY_PID[hold]}" || fail "hold ended early: $(tail -n 2 "$T/hold.out")"
hwm_kb=$(fy_hwm_kb "$pid")
[ "$hwm_kb" -le "$limit_kb" ] ||
	fail "relay peak RSS (VmHWM) reached ${hwm_kb} KiB: over baseline ${base_kb} + bound ${BOUND_KB} KiB"
check_ok "relay RSS within the bound during the transfers (now ${rss_kb} KiB, peak ${hwm_kb} KiB)"

# 3. The non-readers leave.
held_kb=$rss_kb
# hold prints a 'conn I OUTCOME' line for each connection that ends: none may have.
ended=$(log_count "$T/hold.out" '^conn [0-9]+ ')
[ "$ended" -eq 0 ] || fail "$ended of the $N non-readers ended while held: $(grep -m3 '^conn ' "$T/hold.out")"
check_ok "all $N non-readers were still open after the three transfers"
# fy-load hold has no SIGTERM handler: it dies, and the kernel closes its connections.
fy_stop hold TERM 5
wait_log_count "$T/serve-a.out" '^conn id=' $((N + 2)) 60
check_ok "the target saw all $N held connections end"
for ((i = 0; i < 300; i++)); do
	fds=$(fy_fds "$pid")
	[ "$fds" -le "$base_fds" ] && break
	sleep 0.1
done
[ "$fds" -le "$base_fds" ] || fail "relay holds $fds descriptors after the non-readers left, $base_fds before"
check_ok "relay descriptors back to the baseline ($fds)"
transfer_ok "after they left: 16 MiB through agent a" "$PUB_C" 16M 9
transfer_ok "after they left: 4 MiB through agent a, the non-readers' port" "$PUB_A" 4M 7
after_kb=$(fy_rss_kb "$pid")
hwm2_kb=$(fy_hwm_kb "$pid")
fy_say "relay RSS: ${held_kb} KiB while held, ${after_kb} KiB after they left, peak ${hwm2_kb} KiB"
[ "$hwm2_kb" -le "$limit_kb" ] || fail "relay peak RSS reached ${hwm2_kb} KiB after the release: over ${limit_kb} KiB"
[ "$after_kb" -le $((held_kb + 4096)) ] ||
	fail "relay RSS kept climbing after the non-readers left: ${after_kb} KiB, ${held_kb} KiB while held"
check_ok "relay RSS did not climb after the release (${after_kb} KiB)"

pass
