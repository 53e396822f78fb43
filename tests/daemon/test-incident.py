#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Integration: mgd against real processes named like a desktop session, with pressure driven
through a fixture pressure root that this test rewrites.

usage: test-incident.py BUILD_DIR
"""
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from mgdtest import (FakePressure, Mgd, MIB, Session, Tap, cgroup_frozen, proc_state, scratch,  # noqa: E402
                     wait_for)

CONFIG = """[defaults]
fast_tick = 200ms
slow_tick = 500ms
calm_to_normal = 3s
calm_step = 1s
thaw_min_frozen = 1s
term_grace = 1s
target_available_pct = 15
log_keep = 2
"""

GIB = 1024 * 1024


def stopped(p):
    if getattr(p, 'cgroup', '').endswith('.scope') and cgroup_frozen(p.cgroup):
        return True
    return proc_state(p.pid) == 'T'


def main():
    build = os.path.abspath(sys.argv[1])
    tap = Tap()
    tmp = scratch('mgd-itest-')
    fake = FakePressure(os.path.join(tmp, 'p'))
    sess = Session(os.path.join(build, 'tests', 'daemon', 'fakeproc'))
    mgd = None
    try:
        protected = [sess.spawn('kwin_wayland', 20), sess.spawn('pipewire', 16),
                     sess.spawn('wireplumber', 12)]
        ide = sess.spawn('code', 40)
        expendable = [sess.spawn('Isolated Web Co', 30), sess.spawn('Isolated Web Co', 30),
                      sess.spawn('Web Content', 24, scope='app-firefox-tab-1.scope'),
                      sess.spawn('baloo_file', 30), sess.spawn('DiscoverNotifie', 15)]
        hog = sess.spawn('node', 20, grow=80, maxmib=900)
        small = sess.spawn('Web Content', 2)     # under the 10 MB minimum footprint
        everyone = protected + [ide] + expendable + [hog, small]

        # a configuration error at start-up: a clear file:line error and exit status 2
        bad = Mgd(build, os.path.join(tmp, 'bad'), sess.name, fake.root,
                  CONFIG + '[app "x"]\npattern = (\npriority = 90\n')
        bad.start()
        rc = bad.stop()
        tap.ok(rc == 2 and re.search(rf'mgd\.conf:{CONFIG.count(chr(10)) + 2}: .*invalid regular expression', bad.text()),
               'a bad configuration at start-up is refused with file:line and exit status 2',
               f'rc={rc}\n' + bad.text())

        mgd = Mgd(build, tmp, sess.name, fake.root, CONFIG)
        journal = os.path.join(tmp, 'journal')     # a test build copies each journal entry here
        mgd.env['MGD_TEST_JOURNAL_COPY'] = journal
        tap.ok(mgd.start(), 'mgd starts on a fixture pressure root', mgd.text())

        # a configuration error on reload keeps the running configuration
        with open(mgd.config, 'w') as f:
            f.write(CONFIG + '[app "x"]\npattern = ^x$\npriority = 101\n')
        r = mgd.mgctl('reload')
        tap.ok(r.returncode == 1 and f'mgd.conf:{CONFIG.count(chr(10)) + 3}:' in (r.stdout + r.stderr),
               'mgctl reload reports the error with file:line', f'{r.returncode} {r.stdout} {r.stderr}')
        mgd.p.send_signal(signal.SIGHUP)
        tap.ok(wait_for(lambda: mgd.text().count('Configuration reload refused') >= 2, 5) and mgd.p.poll() is None,
               'SIGHUP with a bad configuration keeps mgd running on the old one', mgd.text()[-1500:])
        with open(mgd.config, 'w') as f:
            f.write(CONFIG)
        r = mgd.mgctl('reload')
        tap.ok(r.returncode == 0, 'a fixed configuration reloads', r.stdout + r.stderr)
        r = mgd.mgctl('foreground', str(ide.pid))
        tap.ok(r.returncode == 0, 'mgctl foreground marks the IDE', r.stdout + r.stderr)

        # Calm: nothing happens.
        time.sleep(1.5)
        tap.ok(not mgd.actions(), 'no action while calm', mgd.text())

        # Elevated: stall 15 %, MemAvailable under the 15 % target.
        fake.set(stall=0.15, avail_kb=1 * GIB)
        ok = wait_for(lambda: all(stopped(p) for p in expendable) and stopped(hog), 5)
        tap.ok(ok, 'at Elevated every expendable process and the runaway are frozen',
               '\n'.join(f'{p.comm} {p.pid}: {proc_state(p.pid)}' for p in expendable + [hog]) + '\n' + mgd.text())
        freezes = mgd.actions('freeze')
        frozen_pids = {int(f['pid']) for f in freezes if 'result=ok' in f['line']}
        tap.ok(frozen_pids == {p.pid for p in expendable + [hog]},
               'exactly the expendables and the runaway were frozen',
               f'frozen {sorted(frozen_pids)}\n' + '\n'.join(f['line'] for f in freezes))
        first = [f for f in freezes if 'result=ok' in f['line']]
        tap.ok(first and int(first[0]['pid']) == hog.pid,
               'the runaway (a growing prio-50 process) is frozen first',
               '\n'.join(f['line'] for f in first))
        tap.ok(any('method=cgroup' in f['line'] and int(f['pid']) == expendable[2].pid for f in freezes)
               and cgroup_frozen(expendable[2].cgroup),
               'a process alone in its app scope is frozen with cgroup.freeze',
               '\n'.join(f['line'] for f in freezes))
        tap.ok(all(proc_state(p.pid) in ('S', 'R') for p in protected + [ide, small]),
               'compositor, audio, the foreground IDE and tiny processes are untouched',
               '\n'.join(f'{p.comm}: {proc_state(p.pid)}' for p in protected + [ide, small]))

        r = mgd.mgctl('list')
        tap.ok(r.returncode == 0 and all(str(p.pid) in r.stdout for p in expendable + [hog]),
               'mgctl list shows every frozen process', r.stdout + r.stderr)
        r = mgd.mgctl('--json', 'status')
        tap.ok(r.returncode == 0 and '"level"' in r.stdout, 'mgctl --json status answers', r.stdout + r.stderr)

        # a frozen process that dies anyway (here SIGKILLed by its user) is forgotten, not thawed later
        gone = expendable[3]
        os.kill(gone.pid, signal.SIGKILL)
        gone.wait()
        ok = wait_for(lambda: f'(pid {gone.pid}) exited while frozen' in mgd.text(), 5)
        r = mgd.mgctl('list')
        tap.ok(ok and r.returncode == 0 and str(gone.pid) not in r.stdout
               and not any(int(a['pid']) == gone.pid for a in mgd.actions('thaw')),
               'a frozen process killed by someone else is forgotten', r.stdout + mgd.text()[-1500:])

        # Critical: the runaway is the one terminated.
        fake.set(stall=0.6, avail_kb=int(0.5 * GIB))
        ok = wait_for(lambda: hog.poll() is not None, 10)
        tap.ok(ok, 'at Critical the runaway is killed', mgd.text()[-3000:])
        destructive = [a for a in mgd.actions() if a['action'] in ('kill', 'terminate')]
        tap.ok(destructive and int(destructive[0]['pid']) == hog.pid,
               'the first destructive action hits the runaway', '\n'.join(a['line'] for a in destructive))
        # memory comes back once the hog is gone
        fake.set(stall=0.0, avail_kb=8 * GIB)
        tap.ok(all(p.poll() is None for p in protected + [ide]),
               'no protected process was killed', '')

        # Calm: thawed in batches after the calm period.
        ok = wait_for(lambda: not any(stopped(p) for p in expendable if p.poll() is None), 12)
        tap.ok(ok, 'after calm every frozen process is thawed',
               '\n'.join(f'{p.comm}: {proc_state(p.pid)}' for p in expendable) + mgd.text()[-2000:])
        thaws = [a for a in mgd.actions('thaw')]
        tap.ok(len(thaws) >= 1 and all('reason=recovery' in t['line'] for t in thaws),
               'thaws come from recovery', '\n'.join(t['line'] for t in thaws))
        never = {p.pid for p in protected + [ide, small]}
        touched = {int(a['pid']) for a in mgd.actions() if a.get('pid', '').isdigit()}
        tap.ok(not (never & touched), 'no protected, foreground or tiny process was ever acted on',
               f'touched {sorted(never & touched)}')

        message_ids(tap, journal, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))

        # SIGTERM thaws everything.
        fake.set(stall=0.15, avail_kb=1 * GIB)
        live = [p for p in expendable if p.poll() is None]
        wait_for(lambda: all(stopped(p) for p in live), 5)
        rc = mgd.stop(signal.SIGTERM)
        tap.ok(rc == 0 and not any(stopped(p) for p in live),
               'SIGTERM thaws everything and exits 0', f'rc={rc}\n' + mgd.text()[-2000:])
        r = mgd.mgctl('status')
        tap.ok(r.returncode == 3, 'mgctl status exits 3 when mgd is not running', f'{r.returncode} {r.stderr}')

        # kill -9 with processes frozen: a restart thaws them; a recycled pid is never signalled.
        tap.ok(mgd.start(), 'mgd restarts', mgd.text()[-2000:])
        ok = wait_for(lambda: all(stopped(p) for p in live), 5)
        tap.ok(ok, 'frozen again under pressure', '')
        # the entry is written ahead of the stop: the moment a process is seen stopped, it is on file
        with open(os.path.join(mgd.state, 'registry')) as f:
            on_file = {int(w[4:]) for w in f.read().split() if w.startswith('pid=')}
        tap.ok({p.pid for p in live} <= on_file, 'every frozen process is on file before mgd is killed',
               f'on file {sorted(on_file)}, frozen {sorted(p.pid for p in live)}')
        mgd.stop(signal.SIGKILL)
        tap.ok(all(stopped(p) for p in live), 'after kill -9 the processes are still frozen', '')
        # forge an entry: a live process stopped by the test itself, with the wrong start time
        decoy = sess.spawn('Web Content', 12)
        os.kill(decoy.pid, signal.SIGSTOP)
        wait_for(lambda: proc_state(decoy.pid) == 'T', 2)
        with open(os.path.join(mgd.state, 'registry'), 'a') as f:
            f.write(f'pid={decoy.pid} starttime=1 how=sigstop since=1 priority=80 footprint_kb=1 '
                    f'restore_failures=0 name=Web%20Content\n')
        fake.set(stall=0.0, avail_kb=8 * GIB)
        tap.ok(mgd.start(), 'mgd starts after a crash', mgd.text()[-2000:])
        ok = wait_for(lambda: not any(stopped(p) for p in live), 5)
        tap.ok(ok, 'a restarted mgd thaws what the crashed one left frozen', mgd.text()[-2000:])
        tap.ok(proc_state(decoy.pid) == 'T', 'an entry whose start time does not match is never signalled',
               proc_state(decoy.pid))
        os.kill(decoy.pid, signal.SIGCONT)

        # the same through mgd-thaw (the unit's ExecStopPost=)
        fake.set(stall=0.15, avail_kb=1 * GIB)
        wait_for(lambda: all(stopped(p) for p in live), 5)
        mgd.stop(signal.SIGKILL)
        import subprocess
        r = subprocess.run([os.path.join(build, 'daemon', 'mgd-thaw'), '--state-dir', mgd.state],
                           capture_output=True, text=True, timeout=20)
        tap.ok(r.returncode == 0 and not any(stopped(p) for p in live),
               'mgd-thaw thaws what a killed mgd left frozen', r.stdout + r.stderr)
        fake.set(stall=0.0, avail_kb=8 * GIB)

        logs = sorted(os.listdir(os.path.join(mgd.state, 'log')))
        tap.ok(len(logs) == 2 and all(l.startswith('mgd-') and l.endswith('.log') for l in logs),
               'the per-run action logs are rotated to log_keep = 2', str(logs))
        with open(os.path.join(mgd.state, 'log', logs[-1])) as f:
            body = f.read()
        tap.ok(' freeze pid=' in body or ' thaw pid=' in body, 'the action log records actions', body[-500:])
        mgd = young_runaway(tap, build, tmp, fake, sess, live)
    finally:
        if mgd:
            mgd.stop(signal.SIGTERM)
        fake.close()
        sess.cleanup()
    return tap.done()


def message_ids(tap, journal, src):
    """The journal entries of the level changes, freezes, kills and thaws so far carry the
    MESSAGE_IDs of units/mgd.catalog."""
    if not os.path.exists(journal):
        tap.skip('level changes, freezes, kills and thaws carry their MESSAGE_ID', 'not a -Dtest_hooks=true build')
        return
    with open(os.path.join(src, 'daemon', 'log-ids.h')) as f:
        ids = dict(re.findall(r'#define MGD_MESSAGE_([A-Z]+) "([0-9a-f]{32})"', f.read()))
    entries = [dict(kv.split('=', 1) for kv in line.rstrip('\n').split('\t') if '=' in kv)
               for line in open(journal)]
    want = {'LEVEL': lambda e: e['MESSAGE'].startswith('Pressure level'),
            'FREEZE': lambda e: e.get('MGD_ACTION') == 'freeze',
            'KILL': lambda e: e.get('MGD_ACTION') in ('kill', 'terminate'),
            'THAW': lambda e: e.get('MGD_ACTION') == 'thaw'}
    for name, pick in want.items():
        es = [e for e in entries if pick(e)]
        tap.ok(es and all(e.get('MESSAGE_ID') == ids[name] for e in es),
               f'every {name.lower()} entry carries MESSAGE_ID={ids[name]}',
               '\n'.join(str(e) for e in es[:3]) or 'none')
    other = [e for e in entries if 'MESSAGE_ID' in e and not any(p(e) for p in want.values())]
    tap.ok(not other, 'no other entry carries one', '\n'.join(str(e) for e in other[:3]))


def young_runaway(tap, build, tmp, fake, sess, tabs):
    """A runaway seen first when it is already big and done growing (scanning began late): judged
    by its lifetime growth at first sight and frozen, it stays the aggressor although it no longer
    grows, and at Critical it is killed before the frozen tabs."""
    mgd = Mgd(build, os.path.join(tmp, 'young'), sess.name, fake.root, CONFIG)
    tap.ok(mgd.start(), 'mgd starts again', mgd.text()[-2000:])
    hog = sess.spawn('node', 400)       # 400 MiB, a second old, holding still
    fake.set(stall=0.15, avail_kb=1 * GIB)
    ok = wait_for(lambda: stopped(hog) and all(stopped(p) for p in tabs), 5)
    first = [f for f in mgd.actions('freeze') if 'result=ok' in f['line']]
    tap.ok(ok and first and int(first[0]['pid']) == hog.pid and 'reason=aggressor' in first[0]['line'],
           'a young runaway that no longer grows is frozen first, as the aggressor',
           '\n'.join(f['line'] for f in first) + mgd.text()[-1500:])
    fake.set(stall=0.6, avail_kb=int(0.5 * GIB))
    ok = wait_for(lambda: hog.poll() is not None, 10)
    destructive = [a for a in mgd.actions() if a['action'] in ('kill', 'terminate')]
    tap.ok(ok and destructive and int(destructive[0]['pid']) == hog.pid,
           'frozen, it stays the aggressor: at Critical it is killed first, not a frozen tab',
           '\n'.join(a['line'] for a in destructive) + mgd.text()[-1500:])
    fake.set(stall=0.0, avail_kb=8 * GIB)
    ok = wait_for(lambda: not any(stopped(p) for p in tabs if p.poll() is None), 12)
    tap.ok(ok, 'after calm the tabs are thawed', mgd.text()[-1500:])
    return mgd


if __name__ == '__main__':
    sys.exit(main())
