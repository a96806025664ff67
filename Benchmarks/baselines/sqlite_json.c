/*
 * SQLite JSON baseline for the documents benchmark of issue 4: what a user would pick
 * instead of LLMDB's collections, a JSON text column with an expression index.
 *
 *   CREATE TABLE docs(id TEXT PRIMARY KEY, body TEXT);
 *   CREATE INDEX docs_city ON docs(json_extract(body,'$.city'));
 *
 * The same configuration as sqlite_bitemporal.c: journal_mode=WAL, synchronous=OFF (the
 * load is not timed; the queries only read), cache_size = 256 MiB, prepared statements
 * reused. The same documents as Benchmarks/Sources/llmdb-doc-bench: for i in 0..<N, id
 * p%06d, body {"name":"Name <i>","city":"City<i%50, 2 digits>","age":<i%90>,"score":<i*7%1000>},
 * inserted in id order, 10,000 per transaction (the index built afterwards, as LLMDB's is).
 *
 * Each round times
 *   indexed  SELECT id, body FROM docs WHERE json_extract(body,'$.city') = 'City07'
 *            (EXPLAIN QUERY PLAN is checked to use docs_city), A times;
 *   scan     SELECT id, body FROM docs WHERE json_extract(body,'$.age') = 42
 *            (a full scan: json_extract parses every body), B times;
 * stepping through every row and reading both columns. The figure of a round is its mean
 * per query; the reported one is the median over rounds.
 *
 * Usage: sqlite_json --dir DIR [--docs N] [--rounds R] [--indexed-reps A] [--scan-reps B]
 * stdout: one JSON line {"system":"sqlite_json",...,"indexed_find_ms":..,"scan_find_ms":..,
 * "matches":{"indexed":..,"scan":..}}; everything else goes to stderr. Exits 1 when a
 * query returns a count other than expected.
 *
 * Database file: DIR/sqlite_json.db (+ -wal, -shm), deleted before and after.
 */
#include "common.h"

#include <sqlite3.h>

#include "sqlite_common.h"

#ifndef CACHE_SIZE_PRAGMA
#define CACHE_SIZE_PRAGMA "PRAGMA cache_size=-262144" /* KiB => 256 MiB */
#endif

static const char *SQL_INDEXED = "SELECT id, body FROM docs WHERE json_extract(body,'$.city') = ?1";
static const char *SQL_SCAN = "SELECT id, body FROM docs WHERE json_extract(body,'$.age') = ?1";

/* Runs the bound statement to the end, reading both columns: the rows and their bytes. */
static int64_t run_query(sqlite3 *db, sqlite3_stmt *st, int64_t *bytes) {
    int64_t rows = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *id = sqlite3_column_text(st, 0);
        int idn = sqlite3_column_bytes(st, 0);
        const unsigned char *body = sqlite3_column_text(st, 1);
        int bn = sqlite3_column_bytes(st, 1);
        if (!id || !body) DIE("a row without id or body");
        *bytes += idn + bn + id[0];
        rows++;
    }
    if (rc != SQLITE_DONE) DIE("step: %s (%d)", sqlite3_errmsg(db), rc);
    sqlite3_reset(st);
    return rows;
}

/* Whether EXPLAIN QUERY PLAN of sql mentions `needle`; the plan goes to stderr. */
static int plan_mentions(sqlite3 *db, const char *sql, const char *needle) {
    char eqp[512];
    snprintf(eqp, sizeof eqp, "EXPLAIN QUERY PLAN %s", sql);
    sqlite3_stmt *st = prepare(db, eqp);
    int found = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *detail = (const char *)sqlite3_column_text(st, 3);
        fprintf(stderr, "sqlite_json: plan of [%s]: %s\n", sql, detail ? detail : "?");
        if (detail && strstr(detail, needle)) found = 1;
    }
    sqlite3_finalize(st);
    return found;
}

int main(int argc, char **argv) {
    const char *dir = NULL;
    long docs = 100000, rounds = 3, indexed_reps = 20, scan_reps = 5;
    g_system = "sqlite_json";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf("usage: %s --dir DIR [--docs N] [--rounds R] [--indexed-reps A] [--scan-reps B]\n", argv[0]);
            return 0;
        }
        if (i + 1 >= argc) DIE("missing value for %s", a);
        const char *v = argv[++i];
        char *end;
        long n = strtol(v, &end, 10);
        if (!strcmp(a, "--dir")) { dir = v; continue; }
        if (*end || n < 1) DIE("bad value %s for %s", v, a);
        if (!strcmp(a, "--docs")) docs = n;
        else if (!strcmp(a, "--rounds")) rounds = n;
        else if (!strcmp(a, "--indexed-reps")) indexed_reps = n;
        else if (!strcmp(a, "--scan-reps")) scan_reps = n;
        else DIE("unknown argument %s", a);
    }
    if (!dir) DIE("--dir is required");
    if (docs > 1000000) DIE("--docs is at most 1000000 (ids are p%%06d)");
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) DIE("mkdir %s: %s", dir, strerror(errno));
    char path[4096], wal[4200], shm[4200];
    path_join(path, sizeof path, dir, "sqlite_json.db");
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

    /* Load (not timed). */
    fprintf(stderr, "sqlite_json: loading %ld documents (not timed)\n", docs);
    double t0 = now_sec();
    sqlite3_stmt *ins = prepare(db, "INSERT INTO docs(id, body) VALUES(?1, ?2)");
    char id[16], body[160];
    for (long i = 0; i < docs; i++) {
        if (i % 10000 == 0) exec(db, "BEGIN");
        snprintf(id, sizeof id, "p%06ld", i);
        int bn = snprintf(body, sizeof body, "{\"name\":\"Name %ld\",\"city\":\"City%02ld\",\"age\":%ld,\"score\":%ld}",
                          i, i % 50, i % 90, i * 7 % 1000);
        CHECK(db, sqlite3_bind_text(ins, 1, id, 7, SQLITE_TRANSIENT));
        CHECK(db, sqlite3_bind_text(ins, 2, body, bn, SQLITE_TRANSIENT));
        if (sqlite3_step(ins) != SQLITE_DONE) DIE("insert: %s", sqlite3_errmsg(db));
        sqlite3_reset(ins);
        if (i % 10000 == 9999 || i == docs - 1) exec(db, "COMMIT");
    }
    sqlite3_finalize(ins);
    double t1 = now_sec();
    exec(db, "CREATE INDEX docs_city ON docs(json_extract(body,'$.city'))");
    double index_build = now_sec() - t1;
    fprintf(stderr, "sqlite_json: loaded in %.1f s, index built in %.2f s\n", t1 - t0, index_build);

    if (!plan_mentions(db, SQL_INDEXED, "docs_city")) DIE("the indexed query does not use docs_city");
    if (!plan_mentions(db, SQL_SCAN, "SCAN")) DIE("the non-indexed query is not a scan");

    int64_t want_indexed = 0, want_scan = 0;
    for (long i = 0; i < docs; i++) {
        want_indexed += i % 50 == 7;
        want_scan += i % 90 == 42;
    }
    sqlite3_stmt *q_indexed = prepare(db, SQL_INDEXED);
    sqlite3_stmt *q_scan = prepare(db, SQL_SCAN);
    CHECK(db, sqlite3_bind_text(q_indexed, 1, "City07", -1, SQLITE_STATIC));
    CHECK(db, sqlite3_bind_int64(q_scan, 1, 42));

    double *ti = calloc((size_t)rounds, sizeof *ti), *ts = calloc((size_t)rounds, sizeof *ts);
    if (!ti || !ts) DIE("out of memory");
    int64_t bytes = 0;
    for (long r = 0; r < rounds; r++) {
        double t = now_sec();
        for (long k = 0; k < indexed_reps; k++) {
            int64_t n = run_query(db, q_indexed, &bytes);
            if (n != want_indexed) DIE("indexed query returned %" PRId64 " rows, expected %" PRId64, n, want_indexed);
        }
        ti[r] = (now_sec() - t) / (double)indexed_reps;
        t = now_sec();
        for (long k = 0; k < scan_reps; k++) {
            int64_t n = run_query(db, q_scan, &bytes);
            if (n != want_scan) DIE("scan query returned %" PRId64 " rows, expected %" PRId64, n, want_scan);
        }
        ts[r] = (now_sec() - t) / (double)scan_reps;
        fprintf(stderr, "sqlite_json: round %ld/%ld: indexed find %.3f ms, scan find %.2f ms\n", r + 1, rounds,
                ti[r] * 1e3, ts[r] * 1e3);
    }
    char list_i[1024] = "", list_s[1024] = "";
    for (long r = 0; r < rounds && r < 40; r++) {
        size_t li = strlen(list_i), ls = strlen(list_s);
        snprintf(list_i + li, sizeof list_i - li, "%s%.4f", r ? "," : "", ti[r] * 1e3);
        snprintf(list_s + ls, sizeof list_s - ls, "%s%.4f", r ? "," : "", ts[r] * 1e3);
    }
    double mi = median(ti, (int)rounds), ms = median(ts, (int)rounds);
    printf("{\"system\":\"sqlite_json\",\"sqlite\":\"%s\",\"docs\":%ld,\"rounds\":%ld,\"indexed_reps\":%ld,"
           "\"scan_reps\":%ld,\"matches\":{\"indexed\":%" PRId64 ",\"scan\":%" PRId64 "},"
           "\"indexed_find_ms\":%.4f,\"scan_find_ms\":%.4f,\"index_build_s\":%.3f,"
           "\"ms\":{\"indexed\":[%s],\"scan\":[%s]},\"checksum\":%" PRId64 "}\n",
           sqlite3_libversion(), docs, rounds, indexed_reps, scan_reps, want_indexed, want_scan, mi * 1e3,
           ms * 1e3, index_build, list_i, list_s, bytes);
    fflush(stdout);

    sqlite3_finalize(q_indexed);
    sqlite3_finalize(q_scan);
    free(ti);
    free(ts);
    if (sqlite3_close(db) != SQLITE_OK) DIE("close: %s", sqlite3_errmsg(db));
    remove_file(path);
    remove_file(wal);
    remove_file(shm);
    return 0;
}
