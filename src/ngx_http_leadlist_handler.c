
/*
 * Copyright (C) leadlist authors
 */


/* The endpoint's content handler: HTTP checks, body, outcome to answer. */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_leadlist.h"
#include "ngx_http_leadlist_body.h"
#include "ngx_http_leadlist_syntax.h"
#include "ngx_http_leadlist_handler.h"
#include "ngx_http_leadlist_response.h"
#include "ngx_http_leadlist_statement.h"
#include "ngx_http_leadlist_util.h"


/*
 * POST /api/lead-lists/{id}/add-prospects: the checks that need no
 * database run here in the spec's order (405, 401, 413, 400 path, 400
 * type, 400 encoding, 400 Idempotency-Key, 400 body); everything else is
 * one statement, whose outcome says what happened.  Prefer is read with
 * the other headers; it never fails.
 */


static ngx_int_t ngx_http_leadlist_handler_check(ngx_http_request_t *r,
    ngx_http_leadlist_ctx_t *ctx);
static ngx_int_t ngx_http_leadlist_handler_media(ngx_http_request_t *r);
static ngx_int_t ngx_http_leadlist_handler_headers(ngx_http_request_t *r,
    ngx_http_leadlist_ctx_t *ctx);
static ngx_int_t ngx_http_leadlist_handler_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static void ngx_http_leadlist_handler_body(ngx_http_request_t *r);
static u_char *ngx_http_leadlist_handler_gather(ngx_http_request_t *r,
    size_t *len);
static void ngx_http_leadlist_handler_check_broken(ngx_http_request_t *r);
static void ngx_http_leadlist_handler_done(ngx_http_request_t *r,
    ngx_http_leadlist_result_t *result);


static ngx_http_request_body_filter_pt  ngx_http_next_request_body_filter;


/* the answer to each outcome but OK, in ngx_http_leadlist_outcome_e order */

static ngx_http_leadlist_error_e  ngx_http_leadlist_handler_errors[] = {
    NGX_HTTP_LEADLIST_ERR_INTERNAL,
    NGX_HTTP_LEADLIST_ERR_NOT_FOUND,
    NGX_HTTP_LEADLIST_ERR_FORBIDDEN,
    NGX_HTTP_LEADLIST_ERR_COMPANY_LIST,
    NGX_HTTP_LEADLIST_ERR_SEARCH_NOT_FOUND,
    NGX_HTTP_LEADLIST_ERR_SEARCH_INVALID,
    NGX_HTTP_LEADLIST_ERR_INVALID_BODY,
    NGX_HTTP_LEADLIST_ERR_IDEM_IN_PROGRESS,
    NGX_HTTP_LEADLIST_ERR_IDEM_MISMATCH
};


static ngx_str_t  ngx_http_leadlist_handler_prefer = ngx_string("Prefer");
static ngx_str_t  ngx_http_leadlist_handler_encoding =
    ngx_string("Content-Encoding");
static ngx_str_t  ngx_http_leadlist_handler_idem_key =
    ngx_string("Idempotency-Key");


ngx_int_t
ngx_http_leadlist_handler(ngx_http_request_t *r)
{
    ngx_int_t                 rc;
    ngx_http_leadlist_ctx_t  *ctx;

    ctx = ngx_http_leadlist_get_ctx(r);
    if (ctx == NULL) {
        return ngx_http_leadlist_send_error(r, NGX_HTTP_LEADLIST_ERR_INTERNAL,
                                            NULL, 0);
    }

    rc = ngx_http_leadlist_handler_check(r, ctx);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    r->request_body_in_single_buf = 1;

    /*
     * the auth subrequest's upstream left "sending to client" in the log's
     * action, which nginx appends to every line: say what is going on
     */

    r->connection->log->action = "reading client request body";

    rc = ngx_http_read_client_request_body(r, ngx_http_leadlist_handler_body);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


ngx_int_t
ngx_http_leadlist_handler_init(ngx_conf_t *cf)
{
    ngx_http_next_request_body_filter = ngx_http_top_request_body_filter;
    ngx_http_top_request_body_filter = ngx_http_leadlist_handler_body_filter;

    return NGX_OK;
}


/* NGX_DECLINED to go on and read the body, else the answer was sent */

static ngx_int_t
ngx_http_leadlist_handler_check(ngx_http_request_t *r,
    ngx_http_leadlist_ctx_t *ctx)
{
    ngx_int_t                      rc;
    ngx_str_t                      id;
    ngx_http_leadlist_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_leadlist_module);

    if (r->method != NGX_HTTP_POST) {
        return ngx_http_leadlist_send_error(r,
                                            NGX_HTTP_LEADLIST_ERR_NOT_ALLOWED,
                                            NULL, 0);
    }

    if (r != r->main) {
        ngx_http_leadlist_log_error(NGX_LOG_ERR, r,
                                    "endpoint cannot serve a subrequest");
        return ngx_http_leadlist_send_error(r, NGX_HTTP_LEADLIST_ERR_INTERNAL,
                                            NULL, 0);
    }

    switch (ctx->auth) {

    case NGX_HTTP_LEADLIST_AUTH_OK:
        break;

    case NGX_HTTP_LEADLIST_AUTH_DENIED:
        return ngx_http_leadlist_send_error(r,
                                            NGX_HTTP_LEADLIST_ERR_UNAUTHORIZED,
                                            NULL, 0);

    case NGX_HTTP_LEADLIST_AUTH_NO_ORG:
        return ngx_http_leadlist_send_error(r, NGX_HTTP_LEADLIST_ERR_NO_ORG,
                                            NULL, 0);

    default:
        return ngx_http_leadlist_send_error(r, NGX_HTTP_LEADLIST_ERR_INTERNAL,
                                            NULL, 0);
    }

    if (llcf->max_body && r->headers_in.content_length_n > llcf->max_body) {
        return ngx_http_leadlist_send_error(r,
                                            NGX_HTTP_LEADLIST_ERR_TOO_LARGE,
                                            NULL, 0);
    }

    if (ngx_http_complex_value(r, llcf->list_id, &id) != NGX_OK) {
        return ngx_http_leadlist_send_error(r, NGX_HTTP_LEADLIST_ERR_INTERNAL,
                                            NULL, 0);
    }

    if (!ngx_http_leadlist_list_id_ok(id.data, id.len)) {
        return ngx_http_leadlist_send_error(r,
                                        NGX_HTTP_LEADLIST_ERR_INVALID_LIST_ID,
                                        NULL, 0);
    }

    ctx->list_id.data = ngx_pnalloc(r->pool, id.len + 1);
    if (ctx->list_id.data == NULL) {
        return ngx_http_leadlist_send_error(r, NGX_HTTP_LEADLIST_ERR_INTERNAL,
                                            NULL, 0);
    }

    ctx->list_id.len = id.len;
    *ngx_cpymem(ctx->list_id.data, id.data, id.len) = '\0';

    rc = ngx_http_leadlist_handler_media(r);

    if (rc != NGX_DECLINED) {
        return rc;
    }

    return ngx_http_leadlist_handler_headers(r, ctx);
}


/*
 * The body's media (SPEC 1.3): a Content-Type of JSON, sent once, and no
 * coding.  NGX_DECLINED, or the 400 saying which of them is wrong was
 * sent.
 */

static ngx_int_t
ngx_http_leadlist_handler_media(ngx_http_request_t *r)
{
    ngx_list_t                      *headers;
    ngx_table_elt_t                 *ct, *h;
    ngx_http_leadlist_header_pos_t   pos;

    ct = r->headers_in.content_type;

    if (ct == NULL) {
        return ngx_http_leadlist_send_error(r,
                                            NGX_HTTP_LEADLIST_ERR_INVALID_TYPE,
                                            NULL, 0);
    }

    /*
     * nginx keeps the first of repeated headers: a second type is
     * ambiguous, whatever either says
     */

    headers = &r->headers_in.headers;
    pos.part = NULL;

    if (ngx_http_leadlist_header_next(headers, &ct->key, &pos)
        && ngx_http_leadlist_header_next(headers, &ct->key, &pos))
    {
        return ngx_http_leadlist_send_error(r,
                                    NGX_HTTP_LEADLIST_ERR_REPEATED_TYPE,
                                    NULL, 0);
    }

    switch (ngx_http_leadlist_content_type(ct->value.data, ct->value.len)) {

    case NGX_HTTP_LEADLIST_TYPE_JSON:
        break;

    case NGX_HTTP_LEADLIST_TYPE_CHARSET:
        return ngx_http_leadlist_send_error(r,
                                    NGX_HTTP_LEADLIST_ERR_INVALID_CHARSET,
                                    NULL, 0);

    default:
        return ngx_http_leadlist_send_error(r,
                                            NGX_HTTP_LEADLIST_ERR_INVALID_TYPE,
                                            NULL, 0);
    }

    /*
     * nginx does not decode a request body: a coded one would reach the
     * JSON parser as it came.  Several headers are one list of codings.
     */

    pos.part = NULL;

    for ( ;; ) {
        h = ngx_http_leadlist_header_next(headers,
                                          &ngx_http_leadlist_handler_encoding,
                                          &pos);
        if (h == NULL) {
            break;
        }

        if (!ngx_http_leadlist_content_encoding_ok(h->value.data,
                                                   h->value.len))
        {
            return ngx_http_leadlist_send_error(r,
                                    NGX_HTTP_LEADLIST_ERR_INVALID_ENCODING,
                                    NULL, 0);
        }
    }

    return NGX_DECLINED;
}


/*
 * Prefer and Idempotency-Key (SPEC 1.6) into ctx: NGX_DECLINED, or the
 * 400 of a malformed or repeated key was sent.  Several Prefer headers
 * are one list, in order; two keys are ambiguous, as two types are.
 */

static ngx_int_t
ngx_http_leadlist_handler_headers(ngx_http_request_t *r,
    ngx_http_leadlist_ctx_t *ctx)
{
    size_t                           len;
    ngx_list_t                      *headers;
    ngx_table_elt_t                 *h;
    ngx_http_leadlist_prefer_t       pr;
    ngx_http_leadlist_header_pos_t   pos;

    headers = &r->headers_in.headers;

    ngx_memzero(&pr, sizeof(ngx_http_leadlist_prefer_t));
    pos.part = NULL;

    for ( ;; ) {
        h = ngx_http_leadlist_header_next(headers,
                                          &ngx_http_leadlist_handler_prefer,
                                          &pos);
        if (h == NULL) {
            break;
        }

        ngx_http_leadlist_prefer_parse(&pr, h->value.data, h->value.len);
    }

    ctx->prefer = pr.flags;

    pos.part = NULL;

    h = ngx_http_leadlist_header_next(headers,
                                      &ngx_http_leadlist_handler_idem_key,
                                      &pos);
    if (h == NULL) {
        return NGX_DECLINED;
    }

    if (ngx_http_leadlist_header_next(headers,
                                      &ngx_http_leadlist_handler_idem_key,
                                      &pos))
    {
        return ngx_http_leadlist_send_error(r,
                                    NGX_HTTP_LEADLIST_ERR_REPEATED_IDEM_KEY,
                                    NULL, 0);
    }

    /* the key unquoted is never longer than the value */

    ctx->idem_key.data = ngx_pnalloc(r->pool, h->value.len + 1);
    if (ctx->idem_key.data == NULL) {
        return ngx_http_leadlist_send_error(r, NGX_HTTP_LEADLIST_ERR_INTERNAL,
                                            NULL, 0);
    }

    if (ngx_http_leadlist_idempotency_key(h->value.data, h->value.len,
                                          ctx->idem_key.data, &len)
        != 0)
    {
        ctx->idem_key.data = NULL;

        return ngx_http_leadlist_send_error(r,
                                    NGX_HTTP_LEADLIST_ERR_INVALID_IDEM_KEY,
                                    NULL, 0);
    }

    ctx->idem_key.len = len;
    ctx->idem_key.data[len] = '\0';

    return NGX_DECLINED;
}


/*
 * client_max_body_size for a body of unknown length (chunked, HTTP/2),
 * counted as it is read: nginx's own check is off in endpoint locations.
 * The size of a chunk is known before its bytes, as nginx's check knows
 * it: a chunk that cannot fit is refused as soon as it is announced, not
 * once its bytes came, or the body timeout passed.
 */

static ngx_int_t
ngx_http_leadlist_handler_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    off_t                          announced;
    ngx_chain_t                   *cl;
    ngx_http_leadlist_ctx_t       *ctx;
    ngx_http_request_body_t       *rb;
    ngx_http_leadlist_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_leadlist_module);
    ctx = ngx_http_get_module_ctx(r, ngx_http_leadlist_module);

    if (llcf->upstream == NULL || llcf->max_body == 0 || ctx == NULL) {
        return ngx_http_next_request_body_filter(r, in);
    }

    for (cl = in; cl; cl = cl->next) {
        ctx->received += cl->buf->last - cl->buf->pos;
    }

    rb = r->request_body;

    /* the rest of the chunk being read: what the parser still expects */

    announced = (rb && rb->chunked) ? rb->chunked->size : 0;

    if (ctx->received + announced > llcf->max_body) {
        ngx_http_leadlist_log_error(NGX_LOG_INFO, r,
                                    "client intended to send too large "
                                    "body: %O+%O bytes",
                                    ctx->received, announced);
        return NGX_HTTP_REQUEST_ENTITY_TOO_LARGE;
    }

    return ngx_http_next_request_body_filter(r, in);
}


static void
ngx_http_leadlist_handler_body(ngx_http_request_t *r)
{
    size_t                         len;
    u_char                        *data;
    ngx_int_t                      rc;
    ngx_http_leadlist_body_t      *body;
    ngx_http_leadlist_limits_t     limits;
    ngx_http_leadlist_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_leadlist_module);

    data = ngx_http_leadlist_handler_gather(r, &len);
    body = ngx_palloc(r->pool, sizeof(ngx_http_leadlist_body_t));

    if (data == NULL || body == NULL) {
        goto internal;
    }

    limits.max_persons = llcf->max_persons;
    limits.max_selection = llcf->max_selection;

    if (ngx_http_leadlist_body_validate(data, len, &limits, body) != 0) {

        if (body->nomem) {
            ngx_http_leadlist_log_error(NGX_LOG_ERR, r,
                                        "out of memory parsing the body");
            goto internal;
        }

        rc = ngx_http_leadlist_send_error(r,
                                          NGX_HTTP_LEADLIST_ERR_INVALID_BODY,
                                          body->details, body->ndetails);
        ngx_http_finalize_request(r, rc);
        return;
    }

    /* a client that leaves frees its place in the queue at once */

    r->read_event_handler = ngx_http_leadlist_handler_check_broken;
    r->connection->log->action = "waiting for PostgreSQL";

    rc = ngx_http_leadlist_statement_run(r, data,
                                         ngx_http_leadlist_handler_done);
    if (rc == NGX_AGAIN) {
        return;
    }

    ngx_http_finalize_request(r, ngx_http_leadlist_send_error(r,
                                     ngx_http_leadlist_error_of_status(rc),
                                     NULL, 0));
    return;

internal:

    ngx_http_finalize_request(r, ngx_http_leadlist_send_error(r,
                                     NGX_HTTP_LEADLIST_ERR_INTERNAL,
                                     NULL, 0));
}


/*
 * The body as one NUL-terminated string, as libpq's text parameters
 * need: nginx may hand it over in several buffers or in a temporary file
 * (the file read is a local disk read, as nginx does for static files).
 */

static u_char *
ngx_http_leadlist_handler_gather(ngx_http_request_t *r, size_t *len)
{
    u_char       *data, *p;
    size_t        size;
    ssize_t       n;
    ngx_buf_t    *b;
    ngx_chain_t  *cl, *bufs;

    size = 0;
    bufs = r->request_body ? r->request_body->bufs : NULL;

    for (cl = bufs; cl; cl = cl->next) {
        b = cl->buf;
        size += b->in_file ? (size_t) (b->file_last - b->file_pos)
                           : (size_t) (b->last - b->pos);
    }

    data = ngx_pnalloc(r->pool, size + 1);
    if (data == NULL) {
        return NULL;
    }

    p = data;

    for (cl = bufs; cl; cl = cl->next) {
        b = cl->buf;

        /* the last buffer of a chunked body may be empty, with no memory */

        if (!b->in_file) {
            if (b->last > b->pos) {
                p = ngx_cpymem(p, b->pos, b->last - b->pos);
            }

            continue;
        }

        n = ngx_read_file(b->file, p, b->file_last - b->file_pos,
                          b->file_pos);

        if (n != b->file_last - b->file_pos) {
            ngx_http_leadlist_log_error(NGX_LOG_ERR, r,
                                        "body temp file read %z of %O bytes",
                                        n, b->file_last - b->file_pos);
            return NULL;
        }

        p += n;
    }

    *p = '\0';
    *len = p - data;

    return data;
}


/*
 * The body is read: a read event now means pipelined data, or that the
 * client closed the connection while it waits for PostgreSQL.
 */

static void
ngx_http_leadlist_handler_check_broken(ngx_http_request_t *r)
{
    char               buf[1];
    ssize_t            n;
    ngx_err_t          err;
    ngx_connection_t  *c;

    c = r->connection;

#if (NGX_HTTP_V2)
    if (r->stream) {
        return;
    }
#endif

    if (!c->error) {
        n = recv(c->fd, buf, 1, MSG_PEEK);
        err = ngx_socket_errno;

        if (n > 0 || (n == -1 && err == NGX_EAGAIN)) {
            return;
        }

        c->error = 1;
    }

    ngx_http_leadlist_log_error(NGX_LOG_INFO, r, "client closed connection "
                                "before the answer");

    ngx_http_finalize_request(r, NGX_HTTP_CLIENT_CLOSED_REQUEST);
}


static void
ngx_http_leadlist_handler_done(ngx_http_request_t *r,
    ngx_http_leadlist_result_t *result)
{
    ngx_int_t                      rc;
    ngx_http_leadlist_ctx_t       *ctx;
    ngx_http_leadlist_detail_t     d;
    ngx_http_leadlist_loc_conf_t  *llcf;

    /* the response header filter adds the headers these say */

    ctx = ngx_http_get_module_ctx(r, ngx_http_leadlist_module);
    ctx->replayed = result->replayed;

    switch (result->outcome) {

    case NGX_HTTP_LEADLIST_OUTCOME_OK:
        rc = ngx_http_leadlist_send_ok(r, &result->response);
        break;

    case NGX_HTTP_LEADLIST_OUTCOME_FAILED:
        rc = ngx_http_leadlist_send_error(r,
                 ngx_http_leadlist_error_of_status(result->status), NULL, 0);
        break;

    case NGX_HTTP_LEADLIST_OUTCOME_SELECTION_TOO_LARGE:
        llcf = ngx_http_get_module_loc_conf(r, ngx_http_leadlist_module);

        ngx_cpystrn((u_char *) d.field, (u_char *) "selection",
                    sizeof(d.field));
        ngx_snprintf((u_char *) d.message, sizeof(d.message),
                     "selects %ui prospects, but at most %ui may be added "
                     "per call: page with offset and limit%Z",
                     result->selected, llcf->max_selection);

        rc = ngx_http_leadlist_send_error(r,
                                          NGX_HTTP_LEADLIST_ERR_INVALID_BODY,
                                          &d, 1);
        break;

    default:
        rc = ngx_http_leadlist_send_error(r,
                 ngx_http_leadlist_handler_errors[result->outcome], NULL, 0);
        break;
    }

    ngx_http_finalize_request(r, rc);
}
