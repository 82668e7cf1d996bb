#!/usr/bin/env bash
# setup-nic.sh — prepare a machine for ferry-relay --backend dpdk:
# reserve 2 MiB hugepages (and mount hugetlbfs if nothing has), load
# vfio-pci and bind a NIC to it. Records what it changed in a state file
# under /var/lib/ferry/ so that --restore can give the NIC back to the
# kernel driver it had and free the hugepages again.
#
#   setup-nic.sh --pages 512 0000:03:00.0        reserve 1 GiB, bind the NIC
#   setup-nic.sh --pages 512 --config /etc/ferry/relay.conf   NIC(s) from dpdk-eal's -a
#   setup-nic.sh --pages 8                       hugepages only (net_af_packet tests)
#   setup-nic.sh --dry-run ...                   print every command, change nothing
#   setup-nic.sh --restore [PCI...]              back to the kernel driver, free pages
#   setup-nic.sh --status [PCI...]               what is reserved, mounted, bound
#
# Safe to run again (systemd's ExecStartPre does, at every start): what is
# already done is left as it is, and the state file keeps the values from
# before the first run.
set -eu

PROG=$(basename "$0")
STATE_DIR=/var/lib/ferry
SYSFS=/sys
HUGE_KB=2048
HUGE_MNT=/dev/hugepages

PAGES=
CONFIG=
DRY=0
FORCE=0
MODE=setup
PCIS=()

usage() {
	cat <<EOF
usage: $PROG [--pages N] [--force] [--dry-run] [PCI_ADDRESS... | --config FILE]
       $PROG --restore [--dry-run] [PCI_ADDRESS...]
       $PROG --status [PCI_ADDRESS... | --config FILE]

Prepares this machine for 'ferry-relay --backend dpdk': reserves N 2 MiB hugepages
(mounting hugetlbfs on $HUGE_MNT if none is mounted), loads vfio-pci and binds each
NIC (PCI address such as 0000:03:00.0, see 'dpdk-devbind.py --status') to it.
What it changes is recorded under $STATE_DIR/ so that --restore can undo it.

  --pages N         2 MiB hugepages to have reserved (at least N; on the NIC's NUMA
                    node when the machine has several). Without it, hugepages are
                    left alone.
  --config FILE     take the PCI addresses from the relay's config file: every
                    "-a ADDR" / "--allow ADDR" in its dpdk-eal line
  --force           bind even when the NIC has IP addresses or carries a default
                    route, or is not an Ethernet controller (you lose that link)
  --dry-run         print every command that would run and change nothing
                    (checks that would refuse are reported; exit 1 if any would)
  --restore         bind the NICs recorded in the state files (or the ones named)
                    back to the kernel driver they had, free the hugepages that
                    were reserved, unmount hugetlbfs if this script mounted it
  --status          hugepages, hugetlbfs mounts, IOMMU, vfio, each NIC's driver
                    and the state files; changes nothing
  --state-dir DIR   where state files live (default $STATE_DIR)
  -h, --help        this text

Refuses (before changing anything) when not run as root, when the IOMMU is off
(it explains how to turn it on), when vfio-pci cannot be loaded, and, unless
--force, when a NIC still carries the default route or has IP addresses.
Exit status: 0 done, 1 refused or failed, 2 bad usage.
EOF
}

die() { printf '%s: %s\n' "$PROG" "$*" >&2; exit 1; }
usage_err() { printf '%s: %s\nTry '\''%s --help'\''.\n' "$PROG" "$*" "$PROG" >&2; exit 2; }
say() { printf '%s\n' "$*"; }
warn() { printf '%s: warning: %s\n' "$PROG" "$*" >&2; }

# run CMD...: runs it, or prints it under --dry-run.
run() {
	if [ "$DRY" = 1 ]; then
		printf '  + %s\n' "$*"
	else
		"$@"
	fi
}

# put VALUE FILE: echo VALUE > FILE (a sysfs write), or prints it.
put() {
	if [ "$DRY" = 1 ]; then
		printf '  + echo %s > %s\n' "${1:-\"\"}" "$2"
	else
		printf '%s\n' "$1" >"$2"
	fi
}

# ------------------------------------------------------------------ arguments

while [ $# -gt 0 ]; do
	case $1 in
	--pages)
		[ $# -ge 2 ] || usage_err "--pages needs a number"
		PAGES=$2
		shift 2
		;;
	--pages=*) PAGES=${1#*=}; shift ;;
	--config)
		[ $# -ge 2 ] || usage_err "--config needs a file"
		CONFIG=$2
		shift 2
		;;
	--config=*) CONFIG=${1#*=}; shift ;;
	--state-dir)
		[ $# -ge 2 ] || usage_err "--state-dir needs a directory"
		STATE_DIR=$2
		shift 2
		;;
	--state-dir=*) STATE_DIR=${1#*=}; shift ;;
	--force) FORCE=1; shift ;;
	--dry-run | -n) DRY=1; shift ;;
	--restore) MODE=restore; shift ;;
	--status) MODE=status; shift ;;
	-h | --help) usage; exit 0 ;;
	--) shift; PCIS+=("$@"); break ;;
	-*) usage_err "unknown option '$1'" ;;
	*) PCIS+=("$1"); shift ;;
	esac
done

if [ -n "$PAGES" ]; then
	case $PAGES in
	'' | *[!0-9]*) usage_err "--pages must be a number of 2 MiB pages (got '$PAGES')" ;;
	esac
	[ "${#PAGES}" -le 7 ] || usage_err "--pages $PAGES is far too many"
	PAGES=$((10#$PAGES))
fi
[ "$MODE" != restore ] || [ -z "$PAGES$CONFIG" ] || usage_err "--restore takes no --pages or --config"

# PCI addresses from the config file's dpdk-eal line.
if [ -n "$CONFIG" ]; then
	[ -r "$CONFIG" ] || die "cannot read config file $CONFIG"
	eal=$(sed -n 's/#.*//; s/^[[:space:]]*dpdk-eal[[:space:]=]*//p' "$CONFIG" | tail -n 1)
	set -f
	# shellcheck disable=SC2086  # word splitting is the point: EAL splits on spaces too
	set -- $eal
	set +f
	while [ $# -gt 0 ]; do
		case $1 in
		-a | --allow | -w) [ $# -ge 2 ] && PCIS+=("${2%%,*}"); shift ;;
		--allow=*) v=${1#*=}; PCIS+=("${v%%,*}") ;;
		-a?*) v=${1#-a}; PCIS+=("${v%%,*}") ;;
		esac
		shift
	done
	[ "${#PCIS[@]}" -gt 0 ] || [ "$MODE" = status ] ||
		warn "no '-a PCI_ADDRESS' in the dpdk-eal line of $CONFIG: no NIC to bind"
fi

# Normalise to domain:bus:device.function (0000:03:00.0).
for i in "${!PCIS[@]}"; do
	p=${PCIS[$i]}
	case $p in
	[0-9a-fA-F][0-9a-fA-F]:[0-9a-fA-F][0-9a-fA-F].[0-7]) p=0000:$p ;;
	esac
	case $p in
	[0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F]:[0-9a-fA-F][0-9a-fA-F]:[0-9a-fA-F][0-9a-fA-F].[0-7]) ;;
	*) usage_err "'${PCIS[$i]}' is not a PCI address like 0000:03:00.0 (see 'dpdk-devbind.py --status')" ;;
	esac
	PCIS[i]=$(printf '%s' "$p" | tr 'A-F' 'a-f')
done

# ------------------------------------------------------------------ helpers

dev_dir() { printf '%s/bus/pci/devices/%s' "$SYSFS" "$1"; }

# Current driver of a PCI device, or empty.
dev_driver() {
	local l
	l=$(readlink "$(dev_dir "$1")/driver" 2>/dev/null) || return 0
	basename "$l"
}

# Kernel network interfaces that belong to a PCI device (also through
# virtio and similar buses below it).
dev_ifaces() {
	local d real n nd
	d=$(dev_dir "$1")
	[ -d "$d" ] || return 0
	real=$(readlink -f "$d")
	for n in "$SYSFS"/class/net/*; do
		[ -e "$n/device" ] || continue
		nd=$(readlink -f "$n/device")
		case $nd/ in "$real"/*) basename "$n" ;; esac
	done
}

state_file() { printf '%s/nic-%s.state' "$STATE_DIR" "$1"; }
HUGE_STATE() { printf '%s/hugepages.state' "$STATE_DIR"; }

# state_get FILE KEY: a value from a key=value state file (never sourced).
state_get() {
	sed -n "s/^$2=//p" "$1" 2>/dev/null | tail -n 1
}

# Where to reserve hugepages: the NIC's NUMA node when there are several.
huge_path() {
	local node=-1 nodes
	if [ "${#PCIS[@]}" -gt 0 ] && [ -r "$(dev_dir "${PCIS[0]}")/numa_node" ]; then
		node=$(cat "$(dev_dir "${PCIS[0]}")/numa_node")
	fi
	nodes=$(find "$SYSFS/devices/system/node" -maxdepth 1 -name 'node[0-9]*' 2>/dev/null | wc -l)
	if [ "$node" -ge 0 ] 2>/dev/null && [ "$nodes" -gt 1 ] &&
		[ -e "$SYSFS/devices/system/node/node$node/hugepages/hugepages-${HUGE_KB}kB/nr_hugepages" ]; then
		printf '%s' "$SYSFS/devices/system/node/node$node/hugepages/hugepages-${HUGE_KB}kB/nr_hugepages"
	else
		printf '%s' "$SYSFS/kernel/mm/hugepages/hugepages-${HUGE_KB}kB/nr_hugepages"
	fi
}

hugetlbfs_mounts() { awk '$3 == "hugetlbfs" { print $2 }' /proc/mounts; }

iommu_on() { [ -n "$(ls -A "$SYSFS/kernel/iommu_groups" 2>/dev/null)" ]; }

iommu_help() {
	cat >&2 <<'EOF'
The IOMMU is off: vfio-pci needs it (DPDK then gives the NIC only the relay's own memory).
Turn it on:
  1. In the BIOS/UEFI setup enable "Intel VT-d" (Intel) or "AMD-Vi"/"IOMMU" (AMD),
     often under Advanced > Chipset or CPU configuration. Also enable SR-IOV if offered.
  2. Add to the kernel command line, in /etc/default/grub GRUB_CMDLINE_LINUX="...":
       intel_iommu=on iommu=pt      (Intel; iommu=pt keeps the host's other devices fast)
       iommu=pt                     (AMD: the IOMMU is on once the BIOS enables it)
     then: update-grub && reboot
  3. Check: ls /sys/kernel/iommu_groups/ is not empty, and
     dmesg | grep -i -e DMAR -e IOMMU shows it enabled.
(vfio's "no-IOMMU" mode exists but gives the device access to all memory; this script
does not use it.)
EOF
}

# ------------------------------------------------------------------ status

do_status() {
	local f p d drv ifs st g
	say "hugepages (${HUGE_KB} kB):"
	f=$SYSFS/kernel/mm/hugepages/hugepages-${HUGE_KB}kB
	if [ -d "$f" ]; then
		say "  reserved $(cat "$f/nr_hugepages"), free $(cat "$f/free_hugepages"), surplus $(cat "$f/surplus_hugepages")"
		for d in "$SYSFS"/devices/system/node/node[0-9]*; do
			[ -e "$d/hugepages/hugepages-${HUGE_KB}kB/nr_hugepages" ] || continue
			say "  $(basename "$d"): reserved $(cat "$d/hugepages/hugepages-${HUGE_KB}kB/nr_hugepages"), free $(cat "$d/hugepages/hugepages-${HUGE_KB}kB/free_hugepages")"
		done
	else
		say "  this kernel has no ${HUGE_KB} kB hugepages"
	fi
	f=$(hugetlbfs_mounts | tr '\n' ' ')
	say "hugetlbfs mounted on: ${f:-(nothing)}"
	if iommu_on; then
		say "IOMMU: on ($(find "$SYSFS/kernel/iommu_groups" -mindepth 1 -maxdepth 1 | wc -l) groups)"
	else
		say "IOMMU: off (vfio-pci cannot be used; a run with a PCI address explains how to turn it on)"
	fi
	if [ -d "$SYSFS/bus/pci/drivers/vfio-pci" ]; then
		say "vfio-pci: loaded"
	else
		say "vfio-pci: not loaded"
	fi
	if [ "${#PCIS[@]}" -eq 0 ]; then
		for st in "$STATE_DIR"/nic-*.state; do
			[ -e "$st" ] || continue
			p=$(state_get "$st" pci)
			[ -n "$p" ] && PCIS+=("$p")
		done
	fi
	for p in "${PCIS[@]}"; do
		d=$(dev_dir "$p")
		if [ ! -d "$d" ]; then
			say "NIC $p: no such PCI device"
			continue
		fi
		drv=$(dev_driver "$p")
		ifs=$(dev_ifaces "$p" | paste -sd ' ')
		g=$(readlink "$d/iommu_group" 2>/dev/null) || g=
		g=${g##*/}
		say "NIC $p: driver ${drv:-(none)}, interfaces: ${ifs:-(none)}, NUMA node $(cat "$d/numa_node" 2>/dev/null || echo ?), IOMMU group ${g:-(none)}"
	done
	say "state files in $STATE_DIR:"
	f=0
	for st in "$(HUGE_STATE)" "$STATE_DIR"/nic-*.state; do
		[ -e "$st" ] || continue
		f=1
		say "  $st: $(tr '\n' ' ' <"$st")"
	done
	[ "$f" = 1 ] || say "  (none: nothing to restore)"
	if command -v dpdk-devbind.py >/dev/null 2>&1; then
		say "dpdk-devbind.py --status-dev net:"
		dpdk-devbind.py --status-dev net 2>/dev/null | sed 's/^/  /' || true
	fi
}

# ------------------------------------------------------------------ checks

REFUSALS=0
refuse() {
	REFUSALS=$((REFUSALS + 1))
	if [ "$DRY" = 1 ]; then
		printf '%s: a real run would refuse: %s\n' "$PROG" "$*" >&2
	else
		die "refusing: $*"
	fi
}

check_nic() {
	local p=$1 d cls drv ifs i m addrs routes
	d=$(dev_dir "$p")
	if [ ! -d "$d" ]; then
		refuse "no PCI device $p (list them with 'lspci -D' or 'dpdk-devbind.py --status')"
		return 0
	fi
	cls=$(cat "$d/class")
	case $cls in
	0x0200*) ;;
	*)
		if [ "$FORCE" = 1 ]; then
			warn "$p is not an Ethernet controller (class $cls); going on (--force)"
		else
			refuse "$p is not an Ethernet controller (class $cls); --force to bind it anyway"
		fi
		;;
	esac
	drv=$(dev_driver "$p")
	[ "$drv" = vfio-pci ] && return 0
	ifs=$(dev_ifaces "$p")
	for i in $ifs; do
		# The interface itself, and its bond or bridge master if it has one.
		for m in "$i" $(basename "$(readlink "$SYSFS/class/net/$i/master" 2>/dev/null)" 2>/dev/null); do
			routes=$( { ip -4 route show default; ip -6 route show default; } 2>/dev/null |
				awk -v dev="$m" '{ for (k = 1; k < NF; k++) if ($k == "dev" && $(k + 1) == dev) { print; break } }' | sed 's/[[:space:]]*$//')
			if [ -n "$routes" ]; then
				if [ "$FORCE" = 1 ]; then
					warn "$p ($i) carries the default route ($(printf '%s' "$routes" | head -n 1)); binding anyway (--force): this machine loses that route"
				else
					refuse "$p is $i, which carries the default route ($(printf '%s' "$routes" | head -n 1)). Binding it would cut this machine off that network (and any SSH session over it). Use a second NIC for DPDK and keep this one for management, or --force."
				fi
			fi
		done
		# Addresses other than IPv6 link-local ones (every interface has those).
		addrs=$(ip -o addr show dev "$i" 2>/dev/null | awk '$3 == "inet" || ($3 == "inet6" && $0 !~ / scope link/) { print $4 }' | paste -sd ' ')
		if [ -n "$addrs" ]; then
			if [ "$FORCE" = 1 ]; then
				warn "$p ($i) has addresses $addrs; binding anyway (--force)"
			else
				refuse "$p is $i, which has addresses: $addrs. It is in use by the kernel; remove them (ip addr flush dev $i) and take it out of /etc/network/interfaces, netplan or NetworkManager, or use --force."
			fi
		fi
	done
}

check_iommu_group() {
	local p=$1 g o odrv
	g=$(readlink -f "$(dev_dir "$p")/iommu_group" 2>/dev/null) || return 0
	[ -d "$g/devices" ] || return 0
	for o in "$g"/devices/*; do
		o=$(basename "$o")
		[ "$o" = "$p" ] && continue
		odrv=$(dev_driver "$o")
		case $odrv in
		'' | vfio-pci | pcieport) ;;
		*) warn "$o shares IOMMU group $(basename "$g") with $p and is bound to $odrv: vfio needs every device of the group unbound or on vfio-pci (dpdk-devbind.py can bind it too)" ;;
		esac
	done
}

# ------------------------------------------------------------------ hugepages

setup_hugepages() {
	local path cur got st mnt
	[ -n "$PAGES" ] || return 0
	path=$(huge_path)
	st=$(HUGE_STATE)
	[ -e "$path" ] || die "this kernel has no ${HUGE_KB} kB hugepages ($path missing)"
	cur=$(cat "$path")
	say "hugepages: $cur reserved in $path, want at least $PAGES"
	if [ "$cur" -lt "$PAGES" ]; then
		if [ ! -e "$st" ]; then
			run mkdir -p "$STATE_DIR"
			if [ "$DRY" = 1 ]; then
				printf '  + record path=%s prev=%s in %s\n' "$path" "$cur" "$st"
			else
				printf 'path=%s\nprev=%s\n' "$path" "$cur" >"$st"
			fi
		fi
		put "$PAGES" "$path"
		if [ "$DRY" = 0 ]; then
			got=$(cat "$path")
			if [ "$got" -lt "$PAGES" ]; then
				printf '%s\n' "$cur" >"$path"
				die "the kernel gave only $got of $PAGES hugepages (memory too fragmented); put it back to $cur. Reserve them at boot instead: add 'hugepages=$PAGES' to the kernel command line (GRUB_CMDLINE_LINUX in /etc/default/grub, update-grub, reboot), or free memory and retry."
			fi
			say "hugepages: $got reserved ($((got * HUGE_KB / 1024)) MiB)"
		fi
	else
		say "hugepages: enough already, left as they are"
	fi
	mnt=$(hugetlbfs_mounts | head -n 1)
	if [ -n "$mnt" ]; then
		say "hugetlbfs: mounted on $mnt"
	else
		say "hugetlbfs: not mounted; mounting it on $HUGE_MNT"
		run mkdir -p "$HUGE_MNT"
		run mount -t hugetlbfs -o pagesize=2M nodev "$HUGE_MNT"
		if [ "$DRY" = 1 ]; then
			printf '  + record mounted=%s in %s\n' "$HUGE_MNT" "$st"
		else
			mkdir -p "$STATE_DIR"
			printf 'mounted=%s\n' "$HUGE_MNT" >>"$st"
		fi
	fi
}

restore_hugepages() {
	local st path prev mnt cur
	st=$(HUGE_STATE)
	if [ ! -e "$st" ]; then
		say "hugepages: no $st, nothing to restore"
		return 0
	fi
	path=$(state_get "$st" path)
	prev=$(state_get "$st" prev)
	mnt=$(state_get "$st" mounted)
	if [ -n "$mnt" ] && hugetlbfs_mounts | grep -qx "$mnt"; then
		if [ -n "$(ls -A "$mnt" 2>/dev/null)" ]; then
			warn "$mnt still holds files ($(find "$mnt" -mindepth 1 -maxdepth 1 -printf "%f " | head -c 200)...): a DPDK process may be running; leaving it mounted"
		else
			say "hugetlbfs: unmounting $mnt (this script mounted it)"
			run umount "$mnt"
		fi
	fi
	if [ -n "$path" ] && [ -n "$prev" ] && [ -e "$path" ]; then
		cur=$(cat "$path")
		say "hugepages: $cur reserved, back to $prev"
		put "$prev" "$path"
		if [ "$DRY" = 0 ]; then
			cur=$(cat "$SYSFS/kernel/mm/hugepages/hugepages-${HUGE_KB}kB/surplus_hugepages")
			[ "$cur" -eq 0 ] || warn "$cur hugepages are still in use (surplus): they are freed when the process using them exits"
		fi
	fi
	run rm -f "$st"
}

# ------------------------------------------------------------------ binding

load_vfio() {
	if [ -d "$SYSFS/bus/pci/drivers/vfio-pci" ]; then
		say "vfio-pci: loaded"
		return 0
	fi
	if ! command -v modprobe >/dev/null 2>&1; then
		refuse "vfio-pci is not loaded and there is no modprobe (apt-get install kmod)"
		return 0
	fi
	if [ "$DRY" = 1 ]; then
		run modprobe vfio-pci
		modprobe -n vfio-pci 2>/dev/null ||
			refuse "modprobe cannot find vfio-pci for kernel $(uname -r) (install linux-image-$(uname -r) / the kernel's modules)"
	else
		modprobe vfio-pci || die "cannot load vfio-pci (modprobe vfio-pci failed: is this the distribution kernel with its modules?)"
	fi
}

bind_nic() {
	local p=$1 d drv ifs st
	d=$(dev_dir "$p")
	st=$(state_file "$p")
	drv=$(dev_driver "$p")
	if [ "$drv" = vfio-pci ]; then
		say "NIC $p: already on vfio-pci"
		[ -e "$st" ] || warn "$p was bound to vfio-pci before this script ran: --restore will not know its kernel driver"
		return 0
	fi
	ifs=$(dev_ifaces "$p" | paste -sd ' ')
	say "NIC $p: ${drv:-no driver}${ifs:+ (interfaces: $ifs)} -> vfio-pci"
	run mkdir -p "$STATE_DIR"
	if [ "$DRY" = 1 ]; then
		printf '  + record pci=%s driver=%s ifaces=%s in %s\n' "$p" "${drv:-}" "$ifs" "$st"
	else
		printf 'pci=%s\ndriver=%s\nifaces=%s\n' "$p" "$drv" "$ifs" >"$st"
	fi
	# driver_override makes vfio-pci take it and keeps the old driver from
	# grabbing it back; unbind, then let the PCI core probe it again.
	put vfio-pci "$d/driver_override"
	[ -z "$drv" ] || put "$p" "$d/driver/unbind"
	put "$p" "$SYSFS/bus/pci/drivers_probe"
	if [ "$DRY" = 0 ]; then
		drv=$(dev_driver "$p")
		[ "$drv" = vfio-pci ] || die "$p did not bind to vfio-pci (driver now: ${drv:-none}); see dmesg. Undo with: $PROG --restore $p"
		say "NIC $p: bound to vfio-pci (IOMMU group $(basename "$(readlink "$d/iommu_group")"))"
	fi
}

restore_nic() {
	local p=$1 d st drv cur
	d=$(dev_dir "$p")
	st=$(state_file "$p")
	if [ ! -e "$st" ]; then
		warn "no state file $st: this script did not bind $p; bind it yourself, e.g. dpdk-devbind.py -b DRIVER $p"
		return 0
	fi
	drv=$(state_get "$st" driver)
	if [ ! -d "$d" ]; then
		warn "no PCI device $p any more; dropping its state file"
		run rm -f "$st"
		return 0
	fi
	cur=$(dev_driver "$p")
	if [ -n "$drv" ] && [ "$cur" = "$drv" ]; then
		say "NIC $p: already on $drv"
		run rm -f "$st"
		return 0
	fi
	say "NIC $p: ${cur:-no driver} -> ${drv:-no driver (it had none)}"
	[ -z "$cur" ] || put "$p" "$d/driver/unbind"
	put "" "$d/driver_override"
	if [ -n "$drv" ]; then
		# Binding by name; drivers_probe finds it too if the module was unloaded.
		if [ -d "$SYSFS/bus/pci/drivers/$drv" ]; then
			put "$p" "$SYSFS/bus/pci/drivers/$drv/bind"
		else
			command -v modprobe >/dev/null 2>&1 && run modprobe "$drv"
			put "$p" "$SYSFS/bus/pci/drivers_probe"
		fi
	fi
	if [ "$DRY" = 0 ] && [ -n "$drv" ]; then
		cur=$(dev_driver "$p")
		[ "$cur" = "$drv" ] || die "$p is on '${cur:-no driver}', not $drv; see dmesg (state kept in $st)"
		say "NIC $p: back on $drv${cur:+ (interfaces: $(dev_ifaces "$p" | paste -sd ' '))}"
	fi
	run rm -f "$st"
}

# ------------------------------------------------------------------ main

if [ "$MODE" = status ]; then
	do_status
	exit 0
fi

[ "$DRY" = 1 ] && say "dry run: printing the commands, changing nothing"
if [ "$(id -u)" -ne 0 ]; then
	if [ "$DRY" = 1 ]; then
		warn "not root: a real run needs root (sudo $PROG ...)"
	else
		die "needs root (hugepages, kernel modules and driver binding): sudo $PROG ..."
	fi
fi

if [ "$MODE" = restore ]; then
	if [ "${#PCIS[@]}" -eq 0 ]; then
		for st in "$STATE_DIR"/nic-*.state; do
			[ -e "$st" ] || continue
			p=$(state_get "$st" pci)
			[ -n "$p" ] && PCIS+=("$p")
		done
	fi
	for p in "${PCIS[@]}"; do
		restore_nic "$p"
	done
	restore_hugepages
	exit 0
fi

[ -n "$PAGES" ] || [ "${#PCIS[@]}" -gt 0 ] ||
	usage_err "nothing to do: give --pages N and/or a PCI address (or --config FILE)"

# Every check before any change.
if [ "${#PCIS[@]}" -gt 0 ]; then
	if ! iommu_on; then
		if [ "$DRY" = 1 ]; then
			refuse "the IOMMU is off"
			iommu_help
		else
			iommu_help
			die "refusing: the IOMMU is off (see above)"
		fi
	fi
	for p in "${PCIS[@]}"; do
		check_nic "$p"
		check_iommu_group "$p"
	done
	load_vfio
fi

setup_hugepages
for p in "${PCIS[@]}"; do
	bind_nic "$p"
done

if [ "$DRY" = 1 ]; then
	if [ "$REFUSALS" -gt 0 ]; then
		say "dry run: a real run would refuse ($REFUSALS reason(s) above); nothing was changed"
		exit 1
	fi
	say "dry run: nothing was changed"
fi
exit 0
