#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""mgd itself driving its helpers, end to end, on this host: real processes, a real criu, a real
zram swap of the test's own.

  * At Elevated mgd compacts the zram pool through mgd-zram-helper: the kernel's own
    pages_compacted counter of the device grows.
  * At Critical, apps whose entries say `checkpoint = true` are checkpointed through
    mgd-checkpoint-helper and criu (criu ends them), recorded in the registry (file and
    `mgctl list`); one whose criu dump fails for real (it holds an established TCP connection,
    which criu refuses without --tcp-established) is killed instead, and the log names the exact
    command that would fix criu's grant.
  * Back at Normal nothing is restored while MemAvailable is short of the reserve; with room the
    two are restored by mgd one at a time, most important first, each under its old pid, in its
    own scope again, counting on from where it was dumped.
  * Calm, nothing held: mgd cycles the zram swap through mgd-swap-helper (swapoff/swapon): the
    pages are back in RAM, the swap is on again with its priority, the filler alive.

Where and why here: criu is the thing proven, and on this machine kind only trixie's criu 4.1
works on the host kernel (testbed.md section 6; criu-env.sh provides it as $MGD_TEST_CRIU, the
one test hook used: this test build passes MGD_TEST_* to the helpers, every other build ignores
them). The guest's bookworm criu would work too, but under TCG each phase costs seconds, and
this test holds the level at Critical and at Normal on cue, which only a scripted pressure root
can do: real stall ends as soon as mgd acts (the level machine on real PSI is proven by
host-pressure and vm-incident-mgd). So mgd reads PSI and MemAvailable from a fake pressure root
(with the machine's real SwapTotal/SwapFree), while everything it acts on is real: the
processes, criu, /proc/swaps, the zram device and its sysfs files, swapoff/swapon. mgd and its
helpers run as root here (the checkpoint helper then needs no file capabilities on criu); the
unprivileged grants are proven in the guest (vm-privileged).

Root on this host lacks CAP_SYS_RESOURCE in every bounding set, which criu's restorer can only
reproduce for a task with no_new_privs: the apps set it (ckpt-app.c).

usage: criu-env.sh test-host-privileged.py BUILD_DIR
"""
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from mgdtest import (FakePressure, Mgd, Tap, Zram, cgroup2_root, read_text, scratch, skip,  # noqa: E402
                     v1_memory_cgroup, wait_for, write_text)

GIB = 1024 * 1024
FILL_MIB = 1024
FILLER_LIMIT = 64 * 1024 * 1024
ZRAM_COMPACT_MIN_USED = 128 << 20      # privileged.c: below this mgd does not ask
APPS = (('a', 40), ('b', 45))          # (name suffix, priority): a is the more important
# P = 0.55 * stall + 0.20 * swap used (the real swap: up to about half full here) + ...: the
# thresholds keep 15 % stall at Elevated and 60 % at Critical whatever the swap holds.
CONFIG = """[defaults]
elevated_threshold = 0.05
high_threshold = 0.30
critical_threshold = 0.32
emergency_threshold = 0.60
fast_tick = 200ms
slow_tick = 500ms
calm_to_normal = 3s
calm_step = 1s
target_available_pct = 15
min_footprint_mb = 1
log_keep = 2

[app "e2e-a"]
pattern = ^e2e-ckpt-a$
priority = 40
checkpoint = true

[app "e2e-b"]
pattern = ^e2e-ckpt-b$
priority = 45
checkpoint = true

[app "e2e-tcp"]
pattern = ^e2e-tcp$
priority = 50
checkpoint = true
"""


def alive(pid):
    try:
        os.kill(pid, 0)
        return not read_text(f'/proc/{pid}/stat').split(') ')[1].startswith(('Z', 'X'))
    except (ProcessLookupError, FileNotFoundError):
        return False


def count(path):
    try:
        return int(read_text(path).strip() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def unified_cgroup(pid):
    for line in read_text(f'/proc/{pid}/cgroup').splitlines():
        if line.startswith('0::'):
            return line[3:]
    return None


class Listener:
    """127.0.0.1:PORT holding every connection it accepts, for the app criu cannot dump."""

    def __init__(self):
        self.s = socket.socket()
        self.s.bind(('127.0.0.1', 0))
        self.s.listen(4)
        self.port = self.s.getsockname()[1]
        self.conns = []
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            try:
                self.conns.append(self.s.accept()[0])
            except OSError:
                return


class Tree:
    """The cgroup2 tree: a session of uid 0 the test owns, with mgd in app.slice/mgd.service
    and each app in a scope of its own; the filler outside it, with a v1 memory limit."""

    def __init__(self, cg2, name):
        self.base = os.path.join(cg2, name)
        self.apps = os.path.join(self.base, 'user-0.slice', 'user@0.service', 'app.slice')
        self.filler = os.path.join(cg2, name + '-filler')
        self.dirs = [self.base, os.path.dirname(os.path.dirname(self.apps)), os.path.dirname(self.apps),
                     self.apps, self.scope('mgd.service'), self.filler]
        for d in self.dirs:
            os.mkdir(d)
        self.mem1 = None
        parent = v1_memory_cgroup()
        if parent and os.path.isdir(parent):
            self.mem1 = os.path.join(parent, name + '-filler')
            os.mkdir(self.mem1)
            write_text(os.path.join(self.mem1, 'memory.limit_in_bytes'), str(FILLER_LIMIT))
            self.dirs.append(self.mem1)

    def scope(self, leaf):
        return os.path.join(self.apps, leaf)

    def add_scope(self, leaf):
        os.mkdir(self.scope(leaf))
        self.dirs.insert(len(self.dirs) - (2 if self.mem1 else 1), self.scope(leaf))
        return self.scope(leaf)

    def remove(self):
        for d in reversed(self.dirs):
            if os.path.isdir(d):
                wait_for(lambda: not read_text(os.path.join(d, 'cgroup.procs')).strip(), 5)
                os.rmdir(d)


def joiner(*dirs):
    def enter():
        for d in dirs:
            write_text(os.path.join(d, 'cgroup.procs'), '0')
    return enter


class ImageHome:
    """The checkpoint helper writes images under the real home of uid 0: remove afterwards only
    what this test made there."""

    def __init__(self):
        self.base = os.path.join(pwd.getpwuid(0).pw_dir, '.local', 'state', 'mgd', 'checkpoints')
        self.existing = set()
        d = self.base
        self.made = []
        while not os.path.isdir(d):
            self.made.append(d)
            d = os.path.dirname(d)
        if os.path.isdir(self.base):
            self.existing = set(os.listdir(self.base))

    def images(self):
        return set(os.listdir(self.base)) - self.existing if os.path.isdir(self.base) else set()

    def clean(self):
        for i in self.images():
            shutil.rmtree(os.path.join(self.base, i), ignore_errors=True)
        for d in self.made:
            try:
                os.rmdir(d)
            except OSError:
                pass


def start_app(build, tree, name, tmp, port=None):
    scope = tree.add_scope(f'app-{name}.scope')
    counter = os.path.join(tmp, name + '.count')
    args = [os.path.join(build, 'tests', 'pressure', 'ckpt-app'), name, '16', counter]
    if port:
        args.append(str(port))
    p = subprocess.run(args, preexec_fn=joiner(scope), capture_output=True, text=True, check=True)
    pid = int(p.stdout.strip())
    wait_for(lambda: count(counter) >= 3, 5)
    return {'name': name, 'pid': pid, 'scope': scope, 'counter': counter}


def registry_lines(mgd):
    try:
        return read_text(os.path.join(mgd.state, 'registry')).splitlines()[1:]
    except FileNotFoundError:
        return []


RECLAIMED = re.compile(r'Swap reclaim(: \d+ MiB pulled back| refused or failed)')


def restore_events(text):
    """('req', pid) for each restore mgd asked the helper for, ('ok', pid) for each that came back."""
    out = []
    for line in text.splitlines():
        m = re.search(r'Restoring pid (\d+) ', line)
        if m:
            out.append(('req', m.group(1)))
        m = re.search(r'action: restore pid=(\d+) .*result=ok', line)
        if m:
            out.append(('ok', m.group(1)))
    return out


def phase_compaction(tap, mgd, fake, zram):
    before = zram.mm_stat()
    fake.set(stall=0.15, avail_kb=2 * GIB)
    tap.ok(wait_for(lambda: 'zram compacted:' in mgd.text(), 15),
           'at Elevated mgd has the zram pool compacted through mgd-zram-helper', mgd.text()[-2000:])
    after = zram.mm_stat()
    m = re.search(r'zram compacted: (\d+) -> (\d+) KiB', mgd.text())
    tap.ok(after[6] > before[6] and m and int(m.group(2)) < int(m.group(1)),
           f'the kernel compacted the device: pages_compacted {before[6]} -> {after[6]}, '
           f'pool {m.group(1) if m else "?"} -> {m.group(2) if m else "?"} KiB', f'{before} {after}')


def phase_critical(tap, mgd, fake, apps, tcp, criu):
    fake.set(stall=0.6, avail_kb=GIB // 2)
    done = wait_for(lambda: not any(alive(a['pid']) for a in apps + [tcp]) and
                    sum('how=checkpoint' in line for line in registry_lines(mgd)) == len(apps), 40)
    tap.ok(done, 'at Critical the checkpoint apps are dumped and the failing one is gone',
           mgd.text()[-3000:])
    fix = f'sudo setcap cap_checkpoint_restore,cap_sys_ptrace+ep {criu}'
    tap.ok(re.search(r'criu dump failed: Input/output error\. If criu lost its capabilities.*: '
                     + re.escape(fix) + '$', mgd.text(), re.M) is not None,
           f'a failed criu dump logs the command that fixes the grant ({fix})', mgd.text()[-3000:])
    tap.ok('criu: Error' in mgd.text() and 'Connected TCP socket' in mgd.text(),
           "criu's own reason reaches mgd's log through the helper", mgd.text()[-3000:])
    acts = mgd.actions()
    tcp_acts = [a['action'] + ' ' + a['line'] for a in acts if a.get('pid') == str(tcp['pid'])]
    tap.ok(any(a.startswith('checkpoint ') and 'falling back to kill' in a for a in tcp_acts) and
           any(a.startswith('kill ') for a in tcp_acts),
           'the app criu could not dump is killed instead', '\n'.join(tcp_acts))
    for a in apps:
        ok = [x for x in acts if x['action'] == 'checkpoint' and x.get('pid') == str(a['pid'])
              and 'result=ok' in x['line']]
        reg = [line for line in registry_lines(mgd) if line.startswith(f'pid={a["pid"]} ')]
        tap.ok(ok and reg and 'how=checkpoint' in reg[0] and 'image=' in reg[0],
               f'{a["name"]} (pid {a["pid"]}) checkpointed by criu and recorded in the registry',
               '\n'.join(x['line'] for x in acts) + '\n' + '\n'.join(registry_lines(mgd)))
        a['at_dump'] = count(a['counter'])
    listing = mgd.mgctl('list').stdout
    tap.ok(all(str(a['pid']) in listing for a in apps) and listing.count('checkpoint') >= len(apps),
           'mgctl list shows both as checkpointed', listing)


def phase_restore(tap, mgd, fake, apps, home):
    mark = len(mgd.text())
    fake.set(stall=0.0, avail_kb=GIB // 2)
    tap.ok(wait_for(lambda: '-> normal' in mgd.text()[mark:], 20), 'calm: back to Normal', mgd.text()[-2000:])
    time.sleep(2)           # ten fast ticks at Normal, MemAvailable short of the reserve (half the target)
    status = mgd.mgctl('status').stdout
    tap.ok(re.search(r'^level +normal$', status, re.M) and re.search(rf'^checkpointed +{len(apps)}$', status, re.M)
           and not mgd.actions('restore') and 'Restoring pid' not in mgd.text()
           and len(home.images()) == len(apps) and len(registry_lines(mgd)) == len(apps),
           'no restore while MemAvailable is short of the reserve: images and registry kept',
           status + mgd.text()[-2000:])
    tap.ok(not RECLAIMED.search(mgd.text()),
           'no swap reclaim tried while under pressure or while anything is held', mgd.text()[-2000:])
    fake.set(avail_kb=8 * GIB)
    tap.ok(wait_for(lambda: all(alive(a['pid']) for a in apps) and not registry_lines(mgd), 30),
           'with headroom every checkpoint is restored and the registry is empty', mgd.text()[-3000:])
    ev = restore_events(mgd.text())
    oks = [p for k, p in ev if k == 'ok']
    first_ok = ev.index(('ok', oks[0])) if oks else len(ev)
    second = str(apps[1]['pid'])
    tap.ok(oks == [str(a['pid']) for a in apps] and ('req', second) not in ev[:first_ok]
           and ('req', second) in ev[first_ok:],
           'restored one at a time, the more important first: the second asked for only after the first '
           'came back', '\n'.join(f'{k} {p}' for k, p in ev))
    time.sleep(0.5)
    root = cgroup2_root()
    for a in apps:
        now = count(a['counter'])
        cg = unified_cgroup(a['pid'])
        tap.ok(a['at_dump'] < now < a['at_dump'] + 100 and cg == a['scope'][len(root):],
               f'{a["name"]} runs on under pid {a["pid"]} in its own scope, counting on from {a["at_dump"]} '
               f'(now {now})', f'cgroup {cg}')
    tap.ok(not home.images(), "restored images are removed from the user's checkpoint directory",
           str(home.images()))


def phase_swap_reclaim(tap, mgd, zram, filler, before):
    tap.ok(wait_for(lambda: 'MiB pulled back from' in mgd.text(), 30),
           'calm with nothing held: mgd cycles the zram swap through mgd-swap-helper', mgd.text()[-2000:])
    after = zram.mm_stat()
    line = zram.swaps_line()
    tap.ok(after[0] < before[0] // 50 and line and line[-1] == '100' and filler.poll() is None,
           f'the pages are back in RAM ({before[0] >> 20} -> {after[0] >> 20} MiB in zram), the swap is on '
           f'again with priority 100, the filler lives', f'{before} {after} {line}')


def main():
    build = os.path.abspath(sys.argv[1])
    criu = os.environ.get('MGD_TEST_CRIU')
    unusable = os.environ.get('MGD_TEST_CRIU_UNUSABLE')
    if os.geteuid() != 0:
        skip('needs root for zram swap, cgroups and swapoff')
    if not criu:
        print('run me through criu-env.sh: MGD_TEST_CRIU is not set', file=sys.stderr)
        return 1
    cg2 = cgroup2_root()
    if not cg2:
        skip('no cgroup2 mount')
    tap = Tap()
    tmp = scratch('mgd-e2e-')
    name = f'mgd-e2e-{os.getpid()}'
    zram = tree = mgd = filler = fake = tcp = None
    apps, home = [], ImageHome()
    try:
        zram = Zram('1536M')
        tree = Tree(cg2, name)
        filler = subprocess.Popen([os.path.join(build, 'tests', 'workloads', 'mgw-zfill'), '-m', str(FILL_MIB),
                                   '-R', '30', '-F', '4', '-n', 'e2e-filler'], stdout=subprocess.PIPE,
                                  preexec_fn=joiner(*[d for d in (tree.filler, tree.mem1) if d]))
        ready = filler.stdout.readline().strip() == b'ready'
        if tree.mem1:       # the swap helper must find room in every memory cgroup later
            write_text(os.path.join(tree.mem1, 'memory.limit_in_bytes'), '-1')
        st = zram.mm_stat()
        tap.ok(ready and st[2] >= ZRAM_COMPACT_MIN_USED,
               f'the filler left {st[0] >> 20} MiB in our zram swap, pool {st[2] >> 20} MiB', str(st))
        listener = Listener()
        apps = [start_app(build, tree, f'e2e-ckpt-{s}', tmp) for s, _ in APPS]
        tcp = start_app(build, tree, 'e2e-tcp', tmp, listener.port)

        fake = FakePressure(os.path.join(tmp, 'p'), real_swap=True)
        fake.set(stall=0.15, avail_kb=2 * GIB)     # not calm from the first tick: no swap reclaim yet
        mgd = Mgd(build, tmp, name, fake.root, CONFIG,
                  extra=['--helper-dir', os.path.join(build, 'helpers'), '--pressure-cgroup', fake.root])
        mgd.args.remove('--no-helpers')
        mgd.env = {k: v for k, v in mgd.env.items() if not k.startswith('MGD_TEST_')}
        mgd.env.update(MGD_TEST_CRIU=criu, HOME=pwd.getpwuid(0).pw_dir)
        os.symlink('pressure/memory', os.path.join(fake.root, 'memory.pressure'))
        mgd.preexec = joiner(tree.scope('mgd.service'))
        tap.ok(mgd.start(), 'mgd starts with its helpers', mgd.text())

        def features_on():
            out = mgd.mgctl('status').stdout
            return all(re.search(rf'^{k} +yes$', out, re.M) for k in ('checkpoint', 'zram_compact', 'swap_reclaim'))
        tap.ok(wait_for(features_on, 10), 'mgctl status: checkpoint, zram_compact and swap_reclaim are on',
               mgd.mgctl('status').stdout + mgd.text())

        phase_compaction(tap, mgd, fake, zram)
        if unusable:
            # criu-env.sh's probe: this host's criu cannot dump and restore even from a shell
            for desc in ('at Critical the checkpoint apps are dumped (phase_critical)',
                         'with headroom every checkpoint is restored, one at a time (phase_restore)'):
                tap.skip(desc, unusable)
            for a in apps + [tcp]:
                os.kill(a['pid'], signal.SIGKILL)
            swapped = zram.mm_stat()
            fake.set(stall=0.0, avail_kb=8 * GIB)
        else:
            phase_critical(tap, mgd, fake, apps, tcp, criu)
            swapped = zram.mm_stat()
            phase_restore(tap, mgd, fake, apps, home)
        phase_swap_reclaim(tap, mgd, zram, filler, swapped)
    finally:
        if mgd:
            mgd.stop()
        if fake:
            fake.close()
        for a in apps + ([tcp] if tcp else []):
            if alive(a['pid']):
                os.kill(a['pid'], signal.SIGKILL)
        if filler and filler.poll() is None:
            filler.kill()
            filler.wait()
        if tree:
            tree.remove()
        if zram:
            zram.close()
        home.clean()
        shutil.rmtree(tmp, ignore_errors=True)
    return tap.done()


if __name__ == '__main__':
    sys.exit(main())
