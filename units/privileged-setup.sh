#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# The opt-in privileged setup of mgd (install.sh --privileged; docs/PRIVSEP.md "Installation").
# usage: privileged-setup.sh PREFIX UNDO(0|1) " skipped steps " USER
# Each step is independent and safe to re-run; a step that fails is reported and the others go on.
set -uo pipefail
prefix=$1 undo=$2 skip=$3 user=$4
libexec=$prefix/libexec/mgd
criu=${MGD_CRIU:-/usr/sbin/criu}
sudo=
if [ "$(id -u)" -ne 0 ]; then
        sudo=sudo
        echo "install.sh: the privileged setup needs root; asking sudo" >&2
        $sudo true || exit 1
fi
tmpfiles=/etc/tmpfiles.d/mgd.conf
sysusers=/etc/sysusers.d/mgd.conf
src=$(cd "$(dirname "$0")" && pwd)
failed=0

step() {        # step NAME DESCRIPTION: run unless skipped
        case "$skip" in *" $1 "*) echo "  skip: $2"; return 1 ;; esac
        echo "  $2"
        return 0
}
try() { "$@" || { echo "    failed: $*" >&2; failed=1; }; }
has_caps() { [ -n "$(getcap "$1" 2>/dev/null)" ]; }     # setcap -r fails on a file without any
in_group() { id -nG "$1" 2>/dev/null | tr ' ' '\n' | grep -qx "$2"; }

if [ "$undo" = 1 ]; then
        echo "install.sh: removing the privileged setup"
        if step criu "criu: drop its capabilities, back to root:root 0755"; then
                if [ -e "$criu" ]; then
                        has_caps "$criu" && try $sudo setcap -r "$criu"
                        try $sudo chown root:root "$criu"
                        try $sudo chmod 0755 "$criu"
                fi
        fi
        if step helpers "helpers: drop capabilities, back to root:root 0755"; then
                for h in "$libexec"/mgd-*-helper; do
                        [ -e "$h" ] || continue
                        has_caps "$h" && try $sudo setcap -r "$h"
                        try $sudo chown root:root "$h"
                        try $sudo chmod 0755 "$h"
                done
        fi
        if step zram "zram: remove the compact grant"; then
                try $sudo rm -f "$tmpfiles"
                for c in /sys/block/zram*/compact; do
                        [ -e "$c" ] && $sudo chown root:root "$c" && $sudo chmod 0200 "$c"
                done
        fi
        if step group "group: remove $user from mgd and the group"; then
                in_group "$user" mgd && try $sudo gpasswd -d "$user" mgd >/dev/null
                try $sudo rm -f "$sysusers"
                getent group mgd >/dev/null && try $sudo groupdel mgd
        fi
        exit $failed
fi

echo "install.sh: privileged setup for $user (prefix $prefix)"
if step group "group: mgd, with $user in it (effective at the next login)"; then
        try $sudo install -D -m 0644 "$src/mgd-sysusers.conf" "$sysusers"
        if command -v systemd-sysusers >/dev/null; then
                try $sudo systemd-sysusers "$sysusers"
        else
                getent group mgd >/dev/null || try $sudo groupadd -r mgd
        fi
        try $sudo usermod -aG mgd "$user"
fi
if step zram "zram: group-write grant on /sys/block/zram*/compact (tmpfiles.d)"; then
        try $sudo install -D -m 0644 "$src/mgd-tmpfiles.conf" "$tmpfiles"
        try $sudo systemd-tmpfiles --create "$tmpfiles"
fi
if step helpers "helpers: root:mgd 0750; cap_sys_resource on mgd-psi-helper, cap_sys_admin on mgd-swap-helper"; then
        for h in "$libexec"/mgd-*-helper; do
                [ -e "$h" ] || { echo "    no helpers in $libexec: run ./install.sh first" >&2; failed=1; break; }
                try $sudo chown root:mgd "$h"
                try $sudo chmod 0750 "$h"
        done
        [ -e "$libexec/mgd-psi-helper" ] && try $sudo setcap cap_sys_resource+ep "$libexec/mgd-psi-helper"
        [ -e "$libexec/mgd-swap-helper" ] && try $sudo setcap cap_sys_admin+ep "$libexec/mgd-swap-helper"
fi
if step criu "criu: root:mgd 0750, cap_checkpoint_restore,cap_sys_ptrace on $criu (re-run after a criu update)"; then
        if [ -x "$criu" ]; then
                # chown drops file capabilities: owner and mode first, then setcap
                try $sudo chown root:mgd "$criu"
                try $sudo chmod 0750 "$criu"
                try $sudo setcap cap_checkpoint_restore,cap_sys_ptrace+ep "$criu"
        else
                echo "    $criu not found: apt-get install criu, then run this step again" >&2
                failed=1
        fi
fi
[ $failed = 0 ] && echo "install.sh: done; log out and in so $user's new group takes effect"
exit $failed
