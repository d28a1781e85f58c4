
/*
 * bench/validator.sh: the body validator alone, microseconds per body.
 *
 *   validator_bench PERSONS ITERATIONS
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ngx_http_leadlist_body.h"


#define NGX_HTTP_LEADLIST_BENCH_SIZE  (1 << 22)


static size_t ngx_http_leadlist_bench_body(char *buf, int persons);
static double ngx_http_leadlist_bench_now(void);


static char                      ngx_http_leadlist_bench_buf[
                                     NGX_HTTP_LEADLIST_BENCH_SIZE];
static ngx_http_leadlist_body_t  ngx_http_leadlist_bench_result;


int
main(int argc, char **argv)
{
    int     persons, iterations, k;
    size_t  n;
    double  t;

    if (argc != 3) {
        fprintf(stderr, "usage: %s PERSONS ITERATIONS\n", argv[0]);
        return 2;
    }

    persons = atoi(argv[1]);
    iterations = atoi(argv[2]);

    if (persons < 1 || persons > 1000 || iterations < 1) {
        fprintf(stderr, "%s: 1 to 1000 persons, 1 or more iterations\n",
                argv[0]);
        return 2;
    }

    n = ngx_http_leadlist_bench_body(ngx_http_leadlist_bench_buf, persons);

    t = ngx_http_leadlist_bench_now();

    for (k = 0; k < iterations; k++) {
        if (ngx_http_leadlist_body_validate(
                (const unsigned char *) ngx_http_leadlist_bench_buf, n, NULL,
                &ngx_http_leadlist_bench_result)
            != 0)
        {
            printf("invalid %s\n",
                   ngx_http_leadlist_bench_result.details[0].message);
            return 1;
        }
    }

    t = ngx_http_leadlist_bench_now() - t;

    printf("%d persons, %zu bytes: %.1f us per body\n", persons, n,
           t / iterations * 1e6);

    ngx_http_leadlist_body_cleanup();

    return 0;
}


/* {"persons":[...]} of full profiles, as a search result shows them */

static size_t
ngx_http_leadlist_bench_body(char *buf, int persons)
{
    int     i;
    size_t  n;

    n = (size_t) sprintf(buf, "{\"persons\":[");

    for (i = 0; i < persons; i++) {
        n += (size_t) sprintf(buf + n,
            "%s{\"id\":\"p-%06d\",\"firstName\":\"Ada\","
            "\"lastName\":\"Lovelace\",\"fullName\":\"Ada Lovelace\","
            "\"title\":\"Chief Technology Officer\","
            "\"headline\":\"Builds analytical engines at scale\","
            "\"email\":\"ada%d@example.com\",\"phone\":\"+44 20 7946 0958\","
            "\"linkedinUrl\":\"https://www.linkedin.com/in/ada-%d\","
            "\"companyId\":\"c-1234\","
            "\"companyName\":\"Analytical Engines Ltd\","
            "\"companyDomain\":\"engines.example\","
            "\"industry\":\"Computer Software\",\"seniority\":\"C-Level\","
            "\"departments\":[\"Engineering\",\"Research\"],"
            "\"city\":\"London\",\"state\":\"England\","
            "\"country\":\"United Kingdom\"}",
            i ? "," : "", i, i, i);
    }

    n += (size_t) sprintf(buf + n, "]}");

    return n;
}


static double
ngx_http_leadlist_bench_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec + ts.tv_nsec / 1e9;
}
