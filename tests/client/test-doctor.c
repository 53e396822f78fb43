/* SPDX-License-Identifier: GPL-2.0-only */
/* client/doctor.c against fixture trees: what each item says for a good, a broken and an old system. */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "../check-main.h"
#include "../common/fixture.h"
#include "client/doctor.h"

#define PSI_TEXT "some avg10=1.50 avg60=0.80 avg300=0.20 total=123456\nfull avg10=0.50 avg60=0.10 avg300=0.00 total=4567\n"
#define MM_STAT "10485760 2621440 3145728 0 3145728 0 7 0 0\n"

typedef struct Tree {
        char *dir;
        char proc[PATH_MAX], sys[PATH_MAX], cg2[PATH_MAX], session[PATH_MAX], helpers[PATH_MAX], state[PATH_MAX];
        DoctorOptions o;
} Tree;

static void mkdirs(const char *base, const char *rel) {
        char p[PATH_MAX];

        ck_assert_int_lt(snprintf(p, sizeof p, "%s/%s", base, rel), (int) sizeof p);
        ck_assert_int_eq(mkdir_p(p, 0755), 0);
}

/* A healthy machine: PSI, a delegated session, a zram swap, the helpers (without grants), a config. */
static void tree_new(Tree *t) {
        char rel[PATH_MAX];

        *t = (Tree) { .dir = tmptree_new() };
        (void) snprintf(t->proc, sizeof t->proc, "%s/proc", t->dir);
        (void) snprintf(t->sys, sizeof t->sys, "%s/sys", t->dir);
        (void) snprintf(t->cg2, sizeof t->cg2, "%s/cgroup", t->dir);
        (void) snprintf(t->helpers, sizeof t->helpers, "%s/libexec", t->dir);
        (void) snprintf(t->state, sizeof t->state, "%s/state", t->dir);
        mkdirs(t->proc, "pressure");
        mkdirs(t->proc, "self");
        mkdirs(t->proc, "sys/kernel");
        write_text(t->proc, "pressure/memory", PSI_TEXT);
        write_text(t->proc, "sys/kernel/osrelease", "6.18.44\n");
        write_text(t->proc, "swaps", "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
                   "/dev/zram0                              partition\t4194300\t\t1024\t\t100\n");
        (void) snprintf(rel, sizeof rel, "0::/user.slice/user-%u.slice/user@%u.service/app.slice/x.scope\n",
                        (unsigned) getuid(), (unsigned) getuid());
        write_text(t->proc, "self/cgroup", rel);
        (void) snprintf(rel, sizeof rel, "user.slice/user-%u.slice/user@%u.service", (unsigned) getuid(),
                        (unsigned) getuid());
        mkdirs(t->cg2, rel);
        ck_assert_int_lt(snprintf(t->session, sizeof t->session, "%s/%s", t->cg2, rel), (int) sizeof t->session);
        write_text(t->session, "cgroup.controllers", "cpu memory pids\n");
        write_text(t->session, "memory.pressure", PSI_TEXT);
        write_text(t->session, "cgroup.freeze", "0\n");
        write_text(t->session, "memory.reclaim", "");
        mkdirs(t->sys, "block/zram0");
        mkdirs(t->sys, "block/zram10x");     /* a lookalike: not a zram device */
        mkdirs(t->sys, "block/vda");
        write_text(t->sys, "block/zram0/disksize", "4294967296\n");
        write_text(t->sys, "block/zram0/comp_algorithm", "lzo lzo-rle [zstd] lz4\n");
        write_text(t->sys, "block/zram0/mm_stat", MM_STAT);
        write_text(t->sys, "block/zram0/compact", "");
        mkdirs(t->helpers, ".");
        write_text(t->helpers, "mgd-psi-helper", "#!/bin/sh\n");
        write_text(t->helpers, "mgd-zram-helper", "#!/bin/sh\n");
        write_text(t->helpers, "mgd-swap-helper", "#!/bin/sh\n");
        ck_assert_int_lt(snprintf(rel, sizeof rel, "%s/mgd-psi-helper", t->helpers), (int) sizeof rel);
        ck_assert_int_eq(chmod(rel, 0755), 0);
        ck_assert_int_lt(snprintf(rel, sizeof rel, "%s/mgd-zram-helper", t->helpers), (int) sizeof rel);
        ck_assert_int_eq(chmod(rel, 0755), 0);
        write_text(t->dir, "mgd.conf", "[defaults]\nelevated_threshold = 0.06\n");
        t->o = (DoctorOptions) {
                .proc_root = t->proc, .sys_root = t->sys, .cgroup2_root = t->cg2, .helper_dir = t->helpers,
                .criu_path = "/nonexistent/criu", .state_dir = t->state, .uid = getuid(),
        };
        (void) snprintf(t->o.config.user, sizeof t->o.config.user, "%s/mgd.conf", t->dir);
}

static const DoctorItem *item(const DoctorReport *r, const char *id) {
        for (size_t i = 0; i < r->n; i++)
                if (strcmp(r->items[i].id, id) == 0)
                        return &r->items[i];
        ck_abort_msg("no item '%s'", id);
        return NULL;
}

static void expect(const DoctorReport *r, const char *id, DoctorStatus st, const char *found, const char *fix) {
        const DoctorItem *it = item(r, id);

        ck_assert_msg(it->status == st, "%s: status %s, want %s (%s)", id, doctor_status_to_string(it->status),
                      doctor_status_to_string(st), it->found);
        ck_assert_msg(!found || strstr(it->found, found) || strstr(it->effect, found), "%s: '%s' / '%s' lack '%s'",
                      id, it->found, it->effect, found);
        ck_assert_msg(fix ? strstr(it->fix, fix) != NULL : it->fix[0] == '\0', "%s: fix '%s', want '%s'", id, it->fix,
                      fix ?: "");
}

START_TEST(test_healthy) {
        static DoctorReport r;
        Tree t;

        tree_new(&t);
        r.n = 0;
        doctor_check_environment(&r, &t.o);
        expect(&r, "kernel", DOCTOR_OK, "Linux 6.18.44", NULL);
        expect(&r, "psi", DOCTOR_OK, "some avg10 1.50, full avg10 0.50", NULL);
        expect(&r, "psi-trigger", DOCTOR_INFO, "not a kernel pressure file", NULL);
        expect(&r, "cgroup2", DOCTOR_OK, t.cg2, NULL);
        expect(&r, "session", DOCTOR_OK, t.session, NULL);
        expect(&r, "controllers", DOCTOR_OK, "cpu memory pids", NULL);
        expect(&r, "session-pressure", DOCTOR_INFO, "readable (not a kernel file", NULL);
        expect(&r, "cache-drop", DOCTOR_OK, "memory.reclaim takes swappiness=0", NULL);
        {       /* the probe asked to reclaim nothing */
                char path[PATH_MAX], buf[64] = "";
                FILE *f;

                ck_assert_int_lt(snprintf(path, sizeof path, "%s/memory.reclaim", t.session), (int) sizeof path);
                ck_assert_ptr_nonnull(f = fopen(path, "re"));
                ck_assert_ptr_nonnull(fgets(buf, sizeof buf, f));
                fclose(f);
                ck_assert_str_eq(buf, "0 swappiness=0");
        }
        expect(&r, "swap", DOCTOR_OK, "/dev/zram0 (4095 MiB, 1 used)", NULL);
        expect(&r, "zram", DOCTOR_OK, "zram0: disksize 4294967296 bytes, zstd, 10 MiB stored in 3 MiB", NULL);
        expect(&r, "helper:psi", DOCTOR_WARN, "file capabilities: none", "sudo setcap cap_sys_resource+ep");
        expect(&r, "helper:zram", DOCTOR_OK, "no capability needed", NULL);
        expect(&r, "helper:checkpoint", DOCTOR_WARN, "No such file", "meson install");
        expect(&r, "criu", DOCTOR_INFO, "/nonexistent/criu", "sudo apt install criu");
        expect(&r, "config", DOCTOR_OK, "rules; system none, user", NULL);
        expect(&r, "history", DOCTOR_INFO, "no pressure history", NULL);
        ck_assert(!doctor_failed(&r));
        /* the lookalike zram10x and vda are not zram devices: one zram item only */
        size_t zram = 0;
        for (size_t i = 0; i < r.n; i++)
                zram += strcmp(r.items[i].id, "zram") == 0;
        ck_assert_uint_eq(zram, 1);
        tmptree_rm(t.dir);
}
END_TEST

START_TEST(test_broken) {
        static DoctorReport r;
        char path[PATH_MAX];
        Tree t;

        tree_new(&t);
        ck_assert_int_lt(snprintf(path, sizeof path, "%s/pressure/memory", t.proc), (int) sizeof path);
        ck_assert_int_eq(unlink(path), 0);
        write_text(t.proc, "sys/kernel/osrelease", "6.1.0-27-amd64\n");
        write_text(t.proc, "swaps", "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n");
        write_text(t.dir, "mgd.conf", "[defaults]\nelevated_threshold = 0.06\n[app \"x\"]\npattern = (\n");
        mkdirs(t.state, ".");
        write_text(t.state, "history", "mgd-history 1\nsince 1\nsince 2\n");
        write_text(t.session, "cgroup.controllers", "pids\n");
        ck_assert_int_lt(snprintf(path, sizeof path, "%s/memory.reclaim", t.session), (int) sizeof path);
        ck_assert_int_eq(unlink(path), 0);
        r.n = 0;
        doctor_check_environment(&r, &t.o);
        expect(&r, "kernel", DOCTOR_WARN, "unprivileged 2 s PSI triggers (6.5): no", NULL);
        expect(&r, "psi", DOCTOR_FAIL, "No such file", "psi=1");
        expect(&r, "swap", DOCTOR_WARN, "no swap", "zram");
        expect(&r, "controllers", DOCTOR_INFO, "memory: no, cpu: no", "Delegate=cpu memory pids");
        expect(&r, "cache-drop", DOCTOR_INFO, "No such file", "the memory controller must be delegated");
        expect(&r, "config", DOCTOR_FAIL, "mgd.conf:4: [app \"x\"] pattern = (: invalid regular expression",
               "mgd --check-config");
        expect(&r, "history", DOCTOR_WARN, "history:3: duplicate key 'since'", NULL);
        ck_assert(doctor_failed(&r));
        tmptree_rm(t.dir);
}
END_TEST

START_TEST(test_old_kernel_no_cgroup2) {
        static DoctorReport r;
        Tree t;

        tree_new(&t);
        write_text(t.proc, "sys/kernel/osrelease", "5.2.21\n");
        write_text(t.proc, "self/mountinfo", "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/vda rw\n");
        t.o.cgroup2_root = NULL;
        r.n = 0;
        doctor_check_environment(&r, &t.o);
        expect(&r, "kernel", DOCTOR_FAIL, "pidfd_open() (5.3)", "5.3 or newer");
        expect(&r, "cgroup2", DOCTOR_WARN, "no cgroup2 mount", "systemd.unified_cgroup_hierarchy=1");
        ck_assert(doctor_failed(&r));

        /* the mount found from mountinfo */
        char text[PATH_MAX + 128];
        (void) snprintf(text, sizeof text, "30 22 0:26 / %s rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n", t.cg2);
        write_text(t.proc, "self/mountinfo", text);
        r.n = 0;
        doctor_check_environment(&r, &t.o);
        expect(&r, "cgroup2", DOCTOR_OK, t.cg2, NULL);
        expect(&r, "session", DOCTOR_OK, "user@", NULL);
        tmptree_rm(t.dir);
}
END_TEST

START_TEST(test_unit) {
        static const struct { const char *text; DoctorStatus st; const char *found, *fix; } t[] = {
                { "LoadState=loaded\nUnitFileState=enabled\nActiveState=active\nSubState=running\nMainPID=4242\n",
                  DOCTOR_OK, "enabled, active (running), main pid 4242", NULL },
                { "MainPID=0\nLoadState=loaded\nUnitFileState=disabled\nActiveState=inactive\nSubState=dead\n",
                  DOCTOR_WARN, "disabled, inactive (dead)", "systemctl --user enable --now mgd.service" },
                { "LoadState=not-found\nActiveState=inactive\n", DOCTOR_WARN, "mgd.service: not-found", "./install.sh" },
                { "", DOCTOR_WARN, "unknown to systemctl --user", "./install.sh" },
        };
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                static DoctorReport r;

                r.n = 0;
                doctor_unit_from_show(&r, t[i].text);
                expect(&r, "unit", t[i].st, t[i].found, t[i].fix);
        }
}
END_TEST

/* Whatever a file says reaches the terminal and JSON escaped. */
START_TEST(test_output) {
        static DoctorReport r;
        char *buf = NULL;
        size_t len = 0;
        FILE *f;

        r.n = 0;
        doctor_add(&r, "x", DOCTOR_FAIL, "a \033[31mred\033[0m \"name\"\n");
        doctor_fix(doctor_add(&r, "y", DOCTOR_OK, "fine"), "do \\ this");
        f = open_memstream(&buf, &len);
        doctor_print_json(f, &r);
        fclose(f);
        ck_assert_str_eq(buf, "{\"items\":[{\"id\":\"x\",\"status\":\"fail\",\"found\":\"a \\u001b[31mred\\u001b[0m "
                         "\\\"name\\\"\\u000a\",\"effect\":null,\"fix\":null},{\"id\":\"y\",\"status\":\"ok\","
                         "\"found\":\"fine\",\"effect\":null,\"fix\":\"do \\\\ this\"}],\"ok\":1,\"info\":0,"
                         "\"warn\":0,\"fail\":1}\n");
        free(buf);
        f = open_memstream(&buf, &len);
        doctor_print(f, &r);
        fclose(f);
        ck_assert_ptr_null(strchr(buf, '\033'));
        ck_assert_ptr_nonnull(strstr(buf, "FAIL  x                      a ?[31mred?[0m \"name\"?\n"));
        ck_assert_ptr_nonnull(strstr(buf, "fix: do \\ this\n"));
        ck_assert_ptr_nonnull(strstr(buf, "1 ok, 0 info, 0 warnings, 1 failures"));
        free(buf);
}
END_TEST

static Suite *doctor_suite(void) {
        Suite *s = suite_create("doctor");
        TCase *tc = tcase_create("doctor");

        tcase_add_test(tc, test_healthy);
        tcase_add_test(tc, test_broken);
        tcase_add_test(tc, test_old_kernel_no_cgroup2);
        tcase_add_test(tc, test_unit);
        tcase_add_test(tc, test_output);
        suite_add_tcase(s, tc);
        return s;
}

MGD_CHECK_MAIN(doctor_suite)
