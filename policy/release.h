/* SPDX-License-Identifier: GPL-2.0-only */
#pragma once

/*
 * Memory that must really be released. A freeze stops a process but keeps its memory: it helps
 * while the frozen pages can go somewhere (swap with room left), and to stop a runaway growing.
 * When swap is full or absent, or when memory is running out faster than reclaim could catch
 * up, the only way out is a process that ends, and it must end before the kernel's OOM killer
 * picks one by size. This is the model of that point and the choice of who ends.
 *
 * Headroom H = MemAvailable + what swap can still take: SwapFree times what a page moved there
 * frees (1 - 1/ratio for zram, whose pool lives in RAM; all of it for a disk), capped by what
 * could be swapped at all. The floor D below which the kernel is about to OOM-kill is a share
 * of RAM (release_floor). From the recent samples of H its decline rate R gives the time left,
 * (H - D) / R; memory must be released when that is shorter than the horizon (release_horizon,
 * how long a victim takes to go and its memory to come back), or when H is already below D.
 */

#include "policy/policy.h"

#define HEADROOM_SAMPLES 8
#define INFLIGHT_MAX 16
/* Smaller processes give back too little to be a victim. */
#define RELEASE_MIN_FOOTPRINT_KB 1024

typedef struct HeadroomTrack {
        usec_t at[HEADROOM_SAMPLES];
        uint64_t kb[HEADROOM_SAMPLES];
        unsigned n, head;
} HeadroomTrack;

/* A victim chosen but not gone yet: its memory is on its way back. */
typedef struct Inflight {
        pid_t pid;
        uint64_t starttime;
        uint64_t credit_kb;
        usec_t since;
} Inflight;

typedef struct MemModel {
        uint64_t headroom_kb;           /* H */
        uint64_t floor_kb;              /* D */
        double swap_gain;               /* RAM freed per KiB moved to swap */
        double decline_kbs;             /* R, >= 0 */
        double left_usec;               /* (H - D) / R; INFINITY when H does not fall */
        int64_t need_kb;                /* what must be released now (<= 0: nothing) */
        uint64_t inflight_kb;           /* what the victims in flight will give back */
} MemModel;

/* RAM freed per KiB of swapped pages: from the zram devices' ratio, 1 for a disk. */
double release_swap_gain(uint64_t zram_orig_kb, uint64_t zram_used_kb);
uint64_t release_floor_kb(const PolicyConfig *c, uint64_t mem_total_kb);
/* anon_kb: what could still be swapped (the candidates' resident memory); 0: unknown. */
uint64_t release_headroom_kb(const MemFigures *mem, double swap_gain, uint64_t anon_kb);
/* Feed this tick's H (samples closer than 100 ms to the newest one replace it). */
void headroom_feed(HeadroomTrack *t, usec_t now, uint64_t kb);
/* R over the last 2 s (at least two samples 0.4 s apart; else 0). */
double headroom_decline_kbs(const HeadroomTrack *t, usec_t now);

MemModel release_model(const PolicyConfig *c, const HeadroomTrack *t, const MemFigures *mem, double swap_gain,
                       uint64_t anon_kb, uint64_t inflight_kb, usec_t now);

/* The victims in flight: expire those gone from the scan (or older than 10 s), sum the rest. */
uint64_t inflight_update(Inflight *v, const Candidate *cands, size_t n, bool scanned, usec_t now);
void inflight_add(Inflight *v, pid_t pid, uint64_t starttime, uint64_t credit_kb, usec_t now);
bool inflight_has(const Inflight *v, pid_t pid, uint64_t starttime);

typedef struct ReleaseInput {
        const Candidate *cands;
        size_t n_cands;
        pid_t foreground;
        ssize_t aggressor;              /* the runaway, first in line; -1: none */
        int64_t need_kb;
        double left_usec;               /* time left: SIGTERM's grace only when there is time for it */
        bool checkpoint_available;
        const Inflight *inflight;       /* already on their way: not chosen again */
} ReleaseInput;

/*
 * The victims that cover need_kb: the runaway first, then strictly least important first (the
 * highest priority number; within one, frozen before running, then the larger footprint), never
 * the 0-19 tier, a protect entry or the foreground. Each is credited with its whole footprint
 * (rss + swap: both come back). A frozen victim is killed (a stopped process runs no SIGTERM
 * handler); a running one gets SIGTERM when more than twice the horizon is left and SIGKILL
 * otherwise; a checkpoint only where one is wanted, available, and 10 s are left for the dump.
 */
size_t policy_release(const PolicyConfig *c, const ReleaseInput *in, Decision *out, size_t max);
