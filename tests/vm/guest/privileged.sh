#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Runs in the systemd guest as root: `install.sh --privileged` and `--undo` for real (the guest
# is a fresh snapshot each boot, so nothing here can harm the host), then mgd as desk's user
# service using the grants under real pressure.
#
#   1. a fresh guest holds none of the grants; install.sh --privileged applies all four steps
#      (group mgd with desk, the tmpfiles grant on zram0's compact node, the helpers root:mgd
#      0750 with exactly their file capabilities, criu root:mgd 0750 with its two); a second run
#      changes nothing; --undo removes all of it, twice in a row;
#   2. each --skip STEP leaves exactly that step undone and applies the other three;
#   3. with the grants in place and desk's user manager restarted (a new login: the group takes
#      effect), mgd.service reports every feature on in `mgctl status`, arms a sub-second PSI
#      trigger through the PSI helper, has the zram pool (filled and fragmented by mgw-zfill,
#      whose filling is real stall) compacted through the zram helper once above Normal, and
#      acts on a real hog after an event of the sub-second trigger.
# (The session's memory.pressure gets no trigger at all here: systemd 252 leaves it root:root
# 0644 inside the delegated user@UID.service, so neither mgd nor the PSI helper may open it for
# writing. mgd polls it; that is logged, not asserted.)
. /host/guest/lib.sh
pass=0 fail=0
ok() { echo "PASS: $*"; pass=$((pass + 1)); }
ko() { echo "FAIL: $*"; fail=$((fail + 1)); }
check() { if [ "$1" = 0 ]; then ok "$2"; else ko "$2${3:+: $3}"; fi; }
mark() { echo "METRIC uptime_s_$1 $(cut -d' ' -f1 /proc/uptime)"; }

SRC=/host/src
LIBEXEC=/usr/local/libexec/mgd
CRIU=/usr/sbin/criu
COMPACT=/sys/block/zram0/compact
HELPERS="mgd-psi-helper mgd-zram-helper mgd-swap-helper mgd-checkpoint-helper"
OUT=/host/out

install_sh() {
	bash $SRC/install.sh --privileged --prefix /usr/local --user $DESK_USER "$@" > /tmp/install.out 2>&1
	rc=$?
	cat /tmp/install.out >> $OUT/install.log
	return $rc
}
owner_mode() { stat -c '%U:%G %a' "$1"; }
# getcap's capability list, sorted, without the file name ("" for none)
caps() { getcap "$1" 2>/dev/null | sed "s|^$1 ||" | tr ',=' '\n\n' | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//'; }
in_mgd() { id -nG $DESK_USER | tr ' ' '\n' | grep -qx mgd; }

# step_on STEP / step_off STEP: 0 when the step's effect is there / entirely absent; $why says
# what differs
step_on() {
	why=
	case $1 in
	group)
		getent group mgd > /dev/null || why="no group mgd"
		in_mgd || why="$why; desk not in mgd"
		[ -e /etc/sysusers.d/mgd.conf ] || why="$why; no /etc/sysusers.d/mgd.conf" ;;
	zram)
		[ -e /etc/tmpfiles.d/mgd.conf ] || why="no /etc/tmpfiles.d/mgd.conf"
		[ "$(owner_mode $COMPACT)" = "root:mgd 220" ] || why="$why; compact is $(owner_mode $COMPACT)" ;;
	helpers)
		for h in $HELPERS; do
			[ "$(owner_mode $LIBEXEC/$h)" = "root:mgd 750" ] || why="$why; $h is $(owner_mode $LIBEXEC/$h)"
		done
		[ "$(caps $LIBEXEC/mgd-psi-helper)" = "cap_sys_resource ep" ] || why="$why; psi caps '$(caps $LIBEXEC/mgd-psi-helper)'"
		[ "$(caps $LIBEXEC/mgd-swap-helper)" = "cap_sys_admin ep" ] || why="$why; swap caps '$(caps $LIBEXEC/mgd-swap-helper)'"
		[ -z "$(caps $LIBEXEC/mgd-zram-helper)" ] || why="$why; zram helper has caps"
		[ -z "$(caps $LIBEXEC/mgd-checkpoint-helper)" ] || why="$why; checkpoint helper has caps" ;;
	criu)
		[ "$(owner_mode $CRIU)" = "root:mgd 750" ] || why="criu is $(owner_mode $CRIU)"
		[ "$(caps $CRIU)" = "cap_checkpoint_restore cap_sys_ptrace ep" ] || why="$why; criu caps '$(caps $CRIU)'" ;;
	esac
	[ -z "$why" ]
}

step_off() {
	why=
	case $1 in
	group)
		getent group mgd > /dev/null && why="group mgd exists"
		[ -e /etc/sysusers.d/mgd.conf ] && why="$why; /etc/sysusers.d/mgd.conf is there" ;;
	group-kept)     # --skip group with the group made beforehand: desk not added, no sysusers file
		in_mgd && why="desk is in mgd"
		[ -e /etc/sysusers.d/mgd.conf ] && why="$why; /etc/sysusers.d/mgd.conf is there" ;;
	zram)
		[ -e /etc/tmpfiles.d/mgd.conf ] && why="/etc/tmpfiles.d/mgd.conf is there"
		[ "$(owner_mode $COMPACT)" = "root:root 200" ] || why="$why; compact is $(owner_mode $COMPACT)" ;;
	helpers)
		for h in $HELPERS; do
			[ "$(owner_mode $LIBEXEC/$h)" = "root:root 755" ] || why="$why; $h is $(owner_mode $LIBEXEC/$h)"
			[ -z "$(caps $LIBEXEC/$h)" ] || why="$why; $h has caps"
		done ;;
	criu)
		[ "$(owner_mode $CRIU)" = "root:root 755" ] || why="criu is $(owner_mode $CRIU)"
		[ -z "$(caps $CRIU)" ] || why="$why; criu has caps" ;;
	esac
	[ -z "$why" ]
}

# all_are on|off [EXCEPT]: every step but EXCEPT in that state
all_are() {
	local state=$1 except=${2:-} s bad=
	for s in group zram helpers criu; do
		[ "$s" = "$except" ] && continue
		step_$state $s || bad="$bad [$s: ${why#; }]"
	done
	why=$bad
	[ -z "$bad" ]
}

snapshot() {
	getent group mgd
	for f in $LIBEXEC/mgd-*-helper $CRIU $COMPACT; do echo "$f $(owner_mode $f) $(caps $f)"; done
	cat /etc/tmpfiles.d/mgd.conf /etc/sysusers.d/mgd.conf 2>/dev/null | md5sum
}

# ---- install.sh --privileged / --undo ------------------------------------------------------------

setup_tests() {
	all_are off
	check $? "a fresh guest holds none of the grants" "$why"
	install_sh
	check $? "install.sh --privileged exits 0" "$(tail -n 5 /tmp/install.out)"
	all_are on
	check $? "every step applied: group with desk, tmpfiles grant, helpers root:mgd 0750 with their caps, criu's two caps" "$why"
	snapshot > /tmp/first
	install_sh
	check $? "a second run exits 0" "$(tail -n 5 /tmp/install.out)"
	snapshot > /tmp/second
	cmp -s /tmp/first /tmp/second && [ "$(getent group mgd | cut -d: -f4)" = $DESK_USER ]
	check $? "re-running changes nothing (desk is in mgd once)" "$(diff /tmp/first /tmp/second)"
	install_sh --undo
	check $? "install.sh --privileged --undo exits 0" "$(tail -n 5 /tmp/install.out)"
	all_are off
	check $? "--undo removes all of it" "$why"
	install_sh --undo
	check $? "--undo again exits 0 and finds nothing to do" "$(tail -n 5 /tmp/install.out)"

	for s in group zram helpers criu; do
		off=$s
		if [ $s = group ]; then
			# the other steps need the group: it exists (as a package's sysusers.d would make it)
			groupadd -r mgd
			off=group-kept
		fi
		install_sh --skip $s
		rc=$?
		step_off $off
		r1=$? w1=$why
		all_are on $s
		r2=$?
		[ $rc = 0 ] && [ $r1 = 0 ] && [ $r2 = 0 ]
		check $? "--skip $s skips only $s" "rc=$rc; $s: $w1; others:$why"
		install_sh --undo
		all_are off
		check $? "--undo after --skip $s removes the rest" "$why"
	done
}

# ---- mgd as desk's user service, with the grants ---------------------------------------------------

mgd_journal() { journalctl -b -o cat --no-pager _UID=$DESK_UID _SYSTEMD_USER_UNIT=mgd.service 2>/dev/null; }
mgd_status() { as_desk mgctl status 2>&1; }
status_is() { mgd_status | grep -Eq "^$1 +$2\$"; }

wait_for() {   # wait_for SECONDS COMMAND...
	local secs=$1 i=0
	shift
	while [ $i -lt $((secs * 4)) ]; do
		"$@" && return 0
		sleep 0.25
		i=$((i + 1))
	done
	"$@"
}

features_on() {
	status_is psi_trigger subsecond && status_is checkpoint yes && status_is zram_compact yes && status_is swap_reclaim yes
}

compacted() { mgd_journal | grep -q 'zram compacted:'; }
hog_unit=app-hog-e2e
# real pressure: the runaway in an app scope of desk's, limited so that it thrashes at once
start_hog() {
	[ -n "${hog_started:-}" ] && return 0
	hog_started=1
	as_desk systemd-run --user --scope --unit=$hog_unit -p MemoryMax=96M -q \
		$BIN/mgw-hog -q -n node -m 240 -r 60 -H 90 > /dev/null 2>&1 &
}

mgd_tests() {
	local zf pc_before pc_after kib
	install_sh
	check $? "install.sh --privileged for the service run" "$(tail -n 5 /tmp/install.out)"
	# a new login: the user manager (and everything it starts) gets the mgd group
	systemctl restart user@$DESK_UID.service
	wait_user_manager || { ko "user@$DESK_UID.service did not come back"; return; }
	grep -Eq "^Groups:.*[[:space:]]$(getent group mgd | cut -d: -f3)([[:space:]]|\$)" \
		/proc/$(systemctl show -p MainPID --value user@$DESK_UID.service)/status
	check $? "desk's user manager runs with group mgd"

	# a fragmented zram pool of 130+ MiB (mgd compacts nothing smaller), outside desk's session
	zf=/sys/fs/cgroup/zfill
	mkdir -p $zf && echo 32M > $zf/memory.max
	sh -c "echo \$\$ > $zf/cgroup.procs && exec $BIN/mgw-zfill -m 560 -R 30 -F 4 -n zfill" > /tmp/zfill.out &
	zfill=$!
	wait_line /tmp/zfill.out '^ready$' 120
	r=$?
	mark filled
	check $r "mgw-zfill filled and fragmented zram: $(cat /sys/block/zram0/mm_stat)"
	echo max > $zf/memory.max
	pc_before=$(awk '{print $7}' /sys/block/zram0/mm_stat)

	install -d -o $DESK_USER -g $DESK_USER /home/$DESK_USER/.config/mgd
	install -o $DESK_USER -g $DESK_USER -m 0644 /host/guest/mgd-ci.conf /home/$DESK_USER/.config/mgd/mgd.conf
	as_desk systemctl --user daemon-reload
	as_desk systemctl --user start mgd.service
	check $? "systemctl --user start mgd.service"
	wait_for 30 features_on
	check $? "mgctl status: psi_trigger subsecond, checkpoint, zram_compact and swap_reclaim yes" "$(mgd_status | tr '\n' ' ')"
	mgd_journal | grep -q "Sub-second PSI trigger on /proc/pressure/memory from the PSI helper"
	check $? "a sub-second PSI trigger from the PSI helper on /proc/pressure/memory"

	# Compaction at Elevated and above, through the zram helper as desk. The filling's own stall
	# (real, in the filler's memory cgroup) is usually still in global PSI, so mgd starts above
	# Normal; if not, the hog below raises the level.
	wait_for 20 compacted || start_hog
	wait_for 60 compacted
	check $? "above Normal mgd has the zram pool compacted through mgd-zram-helper" "$(mgd_journal | tail -n 20 | tr '\n' '|')"
	pc_after=$(awk '{print $7}' /sys/block/zram0/mm_stat)
	kib=$(mgd_journal | sed -n 's/^zram compacted: \([0-9]*\) -> \([0-9]*\) KiB.*/\1 \2/p' | head -n 1)
	mgd_journal | awk '/Pressure level normal -> / && !up { up = NR } /zram compacted:/ && !c { c = NR }
	                   END { exit !(up && c && up < c) }' &&
		[ "$pc_after" -gt "$pc_before" ] && [ "${kib% *}" -gt "${kib#* }" ]
	check $? "the kernel compacted zram0 (pages_compacted $pc_before -> $pc_after; pool ${kib% *} -> ${kib#* } KiB around the helper's write), after mgd rose above Normal"
	start_hog
	wait_for 60 sh -c "journalctl -b -o cat --no-pager _UID=$DESK_UID _SYSTEMD_USER_UNIT=mgd.service | grep -q 'after the PSI trigger event (sub-second trigger on'"
	check $? "mgd's first action followed an event of a sub-second trigger" "$(mgd_journal | grep -E 'First action|action: ' | head -n 5 | tr '\n' '|')"
	mgd_journal | grep -E "First action|action: (freeze|kill|terminate) .*comm=\"node\"" | head -n 3 | sed 's/^/METRIC journal /'

	as_desk mgctl status > $OUT/mgctl-status.txt 2>&1
	as_desk systemctl --user stop mgd.service
	as_desk systemctl --user stop $hog_unit.scope 2> /dev/null
	kill $zfill 2> /dev/null
	wait $zfill 2> /dev/null
	rmdir $zf 2> /dev/null
	mgd_journal > $OUT/mgd-journal.txt
	install_sh --undo
	check $? "--undo once mgd is stopped" "$(tail -n 5 /tmp/install.out)"
}

mkdir -p $OUT
wait_user_manager || { ko "user@$DESK_UID.service did not start"; exit 1; }
cp -a /host/mgd-root/. / || { ko "install mgd from the share"; exit 1; }
# compact exists once zram0 is set up; 2 GiB of swap space so that the filler's pages stay below
# the 30 % at which mgd would cycle the swap when calm (this test is about compaction)
zram_on 2097152 || { ko "zram swap"; exit 1; }
systemctl stop systemd-oomd.service systemd-oomd.socket 2> /dev/null
mark start
setup_tests
mark setup_done
mgd_tests
mark end
zram_off
echo "$pass passed, $fail failed"
[ $fail = 0 ]
