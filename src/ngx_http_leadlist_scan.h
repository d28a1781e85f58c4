
/*
 * The body validator's byte scanner: one pass over the raw body before
 * jansson sees it.
 */


#ifndef _NGX_HTTP_LEADLIST_SCAN_H_INCLUDED_
#define _NGX_HTTP_LEADLIST_SCAN_H_INCLUDED_


#include <stddef.h>


/* values jansson may hold at once outside persons: about 13 MB */
#define NGX_HTTP_LEADLIST_MAX_TOKENS            262144

/*
 * What PostgreSQL's numeric, so jsonb, stores: a highest digit up to
 * 10^131071 (a weight of 32767 base-10000 digits), at most 16383 digits
 * after the point, and an exponent its input function reads (INT_MAX/2).
 */
#define NGX_HTTP_LEADLIST_NUMERIC_MAX_POWER     131071
#define NGX_HTTP_LEADLIST_NUMERIC_MAX_SCALE     16383
#define NGX_HTTP_LEADLIST_NUMERIC_MAX_EXPONENT  1073741822

/*
 * What jansson is given as is, since a double or an int64 holds it: an
 * integer of at most 18 digits, a real of at most 32 bytes whose exponent
 * is at most 256.  Other numbers are stand-ins of the same length.
 */
#define NGX_HTTP_LEADLIST_JANSSON_INT_DIGITS    18
#define NGX_HTTP_LEADLIST_JANSSON_REAL_BYTES    32
#define NGX_HTTP_LEADLIST_JANSSON_REAL_EXPONENT 256


typedef struct {
    size_t                             start;       /* its first byte */
    size_t                             end;         /* its last byte */
} ngx_http_leadlist_span_t;


/* what stopped the scan: each is a 400 (or a 500) whatever the rest holds */

typedef enum {
    NGX_HTTP_LEADLIST_SCAN_OK = 0,
    NGX_HTTP_LEADLIST_SCAN_DEPTH,
    NGX_HTTP_LEADLIST_SCAN_PERSONS,
    NGX_HTTP_LEADLIST_SCAN_TOKENS,
    NGX_HTTP_LEADLIST_SCAN_NOMEM
} ngx_http_leadlist_scan_stop_e;


/* byte spans, in the order of the body */

typedef struct {
    ngx_http_leadlist_span_t          *elts;
    size_t                             nelts;
    size_t                             nalloc;
} ngx_http_leadlist_spans_t;


typedef struct {
    size_t                             depth;
    size_t                             commas;      /* in persons */
    size_t                             tokens;      /* outside persons */
    size_t                             start;       /* open person's '{' */
    size_t                             too_deep;    /* offset */
    size_t                             number;      /* refused: offset + 1 */
    ngx_http_leadlist_spans_t          persons;     /* person objects */
    ngx_http_leadlist_spans_t          numbers;     /* stand-ins for jansson */
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
