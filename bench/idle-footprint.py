#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Idle footprint, side by side in one run: mgd against earlyoom (Debian's package, --dryrun).

Starts N extra sleeping processes inside a cgroup2 directory that mgd treats as its session,
runs mgd and `earlyoom --dryrun` together for DURATION seconds of idle time, and reports
VmRSS and Pss (after a few seconds and at the end) and CPU time as a percentage of one core.

usage: bench/idle-footprint.py BUILD_DIR [DURATION=600] [N=500]
"""
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests', 'lib'))
from mgdtest import Mgd, Session, scratch, wait_for  # noqa: E402

TICK = os.sysconf('SC_CLK_TCK')


def mem(pid):
    rss = pss = None
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                rss = int(line.split()[1])
    with open(f'/proc/{pid}/smaps_rollup') as f:
        for line in f:
            if line.startswith('Pss:'):
                pss = int(line.split()[1])
    return rss, pss


def cpu_ticks(pid):
    with open(f'/proc/{pid}/stat') as f:
        s = f.read()
    fields = s[s.rindex(')') + 2:].split()
    return int(fields[11]) + int(fields[12])


def main():
    build = os.path.abspath(sys.argv[1])
    duration = float(sys.argv[2]) if len(sys.argv) > 2 else 600
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 500
    earlyoom = shutil.which('earlyoom')
    if not earlyoom:
        subprocess.run(['apt-get', 'install', '-y', '-qq', '--no-install-recommends', 'earlyoom'],
                       check=True, capture_output=True)
        earlyoom = shutil.which('earlyoom')
    tmp = scratch('mgd-bench-')
    sess = Session(os.path.join(build, 'tests', 'daemon', 'fakeproc'))
    sleepers = []
    mgd = eo = None
    try:
        for i in range(n):
            def enter():
                with open(os.path.join(sess.dir, 'cgroup.procs'), 'w') as f:
                    f.write('0')
            sleepers.append(subprocess.Popen(['sleep', str(int(duration) + 120)], preexec_fn=enter))
        mgd = Mgd(build, tmp, sess.name, None, '[defaults]\n')
        mgd.args = [a for a in mgd.args if a not in ('-v', '--no-mlock')]
        if not mgd.start():
            print(mgd.text())
            return 1
        eo = subprocess.Popen([earlyoom, '--dryrun', '-r', '3600'], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
        time.sleep(5)
        m0, e0 = mem(mgd.p.pid), mem(eo.pid)
        c0m, c0e, t0 = cpu_ticks(mgd.p.pid), cpu_ticks(eo.pid), time.monotonic()
        time.sleep(duration)
        m1, e1 = mem(mgd.p.pid), mem(eo.pid)
        dm, de, dt = cpu_ticks(mgd.p.pid) - c0m, cpu_ticks(eo.pid) - c0e, time.monotonic() - t0
        print(f'# idle {dt:.0f} s with {n} extra processes, kernel {os.uname().release}')
        print('| daemon | VmRSS kB (5 s) | Pss kB (5 s) | VmRSS kB (end) | Pss kB (end) | CPU s | % of a core |')
        print('| --- | --- | --- | --- | --- | --- | --- |')
        for name, a, b, d in (('mgd', m0, m1, dm), ('earlyoom --dryrun', e0, e1, de)):
            print(f'| {name} | {a[0]} | {a[1]} | {b[0]} | {b[1]} | {d / TICK:.2f} | {100 * d / TICK / dt:.4f} |')
        print(f'ratio mgd/earlyoom: VmRSS {m1[0] / e1[0]:.2f}, Pss {m1[1] / e1[1]:.2f}')
        # real PSI: memory pressure from anything else on the machine makes this no idle run
        changes = [l for l in mgd.text().splitlines() if 'Pressure level' in l]
        print(f'pressure level changes during the run: {len(changes)}' +
              (' (NOT an idle run: something else made memory pressure)' if changes else ''))
    finally:
        if eo:
            eo.terminate()
            eo.wait()
        if mgd:
            mgd.stop()
        for p in sleepers:
            p.kill()
            p.wait()
        sess.cleanup()
    return 0


if __name__ == '__main__':
    sys.exit(main())
