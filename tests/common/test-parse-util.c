/* SPDX-License-Identifier: GPL-2.0-only */
/* Strict number parsing and whole-file reads. */

#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "common/macro.h"
#include "common/readers.h"
#include "tests/check-main.h"
#include "tests/common/fixture.h"

static const struct {
        const char *s;
        int r;
        uint64_t v;
} u64_cases[] = {
        { "0", 0, 0 },
        { "42", 0, 42 },
        { "18446744073709551615", 0, UINT64_MAX },
        { "18446744073709551616", -ERANGE, 0 },
        { "99999999999999999999999", -ERANGE, 0 },
        { "", -EINVAL, 0 },
        { "-1", -EINVAL, 0 },            /* strtoull() would give UINT64_MAX */
        { "+1", -EINVAL, 0 },
        { " 1", -EINVAL, 0 },
        { "1 ", -EINVAL, 0 },
        { "0x10", -EINVAL, 0 },
        { "12abc", -EINVAL, 0 },
        { "abc", -EINVAL, 0 },
};

START_TEST(test_safe_atou64) {
        uint64_t v = 7;
        int r = safe_atou64(u64_cases[_i].s, &v);

        ck_assert_msg(r == u64_cases[_i].r, "\"%s\": got %d, want %d", u64_cases[_i].s, r, u64_cases[_i].r);
        /* On failure the output is left untouched. */
        ck_assert_uint_eq(v, r == 0 ? u64_cases[_i].v : 7);
}
END_TEST

static const struct {
        const char *s;
        int r;
        int v;
} int_cases[] = {
        { "0", 0, 0 },
        { "-1000", 0, -1000 },
        { "2147483647", 0, 2147483647 },
        { "-2147483648", 0, -2147483647 - 1 },
        { "2147483648", -ERANGE, 0 },
        { "-2147483649", -ERANGE, 0 },
        { "-", -EINVAL, 0 },
        { "--1", -EINVAL, 0 },
        { "1-", -EINVAL, 0 },
        { "", -EINVAL, 0 },
};

START_TEST(test_safe_atoi) {
        int v = 7;
        int r = safe_atoi(int_cases[_i].s, &v);

        ck_assert_msg(r == int_cases[_i].r, "\"%s\": got %d", int_cases[_i].s, r);
        ck_assert_int_eq(v, r == 0 ? int_cases[_i].v : 7);
}
END_TEST

static const struct {
        const char *s;
        int r;
        double v;
} dbl_cases[] = {
        { "0", 0, 0.0 },
        { "12.34", 0, 12.34 },
        { "100.00", 0, 100.0 },
        { "-0.5", 0, -0.5 },
        { "0.000000000000000001", 0, 1e-18 },
        { "0.0000000000000000001", -ERANGE, 0 },
        { "1.", -EINVAL, 0 },
        { ".5", -EINVAL, 0 },
        { "1e3", -EINVAL, 0 },
        { "inf", -EINVAL, 0 },
        { "nan", -EINVAL, 0 },
        { "0x1p3", -EINVAL, 0 },
        { "1,5", -EINVAL, 0 },
        { "", -EINVAL, 0 },
        { " 1", -EINVAL, 0 },
};

START_TEST(test_safe_atod) {
        double v = 7;
        int r = safe_atod(dbl_cases[_i].s, &v);

        ck_assert_msg(r == dbl_cases[_i].r, "\"%s\": got %d", dbl_cases[_i].s, r);
        /* Exactly the literal's double: the mantissa is divided by an exact power of ten. */
        ck_assert_msg(v == (r == 0 ? dbl_cases[_i].v : 7.0), "\"%s\": got %.20g", dbl_cases[_i].s, v);
}
END_TEST

START_TEST(test_parse_u64_token) {
        const char *end = NULL;
        uint64_t v = 0;

        ck_assert_int_eq(parse_u64_token("123 rest", &end, &v), 0);
        ck_assert_uint_eq(v, 123);
        ck_assert_str_eq(end, " rest");
        ck_assert_int_eq(parse_u64_token("5\n", &end, &v), 0);
        ck_assert_str_eq(end, "\n");
        ck_assert_int_eq(parse_u64_token("77", &end, &v), 0);
        ck_assert_str_eq(end, "");
        ck_assert_int_eq(parse_u64_token("12kB", &end, &v), -EINVAL);
        ck_assert_int_eq(parse_u64_token(" 12", &end, &v), -EINVAL);
        ck_assert_int_eq(parse_u64_token("18446744073709551616 ", &end, &v), -ERANGE);
        ck_assert_int_eq(parse_u64_until("4:memory", ":", &end, &v), 0);
        ck_assert_uint_eq(v, 4);
        ck_assert_str_eq(end, ":memory");
        ck_assert_int_eq(parse_u64_until("4 memory", ":", &end, &v), -EINVAL);
}
END_TEST

START_TEST(test_read_small_file) {
        char *dir = tmptree_new(), path[PATH_MAX], buf[8];
        size_t len = 99;

        snprintf(path, sizeof path, "%s/f", dir);
        write_file(path, "1234567", 7);
        /* Exactly size-1 bytes fit. */
        ck_assert_int_eq(read_small_file(path, buf, sizeof buf, &len), 0);
        ck_assert_uint_eq(len, 7);
        ck_assert_str_eq(buf, "1234567");
        /* One byte more does not, and is not silently cut. */
        write_file(path, "12345678", 8);
        ck_assert_int_eq(read_small_file(path, buf, sizeof buf, &len), -EFBIG);
        write_file(path, "", 0);
        ck_assert_int_eq(read_small_file(path, buf, sizeof buf, &len), 0);
        ck_assert_uint_eq(len, 0);
        ck_assert_str_eq(buf, "");
        snprintf(path, sizeof path, "%s/missing", dir);
        ck_assert_int_eq(read_small_file(path, buf, sizeof buf, &len), -ENOENT);
        ck_assert_int_eq(read_small_file(path, buf, 1, &len), -EINVAL);
        tmptree_rm(dir);
}
END_TEST

static Suite *parse_util_suite(void) {
        Suite *s = suite_create("parse-util");
        TCase *tc = tcase_create("numbers");

        tcase_add_loop_test(tc, test_safe_atou64, 0, ELEMENTSOF(u64_cases));
        tcase_add_loop_test(tc, test_safe_atoi, 0, ELEMENTSOF(int_cases));
        tcase_add_loop_test(tc, test_safe_atod, 0, ELEMENTSOF(dbl_cases));
        tcase_add_test(tc, test_parse_u64_token);
        tcase_add_test(tc, test_read_small_file);
        suite_add_tcase(s, tc);
        return s;
}

MGD_CHECK_MAIN(parse_util_suite)
