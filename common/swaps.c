/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * /proc/swaps and zram's mm_stat. A swap device counts as zram only when its path is exactly
 * /dev/zramN: the daemon later writes to /sys/block/zramN, so a lookalike ("/tmp/dev/zram0",
 * "/dev/zram0x", "/dev/zram01") must never be turned into a sysfs path.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "common/macro.h"
#include "common/readers-internal.h"
#include "common/readers.h"

#define SWAPS_FILE_MAX 8192
#define MM_STAT_FILE_MAX 512

int zram_path_index(const char *path, unsigned *ret_index) {
        const char *digits;
        uint64_t v;
        int r;

        if (!path || strncmp(path, "/dev/zram", 9) != 0)
                return -EINVAL;
        digits = path + 9;
        /* "0" is zram0; "01" is a different (non-kernel) name. */
        if (digits[0] == '0' && digits[1] != '\0')
                return -EINVAL;
        r = safe_atou64(digits, &v);
        if (r < 0)
                return r;
        if (v > UINT_MAX)
                return -ERANGE;
        if (ret_index)
                *ret_index = (unsigned) v;
        return 0;
}

/* The kernel escapes ' ', '\t', '\n' and '\\' in the path as \ooo (seq_file_path()). */
static int swaps_unescape(const char *s, size_t len, char *out, size_t size) {
        size_t n = 0;

        for (size_t i = 0; i < len; i++) {
                char ch = s[i];

                if (ch == '\\') {
                        if (len - i < 4)
                                return -EINVAL;
                        for (size_t k = 1; k <= 3; k++)
                                if (s[i + k] < '0' || s[i + k] > '7')
                                        return -EINVAL;
                        ch = (char) ((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
                        if (ch == '\0')
                                return -EINVAL;
                        i += 3;
                }
                if (n + 1 >= size)
                        return -ENAMETOOLONG;
                out[n++] = ch;
        }
        out[n] = '\0';
        return 0;
}

static int swaps_header(const char **text) {
        static const char *const cols[] = { "Filename", "Type", "Size", "Used", "Priority" };
        Cursor c;
        int r;

        r = text_next_line(text, &c);
        if (r <= 0)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(cols); i++) {
                if (i > 0 && cursor_skip(&c, " \t") == 0)
                        return -EINVAL;
                if (!cursor_lit(&c, cols[i]))
                        return -EINVAL;
        }
        cursor_skip(&c, " \t");
        return cursor_eof(&c) ? 0 : -EINVAL;
}

/* The next whitespace-separated column; -EINVAL if the line ended early. */
static int swaps_column(Cursor *c, const char **ret, size_t *ret_len) {
        cursor_skip(c, " \t");
        return cursor_token(c, " \t", ret, ret_len);
}

static int swaps_number(Cursor *c, uint64_t *ret) {
        const char *s;
        size_t len;
        int r;

        r = swaps_column(c, &s, &len);
        if (r < 0)
                return r;
        return span_u64(s, len, ret);
}

static int swaps_line(Cursor *c, SwapDevice *ret) {
        SwapDevice d = {};
        const char *s;
        size_t len;
        int64_t prio;
        int r;

        r = swaps_column(c, &s, &len);
        if (r >= 0)
                r = swaps_unescape(s, len, d.path, sizeof d.path);
        if (r < 0)
                return r;
        r = swaps_column(c, &s, &len);
        if (r < 0)
                return r;
        if (!span_eq(s, len, "partition") && !span_eq(s, len, "file"))
                return -EINVAL;
        memcpy(d.type, s, len);
        r = swaps_number(c, &d.size_kb);
        if (r >= 0)
                r = swaps_number(c, &d.used_kb);
        if (r < 0)
                return r;
        cursor_skip(c, " \t");
        r = cursor_i64(c, &prio);
        if (r < 0)
                return r;
        if (prio < INT_MIN || prio > INT_MAX)
                return -ERANGE;
        d.priority = (int) prio;
        cursor_skip(c, " \t");
        if (!cursor_eof(c) || d.used_kb > d.size_kb)
                return -EINVAL;
        d.is_zram = zram_path_index(d.path, &d.zram_index) == 0;
        *ret = d;
        return 0;
}

int swaps_parse(const char *text, SwapDevice *devs, size_t max, size_t *ret_n) {
        size_t n = 0;
        Cursor c;
        int r;

        if (!text || (!devs && max > 0) || !ret_n)
                return -EINVAL;
        r = swaps_header(&text);
        if (r < 0)
                return r;
        while ((r = text_next_line(&text, &c)) > 0) {
                SwapDevice d;

                r = swaps_line(&c, &d);
                if (r < 0)
                        return r;
                if (n >= max)
                        return -E2BIG;
                devs[n++] = d;
        }
        if (r < 0)
                return r;
        *ret_n = n;
        return 0;
}

int swaps_read(const char *proc_root, SwapDevice *devs, size_t max, size_t *ret_n) {
        char path[PATH_MAX], buf[SWAPS_FILE_MAX];
        int n, r;

        if (!proc_root)
                return -EINVAL;
        n = snprintf(path, sizeof path, "%s/swaps", proc_root);
        if (n < 0 || (size_t) n >= sizeof path)
                return -ENAMETOOLONG;
        r = read_text_fileat(AT_FDCWD, path, buf, sizeof buf, NULL);
        if (r < 0)
                return r;
        return swaps_parse(buf, devs, max, ret_n);
}

/* ---- zram ---- */

int zram_mm_stat_parse(const char *text, ZramMmStat *ret) {
        uint64_t v[9] = {};
        ZramMmStat z;
        unsigned n = 0;
        Cursor c;
        int r;

        if (!text || !ret)
                return -EINVAL;
        r = text_next_line(&text, &c);
        if (r <= 0 || *text != '\0')
                return -EINVAL;
        for (;;) {
                cursor_skip(&c, " ");
                if (cursor_eof(&c))
                        break;
                if (n == ELEMENTSOF(v))
                        return -EINVAL;
                r = cursor_u64(&c, &v[n++]);
                if (r < 0)
                        return r;
                if (!cursor_eof(&c) && *c.p != ' ')
                        return -EINVAL;
        }
        if (n < 7)
                return -EINVAL;
        z = (ZramMmStat) {
                .orig_data_size = v[0], .compr_data_size = v[1], .mem_used_total = v[2],
                .mem_limit = v[3], .mem_used_max = v[4], .same_pages = v[5],
                .pages_compacted = v[6], .huge_pages = v[7], .huge_pages_since = v[8],
                .n_fields = n,
        };
        *ret = z;
        return 0;
}

int zram_mm_stat_read(const char *sys_root, unsigned index, ZramMmStat *ret) {
        char path[PATH_MAX], buf[MM_STAT_FILE_MAX];
        int n, r;

        if (!sys_root)
                return -EINVAL;
        n = snprintf(path, sizeof path, "%s/block/zram%u/mm_stat", sys_root, index);
        if (n < 0 || (size_t) n >= sizeof path)
                return -ENAMETOOLONG;
        r = read_text_fileat(AT_FDCWD, path, buf, sizeof buf, NULL);
        if (r < 0)
                return r;
        return zram_mm_stat_parse(buf, ret);
}
