/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * /proc/vmstat: "key value" lines. Only pswpin/pswpout are required; the refault counters were
 * split into _anon/_file in 5.9 (before that one "workingset_refault", kept in _file). Lines we
 * do not use must still have the "key number" shape; their numbers are not interpreted.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>

#include "common/macro.h"
#include "common/readers-internal.h"
#include "common/readers.h"

#define VMSTAT_FILE_MAX 32768

enum {
        VM_PSWPIN,
        VM_PSWPOUT,
        VM_PGMAJFAULT,
        VM_REFAULT_ANON,
        VM_REFAULT_FILE,
        VM_REFAULT_OLD,
        VM_PGSCAN_KSWAPD,
        VM_PGSCAN_DIRECT,
        VM_PGSCAN_KHUGEPAGED,
        VM_PGSTEAL_KSWAPD,
        VM_PGSTEAL_DIRECT,
        VM_PGSTEAL_KHUGEPAGED,
        _VM_MAX,
};

static const char *const vmstat_keys[_VM_MAX] = {
        [VM_PSWPIN] = "pswpin",
        [VM_PSWPOUT] = "pswpout",
        [VM_PGMAJFAULT] = "pgmajfault",
        [VM_REFAULT_ANON] = "workingset_refault_anon",
        [VM_REFAULT_FILE] = "workingset_refault_file",
        [VM_REFAULT_OLD] = "workingset_refault",
        [VM_PGSCAN_KSWAPD] = "pgscan_kswapd",
        [VM_PGSCAN_DIRECT] = "pgscan_direct",
        [VM_PGSCAN_KHUGEPAGED] = "pgscan_khugepaged",
        [VM_PGSTEAL_KSWAPD] = "pgsteal_kswapd",
        [VM_PGSTEAL_DIRECT] = "pgsteal_direct",
        [VM_PGSTEAL_KHUGEPAGED] = "pgsteal_khugepaged",
};

static int add_u64(uint64_t a, uint64_t b, uint64_t *ret) {
        if (__builtin_add_overflow(a, b, ret))
                return -ERANGE;
        return 0;
}

/* Sum three counters into *ret, -ERANGE if they overflow together. */
static int sum3(const uint64_t v[], int a, int b, int c, uint64_t *ret) {
        uint64_t s;
        int r;

        r = add_u64(v[a], v[b], &s);
        if (r >= 0)
                r = add_u64(s, v[c], &s);
        if (r >= 0)
                *ret = s;
        return r;
}

static int vmstat_collect(const char *text, uint64_t v[_VM_MAX], unsigned *ret_seen) {
        unsigned seen = 0;
        Cursor c;
        int r;

        while ((r = text_next_line(&text, &c)) > 0) {
                const char *key;
                size_t len;
                int64_t ignored;
                int i;

                r = cursor_token(&c, " ", &key, &len);
                if (r < 0 || !cursor_lit(&c, " "))
                        return -EINVAL;
                for (i = 0; i < _VM_MAX && !span_eq(key, len, vmstat_keys[i]); i++)
                        ;
                if (i == _VM_MAX) {
                        /* Not ours: shape only (counters we do not read may be signed). */
                        r = cursor_i64(&c, &ignored);
                        if (r == -ERANGE)
                                r = cursor_u64(&c, (uint64_t *) &ignored);
                } else if (seen & (1u << i))
                        r = -EINVAL;
                else {
                        r = cursor_u64(&c, &v[i]);
                        seen |= 1u << i;
                }
                if (r < 0)
                        return r;
                if (!cursor_eof(&c))
                        return -EINVAL;
        }
        *ret_seen = seen;
        return r;
}

int vmstat_parse(const char *text, VmStat *ret) {
        uint64_t v[_VM_MAX] = {};
        unsigned seen = 0;
        VmStat s = {};
        int r;

        if (!text || !ret)
                return -EINVAL;
        r = vmstat_collect(text, v, &seen);
        if (r < 0)
                return r;
        if (!(seen & (1u << VM_PSWPIN)) || !(seen & (1u << VM_PSWPOUT)))
                return -EINVAL;
        /* Old and new refault counters never coexist: a file with both is not a real one. */
        if ((seen & (1u << VM_REFAULT_OLD)) &&
            (seen & ((1u << VM_REFAULT_ANON) | (1u << VM_REFAULT_FILE))))
                return -EINVAL;
        s.pswpin = v[VM_PSWPIN];
        s.pswpout = v[VM_PSWPOUT];
        s.pgmajfault = v[VM_PGMAJFAULT];
        s.workingset_refault_anon = v[VM_REFAULT_ANON];
        s.workingset_refault_file = v[VM_REFAULT_FILE] + v[VM_REFAULT_OLD];
        r = sum3(v, VM_PGSCAN_KSWAPD, VM_PGSCAN_DIRECT, VM_PGSCAN_KHUGEPAGED, &s.pgscan);
        if (r >= 0)
                r = sum3(v, VM_PGSTEAL_KSWAPD, VM_PGSTEAL_DIRECT, VM_PGSTEAL_KHUGEPAGED, &s.pgsteal);
        if (r < 0)
                return r;
        *ret = s;
        return 0;
}

int vmstat_read(const char *proc_root, VmStat *ret) {
        char path[PATH_MAX];
        _cleanup_free_ char *buf = NULL;
        int n, r;

        if (!proc_root)
                return -EINVAL;
        n = snprintf(path, sizeof path, "%s/vmstat", proc_root);
        if (n < 0 || (size_t) n >= sizeof path)
                return -ENAMETOOLONG;
        /* ~200 lines on 6.x and growing: too big for the stack of a helper thread. */
        buf = malloc(VMSTAT_FILE_MAX);
        if (!buf)
                return -ENOMEM;
        r = read_text_fileat(AT_FDCWD, path, buf, VMSTAT_FILE_MAX, NULL);
        if (r < 0)
                return r;
        return vmstat_parse(buf, ret);
}
