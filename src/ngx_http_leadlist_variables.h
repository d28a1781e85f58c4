
/*
 * Copyright (C) leadlist authors
 */


/* The embedded variables of the access log: who, what, what it cost. */


#ifndef _NGX_HTTP_LEADLIST_VARIABLES_H_INCLUDED_
#define _NGX_HTTP_LEADLIST_VARIABLES_H_INCLUDED_


#include "ngx_http_leadlist.h"
#include "ngx_http_leadlist_statement.h"


ngx_int_t ngx_http_leadlist_variables_add(ngx_conf_t *cf);

/* what the statement answered r, for the variables and the metrics */
void ngx_http_leadlist_variables_set_result(ngx_http_request_t *r,
    ngx_http_leadlist_result_t *result);

/* the response status as $status reports it (0 before any) */
ngx_uint_t ngx_http_leadlist_variables_status(ngx_http_request_t *r);


#endif /* _NGX_HTTP_LEADLIST_VARIABLES_H_INCLUDED_ */
