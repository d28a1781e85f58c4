
/*
 * Copyright (C) leadlist authors
 */


#ifndef _NGX_HTTP_LEADLIST_H_INCLUDED_
#define _NGX_HTTP_LEADLIST_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <libpq-fe.h>

#include "ngx_http_leadlist_body.h"
#include "ngx_http_leadlist_syntax.h"


typedef struct ngx_http_leadlist_pool_s  ngx_http_leadlist_pool_t;


/* one leadlist_pg_server line: libpq keywords resolved at config time */

typedef struct {
    const char                  **keywords;
    const char                  **values;
    ngx_str_t                     name;       /* host:port/db, no secrets */

    ngx_uint_t                    fails;      /* runtime, per worker */
    ngx_msec_t                    retry_at;
} ngx_http_leadlist_server_t;


/* an upstream {} block that holds leadlist_pg_server lines */

typedef struct {
    ngx_array_t                  *servers;    /* ngx_http_leadlist_server_t */

    ngx_uint_t                    keepalive;
    ngx_uint_t                    max;
    ngx_uint_t                    queue;
    ngx_uint_t                    connect_concurrency;
    ngx_uint_t                    keepalive_requests;

    ngx_msec_t                    queue_timeout;
    ngx_msec_t                    connect_timeout;
    ngx_msec_t                    query_timeout;
    ngx_msec_t                    keepalive_timeout;
    ngx_msec_t                    keepalive_time;

    ngx_http_upstream_srv_conf_t *upstream;
    ngx_http_leadlist_pool_t     *pool;       /* per worker */
} ngx_http_leadlist_srv_conf_t;


typedef struct {
    ngx_array_t                   upstreams;  /* of srv conf pointers */
    ngx_int_t                     request_id_index;
} ngx_http_leadlist_main_conf_t;


typedef struct {
    ngx_http_upstream_srv_conf_t *upstream;   /* NULL: not an endpoint */
    ngx_http_complex_value_t     *list_id;

    ngx_str_t                     auth_uri;
    ngx_str_t                     user_header;
    ngx_str_t                     org_header;
    ngx_str_t                     role_header;

    ngx_uint_t                    max_persons;
    ngx_uint_t                    max_selection;
    off_t                         max_body;   /* client_max_body_size */

    u_char                       *file;       /* where the endpoint is */
    ngx_uint_t                    line;
} ngx_http_leadlist_loc_conf_t;


typedef enum {
    NGX_HTTP_LEADLIST_AUTH_NONE = 0,
    NGX_HTTP_LEADLIST_AUTH_PENDING,
    NGX_HTTP_LEADLIST_AUTH_OK,
    NGX_HTTP_LEADLIST_AUTH_DENIED,
    NGX_HTTP_LEADLIST_AUTH_NO_ORG,
    NGX_HTTP_LEADLIST_AUTH_FAILED
} ngx_http_leadlist_auth_e;


typedef struct ngx_http_leadlist_query_s  ngx_http_leadlist_query_t;


typedef struct {
    ngx_http_request_t           *request;

    ngx_http_leadlist_auth_e      auth;
    ngx_http_request_t           *subrequest;
    ngx_uint_t                    auth_status;

    ngx_str_t                     user_id;    /* NUL-terminated */
    ngx_str_t                     org_id;     /* NUL-terminated */
    ngx_str_t                     list_id;    /* NUL-terminated */
    ngx_str_t                     request_id;

    ngx_http_leadlist_query_t    *query;
    ngx_buf_t                    *replace;    /* JSON for nginx's error */
    off_t                         received;

    unsigned                      is_admin:1;
    unsigned                      responded:1;
} ngx_http_leadlist_ctx_t;


extern ngx_module_t  ngx_http_leadlist_module;


#endif /* _NGX_HTTP_LEADLIST_H_INCLUDED_ */
