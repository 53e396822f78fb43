/* SPDX-License-Identifier: GPL-2.0-only */

#include "policy/track.h"

/*
 * The kernel's majflt only grows for one (pid, starttime), so a step back means one of the two
 * readings is wrong, and we cannot tell which: neither the earlier samples nor the low one may be
 * a baseline (a misread 0 followed by the true count would look like a burst of faults).
 */
void track_push(FootprintTrack *f, uint64_t kb, uint64_t majflt, usec_t now) {
        unsigned last = (f->head + AGGRESSOR_SAMPLES - 1) % AGGRESSOR_SAMPLES;

        /* fed twice in one tick: the later reading replaces the earlier one */
        if (f->n > 0 && f->at[last] == now) {
                f->head = last;
                f->n--;
                f->majflt_n = f->majflt_n > 0 ? f->majflt_n - 1 : 0;
        }
        if (f->n > 0 && majflt < f->majflt[(f->head + AGGRESSOR_SAMPLES - 1) % AGGRESSOR_SAMPLES])
                f->majflt_n = 0;
        else
                f->majflt_n = MIN(f->majflt_n + 1, (unsigned) AGGRESSOR_SAMPLES);
        f->at[f->head] = now;
        f->kb[f->head] = kb;
        f->majflt[f->head] = majflt;
        f->head = (f->head + 1) % AGGRESSOR_SAMPLES;
        f->n = MIN(f->n + 1, (unsigned) AGGRESSOR_SAMPLES);
}

/* The ring position of the k-th oldest sample held. */
static unsigned track_at(const FootprintTrack *f, unsigned k) {
        return (f->head + AGGRESSOR_SAMPLES - f->n + k) % AGGRESSOR_SAMPLES;
}

/* The age index of the oldest sample inside the window that is not the newest; f->n if none. */
static unsigned track_window_start(const FootprintTrack *f, usec_t now, usec_t window) {
        for (unsigned k = 0; k + 1 < f->n; k++)
                if (f->at[track_at(f, k)] + window >= now)
                        return k;
        return f->n;
}

/* Footprint growth in KiB/s from the oldest sample inside the window to the newest one. */
double track_growth_kbs(const FootprintTrack *f, usec_t now, usec_t window) {
        unsigned k = track_window_start(f, now, window), first, newest;

        if (k + 1 >= f->n)
                return 0;
        first = track_at(f, k);
        newest = track_at(f, f->n - 1);
        if (f->at[newest] <= f->at[first] || f->kb[newest] <= f->kb[first])
                return 0;
        return (double) (f->kb[newest] - f->kb[first]) * (double) USEC_PER_SEC /
                (double) (f->at[newest] - f->at[first]);
}

/* Major faults per second from the oldest trusted sample inside the window to the newest one. */
double track_majflt_rate(const FootprintTrack *f, usec_t now, usec_t window) {
        unsigned k = track_window_start(f, now, window), first, newest;

        /* only the newest majflt_n counts are trusted (track_push()) */
        k = MAX(k, f->n - MIN(f->majflt_n, f->n));
        if (k + 1 >= f->n)
                return 0;
        first = track_at(f, k);
        newest = track_at(f, f->n - 1);
        if (f->at[newest] <= f->at[first] || f->majflt[newest] <= f->majflt[first])
                return 0;
        return (double) (f->majflt[newest] - f->majflt[first]) * (double) USEC_PER_SEC /
                (double) (f->at[newest] - f->at[first]);
}
