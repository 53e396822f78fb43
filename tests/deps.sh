#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Install what building and testing mgd needs, from Debian's apt only. Idempotent and quiet:
# apt-get runs only when something is missing.
set -euo pipefail

build_pkgs=(meson ninja-build pkg-config gcc libc6-dev python3
            libcap-dev libseccomp-dev libsystemd-dev libinih-dev scdoc)
test_pkgs=(check procps util-linux libcap2-bin systemd passwd e2fsprogs zsh fish bash-completion
           qemu-system-x86 busybox-static cpio debootstrap gnuplot-nox earlyoom)

want=("${build_pkgs[@]}")
[ "${1:-}" = "--build-only" ] || want+=("${test_pkgs[@]}")

missing=()
for p in "${want[@]}"; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
        echo "deps: missing packages: ${missing[*]}; run as root or: sudo apt-get install ${missing[*]}" >&2
        exit 1
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
