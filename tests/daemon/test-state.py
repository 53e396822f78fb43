#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Integration: mgd and mgd-thaw always start on a damaged state directory. Each state file
(registry, cgroups, history) is replaced in turn by what a power cut, a full disk or a careless
user leaves: an empty file, another version, a directory, a file over the size limit, a FIFO
(whose open() used to block mgd with its signals masked). mgd must start, answer STATUS, and
have moved the thing aside as NAME.corrupt-TIME with one log line; mgd-thaw must return.

usage: test-state.py BUILD_DIR
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from mgdtest import FakePressure, Mgd, Session, Tap, scratch, wait_for  # noqa: E402

CONFIG = "[defaults]\nfast_tick = 200ms\nslow_tick = 500ms\n"


def damage(state, name, kind):
    os.makedirs(state, mode=0o700, exist_ok=True)
    path = os.path.join(state, name)
    if kind == 'fifo':
        os.mkfifo(path, 0o600)
    elif kind == 'directory':
        os.mkdir(path, 0o700)
    else:
        text = {'empty': b'', 'version': f'mgd-{name} 99\n'.encode(),
                'huge': b'mgd-registry 1\n' + b'x' * (5 << 20)}[kind]
        with open(path, 'wb') as f:
            f.write(text)


def set_aside(state, name):
    return [f for f in os.listdir(state) if f.startswith(name + '.corrupt-')]


CASES = [('registry', 'empty'), ('registry', 'version'), ('registry', 'directory'),
         ('registry', 'huge'), ('registry', 'fifo'), ('cgroups', 'fifo'), ('cgroups', 'version'),
         ('history', 'fifo'), ('history', 'directory')]


def check_mgd(tap, build, tmp, sess, fake, name, kind):
    case = os.path.join(tmp, f'mgd-{name}-{kind}')
    mgd = Mgd(build, case, sess.name, fake.root, CONFIG)
    damage(mgd.state, name, kind)
    try:
        started = mgd.start()
        st = mgd.mgctl('status', timeout=5) if started else None
        tap.ok(started and st.returncode == 0, f'mgd starts and answers with a {kind} {name}',
               mgd.text()[-1500:])
        aside = set_aside(mgd.state, name)
        tap.ok(len(aside) == 1 and 'moved aside as' in mgd.text(),
               f'the {kind} {name} is moved aside and logged', f'{os.listdir(mgd.state)}\n' + mgd.text()[-800:])
    finally:
        mgd.stop(timeout=10)


def check_thaw(tap, build, tmp, name, kind):
    state = os.path.join(tmp, f'thaw-{name}-{kind}', 'state')
    damage(state, name, kind)
    try:
        r = subprocess.run([os.path.join(build, 'daemon', 'mgd-thaw'), '--state-dir', state],
                           capture_output=True, text=True, timeout=10)
        out = r.stdout + r.stderr
        tap.ok(r.returncode in (0, 1) and len(set_aside(state, name)) == 1 and 'moved aside' in out,
               f'mgd-thaw returns on a {kind} {name} and moves it aside', f'rc {r.returncode}: {out}')
    except subprocess.TimeoutExpired:
        tap.ok(False, f'mgd-thaw returns on a {kind} {name} and moves it aside', 'hung for 10 s')


def check_state_dir(tap, build, tmp, sess, fake):
    """A state directory mgd does not own alone is refused: as root, one a user owns above all."""
    for what, owner, mode in (('owned by uid 65534', 65534, 0o700), ('of mode 0755', 0, 0o755)):
        if owner and os.geteuid() != 0:
            tap.skip(f'a state directory {what} is refused', 'chown needs root')
            continue
        case = os.path.join(tmp, f'dir-{owner}-{mode:o}')
        mgd = Mgd(build, case, sess.name, fake.root, CONFIG)
        os.makedirs(mgd.state, mode=0o700)
        with open(os.path.join(mgd.state, 'registry'), 'w') as f:
            f.write(f'mgd-registry 1\npid=1 starttime={starttime(1)} how=sigstop since=1 priority=50 '
                    'footprint_kb=1 restore_failures=0 name=init\n')
        os.chown(mgd.state, owner, owner)
        os.chmod(mgd.state, mode)
        started = mgd.start()
        rc = mgd.stop(timeout=10)
        want = ('refusing to manage processes from a state directory root does not own' if owner
                else 'is accessible to group or others')
        tap.ok(not started and rc == 4 and want in mgd.text(), f'a state directory {what} is refused (exit 4)',
               f'rc {rc}\n' + mgd.text()[-800:])


CALM = CONFIG + "calm_to_normal = 1s\ncalm_step = 1s\nthaw_min_frozen = 1s\n"


def check_thaw_gives_up(tap, build, tmp, sess, fake):
    """An entry whose thaw can never work is tried REGISTRY_THAW_TRIES (3) times, then dropped once."""
    p = sess.spawn('gimp', 4, scope='app-gimp-itest.scope')
    rel = p.cgroup[len(sess.root):]
    root = os.path.join(tmp, 'cg')
    os.makedirs(os.path.join(root + rel, 'cgroup.freeze'))     # a directory: every write fails
    mgd = Mgd(build, os.path.join(tmp, 'gives-up'), sess.name, fake.root, CALM, extra=['--cgroup2-root', root])
    os.makedirs(mgd.state, mode=0o700)
    with open(os.path.join(mgd.state, 'registry'), 'w') as f:
        f.write(f'mgd-registry 1\npid={p.pid} starttime={starttime(p.pid)} how=cgroup since=1 priority=50 '
                f'footprint_kb=1 restore_failures=0 name=gimp cgroup={rel}\n')
    try:
        tap.ok(mgd.start(), 'mgd starts with an entry it cannot thaw', mgd.text()[-800:])
        gave_up = wait_for(lambda: 'Giving up on pid' in mgd.text(), 10)
        time.sleep(3)
        tries = [a for a in mgd.actions('thaw') if a.get('pid') == str(p.pid)]
        tap.ok(gave_up and len(tries) == 3 and mgd.text().count('Giving up on pid') == 1,
               'a thaw that always fails is tried 3 times, then dropped with one log line',
               f'{len(tries)} thaw attempts\n' + mgd.text()[-1500:])
        listed = mgd.mgctl('list', timeout=5)
        tap.ok(listed.returncode == 0 and str(p.pid) not in listed.stdout, 'mgctl list no longer shows it',
               listed.stdout + listed.stderr)
        with open(os.path.join(mgd.state, 'registry')) as f:
            tap.ok(f'pid={p.pid} ' not in f.read(), 'and the registry file forgets it')
    finally:
        mgd.stop(timeout=10)


def vm_kb(pid, key):
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith(key + ':'):
                return int(line.split()[1])
    return 0


def check_reload_huge_line(tap, build, tmp, sess, fake):
    """A 200 MiB line on RELOAD is refused unread: the old configuration stays, memory stays small."""
    mgd = Mgd(build, os.path.join(tmp, 'reload'), sess.name, fake.root, CONFIG + 'log_keep = 7\n')
    try:
        tap.ok(mgd.start(), 'mgd starts for the RELOAD check', mgd.text()[-800:])
        before = vm_kb(mgd.p.pid, 'VmHWM')
        with open(mgd.config, 'w') as f:
            f.write('[defaults]\nlog_keep = ')
            f.truncate(200 << 20)          # one 200 MiB line, sparse: no disk, all memory if read whole
        t0 = time.monotonic()
        r = mgd.mgctl('reload', timeout=20)
        took = time.monotonic() - t0
        after = vm_kb(mgd.p.pid, 'VmHWM')
        tap.ok(r.returncode != 0 and 'line too long' in r.stdout + r.stderr,
               'RELOAD refuses the over-long line', r.stdout + r.stderr)
        tap.ok(after - before < 16 * 1024 and took < 2,
               f'without reading it: peak RSS {before} -> {after} kB, {took * 1000:.0f} ms', mgd.text()[-500:])
        st = mgd.mgctl('status', timeout=5)
        tap.ok(st.returncode == 0 and 'reload refused, keeping the running configuration' in mgd.text(),
               'the old configuration stays in force and mgd answers', st.stdout + st.stderr)
    finally:
        mgd.stop(timeout=10)


def starttime(pid):
    with open(f'/proc/{pid}/stat') as f:
        return f.read().rsplit(')', 1)[1].split()[19]


def main():
    build = os.path.abspath(sys.argv[1])
    tap = Tap()
    tmp = scratch('mgd-statetest-')
    fake = FakePressure(os.path.join(tmp, 'p'))
    sess = Session(os.path.join(build, 'tests', 'daemon', 'fakeproc'))
    try:
        check_state_dir(tap, build, tmp, sess, fake)
        check_thaw_gives_up(tap, build, tmp, sess, fake)
        check_reload_huge_line(tap, build, tmp, sess, fake)
        for name, kind in CASES:
            check_mgd(tap, build, tmp, sess, fake, name, kind)
        for name, kind in CASES:
            if name != 'history':       # mgd-thaw does not read the history
                check_thaw(tap, build, tmp, name, kind)
    finally:
        fake.close()
        sess.cleanup()
    return tap.done()


if __name__ == '__main__':
    sys.exit(main())
