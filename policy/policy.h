/* SPDX-License-Identifier: GPL-2.0-only */
#pragma once

/*
 * The policy engine: plain structs in, decisions out. Nothing in policy/ opens a file, reads a
 * clock, allocates after setup or logs: time comes in as an argument, so every rule is testable
 * with table-driven fixtures, and the daemon's pressure path runs it without touching the disk.
 */

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/macro.h"

/* ---- levels ---------------------------------------------------------------------------- */

typedef enum Level {
        LEVEL_NORMAL,
        LEVEL_ELEVATED,
        LEVEL_HIGH,
        LEVEL_CRITICAL,
        LEVEL_EMERGENCY,
        _LEVEL_MAX,
} Level;

const char *level_to_string(Level l);         /* "normal", "elevated", ...; NULL if out of range */
int level_from_string(const char *s);          /* Level, or -EINVAL (case-insensitive) */

/* ---- configuration (filled by the daemon's config loader, validated there) -------------- */

typedef enum MatchField {
        MATCH_NAME,     /* full comm (/proc/PID/stat field 2, spaces and ')' included) */
        MATCH_EXE,      /* basename of /proc/PID/exe */
        MATCH_CMDLINE,  /* argv joined by single spaces */
        _MATCH_MAX,
} MatchField;

#define RULE_NAME_MAX 64
#define RULE_PATTERN_MAX 256
#define RULE_ORIGIN_MAX 128

typedef enum RuleSource {
        RULE_BUILTIN,
        RULE_SYSTEM,    /* /etc/mgd/mgd.conf */
        RULE_USER,      /* $XDG_CONFIG_HOME/mgd/mgd.conf */
} RuleSource;

/*
 * Most patterns are plain alternations of names ("^(kwin_wayland|Xwayland|sway)$", "^akonadi",
 * "^(systemd|systemd-.*)$"). A compiled POSIX regex costs glibc 10-20 KiB of heap each (about
 * 600 KiB for the built-in table, a third of mgd's memory) and a regexec() per rule per process
 * per tick; such a pattern is kept instead as its list of literal alternatives, matched with
 * strcmp/strncmp, with exactly the regex's meaning. Anything beyond that grammar stays a regex.
 */
#define RULE_LITERAL_MAX 512

typedef struct LiteralSet {
        bool anchored;                  /* the pattern starts with ^ */
        unsigned n;                     /* alternatives */
        /* n entries, each: 'x' (must end there: $) or 'o' (open end), the string, a NUL */
        char buf[RULE_LITERAL_MAX];
} LiteralSet;

/*
 * 0 and *ret filled if pattern (POSIX ERE, as the loader validated it) is a literal alternation:
 * an optional ^; literal characters (a backslash escapes a metacharacter); at most one group of
 * alternatives "(a|b|...)" whose alternatives may end in ".*" only when the group ends the
 * pattern; an optional ".*" at the end; an optional $. Anything else, or too many alternatives
 * for buf: -ENOTSUP (keep the regex). Never fails on a valid regex otherwise.
 */
int literal_compile(const char *pattern, LiteralSet *ret);
bool literal_match(const LiteralSet *l, const char *s);

typedef struct Rule {
        char name[RULE_NAME_MAX];
        char pattern[RULE_PATTERN_MAX];
        char origin[RULE_ORIGIN_MAX];   /* "file:line" or "built-in" */
        regex_t re;                     /* REG_EXTENDED | REG_NOSUB, compiled by the loader */
        bool compiled;                  /* matchable: re, or lit when literal */
        bool literal;                   /* matched through lit; re was freed */
        LiteralSet lit;
        MatchField field;
        RuleSource source;
        bool protect;                   /* a [protect] entry: never a candidate for anything */
        int priority;                   /* 0..100 for app entries; unused for protect entries */
        int checkpoint;                 /* -1 unset, 0 never checkpoint, 1 prefer checkpoint */
        bool build;                     /* a build tool: it and all it starts form a build (spike mode) */
} Rule;

typedef struct PolicyConfig {
        /* [defaults] */
        int default_priority;           /* 50 */
        unsigned log_keep;              /* 10; 0 = keep all */

        /* score -> target level: P thresholds (0..1), strictly increasing */
        double level_threshold[_LEVEL_MAX];     /* [LEVEL_NORMAL] unused */
        /* no level above Normal without real stall: stall % (some) or swap I/O KiB/s */
        double liveness_stall_pct;      /* 1.0 */
        double liveness_swapio_kbs;     /* 1000 */
        double swapio_full_scale_kbs;   /* 51200: S_swapio = kbs / this */

        /* level machine */
        double spike_trend;             /* 0.08 /s: instant escalation to Critical/Emergency */
        unsigned escalate_ticks;        /* 2 */
        usec_t escalate_window_usec;    /* 5 s: the ticks must fall inside this window */
        usec_t calm_to_normal_usec;     /* 60 s */
        usec_t calm_step_usec;          /* 20 s: between higher levels */

        /* plan() */
        double target_available_pct;    /* of MemTotal; 0 = scale with RAM (20/15/12/10 %) */
        uint64_t min_footprint_kb;      /* 10240 */
        unsigned critical_max_destructive;      /* 1: one victim at a time at Critical */
        unsigned emergency_max_destructive;     /* 4 */
        double kill_swap_ratio;         /* 0.5: mostly-swapped expendables get SIGKILL, not SIGTERM */

        /* aggressor */
        uint64_t aggressor_min_growth_kbs;      /* 16384 KiB/s of footprint growth */
        usec_t aggressor_window_usec;           /* 5 s */
        uint64_t aggressor_min_majflt_rate;     /* 200 major faults/s, when no one grows */

        /* memory that must be released (policy/release.h) */
        usec_t release_horizon_usec;    /* 2 s: act when memory would run out sooner than this */
        double release_floor_pct;       /* 0: auto (4 % of RAM, 48-512 MiB): below this the kernel is near its OOM kill */

        /* recovery */
        unsigned thaw_batch;            /* 4 per tick */
        unsigned restore_batch;         /* 1 per tick */
        usec_t thaw_min_frozen_usec;    /* 10 s: never thaw what was frozen moments ago */
        usec_t recover_calm_usec;       /* 15 s of stall below recover_stall_pct before thawing, at any level */
        double recover_stall_pct;       /* 5 %: "calm", the stall rate of a tick */
        usec_t max_frozen_usec;         /* 3 min: frozen longer, a process is thawed or its memory released */

        /* spike mode: builds that allocate in waves (policy/spike.c) */
        bool spike_mode;                /* true */
        usec_t spike_window_usec;       /* 2 min: the peak a build's next wave is expected to reach */
        double spike_drop_pct;          /* 10: a fall this far below a peak means "in waves" ... */
        uint64_t spike_min_swing_kb;    /* 32768: ... and at least this much */
        double spike_headroom;          /* 1.25: room kept free for the next wave, times its growth */

        /* cgroup actuators (policy/cgroups.c), on an app's own cgroup v2 leaf */
        bool throttle;                  /* true: background CPU weight/quota from Elevated on */
        unsigned throttle_weight;       /* 10: cpu.weight of a throttled cgroup (the default is 100) */
        unsigned throttle_max_pct;      /* 25: cpu.max of an expendable one from High on, % of a CPU */
        bool memory_caps;               /* true: memory.high at its usage from High on */
        bool freeze_reclaim;            /* true: memory.reclaim of a cgroup mgd froze */
        bool idle_reclaim;              /* true: memory.reclaim of idle background cgroups at Normal */
        bool cache_drop;                /* true: file pages only (swappiness=0) of the expendable at High */
        usec_t idle_reclaim_after_usec; /* 5 min without CPU time */
        double idle_reclaim_pct;        /* 20 % of its memory per pass */
        uint64_t idle_reclaim_min_kb;   /* 51200: smaller cgroups are left alone */
        double idle_reclaim_max_swap_pct;       /* 60: no idle reclaim with swap fuller than this */
        usec_t hibernate_after_usec;    /* 0 (off): systemctl hibernate after this long at Emergency */

        /* daemon timings (carried here so one loader validates everything) */
        usec_t fast_tick_usec;          /* 1 s */
        usec_t slow_tick_usec;          /* 10 s */
        usec_t term_grace_usec;         /* 3 s */

        /* rules: app and protect entries, already merged (user > system > built-in, by name) */
        Rule *rules;
        size_t n_rules;
} PolicyConfig;

/* Built-in defaults for every scalar; rules left empty. */
void policy_config_defaults(PolicyConfig *c);
/*
 * -EINVAL if a value is out of range or thresholds are not increasing; *ret_what names it: the
 * PolicyConfig field ("thaw_batch", "level_threshold.high", ...) or, for a bad rule, "rule.<field>"
 * (call policy_rule_validate() per rule first to report which one, with its origin).
 */
int policy_config_validate(const PolicyConfig *c, const char **ret_what);
/* One rule: name and pattern set, compiled, known field, priority 0..100, checkpoint -1/0/1. */
int policy_rule_validate(const Rule *r, const char **ret_what);
/* The MemAvailable target in KiB for this MemTotal (explicit pct, or the RAM-scaled default). */
uint64_t policy_target_available_kb(const PolicyConfig *c, uint64_t mem_total_kb);
/*
 * The reserve recovery keeps free: half the target. A frozen process's resident pages are already
 * outside MemAvailable, so a thaw needs room only for what it faults back; demanding the whole
 * target on top left processes frozen for good on a machine that settled just below the target
 * without any stall.
 */
uint64_t policy_thaw_reserve_kb(const PolicyConfig *c, uint64_t mem_total_kb);

/* ---- pressure score ---------------------------------------------------------------------- */

/* One sample of the system, as the daemon read it this tick. */
typedef struct PressureSample {
        usec_t now;                     /* CLOCK_MONOTONIC */
        double some_avg10;              /* % from /proc/pressure/memory (or the session cgroup) */
        double full_avg10;
        uint64_t some_total_usec;       /* cumulative stall counters */
        uint64_t full_total_usec;
        uint64_t mem_total_kb;
        uint64_t mem_available_kb;
        uint64_t swap_total_kb;
        uint64_t swap_free_kb;
        uint64_t pswpin;                /* pages, cumulative (/proc/vmstat) */
        uint64_t pswpout;
        uint64_t gpu_uma_kb;            /* resident minus shared DRM memory of the session */
        unsigned page_size_kb;          /* 4 */
} PressureSample;

/* The weight of the PSI part in the composite score (score.c). */
#define SCORE_WEIGHT_PSI 0.55

typedef struct Score {
        double p;                       /* composite 0..1 */
        double s_psi, s_swap, s_gpu, s_swapio;
        double trend;                   /* dP/dt per second */
        double stall_pct;               /* max(some avg10, stall rate from total deltas) */
        double stall_now_pct;           /* the stall rate over this tick alone (avg10 before 2 samples) */
        double full_stall_pct;
        double swapio_kbs;
} Score;

typedef struct ScoreState {
        bool primed;
        PressureSample prev;
        double prev_p;
        bool have_rates;
        Score rates;                    /* the last score whose rates were measured (dt >= 0.5 s) */
        double swapio_full_scale_kbs;   /* from the config; 0 = the default 51200 */
} ScoreState;

/* Reset the state and take the swap I/O full scale from c (NULL: the default). */
void score_state_init(ScoreState *s, const PolicyConfig *c);

/*
 * Score this sample against the previous one. S_psi uses the larger of avg10 and the stall
 * rate from the delta of `total` over the tick, because avg10 lags a real stall by seconds.
 * The first call has no deltas: trend 0, rates from avg10 only. A sample less than 0.5 s after the
 * baseline keeps the baseline and the rates last measured (short ticks' rates are noise).
 */
Score score_update(ScoreState *s, const PressureSample *sample);

/* ---- level machine ----------------------------------------------------------------------- */

typedef struct LevelMachine {
        Level current;
        Level pending;                  /* escalation candidate */
        unsigned pending_ticks;
        usec_t pending_since;
        usec_t calm_since;              /* 0: not calming */
        Level calm_max;                 /* highest target seen while calming */
        usec_t entered_at;              /* when `current` was entered */
} LevelMachine;

void level_machine_init(LevelMachine *m, usec_t now);
/* The target level for a score, before hysteresis (liveness gate included). */
Level level_target(const PolicyConfig *c, const Score *s);
/*
 * Feed one tick; returns the new current level. Up: escalate_ticks consecutive ticks above the
 * current level, all within escalate_window_usec, escalate to the lowest target of that run; a
 * Critical/Emergency target with trend > spike_trend escalates at once. Down: the target must
 * stay below the current level for calm_to_normal_usec (to Normal) or calm_step_usec (to a higher
 * level); the machine then steps to the highest target seen while calming. A target at or above
 * the current level restarts the calm. An out-of-range target is ignored.
 */
Level level_machine_update(LevelMachine *m, const PolicyConfig *c, Level target, double trend, usec_t now);

/* ---- candidates, priorities, decisions ----------------------------------------------------- */

#define CAND_NAME_MAX 64
#define CAND_EXE_MAX 64
#define CAND_CMDLINE_MAX 256

typedef enum FreezeMethod {
        FREEZE_NONE,
        FREEZE_SIGSTOP,
        FREEZE_CGROUP,
} FreezeMethod;

typedef struct Candidate {
        pid_t pid;
        uint64_t starttime;             /* clock ticks since boot, /proc/PID/stat field 22 */
        char name[CAND_NAME_MAX];
        char exe[CAND_EXE_MAX];
        char cmdline[CAND_CMDLINE_MAX];
        uint64_t rss_kb;
        uint64_t swap_kb;
        uint64_t gpu_kb;
        int oom_score_adj;
        FreezeMethod frozen;            /* already frozen by mgd, and how */
        bool checkpoint_failed;         /* CRIU failed for this name this session */
        uint64_t majflt;                /* cumulative major faults, /proc/PID/stat field 12 */
        pid_t ppid;
        usec_t age_usec;                /* since the process started (from starttime); 0: unknown */
        /* set by spike_feed(): */
        bool build_tool;                /* a build = true entry matches it */
        unsigned build;                 /* 0: not part of a build; k: of SpikeTracker.groups[k - 1] */
} Candidate;

/* Tiers the whole tree agrees on (seed's table): 0-19 are never touched by any actuator. */
#define PRIORITY_PROTECTED_MAX 19
#define PRIORITY_FREEZABLE_MIN 60       /* expendable background: frozen from Elevated on */
#define PRIORITY_HEAVY_MIN 80           /* expendable heavy: killed at High once frozen */
#define PRIORITY_FOREGROUND_BONUS 25

/* Resolve a rule match: first matching non-protect rule, or NULL. */
const Rule *policy_match_app(const PolicyConfig *c, const Candidate *cand);
/* First matching protect rule, or NULL. */
const Rule *policy_match_protect(const PolicyConfig *c, const Candidate *cand);
/*
 * The effective priority: the first matching app entry (user/system entries come before the
 * built-ins in c->rules), else c->default_priority; the foreground pid gets -25, but never below
 * 20. Returns -1 for a protected process (tier 0-19 or a protect entry): never a candidate.
 */
int policy_priority(const PolicyConfig *c, const Candidate *cand, pid_t foreground);

typedef enum Action {
        ACTION_NONE,
        ACTION_FREEZE,
        ACTION_TERMINATE,               /* SIGTERM, SIGKILL after the grace period */
        ACTION_KILL,                    /* SIGKILL at once */
        ACTION_CHECKPOINT,              /* CRIU dump, then SIGKILL */
        ACTION_THAW,                    /* recovery: back from a freeze (policy_step() only) */
        ACTION_RESTORE,                 /* recovery: back from a checkpoint (policy_step() only) */
        _ACTION_MAX,
} Action;

const char *action_to_string(Action a);

typedef struct Decision {
        size_t index;                   /* into the candidates array */
        pid_t pid;
        uint64_t starttime;
        Action action;
        int priority;                   /* effective */
        uint64_t footprint_kb;          /* rss + swap (+ gpu at >= High) */
        bool aggressor;
} Decision;

/* Memory figures plan() works from. */
typedef struct MemFigures {
        uint64_t mem_total_kb;
        uint64_t mem_available_kb;
        uint64_t swap_total_kb;
        uint64_t swap_free_kb;
} MemFigures;

typedef struct PlanInput {
        Level level;
        MemFigures mem;
        const Candidate *cands;
        size_t n_cands;
        pid_t foreground;               /* 0: none */
        bool checkpoint_available;      /* the checkpoint helper holds its grant */
        ssize_t aggressor;              /* index into cands, or -1 (from aggressor_pick()) */
        bool shield_builds;             /* spike_shield(): members of a build are left alone */
        bool spare_all;                 /* the incident is a build's wave: nothing destructive */
        bool no_priority_freeze;        /* freeze the aggressor only (see plan.c) */
        bool freeze_useless;            /* swap has no room: a freeze keeps memory, only an exit frees it */
} PlanInput;

/* Does this candidate get a checkpoint rather than a kill? (its app entry, else priority 20-79) */
bool policy_wants_checkpoint(const PolicyConfig *c, const Candidate *cand, int prio, bool available);

/*
 * Decide, least important first (priority desc, then footprint desc, then oom_score_adj desc),
 * with the aggressor ahead of everyone. Freezes credit nothing to the deficit; terminate, kill
 * and checkpoint credit the memory they return to MemAvailable (rss, plus gpu at >= High; swapped
 * pages are not credited). Destructive decisions stop when the deficit (target MemAvailable minus
 * current) is covered; freezes are planned regardless of the deficit. A CHECKPOINT decision may
 * name a frozen candidate (the executor must not leave its restored image stopped). The full
 * matrix is documented in policy/plan.c. Returns the number of decisions written (at most max;
 * size out for n_cands so no eligible candidate is cut off).
 */
size_t policy_plan(const PolicyConfig *c, const PlanInput *in, Decision *out, size_t max);

/*
 * Spike mode's headroom, at any level below Critical: freezes of expendable background processes
 * (priority >= 60 after the foreground adjustment, not protected, in no build, not frozen yet),
 * least important first, until their footprints add up to need_kb (the room the next wave of a
 * build needs that MemAvailable does not have). A frozen process's pages are the first the kernel
 * reclaims, so the build's next peak takes them instead of stalling. Returns the decisions written.
 */
size_t policy_plan_headroom(const PolicyConfig *c, const PlanInput *in, uint64_t need_kb,
                            Decision *out, size_t max);

/* ---- aggressor tracking ----------------------------------------------------------------- */

#define AGGRESSOR_SLOTS 1024
#define AGGRESSOR_SAMPLES 8

typedef struct FootprintTrack {
        pid_t pid;
        uint64_t starttime;
        unsigned n;                     /* samples held */
        unsigned head;
        usec_t at[AGGRESSOR_SAMPLES];
        uint64_t kb[AGGRESSOR_SAMPLES];
        uint64_t majflt[AGGRESSOR_SAMPLES];     /* the cumulative count, sampled with kb */
        unsigned majflt_n;              /* newest samples whose counts form a non-decreasing run */
        usec_t seen;                    /* last tick it was fed */
        usec_t born;                    /* when the process started (its age at the first feed); 0: unknown */
        usec_t first;                   /* when it was first fed */
        unsigned pauses;                /* paused by spike mode this incident */
        bool flagged;                   /* was the aggressor during this incident */
} FootprintTrack;

/* What the current incident is blamed on (aggressor_pick() decides, aggressor_reset() forgets). */
typedef enum Blame {
        BLAME_UNKNOWN,                  /* no one grows or faults enough to be told yet */
        BLAME_BUILD,                    /* a build's own waves: make room for it, kill nothing */
        BLAME_OTHER,                    /* a runaway outside any build: a build is one more grower */
} Blame;

typedef struct AggressorTracker {
        FootprintTrack slots[AGGRESSOR_SLOTS];
        usec_t window_usec;             /* the configured window, kept by aggressor_pick(); 0 = 5 s */
        usec_t refaults_from;           /* fault rates count from here on (aggressor_note_freed()) */
        double stall_now_pct;           /* aggressor_note_stall(), if stall_told */
        bool stall_told;
        Blame blame;
} AggressorTracker;

/* ---- spike mode: builds that allocate in waves ---------------------------------------------- */

/*
 * A build is a process matched by a `build = true` app entry (cargo, make, ninja, ...) together
 * with everything it started: its workers (rustc, cc1, ld) come and go in waves, so no single one
 * of them is a runaway, and freezing one mid-wave holds its memory hostage while the build stalls.
 * mgd therefore looks at the build as a whole: its footprint (the sum over the tree), its growth,
 * and its peak over the spike window. A build whose footprint fell well below a peak allocates in
 * waves ("spike mode"): mgd keeps room free for its next wave by freezing background processes
 * ahead of it, and while an incident is blamed on a build, nothing is killed.
 */
#define SPIKE_GROUPS_MAX 16
#define SPIKE_BUCKETS 24

typedef struct BuildGroup {
        pid_t pid;                      /* the topmost build tool of the tree; 0: a free slot */
        uint64_t starttime;
        char name[CAND_NAME_MAX];
        unsigned members;               /* processes in the tree at the last feed */
        uint64_t kb;                    /* rss + swap of the tree at the last feed */
        FootprintTrack track;           /* recent samples of kb: the build's growth rate */
        uint64_t bucket_max[SPIKE_BUCKETS];     /* highest kb per window/SPIKE_BUCKETS slice */
        uint64_t bucket_min[SPIKE_BUCKETS];     /* lowest; UINT64_MAX for a slice with no sample */
        usec_t bucket_at;               /* when the newest slice began */
        unsigned bucket_head;
        double young_kbs;               /* sum of its young members' footprint / age (first feed) */
        bool waves;                     /* fell well below a peak: allocates in waves */
        bool logged_waves;              /* for the daemon: said so in the log */
        usec_t first_seen, seen;
} BuildGroup;

typedef struct SpikeTracker {
        BuildGroup groups[SPIKE_GROUPS_MAX];
} SpikeTracker;

void spike_init(SpikeTracker *t);
/*
 * Sort this scan's candidates (in pid order, as the scan returns them) into builds: sets every
 * cands[i].build (0: in no build), samples each build's footprint, and drops builds whose tool
 * is gone. A build is rooted at the topmost ancestor (within cands, following ppid) that a
 * `build = true` rule matches; with spike mode off every build is 0. Returns how many builds
 * turned "in waves" with this feed (the daemon logs them).
 */
unsigned spike_feed(SpikeTracker *t, const PolicyConfig *c, Candidate *cands, size_t n, usec_t now);
/* The build of cands[i].build == k (k >= 1), or NULL. */
const BuildGroup *spike_group(const SpikeTracker *t, unsigned k);
/*
 * Footprint growth of build k in KiB/s over the aggressor window (0 for no such build). At the
 * build's first feed, with nothing measured yet, the sum over its members younger than a minute
 * of footprint / age: a wave of fresh workers is a fast grower from its first sight.
 */
double spike_growth_kbs(const SpikeTracker *t, const PolicyConfig *c, unsigned k, usec_t now);
/* The highest footprint of build k over the spike window. */
uint64_t spike_peak_kb(const SpikeTracker *t, const PolicyConfig *c, unsigned k, usec_t now);
/* Is any build in waves? (The daemon keeps scanning while one is, even at Normal.) */
bool spike_active(const SpikeTracker *t);
/*
 * The room the next waves of the builds in waves will take: the sum of (peak - now) times
 * spike_headroom. MemAvailable should cover it on top of the thaw reserve.
 */
uint64_t spike_headroom_kb(const SpikeTracker *t, const PolicyConfig *c, usec_t now);
/*
 * What recovery keeps free for the builds in waves: the whole swing of each (its peak minus its
 * lowest footprint over the window) times spike_headroom, whatever phase the build is in now. It
 * is never less than spike_headroom_kb(), so what recovery thaws between waves is never what the
 * headroom freezes next: no freeze/thaw ping-pong with the build's phase.
 */
uint64_t spike_reserve_kb(const SpikeTracker *t, const PolicyConfig *c);
/*
 * Are builds shielded? With spike mode on, unless this incident was blamed on a runaway outside
 * any build: then a build is one more grower, and its newcomers are frozen like any other (the
 * seed's cargo, caught as it appeared mid-incident). A shielded build's members are never frozen,
 * checkpointed or killed by the plan, at any level; while the incident is the build's own wave,
 * nobody is killed, and a wave that reaches Critical pauses one of the build's workers instead
 * (aggressor_pick_pause()), which the daemon resumes once the stall has come down.
 */
bool spike_shield(const PolicyConfig *c, Blame blame);

void aggressor_init(AggressorTracker *t);
/*
 * Feed this tick's candidates (footprint = rss + swap, and the major fault count). Entries not fed
 * for 2 windows are dropped.
 */
void aggressor_feed(AggressorTracker *t, const Candidate *cands, size_t n, usec_t now);
/*
 * The runaway, among the eligible candidates (priority >= 20, not protected, not the foreground),
 * while pressure rises (trend > 0) or the level is above Normal:
 *   1. the one whose footprint grew fastest over the window, at least aggressor_min_growth_kbs;
 *   2. if no one grows that fast, the one with the highest major fault rate over the window, at
 *      least aggressor_min_majflt_rate: "the process that causes the swapping" (earlyoom#197).
 *      A process thrashing at a stable footprint (at its cgroup limit, the rest in swap) never
 *      grows, yet its refaults are the stall. Growth still comes first, because a grower's
 *      victims fault too. A fault count that went backwards is no baseline: the rate restarts
 *      from the sample after it, and a recycled pid (other starttime) starts with no history.
 * Once picked it stays flagged until aggressor_reset() (the daemon calls it when the level returns
 * to Normal), so a frozen runaway that stopped growing or faulting is still the first to be
 * checkpointed or killed at Critical; with no one growing or faulting now, the flagged eligible
 * candidate with the largest footprint is returned. Returns an index into cands or -1.
 *
 * The first scan of an incident has one sample per process and so no measured rate. Then, and
 * only while no one is flagged yet, a process younger than a minute that already holds at least
 * aggressor_min_growth_kbs times the window (80 MiB by default) is judged by its average growth
 * since it started (footprint / age): the runaway that started the incident is frozen at the
 * first tick instead of a tick later. Such a pick is not flagged and blames nothing: the next
 * tick's measured rates decide, and destructive decisions wait for them (the daemon's hold).
 *
 * Builds (spike != NULL, spike_feed() has set cands[].build): while spike_shield() holds, the
 * members of a build are never picked one by one; the build as a whole is compared with the
 * fastest single grower instead. A build growing at least as fast (and at least
 * aggressor_min_growth_kbs; at its first sight, the members' footprint / age) gets the incident
 * blamed on it, as does a build in waves while no single process grows (the wave that caused the
 * stall may be over by the first scan), BLAME_BUILD: no single process is the
 * runaway, and no one is picked by major faults either (they are the build's victims). A single
 * grower that outgrows every build blames the incident on it, BLAME_OTHER, and from then on
 * builds are not shielded until aggressor_reset().
 */
ssize_t aggressor_pick(AggressorTracker *t, const PolicyConfig *c, const Candidate *cands, size_t n,
                       pid_t foreground, Level level, double trend, usec_t now,
                       const SpikeTracker *spike);
Blame aggressor_blame(const AggressorTracker *t);

/* A build's worker may be paused this often in one incident; then it is a runaway of its own. */
#define SPIKE_PAUSES_MAX 3
/*
 * A build's wave that reaches Critical: the member of a build to pause (freeze), not killing
 * anyone: the unfrozen, eligible member (priority >= 20, not the foreground, at least
 * min_footprint_kb) growing fastest, else the largest. Pausing one worker is what `make -j` with
 * one job less would do. A member already paused SPIKE_PAUSES_MAX times keeps bringing memory to
 * the brink: it is a runaway inside the build, so the blame moves to it (BLAME_OTHER: from now
 * on builds are not shielded and it is the aggressor like any other) and -1 is returned. Returns
 * an index into cands, or -1; aggressor_note_pause() records that the daemon paused it.
 */
ssize_t aggressor_pick_pause(AggressorTracker *t, const PolicyConfig *c, const Candidate *cands, size_t n,
                             pid_t foreground, usec_t now);
void aggressor_note_pause(AggressorTracker *t, pid_t pid, uint64_t starttime);
/*
 * The daemon freed memory at `now` (a kill, a terminate, a checkpoint): for one window, nobody is
 * picked for their major fault rate. Those faults are the swapped pages of everyone else coming
 * back now that there is room, not a thrasher (every guest run froze the browser's main process
 * that way, the instant after the runaway's kill). Growth still counts.
 */
void aggressor_note_freed(AggressorTracker *t, usec_t now);
/*
 * This tick's stall rate (Score.stall_now_pct). A thrasher is picked only while the stall it is
 * blamed for is there now, at least what makes Elevated from PSI alone: avg10 keeps the level up
 * for seconds after a kill, while the processes that fault their pages back in stall no one.
 */
void aggressor_note_stall(AggressorTracker *t, double stall_now_pct);
/* A new incident: nobody is flagged, nothing is blamed. */
void aggressor_reset(AggressorTracker *t);
/* (pid, starttime)'s footprint growth (KiB/s) and major fault rate (/s) over the window; false if
 * it is not tracked (never scanned while mgd watched the pressure, or expired). */
bool aggressor_rates(const AggressorTracker *t, pid_t pid, uint64_t starttime, usec_t now, double *ret_growth_kbs,
                     double *ret_majflt_rate);
/* Was (pid, starttime) named the aggressor during this incident? */
bool aggressor_is_flagged(const AggressorTracker *t, pid_t pid, uint64_t starttime);
/* Thawed on probation: it is the aggressor again only if it grows again. */
void aggressor_unflag(AggressorTracker *t, pid_t pid, uint64_t starttime);
/* Is a running candidate growing at least aggressor_min_growth_kbs now? (recovery waits for it) */
bool aggressor_anyone_growing(const AggressorTracker *t, const PolicyConfig *c, const Candidate *cands, size_t n,
                              usec_t now);

/* ---- cgroup actuators ------------------------------------------------------------------------ */

/*
 * The gentler actuators of the seed (App Nap CPU throttling, memory caps, reclaim into zram) act
 * on a cgroup, so they are only ever applied to an app's own cgroup v2 leaf (an app-*.scope or a
 * service of the user's manager) that holds nothing but the user's managed processes: a cgroup
 * shared with anything mgd does not manage (a terminal's scope, app.slice itself) is never touched,
 * which was upstream's §17.12 flaw. The daemon builds one view per such cgroup from the scan.
 */
typedef struct CgroupView {
        int min_priority;               /* lowest effective priority of its processes; -1: one is protected */
        bool foreground;                /* holds the foreground process */
        bool build;                     /* holds a member of a build (spike mode owns those) */
        bool frozen;                    /* every process in it is frozen by mgd */
        unsigned n;                     /* managed processes in it */
        uint64_t kb;                    /* their rss + swap */
} CgroupView;

typedef enum CgroupAct {
        CG_THROTTLE = 1 << 0,           /* cpu.weight = throttle_weight */
        CG_QUOTA = 1 << 1,              /* cpu.max = throttle_max_pct of one CPU */
        CG_MEMCAP = 1 << 2,             /* memory.high = its current usage: grows only by reclaiming itself */
} CgroupAct;

/*
 * The actuators this cgroup should have at this level: none for a protected process, the
 * foreground, a build or an empty cgroup, nor for a frozen one (it runs and allocates nothing);
 * from Elevated, CG_THROTTLE for background work (priority >= 50); from High, CG_QUOTA and
 * CG_MEMCAP for the expendable (priority >= 60). Below that level, everything is undone.
 */
unsigned policy_cgroup_acts(const PolicyConfig *c, Level level, const CgroupView *v);
/*
 * The page-cache drop at High and above (cache_drop): memory.reclaim with swappiness=0, file pages
 * only, of an expendable app's cgroup (60 and up), or of an idle background one (50 and up, no
 * CPU for idle_reclaim_after): clean page cache is the cheapest memory to give back, and dropping
 * it swaps nothing. The bytes to ask for (its whole usage: the kernel stops at what is file
 * backed), or 0.
 */
uint64_t policy_cache_drop_bytes(const PolicyConfig *c, Level level, const CgroupView *v, usec_t idle_usec,
                                 uint64_t current_kb);
/*
 * Idle reclaim at Normal: the bytes to ask the kernel to reclaim from a background cgroup
 * (priority >= 50, not the foreground, no build, not frozen) that used no CPU for
 * idle_reclaim_after (idle_usec) and holds at least idle_reclaim_min_kb (current_kb, from
 * memory.current): idle_reclaim_pct of it. 0 when it does not qualify, or when swap is fuller
 * than idle_reclaim_max_swap_pct (reclaimed anonymous pages would have nowhere to go).
 */
uint64_t policy_idle_reclaim_bytes(const PolicyConfig *c, Level level, const CgroupView *v, usec_t idle_usec,
                                   uint64_t current_kb, const MemFigures *mem);

/* ---- recovery ---------------------------------------------------------------------------- */

/* A checkpoint that failed to restore this often is never retried (the executor drops it). */
#define POLICY_RESTORE_FAILURES_MAX 3

typedef enum Held {
        HELD_FROZEN,
        HELD_CHECKPOINTED,
} Held;

typedef struct HeldProcess {
        pid_t pid;
        uint64_t starttime;
        Held kind;
        int priority;
        uint64_t footprint_kb;
        usec_t since;                   /* when it was frozen or checkpointed */
        unsigned restore_failures;
        /* what a thaw brings back into RAM (its swapped pages, less what zram gives back); policy_step()
         * fills it from the scan. Unknown: the whole footprint counts. */
        bool cost_known;
        uint64_t thaw_cost_kb;
} HeldProcess;

typedef struct RecoveryInput {
        Level level;
        usec_t now;
        usec_t level_since;             /* when the current level was entered */
        MemFigures mem;
        const HeldProcess *held;
        size_t n_held;
        uint64_t extra_reserve_kb;      /* kept free on top of the reserve: a build's next wave */
        bool calm;                      /* the stall has been gone long enough (policy_step()): at any level */
} RecoveryInput;

/*
 * What to thaw or restore this tick: nothing unless the level is Normal or in->calm; most important first
 * (lowest priority value, ties: oldest first); frozen entries younger than thaw_min_frozen_usec
 * and checkpoints with POLICY_RESTORE_FAILURES_MAX failures are skipped; at most thaw_batch thaws
 * and restore_batch restores; each gated on MemAvailable covering the thaw reserve plus what it brings
 * back (thaw_cost_kb where known, else its footprint; cumulative over the batch). An entry that does not fit is skipped, not a barrier, so one huge
 * frozen process cannot hold back every smaller one. Writes indexes into in->held; returns how many.
 */
size_t policy_recover(const PolicyConfig *c, const RecoveryInput *in, size_t *out, size_t max);
