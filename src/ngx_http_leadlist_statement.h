
/*
 * Copyright (C) leadlist authors
 */


/* The endpoint's one statement: SQL, parameters, its row as an outcome. */


#ifndef _NGX_HTTP_LEADLIST_STATEMENT_H_INCLUDED_
#define _NGX_HTTP_LEADLIST_STATEMENT_H_INCLUDED_


#include "ngx_http_leadlist.h"


/* what leadlist.add_prospects() answered, in the order the SQL checks */

typedef enum {
    NGX_HTTP_LEADLIST_OUTCOME_OK = 0,
    NGX_HTTP_LEADLIST_OUTCOME_NOT_FOUND,
    NGX_HTTP_LEADLIST_OUTCOME_FORBIDDEN,
    NGX_HTTP_LEADLIST_OUTCOME_COMPANY_LIST,
    NGX_HTTP_LEADLIST_OUTCOME_SEARCH_NOT_FOUND,
    NGX_HTTP_LEADLIST_OUTCOME_SEARCH_INVALID,
    NGX_HTTP_LEADLIST_OUTCOME_SELECTION_TOO_LARGE,
    NGX_HTTP_LEADLIST_OUTCOME_IDEM_IN_PROGRESS,
    NGX_HTTP_LEADLIST_OUTCOME_IDEM_MISMATCH,
    NGX_HTTP_LEADLIST_OUTCOME_FAILED         /* none: status says why */
} ngx_http_leadlist_outcome_e;


typedef struct {
    ngx_http_leadlist_outcome_e   outcome;
    ngx_uint_t                    status;     /* FAILED: 500 or 503 */
    ngx_uint_t                    added;      /* OK */
    ngx_uint_t                    selected;   /* OK, SELECTION_TOO_LARGE */
    ngx_str_t                     response;   /* OK: the 200 body, in
                                                 the request's pool */
    unsigned                      replayed:1; /* the answer recorded for
                                                 the Idempotency-Key */
} ngx_http_leadlist_result_t;


typedef void (*ngx_http_leadlist_statement_pt)(ngx_http_request_t *r,
    ngx_http_leadlist_result_t *result);


/*
 * Runs the statement for the caller in r's ctx (identity, list id,
 * Prefer flags, Idempotency-Key) with body (validated, NUL-terminated,
 * in r->pool).  NGX_AGAIN: done() will be called once,
 * from a posted event, unless the request goes away first; else the
 * status to answer (500, 503), already logged.  A FAILED result was
 * logged too.
 */

ngx_int_t ngx_http_leadlist_statement_run(ngx_http_request_t *r,
    u_char *body, ngx_http_leadlist_statement_pt done);

/* the outcome column's word for an outcome (not FAILED) */
ngx_str_t *ngx_http_leadlist_statement_word(
    ngx_http_leadlist_outcome_e outcome);


#endif /* _NGX_HTTP_LEADLIST_STATEMENT_H_INCLUDED_ */
