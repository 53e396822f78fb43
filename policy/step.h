/* SPDX-License-Identifier: GPL-2.0-only */
#pragma once

/*
 * One tick's decision as one pure call: policy_step(config, state, observation) -> actions.
 *
 * The daemon reads the kernel (PSI, meminfo, vmstat, zram, the process scan, what it holds) into
 * an Observation, calls policy_step() once, and carries out the StepOutput: the freezes, kills,
 * checkpoints, thaws and restores, in order, and the flags for the helpers and the next tick.
 * Everything the decision depends on is in the Observation and the PolicyState, so a recorded
 * sequence of observations (policy/trace.h) replays to the very same decisions in a unit test.
 */

#include "policy/policy.h"
#include "policy/release.h"

#define POLICY_PSI_SOURCES 2            /* global, and the session cgroup */

/* One PSI source this tick: its file's figures with the tick's memory figures (score.c). */
typedef struct PsiReading {
        bool valid;                     /* false: the file could not be read this tick */
        double some_avg10, full_avg10;
        uint64_t some_total_usec, full_total_usec;
} PsiReading;

typedef struct Observation {
        usec_t now;                     /* CLOCK_MONOTONIC */
        PsiReading psi[POLICY_PSI_SOURCES];
        size_t n_psi;
        MemFigures mem;
        uint64_t pswpin, pswpout;       /* pages, cumulative */
        unsigned page_size_kb;
        uint64_t gpu_uma_kb;
        uint64_t zram_orig_kb;          /* what the zram swap devices hold, uncompressed ... */
        uint64_t zram_used_kb;          /* ... and the RAM they take for it; 0, 0: no zram */

        bool triggered;                 /* a PSI trigger event woke this tick */
        bool cgroup_pending;            /* a cgroup actuator setting is in force (keep scanning) */
        /*
         * The process scan, when this tick made one (scanned): the candidates with .frozen set
         * from what mgd holds and .age_usec filled. policy_step() annotates them (spike_feed()
         * sets .build and .build_tool), so they are not const.
         */
        bool scanned;
        /*
         * The candidates are the last scan's, not this tick's (scanned is set too): a trigger's
         * tick decides on them at once and scans right after. The step freezes on them but
         * ends no one (a process started since may be the less important one) and learns
         * nothing from them (no growth, no build waves, no scan counted).
         */
        bool stale;
        Candidate *cands;
        size_t n_cands;
        const HeldProcess *held;        /* what mgd holds (frozen or checkpointed) */
        size_t n_held;
        pid_t foreground;
        bool checkpoint_available;
        bool destructive_busy;          /* a terminate, kill or checkpoint is in flight */
        usec_t victim_exited_at;        /* when the last victim of a destructive action exited; 0: none */
        uint64_t avail_before_victim;   /* MemAvailable when the last victim was signalled */
} Observation;

/* Why an action was decided; the strings are the `reason` of mgd's action records. */
typedef enum StepWhy {
        WHY_PRIORITY,                   /* the level's plan, by priority */
        WHY_AGGRESSOR,                  /* the runaway */
        WHY_SPIKE_HEADROOM,             /* room for a build's next wave */
        WHY_SPIKE_PAUSE,                /* a build's worker paused at Critical */
        WHY_SPIKE_RELEASE,              /* ... resumed */
        WHY_RECOVERY,                   /* thawed or restored when the pressure was gone */
        WHY_RELEASE,                    /* memory was about to run out: it had to end (policy/release.h) */
        WHY_BOUND,                      /* frozen too long, or memory never came back: resolved */
        _WHY_MAX,
} StepWhy;

const char *step_why_to_string(StepWhy w);

typedef struct StepAction {
        Action action;                  /* FREEZE, TERMINATE, KILL, CHECKPOINT, THAW or RESTORE */
        StepWhy why;
        size_t index;                   /* into o->cands; for THAW and RESTORE into o->held */
        pid_t pid;
        uint64_t starttime;
        int priority;
        uint64_t footprint_kb;
        bool aggressor;
} StepAction;

typedef struct StepOutput {
        int error;                      /* -ENODATA: no PSI source could be read (nothing decided) */
        Level prev_level, level, target;
        Score score;
        StepAction *acts;               /* the caller's buffer of max_acts */
        size_t max_acts, n_acts;
        unsigned held_back;             /* destructive decisions held back this tick */
        bool blame_changed;             /* aggressor_blame() changed this tick */
        Blame blame;
        unsigned builds_in_waves;       /* builds that turned "in waves" with this scan */
        bool incident_over;             /* back at Normal: the incident's blame and flags are forgotten */
        bool zram_compact;              /* worth compacting the zram pool now */
        bool swap_reclaim;              /* calm with nothing held: the zram swap may be cycled */
        bool backed_off;                /* a thaw batch brought the stall back: recovery waits longer */
        MemModel mem;                   /* headroom, its decline, the time left, what must be released */
        usec_t next_tick;               /* when to look again, from now */
} StepOutput;

/* The scratch space of one step (no allocation, nothing on the stack): the plan's decisions,
 * recovery's picks. Big enough for every candidate and every held process. */
#define STEP_CANDS_MAX 4096
#define STEP_HELD_MAX 1024

typedef struct StepScratch {
        Decision decisions[STEP_CANDS_MAX];
        size_t picks[STEP_HELD_MAX];
        HeldProcess held[STEP_HELD_MAX];        /* o->held with this tick's thaw costs */
} StepScratch;

/* A runaway thawed on probation: frozen again while it lasts, it has relapsed and stays frozen. */
#define PROBATION_MAX 16

typedef struct Probation {
        pid_t pid;
        uint64_t starttime;
        usec_t until;
        bool relapsed;
} Probation;

/*
 * Everything the decisions remember between ticks. Zeroed memory plus policy_state_init() is the
 * initial state: the big trackers need no initialisation (calloc's pages stay untouched until an
 * incident uses them).
 */
typedef struct PolicyState {
        ScoreState score_state[POLICY_PSI_SOURCES];
        Score score;
        LevelMachine lm;
        Level level, target;
        AggressorTracker aggressor;
        SpikeTracker spike;
        unsigned active_scans;          /* consecutive ticks that scanned while active */
        HeadroomTrack headroom;         /* recent headroom samples: its decline rate */
        Inflight inflight[INFLIGHT_MAX];        /* victims chosen and not gone yet */
        uint64_t frozen_swap_kb;        /* the frozen candidates' swap at the last scan: not pressure */
        uint64_t anon_kb;               /* the candidates' resident memory at the last scan */
        usec_t calm_since;              /* since when every tick's stall was below recover_stall_pct; 0: not */
        usec_t batch_at;                /* the last thaw batch, while its effect is watched */
        usec_t backoff_until, backoff_usec;     /* no thaw batch before; the next backoff */
        Probation probation[PROBATION_MAX];     /* runaways thawed to see whether they grow again */
        StepScratch scratch;
} PolicyState;

void policy_state_init(PolicyState *s, const PolicyConfig *c, usec_t now);
/* A reloaded configuration: what the state keeps of it. */
void policy_state_reconfigure(PolicyState *s, const PolicyConfig *c);

/*
 * Does this tick need a process scan? Judged from the pressure part of o alone (cands unused),
 * without changing s: the same preview of score and level that policy_step() then makes for
 * real; *ret_level (optional) is the level the preview reached. The daemon may scan for reasons of
 * its own too (the idle sweep); o->scanned says what it did.
 */
bool policy_scan_wanted(const PolicyState *s, const PolicyConfig *c, const Observation *o, Level *ret_level);

/* The tick's decision. out->acts/max_acts are the caller's; everything else is written. */
void policy_step(const PolicyConfig *c, PolicyState *s, Observation *o, StepOutput *out);

/* How many of o->held are frozen (not checkpointed). */
size_t policy_held_frozen(const Observation *o);
