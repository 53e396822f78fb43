/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The cgroup actuators (see cgroups.h). Trust: the cgroup paths come from /proc/PID/cgroup (the
 * kernel's word) of processes the scan already placed inside the user's session, and every one is
 * checked (cgroup_path_is_valid(), an own leaf that holds only those processes) before anything
 * is written; every write goes below the cgroup2 mount with O_NOFOLLOW (daemon/cgstate.c).
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "common/macro.h"
#include "daemon/cgroups.h"
#include "daemon/cgstate.h"
#include "daemon/log.h"
#include "daemon/pidref.h"

#define JOBS_MAX 64
#define VIEWS_MAX 512
#define IDLE_MAX 256
#define IDLE_PER_SWEEP 3
#define CACHE_DROP_EVERY_USEC (30 * USEC_PER_SEC)      /* the same cgroup's page cache, at most this often */
#define WORKER_STACK (256 * 1024)

typedef enum JobState { JOB_FREE, JOB_QUEUED, JOB_RUNNING, JOB_DONE } JobState;

/* A write that may block in reclaim: done by the worker, reported back to the loop. */
typedef struct Job {
        JobState state;
        uint64_t seq;                   /* jobs run in the order they were queued */
        char path[PROC_CGROUP_MAX];
        CgFile cgfile;                  /* memory.high, or _CGFILE_MAX for memory.reclaim */
        char value[CGSTATE_VALUE_MAX];
        const char *action, *reason;
        pid_t pid;
        char comm[CAND_NAME_MAX];
        int priority;
        bool orphan;                    /* an undo for a cgroup no process of the scan is in */
        uint64_t before_kb, after_kb;   /* memory.current around the write */
        int result;
} Job;

typedef struct View {
        const char *path;               /* procs[first].cgroup */
        size_t first;                   /* a process of it, named in the log */
        CgroupView v;
} View;

typedef struct Idle {
        char path[PROC_CGROUP_MAX];
        uint64_t usage_usec;            /* cpu.stat usage_usec at the last look */
        usec_t idle_since, reclaimed_at, seen;
        usec_t dropped_at;              /* the last page-cache drop at High */
} Idle;

struct CgActs {
        char root[PATH_MAX];
        bool enabled;
        bool dry_run;                   /* decide and log "would ...", write no cgroup file */
        int cache_drop;                 /* memory.reclaim takes swappiness=: 1 yes, 0 not probed, -errno no */
        CgState *state;
        CgActsStats stats;
        View views[VIEWS_MAX];
        size_t n_views;
        Idle idle[IDLE_MAX];

        Job jobs[JOBS_MAX];
        pthread_t thread;
        bool thread_started, stop;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        int efd;
        sd_event_source *done;
        bool full_logged;
        uint64_t next_seq;
};

static const char *const file_of_job_reclaim = "memory.reclaim";

/* ---- the worker ----------------------------------------------------------------------------- */

static uint64_t cg_current_kb(const char *root, const char *path) {
        char buf[32];
        uint64_t v;

        if (cg_read(root, path, "memory.current", buf, sizeof(buf)) < 0 || parse_u64_token(buf, NULL, &v) < 0)
                return 0;
        return v / 1024;
}

static void job_run(CgActs *a, Job *j) {
        const char *file = j->cgfile == _CGFILE_MAX ? file_of_job_reclaim : cgfile_name(j->cgfile);

        j->before_kb = cg_current_kb(a->root, j->path);
        j->result = cg_write(a->root, j->path, file, j->value);
        j->after_kb = cg_current_kb(a->root, j->path);
}

/* The oldest queued job: a cap and the restore that follows it must not run the other way round. */
static Job *job_next_locked(CgActs *a) {
        Job *best = NULL;

        for (size_t i = 0; i < JOBS_MAX; i++)
                if (a->jobs[i].state == JOB_QUEUED && (!best || a->jobs[i].seq < best->seq))
                        best = &a->jobs[i];
        return best;
}

static void *worker_main(void *userdata) {
        CgActs *a = userdata;
        uint64_t one = 1;

        pthread_mutex_lock(&a->lock);
        for (;;) {
                Job *j;

                while (!a->stop && !(j = job_next_locked(a)))
                        pthread_cond_wait(&a->cond, &a->lock);
                if (a->stop)
                        break;
                j->state = JOB_RUNNING;
                pthread_mutex_unlock(&a->lock);
                job_run(a, j);
                pthread_mutex_lock(&a->lock);
                j->state = JOB_DONE;
                (void) !write(a->efd, &one, sizeof(one));
        }
        pthread_mutex_unlock(&a->lock);
        return NULL;
}

static void job_log(CgActs *a, const Job *j) {
        char res[128];
        ActionRecord r;

        if (j->orphan) {
                /* the undo of a cgroup whose app is gone (orphans_undo): no process to name, and a
                 * cgroup removed meanwhile is undone by the kernel; as the synchronous undo does */
                if (j->result < 0 && j->result != -ENOENT)
                        log_warning_errno(j->result, "Cannot restore %s of %s: %m", cgfile_name(j->cgfile), j->path);
                return;
        }
        r = (ActionRecord) {
                .action = j->action, .pid = j->pid, .comm = j->comm, .priority = j->priority,
                .footprint_kb = j->before_kb, .method = "cgroup", .reason = j->reason, .result = res,
        };

        if (j->result < 0)
                (void) snprintf(res, sizeof(res), "%s: %s", j->cgfile == _CGFILE_MAX ? file_of_job_reclaim :
                                cgfile_name(j->cgfile), strerror(-j->result));
        else
                (void) snprintf(res, sizeof(res), "ok, %" PRIu64 " -> %" PRIu64 " MiB", j->before_kb / 1024,
                                j->after_kb / 1024);
        /* EAGAIN: the kernel found less to reclaim than asked, which is a result, not a failure */
        if (j->cgfile == _CGFILE_MAX && (j->result == 0 || j->result == -EAGAIN)) {
                if (j->before_kb > j->after_kb)
                        a->stats.reclaimed_kb += j->before_kb - j->after_kb;
                if (j->result == -EAGAIN)
                        (void) snprintf(res, sizeof(res), "partly, %" PRIu64 " -> %" PRIu64 " MiB",
                                        j->before_kb / 1024, j->after_kb / 1024);
        }
        log_action(&r);
}

static int on_jobs_done(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        CgActs *a = userdata;
        Job done[JOBS_MAX];
        size_t n = 0;
        uint64_t v;

        (void) !read(a->efd, &v, sizeof(v));
        pthread_mutex_lock(&a->lock);
        for (size_t i = 0; i < JOBS_MAX; i++)
                if (a->jobs[i].state == JOB_DONE) {
                        done[n++] = a->jobs[i];
                        a->jobs[i].state = JOB_FREE;
                }
        pthread_mutex_unlock(&a->lock);
        for (size_t i = 0; i < n; i++)
                job_log(a, &done[i]);
        return 0;
}

static int job_queue(CgActs *a, const Job *proto) {
        int r = -ENOSPC;

        pthread_mutex_lock(&a->lock);
        for (size_t i = 0; i < JOBS_MAX; i++)
                if (a->jobs[i].state == JOB_FREE) {
                        a->jobs[i] = *proto;
                        a->jobs[i].state = JOB_QUEUED;
                        a->jobs[i].seq = a->next_seq++;
                        r = 0;
                        break;
                }
        pthread_cond_signal(&a->cond);
        pthread_mutex_unlock(&a->lock);
        if (r < 0 && !a->full_logged) {
                log_warning("Cgroup writes queue full (%d): a reclaim or memory cap is skipped", JOBS_MAX);
                a->full_logged = true;
        }
        return r;
}

static int worker_start(CgActs *a, sd_event *e) {
        pthread_attr_t attr;
        sigset_t all, old;
        int r;

        a->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (a->efd < 0)
                return -errno;
        r = sd_event_add_io(e, &a->done, a->efd, EPOLLIN, on_jobs_done, a);
        if (r < 0)
                return r;
        (void) pthread_attr_init(&attr);
        (void) pthread_attr_setstacksize(&attr, WORKER_STACK);
        /* the worker takes no signal: the loop's signalfd must see them all */
        sigfillset(&all);
        (void) pthread_sigmask(SIG_BLOCK, &all, &old);
        r = -pthread_create(&a->thread, &attr, worker_main, a);
        (void) pthread_sigmask(SIG_SETMASK, &old, NULL);
        (void) pthread_attr_destroy(&attr);
        if (r < 0)
                return r;
        a->thread_started = true;
        return 0;
}

/* ---- set-up ------------------------------------------------------------------------------------ */

int cgacts_new(sd_event *e, const char *cgroup2_root, const char *state_dir, bool dry_run, CgActs **ret) {
        CgActs *a = calloc(1, sizeof(*a));
        int r;

        if (!a)
                return -ENOMEM;
        a->efd = -1;
        (void) pthread_mutex_init(&a->lock, NULL);
        (void) pthread_cond_init(&a->cond, NULL);
        a->dry_run = dry_run;
        r = cgstate_new(state_dir, &a->state);
        if (r >= 0 && dry_run)
                cgstate_set_memory_only(a->state);
        if (r >= 0 && cgroup2_root && cgroup2_root[0]) {
                (void) snprintf(a->root, sizeof(a->root), "%s", cgroup2_root);
                a->enabled = true;
                r = worker_start(a, e);
        }
        if (r < 0) {
                cgacts_free(a);
                return r;
        }
        *ret = a;
        return 0;
}

/* Drop what is still queued and wait for the job in progress: nothing may write after this. */
static void worker_stop(CgActs *a) {
        if (!a->thread_started)
                return;
        pthread_mutex_lock(&a->lock);
        for (size_t i = 0; i < JOBS_MAX; i++)
                if (a->jobs[i].state == JOB_QUEUED)
                        a->jobs[i].state = JOB_FREE;
        a->stop = true;
        pthread_cond_broadcast(&a->cond);
        pthread_mutex_unlock(&a->lock);
        (void) pthread_join(a->thread, NULL);
        a->thread_started = false;
}

CgActs *cgacts_free(CgActs *a) {
        if (!a)
                return NULL;
        worker_stop(a);
        a->done = sd_event_source_disable_unref(a->done);
        if (a->efd >= 0)
                close(a->efd);
        cgstate_free(a->state);
        pthread_mutex_destroy(&a->lock);
        pthread_cond_destroy(&a->cond);
        free(a);
        return NULL;
}

static void restore_report(const CgEntry *e, CgFile f, int result, void *userdata) {
        if (result == -EPERM)
                log_warning("Not restoring %s of %s: not an app scope of this session, the state file "
                            "is not trusted", cgfile_name(f), e->path);
        else if (result < 0 && result != -ENOENT)
                log_warning_errno(result, "Cannot restore %s of %s: %m", cgfile_name(f), e->path);
        else
                log_info("Restored %s of %s%s", cgfile_name(f), e->path, result == -ENOENT ? " (gone)" : "");
}

static void bad_line(unsigned line, const char *what, void *userdata) {
        log_warning("%s:%u: %s, ignoring the line", CGSTATE_FILE, line, what);
}

int cgacts_set_session(CgActs *a, const char *const *patterns, size_t n) {
        return cgstate_set_session(a->state, patterns, n);
}

/* Empty the table without writing anything back (a dry run's pretended settings). */
static void states_forget(CgActs *a) {
        while (cgstate_size(a->state) > 0)
                cgstate_drop(a->state, cgstate_entry(a->state, 0));
}

int cgacts_recover(CgActs *a) {
        int r = cgstate_load(a->state, bad_line, a);

        if (r < 0 && r != -ENOMEM)
                log_state_set_aside(cgstate_dir(a->state), CGSTATE_FILE, r,
                                    r == -EINVAL ? "not an mgd cgroup state file" :
                                    r == -EPROTONOSUPPORT ? "another version" : NULL);
        if (r < 0)
                return r;
        if (cgstate_size(a->state) == 0 || !a->enabled)
                return 0;
        if (a->dry_run) {
                log_notice("A previous mgd left the settings of %zu cgroups changed; this is a dry run, so they "
                           "stay as they are (mgd-thaw restores them)", cgstate_size(a->state));
                states_forget(a);
                return 0;
        }
        log_notice("Restoring the cgroup settings a previous mgd left changed (%zu cgroups)",
                   cgstate_size(a->state));
        (void) cgstate_restore_all(a->state, a->root, restore_report, a);
        return cgstate_persist(a->state);
}

int cgacts_restore_all(CgActs *a) {
        int failed;

        if (!a->enabled)
                return 0;
        if (a->dry_run) {               /* nothing was written: nothing to restore */
                states_forget(a);
                return 0;
        }
        /* a cap still queued would land after its restore */
        worker_stop(a);
        failed = cgstate_restore_all(a->state, a->root, restore_report, a);
        (void) cgstate_persist(a->state);
        return failed;
}

bool cgacts_pending(const CgActs *a) {
        return a->enabled && cgstate_size(a->state) > 0;
}

void cgacts_stats(const CgActs *a, CgActsStats *ret) {
        CgActsStats s = a->stats;

        s.throttled = s.quota = s.capped = 0;
        for (size_t i = 0; i < cgstate_size(a->state); i++) {
                const CgEntry *e = cgstate_entry(a->state, i);

                s.throttled += e->saved[CGFILE_CPU_WEIGHT];
                s.quota += e->saved[CGFILE_CPU_MAX];
                s.capped += e->saved[CGFILE_MEMORY_HIGH];
        }
        *ret = s;
}

/* ---- views of the scan ------------------------------------------------------------------------- */

static View *view_for(CgActs *a, const char *path, size_t i) {
        for (size_t k = 0; k < a->n_views; k++)
                if (strcmp(a->views[k].path, path) == 0)
                        return &a->views[k];
        if (a->n_views >= VIEWS_MAX)
                return NULL;
        a->views[a->n_views] = (View) { .path = path, .first = i, .v.min_priority = 101, .v.frozen = true };
        return &a->views[a->n_views++];
}

static void views_build(CgActs *a, const PolicyConfig *c, const ProcEntry *procs, const Candidate *cands,
                        size_t n, pid_t foreground) {
        a->n_views = 0;
        for (size_t i = 0; i < n; i++) {
                View *w;
                int prio;

                if (!procs[i].cgroup[0] || !(w = view_for(a, procs[i].cgroup, i)))
                        continue;
                prio = policy_priority(c, &cands[i], foreground);
                w->v.min_priority = prio < 0 ? -1 : MIN(w->v.min_priority, prio);
                w->v.foreground |= foreground > 0 && cands[i].pid == foreground;
                w->v.build |= cands[i].build != 0;
                w->v.frozen &= cands[i].frozen != FREEZE_NONE;
                w->v.n++;
                w->v.kb += cands[i].rss_kb + cands[i].swap_kb;
        }
        for (size_t k = 0; k < a->n_views; k++)
                if (a->views[k].v.min_priority < 0 || a->views[k].v.min_priority > 100)
                        a->views[k].v.min_priority = -1;
}

/* An own leaf: no child cgroups, and exactly the n managed processes in it. */
static bool cgroup_owned(CgActs *a, const char *path, unsigned n) {
        char dir[PATH_MAX], procs[4096];
        unsigned lines = 0;
        struct dirent *de;
        DIR *d;

        /* an app's own scope only: what a restore from the state file may write back */
        if (!cgroup_leaf_is_app_scope(path) ||
            snprintf(dir, sizeof(dir), "%s%s", a->root, path) >= (int) sizeof(dir))
                return false;
        if (cg_read_all(a->root, path, "cgroup.procs", procs, sizeof(procs)) < 0)
                return false;
        for (const char *p = procs; *p; p++)
                lines += *p == '\n';
        if (lines != n)
                return false;
        d = opendir(dir);
        if (!d)
                return false;
        while ((de = readdir(d)))
                if (de->d_type == DT_DIR && strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                        break;
        closedir(d);
        return de == NULL;
}

/* ---- applying and undoing -------------------------------------------------------------------- */

static const char *const act_names[_CGFILE_MAX][2] = {
        [CGFILE_CPU_WEIGHT] = { "throttle", "unthrottle" },
        [CGFILE_CPU_MAX] = { "quota", "unquota" },
        [CGFILE_MEMORY_HIGH] = { "cap", "uncap" },
};

static void act_log(const CgActs *a, const View *w, const Candidate *cands, CgFile f, bool on, const char *value,
                    int r, const char *why) {
        char res[96];
        ActionRecord rec = {
                .action = act_names[f][on ? 0 : 1], .pid = cands[w->first].pid, .comm = cands[w->first].name,
                .priority = w->v.min_priority, .footprint_kb = w->v.kb, .method = cgfile_name(f),
                .result = res, .reason = why, .would = a->dry_run,
        };

        if (a->dry_run)
                (void) snprintf(res, sizeof(res), "dry-run, %s", value);
        else if (r < 0)
                (void) snprintf(res, sizeof(res), "%s", strerror(-r));
        else
                (void) snprintf(res, sizeof(res), "ok, %s", value);
        log_action(&rec);
}

static void value_for(const CgActs *a, const PolicyConfig *c, const char *path, CgFile f, char *buf, size_t size) {
        switch (f) {
        case CGFILE_CPU_WEIGHT:
                (void) snprintf(buf, size, "%u", c->throttle_weight);
                break;
        case CGFILE_CPU_MAX:
                (void) snprintf(buf, size, "%u 100000", c->throttle_max_pct * 1000);
                break;
        default:
                /* at its usage now: it may keep what it has, and grows only by reclaiming itself */
                (void) snprintf(buf, size, "%" PRIu64, MAX(cg_current_kb(a->root, path), (uint64_t) 1024) * 1024);
                break;
        }
}

static void act_on(CgActs *a, const PolicyConfig *c, const View *w, const Candidate *cands, CgFile f) {
        char orig[CGSTATE_VALUE_MAX], value[CGSTATE_VALUE_MAX];
        CgEntry *e;
        int r;

        r = cg_read(a->root, w->path, cgfile_name(f), orig, sizeof(orig));
        if (r < 0 || !orig[0])
                return;         /* the controller is not enabled for this cgroup: nothing to do */
        if (cgstate_get(a->state, w->path, &e) < 0)
                return;
        value_for(a, c, w->path, f, value, sizeof(value));
        (void) snprintf(e->orig[f], sizeof(e->orig[f]), "%s", orig);
        e->saved[f] = true;
        (void) cgstate_persist(a->state);       /* saved before it is changed */
        if (a->dry_run) {
                /* kept in memory as if written, so the undo is decided and logged as it would be */
                act_log(a, w, cands, f, true, value, 0, "background");
                return;
        }
        if (f == CGFILE_MEMORY_HIGH) {
                Job j = { .cgfile = f, .action = "cap", .reason = "background", .pid = cands[w->first].pid,
                          .priority = w->v.min_priority };

                (void) snprintf(j.path, sizeof(j.path), "%s", w->path);
                (void) snprintf(j.value, sizeof(j.value), "%s", value);
                (void) snprintf(j.comm, sizeof(j.comm), "%s", cands[w->first].name);
                (void) job_queue(a, &j);
                return;
        }
        r = cg_write(a->root, w->path, cgfile_name(f), value);
        act_log(a, w, cands, f, true, value, r, "background");
}

static void act_off(CgActs *a, CgEntry *e, const View *w, const Candidate *cands, CgFile f, const char *why) {
        int r;

        if (a->dry_run) {
                if (w)
                        act_log(a, w, cands, f, false, e->orig[f], 0, why);
                e->saved[f] = false;
                return;
        }
        if (f == CGFILE_MEMORY_HIGH && a->thread_started) {
                /* queued behind the cap it undoes (which may not have run yet) */
                Job j = { .cgfile = f, .action = "uncap", .reason = why, .pid = w ? cands[w->first].pid : 0,
                          .priority = w ? w->v.min_priority : -1, .orphan = !w };

                (void) snprintf(j.path, sizeof(j.path), "%s", e->path);
                (void) snprintf(j.value, sizeof(j.value), "%s", e->orig[f]);
                (void) snprintf(j.comm, sizeof(j.comm), "%s", w ? cands[w->first].name : "");
                if (job_queue(a, &j) >= 0)
                        e->saved[f] = false;
                return;
        }
        r = cg_write(a->root, e->path, cgfile_name(f), e->orig[f]);

        if (w)
                act_log(a, w, cands, f, false, e->orig[f], r, why);
        else if (r < 0 && r != -ENOENT)
                log_warning_errno(r, "Cannot restore %s of %s: %m", cgfile_name(f), e->path);
        if (r >= 0 || r == -ENOENT)
                e->saved[f] = false;
}

static bool entry_empty(const CgEntry *e) {
        for (CgFile f = 0; f < _CGFILE_MAX; f++)
                if (e->saved[f])
                        return false;
        return true;
}

static void view_apply(CgActs *a, const PolicyConfig *c, Level level, const View *w, const Candidate *cands) {
        static const unsigned bit[_CGFILE_MAX] = {
                [CGFILE_CPU_WEIGHT] = CG_THROTTLE, [CGFILE_CPU_MAX] = CG_QUOTA, [CGFILE_MEMORY_HIGH] = CG_MEMCAP,
        };
        unsigned want = policy_cgroup_acts(c, level, &w->v), have = 0;
        CgEntry *e = cgstate_find(a->state, w->path);

        for (CgFile f = 0; e && f < _CGFILE_MAX; f++)
                have |= e->saved[f] ? bit[f] : 0;
        if (want == have)
                return;
        if ((want & ~have) && !cgroup_owned(a, w->path, w->v.n))
                want = 0;       /* shared with processes mgd does not manage: never touched */
        for (CgFile f = 0; f < _CGFILE_MAX; f++) {
                if ((want & bit[f]) && !(have & bit[f]))
                        act_on(a, c, w, cands, f);
                else if (!(want & bit[f]) && (have & bit[f]) && (e = cgstate_find(a->state, w->path)))
                        act_off(a, e, w, cands, f, want ? "pressure eased" : "no longer background");
        }
        e = cgstate_find(a->state, w->path);
        if (e && entry_empty(e))
                cgstate_drop(a->state, e);
}

/* Cgroups mgd changed that are no longer in the scan (the app exited, or moved): undo. */
static void orphans_undo(CgActs *a) {
        for (size_t i = cgstate_size(a->state); i > 0; i--) {
                CgEntry *e = cgstate_entry(a->state, i - 1);
                bool seen = false;

                for (size_t k = 0; k < a->n_views && !seen; k++)
                        seen = strcmp(a->views[k].path, e->path) == 0;
                if (seen)
                        continue;
                for (CgFile f = 0; f < _CGFILE_MAX; f++)
                        if (e->saved[f])
                                act_off(a, e, NULL, NULL, f, "gone");
                if (entry_empty(e))
                        cgstate_drop(a->state, e);
        }
}

static Idle *idle_for(CgActs *a, const char *path, usec_t now);
static usec_t idle_for_usec(CgActs *a, Idle *d, usec_t now);
static int reclaim_queue(CgActs *a, const char *path, uint64_t bytes, pid_t pid, const char *comm, int prio,
                         const char *reason);

/* The first drop tells whether the kernel takes swappiness= (a reclaim of nothing); said once. */
static bool cache_drop_supported(CgActs *a, const char *path) {
        if (a->cache_drop == 0 && !a->dry_run) {
                int r = cg_cache_drop_probe(a->root, path);

                a->cache_drop = r == 0 ? 1 : r;
                if (r == -EINVAL)
                        log_info("This kernel's memory.reclaim does not take swappiness= (Linux 6.13 and newer do):"
                                 " no page-cache drop at High");
                else if (r < 0)
                        log_info_errno(r, "No page-cache drop at High: memory.reclaim of %s: %m", path);
        }
        return a->cache_drop > 0 || a->dry_run;
}

/* At High: the page cache of the expendable and of idle background apps, a few per tick. */
static void cache_drop_sweep(CgActs *a, const PolicyConfig *c, Level level, const Candidate *cands) {
        struct timespec ts;
        usec_t now;
        unsigned queued = 0;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        now = (usec_t) ts.tv_sec * USEC_PER_SEC + (usec_t) ts.tv_nsec / 1000;
        for (size_t k = 0; k < a->n_views && queued < IDLE_PER_SWEEP && a->cache_drop >= 0; k++) {
                const View *w = &a->views[k];
                Idle *d = idle_for(a, w->path, now);
                uint64_t bytes;

                if (d->dropped_at && now - d->dropped_at < CACHE_DROP_EVERY_USEC)
                        continue;
                bytes = policy_cache_drop_bytes(c, level, &w->v, idle_for_usec(a, d, now),
                                                cg_current_kb(a->root, w->path));
                if (bytes == 0 || !cgroup_owned(a, w->path, w->v.n) || !cache_drop_supported(a, w->path))
                        continue;
                if (reclaim_queue(a, w->path, bytes, cands[w->first].pid, cands[w->first].name, w->v.min_priority,
                                  "cache") >= 0) {
                        d->dropped_at = now;
                        queued++;
                }
        }
}

void cgacts_update(CgActs *a, const PolicyConfig *c, Level level, const ProcEntry *procs, const Candidate *cands,
                   size_t n, pid_t foreground) {
        if (!a->enabled)
                return;
        views_build(a, c, procs, cands, n, foreground);
        for (size_t k = 0; k < a->n_views; k++)
                view_apply(a, c, level, &a->views[k], cands);
        orphans_undo(a);
        (void) cgstate_persist(a->state);
        if (level >= LEVEL_HIGH && c->cache_drop)
                cache_drop_sweep(a, c, level, cands);
}

int cgacts_cache_drop(const CgActs *a) {
        return a->cache_drop;
}

/* ---- reclaim ------------------------------------------------------------------------------------ */

static int reclaim_queue(CgActs *a, const char *path, uint64_t bytes, pid_t pid, const char *comm, int prio,
                         const char *reason) {
        Job j = { .cgfile = _CGFILE_MAX, .action = "reclaim", .reason = reason, .pid = pid, .priority = prio };
        bool cache = strcmp(reason, "cache") == 0;

        if (a->dry_run) {
                char res[64];

                (void) snprintf(res, sizeof(res), "dry-run, %" PRIu64 " MiB%s", bytes >> 20,
                                cache ? " of page cache" : "");
                log_action(&(ActionRecord) { .action = cache ? "drop-cache" : "reclaim", .pid = pid, .comm = comm, .priority = prio,
                                             .footprint_kb = cg_current_kb(a->root, path), .method = "cgroup",
                                             .result = res, .reason = reason, .would = true });
                return 0;
        }
        (void) snprintf(j.path, sizeof(j.path), "%s", path);
        if (cache) {
                j.action = "drop-cache";
                (void) snprintf(j.value, sizeof(j.value), CG_CACHE_DROP_FMT, bytes);
        } else
                (void) snprintf(j.value, sizeof(j.value), "%" PRIu64, bytes);
        (void) snprintf(j.comm, sizeof(j.comm), "%s", comm);
        if (job_queue(a, &j) < 0)
                return -ENOSPC;
        a->stats.reclaim_requests++;
        return 0;
}

void cgacts_freeze_reclaim(CgActs *a, const PolicyConfig *c, const char *cgroup, pid_t pid, const char *comm,
                           int priority) {
        char probe[32];
        uint64_t kb;

        if (!a->enabled || !c->freeze_reclaim || !cgroup || !cgroup[0])
                return;
        /* memory.reclaim exists from kernel 5.19 on, with the memory controller enabled here */
        if (cg_read(a->root, cgroup, "memory.current", probe, sizeof(probe)) < 0)
                return;
        kb = cg_current_kb(a->root, cgroup);
        if (kb >= 1024)
                (void) reclaim_queue(a, cgroup, kb * 1024, pid, comm, priority, "frozen");
}

static Idle *idle_for(CgActs *a, const char *path, usec_t now) {
        Idle *lru = NULL;

        for (size_t i = 0; i < IDLE_MAX; i++) {
                Idle *d = &a->idle[i];

                if (strcmp(d->path, path) == 0)
                        return d;
                if (!lru || d->seen < lru->seen)
                        lru = d;
        }
        *lru = (Idle) { .idle_since = now, .seen = now };
        (void) snprintf(lru->path, sizeof(lru->path), "%s", path);
        return lru;
}

/* How long the cgroup has used no CPU, from cpu.stat's usage_usec (present without the cpu controller). */
static usec_t idle_for_usec(CgActs *a, Idle *d, usec_t now) {
        char line[64];
        uint64_t usage;

        if (cg_read(a->root, d->path, "cpu.stat", line, sizeof(line)) < 0 || strncmp(line, "usage_usec ", 11) != 0 ||
            parse_u64_token(line + 11, NULL, &usage) < 0)
                return 0;
        if (usage != d->usage_usec) {
                d->usage_usec = usage;
                d->idle_since = now;
        }
        d->seen = now;
        return now - d->idle_since;
}

void cgacts_idle(CgActs *a, const PolicyConfig *c, Level level, const ProcEntry *procs, const Candidate *cands,
                 size_t n, pid_t foreground, const MemFigures *mem, usec_t now) {
        unsigned queued = 0;

        if (!a->enabled || !c->idle_reclaim || level != LEVEL_NORMAL)
                return;
        views_build(a, c, procs, cands, n, foreground);
        for (size_t k = 0; k < a->n_views && queued < IDLE_PER_SWEEP; k++) {
                const View *w = &a->views[k];
                Idle *d = idle_for(a, w->path, now);
                usec_t idle = idle_for_usec(a, d, now);
                uint64_t bytes;

                if (d->reclaimed_at && now - d->reclaimed_at < c->idle_reclaim_after_usec)
                        continue;
                bytes = policy_idle_reclaim_bytes(c, level, &w->v, idle, cg_current_kb(a->root, w->path), mem);
                if (bytes == 0 || !cgroup_owned(a, w->path, w->v.n))
                        continue;
                if (reclaim_queue(a, w->path, bytes, cands[w->first].pid, cands[w->first].name, w->v.min_priority,
                                  "idle") >= 0) {
                        d->reclaimed_at = now;
                        queued++;
                }
        }
}
