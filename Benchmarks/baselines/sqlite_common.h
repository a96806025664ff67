/* Helpers the SQLite baselines share (include after common.h and sqlite3.h). */
#ifndef LLMDB_BENCH_SQLITE_COMMON_H
#define LLMDB_BENCH_SQLITE_COMMON_H

#include <stdlib.h>

#define CHECK(db, expr) do { int rc_ = (expr); if (rc_ != SQLITE_OK) \
    DIE("%s:%d: %s: %s", __FILE__, __LINE__, #expr, sqlite3_errmsg(db)); } while (0)

static inline void exec(sqlite3 *db, const char *sql) {
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) DIE("%s: %s", sql, err ? err : "?");
}

/* A statement prepared once and reused (SQLITE_PREPARE_PERSISTENT). */
static inline sqlite3_stmt *prepare(sqlite3 *db, const char *sql) {
    sqlite3_stmt *st;
    CHECK(db, sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL));
    return st;
}

static inline int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The median of xs (sorted in place). */
static inline double median(double *xs, int n) {
    qsort(xs, (size_t)n, sizeof *xs, cmp_double);
    return n % 2 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
}

#endif
