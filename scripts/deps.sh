#!/usr/bin/env bash
# Installs what building, the demo, the tests and the benchmarks need, from
# Debian's packages, and only what is missing. Safe to run again.
#   scripts/deps.sh [build|demo|test|bench]   (default: test)
set -eu

what=${1:-test}
pkgs=(gcc libc6-dev pkg-config meson ninja-build libssl-dev liburcu-dev libxxhash-dev
      liburing-dev libcunit1-dev openssl curl python3 procps)
case "$what" in
build|demo) ;;
dpdk) pkgs+=(libdpdk-dev ethtool nftables iputils-ping) ;;
test) pkgs+=(openssh-server openssh-client socat iperf3 iproute2 xxd file wrk gnuplot-nox
           libdpdk-dev ethtool nftables iputils-ping busybox conntrack) ;;
bench) pkgs+=(openssh-server openssh-client socat iperf3 iproute2 wrk gnuplot-nox file) ;;
*) echo "usage: $0 [build|demo|test|bench|dpdk]" >&2; exit 2 ;;
esac

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}"
SUDO=
[ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
