#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Integration: mgctl doctor against a running test mgd and with mgd down; the history a real mgd
records; mgctl calibrate end to end on a history this test writes, through --apply and RELOAD.

usage: test-doctor-calibrate.py BUILD_DIR
"""
import json
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from mgdtest import FakePressure, Mgd, Tap, scratch, wait_for  # noqa: E402

CONFIG = """# tuned by hand
[defaults]
fast_tick = 200ms
slow_tick = 500ms
elevated_threshold = 0.05 ; a comment that stays

# my server is work
[app "my-server"]
pattern = ^my-server$
priority = 25

[protect "vpn"]
pattern = ^(openvpn|wg-quick)$
"""

H = 3600 * 1000


def history_text(calm_ms, stall_ms, episodes):
    """30 h calm: 98 % at score bin 0, 2 % at bin 6, MemAvailable 45 %; stalls at score 0.12 (10 %)
    and 0.20, MemAvailable 9 %: elevated 0.08 (just above calm load), target 9 + 1 + 2 = 12."""
    c6 = calm_ms // 50
    s12 = stall_ms // 10
    return (f'mgd-history 1\nsince 1732252800\nupdated 1732360800\nmem_total_kb 16303428\n'
            f'observed_ms {calm_ms + stall_ms}\nintervening_ms 0\nstall_ms {stall_ms}\n'
            f'stall_episodes {episodes}\nlevel_ms {calm_ms + stall_ms} 0 0 0 0\n'
            f'score_calm 0:{calm_ms - c6} 6:{c6}\nscore_stall 12:{s12} 20:{stall_ms - s12}\n'
            f'avail_calm 45:{calm_ms}\navail_stall 9:{stall_ms}\n')


def parse_history(path):
    out = {}
    with open(path) as f:
        lines = f.read().splitlines()
    out['header'] = lines[0]
    for line in lines[1:]:
        k, _, v = line.partition(' ')
        out[k] = v
    return out


def mgctl(build, *args, env=None, timeout=20):
    return subprocess.run([os.path.join(build, 'client', 'mgctl'), *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def doctor_tests(tap, build, tmp, mgd):
    roots = ['--config', mgd.config, '--system-config', os.path.join(tmp, 'none.conf'), '--state-dir', mgd.state]
    r = mgd.mgctl('doctor', *roots)
    tap.ok(r.returncode == 0 and re.search(r'^OK\s+daemon\s+mgd \S+ \(protocol 1\) answers', r.stdout, re.M),
           'doctor against a running mgd: the daemon item is OK, exit 0', r.stdout + r.stderr)
    tap.ok('psi_trigger=polling' in r.stdout and 'dry_run=no' in r.stdout,
           'doctor shows what the daemon turned on (a fixture pressure root is polled)', r.stdout)
    r = mgd.mgctl('--json', 'doctor', *roots)
    try:
        doc = json.loads(r.stdout)
        items = {i['id']: i for i in doc['items']}
    except (ValueError, KeyError) as e:
        doc, items = {}, {}
        print(f'# bad JSON: {e}')
    tap.ok(r.returncode == 0 and items.get('daemon', {}).get('status') == 'ok' and
           items.get('psi', {}).get('status') == 'ok' and doc.get('fail') == 0 and
           sum(doc.get(k, 0) for k in ('ok', 'info', 'warn', 'fail')) == len(doc.get('items', [])),
           'doctor --json: one object, items with status, counts that add up', r.stdout[:2000])
    tap.ok(items.get('config', {}).get('status') == 'ok' and 'rules' in items.get('config', {}).get('found', ''),
           'doctor loads the configuration with the daemon\'s loader', json.dumps(items.get('config')))

    mgd.stop()
    r = mgd.mgctl('doctor', *roots)
    tap.ok(r.returncode == 0 and re.search(r'^WARN\s+daemon\s+mgd is not running', r.stdout, re.M)
           and 'fix: mgctl start' in r.stdout and r.stderr == '',
           'doctor with mgd down: a warning with the fix, still exit 0, nothing on stderr', r.stdout + r.stderr)

    # a broken environment: no PSI in the proc root, and a configuration that does not load
    fake_proc = os.path.join(tmp, 'fakeproc')
    os.makedirs(os.path.join(fake_proc, 'sys', 'kernel'))
    with open(os.path.join(fake_proc, 'sys', 'kernel', 'osrelease'), 'w') as f:
        f.write('6.18.0\n')
    bad = os.path.join(tmp, 'bad.conf')
    with open(bad, 'w') as f:
        f.write('[defaults]\nthaw_batch = 0\n')
    r = mgd.mgctl('doctor', '--proc-root', fake_proc, '--sys-root', os.path.join(tmp, 'nosys'),
                  '--config', bad, '--system-config', os.path.join(tmp, 'none.conf'))
    tap.ok(r.returncode == 5 and re.search(r'^FAIL\s+psi\s+.*pressure/memory', r.stdout, re.M)
           and re.search(r'^FAIL\s+config\s+.*bad\.conf:2: \[defaults\] thaw_batch = 0: out of range', r.stdout, re.M),
           'doctor exits 5 when PSI is missing and the configuration is broken, naming file:line',
           f'{r.returncode}\n{r.stdout}{r.stderr}')


def recorded_history_tests(tap, build, tmp, fake, mgd):
    path = os.path.join(mgd.state, 'history')
    tap.ok(os.path.exists(path), 'mgd saved its history at a clean exit', str(os.listdir(mgd.state)))
    if not os.path.exists(path):
        return
    h = parse_history(path)
    tap.ok(h['header'] == 'mgd-history 1' and int(h['observed_ms']) >= 2000 and int(h['stall_episodes']) >= 1
           and int(h['stall_ms']) >= 500 and re.search(r'\b(1[0-9]|2[0-9]):\d+', h['score_stall']),
           'the recorded history has calm time, one stall episode and stalling scores near 0.55 x 30 %',
           open(path).read())
    st = os.stat(path)
    tap.ok(st.st_mode & 0o777 == 0o600 and not os.path.exists(path + '.tmp'), 'the history is 0600, no .tmp left',
           oct(st.st_mode))
    r = mgctl(build, 'calibrate', '--dry-run', '--state-dir', mgd.state, '--config', mgd.config,
              '--system-config', os.path.join(tmp, 'none.conf'))
    tap.ok(r.returncode == 6 and re.search(r'too little history: 0\.0 h of calm observation, 24 h are needed',
                                           r.stderr), 'calibrate refuses a short history, saying how much is needed',
           f'{r.returncode}\n{r.stdout}{r.stderr}')


def calibrate_tests(tap, build, tmp, fake):
    state = os.path.join(tmp, 'cal-state')
    os.makedirs(state)
    conf = os.path.join(tmp, 'user.conf')
    with open(conf, 'w') as f:
        f.write(CONFIG)
    none = os.path.join(tmp, 'none.conf')
    common = ['--state-dir', state, '--config', conf, '--system-config', none]

    with open(os.path.join(state, 'history'), 'w') as f:
        f.write('mgd-history 1\nsince 1\nsince 2\n')
    r = mgctl(build, 'calibrate', *common)
    tap.ok(r.returncode == 6 and 'history:3: duplicate key \'since\' (first at line 2)' in r.stderr,
           'a corrupt history is refused with file:line', r.stderr)

    with open(os.path.join(state, 'history'), 'w') as f:
        f.write(history_text(30 * H, 120000, 6))
    r = mgctl(build, 'calibrate', '--dry-run', *common)
    tap.ok(r.returncode == 0 and re.search(r'^elevated_threshold\s+0\.05\s+0\.08$', r.stdout, re.M)
           and re.search(r'^target_available_pct\s+0 \(auto: 15\)\s+12$', r.stdout, re.M)
           and '99 % of calm time scored below 0.07' in r.stdout and 'Dry run: nothing written' in r.stdout
           and not os.path.exists(os.path.join(state, 'calibration')),
           'calibrate --dry-run shows current and recommended values with the evidence, writes nothing', r.stdout + r.stderr)
    r = mgctl(build, '--json', 'calibrate', '--dry-run', *common)
    try:
        j = json.loads(r.stdout)
        recs = {x['key']: x for x in j['recommendations']}
    except (ValueError, KeyError):
        j, recs = {}, {}
    tap.ok(r.returncode == 0 and j.get('enough') is True and recs.get('elevated_threshold', {}).get('recommended') == 0.08
           and recs.get('target_available_pct', {}).get('recommended') == 12 and j.get('saved') is None,
           'calibrate --json', r.stdout)

    r = mgctl(build, 'calibrate', '--apply', *common)
    tap.ok(r.returncode == 6 and 'run mgctl calibrate first' in r.stderr, '--apply without a recommendation: exit 6',
           r.stderr)
    r = mgctl(build, 'calibrate', *common)
    cal = os.path.join(state, 'calibration')
    text = open(cal).read() if os.path.exists(cal) else ''
    tap.ok(r.returncode == 0 and text.startswith('mgd-calibration 1\n') and 'elevated_threshold 0.08\n' in text
           and 'target_available_pct 12\n' in text and 'mgctl calibrate --apply' in r.stdout,
           'calibrate saves the recommendation and says how to apply it', r.stdout + r.stderr + text)

    # --apply with a broken configuration changes nothing
    with open(conf, 'a') as f:
        f.write('[app "broken"]\npattern = (\n')
    r = mgctl(build, 'calibrate', '--apply', *common)
    tap.ok(r.returncode == 5 and 'does not load now' in r.stderr and 'user.conf:15:' in r.stderr
           and open(conf).read() == CONFIG + '[app "broken"]\npattern = (\n',
           '--apply refuses a configuration that does not load, and leaves it alone', r.stderr)
    with open(conf, 'w') as f:
        f.write(CONFIG)

    # --apply against a running mgd that reloads
    mgd = Mgd(build, os.path.join(tmp, 'mgd2'), 'mgd-itest-nothing', fake.root, CONFIG)
    with open(mgd.config, 'w') as f:      # the daemon reads the same user file
        pass
    os.unlink(mgd.config)
    os.symlink(conf, mgd.config)
    tap.ok(mgd.start(), 'a second mgd starts on the user configuration', mgd.text())
    r = mgd.mgctl('calibrate', '--apply', *common)
    new = open(conf).read()
    expected = CONFIG.replace('elevated_threshold = 0.05 ; a comment', 'elevated_threshold = 0.08 ; a comment').replace(
        ' ; a comment that stays\n', ' ; a comment that stays\n# set by mgctl calibrate from 30.0 h of history\n'
        'target_available_pct = 12\n')
    tap.ok(r.returncode == 0 and 'mgd reloaded its configuration' in r.stdout and new == expected,
           '--apply edits only [defaults] (comments, entries and protections kept) and mgd reloads',
           f'{r.returncode}\n{r.stdout}{r.stderr}\n--- file ---\n{new}')
    tap.ok(wait_for(lambda: 'Configuration reloaded' in mgd.text(), 5), 'mgd logged the reload', mgd.text()[-1000:])
    st = os.lstat(mgd.config)
    tap.ok(os.path.islink(mgd.config) and os.readlink(mgd.config) == conf,
           'a symlinked configuration is edited through the link, the link stays', str(st))
    mgd.stop()

    # mgd refuses the reload: its system file makes 0.08 too high for it
    mgd3 = Mgd(build, os.path.join(tmp, 'mgd3'), 'mgd-itest-nothing', fake.root, CONFIG)
    with open(os.path.join(mgd3.tmp, 'no-system.conf'), 'w') as f:
        f.write('[defaults]\nhigh_threshold = 0.07\n')
    with open(conf, 'w') as f:
        f.write(CONFIG)
    os.unlink(mgd3.config)
    os.symlink(conf, mgd3.config)
    tap.ok(mgd3.start(), 'a third mgd starts with high_threshold = 0.07 in its system file', mgd3.text())
    r = mgd3.mgctl('calibrate', '--apply', *common)
    tap.ok(r.returncode == 1 and 'mgd did not take it' in r.stderr and 'configuration refused' in r.stderr
           and 'elevated_threshold = 0.08' in open(conf).read(),
           '--apply reports a reload that mgd refused (exit 1)', f'{r.returncode}\n{r.stdout}{r.stderr}')
    mgd3.stop()

    # mgd down: the file is written, and the message says when it takes effect
    with open(conf, 'w') as f:
        f.write(CONFIG)
    r = mgctl(build, '--socket', os.path.join(tmp, 'nosock'), 'calibrate', '--apply', *common)
    tap.ok(r.returncode == 0 and 'mgd is not running: the new settings take effect when it starts' in r.stdout,
           '--apply with mgd down writes and says when it takes effect', r.stdout + r.stderr)


def main():
    build = os.path.abspath(sys.argv[1])
    tap = Tap()
    tmp = scratch('mgd-calib-')
    fake = FakePressure(os.path.join(tmp, 'p'))
    mgd = Mgd(build, tmp, 'mgd-itest-nothing', fake.root, CONFIG)
    try:
        # a corrupt history at start-up is reported with file:line and replaced, never used
        os.makedirs(mgd.state, mode=0o700)
        with open(os.path.join(mgd.state, 'history'), 'w') as f:
            f.write('mgd-history 1\nobserved_ms lots\n')
        tap.ok(mgd.start(), 'mgd starts', mgd.text())
        tap.ok(wait_for(lambda: re.search(r'history:2: observed_ms: expected an integer.*ignoring the file',
                                          mgd.text()), 5), 'mgd reports a corrupt history with file:line',
               mgd.text()[-2000:])
        time.sleep(2.5)
        fake.set(stall=0.3)
        wait_for(lambda: 'Pressure level normal -> elevated' in mgd.text(), 8)
        time.sleep(1.5)
        fake.set(stall=0.0)
        time.sleep(1.0)
        doctor_tests(tap, build, tmp, mgd)    # stops mgd half-way
        recorded_history_tests(tap, build, tmp, fake, mgd)
        calibrate_tests(tap, build, tmp, fake)
    finally:
        mgd.stop(signal.SIGTERM)
        fake.close()
    return tap.done()


if __name__ == '__main__':
    sys.exit(main())
