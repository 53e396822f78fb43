/* SPDX-License-Identifier: GPL-2.0-only */
#pragma once

/*
 * Private to common/: the pieces the readers share (a cursor over one line of text, file
 * reading relative to a /proc/PID directory fd) and the fd-relative readers the process scan
 * uses. Not part of libmgcommon's interface.
 */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/readers.h"

/* ---- text cursor (parse-util.c) ---- */

/* A span of text, usually one line without its '\n'. Numbers are parsed strictly inside it. */
typedef struct Cursor {
        const char *p;
        const char *end;
} Cursor;

static inline bool cursor_eof(const Cursor *c) {
        return c->p >= c->end;
}

/* Consume one character if it is next. */
static inline bool cursor_char(Cursor *c, char ch) {
        if (c->p >= c->end || *c->p != ch)
                return false;
        c->p++;
        return true;
}

/* Consume lit if the span starts with it. */
bool cursor_lit(Cursor *c, const char *lit);
/* Skip any number of characters from set (possibly none); returns how many were skipped. */
size_t cursor_skip(Cursor *c, const char *set);
/* Up to the next character in set (or the end); the token must not be empty. */
int cursor_token(Cursor *c, const char *set, const char **ret, size_t *ret_len);
/*
 * The digit run at s (at least one digit, no sign); *ret_end is the first non-digit. Inline: the
 * process scan parses some fifty of these per process per scan.
 */
static inline int parse_digits(const char *s, const char *end, const char **ret_end, uint64_t *ret) {
        const char *p = s;
        uint64_t v = 0;

        for (; p < end && (unsigned) (*p - '0') < 10; p++)
                if (__builtin_mul_overflow(v, 10, &v) ||
                    __builtin_add_overflow(v, (unsigned) (*p - '0'), &v))
                        return -ERANGE;
        if (p == s)
                return -EINVAL;
        *ret_end = p;
        *ret = v;
        return 0;
}

/* A run of decimal digits: -EINVAL if none, -ERANGE on overflow. */
static inline int cursor_u64(Cursor *c, uint64_t *ret) {
        return parse_digits(c->p, c->end, &c->p, ret);
}
/* Optional '-' then digits, within int64_t. */
int cursor_i64(Cursor *c, int64_t *ret);
/* digits[.digits], no sign, no exponent. */
int cursor_double(Cursor *c, double *ret);

/*
 * The next '\n'-terminated line of *text as a cursor (without the '\n'). Returns 1 for a line,
 * 0 at the end of the text, -EINVAL for a last line without '\n': every kernel file we parse
 * ends with one, so a missing newline means the text was cut short.
 */
int text_next_line(const char **text, Cursor *ret);

/* A digit run of exactly this span (digits only, nothing else). */
int span_u64(const char *s, size_t len, uint64_t *ret);

static inline bool span_eq(const char *s, size_t len, const char *lit) {
        return strlen(lit) == len && memcmp(s, lit, len) == 0;
}

/* ---- files (fileio.c) ---- */

/* read_small_fileat() plus: the contents must be text (no NUL byte). */
int read_text_fileat(int dirfd, const char *path, char *buf, size_t size, size_t *ret_len);

/*
 * One pread() at offset 0 of an already open /proc file whose contents the kernel produces in
 * one piece (single_open() seq files such as stat, status, cgroup; oom_score_adj): a read that
 * does not fill the buffer returned everything. Multi-record seq files (vmstat, swaps) hand out
 * at most a page per read and must go through read_small_file() instead. Rejects NUL bytes.
 */
int read_proc_fd(int fd, char *buf, size_t size, size_t *ret_len);

/* proc_root/PID as an O_DIRECTORY fd. */
int proc_pid_dir_open(const char *proc_root, pid_t pid);

/* ---- fd-relative per-process readers (proc.c, gpu.c); dirfd is proc_root/PID ---- */

int proc_stat_readat(int dirfd, ProcStat *ret);
int proc_status_readat(int dirfd, ProcStatus *ret);
int proc_cgroup_readat(int dirfd, ProcCgroup *ret);
int proc_cmdline_readat(int dirfd, char *buf, size_t size);
int proc_exe_basename_at(int dirfd, char *buf, size_t size);
int proc_oom_score_adj_readat(int dirfd, int *ret);
int proc_oom_score_adj_parse(const char *text, int *ret);
int proc_gpu_resident_kb_at(int dirfd, uint64_t *ret_kb);

/* Parse a pid-like decimal (1..INT_MAX) that is the whole string. */
int parse_pid(const char *s, pid_t *ret);

/* True for the errors that mean "the process is gone" while reading its /proc files. */
static inline bool errno_is_vanished(int r) {
        return r == -ENOENT || r == -ESRCH;
}
