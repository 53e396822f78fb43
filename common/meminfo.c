/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * /proc/meminfo: "Key:   N kB" (a few keys, e.g. HugePages_Total, have no unit). Every line
 * must have that shape, the keys we use must appear at most once, and the five the daemon
 * cannot work without must be there.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>

#include "common/macro.h"
#include "common/readers-internal.h"
#include "common/readers.h"

#define MEMINFO_FILE_MAX 8192

static const struct {
        const char *key;
        size_t offset;
        bool required;
} meminfo_keys[] = {
        { "MemTotal",      offsetof(MemInfo, mem_total_kb),     true  },
        { "MemFree",       offsetof(MemInfo, mem_free_kb),      true  },
        { "MemAvailable",  offsetof(MemInfo, mem_available_kb), true  },
        { "Buffers",       offsetof(MemInfo, buffers_kb),       false },
        { "Cached",        offsetof(MemInfo, cached_kb),        false },
        { "SwapCached",    offsetof(MemInfo, swap_cached_kb),   false },
        { "Active(file)",  offsetof(MemInfo, active_file_kb),   false },
        { "Inactive(file)",offsetof(MemInfo, inactive_file_kb), false },
        { "AnonPages",     offsetof(MemInfo, anon_pages_kb),    false },
        { "Shmem",         offsetof(MemInfo, shmem_kb),         false },
        { "SwapTotal",     offsetof(MemInfo, swap_total_kb),    true  },
        { "SwapFree",      offsetof(MemInfo, swap_free_kb),     true  },
};

/* "Key:<spaces>N[ kB]" -> key span, value, whether it carried " kB". */
static int meminfo_line(Cursor *c, const char **ret_key, size_t *ret_key_len, uint64_t *ret,
                        bool *ret_kb) {
        int r;

        r = cursor_token(c, ": \t", ret_key, ret_key_len);
        if (r < 0)
                return r;
        if (!cursor_lit(c, ":") || cursor_skip(c, " \t") == 0)
                return -EINVAL;
        r = cursor_u64(c, ret);
        if (r < 0)
                return r;
        *ret_kb = cursor_lit(c, " kB");
        return cursor_eof(c) ? 0 : -EINVAL;
}

int meminfo_parse(const char *text, MemInfo *ret) {
        MemInfo m = {};
        unsigned seen = 0;
        Cursor c;
        int r;

        if (!text || !ret)
                return -EINVAL;
        while ((r = text_next_line(&text, &c)) > 0) {
                const char *key;
                size_t len;
                uint64_t v;
                bool kb;

                r = meminfo_line(&c, &key, &len, &v, &kb);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < ELEMENTSOF(meminfo_keys); i++) {
                        if (!span_eq(key, len, meminfo_keys[i].key))
                                continue;
                        /* Every key we read is in kB; a duplicate would make the value ambiguous. */
                        if (!kb || (seen & (1u << i)))
                                return -EINVAL;
                        seen |= 1u << i;
                        *(uint64_t *) ((char *) &m + meminfo_keys[i].offset) = v;
                }
        }
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(meminfo_keys); i++)
                if (meminfo_keys[i].required && !(seen & (1u << i)))
                        return -EINVAL;
        *ret = m;
        return 0;
}

int meminfo_read(const char *proc_root, MemInfo *ret) {
        char path[PATH_MAX], buf[MEMINFO_FILE_MAX];
        int n, r;

        if (!proc_root)
                return -EINVAL;
        n = snprintf(path, sizeof path, "%s/meminfo", proc_root);
        if (n < 0 || (size_t) n >= sizeof path)
                return -ENAMETOOLONG;
        r = read_text_fileat(AT_FDCWD, path, buf, sizeof buf, NULL);
        if (r < 0)
                return r;
        return meminfo_parse(buf, ret);
}
