
/*
 * Copyright (C) leadlist authors
 */


/* Every answer of an endpoint as JSON: errors, success, nginx's pages. */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_leadlist.h"
#include "ngx_http_leadlist_response.h"
#include "ngx_http_leadlist_syntax.h"
#include "ngx_http_leadlist_util.h"


/*
 * Every response of an endpoint location is JSON: the module's own, and
 * the error pages nginx makes by itself there (413 for a body over
 * client_max_body_size, 400 for broken chunked encoding, 500, ...),
 * which the filters below rewrite into the same envelope.
 */


#define NGX_HTTP_LEADLIST_INVALID_BODY  "Request body validation failed"

/*
 * RFC 9110: nginx 1.22 has no name for it, and would send the status line
 * "HTTP/1.1 422 " without a reason phrase; every other status an endpoint
 * answers has one in nginx's table
 */
#define NGX_HTTP_LEADLIST_UNPROCESSABLE  422


typedef struct {
    ngx_uint_t                  status;
    ngx_str_t                   code;
    const char                 *message;
    const char                 *field;      /* with a 400: its one detail */
    const char                 *detail;
} ngx_http_leadlist_error_t;


static ngx_buf_t *ngx_http_leadlist_response_envelope(ngx_http_request_t *r,
    ngx_uint_t status, ngx_http_leadlist_error_t *e,
    ngx_http_leadlist_detail_t *details, ngx_uint_t ndetails);
static size_t ngx_http_leadlist_response_detail_len(const char *field,
    const char *message);
static u_char *ngx_http_leadlist_response_detail(u_char *p,
    const char *field, const char *message);
static size_t ngx_http_leadlist_response_str_len(const char *s);
static u_char *ngx_http_leadlist_response_str(u_char *p, const char *s);
static ngx_int_t ngx_http_leadlist_response_add_header(ngx_http_request_t *r,
    char *key, ngx_str_t *value);
static ngx_uint_t ngx_http_leadlist_response_level(ngx_http_request_t *r);
static ngx_http_leadlist_error_e ngx_http_leadlist_response_nginx_error(
    ngx_uint_t status);
static ngx_int_t ngx_http_leadlist_response_header_filter(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_leadlist_response_body_filter(
    ngx_http_request_t *r, ngx_chain_t *in);


/* in the order of ngx_http_leadlist_error_e */

static ngx_http_leadlist_error_t  ngx_http_leadlist_errors[] = {

    /* the one detail of a 400 that nginx made: it could not read it */

    { NGX_HTTP_BAD_REQUEST, ngx_string("BAD_REQUEST"),
      "Bad request",
      "", "the request is malformed: nginx could not read it" },

    { NGX_HTTP_BAD_REQUEST, ngx_string("BAD_REQUEST"),
      NGX_HTTP_LEADLIST_INVALID_BODY, NULL, NULL },

    { NGX_HTTP_BAD_REQUEST, ngx_string("BAD_REQUEST"),
      "Invalid lead list id",
      "leadListId", "must be 1 to "
      ngx_value(NGX_HTTP_LEADLIST_MAX_LIST_ID)
      " characters of A-Z, a-z, 0-9, _ and -" },

    { NGX_HTTP_BAD_REQUEST, ngx_string("BAD_REQUEST"),
      "Unsupported content type",
      "Content-Type", "must be application/json" },

    /* the type is right: say what is not, RFC 8259 wants UTF-8 */

    { NGX_HTTP_BAD_REQUEST, ngx_string("BAD_REQUEST"),
      "Unsupported content type",
      "Content-Type", "charset must be utf-8" },

    { NGX_HTTP_BAD_REQUEST, ngx_string("BAD_REQUEST"),
      "Invalid Content-Type",
      "Content-Type", "must be sent once" },

    /* SPEC 1.5's statuses are fixed: a coding it cannot read, 400 not 415 */

    { NGX_HTTP_BAD_REQUEST, ngx_string("BAD_REQUEST"),
      "Unsupported content encoding",
      "Content-Encoding", "is not supported: send the body uncompressed" },

    { NGX_HTTP_BAD_REQUEST, ngx_string("BAD_REQUEST"),
      "Invalid Idempotency-Key",
      "Idempotency-Key", "must be 1 to "
      ngx_value(NGX_HTTP_LEADLIST_MAX_IDEMPOTENCY_KEY)
      " printable ASCII characters, plain or as a quoted string" },

    { NGX_HTTP_BAD_REQUEST, ngx_string("BAD_REQUEST"),
      "Invalid Idempotency-Key",
      "Idempotency-Key", "must be sent once" },

    { NGX_HTTP_BAD_REQUEST, ngx_string("BAD_REQUEST"),
      "This lead list holds companies: add to it with "
      "POST /api/lead-lists/{leadListId}/add-companies",
      "leadListId", "is a company list; use the /add-companies endpoint" },

    { NGX_HTTP_BAD_REQUEST, ngx_string("BAD_REQUEST"),
      NGX_HTTP_LEADLIST_INVALID_BODY,
      "selection.searchId", "no such saved search" },

    { NGX_HTTP_BAD_REQUEST, ngx_string("BAD_REQUEST"),
      NGX_HTTP_LEADLIST_INVALID_BODY,
      "selection.searchId",
      "the saved search uses filters this endpoint does not support" },

    { NGX_HTTP_UNAUTHORIZED, ngx_string("UNAUTHORIZED"),
      "Authentication required", NULL, NULL },

    { NGX_HTTP_UNAUTHORIZED, ngx_string("UNAUTHORIZED"),
      "organization ID is missing", NULL, NULL },

    { NGX_HTTP_FORBIDDEN, ngx_string("FORBIDDEN"),
      "You do not have access to this lead list", NULL, NULL },

    { NGX_HTTP_NOT_FOUND, ngx_string("NOT_FOUND"),
      "Lead list not found", NULL, NULL },

    /* nginx's own 403 and 404 in the location: not about a list */

    { NGX_HTTP_FORBIDDEN, ngx_string("FORBIDDEN"),
      "Forbidden", NULL, NULL },

    { NGX_HTTP_NOT_FOUND, ngx_string("NOT_FOUND"),
      "Not found", NULL, NULL },

    { NGX_HTTP_NOT_ALLOWED, ngx_string("METHOD_NOT_ALLOWED"),
      "Method not allowed, use POST", NULL, NULL },

    /* the leadlist_metrics location's */

    { NGX_HTTP_NOT_ALLOWED, ngx_string("METHOD_NOT_ALLOWED"),
      "Method not allowed, use GET or HEAD", NULL, NULL },

    { NGX_HTTP_REQUEST_TIME_OUT, ngx_string("REQUEST_TIMEOUT"),
      "Request body was not received in time", NULL, NULL },

    { NGX_HTTP_CONFLICT, ngx_string("CONFLICT"),
      "A request with this Idempotency-Key is still in progress, "
      "retry later", NULL, NULL },

    { NGX_HTTP_LENGTH_REQUIRED, ngx_string("LENGTH_REQUIRED"),
      "Length required", NULL, NULL },

    { NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, ngx_string("PAYLOAD_TOO_LARGE"),
      "Request body is too large", NULL, NULL },

    { NGX_HTTP_LEADLIST_UNPROCESSABLE, ngx_string("UNPROCESSABLE_CONTENT"),
      "Idempotency-Key was used with another request: another list, body "
      "or preference", NULL, NULL },

    { NGX_HTTP_INTERNAL_SERVER_ERROR, ngx_string("INTERNAL_ERROR"),
      "Internal server error", NULL, NULL },

    { NGX_HTTP_SERVICE_UNAVAILABLE, ngx_string("SERVICE_UNAVAILABLE"),
      "Service temporarily unavailable, retry later", NULL, NULL }
};


static ngx_str_t  ngx_http_leadlist_json_type = ngx_string("application/json");
static ngx_str_t  ngx_http_leadlist_allow = ngx_string("POST");
static ngx_str_t  ngx_http_leadlist_retry_after = ngx_string("1");
static ngx_str_t  ngx_http_leadlist_true = ngx_string("true");
static ngx_str_t  ngx_http_leadlist_unprocessable_line =
    ngx_string("422 Unprocessable Content");

/* Preference-Applied, by the NGX_HTTP_LEADLIST_PREFER_* bits applied */
static ngx_str_t  ngx_http_leadlist_applied[] = {
    ngx_null_string,
    ngx_string("return=representation"),
    ngx_string("tx=rollback"),
    ngx_string("return=representation, tx=rollback")
};


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


ngx_int_t
ngx_http_leadlist_response_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_leadlist_response_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_leadlist_response_body_filter;

    return NGX_OK;
}


ngx_http_leadlist_error_e
ngx_http_leadlist_error_of_status(ngx_uint_t status)
{
    ngx_uint_t  i;

    for (i = 0; i < sizeof(ngx_http_leadlist_errors)
                    / sizeof(ngx_http_leadlist_error_t); i++)
    {
        if (ngx_http_leadlist_errors[i].status == status) {
            return i;
        }
    }

    return status < NGX_HTTP_INTERNAL_SERVER_ERROR
           ? NGX_HTTP_LEADLIST_ERR_BAD_REQUEST
           : NGX_HTTP_LEADLIST_ERR_INTERNAL;
}


/* the level of a 4xx's line: leadlist_client_error_log_level */

static ngx_uint_t
ngx_http_leadlist_response_level(ngx_http_request_t *r)
{
    ngx_http_leadlist_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_leadlist_module);

    return llcf->client_log_level;
}


/*
 * A 403 or 404 nginx makes in an endpoint location (deny, return, ...)
 * says nothing about a lead list: it gets words of its own
 */

static ngx_http_leadlist_error_e
ngx_http_leadlist_response_nginx_error(ngx_uint_t status)
{
    switch (status) {

    case NGX_HTTP_FORBIDDEN:
        return NGX_HTTP_LEADLIST_ERR_NGINX_FORBIDDEN;

    case NGX_HTTP_NOT_FOUND:
        return NGX_HTTP_LEADLIST_ERR_NGINX_NOT_FOUND;

    default:
        return ngx_http_leadlist_error_of_status(status);
    }
}


ngx_int_t
ngx_http_leadlist_send_error(ngx_http_request_t *r,
    ngx_http_leadlist_error_e err, ngx_http_leadlist_detail_t *details,
    ngx_uint_t ndetails)
{
    const char                 *field, *detail;
    ngx_buf_t                  *b;
    ngx_http_leadlist_error_t  *e;

    e = &ngx_http_leadlist_errors[err];

    /* as nginx's own error pages do: the body is not waited for */

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }

    if (e->status < NGX_HTTP_INTERNAL_SERVER_ERROR) {
        field = ndetails ? details[0].field : e->field;
        detail = ndetails ? details[0].message : e->detail;

        ngx_http_leadlist_log_error(ngx_http_leadlist_response_level(r),
                                    r, "%ui \"%s\"%s%s%s%s",
                                    e->status, e->message,
                                    field ? " " : "", field ? field : "",
                                    field ? ": " : "", field ? detail : "");
    }

    b = ngx_http_leadlist_response_envelope(r, e->status, e, details,
                                            ndetails);
    if (b == NULL) {
        return NGX_ERROR;
    }

    return ngx_http_leadlist_send_json(r, e->status, b);
}


ngx_int_t
ngx_http_leadlist_send_ok(ngx_http_request_t *r, ngx_str_t *json)
{
    ngx_buf_t  *b;

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = json->data;
    b->last = json->data + json->len;
    b->memory = 1;

    return ngx_http_leadlist_send_json(r, NGX_HTTP_OK, b);
}


ngx_int_t
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
    r->connection->log->action = "sending to client";

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


/*
 * {"code":..,"message":..,"details":[..],"requestId":..}: "details" with
 * a 400 only, and always with it; without details given, the row's own
 */

static ngx_buf_t *
ngx_http_leadlist_response_envelope(ngx_http_request_t *r, ngx_uint_t status,
    ngx_http_leadlist_error_t *e, ngx_http_leadlist_detail_t *details,
    ngx_uint_t ndetails)
{
    size_t       len;
    u_char      *p;
    ngx_buf_t   *b;
    ngx_str_t   *id;
    ngx_uint_t   i;

    id = ngx_http_leadlist_request_id(r);

    len = sizeof("{\"code\":\"\",\"message\":,\"details\":[],"
                 "\"requestId\":\"\"}")
          + e->code.len + ngx_http_leadlist_response_str_len(e->message)
          + id->len + ngx_escape_json(NULL, id->data, id->len);

    for (i = 0; i < ndetails; i++) {
        len += ngx_http_leadlist_response_detail_len(details[i].field,
                                                     details[i].message);
    }

    if (ndetails == 0 && e->field) {
        len += ngx_http_leadlist_response_detail_len(e->field, e->detail);
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NULL;
    }

    p = ngx_sprintf(b->last, "{\"code\":\"%V\",\"message\":", &e->code);
    p = ngx_http_leadlist_response_str(p, e->message);

    if (status == NGX_HTTP_BAD_REQUEST) {
        p = ngx_cpymem(p, ",\"details\":[", sizeof(",\"details\":[") - 1);

        for (i = 0; i < ndetails; i++) {
            if (i) {
                *p++ = ',';
            }

            p = ngx_http_leadlist_response_detail(p, details[i].field,
                                                  details[i].message);
        }

        if (ndetails == 0 && e->field) {
            p = ngx_http_leadlist_response_detail(p, e->field, e->detail);
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
ngx_http_leadlist_response_detail_len(const char *field, const char *message)
{
    return sizeof("{\"field\":,\"message\":},")
           + ngx_http_leadlist_response_str_len(field)
           + ngx_http_leadlist_response_str_len(message);
}


static u_char *
ngx_http_leadlist_response_detail(u_char *p, const char *field,
    const char *message)
{
    p = ngx_cpymem(p, "{\"field\":", sizeof("{\"field\":") - 1);
    p = ngx_http_leadlist_response_str(p, field);
    p = ngx_cpymem(p, ",\"message\":", sizeof(",\"message\":") - 1);
    p = ngx_http_leadlist_response_str(p, message);
    *p++ = '}';

    return p;
}


static size_t
ngx_http_leadlist_response_str_len(const char *s)
{
    size_t  len;

    len = ngx_strlen(s);

    return len + ngx_escape_json(NULL, (u_char *) s, len) + 2;
}


static u_char *
ngx_http_leadlist_response_str(u_char *p, const char *s)
{
    *p++ = '"';
    p = (u_char *) ngx_escape_json(p, (u_char *) s, ngx_strlen(s));
    *p++ = '"';

    return p;
}


static ngx_int_t
ngx_http_leadlist_response_add_header(ngx_http_request_t *r, char *key,
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
ngx_http_leadlist_response_header_filter(ngx_http_request_t *r)
{
    ngx_uint_t                     status;
    ngx_http_leadlist_ctx_t       *ctx;
    ngx_http_leadlist_error_t     *e;
    ngx_http_leadlist_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_leadlist_module);

    if (r != r->main || llcf->upstream == NULL) {
        return ngx_http_next_header_filter(r);
    }

    if (ngx_http_leadlist_response_add_header(r, "X-Request-Id",
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
     * HTTP/1.x sends status_line as it is; HTTP/2 has no reason phrase
     * and ignores it.  Here, so that a 422 nginx makes in the location
     * (return 422) gets it too.
     */

    if (status == NGX_HTTP_LEADLIST_UNPROCESSABLE
        && r->headers_out.status_line.len == 0)
    {
        r->headers_out.status_line = ngx_http_leadlist_unprocessable_line;
    }

    /*
     * here rather than where the module answers: a 405 or 503 that nginx
     * makes in the location (return, limit_req, ...) tells the client
     * what to do next just the same
     */

    if (status == NGX_HTTP_NOT_ALLOWED
        && ngx_http_leadlist_response_add_header(r, "Allow",
                                                 &ngx_http_leadlist_allow)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if ((status == NGX_HTTP_SERVICE_UNAVAILABLE
         || status == NGX_HTTP_CONFLICT)
        && ngx_http_leadlist_response_add_header(r, "Retry-After",
                                             &ngx_http_leadlist_retry_after)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* set by the handler for the answers the statement gave */

    if (ctx->replayed
        && ngx_http_leadlist_response_add_header(r, "Idempotent-Replayed",
                                                 &ngx_http_leadlist_true)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* a 200 is the statement's answer: it honoured every preference */

    if (ctx->prefer
        && status == NGX_HTTP_OK
        && ngx_http_leadlist_response_add_header(r, "Preference-Applied",
                              &ngx_http_leadlist_applied[ctx->prefer & 3])
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ctx->responded || status < NGX_HTTP_BAD_REQUEST) {
        return ngx_http_next_header_filter(r);
    }

    /* an error page of nginx's own: replace it with the JSON envelope */

    e = &ngx_http_leadlist_errors[ngx_http_leadlist_response_nginx_error(
                                      status)];

    ctx->replace = ngx_http_leadlist_response_envelope(r, status, e,
                                                       NULL, 0);
    if (ctx->replace == NULL) {
        return NGX_ERROR;
    }

    ngx_http_leadlist_log_error(status < NGX_HTTP_INTERNAL_SERVER_ERROR
                                ? ngx_http_leadlist_response_level(r)
                                : NGX_LOG_ERR,
                                r, "%ui from nginx", status);

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
ngx_http_leadlist_response_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in)
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
