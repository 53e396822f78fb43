#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Turns a debootstrapped bookworm tree into the mgd test guest's root file system. Runs on the
# host, as root, on a scratch copy of the cached debootstrap tree (mgd-vm does that); its
# content is part of the image's cache key, so editing it rebuilds the image.
#
# The guest boots systemd on a pure cgroup v2 hierarchy, with a lingering user "desk" (uid 1000)
# whose user manager (user@1000.service) is the session mgd manages. The peers are installed
# but not started: each benchmark arm starts its own. mgdvm-test.service runs /host/run.sh from
# the 9p share as root, prints "MGDVM-RESULT rc=N" on the serial console and powers off.
set -euo pipefail
R=${1:?usage: rootfs-setup.sh ROOTDIR}

systemctl_offline() { systemctl --root="$R" --quiet "$@"; }

sed -i 's/^root:[^:]*:/root::/' "$R/etc/shadow"
echo mgdvm > "$R/etc/hostname"
# empty machine-id: systemd makes a fresh one at every boot (each boot is a snapshot of the image)
: > "$R/etc/machine-id"

# nothing but the test may run at its own pace: no gettys, no timers, no peers yet.
# Debian enables systemd-oomd; left on, its swap rule would kill test units in every arm.
systemctl_offline mask serial-getty@ttyS0.service getty@tty1.service \
	apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer \
	fstrim.timer systemd-tmpfiles-clean.timer systemd-timesyncd.service 2>/dev/null || true
for unit in systemd-oomd.service systemd-oomd.socket earlyoom.service nohang.service nohang-desktop.service; do
	if [ -e "$R/lib/systemd/system/$unit" ]; then
		systemctl_offline disable "$unit"
	fi
done

mkdir -p "$R/etc/systemd/journald.conf.d" "$R/etc/systemd/system.conf.d"
cat > "$R/etc/systemd/journald.conf.d/mgdvm.conf" <<'EOF'
# The benchmark reads every action of every daemon from the journal: drop nothing.
[Journal]
Storage=volatile
RateLimitIntervalSec=0
RateLimitBurst=0
ForwardToConsole=no
EOF
cat > "$R/etc/systemd/system.conf.d/mgdvm.conf" <<'EOF'
[Manager]
ShowStatus=no
DefaultTimeoutStopSec=10s
EOF

if ! grep -q '^desk:' "$R/etc/passwd"; then
	chroot "$R" useradd --create-home --uid 1000 --shell /bin/bash desk
fi
# linger: logind starts user@1000.service at boot, as a logged-in desktop session would have it
mkdir -p "$R/var/lib/systemd/linger"
: > "$R/var/lib/systemd/linger/desk"
mkdir -p "$R/host"

cat > "$R/etc/systemd/system/mgdvm-test.service" <<'EOF'
[Unit]
Description=mgd test guest: run /host/run.sh
After=multi-user.target systemd-logind.service

[Service]
Type=oneshot
TimeoutStartSec=infinity
# The kernel OOM killer is one of the arms under test: it may kill workload processes, and the
# default OOMPolicy=stop would then stop this unit. The harness itself is never a victim.
OOMPolicy=continue
OOMScoreAdjust=-1000
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0
# Never "systemctl is-system-running --wait" in here: this unit is part of the boot transaction.
ExecStart=/bin/sh -c 'echo "MGDVM-BOOTED uptime=$(cut -d" " -f1 /proc/uptime) kernel=$(uname -r)"; if [ -r /host/run.sh ]; then sh /host/run.sh; rc=$?; else echo "no /host/run.sh"; rc=127; fi; sync; echo "MGDVM-RESULT rc=$rc"; systemctl poweroff --no-block'

[Install]
WantedBy=multi-user.target
EOF
systemctl_offline enable mgdvm-test.service
