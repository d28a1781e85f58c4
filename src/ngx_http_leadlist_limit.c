
/*
 * Copyright (C) leadlist authors
 */


/*
 * The adaptive concurrency limit: how many statements a worker runs on
 * the database at once, between min (1) and max (leadlist_pg_max).
 *
 * A database does the most work at some concurrency (its "knee": about
 * its cores plus what keeps them busy between statements).  Below it,
 * one more statement adds throughput and hardly any latency; above it,
 * one more statement adds no throughput, only a queue inside the database
 * where its processes compete for CPU and locks, so that statement time
 * grows with the concurrency and p99 with it.  The limiter keeps the
 * worker near the knee; requests beyond the limit wait in the pool's FIFO
 * queue, where waiting costs nothing and is fair.
 *
 * It is a gradient limiter on statement time (prior art: Netflix's
 * concurrency-limits and Envoy's adaptive concurrency filter), made for a
 * pool of sub-millisecond statements shared by several nginx workers:
 *
 * 1. base: the statement time when this worker runs one statement at a
 *    time, measured by a probe.  A probe lowers the limit to 1, waits
 *    until the statements in flight are done, then takes the median of
 *    the next 32 statements; a probe takes a few milliseconds.  It is
 *    given up after 50 ms of draining or of measuring (a bulk statement
 *    in flight, or statements too long to probe), so that it never stalls
 *    the worker for long; statements of several milliseconds (the last
 *    window's median) get 6 of their times to be measured instead, up to
 *    0.5 s, so that a probe still measures a database far away or slow.
 *    The base is the fastest of the last 3 probes: a probe can only come
 *    out too slow, bar noise (it met other workers running many
 *    statements, or a slow moment of the database).  Probes
 *    run every 10 s (+-25%, so that workers do not probe together), in a
 *    series of 3 probes 2 s apart at the first statement, and early, at
 *    most every 2 s, when the base looks stale: the estimate stayed below
 *    half its peak for 5 windows (the database got slower: the gradient
 *    would keep the limit far too low) or statements stayed 20% faster
 *    than the base for 3 windows (the database got faster).  An early
 *    probe forgets the earlier ones and starts a new series.  While no
 *    probe has succeeded (statements too long for one), the fastest
 *    window stands for the base.
 *
 * 2. windows: at least 32 statements and 100 ms.  The window's median
 *    statement time rtt (a median: a few bulk statements among short ones
 *    do not move it), and whether the worker used its limit (the highest
 *    in-flight reached it) or had fewer requests than the limit.
 *
 * 3. the gradient, at each window's end:
 *
 *        target = c * base / rtt + headroom,   headroom = h + estimate / 16
 *
 *    c is the concurrency the window ran at (the limit, or the highest
 *    in-flight when lower).  c * base / rtt is how many statements the
 *    database ran at base speed (Little's law): at or below the knee
 *    rtt = base and the target is c + headroom, so the limit grows by
 *    about one per window; above it rtt grows in proportion to the
 *    concurrency and the target falls back to the knee plus the headroom.
 *    The headroom is the small queue that keeps the database busy while
 *    the worker reads a result and sends the next statement (h is 1; 0.5
 *    when the pool pipelines, where statements queued on the connection
 *    do part of that); it also
 *    makes the limit probe upwards, so that it follows a database that
 *    got faster.  base / rtt is kept within 0.5 and 1 (faster than the
 *    base means a stale base: a probe will tell).
 *
 *    A target below the estimate moves it half way (one slow window does
 *    not halve the limit); a target above moves it all the way (at most
 *    the headroom).  When the worker had fewer requests than its limit, a
 *    limit it did not use is not judged: the estimate does not grow, and
 *    it falls only when statements were more than 25% slower than the
 *    base.  The limit is the estimate rounded, within min and max.

 * Several workers share the database and each has its own limiter.  Each
 * sees the same statement times, so each backs off when the database
 * queues; each adds its own headroom, so the database sees the knee plus
 * one or two statements per worker.  Throughput is not used as a signal:
 * a worker's own throughput still grows with its share of the database
 * when the total does not (the other workers give way), so a worker
 * maximizing its own would push the database over its knee.  Not smaller
 * than helps: the estimate only falls when statements are slower than at
 * base, that is when the database is queueing; a pool whose statements
 * all run at base speed keeps all of them.
 *
 * Known limits (t/unit/test_limit.c simulates them): the limit follows a
 * database whose speed wanders, so it moves with it (90% of the time
 * within +-2 of its median, p99 as with a fixed limit); with statements
 * of several milliseconds a probe holds few of them, workers' bases and
 * limits differ more, and p99 suffers from that unfairness between their
 * clients (up to 1.4 x a fixed limit's in simulation).
 */


#include <time.h>

#include "ngx_http_leadlist_limit.h"


#define NGX_HTTP_LEADLIST_LIMIT_WINDOW_US     100000
#define NGX_HTTP_LEADLIST_LIMIT_WINDOW_MIN    32

#define NGX_HTTP_LEADLIST_LIMIT_PROBE_US      10000000
#define NGX_HTTP_LEADLIST_LIMIT_PROBE_N       32
#define NGX_HTTP_LEADLIST_LIMIT_PROBE_MIN_N   4
#define NGX_HTTP_LEADLIST_LIMIT_BUDGET_RTTS   6
#define NGX_HTTP_LEADLIST_LIMIT_BUDGET_MAX    500000
#define NGX_HTTP_LEADLIST_LIMIT_EARLY_US      2000000
#define NGX_HTTP_LEADLIST_LIMIT_LOW_N         5
#define NGX_HTTP_LEADLIST_LIMIT_FAST_N        3

#define NGX_HTTP_LEADLIST_LIMIT_GRAD_MIN      0.5
#define NGX_HTTP_LEADLIST_LIMIT_SMOOTH        0.5
#define NGX_HTTP_LEADLIST_LIMIT_IDLE_SLOW     1.25
#define NGX_HTTP_LEADLIST_LIMIT_FAST          0.8


static void ngx_http_leadlist_limit_window(ngx_http_leadlist_limit_t *lim,
    uint64_t now);
static void ngx_http_leadlist_limit_probe(ngx_http_leadlist_limit_t *lim,
    uint64_t now);
static void ngx_http_leadlist_limit_probe_end(ngx_http_leadlist_limit_t *lim,
    uint64_t now);
static void ngx_http_leadlist_limit_base(ngx_http_leadlist_limit_t *lim,
    uint64_t probe);
static void ngx_http_leadlist_limit_restart(ngx_http_leadlist_limit_t *lim,
    uint64_t now);
static uint64_t ngx_http_leadlist_limit_budget(
    ngx_http_leadlist_limit_t *lim);
static void ngx_http_leadlist_limit_round(ngx_http_leadlist_limit_t *lim);
static uint64_t ngx_http_leadlist_limit_interval(
    ngx_http_leadlist_limit_t *lim);
static void ngx_http_leadlist_limit_add(ngx_http_leadlist_limit_t *lim,
    uint64_t rtt);
static uint64_t ngx_http_leadlist_limit_median(
    ngx_http_leadlist_limit_t *lim);
static unsigned ngx_http_leadlist_limit_bucket(uint64_t v);
static double ngx_http_leadlist_limit_low(unsigned i);


int
ngx_http_leadlist_limit_init(ngx_http_leadlist_limit_t *lim, unsigned min,
    unsigned max, unsigned initial, unsigned adaptive, uint32_t seed)
{
    unsigned  i;

    if (min == 0 || max < min) {
        return -1;
    }

    if (initial < min) {
        initial = min;

    } else if (initial > max) {
        initial = max;
    }

    lim->min = min;
    lim->max = max;
    lim->adaptive = adaptive ? 1 : 0;
    lim->estimate = adaptive ? initial : max;
    lim->peak = lim->estimate;
    lim->head = 1.0;
    lim->limit = (unsigned) lim->estimate;

    lim->base = 0;
    lim->rtt = 0;
    lim->nbases = 0;
    lim->wmin = 0;
    lim->early = 0;
    lim->state = NGX_HTTP_LEADLIST_LIMIT_RUN;
    lim->start = 0;
    lim->probe_at = 0;          /* the first statement starts a probe */
    lim->probed = 0;
    lim->low = 0;
    lim->fast = 0;
    lim->inflight = 0;
    lim->seed = seed ? seed : 0x9e3779b9;

    lim->windows = 0;
    lim->probes = 0;
    lim->aborted = 0;

    lim->count = 0;
    for (i = 0; i < NGX_HTTP_LEADLIST_LIMIT_BUCKETS; i++) {
        lim->hist[i] = 0;
    }

    return 0;
}


int
ngx_http_leadlist_limit_sample(ngx_http_leadlist_limit_t *lim, uint64_t now,
    uint64_t rtt, unsigned inflight)
{
    unsigned  old;

    if (!lim->adaptive) {
        return 0;
    }

    old = lim->limit;

    switch (lim->state) {

    case NGX_HTTP_LEADLIST_LIMIT_DRAIN:

        if (inflight <= lim->min) {
            /* the last statement of the old limit: measure from the next */
            lim->state = NGX_HTTP_LEADLIST_LIMIT_MEASURE;
            lim->start = now;

        } else if (now - lim->start > NGX_HTTP_LEADLIST_LIMIT_PROBE_BUDGET) {
            ngx_http_leadlist_limit_probe_end(lim, now);
        }

        break;

    case NGX_HTTP_LEADLIST_LIMIT_MEASURE:

        if (inflight <= lim->min) {
            ngx_http_leadlist_limit_add(lim, rtt);
        }

        if (lim->count >= NGX_HTTP_LEADLIST_LIMIT_PROBE_N
            || now - lim->start > ngx_http_leadlist_limit_budget(lim))
        {
            ngx_http_leadlist_limit_probe_end(lim, now);
        }

        break;

    default: /* NGX_HTTP_LEADLIST_LIMIT_RUN */

        if (now >= lim->probe_at) {
            ngx_http_leadlist_limit_probe(lim, now);

            if (inflight <= lim->min) {
                lim->state = NGX_HTTP_LEADLIST_LIMIT_MEASURE;
            }

            break;
        }

        ngx_http_leadlist_limit_add(lim, rtt);

        if (inflight > lim->inflight) {
            lim->inflight = inflight;
        }

        if (lim->count >= NGX_HTTP_LEADLIST_LIMIT_WINDOW_MIN
            && now - lim->start >= NGX_HTTP_LEADLIST_LIMIT_WINDOW_US)
        {
            ngx_http_leadlist_limit_window(lim, now);
        }
    }

    return lim->limit != old;
}


unsigned
ngx_http_leadlist_limit_get(ngx_http_leadlist_limit_t *lim, uint64_t now)
{
    /*
     * A probe past its time is given up here too: behind a long statement
     * no sample comes while the limit is 1, and requests would wait for it.
     */

    if ((lim->state == NGX_HTTP_LEADLIST_LIMIT_DRAIN
         && now - lim->start > NGX_HTTP_LEADLIST_LIMIT_PROBE_BUDGET)
        || (lim->state == NGX_HTTP_LEADLIST_LIMIT_MEASURE
            && now - lim->start > ngx_http_leadlist_limit_budget(lim)))
    {
        ngx_http_leadlist_limit_probe_end(lim, now);
    }

    return lim->limit;
}


uint64_t
ngx_http_leadlist_limit_now(void)
{
    struct timespec  ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
        return 0;
    }

    return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}


static void
ngx_http_leadlist_limit_window(ngx_http_leadlist_limit_t *lim, uint64_t now)
{
    double    c, g, target, head;
    uint64_t  rtt;
    unsigned  used;

    rtt = ngx_http_leadlist_limit_median(lim);
    used = lim->inflight >= lim->limit;

    lim->rtt = rtt;
    lim->windows++;

    if (lim->wmin == 0 || rtt < lim->wmin) {
        lim->wmin = rtt;
    }

    if (lim->nbases == 0 && (lim->base == 0 || rtt < lim->base)) {
        /* no probe has measured it: the fastest window so far */
        lim->base = rtt;
    }

    g = (double) lim->base / (double) rtt;

    if (g < NGX_HTTP_LEADLIST_LIMIT_GRAD_MIN) {
        g = NGX_HTTP_LEADLIST_LIMIT_GRAD_MIN;

    } else if (g > 1.0) {
        /* faster than the base: the base is stale, a probe will tell */
        g = 1.0;
    }

    /* the concurrency the window ran at */
    c = lim->inflight < lim->limit ? lim->inflight : lim->limit;

    head = lim->head + lim->estimate / 16.0;
    target = c * g + head;

    if (!used) {
        /* what was not tried is not judged */
        if (g >= 1.0 / NGX_HTTP_LEADLIST_LIMIT_IDLE_SLOW
            || target > lim->estimate)
        {
            target = lim->estimate;
        }
    }

    if (target < lim->estimate) {
        lim->estimate += NGX_HTTP_LEADLIST_LIMIT_SMOOTH
                         * (target - lim->estimate);

    } else {
        lim->estimate = target;
    }

    if (lim->estimate < lim->min) {
        lim->estimate = lim->min;

    } else if (lim->estimate > lim->max) {
        lim->estimate = lim->max;
    }

    ngx_http_leadlist_limit_round(lim);

    /* a stale base: the database got slower or faster since the probe */

    lim->low = lim->estimate < lim->peak / 2 ? lim->low + 1 : 0;
    lim->fast = rtt < lim->base * NGX_HTTP_LEADLIST_LIMIT_FAST
                ? lim->fast + 1 : 0;

    if (lim->estimate > lim->peak) {
        lim->peak = lim->estimate;
    }

    if ((lim->low >= NGX_HTTP_LEADLIST_LIMIT_LOW_N
         || lim->fast >= NGX_HTTP_LEADLIST_LIMIT_FAST_N)
        && now - lim->probed >= NGX_HTTP_LEADLIST_LIMIT_EARLY_US
        && lim->probe_at > now)
    {
        lim->probe_at = now;
        lim->early = 1;
    }

    ngx_http_leadlist_limit_restart(lim, now);
}


static void
ngx_http_leadlist_limit_probe(ngx_http_leadlist_limit_t *lim, uint64_t now)
{
    lim->state = NGX_HTTP_LEADLIST_LIMIT_DRAIN;
    lim->limit = lim->min;

    /* the histogram now holds the probe's statements */
    ngx_http_leadlist_limit_restart(lim, now);
}


static void
ngx_http_leadlist_limit_probe_end(ngx_http_leadlist_limit_t *lim,
    uint64_t now)
{
    uint64_t  next;

    next = ngx_http_leadlist_limit_interval(lim);

    if (lim->state == NGX_HTTP_LEADLIST_LIMIT_MEASURE
        && lim->count >= NGX_HTTP_LEADLIST_LIMIT_PROBE_MIN_N)
    {
        ngx_http_leadlist_limit_base(lim,
                                     ngx_http_leadlist_limit_median(lim));
        lim->probes++;

        /* a new base is made of 3 probes 2 s apart */
        if (lim->nbases < NGX_HTTP_LEADLIST_LIMIT_BASES) {
            next = NGX_HTTP_LEADLIST_LIMIT_EARLY_US;
        }

    } else {
        /*
         * A long statement in flight, or statements too long for a probe
         * (a bulk workload): when the base looks stale, the fastest window
         * since the last probe stands for it (until a probe succeeds),
         * else it is kept.
         */

        lim->aborted++;

        if (lim->early && lim->wmin) {
            lim->nbases = 0;
            lim->base = lim->wmin;
        }
    }

    lim->state = NGX_HTTP_LEADLIST_LIMIT_RUN;
    lim->early = 0;
    lim->probed = now;
    lim->probe_at = now + next;
    lim->wmin = 0;
    lim->peak = lim->estimate;
    lim->low = 0;
    lim->fast = 0;

    /* back to the estimate of before the probe */
    ngx_http_leadlist_limit_round(lim);

    ngx_http_leadlist_limit_restart(lim, now);
}


/*
 * The base: the fastest of the last 3 probes.  A probe can only be too
 * slow, bar noise: it met other workers running many statements, or a
 * slow moment of the database.  Taking the last 3, 10 s apart, the base
 * follows a database that got slower within 30 s; an early probe was
 * called because the base looks stale, and starts anew.
 */

static void
ngx_http_leadlist_limit_base(ngx_http_leadlist_limit_t *lim, uint64_t probe)
{
    unsigned  i;

    if (lim->early) {
        lim->nbases = 0;
    }

    if (lim->nbases == NGX_HTTP_LEADLIST_LIMIT_BASES) {
        for (i = 1; i < NGX_HTTP_LEADLIST_LIMIT_BASES; i++) {
            lim->bases[i - 1] = lim->bases[i];
        }

        lim->nbases--;
    }

    lim->bases[lim->nbases++] = probe;
    lim->base = probe;

    for (i = 0; i < lim->nbases; i++) {
        if (lim->bases[i] < lim->base) {
            lim->base = lim->bases[i];
        }
    }
}


static void
ngx_http_leadlist_limit_restart(ngx_http_leadlist_limit_t *lim, uint64_t now)
{
    unsigned  i;

    lim->start = now;
    lim->inflight = 0;

    if (lim->count == 0) {
        return;
    }

    lim->count = 0;
    for (i = 0; i < NGX_HTTP_LEADLIST_LIMIT_BUCKETS; i++) {
        lim->hist[i] = 0;
    }
}


/*
 * How long a probe may measure: 50 ms, or for statements of several
 * milliseconds (a database far away, or slow) the time of 6 of the last
 * window's, up to 0.5 s, so that a probe still holds at least 4 of them
 * and the base follows a database that got slower.  Draining keeps its
 * 50 ms: it waits on statements already running, which a lock or a bulk
 * statement may hold for any time.
 */

static uint64_t
ngx_http_leadlist_limit_budget(ngx_http_leadlist_limit_t *lim)
{
    uint64_t  budget;

    budget = lim->rtt * NGX_HTTP_LEADLIST_LIMIT_BUDGET_RTTS;

    if (budget < NGX_HTTP_LEADLIST_LIMIT_PROBE_BUDGET) {
        return NGX_HTTP_LEADLIST_LIMIT_PROBE_BUDGET;
    }

    if (budget > NGX_HTTP_LEADLIST_LIMIT_BUDGET_MAX) {
        return NGX_HTTP_LEADLIST_LIMIT_BUDGET_MAX;
    }

    return budget;
}


static void
ngx_http_leadlist_limit_round(ngx_http_leadlist_limit_t *lim)
{
    lim->limit = (unsigned) (lim->estimate + 0.5);

    if (lim->limit < lim->min) {
        lim->limit = lim->min;

    } else if (lim->limit > lim->max) {
        lim->limit = lim->max;
    }
}


/* the probe interval, uniformly within +-25% (xorshift32) */

static uint64_t
ngx_http_leadlist_limit_interval(ngx_http_leadlist_limit_t *lim)
{
    uint32_t  x;

    x = lim->seed;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    lim->seed = x;

    return NGX_HTTP_LEADLIST_LIMIT_PROBE_US / 4 * 3
           + (uint64_t) (x % 1000) * (NGX_HTTP_LEADLIST_LIMIT_PROBE_US / 2)
             / 1000;
}


static void
ngx_http_leadlist_limit_add(ngx_http_leadlist_limit_t *lim, uint64_t rtt)
{
    lim->hist[ngx_http_leadlist_limit_bucket(rtt)]++;
    lim->count++;
}


/* the median, interpolated within its bucket */

static uint64_t
ngx_http_leadlist_limit_median(ngx_http_leadlist_limit_t *lim)
{
    double    at, width, v;
    uint32_t  cum;
    unsigned  i;

    at = lim->count / 2.0;
    cum = 0;

    for (i = 0; i < NGX_HTTP_LEADLIST_LIMIT_BUCKETS; i++) {

        if (cum + lim->hist[i] > at) {
            width = ngx_http_leadlist_limit_low(i + 1)
                    - ngx_http_leadlist_limit_low(i);
            v = ngx_http_leadlist_limit_low(i)
                + width * (at - cum) / lim->hist[i];

            return v < 1 ? 1 : (uint64_t) v;
        }

        cum += lim->hist[i];
    }

    return (uint64_t) ngx_http_leadlist_limit_low(
                          NGX_HTTP_LEADLIST_LIMIT_BUCKETS - 1);
}


/*
 * Values below 16 have a bucket each; above, each power of two has 16
 * buckets of equal width, so that a bucket is at most 1/16 of its value.
 */

static unsigned
ngx_http_leadlist_limit_bucket(uint64_t v)
{
    unsigned  msb;

    if (v < NGX_HTTP_LEADLIST_LIMIT_SUB) {
        return (unsigned) v;
    }

    for (msb = 4; msb < 63 && (v >> (msb + 1)) != 0; msb++) {
        /* void */
    }

    if (msb >= 28) {
        return NGX_HTTP_LEADLIST_LIMIT_BUCKETS - 1;
    }

    return (msb - 3) * NGX_HTTP_LEADLIST_LIMIT_SUB
           + (unsigned) ((v >> (msb - 4)) & (NGX_HTTP_LEADLIST_LIMIT_SUB - 1));
}


static double
ngx_http_leadlist_limit_low(unsigned i)
{
    unsigned  msb, sub;

    if (i < NGX_HTTP_LEADLIST_LIMIT_SUB) {
        return i;
    }

    msb = i / NGX_HTTP_LEADLIST_LIMIT_SUB + 3;
    sub = i % NGX_HTTP_LEADLIST_LIMIT_SUB;

    return (double) ((uint64_t) (NGX_HTTP_LEADLIST_LIMIT_SUB + sub)
                     << (msb - 4));
}
