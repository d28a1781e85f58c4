
/*
 * Syntax of the request's path and header values (SPEC 1.2, 1.3, 1.6):
 * the lead list id, the Content-Type, Content-Encoding, Prefer and
 * Idempotency-Key; and of the header names the leadlist_auth_*_header
 * directives give.
 *
 * Content-Type: leading and trailing spaces or tabs are ignored, and so
 * are spaces around ';'; a parameter is token=token or token="quoted";
 * an empty parameter (";;", trailing ';') is allowed, a malformed one is
 * not; every charset parameter must be utf-8 or utf8 (RFC 8259: JSON
 * exchanged between systems is UTF-8).  A charset is told apart from a
 * wrong type so that the client learns which of the two to change.
 *
 * Content-Encoding (RFC 9110 section 8.4): a list of codings, of which
 * only identity (no coding at all) is accepted: nginx hands the body over
 * as it came and the module decodes none, so a gzip body would be read
 * as bytes that are no JSON, and a plain one labelled gzip as what it
 * says it is not.
 *
 * Prefer (RFC 7240):
 *
 *     Prefer     = 1#preference
 *     preference = token [ BWS "=" BWS word ]
 *                  *( OWS ";" [ OWS parameter ] )
 *     parameter  = token [ BWS "=" BWS word ]
 *     word       = token / quoted-string
 *
 * with the list rule's empty elements (", ,") allowed.  An element ends
 * at the next comma outside a quoted-string; one that does not parse
 * counts as no instance of anything: unknown or malformed preferences are
 * no errors (RFC 7240 section 2).  A quoted-string runs from a quote to
 * the next one not escaped by a backslash; a quote with no such end
 * opens none, so that it cannot hide the preferences after it: in
 * 'return="a, tx=rollback' the dry run is still asked for.
 */


#include <string.h>

#include "ngx_http_leadlist_syntax.h"


static const unsigned char *ngx_http_leadlist_syntax_ows(
    const unsigned char *p, const unsigned char *end);
static int ngx_http_leadlist_syntax_tchar(unsigned char c);
static int ngx_http_leadlist_syntax_caseeq(const unsigned char *p, size_t n,
    const char *s);
static int ngx_http_leadlist_syntax_ct_param(const unsigned char **pp,
    const unsigned char *end, int *charset);
static int ngx_http_leadlist_syntax_word(const unsigned char **pp,
    const unsigned char *end, unsigned char *val, size_t *vlen);
static int ngx_http_leadlist_syntax_charset_ok(const unsigned char *v,
    size_t n);
static const unsigned char *ngx_http_leadlist_syntax_pref_end(
    const unsigned char *p, const unsigned char *end, int *unclosed);
static const unsigned char *ngx_http_leadlist_syntax_quote_end(
    const unsigned char *p, const unsigned char *end);
static int ngx_http_leadlist_syntax_pref(ngx_http_leadlist_prefer_t *pr,
    const unsigned char *p, const unsigned char *end);
static int ngx_http_leadlist_syntax_pref_pair(const unsigned char **pp,
    const unsigned char *end, const unsigned char **name, size_t *nlen,
    unsigned char *val, size_t *vlen);
static void ngx_http_leadlist_syntax_pref_apply(
    ngx_http_leadlist_prefer_t *pr, const unsigned char *name, size_t nlen,
    const unsigned char *val, size_t vlen);


/* the preferences the endpoint knows: name, the value it applies */

typedef struct {
    const char  *name;
    const char  *value;      /* at most 16 characters */
    unsigned     flag;
} ngx_http_leadlist_syntax_pref_t;


static const ngx_http_leadlist_syntax_pref_t
    ngx_http_leadlist_syntax_prefs[] =
{
    { "return", "representation", NGX_HTTP_LEADLIST_PREFER_REPRESENTATION },
    { "tx", "rollback", NGX_HTTP_LEADLIST_PREFER_ROLLBACK }
};


ngx_http_leadlist_type_e
ngx_http_leadlist_content_type(const unsigned char *p, size_t len)
{
    int                   charset;
    const unsigned char  *end;

    if (p == NULL) {
        return NGX_HTTP_LEADLIST_TYPE_OTHER;
    }

    end = p + len;
    p = ngx_http_leadlist_syntax_ows(p, end);

    if ((size_t) (end - p) < sizeof("application/json") - 1
        || !ngx_http_leadlist_syntax_caseeq(p, sizeof("application/json") - 1,
                                     "application/json"))
    {
        return NGX_HTTP_LEADLIST_TYPE_OTHER;
    }

    p += sizeof("application/json") - 1;

    /* a bad charset is told only once the whole value is well-formed */

    charset = 1;

    for ( ;; ) {
        p = ngx_http_leadlist_syntax_ows(p, end);

        if (p == end) {
            return charset ? NGX_HTTP_LEADLIST_TYPE_JSON
                           : NGX_HTTP_LEADLIST_TYPE_CHARSET;
        }

        if (*p != ';') {
            return NGX_HTTP_LEADLIST_TYPE_OTHER;
        }

        p = ngx_http_leadlist_syntax_ows(p + 1, end);

        /* RFC 9110: parameters = *( OWS ";" OWS [ parameter ] ) */

        if (p == end || *p == ';') {
            continue;
        }

        if (ngx_http_leadlist_syntax_ct_param(&p, end, &charset) != 0) {
            return NGX_HTTP_LEADLIST_TYPE_OTHER;
        }
    }
}


static const unsigned char *
ngx_http_leadlist_syntax_ows(const unsigned char *p, const unsigned char *end)
{
    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }

    return p;
}


static int
ngx_http_leadlist_syntax_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9'))
    {
        return 1;
    }

    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}


/* ASCII case-insensitive comparison of p..p+n with the lowercase s */

static int
ngx_http_leadlist_syntax_caseeq(const unsigned char *p, size_t n, const char *s)
{
    size_t         i;
    unsigned char  c;

    for (i = 0; i < n; i++) {
        c = p[i];

        if (c >= 'A' && c <= 'Z') {
            c |= 0x20;
        }

        if (s[i] == '\0' || c != (unsigned char) s[i]) {
            return 0;
        }
    }

    return s[n] == '\0';
}


/*
 * one parameter: token "=" ( token / quoted-string ); -1 if malformed;
 * a charset other than UTF-8 clears *charset
 */

static int
ngx_http_leadlist_syntax_ct_param(const unsigned char **pp,
    const unsigned char *end, int *charset)
{
    size_t                nlen, vlen;
    unsigned char         val[16];
    const unsigned char  *p, *name;

    p = *pp;
    name = p;

    while (p < end && ngx_http_leadlist_syntax_tchar(*p)) {
        p++;
    }

    nlen = (size_t) (p - name);

    if (nlen == 0 || p == end || *p != '=') {
        return -1;
    }

    p++;

    if (ngx_http_leadlist_syntax_word(&p, end, val, &vlen) != 0) {
        return -1;
    }

    if (ngx_http_leadlist_syntax_caseeq(name, nlen, "charset")
        && !ngx_http_leadlist_syntax_charset_ok(val, vlen))
    {
        *charset = 0;
    }

    *pp = p;

    return 0;
}


/*
 * a token or a quoted-string; the first 16 bytes of the (unquoted) value
 * go to val, *vlen is its full length
 */

static int
ngx_http_leadlist_syntax_word(const unsigned char **pp,
    const unsigned char *end, unsigned char *val, size_t *vlen)
{
    size_t                n;
    const unsigned char  *p;

    p = *pp;
    n = 0;

    if (p < end && *p == '"') {

        for (p++; p < end && *p != '"'; p++) {

            if (*p == '\\' && ++p == end) {
                return -1;
            }

            /* qdtext and quoted-pair: HTAB, SP, VCHAR, obs-text */
            if ((*p < 0x20 && *p != '\t') || *p == 0x7f) {
                return -1;
            }

            if (n < 16) {
                val[n] = *p;
            }

            n++;
        }

        if (p == end) {
            return -1;
        }

        p++;

    } else {

        for ( /* void */ ; p < end && ngx_http_leadlist_syntax_tchar(*p); p++) {
            if (n < 16) {
                val[n] = *p;
            }

            n++;
        }

        if (n == 0) {
            return -1;
        }
    }

    *pp = p;
    *vlen = n;

    return 0;
}


static int
ngx_http_leadlist_syntax_charset_ok(const unsigned char *v, size_t n)
{
    return n <= 16 && (ngx_http_leadlist_syntax_caseeq(v, n, "utf-8")
                       || ngx_http_leadlist_syntax_caseeq(v, n, "utf8"));
}


int
ngx_http_leadlist_content_encoding_ok(const unsigned char *p, size_t len)
{
    const unsigned char  *end, *q;

    if (p == NULL) {
        return 1;
    }

    end = p + len;

    for ( ;; ) {
        p = ngx_http_leadlist_syntax_ows(p, end);

        for (q = p; q < end && *q != ',' && *q != ' ' && *q != '\t'; q++) {
            /* void */
        }

        if (q > p
            && !ngx_http_leadlist_syntax_caseeq(p, (size_t) (q - p),
                                                "identity"))
        {
            return 0;
        }

        p = ngx_http_leadlist_syntax_ows(q, end);

        if (p == end) {
            return 1;
        }

        if (*p != ',') {
            return 0;
        }

        p++;
    }
}


int
ngx_http_leadlist_list_id_ok(const unsigned char *p, size_t len)
{
    size_t         i;
    unsigned char  c;

    if (p == NULL || len == 0 || len > NGX_HTTP_LEADLIST_MAX_LIST_ID) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        c = p[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '_' || c == '-'))
        {
            return 0;
        }
    }

    return 1;
}


void
ngx_http_leadlist_prefer_parse(ngx_http_leadlist_prefer_t *pr,
    const unsigned char *p, size_t len)
{
    int                   unclosed;
    const unsigned char  *end, *next;

    if (p == NULL) {
        return;
    }

    end = p + len;
    unclosed = 0;

    for ( ;; ) {
        p = ngx_http_leadlist_syntax_ows(p, end);

        if (p == end) {
            return;
        }

        if (*p == ',') {
            p++;
            continue;
        }

        /*
         * the element's end first, then its syntax within it: a malformed
         * element ends where a well-formed one would, and is no instance
         */

        next = ngx_http_leadlist_syntax_pref_end(p, end, &unclosed);

        (void) ngx_http_leadlist_syntax_pref(pr, p, next);

        p = next;
    }
}


/*
 * The end of the element at p: the next comma outside a quoted-string,
 * or end.  A quote whose quoted-string never ends is an ordinary byte.
 * *unclosed, once set, says that no later quote of the value ends either:
 * the search that failed read every later byte in the state a search
 * from a later quote starts in (such a quote was an escaped byte to it),
 * so that a value of many open quotes is read once, not once per quote.
 */

static const unsigned char *
ngx_http_leadlist_syntax_pref_end(const unsigned char *p,
    const unsigned char *end, int *unclosed)
{
    const unsigned char  *q;

    for ( /* void */ ; p < end && *p != ','; p++) {

        if (*p != '"' || *unclosed) {
            continue;
        }

        q = ngx_http_leadlist_syntax_quote_end(p, end);

        if (q == NULL) {
            *unclosed = 1;
            continue;
        }

        p = q;
    }

    return p;
}


/* the quote that ends the quoted-string opened at p, or NULL */

static const unsigned char *
ngx_http_leadlist_syntax_quote_end(const unsigned char *p,
    const unsigned char *end)
{
    for (p++; p < end; p++) {

        if (*p == '\\') {
            if (++p == end) {
                break;
            }

            continue;
        }

        if (*p == '"') {
            return p;
        }
    }

    return NULL;
}


/* one whole preference, p..end, applied if it is well-formed */

static int
ngx_http_leadlist_syntax_pref(ngx_http_leadlist_prefer_t *pr,
    const unsigned char *p, const unsigned char *end)
{
    size_t                nlen, vlen, plen, pvlen;
    unsigned char         val[16], pval[16];
    const unsigned char  *name, *pname;

    if (ngx_http_leadlist_syntax_pref_pair(&p, end, &name, &nlen, val, &vlen)
        != 0)
    {
        return -1;
    }

    for ( ;; ) {
        p = ngx_http_leadlist_syntax_ows(p, end);

        if (p == end) {
            break;
        }

        if (*p != ';') {
            return -1;
        }

        p = ngx_http_leadlist_syntax_ows(p + 1, end);

        if (p == end || *p == ';') {
            continue;
        }

        /* parameters are read only to be skipped: none is known */

        if (ngx_http_leadlist_syntax_pref_pair(&p, end, &pname, &plen, pval,
                                               &pvlen)
            != 0)
        {
            return -1;
        }
    }

    ngx_http_leadlist_syntax_pref_apply(pr, name, nlen, val, vlen);

    return 0;
}


/*
 * token [ BWS "=" BWS word ]: the name in place, the value's first 16
 * bytes (unquoted) in val and its full length in *vlen (0 without one)
 */

static int
ngx_http_leadlist_syntax_pref_pair(const unsigned char **pp,
    const unsigned char *end, const unsigned char **name, size_t *nlen,
    unsigned char *val, size_t *vlen)
{
    const unsigned char  *p, *q;

    p = *pp;
    *name = p;

    while (p < end && ngx_http_leadlist_syntax_tchar(*p)) {
        p++;
    }

    *nlen = (size_t) (p - *name);

    if (*nlen == 0) {
        return -1;
    }

    *vlen = 0;

    q = ngx_http_leadlist_syntax_ows(p, end);

    if (q < end && *q == '=') {
        p = ngx_http_leadlist_syntax_ows(q + 1, end);

        if (ngx_http_leadlist_syntax_word(&p, end, val, vlen) != 0) {
            return -1;
        }
    }

    *pp = p;

    return 0;
}


static void
ngx_http_leadlist_syntax_pref_apply(ngx_http_leadlist_prefer_t *pr,
    const unsigned char *name, size_t nlen, const unsigned char *val,
    size_t vlen)
{
    size_t                                  i;
    const ngx_http_leadlist_syntax_pref_t  *pref;

    for (i = 0; i < sizeof(ngx_http_leadlist_syntax_prefs)
                    / sizeof(ngx_http_leadlist_syntax_pref_t); i++)
    {
        pref = &ngx_http_leadlist_syntax_prefs[i];

        if (!ngx_http_leadlist_syntax_caseeq(name, nlen, pref->name)) {
            continue;
        }

        /* RFC 7240 section 2: only the first instance is considered */

        if (pr->seen & pref->flag) {
            return;
        }

        pr->seen |= pref->flag;

        /* val holds the first 16 bytes of the value */

        if (vlen <= 16 && ngx_http_leadlist_syntax_caseeq(val, vlen,
                                                          pref->value))
        {
            pr->flags |= pref->flag;
        }

        return;
    }
}


int
ngx_http_leadlist_idempotency_key(const unsigned char *p, size_t len,
    unsigned char *key, size_t *klen)
{
    size_t         i, n;
    unsigned char  c;

    if (p == NULL) {
        return -1;
    }

    n = 0;

    if (len && p[0] == '"') {

        /*
         * RFC 8941 sf-string: DQUOTE *( unescaped / "\\" ( DQUOTE / "\\" ) )
         * DQUOTE, and nothing after it
         */

        for (i = 1; i < len && p[i] != '"'; i++) {
            c = p[i];

            if (c == '\\') {
                if (++i == len) {
                    return -1;
                }

                c = p[i];

                if (c != '"' && c != '\\') {
                    return -1;
                }

            } else if (c < 0x20 || c > 0x7e) {
                return -1;
            }

            key[n++] = c;
        }

        if (i != len - 1) {
            return -1;
        }

    } else {

        for (i = 0; i < len; i++) {
            if (p[i] < 0x20 || p[i] > 0x7e) {
                return -1;
            }

            key[n++] = p[i];
        }
    }

    if (n == 0 || n > NGX_HTTP_LEADLIST_MAX_IDEMPOTENCY_KEY) {
        return -1;
    }

    *klen = n;

    return 0;
}


int
ngx_http_leadlist_header_name_ok(const unsigned char *p, size_t len)
{
    size_t  i;

    if (p == NULL || len == 0) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (!ngx_http_leadlist_syntax_tchar(p[i])) {
            return 0;
        }
    }

    return 1;
}
