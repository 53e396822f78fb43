/* SPDX-License-Identifier: GPL-2.0-only */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/memcg.h"
#include "common/privsep.h"
#include "common/readers.h"

#define MEMCG_MARGIN_MIN (UINT64_C(16) << 20)
#define MEMCG_UNLIMITED (UINT64_C(1) << 62)
#define MEMCG_NODES_MAX 8192

static int read_u64_at(int dfd, const char *name, uint64_t *ret) {
        char buf[64];
        size_t len;
        int r;

        r = read_small_fileat(dfd, name, buf, sizeof(buf), &len);
        if (r < 0)
                return r;
        if (len > 0 && buf[len - 1] == '\n')
                buf[len - 1] = '\0';
        if (strcmp(buf, "max") == 0) {
                *ret = UINT64_MAX;
                return 0;
        }
        return safe_atou64(buf, ret);
}

/* v1 memory.stat "total_swap N" (hierarchical); -ENODATA without swap accounting. */
static int memcg_v1_swap(int dfd, uint64_t *ret) {
        char buf[8192], *save = NULL;
        int r;

        r = read_small_fileat(dfd, "memory.stat", buf, sizeof(buf), NULL);
        if (r < 0)
                return r;
        for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
                if (strncmp(l, "total_swap ", 11) == 0)
                        return safe_atou64(l + 11, ret);
        return -ENODATA;
}

/* One memcg: would swapping `fallback` bytes back in push it over its limit? */
static int memcg_check(int dfd, bool v2, uint64_t fallback, const char *where) {
        uint64_t limit, usage, swap;
        int r;

        r = read_u64_at(dfd, v2 ? "memory.max" : "memory.limit_in_bytes", &limit);
        if (r == -ENOENT)
                return 0;               /* v2 root, or no memory controller here */
        if (r < 0)
                return r;
        if (limit >= MEMCG_UNLIMITED)
                return 0;
        r = read_u64_at(dfd, v2 ? "memory.current" : "memory.usage_in_bytes", &usage);
        if (r < 0)
                return r;
        r = v2 ? read_u64_at(dfd, "memory.swap.current", &swap) : memcg_v1_swap(dfd, &swap);
        if (r < 0)
                swap = fallback;        /* unknown: assume the worst */
        if (usage + swap + MAX(MEMCG_MARGIN_MIN, limit / 16) > limit)
                return privsep_log(LOG_WARNING, EDQUOT, "Memory cgroup %s: usage %" PRIu64 " + swap %"
                                   PRIu64 " too close to its limit %" PRIu64 ", not cycling swap",
                                   where, usage, swap, limit);
        return 0;
}

static int memcg_walk(unsigned *nodes, int dfd, const char *where, bool v2, uint64_t fallback,
                      unsigned depth) {
        struct dirent *de;
        DIR *d;
        int r, dup_fd;

        r = memcg_check(dfd, v2, fallback, where);
        if (r < 0)
                return r;
        if (++*nodes > MEMCG_NODES_MAX)
                return privsep_log(LOG_WARNING, E2BIG, "More than %d memory cgroups to check", MEMCG_NODES_MAX);
        dup_fd = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
        if (dup_fd < 0)
                return -errno;
        d = fdopendir(dup_fd);
        if (!d) {
                (void) close(dup_fd);
                return -errno;
        }
        while (r >= 0 && (de = readdir(d))) {
                char sub[PATH_MAX];

                if (de->d_type != DT_DIR || strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                if (depth + 1 >= MEMCG_DEPTH_MAX) {
                        r = privsep_log(LOG_WARNING, E2BIG, "Memory cgroups nest deeper than %d under %s",
                                        MEMCG_DEPTH_MAX, where);
                        break;
                }
                _cleanup_close_ int cfd = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (cfd < 0)
                        continue;       /* removed meanwhile */
                if ((size_t) snprintf(sub, sizeof(sub), "%s/%s", where, de->d_name) >= sizeof(sub)) {
                        r = -ENAMETOOLONG;
                        break;
                }
                r = memcg_walk(nodes, cfd, sub, v2, fallback, depth + 1);
        }
        (void) closedir(d);
        return r;
}

int memcg_headroom_check(const char *sys_root, uint64_t fallback) {
        static const struct { const char *dir, *marker; bool v2; } roots[] = {
                { "/fs/cgroup/memory", "memory.limit_in_bytes", false },
                { "/fs/cgroup", "memory.stat", true },          /* unified, memory enabled */
                { "/fs/cgroup/unified", "memory.stat", true },  /* hybrid, rarely with memory */
        };
        char path[PATH_MAX];
        unsigned nodes = 0;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(roots); i++) {
                if ((size_t) snprintf(path, sizeof(path), "%s%s", sys_root, roots[i].dir) >= sizeof(path))
                        return -ENAMETOOLONG;
                _cleanup_close_ int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (dfd < 0 || faccessat(dfd, roots[i].marker, F_OK, 0) < 0)
                        continue;
                r = memcg_walk(&nodes, dfd, path, roots[i].v2, fallback, 0);
                if (r < 0)
                        return r;
        }
        return 0;
}
