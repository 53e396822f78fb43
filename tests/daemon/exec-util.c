/* SPDX-License-Identifier: GPL-2.0-only */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon/pidref.h"
#include "tests/daemon/exec-util.h"

#define CHILDREN_MAX 80
#define DIRS_MAX 16

static pid_t runner_pid;
static pid_t children[CHILDREN_MAX];
static char dirs[DIRS_MAX][PATH_MAX];  /* cgroup dirs (absolute), in creation order */
static size_t n_dirs;
static char tmpdirs[4][PATH_MAX];
static size_t n_tmpdirs;
static char cg2_root[PATH_MAX];

static void rmtree_cgroup(const char *path);

usec_t test_now(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (usec_t) ts.tv_sec * USEC_PER_SEC + (usec_t) ts.tv_nsec / 1000;
}

void test_init(void) {
        runner_pid = getpid();
}

static void on_term_exit(int sig) {
        _exit(0);
}

pid_t test_spawn(const char *name, ChildMode mode) {
        pid_t parent = getpid(), pid;
        int p[2];
        char c;
        size_t i;

        for (i = 0; i < CHILDREN_MAX && children[i] != 0; i++)
                ;
        ck_assert_msg(i < CHILDREN_MAX, "too many test children");
        ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);

        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                (void) close(p[0]);
                /* Dies with the test process, whatever way that ends. */
                if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                        _exit(1);
                (void) prctl(PR_SET_NAME, name);
                /* check's SIGTERM handler (inherited) would kill the whole test's process group. */
                (void) signal(SIGTERM, mode == CHILD_IGNORE_TERM ? SIG_IGN :
                                       mode == CHILD_HANDLE_TERM ? on_term_exit : SIG_DFL);
                (void) signal(SIGINT, SIG_DFL);
                (void) signal(SIGALRM, SIG_DFL);
                if (write(p[1], "x", 1) != 1)
                        _exit(1);
                (void) close(p[1]);
                for (;;)
                        pause();
        }

        children[i] = pid;
        (void) close(p[1]);
        ck_assert_int_eq(read(p[0], &c, 1), 1);
        (void) close(p[0]);
        return pid;
}

void test_forget(pid_t pid) {
        for (size_t i = 0; i < CHILDREN_MAX; i++)
                if (children[i] == pid)
                        children[i] = 0;
}

int test_wait(pid_t pid) {
        int status = 0;

        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        test_forget(pid);
        return status;
}

int test_reap(pid_t pid) {
        /* Our own unreaped child: its pid cannot have been reused. */
        (void) kill(pid, SIGKILL);
        return test_wait(pid);
}

static int read_stat(pid_t pid, char *ret_state, uint64_t *ret_starttime) {
        char path[64], buf[1024], *p, *tok, *save = NULL;
        ssize_t n;
        int fd, field;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
                return -EIO;
        buf[n] = '\0';
        p = strrchr(buf, ')');
        if (!p)
                return -EINVAL;
        /* After "comm)": field 3 is the state, field 22 the starttime. */
        for (field = 3, tok = strtok_r(p + 1, " ", &save); tok; field++, tok = strtok_r(NULL, " ", &save)) {
                if (field == 3)
                        *ret_state = tok[0];
                if (field == 22) {
                        *ret_starttime = strtoull(tok, NULL, 10);
                        return 0;
                }
        }
        return -EINVAL;
}

char test_state(pid_t pid) {
        char state = '?';
        uint64_t st;

        return read_stat(pid, &state, &st) < 0 ? '?' : state;
}

uint64_t test_starttime(pid_t pid) {
        char state;
        uint64_t st = 0;

        ck_assert_int_eq(read_stat(pid, &state, &st), 0);
        ck_assert_uint_gt(st, 0);
        return st;
}

bool test_wait_state(pid_t pid, const char *states, usec_t timeout) {
        usec_t end = test_now() + timeout;

        for (;;) {
                char s = test_state(pid);

                if (s != '?' && strchr(states, s))
                        return true;
                if (test_now() > end)
                        return false;
                usleep(2000);
        }
}

const char *test_cgroup2_root(void) {
        if (cg2_root[0] == '\0')
                ck_assert_int_eq(cgroup2_root_detect(cg2_root, sizeof(cg2_root)), 0);
        return cg2_root;
}

void test_cgroup_mkdir(const char *sub, char *ret_path, size_t size) {
        char base[64], abs[2 * PATH_MAX];

        ck_assert_uint_lt(n_dirs + 1, DIRS_MAX);
        snprintf(base, sizeof(base), "/mgd-test-%d", (int) runner_pid);
        snprintf(abs, sizeof(abs), "%s%s", test_cgroup2_root(), base);
        if (mkdir(abs, 0755) == 0)
                strcpy(dirs[n_dirs++], abs);
        else
                ck_assert_int_eq(errno, EEXIST);

        ck_assert_int_lt(snprintf(ret_path, size, "%s%s", base, sub), (int) size);
        snprintf(abs, sizeof(abs), "%s%s", test_cgroup2_root(), ret_path);
        /* Left by an earlier case of this runner that failed (check skips the teardown then). */
        if (mkdir(abs, 0755) < 0 && errno == EEXIST) {
                rmtree_cgroup(abs);
                (void) mkdir(abs, 0755);
        }
        ck_assert_msg(access(abs, F_OK) == 0, "mkdir %s: %s", abs, strerror(errno));
        strcpy(dirs[n_dirs++], abs);
}

void test_cgroup_write(const char *path, const char *file, const char *value) {
        char abs[2 * PATH_MAX];
        int fd;

        snprintf(abs, sizeof(abs), "%s%s/%s", test_cgroup2_root(), path, file);
        fd = open(abs, O_WRONLY | O_CLOEXEC);
        ck_assert_msg(fd >= 0, "open %s: %s", abs, strerror(errno));
        ck_assert_msg(write(fd, value, strlen(value)) == (ssize_t) strlen(value), "write %s: %s", abs,
                      strerror(errno));
        close(fd);
}

void test_cgroup_move(const char *path, pid_t pid) {
        char v[32];

        snprintf(v, sizeof(v), "%d", (int) pid);
        test_cgroup_write(path, "cgroup.procs", v);
}

int test_cgroup_frozen(const char *path) {
        char abs[2 * PATH_MAX], buf[256], *l;
        ssize_t n;
        int fd;

        snprintf(abs, sizeof(abs), "%s%s/cgroup.events", test_cgroup2_root(), path);
        fd = open(abs, O_RDONLY | O_CLOEXEC);
        ck_assert_msg(fd >= 0, "open %s: %s", abs, strerror(errno));
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        ck_assert_int_gt(n, 0);
        buf[n] = '\0';
        l = strstr(buf, "frozen ");
        ck_assert_ptr_nonnull(l);
        return l[7] == '1';
}

bool test_cgroup_wait_frozen(const char *path, int want, usec_t timeout) {
        usec_t end = test_now() + timeout;

        while (test_cgroup_frozen(path) != want) {
                if (test_now() > end)
                        return false;
                usleep(2000);
        }
        return true;
}

void test_tmpdir(char *ret_path, size_t size) {
        char t[64];

        ck_assert_uint_lt(n_tmpdirs, ELEMENTSOF(tmpdirs));
        snprintf(t, sizeof(t), "/tmp/mgd-exec-test-%d-XXXXXX", (int) runner_pid);
        ck_assert_ptr_nonnull(mkdtemp(t));
        strcpy(tmpdirs[n_tmpdirs++], t);
        ck_assert_uint_lt(strlen(t), size);
        strcpy(ret_path, t);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) remove(path);
        return 0;
}

/* rmdir, waiting out the moments a SIGKILLed member needs to leave the cgroup. */
static void rmdir_patiently(const char *path) {
        for (int i = 0; i < 500; i++) {
                if (rmdir(path) == 0 || errno == ENOENT)
                        return;
                if (errno != EBUSY)
                        break;
                usleep(2000);
        }
        fprintf(stderr, "# could not remove %s: %s\n", path, strerror(errno));
}

void test_cleanup(void) {
        for (size_t i = 0; i < CHILDREN_MAX; i++)
                if (children[i] > 0)
                        (void) test_reap(children[i]);
        while (n_dirs > 0)
                rmdir_patiently(dirs[--n_dirs]);
        while (n_tmpdirs > 0)
                (void) nftw(tmpdirs[--n_tmpdirs], rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static void rmtree_cgroup(const char *path) {
        DIR *d = opendir(path);
        struct dirent *de;

        if (!d)
                return;
        while ((de = readdir(d))) {
                char sub[2 * PATH_MAX];

                if (de->d_type != DT_DIR || strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
                rmtree_cgroup(sub);
        }
        closedir(d);
        rmdir_patiently(path);
}

void test_cleanup_tmp(void) {
        char pattern[64];
        glob_t g = {};

        /* Temporary directories of cases that failed (and so skipped test_cleanup()). */
        snprintf(pattern, sizeof(pattern), "/tmp/mgd-exec-test-%d-*", (int) runner_pid);
        if (glob(pattern, 0, NULL, &g) == 0)
                for (size_t i = 0; i < g.gl_pathc; i++)
                        (void) nftw(g.gl_pathv[i], rm_one, 8, FTW_DEPTH | FTW_PHYS);
        globfree(&g);
}

void test_cleanup_tree(void) {
        char abs[2 * PATH_MAX];

        test_cleanup_tmp();
        if (cg2_root[0] == '\0' && cgroup2_root_detect(cg2_root, sizeof(cg2_root)) < 0)
                return;
        snprintf(abs, sizeof(abs), "%s/mgd-test-%d", cg2_root, (int) runner_pid);
        rmtree_cgroup(abs);
}
