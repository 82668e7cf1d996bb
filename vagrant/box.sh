#!/usr/bin/env bash
# vagrant/box.sh OUT.box: builds the Vagrant box the ferry VMs boot (provider
# libvirt), from Debian packages only: nothing is downloaded from Vagrant Cloud.
#
#   debootstrap of Debian 12 (bookworm), minbase, from the mirror apt already uses
#   + the cloud kernel (linux-image-cloud-amd64: virtio, small), systemd-networkd
#     (DHCP on eth0, the management network Vagrant talks over), openssh-server,
#     sudo, and what the scenarios use: iproute2, nftables, conntrack, busybox
#     (httpd), curl, ping, python3 (tests/tools/fy_dns.py), dig, rsync (Vagrant's
#     synced folder), and the libraries the
#     ferry binaries link (libssl3, liburcu8, libxxhash0, liburing2, libwslay1,
#     libhttp-parser2.9, libcjson1; tests/integration/vagrant_validate.sh checks
#     this list against what the built binaries need)
#   + user vagrant (Vagrant's well-known insecure key, password-less sudo)
#   one ext4 partition (at 1 MiB: the loop device takes it by offset, since
#   `losetup -P` partitions do not appear everywhere), booted by extlinux
#   (syslinux's MBR), converted to qcow2 and packed with libvirt box metadata.
#
# Takes about 2.5 minutes and makes a box of about 200 MB. vagrant/run calls it only
# when the recipe (this file) changed: the box's name carries this file's hash.
# Needs root, debootstrap, extlinux, syslinux-common, qemu-utils, e2fsprogs, fdisk,
# and the vagrant package (for its insecure public key): scripts/deps.sh vagrant.
set -euo pipefail

out=${1:?usage: vagrant/box.sh OUT.box}
[ "$(id -u)" -eq 0 ] || { echo "box.sh: needs root (loop devices, mount, chroot)" >&2; exit 2; }
SIZE_MB=2048
PKGS=(systemd-sysv udev kmod dbus linux-image-cloud-amd64 openssh-server sudo iproute2 nftables
	conntrack busybox curl iputils-ping python3 bind9-dnsutils rsync netbase procps libssl3 liburcu8
	libxxhash0 liburing2 libwslay1 libhttp-parser2.9 libcjson1)

# The mirror apt uses for bookworm here (deb822 sources or a sources.list line).
mirror=${FERRY_BOX_MIRROR:-}
if [ -z "$mirror" ]; then
	mirror=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
		awk '/^URIs:/ { u = $2 } /^Suites:/ && / bookworm( |$)/ && u ~ /\/debian\/?$/ { print u; exit }')
fi
if [ -z "$mirror" ]; then
	mirror=$(grep -hE '^deb +(\[[^]]*\] +)?https?://[^ ]*/debian/? +bookworm ' /etc/apt/sources.list 2>/dev/null |
		sed -E 's/^deb +(\[[^]]*\] +)?([^ ]+).*/\2/' | head -n 1)
fi
mirror=${mirror:-http://deb.debian.org/debian}
key=
for k in /usr/share/rubygems-integration/all/gems/vagrant-*/keys/vagrant.pub /usr/share/vagrant/keys/vagrant.pub; do
	[ -f "$k" ] && key=$k && break
done
[ -n "$key" ] || { echo "box.sh: Vagrant's insecure public key not found (install vagrant)" >&2; exit 1; }
for t in debootstrap extlinux qemu-img sfdisk mkfs.ext4; do
	command -v "$t" >/dev/null || { echo "box.sh: $t is missing (scripts/deps.sh vagrant)" >&2; exit 1; }
done
[ -f /usr/lib/syslinux/mbr/mbr.bin ] || { echo "box.sh: syslinux-common is missing" >&2; exit 1; }

work=$(mktemp -d /var/tmp/ferry-box.XXXXXX)
mnt=$work/root
loop=
cleanup() {
	set +e
	for m in dev/pts dev proc sys; do mountpoint -q "$mnt/$m" && umount "$mnt/$m"; done
	mountpoint -q "$mnt" && umount "$mnt"
	[ -n "$loop" ] && losetup -d "$loop"
	rm -rf "$work"
}
trap cleanup EXIT
t0=$(date +%s)
say() { printf 'box: %3d s  %s\n' "$(($(date +%s) - t0))" "$*"; }

say "disk: ${SIZE_MB} MiB, one partition at 1 MiB (ext4, label root)"
raw=$work/disk.raw
truncate -s "${SIZE_MB}M" "$raw"
echo 'start=2048, type=83, bootable' | sfdisk -q "$raw"
loop=$(losetup --find --show --offset $((2048 * 512)) --sizelimit $(((SIZE_MB * 2048 - 2048) * 512)) "$raw")
# no 64bit / metadata_csum_seed / orphan_file: extlinux (6.04) reads the file system
mkfs.ext4 -q -L root -O ^64bit,^metadata_csum_seed,^orphan_file "$loop" 2>/dev/null ||
	mkfs.ext4 -q -L root -O ^64bit "$loop"
mkdir -p "$mnt"
mount "$loop" "$mnt"

say "debootstrap bookworm from $mirror"
debootstrap --variant=minbase --include="$(IFS=,; echo "${PKGS[*]}")" bookworm "$mnt" "$mirror" \
	>"$work/debootstrap.log" 2>&1 || { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }

say "configure: fstab, networkd, vagrant user, sshd"
echo 'LABEL=root / ext4 defaults,noatime 0 1' >"$mnt/etc/fstab"
echo ferry >"$mnt/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 ferry\n' >"$mnt/etc/hosts"
cat >"$mnt/etc/systemd/network/10-eth0.network" <<'NET'
# the management network: Vagrant finds the VM by its DHCP lease and reaches it
# there, nothing else does: no default route through it, so a VM reaches only its
# own subnets, as in the namespaces. The VM's port on the topology's internet
# (eth1) is set by tests/topo/topo.sh vm (provisioning).
[Match]
Name=eth0
[Network]
DHCP=ipv4
[DHCPv4]
UseGateway=no
UseDNS=no
NET
mkdir -p "$mnt/etc/sudoers.d"
echo 'vagrant ALL=(ALL) NOPASSWD: ALL' >"$mnt/etc/sudoers.d/vagrant"
chmod 440 "$mnt/etc/sudoers.d/vagrant"
chroot "$mnt" useradd -m -s /bin/bash -U vagrant
install -d -m 700 "$mnt/home/vagrant/.ssh"
install -m 600 "$key" "$mnt/home/vagrant/.ssh/authorized_keys"
chroot "$mnt" chown -R vagrant:vagrant /home/vagrant/.ssh
printf 'UseDNS no\nGSSAPIAuthentication no\n' >"$mnt/etc/ssh/sshd_config.d/ferry.conf"
chroot "$mnt" systemctl enable systemd-networkd >/dev/null 2>&1
# nothing that wakes up to do housekeeping under emulation
for u in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer; do
	chroot "$mnt" systemctl mask "$u" >/dev/null 2>&1 || true
done
# every VM makes its own machine id (networkd's DHCP client id comes from it)
: >"$mnt/etc/machine-id"
rm -f "$mnt/var/lib/dbus/machine-id"
rm -rf "$mnt"/var/lib/apt/lists/* "$mnt"/var/cache/apt/*.bin "$mnt"/var/cache/apt/archives/*.deb \
	"$mnt"/usr/share/doc/* "$mnt"/usr/share/man/* "$mnt"/usr/share/locale/* "$mnt"/var/log/*.log

say "extlinux"
kernel=$(find "$mnt/boot" -maxdepth 1 -name "vmlinuz-*" -printf "%f\n" | sort -V | tail -n 1)
initrd=initrd.img-${kernel#vmlinuz-}
[ -f "$mnt/boot/$initrd" ] || { echo "box.sh: no $initrd in the image" >&2; exit 1; }
mkdir -p "$mnt/boot/extlinux"
extlinux --install "$mnt/boot/extlinux" >/dev/null 2>&1
cat >"$mnt/boot/extlinux/extlinux.conf" <<CONF
DEFAULT ferry
PROMPT 0
TIMEOUT 1
LABEL ferry
  LINUX /boot/$kernel
  INITRD /boot/$initrd
  APPEND root=LABEL=root rw net.ifnames=0 biosdevname=0 console=ttyS0,115200 quiet
CONF
dd if=/usr/lib/syslinux/mbr/mbr.bin of="$raw" bs=440 count=1 conv=notrunc status=none
used=$(df -m --output=used "$mnt" | tail -n 1 | tr -d ' ')
# what was deleted (the .debs, docs) still fills blocks: hand them back as holes
fstrim "$mnt" 2>/dev/null || true
umount "$mnt"
losetup -d "$loop"
loop=

say "qcow2 and the box (${used} MiB used in the image)"
mkdir -p "$work/box"
qemu-img convert -O qcow2 "$raw" "$work/box/box.img"
rm -f "$raw"
printf '{"provider": "libvirt", "format": "qcow2", "virtual_size": %d}\n' $((SIZE_MB / 1024)) \
	>"$work/box/metadata.json"
cat >"$work/box/Vagrantfile" <<'VF'
Vagrant.configure("2") do |config|
  config.vm.provider :libvirt do |libvirt|
    libvirt.driver = "qemu"
  end
end
VF
tar -C "$work/box" -cf "$out.tmp" metadata.json Vagrantfile box.img
mv "$out.tmp" "$out"
say "done: $out ($(du -m "$out" | cut -f1) MB)"
