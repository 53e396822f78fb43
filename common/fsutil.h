/* SPDX-License-Identifier: GPL-2.0-only */
#pragma once

/*
 * Directory handling for helpers that write files on a user's behalf (the checkpoint helper's
 * images). Every level is opened with O_NOFOLLOW and checked for its owner, so a symlink or a
 * directory of someone else planted in the path is refused, never followed.
 */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * Open top, then each of names[0..n) below it in turn (one path component each), every level
 * after top a directory owned by owner (-EPERM otherwise). With create, a missing level is made
 * 0700 first. Returns the fd of the last level (O_CLOEXEC) or -errno.
 */
int dir_chain_open(const char *top, const char *const *names, size_t n, uid_t owner, bool create);

/*
 * The directory name under dfd, opened with O_NOFOLLOW (O_CLOEXEC); it must be owned by owner
 * and, when mode is not 0, have exactly that mode (-EPERM otherwise). Returns its fd or -errno.
 */
int dir_open_checked(int dfd, const char *name, uid_t owner, mode_t mode);

/* Remove dfd's entry name, a directory holding only files (what criu writes); -errno. */
int dir_remove_flat(int dfd, const char *name);

/* A new file name under dfd (O_EXCL, O_NOFOLLOW) holding exactly buf; -errno (-EIO: short write). */
int file_create_at(int dfd, const char *name, const void *buf, size_t len, mode_t mode);
