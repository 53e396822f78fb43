/* SPDX-License-Identifier: GPL-2.0-only */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/readers.h"
#include "daemon/pidref.h"

static void set_what(const char **ret_what, const char *what) {
        if (ret_what)
                *ret_what = what;
}

static usec_t now_monotonic(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (usec_t) ts.tv_sec * USEC_PER_SEC + (usec_t) ts.tv_nsec / NSEC_PER_USEC;
}

int pidref_pin(const char *proc_root, pid_t pid, uint64_t starttime, PidRef *ret, const char **ret_what) {
        _cleanup_close_ int fd = -1;
        ProcStat st;
        int r;

        if (!proc_root || !ret || pid <= 0) {
                set_what(ret_what, "invalid pid");
                return -EINVAL;
        }

        fd = (int) syscall(SYS_pidfd_open, pid, 0);
        if (fd < 0) {
                set_what(ret_what, "pidfd_open");
                return -errno;
        }

        /*
         * Read only now that the pidfd is open. If the pid was recycled before the open, the
         * stat is the new owner's and its starttime differs. If it matches, the pid still
         * belonged to our process when the open ran, so the pidfd names our process.
         */
        r = proc_stat_read(proc_root, pid, &st);
        if (r == -ENOENT)
                r = -ESRCH;
        if (r < 0) {
                set_what(ret_what, "read /proc/PID/stat");
                return r;
        }
        if (st.starttime != starttime) {
                set_what(ret_what, "starttime mismatch (pid recycled)");
                return -ESRCH;
        }
        if (st.state == 'Z' || st.state == 'X') {
                set_what(ret_what, "already exited (zombie)");
                return -ESRCH;
        }

        *ret = (PidRef) { .pid = pid, .starttime = starttime, .fd = TAKE_FD(fd) };
        return 0;
}

void pidref_done(PidRef *p) {
        if (!p)
                return;
        closep(&p->fd);
        *p = PIDREF_NULL;
}

int pidref_signal(const PidRef *p, int sig) {
        if (!p || p->fd < 0)
                return -EBADF;
        return RET_NERRNO((int) syscall(SYS_pidfd_send_signal, p->fd, sig, NULL, 0));
}

/* ---- cgroup paths ---- */

bool cgroup_path_is_valid(const char *path) {
        const char *c;
        size_t len;

        if (!path || path[0] != '/')
                return false;
        len = strlen(path);
        if (len >= PROC_CGROUP_MAX)
                return false;
        for (size_t i = 0; i < len; i++)
                if ((unsigned char) path[i] < 0x20 || path[i] == 0x7f)
                        return false;
        if (len == 1)
                return true;

        for (c = path + 1;;) {
                const char *e = strchrnul(c, '/');
                size_t n = (size_t) (e - c);

                if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
                        return false;
                if (*e == '\0')
                        return true;
                c = e + 1;
        }
}

bool cgroup_leaf_is_app_scope(const char *path) {
        static const char prefix[] = "app-", suffix[] = ".scope";
        const char *leaf;
        size_t n;

        if (!cgroup_path_is_valid(path))
                return false;
        leaf = strrchr(path, '/') + 1;
        n = strlen(leaf);
        return n > strlen(prefix) + strlen(suffix) &&
               strncmp(leaf, prefix, strlen(prefix)) == 0 &&
               strcmp(leaf + n - strlen(suffix), suffix) == 0;
}

/* Open <root><path> as a directory, without building the string (and without a stray "..":
 * the path was validated). */
static int cgroup_open_dir(const char *root, const char *path) {
        _cleanup_close_ int rfd = -1;
        int fd;

        if (!root || !cgroup_path_is_valid(path))
                return -EINVAL;
        rfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (rfd < 0)
                return -errno;
        if (path[1] == '\0')
                return TAKE_FD(rfd);
        fd = openat(rfd, path + 1, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

/* "frozen 0|1" from cgroup.events text: 1, 0, or -EINVAL when the key is missing or garbage. */
static int cgroup_events_frozen(const char *text) {
        for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
                if (strncmp(l, "frozen ", 7) != 0)
                        continue;
                if ((l[7] == '0' || l[7] == '1') && (l[8] == '\n' || l[8] == '\0'))
                        return l[7] == '1';
                return -EINVAL;
        }
        return -EINVAL;
}

int cgroup_frozen(const char *cgroup2_root, const char *path) {
        _cleanup_close_ int dfd = -1;
        char buf[256];
        int r;

        dfd = cgroup_open_dir(cgroup2_root, path);
        if (dfd < 0)
                return dfd;
        r = read_small_fileat(dfd, "cgroup.events", buf, sizeof(buf), NULL);
        if (r < 0)
                return r;
        return cgroup_events_frozen(buf);
}

/*
 * Wait, at most `budget`, for cgroup.events to say "frozen 1". kernfs files wake poll() with
 * POLLPRI when they change, so this sleeps in poll() instead of spinning. 1 frozen, 0 not yet.
 */
static int cgroup_wait_frozen(int dfd, usec_t budget) {
        _cleanup_close_ int fd = -1;
        usec_t deadline = now_monotonic() + budget;

        fd = openat(dfd, "cgroup.events", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;

        for (;;) {
                struct pollfd pfd = { .fd = fd, .events = POLLPRI };
                char buf[256];
                ssize_t n;
                usec_t t;
                int r;

                n = pread(fd, buf, sizeof(buf) - 1, 0);
                if (n < 0)
                        return -errno;
                buf[n] = '\0';
                r = cgroup_events_frozen(buf);
                if (r != 0)
                        return r;

                t = now_monotonic();
                if (t >= deadline)
                        return 0;
                if (poll(&pfd, 1, (int) ((deadline - t + USEC_PER_MSEC - 1) / USEC_PER_MSEC)) < 0 &&
                    errno != EINTR)
                        return -errno;
        }
}

/* A decimal that ends at a newline or the end of the string (safe_atou64() is strict). */
static int parse_u64_line(const char *s, uint64_t *ret) {
        char tmp[24];
        size_t n = strcspn(s, "\n");

        if (n >= sizeof(tmp))
                return -ERANGE;
        memcpy(tmp, s, n);
        tmp[n] = '\0';
        return safe_atou64(tmp, ret);
}

/* 1 if cgroup.procs of dfd lists exactly pid and nothing else. */
static int cgroup_holds_only(int dfd, pid_t pid) {
        char buf[32];
        const char *nl;
        uint64_t v;
        int r;

        /* A second pid does not fit: read_small_fileat() says -EFBIG, i.e. "not alone". */
        r = read_small_fileat(dfd, "cgroup.procs", buf, sizeof(buf), NULL);
        if (r == -EFBIG)
                return 0;
        if (r < 0)
                return r;
        /* Exactly one line, "<pid>\n". */
        nl = strchr(buf, '\n');
        if (buf[0] == '\0' || (nl && nl[1] != '\0'))
                return 0;
        r = parse_u64_line(buf, &v);
        if (r < 0)
                return r;
        return v == (uint64_t) pid;
}

/* 1 if the cgroup has no live child cgroups (cgroup.stat "nr_descendants 0"). */
static int cgroup_is_leaf(int dfd) {
        char buf[512];
        const char *l;
        uint64_t v;
        int r;

        r = read_small_fileat(dfd, "cgroup.stat", buf, sizeof(buf), NULL);
        if (r < 0)
                return r;
        l = strncmp(buf, "nr_descendants ", 15) == 0 ? buf : strstr(buf, "\nnr_descendants ");
        if (!l)
                return -EINVAL;
        l += *l == '\n' ? 16 : 15;
        r = parse_u64_line(l, &v);
        if (r < 0)
                return r;
        return v == 0;
}

/*
 * Whether p may be frozen through its cgroup: 1 with *ret_dfd (the cgroup) and *ret_ffd
 * (cgroup.freeze, open for writing) set, 0 when SIGSTOP must be used instead, -errno when p
 * must not be frozen at all (gone, or its cgroup is already frozen by someone else).
 */
static int cgroup_freeze_prepare(const ProcRoots *roots, const PidRef *p, FreezeInfo *info,
                                 int *ret_dfd, int *ret_ffd, const char **ret_what) {
        _cleanup_close_ int dfd = -1, ffd = -1;
        ProcCgroup cg;
        char buf[16];
        int r;

        if (!roots->cgroup2)
                return 0;
        r = proc_cgroup_read(roots->proc, p->pid, &cg);
        if (r < 0) {
                set_what(ret_what, "read /proc/PID/cgroup");
                return r == -ENOENT ? -ESRCH : r;
        }
        if (!cg.has_unified || !cgroup_leaf_is_app_scope(cg.unified))
                return 0;
        /* Not under our root (another cgroup namespace) or gone: nothing to write. */
        dfd = cgroup_open_dir(roots->cgroup2, cg.unified);
        if (dfd < 0)
                return 0;
        /* "Alone": no other process would be frozen with it, and no child cgroup hides one. */
        if (cgroup_holds_only(dfd, p->pid) <= 0 || cgroup_is_leaf(dfd) <= 0)
                return 0;
        /* No cgroup.freeze (kernel < 5.2): SIGSTOP. */
        if (read_small_fileat(dfd, "cgroup.freeze", buf, sizeof(buf), NULL) < 0)
                return 0;
        if (buf[0] == '1') {
                set_what(ret_what, "cgroup already frozen by someone else");
                return -EALREADY;
        }
        /* The reads above went by pid number: they were about our process only if it still
         * holds its pid now. */
        r = pidref_signal(p, 0);
        if (r < 0) {
                set_what(ret_what, "pidfd_send_signal(0)");
                return r;
        }
        /* Not delegated to us: SIGSTOP. */
        ffd = openat(dfd, "cgroup.freeze", O_WRONLY | O_CLOEXEC);
        if (ffd < 0)
                return 0;

        strcpy(info->cgroup, cg.unified);
        *ret_dfd = TAKE_FD(dfd);
        *ret_ffd = TAKE_FD(ffd);
        return 1;
}

static int freeze_ahead(FreezeAheadFn ahead, void *userdata, const FreezeInfo *planned, const char **ret_what) {
        int r = ahead ? ahead(planned, userdata) : 0;

        if (r < 0)
                set_what(ret_what, "write-ahead record");
        return r;
}

int pidref_freeze(const ProcRoots *roots, const PidRef *p, FreezeAheadFn ahead, void *userdata, FreezeInfo *ret,
                  const char **ret_what) {
        _cleanup_close_ int dfd = -1, ffd = -1;
        FreezeInfo info = { .method = FREEZE_SIGSTOP, .settled = true };
        ProcStat st;
        int r;

        if (!roots || !roots->proc || !p || p->fd < 0 || !ret) {
                set_what(ret_what, "not pinned");
                return -EINVAL;
        }

        r = proc_stat_read(roots->proc, p->pid, &st);
        if (r < 0) {
                set_what(ret_what, "read /proc/PID/stat");
                return r == -ENOENT ? -ESRCH : r;
        }
        if (st.starttime != p->starttime) {
                set_what(ret_what, "starttime mismatch (pid recycled)");
                return -ESRCH;
        }
        /* Stopped by job control or a debugger: that stop is not ours to take over and undo. */
        if (st.state == 'T' || st.state == 't') {
                set_what(ret_what, "already stopped (not by mgd)");
                return -EALREADY;
        }

        r = cgroup_freeze_prepare(roots, p, &info, &dfd, &ffd, ret_what);
        if (r < 0)
                return r;
        if (r > 0) {
                info.method = FREEZE_CGROUP;
                r = freeze_ahead(ahead, userdata, &info, ret_what);
                if (r < 0)
                        return r;
                if (write(ffd, "1", 1) == 1) {
                        info.settled = cgroup_wait_frozen(dfd, FREEZE_SETTLE_USEC) > 0;
                        *ret = info;
                        return 0;
                }
                /* The write changed nothing, so SIGSTOP is still a correct fallback. */
                info.method = FREEZE_SIGSTOP;
                info.cgroup[0] = '\0';
        }

        r = freeze_ahead(ahead, userdata, &info, ret_what);
        if (r < 0)
                return r;
        r = pidref_signal(p, SIGSTOP);
        if (r < 0) {
                set_what(ret_what, "pidfd_send_signal(SIGSTOP)");
                return r;
        }
        *ret = info;
        return 0;
}

static int cgroup_thaw(const ProcRoots *roots, const PidRef *p, const char *cgroup, const char **ret_what) {
        _cleanup_close_ int dfd = -1, ffd = -1;
        ProcCgroup cg;
        int r;

        if (!roots->cgroup2) {
                set_what(ret_what, "no cgroup2 mount to thaw through");
                return -EOPNOTSUPP;
        }
        if (!cgroup_path_is_valid(cgroup)) {
                set_what(ret_what, "invalid cgroup path");
                return -EINVAL;
        }
        /* mgd freezes app scopes only (cgroup_freeze_prepare()): any other cgroup is not its own. */
        if (!cgroup_leaf_is_app_scope(cgroup)) {
                set_what(ret_what, "not an app scope (never written)");
                return -ENOENT;
        }
        r = proc_cgroup_read(roots->proc, p->pid, &cg);
        if (r < 0) {
                set_what(ret_what, "read /proc/PID/cgroup");
                return r == -ENOENT ? -ESRCH : r;
        }
        /* Left it (which thawed it) or the cgroup is gone: that cgroup is not ours any more. */
        if (!cg.has_unified || strcmp(cg.unified, cgroup) != 0) {
                set_what(ret_what, "no longer in its frozen cgroup");
                return -ENOENT;
        }
        r = pidref_signal(p, 0);
        if (r < 0) {
                set_what(ret_what, "pidfd_send_signal(0)");
                return r;
        }
        dfd = cgroup_open_dir(roots->cgroup2, cgroup);
        if (dfd < 0) {
                set_what(ret_what, "open cgroup");
                return dfd;
        }
        ffd = openat(dfd, "cgroup.freeze", O_WRONLY | O_CLOEXEC);
        if (ffd < 0) {
                set_what(ret_what, "open cgroup.freeze");
                return -errno;
        }
        if (write(ffd, "0", 1) != 1) {
                set_what(ret_what, "write cgroup.freeze");
                return -errno;
        }
        return 0;
}

/*
 * What a thaw acts on is re-read now, not taken from a record (the registry is only as trusted as
 * its directory): the process is still the user's (real and effective uid, as the scan wants
 * them) and, for a SIGSTOP, still stopped. -ESRCH otherwise: nothing of mgd's is left to undo.
 */
static int thaw_target_check(const ProcRoots *roots, const PidRef *p, FreezeMethod method,
                             const char **ret_what) {
        ProcStatus st;
        ProcStat ps;
        int r;

        r = proc_status_read(roots->proc, p->pid, &st);
        if (r < 0) {
                set_what(ret_what, "read /proc/PID/status");
                return r == -ENOENT ? -ESRCH : r;
        }
        if (st.ruid != getuid() || st.euid != getuid()) {
                set_what(ret_what, "owned by another uid (never thawed)");
                return -ESRCH;
        }
        if (method != FREEZE_SIGSTOP)
                return 0;
        r = proc_stat_read(roots->proc, p->pid, &ps);
        if (r < 0) {
                set_what(ret_what, "read /proc/PID/stat");
                return r == -ENOENT ? -ESRCH : r;
        }
        if (ps.starttime != p->starttime || ps.state != 'T') {
                set_what(ret_what, ps.starttime != p->starttime ? "starttime mismatch (pid recycled)" :
                         "not stopped (nothing to resume)");
                return -ESRCH;
        }
        return 0;
}

int pidref_thaw(const ProcRoots *roots, const PidRef *p, FreezeMethod method, const char *cgroup,
                const char **ret_what) {
        int r;

        if (!roots || !roots->proc || !p || p->fd < 0) {
                set_what(ret_what, "not pinned");
                return -EINVAL;
        }
        r = thaw_target_check(roots, p, method, ret_what);
        if (r < 0)
                return r;

        switch (method) {
        case FREEZE_SIGSTOP:
                r = pidref_signal(p, SIGCONT);
                if (r < 0)
                        set_what(ret_what, "pidfd_send_signal(SIGCONT)");
                return r;
        case FREEZE_CGROUP:
                return cgroup_thaw(roots, p, cgroup, ret_what);
        default:
                set_what(ret_what, "unknown freeze method");
                return -EINVAL;
        }
}

/* ---- finding the cgroup2 mount ---- */

/* The next space-separated field of [*p, end); false at the end of the line. */
static bool next_field(const char **p, const char *end, const char **ret, size_t *ret_len) {
        const char *s = *p, *e;

        while (s < end && *s == ' ')
                s++;
        if (s >= end)
                return false;
        e = memchr(s, ' ', (size_t) (end - s));
        if (!e)
                e = end;
        *ret = s;
        *ret_len = (size_t) (e - s);
        *p = e;
        return true;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static int unescape_octal(const char *s, size_t len, char *buf, size_t size) {
        size_t o = 0;

        for (size_t i = 0; i < len; i++) {
                char c = s[i];

                if (c == '\\') {
                        if (len - i < 4 || s[i + 1] < '0' || s[i + 1] > '3' || s[i + 2] < '0' ||
                            s[i + 2] > '7' || s[i + 3] < '0' || s[i + 3] > '7')
                                return -EINVAL;
                        c = (char) ((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
                        if (c == '\0')
                                return -EINVAL;
                        i += 3;
                }
                if (o + 1 >= size)
                        return -ENAMETOOLONG;
                buf[o++] = c;
        }
        buf[o] = '\0';
        return 0;
}

/*
 * One mountinfo line: "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPER".
 * 1 and the unescaped mount point for a cgroup2 mount of the hierarchy root, 0 for anything else.
 */
static int mountinfo_line_cgroup2(const char *line, const char *end, char *mp, size_t size) {
        const char *f[5], *tok;
        size_t fl[5], len;
        const char *p = line;

        for (size_t i = 0; i < 5; i++)
                if (!next_field(&p, end, &f[i], &fl[i]))
                        return -EINVAL;
        for (;;) {
                if (!next_field(&p, end, &tok, &len))
                        return -EINVAL;
                if (len == 1 && tok[0] == '-')
                        break;
        }
        if (!next_field(&p, end, &tok, &len))
                return -EINVAL;
        if (len != 7 || memcmp(tok, "cgroup2", 7) != 0)
                return 0;
        /* A bind mount of a subtree would not match the paths /proc/PID/cgroup shows. */
        if (fl[3] != 1 || f[3][0] != '/')
                return 0;
        return unescape_octal(f[4], fl[4], mp, size) < 0 ? -EINVAL : 1;
}

static int copy_path(const char *s, char *buf, size_t size) {
        if (strlen(s) >= size)
                return -ENAMETOOLONG;
        strcpy(buf, s);
        return 0;
}

int cgroup2_root_from_mountinfo(const char *text, char *buf, size_t size) {
        char first[PATH_MAX] = "", mp[PATH_MAX];
        bool have_unified = false;

        if (!text || !buf || size == 0)
                return -EINVAL;

        for (const char *l = text; *l;) {
                const char *end = strchrnul(l, '\n');
                int r = 0;

                if (end > l)
                        r = mountinfo_line_cgroup2(l, end, mp, sizeof(mp));
                if (r < 0)
                        return r;
                if (r > 0) {
                        if (strcmp(mp, "/sys/fs/cgroup") == 0)
                                return copy_path(mp, buf, size);
                        if (strcmp(mp, "/sys/fs/cgroup/unified") == 0)
                                have_unified = true;
                        if (first[0] == '\0')
                                strcpy(first, mp);
                }
                l = *end ? end + 1 : end;
        }

        if (have_unified)
                return copy_path("/sys/fs/cgroup/unified", buf, size);
        if (first[0] != '\0')
                return copy_path(first, buf, size);
        return -ENOMEDIUM;
}

static bool is_cgroup2(const char *path) {
        struct statfs sfs;

        return statfs(path, &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC;
}

int cgroup2_root_detect(char *buf, size_t size) {
        static const char *const guesses[] = { "/sys/fs/cgroup", "/sys/fs/cgroup/unified" };
        char mp[PATH_MAX];

        /* Start-up only: mountinfo has no size limit, so grow the buffer until it fits. */
        for (size_t sz = 64 * 1024; sz <= 16 * 1024 * 1024; sz *= 2) {
                _cleanup_free_ char *text = malloc(sz);
                int r;

                if (!text)
                        return -ENOMEM;
                r = read_small_file("/proc/self/mountinfo", text, sz, NULL);
                if (r == -EFBIG)
                        continue;
                if (r < 0)
                        break;
                r = cgroup2_root_from_mountinfo(text, mp, sizeof(mp));
                if (r >= 0 && is_cgroup2(mp))
                        return copy_path(mp, buf, size);
                break;
        }

        for (size_t i = 0; i < ELEMENTSOF(guesses); i++)
                if (is_cgroup2(guesses[i]))
                        return copy_path(guesses[i], buf, size);
        return -ENOMEDIUM;
}
