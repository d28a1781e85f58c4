
/*
 * Copyright (C) leadlist authors
 */


#ifndef _NGX_HTTP_LEADLIST_RESPONSE_H_INCLUDED_
#define _NGX_HTTP_LEADLIST_RESPONSE_H_INCLUDED_


#include "ngx_http_leadlist.h"


ngx_int_t ngx_http_leadlist_response_init_filters(ngx_conf_t *cf);
ngx_int_t ngx_http_leadlist_send_added(ngx_http_request_t *r,
    ngx_uint_t count);
ngx_int_t ngx_http_leadlist_send_error(ngx_http_request_t *r,
    ngx_uint_t status, const char *message,
    ngx_http_leadlist_detail_t *details, ngx_uint_t ndetails);
ngx_http_leadlist_ctx_t *ngx_http_leadlist_get_ctx(ngx_http_request_t *r);
ngx_str_t *ngx_http_leadlist_request_id(ngx_http_request_t *r);


#endif /* _NGX_HTTP_LEADLIST_RESPONSE_H_INCLUDED_ */
