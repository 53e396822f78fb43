#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# The whole test suite: installs its own dependencies (apt-get), builds, runs the unit and
# integration suites in parallel, then the real-pressure and guest suites one at a time
# (2 cores and one zram0 are shared), and ends with the plain line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
top=$PWD
build=${MGD_TEST_BUILD:-$top/build-test}

bash tests/deps.sh || exit 1

if [ -d "$build" ]; then
        meson setup --reconfigure "$build" -Dtest_hooks=true -Dtests=enabled >"$build.setup.log" 2>&1
else
        meson setup "$build" -Dtest_hooks=true -Dtests=enabled >"$build.setup.log" 2>&1
fi || { cat "$build.setup.log"; echo "0 passed, 1 failed"; exit 1; }
ninja -C "$build" >"$build.ninja.log" 2>&1 || { tail -50 "$build.ninja.log"; echo "0 passed, 1 failed"; exit 1; }

logs=()
run_suites() {
        local base=$1; shift
        rm -f "$build/meson-logs/$base.json"
        meson test -C "$build" --no-rebuild --print-errorlogs --logbase "$base" "$@" 2>&1 |
                grep -v -E '^(Ok|Expected Fail|Fail|Unexpected Pass|Skipped|Timeout|Full log written)' || true
        logs+=("$build/meson-logs/$base.json")
}

run_suites fast --suite unit --suite integration
run_suites pressure --suite pressure --num-processes 1
[ "${MGD_SKIP_VM:-0}" = 1 ] || run_suites vm --suite vm --num-processes 1

echo
python3 tests/summarize.py "${logs[@]}"
