#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Prints the best of five timings, in seconds, of a fixed CPU-bound loop. Run in the guest and
on the host, the ratio says how much slower the guest computes (qemu TCG: about 10-30x)."""
import time


def once():
    t = time.perf_counter()
    x = 0
    for i in range(300000):
        x += i * i % 7
    return time.perf_counter() - t


if __name__ == '__main__':
    print(f'{min(once() for _ in range(5)):.6f}')
