
/*
 * Copyright (C) leadlist authors
 */


/* A worker's PostgreSQL connections of one upstream, and its wait queue. */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_leadlist.h"
#include "ngx_http_leadlist_metrics.h"
#include "ngx_http_leadlist_limit.h"
#include "ngx_http_leadlist_pool.h"
#include "ngx_http_leadlist_conn.h"
#include "ngx_http_leadlist_upstream.h"
#include "ngx_http_leadlist_util.h"


/*
 * One pool per upstream and worker.
 *
 * Connections belong to the pool, never to a request: a request borrows
 * one for a single statement and gives it back before it answers.  Every
 * libpq call of the pool is non-blocking: PQconnectStartParams and
 * PQconnectPoll (ngx_http_leadlist_connect.c), PQsend*, PQflush,
 * PQconsumeInput, and PQgetResult only when PQisBusy() says it will not
 * wait (ngx_http_leadlist_query.c).  The socket is registered
 * edge-triggered, so every read drains what the kernel holds (FIONREAD)
 * before it waits.
 *
 * A request learns the outcome through its query's event, posted, never
 * called from inside the pool, so that a request that finishes cannot
 * change the pool's queues while they are being walked.
 *
 * The connections a worker keeps running a statement are bounded by the
 * adaptive limit (ngx_http_leadlist_limit.c), between 1 and
 * leadlist_pg_max: a request beyond it waits in the FIFO queue even when
 * a connection is idle, and each statement that completes is a sample of
 * its time.  With leadlist_pg_pipeline above 1, a statement may instead
 * go behind one that runs (ngx_http_leadlist_query.c).
 */


static ngx_uint_t ngx_http_leadlist_pool_limit(ngx_http_leadlist_pool_t *pool);
static ngx_http_leadlist_conn_t *ngx_http_leadlist_pool_get_idle(
    ngx_http_leadlist_pool_t *pool);
static ngx_int_t ngx_http_leadlist_pool_idle_usable(
    ngx_http_leadlist_conn_t *lc);
static ngx_int_t ngx_http_leadlist_pool_idle_alive(
    ngx_http_leadlist_conn_t *lc);
static ngx_uint_t ngx_http_leadlist_pool_expired(ngx_http_leadlist_conn_t *lc);
static ngx_uint_t ngx_http_leadlist_pool_may_connect(
    ngx_http_leadlist_pool_t *pool, ngx_uint_t waiting);
static ngx_uint_t ngx_http_leadlist_pool_admissible(
    ngx_http_leadlist_pool_t *pool, ngx_uint_t limit, ngx_uint_t waiting);
static void ngx_http_leadlist_pool_log_no_server(ngx_http_leadlist_query_t *q);
static void ngx_http_leadlist_pool_probe_handler(ngx_event_t *ev);
static void ngx_http_leadlist_pool_enqueue(ngx_http_leadlist_query_t *q);
static ngx_http_leadlist_query_t *ngx_http_leadlist_pool_next_waiter(
    ngx_http_leadlist_pool_t *pool);
static void ngx_http_leadlist_pool_dequeue(ngx_http_leadlist_query_t *q);
static void ngx_http_leadlist_pool_wait_handler(ngx_event_t *ev);
static ngx_http_leadlist_conn_t *ngx_http_leadlist_pool_get(
    ngx_http_leadlist_pool_t *pool, ngx_uint_t limit, uint64_t now);
static ngx_uint_t ngx_http_leadlist_pool_clean(ngx_http_leadlist_conn_t *lc);
static void ngx_http_leadlist_pool_keep_idle(ngx_http_leadlist_conn_t *lc);
static void ngx_http_leadlist_pool_idle_timer(ngx_http_leadlist_conn_t *lc);
static void ngx_http_leadlist_pool_idle_handler(ngx_event_t *ev);
static void ngx_http_leadlist_pool_close_idle(ngx_http_leadlist_pool_t *pool,
    ngx_http_leadlist_close_e why);
static void ngx_http_leadlist_pool_count_close(ngx_http_leadlist_conn_t *lc,
    ngx_http_leadlist_close_e why);
static void ngx_http_leadlist_pool_complete_handler(ngx_event_t *ev);
static void ngx_http_leadlist_pool_dummy_handler(ngx_event_t *ev);


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

        if (ngx_http_leadlist_query_send(lc, q) == NGX_OK) {
            return NGX_AGAIN;
        }

        /* a reused connection that cannot even send: try another */

        ngx_http_leadlist_query_lost(lc, NGX_HTTP_SERVICE_UNAVAILABLE);
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
        && ngx_http_leadlist_connect(pool) == NGX_DECLINED
        && pool->connecting == 0
        && pool->busy == 0)
    {
        /*
         * every server failed a moment ago, and no connection is busy
         * that could serve the request when it ends: fail fast, do not
         * queue
         */

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
 * A pending EOF is read through too, since the server's last words come
 * before it ("terminating connection due to administrator command"), and
 * parsing them logs them: a worker that woke late would otherwise close
 * the connection without saying why.
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

    if (lc->doomed || c->close || ngx_http_leadlist_pool_expired(lc)) {
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


/* the request ends its wait for want of a server: logged, and timed */

static void
ngx_http_leadlist_pool_log_no_server(ngx_http_leadlist_query_t *q)
{
    ngx_http_leadlist_metrics_wait_end(q);

    ngx_http_leadlist_log_error(NGX_LOG_ERR, q->request,
                                "no PostgreSQL server of upstream \"%V\" is "
                                "available", &q->conf->upstream->host);
}


/*
 * Hands free capacity to waiting queries, as far as the limit lets them
 * run: idle connections first, then new connects for those still
 * waiting.  When no server can be tried and nothing is under way (no
 * connect, no statement whose connection will come back), the waiters
 * fail at once instead of timing out.
 */

void
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
                && ngx_http_leadlist_connect(pool) == NGX_OK)
            {
                continue;
            }

            break;
        }

        q = ngx_http_leadlist_pool_next_waiter(pool);

        if (ngx_http_leadlist_query_send(lc, q) != NGX_OK) {
            ngx_http_leadlist_query_lost(lc, NGX_HTTP_SERVICE_UNAVAILABLE);
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

    /*
     * a server that refuses more connections (max_connections, a role's
     * CONNECTION LIMIT) still serves the busy ones: wait for those
     */

    if (pool->connecting || pool->busy || pool->open >= pool->conf->max) {
        return;
    }

    /* connects failed, every server waits out its backoff, none is busy */

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

    return ngx_http_leadlist_query_behind(pool, limit, now);
}


/*
 * A connection goes back only when it is known clean and within its
 * limits; anything else is closed: a ROLLBACK here would be a round trip
 * nobody awaits.  A worker that is exiting still serves its waiting
 * requests with it, and closes it only when none is left.
 */

void
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

void
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
    ngx_http_leadlist_query_ended(lc, 0);

    if (lc->query) {
        lc->query->conn = NULL;
        lc->query = NULL;
    }

    ngx_http_leadlist_query_fail_behind(lc, why);

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


/* lc's socket out of nginx, its PGconn finished */

void
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

void
ngx_http_leadlist_pool_publish(ngx_http_leadlist_pool_t *pool)
{
    ngx_http_leadlist_metrics_pool(pool->conf, pool->open, pool->nidle,
                                   pool->connecting, pool->nwaiters,
                                   pool->limit.limit);
}


void
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


/* one log line: libpq's messages end with, and may hold, newlines */

void
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
