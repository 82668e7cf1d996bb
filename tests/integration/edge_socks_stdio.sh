#!/usr/bin/env bash
# shellcheck disable=SC2119 # lib.sh helpers take optional arguments
# -D (SOCKS5 into another agent's network, names resolved there) and -W (standard input
# and output as one stream, ssh's ProxyCommand), with real curl and ssh.
#
#   curl --socks5-hostname ─▶ a :SOCKS (-D SOCKS:b) ══╗              ╔══▶ b ─▶ python3 http.server :HTTP
#   curl ─▶ a :SOCKS_ANY (-D, HOST.AGENT.ferry names) ══╬═══ relay ════╣     as web.fy.test (b's /etc/hosts)
#   curl ─▶ a' :SOCKS_AUTH (-D --socks-auth, client)  ══╣              ╠══▶ b ─▶ fy-load serve echo :ECHO
#   ferry-agent -W b:127.0.0.1:ECHO (client session)  ══╣              ╚══▶ b ─▶ sshd :SSHD
#   ssh -o ProxyCommand='ferry-agent -W b:..:SSHD'    ══╝
#
# The name. Agent b resolves targets with getaddrinfo, so the name has to be one that
# b, and only b, can resolve. The machine's /etc/hosts is left alone: agent b runs in a
# mount namespace of its own (unshare -m, private propagation) where a file of ours is
# bind-mounted over /etc/hosts, mapping web.fy.test to 127.0.0.1. The wrapper execs
# unshare, which execs a shell that mounts and execs the agent, so the PID that lib.sh
# records and kills is the agent's. The script checks that web.fy.test does not
# resolve outside, so a page fetched by that name can only have been resolved by b.
# Needs root (mount); skipped otherwise.
#
# 1. curl --socks5-hostname via -D SOCKS:b fetches http://web.fy.test:HTTP/page.bin
#    (1 MiB): sha256 equal to the file's.
# 2. via -D SOCKS_ANY (no agent): http://web.fy.test.b.ferry:HTTP/page.bin, sha256
#    checked; a name without .AGENT.ferry is refused with the reason in a's log.
# 3. --socks-auth fy:s3cret on a second process named a (a client session next to the
#    full agent a): the right password fetches the page; a wrong one, or none, is
#    refused and never reaches the HTTP server.
# 4. -W b:127.0.0.1:ECHO with 1 MiB on stdin: stdout is the same bytes (sha256), the
#    agent exits 0; a short printf round-trip too. -W to a target b does not allow:
#    exit 1, nothing on stdout, the reason in its log.
# 5. ssh -o ProxyCommand='ferry-agent ... -W b:127.0.0.1:SSHD' root@... 'cat' < 8 MiB:
#    the output's sha256 equals the input's. Throughout, the full agent a (with --allow,
#    so not a client session) stays connected: it never reconnected, and the relay never
#    refused a session for the name a.
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
fy_init 25600

[ "$(id -u)" -eq 0 ] || skip "needs root (agent b runs with a private /etc/hosts: unshare -m, mount --bind; and a throwaway sshd)"
for c in unshare mount curl python3 ssh ssh-keygen; do
	command -v "$c" >/dev/null || skip "needs $c"
done
[ -x /usr/sbin/sshd ] || skip "needs /usr/sbin/sshd"

fy_alloc_port RELAY_PORT
for p in HTTP ECHO SSHD SOCKS SOCKS_ANY SOCKS_AUTH; do
	fy_alloc_port "$p"
done
NAME=web.fy.test

if getent hosts "$NAME" >/dev/null 2>&1; then
	fail "$NAME resolves on this machine already ($(getent hosts "$NAME")): the test could not tell who resolved it"
fi

fy_certs
TOK_A=$(fy_token a "$FY_PORT_RANGE" --reach b)
TOK_B=$(fy_token b "$FY_PORT_RANGE")
(umask 077 && printf '%s\n' "$TOK_A" >"$T/token-a")

# The page, the HTTP server, the echo, sshd.
mkdir -p "$T/www"
"$LOAD" gen --bytes 1M --seed 41 >"$T/www/page.bin"
want_page=$(sha256sum <"$T/www/page.bin" | cut -d' ' -f1)
fy_bg serve-http python3 -u -m http.server "$HTTP" --bind 127.0.0.1 --directory "$T/www"
wait_listen "$HTTP" 15
fy_serve serve-echo "$ECHO" --mode echo
fy_sshd_config "$SSHD"
fy_bg serve-sshd /usr/sbin/sshd -f "$T/ssh/sshd_config" -D -e
wait_listen "$SSHD" 15

fy_relay_start

# Agent b with its own /etc/hosts.
printf '127.0.0.1 localhost\n127.0.0.1 %s\n' "$NAME" >"$T/hosts-b"
cat >"$T/agent-in-ns" <<-EOF
	#!/usr/bin/env bash
	# ferry-agent in a mount namespace where /etc/hosts is $T/hosts-b (same PID throughout)
	exec unshare -m -- bash -c 'mount --bind "\$1" /etc/hosts && shift && exec "\$@"' _ \\
		"$T/hosts-b" "$AGENT_BIN" "\$@"
EOF
chmod +x "$T/agent-in-ns"
AGENT_BIN=$T/agent-in-ns fy_agent_start b "$TOK_B" --allow "$NAME:$HTTP" \
	--allow "127.0.0.1:$ECHO" --allow "tcp:127.0.0.1:$SSHD"
wait_log "$T/agent-b.log" 'session up' 15
# The PID recorded is the agent's own, not a shell's.
bpid=${FY_AGENT_PID[b]}
[ "$(readlink "/proc/$bpid/exe")" = "$(readlink -f "$FY_BUILD/agent/ferry-agent")" ] ||
	fail "agent b's recorded PID $bpid runs $(readlink "/proc/$bpid/exe"), not ferry-agent"
[ "$(readlink "/proc/$bpid/ns/mnt")" != "$(readlink /proc/self/ns/mnt)" ] ||
	fail "agent b is not in a mount namespace of its own"
check_ok "agent b (pid $bpid) runs in its own mount namespace, where $NAME is 127.0.0.1"

# The full agent a: -D and an --allow entry (so it is not a client session).
fy_agent_start a "$TOK_A" -D "$SOCKS:b" -D "$SOCKS_ANY" --allow "127.0.0.1:1"
wait_log "$T/agent-a.log" 'session up' 15
wait_listen "$SOCKS" 10
wait_listen "$SOCKS_ANY" 10
grep -Eq "agent 'a' tunnel 0/[0-9]+ from .* up" "$T/relay.log" ||
	fail "agent a is not a full (non-client) session: $(grep "agent 'a'" "$T/relay.log" | head -n 2)"
ups_a=$(log_count "$T/agent-a.log" 'session up')

# fetch LABEL URL CURL_ARGS...: curl's exit code in CURL_RC, the body in $T/LABEL.body.
fetch() {
	local label=$1 url=$2
	shift 2
	CURL_RC=0
	curl -sS --max-time 30 -o "$T/$label.body" "$@" "$url" 2>"$T/curl-$label.err" || CURL_RC=$?
}
# fetch_ok DESC LABEL URL CURL_ARGS...: the page, intact.
fetch_ok() {
	local desc=$1 label=$2 got
	shift 2
	fetch "$label" "$@" --fail
	[ "$CURL_RC" -eq 0 ] || fail "$desc: curl exit $CURL_RC: $(cat "$T/curl-$label.err")"
	got=$(sha256sum <"$T/$label.body" | cut -d' ' -f1)
	[ "$got" = "$want_page" ] ||
		fail "$desc: got sha256 $got ($(stat -c %s "$T/$label.body") bytes), want $want_page"
	check_ok "$desc: 1 MiB, sha256 $got"
}
http_gets() { log_count "$T/serve-http.out" '"GET /page.bin HTTP'; }

# --- 1. -D SOCKS:b, the name resolved by b
fetch_ok "curl --socks5-hostname via -D $SOCKS:b, http://$NAME:$HTTP/" socks \
	"http://$NAME:$HTTP/page.bin" --socks5-hostname "127.0.0.1:$SOCKS"
wait_log "$T/agent-b.log" "agent 'a' -> tcp $NAME:$HTTP" 5
check_ok "b dialed $NAME:$HTTP for a (by name: resolved at b)"

# --- 2. -D without an agent: HOST.AGENT.ferry
fetch_ok "curl via -D $SOCKS_ANY, http://$NAME.b.ferry:$HTTP/" socks-any \
	"http://$NAME.b.ferry:$HTTP/page.bin" --socks5-hostname "127.0.0.1:$SOCKS_ANY"
n=$(http_gets)
fetch bad-name "http://$NAME:$HTTP/page.bin" --socks5-hostname "127.0.0.1:$SOCKS_ANY"
[ "$CURL_RC" -ne 0 ] || fail "-D without an agent took a name without .AGENT.ferry"
wait_log "$T/agent-a.log" "-D $SOCKS_ANY: the SOCKS name must be HOST\.AGENT\.ferry when -D names no agent" 5
[ "$(http_gets)" -eq "$n" ] || fail "the refused request reached the HTTP server"
check_ok "a name without .AGENT.ferry: curl exit $CURL_RC, a says 'the SOCKS name must be HOST.AGENT.ferry'"

# --- 3. --socks-auth, on a client session named a next to the full agent a
AGENT_LABEL=a-auth
printf '=== %s ferry-agent --name a (client, --socks-auth)\n' "$(date +%T.%3N)" >>"$T/$AGENT_LABEL.log"
fy_bg "$AGENT_LABEL" "$AGENT_BIN" --relay "127.0.0.1:$RELAY_PORT" --token-file "$T/token-a" \
	--ca "$T/pki/ca.crt" --name a --io "$FY_AGENT_IO" --log-level debug \
	-D "$SOCKS_AUTH:b" --socks-auth "fy:s3cret"
wait_log "$T/$AGENT_LABEL.out" 'session up' 15
wait_listen "$SOCKS_AUTH" 10
grep -Eq "agent 'a' client tunnel 0/1 from .* up" "$T/relay.log" ||
	fail "the --socks-auth process did not come up as a client session of a"
check_ok "a second process named a (-D only) is up as a client session next to the full agent a"
fetch_ok "curl with the right SOCKS5 login" auth-ok "http://$NAME:$HTTP/page.bin" \
	--socks5-hostname "127.0.0.1:$SOCKS_AUTH" --proxy-user "fy:s3cret"
n=$(http_gets)
fetch auth-bad "http://$NAME:$HTTP/page.bin" --socks5-hostname "127.0.0.1:$SOCKS_AUTH" \
	--proxy-user "fy:wrong"
[ "$CURL_RC" -ne 0 ] || fail "a wrong SOCKS5 password was accepted"
rc_bad=$CURL_RC
fetch auth-none "http://$NAME:$HTTP/page.bin" --socks5-hostname "127.0.0.1:$SOCKS_AUTH"
[ "$CURL_RC" -ne 0 ] || fail "no SOCKS5 login was accepted on -D with --socks-auth"
wait_log_count "$T/$AGENT_LABEL.out" "-D $SOCKS_AUTH:b: SOCKS5 request refused or malformed" 2 5
[ "$(http_gets)" -eq "$n" ] || fail "a refused SOCKS5 login reached the HTTP server"
check_ok "wrong password (curl exit $rc_bad) and no login (curl exit $CURL_RC) refused; nothing reached the server"

# --- 4. -W through an echo
# w_run OUT ARGS... < <(INPUT): a -W client session; stdin and stdout are pipes (as -W
# wants), stdout goes into OUT; its exit code in W_RC (so not itself run in a pipeline). Bounded by timeout; its log appended to $T/agent-w.log.
w_run() {
	local out=$1
	shift
	printf '=== %s ferry-agent %s\n' "$(date +%T.%3N)" "$*" >>"$T/agent-w.log"
	timeout 60 "$AGENT_BIN" --relay "127.0.0.1:$RELAY_PORT" --token-file "$T/token-a" \
		--ca "$T/pki/ca.crt" --name a --io "$FY_AGENT_IO" --log-level debug "$@" \
		2>>"$T/agent-w.log" | cat >"$out"
	W_RC=${PIPESTATUS[0]}
}
w_run "$T/w-small.out" -W "b:127.0.0.1:$ECHO" < <(printf 'hello through ferry -W\n')
[ "$W_RC" -eq 0 ] || fail "-W echo: exit $W_RC, want 0: $(tail -n 3 "$T/agent-w.log")"
[ "$(cat "$T/w-small.out")" = "hello through ferry -W" ] || fail "-W echo returned '$(cat "$T/w-small.out")'"
check_ok "printf | ferry-agent -W b:127.0.0.1:$ECHO: the line came back, exit 0"
w_run "$T/w-big.out" -W "b:127.0.0.1:$ECHO" < <("$LOAD" gen --bytes 1M --seed 42)
[ "$W_RC" -eq 0 ] || fail "-W 1 MiB echo: exit $W_RC, want 0: $(tail -n 3 "$T/agent-w.log")"
got=$(sha256sum <"$T/w-big.out" | cut -d' ' -f1)
want=$(gen_sha 1M 42)
[ "$got" = "$want" ] || fail "-W 1 MiB echo: got sha256 $got ($(stat -c %s "$T/w-big.out") bytes), want $want"
check_ok "1 MiB through -W and back: sha256 $got, exit 0"
w_run "$T/w-denied.out" -W "b:127.0.0.1:1" < <(printf 'nobody home\n')
[ "$W_RC" -eq 1 ] || fail "-W to a target b does not allow: exit $W_RC, want 1"
[ ! -s "$T/w-denied.out" ] || fail "-W to a target b does not allow wrote '$(head -c 100 "$T/w-denied.out")'"
wait_log "$T/agent-w.log" "-W b:127\.0\.0\.1:1: agent 'b': tcp 127\.0\.0\.1:1 is not in the target agent's --allow list" 5
check_ok "-W to a target b does not allow: exit 1, nothing on stdout, the reason in its log"

# --- 5. ssh with -W as its ProxyCommand
"$LOAD" gen --bytes 8M --seed 43 >"$T/ssh-in.bin"
want=$(sha256sum <"$T/ssh-in.bin" | cut -d' ' -f1)
PROXY="$AGENT_BIN --relay 127.0.0.1:$RELAY_PORT --token-file $T/token-a --ca $T/pki/ca.crt --name a --io $FY_AGENT_IO --log-level debug -W b:127.0.0.1:$SSHD 2>>$T/agent-w-ssh.log"
rc=0
timeout 90 ssh -F /dev/null -i "$T/ssh/id_ed25519" -o IdentitiesOnly=yes -o BatchMode=yes \
	-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=20 \
	-o LogLevel=ERROR -o "ProxyCommand=$PROXY" root@ferry-b cat <"$T/ssh-in.bin" \
	>"$T/ssh-out.bin" 2>"$T/ssh.err" || rc=$?
[ "$rc" -eq 0 ] || fail "ssh through -W failed (exit $rc): $(cat "$T/ssh.err"; tail -n 5 "$T/agent-w-ssh.log")"
got=$(sha256sum <"$T/ssh-out.bin" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "ssh cat through -W: sha256 $got ($(stat -c %s "$T/ssh-out.bin") bytes), want $want"
check_ok "ssh -o ProxyCommand='ferry-agent -W b:127.0.0.1:$SSHD' cat < 8 MiB: sha256 $got"

# The full agent a stayed connected all along.
fy_alive "${FY_AGENT_PID[a]}" || fail "the full agent a died"
[ "$(log_count "$T/agent-a.log" 'session up')" -eq "$ups_a" ] ||
	fail "the full agent a reconnected while client sessions of a came and went"
if grep -Eq "already connected|second agent with the same name" "$T/relay.log" "$T"/agent-*.log "$T/$AGENT_LABEL.out"; then
	fail "a session named a was refused: $(grep -Eh "already connected|second agent" "$T/relay.log" "$T"/agent-*.log | head -n 1)"
fi
n=$(log_count "$T/relay.log" "agent 'a' client tunnel 0/1 from .* up")
[ "$n" -ge 4 ] || fail "the relay saw $n client sessions of a, want at least 4 (-D with --socks-auth, 2 x -W, ssh)"
check_ok "the full agent a stayed connected while $n client sessions named a came and went"
fy_alive "${FY_AGENT_PID[b]}" || fail "agent b died"
pass
