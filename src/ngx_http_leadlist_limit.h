
/*
 * Copyright (C) leadlist authors
 */


/*
 * The adaptive concurrency limit of a worker's pool: how many statements
 * it runs at once.  Plain C99 with no nginx types, so that it is
 * unit-tested on its own against simulated databases (t/unit/test_limit.c).
 * How it decides is described in ngx_http_leadlist_limit.c.
 *
 * The pool's side, per worker and upstream:
 *
 *     ngx_http_leadlist_limit_init(&lim, 1, max, max, adaptive, ngx_pid);
 *
 *     admit a statement only while
 *         in-flight < ngx_http_leadlist_limit_get(&lim, now)
 *     (the others wait in the pool's FIFO queue), checked when a request
 *     arrives and after each completion; now and the statement's send time
 *     from ngx_http_leadlist_limit_now(): ngx_current_msec is cached per
 *     event-loop turn and counts milliseconds, far too coarse for
 *     statements of a fraction of a millisecond;
 *
 *     when a statement's result is complete (all of it read):
 *         ngx_http_leadlist_limit_sample(&lim, now, now - sent, inflight)
 *     with inflight the statements in flight at that moment, this one
 *     included; then dispatch from the queue as above (the limit may have
 *     grown).
 *
 * Failed statements (connection lost, timeout, error result) are not
 * samples: their time says nothing about the database's load.
 */


#ifndef _NGX_HTTP_LEADLIST_LIMIT_H_INCLUDED_
#define _NGX_HTTP_LEADLIST_LIMIT_H_INCLUDED_


#include <stdint.h>


/* latency histogram: 16 linear steps per power of two, up to 2^28 us */
#define NGX_HTTP_LEADLIST_LIMIT_SUB       16
#define NGX_HTTP_LEADLIST_LIMIT_BUCKETS   ((28 - 3) * 16)

/* the base is the fastest of the last 3 probes */
#define NGX_HTTP_LEADLIST_LIMIT_BASES     3

/*
 * a probe's draining, or its measuring, is given up after this (us); its
 * measuring after 6 statement times when these are longer
 */
#define NGX_HTTP_LEADLIST_LIMIT_PROBE_BUDGET  50000


typedef enum {
    NGX_HTTP_LEADLIST_LIMIT_RUN = 0,     /* windows: the gradient */
    NGX_HTTP_LEADLIST_LIMIT_DRAIN,       /* probe: waiting for in-flight */
    NGX_HTTP_LEADLIST_LIMIT_MEASURE      /* probe: one statement at a time */
} ngx_http_leadlist_limit_state_e;


typedef struct {
    /* the limit: read it through ngx_http_leadlist_limit_get() */
    unsigned                         limit;

    /* configuration */
    unsigned                         min;
    unsigned                         max;
    unsigned                         adaptive;

    /* the estimate the limit is rounded from */
    double                           estimate;

    /* the headroom's constant part: 1 unless set after init */
    double                           head;

    /* the limit's highest estimate since the last probe */
    double                           peak;

    /* statement time with this worker alone on the database (probes) */
    uint64_t                         base;     /* us, 0: not measured */
    uint64_t                         rtt;      /* us, last window's median */
    uint64_t                         bases[NGX_HTTP_LEADLIST_LIMIT_BASES];
    unsigned                         nbases;   /* the last probes' */
    uint64_t                         wmin;     /* windows since a probe */
    unsigned                         early;    /* the probe is early */

    ngx_http_leadlist_limit_state_e  state;
    uint64_t                         start;    /* of the window or probe */
    uint64_t                         probe_at; /* the next probe */
    uint64_t                         probed;   /* the last probe's end */
    unsigned                         low;      /* windows: estimate < peak/2 */
    unsigned                         fast;     /* windows: rtt < base * 0.8 */
    unsigned                         inflight; /* the window's highest */
    uint32_t                         seed;     /* probe jitter */

    /* statistics, for logs and tests */
    uint64_t                         windows;
    uint64_t                         probes;   /* completed */
    uint64_t                         aborted;  /* probes given up */

    uint32_t                         count;
    uint32_t                         hist[NGX_HTTP_LEADLIST_LIMIT_BUCKETS];
} ngx_http_leadlist_limit_t;


/*
 * 0, or -1 when min is 0 or max < min.  initial is clamped to [min, max].
 * With adaptive 0 the limit is max, always, and samples are ignored.  The
 * seed spreads the probes of different workers (e.g. the pid).
 */
int ngx_http_leadlist_limit_init(ngx_http_leadlist_limit_t *lim,
    unsigned min, unsigned max, unsigned initial, unsigned adaptive,
    uint32_t seed);

/*
 * One completed statement: now and rtt in microseconds (now from the same
 * monotonic clock every call), inflight counting this statement.  Returns
 * 1 when lim->limit changed, 0 otherwise.
 */
int ngx_http_leadlist_limit_sample(ngx_http_leadlist_limit_t *lim,
    uint64_t now, uint64_t rtt, unsigned inflight);

/*
 * The limit to admit statements by (lim->limit, after giving up a probe
 * that has run out of time: call it with now before admitting).
 */
unsigned ngx_http_leadlist_limit_get(ngx_http_leadlist_limit_t *lim,
    uint64_t now);

/* CLOCK_MONOTONIC in microseconds */
uint64_t ngx_http_leadlist_limit_now(void);


#endif /* _NGX_HTTP_LEADLIST_LIMIT_H_INCLUDED_ */
