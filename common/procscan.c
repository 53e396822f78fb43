/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Which processes mgd may manage: same owner, inside the user's session cgroup, not a kernel
 * thread, not dead, not mgd or its helpers. /proc is a moving target: a process may exit (or its
 * pid be recycled) between any two reads, so every "gone" error skips that process and nothing
 * else, and identity is (pid, starttime), never the pid alone.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/procscan.h"
#include "common/readers-internal.h"
#include "common/readers.h"

#define PF_KTHREAD 0x00200000u

_Static_assert(CAND_NAME_MAX >= PROC_COMM_MAX, "a full comm must fit in a Candidate name");
#define SCAN_STAT_MAX 2048
#define SCAN_STATUS_MAX 8192
#define SCAN_CGROUP_MAX 8192

enum {
        FACT_STATUS = 1u << 0,
        FACT_CGROUP = 1u << 1,
        FACT_OOM = 1u << 2,
        FACT_EXE = 1u << 3,
        FACT_CMDLINE = 1u << 4,
};

/* The long strings, allocated apart so the cache arrays stay small to move around. */
typedef struct Strings {
        char cgroup[PROC_CGROUP_MAX];   /* unified path, "" if none */
        char exe[CAND_EXE_MAX];         /* "" if unreadable (not dumpable) */
        char cmdline[CAND_CMDLINE_MAX]; /* "" if empty */
} Strings;

/* What a process is, as far as the filter and the Candidate need beyond stat. */
typedef struct Facts {
        unsigned have;                  /* FACT_* read since the last invalidation */
        uid_t ruid, euid;
        bool has_mm;
        uint64_t swap_kb;
        int oom_score_adj;
        Strings *str;                   /* NULL until the first string fact is read */
} Facts;

typedef struct Entry {
        pid_t pid;
        uint64_t starttime;
        bool known;                     /* starttime and the stat fingerprint are set */
        int stat_fd, status_fd;         /* held between scans, or -1 */
        /* stat at the previous scan: a change means the process ran (or lost pages) since */
        uint64_t minflt, majflt, rss_pages;
        char comm[PROC_COMM_MAX];
        Facts facts;
} Entry;

struct ScanCache {
        char *proc_root;
        int proc_fd;
        size_t max_fds, n_fds;
        uint64_t scan_no;
        Entry *entries, *next;          /* sorted by pid; next is rebuilt by each scan */
        size_t n_entries, cap;
        pid_t *pids;
        size_t pids_cap;
};

/* One scan in progress. */
typedef struct Scan {
        ScanCache *cache;               /* NULL: read everything afresh */
        int proc_fd;
        const ScanFilter *f;
        uint64_t page_kb;
        bool due;                       /* this entry's periodic refresh is now */
        ProcEntry *out;
        size_t max, n, total;
} Scan;

/* The process being looked at: its /proc/PID directory is opened only if needed. */
typedef struct PidCtx {
        pid_t pid;
        int dirfd;
} PidCtx;

void scan_filter_default(ScanFilter *f, uid_t uid, pid_t self) {
        *f = (ScanFilter) { .uid = uid, .self = self };
        (void) snprintf(f->session_buf[0], sizeof f->session_buf[0], "user@%u.service", (unsigned) uid);
        (void) snprintf(f->session_buf[1], sizeof f->session_buf[1], "user-%u.slice", (unsigned) uid);
        f->session[0] = f->session_buf[0];
        f->session[1] = f->session_buf[1];
        f->n_session = 2;
}

static int filter_validate(const ScanFilter *f) {
        if (!f || f->n_session == 0 || f->n_session > SCAN_SESSION_PATTERNS_MAX)
                return -EINVAL;
        for (size_t i = 0; i < f->n_session; i++)
                if (!f->session[i] || !f->session[i][0] || strchr(f->session[i], '/'))
                        return -EINVAL;
        return 0;
}

/* Is one of the patterns a whole component of path? "user@1000.service" matches
 * "/user.slice/user-1000.slice/user@1000.service/app.slice/x.scope", not "user@1000.services". */
bool scan_cgroup_in_session(const char *path, const ScanFilter *f) {
        for (const char *p = path; *p;) {
                size_t len;

                p += strspn(p, "/");
                len = strcspn(p, "/");
                for (size_t i = 0; len > 0 && i < f->n_session; i++)
                        if (strlen(f->session[i]) == len && memcmp(p, f->session[i], len) == 0)
                                return true;
                p += len;
        }
        return false;
}

static int pid_dirfd(Scan *s, PidCtx *p) {
        char name[16];

        if (p->dirfd >= 0)
                return p->dirfd;
        (void) snprintf(name, sizeof name, "%d", (int) p->pid);
        /* O_PATH: only a base for openat()/readlinkat(), cheaper to open than a real dir fd. */
        p->dirfd = openat(s->proc_fd, name, O_PATH | O_DIRECTORY | O_CLOEXEC);
        return p->dirfd >= 0 ? p->dirfd : -errno;
}

static void pid_ctx_done(PidCtx *p) {
        closep(&p->dirfd);
}

static void hold_close(ScanCache *c, int *fd) {
        if (*fd < 0)
                return;
        (void) close(*fd);
        *fd = -1;
        c->n_fds--;
}

static void entry_release(ScanCache *c, Entry *e) {
        if (c) {
                hold_close(c, &e->stat_fd);
                hold_close(c, &e->status_fd);
        }
        free(e->facts.str);
        e->facts.str = NULL;
}

static Strings *entry_strings(Entry *e) {
        if (!e->facts.str)
                e->facts.str = calloc(1, sizeof *e->facts.str);
        return e->facts.str;
}

/* The pid now names another process (or a file changed under a fixture): start over. */
static void entry_forget(Scan *s, Entry *e) {
        entry_release(s->cache, e);
        e->known = false;
        e->facts.have = 0;
}

/*
 * Read a single-record /proc file of this process: through its held fd, else by opening it (and
 * keeping it in *held while the cache has fds to spare), else open-read-close. held NULL: never kept.
 */
static int scan_read(Scan *s, PidCtx *p, const char *name, int *held, char *buf, size_t size) {
        _cleanup_close_ int fd = -1;
        int dfd;

        if (held && *held >= 0)
                return read_proc_fd(*held, buf, size, NULL);
        dfd = pid_dirfd(s, p);
        if (dfd < 0)
                return dfd;
        fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        if (held && s->cache && s->cache->n_fds < s->cache->max_fds) {
                *held = TAKE_FD(fd);
                s->cache->n_fds++;
                return read_proc_fd(*held, buf, size, NULL);
        }
        return read_proc_fd(fd, buf, size, NULL);
}

static int entry_stat(Scan *s, PidCtx *p, Entry *e, ProcStat *ret) {
        char buf[SCAN_STAT_MAX];
        bool held = e->stat_fd >= 0;
        int r;

        r = scan_read(s, p, "stat", &e->stat_fd, buf, sizeof buf);
        if (r == -ESRCH && held) {
                /* A held fd follows its process, not the pid: that one exited, the pid listed
                 * now is somebody else. */
                entry_forget(s, e);
                r = scan_read(s, p, "stat", &e->stat_fd, buf, sizeof buf);
        }
        if (r < 0)
                return r;
        r = proc_stat_parse(buf, ret);
        if (r < 0)
                return r;
        if (ret->pid != p->pid)
                return -EINVAL;
        if (e->known && e->starttime != ret->starttime)
                entry_forget(s, e);
        return 0;
}

/* Drop the facts the process may have changed since they were read (see procscan.h). */
static void entry_update(Scan *s, Entry *e, const ProcStat *st) {
        bool comm_changed = !e->known || strcmp(e->comm, st->comm) != 0;

        if (comm_changed || s->due)
                e->facts.have = 0;
        else if (e->minflt != st->minflt || e->majflt != st->majflt || e->rss_pages != st->rss_pages)
                e->facts.have &= ~(unsigned) FACT_STATUS;
        e->known = true;
        e->starttime = st->starttime;
        e->minflt = st->minflt;
        e->majflt = st->majflt;
        e->rss_pages = st->rss_pages;
        memcpy(e->comm, st->comm, sizeof e->comm);
}

static int ensure_status(Scan *s, PidCtx *p, Entry *e) {
        char buf[SCAN_STATUS_MAX];
        ProcStatus st;
        int r;

        if (e->facts.have & FACT_STATUS)
                return 0;
        r = scan_read(s, p, "status", &e->status_fd, buf, sizeof buf);
        if (r >= 0)
                r = proc_status_parse(buf, &st);
        if (r < 0)
                return r;
        if (st.tgid != p->pid)
                return -EINVAL;
        e->facts.ruid = st.ruid;
        e->facts.euid = st.euid;
        e->facts.has_mm = st.has_mm;
        e->facts.swap_kb = st.vm_swap_kb;
        e->facts.have |= FACT_STATUS;
        return 0;
}

static int ensure_cgroup(Scan *s, PidCtx *p, Entry *e) {
        char buf[SCAN_CGROUP_MAX];
        ProcCgroup cg;
        int r;

        if (e->facts.have & FACT_CGROUP)
                return 0;
        if (!entry_strings(e))
                return -ENOMEM;
        r = scan_read(s, p, "cgroup", NULL, buf, sizeof buf);
        if (r >= 0)
                r = proc_cgroup_parse(buf, &cg);
        if (r < 0)
                return r;
        /* No unified line (a v1-only system): never in a session, whose patterns are v2 paths. */
        strcpy(e->facts.str->cgroup, cg.has_unified ? cg.unified : "");
        e->facts.have |= FACT_CGROUP;
        return 0;
}

static int ensure_oom(Scan *s, PidCtx *p, Entry *e) {
        char buf[32];
        int r;

        if (e->facts.have & FACT_OOM)
                return 0;
        r = scan_read(s, p, "oom_score_adj", NULL, buf, sizeof buf);
        if (r >= 0)
                r = proc_oom_score_adj_parse(buf, &e->facts.oom_score_adj);
        if (r < 0)
                return r;
        e->facts.have |= FACT_OOM;
        return 0;
}

static int ensure_exe(Scan *s, PidCtx *p, Entry *e) {
        int r;

        if (e->facts.have & FACT_EXE)
                return 0;
        if (!entry_strings(e))
                return -ENOMEM;
        r = pid_dirfd(s, p);
        if (r >= 0)
                r = proc_exe_basename_at(p->dirfd, e->facts.str->exe, sizeof e->facts.str->exe);
        /* A non-dumpable process hides its exe even from its owner: no exe rule can match it. */
        if (r == -EACCES || r == -ENAMETOOLONG) {
                e->facts.str->exe[0] = '\0';
                r = 0;
        }
        if (r < 0)
                return r;
        e->facts.have |= FACT_EXE;
        return 0;
}

static int ensure_cmdline(Scan *s, PidCtx *p, Entry *e) {
        int r;

        if (e->facts.have & FACT_CMDLINE)
                return 0;
        if (!entry_strings(e))
                return -ENOMEM;
        r = pid_dirfd(s, p);
        if (r >= 0)
                r = proc_cmdline_readat(p->dirfd, e->facts.str->cmdline, sizeof e->facts.str->cmdline);
        /* Empty: the process cleared its argv (or is exiting); it matches no cmdline rule. */
        if (r == -ENODATA) {
                e->facts.str->cmdline[0] = '\0';
                r = 0;
        }
        if (r < 0)
                return r;
        e->facts.have |= FACT_CMDLINE;
        return 0;
}

static void entry_fill(const Scan *s, const Entry *e, const ProcStat *st, uint64_t rss_kb,
                       ProcEntry *o) {
        const bool want_exe = s->f->want_exe, want_cmdline = s->f->want_cmdline;

        o->cand = (Candidate) {
                .pid = e->pid,
                .starttime = st->starttime,
                .rss_kb = rss_kb,
                .swap_kb = e->facts.swap_kb,
                .oom_score_adj = e->facts.oom_score_adj,
                .frozen = FREEZE_NONE,
                .ppid = st->ppid,
        };
        memcpy(o->cand.name, st->comm, sizeof o->cand.name);
        strcpy(o->cand.exe, want_exe ? e->facts.str->exe : "");
        strcpy(o->cand.cmdline, want_cmdline ? e->facts.str->cmdline : "");
        o->state = st->state;
        o->majflt = st->majflt;
        if (__builtin_add_overflow(st->utime, st->stime, &o->cpu_ticks))
                o->cpu_ticks = UINT64_MAX;
        strcpy(o->cgroup, e->facts.str->cgroup);
        o->gpu_err = 0;
}

/* Count the match; write it out if there is room. */
static int scan_emit(Scan *s, PidCtx *p, const Entry *e, const ProcStat *st) {
        ProcEntry *o;
        uint64_t rss_kb, gpu_kb = 0;
        int r, gpu_err = 0;

        /* rss from stat: the same counter as status' VmRSS, and always fresh. */
        if (__builtin_mul_overflow(st->rss_pages, s->page_kb, &rss_kb))
                return -ERANGE;
        if (s->n < s->max && s->f->want_gpu) {
                r = pid_dirfd(s, p);
                if (r >= 0)
                        r = proc_gpu_resident_kb_at(p->dirfd, &gpu_kb);
                if (errno_is_vanished(r))
                        return r;
                gpu_err = r < 0 ? r : 0;
        }
        s->total++;
        if (s->n >= s->max)
                return 1;
        o = &s->out[s->n++];
        entry_fill(s, e, st, rss_kb, o);
        o->cand.gpu_kb = gpu_err < 0 ? 0 : gpu_kb;
        o->gpu_err = gpu_err;
        return 1;
}

/* The owner, session and liveness tests, cheapest first. */
static int scan_filter(Scan *s, PidCtx *p, Entry *e) {
        const ScanFilter *f = s->f;
        int r;

        r = ensure_status(s, p, e);
        if (r < 0)
                return r;
        /* Both real and effective: a setuid program the user started is not the user's. */
        if (e->facts.ruid != f->uid || e->facts.euid != f->uid || !e->facts.has_mm)
                return 0;
        r = ensure_cgroup(s, p, e);
        if (r < 0)
                return r;
        return scan_cgroup_in_session(e->facts.str->cgroup, f);
}

/* 1: matched; 0: not ours (the entry stays cached); < 0: skip and forget this process. */
static int scan_pid(Scan *s, Entry *e) {
        _cleanup_(pid_ctx_done) PidCtx p = { .pid = e->pid, .dirfd = -1 };
        const ScanFilter *f = s->f;
        ProcStat st;
        int r;

        if (e->pid == f->self)
                return 0;
        r = entry_stat(s, &p, e, &st);
        if (r < 0)
                return r;
        entry_update(s, e, &st);
        /* Kernel threads; zombies and dying tasks (no mm: nothing to free, nothing to stop). */
        if ((st.flags & PF_KTHREAD) || st.vsize == 0 || strchr("ZXx", st.state))
                return 0;
        if (f->exclude_ppid > 0 && st.ppid == f->exclude_ppid)
                return 0;
        r = scan_filter(s, &p, e);
        if (r <= 0)
                return r;
        r = ensure_oom(s, &p, e);
        if (r >= 0 && f->want_exe)
                r = ensure_exe(s, &p, e);
        if (r >= 0 && f->want_cmdline)
                r = ensure_cmdline(s, &p, e);
        if (r < 0)
                return r;
        return scan_emit(s, &p, e, &st);
}

/* Errors that would make every later process fail too: stop the scan instead of hiding them. */
static bool scan_error_is_fatal(int r) {
        return r == -ENOMEM || r == -EMFILE || r == -ENFILE;
}

static int cmp_pid(const void *a, const void *b) {
        pid_t x = *(const pid_t *) a, y = *(const pid_t *) b;

        return (x > y) - (x < y);
}

static int pids_push(pid_t **pids, size_t *cap, size_t n, pid_t pid) {
        if (n == *cap) {
                size_t ncap = MAX(*cap * 2, (size_t) 256);
                pid_t *p = realloc(*pids, ncap * sizeof *p);

                if (!p)
                        return -ENOMEM;
                *pids = p;
                *cap = ncap;
        }
        (*pids)[n] = pid;
        return 0;
}

/* The numeric entries of proc_root, ascending (procfs lists them in order; fixtures may not). */
static int collect_pids(int proc_fd, pid_t **pids, size_t *cap, size_t *ret_n) {
        char dents[16384] __attribute__((aligned(8)));
        bool sorted = true;
        size_t n = 0;
        ssize_t k;
        int r;

        if (lseek(proc_fd, 0, SEEK_SET) < 0)
                return -errno;
        while ((k = getdents64(proc_fd, dents, sizeof dents)) > 0)
                for (ssize_t off = 0; off < k;) {
                        struct dirent64 *de = (struct dirent64 *) (dents + off);
                        pid_t pid;

                        off += de->d_reclen;
                        if (parse_pid(de->d_name, &pid) < 0)
                                continue;
                        r = pids_push(pids, cap, n, pid);
                        if (r < 0)
                                return r;
                        sorted = sorted && (n == 0 || (*pids)[n - 1] < pid);
                        n++;
                }
        if (k < 0)
                return -errno;
        if (!sorted)
                qsort(*pids, n, sizeof **pids, cmp_pid);
        *ret_n = n;
        return 0;
}

static int scan_begin(Scan *s, const ScanFilter *f, ProcEntry *out, size_t max) {
        long page = sysconf(_SC_PAGESIZE);
        int r;

        r = filter_validate(f);
        if (r < 0)
                return r;
        if (!out && max > 0)
                return -EINVAL;
        if (page < 1024)
                return -EINVAL;
        *s = (Scan) { .f = f, .out = out, .max = max, .page_kb = (uint64_t) page / 1024, .proc_fd = -1 };
        return 0;
}

static void scan_end(const Scan *s, size_t *ret_n, size_t *ret_total) {
        if (ret_n)
                *ret_n = s->n;
        if (ret_total)
                *ret_total = s->total;
}

int proc_scan(const char *proc_root, const ScanFilter *f, ProcEntry *out, size_t max,
              size_t *ret_n, size_t *ret_total) {
        _cleanup_close_ int proc_fd = -1;
        _cleanup_free_ pid_t *pids = NULL;
        size_t cap = 0, n_pids;
        Scan s;
        int r;

        if (!proc_root)
                return -EINVAL;
        r = scan_begin(&s, f, out, max);
        if (r < 0)
                return r;
        proc_fd = open(proc_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (proc_fd < 0)
                return -errno;
        s.proc_fd = proc_fd;
        r = collect_pids(proc_fd, &pids, &cap, &n_pids);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n_pids; i++) {
                Entry e = { .pid = pids[i], .stat_fd = -1, .status_fd = -1 };

                r = scan_pid(&s, &e);
                entry_release(NULL, &e);
                if (r < 0 && scan_error_is_fatal(r))
                        return r;
        }
        scan_end(&s, ret_n, ret_total);
        return 0;
}

/* ---- the cache ---- */

int scan_cache_new(size_t max_fds, ScanCache **ret) {
        ScanCache *c;

        if (!ret)
                return -EINVAL;
        c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        c->proc_fd = -1;
        c->max_fds = max_fds;
        *ret = c;
        return 0;
}

static void cache_flush(ScanCache *c) {
        for (size_t i = 0; i < c->n_entries; i++)
                entry_release(c, &c->entries[i]);
        c->n_entries = 0;
        closep(&c->proc_fd);
        c->proc_fd = -1;
        free(c->proc_root);
        c->proc_root = NULL;
}

ScanCache *scan_cache_free(ScanCache *c) {
        if (!c)
                return NULL;
        cache_flush(c);
        free(c->entries);
        free(c->next);
        free(c->pids);
        free(c);
        return NULL;
}

static int cache_attach(ScanCache *c, const char *proc_root) {
        if (c->proc_root && strcmp(c->proc_root, proc_root) == 0)
                return 0;
        cache_flush(c);
        c->proc_root = strdup(proc_root);
        if (!c->proc_root)
                return -ENOMEM;
        c->proc_fd = open(proc_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (c->proc_fd < 0) {
                int r = -errno;

                cache_flush(c);
                return r;
        }
        return 0;
}

/* Room for n entries in both arrays. */
static int cache_reserve(ScanCache *c, size_t n) {
        Entry *a, *b;

        if (n <= c->cap)
                return 0;
        n = MAX(n, c->cap * 2);
        a = realloc(c->entries, n * sizeof *a);
        if (!a)
                return -ENOMEM;
        c->entries = a;
        b = realloc(c->next, n * sizeof *b);
        if (!b)
                return -ENOMEM;
        c->next = b;
        c->cap = n;
        return 0;
}

/*
 * Walk the listed pids and the cached entries (both ascending) together: an entry whose pid is
 * no longer listed is dropped, a listed pid without one gets a fresh one. After a fatal error the
 * walk goes on without scanning, so the cache stays consistent (and its fds accounted for).
 */
static int cache_merge(ScanCache *c, Scan *s, size_t n_pids) {
        size_t i = 0, k = 0;
        int fatal = 0;

        for (size_t j = 0; j < n_pids; j++) {
                pid_t pid = c->pids[j];
                Entry *e = &c->next[k];
                int r;

                for (; i < c->n_entries && c->entries[i].pid < pid; i++)
                        entry_release(c, &c->entries[i]);
                if (i < c->n_entries && c->entries[i].pid == pid)
                        *e = c->entries[i++];
                else if (fatal == 0)
                        *e = (Entry) { .pid = pid, .stat_fd = -1, .status_fd = -1 };
                else
                        continue;
                if (fatal == 0) {
                        s->due = (c->scan_no + (uint64_t) pid) % SCAN_CACHE_REFRESH_SCANS == 0;
                        r = scan_pid(s, e);
                        if (r < 0 && scan_error_is_fatal(r))
                                fatal = r;
                        if (r < 0) {
                                entry_release(c, e);
                                continue;
                        }
                }
                k++;
        }
        for (; i < c->n_entries; i++)
                entry_release(c, &c->entries[i]);
        {
                Entry *t = c->entries;

                c->entries = c->next;
                c->next = t;
        }
        c->n_entries = k;
        return fatal;
}

int proc_scan_cached(ScanCache *c, const char *proc_root, const ScanFilter *f, ProcEntry *out,
                     size_t max, size_t *ret_n, size_t *ret_total) {
        size_t n_pids;
        Scan s;
        int r;

        if (!c || !proc_root)
                return -EINVAL;
        r = scan_begin(&s, f, out, max);
        if (r >= 0)
                r = cache_attach(c, proc_root);
        if (r >= 0)
                r = collect_pids(c->proc_fd, &c->pids, &c->pids_cap, &n_pids);
        if (r >= 0)
                r = cache_reserve(c, MAX(n_pids, c->n_entries));
        if (r < 0)
                return r;
        s.cache = c;
        s.proc_fd = c->proc_fd;
        c->scan_no++;
        r = cache_merge(c, &s, n_pids);
        if (r < 0)
                return r;
        scan_end(&s, ret_n, ret_total);
        return 0;
}
