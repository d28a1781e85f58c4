
/*
 * Copyright (C) leadlist authors
 */


/* A worker's PostgreSQL connections of one upstream, and its wait queue. */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <sys/ioctl.h>

#include "ngx_http_leadlist.h"
#include "ngx_http_leadlist_metrics.h"
#include "ngx_http_leadlist_limit.h"
#include "ngx_http_leadlist_pool.h"
#include "ngx_http_leadlist_upstream.h"
#include "ngx_http_leadlist_util.h"


/*
 * One pool per upstream and worker.
 *
 * Connections belong to the pool, never to a request: a request borrows
 * one for a single statement and gives it back before it answers.  Every
 * libpq call here is non-blocking: PQconnectStartParams/PQconnectPoll,
 * PQsend*, PQflush, PQconsumeInput, and PQgetResult only when PQisBusy()
 * says it will not wait.  The socket is registered edge-triggered, so
 * every read drains what the kernel holds (FIONREAD) before it waits.
 *
 * A request learns the outcome through its query's event, posted, never
 * called from inside the pool, so that a request that finishes cannot
 * change the pool's queues while they are being walked.
 *
 * The connections a worker keeps running a statement are bounded by the
 * adaptive limit (ngx_http_leadlist_limit.c), between 1 and
 * leadlist_pg_max: a request beyond it waits in the FIFO queue even when
 * a connection is idle, and each statement that completes is a sample of
 * its time.
 *
 * With leadlist_pg_pipeline above 1, a statement that finds the limit
 * reached (or no idle connection) may go behind the one running on a busy
 * connection, in libpq's pipeline mode, each with a Sync of its own, so
 * each is still a transaction of its own.  The backend then has the next
 * statement the moment it ends one, while nginx has yet to read the
 * result: fewer backends do the same work.  Only a connection whose
 * statement has run briefly takes one behind, so that none waits behind
 * a slow one; each statement's query timer runs from its turn.  A
 * connection that fails takes the statements behind its own down with it
 * (503, retryable).
 */


#define NGX_HTTP_LEADLIST_CONNECTING  0
#define NGX_HTTP_LEADLIST_IDLE        1
#define NGX_HTTP_LEADLIST_BUSY        2
#define NGX_HTTP_LEADLIST_DRAINING    3

#define NGX_HTTP_LEADLIST_DRAIN_LOOPS  64
#define NGX_HTTP_LEADLIST_BEHIND_MAX    15     /* leadlist_pg_pipeline 16 */
#define NGX_HTTP_LEADLIST_BACKOFF_MIN  50
#define NGX_HTTP_LEADLIST_BACKOFF_MAX  1000

/* read_only_sql_transaction */
#define NGX_HTTP_LEADLIST_READ_ONLY_SQL  "25006"


/* why a connection is closed: every close goes through one function */

typedef enum {
    NGX_HTTP_LEADLIST_CLOSE_CONNECT = 0,  /* a connect failed */
    NGX_HTTP_LEADLIST_CLOSE_BROKEN,       /* send, read or server failed */
    NGX_HTTP_LEADLIST_CLOSE_DEAD_IDLE,    /* found dead when taken */
    NGX_HTTP_LEADLIST_CLOSE_IDLE_LOST,    /* the server closed it */
    NGX_HTTP_LEADLIST_CLOSE_IDLE_TIMEOUT, /* surplus idle for idle_timeout */
    NGX_HTTP_LEADLIST_CLOSE_UNCLEAN,      /* not known clean after use */
    NGX_HTTP_LEADLIST_CLOSE_EXPIRED,      /* keepalive_time or _requests */
    NGX_HTTP_LEADLIST_CLOSE_READ_ONLY,    /* the server cannot write */
    NGX_HTTP_LEADLIST_CLOSE_EXITING       /* the worker is going away */
} ngx_http_leadlist_close_e;


struct ngx_http_leadlist_pool_s {
    ngx_http_leadlist_srv_conf_t       *conf;
    ngx_log_t                          *log;

    ngx_queue_t                         idle;     /* LIFO: MRU first */
    ngx_queue_t                         active;   /* all others */
    ngx_queue_t                         waiters;  /* FIFO of queries */

    ngx_uint_t                          nidle;
    ngx_uint_t                          nwaiters;
    ngx_uint_t                          open;
    ngx_uint_t                          connecting;
    ngx_uint_t                          busy;     /* conns running one */
    ngx_uint_t                          next;     /* round robin */

    ngx_http_leadlist_limit_t           limit;
    ngx_event_t                         probe;    /* waiters behind one */
};


/* a statement sent behind the one a connection runs */

typedef struct {
    ngx_http_leadlist_query_t          *query;    /* NULL: request gone */
    uint64_t                            sent;     /* us */
} ngx_http_leadlist_behind_t;


struct ngx_http_leadlist_conn_s {
    ngx_queue_t                         queue;
    ngx_http_leadlist_pool_t           *pool;
    ngx_http_leadlist_server_t         *server;
    ngx_http_leadlist_host_t           *host;     /* of server's */
    PGconn                             *pg;
    ngx_connection_t                   *connection;
    ngx_http_leadlist_query_t          *query;

    PGresult                           *result;
    PGresult                           *error;

    ngx_uint_t                          state;
    ngx_uint_t                          requests;
    ngx_msec_t                          start;
    ngx_msec_t                          deadline;
    uint64_t                            sent;     /* us, the limiter's */
    uint64_t                            since;    /* us, its turn began */

    /* a ring, in the order sent */
    ngx_http_leadlist_behind_t          behind[NGX_HTTP_LEADLIST_BEHIND_MAX];
    ngx_uint_t                          first;
    ngx_uint_t                          nbehind;

    unsigned                            prepared:1;
    unsigned                            preparing:1;
    unsigned                            pipelined:1;  /* libpq's mode */
    unsigned                            flushing:1;
    unsigned                            doomed:1;
    unsigned                            read_only:1;
    unsigned                            running:1;
};


static ngx_http_leadlist_conn_t *ngx_http_leadlist_pool_get_idle(
    ngx_http_leadlist_pool_t *pool);
static ngx_int_t ngx_http_leadlist_pool_idle_usable(
    ngx_http_leadlist_conn_t *lc);
static ngx_int_t ngx_http_leadlist_pool_idle_alive(
    ngx_http_leadlist_conn_t *lc);
static ngx_uint_t ngx_http_leadlist_pool_expired(
    ngx_http_leadlist_conn_t *lc);
static ngx_uint_t ngx_http_leadlist_pool_may_connect(
    ngx_http_leadlist_pool_t *pool, ngx_uint_t waiting);
static ngx_uint_t ngx_http_leadlist_pool_admissible(
    ngx_http_leadlist_pool_t *pool, ngx_uint_t limit, ngx_uint_t waiting);
static void ngx_http_leadlist_pool_log_no_server(
    ngx_http_leadlist_query_t *q);
static ngx_int_t ngx_http_leadlist_pool_connect(
    ngx_http_leadlist_pool_t *pool);
static ngx_int_t ngx_http_leadlist_pool_connect_host(
    ngx_http_leadlist_conn_t *lc);
static ngx_http_leadlist_server_t *ngx_http_leadlist_pool_next_server(
    ngx_http_leadlist_pool_t *pool);
static ngx_http_leadlist_host_t *ngx_http_leadlist_pool_next_host(
    ngx_http_leadlist_server_t *server, ngx_http_leadlist_host_t *after);
static ngx_int_t ngx_http_leadlist_pool_register(
    ngx_http_leadlist_conn_t *lc);
static void ngx_http_leadlist_pool_connect_handler(ngx_event_t *ev);
static void ngx_http_leadlist_pool_connect_failed(
    ngx_http_leadlist_conn_t *lc, const char *why);
static void ngx_http_leadlist_pool_host_failed(ngx_http_leadlist_conn_t *lc,
    const char *why);
static void ngx_http_leadlist_pool_dispatch(ngx_http_leadlist_pool_t *pool);
static void ngx_http_leadlist_pool_probe_handler(ngx_event_t *ev);
static void ngx_http_leadlist_pool_enqueue(ngx_http_leadlist_query_t *q);
static ngx_http_leadlist_query_t *ngx_http_leadlist_pool_next_waiter(
    ngx_http_leadlist_pool_t *pool);
static void ngx_http_leadlist_pool_dequeue(ngx_http_leadlist_query_t *q);
static void ngx_http_leadlist_pool_wait_handler(ngx_event_t *ev);
static ngx_int_t ngx_http_leadlist_pool_send(ngx_http_leadlist_conn_t *lc,
    ngx_http_leadlist_query_t *q);
static ngx_int_t ngx_http_leadlist_pool_flush(ngx_http_leadlist_conn_t *lc);
static ngx_http_leadlist_conn_t *ngx_http_leadlist_pool_get(
    ngx_http_leadlist_pool_t *pool, ngx_uint_t limit, uint64_t now);
static ngx_http_leadlist_conn_t *ngx_http_leadlist_pool_behind(
    ngx_http_leadlist_pool_t *pool, ngx_uint_t limit, uint64_t now);
static ngx_int_t ngx_http_leadlist_pool_append(ngx_http_leadlist_conn_t *lc,
    ngx_http_leadlist_query_t *q);
static void ngx_http_leadlist_pool_promote(ngx_http_leadlist_conn_t *lc);
static void ngx_http_leadlist_pool_busy_handler(ngx_event_t *ev);
static void ngx_http_leadlist_pool_write_handler(ngx_event_t *ev);
static ngx_int_t ngx_http_leadlist_pool_consume(
    ngx_http_leadlist_conn_t *lc);
static ngx_int_t ngx_http_leadlist_pool_read_results(
    ngx_http_leadlist_conn_t *lc);
static ngx_uint_t ngx_http_leadlist_pool_finish(ngx_http_leadlist_conn_t *lc,
    ngx_uint_t fresh);
static void ngx_http_leadlist_pool_ended(ngx_http_leadlist_conn_t *lc,
    ngx_uint_t sample);
static void ngx_http_leadlist_pool_lost(ngx_http_leadlist_conn_t *lc,
    ngx_uint_t status);
static void ngx_http_leadlist_pool_fail(ngx_http_leadlist_conn_t *lc,
    ngx_uint_t status, const char *why);
static ngx_uint_t ngx_http_leadlist_pool_failed(ngx_http_leadlist_conn_t *lc);
static void ngx_http_leadlist_pool_release(ngx_http_leadlist_conn_t *lc);
static ngx_uint_t ngx_http_leadlist_pool_clean(ngx_http_leadlist_conn_t *lc);
static void ngx_http_leadlist_pool_keep_idle(ngx_http_leadlist_conn_t *lc);
static void ngx_http_leadlist_pool_idle_timer(ngx_http_leadlist_conn_t *lc);
static void ngx_http_leadlist_pool_idle_handler(ngx_event_t *ev);
static void ngx_http_leadlist_pool_close_idle(ngx_http_leadlist_pool_t *pool,
    ngx_http_leadlist_close_e why);
static void ngx_http_leadlist_pool_close(ngx_http_leadlist_conn_t *lc,
    ngx_http_leadlist_close_e why);
static void ngx_http_leadlist_pool_count_close(ngx_http_leadlist_conn_t *lc,
    ngx_http_leadlist_close_e why);
static ngx_uint_t ngx_http_leadlist_pool_limit(ngx_http_leadlist_pool_t *pool);
static void ngx_http_leadlist_pool_publish(ngx_http_leadlist_pool_t *pool);
static void ngx_http_leadlist_pool_fail_behind(ngx_http_leadlist_conn_t *lc,
    ngx_http_leadlist_close_e why);
static void ngx_http_leadlist_pool_unwire(ngx_http_leadlist_conn_t *lc);
static void ngx_http_leadlist_pool_complete(ngx_http_leadlist_query_t *q,
    ngx_uint_t status);
static void ngx_http_leadlist_pool_complete_handler(ngx_event_t *ev);
static void ngx_http_leadlist_pool_notice(void *arg, const PGresult *res);
static void ngx_http_leadlist_pool_log(ngx_http_leadlist_conn_t *lc,
    ngx_uint_t level, const char *what, const char *msg);
static void ngx_http_leadlist_pool_dummy_handler(ngx_event_t *ev);


/* SQLSTATEs, or their classes, that a retry may cure */

static ngx_str_t  ngx_http_leadlist_pool_retryable[] = {
    ngx_string("08"),       /* connection_exception */
    ngx_string("57P"),      /* admin_shutdown, crash_shutdown, ... */
    ngx_string("53300"),    /* too_many_connections */
    ngx_string("40001"),    /* serialization_failure */
    ngx_string("40P01"),    /* deadlock_detected */
    ngx_string("57014")     /* query_canceled: the statement_timeout */
};


#if (NGX_DEBUG)

/* in the order of ngx_http_leadlist_close_e */

static const char  *ngx_http_leadlist_pool_close_reasons[] = {
    "failed connect",
    "broken",
    "dead idle",
    "idle lost",
    "idle timeout",
    "unclean",
    "expired",
    "read-only",
    "exiting"
};

#endif


ngx_int_t
ngx_http_leadlist_pool_create(ngx_cycle_t *cycle,
    ngx_http_leadlist_srv_conf_t *lscf)
{
    ngx_http_leadlist_pool_t  *pool;

    pool = ngx_pcalloc(cycle->pool, sizeof(ngx_http_leadlist_pool_t));
    if (pool == NULL) {
        return NGX_ERROR;
    }

    pool->conf = lscf;
    pool->log = cycle->log;

    ngx_queue_init(&pool->idle);
    ngx_queue_init(&pool->active);
    ngx_queue_init(&pool->waiters);

    /*
     * leadlist_pg_adaptive off: the limit is leadlist_pg_max, always.  On,
     * it starts there too: started at 1, a worker's first statement, if
     * slow, held back every other one until it ended (t/047's requests
     * with the same Idempotency-Key waited for the first and got 503)
     */

    if (ngx_http_leadlist_limit_init(&pool->limit, 1, lscf->max, lscf->max,
                                     lscf->adaptive, ngx_pid)
        != 0)
    {
        return NGX_ERROR;
    }

    if (lscf->pipeline > 1) {
        pool->limit.head = 0.5;
    }

    /* a probe of the limiter ends by time too: its waiters must not wait */

    pool->probe.handler = ngx_http_leadlist_pool_probe_handler;
    pool->probe.data = pool;
    pool->probe.log = cycle->log;
    pool->probe.cancelable = 1;

    lscf->pool = pool;

    ngx_http_leadlist_pool_publish(pool);

    return NGX_OK;
}


void
ngx_http_leadlist_pool_destroy(ngx_http_leadlist_srv_conf_t *lscf)
{
    ngx_queue_t               *q;
    ngx_http_leadlist_pool_t  *pool;

    pool = lscf->pool;
    if (pool == NULL) {
        return;
    }

    if (pool->probe.timer_set) {
        ngx_del_timer(&pool->probe);
    }

    ngx_http_leadlist_pool_close_idle(pool, NGX_HTTP_LEADLIST_CLOSE_EXITING);

    while (!ngx_queue_empty(&pool->active)) {
        q = ngx_queue_head(&pool->active);
        ngx_http_leadlist_pool_close(ngx_queue_data(q,
                                         ngx_http_leadlist_conn_t, queue),
                                     NGX_HTTP_LEADLIST_CLOSE_EXITING);
    }
}


ngx_int_t
ngx_http_leadlist_pool_run(ngx_http_leadlist_query_t *q)
{
    uint64_t                   now;
    ngx_uint_t                 limit;
    ngx_http_leadlist_pool_t  *pool;
    ngx_http_leadlist_conn_t  *lc;

    pool = q->conf->pool;

    q->event.data = q;
    q->event.log = q->request->connection->log;
    q->start = ngx_current_msec;

    limit = ngx_http_leadlist_pool_limit(pool);
    now = ngx_http_leadlist_limit_now();

    /* nobody waits, and the limit or a pipeline lets one more run */

    while (ngx_queue_empty(&pool->waiters)) {
        lc = ngx_http_leadlist_pool_get(pool, limit, now);
        if (lc == NULL) {
            break;
        }

        if (ngx_http_leadlist_pool_send(lc, q) == NGX_OK) {
            return NGX_AGAIN;
        }

        /* a reused connection that cannot even send: try another */

        ngx_http_leadlist_pool_lost(lc, NGX_HTTP_SERVICE_UNAVAILABLE);
    }

    if (pool->nwaiters >= pool->conf->queue) {
        ngx_http_leadlist_metrics_event(pool->conf,
                                        NGX_HTTP_LEADLIST_EVENT_QUEUE_FULL);
        ngx_http_leadlist_log_error(NGX_LOG_ERR, q->request,
                                    "upstream \"%V\" wait queue is full "
                                    "(%ui)", &pool->conf->upstream->host,
                                    pool->nwaiters);
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    if (ngx_http_leadlist_pool_may_connect(pool,
            ngx_http_leadlist_pool_admissible(pool, limit,
                                              pool->nwaiters + 1))
        && ngx_http_leadlist_pool_connect(pool) == NGX_DECLINED
        && pool->connecting == 0)
    {
        /* every server failed a moment ago: fail fast, do not queue */

        ngx_http_leadlist_pool_log_no_server(q);
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    ngx_http_leadlist_pool_enqueue(q);

    /* the limit may have grown since the others queued */

    ngx_http_leadlist_pool_dispatch(pool);

    return NGX_AGAIN;
}


/*
 * The statements a worker may run at once on this upstream now: the
 * adaptive limit, or leadlist_pg_max with leadlist_pg_adaptive off.  The
 * one place admission reads it; a probe past its time ends here, and the
 * metrics hear of the limit it leaves.
 */

static ngx_uint_t
ngx_http_leadlist_pool_limit(ngx_http_leadlist_pool_t *pool)
{
    ngx_uint_t  old;

    old = pool->limit.limit;

    if (ngx_http_leadlist_limit_get(&pool->limit,
                                    ngx_http_leadlist_limit_now())
        != old)
    {
        ngx_http_leadlist_pool_publish(pool);
    }

    return pool->limit.limit;
}


void
ngx_http_leadlist_pool_detach(ngx_http_leadlist_query_t *q)
{
    ngx_uint_t                   i;
    ngx_http_leadlist_conn_t    *lc;
    ngx_http_leadlist_behind_t  *b;

    if (q->queued) {
        ngx_http_leadlist_pool_dequeue(q);
    }

    if (q->event.timer_set) {
        ngx_del_timer(&q->event);
    }

    if (q->event.posted) {
        ngx_delete_posted_event(&q->event);
    }

    lc = q->conn;
    if (lc == NULL) {
        return;
    }

    /*
     * the statement is running or sent behind one: let it finish on the
     * server and read its results away, bounded by the query timer, then
     * reuse the connection
     */

    q->conn = NULL;

    if (lc->query != q) {
        for (i = 0; i < lc->nbehind; i++) {
            b = &lc->behind[(lc->first + i) % NGX_HTTP_LEADLIST_BEHIND_MAX];

            if (b->query == q) {
                b->query = NULL;
            }
        }

        return;
    }

    lc->query = NULL;
    lc->state = NGX_HTTP_LEADLIST_DRAINING;

    lc->connection->log = lc->pool->log;
    lc->connection->read->log = lc->pool->log;
    lc->connection->write->log = lc->pool->log;
}


static ngx_http_leadlist_conn_t *
ngx_http_leadlist_pool_get_idle(ngx_http_leadlist_pool_t *pool)
{
    ngx_queue_t               *q;
    ngx_http_leadlist_conn_t  *lc;

    while (!ngx_queue_empty(&pool->idle)) {
        q = ngx_queue_head(&pool->idle);
        lc = ngx_queue_data(q, ngx_http_leadlist_conn_t, queue);

        ngx_queue_remove(q);
        pool->nidle--;
        ngx_queue_insert_tail(&pool->active, q);
        ngx_http_leadlist_pool_publish(pool);

        /* taken: from now on it is counted as busy, whatever follows */

        lc->state = NGX_HTTP_LEADLIST_BUSY;

        if (ngx_http_leadlist_pool_idle_usable(lc) != NGX_OK) {
            ngx_http_leadlist_pool_close(lc,
                                         NGX_HTTP_LEADLIST_CLOSE_DEAD_IDLE);
            continue;
        }

        lc->connection->idle = 0;

        if (lc->connection->read->timer_set) {
            ngx_del_timer(lc->connection->read);
        }

        return lc;
    }

    return NULL;
}


/*
 * Taking an idle connection costs no system call when nothing arrived on
 * it since it was last checked: the socket is edge-triggered, so any byte
 * or EOF from the server sets c->read->ready (and runs the idle handler,
 * which reads it); only then is it read and peeked at again here.
 */

static ngx_int_t
ngx_http_leadlist_pool_idle_usable(ngx_http_leadlist_conn_t *lc)
{
    ngx_connection_t  *c;

    if (ngx_http_leadlist_pool_expired(lc)) {
        return NGX_DECLINED;
    }

    c = lc->connection;

    if (c->read->ready || c->read->pending_eof || c->close || lc->doomed) {
        return ngx_http_leadlist_pool_idle_alive(lc);
    }

    return NGX_OK;
}


/*
 * An idle connection that PostgreSQL closed still says CONNECTION_OK
 * until libpq reads the EOF: read what is there, then peek for EOF.
 */

static ngx_int_t
ngx_http_leadlist_pool_idle_alive(ngx_http_leadlist_conn_t *lc)
{
    u_char             buf[1];
    ssize_t            n;
    ngx_err_t          err;
    PGresult          *res;
    PGnotify          *notify;
    ngx_connection_t  *c;

    c = lc->connection;

    if (lc->doomed || c->close || c->read->pending_eof
        || ngx_http_leadlist_pool_expired(lc))
    {
        return NGX_DECLINED;
    }

    if (!PQconsumeInput(lc->pg)) {
        return NGX_DECLINED;
    }

    while ((notify = PQnotifies(lc->pg)) != NULL) {
        PQfreemem(notify);
    }

    if (!PQisBusy(lc->pg)) {
        res = PQgetResult(lc->pg);

        if (res != NULL) {
            PQclear(res);
            return NGX_DECLINED;
        }
    }

    if (lc->doomed || PQstatus(lc->pg) != CONNECTION_OK) {
        return NGX_DECLINED;
    }

    n = recv(c->fd, buf, 1, MSG_PEEK);
    err = ngx_socket_errno;

    if (n == -1 && err == NGX_EAGAIN) {
        c->read->ready = 0;
        return NGX_OK;
    }

    return NGX_DECLINED;
}


/* past leadlist_pg_keepalive_time or _requests: not to be used again */

static ngx_uint_t
ngx_http_leadlist_pool_expired(ngx_http_leadlist_conn_t *lc)
{
    ngx_http_leadlist_srv_conf_t  *conf;

    conf = lc->pool->conf;

    return lc->requests >= conf->keepalive_requests
           || ngx_current_msec - lc->start > conf->keepalive_time;
}


/*
 * a new connect is due when the idle connections and those under way
 * are fewer than the queries that wait for one, within the caps on open
 * connections and on concurrent connects: a request that queues behind
 * others while the limit has just grown finds an idle one in the
 * dispatch that follows, and opens none
 */

static ngx_uint_t
ngx_http_leadlist_pool_may_connect(ngx_http_leadlist_pool_t *pool,
    ngx_uint_t waiting)
{
    return pool->open < pool->conf->max
           && pool->connecting + pool->nidle < waiting
           && pool->connecting < pool->conf->connect_concurrency;
}


/* how many of the waiting queries the limit would let run now */

static ngx_uint_t
ngx_http_leadlist_pool_admissible(ngx_http_leadlist_pool_t *pool,
    ngx_uint_t limit, ngx_uint_t waiting)
{
    if (pool->busy >= limit) {
        return 0;
    }

    return ngx_min(waiting, limit - pool->busy);
}


static void
ngx_http_leadlist_pool_log_no_server(ngx_http_leadlist_query_t *q)
{
    ngx_http_leadlist_log_error(NGX_LOG_ERR, q->request,
                                "no PostgreSQL server of upstream \"%V\" is "
                                "available", &q->conf->upstream->host);
}


/* NGX_OK: a connect started; NGX_DECLINED: no server to try now */

static ngx_int_t
ngx_http_leadlist_pool_connect(ngx_http_leadlist_pool_t *pool)
{
    ngx_http_leadlist_conn_t    *lc;
    ngx_http_leadlist_server_t  *server;

    for ( ;; ) {
        server = ngx_http_leadlist_pool_next_server(pool);
        if (server == NULL) {
            return NGX_DECLINED;
        }

        lc = ngx_calloc(sizeof(ngx_http_leadlist_conn_t), pool->log);
        if (lc == NULL) {
            return NGX_DECLINED;
        }

        lc->pool = pool;
        lc->server = server;
        lc->state = NGX_HTTP_LEADLIST_CONNECTING;

        pool->open++;
        pool->connecting++;
        ngx_queue_insert_tail(&pool->active, &lc->queue);

        ngx_http_leadlist_metrics_event(pool->conf,
                                        NGX_HTTP_LEADLIST_EVENT_CONNECT);
        ngx_http_leadlist_pool_publish(pool);

        if (ngx_http_leadlist_pool_connect_host(lc) == NGX_OK) {
            return NGX_OK;
        }

        /* no host of this server could even start: lc is gone */
    }
}


/*
 * Starts lc's connect to the next host of its server that is not in its
 * backoff, in the order of the conninfo: the first one, or the one after
 * lc->host.  NGX_DECLINED: no host is left, and lc is closed.
 */

static ngx_int_t
ngx_http_leadlist_pool_connect_host(ngx_http_leadlist_conn_t *lc)
{
    PGconn                    *pg;
    ngx_http_leadlist_host_t  *host;

    for ( ;; ) {
        host = ngx_http_leadlist_pool_next_host(lc->server, lc->host);

        if (host == NULL) {
            ngx_http_leadlist_pool_close(lc, NGX_HTTP_LEADLIST_CLOSE_CONNECT);
            return NGX_DECLINED;
        }

        lc->host = host;
        lc->deadline = ngx_current_msec + lc->pool->conf->connect_timeout;

        pg = PQconnectStartParams(host->keywords, host->values, 0);
        if (pg == NULL) {
            ngx_log_error(NGX_LOG_ALERT, lc->pool->log, 0,
                          "leadlist: PQconnectStartParams() failed");
            ngx_http_leadlist_pool_close(lc, NGX_HTTP_LEADLIST_CLOSE_CONNECT);
            return NGX_DECLINED;
        }

        lc->pg = pg;

        if (PQstatus(pg) != CONNECTION_BAD
            && PQsetnonblocking(pg, 1) == 0
            && ngx_http_leadlist_pool_register(lc) == NGX_OK)
        {
            PQsetNoticeReceiver(pg, ngx_http_leadlist_pool_notice, lc);

            ngx_log_debug2(NGX_LOG_DEBUG_HTTP, lc->pool->log, 0,
                           "leadlist connect %V fd:%d", &host->name,
                           lc->connection->fd);

            return NGX_OK;
        }

        ngx_http_leadlist_pool_host_failed(lc, "could not start");
    }
}


/* round robin over the servers that have a host out of its backoff */

static ngx_http_leadlist_server_t *
ngx_http_leadlist_pool_next_server(ngx_http_leadlist_pool_t *pool)
{
    ngx_uint_t                   i, n;
    ngx_http_leadlist_server_t  *server;

    server = pool->conf->servers->elts;
    n = pool->conf->servers->nelts;

    for (i = 0; i < n; i++) {
        pool->next = (pool->next + 1) % n;

        if (ngx_http_leadlist_pool_next_host(&server[pool->next], NULL)) {
            return &server[pool->next];
        }
    }

    return NULL;
}


static ngx_http_leadlist_host_t *
ngx_http_leadlist_pool_next_host(ngx_http_leadlist_server_t *server,
    ngx_http_leadlist_host_t *after)
{
    ngx_http_leadlist_host_t  *host, *last;

    last = server->hosts + server->nhosts;

    for (host = after ? after + 1 : server->hosts; host < last; host++) {
        if ((ngx_msec_int_t) (ngx_current_msec - host->retry_at) >= 0) {
            return host;
        }
    }

    return NULL;
}


/*
 * Wraps libpq's socket in an nginx connection.  libpq owns the socket:
 * c->shared keeps ngx_close_connection() from closing it a second time.
 */

static ngx_int_t
ngx_http_leadlist_pool_register(ngx_http_leadlist_conn_t *lc)
{
    ngx_socket_t       fd;
    ngx_connection_t  *c;

    fd = PQsocket(lc->pg);
    if (fd == (ngx_socket_t) -1) {
        return NGX_ERROR;
    }

    c = ngx_get_connection(fd, lc->pool->log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    c->shared = 1;
    c->data = lc;
    c->number = ngx_atomic_fetch_add(ngx_connection_counter, 1);

    c->read->handler = ngx_http_leadlist_pool_connect_handler;
    c->write->handler = ngx_http_leadlist_pool_connect_handler;
    c->read->log = c->log;
    c->write->log = c->log;

    if (ngx_add_conn) {
        if (ngx_add_conn(c) == NGX_ERROR) {
            ngx_close_connection(c);
            return NGX_ERROR;
        }

    } else if (ngx_add_event(c->read, NGX_READ_EVENT, NGX_CLEAR_EVENT)
               != NGX_OK
               || ngx_add_event(c->write, NGX_WRITE_EVENT, NGX_CLEAR_EVENT)
                  != NGX_OK)
    {
        ngx_close_connection(c);
        return NGX_ERROR;
    }

    lc->connection = c;

    ngx_add_timer(c->read, (ngx_msec_int_t) (lc->deadline - ngx_current_msec)
                           > 0 ? lc->deadline - ngx_current_msec : 1);

    return NGX_OK;
}


static void
ngx_http_leadlist_pool_connect_handler(ngx_event_t *ev)
{
    ngx_connection_t          *c;
    ngx_http_leadlist_conn_t  *lc;
    PostgresPollingStatusType  st;

    c = ev->data;
    lc = c->data;

    if (c->read->timedout) {
        ngx_http_leadlist_pool_connect_failed(lc, "timed out");
        return;
    }

    /* libpq takes a poll in CONNECTION_STARTED as "connect() finished" */

    if (PQstatus(lc->pg) == CONNECTION_STARTED && !ev->write) {
        return;
    }

    for ( ;; ) {
        st = PQconnectPoll(lc->pg);

        if (st == PGRES_POLLING_FAILED) {
            ngx_http_leadlist_pool_connect_failed(lc, PQerrorMessage(lc->pg));
            return;
        }

        if (st == PGRES_POLLING_OK) {
            break;
        }

        /*
         * a status back at CONNECTION_STARTED means libpq gave up on one
         * address and opened a new socket for the next: the old one is
         * closed already, wrap the new one
         */

        if (PQstatus(lc->pg) == CONNECTION_STARTED
            || PQsocket(lc->pg) != c->fd)
        {
            ngx_close_connection(c);
            lc->connection = NULL;

            if (ngx_http_leadlist_pool_register(lc) != NGX_OK) {
                ngx_http_leadlist_pool_connect_failed(lc,
                                                      "could not register");
            }

            return;
        }

        /* CONNECTION_MADE asks to write but needs no event to do it */

        if (st == PGRES_POLLING_WRITING
            && PQstatus(lc->pg) == CONNECTION_MADE)
        {
            continue;
        }

        return;
    }

    ngx_del_timer(c->read);

    lc->host->fails = 0;
    lc->pool->connecting--;
    lc->start = ngx_current_msec;
    lc->state = NGX_HTTP_LEADLIST_BUSY;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "leadlist connected %V", &lc->host->name);

    ngx_queue_remove(&lc->queue);
    ngx_http_leadlist_pool_release(lc);
}


/*
 * A host failed or timed out: the connect goes on to the next host of
 * the line, as libpq's own failover would, each within a timeout of its
 * own; when none is left the connection is closed.
 */

static void
ngx_http_leadlist_pool_connect_failed(ngx_http_leadlist_conn_t *lc,
    const char *why)
{
    ngx_http_leadlist_pool_t  *pool;

    pool = lc->pool;

    ngx_http_leadlist_pool_host_failed(lc, why);

    if (ngx_http_leadlist_pool_connect_host(lc) == NGX_OK) {
        return;
    }

    ngx_http_leadlist_pool_dispatch(pool);
}


/* the host is left alone for a backoff; lc keeps no socket, no PGconn */

static void
ngx_http_leadlist_pool_host_failed(ngx_http_leadlist_conn_t *lc,
    const char *why)
{
    ngx_msec_t                 backoff;
    ngx_http_leadlist_host_t  *host;

    host = lc->host;

    ngx_http_leadlist_pool_log(lc, NGX_LOG_ERR, "could not connect", why);

    /*
     * backoff: 50ms doubling to 1s, with +-20% jitter against storms; a
     * host that did not answer at all (a machine powered off) is not
     * asked again before as long as it took to give up on it, so that
     * connects spend at most half their time waiting on it
     */

    host->fails++;
    backoff = NGX_HTTP_LEADLIST_BACKOFF_MIN << ngx_min(host->fails - 1, 5);
    backoff = ngx_min(backoff, NGX_HTTP_LEADLIST_BACKOFF_MAX);

    if (lc->connection && lc->connection->read->timedout) {
        backoff = ngx_max(backoff, lc->pool->conf->connect_timeout);
    }

    backoff = backoff * 8 / 10 + ngx_random() % (backoff * 4 / 10 + 1);
    host->retry_at = ngx_current_msec + backoff;

    ngx_http_leadlist_pool_unwire(lc);
}


/*
 * Hands free capacity to waiting queries, as far as the limit lets them
 * run: idle connections first, then new connects for those still
 * waiting.  When no server can be tried and nothing is under way, the
 * waiters fail at once instead of timing out.
 */

static void
ngx_http_leadlist_pool_dispatch(ngx_http_leadlist_pool_t *pool)
{
    uint64_t                    now;
    ngx_uint_t                  limit;
    ngx_http_leadlist_conn_t   *lc;
    ngx_http_leadlist_query_t  *q;

    /*
     * read once: nothing in the loop lowers it, and a probe that runs out
     * of time meanwhile raises it for the next dispatch
     */

    limit = ngx_http_leadlist_pool_limit(pool);
    now = ngx_http_leadlist_limit_now();

    for ( ;; ) {

        if (ngx_queue_empty(&pool->waiters)) {
            break;
        }

        lc = ngx_http_leadlist_pool_get(pool, limit, now);

        if (lc == NULL) {
            if (ngx_http_leadlist_pool_may_connect(pool,
                    ngx_http_leadlist_pool_admissible(pool, limit,
                                                      pool->nwaiters))
                && ngx_http_leadlist_pool_connect(pool) == NGX_OK)
            {
                continue;
            }

            break;
        }

        q = ngx_http_leadlist_pool_next_waiter(pool);

        if (ngx_http_leadlist_pool_send(lc, q) != NGX_OK) {
            ngx_http_leadlist_pool_lost(lc, NGX_HTTP_SERVICE_UNAVAILABLE);
            ngx_http_leadlist_pool_complete(q, NGX_HTTP_SERVICE_UNAVAILABLE);
        }
    }

    if (ngx_queue_empty(&pool->waiters)) {
        return;
    }

    if (pool->busy >= limit) {

        /*
         * the others wait for a statement to end; during a probe of the
         * limiter (limit 1), also for the probe's time to run out
         */

        if (pool->limit.state != NGX_HTTP_LEADLIST_LIMIT_RUN
            && !pool->probe.timer_set)
        {
            ngx_add_timer(&pool->probe,
                          NGX_HTTP_LEADLIST_LIMIT_PROBE_BUDGET / 1000 + 1);
        }

        return;
    }

    if (pool->connecting || pool->open >= pool->conf->max) {
        return;
    }

    /* connects failed and every server waits out its backoff */

    while ((q = ngx_http_leadlist_pool_next_waiter(pool)) != NULL) {
        ngx_http_leadlist_pool_log_no_server(q);
        ngx_http_leadlist_pool_complete(q, NGX_HTTP_SERVICE_UNAVAILABLE);
    }
}


static void
ngx_http_leadlist_pool_probe_handler(ngx_event_t *ev)
{
    ngx_http_leadlist_pool_dispatch(ev->data);
}


static void
ngx_http_leadlist_pool_enqueue(ngx_http_leadlist_query_t *q)
{
    ngx_http_leadlist_pool_t  *pool;

    pool = q->conf->pool;

    ngx_queue_insert_tail(&pool->waiters, &q->queue);
    pool->nwaiters++;
    q->queued = 1;
    ngx_http_leadlist_pool_publish(pool);

    q->event.handler = ngx_http_leadlist_pool_wait_handler;
    ngx_add_timer(&q->event, pool->conf->queue_timeout);
}


/* the longest waiting query, out of the queue; NULL: none waits */

static ngx_http_leadlist_query_t *
ngx_http_leadlist_pool_next_waiter(ngx_http_leadlist_pool_t *pool)
{
    ngx_http_leadlist_query_t  *q;

    if (ngx_queue_empty(&pool->waiters)) {
        return NULL;
    }

    q = ngx_queue_data(ngx_queue_head(&pool->waiters),
                       ngx_http_leadlist_query_t, queue);

    ngx_http_leadlist_pool_dequeue(q);

    return q;
}


static void
ngx_http_leadlist_pool_dequeue(ngx_http_leadlist_query_t *q)
{
    ngx_queue_remove(&q->queue);
    q->conf->pool->nwaiters--;
    q->queued = 0;
    ngx_http_leadlist_pool_publish(q->conf->pool);

    if (q->event.timer_set) {
        ngx_del_timer(&q->event);
    }
}


static void
ngx_http_leadlist_pool_wait_handler(ngx_event_t *ev)
{
    ngx_connection_t           *c;
    ngx_http_request_t         *r;
    ngx_http_leadlist_query_t  *q;

    q = ev->data;
    r = q->request;
    c = r->connection;

    ngx_http_leadlist_log_error(NGX_LOG_ERR, r,
                                "no PostgreSQL connection of upstream \"%V\" "
                                "within %Mms", &q->conf->upstream->host,
                                q->conf->queue_timeout);

    ngx_http_leadlist_pool_dequeue(q);
    ngx_http_leadlist_metrics_wait_timeout(q);

    q->status = NGX_HTTP_SERVICE_UNAVAILABLE;
    q->handler(q);

    ngx_http_run_posted_requests(c);
}


/*
 * The first statement on a connection goes as Parse + Bind/Execute +
 * Sync in one pipeline, later ones as Bind/Execute + Sync: one round
 * trip either way.  With leadlist_pg_pipeline above 1 every statement
 * goes in pipeline mode, so that others may follow it before it ends.
 */

static ngx_int_t
ngx_http_leadlist_pool_send(ngx_http_leadlist_conn_t *lc,
    ngx_http_leadlist_query_t *q)
{
    PGconn            *pg;
    ngx_connection_t  *c;

    if (lc->running) {
        return ngx_http_leadlist_pool_append(lc, q);
    }

    pg = lc->pg;
    c = lc->connection;

    lc->query = q;
    lc->state = NGX_HTTP_LEADLIST_BUSY;
    lc->requests++;
    q->conn = lc;
    q->reused = (lc->requests > 1);

    c->log = q->request->connection->log;
    c->read->log = c->log;
    c->write->log = c->log;
    c->read->handler = ngx_http_leadlist_pool_busy_handler;
    c->write->handler = ngx_http_leadlist_pool_write_handler;

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "leadlist send fd:%d backend:%d request:%ui prepared:%d",
                   c->fd, PQbackendPID(pg), lc->requests, lc->prepared);

    if (!lc->prepared || lc->pool->conf->pipeline > 1) {
        lc->pipelined = 1;
        lc->preparing = !lc->prepared;

        if (!PQenterPipelineMode(pg)
            || (lc->preparing
                && !PQsendPrepare(pg, q->stmt->name, q->stmt->sql,
                                  q->stmt->nparams, NULL))
            || !PQsendQueryPrepared(pg, q->stmt->name, q->stmt->nparams,
                                    q->values, NULL, NULL, 0)
            || !PQpipelineSync(pg))
        {
            goto failed;
        }

    } else if (!PQsendQueryPrepared(pg, q->stmt->name, q->stmt->nparams,
                                    q->values, NULL, NULL, 0))
    {
        goto failed;
    }

    /* unlike the idle timer, this one keeps an exiting worker alive */

    c->read->cancelable = 0;
    ngx_add_timer(c->read, lc->pool->conf->query_timeout);

    if (ngx_http_leadlist_pool_flush(lc) == NGX_ERROR) {
        ngx_del_timer(c->read);
        goto failed;
    }

    ngx_http_leadlist_metrics_sent(q, &lc->server->name);
    lc->sent = ngx_http_leadlist_limit_now();
    lc->since = lc->sent;
    lc->running = 1;
    lc->pool->busy++;

    return NGX_OK;

failed:

    ngx_http_leadlist_pool_log(lc, NGX_LOG_ERR, "could not send",
                               PQerrorMessage(pg));
    return NGX_ERROR;
}


static ngx_int_t
ngx_http_leadlist_pool_flush(ngx_http_leadlist_conn_t *lc)
{
    int  rc;

    rc = PQflush(lc->pg);

    if (rc == -1) {
        return NGX_ERROR;
    }

    lc->flushing = (rc == 1);

    return NGX_OK;
}


/*
 * The connection for the next statement: an idle one while fewer
 * connections than the limit run one, else a place behind a statement.
 */

static ngx_http_leadlist_conn_t *
ngx_http_leadlist_pool_get(ngx_http_leadlist_pool_t *pool, ngx_uint_t limit,
    uint64_t now)
{
    ngx_http_leadlist_conn_t  *lc;

    if (pool->busy < limit) {
        lc = ngx_http_leadlist_pool_get_idle(pool);
        if (lc) {
            return lc;
        }
    }

    return ngx_http_leadlist_pool_behind(pool, limit, now);
}


/*
 * The busy connection with the fewest statements behind its own, among
 * those with room whose statement has run no longer than 4 times the
 * base (2 ms at least): a statement behind a slow one would wait for it.
 * None while more connections are busy than the limit allows: a busy
 * connection that always takes the next statement never goes idle, and
 * a limit that fell would never take effect.  now is read once per run
 * or dispatch, so that a statement it sent itself counts as young
 * however long the loop took.
 */

static ngx_http_leadlist_conn_t *
ngx_http_leadlist_pool_behind(ngx_http_leadlist_pool_t *pool,
    ngx_uint_t limit, uint64_t now)
{
    uint64_t                   young;
    ngx_uint_t                 depth;
    ngx_queue_t               *q;
    ngx_http_leadlist_conn_t  *lc, *best;

    depth = pool->conf->pipeline;

    if (depth < 2 || pool->busy == 0 || pool->busy > limit) {
        return NULL;
    }

    young = ngx_max(4 * pool->limit.base, 2000);
    best = NULL;

    for (q = ngx_queue_head(&pool->active);
         q != ngx_queue_sentinel(&pool->active);
         q = ngx_queue_next(q))
    {
        lc = ngx_queue_data(q, ngx_http_leadlist_conn_t, queue);

        if (!lc->running || !lc->pipelined || lc->preparing || lc->flushing
            || lc->doomed || lc->read_only
            || lc->nbehind + 1 >= depth
            || (now > lc->since && now - lc->since > young))
        {
            continue;
        }

        if (best == NULL || lc->nbehind < best->nbehind) {
            best = lc;
        }
    }

    return best;
}


/* q goes behind the statement lc runs, and those already behind it */

static ngx_int_t
ngx_http_leadlist_pool_append(ngx_http_leadlist_conn_t *lc,
    ngx_http_leadlist_query_t *q)
{
    ngx_http_leadlist_behind_t  *b;

    if (!PQsendQueryPrepared(lc->pg, q->stmt->name, q->stmt->nparams,
                             q->values, NULL, NULL, 0)
        || !PQpipelineSync(lc->pg)
        || ngx_http_leadlist_pool_flush(lc) == NGX_ERROR)
    {
        ngx_http_leadlist_log_error(NGX_LOG_ERR, q->request,
                                    "could not send behind a statement on "
                                    "\"%V\": %s", &lc->server->name,
                                    PQerrorMessage(lc->pg));
        return NGX_ERROR;
    }

    b = &lc->behind[(lc->first + lc->nbehind) % NGX_HTTP_LEADLIST_BEHIND_MAX];
    b->query = q;
    b->sent = ngx_http_leadlist_limit_now();

    lc->nbehind++;
    lc->requests++;
    q->conn = lc;
    q->reused = 1;

    ngx_http_leadlist_metrics_sent(q, &lc->server->name);
    ngx_http_leadlist_metrics_event(lc->pool->conf,
                                    NGX_HTTP_LEADLIST_EVENT_PIPELINED);

    return NGX_OK;
}


/*
 * The statement ahead has ended: the next one behind it runs now.  Its
 * query timer starts here, as the server's statement_timeout does, so
 * that a slow statement is cancelled by the server, on a connection that
 * stays usable, before the module gives up on it and closes: a statement
 * behind a closed one may still run on the server after its 503.  Its
 * sample starts here too, where the backend took it up.
 */

static void
ngx_http_leadlist_pool_promote(ngx_http_leadlist_conn_t *lc)
{
    ngx_connection_t            *c;
    ngx_http_leadlist_behind_t  *b;

    c = lc->connection;
    b = &lc->behind[lc->first];

    lc->first = (lc->first + 1) % NGX_HTTP_LEADLIST_BEHIND_MAX;
    lc->nbehind--;

    lc->query = b->query;
    lc->sent = b->sent;
    lc->since = ngx_http_leadlist_limit_now();
    lc->running = 1;
    lc->pool->busy++;

    if (lc->query) {
        lc->state = NGX_HTTP_LEADLIST_BUSY;
        c->log = lc->query->request->connection->log;

    } else {
        lc->state = NGX_HTTP_LEADLIST_DRAINING;
        c->log = lc->pool->log;
    }

    c->read->log = c->log;
    c->write->log = c->log;

    c->read->cancelable = 0;
    ngx_add_timer(c->read, lc->pool->conf->query_timeout);
}


static void
ngx_http_leadlist_pool_busy_handler(ngx_event_t *ev)
{
    ngx_int_t                  status;
    ngx_uint_t                 fresh;
    ngx_connection_t          *c, *rc;
    ngx_http_leadlist_conn_t  *lc;

    c = ev->data;
    lc = c->data;
    rc = lc->query ? lc->query->request->connection : NULL;

    if (c->read->timedout) {
        c->read->timedout = 0;
        ngx_http_leadlist_pool_fail(lc, NGX_HTTP_SERVICE_UNAVAILABLE,
                                    "query timed out");
        goto done;
    }

    if (lc->flushing && ngx_http_leadlist_pool_flush(lc) != NGX_OK) {
        ngx_http_leadlist_pool_fail(lc, NGX_HTTP_SERVICE_UNAVAILABLE,
                                    PQerrorMessage(lc->pg));
        goto done;
    }

    /*
     * a pipeline's later results may have come with the first: only the
     * first read is a sample, the others' turn on the backend began
     * before the read of the one ahead of them
     */

    fresh = 1;

    for ( ;; ) {
        status = ngx_http_leadlist_pool_consume(lc);

        if (status == NGX_ERROR) {
            ngx_http_leadlist_pool_fail(lc, NGX_HTTP_SERVICE_UNAVAILABLE,
                                        PQerrorMessage(lc->pg));
            break;
        }

        if (status == NGX_AGAIN
            || !ngx_http_leadlist_pool_finish(lc, fresh))
        {
            break;
        }

        fresh = 0;
    }

done:

    if (rc) {
        ngx_http_run_posted_requests(rc);
    }
}


/*
 * Edge-triggered, the socket reports EPOLLOUT with every read event:
 * reading again there would cost a recv() and an ioctl() per statement.
 * Only a statement that did not fit in the socket buffer waits to write.
 */

static void
ngx_http_leadlist_pool_write_handler(ngx_event_t *ev)
{
    ngx_connection_t          *c;
    ngx_http_leadlist_conn_t  *lc;

    c = ev->data;
    lc = c->data;

    if (lc->flushing) {
        ngx_http_leadlist_pool_busy_handler(ev);
    }
}


/*
 * Reads until the statement's results are complete (NGX_OK) or the
 * kernel has nothing more (NGX_AGAIN).  With edge-triggered events a
 * single PQconsumeInput() may leave bytes that no new event announces.
 */

static ngx_int_t
ngx_http_leadlist_pool_consume(ngx_http_leadlist_conn_t *lc)
{
    int         avail;
    ngx_int_t   rc;
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_LEADLIST_DRAIN_LOOPS; i++) {

        if (!PQconsumeInput(lc->pg)) {
            return NGX_ERROR;
        }

        rc = ngx_http_leadlist_pool_read_results(lc);
        if (rc != NGX_AGAIN) {
            return rc;
        }

        if (ioctl(lc->connection->fd, FIONREAD, &avail) == -1
            || avail == 0)
        {
            return NGX_AGAIN;
        }
    }

    /* a flood of input: let others run, come back from the posted queue */

    ngx_post_event(lc->connection->read, &ngx_posted_events);

    return NGX_AGAIN;
}


static ngx_int_t
ngx_http_leadlist_pool_read_results(ngx_http_leadlist_conn_t *lc)
{
    PGresult  *res;

    while (!PQisBusy(lc->pg)) {

        res = PQgetResult(lc->pg);

        if (res == NULL) {
            if (lc->pipelined) {
                /* the end of one statement of the pipeline */
                continue;
            }

            return NGX_OK;
        }

        switch (PQresultStatus(res)) {

        case PGRES_PIPELINE_SYNC:
            PQclear(res);
            lc->preparing = 0;

            /* the connection leaves pipeline mode with nothing behind */

            if (lc->nbehind == 0) {
                lc->pipelined = 0;

                if (!PQexitPipelineMode(lc->pg)) {
                    lc->doomed = 1;
                }
            }

            return NGX_OK;

        case PGRES_COMMAND_OK:
            if (lc->preparing) {
                lc->prepared = 1;
            }

            PQclear(res);
            break;

        case PGRES_TUPLES_OK:
            if (lc->result) {
                PQclear(lc->result);
            }

            lc->result = res;
            break;

        case PGRES_FATAL_ERROR:
            if (lc->error == NULL) {
                lc->error = res;

            } else {
                PQclear(res);
            }

            break;

        default:
            PQclear(res);
            break;
        }
    }

    return NGX_AGAIN;
}


/*
 * The running statement's results are all read: its request is answered,
 * and the next statement behind it runs (1) or the connection goes back
 * (0).  fresh: its result was not read along with the one ahead of it.
 */

static ngx_uint_t
ngx_http_leadlist_pool_finish(ngx_http_leadlist_conn_t *lc, ngx_uint_t fresh)
{
    ngx_uint_t                  status;
    ngx_http_leadlist_query_t  *q;

    if (lc->connection->read->timer_set) {
        ngx_del_timer(lc->connection->read);
    }

    /* a failed statement's time says nothing of the database's load */

    ngx_http_leadlist_pool_ended(lc,
                                 fresh && lc->error == NULL && lc->result);

    q = lc->query;
    status = 0;

    ngx_http_leadlist_metrics_done(lc->pool->conf, q, lc->error, 0);

    if (lc->error) {
        status = ngx_http_leadlist_pool_failed(lc);

        PQclear(lc->error);
        lc->error = NULL;

        if (lc->result) {
            PQclear(lc->result);
            lc->result = NULL;
        }

    } else if (lc->result == NULL) {
        status = NGX_HTTP_INTERNAL_SERVER_ERROR;
        ngx_http_leadlist_pool_log(lc, NGX_LOG_ERR, "statement returned",
                                   "no rows");
    }

    lc->query = NULL;

    if (q) {
        q->conn = NULL;
        q->result = lc->result;

    } else if (lc->result) {
        PQclear(lc->result);
    }

    lc->result = NULL;

    if (q) {
        ngx_http_leadlist_pool_complete(q, status);
    }

    /* a read-only server fails those behind too: release closes it */

    if (lc->nbehind && !lc->read_only && !lc->doomed) {
        ngx_http_leadlist_pool_promote(lc);
        return 1;
    }

    ngx_queue_remove(&lc->queue);
    ngx_http_leadlist_pool_release(lc);

    return 0;
}


/*
 * A statement is over: out of the count of those running, its time for
 * the metrics and the access log, and, when it succeeded, a sample for
 * the limiter.  Its time runs from the send to its last result read, its
 * sample from the start of its turn (the send, or the end of the one
 * ahead of it in a pipeline), from a clock finer than ngx_current_msec,
 * read once for both.
 */

static void
ngx_http_leadlist_pool_ended(ngx_http_leadlist_conn_t *lc, ngx_uint_t sample)
{
    uint64_t                   now;
    ngx_http_leadlist_pool_t  *pool;

    if (!lc->running) {
        return;
    }

    pool = lc->pool;
    now = ngx_http_leadlist_limit_now();

    if (lc->query) {
        lc->query->statement_time = now - lc->sent;
        lc->query->timed = 1;
    }

    if (sample) {
        if (ngx_http_leadlist_limit_sample(&pool->limit, now, now - lc->since,
                                           pool->busy))
        {
            ngx_log_debug4(NGX_LOG_DEBUG_HTTP, pool->log, 0,
                           "leadlist limit %ui busy:%ui base:%uLus "
                           "rtt:%uLus", (ngx_uint_t) pool->limit.limit,
                           pool->busy, pool->limit.base, pool->limit.rtt);

            ngx_http_leadlist_pool_publish(pool);
        }
    }

    lc->running = 0;
    pool->busy--;
}


/* the connection is in an unknown state: close it, answer the requests */

static void
ngx_http_leadlist_pool_fail(ngx_http_leadlist_conn_t *lc, ngx_uint_t status,
    const char *why)
{
    ngx_http_leadlist_pool_t  *pool;

    pool = lc->pool;

    ngx_http_leadlist_pool_log(lc, NGX_LOG_ERR, "connection failed", why);
    ngx_http_leadlist_pool_lost(lc, status);
    ngx_http_leadlist_pool_dispatch(pool);
}


/*
 * A broken connection is closed: the close ends its statement and times
 * it, and fails those behind; the statement it ran, if any, answers
 * status.
 */

static void
ngx_http_leadlist_pool_lost(ngx_http_leadlist_conn_t *lc, ngx_uint_t status)
{
    ngx_uint_t                  running;
    ngx_http_leadlist_pool_t   *pool;
    ngx_http_leadlist_query_t  *q;

    pool = lc->pool;
    q = lc->query;
    running = lc->running;

    ngx_http_leadlist_pool_close(lc, NGX_HTTP_LEADLIST_CLOSE_BROKEN);

    if (!running) {
        return;
    }

    ngx_http_leadlist_metrics_done(pool->conf, q, NULL, 1);

    if (q) {
        ngx_http_leadlist_pool_complete(q, status);
    }
}


/*
 * The statement failed: logged, and its status.  Failures that a retry
 * may cure answer 503: the connection or server went away, too many
 * connections, a serialization failure or deadlock, the
 * statement_timeout, a read-only server; anything else is a 500.
 */

static ngx_uint_t
ngx_http_leadlist_pool_failed(ngx_http_leadlist_conn_t *lc)
{
    char        *state;
    const char  *what;
    ngx_uint_t   i;

    state = PQresultErrorField(lc->error, PG_DIAG_SQLSTATE);
    what = "statement failed";

    /*
     * a standby, or a primary demoted under the pool: every statement on
     * this connection would fail the same way, while the next connect may
     * find the writable server (target_session_attrs=read-write)
     */

    if (state && ngx_strcmp(state, NGX_HTTP_LEADLIST_READ_ONLY_SQL) == 0) {
        lc->read_only = 1;
        what = "is read-only, the connection is closed";
    }

    ngx_http_leadlist_pool_log(lc, NGX_LOG_ERR, what,
                               PQresultErrorMessage(lc->error));

    if (state == NULL || lc->read_only) {
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    for (i = 0; i < sizeof(ngx_http_leadlist_pool_retryable)
                    / sizeof(ngx_str_t); i++)
    {
        if (ngx_strncmp(state, ngx_http_leadlist_pool_retryable[i].data,
                        ngx_http_leadlist_pool_retryable[i].len)
            == 0)
        {
            return NGX_HTTP_SERVICE_UNAVAILABLE;
        }
    }

    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}


/*
 * A connection goes back only when it is known clean and within its
 * limits; anything else is closed: a ROLLBACK here would be a round trip
 * nobody awaits.  A worker that is exiting still serves its waiting
 * requests with it, and closes it only when none is left.
 */

static void
ngx_http_leadlist_pool_release(ngx_http_leadlist_conn_t *lc)
{
    ngx_http_leadlist_pool_t  *pool;

    pool = lc->pool;

    ngx_queue_insert_tail(&pool->active, &lc->queue);

    if (lc->read_only) {
        ngx_http_leadlist_pool_close(lc, NGX_HTTP_LEADLIST_CLOSE_READ_ONLY);

    } else if (!ngx_http_leadlist_pool_clean(lc)) {
        ngx_http_leadlist_pool_close(lc, NGX_HTTP_LEADLIST_CLOSE_UNCLEAN);

    } else if (ngx_http_leadlist_pool_expired(lc)) {
        ngx_http_leadlist_pool_close(lc, NGX_HTTP_LEADLIST_CLOSE_EXPIRED);

    } else {
        ngx_http_leadlist_pool_keep_idle(lc);
    }

    ngx_http_leadlist_pool_dispatch(pool);

    if (ngx_exiting || ngx_terminate) {
        ngx_http_leadlist_pool_close_idle(pool,
                                          NGX_HTTP_LEADLIST_CLOSE_EXITING);
    }
}


/* no transaction, nothing pending, not in pipeline mode */

static ngx_uint_t
ngx_http_leadlist_pool_clean(ngx_http_leadlist_conn_t *lc)
{
    return !lc->doomed
           && !lc->flushing
           && PQstatus(lc->pg) == CONNECTION_OK
           && PQtransactionStatus(lc->pg) == PQTRANS_IDLE
           && PQpipelineStatus(lc->pg) == PQ_PIPELINE_OFF
           && !PQisBusy(lc->pg);
}


/*
 * A released connection goes to the head of the idle list, so that the
 * most recently used one is taken first and the surplus really goes idle:
 * those beyond leadlist_pg_keepalive are closed by their idle timer, never
 * here, so that a burst that opened them finds them again.
 */

static void
ngx_http_leadlist_pool_keep_idle(ngx_http_leadlist_conn_t *lc)
{
    ngx_connection_t          *c;
    ngx_http_leadlist_pool_t  *pool;

    pool = lc->pool;
    c = lc->connection;

    ngx_queue_remove(&lc->queue);
    ngx_queue_insert_head(&pool->idle, &lc->queue);
    pool->nidle++;

    lc->state = NGX_HTTP_LEADLIST_IDLE;
    ngx_http_leadlist_pool_publish(pool);

    c->idle = 1;
    c->log = pool->log;
    c->read->log = pool->log;
    c->write->log = pool->log;
    c->read->handler = ngx_http_leadlist_pool_idle_handler;
    c->write->handler = ngx_http_leadlist_pool_dummy_handler;

    /*
     * the answer was read to its end: from now on c->read->ready means
     * that the server sent something while the connection was idle
     */

    c->read->ready = 0;

    ngx_http_leadlist_pool_idle_timer(lc);
}


/*
 * An idle connection is looked at again after leadlist_pg_idle_timeout,
 * or when it reaches leadlist_pg_keepalive_time if that comes first, so
 * that an old connection is retired even if nothing takes it.
 */

static void
ngx_http_leadlist_pool_idle_timer(ngx_http_leadlist_conn_t *lc)
{
    ngx_msec_t                     timer, age;
    ngx_http_leadlist_srv_conf_t  *conf;

    conf = lc->pool->conf;

    timer = conf->idle_timeout;
    age = ngx_current_msec - lc->start;

    if (conf->keepalive_time - age < timer) {
        timer = conf->keepalive_time - age + 1;
    }

    /* an idle timer must not hold a gracefully exiting worker */

    lc->connection->read->cancelable = 1;
    ngx_add_timer(lc->connection->read, timer);
}


/*
 * The idle timer closes a connection past its keepalive_time, and one
 * that stayed idle for leadlist_pg_idle_timeout while more than
 * leadlist_pg_keepalive are idle; the others stay, as long as healthy.
 */

static void
ngx_http_leadlist_pool_idle_handler(ngx_event_t *ev)
{
    ngx_connection_t          *c;
    ngx_http_leadlist_pool_t  *pool;
    ngx_http_leadlist_conn_t  *lc;

    c = ev->data;
    lc = c->data;
    pool = lc->pool;

    if (ev->timedout) {
        ev->timedout = 0;

        if (ngx_http_leadlist_pool_expired(lc)) {
            ngx_http_leadlist_pool_close(lc, NGX_HTTP_LEADLIST_CLOSE_EXPIRED);

        } else if (pool->nidle > pool->conf->keepalive) {
            ngx_http_leadlist_pool_close(lc,
                                         NGX_HTTP_LEADLIST_CLOSE_IDLE_TIMEOUT);

        } else {
            ngx_http_leadlist_pool_idle_timer(lc);
            return;
        }

    } else if (ngx_http_leadlist_pool_idle_alive(lc) == NGX_OK) {
        return;

    } else {
        ngx_http_leadlist_pool_close(lc, c->close
                                         ? NGX_HTTP_LEADLIST_CLOSE_EXITING
                                         : NGX_HTTP_LEADLIST_CLOSE_IDLE_LOST);
    }

    ngx_http_leadlist_pool_dispatch(pool);
}


static void
ngx_http_leadlist_pool_close_idle(ngx_http_leadlist_pool_t *pool,
    ngx_http_leadlist_close_e why)
{
    while (!ngx_queue_empty(&pool->idle)) {
        ngx_http_leadlist_pool_close(ngx_queue_data(
                                         ngx_queue_head(&pool->idle),
                                         ngx_http_leadlist_conn_t, queue),
                                     why);
    }
}


/*
 * The one way a connection goes: a query it served, if any, is unlinked
 * from it first (whoever closes it answers that query, if anyone does).
 */

static void
ngx_http_leadlist_pool_close(ngx_http_leadlist_conn_t *lc,
    ngx_http_leadlist_close_e why)
{
    ngx_http_leadlist_pool_t  *pool;

    pool = lc->pool;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, pool->log, 0,
                   "leadlist close %s %V",
                   ngx_http_leadlist_pool_close_reasons[why],
                   &lc->server->name);

    ngx_http_leadlist_pool_count_close(lc, why);
    ngx_http_leadlist_pool_ended(lc, 0);

    if (lc->query) {
        lc->query->conn = NULL;
        lc->query = NULL;
    }

    ngx_http_leadlist_pool_fail_behind(lc, why);

    ngx_queue_remove(&lc->queue);

    if (lc->state == NGX_HTTP_LEADLIST_IDLE) {
        pool->nidle--;

    } else if (lc->state == NGX_HTTP_LEADLIST_CONNECTING) {
        pool->connecting--;
    }

    pool->open--;
    ngx_http_leadlist_pool_publish(pool);

    ngx_http_leadlist_pool_unwire(lc);

    if (lc->result) {
        PQclear(lc->result);
    }

    if (lc->error) {
        PQclear(lc->error);
    }

    ngx_free(lc);
}


/*
 * The statements sent behind the one lc ran go with it: each request
 * hears 503 (a retry is safe, SPEC 1.6) and logs why; a worker that exits
 * only unlinks them, as it does the running one.
 */

static void
ngx_http_leadlist_pool_fail_behind(ngx_http_leadlist_conn_t *lc,
    ngx_http_leadlist_close_e why)
{
    ngx_http_leadlist_query_t   *q;
    ngx_http_leadlist_behind_t  *b;

    for ( /* void */ ; lc->nbehind; lc->nbehind--) {
        b = &lc->behind[lc->first];
        lc->first = (lc->first + 1) % NGX_HTTP_LEADLIST_BEHIND_MAX;

        q = b->query;

        if (why == NGX_HTTP_LEADLIST_CLOSE_EXITING) {
            if (q) {
                q->conn = NULL;
            }

            continue;
        }

        ngx_http_leadlist_metrics_done(lc->pool->conf, q, NULL, 1);

        if (q == NULL) {
            continue;
        }

        ngx_http_leadlist_log_error(NGX_LOG_ERR, q->request,
                                    "the connection to \"%V\" was closed "
                                    "before the statement sent behind "
                                    "another ran", &lc->server->name);

        q->conn = NULL;
        ngx_http_leadlist_pool_complete(q, NGX_HTTP_SERVICE_UNAVAILABLE);
    }
}


/* lc's socket out of nginx, its PGconn finished */

static void
ngx_http_leadlist_pool_unwire(ngx_http_leadlist_conn_t *lc)
{
    ngx_uint_t         flags;
    ngx_connection_t  *c;

    c = lc->connection;

    if (c) {
        if (c->read->timer_set) {
            ngx_del_timer(c->read);
        }

        if (c->write->timer_set) {
            ngx_del_timer(c->write);
        }

        /*
         * libpq closes the socket itself when it finds the connection
         * lost; the kernel then dropped it from epoll already, and the
         * fd number may be reused by now
         */

        flags = (PQsocket(lc->pg) == c->fd) ? 0 : NGX_CLOSE_EVENT;

        if (ngx_del_conn) {
            ngx_del_conn(c, flags);

        } else {
            ngx_del_event(c->read, NGX_READ_EVENT, flags);
            ngx_del_event(c->write, NGX_WRITE_EVENT, flags);
        }

        ngx_close_connection(c);
        lc->connection = NULL;
    }

    /* PQfinish() sends Terminate without waiting, then closes the fd */

    if (lc->pg) {
        PQfinish(lc->pg);
        lc->pg = NULL;
    }
}


/* what leadlist_metrics makes of a close: a failed connect, or a reason */

static void
ngx_http_leadlist_pool_count_close(ngx_http_leadlist_conn_t *lc,
    ngx_http_leadlist_close_e why)
{
    ngx_http_leadlist_event_e      event;
    ngx_http_leadlist_srv_conf_t  *conf;

    conf = lc->pool->conf;
    event = NGX_HTTP_LEADLIST_EVENT_CLOSED_BROKEN;

    /* no default: a new reason must be given its counter here */

    switch (why) {

    case NGX_HTTP_LEADLIST_CLOSE_CONNECT:
        event = NGX_HTTP_LEADLIST_EVENT_CONNECT_FAILED;
        break;

    case NGX_HTTP_LEADLIST_CLOSE_IDLE_TIMEOUT:
        event = NGX_HTTP_LEADLIST_EVENT_CLOSED_IDLE;
        break;

    case NGX_HTTP_LEADLIST_CLOSE_EXITING:
        event = NGX_HTTP_LEADLIST_EVENT_CLOSED_EXIT;
        break;

    case NGX_HTTP_LEADLIST_CLOSE_DEAD_IDLE:  /* or just too old to take */
    case NGX_HTTP_LEADLIST_CLOSE_EXPIRED:
        if (ngx_http_leadlist_pool_expired(lc)) {
            event = (lc->requests >= conf->keepalive_requests)
                    ? NGX_HTTP_LEADLIST_EVENT_CLOSED_REQUESTS
                    : NGX_HTTP_LEADLIST_EVENT_CLOSED_LIFETIME;
        }

        break;

    case NGX_HTTP_LEADLIST_CLOSE_BROKEN:
    case NGX_HTTP_LEADLIST_CLOSE_IDLE_LOST:
    case NGX_HTTP_LEADLIST_CLOSE_UNCLEAN:
    case NGX_HTTP_LEADLIST_CLOSE_READ_ONLY:
        break;
    }

    ngx_http_leadlist_metrics_event(conf, event);
}


/* after every change of open, nidle, connecting, nwaiters or the limit */

static void
ngx_http_leadlist_pool_publish(ngx_http_leadlist_pool_t *pool)
{
    ngx_http_leadlist_metrics_pool(pool->conf, pool->open, pool->nidle,
                                   pool->connecting, pool->nwaiters,
                                   pool->limit.limit);
}


static void
ngx_http_leadlist_pool_complete(ngx_http_leadlist_query_t *q,
    ngx_uint_t status)
{
    q->status = status;

    if (q->event.timer_set) {
        ngx_del_timer(&q->event);
    }

    q->event.handler = ngx_http_leadlist_pool_complete_handler;
    ngx_post_event(&q->event, &ngx_posted_events);
}


static void
ngx_http_leadlist_pool_complete_handler(ngx_event_t *ev)
{
    ngx_connection_t           *c;
    ngx_http_leadlist_query_t  *q;

    q = ev->data;
    c = q->request->connection;

    q->handler(q);

    ngx_http_run_posted_requests(c);
}


/*
 * libpq prints notices to stderr by default.  A FATAL notice on an idle
 * connection (pg_terminate_backend) means it is dead even while libpq
 * still says CONNECTION_OK.
 */

static void
ngx_http_leadlist_pool_notice(void *arg, const PGresult *res)
{
    char                      *severity;
    ngx_http_leadlist_conn_t  *lc = arg;

    severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);

    if (severity && (ngx_strcmp(severity, "FATAL") == 0
                     || ngx_strcmp(severity, "PANIC") == 0))
    {
        lc->doomed = 1;
    }

    ngx_http_leadlist_pool_log(lc, NGX_LOG_NOTICE, "notice",
                               PQresultErrorMessage(res));
}


/* one log line: libpq's messages end with, and may hold, newlines */

static void
ngx_http_leadlist_pool_log(ngx_http_leadlist_conn_t *lc, ngx_uint_t level,
    const char *what, const char *msg)
{
    u_char     buf[512], *p, *last;
    ngx_log_t  *log;

    p = buf;
    last = buf + sizeof(buf);

    for ( /* void */ ; msg && *msg && p < last; msg++) {
        if (*msg == '\n' || *msg == '\r' || *msg == '\t') {
            if (p > buf && p[-1] != ' ') {
                *p++ = ' ';
            }

            continue;
        }

        *p++ = *msg;
    }

    while (p > buf && p[-1] == ' ') {
        p--;
    }

    if (lc->query) {
        ngx_http_leadlist_log_error(level, lc->query->request,
                                    "PostgreSQL %V %s: %*s",
                                    &lc->host->name, what, p - buf, buf);
        return;
    }

    log = lc->connection ? lc->connection->log : lc->pool->log;

    ngx_log_error(level, log, 0, "leadlist: PostgreSQL %V %s: %*s",
                  &lc->host->name, what, p - buf, buf);
}


static void
ngx_http_leadlist_pool_dummy_handler(ngx_event_t *ev)
{
}
