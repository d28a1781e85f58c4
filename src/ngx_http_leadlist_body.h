
/*
 * The request-body validator's public API: plain C99 over jansson, with no
 * nginx types, so that it can be unit-tested and fuzzed on its own.
 */


#ifndef _NGX_HTTP_LEADLIST_BODY_H_INCLUDED_
#define _NGX_HTTP_LEADLIST_BODY_H_INCLUDED_


#include <stddef.h>


#define NGX_HTTP_LEADLIST_MAX_DETAILS        100
#define NGX_HTTP_LEADLIST_FIELD_LEN          256  /* incl. NUL, "..." cut */
#define NGX_HTTP_LEADLIST_MESSAGE_LEN        256  /* incl. NUL, "..." cut */

/* the fixed limits of section 1.3; the two others are directives */
#define NGX_HTTP_LEADLIST_DEFAULT_MAX        1000
#define NGX_HTTP_LEADLIST_MAX_DEPTH          32
#define NGX_HTTP_LEADLIST_MAX_PERSON_BYTES   65536
#define NGX_HTTP_LEADLIST_MIN_ID_CHARS       1
#define NGX_HTTP_LEADLIST_MAX_ID_CHARS       128
#define NGX_HTTP_LEADLIST_MAX_FIELD_CHARS    1024
#define NGX_HTTP_LEADLIST_MAX_DEPARTMENTS    64
#define NGX_HTTP_LEADLIST_MAX_EXCLUDE        10000

/*
 * SPEC's offset has no upper bound; this is the largest integer the
 * scanner lets jansson hold as one (18 digits), well within bigint
 */
#define NGX_HTTP_LEADLIST_MAX_OFFSET         999999999999999999LL


typedef enum {
    NGX_HTTP_LEADLIST_MODE_NONE = 0,
    NGX_HTTP_LEADLIST_MODE_PERSONS,
    NGX_HTTP_LEADLIST_MODE_SELECTION
} ngx_http_leadlist_mode_e;


typedef struct {
    /* JSON path: persons[3].email, selection.ids[2], "" for the body */
    char                        field[NGX_HTTP_LEADLIST_FIELD_LEN];
    char                        message[NGX_HTTP_LEADLIST_MESSAGE_LEN];
} ngx_http_leadlist_detail_t;


typedef struct {
    size_t                      max_persons;    /* default 1000 */
    size_t                      max_selection;  /* ids count and limit */
} ngx_http_leadlist_limits_t;


typedef struct {
    ngx_http_leadlist_mode_e    mode;       /* set when valid */
    size_t                      npersons;   /* persons in body, with dups */
    int                         nomem;      /* -1 came from malloc: 500 */
    size_t                      ndetails;
    ngx_http_leadlist_detail_t  details[NGX_HTTP_LEADLIST_MAX_DETAILS];
} ngx_http_leadlist_body_t;


/*
 * Bodies up to this many bytes are parsed whole; larger ones person by
 * person, so that jansson never holds more than one person's tree.  Both
 * paths give the same answer: the fuzzer sets this to 0 for a second run
 * of each input and compares.  Nothing else changes it.
 */
extern size_t  ngx_http_leadlist_whole_max;


/*
 * 0: valid; -1: invalid, details filled (ndetails >= 1); body->nomem is
 * set when the cause is memory exhaustion rather than the body (answer
 * 500, not 400).  limits may be NULL (defaults).  Never allocates memory
 * that outlives the call: jansson trees are freed inside.  Every field
 * and message is NUL-terminated valid UTF-8 without C0 controls or DEL.
 */
int ngx_http_leadlist_body_validate(const unsigned char *data, size_t len,
    const ngx_http_leadlist_limits_t *limits, ngx_http_leadlist_body_t *body);

/* frees what validation keeps between calls (a chunk of its arena) */
void ngx_http_leadlist_body_cleanup(void);


#endif /* _NGX_HTTP_LEADLIST_BODY_H_INCLUDED_ */
