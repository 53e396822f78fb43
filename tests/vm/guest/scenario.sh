# SPDX-License-Identifier: GPL-2.0-only
# Runs INSIDE a fresh guest, as root: one run of one scenario under one arm. It only records;
# every verdict and metric is computed on the host from what it leaves in /host/out
# (tests/vm/pressure_analysis.py), so the guest does no arithmetic under pressure.
#
#   MGDVM_SCENARIO  incident | incident-short | build | clean, or a matrix scenario (mx-..., see
#                   tests/vm/scenario_matrix.py) whose spec is /host/scenario.spec and whose
#                   MGDVM_SWAP_PCT, MGDVM_END_NAMES, MGDVM_END_COUNT, MGDVM_END_MAX,
#                   MGDVM_CALM_MAX and MGDVM_AGGRESSORS the host sets
#   MGDVM_ARM       none (the kernel's OOM killer) | mgd | earlyoom | nohang | oomd
#   MGDVM_SEED      seed of every workload (default 1)
#   MGDVM_MGD_CONF  which mgd-*.conf of the share is the session's mgd.conf (default bench)
#   MGDVM_TRACE=1   mgd records its policy trace (mgd --trace) into /host/out/mgd.trace
#
# Timeline: zram swap as large as RAM (MGDVM_SWAP_PCT % of it; 0: no swap); the arm's daemon starts; the sampler starts; the launcher
# starts the desktop and, on its schedule, the scenario's workload; the run waits for the
# workload's end (the hog gone, the build done), then for calm (stall below 1 % for 10 s and,
# for mgd, nothing left frozen), snapshots who is still frozen, stops the daemon and the desktop,
# and dumps the journal. Output files (/host/out):
#   meta.txt (key=value), marks.txt, samples.csv, frozen.log, launcher.events, probe.txt,
#   final.txt, build.txt, journal.json (systemd guest), kernel.txt, daemon.log (busybox guest)
. /host/guest/lib.sh
SCEN=${MGDVM_SCENARIO:?MGDVM_SCENARIO is not set}
ARM=${MGDVM_ARM:-none}
SEED=${MGDVM_SEED:-1}
G=/host/guest
OUT=/host/out
KIND=$(guest_kind)
mkdir -p $OUT
chmod 0777 $OUT

mark() { echo "$(now_ms) $*" >> $OUT/marks.txt; }
meta() { echo "$1=$2" >> $OUT/meta.txt; }
die() { echo "scenario: $*"; mark "error $*"; exit 1; }

SWAP_PCT=100 END_COUNT=1
case $SCEN in
incident) END_NAMES=node END_MAX=300 CALM_MAX=180 ;;
incident-short) END_NAMES=node END_MAX=150 CALM_MAX=150 ;;
build) END_NAMES=cargo END_MAX=900 CALM_MAX=120 ;;
clean) END_NAMES=cargo END_MAX=600 CALM_MAX=60 ;;
mx-*)
	[ -r /host/scenario.spec ] || die "no /host/scenario.spec for $SCEN"
	SWAP_PCT=${MGDVM_SWAP_PCT:?} END_NAMES=${MGDVM_END_NAMES:?} END_COUNT=${MGDVM_END_COUNT:?}
	END_MAX=${MGDVM_END_MAX:?} CALM_MAX=${MGDVM_CALM_MAX:?}
	meta aggressors "${MGDVM_AGGRESSORS:-}"
	;;
*) die "unknown scenario '$SCEN' (incident, incident-short, build, clean, mx-...)" ;;
esac
case $ARM in
none | earlyoom) ;;
mgd | nohang | oomd) [ $KIND = systemd ] || die "the $ARM arm needs the systemd guest" ;;
*) die "unknown arm '$ARM' (none, mgd, earlyoom, nohang, oomd)" ;;
esac
case $SCEN in
mx-*) cat $G/desktop.spec /host/scenario.spec > /tmp/scenario.spec ;;
*) cat $G/desktop.spec $G/$SCEN.spec > /tmp/scenario.spec ;;
esac || die "no spec for $SCEN"

# ---- the arms ------------------------------------------------------------------------------------

arm_unit() {
	case $ARM in
	earlyoom) echo earlyoom.service ;;
	nohang) echo nohang-desktop.service ;;
	oomd) echo systemd-oomd.service ;;
	esac
}

# mgd as the session's real user service, installed from the build's "meson install" tree
mgd_start() {
	local mgd conf=$G/mgd-${MGDVM_MGD_CONF:-bench}.conf i=0
	[ -d /host/mgd-root ] || die "no mgd install tree in the share (mgd-vm share --mgd BUILD)"
	cp -a /host/mgd-root/. /
	mgd=$(command -v mgd) || die "the install tree has no mgd on PATH"
	# MGDVM_PRIVILEGED=1: the grant install.sh --privileged gives the PSI helper, so mgd runs on
	# sub-second triggers (for the with/without comparison of the time to the first action)
	if [ "${MGDVM_PRIVILEGED:-0}" = 1 ]; then
		setcap cap_sys_resource+ep /usr/local/libexec/mgd/mgd-psi-helper || die "setcap on the PSI helper"
		meta mgd_privileged "psi helper with cap_sys_resource"
	fi
	install -d -o $DESK_USER -g $DESK_USER /home/$DESK_USER/.config /home/$DESK_USER/.config/mgd
	install -o $DESK_USER -g $DESK_USER -m 0644 "$conf" /home/$DESK_USER/.config/mgd/mgd.conf
	as_desk "$mgd" --check-config > $OUT/mgd-check-config.txt 2>&1 ||
		die "mgd rejects $conf: $(cat $OUT/mgd-check-config.txt)"
	meta mgd_version "$("$mgd" --version 2>&1 | head -n1)"
	if [ "${MGDVM_TRACE:-0}" = 1 ]; then
		# the policy's trace, in the user's own /tmp while it runs (9p is slow), copied at the end
		install -d -o $DESK_USER -g $DESK_USER /home/$DESK_USER/.config/systemd/user/mgd.service.d
		printf '[Service]\nExecStart=\nExecStart=%s --trace /tmp/mgd.trace\n' "$mgd" \
			> /home/$DESK_USER/.config/systemd/user/mgd.service.d/trace.conf
		meta mgd_trace 1
	fi
	as_desk systemctl --user daemon-reload
	if as_desk systemctl --user cat mgd.service > /dev/null 2>&1; then
		meta mgd_unit "installed mgd.service"
		as_desk systemctl --user start mgd.service || die "systemctl --user start mgd failed"
	else
		meta mgd_unit "transient (no mgd.service installed)"
		as_desk systemd-run --user --unit=mgd --property=Type=exec "$mgd" || die "systemd-run mgd failed"
	fi
	while [ "$(as_desk systemctl --user is-active mgd.service)" != active ] && [ $i -lt 40 ]; do
		sleep 0.5
		i=$((i + 1))
	done
	as_desk systemctl --user show -p MainPID --value mgd.service > $OUT/daemon.pid
}

arm_start() {
	: > $OUT/daemon.pid
	if [ $KIND = busybox ]; then
		if [ $ARM = earlyoom ]; then
			# Debian's /etc/default/earlyoom: EARLYOOM_ARGS="-r 3600"
			( /usr/bin/earlyoom -r 3600 2>&1 & echo $! > $OUT/daemon.pid; wait ) | "$BIN/mgw-stamp" > $OUT/daemon.log &
			meta arm_version "$(/usr/bin/earlyoom -v 2>&1 | head -n1)"
		fi
		return 0
	fi
	case $ARM in
	none) ;;
	mgd) mgd_start ;;
	*)
		systemctl start "$(arm_unit)" || die "systemctl start $(arm_unit) failed"
		systemctl show -p MainPID --value "$(arm_unit)" > $OUT/daemon.pid
		;;
	esac
	case $ARM in
	earlyoom) meta arm_version "$(earlyoom -v 2>&1 | head -n1)" ;;
	nohang) meta arm_version "$(nohang --version 2>&1 | head -n1)" ;;
	oomd) meta arm_version "$(systemctl --version | head -n1)" ;;
	esac
	return 0
}

arm_stop() {
	local pid
	pid=$(cat $OUT/daemon.pid 2>/dev/null)
	case $ARM in
	none) ;;
	mgd) as_desk mgctl status > $OUT/mgctl-status.txt 2>&1
	     as_desk systemctl --user stop mgd.service
	     [ -f /tmp/mgd.trace ] && gzip -c /tmp/mgd.trace > $OUT/mgd.trace.gz ;;
	*) if [ $KIND = systemd ]; then systemctl stop "$(arm_unit)"; else [ -n "$pid" ] && kill "$pid"; fi ;;
	esac
}

# ---- recording -------------------------------------------------------------------------------------

# RSS, peak RSS and CPU time of the daemon right before it is stopped
daemon_snapshot() {
	local pid
	pid=$(cat $OUT/daemon.pid 2>/dev/null)
	[ -n "$pid" ] && [ "$pid" != 0 ] && [ -r /proc/$pid/status ] || return 0
	meta daemon_rss_kb "$(awk '/^VmRSS:/ {print $2}' /proc/$pid/status)"
	meta daemon_hwm_kb "$(awk '/^VmHWM:/ {print $2}' /proc/$pid/status)"
	meta daemon_cpu_ms "$(sed 's/.*) //' /proc/$pid/stat | awk -v hz="$(getconf CLK_TCK 2>/dev/null || echo 100)" '{print int(($12 + $13) * 1000 / hz)}')"
}

# "PID STATE CGROUP_FROZEN NAME" for every workload process still alive
final_state() {
	awk '$2 == "start" {pid = $3; $1 = $2 = $3 = $4 = ""; sub(/^ +/, ""); name[pid] = $0}
	     $2 == "exit" {delete name[$3]}
	     END {for (p in name) print p, name[p]}' $OUT/launcher.events |
	while read -r pid name; do
		[ -r /proc/$pid/stat ] || continue
		state=$(sed 's/.*) //' /proc/$pid/stat | cut -d' ' -f1)
		cg=$(sed -n 's/^0:://p' /proc/$pid/cgroup)
		frozen=0
		grep -q '^frozen 1' "/sys/fs/cgroup$cg/cgroup.events" 2>/dev/null && frozen=1
		echo "$pid $state $frozen $name"
	done
}

tell_mgd_foreground() {
	local pid
	[ $ARM = mgd ] || return 0
	wait_line $OUT/launcher.events ' start [0-9]+ [^ ]+ code$' 20 || return 0
	pid=$(awk '$2 == "start" && $5 == "code" {print $3; exit}' $OUT/launcher.events)
	# what a desktop plugin would report: the IDE's main window has the focus
	as_desk mgctl foreground "$pid" > $OUT/foreground.txt 2>&1
	meta foreground_pid "$pid"
}

# ---- the run -----------------------------------------------------------------------------------------

meta scenario $SCEN
meta arm $ARM
meta guest $KIND
meta seed $SEED
meta kernel "$(uname -r)"
meta cpus "$(grep -c ^processor /proc/cpuinfo)"
meta mem_total_kb "$(mem_total_kb)"
if [ $KIND = systemd ]; then
	wait_user_manager || die "user@$DESK_UID.service did not start"
	# Debian enables systemd-oomd; it is an arm here, not a bystander
	[ $ARM = oomd ] || systemctl stop systemd-oomd.service systemd-oomd.socket 2>/dev/null
fi
if [ "$SWAP_PCT" -gt 0 ]; then
	zram_on "$(($(mem_total_kb) * SWAP_PCT / 100))" || die "no zram swap"
fi
meta swap_total_kb "$(awk '/^SwapTotal:/ {print $2}' /proc/meminfo)"
meta vm_swappiness "$(cat /proc/sys/vm/swappiness)"
# how much slower this guest computes than the host (TCG): the same fixed loop timed on both
# (pressure_analysis.py scales mgd's decision bound by it)
meta cpu_calib_s "$(python3 /host/guest/calib.py 2>/dev/null || echo 0)"
mark boot-ready

arm_start
mark arm-started
"$BIN/mgw-sample" -o $OUT/samples.csv -i 250 -c "$(session_cgroup)" -l $OUT/launcher.events \
	-f $OUT/frozen.log -d $OUT/daemon.pid &
sampler=$!
sleep 2

mark launch
if [ $KIND = systemd ]; then
	"$BIN/mgw-desktop" -f /tmp/scenario.spec -b "$BIN" -e $OUT/launcher.events -r $OUT -s $SEED \
		-u $DESK_UID -S > $OUT/launcher.log 2>&1 &
else
	mkdir -p /sys/fs/cgroup/session
	echo "+memory +cpu +io +pids" > /sys/fs/cgroup/session/cgroup.subtree_control
	"$BIN/mgw-desktop" -f /tmp/scenario.spec -b "$BIN" -e $OUT/launcher.events -r $OUT -s $SEED \
		-u $DESK_UID -c /sys/fs/cgroup/session > $OUT/launcher.log 2>&1 &
fi
launcher=$!
tell_mgd_foreground

# how many of the scenario's own processes (END_NAMES) have ended
ended_count() {
	awk -v names=" $END_NAMES " '$2 == "exit" { n = $0; sub(/^[0-9]+ exit [0-9]+ [^ ]+ /, "", n)
	                                             if (index(names, " " n " ")) c++ } END { print c + 0 }' $OUT/launcher.events
}

t0=$(now_ms)
ended=0
while [ $((($(now_ms) - t0) / 1000)) -lt $END_MAX ]; do
	if [ "$(ended_count)" -ge "$END_COUNT" ]; then
		ended=1
		break
	fi
	sleep 1
done
mark "workload-end ended=$ended"

# calm: less than 10 ms of stall per second for 10 s in a row, and nothing held frozen
t1=$(now_ms)
quiet=0
prev=$(psi_total /proc/pressure/memory some)
while [ $quiet -lt 10 ] && [ $((($(now_ms) - t1) / 1000)) -lt $CALM_MAX ]; do
	sleep 1
	cur=$(psi_total /proc/pressure/memory some)
	frozen=$(tail -n 1 $OUT/samples.csv | cut -d, -f13)
	if [ $((cur - prev)) -lt 10000 ] && [ "${frozen:-0}" = 0 ]; then quiet=$((quiet + 1)); else quiet=0; fi
	prev=$cur
done
mark "calm quiet=$quiet"

final_state > $OUT/final.txt
daemon_snapshot
mark stop
arm_stop
kill -TERM $launcher
wait $launcher
kill -TERM $sampler
wait $sampler
mark stopped

cat /sys/block/zram0/mm_stat > $OUT/zram-mm_stat.txt 2>/dev/null
cp /proc/vmstat $OUT/vmstat.txt
if [ $KIND = systemd ]; then
	journalctl -b -o json --no-pager > $OUT/journal.json 2>/dev/null
	journalctl -b -k -o short-monotonic --no-pager > $OUT/kernel.txt 2>/dev/null
else
	dmesg > $OUT/kernel.txt
fi
zram_off
echo "scenario $SCEN arm $ARM: workload ended=$ended, calm after $((($(now_ms) - t1) / 1000)) s (quiet=$quiet)"
exit 0
