#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Integration: emergency hibernate against a logind stand-in on a test bus. A private
dbus-daemon is mgd's system bus (DBUS_SYSTEM_BUS_ADDRESS); logind-standin owns
org.freedesktop.login1 there and records each Hibernate call. mgd held at Emergency for
hibernate_after asks once (non-interactive, as the user), says logind accepted; a refusal is
logged with logind's reason; under --dry-run nothing is asked.

usage: test-hibernate.py BUILD_DIR
"""
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from mgdtest import FakePressure, Mgd, Session, Tap, scratch, skip, wait_for  # noqa: E402

CONFIG = """[defaults]
fast_tick = 200ms
slow_tick = 500ms
calm_to_normal = 2s
calm_step = 1s
target_available_pct = 15
hibernate_after = 2s
"""
GIB = 1024 * 1024

BUS_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={path}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"""


def run_incident(tap, build, tmp, fake, sess, address, record, what, extra=(), refuse=False):
    standin = subprocess.Popen([os.path.join(build, 'tests', 'daemon', 'logind-standin'), address, record,
                                *(['--refuse'] if refuse else [])], stdout=subprocess.PIPE, text=True)
    mgd = None
    try:
        tap.ok(standin.stdout.readline().strip() == 'ready', f'{what}: the logind stand-in owns its name')
        mgd = Mgd(build, os.path.join(tmp, what), sess.name, fake.root, CONFIG, extra=extra)
        mgd.env['DBUS_SYSTEM_BUS_ADDRESS'] = address
        tap.ok(mgd.start(), f'{what}: mgd starts with hibernate_after = 2s', mgd.text())
        fake.set(stall=1.0, avail_kb=int(0.3 * GIB))
        wait_for(lambda: 'Emergency for' in mgd.text(), 15)
        wait_for(lambda: 'logind' in mgd.text().split('Emergency for', 1)[-1], 5)
        time.sleep(1.5)         # a second request would come within this
        return mgd
    finally:
        fake.set(stall=0.0, avail_kb=8 * GIB)
        if mgd:
            mgd.stop()
        standin.terminate()
        standin.wait(timeout=10)


def calls(record):
    return open(record).read().splitlines() if os.path.exists(record) else []


def main():
    build = os.path.abspath(sys.argv[1])
    if not shutil.which('dbus-daemon'):
        skip('no dbus-daemon')
    tap = Tap()
    tmp = scratch('mgd-hibernate-')
    conf = os.path.join(tmp, 'bus.conf')
    sock = os.path.join(tmp, 'bus')
    with open(conf, 'w') as f:
        f.write(BUS_CONF.format(path=sock))
    bus = subprocess.Popen(['dbus-daemon', f'--config-file={conf}', '--nofork', '--print-address'],
                           stdout=subprocess.PIPE, text=True)
    address = bus.stdout.readline().strip()
    fake = FakePressure(os.path.join(tmp, 'p'))
    sess = Session(os.path.join(build, 'tests', 'daemon', 'fakeproc'))
    try:
        tap.ok(address.startswith('unix:'), 'a private bus stands in for the system bus', address)
        sess.spawn('Web Content', 12)

        record = os.path.join(tmp, 'calls')
        mgd = run_incident(tap, build, tmp, fake, sess, address, record, 'accepted')
        c = calls(record)
        tap.ok(len(c) == 1 and c[0] == f'Hibernate interactive=0 uid={os.getuid()}',
               'after hibernate_after at Emergency mgd asks logind once, non-interactive, as the user',
               f'{c}\n' + mgd.text()[-2000:])
        tap.ok('asking logind to hibernate' in mgd.text() and 'logind accepted the request to hibernate' in mgd.text(),
               'the request and logind\'s answer are logged', mgd.text()[-2000:])

        record = os.path.join(tmp, 'calls-refused')
        mgd = run_incident(tap, build, tmp, fake, sess, address, record, 'refused', refuse=True)
        tap.ok(len(calls(record)) == 1 and 'logind refused to hibernate: Not allowed by the test' in mgd.text(),
               'a refusal is logged with logind\'s reason', mgd.text()[-2000:])

        record = os.path.join(tmp, 'calls-dry')
        mgd = run_incident(tap, build, tmp, fake, sess, address, record, 'dry-run', extra=['--dry-run'])
        tap.ok(not calls(record) and 'would ask logind to hibernate, but this is a dry run' in mgd.text(),
               'under --dry-run logind is not asked, and the log says what would be done',
               f'{calls(record)}\n' + mgd.text()[-2000:])
    finally:
        fake.close()
        sess.cleanup()
        bus.terminate()
        bus.wait(timeout=10)
    return tap.done()


if __name__ == '__main__':
    sys.exit(main())
