
/*
 * Copyright (C) leadlist authors
 */


#ifndef _NGX_HTTP_LEADLIST_RESPONSE_H_INCLUDED_
#define _NGX_HTTP_LEADLIST_RESPONSE_H_INCLUDED_


#include "ngx_http_leadlist.h"


typedef struct {
    ngx_list_part_t              *part;       /* NULL: from the start */
    ngx_uint_t                    i;
} ngx_http_leadlist_header_pos_t;


ngx_int_t ngx_http_leadlist_response_init_filters(ngx_conf_t *cf);
ngx_int_t ngx_http_leadlist_send_added(ngx_http_request_t *r,
    ngx_uint_t count);
ngx_int_t ngx_http_leadlist_send_error(ngx_http_request_t *r,
    ngx_uint_t status, const char *message,
    ngx_http_leadlist_detail_t *details, ngx_uint_t ndetails);
ngx_http_leadlist_ctx_t *ngx_http_leadlist_get_ctx(ngx_http_request_t *r);
ngx_str_t *ngx_http_leadlist_request_id(ngx_http_request_t *r);
ngx_table_elt_t *ngx_http_leadlist_header_next(ngx_list_t *headers,
    ngx_str_t *name, ngx_http_leadlist_header_pos_t *pos);


#endif /* _NGX_HTTP_LEADLIST_RESPONSE_H_INCLUDED_ */
