/* SPDX-License-Identifier: GPL-2.0-only */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/macro.h"

#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

int dir_open_checked(int dfd, const char *name, uid_t owner, mode_t mode) {
        _cleanup_close_ int fd = openat(dfd, name, DIR_FLAGS);
        struct stat st;

        if (fd < 0 || fstat(fd, &st) < 0)
                return -errno;
        if (st.st_uid != owner || (mode != 0 && (st.st_mode & 07777) != mode))
                return -EPERM;
        return TAKE_FD(fd);
}

int dir_chain_open(const char *top, const char *const *names, size_t n, uid_t owner, bool create) {
        _cleanup_close_ int fd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0)
                return -errno;
        for (size_t i = 0; i < n; i++) {
                if (create && mkdirat(fd, names[i], 0700) < 0 && errno != EEXIST)
                        return -errno;
                int next = dir_open_checked(fd, names[i], owner, 0);
                if (next < 0)
                        return next;
                (void) close(fd);
                fd = next;
        }
        return TAKE_FD(fd);
}

int dir_remove_flat(int dfd, const char *name) {
        struct dirent *de;
        DIR *d;
        int fd;

        fd = openat(dfd, name, DIR_FLAGS);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                (void) close(fd);
                return -ENOMEM;
        }
        while ((de = readdir(d)))
                if (de->d_type != DT_DIR)
                        (void) unlinkat(dirfd(d), de->d_name, 0);
        (void) closedir(d);
        return RET_NERRNO(unlinkat(dfd, name, AT_REMOVEDIR));
}

int file_create_at(int dfd, const char *name, const void *buf, size_t len, mode_t mode) {
        _cleanup_close_ int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        ssize_t n;

        if (fd < 0)
                return -errno;
        n = write(fd, buf, len);
        if (n < 0)
                return -errno;
        return (size_t) n == len ? 0 : -EIO;
}
