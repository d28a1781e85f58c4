
/*
 * Copyright (C) leadlist authors
 */


/* The module's wiring: directives, contexts, location conf, hooks. */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <jansson.h>

#include "ngx_http_leadlist.h"
#include "ngx_http_leadlist_auth.h"
#include "ngx_http_leadlist_body.h"
#include "ngx_http_leadlist_handler.h"
#include "ngx_http_leadlist_response.h"
#include "ngx_http_leadlist_syntax.h"
#include "ngx_http_leadlist_upstream.h"
#include "ngx_http_leadlist_util.h"
#include "ngx_http_leadlist_variables.h"


/* SPEC 3: how long an Idempotency-Key is remembered, 24h */
#define NGX_HTTP_LEADLIST_DEFAULT_IDEM_TTL  86400


static ngx_int_t ngx_http_leadlist_init_process(ngx_cycle_t *cycle);
static void ngx_http_leadlist_exit_process(ngx_cycle_t *cycle);
static void *ngx_http_leadlist_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_leadlist_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_leadlist_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_leadlist_postconfiguration(ngx_conf_t *cf);
static char *ngx_http_leadlist_add_prospects(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_leadlist_list_id(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_leadlist_auth_request(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_leadlist_header_name(ngx_conf_t *cf, void *post,
    void *data);


static ngx_conf_num_bounds_t  ngx_http_leadlist_keepalive_bounds = {
    ngx_http_leadlist_conf_check_bounds, 0, 65535
};

static ngx_conf_num_bounds_t  ngx_http_leadlist_conns_bounds = {
    ngx_http_leadlist_conf_check_bounds, 1, 65535
};

/* NGX_HTTP_LEADLIST_PIPELINE_MAX, statements on one connection at once */
static ngx_conf_num_bounds_t  ngx_http_leadlist_pipeline_bounds = {
    ngx_http_leadlist_conf_check_bounds, 1, 16
};

static ngx_conf_num_bounds_t  ngx_http_leadlist_requests_bounds = {
    ngx_http_leadlist_conf_check_bounds, 1, NGX_MAX_INT_T_VALUE
};

static ngx_conf_num_bounds_t  ngx_http_leadlist_list_bounds = {
    ngx_http_leadlist_conf_check_bounds, 1, 100000
};

/* seconds; the statement takes them as an integer */
static ngx_conf_num_bounds_t  ngx_http_leadlist_idem_ttl_bounds = {
    NULL, 1, NGX_MAX_INT32_VALUE
};


/*
 * leadlist_pg_keepalive_timeout closed every idle connection; now those
 * within leadlist_pg_keepalive stay, and only the ones beyond it time out
 */

static ngx_conf_deprecated_t  ngx_http_leadlist_old_keepalive_timeout = {
    ngx_conf_deprecated, "leadlist_pg_keepalive_timeout",
    "leadlist_pg_idle_timeout"
};


static ngx_conf_post_t  ngx_http_leadlist_header_name_post = {
    ngx_http_leadlist_header_name
};


/* as limit_req_log_level's: the levels a refused request may deserve */

static ngx_conf_enum_t  ngx_http_leadlist_log_levels[] = {
    { ngx_string("info"), NGX_LOG_INFO },
    { ngx_string("notice"), NGX_LOG_NOTICE },
    { ngx_string("warn"), NGX_LOG_WARN },
    { ngx_string("error"), NGX_LOG_ERR },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_http_leadlist_commands[] = {

    { ngx_string("leadlist_pg_server"),
      NGX_HTTP_UPS_CONF|NGX_CONF_TAKE1,
      ngx_http_leadlist_upstream_server,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("leadlist_pg_keepalive"),
      NGX_HTTP_UPS_CONF|NGX_CONF_TAKE1,
      ngx_http_leadlist_upstream_set_num_slot,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_leadlist_srv_conf_t, keepalive),
      &ngx_http_leadlist_keepalive_bounds },

    { ngx_string("leadlist_pg_max"),
      NGX_HTTP_UPS_CONF|NGX_CONF_TAKE1,
      ngx_http_leadlist_upstream_set_num_slot,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_leadlist_srv_conf_t, max),
      &ngx_http_leadlist_conns_bounds },

    { ngx_string("leadlist_pg_pipeline"),
      NGX_HTTP_UPS_CONF|NGX_CONF_TAKE1,
      ngx_http_leadlist_upstream_set_num_slot,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_leadlist_srv_conf_t, pipeline),
      &ngx_http_leadlist_pipeline_bounds },

    { ngx_string("leadlist_pg_queue"),
      NGX_HTTP_UPS_CONF|NGX_CONF_TAKE12,
      ngx_http_leadlist_upstream_queue,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("leadlist_pg_connect_concurrency"),
      NGX_HTTP_UPS_CONF|NGX_CONF_TAKE1,
      ngx_http_leadlist_upstream_set_num_slot,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_leadlist_srv_conf_t, connect_concurrency),
      &ngx_http_leadlist_conns_bounds },

    { ngx_string("leadlist_pg_connect_timeout"),
      NGX_HTTP_UPS_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_leadlist_srv_conf_t, connect_timeout),
      NULL },

    { ngx_string("leadlist_pg_query_timeout"),
      NGX_HTTP_UPS_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_leadlist_srv_conf_t, query_timeout),
      NULL },

    { ngx_string("leadlist_pg_idle_timeout"),
      NGX_HTTP_UPS_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_leadlist_srv_conf_t, idle_timeout),
      NULL },

    { ngx_string("leadlist_pg_keepalive_timeout"),
      NGX_HTTP_UPS_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_leadlist_srv_conf_t, idle_timeout),
      &ngx_http_leadlist_old_keepalive_timeout },

    { ngx_string("leadlist_pg_keepalive_time"),
      NGX_HTTP_UPS_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_leadlist_srv_conf_t, keepalive_time),
      NULL },

    { ngx_string("leadlist_pg_keepalive_requests"),
      NGX_HTTP_UPS_CONF|NGX_CONF_TAKE1,
      ngx_http_leadlist_upstream_set_num_slot,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_leadlist_srv_conf_t, keepalive_requests),
      &ngx_http_leadlist_requests_bounds },

    { ngx_string("leadlist_pg_adaptive"),
      NGX_HTTP_UPS_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_leadlist_srv_conf_t, adaptive),
      NULL },

    { ngx_string("leadlist_add_prospects"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_leadlist_add_prospects,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("leadlist_list_id"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_leadlist_list_id,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_leadlist_loc_conf_t, list_id),
      NULL },

    { ngx_string("leadlist_auth_request"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_leadlist_auth_request,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("leadlist_auth_user_header"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_leadlist_loc_conf_t, user_header),
      &ngx_http_leadlist_header_name_post },

    { ngx_string("leadlist_auth_org_header"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_leadlist_loc_conf_t, org_header),
      &ngx_http_leadlist_header_name_post },

    { ngx_string("leadlist_auth_role_header"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_leadlist_loc_conf_t, role_header),
      &ngx_http_leadlist_header_name_post },

    { ngx_string("leadlist_max_persons"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_leadlist_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_leadlist_loc_conf_t, max_persons),
      &ngx_http_leadlist_list_bounds },

    { ngx_string("leadlist_max_selection"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_leadlist_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_leadlist_loc_conf_t, max_selection),
      &ngx_http_leadlist_list_bounds },

    { ngx_string("leadlist_idempotency_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_leadlist_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_leadlist_loc_conf_t, idem_ttl),
      &ngx_http_leadlist_idem_ttl_bounds },

    { ngx_string("leadlist_client_error_log_level"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_leadlist_loc_conf_t, client_log_level),
      &ngx_http_leadlist_log_levels },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_leadlist_module_ctx = {
    ngx_http_leadlist_variables_add,       /* preconfiguration */
    ngx_http_leadlist_postconfiguration,   /* postconfiguration */

    ngx_http_leadlist_create_main_conf,    /* create main configuration */
    NULL,                                  /* init main configuration */

    ngx_http_leadlist_upstream_create_conf, /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_leadlist_create_loc_conf,     /* create location configuration */
    ngx_http_leadlist_merge_loc_conf       /* merge location configuration */
};


ngx_module_t  ngx_http_leadlist_module = {
    NGX_MODULE_V1,
    &ngx_http_leadlist_module_ctx,         /* module context */
    ngx_http_leadlist_commands,            /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_leadlist_init_process,        /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_leadlist_exit_process,        /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_int_t
ngx_http_leadlist_init_process(ngx_cycle_t *cycle)
{
    /*
     * jansson seeds its hash function once per process; a seed chosen
     * after fork differs per worker, so that a client cannot precompute
     * colliding member names that would turn object parsing quadratic
     */

    json_object_seed(0);

    return ngx_http_leadlist_upstream_init_process(cycle);
}


static void
ngx_http_leadlist_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_leadlist_body_cleanup();
    ngx_http_leadlist_upstream_exit_process(cycle);
}


static void *
ngx_http_leadlist_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_leadlist_main_conf_t  *lmcf;

    lmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_leadlist_main_conf_t));
    if (lmcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&lmcf->upstreams, cf->pool, 4,
                       sizeof(ngx_http_leadlist_srv_conf_t *))
        != NGX_OK)
    {
        return NULL;
    }

    lmcf->request_id_index = NGX_ERROR;

    return lmcf;
}


static void *
ngx_http_leadlist_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_leadlist_loc_conf_t  *llcf;

    llcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_leadlist_loc_conf_t));
    if (llcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     llcf->upstream = NULL;
     *     llcf->auth_uri = { 0, NULL };
     *     llcf->user_header = { 0, NULL };
     *     llcf->org_header = { 0, NULL };
     *     llcf->role_header = { 0, NULL };
     *     llcf->file = NULL;
     *     llcf->core = NULL;
     */

    llcf->list_id = NGX_CONF_UNSET_PTR;
    llcf->max_persons = NGX_CONF_UNSET_UINT;
    llcf->max_selection = NGX_CONF_UNSET_UINT;
    llcf->idem_ttl = NGX_CONF_UNSET;
    llcf->client_log_level = NGX_CONF_UNSET_UINT;
    llcf->line = NGX_CONF_UNSET_UINT;

    return llcf;
}


static char *
ngx_http_leadlist_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_leadlist_loc_conf_t *prev = parent;
    ngx_http_leadlist_loc_conf_t *conf = child;

    ngx_http_core_loc_conf_t  *clcf;

    ngx_conf_merge_str_value(conf->auth_uri, prev->auth_uri, "");
    ngx_conf_merge_str_value(conf->user_header, prev->user_header,
                             "X-User-Id");
    ngx_conf_merge_str_value(conf->org_header, prev->org_header, "X-Org-Id");
    ngx_conf_merge_str_value(conf->role_header, prev->role_header,
                             "X-User-Role");
    ngx_conf_merge_uint_value(conf->max_persons, prev->max_persons,
                              NGX_HTTP_LEADLIST_DEFAULT_MAX);
    ngx_conf_merge_uint_value(conf->max_selection, prev->max_selection,
                              NGX_HTTP_LEADLIST_DEFAULT_MAX);
    ngx_conf_merge_sec_value(conf->idem_ttl, prev->idem_ttl,
                             NGX_HTTP_LEADLIST_DEFAULT_IDEM_TTL);

    /* error: SPEC 1.5 has every answer's requestId found in the log */

    ngx_conf_merge_uint_value(conf->client_log_level, prev->client_log_level,
                              NGX_LOG_ERR);

    /* the core module's merge is done: a location below compares with it */

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    conf->core = clcf;

    if (conf->upstream == NULL) {
        ngx_conf_merge_ptr_value(conf->list_id, prev->list_id, NULL);
        return NGX_CONF_OK;
    }

    /* an endpoint is checked where it is declared, not where it is used */

    if (conf->list_id == NGX_CONF_UNSET_PTR) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"leadlist_add_prospects\" needs \"leadlist_list_id\" "
                      "in %s:%ui", conf->file, conf->line);
        return NGX_CONF_ERROR;
    }

    if (conf->auth_uri.len == 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"leadlist_add_prospects\" needs "
                      "\"leadlist_auth_request\" in %s:%ui",
                      conf->file, conf->line);
        return NGX_CONF_ERROR;
    }

    /*
     * nginx checks Content-Length against client_max_body_size before
     * any module runs; the endpoint takes the limit over, so that a
     * caller is authenticated first
     */

    conf->max_body = clcf->client_max_body_size;
    clcf->client_max_body_size = 0;

    /*
     * the error pages nginx makes here are rewritten into the JSON
     * envelope, but an error_page inherited from the server (the stock
     * "error_page 500 502 503 504 /50x.html") would redirect them to its
     * HTML page first; one written in this location is the operator's
     */

    if (prev->core && clcf->error_pages == prev->core->error_pages) {
        clcf->error_pages = NULL;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_leadlist_postconfiguration(ngx_conf_t *cf)
{
    ngx_str_t                       name = ngx_string("request_id");
    ngx_http_handler_pt            *h;
    ngx_http_core_main_conf_t      *cmcf;
    ngx_http_leadlist_main_conf_t  *lmcf;

    lmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_leadlist_module);

    lmcf->request_id_index = ngx_http_get_variable_index(cf, &name);
    if (lmcf->request_id_index == NGX_ERROR) {
        return NGX_ERROR;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_leadlist_auth_handler;

    if (ngx_http_leadlist_handler_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_leadlist_response_init(cf);
}


static char *
ngx_http_leadlist_add_prospects(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_leadlist_loc_conf_t *llcf = conf;

    ngx_str_t                 *value;
    ngx_http_core_loc_conf_t  *clcf;

    if (llcf->upstream) {
        return "is duplicate";
    }

    value = cf->args->elts;

    llcf->upstream = ngx_http_leadlist_upstream_add(cf, &value[1]);
    if (llcf->upstream == NULL) {
        return NGX_CONF_ERROR;
    }

    llcf->file = cf->conf_file->file.name.data;
    llcf->line = cf->conf_file->line;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_leadlist_handler;

    return NGX_CONF_OK;
}


/*
 * A value with variables may come out wrong for some requests, which is
 * the client's doing; a constant one that is not a valid id would answer
 * every request with a 400 that blames the client's leadListId.
 */

static char *
ngx_http_leadlist_list_id(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char                      *rv;
    ngx_str_t                 *value;
    ngx_http_complex_value_t  *cv;

    rv = ngx_http_set_complex_value_slot(cf, cmd, conf);

    if (rv != NGX_CONF_OK) {
        return rv;
    }

    cv = *(ngx_http_complex_value_t **) ((char *) conf + cmd->offset);

    if (cv->lengths == NULL
        && !ngx_http_leadlist_list_id_ok(cv->value.data, cv->value.len))
    {
        value = cf->args->elts;

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid list id \"%V\" in \"%V\" directive, "
                           "it must be 1 to 64 characters of "
                           "[A-Za-z0-9_-]", &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_leadlist_auth_request(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_leadlist_loc_conf_t *llcf = conf;

    ngx_str_t  *value;

    if (llcf->auth_uri.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0 || value[1].data[0] != '/') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" must be a URI that starts with \"/\", "
                           "not \"%V\"", &cmd->name, &value[1]);
        return NGX_CONF_ERROR;
    }

    llcf->auth_uri = value[1];

    return NGX_CONF_OK;
}


/*
 * The post handler of the leadlist_auth_*_header directives: the identity
 * is read from the auth response's header of this name, and a name no
 * header field can have (empty, or not an RFC 9110 token) would answer
 * every request with a 401 or, for the role, every admin with a 403.
 */

static char *
ngx_http_leadlist_header_name(ngx_conf_t *cf, void *post, void *data)
{
    ngx_str_t  *name = data;

    ngx_str_t  *value;

    if (ngx_http_leadlist_header_name_ok(name->data, name->len)) {
        return NGX_CONF_OK;
    }

    value = cf->args->elts;

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid header name \"%V\" in \"%V\" directive",
                       name, &value[0]);

    return NGX_CONF_ERROR;
}
