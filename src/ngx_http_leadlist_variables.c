
/*
 * Copyright (C) leadlist authors
 */


/* The embedded variables of the access log: who, what, what it cost. */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_leadlist.h"
#include "ngx_http_leadlist_pool.h"
#include "ngx_http_leadlist_statement.h"
#include "ngx_http_leadlist_syntax.h"
#include "ngx_http_leadlist_variables.h"


/*
 * Embedded variables for log_format: who called, on which list, what
 * came of it, and what the pool spent on it.  Each one is the empty
 * string while it is not known (before authentication, for a request
 * that never reached PostgreSQL, outside endpoint locations): never "-"
 * in the access log, never an "uninitialized variable" warning.
 */


#define NGX_HTTP_LEADLIST_VARIABLES_WAIT       0
#define NGX_HTTP_LEADLIST_VARIABLES_STATEMENT  1


typedef struct {
    ngx_uint_t                    status;
    ngx_str_t                     outcome;
} ngx_http_leadlist_variables_status_t;


static ngx_int_t ngx_http_leadlist_variables_str(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_leadlist_variables_outcome(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_leadlist_variables_count(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_leadlist_variables_time(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_leadlist_variables_server(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_leadlist_variables_value(
    ngx_http_variable_value_t *v, ngx_str_t *value);


static ngx_http_variable_t  ngx_http_leadlist_variables[] = {

    { ngx_string("leadlist_org_id"), NULL,
      ngx_http_leadlist_variables_str,
      offsetof(ngx_http_leadlist_ctx_t, org_id),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("leadlist_user_id"), NULL,
      ngx_http_leadlist_variables_str,
      offsetof(ngx_http_leadlist_ctx_t, user_id),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("leadlist_list_id"), NULL,
      ngx_http_leadlist_variables_str,
      offsetof(ngx_http_leadlist_ctx_t, list_id),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("leadlist_outcome"), NULL,
      ngx_http_leadlist_variables_outcome, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("leadlist_added"), NULL,
      ngx_http_leadlist_variables_count,
      offsetof(ngx_http_leadlist_ctx_t, added),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("leadlist_selected"), NULL,
      ngx_http_leadlist_variables_count,
      offsetof(ngx_http_leadlist_ctx_t, selected),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("leadlist_pool_wait_time"), NULL,
      ngx_http_leadlist_variables_time, NGX_HTTP_LEADLIST_VARIABLES_WAIT,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("leadlist_statement_time"), NULL,
      ngx_http_leadlist_variables_time, NGX_HTTP_LEADLIST_VARIABLES_STATEMENT,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("leadlist_server"), NULL,
      ngx_http_leadlist_variables_server, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


/*
 * The outcome of an answer that PostgreSQL did not decide: the error
 * code of the JSON body, in lower case, or what nginx says of it
 */

static ngx_http_leadlist_variables_status_t
    ngx_http_leadlist_variables_statuses[] =
{
    { NGX_HTTP_BAD_REQUEST, ngx_string("bad_request") },
    { NGX_HTTP_UNAUTHORIZED, ngx_string("unauthorized") },
    { NGX_HTTP_FORBIDDEN, ngx_string("forbidden") },
    { NGX_HTTP_NOT_FOUND, ngx_string("not_found") },
    { NGX_HTTP_NOT_ALLOWED, ngx_string("method_not_allowed") },
    { NGX_HTTP_REQUEST_TIME_OUT, ngx_string("request_timeout") },
    { NGX_HTTP_CONFLICT, ngx_string("conflict") },
    { NGX_HTTP_LENGTH_REQUIRED, ngx_string("length_required") },
    { NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, ngx_string("payload_too_large") },
    { 422, ngx_string("unprocessable_content") },
    { NGX_HTTP_CLIENT_CLOSED_REQUEST, ngx_string("client_closed") },
    { NGX_HTTP_SERVICE_UNAVAILABLE, ngx_string("service_unavailable") },
    { 0, ngx_null_string }
};


static ngx_str_t  ngx_http_leadlist_variables_4xx =
    ngx_string("bad_request");
static ngx_str_t  ngx_http_leadlist_variables_5xx =
    ngx_string("internal_error");


ngx_int_t
ngx_http_leadlist_variables_add(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_leadlist_variables; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


void
ngx_http_leadlist_variables_set_result(ngx_http_request_t *r,
    ngx_http_leadlist_result_t *result)
{
    ngx_http_leadlist_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_leadlist_module);

    switch (result->outcome) {

    case NGX_HTTP_LEADLIST_OUTCOME_OK:
        ctx->added = result->added;
        ctx->selected = result->selected;

        /* a replayed answer added nothing this time */
        ctx->counted = !result->replayed;

        /*
         * A 200 honoured every preference: with tx=rollback its counts
         * say what would have been added, and nothing was.  The log
         * keeps the counts the client was told, but must not read as
         * an add; the metrics leave them out, as they do a replay's.
         * A replay (never of a dry run: those are not recorded) added
         * nothing either, and says so.
         */

        if (result->replayed) {
            ngx_str_set(&ctx->outcome, "replayed");

        } else if (ctx->prefer & NGX_HTTP_LEADLIST_PREFER_ROLLBACK) {
            ngx_str_set(&ctx->outcome, "dry_run");

        } else {
            ngx_str_set(&ctx->outcome, "added");
        }

        break;

    case NGX_HTTP_LEADLIST_OUTCOME_FAILED:

        /* the answer's status says it */
        break;

    default:
        ctx->outcome = *ngx_http_leadlist_statement_word(result->outcome);
        break;
    }
}


/*
 * The status an answer counts as.  A client that left while sending its
 * body makes nginx end the request with a 400 it never sends; it is a
 * client that left (499), as when it leaves later, not a bad request.
 */

ngx_uint_t
ngx_http_leadlist_variables_status(ngx_http_request_t *r)
{
    ngx_uint_t  status;

    status = r->err_status ? r->err_status : r->headers_out.status;

    if (status == NGX_HTTP_BAD_REQUEST && r->connection->error
        && !r->header_sent)
    {
        return NGX_HTTP_CLIENT_CLOSED_REQUEST;
    }

    return status;
}


static ngx_int_t
ngx_http_leadlist_variables_str(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_leadlist_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_leadlist_module);

    if (ctx == NULL) {
        return ngx_http_leadlist_variables_value(v, NULL);
    }

    return ngx_http_leadlist_variables_value(v,
                                       (ngx_str_t *) ((u_char *) ctx + data));
}


/*
 * What the statement decided, when it ran (added, dry_run, not_found,
 * forbidden, company_list, ...), else what the status says, in endpoint
 * locations
 */

static ngx_int_t
ngx_http_leadlist_variables_outcome(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_uint_t                           status;
    ngx_http_leadlist_ctx_t             *ctx;
    ngx_http_leadlist_loc_conf_t        *llcf;
    ngx_http_leadlist_variables_status_t  *so;

    r = r->main;

    ctx = ngx_http_get_module_ctx(r, ngx_http_leadlist_module);

    if (ctx && ctx->outcome.len) {
        return ngx_http_leadlist_variables_value(v, &ctx->outcome);
    }

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_leadlist_module);
    status = ngx_http_leadlist_variables_status(r);

    if (llcf->upstream == NULL || status < NGX_HTTP_BAD_REQUEST) {
        return ngx_http_leadlist_variables_value(v, NULL);
    }

    for (so = ngx_http_leadlist_variables_statuses; so->status; so++) {
        if (so->status == status) {
            return ngx_http_leadlist_variables_value(v, &so->outcome);
        }
    }

    return ngx_http_leadlist_variables_value(v,
               status < NGX_HTTP_INTERNAL_SERVER_ERROR
               ? &ngx_http_leadlist_variables_4xx
               : &ngx_http_leadlist_variables_5xx);
}


static ngx_int_t
ngx_http_leadlist_variables_count(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t                 value;
    ngx_http_leadlist_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_leadlist_module);

    if (ctx == NULL || !ctx->counted) {
        return ngx_http_leadlist_variables_value(v, NULL);
    }

    value.data = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (value.data == NULL) {
        return NGX_ERROR;
    }

    value.len = ngx_sprintf(value.data, "%ui",
                            *(ngx_uint_t *) ((u_char *) ctx + data))
                - value.data;

    return ngx_http_leadlist_variables_value(v, &value);
}


/* seconds with milliseconds, as $upstream_response_time says them */

static ngx_int_t
ngx_http_leadlist_variables_time(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t                   value;
    ngx_msec_t                  ms;
    ngx_http_leadlist_ctx_t    *ctx;
    ngx_http_leadlist_query_t  *q;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_leadlist_module);
    q = ctx ? ctx->query : NULL;

    if (q == NULL) {
        return ngx_http_leadlist_variables_value(v, NULL);
    }

    if (data == NGX_HTTP_LEADLIST_VARIABLES_WAIT) {
        if (!q->waited) {
            return ngx_http_leadlist_variables_value(v, NULL);
        }

        ms = q->wait_time;

    } else {
        if (!q->timed) {
            return ngx_http_leadlist_variables_value(v, NULL);
        }

        ms = (ngx_msec_t) ((q->statement_time + 500) / 1000);
    }

    value.data = ngx_pnalloc(r->pool, NGX_TIME_T_LEN + 4);
    if (value.data == NULL) {
        return NGX_ERROR;
    }

    value.len = ngx_sprintf(value.data, "%M.%03M", ms / 1000, ms % 1000)
                - value.data;

    return ngx_http_leadlist_variables_value(v, &value);
}


static ngx_int_t
ngx_http_leadlist_variables_server(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_leadlist_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_leadlist_module);

    if (ctx == NULL || ctx->query == NULL) {
        return ngx_http_leadlist_variables_value(v, NULL);
    }

    return ngx_http_leadlist_variables_value(v, ctx->query->server);
}


/* value NULL or empty: the empty string */

static ngx_int_t
ngx_http_leadlist_variables_value(ngx_http_variable_value_t *v,
    ngx_str_t *value)
{
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    if (value == NULL || value->len == 0) {
        v->len = 0;
        v->data = (u_char *) "";
        return NGX_OK;
    }

    v->len = value->len;
    v->data = value->data;

    return NGX_OK;
}
