#!/usr/bin/env bash
# shellcheck disable=SC2119 # lib.sh helpers take optional arguments
# A crash never looks like a complete transfer; a clean end stays clean.
#
#   fy-load recv ◀── relay :P_BIG  ◀═╗                 ╔═ agent ◀── serve source 4 GiB        :BIG
#   curl         ◀── relay :P_HTTP ◀═╣                 ╠═ agent ◀── python3 -m http.server    :HTTP
#   fy-load send ──▶ relay :P_SINK ══╬══ TLS tunnel ═══╬▶ agent ──▶ serve sink                :SINK
#   fy-load send ──▶ relay :P_SLOW ══╣                 ╠▶ agent ──▶ serve sink 256 KiB/s      :SLOW
#   recv/python  ◀── relay :P_SRC  ◀═╣                 ╠═ agent ◀── serve source 64 MiB       :SRC
#   fy-load send ──▶ relay :P_HALF ══╝                 ╚▶ agent ──▶ python target that shuts
#                                                                   its write side at once  :HALF
#
# (a) relay SIGKILL in the middle of a download, three times (each once some MiB have
#     reached the client): 1. while bytes flow freely (fy-load recv of 4 GiB); 2. while
#     the client is stopped (SIGSTOP), so the relay's socket holds unsent bytes; 3. curl
#     --limit-rate fetching a 1 GiB file. The client must see a reset (fy-load exit 3,
#     curl exit 56 "Connection reset by peer"), never a clean EOF (fy-load exit 4, curl
#     exit 18: a short body that looks complete); 4. during an upload into a sink: the
#     target's stream is reset (end=reset), the client too. The relay is started again
#     each time.
# (b) agent SIGKILL in the middle of an upload, three times (each once some MiB have
#     reached the target): 1. bytes flowing freely into a sink; 2. the sink stopped
#     (SIGSTOP), so the agent's socket holds unsent bytes; 3. a sink that reads 256 KiB/s.
#     The target must see a reset (its 'conn' line end=reset, not end=eof with a short
#     in=); the uploading client sees a reset too; 4. during a download: the client sees
#     a reset (fy-load exit 3), the source its stream reset. The agent is started again
#     each time.
# (c) the same set-up, clean: 64 MiB each way (sha256 equal to sha256sum of the input,
#     sink end=eof with exactly 64 MiB); a client that shuts its write side at once and
#     stops reading 256 KiB before the end, so the relay ends the stream (FIN) with bytes
#     still queued towards it: it gets every byte and a clean EOF; the mirror on the agent
#     side: a target that shut its write side at once stops reading 256 KiB before the end
#     of a 64 MiB upload, so the agent closes its socket with bytes queued: the target
#     reads them all, then EOF (an abortive close would reset it); curl of a 32 MiB
#     file: exit 0, same sha256.
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
fy_init 24700

command -v python3 >/dev/null || skip "needs python3 (http.server and a half-closing client)"
command -v curl >/dev/null || skip "needs curl"

fy_alloc_port RELAY_PORT
fy_alloc_port BIG
fy_alloc_port HTTP
fy_alloc_port SINK
fy_alloc_port SLOW
fy_alloc_port SRC
fy_alloc_port HALF
fy_alloc_port P_BIG
fy_alloc_port P_HTTP
fy_alloc_port P_SINK
fy_alloc_port P_SLOW
fy_alloc_port P_SRC
fy_alloc_port P_HALF
FWD=(-R "$P_BIG:127.0.0.1:$BIG" -R "$P_HTTP:127.0.0.1:$HTTP" -R "$P_SINK:127.0.0.1:$SINK"
	-R "$P_SLOW:127.0.0.1:$SLOW" -R "$P_SRC:127.0.0.1:$SRC" -R "$P_HALF:127.0.0.1:$HALF")
PUBS=("$P_BIG" "$P_HTTP" "$P_SINK" "$P_SLOW" "$P_SRC" "$P_HALF")
MIB=$((1 << 20))

# rx FILTER: the largest bytes_received of the established TCP sockets matching the ss
# filter FILTER (0 when none).
rx() {
	local v
	v=$(ss -Htni state established "$1" 2>/dev/null | grep -o 'bytes_received:[0-9]*' |
		cut -d: -f2 | sort -n | tail -n 1)
	printf '%s\n' "${v:-0}"
}

# wait_rx FILTER BYTES SECS: poll until a socket matching FILTER has received BYTES.
wait_rx() {
	local i
	for ((i = 0; i < $3 * 20; i++)); do
		[ "$(rx "$1")" -ge "$2" ] && return 0
		sleep 0.05
	done
	fail "no socket matching '$1' received $2 bytes within $3s (got $(rx "$1"))"
}

# wait_sendq FILTER SECS: poll until an established socket matching FILTER holds unsent
# bytes (its Send-Q is not 0): its peer has stopped taking them.
wait_sendq() {
	local i q
	for ((i = 0; i < $2 * 20; i++)); do
		q=$(ss -Htn state established "$1" 2>/dev/null | awk '$2 > 0 {print $2}' | head -n 1)
		[ -n "$q" ] && { printf '%s\n' "$q"; return 0; }
		sleep 0.05
	done
	fail "no socket matching '$1' has unsent bytes after $2s"
}

# wait_no_state STATE FILTER SECS: poll until no socket in STATE matches FILTER.
wait_no_state() {
	local i
	for ((i = 0; i < $3 * 20; i++)); do
		[ -z "$(ss -Htn state "$1" "$2" 2>/dev/null)" ] && return 0
		sleep 0.05
	done
	fail "a socket in state $1 matching '$2' is still there after $3s"
}

# unsent STATE FILTER: Send-Q of the first socket in STATE matching FILTER (0 if none).
unsent() {
	local q
	q=$(ss -Htn state "$1" "$2" 2>/dev/null | awk '{print $2}' | head -n 1)
	printf '%s\n' "${q:-0}"
}

wait_pubs() {
	local p
	for p in "${PUBS[@]}"; do wait_listen "$p" 30; done
}

# conn_line LABEL N: the Nth 'conn' line of serve LABEL, waiting for it (bounded).
conn_line() {
	wait_log_count "$T/$1.out" '^conn id=' "$2" 30
	grep -E '^conn id=' "$T/$1.out" | sed -n "$2p"
}

fy_certs
TOK=$(fy_token crash "$FY_PORT_RANGE")
mkdir -p "$T/www"
truncate -s 1G "$T/www/zero.bin" # sparse: takes no disk
"$LOAD" gen --bytes 32M --seed 7 >"$T/www/small.bin"
fy_serve serve-big "$BIG" --mode source --bytes 4G --seed 2
fy_serve serve-sink "$SINK" --mode sink
fy_serve serve-slow "$SLOW" --mode sink --slow-read 256K
fy_serve serve-src "$SRC" --mode source --bytes 64M --seed 3
fy_bg serve-http python3 -m http.server "$HTTP" --bind 127.0.0.1 --directory "$T/www"
wait_port "$HTTP" 15
fy_relay_start
fy_agent_start crash "$TOK" "${FWD[@]}"
wait_pubs

# ---------------------------------------------------------------- (a) relay SIGKILL
PARTS=${CRASH_PARTS:-abc}
fy_say "(a) relay SIGKILL in the middle of transfers"
nbig=0
nsink=0
rounds=(flow stopped curl upload)
[[ $PARTS == *a* ]] || rounds=()
for round in "${rounds[@]}"; do
	case $round in
	flow | stopped)
		nbig=$((nbig + 1))
		fy_bg "dl-$round" "$LOAD" recv --connect "127.0.0.1:$P_BIG" --bytes 4G --seed 2 --timeout 120
		wait_rx "dport = :$P_BIG" $((8 * MIB)) 60
		fy_alive "${FY_PID[dl-$round]}" || fail "($round) the download ended before the kill: $(fy_result "dl-$round")"
		if [ "$round" = stopped ]; then
			kill -STOP "${FY_PID[dl-$round]}"
			q=$(wait_sendq "sport = :$P_BIG" 30)
			fy_say "client stopped; the relay's socket holds $q unsent bytes"
		fi
		fy_say "SIGKILL relay pid $FY_RELAY_PID ($round; client has received $(rx "dport = :$P_BIG") bytes)"
		fy_relay_stop KILL
		[ "$FY_RC" -eq 137 ] || fail "relay exit status $FY_RC after SIGKILL, want 137"
		[ "$round" = stopped ] && kill -CONT "${FY_PID[dl-$round]}"
		fy_bg_wait "dl-$round"
		case $FY_RC in
		3) check_ok "relay killed ($round): client saw a reset: $(fy_result "dl-$round")" ;;
		0 | 4) fail "relay killed ($round): the client saw a clean end (fy-load exit $FY_RC): $(fy_result "dl-$round")" ;;
		*) fail "relay killed ($round): $(fy_result "dl-$round") (fy-load exit $FY_RC, want 3 = reset)" ;;
		esac
		# The target's side of the stream ended too (the agent lost its tunnel).
		line=$(conn_line serve-big "$nbig")
		[ "$(field end "$line")" = reset ] || fail "($round) the source target's stream ended with: $line (want end=reset)"
		check_ok "($round) the target's stream was reset too: $line"
		;;
	upload)
		nsink=$((nsink + 1))
		fy_bg ul-relay "$LOAD" send --connect "127.0.0.1:$P_SINK" --bytes 4G --seed 4 --timeout 120
		wait_rx "sport = :$SINK" $((8 * MIB)) 60
		fy_alive "${FY_PID[ul-relay]}" || fail "(upload) the upload ended before the kill: $(fy_result ul-relay)"
		fy_say "SIGKILL relay pid $FY_RELAY_PID (upload; target has received $(rx "sport = :$SINK") bytes)"
		fy_relay_stop KILL
		line=$(conn_line serve-sink "$nsink")
		[ "$(field end "$line")" = reset ] || fail "relay killed (upload): the target's stream ended with: $line (want end=reset)"
		check_ok "relay killed (upload): the target saw a reset: $line"
		fy_bg_wait ul-relay
		[ "$FY_RC" -eq 3 ] || fail "relay killed (upload): the client: $(fy_result ul-relay) (fy-load exit $FY_RC, want 3)"
		check_ok "relay killed (upload): the client saw a reset: $(fy_result ul-relay)"
		;;
	curl)
		fy_bg curl-kill curl -sS --limit-rate 4M --max-time 120 -o "$T/zero.part" \
			"http://127.0.0.1:$P_HTTP/zero.bin"
		wait_rx "dport = :$P_HTTP" $((4 * MIB)) 60
		fy_alive "${FY_PID[curl-kill]}" || fail "(curl) curl ended before the kill: $(cat "$T/curl-kill.out")"
		fy_say "SIGKILL relay pid $FY_RELAY_PID (curl has received $(rx "dport = :$P_HTTP") bytes)"
		fy_relay_stop KILL
		fy_bg_wait curl-kill
		got=$(stat -c %s "$T/zero.part" 2>/dev/null || echo 0)
		case $FY_RC in
		56) grep -q 'Connection reset by peer' "$T/curl-kill.out" ||
			fail "(curl) exit 56 but not 'Connection reset by peer': $(cat "$T/curl-kill.out")"
			check_ok "relay killed (curl): curl exit 56 after $got of $((1 << 30)) bytes: $(cat "$T/curl-kill.out")" ;;
		18 | 0) fail "relay killed (curl): curl exit $FY_RC after $got bytes: a clean, short end ($(cat "$T/curl-kill.out"))" ;;
		*) fail "relay killed (curl): curl exit $FY_RC, want 56: $(cat "$T/curl-kill.out")" ;;
		esac
		;;
	esac
	fy_relay_start
	wait_pubs
done

# ---------------------------------------------------------------- (b) agent SIGKILL
fy_say "(b) agent SIGKILL in the middle of transfers"
rounds=(flow stopped slow download)
[[ $PARTS == *b* ]] || rounds=()
for round in "${rounds[@]}"; do
	if [ "$round" = download ]; then
		nbig=$((nbig + 1))
		fy_bg dl-agent "$LOAD" recv --connect "127.0.0.1:$P_BIG" --bytes 4G --seed 2 --timeout 120
		wait_rx "dport = :$P_BIG" $((8 * MIB)) 60
		fy_alive "${FY_PID[dl-agent]}" || fail "(download) the download ended before the kill: $(fy_result dl-agent)"
		fy_say "SIGKILL agent pid ${FY_AGENT_PID[crash]} (download; client has received $(rx "dport = :$P_BIG") bytes)"
		fy_agent_stop crash KILL
		fy_bg_wait dl-agent
		[ "$FY_RC" -eq 3 ] || fail "agent killed (download): the client: $(fy_result dl-agent) (fy-load exit $FY_RC, want 3)"
		check_ok "agent killed (download): the client saw a reset: $(fy_result dl-agent)"
		line=$(conn_line serve-big "$nbig")
		[ "$(field end "$line")" = reset ] || fail "agent killed (download): the source's stream ended with: $line (want end=reset)"
		check_ok "agent killed (download): the source target saw a reset: $line"
		for p in "${PUBS[@]}"; do wait_closed "$p" 15; done
		fy_agent_start crash "$TOK" "${FWD[@]}"
		wait_pubs
		continue
	fi
	if [ "$round" = slow ]; then
		port=$P_SLOW tport=$SLOW label=serve-slow n=1
	else
		nsink=$((nsink + 1))
		port=$P_SINK tport=$SINK label=serve-sink n=$nsink
	fi
	fy_bg "ul-$round" "$LOAD" send --connect "127.0.0.1:$port" --bytes 4G --seed 4 --timeout 120
	if [ "$round" = slow ]; then
		wait_rx "sport = :$tport" $((1 * MIB)) 60
		q=$(wait_sendq "dport = :$tport" 30)
		fy_say "the slow target holds the agent back; its socket holds $q unsent bytes"
	else
		wait_rx "sport = :$tport" $((8 * MIB)) 60
	fi
	fy_alive "${FY_PID[ul-$round]}" || fail "($round) the upload ended before the kill: $(fy_result "ul-$round")"
	if [ "$round" = stopped ]; then
		kill -STOP "${FY_PID[serve-sink]}"
		q=$(wait_sendq "dport = :$tport" 30)
		fy_say "target stopped; the agent's socket holds $q unsent bytes"
	fi
	fy_say "SIGKILL agent pid ${FY_AGENT_PID[crash]} ($round; target has received $(rx "sport = :$tport") bytes)"
	fy_agent_stop crash KILL
	[ "$FY_RC" -eq 137 ] || fail "agent exit status $FY_RC after SIGKILL, want 137"
	[ "$round" = stopped ] && kill -CONT "${FY_PID[serve-sink]}"
	line=$(conn_line "$label" "$n")
	case $(field end "$line") in
	reset) check_ok "agent killed ($round): the target saw a reset: $line" ;;
	eof*) fail "agent killed ($round): the target saw a clean EOF after $(field in "$line") bytes: $line" ;;
	*) fail "agent killed ($round): target's stream ended with: $line (want end=reset)" ;;
	esac
	fy_bg_wait "ul-$round"
	[ "$FY_RC" -eq 3 ] || fail "agent killed ($round): the client's upload: $(fy_result "ul-$round") (fy-load exit $FY_RC, want 3)"
	check_ok "agent killed ($round): the client saw a reset: $(fy_result "ul-$round")"
	for p in "${PUBS[@]}"; do wait_closed "$p" 15; done
	fy_agent_start crash "$TOK" "${FWD[@]}"
	wait_pubs
done
fy_alive "$FY_RELAY_PID" || fail "the relay died"

# ---------------------------------------------------------------- (c) clean ends
[[ $PARTS == *c* ]] || { pass; exit 0; }
fy_say "(c) clean transfers through the same set-up"
N=64M
want_up=$(gen_sha "$N" 5)
load_ok "clean upload of 64 MiB" send --connect "127.0.0.1:$P_SINK" --bytes "$N" --seed 5 --timeout 150
[ "$(field sha256 "$FY_OUT")" = "$want_up" ] || fail "upload digest differs from sha256sum of the input"
nsink=$((nsink + 1))
line=$(conn_line serve-sink "$nsink")
[[ $line == *" in=$((64 * MIB)) out=65 in_sha256=$want_up end=eof "* ]] ||
	fail "the sink's line for the clean upload: $line (want in=$((64 * MIB)) in_sha256=$want_up end=eof)"
check_ok "sink got exactly 64 MiB, sha256 $want_up, then EOF"

want_src=$(gen_sha "$N" 3)
load_ok "clean download of 64 MiB" recv --connect "127.0.0.1:$P_SRC" --bytes "$N" --seed 3 --timeout 150
[ "$(field sha256 "$FY_OUT")" = "$want_src" ] || fail "download digest differs from sha256sum of the source"
line=$(conn_line serve-src 1)
[ "$(field end "$line")" = eof ] || fail "the source's line for the clean download: $line (want end=eof)"

# halfread.py connect|listen PORT TOTAL KEEP GO: one connection (made, or the first one
# accepted) with a fixed 64 KiB receive buffer (so what it does not read stays queued at
# the sender) that shuts its write side at once, reads TOTAL-KEEP bytes, prints 'paused',
# waits for the file GO, reads on to the end and prints 'eof bytes=N sha256=H' (exit 0)
# or 'reset bytes=N' (exit 3).
cat >"$T/halfread.py" <<'PY'
import hashlib, os, socket, sys, time
mode, port, total, keep, go = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
if mode == "listen":
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(1)
    print("listening port=%d" % port, flush=True)
    s = ls.accept()[0]
else:
    ls.connect(("127.0.0.1", port))
    s = ls
s.shutdown(socket.SHUT_WR)
h, got = hashlib.sha256(), 0
try:
    while got < total - keep:
        b = s.recv(min(65536, total - keep - got))
        if not b:
            print("eof bytes=%d (early)" % got, flush=True)
            sys.exit(4)
        h.update(b)
        got += len(b)
    print("paused bytes=%d" % got, flush=True)
    deadline = time.time() + 60
    while not os.path.exists(go):
        if time.time() > deadline:
            print("timeout waiting for %s" % go, flush=True)
            sys.exit(5)
        time.sleep(0.05)
    while True:
        b = s.recv(65536)
        if not b:
            break
        h.update(b)
        got += len(b)
except ConnectionResetError:
    print("reset bytes=%d" % got, flush=True)
    sys.exit(3)
print("eof bytes=%d sha256=%s" % (got, h.hexdigest()), flush=True)
PY

# The relay ends a stream with bytes still queued towards its client.
fy_bg half-client python3 "$T/halfread.py" connect "$P_SRC" $((64 * MIB)) $((256 << 10)) "$T/go1"
wait_log "$T/half-client.out" '^(paused|eof|reset|timeout) ' 60
grep -q '^paused ' "$T/half-client.out" || fail "client that stops reading 256 KiB early: $(tail -n 1 "$T/half-client.out")"
line=$(conn_line serve-src 2) # the source wrote everything and read the client's EOF
[ "$(field end "$line")" = eof ] || fail "the source's line for the half-closed client: $line"
# The relay has closed its side: its socket, in CLOSE-WAIT since the client's FIN, is
# in LAST-ACK with unsent bytes (the client has 256 KiB left to read).
wait_no_state close-wait "sport = :$P_SRC" 30
q=$(unsent last-ack "sport = :$P_SRC")
fy_say "the relay closed its socket to the client with $q bytes unsent"
: >"$T/go1"
fy_bg_wait half-client
res=$(tail -n 1 "$T/half-client.out")
if [ "$FY_RC" -ne 0 ] || [ "$res" != "eof bytes=$((64 * MIB)) sha256=$want_src" ]; then
	fail "client reading after the relay's FIN: $res (exit $FY_RC), want eof bytes=$((64 * MIB)) sha256=$want_src"
fi
[ "$q" -gt 0 ] || fail "the relay's closed socket held no unsent bytes (LAST-ACK Send-Q 0): nothing was checked"
check_ok "relay ended the stream with $q bytes unsent: the client read all 64 MiB, then EOF"

# The agent ends a stream with bytes still queued towards its target.
KEEP=$((256 << 10))
fy_bg half-target python3 "$T/halfread.py" listen "$HALF" $((64 * MIB)) "$KEEP" "$T/go2"
wait_log "$T/half-target.out" '^listening ' 15
fy_bg half-up "$LOAD" send --connect "127.0.0.1:$P_HALF" --bytes 64M --seed 6 --no-digest --timeout 120
wait_log "$T/half-target.out" '^(paused|eof|reset|timeout) ' 60
grep -q '^paused ' "$T/half-target.out" ||
	fail "target that stops reading 256 KiB early: $(tail -n 1 "$T/half-target.out") (want 'paused', then all bytes)"
fy_bg_wait half-up
[ "$FY_RC" -eq 0 ] || fail "upload to the half-closing target: $(fy_result half-up) (exit $FY_RC)"
# The agent has closed its socket to the target (in CLOSE-WAIT since the target's FIN)
# while the target has not read the last MiB.
wait_no_state close-wait "dport = :$HALF" 30
q=$(unsent last-ack "dport = :$HALF")
fy_say "the agent closed its socket to the target with $q bytes unsent"
: >"$T/go2"
fy_bg_wait half-target
res=$(tail -n 1 "$T/half-target.out")
want_half=$(gen_sha 64M 6)
if [ "$FY_RC" -ne 0 ] || [ "$res" != "eof bytes=$((64 * MIB)) sha256=$want_half" ]; then
	fail "target reading after the agent's close: $res (exit $FY_RC), want eof bytes=$((64 * MIB)) sha256=$want_half"
fi
[ "$q" -gt 0 ] || fail "the agent's closed socket held no unsent bytes (LAST-ACK Send-Q 0): nothing was checked"
check_ok "agent ended the stream with $q bytes unsent: the target read all 64 MiB, then EOF"

curl -sS --max-time 60 -o "$T/small.got" "http://127.0.0.1:$P_HTTP/small.bin" 2>"$T/curl-clean.err" ||
	fail "clean curl: exit $?: $(cat "$T/curl-clean.err")"
a=$(sha256sum <"$T/www/small.bin" | cut -d' ' -f1)
b=$(sha256sum <"$T/small.got" | cut -d' ' -f1)
[ "$a" = "$b" ] || fail "clean curl: sha256 $b, want $a"
check_ok "clean curl of 32 MiB: exit 0, sha256 $a"

pass
