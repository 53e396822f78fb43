#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""In the guest, as root (who holds CAP_SYS_RESOURCE there): ask mgd-psi-helper for a sub-second
trigger fd over its real protocol, hand the fd to an unprivileged process (uid 65534, no
capabilities), start a memory hog, and time the first POLLPRI on that fd against an unprivileged
2 s trigger the same process armed itself on the same file. Prints PASS/FAIL lines and
"METRIC name value" lines.

usage: psi-fd.py HELPER HOG_CMD...
"""
import array
import os
import select
import socket
import struct
import subprocess
import sys
import time

PROTO_VERSION, PSI_ARM, PSI_ARM_REPLY = 1, 2, 3


def say(ok, what):
    print(('PASS: ' if ok else 'FAIL: ') + what, flush=True)
    return ok


def arm_through_helper(helper, stall_us, window_us):
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pid = os.fork()
    if pid == 0:
        os.dup2(b.fileno(), 3)          # the helper's socket is always fd 3
        os.closerange(4, 1024)
        os.execve(helper, [helper], {})
    b.close()
    req = struct.pack('=BBHI', PROTO_VERSION, PSI_ARM, 0, 7) + \
        struct.pack('=BBHIII', 0, 0, 0, stall_us, window_us, 0) + bytes(8)
    a.send(req)
    fds = array.array('i')
    msg, anc, flags, _ = a.recvmsg(33, socket.CMSG_SPACE(4 * fds.itemsize))
    for level, typ, data in anc:
        if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
            fds.frombytes(data[:len(data) - len(data) % fds.itemsize])
    a.close()                           # the helper exits when we hang up
    os.waitpid(pid, 0)
    if len(msg) != 32:
        return None, f'reply of {len(msg)} bytes'
    ver, typ, _, seq, err = struct.unpack('=BBHIi', msg[:12])
    if ver != PROTO_VERSION or typ != PSI_ARM_REPLY or seq != 7 or err != 0 or len(fds) != 1:
        return None, f'reply type {typ} seq {seq} error {err} fds {len(fds)}'
    return fds[0], 'ok'


def main():
    helper, hog = sys.argv[1], sys.argv[2:]
    fd, why = arm_through_helper(helper, 150000, 1000000)
    if not say(fd is not None, f'mgd-psi-helper armed "some 150000 1000000" and passed the fd ({why})'):
        return 1
    r, w = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(r)
        os.setgroups([])
        os.setresgid(65534, 65534, 65534)
        os.setresuid(65534, 65534, 65534)
        with open('/proc/self/status') as f:
            capeff = [l.split()[1] for l in f if l.startswith('CapEff:')][0]
        own = os.open('/proc/pressure/memory', os.O_RDWR | os.O_NONBLOCK)
        try:
            os.write(own, b'some 150000 1000000\0')
            sub_refused = False
        except OSError:
            sub_refused = True
        own2 = os.open('/proc/pressure/memory', os.O_RDWR | os.O_NONBLOCK)
        os.write(own2, b'some 300000 2000000\0')
        os.write(w, f'ready {capeff} {int(sub_refused)}\n'.encode())
        p = select.poll()
        p.register(fd, select.POLLPRI)
        p.register(own2, select.POLLPRI)
        first = {}
        end = time.monotonic() + 40
        while len(first) < 2 and time.monotonic() < end:
            for f, ev in p.poll(100):
                if ev & select.POLLPRI and f not in first:
                    first[f] = time.monotonic()
        os.write(w, f'{first.get(fd, 0):.6f} {first.get(own2, 0):.6f}\n'.encode())
        os._exit(0)
    os.close(w)
    rd = os.fdopen(r)
    ready = rd.readline().split()
    say(ready[1] == '0000000000000000', f'the polling process runs as uid 65534 with no capability (CapEff {ready[1]})')
    say(ready[2] == '1', 'the same uid cannot arm a 1 s window itself (EINVAL without CAP_SYS_RESOURCE)')
    t0 = time.monotonic()
    hogp = subprocess.Popen(hog)
    sub, unpriv = (float(x) for x in rd.readline().split())
    hogp.kill()
    hogp.wait()
    os.waitpid(child, 0)
    say(sub > 0, 'the helper\'s fd fires POLLPRI in the unprivileged process under real pressure')
    if sub > 0:
        print(f'METRIC psi_helper_first_event_s {sub - t0:.3f}', flush=True)
    if unpriv > 0:
        print(f'METRIC psi_unprivileged_2s_first_event_s {unpriv - t0:.3f}', flush=True)
    say(sub > 0 and (unpriv == 0 or sub <= unpriv + 0.05),
        f'the sub-second trigger fires no later than the 2 s one ({sub - t0:.2f} s vs '
        f'{unpriv - t0 if unpriv else float("nan"):.2f} s after the hog started)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
