
/*
 * Copyright (C) leadlist authors
 */


#ifndef _NGX_HTTP_LEADLIST_PG_H_INCLUDED_
#define _NGX_HTTP_LEADLIST_PG_H_INCLUDED_


#include "ngx_http_leadlist.h"


#define NGX_HTTP_LEADLIST_MAX_PARAMS  8


typedef struct ngx_http_leadlist_conn_s  ngx_http_leadlist_conn_t;

typedef void (*ngx_http_leadlist_query_handler_pt)(
    ngx_http_leadlist_query_t *q);


/* a statement known at build time, prepared once per connection */

typedef struct {
    const char                         *name;
    const char                         *sql;
    int                                 nparams;
} ngx_http_leadlist_stmt_t;


struct ngx_http_leadlist_query_s {
    ngx_http_request_t                 *request;
    ngx_http_leadlist_srv_conf_t       *conf;
    ngx_http_leadlist_stmt_t           *stmt;
    const char                         *values[NGX_HTTP_LEADLIST_MAX_PARAMS];
    ngx_http_leadlist_query_handler_pt  handler;

    PGresult                           *result;   /* when status is 0 */
    ngx_uint_t                          status;   /* else 500 or 503 */

    ngx_http_leadlist_conn_t           *conn;
    ngx_queue_t                         queue;    /* in the wait queue */
    ngx_event_t                         event;    /* wait timer, done */
    unsigned                            queued:1;
    unsigned                            reused:1;
};


ngx_int_t ngx_http_leadlist_pg_init_pool(ngx_cycle_t *cycle,
    ngx_http_leadlist_srv_conf_t *lscf);
void ngx_http_leadlist_pg_close_pool(ngx_http_leadlist_srv_conf_t *lscf);
ngx_int_t ngx_http_leadlist_pg_run(ngx_http_leadlist_query_t *q);
void ngx_http_leadlist_pg_detach(ngx_http_leadlist_query_t *q);


#endif /* _NGX_HTTP_LEADLIST_PG_H_INCLUDED_ */
