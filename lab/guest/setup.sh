#!/bin/sh
# Runs inside the image root while the image is built.
set -eu
cat > /etc/network/interfaces <<'EON'
auto lo
iface lo inet loopback

auto eth0
iface eth0 inet dhcp

source /etc/network/interfaces.d/*
EON
echo 'LABEL=root / ext4 rw,errors=remount-ro 0 1' > /etc/fstab
chmod 755 /usr/local/sbin/dw-lab-init
systemctl enable dw-lab-init.service docker.service ssh.service networking.service
# Keep boots short under emulation: no timers that fetch or rebuild caches.
for unit in apt-daily.timer apt-daily-upgrade.timer man-db.timer e2scrub_all.timer fstrim.timer \
            dpkg-db-backup.timer systemd-timesyncd.service; do
  systemctl mask "$unit" >/dev/null 2>&1 || true
done
# Identity is per VM: no machine-id, no host keys in the shared image.
: > /etc/machine-id
rm -f /var/lib/dbus/machine-id /etc/ssh/ssh_host_*
echo 'root:*' | chpasswd -e
# A non-root operator with sudo, as fleets are often reached (pyinfra --sudo).
useradd -m -s /bin/sh dw
echo 'dw:*' | chpasswd -e
echo 'dw ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/dw
chmod 440 /etc/sudoers.d/dw
rm -rf /var/cache/apt/archives/*.deb /var/lib/apt/lists/*
