# SPDX-License-Identifier: GPL-2.0-only
# Shared shell functions of the scripts that run INSIDE the test guests (busybox sh and dash).
# The share is /host: /host/bin holds the workloads, /host/guest these scripts.

BIN=${MGDVM_BIN:-/host/bin}
DESK_UID=1000
DESK_USER=desk

now_ms() { "$BIN/mgw-stamp" -n; }

guest_kind() {
	if [ "$(cat /proc/1/comm)" = systemd ]; then echo systemd; else echo busybox; fi
}

# zram swap of SIZE_KB; busybox swapon has no -p, so the priority is util-linux's only
zram_on() {
	local size_kb=$1
	[ -e /sys/block/zram0 ] || modprobe zram 2>/dev/null
	[ -e /sys/block/zram0 ] || { echo "no /sys/block/zram0 (zram module missing)"; return 1; }
	echo "${size_kb}K" > /sys/block/zram0/disksize || return 1
	mkswap /dev/zram0 > /dev/null || return 1
	if [ "$(guest_kind)" = systemd ]; then swapon -p 100 /dev/zram0; else swapon /dev/zram0; fi
}

zram_off() {
	swapoff /dev/zram0 2>/dev/null
	echo 1 > /sys/block/zram0/reset 2>/dev/null
	return 0
}

mem_total_kb() { awk '/^MemTotal:/ {print $2}' /proc/meminfo; }

# "some" or "full" total (us) from a PSI file
psi_total() { awk -v k="$2" '$1 == k { sub("total=", "", $5); print $5 }' "$1"; }

# The cgroup the session's processes live in: the user manager's in the systemd guest, a
# plain "session" cgroup (with one leaf per app, see mgw-desktop -c) in the busybox guest.
session_cgroup() {
	if [ "$(guest_kind)" = systemd ]; then
		echo /sys/fs/cgroup/user.slice/user-$DESK_UID.slice/user@$DESK_UID.service
	else
		echo /sys/fs/cgroup/session
	fi
}

# Wait until the lingering user's manager runs (logind starts it at boot); up to 60 s.
wait_user_manager() {
	local i=0
	while [ $i -lt 200 ]; do
		[ "$(systemctl is-active user@$DESK_UID.service 2>/dev/null)" = active ] &&
			[ -S /run/user/$DESK_UID/bus ] && return 0
		sleep 0.3
		i=$((i + 1))
	done
	return 1
}

# Run a command as the desktop user, in reach of its user manager and session bus.
as_desk() {
	runuser -u $DESK_USER -- env XDG_RUNTIME_DIR=/run/user/$DESK_UID \
		DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/$DESK_UID/bus HOME=/home/$DESK_USER "$@"
}

# Wait until FILE has a line matching the extended regex, up to SECONDS; 0 if it came.
wait_line() {
	local file=$1 re=$2 secs=$3 i=0
	while [ $i -lt $((secs * 4)) ]; do
		grep -Eq "$re" "$file" 2>/dev/null && return 0
		sleep 0.25
		i=$((i + 1))
	done
	return 1
}
