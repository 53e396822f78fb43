/* SPDX-License-Identifier: GPL-2.0-only */
/* The control protocol's pure half: request parsing, percent-encoding, replies. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "daemon/ctl-parse.h"
#include "tests/check-main.h"

static CtlRequest req;
static char err[256];

static int parse(const char *line) {
        return ctl_request_parse(line, strlen(line), &req, err, sizeof err);
}

#define assert_parse_fails(line, code, text)                                    \
        do {                                                                    \
                ck_assert_int_eq(parse(line), code);                            \
                ck_assert_str_eq(err, text);                                    \
        } while (0)

START_TEST(test_commands) {
        static const struct {
                const char *line;
                CtlCommand c;
        } ok[] = {
                { "VERSION", CTL_VERSION }, { "status", CTL_STATUS }, { "List", CTL_LIST },
                { "RELOAD\r", CTL_RELOAD }, { "sTaTuS", CTL_STATUS },
        };

        for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
                ck_assert_int_eq(parse(ok[i].line), 0);
                ck_assert_int_eq(req.command, ok[i].c);
                ck_assert_int_eq(req.pid, 0);
                ck_assert_str_eq(req.name, "");
        }
        ck_assert_str_eq(ctl_command_to_string(CTL_FOREGROUND), "FOREGROUND");
        ck_assert_ptr_null(ctl_command_to_string(_CTL_COMMAND_MAX));
}
END_TEST

START_TEST(test_unfreeze_args) {
        ck_assert_int_eq(parse("UNFREEZE 1234"), 0);
        ck_assert_int_eq(req.command, CTL_UNFREEZE);
        ck_assert_int_eq(req.pid, 1234);
        ck_assert_str_eq(req.name, "");

        ck_assert_int_eq(parse("unfreeze Web%20Content"), 0);
        ck_assert_int_eq(req.pid, 0);
        ck_assert_str_eq(req.name, "Web Content");

        /* digits mixed with letters are a name; encoded digits decode to a pid */
        ck_assert_int_eq(parse("UNFREEZE 12a"), 0);
        ck_assert_str_eq(req.name, "12a");
        ck_assert_int_eq(parse("UNFREEZE %31%32"), 0);
        ck_assert_int_eq(req.pid, 12);
        ck_assert_int_eq(parse("UNFREEZE caf%c3%a9%3d%25"), 0);
        ck_assert_str_eq(req.name, "caf\xc3\xa9=%");
        ck_assert_int_eq(parse("UNFREEZE 4194304"), 0);
        ck_assert_int_eq(req.pid, 4194304);
}
END_TEST

START_TEST(test_explain_args) {
        ck_assert_str_eq(ctl_command_to_string(CTL_EXPLAIN), "EXPLAIN");
        ck_assert_int_eq(parse("EXPLAIN 4242"), 0);
        ck_assert_int_eq(req.command, CTL_EXPLAIN);
        ck_assert_int_eq(req.pid, 4242);
        ck_assert_str_eq(req.name, "");
        ck_assert_int_eq(parse("explain Isolated%20Web%20Co"), 0);
        ck_assert_int_eq(req.command, CTL_EXPLAIN);
        ck_assert_int_eq(req.pid, 0);
        ck_assert_str_eq(req.name, "Isolated Web Co");
        ck_assert_int_eq(parse("EXPLAIN"), -EINVAL);
        ck_assert_int_eq(parse("EXPLAIN 1 2"), -EINVAL);
        ck_assert_int_eq(parse("EXPLAIN 0"), -EINVAL);
}
END_TEST

START_TEST(test_foreground_args) {
        ck_assert_int_eq(parse("FOREGROUND 0"), 0);
        ck_assert_int_eq(req.command, CTL_FOREGROUND);
        ck_assert_int_eq(req.pid, 0);
        ck_assert_int_eq(parse("foreground 77\r"), 0);
        ck_assert_int_eq(req.pid, 77);

        assert_parse_fails("FOREGROUND abc", -EINVAL, "FOREGROUND: bad pid 'abc' (expected 0..4194304)");
        assert_parse_fails("FOREGROUND -1", -EINVAL, "FOREGROUND: bad pid '-1' (expected 0..4194304)");
        assert_parse_fails("FOREGROUND +1", -EINVAL, "FOREGROUND: bad pid '+1' (expected 0..4194304)");
        assert_parse_fails("FOREGROUND 0x10", -EINVAL, "FOREGROUND: bad pid '0x10' (expected 0..4194304)");
}
END_TEST

START_TEST(test_bad_pids) {
        assert_parse_fails("UNFREEZE 0", -EINVAL, "UNFREEZE: pid 0 is not a process");
        assert_parse_fails("UNFREEZE 007", -EINVAL, "UNFREEZE: bad pid '007' (expected 0..4194304)");
        assert_parse_fails("UNFREEZE 4194305", -EINVAL,
                           "UNFREEZE: bad pid '4194305' (expected 0..4194304)");
        assert_parse_fails("UNFREEZE 99999999999999999999", -EINVAL,
                           "UNFREEZE: bad pid '9999999999999999...' (expected 0..4194304)");
        assert_parse_fails("FOREGROUND 4194305", -EINVAL,
                           "FOREGROUND: bad pid '4194305' (expected 0..4194304)");
}
END_TEST

START_TEST(test_arity) {
        assert_parse_fails("STATUS now", -EINVAL, "STATUS takes no arguments");
        assert_parse_fails("version 1", -EINVAL, "VERSION takes no arguments");
        assert_parse_fails("UNFREEZE", -EINVAL, "UNFREEZE needs an argument: a pid or a process name");
        assert_parse_fails("FOREGROUND", -EINVAL, "FOREGROUND needs an argument: a pid (0 to clear)");
        assert_parse_fails("UNFREEZE Web Content", -EINVAL,
                           "UNFREEZE takes 1 argument, got 2 (encode spaces as %20)");
        assert_parse_fails("FOREGROUND 1 2 3", -EINVAL,
                           "FOREGROUND takes 1 argument, got 3 (encode spaces as %20)");
}
END_TEST

START_TEST(test_framing_errors) {
        assert_parse_fails("", -EINVAL, "empty request");
        assert_parse_fails("\r", -EINVAL, "empty request");
        assert_parse_fails(" STATUS", -EINVAL, "empty argument (separate arguments with single spaces)");
        assert_parse_fails("STATUS ", -EINVAL, "empty argument (separate arguments with single spaces)");
        assert_parse_fails("UNFREEZE  12", -EINVAL,
                           "empty argument (separate arguments with single spaces)");
        assert_parse_fails("FROB", -ENOTSUP, "unknown command 'FROB'");
        assert_parse_fails("frob 1 2", -ENOTSUP, "unknown command 'frob'");
        assert_parse_fails("STATUSX", -ENOTSUP, "unknown command 'STATUSX'");
        assert_parse_fails("STAT", -ENOTSUP, "unknown command 'STAT'");
        assert_parse_fails("ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJ", -ENOTSUP,
                           "unknown command 'ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEF...'");
        assert_parse_fails("UNFREEZE %zz", -EINVAL, "UNFREEZE: bad percent-encoding in argument");
        assert_parse_fails("UNFREEZE abc%2", -EINVAL, "UNFREEZE: bad percent-encoding in argument");
        assert_parse_fails("UNFREEZE a=b", -EINVAL, "UNFREEZE: bad percent-encoding in argument");
        assert_parse_fails("UNFREEZE a%00b", -EINVAL, "UNFREEZE: NUL byte in argument");
}
END_TEST

START_TEST(test_control_characters) {
        static const char *const bad[] = {
                "STA\tTUS", "STATUS\x1b", "\x7fSTATUS", "STA\rTUS", "STATUS\r\r", "UNFREEZE a\x01",
        };
        const char nul[] = "STATUS\0 x";

        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_parse_fails(bad[i], -EINVAL, "control character in request");
        ck_assert_int_eq(ctl_request_parse(nul, sizeof nul - 1, &req, err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "control character in request");
        assert_parse_fails("UNFREEZE caf\xc3\xa9", -EINVAL, "non-ASCII byte in request");
}
END_TEST

START_TEST(test_line_length) {
        char line[CTL_LINE_MAX + 8];

        /* 1023 bytes + "\n" is the longest line that fits the server's 1024-byte buffer */
        memset(line, 'x', sizeof line);
        memcpy(line, "UNFREEZE ", 9);
        ck_assert_int_eq(ctl_request_parse(line, CTL_LINE_MAX - 1, &req, err, sizeof err), 0);
        ck_assert_uint_eq(strlen(req.name), CTL_LINE_MAX - 1 - 9);
        ck_assert_int_eq(ctl_request_parse(line, CTL_LINE_MAX, &req, err, sizeof err), -E2BIG);
        ck_assert_str_eq(err, "line too long");
        ck_assert_int_eq(ctl_request_parse(line, sizeof line, &req, err, sizeof err), -E2BIG);
}
END_TEST

/* Lines end exactly at a PROT_NONE page: a parser reading past len dies with SIGSEGV. */
START_TEST(test_no_overread) {
        static const char *const lines[] = {
                "STATUS", "UNFREEZE 12", "UNFREEZE Web%20Content", "UNFREEZE %", "UNFREEZE %4",
                "FOREGROUND", "FROB", "S", "UNFREEZE 007", "STATUS\r", "", "%", "OK 1",
        };
        long page = sysconf(_SC_PAGESIZE);
        char *m = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

        ck_assert_ptr_ne(m, MAP_FAILED);
        ck_assert_int_eq(mprotect(m + page, page, PROT_NONE), 0);
        for (size_t i = 0; i < ELEMENTSOF(lines); i++) {
                size_t n = strlen(lines[i]);
                char *p = m + page - n;
                char out[64];
                CtlTerminator t;

                memcpy(p, lines[i], n);
                (void) ctl_request_parse(p, n, &req, err, sizeof err);
                (void) ctl_data_line_valid(p, n);
                (void) ctl_terminator_parse(p, n, &t);
                (void) ctl_decode(p, n, out, NULL);
        }
        munmap(m, 2 * page);
}
END_TEST

START_TEST(test_encode) {
        char *e;

        e = ctl_encode("a b=c%d\n\xff~!");
        ck_assert_str_eq(e, "a%20b%3Dc%25d%0A%FF~!");
        free(e);
        e = ctl_encode("");
        ck_assert_str_eq(e, "");
        free(e);
        e = ctl_encode_n("x\0y", 3);
        ck_assert_str_eq(e, "x%00y");
        free(e);

        ck_assert(ctl_byte_is_safe('a'));
        ck_assert(ctl_byte_is_safe('~'));
        ck_assert(!ctl_byte_is_safe(' '));
        ck_assert(!ctl_byte_is_safe('='));
        ck_assert(!ctl_byte_is_safe('%'));
        ck_assert(!ctl_byte_is_safe(0x7f));
        ck_assert(!ctl_byte_is_safe(0x80));
}
END_TEST

START_TEST(test_decode_roundtrip) {
        char all[256], out[256 + 1];
        char *e;
        size_t n;

        for (int i = 0; i < 256; i++)
                all[i] = (char) i;
        e = ctl_encode_n(all, sizeof all);
        ck_assert_int_eq(ctl_decode(e, strlen(e), out, &n), 0);
        ck_assert_uint_eq(n, 256);
        ck_assert_mem_eq(out, all, 256);
        /* every encoded byte is safe or part of an escape: the value is a valid one */
        for (const char *p = e; *p; p++)
                ck_assert(ctl_byte_is_safe((unsigned char) *p) || *p == '%' ||
                          (p > e + 1 && (p[-1] == '%' || p[-2] == '%')));
        free(e);

        ck_assert_int_eq(ctl_decode("a%2fb%2F", 8, out, &n), 0);
        ck_assert_str_eq(out, "a/b/");
}
END_TEST

START_TEST(test_decode_errors) {
        static const char *const bad[] = { "%", "%4", "a%G0", "%0g", "a b", "a=b", "\x80", "\x1f" };
        char out[16];

        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ck_assert_int_eq(ctl_decode(bad[i], strlen(bad[i]), out, NULL), -EINVAL);
}
END_TEST

START_TEST(test_keys_and_lines) {
        static const char *const good[] = { "a=1", "a=1 b=", "level=high score=0.5", "k_2=%20" };
        static const char *const bad[] = {
                "", "a", "=1", "a=b=c", "a=1  b=2", " a=1", "a=1 ", "A=1", "1a=1", "a-b=1",
                "a=%2", "a=x y", "a=\x01", "OK 1", "ERR EPERM x",
        };

        ck_assert(ctl_key_valid("a", 1));
        ck_assert(ctl_key_valid("frozen_for", 10));
        ck_assert(!ctl_key_valid("", 0));
        ck_assert(!ctl_key_valid("_a", 2));
        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                ck_assert_msg(ctl_data_line_valid(good[i], strlen(good[i])), "%s", good[i]);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ck_assert_msg(!ctl_data_line_valid(bad[i], strlen(bad[i])), "%s", bad[i]);
}
END_TEST

static char *finish(CtlReply *r, int status) {
        char *out, *s;
        size_t n;

        ck_assert_int_eq(ctl_reply_finish(r, status, &out, &n), 0);
        s = strndup(out, n);
        free(out);
        return s;
}

START_TEST(test_reply_ok) {
        _cleanup_ctl_reply_ CtlReply *r = ctl_reply_new();
        _cleanup_free_ char *s = NULL, *empty = NULL;
        _cleanup_ctl_reply_ CtlReply *r0 = ctl_reply_new();

        ck_assert_int_eq(ctl_reply_line(r, "pid=%d name=%s", 42, "firefox"), 0);
        ck_assert_int_eq(ctl_reply_kv(r, "name", "Web Content", "note", "50% = half", NULL), 0);
        ck_assert_uint_eq(ctl_reply_count(r), 2);
        s = finish(r, 0);
        ck_assert_str_eq(s, "pid=42 name=firefox\nname=Web%20Content note=50%25%20%3D%20half\nOK 2\n");

        empty = finish(r0, 3);
        ck_assert_str_eq(empty, "OK 0\n");
}
END_TEST

START_TEST(test_reply_poisoned) {
        _cleanup_ctl_reply_ CtlReply *r = ctl_reply_new(), *k = ctl_reply_new();
        _cleanup_free_ char *s = NULL, *t = NULL;

        /* a raw space inside a value would shift every later field: refused, reply poisoned */
        ck_assert_int_eq(ctl_reply_line(r, "pid=1"), 0);
        ck_assert_int_eq(ctl_reply_line(r, "name=%s", "Web Content"), -EINVAL);
        ck_assert_int_eq(ctl_reply_line(r, "pid=2"), -EINVAL);
        s = finish(r, 0);
        ck_assert_str_eq(s, "ERR EINVAL internal error: invalid reply line\n");

        ck_assert_int_eq(ctl_reply_kv(k, "Bad Key", "v", NULL), -EINVAL);
        t = finish(k, 0);
        ck_assert_str_eq(t, "ERR EINVAL internal error: invalid reply key or missing value\n");
}
END_TEST

START_TEST(test_reply_errors) {
        _cleanup_ctl_reply_ CtlReply *a = ctl_reply_new(), *b = ctl_reply_new(), *c = ctl_reply_new();
        _cleanup_free_ char *sa = NULL, *sb = NULL, *sc = NULL;
        char long_text[CTL_ERROR_TEXT_MAX + 100];

        /* data lines before a failure are dropped: an ERR reply has none */
        ck_assert_int_eq(ctl_reply_line(a, "pid=1"), 0);
        ck_assert_int_eq(ctl_reply_error(a, "/home/u/.config/mgd/mgd.conf:12: bad regex '%s'\n", "("), 0);
        sa = finish(a, -EINVAL);
        ck_assert_str_eq(sa, "ERR EINVAL /home/u/.config/mgd/mgd.conf:12: bad regex '('%0A\n");

        sb = finish(b, -ESRCH);
        ck_assert_str_eq(sb, "ERR ESRCH No such process\n");

        memset(long_text, 'y', sizeof long_text - 1);
        long_text[sizeof long_text - 1] = '\0';
        ck_assert_int_eq(ctl_reply_error(c, "%s", long_text), 0);
        sc = finish(c, -EPERM);
        ck_assert_uint_eq(strlen(sc), strlen("ERR EPERM ") + CTL_ERROR_TEXT_MAX + 1);
}
END_TEST

START_TEST(test_reply_too_large) {
        _cleanup_ctl_reply_ CtlReply *r = ctl_reply_new();
        _cleanup_free_ char *s = NULL;
        char v[1000];
        int ret = 0;
        unsigned i;

        memset(v, 'v', sizeof v - 1);
        v[sizeof v - 1] = '\0';
        for (i = 0; i < 2000 && ret == 0; i++)
                ret = ctl_reply_line(r, "k=%s", v);
        ck_assert_int_eq(ret, -EMSGSIZE);
        ck_assert_uint_gt(i, 1000);
        s = finish(r, 0);
        ck_assert_str_eq(s, "ERR EMSGSIZE reply too large\n");
}
END_TEST

START_TEST(test_errno_names) {
        _cleanup_free_ char *l = NULL;

        ck_assert_str_eq(ctl_errno_name(EPERM), "EPERM");
        ck_assert_str_eq(ctl_errno_name(-E2BIG), "E2BIG");
        ck_assert_str_eq(ctl_errno_name(-ENOTSUP), "ENOTSUP");
        ck_assert_str_eq(ctl_errno_name(0), "EUNKNOWN");
        ck_assert_str_eq(ctl_errno_name(100000), "EUNKNOWN");
        l = ctl_error_line(-EBUSY, "too many clients");
        ck_assert_str_eq(l, "ERR EBUSY too many clients\n");
}
END_TEST

START_TEST(test_terminators) {
        CtlTerminator t;

        ck_assert_int_eq(ctl_terminator_parse("OK 3", 4, &t), 1);
        ck_assert(t.ok);
        ck_assert_uint_eq(t.count, 3);
        ck_assert_int_eq(ctl_terminator_parse("OK 0", 4, &t), 1);
        ck_assert_uint_eq(t.count, 0);
        ck_assert_int_eq(ctl_terminator_parse("ERR EPERM permission denied", 27, &t), 1);
        ck_assert(!t.ok);
        ck_assert_str_eq(t.name, "EPERM");
        ck_assert_str_eq(t.text, "permission denied");
        ck_assert_int_eq(ctl_terminator_parse("ERR EINVAL a%0Ab %00 = c", 24, &t), 1);
        ck_assert_str_eq(t.text, "a\nb ? = c");

        static const char *const bad[] = {
                "OK", "OK ", "OK 03", "OK 3 ", "OK x", "OK -1", "OK 1234567890", "ERR",
                "ERR EPERM", "ERR EPERM ", "ERR eperm x", "ERR XPERM x", "ERR E x",
                "ERR EPERM a%zz", "ERR EPERM a\x01",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ck_assert_msg(ctl_terminator_parse(bad[i], strlen(bad[i]), &t) == -EBADMSG, "%s", bad[i]);

        ck_assert_int_eq(ctl_terminator_parse("pid=1", 5, &t), 0);
        ck_assert_int_eq(ctl_terminator_parse("OKAY", 4, &t), 0);
        ck_assert_int_eq(ctl_terminator_parse("ERRNO", 5, &t), 0);
}
END_TEST

START_TEST(test_error_line_roundtrip) {
        static const char text[] = "bad\ttext 100% \x1b[2J caf\xc3\xa9";
        _cleanup_free_ char *l = ctl_error_line(EINVAL, text);
        CtlTerminator t;
        size_t n = strlen(l);

        /* the wire form is printable ASCII only */
        for (size_t i = 0; i + 1 < n; i++)
                ck_assert(l[i] >= 0x20 && l[i] < 0x7f);
        ck_assert_int_eq(ctl_terminator_parse(l, n - 1, &t), 1);
        ck_assert_str_eq(t.name, "EINVAL");
        ck_assert_str_eq(t.text, text);
}
END_TEST

START_TEST(test_data_line_parse) {
        char line[] = "pid=42 name=Web%20Content empty= v=a%3Db";
        char two[] = "a=1 b=2";
        char bad[] = "a=1 b";
        CtlField f[8];

        ck_assert_int_eq(ctl_data_line_parse(line, strlen(line), f, ELEMENTSOF(f)), 4);
        ck_assert_str_eq(f[0].key, "pid");
        ck_assert_str_eq(f[0].value, "42");
        ck_assert_str_eq(f[1].key, "name");
        ck_assert_str_eq(f[1].value, "Web Content");
        ck_assert_uint_eq(f[1].value_len, 11);
        ck_assert_str_eq(f[2].key, "empty");
        ck_assert_uint_eq(f[2].value_len, 0);
        ck_assert_str_eq(f[3].value, "a=b");
        ck_assert_int_eq(ctl_data_line_parse(two, strlen(two), f, 1), -E2BIG);
        ck_assert_int_eq(ctl_data_line_parse(bad, strlen(bad), f, ELEMENTSOF(f)), -EBADMSG);
}
END_TEST

static Suite *ctl_parse_suite(void) {
        Suite *s = suite_create("ctl-parse");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_commands);
        tcase_add_test(tc, test_unfreeze_args);
        tcase_add_test(tc, test_foreground_args);
        tcase_add_test(tc, test_explain_args);
        tcase_add_test(tc, test_bad_pids);
        tcase_add_test(tc, test_arity);
        tcase_add_test(tc, test_framing_errors);
        tcase_add_test(tc, test_control_characters);
        tcase_add_test(tc, test_line_length);
        tcase_add_test(tc, test_no_overread);
        tcase_add_test(tc, test_encode);
        tcase_add_test(tc, test_decode_roundtrip);
        tcase_add_test(tc, test_decode_errors);
        tcase_add_test(tc, test_keys_and_lines);
        tcase_add_test(tc, test_reply_ok);
        tcase_add_test(tc, test_reply_poisoned);
        tcase_add_test(tc, test_reply_errors);
        tcase_add_test(tc, test_reply_too_large);
        tcase_add_test(tc, test_errno_names);
        tcase_add_test(tc, test_terminators);
        tcase_add_test(tc, test_error_line_roundtrip);
        tcase_add_test(tc, test_data_line_parse);
        suite_add_tcase(s, tc);
        return s;
}

MGD_CHECK_MAIN(ctl_parse_suite)
