#!/usr/bin/env bash
# shellcheck disable=SC2119 # lib.sh helpers take optional arguments
# Real programs through the DPDK relay, each end in its own namespace of the test
# topology (tests/topo/topo.sh, one site):
#
#   client ns (CIP)                  relay ns (RIP)                       edge ns (EIP), behind
#   curl  ──▶ :P_HTTP  ─┐                                                 its NAT router
#   ssh   ──▶ :P_SSH   ─┼─ bridge ─▶ ferry-relay --backend dpdk ◀══TLS══ ferry-agent ─┬─▶ python3 -m http.server
#   iperf3 ─▶ :P_IPERF ─┘ ("internet") net_af_packet          (masquerade)          ├─▶ sshd -D (throwaway)
#                                                                                   └─▶ iperf3 -s
#
# curl fetches 8 MiB and a small file, and gets a 404 (sha256 and bodies checked);
# ssh pipes 16 MiB to a remote sha256sum (answer checked) and runs a command;
# iperf3 runs 2 s each way (-R too) over its control and data connections. Only the
# DPDK relay's own TCP stack (and the edge's NAT) sits between the kernels of the
# client and the edge.
# Needs root (namespaces, bridge, sshd's PermitRootLogin), a build with DPDK, curl,
# python3, ssh, /usr/sbin/sshd, iperf3.
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=SCRIPTDIR/../lib_dpdk.sh
. "$(dirname "$0")/../lib_dpdk.sh"
fy_init 23000
dp_require
for t in curl python3 ssh ssh-keygen iperf3; do
	command -v "$t" >/dev/null || fail "$t is needed (scripts/deps.sh installs it)"
done
[ -x /usr/sbin/sshd ] || fail "/usr/sbin/sshd is needed (scripts/deps.sh installs openssh-server)"

dp_topology3 10.93 fq
fy_alloc_port HTTP
fy_alloc_port SSHD
fy_alloc_port IPERF
fy_alloc_port P_HTTP
fy_alloc_port P_SSH
fy_alloc_port P_IPERF
E=(ip netns exec "$NSE")
C=(ip netns exec "$NSC")

dp_certs
TOK=$(fy_token edge "$FY_PORT_RANGE")

# --- the edge's services, on its loopback
mkdir -p "$T/www"
"$LOAD" gen --bytes 8M --seed 41 >"$T/www/big.bin"
printf 'hello through ferry on DPDK\n' >"$T/www/hello.txt"
fy_bg serve-http "${E[@]}" python3 -m http.server "$HTTP" --bind 127.0.0.1 --directory "$T/www"

fy_sshd_config "$SSHD"
fy_bg serve-sshd "${E[@]}" /usr/sbin/sshd -f "$T/ssh/sshd_config" -D -e
fy_bg serve-iperf "${E[@]}" iperf3 -s -B 127.0.0.1 -p "$IPERF"

# listening_in NS PORT: something listens on PORT in namespace NS, within 15 s.
listening_in() {
	local i
	for ((i = 0; i < 300; i++)); do
		ip netns exec "$1" ss -Hltn "sport = :$2" 2>/dev/null | grep -q . && return 0
		sleep 0.05
	done
	fail "nothing listens on port $2 in $1 after 15 s"
}
for p in "$HTTP" "$SSHD" "$IPERF"; do listening_in "$NSE" "$p"; done

# --- relay and agent
dp_relay_start --workers 1 --dpdk-mbufs 8191 --log-level info
dp_relay_wait_up
check_ok "DPDK relay up at $RIP, answers ICMP from the client namespace"
"${E[@]}" "$AGENT_BIN" --relay "$RIP:$RELAY_PORT" --token "$TOK" --ca "$T/pki/ca.crt" --name edge \
	--io "$FY_AGENT_IO" --log-level debug -R "$P_HTTP:127.0.0.1:$HTTP" \
	-R "$P_SSH:127.0.0.1:$SSHD" -R "$P_IPERF:127.0.0.1:$IPERF" >>"$T/agent-edge.log" 2>&1 &
FY_PID[agent-edge]=$!
wait_log_count "$T/agent-edge.log" "forwarding relay port" 3 20
check_ok "agent in the edge namespace claimed 3 ports"

# --- curl
want=$(sha256sum <"$T/www/big.bin" | cut -d' ' -f1)
"${C[@]}" curl -sS --fail --max-time 60 -o "$T/got.bin" "http://$RIP:$P_HTTP/big.bin" 2>"$T/curl.err" ||
	fail "curl through the DPDK relay failed: $(cat "$T/curl.err")"
got=$(sha256sum <"$T/got.bin" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "curl got sha256 $got ($(stat -c %s "$T/got.bin") bytes), want $want"
check_ok "curl: 8 MiB through the DPDK relay, sha256 $got"
body=$("${C[@]}" curl -sS --fail --max-time 30 "http://$RIP:$P_HTTP/hello.txt")
[ "$body" = "hello through ferry on DPDK" ] || fail "curl got '$body'"
code=$("${C[@]}" curl -sS -o /dev/null -w '%{http_code}' --max-time 30 "http://$RIP:$P_HTTP/missing")
[ "$code" = 404 ] || fail "curl for a missing file got HTTP $code, want 404"
check_ok "curl: small file and a 404"

# --- ssh
SSH=(ssh -F /dev/null -p "$P_SSH" -i "$T/ssh/id_ed25519" -o IdentitiesOnly=yes -o BatchMode=yes
	-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=20
	-o LogLevel=ERROR "root@$RIP")
"$LOAD" gen --bytes 16M --seed 42 >"$T/ssh-in.bin"
want=$(sha256sum <"$T/ssh-in.bin" | cut -d' ' -f1)
out=$(timeout 90 "${C[@]}" "${SSH[@]}" sha256sum <"$T/ssh-in.bin" 2>"$T/ssh.err") ||
	fail "ssh through the DPDK relay failed: $(cat "$T/ssh.err")"
[ "${out%% *}" = "$want" ] || fail "remote sha256sum said '${out%% *}', want $want"
check_ok "ssh: 16 MiB piped to a remote sha256sum, ${out%% *}"
who=$(timeout 60 "${C[@]}" "${SSH[@]}" 'id -un; ip -br addr show' 2>>"$T/ssh.err") ||
	fail "ssh command failed: $(cat "$T/ssh.err")"
grep -q "^root$" <<<"$who" && grep -q "$EIP/24" <<<"$who" ||
	fail "ssh ran somewhere else: $who"
check_ok "ssh: the command ran as root in the edge namespace ($EIP)"

# --- iperf3, both ways
for dir in "" -R; do
	timeout 60 "${C[@]}" iperf3 -c "$RIP" -p "$P_IPERF" -t 2 -J $dir >"$T/iperf$dir.json" 2>"$T/iperf$dir.err" ||
		fail "iperf3 $dir failed: $(tail -n 5 "$T/iperf$dir.json" "$T/iperf$dir.err")"
	res=$(python3 - "$T/iperf$dir.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
if "error" in d:
    sys.exit("iperf3 error: " + d["error"])
s, r = d["end"]["sum_sent"], d["end"]["sum_received"]
if r["bytes"] < 1 << 20:
    sys.exit("only %d bytes received" % r["bytes"])
print("%.0f Mbit/s, %d bytes sent, %d received" % (r["bits_per_second"] / 1e6, s["bytes"], r["bytes"]))
PY
) || fail "iperf3 $dir: $res"
	check_ok "iperf3 ${dir:-(client sends)}: $res"
done

dp_relay_stop_ok
check_ok "SIGTERM: relay drained and exited 0"
pass
