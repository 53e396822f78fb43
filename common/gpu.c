/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * GPU memory a process holds in system RAM (integrated GPUs), from DRM fdinfo
 * (Documentation/gpu/drm-usage-stats.rst): every /proc/PID/fd/N that is a /dev/dri/ node has
 * /proc/PID/fdinfo/N with "drm-client-id:", "drm-resident-<region>:" and
 * "drm-shared-<region>:" lines. Several fds (dup(), fork) can name one DRM client; it is counted
 * once, by client id.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/readers-internal.h"
#include "common/readers.h"

#define FDINFO_FILE_MAX 8192
#define GPU_CLIENTS_MAX 256

typedef struct DrmClient {
        bool has_id;
        bool has_resident;
        uint64_t id;
        uint64_t resident_bytes;
        uint64_t shared_bytes;
} DrmClient;

/* "N", "N B", "N KiB", "N MiB", "N GiB" after the key's ':' and whitespace -> bytes. */
static int drm_size(Cursor *c, uint64_t *ret) {
        static const struct {
                const char *unit;
                unsigned shift;
        } units[] = { { " KiB", 10 }, { " MiB", 20 }, { " GiB", 30 }, { " B", 0 } };
        unsigned shift = 0;
        uint64_t v;
        int r;

        cursor_skip(c, " \t");
        r = cursor_u64(c, &v);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (cursor_lit(c, units[i].unit)) {
                        shift = units[i].shift;
                        break;
                }
        if (!cursor_eof(c))
                return -EINVAL;
        if (shift > 0 && v > (UINT64_MAX >> shift))
                return -ERANGE;
        *ret = v << shift;
        return 0;
}

static int add_bytes(uint64_t *sum, uint64_t v) {
        return __builtin_add_overflow(*sum, v, sum) ? -ERANGE : 0;
}

static int fdinfo_client_id(Cursor *c, DrmClient *cl) {
        int r;

        if (cl->has_id)
                return -EINVAL;
        cursor_skip(c, " \t");
        r = cursor_u64(c, &cl->id);
        if (r < 0)
                return r;
        cl->has_id = true;
        return cursor_eof(c) ? 0 : -EINVAL;
}

/* "drm-resident-<region>:" or "drm-shared-<region>:" with the prefix consumed. */
static int fdinfo_region(Cursor *c, bool resident, DrmClient *cl) {
        const char *region;
        size_t len;
        uint64_t v;
        int r;

        r = cursor_token(c, ":", &region, &len);
        if (r < 0 || !cursor_lit(c, ":"))
                return -EINVAL;
        r = drm_size(c, &v);
        if (r < 0)
                return r;
        if (resident)
                cl->has_resident = true;
        return add_bytes(resident ? &cl->resident_bytes : &cl->shared_bytes, v);
}

static int fdinfo_line(Cursor *c, DrmClient *cl) {
        if (cursor_lit(c, "drm-client-id:"))
                return fdinfo_client_id(c, cl);
        if (cursor_lit(c, "drm-resident-"))
                return fdinfo_region(c, true, cl);
        if (cursor_lit(c, "drm-shared-"))
                return fdinfo_region(c, false, cl);
        /* Everything else (pos, flags, drm-engine-*, ...) is "key:\tvalue" and not ours. */
        return memchr(c->p, ':', (size_t) (c->end - c->p)) ? 0 : -EINVAL;
}

static int drm_fdinfo_parse(const char *text, DrmClient *ret) {
        DrmClient cl = {};
        Cursor c;
        int r;

        while ((r = text_next_line(&text, &c)) > 0) {
                r = fdinfo_line(&c, &cl);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        *ret = cl;
        return 0;
}

/* Is fd/NAME a DRM node? Only the prefix of the link matters. */
static int fd_is_drm(int fd_dir, const char *name) {
        char target[16];
        ssize_t n;

        n = readlinkat(fd_dir, name, target, sizeof target);
        if (n < 0)
                return -errno;
        return (size_t) n >= 9 && memcmp(target, "/dev/dri/", 9) == 0;
}

typedef struct GpuSum {
        uint64_t ids[GPU_CLIENTS_MAX];
        size_t n_ids;
        uint64_t bytes;
} GpuSum;

static int gpu_sum_add(GpuSum *s, const DrmClient *cl) {
        if (!cl->has_resident)
                return 0;
        if (cl->has_id) {
                for (size_t i = 0; i < s->n_ids; i++)
                        if (s->ids[i] == cl->id)
                                return 0;
                if (s->n_ids >= GPU_CLIENTS_MAX)
                        return -E2BIG;
                s->ids[s->n_ids++] = cl->id;
        }
        if (cl->resident_bytes <= cl->shared_bytes)
                return 0;
        return add_bytes(&s->bytes, cl->resident_bytes - cl->shared_bytes);
}

/* One fd: skipped if it is not DRM or was closed while we looked (ENOENT). */
static int gpu_one_fd(int dirfd, int fd_dir, const char *name, GpuSum *s) {
        char path[64], buf[FDINFO_FILE_MAX];
        DrmClient cl;
        int r;

        r = fd_is_drm(fd_dir, name);
        if (r <= 0)
                return r == -ENOENT ? 0 : r;
        if ((size_t) snprintf(path, sizeof path, "fdinfo/%s", name) >= sizeof path)
                return -ENAMETOOLONG;
        r = read_text_fileat(dirfd, path, buf, sizeof buf, NULL);
        if (r == -ENOENT)
                return 0;
        if (r >= 0)
                r = drm_fdinfo_parse(buf, &cl);
        if (r >= 0)
                r = gpu_sum_add(s, &cl);
        return r;
}

int proc_gpu_resident_kb_at(int dirfd, uint64_t *ret_kb) {
        _cleanup_close_ int fd_dir = -1;
        _cleanup_free_ GpuSum *s = NULL;
        char dents[4096] __attribute__((aligned(8)));
        ssize_t n;
        int r;

        if (!ret_kb)
                return -EINVAL;
        fd_dir = openat(dirfd, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd_dir < 0)
                return -errno;
        s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        while ((n = getdents64(fd_dir, dents, sizeof dents)) > 0)
                for (ssize_t off = 0; off < n;) {
                        struct dirent64 *de = (struct dirent64 *) (dents + off);
                        uint64_t ignored;

                        off += de->d_reclen;
                        if (safe_atou64(de->d_name, &ignored) < 0)
                                continue;
                        r = gpu_one_fd(dirfd, fd_dir, de->d_name, s);
                        if (r < 0)
                                return r;
                }
        if (n < 0)
                return -errno;
        *ret_kb = s->bytes / 1024;
        return 0;
}

int proc_gpu_resident_kb(const char *proc_root, pid_t pid, uint64_t *ret_kb) {
        _cleanup_close_ int dfd = proc_pid_dir_open(proc_root, pid);

        if (dfd < 0)
                return dfd;
        return proc_gpu_resident_kb_at(dfd, ret_kb);
}
