/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Whole-file reads into caller buffers: no stdio, no allocation. A file that does not fit is
 * -EFBIG rather than a silently cut copy, because a cut /proc file still parses as a shorter,
 * wrong one.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/readers-internal.h"
#include "common/readers.h"

static ssize_t read_retry(int fd, void *buf, size_t n) {
        ssize_t k;

        do
                k = read(fd, buf, n);
        while (k < 0 && errno == EINTR);
        return k < 0 ? -errno : k;
}

/* Reads until EOF: multi-record seq files (vmstat, swaps) hand out at most a page per read(). */
static int read_all(int fd, char *buf, size_t size, size_t *ret_len) {
        size_t len = 0;
        ssize_t k;
        char extra;

        for (;;) {
                if (len == size - 1) {
                        k = read_retry(fd, &extra, 1);
                        if (k < 0)
                                return (int) k;
                        if (k > 0)
                                return -EFBIG;
                        break;
                }
                k = read_retry(fd, buf + len, size - 1 - len);
                if (k < 0)
                        return (int) k;
                if (k == 0)
                        break;
                len += (size_t) k;
        }
        buf[len] = '\0';
        if (ret_len)
                *ret_len = len;
        return 0;
}

int read_small_fileat(int dirfd, const char *path, char *buf, size_t size, size_t *ret_len) {
        _cleanup_close_ int fd = -1;

        if (!path || !buf || size < 2)
                return -EINVAL;
        fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        return read_all(fd, buf, size, ret_len);
}

int read_small_file(const char *path, char *buf, size_t size, size_t *ret_len) {
        return read_small_fileat(AT_FDCWD, path, buf, size, ret_len);
}

int read_text_fileat(int dirfd, const char *path, char *buf, size_t size, size_t *ret_len) {
        size_t len;
        int r;

        r = read_small_fileat(dirfd, path, buf, size, &len);
        if (r < 0)
                return r;
        if (memchr(buf, '\0', len))
                return -EINVAL;
        if (ret_len)
                *ret_len = len;
        return 0;
}

int read_proc_fd(int fd, char *buf, size_t size, size_t *ret_len) {
        ssize_t k;
        char extra;

        if (size < 2)
                return -EINVAL;
        k = pread(fd, buf, size - 1, 0);
        if (k < 0)
                return -errno;
        if ((size_t) k == size - 1) {
                ssize_t more = pread(fd, &extra, 1, k);

                if (more < 0)
                        return -errno;
                if (more > 0)
                        return -EFBIG;
        }
        buf[k] = '\0';
        if (memchr(buf, '\0', (size_t) k))
                return -EINVAL;
        if (ret_len)
                *ret_len = (size_t) k;
        return 0;
}

int proc_pid_dir_open(const char *proc_root, pid_t pid) {
        char path[PATH_MAX];
        int fd, n;

        if (!proc_root || pid <= 0)
                return -EINVAL;
        n = snprintf(path, sizeof path, "%s/%d", proc_root, (int) pid);
        if (n < 0 || (size_t) n >= sizeof path)
                return -ENAMETOOLONG;
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

int mkdir_p(const char *path, mode_t mode) {
        char buf[PATH_MAX];

        if (strlen(path) >= sizeof(buf))
                return -ENAMETOOLONG;
        strcpy(buf, path);
        for (char *p = buf + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = '\0';
                if (mkdir(buf, mode) < 0 && errno != EEXIST)
                        return -errno;
                *p = '/';
        }
        return mkdir(buf, mode) < 0 && errno != EEXIST ? -errno : 0;
}

static int write_all(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, p, n);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return k < 0 ? -errno : -EIO;
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

int atomic_file_begin(const char *dir, const char *tmp, mode_t mode, int *ret_dfd) {
        _cleanup_close_ int dfd = -1;
        int fd, r;

        r = mkdir_p(dir, 0700);
        if (r < 0)
                return r;
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        /*
         * A stale tmp (a crash between create and rename) is removed and the new one made with
         * O_EXCL: opening an existing name with O_TRUNC would write through a hard link planted
         * there to any file, root's included.
         */
        if (unlinkat(dfd, tmp, 0) < 0 && errno != ENOENT)
                return -errno;
        fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        if (fd < 0)
                return -errno;
        /* the mode asked for, whatever the umask took away */
        if (fchmod(fd, mode) < 0) {
                r = -errno;
                (void) close(fd);
                (void) unlinkat(dfd, tmp, 0);
                return r;
        }
        *ret_dfd = TAKE_FD(dfd);
        return fd;
}

int atomic_file_end(int dfd, int fd, const char *tmp, const char *name, int r) {
        _cleanup_close_ int d = dfd, f = fd;

        if (r >= 0 && fsync(f) < 0)
                r = -errno;
        if (r >= 0 && close(TAKE_FD(f)) < 0)
                r = -errno;
        if (r >= 0 && renameat(d, tmp, d, name) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlinkat(d, tmp, 0);
                return r;
        }
        return fsync(d) < 0 ? -errno : 0;
}

int write_file_atomic(const char *dir, const char *name, const void *data, size_t len, mode_t mode) {
        char tmp[NAME_MAX + 1];
        int dfd = -1, fd;

        if (!dir || !name || !*name || strchr(name, '/'))
                return -EINVAL;
        if (snprintf(tmp, sizeof tmp, "%s.tmp", name) >= (int) sizeof tmp)
                return -ENAMETOOLONG;
        fd = atomic_file_begin(dir, tmp, mode, &dfd);
        if (fd < 0)
                return fd;
        return atomic_file_end(dfd, fd, tmp, name, write_all(fd, data, len));
}
