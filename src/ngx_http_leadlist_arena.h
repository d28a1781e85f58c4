
/*
 * The body validator's jansson allocator: an arena for whole-body parses.
 */


#ifndef _NGX_HTTP_LEADLIST_ARENA_H_INCLUDED_
#define _NGX_HTTP_LEADLIST_ARENA_H_INCLUDED_


/* jansson trees made from now on come from the arena */
void ngx_http_leadlist_arena_begin(void);

/* back to malloc(); the arena is emptied but for its first chunk */
void ngx_http_leadlist_arena_end(void);

/* frees the first chunk too (worker exit, tests) */
void ngx_http_leadlist_arena_free(void);


#endif /* _NGX_HTTP_LEADLIST_ARENA_H_INCLUDED_ */
