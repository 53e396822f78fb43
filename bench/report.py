#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""The real-pressure benchmark's report: tables, verdicts and plots from a results folder.

  report.py RESULTS_DIR [--readme bench/README.md]

RESULTS_DIR is what bench/run-pressure wrote: raw/<scenario>/<arm>-<run>/out/ per guest run and
machine.txt. Writes RESULTS_DIR/results.md (a table per scenario: the median of the runs with
the spread as min-max, the verdicts of issue 5 said plainly, met or not), RESULTS_DIR/metrics.json
(every run's metrics) and RESULTS_DIR/<scenario>.png (pressure over time, one panel per arm, each
arm's actions marked; the arm's median run by full stall). With --readme, the block between
<!-- latest-results:begin --> and <!-- latest-results:end --> of that file gets the new table.
"""
import json
import os
import re
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests', 'vm'))
import pressure_analysis as pa  # noqa: E402

ARMS = ('none', 'mgd', 'earlyoom', 'nohang', 'oomd')
ARM_LABEL = {'none': 'no daemon (kernel OOM killer)', 'mgd': 'mgd', 'earlyoom': 'earlyoom',
             'nohang': 'nohang (desktop config)', 'oomd': 'systemd-oomd'}
SCENARIO_TITLE = {
    'incident': 'Incident (the seed\'s runaway node process, newcomers mid-incident)',
    'incident-short': 'Incident, CI cut',
    'build': 'Oscillating parallel build (nothing deserves to die)',
    'clean': 'Clean room (no pressure: overhead only)',
}


def load(results):
    runs = {}
    raw = os.path.join(results, 'raw')
    for scen in sorted(os.listdir(raw)) if os.path.isdir(raw) else []:
        for d in sorted(os.listdir(os.path.join(raw, scen))):
            m = re.fullmatch(r'(\w+)-(\d+)', d)
            out = os.path.join(raw, scen, d, 'out')
            if not m or not os.path.isdir(out):
                continue
            run = pa.Run(out)
            met = run.metrics()
            met['run'] = int(m.group(2))
            met['protected_touched'] = protected_touched(run)
            if scen.startswith('mx-'):
                inv = pa.invariants(run)
                met['invariants'] = {'results': inv.results, 'figures': inv.figures}
            runs.setdefault(scen, {}).setdefault(m.group(1), []).append((run, met))
    return runs


def protected_touched(run):
    """Processes of the 0-19 tier, the protect entry or the foreground that were frozen or killed."""
    pids = {p for n in pa.SYSTEM_TIER + pa.PROTECT_ENTRY for p in run.pids_named(n)}
    fg = int(run.meta.get('foreground_pid', 0) or 0)
    pids |= {fg} if fg else set()
    hit = {p for t, k, p, how, n in run.frozen_log if k == 'frozen' and p in pids}
    hit |= {p for p in pids if run.outcome(p) != 'alive'}
    return len(hit)


def spread(values, fmt='{:.0f}'):
    vals = [v for v in values if v is not None]
    if not vals:
        return 'n/a'
    med = statistics.median(vals)
    if len(vals) == 1 or min(vals) == max(vals):
        return fmt.format(med)
    return f'{fmt.format(med)} ({fmt.format(min(vals))}–{fmt.format(max(vals))})'


def common(items):
    """The most frequent value of a list of lists, as text ('node ×3' if every run agreed)."""
    texts = [', '.join(x) if x else '—' for x in items]
    best = max(set(texts), key=texts.count)
    return best if texts.count(best) == len(texts) else f'{best} ({texts.count(best)} of {len(texts)} runs)'


def col(mets, key, scale=1.0, fmt='{:.0f}'):
    return spread([m[key] / scale if m.get(key) is not None else None for m in mets], fmt)


def table(scen, arms):
    rows = []
    if scen.startswith('incident'):
        head = ['arm', 'runs', 'PSI some s', 'PSI full s', 'session full s', 'onset → 1st action s',
                'stall lasted s', 'probe worst ms', 'probe p99 ms', 'min MemAvail MB', 'hog gone after s',
                'killed', 'frozen (max)', 'protected touched', 'daemon RSS kB', 'daemon CPU s']
        for arm, mets in arms:
            rows.append([ARM_LABEL.get(arm, arm), str(len(mets)), col(mets, 'psi_some_ms', 1000, '{:.1f}'),
                         col(mets, 'psi_full_ms', 1000, '{:.1f}'), col(mets, 'session_full_ms', 1000, '{:.1f}'),
                         col(mets, 'first_action_s', 1, '{:.1f}'), col(mets, 'stall_duration_s', 1, '{:.1f}'),
                         col(mets, 'probe_worst_ms'), col(mets, 'probe_p99_ms', 1, '{:.1f}'),
                         col(mets, 'min_memavail_mb'), col(mets, 'hog_gone_s', 1, '{:.1f}'),
                         common([m['killed'] for m in mets]), str(max(m['n_frozen'] for m in mets)),
                         str(max(m['protected_touched'] for m in mets)), col(mets, 'daemon_hwm_kb'),
                         col(mets, 'daemon_cpu_ms', 1000, '{:.2f}')])
    else:
        head = ['arm', 'runs', 'build wall s', 'workers killed', 'PSI some s', 'PSI full s', 'probe worst ms',
                'probe p99 ms', 'min MemAvail MB', 'killed', 'frozen (max)', 'protected touched',
                'daemon RSS kB', 'daemon CPU s']
        for arm, mets in arms:
            unfinished = sum(1 for m in mets if m.get('build_wall_s') is None)
            wall = col(mets, 'build_wall_s', 1, '{:.1f}') + (f' ({unfinished} of {len(mets)} never finished)'
                                                             if unfinished else '')
            rows.append([ARM_LABEL.get(arm, arm), str(len(mets)), wall,
                         col(mets, 'build_workers_killed'), col(mets, 'psi_some_ms', 1000, '{:.1f}'),
                         col(mets, 'psi_full_ms', 1000, '{:.1f}'), col(mets, 'probe_worst_ms'),
                         col(mets, 'probe_p99_ms', 1, '{:.1f}'), col(mets, 'min_memavail_mb'),
                         common([m['killed'] for m in mets]), str(max(m['n_frozen'] for m in mets)),
                         str(max(m['protected_touched'] for m in mets)), col(mets, 'daemon_hwm_kb'),
                         col(mets, 'daemon_cpu_ms', 1000, '{:.2f}')])
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    lines += ['| ' + ' | '.join(r) + ' |' for r in rows]
    return '\n'.join(lines)


MATRIX_HEAD = ['scenario', 'arm', 'runs', 'PSI full s', 'probe worst ms', 'protected touched (daemon / kernel)',
               'kernel OOM kills', 'left frozen', 'daemon CPU s', 'invariants']


def matrix_rows(scen, arms):
    """One row per arm of a matrix scenario; the invariants of every run (the contract, any arm)."""
    rows = []
    for arm, pairs in arms:
        mets = [m for _, m in pairs]
        inv = [m['invariants'] for m in mets]
        broken = sorted({t.split(':')[0] for i in inv for ok, t in i['results'] if not ok})
        held = sum(1 for i in inv if all(ok for ok, _ in i['results']))
        fig = lambda k: max((i['figures'].get(k) or 0) for i in inv)       # noqa: E731
        rows.append([scen, ARM_LABEL.get(arm, arm).split(' (')[0], str(len(mets)), col(mets, 'psi_full_ms', 1000, '{:.1f}'),
                     col(mets, 'probe_worst_ms'), f'{fig("protected_daemon")} / {fig("protected_kernel")}',
                     str(fig('oom_kills')), str(fig('left_frozen')),
                     col(mets, 'daemon_cpu_ms', 1000, '{:.2f}') if arm != 'none' else '—',
                     f'held in {held} of {len(mets)}' + (': broken: ' + '; '.join(broken) if broken else '')])
    return rows


def matrix_table(rows):
    lines = ['| ' + ' | '.join(MATRIX_HEAD) + ' |', '|' + '---|' * len(MATRIX_HEAD)]
    return '\n'.join(lines + ['| ' + ' | '.join(r) + ' |' for r in rows])


def median_of(mets, key):
    vals = [m[key] for m in mets if m.get(key) is not None]
    return statistics.median(vals) if vals else None


def verdicts(arms):
    """Issue 5's bar for the incident, said plainly whether met or not."""
    by = dict(arms)
    if 'mgd' not in by:
        return ['- mgd did not run in this benchmark (not built, or left out with --arms): no verdict.']
    out = []
    full = {a: median_of(m, 'psi_full_ms') for a, m in by.items()}
    worst = {a: median_of(m, 'probe_worst_ms') for a, m in by.items()}
    if full.get('none') is not None and full['mgd'] is not None:
        ratio = full['mgd'] / full['none'] * 100 if full['none'] else float('inf')
        out.append(f'- mgd\'s full stall is {ratio:.0f} % of no-daemon\'s (bar: at most 25 %): '
                   f'**{"met" if ratio <= 25 else "NOT met"}**.')
    peers = [a for a in by if a not in ('mgd', 'none')]
    worse = [a for a in peers if full.get(a) is not None and full['mgd'] is not None and full['mgd'] >= full[a]]
    out.append(f'- mgd\'s full stall below every peer\'s ({", ".join(peers) or "no peer ran"}): '
               f'**{"met" if peers and not worse else "NOT met"}**' + (f' (not below {", ".join(worse)})' if worse else '') + '.')
    lower = [a for a in by if a != 'mgd' and worst.get(a) is not None and worst['mgd'] is not None and worst[a] <= worst['mgd']]
    out.append(f'- the probe\'s worst latency is lowest with mgd: **{"met" if not lower else "NOT met"}**'
               + (f' ({", ".join(lower)} as low or lower)' if lower else '') + '.')
    touched = max(m['protected_touched'] for m in by['mgd'])
    out.append(f'- protected processes touched by mgd: {touched} (bar: 0): **{"met" if touched == 0 else "NOT met"}**.')
    return out


def verdicts_build(scen, arms):
    """What a daemon did to work that only oscillates (build) or to a quiet machine (clean)."""
    by = dict(arms)
    if 'mgd' not in by:
        return []
    out = []
    wall = {a: median_of(m, 'build_wall_s') for a, m in by.items()}
    if scen == 'build':
        # from mgd's own log: the build's workers are cargo's children, which the launcher does not see
        victims = [sorted({f'{a["name"]}' for a in m['actions'] if a['actor'] == 'mgd' and a['kind'] in pa.DESTRUCTIVE})
                   for m in by['mgd']]
        killed = max(len([a for a in m['actions'] if a['actor'] == 'mgd' and a['kind'] in pa.DESTRUCTIVE])
                     for m in by['mgd'])
        out.append(f'- processes killed by mgd while the build oscillated: up to {killed} per run '
                   f'({common(victims)}) (bar: 0): **{"met" if killed == 0 else "NOT met"}**.')
    unfinished = sum(1 for m in by['mgd'] if m.get('build_wall_s') is None)
    if unfinished:
        out.append(f'- the build never finished under mgd in {unfinished} of {len(by["mgd"])} runs (it was still '
                   f'frozen when the run gave up): **NOT met**.')
    if wall.get('none') and wall.get('mgd'):
        delta = (wall['mgd'] / wall['none'] - 1) * 100
        out.append(f'- the build took {wall["mgd"]:.1f} s with mgd against {wall["none"]:.1f} s with no daemon '
                   f'({delta:+.0f} %).')
    cpu = median_of(by['mgd'], 'daemon_cpu_ms')
    if cpu is not None:
        out.append(f'- mgd\'s CPU time over the run: {cpu / 1000:.2f} s.')
    return out


# ---- plots -------------------------------------------------------------------------------------

def plot(results, scen, arms):
    """pressure over time per arm (its median run), actions marked; returns the PNG's name or None."""
    panels, xmax = [], 0.0
    for arm, pairs in arms:
        pairs = sorted(pairs, key=lambda p: p[1].get('psi_full_ms') or 0)
        run, met = pairs[len(pairs) // 2]
        t0 = run.trigger_time() or 0
        base = os.path.join(results, 'plot', f'{scen}-{arm}')
        os.makedirs(os.path.dirname(base), exist_ok=True)
        with open(base + '.dat', 'w') as f:
            full = dict(run.stall_rate('full_us'))
            at = {x['t_ms']: x for x in run.samples}
            for t, some in run.stall_rate('some_us'):
                r = at.get(t)
                xmax = max(xmax, (t - t0) / 1000)
                f.write(f'{(t - t0) / 1000:.2f} {some:.1f} {full.get(t, 0):.1f} {r["memavail_kb"] / 1024 if r else 0:.0f} '
                        f'{r["frozen"] if r else 0:.0f}\n')
        with open(base + '.act', 'w') as f:
            for a in run.actions:
                if a.kind.endswith('-done'):
                    continue
                y = {'freeze': 92, 'thaw': 84}.get(a.kind, 100)
                label = a.name.replace(' ', '_') if a.kind in pa.DESTRUCTIVE else ''
                f.write(f'{(a.t - t0) / 1000:.2f} {y} {a.kind} "{label}"\n')
        panels.append((arm, base, met))
    if not panels:
        return None
    png = f'{scen}.png'
    gp = [f'set terminal pngcairo size 1200,{260 * len(panels) + 80} font "DejaVu Sans,9"',
          f'set output "{os.path.join(results, png)}"',
          f'set multiplot layout {len(panels)},1 title "{SCENARIO_TITLE.get(scen, scen)}: memory stall per second, '
          f'MemAvailable, and each arm\'s actions (t = 0: the hog or the build starts)"',
          f'set xrange [-15:{xmax:.0f}]', 'set yrange [0:105]', 'set y2range [0:*]', 'set ytics nomirror', 'set y2tics', 'set grid',
          'set key top left horizontal', 'set ylabel "stall %"', 'set y2label "MemAvailable MiB"']
    for arm, base, met in panels:
        gp.append(f'set title "{ARM_LABEL.get(arm, arm)}: some {met.get("psi_some_ms", 0) / 1000:.1f} s, '
                  f'full {met.get("psi_full_ms", 0) / 1000:.1f} s, probe worst {met.get("probe_worst_ms")} ms"')
        gp.append(f'plot "{base}.dat" using 1:2 with lines lw 1.5 lc rgb "#d95f02" title "some", '
                  f'"" using 1:3 with lines lw 1.5 lc rgb "#7570b3" title "full", '
                  f'"" using 1:4 axes x1y2 with lines lw 1 lc rgb "#1b9e77" title "MemAvailable", '
                  f'"{base}.act" using 1:(strcol(3) eq "freeze" ? $2 : 1/0) with points pt 11 ps 0.8 lc rgb "#377eb8" title "freeze", '
                  f'"" using 1:(strcol(3) eq "thaw" ? $2 : 1/0) with points pt 9 ps 0.8 lc rgb "#4daf4a" title "thaw", '
                  f'"" using 1:(strcol(3) ne "freeze" && strcol(3) ne "thaw" ? $2 : 1/0) with impulses lw 2 lc rgb "#e41a1c" title "kill/term", '
                  f'"" using 1:(strcol(3) ne "freeze" && strcol(3) ne "thaw" ? $2 : 1/0):4 with labels rotate by 90 right offset 0,-0.5 font ",7" notitle')
    gp.append('unset multiplot')
    with open(os.path.join(results, 'plot', f'{scen}.gp'), 'w') as f:
        f.write('\n'.join(gp) + '\n')
    r = subprocess.run(['gnuplot', os.path.join(results, 'plot', f'{scen}.gp')], capture_output=True, text=True)
    if r.returncode != 0:
        print(f'report: gnuplot failed for {scen}: {r.stderr.strip()}', file=sys.stderr)
        return None
    return png


def main(argv):
    if len(argv) < 2 or argv[1].startswith('-'):
        print(__doc__.split('\n\n')[1], file=sys.stderr)
        return 2
    results = argv[1]
    readme = argv[3] if len(argv) == 4 and argv[2] == '--readme' else None
    runs = load(results)
    if not runs:
        print(f'report: no runs under {results}/raw', file=sys.stderr)
        return 1
    machine = ' '.join(pa.read_lines(os.path.join(results, 'machine.txt')))
    md = [f'# Real-pressure benchmark, {os.path.basename(os.path.abspath(results))}', '',
          f'Machine: {machine or "not recorded"}', '',
          'Each cell: median of the runs, (min–max) when they differ. PSI totals are global '
          '`/proc/pressure/memory` stall over the run; "session" is the user manager\'s cgroup. '
          '"onset → 1st action": from the first second with ≥ 10 % stall to the arm\'s first action '
          '(negative: it acted before the stall). "stall lasted": onset to the last second with ≥ 10 %. '
          'The probe is the compositor\'s 10 ms frame loop; its latency is deadline to frame done. '
          '"protected touched": 0-19 tier, protect entry or foreground frozen or killed.', '']
    all_metrics = {}
    mx = [s for s in sorted(runs) if s.startswith('mx-')]
    if mx:
        md += ['## The scenario matrix (tests/vm/scenario_matrix.py)', '',
               'Per scenario and arm: the median (min–max) of the runs; "protected touched", "kernel OOM '
               'kills" and "left frozen" are the worst run. The invariants are the contract, checked on '
               'every run of every arm (tests/vm/pressure_analysis.py --check-invariants): nobody signals '
               'the 0-19 tier, the protect entry or the foreground; nothing dies while a less important '
               'process lives (the scenario\'s runaway excepted); no kernel OOM kill while an expendable '
               'lives; nothing frozen 60 s after the last stall or longer than the bound; mgd decides '
               'within 100 ms of a trigger event.', '']
        rows = []
        for scen in mx:
            rows += matrix_rows(scen, [(a, runs[scen][a]) for a in ARMS if a in runs[scen]])
            all_metrics[scen] = {a: [m for _, m in runs[scen][a]] for a in runs[scen]}
        md += [matrix_table(rows), '']
    for scen in sorted((s for s in runs if not s.startswith('mx-')),
                       key=lambda s: list(SCENARIO_TITLE).index(s) if s in SCENARIO_TITLE else 99):
        arms = [(a, [m for _, m in runs[scen][a]]) for a in ARMS if a in runs[scen]]
        md += [f'## {SCENARIO_TITLE.get(scen, scen)}', '', table(scen, arms), '']
        if scen.startswith('incident'):
            md += verdicts(arms) + ['']
        else:
            md += verdicts_build(scen, arms) + ['']
        png = plot(results, scen, [(a, runs[scen][a]) for a in ARMS if a in runs[scen]])
        if png:
            md += [f'![{scen}]({png})', '']
        all_metrics[scen] = {a: [m for _, m in runs[scen][a]] for a in runs[scen]}
    with open(os.path.join(results, 'metrics.json'), 'w') as f:
        json.dump(all_metrics, f, indent=1)
    text = '\n'.join(md)
    with open(os.path.join(results, 'results.md'), 'w') as f:
        f.write(text)
    print(text)
    if readme:
        update_readme(readme, results, text)
    return 0


def update_readme(readme, results, text):
    with open(readme) as f:
        doc = f.read()
    rel = os.path.relpath(results, os.path.dirname(os.path.abspath(readme)))
    # images in the results folder, seen from the README
    text = re.sub(r'!\[(.*?)\]\((.*?)\)', lambda m: f'![{m.group(1)}]({rel}/{m.group(2)})', text)
    text = text.replace('# Real-pressure benchmark,', '### Latest run:', 1)
    new, n = re.subn(r'(<!-- latest-results:begin -->\n).*?(<!-- latest-results:end -->)',
                     lambda m: m.group(1) + text + '\n' + m.group(2), doc, flags=re.S)
    if n != 1:
        print(f'report: no latest-results block in {readme}; not updated', file=sys.stderr)
        return
    with open(readme, 'w') as f:
        f.write(new)


if __name__ == '__main__':
    sys.exit(main(sys.argv))
