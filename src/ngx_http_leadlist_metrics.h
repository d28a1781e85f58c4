
/*
 * Copyright (C) leadlist authors
 */


/* leadlist_metrics: every worker's pool and endpoint figures, summed. */


#ifndef _NGX_HTTP_LEADLIST_METRICS_H_INCLUDED_
#define _NGX_HTTP_LEADLIST_METRICS_H_INCLUDED_


#include "ngx_http_leadlist.h"
#include "ngx_http_leadlist_pool.h"
#include "ngx_http_leadlist_upstream.h"


/*
 * The pool reports what happens to it through the calls below; each one
 * is a few atomic adds or plain stores in shared memory, and returns at
 * once when no leadlist_metrics location is configured.  The endpoint's
 * figures need no call: a log phase handler counts every answer.
 */


/* what happens to a pool, each a counter */

typedef enum {
    NGX_HTTP_LEADLIST_EVENT_CONNECT = 0,   /* a connect started */
    NGX_HTTP_LEADLIST_EVENT_CONNECT_FAILED,
    NGX_HTTP_LEADLIST_EVENT_QUEUE_FULL,    /* refused: wait queue full */
    NGX_HTTP_LEADLIST_EVENT_WAIT_TIMEOUT,  /* see ..._metrics_wait_timeout */
    NGX_HTTP_LEADLIST_EVENT_PIPELINED,     /* sent behind another statement */

    /* a connection that was open closed, by reason */
    NGX_HTTP_LEADLIST_EVENT_CLOSED_IDLE,   /* idle too long, or surplus */
    NGX_HTTP_LEADLIST_EVENT_CLOSED_BROKEN, /* failed, or in a bad state */
    NGX_HTTP_LEADLIST_EVENT_CLOSED_LIFETIME,  /* leadlist_pg_keepalive_time */
    NGX_HTTP_LEADLIST_EVENT_CLOSED_REQUESTS,  /* ..._keepalive_requests */
    NGX_HTTP_LEADLIST_EVENT_CLOSED_EXIT,   /* the worker exits */

    NGX_HTTP_LEADLIST_EVENT_N
} ngx_http_leadlist_event_e;


extern ngx_module_t  ngx_http_leadlist_metrics_module;


/*
 * the pool's gauges in this worker, after any change to one of them:
 * connections open (idle, busy or connecting), idle, connecting, the
 * queries waiting, and the limit on open connections in force
 */
void ngx_http_leadlist_metrics_pool(ngx_http_leadlist_srv_conf_t *lscf,
    ngx_uint_t open, ngx_uint_t idle, ngx_uint_t connecting,
    ngx_uint_t waiting, ngx_uint_t limit);

void ngx_http_leadlist_metrics_event(ngx_http_leadlist_srv_conf_t *lscf,
    ngx_http_leadlist_event_e event);

/*
 * The calls below also record in q what the access log's variables
 * show, with or without metrics.
 */

/* q's wait for a connection ended, whichever way */
void ngx_http_leadlist_metrics_wait_end(ngx_http_leadlist_query_t *q);

/* q gave up waiting for a connection (leadlist_pg_queue timeout=) */
void ngx_http_leadlist_metrics_wait_timeout(ngx_http_leadlist_query_t *q);

/* q's statement was sent on a connection to server */
void ngx_http_leadlist_metrics_sent(ngx_http_leadlist_query_t *q,
    ngx_str_t *server);

/*
 * a statement ended: error is its failed result (NULL on success), broken
 * says that the connection failed under it; q is NULL when its request
 * has gone away
 */
void ngx_http_leadlist_metrics_done(ngx_http_leadlist_srv_conf_t *lscf,
    ngx_http_leadlist_query_t *q, PGresult *error, ngx_uint_t broken);


#endif /* _NGX_HTTP_LEADLIST_METRICS_H_INCLUDED_ */
