/* SPDX-License-Identifier: GPL-2.0-only */
#pragma once

/*
 * mgd's state files (the registry, the cgroup originals, the pressure history, mgctl's
 * calibration) are read through here. The state directory belongs to the user, so a file in it
 * may be anything a crash, a full disk or a careless or hostile process left: empty, cut, of
 * another version, a directory, a FIFO (whose open() would block forever), a symbolic link, a
 * file of another user or a huge one. Each is opened O_NONBLOCK|O_NOFOLLOW and must be a regular
 * file owned by the caller's euid, of a bounded size; anything else is refused with an errno
 * that statefile_strerror() turns into a reason. A file refused as damaged is moved aside
 * (statefile_quarantine()) so that mgd always starts, and kept for a look.
 */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

/*
 * Open path for reading: the fd (O_CLOEXEC), or -ENOENT (no file), -ELOOP (a symbolic link),
 * -EISDIR (a directory), -EBADFD (a FIFO, socket or device), -EPERM (owned by someone other than
 * owner), -EFBIG (more than max bytes), other -errno of open()/fstat().
 */
int statefile_open(const char *path, uid_t owner, size_t max);

/*
 * The whole file (checked as statefile_open(), owner geteuid(), at most size - 1 bytes) into buf,
 * NUL-terminated; *ret_len (optional) excludes the NUL. -EINVAL for a NUL byte in it.
 */
int statefile_read(const char *path, char *buf, size_t size, size_t *ret_len);
/*
 * As statefile_read() into a buffer of its own (at most max bytes, NUL-terminated), freed by the
 * caller; NUL bytes are left for the caller's parser to report.
 */
int statefile_read_alloc(const char *path, size_t max, char **ret, size_t *ret_len);

/*
 * The state directory, checked as the control socket's runtime directory is: a directory owned
 * by uid with no access for group or others. 0, or -ENOENT, -ENOTDIR, -EPERM (another owner),
 * -EACCES (group or other bits), with *reterr_what (optional) saying which in words.
 */
int statedir_check(const char *dir, uid_t uid, const char **reterr_what);

/* The reason for a statefile_open()/_read() error, for a log line ("a FIFO, not a regular file"). */
const char *statefile_strerror(int r);

/*
 * Move path aside as "path.corrupt-NOW" (NOW in seconds since the epoch; ".1", ".2" ... added
 * if that name is taken) so the next write starts afresh; whatever it is (file, directory, FIFO,
 * link) is renamed, never followed or opened. The new name goes to ret (optional). 0 or -errno.
 */
int statefile_quarantine(const char *path, time_t now, char *ret, size_t size);
