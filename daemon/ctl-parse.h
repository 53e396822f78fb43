/* SPDX-License-Identifier: GPL-2.0-only */
#pragma once

/*
 * The control protocol's pure half: request parsing, percent-encoding, reply building and reply
 * parsing. No I/O, no libsystemd: the daemon's server (ctl.c), mgctl and the fuzz/unit tests all
 * link this file. Everything a client sends is untrusted; every function here takes a length and
 * never reads past it. The wire format is specified in docs/PROTOCOL.md.
 */

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/macro.h"

#define CTL_PROTOCOL_VERSION 1
#define CTL_LINE_MAX 1024               /* a request line including its "\n" */
#define CTL_REPLY_MAX (1024U * 1024U)   /* one whole reply; larger → ERR EMSGSIZE */
#define CTL_ERROR_TEXT_MAX 512          /* handler-set error text, before encoding */
#define CTL_PID_MAX 4194304             /* the kernel's PID_MAX_LIMIT on 64-bit */
#define CTL_SOCKET_NAME "mgd.sock"

typedef enum CtlCommand {
        CTL_VERSION,
        CTL_STATUS,
        CTL_LIST,
        CTL_UNFREEZE,
        CTL_RELOAD,
        CTL_FOREGROUND,
        CTL_EXPLAIN,
        _CTL_COMMAND_MAX,
} CtlCommand;

/* "VERSION", "STATUS", ...; NULL if out of range. */
const char *ctl_command_to_string(CtlCommand c);

typedef struct CtlRequest {
        CtlCommand command;
        pid_t pid;                      /* UNFREEZE/EXPLAIN by pid (> 0), FOREGROUND (0 = clear) */
        char name[CTL_LINE_MAX];        /* UNFREEZE/EXPLAIN by name: decoded, never empty; "" otherwise */
} CtlRequest;

/*
 * Parse one request line, without its "\n" (one trailing "\r" is accepted). Returns 0, or
 * -EINVAL (bad characters, arity, pid, encoding), -ENOTSUP (unknown command) or -E2BIG (longer
 * than CTL_LINE_MAX - 1) with a human-readable reason in err (always NUL-terminated when
 * errsize > 0). Never reads past line[len - 1]; line need not be NUL-terminated.
 */
int ctl_request_parse(const char *line, size_t len, CtlRequest *ret, char *err, size_t errsize);

/* ---- percent-encoding ------------------------------------------------------------------- */

/*
 * Bytes that travel raw in a value: printable ASCII except '%' and '='. Everything else (space,
 * controls, DEL, non-ASCII) is sent as %XX with upper-case hex.
 */
bool ctl_byte_is_safe(unsigned char b);

/* Encode n bytes of s. Returns a malloc'd NUL-terminated string, or NULL on OOM. */
char *ctl_encode_n(const char *s, size_t n);
char *ctl_encode(const char *s);

/*
 * Strictly decode a value: every byte must be safe or part of a %XX escape (either case of hex).
 * Writes at most len bytes plus a NUL to out (out may equal s: decoding never grows). The decoded
 * value may hold NUL bytes; *ret_len gives its length. -EINVAL on a raw unsafe byte or a broken
 * escape.
 */
int ctl_decode(const char *s, size_t len, char *out, size_t *ret_len);

/* [a-z][a-z0-9_]* */
bool ctl_key_valid(const char *k, size_t len);

/* A whole data line (no "\n"): "key=value" tokens separated by single spaces, at least one. */
bool ctl_data_line_valid(const char *line, size_t len);

/* ---- reply building (server side) ------------------------------------------------------- */

typedef struct CtlReply CtlReply;

CtlReply *ctl_reply_new(void);
CtlReply *ctl_reply_free(CtlReply *r);
static inline void ctl_reply_freep(CtlReply **r) {
        ctl_reply_free(*r);
}
#define _cleanup_ctl_reply_ _cleanup_(ctl_reply_freep)

/*
 * Append one data line, formatted by the caller. The result must be a valid data line (values
 * already encoded, e.g. with ctl_encode()); otherwise -EINVAL and nothing is appended. -EMSGSIZE
 * once the reply would exceed CTL_REPLY_MAX. Any failure also poisons the reply, so a handler that
 * ignores the return value still produces an ERR, never a malformed or truncated reply.
 */
int ctl_reply_line(CtlReply *r, const char *fmt, ...) _printf_(2, 3);
int ctl_reply_linev(CtlReply *r, const char *fmt, va_list ap) _printf_(2, 0);

/*
 * Append one data line from key, value pairs ended by NULL; values are raw and get encoded:
 * ctl_reply_kv(r, "pid", "42", "name", "Web Content", NULL) → "pid=42 name=Web%20Content".
 */
int ctl_reply_kv(CtlReply *r, const char *key, const char *value, ...) __attribute__((sentinel));

/* The text for the ERR line if the handler then fails (truncated to CTL_ERROR_TEXT_MAX). */
int ctl_reply_error(CtlReply *r, const char *fmt, ...) _printf_(2, 3);

/* Data lines appended so far. */
unsigned ctl_reply_count(const CtlReply *r);

/*
 * The wire text: on status >= 0 every data line then "OK <count>\n"; on status < 0 (or a
 * poisoned reply) only "ERR <ERRNO-NAME> <text>\n", with the handler's text or strerror(). The
 * returned buffer is malloc'd, not NUL-terminated; -ENOMEM.
 */
int ctl_reply_finish(CtlReply *r, int status, char **ret, size_t *ret_len);

/* "EPERM", "ENOENT", ...; "EUNKNOWN" for a number libc has no name for. err may be negative. */
const char *ctl_errno_name(int err);

/* A complete ERR line ("ERR <NAME> <encoded text>\n"); NULL on OOM. */
char *ctl_error_line(int err, const char *text);

/* ---- reply parsing (client side) -------------------------------------------------------- */

typedef struct CtlField {
        const char *key;                /* NUL-terminated, inside the parsed line */
        const char *value;              /* decoded, NUL-terminated, may hold NUL bytes */
        size_t value_len;
} CtlField;

/*
 * Split a data line in place into at most max fields: it is modified, len excludes the "\n", and
 * line[len] must be writable (the last value's NUL goes there).
 * Returns the number of fields, -EBADMSG if the line is not a valid data line, -E2BIG if it has
 * more than max fields.
 */
int ctl_data_line_parse(char *line, size_t len, CtlField *fields, size_t max);

typedef struct CtlTerminator {
        bool ok;
        unsigned count;                 /* OK: number of data lines before it */
        char name[32];                  /* ERR: "EPERM", ... */
        char text[CTL_ERROR_TEXT_MAX + 4];      /* ERR: decoded, NUL-free, "..." if cut */
} CtlTerminator;

/*
 * Classify one reply line (len excludes "\n"): 1 and *ret filled if it is a terminator, 0 if it
 * is a data line (not validated here), -EBADMSG if it starts like a terminator but is malformed.
 * Decoded NUL bytes in an ERR text are replaced by '?'.
 */
int ctl_terminator_parse(const char *line, size_t len, CtlTerminator *ret);
