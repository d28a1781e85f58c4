
/*
 * Copyright (C) leadlist authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_leadlist.h"
#include "ngx_http_leadlist_response.h"


/*
 * Every response of an endpoint location is JSON: the module's own, and
 * the error pages nginx makes by itself there (413 for a body over
 * client_max_body_size, 400 for broken chunked encoding, 500, ...),
 * which the filters below rewrite into the same envelope.
 */


typedef struct {
    ngx_uint_t                  status;
    ngx_str_t                   code;
    const char                 *message;
} ngx_http_leadlist_status_t;


static ngx_int_t ngx_http_leadlist_send_json(ngx_http_request_t *r,
    ngx_uint_t status, ngx_buf_t *b);
static ngx_buf_t *ngx_http_leadlist_error_body(ngx_http_request_t *r,
    ngx_uint_t status, const char *message,
    ngx_http_leadlist_detail_t *details, ngx_uint_t ndetails);
static size_t ngx_http_leadlist_json_str_len(const char *s);
static u_char *ngx_http_leadlist_json_str(u_char *p, const char *s);
static ngx_http_leadlist_status_t *ngx_http_leadlist_status(
    ngx_uint_t status);
static ngx_int_t ngx_http_leadlist_add_header(ngx_http_request_t *r,
    char *key, ngx_str_t *value);
static ngx_int_t ngx_http_leadlist_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_leadlist_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);


static ngx_http_leadlist_status_t  ngx_http_leadlist_statuses[] = {
    { NGX_HTTP_BAD_REQUEST, ngx_string("BAD_REQUEST"),
      "Bad request" },
    { NGX_HTTP_UNAUTHORIZED, ngx_string("UNAUTHORIZED"),
      "Authentication required" },
    { NGX_HTTP_FORBIDDEN, ngx_string("FORBIDDEN"),
      "Access to this lead list is not allowed" },
    { NGX_HTTP_NOT_FOUND, ngx_string("NOT_FOUND"),
      "Lead list not found" },
    { NGX_HTTP_NOT_ALLOWED, ngx_string("METHOD_NOT_ALLOWED"),
      "Method not allowed, use POST" },
    { NGX_HTTP_REQUEST_TIME_OUT, ngx_string("REQUEST_TIMEOUT"),
      "Request body was not received in time" },
    { NGX_HTTP_LENGTH_REQUIRED, ngx_string("LENGTH_REQUIRED"),
      "Length required" },
    { NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, ngx_string("PAYLOAD_TOO_LARGE"),
      "Request body is too large" },
    { NGX_HTTP_INTERNAL_SERVER_ERROR, ngx_string("INTERNAL_ERROR"),
      "Internal server error" },
    { NGX_HTTP_SERVICE_UNAVAILABLE, ngx_string("SERVICE_UNAVAILABLE"),
      "Service temporarily unavailable, retry later" },
    { 0, ngx_null_string, NULL }
};


static ngx_http_leadlist_status_t  ngx_http_leadlist_status_4xx = {
    NGX_HTTP_BAD_REQUEST, ngx_string("BAD_REQUEST"), "Bad request"
};

static ngx_http_leadlist_status_t  ngx_http_leadlist_status_5xx = {
    NGX_HTTP_INTERNAL_SERVER_ERROR, ngx_string("INTERNAL_ERROR"),
    "Internal server error"
};


static ngx_str_t  ngx_http_leadlist_json_type = ngx_string("application/json");
static ngx_str_t  ngx_http_leadlist_allow = ngx_string("POST");

/* the one detail of a 400 that nginx made: it could not read the request */

static ngx_http_leadlist_detail_t  ngx_http_leadlist_unreadable = {
    "", "the request is malformed: nginx could not read it"
};
static ngx_str_t  ngx_http_leadlist_retry = ngx_string("1");


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


ngx_int_t
ngx_http_leadlist_response_init_filters(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_leadlist_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_leadlist_body_filter;

    return NGX_OK;
}


ngx_http_leadlist_ctx_t *
ngx_http_leadlist_get_ctx(ngx_http_request_t *r)
{
    ngx_http_leadlist_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_leadlist_module);

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_leadlist_ctx_t));
        if (ctx == NULL) {
            return NULL;
        }

        ctx->request = r;

        ngx_http_set_ctx(r, ctx, ngx_http_leadlist_module);
    }

    return ctx;
}


ngx_str_t *
ngx_http_leadlist_request_id(ngx_http_request_t *r)
{
    ngx_http_leadlist_ctx_t        *ctx;
    ngx_http_variable_value_t      *vv;
    ngx_http_leadlist_main_conf_t  *lmcf;

    static ngx_str_t  none = ngx_string("-");

    ctx = ngx_http_leadlist_get_ctx(r->main);
    if (ctx == NULL) {
        return &none;
    }

    if (ctx->request_id.len) {
        return &ctx->request_id;
    }

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_leadlist_module);

    vv = ngx_http_get_indexed_variable(r->main, lmcf->request_id_index);

    if (vv == NULL || vv->not_found || vv->len == 0) {
        return &none;
    }

    ctx->request_id.len = vv->len;
    ctx->request_id.data = vv->data;

    return &ctx->request_id;
}


/*
 * The next header named "name" after the one pos is at, in any case;
 * deleted ones (hash 0) do not count.  Every lookup of a header that may
 * be repeated walks the list with it.
 */

ngx_table_elt_t *
ngx_http_leadlist_header_next(ngx_list_t *headers, ngx_str_t *name,
    ngx_http_leadlist_header_pos_t *pos)
{
    ngx_table_elt_t  *h;

    if (pos->part == NULL) {
        pos->part = &headers->part;
        pos->i = 0;
    }

    for ( ;; ) {

        if (pos->i >= pos->part->nelts) {
            if (pos->part->next == NULL) {
                return NULL;
            }

            pos->part = pos->part->next;
            pos->i = 0;
            continue;
        }

        h = (ngx_table_elt_t *) pos->part->elts + pos->i++;

        if (h->hash != 0
            && h->key.len == name->len
            && ngx_strncasecmp(h->key.data, name->data, name->len) == 0)
        {
            return h;
        }
    }
}


ngx_int_t
ngx_http_leadlist_send_added(ngx_http_request_t *r, ngx_uint_t count)
{
    ngx_buf_t  *b;

    b = ngx_create_temp_buf(r->pool, sizeof("{\"addedCount\":}")
                                     + NGX_INT_T_LEN);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->last = ngx_sprintf(b->last, "{\"addedCount\":%ui}", count);

    return ngx_http_leadlist_send_json(r, NGX_HTTP_OK, b);
}


ngx_int_t
ngx_http_leadlist_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *message, ngx_http_leadlist_detail_t *details,
    ngx_uint_t ndetails)
{
    ngx_buf_t  *b;

    if (message == NULL) {
        message = ngx_http_leadlist_status(status)->message;
    }

    if (status < NGX_HTTP_INTERNAL_SERVER_ERROR) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "leadlist: %ui \"%s\"%s%s%s%s, request_id: %V",
                      status, message,
                      ndetails ? " " : "",
                      ndetails ? details[0].field : "",
                      ndetails ? ": " : "",
                      ndetails ? details[0].message : "",
                      ngx_http_leadlist_request_id(r));
    }

    b = ngx_http_leadlist_error_body(r, status, message, details, ndetails);
    if (b == NULL) {
        return NGX_ERROR;
    }

    return ngx_http_leadlist_send_json(r, status, b);
}


static ngx_int_t
ngx_http_leadlist_send_json(ngx_http_request_t *r, ngx_uint_t status,
    ngx_buf_t *b)
{
    ngx_int_t                 rc;
    ngx_chain_t               out;
    ngx_http_leadlist_ctx_t  *ctx;

    ctx = ngx_http_leadlist_get_ctx(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    ctx->responded = 1;

    r->headers_out.status = status;
    r->headers_out.content_type = ngx_http_leadlist_json_type;
    r->headers_out.content_type_len = ngx_http_leadlist_json_type.len;
    r->headers_out.content_length_n = b->last - b->pos;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b->last_buf = (r == r->main);
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


static ngx_buf_t *
ngx_http_leadlist_error_body(ngx_http_request_t *r, ngx_uint_t status,
    const char *message, ngx_http_leadlist_detail_t *details,
    ngx_uint_t ndetails)
{
    size_t                       len;
    u_char                      *p;
    ngx_buf_t                   *b;
    ngx_str_t                   *id;
    ngx_uint_t                   i;
    ngx_http_leadlist_status_t  *st;

    st = ngx_http_leadlist_status(status);
    id = ngx_http_leadlist_request_id(r);

    if (message == NULL) {
        message = st->message;
    }

    len = sizeof("{\"code\":\"\",\"message\":,\"details\":[],"
                 "\"requestId\":\"\"}")
          + st->code.len + ngx_http_leadlist_json_str_len(message)
          + id->len + ngx_escape_json(NULL, id->data, id->len);

    for (i = 0; i < ndetails; i++) {
        len += sizeof("{\"field\":,\"message\":},")
               + ngx_http_leadlist_json_str_len(details[i].field)
               + ngx_http_leadlist_json_str_len(details[i].message);
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NULL;
    }

    p = ngx_sprintf(b->last, "{\"code\":\"%V\",\"message\":", &st->code);
    p = ngx_http_leadlist_json_str(p, message);

    /* "details" belongs to 400 only, and always comes with it */

    if (status == NGX_HTTP_BAD_REQUEST) {
        p = ngx_cpymem(p, ",\"details\":[", sizeof(",\"details\":[") - 1);

        for (i = 0; i < ndetails; i++) {
            p = ngx_cpymem(p, "{\"field\":", sizeof("{\"field\":") - 1);
            p = ngx_http_leadlist_json_str(p, details[i].field);
            p = ngx_cpymem(p, ",\"message\":", sizeof(",\"message\":") - 1);
            p = ngx_http_leadlist_json_str(p, details[i].message);
            *p++ = '}';

            if (i + 1 < ndetails) {
                *p++ = ',';
            }
        }

        *p++ = ']';
    }

    p = ngx_cpymem(p, ",\"requestId\":\"", sizeof(",\"requestId\":\"") - 1);
    p = (u_char *) ngx_escape_json(p, id->data, id->len);
    p = ngx_cpymem(p, "\"}", 2);

    b->last = p;

    return b;
}


static size_t
ngx_http_leadlist_json_str_len(const char *s)
{
    size_t  len;

    len = ngx_strlen(s);

    return len + ngx_escape_json(NULL, (u_char *) s, len) + 2;
}


static u_char *
ngx_http_leadlist_json_str(u_char *p, const char *s)
{
    *p++ = '"';
    p = (u_char *) ngx_escape_json(p, (u_char *) s, ngx_strlen(s));
    *p++ = '"';

    return p;
}


static ngx_http_leadlist_status_t *
ngx_http_leadlist_status(ngx_uint_t status)
{
    ngx_http_leadlist_status_t  *st;

    for (st = ngx_http_leadlist_statuses; st->status; st++) {
        if (st->status == status) {
            return st;
        }
    }

    return status < NGX_HTTP_INTERNAL_SERVER_ERROR
           ? &ngx_http_leadlist_status_4xx : &ngx_http_leadlist_status_5xx;
}


static ngx_int_t
ngx_http_leadlist_add_header(ngx_http_request_t *r, char *key,
    ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) key;
    h->key.len = ngx_strlen(key);
    h->value = *value;

    return NGX_OK;
}


static ngx_int_t
ngx_http_leadlist_header_filter(ngx_http_request_t *r)
{
    ngx_uint_t                     status;
    ngx_http_leadlist_ctx_t       *ctx;
    ngx_http_leadlist_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_leadlist_module);

    if (r != r->main || llcf->upstream == NULL) {
        return ngx_http_next_header_filter(r);
    }

    if (ngx_http_leadlist_add_header(r, "X-Request-Id",
                                     ngx_http_leadlist_request_id(r))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ctx = ngx_http_leadlist_get_ctx(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    status = r->headers_out.status;

    /*
     * here rather than where the module answers: a 405 or 503 that nginx
     * makes in the location (return, limit_req, ...) tells the client
     * what to do next just the same
     */

    if (status == NGX_HTTP_NOT_ALLOWED
        && ngx_http_leadlist_add_header(r, "Allow",
                                        &ngx_http_leadlist_allow) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (status == NGX_HTTP_SERVICE_UNAVAILABLE
        && ngx_http_leadlist_add_header(r, "Retry-After",
                                        &ngx_http_leadlist_retry) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ctx->responded || status < NGX_HTTP_BAD_REQUEST) {
        return ngx_http_next_header_filter(r);
    }

    /* an error page of nginx's own: replace it with the JSON envelope */

    ctx->replace = ngx_http_leadlist_error_body(r, status, NULL,
                                                &ngx_http_leadlist_unreadable,
                                                1);
    if (ctx->replace == NULL) {
        return NGX_ERROR;
    }

    if (status < NGX_HTTP_INTERNAL_SERVER_ERROR) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "leadlist: %ui from nginx, request_id: %V",
                      status, ngx_http_leadlist_request_id(r));

    } else {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "leadlist: %ui from nginx, request_id: %V",
                      status, ngx_http_leadlist_request_id(r));
    }

    r->headers_out.content_type = ngx_http_leadlist_json_type;
    r->headers_out.content_type_len = ngx_http_leadlist_json_type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.charset.len = 0;
    r->headers_out.content_length_n = ctx->replace->last - ctx->replace->pos;

    if (r->headers_out.content_length) {
        r->headers_out.content_length->hash = 0;
        r->headers_out.content_length = NULL;
    }

    return ngx_http_next_header_filter(r);
}


static ngx_int_t
ngx_http_leadlist_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_chain_t               out, *cl;
    ngx_http_leadlist_ctx_t  *ctx;

    if (r != r->main) {
        return ngx_http_next_body_filter(r, in);
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_leadlist_module);

    if (ctx == NULL || ctx->replace == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    /* swallow nginx's page; send ours with its last buffer */

    for (cl = in; cl; cl = cl->next) {
        cl->buf->pos = cl->buf->last;

        if (cl->buf->last_buf) {
            ctx->replace->last_buf = 1;
            ctx->replace->last_in_chain = 1;

            out.buf = ctx->replace;
            out.next = NULL;

            ctx->replace = NULL;

            return ngx_http_next_body_filter(r, &out);
        }
    }

    return NGX_OK;
}
