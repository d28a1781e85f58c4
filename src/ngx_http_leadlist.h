
/*
 * Copyright (C) leadlist authors
 */


/* What every file of the module shares: its confs and the request ctx. */


#ifndef _NGX_HTTP_LEADLIST_H_INCLUDED_
#define _NGX_HTTP_LEADLIST_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


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
    time_t                        idem_ttl;   /* seconds */
    ngx_uint_t                    client_log_level;  /* of 4xx lines */
    off_t                         max_body;   /* client_max_body_size */
    u_char                       *file;       /* where the endpoint is */
    ngx_uint_t                    line;
    ngx_http_core_loc_conf_t     *core;       /* the same level's, merged */
} ngx_http_leadlist_loc_conf_t;


typedef enum {
    NGX_HTTP_LEADLIST_AUTH_NONE = 0,
    NGX_HTTP_LEADLIST_AUTH_PENDING,
    NGX_HTTP_LEADLIST_AUTH_OK,
    NGX_HTTP_LEADLIST_AUTH_DENIED,
    NGX_HTTP_LEADLIST_AUTH_NO_ORG,
    NGX_HTTP_LEADLIST_AUTH_FAILED
} ngx_http_leadlist_auth_e;


/* one run of a statement (ngx_http_leadlist_pool.h) */

typedef struct ngx_http_leadlist_query_s  ngx_http_leadlist_query_t;


/* one per main request of an endpoint location, from the access phase */

typedef struct {
    ngx_http_request_t           *request;
    ngx_http_leadlist_auth_e      auth;
    ngx_http_request_t           *subrequest;
    ngx_uint_t                    auth_status;
    ngx_str_t                     user_id;    /* NUL-terminated */
    ngx_str_t                     org_id;     /* NUL-terminated */
    ngx_str_t                     list_id;    /* NUL-terminated */
    ngx_str_t                     request_id;
    ngx_buf_t                    *replace;    /* JSON for nginx's error */
    off_t                         received;
    ngx_str_t                     idem_key;   /* NUL-terminated, or
                                                 NULL: no key */
    ngx_uint_t                    prefer;     /* PREFER_* asked for */

    /* for the access log's variables and the metrics */
    ngx_http_leadlist_query_t    *query;      /* the statement's */
    ngx_str_t                     outcome;    /* static */
    ngx_uint_t                    added;      /* when counted */
    ngx_uint_t                    selected;

    unsigned                      is_admin:1;
    unsigned                      responded:1;
    unsigned                      counted:1;  /* a 200 of the statement
                                                 now, not a replay */
    unsigned                      replayed:1; /* a recorded answer */
} ngx_http_leadlist_ctx_t;


extern ngx_module_t  ngx_http_leadlist_module;


#endif /* _NGX_HTTP_LEADLIST_H_INCLUDED_ */
