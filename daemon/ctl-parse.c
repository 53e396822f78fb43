/* SPDX-License-Identifier: GPL-2.0-only */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon/ctl-parse.h"

/* The longest command word echoed back in "unknown command '...'". */
#define CTL_ECHO_MAX 32

typedef enum CtlArg {
        CTL_ARG_NONE,
        CTL_ARG_PID_OR_NAME,            /* digits only: a pid > 0; anything else: a name */
        CTL_ARG_PID_OR_ZERO,            /* a pid, or 0 */
} CtlArg;

static const struct {
        const char *name;
        unsigned arity;
        CtlArg arg;
} ctl_commands[_CTL_COMMAND_MAX] = {
        [CTL_VERSION]    = { "VERSION",    0, CTL_ARG_NONE },
        [CTL_STATUS]     = { "STATUS",     0, CTL_ARG_NONE },
        [CTL_LIST]       = { "LIST",       0, CTL_ARG_NONE },
        [CTL_UNFREEZE]   = { "UNFREEZE",   1, CTL_ARG_PID_OR_NAME },
        [CTL_RELOAD]     = { "RELOAD",     0, CTL_ARG_NONE },
        [CTL_FOREGROUND] = { "FOREGROUND", 1, CTL_ARG_PID_OR_ZERO },
        [CTL_EXPLAIN]    = { "EXPLAIN",    1, CTL_ARG_PID_OR_NAME },
};

const char *ctl_command_to_string(CtlCommand c) {
        if ((unsigned) c >= _CTL_COMMAND_MAX)
                return NULL;
        return ctl_commands[c].name;
}

_printf_(4, 5)
static int fail(int r, char *err, size_t errsize, const char *fmt, ...) {
        va_list ap;

        if (errsize > 0) {
                va_start(ap, fmt);
                (void) vsnprintf(err, errsize, fmt, ap);
                va_end(ap);
        }
        return r;
}

/* ---- percent-encoding ------------------------------------------------------------------- */

bool ctl_byte_is_safe(unsigned char b) {
        return b > 0x20 && b < 0x7f && b != '%' && b != '=';
}

/* ERR texts keep spaces and '=' readable; only controls, '%' and non-ASCII are escaped. */
static bool text_byte_is_safe(unsigned char b) {
        return b >= 0x20 && b < 0x7f && b != '%';
}

static char *encode_with(const char *s, size_t n, bool (*safe)(unsigned char)) {
        static const char hex[] = "0123456789ABCDEF";
        char *out, *p;

        out = malloc(3 * n + 1);
        if (!out)
                return NULL;
        p = out;
        for (size_t i = 0; i < n; i++) {
                unsigned char b = (unsigned char) s[i];

                if (safe(b)) {
                        *p++ = (char) b;
                        continue;
                }
                *p++ = '%';
                *p++ = hex[b >> 4];
                *p++ = hex[b & 0xf];
        }
        *p = '\0';
        return out;
}

char *ctl_encode_n(const char *s, size_t n) {
        return encode_with(s, n, ctl_byte_is_safe);
}

char *ctl_encode(const char *s) {
        return ctl_encode_n(s, strlen(s));
}

static int unhex(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

static int decode_with(const char *s, size_t len, char *out, size_t *ret_len,
                       bool (*safe)(unsigned char)) {
        size_t o = 0;

        for (size_t i = 0; i < len;) {
                unsigned char b = (unsigned char) s[i];
                int hi, lo;

                if (b != '%') {
                        if (!safe(b))
                                return -EINVAL;
                        out[o++] = (char) b;
                        i++;
                        continue;
                }
                if (len - i < 3)
                        return -EINVAL;
                hi = unhex(s[i + 1]);
                lo = unhex(s[i + 2]);
                if (hi < 0 || lo < 0)
                        return -EINVAL;
                out[o++] = (char) (hi << 4 | lo);
                i += 3;
        }
        out[o] = '\0';
        if (ret_len)
                *ret_len = o;
        return 0;
}

int ctl_decode(const char *s, size_t len, char *out, size_t *ret_len) {
        return decode_with(s, len, out, ret_len, ctl_byte_is_safe);
}

bool ctl_key_valid(const char *k, size_t len) {
        if (len == 0 || len > 64 || k[0] < 'a' || k[0] > 'z')
                return false;
        for (size_t i = 1; i < len; i++)
                if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= '0' && k[i] <= '9') || k[i] == '_'))
                        return false;
        return true;
}

static bool value_valid(const char *v, size_t len) {
        for (size_t i = 0; i < len; i++) {
                if (v[i] != '%') {
                        if (!ctl_byte_is_safe((unsigned char) v[i]))
                                return false;
                        continue;
                }
                if (len - i < 3 || unhex(v[i + 1]) < 0 || unhex(v[i + 2]) < 0)
                        return false;
                i += 2;
        }
        return true;
}

static bool token_valid(const char *t, size_t len) {
        const char *eq = memchr(t, '=', len);

        return eq && ctl_key_valid(t, (size_t) (eq - t)) &&
                value_valid(eq + 1, len - (size_t) (eq - t) - 1);
}

bool ctl_data_line_valid(const char *line, size_t len) {
        size_t start = 0;

        if (len == 0)
                return false;
        for (size_t i = 0; i <= len; i++) {
                if (i < len && line[i] != ' ')
                        continue;
                if (!token_valid(line + start, i - start))
                        return false;
                start = i + 1;
        }
        return true;
}

/* ---- requests --------------------------------------------------------------------------- */

static int request_check_bytes(const char *line, size_t len, char *err, size_t errsize) {
        for (size_t i = 0; i < len; i++) {
                unsigned char b = (unsigned char) line[i];

                if (b < 0x20 || b == 0x7f)
                        return fail(-EINVAL, err, errsize, "control character in request");
                if (b >= 0x80)
                        return fail(-EINVAL, err, errsize, "non-ASCII byte in request");
        }
        return 0;
}

/* Decimal only, no sign, no leading zeros: "0" .. CTL_PID_MAX. */
static int parse_pid(const char *s, pid_t *ret) {
        size_t n = strlen(s);
        long v = 0;

        if (n == 0 || n > 7 || (n > 1 && s[0] == '0'))
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                v = v * 10 + (s[i] - '0');
        }
        if (v > CTL_PID_MAX)
                return -ERANGE;
        *ret = (pid_t) v;
        return 0;
}

static bool all_digits(const char *s) {
        if (!*s)
                return false;
        for (; *s; s++)
                if (*s < '0' || *s > '9')
                        return false;
        return true;
}

static int request_parse_arg(CtlRequest *req, const char *arg, size_t len, char *err, size_t errsize) {
        const char *cmd = ctl_commands[req->command].name;
        char buf[CTL_LINE_MAX];
        size_t n;

        if (len >= sizeof(buf) || ctl_decode(arg, len, buf, &n) < 0)
                return fail(-EINVAL, err, errsize, "%s: bad percent-encoding in argument", cmd);
        if (memchr(buf, '\0', n))
                return fail(-EINVAL, err, errsize, "%s: NUL byte in argument", cmd);

        if (ctl_commands[req->command].arg == CTL_ARG_PID_OR_NAME && !all_digits(buf)) {
                memcpy(req->name, buf, n + 1);
                return 0;
        }
        if (parse_pid(buf, &req->pid) < 0)
                return fail(-EINVAL, err, errsize, "%s: bad pid '%.16s%s' (expected 0..%d)",
                            cmd, buf, n > 16 ? "..." : "", CTL_PID_MAX);
        if (req->pid == 0 && ctl_commands[req->command].arg == CTL_ARG_PID_OR_NAME)
                return fail(-EINVAL, err, errsize, "%s: pid 0 is not a process", cmd);
        return 0;
}

static int request_lookup(const char *word, size_t len, CtlCommand *ret, char *err, size_t errsize) {
        for (CtlCommand c = 0; c < _CTL_COMMAND_MAX; c++)
                if (strlen(ctl_commands[c].name) == len &&
                    strncasecmp(ctl_commands[c].name, word, len) == 0) {
                        *ret = c;
                        return 0;
                }
        return fail(-ENOTSUP, err, errsize, "unknown command '%.*s%s'",
                    (int) MIN(len, (size_t) CTL_ECHO_MAX), word, len > CTL_ECHO_MAX ? "..." : "");
}

static int request_check_arity(CtlCommand c, size_t n_args, char *err, size_t errsize) {
        unsigned arity = ctl_commands[c].arity;

        if (n_args == arity)
                return 0;
        if (arity == 0)
                return fail(-EINVAL, err, errsize, "%s takes no arguments", ctl_commands[c].name);
        if (n_args == 0)
                return fail(-EINVAL, err, errsize, "%s needs an argument: %s", ctl_commands[c].name,
                            ctl_commands[c].arg == CTL_ARG_PID_OR_NAME ? "a pid or a process name"
                                                                      : "a pid (0 to clear)");
        return fail(-EINVAL, err, errsize, "%s takes 1 argument, got %zu (encode spaces as %%20)",
                    ctl_commands[c].name, n_args);
}

int ctl_request_parse(const char *line, size_t len, CtlRequest *ret, char *err, size_t errsize) {
        const char *sp, *arg = NULL;
        size_t n_args = 0, word_len, arg_len = 0;
        int r;

        if (errsize > 0)
                err[0] = '\0';
        if (len >= CTL_LINE_MAX)
                return fail(-E2BIG, err, errsize, "line too long");
        if (len > 0 && line[len - 1] == '\r')
                len--;
        r = request_check_bytes(line, len, err, errsize);
        if (r < 0)
                return r;
        if (len == 0)
                return fail(-EINVAL, err, errsize, "empty request");

        /* Tokens are separated by exactly one space: an empty token is a framing mistake. */
        for (size_t i = 0, start = 0; i <= len; i++) {
                if (i < len && line[i] != ' ')
                        continue;
                if (i == start)
                        return fail(-EINVAL, err, errsize,
                                    "empty argument (separate arguments with single spaces)");
                if (start > 0 && n_args++ == 0) {
                        arg = line + start;
                        arg_len = i - start;
                }
                start = i + 1;
        }

        sp = memchr(line, ' ', len);
        word_len = sp ? (size_t) (sp - line) : len;

        *ret = (CtlRequest) {};
        r = request_lookup(line, word_len, &ret->command, err, errsize);
        if (r < 0)
                return r;
        r = request_check_arity(ret->command, n_args, err, errsize);
        if (r < 0)
                return r;
        if (n_args == 0)
                return 0;
        return request_parse_arg(ret, arg, arg_len, err, errsize);
}

/* ---- errno names ------------------------------------------------------------------------ */

const char *ctl_errno_name(int err) {
        const char *n;

        if (err < 0)
                err = -err;
        /* Linux aliases ENOTSUP to EOPNOTSUPP; the protocol speaks of unsupported commands */
        if (err == ENOTSUP)
                return "ENOTSUP";
        n = err > 0 ? strerrorname_np(err) : NULL;
        return n ?: "EUNKNOWN";
}

char *ctl_error_line(int err, const char *text) {
        _cleanup_free_ char *enc = NULL;
        char *line = NULL;
        size_t n;

        if (err < 0)
                err = -err;
        if (!text || !*text)
                text = strerror(err);
        n = strnlen(text, CTL_ERROR_TEXT_MAX);
        enc = encode_with(text, n, text_byte_is_safe);
        if (!enc)
                return NULL;
        if (asprintf(&line, "ERR %s %s\n", ctl_errno_name(err), enc) < 0)
                return NULL;
        return line;
}

/* ---- reply building --------------------------------------------------------------------- */

struct CtlReply {
        char *buf;                      /* data lines, each ending in "\n" */
        size_t len, alloc;
        unsigned count;
        int failed;                     /* the first builder error: the reply becomes an ERR */
        const char *failed_text;
        char *error;                    /* the handler's ERR text */
};

CtlReply *ctl_reply_new(void) {
        return calloc(1, sizeof(CtlReply));
}

CtlReply *ctl_reply_free(CtlReply *r) {
        if (!r)
                return NULL;
        free(r->buf);
        free(r->error);
        free(r);
        return NULL;
}

unsigned ctl_reply_count(const CtlReply *r) {
        return r->count;
}

static int reply_poison(CtlReply *r, int err, const char *text) {
        if (r->failed == 0) {
                r->failed = err;
                r->failed_text = text;
        }
        return err;
}

/* Room is kept for the terminator, so a full reply still fits in CTL_REPLY_MAX. */
static int reply_append(CtlReply *r, const char *line, size_t n) {
        if (r->failed)
                return r->failed;
        if (!ctl_data_line_valid(line, n))
                return reply_poison(r, -EINVAL, "internal error: invalid reply line");
        if (r->len + n + 1 > CTL_REPLY_MAX - 32)
                return reply_poison(r, -EMSGSIZE, "reply too large");
        if (r->len + n + 1 > r->alloc) {
                size_t a = MAX(r->alloc * 2, r->len + n + 1 + 256);
                char *p = realloc(r->buf, a);

                if (!p)
                        return reply_poison(r, -ENOMEM, NULL);
                r->buf = p;
                r->alloc = a;
        }
        memcpy(r->buf + r->len, line, n);
        r->buf[r->len + n] = '\n';
        r->len += n + 1;
        r->count++;
        return 0;
}

int ctl_reply_linev(CtlReply *r, const char *fmt, va_list ap) {
        _cleanup_free_ char *line = NULL;
        int n;

        if (r->failed)
                return r->failed;
        n = vasprintf(&line, fmt, ap);
        if (n < 0)
                return reply_poison(r, -ENOMEM, NULL);
        return reply_append(r, line, (size_t) n);
}

int ctl_reply_line(CtlReply *r, const char *fmt, ...) {
        va_list ap;
        int ret;

        va_start(ap, fmt);
        ret = ctl_reply_linev(r, fmt, ap);
        va_end(ap);
        return ret;
}

static int kv_put(FILE *f, bool first, const char *key, const char *value) {
        _cleanup_free_ char *enc = NULL;

        if (!value || !ctl_key_valid(key, strlen(key)))
                return -EINVAL;
        enc = ctl_encode(value);
        if (!enc)
                return -ENOMEM;
        return fprintf(f, "%s%s=%s", first ? "" : " ", key, enc) < 0 ? -ENOMEM : 0;
}

int ctl_reply_kv(CtlReply *r, const char *key, const char *value, ...) {
        _cleanup_free_ char *line = NULL;
        size_t n = 0;
        FILE *f;
        va_list ap;
        int ret;

        if (r->failed)
                return r->failed;
        f = open_memstream(&line, &n);
        if (!f)
                return reply_poison(r, -ENOMEM, NULL);
        ret = kv_put(f, true, key, value);
        va_start(ap, value);
        while (ret == 0 && (key = va_arg(ap, const char *))) {
                value = va_arg(ap, const char *);
                ret = kv_put(f, false, key, value);
        }
        va_end(ap);
        if (fclose(f) != 0 && ret == 0)
                ret = -ENOMEM;
        if (ret == -EINVAL)
                return reply_poison(r, ret, "internal error: invalid reply key or missing value");
        if (ret < 0)
                return reply_poison(r, ret, NULL);
        return reply_append(r, line, n);
}

int ctl_reply_error(CtlReply *r, const char *fmt, ...) {
        va_list ap;
        char *t = NULL;
        int n;

        va_start(ap, fmt);
        n = vasprintf(&t, fmt, ap);
        va_end(ap);
        if (n < 0)
                return -ENOMEM;
        if ((size_t) n > CTL_ERROR_TEXT_MAX)
                t[CTL_ERROR_TEXT_MAX] = '\0';
        free(r->error);
        r->error = t;
        return 0;
}

int ctl_reply_finish(CtlReply *r, int status, char **ret, size_t *ret_len) {
        char *out;
        int n;

        if (status < 0 || r->failed) {
                int err = status < 0 ? status : r->failed;
                const char *text = r->failed_text;

                /* a handler's own failure speaks for itself; a passed-on builder error does not */
                if (status < 0)
                        text = r->error ?: (status == r->failed ? r->failed_text : NULL);

                out = ctl_error_line(err, text);
                if (!out)
                        return -ENOMEM;
                *ret_len = strlen(out);
                *ret = out;
                return 0;
        }

        out = malloc(r->len + 16);
        if (!out)
                return -ENOMEM;
        if (r->len > 0)
                memcpy(out, r->buf, r->len);
        n = snprintf(out + r->len, 16, "OK %u\n", r->count);
        *ret_len = r->len + (size_t) n;
        *ret = out;
        return 0;
}

/* ---- reply parsing ---------------------------------------------------------------------- */

int ctl_data_line_parse(char *line, size_t len, CtlField *fields, size_t max) {
        size_t n = 0, start = 0;

        if (!ctl_data_line_valid(line, len))
                return -EBADMSG;
        for (size_t i = 0; i <= len; i++) {
                char *t, *eq;
                size_t vlen;

                if (i < len && line[i] != ' ')
                        continue;
                if (n >= max)
                        return -E2BIG;
                t = line + start;
                eq = memchr(t, '=', i - start);
                *eq = '\0';
                /* Decoding in place never grows and its NUL lands on the separator at most. */
                if (ctl_decode(eq + 1, (size_t) (line + i - eq - 1), eq + 1, &vlen) < 0)
                        return -EBADMSG;
                fields[n++] = (CtlField) { .key = t, .value = eq + 1, .value_len = vlen };
                start = i + 1;
        }
        return (int) n;
}

static int terminator_parse_ok(const char *s, size_t len, CtlTerminator *ret) {
        unsigned long v = 0;

        /* "OK <count>": decimal, no leading zeros */
        if (len < 4 || s[2] != ' ' || len - 3 > 9 || (len - 3 > 1 && s[3] == '0'))
                return -EBADMSG;
        for (size_t i = 3; i < len; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EBADMSG;
                v = v * 10 + (unsigned long) (s[i] - '0');
        }
        ret->ok = true;
        ret->count = (unsigned) v;
        return 1;
}

static int terminator_parse_err(const char *s, size_t len, CtlTerminator *ret) {
        _cleanup_free_ char *text = NULL;
        const char *name = s + 4, *sp;
        size_t name_len, text_len, n;

        if (len < 4 || s[3] != ' ')
                return -EBADMSG;
        sp = memchr(name, ' ', len - 4);
        if (!sp)
                return -EBADMSG;
        name_len = (size_t) (sp - name);
        if (name_len < 2 || name_len >= sizeof(ret->name) || name[0] != 'E')
                return -EBADMSG;
        for (size_t i = 0; i < name_len; i++)
                if (!((name[i] >= 'A' && name[i] <= 'Z') || (name[i] >= '0' && name[i] <= '9')))
                        return -EBADMSG;

        text_len = len - 4 - name_len - 1;
        if (text_len == 0)
                return -EBADMSG;
        text = malloc(text_len + 1);
        if (!text)
                return -ENOMEM;
        if (decode_with(sp + 1, text_len, text, &n, text_byte_is_safe) < 0)
                return -EBADMSG;
        for (size_t i = 0; i < n; i++)
                if (text[i] == '\0')
                        text[i] = '?';

        ret->ok = false;
        memcpy(ret->name, name, name_len);
        ret->name[name_len] = '\0';
        if (n > CTL_ERROR_TEXT_MAX) {
                memcpy(ret->text, text, CTL_ERROR_TEXT_MAX);
                strcpy(ret->text + CTL_ERROR_TEXT_MAX, "...");
        } else
                memcpy(ret->text, text, n + 1);
        return 1;
}

int ctl_terminator_parse(const char *line, size_t len, CtlTerminator *ret) {
        *ret = (CtlTerminator) {};
        if (len >= 2 && memcmp(line, "OK", 2) == 0 && (len == 2 || line[2] == ' '))
                return terminator_parse_ok(line, len, ret);
        if (len >= 3 && memcmp(line, "ERR", 3) == 0 && (len == 3 || line[3] == ' '))
                return terminator_parse_err(line, len, ret);
        return 0;
}
