
/*
 * Copyright (C) leadlist authors
 */


/*
 * A pool's connections as its three files see them: the pool itself
 * (ngx_http_leadlist_pool.c: admission, the wait queue, idle connections,
 * close), the connect (ngx_http_leadlist_connect.c) and a statement's
 * exchange on a connection (ngx_http_leadlist_query.c).  Nothing else
 * includes this header.
 */


#ifndef _NGX_HTTP_LEADLIST_CONN_H_INCLUDED_
#define _NGX_HTTP_LEADLIST_CONN_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_leadlist.h"
#include "ngx_http_leadlist_limit.h"
#include "ngx_http_leadlist_pool.h"


#define NGX_HTTP_LEADLIST_CONNECTING  0
#define NGX_HTTP_LEADLIST_IDLE        1
#define NGX_HTTP_LEADLIST_BUSY        2
#define NGX_HTTP_LEADLIST_DRAINING    3

#define NGX_HTTP_LEADLIST_BEHIND_MAX  15     /* leadlist_pg_pipeline 16 */


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


/* ngx_http_leadlist_pool.c */

void ngx_http_leadlist_pool_dispatch(ngx_http_leadlist_pool_t *pool);
void ngx_http_leadlist_pool_release(ngx_http_leadlist_conn_t *lc);
void ngx_http_leadlist_pool_close(ngx_http_leadlist_conn_t *lc,
    ngx_http_leadlist_close_e why);
void ngx_http_leadlist_pool_unwire(ngx_http_leadlist_conn_t *lc);
void ngx_http_leadlist_pool_publish(ngx_http_leadlist_pool_t *pool);
void ngx_http_leadlist_pool_complete(ngx_http_leadlist_query_t *q,
    ngx_uint_t status);
void ngx_http_leadlist_pool_log(ngx_http_leadlist_conn_t *lc,
    ngx_uint_t level, const char *what, const char *msg);

/* ngx_http_leadlist_connect.c: NGX_OK, a connect started */

ngx_int_t ngx_http_leadlist_connect(ngx_http_leadlist_pool_t *pool);

/* ngx_http_leadlist_query.c */

ngx_int_t ngx_http_leadlist_query_send(ngx_http_leadlist_conn_t *lc,
    ngx_http_leadlist_query_t *q);
ngx_http_leadlist_conn_t *ngx_http_leadlist_query_behind(
    ngx_http_leadlist_pool_t *pool, ngx_uint_t limit, uint64_t now);
void ngx_http_leadlist_query_lost(ngx_http_leadlist_conn_t *lc,
    ngx_uint_t status);
void ngx_http_leadlist_query_ended(ngx_http_leadlist_conn_t *lc,
    ngx_uint_t sample);
void ngx_http_leadlist_query_fail_behind(ngx_http_leadlist_conn_t *lc,
    ngx_http_leadlist_close_e why);


#endif /* _NGX_HTTP_LEADLIST_CONN_H_INCLUDED_ */
