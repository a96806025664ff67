/*
 * SQLite baseline for the LQL benchmark of issue 5: the same queries in SQL, over the same
 * documents as Benchmarks/Sources/llmdb-lql-bench, with the history kept the simple way a
 * SQLite user would keep it: a current table and a table of versions by transaction.
 *
 *   CREATE TABLE docs(id TEXT PRIMARY KEY, body TEXT);               -- the current version
 *   CREATE INDEX docs_city ON docs(json_extract(body,'$.city'));
 *   CREATE TABLE versions(id TEXT, tx_from INTEGER, tx_to INTEGER,   -- every version, valid
 *                         body TEXT, PRIMARY KEY(id, tx_from));      -- for [tx_from, tx_to)
 *
 * The load: N documents (id p%06d, body {"name":"Name <i>","city":"City<i%50, 2 digits>",
 * "age":<i%90>,"score":<i*7%1000>}), 10,000 per transaction numbered 1, 2, …; `mid` is the
 * last of them. Then one transaction mid + 1 updates 1% of the documents (i % 100 == 23: age
 * + 1): docs is updated, the old version's tx_to set, a new version inserted. The index is
 * built afterwards. Not timed. The same configuration as sqlite_bitemporal.c: WAL,
 * synchronous=OFF, cache_size = 256 MiB, prepared statements reused.
 *
 * The queries (LLMDB's LQL in llmdb-lql-bench):
 *   point_asof  SELECT json_extract(body,'$.name'), json_extract(body,'$.age') FROM versions
 *               WHERE id = 'p000123' AND tx_from <= mid AND (tx_to IS NULL OR tx_to > mid)
 *               (also the counterpart of point_asof_kv)
 *   range_asof  SELECT json_extract(body,'$.name') FROM versions WHERE id >= 'p001' AND
 *               id < 'p002' AND tx_from <= mid AND (tx_to IS NULL OR tx_to > mid) AND
 *               json_extract(body,'$.age') > 50
 *   indexed_eq  SELECT json_extract(body,'$.name') FROM docs WHERE json_extract(body,'$.city') = 'City07'
 *   group_by    SELECT json_extract(body,'$.city'), COUNT(*), AVG(json_extract(body,'$.age'))
 *               FROM docs GROUP BY 1
 *   history     SELECT tx_from, tx_to, body FROM versions WHERE id = 'p000123' ORDER BY tx_from
 * Each round runs each query `reps` times (fixed by an untimed warm-up so that a round lasts
 * about --budget-ms), stepping every row and reading every column as text; the figure of a
 * round is its mean per query, the reported one the median over rounds. Also timed: the
 * prepare of each statement (sqlite3_prepare_v2 + finalize), SQLite's parse + plan.
 *
 * Usage: sqlite_lql --dir DIR [--docs N] [--rounds R] [--budget-ms B]
 * stdout: one JSON line {"system":"sqlite_lql",...,"queries":{name:{"ms":..,"prepare_us":..,
 * "rows":..}},"matches":{..}}; everything else goes to stderr. Exits 1 when a query returns
 * a count other than expected.
 *
 * Database file: DIR/sqlite_lql.db (+ -wal, -shm), deleted before and after.
 */
#include "common.h"

#include <sqlite3.h>

#include "sqlite_common.h"

#ifndef CACHE_SIZE_PRAGMA
#define CACHE_SIZE_PRAGMA "PRAGMA cache_size=-262144" /* KiB => 256 MiB */
#endif

#define ASOF "tx_from <= ?1 AND (tx_to IS NULL OR tx_to > ?1)"

typedef struct {
    const char *name;
    const char *sql;
    int64_t want;
    sqlite3_stmt *st;
    long reps;
    double *ms;
    double *prep;
} query_t;

/* Runs the bound statement to the end, reading every column as text: the rows. */
static int64_t run_query(sqlite3 *db, sqlite3_stmt *st, int64_t *bytes) {
    int64_t rows = 0;
    int rc, nc = sqlite3_column_count(st);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        for (int c = 0; c < nc; c++) {
            const unsigned char *t = sqlite3_column_text(st, c);
            *bytes += sqlite3_column_bytes(st, c) + (t ? t[0] : 0);
        }
        rows++;
    }
    if (rc != SQLITE_DONE) DIE("step: %s (%d)", sqlite3_errmsg(db), rc);
    sqlite3_reset(st);
    return rows;
}

static void print_plan(sqlite3 *db, const char *name, const char *sql) {
    char eqp[1024];
    snprintf(eqp, sizeof eqp, "EXPLAIN QUERY PLAN %s", sql);
    sqlite3_stmt *st = prepare(db, eqp);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *detail = (const char *)sqlite3_column_text(st, 3);
        fprintf(stderr, "sqlite_lql: plan of %s: %s\n", name, detail ? detail : "?");
    }
    sqlite3_finalize(st);
}

int main(int argc, char **argv) {
    const char *dir = NULL;
    long docs = 100000, rounds = 5;
    double budget_ms = 200;
    g_system = "sqlite_lql";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf("usage: %s --dir DIR [--docs N] [--rounds R] [--budget-ms B]\n", argv[0]);
            return 0;
        }
        if (i + 1 >= argc) DIE("missing value for %s", a);
        const char *v = argv[++i];
        char *end;
        if (!strcmp(a, "--dir")) { dir = v; continue; }
        if (!strcmp(a, "--budget-ms")) {
            budget_ms = strtod(v, &end);
            if (*end || budget_ms <= 0) DIE("bad value %s for %s", v, a);
            continue;
        }
        long n = strtol(v, &end, 10);
        if (*end || n < 1) DIE("bad value %s for %s", v, a);
        if (!strcmp(a, "--docs")) docs = n;
        else if (!strcmp(a, "--rounds")) rounds = n;
        else DIE("unknown argument %s", a);
    }
    if (!dir) DIE("--dir is required");
    if (docs < 2000 || docs > 1000000) DIE("--docs is between 2000 and 1000000 (ids are p%%06d)");
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) DIE("mkdir %s: %s", dir, strerror(errno));
    char path[4096], wal[4200], shm[4200];
    path_join(path, sizeof path, dir, "sqlite_lql.db");
    snprintf(wal, sizeof wal, "%s-wal", path);
    snprintf(shm, sizeof shm, "%s-shm", path);
    remove_file(path);
    remove_file(wal);
    remove_file(shm);

    sqlite3 *db;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL)
        != SQLITE_OK)
        DIE("open %s: %s", path, sqlite3_errmsg(db));
    exec(db, "PRAGMA journal_mode=WAL");
    exec(db, "PRAGMA synchronous=OFF");
    exec(db, CACHE_SIZE_PRAGMA);
    exec(db, "CREATE TABLE docs(id TEXT PRIMARY KEY, body TEXT)");
    exec(db, "CREATE TABLE versions(id TEXT, tx_from INTEGER, tx_to INTEGER, body TEXT, PRIMARY KEY(id, tx_from))");

    /* Load (not timed). */
    fprintf(stderr, "sqlite_lql: loading %ld documents (not timed)\n", docs);
    double t0 = now_sec();
    sqlite3_stmt *ins = prepare(db, "INSERT INTO docs(id, body) VALUES(?1, ?2)");
    sqlite3_stmt *insv = prepare(db, "INSERT INTO versions(id, tx_from, tx_to, body) VALUES(?1, ?2, NULL, ?3)");
    char id[16], body[160];
    long tx = 0;
    for (long i = 0; i < docs; i++) {
        if (i % 10000 == 0) { exec(db, "BEGIN"); tx++; }
        snprintf(id, sizeof id, "p%06ld", i);
        int bn = snprintf(body, sizeof body, "{\"name\":\"Name %ld\",\"city\":\"City%02ld\",\"age\":%ld,\"score\":%ld}",
                          i, i % 50, i % 90, i * 7 % 1000);
        CHECK(db, sqlite3_bind_text(ins, 1, id, 7, SQLITE_TRANSIENT));
        CHECK(db, sqlite3_bind_text(ins, 2, body, bn, SQLITE_TRANSIENT));
        if (sqlite3_step(ins) != SQLITE_DONE) DIE("insert: %s", sqlite3_errmsg(db));
        sqlite3_reset(ins);
        CHECK(db, sqlite3_bind_text(insv, 1, id, 7, SQLITE_TRANSIENT));
        CHECK(db, sqlite3_bind_int64(insv, 2, tx));
        CHECK(db, sqlite3_bind_text(insv, 3, body, bn, SQLITE_TRANSIENT));
        if (sqlite3_step(insv) != SQLITE_DONE) DIE("insert version: %s", sqlite3_errmsg(db));
        sqlite3_reset(insv);
        if (i % 10000 == 9999 || i == docs - 1) exec(db, "COMMIT");
    }
    long mid = tx;
    /* The update of 1% of the documents, one transaction (mid + 1). */
    sqlite3_stmt *upd = prepare(db, "UPDATE docs SET body = ?2 WHERE id = ?1");
    sqlite3_stmt *close_v = prepare(db, "UPDATE versions SET tx_to = ?2 WHERE id = ?1 AND tx_to IS NULL");
    exec(db, "BEGIN");
    tx++;
    for (long i = 23; i < docs; i += 100) {
        snprintf(id, sizeof id, "p%06ld", i);
        int bn = snprintf(body, sizeof body, "{\"name\":\"Name %ld\",\"city\":\"City%02ld\",\"age\":%ld,\"score\":%ld}",
                          i, i % 50, i % 90 + 1, i * 7 % 1000);
        CHECK(db, sqlite3_bind_text(upd, 1, id, 7, SQLITE_TRANSIENT));
        CHECK(db, sqlite3_bind_text(upd, 2, body, bn, SQLITE_TRANSIENT));
        if (sqlite3_step(upd) != SQLITE_DONE) DIE("update: %s", sqlite3_errmsg(db));
        sqlite3_reset(upd);
        CHECK(db, sqlite3_bind_text(close_v, 1, id, 7, SQLITE_TRANSIENT));
        CHECK(db, sqlite3_bind_int64(close_v, 2, tx));
        if (sqlite3_step(close_v) != SQLITE_DONE) DIE("close version: %s", sqlite3_errmsg(db));
        sqlite3_reset(close_v);
        CHECK(db, sqlite3_bind_text(insv, 1, id, 7, SQLITE_TRANSIENT));
        CHECK(db, sqlite3_bind_int64(insv, 2, tx));
        CHECK(db, sqlite3_bind_text(insv, 3, body, bn, SQLITE_TRANSIENT));
        if (sqlite3_step(insv) != SQLITE_DONE) DIE("insert version: %s", sqlite3_errmsg(db));
        sqlite3_reset(insv);
    }
    exec(db, "COMMIT");
    sqlite3_finalize(ins);
    sqlite3_finalize(insv);
    sqlite3_finalize(upd);
    sqlite3_finalize(close_v);
    exec(db, "CREATE INDEX docs_city ON docs(json_extract(body,'$.city'))");
    fprintf(stderr, "sqlite_lql: loaded, updated 1%% (tx %ld; mid = tx %ld) and indexed in %.1f s\n", tx, mid,
            now_sec() - t0);

    int64_t want_range = 0, want_indexed = 0;
    for (long i = 1000; i < 2000; i++) want_range += i % 90 > 50;
    for (long i = 0; i < docs; i++) want_indexed += i % 50 == 7;
    query_t qs[] = {
        {"point_asof",
         "SELECT json_extract(body,'$.name'), json_extract(body,'$.age') FROM versions "
         "WHERE id = 'p000123' AND " ASOF, 1, NULL, 0, NULL, NULL},
        {"range_asof",
         "SELECT json_extract(body,'$.name') FROM versions WHERE id >= 'p001' AND id < 'p002' AND " ASOF
         " AND json_extract(body,'$.age') > 50", want_range, NULL, 0, NULL, NULL},
        {"indexed_eq", "SELECT json_extract(body,'$.name') FROM docs WHERE json_extract(body,'$.city') = 'City07'",
         want_indexed, NULL, 0, NULL, NULL},
        {"group_by",
         "SELECT json_extract(body,'$.city'), COUNT(*), AVG(json_extract(body,'$.age')) FROM docs GROUP BY 1",
         docs < 50 ? docs : 50, NULL, 0, NULL, NULL},
        {"history", "SELECT tx_from, tx_to, body FROM versions WHERE id = 'p000123' ORDER BY tx_from", 2, NULL, 0,
         NULL, NULL},
    };
    const int nq = (int)(sizeof qs / sizeof qs[0]);
    int64_t bytes = 0;
    for (int q = 0; q < nq; q++) {
        print_plan(db, qs[q].name, qs[q].sql);
        qs[q].st = prepare(db, qs[q].sql);
        if (sqlite3_bind_parameter_count(qs[q].st) >= 1) CHECK(db, sqlite3_bind_int64(qs[q].st, 1, mid));
        int64_t n = run_query(db, qs[q].st, &bytes);
        if (n != qs[q].want) DIE("%s returned %" PRId64 " rows, expected %" PRId64, qs[q].name, n, qs[q].want);
        double t = now_sec();
        run_query(db, qs[q].st, &bytes);
        double one = now_sec() - t;
        if (one < 1e-7) one = 1e-7;
        long reps = (long)(budget_ms / 1e3 / one);
        qs[q].reps = reps < 1 ? 1 : reps > 5000 ? 5000 : reps;
        qs[q].ms = calloc((size_t)rounds, sizeof(double));
        qs[q].prep = calloc((size_t)rounds, sizeof(double));
        if (!qs[q].ms || !qs[q].prep) DIE("out of memory");
    }
    /* The as-of check: p000123 as of mid has its original age, 123 % 90 = 33. */
    sqlite3_step(qs[0].st);
    if (sqlite3_column_int64(qs[0].st, 1) != 33) DIE("point_asof is not as of tx %ld", mid);
    sqlite3_reset(qs[0].st);

    for (long r = 0; r < rounds; r++) {
        fprintf(stderr, "sqlite_lql: round %ld/%ld:", r + 1, rounds);
        for (int q = 0; q < nq; q++) {
            double t = now_sec();
            for (long k = 0; k < qs[q].reps; k++) {
                int64_t n = run_query(db, qs[q].st, &bytes);
                if (n != qs[q].want) DIE("%s returned %" PRId64 " rows, expected %" PRId64, qs[q].name, n, qs[q].want);
            }
            qs[q].ms[r] = (now_sec() - t) / (double)qs[q].reps;
            const int preps = 2000;
            t = now_sec();
            for (int k = 0; k < preps; k++) {
                sqlite3_stmt *st;
                CHECK(db, sqlite3_prepare_v2(db, qs[q].sql, -1, &st, NULL));
                sqlite3_finalize(st);
            }
            qs[q].prep[r] = (now_sec() - t) / preps;
            fprintf(stderr, " %s %.3f ms", qs[q].name, qs[q].ms[r] * 1e3);
        }
        fprintf(stderr, "\n");
    }

    printf("{\"system\":\"sqlite_lql\",\"sqlite\":\"%s\",\"docs\":%ld,\"rounds\":%ld,\"mid_tx\":%ld,\"matches\":{",
           sqlite3_libversion(), docs, rounds, mid);
    for (int q = 0; q < nq; q++) printf("%s\"%s\":%" PRId64, q ? "," : "", qs[q].name, qs[q].want);
    printf("},\"queries\":{");
    for (int q = 0; q < nq; q++) {
        printf("%s\"%s\":{\"rows\":%" PRId64 ",\"ms\":%.4f,\"prepare_us\":%.2f,\"reps\":%ld,\"rounds_ms\":[", q ? "," : "",
               qs[q].name, qs[q].want, median(qs[q].ms, (int)rounds) * 1e3, median(qs[q].prep, (int)rounds) * 1e6,
               qs[q].reps);
        for (long r = 0; r < rounds; r++) printf("%s%.4f", r ? "," : "", qs[q].ms[r] * 1e3);
        printf("]}");
    }
    printf("},\"checksum\":%" PRId64 "}\n", bytes);
    fflush(stdout);

    for (int q = 0; q < nq; q++) {
        sqlite3_finalize(qs[q].st);
        free(qs[q].ms);
        free(qs[q].prep);
    }
    if (sqlite3_close(db) != SQLITE_OK) DIE("close: %s", sqlite3_errmsg(db));
    remove_file(path);
    remove_file(wal);
    remove_file(shm);
    return 0;
}
