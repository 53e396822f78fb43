#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Integration: the cgroup actuators' bookkeeping with a real mgd and real processes in their own
cgroup2 scopes, against a fixture cgroup tree (--cgroup2-root) of plain files standing in for
cpu.weight, cpu.max, memory.high, memory.current, memory.reclaim, cpu.stat and cgroup.procs: this
host's cgroup2 has no cpu or memory controller. What the kernel does with those values is proven
in the qemu guest (tests/vm, the cgroups check); here: which cgroup gets which value at which
level, that originals come back (mgd itself, a restart after kill -9, mgd-thaw), that a cgroup
holding a process mgd does not manage is never touched, and idle reclaim at Normal.

usage: test-cgroups.py BUILD_DIR
"""
import os
import re
import signal
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from mgdtest import FakePressure, Mgd, Session, Tap, scratch, wait_for  # noqa: E402

CONFIG = """[defaults]
fast_tick = 200ms
slow_tick = 500ms
calm_to_normal = 2s
calm_step = 1s
target_available_pct = 15
idle_reclaim_after = 10s
idle_reclaim_min_mb = 10
"""
GIB = 1024 * 1024
CURRENT = 40 * 1024 * 1024
DEFAULTS = {'cpu.weight': '100\n', 'cpu.max': 'max 100000\n', 'memory.high': 'max\n',
            'memory.current': f'{CURRENT}\n', 'memory.reclaim': '',
            # as the kernel writes it: longer than the first line mgd reads
            'cpu.stat': 'usage_usec 1000\nuser_usec 500\nsystem_usec 500\nnr_periods 0\nnr_throttled 0\n'
                        'throttled_usec 0\nnr_bursts 0\nburst_usec 0\n'}


def read(path):
    with open(path) as f:
        return f.read().strip()


class FakeTree:
    """The cgroup files of each scope, mirrored below a fixture root."""

    def __init__(self, root, session):
        self.root = root
        self.session = session

    def scope(self, p, extra_pids=()):
        rel = p.cgroup[len(self.session.root):]
        d = self.root + rel
        os.makedirs(d, exist_ok=True)
        for name, text in DEFAULTS.items():
            with open(os.path.join(d, name), 'w') as f:
                f.write(text)
        with open(os.path.join(d, 'cgroup.procs'), 'w') as f:
            f.write(''.join(f'{pid}\n' for pid in (p.pid, *extra_pids)))
        p.fake = d
        return d

    def get(self, p, name):
        return read(os.path.join(p.fake, name))


def main():
    build = os.path.abspath(sys.argv[1])
    tap = Tap()
    tmp = scratch('mgd-cgtest-')
    fake = FakePressure(os.path.join(tmp, 'p'))
    sess = Session(os.path.join(build, 'tests', 'daemon', 'fakeproc'))
    tree = FakeTree(os.path.join(tmp, 'cg'), sess)
    mgd = None
    try:
        mail = sess.spawn('thunderbird', 20, scope='app-mail.scope')          # 50: background
        notifier = sess.spawn('update-notifier', 4, scope='app-notif.scope')  # 70, too small to freeze
        term = sess.spawn('konsole', 20, scope='app-term.scope')              # 25: protected work
        shared = sess.spawn('evolution', 20, scope='app-shared.scope')        # 50, shares its cgroup
        for p in (mail, notifier, term):
            tree.scope(p)
        tree.scope(shared, extra_pids=(1,))
        os.makedirs(tree.root + sess.dir[len(sess.root):], exist_ok=True)

        mgd = Mgd(build, tmp, sess.name, fake.root, CONFIG, extra=['--cgroup2-root', tree.root])
        tap.ok(mgd.start(), 'mgd starts on a fixture cgroup tree', mgd.text())

        fake.set(stall=0.15, avail_kb=1 * GIB)
        ok = wait_for(lambda: tree.get(mail, 'cpu.weight') == '10' and tree.get(notifier, 'cpu.weight') == '10', 8)
        tap.ok(ok, 'at Elevated the background apps get cpu.weight 10',
               f'mail {tree.get(mail, "cpu.weight")} notifier {tree.get(notifier, "cpu.weight")}\n' + mgd.text()[-2000:])
        tap.ok(tree.get(term, 'cpu.weight') == '100', 'protected work is not throttled')
        tap.ok(tree.get(shared, 'cpu.weight') == '100', 'a cgroup shared with a process mgd does not manage is never touched')
        tap.ok(tree.get(notifier, 'cpu.max') == 'max 100000' and tree.get(notifier, 'memory.high') == 'max',
               'no quota and no memory cap at Elevated')
        state = os.path.join(mgd.state, 'cgroups')
        tap.ok(os.path.exists(state) and 'cpu.weight=100' in read(state), 'the originals are persisted',
               read(state) if os.path.exists(state) else 'no file')

        fake.set(stall=0.30, avail_kb=int(0.8 * GIB))
        ok = wait_for(lambda: tree.get(notifier, 'cpu.max') == '25000 100000' and
                      tree.get(notifier, 'memory.high') == str(CURRENT), 8)
        tap.ok(ok, 'at High the expendable one gets a CPU quota and a memory cap at its usage',
               f'{tree.get(notifier, "cpu.max")} {tree.get(notifier, "memory.high")}\n' + mgd.text()[-2000:])
        tap.ok(tree.get(mail, 'cpu.max') == 'max 100000' and tree.get(mail, 'memory.high') == 'max',
               'normal background work gets neither')
        ok = wait_for(lambda: tree.get(notifier, 'memory.reclaim') == f'{CURRENT} swappiness=0', 5)
        drops = [a for a in mgd.actions('drop-cache')]
        tap.ok(ok and drops and all(a['pid'] == str(notifier.pid) for a in drops),
               'at High the expendable one\'s page cache is dropped (memory.reclaim with swappiness=0)',
               f'memory.reclaim={tree.get(notifier, "memory.reclaim")!r}\n' + mgd.text()[-1500:])
        tap.ok(tree.get(term, 'memory.reclaim') == '' and tree.get(shared, 'memory.reclaim') == '',
               'never protected work or a shared cgroup')
        r = mgd.mgctl('status')
        tap.ok(re.search(r'^cache_drop +yes$', r.stdout, re.M), 'STATUS says the kernel (here: the fixture) takes it',
               r.stdout)
        throttles = [a for a in mgd.actions() if a['action'] in ('throttle', 'quota', 'cap')]
        tap.ok(len(throttles) >= 4 and all('result=ok' in a['line'] for a in throttles),
               'each change is an action record', '\n'.join(a['line'] for a in throttles))
        r = mgd.mgctl('status')
        tap.ok(re.search(r'^throttled +2$', r.stdout, re.M) and re.search(r'^memory_capped +1$', r.stdout, re.M),
               'STATUS counts them', r.stdout)

        # kill -9 with settings in force: a restart writes the originals back
        mgd.stop(signal.SIGKILL)
        tap.ok(tree.get(mail, 'cpu.weight') == '10', 'after kill -9 the settings are still in force')
        fake.set(stall=0.0, avail_kb=8 * GIB)
        tap.ok(mgd.start(), 'mgd restarts')
        ok = wait_for(lambda: tree.get(mail, 'cpu.weight') == '100' and tree.get(notifier, 'cpu.max') == 'max 100000'
                      and tree.get(notifier, 'memory.high') == 'max', 5)
        tap.ok(ok and 'Restoring the cgroup settings a previous mgd left changed' in mgd.text(),
               'a restarted mgd restores what the killed one changed', mgd.text()[-2000:])

        # the same through mgd-thaw (the unit's ExecStopPost=)
        fake.set(stall=0.15, avail_kb=1 * GIB)
        wait_for(lambda: tree.get(mail, 'cpu.weight') == '10', 8)
        mgd.stop(signal.SIGKILL)
        r = subprocess.run([os.path.join(build, 'daemon', 'mgd-thaw'), '--state-dir', mgd.state,
                            '--cgroup2-root', tree.root, '--session', sess.name], capture_output=True,
                           text=True, timeout=20)
        tap.ok(r.returncode == 0 and tree.get(mail, 'cpu.weight') == '100' and not os.path.exists(state),
               'mgd-thaw restores them and removes the state file', r.stdout + r.stderr)

        # calm: mgd undoes its own settings; then idle reclaim of the idle background apps
        tap.ok(mgd.start(), 'mgd starts again')
        wait_for(lambda: tree.get(mail, 'cpu.weight') == '10', 8)
        fake.set(stall=0.0, avail_kb=8 * GIB)
        ok = wait_for(lambda: tree.get(mail, 'cpu.weight') == '100' and tree.get(notifier, 'cpu.weight') == '100', 10)
        tap.ok(ok and not os.path.exists(state), 'back at Normal mgd writes every original back', mgd.text()[-1500:])
        want = str(CURRENT * 20 // 100)
        ok = wait_for(lambda: tree.get(mail, 'memory.reclaim') == want, 30)
        tap.ok(ok, 'an idle background app is reclaimed at Normal (20 % of its memory)',
               f'memory.reclaim={tree.get(mail, "memory.reclaim")!r}\n' + mgd.text()[-1500:])
        tap.ok(tree.get(term, 'memory.reclaim') == '' and tree.get(shared, 'memory.reclaim') == '',
               'never protected work or a shared cgroup')
        reclaims = [a for a in mgd.actions('reclaim') if 'reason=idle' in a['line']]
        tap.ok(reclaims, 'the reclaim is an action record', mgd.text()[-1500:])
        with open(os.path.join(mail.fake, 'memory.reclaim'), 'w') as f:
            f.write('')
        usage = 1000

        def busy():
            nonlocal usage
            usage += 50000
            with open(os.path.join(mail.fake, 'cpu.stat'), 'w') as f:
                f.write(f'usage_usec {usage}\nuser_usec {usage}\nsystem_usec 0\nnr_periods 0\n'
                        'nr_throttled 0\nthrottled_usec 0\n')
            return tree.get(mail, 'memory.reclaim') != ''
        tap.ok(not wait_for(busy, 14, step=1), 'an app that keeps using CPU is not idle: not reclaimed again',
               tree.get(mail, 'memory.reclaim'))
        ok = wait_for(lambda: tree.get(mail, 'memory.reclaim') == want, 30)
        tap.ok(ok, 'once idle again for idle_reclaim_after, it is reclaimed again', mgd.text()[-800:])

        # an app that exits while capped: its cgroup gets its originals back, and no action record
        # is written for a process that is not there (pid 0, no name, no priority)
        fake.set(stall=0.30, avail_kb=int(0.8 * GIB))
        ok = wait_for(lambda: tree.get(notifier, 'memory.high') == str(CURRENT), 10)
        tap.ok(ok, 'under pressure again the notifier is capped', mgd.text()[-1500:])
        notifier.kill()
        notifier.wait()
        ok = wait_for(lambda: tree.get(notifier, 'memory.high') == 'max' and tree.get(notifier, 'cpu.max') == 'max 100000'
                      and tree.get(notifier, 'cpu.weight') == '100', 10)
        nameless = [a for a in mgd.actions() if a['pid'] == '0' or not a['comm'].strip('"')]
        tap.ok(ok and not nameless, 'a capped app that exits: its cgroup is restored, with no record of a process',
               f'{tree.get(notifier, "memory.high")}\n' + '\n'.join(a['line'] for a in nameless) + mgd.text()[-1500:])
    finally:
        if mgd:
            mgd.stop()
        fake.close()
        sess.cleanup()
    return tap.done()


if __name__ == '__main__':
    sys.exit(main())
