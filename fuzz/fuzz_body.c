
/*
 * libFuzzer target of the request-body validator and of the header
 * parsers (Prefer, Idempotency-Key), which read the same bytes.
 *
 *   make fuzz, or: clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc
 *       fuzz/fuzz_body.c $(VALIDATOR) -ljansson -o build/fuzz/fuzz_body
 *   (VALIDATOR: the validator's sources, named in the Makefile)
 *   build/fuzz/fuzz_body -max_total_time=300 -rss_limit_mb=4096
 *       -dict=fuzz/body.dict build/fuzz/corpus fuzz/corpus
 *
 * Beyond crashes, leaks and undefined behaviour, it aborts when the
 * validator breaks a promise of its API: details present exactly when
 * invalid, at most 100, each NUL-terminated strict UTF-8 without C0
 * controls; the same answer twice for the same input (jansson seeds its
 * hash randomly: order must not depend on it); and an accepted body is
 * strict UTF-8 without NUL bytes that jansson parses with duplicates
 * refused, as PostgreSQL's jsonb will need; and a JSON error reported
 * at the line and column where jansson, parsing the whole body at once,
 * stops too (the validator parses persons one at a time).  Numbers jsonb
 * stores but jansson cannot hold are valid: this file gives jansson a
 * stand-in for each, found from jansson's own overflow errors.
 *
 * The header parsers promise: Prefer flags only for preferences seen,
 * and a second identical header changes nothing (the first instance of
 * a preference counts); an Idempotency-Key is 1 to 255 printable ASCII
 * characters, a plain value is taken as it is, and the key quoted back
 * as an sf-string reads as the same key.
 *
 * t/unit/replay_corpus.c includes this file to replay fuzz/corpus in
 * "make test" without libFuzzer.
 */


#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ngx_http_leadlist_body.h"
#include "ngx_http_leadlist_syntax.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void ngx_http_leadlist_fuzz_check(const uint8_t *data, size_t size,
    int rc, const ngx_http_leadlist_body_t *b);
static void ngx_http_leadlist_fuzz_syntax(const uint8_t *data, size_t size,
    const ngx_http_leadlist_body_t *b);
static void ngx_http_leadlist_fuzz_prefer(const uint8_t *data, size_t size);
static void ngx_http_leadlist_fuzz_key(const uint8_t *data, size_t size);
static int ngx_http_leadlist_fuzz_printable(const uint8_t *p, size_t n);
static json_t *ngx_http_leadlist_fuzz_load(const uint8_t *data, size_t size,
    size_t flags, json_error_t *err);
static size_t ngx_http_leadlist_fuzz_start(const char *p, size_t end);
static int ngx_http_leadlist_fuzz_same(const ngx_http_leadlist_body_t *a,
    const ngx_http_leadlist_body_t *b);
static int ngx_http_leadlist_fuzz_text_ok(const char *s, size_t size);
static size_t ngx_http_leadlist_fuzz_utf8(const uint8_t *p, size_t n);
static void ngx_http_leadlist_fuzz_fail(const char *why);


static ngx_http_leadlist_body_t  ngx_http_leadlist_fuzz_a;
static ngx_http_leadlist_body_t  ngx_http_leadlist_fuzz_b;


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                          rc, rc2;
    size_t                       whole_max;
    ngx_http_leadlist_limits_t   small;

    rc = ngx_http_leadlist_body_validate(data, size, NULL,
                                         &ngx_http_leadlist_fuzz_a);
    ngx_http_leadlist_fuzz_check(data, size, rc, &ngx_http_leadlist_fuzz_a);
    ngx_http_leadlist_fuzz_syntax(data, size, &ngx_http_leadlist_fuzz_a);

    /* the second run takes the person-by-person path: both must agree */

    whole_max = ngx_http_leadlist_whole_max;
    ngx_http_leadlist_whole_max = 0;

    rc2 = ngx_http_leadlist_body_validate(data, size, NULL,
                                          &ngx_http_leadlist_fuzz_b);

    ngx_http_leadlist_whole_max = whole_max;

    if (rc2 != rc
        || !ngx_http_leadlist_fuzz_same(&ngx_http_leadlist_fuzz_a,
                                        &ngx_http_leadlist_fuzz_b))
    {
        ngx_http_leadlist_fuzz_fail("the whole and per-person parses differ");
    }

    /* small limits reach the size rules with small inputs */

    small.max_persons = 2;
    small.max_selection = 3;

    rc = ngx_http_leadlist_body_validate(data, size, &small,
                                         &ngx_http_leadlist_fuzz_b);
    ngx_http_leadlist_fuzz_check(data, size, rc, &ngx_http_leadlist_fuzz_b);

    (void) ngx_http_leadlist_content_type(data, size);
    (void) ngx_http_leadlist_content_encoding_ok(data, size);
    (void) ngx_http_leadlist_list_id_ok(data, size);
    ngx_http_leadlist_fuzz_prefer(data, size);
    ngx_http_leadlist_fuzz_key(data, size);

    return 0;
}


static void
ngx_http_leadlist_fuzz_check(const uint8_t *data, size_t size, int rc,
    const ngx_http_leadlist_body_t *b)
{
    size_t                             i, k;
    json_t                            *root;
    json_error_t                       err;
    const ngx_http_leadlist_detail_t  *d;

    if (rc == 0) {
        if (b->ndetails != 0 || b->mode == NGX_HTTP_LEADLIST_MODE_NONE) {
            ngx_http_leadlist_fuzz_fail("valid, but details or no mode");
        }

        for (i = 0; i < size; i += k) {
            k = ngx_http_leadlist_fuzz_utf8(data + i, size - i);

            if (k == 0 || data[i] == '\0') {
                ngx_http_leadlist_fuzz_fail("accepted a non-UTF-8 body");
            }
        }

        root = ngx_http_leadlist_fuzz_load(data, size,
                                           JSON_REJECT_DUPLICATES, &err);

        if (!json_is_object(root)) {
            ngx_http_leadlist_fuzz_fail("accepted what jansson refuses");
        }

        json_decref(root);

        return;
    }

    if (rc != -1 || b->ndetails == 0
        || b->ndetails > NGX_HTTP_LEADLIST_MAX_DETAILS
        || b->mode != NGX_HTTP_LEADLIST_MODE_NONE || b->nomem)
    {
        ngx_http_leadlist_fuzz_fail("bad rc, ndetails, mode or nomem");
    }

    for (i = 0; i < b->ndetails; i++) {
        d = &b->details[i];

        if (!ngx_http_leadlist_fuzz_text_ok(d->field, sizeof(d->field))
            || !ngx_http_leadlist_fuzz_text_ok(d->message, sizeof(d->message))
            || d->message[0] == '\0')
        {
            ngx_http_leadlist_fuzz_fail("a detail is not clean UTF-8");
        }
    }
}


/* a JSON error must be where a whole-body parse finds it */

static void
ngx_http_leadlist_fuzz_syntax(const uint8_t *data, size_t size,
    const ngx_http_leadlist_body_t *b)
{
    char          at[64];
    size_t        n;
    json_t       *root;
    const char   *m;
    json_error_t  err;

    /* a JSON error is the only detail, on whatever path holds it */

    if (b->ndetails != 1) {
        return;
    }

    m = b->details[0].message;

    if ((strncmp(m, "invalid JSON: ", 14) != 0
         && strncmp(m, "invalid UTF-8: ", 15) != 0)
        || strncmp(m, "invalid JSON: NUL byte", 22) == 0)
    {
        return;
    }

    root = ngx_http_leadlist_fuzz_load(data, size,
                                       JSON_REJECT_DUPLICATES
                                       | JSON_DECODE_ANY, &err);

    if (root) {
        ngx_http_leadlist_fuzz_fail("a JSON error in what jansson accepts");
    }

    if (err.position < 0) {
        return;
    }

    snprintf(at, sizeof(at), " at line %d, column %d", err.line, err.column);

    n = strlen(m);

    if (n < strlen(at) || strcmp(m + n - strlen(at), at) != 0) {
        fprintf(stderr, "fuzz_body: [%s] vs jansson [%s%s]\n", m, err.text,
                at);
        ngx_http_leadlist_fuzz_fail("a JSON error at another place");
    }
}


static void
ngx_http_leadlist_fuzz_prefer(const uint8_t *data, size_t size)
{
    ngx_http_leadlist_prefer_t  pr, again;

    memset(&pr, 0, sizeof(ngx_http_leadlist_prefer_t));
    ngx_http_leadlist_prefer_parse(&pr, data, size);

    if ((pr.seen & ~3u) != 0 || (pr.flags & ~pr.seen) != 0) {
        ngx_http_leadlist_fuzz_fail("Prefer: a flag for what was not seen");
    }

    again = pr;
    ngx_http_leadlist_prefer_parse(&again, data, size);

    if (again.seen != pr.seen || again.flags != pr.flags) {
        ngx_http_leadlist_fuzz_fail("Prefer: a repeated header counted");
    }
}


static void
ngx_http_leadlist_fuzz_key(const uint8_t *data, size_t size)
{
    int             rc;
    size_t          klen, qlen, klen2, i;
    unsigned char  *key, *quoted, *key2;

    key = malloc(size + 1);
    quoted = malloc(2 * size + 3);
    key2 = malloc(2 * size + 3);

    if (key == NULL || quoted == NULL || key2 == NULL) {
        abort();
    }

    rc = ngx_http_leadlist_idempotency_key(data, size, key, &klen);

    if (rc == -1) {
        if (size >= 1 && size <= NGX_HTTP_LEADLIST_MAX_IDEMPOTENCY_KEY
            && data[0] != '"'
            && ngx_http_leadlist_fuzz_printable(data, size))
        {
            ngx_http_leadlist_fuzz_fail("a plain printable key refused");
        }

        goto done;
    }

    if (rc != 0 || klen == 0 || klen > NGX_HTTP_LEADLIST_MAX_IDEMPOTENCY_KEY
        || klen > size || !ngx_http_leadlist_fuzz_printable(key, klen))
    {
        ngx_http_leadlist_fuzz_fail("a key out of its bounds");
    }

    if (data[0] != '"' && (klen != size || memcmp(key, data, size) != 0)) {
        ngx_http_leadlist_fuzz_fail("a plain key not taken as it is");
    }

    qlen = 0;
    quoted[qlen++] = '"';

    for (i = 0; i < klen; i++) {
        if (key[i] == '"' || key[i] == '\\') {
            quoted[qlen++] = '\\';
        }

        quoted[qlen++] = key[i];
    }

    quoted[qlen++] = '"';

    if (ngx_http_leadlist_idempotency_key(quoted, qlen, key2, &klen2) != 0
        || klen2 != klen || memcmp(key2, key, klen) != 0)
    {
        ngx_http_leadlist_fuzz_fail("a key quoted back reads otherwise");
    }

done:

    free(key);
    free(quoted);
    free(key2);
}


static int
ngx_http_leadlist_fuzz_printable(const uint8_t *p, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (p[i] < 0x20 || p[i] > 0x7e) {
            return 0;
        }
    }

    return 1;
}


/*
 * jansson's parse, each number it cannot hold (an integer beyond 64 bits,
 * a real beyond a double) given as "0e0" right-aligned in spaces, as the
 * validator gives it; err->position is -1 when such a number is glued to
 * a token before it, where jansson's lexer would see other tokens
 */

static json_t *
ngx_http_leadlist_fuzz_load(const uint8_t *data, size_t size, size_t flags,
    json_error_t *err)
{
    char    *copy;
    size_t   start, end;
    json_t  *root;

    copy = malloc(size ? size : 1);

    if (copy == NULL) {
        abort();
    }

    memcpy(copy, data, size);

    for ( ;; ) {
        root = json_loadb(copy, size, flags, err);

        if (root || json_error_code(err) != json_error_numeric_overflow
            || err->position <= 0)
        {
            break;
        }

        end = (size_t) err->position - 1;

        start = ngx_http_leadlist_fuzz_start(copy, end);

        while (start < end && copy[start] != '-'
               && (copy[start] < '0' || copy[start] > '9'))
        {
            start++;
        }

        if (end - start < 2
            || (start > 0 && (isalnum((unsigned char) copy[start - 1])
                              || copy[start - 1] == '.')))
        {
            err->position = -1;
            break;
        }

        memset(copy + start, ' ', end - start + 1);
        memcpy(copy + end - 2, "0e0", 3);
    }

    free(copy);

    return root;
}


/* where the number literal that ends at end starts, or about */

static size_t
ngx_http_leadlist_fuzz_start(const char *p, size_t end)
{
    char    c;
    size_t  start;

    for (start = end; start > 0; start--) {
        c = p[start - 1];

        if ((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E') {
            continue;
        }

        /* a sign belongs to the exponent, or starts the literal */

        if ((c == '+' || c == '-') && start >= 2
            && (p[start - 2] == 'e' || p[start - 2] == 'E'))
        {
            continue;
        }

        if (c == '-') {
            start--;
        }

        break;
    }

    return start;
}


/* the bytes past each NUL are left as they were: compare strings */

static int
ngx_http_leadlist_fuzz_same(const ngx_http_leadlist_body_t *a,
    const ngx_http_leadlist_body_t *b)
{
    size_t  i;

    if (a->mode != b->mode || a->npersons != b->npersons
        || a->ndetails != b->ndetails
        || a->ndetails > NGX_HTTP_LEADLIST_MAX_DETAILS)
    {
        return 0;
    }

    for (i = 0; i < a->ndetails; i++) {
        if (strcmp(a->details[i].field, b->details[i].field) != 0
            || strcmp(a->details[i].message, b->details[i].message) != 0)
        {
            return 0;
        }
    }

    return 1;
}


/* NUL-terminated within size, strict UTF-8, no C0 controls or DEL */

static int
ngx_http_leadlist_fuzz_text_ok(const char *s, size_t size)
{
    size_t          i, k, n;
    const uint8_t  *p;

    p = (const uint8_t *) s;

    if (memchr(p, '\0', size) == NULL) {
        return 0;
    }

    n = strlen(s);

    for (i = 0; i < n; i += k) {
        k = ngx_http_leadlist_fuzz_utf8(p + i, n - i);

        if (k == 0 || (k == 1 && (p[i] < 0x20 || p[i] == 0x7f))) {
            return 0;
        }
    }

    return 1;
}


/* the length of the strict UTF-8 sequence at p, 0 if none */

static size_t
ngx_http_leadlist_fuzz_utf8(const uint8_t *p, size_t n)
{
    size_t   k, i;
    uint8_t  lo, hi;

    if (p[0] < 0x80) {
        return 1;
    }

    lo = 0x80;
    hi = 0xbf;

    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        k = 2;

    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        k = 3;
        lo = (p[0] == 0xe0) ? 0xa0 : 0x80;
        hi = (p[0] == 0xed) ? 0x9f : 0xbf;

    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        k = 4;
        lo = (p[0] == 0xf0) ? 0x90 : 0x80;
        hi = (p[0] == 0xf4) ? 0x8f : 0xbf;

    } else {
        return 0;
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
ngx_http_leadlist_fuzz_fail(const char *why)
{
    fprintf(stderr, "fuzz_body: %s\n", why);
    abort();
}
