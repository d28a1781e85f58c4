
/*
 * Copyright (C) leadlist authors
 */


/* The leadlist_pg_* upstream blocks: directives, conninfo, pools' birth. */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <libpq-fe.h>

#include "ngx_http_leadlist.h"
#include "ngx_http_leadlist_pool.h"
#include "ngx_http_leadlist_upstream.h"
#include "ngx_http_leadlist_util.h"


/*
 * The server's statement_timeout is set this far below
 * leadlist_pg_query_timeout, so that a slow statement is cancelled by
 * PostgreSQL itself and its connection stays usable.
 */

#define NGX_HTTP_LEADLIST_STMT_MARGIN  500

/*
 * Should the module give up on a statement first, the server notices the
 * closed connection within a second and cancels it (PostgreSQL 14+;
 * libpq 15's only cancel call would block the worker).
 */

#define NGX_HTTP_LEADLIST_CHECK_INTERVAL  "client_connection_check_interval"
#define NGX_HTTP_LEADLIST_CHECK_OPTION                                       \
    " -c " NGX_HTTP_LEADLIST_CHECK_INTERVAL "=1000"

#define NGX_HTTP_LEADLIST_STMT_TIMEOUT    "statement_timeout"


/* what a conninfo says that the module completes or names it by */

typedef struct {
    ngx_str_t                     host;
    ngx_str_t                     addr;       /* hostaddr */
    ngx_str_t                     port;
    ngx_str_t                     db;
    ngx_str_t                     options;
    ngx_str_t                     attrs;      /* target_session_attrs */
    ngx_uint_t                    nhosts;
    ngx_uint_t                    nports;
    unsigned                      has_gss:1;
    unsigned                      has_app:1;
} ngx_http_leadlist_conninfo_t;


/* one host's part of a conninfo: empty strings are left out */

typedef struct {
    ngx_str_t                     host;
    ngx_str_t                     addr;
    ngx_str_t                     port;
    const char                   *attrs;      /* NULL: as written */
} ngx_http_leadlist_conninfo_host_t;


/* a keyword whose values libpq checks only when it connects */

typedef struct {
    const char                   *keyword;
    const char                   *values;     /* NUL-separated, "" ends */
    const char                   *text;       /* for the message */
    ngx_uint_t                    caseless;   /* and "" allowed */
} ngx_http_leadlist_conninfo_enum_t;


static ngx_http_leadlist_srv_conf_t **ngx_http_leadlist_upstream_all(
    ngx_cycle_t *cycle, ngx_uint_t *n);
static void ngx_http_leadlist_upstream_take(
    ngx_http_upstream_srv_conf_t *uscf);
static ngx_http_leadlist_srv_conf_t *ngx_http_leadlist_upstream_claim(
    ngx_conf_t *cf);
static ngx_int_t ngx_http_leadlist_upstream_init(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *us);
static ngx_int_t ngx_http_leadlist_upstream_check(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *us);
static ngx_int_t ngx_http_leadlist_upstream_defaults(ngx_conf_t *cf,
    ngx_http_leadlist_srv_conf_t *lscf);
static ngx_int_t ngx_http_leadlist_upstream_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us);
static ngx_int_t ngx_http_leadlist_upstream_finish_server(ngx_conf_t *cf,
    ngx_http_leadlist_srv_conf_t *lscf, ngx_http_leadlist_server_t *server);
static void ngx_http_leadlist_upstream_scan(ngx_array_t *conninfo,
    ngx_http_leadlist_conninfo_t *ci);
static ngx_int_t ngx_http_leadlist_upstream_check_conninfo(ngx_conf_t *cf,
    ngx_str_t *name, ngx_array_t *conninfo);
static ngx_int_t ngx_http_leadlist_upstream_check_enum(ngx_conf_t *cf,
    ngx_str_t *name, ngx_keyval_t *kv);
static ngx_int_t ngx_http_leadlist_upstream_check_hosts(ngx_conf_t *cf,
    ngx_str_t *name, ngx_http_leadlist_conninfo_t *ci);
static ngx_uint_t ngx_http_leadlist_upstream_count(ngx_str_t *list);
static void ngx_http_leadlist_upstream_item(ngx_str_t *list, ngx_uint_t i,
    ngx_str_t *item);
static ngx_int_t ngx_http_leadlist_upstream_hosts(ngx_conf_t *cf,
    ngx_http_leadlist_server_t *server, ngx_http_leadlist_conninfo_t *ci);
static ngx_int_t ngx_http_leadlist_upstream_name(ngx_conf_t *cf,
    ngx_str_t *host, ngx_str_t *port, ngx_str_t *db, ngx_str_t *name);
static ngx_int_t ngx_http_leadlist_upstream_options(ngx_conf_t *cf,
    ngx_http_leadlist_srv_conf_t *lscf, ngx_str_t *options);
static ngx_int_t ngx_http_leadlist_upstream_keywords(ngx_conf_t *cf,
    ngx_array_t *conninfo, ngx_http_leadlist_conninfo_t *ci,
    ngx_http_leadlist_conninfo_host_t *one, ngx_http_leadlist_host_t *host);
static ngx_int_t ngx_http_leadlist_upstream_statement_timeout(
    ngx_str_t *options, ngx_msec_t *timeout);
static ngx_int_t ngx_http_leadlist_upstream_resolve(ngx_conf_t *cf,
    ngx_http_leadlist_server_t *server, ngx_str_t *hosts, ngx_str_t *addrs);
static ngx_int_t ngx_http_leadlist_upstream_parse(ngx_conf_t *cf,
    ngx_str_t *name, ngx_str_t *conninfo, ngx_array_t *kv);
static void ngx_http_leadlist_upstream_parse_error(ngx_conf_t *cf,
    ngx_str_t *name, ngx_str_t *conninfo, u_char *err, size_t len);
static ngx_int_t ngx_http_leadlist_upstream_strdup(ngx_pool_t *pool,
    const char *s, ngx_str_t *to);


/*
 * libpq 15's enumerations, checked by nginx -t here: libpq itself would
 * refuse them only when it connects, every request a 503
 */

static ngx_http_leadlist_conninfo_enum_t  ngx_http_leadlist_conninfo_enums[] = {
    { "target_session_attrs",
      "any\0read-write\0read-only\0primary\0standby\0prefer-standby\0",
      "any, read-write, read-only, primary, standby or prefer-standby", 0 },

    { "sslmode",
      "disable\0allow\0prefer\0require\0verify-ca\0verify-full\0",
      "disable, allow, prefer, require, verify-ca or verify-full", 0 },

    { "gssencmode", "disable\0prefer\0require\0",
      "disable, prefer or require", 0 },

    { "channel_binding", "disable\0prefer\0require\0",
      "disable, prefer or require", 0 },

    { "ssl_min_protocol_version", "TLSv1\0TLSv1.1\0TLSv1.2\0TLSv1.3\0",
      "TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3", 1 },

    { "ssl_max_protocol_version", "TLSv1\0TLSv1.1\0TLSv1.2\0TLSv1.3\0",
      "TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3", 1 },

    { NULL, NULL, NULL, 0 }
};


void *
ngx_http_leadlist_upstream_create_conf(ngx_conf_t *cf)
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
     *     lscf->foreign = 0;
     */

    lscf->keepalive = NGX_CONF_UNSET_UINT;
    lscf->max = NGX_CONF_UNSET_UINT;
    lscf->pipeline = NGX_CONF_UNSET_UINT;
    lscf->queue = NGX_CONF_UNSET_UINT;
    lscf->connect_concurrency = NGX_CONF_UNSET_UINT;
    lscf->keepalive_requests = NGX_CONF_UNSET_UINT;
    lscf->adaptive = NGX_CONF_UNSET;
    lscf->queue_timeout = NGX_CONF_UNSET_MSEC;
    lscf->connect_timeout = NGX_CONF_UNSET_MSEC;
    lscf->query_timeout = NGX_CONF_UNSET_MSEC;
    lscf->idle_timeout = NGX_CONF_UNSET_MSEC;
    lscf->keepalive_time = NGX_CONF_UNSET_MSEC;

    return lscf;
}


char *
ngx_http_leadlist_upstream_server(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_str_t                     *value;
    ngx_http_leadlist_server_t    *server;
    ngx_http_leadlist_srv_conf_t  *lscf;

    lscf = ngx_http_leadlist_upstream_claim(cf);
    if (lscf == NULL) {
        return NGX_CONF_ERROR;
    }

    if (lscf->servers == NULL) {
        lscf->servers = ngx_array_create(cf->pool, 2,
                                         sizeof(ngx_http_leadlist_server_t));
        if (lscf->servers == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    server = ngx_array_push(lscf->servers);
    if (server == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(server, sizeof(ngx_http_leadlist_server_t));

    server->conninfo = ngx_array_create(cf->pool, 8, sizeof(ngx_keyval_t));
    if (server->conninfo == NULL) {
        return NGX_CONF_ERROR;
    }

    server->file_name = cf->conf_file->file.name.data;
    server->line = cf->conf_file->line;

    value = cf->args->elts;

    if (ngx_http_leadlist_upstream_parse(cf, &cmd->name, &value[1],
                                         server->conninfo)
        != NGX_OK
        || ngx_http_leadlist_upstream_check_conninfo(cf, &cmd->name,
                                                     server->conninfo)
           != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    /* libpq would take an empty one as all its defaults: a missing one */

    if (server->conninfo->nelts == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "empty conninfo in \"%V\"", &cmd->name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


char *
ngx_http_leadlist_upstream_queue(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_int_t                      n;
    ngx_str_t                     *value, s;
    ngx_http_leadlist_srv_conf_t  *lscf;

    lscf = ngx_http_leadlist_upstream_claim(cf);
    if (lscf == NULL) {
        return NGX_CONF_ERROR;
    }

    if (lscf->queue != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    /*
     * a request that waits for a connect waits in the queue: with none,
     * no connection would ever be opened
     */

    n = ngx_atoi(value[1].data, value[1].len);
    if (n == NGX_ERROR || n == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid queue size \"%V\" in \"%V\", "
                           "it must be at least 1", &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    lscf->queue = n;

    if (cf->args->nelts == 2) {
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(value[2].data, "timeout=", 8) != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\" in \"%V\"",
                           &value[2], &cmd->name);
        return NGX_CONF_ERROR;
    }

    s.data = value[2].data + 8;
    s.len = value[2].len - 8;

    lscf->queue_timeout = ngx_parse_time(&s, 0);
    if (lscf->queue_timeout == (ngx_msec_t) NGX_ERROR
        || lscf->queue_timeout == 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid timeout \"%V\" in \"%V\", "
                           "it must be more than 0", &value[2], &cmd->name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


char *
ngx_http_leadlist_upstream_set_num_slot(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    if (ngx_http_leadlist_upstream_claim(cf) == NULL) {
        return NGX_CONF_ERROR;
    }

    return ngx_http_leadlist_conf_set_num_slot(cf, cmd, conf);
}


ngx_http_upstream_srv_conf_t *
ngx_http_leadlist_upstream_add(ngx_conf_t *cf, ngx_str_t *name)
{
    ngx_url_t                      u;
    ngx_http_upstream_srv_conf_t  *uscf;

    ngx_memzero(&u, sizeof(ngx_url_t));

    u.url = *name;
    u.no_resolve = 1;

    /* init_upstream tells which upstream it was, once all are read */

    uscf = ngx_http_upstream_add(cf, &u, 0);
    if (uscf == NULL) {
        return NULL;
    }

    ngx_http_leadlist_upstream_take(uscf);

    return uscf;
}


ngx_int_t
ngx_http_leadlist_upstream_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                      i, n;
    ngx_http_leadlist_srv_conf_t  **lscfp;

    lscfp = ngx_http_leadlist_upstream_all(cycle, &n);

    for (i = 0; i < n; i++) {
        if (ngx_http_leadlist_pool_create(cycle, lscfp[i]) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


void
ngx_http_leadlist_upstream_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                      i, n;
    ngx_http_leadlist_srv_conf_t  **lscfp;

    lscfp = ngx_http_leadlist_upstream_all(cycle, &n);

    for (i = 0; i < n; i++) {
        ngx_http_leadlist_pool_destroy(lscfp[i]);
    }
}


/* the upstream blocks that init_upstream found ours, n of them */

static ngx_http_leadlist_srv_conf_t **
ngx_http_leadlist_upstream_all(ngx_cycle_t *cycle, ngx_uint_t *n)
{
    ngx_http_leadlist_main_conf_t  *lmcf;

    lmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_leadlist_module);

    *n = lmcf ? lmcf->upstreams.nelts : 0;

    return lmcf ? lmcf->upstreams.elts : NULL;
}


/*
 * Any leadlist directive in an upstream block makes the block ours: the
 * upstream module wants at least one "server" in a block, so one inert
 * entry stands for all leadlist_pg_server lines, and init_upstream is
 * ours instead of round robin.
 */

static ngx_http_leadlist_srv_conf_t *
ngx_http_leadlist_upstream_claim(ngx_conf_t *cf)
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

        lscf->upstream = uscf;
    }

    ngx_http_leadlist_upstream_take(uscf);

    return lscf;
}


/*
 * init_upstream becomes ours, remembering whether another module's was
 * there: one that comes after is seen at init, one that came before only
 * here, as this overwrites it
 */

static void
ngx_http_leadlist_upstream_take(ngx_http_upstream_srv_conf_t *uscf)
{
    ngx_http_leadlist_srv_conf_t  *lscf;

    if (uscf->peer.init_upstream
        && uscf->peer.init_upstream != ngx_http_leadlist_upstream_init
        && uscf->srv_conf)
    {
        lscf = ngx_http_conf_upstream_srv_conf(uscf,
                                               ngx_http_leadlist_module);
        lscf->foreign = 1;
    }

    uscf->peer.init_upstream = ngx_http_leadlist_upstream_init;
}


/*
 * Called by the upstream module's init_main_conf for every upstream that
 * holds leadlist_pg_server or that an endpoint refers to: this is the one
 * place where a whole upstream block is known.
 */

static ngx_int_t
ngx_http_leadlist_upstream_init(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *us)
{
    ngx_uint_t                       i;
    ngx_http_leadlist_server_t      *server;
    ngx_http_leadlist_srv_conf_t    *lscf, **lscfp;
    ngx_http_leadlist_main_conf_t   *lmcf;

    if (ngx_http_leadlist_upstream_check(cf, us) != NGX_OK) {
        return NGX_ERROR;
    }

    lscf = ngx_http_conf_upstream_srv_conf(us, ngx_http_leadlist_module);
    lscf->upstream = us;

    if (ngx_http_leadlist_upstream_defaults(cf, lscf) != NGX_OK) {
        return NGX_ERROR;
    }

    server = lscf->servers->elts;

    for (i = 0; i < lscf->servers->nelts; i++) {
        if (ngx_http_leadlist_upstream_finish_server(cf, lscf, &server[i])
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    us->peer.init = ngx_http_leadlist_upstream_init_peer;

    lmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_leadlist_module);

    lscfp = ngx_array_push(&lmcf->upstreams);
    if (lscfp == NULL) {
        return NGX_ERROR;
    }

    *lscfp = lscf;

    return NGX_OK;
}


/* a block that exists, holds leadlist_pg_server, and nothing else */

static ngx_int_t
ngx_http_leadlist_upstream_check(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *us)
{
    ngx_http_leadlist_srv_conf_t  *lscf;

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

    /*
     * nginx's zone would copy this block's peers into shared memory as
     * round-robin ones, and crash: it has none
     */

    if (us->shm_zone) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"zone\" cannot be used with \"leadlist_pg_server\" "
                      "in upstream \"%V\" in %s:%ui",
                      &us->host, us->file_name, us->line);
        return NGX_ERROR;
    }

    /*
     * a balancer or keepalive set its own init_upstream here, or wraps
     * this one: it would do nothing, and "keepalive" reads like the pool
     */

    if (lscf->foreign
        || us->peer.init_upstream != ngx_http_leadlist_upstream_init)
    {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "upstream \"%V\" with \"leadlist_pg_server\" takes no "
                      "\"keepalive\" (see \"leadlist_pg_keepalive\") and no "
                      "balancer such as \"least_conn\" or \"hash\" "
                      "in %s:%ui", &us->host, us->file_name, us->line);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* every default of an upstream block, and the checks across directives */

static ngx_int_t
ngx_http_leadlist_upstream_defaults(ngx_conf_t *cf,
    ngx_http_leadlist_srv_conf_t *lscf)
{
    ngx_http_upstream_srv_conf_t  *us;

    us = lscf->upstream;

    ngx_conf_init_uint_value(lscf->keepalive, 16);
    ngx_conf_init_uint_value(lscf->max, ngx_max(lscf->keepalive, 32));
    ngx_conf_init_uint_value(lscf->pipeline, 4);
    ngx_conf_init_uint_value(lscf->queue, 256);
    ngx_conf_init_uint_value(lscf->connect_concurrency, 4);
    ngx_conf_init_uint_value(lscf->keepalive_requests, 1000000);
    ngx_conf_init_value(lscf->adaptive, 1);
    ngx_conf_init_msec_value(lscf->queue_timeout, 2000);
    ngx_conf_init_msec_value(lscf->connect_timeout, 5000);
    ngx_conf_init_msec_value(lscf->query_timeout, 10000);
    ngx_conf_init_msec_value(lscf->idle_timeout, 600000);
    ngx_conf_init_msec_value(lscf->keepalive_time, 3600000);

    if (lscf->keepalive > lscf->max) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"leadlist_pg_keepalive\" %ui is larger than "
                      "\"leadlist_pg_max\" %ui in upstream \"%V\" in %s:%ui",
                      lscf->keepalive, lscf->max, &us->host,
                      us->file_name, us->line);
        return NGX_ERROR;
    }

    /*
     * the server's statement_timeout is the query timeout less the
     * margin: below twice the margin, it would cut ordinary statements
     */

    if (lscf->query_timeout < 2 * NGX_HTTP_LEADLIST_STMT_MARGIN) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"leadlist_pg_query_timeout\" must be at least %uims "
                      "in upstream \"%V\" in %s:%ui",
                      (ngx_uint_t) (2 * NGX_HTTP_LEADLIST_STMT_MARGIN),
                      &us->host, us->file_name, us->line);
        return NGX_ERROR;
    }

    /* 0 would fail every connect, or close every connection at release */

    if (lscf->connect_timeout == 0 || lscf->keepalive_time == 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"%s\" must be more than 0 in upstream \"%V\" "
                      "in %s:%ui",
                      lscf->connect_timeout == 0
                      ? "leadlist_pg_connect_timeout"
                      : "leadlist_pg_keepalive_time",
                      &us->host, us->file_name, us->line);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_leadlist_upstream_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us)
{
    /* proxy_pass and friends cannot speak to a PostgreSQL upstream */

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "leadlist: upstream \"%V\" is for leadlist_add_prospects "
                  "only", &us->host);

    return NGX_ERROR;
}


/*
 * A server's libpq keywords are completed once the upstream's timeouts
 * are known: libpq must never resolve names inside a worker, so "host"
 * gets a "hostaddr" resolved now; a Kerberos attempt could block, so
 * GSSAPI is opt-in; and the options carry the server-side timeouts.
 */

static ngx_int_t
ngx_http_leadlist_upstream_finish_server(ngx_conf_t *cf,
    ngx_http_leadlist_srv_conf_t *lscf, ngx_http_leadlist_server_t *server)
{
    ngx_http_leadlist_conninfo_t  ci;

    ngx_http_leadlist_upstream_scan(server->conninfo, &ci);

    if (ci.addr.len == 0 && ci.host.len
        && ngx_http_leadlist_upstream_resolve(cf, server, &ci.host, &ci.addr)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* the name logs use: where, never who or with what password */

    if (ngx_http_leadlist_upstream_options(cf, lscf, &ci.options) != NGX_OK
        || ngx_http_leadlist_upstream_name(cf, &ci.host, &ci.port, &ci.db,
                                           &server->name)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_leadlist_upstream_hosts(cf, server, &ci);
}


/*
 * libpq's own failover tries the hosts of a line in turn, but it moves
 * on from a host that does not answer only on its connect_timeout in a
 * blocking connect: with PQconnectPoll() the caller's timeout ends the
 * whole attempt.  So each host gets keywords of its own, with the same
 * target_session_attrs, and the pool tries them in libpq's order, each
 * within leadlist_pg_connect_timeout.  "prefer-standby" is libpq's two
 * rounds: every host as "standby", then every host as "any".
 */

static ngx_int_t
ngx_http_leadlist_upstream_hosts(ngx_conf_t *cf,
    ngx_http_leadlist_server_t *server, ngx_http_leadlist_conninfo_t *ci)
{
    ngx_str_t                           name;
    ngx_uint_t                          i, n, rounds;
    ngx_http_leadlist_host_t           *host;
    ngx_http_leadlist_conninfo_host_t   one;

    n = ci->nhosts;
    rounds = 1;

    if (n > 1 && ci->attrs.len == sizeof("prefer-standby") - 1
        && ngx_strncmp(ci->attrs.data, "prefer-standby", ci->attrs.len) == 0)
    {
        rounds = 2;
    }

    host = ngx_pcalloc(cf->pool,
                       n * rounds * sizeof(ngx_http_leadlist_host_t));
    if (host == NULL) {
        return NGX_ERROR;
    }

    server->hosts = host;
    server->nhosts = n * rounds;

    for (i = 0; i < n * rounds; i++) {
        ngx_http_leadlist_upstream_item(&ci->host, i % n, &one.host);
        ngx_http_leadlist_upstream_item(&ci->addr, i % n, &one.addr);
        ngx_http_leadlist_upstream_item(&ci->port,
                                        ci->nports > 1 ? i % n : 0,
                                        &one.port);

        one.attrs = (rounds == 1) ? NULL : (i < n) ? "standby" : "any";

        name = one.host.len ? one.host : one.addr;

        if (ngx_http_leadlist_upstream_keywords(cf, server->conninfo, ci,
                                                &one, &host[i])
            != NGX_OK
            || ngx_http_leadlist_upstream_name(cf, &name, &one.port, &ci->db,
                                               &host[i].name)
               != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_leadlist_upstream_name(ngx_conf_t *cf, ngx_str_t *host,
    ngx_str_t *port, ngx_str_t *db, ngx_str_t *name)
{
    u_char  *p;
    size_t   len;

    len = host->len + port->len + db->len + sizeof(":/") - 1;

    p = ngx_pnalloc(cf->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    name->data = p;
    name->len = ngx_sprintf(p, "%V:%V/%V", host, port, db) - p;

    return NGX_OK;
}


/* the i-th item of a comma-separated list, in place (no NUL), or "" */

static void
ngx_http_leadlist_upstream_item(ngx_str_t *list, ngx_uint_t i,
    ngx_str_t *item)
{
    u_char  *p, *last, *comma;

    ngx_str_set(item, "");

    if (list->len == 0) {
        return;
    }

    p = list->data;
    last = list->data + list->len;

    for ( ;; ) {
        comma = ngx_strlchr(p, last, ',');

        if (i == 0) {
            item->data = p;
            item->len = (comma ? comma : last) - p;
            return;
        }

        if (comma == NULL) {
            return;
        }

        p = comma + 1;
        i--;
    }
}


/* how many items a comma-separated list has; 0 when it is empty */

static ngx_uint_t
ngx_http_leadlist_upstream_count(ngx_str_t *list)
{
    u_char      *p;
    ngx_uint_t   n;

    if (list->len == 0) {
        return 0;
    }

    n = 1;

    for (p = list->data; p < list->data + list->len; p++) {
        if (*p == ',') {
            n++;
        }
    }

    return n;
}


/*
 * What a conninfo says, and how many hosts it lists by libpq's rules: as
 * many as hostaddr values, else as host names, else one; an empty value
 * counts as none.
 */

static void
ngx_http_leadlist_upstream_scan(ngx_array_t *conninfo,
    ngx_http_leadlist_conninfo_t *ci)
{
    u_char        *key;
    ngx_uint_t     i;
    ngx_keyval_t  *kv;

    ngx_memzero(ci, sizeof(ngx_http_leadlist_conninfo_t));
    ngx_str_set(&ci->options, "");

    kv = conninfo->elts;

    for (i = 0; i < conninfo->nelts; i++) {
        key = kv[i].key.data;

        if (ngx_strcmp(key, "host") == 0) {
            ci->host = kv[i].value;

        } else if (ngx_strcmp(key, "hostaddr") == 0) {
            ci->addr = kv[i].value;

        } else if (ngx_strcmp(key, "port") == 0) {
            ci->port = kv[i].value;

        } else if (ngx_strcmp(key, "dbname") == 0) {
            ci->db = kv[i].value;

        } else if (ngx_strcmp(key, "gssencmode") == 0) {
            ci->has_gss = 1;

        } else if (ngx_strcmp(key, "application_name") == 0) {
            ci->has_app = 1;

        } else if (ngx_strcmp(key, "options") == 0) {
            ci->options = kv[i].value;

        } else if (ngx_strcmp(key, "target_session_attrs") == 0) {
            ci->attrs = kv[i].value;
        }
    }

    ci->nhosts = ngx_http_leadlist_upstream_count(ci->addr.len ? &ci->addr
                                                               : &ci->host);
    if (ci->nhosts == 0) {
        ci->nhosts = 1;
    }

    ci->nports = ngx_http_leadlist_upstream_count(&ci->port);
}


/*
 * What libpq would refuse only when it connects, refused by nginx -t:
 * an enumeration's unknown value, host, hostaddr and port lists of
 * different lengths, a port that is not a port.
 */

static ngx_int_t
ngx_http_leadlist_upstream_check_conninfo(ngx_conf_t *cf, ngx_str_t *name,
    ngx_array_t *conninfo)
{
    ngx_uint_t                     i;
    ngx_keyval_t                  *kv;
    ngx_http_leadlist_conninfo_t   ci;

    kv = conninfo->elts;

    for (i = 0; i < conninfo->nelts; i++) {
        if (ngx_http_leadlist_upstream_check_enum(cf, name, &kv[i])
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    ngx_http_leadlist_upstream_scan(conninfo, &ci);

    return ngx_http_leadlist_upstream_check_hosts(cf, name, &ci);
}


static ngx_int_t
ngx_http_leadlist_upstream_check_enum(ngx_conf_t *cf, ngx_str_t *name,
    ngx_keyval_t *kv)
{
    const char                         *v;
    ngx_http_leadlist_conninfo_enum_t  *e;

    for (e = ngx_http_leadlist_conninfo_enums; e->keyword; e++) {

        if (ngx_strcmp(kv->key.data, e->keyword) != 0) {
            continue;
        }

        if (e->caseless && kv->value.len == 0) {
            return NGX_OK;
        }

        for (v = e->values; *v; v += ngx_strlen(v) + 1) {
            if (e->caseless
                ? ngx_strcasecmp(kv->value.data, (u_char *) v) == 0
                : ngx_strcmp(kv->value.data, v) == 0)
            {
                return NGX_OK;
            }
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid %s \"%V\" in \"%V\", must be %s",
                           e->keyword, &kv->value, name, e->text);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_leadlist_upstream_check_hosts(ngx_conf_t *cf, ngx_str_t *name,
    ngx_http_leadlist_conninfo_t *ci)
{
    ngx_int_t   port;
    ngx_str_t   item;
    ngx_uint_t  i, nhost;

    nhost = ngx_http_leadlist_upstream_count(&ci->host);

    if (ci->addr.len && nhost && nhost != ci->nhosts) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" lists %ui host names and %ui hostaddr "
                           "values", name, nhost, ci->nhosts);
        return NGX_ERROR;
    }

    if (ci->nports > 1 && ci->nports != ci->nhosts) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" lists %ui ports for %ui hosts",
                           name, ci->nports, ci->nhosts);
        return NGX_ERROR;
    }

    for (i = 0; i < ci->nports; i++) {
        ngx_http_leadlist_upstream_item(&ci->port, i, &item);

        if (item.len == 0) {
            continue;
        }

        port = ngx_atoi(item.data, item.len);

        if (port < 1 || port > 65535) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid port \"%V\" in \"%V\"", &item, name);
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * The conninfo's options, NUL-terminated, with a statement_timeout below
 * leadlist_pg_query_timeout (or the conninfo's own, checked to be below
 * it, so that a 503 for a timed-out query never hides a statement that
 * later commits) and the server's check of a closed connection.
 */

static ngx_int_t
ngx_http_leadlist_upstream_options(ngx_conf_t *cf,
    ngx_http_leadlist_srv_conf_t *lscf, ngx_str_t *options)
{
    u_char                        *p, *last;
    size_t                         size;
    ngx_int_t                      rc;
    ngx_msec_t                     timeout;
    ngx_http_upstream_srv_conf_t  *us;

    us = lscf->upstream;

    rc = ngx_http_leadlist_upstream_statement_timeout(options, &timeout);

    if (rc == NGX_ERROR
        || (rc == NGX_OK && (timeout == 0 || timeout >= lscf->query_timeout)))
    {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"leadlist_pg_server\" options set a statement_timeout "
                      "that is not a time from 1ms to less than "
                      "\"leadlist_pg_query_timeout\" %Mms in upstream "
                      "\"%V\" in %s:%ui", lscf->query_timeout,
                      &us->host, us->file_name, us->line);
        return NGX_ERROR;
    }

    size = options->len
           + sizeof(" -c " NGX_HTTP_LEADLIST_STMT_TIMEOUT "=") + NGX_INT_T_LEN
           + sizeof(NGX_HTTP_LEADLIST_CHECK_OPTION);

    p = ngx_pnalloc(cf->pool, size);
    if (p == NULL) {
        return NGX_ERROR;
    }

    last = ngx_cpymem(p, options->data, options->len);

    if (rc == NGX_DECLINED) {
        last = ngx_sprintf(last, " -c " NGX_HTTP_LEADLIST_STMT_TIMEOUT "=%M",
                           lscf->query_timeout
                           - NGX_HTTP_LEADLIST_STMT_MARGIN);
    }

    if (ngx_strlcasestrn(options->data, options->data + options->len,
                         (u_char *) NGX_HTTP_LEADLIST_CHECK_INTERVAL,
                         sizeof(NGX_HTTP_LEADLIST_CHECK_INTERVAL) - 2)
        == NULL)
    {
        last = ngx_cpymem(last, NGX_HTTP_LEADLIST_CHECK_OPTION,
                          sizeof(NGX_HTTP_LEADLIST_CHECK_OPTION) - 1);
    }

    *last = '\0';

    options->data = p;
    options->len = last - p;

    return NGX_OK;
}


/*
 * libpq's arrays for one host: the conninfo as written but for the host's
 * own host, hostaddr and port (and target_session_attrs in a round of
 * prefer-standby), and what the module completes
 */

static ngx_int_t
ngx_http_leadlist_upstream_keywords(ngx_conf_t *cf, ngx_array_t *conninfo,
    ngx_http_leadlist_conninfo_t *ci, ngx_http_leadlist_conninfo_host_t *one,
    ngx_http_leadlist_host_t *host)
{
    u_char        *key, *copy;
    ngx_str_t     *part[3];
    ngx_uint_t     i, n;
    const char   **kw, **val;
    ngx_keyval_t  *kv;

    static const char  *names[] = { "host", "hostaddr", "port" };

    /*
     * host, hostaddr, port, target_session_attrs, gssencmode,
     * application_name, options, the NULL end
     */

    n = conninfo->nelts + 8;

    kw = ngx_pcalloc(cf->pool, n * sizeof(char *));
    val = ngx_pcalloc(cf->pool, n * sizeof(char *));
    if (kw == NULL || val == NULL) {
        return NGX_ERROR;
    }

    kv = conninfo->elts;
    n = 0;

    for (i = 0; i < conninfo->nelts; i++) {
        key = kv[i].key.data;

        if (ngx_strcmp(key, "options") == 0
            || ngx_strcmp(key, "host") == 0
            || ngx_strcmp(key, "hostaddr") == 0
            || ngx_strcmp(key, "port") == 0
            || (one->attrs && ngx_strcmp(key, "target_session_attrs") == 0))
        {
            continue;
        }

        kw[n] = (char *) key;
        val[n++] = (char *) kv[i].value.data;
    }

    part[0] = &one->host;
    part[1] = &one->addr;
    part[2] = &one->port;

    for (i = 0; i < 3; i++) {
        if (part[i]->len == 0) {
            continue;
        }

        copy = ngx_pnalloc(cf->pool, part[i]->len + 1);
        if (copy == NULL) {
            return NGX_ERROR;
        }

        (void) ngx_cpystrn(copy, part[i]->data, part[i]->len + 1);

        kw[n] = names[i];
        val[n++] = (char *) copy;
    }

    if (one->attrs) {
        kw[n] = "target_session_attrs";
        val[n++] = one->attrs;
    }

    if (!ci->has_gss) {
        kw[n] = "gssencmode";
        val[n++] = "disable";
    }

    if (!ci->has_app) {
        kw[n] = "application_name";
        val[n++] = "nginx-leadlist";
    }

    kw[n] = "options";
    val[n] = (char *) ci->options.data;

    host->keywords = kw;
    host->values = val;

    return NGX_OK;
}


/*
 * A statement_timeout in the conninfo's options, in PostgreSQL's units:
 * NGX_DECLINED when there is none, NGX_ERROR when it cannot be read.
 */

static ngx_int_t
ngx_http_leadlist_upstream_statement_timeout(ngx_str_t *options,
    ngx_msec_t *timeout)
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
                         (u_char *) NGX_HTTP_LEADLIST_STMT_TIMEOUT,
                         sizeof(NGX_HTTP_LEADLIST_STMT_TIMEOUT) - 2);
    if (p == NULL) {
        return NGX_DECLINED;
    }

    for (p += sizeof(NGX_HTTP_LEADLIST_STMT_TIMEOUT) - 1;
         p < last && (*p == ' ' || *p == '=' || *p == '\'');
         p++)
    {
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
 * lists one address per host, empty for a socket directory.  This runs
 * as the upstream block ends, so a failure names the directive's own
 * line, as nginx's "host not found in upstream" does.
 */

static ngx_int_t
ngx_http_leadlist_upstream_resolve(ngx_conf_t *cf,
    ngx_http_leadlist_server_t *server, ngx_str_t *hosts, ngx_str_t *addrs)
{
    u_char     *p, *last, *comma, *end;
    ngx_url_t   u;

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
                ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                              "\"leadlist_pg_server\" host \"%V\" not "
                              "found in %s:%ui", &u.host, server->file_name,
                              server->line);
                return NGX_ERROR;
            }

            p += ngx_sock_ntop(u.addrs[0].sockaddr, u.addrs[0].socklen,
                               p, NGX_SOCKADDR_STRLEN, 0);
        }

        comma = end + 1;
    }

    *p = '\0';
    addrs->len = p - addrs->data;

    return NGX_OK;
}


/*
 * libpq's parse error quotes a URI conninfo whole, password included
 * ("... in URI: \"postgres://user:secret@...\""): the conninfo is never
 * logged, so each copy of it in the message is replaced.
 */

static void
ngx_http_leadlist_upstream_parse_error(ngx_conf_t *cf, ngx_str_t *name,
    ngx_str_t *conninfo, u_char *err, size_t len)
{
    u_char  *p, *last, *hit, *end;
    u_char   buf[NGX_MAX_CONF_ERRSTR];

    p = buf;
    last = buf + sizeof(buf);
    end = err + len;

    while (err < end && p < last) {
        hit = conninfo->len ? ngx_strlcasestrn(err, end, conninfo->data,
                                               conninfo->len - 1)
                            : NULL;

        if (hit == NULL) {
            p = ngx_cpymem(p, err, ngx_min((size_t) (end - err),
                                           (size_t) (last - p)));
            break;
        }

        p = ngx_cpymem(p, err, ngx_min((size_t) (hit - err),
                                       (size_t) (last - p)));
        p = ngx_slprintf(p, last, "(the conninfo)");
        err = hit + conninfo->len;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid conninfo in \"%V\": %*s",
                       name, (size_t) (p - buf), buf);
}


/* PQconninfoParse() only parses: no I/O, safe at any time */

static ngx_int_t
ngx_http_leadlist_upstream_parse(ngx_conf_t *cf, ngx_str_t *name,
    ngx_str_t *conninfo, ngx_array_t *kv)
{
    char              *err;
    size_t             len;
    ngx_int_t          rc;
    ngx_keyval_t      *pair;
    PQconninfoOption  *opts, *o;

    err = NULL;

    opts = PQconninfoParse((char *) conninfo->data, &err);

    if (opts == NULL) {
        if (err) {
            len = ngx_strlen(err);

            while (len && (err[len - 1] == '\n' || err[len - 1] == ' ')) {
                len--;
            }

            ngx_http_leadlist_upstream_parse_error(cf, name, conninfo,
                                                   (u_char *) err, len);
            PQfreemem(err);
        }

        return NGX_ERROR;
    }

    rc = NGX_OK;

    for (o = opts; o->keyword; o++) {
        if (o->val == NULL) {
            continue;
        }

        pair = ngx_array_push(kv);

        if (pair == NULL
            || ngx_http_leadlist_upstream_strdup(cf->pool, o->keyword,
                                                 &pair->key)
               != NGX_OK
            || ngx_http_leadlist_upstream_strdup(cf->pool, o->val,
                                                 &pair->value)
               != NGX_OK)
        {
            rc = NGX_ERROR;
            break;
        }
    }

    PQconninfoFree(opts);

    return rc;
}


/* a copy that stays NUL-terminated, for libpq */

static ngx_int_t
ngx_http_leadlist_upstream_strdup(ngx_pool_t *pool, const char *s,
    ngx_str_t *to)
{
    to->len = ngx_strlen(s);

    to->data = ngx_pnalloc(pool, to->len + 1);
    if (to->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(to->data, s, to->len + 1);

    return NGX_OK;
}
