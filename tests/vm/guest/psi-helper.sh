#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Runs in the systemd guest as root (who has CAP_SYS_RESOURCE there, unlike root on the CI host):
# the PSI helper's sub-second trigger fd, used by an unprivileged process, under a real hog.
. /host/guest/lib.sh
pass=0 fail=0
ok() { echo "PASS: $*"; pass=$((pass + 1)); }
ko() { echo "FAIL: $*"; fail=$((fail + 1)); }
helper=/host/mgd-root/usr/local/libexec/mgd/mgd-psi-helper
BIN=/host/bin
if [ ! -x "$helper" ]; then
	ko "no mgd-psi-helper in the share"
else
	zram_on 524288 || ko "zram swap"
	T=/sys/fs/cgroup/psi-helper-test
	mkdir -p $T && echo 96M > $T/memory.max
	python3 /host/guest/psi-fd.py "$helper" sh -c "echo 0 > $T/cgroup.procs && exec $BIN/mgw-hog -q -m 240 -r 60 -H 60" 2>&1
	for p in $(cat $T/cgroup.procs 2>/dev/null); do kill -9 $p; done
	sleep 1; rmdir $T 2>/dev/null
	zram_off
fi
