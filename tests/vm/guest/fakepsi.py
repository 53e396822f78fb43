#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""A pressure root for mgd --pressure-root inside the guest: pressure/memory, meminfo and vmstat,
rewritten atomically every 100 ms, with the stall share and MemAvailable (KiB) read from
DIR/control ("STALL AVAIL_KB"). Everything else (the processes, their cgroups, the kernel's
cgroup files) is real: this only makes the pressure level deterministic.

usage: fakepsi.py DIR
"""
import os
import sys
import time

d = sys.argv[1]
os.makedirs(os.path.join(d, 'pressure'), exist_ok=True)
total = 16 * 1024 * 1024
some = full = 0


def atomic(name, text):
    p = os.path.join(d, name)
    with open(p + '.tmp', 'w') as f:
        f.write(text)
    os.chmod(p + '.tmp', 0o644)
    os.rename(p + '.tmp', p)


last = time.monotonic()
while True:
    try:
        stall, avail = open(os.path.join(d, 'control')).read().split()
        stall, avail = float(stall), int(avail)
    except (OSError, ValueError):
        stall, avail = 0.0, total // 2
    now = time.monotonic()
    some += int(stall * (now - last) * 1e6)
    full += int(stall * 0.8 * (now - last) * 1e6)
    last = now
    a = stall * 100
    atomic('pressure/memory', f'some avg10={a:.2f} avg60={a:.2f} avg300={a:.2f} total={some}\n'
           f'full avg10={a * .8:.2f} avg60={a * .8:.2f} avg300={a * .8:.2f} total={full}\n')
    atomic('meminfo', f'MemTotal: {total} kB\nMemFree: {avail // 2} kB\nMemAvailable: {avail} kB\n'
           f'Buffers: 0 kB\nCached: 0 kB\nSwapCached: 0 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n')
    atomic('vmstat', 'pgmajfault 0\npswpin 0\npswpout 0\n')
    time.sleep(0.1)
