#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0-only
# /init of the mgd test guests' initramfs (busybox only). Kernel parameters it reads:
#   mgdvm.probe=1      print MGDVM-PROBE-OK and power off at once (the accelerator probe)
#   mgdvm.root=DEV     mount DEV (the Debian rootfs image) and switch_root to its systemd; the
#                      modules loaded here (zram, nf_tables, 9p) stay loaded, /host moves along
#   mgdvm.shell=1      an interactive shell instead of the test (for debugging by hand)
# Otherwise it runs /host/run.sh from the 9p share, prints "MGDVM-RESULT rc=N" on the console
# (the host's exit status) and powers off.
/bin/busybox --install -s /bin
# the kernel's request_module() runs /sbin/modprobe
ln -sf /bin/busybox /sbin/modprobe
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run

probe= root= shell=
for a in $(cat /proc/cmdline); do
	case $a in
	mgdvm.probe=1) probe=1 ;;
	mgdvm.root=*) root=${a#mgdvm.root=} ;;
	mgdvm.shell=1) shell=1 ;;
	esac
done
if [ -n "$probe" ]; then
	echo "MGDVM-PROBE-OK"
	poweroff -f
fi

for m in $(cat /etc/mgdvm-modules); do
	modprobe "$m" || echo "mgdvm-init: cannot load module $m"
done
if grep -qs host0 /sys/bus/virtio/drivers/9pnet_virtio/*/mount_tag; then
	mkdir -p /host
	mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288 host0 /host ||
		echo "mgdvm-init: cannot mount the 9p share"
fi

if [ -n "$root" ]; then
	mkdir -p /newroot
	if ! mount -o rw "$root" /newroot; then
		echo "mgdvm-init: cannot mount $root"
		echo "MGDVM-RESULT rc=126"
		poweroff -f
	fi
	if grep -q ' /host ' /proc/mounts; then
		mkdir -p /newroot/host
		mount --move /host /newroot/host
	fi
	umount /dev/shm /dev/pts /tmp /run
	mount --move /dev /newroot/dev
	umount /sys /proc
	exec switch_root /newroot /sbin/init
fi

# cgroup v2 with the controllers a desktop session has delegated (systemd does this itself in
# the rootfs guest)
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
echo "+memory +cpu +io +pids" > /sys/fs/cgroup/cgroup.subtree_control ||
	echo "mgdvm-init: cannot enable the cgroup controllers"
hostname mgdvm
echo "MGDVM-BOOTED uptime=$(cut -d' ' -f1 /proc/uptime) kernel=$(uname -r)"
if [ -n "$shell" ]; then
	setsid cttyhack sh -l
	rc=$?
elif [ -r /host/run.sh ]; then
	# the harness is never the OOM killer's choice
	echo -1000 > /proc/self/oom_score_adj
	sh /host/run.sh
	rc=$?
else
	echo "mgdvm-init: no /host/run.sh"
	rc=127
fi
sync
echo "MGDVM-RESULT rc=$rc"
poweroff -f
