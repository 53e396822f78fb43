#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# A 'vm' suite test: boots a fresh guest, runs one guest script in it and turns its PASS/FAIL
# lines into TAP on stdout (the guest's console goes to stderr, i.e. the test log).
#
#   vm-test.sh basics busybox|systemd WORKLOADS_DIR
#   vm-test.sh incident MGD_BUILD_DIR WORKLOADS_DIR      the short incident scenario with mgd
#   vm-test.sh psi-helper|cgroups MGD_BUILD_DIR WORKLOADS_DIR   tests/vm/guest/MODE.sh with mgd
#   vm-test.sh privileged MGD_BUILD_DIR WORKLOADS_DIR    install.sh --privileged/--undo, then mgd
#                                                        as the user service with the grants
#   vm-test.sh matrix NAME MGD_BUILD_DIR WORKLOADS_DIR   a scenario of the matrix (scenario_matrix.py)
#                                                        with mgd, its invariants checked on the host
#
# Needs root (qemu, the cache in /var/cache/mgd-vm). MGD_VM_KEEP=1 keeps the share (results,
# console log) and prints where it is.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mode=${1:?usage: vm-test.sh basics GUEST WORKLOADS | incident MGD_BUILD WORKLOADS}

share=$(mktemp -d /tmp/mgdvm-test.XXXXXX)
chmod 0755 "$share"
cleanup() { if [ "${MGD_VM_KEEP:-0}" = 1 ]; then echo "# share kept: $share" >&2; else rm -rf "$share"; fi; }
trap cleanup EXIT

case $mode in
basics)
        guest=${2:?guest}; wl=${3:?workloads dir}
        "$here/mgd-vm" share "$share" "$wl" >&2 || { echo "1..1"; echo "not ok 1 - lay out the share"; exit 1; }
        echo 'sh /host/guest/basics.sh' > "$share/run.sh"
        boot=("$guest" --mem 1024 --timeout 600)
        ;;
psi-helper|cgroups)
        build=${2:?mgd build dir}; wl=${3:?workloads dir}
        "$here/mgd-vm" share "$share" "$wl" --mgd "$build" >&2 ||
                { echo "1..1"; echo "not ok 1 - install mgd from $build into the share"; exit 1; }
        echo "sh /host/guest/$mode.sh" > "$share/run.sh"
        boot=(systemd --mem 1024 --timeout 600)
        ;;
privileged)
        build=${2:?mgd build dir}; wl=${3:?workloads dir}
        "$here/mgd-vm" share "$share" "$wl" --mgd "$build" >&2 ||
                { echo "1..1"; echo "not ok 1 - install mgd from $build into the share"; exit 1; }
        # what install.sh --privileged runs, from this source tree
        mkdir -p "$share/src/units"
        cp "$here/../../install.sh" "$share/src/"
        cp "$here/../../units/privileged-setup.sh" "$here/../../units/mgd-sysusers.conf" \
                "$here/../../units/mgd-tmpfiles.conf" "$share/src/units/"
        echo 'sh /host/guest/privileged.sh' > "$share/run.sh"
        boot=(systemd --mem 1024 --timeout 420)
        ;;
incident)
        build=${2:?mgd build dir}; wl=${3:?workloads dir}; guest=systemd
        "$here/mgd-vm" share "$share" "$wl" --mgd "$build" >&2 ||
                { echo "1..1"; echo "not ok 1 - install mgd from $build into the share"; exit 1; }
        cat > "$share/run.sh" <<EOT
MGDVM_PRIVILEGED=${MGDVM_PRIVILEGED:-0} MGDVM_SCENARIO=incident-short MGDVM_ARM=mgd sh /host/guest/scenario.sh
EOT
        boot=(systemd --mem 1024 --timeout 840)
        ;;
matrix)
        scen=${2:?scenario name}; build=${3:?mgd build dir}; wl=${4:?workloads dir}
        "$here/mgd-vm" share "$share" "$wl" --mgd "$build" >&2 ||
                { echo "1..1"; echo "not ok 1 - install mgd from $build into the share"; exit 1; }
        "$here/scenario_matrix.py" spec "$scen" > "$share/scenario.spec" &&
                "$here/scenario_matrix.py" env "$scen" > "$share/scenario.env" ||
                { echo "1..1"; echo "not ok 1 - generate the scenario $scen"; exit 1; }
        . "$share/scenario.env"
        { sed 's/^/export /' "$share/scenario.env"
          echo "MGDVM_TRACE=1 MGDVM_SCENARIO=$scen MGDVM_ARM=mgd MGDVM_MGD_CONF=bench sh /host/guest/scenario.sh"; } > "$share/run.sh"
        boot=(systemd --mem "$MGDVM_MEM_MIB" --timeout $((MGDVM_END_MAX + MGDVM_CALM_MAX + 240)))
        ;;
*)
        echo "usage: vm-test.sh basics GUEST WORKLOADS | incident MGD_BUILD WORKLOADS" >&2
        exit 2
        ;;
esac

"$here/mgd-vm" boot "${boot[0]}" "$share" "${boot[@]:1}" --log "$share/console.log" >&2
rc=$?

n=0 failed=0 arc=0
tap() { n=$((n + 1)); echo "$1 $n - $2"; [ "$1" = ok ] || failed=$((failed + 1)); }
if [ $mode = incident ] && [ $rc = 0 ]; then
        # the verdict on mgd's run comes from the host-side analysis of what the guest recorded
        python3 "$here/pressure_analysis.py" --check-mgd "$share/out" > "$share/checks.txt"
        arc=$?
        cat "$share/checks.txt" >&2
elif [ $mode = matrix ] && [ $rc = 0 ]; then
        # the matrix's invariants: who was signalled by anyone, inversions, the kernel's OOM kills,
        # what stayed frozen, mgd's decision latency
        python3 "$here/pressure_analysis.py" --check-invariants "$share/out" > "$share/checks.txt"
        arc=$?
        cat "$share/checks.txt" >&2
fi
while IFS= read -r line; do
        case $line in
        PASS:\ *) tap ok "${line#PASS: }" ;;
        METRIC\ *) echo "# ${line}" ;;
        FAIL:\ *) tap "not ok" "${line#FAIL: }" ;;
        esac
done < <(cat "$share/console.log" "$share/checks.txt" 2>/dev/null)
case $rc in
0) ;;
124) tap "not ok" "the guest timed out" ;;
125) tap "not ok" "the guest died without a result (see the console log above)" ;;
*) [ $failed -gt 0 ] || tap "not ok" "the guest script ended with status $rc" ;;
esac
[ $arc -le 1 ] || tap "not ok" "the analysis of the guest's records failed (status $arc, see above)"
[ $n -gt 0 ] || tap "not ok" "the guest reported no checks"
echo "1..$n"
[ $failed = 0 ]
