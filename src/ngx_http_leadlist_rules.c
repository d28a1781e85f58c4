
/*
 * The body validator's rules: the schema checks of SPEC 1.3 on a parsed
 * body, and the details they write.
 */


#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "ngx_http_leadlist_body.h"
#include "ngx_http_leadlist_path.h"
#include "ngx_http_leadlist_rules.h"


/* a path without client text: selection.excludeIds[9999] */
#define NGX_HTTP_LEADLIST_PATH_LEN  128


typedef struct {
    char                              *buf;
    size_t                             size;
    size_t                             len;
    int                                truncated;
} ngx_http_leadlist_rules_str_t;


static size_t ngx_http_leadlist_rules_utf8_len(const unsigned char *s,
    size_t n);
static void ngx_http_leadlist_rules_str_init(ngx_http_leadlist_rules_str_t *s,
    char *buf, size_t size);
static void ngx_http_leadlist_rules_str_append(
    ngx_http_leadlist_rules_str_t *s, const char *src, size_t n);
static void ngx_http_leadlist_rules_str_finish(
    ngx_http_leadlist_rules_str_t *s);
static void ngx_http_leadlist_rules_detail(ngx_http_leadlist_parse_t *p,
    const char *message, const char *path, const char *name, size_t nlen);

static void ngx_http_leadlist_rules_check_persons(
    ngx_http_leadlist_parse_t *p, json_t *persons);
static void ngx_http_leadlist_rules_check_element(
    ngx_http_leadlist_parse_t *p, size_t i, json_t *v);
static void ngx_http_leadlist_rules_check_person(ngx_http_leadlist_parse_t *p,
    size_t i, json_t *person);
static void ngx_http_leadlist_rules_check_text(ngx_http_leadlist_parse_t *p,
    size_t i, const char *name, json_t *v);
static void ngx_http_leadlist_rules_check_departments(
    ngx_http_leadlist_parse_t *p, size_t i, json_t *v);
static const char *ngx_http_leadlist_rules_text_error(json_t *v, char *buf);
static void ngx_http_leadlist_rules_check_selection(
    ngx_http_leadlist_parse_t *p, json_t *sel);
static int ngx_http_leadlist_rules_check_select_all(
    ngx_http_leadlist_parse_t *p, json_t *sel);
static json_t *ngx_http_leadlist_rules_select_all_member(
    ngx_http_leadlist_parse_t *p, json_t *sel, const char *name, int all);
static void ngx_http_leadlist_rules_check_ids(ngx_http_leadlist_parse_t *p,
    const char *path, json_t *v, size_t min, size_t max);
static void ngx_http_leadlist_rules_check_int(ngx_http_leadlist_parse_t *p,
    const char *path, json_t *v, json_int_t min, json_int_t max);
static void ngx_http_leadlist_rules_check_unknown(
    ngx_http_leadlist_parse_t *p, const char *prefix, json_t *obj,
    const char **known);
static int ngx_http_leadlist_rules_known(const char *key, const char **known);
static const char *ngx_http_leadlist_rules_id_error(json_t *v, char *buf);
static size_t ngx_http_leadlist_rules_chars(const char *s, size_t n,
    int *ctrl);


static const char  *ngx_http_leadlist_rules_text_fields[] = {
    "firstName", "lastName", "fullName", "title", "headline", "email",
    "phone", "linkedinUrl", "companyId", "companyName", "companyDomain",
    "industry", "seniority", "city", "state", "country", NULL
};

static const char  *ngx_http_leadlist_rules_top_members[] = {
    "persons", "selection", NULL
};

static const char  *ngx_http_leadlist_rules_selection_members[] = {
    "searchId", "selectAll", "ids", "excludeIds", "offset", "limit", NULL
};


void
ngx_http_leadlist_rules_check(ngx_http_leadlist_parse_t *p, json_t *root)
{
    json_t  *persons, *selection;

    if (!json_is_object(root)) {
        ngx_http_leadlist_rules_body_error(p, NGX_HTTP_LEADLIST_MSG_NOT_OBJECT);
        return;
    }

    persons = json_object_get(root, "persons");
    selection = json_object_get(root, "selection");

    if (persons && selection) {
        ngx_http_leadlist_rules_body_error(p, NGX_HTTP_LEADLIST_MSG_BOTH);

    } else if (persons) {
        p->mode = NGX_HTTP_LEADLIST_MODE_PERSONS;
        ngx_http_leadlist_rules_check_persons(p, persons);

    } else if (selection) {
        p->mode = NGX_HTTP_LEADLIST_MODE_SELECTION;
        ngx_http_leadlist_rules_check_selection(p, selection);

    } else {
        ngx_http_leadlist_rules_body_error(p, NGX_HTTP_LEADLIST_MSG_NEITHER);
    }

    ngx_http_leadlist_rules_check_unknown(p, "", root,
                                        ngx_http_leadlist_rules_top_members);
}


int
ngx_http_leadlist_rules_full(ngx_http_leadlist_parse_t *p)
{
    return p->body->ndetails == NGX_HTTP_LEADLIST_MAX_DETAILS;
}


void
ngx_http_leadlist_rules_error(ngx_http_leadlist_parse_t *p,
    const char *message, const char *fmt, ...)
{
    char     path[NGX_HTTP_LEADLIST_PATH_LEN];
    va_list  args;

    if (ngx_http_leadlist_rules_full(p)) {
        return;
    }

    va_start(args, fmt);
    vsnprintf(path, sizeof(path), fmt, args);
    va_end(args);

    ngx_http_leadlist_rules_detail(p, message, path, NULL, 0);
}


void
ngx_http_leadlist_rules_body_error(ngx_http_leadlist_parse_t *p,
    const char *message)
{
    ngx_http_leadlist_rules_detail(p, message, "", NULL, 0);
}


void
ngx_http_leadlist_rules_at(ngx_http_leadlist_parse_t *p, const char *what,
    size_t off)
{
    char                  msg[NGX_HTTP_LEADLIST_MESSAGE_LEN];
    char                  path[2 * NGX_HTTP_LEADLIST_FIELD_LEN];
    size_t                i, n, line, col;
    const unsigned char  *s;

    s = p->data;
    line = 1;
    col = 0;

    /* the end of the body is at its last byte, for jansson too */

    n = off < p->len ? off : p->len - 1;

    /* columns count characters, as jansson's do */

    for (i = 0; i <= n; i++) {
        if (s[i] == '\n') {
            line++;
            col = 0;

        } else if ((s[i] & 0xc0) != 0x80) {
            col++;
        }
    }

    snprintf(msg, sizeof(msg), NGX_HTTP_LEADLIST_MSG_AT, what, line, col);

    /* longer than a field holds, so that a cut shows as "..." */

    n = ngx_http_leadlist_path(p->data, p->len, off, path, sizeof(path));

    ngx_http_leadlist_rules_detail(p, msg, "", path, n);
}


/* the length of the valid UTF-8 sequence at s, 0 if it is not one */

static size_t
ngx_http_leadlist_rules_utf8_len(const unsigned char *s, size_t n)
{
    size_t         k, i;
    unsigned char  c, lo, hi;

    c = s[0];
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

    if (n < k || s[1] < lo || s[1] > hi) {
        return 0;
    }

    for (i = 2; i < k; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
    }

    return k;
}


static void
ngx_http_leadlist_rules_str_init(ngx_http_leadlist_rules_str_t *s, char *buf,
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
ngx_http_leadlist_rules_str_append(ngx_http_leadlist_rules_str_t *s,
    const char *src, size_t n)
{
    size_t                i, k;
    const unsigned char  *c, *q;

    c = (const unsigned char *) src;

    for (i = 0; i < n && !s->truncated; i += k) {
        k = ngx_http_leadlist_rules_utf8_len(c + i, n - i);
        q = c + i;

        if (k == 0 || (k == 1 && (c[i] < 0x20 || c[i] == 0x7f))) {
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
ngx_http_leadlist_rules_str_finish(ngx_http_leadlist_rules_str_t *s)
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


/* the field is path followed by name, a client-supplied member name */

static void
ngx_http_leadlist_rules_detail(ngx_http_leadlist_parse_t *p,
    const char *message, const char *path, const char *name, size_t nlen)
{
    ngx_http_leadlist_detail_t     *d;
    ngx_http_leadlist_rules_str_t   s;

    /* after a JSON error, the checks still under way report nothing */

    if (ngx_http_leadlist_rules_full(p) || p->syntax) {
        return;
    }

    d = &p->body->details[p->body->ndetails++];

    ngx_http_leadlist_rules_str_init(&s, d->field, sizeof(d->field));
    ngx_http_leadlist_rules_str_append(&s, path, strlen(path));

    if (name) {
        ngx_http_leadlist_rules_str_append(&s, name, nlen);
    }

    ngx_http_leadlist_rules_str_finish(&s);

    ngx_http_leadlist_rules_str_init(&s, d->message, sizeof(d->message));
    ngx_http_leadlist_rules_str_append(&s, message, strlen(message));
    ngx_http_leadlist_rules_str_finish(&s);
}


static void
ngx_http_leadlist_rules_check_persons(ngx_http_leadlist_parse_t *p,
    json_t *persons)
{
    char    msg[NGX_HTTP_LEADLIST_MESSAGE_LEN];
    size_t  i, n, max;

    max = p->limits.max_persons;

    snprintf(msg, sizeof(msg), NGX_HTTP_LEADLIST_MSG_ITEMS, (size_t) 1, max);

    if (!json_is_array(persons)) {
        ngx_http_leadlist_rules_error(p, msg, "persons");
        return;
    }

    n = json_array_size(persons);
    p->body->npersons = n;

    if (n == 0 || n > max) {
        ngx_http_leadlist_rules_error(p, msg, "persons");
    }

    /* on with full details too: the rest must still be valid JSON */

    for (i = 0; i < n && !p->syntax; i++) {
        ngx_http_leadlist_rules_check_element(p, i,
                                              json_array_get(persons, i));
    }
}


static void
ngx_http_leadlist_rules_check_element(ngx_http_leadlist_parse_t *p, size_t i,
    json_t *v)
{
    json_t  *person;

    if (!json_is_object(v)) {
        ngx_http_leadlist_rules_error(p, NGX_HTTP_LEADLIST_MSG_OBJECT,
                                      "persons[%zu]", i);
        return;
    }

    person = ngx_http_leadlist_body_person(p, i, v);

    if (person == NULL) {
        return;
    }

    if (!ngx_http_leadlist_rules_full(p)) {
        ngx_http_leadlist_rules_check_person(p, i, person);
    }

    if (person != v) {
        json_decref(person);
    }
}


static void
ngx_http_leadlist_rules_check_person(ngx_http_leadlist_parse_t *p, size_t i,
    json_t *person)
{
    char          buf[NGX_HTTP_LEADLIST_MESSAGE_LEN];
    json_t       *id;
    const char   *err, **name;

    id = json_object_get(person, "id");
    err = id ? ngx_http_leadlist_rules_id_error(id, buf)
             : NGX_HTTP_LEADLIST_MSG_REQUIRED;

    if (err) {
        ngx_http_leadlist_rules_error(p, err, "persons[%zu].id", i);
    }

    for (name = ngx_http_leadlist_rules_text_fields; *name; name++) {
        ngx_http_leadlist_rules_check_text(p, i, *name,
                                           json_object_get(person, *name));
    }

    ngx_http_leadlist_rules_check_departments(p, i,
                                    json_object_get(person, "departments"));
}


static void
ngx_http_leadlist_rules_check_text(ngx_http_leadlist_parse_t *p, size_t i,
    const char *name, json_t *v)
{
    char         buf[NGX_HTTP_LEADLIST_MESSAGE_LEN];
    const char  *err;

    if (v == NULL || json_is_null(v)) {
        return;
    }

    err = json_is_string(v) ? ngx_http_leadlist_rules_text_error(v, buf)
                            : NGX_HTTP_LEADLIST_MSG_STRING_NULL;

    if (err) {
        ngx_http_leadlist_rules_error(p, err, "persons[%zu].%s", i, name);
    }
}


/*
 * SPEC 1.3 limits departments to 64 items, each a string of any length:
 * its 1,024-character limit applies to the listed text fields only.
 */

static void
ngx_http_leadlist_rules_check_departments(ngx_http_leadlist_parse_t *p,
    size_t i, json_t *v)
{
    char    buf[NGX_HTTP_LEADLIST_MESSAGE_LEN];
    size_t  j, n;

    if (v == NULL || json_is_null(v)) {
        return;
    }

    if (!json_is_array(v)) {
        ngx_http_leadlist_rules_error(p, NGX_HTTP_LEADLIST_MSG_STRINGS_NULL,
                                      "persons[%zu].departments", i);
        return;
    }

    n = json_array_size(v);

    if (n > NGX_HTTP_LEADLIST_MAX_DEPARTMENTS) {
        snprintf(buf, sizeof(buf), NGX_HTTP_LEADLIST_MSG_MAX_ITEMS,
                 NGX_HTTP_LEADLIST_MAX_DEPARTMENTS);
        ngx_http_leadlist_rules_error(p, buf, "persons[%zu].departments", i);
    }

    for (j = 0; j < n && !ngx_http_leadlist_rules_full(p); j++) {
        if (!json_is_string(json_array_get(v, j))) {
            ngx_http_leadlist_rules_error(p, NGX_HTTP_LEADLIST_MSG_STRING,
                                          "persons[%zu].departments[%zu]",
                                          i, j);
        }
    }
}


/* NULL for a text field of valid length, else the message, in buf */

static const char *
ngx_http_leadlist_rules_text_error(json_t *v, char *buf)
{
    size_t  n;

    n = ngx_http_leadlist_rules_chars(json_string_value(v),
                                      json_string_length(v), NULL);

    if (n <= NGX_HTTP_LEADLIST_MAX_FIELD_CHARS) {
        return NULL;
    }

    snprintf(buf, NGX_HTTP_LEADLIST_MESSAGE_LEN,
             NGX_HTTP_LEADLIST_MSG_MAX_CHARS,
             NGX_HTTP_LEADLIST_MAX_FIELD_CHARS);

    return buf;
}


static void
ngx_http_leadlist_rules_check_selection(ngx_http_leadlist_parse_t *p,
    json_t *sel)
{
    int          all;
    json_t      *v;
    const char  *err;

    if (!json_is_object(sel)) {
        ngx_http_leadlist_rules_error(p, NGX_HTTP_LEADLIST_MSG_OBJECT,
                                      "selection");
        return;
    }

    /*
     * any string: one that names no search of the caller's organization
     * (empty, long, odd) is the database's 400, after the list's checks
     * (SPEC 1.4), and is recorded under an Idempotency-Key like any other
     */

    v = json_object_get(sel, "searchId");
    err = v == NULL ? NGX_HTTP_LEADLIST_MSG_REQUIRED
          : json_is_string(v) ? NULL : NGX_HTTP_LEADLIST_MSG_STRING;

    if (err) {
        ngx_http_leadlist_rules_error(p, err, "selection.searchId");
    }

    all = ngx_http_leadlist_rules_check_select_all(p, sel);

    v = json_object_get(sel, "ids");

    if (v == NULL) {
        if (all == 0) {
            ngx_http_leadlist_rules_error(p, NGX_HTTP_LEADLIST_MSG_REQUIRED,
                                          "selection.ids");
        }

    } else if (all == 1) {
        ngx_http_leadlist_rules_error(p, NGX_HTTP_LEADLIST_MSG_NOT_WITH_ALL,
                                      "selection.ids");

    } else {
        ngx_http_leadlist_rules_check_ids(p, "selection.ids", v, 1,
                                          p->limits.max_selection);
    }

    v = ngx_http_leadlist_rules_select_all_member(p, sel, "excludeIds", all);
    if (v) {
        ngx_http_leadlist_rules_check_ids(p, "selection.excludeIds", v, 0,
                                          NGX_HTTP_LEADLIST_MAX_EXCLUDE);
    }

    v = ngx_http_leadlist_rules_select_all_member(p, sel, "offset", all);
    if (v) {
        ngx_http_leadlist_rules_check_int(p, "selection.offset", v, 0,
                                          NGX_HTTP_LEADLIST_MAX_OFFSET);
    }

    v = ngx_http_leadlist_rules_select_all_member(p, sel, "limit", all);
    if (v) {
        ngx_http_leadlist_rules_check_int(p, "selection.limit", v, 1,
                                    (json_int_t) p->limits.max_selection);
    }

    ngx_http_leadlist_rules_check_unknown(p, "selection.", sel,
                                  ngx_http_leadlist_rules_selection_members);
}


/* 0: false or absent, 1: true, -1: not a boolean, so the mode is unknown */

static int
ngx_http_leadlist_rules_check_select_all(ngx_http_leadlist_parse_t *p,
    json_t *sel)
{
    json_t  *v;

    v = json_object_get(sel, "selectAll");

    if (v == NULL) {
        return 0;
    }

    if (!json_is_boolean(v)) {
        ngx_http_leadlist_rules_error(p, NGX_HTTP_LEADLIST_MSG_BOOLEAN,
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
ngx_http_leadlist_rules_select_all_member(ngx_http_leadlist_parse_t *p,
    json_t *sel, const char *name, int all)
{
    json_t  *v;

    v = json_object_get(sel, name);

    if (v && all == 0) {
        ngx_http_leadlist_rules_error(p, NGX_HTTP_LEADLIST_MSG_ONLY_WITH_ALL,
                                      "selection.%s", name);
        return NULL;
    }

    return v;
}


static void
ngx_http_leadlist_rules_check_ids(ngx_http_leadlist_parse_t *p,
    const char *path, json_t *v, size_t min, size_t max)
{
    char    msg[NGX_HTTP_LEADLIST_MESSAGE_LEN];
    size_t  j, n;

    if (min) {
        snprintf(msg, sizeof(msg), NGX_HTTP_LEADLIST_MSG_ITEMS, min, max);

    } else {
        snprintf(msg, sizeof(msg), NGX_HTTP_LEADLIST_MSG_AT_MOST_ITEMS, max);
    }

    if (!json_is_array(v)) {
        ngx_http_leadlist_rules_error(p, msg, "%s", path);
        return;
    }

    n = json_array_size(v);

    if (n < min || n > max) {
        ngx_http_leadlist_rules_error(p, msg, "%s", path);
    }

    /*
     * ids are only looked up, never stored: any string is an id, which
     * the search matches or not ("", a control character: not)
     */

    for (j = 0; j < n && !ngx_http_leadlist_rules_full(p); j++) {
        if (!json_is_string(json_array_get(v, j))) {
            ngx_http_leadlist_rules_error(p, NGX_HTTP_LEADLIST_MSG_STRING,
                                          "%s[%zu]", path, j);
        }
    }
}


static void
ngx_http_leadlist_rules_check_int(ngx_http_leadlist_parse_t *p,
    const char *path, json_t *v, json_int_t min, json_int_t max)
{
    char        msg[NGX_HTTP_LEADLIST_MESSAGE_LEN];
    json_int_t  n;

    if (json_is_integer(v)) {
        n = json_integer_value(v);

        if (n >= min && n <= max) {
            return;
        }
    }

    snprintf(msg, sizeof(msg), NGX_HTTP_LEADLIST_MSG_INTEGER,
             (long long) min, (long long) max);

    ngx_http_leadlist_rules_error(p, msg, "%s", path);
}


static void
ngx_http_leadlist_rules_check_unknown(ngx_http_leadlist_parse_t *p,
    const char *prefix, json_t *obj, const char **known)
{
    void        *it;
    const char  *key;

    /* jansson iterates in insertion order: details follow the body */

    for (it = json_object_iter(obj);
         it && !ngx_http_leadlist_rules_full(p);
         it = json_object_iter_next(obj, it))
    {
        key = json_object_iter_key(it);

        if (!ngx_http_leadlist_rules_known(key, known)) {
            ngx_http_leadlist_rules_detail(p, NGX_HTTP_LEADLIST_MSG_UNKNOWN,
                                           prefix, key,
                                           json_object_iter_key_len(it));
        }
    }
}


static int
ngx_http_leadlist_rules_known(const char *key, const char **known)
{
    for ( /* void */ ; *known; known++) {
        if (strcmp(key, *known) == 0) {
            return 1;
        }
    }

    return 0;
}


/*
 * NULL for a valid person id, else the message (maybe in buf): the id is
 * stored, as the key of the organization's copy and of the list's row
 */

static const char *
ngx_http_leadlist_rules_id_error(json_t *v, char *buf)
{
    int     ctrl;
    size_t  n;

    if (!json_is_string(v)) {
        return NGX_HTTP_LEADLIST_MSG_STRING;
    }

    ctrl = 0;
    n = ngx_http_leadlist_rules_chars(json_string_value(v),
                                      json_string_length(v), &ctrl);

    if (n < NGX_HTTP_LEADLIST_MIN_ID_CHARS
        || n > NGX_HTTP_LEADLIST_MAX_ID_CHARS)
    {
        snprintf(buf, NGX_HTTP_LEADLIST_MESSAGE_LEN,
                 NGX_HTTP_LEADLIST_MSG_ID_CHARS,
                 NGX_HTTP_LEADLIST_MIN_ID_CHARS,
                 NGX_HTTP_LEADLIST_MAX_ID_CHARS);
        return buf;
    }

    if (ctrl) {
        return NGX_HTTP_LEADLIST_MSG_CONTROL;
    }

    return NULL;
}


/*
 * counts code points of a string jansson has checked to be UTF-8; sets
 * *ctrl on U+0000-U+001F or U+007F-U+009F (the latter is C2 80..C2 9F)
 */

static size_t
ngx_http_leadlist_rules_chars(const char *s, size_t n, int *ctrl)
{
    size_t                i, count;
    const unsigned char  *c;

    c = (const unsigned char *) s;
    count = 0;

    for (i = 0; i < n; i++) {

        if ((c[i] & 0xc0) == 0x80) {
            continue;
        }

        count++;

        if (ctrl && (c[i] < 0x20 || c[i] == 0x7f
                     || (c[i] == 0xc2 && i + 1 < n && c[i + 1] <= 0x9f)))
        {
            *ctrl = 1;
        }
    }

    return count;
}
