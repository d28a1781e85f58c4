
/*
 * Copyright (C) leadlist authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_leadlist.h"
#include "ngx_http_leadlist_handler.h"
#include "ngx_http_leadlist_pg.h"
#include "ngx_http_leadlist_response.h"


/*
 * POST /api/lead-lists/{id}/add-prospects: the checks that need no
 * database run here in the spec's order (405, 401, 400 path, 400 type,
 * 400 body); everything else is one statement, whose single row says
 * what happened.
 */


typedef struct {
    ngx_str_t                     outcome;
    ngx_uint_t                    status;
    const char                   *message;
    const char                   *field;
    const char                   *detail;
} ngx_http_leadlist_outcome_t;


static ngx_int_t ngx_http_leadlist_check_request(ngx_http_request_t *r,
    ngx_http_leadlist_ctx_t *ctx, ngx_http_leadlist_loc_conf_t *llcf);
static ngx_int_t ngx_http_leadlist_reject(ngx_http_request_t *r,
    ngx_uint_t status, const char *message, const char *field,
    const char *detail);
static ngx_int_t ngx_http_leadlist_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static void ngx_http_leadlist_body_handler(ngx_http_request_t *r);
static u_char *ngx_http_leadlist_gather_body(ngx_http_request_t *r,
    size_t *len);
static ngx_int_t ngx_http_leadlist_start_query(ngx_http_request_t *r,
    ngx_http_leadlist_ctx_t *ctx, u_char *body);
static void ngx_http_leadlist_query_cleanup(void *data);
static void ngx_http_leadlist_check_broken(ngx_http_request_t *r);
static void ngx_http_leadlist_query_done(ngx_http_leadlist_query_t *q);
static ngx_int_t ngx_http_leadlist_answer(ngx_http_request_t *r,
    PGresult *res);


static ngx_http_request_body_filter_pt  ngx_http_next_request_body_filter;


static ngx_http_leadlist_stmt_t  ngx_http_leadlist_add_stmt = {
    "leadlist_add_prospects_1",
    "SELECT outcome, added_count, selected_count "
    "FROM leadlist.add_prospects($1::text, $2::text, $3::boolean, "
    "$4::text, $5::jsonb, $6::integer)",
    6
};


static ngx_http_leadlist_outcome_t  ngx_http_leadlist_outcomes[] = {
    { ngx_string("not_found"), NGX_HTTP_NOT_FOUND,
      "Lead list not found", NULL, NULL },
    { ngx_string("forbidden"), NGX_HTTP_FORBIDDEN,
      "You do not have access to this lead list", NULL, NULL },
    { ngx_string("company_list"), NGX_HTTP_BAD_REQUEST,
      "This lead list holds companies: add to it with "
      "POST /api/lead-lists/{leadListId}/add-companies",
      "leadListId", "is a company list; use the /add-companies endpoint" },
    { ngx_string("search_not_found"), NGX_HTTP_BAD_REQUEST,
      "Request body validation failed",
      "selection.searchId", "no such saved search" },
    { ngx_string("search_invalid"), NGX_HTTP_BAD_REQUEST,
      "Request body validation failed",
      "selection.searchId",
      "the saved search uses filters this endpoint does not support" },
    { ngx_null_string, 0, NULL, NULL, NULL }
};


ngx_int_t
ngx_http_leadlist_handler(ngx_http_request_t *r)
{
    ngx_int_t                      rc;
    ngx_http_leadlist_ctx_t       *ctx;
    ngx_http_leadlist_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_leadlist_module);

    ctx = ngx_http_leadlist_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_leadlist_check_request(r, ctx, llcf);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r, ngx_http_leadlist_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


void
ngx_http_leadlist_handler_init(ngx_conf_t *cf)
{
    ngx_http_next_request_body_filter = ngx_http_top_request_body_filter;
    ngx_http_top_request_body_filter = ngx_http_leadlist_body_filter;
}


/* NGX_DECLINED to go on and read the body, else the answer was sent */

static ngx_int_t
ngx_http_leadlist_check_request(ngx_http_request_t *r,
    ngx_http_leadlist_ctx_t *ctx, ngx_http_leadlist_loc_conf_t *llcf)
{
    ngx_str_t                        id;
    ngx_list_t                      *headers;
    ngx_table_elt_t                 *ct;
    ngx_http_leadlist_header_pos_t   pos;

    if (r->method != NGX_HTTP_POST) {
        return ngx_http_leadlist_reject(r, NGX_HTTP_NOT_ALLOWED, NULL,
                                        NULL, NULL);
    }

    if (r != r->main) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "leadlist: endpoint cannot serve a subrequest, "
                      "request_id: %V", ngx_http_leadlist_request_id(r));
        return ngx_http_leadlist_reject(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                        NULL, NULL, NULL);
    }

    switch (ctx->auth) {

    case NGX_HTTP_LEADLIST_AUTH_OK:
        break;

    case NGX_HTTP_LEADLIST_AUTH_DENIED:
        return ngx_http_leadlist_reject(r, NGX_HTTP_UNAUTHORIZED, NULL,
                                        NULL, NULL);

    case NGX_HTTP_LEADLIST_AUTH_NO_ORG:
        return ngx_http_leadlist_reject(r, NGX_HTTP_UNAUTHORIZED,
                                        "organization ID is missing",
                                        NULL, NULL);

    default:
        return ngx_http_leadlist_reject(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                        NULL, NULL, NULL);
    }

    if (llcf->max_body && r->headers_in.content_length_n > llcf->max_body) {
        return ngx_http_leadlist_reject(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                        NULL, NULL, NULL);
    }

    if (ngx_http_complex_value(r, llcf->list_id, &id) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (!ngx_http_leadlist_list_id_ok(id.data, id.len)) {
        return ngx_http_leadlist_reject(r, NGX_HTTP_BAD_REQUEST,
                   "Invalid lead list id", "leadListId",
                   "must be 1 to 64 characters of A-Z, a-z, 0-9, _ and -");
    }

    ctx->list_id.data = ngx_pnalloc(r->pool, id.len + 1);
    if (ctx->list_id.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->list_id.len = id.len;
    *ngx_cpymem(ctx->list_id.data, id.data, id.len) = '\0';

    /* nginx keeps the first of repeated headers: a second type is ambiguous */

    ct = r->headers_in.content_type;
    headers = &r->headers_in.headers;
    pos.part = NULL;

    if (ct == NULL
        || !ngx_http_leadlist_content_type_ok(ct->value.data, ct->value.len)
        || (ngx_http_leadlist_header_next(headers, &ct->key, &pos)
            && ngx_http_leadlist_header_next(headers, &ct->key, &pos)))
    {
        return ngx_http_leadlist_reject(r, NGX_HTTP_BAD_REQUEST,
                                        "Unsupported content type",
                                        "Content-Type",
                                        "must be application/json");
    }

    return NGX_DECLINED;
}


/*
 * client_max_body_size for a body of unknown length (chunked, HTTP/2),
 * counted as it is read: nginx's own check is off in endpoint locations
 */

static ngx_int_t
ngx_http_leadlist_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_chain_t                   *cl;
    ngx_http_leadlist_ctx_t       *ctx;
    ngx_http_leadlist_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_leadlist_module);
    ctx = ngx_http_get_module_ctx(r, ngx_http_leadlist_module);

    if (llcf->upstream == NULL || llcf->max_body == 0 || ctx == NULL) {
        return ngx_http_next_request_body_filter(r, in);
    }

    for (cl = in; cl; cl = cl->next) {
        ctx->received += cl->buf->last - cl->buf->pos;
    }

    if (ctx->received > llcf->max_body) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "leadlist: client intended to send too large body, "
                      "request_id: %V", ngx_http_leadlist_request_id(r));
        return NGX_HTTP_REQUEST_ENTITY_TOO_LARGE;
    }

    return ngx_http_next_request_body_filter(r, in);
}


/* answers without reading the body: it is discarded */

static ngx_int_t
ngx_http_leadlist_reject(ngx_http_request_t *r, ngx_uint_t status,
    const char *message, const char *field, const char *detail)
{
    ngx_http_leadlist_detail_t  d;

    if (r == r->main && ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }

    if (field == NULL) {
        return ngx_http_leadlist_send_error(r, status, message, NULL, 0);
    }

    ngx_cpystrn((u_char *) d.field, (u_char *) field, sizeof(d.field));
    ngx_cpystrn((u_char *) d.message, (u_char *) detail, sizeof(d.message));

    return ngx_http_leadlist_send_error(r, status, message, &d, 1);
}


static void
ngx_http_leadlist_body_handler(ngx_http_request_t *r)
{
    size_t                         len;
    u_char                        *data;
    ngx_int_t                      rc;
    ngx_http_leadlist_ctx_t       *ctx;
    ngx_http_leadlist_body_t      *body;
    ngx_http_leadlist_limits_t     limits;
    ngx_http_leadlist_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_leadlist_module);
    ctx = ngx_http_get_module_ctx(r, ngx_http_leadlist_module);

    data = ngx_http_leadlist_gather_body(r, &len);
    if (data == NULL) {
        ngx_http_finalize_request(r, ngx_http_leadlist_send_error(r,
                                  NGX_HTTP_INTERNAL_SERVER_ERROR, NULL,
                                  NULL, 0));
        return;
    }

    body = ngx_palloc(r->pool, sizeof(ngx_http_leadlist_body_t));
    if (body == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    limits.max_persons = llcf->max_persons;
    limits.max_selection = llcf->max_selection;

    if (ngx_http_leadlist_body_validate(data, len, &limits, body) != 0) {

        if (body->nomem) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "leadlist: out of memory parsing the body, "
                          "request_id: %V", ngx_http_leadlist_request_id(r));
            ngx_http_finalize_request(r, ngx_http_leadlist_send_error(r,
                                      NGX_HTTP_INTERNAL_SERVER_ERROR, NULL,
                                      NULL, 0));
            return;
        }

        rc = ngx_http_leadlist_send_error(r, NGX_HTTP_BAD_REQUEST,
                                          "Request body validation failed",
                                          body->details, body->ndetails);
        ngx_http_finalize_request(r, rc);
        return;
    }

    rc = ngx_http_leadlist_start_query(r, ctx, data);

    if (rc != NGX_AGAIN) {
        ngx_http_finalize_request(r, ngx_http_leadlist_send_error(r, rc, NULL,
                                                                  NULL, 0));
    }
}


/*
 * The body as one NUL-terminated string, as libpq's text parameters
 * need: nginx may hand it over in several buffers or in a temporary file
 * (the file read is a local disk read, as nginx does for static files).
 */

static u_char *
ngx_http_leadlist_gather_body(ngx_http_request_t *r, size_t *len)
{
    u_char       *data, *p;
    size_t        size;
    ssize_t       n;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    size = 0;

    if (r->request_body) {
        for (cl = r->request_body->bufs; cl; cl = cl->next) {
            b = cl->buf;
            size += b->in_file ? (size_t) (b->file_last - b->file_pos)
                               : (size_t) (b->last - b->pos);
        }
    }

    data = ngx_pnalloc(r->pool, size + 1);
    if (data == NULL) {
        return NULL;
    }

    p = data;

    for (cl = r->request_body ? r->request_body->bufs : NULL;
         cl;
         cl = cl->next)
    {
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
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "leadlist: body temp file read %z of %O bytes, "
                          "request_id: %V", n, b->file_last - b->file_pos,
                          ngx_http_leadlist_request_id(r));
            return NULL;
        }

        p += n;
    }

    *p = '\0';
    *len = p - data;

    return data;
}


static ngx_int_t
ngx_http_leadlist_start_query(ngx_http_request_t *r,
    ngx_http_leadlist_ctx_t *ctx, u_char *body)
{
    u_char                        *max;
    ngx_pool_cleanup_t            *cln;
    ngx_http_leadlist_query_t     *q;
    ngx_http_leadlist_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_leadlist_module);

    q = ngx_pcalloc(r->pool, sizeof(ngx_http_leadlist_query_t));
    max = ngx_pnalloc(r->pool, NGX_INT_T_LEN + 1);
    cln = ngx_pool_cleanup_add(r->pool, 0);

    if (q == NULL || max == NULL || cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_sprintf(max, "%ui%Z", llcf->max_selection);

    q->request = r;
    q->conf = ngx_http_conf_upstream_srv_conf(llcf->upstream,
                                              ngx_http_leadlist_module);
    q->stmt = &ngx_http_leadlist_add_stmt;
    q->handler = ngx_http_leadlist_query_done;

    q->values[0] = (char *) ctx->org_id.data;
    q->values[1] = (char *) ctx->user_id.data;
    q->values[2] = ctx->is_admin ? "t" : "f";
    q->values[3] = (char *) ctx->list_id.data;
    q->values[4] = (char *) body;
    q->values[5] = (char *) max;

    /* the one hook that runs however the request ends */

    cln->handler = ngx_http_leadlist_query_cleanup;
    cln->data = q;

    ctx->query = q;

    /* a client that leaves frees its place in the queue at once */

    r->read_event_handler = ngx_http_leadlist_check_broken;

    return ngx_http_leadlist_pg_run(q);
}


static void
ngx_http_leadlist_query_cleanup(void *data)
{
    ngx_http_leadlist_query_t  *q = data;

    ngx_http_leadlist_pg_detach(q);

    if (q->result) {
        PQclear(q->result);
        q->result = NULL;
    }
}


/*
 * The body is read: a read event now means pipelined data, or that the
 * client closed the connection while it waits for PostgreSQL.
 */

static void
ngx_http_leadlist_check_broken(ngx_http_request_t *r)
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

    ngx_log_error(NGX_LOG_INFO, c->log, 0,
                  "leadlist: client closed connection before the answer, "
                  "request_id: %V", ngx_http_leadlist_request_id(r));

    ngx_http_finalize_request(r, NGX_HTTP_CLIENT_CLOSED_REQUEST);
}


static void
ngx_http_leadlist_query_done(ngx_http_leadlist_query_t *q)
{
    ngx_int_t            rc;
    ngx_http_request_t  *r;

    r = q->request;

    if (q->status) {
        rc = ngx_http_leadlist_send_error(r, q->status, NULL, NULL, 0);

    } else {
        rc = ngx_http_leadlist_answer(r, q->result);
    }

    ngx_http_finalize_request(r, rc);
}


static ngx_int_t
ngx_http_leadlist_answer(ngx_http_request_t *r, PGresult *res)
{
    char                          msg[NGX_HTTP_LEADLIST_MESSAGE_LEN];
    ngx_str_t                     outcome;
    ngx_int_t                     added;
    ngx_http_leadlist_outcome_t  *o;
    ngx_http_leadlist_loc_conf_t  *llcf;

    if (PQntuples(res) != 1 || PQnfields(res) != 3) {
        goto unexpected;
    }

    outcome.data = (u_char *) PQgetvalue(res, 0, 0);
    outcome.len = PQgetlength(res, 0, 0);

    if (outcome.len == 2 && ngx_strncmp(outcome.data, "ok", 2) == 0) {
        added = ngx_atoi((u_char *) PQgetvalue(res, 0, 1),
                         PQgetlength(res, 0, 1));
        if (added == NGX_ERROR) {
            goto unexpected;
        }

        return ngx_http_leadlist_send_added(r, added);
    }

    if (outcome.len == sizeof("selection_too_large") - 1
        && ngx_strncmp(outcome.data, "selection_too_large", outcome.len) == 0)
    {
        llcf = ngx_http_get_module_loc_conf(r, ngx_http_leadlist_module);

        ngx_snprintf((u_char *) msg, sizeof(msg),
                     "selects %s prospects, but at most %ui may be added "
                     "per call: page with offset and limit%Z",
                     PQgetvalue(res, 0, 2), llcf->max_selection);

        return ngx_http_leadlist_reject(r, NGX_HTTP_BAD_REQUEST,
                                        "Request body validation failed",
                                        "selection", msg);
    }

    for (o = ngx_http_leadlist_outcomes; o->status; o++) {
        if (o->outcome.len == outcome.len
            && ngx_strncmp(o->outcome.data, outcome.data, outcome.len) == 0)
        {
            return ngx_http_leadlist_reject(r, o->status, o->message,
                                            o->field, o->detail);
        }
    }

unexpected:

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "leadlist: unexpected result from add_prospects, "
                  "request_id: %V", ngx_http_leadlist_request_id(r));

    return ngx_http_leadlist_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                        NULL, NULL, 0);
}
