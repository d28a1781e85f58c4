
/*
 * Copyright (C) leadlist authors
 */


/* Small helpers every concern uses: ctx, request id, headers, log, conf. */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_leadlist.h"
#include "ngx_http_leadlist_util.h"


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


/* nginx's $request_id of the main request, read once; "-" without one */

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


/*
 * One error-log line about a request: "leadlist: ", the message, and the
 * request id that its answer carries too, so that the two can be matched.
 */

void
ngx_http_leadlist_log_error(ngx_uint_t level, ngx_http_request_t *r,
    const char *fmt, ...)
{
    u_char     *p, buf[NGX_MAX_ERROR_STR];
    va_list     args;
    ngx_log_t  *log;

    log = r->connection->log;

    if (log->log_level < level) {
        return;
    }

    va_start(args, fmt);
    p = ngx_vslprintf(buf, buf + sizeof(buf), fmt, args);
    va_end(args);

    ngx_log_error_core(level, log, 0, "leadlist: %*s, request_id: %V",
                       p - buf, buf, ngx_http_leadlist_request_id(r));
}


/*
 * ngx_conf_set_num_slot() with an ngx_conf_num_bounds_t in cmd->post
 * whose handler is ngx_http_leadlist_conf_check_bounds(): a word is
 * refused with the same message as a number out of bounds, one that
 * names the directive and both bounds.
 */

char *
ngx_http_leadlist_conf_set_num_slot(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char  *p = conf;

    ngx_int_t   *np;
    ngx_str_t   *value;

    np = (ngx_int_t *) (p + cmd->offset);
    value = cf->args->elts;

    if (*np == NGX_CONF_UNSET
        && ngx_atoi(value[1].data, value[1].len) == NGX_ERROR)
    {
        return ngx_http_leadlist_conf_check_bounds(cf, cmd->post, NULL);
    }

    return ngx_conf_set_num_slot(cf, cmd, conf);
}


char *
ngx_http_leadlist_conf_check_bounds(ngx_conf_t *cf, void *post, void *data)
{
    ngx_conf_num_bounds_t  *bounds = post;
    ngx_int_t              *np = data;

    ngx_str_t  *value;

    if (np && *np >= bounds->low && *np <= bounds->high) {
        return NGX_CONF_OK;
    }

    value = cf->args->elts;

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid value \"%V\" in \"%V\", "
                       "must be a number from %i to %i",
                       &value[1], &value[0], bounds->low, bounds->high);

    return NGX_CONF_ERROR;
}


/*
 * ngx_conf_set_sec_slot() with bounds, in seconds, from the
 * ngx_conf_num_bounds_t in cmd->post: a value nginx cannot read as a time
 * and one out of bounds get the same message, which names the directive
 * and both bounds.
 */

char *
ngx_http_leadlist_conf_set_sec_slot(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char  *p = conf;

    time_t                 *sp;
    ngx_int_t               t;
    ngx_str_t              *value;
    ngx_conf_num_bounds_t  *bounds;

    sp = (time_t *) (p + cmd->offset);

    if (*sp != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;
    bounds = cmd->post;

    t = ngx_parse_time(&value[1], 1);

    if (t == NGX_ERROR || t < bounds->low || t > bounds->high) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"%V\", "
                           "must be a time from %is to %is",
                           &value[1], &value[0], bounds->low, bounds->high);
        return NGX_CONF_ERROR;
    }

    *sp = (time_t) t;

    return NGX_CONF_OK;
}
