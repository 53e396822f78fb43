#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Metrics and verdicts from one guest run of the real-pressure scenarios.

The guest (tests/vm/guest/scenario.sh) only records; everything is computed here, on the host:

  pressure_analysis.py OUT_DIR               the run's metrics as JSON
  pressure_analysis.py --check-mgd OUT_DIR   the CI assertions on an mgd run: PASS/FAIL lines,
                                             exit status 1 if any failed
  pressure_analysis.py --check-invariants OUT_DIR
                                             the matrix's invariants on a run of any arm, the
                                             same way (invariants() gives them to the report)

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
# Each workload name's priority in mgd's built-in table (daemon/builtin-rules.c; the test checks
# the two agree): lower is more important; 0-19 is the protected tier, 60 and above expendable.
# Names the table does not know get the default, 50. The protect entry and the foreground are
# protected whatever their number.
PRIORITY = {'kwin_wayland': 5, 'pipewire': 5, 'wireplumber': 5, 'plasmashell': 10, 'code': 30, 'firefox': 40,
            'DiscoverNotifie': 70, 'update-notifier': 70, 'baloo_file': 78, 'Isolated Web Co': 85,
            'Web Content': 85}
DEFAULT_PRIORITY = 50
EXPENDABLE_MIN = 60
LEFT_FROZEN_S = 60          # nothing may stay frozen this long after the pressure is gone
MAX_FROZEN_S = 180 + 15     # mgd's max_frozen default, and a tick's slack
DECISION_MAX_MS = 100       # a trigger's decision, in mgd's own time
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
        """When the scenario's trouble starts: the hog, or the build; in a matrix scenario, the
        first process started 10 s or more after the desktop's launch."""
        launch = self.mark('launch')
        if str(self.meta.get('scenario', '')).startswith('mx-') and launch is not None:
            late = [t for t, _ in self.starts.values() if t >= launch + 10000]
            if late:
                return min(late)
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
        self.figures = {}               # what the checks counted, for tables

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



# ---- the matrix's invariants, for any arm ---------------------------------------------------------

def priority_of(name):
    return PRIORITY.get(name, DEFAULT_PRIORITY)


_host_calib = None


def guest_slowdown(run):
    """How much slower the guest computed than this host (guest/calib.py timed on both; qemu TCG
    is 10-30x), at least 1: a bound in mgd's time on real hardware is this much longer in the
    guest. 1 when the guest recorded no figure."""
    global _host_calib
    try:
        guest = float(run.meta.get('cpu_calib_s', 0) or 0)
    except ValueError:
        guest = 0.0
    if guest <= 0:
        return 1.0
    if _host_calib is None:
        import subprocess
        out = subprocess.run([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'guest', 'calib.py')],
                             capture_output=True, text=True, check=False).stdout
        _host_calib = float(out.strip() or 0) or None
    return max(1.0, guest / _host_calib) if _host_calib else 1.0


def invariants(run):
    """[(ok, text)] for the contract, whoever the arm: nobody signals the protected, nothing dies
    while a less important process lives (the scenario's runaway excepted), the kernel's OOM
    killer never runs while an expendable process lives, nothing stays frozen past the pressure
    or past the bound, and (mgd) every trigger is decided within DECISION_MAX_MS."""
    check = Checks()
    m = run.metrics()
    stop = run.stopping or run.mark('stop')
    check(m['complete'], f'the scenario ran to its end ({len(run.samples)} samples)')
    aggressors = set(run.meta.get('aggressors', HOG).split())
    fg = int(run.meta.get('foreground_pid', 0) or 0)
    protected = {p for p, (_, n) in run.starts.items()
                 if priority_of(n) < 20 or n in PROTECT_ENTRY} | ({fg} if fg else set())
    daemon = [a for a in run.actions if a.actor not in ('kernel',) and (stop is None or a.t < stop)]
    hit = sorted({f'{a.actor} {a.kind} {run.name_of(a.pid)} ({a.pid})' for a in daemon if a.pid in protected})
    died = sorted(f'{run.name_of(p)} ({p}) {run.outcome(p)}' for p in protected if run.outcome(p).startswith('killed'))
    frozen = sorted({f'{n} ({p})' for t, k, p, how, n in run.frozen_log if p in protected and k == 'frozen'})
    check.figures['protected_daemon'] = len({a.pid for a in daemon if a.pid in protected} |
                                            {p for t, k, p, how, n in run.frozen_log if p in protected and k == 'frozen'})
    check.figures['protected_kernel'] = len({a.pid for a in run.actions if a.actor == 'kernel' and a.pid in protected})
    check(not hit and not died and not frozen,
          'nobody signalled the 0-19 tier, the protect entry or the foreground' +
          ''.join(f'; {w}: {", ".join(x)}' for w, x in (('acted on', hit), ('killed', died), ('frozen', frozen)) if x))

    def alive_at(pid, t):
        t0 = run.starts[pid][0]
        t1 = run.exits.get(pid, (None,))[0]
        return t0 <= t and (t1 is None or t1 > t)

    deaths = sorted((run.exits[p][0], p) for p in run.starts
                    if p in run.exits and run.outcome(p).startswith('killed'))
    inversions = []
    for t, pid in deaths:
        name = run.name_of(pid)
        if name in aggressors:
            continue
        worse = [q for q in run.starts if q != pid and q not in protected and alive_at(q, t)
                 and priority_of(run.name_of(q)) > priority_of(name)]
        if worse:
            inversions.append(f'{name} ({pid}, prio {priority_of(name)}) died while {len(worse)} less important '
                              f'lived, e.g. {run.name_of(worse[0])} ({worse[0]}, prio {priority_of(run.name_of(worse[0]))})')
    check.figures['inversions'] = len(inversions)
    check(not inversions, 'nothing died while a less important process lived' +
          (': ' + '; '.join(inversions[:3]) + (f' (+{len(inversions) - 3})' if len(inversions) > 3 else '')
           if inversions else f' ({len(deaths)} deaths)'))

    oom = [a for a in run.actions if a.actor == 'kernel' and (stop is None or a.t < stop)]
    bad_oom = []
    for a in oom:
        exp = [q for q in run.starts if priority_of(run.name_of(q)) >= EXPENDABLE_MIN and q != a.pid and alive_at(q, a.t)]
        if exp:
            bad_oom.append(f'{a.name} ({a.pid}) with {len(exp)} expendable alive, e.g. {run.name_of(exp[0])}')
    check.figures['oom_kills'] = len(oom)
    check.figures['oom_while_expendable'] = len(bad_oom)
    check(not bad_oom, 'the kernel\'s OOM killer never ran while an expendable process lived' +
          (': it killed ' + '; '.join(bad_oom) if bad_oom else f' ({len(oom)} OOM kills in all)'))

    # frozen episodes from the sampler's own view: [(pid, name, from, to or None)]
    open_, episodes = {}, []
    for t, kind, pid, how, name in run.frozen_log:
        if kind == 'frozen':
            open_.setdefault(pid, (t, name))
        elif pid in open_:
            t0, n = open_.pop(pid)
            episodes.append((pid, n, t0, t))
    end = run.mark('stopped') or (run.samples[-1]['t_ms'] if run.samples else None)
    for pid, (t0, n) in open_.items():
        gone = run.exits.get(pid, (None,))[0]
        episodes.append((pid, n, t0, gone if gone is not None and (stop is None or gone < stop) else None))
    rate = run.stall_rate()
    trig = run.trigger_time()
    last_stall = max((t for t, p in rate if p >= CALM_PCT and (trig is None or t >= trig)), default=trig)
    limit = (last_stall or 0) + LEFT_FROZEN_S * 1000
    left = [f'{n} ({p}) frozen {(t0 - (trig or t0)) / 1000:.0f} s in, still frozen {(min(t1 or end or limit, stop or end or limit) - limit) / 1000:.0f} s past the limit'
            for p, n, t0, t1 in episodes if (t1 is None or t1 > limit) and (stop is None or t0 < stop)
            and (t1 is not None or (end or 0) >= limit or run.outcome(p) == 'alive')]
    check.figures['left_frozen'] = len(left)
    short_run = end is not None and end < limit and not left
    check(not left, f'nothing was left frozen {LEFT_FROZEN_S} s after the pressure was gone' +
          (': ' + '; '.join(left[:4]) if left else
           (f' (the run ended {(limit - end) / 1000:.0f} s before that point, nothing frozen at its end)' if short_run else '')))
    long_ = [f'{n} ({p}) {((t1 or end or t0) - t0) / 1000:.0f} s' for p, n, t0, t1 in episodes
             if ((t1 or end or t0) - t0) > MAX_FROZEN_S * 1000]
    check.figures['frozen_too_long'] = len(long_)
    check(not long_, f'no process stayed frozen longer than {MAX_FROZEN_S} s' + (': ' + ', '.join(long_) if long_ else ''))

    if run.meta.get('arm') == 'mgd':
        status = ' '.join(read_lines(os.path.join(run.out, 'mgctl-status.txt')))
        worst = re.search(r'decision_worst_ms\s+(\d+(?:\.\d+)?)', status)
        n = re.search(r'\btriggers\s+(\d+)', status)
        slow = guest_slowdown(run)
        bound = DECISION_MAX_MS * slow
        check.figures['decision_worst_ms'] = float(worst.group(1)) if worst else None
        check.figures['guest_slowdown'] = slow
        check(worst and float(worst.group(1)) <= bound,
              f'every trigger event was decided within {DECISION_MAX_MS} ms of mgd\'s time' +
              (f' (this guest computes {slow:.1f}x slower than its host: {bound:.0f} ms here)' if slow > 1 else '') +
              (f' (worst {worst.group(1)} ms over {n.group(1) if n else "?"} events)' if worst else
               ': mgctl status gave no decision_worst_ms'))
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
    if len(argv) == 3 and argv[1] == '--check-invariants':
        run = Run(argv[2])
        checks = invariants(run)
        m = run.metrics()
        print('INFO: ' + ', '.join(f'{k}={m.get(k)}' for k in (
            'scenario', 'psi_some_ms', 'psi_full_ms', 'probe_worst_ms', 'min_memavail_mb', 'n_frozen', 'n_killed',
            'killed', 'daemon_cpu_ms', 'daemon_hwm_kb')))
        return 0 if checks.print() else 1
    if len(argv) == 2:
        json.dump(Run(argv[1]).metrics(), sys.stdout, indent=1)
        print()
        return 0
    print(__doc__.split('\n\n')[1], file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv))
