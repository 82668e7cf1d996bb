# shellcheck shell=bash
# shellcheck disable=SC2016 # scripts for the hosts: expanded there, not here
# tests/topo/drive.sh: run commands on the hosts of the test topology, with the same
# calls whether the hosts are network namespaces on this machine or VMs. The
# scenarios (tests/topo/scenarios/) reach the hosts only through these, so they run
# unchanged on both.
#
#   TOPO_BACKEND=netns    TOPO_PFX: the namespaces' prefix (topo_up); TOPO_BIN: a
#                         folder holding ferry-relay, ferry-agent (or wrappers with
#                         those names); TOPO_WORK: a folder, ROLE's files go in
#                         TOPO_WORK/ROLE
#   TOPO_BACKEND=vagrant  TOPO_SSH_CONFIG: `vagrant ssh-config` of the VMs relay,
#                         client, site-a, site-b; the binaries are in /usr/local/bin
#                         (vagrant/provision.sh); ROLE's files go in /var/tmp/ferry/ROLE
#
# Roles: relay client nat-a edge-a nat-b edge-b. In the VMs a site's router and its
# edge share one machine: nat-a is site-a itself, edge-a its namespace "edge-a".
#
#   on ROLE 'SCRIPT'               bash -c SCRIPT as root on ROLE, in ROLE's folder,
#                                  with pipefail; stdin, stdout, stderr and the exit
#                                  status pass through
#   on_bg ROLE NAME 'CMD'          CMD in the background on ROLE; output appended to
#                                  NAME.log, its PID in NAME.pid
#   on_kill ROLE NAME [SIG] [SECS] signal it (TERM), wait until it is gone; SIGKILL
#                                  after SECS (10)
#   on_alive ROLE NAME             true while it runs
#   on_wait ROLE 'COND' SECS       poll COND (a shell test, run on ROLE) until true
#   on_stop_all                    stop what on_bg started, agents first, on every role
# Processes are ended only by the PIDs on_bg recorded.

TOPO_BACKEND=${TOPO_BACKEND:-netns}
TOPO_ROLES="edge-a edge-b client relay nat-a nat-b"

# _on_pre ROLE: what every script starts with.
_on_pre() {
	local dir bin=
	if [ "$TOPO_BACKEND" = netns ]; then
		dir=$TOPO_WORK/$1
		bin="export PATH=$(printf %q "$TOPO_BIN"):\$PATH; "
	else
		dir=/var/tmp/ferry/$1
	fi
	printf 'set -o pipefail; %smkdir -p %q && cd %q || exit 99; ' "$bin" "$dir" "$dir"
}

on() {
	local role=$1 script vm ns=
	script="$(_on_pre "$role")$2"
	case $TOPO_BACKEND in
	netns)
		ip netns exec "$TOPO_PFX-$role" bash -c "$script"
		;;
	vagrant)
		case $role in
		relay | client) vm=$role ;;
		nat-a | nat-b) vm=site-${role#nat-} ;;
		edge-a | edge-b) vm=site-${role#edge-}; ns="ip netns exec $role " ;;
		*) echo "on: no role '$role'" >&2; return 2 ;;
		esac
		ssh -F "$TOPO_SSH_CONFIG" -o ControlMaster=auto -o "ControlPath=${TOPO_SSH_CTL:-/tmp}/fy-%h" \
			-o ControlPersist=600 -o LogLevel=ERROR -o ServerAliveInterval=15 "$vm" \
			"sudo ${ns}bash -c $(printf %q "$script")"
		;;
	*)
		echo "on: TOPO_BACKEND must be netns or vagrant" >&2
		return 2
		;;
	esac
}

# A process is gone when /proc has no entry for it or only a zombie (its parent
# may not reap it at once).
_ON_ALIVE='alive() { [ -r /proc/$1/stat ] && ! grep -qE "^[0-9]+ \(.*\) [ZX] " /proc/$1/stat; }; '

on_bg() {
	local role=$1 name=$2 inner
	inner=$(printf 'echo $$ >%q.pid; exec %s' "$name" "$3")
	on "$role" "rm -f $name.pid; echo \"=== \$(date +%T.%3N) $name: \"$(printf %q "$3") >>$name.log
		nohup bash -c $(printf %q "$inner") >>$name.log 2>&1 </dev/null &
		for ((i = 0; i < 200; i++)); do [ -s $name.pid ] && exit 0; sleep 0.05; done
		echo 'on_bg: $name did not start' >&2; exit 1"
}

on_alive() {
	on "$1" "$_ON_ALIVE"'p=$(cat '"$2"'.pid 2>/dev/null) && alive "$p"'
}

on_kill() {
	local role=$1 name=$2 sig=${3:-TERM} secs=${4:-10}
	on "$role" "$_ON_ALIVE"'p=$(cat '"$name"'.pid 2>/dev/null) || exit 0
		kill -'"$sig"' "$p" 2>/dev/null
		for ((i = 0; i < '"$secs"' * 20; i++)); do alive "$p" || break; sleep 0.05; done
		if alive "$p"; then echo "'"$name"' (pid $p) still there '"$secs"' s after SIG'"$sig"': SIGKILL" >&2
			kill -KILL "$p" 2>/dev/null; sleep 0.2; fi
		rm -f '"$name"'.pid'
}

on_wait() {
	on "$1" "for ((i = 0; i < $3 * 5; i++)); do { $2; } && exit 0; sleep 0.2; done; exit 1"
}

on_stop_all() {
	local role
	for role in $TOPO_ROLES; do
		on "$role" "$_ON_ALIVE"'for f in *.pid; do
			[ -e "$f" ] || continue
			p=$(cat "$f"); kill -TERM "$p" 2>/dev/null
			for ((i = 0; i < 200; i++)); do alive "$p" || break; sleep 0.05; done
			alive "$p" && kill -KILL "$p" 2>/dev/null
			rm -f "$f"
		done' 2>/dev/null || true
	done
}
