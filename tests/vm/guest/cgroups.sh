#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Runs in the systemd guest as root: mgd's cgroup actuators against the real kernel, with mgd as
# the desktop user's real service (the installed unit, ExecStopPost= included) and apps in their
# own app-*.scope of the user's manager. Only the pressure level is made up (fakepsi.py, through
# a drop-in that adds --pressure-root), so each level is reached when the script says.
. /host/guest/lib.sh
pass=0 fail=0
ok() { echo "PASS: $*"; pass=$((pass + 1)); }
ko() { echo "FAIL: $*"; fail=$((fail + 1)); }
check() { if eval "$2"; then ok "$1"; else ko "$1 ($3)"; fi; }

FAKE=/tmp/fakep
APPS=/sys/fs/cgroup/user.slice/user-$DESK_UID.slice/user@$DESK_UID.service/app.slice
level() { echo "$1 $2" > $FAKE/control; }
scope() { echo "$APPS/app-$1.scope"; }
val() { cat "$(scope "$1")/$2" 2>/dev/null; }
current_mib() { echo $(($(val "$1" memory.current) / 1048576)); }
wait_val() {    # NAME FILE VALUE SECONDS
	local i=0
	while [ $i -lt $(($4 * 4)) ]; do
		[ "$(val "$1" "$2")" = "$3" ] && return 0
		sleep 0.25
		i=$((i + 1))
	done
	return 1
}

# an app in its own scope, as the user; CPUWeight= makes the user manager enable the cpu
# controller for it (a desktop whose launcher does not leaves cpu.weight absent: mgd then skips it)
app() {         # UNIT NAME MIB PERIOD_MS
	as_desk systemd-run --user --quiet --scope --unit="app-$1" -p CPUWeight=100 \
		"$BIN/mgw-app" -n "$2" -m "$3" -p "$4" -w 64 -s 7 > /dev/null 2>&1 &
}

wait_user_manager || { ko "user@$DESK_UID.service did not start"; exit 1; }
cp -a /host/mgd-root/. /
zram_on 1048576 || ko "zram swap"
mkdir -p $FAKE && chmod 0755 $FAKE
level 0 8000000
python3 /host/guest/fakepsi.py $FAKE &
fake=$!

app mail thunderbird 40 1000
app tab "Isolated Web Co" 80 1000
app notif update-notifier 4 1000
app term konsole 20 1000
app files nautilus 64 3600000
# each scope within 30 s: systemd-run and the user manager are slow on a loaded TCG host
for a in mail tab notif term files; do
	i=0
	while [ ! -d "$(scope $a)" ] && [ $i -lt 120 ]; do sleep 0.25; i=$((i + 1)); done
	[ -d "$(scope $a)" ] || ko "no scope for $a after 30 s"
done
sleep 1
check "the apps' scopes have cpu.weight and memory.reclaim (controllers delegated)" \
	'[ -e "$(scope mail)/cpu.weight" ] && [ -e "$(scope tab)/memory.reclaim" ]' "$(ls $(scope mail) | tr '\n' ' ')"

install -d -o $DESK_USER -g $DESK_USER /home/$DESK_USER/.config/mgd /home/$DESK_USER/.config/systemd/user/mgd.service.d
cat > /home/$DESK_USER/.config/mgd/mgd.conf <<EOT
[defaults]
fast_tick = 500ms
calm_to_normal = 3s
calm_step = 1s
idle_reclaim_after = 20s
idle_reclaim_min_mb = 20
EOT
cat > /home/$DESK_USER/.config/systemd/user/mgd.service.d/test.conf <<EOT
[Service]
ExecStart=
ExecStart=$(command -v mgd) --pressure-root $FAKE
EOT
chown -R $DESK_USER:$DESK_USER /home/$DESK_USER/.config
as_desk systemctl --user daemon-reload
as_desk systemctl --user start mgd.service || ko "mgd.service did not start"
sleep 2
tab_before=$(current_mib tab)

# Elevated: background apps throttled; the expendable tab frozen, and reclaimed into zram
level 0.15 1000000
check "at Elevated a background app's cpu.weight is 10" 'wait_val mail cpu.weight 10 15' "$(val mail cpu.weight)"
check "protected work (konsole) keeps cpu.weight 100" '[ "$(val term cpu.weight)" = 100 ]' "$(val term cpu.weight)"
check "the tab is frozen in its cgroup" 'wait_line "$(scope tab)/cgroup.events" "^frozen 1" 10' \
	"$(cat "$(scope tab)/cgroup.events" 2>/dev/null | tr '\n' ' ')"
i=0
while [ $i -lt 40 ] && [ "$(current_mib tab)" -gt $((tab_before / 2)) ]; do sleep 0.5; i=$((i + 1)); done
check "the frozen tab's memory went to zram (memory.current $tab_before -> $(current_mib tab) MiB)" \
	'[ "$(current_mib tab)" -le $((tab_before / 2)) ]' "memory.current $(current_mib tab) MiB"

# a desktop plugin reports the focus on the session bus (what the KWin script and the GNOME
# Shell extension call): the focused tab is thawed and stays so; clearing it refreezes the tab
tabpid=$(head -n1 "$(scope tab)/cgroup.procs")
r=$(as_desk busctl --user call io.github.mgd /io/github/mgd io.github.mgd.Manager1 SetForeground i "$tabpid" 2>&1)
check "SetForeground on the session bus thaws the focused tab (reply: $r)" '[ "$r" = "b true" ]' "$r"
sleep 3
check "... which stays thawed while it has the focus" '! grep -q "^frozen 1" "$(scope tab)/cgroup.events"' \
	"$(cat "$(scope tab)/cgroup.events" | tr '\n' ' ')"
check "... and is mgd's foreground pid" 'as_desk mgctl status | grep -Eq "^foreground +$tabpid\$"' \
	"$(as_desk mgctl status 2>&1 | grep foreground)"
r=$(as_desk busctl --user call io.github.mgd /io/github/mgd io.github.mgd.Manager1 SetForeground i 0 2>&1)
check "clearing the focus (pid 0) lets mgd freeze the tab again" \
	'wait_line "$(scope tab)/cgroup.events" "^frozen 1" 10' "reply $r"

# High: the small expendable app gets a CPU quota and a memory cap
level 0.30 800000
check "at High the expendable app gets cpu.max 25000 100000" 'wait_val notif cpu.max "25000 100000" 15' \
	"$(val notif cpu.max)"
check "and memory.high at its usage" 'v=$(val notif memory.high); [ "$v" != max ] && [ "$v" -gt 0 ] 2>/dev/null' \
	"$(val notif memory.high)"
check "the kernel applies it (memory.high within its usage + 1 MiB)" \
	'[ $(($(val notif memory.high) - $(val notif memory.current))) -le 1048576 ]' \
	"high $(val notif memory.high) current $(val notif memory.current)"

# mgd dies hard: the unit's ExecStopPost= (mgd-thaw) writes every original back
level 0 8000000
as_desk systemctl --user kill -s KILL mgd.service
sleep 1.5
check "after kill -9, mgd-thaw restores cpu.weight" '[ "$(val mail cpu.weight)" = 100 ]' "$(val mail cpu.weight)"
check "... cpu.max and memory.high" '[ "$(val notif cpu.max)" = "max 100000" ] && [ "$(val notif memory.high)" = max ]' \
	"$(val notif cpu.max) / $(val notif memory.high)"
check "... and thaws the tab" '! grep -q "^frozen 1" "$(scope tab)/cgroup.events"' "$(cat "$(scope tab)/cgroup.events" | tr '\n' ' ')"
journalctl _SYSTEMD_USER_UNIT=mgd.service --no-pager -o cat 2>/dev/null | grep 'mgd-thaw' | head -5

# idle reclaim at Normal: the file manager wakes once an hour, so it is idle
wait_active() { local i=0; while [ $i -lt 40 ]; do [ "$(as_desk systemctl --user is-active mgd.service)" = active ] && return 0; sleep 0.25; i=$((i + 1)); done; return 1; }
check "mgd.service was restarted (Restart=on-failure)" 'wait_active' "$(as_desk systemctl --user is-active mgd.service)"
files_before=$(current_mib files)
i=0
while [ $i -lt 120 ] && [ "$(current_mib files)" -gt $((files_before * 9 / 10)) ]; do sleep 0.5; i=$((i + 1)); done
check "an idle background app is reclaimed at Normal ($files_before -> $(current_mib files) MiB)" \
	'[ "$(current_mib files)" -le $((files_before * 9 / 10)) ]' "memory.current $(current_mib files) MiB"
check "a busy background app is not (thunderbird wakes every second)" \
	'! journalctl _SYSTEMD_USER_UNIT=mgd.service --no-pager -o cat | grep -q "reclaim pid=.*thunderbird"' ""

# a clean stop at High with everything in force: mgd itself writes the originals back
level 0.30 800000
wait_val notif cpu.max "25000 100000" 15
as_desk systemctl --user stop mgd.service
check "a clean stop restores cpu.weight, cpu.max and memory.high" \
	'[ "$(val mail cpu.weight)" = 100 ] && [ "$(val notif cpu.max)" = "max 100000" ] && [ "$(val notif memory.high)" = max ]' \
	"$(val mail cpu.weight) $(val notif cpu.max) $(val notif memory.high)"
journalctl _SYSTEMD_USER_UNIT=mgd.service --no-pager -o cat 2>/dev/null | grep -E '^(throttle|quota|cap|reclaim|unthrottle|unquota|uncap) ' | head -20

kill $fake
zram_off
echo "cgroups: $pass passed, $fail failed"
[ $fail = 0 ]
