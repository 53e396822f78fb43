/* SPDX-License-Identifier: GPL-2.0-only */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "build-config.h"
#include "common/statefile.h"
#include "daemon/log.h"
#include "daemon/log-ids.h"

static bool use_journal;
static int journal_copy_fd = -1;        /* test builds: $MGD_TEST_JOURNAL_COPY gets every entry */
static int max_level = LOG_INFO;
static int action_fd = -1;

/* $JOURNAL_STREAM is "dev:ino" of the stream systemd connected; only trust it if stderr is it. */
static bool stderr_is_journal(void) {
        const char *e = secure_getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return st.st_dev == (dev_t) dev && st.st_ino == (ino_t) ino;
}

void log_setup(void) {
        use_journal = stderr_is_journal();
#if MGD_TEST_HOOKS
        /* the journal's fields of every entry, one line each, for the tests (no journald there) */
        const char *copy = secure_getenv("MGD_TEST_JOURNAL_COPY");

        if (copy && copy[0] == '/')
                journal_copy_fd = open(copy, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
#endif
}

/* One journal entry from n "FIELD=value" strings; also copied for the tests when asked. */
static void journal_send(const char *const *fields, size_t n) {
        struct iovec iov[24];
        char line[2048];
        size_t len = 0;

        n = MIN(n, ELEMENTSOF(iov));
        for (size_t i = 0; i < n; i++)
                iov[i] = (struct iovec) { .iov_base = (char *) fields[i], .iov_len = strlen(fields[i]) };
        if (use_journal)
                (void) sd_journal_sendv(iov, (int) n);
        if (journal_copy_fd < 0)
                return;
        for (size_t i = 0; i < n && len < sizeof line; i++)
                len += (size_t) snprintf(line + len, sizeof line - len, "%s%s", i ? "\t" : "", fields[i]);
        len = MIN(len, sizeof line - 2);
        line[len++] = '\n';
        (void) !write(journal_copy_fd, line, len);
}

const char *log_action_message_id(const char *action) {
        static const struct { const char *action, *id; } ids[] = {
                { "freeze", MGD_MESSAGE_FREEZE }, { "thaw", MGD_MESSAGE_THAW },
                { "terminate", MGD_MESSAGE_KILL }, { "kill", MGD_MESSAGE_KILL },
                { "checkpoint", MGD_MESSAGE_CHECKPOINT }, { "restore", MGD_MESSAGE_RESTORE },
        };

        for (size_t i = 0; action && i < ELEMENTSOF(ids); i++)
                if (strcmp(ids[i].action, action) == 0)
                        return ids[i].id;
        return NULL;
}

void log_set_max_level(int level) {
        max_level = CLAMP(level, LOG_EMERG, LOG_DEBUG);
}

bool log_to_journal(void) {
        return use_journal;
}

static const char *level_prefix(int level) {
        switch (level) {
        case LOG_DEBUG: return "debug: ";
        case LOG_INFO: case LOG_NOTICE: return "";
        case LOG_WARNING: return "warning: ";
        default: return "error: ";
        }
}

static int log_vinternal(int level, int error, const char *message_id, const char *const *extra, size_t n_extra,
                         const char *file, int line, const char *func, const char *fmt, va_list ap) {
        char msg[1024 + 8], prio[16], err[24], lfile[64], lline[32], lfunc[80], mid[48];
        const char *fields[16];
        size_t n = 0;
        int saved = errno;

        error = abs(error);
        if (level > max_level)
                return -error;
        /* %m in fmt means the error we were given, not whatever errno is now */
        errno = error;
        memcpy(msg, "MESSAGE=", 8);
        (void) vsnprintf(msg + 8, sizeof msg - 8, fmt, ap);
        errno = saved;

        if (!use_journal)
                (void) fprintf(stderr, "mgd: %s%s\n", level_prefix(level), msg + 8);
        if (!use_journal && journal_copy_fd < 0)
                return -error;
        (void) snprintf(prio, sizeof prio, "PRIORITY=%d", level);
        (void) snprintf(err, sizeof err, "ERRNO=%d", error);
        (void) snprintf(lfile, sizeof lfile, "CODE_FILE=%s", file);
        (void) snprintf(lline, sizeof lline, "CODE_LINE=%d", line);
        (void) snprintf(lfunc, sizeof lfunc, "CODE_FUNC=%s", func);
        fields[n++] = msg;
        fields[n++] = prio;
        if (error)
                fields[n++] = err;
        if (message_id) {
                (void) snprintf(mid, sizeof mid, "MESSAGE_ID=%s", message_id);
                fields[n++] = mid;
        }
        for (size_t i = 0; i < n_extra && n < ELEMENTSOF(fields) - 3; i++)
                fields[n++] = extra[i];
        fields[n++] = lfile;
        fields[n++] = lline;
        fields[n++] = lfunc;
        journal_send(fields, n);
        return -error;
}

int log_internal(int level, int error, const char *file, int line, const char *func,
                 const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = log_vinternal(level, error, NULL, NULL, 0, file, line, func, fmt, ap);
        va_end(ap);
        return r;
}

void log_internal_id(int level, const char *message_id, const char *const *extra, size_t n_extra,
                     const char *file, int line, const char *func, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        (void) log_vinternal(level, 0, message_id, extra, n_extra, file, line, func, fmt, ap);
        va_end(ap);
}

static void action_log_write(const char *line) {
        char buf[1200];
        struct timespec ts;
        struct tm tm;
        int n;

        if (action_fd < 0)
                return;
        (void) clock_gettime(CLOCK_REALTIME, &ts);
        (void) localtime_r(&ts.tv_sec, &tm);
        n = snprintf(buf, sizeof buf, "%02d:%02d:%02d.%03ld %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, line);
        if (n > 0)
                (void) !write(action_fd, buf, MIN((size_t) n, sizeof buf - 1));
}

/* The action record's journal entry: MGD_* fields, and the MESSAGE_ID of what was done (none
 * for a dry run's "would ..."). */
static void log_action_journal(const ActionRecord *a, const char *line) {
        char msg[1100], f[11][256], mid[48];
        const char *fields[16] = { msg, "PRIORITY=5" };
        const char *id = a->would ? NULL : log_action_message_id(a->action);
        size_t n = 2;

        (void) snprintf(msg, sizeof msg, "MESSAGE=%s", line);
        (void) snprintf(f[0], sizeof f[0], "MGD_ACTION=%s", a->action);
        (void) snprintf(f[1], sizeof f[1], "MGD_PID=%d", (int) a->pid);
        (void) snprintf(f[2], sizeof f[2], "MGD_COMM=%s", a->comm ?: "");
        (void) snprintf(f[3], sizeof f[3], "MGD_PRIORITY=%d", a->priority);
        (void) snprintf(f[4], sizeof f[4], "MGD_LEVEL=%s", a->level ?: "");
        (void) snprintf(f[5], sizeof f[5], "MGD_SCORE=%.3f", a->score);
        (void) snprintf(f[6], sizeof f[6], "MGD_FOOTPRINT_KB=%" PRIu64, a->footprint_kb);
        (void) snprintf(f[7], sizeof f[7], "MGD_METHOD=%s", a->method ?: "");
        (void) snprintf(f[8], sizeof f[8], "MGD_RESULT=%s", a->result ?: "ok");
        (void) snprintf(f[9], sizeof f[9], "MGD_REASON=%s", a->reason ?: "");
        (void) snprintf(f[10], sizeof f[10], "MGD_DRY_RUN=%d", a->would);
        for (size_t i = 0; i < ELEMENTSOF(f); i++)
                fields[n++] = f[i];
        if (id) {
                (void) snprintf(mid, sizeof mid, "MESSAGE_ID=%s", id);
                fields[n++] = mid;
        }
        journal_send(fields, n);
}

void log_action(const ActionRecord *a) {
        char line[1024];

        (void) snprintf(line, sizeof line,
                        "%s%s pid=%d comm=\"%s\" priority=%d level=%s score=%.3f footprint=%" PRIu64
                        "kB%s%s result=%s%s%s",
                        a->would ? "would " : "", a->action, (int) a->pid, a->comm ?: "", a->priority, a->level ?: "-",
                        a->score, a->footprint_kb, a->method ? " method=" : "", a->method ?: "",
                        a->result ?: "ok", a->reason ? " reason=" : "", a->reason ?: "");
        action_log_write(line);

        if (use_journal || journal_copy_fd >= 0)
                log_action_journal(a, line);
        if (!use_journal)
                (void) fprintf(stderr, "mgd: action: %s\n", line);
}

static int name_cmp(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Delete the oldest mgd-*.log files so that at most keep-1 remain before the new one is made. */
static void action_log_rotate(int dfd, unsigned keep) {
        char *names[512];
        size_t n = 0;
        struct dirent *de;
        DIR *d;
        int fd2;

        if (keep == 0)
                return;
        fd2 = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
        if (fd2 < 0 || !(d = fdopendir(fd2))) {
                if (fd2 >= 0)
                        close(fd2);
                return;
        }
        while ((de = readdir(d)) && n < ELEMENTSOF(names))
                if (strncmp(de->d_name, "mgd-", 4) == 0 && strlen(de->d_name) > 8 &&
                    strcmp(de->d_name + strlen(de->d_name) - 4, ".log") == 0)
                        names[n] = strdup(de->d_name), n += !!names[n];
        closedir(d);
        qsort(names, n, sizeof names[0], name_cmp);
        for (size_t i = 0; i < n; i++) {
                if (i + keep - 1 < n)   /* keep the newest keep-1; the new file makes keep */
                        (void) unlinkat(dfd, names[i], 0);
                free(names[i]);
        }
}

int action_log_open(const char *dir, unsigned keep) {
        _cleanup_close_ int dfd = -1;
        char name[64];
        size_t n;
        struct tm tm;
        time_t t = time(NULL);

        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return log_warning_errno(errno, "Cannot create action log directory %s, file log off: %m", dir);
        dfd = open(dir, O_DIRECTORY | O_CLOEXEC | O_RDONLY);
        if (dfd < 0)
                return log_warning_errno(errno, "Cannot open action log directory %s, file log off: %m", dir);
        action_log_rotate(dfd, keep);
        (void) localtime_r(&t, &tm);
        /* the pid keeps two runs started within one second apart */
        n = strftime(name, sizeof name, "mgd-%Y%m%d-%H%M%S", &tm);
        (void) snprintf(name + n, sizeof name - n, "-%d.log", (int) getpid());
        action_fd = openat(dfd, name, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (action_fd < 0)
                return log_warning_errno(errno, "Cannot open action log %s/%s, file log off: %m", dir, name);
        return 0;
}

void action_log_close(void) {
        if (action_fd >= 0)
                (void) close(action_fd);
        action_fd = -1;
}

void log_state_set_aside(const char *dir, const char *name, int error, const char *reason) {
        char path[PATH_MAX], aside[PATH_MAX];
        int r;

        if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int) sizeof path) {
                log_error("State file path too long under %s, starting without %s", dir, name);
                return;
        }
        r = statefile_quarantine(path, time(NULL), aside, sizeof aside);
        if (r < 0)
                log_error_errno(r, "State file %s is damaged (%s) and cannot be moved aside (%m); "
                                "starting without it", path, reason ?: statefile_strerror(error));
        else
                log_warning("State file %s is damaged (%s): moved aside as %s, starting without it",
                            path, reason ?: statefile_strerror(error), aside);
}
