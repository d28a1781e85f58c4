
/*
 * Syntax of the request's path and header values, and of the header
 * names the configuration gives: plain C99, no nginx types, so that the
 * unit tests link it.
 */


#ifndef _NGX_HTTP_LEADLIST_SYNTAX_H_INCLUDED_
#define _NGX_HTTP_LEADLIST_SYNTAX_H_INCLUDED_


#include <stddef.h>


/* SPEC 1.2: the longest lead list id */
#define NGX_HTTP_LEADLIST_MAX_LIST_ID  64

/* SPEC 1.6: the longest Idempotency-Key, unquoted */
#define NGX_HTTP_LEADLIST_MAX_IDEMPOTENCY_KEY  255

/* the preferences of a Prefer header the endpoint applies (SPEC 1.6) */
#define NGX_HTTP_LEADLIST_PREFER_REPRESENTATION  0x01  /* return= */
#define NGX_HTTP_LEADLIST_PREFER_ROLLBACK        0x02  /* tx= */


/*
 * What the Prefer headers of a request said so far: seen, the preferences
 * (return, tx) whose first well-formed instance was read, whatever its
 * value; flags, the NGX_HTTP_LEADLIST_PREFER_* values they asked for.
 */
typedef struct {
    unsigned    seen;
    unsigned    flags;
} ngx_http_leadlist_prefer_t;


/* what a Content-Type value is, to the endpoint */
typedef enum {
    NGX_HTTP_LEADLIST_TYPE_JSON = 0,     /* application/json, UTF-8 */
    NGX_HTTP_LEADLIST_TYPE_OTHER,        /* another type, or malformed */
    NGX_HTTP_LEADLIST_TYPE_CHARSET       /* application/json, not UTF-8 */
} ngx_http_leadlist_type_e;


/*
 * A Content-Type value: application/json (case-insensitive), optionally
 * followed by parameters, whose every charset is utf-8 or utf8 (any case,
 * quoted or not), is JSON; well-formed application/json with another
 * charset is CHARSET; anything else is OTHER: another type, an empty or
 * NULL value, a malformed parameter (whatever the charset says).
 */
ngx_http_leadlist_type_e ngx_http_leadlist_content_type(
    const unsigned char *p, size_t len);

/*
 * 1 when a Content-Encoding value lists no coding but identity (any case):
 * a comma-separated list whose elements, OWS aside, are identity or
 * empty (an empty value included); 0 for any other coding (gzip, br,
 * ...), which the endpoint cannot read.
 */
int ngx_http_leadlist_content_encoding_ok(const unsigned char *p,
    size_t len);

/*
 * Reads one Prefer header value (RFC 7240) into pr, which starts zeroed
 * and is passed to each Prefer header of a request in turn: a list of
 * preferences, each token [= word] with ;-parameters.  Names and the
 * values the endpoint knows are case-insensitive; parameters, unknown
 * preferences and unknown values are ignored; only the first instance
 * of a preference counts (RFC 7240 section 2); a malformed preference is
 * skipped as if absent, up to the next comma outside a quoted-string (a
 * quote that never closes opens none).  Never an error.
 */
void ngx_http_leadlist_prefer_parse(ngx_http_leadlist_prefer_t *pr,
    const unsigned char *p, size_t len);

/*
 * An Idempotency-Key value: 1 to 255 printable ASCII characters (0x20 to
 * 0x7e), or an RFC 8941 sf-string of them ("..." with \" and \\
 * escapes), which means the same key unquoted.  0: the key, unquoted, is
 * in key (room for len bytes), its length in *klen; -1: malformed.
 */
int ngx_http_leadlist_idempotency_key(const unsigned char *p, size_t len,
    unsigned char *key, size_t *klen);

/* 1 when the lead list id matches ^[A-Za-z0-9_-]{1,64}$ */
int ngx_http_leadlist_list_id_ok(const unsigned char *p, size_t len);

/* 1 when the value is a header field name: an RFC 9110 token, 1*tchar */
int ngx_http_leadlist_header_name_ok(const unsigned char *p, size_t len);


#endif /* _NGX_HTTP_LEADLIST_SYNTAX_H_INCLUDED_ */
