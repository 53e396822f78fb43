/* SPDX-License-Identifier: GPL-2.0-only */
#pragma once

/*
 * A closed-loop model of a desktop under memory pressure, driven by the real policy_step():
 * RAM with a kernel reserve, a page cache with a working set, swap on zram (compressed, its pool
 * in RAM) or on disk, processes that grow, touch their memory, fault it back and exit, a kernel
 * that reclaims (cache, then the coldest anonymous pages) and, when nothing can be reclaimed,
 * OOM-kills by badness (footprint share plus oom_score_adj), and PSI computed from the time spent
 * reclaiming and faulting. mgd is modelled as the daemon is: ticks at the step's next_tick or at
 * a 2 s trigger's event, a scan when the step wants one, its actions carried out with the delays
 * of the real executor (SIGTERM's grace, a checkpoint's dump time).
 *
 * It is a model, not the kernel: its figures are not the guest's. It is there to find dead ends
 * and broken invariants over thousands of seeded scenarios in seconds; the qemu guest's matrix
 * proves the same invariants against the real kernel.
 */

#include <stdbool.h>
#include <stdint.h>

#include "policy/step.h"

#define SIM_PROCS_MAX 600
#define SIM_EVENTS_MAX 4096

typedef enum SimEnd {
        SIM_ALIVE,
        SIM_EXITED,                     /* on its own */
        SIM_KILLED_MGD,                 /* by mgd: terminate, kill, or a checkpoint never restored */
        SIM_KILLED_KERNEL,              /* the OOM killer */
        SIM_CHECKPOINTED,               /* an image, for now */
} SimEnd;

typedef struct SimProc {
        pid_t pid, ppid;
        uint64_t starttime;
        char name[16];
        int priority;                   /* what the rule table gives it (the sim's ground truth) */
        bool protect;                   /* tier 0-19 or a protect entry */
        double rss_kb, swap_kb;
        double target_kb;               /* it grows toward this */
        double rate_kbs;
        double hot;                     /* fraction of its memory it touches per second */
        usec_t start_at;                /* when it appears (0: at the start) */
        usec_t life_usec;               /* running time until it exits by itself; 0: never */
        usec_t ran_usec;
        bool ignores_term;
        bool started;
        SimEnd end;
        usec_t end_at;
        bool frozen;                    /* by mgd */
        usec_t frozen_at;
        usec_t frozen_longest;
        unsigned freezes, thaws;        /* by mgd */
        usec_t term_at, kill_at;        /* pending: SIGTERM sent / SIGKILL takes effect */
        usec_t ckpt_done_at;            /* a dump in progress ends then */
        uint64_t majflt;
        int oom_adj;
        bool culprit;                   /* the scenario's runaway (ground truth): it may die out of turn */
} SimProc;

typedef struct SimParams {
        double ram_kb;
        double swap_kb;                 /* 0: no swap */
        double zram_ratio;              /* compression; 0: swap on disk */
        double file_kb;                 /* page cache at the start */
        double file_ws_kb;              /* the cache's working set: below it, the desktop stalls */
        double reclaim_kbs;             /* swap-out + fault-in bandwidth */
        usec_t oom_delay_usec;          /* how long the kernel thrashes before its OOM killer runs (an
                                         * eighth of it without swap) */
        usec_t duration;
        bool mgd;                       /* false: the kernel alone */
} SimParams;

typedef struct SimStats {
        double some_usec, full_usec;    /* PSI totals */
        double probe_stall_usec;        /* stall of the compositor (its refaults) */
        unsigned kernel_kills, kernel_kills_protected, kernel_kills_while_expendable;
        unsigned mgd_actions_protected; /* freezes or kills of the 0-19 tier, protect or foreground */
        unsigned inversions;            /* a kill while a less important process lived (not the aggressor) */
        char inversion[160];
        unsigned mgd_kills, mgd_freezes, mgd_thaws;
        usec_t frozen_longest;
        unsigned freezes, thaws;        /* by mgd */
        unsigned frozen_at_end;
        usec_t last_stall;              /* the last 1 s window with >= 10 % stall */
        usec_t frozen_after_calm;       /* how long after the last stall something was still frozen */
        unsigned steps;
} SimStats;

typedef struct Sim {
        SimParams p;
        PolicyConfig *config;
        PolicyState *state;
        usec_t now;
        SimProc procs[SIM_PROCS_MAX];
        size_t n;
        size_t n_desktop;               /* procs[0..n_desktop) are the desktop, the rest the scenario's */
        usec_t workload_seen;           /* the last time a scenario process was alive or still to come */
        pid_t foreground;
        double file_kb;
        double some_usec, full_usec, avg10, full_avg10;
        double window_stall;            /* this 2 s trigger window's stall, usec */
        usec_t window_start;
        usec_t starving;                /* how long allocations have found nothing to reclaim */
        uint64_t pswpin, pswpout;
        usec_t next_tick;
        usec_t victim_exited_at;
        uint64_t avail_before_victim;
        Candidate cands[SIM_PROCS_MAX];
        size_t n_scanned;               /* the last scan's candidates (cands), for a trigger's tick */
        usec_t scanned_at;
        HeldProcess held[SIM_PROCS_MAX];
        size_t n_held;
        StepAction acts[2 * SIM_PROCS_MAX];
        double stall_1s[2];             /* [0] this second's stall, [1] its start */
        SimStats st;
        /* called after every step with what it saw and decided (a trace writer, say) */
        /* called with each observation right before the step is given it */
        void (*on_observe)(void *userdata, const Observation *o);
        void (*on_step)(void *userdata, const Observation *o, const StepOutput *out);
        void *userdata;
} Sim;

/* cfg and state outlive the sim; state is initialised here. */
void sim_init(Sim *s, const SimParams *p, PolicyConfig *cfg, PolicyState *state);
/* Adds a process (not yet started if start_at > 0); returns it. */
SimProc *sim_add(Sim *s, const char *name, int priority, bool protect, double kb, double target_kb,
                 double rate_kbs, double hot, usec_t start_at, usec_t life_usec);
void sim_run(Sim *s);
/* The alive (or frozen) process count. */
size_t sim_alive(const Sim *s);
