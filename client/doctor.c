/* SPDX-License-Identifier: GPL-2.0-only */
/* The checks of mgctl doctor (doctor.h). Each one reads, never writes (a PSI trigger is closed again). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "build-config.h"
#include "client/doctor.h"
#include "client/text.h"
#include "common/readers.h"
#include "common/sandbox.h"
#include "daemon/cgstate.h"
#include "daemon/history.h"
#include "daemon/pidref.h"
#include "daemon/psi-trigger.h"

#define USEC(ms) ((usec_t) (ms) * USEC_PER_MSEC)
#define SYSTEMCTL_TIMEOUT_MS 5000

typedef struct Ctx {
        const DoctorOptions *o;
        char psi[PATH_MAX];             /* <proc>/pressure/memory */
        char cg2[PATH_MAX];             /* the cgroup2 mount, "" if none */
        char session[PATH_MAX];         /* user@UID.service under cg2, "" if not found */
        char helper_dir[PATH_MAX - 64]; /* room for a helper name after it */
} Ctx;

static const char *const status_names[_DOCTOR_STATUS_MAX] = {
        [DOCTOR_OK] = "ok", [DOCTOR_INFO] = "info", [DOCTOR_WARN] = "warn", [DOCTOR_FAIL] = "fail",
};

const char *doctor_status_to_string(DoctorStatus s) {
        return (unsigned) s < _DOCTOR_STATUS_MAX ? status_names[s] : "?";
}

DoctorItem *doctor_add(DoctorReport *r, const char *id, DoctorStatus st, const char *fmt, ...) {
        DoctorItem *it = &r->items[r->n < DOCTOR_ITEMS_MAX ? r->n++ : DOCTOR_ITEMS_MAX - 1];
        va_list ap;

        *it = (DoctorItem) { .status = st };
        (void) snprintf(it->id, sizeof it->id, "%s", id);
        va_start(ap, fmt);
        (void) vsnprintf(it->found, sizeof it->found, fmt, ap);
        va_end(ap);
        return it;
}

void doctor_effect(DoctorItem *it, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(it->effect, sizeof it->effect, fmt, ap);
        va_end(ap);
}

void doctor_fix(DoctorItem *it, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(it->fix, sizeof it->fix, fmt, ap);
        va_end(ap);
}

/* A small text file, its trailing newline cut; -errno. */
static int read_line_file(const char *path, char *buf, size_t size) {
        size_t len = 0;
        int r = read_small_file(path, buf, size, &len);

        if (r < 0)
                return r;
        while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
                buf[--len] = '\0';
        return 0;
}

static const char *join(char *buf, size_t size, const char *a, const char *b) {
        if (snprintf(buf, size, "%s/%s", a, b) >= (int) size)
                buf[0] = '\0';
        return buf;
}

#define PATHJOIN(a, b) join((char[PATH_MAX]) {}, PATH_MAX, (a), (b))

static void closedirp(DIR **d) {
        if (*d)
                (void) closedir(*d);
}

/* Is word one of the space-separated words of list? */
static bool has_word(const char *list, const char *word) {
        size_t n = strlen(word);

        for (const char *p = list; (p = strstr(p, word)); p += n)
                if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
                        return true;
        return false;
}

/* ---- kernel and PSI ---- */

static void check_kernel(Ctx *c, DoctorReport *r) {
        char rel[128];
        unsigned maj = 0, min = 0;
        DoctorItem *it;

        if (read_line_file(PATHJOIN(c->o->proc_root, "sys/kernel/osrelease"), rel, sizeof rel) < 0 ||
            sscanf(rel, "%u.%u", &maj, &min) != 2) {
                doctor_add(r, "kernel", DOCTOR_WARN, "cannot read the kernel release from %s/sys/kernel/osrelease",
                           c->o->proc_root);
                return;
        }
#define KV(a, b) (maj > (a) || (maj == (a) && min >= (b)))
        if (!KV(5, 3)) {
                it = doctor_add(r, "kernel", DOCTOR_FAIL, "Linux %s", rel);
                doctor_effect(it, "mgd needs pidfd_open() (5.3) to signal processes safely");
                doctor_fix(it, "boot a kernel 5.3 or newer (5.19+ for every feature)");
                return;
        }
        it = doctor_add(r, "kernel", KV(6, 5) ? DOCTOR_OK : DOCTOR_WARN, "Linux %s", rel);
        doctor_effect(it, "pidfds: yes; cgroup PSI and cgroup.freeze (5.2): yes; process_mrelease (5.15): %s;"
                      " unprivileged 2 s PSI triggers (6.5): %s", KV(5, 15) ? "yes" : "no",
                      KV(6, 5) ? "yes" : "no, mgd polls PSI unless the PSI helper is granted");
#undef KV
}

static void check_psi(Ctx *c, DoctorReport *r) {
        PsiStats st;
        DoctorItem *it;
        int k;

        (void) snprintf(c->psi, sizeof c->psi, "%s/pressure/memory", c->o->proc_root);
        k = psi_read(c->psi, &st);
        if (k < 0) {
                it = doctor_add(r, "psi", DOCTOR_FAIL, "%s: %s", c->psi, strerror(-k));
                doctor_effect(it, "mgd cannot run without Pressure Stall Information");
                doctor_fix(it, k == -ENOENT ? "add psi=1 to the kernel command line (CONFIG_PSI_DEFAULT_DISABLED"
                           " kernels; e.g. GRUB_CMDLINE_LINUX in /etc/default/grub, then sudo update-grub) and reboot" :
                           "make the file readable (it is world-readable on a normal kernel)");
                c->psi[0] = '\0';
                return;
        }
        it = doctor_add(r, "psi", DOCTOR_OK, "%s: some avg10 %.2f, full avg10 %.2f", c->psi, st.some.avg10,
                        st.has_full ? st.full.avg10 : 0.0);
        doctor_effect(it, "mgd can measure memory pressure");
}

/* 0 armed (and closed), 1 not a kernel file, or -errno. */
static int try_trigger(const char *path, usec_t window) {
        int fd;

        if (!psi_file_is_kernel(path))
                return 1;
        fd = psi_trigger_open(path, "some", USEC(150), window);
        if (fd < 0)
                return fd;
        (void) close(fd);
        return 0;
}

static void check_psi_triggers(Ctx *c, DoctorReport *r) {
        char helper[PATH_MAX];
        DoctorItem *it;
        int k;

        if (!c->psi[0])
                return;
        k = try_trigger(c->psi, 2 * USEC_PER_SEC);
        if (k == 1) {
                doctor_add(r, "psi-trigger", DOCTOR_INFO, "%s is not a kernel pressure file: not tried", c->psi);
                return;
        }
        it = doctor_add(r, "psi-trigger", k == 0 ? DOCTOR_OK : DOCTOR_WARN, k == 0 ?
                        "a 2 s trigger on %s was armed and closed again" : "a 2 s trigger on %s: %s", c->psi,
                        strerror(-k));
        doctor_effect(it, k == 0 ? "mgd sleeps until stall begins (2 s windows)" :
                      "mgd polls PSI every slow_tick instead of waking on stall");
        if (k < 0)
                doctor_fix(it, "a kernel 6.5 or newer accepts 2 s triggers from any user");

        k = try_trigger(c->psi, 1 * USEC_PER_SEC);
        (void) snprintf(helper, sizeof helper, "%s/mgd-psi-helper", c->helper_dir);
        if (k == 0) {
                it = doctor_add(r, "psi-subsecond", DOCTOR_OK, "a 1 s trigger was armed: this process holds"
                                " CAP_SYS_RESOURCE");
                return;
        }
        if (sandbox_file_caps(helper, SANDBOX_CAP(CAP_SYS_RESOURCE)) == 0) {
                it = doctor_add(r, "psi-subsecond", DOCTOR_OK, "a 1 s window is refused here (%s), but %s holds"
                                " cap_sys_resource", strerror(-k), helper);
                doctor_effect(it, "mgd gets sub-second triggers from the PSI helper");
                return;
        }
        it = doctor_add(r, "psi-subsecond", DOCTOR_WARN, "a 1 s window is refused (%s): sub-second windows need"
                        " CAP_SYS_RESOURCE, and %s does not hold it", strerror(-k), helper);
        doctor_effect(it, "mgd uses 2 s windows: the first action comes up to 2 s after stall begins");
        doctor_fix(it, "%ssudo setcap cap_sys_resource+ep %s", access(helper, F_OK) < 0 ?
                   "install mgd's helpers (meson install -C build), then: " : "", helper);
}

/* ---- cgroups ---- */

static void find_session(Ctx *c) {
        char text[4096], want[64], *p;
        ProcCgroup cg;
        struct stat st;

        (void) snprintf(want, sizeof want, "user@%u.service", (unsigned) c->o->uid);
        if (read_small_file(PATHJOIN(c->o->proc_root, "self/cgroup"), text, sizeof text, NULL) >= 0 &&
            proc_cgroup_parse(text, &cg) >= 0 && cg.has_unified && (p = strstr(cg.unified, want)) &&
            p[-1] == '/' && (p[strlen(want)] == '/' || p[strlen(want)] == '\0')) {
                p[strlen(want)] = '\0';
                (void) snprintf(c->session, sizeof c->session, "%s%s", c->cg2, cg.unified);
                return;
        }
        (void) snprintf(c->session, sizeof c->session, "%s/user.slice/user-%u.slice/%s", c->cg2,
                        (unsigned) c->o->uid, want);
        if (stat(c->session, &st) < 0 || !S_ISDIR(st.st_mode))
                c->session[0] = '\0';
}

static void check_cgroup2(Ctx *c, DoctorReport *r) {
        char text[65536];
        DoctorItem *it;
        int k = 0;

        if (c->o->cgroup2_root)
                (void) snprintf(c->cg2, sizeof c->cg2, "%s", c->o->cgroup2_root);
        else if ((k = read_small_file(PATHJOIN(c->o->proc_root, "self/mountinfo"), text, sizeof text, NULL)) >= 0)
                k = cgroup2_root_from_mountinfo(text, c->cg2, sizeof c->cg2);
        if (k < 0) {
                c->cg2[0] = '\0';
                it = doctor_add(r, "cgroup2", DOCTOR_WARN, "no cgroup2 mount (%s)", strerror(-k));
                doctor_effect(it, "freezing with SIGSTOP only, global PSI only");
                doctor_fix(it, "boot with systemd.unified_cgroup_hierarchy=1 on the kernel command line");
                return;
        }
        it = doctor_add(r, "cgroup2", DOCTOR_OK, "cgroup2 at %s%s", c->cg2,
                        strstr(c->cg2, "/unified") ? " (a hybrid v1/v2 setup)" : "");
        find_session(c);
        if (!c->session[0]) {
                it = doctor_add(r, "session", DOCTOR_WARN, "no user@%u.service cgroup under %s",
                                (unsigned) c->o->uid, c->cg2);
                doctor_effect(it, "no session PSI and no cgroup freezing; mgd also manages user-%u.slice",
                              (unsigned) c->o->uid);
                doctor_fix(it, "log in through a systemd session (pam_systemd), or: sudo loginctl enable-linger %s",
                           getenv("USER") ?: "$USER");
                return;
        }
        doctor_add(r, "session", DOCTOR_OK, "%s", c->session);
}

static void check_controllers(Ctx *c, DoctorReport *r) {
        char ctl[256] = "";
        bool mem, cpu;
        DoctorItem *it;

        (void) read_line_file(PATHJOIN(c->session, "cgroup.controllers"), ctl, sizeof ctl);
        mem = has_word(ctl, "memory");
        cpu = has_word(ctl, "cpu");
        it = doctor_add(r, "controllers", mem && cpu ? DOCTOR_OK : DOCTOR_INFO, "delegated to the session: %s",
                        ctl[0] ? ctl : "none");
        doctor_effect(it, "memory: %s, cpu: %s (for memory caps and CPU throttling, not in this mgd yet)",
                      mem ? "yes" : "no", cpu ? "yes" : "no");
        if (!mem || !cpu)
                doctor_fix(it, "sudo mkdir -p /etc/systemd/system/user@.service.d && printf '[Service]\\nDelegate=cpu"
                           " memory pids\\n' | sudo tee /etc/systemd/system/user@.service.d/delegate.conf");
}

static void check_session_files(Ctx *c, DoctorReport *r) {
        const char *pressure = PATHJOIN(c->session, "memory.pressure");
        const char *freeze = PATHJOIN(c->session, "cgroup.freeze");
        PsiStats st;
        DoctorItem *it;
        int k = psi_read(pressure, &st);

        if (k >= 0)
                k = access(pressure, W_OK) < 0 ? -errno : try_trigger(pressure, 2 * USEC_PER_SEC);
        it = doctor_add(r, "session-pressure", k == 0 ? DOCTOR_OK : k == 1 ? DOCTOR_INFO : DOCTOR_WARN,
                        k == 0 ? "%s: readable, a 2 s trigger was armed and closed" : k == 1 ?
                        "%s: readable (not a kernel file: no trigger tried)" : "%s: %s", pressure, strerror(-k));
        doctor_effect(it, k < 0 ? "mgd watches global PSI only, which other CPUs' idle time dilutes" :
                      "mgd watches the session's own stall");
        if (k == -EACCES || k == -EPERM)
                doctor_fix(it, "systemd 254 or newer delegates it to the user; until then: sudo chown %s %s",
                           getenv("USER") ?: "$USER", pressure);

        k = access(freeze, W_OK) < 0 ? -errno : 0;
        it = doctor_add(r, "cgroup-freeze", k == 0 ? DOCTOR_OK : DOCTOR_WARN, k == 0 ? "%s: writable" : "%s: %s",
                        freeze, strerror(-k));
        doctor_effect(it, k == 0 ? "apps alone in their app-*.scope are frozen with cgroup.freeze" :
                      "every freeze is a SIGSTOP, visible to parents and undone by any SIGCONT");
        if (k < 0)
                doctor_fix(it, "sudo mkdir -p /etc/systemd/system/user@.service.d && printf '[Service]\\nDelegate=yes\\n'"
                           " | sudo tee /etc/systemd/system/user@.service.d/delegate.conf (then log in again)");
}

/* The page-cache drop at High: memory.reclaim's swappiness= key, tried with a reclaim of nothing. */
static void check_cache_drop(Ctx *c, DoctorReport *r) {
        const char *rel = c->session + strlen(c->cg2);
        DoctorItem *it;
        int k = cg_cache_drop_probe(c->cg2, rel[0] ? rel : "/");

        it = doctor_add(r, "cache-drop", k == 0 ? DOCTOR_OK : DOCTOR_INFO, k == 0 ?
                        "%s/memory.reclaim takes swappiness=0" : k == -EINVAL ?
                        "%s/memory.reclaim does not take swappiness= (Linux 6.13 and newer do)" :
                        "%s/memory.reclaim: %s", c->session, strerror(-k));
        doctor_effect(it, k == 0 ? "at High mgd drops the page cache of the expendable and idle apps (file pages only)" :
                      "no page-cache drop at High; freezing, the caps and reclaim into swap still work");
        if (k == -ENOENT)
                doctor_fix(it, "the memory controller must be delegated to the session (see 'controllers')");
}

/* ---- swap and zram ---- */

static void check_swap(Ctx *c, DoctorReport *r) {
        SwapDevice devs[SWAPS_MAX];
        size_t n = 0, zram = 0, len = 0;
        char list[400] = "";
        DoctorItem *it;
        int k = swaps_read(c->o->proc_root, devs, SWAPS_MAX, &n);

        if (k < 0) {
                doctor_add(r, "swap", DOCTOR_WARN, "cannot read %s/swaps: %s", c->o->proc_root, strerror(-k));
                return;
        }
        for (size_t i = 0; i < n; i++) {
                zram += devs[i].is_zram;
                len += (size_t) snprintf(list + len, sizeof list - MIN(len, sizeof list), "%s%s (%llu MiB, %llu used)",
                                         i ? ", " : "", devs[i].path, (unsigned long long) devs[i].size_kb / 1024,
                                         (unsigned long long) devs[i].used_kb / 1024);
                len = MIN(len, sizeof list - 1);
        }
        it = doctor_add(r, "swap", n == 0 ? DOCTOR_WARN : DOCTOR_OK, "%s", n ? list : "no swap");
        doctor_effect(it, n == 0 ? "the score is PSI only, and a spike goes straight to the OOM killer with nothing"
                      " to swap to" : "%zu zram, %zu other device(s)", zram, n - zram);
        if (n == 0)
                doctor_fix(it, "sudo apt install systemd-zram-generator (or zram-tools), or: sudo modprobe zram &&"
                           " echo 4G | sudo tee /sys/block/zram0/disksize && sudo mkswap /dev/zram0 && sudo swapon -p 100"
                           " /dev/zram0");
}

/* One zram device: size, algorithm, use, and whether its compact node is writable. */
static void zram_device(Ctx *c, DoctorReport *r, const char *name) {
        char dir[PATH_MAX], size[32] = "?", alg[128] = "?", *sel, *end;
        ZramMmStat mm = {};
        unsigned idx = (unsigned) strtoul(name + 4, NULL, 10);
        bool writable;
        DoctorItem *it;

        (void) snprintf(dir, sizeof dir, "%s/block/%s", c->o->sys_root, name);
        (void) read_line_file(PATHJOIN(dir, "disksize"), size, sizeof size);
        (void) read_line_file(PATHJOIN(dir, "comp_algorithm"), alg, sizeof alg);
        if ((sel = strchr(alg, '[')) && (end = strchr(sel, ']'))) {
                *end = '\0';
                memmove(alg, sel + 1, strlen(sel + 1) + 1);
        }
        (void) zram_mm_stat_read(c->o->sys_root, idx, &mm);
        if (strcmp(size, "0") == 0) {
                doctor_add(r, "zram", DOCTOR_INFO, "%s: not initialised (disksize 0), not in use", name);
                return;
        }
        writable = access(PATHJOIN(dir, "compact"), W_OK) == 0;
        it = doctor_add(r, "zram", writable ? DOCTOR_OK : DOCTOR_WARN, "%s: disksize %s bytes, %s, %llu MiB stored in"
                        " %llu MiB", name, size, alg, (unsigned long long) (mm.orig_data_size >> 20),
                        (unsigned long long) (mm.mem_used_total >> 20));
        doctor_effect(it, writable ? "compact is writable: zram compaction works" :
                      "compact is not writable by this user: no zram compaction at Elevated");
        if (!writable)
                doctor_fix(it, "sudo systemd-tmpfiles --create mgd.conf && sudo usermod -aG mgd %s (then log in again)",
                           getenv("USER") ?: "$USER");
}

static void check_zram(Ctx *c, DoctorReport *r) {
        _cleanup_(closedirp) DIR *d = opendir(PATHJOIN(c->o->sys_root, "block"));
        size_t before = r->n;

        /* never /sys/class/zram-control: reading its hot_add creates a device */
        for (struct dirent *de; d && (de = readdir(d));)
                if (strncmp(de->d_name, "zram", 4) == 0 && de->d_name[4] >= '0' && de->d_name[4] <= '9' &&
                    strspn(de->d_name + 4, "0123456789") == strlen(de->d_name + 4))
                        zram_device(c, r, de->d_name);
        if (r->n == before)
                doctor_add(r, "zram", DOCTOR_INFO, "no zram device in %s/block", c->o->sys_root);
}

/* ---- helpers, group, criu ---- */

/* "root:mgd 0750, cap_sys_resource=ep" for path into buf; -errno if it cannot be stat'ed. */
static int describe_file(const char *path, char *buf, size_t size) {
        struct stat st;
        struct passwd *pw;
        struct group *gr;
        cap_t caps;
        char *text = NULL;

        if (stat(path, &st) < 0)
                return -errno;
        pw = getpwuid(st.st_uid);
        gr = getgrgid(st.st_gid);
        caps = cap_get_file(path);
        if (caps)
                text = cap_to_text(caps, NULL);
        (void) snprintf(buf, size, "%s:%s %04o, file capabilities: %s", pw ? pw->pw_name : "?", gr ? gr->gr_name : "?",
                        (unsigned) (st.st_mode & 07777), text && text[0] && strcmp(text, "=") ? text : "none");
        if (text)
                cap_free(text);
        if (caps)
                cap_free(caps);
        return 0;
}

static const struct {
        const char *name;
        int cap;                        /* -1: none needed */
        const char *feature;
        const char *without;
} helper_table[] = {
        { "mgd-psi-helper", CAP_SYS_RESOURCE, "sub-second PSI triggers", "2 s windows" },
        { "mgd-zram-helper", -1, "zram compaction (its grant is the compact node's group, see zram)", "none" },
        { "mgd-swap-helper", CAP_SYS_ADMIN, "swap reclaim when calm", "swapped pages come back only on access" },
        { "mgd-checkpoint-helper", -1, "CRIU checkpoints (its grant is on criu, see criu)", "kill instead" },
};

static void check_helpers(Ctx *c, DoctorReport *r) {
        for (size_t i = 0; i < ELEMENTSOF(helper_table); i++) {
                char path[PATH_MAX], desc[256], id[64];
                int cap = helper_table[i].cap, k;
                DoctorItem *it;

                (void) snprintf(path, sizeof path, "%s/%s", c->helper_dir, helper_table[i].name);
                (void) snprintf(id, sizeof id, "helper:%.*s", (int) strlen(helper_table[i].name) - 11,
                                helper_table[i].name + 4);
                k = describe_file(path, desc, sizeof desc);
                if (k < 0) {
                        it = doctor_add(r, id, DOCTOR_WARN, "%s: %s", path, strerror(-k));
                        doctor_effect(it, "%s: off (%s)", helper_table[i].feature, helper_table[i].without);
                        doctor_fix(it, "install mgd's helpers: meson install -C build (or ./install.sh)");
                        continue;
                }
                if (access(path, X_OK) < 0) {
                        it = doctor_add(r, id, DOCTOR_WARN, "%s: %s; not executable by this user", path, desc);
                        doctor_effect(it, "%s: off (%s)", helper_table[i].feature, helper_table[i].without);
                        doctor_fix(it, "sudo usermod -aG mgd %s (then log in again)", getenv("USER") ?: "$USER");
                        continue;
                }
                k = cap < 0 ? 0 : sandbox_file_caps(path, SANDBOX_CAP(cap));
                it = doctor_add(r, id, k == 0 ? DOCTOR_OK : DOCTOR_WARN, "%s: %s", path, desc);
                doctor_effect(it, "%s: %s", helper_table[i].feature, k == 0 ? (cap < 0 ? "no capability needed" :
                              "granted") : "off, the capability is not granted");
                if (k < 0)
                        doctor_fix(it, "sudo setcap %s+ep %s", cap == CAP_SYS_RESOURCE ? "cap_sys_resource" :
                                   "cap_sys_admin", path);
        }
}

static void check_group(Ctx *c, DoctorReport *r) {
        struct group *gr = getgrnam("mgd");
        const char *user = getenv("USER") ?: "$USER";
        gid_t groups[NGROUPS_MAX];
        int n = getgroups(NGROUPS_MAX, groups);
        bool member = false, listed = false;
        struct passwd *pw = getpwuid(c->o->uid);
        DoctorItem *it;

        if (!gr) {
                it = doctor_add(r, "group", DOCTOR_WARN, "there is no group mgd");
                doctor_effect(it, "the opt-in grants (zram compaction, the helpers' 0750) have no group to go to");
                doctor_fix(it, "sudo ./install.sh --privileged (or: sudo systemd-sysusers mgd.conf && sudo usermod"
                           " -aG mgd %s)", user);
                return;
        }
        for (int i = 0; i < n; i++)
                member |= groups[i] == gr->gr_gid;
        for (char **m = gr->gr_mem; pw && m && *m; m++)
                listed |= strcmp(*m, pw->pw_name) == 0;
        it = doctor_add(r, "group", member ? DOCTOR_OK : DOCTOR_WARN, member ? "this session is in group mgd (gid %u)" :
                        listed ? "member of group mgd (gid %u), but not in this session" :
                        "not a member of group mgd (gid %u)", (unsigned) gr->gr_gid);
        doctor_effect(it, member ? "the group grants apply" : "the group grants (zram compaction, helpers) do not apply");
        if (!member)
                doctor_fix(it, listed ? "log out and in again" : "sudo usermod -aG mgd %s (then log in again)", user);
}

static void check_criu(Ctx *c, DoctorReport *r) {
        const char *path = c->o->criu_path ?: sandbox_test_hook("MGD_TEST_CRIU") ?: MGD_CRIU_PATH;
        char desc[256];
        DoctorItem *it;
        int k = describe_file(path, desc, sizeof desc);

        if (k < 0) {
                it = doctor_add(r, "criu", DOCTOR_INFO, "%s: %s", path, strerror(-k));
                doctor_effect(it, "CRIU checkpoints off: a process that must go is killed");
                doctor_fix(it, "sudo apt install criu (mgd runs it from %s, fixed at build time)", path);
                return;
        }
        k = sandbox_file_caps(path, SANDBOX_CAP(CAP_CHECKPOINT_RESTORE) | SANDBOX_CAP(CAP_SYS_PTRACE));
        it = doctor_add(r, "criu", k == 0 ? DOCTOR_OK : DOCTOR_WARN, "%s: %s", path, desc);
        doctor_effect(it, k == 0 ? "CRIU checkpoints: granted" : "CRIU checkpoints off: criu lacks"
                      " cap_checkpoint_restore,cap_sys_ptrace (a criu update resets them)");
        if (k < 0)
                doctor_fix(it, "sudo setcap cap_checkpoint_restore,cap_sys_ptrace+ep %s", path);
}

/* ---- configuration and history ---- */

typedef struct Warnings {
        unsigned n;
        char first[CONFIG_ERROR_MAX];
} Warnings;

static void collect_warning(const char *message, void *userdata) {
        Warnings *w = userdata;

        if (w->n++ == 0)
                (void) snprintf(w->first, sizeof w->first, "%s", message);
}

static const char *layer_state(const char *path, char *buf, size_t size) {
        struct stat st;

        if (!path[0])
                return "none";
        (void) snprintf(buf, size, "%s (%s)", path, stat(path, &st) < 0 ? "absent" : "read");
        return buf;
}

static void check_config(Ctx *c, DoctorReport *r) {
        PolicyConfig cfg = {};
        ConfigError err = {};
        Warnings w = {};
        char sys[PATH_MAX + 16], user[PATH_MAX + 16];
        DoctorItem *it;
        int k = config_load(&c->o->config, &cfg, &err, collect_warning, &w);

        if (k < 0) {
                it = doctor_add(r, "config", DOCTOR_FAIL, "%s", err.message[0] ? err.message : strerror(-k));
                doctor_effect(it, "mgd refuses to start with it, and a reload keeps the running configuration");
                doctor_fix(it, "correct the line named, then check with: mgd --check-config");
                return;
        }
        it = doctor_add(r, "config", w.n ? DOCTOR_WARN : DOCTOR_OK, "%zu rules; system %s, user %s", cfg.n_rules,
                        layer_state(c->o->config.system, sys, sizeof sys),
                        layer_state(c->o->config.user, user, sizeof user));
        if (w.n)
                doctor_effect(it, "loads with %u warning(s), the first: %s", w.n, w.first);
        else
                doctor_effect(it, "loads as mgd would load it");
        config_free(&cfg);
}

static void check_history(Ctx *c, DoctorReport *r) {
        char path[PATH_MAX];
        StateError err = {};
        History h;
        DoctorItem *it;
        int k;

        if (!c->o->state_dir)
                return;
        (void) snprintf(path, sizeof path, "%s/" HISTORY_FILE, c->o->state_dir);
        k = history_load(path, &h, &err);
        if (k == -ENOENT) {
                it = doctor_add(r, "history", DOCTOR_INFO, "no pressure history at %s yet", path);
                doctor_effect(it, "mgd writes it every 10 minutes while running; mgctl calibrate reads it");
                return;
        }
        if (k < 0) {
                it = doctor_add(r, "history", DOCTOR_WARN, "%s:%u: %s", path, err.line, err.reason);
                doctor_effect(it, "mgd ignores the file and starts a new history; mgctl calibrate refuses it");
                return;
        }
        it = doctor_add(r, "history", DOCTOR_INFO, "%s: %.1f h observed, %llu stall episodes (%.0f s of stall)",
                        path, h.observed_ms / 3.6e6, (unsigned long long) h.stall_episodes, h.stall_ms / 1000.0);
        doctor_effect(it, "mgctl calibrate needs 24 h of calm observation");
}

void doctor_check_environment(DoctorReport *r, const DoctorOptions *o) {
        Ctx c = { .o = o };

        (void) snprintf(c.helper_dir, sizeof c.helper_dir, "%s", o->helper_dir ?: MGD_LIBEXECDIR);
        check_kernel(&c, r);
        check_psi(&c, r);
        check_psi_triggers(&c, r);
        check_cgroup2(&c, r);
        if (c.session[0]) {
                check_controllers(&c, r);
                check_session_files(&c, r);
                check_cache_drop(&c, r);
        }
        check_swap(&c, r);
        check_zram(&c, r);
        check_group(&c, r);
        check_helpers(&c, r);
        check_criu(&c, r);
        check_config(&c, r);
        check_history(&c, r);
}

/* ---- the user unit ---- */

static const char *show_value(const char *text, const char *key, char *buf, size_t size) {
        size_t n = strlen(key);

        buf[0] = '\0';
        for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
                if (strncmp(p, key, n) == 0 && p[n] == '=') {
                        (void) snprintf(buf, size, "%.*s", (int) strcspn(p + n + 1, "\n"), p + n + 1);
                        break;
                }
        return buf;
}

void doctor_unit_from_show(DoctorReport *r, const char *text) {
        char load[32], file[32], active[32], sub[32], pid[16];
        DoctorItem *it;
        bool ok;

        show_value(text, "LoadState", load, sizeof load);
        show_value(text, "UnitFileState", file, sizeof file);
        show_value(text, "ActiveState", active, sizeof active);
        show_value(text, "SubState", sub, sizeof sub);
        show_value(text, "MainPID", pid, sizeof pid);
        if (strcmp(load, "loaded") != 0) {
                it = doctor_add(r, "unit", DOCTOR_WARN, "mgd.service: %s", load[0] ? load : "unknown to systemctl --user");
                doctor_effect(it, "the user manager cannot start mgd");
                doctor_fix(it, "./install.sh (installs and enables the user unit), then: systemctl --user daemon-reload");
                return;
        }
        ok = strcmp(file, "enabled") == 0 && strcmp(active, "active") == 0;
        it = doctor_add(r, "unit", ok ? DOCTOR_OK : DOCTOR_WARN, "mgd.service: %s, %s (%s), main pid %s",
                        file[0] ? file : "?", active[0] ? active : "?", sub[0] ? sub : "?", pid[0] ? pid : "?");
        doctor_effect(it, ok ? "the user manager runs mgd" : "mgd does not run as the user service");
        if (!ok)
                doctor_fix(it, "systemctl --user enable --now mgd.service");
}

/* Run argv with stdout and stderr into buf (cut at size-1); its wait status, or -errno. */
static int run_capture(char *const argv[], char *buf, size_t size) {
        _cleanup_close_ int pidfd = -1, rd = -1;
        size_t len = 0;
        int p[2], status = 0;
        pid_t child;

        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        child = fork();
        if (child < 0) {
                (void) close(p[0]);
                (void) close(p[1]);
                return -errno;
        }
        if (child == 0) {
                (void) dup2(p[1], STDOUT_FILENO);
                (void) dup2(p[1], STDERR_FILENO);
                execvp(argv[0], argv);
                dprintf(STDERR_FILENO, "cannot execute %s: %s", argv[0], strerror(errno));
                _exit(127);
        }
        (void) close(p[1]);
        rd = p[0];
        pidfd = pidfd_open(child, 0);
        for (;;) {
                struct pollfd pf = { .fd = rd, .events = POLLIN };
                ssize_t k;

                if (poll(&pf, 1, SYSTEMCTL_TIMEOUT_MS) <= 0) {
                        (void) kill(child, SIGKILL);
                        break;
                }
                k = read(rd, buf + len, size - 1 - len);
                if (k <= 0 || (len += (size_t) k) >= size - 1)
                        break;
        }
        buf[len] = '\0';
        if (waitpid(child, &status, 0) < 0)
                return -errno;
        return status;
}

void doctor_check_unit(DoctorReport *r) {
        char *argv[] = { "systemctl", "--user", "show", "mgd.service", "--no-pager",
                         "-p", "LoadState,UnitFileState,ActiveState,SubState,MainPID", NULL };
        char out[4096];
        DoctorItem *it;
        int st = run_capture(argv, out, sizeof out);

        if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                out[strcspn(out, "\n")] = '\0';
                it = doctor_add(r, "unit", DOCTOR_INFO, "systemctl --user is not available here: %s",
                                st < 0 ? strerror(-st) : out[0] ? out : "it failed");
                doctor_effect(it, "cannot tell whether mgd.service is installed, enabled or running (no user"
                              " manager: a container, CI, or a session without systemd --user)");
                return;
        }
        doctor_unit_from_show(r, out);
}

/* ---- output ---- */

bool doctor_failed(const DoctorReport *r) {
        for (size_t i = 0; i < r->n; i++)
                if (r->items[i].status == DOCTOR_FAIL)
                        return true;
        return false;
}

static void print_text(FILE *f, const char *prefix, const char *s) {
        _cleanup_free_ char *p = printable(s, strlen(s), NULL);

        fprintf(f, "%s%s\n", prefix, p ?: "?");
}

void doctor_print(FILE *f, const DoctorReport *r) {
        static const char *const label[_DOCTOR_STATUS_MAX] = { "OK", "INFO", "WARN", "FAIL" };
        unsigned count[_DOCTOR_STATUS_MAX] = {};

        for (size_t i = 0; i < r->n; i++) {
                const DoctorItem *it = &r->items[i];
                char head[64];

                count[it->status]++;
                (void) snprintf(head, sizeof head, "%-5s %-22s ", label[it->status], it->id);
                print_text(f, head, it->found);
                if (it->effect[0])
                        print_text(f, "                             ", it->effect);
                if (it->fix[0])
                        print_text(f, "                             fix: ", it->fix);
        }
        fprintf(f, "\n%u ok, %u info, %u warnings, %u failures%s\n", count[DOCTOR_OK], count[DOCTOR_INFO],
                count[DOCTOR_WARN], count[DOCTOR_FAIL],
                count[DOCTOR_FAIL] ? ": mgd cannot work until the failures are fixed" : "");
}

void doctor_print_json(FILE *f, const DoctorReport *r) {
        unsigned count[_DOCTOR_STATUS_MAX] = {};

        fputs("{\"items\":[", f);
        for (size_t i = 0; i < r->n; i++) {
                const DoctorItem *it = &r->items[i];

                count[it->status]++;
                fprintf(f, "%s{\"id\":", i ? "," : "");
                json_cstring(f, it->id);
                fprintf(f, ",\"status\":\"%s\",\"found\":", doctor_status_to_string(it->status));
                json_cstring(f, it->found);
                fputs(",\"effect\":", f);
                json_cstring(f, it->effect[0] ? it->effect : NULL);
                fputs(",\"fix\":", f);
                json_cstring(f, it->fix[0] ? it->fix : NULL);
                fputc('}', f);
        }
        fprintf(f, "],\"ok\":%u,\"info\":%u,\"warn\":%u,\"fail\":%u}\n", count[DOCTOR_OK], count[DOCTOR_INFO],
                count[DOCTOR_WARN], count[DOCTOR_FAIL]);
}
