# shellcheck shell=bash
# Helpers for ferry's integration scripts (tests/integration/*.sh). Source it, then
# call fy_init with the script's own port base:
#
#   . "$(dirname "$0")/../lib.sh"
#   fy_init 21000            # temp dir $T, trap cleanup EXIT, ports from 21000 up
#
# Everything runs on 127.0.0.1. Binaries come from $FY_BUILD (default: build/ at the
# top of the repository); the agent's event loop from $FY_AGENT_IO (auto|epoll|uring).
# Each helper that waits polls with a bound; nothing sleeps to synchronise.
#
# Conventions: every process a script starts goes through fy_relay_start,
# fy_agent_start, fy_serve or fy_bg, so cleanup kills exactly those (by PID) and
# nothing else. On failure, cleanup prints the tail of every log in $T.
# Set FY_KEEP=1 to keep $T after a passing run.

set -eu

FY_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FY_BUILD=${FY_BUILD:-$FY_ROOT/build}
case $FY_BUILD in
/*) ;;
*) if [ -d "$PWD/$FY_BUILD" ]; then FY_BUILD=$PWD/$FY_BUILD; else FY_BUILD=$FY_ROOT/$FY_BUILD; fi ;;
esac
RELAY_BIN=$FY_BUILD/relay/ferry-relay
AGENT_BIN=$FY_BUILD/agent/ferry-agent
LOAD=$FY_BUILD/tests/fy-load
FY_AGENT_IO=${FY_AGENT_IO:-auto}
FY_NAME=$(basename "$0" .sh)

T=
RELAY_PORT=
FY_RELAY_PID=
FY_PASSED=0
FY_NEXT_PORT=
FY_PORT_BASE=
FY_PORT_RANGE=
FY_RC=0
FY_OUT=
declare -A FY_PID=()      # label -> pid of every process we started and still own
declare -A FY_AGENT_PID=() # agent name -> pid

# ------------------------------------------------------------------ messages

fy_say() { printf '# %s %s\n' "$(date +%H:%M:%S.%3N)" "$*"; }

# check_ok DESC: one sub-check passed.
check_ok() { printf '  ok - %s\n' "$*"; }

# fail WHY: the scenario failed; cleanup prints the logs.
# (Inside a command substitution the line goes to stderr, so it is not swallowed.)
fail() {
	if [ "$BASH_SUBSHELL" -gt 0 ]; then
		printf 'FAIL %s: %s\n' "$FY_NAME" "$*" >&2
	else
		printf 'FAIL %s: %s\n' "$FY_NAME" "$*"
	fi
	exit 1
}

# skip WHY: the scenario cannot run here (exit 77, counted as skipped).
skip() {
	printf 'SKIP %s: %s\n' "$FY_NAME" "$*"
	FY_PASSED=skip
	exit 77
}

# pass: the whole scenario passed (call last).
pass() {
	FY_PASSED=1
	printf 'PASS %s\n' "${1:-$FY_NAME}"
}

# ---------------------------------------------------------------- processes

# fy_alive PID: true while PID runs (a zombie counts as gone).
fy_alive() {
	local st
	[ -r "/proc/$1/stat" ] || return 1
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# fy_stop LABEL [SIGNAL] [SECS]: signal a process we own, wait for it (bounded),
# then SIGKILL. Sets FY_RC to its exit status (128+n when killed by signal n).
fy_stop() {
	local label=$1 sig=${2:-TERM} secs=${3:-10} pid i
	pid=${FY_PID[$label]:-}
	FY_RC=0
	[ -n "$pid" ] || return 0
	kill "-$sig" "$pid" 2>/dev/null || true
	for ((i = 0; i < secs * 20; i++)); do
		fy_alive "$pid" || break
		sleep 0.05
	done
	if fy_alive "$pid"; then
		fy_say "$label (pid $pid) still running ${secs}s after SIG$sig; sending SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || FY_RC=$?
	unset "FY_PID[$label]"
	return 0
}

# fy_bg LABEL CMD...: run CMD in the background, output to $T/LABEL.out.
fy_bg() {
	local label=$1
	shift
	"$@" >"$T/$label.out" 2>&1 &
	FY_PID[$label]=$!
}

# fy_bg_wait LABEL: wait for a background command (which must bound itself, as
# fy-load does with --timeout); sets FY_RC to its exit status.
fy_bg_wait() {
	local pid=${FY_PID[$1]}
	FY_RC=0
	wait "$pid" || FY_RC=$?
	unset "FY_PID[$1]"
}

# fy_result LABEL: the result line ("ok ..." / "FAIL ...") of a background fy-load.
fy_result() { grep -E '^(ok|FAIL|reset|eof|refused|open|closed|fast done)( |$)' "$T/$1.out" | tail -n 1; }

# load ARGS...: run fy-load in the foreground; prints its result line; returns its
# exit status. Its stderr (diagnostics) goes to $T/load.err.
load() {
	"$LOAD" "$@" 2>>"$T/load.err"
}

# load_ok DESC ARGS...: run fy-load, which must exit 0; its result line goes to
# FY_OUT and is printed as a passed sub-check.
load_ok() {
	local desc=$1 rc=0
	shift
	FY_OUT=$(load "$@") || rc=$?
	[ "$rc" -eq 0 ] || fail "$desc: ${FY_OUT:-no output} (fy-load exit $rc)"
	check_ok "$desc: $FY_OUT"
}

# load_rc WANT DESC ARGS...: run fy-load, which must exit WANT (e.g. 3 = reset).
load_rc() {
	local want=$1 desc=$2 rc=0
	shift 2
	FY_OUT=$(load "$@") || rc=$?
	[ "$rc" -eq "$want" ] || fail "$desc: ${FY_OUT:-no output} (fy-load exit $rc, want $want)"
	check_ok "$desc: $FY_OUT"
}

# field NAME LINE: the value of NAME=value in a result line.
field() { sed -n "s/.*[ ^]$1=\([^ ]*\).*/\1/p; t; s/^$1=\([^ ]*\).*/\1/p" <<<"$2" | head -n 1; }

# gen_sha BYTES SEED: sha256 of fy-load's stream, computed by sha256sum.
gen_sha() { "$LOAD" gen --bytes "$1" --seed "$2" | sha256sum | cut -d' ' -f1; }

# ------------------------------------------------------------------- ports

fy_listening() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

# fy_alloc_port VAR: next port of this script's range that nothing listens on.
fy_alloc_port() {
	while fy_listening "$FY_NEXT_PORT"; do
		FY_NEXT_PORT=$((FY_NEXT_PORT + 1))
	done
	[ "$FY_NEXT_PORT" -lt $((FY_PORT_BASE + 100)) ] || fail "no free port in $FY_PORT_RANGE"
	printf -v "$1" '%s' "$FY_NEXT_PORT"
	FY_NEXT_PORT=$((FY_NEXT_PORT + 1))
}

# The wait_* helpers poll for SECS x FY_WAIT_SCALE: a wait ends as soon as what it
# waits for happens, so a longer limit costs only a failing run time, and the
# SECS a scenario names stay what a quiet machine needs. CI shares a loaded 2-core
# box and runs one pass under ASan, several times slower.
FY_WAIT_SCALE=${FY_WAIT_SCALE:-3}

# fy_can_connect PORT: one TCP connect to 127.0.0.1:PORT succeeds.
fy_can_connect() {
	# shellcheck disable=SC2016 # $1 is expanded by the inner bash
	timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null
}

# wait_port PORT [SECS]: poll until a TCP connect succeeds.
wait_port() {
	local port=$1 secs=$((${2:-10} * FY_WAIT_SCALE)) i
	for ((i = 0; i < secs * 10; i++)); do
		fy_can_connect "$port" && return 0
		sleep 0.1
	done
	fail "nothing accepts on port $port after ${secs}s"
}

# wait_listen PORT [SECS]: poll until something listens on PORT (no connection made).
wait_listen() {
	local port=$1 secs=$((${2:-10} * FY_WAIT_SCALE)) i
	for ((i = 0; i < secs * 20; i++)); do
		fy_listening "$port" && return 0
		sleep 0.05
	done
	fail "nothing listens on port $port after ${secs}s"
}

# wait_closed PORT [SECS]: poll until nothing listens on PORT and a connect is refused.
wait_closed() {
	local port=$1 secs=$((${2:-10} * FY_WAIT_SCALE)) i
	for ((i = 0; i < secs * 20; i++)); do
		if ! fy_listening "$port" && ! fy_can_connect "$port"; then
			return 0
		fi
		sleep 0.05
	done
	fail "port $port still accepts connections after ${secs}s"
}

# ------------------------------------------------------------------- logs

# wait_log FILE REGEX [SECS]: poll until FILE has a line matching REGEX (ERE).
wait_log() {
	local file=$1 re=$2 secs=$((${3:-10} * FY_WAIT_SCALE)) i
	for ((i = 0; i < secs * 20; i++)); do
		grep -Eq -- "$re" "$file" 2>/dev/null && return 0
		sleep 0.05
	done
	fail "no line matching /$re/ in $(basename "$file") after ${secs}s"
}

# log_count FILE REGEX: number of lines matching REGEX (0 when FILE is missing).
log_count() {
	local n
	n=$(grep -Ec -- "$2" "$1" 2>/dev/null) || true
	printf '%s\n' "${n:-0}"
}

# wait_log_count FILE REGEX N [SECS]: poll until at least N lines match.
wait_log_count() {
	local file=$1 re=$2 n=$3 secs=$((${4:-10} * FY_WAIT_SCALE)) i
	for ((i = 0; i < secs * 20; i++)); do
		[ "$(log_count "$file" "$re")" -ge "$n" ] && return 0
		sleep 0.05
	done
	fail "only $(log_count "$file" "$re") of $n lines matching /$re/ in $(basename "$file") after ${secs}s"
}

# ----------------------------------------------------------------- memory

# fy_rss_kb PID / fy_hwm_kb PID: resident set / its high-water mark, in KiB.
fy_rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
fy_hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
fy_fds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }

# fy_is_asan BIN: BIN was built with AddressSanitizer.
fy_is_asan() { grep -qa '__asan_init' "$1"; }

# ---------------------------------------------------------- relay and agent

# fy_certs: a CA and a relay certificate for localhost and 127.0.0.1 in $T/pki.
fy_certs() {
	"$RELAY_BIN" cert init --dir "$T/pki" --name localhost,127.0.0.1 >"$T/cert.out" 2>&1 ||
		fail "ferry-relay cert init failed: $(tail -n 3 "$T/cert.out")"
	if [ ! -s "$T/pki/ca.crt" ] || [ ! -s "$T/pki/relay.crt" ] || [ ! -s "$T/pki/relay.key" ]; then
		fail "cert init did not write ca.crt, relay.crt and relay.key in $T/pki"
	fi
}

# fy_web_certs: for the ingress tests, in $T/web: a test CA (ca.crt) with a wildcard
# certificate for *.example.org and example.org (wild.crt, wild.key: the relay's), and
# another CA (eca.crt) with the edge's own certificate for secure.example.org
# (edge.crt, edge.key: a TLS target behind SNI passthrough; the relay never holds it).
fy_web_certs() {
	local d=$T/web n
	mkdir -p "$d"
	for n in ca eca; do
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-keyout "$d/$n.key" -out "$d/$n.crt" -days 2 -subj "/CN=ferry-test-$n" 2>/dev/null
	done
	fy_web_leaf wild ca '*.example.org' 'DNS:*.example.org,DNS:example.org'
	fy_web_leaf edge eca secure.example.org DNS:secure.example.org
	[ -s "$d/wild.crt" ] && [ -s "$d/edge.crt" ] || fail "openssl could not make the test certificates"
}
# fy_web_leaf NAME CA CN SAN: $T/web/NAME.crt and .key, signed by $T/web/CA.
fy_web_leaf() {
	local d=$T/web
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/$1.key" \
		-out "$d/$1.csr" -subj "/CN=$3" 2>/dev/null
	printf 'subjectAltName=%s\n' "$4" >"$d/$1.ext"
	openssl x509 -req -in "$d/$1.csr" -CA "$d/$2.crt" -CAkey "$d/$2.key" -CAcreateserial \
		-out "$d/$1.crt" -days 2 -extfile "$d/$1.ext" 2>/dev/null
}

# fy_token NAME[,NAME] PORTS [ARGS...]: add a token to $T/tokens (ARGS: more token add
# options, e.g. --reach b --groups g) and print it.
fy_token() {
	local tok name=$1 ports=$2
	shift 2
	tok=$("$RELAY_BIN" token add --tokens "$T/tokens" --agent "$name" --ports "$ports" "$@" \
		2>>"$T/token.err") ||
		fail "ferry-relay token add --agent $name --ports $ports $* failed: $(tail -n 3 "$T/token.err")"
	[ -n "$tok" ] || fail "ferry-relay token add printed no token"
	printf '%s\n' "$tok"
}

# fy_relay_start [ARGS...]: start the relay on 127.0.0.1:$RELAY_PORT, wait until it
# listens. Output appends to $T/relay.log (a restart keeps the earlier lines).
fy_relay_start() {
	printf '=== %s ferry-relay %s\n' "$(date +%T.%3N)" "$*" >>"$T/relay.log"
	"$RELAY_BIN" --listen "127.0.0.1:$RELAY_PORT" --cert "$T/pki/relay.crt" \
		--key "$T/pki/relay.key" --tokens "$T/tokens" --public-bind 127.0.0.1 \
		--log-level debug "$@" >>"$T/relay.log" 2>&1 &
	FY_RELAY_PID=$!
	FY_PID[relay]=$FY_RELAY_PID
	local i
	for ((i = 0; i < 200; i++)); do
		fy_alive "$FY_RELAY_PID" || fail "ferry-relay exited at start: $(tail -n 5 "$T/relay.log")"
		fy_listening "$RELAY_PORT" && return 0
		sleep 0.05
	done
	fail "ferry-relay does not listen on $RELAY_PORT after 10s"
}

# fy_relay_stop [SIGNAL]: stop the relay; FY_RC = its exit status.
fy_relay_stop() {
	fy_stop relay "${1:-TERM}" 20
	FY_RELAY_PID=
}

# fy_agent_start NAME TOKEN [ARGS...]: start an agent (--name NAME), output to
# $T/agent-NAME.log (appended across restarts).
fy_agent_start() {
	local name=$1 tok=$2
	shift 2
	printf '=== %s ferry-agent --name %s %s\n' "$(date +%T.%3N)" "$name" "$*" >>"$T/agent-$name.log"
	"$AGENT_BIN" --relay "127.0.0.1:$RELAY_PORT" --token "$tok" --ca "$T/pki/ca.crt" \
		--name "$name" --io "$FY_AGENT_IO" --log-level debug "$@" >>"$T/agent-$name.log" 2>&1 &
	# shellcheck disable=SC2034 # read by the scenario scripts
	FY_AGENT_PID[$name]=$!
	FY_PID[agent-$name]=$!
}

# fy_agent_stop NAME [SIGNAL]
fy_agent_stop() {
	fy_stop "agent-$1" "${2:-TERM}" 10
	unset "FY_AGENT_PID[$1]"
}

# fy_serve LABEL PORT ARGS...: fy-load serve on 127.0.0.1:PORT, output $T/LABEL.out,
# waits for its "listening" line.
fy_serve() {
	local label=$1 port=$2
	shift 2
	fy_bg "$label" "$LOAD" serve --port "$port" --timeout 900 "$@"
	wait_log "$T/$label.out" "^listening port=$port " 10
}

# ------------------------------------------------------------------ set-up

# fy_sshd_config PORT: keys and a config for a throwaway sshd on 127.0.0.1:PORT in
# $T/ssh (its own host key; a client key, $T/ssh/id_ed25519, that may log in as root;
# no PAM, no passwords), checked with sshd -t. Start it with
# /usr/sbin/sshd -f "$T/ssh/sshd_config" -D -e. Needs root.
fy_sshd_config() {
	mkdir -p "$T/ssh" /run/sshd
	chmod 700 "$T/ssh"
	ssh-keygen -q -t ed25519 -N '' -f "$T/ssh/host_ed25519" -C ferry-test-host
	ssh-keygen -q -t ed25519 -N '' -f "$T/ssh/id_ed25519" -C ferry-test-client
	cp "$T/ssh/id_ed25519.pub" "$T/ssh/authorized_keys"
	chmod 600 "$T/ssh/authorized_keys"
	cat >"$T/ssh/sshd_config" <<-CONF
		Port $1
		ListenAddress 127.0.0.1
		HostKey $T/ssh/host_ed25519
		PidFile $T/ssh/sshd.pid
		AuthorizedKeysFile $T/ssh/authorized_keys
		PermitRootLogin yes
		PubkeyAuthentication yes
		PasswordAuthentication no
		KbdInteractiveAuthentication no
		UsePAM no
		StrictModes no
		LogLevel VERBOSE
	CONF
	/usr/sbin/sshd -t -f "$T/ssh/sshd_config" 2>"$T/sshd-check.log" ||
		fail "sshd rejects the test config: $(cat "$T/sshd-check.log")"
}

fy_cleanup() {
	local rc=$? label pid f bad=
	set +e
	trap - EXIT INT TERM
	# Clients first, then agents, then the relay, then the targets.
	for label in "${!FY_PID[@]}"; do
		case $label in relay | agent-* | serve-*) continue ;; esac
		fy_stop "$label" TERM 5
	done
	for label in "${!FY_PID[@]}"; do
		case $label in agent-*) fy_stop "$label" TERM 10 ;; esac
	done
	if [ -n "${FY_PID[relay]:-}" ]; then
		pid=${FY_PID[relay]}
		fy_stop relay TERM 20
		if [ "$rc" -eq 0 ] && [ "$FY_RC" -ne 0 ]; then
			printf 'FAIL %s: ferry-relay (pid %s) exited %s on SIGTERM, want 0\n' "$FY_NAME" "$pid" "$FY_RC"
			rc=1
		fi
	fi
	for label in "${!FY_PID[@]}"; do
		fy_stop "$label" TERM 5
	done
	if [ -n "$T" ] && [ -d "$T" ]; then
		for f in "$T"/*.log "$T"/*.out "$T"/*.err; do
			[ -f "$f" ] || continue
			if grep -Eq 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error:' "$f"; then
				bad="$bad $(basename "$f")"
			fi
		done
		if [ -n "$bad" ] && [ "$rc" -eq 0 ]; then
			printf 'FAIL %s: sanitizer report in%s\n' "$FY_NAME" "$bad"
			rc=1
		fi
		if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
			for f in "$T"/*.log "$T"/*.out "$T"/*.err; do
				[ -s "$f" ] || continue
				printf -- '----- %s (last 40 lines) -----\n' "$(basename "$f")"
				tail -n 40 "$f"
			done
			printf -- '----- logs kept in %s\n' "$T"
		elif [ "${FY_KEEP:-0}" = 1 ]; then
			printf -- '----- logs kept in %s\n' "$T"
		else
			rm -rf "$T"
		fi
	fi
	if [ "$rc" -eq 0 ] && [ "$FY_PASSED" != 1 ]; then
		printf 'FAIL %s: script ended without pass\n' "$FY_NAME"
		rc=1
	fi
	exit "$rc"
}

# fy_init PORT_BASE: temp dir, cleanup trap, this script's 100 ports, binaries.
fy_init() {
	FY_PORT_BASE=$1
	FY_NEXT_PORT=$1
	FY_PORT_RANGE="$1-$(($1 + 99))"
	T=$(mktemp -d "/tmp/ferry-$FY_NAME.XXXXXX")
	trap fy_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	local b
	for b in "$RELAY_BIN" "$AGENT_BIN" "$LOAD"; do
		[ -x "$b" ] || fail "$b is missing: build first (ninja -C ${FY_BUILD#"$FY_ROOT"/})"
	done
	command -v ss >/dev/null || fail "ss (iproute2) is needed"
	fy_say "$FY_NAME: temp $T, ports $FY_PORT_RANGE, agent io $FY_AGENT_IO, build $FY_BUILD"
}
