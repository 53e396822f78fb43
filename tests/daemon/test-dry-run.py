#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Integration: mgd --dry-run through an incident changes nothing. Real processes (one alone in a
real cgroup2 scope of the test's own), a fixture pressure root driven from calm through Elevated,
High and Critical back to calm, and a fixture cgroup tree (--cgroup2-root) standing in for every
file the cgroup actuators and the freezer could write. Every process keeps running (sampled all
along, never stopped, never killed), every fixture file keeps its content and its mtime, the real
scope is never frozen, no registry or cgroup state file is written, and the log holds each
decision as "would ...".

usage: test-dry-run.py BUILD_DIR
"""
import os
import re
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from mgdtest import FakePressure, Mgd, Session, Tap, cgroup_frozen, proc_state, scratch, wait_for  # noqa: E402

CONFIG = """[defaults]
fast_tick = 200ms
slow_tick = 500ms
calm_to_normal = 2s
calm_step = 1s
thaw_min_frozen = 1s
term_grace = 1s
target_available_pct = 15
idle_reclaim_after = 10s
idle_reclaim_min_mb = 10
"""
GIB = 1024 * 1024
CURRENT = 40 * 1024 * 1024
FILES = {'cpu.weight': '100\n', 'cpu.max': 'max 100000\n', 'memory.high': 'max\n',
         'memory.current': f'{CURRENT}\n', 'memory.reclaim': '', 'cgroup.freeze': '0\n',
         'cgroup.events': 'populated 1\nfrozen 0\n', 'cpu.stat': 'usage_usec 1000\nuser_usec 500\n'}


def snapshot(root):
    """Every file below root: its content and mtime."""
    out = {}
    for d, _, names in os.walk(root):
        for n in names:
            p = os.path.join(d, n)
            with open(p) as f:
                out[p] = (f.read(), os.stat(p).st_mtime_ns)
    return out


class Watch:
    """Samples every process's state every 50 ms while the test runs."""

    def __init__(self, procs, scope):
        self.procs = procs
        self.scope = scope
        self.bad = []
        self.stop = False
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while not self.stop:
            for p in self.procs:
                st = proc_state(p.pid)
                if st not in ('S', 'R', 'D'):
                    self.bad.append(f'{p.comm} pid {p.pid} state {st}')
            if cgroup_frozen(self.scope):
                self.bad.append(f'{self.scope} frozen')
            time.sleep(0.05)

    def close(self):
        self.stop = True
        self.t.join()


def fake_scope(tree, sess, p, extra_pids=()):
    d = tree + p.cgroup[len(sess.root):]
    os.makedirs(d, exist_ok=True)
    for name, text in FILES.items():
        with open(os.path.join(d, name), 'w') as f:
            f.write(text)
    with open(os.path.join(d, 'cgroup.procs'), 'w') as f:
        f.write(''.join(f'{pid}\n' for pid in (p.pid, *extra_pids)))


def would(mgd, action):
    return [l for l in mgd.text().splitlines() if f'action: would {action} ' in l]


def main():
    build = os.path.abspath(sys.argv[1])
    tap = Tap()
    tmp = scratch('mgd-dryrun-')
    fake = FakePressure(os.path.join(tmp, 'p'))
    sess = Session(os.path.join(build, 'tests', 'daemon', 'fakeproc'))
    tree = os.path.join(tmp, 'cg')
    mgd = watch = None
    try:
        mail = sess.spawn('thunderbird', 20, scope='app-mail.scope')          # 50: background
        notifier = sess.spawn('update-notifier', 4, scope='app-notif.scope')   # 70, too small to freeze
        tab = sess.spawn('Web Content', 24, scope='app-firefox-tab-1.scope')   # 80, alone in its scope
        others = [sess.spawn('Isolated Web Co', 30), sess.spawn('baloo_file', 30), sess.spawn('kwin_wayland', 20)]
        hog = sess.spawn('node', 20, grow=60, maxmib=500)
        everyone = [mail, notifier, tab, hog] + others
        for p in (mail, notifier, tab):
            fake_scope(tree, sess, p)
        os.makedirs(tree + sess.dir[len(sess.root):], exist_ok=True)
        before = snapshot(tree)

        mgd = Mgd(build, tmp, sess.name, fake.root, CONFIG, extra=['--dry-run', '--cgroup2-root', tree])
        tap.ok(mgd.start(), 'mgd --dry-run starts', mgd.text())
        watch = Watch(everyone, tab.cgroup)
        r = mgd.mgctl('status')
        tap.ok(r.returncode == 0 and re.search(r'^dry_run +yes$', r.stdout, re.M), 'mgctl status says dry_run yes',
               r.stdout + r.stderr)

        # calm: idle background apps would be reclaimed
        ok = wait_for(lambda: any('reason=idle' in l for l in would(mgd, 'reclaim')), 30)
        tap.ok(ok, 'at Normal the idle reclaim is decided and logged as "would reclaim"', mgd.text()[-1500:])

        fake.set(stall=0.15, avail_kb=1 * GIB)
        ok = wait_for(lambda: would(mgd, 'freeze') and would(mgd, 'throttle'), 10)
        tap.ok(ok, 'at Elevated the freezes and the CPU throttling are logged as "would ..."', mgd.text()[-2000:])
        fake.set(stall=0.30, avail_kb=int(0.8 * GIB))
        ok = wait_for(lambda: would(mgd, 'cap') and would(mgd, 'quota'), 10)
        tap.ok(ok, 'at High the memory cap and the CPU quota are logged as "would ..."', mgd.text()[-2000:])
        r = mgd.mgctl('list')
        tap.ok(r.returncode == 0 and str(hog.pid) in r.stdout, 'mgctl list shows what mgd would hold',
               r.stdout + r.stderr)
        fake.set(stall=0.6, avail_kb=int(0.4 * GIB))
        ok = wait_for(lambda: would(mgd, 'kill') or would(mgd, 'terminate'), 15)
        tap.ok(ok, 'at Critical the kill is logged as "would ..."', mgd.text()[-3000:])
        destructive = would(mgd, 'kill') + would(mgd, 'terminate')
        tap.ok(destructive and not any(f'pid={others[2].pid} ' in l for l in mgd.text().splitlines()
                                       if 'action: would ' in l),
               'the compositor is in no decision', '\n'.join(destructive))

        fake.set(stall=0.0, avail_kb=8 * GIB)
        ok = wait_for(lambda: would(mgd, 'thaw') and would(mgd, 'uncap') and would(mgd, 'unthrottle'), 20)
        tap.ok(ok, 'on calm the thaws and the undos are logged as "would ..."', mgd.text()[-3000:])
        done = [a for a in mgd.actions() if not a['line'].startswith('would ')]
        tap.ok(not done, 'no action record says it was done', '\n'.join(a['line'] for a in done))
        tap.ok(all('result=dry-run' in l for l in mgd.text().splitlines() if 'action: would ' in l),
               'every "would" record has result=dry-run')
        rc = mgd.stop()
        tap.ok(rc == 0, 'mgd --dry-run exits cleanly', f'rc={rc}')
        watch.close()
        tap.ok(not watch.bad, 'no process was ever stopped or killed, the real scope never frozen',
               '\n'.join(sorted(set(watch.bad))[:20]))
        tap.ok(all(p.poll() is None for p in everyone), 'every process still runs',
               ' '.join(f'{p.comm}={p.poll()}' for p in everyone))
        after = snapshot(tree)
        changed = [p for p in before if after.get(p) != before[p]] + [p for p in after if p not in before]
        tap.ok(not changed, 'every cgroup file mgd could write is unchanged (content and mtime)',
               '\n'.join(f'{p}: {before.get(p)} -> {after.get(p)}' for p in changed))
        left = [n for n in ('registry', 'cgroups') if os.path.exists(os.path.join(mgd.state, n))]
        tap.ok(not left, 'no registry or cgroup state file is written', ' '.join(left))
    finally:
        if watch:
            watch.close()
        if mgd:
            mgd.stop()
        fake.close()
        sess.cleanup()
    return tap.done()


if __name__ == '__main__':
    sys.exit(main())
