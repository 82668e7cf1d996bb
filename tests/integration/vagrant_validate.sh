#!/usr/bin/env bash
# shellcheck disable=SC2119,SC2016 # lib.sh helpers take optional arguments; ruby, not shell
# vagrant/ is sound without running it: `vagrant validate` (offline: no box, no
# libvirt daemon) accepts vagrant/Vagrantfile with the libvirt provider, and the
# machines it defines are the topology's hosts at the addresses of tests/topo/addrs.
# vagrant/run, which boots the VMs, is its own command (vagrant/README.md).
# Needs vagrant and vagrant-libvirt (scripts/deps.sh test installs them).
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
fy_init 25300
command -v vagrant >/dev/null || fail "vagrant is needed (scripts/deps.sh test installs vagrant and vagrant-libvirt)"
export VAGRANT_DEFAULT_PROVIDER=libvirt VAGRANT_CHECKPOINT_DISABLE=1
cd "$FY_ROOT/vagrant"
out=$(vagrant validate 2>&1) || fail "vagrant validate: $out"
grep -q "validated successfully" <<<"$out" || fail "vagrant validate said: $out"
check_ok "vagrant validate: $out"
vagrant plugin list 2>/dev/null | grep -q vagrant-libvirt || fail "the vagrant-libvirt plugin is missing"
check_ok "provider: $(vagrant plugin list 2>/dev/null | grep vagrant-libvirt)"
# The machines and their internet addresses, as Vagrant reads them, against
# tests/topo/topo.sh's (one plan: tests/topo/addrs).
# shellcheck source=SCRIPTDIR/../topo/topo.sh
. "$FY_ROOT/tests/topo/topo.sh"
topo_addrs
want="client=$TOPO_CLIENT_IP relay=$TOPO_RELAY_IP site-a=$TOPO_NAT_A_IP site-b=$TOPO_NAT_B_IP"
got=$(ruby -e '
	module Vagrant
		class Cfg
			def initialize; @n = {}; @ip = nil; end
			attr_reader :n
			def method_missing(*a, **k, &b); self; end
			def respond_to_missing?(*) = true
			def vm; self; end
			def define(name, &b); @cur = name; b.call(self); end
			def network(kind, ip: nil, **k); @n[@cur] = ip if ip; end
		end
		def self.configure(v); c = Cfg.new; yield c; $cfg = c; end
	end
	load ARGV[0]
	puts $cfg.n.sort.map { |k, v| "#{k}=#{v}" }.join(" ")
' "$FY_ROOT/vagrant/Vagrantfile" 2>&1) || fail "reading the Vagrantfile's machines failed: $got"
[ "$got" = "$want" ] || fail "Vagrantfile machines '$got', want '$want'"
check_ok "machines and addresses match tests/topo/addrs: $got"

# The box carries every shared library the relay and the agent of this build
# need (the VMs run these binaries, built without DPDK by vagrant/run): each one
# ldd names, by its Debian package, is in vagrant/box.sh's PKGS. DPDK's own
# libraries and what only they pull in are left out.
pkgs=" $(sed -n '/^PKGS=(/,/)/p' "$FY_ROOT/vagrant/box.sh" | tr -d '()' | sed 's/^PKGS=//' | tr '\n\t' '  ') "
sos() { ldd "$1" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }'; }
dpdk_only=" "
for lib in $(sos "$RELAY_BIN" | grep '/librte_'); do
	dpdk_only+="$lib $(sos "$lib" | tr '\n' ' ')"
done
for lib in $(sos "$AGENT_BIN"); do dpdk_only=${dpdk_only// $lib / }; done
# A sanitizer build links the sanitizers' runtimes, which the VMs' build never
# does: the plain builds of the same run check the list.
if [ -n "${FY_SANITIZED:-}" ]; then
	check_ok "box.sh's package list is checked against the plain build (this one is sanitized)"
	pass
	exit 0
fi
missing=()
for bin in "$RELAY_BIN" "$AGENT_BIN"; do
	while read -r lib; do
		[[ $dpdk_only == *" $lib "* ]] && continue
		# /lib is /usr/lib on Debian 12 and dpkg knows a file by the path its
		# package ships it at, which may be either
		pkg=$({ dpkg -S "$lib" || dpkg -S "$(readlink -f "$lib")"; } 2>/dev/null | head -n 1 |
			cut -d: -f1)
		[ -n "$pkg" ] || fail "no Debian package owns $lib (needed by $bin)"
		case $pkg in libc6 | libgcc-s1) continue ;; esac	# in every Debian system
		[[ $pkgs == *" $pkg "* ]] || missing+=("$pkg ($(basename "$lib"), $(basename "$bin"))")
	done < <(sos "$bin")
done
[ ${#missing[@]} -eq 0 ] || fail "vagrant/box.sh PKGS lacks what the binaries link: ${missing[*]}"
check_ok "vagrant/box.sh installs every library the relay and the agent link"
pass
