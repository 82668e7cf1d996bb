#!/usr/bin/env bash
# The ferry demo, on loopback with the kernel backend:
#
#   curl ──TCP──▶ relay :12080 ◀══TLS 1.3 tunnel══ agent ──▶ web server 127.0.0.1:18080
#                 (ferry-relay, agents on :17000)    (ferry-agent -R 12080:127.0.0.1:18080)
#
# Makes a CA, a relay certificate and an agent token, starts the relay, a
# small local web server and an agent, fetches a page and a 16 MiB file
# through the relay, and checks the file's sha256 end to end.
set -eu
cd "$(dirname "$0")/.."
root=$PWD

scripts/deps.sh demo
echo "== building"
scripts/build.sh build

relay=$root/build/relay/ferry-relay
agent=$root/build/agent/ferry-agent
tmp=$(mktemp -d /tmp/ferry-demo.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT

wait_port() {	# wait_port PORT: until something accepts on 127.0.0.1:PORT (10 s)
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	echo "demo: nothing listens on port $1 after 10 s" >&2
	return 1
}

echo "== ferry-relay cert init (a CA and the relay's certificate)"
"$relay" cert init --dir "$tmp/pki" --name localhost,127.0.0.1 | sed 's/^/   /'
echo "== ferry-relay token add (the agent 'demo' may claim ports 12000-12999)"
token=$("$relay" token add --tokens "$tmp/tokens" --agent demo --ports 12000-12999 2>/dev/null)
echo "   token: ${token:0:10}... (only its hash is in $tmp/tokens)"

echo "== starting the relay on 127.0.0.1:17000"
"$relay" --listen 127.0.0.1:17000 --public-bind 127.0.0.1 --cert "$tmp/pki/relay.crt" \
	--key "$tmp/pki/relay.key" --tokens "$tmp/tokens" >"$tmp/relay.log" 2>&1 &
pids+=($!)
wait_port 17000

echo "== starting a private web server on 127.0.0.1:18080"
mkdir "$tmp/www"
echo "<h1>Hello from behind the NAT, served through ferry</h1>" >"$tmp/www/index.html"
head -c 16777216 /dev/urandom >"$tmp/www/blob.bin"
(cd "$tmp/www" && exec python3 -m http.server 18080 --bind 127.0.0.1) >/dev/null 2>&1 &
pids+=($!)
wait_port 18080

echo "== starting the agent: ferry-agent -R 12080:127.0.0.1:18080"
"$agent" --relay 127.0.0.1:17000 --token "$token" --ca "$tmp/pki/ca.crt" \
	-R 12080:127.0.0.1:18080 >"$tmp/agent.log" 2>&1 &
pids+=($!)
wait_port 12080

echo "== curl http://127.0.0.1:12080/ (through the relay)"
curl -sS --max-time 10 http://127.0.0.1:12080/ | sed 's/^/   /'
echo "== fetching a 16 MiB file through the relay"
curl -sS --max-time 60 -o "$tmp/got.bin" http://127.0.0.1:12080/blob.bin
want=$(sha256sum <"$tmp/www/blob.bin" | cut -c1-64)
got=$(sha256sum <"$tmp/got.bin" | cut -c1-64)
echo "   sha256 at the server: $want"
echo "   sha256 via the relay: $got"
echo "== relay log"
sed 's/^/   /' "$tmp/relay.log"
echo "== agent log"
sed 's/^/   /' "$tmp/agent.log"
if [ "$want" != "$got" ]; then
	echo "DEMO FAILED: the file changed on its way through the tunnel" >&2
	exit 1
fi
echo "== demo OK: a private web server was reached through the relay, bytes intact"
