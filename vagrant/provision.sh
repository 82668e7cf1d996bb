#!/bin/bash
# vagrant/provision.sh ROLE: run by Vagrant as root in each VM after the synced
# folder (/ferry: bin/ and tests/topo/, staged by vagrant/run) is in place.
# Installs the project's build and makes this VM its part of the test topology:
# tests/topo/topo.sh vm ROLE eth1 (relay, client: the address on the internet;
# site-a/b: the NAT router and its edge namespace behind it).
set -eu
role=$1
install -m 0755 /ferry/bin/ferry-relay /ferry/bin/ferry-agent /usr/local/bin/
hostname "$role"
echo "$role" >/etc/hostname
sed -i "s/^127\.0\.1\.1 .*/127.0.1.1 $role/" /etc/hosts
bash /ferry/tests/topo/topo.sh vm "$role" eth1
echo "provision: $role: $(ferry-agent --help | head -n 1 | cut -c1-40)...; $(ip -4 -br addr show dev eth1)"
