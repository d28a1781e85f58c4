
/*
 * The body validator's byte scanner: one pass over the raw body before
 * jansson sees it.
 */


#include <stdlib.h>
#include <string.h>

#include "ngx_http_leadlist_body.h"
#include "ngx_http_leadlist_scan.h"


/* a number literal as the scanner reads it */

typedef struct {
    size_t                             digits;      /* before the point */
    size_t                             fraction;    /* after it */
    unsigned long long                 exponent;    /* saturated */
    size_t                             bytes;
    long long                          power;       /* first significant */
    unsigned                           negative:1;  /* exponent */
    unsigned                           nonzero:1;
    unsigned                           real:1;
    unsigned                           valid:1;
} ngx_http_leadlist_number_t;


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
static size_t ngx_http_leadlist_scan_literal(ngx_http_leadlist_number_t *n,
    const unsigned char *p, size_t len, size_t j);
static size_t ngx_http_leadlist_scan_digits(ngx_http_leadlist_number_t *n,
    const unsigned char *p, size_t len, size_t j, int fraction);
static int ngx_http_leadlist_scan_numeric(const ngx_http_leadlist_number_t *n);
static int ngx_http_leadlist_scan_jansson(const ngx_http_leadlist_number_t *n);
static int ngx_http_leadlist_scan_digit(unsigned char c);
static void ngx_http_leadlist_scan_push(ngx_http_leadlist_scan_t *sc,
    ngx_http_leadlist_spans_t *a, size_t start, size_t end);
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
    free(sc->persons.elts);
    free(sc->numbers.elts);
    memset(&sc->persons, 0, sizeof(ngx_http_leadlist_spans_t));
    memset(&sc->numbers, 0, sizeof(ngx_http_leadlist_spans_t));
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
    if (sc->depth == 0) {
        return;
    }

    if (sc->depth == 3 && sc->in_element && c == '}') {
        sc->in_element = 0;
        ngx_http_leadlist_scan_push(sc, &sc->persons, sc->start, i);
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


/*
 * A number literal, read as jansson's lexer does: the last byte of the
 * literal, or of what was read of one that is not valid JSON (jansson
 * reports it).  A valid one PostgreSQL refuses is remembered (the first
 * only); one jansson could not hold, or not hold fast, gets a stand-in.
 */

static size_t
ngx_http_leadlist_scan_number(ngx_http_leadlist_scan_t *sc,
    const unsigned char *p, size_t len, size_t i)
{
    size_t                      j;
    ngx_http_leadlist_number_t  n;

    ngx_http_leadlist_scan_token(sc);

    memset(&n, 0, sizeof(ngx_http_leadlist_number_t));

    j = ngx_http_leadlist_scan_literal(&n, p, len, i);

    /*
     * not JSON: jansson reports it, maybe after a look at the next byte
     * ("01"), so nothing in the rest of the run gets a stand-in
     */

    if (!n.valid) {
        while (j < len && (ngx_http_leadlist_scan_digit(p[j]) || p[j] == '.'
                           || p[j] == 'e' || p[j] == 'E' || p[j] == '+'
                           || p[j] == '-'))
        {
            j++;
        }

        return j - 1;
    }

    n.bytes = j - i;

    if (!ngx_http_leadlist_scan_numeric(&n)) {
        if (sc->number == 0) {
            sc->number = i + 1;
        }

    } else if (ngx_http_leadlist_scan_jansson(&n)) {
        return j - 1;
    }

    ngx_http_leadlist_scan_push(sc, &sc->numbers, i, j - 1);

    return j - 1;
}


/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?: returns where it ends */

static size_t
ngx_http_leadlist_scan_literal(ngx_http_leadlist_number_t *n,
    const unsigned char *p, size_t len, size_t j)
{
    if (p[j] == '-') {
        j++;
    }

    if (j < len && p[j] == '0') {
        j++;

        /* a leading zero: jansson refuses the token */
        if (j < len && ngx_http_leadlist_scan_digit(p[j])) {
            return j;
        }

        n->digits = 1;

    } else {
        j = ngx_http_leadlist_scan_digits(n, p, len, j, 0);

        if (n->digits == 0) {
            return j;
        }
    }

    if (j < len && p[j] == '.') {
        if (j + 1 == len || !ngx_http_leadlist_scan_digit(p[j + 1])) {
            return j + 1;
        }

        n->real = 1;
        j = ngx_http_leadlist_scan_digits(n, p, len, j + 1, 1);
    }

    if (j < len && (p[j] == 'e' || p[j] == 'E')) {
        j++;
        n->real = 1;

        if (j < len && (p[j] == '+' || p[j] == '-')) {
            n->negative = (p[j] == '-');
            j++;
        }

        if (j == len || !ngx_http_leadlist_scan_digit(p[j])) {
            return j;
        }

        /* saturates: only "above the maximum" matters */

        for ( /* void */ ; j < len && ngx_http_leadlist_scan_digit(p[j]); j++)
        {
            if (n->exponent <= NGX_HTTP_LEADLIST_NUMERIC_MAX_EXPONENT) {
                n->exponent = n->exponent * 10 + (p[j] - '0');
            }
        }
    }

    n->valid = 1;

    return j;
}


/* the digits of the integer part or of the fraction, from j */

static size_t
ngx_http_leadlist_scan_digits(ngx_http_leadlist_number_t *n,
    const unsigned char *p, size_t len, size_t j, int fraction)
{
    for ( /* void */ ; j < len && ngx_http_leadlist_scan_digit(p[j]); j++) {

        /* the power of ten of the first digit that is not 0 */

        if (p[j] != '0' && !n->nonzero) {
            n->nonzero = 1;
            n->power = fraction ? -1 - (long long) n->fraction
                                : - (long long) n->digits;
        }

        if (fraction) {
            n->fraction++;

        } else {
            n->digits++;
        }
    }

    /* the integer part's first significant digit: counted from its end */

    if (!fraction && n->nonzero) {
        n->power += (long long) n->digits - 1;
    }

    return j;
}


/*
 * whether PostgreSQL's numeric_in() takes it: the exponent as it reads
 * it, the scale (digits after the point, less the exponent), the weight
 * (the power of ten of the first significant digit)
 */

static int
ngx_http_leadlist_scan_numeric(const ngx_http_leadlist_number_t *n)
{
    long long  e;

    if (n->exponent > NGX_HTTP_LEADLIST_NUMERIC_MAX_EXPONENT) {
        return 0;
    }

    e = n->negative ? - (long long) n->exponent : (long long) n->exponent;

    if ((long long) n->fraction - e > NGX_HTTP_LEADLIST_NUMERIC_MAX_SCALE) {
        return 0;
    }

    return !n->nonzero || n->power + e <= NGX_HTTP_LEADLIST_NUMERIC_MAX_POWER;
}


/* whether jansson holds it, in an int64 or a double, and reads it fast */

static int
ngx_http_leadlist_scan_jansson(const ngx_http_leadlist_number_t *n)
{
    if (!n->real) {
        return n->digits <= NGX_HTTP_LEADLIST_JANSSON_INT_DIGITS;
    }

    return n->bytes <= NGX_HTTP_LEADLIST_JANSSON_REAL_BYTES
           && n->exponent <= NGX_HTTP_LEADLIST_JANSSON_REAL_EXPONENT;
}


static int
ngx_http_leadlist_scan_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}


/* appends a span; out of memory stops the scan */

static void
ngx_http_leadlist_scan_push(ngx_http_leadlist_scan_t *sc,
    ngx_http_leadlist_spans_t *a, size_t start, size_t end)
{
    size_t                     n;
    ngx_http_leadlist_span_t  *elts;

    if (a->nelts == a->nalloc) {
        n = a->nalloc ? a->nalloc * 2 : 16;
        elts = realloc(a->elts, n * sizeof(ngx_http_leadlist_span_t));

        if (elts == NULL) {
            sc->stop = NGX_HTTP_LEADLIST_SCAN_NOMEM;
            return;
        }

        a->elts = elts;
        a->nalloc = n;
    }

    a->elts[a->nelts].start = start;
    a->elts[a->nelts].end = end;
    a->nelts++;
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
