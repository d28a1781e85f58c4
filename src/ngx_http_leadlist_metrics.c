
/*
 * Copyright (C) leadlist authors
 */


/* leadlist_metrics: every worker's pool and endpoint figures, summed. */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_leadlist.h"
#include "ngx_http_leadlist_metrics.h"
#include "ngx_http_leadlist_pool.h"
#include "ngx_http_leadlist_response.h"
#include "ngx_http_leadlist_syntax.h"
#include "ngx_http_leadlist_upstream.h"
#include "ngx_http_leadlist_util.h"
#include "ngx_http_leadlist_variables.h"


/*
 * The pools' and the endpoints' figures in the Prometheus text format
 * (0.0.4), every worker's summed.
 *
 * One shared memory zone holds them.  Counters and histograms belong to
 * all workers together and only grow, by atomic adds; the zone outlives
 * a reload that keeps its size, and its nodes are found again by name,
 * so they go on counting while the master lives.  Gauges (connections
 * by state, waiting requests, the limit) are per process instead: each
 * process writes its own slot, indexed by its nginx process slot, and a
 * reader sums the slots of processes that are alive, so that a worker
 * that exits or crashes, or the old workers of a reload once they are
 * gone, leave nothing behind.
 *
 * This is a module of its own in the same shared object, so that the
 * endpoint module only calls the hooks of ngx_http_leadlist_metrics.h.
 */


#define NGX_HTTP_LEADLIST_METRICS_NBUCKETS  14     /* the last one is +Inf */
#define NGX_HTTP_LEADLIST_METRICS_NSTATUS   600
#define NGX_HTTP_LEADLIST_METRICS_NCLASS    (36 * 36)

#define NGX_HTTP_LEADLIST_METRICS_UPSTREAM  1
#define NGX_HTTP_LEADLIST_METRICS_ENDPOINT  2

#define NGX_HTTP_LEADLIST_METRICS_ZONE      (1024 * 1024)
#define NGX_HTTP_LEADLIST_METRICS_LINE      512
#define NGX_HTTP_LEADLIST_METRICS_BUF       16384


typedef struct {
    ngx_atomic_t        bucket[NGX_HTTP_LEADLIST_METRICS_NBUCKETS];
    ngx_atomic_t        sum;      /* milliseconds */
} ngx_http_leadlist_metrics_hist_t;


/* one process's view of one pool: written by that process only */

typedef struct {
    uint32_t            open;
    uint32_t            idle;
    uint32_t            connecting;
    uint32_t            waiting;
    uint32_t            limit;
} ngx_http_leadlist_metrics_slot_t;


/* what the zone keeps per name: an upstream, or an endpoint location */

typedef struct {
    ngx_queue_t         queue;
    ngx_uint_t          kind;
    size_t              len;
    u_char             *name;
} ngx_http_leadlist_metrics_node_t;


typedef struct {
    ngx_http_leadlist_metrics_node_t  node;
    ngx_atomic_t                      events[NGX_HTTP_LEADLIST_EVENT_N];
    ngx_atomic_t                      statements;
    ngx_atomic_t                      errors[NGX_HTTP_LEADLIST_METRICS_NCLASS];
    ngx_http_leadlist_metrics_hist_t  wait;
    ngx_http_leadlist_metrics_hist_t  statement;
    ngx_http_leadlist_metrics_slot_t  gauges[NGX_MAX_PROCESSES];
} ngx_http_leadlist_metrics_upstream_t;


typedef struct {
    ngx_http_leadlist_metrics_node_t  node;
    ngx_atomic_t                      status[NGX_HTTP_LEADLIST_METRICS_NSTATUS];
    ngx_atomic_t                      added;
    ngx_atomic_t                      selected;
    ngx_http_leadlist_metrics_hist_t  time;
} ngx_http_leadlist_metrics_endpoint_t;


typedef struct {
    ngx_queue_t                             nodes;
    ngx_pid_t                               pid[NGX_MAX_PROCESSES];
} ngx_http_leadlist_metrics_sh_t;


/* an upstream or an endpoint location of the configuration */

typedef struct {
    ngx_str_t                               name;
    ngx_str_t                               label;    /* escaped */
    ngx_http_leadlist_srv_conf_t           *lscf;     /* an upstream's */
    void                                   *shm;      /* its node */
} ngx_http_leadlist_metrics_rec_t;


typedef struct {
    size_t                                  size;
    ngx_uint_t                              enabled;
    ngx_slab_pool_t                        *shpool;
    ngx_http_leadlist_metrics_sh_t         *sh;
    ngx_array_t                             upstreams;  /* of rec pointers */
    ngx_array_t                             endpoints;  /* of rec pointers */
    size_t                                  line;
} ngx_http_leadlist_metrics_main_conf_t;


typedef struct {
    ngx_http_leadlist_metrics_rec_t        *rec;
} ngx_http_leadlist_metrics_srv_conf_t;


typedef struct {
    ngx_http_leadlist_metrics_rec_t        *rec;      /* an endpoint's */
    ngx_flag_t                              handler;  /* leadlist_metrics */
} ngx_http_leadlist_metrics_loc_conf_t;


/* the sums of the live processes' gauges of one pool */

typedef struct {
    ngx_uint_t                              open;
    ngx_uint_t                              idle;
    ngx_uint_t                              busy;
    ngx_uint_t                              connecting;
    ngx_uint_t                              waiting;
    ngx_uint_t                              limit;
} ngx_http_leadlist_metrics_sum_t;


/* a family of one value per node: a counter, or a histogram, at offset */

typedef struct {
    const char                             *name;
    const char                             *help;
    size_t                                  offset;
    ngx_uint_t                              histogram;
} ngx_http_leadlist_metrics_family_t;


typedef struct {
    ngx_http_request_t                     *request;
    ngx_chain_t                            *out;
    ngx_chain_t                           **last;
    ngx_buf_t                              *buf;
    size_t                                  line;
    off_t                                   length;
    ngx_uint_t                              failed;   /* out of memory */
} ngx_http_leadlist_metrics_writer_t;


static void ngx_http_leadlist_metrics_observe(
    ngx_http_leadlist_metrics_hist_t *h, uint64_t us);
static ngx_http_leadlist_metrics_upstream_t *ngx_http_leadlist_metrics_node_of(
    ngx_http_leadlist_srv_conf_t *lscf);
static ngx_uint_t ngx_http_leadlist_metrics_class(const char *state);
static ngx_int_t ngx_http_leadlist_metrics_digit(u_char c);
static ngx_int_t ngx_http_leadlist_metrics_log_handler(ngx_http_request_t *r);

static ngx_int_t ngx_http_leadlist_metrics_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_leadlist_metrics_not_allowed(ngx_http_request_t *r);
static void ngx_http_leadlist_metrics_print(
    ngx_http_leadlist_metrics_writer_t *w, const char *fmt, ...);
static void ngx_http_leadlist_metrics_family(
    ngx_http_leadlist_metrics_writer_t *w, const char *name,
    const char *type, const char *help);
static void ngx_http_leadlist_metrics_histogram(
    ngx_http_leadlist_metrics_writer_t *w, const char *name,
    const char *label, ngx_str_t *value, ngx_http_leadlist_metrics_hist_t *h);
static void ngx_http_leadlist_metrics_write_pools(
    ngx_http_leadlist_metrics_writer_t *w,
    ngx_http_leadlist_metrics_main_conf_t *mmcf);
static void ngx_http_leadlist_metrics_write_families(
    ngx_http_leadlist_metrics_writer_t *w, ngx_array_t *recs,
    const char *label, ngx_http_leadlist_metrics_family_t *f);
static void ngx_http_leadlist_metrics_write_gauges(
    ngx_http_leadlist_metrics_writer_t *w,
    ngx_http_leadlist_metrics_main_conf_t *mmcf);
static void ngx_http_leadlist_metrics_write_errors(
    ngx_http_leadlist_metrics_writer_t *w,
    ngx_http_leadlist_metrics_main_conf_t *mmcf);
static void ngx_http_leadlist_metrics_write_endpoints(
    ngx_http_leadlist_metrics_writer_t *w,
    ngx_http_leadlist_metrics_main_conf_t *mmcf);
static ngx_uint_t *ngx_http_leadlist_metrics_live(ngx_http_request_t *r,
    ngx_http_leadlist_metrics_main_conf_t *mmcf, ngx_uint_t *n);

static ngx_int_t ngx_http_leadlist_metrics_init_process(ngx_cycle_t *cycle);
static void ngx_http_leadlist_metrics_exit_process(ngx_cycle_t *cycle);
static void ngx_http_leadlist_metrics_slot(ngx_cycle_t *cycle,
    ngx_uint_t claim);
static void ngx_http_leadlist_metrics_clear(
    ngx_http_leadlist_metrics_main_conf_t *mmcf, ngx_uint_t keep_limit);
static void *ngx_http_leadlist_metrics_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_leadlist_metrics_init_main_conf(ngx_conf_t *cf,
    void *conf);
static void *ngx_http_leadlist_metrics_create_srv_conf(ngx_conf_t *cf);
static void *ngx_http_leadlist_metrics_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_leadlist_metrics_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static ngx_int_t ngx_http_leadlist_metrics_postconfiguration(ngx_conf_t *cf);
static size_t ngx_http_leadlist_metrics_zone_size(
    ngx_http_leadlist_metrics_main_conf_t *mmcf);
static ngx_int_t ngx_http_leadlist_metrics_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void *ngx_http_leadlist_metrics_node(ngx_shm_zone_t *shm_zone,
    ngx_uint_t kind, ngx_http_leadlist_metrics_rec_t *rec, size_t size);
static ngx_http_leadlist_metrics_rec_t *ngx_http_leadlist_metrics_rec(
    ngx_conf_t *cf, ngx_array_t *recs, ngx_str_t *name);
static char *ngx_http_leadlist_metrics(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


static ngx_command_t  ngx_http_leadlist_metrics_commands[] = {

    { ngx_string("leadlist_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_leadlist_metrics,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("leadlist_metrics_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_leadlist_metrics_main_conf_t, size),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_leadlist_metrics_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_leadlist_metrics_postconfiguration, /* postconfiguration */

    ngx_http_leadlist_metrics_create_main_conf, /* create main configuration */
    ngx_http_leadlist_metrics_init_main_conf, /* init main configuration */

    ngx_http_leadlist_metrics_create_srv_conf, /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_leadlist_metrics_create_loc_conf, /* create location conf */
    ngx_http_leadlist_metrics_merge_loc_conf /* merge location configuration */
};


ngx_module_t  ngx_http_leadlist_metrics_module = {
    NGX_MODULE_V1,
    &ngx_http_leadlist_metrics_module_ctx, /* module context */
    ngx_http_leadlist_metrics_commands,    /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_leadlist_metrics_init_process, /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_leadlist_metrics_exit_process, /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_str_t  ngx_http_leadlist_metrics_zone_name =
    ngx_string("leadlist_metrics");

static ngx_str_t  ngx_http_leadlist_metrics_type =
    ngx_string("text/plain; version=0.0.4");


/* upper bounds in microseconds, then as the "le" label says them */

static uint64_t  ngx_http_leadlist_metrics_bounds[] = {
    1000, 2000, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
    1000000, 2500000, 5000000, 10000000
};

static const char  *ngx_http_leadlist_metrics_le[] = {
    "0.001", "0.002", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
    "0.5", "1", "2.5", "5", "10", "+Inf"
};

/* in the order of the NGX_HTTP_LEADLIST_EVENT_CLOSED_* counters */

static const char  *ngx_http_leadlist_metrics_reasons[] = {
    "idle", "broken", "lifetime", "requests", "exit"
};


#define ngx_http_leadlist_metrics_at(e)                                       \
    offsetof(ngx_http_leadlist_metrics_upstream_t, events)                    \
    + NGX_HTTP_LEADLIST_EVENT_##e * sizeof(ngx_atomic_t)

static ngx_http_leadlist_metrics_family_t
    ngx_http_leadlist_metrics_pool_families[] =
{
    { "leadlist_pool_connects_total",
      "Connects to PostgreSQL started.",
      ngx_http_leadlist_metrics_at(CONNECT), 0 },

    { "leadlist_pool_connect_failures_total",
      "Connects to PostgreSQL that failed or timed out.",
      ngx_http_leadlist_metrics_at(CONNECT_FAILED), 0 },

    { "leadlist_pool_statements_total",
      "Statements sent to PostgreSQL.",
      offsetof(ngx_http_leadlist_metrics_upstream_t, statements), 0 },

    { "leadlist_pool_statements_pipelined_total",
      "Statements sent on a connection behind one still running "
      "(leadlist_pg_pipeline).",
      ngx_http_leadlist_metrics_at(PIPELINED), 0 },

    { "leadlist_pool_wait_timeouts_total",
      "Requests that waited for a connection longer than the queue timeout.",
      ngx_http_leadlist_metrics_at(WAIT_TIMEOUT), 0 },

    { "leadlist_pool_queue_full_total",
      "Requests refused because the wait queue was full.",
      ngx_http_leadlist_metrics_at(QUEUE_FULL), 0 },

    { "leadlist_pool_wait_duration_seconds",
      "Time a request waited for a PostgreSQL connection.",
      offsetof(ngx_http_leadlist_metrics_upstream_t, wait), 1 },

    { "leadlist_pool_statement_duration_seconds",
      "Time from sending a statement to its last result.",
      offsetof(ngx_http_leadlist_metrics_upstream_t, statement), 1 },

    { NULL, NULL, 0, 0 }
};

#undef ngx_http_leadlist_metrics_at


static ngx_http_leadlist_metrics_family_t
    ngx_http_leadlist_metrics_endpoint_families[] =
{
    { "leadlist_prospects_added_total",
      "Prospects newly added to lead lists (addedCount of the 200s; "
      "not of dry runs or idempotent replays).",
      offsetof(ngx_http_leadlist_metrics_endpoint_t, added), 0 },

    { "leadlist_prospects_selected_total",
      "Prospects selected by successful requests (added or already "
      "in the list; not of dry runs or idempotent replays).",
      offsetof(ngx_http_leadlist_metrics_endpoint_t, selected), 0 },

    { "leadlist_request_duration_seconds",
      "Time from the first byte of a request to its log line.",
      offsetof(ngx_http_leadlist_metrics_endpoint_t, time), 1 },

    { NULL, NULL, 0, 0 }
};


/* the hooks: called from the pool, in the worker that owns it */

void
ngx_http_leadlist_metrics_pool(ngx_http_leadlist_srv_conf_t *lscf,
    ngx_uint_t open, ngx_uint_t idle, ngx_uint_t connecting,
    ngx_uint_t waiting, ngx_uint_t limit)
{
    ngx_http_leadlist_metrics_slot_t      *g;
    ngx_http_leadlist_metrics_upstream_t  *u;

    u = ngx_http_leadlist_metrics_node_of(lscf);
    if (u == NULL) {
        return;
    }

    /* only this process writes its slot: plain stores are enough */

    g = &u->gauges[ngx_process_slot];

    g->open = (uint32_t) open;
    g->idle = (uint32_t) idle;
    g->connecting = (uint32_t) connecting;
    g->waiting = (uint32_t) waiting;
    g->limit = (uint32_t) limit;
}


void
ngx_http_leadlist_metrics_event(ngx_http_leadlist_srv_conf_t *lscf,
    ngx_http_leadlist_event_e event)
{
    ngx_http_leadlist_metrics_upstream_t  *u;

    u = ngx_http_leadlist_metrics_node_of(lscf);
    if (u == NULL) {
        return;
    }

    (void) ngx_atomic_fetch_add(&u->events[event], 1);
}


/* the request's wait for a connection is over, however: for the log */

void
ngx_http_leadlist_metrics_wait_end(ngx_http_leadlist_query_t *q)
{
    q->wait_time = ngx_current_msec - q->start;
    q->waited = 1;
}


void
ngx_http_leadlist_metrics_wait_timeout(ngx_http_leadlist_query_t *q)
{
    ngx_http_leadlist_metrics_wait_end(q);

    ngx_http_leadlist_metrics_event(q->conf,
                                    NGX_HTTP_LEADLIST_EVENT_WAIT_TIMEOUT);
}


void
ngx_http_leadlist_metrics_sent(ngx_http_leadlist_query_t *q,
    ngx_str_t *server)
{
    ngx_http_leadlist_metrics_upstream_t  *u;

    /* for the access log, with or without metrics */

    q->server = server;
    ngx_http_leadlist_metrics_wait_end(q);

    u = ngx_http_leadlist_metrics_node_of(q->conf);
    if (u == NULL) {
        return;
    }

    (void) ngx_atomic_fetch_add(&u->statements, 1);
    ngx_http_leadlist_metrics_observe(&u->wait, (uint64_t) q->wait_time * 1000);
}


void
ngx_http_leadlist_metrics_done(ngx_http_leadlist_srv_conf_t *lscf,
    ngx_http_leadlist_query_t *q, PGresult *error, ngx_uint_t broken)
{
    char                                  *state;
    ngx_uint_t                             k;
    ngx_http_leadlist_metrics_upstream_t  *u;

    u = ngx_http_leadlist_metrics_node_of(lscf);
    if (u == NULL) {
        return;
    }

    if (q && q->timed) {
        ngx_http_leadlist_metrics_observe(&u->statement, q->statement_time);
    }

    if (!broken && error == NULL) {
        return;
    }

    state = broken ? NULL : PQresultErrorField(error, PG_DIAG_SQLSTATE);

    k = ngx_http_leadlist_metrics_class(state);

    (void) ngx_atomic_fetch_add(&u->errors[k], 1);
}


/*
 * The bucket from microseconds: a statement's time is finer than the
 * cached ngx_current_msec, whose difference may be a millisecond off
 * either way at the 1 and 2 ms bounds.  The sum stays in milliseconds,
 * rounded, so that a 32-bit ngx_atomic_t holds 49 days of it.
 */

static void
ngx_http_leadlist_metrics_observe(ngx_http_leadlist_metrics_hist_t *h,
    uint64_t us)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_LEADLIST_METRICS_NBUCKETS - 1; i++) {
        if (us <= ngx_http_leadlist_metrics_bounds[i]) {
            break;
        }
    }

    (void) ngx_atomic_fetch_add(&h->bucket[i], 1);
    (void) ngx_atomic_fetch_add(&h->sum,
                                (ngx_atomic_int_t) ((us + 500) / 1000));
}


static ngx_http_leadlist_metrics_upstream_t *
ngx_http_leadlist_metrics_node_of(ngx_http_leadlist_srv_conf_t *lscf)
{
    ngx_http_leadlist_metrics_srv_conf_t  *mscf;

    if (lscf->upstream == NULL) {
        return NULL;
    }

    mscf = ngx_http_conf_upstream_srv_conf(lscf->upstream,
                                           ngx_http_leadlist_metrics_module);

    if (mscf == NULL || mscf->rec == NULL) {
        return NULL;
    }

    return mscf->rec->shm;
}


/*
 * The index of a SQLSTATE's class (its first two characters, [0-9A-Z]);
 * a failure that PostgreSQL did not classify (the connection broke, or
 * the module's own query timeout) counts as class 08, connection
 * exception, as JDBC reports it.
 */

static ngx_uint_t
ngx_http_leadlist_metrics_class(const char *state)
{
    ngx_int_t  hi, lo;

    if (state == NULL || state[0] == '\0') {
        state = "08";
    }

    hi = ngx_http_leadlist_metrics_digit((u_char) state[0]);
    lo = ngx_http_leadlist_metrics_digit((u_char) state[1]);

    if (hi == NGX_ERROR || lo == NGX_ERROR) {
        hi = ngx_http_leadlist_metrics_digit('X');
        lo = hi;
    }

    return hi * 36 + lo;
}


static ngx_int_t
ngx_http_leadlist_metrics_digit(u_char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    if (c >= 'A' && c <= 'Z') {
        return c - 'A' + 10;
    }

    return NGX_ERROR;
}


/* every answer of an endpoint location, whoever made it, once */

static ngx_int_t
ngx_http_leadlist_metrics_log_handler(ngx_http_request_t *r)
{
    ngx_uint_t                             status;
    ngx_msec_int_t                         ms;
    ngx_time_t                            *tp;
    ngx_http_leadlist_ctx_t               *ctx;
    ngx_http_leadlist_metrics_endpoint_t  *e;
    ngx_http_leadlist_metrics_loc_conf_t  *mlcf;

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_leadlist_metrics_module);

    if (mlcf->rec == NULL || mlcf->rec->shm == NULL || r != r->main) {
        return NGX_OK;
    }

    e = mlcf->rec->shm;

    status = ngx_http_leadlist_variables_status(r);
    if (status >= NGX_HTTP_LEADLIST_METRICS_NSTATUS || status < 100) {
        status = 0;
    }

    (void) ngx_atomic_fetch_add(&e->status[status], 1);

    ctx = ngx_http_get_module_ctx(r, ngx_http_leadlist_module);

    /*
     * only the work stored now: a replay's counts were counted when it
     * first ran, a dry run's were never stored
     */

    if (ctx && ctx->counted
        && !(ctx->prefer & NGX_HTTP_LEADLIST_PREFER_ROLLBACK))
    {
        (void) ngx_atomic_fetch_add(&e->added, ctx->added);
        (void) ngx_atomic_fetch_add(&e->selected, ctx->selected);
    }

    /* as $request_time measures it */

    tp = ngx_timeofday();

    ms = (ngx_msec_int_t) ((tp->sec - r->start_sec) * 1000
                           + (tp->msec - r->start_msec));

    ngx_http_leadlist_metrics_observe(&e->time,
                                      (uint64_t) ngx_max(ms, 0) * 1000);

    return NGX_OK;
}


/* the leadlist_metrics location */

static ngx_int_t
ngx_http_leadlist_metrics_handler(ngx_http_request_t *r)
{
    ngx_int_t                               rc;
    ngx_buf_t                              *b;
    ngx_chain_t                            *cl;
    ngx_http_leadlist_metrics_writer_t      w;
    ngx_http_leadlist_metrics_main_conf_t  *mmcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return ngx_http_leadlist_metrics_not_allowed(r);
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_leadlist_metrics_module);

    if (mmcf->sh == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memzero(&w, sizeof(ngx_http_leadlist_metrics_writer_t));

    w.request = r;
    w.last = &w.out;
    w.line = mmcf->line;

    ngx_http_leadlist_metrics_write_pools(&w, mmcf);
    ngx_http_leadlist_metrics_write_endpoints(&w, mmcf);

    if (w.failed) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    for (cl = w.out; cl; cl = cl->next) {
        w.length += cl->buf->last - cl->buf->pos;
    }

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_type = ngx_http_leadlist_metrics_type;
    r->headers_out.content_type_len = ngx_http_leadlist_metrics_type.len;
    r->headers_out.content_length_n = w.length;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    if (w.buf == NULL) {
        b = ngx_calloc_buf(r->pool);
        cl = ngx_alloc_chain_link(r->pool);
        if (b == NULL || cl == NULL) {
            return NGX_ERROR;
        }

        cl->buf = b;
        cl->next = NULL;
        w.out = cl;
        w.buf = b;
    }

    w.buf->last_buf = (r == r->main);
    w.buf->last_in_chain = 1;

    return ngx_http_output_filter(r, w.out);
}


/* 405 in the module's JSON envelope, but with the methods this one takes */

static ngx_int_t
ngx_http_leadlist_metrics_not_allowed(ngx_http_request_t *r)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Allow");
    ngx_str_set(&h->value, "GET, HEAD");

    /* the body names the request id: the header does, as the endpoint's */

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "X-Request-Id");
    h->value = *ngx_http_leadlist_request_id(r);

    return ngx_http_leadlist_send_error(r,
                                 NGX_HTTP_LEADLIST_ERR_METRICS_NOT_ALLOWED,
                                 NULL, 0);
}


/*
 * One line of output (w->line bytes are always enough for one); after a
 * failed allocation nothing more is written, and the caller answers 500.
 */

static void
ngx_http_leadlist_metrics_print(ngx_http_leadlist_metrics_writer_t *w,
    const char *fmt, ...)
{
    size_t        size;
    va_list       args;
    ngx_chain_t  *cl;

    if (w->failed) {
        return;
    }

    if (w->buf == NULL || (size_t) (w->buf->end - w->buf->last) < w->line) {
        size = ngx_max(w->line, NGX_HTTP_LEADLIST_METRICS_BUF);

        cl = ngx_alloc_chain_link(w->request->pool);
        if (cl == NULL) {
            w->failed = 1;
            return;
        }

        cl->buf = ngx_create_temp_buf(w->request->pool, size);
        if (cl->buf == NULL) {
            w->failed = 1;
            return;
        }

        cl->next = NULL;
        *w->last = cl;
        w->last = &cl->next;
        w->buf = cl->buf;
    }

    va_start(args, fmt);
    w->buf->last = ngx_vslprintf(w->buf->last, w->buf->end, fmt, args);
    va_end(args);
}


static void
ngx_http_leadlist_metrics_family(ngx_http_leadlist_metrics_writer_t *w,
    const char *name, const char *type, const char *help)
{
    ngx_http_leadlist_metrics_print(w, "# HELP %s %s\n# TYPE %s %s\n",
                                    name, help, name, type);
}


static void
ngx_http_leadlist_metrics_histogram(ngx_http_leadlist_metrics_writer_t *w,
    const char *name, const char *label, ngx_str_t *value,
    ngx_http_leadlist_metrics_hist_t *h)
{
    ngx_uint_t          i;
    ngx_atomic_uint_t   count, sum;

    count = 0;

    for (i = 0; i < NGX_HTTP_LEADLIST_METRICS_NBUCKETS; i++) {
        count += h->bucket[i];

        ngx_http_leadlist_metrics_print(w,
            "%s_bucket{%s=\"%V\",le=\"%s\"} %uA\n", name, label, value,
            ngx_http_leadlist_metrics_le[i], count);
    }

    sum = h->sum;

    ngx_http_leadlist_metrics_print(w, "%s_sum{%s=\"%V\"} %uA.%03uA\n",
                                    name, label, value, sum / 1000,
                                    sum % 1000);

    ngx_http_leadlist_metrics_print(w, "%s_count{%s=\"%V\"} %uA\n",
                                    name, label, value, count);
}


static void
ngx_http_leadlist_metrics_write_pools(ngx_http_leadlist_metrics_writer_t *w,
    ngx_http_leadlist_metrics_main_conf_t *mmcf)
{
    ngx_uint_t                             i, k;
    ngx_http_leadlist_metrics_rec_t      **recs;
    ngx_http_leadlist_metrics_upstream_t  *u;

    recs = mmcf->upstreams.elts;

    if (mmcf->upstreams.nelts == 0) {
        return;
    }

    ngx_http_leadlist_metrics_write_gauges(w, mmcf);
    ngx_http_leadlist_metrics_write_families(w, &mmcf->upstreams, "upstream",
                                     ngx_http_leadlist_metrics_pool_families);
    ngx_http_leadlist_metrics_write_errors(w, mmcf);

    ngx_http_leadlist_metrics_family(w,
        "leadlist_pool_connections_closed_total", "counter",
        "PostgreSQL connections closed, by reason.");

    for (i = 0; i < mmcf->upstreams.nelts; i++) {
        u = recs[i]->shm;

        for (k = NGX_HTTP_LEADLIST_EVENT_CLOSED_IDLE;
             k < NGX_HTTP_LEADLIST_EVENT_N;
             k++)
        {
            ngx_http_leadlist_metrics_print(w,
                "leadlist_pool_connections_closed_total{upstream=\"%V\","
                "reason=\"%s\"} %uA\n", &recs[i]->label,
                ngx_http_leadlist_metrics_reasons[
                    k - NGX_HTTP_LEADLIST_EVENT_CLOSED_IDLE],
                u->events[k]);
        }
    }
}


/* each family of the table for every node of recs, labelled label */

static void
ngx_http_leadlist_metrics_write_families(ngx_http_leadlist_metrics_writer_t *w,
    ngx_array_t *recs, const char *label, ngx_http_leadlist_metrics_family_t *f)
{
    u_char                            *value;
    ngx_uint_t                         i;
    ngx_http_leadlist_metrics_rec_t  **rec;

    rec = recs->elts;

    for ( /* void */ ; f->name; f++) {
        ngx_http_leadlist_metrics_family(w, f->name,
                                         f->histogram ? "histogram"
                                                      : "counter",
                                         f->help);

        for (i = 0; i < recs->nelts; i++) {
            value = (u_char *) rec[i]->shm + f->offset;

            if (f->histogram) {
                ngx_http_leadlist_metrics_histogram(w, f->name, label,
                    &rec[i]->label, (ngx_http_leadlist_metrics_hist_t *) value);
                continue;
            }

            ngx_http_leadlist_metrics_print(w, "%s{%s=\"%V\"} %uA\n",
                                            f->name, label, &rec[i]->label,
                                            *(ngx_atomic_t *) value);
        }
    }
}


static void
ngx_http_leadlist_metrics_write_gauges(ngx_http_leadlist_metrics_writer_t *w,
    ngx_http_leadlist_metrics_main_conf_t *mmcf)
{
    ngx_uint_t                             i, k, n, *live, open, busy;
    ngx_http_leadlist_metrics_slot_t      *g;
    ngx_http_leadlist_metrics_rec_t      **recs;
    ngx_http_leadlist_metrics_sum_t       *sums, *s;
    ngx_http_leadlist_metrics_upstream_t  *u;

    recs = mmcf->upstreams.elts;

    live = ngx_http_leadlist_metrics_live(w->request, mmcf, &n);
    sums = ngx_pcalloc(w->request->pool,
                       mmcf->upstreams.nelts
                       * sizeof(ngx_http_leadlist_metrics_sum_t));

    if (live == NULL || sums == NULL) {
        w->failed = 1;
        return;
    }

    for (i = 0; i < mmcf->upstreams.nelts; i++) {
        u = recs[i]->shm;
        s = &sums[i];

        for (k = 0; k < n; k++) {
            g = &u->gauges[live[k]];

            /* a reader may see one store of a snapshot but not the next */

            open = g->open;
            busy = g->idle + g->connecting;
            busy = (open > busy) ? open - busy : 0;

            s->open += open;
            s->idle += g->idle;
            s->busy += busy;
            s->connecting += g->connecting;
            s->waiting += g->waiting;
            s->limit += g->limit;
        }
    }

    ngx_http_leadlist_metrics_family(w, "leadlist_pool_connections",
        "gauge", "PostgreSQL connections of all workers, by state.");

    for (i = 0; i < mmcf->upstreams.nelts; i++) {
        ngx_http_leadlist_metrics_print(w,
            "leadlist_pool_connections{upstream=\"%V\",state=\"idle\"} "
            "%ui\nleadlist_pool_connections{upstream=\"%V\","
            "state=\"busy\"} %ui\n", &recs[i]->label, sums[i].idle,
            &recs[i]->label, sums[i].busy);

        ngx_http_leadlist_metrics_print(w,
            "leadlist_pool_connections{upstream=\"%V\","
            "state=\"connecting\"} %ui\n", &recs[i]->label,
            sums[i].connecting);
    }

    ngx_http_leadlist_metrics_family(w, "leadlist_pool_connections_open",
        "gauge", "PostgreSQL connections open (idle, busy or "
        "connecting) in all workers.");

    for (i = 0; i < mmcf->upstreams.nelts; i++) {
        ngx_http_leadlist_metrics_print(w,
            "leadlist_pool_connections_open{upstream=\"%V\"} %ui\n",
            &recs[i]->label, sums[i].open);
    }

    ngx_http_leadlist_metrics_family(w, "leadlist_pool_limit", "gauge",
        "Connections the workers may keep running a statement (the "
        "adaptive limits), summed over the workers.");

    for (i = 0; i < mmcf->upstreams.nelts; i++) {
        ngx_http_leadlist_metrics_print(w,
            "leadlist_pool_limit{upstream=\"%V\"} %ui\n",
            &recs[i]->label, sums[i].limit);
    }

    ngx_http_leadlist_metrics_family(w, "leadlist_pool_waiting_requests",
        "gauge", "Requests waiting for a PostgreSQL connection.");

    for (i = 0; i < mmcf->upstreams.nelts; i++) {
        ngx_http_leadlist_metrics_print(w,
            "leadlist_pool_waiting_requests{upstream=\"%V\"} %ui\n",
            &recs[i]->label, sums[i].waiting);
    }
}


static void
ngx_http_leadlist_metrics_write_errors(ngx_http_leadlist_metrics_writer_t *w,
    ngx_http_leadlist_metrics_main_conf_t *mmcf)
{
    ngx_uint_t                             i, k;
    ngx_atomic_uint_t                      value;
    ngx_http_leadlist_metrics_rec_t      **recs;
    ngx_http_leadlist_metrics_upstream_t  *u;

    static u_char  digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

    recs = mmcf->upstreams.elts;

    ngx_http_leadlist_metrics_family(w,
        "leadlist_pool_statement_errors_total", "counter",
        "Statements that failed, by SQLSTATE class "
        "(08 also for a connection that broke under one).");

    for (i = 0; i < mmcf->upstreams.nelts; i++) {
        u = recs[i]->shm;

        for (k = 0; k < NGX_HTTP_LEADLIST_METRICS_NCLASS; k++) {
            value = u->errors[k];

            if (value == 0) {
                continue;
            }

            ngx_http_leadlist_metrics_print(w,
                "leadlist_pool_statement_errors_total{upstream=\"%V\","
                "sqlstate_class=\"%c%c\"} %uA\n", &recs[i]->label,
                digits[k / 36], digits[k % 36], value);
        }
    }
}


static void
ngx_http_leadlist_metrics_write_endpoints(ngx_http_leadlist_metrics_writer_t *w,
    ngx_http_leadlist_metrics_main_conf_t *mmcf)
{
    ngx_uint_t                             i, k;
    ngx_atomic_uint_t                      value;
    ngx_http_leadlist_metrics_rec_t      **recs;
    ngx_http_leadlist_metrics_endpoint_t  *e;

    recs = mmcf->endpoints.elts;

    if (mmcf->endpoints.nelts == 0) {
        return;
    }

    ngx_http_leadlist_metrics_family(w, "leadlist_responses_total",
        "counter", "Responses of the endpoint, by HTTP status.");

    for (i = 0; i < mmcf->endpoints.nelts; i++) {
        e = recs[i]->shm;

        for (k = 0; k < NGX_HTTP_LEADLIST_METRICS_NSTATUS; k++) {
            value = e->status[k];

            if (value == 0) {
                continue;
            }

            ngx_http_leadlist_metrics_print(w,
                "leadlist_responses_total{location=\"%V\","
                "status=\"%03ui\"} %uA\n", &recs[i]->label, k, value);
        }
    }

    ngx_http_leadlist_metrics_write_families(w, &mmcf->endpoints, "location",
                                 ngx_http_leadlist_metrics_endpoint_families);
}


/*
 * The process slots whose process is alive: a slot keeps the pid of the
 * process that claimed it; one that crashed never cleared its slot.
 */

static ngx_uint_t *
ngx_http_leadlist_metrics_live(ngx_http_request_t *r,
    ngx_http_leadlist_metrics_main_conf_t *mmcf, ngx_uint_t *n)
{
    ngx_pid_t    pid;
    ngx_uint_t   s, *live;

    live = ngx_palloc(r->pool, NGX_MAX_PROCESSES * sizeof(ngx_uint_t));
    if (live == NULL) {
        return NULL;
    }

    *n = 0;

    for (s = 0; s < NGX_MAX_PROCESSES; s++) {
        pid = mmcf->sh->pid[s];

        if (pid == 0) {
            continue;
        }

        if (pid != ngx_pid && kill(pid, 0) == -1 && ngx_errno == NGX_ESRCH) {
            continue;
        }

        live[(*n)++] = s;
    }

    return live;
}


static ngx_int_t
ngx_http_leadlist_metrics_init_process(ngx_cycle_t *cycle)
{
    ngx_http_leadlist_metrics_slot(cycle, 1);

    return NGX_OK;
}


static void
ngx_http_leadlist_metrics_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_leadlist_metrics_slot(cycle, 0);
}


/*
 * A process claims its slot as it starts: the endpoint module's
 * init_process has run (modules initialize in order), so its pools have
 * published their limits already; everything else a former owner of the
 * slot left is cleared.  As it exits, it gives the slot back before it
 * clears it, so that no scrape sums a half-cleared slot.
 */

static void
ngx_http_leadlist_metrics_slot(ngx_cycle_t *cycle, ngx_uint_t claim)
{
    ngx_http_leadlist_metrics_main_conf_t  *mmcf;

    mmcf = ngx_http_cycle_get_module_main_conf(cycle,
               ngx_http_leadlist_metrics_module);

    if (mmcf == NULL || mmcf->sh == NULL) {
        return;
    }

    if (!claim) {
        mmcf->sh->pid[ngx_process_slot] = 0;
        ngx_memory_barrier();
    }

    ngx_http_leadlist_metrics_clear(mmcf, claim);

    if (claim) {
        ngx_memory_barrier();
        mmcf->sh->pid[ngx_process_slot] = ngx_pid;
    }
}


/*
 * Clears this process's slot in every pool node of the zone, those of
 * other configurations (reloads) included; the limit of this
 * configuration's pools is kept when keep_limit says so.
 */

static void
ngx_http_leadlist_metrics_clear(ngx_http_leadlist_metrics_main_conf_t *mmcf,
    ngx_uint_t keep_limit)
{
    uint32_t                           limit;
    ngx_uint_t                         i, ours;
    ngx_queue_t                       *q;
    ngx_http_leadlist_metrics_node_t  *node;
    ngx_http_leadlist_metrics_slot_t  *g;
    ngx_http_leadlist_metrics_rec_t  **recs;

    recs = mmcf->upstreams.elts;

    /* the master may be adding nodes for a new configuration */

    ngx_shmtx_lock(&mmcf->shpool->mutex);

    for (q = ngx_queue_head(&mmcf->sh->nodes);
         q != ngx_queue_sentinel(&mmcf->sh->nodes);
         q = ngx_queue_next(q))
    {
        node = ngx_queue_data(q, ngx_http_leadlist_metrics_node_t, queue);

        if (node->kind != NGX_HTTP_LEADLIST_METRICS_UPSTREAM) {
            continue;
        }

        ours = 0;

        for (i = 0; keep_limit && i < mmcf->upstreams.nelts; i++) {
            if (recs[i]->shm == node) {
                ours = 1;
                break;
            }
        }

        g = &((ngx_http_leadlist_metrics_upstream_t *) node)
                ->gauges[ngx_process_slot];

        limit = ours ? g->limit : 0;
        ngx_memzero(g, sizeof(ngx_http_leadlist_metrics_slot_t));
        g->limit = limit;
    }

    ngx_shmtx_unlock(&mmcf->shpool->mutex);
}


static void *
ngx_http_leadlist_metrics_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_leadlist_metrics_main_conf_t  *mmcf;

    mmcf = ngx_pcalloc(cf->pool,
                       sizeof(ngx_http_leadlist_metrics_main_conf_t));
    if (mmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     mmcf->enabled = 0;
     *     mmcf->shpool = NULL;
     *     mmcf->sh = NULL;
     *     mmcf->line = 0;
     */

    mmcf->size = NGX_CONF_UNSET_SIZE;

    if (ngx_array_init(&mmcf->upstreams, cf->pool, 4,
                       sizeof(ngx_http_leadlist_metrics_rec_t *))
        != NGX_OK
        || ngx_array_init(&mmcf->endpoints, cf->pool, 4,
                          sizeof(ngx_http_leadlist_metrics_rec_t *))
           != NGX_OK)
    {
        return NULL;
    }

    return mmcf;
}


static char *
ngx_http_leadlist_metrics_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_leadlist_metrics_main_conf_t *mmcf = conf;

    ngx_conf_init_size_value(mmcf->size, NGX_HTTP_LEADLIST_METRICS_ZONE);

    return NGX_CONF_OK;
}


static void *
ngx_http_leadlist_metrics_create_srv_conf(ngx_conf_t *cf)
{
    /* set by ngx_pcalloc(): rec = NULL */

    return ngx_pcalloc(cf->pool,
                       sizeof(ngx_http_leadlist_metrics_srv_conf_t));
}


static void *
ngx_http_leadlist_metrics_create_loc_conf(ngx_conf_t *cf)
{
    /* set by ngx_pcalloc(): rec = NULL, handler = 0 */

    return ngx_pcalloc(cf->pool,
                       sizeof(ngx_http_leadlist_metrics_loc_conf_t));
}


/*
 * An endpoint location is known by the endpoint module's configuration
 * of the same location; its figures are kept under the location's name,
 * and locations of one name (in several servers) share them.  Nothing
 * is inherited: a location nested in an endpoint is not one.
 */

static char *
ngx_http_leadlist_metrics_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_http_leadlist_metrics_loc_conf_t *conf = child;

    ngx_http_core_loc_conf_t               *clcf;
    ngx_http_leadlist_loc_conf_t           *llcf;
    ngx_http_leadlist_metrics_main_conf_t  *mmcf;

    llcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_leadlist_module);

    if (llcf->upstream == NULL) {
        return NGX_CONF_OK;
    }

    if (conf->handler) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"leadlist_metrics\" cannot be used in the location "
                      "of \"leadlist_add_prospects\" in %s:%ui",
                      llcf->file, llcf->line);
        return NGX_CONF_ERROR;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    mmcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_leadlist_metrics_module);

    conf->rec = ngx_http_leadlist_metrics_rec(cf, &mmcf->endpoints,
                                              &clcf->name);
    if (conf->rec == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * Every upstream of the endpoint module is known by now (the upstream
 * module's init_main_conf ran), and every endpoint location (merged).
 * Without a leadlist_metrics location there is no zone, and every hook
 * returns at once.
 */

static ngx_int_t
ngx_http_leadlist_metrics_postconfiguration(ngx_conf_t *cf)
{
    size_t                                  need, len;
    ngx_uint_t                              i;
    ngx_shm_zone_t                         *zone;
    ngx_http_handler_pt                    *h;
    ngx_http_core_main_conf_t              *cmcf;
    ngx_http_leadlist_srv_conf_t          **lscfp;
    ngx_http_leadlist_main_conf_t          *lmcf;
    ngx_http_leadlist_metrics_rec_t        *rec, **recs;
    ngx_http_leadlist_metrics_srv_conf_t   *mscf;
    ngx_http_leadlist_metrics_main_conf_t  *mmcf;

    mmcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_leadlist_metrics_module);
    lmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_leadlist_module);

    lscfp = lmcf->upstreams.elts;

    for (i = 0; i < lmcf->upstreams.nelts; i++) {
        rec = ngx_http_leadlist_metrics_rec(cf, &mmcf->upstreams,
                                            &lscfp[i]->upstream->host);
        if (rec == NULL) {
            return NGX_ERROR;
        }

        rec->lscf = lscfp[i];

        mscf = ngx_http_conf_upstream_srv_conf(lscfp[i]->upstream,
                   ngx_http_leadlist_metrics_module);
        mscf->rec = rec;
    }

    if (!mmcf->enabled) {
        return NGX_OK;
    }

    need = ngx_http_leadlist_metrics_zone_size(mmcf);

    if (mmcf->size < need) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"leadlist_metrics_zone\" of %uz bytes is too small "
                      "for %ui upstreams and %ui endpoint locations: it "
                      "needs at least %uz", mmcf->size,
                      mmcf->upstreams.nelts, mmcf->endpoints.nelts, need);
        return NGX_ERROR;
    }

    /* the longest line: fixed text, one label value, numbers */

    len = 0;

    recs = mmcf->upstreams.elts;
    for (i = 0; i < mmcf->upstreams.nelts; i++) {
        len = ngx_max(len, recs[i]->label.len);
    }

    recs = mmcf->endpoints.elts;
    for (i = 0; i < mmcf->endpoints.nelts; i++) {
        len = ngx_max(len, recs[i]->label.len);
    }

    mmcf->line = NGX_HTTP_LEADLIST_METRICS_LINE + 2 * len;

    zone = ngx_shared_memory_add(cf, &ngx_http_leadlist_metrics_zone_name,
                                 mmcf->size,
                                 &ngx_http_leadlist_metrics_module);
    if (zone == NULL) {
        return NGX_ERROR;
    }

    zone->init = ngx_http_leadlist_metrics_init_zone;
    zone->data = mmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_leadlist_metrics_log_handler;

    return NGX_OK;
}


/*
 * What the slab allocator needs for this configuration's nodes, from
 * scratch: each allocation takes whole pages (counted so even when it
 * is small), each page a descriptor, and the pool's header a page or two.
 */

static size_t
ngx_http_leadlist_metrics_zone_size(ngx_http_leadlist_metrics_main_conf_t *mmcf)
{
    size_t                             size;
    ngx_uint_t                         i, pages;
    ngx_http_leadlist_metrics_rec_t  **recs;

#define ngx_http_leadlist_metrics_pages(size)                                 \
    (((size) + ngx_pagesize - 1) / ngx_pagesize)

    pages = ngx_http_leadlist_metrics_pages(
                sizeof(ngx_http_leadlist_metrics_sh_t));

    recs = mmcf->upstreams.elts;

    for (i = 0; i < mmcf->upstreams.nelts; i++) {
        size = sizeof(ngx_http_leadlist_metrics_upstream_t) + recs[i]->name.len;
        pages += ngx_http_leadlist_metrics_pages(size);
    }

    recs = mmcf->endpoints.elts;

    for (i = 0; i < mmcf->endpoints.nelts; i++) {
        size = sizeof(ngx_http_leadlist_metrics_endpoint_t) + recs[i]->name.len;
        pages += ngx_http_leadlist_metrics_pages(size);
    }

#undef ngx_http_leadlist_metrics_pages

    return (pages + 2) * (ngx_pagesize + sizeof(ngx_slab_page_t))
           + 2 * ngx_pagesize;
}


/*
 * Runs in the master (or nginx -t) for each configuration; data is the
 * previous configuration's main conf when the zone is kept over a
 * reload: its nodes are found again by name, and new names get new ones.
 */

static ngx_int_t
ngx_http_leadlist_metrics_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_leadlist_metrics_main_conf_t *omcf = data;

    ngx_uint_t                              i;
    ngx_slab_pool_t                        *shpool;
    ngx_http_leadlist_metrics_rec_t       **recs;
    ngx_http_leadlist_metrics_main_conf_t  *mmcf;

    mmcf = shm_zone->data;
    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    mmcf->shpool = shpool;

    if (omcf) {
        mmcf->sh = omcf->sh;

    } else if (shm_zone->shm.exists) {
        mmcf->sh = shpool->data;

    } else {
        shpool->log_nomem = 0;

        mmcf->sh = ngx_slab_calloc(shpool,
                                   sizeof(ngx_http_leadlist_metrics_sh_t));
        if (mmcf->sh == NULL) {
            ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                          "\"leadlist_metrics_zone\" is too small");
            return NGX_ERROR;
        }

        ngx_queue_init(&mmcf->sh->nodes);
        shpool->data = mmcf->sh;
    }

    recs = mmcf->upstreams.elts;

    for (i = 0; i < mmcf->upstreams.nelts; i++) {
        recs[i]->shm = ngx_http_leadlist_metrics_node(shm_zone,
                           NGX_HTTP_LEADLIST_METRICS_UPSTREAM, recs[i],
                           sizeof(ngx_http_leadlist_metrics_upstream_t));
        if (recs[i]->shm == NULL) {
            return NGX_ERROR;
        }
    }

    recs = mmcf->endpoints.elts;

    for (i = 0; i < mmcf->endpoints.nelts; i++) {
        recs[i]->shm = ngx_http_leadlist_metrics_node(shm_zone,
                           NGX_HTTP_LEADLIST_METRICS_ENDPOINT, recs[i],
                           sizeof(ngx_http_leadlist_metrics_endpoint_t));
        if (recs[i]->shm == NULL) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * A name's node, found or made.  Nodes are never freed: the old workers
 * of a reload may still count in one that the new configuration lost.
 */

static void *
ngx_http_leadlist_metrics_node(ngx_shm_zone_t *shm_zone, ngx_uint_t kind,
    ngx_http_leadlist_metrics_rec_t *rec, size_t size)
{
    ngx_queue_t                            *q;
    ngx_slab_pool_t                        *shpool;
    ngx_http_leadlist_metrics_node_t       *node;
    ngx_http_leadlist_metrics_main_conf_t  *mmcf;

    mmcf = shm_zone->data;
    shpool = mmcf->shpool;

    ngx_shmtx_lock(&shpool->mutex);

    for (q = ngx_queue_head(&mmcf->sh->nodes);
         q != ngx_queue_sentinel(&mmcf->sh->nodes);
         q = ngx_queue_next(q))
    {
        node = ngx_queue_data(q, ngx_http_leadlist_metrics_node_t, queue);

        if (node->kind == kind
            && node->len == rec->name.len
            && ngx_strncmp(node->name, rec->name.data, rec->name.len) == 0)
        {
            ngx_shmtx_unlock(&shpool->mutex);
            return node;
        }
    }

    node = ngx_slab_calloc_locked(shpool, size + rec->name.len);

    if (node == NULL) {
        ngx_shmtx_unlock(&shpool->mutex);

        ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                      "\"leadlist_metrics_zone\" is full: it keeps the "
                      "figures of every upstream and endpoint location it "
                      "has seen since nginx started; give it more space "
                      "(which starts it afresh)");
        return NULL;
    }

    node->kind = kind;
    node->len = rec->name.len;
    node->name = (u_char *) node + size;
    ngx_memcpy(node->name, rec->name.data, rec->name.len);

    ngx_queue_insert_tail(&mmcf->sh->nodes, &node->queue);

    ngx_shmtx_unlock(&shpool->mutex);

    return node;
}


/* a record per name, with the name escaped for a label value */

static ngx_http_leadlist_metrics_rec_t *
ngx_http_leadlist_metrics_rec(ngx_conf_t *cf, ngx_array_t *recs,
    ngx_str_t *name)
{
    u_char                            *p;
    size_t                             len;
    ngx_uint_t                         i;
    ngx_http_leadlist_metrics_rec_t   *rec, **recp;

    recp = recs->elts;

    for (i = 0; i < recs->nelts; i++) {
        if (recp[i]->name.len == name->len
            && ngx_strncmp(recp[i]->name.data, name->data, name->len) == 0)
        {
            return recp[i];
        }
    }

    rec = ngx_pcalloc(cf->pool, sizeof(ngx_http_leadlist_metrics_rec_t));
    recp = ngx_array_push(recs);
    if (rec == NULL || recp == NULL) {
        return NULL;
    }

    *recp = rec;
    rec->name = *name;

    len = name->len;

    for (i = 0; i < name->len; i++) {
        len += (name->data[i] == '\\' || name->data[i] == '"'
                || name->data[i] == '\n');
    }

    rec->label.data = ngx_pnalloc(cf->pool, len);
    if (rec->label.data == NULL) {
        return NULL;
    }

    p = rec->label.data;

    for (i = 0; i < name->len; i++) {
        switch (name->data[i]) {

        case '\\':
        case '"':
            *p++ = '\\';
            *p++ = name->data[i];
            break;

        case '\n':
            *p++ = '\\';
            *p++ = 'n';
            break;

        default:
            *p++ = name->data[i];
        }
    }

    rec->label.len = p - rec->label.data;

    return rec;
}


static char *
ngx_http_leadlist_metrics(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_leadlist_metrics_loc_conf_t *mlcf = conf;

    ngx_http_core_loc_conf_t               *clcf;
    ngx_http_leadlist_metrics_main_conf_t  *mmcf;

    if (mlcf->handler) {
        return "is duplicate";
    }

    mlcf->handler = 1;

    mmcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_leadlist_metrics_module);
    mmcf->enabled = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_leadlist_metrics_handler;

    return NGX_CONF_OK;
}
