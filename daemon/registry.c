/* SPDX-License-Identifier: GPL-2.0-only */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/readers.h"
#include "common/statefile.h"
#include "daemon/registry.h"

#define REGISTRY_HEADER "mgd-registry"
#define REGISTRY_PID_MAX 4194304        /* PID_MAX_LIMIT on 64-bit */
#define REGISTRY_FAILURES_MAX 1000000

struct Registry {
        char dir[PATH_MAX];
        RegistryEntry *entries;         /* REGISTRY_MAX, allocated in registry_new() */
        size_t n;
        bool persisted_valid;           /* the file is known to hold persisted_hash/len */
        uint64_t persisted_hash;
        uint64_t persisted_len;
        bool memory_only;               /* --dry-run: the file is never written */
        char line[REGISTRY_LINE_MAX + 2];
        char wbuf[16384];               /* write buffer for registry.tmp */
};

static const char *const how_names[_REGISTRY_HOW_MAX] = {
        [REGISTRY_SIGSTOP] = "sigstop",
        [REGISTRY_CGROUP] = "cgroup",
        [REGISTRY_CHECKPOINT] = "checkpoint",
};

const char *registry_how_to_string(RegistryHow how) {
        return (unsigned) how < _REGISTRY_HOW_MAX ? how_names[how] : NULL;
}

int registry_how_from_string(const char *s) {
        for (int i = 0; s && i < _REGISTRY_HOW_MAX; i++)
                if (strcmp(s, how_names[i]) == 0)
                        return i;
        return -EINVAL;
}

FreezeMethod registry_how_freeze_method(RegistryHow how) {
        switch (how) {
        case REGISTRY_SIGSTOP:
                return FREEZE_SIGSTOP;
        case REGISTRY_CGROUP:
                return FREEZE_CGROUP;
        default:
                return FREEZE_NONE;
        }
}

static usec_t now_clock(clockid_t clock) {
        struct timespec ts;

        (void) clock_gettime(clock, &ts);
        return (usec_t) ts.tv_sec * USEC_PER_SEC + (usec_t) ts.tv_nsec / NSEC_PER_USEC;
}

static bool string_fits(const char *s, size_t size) {
        return memchr(s, '\0', size) != NULL;
}

static bool path_is_clean(const char *s) {
        if (s[0] != '/')
                return false;
        for (; *s; s++)
                if ((unsigned char) *s < 0x20 || *s == 0x7f)
                        return false;
        return true;
}

static int entry_invalid(const char **ret_what, const char *what) {
        if (ret_what)
                *ret_what = what;
        return -EINVAL;
}

int registry_entry_validate(const RegistryEntry *e, const char **ret_what) {
        if (!e)
                return entry_invalid(ret_what, "entry");
        if (e->pid <= 0 || e->pid > REGISTRY_PID_MAX)
                return entry_invalid(ret_what, "pid");
        if (!string_fits(e->name, sizeof(e->name)))
                return entry_invalid(ret_what, "name");
        if (e->priority < 0 || e->priority > 100)
                return entry_invalid(ret_what, "priority");
        if ((unsigned) e->how >= _REGISTRY_HOW_MAX)
                return entry_invalid(ret_what, "how");
        if (e->restore_failures > REGISTRY_FAILURES_MAX)
                return entry_invalid(ret_what, "restore_failures");
        if (!string_fits(e->cgroup, sizeof(e->cgroup)) || !string_fits(e->image_dir, sizeof(e->image_dir)))
                return entry_invalid(ret_what, "cgroup/image");
        /* A cgroup freeze names one app's scope (app-*.scope): never the root or a slice. */
        if ((e->how == REGISTRY_CGROUP) != (e->cgroup[0] != '\0') ||
            (e->how == REGISTRY_CGROUP && !cgroup_leaf_is_app_scope(e->cgroup)))
                return entry_invalid(ret_what, "cgroup");
        if ((e->how == REGISTRY_CHECKPOINT) != (e->image_dir[0] != '\0') ||
            (e->how == REGISTRY_CHECKPOINT && !path_is_clean(e->image_dir)))
                return entry_invalid(ret_what, "image");
        return 0;
}

/* ---- formatting (no stdio, no allocation) ---- */

typedef struct Out {
        char *buf;
        size_t size, len;
        bool overflow;
} Out;

static void out_mem(Out *o, const char *s, size_t n) {
        if (o->overflow || o->len + n >= o->size) {
                o->overflow = true;
                return;
        }
        memcpy(o->buf + o->len, s, n);
        o->len += n;
        o->buf[o->len] = '\0';
}

static void out_str(Out *o, const char *s) {
        out_mem(o, s, strlen(s));
}

static void out_u64(Out *o, uint64_t v) {
        char tmp[21];
        size_t i = sizeof(tmp);

        do {
                tmp[--i] = (char) ('0' + v % 10);
                v /= 10;
        } while (v > 0);
        out_mem(o, tmp + i, sizeof(tmp) - i);
}

static void out_encoded(Out *o, const char *s) {
        char tmp[REGISTRY_LINE_MAX];
        int n = pct_encode(s, tmp, sizeof(tmp));

        if (n < 0) {
                o->overflow = true;
                return;
        }
        out_mem(o, tmp, (size_t) n);
}

static void out_key_u64(Out *o, const char *key, uint64_t v) {
        out_str(o, key);
        out_u64(o, v);
}

int registry_entry_format(const RegistryEntry *e, char *buf, size_t size, size_t *ret_len) {
        Out o = { .buf = buf, .size = size };

        if (!buf || size == 0)
                return -EINVAL;
        if (registry_entry_validate(e, NULL) < 0)
                return -EINVAL;

        out_key_u64(&o, "pid=", (uint64_t) e->pid);
        out_key_u64(&o, " starttime=", e->starttime);
        out_str(&o, " how=");
        out_str(&o, how_names[e->how]);
        out_key_u64(&o, " since=", e->since_realtime);
        out_key_u64(&o, " priority=", (uint64_t) e->priority);
        out_key_u64(&o, " footprint_kb=", e->footprint_kb);
        out_key_u64(&o, " restore_failures=", e->restore_failures);
        out_str(&o, " name=");
        out_encoded(&o, e->name);
        if (e->how == REGISTRY_CGROUP) {
                out_str(&o, " cgroup=");
                out_encoded(&o, e->cgroup);
        }
        if (e->how == REGISTRY_CHECKPOINT) {
                out_str(&o, " image=");
                out_encoded(&o, e->image_dir);
        }
        out_mem(&o, "\n", 1);
        if (o.overflow)
                return -ENOBUFS;
        if (ret_len)
                *ret_len = o.len;
        return 0;
}

/* ---- parsing ---- */

enum {
        K_PID,
        K_STARTTIME,
        K_HOW,
        K_SINCE,
        K_PRIORITY,
        K_FOOTPRINT,
        K_FAILURES,
        K_NAME,
        K_CGROUP,                       /* optional from here on */
        K_IMAGE,
        _K_MAX,
};

static const char *const key_names[_K_MAX] = {
        [K_PID] = "pid",
        [K_STARTTIME] = "starttime",
        [K_HOW] = "how",
        [K_SINCE] = "since",
        [K_PRIORITY] = "priority",
        [K_FOOTPRINT] = "footprint_kb",
        [K_FAILURES] = "restore_failures",
        [K_NAME] = "name",
        [K_CGROUP] = "cgroup",
        [K_IMAGE] = "image",
};

static int parse_fail(char *err, size_t errsize, const char *fmt, ...) _printf_(3, 4);
static int parse_fail(char *err, size_t errsize, const char *fmt, ...) {
        va_list ap;

        if (err && errsize > 0) {
                va_start(ap, fmt);
                (void) vsnprintf(err, errsize, fmt, ap);
                va_end(ap);
        }
        return -EINVAL;
}

/* Up to 32 bytes of untrusted text for an error message, anything odd shown as '?'. */
static const char *printable(const char *s, size_t len, char buf[static 36]) {
        size_t n = MIN(len, (size_t) 32);

        for (size_t i = 0; i < n; i++)
                buf[i] = pct_byte_is_plain((unsigned char) s[i]) ? s[i] : '?';
        strcpy(buf + n, len > n ? "..." : "");
        return buf;
}

static int copy_field(char *dst, size_t size, const char *v) {
        if (strlen(v) >= size)
                return -ENAMETOOLONG;
        strcpy(dst, v);
        return 0;
}

static int entry_set_field(RegistryEntry *e, unsigned key, const char *v) {
        uint64_t u = 0;
        int i = 0, r;

        switch (key) {
        case K_PID:
                r = safe_atou64(v, &u);
                if (r < 0 || u == 0 || u > REGISTRY_PID_MAX)
                        return -EINVAL;
                e->pid = (pid_t) u;
                return 0;
        case K_STARTTIME:
                return safe_atou64(v, &e->starttime);
        case K_HOW:
                r = registry_how_from_string(v);
                if (r < 0)
                        return r;
                e->how = (RegistryHow) r;
                return 0;
        case K_SINCE:
                return safe_atou64(v, &e->since_realtime);
        case K_PRIORITY:
                r = safe_atoi(v, &i);
                if (r < 0 || i < 0 || i > 100)
                        return -EINVAL;
                e->priority = i;
                return 0;
        case K_FOOTPRINT:
                return safe_atou64(v, &e->footprint_kb);
        case K_FAILURES:
                r = safe_atou64(v, &u);
                if (r < 0 || u > REGISTRY_FAILURES_MAX)
                        return -EINVAL;
                e->restore_failures = (unsigned) u;
                return 0;
        case K_NAME:
                return copy_field(e->name, sizeof(e->name), v);
        case K_CGROUP:
                return copy_field(e->cgroup, sizeof(e->cgroup), v);
        case K_IMAGE:
                return copy_field(e->image_dir, sizeof(e->image_dir), v);
        default:
                return -EINVAL;
        }
}

static unsigned key_lookup(const char *s, size_t len) {
        for (unsigned k = 0; k < _K_MAX; k++)
                if (strlen(key_names[k]) == len && memcmp(s, key_names[k], len) == 0)
                        return k;
        return _K_MAX;
}

/* One "key=value" field of [p, end) into e. */
static int parse_field(const char *p, const char *end, RegistryEntry *e, bool seen[static _K_MAX],
                       char *err, size_t errsize) {
        const char *eq = memchr(p, '=', (size_t) (end - p));
        char value[PROC_CGROUP_MAX], pbuf[36];
        unsigned k;

        if (!eq)
                return parse_fail(err, errsize, "field without '=': '%s'",
                                  printable(p, (size_t) (end - p), pbuf));
        k = key_lookup(p, (size_t) (eq - p));
        if (k == _K_MAX)
                return parse_fail(err, errsize, "unknown key '%s'", printable(p, (size_t) (eq - p), pbuf));
        if (seen[k])
                return parse_fail(err, errsize, "duplicate key '%s'", key_names[k]);
        seen[k] = true;
        if (pct_decode(eq + 1, (size_t) (end - eq - 1), value, sizeof(value)) < 0)
                return parse_fail(err, errsize, "bad encoding or length in the value of '%s'", key_names[k]);
        if (entry_set_field(e, k, value) < 0)
                return parse_fail(err, errsize, "bad value for '%s'", key_names[k]);
        return 0;
}

int registry_entry_parse(const char *line, RegistryEntry *ret, char *err, size_t errsize) {
        RegistryEntry e = { .how = _REGISTRY_HOW_MAX };
        bool seen[_K_MAX] = {};
        const char *what = NULL;
        int r;

        if (!line || !ret)
                return -EINVAL;
        if (*line == '\0')
                return parse_fail(err, errsize, "empty line");

        for (const char *p = line;;) {
                const char *end = strchrnul(p, ' ');

                r = parse_field(p, end, &e, seen, err, errsize);
                if (r < 0)
                        return r;
                if (*end == '\0')
                        break;
                p = end + 1;
        }
        for (unsigned k = 0; k < K_CGROUP; k++)
                if (!seen[k])
                        return parse_fail(err, errsize, "missing key '%s'", key_names[k]);
        if (registry_entry_validate(&e, &what) < 0)
                return parse_fail(err, errsize, "invalid or misplaced '%s' for how=%s", what,
                                  how_names[e.how]);

        *ret = e;
        return 0;
}

/* ---- the table ---- */

int registry_default_dir(char *buf, size_t size) {
        const char *e;
        int n;

        /* XDG: a relative $XDG_STATE_HOME is invalid and must be ignored. */
        e = secure_getenv("XDG_STATE_HOME");
        if (e && e[0] == '/')
                n = snprintf(buf, size, "%s/mgd", e);
        else {
                e = secure_getenv("HOME");
                if (!e || e[0] != '/')
                        return -ENXIO;
                n = snprintf(buf, size, "%s/.local/state/mgd", e);
        }
        return n < 0 || (size_t) n >= size ? -ENAMETOOLONG : 0;
}

int registry_new(const char *state_dir, Registry **ret) {
        _cleanup_registry_ Registry *r = NULL;

        if (!state_dir || state_dir[0] != '/' || !ret)
                return -EINVAL;
        /* Room for "/registry.tmp" after it. */
        if (strlen(state_dir) + 1 + strlen(REGISTRY_TMP_FILE) >= PATH_MAX)
                return -ENAMETOOLONG;

        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->entries = calloc(REGISTRY_MAX, sizeof(RegistryEntry));
        if (!r->entries)
                return -ENOMEM;
        strcpy(r->dir, state_dir);

        *ret = TAKE_PTR(r);
        return 0;
}

Registry *registry_free(Registry *r) {
        if (!r)
                return NULL;
        free(r->entries);
        free(r);
        return NULL;
}

const char *registry_dir(const Registry *r) {
        return r->dir;
}

size_t registry_size(const Registry *r) {
        return r ? r->n : 0;
}

RegistryEntry *registry_entry(Registry *r, size_t i) {
        return r && i < r->n ? &r->entries[i] : NULL;
}

RegistryEntry *registry_find_pid(Registry *r, pid_t pid) {
        for (size_t i = 0; r && i < r->n; i++)
                if (r->entries[i].pid == pid)
                        return &r->entries[i];
        return NULL;
}

size_t registry_find_name(const Registry *r, const char *name, size_t *out, size_t max) {
        size_t n = 0;

        for (size_t i = 0; r && name && i < r->n; i++) {
                if (strcmp(r->entries[i].name, name) != 0)
                        continue;
                if (out && n < max)
                        out[n] = i;
                n++;
        }
        return n;
}

int registry_add(Registry *r, const RegistryEntry *e) {
        RegistryEntry *slot;
        int ret = 0;

        if (!r || registry_entry_validate(e, NULL) < 0)
                return -EINVAL;

        slot = registry_find_pid(r, e->pid);
        if (slot && slot->starttime == e->starttime)
                return -EEXIST;
        if (slot)
                ret = 1;                /* stale: that process is gone, the pid is someone else's */
        else if (r->n >= REGISTRY_MAX)
                return -ENOSPC;
        else
                slot = &r->entries[r->n++];

        *slot = *e;
        if (slot->since_realtime == 0)
                slot->since_realtime = now_clock(CLOCK_REALTIME) / USEC_PER_SEC;
        if (slot->since == 0)
                slot->since = now_clock(CLOCK_MONOTONIC);
        return ret;
}

static void registry_remove_at(Registry *r, size_t i) {
        if (i + 1 < r->n)
                r->entries[i] = r->entries[r->n - 1];
        r->n--;
}

int registry_remove(Registry *r, pid_t pid, uint64_t starttime) {
        for (size_t i = 0; r && i < r->n; i++)
                if (r->entries[i].pid == pid && r->entries[i].starttime == starttime) {
                        registry_remove_at(r, i);
                        return 0;
                }
        return -ENOENT;
}

size_t registry_to_held(const Registry *r, HeldProcess *out, size_t max) {
        size_t n = r ? MIN(r->n, max) : 0;

        for (size_t i = 0; i < n; i++) {
                const RegistryEntry *e = &r->entries[i];

                out[i] = (HeldProcess) {
                        .pid = e->pid,
                        .starttime = e->starttime,
                        .kind = e->how == REGISTRY_CHECKPOINT ? HELD_CHECKPOINTED : HELD_FROZEN,
                        .priority = e->priority,
                        .footprint_kb = e->footprint_kb,
                        .since = e->since,
                        .restore_failures = e->restore_failures,
                };
        }
        return n;
}

/* ---- persistence ---- */

#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)
#define REGISTRY_HEADER_LINE REGISTRY_HEADER " " STRINGIFY(REGISTRY_VERSION) "\n"

#define FNV64_OFFSET 0xcbf29ce484222325ULL
#define FNV64_PRIME 0x100000001b3ULL

/* Where serialized bytes go: hashed always, and buffered into fd when fd >= 0. */
typedef struct Sink {
        int fd;
        char *buf;
        size_t size, pos;
        uint64_t hash, len;
        int error;
} Sink;

static void sink_flush(Sink *s) {
        for (size_t done = 0; s->fd >= 0 && s->error == 0 && done < s->pos;) {
                ssize_t n = write(s->fd, s->buf + done, s->pos - done);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        s->error = n < 0 ? -errno : -EIO;
                        break;
                }
                done += (size_t) n;
        }
        s->pos = 0;
}

static void sink_put(Sink *s, const char *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                s->hash = (s->hash ^ (unsigned char) p[i]) * FNV64_PRIME;
        s->len += n;
        while (s->fd >= 0 && n > 0) {
                size_t k = MIN(n, s->size - s->pos);

                memcpy(s->buf + s->pos, p, k);
                s->pos += k;
                p += k;
                n -= k;
                if (s->pos == s->size)
                        sink_flush(s);
        }
}

static int registry_serialize(Registry *r, Sink *s) {
        sink_put(s, REGISTRY_HEADER_LINE, strlen(REGISTRY_HEADER_LINE));
        for (size_t i = 0; i < r->n; i++) {
                size_t len;
                int ret;

                ret = registry_entry_format(&r->entries[i], r->line, sizeof(r->line), &len);
                if (ret < 0)
                        return ret;
                sink_put(s, r->line, len);
        }
        sink_flush(s);
        return s->error;
}

/* tmp file, fsync, rename over the old one, fsync the directory: the file is always whole. */
static int registry_write(Registry *r, Sink *s) {
        int dfd = -1, fd, ret;

        fd = atomic_file_begin(r->dir, REGISTRY_TMP_FILE, 0600, &dfd);
        if (fd < 0)
                return fd;
        s->fd = fd;
        ret = registry_serialize(r, s);
        return atomic_file_end(dfd, fd, REGISTRY_TMP_FILE, REGISTRY_FILE, ret);
}

int registry_persist(Registry *r) {
        Sink probe = { .fd = -1, .hash = FNV64_OFFSET };
        Sink out = { .fd = -1, .buf = r->wbuf, .size = sizeof(r->wbuf), .hash = FNV64_OFFSET };
        int ret;

        if (r && r->memory_only)
                return 0;

        if (!r)
                return -EINVAL;
        ret = registry_serialize(r, &probe);
        if (ret < 0)
                return ret;
        if (r->persisted_valid && probe.hash == r->persisted_hash && probe.len == r->persisted_len)
                return 0;

        ret = registry_write(r, &out);
        if (ret < 0) {
                r->persisted_valid = false;
                return ret;
        }
        r->persisted_valid = true;
        r->persisted_hash = out.hash;
        r->persisted_len = out.len;
        return 1;
}

int registry_persist_ahead(Registry *r) {
        return registry_persist(r);
}

void registry_set_memory_only(Registry *r) {
        r->memory_only = true;
}

int registry_unlink(Registry *r) {
        _cleanup_close_ int dfd = -1;

        if (!r)
                return -EINVAL;
        if (r->memory_only)
                return 0;
        r->persisted_valid = false;
        dfd = open(r->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return errno == ENOENT ? 0 : -errno;
        (void) unlinkat(dfd, REGISTRY_TMP_FILE, 0);
        if (unlinkat(dfd, REGISTRY_FILE, 0) < 0)
                return errno == ENOENT ? 0 : -errno;
        return fsync(dfd) < 0 ? -errno : 0;
}

/* ---- loading ---- */

#define REGISTRY_FILE_MAX (sizeof(REGISTRY_HEADER_LINE) + (size_t) REGISTRY_MAX * (REGISTRY_LINE_MAX + 1))

static int read_registry_file(const char *dir, char **ret, size_t *ret_len) {
        char path[PATH_MAX];

        if (snprintf(path, sizeof path, "%s/%s", dir, REGISTRY_FILE) >= (int) sizeof path)
                return -ENAMETOOLONG;
        return statefile_read_alloc(path, REGISTRY_FILE_MAX, ret, ret_len);
}

static usec_t since_monotonic(uint64_t since_realtime) {
        usec_t now_rt = now_clock(CLOCK_REALTIME), now_mono = now_clock(CLOCK_MONOTONIC), age;

        if (since_realtime > now_rt / USEC_PER_SEC)
                return now_mono;        /* in the future: the clock was set back, count from now */
        age = now_rt - since_realtime * USEC_PER_SEC;
        return age < now_mono ? now_mono - age : 0;
}

static void report(RegistryBadLineFn fn, void *userdata, unsigned line, const char *what) {
        if (fn)
                fn(line, what, userdata);
}

/* One entry line of len bytes (no '\n'): 0 kept, 1 rejected (reported), -ENOSPC table full. */
static int registry_load_line(Registry *r, const char *l, size_t len, unsigned lineno,
                              RegistryBadLineFn fn, void *userdata) {
        RegistryEntry e;
        char err[128];

        if (len > REGISTRY_LINE_MAX) {
                report(fn, userdata, lineno, "line too long");
                return 1;
        }
        if (memchr(l, '\0', len)) {
                report(fn, userdata, lineno, "NUL byte in line");
                return 1;
        }
        memcpy(r->line, l, len);
        r->line[len] = '\0';
        if (registry_entry_parse(r->line, &e, err, sizeof(err)) < 0) {
                report(fn, userdata, lineno, err);
                return 1;
        }
        if (registry_find_pid(r, e.pid)) {
                (void) snprintf(err, sizeof(err), "duplicate pid %d", (int) e.pid);
                report(fn, userdata, lineno, err);
                return 1;
        }
        if (r->n >= REGISTRY_MAX) {
                report(fn, userdata, lineno, "registry full: this line and the rest are ignored");
                return -ENOSPC;
        }
        e.since = since_monotonic(e.since_realtime);
        r->entries[r->n++] = e;
        return 0;
}

static int check_header(const char *text, size_t len, RegistryBadLineFn fn, void *userdata) {
        const char *nl = memchr(text, '\n', len);
        size_t hl = strlen(REGISTRY_HEADER " "), ll = nl ? (size_t) (nl - text) : len;
        char version[16];

        if (ll <= hl || memcmp(text, REGISTRY_HEADER " ", hl) != 0 || ll - hl >= sizeof(version)) {
                report(fn, userdata, 1, "not an mgd registry (the first line is not \"" REGISTRY_HEADER " "
                       STRINGIFY(REGISTRY_VERSION) "\")");
                return -EINVAL;
        }
        memcpy(version, text + hl, ll - hl);
        version[ll - hl] = '\0';
        if (strcmp(version, STRINGIFY(REGISTRY_VERSION)) != 0) {
                report(fn, userdata, 1, "unsupported registry version (this mgd reads version "
                       STRINGIFY(REGISTRY_VERSION) ")");
                return -EPROTONOSUPPORT;
        }
        if (!nl) {
                report(fn, userdata, 1, "incomplete header line (no newline)");
                return -EINVAL;
        }
        return 0;
}

int registry_load(Registry *r, RegistryBadLineFn bad_line, void *userdata) {
        _cleanup_free_ char *text = NULL;
        unsigned lineno = 1, bad = 0;
        size_t len = 0;
        const char *p, *end;
        int ret;

        if (!r)
                return -EINVAL;
        r->n = 0;
        r->persisted_valid = false;

        ret = read_registry_file(r->dir, &text, &len);
        if (ret == -ENOENT)
                return 0;
        if (ret < 0)
                return ret;
        ret = check_header(text, len, bad_line, userdata);
        if (ret < 0)
                return ret;

        end = text + len;
        for (p = (const char *) memchr(text, '\n', len) + 1; p < end;) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));

                lineno++;
                if (!nl) {
                        /* Writes are atomic, so this is damage: a cut name would still parse. */
                        report(bad_line, userdata, lineno, "incomplete last line (no newline)");
                        bad++;
                        break;
                }
                ret = registry_load_line(r, p, (size_t) (nl - p), lineno, bad_line, userdata);
                if (ret != 0)
                        bad++;
                if (ret < 0)
                        break;
                p = nl + 1;
        }

        if (bad == 0) {
                /* The file says exactly what the table holds: no rewrite until something changes. */
                Sink probe = { .fd = -1, .hash = FNV64_OFFSET };

                if (registry_serialize(r, &probe) >= 0 && probe.len == len) {
                        r->persisted_valid = true;
                        r->persisted_hash = probe.hash;
                        r->persisted_len = probe.len;
                }
        }
        return (int) bad;
}

const char *registry_load_strerror(int r) {
        switch (r) {
        case -EINVAL:
                return "empty, or its first line is not \"" REGISTRY_HEADER " " STRINGIFY(REGISTRY_VERSION) "\"";
        case -EPROTONOSUPPORT:
                return "another registry version (this mgd reads version " STRINGIFY(REGISTRY_VERSION) ")";
        default:
                return statefile_strerror(r);
        }
}

/* ---- thawing ---- */

static int registry_thaw_entry(const ProcRoots *roots, const RegistryEntry *e, const char **ret_what) {
        _cleanup_(pidref_done) PidRef ref = PIDREF_NULL;
        int r;

        r = pidref_pin(roots->proc, e->pid, e->starttime, &ref, ret_what);
        if (r < 0)
                return r;
        return pidref_thaw(roots, &ref, registry_how_freeze_method(e->how), e->cgroup, ret_what);
}

int registry_thaw_all(Registry *r, const ProcRoots *roots, RegistryThawFn fn, void *userdata) {
        int failed = 0;

        if (!r || !roots || !roots->proc)
                return -EINVAL;

        for (size_t i = 0; i < r->n;) {
                RegistryEntry *e = &r->entries[i];
                const char *what = NULL;
                int ret;

                if (e->how == REGISTRY_CHECKPOINT) {
                        i++;
                        continue;
                }
                ret = registry_thaw_entry(roots, e, &what);
                if (fn)
                        fn(e, ret, what, userdata);
                if (ret < 0 && ret != -ESRCH && ret != -ENOENT) {
                        failed++;       /* still frozen: keep it, so the next attempt retries */
                        e->thaw_failures++;
                        i++;
                        continue;
                }
                registry_remove_at(r, i);       /* moves the last entry to i: do not advance */
        }
        return failed;
}

int registry_thaw_leftovers(Registry *r, const ProcRoots *roots, RegistryThawFn fn, void *userdata) {
        int failed, ret;

        failed = registry_thaw_all(r, roots, fn, userdata);
        if (failed < 0)
                return failed;
        ret = registry_persist(r);
        return ret < 0 ? ret : failed;
}
