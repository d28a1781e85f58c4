
/*
 * The body validator's jansson allocator: an arena for whole-body parses.
 *
 * jansson allocates every value, member name and string of a tree on its
 * own and frees them one by one: thousands of malloc() and free() calls
 * for a body of 100 persons, a fifth of the worker's CPU for such a body
 * (bench/profile.sh).  While a body is parsed whole, its tree comes from
 * an arena instead: allocating is a pointer bump, freeing does nothing,
 * and the arena is emptied at once when the tree is gone.  A tree parsed
 * whole is at most about 40 times ngx_http_leadlist_whole_max, so the
 * arena is bounded; the per-person path, whose point is to hold one
 * person's tree at a time, keeps malloc().  So does everything outside
 * that window, and free() of memory that is not the arena's: jansson's
 * allocator is the process's.  Address-sanitizer builds keep malloc(), so
 * that they see every allocation on its own.
 */


#include <stdlib.h>

#include <jansson.h>

#include "ngx_http_leadlist_arena.h"


/* the first chunk, kept between bodies; later ones double */
#define NGX_HTTP_LEADLIST_ARENA_CHUNK  65536

#define ngx_http_leadlist_arena_align(n)  (((n) + 15) & ~(size_t) 15)

/* where a chunk's allocations start: after its header, aligned */
#define NGX_HTTP_LEADLIST_ARENA_HEAD                                          \
    ngx_http_leadlist_arena_align(sizeof(ngx_http_leadlist_arena_chunk_t))

/* -DNGX_HTTP_LEADLIST_ARENA=0 or 1 overrides the choice below */

#ifndef NGX_HTTP_LEADLIST_ARENA
#if defined(__SANITIZE_ADDRESS__)
#define NGX_HTTP_LEADLIST_ARENA        0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define NGX_HTTP_LEADLIST_ARENA        0
#endif
#endif
#endif

#ifndef NGX_HTTP_LEADLIST_ARENA
#define NGX_HTTP_LEADLIST_ARENA        1
#endif


typedef struct ngx_http_leadlist_arena_chunk_s
    ngx_http_leadlist_arena_chunk_t;

struct ngx_http_leadlist_arena_chunk_s {
    ngx_http_leadlist_arena_chunk_t   *next;        /* older */
    char                              *last;
    char                              *end;
};


static void *ngx_http_leadlist_arena_json_alloc(size_t size);
static void ngx_http_leadlist_arena_json_free(void *p);


static ngx_http_leadlist_arena_chunk_t  *ngx_http_leadlist_arena_chunks;
static int                               ngx_http_leadlist_arena_on;


void
ngx_http_leadlist_arena_begin(void)
{
    static int  installed;

    if (!NGX_HTTP_LEADLIST_ARENA) {
        return;
    }

    if (!installed) {
        json_set_alloc_funcs(ngx_http_leadlist_arena_json_alloc,
                             ngx_http_leadlist_arena_json_free);
        installed = 1;
    }

    ngx_http_leadlist_arena_on = 1;
}


/* everything but the first chunk goes; the first is kept for the next */

void
ngx_http_leadlist_arena_end(void)
{
    ngx_http_leadlist_arena_chunk_t  *c;

    ngx_http_leadlist_arena_on = 0;

    while ((c = ngx_http_leadlist_arena_chunks) && c->next) {
        ngx_http_leadlist_arena_chunks = c->next;
        free(c);
    }

    if (c) {
        c->last = (char *) c + NGX_HTTP_LEADLIST_ARENA_HEAD;
    }
}


void
ngx_http_leadlist_arena_free(void)
{
    free(ngx_http_leadlist_arena_chunks);
    ngx_http_leadlist_arena_chunks = NULL;
}


static void *
ngx_http_leadlist_arena_json_alloc(size_t size)
{
    size_t                            n;
    ngx_http_leadlist_arena_chunk_t  *c;

    if (!ngx_http_leadlist_arena_on) {
        return malloc(size);
    }

    size = ngx_http_leadlist_arena_align(size);
    c = ngx_http_leadlist_arena_chunks;

    if (c == NULL || (size_t) (c->end - c->last) < size) {
        n = c ? 2 * (size_t) (c->end - (char *) c)
              : NGX_HTTP_LEADLIST_ARENA_CHUNK;

        while (n - NGX_HTTP_LEADLIST_ARENA_HEAD < size) {
            n *= 2;
        }

        c = malloc(n);
        if (c == NULL) {
            return NULL;
        }

        c->next = ngx_http_leadlist_arena_chunks;
        c->last = (char *) c + NGX_HTTP_LEADLIST_ARENA_HEAD;
        c->end = (char *) c + n;
        ngx_http_leadlist_arena_chunks = c;
    }

    c->last += size;

    return c->last - size;
}


static void
ngx_http_leadlist_arena_json_free(void *p)
{
    ngx_http_leadlist_arena_chunk_t  *c;

    if (ngx_http_leadlist_arena_on) {
        for (c = ngx_http_leadlist_arena_chunks; c; c = c->next) {
            if ((char *) p >= (char *) c && (char *) p < c->end) {
                return;
            }
        }
    }

    free(p);
}
