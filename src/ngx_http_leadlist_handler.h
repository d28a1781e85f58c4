
/*
 * Copyright (C) leadlist authors
 */


/* The endpoint's content handler: HTTP checks, body, outcome to answer. */


#ifndef _NGX_HTTP_LEADLIST_HANDLER_H_INCLUDED_
#define _NGX_HTTP_LEADLIST_HANDLER_H_INCLUDED_


#include "ngx_http_leadlist.h"


ngx_int_t ngx_http_leadlist_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_leadlist_handler_init(ngx_conf_t *cf);


#endif /* _NGX_HTTP_LEADLIST_HANDLER_H_INCLUDED_ */
