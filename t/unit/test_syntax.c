
/*
 * Unit tests of the request header parsers in ngx_http_leadlist_syntax.h:
 * Prefer (RFC 7240), Idempotency-Key (RFC 8941 sf-string) and
 * Content-Encoding, and of the header name check of the
 * leadlist_auth_*_header directives, printing TAP; exits non-zero on any
 * failure.  The Content-Type parser is tested with the body's, in
 * test_body.c.
 * make test-unit builds and runs them:
 *
 *   cc -std=gnu99 -Wall -Wextra -Werror -O1 -g -fsanitize=address,undefined
 *      -Isrc t/unit/test_syntax.c src/ngx_http_leadlist_syntax.c
 *
 * Every value is copied to a buffer of exactly its length first, so that
 * AddressSanitizer catches a parser that reads past the header value.
 */


#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_http_leadlist_syntax.h"
#include "ngx_http_leadlist_tap.h"


#define R  NGX_HTTP_LEADLIST_PREFER_REPRESENTATION
#define T  NGX_HTTP_LEADLIST_PREFER_ROLLBACK


typedef struct {
    const char  *value;
    unsigned     flags;
    unsigned     seen;
} ngx_http_leadlist_prefer_case_t;


typedef struct {
    const char  *value;
    const char  *key;        /* NULL: malformed */
} ngx_http_leadlist_key_case_t;


static void ngx_http_leadlist_prefer(ngx_http_leadlist_prefer_t *pr,
    const char *value, size_t len);
static int ngx_http_leadlist_key(const char *value, size_t len,
    char *key, size_t *klen);
static void ngx_http_leadlist_test_prefer(void);
static void ngx_http_leadlist_test_prefer_headers(void);
static void ngx_http_leadlist_test_prefer_open_quotes(void);
static void ngx_http_leadlist_test_key(void);
static void ngx_http_leadlist_test_key_lengths(void);
static void ngx_http_leadlist_test_header_name(void);
static void ngx_http_leadlist_test_encoding(void);


int
main(void)
{
    ngx_http_leadlist_test_prefer();
    ngx_http_leadlist_test_prefer_headers();
    ngx_http_leadlist_test_prefer_open_quotes();
    ngx_http_leadlist_test_key();
    ngx_http_leadlist_test_key_lengths();
    ngx_http_leadlist_test_header_name();
    ngx_http_leadlist_test_encoding();

    return ngx_http_leadlist_done("test_syntax");
}


/* one header value, from a heap copy of exactly len bytes */

static void
ngx_http_leadlist_prefer(ngx_http_leadlist_prefer_t *pr, const char *value,
    size_t len)
{
    unsigned char  *copy;

    copy = malloc(len ? len : 1);
    if (copy == NULL) {
        abort();
    }

    memcpy(copy, value, len);
    ngx_http_leadlist_prefer_parse(pr, copy, len);
    free(copy);
}


static int
ngx_http_leadlist_key(const char *value, size_t len, char *key, size_t *klen)
{
    int             rc;
    unsigned char  *copy;

    copy = malloc(len ? len : 1);
    if (copy == NULL) {
        abort();
    }

    memcpy(copy, value, len);
    rc = ngx_http_leadlist_idempotency_key(copy, len, (unsigned char *) key,
                                           klen);
    free(copy);

    return rc;
}


static void
ngx_http_leadlist_test_prefer(void)
{
    size_t                      i;
    ngx_http_leadlist_prefer_t  pr;

    static const ngx_http_leadlist_prefer_case_t  cases[] = {

        /* what each preference asks for */
        { "return=representation", R, R },
        { "return=minimal", 0, R },
        { "tx=rollback", T, T },
        { "tx=commit", 0, T },
        { "return=representation, tx=rollback", R | T, R | T },
        { "tx=rollback,return=representation", R | T, R | T },

        /* case-insensitive names and values */
        { "RETURN=REPRESENTATION", R, R },
        { "Return=Representation, TX=RollBack", R | T, R | T },

        /* word = token / quoted-string; BWS around "=" */
        { "return=\"representation\"", R, R },
        { "tx=\"rollback\"", T, T },
        { "return = representation", R, R },
        { "return\t=\trepresentation", R, R },

        /* OWS, empty list elements */
        { "  return=representation  ", R, R },
        { "\treturn=representation\t,\ttx=rollback\t", R | T, R | T },
        { ", ,return=representation,, ,", R, R },
        { ",", 0, 0 },
        { "", 0, 0 },

        /* parameters are ignored */
        { "return=representation; foo=bar", R, R },
        { "return=representation;foo", R, R },
        { "tx=rollback; a=\"b, c\"; d, return=representation", R | T, R | T },
        { "tx=rollback;", T, T },
        { "tx=rollback;;", T, T },
        { "tx=rollback; ; a=b", T, T },
        { "tx=rollback; a = b", T, T },

        /* unknown preferences and values */
        { "respond-async, wait=100, handling=lenient", 0, 0 },
        { "respond-async, return=representation", R, R },
        { "return=representations", 0, R },
        { "return=represent", 0, R },
        { "return=representationrepresentation", 0, R },
        { "return", 0, R },
        { "return=\"\"", 0, R },
        { "tx=rollbackx", 0, T },
        { "returnx=representation", 0, 0 },
        { "txx=rollback", 0, 0 },

        /* only the first instance of a preference counts */
        { "return=minimal, return=representation", 0, R },
        { "return=representation, return=minimal", R, R },
        { "tx=commit, tx=rollback", 0, T },
        { "return, return=representation", 0, R },
        { "return=representation;x=1, RETURN=minimal", R, R },

        /* a malformed preference is skipped, and is no instance */
        { "return=representation x, tx=rollback", T, T },
        { "return=rep resentation, return=representation", R, R },
        { "=representation, tx=rollback", T, T },
        { "return=, tx=rollback", T, T },
        { "return==representation, tx=rollback", T, T },
        { "tx=rollback; a=, return=representation", R, R },
        { "tx=rollback; =b", 0, 0 },
        { "foo bar=\"a,b\", tx=rollback", T, T },
        { "foo bar=\"a\\\",b\", tx=rollback", T, T },
        { "foo=\xc3\xa9, tx=rollback", T, T },
        { "return=repr\x01sentation, tx=rollback", T, T },
        { "return=\"repr\x01sentation\", tx=rollback", T, T },
        { "{}, return=representation", R, R },
        { "return=representation tx=rollback", 0, 0 },
        { "return=representation;tx=rollback", R, R },

        /* a quoted-string that ends protects the commas inside it */
        { "foo=\"a,b\", tx=rollback", T, T },
        { "foo=\"a, tx=rollback\", return=representation", R, R },
        { "foo=\"a,b\" x, tx=rollback", T, T },
        { "\", \", tx=rollback", T, T },
        { "tx=rollback; foo=\"a,b\", return=representation", R | T, R | T },
        { "return=\"a\\\\\", tx=rollback", T, R | T },
        { "return=\"a\\\", return=representation\", tx=rollback", T, R | T },

        /* a quote ends at the next unescaped quote, wherever it is */
        { "foo=\"a, tx=rollback, bar=\"b\"", 0, 0 },
        { "foo=\"a, b=\"c, tx=rollback", T, T },

        /*
         * a quote that never ends opens nothing: its element ends at the
         * next comma, and is no instance; the elements after it count
         */
        { "foo=\"unterminated, tx=rollback", T, T },
        { "return=\"representation, tx=rollback", T, T },
        { "return=\"representation, tx=rollback, return=representation",
          R | T, R | T },
        { "return=\"minimal, return=representation", R, R },
        { "foo=\"a, return=representation, tx=rollback", R | T, R | T },
        { "tx=rollback; foo=\"bar, return=representation", R, R },
        { "tx=rollback;foo=\"bar,tx=commit, return=representation",
          R, R | T },
        { "return=\"a\\\", tx=rollback", T, T },
        { "foo=\"a\\\\\\\", tx=rollback", T, T },
        { "foo=\"a\\, tx=rollback", T, T },
        { "tx=rollback, foo=\"a\\", T, T },
        { "foo=\"a,b\" \"c, tx=rollback", T, T },
        { "\"foo, tx=rollback", T, T },
        { "foo\\\", tx=rollback", T, T },
        { "tx=rollback, return=\"representation", T, T },
        { "tx=rollback, foo=\"", T, T },
        { "tx=rollback; a=\"", 0, 0 },
        { "tx=\"rollback", 0, 0 },
        { "\"", 0, 0 },
        { NULL, 0, 0 }
    };

    for (i = 0; cases[i].value; i++) {
        memset(&pr, 0, sizeof(pr));
        ngx_http_leadlist_prefer(&pr, cases[i].value, strlen(cases[i].value));

        ngx_http_leadlist_ok(pr.flags == cases[i].flags
                             && pr.seen == cases[i].seen,
                             "Prefer: '%s': flags %u seen %u (want %u, %u)",
                             cases[i].value, pr.flags, pr.seen,
                             cases[i].flags, cases[i].seen);
    }

    memset(&pr, 0, sizeof(pr));
    ngx_http_leadlist_prefer_parse(&pr, NULL, 0);
    ngx_http_leadlist_ok(pr.flags == 0 && pr.seen == 0, "Prefer: NULL");

    memset(&pr, 0, sizeof(pr));
    ngx_http_leadlist_prefer_parse(&pr,
                             (const unsigned char *) "tx=rollbackXYZ", 11);
    ngx_http_leadlist_ok(pr.flags == T, "Prefer: only len bytes are read");

    memset(&pr, 0, sizeof(pr));
    ngx_http_leadlist_prefer(&pr, "return=representation\0, tx=rollback",
                             sizeof("return=representation\0, tx=rollback")
                             - 1);
    ngx_http_leadlist_ok(pr.flags == T && pr.seen == T,
                         "Prefer: a NUL makes its preference malformed");
}


/* several Prefer headers: one list, in order (RFC 9110 section 5.3) */

static void
ngx_http_leadlist_test_prefer_headers(void)
{
    ngx_http_leadlist_prefer_t  pr;

    memset(&pr, 0, sizeof(pr));
    ngx_http_leadlist_prefer(&pr, "return=representation", 21);
    ngx_http_leadlist_prefer(&pr, "tx=rollback", 11);
    ngx_http_leadlist_ok(pr.flags == (R | T),
                         "two headers: both preferences");

    memset(&pr, 0, sizeof(pr));
    ngx_http_leadlist_prefer(&pr, "return=minimal", 14);
    ngx_http_leadlist_prefer(&pr, "return=representation", 21);
    ngx_http_leadlist_ok(pr.flags == 0,
                         "two headers: the first instance wins (minimal)");

    memset(&pr, 0, sizeof(pr));
    ngx_http_leadlist_prefer(&pr, "return=representation", 21);
    ngx_http_leadlist_prefer(&pr, "return=minimal, tx=rollback", 27);
    ngx_http_leadlist_ok(pr.flags == (R | T),
                         "two headers: the first instance wins "
                         "(representation)");

    memset(&pr, 0, sizeof(pr));
    ngx_http_leadlist_prefer(&pr, "return=repr esentation", 22);
    ngx_http_leadlist_prefer(&pr, "return=representation", 21);
    ngx_http_leadlist_ok(pr.flags == R,
                         "two headers: a malformed first one is no instance");

    memset(&pr, 0, sizeof(pr));
    ngx_http_leadlist_prefer(&pr, "foo=\"open", 9);
    ngx_http_leadlist_prefer(&pr, "tx=rollback\"", 12);
    ngx_http_leadlist_ok(pr.flags == 0,
                         "two headers: a quote does not run on into the next "
                         "(tx=rollback\" is malformed itself)");

    memset(&pr, 0, sizeof(pr));
    ngx_http_leadlist_prefer(&pr, "foo=\"open", 9);
    ngx_http_leadlist_prefer(&pr, "tx=rollback", 11);
    ngx_http_leadlist_ok(pr.flags == T,
                         "two headers: an open quote ends with its header");
}


/*
 * 65,536 elements x\" (outside a quoted-string the backslash is a byte
 * like any other, so each quote opens one that never ends): each element
 * ends at its comma, and the value is read in linear time, not once more
 * to its end for each open quote (about 10^10 steps here)
 */

static void
ngx_http_leadlist_test_prefer_open_quotes(void)
{
    char                        *value;
    size_t                       i, n, len;
    clock_t                      start;
    ngx_http_leadlist_prefer_t   pr;

    n = 65536;
    len = n * 4 + sizeof("tx=rollback") - 1;

    value = malloc(len);
    if (value == NULL) {
        abort();
    }

    for (i = 0; i < n; i++) {
        memcpy(value + i * 4, "x\\\",", 4);
    }

    memcpy(value + n * 4, "tx=rollback", sizeof("tx=rollback") - 1);

    memset(&pr, 0, sizeof(pr));
    start = clock();
    ngx_http_leadlist_prefer(&pr, value, len);

    ngx_http_leadlist_ok(pr.flags == T && pr.seen == T,
                         "Prefer: 65,536 open quotes, then tx=rollback");
    ngx_http_leadlist_ok(clock() - start < CLOCKS_PER_SEC,
                         "Prefer: 65,536 open quotes read in linear time "
                         "(%.3f s)",
                         (double) (clock() - start) / CLOCKS_PER_SEC);

    free(value);
}


static void
ngx_http_leadlist_test_key(void)
{
    int     rc;
    char    key[1024];
    size_t  i, klen;

    static const ngx_http_leadlist_key_case_t  cases[] = {

        /* plain keys: printable ASCII, 0x20 to 0x7e */
        { "abc", "abc" },
        { "a", "a" },
        { "8e03978e-40d5-43e8-bc93-6894a57f9324",
          "8e03978e-40d5-43e8-bc93-6894a57f9324" },
        { "a b", "a b" },
        { "!#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
          "!#$%&'()*+,-./:;<=>?@[\\]^_`{|}~" },
        { "abc\"", "abc\"" },
        { "a\"b\"", "a\"b\"" },
        { "a\\b", "a\\b" },

        /* sf-strings mean the same key unquoted */
        { "\"abc\"", "abc" },
        { "\"a b\"", "a b" },
        { "\"a\\\"b\"", "a\"b" },
        { "\"a\\\\b\"", "a\\b" },
        { "\"\\\\\"", "\\" },
        { "\"\\\"\"", "\"" },
        { "\"'\"", "'" },

        /* malformed */
        { "", NULL },
        { "\"\"", NULL },
        { "\"", NULL },
        { "\"abc", NULL },
        { "\"abc\"x", NULL },
        { "\"abc\" ", NULL },
        { "\"abc\";p=1", NULL },
        { "\"a\"b\"", NULL },
        { "\"a\\b\"", NULL },
        { "\"a\\", NULL },
        { "\"\\\"", NULL },
        { "\"a\tb\"", NULL },
        { "\"caf\xc3\xa9\"", NULL },
        { "a\tb", NULL },
        { "a\x01", NULL },
        { "\x1f", NULL },
        { "a\x7f", NULL },
        { "caf\xc3\xa9", NULL },
        { "\xff", NULL },
        { NULL, NULL }
    };

    for (i = 0; cases[i].value; i++) {
        klen = 0;
        rc = ngx_http_leadlist_key(cases[i].value, strlen(cases[i].value),
                                   key, &klen);

        if (cases[i].key == NULL) {
            ngx_http_leadlist_ok(rc == -1, "Idempotency-Key refused: '%s'",
                                 cases[i].value);
            continue;
        }

        ngx_http_leadlist_ok(rc == 0 && klen == strlen(cases[i].key)
                             && memcmp(key, cases[i].key, klen) == 0,
                             "Idempotency-Key '%s' is '%s'",
                             cases[i].value, cases[i].key);
    }

    ngx_http_leadlist_ok(ngx_http_leadlist_idempotency_key(NULL, 0,
                             (unsigned char *) key, &klen) == -1,
                         "Idempotency-Key refused: NULL");

    rc = ngx_http_leadlist_key("ab\0c", 4, key, &klen);
    ngx_http_leadlist_ok(rc == -1, "Idempotency-Key refused: a NUL inside");

    rc = ngx_http_leadlist_key("\"ab\0\"", 5, key, &klen);
    ngx_http_leadlist_ok(rc == -1,
                         "Idempotency-Key refused: a NUL inside quotes");

    rc = ngx_http_leadlist_idempotency_key((const unsigned char *) "abcXYZ",
                                           3, (unsigned char *) key, &klen);
    ngx_http_leadlist_ok(rc == 0 && klen == 3 && memcmp(key, "abc", 3) == 0,
                         "Idempotency-Key: only len bytes are read");
}


/* 1 to 255 characters, counted unquoted */

static void
ngx_http_leadlist_test_key_lengths(void)
{
    int     rc;
    char    value[1024], key[1024];
    size_t  n, klen, len;

    for (n = 254; n <= 256; n++) {
        memset(value, 'k', n);
        rc = ngx_http_leadlist_key(value, n, key, &klen);
        ngx_http_leadlist_ok(n <= 255 ? rc == 0 && klen == n : rc == -1,
                             "Idempotency-Key of %zu characters %s", n,
                             n <= 255 ? "accepted" : "refused");

        value[0] = '"';
        memset(value + 1, 'k', n);
        value[n + 1] = '"';
        rc = ngx_http_leadlist_key(value, n + 2, key, &klen);
        ngx_http_leadlist_ok(n <= 255 ? rc == 0 && klen == n : rc == -1,
                             "Idempotency-Key quoted, %zu characters %s", n,
                             n <= 255 ? "accepted" : "refused");
    }

    /* 255 escaped backslashes: 512 bytes sent, a key of 255 */

    value[0] = '"';

    for (n = 0; n < 255; n++) {
        value[1 + 2 * n] = '\\';
        value[2 + 2 * n] = '\\';
    }

    len = 1 + 2 * 255;
    value[len++] = '"';

    rc = ngx_http_leadlist_key(value, len, key, &klen);
    ngx_http_leadlist_ok(rc == 0 && klen == 255 && key[0] == '\\'
                         && key[254] == '\\',
                         "Idempotency-Key of 255 escaped characters accepted");

    value[len - 1] = '\\';
    value[len++] = '\\';
    value[len++] = '"';

    rc = ngx_http_leadlist_key(value, len, key, &klen);
    ngx_http_leadlist_ok(rc == -1,
                         "Idempotency-Key of 256 escaped characters refused");
}


/* a header field name is an RFC 9110 token: 1*tchar */

static void
ngx_http_leadlist_test_header_name(void)
{
    int             ok;
    size_t          i, len;
    unsigned char  *copy;

    static const struct {
        const char  *name;
        int          ok;
    } cases[] = {
        { "X-User-Id", 1 },
        { "x", 1 },
        { "X_Role.v2", 1 },
        { "!#$%&'*+-.^_`|~09azAZ", 1 },
        { "", 0 },
        { "X User", 0 },
        { " X-User-Id", 0 },
        { "X-User-Id ", 0 },
        { "X\tUser", 0 },
        { "X-User:Id", 0 },
        { "X-User-Id:", 0 },
        { "\"X-User-Id\"", 0 },
        { "X(User)", 0 },
        { "X,User", 0 },
        { "X;User", 0 },
        { "X/User", 0 },
        { "X@User", 0 },
        { "X[User]", 0 },
        { "X{User}", 0 },
        { "X=User", 0 },
        { "X?User", 0 },
        { "X\\User", 0 },
        { "X<User>", 0 },
        { "X-R\xc3\xb4le", 0 },
        { "X\x7f", 0 },
        { "X\x01", 0 },
        { NULL, 0 }
    };

    for (i = 0; cases[i].name; i++) {
        len = strlen(cases[i].name);

        copy = malloc(len ? len : 1);
        if (copy == NULL) {
            abort();
        }

        memcpy(copy, cases[i].name, len);
        ok = ngx_http_leadlist_header_name_ok(copy, len);
        free(copy);

        ngx_http_leadlist_ok(ok == cases[i].ok, "header name '%s' %s",
                             cases[i].name,
                             cases[i].ok ? "accepted" : "refused");
    }

    ngx_http_leadlist_ok(!ngx_http_leadlist_header_name_ok(NULL, 0),
                         "header name refused: NULL");
    ngx_http_leadlist_ok(!ngx_http_leadlist_header_name_ok(
                             (const unsigned char *) "X\0Y", 3),
                         "header name refused: a NUL inside");
    ngx_http_leadlist_ok(ngx_http_leadlist_header_name_ok(
                             (const unsigned char *) "X-Id Y", 4),
                         "header name: only len bytes are read");
}


/* Content-Encoding: no coding but identity, which is none */

static void
ngx_http_leadlist_test_encoding(void)
{
    size_t          i, len;
    unsigned char  *copy;

    static const char  *good[] = {
        "identity",
        "Identity",
        "IDENTITY",
        " identity\t",
        "identity, identity",
        "identity,,identity",
        ",",
        "",
        "  ",
        NULL
    };

    static const char  *bad[] = {
        "gzip",
        "x-gzip",
        "deflate",
        "br",
        "zstd",
        "compress",
        "GZIP",
        "identity, gzip",
        "gzip, identity",
        "identity;q=1",
        "identity x",
        "identityx",
        "identit",
        "\"identity\"",
        "identity\x01",
        NULL
    };

    for (i = 0; good[i]; i++) {
        len = strlen(good[i]);
        copy = malloc(len ? len : 1);
        if (copy == NULL) {
            abort();
        }

        memcpy(copy, good[i], len);
        ngx_http_leadlist_ok(ngx_http_leadlist_content_encoding_ok(copy, len)
                             == 1,
                             "Content-Encoding accepted: '%s'", good[i]);
        free(copy);
    }

    for (i = 0; bad[i]; i++) {
        len = strlen(bad[i]);
        copy = malloc(len);
        if (copy == NULL) {
            abort();
        }

        memcpy(copy, bad[i], len);
        ngx_http_leadlist_ok(ngx_http_leadlist_content_encoding_ok(copy, len)
                             == 0,
                             "Content-Encoding refused: '%s'", bad[i]);
        free(copy);
    }

    ngx_http_leadlist_ok(ngx_http_leadlist_content_encoding_ok(
                             (const unsigned char *) "identity\0", 9) == 0,
                         "Content-Encoding refused: a NUL inside");
    ngx_http_leadlist_ok(ngx_http_leadlist_content_encoding_ok(
                             (const unsigned char *) "identitygzip", 8) == 1,
                         "Content-Encoding: only len bytes are read");
}
