
/*
 * Unit tests of the request-body validator (ngx_http_leadlist_body.h) and
 * of the request syntax checks (ngx_http_leadlist_syntax.h), printing TAP;
 * exits non-zero on any failure.  make test-unit builds and runs them:
 *
 *   cc -std=gnu99 -Wall -Wextra -Werror -O1 -g -fsanitize=address,undefined
 *      -Isrc t/unit/test_body.c $(VALIDATOR) -ljansson
 */


#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <malloc.h>
#include <jansson.h>

#if defined(__SANITIZE_ADDRESS__)
/* the sanitizer's own count: its malloc() leaves mallinfo2() empty */
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

#include "ngx_http_leadlist_body.h"
#include "ngx_http_leadlist_syntax.h"
#include "ngx_http_leadlist_tap.h"


#define NGX_HTTP_LEADLIST_LIT(s)  s, sizeof(s) - 1


typedef struct {
    char    *data;
    size_t   len;
    size_t   size;
} ngx_http_leadlist_buf_t;


static int ngx_http_leadlist_utf8_ok(const char *s);
static int ngx_http_leadlist_run(const char *data, size_t len,
    const ngx_http_leadlist_limits_t *limits);
static int ngx_http_leadlist_has(const char *field, const char *message);
static int ngx_http_leadlist_has_prefix(const char *field,
    const char *prefix);
static void ngx_http_leadlist_dump(void);
static void ngx_http_leadlist_valid(const char *name, const char *json);
static void ngx_http_leadlist_one(const char *name, const char *json,
    const char *field, const char *message);
static void ngx_http_leadlist_one_lim(const char *name, const char *json,
    size_t max_persons, size_t max_selection, const char *field,
    const char *message);
static void ngx_http_leadlist_some(const char *name, const char *json,
    const char *field, const char *message);
static void ngx_http_leadlist_prefix(const char *name, const char *data,
    size_t len, const char *field, const char *prefix);
static void ngx_http_leadlist_add(ngx_http_leadlist_buf_t *b, const char *s,
    size_t n);
static void ngx_http_leadlist_addf(ngx_http_leadlist_buf_t *b,
    const char *fmt, ...);
static void ngx_http_leadlist_repeat(ngx_http_leadlist_buf_t *b,
    const char *s, size_t times);
static void ngx_http_leadlist_reset(ngx_http_leadlist_buf_t *b);
static char *ngx_http_leadlist_str(ngx_http_leadlist_buf_t *b);
static const char *ngx_http_leadlist_path(char *buf, const char *head,
    const char *segment, size_t times);

static void ngx_http_leadlist_test_valid(void);
static void ngx_http_leadlist_test_body(void);
static void ngx_http_leadlist_test_encoding(void);
static void ngx_http_leadlist_test_numbers(void);
static void ngx_http_leadlist_test_number_fields(void);
static void ngx_http_leadlist_test_depth(void);
static void ngx_http_leadlist_test_persons(void);
static void ngx_http_leadlist_test_person_fields(void);
static void ngx_http_leadlist_test_person_size(void);
static void ngx_http_leadlist_test_selection(void);
static void ngx_http_leadlist_test_selection_all(void);
static void ngx_http_leadlist_test_paths(void);
static void ngx_http_leadlist_test_error_paths(void);
static void ngx_http_leadlist_both(const char *name, const char *data,
    size_t len, const char *field, const char *prefix);
static void ngx_http_leadlist_test_scale(void);
static void ngx_http_leadlist_test_content_type(void);
static void ngx_http_leadlist_test_list_id(void);
static void ngx_http_leadlist_test_arena(void);
static size_t ngx_http_leadlist_heap(void);


static int                        ngx_http_leadlist_rc;
static ngx_http_leadlist_body_t   ngx_http_leadlist_body;
static ngx_http_leadlist_buf_t    ngx_http_leadlist_b;

static const char  *ngx_http_leadlist_fields[] = {
    "firstName", "lastName", "fullName", "title", "headline", "email",
    "phone", "linkedinUrl", "companyId", "companyName", "companyDomain",
    "industry", "seniority", "city", "state", "country", NULL
};


int
main(void)
{
    /* a failed check shows the validator's errors */
    ngx_http_leadlist_on_failure = ngx_http_leadlist_dump;

    ngx_http_leadlist_test_valid();
    ngx_http_leadlist_test_body();
    ngx_http_leadlist_test_encoding();
    ngx_http_leadlist_test_numbers();
    ngx_http_leadlist_test_depth();
    ngx_http_leadlist_test_persons();
    ngx_http_leadlist_test_person_fields();
    ngx_http_leadlist_test_person_size();
    ngx_http_leadlist_test_selection();
    ngx_http_leadlist_test_selection_all();
    ngx_http_leadlist_test_paths();
    ngx_http_leadlist_test_error_paths();
    ngx_http_leadlist_test_scale();
    ngx_http_leadlist_test_content_type();
    ngx_http_leadlist_test_list_id();
    ngx_http_leadlist_test_arena();

    ngx_http_leadlist_body_cleanup();
    free(ngx_http_leadlist_b.data);

    return ngx_http_leadlist_done("test_body");
}


/* strict UTF-8, and no C0 controls or DEL: what the API promises */

static int
ngx_http_leadlist_utf8_ok(const char *s)
{
    size_t                k, i;
    unsigned char         lo, hi;
    const unsigned char  *p;

    for (p = (const unsigned char *) s; *p; p += k) {

        if (*p < 0x20 || *p == 0x7f) {
            return 0;
        }

        if (*p < 0x80) {
            k = 1;
            continue;
        }

        lo = 0x80;
        hi = 0xbf;

        if (*p >= 0xc2 && *p <= 0xdf) {
            k = 2;

        } else if (*p >= 0xe0 && *p <= 0xef) {
            k = 3;
            lo = (*p == 0xe0) ? 0xa0 : 0x80;
            hi = (*p == 0xed) ? 0x9f : 0xbf;

        } else if (*p >= 0xf0 && *p <= 0xf4) {
            k = 4;
            lo = (*p == 0xf0) ? 0x90 : 0x80;
            hi = (*p == 0xf4) ? 0x8f : 0xbf;

        } else {
            return 0;
        }

        if (p[1] < lo || p[1] > hi) {
            return 0;
        }

        for (i = 2; i < k; i++) {
            if ((p[i] & 0xc0) != 0x80) {
                return 0;
            }
        }
    }

    return 1;
}


/*
 * validates a copy of the data in a buffer of its exact size (so that
 * ASan sees any read past the end) and checks the API's invariants
 */

static int
ngx_http_leadlist_run(const char *data, size_t len,
    const ngx_http_leadlist_limits_t *limits)
{
    int                          good;
    size_t                       i;
    unsigned char               *copy;
    ngx_http_leadlist_body_t    *b;
    ngx_http_leadlist_detail_t  *d;

    b = &ngx_http_leadlist_body;
    copy = malloc(len ? len : 1);

    if (copy == NULL) {
        abort();
    }

    memcpy(copy, data, len);

    memset(b, 0xa5, sizeof(*b));
    ngx_http_leadlist_rc = ngx_http_leadlist_body_validate(copy, len, limits,
                                                           b);
    free(copy);

    good = (ngx_http_leadlist_rc == 0 && b->ndetails == 0
            && b->mode != NGX_HTTP_LEADLIST_MODE_NONE)
           || (ngx_http_leadlist_rc == -1 && b->ndetails >= 1
               && b->ndetails <= NGX_HTTP_LEADLIST_MAX_DETAILS
               && b->mode == NGX_HTTP_LEADLIST_MODE_NONE);

    for (i = 0; good && i < b->ndetails; i++) {
        d = &b->details[i];

        good = memchr(d->field, '\0', sizeof(d->field)) != NULL
               && memchr(d->message, '\0', sizeof(d->message)) != NULL
               && ngx_http_leadlist_utf8_ok(d->field)
               && ngx_http_leadlist_utf8_ok(d->message)
               && d->message[0] != '\0';
    }

    if (!good) {
        printf("# API invariant broken (rc %d, %zu details)\n",
               ngx_http_leadlist_rc, b->ndetails);
        return -2;
    }

    return ngx_http_leadlist_rc;
}


static int
ngx_http_leadlist_has(const char *field, const char *message)
{
    size_t                       i;
    ngx_http_leadlist_detail_t  *d;

    for (i = 0; i < ngx_http_leadlist_body.ndetails; i++) {
        d = &ngx_http_leadlist_body.details[i];

        if (strcmp(d->field, field) == 0 && strcmp(d->message, message) == 0)
        {
            return 1;
        }
    }

    return 0;
}


static int
ngx_http_leadlist_has_prefix(const char *field, const char *prefix)
{
    size_t                       i;
    ngx_http_leadlist_detail_t  *d;

    for (i = 0; i < ngx_http_leadlist_body.ndetails; i++) {
        d = &ngx_http_leadlist_body.details[i];

        if (strcmp(d->field, field) == 0
            && strncmp(d->message, prefix, strlen(prefix)) == 0)
        {
            return 1;
        }
    }

    return 0;
}


static void
ngx_http_leadlist_dump(void)
{
    size_t  i, n;

    n = ngx_http_leadlist_body.ndetails;

    printf("#   rc %d, %zu details\n", ngx_http_leadlist_rc, n);

    for (i = 0; i < n && i < 5 && n <= NGX_HTTP_LEADLIST_MAX_DETAILS; i++) {
        printf("#   \"%s\": \"%s\"\n",
               ngx_http_leadlist_body.details[i].field,
               ngx_http_leadlist_body.details[i].message);
    }
}


static void
ngx_http_leadlist_valid(const char *name, const char *json)
{
    ngx_http_leadlist_ok(ngx_http_leadlist_run(json, strlen(json), NULL) == 0,
                         "valid: %s", name);
}


/* exactly one detail, this one */

static void
ngx_http_leadlist_one(const char *name, const char *json, const char *field,
    const char *message)
{
    int  rc;

    rc = ngx_http_leadlist_run(json, strlen(json), NULL);

    ngx_http_leadlist_ok(rc == -1 && ngx_http_leadlist_body.ndetails == 1
                         && ngx_http_leadlist_has(field, message),
                         "%s: \"%s\" %s", name, field, message);
}


static void
ngx_http_leadlist_one_lim(const char *name, const char *json,
    size_t max_persons, size_t max_selection, const char *field,
    const char *message)
{
    int                         rc;
    ngx_http_leadlist_limits_t  lim;

    lim.max_persons = max_persons;
    lim.max_selection = max_selection;

    rc = ngx_http_leadlist_run(json, strlen(json), &lim);

    if (field == NULL) {
        ngx_http_leadlist_ok(rc == 0, "valid with limits %zu/%zu: %s",
                             max_persons, max_selection, name);
        return;
    }

    ngx_http_leadlist_ok(rc == -1 && ngx_http_leadlist_body.ndetails == 1
                         && ngx_http_leadlist_has(field, message),
                         "limits %zu/%zu: %s: \"%s\" %s", max_persons,
                         max_selection, name, field, message);
}


/* invalid, and this detail among others */

static void
ngx_http_leadlist_some(const char *name, const char *json, const char *field,
    const char *message)
{
    int  rc;

    rc = ngx_http_leadlist_run(json, strlen(json), NULL);

    ngx_http_leadlist_ok(rc == -1 && ngx_http_leadlist_has(field, message),
                         "%s: \"%s\" %s", name, field, message);
}


/* one detail, on field, whose message starts with prefix */

static void
ngx_http_leadlist_prefix(const char *name, const char *data, size_t len,
    const char *field, const char *prefix)
{
    int  rc;

    rc = ngx_http_leadlist_run(data, len, NULL);

    ngx_http_leadlist_ok(rc == -1 && ngx_http_leadlist_body.ndetails == 1
                         && ngx_http_leadlist_has_prefix(field, prefix),
                         "%s: \"%s\" %s...", name, field, prefix);
}


static void
ngx_http_leadlist_add(ngx_http_leadlist_buf_t *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->size) {
        b->size = (b->len + n + 1) * 2;
        b->data = realloc(b->data, b->size);

        if (b->data == NULL) {
            abort();
        }
    }

    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}


static void
ngx_http_leadlist_addf(ngx_http_leadlist_buf_t *b, const char *fmt, ...)
{
    int      n;
    char     tmp[1024];
    va_list  args;

    va_start(args, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, args);
    va_end(args);

    if (n < 0 || (size_t) n >= sizeof(tmp)) {
        abort();
    }

    ngx_http_leadlist_add(b, tmp, (size_t) n);
}


static void
ngx_http_leadlist_repeat(ngx_http_leadlist_buf_t *b, const char *s,
    size_t times)
{
    size_t  i, n;

    n = strlen(s);

    for (i = 0; i < times; i++) {
        ngx_http_leadlist_add(b, s, n);
    }
}


static void
ngx_http_leadlist_reset(ngx_http_leadlist_buf_t *b)
{
    b->len = 0;
    ngx_http_leadlist_add(b, "", 0);
}


static char *
ngx_http_leadlist_str(ngx_http_leadlist_buf_t *b)
{
    return b->data;
}


/* head and times segment, in buf of NGX_HTTP_LEADLIST_FIELD_LEN bytes */

static const char *
ngx_http_leadlist_path(char *buf, const char *head, const char *segment,
    size_t times)
{
    size_t  i, n;

    n = (size_t) snprintf(buf, NGX_HTTP_LEADLIST_FIELD_LEN, "%s", head);

    for (i = 0; i < times && n < NGX_HTTP_LEADLIST_FIELD_LEN; i++) {
        n += (size_t) snprintf(buf + n, NGX_HTTP_LEADLIST_FIELD_LEN - n, "%s",
                               segment);
    }

    return buf;
}


static void
ngx_http_leadlist_test_valid(void)
{
    int                        rc;
    ngx_http_leadlist_buf_t   *b;

    b = &ngx_http_leadlist_b;

    rc = ngx_http_leadlist_run(NGX_HTTP_LEADLIST_LIT(
                                   "{\"persons\":[{\"id\":\"p1\"}]}"),
                               NULL);
    ngx_http_leadlist_ok(rc == 0 && ngx_http_leadlist_body.mode
                                    == NGX_HTTP_LEADLIST_MODE_PERSONS
                         && ngx_http_leadlist_body.npersons == 1,
                         "valid: minimal persons, mode persons, npersons 1");

    ngx_http_leadlist_valid("a full profile with unknown members kept",
        "{\"persons\":[{\"id\":\"p1\",\"firstName\":\"Ada\","
        "\"lastName\":\"Lovelace\",\"fullName\":\"Ada Lovelace\","
        "\"title\":\"CTO\",\"headline\":\"h\",\"email\":\"a@b.c\","
        "\"phone\":\"+1\",\"linkedinUrl\":\"https://x/y\","
        "\"companyId\":\"c1\",\"companyName\":\"Acme\","
        "\"companyDomain\":\"acme.com\",\"industry\":\"Software\","
        "\"seniority\":\"cxo\",\"city\":\"Paris\",\"state\":\"IDF\","
        "\"country\":\"FR\",\"departments\":[\"Engineering\",\"\"],"
        "\"skills\":[1,2.5,true,null,{\"a\":[]}],\"score\":-0.5e3,"
        "\"nested\":{\"x\":{\"y\":\"z\"}},\"empty\":\"\"}]}");

    ngx_http_leadlist_valid("known fields null, departments null",
        "{\"persons\":[{\"id\":\"p1\",\"email\":null,\"title\":null,"
        "\"country\":null,\"departments\":null}]}");

    ngx_http_leadlist_valid("empty departments array and empty strings",
        "{\"persons\":[{\"id\":\"p1\",\"departments\":[],\"email\":\"\"}]}");

    rc = ngx_http_leadlist_run(NGX_HTTP_LEADLIST_LIT(
                                   "{\"persons\":[{\"id\":\"a\",\"x\":1},"
                                   "{\"id\":\"a\",\"x\":2}]}"),
                               NULL);
    ngx_http_leadlist_ok(rc == 0 && ngx_http_leadlist_body.npersons == 2,
                         "valid: repeated person id (SQL dedups), "
                         "npersons counts both");

    rc = ngx_http_leadlist_run(NGX_HTTP_LEADLIST_LIT(
                                   "{\"selection\":{\"searchId\":\"s1\","
                                   "\"ids\":[\"a\",\"b\"]}}"),
                               NULL);
    ngx_http_leadlist_ok(rc == 0 && ngx_http_leadlist_body.mode
                                    == NGX_HTTP_LEADLIST_MODE_SELECTION
                         && ngx_http_leadlist_body.npersons == 0,
                         "valid: selection by ids, mode selection");

    ngx_http_leadlist_valid("selectAll false with ids",
        "{\"selection\":{\"searchId\":\"s1\",\"selectAll\":false,"
        "\"ids\":[\"a\"]}}");

    ngx_http_leadlist_valid("selectAll true alone",
        "{\"selection\":{\"searchId\":\"s1\",\"selectAll\":true}}");

    ngx_http_leadlist_valid("selectAll true with everything",
        "{\"selection\":{\"selectAll\":true,\"searchId\":\"s1\","
        "\"excludeIds\":[\"a\",\"b\"],\"offset\":0,\"limit\":1000}}");

    ngx_http_leadlist_valid("selectAll true, empty excludeIds, limit 1",
        "{\"selection\":{\"searchId\":\"s1\",\"selectAll\":true,"
        "\"excludeIds\":[],\"offset\":2147483647,\"limit\":1}}");

    ngx_http_leadlist_valid("JSON whitespace around and inside",
        " \r\n\t{ \"persons\" :\n[ { \"id\" : \"p1\" } ]\r\n}\t\n ");

    ngx_http_leadlist_valid("escapes and a surrogate pair in strings",
        "{\"persons\":[{\"id\":\"p\\u00e9\\ud83d\\ude00\\/\\\"\","
        "\"title\":\"a\\nb\\tc\\\\\"}]}");

    ngx_http_leadlist_valid("id with U+00A0 and U+00A1 (not controls)",
        "{\"persons\":[{\"id\":\"a\\u00a0b\xc2\xa1\"}]}");

    ngx_http_leadlist_valid("control characters allowed in profile text",
        "{\"persons\":[{\"id\":\"p1\",\"headline\":\"a\\u0001\\u007f\"}]}");

    ngx_http_leadlist_valid("an escaped \"persons\" key is the same key",
        "{\"p\\u0065rsons\":[{\"id\":\"p1\"}]}");

    /* limits NULL means 1000 and 1000 */

    ngx_http_leadlist_reset(b);
    ngx_http_leadlist_add(b, "{\"persons\":[", 12);

    for (rc = 0; rc < 1000; rc++) {
        ngx_http_leadlist_addf(b, "%s{\"id\":\"p%d\"}", rc ? "," : "", rc);
    }

    ngx_http_leadlist_add(b, "]}", 2);

    rc = ngx_http_leadlist_run(b->data, b->len, NULL);
    ngx_http_leadlist_ok(rc == 0 && ngx_http_leadlist_body.npersons == 1000,
                         "valid: 1000 persons with the default limit");
}


static void
ngx_http_leadlist_test_body(void)
{
    int  rc;

    rc = ngx_http_leadlist_run(NGX_HTTP_LEADLIST_LIT(""), NULL);
    ngx_http_leadlist_ok(rc == -1 && ngx_http_leadlist_has("",
                             "must be a JSON object; the body is empty"),
                         "empty body");

    rc = ngx_http_leadlist_run(NGX_HTTP_LEADLIST_LIT(" \r\n\t "), NULL);
    ngx_http_leadlist_ok(rc == -1 && ngx_http_leadlist_has("",
                             "must be a JSON object; the body is empty"),
                         "whitespace-only body");

    rc = ngx_http_leadlist_body_validate(NULL, 0, NULL,
                                         &ngx_http_leadlist_body);
    ngx_http_leadlist_ok(rc == -1 && ngx_http_leadlist_body.ndetails == 1,
                         "NULL data");

    ngx_http_leadlist_one("BOM", "\xef\xbb\xbf{\"persons\":[{\"id\":\"a\"}]}",
                          "", "must not start with a UTF-8 byte order mark");

    ngx_http_leadlist_one("top-level array", "[{\"persons\":[]}]",
                          "", "must be a JSON object");
    ngx_http_leadlist_one("top-level string", "\"persons\"",
                          "", "must be a JSON object");
    ngx_http_leadlist_one("top-level number", "42",
                          "", "must be a JSON object");
    ngx_http_leadlist_one("top-level null", "null",
                          "", "must be a JSON object");

    ngx_http_leadlist_one("neither member", "{}",
                          "", "must contain persons or selection");

    ngx_http_leadlist_one("both members",
        "{\"persons\":[{\"id\":\"a\"}],\"selection\":{\"searchId\":\"s\","
        "\"ids\":[\"a\"]}}",
        "", "must contain only one of persons and selection");

    ngx_http_leadlist_one("unknown top-level member",
        "{\"persons\":[{\"id\":\"a\"}],\"dryRun\":true}",
        "dryRun", "unknown member");

    rc = ngx_http_leadlist_run(NGX_HTTP_LEADLIST_LIT("{\"a\":1,\"b\":2}"),
                               NULL);
    ngx_http_leadlist_ok(rc == -1 && ngx_http_leadlist_body.ndetails == 3
        && strcmp(ngx_http_leadlist_body.details[0].message,
                  "must contain persons or selection") == 0
        && strcmp(ngx_http_leadlist_body.details[1].field, "a") == 0
        && strcmp(ngx_http_leadlist_body.details[2].field, "b") == 0,
        "neither member plus unknown ones: 3 details in order");

    ngx_http_leadlist_prefix("trailing comma",
        NGX_HTTP_LEADLIST_LIT("{\"persons\":[],}"), "", "invalid JSON: ");
    ngx_http_leadlist_prefix("truncated body",
        NGX_HTTP_LEADLIST_LIT("{\"persons\":[{\"id\""), "persons[0].id",
        "invalid JSON: ");
    ngx_http_leadlist_prefix("two values",
        NGX_HTTP_LEADLIST_LIT("{} {}"), "",
        "invalid JSON: end of file expected");
    ngx_http_leadlist_prefix("single quotes",
        NGX_HTTP_LEADLIST_LIT("{'persons':[]}"), "", "invalid JSON: ");
    ngx_http_leadlist_prefix("NaN",
        NGX_HTTP_LEADLIST_LIT("{\"persons\":NaN}"), "persons",
        "invalid JSON: ");
    ngx_http_leadlist_prefix("comment",
        NGX_HTTP_LEADLIST_LIT("{/**/\"persons\":[]}"), "", "invalid JSON: ");

    ngx_http_leadlist_one("line and column in a syntax error",
        "{\n  \"persons\": [\n    {\"id\": \"a\",}\n  ]\n}",
        "persons[0]", "invalid JSON: string or '}' expected near '}' at "
        "line 3, column 16");

    ngx_http_leadlist_prefix("duplicate top-level member",
        NGX_HTTP_LEADLIST_LIT("{\"persons\":[{\"id\":\"a\"}],"
                              "\"persons\":[{\"id\":\"b\"}]}"),
        "", "invalid JSON: duplicate object key");
    ngx_http_leadlist_prefix("duplicate member in a person",
        NGX_HTTP_LEADLIST_LIT("{\"persons\":[{\"id\":\"a\",\"id\":\"b\"}]}"),
        "persons[0]", "invalid JSON: duplicate object key");
    ngx_http_leadlist_prefix("duplicate member deep in a profile",
        NGX_HTTP_LEADLIST_LIT("{\"persons\":[{\"id\":\"a\","
                              "\"x\":[{\"k\":1,\"k\":1}]}]}"),
        "persons[0].x[0]", "invalid JSON: duplicate object key");
    ngx_http_leadlist_prefix("duplicate escaped member",
        NGX_HTTP_LEADLIST_LIT("{\"persons\":[{\"id\":\"a\","
                              "\"\\u0069d\":\"b\"}]}"),
        "persons[0]", "invalid JSON: duplicate object key");
}


static void
ngx_http_leadlist_test_encoding(void)
{
    ngx_http_leadlist_prefix("invalid UTF-8 byte 0xff",
        NGX_HTTP_LEADLIST_LIT("{\"persons\":[{\"id\":\"a\xff\"}]}"),
        "persons[0].id", "invalid UTF-8: ");
    ngx_http_leadlist_prefix("overlong UTF-8 (C0 AF)",
        NGX_HTTP_LEADLIST_LIT("{\"persons\":[{\"id\":\"\xc0\xaf\"}]}"),
        "persons[0].id", "invalid UTF-8: ");
    ngx_http_leadlist_prefix("overlong UTF-8 (E0 80 AF)",
        NGX_HTTP_LEADLIST_LIT("{\"persons\":[{\"id\":\"\xe0\x80\xaf\"}]}"),
        "persons[0].id", "invalid UTF-8: ");
    ngx_http_leadlist_prefix("UTF-8-encoded surrogate (ED A0 80)",
        NGX_HTTP_LEADLIST_LIT("{\"persons\":[{\"id\":\"\xed\xa0\x80\"}]}"),
        "persons[0].id", "invalid UTF-8: ");
    ngx_http_leadlist_prefix("above U+10FFFF (F4 90 80 80)",
        NGX_HTTP_LEADLIST_LIT("{\"persons\":[{\"id\":\"\xf4\x90\x80\x80\"}]}"),
        "persons[0].id", "invalid UTF-8: ");
    ngx_http_leadlist_prefix("truncated UTF-8 at the end",
        NGX_HTTP_LEADLIST_LIT("{\"persons\":[{\"id\":\"a\"}]}\xe2\x82"),
        "", "invalid UTF-8: ");
    ngx_http_leadlist_prefix("invalid UTF-8 in a member name",
        NGX_HTTP_LEADLIST_LIT("{\"persons\":[{\"id\":\"a\",\"\x80\":1}]}"),
        "persons[0]", "invalid UTF-8: ");

    ngx_http_leadlist_one("\\u0000 in a string",
        "{\"persons\":[{\"id\":\"a\",\"x\":\"\\u0000\"}]}",
        "persons[0].x", "\\u0000 is not allowed at line 1, column 34");
    ngx_http_leadlist_prefix("\\u0000 in a member name",
        NGX_HTTP_LEADLIST_LIT("{\"persons\":[{\"id\":\"a\",\"x\\u0000\":1}]}"),
        "persons[0]", "\\u0000 is not allowed");
    ngx_http_leadlist_prefix("raw NUL byte outside strings",
        NGX_HTTP_LEADLIST_LIT("{\"persons\":\n[{\"id\":\"a\"}]}\0"),
        "", "invalid JSON: NUL byte at line 2, column 14");
    ngx_http_leadlist_prefix("raw NUL byte in a string",
        NGX_HTTP_LEADLIST_LIT("{\"persons\":[{\"id\":\"a\0\"}]}"),
        "persons[0].id", "invalid JSON: NUL byte at line 1, column 21");

    ngx_http_leadlist_prefix("lone high surrogate \\ud800",
        NGX_HTTP_LEADLIST_LIT("{\"persons\":[{\"id\":\"\\ud800\"}]}"),
        "persons[0].id", "invalid JSON: invalid Unicode '\\uD800'");
    ngx_http_leadlist_prefix("lone low surrogate \\udc00",
        NGX_HTTP_LEADLIST_LIT("{\"persons\":[{\"id\":\"\\udc00x\"}]}"),
        "persons[0].id", "invalid JSON: invalid Unicode '\\uDC00'");
    ngx_http_leadlist_prefix("high surrogate then a non-surrogate",
        NGX_HTTP_LEADLIST_LIT("{\"persons\":[{\"id\":\"\\ud800\\u0041\"}]}"),
        "persons[0].id", "invalid JSON: invalid Unicode");
    ngx_http_leadlist_prefix("raw control character in a string",
        NGX_HTTP_LEADLIST_LIT("{\"persons\":[{\"id\":\"a\tb\"}]}"),
        "persons[0].id", "invalid JSON: control character 0x9");
    ngx_http_leadlist_prefix("bad escape",
        NGX_HTTP_LEADLIST_LIT("{\"persons\":[{\"id\":\"\\x41\"}]}"),
        "persons[0].id", "invalid JSON: ");
}


/*
 * Numbers: exactly what PostgreSQL 15's jsonb stores (numeric: the first
 * significant digit at most 10^131071, at most 16383 digits after the
 * point, an exponent below INT_MAX/2), each boundary from both sides, as
 * psql showed them; t/030 sends some to PostgreSQL itself.
 */

static void
ngx_http_leadlist_test_numbers(void)
{
    size_t                    i;
    ngx_http_leadlist_buf_t  *b;

    static const char  *good[] = {
        "9223372036854775807", "-9223372036854775808", "0", "-0",
        "9223372036854775808", "-9223372036854775809", "1.8e308", "-1e400",
        "1e131071", "1E+131071", "-1e131071", "9.9e131071", "10e131070",
        "0.0001e131075", "1e-16383", "1.5e-16382", "0.1e-16382",
        "0e-16383", "0e1073741822", "-0.0e-16382", "1e-1000",
        "1e0000000000000000000000000005", "4.9e-324", "1e-400", NULL
    };

    static const char  *bad[] = {
        "1e131072", "-1E+131072", "10e131071", "9.99e131072",
        "0.0001e131076", "1e-16384", "1.5e-16383", "0.1e-16383",
        "0e-16384", "-0.0e-16383", "0e1073741823", "1e1073741822",
        "1e-2147483647", "1e-999999999999999999999999999999", "1e-100000",
        NULL
    };

    b = &ngx_http_leadlist_b;

    for (i = 0; good[i]; i++) {
        ngx_http_leadlist_reset(b);
        ngx_http_leadlist_addf(b, "{\"persons\":[{\"id\":\"a\",\"x\":%s}]}",
                               good[i]);
        ngx_http_leadlist_ok(ngx_http_leadlist_run(b->data, b->len, NULL)
                             == 0, "valid: jsonb stores %s", good[i]);
    }

    for (i = 0; bad[i]; i++) {
        ngx_http_leadlist_reset(b);
        ngx_http_leadlist_addf(b, "{\"persons\":[{\"id\":\"a\",\"x\":[1,%s]}]}",
                               bad[i]);
        ngx_http_leadlist_prefix(bad[i], b->data, b->len, "persons[0].x[1]",
                                 "number out of range at line 1, column 30");
    }

    /*
     * long mantissas: 131072 digits before the point, 16383 after; more
     * than a person may hold, so in an unknown member: its detail shows
     * that the number passed
     */

    ngx_http_leadlist_reset(b);
    ngx_http_leadlist_addf(b, "{\"persons\":[{\"id\":\"a\"}],\"big\":9");
    ngx_http_leadlist_repeat(b, "0", 131071);
    ngx_http_leadlist_addf(b, ".");
    ngx_http_leadlist_repeat(b, "1", 16383);
    ngx_http_leadlist_addf(b, "}");
    ngx_http_leadlist_one("131072 digits, a point and 16383 digits",
                          ngx_http_leadlist_str(b), "big", "unknown member");

    ngx_http_leadlist_reset(b);
    ngx_http_leadlist_addf(b, "{\"persons\":[{\"id\":\"a\"}],\"big\":9");
    ngx_http_leadlist_repeat(b, "0", 131072);
    ngx_http_leadlist_addf(b, "}");
    ngx_http_leadlist_prefix("an integer of 131073 digits", b->data, b->len,
                             "big", "number out of range");

    ngx_http_leadlist_reset(b);
    ngx_http_leadlist_addf(b, "{\"persons\":[{\"id\":\"a\",\"x\":\n1.");
    ngx_http_leadlist_repeat(b, "0", 16384);
    ngx_http_leadlist_addf(b, "}]}");
    ngx_http_leadlist_one("1.(16384 zeros): one digit too many after the "
                          "point", ngx_http_leadlist_str(b), "persons[0].x",
                          "number out of range at line 2, column 1");

    /* the exponent moves the point: 30000 - 13617 = 16383 after it */

    for (i = 0; i < 2; i++) {
        ngx_http_leadlist_reset(b);
        ngx_http_leadlist_addf(b, "{\"persons\":[{\"id\":\"a\",\"x\":0.");
        ngx_http_leadlist_repeat(b, "1", 30000);
        ngx_http_leadlist_addf(b, "e%d}]}", i ? 13616 : 13617);

        if (i == 0) {
            ngx_http_leadlist_valid("0.(30000 digits)e13617",
                                    ngx_http_leadlist_str(b));

        } else {
            ngx_http_leadlist_prefix("0.(30000 digits)e13616", b->data,
                                     b->len, "persons[0].x",
                                     "number out of range");
        }
    }

    /* a 100-digit integer, as any number, whichever way it is parsed */

    ngx_http_leadlist_reset(b);
    ngx_http_leadlist_addf(b, "{\"persons\":[{\"id\":\"a\",\"big\":");
    ngx_http_leadlist_repeat(b, "1234567890", 10);
    ngx_http_leadlist_addf(b, ",\"x\":[1.0000000000000000000000000000001,"
                              "-0.5e-300]}]}");
    ngx_http_leadlist_valid("a 100-digit integer and long reals",
                            ngx_http_leadlist_str(b));
    ngx_http_leadlist_whole_max = 0;
    ngx_http_leadlist_valid("... person by person", ngx_http_leadlist_str(b));
    ngx_http_leadlist_whole_max = NGX_HTTP_LEADLIST_MAX_PERSON_BYTES;

    ngx_http_leadlist_one("digits inside strings are not numbers",
        "{\"persons\":[{\"id\":\"1e-100000\",\"x\":\"1e99999\"}],\"y\":1}",
        "y", "unknown member");

    ngx_http_leadlist_test_number_fields();
}


/* a number jansson is not given keeps its place in the rules and errors */

static void
ngx_http_leadlist_test_number_fields(void)
{
    ngx_http_leadlist_one("offset 1e400 (jsonb stores it)",
        "{\"selection\":{\"searchId\":\"s\",\"selectAll\":true,"
        "\"offset\":1e400}}",
        "selection.offset", "must be an integer from 0 to 999999999999999999");
    ngx_http_leadlist_one("offset 9223372036854775807",
        "{\"selection\":{\"searchId\":\"s\",\"selectAll\":true,"
        "\"offset\":9223372036854775807}}",
        "selection.offset", "must be an integer from 0 to 999999999999999999");
    ngx_http_leadlist_one("limit of 20 digits",
        "{\"selection\":{\"searchId\":\"s\",\"selectAll\":true,"
        "\"limit\":-12345678901234567890}}",
        "selection.limit", "must be an integer from 1 to 1000");
    ngx_http_leadlist_one("limit 1e-20000 (jsonb refuses it)",
        "{\"selection\":{\"searchId\":\"s\",\"selectAll\":true,"
        "\"limit\":1e-20000}}",
        "selection.limit", "number out of range at line 1, column 55");
    ngx_http_leadlist_one("a long number as an id",
        "{\"persons\":[{\"id\":12345678901234567890123}]}",
        "persons[0].id", "must be a string");
    ngx_http_leadlist_one("a long number as a title",
        "{\"persons\":[{\"id\":\"a\",\"title\":1e999}]}",
        "persons[0].title", "must be a string or null");
    ngx_http_leadlist_one("a long number in selection.ids",
        "{\"selection\":{\"searchId\":\"s\",\"ids\":[\"a\",1e999]}}",
        "selection.ids[1]", "must be a string");
    ngx_http_leadlist_one("a long number as the body",
        "123456789012345678901234567890", "", "must be a JSON object");

    /* jansson's text names the number as sent, not its stand-in */

    ngx_http_leadlist_both("a syntax error at a long number",
        NGX_HTTP_LEADLIST_LIT("{\"persons\":[{\"id\":\"a\",\"x\":[1 1e400]}]}"),
        "persons[0].x", "invalid JSON: ']' expected near '1e400' at line 1, "
        "column 34");
    ngx_http_leadlist_both("a syntax error at a number of 21 bytes",
        NGX_HTTP_LEADLIST_LIT("{\"persons\":[{\"id\":\"a\",\"x\":[1 "
                              "123456789012345678901]}]}"),
        "persons[0].x", "invalid JSON: ']' expected at line 1, column 50");
    ngx_http_leadlist_both("a syntax error after a long number",
        NGX_HTTP_LEADLIST_LIT("{\"persons\":[{\"id\":\"a\",\"x\":"
                              "1e400e5}]}"),
        "persons[0].x", "invalid JSON: '}' expected near 'e' at line 1, "
        "column 32");
    ngx_http_leadlist_both("invalid number syntax is jansson's to report",
        NGX_HTTP_LEADLIST_LIT("{\"persons\":[{\"id\":\"a\",\"x\":"
                              "012345678901234567890}]}"),
        "persons[0].x", "invalid JSON: invalid token near '0'");
}


static void
ngx_http_leadlist_test_depth(void)
{
    char                      path[NGX_HTTP_LEADLIST_FIELD_LEN];
    size_t                    i;
    clock_t                   t;
    ngx_http_leadlist_buf_t  *b;

    b = &ngx_http_leadlist_b;

    /* the body object is level 1, persons 2, a person 3: 29 more = 32 */

    ngx_http_leadlist_reset(b);
    ngx_http_leadlist_addf(b, "{\"persons\":[{\"id\":\"a\",\"x\":");
    ngx_http_leadlist_repeat(b, "[", 28);
    ngx_http_leadlist_addf(b, "{}");
    ngx_http_leadlist_repeat(b, "]", 28);
    ngx_http_leadlist_addf(b, "}]}");
    ngx_http_leadlist_valid("nesting of exactly 32 levels",
                            ngx_http_leadlist_str(b));

    ngx_http_leadlist_reset(b);
    ngx_http_leadlist_addf(b, "{\"persons\":[{\"id\":\"a\",\"x\":");
    ngx_http_leadlist_repeat(b, "[", 29);
    ngx_http_leadlist_addf(b, "{}");
    ngx_http_leadlist_repeat(b, "]", 29);
    ngx_http_leadlist_addf(b, "}]}");
    ngx_http_leadlist_one("nesting of 33 levels: the path of the 33rd",
                          ngx_http_leadlist_str(b),
                          ngx_http_leadlist_path(path, "persons[0].x",
                                                 "[0]", 29),
                          "must not nest arrays and objects more than 32"
                          " levels deep at line 1, column 56");

    ngx_http_leadlist_reset(b);
    ngx_http_leadlist_repeat(b, "[", 100000);
    t = clock();
    ngx_http_leadlist_prefix("100,000 opening brackets", b->data, b->len,
                             ngx_http_leadlist_path(path, "", "[0]", 32),
                             "must not nest arrays and objects");

    ngx_http_leadlist_reset(b);
    ngx_http_leadlist_repeat(b, "{\"a\":", 100000);
    ngx_http_leadlist_addf(b, "1");
    ngx_http_leadlist_repeat(b, "}", 100000);
    ngx_http_leadlist_prefix("100,000 nested objects", b->data, b->len,
                             ngx_http_leadlist_path(path, "a", ".a", 31),
                             "must not nest arrays and objects");
    ngx_http_leadlist_ok((double) (clock() - t) / CLOCKS_PER_SEC < 2.0,
                         "deep nesting is refused quickly");

    /* brackets in strings, and escaped quotes, do not count */

    ngx_http_leadlist_reset(b);
    ngx_http_leadlist_addf(b, "{\"persons\":[{\"id\":\"a\\\"[[[\",\"x\":\"");
    ngx_http_leadlist_repeat(b, "[{", 20000);
    ngx_http_leadlist_addf(b, "\\\\\"}]}");
    ngx_http_leadlist_valid("40,000 brackets inside a string",
                            ngx_http_leadlist_str(b));

    for (i = 0; i < 2; i++) {
        ngx_http_leadlist_reset(b);
        ngx_http_leadlist_repeat(b, i ? "]" : "}", 100000);
        ngx_http_leadlist_prefix(i ? "100,000 closing brackets"
                                   : "100,000 closing braces",
                                 b->data, b->len, "", "invalid JSON: ");
    }
}


static void
ngx_http_leadlist_test_persons(void)
{
    int                       i;
    ngx_http_leadlist_buf_t  *b;

    b = &ngx_http_leadlist_b;

    ngx_http_leadlist_one("persons an object", "{\"persons\":{\"id\":\"a\"}}",
                          "persons", "must be an array of 1 to 1000 items");
    ngx_http_leadlist_one("persons null", "{\"persons\":null}",
                          "persons", "must be an array of 1 to 1000 items");
    ngx_http_leadlist_one("persons empty", "{\"persons\":[]}",
                          "persons", "must be an array of 1 to 1000 items");

    ngx_http_leadlist_reset(b);
    ngx_http_leadlist_add(b, "{\"persons\":[", 12);

    for (i = 0; i < 1001; i++) {
        ngx_http_leadlist_addf(b, "%s{\"id\":\"p%d\"}", i ? "," : "", i);
    }

    ngx_http_leadlist_add(b, "]}", 2);
    ngx_http_leadlist_one("1001 persons", ngx_http_leadlist_str(b),
                          "persons", "must be an array of 1 to 1000 items");
    ngx_http_leadlist_ok(ngx_http_leadlist_body.npersons == 1001,
                         "npersons is set even when too many");

    ngx_http_leadlist_one_lim("3 persons",
        "{\"persons\":[{\"id\":\"a\"},{\"id\":\"b\"},{\"id\":\"c\"}]}",
        2, 1000, "persons", "must be an array of 1 to 2 items");
    ngx_http_leadlist_one_lim("2 persons",
        "{\"persons\":[{\"id\":\"a\"},{\"id\":\"b\"}]}", 2, 1000, NULL, NULL);
    ngx_http_leadlist_one_lim("1001 persons", ngx_http_leadlist_str(b),
                              5000, 1000, NULL, NULL);

    /* a trailing comma is a syntax error, not one person too many */

    ngx_http_leadlist_one_lim("2 persons and a trailing comma",
        "{\"persons\":[{\"id\":\"a\"},{\"id\":\"b\"} , ]}", 2, 1000, "persons",
        "invalid JSON: unexpected token near ']' at line 1, column 37");
    ngx_http_leadlist_one_lim("3 persons and a trailing comma",
        "{\"persons\":[{\"id\":\"a\"},{\"id\":\"b\"},{\"id\":\"c\"},]}",
        2, 1000, "persons", "must be an array of 1 to 2 items");

    ngx_http_leadlist_one("a person that is a string",
                          "{\"persons\":[{\"id\":\"a\"},\"b\"]}",
                          "persons[1]", "must be an object");
    ngx_http_leadlist_one("a person that is null", "{\"persons\":[null]}",
                          "persons[0]", "must be an object");

    ngx_http_leadlist_one("id missing",
                          "{\"persons\":[{\"id\":\"a\"},{\"name\":\"b\"}]}",
                          "persons[1].id", "is required");
    ngx_http_leadlist_one("id a number", "{\"persons\":[{\"id\":7}]}",
                          "persons[0].id", "must be a string");
    ngx_http_leadlist_one("id null", "{\"persons\":[{\"id\":null}]}",
                          "persons[0].id", "must be a string");
    ngx_http_leadlist_one("id empty", "{\"persons\":[{\"id\":\"\"}]}",
                          "persons[0].id", "must be 1 to 128 characters");
    ngx_http_leadlist_one("id with \\u0001",
                          "{\"persons\":[{\"id\":\"a\\u0001\"}]}",
                          "persons[0].id",
                          "must not contain control characters");
    ngx_http_leadlist_one("id with \\n", "{\"persons\":[{\"id\":\"a\\n\"}]}",
                          "persons[0].id",
                          "must not contain control characters");
    ngx_http_leadlist_one("id with DEL",
                          "{\"persons\":[{\"id\":\"a\\u007f\"}]}",
                          "persons[0].id",
                          "must not contain control characters");
    ngx_http_leadlist_one("id with U+0085 (C1)",
                          "{\"persons\":[{\"id\":\"a\xc2\x85\"}]}",
                          "persons[0].id",
                          "must not contain control characters");
    ngx_http_leadlist_one("id with U+009F (C1)",
                          "{\"persons\":[{\"id\":\"\\u009f\"}]}",
                          "persons[0].id",
                          "must not contain control characters");

    ngx_http_leadlist_reset(b);
    ngx_http_leadlist_addf(b, "{\"persons\":[{\"id\":\"");
    ngx_http_leadlist_repeat(b, "\xc3\xa9", 128);
    ngx_http_leadlist_addf(b, "\"}]}");
    ngx_http_leadlist_valid("id of 128 two-byte characters (256 bytes)",
                            ngx_http_leadlist_str(b));

    ngx_http_leadlist_reset(b);
    ngx_http_leadlist_addf(b, "{\"persons\":[{\"id\":\"");
    ngx_http_leadlist_repeat(b, "x", 129);
    ngx_http_leadlist_addf(b, "\"}]}");
    ngx_http_leadlist_one("id of 129 characters", ngx_http_leadlist_str(b),
                          "persons[0].id", "must be 1 to 128 characters");

    /* the detail cap: 1000 bad persons give the first 100 */

    ngx_http_leadlist_reset(b);
    ngx_http_leadlist_add(b, "{\"persons\":[", 12);

    for (i = 0; i < 1000; i++) {
        ngx_http_leadlist_addf(b, "%s{}", i ? "," : "");
    }

    ngx_http_leadlist_add(b, "]}", 2);
    ngx_http_leadlist_run(b->data, b->len, NULL);
    ngx_http_leadlist_ok(ngx_http_leadlist_rc == -1
        && ngx_http_leadlist_body.ndetails == 100
        && strcmp(ngx_http_leadlist_body.details[99].field,
                  "persons[99].id") == 0,
        "details stop at 100, in order");
}


static void
ngx_http_leadlist_test_person_fields(void)
{
    char                       json[256], field[64];
    const char               **name;
    ngx_http_leadlist_buf_t   *b;

    b = &ngx_http_leadlist_b;

    for (name = ngx_http_leadlist_fields; *name; name++) {
        snprintf(json, sizeof(json),
                 "{\"persons\":[{\"id\":\"a\",\"%s\":1}]}", *name);
        snprintf(field, sizeof(field), "persons[0].%s", *name);
        ngx_http_leadlist_one("a number in a text field", json, field,
                              "must be a string or null");

        ngx_http_leadlist_reset(b);
        ngx_http_leadlist_addf(b, "{\"persons\":[{\"id\":\"a\",\"%s\":\"",
                               *name);
        ngx_http_leadlist_repeat(b, "\xf0\x9f\x98\x80", 1024);
        ngx_http_leadlist_addf(b, "\"}]}");
        ngx_http_leadlist_ok(ngx_http_leadlist_run(b->data, b->len, NULL)
                             == 0,
                             "valid: %s of 1024 four-byte characters",
                             *name);

        ngx_http_leadlist_reset(b);
        ngx_http_leadlist_addf(b, "{\"persons\":[{\"id\":\"a\",\"%s\":\"",
                               *name);
        ngx_http_leadlist_repeat(b, "a", 1025);
        ngx_http_leadlist_addf(b, "\"}]}");
        ngx_http_leadlist_one("1025 characters", ngx_http_leadlist_str(b),
                              field, "must be at most 1024 characters");
    }

    ngx_http_leadlist_one("a boolean in a text field",
                          "{\"persons\":[{\"id\":\"a\",\"email\":true}]}",
                          "persons[0].email", "must be a string or null");
    ngx_http_leadlist_one("an object in a text field",
                          "{\"persons\":[{\"id\":\"a\",\"city\":{}}]}",
                          "persons[0].city", "must be a string or null");

    ngx_http_leadlist_one("departments a string",
        "{\"persons\":[{\"id\":\"a\",\"departments\":\"Sales\"}]}",
        "persons[0].departments", "must be an array of strings or null");
    ngx_http_leadlist_one("departments an object",
        "{\"persons\":[{\"id\":\"a\",\"departments\":{}}]}",
        "persons[0].departments", "must be an array of strings or null");
    ngx_http_leadlist_one("a department that is a number",
        "{\"persons\":[{\"id\":\"a\",\"departments\":[\"x\",1]}]}",
        "persons[0].departments[1]", "must be a string");
    ngx_http_leadlist_one("a department that is null",
        "{\"persons\":[{\"id\":\"a\",\"departments\":[null]}]}",
        "persons[0].departments[0]", "must be a string");

    /* SPEC 1.3 limits the items of departments, not their length */

    ngx_http_leadlist_reset(b);
    ngx_http_leadlist_addf(b,
        "{\"persons\":[{\"id\":\"a\",\"departments\":[\"");
    ngx_http_leadlist_repeat(b, "d", 1025);
    ngx_http_leadlist_addf(b, "\",\"");
    ngx_http_leadlist_repeat(b, "\xc3\xa9", 5000);
    ngx_http_leadlist_addf(b, "\"]}]}");
    ngx_http_leadlist_valid("departments of 1025 and 5000 characters",
                            ngx_http_leadlist_str(b));

    ngx_http_leadlist_reset(b);
    ngx_http_leadlist_addf(b,
        "{\"persons\":[{\"id\":\"a\",\"departments\":[\"d\"");
    ngx_http_leadlist_repeat(b, ",\"d\"", 63);
    ngx_http_leadlist_addf(b, "]}]}");
    ngx_http_leadlist_valid("64 departments", ngx_http_leadlist_str(b));

    ngx_http_leadlist_reset(b);
    ngx_http_leadlist_addf(b,
        "{\"persons\":[{\"id\":\"a\",\"departments\":[\"d\"");
    ngx_http_leadlist_repeat(b, ",\"d\"", 64);
    ngx_http_leadlist_addf(b, "]}]}");
    ngx_http_leadlist_one("65 departments", ngx_http_leadlist_str(b),
                          "persons[0].departments",
                          "must have at most 64 items");

    ngx_http_leadlist_run(NGX_HTTP_LEADLIST_LIT(
                              "{\"persons\":[{\"id\":1,\"email\":2,"
                              "\"departments\":[3]},"
                              "{\"id\":\"b\",\"title\":[]}]}"),
                          NULL);
    ngx_http_leadlist_ok(ngx_http_leadlist_body.ndetails == 4
        && strcmp(ngx_http_leadlist_body.details[0].field,
                  "persons[0].id") == 0
        && strcmp(ngx_http_leadlist_body.details[1].field,
                  "persons[0].email") == 0
        && strcmp(ngx_http_leadlist_body.details[2].field,
                  "persons[0].departments[0]") == 0
        && strcmp(ngx_http_leadlist_body.details[3].field,
                  "persons[1].title") == 0,
        "one detail per problem, in person order");
}


static void
ngx_http_leadlist_test_person_size(void)
{
    size_t                    pad;
    clock_t                   t;
    ngx_http_leadlist_buf_t  *b;

    b = &ngx_http_leadlist_b;

    /* {"id":"b","x":"<pad>"} is 17 bytes plus pad */

    pad = NGX_HTTP_LEADLIST_MAX_PERSON_BYTES - 17;

    ngx_http_leadlist_reset(b);
    ngx_http_leadlist_addf(b, "{\"persons\":[{\"id\":\"a\"},  "
                              "{\"id\":\"b\",\"x\":\"");
    ngx_http_leadlist_repeat(b, "y", pad);
    ngx_http_leadlist_addf(b, "\"}  ]}");
    ngx_http_leadlist_valid("a person of exactly 65536 bytes",
                            ngx_http_leadlist_str(b));

    ngx_http_leadlist_reset(b);
    ngx_http_leadlist_addf(b, "{\"persons\":[{\"id\":\"a\"},"
                              "{\"id\":\"b\",\"x\":\"");
    ngx_http_leadlist_repeat(b, "y", pad + 1);
    ngx_http_leadlist_addf(b, "\"}]}");
    ngx_http_leadlist_one("a person of 65537 bytes",
                          ngx_http_leadlist_str(b), "persons[1]",
                          "must be at most 65536 bytes");

    /* escapes count as sent: 6 bytes each, though one character */

    ngx_http_leadlist_reset(b);
    ngx_http_leadlist_addf(b, "{\"p\\u0065rsons\":[{\"id\":\"a\",\"x\":\"");
    ngx_http_leadlist_repeat(b, "\\u00e9", 11000);
    ngx_http_leadlist_addf(b, "\",\"y\":[\"}\",{\"}\":\"]\"}]}]}");
    ngx_http_leadlist_one("escaped key, escapes and brackets in strings",
                          ngx_http_leadlist_str(b), "persons[0]",
                          "must be at most 65536 bytes");

    /* a large person is not parsed, so its members are not checked */

    ngx_http_leadlist_reset(b);
    ngx_http_leadlist_addf(b, "{\"persons\":[{\"id\":\"a\",\"x\":\"");
    ngx_http_leadlist_repeat(b, "z", 70000);
    ngx_http_leadlist_addf(b, "\",\"email\":1},{\"id\":\"b\",\"city\":2},"
                              "{\"id\":\"c\",\"x\":\"");
    ngx_http_leadlist_repeat(b, "z", 70000);
    ngx_http_leadlist_addf(b, "\"}]}");
    ngx_http_leadlist_run(b->data, b->len, NULL);
    ngx_http_leadlist_ok(ngx_http_leadlist_rc == -1
        && ngx_http_leadlist_body.ndetails == 3
        && ngx_http_leadlist_has("persons[0]", "must be at most 65536 bytes")
        && ngx_http_leadlist_has("persons[1].city",
                                 "must be a string or null")
        && ngx_http_leadlist_has("persons[2]", "must be at most 65536 bytes"),
        "two large persons and a bad field in another are reported");

    /* only elements of the top-level persons array are measured */

    ngx_http_leadlist_reset(b);
    ngx_http_leadlist_addf(b, "{\"selection\":{\"searchId\":\"s\","
                              "\"ids\":[\"a\"]},\"x\":{\"persons\":[{\"y\":\"");
    ngx_http_leadlist_repeat(b, "z", 70000);
    ngx_http_leadlist_addf(b, "\"}]}}");
    ngx_http_leadlist_one("a large nested \"persons\" is not measured",
                          ngx_http_leadlist_str(b), "x", "unknown member");

    /* each person is parsed alone: errors keep the body's positions */

    ngx_http_leadlist_one("a syntax error in a person replaces the details",
        "{\"persons\":[{\"id\":1},\n  {\"id\":\"\xc3\xa9\",\"x\":1,}],"
        "\"y\":2}",
        "persons[1]", "invalid JSON: string or '}' expected near '}' at "
        "line 2, column 19");
    ngx_http_leadlist_one("a duplicate member in the second person",
        "{\"persons\":[{\"id\":\"a\"},{\"id\":\"b\",\"id\":\"c\"}]}",
        "persons[1]", "invalid JSON: duplicate object key near '\"id\"' at "
        "line 1, column 37");
    ngx_http_leadlist_one("invalid UTF-8 in a person",
        "{\"persons\":[{\"id\":\"a\"},{\"id\":\"\xff\"}]}",
        "persons[1].id", "invalid UTF-8: unable to decode byte 0xff near "
        "'\"' at line 1, column 30");
    ngx_http_leadlist_one("a person's error before one outside comes first",
        "{\"persons\":[{\"id\":\"a\" \"b\"}],\"x\":tru}",
        "persons[0]", "invalid JSON: '}' expected near '\"b\"' at line 1, "
        "column 25");
    ngx_http_leadlist_one("an error outside before a person's comes first",
        "{\"x\":tru,\"persons\":[{\"id\":\"a\" \"b\"}]}",
        "x", "invalid JSON: invalid token near 'tru' at line 1, column 8");
    ngx_http_leadlist_one("an error in a person not reached by the checks",
        "{\"persons\":[{\"id\":\"a\"},{\"x\":[1,]}],\"selection\":{}}",
        "persons[1].x", "invalid JSON: unexpected token near ']' at line 1, "
        "column 32");
    ngx_http_leadlist_one("an error at a person's '{' comes before its own",
        "{\"persons\":[7,7{\"e\"},{{\"e\"--",
        "persons", "invalid JSON: ']' expected near '{' at line 1, column 16");
    ngx_http_leadlist_one("a byte that is not UTF-8 first: column 0",
        "\xff{}", "", "invalid UTF-8: unable to decode byte 0xff at line 1, "
        "column 0");
    ngx_http_leadlist_one("a bad number in a person",
        "{\"persons\":[{\"id\":\"a\"},{\"id\":\"b\",\"x\":1e-99999}]}",
        "persons[1].x", "number out of range at line 1, column 38");

    ngx_http_leadlist_reset(b);
    ngx_http_leadlist_addf(b, "{\"persons\":[{}");
    ngx_http_leadlist_repeat(b, ",{}", 998);
    ngx_http_leadlist_addf(b, ",{\"id\":\"a\",}]}");
    ngx_http_leadlist_prefix("a syntax error after 100 details",
                             b->data, b->len, "persons[999]",
                             "invalid JSON: string or '}' expected");

    ngx_http_leadlist_reset(b);
    ngx_http_leadlist_addf(b, "{\"persons\":[{\"id\":\"a\",\"x\":[");
    ngx_http_leadlist_repeat(b, "[],", 7 * 1024 * 1024);
    ngx_http_leadlist_addf(b, "[]]}]}");
    t = clock();
    ngx_http_leadlist_one("a person of 7 million values is not parsed",
                          ngx_http_leadlist_str(b), "persons[0]",
                          "must be at most 65536 bytes");
    ngx_http_leadlist_ok((double) (clock() - t) / CLOCKS_PER_SEC < 2.0,
                         "... and is refused quickly");

    ngx_http_leadlist_reset(b);
    ngx_http_leadlist_addf(b, "{\"persons\":[{\"id\":\"a\",\"x\":\"");
    ngx_http_leadlist_repeat(b, "z", 10 * 1024 * 1024);
    ngx_http_leadlist_addf(b, "\"}]}");
    ngx_http_leadlist_one("a person holding a 10 MiB string",
                          ngx_http_leadlist_str(b), "persons[0]",
                          "must be at most 65536 bytes");
}


static void
ngx_http_leadlist_test_selection(void)
{
    int                       i;
    ngx_http_leadlist_buf_t  *b;

    b = &ngx_http_leadlist_b;

    ngx_http_leadlist_one("selection an array", "{\"selection\":[]}",
                          "selection", "must be an object");
    ngx_http_leadlist_one("selection null", "{\"selection\":null}",
                          "selection", "must be an object");

    ngx_http_leadlist_one("searchId missing",
                          "{\"selection\":{\"ids\":[\"a\"]}}",
                          "selection.searchId", "is required");
    ngx_http_leadlist_one("searchId a number",
                          "{\"selection\":{\"searchId\":5,\"ids\":[\"a\"]}}",
                          "selection.searchId", "must be a string");
    /* any string is looked up: one naming no search is the database's */

    ngx_http_leadlist_valid("searchId empty",
                            "{\"selection\":{\"searchId\":\"\",\"ids\":[\"a\"]}}");
    ngx_http_leadlist_valid("searchId with a control character",
        "{\"selection\":{\"searchId\":\"s\\r\",\"ids\":[\"a\"]}}");

    ngx_http_leadlist_reset(b);
    ngx_http_leadlist_addf(b, "{\"selection\":{\"ids\":[\"a\"],"
                              "\"searchId\":\"");
    ngx_http_leadlist_repeat(b, "s", 129);
    ngx_http_leadlist_addf(b, "\"}}");
    ngx_http_leadlist_valid("searchId of 129 characters",
                            ngx_http_leadlist_str(b));

    ngx_http_leadlist_one("selectAll a string",
        "{\"selection\":{\"searchId\":\"s\",\"selectAll\":\"true\","
        "\"ids\":[\"a\"]}}",
        "selection.selectAll", "must be a boolean");
    ngx_http_leadlist_one("selectAll null, no ids: no \"is required\"",
        "{\"selection\":{\"searchId\":\"s\",\"selectAll\":null}}",
        "selection.selectAll", "must be a boolean");
    ngx_http_leadlist_some("selectAll 1, ids still checked",
        "{\"selection\":{\"searchId\":\"s\",\"selectAll\":1,\"ids\":[2],"
        "\"limit\":0}}",
        "selection.ids[0]", "must be a string");
    ngx_http_leadlist_some("selectAll 1, limit still checked",
        "{\"selection\":{\"searchId\":\"s\",\"selectAll\":1,\"ids\":[2],"
        "\"limit\":0}}",
        "selection.limit", "must be an integer from 1 to 1000");

    ngx_http_leadlist_one("ids missing",
                          "{\"selection\":{\"searchId\":\"s\"}}",
                          "selection.ids", "is required");
    ngx_http_leadlist_one("ids missing with selectAll false",
        "{\"selection\":{\"searchId\":\"s\",\"selectAll\":false}}",
        "selection.ids", "is required");
    ngx_http_leadlist_one("ids empty",
                          "{\"selection\":{\"searchId\":\"s\",\"ids\":[]}}",
                          "selection.ids",
                          "must be an array of 1 to 1000 items");
    ngx_http_leadlist_one("ids a string",
                          "{\"selection\":{\"searchId\":\"s\",\"ids\":\"a\"}}",
                          "selection.ids",
                          "must be an array of 1 to 1000 items");
    ngx_http_leadlist_one("an id that is a number",
        "{\"selection\":{\"searchId\":\"s\",\"ids\":[\"a\",\"b\",3]}}",
        "selection.ids[2]", "must be a string");

    /* picked and excluded ids are looked up: any string, matched or not */

    ngx_http_leadlist_valid("ids: empty, controls, C1, over 128 characters",
        "{\"selection\":{\"searchId\":\"s\",\"ids\":[\"\",\"a\\u0001b\","
        "\"\\u001f\",\"\\t\\n\\u007f\",\"\xc2\x85\",\"i23456789i123456789"
        "i123456789i123456789i123456789i123456789i123456789i123456789"
        "i123456789i123456789i123456789i123456789i12345678\"]}}");
    ngx_http_leadlist_valid("excludeIds: empty, control characters",
        "{\"selection\":{\"searchId\":\"s\",\"selectAll\":true,"
        "\"excludeIds\":[\"\",\"a\\u0001b\",\"\\u009f\"]}}");
    ngx_http_leadlist_prefix("ids: \\u0000 is still not JSON jsonb stores",
        NGX_HTTP_LEADLIST_LIT("{\"selection\":{\"searchId\":\"s\","
                              "\"ids\":[\"a\",\"\\u0000\"]}}"),
        "selection.ids[1]", "\\u0000 is not allowed");
    ngx_http_leadlist_one("excludeIds: a number is not an id",
        "{\"selection\":{\"searchId\":\"s\",\"selectAll\":true,"
        "\"excludeIds\":[\"\\u0001\",2]}}",
        "selection.excludeIds[1]", "must be a string");

    ngx_http_leadlist_reset(b);
    ngx_http_leadlist_addf(b, "{\"selection\":{\"searchId\":\"s\",\"ids\":[");

    for (i = 0; i < 1001; i++) {
        ngx_http_leadlist_addf(b, "%s\"p%d\"", i ? "," : "", i);
    }

    ngx_http_leadlist_addf(b, "]}}");
    ngx_http_leadlist_one("1001 ids", ngx_http_leadlist_str(b),
                          "selection.ids",
                          "must be an array of 1 to 1000 items");
    ngx_http_leadlist_one_lim("1001 ids", ngx_http_leadlist_str(b), 1000,
                              2000, NULL, NULL);

    ngx_http_leadlist_one_lim("6 ids",
        "{\"selection\":{\"searchId\":\"s\",\"ids\":[\"1\",\"2\",\"3\","
        "\"4\",\"5\",\"6\"]}}", 1000, 5,
        "selection.ids", "must be an array of 1 to 5 items");
    ngx_http_leadlist_one_lim("5 ids",
        "{\"selection\":{\"searchId\":\"s\",\"ids\":[\"1\",\"2\",\"3\","
        "\"4\",\"5\"]}}", 1000, 5, NULL, NULL);

    ngx_http_leadlist_one("excludeIds without selectAll",
        "{\"selection\":{\"searchId\":\"s\",\"ids\":[\"a\"],"
        "\"excludeIds\":[\"b\"]}}",
        "selection.excludeIds", "is only allowed with selectAll true");
    ngx_http_leadlist_one("offset with selectAll false",
        "{\"selection\":{\"searchId\":\"s\",\"selectAll\":false,"
        "\"ids\":[\"a\"],\"offset\":0}}",
        "selection.offset", "is only allowed with selectAll true");
    ngx_http_leadlist_one("limit without selectAll",
        "{\"selection\":{\"searchId\":\"s\",\"ids\":[\"a\"],\"limit\":10}}",
        "selection.limit", "is only allowed with selectAll true");

    ngx_http_leadlist_one("unknown member of selection",
        "{\"selection\":{\"searchId\":\"s\",\"ids\":[\"a\"],\"page\":2}}",
        "selection.page", "unknown member");

    ngx_http_leadlist_run(NGX_HTTP_LEADLIST_LIT(
                              "{\"selection\":{\"excludeIds\":1,\"ids\":[],"
                              "\"z\":0,\"searchId\":5,\"offset\":1}}"),
                          NULL);
    ngx_http_leadlist_ok(ngx_http_leadlist_body.ndetails == 5
        && strcmp(ngx_http_leadlist_body.details[0].field,
                  "selection.searchId") == 0
        && strcmp(ngx_http_leadlist_body.details[1].field,
                  "selection.ids") == 0
        && strcmp(ngx_http_leadlist_body.details[2].field,
                  "selection.excludeIds") == 0
        && strcmp(ngx_http_leadlist_body.details[3].field,
                  "selection.offset") == 0
        && strcmp(ngx_http_leadlist_body.details[4].field,
                  "selection.z") == 0,
        "selection details in member order, unknown ones last");
}


static void
ngx_http_leadlist_test_selection_all(void)
{
    int                       i;
    ngx_http_leadlist_buf_t  *b;

    b = &ngx_http_leadlist_b;

    ngx_http_leadlist_one("ids with selectAll true",
        "{\"selection\":{\"searchId\":\"s\",\"selectAll\":true,"
        "\"ids\":[\"a\"]}}",
        "selection.ids", "is not allowed with selectAll true");

    ngx_http_leadlist_one("excludeIds an object",
        "{\"selection\":{\"searchId\":\"s\",\"selectAll\":true,"
        "\"excludeIds\":{}}}",
        "selection.excludeIds", "must be an array of at most 10000 items");
    ngx_http_leadlist_one("excludeIds null",
        "{\"selection\":{\"searchId\":\"s\",\"selectAll\":true,"
        "\"excludeIds\":null}}",
        "selection.excludeIds", "must be an array of at most 10000 items");
    ngx_http_leadlist_one("an excluded id that is an array",
        "{\"selection\":{\"searchId\":\"s\",\"selectAll\":true,"
        "\"excludeIds\":[\"a\",[]]}}",
        "selection.excludeIds[1]", "must be a string");

    for (i = 0; i < 2; i++) {
        ngx_http_leadlist_reset(b);
        ngx_http_leadlist_addf(b, "{\"selection\":{\"searchId\":\"s\","
                                  "\"selectAll\":true,\"excludeIds\":[\"x\"");
        ngx_http_leadlist_repeat(b, ",\"x\"", 9999 + i);
        ngx_http_leadlist_addf(b, "]}}");

        if (i == 0) {
            ngx_http_leadlist_valid("10000 excludeIds",
                                    ngx_http_leadlist_str(b));

        } else {
            ngx_http_leadlist_one("10001 excludeIds",
                                  ngx_http_leadlist_str(b),
                                  "selection.excludeIds",
                                  "must be an array of at most 10000 items");
        }
    }

    ngx_http_leadlist_one("offset -1",
        "{\"selection\":{\"searchId\":\"s\",\"selectAll\":true,"
        "\"offset\":-1}}",
        "selection.offset", "must be an integer from 0 to 999999999999999999");
    ngx_http_leadlist_one("offset 1.0 (JSON integers only)",
        "{\"selection\":{\"searchId\":\"s\",\"selectAll\":true,"
        "\"offset\":1.0}}",
        "selection.offset", "must be an integer from 0 to 999999999999999999");
    ngx_http_leadlist_one("offset \"1\"",
        "{\"selection\":{\"searchId\":\"s\",\"selectAll\":true,"
        "\"offset\":\"1\"}}",
        "selection.offset", "must be an integer from 0 to 999999999999999999");
    ngx_http_leadlist_valid("offset 2147483648",
        "{\"selection\":{\"searchId\":\"s\",\"selectAll\":true,"
        "\"offset\":2147483648}}");
    ngx_http_leadlist_valid("offset 999999999999999999",
        "{\"selection\":{\"searchId\":\"s\",\"selectAll\":true,"
        "\"offset\":999999999999999999}}");
    ngx_http_leadlist_one("offset 1000000000000000000",
        "{\"selection\":{\"searchId\":\"s\",\"selectAll\":true,"
        "\"offset\":1000000000000000000}}",
        "selection.offset", "must be an integer from 0 to 999999999999999999");
    ngx_http_leadlist_one("limit 0",
        "{\"selection\":{\"searchId\":\"s\",\"selectAll\":true,"
        "\"limit\":0}}",
        "selection.limit", "must be an integer from 1 to 1000");
    ngx_http_leadlist_one("limit 1001",
        "{\"selection\":{\"searchId\":\"s\",\"selectAll\":true,"
        "\"limit\":1001}}",
        "selection.limit", "must be an integer from 1 to 1000");
    ngx_http_leadlist_one("limit 1e2",
        "{\"selection\":{\"searchId\":\"s\",\"selectAll\":true,"
        "\"limit\":1e2}}",
        "selection.limit", "must be an integer from 1 to 1000");
    ngx_http_leadlist_one("limit null",
        "{\"selection\":{\"searchId\":\"s\",\"selectAll\":true,"
        "\"limit\":null}}",
        "selection.limit", "must be an integer from 1 to 1000");
    ngx_http_leadlist_one_lim("limit 6",
        "{\"selection\":{\"searchId\":\"s\",\"selectAll\":true,"
        "\"limit\":6}}", 1000, 5,
        "selection.limit", "must be an integer from 1 to 5");
    ngx_http_leadlist_one_lim("limit 5",
        "{\"selection\":{\"searchId\":\"s\",\"selectAll\":true,"
        "\"limit\":5}}", 1000, 5, NULL, NULL);
    ngx_http_leadlist_one_lim("limit 2000",
        "{\"selection\":{\"searchId\":\"s\",\"selectAll\":true,"
        "\"limit\":2000}}", 1000, 2000, NULL, NULL);
}


static void
ngx_http_leadlist_test_paths(void)
{
    int                          cut;
    size_t                       n;
    const char                  *f;
    ngx_http_leadlist_buf_t     *b;

    b = &ngx_http_leadlist_b;

    ngx_http_leadlist_reset(b);
    ngx_http_leadlist_addf(b, "{\"persons\":[{\"id\":\"a\"}],\"");
    ngx_http_leadlist_repeat(b, "k", 300);
    ngx_http_leadlist_addf(b, "\":1}");
    ngx_http_leadlist_run(b->data, b->len, NULL);
    f = ngx_http_leadlist_body.details[0].field;
    n = strlen(f);
    ngx_http_leadlist_ok(ngx_http_leadlist_body.ndetails == 1 && n == 255
                         && strcmp(f + 252, "...") == 0
                         && strspn(f, "k") == 252,
                         "a 300-byte member name is cut to 252 bytes + ...");

    /* 3-byte characters: 255 - 3 = 252 = 84 of them, no partial one */

    ngx_http_leadlist_reset(b);
    ngx_http_leadlist_addf(b, "{\"persons\":[{\"id\":\"a\"}],\"x");
    ngx_http_leadlist_repeat(b, "\xe2\x82\xac", 200);
    ngx_http_leadlist_addf(b, "\":1}");
    ngx_http_leadlist_run(b->data, b->len, NULL);
    f = ngx_http_leadlist_body.details[0].field;
    n = strlen(f);
    cut = n >= 3 && strcmp(f + n - 3, "...") == 0;
    ngx_http_leadlist_ok(ngx_http_leadlist_body.ndetails == 1 && cut
                         && n == 1 + 83 * 3 + 3
                         && ngx_http_leadlist_utf8_ok(f),
                         "a multi-byte member name is cut between "
                         "characters");

    ngx_http_leadlist_reset(b);
    ngx_http_leadlist_addf(b, "{\"selection\":{\"searchId\":\"s\","
                              "\"ids\":[\"a\"],\"");
    ngx_http_leadlist_repeat(b, "\xf0\x9f\x98\x80", 100);
    ngx_http_leadlist_addf(b, "\":1}}");
    ngx_http_leadlist_run(b->data, b->len, NULL);
    f = ngx_http_leadlist_body.details[0].field;
    n = strlen(f);
    ngx_http_leadlist_ok(ngx_http_leadlist_body.ndetails == 1
                         && strncmp(f, "selection.\xf0\x9f\x98\x80", 14) == 0
                         && n == 10 + 60 * 4 + 3
                         && strcmp(f + n - 3, "...") == 0,
                         "selection.<long name> is cut between characters");

    ngx_http_leadlist_one("\\u0000 in a top-level member name",
        "{\"persons\":[{\"id\":\"a\"}],\"a\\nb\\u0000\":1}",
        "", "\\u0000 is not allowed at line 1, column 36");
    ngx_http_leadlist_one("a newline in a member name shows as ?",
        "{\"persons\":[{\"id\":\"a\"}],\"a\\nb\\t\\u007f\":1}",
        "a?b??", "unknown member");
    ngx_http_leadlist_one("an empty member name",
        "{\"persons\":[{\"id\":\"a\"}],\"\":1}", "", "unknown member");
    ngx_http_leadlist_one("a non-ASCII member name is kept",
        "{\"persons\":[{\"id\":\"a\"}],\"\\u00e9t\xc3\xa9\":1}",
        "\xc3\xa9t\xc3\xa9", "unknown member");

    /* jansson's "near" text quotes the body: it must stay UTF-8 */

    ngx_http_leadlist_prefix("multi-byte text near a syntax error",
        NGX_HTTP_LEADLIST_LIT("{\"persons\":[{\"id\":\"\xe2\x82\xac"
                              "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
                              "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
                              "\" x}]}"),
        "persons[0]", "invalid JSON: ");
}


/*
 * Problems the parser or the scanner finds name the value that holds
 * them, whichever way the body is parsed (whole, or person by person).
 */

static void
ngx_http_leadlist_test_error_paths(void)
{
    char                      path[NGX_HTTP_LEADLIST_FIELD_LEN];
    size_t                    i;
    ngx_http_leadlist_buf_t  *b;

    static const struct {
        const char           *name;
        const char           *body;
        const char           *field;
        const char           *message;
    } cases[] = {

        { "a member name repeated in persons[0]",
          "{\"persons\":[{\"id\":\"p-1\",\"id\":\"p-2\"}]}",
          "persons[0]", "invalid JSON: duplicate object key near '\"id\"'" },
        { "a member name repeated in an object of persons[2]",
          "{\"persons\":[{\"id\":\"a\"},{\"id\":\"b\"},"
          "{\"id\":\"c\",\"x\":{\"k\":1,\"k\":2}}]}",
          "persons[2].x", "invalid JSON: duplicate object key" },
        { "a member name repeated in selection",
          "{\"selection\":{\"searchId\":\"s\",\"ids\":[\"a\"],"
          "\"ids\":[\"b\"]}}",
          "selection", "invalid JSON: duplicate object key" },
        { "a repeated name is decoded in the path",
          "{\"persons\":[{\"id\":\"a\",\"\\u0078\\ud83d\\ude00\":"
          "{\"k\":1,\"k\":1}}]}",
          "persons[0].x\xf0\x9f\x98\x80", "invalid JSON: duplicate" },
        { "control characters of a name in the path show as ?",
          "{\"persons\":[{\"id\":\"a\",\"a\\nb\":[1,]}]}",
          "persons[0].a?b", "invalid JSON: unexpected token near ']'" },

        { "invalid UTF-8 in a profile string of persons[1]",
          "{\"persons\":[{\"id\":\"a\"},{\"id\":\"b\",\"city\":\"x\xff\"}]}",
          "persons[1].city", "invalid UTF-8: " },
        { "invalid UTF-8 in a nested member name",
          "{\"persons\":[{\"id\":\"a\",\"x\":{\"\xc0\":1}}]}",
          "persons[0].x", "invalid UTF-8: " },
        { "invalid UTF-8 in selection.ids[1]",
          "{\"selection\":{\"searchId\":\"s\",\"ids\":[\"a\",\"\xff\"]}}",
          "selection.ids[1]", "invalid UTF-8: " },

        { "\\u0000 in a department",
          "{\"persons\":[{\"id\":\"a\",\"departments\":[\"x\","
          "\"\\u0000\"]}]}",
          "persons[0].departments[1]", "\\u0000 is not allowed" },
        { "\\u0000 in selection.searchId",
          "{\"selection\":{\"searchId\":\"s\\u0000\",\"ids\":[\"a\"]}}",
          "selection.searchId", "\\u0000 is not allowed" },
        { "\\u0000 in a member name of persons[0].x[0]",
          "{\"persons\":[{\"id\":\"a\",\"x\":[{\"k\\u0000\":1}]}]}",
          "persons[0].x[0]", "\\u0000 is not allowed" },

        { "a number out of range in selection.limit",
          "{\"selection\":{\"searchId\":\"s\",\"selectAll\":true,"
          "\"limit\":1e-99999}}",
          "selection.limit", "number out of range at line 1, column 55" },
        { "a number out of range deep in a profile",
          "{\"persons\":[{\"id\":\"a\",\"x\":{\"y\":[0,1e200000]}}]}",
          "persons[0].x.y[1]", "number out of range" },

        { "a member without a value",
          "{\"persons\":[{\"id\":\"a\",\"x\":}]}",
          "persons[0].x", "invalid JSON: unexpected token near '}'" },
        { "a bad literal in an array",
          "{\"persons\":[{\"id\":\"a\",\"x\":[1,2,nul]}]}",
          "persons[0].x[2]", "invalid JSON: invalid token near 'nul'" },
        { "a value where a name belongs",
          "{\"persons\":[{\"id\":\"a\",7:1}]}",
          "persons[0]", "invalid JSON: string or '}' expected near '7'" },
        { "a body that ends after a member name",
          "{\"persons\":[{\"id\"",
          "persons[0].id", "invalid JSON: ':' expected near end of file" },
        { "a body that ends in selection.ids",
          "{\"selection\":{\"searchId\":\"s\",\"ids\":[\"a\"",
          "selection.ids", "invalid JSON: ']' expected near end of file" },
        { "a body that ends in a string",
          "{\"persons\":[{\"id\":\"a\",\"x\":\"abc",
          "persons[0].x", "invalid JSON: premature end of input" },
        { "a body that ends after a value",
          "{\"persons\":[{\"id\":\"a\"}]",
          "", "invalid JSON: '}' expected near end of file" },
        { "garbage after the body",
          "{\"persons\":[{\"id\":\"a\"}]} x",
          "", "invalid JSON: end of file expected near 'x'" },
    };

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ngx_http_leadlist_both(cases[i].name, cases[i].body,
                               strlen(cases[i].body), cases[i].field,
                               cases[i].message);
    }

    ngx_http_leadlist_both("a raw NUL byte in a profile string",
        NGX_HTTP_LEADLIST_LIT("{\"persons\":[{\"id\":\"a\","
                              "\"note\":\"x\0y\"}]}"),
        "persons[0].note", "invalid JSON: NUL byte at line 1, column 32");

    /* the 33rd level, in an unknown top-level member, and in ids */

    b = &ngx_http_leadlist_b;

    ngx_http_leadlist_reset(b);
    ngx_http_leadlist_addf(b, "{\"persons\":[{\"id\":\"a\"}],\"x\":");
    ngx_http_leadlist_repeat(b, "[", 32);
    ngx_http_leadlist_both("nesting too deep in an unknown member", b->data,
                           b->len, ngx_http_leadlist_path(path, "x", "[0]",
                                                          31),
                           "must not nest arrays and objects more than 32");

    ngx_http_leadlist_reset(b);
    ngx_http_leadlist_addf(b, "{\"selection\":{\"searchId\":\"s\","
                              "\"ids\":[\"a\",\"b\",");
    ngx_http_leadlist_repeat(b, "{\"k\":", 30);
    ngx_http_leadlist_both("nesting too deep in selection.ids[2]", b->data,
                           b->len,
                           ngx_http_leadlist_path(path, "selection.ids[2]",
                                                  ".k", 29),
                           "must not nest arrays and objects more than 32");

    /* a path longer than a field: cut between characters, with "..." */

    ngx_http_leadlist_reset(b);
    ngx_http_leadlist_addf(b, "{\"persons\":[{\"id\":\"a\",\"");
    ngx_http_leadlist_repeat(b, "\xe2\x82\xac", 100);
    ngx_http_leadlist_addf(b, "\":{\"k\":1,\"k\":2}}]}");
    ngx_http_leadlist_run(b->data, b->len, NULL);
    ngx_http_leadlist_ok(ngx_http_leadlist_rc == -1
        && ngx_http_leadlist_body.ndetails == 1
        && strlen(ngx_http_leadlist_body.details[0].field)
           == 11 + 80 * 3 + 3
        && strncmp(ngx_http_leadlist_body.details[0].field, "persons[0].",
                   11) == 0
        && strcmp(ngx_http_leadlist_body.details[0].field + 11 + 80 * 3,
                  "...") == 0,
        "a long member name in a path is cut between characters");
}


/* one detail on field, whole and person by person */

static void
ngx_http_leadlist_both(const char *name, const char *data, size_t len,
    const char *field, const char *prefix)
{
    size_t  whole_max;

    ngx_http_leadlist_prefix(name, data, len, field, prefix);

    whole_max = ngx_http_leadlist_whole_max;
    ngx_http_leadlist_whole_max = 0;

    ngx_http_leadlist_prefix("... person by person", data, len, field,
                             prefix);

    ngx_http_leadlist_whole_max = whole_max;
}


static void
ngx_http_leadlist_test_scale(void)
{
    int                       i;
    clock_t                   t;
    ngx_http_leadlist_buf_t  *b;

    b = &ngx_http_leadlist_b;

    t = clock();

    ngx_http_leadlist_reset(b);
    ngx_http_leadlist_addf(b, "{\"persons\":[{\"id\":\"a\"}]");

    for (i = 0; i < 100000; i++) {
        ngx_http_leadlist_addf(b, ",\"k%d\":%d", i, i);
    }

    ngx_http_leadlist_addf(b, "}");
    ngx_http_leadlist_run(b->data, b->len, NULL);
    ngx_http_leadlist_ok(ngx_http_leadlist_rc == -1
        && ngx_http_leadlist_body.ndetails == 100
        && strcmp(ngx_http_leadlist_body.details[0].field, "k0") == 0
        && strcmp(ngx_http_leadlist_body.details[99].field, "k99") == 0,
        "100,000 unknown top-level members: first 100 reported in order");

    ngx_http_leadlist_reset(b);
    ngx_http_leadlist_addf(b, "{\"persons\":[{\"id\":\"a\",\"extra\":{");

    for (i = 0; i < 100000; i++) {
        ngx_http_leadlist_addf(b, "%s\"k%d\":%d", i ? "," : "", i, i);
    }

    ngx_http_leadlist_addf(b, "}}]}");
    ngx_http_leadlist_ok(ngx_http_leadlist_run(b->data, b->len, NULL) == -1
                         && ngx_http_leadlist_has("persons[0]",
                                              "must be at most 65536 bytes"),
                         "100,000 keys in one person: too large");

    ngx_http_leadlist_reset(b);
    ngx_http_leadlist_addf(b, "{\"selection\":{\"searchId\":\"s\","
                              "\"selectAll\":true},\"x\":{");

    for (i = 0; i < 100000; i++) {
        ngx_http_leadlist_addf(b, "%s\"k%d\":%d", i ? "," : "", i, i);
    }

    ngx_http_leadlist_addf(b, "}}");
    ngx_http_leadlist_one("100,000 keys in one nested object",
                          ngx_http_leadlist_str(b), "x", "unknown member");

    /*
     * outside the persons, jansson holds the whole tree: 262144 values
     * at most (here 9 + the zeros), counted before parsing
     */

    for (i = 0; i < 2; i++) {
        ngx_http_leadlist_reset(b);
        ngx_http_leadlist_addf(b, "{\"selection\":{\"searchId\":\"s\","
                                  "\"selectAll\":true},\"x\":[0");
        ngx_http_leadlist_repeat(b, ",0", 262134 + i);
        ngx_http_leadlist_addf(b, "]}");

        if (i == 0) {
            ngx_http_leadlist_one("262144 values outside the persons",
                                  ngx_http_leadlist_str(b), "x",
                                  "unknown member");

        } else {
            ngx_http_leadlist_one("262145 values outside the persons",
                                  ngx_http_leadlist_str(b), "",
                                  "must not hold more than 262144 JSON "
                                  "values outside the persons");
        }
    }

    ngx_http_leadlist_reset(b);
    ngx_http_leadlist_addf(b, "{\"selection\":{\"searchId\":\"s\","
                              "\"ids\":[\"a\"");
    ngx_http_leadlist_repeat(b, ",[]", 4 * 1024 * 1024);
    ngx_http_leadlist_addf(b, "]}}");
    ngx_http_leadlist_one("4 million values in ids",
                          ngx_http_leadlist_str(b), "",
                          "must not hold more than 262144 JSON values "
                          "outside the persons");

    ngx_http_leadlist_reset(b);
    ngx_http_leadlist_addf(b, "{\"persons\":[");

    for (i = 0; i < 100000; i++) {
        ngx_http_leadlist_addf(b, "%s{\"id\":%d}", i ? "," : "", i);
    }

    ngx_http_leadlist_addf(b, "]}");
    ngx_http_leadlist_run(b->data, b->len, NULL);
    ngx_http_leadlist_ok(ngx_http_leadlist_rc == -1
        && ngx_http_leadlist_body.ndetails == 1
        && ngx_http_leadlist_body.npersons == 1001
        && ngx_http_leadlist_has("persons",
                                 "must be an array of 1 to 1000 items"),
        "100,000 persons: refused at the 1001st, before parsing");

    ngx_http_leadlist_reset(b);
    ngx_http_leadlist_addf(b, "{\"persons\":[1");
    ngx_http_leadlist_repeat(b, ",[1]", 1000);
    ngx_http_leadlist_addf(b, "]}");
    ngx_http_leadlist_one("1001 persons that are not objects",
                          ngx_http_leadlist_str(b), "persons",
                          "must be an array of 1 to 1000 items");

    ngx_http_leadlist_reset(b);
    ngx_http_leadlist_addf(b, "{\"selection\":{\"searchId\":\"s\","
                              "\"ids\":[\"a\"],\"");
    ngx_http_leadlist_repeat(b, "n", 20 * 1024 * 1024);
    ngx_http_leadlist_addf(b, "\":1}}");
    ngx_http_leadlist_run(b->data, b->len, NULL);
    ngx_http_leadlist_ok(ngx_http_leadlist_rc == -1
        && ngx_http_leadlist_body.ndetails == 1
        && strlen(ngx_http_leadlist_body.details[0].field) == 255,
        "a 20 MiB member name");

    ngx_http_leadlist_ok((double) (clock() - t) / CLOCKS_PER_SEC < 20.0,
                         "large bodies take linear time (%.2fs)",
                         (double) (clock() - t) / CLOCKS_PER_SEC);
}


static void
ngx_http_leadlist_test_content_type(void)
{
    size_t       i;
    const char  *s;

    static const char  *good[] = {
        "application/json",
        "Application/JSON",
        "APPLICATION/JSON",
        "application/json; charset=utf-8",
        "application/json;charset=UTF-8",
        "application/json; charset=\"utf-8\"",
        "application/json; charset=utf8",
        "application/json; Charset=\"UTF8\"",
        "application/json ; charset=utf-8 ",
        "application/json; foo=bar; charset=utf-8",
        "application/json; foo=\"a;b\\\"c\"",
        "application/json;",
        "application/json;;charset=utf-8",
        "  application/json\t",
        NULL
    };

    /* another type, or malformed: "must be application/json" */

    static const char  *other[] = {
        "",
        " ",
        "text/plain",
        "text/plain; charset=utf-8",
        "text/plain; charset=latin1",
        "application/jsonx",
        "application/json-patch+json",
        "application/vnd.api+json",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/json; charset=\"utf-8",
        "application/json; charset",
        "application/json; charset=",
        "application/json; =utf-8",
        "application/json; charset = utf-8",
        "application/json, text/plain",
        "application/json charset=utf-8",
        "application/json; a=b c",
        "application/json; charset=latin1; a",
        "application/json; a; charset=latin1",
        "application/json; charset=latin1 x",
        "application/",
        "json",
        NULL
    };

    /* well-formed application/json, but not UTF-8: "charset must be" */

    static const char  *charset[] = {
        "application/json; charset=latin1",
        "application/json; charset=us-ascii",
        "application/json; charset=US-ASCII",
        "application/json; charset=\"iso-8859-1\"",
        "application/json; charset=utf-16",
        "application/json; charset=utf-8; charset=latin1",
        "application/json; charset=latin1; charset=utf-8",
        "application/json; charset=\"\"",
        "application/json; charset=utf-8x",
        "application/json; charset=utf-8-but-longer-than-16",
        "application/json;charset=latin1;",
        "APPLICATION/JSON; CHARSET=LATIN1; foo=bar",
        NULL
    };

    for (i = 0; good[i]; i++) {
        s = good[i];
        ngx_http_leadlist_ok(ngx_http_leadlist_content_type(
                                 (const unsigned char *) s, strlen(s))
                             == NGX_HTTP_LEADLIST_TYPE_JSON,
                             "content type accepted: '%s'", s);
    }

    for (i = 0; other[i]; i++) {
        s = other[i];
        ngx_http_leadlist_ok(ngx_http_leadlist_content_type(
                                 (const unsigned char *) s, strlen(s))
                             == NGX_HTTP_LEADLIST_TYPE_OTHER,
                             "content type refused, not JSON: '%s'", s);
    }

    for (i = 0; charset[i]; i++) {
        s = charset[i];
        ngx_http_leadlist_ok(ngx_http_leadlist_content_type(
                                 (const unsigned char *) s, strlen(s))
                             == NGX_HTTP_LEADLIST_TYPE_CHARSET,
                             "content type refused, the charset: '%s'", s);
    }

    ngx_http_leadlist_ok(ngx_http_leadlist_content_type(NULL, 0)
                         == NGX_HTTP_LEADLIST_TYPE_OTHER,
                         "content type refused: NULL");
    ngx_http_leadlist_ok(ngx_http_leadlist_content_type(
                             (const unsigned char *) "application/json\0x",
                             18) == NGX_HTTP_LEADLIST_TYPE_OTHER,
                         "content type refused: a NUL inside");
    ngx_http_leadlist_ok(ngx_http_leadlist_content_type(
                             (const unsigned char *) "application/jsonXYZ",
                             16) == NGX_HTTP_LEADLIST_TYPE_JSON,
                         "content type: only len bytes are read");
    ngx_http_leadlist_ok(ngx_http_leadlist_content_type(
                 (const unsigned char *) "application/json; charset=utf-8x",
                 31) == NGX_HTTP_LEADLIST_TYPE_JSON,
                 "content type: only len bytes of the charset are read");
}


static void
ngx_http_leadlist_test_list_id(void)
{
    size_t       i;
    const char  *s;

    static const char  *good[] = {
        "a", "Z", "0", "-", "_", "list_01-AB",
        "0123456789012345678901234567890123456789012345678901234567890123",
        NULL
    };

    static const char  *bad[] = {
        "",
        "01234567890123456789012345678901234567890123456789012345678901234",
        "a b", "a/b", "a.b", "a%20b", "..", "\xc3\xa9", "a\n", "a+b", "a:b",
        NULL
    };

    for (i = 0; good[i]; i++) {
        s = good[i];
        ngx_http_leadlist_ok(ngx_http_leadlist_list_id_ok(
                                 (const unsigned char *) s, strlen(s)) == 1,
                             "list id accepted: '%s'", s);
    }

    for (i = 0; bad[i]; i++) {
        s = bad[i];
        ngx_http_leadlist_ok(ngx_http_leadlist_list_id_ok(
                                 (const unsigned char *) s, strlen(s)) == 0,
                             "list id refused (%zu bytes)", strlen(s));
    }

    ngx_http_leadlist_ok(ngx_http_leadlist_list_id_ok(NULL, 0) == 0,
                         "list id refused: NULL");
    ngx_http_leadlist_ok(ngx_http_leadlist_list_id_ok(
                             (const unsigned char *) "ab\0", 3) == 0,
                         "list id refused: a NUL inside");
}


/*
 * A body parsed whole takes its jansson tree from the validator's arena,
 * and jansson's allocator is the process's: values others make before,
 * between and after validations are malloc()'s and must be freed as such
 * (a mix-up crashes here), and validating whole bodies over and over must
 * not hold on to memory.
 */

static void
ngx_http_leadlist_test_arena(void)
{
    int                       i;
    void                     *p;
    size_t                    m0, m1;
    json_t                   *before, *between, *want;
    ngx_http_leadlist_buf_t  *b;

    b = &ngx_http_leadlist_b;

    before = json_pack("{s:[i,s]}", "a", 1, "before");
    ngx_http_leadlist_valid("arena: a small body",
                            "{\"persons\":[{\"id\":\"a\",\"x\":[1,2]}]}");

    between = json_string("between");
    ngx_http_leadlist_run(NGX_HTTP_LEADLIST_LIT("{\"persons\":[{\"id\":"),
                          NULL);
    ngx_http_leadlist_ok(ngx_http_leadlist_rc == -1,
                         "arena: a body cut short (jansson frees its part)");

    ngx_http_leadlist_reset(b);
    ngx_http_leadlist_addf(b, "{\"persons\":[");

    for (i = 0; i < 200; i++) {
        ngx_http_leadlist_addf(b, "%s{\"id\":\"p%d\",\"title\":\"%0600d\"}",
                               i ? "," : "", i, i);
    }

    ngx_http_leadlist_addf(b, "]}");
    ngx_http_leadlist_ok(b->len > ngx_http_leadlist_whole_max
                         && ngx_http_leadlist_run(b->data, b->len, NULL) == 0
                         && ngx_http_leadlist_body.npersons == 200,
                         "arena: a body parsed person by person in between");

    want = json_pack("{s:[i,s]}", "a", 1, "before");
    ngx_http_leadlist_ok(json_equal(before, want)
                         && strcmp(json_string_value(between), "between")
                            == 0,
                         "arena: values made outside validation are intact");
    json_decref(want);
    json_decref(before);
    json_decref(between);

    ngx_http_leadlist_reset(b);
    ngx_http_leadlist_addf(b, "{\"persons\":[");

    for (i = 0; i < 100; i++) {
        ngx_http_leadlist_addf(b, "%s{\"id\":\"p%d\",\"title\":\"%0400d\"}",
                               i ? "," : "", i, i);
    }

    ngx_http_leadlist_addf(b, "]}");
    ngx_http_leadlist_run(b->data, b->len, NULL);

    m0 = ngx_http_leadlist_heap();
    p = malloc(1048576);
    m1 = ngx_http_leadlist_heap();
    free(p);

    ngx_http_leadlist_ok(p && m1 >= m0 + 1048576,
                         "arena: the heap measure sees a 1 MB allocation");

    m0 = ngx_http_leadlist_heap();

    for (i = 0; i < 1000; i++) {
        ngx_http_leadlist_run(b->data, b->len, NULL);
    }

    m1 = ngx_http_leadlist_heap();

    ngx_http_leadlist_ok(ngx_http_leadlist_rc == 0 && m1 < m0 + 65536,
                         "arena: 1,000 bodies of %zu bytes parsed whole leave "
                         "%zd bytes more in use (at most 65536)",
                         b->len, (ssize_t) (m1 - m0));
}


/* bytes the process has allocated and not freed */

static size_t
ngx_http_leadlist_heap(void)
{
#if defined(__SANITIZE_ADDRESS__)
    return __sanitizer_get_current_allocated_bytes();
#else
    return mallinfo2().uordblks;
#endif
}
