/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Per-process /proc files. Everything here is written by the kernel, but parts of it are
 * chosen by the process itself (comm, cmdline, cgroup names inside a delegated subtree), so
 * a name may hold spaces, ')' or newlines, and parsing never splits on them.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/readers-internal.h"
#include "common/readers.h"

#define STAT_FILE_MAX 2048
#define STATUS_FILE_MAX 8192
#define CGROUP_FILE_MAX 8192
#define OOM_FILE_MAX 32

/* Fields after the comm: state is field 3; 4..52 are numbers (52 since Linux 3.5). */
#define STAT_FIRST_NUMBER 4
#define STAT_MIN_NUMBERS (52 - STAT_FIRST_NUMBER + 1)
#define STAT_FIELD(n) ((n) - STAT_FIRST_NUMBER)

/* ---- stat ---- */

/* "PID (" with PID = the text before the first '('. */
static int stat_pid(const char *text, const char *open, pid_t *ret) {
        uint64_t v;
        int r;

        if (open - text < 2 || open[-1] != ' ')
                return -EINVAL;
        r = span_u64(text, (size_t) (open - text - 1), &v);
        if (r < 0)
                return r;
        if (v == 0)
                return -EINVAL;
        if (v > INT_MAX)
                return -ERANGE;
        *ret = (pid_t) v;
        return 0;
}

/*
 * The numbers after the state. Some fields are signed (tpgid -1, priority, nice); each must at
 * least be a well-formed integer. Negative values are recorded so the fields we use can refuse
 * them.
 */
static int stat_numbers(Cursor *c, uint64_t v[STAT_MIN_NUMBERS], uint64_t *ret_neg_mask) {
        uint64_t neg = 0;
        unsigned n = 0;
        int r;

        while (!cursor_eof(c)) {
                uint64_t u;
                int64_t s;

                if (!cursor_char(c, ' '))
                        return -EINVAL;
                if (c->p < c->end && *c->p == '-') {
                        r = cursor_i64(c, &s);
                        u = (uint64_t) s;
                        if (r >= 0 && n < 64)
                                neg |= UINT64_C(1) << n;
                } else
                        r = cursor_u64(c, &u);
                if (r < 0)
                        return r;
                if (n < STAT_MIN_NUMBERS)
                        v[n] = u;
                n++;
        }
        if (n < STAT_MIN_NUMBERS)
                return -EINVAL;
        *ret_neg_mask = neg;
        return 0;
}

static int stat_fill(const uint64_t v[], uint64_t neg, ProcStat *st) {
        static const unsigned used[] = { 4, 9, 10, 12, 14, 15, 20, 22, 23, 24 };

        for (size_t i = 0; i < ELEMENTSOF(used); i++)
                if (neg & (UINT64_C(1) << STAT_FIELD(used[i])))
                        return -EINVAL;
        if (v[STAT_FIELD(4)] > INT_MAX || v[STAT_FIELD(9)] > UINT_MAX)
                return -ERANGE;
        st->ppid = (pid_t) v[STAT_FIELD(4)];
        st->flags = (unsigned) v[STAT_FIELD(9)];
        st->minflt = v[STAT_FIELD(10)];
        st->majflt = v[STAT_FIELD(12)];
        st->utime = v[STAT_FIELD(14)];
        st->stime = v[STAT_FIELD(15)];
        st->num_threads = v[STAT_FIELD(20)];
        st->starttime = v[STAT_FIELD(22)];
        st->vsize = v[STAT_FIELD(23)];
        st->rss_pages = v[STAT_FIELD(24)];
        return 0;
}

int proc_stat_parse(const char *text, ProcStat *ret) {
        uint64_t v[STAT_MIN_NUMBERS], neg;
        const char *open, *close, *end;
        ProcStat st = {};
        size_t len;
        Cursor c;
        int r;

        if (!text || !ret)
                return -EINVAL;
        len = strlen(text);
        /* The comm may hold '\n', so the single line is "everything up to the final '\n'". */
        if (len == 0 || text[len - 1] != '\n')
                return -EINVAL;
        end = text + len - 1;
        /* comm runs from the first '(' to the LAST ')': it may contain ") " itself. */
        open = strchr(text, '(');
        close = memrchr(text, ')', len);
        if (!open || !close || close < open)
                return -EINVAL;
        r = stat_pid(text, open, &st.pid);
        if (r < 0)
                return r;
        if ((size_t) (close - open - 1) >= sizeof st.comm)
                return -EINVAL;
        memcpy(st.comm, open + 1, (size_t) (close - open - 1));
        c = (Cursor) { .p = close + 1, .end = end };
        if (!cursor_char(&c, ' ') || cursor_eof(&c) || *c.p == '\0' || !strchr("RSDTtWXxZPIK", *c.p))
                return -EINVAL;
        st.state = *c.p++;
        r = stat_numbers(&c, v, &neg);
        if (r < 0)
                return r;
        r = stat_fill(v, neg, &st);
        if (r < 0)
                return r;
        *ret = st;
        return 0;
}

int proc_stat_readat(int dirfd, ProcStat *ret) {
        char buf[STAT_FILE_MAX];
        int r;

        r = read_text_fileat(dirfd, "stat", buf, sizeof buf, NULL);
        if (r < 0)
                return r;
        return proc_stat_parse(buf, ret);
}

int proc_stat_read(const char *proc_root, pid_t pid, ProcStat *ret) {
        _cleanup_close_ int dfd = proc_pid_dir_open(proc_root, pid);

        if (dfd < 0)
                return dfd;
        return proc_stat_readat(dfd, ret);
}

/* ---- status ---- */

enum {
        ST_NAME,
        ST_TGID,
        ST_UID,
        ST_VMRSS,
        ST_VMSWAP,
        ST_RSSANON,
        ST_RSSFILE,
        ST_RSSSHMEM,
        _ST_MAX,
};

#define KEY(s) { s, sizeof(s) - 1 }
static const struct {
        const char *name;
        size_t len;
} status_keys[_ST_MAX] = {
        [ST_NAME] = KEY("Name"),
        [ST_TGID] = KEY("Tgid"),
        [ST_UID] = KEY("Uid"),
        [ST_VMRSS] = KEY("VmRSS"),
        [ST_VMSWAP] = KEY("VmSwap"),
        [ST_RSSANON] = KEY("RssAnon"),
        [ST_RSSFILE] = KEY("RssFile"),
        [ST_RSSSHMEM] = KEY("RssShmem"),
};
#undef KEY

/* status has ~55 lines and we want 8 of them: compare lengths before bytes. */
static int status_key(const char *key, size_t len) {
        for (int k = 0; k < _ST_MAX; k++)
                if (status_keys[k].len == len && memcmp(key, status_keys[k].name, len) == 0)
                        return k;
        return -1;
}

/* The kernel escapes exactly '\n' and '\\' in Name (proc_task_name()); any other '\' is bogus. */
static int status_name(Cursor *c, char *out, size_t size) {
        size_t n = 0;

        if (!cursor_lit(c, "\t"))
                return -EINVAL;
        while (!cursor_eof(c)) {
                char ch = *c->p++;

                if (ch == '\\') {
                        if (cursor_lit(c, "n"))
                                ch = '\n';
                        else if (!cursor_lit(c, "\\"))
                                return -EINVAL;
                }
                if (n + 1 >= size)
                        return -EINVAL;
                out[n++] = ch;
        }
        out[n] = '\0';
        return 0;
}

/* "\t<real>\t<effective>\t<saved>\t<fs>" */
static int status_uid(Cursor *c, ProcStatus *s) {
        uint64_t ids[4];
        int r;

        for (size_t i = 0; i < ELEMENTSOF(ids); i++) {
                if (!cursor_lit(c, "\t"))
                        return -EINVAL;
                r = cursor_u64(c, &ids[i]);
                if (r < 0)
                        return r;
                /* (uid_t) -1 is "no uid", never an owner. */
                if (ids[i] >= UINT32_MAX)
                        return -ERANGE;
        }
        if (!cursor_eof(c))
                return -EINVAL;
        s->ruid = (uid_t) ids[0];
        s->euid = (uid_t) ids[1];
        return 0;
}

/* "\t   1676 kB" */
static int status_kb(Cursor *c, uint64_t *ret) {
        int r;

        if (cursor_skip(c, " \t") == 0)
                return -EINVAL;
        r = cursor_u64(c, ret);
        if (r < 0)
                return r;
        return cursor_lit(c, " kB") && cursor_eof(c) ? 0 : -EINVAL;
}

static int status_tgid(Cursor *c, pid_t *ret) {
        uint64_t v;
        int r;

        if (!cursor_lit(c, "\t"))
                return -EINVAL;
        r = cursor_u64(c, &v);
        if (r < 0)
                return r;
        if (!cursor_eof(c) || v == 0)
                return -EINVAL;
        if (v > INT_MAX)
                return -ERANGE;
        *ret = (pid_t) v;
        return 0;
}

static int status_field(int key, Cursor *c, ProcStatus *s) {
        switch (key) {
        case ST_NAME:
                return status_name(c, s->name, sizeof s->name);
        case ST_TGID:
                return status_tgid(c, &s->tgid);
        case ST_UID:
                return status_uid(c, s);
        case ST_VMRSS:
                return status_kb(c, &s->vm_rss_kb);
        case ST_VMSWAP:
                return status_kb(c, &s->vm_swap_kb);
        case ST_RSSANON:
                return status_kb(c, &s->rss_anon_kb);
        case ST_RSSFILE:
                return status_kb(c, &s->rss_file_kb);
        case ST_RSSSHMEM:
                return status_kb(c, &s->rss_shmem_kb);
        }
        return -EINVAL;
}

/* Name, Tgid and Uid always; the memory lines all together (a task with an mm) or none. */
static int status_check_seen(unsigned seen) {
        const unsigned base = (1u << ST_NAME) | (1u << ST_TGID) | (1u << ST_UID);
        const unsigned mem = ((1u << _ST_MAX) - 1) & ~base;

        if ((seen & base) != base)
                return -EINVAL;
        if ((seen & mem) != 0 && (seen & mem) != mem)
                return -EINVAL;
        return 0;
}

int proc_status_parse(const char *text, ProcStatus *ret) {
        ProcStatus s = {};
        unsigned seen = 0;
        Cursor c;
        int r;

        if (!text || !ret)
                return -EINVAL;
        while ((r = text_next_line(&text, &c)) > 0) {
                const char *key;
                size_t len;
                int k;

                r = cursor_token(&c, ":", &key, &len);
                if (r < 0 || !cursor_lit(&c, ":"))
                        return -EINVAL;
                k = status_key(key, len);
                if (k < 0)
                        continue;
                if (seen & (1u << k))
                        return -EINVAL;
                seen |= 1u << k;
                r = status_field(k, &c, &s);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        r = status_check_seen(seen);
        if (r < 0)
                return r;
        s.has_mm = seen & (1u << ST_VMRSS);
        *ret = s;
        return 0;
}

int proc_status_readat(int dirfd, ProcStatus *ret) {
        char buf[STATUS_FILE_MAX];
        int r;

        r = read_text_fileat(dirfd, "status", buf, sizeof buf, NULL);
        if (r < 0)
                return r;
        return proc_status_parse(buf, ret);
}

int proc_status_read(const char *proc_root, pid_t pid, ProcStatus *ret) {
        _cleanup_close_ int dfd = proc_pid_dir_open(proc_root, pid);

        if (dfd < 0)
                return dfd;
        return proc_status_readat(dfd, ret);
}

/* ---- cgroup ---- */

static int cgroup_store(const char *path, size_t len, char *out, bool *has) {
        if (*has)
                return -EINVAL;
        if (len >= PROC_CGROUP_MAX)
                return -ENAMETOOLONG;
        memcpy(out, path, len);
        out[len] = '\0';
        *has = true;
        return 0;
}

/* A v1 line: remember the memory and freezer paths; named hierarchies ("name=systemd") carry
 * no controller and are ignored. */
static int cgroup_v1(const char *ctl, size_t ctl_len, const char *path, size_t len, ProcCgroup *cg) {
        Cursor c = { .p = ctl, .end = ctl + ctl_len };
        int r = 0;

        if (cursor_lit(&c, "name="))
                return 0;
        while (r >= 0 && !cursor_eof(&c)) {
                const char *one;
                size_t n;

                r = cursor_token(&c, ",", &one, &n);
                if (r < 0)
                        return r;
                if (span_eq(one, n, "memory"))
                        r = cgroup_store(path, len, cg->v1_memory, &cg->has_v1_memory);
                else if (span_eq(one, n, "freezer"))
                        r = cgroup_store(path, len, cg->v1_freezer, &cg->has_v1_freezer);
                if (!cursor_eof(&c) && (!cursor_lit(&c, ",") || cursor_eof(&c)))
                        return -EINVAL;
        }
        return r;
}

/* "ID:controllers:/path"; the path is the rest of the line and may itself contain ':'. */
static int cgroup_line(Cursor *c, ProcCgroup *cg) {
        const char *ctl, *colon;
        uint64_t id;
        size_t ctl_len;
        int r;

        r = cursor_u64(c, &id);
        if (r < 0)
                return r;
        if (!cursor_lit(c, ":"))
                return -EINVAL;
        colon = memchr(c->p, ':', (size_t) (c->end - c->p));
        if (!colon)
                return -EINVAL;
        ctl = c->p;
        ctl_len = (size_t) (colon - ctl);
        c->p = colon + 1;
        if (cursor_eof(c) || *c->p != '/')
                return -EINVAL;
        if (id == 0) {
                if (ctl_len != 0)
                        return -EINVAL;
                return cgroup_store(c->p, (size_t) (c->end - c->p), cg->unified, &cg->has_unified);
        }
        if (ctl_len == 0)
                return -EINVAL;
        return cgroup_v1(ctl, ctl_len, c->p, (size_t) (c->end - c->p), cg);
}

int proc_cgroup_parse(const char *text, ProcCgroup *ret) {
        ProcCgroup cg = {};
        unsigned lines = 0;
        Cursor c;
        int r;

        if (!text || !ret)
                return -EINVAL;
        while ((r = text_next_line(&text, &c)) > 0) {
                r = cgroup_line(&c, &cg);
                if (r < 0)
                        return r;
                lines++;
        }
        if (r < 0)
                return r;
        if (lines == 0)
                return -EINVAL;
        *ret = cg;
        return 0;
}

int proc_cgroup_readat(int dirfd, ProcCgroup *ret) {
        char buf[CGROUP_FILE_MAX];
        int r;

        r = read_text_fileat(dirfd, "cgroup", buf, sizeof buf, NULL);
        if (r < 0)
                return r;
        return proc_cgroup_parse(buf, ret);
}

int proc_cgroup_read(const char *proc_root, pid_t pid, ProcCgroup *ret) {
        _cleanup_close_ int dfd = proc_pid_dir_open(proc_root, pid);

        if (dfd < 0)
                return dfd;
        return proc_cgroup_readat(dfd, ret);
}

/* ---- cmdline, exe, oom_score_adj ---- */

/* Up to size-1 bytes: a long command line is cut, not an error. */
static int read_prefix_at(int dirfd, const char *path, char *buf, size_t size, size_t *ret_len) {
        _cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        size_t len = 0;

        if (fd < 0)
                return -errno;
        while (len < size - 1) {
                ssize_t k = read(fd, buf + len, size - 1 - len);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0)
                        break;
                len += (size_t) k;
        }
        *ret_len = len;
        return 0;
}

int proc_cmdline_readat(int dirfd, char *buf, size_t size) {
        size_t len = 0;
        int r;

        if (!buf || size < 2)
                return -EINVAL;
        r = read_prefix_at(dirfd, "cmdline", buf, size, &len);
        if (r < 0)
                return r;
        /* argv ends in NUL; setproctitle() users pad with more of them. */
        while (len > 0 && buf[len - 1] == '\0')
                len--;
        if (len == 0)
                return -ENODATA;
        for (size_t i = 0; i < len; i++)
                if (buf[i] == '\0')
                        buf[i] = ' ';
        buf[len] = '\0';
        return 0;
}

int proc_cmdline_read(const char *proc_root, pid_t pid, char *buf, size_t size) {
        _cleanup_close_ int dfd = proc_pid_dir_open(proc_root, pid);

        if (dfd < 0)
                return dfd;
        return proc_cmdline_readat(dfd, buf, size);
}

int proc_exe_basename_at(int dirfd, char *buf, size_t size) {
        static const char deleted[] = " (deleted)";
        char target[PATH_MAX];
        const char *base;
        ssize_t n;
        size_t len;

        if (!buf || size == 0)
                return -EINVAL;
        n = readlinkat(dirfd, "exe", target, sizeof target);
        if (n < 0)
                return -errno;
        if ((size_t) n >= sizeof target)
                return -ENAMETOOLONG;
        len = (size_t) n;
        /* The binary was replaced or removed after exec (an upgrade): same program, same name. */
        if (len >= sizeof deleted - 1 && memcmp(target + len - (sizeof deleted - 1), deleted,
                                                sizeof deleted - 1) == 0)
                len -= sizeof deleted - 1;
        target[len] = '\0';
        base = strrchr(target, '/');
        base = base ? base + 1 : target;
        if (!*base)
                return -EINVAL;
        if (strlen(base) >= size)
                return -ENAMETOOLONG;
        strcpy(buf, base);
        return 0;
}

int proc_exe_basename(const char *proc_root, pid_t pid, char *buf, size_t size) {
        _cleanup_close_ int dfd = proc_pid_dir_open(proc_root, pid);

        if (dfd < 0)
                return dfd;
        return proc_exe_basename_at(dfd, buf, size);
}

int proc_oom_score_adj_parse(const char *text, int *ret) {
        Cursor c;
        int64_t v;
        int r;

        if (!text || !ret)
                return -EINVAL;
        r = text_next_line(&text, &c);
        if (r <= 0 || *text != '\0')
                return -EINVAL;
        r = cursor_i64(&c, &v);
        if (r < 0)
                return r;
        if (!cursor_eof(&c))
                return -EINVAL;
        if (v < -1000 || v > 1000)
                return -ERANGE;
        *ret = (int) v;
        return 0;
}

int proc_oom_score_adj_readat(int dirfd, int *ret) {
        char buf[OOM_FILE_MAX];
        int r;

        r = read_text_fileat(dirfd, "oom_score_adj", buf, sizeof buf, NULL);
        if (r < 0)
                return r;
        return proc_oom_score_adj_parse(buf, ret);
}

int proc_oom_score_adj_read(const char *proc_root, pid_t pid, int *ret) {
        _cleanup_close_ int dfd = proc_pid_dir_open(proc_root, pid);

        if (dfd < 0)
                return dfd;
        return proc_oom_score_adj_readat(dfd, ret);
}
