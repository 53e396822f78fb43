/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The persisted cgroup settings (see cgstate.h). Format and parse are strict; the file is the
 * user's own, but a bad line is reported and skipped, never half-applied.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/readers-internal.h"
#include "common/statefile.h"
#include "common/procscan.h"
#include "daemon/cgstate.h"
#include "daemon/pidref.h"

#define CGSTATE_VERSION 1
#define LINE_MAX_BYTES 2048

struct CgState {
        char dir[PATH_MAX];
        CgEntry entries[CGSTATE_MAX];
        size_t n;
        uint64_t written_hash;          /* of the last content written or loaded; 0: none */
        ScanFilter session;             /* whose cgroups a restore may write (session patterns) */
        bool memory_only;               /* --dry-run: the file is never written */
        char buf[CGSTATE_MAX * 512];    /* the serialized table, made up front */
};

static const char *const file_names[_CGFILE_MAX] = {
        [CGFILE_CPU_WEIGHT] = "cpu.weight",
        [CGFILE_CPU_MAX] = "cpu.max",
        [CGFILE_MEMORY_HIGH] = "memory.high",
};

const char *cgfile_name(CgFile f) {
        return (unsigned) f < _CGFILE_MAX ? file_names[f] : NULL;
}

int cgstate_new(const char *state_dir, CgState **ret) {
        CgState *s;

        if (!state_dir || state_dir[0] != '/' || strlen(state_dir) >= PATH_MAX)
                return -EINVAL;
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        strcpy(s->dir, state_dir);
        scan_filter_default(&s->session, getuid(), 0);
        *ret = s;
        return 0;
}

CgState *cgstate_free(CgState *s) {
        free(s);
        return NULL;
}

int cgstate_set_session(CgState *s, const char *const *patterns, size_t n) {
        if (n == 0 || n > SCAN_SESSION_PATTERNS_MAX)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                if (!patterns[i] || !patterns[i][0] || strchr(patterns[i], '/') ||
                    strlen(patterns[i]) >= sizeof s->session.session_buf[i])
                        return -EINVAL;
                strcpy(s->session.session_buf[i], patterns[i]);
                s->session.session[i] = s->session.session_buf[i];
        }
        s->session.n_session = n;
        return 0;
}

const char *cgstate_dir(const CgState *s) {
        return s->dir;
}

size_t cgstate_size(const CgState *s) {
        return s->n;
}

CgEntry *cgstate_entry(CgState *s, size_t i) {
        return i < s->n ? &s->entries[i] : NULL;
}

CgEntry *cgstate_find(CgState *s, const char *path) {
        for (size_t i = 0; i < s->n; i++)
                if (strcmp(s->entries[i].path, path) == 0)
                        return &s->entries[i];
        return NULL;
}

int cgstate_get(CgState *s, const char *path, CgEntry **ret) {
        CgEntry *e = cgstate_find(s, path);

        if (!e) {
                if (!cgroup_path_is_valid(path) || strcmp(path, "/") == 0)
                        return -EINVAL;
                if (s->n >= CGSTATE_MAX)
                        return -ENOSPC;
                e = &s->entries[s->n++];
                *e = (CgEntry) {};
                strcpy(e->path, path);
        }
        *ret = e;
        return 0;
}

void cgstate_drop(CgState *s, CgEntry *e) {
        size_t i = (size_t) (e - s->entries);

        if (i >= s->n)
                return;
        memmove(e, e + 1, (s->n - i - 1) * sizeof(*e));
        s->n--;
}

int cgstate_entry_format(const CgEntry *e, char *buf, size_t size) {
        char enc[PROC_CGROUP_MAX * 3];
        size_t len;
        int n;

        if (pct_encode(e->path, enc, sizeof(enc)) < 0)
                return -ENOBUFS;
        n = snprintf(buf, size, "path=%s", enc);
        if (n < 0 || (size_t) n >= size)
                return -ENOBUFS;
        len = (size_t) n;
        for (CgFile f = 0; f < _CGFILE_MAX; f++) {
                if (!e->saved[f])
                        continue;
                if (pct_encode(e->orig[f], enc, sizeof(enc)) < 0)
                        return -ENOBUFS;
                n = snprintf(buf + len, size - len, " %s=%s", file_names[f], enc);
                if (n < 0 || (size_t) n >= size - len)
                        return -ENOBUFS;
                len += (size_t) n;
        }
        return (int) len;
}

static int entry_key(CgEntry *e, const char *key, size_t klen, const char *v, size_t vlen,
                     const char **ret_what) {
        if (klen == 4 && strncmp(key, "path", 4) == 0) {
                if (e->path[0]) {
                        *ret_what = "duplicate key 'path'";
                        return -EINVAL;
                }
                if (pct_decode(v, vlen, e->path, sizeof(e->path)) < 0 || !cgroup_path_is_valid(e->path) ||
                    strcmp(e->path, "/") == 0) {
                        *ret_what = "bad value for 'path'";
                        return -EINVAL;
                }
                return 0;
        }
        for (CgFile f = 0; f < _CGFILE_MAX; f++)
                if (klen == strlen(file_names[f]) && strncmp(key, file_names[f], klen) == 0) {
                        if (e->saved[f]) {
                                *ret_what = "duplicate key";
                                return -EINVAL;
                        }
                        if (pct_decode(v, vlen, e->orig[f], sizeof(e->orig[f])) < 0 || !e->orig[f][0]) {
                                *ret_what = "bad value";
                                return -EINVAL;
                        }
                        e->saved[f] = true;
                        return 0;
                }
        *ret_what = "unknown key";
        return -EINVAL;
}

int cgstate_entry_parse(const char *line, CgEntry *ret, char *err, size_t errsize) {
        CgEntry e = {};
        const char *what = NULL, *p = line;
        int r = 0;

        while (r >= 0 && *p) {
                const char *end = strchrnul(p, ' '), *eq = memchr(p, '=', (size_t) (end - p));

                if (!eq || eq == p) {
                        what = "a field is not key=value";
                        r = -EINVAL;
                        break;
                }
                r = entry_key(&e, p, (size_t) (eq - p), eq + 1, (size_t) (end - eq - 1), &what);
                p = *end ? end + 1 : end;
        }
        if (r >= 0 && !e.path[0]) {
                what = "missing key 'path'";
                r = -EINVAL;
        }
        if (r < 0) {
                (void) snprintf(err, errsize, "%s", what ? what : "malformed");
                return r;
        }
        *ret = e;
        return 0;
}

static int cgstate_serialize(CgState *s, size_t *ret_len) {
        int n = snprintf(s->buf, sizeof(s->buf), "mgd-cgroups %d\n", CGSTATE_VERSION);
        size_t len = (size_t) n;

        for (size_t i = 0; i < s->n; i++) {
                n = cgstate_entry_format(&s->entries[i], s->buf + len, sizeof(s->buf) - len - 1);
                if (n < 0)
                        return n;
                len += (size_t) n;
                s->buf[len++] = '\n';
        }
        s->buf[len] = '\0';
        *ret_len = len;
        return 0;
}

static uint64_t fnv1a(const char *p, size_t n) {
        uint64_t h = 0xcbf29ce484222325ULL;

        for (size_t i = 0; i < n; i++)
                h = (h ^ (unsigned char) p[i]) * 0x100000001b3ULL;
        return h ? h : 1;
}

void cgstate_set_memory_only(CgState *s) {
        s->memory_only = true;
}

int cgstate_persist(CgState *s) {
        size_t len;
        uint64_t h;
        int r;

        if (s->memory_only)
                return 0;
        r = cgstate_serialize(s, &len);
        if (r < 0)
                return r;
        h = s->n == 0 ? 0 : fnv1a(s->buf, len);
        if (h == s->written_hash)
                return 0;
        if (s->n == 0) {
                char path[PATH_MAX];

                if (snprintf(path, sizeof(path), "%s/%s", s->dir, CGSTATE_FILE) >= (int) sizeof(path))
                        return -ENAMETOOLONG;
                if (unlink(path) < 0 && errno != ENOENT)
                        return -errno;
        } else {
                r = write_file_atomic(s->dir, CGSTATE_FILE, s->buf, len, 0600);
                if (r < 0)
                        return r;
        }
        s->written_hash = h;
        return 1;
}

int cgstate_load(CgState *s, CgStateBadLineFn bad, void *userdata) {
        char path[PATH_MAX], err[128];
        unsigned lineno = 0, rejected = 0;
        size_t len = 0;
        char *line, *save = NULL;
        int r;

        s->n = 0;
        if (snprintf(path, sizeof(path), "%s/%s", s->dir, CGSTATE_FILE) >= (int) sizeof(path))
                return -ENAMETOOLONG;
        r = statefile_read(path, s->buf, sizeof(s->buf), &len);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        for (line = strtok_r(s->buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                CgEntry e;

                if (++lineno == 1) {
                        if (strcmp(line, "mgd-cgroups 1") != 0)
                                return strncmp(line, "mgd-cgroups ", 12) == 0 ? -EPROTONOSUPPORT : -EINVAL;
                        continue;
                }
                if (cgstate_entry_parse(line, &e, err, sizeof(err)) < 0 || s->n >= CGSTATE_MAX ||
                    cgstate_find(s, e.path)) {
                        if (bad)
                                bad(lineno, s->n >= CGSTATE_MAX ? "too many entries" :
                                    cgstate_find(s, e.path) ? "duplicate path" : err, userdata);
                        rejected++;
                        continue;
                }
                s->entries[s->n++] = e;
        }
        s->written_hash = s->n == 0 ? 0 : 1;    /* unknown: the next persist rewrites */
        return (int) rejected;
}

static int cg_open(const char *root, const char *path, const char *file, int flags) {
        char full[PATH_MAX];
        int fd;

        if (!root || !cgroup_path_is_valid(path) || strchr(file, '/'))
                return -EINVAL;
        if (snprintf(full, sizeof(full), "%s%s/%s", root, strcmp(path, "/") == 0 ? "" : path, file) >=
            (int) sizeof(full))
                return -ENAMETOOLONG;
        /* a cgroup file is never a symlink; O_NOFOLLOW keeps a planted one from redirecting us */
        fd = open(full, flags | O_CLOEXEC | O_NOFOLLOW);
        return fd < 0 ? -errno : fd;
}

int cg_write(const char *cgroup2_root, const char *path, const char *file, const char *value) {
        /* O_TRUNC as a shell's redirection: ignored by cgroupfs, and right for a fixture file */
        _cleanup_close_ int fd = cg_open(cgroup2_root, path, file, O_WRONLY | O_TRUNC);
        size_t n = strlen(value);

        if (fd < 0)
                return fd;
        if (write(fd, value, n) != (ssize_t) n)
                return -errno;
        return 0;
}

int cg_cache_drop_probe(const char *cgroup2_root, const char *path) {
        return cg_write(cgroup2_root, path, "memory.reclaim", "0 swappiness=0");
}

int cg_read(const char *cgroup2_root, const char *path, const char *file, char *buf, size_t size) {
        _cleanup_close_ int fd = cg_open(cgroup2_root, path, file, O_RDONLY);
        char page[4096];
        size_t len;
        ssize_t k;

        if (fd < 0)
                return fd;
        /* one read: the first line is all the callers want (cpu.stat has more, of any length) */
        k = read(fd, page, sizeof(page) - 1);
        if (k < 0)
                return -errno;
        page[k] = '\0';
        len = strcspn(page, "\n");
        if (len >= size)
                return -ENOBUFS;
        memcpy(buf, page, len);
        buf[len] = '\0';
        return 0;
}

/* Write e's originals back; the files that could not be restored stay saved. 0 or failures. */
int cg_read_all(const char *cgroup2_root, const char *path, const char *file, char *buf, size_t size) {
        char full[PATH_MAX];

        if (!cgroup2_root || !cgroup_path_is_valid(path) || strchr(file, '/'))
                return -EINVAL;
        if (snprintf(full, sizeof(full), "%s%s/%s", cgroup2_root, strcmp(path, "/") == 0 ? "" : path, file) >=
            (int) sizeof(full))
                return -ENAMETOOLONG;
        return read_text_fileat(AT_FDCWD, full, buf, size, NULL);
}

int cgstate_restore(CgEntry *e, const char *cgroup2_root, CgRestoreFn fn, void *userdata) {
        int failed = 0;

        for (CgFile f = 0; f < _CGFILE_MAX; f++) {
                int r;

                if (!e->saved[f])
                        continue;
                r = cg_write(cgroup2_root, e->path, file_names[f], e->orig[f]);
                if (fn)
                        fn(e, f, r, userdata);
                if (r < 0 && r != -ENOENT)
                        failed++;       /* kept, for the next try */
                else
                        e->saved[f] = false;
        }
        return failed;
}

/*
 * The file is only as trusted as the state directory: an entry is written back only to one of
 * the session's own app scopes, what mgd changes (daemon/cgroups.c). Anything else (a slice, a
 * service, another user's cgroup) is refused, reported with -EPERM per saved file, and dropped.
 */
static bool cgstate_entry_ours(const CgState *s, const CgEntry *e, CgRestoreFn fn, void *userdata) {
        if (cgroup_leaf_is_app_scope(e->path) && scan_cgroup_in_session(e->path, &s->session))
                return true;
        for (CgFile f = 0; fn && f < _CGFILE_MAX; f++)
                if (e->saved[f])
                        fn(e, f, -EPERM, userdata);
        return false;
}

int cgstate_restore_all(CgState *s, const char *cgroup2_root, CgRestoreFn fn, void *userdata) {
        int failed = 0;

        for (size_t i = s->n; i > 0; i--) {
                CgEntry *e = &s->entries[i - 1];
                int r = 0;

                if (cgstate_entry_ours(s, e, fn, userdata))
                        r = cgstate_restore(e, cgroup2_root, fn, userdata);

                failed += r;
                if (r == 0)
                        cgstate_drop(s, e);
        }
        return failed;
}
