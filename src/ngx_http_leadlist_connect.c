
/*
 * Copyright (C) leadlist authors
 */


/*
 * A pool's connect: the servers in turn, each server's hosts in the order
 * of its conninfo with a backoff for a host that failed, and libpq's
 * connect (TCP, TLS, SCRAM) driven by nginx events.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_leadlist.h"
#include "ngx_http_leadlist_metrics.h"
#include "ngx_http_leadlist_pool.h"
#include "ngx_http_leadlist_conn.h"
#include "ngx_http_leadlist_upstream.h"


#define NGX_HTTP_LEADLIST_BACKOFF_MIN  50
#define NGX_HTTP_LEADLIST_BACKOFF_MAX  1000


static ngx_int_t ngx_http_leadlist_connect_host(ngx_http_leadlist_conn_t *lc);
static ngx_http_leadlist_server_t *ngx_http_leadlist_connect_next_server(
    ngx_http_leadlist_pool_t *pool);
static ngx_http_leadlist_host_t *ngx_http_leadlist_connect_next_host(
    ngx_http_leadlist_server_t *server, ngx_http_leadlist_host_t *after);
static ngx_int_t ngx_http_leadlist_connect_register(
    ngx_http_leadlist_conn_t *lc);
static void ngx_http_leadlist_connect_handler(ngx_event_t *ev);
static void ngx_http_leadlist_connect_failed(ngx_http_leadlist_conn_t *lc,
    const char *why);
static void ngx_http_leadlist_connect_host_failed(ngx_http_leadlist_conn_t *lc,
    const char *why);
static void ngx_http_leadlist_connect_notice(void *arg, const PGresult *res);


/* NGX_OK: a connect started; NGX_DECLINED: no server to try now */

ngx_int_t
ngx_http_leadlist_connect(ngx_http_leadlist_pool_t *pool)
{
    ngx_http_leadlist_conn_t    *lc;
    ngx_http_leadlist_server_t  *server;

    for ( ;; ) {
        server = ngx_http_leadlist_connect_next_server(pool);
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

        if (ngx_http_leadlist_connect_host(lc) == NGX_OK) {
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
ngx_http_leadlist_connect_host(ngx_http_leadlist_conn_t *lc)
{
    PGconn                    *pg;
    ngx_http_leadlist_host_t  *host;

    for ( ;; ) {
        host = ngx_http_leadlist_connect_next_host(lc->server, lc->host);

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
            && ngx_http_leadlist_connect_register(lc) == NGX_OK)
        {
            PQsetNoticeReceiver(pg, ngx_http_leadlist_connect_notice, lc);

            ngx_log_debug2(NGX_LOG_DEBUG_HTTP, lc->pool->log, 0,
                           "leadlist connect %V fd:%d", &host->name,
                           lc->connection->fd);

            return NGX_OK;
        }

        ngx_http_leadlist_connect_host_failed(lc, "could not start");
    }
}


/* round robin over the servers that have a host out of its backoff */

static ngx_http_leadlist_server_t *
ngx_http_leadlist_connect_next_server(ngx_http_leadlist_pool_t *pool)
{
    ngx_uint_t                   i, n;
    ngx_http_leadlist_server_t  *server;

    server = pool->conf->servers->elts;
    n = pool->conf->servers->nelts;

    for (i = 0; i < n; i++) {
        pool->next = (pool->next + 1) % n;

        if (ngx_http_leadlist_connect_next_host(&server[pool->next], NULL)) {
            return &server[pool->next];
        }
    }

    return NULL;
}


static ngx_http_leadlist_host_t *
ngx_http_leadlist_connect_next_host(ngx_http_leadlist_server_t *server,
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
ngx_http_leadlist_connect_register(ngx_http_leadlist_conn_t *lc)
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

    c->read->handler = ngx_http_leadlist_connect_handler;
    c->write->handler = ngx_http_leadlist_connect_handler;
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
ngx_http_leadlist_connect_handler(ngx_event_t *ev)
{
    ngx_connection_t          *c;
    ngx_http_leadlist_conn_t  *lc;
    PostgresPollingStatusType  st;

    c = ev->data;
    lc = c->data;

    if (c->read->timedout) {
        ngx_http_leadlist_connect_failed(lc, "timed out");
        return;
    }

    /* libpq takes a poll in CONNECTION_STARTED as "connect() finished" */

    if (PQstatus(lc->pg) == CONNECTION_STARTED && !ev->write) {
        return;
    }

    for ( ;; ) {
        st = PQconnectPoll(lc->pg);

        if (st == PGRES_POLLING_FAILED) {
            ngx_http_leadlist_connect_failed(lc, PQerrorMessage(lc->pg));
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

            if (ngx_http_leadlist_connect_register(lc) != NGX_OK) {
                ngx_http_leadlist_connect_failed(lc,
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
ngx_http_leadlist_connect_failed(ngx_http_leadlist_conn_t *lc,
    const char *why)
{
    ngx_http_leadlist_pool_t  *pool;

    pool = lc->pool;

    ngx_http_leadlist_connect_host_failed(lc, why);

    if (ngx_http_leadlist_connect_host(lc) == NGX_OK) {
        return;
    }

    ngx_http_leadlist_pool_dispatch(pool);
}


/* the host is left alone for a backoff; lc keeps no socket, no PGconn */

static void
ngx_http_leadlist_connect_host_failed(ngx_http_leadlist_conn_t *lc,
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
 * libpq prints notices to stderr by default.  A FATAL notice on an idle
 * connection (pg_terminate_backend) means it is dead even while libpq
 * still says CONNECTION_OK.
 */

static void
ngx_http_leadlist_connect_notice(void *arg, const PGresult *res)
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
