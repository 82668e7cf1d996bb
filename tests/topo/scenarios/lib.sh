# shellcheck shell=bash
# Helpers for the topology scenarios (tests/topo/scenarios/*.sh). A scenario takes
# the topology as given (tests/topo/topo.sh built it as namespaces, or vagrant/ as
# VMs) and reaches its hosts only through tests/topo/drive.sh, so it runs unchanged
# on both. tests/topo/run.sh runs them in order: up, then the checks, then down.
#
# What runs where (ports are the same on every backend):
#   relay    ferry-relay on RELAY_IP:7000, its CA and tokens in pki/
#   edge-X   busybox httpd on 127.0.0.1:8080 (www/big.bin: TOPO_BYTES of random
#            bytes), a throwaway sshd on 127.0.0.1:2200 (root, key only), a DNS server
#            on 127.0.0.1:5353 (tests/tools/fy_dns.py: www.site-X.test) and
#            ferry-agent "edge-X" with -R WEB_X:127.0.0.1:8080 -R SSH_X:127.0.0.1:2200
#            -R udp:DNS_X:127.0.0.1:5353; towards the other site Y (when both are up)
#            -L 127.0.0.1:2300:edge-Y:127.0.0.1:2200 and -D 127.0.0.1:1080:edge-Y, and
#            --allow for its own sshd and intranet.site-X:8080 (a name only X resolves)
#   client   curl and ssh (its key: id_ed25519) to RELAY_IP:WEB_X / SSH_X
#   nat-X    the site's router (conntrack -F there drops its mappings)
# Environment: TOPO_SITES ("a b"), TOPO_BYTES (4M), TOPO_AGENT_IO (auto),
# TOPO_KEEPALIVE_MS (2000: the relay's and the agents' ping interval; a tunnel
# silent for 3 is dead).
# shellcheck source=SCRIPTDIR/../drive.sh
. "$(dirname "${BASH_SOURCE[0]}")/../drive.sh"
# shellcheck source=SCRIPTDIR/../topo.sh
. "$(dirname "${BASH_SOURCE[0]}")/../topo.sh"
topo_addrs "${TOPO_INET_OVERRIDE:-}"

SC_NAME=$(basename "$0" .sh)
# shellcheck disable=SC2034 # used by the scenarios
SITES=${TOPO_SITES:-a b}
BYTES=${TOPO_BYTES:-4M}
AGENT_IO=${TOPO_AGENT_IO:-auto}
KEEPALIVE_MS=${TOPO_KEEPALIVE_MS:-2000}
RELAY=$TOPO_RELAY_IP
RELAY_PORT=7000
declare -A WEB=([a]=8081 [b]=8082) SSHP=([a]=2221 [b]=2222) DNSP=([a]=5301 [b]=5302)
declare -A OTHER=([a]=b [b]=a)

say() { printf '# %s %s\n' "$(date +%T.%3N)" "$*"; }
ok() { printf '  ok - %s\n' "$*"; }
fail() {
	printf 'FAIL %s: %s\n' "$SC_NAME" "$*"
	exit 1
}
pass() { printf 'PASS %s\n' "$SC_NAME"; }
now_ms() { date +%s%3N; }

# count ROLE FILE REGEX: lines of FILE on ROLE matching REGEX (ERE).
count() { on "$1" "grep -Ec -- $(printf %q "$3") $2 || true"; }

relay_cmd() {
	printf 'ferry-relay --listen %s:%s --cert pki/relay.crt --key pki/relay.key --tokens pki/tokens --keepalive-ms %s --log-level debug' \
		"$RELAY" "$RELAY_PORT" "$KEEPALIVE_MS"
}

start_relay() {
	on_bg relay relay "$(relay_cmd)" || fail "the relay did not start"
	on_wait relay "ss -Hltn 'sport = :$RELAY_PORT' | grep -q ." 20 ||
		fail "the relay does not listen on $RELAY:$RELAY_PORT: $(on relay 'tail -n 5 relay.log')"
}

# both_sites: true when sites a and b are both up (edge to edge needs both).
both_sites() { [[ " $SITES " == *" a "* && " $SITES " == *" b "* ]]; }

# start_agent SITE: ferry-agent on edge-SITE, its token in a file (mode 0600).
start_agent() {
	local s=$1 l=""
	if both_sites; then
		l="-L 127.0.0.1:2300:edge-${OTHER[$s]}:127.0.0.1:2200 -D 127.0.0.1:1080:edge-${OTHER[$s]}"
	fi
	on_bg "edge-$s" agent "ferry-agent --relay $RELAY:$RELAY_PORT --token-file token --ca ca.crt \
--name edge-$s --io $AGENT_IO --keepalive-ms $KEEPALIVE_MS --backoff-min-ms 300 --backoff-max-ms 2000 \
--log-level debug -R ${WEB[$s]}:127.0.0.1:8080 -R ${SSHP[$s]}:127.0.0.1:2200 \
-R udp:${DNSP[$s]}:127.0.0.1:5353 --allow 127.0.0.1:2200 --allow intranet.site-$s:8080 $l" ||
		fail "the agent on edge-$s did not start"
}

# forwards SITE: "forwarding relay port" lines in edge-SITE's agent log so far.
forwards() { count "edge-$1" agent.log 'forwarding relay port'; }

# wait_forwards SITE N SECS: until the agent of SITE logged N forwarding lines.
wait_forwards() {
	on_wait "edge-$1" "[ \$(grep -c 'forwarding relay port' agent.log) -ge $2 ]" "$3" ||
		fail "edge-$1's agent has not claimed its ports after $3 s: $(on "edge-$1" 'tail -n 8 agent.log')"
}

SSH_OPTS="-F /dev/null -i id_ed25519 -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no \
-o UserKnownHostsFile=/dev/null -o ConnectTimeout=30 -o LogLevel=ERROR"

# web_sha SITE: big.bin fetched by the client through the relay equals the edge's
# (sha256 on both sides).
web_sha() {
	local s=$1 want got
	want=$(on "edge-$s" 'sha256sum <www/big.bin') || fail "edge-$s: no www/big.bin"
	got=$(on client "curl -sS --fail --max-time 300 http://$RELAY:${WEB[$s]}/big.bin | sha256sum") ||
		fail "curl http://$RELAY:${WEB[$s]}/big.bin (edge-$s) failed"
	[ "${got%% *}" = "${want%% *}" ] || fail "edge-$s web: sha256 ${got%% *}, want ${want%% *}"
	ok "edge-$s web: $BYTES through the relay, sha256 ${want%% *}"
}

# ssh_sha SITE: BYTES piped by ssh through the relay to sha256sum on the edge,
# and the command ran on the edge (its address).
ssh_sha() {
	local s=$1 out want got where
	out=$(on client "head -c $BYTES /dev/urandom >up.bin && sha256sum <up.bin &&
		timeout 300 ssh $SSH_OPTS -p ${SSHP[$s]} root@$RELAY sha256sum <up.bin") ||
		fail "ssh -p ${SSHP[$s]} root@$RELAY (edge-$s) failed: $out"
	want=$(sed -n 1p <<<"$out")
	got=$(sed -n 2p <<<"$out")
	{ [ -n "$want" ] && [ "${got%% *}" = "${want%% *}" ]; } || fail "edge-$s ssh: remote sha256 '${got%% *}', want '${want%% *}'"
	ok "edge-$s ssh: $BYTES piped to a remote sha256sum, ${want%% *}"
	where=$(on client "timeout 120 ssh $SSH_OPTS -p ${SSHP[$s]} root@$RELAY 'ip -4 -br addr show dev eth0'") ||
		fail "ssh command on edge-$s failed"
	grep -q "$(topo_site_ip "$s" EDGE)/" <<<"$where" || fail "ssh to ${SSHP[$s]} ran elsewhere: $where"
	ok "edge-$s ssh: the command ran on edge-$s ($(topo_site_ip "$s" EDGE))"
}
