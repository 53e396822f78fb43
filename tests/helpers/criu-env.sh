#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# criu-env.sh TEST [ARGS...]: run TEST with MGD_TEST_CRIU naming a criu that works on this kernel.
#
# The system's criu is used when `criu check` passes. Debian 12's criu 3.17 does not on kernels
# >= 6.13 ("vdso: Unexpected rt vDSO area bounds"); then Debian 13's criu 4.x is debootstrapped
# once into $MGD_CRIU_CACHE (default /var/cache/mgd-test/criu-trixie, about 40 s and 230 MB) and
# run with trixie's own loader and libraries directly on the host (a chroot cannot see the host's
# mounts). Exits 77 (skip) only when the kernel lacks checkpoint/restore. Then it probes a real
# dump and restore (probe_and_exec below) before it runs TEST.
set -eu

if [ ! -e /proc/sys/kernel/ns_last_pid ]; then
        echo "1..0 # SKIP kernel without CONFIG_CHECKPOINT_RESTORE"
        exit 77
fi

# criu_try CRIU DIR PID ARGS...: dump PID, then restore it, as criu is run with ARGS in front (a
# wrapper such as setpriv); 0 if both worked in time. Prints what failed and criu's last errors.
criu_try() {
        c=$1 d=$2 p=$3
        shift 3
        mkdir -p "$d"
        t0=$(date +%s%N)
        if ! "$@" timeout -s KILL 60 "$c" dump --images-dir "$d" --log-file dump.log --shell-job \
                        $extra --tree "$p" >/dev/null 2>&1; then
                echo "dump failed after $((($(date +%s%N) - t0) / 1000000)) ms: $(grep -h Error "$d/dump.log" 2>/dev/null | tail -n 2 | tr '\n' ' ')"
                return 1
        fi
        t1=$(date +%s%N)
        # the dumped process is a zombie until PID 1 reaps it; the restore needs its pid
        i=0
        while [ -e "/proc/$p" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
        t2=$(date +%s%N)
        if ! "$@" timeout -s KILL 60 "$c" restore --images-dir "$d" --log-file restore.log --shell-job \
                        $extra --restore-detached >/dev/null 2>&1; then
                echo "restore failed after $((($(date +%s%N) - t2) / 1000000)) ms (dump took $(((t1 - t0) / 1000000)) ms): $(grep -h Error "$d/restore.log" 2>/dev/null | tail -n 2 | tr '\n' ' ')"
                return 1
        fi
        echo "dump $(((t1 - t0) / 1000000)) ms, restore $((($(date +%s%N) - t2) / 1000000)) ms"
        kill -KILL "$p" 2>/dev/null
        return 0
}

# A sleeper as an unprivileged app would be: its own session, parented by PID 1 (which reaps it
# after the dump), no capabilities and no_new_privs (as the tests' own apps: criu then leaves this
# host's reduced bounding set alone on restore).
sleeper() {
        setsid -f python3 -c '
import ctypes, os, sys, time
os.closerange(3, 1 << 16)                                               # nothing inherited: no locks, no sockets
libc = ctypes.CDLL(None, use_errno=True)
libc.prctl(38, 1, 0, 0, 0)                                              # PR_SET_NO_NEW_PRIVS
hdr, data = (ctypes.c_uint32 * 2)(0x20080522, 0), (ctypes.c_uint32 * 6)()  # _LINUX_CAPABILITY_VERSION_3
libc.capset(hdr, data)
open(sys.argv[1], "w").write(str(os.getpid()))
time.sleep(600)' "$1" </dev/null >/dev/null 2>&1
        i=0
        while [ ! -s "$1" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
        cat "$1"
}

# Before the test: can this host checkpoint at all, and can it under the checkpoint helper's own
# conditions (criu's bounding set cut to its two capabilities, an empty environment,
# --unprivileged)? A host whose criu cannot dump and restore a sleeper from a shell cannot run
# the test: MGD_TEST_CRIU_UNUSABLE carries the reason and the checkpoint cases skip with it. A host
# where the shell works and the helper's conditions do not is mgd's problem: the test runs, and
# fails, with the probe's finding in its log.
probe_and_exec() {
        work=$(mktemp -d)
        trap 'rm -rf "$work"' EXIT
        extra=
        # where hardware breakpoints never fire (this Firecracker VM kind), criu waits for its
        # parasite's trap forever; the checkpoint helper then runs it with CRIU_FAULT=130, and so
        # do the probes (a helper that did not would time out in the test, and fail it)
        nobp=
        if [ -n "${MGD_TEST_HWBP_PROBE:-}" ] && [ "$("$MGD_TEST_HWBP_PROBE")" = 0 ]; then
                nobp=CRIU_FAULT=130
                echo "criu-env: hardware breakpoints do not fire on this host: criu runs with $nobp" >&2
        fi
        p=$(sleeper "$work/p1")
        if plain=$(criu_try "$MGD_TEST_CRIU" "$work/plain" "$p" env $nobp); then
                echo "criu-env: $MGD_TEST_CRIU from a shell: $plain" >&2
                p=$(sleeper "$work/p2")
                extra=--unprivileged
                if helper=$(criu_try "$MGD_TEST_CRIU" "$work/helper" "$p" \
                                setpriv --bounding-set=-all,+checkpoint_restore,+sys_ptrace env -i $nobp); then
                        echo "criu-env: under the checkpoint helper's conditions: $helper" >&2
                else
                        echo "criu-env: criu works from a shell but not under the checkpoint helper's" \
                             "conditions (bounding set, empty environment, --unprivileged): $helper" >&2
                fi
        else
                MGD_TEST_CRIU_UNUSABLE="$MGD_TEST_CRIU cannot checkpoint a sleeper on this host ($plain)"
                export MGD_TEST_CRIU_UNUSABLE
                echo "criu-env: $MGD_TEST_CRIU_UNUSABLE" >&2
        fi
        kill -KILL "$p" 2>/dev/null
        rm -rf "$work"
        trap - EXIT
        export MGD_TEST_CRIU
        exec "$@"
}

if [ -n "${MGD_TEST_CRIU:-}" ]; then
        probe_and_exec "$@"
fi
for c in /usr/sbin/criu /usr/bin/criu; do
        if [ -x "$c" ] && "$c" check >/dev/null 2>&1; then
                MGD_TEST_CRIU=$c probe_and_exec "$@"
        fi
done

cache=${MGD_CRIU_CACHE:-/var/cache/mgd-test/criu-trixie}
mkdir -p "$(dirname "$cache")"
(
        # one debootstrap at a time, and only once per cache
        flock 9
        if [ ! -x "$cache/usr/sbin/criu" ]; then
                command -v debootstrap >/dev/null || { echo "criu-env: debootstrap is not installed" >&2; exit 1; }
                mirror=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null |
                         grep -v security | head -n 1)
                [ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $0 !~ /security/ { print $2; exit }' \
                                             /etc/apt/sources.list 2>/dev/null)
                echo "criu-env: debootstrapping trixie's criu into $cache from ${mirror:-the default mirror}" >&2
                rm -rf "$cache.tmp"
                debootstrap --variant=minbase --include=criu trixie "$cache.tmp" ${mirror:+"$mirror"} \
                        >"$cache.log" 2>&1 || { tail -n 30 "$cache.log" >&2; exit 1; }
                rm -rf "$cache"
                mv "$cache.tmp" "$cache"
        fi
        cat > "$cache/criu" <<EOW
#!/bin/sh
exec $cache/lib64/ld-linux-x86-64.so.2 --library-path $cache/lib/x86_64-linux-gnu:$cache/usr/lib/x86_64-linux-gnu $cache/usr/sbin/criu "\$@"
EOW
        chmod 0755 "$cache/criu"
) 9>"$cache.lock"
"$cache/criu" check >/dev/null 2>&1 || { echo "criu-env: $cache/criu check failed" >&2; "$cache/criu" check >&2 || true; exit 1; }
MGD_TEST_CRIU=$cache/criu probe_and_exec "$@"
