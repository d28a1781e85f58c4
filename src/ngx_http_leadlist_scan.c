
/*
 * The body validator's byte scanner: one pass over the raw body before
 * jansson sees it.
 */


#include <stdlib.h>
#include <string.h>

#include "ngx_http_leadlist_body.h"
#include "ngx_http_leadlist_scan.h"


static size_t ngx_http_leadlist_scan_string(ngx_http_leadlist_scan_t *sc,
    const unsigned char *p, size_t len, size_t i);
static int ngx_http_leadlist_scan_key_is(const unsigned char *p, size_t n,
    const char *key);
static void ngx_http_leadlist_scan_token(ngx_http_leadlist_scan_t *sc);
static void ngx_http_leadlist_scan_open(ngx_http_leadlist_scan_t *sc,
    unsigned char c, size_t i);
static void ngx_http_leadlist_scan_close(ngx_http_leadlist_scan_t *sc,
    unsigned char c, size_t i);
static void ngx_http_leadlist_scan_comma(ngx_http_leadlist_scan_t *sc,
    const unsigned char *p, size_t len, size_t i);
static size_t ngx_http_leadlist_scan_number(ngx_http_leadlist_scan_t *sc,
    const unsigned char *p, size_t len, size_t i);
static size_t ngx_http_leadlist_scan_word(ngx_http_leadlist_scan_t *sc,
    const unsigned char *p, size_t len, size_t i);


void
ngx_http_leadlist_scan_init(ngx_http_leadlist_scan_t *sc, size_t max_persons)
{
    memset(sc, 0, sizeof(ngx_http_leadlist_scan_t));
    sc->max_persons = max_persons;
}


void
ngx_http_leadlist_scan_free(ngx_http_leadlist_scan_t *sc)
{
    free(sc->spans);
    sc->spans = NULL;
    sc->nspans = 0;
    sc->nalloc = 0;
}


/*
 * One pass over the raw bytes, aware of strings and escapes.  It finds
 * nesting deeper than NGX_HTTP_LEADLIST_MAX_DEPTH, the byte span of each
 * object in the top-level "persons" array, more persons than allowed,
 * more than NGX_HTTP_LEADLIST_MAX_TOKENS values outside those objects,
 * and number literals that PostgreSQL might refuse.  It stops at the
 * first of the first four, which are 400s whatever the rest holds.  It
 * never fails on invalid JSON: jansson judges the syntax afterwards.
 */

void
ngx_http_leadlist_scan(ngx_http_leadlist_scan_t *sc, const unsigned char *p,
    size_t len)
{
    size_t  i;

    for (i = 0; i < len && sc->stop == NGX_HTTP_LEADLIST_SCAN_OK; i++) {

        switch (p[i]) {

        case '"':
            i = ngx_http_leadlist_scan_string(sc, p, len, i);
            break;

        case '{':
        case '[':
            ngx_http_leadlist_scan_open(sc, p[i], i);
            break;

        case '}':
        case ']':
            ngx_http_leadlist_scan_close(sc, p[i], i);
            break;

        case ',':
            ngx_http_leadlist_scan_comma(sc, p, len, i);
            break;

        case '-':
        case '0': case '1': case '2': case '3': case '4':
        case '5': case '6': case '7': case '8': case '9':
            i = ngx_http_leadlist_scan_number(sc, p, len, i);
            break;

        case 't':
        case 'f':
        case 'n':
            i = ngx_http_leadlist_scan_word(sc, p, len, i);
            break;

        default:
            break;
        }
    }
}


/* returns the offset of the closing quote, or len - 1 */

static size_t
ngx_http_leadlist_scan_string(ngx_http_leadlist_scan_t *sc,
    const unsigned char *p, size_t len, size_t i)
{
    size_t  j;

    ngx_http_leadlist_scan_token(sc);

    for (j = i + 1; j < len; j++) {

        if (p[j] == '\\') {
            j++;
            continue;
        }

        if (p[j] == '"') {
            break;
        }
    }

    if (j >= len) {
        j = len - 1;
    }

    /* in the top-level object, strings alternate: key, value */

    if (sc->depth == 1 && sc->object && sc->expect_key) {
        sc->expect_key = 0;
        sc->persons_key = j > i
                          && ngx_http_leadlist_scan_key_is(p + i + 1, j - i - 1,
                                                      "persons");
    }

    return j;
}


/* whether the raw key p..p+n, escapes decoded, is the ASCII key */

static int
ngx_http_leadlist_scan_key_is(const unsigned char *p, size_t n, const char *key)
{
    int     c;
    size_t  i;

    for (i = 0; i < n; i++, key++) {
        c = p[i];

        if (c == '\\' && i + 1 < n) {
            c = p[++i];

            if (c == 'u') {
                if (n - i < 5) {
                    return 0;
                }

                c = ngx_http_leadlist_scan_hex(p + i + 1);
                i += 4;
            }
        }

        if (*key == '\0' || c != *key) {
            return 0;
        }
    }

    return *key == '\0';
}


int
ngx_http_leadlist_scan_hex(const unsigned char *p)
{
    int            v, i;
    unsigned char  c;

    v = 0;

    for (i = 0; i < 4; i++) {
        c = p[i];

        if (c >= '0' && c <= '9') {
            v = v * 16 + c - '0';

        } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
            v = v * 16 + (c | 0x20) - 'a' + 10;

        } else {
            return -1;
        }
    }

    return v;
}


/* counts a value or key that jansson will hold for the whole call */

static void
ngx_http_leadlist_scan_token(ngx_http_leadlist_scan_t *sc)
{
    if (sc->in_element) {
        return;
    }

    if (++sc->tokens > NGX_HTTP_LEADLIST_MAX_TOKENS) {
        sc->stop = NGX_HTTP_LEADLIST_SCAN_TOKENS;
    }
}


static void
ngx_http_leadlist_scan_open(ngx_http_leadlist_scan_t *sc, unsigned char c,
    size_t i)
{
    ngx_http_leadlist_scan_token(sc);

    sc->depth++;

    if (sc->depth > NGX_HTTP_LEADLIST_MAX_DEPTH) {
        sc->too_deep = i;
        sc->stop = NGX_HTTP_LEADLIST_SCAN_DEPTH;
        return;
    }

    switch (sc->depth) {

    case 1:
        sc->object = (c == '{');
        sc->expect_key = 1;
        break;

    case 2:
        if (c == '[' && sc->object && sc->persons_key && !sc->persons_done) {
            sc->in_persons = 1;
        }
        break;

    case 3:
        if (c == '{' && sc->in_persons) {
            sc->in_element = 1;
            sc->start = i;
        }
        break;

    default:
        break;
    }
}


static void
ngx_http_leadlist_scan_close(ngx_http_leadlist_scan_t *sc, unsigned char c,
    size_t i)
{
    size_t                     n;
    ngx_http_leadlist_span_t  *spans;

    if (sc->depth == 0) {
        return;
    }

    if (sc->depth == 3 && sc->in_element && c == '}') {
        sc->in_element = 0;

        if (sc->nspans == sc->nalloc) {
            n = sc->nalloc ? sc->nalloc * 2 : 16;
            spans = realloc(sc->spans, n * sizeof(ngx_http_leadlist_span_t));

            if (spans == NULL) {
                sc->stop = NGX_HTTP_LEADLIST_SCAN_NOMEM;
                return;
            }

            sc->spans = spans;
            sc->nalloc = n;
        }

        sc->spans[sc->nspans].start = sc->start;
        sc->spans[sc->nspans].end = i;
        sc->nspans++;
    }

    /* only the first "persons" counts: a second one is a duplicate */

    if (sc->depth == 2 && c == ']' && sc->in_persons) {
        sc->in_persons = 0;
        sc->persons_done = 1;
    }

    sc->depth--;
}


static void
ngx_http_leadlist_scan_comma(ngx_http_leadlist_scan_t *sc,
    const unsigned char *p, size_t len, size_t i)
{
    if (sc->depth == 1) {
        sc->expect_key = 1;
        return;
    }

    if (sc->depth != 2 || !sc->in_persons) {
        return;
    }

    /*
     * n commas: n + 1 persons; a trailing comma before ']' announces no
     * person, and the syntax error is jansson's to report
     */

    for (i++; i < len; i++) {
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\n' && p[i] != '\r') {
            break;
        }
    }

    if (i < len && p[i] == ']') {
        return;
    }

    if (++sc->commas >= sc->max_persons) {
        sc->stop = NGX_HTTP_LEADLIST_SCAN_PERSONS;
    }
}


/* returns the offset of the literal's last byte */

static size_t
ngx_http_leadlist_scan_number(ngx_http_leadlist_scan_t *sc,
    const unsigned char *p, size_t len, size_t i)
{
    size_t  j, digits, exp;

    ngx_http_leadlist_scan_token(sc);

    j = i;
    digits = 0;
    exp = 0;

    if (p[j] == '-') {
        j++;
    }

    for ( /* void */ ; j < len; j++) {
        if (p[j] >= '0' && p[j] <= '9') {
            digits++;

        } else if (p[j] != '.') {
            break;
        }
    }

    if (j < len && (p[j] == 'e' || p[j] == 'E')) {
        j++;

        if (j < len && (p[j] == '+' || p[j] == '-')) {
            j++;
        }

        /* saturates: only "above the maximum" matters */

        for ( /* void */ ; j < len && p[j] >= '0' && p[j] <= '9'; j++) {
            if (exp <= NGX_HTTP_LEADLIST_MAX_EXPONENT) {
                exp = exp * 10 + (p[j] - '0');
            }
        }
    }

    if (sc->number == 0) {

        if (digits > NGX_HTTP_LEADLIST_MAX_DIGITS) {
            sc->number = i + 1;
            sc->number_error = NGX_HTTP_LEADLIST_NUMBER_DIGITS;

        } else if (exp > NGX_HTTP_LEADLIST_MAX_EXPONENT) {
            sc->number = i + 1;
            sc->number_error = NGX_HTTP_LEADLIST_NUMBER_RANGE;
        }
    }

    return j - 1;
}


/* true, false, null: one value, whatever letters follow */

static size_t
ngx_http_leadlist_scan_word(ngx_http_leadlist_scan_t *sc,
    const unsigned char *p, size_t len, size_t i)
{
    ngx_http_leadlist_scan_token(sc);

    while (i + 1 < len && p[i + 1] >= 'a' && p[i + 1] <= 'z') {
        i++;
    }

    return i;
}
