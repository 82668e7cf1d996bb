# shellcheck shell=bash
# The bad-input cases that every relay backend must survive, shared by
# tests/integration/bad_input.sh (kernel sockets) and dpdk_badinput.sh (DPDK).
# The sourcing script defines good_check DESC (the good agent still passes a
# sha256 check) and sets RELAY (host:port of the agent listener), TLS (the
# fy-load tls command prefix) and TOK_M (the token of the misbehaving agent).

# expect_log DESC PEER REGEX SINCE_LINE: a relay log line (info or above) after
# SINCE_LINE names PEER (the client's ip:port) and matches REGEX (case-insensitive).
expect_log() {
	local desc=$1 peer=$2 re=$3 since=$4 i found='' id n
	[ -n "$peer" ] || fail "$desc: fy-load reported no local address"
	id="${peer//./\\.}([^0-9]|$)"
	for ((i = 0; i < 100; i++)); do
		found=$(tail -n +$((since + 1)) "$T/relay.log" | grep -v ' DEBUG ' | grep -E -- "$id" |
			grep -Ei -- "$re" | head -n 1) || true
		[ -n "$found" ] && break
		sleep 0.05
	done
	[ -n "$found" ] || fail "$desc: no relay log line for $peer matching /$re/; new lines:
$(tail -n +$((since + 1)) "$T/relay.log" | tail -n 15)"
	n=$(tail -n +$((since + 1)) "$T/relay.log" | grep -v ' DEBUG ' | grep -Ec -- "$id" || true)
	check_ok "$desc"
	printf '         relay (%s line(s) above debug for this peer): %s\n' "$n" "${found#* }"
}

# bad_case DESC REASON_REGEX FY-LOAD-ARGS...: the result line is left in BAD_OUT.
bad_case() {
	local desc=$1 re=$2 since rc=0
	shift 2
	since=$(wc -l <"$T/relay.log")
	BAD_OUT=$(load "$@") || rc=$?
	[ "$rc" -eq 0 ] || fail "$desc: ${BAD_OUT:-no output} (fy-load exit $rc)"
	expect_log "$desc -> $BAD_OUT" "$(field local "$BAD_OUT")" "$re" "$since"
	good_check "$desc"
}

# secs_between LINE LO HI: the line's secs= lies in [LO, HI).
secs_between() {
	awk -v s="$(field secs "$1")" -v lo="$2" -v hi="$3" 'BEGIN { exit !(s >= lo && s < hi) }'
}

# bad_input_cases: every case; each one ends only its own connection.
bad_input_cases() {
	# --- before TLS
	bad_case "plain-text HTTP request" 'tls|ssl|handshake|record|version|http' \
		hold --connect "$RELAY" --send-text $'GET / HTTP/1.1\r\nHost: relay\r\n\r\n' --expect any --timeout 10
	secs_between "$BAD_OUT" 0 1.5 || fail "plain-text client closed after $(field secs "$BAD_OUT") s, want at once"
	bad_case "TCP connection that sends nothing" 'time|deadline|within [0-9]+ ?ms' \
		hold --connect "$RELAY" --expect any --timeout 10
	secs_between "$BAD_OUT" 1.5 8 || fail "idle connection closed after $(field secs "$BAD_OUT") s, want the 2 s handshake deadline"
	bad_case "half a TLS ClientHello, then nothing" 'time|deadline|within [0-9]+ ?ms' \
		hold --connect "$RELAY" --send-hex 16030100c8010000c40303 --expect any --timeout 10
	secs_between "$BAD_OUT" 1.5 8 || fail "stalled handshake closed after $(field secs "$BAD_OUT") s, want the 2 s deadline"

	# --- TLS done, bad frames before authentication (ERROR 1 = protocol)
	bad_case "DATA before HELLO" 'hello|auth|before|unexpected|protocol' \
		"${TLS[@]}" --frame 0x11,0,1,4,deadbeef --expect-error 1
	bad_case "unknown frame type 0x7f" 'type|unknown|malformed|protocol' \
		"${TLS[@]}" --frame 0x7f,0,0,0 --expect-error 1
	bad_case "HELLO header with length 70000" 'length|large|long|big|exceed|oversize|malformed' \
		"${TLS[@]}" --frame 0x01,0,0,70000 --expect-error 1
	bad_case "non-zero reserved field" 'reserved|malformed|protocol' \
		"${TLS[@]}" --raw 010000010000000000000000 --expect-error 1
	bad_case "HELLO whose token length overruns it" 'hello|length|malformed|protocol|token' \
		"${TLS[@]}" --frame 0x01,0,0,-,000100010000000000000000000000000040414243 --expect-error 1
	bad_case "truncated frame, then close_notify" 'truncat|partial|incomplete|mid|eof|closed' \
		"${TLS[@]}" --raw 0100000000000000 --close-notify --expect-error any
	bad_case "truncated HELLO, then silence" 'time|deadline|within [0-9]+ ?ms' \
		"${TLS[@]}" --raw 01000000000000000000003200010001 --expect-error any

	# --- authenticated as mallory, then misbehaving
	bad_case "second HELLO" 'hello|again|twice|duplicate|second|unexpected|protocol' \
		"${TLS[@]}" --hello "$TOK_M:mallory" --hello "$TOK_M:mallory" --expect-error 1
	bad_case "WINDOW for a stream never opened" 'stream|unknown|never|protocol' \
		"${TLS[@]}" --hello "$TOK_M:mallory" --frame 0x12,0,7,4,00001000 --expect-error 1
}
