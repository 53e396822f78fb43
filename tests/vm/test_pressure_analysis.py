#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Unit tests of pressure_analysis.py on synthetic guest records (no guest, no /proc).

A good mgd run passes every check of --check-mgd; each variation breaks exactly one rule and
must make its check fail. The metrics (stall totals, onset, probe percentiles, who was killed)
are checked against hand-computed values. Prints TAP.
"""
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pressure_analysis as pa  # noqa: E402

PIDS = {'kwin_wayland': 100, 'pipewire': 101, 'keepassxc': 102, 'code': 103, 'Isolated Web Co': 104,
        'baloo_file': 105, 'node': 110, 'cargo': 111, 'cef_server': 112}


def mgd_entry(t_ms, action, name, prio, reason='priority', result='ok', level='high'):
    return {'__MONOTONIC_TIMESTAMP': str(t_ms * 1000), 'MESSAGE': f'{action} {name}', 'MGD_ACTION': action,
            'MGD_PID': str(PIDS[name]), 'MGD_COMM': name, 'MGD_PRIORITY': str(prio), 'MGD_REASON': reason,
            'MGD_RESULT': result, 'MGD_LEVEL': level}


def good_journal():
    return [
        mgd_entry(20100, 'freeze', 'node', 50, reason='aggressor'),
        mgd_entry(20150, 'freeze', 'Isolated Web Co', 85),
        mgd_entry(20180, 'freeze', 'baloo_file', 78),
        mgd_entry(23000, 'kill', 'node', 50, reason='aggressor', level='critical', result='signalled'),
        # mgd's follow-up record once the victim is gone: no comm, priority 0, not an action
        dict(mgd_entry(23100, 'kill', 'node', 0, level='critical', result='exited after 80 ms'), MGD_COMM=''),
        mgd_entry(26000, 'freeze', 'cargo', 50, reason='aggressor'),
        mgd_entry(27000, 'freeze', 'cef_server', 85),
        mgd_entry(60000, 'thaw', 'cargo', 50, reason='recovery', level='normal'),
        mgd_entry(60010, 'thaw', 'baloo_file', 78, reason='recovery', level='normal'),
        mgd_entry(61000, 'thaw', 'Isolated Web Co', 85, reason='recovery', level='normal'),
        mgd_entry(61010, 'thaw', 'cef_server', 85, reason='recovery', level='normal'),
        {'__MONOTONIC_TIMESTAMP': '5000000', 'MESSAGE': 'unrelated', 'SYSLOG_IDENTIFIER': 'systemd'},
    ]


class Fixture:
    """A run's out/ directory, written from parts a test may change."""

    def __init__(self):
        self.meta = {'scenario': 'incident-short', 'arm': 'mgd', 'guest': 'systemd', 'seed': '1',
                     'mem_total_kb': '1000000', 'swap_total_kb': '1000000', 'foreground_pid': str(PIDS['code']),
                     'daemon_rss_kb': '6000', 'daemon_hwm_kb': '6400', 'daemon_cpu_ms': '900'}
        self.marks = [(1000, 'launch'), (40000, 'workload-end ended=1'), (70000, 'calm quiet=10'), (71000, 'stop')]
        self.exits = {PIDS['node']: (23080, 'signal:9')}
        self.journal = good_journal()
        self.frozen = [(20200, 'frozen', PIDS['node'], 'cgroup', 'node'),
                       (20200, 'frozen', PIDS['Isolated Web Co'], 'cgroup', 'Isolated Web Co'),
                       (20200, 'frozen', PIDS['baloo_file'], 'cgroup', 'baloo_file'),
                       (61100, 'thawed', PIDS['Isolated Web Co'], 'cgroup', 'Isolated Web Co')]
        self.final = [(pid, 'S', 0, name) for name, pid in PIDS.items() if name != 'node']
        self.status = ['level              normal', 'triggers           12', 'decision_worst_ms  4.2']

    def write(self, d):
        def put(name, lines):
            with open(os.path.join(d, name), 'w') as f:
                f.write(''.join(line + '\n' for line in lines))
        put('meta.txt', [f'{k}={v}' for k, v in self.meta.items()])
        put('marks.txt', [f'{t} {label}' for t, label in self.marks])
        events = ['900 launcher start']
        for name, pid in PIDS.items():
            t = {'node': 10000, 'cargo': 25000, 'cef_server': 26500}.get(name, 1000)
            events.append(f'{t} start {pid} app-{name.replace(" ", "_")}-{pid}.scope {name}')
        events += [f'{t} exit {pid} {st} {n}' for pid, (t, st) in self.exits.items()
                   for n, p in PIDS.items() if p == pid]
        events.append('71500 launcher stopping')
        put('launcher.events', events)
        # 1 s samples; "some" grows 500 ms per second from t = 12 s to 23 s (50 % stall)
        rows = ['t_ms,some_us,full_us,some10,full10,cg_some_us,cg_full_us,cg_some10,memavail_kb,swapused_kb,'
                'zram_orig_kb,zram_used_kb,frozen,daemon_rss_kb,daemon_hwm_kb,daemon_cpu_ms']
        some = 0
        for t in range(1000, 71001, 1000):
            if 12000 < t <= 23000:
                some += 500000
            rows.append(f'{t},{some},{some // 2},0,0,{some // 4},{some // 8},0,{max(0, 300000 - t * 10)},0,0,0,0,0,0,0')
        put('samples.csv', rows)
        put('frozen.log', [f'{t} {k} {p} {how} {n}' for t, k, p, how, n in self.frozen])
        put('final.txt', [f'{p} {st} {fz} {n}' for p, st, fz, n in self.final])
        # 100 frames: 98 at 1 ms, one at 50 ms, one at 300 ms, inside the window
        frames = [f'F {10000 + i * 10} {1000}' for i in range(98)] + ['F 15000 50000', 'F 16000 300000']
        put('probe.txt', ['11000 100 300000'] + frames + ['S frames=100'])
        put('journal.json', [json.dumps(e) for e in self.journal])
        put('foreground.txt', ['Foreground set to pid 103.'])
        put('mgctl-status.txt', self.status)


def analyse(fix):
    with tempfile.TemporaryDirectory() as d:
        fix.write(d)
        run = pa.Run(d)
        return run, run.metrics(), pa.check_mgd(run, 10240, 4).results


def failed(results):
    return [text for ok, text in results if not ok]


class TestMetrics(unittest.TestCase):
    def test_metrics_of_a_run(self):
        _, m, _ = analyse(Fixture())
        self.assertEqual(m['psi_some_ms'], 5500)
        self.assertEqual(m['psi_full_ms'], 2750)
        self.assertEqual(m['session_some_ms'], 1375)
        self.assertEqual(m['stall_onset_s'], 3.0)          # first second at >= 10 %: t = 13 s, hog at 10 s
        self.assertEqual(m['stall_duration_s'], 10.0)      # 13 s .. 23 s
        self.assertEqual(m['first_action_s'], 7.1)         # freeze at 20.1 s
        self.assertEqual(m['probe_worst_ms'], 300.0)
        self.assertEqual(m['probe_p99_ms'], 300.0)         # the 99th of 100 sorted frames
        self.assertEqual(m['killed'], ['node (SIGKILL)'])
        self.assertEqual(m['hog_end'], 'killed:SIGKILL')
        self.assertEqual(m['left_frozen'], [])

    def test_late_log_line_is_bounded_by_the_death(self):
        fix = Fixture()
        fix.journal[3]['__MONOTONIC_TIMESTAMP'] = str(30000 * 1000)  # logged 7 s after the exit
        run, _, _ = analyse(fix)
        kill = next(a for a in run.actions if a.kind == 'kill')
        self.assertEqual(kill.t, 23080)


class TestCheckMgd(unittest.TestCase):
    def test_good_run_passes(self):
        _, _, results = analyse(Fixture())
        self.assertEqual(failed(results), [])

    def test_touching_the_compositor_fails(self):
        fix = Fixture()
        fix.journal.insert(1, mgd_entry(20120, 'freeze', 'kwin_wayland', 5))
        self.assertTrue(any('0-19 tier' in t for t in failed(analyse(fix)[2])))

    def test_protect_entry_seen_frozen_fails(self):
        fix = Fixture()
        fix.frozen.append((30000, 'frozen', PIDS['keepassxc'], 'sigstop', 'keepassxc'))
        self.assertTrue(any('protect entry' in t for t in failed(analyse(fix)[2])))

    def test_foreground_killed_fails(self):
        fix = Fixture()
        fix.exits[PIDS['code']] = (30000, 'signal:15')
        self.assertTrue(any('foreground IDE' in t for t in failed(analyse(fix)[2])))

    def test_kernel_killing_the_hog_fails(self):
        fix = Fixture()
        fix.journal = [e for e in fix.journal if not (e.get('MGD_ACTION') == 'kill')]
        fix.journal.append({'__MONOTONIC_TIMESTAMP': '23000000', '_TRANSPORT': 'kernel',
                            'MESSAGE': 'Out of memory: Killed process 110 (node) total-vm:1kB'})
        self.assertTrue(any('was killed by mgd' in t for t in failed(analyse(fix)[2])))

    def test_other_victim_first_fails(self):
        fix = Fixture()
        fix.journal.insert(3, mgd_entry(22000, 'kill', 'Isolated Web Co', 85, level='critical'))
        self.assertTrue(any('first destructive action' in t for t in failed(analyse(fix)[2])))

    def test_newcomer_missed_fails(self):
        fix = Fixture()
        fix.journal = [e for e in fix.journal if e.get('MGD_COMM') != 'cef_server']
        self.assertTrue(any('newcomer cef_server' in t for t in failed(analyse(fix)[2])))

    def test_freeze_order_against_priorities_fails(self):
        fix = Fixture()
        fix.journal[1], fix.journal[2] = mgd_entry(20150, 'freeze', 'baloo_file', 78), \
            mgd_entry(20180, 'freeze', 'Isolated Web Co', 85)
        self.assertTrue(any('follow the priorities' in t for t in failed(analyse(fix)[2])))

    def test_left_frozen_fails(self):
        fix = Fixture()
        fix.final[0] = (fix.final[0][0], 'T', 0, fix.final[0][3])
        self.assertTrue(any('nothing left frozen' in t for t in failed(analyse(fix)[2])))

    def test_no_thaw_fails(self):
        fix = Fixture()
        fix.journal = [e for e in fix.journal if not (e.get('MGD_ACTION') == 'thaw' and e['MGD_COMM'] == 'cargo')]
        self.assertTrue(any('thawed every process' in t for t in failed(analyse(fix)[2])))

    def test_thaw_batch_over_the_cap_fails(self):
        fix = Fixture()
        for e in fix.journal:
            if e.get('MGD_ACTION') == 'thaw':
                e['__MONOTONIC_TIMESTAMP'] = '60000000'
        fix.journal.append(dict(mgd_entry(60000, 'thaw', 'node', 50, reason='recovery', level='normal')))
        self.assertTrue(any('batches of at most 4' in t for t in failed(analyse(fix)[2])))

    def test_shutdown_thaws_do_not_count(self):
        fix = Fixture()
        fix.journal.append(mgd_entry(72000, 'thaw', 'baloo_file', 78, reason='shutdown', level='normal'))
        self.assertEqual(failed(analyse(fix)[2]), [])

    def test_rss_over_the_bound_fails(self):
        fix = Fixture()
        fix.meta['daemon_hwm_kb'] = '20000'
        self.assertTrue(any('peak RSS' in t for t in failed(analyse(fix)[2])))


def matrix_fixture():
    """A good mgd run of a matrix scenario: every freeze thawed, only the runaway killed."""
    fix = Fixture()
    fix.meta.update(scenario='mx-1g-z50-burst-s2', aggressors='node')
    fix.frozen += [(60100, 'thawed', PIDS['baloo_file'], 'cgroup', 'baloo_file')]
    return fix


def invariants(fix):
    with tempfile.TemporaryDirectory() as d:
        fix.write(d)
        return failed(pa.invariants(pa.Run(d)).results)


class TestInvariants(unittest.TestCase):
    def test_good_run_holds_them(self):
        self.assertEqual(invariants(matrix_fixture()), [])

    def test_the_priorities_agree_with_the_builtin_table(self):
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'daemon', 'builtin-rules.c')) as f:
            table = f.read()
        for name, prio in pa.PRIORITY.items():
            # the entry's examples name it, and its priority follows the pattern on the same entry
            entry = next((e for e in table.split('\n        { ') if f'"{name}"' in e.split('E(', 1)[-1]), None)
            self.assertIsNotNone(entry, name)
            self.assertIn(f'MATCH_NAME, {prio},', entry.replace('\n', ' ').replace('  ', ' '), name)

    def test_kernel_oom_kill_while_a_tab_lives_fails(self):
        fix = matrix_fixture()
        fix.exits[PIDS['cargo']] = (30000, 'signal:9')
        fix.journal.append({'__MONOTONIC_TIMESTAMP': '30000000', '_TRANSPORT': 'kernel',
                            'MESSAGE': 'Out of memory: Killed process 111 (cargo) total-vm:1kB'})
        self.assertTrue(any('OOM killer never ran' in t for t in invariants(fix)))

    def test_the_ide_dying_while_a_tab_lives_fails(self):
        fix = matrix_fixture()
        fix.exits[PIDS['code']] = (30000, 'signal:9')
        self.assertTrue(any('less important process lived' in t for t in invariants(fix)))

    def test_the_runaway_may_die_first(self):
        fix = matrix_fixture()
        self.assertEqual(fix.exits[PIDS['node']][1], 'signal:9')
        self.assertFalse(any('less important' in t for t in invariants(fix)))

    def test_frozen_long_after_the_pressure_fails(self):
        fix = matrix_fixture()
        fix.frozen = [f for f in fix.frozen if f[2] != PIDS['baloo_file'] or f[1] == 'frozen']
        fix.marks.insert(-1, (100000, 'calm quiet=10'))
        fix.marks[-1] = (101000, 'stop')
        self.assertTrue(any('left frozen 60 s' in t for t in invariants(fix)))

    def test_a_slow_decision_fails(self):
        fix = matrix_fixture()
        fix.status[-1] = 'decision_worst_ms  150.0'
        self.assertTrue(any('decided within 100 ms' in t for t in invariants(fix)))

    def test_the_bound_scales_with_a_slow_guest(self):
        host = float(pa.guest_slowdown.__globals__['_host_calib'] or 0) or None
        fix = matrix_fixture()
        fix.status[-1] = 'decision_worst_ms  150.0'
        fix.meta.update(cpu_calib_s='1000')      # a guest far slower than any host: the bound grows
        self.assertEqual(invariants(fix), [])
        fix.status[-1] = 'decision_worst_ms  999999999.0'
        self.assertTrue(any('decided within 100 ms' in t for t in invariants(fix)))
        fix.meta.update(cpu_calib_s='garbage')   # no figure: the bound as it is
        fix.status[-1] = 'decision_worst_ms  150.0'
        self.assertTrue(any('decided within 100 ms' in t for t in invariants(fix)), host)

    def test_the_protected_frozen_fails(self):
        fix = matrix_fixture()
        fix.frozen.append((30000, 'frozen', PIDS['pipewire'], 'sigstop', 'pipewire'))
        self.assertTrue(any('nobody signalled' in t for t in invariants(fix)))


class Tap(unittest.TextTestResult):
    n = 0

    def _line(self, ok, test, extra=''):
        Tap.n += 1
        print(f'{"ok" if ok else "not ok"} {Tap.n} - {test.id().split(".", 1)[1]}{extra}', flush=True)

    def addSuccess(self, test):
        self._line(True, test)

    def addFailure(self, test, err):
        self._line(False, test)
        print('# ' + self._exc_info_to_string(err, test).replace('\n', '\n# '))

    addError = addFailure


if __name__ == '__main__':
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    result = unittest.TextTestRunner(stream=open(os.devnull, 'w'), resultclass=Tap).run(suite)
    print(f'1..{Tap.n}')
    sys.exit(0 if result.wasSuccessful() else 1)
