#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""mgctl --version without a daemon, and the shell completions: every command of mgctl --help is
in each file; the bash one parses (bash -n) and completes commands, options and, for explain, the
pid and name of a process of ours; the zsh one parses (zsh -n) and the fish one too
(fish --no-execute), where tests/deps.sh installed those shells.

usage: test-completions.py BUILD_DIR SOURCE_DIR
"""
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from mgdtest import Tap  # noqa: E402


def bash_complete(script, path, words, env):
    """COMPREPLY of _mgctl for the words (the last one is being completed)."""
    line = ' '.join(f"'{w}'" for w in words)
    prog = (f'source {script}\nCOMP_WORDS=({line})\nCOMP_CWORD={len(words) - 1}\n'
            '_mgctl\nprintf "%s\\n" "${COMPREPLY[@]}"\n')
    r = subprocess.run(['bash', '--norc', '--noprofile', '-c', prog], capture_output=True, text=True,
                       env=dict(env, PATH=path + ':' + env['PATH']), timeout=20)
    return [w for w in r.stdout.splitlines() if w], r.stderr


def main():
    build, src = (os.path.abspath(a) for a in sys.argv[1:3])
    tap = Tap()
    mgctl = os.path.join(build, 'client', 'mgctl')
    comp = os.path.join(src, 'client', 'completions')
    env = dict(os.environ, XDG_RUNTIME_DIR='/nonexistent')

    r = subprocess.run([mgctl, '--version'], capture_output=True, text=True, env=env, timeout=10)
    tap.ok(r.returncode == 0 and re.fullmatch(r'mgctl \S+ \(protocol \d+\)\n', r.stdout),
           'mgctl --version prints its version and exits 0 with no daemon', f'{r.returncode} {r.stdout} {r.stderr}')
    r = subprocess.run([mgctl, '--help'], capture_output=True, text=True, env=env, timeout=10)
    commands = set()
    for line in r.stdout.splitlines():
        if not re.match(r'  [a-z]', line):
            continue
        for t in line[2:].split('  ')[0].split():
            if t == '|':
                continue
            if not re.fullmatch(r'[a-z]+', t):
                break
            commands.add(t)
            if ' | ' not in line:
                break
    tap.ok({'explain', 'unfreeze', 'status', 'logs', 'calibrate'} <= commands, 'the commands are read from --help',
           ' '.join(sorted(commands)))
    for name in ('mgctl.bash', '_mgctl', 'mgctl.fish'):
        text = open(os.path.join(comp, name)).read()
        missing = [c for c in sorted(commands) if not re.search(rf'\b{c}\b', text)]
        opts = [o for o in ('version', 'json', 'socket', 'timeout') if not re.search(rf'(--|-l ){o}\b', text)]
        missing += opts
        tap.ok(not missing,
               f'{name} knows every command and the options', ' '.join(missing))

    bash = os.path.join(comp, 'mgctl.bash')
    r = subprocess.run(['bash', '-n', bash], capture_output=True, text=True)
    tap.ok(r.returncode == 0, 'the bash completion parses (bash -n)', r.stderr)
    bindir = os.path.dirname(mgctl)
    got, err = bash_complete(bash, bindir, ['mgctl', 'ex'], env)
    tap.ok(got == ['explain'], 'bash: a command', f'{got} {err}')
    got, err = bash_complete(bash, bindir, ['mgctl', '--v'], env)
    tap.ok(got == ['--version'], 'bash: an option', f'{got} {err}')
    sleeper = subprocess.Popen(['sleep', '60'])
    try:
        got, err = bash_complete(bash, bindir, ['mgctl', 'explain', str(sleeper.pid)], env)
        tap.ok(str(sleeper.pid) in got, 'bash: explain offers the pids of the user\'s processes', f'{got[:10]} {err}')
        got, err = bash_complete(bash, bindir, ['mgctl', '--json', 'explain', 'slee'], env)
        tap.ok('sleep' in got, 'bash: ... and their names, after an option', f'{got[:10]} {err}')
    finally:
        sleeper.kill()
        sleeper.wait()
    got, err = bash_complete(bash, bindir, ['mgctl', 'unfreeze', ''], env)
    tap.ok(got == [] and not err, 'bash: unfreeze with no mgd running offers nothing, quietly', f'{got} {err}')

    for shell, args, name in (('zsh', ['-n'], '_mgctl'), ('fish', ['--no-execute'], 'mgctl.fish')):
        if not shutil.which(shell):
            tap.skip(f'the {shell} completion parses', f'{shell} is not installed (tests/deps.sh installs it)')
            continue
        r = subprocess.run([shell, *args, os.path.join(comp, name)], capture_output=True, text=True, timeout=20)
        tap.ok(r.returncode == 0 and not r.stderr, f'the {shell} completion parses ({shell} {args[0]})',
               r.stdout + r.stderr)
    return tap.done()


if __name__ == '__main__':
    sys.exit(main())
