
/*
 * Copyright (C) leadlist authors
 */


/* Who the caller is: the auth subrequest, run in the access phase. */


#ifndef _NGX_HTTP_LEADLIST_AUTH_H_INCLUDED_
#define _NGX_HTTP_LEADLIST_AUTH_H_INCLUDED_


#include "ngx_http_leadlist.h"


ngx_int_t ngx_http_leadlist_auth_handler(ngx_http_request_t *r);


#endif /* _NGX_HTTP_LEADLIST_AUTH_H_INCLUDED_ */
