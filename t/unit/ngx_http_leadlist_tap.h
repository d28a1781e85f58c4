
/*
 * The TAP harness the unit tests in t/unit share: one numbered "ok" or
 * "not ok" line a check, and at the end the plan, a summary line and the
 * exit status (non-zero on any failure).  Included by one test program
 * each, so its functions and counters are static: every program has its
 * own.
 */


#ifndef _NGX_HTTP_LEADLIST_TAP_H_INCLUDED_
#define _NGX_HTTP_LEADLIST_TAP_H_INCLUDED_


#include <stdarg.h>
#include <stdio.h>


static int   ngx_http_leadlist_tests;
static int   ngx_http_leadlist_failed;

/* what a program prints after a failed check, to explain it (or NULL) */
static void (*ngx_http_leadlist_on_failure)(void);


static void
ngx_http_leadlist_ok(int cond, const char *name, ...)
{
    va_list  args;

    ngx_http_leadlist_tests++;

    if (!cond) {
        ngx_http_leadlist_failed++;
    }

    printf("%sok %d - ", cond ? "" : "not ", ngx_http_leadlist_tests);

    va_start(args, name);
    vprintf(name, args);
    va_end(args);

    printf("\n");

    if (!cond && ngx_http_leadlist_on_failure != NULL) {
        ngx_http_leadlist_on_failure();
    }
}


/* the plan and the summary; what main() returns */

static int
ngx_http_leadlist_done(const char *program)
{
    printf("1..%d\n", ngx_http_leadlist_tests);
    printf("%s: %d passed, %d failed\n", program,
           ngx_http_leadlist_tests - ngx_http_leadlist_failed,
           ngx_http_leadlist_failed);

    return ngx_http_leadlist_failed ? 1 : 0;
}


#endif /* _NGX_HTTP_LEADLIST_TAP_H_INCLUDED_ */
