
/*
 * Copyright (C) leadlist authors
 */


/* A worker's PostgreSQL connections of one upstream, and its wait queue. */


#ifndef _NGX_HTTP_LEADLIST_POOL_H_INCLUDED_
#define _NGX_HTTP_LEADLIST_POOL_H_INCLUDED_


#include <libpq-fe.h>

#include "ngx_http_leadlist.h"
#include "ngx_http_leadlist_upstream.h"


typedef struct ngx_http_leadlist_conn_s   ngx_http_leadlist_conn_t;

typedef void (*ngx_http_leadlist_query_handler_pt)(
    ngx_http_leadlist_query_t *q);


/* a statement known at build time, prepared once per connection */

typedef struct {
    const char                         *name;
    const char                         *sql;
    int                                 nparams;
} ngx_http_leadlist_stmt_t;


/*
 * One run of a statement for a request.  The pool calls handler once,
 * from a posted event, with result (status 0) or status 500 or 503;
 * result then belongs to whoever owns the query.
 */

struct ngx_http_leadlist_query_s {
    ngx_http_request_t                 *request;
    ngx_http_leadlist_srv_conf_t       *conf;
    ngx_http_leadlist_stmt_t           *stmt;
    const char *const                  *values;   /* stmt->nparams */
    ngx_http_leadlist_query_handler_pt  handler;
    void                               *data;
    PGresult                           *result;   /* when status is 0 */
    ngx_uint_t                          status;   /* else 500 or 503 */
    ngx_http_leadlist_conn_t           *conn;
    ngx_queue_t                         queue;    /* in the wait queue */
    ngx_event_t                         event;    /* wait timer, done */

    /* for the access log and the metrics (ngx_http_leadlist_metrics.c) */
    ngx_msec_t                          start;    /* asked for a connection */
    ngx_msec_t                          wait_time;
    uint64_t                            statement_time;  /* microseconds */
    ngx_str_t                          *server;   /* that ran it */

    unsigned                            queued:1;
    unsigned                            reused:1;
    unsigned                            waited:1;  /* wait_time is known */
    unsigned                            timed:1;   /* statement_time is */
};


ngx_int_t ngx_http_leadlist_pool_create(ngx_cycle_t *cycle,
    ngx_http_leadlist_srv_conf_t *lscf);
void ngx_http_leadlist_pool_destroy(ngx_http_leadlist_srv_conf_t *lscf);

/* NGX_AGAIN: q->handler will be called; else the HTTP status to answer */
ngx_int_t ngx_http_leadlist_pool_run(ngx_http_leadlist_query_t *q);

/* the request is going away: forget it everywhere, whatever its state */
void ngx_http_leadlist_pool_detach(ngx_http_leadlist_query_t *q);


#endif /* _NGX_HTTP_LEADLIST_POOL_H_INCLUDED_ */
