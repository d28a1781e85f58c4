
/*
 * Replays every file of a directory (fuzz/corpus) through the fuzz
 * target's checks, without libFuzzer, so that "make test" catches a
 * regression on any input the fuzzer once found interesting.  A crash,
 * a sanitizer report or a broken invariant ends it non-zero.
 *
 *   cc -std=gnu99 -Wall -Wextra -Werror -O1 -g
 *      -fsanitize=address,undefined -fno-omit-frame-pointer -Isrc
 *      t/unit/replay_corpus.c $(VALIDATOR) -ljansson
 *   build/unit/replay_corpus fuzz/corpus
 *
 * REPLAY_VERBOSE=1 names each file before replaying it, to find the one
 * a sanitizer stopped on.
 */


#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the fuzz target itself: the same checks on the same inputs */
#include "../../fuzz/fuzz_body.c"


static int ngx_http_leadlist_replay_file(const char *path, int verbose);
static int ngx_http_leadlist_replay_cmp(const void *a, const void *b);


int
main(int argc, char **argv)
{
    int             verbose;
    char            path[4096];
    char          **names;
    size_t          n, i, size, passed, failed;
    DIR            *dir;
    struct dirent  *de;

    if (argc != 2) {
        fprintf(stderr, "usage: %s DIRECTORY\n", argv[0]);
        return 2;
    }

    dir = opendir(argv[1]);

    if (dir == NULL) {
        perror(argv[1]);
        return 2;
    }

    verbose = getenv("REPLAY_VERBOSE") != NULL;
    names = NULL;
    n = 0;
    size = 0;

    while ((de = readdir(dir)) != NULL) {
        if (de->d_name[0] == '.') {
            continue;
        }

        if (n == size) {
            size = size ? size * 2 : 64;
            names = realloc(names, size * sizeof(char *));

            if (names == NULL) {
                abort();
            }
        }

        names[n] = strdup(de->d_name);

        if (names[n++] == NULL) {
            abort();
        }
    }

    closedir(dir);

    /* a stable order, so that a failure is reproducible */

    if (n) {
        qsort(names, n, sizeof(char *), ngx_http_leadlist_replay_cmp);
    }

    passed = 0;
    failed = 0;

    for (i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/%s", argv[1], names[i]);

        if (ngx_http_leadlist_replay_file(path, verbose) == 0) {
            passed++;

        } else {
            failed++;
        }

        free(names[i]);
    }

    free(names);

    if (n == 0) {
        fprintf(stderr, "%s: no files\n", argv[1]);
        failed++;
    }

    printf("replay_corpus: %zu passed, %zu failed\n", passed, failed);

    return failed ? 1 : 0;
}


static int
ngx_http_leadlist_replay_file(const char *path, int verbose)
{
    long            len;
    FILE           *f;
    uint8_t        *data;

    if (verbose) {
        fprintf(stderr, "replaying %s\n", path);
    }

    f = fopen(path, "rb");

    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0
        || fseek(f, 0, SEEK_SET) != 0)
    {
        perror(path);

        if (f) {
            fclose(f);
        }

        return -1;
    }

    /* exactly len bytes, so that ASan sees a read past the end */

    data = malloc(len ? (size_t) len : 1);

    if (data == NULL
        || fread(data, 1, (size_t) len, f) != (size_t) len)
    {
        perror(path);
        free(data);
        fclose(f);
        return -1;
    }

    fclose(f);

    LLVMFuzzerTestOneInput(data, (size_t) len);

    free(data);

    return 0;
}


static int
ngx_http_leadlist_replay_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}
