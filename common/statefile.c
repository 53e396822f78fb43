/* SPDX-License-Identifier: GPL-2.0-only */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/statefile.h"

/* O_NONBLOCK: a FIFO opens at once instead of waiting for a writer (and is then refused). */
#define STATEFILE_FLAGS (O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC)

static int statefile_check(int fd, uid_t owner, size_t max) {
        struct stat st;

        if (fstat(fd, &st) < 0)
                return -errno;
        if (S_ISDIR(st.st_mode))
                return -EISDIR;
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        if (st.st_uid != owner)
                return -EPERM;
        if ((uint64_t) st.st_size > max)
                return -EFBIG;
        return 0;
}

int statefile_open(const char *path, uid_t owner, size_t max) {
        _cleanup_close_ int fd = -1;
        int r;

        if (!path)
                return -EINVAL;
        fd = open(path, STATEFILE_FLAGS);
        if (fd < 0)
                return errno == ENXIO ? -EBADFD : -errno;      /* ENXIO: a socket */
        r = statefile_check(fd, owner, max);
        if (r < 0)
                return r;
        return TAKE_FD(fd);
}

/* Up to size - 1 bytes; -EFBIG if there is more (the file grew after the check). */
static int read_bounded(int fd, char *buf, size_t size, size_t *ret_len) {
        size_t len = 0;
        char extra;

        while (len < size - 1) {
                ssize_t n = read(fd, buf + len, size - 1 - len);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        if (len == size - 1 && read(fd, &extra, 1) > 0)
                return -EFBIG;
        buf[len] = '\0';
        *ret_len = len;
        return 0;
}

int statefile_read(const char *path, char *buf, size_t size, size_t *ret_len) {
        _cleanup_close_ int fd = -1;
        size_t len = 0;
        int r;

        if (!buf || size < 2)
                return -EINVAL;
        fd = statefile_open(path, geteuid(), size - 1);
        if (fd < 0)
                return fd;
        r = read_bounded(fd, buf, size, &len);
        if (r < 0)
                return r;
        if (memchr(buf, '\0', len))
                return -EINVAL;
        if (ret_len)
                *ret_len = len;
        return 0;
}

int statefile_read_alloc(const char *path, size_t max, char **ret, size_t *ret_len) {
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t len = 0;
        int r;

        if (!ret || max == 0 || max >= SIZE_MAX)
                return -EINVAL;
        fd = statefile_open(path, geteuid(), max);
        if (fd < 0)
                return fd;
        if (fstat(fd, &st) < 0)
                return -errno;
        /* One byte more than the file holds, so a file that grew is -EFBIG, not cut. */
        buf = malloc((size_t) st.st_size + 2);
        if (!buf)
                return -ENOMEM;
        r = read_bounded(fd, buf, (size_t) st.st_size + 2, &len);
        if (r < 0)
                return r;
        if (ret_len)
                *ret_len = len;
        *ret = TAKE_PTR(buf);
        return 0;
}

int statedir_check(const char *dir, uid_t uid, const char **reterr_what) {
        const char *what = "is fine";
        struct stat st;
        int r = 0;

        if (!dir || dir[0] != '/') {
                r = -EINVAL;
                what = "is not an absolute path";
        } else if (stat(dir, &st) < 0) {
                r = -errno;
                what = r == -ENOENT ? "does not exist" : "cannot be examined";
        } else if (!S_ISDIR(st.st_mode)) {
                r = -ENOTDIR;
                what = "is not a directory";
        } else if (st.st_uid != uid) {
                r = -EPERM;
                what = "is not owned by our uid";
        } else if (st.st_mode & 0077) {
                r = -EACCES;
                what = "is accessible to group or others (mode must be 0700)";
        }
        if (reterr_what)
                *reterr_what = what;
        return r;
}

const char *statefile_strerror(int r) {
        switch (r) {
        case -ELOOP:
                return "a symbolic link, not a regular file";
        case -EISDIR:
                return "a directory, not a regular file";
        case -EBADFD:
                return "a FIFO, socket or device, not a regular file";
        case -EPERM:
                return "owned by another user";
        case -EFBIG:
                return "too large for this kind of file";
        case -EINVAL:
                return "contains a NUL byte";
        default:
                return strerror(-r);
        }
}

/* rename(2) that never replaces: -EEXIST if to exists (as anything, a dangling link too). */
static int rename_noreplace(const char *from, const char *to) {
        struct stat st;

        if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) >= 0)
                return 0;
        if (errno != EINVAL && errno != ENOSYS)
                return -errno;
        /* a file system without RENAME_NOREPLACE: check, then rename (mgd's own directory) */
        if (lstat(to, &st) >= 0)
                return -EEXIST;
        return rename(from, to) < 0 ? -errno : 0;
}

int statefile_quarantine(const char *path, time_t now, char *ret, size_t size) {
        char aside[PATH_MAX];

        if (!path)
                return -EINVAL;
        for (unsigned i = 0; i < 100; i++) {
                int n = i == 0 ? snprintf(aside, sizeof aside, "%s.corrupt-%lld", path, (long long) now) :
                        snprintf(aside, sizeof aside, "%s.corrupt-%lld.%u", path, (long long) now, i);
                int r;

                if (n < 0 || (size_t) n >= sizeof aside)
                        return -ENAMETOOLONG;
                r = rename_noreplace(path, aside);
                if (r == -EEXIST)
                        continue;
                if (r < 0)
                        return r;
                if (ret && snprintf(ret, size, "%s", aside) >= (int) size)
                        return -ENAMETOOLONG;
                return 0;
        }
        return -EEXIST;
}
