# SPDX-License-Identifier: GPL-2.0-only
"""Shared pieces of mgd's integration tests: TAP output, a fake pressure root the test rewrites,
fake desktop processes in a cgroup2 directory of the test's own, and running mgd and mgctl."""
import atexit
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

MIB = 1024


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, desc, detail=''):
        self.n += 1
        if cond:
            print(f'ok {self.n} - {desc}', flush=True)
        else:
            self.failed += 1
            print(f'not ok {self.n} - {desc}', flush=True)
            for line in str(detail).splitlines()[-40:]:
                print(f'# {line}', flush=True)
        return cond

    def skip(self, desc, reason):
        """A check the host cannot run (a probe said so): counted as a skip, with the reason."""
        self.n += 1
        print(f'ok {self.n} - {desc} # SKIP {reason}', flush=True)

    def done(self):
        print(f'1..{self.n}', flush=True)
        return 1 if self.failed else 0


def cgroup2_root():
    with open('/proc/self/mountinfo') as f:
        mounts = [l.split() for l in f]
    roots = []
    for m in mounts:
        sep = m.index('-')
        if m[sep + 1] == 'cgroup2' and m[3] == '/':
            roots.append(m[4])
    for pref in ('/sys/fs/cgroup', '/sys/fs/cgroup/unified'):
        if pref in roots:
            return pref
    return roots[0] if roots else None


def proc_state(pid):
    try:
        with open(f'/proc/{pid}/stat') as f:
            s = f.read()
        return s[s.rindex(')') + 2]
    except (FileNotFoundError, ProcessLookupError):
        return None


def cgroup_frozen(path):
    try:
        with open(os.path.join(path, 'cgroup.events')) as f:
            for line in f:
                k, v = line.split()
                if k == 'frozen':
                    return v == '1'
    except FileNotFoundError:
        return None
    return None


def scratch(prefix):
    """A private temporary directory, removed when the test exits (MGD_TEST_KEEP=1 keeps it, and
    says where): tests leave nothing behind in /tmp."""
    d = tempfile.mkdtemp(prefix=prefix)

    def remove():
        if os.environ.get('MGD_TEST_KEEP') == '1':
            print(f'# kept: {d}', flush=True)
        else:
            shutil.rmtree(d, ignore_errors=True)
    atexit.register(remove)
    return d


def skip(reason):
    print(f'1..0 # SKIP {reason}', flush=True)
    sys.exit(77)


def read_text(path):
    with open(path) as f:
        return f.read()


def write_text(path, text):
    with open(path, 'w') as f:
        f.write(text)


class Zram:
    """A zram swap device of the test's own (hot_add), so nothing else's swap is touched; close()
    turns it off and removes it. Reading hot_add creates the device: done here only."""

    def __init__(self, disksize='1G', priority=100):
        ctl = '/sys/class/zram-control/hot_add'
        if not os.path.exists(ctl):
            skip('the kernel has no zram hot_add (no zram)')
        self.idx = int(read_text(ctl).strip())
        self.dev = f'/dev/zram{self.idx}'
        self.sys = f'/sys/block/zram{self.idx}'
        wait_for(lambda: os.path.exists(self.dev), 5)
        write_text(f'{self.sys}/disksize', disksize)
        subprocess.run(['mkswap', self.dev], check=True, capture_output=True)
        subprocess.run(['swapon', '-p', str(priority), self.dev], check=True)

    def mm_stat(self):
        """orig_data_size, compr_data_size, mem_used_total, ..., pages_compacted (index 6)."""
        return [int(v) for v in read_text(f'{self.sys}/mm_stat').split()]

    def swaps_line(self):
        for line in read_text('/proc/swaps').splitlines()[1:]:
            if line.split()[0] == self.dev:
                return line.split()
        return None

    def close(self):
        subprocess.run(['swapoff', self.dev], capture_output=True)
        try:
            write_text(f'{self.sys}/reset', '1')
            write_text('/sys/class/zram-control/hot_remove', str(self.idx))
        except OSError:
            pass


def v1_memory_cgroup():
    """This process's cgroup v1 memory directory, or None without a v1 memory hierarchy."""
    for line in read_text('/proc/self/cgroup').splitlines():
        hid, ctrls, path = line.split(':', 2)
        if 'memory' in ctrls.split(','):
            return '/sys/fs/cgroup/memory' + path
    return None


def wait_for(pred, timeout, step=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


def meminfo_kb(key, path='/proc/meminfo'):
    with open(path) as f:
        for line in f:
            if line.startswith(key + ':'):
                return int(line.split()[1])
    return 0


class FakePressure:
    """A pressure root (pressure/memory, meminfo, vmstat) whose stall totals grow at the rate
    the test sets, rewritten atomically every 100 ms as the kernel's would change. With
    real_swap, SwapTotal and SwapFree are the machine's own (a test with a real swap device)."""

    def __init__(self, root, mem_total_kb=16 * 1024 * 1024, real_swap=False):
        self.root = root
        os.makedirs(os.path.join(root, 'pressure'), exist_ok=True)
        self.real_swap = real_swap
        self.total = mem_total_kb
        self.avail = mem_total_kb // 2
        self.stall = 0.0
        self.some = 0
        self.full = 0
        self.lock = threading.RLock()
        self.stop = False
        self._write()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def set(self, stall=None, avail_kb=None):
        with self.lock:
            if stall is not None:
                self.stall = stall
            if avail_kb is not None:
                self.avail = avail_kb
        self._write()

    def _atomic(self, name, text):
        path = os.path.join(self.root, name)
        tmp = path + '.tmp'
        with open(tmp, 'w') as f:
            f.write(text)
        os.rename(tmp, path)

    def _write(self):
        with self.lock:     # the writer thread and set() share the .tmp names
            self._write_locked()

    def _write_locked(self):
        avg = self.stall * 100
        swap_total = meminfo_kb('SwapTotal') if self.real_swap else 0
        swap_free = meminfo_kb('SwapFree') if self.real_swap else 0
        psi = (f'some avg10={avg:.2f} avg60={avg:.2f} avg300={avg:.2f} total={self.some}\n'
               f'full avg10={avg * 0.8:.2f} avg60={avg * 0.8:.2f} avg300={avg * 0.8:.2f} total={self.full}\n')
        mem = (f'MemTotal:       {self.total} kB\nMemFree:        {self.avail // 2} kB\n'
               f'MemAvailable:   {self.avail} kB\nBuffers:        1000 kB\nCached:         {self.avail // 2} kB\n'
               f'SwapCached:     0 kB\nActive(file):   1000 kB\nInactive(file): 1000 kB\n'
               f'AnonPages:      1000 kB\nShmem:          1000 kB\n'
               f'SwapTotal:      {swap_total} kB\nSwapFree:       {swap_free} kB\n')
        self._atomic('pressure/memory', psi)
        self._atomic('meminfo', mem)
        self._atomic('vmstat', 'pgmajfault 0\npswpin 0\npswpout 0\nworkingset_refault_anon 0\n'
                     'workingset_refault_file 0\n')

    def _run(self):
        last = time.monotonic()
        while not self.stop:
            time.sleep(0.1)
            now = time.monotonic()
            with self.lock:
                self.some += int(self.stall * (now - last) * 1e6)
                self.full += int(self.stall * 0.8 * (now - last) * 1e6)
                self._write_locked()
            last = now

    def close(self):
        self.stop = True
        self.t.join()


class Session:
    """Fake desktop processes in a cgroup2 directory that only this test uses."""

    def __init__(self, fakeproc):
        self.fakeproc = fakeproc
        self.root = cgroup2_root()
        if not self.root:
            raise RuntimeError('no cgroup2 mount')
        self.name = f'mgd-itest-{os.getpid()}'
        self.dir = os.path.join(self.root, self.name)
        os.mkdir(self.dir)
        self.procs = []
        self.scopes = []

    def spawn(self, name, mib, grow=0, maxmib=0, scope=None, ignore_term=False):
        args = [self.fakeproc, name, str(mib)]
        if grow:
            args += [str(grow), str(maxmib or mib)]
        if ignore_term:
            args.append('--ignore-term')
        p = self.spawn_cmd(args, name, scope=scope, stdout=subprocess.PIPE)
        p.stdout.readline()     # fakeproc says when its memory is touched
        return p

    def spawn_cmd(self, args, name, scope=None, stdout=None):
        """Any program, started inside the session (or a scope of it)."""
        target = self.dir
        if scope:
            target = os.path.join(self.dir, scope)
            os.mkdir(target)
            self.scopes.append(target)

        def enter():
            with open(os.path.join(target, 'cgroup.procs'), 'w') as f:
                f.write('0')
        p = subprocess.Popen(args, stdout=stdout, preexec_fn=enter)
        p.cgroup = target
        p.comm = name
        self.procs.append(p)
        return p

    def cleanup(self):
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.kill(p.pid, signal.SIGCONT)
                    os.kill(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for sc in self.scopes:
            try:
                with open(os.path.join(sc, 'cgroup.freeze'), 'w') as f:
                    f.write('0')
            except OSError:
                pass
        for p in self.procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        for sc in self.scopes:
            wait_for(lambda: not open(os.path.join(sc, 'cgroup.procs')).read().strip(), 5)
            os.rmdir(sc)
        wait_for(lambda: not open(os.path.join(self.dir, 'cgroup.procs')).read().strip(), 5)
        os.rmdir(self.dir)


class Mgd:
    """mgd on a private runtime dir, state dir and configuration, reading the fake pressure."""

    def __init__(self, build, tmp, session, pressure_root, config_text, extra=()):
        self.build = build
        self.tmp = tmp
        self.run_dir = os.path.join(tmp, 'run')
        os.makedirs(self.run_dir, mode=0o700, exist_ok=True)
        os.chmod(self.run_dir, 0o700)
        self.state = os.path.join(tmp, 'state')
        self.sock = os.path.join(self.run_dir, 'mgd.sock')
        self.config = os.path.join(tmp, 'mgd.conf')
        with open(self.config, 'w') as f:
            f.write(config_text)
        self.log = os.path.join(tmp, 'mgd.log')
        self.args = [os.path.join(build, 'daemon', 'mgd'), '-v', '--no-helpers', '--no-mlock',
                     *(['--pressure-root', pressure_root] if pressure_root else []), '--session', session,
                     '--state-dir', self.state, '--socket', self.sock, '--config', self.config,
                     '--system-config', os.path.join(tmp, 'no-system.conf'), *extra]
        self.env = dict(os.environ, XDG_RUNTIME_DIR=self.run_dir)
        self.env.pop('JOURNAL_STREAM', None)
        self.preexec = None             # run in the child before exec (e.g. join a cgroup)
        self.p = None

    def start(self):
        self.logf = open(self.log, 'a')
        self.p = subprocess.Popen(self.args, stdout=self.logf, stderr=self.logf, env=self.env,
                                  preexec_fn=self.preexec)
        ok = wait_for(lambda: os.path.exists(self.sock) or self.p.poll() is not None, 10)
        return ok and self.p.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.p and self.p.poll() is None:
            self.p.send_signal(sig)
            try:
                self.p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        if self.p:
            self.logf.close()
        return self.p.returncode if self.p else None

    def text(self):
        with open(self.log) as f:
            return f.read()

    def actions(self, action=None):
        """Parsed 'action:' lines of the log: dicts with time, action, pid, comm, ... ."""
        out = []
        for line in self.text().splitlines():
            if 'action: ' not in line:
                continue
            body = line.split('action: ', 1)[1]
            words = body.split(' ')
            d = {'action': words[0], 'line': body}
            for w in words[1:]:
                if '=' in w:
                    k, v = w.split('=', 1)
                    d.setdefault(k, v)
            if action is None or d['action'] == action:
                out.append(d)
        return out

    def mgctl(self, *args, timeout=10):
        return subprocess.run([os.path.join(self.build, 'client', 'mgctl'), '--socket', self.sock, *args],
                              capture_output=True, text=True, timeout=timeout, env=self.env)
