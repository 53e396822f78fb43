#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Metrics and verdicts from one guest run of the real-pressure scenarios.

The guest (tests/vm/guest/scenario.sh) only records; everything is computed here, on the host:

  pressure_analysis.py OUT_DIR               the run's metrics as JSON
  pressure_analysis.py --check-mgd OUT_DIR   the CI assertions on an mgd run: PASS/FAIL lines,
                                             exit status 1 if any failed

Every time is CLOCK_MONOTONIC of the guest in ms: the workloads' marks, the sampler's rows and
the journal's __MONOTONIC_TIMESTAMP share it; the busybox guest's kernel log uses the kernel's
boot clock, which is the same clock to within a few ms.

Who acted on whom comes from each arm's own log (mgd's structured journal fields, earlyoom's,
nohang's and systemd-oomd's messages, the kernel's OOM reports), and is checked against what the
instrument saw independently: the launcher's wait statuses and the sampler's freeze log.
"""
import gzip
import json
import os
import re
import sys

# The desktop.spec processes in the built-in table's 0-19 tier, and the scenario's protect
# entry (scenarios/mgd-*.conf); the IDE's main window is the foreground (meta foreground_pid).
SYSTEM_TIER = ('kwin_wayland', 'pipewire', 'wireplumber', 'plasmashell')
PROTECT_ENTRY = ('keepassxc',)
HOG = 'node'
NEWCOMERS = ('cargo', 'cef_server')
DESTRUCTIVE = ('kill', 'terminate', 'checkpoint')
STALL_ONSET_PCT = 10.0      # the stall began when a second held this much "some" stall
CALM_PCT = 10.0             # ... and was over after the last second above this
SIGNALS = {'1': 'SIGHUP', '2': 'SIGINT', '6': 'SIGABRT', '9': 'SIGKILL', '15': 'SIGTERM'}


class Action:
    """One thing an arm did to one process (or a cgroup, resolved to its process)."""

    def __init__(self, t, actor, kind, pid, name, priority=None, reason='', result='', level=''):
        self.t, self.actor, self.kind, self.pid, self.name = t, actor, kind, pid, name
        self.priority, self.reason, self.result, self.level = priority, reason, result, level

    def as_dict(self):
        return {k: v for k, v in vars(self).items() if v not in (None, '')}


def read_lines(path):
    """The file's lines, or of PATH.gz if only that exists (the benchmark compresses journals)."""
    try:
        with open(path, errors='replace') as f:
            return f.read().splitlines()
    except FileNotFoundError:
        pass
    try:
        with gzip.open(path + '.gz', 'rt', errors='replace') as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


class Run:
    def __init__(self, out):
        self.out = out
        self.meta = dict(line.split('=', 1) for line in read_lines(os.path.join(out, 'meta.txt')) if '=' in line)
        self.marks = []
        for line in read_lines(os.path.join(out, 'marks.txt')):
            t, _, label = line.partition(' ')
            self.marks.append((int(t), label))
        self._load_events()
        self._load_samples()
        self.frozen_log = []
        for line in read_lines(os.path.join(out, 'frozen.log')):
            f = line.split(' ', 4)
            if len(f) == 5:
                self.frozen_log.append((int(f[0]), f[1], int(f[2]), f[3], f[4]))
        self.final = []
        for line in read_lines(os.path.join(out, 'final.txt')):
            f = line.split(' ', 3)
            if len(f) == 4:
                self.final.append((int(f[0]), f[1], f[2] == '1', f[3]))
        self._load_probe()
        self.journal = self._load_journal()
        self.actions = sorted(self._actions(), key=lambda a: a.t)
        for a in self.actions:
            # A daemon's log line can reach the journal late (nohang's Python stdout is block-buffered);
            # a signal cannot come after the death it caused, so the victim's exit bounds it.
            t_exit, status = self.exits.get(a.pid, (None, ''))
            if a.kind in ('kill', 'terminate') and t_exit is not None and status.startswith('signal') and t_exit < a.t:
                a.t = t_exit
        self.actions.sort(key=lambda a: a.t)

    # ---- loading ------------------------------------------------------------------------------

    def _load_events(self):
        self.starts, self.exits, self.units = {}, {}, {}
        self.stopping = None
        for line in read_lines(os.path.join(self.out, 'launcher.events')):
            f = line.split(' ')
            if len(f) >= 3 and f[1] == 'launcher' and f[2] == 'stopping':
                self.stopping = int(f[0])
            elif len(f) >= 5 and f[1] == 'start':
                self.starts[int(f[2])] = (int(f[0]), ' '.join(f[4:]))
                self.units[f[3]] = int(f[2])
            elif len(f) >= 5 and f[1] == 'exit':
                self.exits[int(f[2])] = (int(f[0]), f[3])

    def _load_samples(self):
        lines = read_lines(os.path.join(self.out, 'samples.csv'))
        self.samples = []
        if not lines:
            return
        head = lines[0].split(',')
        for line in lines[1:]:
            f = line.split(',')
            if len(f) == len(head):
                self.samples.append({k: float(v) for k, v in zip(head, f)})

    def _load_probe(self):
        self.frames, self.probe_seconds, self.probe_summary = [], [], {}
        for line in read_lines(os.path.join(self.out, 'probe.txt')):
            f = line.split()
            if f and f[0] == 'F' and len(f) == 3:
                self.frames.append((int(f[1]), int(f[2])))
            elif f and f[0] == 'S':
                self.probe_summary = dict(x.split('=', 1) for x in f[1:] if '=' in x)
            elif len(f) == 3 and f[0].isdigit():
                self.probe_seconds.append((int(f[0]), int(f[1]), int(f[2])))

    def _load_journal(self):
        entries = []
        for line in read_lines(os.path.join(self.out, 'journal.json')):
            try:
                e = json.loads(line)
            except ValueError:
                continue
            msg = e.get('MESSAGE')
            if isinstance(msg, list):       # journalctl writes non-UTF-8 messages as byte arrays
                e['MESSAGE'] = bytes(b for b in msg if isinstance(b, int)).decode('utf-8', 'replace')
            elif msg is None:
                e['MESSAGE'] = ''
            e['t'] = int(e.get('__MONOTONIC_TIMESTAMP', 0)) // 1000
            entries.append(e)
        return entries

    # ---- who did what --------------------------------------------------------------------------

    def name_of(self, pid):
        return self.starts.get(pid, (0, '?'))[1]

    def pid_of_cgroup(self, path):
        return self.units.get(path.rstrip('/').rsplit('/', 1)[-1])

    def _actions(self):
        yield from self._kernel_actions()
        if self.journal:
            yield from self._journal_actions()
        for line in read_lines(os.path.join(self.out, 'daemon.log')):   # earlyoom, busybox guest
            t, _, msg = line.partition(' ')
            a = self._earlyoom(int(t), msg)
            if a:
                yield a

    def _kernel_actions(self):
        rx = re.compile(r'Killed process (\d+) \((.*?)\)')
        if self.journal:
            for e in self.journal:
                m = rx.search(e['MESSAGE']) if e.get('_TRANSPORT') == 'kernel' else None
                if m:
                    yield Action(e['t'], 'kernel', 'kill', int(m.group(1)), m.group(2), reason='OOM killer')
            return
        for line in read_lines(os.path.join(self.out, 'kernel.txt')):
            m = rx.search(line)
            ts = re.match(r'\[\s*(\d+)\.(\d+)\]', line)
            if m and ts:
                t = int(ts.group(1)) * 1000 + int(ts.group(2)[:3].ljust(3, '0'))
                yield Action(t, 'kernel', 'kill', int(m.group(1)), m.group(2), reason='OOM killer')

    def _earlyoom(self, t, msg):
        m = re.search(r'sending (SIG\w+) to process (\d+) uid \d+ "(.*?)"', msg)
        if not m:
            return None
        kind = 'kill' if m.group(1) == 'SIGKILL' else 'terminate'
        return Action(t, 'earlyoom', kind, int(m.group(2)), m.group(3), reason=msg.strip())

    def _journal_actions(self):
        nohang_victim = None
        for e in self.journal:
            ident, msg, t = e.get('SYSLOG_IDENTIFIER', ''), e['MESSAGE'], e['t']
            if 'MGD_ACTION' in e:
                yield self._mgd(e)
            elif ident == 'earlyoom':
                a = self._earlyoom(t, msg)
                if a:
                    yield a
            elif ident.startswith('nohang'):
                # "PID: 295, name: node, badness: 944" and the "Victim status" line name the victim
                m = re.search(r'PID:\s+(\d+), name:', msg)
                if m:
                    nohang_victim = int(m.group(1))
                m = re.search(r'Sending (SIG\w+) to the victim', msg)
                if m:
                    kind = 'kill' if m.group(1) == 'SIGKILL' else 'terminate'
                    pid = nohang_victim or 0
                    yield Action(t, 'nohang', kind, pid, self.name_of(pid), reason=msg.strip())
            elif ident == 'systemd-oomd':
                m = re.search(r'Killed (/\S+) due to (.*)', msg)
                if m:
                    pid = self.pid_of_cgroup(m.group(1)) or 0
                    name = self.name_of(pid) if pid else m.group(1)
                    yield Action(t, 'systemd-oomd', 'kill', pid, name, reason=m.group(2))

    def _mgd(self, e):
        prio = e.get('MGD_PRIORITY')
        kind = e['MGD_ACTION']
        if e.get('MGD_RESULT', '').startswith('exited'):
            # mgd's follow-up record when a killed process is gone ("exited after N ms"): not an action
            kind += '-done'
        return Action(e['t'], 'mgd', kind, int(e.get('MGD_PID') or 0), e.get('MGD_COMM', ''),
                      priority=int(prio) if prio not in (None, '') else None,
                      reason=e.get('MGD_REASON', ''), result=e.get('MGD_RESULT', ''),
                      level=e.get('MGD_LEVEL', ''))

    # ---- metrics ----------------------------------------------------------------------------------

    def mark(self, prefix):
        return next((t for t, label in self.marks if label.startswith(prefix)), None)

    def first_start(self, name):
        return min((t for t, n in self.starts.values() if n == name), default=None)

    def pids_named(self, name):
        return [pid for pid, (_, n) in self.starts.items() if n == name]

    def window(self):
        """From the launch of the desktop to the harness's stop."""
        return self.mark('launch'), self.mark('stop')

    def rows(self, start=None, end=None):
        return [r for r in self.samples if (start is None or r['t_ms'] >= start) and (end is None or r['t_ms'] <= end)]

    def stall_rate(self, key='some_us'):
        """(t, % of the last second stalled) for every sample."""
        out, rows = [], self.samples
        for i, r in enumerate(rows):
            j = i
            while j > 0 and r['t_ms'] - rows[j - 1]['t_ms'] <= 1000:
                j -= 1
            dt = r['t_ms'] - rows[j]['t_ms']
            if dt > 0:
                out.append((r['t_ms'], (r[key] - rows[j][key]) / 1000.0 / dt * 100.0))
        return out

    def trigger_time(self):
        """When the scenario's trouble starts: the hog, or the build."""
        return self.first_start(HOG) or self.first_start('cargo') or self.mark('launch')

    def outcome(self, pid):
        """'killed:SIGTERM', 'exited:N', 'alive' for a workload process (harness stop excluded)."""
        t, status = self.exits.get(pid, (None, None))
        if t is None or (self.stopping is not None and t >= self.stopping):
            return 'alive'
        kind, _, num = status.partition(':')
        return f'killed:{SIGNALS.get(num, "signal " + num)}' if kind == 'signal' else f'exited:{num}'

    def metrics(self):
        start, end = self.window()
        rows = self.rows(start, end)
        trigger = self.trigger_time()
        m = {'scenario': self.meta.get('scenario'), 'arm': self.meta.get('arm'), 'guest': self.meta.get('guest'),
             'seed': self.meta.get('seed'), 'mem_total_kb': int(self.meta.get('mem_total_kb', 0)),
             'swap_total_kb': int(self.meta.get('swap_total_kb', 0)), 'complete': bool(rows) and end is not None}
        if rows:
            for key, col in (('psi_some_ms', 'some_us'), ('psi_full_ms', 'full_us'),
                             ('session_some_ms', 'cg_some_us'), ('session_full_ms', 'cg_full_us')):
                m[key] = round((rows[-1][col] - rows[0][col]) / 1000.0)
            m['min_memavail_mb'] = round(min(r['memavail_kb'] for r in rows) / 1024)
            m['max_swap_used_mb'] = round(max(r['swapused_kb'] for r in rows) / 1024)
        m.update(self._timing(trigger, end))
        m.update(self._probe(trigger, end))
        m.update(self._who())
        m.update(self._completion(trigger))
        for key in ('daemon_rss_kb', 'daemon_hwm_kb', 'daemon_cpu_ms'):
            if key in self.meta:
                m[key] = int(self.meta[key])
        m['actions'] = [dict(a.as_dict(), t_rel_s=round((a.t - trigger) / 1000.0, 2)) for a in self.actions] \
            if trigger else [a.as_dict() for a in self.actions]
        return m

    def _timing(self, trigger, end):
        rate = [(t, p) for t, p in self.stall_rate() if trigger is not None and trigger <= t <= (end or t)]
        onset = next((t for t, p in rate if p >= STALL_ONSET_PCT), None)
        out = {'stall_onset_s': round((onset - trigger) / 1000.0, 2) if onset and trigger else None}
        if onset is None:
            out['first_action_s'] = None
            out['stall_duration_s'] = 0.0
        else:
            last_high = max(t for t, p in rate if p >= CALM_PCT)
            out['stall_duration_s'] = round((last_high - onset) / 1000.0, 2)
        acts = [a for a in self.actions if trigger is not None and a.t >= trigger and a.kind != 'thaw']
        out['first_action_s'] = round((acts[0].t - onset) / 1000.0, 2) if acts and onset else None
        return out

    def _probe(self, start, end):
        frames = [lat for t, lat in self.frames if start is not None and start <= t <= (end or t)]
        if frames:
            frames.sort()
            return {'probe_worst_ms': round(frames[-1] / 1000.0, 1),
                    'probe_p99_ms': round(frames[len(frames) * 99 // 100] / 1000.0, 1),
                    'probe_frames': len(frames)}
        seconds = [w for t, n, w in self.probe_seconds if start is not None and start <= t <= (end or t)]
        # the probe died before writing its frames (it was killed): per-second maxima only
        return {'probe_worst_ms': round(max(seconds) / 1000.0, 1) if seconds else None,
                'probe_p99_ms': None, 'probe_frames': 0}

    def _who(self):
        frozen = {}
        for t, kind, pid, how, name in self.frozen_log:
            if kind == 'frozen' and (self.stopping is None or t < self.stopping):
                frozen[pid] = name
        killed, untouched = {}, []
        for pid, (_, name) in sorted(self.starts.items()):
            o = self.outcome(pid)
            if o.startswith('killed'):
                killed[pid] = f'{name} ({o.split(":")[1]})'
            elif pid not in frozen:
                untouched.append(name)
        left = [f'{name} ({pid})' for pid, state, cg_frozen, name in self.final if state in ('T', 't') or cg_frozen]
        return {'killed': sorted(killed.values()), 'frozen': sorted(frozen.values()),
                'n_frozen': len(frozen), 'n_killed': len(killed), 'n_untouched': len(untouched),
                'left_frozen': left}

    def _completion(self, trigger):
        out = {}
        hog = self.pids_named(HOG)
        if hog:
            pid = hog[0]
            t_end = self.exits.get(pid, (None,))[0]
            out['hog_end'] = self.outcome(pid)
            out['hog_gone_s'] = round((t_end - self.starts[pid][0]) / 1000.0, 1) \
                if t_end and out['hog_end'] != 'alive' else None
        for line in read_lines(os.path.join(self.out, 'build.txt')):
            f = dict(x.split('=', 1) for x in line.split()[1:] if '=' in x)
            out['build_wall_s'] = round(int(f.get('wall_ms', 0)) / 1000.0, 1)
            out['build_workers_killed'] = int(f.get('signalled', 0))
            out['build_ok'] = f.get('ok') == f.get('workers')
        if self.pids_named('cargo') and 'build_wall_s' not in out and not hog:
            out['build_end'] = self.outcome(self.pids_named('cargo')[0])
        return out


# ---- the CI verdict on an mgd run --------------------------------------------------------------

def ticks(actions, gap_ms=250):
    """Group actions into the daemon's ticks: a tick's actions come within gap_ms of each other."""
    groups = []
    for a in actions:
        if groups and a.t - groups[-1][-1].t <= gap_ms:
            groups[-1].append(a)
        else:
            groups.append([a])
    return groups


class Checks:
    def __init__(self):
        self.results = []
        self.info = []

    def __call__(self, ok, text):
        self.results.append((bool(ok), text))

    def print(self):
        for text in self.info:
            print('INFO: ' + text)
        for ok, text in self.results:
            print(('PASS: ' if ok else 'FAIL: ') + text)
        return all(ok for ok, _ in self.results)


def untouched_check(check, run, mgd, pids, what):
    hit = [f'{a.kind} {a.name} ({a.pid})' for a in mgd if a.pid in pids]
    seen = sorted({f'{n} ({p}) frozen' for t, k, p, how, n in run.frozen_log if p in pids and k == 'frozen'} |
                  {f'{run.name_of(p)} ({p}) {run.outcome(p)}' for p in pids if run.outcome(p) != 'alive'})
    check(pids and not hit and not seen,
          f'{what} never signalled' + (f': mgd did {", ".join(hit)}' if hit else '') +
          (f'; seen: {", ".join(seen)}' if seen else '') + ('' if pids else ': none of them ran'))


def check_mgd(run, rss_max_kb, thaw_batch):
    check = Checks()
    stop = run.mark('stop')
    # what mgd did during the run; its clean-shutdown thaws after the harness's stop do not count
    mgd = [a for a in run.actions if a.actor == 'mgd' and (stop is None or a.t < stop)]
    acting = [a for a in mgd if a.kind not in ('thaw', 'restore') and not a.kind.endswith('-done')]
    m = run.metrics()
    check(m['complete'], f'the scenario ran to its end ({len(run.samples)} samples, marks: '
                         f'{", ".join(label for _, label in run.marks)})')
    check(acting, f'mgd acted: {len(acting)} actions ({", ".join(sorted({a.kind for a in acting})) or "none"})')

    system = [p for n in SYSTEM_TIER for p in run.pids_named(n)]
    untouched_check(check, run, mgd, system, 'the 0-19 tier (' + ', '.join(SYSTEM_TIER) + ')')
    low = [f'{a.kind} {a.name} prio {a.priority}' for a in acting if a.priority is not None and a.priority < 20]
    check(not low, 'no action on a priority below 20' + (': ' + ', '.join(low) if low else ''))
    untouched_check(check, run, mgd, [p for n in PROTECT_ENTRY for p in run.pids_named(n)],
                    'the protect entry (' + ', '.join(PROTECT_ENTRY) + ')')
    fg = int(run.meta.get('foreground_pid', 0) or 0)
    reply = ' '.join(read_lines(os.path.join(run.out, 'foreground.txt')))
    check(fg, f'mgd was told the foreground pid ({fg or "none"}; mgctl said: {reply.strip() or "nothing"})')
    if fg:
        untouched_check(check, run, mgd, [fg], f'the foreground IDE ({fg})')

    hogs = run.pids_named(HOG)
    hog = hogs[0] if hogs else None
    by_mgd = [a for a in acting if a.pid == hog and a.kind in DESTRUCTIVE]
    by_kernel = [a for a in run.actions if a.actor == 'kernel' and a.pid == hog]
    check(hog and run.outcome(hog).startswith('killed') and by_mgd and not by_kernel,
          f'the hog {HOG} ({hog}) was killed by mgd: outcome {run.outcome(hog) if hog else "never started"}, '
          f'mgd {", ".join(a.kind for a in by_mgd) or "did not"}, kernel OOM killer '
          f'{"did" if by_kernel else "did not"}')
    destructive = [a for a in acting if a.kind in DESTRUCTIVE]
    check(destructive and destructive[0].pid == hog,
          'mgd\'s first destructive action hit the hog' +
          (f' (it hit {destructive[0].name} {destructive[0].pid} first)' if destructive and destructive[0].pid != hog else '')
          + ('' if destructive else ': there was none'))
    others = sorted({f'{a.name} ({a.kind})' for a in destructive if a.pid != hog})
    check.info.append('other destructive actions: ' + (', '.join(others) or 'none'))

    for name in NEWCOMERS:
        pids = run.pids_named(name)
        caught = [a for a in acting if a.pid in pids]
        check(pids and caught, f'the newcomer {name} was caught' +
              (f': {caught[0].kind} {(caught[0].t - run.starts[caught[0].pid][0]) / 1000.0:.1f} s after it started'
               if caught else (': mgd never acted on it' if pids else ': it never started')))

    freeze_ticks = [[a for a in g if 'aggressor' not in a.reason] for g in ticks([a for a in acting if a.kind == 'freeze'])]
    multi = [g for g in freeze_ticks if len(g) >= 2]
    bad = [g for g in multi if any(x.priority is not None and y.priority is not None and x.priority < y.priority
                                   for x, y in zip(g, g[1:]))]
    check(multi and not bad,
          f'freezes follow the priorities within each tick ({len(multi)} ticks with several freezes' +
          (', out of order: ' + '; '.join(' '.join(f'{a.name}:{a.priority}' for a in g) for g in bad) if bad else '') + ')')

    check(not m['left_frozen'], 'nothing left frozen after calm' +
          (': ' + ', '.join(m['left_frozen']) if m['left_frozen'] else ''))
    last = {}
    for a in mgd:
        if a.kind in ('freeze', 'thaw'):
            last[a.pid] = a.kind
    alive = {p for p, k in last.items() if run.outcome(p) == 'alive'}
    unthawed = sorted(f'{run.name_of(p)} ({p})' for p in alive if last[p] != 'thaw')
    check(alive and not unthawed,
          f'mgd thawed every process it froze that is still alive ({len(alive)})' +
          (': still frozen by its own account: ' + ', '.join(unthawed) if unthawed else ''))
    thaws = [a for a in mgd if a.kind == 'thaw']
    batches = ticks(thaws)
    big = [len(g) for g in batches if len(g) > thaw_batch]
    check(thaws and not big, f'thaws came in batches of at most {thaw_batch}: '
                             f'{"+".join(str(len(g)) for g in batches) or "no thaws"}')

    hwm = m.get('daemon_hwm_kb')
    check(hwm and hwm <= rss_max_kb, f'mgd\'s peak RSS {hwm} kB is within {rss_max_kb} kB'
          if hwm else 'mgd was not running at the end (no RSS recorded)')
    return check


def main(argv):
    if len(argv) == 3 and argv[1] == '--check-mgd':
        run = Run(argv[2])
        checks = check_mgd(run, int(os.environ.get('MGD_VM_RSS_MAX_KB', 10240)),
                           int(os.environ.get('MGD_VM_THAW_BATCH', 4)))
        m = run.metrics()
        print('INFO: ' + ', '.join(f'{k}={m.get(k)}' for k in (
            'psi_some_ms', 'psi_full_ms', 'session_full_ms', 'stall_onset_s', 'first_action_s',
            'stall_duration_s', 'probe_worst_ms', 'probe_p99_ms', 'min_memavail_mb', 'hog_end', 'hog_gone_s')))
        return 0 if checks.print() else 1
    if len(argv) == 2:
        json.dump(Run(argv[1]).metrics(), sys.stdout, indent=1)
        print()
        return 0
    print(__doc__.split('\n\n')[1], file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv))
