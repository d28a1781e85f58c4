
/*
 * Copyright (C) leadlist authors
 */


/* Every answer of an endpoint as JSON: errors, success, nginx's pages. */


#ifndef _NGX_HTTP_LEADLIST_RESPONSE_H_INCLUDED_
#define _NGX_HTTP_LEADLIST_RESPONSE_H_INCLUDED_


#include "ngx_http_leadlist.h"
#include "ngx_http_leadlist_body.h"


/*
 * The rows of the one table of error answers (status, code, message and
 * the detail a 400 carries); the first row of a status is what nginx's
 * own error page of that status becomes.
 */

typedef enum {
    NGX_HTTP_LEADLIST_ERR_BAD_REQUEST = 0,
    NGX_HTTP_LEADLIST_ERR_INVALID_BODY,
    NGX_HTTP_LEADLIST_ERR_INVALID_LIST_ID,
    NGX_HTTP_LEADLIST_ERR_INVALID_TYPE,
    NGX_HTTP_LEADLIST_ERR_INVALID_CHARSET,
    NGX_HTTP_LEADLIST_ERR_REPEATED_TYPE,
    NGX_HTTP_LEADLIST_ERR_INVALID_ENCODING,
    NGX_HTTP_LEADLIST_ERR_INVALID_IDEM_KEY,
    NGX_HTTP_LEADLIST_ERR_REPEATED_IDEM_KEY,
    NGX_HTTP_LEADLIST_ERR_COMPANY_LIST,
    NGX_HTTP_LEADLIST_ERR_SEARCH_NOT_FOUND,
    NGX_HTTP_LEADLIST_ERR_SEARCH_INVALID,
    NGX_HTTP_LEADLIST_ERR_UNAUTHORIZED,
    NGX_HTTP_LEADLIST_ERR_NO_ORG,
    NGX_HTTP_LEADLIST_ERR_FORBIDDEN,
    NGX_HTTP_LEADLIST_ERR_NOT_FOUND,
    NGX_HTTP_LEADLIST_ERR_NGINX_FORBIDDEN,
    NGX_HTTP_LEADLIST_ERR_NGINX_NOT_FOUND,
    NGX_HTTP_LEADLIST_ERR_NOT_ALLOWED,
    NGX_HTTP_LEADLIST_ERR_METRICS_NOT_ALLOWED,
    NGX_HTTP_LEADLIST_ERR_TIMEOUT,
    NGX_HTTP_LEADLIST_ERR_IDEM_IN_PROGRESS,
    NGX_HTTP_LEADLIST_ERR_LENGTH_REQUIRED,
    NGX_HTTP_LEADLIST_ERR_TOO_LARGE,
    NGX_HTTP_LEADLIST_ERR_IDEM_MISMATCH,
    NGX_HTTP_LEADLIST_ERR_INTERNAL,
    NGX_HTTP_LEADLIST_ERR_UNAVAILABLE
} ngx_http_leadlist_error_e;


ngx_int_t ngx_http_leadlist_response_init(ngx_conf_t *cf);

/*
 * Each sends the whole answer (the request body, if any is left, is
 * discarded) and returns what ngx_http_output_filter() did, for
 * ngx_http_finalize_request().  details NULL: the row's own detail.
 * 4xx answers are logged at info here; a 5xx is logged by whoever knows
 * why it happened.  send_ok sends json as it is, a 200: json must live
 * as long as r->pool.
 */

ngx_int_t ngx_http_leadlist_send_error(ngx_http_request_t *r,
    ngx_http_leadlist_error_e err, ngx_http_leadlist_detail_t *details,
    ngx_uint_t ndetails);
ngx_int_t ngx_http_leadlist_send_ok(ngx_http_request_t *r, ngx_str_t *json);
ngx_int_t ngx_http_leadlist_send_json(ngx_http_request_t *r,
    ngx_uint_t status, ngx_buf_t *b);

/* the first row of a status: for a status the pool gave, or nginx made */
ngx_http_leadlist_error_e ngx_http_leadlist_error_of_status(
    ngx_uint_t status);


#endif /* _NGX_HTTP_LEADLIST_RESPONSE_H_INCLUDED_ */
