#!/usr/bin/env bash
# shellcheck disable=SC2119 # lib.sh helpers take optional arguments
# ferry-agent for single-board computers: the arm64 and armhf cross builds
# (scripts/cross.sh, meson cross files in scripts/cross/) run under qemu-user
# (qemu-aarch64-static / qemu-arm-static, called directly: no binfmt needed) on
# the edge of the test topology (tests/topo/topo.sh, one site behind NAT), and
# pass the topology's web_ssh scenario: a web server and sshd forwarded through the
# (native) relay, curl and ssh from the client, both checked by sha256.
# The cross builds are made here when missing or stale (a few seconds each).
# Needs root, the packages of scripts/deps.sh test (cross compilers, multiarch
# libraries, qemu-user-static) and what topo_edges.sh needs.
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
fy_init 25100
[ "$(id -u)" -eq 0 ] || skip "needs root for network namespaces"
for t in nft conntrack busybox curl ssh ssh-keygen qemu-aarch64-static qemu-arm-static \
	aarch64-linux-gnu-gcc arm-linux-gnueabihf-gcc; do
	command -v "$t" >/dev/null || fail "$t is needed (scripts/deps.sh test installs it)"
done
# shellcheck source=SCRIPTDIR/../topo/topo.sh
. "$FY_ROOT/tests/topo/topo.sh"

topo_exit() {
	local rc=$?
	set +e
	trap - EXIT
	if [ -n "${TOPO_PFX:-}" ]; then
		TOPO_BACKEND=netns TOPO_WORK=$T/roles TOPO_BIN=$T/bin bash -c \
			". '$FY_ROOT/tests/topo/drive.sh'; on_stop_all" 2>/dev/null
		topo_down
	fi
	(exit "$rc")
	fy_cleanup
}
trap topo_exit EXIT

declare -A QEMU=([arm64]=qemu-aarch64-static [armhf]=qemu-arm-static)
declare -A WANT=([arm64]="ARM aarch64" [armhf]="32-bit LSB .* ARM")
for arch in arm64 armhf; do
	out=$("$FY_ROOT/scripts/cross.sh" "$arch" 2>&1) || fail "scripts/cross.sh $arch failed: $(tail -n 20 <<<"$out")"
	bin=$FY_ROOT/build-cross-$arch/ferry-agent
	file -b "$bin" | grep -Eq "${WANT[$arch]}" || fail "$bin is not an $arch binary: $(file -b "$bin")"
	check_ok "$arch agent: $(file -b "$bin" | cut -d, -f1-2), $(grep "^cross ($arch): [0-9]" <<<"$out" | sed 's/^cross ([a-z0-9]*): //')"
done

topo_up --prefix "fyq$$" --sites a || fail "topo_up failed"
mkdir -p "$T/bin"
ln -s "$RELAY_BIN" "$T/bin/ferry-relay"
export TOPO_BACKEND=netns TOPO_PFX TOPO_BIN=$T/bin TOPO_SITES=a TOPO_AGENT_IO=auto
for arch in arm64 armhf; do
	# the agent the scenarios start, under qemu-user
	printf '#!/bin/sh\nexec %s %q "$@"\n' "${QEMU[$arch]}" "$FY_ROOT/build-cross-$arch/ferry-agent" \
		>"$T/bin/ferry-agent"
	chmod +x "$T/bin/ferry-agent"
	export TOPO_WORK=$T/roles-$arch TOPO_LOGS=$T/scenarios-$arch
	t0=$(date +%s)
	"$FY_ROOT/tests/topo/run.sh" web_ssh >"$T/run-$arch.out" 2>&1 ||
		fail "the $arch agent under ${QEMU[$arch]} failed web_ssh: $(cat "$T/run-$arch.out")"
	grep -E '^ +ok - ' "$T/run-$arch.out"
	loop=$(grep -o 'event loop [a-z_]*' "$T/roles-$arch/edge-a/agent.log" | head -n 1)
	check_ok "$arch agent under ${QEMU[$arch]} (${loop:-event loop ?}): web_ssh passed in $(($(date +%s) - t0)) s"
done
pass
