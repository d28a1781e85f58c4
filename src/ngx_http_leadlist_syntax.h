
/*
 * Syntax of the request's path and header values: plain C99, no nginx
 * types, so that the unit tests link it.
 */


#ifndef _NGX_HTTP_LEADLIST_SYNTAX_H_INCLUDED_
#define _NGX_HTTP_LEADLIST_SYNTAX_H_INCLUDED_


#include <stddef.h>


/* SPEC 1.2: the longest lead list id */
#define NGX_HTTP_LEADLIST_MAX_LIST_ID  64


/*
 * 1 when the Content-Type value is application/json (case-insensitive),
 * optionally followed by parameters; a charset other than utf-8 or utf8
 * (any case, quoted or not) is rejected; 0 otherwise, empty included.
 */
int ngx_http_leadlist_content_type_ok(const unsigned char *p, size_t len);

/* 1 when the lead list id matches ^[A-Za-z0-9_-]{1,64}$ */
int ngx_http_leadlist_list_id_ok(const unsigned char *p, size_t len);


#endif /* _NGX_HTTP_LEADLIST_SYNTAX_H_INCLUDED_ */
