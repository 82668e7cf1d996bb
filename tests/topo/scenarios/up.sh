#!/usr/bin/env bash
# Starts what the other scenarios take as given: the relay (its CA, a token per
# edge), on each edge a web server, an sshd and ferry-agent (token from a file,
# the CA copied from the relay), and the client's ssh key; waits until every
# agent has claimed its two ports.
set -u
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "$0")/lib.sh"

names=$RELAY
on relay "rm -rf pki && ferry-relay cert init --dir pki --name $names >cert.out 2>&1" ||
	fail "ferry-relay cert init: $(on relay 'cat cert.out')"
ca=$(on relay 'cat pki/ca.crt') || fail "no CA on the relay"
ok "relay: CA and certificate for $names"

pub=$(on client "rm -f id_ed25519 id_ed25519.pub && ssh-keygen -q -t ed25519 -N '' -f id_ed25519 -C ferry-topo-client >/dev/null && cat id_ed25519.pub") ||
	fail "ssh-keygen on the client failed"

for s in $SITES; do
	tok=$(on relay "ferry-relay token add --tokens pki/tokens --agent edge-$s \
		--ports ${WEB[$s]},${SSHP[$s]},${DNSP[$s]} --reach edge-a,edge-b") ||
		fail "token add for edge-$s failed"
	printf '%s\n' "$tok" | on "edge-$s" 'umask 077 && cat >token' || fail "cannot write edge-$s's token"
	printf '%s\n' "$ca" | on "edge-$s" 'cat >ca.crt'
	printf '%s\n' "$pub" | on "edge-$s" "mkdir -p www ssh /run/sshd && chmod 700 ssh && cat >ssh/authorized_keys &&
		head -c $BYTES /dev/urandom >www/big.bin && echo 'hello from edge-$s' >www/hello.txt &&
		rm -f ssh/host_ed25519* && ssh-keygen -q -t ed25519 -N '' -f ssh/host_ed25519 >/dev/null &&
		cat >ssh/sshd_config <<CONF
Port 2200
ListenAddress 127.0.0.1
HostKey \$PWD/ssh/host_ed25519
PidFile none
AuthorizedKeysFile \$PWD/ssh/authorized_keys
PermitRootLogin yes
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
CONF
		/usr/sbin/sshd -t -f \$PWD/ssh/sshd_config" || fail "edge-$s: files or sshd config failed"
	on_bg "edge-$s" httpd "busybox httpd -f -p 127.0.0.1:8080 -h www" || fail "edge-$s: httpd did not start"
	on "edge-$s" 'cat >fy_dns.py' <"$(dirname "$0")/../../tools/fy_dns.py" || fail "edge-$s: no fy_dns.py"
	on_bg "edge-$s" dns "python3 fy_dns.py --listen 127.0.0.1:5353 --addr www.site-$s.test=$(topo_site_ip "$s" EDGE) --lifetime 3600" ||
		fail "edge-$s: the DNS server did not start"
	on_bg "edge-$s" sshd "/usr/sbin/sshd -D -e -f \$PWD/ssh/sshd_config" || fail "edge-$s: sshd did not start"
	ok "edge-$s: token (file, 0600), CA, web server on 127.0.0.1:8080, sshd on 127.0.0.1:2200, DNS on 127.0.0.1:5353/udp"
done

start_relay
ok "relay listens on $RELAY:$RELAY_PORT"
for s in $SITES; do start_agent "$s"; done
for s in $SITES; do
	wait_forwards "$s" 2 60
	ok "edge-$s: agent up behind nat-$s, claimed relay ports ${WEB[$s]} and ${SSHP[$s]}"
done
pass
