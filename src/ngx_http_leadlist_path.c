
/*
 * The body validator's paths: the JSON path of a byte of the body.
 *
 * jansson and the scanner tell where a problem is by a byte offset; the
 * detail names the value that holds that byte, as SPEC 1.5 asks: the
 * string, number or literal it is in; the object or array it opens or
 * closes; the object whose member name it is in (a repeated name, a
 * \u0000 or a byte that is not UTF-8 there: the name itself is what is
 * wrong); the member whose value is missing.  One walk over the bytes up
 * to it, aware of strings, escapes and nesting only: before a syntax
 * error it may meet anything, and it never fails.
 */


#include <string.h>
#include <stdio.h>

#include "ngx_http_leadlist_body.h"
#include "ngx_http_leadlist_path.h"
#include "ngx_http_leadlist_scan.h"


/* the scanner lets nothing deeper through, but the deepest bracket */
#define NGX_HTTP_LEADLIST_PATH_FRAMES  (NGX_HTTP_LEADLIST_MAX_DEPTH + 1)


typedef enum {
    NGX_HTTP_LEADLIST_PATH_EMPTY = 0,       /* before a member or element */
    NGX_HTTP_LEADLIST_PATH_KEY,             /* after a member's name */
    NGX_HTTP_LEADLIST_PATH_VALUE,           /* in its value: a deeper frame */
    NGX_HTTP_LEADLIST_PATH_DONE             /* after its value */
} ngx_http_leadlist_path_state_e;


typedef struct {
    size_t                             index;       /* array: element */
    size_t                             key;         /* object: name's '"' */
    size_t                             key_end;     /* its closing '"' */
    ngx_http_leadlist_path_state_e     state;
    unsigned                           object:1;
    unsigned                           has_key:1;
} ngx_http_leadlist_path_frame_t;


typedef struct {
    const unsigned char               *data;
    size_t                             len;
    size_t                             depth;       /* may pass FRAMES */
    char                              *buf;
    size_t                             size;
    size_t                             n;
    ngx_http_leadlist_path_frame_t     frames[NGX_HTTP_LEADLIST_PATH_FRAMES];
} ngx_http_leadlist_path_t;


static size_t ngx_http_leadlist_path_token(ngx_http_leadlist_path_t *w,
    size_t i);
static int ngx_http_leadlist_path_delimiter(unsigned char c);
static ngx_http_leadlist_path_frame_t *ngx_http_leadlist_path_top(
    ngx_http_leadlist_path_t *w);
static void ngx_http_leadlist_path_step(ngx_http_leadlist_path_t *w,
    size_t i, size_t e);
static int ngx_http_leadlist_path_member(ngx_http_leadlist_path_t *w,
    int c);
static void ngx_http_leadlist_path_render(ngx_http_leadlist_path_t *w,
    int member);
static void ngx_http_leadlist_path_name(ngx_http_leadlist_path_t *w,
    const ngx_http_leadlist_path_frame_t *f);
static size_t ngx_http_leadlist_path_escape(ngx_http_leadlist_path_t *w,
    size_t i, size_t end);
static char ngx_http_leadlist_path_simple(unsigned char c);
static void ngx_http_leadlist_path_utf8(ngx_http_leadlist_path_t *w,
    unsigned cp);
static void ngx_http_leadlist_path_add(ngx_http_leadlist_path_t *w,
    const char *s, size_t n);


size_t
ngx_http_leadlist_path(const unsigned char *data, size_t len, size_t off,
    char *buf, size_t size)
{
    int                       member;
    size_t                    i, e;
    ngx_http_leadlist_path_t  w;

    w.data = data;
    w.len = len;
    w.depth = 0;
    w.buf = buf;
    w.size = size;
    w.n = 0;

    for (i = 0; /* void */ ; i = e + 1) {

        while (i < len && (data[i] == ' ' || data[i] == '\t'
                           || data[i] == '\n' || data[i] == '\r'))
        {
            i++;
        }

        /* off is white space, or the end: where the walk stands */

        if (i > off || i >= len) {
            member = ngx_http_leadlist_path_member(&w, 0);
            break;
        }

        e = ngx_http_leadlist_path_token(&w, i);

        if (off <= e) {
            member = ngx_http_leadlist_path_member(&w, data[i]);
            break;
        }

        ngx_http_leadlist_path_step(&w, i, e);
    }

    ngx_http_leadlist_path_render(&w, member);

    return w.n;
}


/*
 * the last byte of the token at i: a string, a bracket, a word; for a
 * string cut short by the end of the body, the end (len), which it holds
 */

static size_t
ngx_http_leadlist_path_token(ngx_http_leadlist_path_t *w, size_t i)
{
    size_t               j;
    const unsigned char  *d;

    d = w->data;

    if (d[i] == '"') {
        for (j = i + 1; j < w->len; j++) {

            if (d[j] == '\\') {
                j++;
                continue;
            }

            if (d[j] == '"') {
                return j;
            }
        }

        return w->len;
    }

    if (ngx_http_leadlist_path_delimiter(d[i])) {
        return i;
    }

    for (j = i + 1; j < w->len; j++) {
        if (ngx_http_leadlist_path_delimiter(d[j]) || d[j] == '"'
            || d[j] == ' ' || d[j] == '\t' || d[j] == '\n' || d[j] == '\r')
        {
            break;
        }
    }

    return j - 1;
}


static int
ngx_http_leadlist_path_delimiter(unsigned char c)
{
    return c == '{' || c == '}' || c == '[' || c == ']' || c == ','
           || c == ':';
}


static ngx_http_leadlist_path_frame_t *
ngx_http_leadlist_path_top(ngx_http_leadlist_path_t *w)
{
    if (w->depth == 0 || w->depth > NGX_HTTP_LEADLIST_PATH_FRAMES) {
        return NULL;
    }

    return &w->frames[w->depth - 1];
}


/* the token from i to e, before off: where the walk stands after it */

static void
ngx_http_leadlist_path_step(ngx_http_leadlist_path_t *w, size_t i, size_t e)
{
    ngx_http_leadlist_path_frame_t  *f, *child;

    f = ngx_http_leadlist_path_top(w);

    switch (w->data[i]) {

    case '{':
    case '[':
        if (f) {
            f->state = NGX_HTTP_LEADLIST_PATH_VALUE;
        }

        if (++w->depth <= NGX_HTTP_LEADLIST_PATH_FRAMES) {
            child = &w->frames[w->depth - 1];
            memset(child, 0, sizeof(ngx_http_leadlist_path_frame_t));
            child->object = (w->data[i] == '{');
        }

        break;

    case '}':
    case ']':
        if (w->depth) {
            w->depth--;
        }

        f = ngx_http_leadlist_path_top(w);

        if (f) {
            f->state = NGX_HTTP_LEADLIST_PATH_DONE;
        }

        break;

    case ',':
        if (f) {
            f->state = NGX_HTTP_LEADLIST_PATH_EMPTY;
            f->has_key = 0;
            f->index += !f->object;
        }

        break;

    case ':':
        break;

    case '"':
        if (f && f->object && f->state == NGX_HTTP_LEADLIST_PATH_EMPTY) {
            f->state = NGX_HTTP_LEADLIST_PATH_KEY;
            f->has_key = 1;
            f->key = i;
            f->key_end = e;
            break;
        }

        /* fall through */

    default:
        if (f) {
            f->state = NGX_HTTP_LEADLIST_PATH_DONE;
        }

        break;
    }
}


/*
 * whether the token at off, starting with c (0: white space), is part of
 * the innermost container's current member or element
 */

static int
ngx_http_leadlist_path_member(ngx_http_leadlist_path_t *w, int c)
{
    ngx_http_leadlist_path_frame_t  *f;

    f = ngx_http_leadlist_path_top(w);

    if (f == NULL) {
        return 0;
    }

    switch (c) {

    /*
     * white space and punctuation go with the name before them, if any:
     * after it, a value is what is missing
     */
    case 0:
    case ':':
    case ',':
    case '}':
    case ']':
        return f->object && f->state == NGX_HTTP_LEADLIST_PATH_KEY;

    /* where a value may start, it is the member's or the element's */
    default:
        return f->object ? f->state == NGX_HTTP_LEADLIST_PATH_KEY
                         : f->state == NGX_HTTP_LEADLIST_PATH_EMPTY;
    }
}


static void
ngx_http_leadlist_path_render(ngx_http_leadlist_path_t *w, int member)
{
    char                             index[32];
    size_t                           k, n;
    ngx_http_leadlist_path_frame_t  *f;

    n = w->depth < NGX_HTTP_LEADLIST_PATH_FRAMES
        ? w->depth : NGX_HTTP_LEADLIST_PATH_FRAMES;

    for (k = 0; k < n; k++) {
        f = &w->frames[k];

        if (k + 1 == w->depth ? !member
                              : f->state != NGX_HTTP_LEADLIST_PATH_VALUE)
        {
            continue;
        }

        if (!f->object) {
            snprintf(index, sizeof(index), "[%zu]", f->index);
            ngx_http_leadlist_path_add(w, index, strlen(index));

        } else if (f->has_key) {
            if (w->n) {
                ngx_http_leadlist_path_add(w, ".", 1);
            }

            ngx_http_leadlist_path_name(w, f);
        }
    }
}


/* a member name, its escapes decoded */

static void
ngx_http_leadlist_path_name(ngx_http_leadlist_path_t *w,
    const ngx_http_leadlist_path_frame_t *f)
{
    size_t  i;

    for (i = f->key + 1; i < f->key_end; i++) {

        if (w->data[i] == '\\' && i + 1 < f->key_end) {
            i = ngx_http_leadlist_path_escape(w, i + 1, f->key_end);
            continue;
        }

        ngx_http_leadlist_path_add(w, (const char *) &w->data[i], 1);
    }
}


/* the escape whose letter is at i: returns its last byte */

static size_t
ngx_http_leadlist_path_escape(ngx_http_leadlist_path_t *w, size_t i,
    size_t end)
{
    int                   cp, lo;
    char                  c;
    const unsigned char  *d;

    d = w->data;

    if (d[i] != 'u') {
        c = ngx_http_leadlist_path_simple(d[i]);
        ngx_http_leadlist_path_add(w, &c, 1);
        return i;
    }

    cp = (end - i > 4) ? ngx_http_leadlist_scan_hex(d + i + 1) : -1;

    if (cp < 0) {
        ngx_http_leadlist_path_add(w, "?", 1);
        return i;
    }

    i += 4;

    /* a surrogate pair is one character; a lone surrogate is none */

    if (cp >= 0xd800 && cp <= 0xdbff && end - i > 6
        && d[i + 1] == '\\' && d[i + 2] == 'u'
        && (lo = ngx_http_leadlist_scan_hex(d + i + 3)) >= 0xdc00
        && lo <= 0xdfff)
    {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        i += 6;

    } else if (cp >= 0xd800 && cp <= 0xdfff) {
        ngx_http_leadlist_path_add(w, "?", 1);
        return i;
    }

    ngx_http_leadlist_path_utf8(w, (unsigned) cp);

    return i;
}


/* \b \f \n \r \t, and \" \\ \/ (or anything else) as themselves */

static char
ngx_http_leadlist_path_simple(unsigned char c)
{
    switch (c) {
    case 'b':
        return '\b';
    case 'f':
        return '\f';
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 't':
        return '\t';
    default:
        return (char) c;
    }
}


static void
ngx_http_leadlist_path_utf8(ngx_http_leadlist_path_t *w, unsigned cp)
{
    char    u[4];
    size_t  n;

    if (cp < 0x80) {
        u[0] = (char) cp;
        n = 1;

    } else if (cp < 0x800) {
        u[0] = (char) (0xc0 | (cp >> 6));
        u[1] = (char) (0x80 | (cp & 0x3f));
        n = 2;

    } else if (cp < 0x10000) {
        u[0] = (char) (0xe0 | (cp >> 12));
        u[1] = (char) (0x80 | ((cp >> 6) & 0x3f));
        u[2] = (char) (0x80 | (cp & 0x3f));
        n = 3;

    } else {
        u[0] = (char) (0xf0 | (cp >> 18));
        u[1] = (char) (0x80 | ((cp >> 12) & 0x3f));
        u[2] = (char) (0x80 | ((cp >> 6) & 0x3f));
        u[3] = (char) (0x80 | (cp & 0x3f));
        n = 4;
    }

    ngx_http_leadlist_path_add(w, u, n);
}


/* what does not fit is left out: the detail writer cuts it with "..." */

static void
ngx_http_leadlist_path_add(ngx_http_leadlist_path_t *w, const char *s,
    size_t n)
{
    if (n > w->size - w->n) {
        n = w->size - w->n;
    }

    memcpy(w->buf + w->n, s, n);
    w->n += n;
}
