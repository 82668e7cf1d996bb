#!/usr/bin/env bash
# bench/https_name.sh: HTTPS by name, on loopback — ferry's ingress against the
# same web target reached directly (plain HTTP) and through nginx (Debian's, as a user
# would set it up: TLS with the same certificate, proxy_pass to an `ssh -R` port,
# upstream keep-alive). wrk -t2 -c32 --latency, keep-alive, 1 KiB bodies, as
# bench/run's http workload.
#
#   wrk ─HTTP──────────────────────────────────────────────▶ fy-bench http-server :T
#   wrk ─HTTPS Host: web.bench.test─▶ ferry-relay :FI ══TLS══ ferry-agent -H web ─┘
#   wrk ─HTTPS─▶ nginx :NX ─HTTP─▶ sshd's -R port :SR ══ssh══ ssh -R ──────────────┘
#
# Prints one line per subject and run: req/s, p50 and p99 (us), and a median line
# for each. Everything on 127.0.0.1, every process killed by PID, each wrk bounded.
#   bench/https_name.sh [--runs N] [--duration S] [--ferry-build DIR] [--port-base P]
# Needs root for the throwaway sshd (as bench/run). FERRY_BENCH_KEEP=1 keeps the logs.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
RUNS=3 DUR=5 BUILD=$ROOT/build-release PB=20900
while [ $# -gt 0 ]; do
	case $1 in
	--runs) RUNS=$2 ;;
	--duration) DUR=$2 ;;
	--ferry-build) BUILD=$2 ;;
	--port-base) PB=$2 ;;
	*) echo "usage: $0 [--runs N] [--duration S] [--ferry-build DIR] [--port-base P]" >&2; exit 2 ;;
	esac
	shift 2
done
for c in wrk nginx sshd ssh openssl meson ninja; do
	command -v "$c" >/dev/null || [ -x "/usr/sbin/$c" ] ||
		{ echo "https_name: $c is missing (scripts/deps.sh bench installs it)" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "https_name: needs root (a throwaway sshd)" >&2; exit 2; }

T_HTTP=$PB RELAY=$((PB + 1)) FI=$((PB + 2)) SSHD=$((PB + 3)) SR=$((PB + 4)) NX=$((PB + 5))
TMP=$(mktemp -d /tmp/ferry-https-name.XXXXXX)
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	if [ -n "${FERRY_BENCH_KEEP:-}" ]; then echo "logs kept in $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
bg() { "$@" >"$TMP/$(basename "$1").$RANDOM.log" 2>&1 & PIDS+=($!); }
wait_port() {
	local i
	for ((i = 0; i < 100; i++)); do
		ss -Hltn "sport = :$1" | grep -q . && return 0
		sleep 0.1
	done
	echo "https_name: nothing listens on $1; the logs:" >&2
	tail -n 5 "$TMP"/*.log >&2
	exit 1
}

# ferry (release build, as bench/run), fy-bench
if [ ! -f "$BUILD/build.ninja" ]; then
	meson setup "$BUILD" "$ROOT" --buildtype=release -Dwerror=false -Dtests=disabled >/dev/null
fi
ninja -C "$BUILD" relay/ferry-relay agent/ferry-agent >/dev/null
FYB=$ROOT/build-bench/fy-bench
if [ ! -x "$FYB" ] || [ "$HERE/fy-bench.c" -nt "$FYB" ]; then
	mkdir -p "$ROOT/build-bench"
	cc -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -pthread -o "$FYB" "$HERE/fy-bench.c"
fi

# certificates: the relay's own, and *.bench.test for HTTPS (ferry and nginx alike)
"$BUILD/relay/ferry-relay" cert init --dir "$TMP/pki" --name 127.0.0.1 >/dev/null 2>&1
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TMP/web.key" \
	-out "$TMP/web.crt" -days 2 -subj "/CN=*.bench.test" \
	-addext "subjectAltName=DNS:*.bench.test" 2>/dev/null
TOK=$("$BUILD/relay/ferry-relay" token add --tokens "$TMP/tokens" --agent bench --names web 2>/dev/null)

bg "$FYB" http-server --bind 127.0.0.1 --port "$T_HTTP" --threads 2 --body 1024
bg "$BUILD/relay/ferry-relay" --listen "127.0.0.1:$RELAY" --cert "$TMP/pki/relay.crt" \
	--key "$TMP/pki/relay.key" --tokens "$TMP/tokens" --https-listen "127.0.0.1:$FI" \
	--domain bench.test --https-cert "$TMP/web.crt" --https-key "$TMP/web.key" --log-level warn
wait_port "$RELAY"
bg "$BUILD/agent/ferry-agent" --relay "127.0.0.1:$RELAY" --token "$TOK" --ca "$TMP/pki/ca.crt" \
	--log-level info -H "web:127.0.0.1:$T_HTTP"
# every tunnel up before the first request: a worker without one answers 502
for ((k = 0; k < 100; k++)); do
	grep -qs "session up" "$TMP"/ferry-agent.*.log && break
	sleep 0.1
done

# ssh -R through a throwaway sshd, nginx in front of its port
mkdir -p "$TMP/ssh" /run/sshd
ssh-keygen -q -t ed25519 -N '' -f "$TMP/ssh/host" && ssh-keygen -q -t ed25519 -N '' -f "$TMP/ssh/id"
cp "$TMP/ssh/id.pub" "$TMP/ssh/authorized_keys"
cat >"$TMP/ssh/sshd_config" <<EOF
Port $SSHD
ListenAddress 127.0.0.1
HostKey $TMP/ssh/host
AuthorizedKeysFile $TMP/ssh/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
StrictModes no
UsePAM no
PidFile none
EOF
bg /usr/sbin/sshd -f "$TMP/ssh/sshd_config" -D -e
wait_port "$SSHD"
bg ssh -N -i "$TMP/ssh/id" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
	-o ExitOnForwardFailure=yes -p "$SSHD" -R "127.0.0.1:$SR:127.0.0.1:$T_HTTP" root@127.0.0.1
mkdir -p "$TMP/nginx"
cat >"$TMP/nginx/nginx.conf" <<EOF
worker_processes 2;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  upstream sshr { server 127.0.0.1:$SR; keepalive 64; }
  server {
    listen 127.0.0.1:$NX ssl;
    ssl_certificate $TMP/web.crt;
    ssl_certificate_key $TMP/web.key;
    location / {
      proxy_pass http://sshr;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$remote_addr;
      proxy_set_header X-Forwarded-Proto https;
    }
  }
}
EOF
bg nginx -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -g 'daemon off;'
wait_port "$T_HTTP"
wait_port "$FI"
wait_port "$SR"
wait_port "$NX"

# us from wrk's latency figures (e.g. 812.00us, 1.20ms)
us() { awk '{ v = $1 + 0; if ($1 ~ /ms$/) v *= 1000; else if ($1 ~ /[0-9]s$/) v *= 1000000; printf "%d", v }' <<<"$1"; }
declare -A RPS P99 P50
run() { # run SUBJECT URL [HOST]
	local s=$1 url=$2 out h=()
	[ -n "${3:-}" ] && h=(-H "Host: $3")
	# a warm-up first: tunnels, TLS sessions, upstream connections
	timeout 30 wrk -t 2 -c 32 -d 1s "${h[@]}" "$url" >/dev/null 2>&1 || true
	out=$(timeout $((DUR + 30)) wrk -t 2 -c 32 -d "${DUR}s" --timeout 5s --latency "${h[@]}" "$url")
	grep -q 'Non-2xx\|Socket errors' <<<"$out" && echo "  ($s: $(grep -E 'Non-2xx|Socket errors' <<<"$out"))"
	local rps p50 p99
	rps=$(awk '/^Requests\/sec/ { printf "%d", $2 }' <<<"$out")
	p50=$(us "$(awk '$1 == "50%" { print $2 }' <<<"$out")")
	p99=$(us "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
	printf '%-22s run %d: %7d req/s  p50 %6d us  p99 %6d us\n' "$s" "$i" "$rps" "$p50" "$p99"
	RPS[$s]+="$rps " P50[$s]+="$p50 " P99[$s]+="$p99 "
}
median() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
for ((i = 1; i <= RUNS; i++)); do
	run direct-http "http://127.0.0.1:$T_HTTP/"
	run ferry-https-name "https://127.0.0.1:$FI/" web.bench.test
	run nginx-ssh-r-https "https://127.0.0.1:$NX/" web.bench.test
done
# The relay logs at warn: usually nothing (grep finding none must not end the script).
{ grep -h "relay.ingress" "$TMP"/ferry-relay.*.log || true; } | sed 's/^/  relay: /' | head -n 5
echo "medians of $RUNS runs, ${DUR}s each, wrk -t2 -c32 keep-alive, 1 KiB bodies:"
for s in direct-http ferry-https-name nginx-ssh-r-https; do
	printf '%-22s %7d req/s  p50 %6d us  p99 %6d us\n' "$s" "$(median "${RPS[$s]}")" \
		"$(median "${P50[$s]}")" "$(median "${P99[$s]}")"
done
# ratios run by run (A B A B within run i), then their median
ratios=""
read -ra fr <<<"${RPS[ferry-https-name]}"
read -ra nr <<<"${RPS[nginx-ssh-r-https]}"
for ((k = 0; k < ${#fr[@]}; k++)); do
	ratios+="$(awk -v a="${fr[k]}" -v b="${nr[k]}" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }') "
done
echo "ferry-https-name / nginx-ssh-r-https req/s: median $(tr ' ' '\n' <<<"$ratios" | grep . |
	sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }') (per run: $ratios)"
