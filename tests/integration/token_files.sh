#!/usr/bin/env bash
# shellcheck disable=SC2119 # lib.sh helpers take optional arguments
# Secrets out of argv and out of other users' reach: the agent takes its token from
# --token-file FILE (first line) or FERRY_TOKEN, warns when it is given with --token
# (readable by every local user through ps) and when its token file can be read by
# group or others; the relay warns the same about its --key and --tokens files.
#
#   fy-load send ──▶ relay :P ══ TLS 1.3 ══ ferry-agent (one at a time, token given
#                    (key, tokens file           by each way below) ──▶ serve sink :SINK
#                     at modes 0600/0644/0640)
#
# relay: cert init and token add make the key and the tokens file 0600 -> no warning;
#   both 0644 -> "ferry-relay: warning: key K can be read by every local user (mode
#   0644): chmod 600 K" and the same for "tokens file"; both 0640 -> "... can be read by
#   its group (mode 0640) ..."; it serves an agent all the same.
# agent, each time: it connects, its port carries 64 KiB, SIGTERM ends it with exit 0;
#   and exactly these ferry-agent warnings, nothing more:
#   --token-file F (0600)                 none; the token is not in /proc/PID/cmdline
#   FERRY_TOKEN                           none; not in cmdline
#   --token TOKEN                         "--token on the command line is readable by every
#                                         local user (ps); use --token-file FILE or
#                                         FERRY_TOKEN"; the token IS in cmdline (the probe
#                                         above can see it)
#   --token-file F (0644)                 "token file F can be read by every local user
#                                         (mode 0644): chmod 600 F"
#   --token-file F (0640)                 "token file F can be read by its group (mode 0640):
#                                         chmod 600 F"
#   --token-file F, F = "TOKEN\r\nmore"   none: the first line, CR LF stripped
#   --token-file F + FERRY_TOKEN=bogus    the file wins
#   --key K (0644, client certificate)    "key K can be read by every local user ..."
# refused:
#   no token at all (FERRY_TOKEN unset, or empty) -> exit 2, "ferry-agent: --relay and a
#     token (--token-file FILE or FERRY_TOKEN) are required"
#   --token-file MISSING -> exit 2, "ferry-agent: cannot read token file MISSING: No such
#     file or directory"
#   FERRY_TOKEN=bogus -> exit 2, "token not accepted" (the variable is what is sent)
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
fy_init 24800
unset FERRY_TOKEN

fy_alloc_port RELAY_PORT
fy_alloc_port SINK
fy_alloc_port P

fy_certs
TOK=$(fy_token tf "$P")
BOGUS="fyt_$(head -c 32 /dev/urandom | base64 | tr -d '/+=' | head -c 43)"
KEY=$T/pki/relay.key
TOKS=$T/tokens
fy_serve serve-sink "$SINK" --mode sink

# mode FILE: its permission bits, e.g. 600.
mode() { stat -c %a "$1"; }

# relay_warnings: the "ferry-relay: warning:" lines of the relay's latest start.
relay_warnings() {
	awk '/^=== / { n = 0; delete w } /^ferry-relay: warning:/ { w[++n] = $0 }
		END { for (i = 1; i <= n; i++) print w[i] }' "$T/relay.log"
}

# want_lines DESC GOT WANT...: GOT (lines) is exactly the lines WANT (none: empty).
want_lines() {
	local desc=$1 got=$2 want=
	shift 2
	[ $# -gt 0 ] && want=$(printf '%s\n' "$@")
	[ "$got" = "$want" ] || fail "$desc: got [${got:-nothing}], want [${want:-nothing}]"
}

# ------------------------------------------------------------------ relay
[ "$(mode "$KEY")" = 600 ] || fail "cert init wrote $KEY with mode $(mode "$KEY"), want 600"
[ "$(mode "$TOKS")" = 600 ] || fail "token add wrote $TOKS with mode $(mode "$TOKS"), want 600"
fy_relay_start
want_lines "relay warnings with key and tokens file at 0600" "$(relay_warnings)"
check_ok "key and tokens file 0600 (as cert init / token add make them): no warning"

chmod 644 "$KEY" "$TOKS"
fy_relay_stop
fy_relay_start
want_lines "relay warnings with key and tokens file at 0644" "$(relay_warnings)" \
	"ferry-relay: warning: key $KEY can be read by every local user (mode 0644): chmod 600 $KEY" \
	"ferry-relay: warning: tokens file $TOKS can be read by every local user (mode 0644): chmod 600 $TOKS"
check_ok "key and tokens file 0644: both named, 'every local user', 'chmod 600'"

chmod 640 "$KEY" "$TOKS"
fy_relay_stop
fy_relay_start
want_lines "relay warnings with key and tokens file at 0640" "$(relay_warnings)" \
	"ferry-relay: warning: key $KEY can be read by its group (mode 0640): chmod 600 $KEY" \
	"ferry-relay: warning: tokens file $TOKS can be read by its group (mode 0640): chmod 600 $TOKS"
check_ok "key and tokens file 0640: both named, 'its group'"
# (the agent checks below run against this relay: a warning changes nothing else)

# ------------------------------------------------------------------ agent
AG=(--relay "127.0.0.1:$RELAY_PORT" --ca "$T/pki/ca.crt" --name tf --io "$FY_AGENT_IO"
	--log-level debug -R "$P:127.0.0.1:$SINK")
nsent=0

# agent_ok LABEL DESC CMD...: CMD (an agent) connects and claims P, 64 KiB go through,
# SIGTERM ends it with 0. Sets APID (its pid, still running when the check of its
# cmdline is made) before stopping; the caller checks its output in $T/LABEL.out.
agent_ok() {
	local label=$1 desc=$2 i
	shift 2
	fy_bg "$label" "$@"
	APID=${FY_PID[$label]}
	for ((i = 0; i < 400; i++)); do
		fy_alive "$APID" || fail "$desc: the agent exited: $(tail -n 5 "$T/$label.out")"
		fy_listening "$P" && break
		sleep 0.05
	done
	fy_listening "$P" || fail "$desc: port $P not claimed after 20s: $(tail -n 5 "$T/$label.out")"
	nsent=$((nsent + 1))
	load_ok "$desc: 64 KiB through" send --connect "127.0.0.1:$P" --bytes 64K --seed "$nsent" --timeout 30
	CMDLINE=$(tr '\0' ' ' <"/proc/$APID/cmdline")
	fy_stop "$label" TERM 10
	[ "$FY_RC" -eq 0 ] || fail "$desc: agent exit $FY_RC on SIGTERM, want 0"
	wait_closed "$P" 15
}

# agent_warnings LABEL: its "ferry-agent: warning:" lines.
agent_warnings() { grep '^ferry-agent: warning:' "$T/$1.out" || true; }

# not_in_cmdline DESC: the token is not in the agent's command line.
not_in_cmdline() {
	case $CMDLINE in *"$TOK"*) fail "$1: the token is in /proc/$APID/cmdline: $CMDLINE" ;; esac
}

TF=$T/token
printf '%s\n' "$TOK" >"$TF"
chmod 600 "$TF"
agent_ok ag-file "--token-file (0600)" "$AGENT_BIN" "${AG[@]}" --token-file "$TF"
want_lines "agent warnings with --token-file at 0600" "$(agent_warnings ag-file)"
not_in_cmdline "--token-file"
check_ok "--token-file (0600): connected, no warning, token not in /proc/PID/cmdline"

agent_ok ag-env "FERRY_TOKEN" env FERRY_TOKEN="$TOK" "$AGENT_BIN" "${AG[@]}"
want_lines "agent warnings with FERRY_TOKEN" "$(agent_warnings ag-env)"
not_in_cmdline "FERRY_TOKEN"
check_ok "FERRY_TOKEN: connected, no warning, token not in /proc/PID/cmdline"

agent_ok ag-arg "--token" "$AGENT_BIN" "${AG[@]}" --token "$TOK"
want_lines "agent warnings with --token" "$(agent_warnings ag-arg)" \
	"ferry-agent: warning: --token on the command line is readable by every local user (ps); use --token-file FILE or FERRY_TOKEN"
case $CMDLINE in *"$TOK"*) ;; *) fail "--token: the token is not in /proc/$APID/cmdline: the cmdline probe sees nothing" ;; esac
check_ok "--token: connected, warns about ps (and the token is indeed in /proc/PID/cmdline)"

chmod 644 "$TF"
agent_ok ag-644 "--token-file (0644)" "$AGENT_BIN" "${AG[@]}" --token-file "$TF"
want_lines "agent warnings with --token-file at 0644" "$(agent_warnings ag-644)" \
	"ferry-agent: warning: token file $TF can be read by every local user (mode 0644): chmod 600 $TF"
check_ok "--token-file (0644): warns 'every local user (mode 0644): chmod 600', still connects"

chmod 640 "$TF"
agent_ok ag-640 "--token-file (0640)" "$AGENT_BIN" "${AG[@]}" --token-file "$TF"
want_lines "agent warnings with --token-file at 0640" "$(agent_warnings ag-640)" \
	"ferry-agent: warning: token file $TF can be read by its group (mode 0640): chmod 600 $TF"
check_ok "--token-file (0640): warns 'its group (mode 0640)', still connects"

TF2=$T/token-crlf
printf '%s\r\nsecond line, not a token\n' "$TOK" >"$TF2"
chmod 600 "$TF2"
agent_ok ag-crlf "--token-file (first line, CR LF)" env FERRY_TOKEN="$BOGUS" "$AGENT_BIN" "${AG[@]}" \
	--token-file "$TF2"
want_lines "agent warnings with a two-line token file" "$(agent_warnings ag-crlf)"
check_ok "--token-file: the first line is the token (CR LF stripped); it wins over FERRY_TOKEN"

cp "$KEY" "$T/client.key"
chmod 644 "$T/client.key"
agent_ok ag-key "--key (0644)" "$AGENT_BIN" "${AG[@]}" --token-file "$TF2" \
	--cert "$T/pki/relay.crt" --key "$T/client.key"
want_lines "agent warnings with --key at 0644" "$(agent_warnings ag-key)" \
	"ferry-agent: warning: key $T/client.key can be read by every local user (mode 0644): chmod 600 $T/client.key"
check_ok "--key (0644): warns 'every local user'"

# ------------------------------------------------------------------ refused
# agent_rc WANT DESC CMD...: CMD exits WANT within 30 s; its output in $T/rc.out.
agent_rc() {
	local want=$1 desc=$2 rc=0
	shift 2
	timeout 30 "$@" >"$T/rc.out" 2>&1 || rc=$?
	[ "$rc" -eq "$want" ] || fail "$desc: exit $rc, want $want: $(head -n 3 "$T/rc.out")"
}
NO_TOKEN="ferry-agent: --relay and a token (--token-file FILE or FERRY_TOKEN) are required"

agent_rc 2 "no token" env -u FERRY_TOKEN "$AGENT_BIN" "${AG[@]}"
[ "$(head -n 1 "$T/rc.out")" = "$NO_TOKEN" ] || fail "no token: '$(head -n 1 "$T/rc.out")', want '$NO_TOKEN'"
check_ok "no token: exit 2, '$NO_TOKEN'"

agent_rc 2 "empty FERRY_TOKEN" env FERRY_TOKEN= "$AGENT_BIN" "${AG[@]}"
[ "$(head -n 1 "$T/rc.out")" = "$NO_TOKEN" ] || fail "empty FERRY_TOKEN: '$(head -n 1 "$T/rc.out")', want '$NO_TOKEN'"
check_ok "empty FERRY_TOKEN: exit 2, the same message"

agent_rc 2 "missing token file" "$AGENT_BIN" "${AG[@]}" --token-file "$T/nonexistent"
want="ferry-agent: cannot read token file $T/nonexistent: No such file or directory"
[ "$(head -n 1 "$T/rc.out")" = "$want" ] || fail "missing token file: '$(head -n 1 "$T/rc.out")', want '$want'"
check_ok "missing token file: exit 2, '$want'"

agent_rc 2 "FERRY_TOKEN=bogus" env FERRY_TOKEN="$BOGUS" "$AGENT_BIN" "${AG[@]}"
grep -q 'token not accepted' "$T/rc.out" || fail "FERRY_TOKEN=bogus: no 'token not accepted': $(tail -n 3 "$T/rc.out")"
if grep -q '^ferry-agent: warning:' "$T/rc.out"; then fail "FERRY_TOKEN=bogus: a warning: $(grep '^ferry-agent: warning:' "$T/rc.out")"; fi
check_ok "FERRY_TOKEN=bogus: the relay refuses it (exit 2, 'token not accepted')"

n=$(log_count "$T/serve-sink.out" '^conn id=.* in=65536 .* end=eof')
[ "$n" -eq "$nsent" ] || fail "the sink saw $n complete 64 KiB connections, want $nsent"

pass
