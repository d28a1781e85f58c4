
/*
 * Unit tests of the adaptive concurrency limit
 * (src/ngx_http_leadlist_limit.c), printing TAP; exits non-zero on any
 * failure.
 *
 *   cc -std=gnu99 -Wall -Wextra -Werror -O1 -g -Isrc
 *      t/unit/test_limit.c src/ngx_http_leadlist_limit.c -lm
 *   build/unit/test_limit -v      also prints each simulation's trace
 *
 * The limiter runs against a simulated database: statements share it as
 * processes share CPUs (processor sharing), its throughput grows with the
 * concurrency up to a knee and declines slowly beyond it (over-subscribed
 * PostgreSQL: context switches, lock waits), and each completed statement
 * holds its slot a little longer while the worker reads the result.  One
 * or more simulated workers, each with its own limiter, its own FIFO queue
 * and a fixed number of closed-loop clients, share that database.
 *
 * What is checked is measured against the same simulation run with a
 * fixed limit at every size: the adaptive limit must reach at least 93%
 * (one worker) or 90% (two) of the best fixed throughput, settle within a
 * few statements of the smallest fixed limit that gets 97% of it (the
 * knee), keep p99 close to that fixed limit's, and, once settled, move by
 * at most 2 (3 with noise): no oscillation.  Simulated time only: nothing
 * here depends on the machine's speed.
 */


#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_http_leadlist_limit.h"
#include "ngx_http_leadlist_tap.h"


#define NGX_HTTP_LEADLIST_SIM_WORKERS   4
#define NGX_HTTP_LEADLIST_SIM_CLIENTS   64
#define NGX_HTTP_LEADLIST_SIM_PHASES    4
#define NGX_HTTP_LEADLIST_SIM_JOBS                                            \
    (NGX_HTTP_LEADLIST_SIM_WORKERS * NGX_HTTP_LEADLIST_SIM_CLIENTS)
#define NGX_HTTP_LEADLIST_SIM_TRACE     4096


/* the database during one phase of a simulation */

typedef struct {
    double                      until;     /* s */
    double                      knee;      /* total concurrency */
    double                      service;   /* us per statement at or below */
    double                      decline;   /* per statement beyond the knee */
    unsigned                    clients;   /* per worker */
} ngx_http_leadlist_phase_t;


typedef struct {
    const char                 *name;
    unsigned                    workers;
    unsigned                    max;
    unsigned                    initial;
    unsigned                    adaptive;
    double                      noise;     /* lognormal sigma of the work */
    double                      drift;     /* of the speed, every 50 ms */
    double                      bulk;      /* share of 50 x longer ones */
    double                      gap;       /* us the worker holds a slot */
    unsigned                    nphases;
    ngx_http_leadlist_phase_t   phases[NGX_HTTP_LEADLIST_SIM_PHASES];
} ngx_http_leadlist_sim_conf_t;


/* a one-phase simulation and what its settled limit must do */

typedef struct {
    const char                       *name;
    unsigned                          workers;
    unsigned                          max;
    unsigned                          initial;
    const ngx_http_leadlist_phase_t  *db;
    double                            slower;    /* statement time x */
    double                            noise;
    double                            drift;
    double                            bulk;
    double                            share;     /* ngx_http_leadlist_check */
    unsigned                          band;
    unsigned                          spread;
    double                            p99x;
} ngx_http_leadlist_settle_case_t;


/* what one phase measured, from settle seconds after its start */

typedef struct {
    double                      rps;
    double                      p50;       /* client latency, us */
    double                      p99;
    unsigned                    lo;        /* limit, all workers summed, */
    unsigned                    hi;        /* outside probes: 5th and */
                                           /* 95th percentiles */
    double                      median;
    unsigned                    probing;   /* 0.1 s steps with a probe */
    double                      moves;     /* limit changes per second */
} ngx_http_leadlist_phase_stat_t;


typedef struct {
    int                         worker;
    int                         in_db;
    double                      work;      /* left, in statements */
    double                      sent;
    double                      queued;
    double                      done;      /* end of the worker's read */
} ngx_http_leadlist_job_t;


typedef struct {
    ngx_http_leadlist_limit_t   lim;
    unsigned                    inflight;
    unsigned                    clients;
    unsigned                    head;
    unsigned                    nqueue;
    double                      queue[NGX_HTTP_LEADLIST_SIM_CLIENTS];
} ngx_http_leadlist_worker_t;


typedef struct {
    double                     *v;
    size_t                      n;
    size_t                      size;
} ngx_http_leadlist_vec_t;


static int   verbose;
static int   bounds_ok;
static uint64_t  rng = 88172645463325252ULL;


static double ngx_http_leadlist_random(void);
static double ngx_http_leadlist_gauss(void);
static void ngx_http_leadlist_push(ngx_http_leadlist_vec_t *vec, double v);
static int ngx_http_leadlist_cmp(const void *a, const void *b);
static double ngx_http_leadlist_pct(ngx_http_leadlist_vec_t *vec, double q);
static double ngx_http_leadlist_rate(const ngx_http_leadlist_phase_t *ph,
    unsigned c);
static void ngx_http_leadlist_sim(const ngx_http_leadlist_sim_conf_t *conf,
    double settle, ngx_http_leadlist_phase_stat_t *stats);
static void ngx_http_leadlist_fixed(const ngx_http_leadlist_sim_conf_t *conf,
    unsigned phase, double *rps, double *p99);
static void ngx_http_leadlist_check(const char *name,
    const ngx_http_leadlist_sim_conf_t *conf, unsigned phase,
    const ngx_http_leadlist_phase_stat_t *st, double share, unsigned band,
    unsigned spread, double p99x);
static void ngx_http_leadlist_sim_init(ngx_http_leadlist_sim_conf_t *conf,
    const char *name, unsigned workers, unsigned max, unsigned initial);
static ngx_http_leadlist_phase_t *ngx_http_leadlist_sim_phase(
    ngx_http_leadlist_sim_conf_t *conf, const ngx_http_leadlist_phase_t *db,
    double until);

static void ngx_http_leadlist_test_init(void);
static void ngx_http_leadlist_test_fixed(void);
static void ngx_http_leadlist_test_median(void);
static void ngx_http_leadlist_run_probe(ngx_http_leadlist_limit_t *lim,
    uint64_t *now, uint64_t rtt);
static void ngx_http_leadlist_test_probe(void);
static void ngx_http_leadlist_test_settled(void);
static void ngx_http_leadlist_test_small_pool(void);
static void ngx_http_leadlist_test_slower(void);
static void ngx_http_leadlist_test_crowded(void);
static void ngx_http_leadlist_test_faster(void);
static void ngx_http_leadlist_test_light(void);
static void ngx_http_leadlist_test_long(void);


int
main(int argc, char **argv)
{
    verbose = argc > 1 && strcmp(argv[1], "-v") == 0;
    bounds_ok = 1;

    ngx_http_leadlist_test_init();
    ngx_http_leadlist_test_fixed();
    ngx_http_leadlist_test_median();
    ngx_http_leadlist_test_probe();
    ngx_http_leadlist_test_settled();
    ngx_http_leadlist_test_small_pool();
    ngx_http_leadlist_test_slower();
    ngx_http_leadlist_test_crowded();
    ngx_http_leadlist_test_faster();
    ngx_http_leadlist_test_light();
    ngx_http_leadlist_test_long();

    ngx_http_leadlist_ok(bounds_ok,
                         "every limit of every simulation within [min, max]");

    return ngx_http_leadlist_done("test_limit");
}


/* ----------------------------------------------------------- the API */


static void
ngx_http_leadlist_test_init(void)
{
    int                        rc;
    ngx_http_leadlist_limit_t  lim;

    ngx_http_leadlist_ok(ngx_http_leadlist_limit_init(&lim, 0, 8, 4, 1, 1)
                         == -1, "init: min 0 is refused");
    ngx_http_leadlist_ok(ngx_http_leadlist_limit_init(&lim, 5, 4, 4, 1, 1)
                         == -1, "init: max below min is refused");

    rc = ngx_http_leadlist_limit_init(&lim, 1, 16, 40, 1, 1);
    ngx_http_leadlist_ok(rc == 0 && lim.limit == 16,
                         "init: initial above max starts at max (%u)",
                         lim.limit);

    rc = ngx_http_leadlist_limit_init(&lim, 2, 16, 0, 1, 1);
    ngx_http_leadlist_ok(rc == 0 && lim.limit == 2,
                         "init: initial below min starts at min (%u)",
                         lim.limit);

    rc = ngx_http_leadlist_limit_init(&lim, 1, 16, 6, 1, 1);
    ngx_http_leadlist_ok(rc == 0 && lim.limit == 6,
                         "init: initial within bounds is kept (%u)",
                         lim.limit);
}


/* adaptive off: the limit is max whatever the statements take */

static void
ngx_http_leadlist_test_fixed(void)
{
    int                        changed;
    uint64_t                   now;
    unsigned                   i, lo;
    ngx_http_leadlist_limit_t  lim;

    ngx_http_leadlist_limit_init(&lim, 1, 12, 3, 0, 1);
    lo = lim.limit;
    changed = 0;
    now = 1000;

    for (i = 0; i < 100000; i++) {
        now += 50;
        changed |= ngx_http_leadlist_limit_sample(&lim, now,
                                                  100 + (i % 7) * 1000,
                                                  1 + i % 12);
        if (lim.limit < lo) {
            lo = lim.limit;
        }
    }

    ngx_http_leadlist_ok(lo == 12 && lim.limit == 12 && !changed
                         && lim.probes == 0 && lim.windows == 0,
                         "adaptive off: the limit is max (12), always, "
                         "no probe, no window (min seen %u)", lo);
}


/*
 * A window's median statement time, from the histogram; the probe's too,
 * unless its statements are too slow for its 50 ms: then the fastest
 * window stands for it.
 */

static void
ngx_http_leadlist_test_median(void)
{
    int                        probed;
    double                     err;
    uint64_t                   now, v[] = { 7, 350, 1000, 4321, 250000 };
    unsigned                   i, k;
    ngx_http_leadlist_limit_t  lim;

    for (k = 0; k < sizeof(v) / sizeof(v[0]); k++) {
        ngx_http_leadlist_limit_init(&lim, 1, 8, 8, 1, 1);
        now = 1;

        /* the first statement starts the probe: run it through */
        for (i = 0;
             i == 0 || (lim.state != NGX_HTTP_LEADLIST_LIMIT_RUN && i < 40);
             i++)
        {
            ngx_http_leadlist_limit_sample(&lim, now, v[k], 1);
            now += v[k];
        }

        for (i = 0; lim.windows == 0 && i < 100000; i++) {
            now += 1000;
            /* a quarter far slower, a quarter far faster: the median */
            ngx_http_leadlist_limit_sample(&lim, now,
                                           i % 4 == 0 ? v[k] * 10
                                           : i % 4 == 1 ? v[k] / 3 + 1
                                           : v[k], 8);
        }

        err = fabs((double) lim.rtt - v[k]) / v[k];
        probed = v[k] < 10000 ? lim.probes == 1 && lim.aborted == 0
                              : lim.probes == 0 && lim.aborted == 1;

        ngx_http_leadlist_ok(probed && lim.base > 0
                             && fabs((double) lim.base - v[k]) / v[k]
                                <= 1.0 / 16
                             && lim.windows == 1 && err <= 1.0 / 16,
                             "median of %llu us: %s base %llu, window "
                             "%llu (within 1/16)",
                             (unsigned long long) v[k],
                             lim.probes ? "probe's" : "no probe,",
                             (unsigned long long) lim.base,
                             (unsigned long long) lim.rtt);
    }
}


/* one probe at its time: 32 statements of rtt us, one at a time */

static void
ngx_http_leadlist_run_probe(ngx_http_leadlist_limit_t *lim, uint64_t *now,
    uint64_t rtt)
{
    unsigned  i;

    *now = lim->probe_at;

    for (i = 0; i < 33; i++) {
        if (i > 0) {
            *now += rtt;
        }

        ngx_http_leadlist_limit_sample(lim, *now, rtt, 1);
    }
}


/*
 * A probe: limit 1, drained, 32 statements; a series of 3, the base the
 * fastest of the last 3; given up behind a long statement.
 */

static void
ngx_http_leadlist_test_probe(void)
{
    uint64_t                   now;
    unsigned                   i, during;
    ngx_http_leadlist_limit_t  lim;

    ngx_http_leadlist_limit_init(&lim, 1, 16, 10, 1, 7);
    now = 1000000;

    /* the first statement starts a probe; 5 still in flight */
    ngx_http_leadlist_limit_sample(&lim, now, 500, 6);
    ngx_http_leadlist_ok(lim.limit == 1
                         && lim.state == NGX_HTTP_LEADLIST_LIMIT_DRAIN,
                         "probe: the first statement starts one, limit 1");

    /* drained: the last of the old ones, then 32 alone */
    for (i = 5; i >= 1; i--) {
        now += 100;
        ngx_http_leadlist_limit_sample(&lim, now, 900, i);
    }

    during = lim.limit;

    for (i = 0; i < 31; i++) {
        now += 300;
        ngx_http_leadlist_limit_sample(&lim, now, 300, 1);
        if (lim.limit != 1) {
            during = lim.limit;
        }
    }

    ngx_http_leadlist_ok(during == 1
                         && lim.state == NGX_HTTP_LEADLIST_LIMIT_MEASURE,
                         "probe: limit 1 while it measures");

    now += 300;
    ngx_http_leadlist_limit_sample(&lim, now, 300, 1);

    ngx_http_leadlist_ok(lim.state == NGX_HTTP_LEADLIST_LIMIT_RUN
                         && lim.probes == 1 && lim.limit == 10
                         && lim.base >= 290 && lim.base <= 310,
                         "probe: after 32 statements, base %llu us (not the "
                         "900 us of the drained ones), limit back to 10 "
                         "(%u)", (unsigned long long) lim.base, lim.limit);

    ngx_http_leadlist_ok(lim.probe_at == now + 2000000,
                         "probe: the first of a series of 3, the next in 2 s "
                         "(%.1f s)", (lim.probe_at - now) / 1e6);

    ngx_http_leadlist_run_probe(&lim, &now, 400);
    ngx_http_leadlist_ok(lim.base >= 290 && lim.base <= 310
                         && lim.probe_at == now + 2000000,
                         "probe: 2nd at 400 us: base the fastest, %llu us, "
                         "next in 2 s", (unsigned long long) lim.base);

    ngx_http_leadlist_run_probe(&lim, &now, 350);
    ngx_http_leadlist_ok(lim.base >= 290 && lim.base <= 310
                         && lim.probe_at >= now + 7500000
                         && lim.probe_at <= now + 12500000,
                         "probe: 3rd at 350 us: base %llu us, the next in "
                         "10 s +-25%% (%.1f s)", (unsigned long long) lim.base,
                         (lim.probe_at - now) / 1e6);

    ngx_http_leadlist_run_probe(&lim, &now, 500);
    ngx_http_leadlist_ok(lim.base >= 340 && lim.base <= 360
                         && lim.probes == 4,
                         "probe: 4th at 500 us: the first is forgotten, base "
                         "%llu us (of 400, 350, 500)",
                         (unsigned long long) lim.base);

    /* the next probe, behind a statement that runs for a second */
    now = lim.probe_at;
    ngx_http_leadlist_limit_sample(&lim, now, 300, 4);
    for (i = 0; i < 100 && lim.state != NGX_HTTP_LEADLIST_LIMIT_RUN; i++) {
        now += 1000;
        ngx_http_leadlist_limit_sample(&lim, now, 300, 3);
    }

    ngx_http_leadlist_ok(lim.aborted == 1 && lim.probes == 4
                         && lim.limit == 10 && lim.base >= 340
                         && lim.base <= 360 && i <= 52,
                         "probe: given up after 50 ms of draining (%u ms), "
                         "base kept, limit back to 10", i);

    /* behind a long statement no sample comes: admission gives it up */
    now = lim.probe_at;
    ngx_http_leadlist_limit_sample(&lim, now, 300, 2);
    during = ngx_http_leadlist_limit_get(&lim, now + 50000);
    now += 50001;

    ngx_http_leadlist_ok(during == 1
                         && ngx_http_leadlist_limit_get(&lim, now) == 10
                         && lim.aborted == 2
                         && lim.state == NGX_HTTP_LEADLIST_LIMIT_RUN,
                         "probe: with no sample, get() gives it up after "
                         "50 ms and admits by 10 again");

    /* a probe whose statements take too long is given up too */
    now = lim.probe_at;
    ngx_http_leadlist_limit_sample(&lim, now, 300, 1);
    now += 40000;
    ngx_http_leadlist_limit_sample(&lim, now, 40000, 1);
    now += 40000;
    ngx_http_leadlist_limit_sample(&lim, now, 40000, 1);

    ngx_http_leadlist_ok(lim.aborted == 3 && lim.probes == 4
                         && lim.state == NGX_HTTP_LEADLIST_LIMIT_RUN
                         && lim.limit == 10,
                         "probe: given up after 50 ms with 2 statements");
}


/* ------------------------------------------------------- the simulator */


static double
ngx_http_leadlist_random(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;

    return ((rng >> 11) + 0.5) / 9007199254740992.0;
}


static double
ngx_http_leadlist_gauss(void)
{
    return sqrt(-2.0 * log(ngx_http_leadlist_random()))
           * cos(2.0 * M_PI * ngx_http_leadlist_random());
}


static void
ngx_http_leadlist_push(ngx_http_leadlist_vec_t *vec, double v)
{
    if (vec->n == vec->size) {
        vec->size = vec->size ? vec->size * 2 : 65536;
        vec->v = realloc(vec->v, vec->size * sizeof(double));
        if (vec->v == NULL) {
            perror("realloc");
            exit(2);
        }
    }

    vec->v[vec->n++] = v;
}


static int
ngx_http_leadlist_cmp(const void *a, const void *b)
{
    double  x = *(const double *) a, y = *(const double *) b;

    return (x > y) - (x < y);
}


static double
ngx_http_leadlist_pct(ngx_http_leadlist_vec_t *vec, double q)
{
    size_t  k;

    if (vec->n == 0) {
        return 0;
    }

    qsort(vec->v, vec->n, sizeof(double), ngx_http_leadlist_cmp);
    k = (size_t) (q * (vec->n - 1) + 0.5);

    return vec->v[k];
}


/*
 * Statements the database completes per us with c running: c / service up
 * to the knee, then the knee's rate declining by `decline` per statement
 * beyond it; each running statement gets an equal share.
 */

static double
ngx_http_leadlist_rate(const ngx_http_leadlist_phase_t *ph, unsigned c)
{
    if (c <= ph->knee) {
        return c / ph->service;
    }

    return ph->knee / ph->service / (1.0 + ph->decline * (c - ph->knee));
}


static void
ngx_http_leadlist_sim(const ngx_http_leadlist_sim_conf_t *conf,
    double settle, ngx_http_leadlist_phase_stat_t *stats)
{
    double                            t, next, dt, r, share, step, from;
    double                            tsample, tdrift, speed;
    unsigned                          i, k, w, c, ph, njobs, nt, probing;
    unsigned                          total, ntrace, last, moves;
    ngx_http_leadlist_job_t           jobs[NGX_HTTP_LEADLIST_SIM_JOBS], *j;
    ngx_http_leadlist_vec_t           lat, lims;
    ngx_http_leadlist_worker_t        wk[NGX_HTTP_LEADLIST_SIM_WORKERS], *wp;
    const ngx_http_leadlist_phase_t  *p;
    unsigned long                     done;
    static unsigned                   trace[NGX_HTTP_LEADLIST_SIM_TRACE];

    memset(&lat, 0, sizeof(lat));
    memset(&lims, 0, sizeof(lims));
    memset(wk, 0, sizeof(wk));

    /* the same draws for every run: a fixed limit and the adaptive one
     * see the same statements and the same database */
    rng = 88172645463325252ULL;

    for (w = 0; w < conf->workers; w++) {
        ngx_http_leadlist_limit_init(&wk[w].lim, 1, conf->max,
                                     conf->initial, conf->adaptive,
                                     1234567 + 7919 * w);
    }

    t = 0;              /* us */
    njobs = 0;
    ph = 0;
    done = 0;
    probing = 0;
    last = 0;
    moves = 0;
    tsample = 100000;
    tdrift = 50000;
    speed = 1;
    ntrace = 0;
    p = &conf->phases[0];
    from = 0;

    for ( ;; ) {

        /* a new phase: its clients join their worker's queue */

        while (t >= p->until * 1e6 || ph == 0) {

            if (ph > 0) {
                /* the phase that ended */
                stats[ph - 1].rps = done / (p->until - from - settle);
                stats[ph - 1].p50 = ngx_http_leadlist_pct(&lat, 0.5);
                stats[ph - 1].p99 = ngx_http_leadlist_pct(&lat, 0.99);
                stats[ph - 1].median = ngx_http_leadlist_pct(&lims, 0.5);
                stats[ph - 1].lo = ngx_http_leadlist_pct(&lims, 0.05);
                stats[ph - 1].hi = ngx_http_leadlist_pct(&lims, 0.95);
                stats[ph - 1].probing = probing;
                stats[ph - 1].moves = moves / (p->until - from - settle);
                from = p->until;

                if (ph == conf->nphases) {
                    goto end;
                }

                p++;
            }

            ph++;
            done = 0;
            probing = 0;
            moves = 0;
            lat.n = 0;
            lims.n = 0;

            for (w = 0; w < conf->workers; w++) {
                wp = &wk[w];
                while (wp->clients < p->clients) {
                    wp->queue[(wp->head + wp->nqueue++)
                              % NGX_HTTP_LEADLIST_SIM_CLIENTS] = t;
                    wp->clients++;
                }
                wp->clients = p->clients;   /* extra ones retire at once */
            }

            goto dispatch;
        }

        /* the next event: a statement's work done, or a worker's read */

        c = 0;
        for (i = 0; i < njobs; i++) {
            c += jobs[i].in_db;
        }

        r = ngx_http_leadlist_rate(p, c) * speed;
        share = c ? r / c : 0;
        next = p->until * 1e6;
        k = njobs;

        for (i = 0; i < njobs; i++) {
            j = &jobs[i];
            step = j->in_db ? t + j->work / share : j->done;
            if (step < next) {
                next = step;
                k = i;
            }
        }

        if (next > tsample) {
            next = tsample;
            k = njobs;
        }

        if (next > tdrift) {
            next = tdrift;
            k = njobs;
        }

        dt = next - t;
        for (i = 0; i < njobs; i++) {
            if (jobs[i].in_db) {
                jobs[i].work -= dt * share;
            }
        }

        t = next;

        if (t >= tdrift) {
            /* the database's speed wanders: others' load, checkpoints */
            speed = conf->drift > 0
                    ? exp(conf->drift * ngx_http_leadlist_gauss()
                          - conf->drift * conf->drift / 2)
                    : 1.0;
            tdrift += 50000;
            continue;
        }

        if (t >= tsample) {
            /* every 0.1 s: the limits, outside probes */
            total = 0;
            nt = 0;
            for (w = 0; w < conf->workers; w++) {
                total += wk[w].lim.limit;
                nt += wk[w].lim.state != NGX_HTTP_LEADLIST_LIMIT_RUN;
            }

            if (ntrace < NGX_HTTP_LEADLIST_SIM_TRACE) {
                trace[ntrace++] = nt ? 0 : total;
            }

            if (t >= (from + settle) * 1e6) {
                if (nt) {
                    probing++;
                } else {
                    ngx_http_leadlist_push(&lims, total);
                    moves += last && total != last;
                    last = total;
                }
            }

            tsample += 100000;
            continue;
        }

        if (k == njobs) {
            continue;   /* the phase's end */
        }

        j = &jobs[k];

        if (j->in_db) {
            j->in_db = 0;
            j->done = t + conf->gap;
            continue;
        }

        /* a statement's result read: a sample, the client's next request */

        wp = &wk[j->worker];

        ngx_http_leadlist_limit_sample(&wp->lim, (uint64_t) t,
                                       (uint64_t) (t - j->sent),
                                       wp->inflight);

        if (wp->lim.limit < wp->lim.min || wp->lim.limit > wp->lim.max) {
            bounds_ok = 0;
        }

        wp->inflight--;

        if (t >= (from + settle) * 1e6) {
            done++;
            ngx_http_leadlist_push(&lat, t - j->queued);
        }

        if (wp->clients > 0 && wp->nqueue + wp->inflight < wp->clients) {
            wp->queue[(wp->head + wp->nqueue++)
                      % NGX_HTTP_LEADLIST_SIM_CLIENTS] = t;
        }

        *j = jobs[--njobs];

    dispatch:

        for (w = 0; w < conf->workers; w++) {
            wp = &wk[w];

            while (wp->nqueue > 0
                   && wp->inflight < ngx_http_leadlist_limit_get(&wp->lim,
                                                                 (uint64_t) t))
            {
                j = &jobs[njobs++];
                j->worker = w;
                j->in_db = 1;
                j->work = conf->noise > 0
                          ? exp(conf->noise * ngx_http_leadlist_gauss()
                                - conf->noise * conf->noise / 2)
                          : 1.0;

                if (conf->bulk > 0
                    && ngx_http_leadlist_random() < conf->bulk)
                {
                    j->work *= 50;
                }
                j->sent = t;
                j->queued = wp->queue[wp->head];
                wp->head = (wp->head + 1) % NGX_HTTP_LEADLIST_SIM_CLIENTS;
                wp->nqueue--;
                wp->inflight++;
            }
        }
    }

end:

    if (verbose) {
        printf("# %s: limit every 0.1 s (all workers, - in a probe):\n#",
               conf->name);
        for (i = 0; i < ntrace; i++) {
            if (trace[i]) {
                printf(" %u", trace[i]);
            } else {
                printf(" -");
            }
            if (i % 50 == 49) {
                printf("\n#");
            }
        }
        printf("\n");

        for (i = 0; i < conf->nphases; i++) {
            printf("#   phase %u: %.0f/s p50 %.2f ms p99 %.2f ms, limit %u-%u "
                   "(median %.0f, %.1f moves/s), %u steps probing\n", i + 1,
                   stats[i].rps, stats[i].p50 / 1000, stats[i].p99 / 1000,
                   stats[i].lo, stats[i].hi, stats[i].median, stats[i].moves,
                   stats[i].probing);
        }

        for (w = 0; w < conf->workers; w++) {
            printf("#   worker %u: %llu probes, %llu given up, base %llu us\n",
                   w, (unsigned long long) wk[w].lim.probes,
                   (unsigned long long) wk[w].lim.aborted,
                   (unsigned long long) wk[w].lim.base);
        }
    }

    free(lat.v);
    free(lims.v);
}


/*
 * The same simulation with a fixed limit (per worker) at every size from
 * 1 to 32 in all, on one phase's database held for 4 s (11 s when its
 * speed wanders): throughput and p99 by limit.
 */

static void
ngx_http_leadlist_fixed(const ngx_http_leadlist_sim_conf_t *conf,
    unsigned phase, double *rps, double *p99)
{
    int                             v;
    size_t                          n;
    unsigned                        l, i;
    ngx_http_leadlist_sim_conf_t    fixed;
    ngx_http_leadlist_phase_stat_t  st[NGX_HTTP_LEADLIST_SIM_PHASES];

    /* the same database and workers as an earlier check: its sweep */
    static struct {
        ngx_http_leadlist_sim_conf_t  conf;
        double                        rps[NGX_HTTP_LEADLIST_SIM_CLIENTS + 1];
        double                        p99[NGX_HTTP_LEADLIST_SIM_CLIENTS + 1];
    }                               cache[16];
    static unsigned                 ncache;

    memset(&fixed, 0, sizeof(fixed));
    fixed.name = "fixed";
    fixed.workers = conf->workers;
    fixed.noise = conf->noise;
    fixed.drift = conf->drift;
    fixed.bulk = conf->bulk;
    fixed.gap = conf->gap;
    fixed.nphases = 1;
    fixed.phases[0] = conf->phases[phase];
    fixed.phases[0].until = conf->drift > 0 ? 11 : 4;

    n = (NGX_HTTP_LEADLIST_SIM_CLIENTS + 1) * sizeof(double);

    for (i = 0; i < ncache; i++) {
        if (memcmp(&cache[i].conf, &fixed, sizeof(fixed)) == 0) {
            memcpy(rps, cache[i].rps, n);
            memcpy(p99, cache[i].p99, n);
            return;
        }
    }

    v = verbose;
    verbose = 0;

    for (l = 1; l <= 32 / conf->workers; l++) {
        fixed.max = l;
        fixed.initial = l;
        ngx_http_leadlist_sim(&fixed, 1, st);
        rps[l] = st[0].rps;
        p99[l] = st[0].p99;
    }

    verbose = v;

    if (ncache < sizeof(cache) / sizeof(cache[0])) {
        fixed.max = 0;
        fixed.initial = 0;
        memcpy(&cache[ncache].conf, &fixed, sizeof(fixed));
        memcpy(cache[ncache].rps, rps, n);
        memcpy(cache[ncache].p99, p99, n);
        ncache++;
    }
}


/*
 * One phase of an adaptive run against the fixed limits: at least `share`
 * of the best throughput; the median limit at least the knee (the
 * smallest limit with 97% of the best throughput, all workers together)
 * minus 1, at most the knee plus `band`; the limit 90% of the time within
 * `spread` (its 5th to 95th percentile); p99 at most p99x (1.15 unless
 * noisy) x the p99 of the settled limit held fixed (what moving around
 * it costs).
 */

static void
ngx_http_leadlist_check(const char *name,
    const ngx_http_leadlist_sim_conf_t *conf, unsigned phase,
    const ngx_http_leadlist_phase_stat_t *st, double share, unsigned band,
    unsigned spread, double p99x)
{
    double    best, rps[NGX_HTTP_LEADLIST_SIM_CLIENTS + 1];
    double    p99[NGX_HTTP_LEADLIST_SIM_CLIENTS + 1];
    unsigned  l, knee, at, top;

    ngx_http_leadlist_fixed(conf, phase, rps, p99);

    top = 32 / conf->workers;
    best = 0;
    for (l = 1; l <= top; l++) {
        best = rps[l] > best ? rps[l] : best;
    }

    for (l = 1; rps[l] < 0.97 * best; l++) {
        /* void */
    }

    knee = l * conf->workers;

    at = (unsigned) (st->median / conf->workers + 0.5);
    at = at < 1 ? 1 : at > top ? top : at;

    if (verbose) {
        printf("#   fixed limits: best %.0f/s, knee %u; at %u: %.0f/s, "
               "p99 %.2f ms\n", best, knee, at * conf->workers, rps[at],
               p99[at] / 1000);
    }

    ngx_http_leadlist_ok(st->rps >= share * best,
                         "%s: %.0f/s, >= %.0f%% of the best fixed limit's "
                         "%.0f/s", name, st->rps, share * 100, best);

    ngx_http_leadlist_ok(st->median + 1 >= knee && st->median <= knee + band,
                         "%s: limit settles at %.0f, knee %u (-1 to +%u)",
                         name, st->median, knee, band);

    ngx_http_leadlist_ok(st->hi - st->lo <= spread,
                         "%s: settled limit 90%% of the time within %u-%u "
                         "(<= %u apart)", name, st->lo, st->hi, spread);

    ngx_http_leadlist_ok(st->p99 <= p99x * p99[at],
                         "%s: p99 %.2f ms <= %.2f x %.2f ms, a fixed %u's",
                         name, st->p99 / 1000, p99x, p99[at] / 1000,
                         at * conf->workers);
}


/* ---------------------------------------------------- the simulations */


/*
 * The databases: 2 CPUs' worth of statements of 300 or 600 us, knee 4
 * or 8; 32 clients (32 HTTP connections over one or two workers); the
 * worker holds a slot 40 us after the database is done.
 */

static const ngx_http_leadlist_phase_t  knee8 = { 30, 8, 600, 0.01, 32 };
static const ngx_http_leadlist_phase_t  knee4 = { 30, 4, 300, 0.01, 32 };


/* an adaptive simulation, its limit from `initial` up to `max`, no phase */

static void
ngx_http_leadlist_sim_init(ngx_http_leadlist_sim_conf_t *conf,
    const char *name, unsigned workers, unsigned max, unsigned initial)
{
    memset(conf, 0, sizeof(*conf));
    conf->name = name;
    conf->workers = workers;
    conf->max = max;
    conf->initial = initial;
    conf->adaptive = 1;
    conf->gap = 40;
}


/*
 * One more phase: the database `db` until `until` s, its clients shared
 * evenly by the workers; returned for what the phase changes in it.
 */

static ngx_http_leadlist_phase_t *
ngx_http_leadlist_sim_phase(ngx_http_leadlist_sim_conf_t *conf,
    const ngx_http_leadlist_phase_t *db, double until)
{
    ngx_http_leadlist_phase_t  *ph;

    ph = &conf->phases[conf->nphases++];
    *ph = *db;
    ph->until = until;
    ph->clients = db->clients / conf->workers;

    return ph;
}


/*
 * One-phase simulations, each measured from 10 s on against the fixed
 * limits: the databases alone, from above and from below the knee, with
 * one worker and with two (each with its own limiter); then with noise:
 *
 * statement times that vary (lognormal, sigma 0.6) and a database speed
 * that does too (lognormal, sigma 0.3, a new one every 50 ms: others'
 * load, checkpoints): the limit follows the speed, 90% of the time within
 * +-2 of its median, p99 as with a fixed limit.  Then statements 10
 * times longer, so that a probe holds 8 of them, not 32: the two workers'
 * bases differ more, so do their limits, and p99 suffers from that
 * unfairness between their clients (up to 1.4 x);
 *
 * and 1% of the statements bulk ones, 50 times longer (30 ms): the
 * window's median ignores them, probes behind them are given up.
 */

static void
ngx_http_leadlist_test_settled(void)
{
    size_t                                  i;
    ngx_http_leadlist_sim_conf_t            conf;
    ngx_http_leadlist_phase_stat_t          st[NGX_HTTP_LEADLIST_SIM_PHASES];
    const ngx_http_leadlist_settle_case_t  *c;

    static const ngx_http_leadlist_settle_case_t  cases[] = {
        { "knee 8, from 32", 1, 32, 32, &knee8, 1, 0, 0, 0,
          0.93, 3, 2, 1.15 },
        { "knee 4, from 1", 1, 32, 1, &knee4, 1, 0, 0, 0,
          0.93, 3, 2, 1.15 },
        { "2 workers, max 16, knee 8", 2, 16, 16, &knee8, 1, 0, 0, 0,
          0.90, 5, 3, 1.15 },
        { "2 workers, max 16, knee 4", 2, 16, 16, &knee4, 1, 0, 0, 0,
          0.90, 5, 3, 1.15 },

        { "noisy, knee 8", 1, 32, 16, &knee8, 1, 0.6, 0.3, 0,
          0.93, 4, 4, 1.15 },
        { "noisy, 2 workers, knee 4", 2, 16, 16, &knee4, 1, 0.6, 0.3, 0,
          0.90, 5, 4, 1.15 },
        { "noisy, 2 workers, knee 8, 6 ms statements", 2, 16, 16, &knee8,
          10, 0.6, 0.3, 0, 0.90, 5, 6, 1.4 },

        { "1% bulk, 2 workers, knee 8", 2, 16, 16, &knee8, 1, 0, 0, 0.01,
          0.90, 5, 4, 1.15 },
    };

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        c = &cases[i];

        ngx_http_leadlist_sim_init(&conf, c->name, c->workers, c->max,
                                   c->initial);
        conf.noise = c->noise;
        conf.drift = c->drift;
        conf.bulk = c->bulk;
        ngx_http_leadlist_sim_phase(&conf, c->db, 30)->service *= c->slower;

        ngx_http_leadlist_sim(&conf, 10, st);
        ngx_http_leadlist_check(c->name, &conf, 0, &st[0], c->share, c->band,
                                c->spread, c->p99x);
    }
}


/* a pool smaller than the knee keeps all of its connections busy */

static void
ngx_http_leadlist_test_small_pool(void)
{
    ngx_http_leadlist_sim_conf_t    conf;
    ngx_http_leadlist_phase_stat_t  st[NGX_HTTP_LEADLIST_SIM_PHASES];

    ngx_http_leadlist_sim_init(&conf, "max 4, knee 8", 1, 4, 4);
    ngx_http_leadlist_sim_phase(&conf, &knee8, 30);

    ngx_http_leadlist_sim(&conf, 2, st);
    ngx_http_leadlist_ok(st[0].lo == 4 && st[0].hi == 4,
                         "%s: the limit stays 4 outside probes (%u-%u)",
                         conf.name, st[0].lo, st[0].hi);

    ngx_http_leadlist_sim_init(&conf, "2 workers, max 4, knee 8", 2, 4, 4);
    ngx_http_leadlist_sim_phase(&conf, &knee8, 30);

    ngx_http_leadlist_sim(&conf, 2, st);
    ngx_http_leadlist_ok(st[0].lo == 8 && st[0].hi == 8,
                         "%s: the limits stay 4 + 4 outside probes (%u-%u)",
                         conf.name, st[0].lo, st[0].hi);
}


/*
 * The database gets 3 times slower for 20 s (the knee stays: longer
 * statements), then recovers.  The base is stale during the slow phase:
 * the early probe must find the new one, or the limit stays far below
 * the knee.
 */

static void
ngx_http_leadlist_test_slower(void)
{
    ngx_http_leadlist_sim_conf_t    conf;
    ngx_http_leadlist_phase_stat_t  st[NGX_HTTP_LEADLIST_SIM_PHASES];

    ngx_http_leadlist_sim_init(&conf, "3x slower", 1, 32, 32);
    ngx_http_leadlist_sim_phase(&conf, &knee8, 20);
    ngx_http_leadlist_sim_phase(&conf, &knee8, 40)->service *= 3;
    ngx_http_leadlist_sim_phase(&conf, &knee8, 60);

    ngx_http_leadlist_sim(&conf, 5, st);
    ngx_http_leadlist_check("3x slower: during", &conf, 1, &st[1], 0.90, 3,
                            2, 1.15);
    ngx_http_leadlist_check("3x slower: after", &conf, 2, &st[2], 0.93, 3,
                            2, 1.15);
}


/*
 * Others take half of the database for 20 s (knee 8 becomes 4, same
 * statement time below it), then leave.
 */

static void
ngx_http_leadlist_test_crowded(void)
{
    ngx_http_leadlist_sim_conf_t    conf;
    ngx_http_leadlist_phase_stat_t  st[NGX_HTTP_LEADLIST_SIM_PHASES];

    ngx_http_leadlist_sim_init(&conf, "crowded", 1, 32, 32);
    ngx_http_leadlist_sim_phase(&conf, &knee8, 20);
    ngx_http_leadlist_sim_phase(&conf, &knee8, 40)->knee = 4;
    ngx_http_leadlist_sim_phase(&conf, &knee8, 60);

    ngx_http_leadlist_sim(&conf, 5, st);
    ngx_http_leadlist_check("crowded: during", &conf, 1, &st[1], 0.93, 3, 2,
                            1.15);
    ngx_http_leadlist_check("crowded: after", &conf, 2, &st[2], 0.93, 3, 2,
                            1.15);
}


/* the database gets 4 times the cores: the limit must follow upwards */

static void
ngx_http_leadlist_test_faster(void)
{
    ngx_http_leadlist_sim_conf_t    conf;
    ngx_http_leadlist_phase_stat_t  st[NGX_HTTP_LEADLIST_SIM_PHASES];

    ngx_http_leadlist_sim_init(&conf, "faster", 1, 32, 32);
    ngx_http_leadlist_sim_phase(&conf, &knee4, 20);
    ngx_http_leadlist_sim_phase(&conf, &knee4, 40)->knee = 16;

    ngx_http_leadlist_sim(&conf, 5, st);
    ngx_http_leadlist_check("faster: knee 4", &conf, 0, &st[0], 0.93, 3, 2,
                            1.15);
    ngx_http_leadlist_check("faster: knee 16", &conf, 1, &st[1], 0.93, 4, 3,
                            1.15);
}


/*
 * Light load (3 clients) does not teach the limiter anything about the
 * limit it did not use: it stays where it was; then 32 clients come.
 */

static void
ngx_http_leadlist_test_light(void)
{
    ngx_http_leadlist_sim_conf_t    conf;
    ngx_http_leadlist_phase_stat_t  st[NGX_HTTP_LEADLIST_SIM_PHASES];

    ngx_http_leadlist_sim_init(&conf, "light, then heavy", 1, 32, 12);
    ngx_http_leadlist_sim_phase(&conf, &knee8, 10)->clients = 3;
    ngx_http_leadlist_sim_phase(&conf, &knee8, 30);

    ngx_http_leadlist_sim(&conf, 2, st);
    ngx_http_leadlist_ok(st[0].lo == 12 && st[0].hi == 12,
                         "light: 3 clients leave the limit at 12 (%u-%u)",
                         st[0].lo, st[0].hi);
    ngx_http_leadlist_check("light, then heavy", &conf, 1, &st[1], 0.93, 3,
                            2, 1.15);
}


/*
 * Statements of tens of milliseconds (a database far away, or slow): 50 ms
 * would hold fewer than 4 of them, and no probe would ever measure the
 * base again; a probe gets 6 of the last window's statement times.
 */

static void
ngx_http_leadlist_test_long(void)
{
    uint64_t                   now;
    unsigned                   i;
    ngx_http_leadlist_limit_t  lim;

    ngx_http_leadlist_limit_init(&lim, 1, 16, 4, 1, 7);
    now = 1000000;

    /* the first probe, with nothing known: 50 ms, 2 statements, given up */
    for (i = 0; i < 3; i++) {
        now += 27000;
        ngx_http_leadlist_limit_sample(&lim, now, 27000, 1);
    }

    ngx_http_leadlist_ok(lim.aborted == 1 && lim.probes == 0,
                         "long: the first probe is given up (%u)",
                         lim.aborted);

    /* windows at 4 in flight, 27 ms each */
    for (i = 0; i < 80 && now < lim.probe_at - 27000; i++) {
        now += 27000 / 4;
        ngx_http_leadlist_limit_sample(&lim, now, 27000, 4);
    }

    ngx_http_leadlist_ok(lim.windows >= 1 && lim.rtt >= 25000
                         && lim.rtt <= 29000,
                         "long: windows of %llu us statements",
                         (unsigned long long) lim.rtt);

    /* the next probe: 3 drained, then 20 ms statements alone */
    now = lim.probe_at;
    ngx_http_leadlist_limit_sample(&lim, now, 27000, 4);

    for (i = 3; i >= 1; i--) {
        now += 9000;
        ngx_http_leadlist_limit_sample(&lim, now, 27000, i);
    }

    for (i = 0; i < 12 && lim.state != NGX_HTTP_LEADLIST_LIMIT_RUN; i++) {
        now += 20000;
        ngx_http_leadlist_limit_sample(&lim, now, 20000, 1);
    }

    ngx_http_leadlist_ok(lim.probes == 1 && lim.aborted == 1
                         && lim.base >= 19000 && lim.base <= 21000,
                         "long: a probe of %u statements measures the base, "
                         "%llu us", i, (unsigned long long) lim.base);
}
