#!/usr/bin/env bash
# shellcheck disable=SC2119 # lib.sh helpers take optional arguments
# Real programs at both ends: curl against a local HTTP server, ssh against a throwaway
# sshd, each through the tunnel.
#
#   curl ──▶ relay :P_HTTP ══╗                ╔══▶ agent ──▶ python3 -m http.server :HTTP (serves $T/www)
#   ssh  ──▶ relay :P_SSH  ══╩═ TLS tunnel ═══╩══▶ agent ──▶ /usr/sbin/sshd -D      :SSHD (own config,
#                                                                              host key, authorized_keys)
#
# curl fetches an 8 MiB file and a small one; their sha256 must equal the files'.
# ssh runs `sha256sum` remotely on 16 MiB piped through stdin; the answer must equal the
# local sha256; a second ssh command checks the remote side sees the expected user.
# The sshd part needs root (PermitRootLogin yes in the throwaway config) and is skipped
# with a note when not root or when sshd/ssh-keygen are missing; the scenario is skipped
# (exit 77) only when neither part can run.
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
fy_init 21800

have_http=1
have_ssh=1
command -v curl >/dev/null && command -v python3 >/dev/null || have_http=0
[ -x /usr/sbin/sshd ] && command -v ssh >/dev/null && command -v ssh-keygen >/dev/null || have_ssh=0
[ "$(id -u)" -eq 0 ] || have_ssh=0
[ "$have_http" -eq 1 ] || [ "$have_ssh" -eq 1 ] || skip "needs curl + python3, or root + ssh + /usr/sbin/sshd"

fy_alloc_port RELAY_PORT
fy_alloc_port HTTP
fy_alloc_port SSHD
fy_alloc_port P_HTTP
fy_alloc_port P_SSH

fy_certs
TOK=$(fy_token real "$FY_PORT_RANGE")
fy_relay_start
FWD=()

if [ "$have_http" -eq 1 ]; then
	mkdir -p "$T/www"
	"$LOAD" gen --bytes 8M --seed 31 >"$T/www/big.bin"
	printf 'hello through ferry\n' >"$T/www/hello.txt"
	fy_bg serve-http python3 -m http.server "$HTTP" --bind 127.0.0.1 --directory "$T/www"
	wait_listen "$HTTP" 15
	# With a bind address, as ssh users write it: the relay decides, the agent says so.
	FWD+=(-R "127.0.0.1:$P_HTTP:127.0.0.1:$HTTP")
fi

if [ "$have_ssh" -eq 1 ]; then
	fy_sshd_config "$SSHD"
	fy_bg serve-sshd /usr/sbin/sshd -f "$T/ssh/sshd_config" -D -e
	wait_listen "$SSHD" 15
	FWD+=(-R "$P_SSH:127.0.0.1:$SSHD")
fi

fy_agent_start real "$TOK" "${FWD[@]}"

if [ "$have_http" -eq 1 ]; then
	wait_listen "$P_HTTP" 15
	grep -q -- "-R 127.0.0.1:$P_HTTP: the relay binds its claimed ports on its own --public-bind" \
		"$T/agent-real.log" || fail "the agent did not say that the -R bind address is not used"
	want=$(sha256sum <"$T/www/big.bin" | cut -d' ' -f1)
	curl -sS --fail --max-time 60 -o "$T/got.bin" "http://127.0.0.1:$P_HTTP/big.bin" 2>"$T/curl.err" ||
		fail "curl through the tunnel failed: $(cat "$T/curl.err")"
	got=$(sha256sum <"$T/got.bin" | cut -d' ' -f1)
	[ "$got" = "$want" ] || fail "curl got sha256 $got ($(stat -c %s "$T/got.bin") bytes), want $want"
	check_ok "curl: 8 MiB through the tunnel, sha256 $got"
	body=$(curl -sS --fail --max-time 30 "http://127.0.0.1:$P_HTTP/hello.txt")
	[ "$body" = "hello through ferry" ] || fail "curl got '$body'"
	code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 30 "http://127.0.0.1:$P_HTTP/missing")
	[ "$code" = 404 ] || fail "curl for a missing file got HTTP $code, want 404"
	check_ok "curl: small file and a 404 through the tunnel"
else
	fy_say "curl part skipped: curl or python3 missing"
fi

if [ "$have_ssh" -eq 1 ]; then
	wait_listen "$P_SSH" 15
	SSH=(ssh -F /dev/null -p "$P_SSH" -i "$T/ssh/id_ed25519" -o IdentitiesOnly=yes -o BatchMode=yes
		-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=20
		-o LogLevel=ERROR root@127.0.0.1)
	"$LOAD" gen --bytes 16M --seed 32 >"$T/ssh-in.bin"
	want=$(sha256sum <"$T/ssh-in.bin" | cut -d' ' -f1)
	out=$(timeout 90 "${SSH[@]}" sha256sum <"$T/ssh-in.bin" 2>"$T/ssh.err") ||
		fail "ssh through the tunnel failed: $(cat "$T/ssh.err")"
	got=${out%% *}
	[ "$got" = "$want" ] || fail "remote sha256sum said '$got', want $want ($(cat "$T/ssh.err"))"
	check_ok "ssh: 16 MiB piped to remote sha256sum through the tunnel, $got"
	who=$(timeout 60 "${SSH[@]}" 'id -un' 2>>"$T/ssh.err") || fail "ssh id -un failed: $(cat "$T/ssh.err")"
	[ "$who" = root ] || fail "ssh ran as '$who'"
	check_ok "ssh: remote command ran as $who"
else
	fy_say "ssh part skipped: needs root, ssh, ssh-keygen and /usr/sbin/sshd"
fi

pass
