#!/usr/bin/env bash
# Site to site through the relay, both sites behind their own NAT: from edge-a,
#   ssh through -L (127.0.0.1:2300 -> edge-b's sshd), a file piped to sha256sum there;
#   ssh with ProxyCommand 'ferry-agent -W edge-b:127.0.0.1:2200' (a client session
#       with edge-a's own name, next to the running edge-a agent);
#   curl --socks5-hostname through -D to intranet.site-b:8080, a name only edge-b
#       resolves (and edge-a cannot);
#   a target edge-b does not --allow: refused, the reason in both agents' logs;
# and the same the other way; then DNS from the client through -R udp to each edge's
# DNS server (dig, an answer only that edge's server gives).
set -u
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "$0")/lib.sh"
both_sites || { echo "edge_to_edge: needs sites a and b"; exit 77; }

# The ssh client on each edge, its key in the other edge's authorized_keys.
for s in a b; do
	pub=$(on "edge-$s" "rm -f e2e_key e2e_key.pub && ssh-keygen -q -t ed25519 -N '' -f e2e_key -C edge-$s >/dev/null && cat e2e_key.pub") ||
		fail "ssh-keygen on edge-$s failed"
	printf '%s\n' "$pub" | on "edge-${OTHER[$s]}" 'cat >>ssh/authorized_keys' ||
		fail "cannot add edge-$s's key on edge-${OTHER[$s]}"
done
E2E_SSH="-F /dev/null -i e2e_key -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no \
-o UserKnownHostsFile=/dev/null -o ConnectTimeout=30 -o LogLevel=ERROR"
for s in a b; do
	on_wait "edge-$s" "ss -Hltn 'sport = :2300' | grep -q . && ss -Hltn 'sport = :1080' | grep -q ." 30 ||
		fail "edge-$s: -L 2300 / -D 1080 not listening: $(on "edge-$s" 'tail -n 5 agent.log')"
done

for s in a b; do
	o=${OTHER[$s]}
	# 1. ssh through -L: the command runs on the other edge.
	out=$(on "edge-$s" "head -c $BYTES /dev/urandom >e2e.bin && sha256sum <e2e.bin &&
		timeout 300 ssh $E2E_SSH -p 2300 root@127.0.0.1 'sha256sum; ip -4 -br addr show dev eth0' <e2e.bin") ||
		fail "edge-$s: ssh -p 2300 (-L to edge-$o) failed: $out"
	want=$(sed -n 1p <<<"$out")
	got=$(sed -n 2p <<<"$out")
	[ -n "$want" ] && [ "${got%% *}" = "${want%% *}" ] ||
		fail "edge-$s -> edge-$o through -L: remote sha256 '${got%% *}', want '${want%% *}'"
	grep -q "$(topo_site_ip "$o" EDGE)/" <<<"$out" || fail "ssh through -L ran elsewhere: $out"
	ok "edge-$s -> edge-$o: ssh through -L, $BYTES to a sha256sum on edge-$o (${want%% *})"

	# 2. ssh with ProxyCommand -W, while edge-$s's own agent stays connected.
	before=$(count "edge-$s" agent.log 'connected to relay')
	out=$(on "edge-$s" "timeout 300 ssh $E2E_SSH -o ProxyCommand='ferry-agent --relay $RELAY:$RELAY_PORT \
--token-file token --ca ca.crt --name edge-$s -W edge-$o:127.0.0.1:2200' root@edge-$o 'sha256sum' <e2e.bin") ||
		fail "edge-$s: ssh -o ProxyCommand='ferry-agent -W edge-$o:127.0.0.1:2200' failed: $out"
	[ "${out%% *}" = "${want%% *}" ] || fail "edge-$s -> edge-$o with -W: sha256 '${out%% *}', want '${want%% *}'"
	[ "$(count "edge-$s" agent.log 'connected to relay')" -eq "$before" ] ||
		fail "edge-$s's agent reconnected while a -W session used its name"
	ok "edge-$s -> edge-$o: ssh -o ProxyCommand='ferry-agent -W ...' with edge-$s's own name, sha256 equal; edge-$s's agent stayed up"

	# 3. SOCKS5 by a name only the far site resolves.
	if on "edge-$s" "getent hosts intranet.site-$o" >/dev/null 2>&1; then
		fail "edge-$s resolves intranet.site-$o itself: the test would prove nothing"
	fi
	want=$(on "edge-$o" 'sha256sum <www/big.bin')
	got=$(on "edge-$s" "curl -sS --fail --max-time 300 --socks5-hostname 127.0.0.1:1080 http://intranet.site-$o:8080/big.bin | sha256sum") ||
		fail "edge-$s: curl --socks5-hostname 127.0.0.1:1080 http://intranet.site-$o:8080/ failed"
	[ "${got%% *}" = "${want%% *}" ] || fail "edge-$s -> edge-$o through -D: sha256 ${got%% *}, want ${want%% *}"
	ok "edge-$s -> edge-$o: curl --socks5-hostname http://intranet.site-$o:8080/big.bin (resolved by edge-$o only), sha256 ${want%% *}"

	# 4. A target the far agent does not allow.
	rc=0
	on "edge-$s" "curl -sS --max-time 60 --socks5-hostname 127.0.0.1:1080 http://127.0.0.1:8080/ -o /dev/null" 2>/dev/null || rc=$?
	[ "$rc" -ne 0 ] || fail "edge-$s reached edge-$o's 127.0.0.1:8080, which edge-$o does not --allow"
	on_wait "edge-$o" "grep -q \"agent 'edge-$s' asked for tcp 127.0.0.1:8080 is not in the target agent's --allow list\" agent.log" 20 ||
		fail "edge-$o did not log its refusal: $(on "edge-$o" 'tail -n 5 agent.log')"
	on_wait "edge-$s" "grep -q \"agent 'edge-$o': tcp 127.0.0.1:8080 is not in the target agent's --allow list\" agent.log" 20 ||
		fail "edge-$s did not log the reason: $(on "edge-$s" 'tail -n 5 agent.log')"
	ok "edge-$s -> edge-$o 127.0.0.1:8080 (not in edge-$o's --allow): refused (curl exit $rc), reason logged on both edges"
done

# 5. DNS through -R udp, from the public client, into each site.
for s in a b; do
	on_wait "edge-$s" "grep -q 'forwarding relay UDP port ${DNSP[$s]}' agent.log" 30 ||
		fail "edge-$s has not claimed UDP port ${DNSP[$s]}: $(on "edge-$s" 'tail -n 5 agent.log')"
	ans=$(on client "dig +time=5 +tries=3 +short -p ${DNSP[$s]} @$RELAY www.site-$s.test A") ||
		fail "dig -p ${DNSP[$s]} @$RELAY www.site-$s.test failed: $ans"
	[ "$ans" = "$(topo_site_ip "$s" EDGE)" ] || fail "dig www.site-$s.test through -R udp: '$ans', want $(topo_site_ip "$s" EDGE)"
	ok "client -> relay ${DNSP[$s]}/udp -> edge-$s's DNS server: www.site-$s.test is $ans"
done
pass
