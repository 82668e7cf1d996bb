#!/usr/bin/env bash
# relay/net against the Linux kernel's TCP, over a TAP device.
#
#   netns fynet-PID
#   +-----------------------------------------------------------+
#   |  kernel TCP/IP            TAP fytap0            tap_peer   |
#   |  10.77.0.1/24  <======== (frames) ========>  relay/net     |
#   |  socat, python                                10.77.0.2   |
#   +-----------------------------------------------------------+
#
# 1. ICMP echo from the kernel is answered (checksum checked by python).
# 2. A kernel client sends 16 MiB to tap_peer's echo port and gets the same
#    bytes back (sha256), with a half-close at the end.
# 3. tap_peer connects to a kernel socat sink and sends 16 MiB (sha256).
# 4. 2 and 3 again with 5% random loss in both directions (nftables
#    numgen rules on the TAP; netem is not in this kernel).
#
# Usage: tests/net/tap_interop.sh [path/to/tap_peer]   (root; exit 77 = skipped)
# Environment: FY_NET_MIB (transfer size, default 16), FY_NET_LOSS (default 5).
set -eu

peer=${1:-${FY_BUILD:-build}/tests/net/tap_peer}
mib=${FY_NET_MIB:-16}
loss=${FY_NET_LOSS:-5}
sack=${FY_NET_SACK:-on}	# off: tap_peer's stack recovers with NewReno alone

if [ "$(id -u)" != 0 ]; then
	echo "SKIP: tap_interop needs root (network namespace, TAP device)"
	exit 77
fi
for t in ip nft socat ss sha256sum timeout; do
	if ! command -v "$t" >/dev/null; then
		echo "SKIP: $t not installed"
		exit 77
	fi
done
py=$(command -v /usr/bin/python3 || command -v python3 || true)
if [ ! -x "$peer" ]; then
	echo "FAIL: tap_peer not found at $peer" >&2
	exit 1
fi
if [ ! -c /dev/net/tun ]; then
	echo "SKIP: no /dev/net/tun"
	exit 77
fi

ns=fynet-$$
dev=fytap0
tmp=$(mktemp -d)
pids=()

cleanup() {
	set +e
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	ip netns del "$ns" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

n() { ip netns exec "$ns" "$@"; }
fail() { echo "FAIL: $*" >&2; for f in "$tmp"/*.log; do [ -e "$f" ] && sed "s|^|  $(basename "$f"): |" "$f" >&2; done; exit 1; }
now() { date +%s.%N; }
mbps() { awk -v b="$1" -v s="$2" -v e="$3" 'BEGIN { t = e - s; printf "%.1f MiB/s (%.1f Mbit/s, %.2f s)", b / 1048576 / t, b * 8 / t / 1e6, t }'; }

ip netns add "$ns"
n ip link set lo up
n ip tuntap add dev "$dev" mode tap
n ip addr add 10.77.0.1/24 dev "$dev"
n ip link set "$dev" up

head -c $((mib * 1048576)) /dev/urandom >"$tmp/in"
want=$(sha256sum <"$tmp/in" | cut -d' ' -f1)
bytes=$((mib * 1048576))

server=
start_server() {
	# Not through n(): a backgrounded function is a subshell, and $!
	# must be the process itself so that kill reaches it.
	ip netns exec "$ns" timeout 600 "$peer" --dev "$dev" --ip 10.77.0.2/24 --echo 7 \
		--sack "$sack" --timeout 500 2>>"$tmp/server.log" &
	server=$!
	pids+=("$server")
}
stop_server() {
	kill "$server" 2>/dev/null || true
	wait "$server" 2>/dev/null || true
	grep counters "$tmp/server.log" | tail -1 | sed 's/^/  /'
	rm -f "$tmp/server.log"
}

# An ICMP echo from the kernel; waits for tap_peer to come up.
icmp_check() {
	[ -n "$py" ] || { echo "  (no python: ICMP check skipped)"; return 0; }
	n "$py" - <<'EOF' || fail "no ICMP echo reply from 10.77.0.2"
import os, socket, struct, sys, time
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.settimeout(0.2)
payload = os.urandom(56)
for i in range(50):
    hdr = struct.pack("!BBHHH", 8, 0, 0, 0x4659, i)
    pkt = struct.pack("!BBHHH", 8, 0, csum(hdr + payload), 0x4659, i) + payload
    try:
        s.sendto(pkt, ("10.77.0.2", 0))
    except PermissionError:
        continue  # the loss rule dropped it on the way out (EPERM): try again
    try:
        while True:
            r, a = s.recvfrom(2048)
            ihl = (r[0] & 15) * 4
            icmp = r[ihl:]
            if a[0] == "10.77.0.2" and icmp[0] == 0 and icmp[4:8] == pkt[4:8]:
                ok = csum(icmp) == 0 and icmp[8:] == payload
                print("  ICMP echo reply: seq %d, checksum %s" % (i, "ok" if ok else "BAD"))
                sys.exit(0 if ok else 1)
    except socket.timeout:
        pass
sys.exit(1)
EOF
}

echo_test() {
	local t0 t1 got
	rm -f "$tmp/out"
	t0=$(now)
	timeout 300 ip netns exec "$ns" socat -t 120 -T 120 - TCP:10.77.0.2:7,connect-timeout=5 \
		<"$tmp/in" >"$tmp/out" 2>"$tmp/socat.log" || fail "echo client ($1): socat failed"
	t1=$(now)
	got=$(sha256sum <"$tmp/out" | cut -d' ' -f1)
	[ "$got" = "$want" ] || fail "echo ($1): sha256 differs ($(stat -c %s "$tmp/out") of $bytes bytes back)"
	echo "PASS echo $mib MiB each way ($1): $(mbps "$bytes" "$t0" "$t1")"
	rm -f "$tmp/socat.log"
}

client_test() {
	local sink t0 t1 got i
	rm -f "$tmp/out"
	ip netns exec "$ns" timeout 300 socat -u TCP-LISTEN:9000,reuseaddr \
		OPEN:"$tmp/out",creat,trunc 2>"$tmp/sink.log" &
	sink=$!
	pids+=("$sink")
	for i in $(seq 100); do
		n ss -ltn 2>/dev/null | grep -q ':9000 ' && break
		sleep 0.05
	done
	t0=$(now)
	n timeout 300 "$peer" --dev "$dev" --ip 10.77.0.2/24 --connect 10.77.0.1:9000 \
		--send "$tmp/in" --sack "$sack" --timeout 280 2>"$tmp/client.log" || fail "tap_peer client ($1) failed"
	t1=$(now)
	wait "$sink" || fail "sink ($1) failed"
	got=$(sha256sum <"$tmp/out" | cut -d' ' -f1)
	[ "$got" = "$want" ] || fail "client ($1): sha256 differs ($(stat -c %s "$tmp/out") of $bytes bytes)"
	echo "PASS stack -> kernel $mib MiB ($1): $(mbps "$bytes" "$t0" "$t1")"
	grep -E "sent|counters" "$tmp/client.log" | sed 's/^/  /'
	rm -f "$tmp/client.log" "$tmp/sink.log"
}

start_server
icmp_check
echo_test "no loss"
stop_server
client_test "no loss"

n nft add table inet fyloss
n nft add chain inet fyloss out '{ type filter hook output priority 0 ; }'
n nft add rule inet fyloss out oifname "$dev" numgen random mod 100 '<' "$loss" drop
n nft add chain inet fyloss in '{ type filter hook input priority 0 ; }'
n nft add rule inet fyloss in iifname "$dev" numgen random mod 100 '<' "$loss" drop

start_server
icmp_check
echo_test "$loss% loss each way"
stop_server
client_test "$loss% loss each way"
echo "tap_interop: all passed"
