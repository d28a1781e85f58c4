
/*
 * Copyright (C) leadlist authors
 */


/* Who the caller is: the auth subrequest, run in the access phase. */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_leadlist.h"
#include "ngx_http_leadlist_auth.h"
#include "ngx_http_leadlist_util.h"


/*
 * The caller is authenticated in the access phase, before the body is
 * read, by a subrequest to leadlist_auth_request, as auth_request does.
 * The outcome is only recorded here: the content handler answers every
 * case, so that each answer is JSON and the order of checks is in one
 * place.  Identity comes from the subrequest's response headers only;
 * the client's own X-User-Id and friends are never looked at.
 */


static ngx_int_t ngx_http_leadlist_auth_start(ngx_http_request_t *r,
    ngx_http_leadlist_ctx_t *ctx, ngx_http_leadlist_loc_conf_t *llcf);
static ngx_int_t ngx_http_leadlist_auth_done(ngx_http_request_t *r,
    void *data, ngx_int_t rc);
static ngx_int_t ngx_http_leadlist_auth_result(ngx_http_request_t *r,
    ngx_http_leadlist_ctx_t *ctx, ngx_http_leadlist_loc_conf_t *llcf);
static ngx_int_t ngx_http_leadlist_auth_identity(ngx_http_request_t *r,
    ngx_http_leadlist_ctx_t *ctx, ngx_list_t *headers, ngx_str_t *name,
    ngx_str_t *value);
static ngx_list_t *ngx_http_leadlist_auth_headers(ngx_http_request_t *sr,
    ngx_http_leadlist_loc_conf_t *llcf);
static ngx_int_t ngx_http_leadlist_auth_find(ngx_list_t *headers,
    ngx_str_t *name, ngx_str_t *value, ngx_pool_t *pool);
static ngx_uint_t ngx_http_leadlist_auth_is_admin(ngx_list_t *headers,
    ngx_str_t *name);
static ngx_int_t ngx_http_leadlist_auth_copy_www(ngx_http_request_t *r,
    ngx_http_request_t *sr, ngx_http_leadlist_loc_conf_t *llcf);


ngx_int_t
ngx_http_leadlist_auth_handler(ngx_http_request_t *r)
{
    ngx_http_leadlist_ctx_t       *ctx;
    ngx_http_leadlist_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_leadlist_module);

    if (llcf->upstream == NULL || r->method != NGX_HTTP_POST) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_leadlist_get_ctx(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    switch (ctx->auth) {

    case NGX_HTTP_LEADLIST_AUTH_NONE:
        return ngx_http_leadlist_auth_start(r, ctx, llcf);

    case NGX_HTTP_LEADLIST_AUTH_PENDING:
        if (ctx->subrequest == NULL) {
            return NGX_AGAIN;
        }

        return ngx_http_leadlist_auth_result(r, ctx, llcf);

    default:
        return NGX_DECLINED;
    }
}


static ngx_int_t
ngx_http_leadlist_auth_start(ngx_http_request_t *r,
    ngx_http_leadlist_ctx_t *ctx, ngx_http_leadlist_loc_conf_t *llcf)
{
    ngx_http_request_t          *sr;
    ngx_http_post_subrequest_t  *ps;

    ps = ngx_palloc(r->pool, sizeof(ngx_http_post_subrequest_t));
    if (ps == NULL) {
        return NGX_ERROR;
    }

    ps->handler = ngx_http_leadlist_auth_done;
    ps->data = ctx;

    ctx->auth = NGX_HTTP_LEADLIST_AUTH_PENDING;

    if (ngx_http_subrequest(r, &llcf->auth_uri, NULL, &sr, ps,
                            NGX_HTTP_SUBREQUEST_WAITED)
        != NGX_OK)
    {
        ngx_http_leadlist_log_error(NGX_LOG_ERR, r,
                                    "auth subrequest to \"%V\" could not be "
                                    "made", &llcf->auth_uri);

        ctx->auth = NGX_HTTP_LEADLIST_AUTH_FAILED;
        return NGX_DECLINED;
    }

    /*
     * a fake request body keeps the subrequest from reading the client's
     * body, which is read (or discarded) only after authentication
     */

    sr->request_body = ngx_pcalloc(r->pool, sizeof(ngx_http_request_body_t));
    if (sr->request_body == NULL) {
        return NGX_ERROR;
    }

    sr->header_only = 1;

    /*
     * the subrequest's copy of the headers must not announce the body:
     * the endpoint checks client_max_body_size itself after auth, but the
     * auth location would refuse the announced length with its own 413
     */

    sr->headers_in.content_length_n = -1;
    sr->headers_in.chunked = 0;

    return NGX_AGAIN;
}


/* may run more than once per subrequest: only record what happened */

static ngx_int_t
ngx_http_leadlist_auth_done(ngx_http_request_t *r, void *data, ngx_int_t rc)
{
    ngx_http_leadlist_ctx_t  *ctx = data;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "leadlist auth done s:%ui", r->headers_out.status);

    ctx->subrequest = r;
    ctx->auth_status = r->headers_out.status;

    return rc;
}


static ngx_int_t
ngx_http_leadlist_auth_result(ngx_http_request_t *r,
    ngx_http_leadlist_ctx_t *ctx, ngx_http_leadlist_loc_conf_t *llcf)
{
    ngx_int_t            rc;
    ngx_list_t          *headers;
    ngx_http_request_t  *sr;

    sr = ctx->subrequest;

    if (ctx->auth_status == NGX_HTTP_UNAUTHORIZED
        || ctx->auth_status == NGX_HTTP_FORBIDDEN)
    {
        ctx->auth = NGX_HTTP_LEADLIST_AUTH_DENIED;
        return ngx_http_leadlist_auth_copy_www(r, sr, llcf);
    }

    if (ctx->auth_status < NGX_HTTP_OK
        || ctx->auth_status >= NGX_HTTP_SPECIAL_RESPONSE)
    {
        ngx_http_leadlist_log_error(NGX_LOG_ERR, r,
                                    "auth request \"%V\" unexpected status: "
                                    "%ui", &llcf->auth_uri, ctx->auth_status);

        ctx->auth = NGX_HTTP_LEADLIST_AUTH_FAILED;
        return NGX_DECLINED;
    }

    headers = ngx_http_leadlist_auth_headers(sr, llcf);

    ctx->auth = NGX_HTTP_LEADLIST_AUTH_DENIED;

    rc = ngx_http_leadlist_auth_identity(r, ctx, headers, &llcf->user_header,
                                         &ctx->user_id);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_http_leadlist_auth_identity(r, ctx, headers, &llcf->org_header,
                                         &ctx->org_id);
    if (rc != NGX_OK) {
        ctx->auth = NGX_HTTP_LEADLIST_AUTH_NO_ORG;
        return rc;
    }

    ctx->is_admin = ngx_http_leadlist_auth_is_admin(headers,
                                                    &llcf->role_header);
    ctx->auth = NGX_HTTP_LEADLIST_AUTH_OK;

    return NGX_DECLINED;
}


/* NGX_OK, NGX_ERROR, or NGX_DECLINED when the identity is missing */

static ngx_int_t
ngx_http_leadlist_auth_identity(ngx_http_request_t *r,
    ngx_http_leadlist_ctx_t *ctx, ngx_list_t *headers, ngx_str_t *name,
    ngx_str_t *value)
{
    ngx_int_t  rc;

    rc = ngx_http_leadlist_auth_find(headers, name, value, r->pool);

    if (rc == NGX_DECLINED) {
        ngx_http_leadlist_log_error(NGX_LOG_INFO, r,
                                    "auth answered %ui without exactly one "
                                    "non-empty \"%V\"", ctx->auth_status,
                                    name);
    }

    return rc;
}


/*
 * With proxy_pass the upstream's headers are copied to the subrequest's
 * own; a location that answers by itself has only the latter.  One list
 * is read, never both, so that a copy is not seen as a second value.
 */

static ngx_list_t *
ngx_http_leadlist_auth_headers(ngx_http_request_t *sr,
    ngx_http_leadlist_loc_conf_t *llcf)
{
    ngx_str_t  v;

    if (sr->upstream == NULL
        || ngx_http_leadlist_auth_find(&sr->headers_out.headers,
                                       &llcf->user_header, &v, NULL)
           != NGX_DECLINED)
    {
        return &sr->headers_out.headers;
    }

    return &sr->upstream->headers_in.headers;
}


/*
 * NGX_OK: exactly one non-empty value, copied NUL-terminated when a pool
 * is given; NGX_DECLINED: none, empty or several
 */

static ngx_int_t
ngx_http_leadlist_auth_find(ngx_list_t *headers, ngx_str_t *name,
    ngx_str_t *value, ngx_pool_t *pool)
{
    ngx_table_elt_t                 *found;
    ngx_http_leadlist_header_pos_t   pos;

    pos.part = NULL;
    found = ngx_http_leadlist_header_next(headers, name, &pos);

    if (found == NULL
        || found->value.len == 0
        || ngx_http_leadlist_header_next(headers, name, &pos) != NULL)
    {
        return NGX_DECLINED;
    }

    if (pool == NULL) {
        *value = found->value;
        return NGX_OK;
    }

    value->data = ngx_pnalloc(pool, found->value.len + 1);
    if (value->data == NULL) {
        return NGX_ERROR;
    }

    value->len = found->value.len;
    ngx_memcpy(value->data, found->value.data, value->len);
    value->data[value->len] = '\0';

    return NGX_OK;
}


/* roles: a comma-separated list, in one header or several */

static ngx_uint_t
ngx_http_leadlist_auth_is_admin(ngx_list_t *headers, ngx_str_t *name)
{
    u_char                          *p, *last, *start, *end;
    ngx_table_elt_t                 *h;
    ngx_http_leadlist_header_pos_t   pos;

    pos.part = NULL;

    while ((h = ngx_http_leadlist_header_next(headers, name, &pos))) {

        p = h->value.data;
        last = p + h->value.len;

        while (p < last) {
            start = p;

            while (p < last && *p != ',') {
                p++;
            }

            end = p++;

            while (start < end && (*start == ' ' || *start == '\t')) {
                start++;
            }

            while (end > start && (end[-1] == ' ' || end[-1] == '\t')) {
                end--;
            }

            if (end - start == 5 && ngx_strncasecmp(start, (u_char *) "admin",
                                                    5) == 0)
            {
                return 1;
            }
        }
    }

    return 0;
}


/*
 * Every challenge of the auth's 401, in its order: a client may support
 * only one of the schemes offered (RFC 9110, 11.6.1).  Read from the
 * same one list as the identity headers, so that a copy does not count
 * as a second challenge.
 */

static ngx_int_t
ngx_http_leadlist_auth_copy_www(ngx_http_request_t *r, ngx_http_request_t *sr,
    ngx_http_leadlist_loc_conf_t *llcf)
{
    ngx_list_t                      *headers;
    ngx_table_elt_t                 *h, *ho;
    ngx_http_leadlist_header_pos_t   pos;

    static ngx_str_t  name = ngx_string("WWW-Authenticate");

    headers = ngx_http_leadlist_auth_headers(sr, llcf);
    pos.part = NULL;

    while ((h = ngx_http_leadlist_header_next(headers, &name, &pos))) {

        ho = ngx_list_push(&r->headers_out.headers);
        if (ho == NULL) {
            return NGX_ERROR;
        }

        *ho = *h;

        if (r->headers_out.www_authenticate == NULL) {
            r->headers_out.www_authenticate = ho;
        }
    }

    return NGX_DECLINED;
}
