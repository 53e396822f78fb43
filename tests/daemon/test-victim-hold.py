#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Integration: the one-victim hold, on the daemon's own behaviour. A real mgd at Critical (a
fixture pressure root: stall 60 %, MemAvailable below the target but steady, so only the level's
plan ends anyone, one victim at a time) with real expendable processes. After a kill, no second
destructive action comes until MemAvailable moves (a percent of RAM) or the settle time (3 s)
passes: read from the timestamps of mgd's action log. Then MemAvailable is raised right after a
victim exits, and the next one follows without waiting out the settle time.

usage: test-victim-hold.py BUILD_DIR
"""
import datetime
import glob
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from mgdtest import FakePressure, Mgd, Session, Tap, scratch, wait_for  # noqa: E402

CONFIG = """[defaults]
fast_tick = 200ms
slow_tick = 500ms
calm_to_normal = 3s
calm_step = 1s
term_grace = 1s
target_available_pct = 15
"""
GIB = 1024 * 1024
SETTLE = 3.0


def destructive(mgd):
    """(seconds of the day, pid) of every kill or terminate signalled, from the action log."""
    out = []
    for path in glob.glob(os.path.join(mgd.state, 'log', 'mgd-*.log')):
        for line in open(path):
            words = line.split()
            if len(words) > 2 and words[1] in ('kill', 'terminate') and 'result=signalled' in line:
                t = datetime.datetime.strptime(words[0], '%H:%M:%S.%f')
                out.append((t.hour * 3600 + t.minute * 60 + t.second + t.microsecond / 1e6,
                            int(words[2].split('=')[1])))
    return sorted(out)


def main():
    build = os.path.abspath(sys.argv[1])
    tap = Tap()
    tmp = scratch('mgd-hold-')
    fake = FakePressure(os.path.join(tmp, 'p'))
    sess = Session(os.path.join(build, 'tests', 'daemon', 'fakeproc'))
    mgd = None
    try:
        tabs = [sess.spawn('Web Content', 30) for _ in range(5)]
        mgd = Mgd(build, tmp, sess.name, fake.root, CONFIG)
        tap.ok(mgd.start(), 'mgd starts', mgd.text())
        avail = 2 * GIB         # 12.5 % of 16 GiB: under the target, steady
        fake.set(stall=0.6, avail_kb=avail)

        ok = wait_for(lambda: len(destructive(mgd)) >= 3, 20)
        d = destructive(mgd)
        gaps = [b[0] - a[0] for a, b in zip(d, d[1:])]
        tap.ok(ok, 'at Critical with MemAvailable steady, victims keep coming, one at a time',
               f'{d}\n' + mgd.text()[-2000:])
        tap.ok(gaps and all(g >= SETTLE - 0.1 for g in gaps[:2]),
               'with MemAvailable steady, each next victim waits out the settle time (3 s)',
               f'gaps {[round(g, 2) for g in gaps]}')
        tap.ok(all(g < SETTLE + 1.5 for g in gaps[:2]), '... and not much longer: the hold ends by time',
               f'gaps {[round(g, 2) for g in gaps]}')
        print(f'# gaps between victims, MemAvailable steady: {[round(g, 2) for g in gaps]} s', flush=True)
        holding = mgd.text().count('Holding back 1 destructive decision(s): the last victim has not settled')
        tap.ok(holding >= 5, 'mgd logs that it holds back while the last victim settles', f'{holding} lines')

        # MemAvailable moves by more than a percent of RAM right after a victim went: no waiting
        n = len(d)
        ok = wait_for(lambda: len(destructive(mgd)) > n, 6, step=0.02)
        last = destructive(mgd)[-1]
        victim = next((p for p in tabs if p.pid == last[1]), None)
        wait_for(lambda: victim is None or victim.poll() is not None, 3, step=0.02)
        avail += 200 * 1024     # 1.2 % of RAM, still under the target
        fake.set(avail_kb=avail)
        ok = wait_for(lambda: len(destructive(mgd)) > n + 1, 6, step=0.02) and ok
        d = destructive(mgd)
        gap = d[-1][0] - d[-2][0] if len(d) >= 2 else None
        print(f'# gap once MemAvailable moved: {gap and round(gap, 2)} s', flush=True)
        tap.ok(ok and gap is not None and gap < SETTLE - 0.5,
               'once MemAvailable has moved, the next victim does not wait out the settle time',
               f'gap {gap}, {d}\n' + mgd.text()[-1500:])
        tap.ok(len({pid for _, pid in d}) == len(d), 'no process is signalled twice', d)
        fake.set(stall=0.0, avail_kb=8 * GIB)
    finally:
        if mgd:
            mgd.stop()
        fake.close()
        sess.cleanup()
    return tap.done()


if __name__ == '__main__':
    sys.exit(main())
