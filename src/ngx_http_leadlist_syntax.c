
/*
 * Syntax of the request's path and header values (SPEC 1.2, 1.3): the
 * lead list id and the Content-Type.
 *
 * Content-Type: leading and trailing spaces or tabs are ignored, and so
 * are spaces around ';'; a parameter is token=token or token="quoted";
 * an empty parameter (";;", trailing ';') is allowed, a malformed one is
 * not; every charset parameter must be utf-8 or utf8.
 */


#include <string.h>

#include "ngx_http_leadlist_syntax.h"


static const unsigned char *ngx_http_leadlist_syntax_ows(
    const unsigned char *p, const unsigned char *end);
static int ngx_http_leadlist_syntax_tchar(unsigned char c);
static int ngx_http_leadlist_syntax_caseeq(const unsigned char *p, size_t n,
    const char *s);
static int ngx_http_leadlist_syntax_ct_param(const unsigned char **pp,
    const unsigned char *end);
static int ngx_http_leadlist_syntax_ct_value(const unsigned char **pp,
    const unsigned char *end, unsigned char *val, size_t *vlen);
static int ngx_http_leadlist_syntax_charset_ok(const unsigned char *v,
    size_t n);


int
ngx_http_leadlist_content_type_ok(const unsigned char *p, size_t len)
{
    const unsigned char  *end;

    if (p == NULL) {
        return 0;
    }

    end = p + len;
    p = ngx_http_leadlist_syntax_ows(p, end);

    if ((size_t) (end - p) < sizeof("application/json") - 1
        || !ngx_http_leadlist_syntax_caseeq(p, sizeof("application/json") - 1,
                                     "application/json"))
    {
        return 0;
    }

    p += sizeof("application/json") - 1;

    for ( ;; ) {
        p = ngx_http_leadlist_syntax_ows(p, end);

        if (p == end) {
            return 1;
        }

        if (*p != ';') {
            return 0;
        }

        p = ngx_http_leadlist_syntax_ows(p + 1, end);

        /* RFC 9110: parameters = *( OWS ";" OWS [ parameter ] ) */

        if (p == end || *p == ';') {
            continue;
        }

        if (ngx_http_leadlist_syntax_ct_param(&p, end) != 0) {
            return 0;
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


/* one parameter: token "=" ( token / quoted-string ) */

static int
ngx_http_leadlist_syntax_ct_param(const unsigned char **pp,
    const unsigned char *end)
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

    if (ngx_http_leadlist_syntax_ct_value(&p, end, val, &vlen) != 0) {
        return -1;
    }

    if (ngx_http_leadlist_syntax_caseeq(name, nlen, "charset")
        && !ngx_http_leadlist_syntax_charset_ok(val, vlen))
    {
        return -1;
    }

    *pp = p;

    return 0;
}


/*
 * a token or a quoted-string; the first 16 bytes of the (unquoted) value
 * go to val, *vlen is its full length
 */

static int
ngx_http_leadlist_syntax_ct_value(const unsigned char **pp,
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
