#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Integration: spike mode. A real parallel build in waves (mgw-build: cargo forking rustc
workers that allocate, work and exit) beside desktop processes, with pressure driven through a
fixture pressure root. While the pressure comes from the build, mgd freezes background processes
to make room, never touches the build, and kills nothing below Critical; between waves it keeps
the build's next wave's room free; when the build is done everything is thawed.

usage: test-spike.py BUILD_DIR
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from mgdtest import (FakePressure, Mgd, Session, Tap, cgroup_frozen, proc_state, scratch,  # noqa: E402
                     wait_for)

CONFIG = """[defaults]
fast_tick = 200ms
slow_tick = 500ms
calm_to_normal = 3s
calm_step = 1s
thaw_min_frozen = 1s
term_grace = 1s
target_available_pct = 15
"""

GIB = 1024 * 1024
MIB = 1024


def stopped(p):
    if getattr(p, 'cgroup', '').endswith('.scope') and cgroup_frozen(p.cgroup):
        return True
    return proc_state(p.pid) == 'T'


def children(pid):
    """The build's processes now: pid and its descendants (from /proc)."""
    kids = {}
    for d in os.listdir('/proc'):
        if not d.isdigit():
            continue
        try:
            with open(f'/proc/{d}/stat') as f:
                s = f.read()
        except OSError:
            continue
        ppid = int(s[s.rindex(')') + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += kids.get(p, [])
    return out


def main():
    build = os.path.abspath(sys.argv[1])
    tap = Tap()
    tmp = scratch('mgd-spike-')
    fake = FakePressure(os.path.join(tmp, 'p'))
    sess = Session(os.path.join(build, 'tests', 'daemon', 'fakeproc'))
    mgd = None
    try:
        kwin = sess.spawn('kwin_wayland', 20)
        ide = sess.spawn('code', 40)
        background = [sess.spawn('Isolated Web Co', 30), sess.spawn('Isolated Web Co', 30, scope='app-tab-1.scope'),
                      sess.spawn('baloo_file', 30), sess.spawn('update-notifier', 15)]
        mgd = Mgd(build, tmp, sess.name, fake.root, CONFIG)
        tap.ok(mgd.start(), 'mgd starts', mgd.text())
        tap.ok(mgd.mgctl('foreground', str(ide.pid)).returncode == 0, 'the IDE is the foreground window')

        # about 1.1 s a wave, 50 s in all: every phase below must come before its end, with room
        # for a loaded CI machine (28 waves once ended before the last phase there)
        out = os.path.join(tmp, 'build.txt')
        jobs, waves = 3, 45
        cargo = sess.spawn_cmd([os.path.join(build, 'tests', 'workloads', 'mgw-build'), '-n', 'cargo', '-w', 'rustc',
                                '-j', str(jobs), '-W', str(waves), '-m', '60', '-P', '900', '-g', '700', '-o', out],
                               'cargo', stdout=subprocess.DEVNULL)     # its summary line is not TAP
        build_pids = set()

        def watch_build():
            build_pids.update(children(cargo.pid))
            return True

        # a wave of the build makes the pressure
        fake.set(stall=0.15, avail_kb=1 * GIB)
        ok = wait_for(lambda: watch_build() and all(stopped(p) for p in background), 10)
        tap.ok(ok, 'at Elevated the background processes are frozen',
               '\n'.join(f'{p.comm} {p.pid}: {proc_state(p.pid)}' for p in background) + '\n' + mgd.text()[-3000:])
        ok = wait_for(lambda: watch_build() and 'The pressure comes from the build \'cargo\'' in mgd.text(), 10)
        tap.ok(ok, 'mgd blames the pressure on the build', mgd.text()[-3000:])

        # High, with frozen heavy tabs: a build's wave kills nothing
        fake.set(stall=0.30, avail_kb=int(0.8 * GIB))
        t_end = time.monotonic() + 4
        while time.monotonic() < t_end:
            watch_build()
            time.sleep(0.1)
        tap.ok('-> high' in mgd.text(), 'the level reached High', mgd.text()[-2000:])
        destructive = [a for a in mgd.actions() if a['action'] in ('kill', 'terminate', 'checkpoint')]
        tap.ok(not destructive, 'nothing is killed at High while the pressure is the build\'s',
               '\n'.join(a['line'] for a in destructive))

        def pause_outcomes():
            """The paused workers, and those resumed or gone: a SIGSTOP can reach a worker already on
            its way out, which then exits anyway, and mgd must forget it rather than thaw it later."""
            acts, text = mgd.actions(), mgd.text()
            paused = {int(a['pid']) for a in acts if a['action'] == 'freeze' and 'reason=spike pause' in a['line']}
            done = {int(a['pid']) for a in acts if a['action'] == 'thaw' and 'reason=spike release' in a['line']}
            done |= {p for p in paused if f'(pid {p}) exited while frozen' in text}
            return paused, done

        def all_paused_resumed():
            paused, done = pause_outcomes()
            return paused and paused <= done

        # the wave reaches Critical: a worker is paused, nobody is killed; paused workers resume
        # as soon as the stall is down
        fake.set(stall=0.6, avail_kb=int(0.5 * GIB))
        ok = wait_for(lambda: watch_build() and any(a['action'] == 'freeze' and 'reason=spike pause' in a['line']
                                                    for a in mgd.actions()), 10)
        tap.ok(ok, 'at Critical a worker of the build is paused', mgd.text()[-2000:])
        destructive = [a for a in mgd.actions() if a['action'] in ('kill', 'terminate', 'checkpoint')]
        tap.ok(not destructive, 'nothing is killed at Critical while the pressure is the build\'s',
               '\n'.join(a['line'] for a in destructive))
        fake.set(stall=0.02, avail_kb=int(1.25 * GIB))
        ok = wait_for(lambda: watch_build() and all_paused_resumed(), 10)
        tap.ok(ok, 'the paused worker resumes once the stall is down, without waiting for calm',
               mgd.text()[-3000:])

        # calm, but MemAvailable short of the reserve plus the next wave's room
        fake.set(stall=0.0, avail_kb=int(1.25 * GIB))
        ok = wait_for(lambda: watch_build() and '-> normal' in mgd.text(), 10)
        tap.ok(ok, 'back to Normal', mgd.text()[-2000:])
        ok = wait_for(lambda: watch_build() and 'allocates in waves' in mgd.text(), 10)
        tap.ok(ok, 'mgd sees the build allocates in waves', mgd.text()[-2000:])
        newcomer = sess.spawn('Web Content', 30)
        ok = wait_for(lambda: watch_build() and stopped(newcomer), 10)
        tap.ok(ok and any(a['action'] == 'freeze' and int(a['pid']) == newcomer.pid and 'spike' in a['line']
                          for a in mgd.actions()),
               'between waves, a new background process is frozen to keep the next wave\'s room',
               '\n'.join(a['line'] for a in mgd.actions('freeze')) + mgd.text()[-1500:])
        thawed_early = [a for a in mgd.actions('thaw') if 'spike release' not in a['line']]
        tap.ok(cargo.poll() is None, 'the build is still running (else the checks below prove nothing)')
        tap.ok(not thawed_early and all(stopped(p) for p in background),
               'while the build runs short of room, nothing is thawed into its next wave',
               '\n'.join(a['line'] for a in thawed_early))

        # the build ends; memory is back: everything is thawed
        ok = wait_for(lambda: watch_build() and cargo.poll() is not None, 90)
        tap.ok(ok and cargo.returncode == 0, 'the build finishes and succeeds',
               f'rc={cargo.returncode}\n' + (open(out).read() if os.path.exists(out) else 'no build.txt'))
        with open(out) as f:
            line = f.read()
        tap.ok(f' ok={jobs * waves} signalled=0 failed=0' in line, 'every worker of the build ran to its end', line)
        fake.set(stall=0.0, avail_kb=8 * GIB)
        everyone = background + [newcomer]
        ok = wait_for(lambda: not any(stopped(p) for p in everyone), 15)
        tap.ok(ok, 'after the build everything is thawed',
               '\n'.join(f'{p.comm}: {proc_state(p.pid)}' for p in everyone) + mgd.text()[-2000:])

        touched = {int(a['pid']) for a in mgd.actions() if a.get('pid', '').isdigit()}
        on_build = [a for a in mgd.actions() if a.get('pid', '').isdigit() and int(a['pid']) in build_pids]
        tap.ok(on_build and all(('reason=spike pause' in a['line'] and a['action'] == 'freeze') or
                                ('reason=spike release' in a['line'] and a['action'] == 'thaw') for a in on_build),
               'the build\'s processes were only paused and resumed',
               '\n'.join(a['line'] for a in on_build) + f'\n({len(build_pids)} build processes seen)')
        tap.ok(len(build_pids) >= jobs * waves // 2, f'the test saw the build\'s processes ({len(build_pids)})')
        tap.ok(not ({kwin.pid, ide.pid} & touched), 'the compositor and the foreground IDE were never acted on')
        paused, resumed = pause_outcomes()
        tap.ok(paused <= resumed, 'every paused worker was resumed (or exited while paused, and was forgotten)',
               f'paused {sorted(paused)} resumed {sorted(resumed)}')
        destructive = [a for a in mgd.actions() if a['action'] in ('kill', 'terminate', 'checkpoint')]
        tap.ok(not destructive, 'nothing was killed in the whole run', '\n'.join(a['line'] for a in destructive))
    finally:
        if mgd:
            mgd.stop()
        fake.close()
        sess.cleanup()
    return tap.done()


if __name__ == '__main__':
    sys.exit(main())
