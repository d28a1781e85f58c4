
/*
 * Copyright (C) leadlist authors
 */


/* The endpoint's one statement: SQL, parameters, its row as an outcome. */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_leadlist.h"
#include "ngx_http_leadlist_pool.h"
#include "ngx_http_leadlist_statement.h"
#include "ngx_http_leadlist_upstream.h"
#include "ngx_http_leadlist_util.h"
#include "ngx_http_leadlist_variables.h"


/* the parameters of leadlist.add_prospects(), in their SQL order */

enum {
    NGX_HTTP_LEADLIST_PARAM_ORG = 0,
    NGX_HTTP_LEADLIST_PARAM_USER,
    NGX_HTTP_LEADLIST_PARAM_ADMIN,
    NGX_HTTP_LEADLIST_PARAM_LIST,
    NGX_HTTP_LEADLIST_PARAM_BODY,
    NGX_HTTP_LEADLIST_PARAM_MAX_SELECTION,
    NGX_HTTP_LEADLIST_PARAM_FLAGS,
    NGX_HTTP_LEADLIST_PARAM_IDEM_KEY,
    NGX_HTTP_LEADLIST_PARAM_IDEM_TTL,
    NGX_HTTP_LEADLIST_NPARAMS
};


/* and the columns of its one row */

enum {
    NGX_HTTP_LEADLIST_COLUMN_OUTCOME = 0,
    NGX_HTTP_LEADLIST_COLUMN_ADDED,
    NGX_HTTP_LEADLIST_COLUMN_SELECTED,
    NGX_HTTP_LEADLIST_COLUMN_RESPONSE,
    NGX_HTTP_LEADLIST_COLUMN_REPLAYED,
    NGX_HTTP_LEADLIST_NCOLUMNS
};


typedef struct {
    ngx_http_leadlist_query_t       query;
    const char                     *values[NGX_HTTP_LEADLIST_NPARAMS];
    ngx_http_leadlist_statement_pt  done;
} ngx_http_leadlist_statement_t;


static ngx_int_t ngx_http_leadlist_statement_params(ngx_http_request_t *r,
    ngx_http_leadlist_statement_t *st, u_char *body);
static void ngx_http_leadlist_statement_cleanup(void *data);
static void ngx_http_leadlist_statement_done(ngx_http_leadlist_query_t *q);
static ngx_int_t ngx_http_leadlist_statement_decode(ngx_http_request_t *r,
    PGresult *res, ngx_http_leadlist_result_t *result);
static ngx_int_t ngx_http_leadlist_statement_number(PGresult *res, int col,
    ngx_uint_t *n);


static ngx_http_leadlist_stmt_t  ngx_http_leadlist_statement = {
    "leadlist_add_prospects_2",
    "SELECT outcome, added_count, selected_count, response, replayed "
    "FROM leadlist.add_prospects($1::text, $2::text, $3::boolean, "
    "$4::text, $5::jsonb, $6::integer, $7::integer, $8::text, $9::integer)",
    NGX_HTTP_LEADLIST_NPARAMS
};


/* the outcome column's words, in the order of ngx_http_leadlist_outcome_e */

static ngx_str_t  ngx_http_leadlist_statement_outcomes[] = {
    ngx_string("ok"),
    ngx_string("not_found"),
    ngx_string("forbidden"),
    ngx_string("company_list"),
    ngx_string("search_not_found"),
    ngx_string("search_invalid"),
    ngx_string("selection_too_large"),
    ngx_string("idempotency_in_progress"),
    ngx_string("idempotency_mismatch")
};


ngx_int_t
ngx_http_leadlist_statement_run(ngx_http_request_t *r, u_char *body,
    ngx_http_leadlist_statement_pt done)
{
    ngx_pool_cleanup_t             *cln;
    ngx_http_leadlist_ctx_t        *ctx;
    ngx_http_leadlist_statement_t  *st;
    ngx_http_leadlist_loc_conf_t   *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_leadlist_module);
    ctx = ngx_http_get_module_ctx(r, ngx_http_leadlist_module);

    st = ngx_pcalloc(r->pool, sizeof(ngx_http_leadlist_statement_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);

    if (st == NULL || cln == NULL
        || ngx_http_leadlist_statement_params(r, st, body) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    st->done = done;

    st->query.request = r;
    st->query.conf = ngx_http_conf_upstream_srv_conf(llcf->upstream,
                                                     ngx_http_leadlist_module);
    st->query.stmt = &ngx_http_leadlist_statement;
    st->query.values = st->values;
    st->query.handler = ngx_http_leadlist_statement_done;
    st->query.data = st;

    /* what the pool spent on it is for the access log too */

    ctx->query = &st->query;

    /* the one hook that runs however the request ends */

    cln->handler = ngx_http_leadlist_statement_cleanup;
    cln->data = &st->query;

    return ngx_http_leadlist_pool_run(&st->query);
}


ngx_str_t *
ngx_http_leadlist_statement_word(ngx_http_leadlist_outcome_e outcome)
{
    return &ngx_http_leadlist_statement_outcomes[outcome];
}


static ngx_int_t
ngx_http_leadlist_statement_params(ngx_http_request_t *r,
    ngx_http_leadlist_statement_t *st, u_char *body)
{
    u_char                        *max, *flags, *ttl;
    ngx_http_leadlist_ctx_t       *ctx;
    ngx_http_leadlist_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_leadlist_module);
    ctx = ngx_http_get_module_ctx(r, ngx_http_leadlist_module);

    /* the three numbers as text, one after the other */

    max = ngx_pnalloc(r->pool, 3 * (NGX_INT_T_LEN + 1));
    if (max == NULL) {
        return NGX_ERROR;
    }

    flags = ngx_sprintf(max, "%ui%Z", llcf->max_selection);
    ttl = ngx_sprintf(flags, "%ui%Z", ctx->prefer);
    ngx_sprintf(ttl, "%T%Z", llcf->idem_ttl);

    st->values[NGX_HTTP_LEADLIST_PARAM_ORG] = (char *) ctx->org_id.data;
    st->values[NGX_HTTP_LEADLIST_PARAM_USER] = (char *) ctx->user_id.data;
    st->values[NGX_HTTP_LEADLIST_PARAM_ADMIN] = ctx->is_admin ? "t" : "f";
    st->values[NGX_HTTP_LEADLIST_PARAM_LIST] = (char *) ctx->list_id.data;
    st->values[NGX_HTTP_LEADLIST_PARAM_BODY] = (char *) body;
    st->values[NGX_HTTP_LEADLIST_PARAM_MAX_SELECTION] = (char *) max;
    st->values[NGX_HTTP_LEADLIST_PARAM_FLAGS] = (char *) flags;

    /* no key: SQL NULL */
    st->values[NGX_HTTP_LEADLIST_PARAM_IDEM_KEY] = (char *) ctx->idem_key.data;
    st->values[NGX_HTTP_LEADLIST_PARAM_IDEM_TTL] = (char *) ttl;

    return NGX_OK;
}


static void
ngx_http_leadlist_statement_cleanup(void *data)
{
    ngx_http_leadlist_query_t  *q = data;

    ngx_http_leadlist_pool_detach(q);

    if (q->result) {
        PQclear(q->result);
        q->result = NULL;
    }
}


static void
ngx_http_leadlist_statement_done(ngx_http_leadlist_query_t *q)
{
    ngx_http_leadlist_result_t      result;
    ngx_http_leadlist_statement_t  *st;

    st = q->data;

    ngx_memzero(&result, sizeof(ngx_http_leadlist_result_t));

    if (q->status) {
        result.outcome = NGX_HTTP_LEADLIST_OUTCOME_FAILED;
        result.status = q->status;

    } else if (ngx_http_leadlist_statement_decode(q->request, q->result,
                                                  &result)
               != NGX_OK)
    {
        ngx_http_leadlist_log_error(NGX_LOG_ERR, q->request,
                                    "unexpected result from add_prospects");

        result.outcome = NGX_HTTP_LEADLIST_OUTCOME_FAILED;
        result.status = NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_leadlist_variables_set_result(q->request, &result);

    if (q->result) {
        PQclear(q->result);
        q->result = NULL;
    }

    st->done(q->request, &result);
}


static ngx_int_t
ngx_http_leadlist_statement_decode(ngx_http_request_t *r, PGresult *res,
    ngx_http_leadlist_result_t *result)
{
    int         col;
    ngx_str_t   word;
    ngx_uint_t  i, n;

    if (PQntuples(res) != 1 || PQnfields(res) != NGX_HTTP_LEADLIST_NCOLUMNS) {
        return NGX_ERROR;
    }

    word.data = (u_char *) PQgetvalue(res, 0,
                                      NGX_HTTP_LEADLIST_COLUMN_OUTCOME);
    word.len = PQgetlength(res, 0, NGX_HTTP_LEADLIST_COLUMN_OUTCOME);

    n = sizeof(ngx_http_leadlist_statement_outcomes) / sizeof(ngx_str_t);

    for (i = 0; i < n; i++) {
        if (ngx_http_leadlist_statement_outcomes[i].len == word.len
            && ngx_strncmp(ngx_http_leadlist_statement_outcomes[i].data,
                           word.data, word.len)
               == 0)
        {
            break;
        }
    }

    if (i == n) {
        return NGX_ERROR;
    }

    result->outcome = i;
    result->replayed = (*PQgetvalue(res, 0, NGX_HTTP_LEADLIST_COLUMN_REPLAYED)
                        == 't');

    switch (result->outcome) {

    case NGX_HTTP_LEADLIST_OUTCOME_OK:

        /* the 200 body, sent as it is: it outlives the PGresult */

        col = NGX_HTTP_LEADLIST_COLUMN_RESPONSE;

        if (PQgetisnull(res, 0, col)) {
            return NGX_ERROR;
        }

        result->response.len = PQgetlength(res, 0, col);
        result->response.data = ngx_pnalloc(r->pool, result->response.len);

        if (result->response.data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(result->response.data, PQgetvalue(res, 0, col),
                   result->response.len);

        if (ngx_http_leadlist_statement_number(res,
                NGX_HTTP_LEADLIST_COLUMN_ADDED, &result->added)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        /* fall through */

    case NGX_HTTP_LEADLIST_OUTCOME_SELECTION_TOO_LARGE:
        return ngx_http_leadlist_statement_number(res,
                   NGX_HTTP_LEADLIST_COLUMN_SELECTED, &result->selected);

    default:
        return NGX_OK;
    }
}


static ngx_int_t
ngx_http_leadlist_statement_number(PGresult *res, int col, ngx_uint_t *n)
{
    ngx_int_t  v;

    v = ngx_atoi((u_char *) PQgetvalue(res, 0, col), PQgetlength(res, 0, col));
    if (v == NGX_ERROR) {
        return NGX_ERROR;
    }

    *n = v;

    return NGX_OK;
}
