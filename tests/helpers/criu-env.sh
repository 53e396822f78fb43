#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# criu-env.sh TEST [ARGS...]: run TEST with MGD_TEST_CRIU naming a criu that works on this kernel.
#
# The system's criu is used when `criu check` passes. Debian 12's criu 3.17 does not on kernels
# >= 6.13 ("vdso: Unexpected rt vDSO area bounds"); then Debian 13's criu 4.x is debootstrapped
# once into $MGD_CRIU_CACHE (default /var/cache/mgd-test/criu-trixie, about 40 s and 230 MB) and
# run with trixie's own loader and libraries directly on the host (a chroot cannot see the host's
# mounts). Exits 77 (skip) only when the kernel lacks checkpoint/restore.
set -eu

if [ ! -e /proc/sys/kernel/ns_last_pid ]; then
        echo "1..0 # SKIP kernel without CONFIG_CHECKPOINT_RESTORE"
        exit 77
fi
if [ -n "${MGD_TEST_CRIU:-}" ]; then
        exec "$@"
fi
for c in /usr/sbin/criu /usr/bin/criu; do
        if [ -x "$c" ] && "$c" check >/dev/null 2>&1; then
                MGD_TEST_CRIU=$c exec "$@"
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
MGD_TEST_CRIU=$cache/criu exec "$@"
