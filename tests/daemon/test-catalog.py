#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""The journal catalog (units/mgd.catalog) and the MESSAGE_IDs of the code agree: every id the
daemon's sources hold is in the catalog and every id of the catalog is in the code, each
MGD_MESSAGE_* macro is used, and journalctl (where installed) builds its catalog database from
the file and lists exactly those ids.

usage: test-catalog.py SOURCE_DIR
"""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from mgdtest import Tap  # noqa: E402

HEX = re.compile(r'"([0-9a-f]{32})"')


def main():
    src = os.path.abspath(sys.argv[1])
    tap = Tap()
    catalog_path = os.path.join(src, 'units', 'mgd.catalog')
    catalog = open(catalog_path).read()
    cat_ids = re.findall(r'^-- ([0-9a-f]{32})$', catalog, re.M)
    code = {p: open(p).read() for p in glob.glob(os.path.join(src, 'daemon', '*.[ch]'))}
    code_ids = {i for text in code.values() for i in HEX.findall(text)}
    ids_h = code[os.path.join(src, 'daemon', 'log-ids.h')]
    macros = re.findall(r'#define (MGD_MESSAGE_[A-Z_]+) "([0-9a-f]{32})"', ids_h)

    tap.ok(len(cat_ids) == len(set(cat_ids)) == 6, 'the catalog has six entries, no id twice', cat_ids)
    tap.ok(code_ids <= set(cat_ids), 'every MESSAGE_ID in the code is in the catalog', code_ids - set(cat_ids))
    tap.ok(set(cat_ids) <= code_ids, 'every id of the catalog is in the code', set(cat_ids) - code_ids)
    unused = [m for m, _ in macros
              if not any(re.search(rf'\b{m}\b', t) for p, t in code.items() if not p.endswith('log-ids.h'))]
    tap.ok(len(macros) == 6 and not unused, 'every MGD_MESSAGE_* id is used by the daemon', unused)
    for name in ('LEVEL', 'FREEZE', 'THAW', 'KILL', 'CHECKPOINT', 'RESTORE'):
        tap.ok(any(m == f'MGD_MESSAGE_{name}' for m, _ in macros), f'an id for {name.lower()}')
    entries = re.split(r'^-- [0-9a-f]{32}$', catalog, flags=re.M)[1:]
    tap.ok(all(re.search(r'^Subject: .+$', e, re.M) and re.search(r'^Defined-By: mgd$', e, re.M) for e in entries),
           'each entry has a Subject and Defined-By')

    if not shutil.which('journalctl'):
        tap.skip('journalctl reads the catalog', 'no journalctl')
        return tap.done()
    root = tempfile.mkdtemp(prefix='mgd-catalog-')
    try:
        os.makedirs(os.path.join(root, 'usr/lib/systemd/catalog'))
        shutil.copy(catalog_path, os.path.join(root, 'usr/lib/systemd/catalog'))
        r = subprocess.run(['journalctl', f'--root={root}', '--update-catalog'], capture_output=True, text=True)
        listed = subprocess.run(['journalctl', f'--root={root}', '--list-catalog'], capture_output=True, text=True)
        got = sorted(l.split()[0] for l in listed.stdout.splitlines() if l.strip())
        tap.ok(r.returncode == 0 and not r.stderr.strip() and got == sorted(cat_ids),
               'journalctl builds its catalog database from it and lists exactly its ids',
               r.stderr + listed.stdout + listed.stderr)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return tap.done()


if __name__ == '__main__':
    sys.exit(main())
