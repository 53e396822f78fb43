/* SPDX-License-Identifier: GPL-2.0-only */
#pragma once

/*
 * Readers of the kernel's text interfaces. Every reader takes the root it reads from
 * ("/proc", "/sys", or a fixture directory in tests), never a hard-coded path, and every parser
 * is a pure function over a NUL-terminated buffer so it can be fuzzed.
 *
 * Return contract for all of them: 0 on success; -EINVAL for malformed input (empty, truncated,
 * garbage, a required key missing); -ERANGE for a number that overflows its type; -ENOENT/-ESRCH
 * when the file (or process) is gone; other -errno from the system. On failure the output is
 * left untouched.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- small utilities (parse-util.c, fileio.c) ---- */

/* Strict decimal: digits only (no sign, no spaces), -EINVAL if empty/garbage, -ERANGE on overflow. */
int safe_atou64(const char *s, uint64_t *ret);
int safe_atoi(const char *s, int *ret);            /* optional leading '-' */
int safe_atod(const char *s, double *ret);         /* finite decimal, no hex/inf/nan */
/*
 * A decimal token that ends at NUL or at any char in `ends` (anything else right after the digits
 * is -EINVAL); *ret_end (optional) points at that terminator. parse_u64_token() ends at
 * whitespace (" \t\n").
 */
int parse_u64_until(const char *s, const char *ends, const char **ret_end, uint64_t *ret);
int parse_u64_token(const char *s, const char **ret_end, uint64_t *ret);
/*
 * The state files' value encoding: every byte other than [A-Za-z0-9] and "-_.:/@+,~" as %XX, so
 * a value never holds a space, '=' or a newline. pct_encode() returns the length written (NUL
 * excluded) or -ENOBUFS; pct_decode() undoes it, refusing a raw byte the encoder would have
 * escaped, a bad escape and %00 (-EINVAL), or a value too long for buf (-ENAMETOOLONG).
 */
bool pct_byte_is_plain(unsigned char c);
int pct_encode(const char *s, char *buf, size_t size);
int pct_decode(const char *s, size_t len, char *buf, size_t size);

/* Read a whole small file into buf (NUL-terminated). -EFBIG if it does not fit in size-1. */
int read_small_file(const char *path, char *buf, size_t size, size_t *ret_len);
int read_small_fileat(int dirfd, const char *path, char *buf, size_t size, size_t *ret_len);

/* mkdir -p: every missing component of path, path included, is created with mode. */
int mkdir_p(const char *path, mode_t mode);
/*
 * Replace dir/name with the len bytes of data, atomically: dir/name.tmp (a stale one removed,
 * then created afresh with O_EXCL|O_NOFOLLOW, so a planted link is never written through), write,
 * fsync, rename over dir/name, fsync of dir. dir is created (0700) if missing. On failure the old
 * file is intact and no .tmp is left. No allocation and no stdio: the daemon calls it locked.
 */
int write_file_atomic(const char *dir, const char *name, const void *data, size_t len, mode_t mode);
/*
 * The same in two halves, for a writer that streams: begin creates dir (0700) and dir/tmp (mode)
 * and returns the tmp file's fd, with the directory's in *ret_dfd; end takes both fds (it closes
 * them) and r, the writer's result: if r >= 0 it fsyncs, renames tmp over name and fsyncs the
 * directory; on any failure tmp is removed and the old file stays. Returns 0 or -errno.
 */
int atomic_file_begin(const char *dir, const char *tmp, mode_t mode, int *ret_dfd);
int atomic_file_end(int dfd, int fd, const char *tmp, const char *name, int r);

/* ---- PSI: /proc/pressure/{memory,cpu,io}, <cgroup>/memory.pressure (psi.c) ---- */

typedef struct PsiLine {
        double avg10, avg60, avg300;    /* percent */
        uint64_t total_usec;
} PsiLine;

typedef struct PsiStats {
        PsiLine some;
        PsiLine full;
        bool has_full;                  /* the cpu file lacks "full" on older kernels */
} PsiStats;

/* "some" required and first; "full" optional, at most once; an average above 100 is -ERANGE. */
int psi_parse(const char *text, PsiStats *ret);
int psi_read(const char *path, PsiStats *ret);
/* proc_root + "/pressure/" + resource ("memory", "cpu", "io") */
int psi_read_system(const char *proc_root, const char *resource, PsiStats *ret);

/* ---- /proc/meminfo (meminfo.c) ---- */

typedef struct MemInfo {
        uint64_t mem_total_kb;          /* required */
        uint64_t mem_free_kb;           /* required */
        uint64_t mem_available_kb;      /* required */
        uint64_t buffers_kb;
        uint64_t cached_kb;
        uint64_t swap_cached_kb;
        uint64_t active_file_kb;
        uint64_t inactive_file_kb;
        uint64_t anon_pages_kb;
        uint64_t shmem_kb;
        uint64_t swap_total_kb;         /* required */
        uint64_t swap_free_kb;          /* required */
} MemInfo;

int meminfo_parse(const char *text, MemInfo *ret);
int meminfo_read(const char *proc_root, MemInfo *ret);

/* ---- /proc/vmstat (vmstat.c) ---- */

typedef struct VmStat {
        uint64_t pswpin, pswpout;       /* required */
        uint64_t pgmajfault;
        uint64_t workingset_refault_anon, workingset_refault_file;  /* or the pre-5.9 sum in _file */
        uint64_t pgscan;                /* kswapd + direct + khugepaged */
        uint64_t pgsteal;
} VmStat;

int vmstat_parse(const char *text, VmStat *ret);
int vmstat_read(const char *proc_root, VmStat *ret);

/* ---- /proc/swaps and zram (swaps.c) ---- */

#define SWAPS_MAX 32

typedef struct SwapDevice {
        char path[128];
        char type[16];                  /* "partition" or "file" */
        uint64_t size_kb, used_kb;
        int priority;
        bool is_zram;                   /* canonical /dev/zramN only, not a lookalike */
        unsigned zram_index;
} SwapDevice;

/*
 * Fills up to max devices; -E2BIG past max. The header line is required; the type must be
 * "partition" or "file"; the path is unescaped (\040 -> ' '), -ENAMETOOLONG past 127 bytes.
 */
int swaps_parse(const char *text, SwapDevice *devs, size_t max, size_t *ret_n);
int swaps_read(const char *proc_root, SwapDevice *devs, size_t max, size_t *ret_n);
/* "/dev/zramN" with N a plain decimal (no leading zeros, no suffix) -> 0 and *ret_index. */
int zram_path_index(const char *path, unsigned *ret_index);

typedef struct ZramMmStat {
        uint64_t orig_data_size;        /* bytes */
        uint64_t compr_data_size;
        uint64_t mem_used_total;
        uint64_t mem_limit;
        uint64_t mem_used_max;
        uint64_t same_pages;
        uint64_t pages_compacted;
        uint64_t huge_pages;            /* fields 8 and 9 exist only on newer kernels */
        uint64_t huge_pages_since;
        unsigned n_fields;              /* 7, 8 or 9 */
} ZramMmStat;

int zram_mm_stat_parse(const char *text, ZramMmStat *ret);
/* sys_root + "/block/zram<index>/mm_stat" */
int zram_mm_stat_read(const char *sys_root, unsigned index, ZramMmStat *ret);

/* ---- per process (proc.c) ---- */

#define PROC_COMM_MAX 64

typedef struct ProcStat {
        pid_t pid;
        char comm[PROC_COMM_MAX];       /* full comm: spaces and ')' included */
        char state;
        pid_t ppid;
        unsigned flags;                 /* PF_KTHREAD = 0x00200000 */
        uint64_t minflt, majflt;
        uint64_t utime, stime;          /* clock ticks */
        uint64_t num_threads;
        uint64_t starttime;             /* clock ticks after boot */
        uint64_t vsize;                 /* bytes; 0 = no mm (kernel thread, exiting task) */
        uint64_t rss_pages;             /* the same counter as status' VmRSS, in pages */
} ProcStat;

int proc_stat_parse(const char *text, ProcStat *ret);
int proc_stat_read(const char *proc_root, pid_t pid, ProcStat *ret);

typedef struct ProcStatus {
        char name[PROC_COMM_MAX];       /* unescaped "Name:" */
        uid_t ruid, euid;
        pid_t tgid;
        bool has_mm;                    /* VmRSS present (kernel threads have none) */
        uint64_t vm_rss_kb, vm_swap_kb, rss_anon_kb, rss_file_kb, rss_shmem_kb;
} ProcStatus;

int proc_status_parse(const char *text, ProcStatus *ret);
int proc_status_read(const char *proc_root, pid_t pid, ProcStatus *ret);

#define PROC_CGROUP_MAX 512

typedef struct ProcCgroup {
        char unified[PROC_CGROUP_MAX];  /* the "0::" path */
        char v1_memory[PROC_CGROUP_MAX];/* the v1 "memory" controller path, if any */
        char v1_freezer[PROC_CGROUP_MAX];
        bool has_unified, has_v1_memory, has_v1_freezer;
} ProcCgroup;

/* -ENAMETOOLONG for a path of PROC_CGROUP_MAX bytes or more; "name=" v1 hierarchies are ignored. */
int proc_cgroup_parse(const char *text, ProcCgroup *ret);
int proc_cgroup_read(const char *proc_root, pid_t pid, ProcCgroup *ret);

/* argv joined with single spaces, truncated to size-1; -ENODATA for an empty cmdline (kthread). */
int proc_cmdline_read(const char *proc_root, pid_t pid, char *buf, size_t size);
/* basename of the exe link, " (deleted)" stripped; -ENOENT/-EACCES pass through; -ENAMETOOLONG
 * if it does not fit in size. */
int proc_exe_basename(const char *proc_root, pid_t pid, char *buf, size_t size);
int proc_oom_score_adj_read(const char *proc_root, pid_t pid, int *ret);

/* ---- GPU UMA residency from DRM fdinfo (gpu.c) ---- */

/*
 * Sum over the DRM fds of pid (fd links under /dev/dri/) of max(drm-resident-* - drm-shared-*, 0)
 * per client, each client id counted once; fds without drm-resident lines count nothing. 0 when
 * there are none. -EACCES when the fds cannot be inspected (another owner, not dumpable).
 */
int proc_gpu_resident_kb(const char *proc_root, pid_t pid, uint64_t *ret_kb);
