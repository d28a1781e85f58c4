
/*
 * Copyright (C) leadlist authors
 */


/*
 * A statement's exchange on a pool connection: the send, the pipeline,
 * the results read, and what a failure means for the request and for the
 * connection.
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


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <sys/ioctl.h>

#include "ngx_http_leadlist.h"
#include "ngx_http_leadlist_metrics.h"
#include "ngx_http_leadlist_limit.h"
#include "ngx_http_leadlist_pool.h"
#include "ngx_http_leadlist_conn.h"
#include "ngx_http_leadlist_upstream.h"
#include "ngx_http_leadlist_util.h"


#define NGX_HTTP_LEADLIST_DRAIN_LOOPS  64

/* read_only_sql_transaction */
#define NGX_HTTP_LEADLIST_READ_ONLY_SQL  "25006"


static ngx_int_t ngx_http_leadlist_query_flush(ngx_http_leadlist_conn_t *lc);
static ngx_int_t ngx_http_leadlist_query_append(ngx_http_leadlist_conn_t *lc,
    ngx_http_leadlist_query_t *q);
static void ngx_http_leadlist_query_promote(ngx_http_leadlist_conn_t *lc);
static void ngx_http_leadlist_query_busy_handler(ngx_event_t *ev);
static void ngx_http_leadlist_query_write_handler(ngx_event_t *ev);
static ngx_int_t ngx_http_leadlist_query_consume(ngx_http_leadlist_conn_t *lc);
static ngx_int_t ngx_http_leadlist_query_read_results(
    ngx_http_leadlist_conn_t *lc);
static ngx_uint_t ngx_http_leadlist_query_finish(ngx_http_leadlist_conn_t *lc,
    ngx_uint_t fresh);
static void ngx_http_leadlist_query_fail(ngx_http_leadlist_conn_t *lc,
    ngx_uint_t status, const char *why);
static ngx_uint_t ngx_http_leadlist_query_failed(ngx_http_leadlist_conn_t *lc);


/* SQLSTATEs, or their classes, that a retry may cure */

static ngx_str_t  ngx_http_leadlist_query_retryable[] = {
    ngx_string("08"),       /* connection_exception */
    ngx_string("57P"),      /* admin_shutdown, crash_shutdown, ... */
    ngx_string("53300"),    /* too_many_connections */
    ngx_string("40001"),    /* serialization_failure */
    ngx_string("40P01"),    /* deadlock_detected */
    ngx_string("57014")     /* query_canceled: the statement_timeout */
};


/*
 * The first statement on a connection goes as Parse + Bind/Execute +
 * Sync in one pipeline, later ones as Bind/Execute + Sync: one round
 * trip either way.  With leadlist_pg_pipeline above 1 every statement
 * goes in pipeline mode, so that others may follow it before it ends.
 */

ngx_int_t
ngx_http_leadlist_query_send(ngx_http_leadlist_conn_t *lc,
    ngx_http_leadlist_query_t *q)
{
    PGconn            *pg;
    ngx_connection_t  *c;

    if (lc->running) {
        return ngx_http_leadlist_query_append(lc, q);
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
    c->read->handler = ngx_http_leadlist_query_busy_handler;
    c->write->handler = ngx_http_leadlist_query_write_handler;

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

    if (ngx_http_leadlist_query_flush(lc) == NGX_ERROR) {
        ngx_del_timer(c->read);
        goto failed;
    }

    ngx_http_leadlist_metrics_sent(q, &lc->host->name);
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
ngx_http_leadlist_query_flush(ngx_http_leadlist_conn_t *lc)
{
    int  rc;

    rc = PQflush(lc->pg);

    if (rc == -1) {
        return NGX_ERROR;
    }

    lc->flushing = (rc == 1);

    if (lc->flushing) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, lc->connection->log, 0,
                       "leadlist flush: more to send, waiting to write");
    }

    return NGX_OK;
}


/*
 * The busy connection with the fewest statements behind its own, among
 * those with room whose statement has run no longer than 4 times the
 * base (2 ms at least): a statement behind a slow one would wait for it.
 * Not one whose server has closed its end: a send there would find the
 * EOF, and libpq would drop its queue before the results it holds are
 * read.  None while more connections are busy than the limit allows: a busy
 * connection that always takes the next statement never goes idle, and
 * a limit that fell would never take effect.  now is read once per run
 * or dispatch, so that a statement it sent itself counts as young
 * however long the loop took.
 */

ngx_http_leadlist_conn_t *
ngx_http_leadlist_query_behind(ngx_http_leadlist_pool_t *pool,
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
            || lc->connection->read->pending_eof
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
ngx_http_leadlist_query_append(ngx_http_leadlist_conn_t *lc,
    ngx_http_leadlist_query_t *q)
{
    ngx_http_leadlist_behind_t  *b;

    if (!PQsendQueryPrepared(lc->pg, q->stmt->name, q->stmt->nparams,
                             q->values, NULL, NULL, 0)
        || !PQpipelineSync(lc->pg)
        || ngx_http_leadlist_query_flush(lc) == NGX_ERROR)
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

    ngx_http_leadlist_metrics_sent(q, &lc->host->name);
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
ngx_http_leadlist_query_promote(ngx_http_leadlist_conn_t *lc)
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
ngx_http_leadlist_query_busy_handler(ngx_event_t *ev)
{
    ngx_int_t                  status;
    ngx_uint_t                 fresh;
    ngx_connection_t          *c, *rc;
    ngx_http_leadlist_conn_t  *lc;

    c = ev->data;
    lc = c->data;
    rc = lc->query ? lc->query->request->connection : NULL;

    /*
     * the server's statement_timeout did not end it in time: a frozen or
     * overloaded server, or a network that holds the answer.  Closing
     * does not stop a statement the server still runs: it may commit.
     */

    if (c->read->timedout) {
        c->read->timedout = 0;
        ngx_http_leadlist_query_fail(lc, NGX_HTTP_SERVICE_UNAVAILABLE,
                                    "query timed out, the server did not "
                                    "cancel it in time (it may still run "
                                    "and commit)");
        goto done;
    }

    /*
     * a pipeline's later results may have come with the first: only the
     * first read is a sample, the others' turn on the backend began
     * before the read of the one ahead of them
     */

    fresh = 1;

    for ( ;; ) {
        status = ngx_http_leadlist_query_consume(lc);

        if (status == NGX_ERROR) {
            ngx_http_leadlist_query_fail(lc, NGX_HTTP_SERVICE_UNAVAILABLE,
                                        PQerrorMessage(lc->pg));
            break;
        }

        if (status == NGX_AGAIN
            || !ngx_http_leadlist_query_finish(lc, fresh))
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
ngx_http_leadlist_query_write_handler(ngx_event_t *ev)
{
    ngx_connection_t          *c;
    ngx_http_leadlist_conn_t  *lc;

    c = ev->data;
    lc = c->data;

    if (lc->flushing) {
        ngx_http_leadlist_query_busy_handler(ev);
    }
}


/*
 * Reads until the statement's results are complete (NGX_OK) or the
 * kernel has nothing more (NGX_AGAIN).  What libpq holds already is
 * parsed before it reads or writes again: the results of statements
 * behind this one may have come with its own, libpq reads while it waits
 * to write a statement that did not fit in the socket, and a read that
 * finds the server gone drops libpq's queue of the pipeline's
 * statements, after which their results, committed, could no longer be
 * told apart.  The rest of a statement being sent goes next.  With
 * edge-triggered events a single PQconsumeInput() may leave bytes that
 * no new event announces, and an EOF too: a server that exits sends its
 * last words and its FIN together, and the read that returns the words
 * stops there.
 */

static ngx_int_t
ngx_http_leadlist_query_consume(ngx_http_leadlist_conn_t *lc)
{
    int         avail;
    ngx_int_t   rc;
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_LEADLIST_DRAIN_LOOPS; i++) {

        rc = ngx_http_leadlist_query_read_results(lc);
        if (rc != NGX_AGAIN) {
            return rc;
        }

        if (lc->flushing && ngx_http_leadlist_query_flush(lc) != NGX_OK) {
            return NGX_ERROR;
        }

        if (i > 0
            && (ioctl(lc->connection->fd, FIONREAD, &avail) == -1
                || (avail == 0 && !lc->connection->read->pending_eof)))
        {
            return NGX_AGAIN;
        }

        if (!PQconsumeInput(lc->pg)) {
            return NGX_ERROR;
        }
    }

    /* a flood of input: let others run, come back from the posted queue */

    ngx_post_event(lc->connection->read, &ngx_posted_events);

    return NGX_AGAIN;
}


static ngx_int_t
ngx_http_leadlist_query_read_results(ngx_http_leadlist_conn_t *lc)
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
ngx_http_leadlist_query_finish(ngx_http_leadlist_conn_t *lc, ngx_uint_t fresh)
{
    ngx_uint_t                  status;
    ngx_http_leadlist_query_t  *q;

    if (lc->connection->read->timer_set) {
        ngx_del_timer(lc->connection->read);
    }

    /* a failed statement's time says nothing of the database's load */

    ngx_http_leadlist_query_ended(lc,
                                 fresh && lc->error == NULL && lc->result);

    q = lc->query;
    status = 0;

    ngx_http_leadlist_metrics_done(lc->pool->conf, q, lc->error, 0);

    if (lc->error) {
        status = ngx_http_leadlist_query_failed(lc);

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
        ngx_http_leadlist_query_promote(lc);
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

void
ngx_http_leadlist_query_ended(ngx_http_leadlist_conn_t *lc, ngx_uint_t sample)
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


/*
 * The connection is in an unknown state: close it, answer the requests.
 * The server's own error, when one came ("terminating connection due to
 * administrator command"), says more than libpq's "server closed the
 * connection".  A statement whose result came, but not the ReadyForQuery
 * of its Sync, may have committed: its implicit transaction commits
 * between the two.  It answers 503 all the same (SPEC 1.6: a retry with
 * the same Idempotency-Key is safe), and the log says which it was.
 */

static void
ngx_http_leadlist_query_fail(ngx_http_leadlist_conn_t *lc, ngx_uint_t status,
    const char *why)
{
    const char                *what;
    ngx_http_leadlist_pool_t  *pool;

    pool = lc->pool;
    what = "connection failed";

    if (lc->running && lc->result) {
        what = "connection failed after the statement's result, before its "
               "commit was confirmed (it may have committed)";
    }

    if (lc->error) {
        why = PQresultErrorMessage(lc->error);
    }

    ngx_http_leadlist_pool_log(lc, NGX_LOG_ERR, what, why);
    ngx_http_leadlist_query_lost(lc, status);
    ngx_http_leadlist_pool_dispatch(pool);
}


/*
 * A broken connection is closed: the close ends its statement and times
 * it, and fails those behind; the statement it ran, if any, answers
 * status.
 */

void
ngx_http_leadlist_query_lost(ngx_http_leadlist_conn_t *lc, ngx_uint_t status)
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
ngx_http_leadlist_query_failed(ngx_http_leadlist_conn_t *lc)
{
    char        *state;
    u_char       buf[sizeof("statement failed, SQLSTATE 12345")], *p;
    const char  *what;
    ngx_uint_t   i;

    state = PQresultErrorField(lc->error, PG_DIAG_SQLSTATE);
    what = "statement failed";

    /* the code tells an operator what the message may not, in any locale */

    if (state) {
        p = ngx_snprintf(buf, sizeof(buf) - 1, "statement failed, SQLSTATE %s",
                         state);
        *p = '\0';
        what = (const char *) buf;
    }

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

    for (i = 0; i < sizeof(ngx_http_leadlist_query_retryable)
                    / sizeof(ngx_str_t); i++)
    {
        if (ngx_strncmp(state, ngx_http_leadlist_query_retryable[i].data,
                        ngx_http_leadlist_query_retryable[i].len)
            == 0)
        {
            return NGX_HTTP_SERVICE_UNAVAILABLE;
        }
    }

    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}


/*
 * The statements sent behind the one lc ran go with it: each request
 * hears 503 (a retry is safe, SPEC 1.6) and logs why; a worker that exits
 * only unlinks them, as it does the running one.
 */

void
ngx_http_leadlist_query_fail_behind(ngx_http_leadlist_conn_t *lc,
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
