/* SPDX-License-Identifier: GPL-2.0-only */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "common/procscan.h"
#include "common/readers.h"
#include "policy/policy.h"
#include "policy/step.h"

typedef struct Executor Executor;
typedef struct Registry Registry;
typedef struct CtlServer CtlServer;
typedef struct HelperSet HelperSet;
typedef struct ScanCache ScanCache;
typedef struct CgActs CgActs;
typedef struct HistoryRecorder HistoryRecorder;

#define MANAGER_PROCS_MAX 4096
#define MANAGER_PSI_SOURCES POLICY_PSI_SOURCES     /* global, session cgroup */
#define MANAGER_ACTS_MAX (2 * MANAGER_PROCS_MAX)

/* Command-line settings; every root is injectable for tests. */
typedef struct ManagerOptions {
        const char *proc_root;          /* "/proc" */
        const char *sys_root;           /* "/sys" */
        const char *pressure_root;      /* where pressure/memory, meminfo, vmstat are read; NULL: proc_root */
        const char *cgroup2_root;       /* NULL: detect */
        const char *pressure_cgroup;    /* cgroup dir whose memory.pressure to watch; NULL: derive */
        const char *session[SCAN_SESSION_PATTERNS_MAX];
        size_t n_session;               /* 0: user@UID.service, user-UID.slice */
        const char *state_dir;          /* NULL: $XDG_STATE_HOME/mgd */
        const char *socket_path;        /* NULL: $XDG_RUNTIME_DIR/mgd.sock */
        const char *config_system;      /* NULL: /etc/mgd/mgd.conf */
        const char *config_user;        /* NULL: $XDG_CONFIG_HOME/mgd/mgd.conf */
        const char *helper_dir;         /* NULL: the libexec dir fixed at build time */
        bool dry_run;
        bool no_helpers;
        bool no_mlock;
        const char *trace_path;         /* NULL: no trace */
} ManagerOptions;

typedef struct PsiSource {
        char path[PATH_MAX];            /* the pressure file */
        int trigger_fd;
        sd_event_source *trigger;
        bool privileged;                /* sub-second trigger from the PSI helper */
} PsiSource;

typedef struct Manager {
        ManagerOptions opt;
        sd_event *event;
        sd_event_source *tick_timer;
        bool exiting;

        PolicyConfig config;
        char config_system[PATH_MAX];
        char config_user[PATH_MAX];

        char cgroup2_root[PATH_MAX];
        bool real_proc;                 /* proc_root is a procfs: its start times are real */
        char state_dir[PATH_MAX];
        char socket_path[PATH_MAX];
        ScanFilter filter;

        PsiSource psi[MANAGER_PSI_SOURCES];
        size_t n_psi;
        bool psi_polling;               /* no trigger could be armed */

        /* the decision core's state, this tick's observation and its actions */
        PolicyState *ps;
        Observation obs;
        StepAction *acts;

        /* what the last tick saw and decided (copies of the step's output for the rest of mgd) */
        MemInfo mem;
        uint64_t gpu_uma_kb;            /* from the last scan that read DRM fdinfo */
        VmStat vm;
        Score score;
        Level target;
        Level level;
        usec_t last_tick;
        usec_t confirm_at;              /* a confirming tick shortly after a trigger event */
        bool triggered;                 /* this tick was run by a PSI trigger event */
        usec_t trigger_at;              /* the last trigger event not yet followed by an action */
        usec_t trigger_event_at;        /* the first trigger event not yet decided on */
        uint64_t decisions;             /* trigger events decided on */
        usec_t ps_init_at;              /* when policy_state_init() ran (the trace's I record) */
        usec_t decision_worst_usec;     /* the longest from a trigger event to its tick's decision */
        MemModel memm;                  /* the last step's memory model (STATUS) */
        const PsiSource *trigger_src;   /* ... and whose trigger it was */
        uint64_t ticks, scans;
        usec_t scanned_at;              /* the last process scan that worked; 0: none yet */

        /* preallocated for the pressure path */
        ProcEntry *procs;
        Candidate *cands;
        HeldProcess *held;
        size_t n_procs;
        ScanCache *scan_cache;          /* keeps /proc/PID files open between scans */

        usec_t victim_exited_at;        /* when the last victim of a destructive action went */
        uint64_t avail_before_destructive;      /* MemAvailable when it was signalled */
        struct {                        /* who the destructive actions in flight are for */
                pid_t pid;
                char name[CAND_NAME_MAX];
                int priority;
                uint64_t footprint_kb;
        } victims[8];
        unsigned next_victim;

        pid_t foreground;
        uint64_t foreground_starttime;

        Executor *executor;
        Registry *registry;
        CgActs *cgacts;                 /* CPU throttling, memory caps, reclaim (daemon/cgroups.h) */
        usec_t idle_sweep_next;         /* the next idle-reclaim sweep at Normal */
        usec_t emergency_since;         /* 0: not at Emergency */
        bool hibernate_requested;       /* once per incident */
        sd_bus *bus;                    /* the system bus, for logind's Hibernate (hibernate_after) */
        sd_bus *user_bus;               /* the session bus: io.github.mgd for desktop plugins */
        sd_bus_slot *user_bus_slot;
        CtlServer *ctl;
        HelperSet *helpers;
        bool checkpoint_available;
        bool zram_compact_available;
        bool swap_reclaim_available;
        size_t psi_helper_armed;
        usec_t zram_compact_next;
        usec_t swap_reclaim_next;
        /* names whose checkpoint failed this session: killed instead from now on */
        char checkpoint_failed[16][CAND_NAME_MAX];
        size_t n_checkpoint_failed;

        char last_reload_error[512];

        HistoryRecorder *history;       /* the pressure history for mgctl calibrate; NULL: none */
        FILE *trace;                    /* --trace: every tick's observation and decisions */
} Manager;

/* Load and validate the configuration only; prints the result. */
int manager_check_config(const ManagerOptions *opt);
int manager_new(const ManagerOptions *opt, Manager **ret);
Manager *manager_free(Manager *m);
int manager_run(Manager *m);

/* tick.c */
int manager_scan(Manager *m);
int manager_tick(Manager *m);
void manager_schedule_tick(Manager *m, usec_t delay);
typedef struct RegistryEntry RegistryEntry;
int manager_thaw(Manager *m, RegistryEntry *e, const char *reason);
int manager_reload(Manager *m, char *err, size_t errsize);

void manager_record(Manager *m, const char *action, const Candidate *c, int priority,
                    uint64_t footprint, const char *method, const char *result, const char *reason);
int manager_destroy(Manager *m, const Decision *d, const Candidate *c, const char *reason);
void manager_checkpoint_failed(Manager *m, const char *name);

/* manager-history.c: load, feed once per tick, save (every 10 min at Normal, and at exit) */
void manager_history_start(Manager *m);
void manager_history_tick(Manager *m, usec_t now);
void manager_history_stop(Manager *m);

/* foreground.c: what a desktop plugin reports (the control socket's FOREGROUND, D-Bus) */
int manager_set_foreground(Manager *m, pid_t pid, bool *ret_thawed);
int manager_bus_start(Manager *m);
void manager_bus_stop(Manager *m);

/* trace-file.c: --trace FILE (policy/trace.h's format) */
int manager_trace_open(Manager *m);
void manager_trace_config(Manager *m);
void manager_trace_observation(Manager *m, const Observation *o);
void manager_trace_output(Manager *m, const StepOutput *out);
void manager_trace_close(Manager *m);

/* hibernate.c */
void manager_hibernate_setup(Manager *m);
void manager_hibernate_teardown(Manager *m);
void manager_hibernate_tick(Manager *m, usec_t now);

/* ctl-handlers.c */
int manager_ctl_start(Manager *m);
