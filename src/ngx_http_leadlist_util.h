
/*
 * Copyright (C) leadlist authors
 */


/* Small helpers every concern uses: ctx, request id, headers, log, conf. */


#ifndef _NGX_HTTP_LEADLIST_UTIL_H_INCLUDED_
#define _NGX_HTTP_LEADLIST_UTIL_H_INCLUDED_


#include "ngx_http_leadlist.h"


typedef struct {
    ngx_list_part_t              *part;       /* NULL: from the start */
    ngx_uint_t                    i;
} ngx_http_leadlist_header_pos_t;


ngx_http_leadlist_ctx_t *ngx_http_leadlist_get_ctx(ngx_http_request_t *r);
ngx_str_t *ngx_http_leadlist_request_id(ngx_http_request_t *r);
ngx_table_elt_t *ngx_http_leadlist_header_next(ngx_list_t *headers,
    ngx_str_t *name, ngx_http_leadlist_header_pos_t *pos);
void ngx_http_leadlist_log_error(ngx_uint_t level, ngx_http_request_t *r,
    const char *fmt, ...);
char *ngx_http_leadlist_conf_set_num_slot(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_leadlist_conf_set_sec_slot(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_leadlist_conf_check_bounds(ngx_conf_t *cf, void *post,
    void *data);


#endif /* _NGX_HTTP_LEADLIST_UTIL_H_INCLUDED_ */
