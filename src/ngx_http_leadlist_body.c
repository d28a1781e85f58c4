
/*
 * The body validator's parse driver: the body parsed whole, or person by
 * person, and its JSON errors made details.
 *
 * The validator (SPEC 1.3, 1.5) is plain C99 over jansson with no nginx
 * types, so that it can be unit-tested (t/unit/test_body.c) and fuzzed
 * (fuzz/fuzz_body.c) on its own: this driver and the public API
 * (ngx_http_leadlist_body.h), the byte scanner (_scan.c), the schema
 * checks and their messages (_rules.c), the path of a byte (_path.c) and
 * jansson's arena (_arena.c).
 * Whatever it accepts is sent as is to PostgreSQL as a jsonb parameter,
 * so it must only accept what jsonb stores and what the SQL may trust the
 * shape of.
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
 *    from the byte scanner carry the line and column of the token.  Both
 *    name, as their field, the value that holds the byte they point at
 *    (ngx_http_leadlist_path.c): a repeated member name, or a \u0000 or a
 *    byte that is not UTF-8 in one, is a detail on its object
 *    ("persons[0]"); one in a string value, on that value
 *    ("persons[0].city"); a number, a too deep array, on themselves; a
 *    body that ends too soon, on what it left open.
 *  - Numbers: exactly what PostgreSQL's jsonb stores, whatever jansson
 *    or a double holds, since the body goes to PostgreSQL as sent: the
 *    first significant digit at most 10^131071, at most 16383 digits after
 *    the point (less the exponent), an exponent below 1073741823 (the
 *    scanner checks each literal, ngx_http_leadlist_scan.h).  Others are
 *    "number out of range" on their path.  jansson is given a stand-in
 *    ("0e0", right-aligned in the literal's bytes) for an integer of more
 *    than 18 digits, a real of more than 32 bytes or with an exponent
 *    above 256: it could not hold them, or not read them fast, and only
 *    their type matters to the rules (offset 1e400 is "must be an integer
 *    from 0 to 999999999999999999", as offset 1.5 is).
 *  - Characters are Unicode code points, not bytes.  "Control characters"
 *    are U+0000-U+001F and U+007F-U+009F; only a person's id is checked
 *    for them (the profile's text fields are stored as sent; a searchId
 *    is looked up, and one that names no search is the database's 400).
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
 *    is at most 999999999999999999 (NGX_HTTP_LEADLIST_MAX_OFFSET).
 *  - excludeIds may be empty.  Ids in ids and excludeIds are only looked
 *    up, never stored: SPEC 1.3 makes them "strings", and an id the search
 *    does not match is skipped, so any string is one (empty, longer than
 *    128 characters, with control characters: it matches no person).  A
 *    person's id and searchId keep the rule of 1 to 128 characters
 *    without control characters.
 *  - When selectAll is not a boolean, the mode is unknown: the other
 *    members are checked for their own types only ("is required" and "is
 *    not allowed" need the mode).
 *  - Both persons and selection: one detail on "", and neither is checked.
 *  - limits == NULL means the defaults (1000, 1000).
 *  - Memory exhaustion inside jansson returns -1 with body->nomem set and
 *    the detail "" "could not be parsed: out of memory": the caller
 *    answers 500, not 400.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ngx_http_leadlist_arena.h"
#include "ngx_http_leadlist_body.h"
#include "ngx_http_leadlist_rules.h"
#include "ngx_http_leadlist_scan.h"


/* what stands in for a number jansson is not given: "  0e0", a real */
#define NGX_HTTP_LEADLIST_STAND_IN      "0e0"
#define NGX_HTTP_LEADLIST_STAND_IN_LEN  (sizeof(NGX_HTTP_LEADLIST_STAND_IN) - 1)


/*
 * Feeds jansson the bytes from pos to end of the body, with the inside of
 * each person object in blank given as spaces, and each number literal in
 * numbers given as a stand-in, right-aligned in spaces.  The length stays
 * the same, so that jansson's error positions are the body's.
 */

typedef struct {
    const unsigned char               *data;
    size_t                             pos;
    size_t                             end;         /* past the last byte */
    const ngx_http_leadlist_span_t    *blank;
    size_t                             nblank;
    const ngx_http_leadlist_span_t    *numbers;
    size_t                             nnumbers;
} ngx_http_leadlist_body_reader_t;


static int ngx_http_leadlist_body_blank(const unsigned char *s, size_t len);
static void ngx_http_leadlist_body_scan_error(ngx_http_leadlist_parse_t *p);
static void ngx_http_leadlist_body_number_error(ngx_http_leadlist_parse_t *p);
static json_t *ngx_http_leadlist_body_load(ngx_http_leadlist_body_reader_t *rd,
    size_t flags, json_error_t *err);
static size_t ngx_http_leadlist_body_read(void *buf, size_t size,
    void *data);
static const ngx_http_leadlist_span_t *ngx_http_leadlist_body_number(
    ngx_http_leadlist_parse_t *p, size_t off);
static json_t *ngx_http_leadlist_body_skeleton(ngx_http_leadlist_parse_t *p);
static json_t *ngx_http_leadlist_body_span(ngx_http_leadlist_parse_t *p,
    const ngx_http_leadlist_span_t *sp);
static void ngx_http_leadlist_body_rest(ngx_http_leadlist_parse_t *p);
static int ngx_http_leadlist_body_oversized(
    const ngx_http_leadlist_span_t *sp);
static void ngx_http_leadlist_body_json_error(ngx_http_leadlist_parse_t *p,
    json_error_t *err, size_t base);
static const char *ngx_http_leadlist_body_near(ngx_http_leadlist_parse_t *p,
    const char *text, size_t off, char *buf);


/* bodies up to this size are parsed whole (see the header) */

size_t  ngx_http_leadlist_whole_max = NGX_HTTP_LEADLIST_MAX_PERSON_BYTES;


int
ngx_http_leadlist_body_validate(const unsigned char *data, size_t len,
    const ngx_http_leadlist_limits_t *limits, ngx_http_leadlist_body_t *body)
{
    json_t                     *root;
    const unsigned char        *nul;
    ngx_http_leadlist_scan_t    scan;
    ngx_http_leadlist_parse_t   p;

    body->mode = NGX_HTTP_LEADLIST_MODE_NONE;
    body->npersons = 0;
    body->nomem = 0;
    body->ndetails = 0;

    memset(&p, 0, sizeof(p));
    p.body = body;
    p.data = data;
    p.len = len;
    p.scan = &scan;
    p.limits.max_persons = NGX_HTTP_LEADLIST_DEFAULT_MAX;
    p.limits.max_selection = NGX_HTTP_LEADLIST_DEFAULT_MAX;

    if (limits) {
        p.limits = *limits;
    }

    if (data == NULL || ngx_http_leadlist_body_blank(data, len)) {
        ngx_http_leadlist_rules_body_error(&p, NGX_HTTP_LEADLIST_MSG_EMPTY);
        return -1;
    }

    if (len >= 3 && data[0] == 0xef && data[1] == 0xbb && data[2] == 0xbf) {
        ngx_http_leadlist_rules_body_error(&p, NGX_HTTP_LEADLIST_MSG_BOM);
        return -1;
    }

    /*
     * jansson's message for a NUL byte outside a string is "near end of
     * file", and libpq would cut the text there
     */

    nul = memchr(data, '\0', len);

    if (nul) {
        ngx_http_leadlist_rules_at(&p, NGX_HTTP_LEADLIST_MSG_NUL_BYTE,
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

    ngx_http_leadlist_scan_init(&scan, p.limits.max_persons);
    ngx_http_leadlist_scan(&scan, data, len);

    if (scan.stop != NGX_HTTP_LEADLIST_SCAN_OK) {
        ngx_http_leadlist_body_scan_error(&p);
        ngx_http_leadlist_scan_free(&scan);
        return -1;
    }

    /*
     * A body no larger than one person may hold is parsed whole: its tree
     * is small, and each person is then read once instead of twice (the
     * skeleton, then the person).  Most requests are such bodies.
     */

    if (len <= ngx_http_leadlist_whole_max) {
        scan.persons.nelts = 0;
        ngx_http_leadlist_arena_begin();
    }

    root = ngx_http_leadlist_body_skeleton(&p);

    if (root) {
        ngx_http_leadlist_rules_check(&p, root);
        ngx_http_leadlist_body_rest(&p);
        json_decref(root);

        /* the scanner's view of numbers is exact once jansson agrees */

        if (!p.syntax && scan.number) {
            body->ndetails = 0;
            ngx_http_leadlist_body_number_error(&p);
        }
    }

    ngx_http_leadlist_arena_end();

    ngx_http_leadlist_scan_free(&scan);

    /* a body that is not JSON has no persons to count, whichever path */

    if (p.syntax) {
        body->npersons = 0;
    }

    if (body->ndetails) {
        return -1;
    }

    body->mode = p.mode;

    return 0;
}


void
ngx_http_leadlist_body_cleanup(void)
{
    ngx_http_leadlist_arena_free();
}


/*
 * an object in the persons array is a placeholder: the person is parsed
 * alone from its span, to be checked and freed
 */

json_t *
ngx_http_leadlist_body_person(ngx_http_leadlist_parse_t *p, size_t i,
    json_t *v)
{
    char                       msg[NGX_HTTP_LEADLIST_MESSAGE_LEN];
    ngx_http_leadlist_span_t  *sp;

    /* no span: the scanner did not blank it out, so it is the person */

    if (p->next_span >= p->scan->persons.nelts) {
        return v;
    }

    sp = &p->scan->persons.elts[p->next_span++];

    /* never parsed: jansson would hold up to 40 times its size */

    if (ngx_http_leadlist_body_oversized(sp)) {
        snprintf(msg, sizeof(msg), NGX_HTTP_LEADLIST_MSG_BYTES,
                 NGX_HTTP_LEADLIST_MAX_PERSON_BYTES);
        ngx_http_leadlist_rules_error(p, msg, "persons[%zu]", i);
        return NULL;
    }

    return ngx_http_leadlist_body_span(p, sp);
}


static int
ngx_http_leadlist_body_blank(const unsigned char *s, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r') {
            return 0;
        }
    }

    return 1;
}


/* what stopped the scanner: a 400 (or a 500) whatever the rest holds */

static void
ngx_http_leadlist_body_scan_error(ngx_http_leadlist_parse_t *p)
{
    char                       msg[NGX_HTTP_LEADLIST_MESSAGE_LEN];
    ngx_http_leadlist_scan_t  *sc;

    sc = p->scan;

    switch (sc->stop) {

    case NGX_HTTP_LEADLIST_SCAN_DEPTH:
        snprintf(msg, sizeof(msg), NGX_HTTP_LEADLIST_MSG_DEPTH,
                 NGX_HTTP_LEADLIST_MAX_DEPTH);
        ngx_http_leadlist_rules_at(p, msg, sc->too_deep);
        break;

    case NGX_HTTP_LEADLIST_SCAN_PERSONS:
        p->body->npersons = sc->commas + 1;
        snprintf(msg, sizeof(msg), NGX_HTTP_LEADLIST_MSG_ITEMS, (size_t) 1,
                 p->limits.max_persons);
        ngx_http_leadlist_rules_error(p, msg, "persons");
        break;

    case NGX_HTTP_LEADLIST_SCAN_TOKENS:
        snprintf(msg, sizeof(msg), NGX_HTTP_LEADLIST_MSG_TOKENS,
                 NGX_HTTP_LEADLIST_MAX_TOKENS);
        ngx_http_leadlist_rules_body_error(p, msg);
        break;

    default:
        p->body->nomem = 1;
        ngx_http_leadlist_rules_body_error(p, NGX_HTTP_LEADLIST_MSG_NOMEM);
        break;
    }
}


/* a number PostgreSQL would refuse: the first one, once jansson agrees */

static void
ngx_http_leadlist_body_number_error(ngx_http_leadlist_parse_t *p)
{
    ngx_http_leadlist_rules_at(p, NGX_HTTP_LEADLIST_MSG_RANGE,
                               p->scan->number - 1);
}


/* json_loadb() where jansson may read the body as is */

static json_t *
ngx_http_leadlist_body_load(ngx_http_leadlist_body_reader_t *rd,
    size_t flags, json_error_t *err)
{
    if (rd->nblank == 0 && rd->nnumbers == 0) {
        return json_loadb((const char *) rd->data + rd->pos,
                          rd->end - rd->pos, flags, err);
    }

    return json_load_callback(ngx_http_leadlist_body_read, rd, flags, err);
}


/* the json_load_callback() reader */

static size_t
ngx_http_leadlist_body_read(void *buf, size_t size, void *data)
{
    size_t                            n, k, stop;
    unsigned char                    *out;
    ngx_http_leadlist_body_reader_t  *rd;

    rd = data;
    out = buf;

    for (n = 0; n < size && rd->pos < rd->end; n += k, rd->pos += k) {

        while (rd->nblank && rd->blank->end <= rd->pos) {
            rd->blank++;
            rd->nblank--;
        }

        while (rd->nnumbers && rd->numbers->end < rd->pos) {
            rd->numbers++;
            rd->nnumbers--;
        }

        /* inside a person object, up to its '}' */

        if (rd->nblank && rd->pos > rd->blank->start) {
            k = rd->blank->end - rd->pos;
            k = k < size - n ? k : size - n;
            memset(out + n, ' ', k);
            continue;
        }

        /* in a number: spaces, then the stand-in; a literal is 5 or more */

        if (rd->nnumbers && rd->pos >= rd->numbers->start) {
            stop = rd->numbers->end + 1 - NGX_HTTP_LEADLIST_STAND_IN_LEN;

            if (rd->pos < stop) {
                k = stop - rd->pos;
                k = k < size - n ? k : size - n;
                memset(out + n, ' ', k);

            } else {
                k = 1;
                out[n] = NGX_HTTP_LEADLIST_STAND_IN[rd->pos - stop];
            }

            continue;
        }

        stop = rd->end;

        if (rd->nblank && rd->blank->start + 1 < stop) {
            stop = rd->blank->start + 1;
        }

        if (rd->nnumbers && rd->numbers->start < stop) {
            stop = rd->numbers->start;
        }

        k = stop - rd->pos;
        k = k < size - n ? k : size - n;
        memcpy(out + n, rd->data + rd->pos, k);
    }

    return n;
}


/* the first number stand-in that ends at off or after it, NULL if none */

static const ngx_http_leadlist_span_t *
ngx_http_leadlist_body_number(ngx_http_leadlist_parse_t *p, size_t off)
{
    size_t                           lo, hi, mid;
    const ngx_http_leadlist_spans_t  *a;

    a = &p->scan->numbers;
    lo = 0;
    hi = a->nelts;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;

        if (a->elts[mid].end < off) {
            lo = mid + 1;

        } else {
            hi = mid;
        }
    }

    return lo < a->nelts ? &a->elts[lo] : NULL;
}


static json_t *
ngx_http_leadlist_body_skeleton(ngx_http_leadlist_parse_t *p)
{
    size_t                            k, off;
    json_t                           *root, *person;
    json_error_t                      err;
    ngx_http_leadlist_body_reader_t   rd;

    rd.data = p->data;
    rd.pos = 0;
    rd.end = p->len;
    rd.blank = p->scan->persons.elts;
    rd.nblank = p->scan->persons.nelts;
    rd.numbers = p->scan->numbers.elts;
    rd.nnumbers = p->scan->numbers.nelts;

    root = ngx_http_leadlist_body_load(&rd,
                                JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);

    if (root) {
        return root;
    }

    /*
     * a parser of the whole body would report the first error: one in a
     * person object before this one comes first; this one's token ends at
     * position - 1, so a person that starts there is never reached
     */

    off = err.position > 0 ? (size_t) err.position - 1 : 0;

    for (k = 0; k < p->scan->persons.nelts; k++) {

        if (p->scan->persons.elts[k].start >= off) {
            break;
        }

        if (ngx_http_leadlist_body_oversized(&p->scan->persons.elts[k])) {
            continue;
        }

        person = ngx_http_leadlist_body_span(p, &p->scan->persons.elts[k]);

        if (person == NULL) {
            return NULL;
        }

        json_decref(person);
    }

    ngx_http_leadlist_body_json_error(p, &err, 0);

    return NULL;
}


static json_t *
ngx_http_leadlist_body_span(ngx_http_leadlist_parse_t *p,
    const ngx_http_leadlist_span_t *sp)
{
    json_t                           *v;
    json_error_t                      err;
    ngx_http_leadlist_body_reader_t   rd;
    const ngx_http_leadlist_span_t   *num;

    rd.data = p->data;
    rd.pos = sp->start;
    rd.end = sp->end + 1;
    rd.blank = NULL;
    rd.nblank = 0;
    rd.numbers = NULL;
    rd.nnumbers = 0;

    num = ngx_http_leadlist_body_number(p, sp->start);

    if (num && num->start < sp->end) {
        rd.numbers = num;
        rd.nnumbers = p->scan->numbers.nelts - (num - p->scan->numbers.elts);
    }

    v = ngx_http_leadlist_body_load(&rd, JSON_REJECT_DUPLICATES, &err);

    if (v == NULL) {
        ngx_http_leadlist_body_json_error(p, &err, sp->start);
    }

    return v;
}


/* person objects the checks did not reach must still be valid JSON */

static void
ngx_http_leadlist_body_rest(ngx_http_leadlist_parse_t *p)
{
    json_t                    *person;
    ngx_http_leadlist_span_t  *sp;

    while (!p->syntax && p->next_span < p->scan->persons.nelts) {
        sp = &p->scan->persons.elts[p->next_span++];

        if (ngx_http_leadlist_body_oversized(sp)) {
            continue;
        }

        person = ngx_http_leadlist_body_span(p, sp);

        if (person) {
            json_decref(person);
        }
    }
}


static int
ngx_http_leadlist_body_oversized(const ngx_http_leadlist_span_t *sp)
{
    return sp->end - sp->start + 1 > NGX_HTTP_LEADLIST_MAX_PERSON_BYTES;
}


/*
 * a JSON error in the body at base + jansson's position: it replaces
 * every other detail, as a parse of the whole body would
 */

static void
ngx_http_leadlist_body_json_error(ngx_http_leadlist_parse_t *p,
    json_error_t *err, size_t base)
{
    char         near[NGX_HTTP_LEADLIST_MESSAGE_LEN];
    char         what[NGX_HTTP_LEADLIST_MESSAGE_LEN + 32];
    char         msg[NGX_HTTP_LEADLIST_MESSAGE_LEN + 64];
    size_t       off;
    const char  *prefix, *text;

    p->body->ndetails = 0;

    /* jansson leaves the text empty when only malloc() failed */

    if (err->text[0] == '\0'
        || json_error_code(err) == json_error_out_of_memory)
    {
        p->body->nomem = 1;
        ngx_http_leadlist_rules_body_error(p, NGX_HTTP_LEADLIST_MSG_NOMEM);
        p->syntax = 1;
        return;
    }

    prefix = NGX_HTTP_LEADLIST_MSG_JSON;
    text = err->text;

    switch (json_error_code(err)) {

    case json_error_invalid_utf8:
        prefix = NGX_HTTP_LEADLIST_MSG_UTF8;
        break;

    /* jansson's own text names its JSON_ALLOW_NUL flag */
    case json_error_null_character:
    case json_error_null_byte_in_key:
        prefix = "";
        text = NGX_HTTP_LEADLIST_MSG_U0000;
        break;

    case json_error_numeric_overflow:
        prefix = "";
        text = NGX_HTTP_LEADLIST_MSG_RANGE;
        break;

    default:
        break;
    }

    /*
     * jansson's position counts the bytes it read, the bad one included
     * but for bytes that are not UTF-8: nothing read is its column 0
     */

    off = base + (err->position > 0 ? (size_t) err->position - 1 : 0);

    text = ngx_http_leadlist_body_near(p, text, off, near);

    snprintf(what, sizeof(what), "%s%s", prefix, text);

    if (base == 0 && err->position <= 0) {
        snprintf(msg, sizeof(msg), NGX_HTTP_LEADLIST_MSG_AT, what,
                 (size_t) 1, (size_t) 0);
        ngx_http_leadlist_rules_body_error(p, msg);

    } else {

        /* the body ended too soon: the path of what it left open */

        if (json_error_code(err) == json_error_premature_end_of_input) {
            off = p->len;
        }

        ngx_http_leadlist_rules_at(p, what, off);
    }

    p->syntax = 1;
}


/*
 * jansson names the token it stopped at: where that is a number's
 * stand-in, the number as sent, as jansson would (up to 20 bytes)
 */

static const char *
ngx_http_leadlist_body_near(ngx_http_leadlist_parse_t *p, const char *text,
    size_t off, char *buf)
{
    size_t                           n, len;
    const ngx_http_leadlist_span_t  *num;

    static const char                suffix[] =
        " near '" NGX_HTTP_LEADLIST_STAND_IN "'";

    num = ngx_http_leadlist_body_number(p, off);
    n = strlen(text);

    if (num == NULL || num->end != off || n < sizeof(suffix) - 1
        || strcmp(text + n - (sizeof(suffix) - 1), suffix) != 0)
    {
        return text;
    }

    n -= sizeof(suffix) - 1;
    len = num->end - num->start + 1;

    if (len > 20) {
        snprintf(buf, NGX_HTTP_LEADLIST_MESSAGE_LEN, "%.*s", (int) n, text);

    } else {
        snprintf(buf, NGX_HTTP_LEADLIST_MESSAGE_LEN, "%.*s near '%.*s'",
                 (int) n, text, (int) len, p->data + num->start);
    }

    return buf;
}
