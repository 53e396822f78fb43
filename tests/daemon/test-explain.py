#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Integration: mgctl explain PID|NAME through the real socket of a real mgd, against real
processes and a fixture pressure root: the priority and where it came from (a built-in entry,
file:line of the user configuration, the default), the tier, the foreground bonus, the footprint,
what mgd would do at each level, and, once a process is frozen, how, since when and why.

usage: test-explain.py BUILD_DIR
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from mgdtest import FakePressure, Mgd, Session, Tap, proc_state, scratch, wait_for  # noqa: E402

CONFIG = """[defaults]
fast_tick = 200ms
slow_tick = 500ms
calm_to_normal = 2s
calm_step = 1s
thaw_min_frozen = 1s
target_available_pct = 15

[app "my-tool"]
pattern = ^mytool$
priority = 72
"""
GIB = 1024 * 1024


def explain(mgd, *args):
    r = mgd.mgctl('--json', 'explain', *args)
    try:
        return r, json.loads(r.stdout)
    except ValueError:
        return r, None


def main():
    build = os.path.abspath(sys.argv[1])
    tap = Tap()
    tmp = scratch('mgd-explain-')
    fake = FakePressure(os.path.join(tmp, 'p'))
    sess = Session(os.path.join(build, 'tests', 'daemon', 'fakeproc'))
    mgd = None
    try:
        kwin = sess.spawn('kwin_wayland', 12)
        tool = sess.spawn('mytool', 20)
        tabs = [sess.spawn('Web Content', 24), sess.spawn('Web Content', 16)]
        other = sess.spawn('some-app', 20)
        line = CONFIG.splitlines().index('[app "my-tool"]') + 1

        mgd = Mgd(build, tmp, sess.name, fake.root, CONFIG)
        tap.ok(mgd.start(), 'mgd starts', mgd.text())

        r, x = explain(mgd, str(kwin.pid))
        tap.ok(r.returncode == 0 and x and x[0]['priority'] == -1 and x[0]['rule'] == 'compositor'
               and x[0]['origin'] == 'built-in' and x[0]['tier'] == 'protected' and x[0]['exempt'] == 'protected'
               and x[0]['at_emergency'] == 'none',
               'the compositor: protected by a built-in entry, nothing at any level', r.stdout + r.stderr)

        r, x = explain(mgd, str(tool.pid))
        tap.ok(r.returncode == 0 and x and x[0]['priority'] == 72 and x[0]['rule'] == 'my-tool'
               and x[0]['origin'] == f'{mgd.config}:{line}' and x[0]['tier'] == 'expendable'
               and x[0]['at_elevated'] == 'freeze' and x[0]['at_high'] == 'freeze'
               and x[0]['at_critical'] == 'terminate' and x[0]['at_emergency'] == 'kill',
               'a user entry: its file:line, its tier, the matrix per level', r.stdout + r.stderr)
        tap.ok(x and x[0]['rss_kb'] >= 20 * 1024 and x[0]['footprint_kb'] >= x[0]['rss_kb'] and x[0]['held'] == 'no',
               'its footprint is the process\'s own', r.stdout)

        r, x = explain(mgd, str(other.pid))
        tap.ok(r.returncode == 0 and x and x[0]['origin'] == 'default' and x[0]['priority'] == 50
               and x[0]['at_critical'] == 'terminate' and x[0]['at_high'] == 'none',
               'no entry: the default priority', r.stdout + r.stderr)

        r, x = explain(mgd, 'Web', 'Content')
        tap.ok(r.returncode == 0 and x and sorted(e['pid'] for e in x) == sorted(p.pid for p in tabs)
               and all(e['at_high'] == 'freeze,kill' for e in x),
               'by name (the rest of the line): one record per process; heavy: frozen, then killed at High',
               r.stdout + r.stderr)

        mgd.mgctl('foreground', str(tabs[0].pid))
        r, x = explain(mgd, str(tabs[0].pid))
        tap.ok(r.returncode == 0 and x and x[0]['foreground'] == 'yes' and x[0]['priority'] == x[0]['base_priority'] - 25
               and x[0]['at_elevated'] == 'none',
               'the foreground: the bonus, and never frozen', r.stdout + r.stderr)

        r = mgd.mgctl('explain', str(tool.pid))
        tap.ok(r.returncode == 0 and f'pid {tool.pid} (mytool)' in r.stdout
               and f"entry 'my-tool' ({mgd.config}:{line})" in r.stdout and 'at critical    terminate' in r.stdout,
               'the text form says the same', r.stdout + r.stderr)

        fake.set(stall=0.15, avail_kb=1 * GIB)
        ok = wait_for(lambda: proc_state(tool.pid) == 'T', 8)
        r, x = explain(mgd, str(tool.pid))
        tap.ok(ok and r.returncode == 0 and x and x[0]['held'] == 'sigstop' and x[0]['held_why'] != '-'
               and x[0]['held_since'] > 1e9 and x[0]['held_for_s'] >= 0 and x[0]['level'] != 'normal',
               'frozen: how, since when and why', r.stdout + r.stderr + mgd.text()[-1500:])
        fake.set(stall=0.0, avail_kb=8 * GIB)

        r = mgd.mgctl('explain', '999999')
        tap.ok(r.returncode == 1 and 'not a process mgd manages' in r.stderr, 'an unknown pid is a clear error',
               f'{r.returncode} {r.stdout} {r.stderr}')
        r = mgd.mgctl('explain', 'no-such-name')
        tap.ok(r.returncode == 1 and "named 'no-such-name'" in r.stderr, 'an unknown name is a clear error',
               f'{r.returncode} {r.stdout} {r.stderr}')
        r = mgd.mgctl('explain')
        tap.ok(r.returncode == 2 and 'explain needs a pid or a process name' in r.stderr, 'no argument: usage error',
               r.stderr)
    finally:
        if mgd:
            mgd.stop()
        fake.close()
        sess.cleanup()
    return tap.done()


if __name__ == '__main__':
    sys.exit(main())
