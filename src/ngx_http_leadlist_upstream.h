
/*
 * Copyright (C) leadlist authors
 */


/* The leadlist_pg_* upstream blocks: directives, conninfo, pools' birth. */


#ifndef _NGX_HTTP_LEADLIST_UPSTREAM_H_INCLUDED_
#define _NGX_HTTP_LEADLIST_UPSTREAM_H_INCLUDED_


#include "ngx_http_leadlist.h"


typedef struct ngx_http_leadlist_pool_s  ngx_http_leadlist_pool_t;


/*
 * One host of a leadlist_pg_server line, as libpq is asked to connect to
 * it: a line that lists several hosts is split into one each, so that
 * the module's connect timeout ends the attempt on one host, not on all.
 */

typedef struct {
    const char                  **keywords;   /* libpq's, completed */
    const char                  **values;
    ngx_str_t                     name;       /* host:port/db, no secrets */
    ngx_uint_t                    fails;      /* runtime, per worker */
    ngx_msec_t                    retry_at;
} ngx_http_leadlist_host_t;


/* one leadlist_pg_server line */

typedef struct {
    ngx_array_t                  *conninfo;   /* ngx_keyval_t, as written */
    ngx_http_leadlist_host_t     *hosts;      /* in the order tried */
    ngx_uint_t                    nhosts;
    ngx_str_t                     name;       /* host:port/db, no secrets */
    u_char                       *file_name;  /* where the line is, for */
    ngx_uint_t                    line;       /* errors found later */
} ngx_http_leadlist_server_t;


/* an upstream {} block that holds leadlist_pg_server lines */

typedef struct {
    ngx_array_t                  *servers;    /* ngx_http_leadlist_server_t */
    ngx_uint_t                    keepalive;
    ngx_uint_t                    max;
    ngx_uint_t                    pipeline;   /* statements per connection */
    ngx_uint_t                    queue;
    ngx_uint_t                    connect_concurrency;
    ngx_uint_t                    keepalive_requests;
    ngx_flag_t                    adaptive;
    unsigned                      foreign:1;  /* another init_upstream */
    ngx_msec_t                    queue_timeout;
    ngx_msec_t                    connect_timeout;
    ngx_msec_t                    query_timeout;
    ngx_msec_t                    idle_timeout;
    ngx_msec_t                    keepalive_time;
    ngx_http_upstream_srv_conf_t *upstream;
    ngx_http_leadlist_pool_t     *pool;       /* per worker */
} ngx_http_leadlist_srv_conf_t;


void *ngx_http_leadlist_upstream_create_conf(ngx_conf_t *cf);
char *ngx_http_leadlist_upstream_server(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_leadlist_upstream_queue(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_leadlist_upstream_set_num_slot(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);

/* the upstream an endpoint names, found or reserved: it may come later */
ngx_http_upstream_srv_conf_t *ngx_http_leadlist_upstream_add(ngx_conf_t *cf,
    ngx_str_t *name);

ngx_int_t ngx_http_leadlist_upstream_init_process(ngx_cycle_t *cycle);
void ngx_http_leadlist_upstream_exit_process(ngx_cycle_t *cycle);


#endif /* _NGX_HTTP_LEADLIST_UPSTREAM_H_INCLUDED_ */
