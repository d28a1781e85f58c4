
/*
 * The body validator's byte scanner: one pass over the raw body before
 * jansson sees it.
 */


#ifndef _NGX_HTTP_LEADLIST_SCAN_H_INCLUDED_
#define _NGX_HTTP_LEADLIST_SCAN_H_INCLUDED_


#include <stddef.h>


/* values jansson may hold at once outside persons: about 13 MB */
#define NGX_HTTP_LEADLIST_MAX_TOKENS  262144


typedef struct {
    size_t                             start;       /* its '{' */
    size_t                             end;         /* its '}' */
} ngx_http_leadlist_span_t;


/* what stopped the scan: each is a 400 (or a 500) whatever the rest holds */

typedef enum {
    NGX_HTTP_LEADLIST_SCAN_OK = 0,
    NGX_HTTP_LEADLIST_SCAN_DEPTH,
    NGX_HTTP_LEADLIST_SCAN_PERSONS,
    NGX_HTTP_LEADLIST_SCAN_TOKENS,
    NGX_HTTP_LEADLIST_SCAN_NOMEM
} ngx_http_leadlist_scan_stop_e;


/* why a number literal would not be stored by PostgreSQL */

typedef enum {
    NGX_HTTP_LEADLIST_NUMBER_OK = 0,
    NGX_HTTP_LEADLIST_NUMBER_DIGITS,
    NGX_HTTP_LEADLIST_NUMBER_RANGE
} ngx_http_leadlist_number_e;


typedef struct {
    size_t                             depth;
    size_t                             commas;      /* in persons */
    size_t                             tokens;      /* outside persons */
    size_t                             start;       /* open person's '{' */
    size_t                             too_deep;    /* offset */
    size_t                             number;      /* offset + 1 */
    ngx_http_leadlist_number_e         number_error;
    ngx_http_leadlist_span_t          *spans;       /* person objects */
    size_t                             nspans;
    size_t                             nalloc;
    size_t                             max_persons;
    ngx_http_leadlist_scan_stop_e      stop;
    unsigned                           object:1;
    unsigned                           expect_key:1;
    unsigned                           persons_key:1;
    unsigned                           persons_done:1;
    unsigned                           in_persons:1;
    unsigned                           in_element:1;
} ngx_http_leadlist_scan_t;


void ngx_http_leadlist_scan_init(ngx_http_leadlist_scan_t *sc,
    size_t max_persons);
void ngx_http_leadlist_scan(ngx_http_leadlist_scan_t *sc,
    const unsigned char *p, size_t len);
void ngx_http_leadlist_scan_free(ngx_http_leadlist_scan_t *sc);

/* the value of four hex digits at p, -1 if they are not */
int ngx_http_leadlist_scan_hex(const unsigned char *p);


#endif /* _NGX_HTTP_LEADLIST_SCAN_H_INCLUDED_ */
