# SPDX-License-Identifier: GPL-2.0-only
# Runs INSIDE a test guest (busybox or systemd): are the ground truths the benchmark rests on
# really there? cgroup v2 with the memory/cpu/io/pids controllers, PSI, zram swap, real memory
# pressure from the hog, freeze and kill of a cgroup, and the instrument itself (launcher,
# sampler, probe) seeing what happened. In the systemd guest also: the lingering user's manager
# with delegated controllers, and app scopes made through it. Prints PASS/FAIL lines and
# "N passed, N failed"; the exit status is the number of failures (capped at 100).
. /host/guest/lib.sh
pass=0 fail=0
ok() { echo "PASS: $*"; pass=$((pass + 1)); }
ko() { echo "FAIL: $*"; fail=$((fail + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else ko "$what"; fi; }
OUT=/host/out
mkdir -p $OUT
KIND=$(guest_kind)
echo "guest $KIND, kernel $(uname -r), MemTotal $(mem_total_kb) kB"

# ---- cgroup v2 and PSI ---------------------------------------------------------------------
check "cgroup2 is mounted on /sys/fs/cgroup" grep -q ' /sys/fs/cgroup cgroup2 ' /proc/mounts
ctl=$(cat /sys/fs/cgroup/cgroup.subtree_control)
for c in memory cpu io pids; do
	if [ "$KIND" = systemd ] && [ $c = io ]; then
		# systemd enables io below the root only once a unit asks for it
		check "controller io available at the root" grep -qw io /sys/fs/cgroup/cgroup.controllers
	else
		check "controller $c enabled in the root's subtree_control ($ctl)" grep -qw $c /sys/fs/cgroup/cgroup.subtree_control
	fi
done
check "PSI: /proc/pressure/memory has some and full" \
	sh -c 'grep -q "^some avg10=" /proc/pressure/memory && grep -q "^full avg10=" /proc/pressure/memory'

T=/sys/fs/cgroup/mgdvm-basics
mkdir -p $T
missing=
for f in memory.max memory.high memory.swap.max memory.pressure memory.reclaim memory.events cpu.weight cpu.max \
	io.pressure pids.max cgroup.freeze cgroup.kill cgroup.events; do
	[ -e $T/$f ] || missing="$missing $f"
done
check "a child cgroup has the memory/cpu/io/pids files and freeze/kill${missing:+ (missing:$missing)}" [ -z "$missing" ]

# ---- zram swap ---------------------------------------------------------------------------------
zram_on 524288
check "zram swap is on" grep -q '^/dev/zram0 ' /proc/swaps

# ---- real pressure: the hog in a 96M cgroup, recorded by the sampler ------------------------------
echo 96M > $T/memory.max
"$BIN/mgw-sample" -o $OUT/basics-samples.csv -i 250 -c $T -t 60 &
sampler=$!
sleep 0.5
s0=$(psi_total $T/memory.pressure some)
(echo 0 > /proc/self/oom_score_adj; echo 0 > $T/cgroup.procs && exec "$BIN/mgw-hog" -q -m 240 -r 60 -H 60) &
hog=$!
i=0
while [ $i -lt 60 ]; do
	sleep 0.5
	i=$((i + 1))
	s1=$(psi_total $T/memory.pressure some)
	[ $((s1 - s0)) -ge 300000 ] && break
done
check "memory pressure rises under the hog: +$(((s1 - s0) / 1000)) ms of stall in $((i / 2)) s (need 300)" \
	[ $((s1 - s0)) -ge 300000 ]
zorig=$(cut -d' ' -f1 /sys/block/zram0/mm_stat 2>/dev/null)
check "zram holds the hog's pages (${zorig:-0} bytes)" [ "${zorig:-0}" -gt 0 ]

echo 1 > $T/cgroup.freeze
check "cgroup.freeze: the hog's cgroup reports frozen" wait_line $T/cgroup.events '^frozen 1' 5
f0=$(psi_total $T/memory.pressure some)
sleep 2
f1=$(psi_total $T/memory.pressure some)
check "no stall accrues while frozen (+$(((f1 - f0) / 1000)) ms in 2 s)" [ $((f1 - f0)) -lt 100000 ]
echo 0 > $T/cgroup.freeze
check "thawed again" wait_line $T/cgroup.events '^frozen 0' 5
echo 1 > $T/cgroup.kill
wait $hog
rc=$?
check "cgroup.kill ends the hog by SIGKILL (status $rc)" [ $rc = 137 ]
kill $sampler
wait $sampler
rows=$(($(wc -l < $OUT/basics-samples.csv) - 1))
check "the sampler recorded $rows rows with the cgroup's stall growing" \
	awk -F, 'NR == 2 {a = $6} END {exit !(NR > 8 && $6 > a)}' $OUT/basics-samples.csv
rmdir $T

# ---- the instrument: launcher events, freeze tracking, probe ------------------------------------
cat > /tmp/basics.spec <<'EOF'
0 1 kwin_wayland app -m 8 -p 10 -w 256 -o %R/basics-probe.txt
0 2 "Isolated Web Co" app -m 4 -p 200
0 1 baloo_file app -m 4 -p 200
EOF
if [ "$KIND" = systemd ]; then
	check "user@$DESK_UID.service is active (lingering user)" wait_user_manager
	U=$(session_cgroup)
	check "the user manager has memory delegated ($(cat $U/cgroup.controllers 2>/dev/null))" grep -qw memory $U/cgroup.controllers
	"$BIN/mgw-desktop" -f /tmp/basics.spec -b "$BIN" -e $OUT/basics-events -r $OUT -u $DESK_UID -S &
else
	mkdir -p /sys/fs/cgroup/session
	echo "+memory +cpu +io +pids" > /sys/fs/cgroup/session/cgroup.subtree_control
	"$BIN/mgw-desktop" -f /tmp/basics.spec -b "$BIN" -e $OUT/basics-events -r $OUT -c /sys/fs/cgroup/session &
fi
launcher=$!
"$BIN/mgw-sample" -o $OUT/basics-samples2.csv -i 100 -c "$(session_cgroup)" -l $OUT/basics-events \
	-f $OUT/basics-frozen.log -t 60 &
sampler=$!
wait_line $OUT/basics-events 'start .* baloo_file$' 10
sleep 2
tab=$(awk '$2 == "start" && $5 == "Isolated" {print $3; exit}' $OUT/basics-events)
baloo=$(awk '$2 == "start" && $5 == "baloo_file" {print $3; exit}' $OUT/basics-events)
cg=$(sed -n 's/^0:://p' /proc/$baloo/cgroup)
case $cg in */app-baloo_file-[0-9]*) ok "baloo_file runs in its own app cgroup ($cg)" ;; *) ko "baloo_file's cgroup is '$cg'" ;; esac
if [ "$KIND" = systemd ]; then
	case $cg in */user@$DESK_UID.service/app.slice/app-baloo_file-[0-9]*.scope) ok "an app scope of the user manager" ;;
	*) ko "not an app scope of user@$DESK_UID.service: $cg" ;; esac
	check "the app runs as uid $DESK_UID" grep -q "^Uid:[[:space:]]*$DESK_UID" /proc/$baloo/status
fi
kill -STOP $tab
echo 1 > /sys/fs/cgroup$cg/cgroup.freeze
sleep 1
kill -CONT $tab
echo 0 > /sys/fs/cgroup$cg/cgroup.freeze
sleep 1
kill -TERM $tab
sleep 1
check "the sampler saw the SIGSTOP of a tab" grep -q "frozen $tab sigstop Isolated Web Co" $OUT/basics-frozen.log
check "the sampler saw the cgroup freeze of baloo_file" grep -q "frozen $baloo cgroup baloo_file" $OUT/basics-frozen.log
check "the sampler saw both thawed" sh -c "grep -q 'thawed $tab ' $OUT/basics-frozen.log && grep -q 'thawed $baloo ' $OUT/basics-frozen.log"
check "the launcher recorded the tab's SIGTERM as signal:15" grep -q "exit $tab signal:15 Isolated Web Co" $OUT/basics-events
kill -TERM $launcher
wait $launcher
kill $sampler
wait $sampler
check "the probe wrote frames and a summary" grep -q '^S frames=[1-9]' $OUT/basics-probe.txt
check "a clean stop is not a kill (kwin_wayland exit:0)" grep -q 'exit [0-9]* exit:0 kwin_wayland' $OUT/basics-events

zram_off
echo "$pass passed, $fail failed"
[ $fail -gt 100 ] && fail=100
exit $fail
