#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Count every test of the meson test logs given on the command line.

A TAP test (check binaries print one line per test case) counts each "ok"/"not ok" line; any
other test counts once by its result. A TAP binary that died before printing its plan counts its
missing cases as one failure. Ends with the plain line "N passed, N failed, N skipped".
"""
import json
import re
import sys

TAP = re.compile(r'^(not ok|ok)\b(.*)$')


def count_tap(stdout):
    passed = failed = skipped = 0
    for line in stdout.splitlines():
        m = TAP.match(line)
        if not m:
            continue
        if '# SKIP' in m.group(2).upper():
            skipped += 1
        elif m.group(1) == 'ok':
            passed += 1
        else:
            failed += 1
    return passed, failed, skipped


def main(paths):
    totals = [0, 0, 0]
    failures = []
    for path in paths:
        try:
            with open(path) as f:
                entries = [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            continue
        for e in entries:
            name, result = e.get('name'), e.get('result')
            stdout = e.get('stdout') or ''
            p = f = s = 0
            if e.get('protocol') == 'tap' or re.search(r'^1\.\.\d+', stdout, re.M):
                p, f, s = count_tap(stdout)
                if result not in ('OK', 'SKIP', 'EXPECTEDFAIL') and f == 0:
                    f = 1
            elif result == 'OK' or result == 'EXPECTEDFAIL':
                p = 1
            elif result == 'SKIP':
                s = 1
            else:
                f = 1
            if f:
                failures.append(f'{name} ({result})')
            totals[0] += p
            totals[1] += f
            totals[2] += s
    for name in failures:
        print(f'FAILED: {name}')
    print(f'{totals[0]} passed, {totals[1]} failed, {totals[2]} skipped')
    return 1 if totals[1] or totals[0] == 0 else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
