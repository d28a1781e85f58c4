
/*
 * The body validator's rules: what the parse driver and the schema checks
 * share (the state of one validation, the messages, the detail writers).
 */


#ifndef _NGX_HTTP_LEADLIST_RULES_H_INCLUDED_
#define _NGX_HTTP_LEADLIST_RULES_H_INCLUDED_


#include <jansson.h>

#include "ngx_http_leadlist_body.h"
#include "ngx_http_leadlist_scan.h"


/*
 * Every message of a detail, written once.  A limit in a message comes
 * from its #define (ngx_http_leadlist_body.h, _scan.h) or from the
 * directive, through the format.
 */

#define NGX_HTTP_LEADLIST_MSG_EMPTY                                           \
    "must be a JSON object; the body is empty"
#define NGX_HTTP_LEADLIST_MSG_BOM                                             \
    "must not start with a UTF-8 byte order mark"
#define NGX_HTTP_LEADLIST_MSG_NUL_BYTE      "invalid JSON: NUL byte"
#define NGX_HTTP_LEADLIST_MSG_NOMEM         "could not be parsed: out of memory"
#define NGX_HTTP_LEADLIST_MSG_DEPTH                                           \
    "must not nest arrays and objects more than %d levels deep"
#define NGX_HTTP_LEADLIST_MSG_TOKENS                                          \
    "must not hold more than %d JSON values outside the persons"
#define NGX_HTTP_LEADLIST_MSG_RANGE         "number out of range"
#define NGX_HTTP_LEADLIST_MSG_JSON          "invalid JSON: "
#define NGX_HTTP_LEADLIST_MSG_UTF8          "invalid UTF-8: "
#define NGX_HTTP_LEADLIST_MSG_U0000         "\\u0000 is not allowed"
#define NGX_HTTP_LEADLIST_MSG_AT            "%s at line %zu, column %zu"

#define NGX_HTTP_LEADLIST_MSG_NOT_OBJECT    "must be a JSON object"
#define NGX_HTTP_LEADLIST_MSG_BOTH                                            \
    "must contain only one of persons and selection"
#define NGX_HTTP_LEADLIST_MSG_NEITHER       "must contain persons or selection"
#define NGX_HTTP_LEADLIST_MSG_UNKNOWN       "unknown member"

#define NGX_HTTP_LEADLIST_MSG_ITEMS                                           \
    "must be an array of %zu to %zu items"
#define NGX_HTTP_LEADLIST_MSG_AT_MOST_ITEMS                                   \
    "must be an array of at most %zu items"
#define NGX_HTTP_LEADLIST_MSG_OBJECT        "must be an object"
#define NGX_HTTP_LEADLIST_MSG_BYTES         "must be at most %d bytes"
#define NGX_HTTP_LEADLIST_MSG_REQUIRED      "is required"
#define NGX_HTTP_LEADLIST_MSG_STRING        "must be a string"
#define NGX_HTTP_LEADLIST_MSG_STRING_NULL   "must be a string or null"
#define NGX_HTTP_LEADLIST_MSG_STRINGS_NULL                                    \
    "must be an array of strings or null"
#define NGX_HTTP_LEADLIST_MSG_MAX_ITEMS     "must have at most %d items"
#define NGX_HTTP_LEADLIST_MSG_MAX_CHARS     "must be at most %d characters"
#define NGX_HTTP_LEADLIST_MSG_ID_CHARS      "must be %d to %d characters"
#define NGX_HTTP_LEADLIST_MSG_CONTROL                                         \
    "must not contain control characters"
#define NGX_HTTP_LEADLIST_MSG_BOOLEAN       "must be a boolean"
#define NGX_HTTP_LEADLIST_MSG_NOT_WITH_ALL  "is not allowed with selectAll true"
#define NGX_HTTP_LEADLIST_MSG_ONLY_WITH_ALL                                   \
    "is only allowed with selectAll true"
#define NGX_HTTP_LEADLIST_MSG_INTEGER                                         \
    "must be an integer from %lld to %lld"


#if defined(__GNUC__)
#define NGX_HTTP_LEADLIST_PRINTF(f, a)  __attribute__((format(printf, f, a)))
#else
#define NGX_HTTP_LEADLIST_PRINTF(f, a)
#endif


/* the state of one body's validation */

typedef struct {
    ngx_http_leadlist_body_t          *body;
    const unsigned char               *data;
    size_t                             len;
    ngx_http_leadlist_limits_t         limits;
    ngx_http_leadlist_scan_t          *scan;
    size_t                             next_span;
    ngx_http_leadlist_mode_e           mode;
    int                                syntax;      /* JSON error found */
} ngx_http_leadlist_parse_t;


/* the schema checks of a parsed body (its persons may be placeholders) */
void ngx_http_leadlist_rules_check(ngx_http_leadlist_parse_t *p,
    json_t *root);

/* 1 when no more details fit */
int ngx_http_leadlist_rules_full(ngx_http_leadlist_parse_t *p);

/* a detail whose field is path, printf-like: persons[3].email */
void ngx_http_leadlist_rules_error(ngx_http_leadlist_parse_t *p,
    const char *message, const char *fmt, ...) NGX_HTTP_LEADLIST_PRINTF(3, 4);

/* a detail about the body as a whole: the field "" */
void ngx_http_leadlist_rules_body_error(ngx_http_leadlist_parse_t *p,
    const char *message);

/*
 * a detail on the value that holds the byte at off (off == len: the end of
 * the body), with its line and column
 */
void ngx_http_leadlist_rules_at(ngx_http_leadlist_parse_t *p,
    const char *what, size_t off);


/*
 * From the parse driver (ngx_http_leadlist_body.c): the tree of the i-th
 * person, whose object in root is v, or NULL when a detail says why it
 * has none (too large, invalid JSON).  A tree other than v is released
 * with json_decref().
 */
json_t *ngx_http_leadlist_body_person(ngx_http_leadlist_parse_t *p,
    size_t i, json_t *v);


#endif /* _NGX_HTTP_LEADLIST_RULES_H_INCLUDED_ */
