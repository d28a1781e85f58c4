
/*
 * Copyright (C) leadlist authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <jansson.h>

#include "ngx_http_leadlist.h"
#include "ngx_http_leadlist_auth.h"
#include "ngx_http_leadlist_handler.h"
#include "ngx_http_leadlist_pg.h"
#include "ngx_http_leadlist_response.h"


#define NGX_HTTP_LEADLIST_STMT_MARGIN  500


typedef struct {
    ngx_uint_t                    low;
    ngx_uint_t                    high;
} ngx_http_leadlist_bounds_t;


static ngx_int_t ngx_http_leadlist_init_process(ngx_cycle_t *cycle);
static void ngx_http_leadlist_exit_process(ngx_cycle_t *cycle);
static void *ngx_http_leadlist_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_leadlist_create_srv_conf(ngx_conf_t *cf);
static void *ngx_http_leadlist_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_leadlist_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_leadlist_postconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_leadlist_init_upstream(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *us);
static ngx_int_t ngx_http_leadlist_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us);
static ngx_int_t ngx_http_leadlist_finish_server(ngx_conf_t *cf,
    ngx_http_leadlist_srv_conf_t *lscf, ngx_http_leadlist_server_t *server);
static ngx_int_t ngx_http_leadlist_statement_timeout(ngx_str_t *options,
    ngx_msec_t *timeout);
static ngx_int_t ngx_http_leadlist_resolve_hosts(ngx_conf_t *cf,
    ngx_str_t *hosts, ngx_str_t *addrs);
static char *ngx_http_leadlist_pg_server(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_leadlist_pg_queue(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_leadlist_add_prospects(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_leadlist_auth_request(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_leadlist_set_bounded_num(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_http_leadlist_srv_conf_t *ngx_http_leadlist_upstream_conf(
    ngx_conf_t *cf);
static char *ngx_http_leadlist_strdup(ngx_pool_t *pool, const char *s);


static ngx_http_leadlist_bounds_t  ngx_http_leadlist_keepalive_bounds = {
    0, 65535
};

static ngx_http_leadlist_bounds_t  ngx_http_leadlist_max_bounds = {
    1, 65535
};

static ngx_http_leadlist_bounds_t  ngx_http_leadlist_requests_bounds = {
    1, NGX_MAX_INT_T_VALUE
};

static ngx_http_leadlist_bounds_t  ngx_http_leadlist_persons_bounds = {
    1, 100000
};

static ngx_http_leadlist_bounds_t  ngx_http_leadlist_selection_bounds = {
    1, 100000
};


static ngx_command_t  ngx_http_leadlist_commands[] = {

    { ngx_string("leadlist_pg_server"),
      NGX_HTTP_UPS_CONF|NGX_CONF_TAKE1,
      ngx_http_leadlist_pg_server,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("leadlist_pg_keepalive"),
      NGX_HTTP_UPS_CONF|NGX_CONF_TAKE1,
      ngx_http_leadlist_set_bounded_num,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_leadlist_srv_conf_t, keepalive),
      &ngx_http_leadlist_keepalive_bounds },

    { ngx_string("leadlist_pg_max"),
      NGX_HTTP_UPS_CONF|NGX_CONF_TAKE1,
      ngx_http_leadlist_set_bounded_num,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_leadlist_srv_conf_t, max),
      &ngx_http_leadlist_max_bounds },

    { ngx_string("leadlist_pg_queue"),
      NGX_HTTP_UPS_CONF|NGX_CONF_TAKE12,
      ngx_http_leadlist_pg_queue,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("leadlist_pg_connect_concurrency"),
      NGX_HTTP_UPS_CONF|NGX_CONF_TAKE1,
      ngx_http_leadlist_set_bounded_num,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_leadlist_srv_conf_t, connect_concurrency),
      &ngx_http_leadlist_max_bounds },

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

    { ngx_string("leadlist_pg_keepalive_timeout"),
      NGX_HTTP_UPS_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_leadlist_srv_conf_t, keepalive_timeout),
      NULL },

    { ngx_string("leadlist_pg_keepalive_time"),
      NGX_HTTP_UPS_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_leadlist_srv_conf_t, keepalive_time),
      NULL },

    { ngx_string("leadlist_pg_keepalive_requests"),
      NGX_HTTP_UPS_CONF|NGX_CONF_TAKE1,
      ngx_http_leadlist_set_bounded_num,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_leadlist_srv_conf_t, keepalive_requests),
      &ngx_http_leadlist_requests_bounds },

    { ngx_string("leadlist_add_prospects"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_leadlist_add_prospects,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("leadlist_list_id"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
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
      NULL },

    { ngx_string("leadlist_auth_org_header"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_leadlist_loc_conf_t, org_header),
      NULL },

    { ngx_string("leadlist_auth_role_header"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_leadlist_loc_conf_t, role_header),
      NULL },

    { ngx_string("leadlist_max_persons"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_leadlist_set_bounded_num,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_leadlist_loc_conf_t, max_persons),
      &ngx_http_leadlist_persons_bounds },

    { ngx_string("leadlist_max_selection"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_leadlist_set_bounded_num,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_leadlist_loc_conf_t, max_selection),
      &ngx_http_leadlist_selection_bounds },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_leadlist_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_leadlist_postconfiguration,   /* postconfiguration */

    ngx_http_leadlist_create_main_conf,    /* create main configuration */
    NULL,                                  /* init main configuration */

    ngx_http_leadlist_create_srv_conf,     /* create server configuration */
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
    ngx_uint_t                       i;
    ngx_http_leadlist_srv_conf_t   **lscfp;
    ngx_http_leadlist_main_conf_t   *lmcf;

    /*
     * jansson seeds its hash function once per process; a seed chosen
     * after fork differs per worker, so that a client cannot precompute
     * colliding member names that would turn object parsing quadratic
     */

    json_object_seed(0);

    lmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_leadlist_module);
    if (lmcf == NULL) {
        return NGX_OK;
    }

    lscfp = lmcf->upstreams.elts;

    for (i = 0; i < lmcf->upstreams.nelts; i++) {
        if (ngx_http_leadlist_pg_init_pool(cycle, lscfp[i]) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static void
ngx_http_leadlist_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                       i;
    ngx_http_leadlist_srv_conf_t   **lscfp;
    ngx_http_leadlist_main_conf_t   *lmcf;

    ngx_http_leadlist_body_cleanup();

    lmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_leadlist_module);
    if (lmcf == NULL) {
        return;
    }

    lscfp = lmcf->upstreams.elts;

    for (i = 0; i < lmcf->upstreams.nelts; i++) {
        ngx_http_leadlist_pg_close_pool(lscfp[i]);
    }
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
ngx_http_leadlist_create_srv_conf(ngx_conf_t *cf)
{
    ngx_http_leadlist_srv_conf_t  *lscf;

    lscf = ngx_pcalloc(cf->pool, sizeof(ngx_http_leadlist_srv_conf_t));
    if (lscf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     lscf->servers = NULL;
     *     lscf->upstream = NULL;
     *     lscf->pool = NULL;
     */

    lscf->keepalive = NGX_CONF_UNSET_UINT;
    lscf->max = NGX_CONF_UNSET_UINT;
    lscf->queue = NGX_CONF_UNSET_UINT;
    lscf->connect_concurrency = NGX_CONF_UNSET_UINT;
    lscf->keepalive_requests = NGX_CONF_UNSET_UINT;
    lscf->queue_timeout = NGX_CONF_UNSET_MSEC;
    lscf->connect_timeout = NGX_CONF_UNSET_MSEC;
    lscf->query_timeout = NGX_CONF_UNSET_MSEC;
    lscf->keepalive_timeout = NGX_CONF_UNSET_MSEC;
    lscf->keepalive_time = NGX_CONF_UNSET_MSEC;

    return lscf;
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
     */

    llcf->list_id = NGX_CONF_UNSET_PTR;
    llcf->max_persons = NGX_CONF_UNSET_UINT;
    llcf->max_selection = NGX_CONF_UNSET_UINT;
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
    ngx_conf_merge_uint_value(conf->max_persons, prev->max_persons, 1000);
    ngx_conf_merge_uint_value(conf->max_selection, prev->max_selection, 1000);

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
     * caller is authenticated first (the core module's merge is done)
     */

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    conf->max_body = clcf->client_max_body_size;
    clcf->client_max_body_size = 0;

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

    ngx_http_leadlist_handler_init(cf);

    return ngx_http_leadlist_response_init_filters(cf);
}


/*
 * Called by the upstream module's init_main_conf for every upstream that
 * holds leadlist_pg_server or that an endpoint refers to: this is the one
 * place where a whole upstream block is known.
 */

static ngx_int_t
ngx_http_leadlist_init_upstream(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *us)
{
    ngx_uint_t                       i;
    ngx_http_leadlist_server_t      *server;
    ngx_http_leadlist_srv_conf_t    *lscf, **lscfp;
    ngx_http_leadlist_main_conf_t   *lmcf;

    if (!(us->flags & NGX_HTTP_UPSTREAM_CREATE) || us->srv_conf == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"leadlist_add_prospects\" names unknown upstream "
                      "\"%V\" in %s:%ui", &us->host, us->file_name, us->line);
        return NGX_ERROR;
    }

    lscf = ngx_http_conf_upstream_srv_conf(us, ngx_http_leadlist_module);

    if (lscf->servers == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "upstream \"%V\" has no \"leadlist_pg_server\" "
                      "in %s:%ui", &us->host, us->file_name, us->line);
        return NGX_ERROR;
    }

    if (us->servers == NULL || us->servers->nelts != 1) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"server\" cannot be mixed with "
                      "\"leadlist_pg_server\" in upstream \"%V\" in %s:%ui",
                      &us->host, us->file_name, us->line);
        return NGX_ERROR;
    }

    ngx_conf_init_uint_value(lscf->keepalive, 16);
    ngx_conf_init_uint_value(lscf->max, ngx_max(lscf->keepalive, 32));
    ngx_conf_init_uint_value(lscf->queue, 256);
    ngx_conf_init_uint_value(lscf->connect_concurrency, 4);
    ngx_conf_init_uint_value(lscf->keepalive_requests, 10000);
    ngx_conf_init_msec_value(lscf->queue_timeout, 2000);
    ngx_conf_init_msec_value(lscf->connect_timeout, 5000);
    ngx_conf_init_msec_value(lscf->query_timeout, 10000);
    ngx_conf_init_msec_value(lscf->keepalive_timeout, 60000);
    ngx_conf_init_msec_value(lscf->keepalive_time, 3600000);

    if (lscf->keepalive > lscf->max) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"leadlist_pg_keepalive\" %ui is larger than "
                      "\"leadlist_pg_max\" %ui in upstream \"%V\" in %s:%ui",
                      lscf->keepalive, lscf->max, &us->host,
                      us->file_name, us->line);
        return NGX_ERROR;
    }

    if (lscf->query_timeout <= NGX_HTTP_LEADLIST_STMT_MARGIN) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"leadlist_pg_query_timeout\" must be more than %uims "
                      "in upstream \"%V\" in %s:%ui",
                      (ngx_uint_t) NGX_HTTP_LEADLIST_STMT_MARGIN, &us->host,
                      us->file_name, us->line);
        return NGX_ERROR;
    }

    server = lscf->servers->elts;

    for (i = 0; i < lscf->servers->nelts; i++) {
        if (ngx_http_leadlist_finish_server(cf, lscf, &server[i]) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    lscf->upstream = us;
    us->peer.init = ngx_http_leadlist_init_peer;

    lmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_leadlist_module);

    lscfp = ngx_array_push(&lmcf->upstreams);
    if (lscfp == NULL) {
        return NGX_ERROR;
    }

    *lscfp = lscf;

    return NGX_OK;
}


static ngx_int_t
ngx_http_leadlist_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us)
{
    /* proxy_pass and friends cannot speak to a PostgreSQL upstream */

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "leadlist: upstream \"%V\" is for leadlist_add_prospects "
                  "only", &us->host);

    return NGX_ERROR;
}


/*
 * The keyword list of a server is completed once the upstream's timeouts
 * are known: libpq must never resolve names inside a worker, so "host"
 * gets a "hostaddr" resolved now, and the server's own statement_timeout
 * is set below our query timeout, so that a slow statement is cancelled
 * by PostgreSQL itself and the connection stays usable.
 */

static ngx_int_t
ngx_http_leadlist_finish_server(ngx_conf_t *cf,
    ngx_http_leadlist_srv_conf_t *lscf, ngx_http_leadlist_server_t *server)
{
    u_char       *p, *last;
    size_t        size;
    ngx_int_t     rc;
    ngx_str_t     host, port, db, addrs, options;
    ngx_uint_t    i, n, has_addr, has_gss, has_app;
    ngx_msec_t    timeout;
    const char  **kw, **val;

    ngx_str_null(&host);
    ngx_str_null(&port);
    ngx_str_null(&db);
    ngx_str_set(&options, "");
    has_addr = 0;
    has_gss = 0;
    has_app = 0;

    for (n = 0; server->keywords[n]; n++) {
        p = (u_char *) server->keywords[n];
        last = (u_char *) server->values[n];

        if (ngx_strcmp(p, "host") == 0) {
            host.data = last;
            host.len = ngx_strlen(last);

        } else if (ngx_strcmp(p, "hostaddr") == 0) {
            has_addr = 1;

        } else if (ngx_strcmp(p, "port") == 0) {
            port.data = last;
            port.len = ngx_strlen(last);

        } else if (ngx_strcmp(p, "dbname") == 0) {
            db.data = last;
            db.len = ngx_strlen(last);

        } else if (ngx_strcmp(p, "gssencmode") == 0) {
            has_gss = 1;

        } else if (ngx_strcmp(p, "application_name") == 0) {
            has_app = 1;

        } else if (ngx_strcmp(p, "options") == 0) {
            options.data = last;
            options.len = ngx_strlen(last);
        }
    }

    kw = ngx_pcalloc(cf->pool, (n + 5) * sizeof(char *));
    val = ngx_pcalloc(cf->pool, (n + 5) * sizeof(char *));
    if (kw == NULL || val == NULL) {
        return NGX_ERROR;
    }

    n = 0;

    for (i = 0; server->keywords[i]; i++) {
        if (ngx_strcmp(server->keywords[i], "options") != 0) {
            kw[n] = server->keywords[i];
            val[n++] = server->values[i];
        }
    }

    if (host.len && !has_addr) {
        if (ngx_http_leadlist_resolve_hosts(cf, &host, &addrs) != NGX_OK) {
            return NGX_ERROR;
        }

        kw[n] = "hostaddr";
        val[n++] = (char *) addrs.data;
    }

    /* a GSSAPI attempt may block in Kerberos: opt in explicitly */

    if (!has_gss) {
        kw[n] = "gssencmode";
        val[n++] = "disable";
    }

    if (!has_app) {
        kw[n] = "application_name";
        val[n++] = "nginx-leadlist";
    }

    size = options.len + sizeof(" -c statement_timeout=")
           + sizeof(" -c client_connection_check_interval=1000")
           + NGX_INT_T_LEN;

    p = ngx_pnalloc(cf->pool, size);
    if (p == NULL) {
        return NGX_ERROR;
    }

    last = ngx_cpymem(p, options.data, options.len);

    rc = ngx_http_leadlist_statement_timeout(&options, &timeout);

    if (rc == NGX_DECLINED) {
        last = ngx_sprintf(last, " -c statement_timeout=%M",
                           lscf->query_timeout
                           - NGX_HTTP_LEADLIST_STMT_MARGIN);

    } else if (rc == NGX_ERROR || timeout == 0
               || timeout >= lscf->query_timeout)
    {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"leadlist_pg_server\" options set a statement_timeout "
                      "that is not a time from 1ms to less than "
                      "\"leadlist_pg_query_timeout\" %Mms in upstream "
                      "\"%V\" in %s:%ui", lscf->query_timeout,
                      &lscf->upstream->host, lscf->upstream->file_name,
                      lscf->upstream->line);
        return NGX_ERROR;
    }

    /*
     * should the module give up on a statement first, the server notices
     * the closed connection within a second and cancels it (PostgreSQL
     * 14+; libpq 15's only cancel call would block the worker)
     */

    if (ngx_strlcasestrn(options.data, options.data + options.len,
                         (u_char *) "client_connection_check_interval",
                         32 - 1)
        == NULL)
    {
        last = ngx_cpymem(last, " -c client_connection_check_interval=1000",
                          sizeof(" -c client_connection_check_interval=1000")
                          - 1);
    }

    *last = '\0';

    kw[n] = "options";
    val[n] = (char *) p;

    server->keywords = kw;
    server->values = val;

    server->name.data = ngx_pnalloc(cf->pool, host.len + port.len + db.len
                                              + 2);
    if (server->name.data == NULL) {
        return NGX_ERROR;
    }

    server->name.len = ngx_sprintf(server->name.data, "%V:%V/%V",
                                   &host, &port, &db)
                       - server->name.data;

    return NGX_OK;
}


/*
 * A statement_timeout in the conninfo's options, in PostgreSQL's units:
 * NGX_DECLINED when there is none, NGX_ERROR when it cannot be read.
 */

static ngx_int_t
ngx_http_leadlist_statement_timeout(ngx_str_t *options, ngx_msec_t *timeout)
{
    u_char      *p, *last, *unit;
    ngx_uint_t   i, value;

    static struct {
        const char  *name;
        ngx_uint_t   ms;
    } units[] = {
        { "ms", 1 }, { "s", 1000 }, { "min", 60000 }, { "h", 3600000 },
        { "d", 86400000 }, { "", 1 }
    };

    last = options->data + options->len;

    p = ngx_strlcasestrn(options->data, last,
                         (u_char *) "statement_timeout", 17 - 1);
    if (p == NULL) {
        return NGX_DECLINED;
    }

    for (p += 17; p < last && (*p == ' ' || *p == '=' || *p == '\''); p++) {
        /* void */
    }

    for (value = 0; p < last && *p >= '0' && *p <= '9'; p++) {
        value = value * 10 + (*p - '0');

        if (value > 1000000000) {
            return NGX_ERROR;
        }
    }

    for (unit = p; p < last && *p != ' ' && *p != '\''; p++) {
        /* void */
    }

    for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if ((size_t) (p - unit) == ngx_strlen(units[i].name)
            && ngx_strncasecmp(unit, (u_char *) units[i].name, p - unit) == 0)
        {
            *timeout = value * units[i].ms;
            return NGX_OK;
        }
    }

    return NGX_ERROR;
}


/*
 * "host" may list several hosts for libpq's own failover; "hostaddr" then
 * lists one address per host, empty for a socket directory
 */

static ngx_int_t
ngx_http_leadlist_resolve_hosts(ngx_conf_t *cf, ngx_str_t *hosts,
    ngx_str_t *addrs)
{
    u_char     *p, *last, *comma;
    size_t      len;
    ngx_url_t   u;

    len = 0;
    comma = hosts->data;
    last = hosts->data + hosts->len;

    /* an address is at most NGX_SOCKADDR_STRLEN, plus a comma */

    addrs->data = ngx_pnalloc(cf->pool,
                              (hosts->len + 1) * (NGX_SOCKADDR_STRLEN + 1));
    if (addrs->data == NULL) {
        return NGX_ERROR;
    }

    p = addrs->data;

    while (comma <= last) {
        u_char  *end;

        end = ngx_strlchr(comma, last, ',');
        if (end == NULL) {
            end = last;
        }

        if (p != addrs->data) {
            *p++ = ',';
        }

        if (end > comma && *comma != '/' && *comma != '@') {
            ngx_memzero(&u, sizeof(ngx_url_t));

            u.host.data = comma;
            u.host.len = end - comma;

            if (ngx_inet_resolve_host(cf->pool, &u) != NGX_OK
                || u.naddrs == 0)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"leadlist_pg_server\" host \"%V\" "
                                   "not found", &u.host);
                return NGX_ERROR;
            }

            len = ngx_sock_ntop(u.addrs[0].sockaddr, u.addrs[0].socklen,
                                p, NGX_SOCKADDR_STRLEN, 0);
            p += len;
        }

        comma = end + 1;
    }

    *p = '\0';
    addrs->len = p - addrs->data;

    return NGX_OK;
}


static char *
ngx_http_leadlist_pg_server(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char                          *err;
    size_t                         len;
    ngx_str_t                     *value;
    ngx_uint_t                     i, n;
    const char                   **kw, **val;
    PQconninfoOption              *opts, *o;
    ngx_http_leadlist_server_t    *server;
    ngx_http_leadlist_srv_conf_t  *lscf;

    lscf = ngx_http_leadlist_upstream_conf(cf);
    if (lscf == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    if (lscf->servers == NULL) {
        lscf->servers = ngx_array_create(cf->pool, 2,
                                         sizeof(ngx_http_leadlist_server_t));
        if (lscf->servers == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    err = NULL;

    /* PQconninfoParse() only parses: no I/O, safe at any time */

    opts = PQconninfoParse((char *) value[1].data, &err);
    if (opts == NULL) {
        if (err) {
            len = ngx_strlen(err);

            while (len && (err[len - 1] == '\n' || err[len - 1] == ' ')) {
                len--;
            }

            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid conninfo in \"%V\": %*s",
                               &cmd->name, len, err);
            PQfreemem(err);
        }

        return NGX_CONF_ERROR;
    }

    n = 0;
    for (o = opts; o->keyword; o++) {
        n += (o->val != NULL);
    }

    kw = ngx_pcalloc(cf->pool, (n + 1) * sizeof(char *));
    val = ngx_pcalloc(cf->pool, (n + 1) * sizeof(char *));
    if (kw == NULL || val == NULL) {
        PQconninfoFree(opts);
        return NGX_CONF_ERROR;
    }

    i = 0;
    for (o = opts; o->keyword; o++) {
        if (o->val == NULL) {
            continue;
        }

        kw[i] = ngx_http_leadlist_strdup(cf->pool, o->keyword);
        val[i] = ngx_http_leadlist_strdup(cf->pool, o->val);

        if (kw[i] == NULL || val[i] == NULL) {
            PQconninfoFree(opts);
            return NGX_CONF_ERROR;
        }

        i++;
    }

    PQconninfoFree(opts);

    server = ngx_array_push(lscf->servers);
    if (server == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(server, sizeof(ngx_http_leadlist_server_t));

    server->keywords = kw;
    server->values = val;

    return NGX_CONF_OK;
}


static char *
ngx_http_leadlist_pg_queue(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_int_t                      n;
    ngx_str_t                     *value, s;
    ngx_http_leadlist_srv_conf_t  *lscf;

    lscf = ngx_http_leadlist_upstream_conf(cf);
    if (lscf == NULL) {
        return NGX_CONF_ERROR;
    }

    if (lscf->queue != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    n = ngx_atoi(value[1].data, value[1].len);
    if (n == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid queue size \"%V\" in \"%V\"",
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    lscf->queue = n;

    if (cf->args->nelts == 3) {
        if (ngx_strncmp(value[2].data, "timeout=", 8) != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\" in \"%V\"",
                               &value[2], &cmd->name);
            return NGX_CONF_ERROR;
        }

        s.data = value[2].data + 8;
        s.len = value[2].len - 8;

        lscf->queue_timeout = ngx_parse_time(&s, 0);
        if (lscf->queue_timeout == (ngx_msec_t) NGX_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid timeout \"%V\" in \"%V\"",
                               &value[2], &cmd->name);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_leadlist_add_prospects(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_leadlist_loc_conf_t *llcf = conf;

    ngx_url_t                  u;
    ngx_str_t                 *value;
    ngx_http_core_loc_conf_t  *clcf;

    if (llcf->upstream) {
        return "is duplicate";
    }

    value = cf->args->elts;

    ngx_memzero(&u, sizeof(ngx_url_t));

    u.url = value[1];
    u.no_resolve = 1;

    /*
     * the upstream block may come later in the file: this finds it or
     * reserves its name, and init_upstream tells which one it was
     */

    llcf->upstream = ngx_http_upstream_add(cf, &u, 0);
    if (llcf->upstream == NULL) {
        return NGX_CONF_ERROR;
    }

    llcf->upstream->peer.init_upstream = ngx_http_leadlist_init_upstream;

    llcf->file = cf->conf_file->file.name.data;
    llcf->line = cf->conf_file->line;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_leadlist_handler;

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


static char *
ngx_http_leadlist_set_bounded_num(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char  *p = conf;

    ngx_int_t                    n;
    ngx_str_t                   *value;
    ngx_uint_t                  *np;
    ngx_http_leadlist_bounds_t  *b;

    if (cf->cmd_type == NGX_HTTP_UPS_CONF) {
        p = (char *) ngx_http_leadlist_upstream_conf(cf);
        if (p == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    np = (ngx_uint_t *) (p + cmd->offset);

    if (*np != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;
    b = cmd->post;

    n = ngx_atoi(value[1].data, value[1].len);

    if (n == NGX_ERROR || (ngx_uint_t) n < b->low || (ngx_uint_t) n > b->high)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"%V\", "
                           "must be a number from %ui to %ui",
                           &value[1], &cmd->name, b->low, b->high);
        return NGX_CONF_ERROR;
    }

    *np = n;

    return NGX_CONF_OK;
}


/*
 * Any leadlist directive in an upstream block makes the block ours: the
 * upstream module wants at least one "server" in a block, so one inert
 * entry stands for all leadlist_pg_server lines, and init_upstream is
 * ours instead of round robin.
 */

static ngx_http_leadlist_srv_conf_t *
ngx_http_leadlist_upstream_conf(ngx_conf_t *cf)
{
    ngx_http_upstream_server_t     *us;
    ngx_http_upstream_srv_conf_t   *uscf;
    ngx_http_leadlist_srv_conf_t   *lscf;

    uscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_upstream_module);
    lscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_leadlist_module);

    if (lscf->upstream == NULL) {
        us = ngx_array_push(uscf->servers);
        if (us == NULL) {
            return NULL;
        }

        ngx_memzero(us, sizeof(ngx_http_upstream_server_t));
        ngx_str_set(&us->name, "leadlist");

        uscf->peer.init_upstream = ngx_http_leadlist_init_upstream;
        lscf->upstream = uscf;
    }

    return lscf;
}


static char *
ngx_http_leadlist_strdup(ngx_pool_t *pool, const char *s)
{
    size_t   len;
    u_char  *p;

    len = ngx_strlen(s) + 1;

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NULL;
    }

    ngx_memcpy(p, s, len);

    return (char *) p;
}
