#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Build and install mgd, mgctl and the user unit for the current user, and enable the user
# service where a systemd user manager runs. Safe to re-run.
#
#   ./install.sh [--prefix DIR] [--deps] [--run] [--no-enable]
#   ./install.sh --privileged [--skip STEP]... [--user NAME]
#   ./install.sh --privileged --undo
#
#   --prefix DIR   where to install (default: ~/.local, or /usr/local when run as root)
#   --deps         install the build dependencies with apt-get first (needs root)
#   --run          afterwards, run mgd: through the user service where a user manager runs,
#                  otherwise in the foreground (Ctrl-C stops it and thaws whatever it froze)
#   --no-enable    do not enable the user service
#   --privileged   the opt-in grants (docs/PRIVSEP.md), each step independent, re-runnable:
#                  group  the mgd group, and NAME (default: you) added to it
#                  zram   the tmpfiles.d grant on /sys/block/zram*/compact
#                  helpers  root:mgd 0750 helpers; cap_sys_resource on the PSI helper,
#                           cap_sys_admin on the swap helper
#                  criu   root:mgd 0750 and cap_checkpoint_restore,cap_sys_ptrace on criu (a
#                         criu package update resets them: run this step again after upgrading)
#                  Prompts for sudo when not root. --undo removes all of it.
set -euo pipefail
cd "$(dirname "$0")"
top=$PWD

prefix=
deps=0 run=0 enable=1 privileged=0 undo=0 skip=" " target_user=${SUDO_USER:-$(id -un)}
while [ $# -gt 0 ]; do
        case "$1" in
        --prefix) prefix=$2; shift 2 ;;
        --prefix=*) prefix=${1#*=}; shift ;;
        --deps) deps=1; shift ;;
        --run) run=1; shift ;;
        --no-enable) enable=0; shift ;;
        --privileged) privileged=1; shift ;;
        --undo) undo=1; shift ;;
        --skip) skip+="$2 "; shift 2 ;;
        --user) target_user=$2; shift 2 ;;
        -h|--help) sed -n '4,27p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
        esac
done

if [ -z "$prefix" ]; then
        if [ "$(id -u)" -eq 0 ]; then prefix=/usr/local; else prefix=$HOME/.local; fi
fi

if [ $privileged = 1 ]; then
        exec bash "$top/units/privileged-setup.sh" "$prefix" "$undo" "$skip" "$target_user"
fi

if [ $deps = 1 ]; then
        bash tests/deps.sh --build-only
fi

build=$top/build-install
if [ -d "$build" ]; then
        meson setup --reconfigure "$build" --prefix="$prefix" -Dtests=disabled >/dev/null
else
        meson setup "$build" --prefix="$prefix" -Dtests=disabled >/dev/null
fi
ninja -C "$build" >/dev/null
meson install -C "$build" --quiet >/dev/null
echo "install.sh: installed mgd and mgctl into $prefix/bin"
case "${XDG_CURRENT_DESKTOP:-}" in
*KDE*) echo "install.sh: to tell mgd the focused window, enable the KWin script once:" \
            "kwriteconfig6 --file kwinrc --group Plugins --key mgd-foregroundEnabled true" \
            "&& qdbus org.kde.KWin /KWin reconfigure" ;;
*GNOME*) echo "install.sh: to tell mgd the focused window, enable the extension once (then log in again):" \
              "gnome-extensions enable mgd-foreground@io.github.mgd" ;;
esac

have_user_manager() {
        [ -n "${XDG_RUNTIME_DIR:-}" ] && systemctl --user show-environment >/dev/null 2>&1
}

if have_user_manager; then
        systemctl --user daemon-reload
        if [ $enable = 1 ]; then
                systemctl --user enable mgd.service >/dev/null 2>&1
                systemctl --user restart mgd.service
                echo "install.sh: mgd.service enabled and (re)started for $(id -un)"
        fi
else
        echo "install.sh: no systemd user manager here; mgd runs in the foreground with --run"
fi

if [ $run = 1 ]; then
        if have_user_manager; then
                sleep 1
                exec "$prefix/bin/mgctl" status
        fi
        # mgd refuses to start without a private runtime directory (its socket lives there)
        if [ -z "${XDG_RUNTIME_DIR:-}" ]; then
                export XDG_RUNTIME_DIR=/run/user/$(id -u)
                if [ ! -d "$XDG_RUNTIME_DIR" ]; then
                        mkdir -p -m 0700 "$XDG_RUNTIME_DIR" 2>/dev/null ||
                                export XDG_RUNTIME_DIR=$(mktemp -d /tmp/mgd-runtime.XXXXXX)
                fi
        fi
        echo "install.sh: running mgd in the foreground (Ctrl-C to stop)"
        exec "$prefix/bin/mgd" --verbose
fi
