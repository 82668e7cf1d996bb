#!/usr/bin/env bash
# Installs what building, the demo, the tests and the benchmarks need, from
# Debian's packages, and only what is missing. Safe to run again.
#   scripts/deps.sh [build|demo|test|bench|dpdk|cross|vagrant]   (default: test)
set -eu

what=${1:-test}
pkgs=(gcc libc6-dev pkg-config meson ninja-build libssl-dev liburcu-dev libxxhash-dev
      liburing-dev libcunit1-dev openssl curl python3 procps libhttp-parser-dev libcjson-dev
      libwslay-dev)
# cross: ferry-agent for arm64 and armhf (scripts/cross.sh): Debian's cross
# compilers, the libraries of those architectures (multiarch) and qemu-user to run
# the result here (tests/integration/sbc_qemu.sh). Not libwslay-dev nor
# libhttp-parser-dev: neither is Multi-Arch "same", so installing one for arm64
# removes the build's own; cross-built agents go without --transport wss and
# --proxy (meson's http_transports=auto finds neither for the target).
cross=(gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf qemu-user-static binutils file)
for a in arm64 armhf; do
	cross+=("libc6-dev:$a" "libssl-dev:$a" "liburcu-dev:$a" "libxxhash-dev:$a" "liburing-dev:$a")
done
# the topology scenarios (tests/topo/): routers, edges' web server
topo=(iproute2 nftables conntrack busybox iputils-ping openssh-server openssh-client curl)
case "$what" in
build|demo) ;;
dpdk) pkgs+=(libdpdk-dev ethtool nftables iputils-ping) ;;
cross) pkgs+=("${cross[@]}") ;;
# vagrant/run: Vagrant with libvirt, QEMU, and what builds the box (vagrant/box.sh)
vagrant) pkgs+=(vagrant vagrant-libvirt libvirt-daemon-system libvirt-daemon-driver-qemu
           qemu-system-x86 qemu-utils debootstrap extlinux syslinux-common dnsmasq-base
           rsync e2fsprogs fdisk openssh-client) ;;
test) pkgs+=(openssh-server openssh-client socat iperf3 iproute2 xxd file wrk gnuplot-nox tinyproxy
           bind9-dnsutils libdpdk-dev ethtool nftables iputils-ping "${topo[@]}" "${cross[@]}"
           vagrant vagrant-libvirt
           # the admin API's tests: its /metrics through a real Prometheus parser,
           # its status page in a real browser (and a font to draw it with)
           python3-prometheus-client chromium fonts-dejavu-core) ;;
# bench: nginx for bench/https_name.sh; linux-perf for bench/memif/run.sh --perf
bench) pkgs+=(openssh-server openssh-client socat iperf3 iproute2 wrk gnuplot-nox file
           nftables ethtool nginx-light linux-perf) ;;
*) echo "usage: $0 [build|demo|test|bench|dpdk|cross|vagrant]" >&2; exit 2 ;;
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
# packages of another architecture (libssl-dev:arm64) need it known to dpkg
for p in "${missing[@]}"; do
	case $p in *:*) a=${p#*:} ;; *) continue ;; esac
	[ "$a" = "$(dpkg --print-architecture)" ] && continue
	dpkg --print-foreign-architectures | grep -qx "$a" || $SUDO dpkg --add-architecture "$a"
done
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
