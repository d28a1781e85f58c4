
/*
 * The request-body validator of the leadlist module (SPEC 1.2, 1.3, 1.5).
 *
 * Plain C99 over jansson with no nginx types, so that it can be unit-tested
 * (t/unit/test_body.c) and fuzzed (fuzz/fuzz_body.c) on its own.  Whatever
 * it accepts is sent as is to PostgreSQL as a jsonb parameter, so it must
 * only accept what jsonb stores and what the SQL may trust the shape of.
 *
 * Choices where the specification is silent (also in README.md):
 *
 *  - A detail about the body as a whole has the field "" (the root of the
 *    JSON path; "body" could clash with a top-level member of that name).
 *    An unknown top-level member's field is its name; an unknown member of
 *    selection's is "selection.<name>".
 *  - Paths and messages are valid UTF-8: a client-supplied member name is
 *    cut at a character boundary and ends with "..." when it does not fit;
 *    C0 control characters and DEL in it are shown as "?".
 *  - Details come in this order: body-level problems, then persons or
 *    selection (persons by index, in each person id then the known fields
 *    in the table's order, then departments), then unknown top-level
 *    members in the order sent.  At most 100; the rest are not reported.
 *  - An empty body, or one of whitespace only, is "" "must be a JSON
 *    object; the body is empty".  A top-level value that is not an object
 *    is "" "must be a JSON object".
 *  - A leading UTF-8 byte order mark is refused (RFC 8259 forbids sending
 *    one) rather than skipped, and so is a body nested more than 32 levels
 *    deep, counting the body object as level 1, before jansson sees it.
 *    A raw NUL byte anywhere is "invalid JSON: NUL byte" (libpq would cut
 *    the text there).
 *  - Syntax errors carry jansson's text with its line and column; errors
 *    from the byte scanner carry the line and column of the token.
 *  - Numbers: jansson refuses integers beyond 64 bits and reals beyond a
 *    double ("number out of range").  On top of that a number literal may
 *    have at most 1000 digits before its exponent and an exponent from
 *    -1000 to 1000: with these, the scale and weight stay far below
 *    PostgreSQL numeric's limits (scale 16383, weight 131072 digits), so
 *    jsonb always stores it.  1e-100000, 0e-100000 or 1.(20000 zeros) are
 *    400s although a double would read them.
 *  - Characters are Unicode code points, not bytes.  "Control characters"
 *    are U+0000-U+001F and U+007F-U+009F; only ids and searchId are checked
 *    for them (the profile's text fields are stored as sent).
 *  - Memory: jansson trees take up to 40 times the text they come from,
 *    so jansson never sees the whole body at once.  It parses the body
 *    with each person object blanked out (at most 262144 values there,
 *    counted before parsing, else "" "must not hold more than 262144 JSON
 *    values outside the persons"), then each person alone, checked and
 *    freed in turn.  JSON errors keep the positions and the precedence of
 *    a whole-body parse: the first one in the body is the only detail.
 *  - A person object larger than 65536 bytes from its '{' to its '}' as
 *    sent is refused without being parsed ("persons[i]" "must be at most
 *    65536 bytes"), so its members are not checked; 65536 is accepted.
 *  - More than max_persons persons is found while scanning, before any
 *    parsing: the one detail is "persons" "must be an array of 1 to N
 *    items" (npersons is then max_persons + 1).  An empty persons array
 *    gets the same message.
 *  - selection members are never null: null for selectAll, ids,
 *    excludeIds, offset or limit is a wrong type ("must be a boolean", ...).
 *  - offset and limit are JSON integers: 1.0 or 1e2 are refused.  offset
 *    is at most 2147483647 so the SQL may read it as int or bigint.
 *  - excludeIds may be empty.  Ids in ids and excludeIds follow the person
 *    id rule (string, 1 to 128 characters, no control characters).
 *  - When selectAll is not a boolean, the mode is unknown: the other
 *    members are checked for their own types only ("is required" and "is
 *    not allowed" need the mode).
 *  - Both persons and selection: one detail on "", and neither is checked.
 *  - limits == NULL means the defaults (1000, 1000).
 *  - Memory exhaustion inside jansson returns -1 with body->nomem set and
 *    the detail "" "could not be parsed: out of memory": the caller
 *    answers 500, not 400.
 *  - Content-Type: leading and trailing spaces or tabs are ignored, and so
 *    are spaces around ';'; a parameter is token=token or token="quoted";
 *    an empty parameter (";;", trailing ';') is allowed, a malformed one is
 *    not; every charset parameter must be utf-8 or utf8.
 */


#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ngx_http_leadlist_body.h"

#define NGX_HTTP_LEADLIST_PATH_LEN    128


/* bodies up to this size are parsed whole (see the header) */

size_t  ngx_http_leadlist_whole_max = NGX_HTTP_LEADLIST_MAX_PERSON_BYTES;

/* values jansson may hold at once outside persons: about 13 MB */
#define NGX_HTTP_LEADLIST_MAX_TOKENS  262144

/* the first chunk of the arena, kept between bodies; later ones double */
#define NGX_HTTP_LEADLIST_CHUNK       65536

#define ngx_http_leadlist_align16(n)  (((n) + 15) & ~(size_t) 15)

/* where a chunk's allocations start: after its header, aligned */
#define NGX_HTTP_LEADLIST_CHUNK_HEAD                                          \
    ngx_http_leadlist_align16(sizeof(ngx_http_leadlist_chunk_t))

/* -DNGX_HTTP_LEADLIST_ARENA=0 or 1 overrides the choice below */

#ifndef NGX_HTTP_LEADLIST_ARENA
#if defined(__SANITIZE_ADDRESS__)
#define NGX_HTTP_LEADLIST_ARENA       0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define NGX_HTTP_LEADLIST_ARENA       0
#endif
#endif
#endif

#ifndef NGX_HTTP_LEADLIST_ARENA
#define NGX_HTTP_LEADLIST_ARENA       1
#endif


typedef struct {
    char                              *buf;
    size_t                             size;
    size_t                             len;
    int                                truncated;
} ngx_http_leadlist_str_t;


typedef struct {
    size_t                             start;       /* its '{' */
    size_t                             end;         /* its '}' */
} ngx_http_leadlist_span_t;


typedef struct ngx_http_leadlist_chunk_s  ngx_http_leadlist_chunk_t;

struct ngx_http_leadlist_chunk_s {
    ngx_http_leadlist_chunk_t         *next;        /* older */
    char                              *last;
    char                              *end;
};


typedef enum {
    NGX_HTTP_LEADLIST_SCAN_OK = 0,
    NGX_HTTP_LEADLIST_SCAN_DEPTH,
    NGX_HTTP_LEADLIST_SCAN_PERSONS,
    NGX_HTTP_LEADLIST_SCAN_TOKENS,
    NGX_HTTP_LEADLIST_SCAN_NOMEM
} ngx_http_leadlist_scan_stop_e;


typedef struct {
    size_t                             depth;
    size_t                             commas;      /* in persons */
    size_t                             tokens;      /* outside persons */
    size_t                             start;       /* open person's '{' */
    size_t                             too_deep;    /* offset */
    size_t                             number;      /* offset + 1 */
    const char                        *number_error;
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


/* feeds jansson the body with each person object's inside blanked out */

typedef struct {
    const unsigned char               *data;
    size_t                             len;
    size_t                             pos;
    size_t                             next;        /* span */
    const ngx_http_leadlist_scan_t    *scan;
} ngx_http_leadlist_reader_t;


typedef struct {
    ngx_http_leadlist_body_t          *body;
    const unsigned char               *data;
    size_t                             len;
    ngx_http_leadlist_limits_t         limits;
    ngx_http_leadlist_scan_t          *scan;
    size_t                             next_span;
    ngx_http_leadlist_mode_e           mode;
    int                                syntax;      /* JSON error found */
} ngx_http_leadlist_ctx_t;


#if defined(__GNUC__)
#define NGX_HTTP_LEADLIST_PRINTF(f, a)  __attribute__((format(printf, f, a)))
#else
#define NGX_HTTP_LEADLIST_PRINTF(f, a)
#endif


static size_t ngx_http_leadlist_utf8_len(const unsigned char *p, size_t n);
static void ngx_http_leadlist_str_init(ngx_http_leadlist_str_t *s, char *buf,
    size_t size);
static void ngx_http_leadlist_str_append(ngx_http_leadlist_str_t *s,
    const char *src, size_t n);
static void ngx_http_leadlist_str_finish(ngx_http_leadlist_str_t *s);
static int ngx_http_leadlist_full(ngx_http_leadlist_ctx_t *ctx);
static void ngx_http_leadlist_detail(ngx_http_leadlist_ctx_t *ctx,
    const char *message, const char *path, const char *name, size_t nlen);
static void ngx_http_leadlist_body_error(ngx_http_leadlist_ctx_t *ctx,
    const char *message);
static void ngx_http_leadlist_error(ngx_http_leadlist_ctx_t *ctx,
    const char *message, const char *fmt, ...) NGX_HTTP_LEADLIST_PRINTF(3, 4);

static void ngx_http_leadlist_scan(ngx_http_leadlist_scan_t *sc,
    const unsigned char *p, size_t len);
static size_t ngx_http_leadlist_scan_string(ngx_http_leadlist_scan_t *sc,
    const unsigned char *p, size_t len, size_t i);
static int ngx_http_leadlist_key_is(const unsigned char *p, size_t n,
    const char *key);
static int ngx_http_leadlist_hex(const unsigned char *p);
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
static void ngx_http_leadlist_scan_error(ngx_http_leadlist_ctx_t *ctx);

static int ngx_http_leadlist_blank(const unsigned char *p, size_t len);
static void ngx_http_leadlist_at(ngx_http_leadlist_ctx_t *ctx,
    const char *what, size_t off);
static size_t ngx_http_leadlist_read(void *buf, size_t size, void *data);
static json_t *ngx_http_leadlist_parse_skeleton(ngx_http_leadlist_ctx_t *ctx);
static json_t *ngx_http_leadlist_parse_span(ngx_http_leadlist_ctx_t *ctx,
    const ngx_http_leadlist_span_t *sp);
static void ngx_http_leadlist_parse_rest(ngx_http_leadlist_ctx_t *ctx);
static int ngx_http_leadlist_oversized(const ngx_http_leadlist_span_t *sp);
static void ngx_http_leadlist_syntax(ngx_http_leadlist_ctx_t *ctx,
    json_error_t *err, size_t base);
static void ngx_http_leadlist_check_root(ngx_http_leadlist_ctx_t *ctx,
    json_t *root);
static void ngx_http_leadlist_check_persons(ngx_http_leadlist_ctx_t *ctx,
    json_t *persons);
static void ngx_http_leadlist_check_element(ngx_http_leadlist_ctx_t *ctx,
    size_t i, json_t *v);
static void ngx_http_leadlist_check_person(ngx_http_leadlist_ctx_t *ctx,
    size_t i, json_t *person);
static void ngx_http_leadlist_check_text(ngx_http_leadlist_ctx_t *ctx,
    size_t i, const char *name, json_t *v);
static void ngx_http_leadlist_check_departments(ngx_http_leadlist_ctx_t *ctx,
    size_t i, json_t *v);
static const char *ngx_http_leadlist_text_error(json_t *v);
static void ngx_http_leadlist_check_selection(ngx_http_leadlist_ctx_t *ctx,
    json_t *sel);
static int ngx_http_leadlist_check_select_all(ngx_http_leadlist_ctx_t *ctx,
    json_t *sel);
static json_t *ngx_http_leadlist_select_all_member(
    ngx_http_leadlist_ctx_t *ctx, json_t *sel, const char *name, int all);
static void ngx_http_leadlist_check_ids(ngx_http_leadlist_ctx_t *ctx,
    const char *path, json_t *v, size_t min, size_t max);
static void ngx_http_leadlist_check_int(ngx_http_leadlist_ctx_t *ctx,
    const char *path, json_t *v, json_int_t min, json_int_t max);
static void ngx_http_leadlist_check_unknown(ngx_http_leadlist_ctx_t *ctx,
    const char *prefix, json_t *obj, const char **known);
static int ngx_http_leadlist_known(const char *key, const char **known);
static const char *ngx_http_leadlist_id_error(json_t *v);
static size_t ngx_http_leadlist_chars(const char *s, size_t n, int *ctrl);

static const unsigned char *ngx_http_leadlist_ows(const unsigned char *p,
    const unsigned char *end);
static int ngx_http_leadlist_tchar(unsigned char c);
static int ngx_http_leadlist_caseeq(const unsigned char *p, size_t n,
    const char *s);
static int ngx_http_leadlist_ct_param(const unsigned char **pp,
    const unsigned char *end);
static int ngx_http_leadlist_ct_value(const unsigned char **pp,
    const unsigned char *end, unsigned char *val, size_t *vlen);
static int ngx_http_leadlist_charset_ok(const unsigned char *v, size_t n);


static const char  *ngx_http_leadlist_text_fields[] = {
    "firstName", "lastName", "fullName", "title", "headline", "email",
    "phone", "linkedinUrl", "companyId", "companyName", "companyDomain",
    "industry", "seniority", "city", "state", "country", NULL
};

static const char  *ngx_http_leadlist_top_members[] = {
    "persons", "selection", NULL
};

static const char  *ngx_http_leadlist_selection_members[] = {
    "searchId", "selectAll", "ids", "excludeIds", "offset", "limit", NULL
};


/*
 * jansson allocates every value, member name and string of a tree on its
 * own and frees them one by one: thousands of malloc() and free() calls
 * for a body of 100 persons, a fifth of the worker's CPU for such a body
 * (bench/profile.sh).  While a body is parsed whole, its tree comes from
 * an arena instead: allocating is a pointer bump, freeing does nothing,
 * and the arena is emptied at once when the tree is gone.  A tree parsed
 * whole is at most about 40 times whole_max, so the arena is bounded;
 * the per-person path, whose point is to hold one person's tree at a
 * time, keeps malloc().  So does everything outside that window, and
 * free() of memory that is not the arena's: jansson's allocator is the
 * process's.  Address-sanitizer builds keep malloc(), so that they see
 * every allocation on its own.
 */

static ngx_http_leadlist_chunk_t  *ngx_http_leadlist_arena;
static int                         ngx_http_leadlist_arena_on;


static void *
ngx_http_leadlist_arena_alloc(size_t size)
{
    size_t                      n;
    ngx_http_leadlist_chunk_t  *c;

    if (!ngx_http_leadlist_arena_on) {
        return malloc(size);
    }

    size = ngx_http_leadlist_align16(size);
    c = ngx_http_leadlist_arena;

    if (c == NULL || (size_t) (c->end - c->last) < size) {
        n = c ? 2 * (size_t) (c->end - (char *) c) : NGX_HTTP_LEADLIST_CHUNK;

        while (n - NGX_HTTP_LEADLIST_CHUNK_HEAD < size) {
            n *= 2;
        }

        c = malloc(n);
        if (c == NULL) {
            return NULL;
        }

        c->next = ngx_http_leadlist_arena;
        c->last = (char *) c + NGX_HTTP_LEADLIST_CHUNK_HEAD;
        c->end = (char *) c + n;
        ngx_http_leadlist_arena = c;
    }

    c->last += size;

    return c->last - size;
}


static void
ngx_http_leadlist_arena_free(void *p)
{
    ngx_http_leadlist_chunk_t  *c;

    if (ngx_http_leadlist_arena_on) {
        for (c = ngx_http_leadlist_arena; c; c = c->next) {
            if ((char *) p >= (char *) c && (char *) p < c->end) {
                return;
            }
        }
    }

    free(p);
}


static void
ngx_http_leadlist_arena_begin(void)
{
    static int  installed;

    if (!NGX_HTTP_LEADLIST_ARENA) {
        return;
    }

    if (!installed) {
        json_set_alloc_funcs(ngx_http_leadlist_arena_alloc,
                             ngx_http_leadlist_arena_free);
        installed = 1;
    }

    ngx_http_leadlist_arena_on = 1;
}


/* everything but the first chunk goes; the first is kept for the next */

static void
ngx_http_leadlist_arena_end(void)
{
    ngx_http_leadlist_chunk_t  *c;

    ngx_http_leadlist_arena_on = 0;

    while ((c = ngx_http_leadlist_arena) && c->next) {
        ngx_http_leadlist_arena = c->next;
        free(c);
    }

    if (c) {
        c->last = (char *) c + NGX_HTTP_LEADLIST_CHUNK_HEAD;
    }
}


void
ngx_http_leadlist_body_cleanup(void)
{
    free(ngx_http_leadlist_arena);
    ngx_http_leadlist_arena = NULL;
}


int
ngx_http_leadlist_body_validate(const unsigned char *data, size_t len,
    const ngx_http_leadlist_limits_t *limits, ngx_http_leadlist_body_t *body)
{
    json_t                    *root;
    const unsigned char       *nul;
    ngx_http_leadlist_ctx_t    ctx;
    ngx_http_leadlist_scan_t   scan;

    body->mode = NGX_HTTP_LEADLIST_MODE_NONE;
    body->npersons = 0;
    body->nomem = 0;
    body->ndetails = 0;

    memset(&ctx, 0, sizeof(ctx));
    ctx.body = body;
    ctx.data = data;
    ctx.len = len;
    ctx.scan = &scan;
    ctx.limits.max_persons = NGX_HTTP_LEADLIST_DEFAULT_MAX;
    ctx.limits.max_selection = NGX_HTTP_LEADLIST_DEFAULT_MAX;

    if (limits) {
        ctx.limits = *limits;
    }

    if (data == NULL || ngx_http_leadlist_blank(data, len)) {
        ngx_http_leadlist_body_error(&ctx,
                                "must be a JSON object; the body is empty");
        return -1;
    }

    if (len >= 3 && data[0] == 0xef && data[1] == 0xbb && data[2] == 0xbf) {
        ngx_http_leadlist_body_error(&ctx,
                         "must not start with a UTF-8 byte order mark");
        return -1;
    }

    /*
     * jansson's message for a NUL byte outside a string is "near end of
     * file", and libpq would cut the text there
     */

    nul = memchr(data, '\0', len);

    if (nul) {
        ngx_http_leadlist_at(&ctx, "invalid JSON: NUL byte",
                             (size_t) (nul - data));
        return -1;
    }

    /*
     * The scanner runs first, so that a deeply nested body never reaches
     * jansson's recursive parser, and so that jansson never holds more
     * than the body outside the persons (at most 262144 values) plus one
     * person (at most 64 KiB) at a time: its trees take up to 40 times
     * the size of the text they come from.
     */

    memset(&scan, 0, sizeof(scan));
    scan.max_persons = ctx.limits.max_persons;

    ngx_http_leadlist_scan(&scan, data, len);

    if (scan.stop != NGX_HTTP_LEADLIST_SCAN_OK) {
        ngx_http_leadlist_scan_error(&ctx);
        free(scan.spans);
        return -1;
    }

    /*
     * A body no larger than one person may hold is parsed whole: its tree
     * is small, and each person is then read once instead of twice (the
     * skeleton, then the person).  Most requests are such bodies.
     */

    if (len <= ngx_http_leadlist_whole_max) {
        scan.nspans = 0;
        ngx_http_leadlist_arena_begin();
    }

    root = ngx_http_leadlist_parse_skeleton(&ctx);

    if (root) {
        ngx_http_leadlist_check_root(&ctx, root);
        ngx_http_leadlist_parse_rest(&ctx);
        json_decref(root);

        /* the scanner's view of numbers is exact once jansson agrees */

        if (!ctx.syntax && scan.number) {
            body->ndetails = 0;
            ngx_http_leadlist_at(&ctx, scan.number_error, scan.number - 1);
        }
    }

    ngx_http_leadlist_arena_end();

    free(scan.spans);

    /* a body that is not JSON has no persons to count, whichever path */

    if (ctx.syntax) {
        body->npersons = 0;
    }

    if (body->ndetails) {
        return -1;
    }

    body->mode = ctx.mode;

    return 0;
}


/* the length of the valid UTF-8 sequence at p, 0 if it is not one */

static size_t
ngx_http_leadlist_utf8_len(const unsigned char *p, size_t n)
{
    size_t         k, i;
    unsigned char  c, lo, hi;

    c = p[0];
    lo = 0x80;
    hi = 0xbf;

    if (c < 0x80) {
        return 1;
    }

    if (c < 0xc2 || c > 0xf4) {
        return 0;
    }

    if (c < 0xe0) {
        k = 2;

    } else if (c < 0xf0) {
        k = 3;

        /* no overlong forms, no surrogates */
        if (c == 0xe0) {
            lo = 0xa0;

        } else if (c == 0xed) {
            hi = 0x9f;
        }

    } else {
        k = 4;

        /* no overlong forms, nothing above U+10FFFF */
        if (c == 0xf0) {
            lo = 0x90;

        } else if (c == 0xf4) {
            hi = 0x8f;
        }
    }

    if (n < k || p[1] < lo || p[1] > hi) {
        return 0;
    }

    for (i = 2; i < k; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }
    }

    return k;
}


static void
ngx_http_leadlist_str_init(ngx_http_leadlist_str_t *s, char *buf,
    size_t size)
{
    s->buf = buf;
    s->size = size;
    s->len = 0;
    s->truncated = 0;
}


/*
 * copies whole characters only, so that a cut never splits one; bytes
 * that are not UTF-8, C0 controls and DEL become '?' because the text
 * ends up in a JSON response and in the error log
 */

static void
ngx_http_leadlist_str_append(ngx_http_leadlist_str_t *s, const char *src,
    size_t n)
{
    size_t                i, k;
    const unsigned char  *p, *q;

    p = (const unsigned char *) src;

    for (i = 0; i < n && !s->truncated; i += k) {
        k = ngx_http_leadlist_utf8_len(p + i, n - i);
        q = p + i;

        if (k == 0 || (k == 1 && (p[i] < 0x20 || p[i] == 0x7f))) {
            k = 1;
            q = (const unsigned char *) "?";
        }

        if (s->len + k >= s->size) {
            s->truncated = 1;
            return;
        }

        memcpy(s->buf + s->len, q, k);
        s->len += k;
    }
}


static void
ngx_http_leadlist_str_finish(ngx_http_leadlist_str_t *s)
{
    if (s->truncated) {

        /* drop whole characters until "..." fits */

        while (s->len > s->size - 4) {
            do {
                s->len--;
            } while (s->len > 0
                     && ((unsigned char) s->buf[s->len] & 0xc0) == 0x80);
        }

        memcpy(s->buf + s->len, "...", 3);
        s->len += 3;
    }

    s->buf[s->len] = '\0';
}


static int
ngx_http_leadlist_full(ngx_http_leadlist_ctx_t *ctx)
{
    return ctx->body->ndetails == NGX_HTTP_LEADLIST_MAX_DETAILS;
}


/* the field is path followed by name, a client-supplied member name */

static void
ngx_http_leadlist_detail(ngx_http_leadlist_ctx_t *ctx, const char *message,
    const char *path, const char *name, size_t nlen)
{
    ngx_http_leadlist_str_t      s;
    ngx_http_leadlist_detail_t  *d;

    /* after a JSON error, the checks still under way report nothing */

    if (ngx_http_leadlist_full(ctx) || ctx->syntax) {
        return;
    }

    d = &ctx->body->details[ctx->body->ndetails++];

    ngx_http_leadlist_str_init(&s, d->field, sizeof(d->field));
    ngx_http_leadlist_str_append(&s, path, strlen(path));

    if (name) {
        ngx_http_leadlist_str_append(&s, name, nlen);
    }

    ngx_http_leadlist_str_finish(&s);

    ngx_http_leadlist_str_init(&s, d->message, sizeof(d->message));
    ngx_http_leadlist_str_append(&s, message, strlen(message));
    ngx_http_leadlist_str_finish(&s);
}


/* a detail about the body as a whole */

static void
ngx_http_leadlist_body_error(ngx_http_leadlist_ctx_t *ctx,
    const char *message)
{
    ngx_http_leadlist_detail(ctx, message, "", NULL, 0);
}


/* a detail whose path holds no client text: persons[3].email */

static void
ngx_http_leadlist_error(ngx_http_leadlist_ctx_t *ctx, const char *message,
    const char *fmt, ...)
{
    char     path[NGX_HTTP_LEADLIST_PATH_LEN];
    va_list  args;

    if (ngx_http_leadlist_full(ctx)) {
        return;
    }

    va_start(args, fmt);
    vsnprintf(path, sizeof(path), fmt, args);
    va_end(args);

    ngx_http_leadlist_detail(ctx, message, path, NULL, 0);
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

static void
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
                          && ngx_http_leadlist_key_is(p + i + 1, j - i - 1,
                                                      "persons");
    }

    return j;
}


/* whether the raw key p..p+n, escapes decoded, is the ASCII key */

static int
ngx_http_leadlist_key_is(const unsigned char *p, size_t n, const char *key)
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

                c = ngx_http_leadlist_hex(p + i + 1);
                i += 4;
            }
        }

        if (*key == '\0' || c != *key) {
            return 0;
        }
    }

    return *key == '\0';
}


static int
ngx_http_leadlist_hex(const unsigned char *p)
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
            sc->number_error = "number has more than 1000 digits";

        } else if (exp > NGX_HTTP_LEADLIST_MAX_EXPONENT) {
            sc->number = i + 1;
            sc->number_error = "number out of range";
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


/* what stopped the scanner: a 400 (or a 500) whatever the rest holds */

static void
ngx_http_leadlist_scan_error(ngx_http_leadlist_ctx_t *ctx)
{
    char                       msg[NGX_HTTP_LEADLIST_MESSAGE_LEN];
    ngx_http_leadlist_scan_t  *sc;

    sc = ctx->scan;

    switch (sc->stop) {

    case NGX_HTTP_LEADLIST_SCAN_DEPTH:
        ngx_http_leadlist_at(ctx, "must not nest arrays and objects more"
                             " than 32 levels deep", sc->too_deep);
        break;

    case NGX_HTTP_LEADLIST_SCAN_PERSONS:
        ctx->body->npersons = sc->commas + 1;
        snprintf(msg, sizeof(msg), "must be an array of 1 to %zu items",
                 ctx->limits.max_persons);
        ngx_http_leadlist_error(ctx, msg, "persons");
        break;

    case NGX_HTTP_LEADLIST_SCAN_TOKENS:
        ngx_http_leadlist_body_error(ctx, "must not hold more than 262144 "
                                     "JSON values outside the persons");
        break;

    default:
        ctx->body->nomem = 1;
        ngx_http_leadlist_body_error(ctx,
                                     "could not be parsed: out of memory");
        break;
    }
}


static int
ngx_http_leadlist_blank(const unsigned char *p, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\n' && p[i] != '\r') {
            return 0;
        }
    }

    return 1;
}


/* a body-level detail with the line and column of the byte at off */

static void
ngx_http_leadlist_at(ngx_http_leadlist_ctx_t *ctx, const char *what,
    size_t off)
{
    char                  msg[NGX_HTTP_LEADLIST_MESSAGE_LEN];
    size_t                i, line, col;
    const unsigned char  *p;

    p = ctx->data;
    line = 1;
    col = 0;

    if (off >= ctx->len) {
        off = ctx->len - 1;
    }

    /* columns count characters, as jansson's do */

    for (i = 0; i <= off; i++) {
        if (p[i] == '\n') {
            line++;
            col = 0;

        } else if ((p[i] & 0xc0) != 0x80) {
            col++;
        }
    }

    snprintf(msg, sizeof(msg), "%s at line %zu, column %zu", what, line, col);

    ngx_http_leadlist_body_error(ctx, msg);
}


/*
 * the json_load_callback() reader: the body as is, but for the inside of
 * each person object, given as spaces; the length stays the same, so that
 * jansson's error positions are the body's
 */

static size_t
ngx_http_leadlist_read(void *buf, size_t size, void *data)
{
    size_t                           n, stop;
    ngx_http_leadlist_reader_t      *rd;
    const ngx_http_leadlist_span_t  *sp;

    rd = data;

    while (rd->next < rd->scan->nspans
           && rd->pos >= rd->scan->spans[rd->next].end)
    {
        rd->next++;
    }

    if (rd->pos >= rd->len) {
        return 0;
    }

    stop = rd->len;

    if (rd->next < rd->scan->nspans) {
        sp = &rd->scan->spans[rd->next];

        if (rd->pos > sp->start) {
            n = sp->end - rd->pos;
            n = n < size ? n : size;

            memset(buf, ' ', n);
            rd->pos += n;

            return n;
        }

        stop = sp->start + 1;
    }

    n = stop - rd->pos;
    n = n < size ? n : size;

    memcpy(buf, rd->data + rd->pos, n);
    rd->pos += n;

    return n;
}


static json_t *
ngx_http_leadlist_parse_skeleton(ngx_http_leadlist_ctx_t *ctx)
{
    size_t                       k, off;
    json_t                      *root, *person;
    json_error_t                 err;
    ngx_http_leadlist_reader_t   rd;

    rd.data = ctx->data;
    rd.len = ctx->len;
    rd.pos = 0;
    rd.next = 0;
    rd.scan = ctx->scan;

    if (rd.scan->nspans == 0) {
        root = json_loadb((const char *) rd.data, rd.len,
                          JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);

    } else {
        root = json_load_callback(ngx_http_leadlist_read, &rd,
                                  JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
                                  &err);
    }

    if (root) {
        return root;
    }

    /*
     * a parser of the whole body would report the first error: one in a
     * person object before this one comes first; this one's token ends at
     * position - 1, so a person that starts there is never reached
     */

    off = err.position > 0 ? (size_t) err.position - 1 : 0;

    for (k = 0; k < ctx->scan->nspans; k++) {

        if (ctx->scan->spans[k].start >= off) {
            break;
        }

        if (ngx_http_leadlist_oversized(&ctx->scan->spans[k])) {
            continue;
        }

        person = ngx_http_leadlist_parse_span(ctx, &ctx->scan->spans[k]);

        if (person == NULL) {
            return NULL;
        }

        json_decref(person);
    }

    ngx_http_leadlist_syntax(ctx, &err, 0);

    return NULL;
}


static json_t *
ngx_http_leadlist_parse_span(ngx_http_leadlist_ctx_t *ctx,
    const ngx_http_leadlist_span_t *sp)
{
    json_t        *v;
    json_error_t   err;

    v = json_loadb((const char *) ctx->data + sp->start,
                   sp->end - sp->start + 1, JSON_REJECT_DUPLICATES, &err);

    if (v == NULL) {
        ngx_http_leadlist_syntax(ctx, &err, sp->start);
    }

    return v;
}


/* person objects the checks did not reach must still be valid JSON */

static void
ngx_http_leadlist_parse_rest(ngx_http_leadlist_ctx_t *ctx)
{
    json_t                    *person;
    ngx_http_leadlist_span_t  *sp;

    while (!ctx->syntax && ctx->next_span < ctx->scan->nspans) {
        sp = &ctx->scan->spans[ctx->next_span++];

        if (ngx_http_leadlist_oversized(sp)) {
            continue;
        }

        person = ngx_http_leadlist_parse_span(ctx, sp);

        if (person) {
            json_decref(person);
        }
    }
}


static int
ngx_http_leadlist_oversized(const ngx_http_leadlist_span_t *sp)
{
    return sp->end - sp->start + 1 > NGX_HTTP_LEADLIST_MAX_PERSON_BYTES;
}


/*
 * a JSON error in the body at base + jansson's position: it replaces
 * every other detail, as a parse of the whole body would
 */

static void
ngx_http_leadlist_syntax(ngx_http_leadlist_ctx_t *ctx, json_error_t *err,
    size_t base)
{
    char         msg[NGX_HTTP_LEADLIST_MESSAGE_LEN];
    size_t       off;
    const char  *prefix, *text;

    ctx->body->ndetails = 0;

    /* jansson leaves the text empty when only malloc() failed */

    if (err->text[0] == '\0'
        || json_error_code(err) == json_error_out_of_memory)
    {
        ctx->body->nomem = 1;
        ngx_http_leadlist_body_error(ctx,
                                     "could not be parsed: out of memory");
        ctx->syntax = 1;
        return;
    }

    prefix = "invalid JSON: ";
    text = err->text;

    switch (json_error_code(err)) {

    case json_error_invalid_utf8:
        prefix = "invalid UTF-8: ";
        break;

    /* jansson's own text names its JSON_ALLOW_NUL flag */
    case json_error_null_character:
    case json_error_null_byte_in_key:
        prefix = "";
        text = "\\u0000 is not allowed";
        break;

    case json_error_numeric_overflow:
        prefix = "";
        text = "number out of range";
        break;

    default:
        break;
    }

    /*
     * jansson's position counts the bytes it read, the bad one included
     * but for bytes that are not UTF-8: nothing read is its column 0
     */

    if (base == 0 && err->position <= 0) {
        snprintf(msg, sizeof(msg), "%s%s at line 1, column 0", prefix, text);
        ngx_http_leadlist_body_error(ctx, msg);

    } else {
        off = base + (err->position > 0 ? (size_t) err->position - 1 : 0);
        snprintf(msg, sizeof(msg), "%s%s", prefix, text);
        ngx_http_leadlist_at(ctx, msg, off);
    }

    ctx->syntax = 1;
}


static void
ngx_http_leadlist_check_root(ngx_http_leadlist_ctx_t *ctx, json_t *root)
{
    json_t  *persons, *selection;

    if (!json_is_object(root)) {
        ngx_http_leadlist_body_error(ctx, "must be a JSON object");
        return;
    }

    persons = json_object_get(root, "persons");
    selection = json_object_get(root, "selection");

    if (persons && selection) {
        ngx_http_leadlist_body_error(ctx,
                          "must contain only one of persons and selection");

    } else if (persons) {
        ctx->mode = NGX_HTTP_LEADLIST_MODE_PERSONS;
        ngx_http_leadlist_check_persons(ctx, persons);

    } else if (selection) {
        ctx->mode = NGX_HTTP_LEADLIST_MODE_SELECTION;
        ngx_http_leadlist_check_selection(ctx, selection);

    } else {
        ngx_http_leadlist_body_error(ctx, "must contain persons or selection");
    }

    ngx_http_leadlist_check_unknown(ctx, "", root,
                                    ngx_http_leadlist_top_members);
}


static void
ngx_http_leadlist_check_persons(ngx_http_leadlist_ctx_t *ctx,
    json_t *persons)
{
    char    msg[NGX_HTTP_LEADLIST_MESSAGE_LEN];
    size_t  i, n, max;

    max = ctx->limits.max_persons;

    snprintf(msg, sizeof(msg), "must be an array of 1 to %zu items", max);

    if (!json_is_array(persons)) {
        ngx_http_leadlist_error(ctx, msg, "persons");
        return;
    }

    n = json_array_size(persons);
    ctx->body->npersons = n;

    if (n == 0 || n > max) {
        ngx_http_leadlist_error(ctx, msg, "persons");
    }

    /* on with full details too: the rest must still be valid JSON */

    for (i = 0; i < n && !ctx->syntax; i++) {
        ngx_http_leadlist_check_element(ctx, i, json_array_get(persons, i));
    }
}


/*
 * an object in the persons array is a placeholder: the person is parsed
 * alone from its span, checked and freed
 */

static void
ngx_http_leadlist_check_element(ngx_http_leadlist_ctx_t *ctx, size_t i,
    json_t *v)
{
    json_t                    *person;
    ngx_http_leadlist_span_t  *sp;

    if (!json_is_object(v)) {
        ngx_http_leadlist_error(ctx, "must be an object", "persons[%zu]", i);
        return;
    }

    /* no span: the scanner did not blank it out, so it is the person */

    if (ctx->next_span >= ctx->scan->nspans) {
        ngx_http_leadlist_check_person(ctx, i, v);
        return;
    }

    sp = &ctx->scan->spans[ctx->next_span++];

    /* never parsed: jansson would hold up to 40 times its size */

    if (ngx_http_leadlist_oversized(sp)) {
        ngx_http_leadlist_error(ctx, "must be at most 65536 bytes",
                                "persons[%zu]", i);
        return;
    }

    person = ngx_http_leadlist_parse_span(ctx, sp);

    if (person == NULL) {
        return;
    }

    if (!ngx_http_leadlist_full(ctx)) {
        ngx_http_leadlist_check_person(ctx, i, person);
    }

    json_decref(person);
}


static void
ngx_http_leadlist_check_person(ngx_http_leadlist_ctx_t *ctx, size_t i,
    json_t *person)
{
    json_t       *id;
    const char  *err, **name;

    id = json_object_get(person, "id");
    err = id ? ngx_http_leadlist_id_error(id) : "is required";

    if (err) {
        ngx_http_leadlist_error(ctx, err, "persons[%zu].id", i);
    }

    for (name = ngx_http_leadlist_text_fields; *name; name++) {
        ngx_http_leadlist_check_text(ctx, i, *name,
                                     json_object_get(person, *name));
    }

    ngx_http_leadlist_check_departments(ctx, i,
                                   json_object_get(person, "departments"));
}


static void
ngx_http_leadlist_check_text(ngx_http_leadlist_ctx_t *ctx, size_t i,
    const char *name, json_t *v)
{
    const char  *err;

    if (v == NULL || json_is_null(v)) {
        return;
    }

    err = json_is_string(v) ? ngx_http_leadlist_text_error(v)
                            : "must be a string or null";

    if (err) {
        ngx_http_leadlist_error(ctx, err, "persons[%zu].%s", i, name);
    }
}


static void
ngx_http_leadlist_check_departments(ngx_http_leadlist_ctx_t *ctx, size_t i,
    json_t *v)
{
    size_t       j, n;
    json_t      *d;
    const char  *err;

    if (v == NULL || json_is_null(v)) {
        return;
    }

    if (!json_is_array(v)) {
        ngx_http_leadlist_error(ctx, "must be an array of strings or null",
                                "persons[%zu].departments", i);
        return;
    }

    n = json_array_size(v);

    if (n > NGX_HTTP_LEADLIST_MAX_DEPARTMENTS) {
        ngx_http_leadlist_error(ctx, "must have at most 64 items",
                                "persons[%zu].departments", i);
    }

    for (j = 0; j < n && !ngx_http_leadlist_full(ctx); j++) {
        d = json_array_get(v, j);

        err = json_is_string(d) ? ngx_http_leadlist_text_error(d)
                                : "must be a string";

        if (err) {
            ngx_http_leadlist_error(ctx, err, "persons[%zu].departments[%zu]",
                                    i, j);
        }
    }
}


static const char *
ngx_http_leadlist_text_error(json_t *v)
{
    size_t  n;

    n = ngx_http_leadlist_chars(json_string_value(v), json_string_length(v),
                                NULL);

    if (n > NGX_HTTP_LEADLIST_MAX_FIELD_CHARS) {
        return "must be at most 1024 characters";
    }

    return NULL;
}


static void
ngx_http_leadlist_check_selection(ngx_http_leadlist_ctx_t *ctx, json_t *sel)
{
    int          all;
    json_t      *v;
    const char  *err;

    if (!json_is_object(sel)) {
        ngx_http_leadlist_error(ctx, "must be an object", "selection");
        return;
    }

    v = json_object_get(sel, "searchId");
    err = v ? ngx_http_leadlist_id_error(v) : "is required";

    if (err) {
        ngx_http_leadlist_error(ctx, err, "selection.searchId");
    }

    all = ngx_http_leadlist_check_select_all(ctx, sel);

    v = json_object_get(sel, "ids");

    if (v == NULL) {
        if (all == 0) {
            ngx_http_leadlist_error(ctx, "is required", "selection.ids");
        }

    } else if (all == 1) {
        ngx_http_leadlist_error(ctx, "is not allowed with selectAll true",
                                "selection.ids");

    } else {
        ngx_http_leadlist_check_ids(ctx, "selection.ids", v, 1,
                                    ctx->limits.max_selection);
    }

    v = ngx_http_leadlist_select_all_member(ctx, sel, "excludeIds", all);
    if (v) {
        ngx_http_leadlist_check_ids(ctx, "selection.excludeIds", v, 0,
                                    NGX_HTTP_LEADLIST_MAX_EXCLUDE);
    }

    v = ngx_http_leadlist_select_all_member(ctx, sel, "offset", all);
    if (v) {
        ngx_http_leadlist_check_int(ctx, "selection.offset", v, 0,
                                    NGX_HTTP_LEADLIST_MAX_OFFSET);
    }

    v = ngx_http_leadlist_select_all_member(ctx, sel, "limit", all);
    if (v) {
        ngx_http_leadlist_check_int(ctx, "selection.limit", v, 1,
                                  (json_int_t) ctx->limits.max_selection);
    }

    ngx_http_leadlist_check_unknown(ctx, "selection.", sel,
                                    ngx_http_leadlist_selection_members);
}


/* 0: false or absent, 1: true, -1: not a boolean, so the mode is unknown */

static int
ngx_http_leadlist_check_select_all(ngx_http_leadlist_ctx_t *ctx,
    json_t *sel)
{
    json_t  *v;

    v = json_object_get(sel, "selectAll");

    if (v == NULL) {
        return 0;
    }

    if (!json_is_boolean(v)) {
        ngx_http_leadlist_error(ctx, "must be a boolean",
                                "selection.selectAll");
        return -1;
    }

    return json_is_true(v);
}


/*
 * a member that belongs to selectAll true: NULL when it is absent, or
 * present without selectAll (then reported), else its value to check
 */

static json_t *
ngx_http_leadlist_select_all_member(ngx_http_leadlist_ctx_t *ctx,
    json_t *sel, const char *name, int all)
{
    json_t  *v;

    v = json_object_get(sel, name);

    if (v && all == 0) {
        ngx_http_leadlist_error(ctx, "is only allowed with selectAll true",
                                "selection.%s", name);
        return NULL;
    }

    return v;
}


static void
ngx_http_leadlist_check_ids(ngx_http_leadlist_ctx_t *ctx, const char *path,
    json_t *v, size_t min, size_t max)
{
    char         msg[NGX_HTTP_LEADLIST_MESSAGE_LEN];
    size_t       j, n;
    const char  *err;

    if (min) {
        snprintf(msg, sizeof(msg), "must be an array of %zu to %zu items",
                 min, max);

    } else {
        snprintf(msg, sizeof(msg), "must be an array of at most %zu items",
                 max);
    }

    if (!json_is_array(v)) {
        ngx_http_leadlist_error(ctx, msg, "%s", path);
        return;
    }

    n = json_array_size(v);

    if (n < min || n > max) {
        ngx_http_leadlist_error(ctx, msg, "%s", path);
    }

    for (j = 0; j < n && !ngx_http_leadlist_full(ctx); j++) {
        err = ngx_http_leadlist_id_error(json_array_get(v, j));

        if (err) {
            ngx_http_leadlist_error(ctx, err, "%s[%zu]", path, j);
        }
    }
}


static void
ngx_http_leadlist_check_int(ngx_http_leadlist_ctx_t *ctx, const char *path,
    json_t *v, json_int_t min, json_int_t max)
{
    char        msg[NGX_HTTP_LEADLIST_MESSAGE_LEN];
    json_int_t  n;

    if (json_is_integer(v)) {
        n = json_integer_value(v);

        if (n >= min && n <= max) {
            return;
        }
    }

    snprintf(msg, sizeof(msg), "must be an integer from %lld to %lld",
             (long long) min, (long long) max);

    ngx_http_leadlist_error(ctx, msg, "%s", path);
}


static void
ngx_http_leadlist_check_unknown(ngx_http_leadlist_ctx_t *ctx,
    const char *prefix, json_t *obj, const char **known)
{
    void        *it;
    const char  *key;

    /* jansson iterates in insertion order: details follow the body */

    for (it = json_object_iter(obj);
         it && !ngx_http_leadlist_full(ctx);
         it = json_object_iter_next(obj, it))
    {
        key = json_object_iter_key(it);

        if (!ngx_http_leadlist_known(key, known)) {
            ngx_http_leadlist_detail(ctx, "unknown member", prefix, key,
                                     json_object_iter_key_len(it));
        }
    }
}


static int
ngx_http_leadlist_known(const char *key, const char **known)
{
    for ( /* void */ ; *known; known++) {
        if (strcmp(key, *known) == 0) {
            return 1;
        }
    }

    return 0;
}


/* NULL for a valid person or search id, else the detail's message */

static const char *
ngx_http_leadlist_id_error(json_t *v)
{
    int     ctrl;
    size_t  n;

    if (!json_is_string(v)) {
        return "must be a string";
    }

    ctrl = 0;
    n = ngx_http_leadlist_chars(json_string_value(v), json_string_length(v),
                                &ctrl);

    if (n == 0 || n > NGX_HTTP_LEADLIST_MAX_ID_CHARS) {
        return "must be 1 to 128 characters";
    }

    if (ctrl) {
        return "must not contain control characters";
    }

    return NULL;
}


/*
 * counts code points of a string jansson has checked to be UTF-8; sets
 * *ctrl on U+0000-U+001F or U+007F-U+009F (the latter is C2 80..C2 9F)
 */

static size_t
ngx_http_leadlist_chars(const char *s, size_t n, int *ctrl)
{
    size_t                i, count;
    const unsigned char  *p;

    p = (const unsigned char *) s;
    count = 0;

    for (i = 0; i < n; i++) {

        if ((p[i] & 0xc0) == 0x80) {
            continue;
        }

        count++;

        if (ctrl && (p[i] < 0x20 || p[i] == 0x7f
                     || (p[i] == 0xc2 && i + 1 < n && p[i + 1] <= 0x9f)))
        {
            *ctrl = 1;
        }
    }

    return count;
}


int
ngx_http_leadlist_content_type_ok(const unsigned char *p, size_t len)
{
    const unsigned char  *end;

    if (p == NULL) {
        return 0;
    }

    end = p + len;
    p = ngx_http_leadlist_ows(p, end);

    if ((size_t) (end - p) < sizeof("application/json") - 1
        || !ngx_http_leadlist_caseeq(p, sizeof("application/json") - 1,
                                     "application/json"))
    {
        return 0;
    }

    p += sizeof("application/json") - 1;

    for ( ;; ) {
        p = ngx_http_leadlist_ows(p, end);

        if (p == end) {
            return 1;
        }

        if (*p != ';') {
            return 0;
        }

        p = ngx_http_leadlist_ows(p + 1, end);

        /* RFC 9110: parameters = *( OWS ";" OWS [ parameter ] ) */

        if (p == end || *p == ';') {
            continue;
        }

        if (ngx_http_leadlist_ct_param(&p, end) != 0) {
            return 0;
        }
    }
}


static const unsigned char *
ngx_http_leadlist_ows(const unsigned char *p, const unsigned char *end)
{
    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }

    return p;
}


static int
ngx_http_leadlist_tchar(unsigned char c)
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
ngx_http_leadlist_caseeq(const unsigned char *p, size_t n, const char *s)
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
ngx_http_leadlist_ct_param(const unsigned char **pp, const unsigned char *end)
{
    size_t                nlen, vlen;
    unsigned char         val[16];
    const unsigned char  *p, *name;

    p = *pp;
    name = p;

    while (p < end && ngx_http_leadlist_tchar(*p)) {
        p++;
    }

    nlen = (size_t) (p - name);

    if (nlen == 0 || p == end || *p != '=') {
        return -1;
    }

    p++;

    if (ngx_http_leadlist_ct_value(&p, end, val, &vlen) != 0) {
        return -1;
    }

    if (ngx_http_leadlist_caseeq(name, nlen, "charset")
        && !ngx_http_leadlist_charset_ok(val, vlen))
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
ngx_http_leadlist_ct_value(const unsigned char **pp, const unsigned char *end,
    unsigned char *val, size_t *vlen)
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

        for ( /* void */ ; p < end && ngx_http_leadlist_tchar(*p); p++) {
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
ngx_http_leadlist_charset_ok(const unsigned char *v, size_t n)
{
    return n <= 16 && (ngx_http_leadlist_caseeq(v, n, "utf-8")
                       || ngx_http_leadlist_caseeq(v, n, "utf8"));
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
