
/*
 * bench/pipeline.sh: the module's statement, with the module's parameters,
 * from one client process over CONNS connections, each with DEPTH
 * statements in flight in libpq's pipeline mode.  Every statement is
 * followed by its own Sync, so that each is its own transaction, as a
 * request's is.  DEPTH 1 sends the next statement only when the last one's
 * answer is in, which is what pgbench and the module do.
 *
 *   pipeline_bench CONNINFO CONNS DEPTH SECONDS BODY KIND ORGS LISTS
 *
 * BODY is the request body with "@ID@" where a person's id goes: with KIND
 * 1 a new id each time (bench/pgbench/new.sql), with another KIND the id
 * the fixtures put in that list ("x-<list>-1", bench/pgbench/dup.sql).
 * It prints one line: statements, per second, latency percentiles in
 * microseconds (from the send to the statement's Sync), failures.
 *
 * A bench tool, not the module: it connects and prepares with blocking
 * calls before the clock starts.
 */


#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>


#define BENCH_MAX_CONNS    64
#define BENCH_MAX_DEPTH    64
#define BENCH_MAX_BODY     65535
#define BENCH_ID           "@ID@"
#define BENCH_ID_LEN       (sizeof(BENCH_ID) - 1)


typedef struct {
    PGconn    *pg;
    uint64_t   sent[BENCH_MAX_DEPTH];   /* ring of send times, us */
    int        head;
    int        inflight;
} bench_conn_t;


static int bench_send(bench_conn_t *bc);
static int bench_read(bench_conn_t *bc, int more);
static char *bench_body(const char *list);
static uint64_t bench_now(void);
static int bench_cmp(const void *a, const void *b);
static uint64_t bench_at(double q);


static const char  *bench_sql =
    "SELECT outcome, added_count, selected_count, response, replayed"
    " FROM leadlist.add_prospects($1::text, 'u-bench', false, $2::text,"
    " $3::jsonb, 1000, 0, NULL::text, 86400)";

static const char  *bench_template;
static int          bench_kind, bench_orgs, bench_lists, bench_depth;
static uint64_t     bench_seq;
static uint64_t    *bench_lat;
static size_t       bench_nlat, bench_cap;
static uint64_t     bench_failed;


int
main(int argc, char **argv)
{
    int            i, n, more;
    size_t         len;
    FILE          *f;
    char          *body;
    double         secs;
    uint64_t       start, end;
    PGresult      *res;
    struct pollfd  pfd[BENCH_MAX_CONNS];
    bench_conn_t   conns[BENCH_MAX_CONNS];

    if (argc != 9) {
        fprintf(stderr, "usage: pipeline_bench CONNINFO CONNS DEPTH SECONDS"
                        " BODY KIND ORGS LISTS\n");
        return 2;
    }

    n = atoi(argv[2]);
    bench_depth = atoi(argv[3]);
    secs = atof(argv[4]);
    bench_kind = atoi(argv[6]);
    bench_orgs = atoi(argv[7]);
    bench_lists = atoi(argv[8]);

    if (n < 1 || n > BENCH_MAX_CONNS
        || bench_depth < 1 || bench_depth > BENCH_MAX_DEPTH
        || secs <= 0 || bench_orgs < 1 || bench_lists < 1)
    {
        fprintf(stderr, "pipeline_bench: bad arguments\n");
        return 2;
    }

    f = fopen(argv[5], "r");
    if (f == NULL) {
        perror(argv[5]);
        return 2;
    }

    body = malloc(BENCH_MAX_BODY + 1);
    if (body == NULL) {
        fclose(f);
        return 1;
    }

    len = fread(body, 1, BENCH_MAX_BODY + 1, f);
    fclose(f);

    /* a longer body would be sent cut short */

    if (len == 0 || len > BENCH_MAX_BODY) {
        fprintf(stderr, "pipeline_bench: %s is empty or over %d bytes\n",
                argv[5], BENCH_MAX_BODY);
        return 2;
    }

    while (len && body[len - 1] == '\n') {
        len--;
    }

    body[len] = '\0';
    bench_template = body;

    for (i = 0; i < n; i++) {
        memset(&conns[i], 0, sizeof(bench_conn_t));

        conns[i].pg = PQconnectdb(argv[1]);
        if (PQstatus(conns[i].pg) != CONNECTION_OK) {
            fprintf(stderr, "%s", PQerrorMessage(conns[i].pg));
            return 1;
        }

        res = PQprepare(conns[i].pg, "s", bench_sql, 3, NULL);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            fprintf(stderr, "%s", PQerrorMessage(conns[i].pg));
            return 1;
        }

        PQclear(res);

        if (PQsetnonblocking(conns[i].pg, 1) != 0
            || !PQenterPipelineMode(conns[i].pg))
        {
            fprintf(stderr, "%s", PQerrorMessage(conns[i].pg));
            return 1;
        }
    }

    srand((unsigned) getpid());

    start = bench_now();
    end = start + (uint64_t) (secs * 1e6);

    for (i = 0; i < n; i++) {
        while (conns[i].inflight < bench_depth) {
            if (bench_send(&conns[i]) != 0) {
                return 1;
            }
        }
    }

    for ( ;; ) {
        more = bench_now() < end;

        if (!more) {
            for (i = 0; i < n && conns[i].inflight == 0; i++) { /* void */ }

            if (i == n) {
                break;
            }
        }

        for (i = 0; i < n; i++) {
            pfd[i].fd = PQsocket(conns[i].pg);
            pfd[i].events = POLLIN;
            pfd[i].revents = 0;

            if (PQflush(conns[i].pg) == 1) {
                pfd[i].events |= POLLOUT;
            }
        }

        if (poll(pfd, n, 100) < 0) {
            perror("poll");
            return 1;
        }

        for (i = 0; i < n; i++) {
            if (pfd[i].revents && bench_read(&conns[i], more) != 0) {
                return 1;
            }
        }
    }

    end = bench_now();

    qsort(bench_lat, bench_nlat, sizeof(uint64_t), bench_cmp);

    printf("statements=%zu tps=%.1f p50_us=%llu p90_us=%llu p99_us=%llu"
           " max_us=%llu failed=%llu\n",
           bench_nlat, bench_nlat / ((end - start) / 1e6),
           (unsigned long long) bench_at(0.50),
           (unsigned long long) bench_at(0.90),
           (unsigned long long) bench_at(0.99),
           (unsigned long long) bench_at(1.0),
           (unsigned long long) bench_failed);

    for (i = 0; i < n; i++) {
        PQfinish(conns[i].pg);
    }

    return 0;
}


static int
bench_send(bench_conn_t *bc)
{
    int          org, j, slot;
    char         o[32], list[32], *body;
    const char  *values[3];

    org = rand() % bench_orgs + 1;
    j = rand() % bench_lists;

    snprintf(o, sizeof(o), "%d", org);
    snprintf(list, sizeof(list), "%ld",
             (long) org * 1000000 + (long) bench_kind * 100000 + j);

    body = bench_body(list);
    if (body == NULL) {
        return -1;
    }

    values[0] = o;
    values[1] = list;
    values[2] = body;

    if (!PQsendQueryPrepared(bc->pg, "s", 3, values, NULL, NULL, 0)
        || !PQpipelineSync(bc->pg))
    {
        fprintf(stderr, "%s", PQerrorMessage(bc->pg));
        free(body);
        return -1;
    }

    free(body);

    slot = (bc->head + bc->inflight) % BENCH_MAX_DEPTH;
    bc->sent[slot] = bench_now();
    bc->inflight++;

    return 0;
}


/* everything the socket holds; a statement's Sync ends it */

static int
bench_read(bench_conn_t *bc, int more)
{
    PGresult        *res;
    ExecStatusType   st;

    if (!PQconsumeInput(bc->pg)) {
        fprintf(stderr, "%s", PQerrorMessage(bc->pg));
        return -1;
    }

    while (bc->inflight && !PQisBusy(bc->pg)) {
        res = PQgetResult(bc->pg);

        if (res == NULL) {
            /* the end of one statement's results, its Sync comes next */
            continue;
        }

        st = PQresultStatus(res);
        PQclear(res);

        if (st == PGRES_FATAL_ERROR || st == PGRES_PIPELINE_ABORTED) {
            bench_failed++;
            continue;
        }

        if (st != PGRES_PIPELINE_SYNC) {
            continue;
        }

        if (bench_nlat == bench_cap) {
            bench_cap = bench_cap ? bench_cap * 2 : 65536;
            bench_lat = realloc(bench_lat, bench_cap * sizeof(uint64_t));
            if (bench_lat == NULL) {
                return -1;
            }
        }

        bench_lat[bench_nlat++] = bench_now() - bc->sent[bc->head];
        bc->head = (bc->head + 1) % BENCH_MAX_DEPTH;
        bc->inflight--;

        if (more && bench_send(bc) != 0) {
            return -1;
        }
    }

    return 0;
}


/* the template with each "@ID@" put in */

static char *
bench_body(const char *list)
{
    char        id[64], *body, *p;
    size_t      idlen, n;
    const char  *t, *hit;

    if (bench_kind == 1) {
        /* this run's ids are new to the catalogue and to earlier runs */
        snprintf(id, sizeof(id), "pl-%llx-%d-%llu",
                 (unsigned long long) time(NULL), (int) getpid(),
                 (unsigned long long) bench_seq++);

    } else {
        snprintf(id, sizeof(id), "x-%s-1", list);
    }

    idlen = strlen(id);

    n = 1;
    for (t = bench_template; (hit = strstr(t, BENCH_ID)) != NULL; t = hit + 1) {
        n++;
    }

    body = malloc(strlen(bench_template) + n * idlen + 1);
    if (body == NULL) {
        return NULL;
    }

    p = body;

    for (t = bench_template;
         (hit = strstr(t, BENCH_ID)) != NULL;
         t = hit + BENCH_ID_LEN)
    {
        memcpy(p, t, hit - t);
        p += hit - t;
        memcpy(p, id, idlen);
        p += idlen;
    }

    strcpy(p, t);

    return body;
}


static uint64_t
bench_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}


static int
bench_cmp(const void *a, const void *b)
{
    uint64_t  x, y;

    x = *(const uint64_t *) a;
    y = *(const uint64_t *) b;

    return (x > y) - (x < y);
}


static uint64_t
bench_at(double q)
{
    size_t  k;

    if (bench_nlat == 0) {
        return 0;
    }

    k = (size_t) (bench_nlat * q + 0.5);
    k = k < 1 ? 1 : (k > bench_nlat ? bench_nlat : k);

    return bench_lat[k - 1];
}
