#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Real pressure on this host: a hog inside a memory-limited v1 child cgroup of the test's own
memory cgroup, plus its cgroup2 twin (real memory.pressure and cgroup.freeze), with zram swap the
test sets up and tears down. mgd, armed on the real PSI files (2 s trigger windows: the only kind
this host accepts without CAP_SYS_RESOURCE), must freeze or kill the hog. Reports the time from
stall onset to the first action.

usage: test-host-pressure.py BUILD_DIR
"""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from mgdtest import (Mgd, Tap, Zram, cgroup2_root, cgroup_frozen, proc_state, read_text,  # noqa: E402
                     scratch, skip, v1_memory_cgroup, wait_for, write_text)

HOG_MIB = 512
LIMIT = 256 * 1024 * 1024


read = read_text
write = write_text


def some_total(path):
    for line in read(path).splitlines():
        if line.startswith('some '):
            return int(line.split('total=')[1])
    return 0


def main():
    build = os.path.abspath(sys.argv[1])
    if os.geteuid() != 0:
        skip('needs root to set up zram swap and cgroups')
    if not os.path.exists('/proc/pressure/memory'):
        skip('the kernel has no PSI')
    cg2 = cgroup2_root()
    if not cg2:
        skip('no cgroup2 mount')
    tap = Tap()
    tmp = scratch('mgd-ptest-')
    name = f'mgd-ptest-{os.getpid()}'
    twin = os.path.join(cg2, name)
    scope = os.path.join(twin, 'app-hog.scope')
    mem1 = None
    zram = hog = mgd = None
    try:
        zram = Zram()
        parent = v1_memory_cgroup()
        if parent and os.path.isdir(parent):
            mem1 = os.path.join(parent, name)
            os.mkdir(mem1)
            write(os.path.join(mem1, 'memory.limit_in_bytes'), str(LIMIT))
        os.mkdir(twin)
        os.mkdir(scope)

        mgd = Mgd(build, tmp, name, None, '[defaults]\n',
                  extra=['--pressure-cgroup', twin, '--helper-dir', os.path.join(build, 'helpers')])
        mgd.args.remove('--no-helpers')      # with the helpers: the PSI one must fail cleanly here
        tap.ok(mgd.start(), 'mgd starts on the real PSI files', mgd.text())
        tap.ok(wait_for(lambda: 'PSI trigger armed on ' + twin in mgd.text(), 5),
               'a 2 s PSI trigger is armed on the cgroup\'s memory.pressure', mgd.text())
        tap.ok(wait_for(lambda: 'Sub-second PSI triggers unavailable (mgd-psi-helper: ' in mgd.text(), 10)
               and 'Sub-second PSI trigger on' not in mgd.text(),
               'without CAP_SYS_RESOURCE the PSI helper fails cleanly and mgd keeps 2 s windows', mgd.text())

        def enter():
            if mem1:
                write(os.path.join(mem1, 'cgroup.procs'), '0')
            write(os.path.join(scope, 'cgroup.procs'), '0')
        before = some_total(os.path.join(twin, 'memory.pressure'))
        t0 = time.monotonic()
        hog = subprocess.Popen([os.path.join(build, 'tests', 'pressure', 'hog'), 'mgd-test-hog', str(HOG_MIB)],
                               preexec_fn=enter)
        onset = None
        acted = None
        last_t, last_v = t0, before
        while time.monotonic() - t0 < 30:
            time.sleep(0.05)
            now = time.monotonic()
            v = some_total(os.path.join(twin, 'memory.pressure'))
            if onset is None and now - last_t >= 0.2:
                if (v - last_v) / ((now - last_t) * 1e6) > 0.10:
                    onset = last_t
                last_t, last_v = now, v
            if hog.poll() is not None or proc_state(hog.pid) == 'T' or cgroup_frozen(scope):
                acted = now
                break
        stall = (some_total(os.path.join(twin, 'memory.pressure')) - before) / 1e6
        tap.ok(onset is not None, f'the hog makes real stall ({stall:.2f} s of "some" in the cgroup)', '')
        tap.ok(acted is not None, 'mgd freezes or kills the hog under real pressure', mgd.text()[-3000:])
        if onset is not None and acted is not None:
            print(f'# stall onset -> first action: {acted - onset:.2f} s '
                  f'(hog start -> action {acted - t0:.2f} s)', flush=True)
        for line in mgd.text().splitlines():
            if 'First action' in line and 'after the PSI trigger event' in line:
                print(f'# trigger event -> first action (mgd\'s own clock): {line.split("First action ")[1]}',
                      flush=True)
                break
        acts = [a for a in mgd.actions() if a['action'] in ('freeze', 'kill', 'terminate')]
        tap.ok(acts and all(a['comm'].strip('"') == 'mgd-test-hog' for a in acts),
               'every action hit the hog and nothing else', '\n'.join(a['line'] for a in acts))
    finally:
        if mgd:
            mgd.stop()
        if hog and hog.poll() is None:
            try:
                write(os.path.join(scope, 'cgroup.freeze'), '0')
            except OSError:
                pass
            hog.send_signal(signal.SIGCONT)
            hog.kill()
            hog.wait()
        for d in (scope, twin, mem1):
            if d and os.path.isdir(d):
                wait_for(lambda: not read(os.path.join(d, 'cgroup.procs')).strip(), 5)
                os.rmdir(d)
        if zram:
            zram.close()
    return tap.done()


if __name__ == '__main__':
    sys.exit(main())
