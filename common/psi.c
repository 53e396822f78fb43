/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Pressure stall information: "some avg10=X avg60=X avg300=X total=N" and the same for "full".
 * The same format serves /proc/pressure/{memory,cpu,io} and a cgroup's memory.pressure. "full" is missing from
 * the system cpu file before 5.13; anything else out of shape is rejected.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "common/macro.h"
#include "common/readers-internal.h"
#include "common/readers.h"

#define PSI_FILE_MAX 512

/* One "key=value" field of a PSI line, preceded by a single space. */
static int psi_avg(Cursor *c, const char *key, double *ret) {
        double v;
        int r;

        if (!cursor_lit(c, " ") || !cursor_lit(c, key) || !cursor_lit(c, "="))
                return -EINVAL;
        r = cursor_double(c, &v);
        if (r < 0)
                return r;
        /* The kernel prints a percentage of wall time: above 100 is not a stall, it is garbage. */
        if (v > 100.0)
                return -ERANGE;
        *ret = v;
        return 0;
}

static int psi_parse_fields(Cursor *c, PsiLine *ret) {
        PsiLine l;
        int r;

        r = psi_avg(c, "avg10", &l.avg10);
        if (r >= 0)
                r = psi_avg(c, "avg60", &l.avg60);
        if (r >= 0)
                r = psi_avg(c, "avg300", &l.avg300);
        if (r < 0)
                return r;
        if (!cursor_lit(c, " total="))
                return -EINVAL;
        r = cursor_u64(c, &l.total_usec);
        if (r < 0)
                return r;
        if (!cursor_eof(c))
                return -EINVAL;
        *ret = l;
        return 0;
}

int psi_parse(const char *text, PsiStats *ret) {
        PsiStats s = {};
        bool has_some = false;
        Cursor c;
        int r;

        if (!text || !ret)
                return -EINVAL;
        while ((r = text_next_line(&text, &c)) > 0) {
                if (cursor_lit(&c, "some")) {
                        /* "some" comes first, once. */
                        if (has_some || s.has_full)
                                return -EINVAL;
                        r = psi_parse_fields(&c, &s.some);
                        has_some = true;
                } else if (cursor_lit(&c, "full")) {
                        if (!has_some || s.has_full)
                                return -EINVAL;
                        r = psi_parse_fields(&c, &s.full);
                        s.has_full = true;
                } else
                        r = -EINVAL;
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        if (!has_some)
                return -EINVAL;
        *ret = s;
        return 0;
}

int psi_read(const char *path, PsiStats *ret) {
        char buf[PSI_FILE_MAX];
        int r;

        r = read_text_fileat(AT_FDCWD, path, buf, sizeof buf, NULL);
        if (r < 0)
                return r;
        return psi_parse(buf, ret);
}

int psi_read_system(const char *proc_root, const char *resource, PsiStats *ret) {
        char path[PATH_MAX];
        int n;

        if (!proc_root || !resource || !*resource || strchr(resource, '/'))
                return -EINVAL;
        n = snprintf(path, sizeof path, "%s/pressure/%s", proc_root, resource);
        if (n < 0 || (size_t) n >= sizeof path)
                return -ENAMETOOLONG;
        return psi_read(path, ret);
}
