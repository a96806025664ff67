/*
 * bench_abi.c: the C side of the C ABI benchmark (`make bench-abi`, scripts/bench_abi.py).
 *
 *   bench_abi build --db PATH [--keys N]
 *       Creates the database through the C ABI (not timed): N keys bench/%08d, each with
 *       {"id":i,"v":1,"name":"Name i","score":…,"pad":"…"} (about 100 bytes), in
 *       transactions of 10,000; `tx` is the last of them. Then every key gets a second
 *       version ("v":2) and every tenth a third ("v":3), in later transactions. Prints
 *       {"keys","tx","valid_at",...}: reads as of (valid_at = the last transaction's time,
 *       tx) must look past the newer versions to find "v":1 (a real as-of read).
 *   bench_abi run --db PATH --keys N --tx T --valid-at V [--seconds S]
 *       Opens the database read-only and checks every key's value as of (V, T) once. Then
 *       times, for about S seconds each (default 1): llmdb_get (a malloc'd copy of the
 *       value, freed with llmdb_free) and llmdb_get_into (into a buffer on the stack), over
 *       the keys in the order i = (j * 1000003) % N (the same order as llmdb-abi-bench).
 *       Prints {"get_ops_s","get_into_ops_s",...} on stdout; progress on stderr.
 *
 * Built by scripts/bench_abi.py: cc -O2 -std=c11 -Iinclude … -lllmdb.
 */
#define _POSIX_C_SOURCE 200809L

#include "llmdb.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STEP 1000003u /* a prime above the largest N: the access order visits every key once */
#define BATCH 1000    /* reads between two looks at the clock */

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, llmdb_status s) {
    fprintf(stderr, "bench_abi: %s: %s (%d): %s\n", what, llmdb_status_name(s), (int)s, llmdb_last_error());
    exit(1);
}

#define CALL(what, call)                   \
    do {                                   \
        llmdb_status s_ = (call);          \
        if (s_ != LLMDB_OK) die(what, s_); \
    } while (0)

static int value_json(char *buf, size_t cap, long i, int version) {
    return snprintf(buf, cap,
                    "{\"id\":%ld,\"v\":%d,\"name\":\"Name %ld\",\"score\":%ld,\"pad\":\"abcdefghijklmnopqrstuvwxyz0123\"}",
                    i, version, i, i * 7 % 1000);
}

static void put_range(llmdb *db, long from, long to, int version, long every, uint64_t *tx, llmdb_time *tt) {
    for (long start = from; start < to; start += 10000) {
        long end = start + 10000 < to ? start + 10000 : to;
        llmdb_txn *t;
        CALL("llmdb_txn_begin", llmdb_txn_begin(db, LLMDB_TIME_UNSET, &t));
        for (long i = start; i < end; i++) {
            if (i % every != 0) continue;
            char key[32], val[160];
            int kn = snprintf(key, sizeof key, "bench/%08ld", i);
            int vn = value_json(val, sizeof val, i, version);
            CALL("llmdb_txn_put", llmdb_txn_put(t, 0, key, (size_t)kn, val, (size_t)vn, LLMDB_VALUE_JSON,
                                                LLMDB_TIME_UNSET, LLMDB_TIME_UNSET));
        }
        CALL("llmdb_txn_commit", llmdb_txn_commit(t, tx, tt));
    }
}

static int build(const char *path, long keys) {
    llmdb_options o;
    llmdb_options_init(&o);
    o.sync = LLMDB_SYNC_NONE; /* a bulk load */
    o.map_size = UINT64_C(1) << 30;
    llmdb *db;
    CALL("llmdb_open", llmdb_open(path, &o, &db));
    double t0 = now();
    uint64_t tx = 0, last_tx = 0;
    llmdb_time tt = 0, last_tt = 0;
    put_range(db, 0, keys, 1, 1, &tx, &tt);
    put_range(db, 0, keys, 2, 1, &last_tx, &last_tt);
    put_range(db, 0, keys, 3, 10, &last_tx, &last_tt);
    CALL("llmdb_close", llmdb_close(db));
    fprintf(stderr, "bench_abi: built %ld keys (3 versions of every tenth, 2 of the others) in %.1f s\n", keys,
            now() - t0);
    printf("{\"keys\":%ld,\"tx\":%" PRIu64 ",\"valid_at\":%" PRId64 ",\"latest_tx\":%" PRIu64 "}\n", keys, tx, last_tt,
           last_tx);
    return 0;
}

struct keyset {
    long n;
    char (*keys)[16];
    size_t *lens;
};

static struct keyset make_keys(long n) {
    struct keyset k = {n, malloc(sizeof(*k.keys) * (size_t)n), malloc(sizeof(size_t) * (size_t)n)};
    for (long j = 0; j < n; j++) {
        long i = (long)(((uint64_t)j * STEP) % (uint64_t)n);
        k.lens[j] = (size_t)snprintf(k.keys[j], sizeof k.keys[j], "bench/%08ld", i);
    }
    return k;
}

static int run(const char *path, long keys, uint64_t tx, llmdb_time valid_at, double seconds) {
    llmdb_options o;
    llmdb_options_init(&o);
    o.read_only = 1;
    llmdb *db;
    CALL("llmdb_open", llmdb_open(path, &o, &db));
    struct keyset k = make_keys(keys);

    /* Check every answer once: the first version, from transaction ≤ tx. */
    for (long j = 0; j < keys; j++) {
        long i = (long)(((uint64_t)j * STEP) % (uint64_t)keys);
        llmdb_fact f;
        CALL("llmdb_get", llmdb_get(db, 0, k.keys[j], k.lens[j], valid_at, tx, LLMDB_TIME_UNSET, &f));
        char want[160];
        int n = value_json(want, sizeof want, i, 1);
        if (f.value_len != (size_t)n || memcmp(f.value, want, (size_t)n) != 0 || f.tx > tx) {
            fprintf(stderr, "bench_abi: %s as of tx %" PRIu64 ": %.*s, expected %s\n", k.keys[j], tx,
                    (int)f.value_len, (const char *)f.value, want);
            return 1;
        }
        llmdb_free((void *)f.value);
    }

    /* llmdb_get + llmdb_free. */
    uint64_t sum = 0;
    long ops = 0, j = 0;
    double t0 = now(), t;
    do {
        for (int b = 0; b < BATCH; b++) {
            llmdb_fact f;
            llmdb_status s = llmdb_get(db, 0, k.keys[j], k.lens[j], valid_at, tx, LLMDB_TIME_UNSET, &f);
            if (s != LLMDB_OK) die("llmdb_get", s);
            sum += f.value_len + f.value[0];
            llmdb_free((void *)f.value);
            if (++j == keys) j = 0;
        }
        ops += BATCH;
        t = now() - t0;
    } while (t < seconds);
    double get_ops = (double)ops / t;
    long get_n = ops;

    /* llmdb_get_into: no allocation. */
    char buf[4096];
    ops = 0;
    t0 = now();
    do {
        for (int b = 0; b < BATCH; b++) {
            llmdb_fact f;
            llmdb_status s = llmdb_get_into(db, 0, k.keys[j], k.lens[j], valid_at, tx, LLMDB_TIME_UNSET, buf,
                                            sizeof buf, &f);
            if (s != LLMDB_OK) die("llmdb_get_into", s);
            sum += f.value_len + f.value[0];
            if (++j == keys) j = 0;
        }
        ops += BATCH;
        t = now() - t0;
    } while (t < seconds);
    double into_ops = (double)ops / t;
    long into_n = ops;

    /* llmdb_get_value: the value only (no valid_to, no tx_time). */
    ops = 0;
    t0 = now();
    do {
        for (int b = 0; b < BATCH; b++) {
            size_t n;
            int32_t type;
            llmdb_status s = llmdb_get_value(db, 0, k.keys[j], k.lens[j], valid_at, tx, LLMDB_TIME_UNSET, buf,
                                             sizeof buf, &n, &type);
            if (s != LLMDB_OK) die("llmdb_get_value", s);
            sum += n + (unsigned char)buf[0];
            if (++j == keys) j = 0;
        }
        ops += BATCH;
        t = now() - t0;
    } while (t < seconds);
    double value_ops = (double)ops / t;

    CALL("llmdb_close", llmdb_close(db));
    free(k.keys);
    free(k.lens);
    fprintf(stderr,
            "bench_abi: llmdb_get %.0f ops/s (%ld reads), llmdb_get_into %.0f ops/s (%ld reads), "
            "llmdb_get_value %.0f ops/s (%ld reads)\n",
            get_ops, get_n, into_ops, into_n, value_ops, ops);
    printf("{\"get_ops_s\":%.1f,\"get_into_ops_s\":%.1f,\"get_value_ops_s\":%.1f,\"get_reads\":%ld,"
           "\"get_into_reads\":%ld,\"get_value_reads\":%ld,\"checksum\":%" PRIu64 "}\n",
           get_ops, into_ops, value_ops, get_n, into_n, ops, sum);
    return 0;
}

static const char usage[] = "usage: bench_abi build --db PATH [--keys N]\n"
                            "       bench_abi run --db PATH --keys N --tx T --valid-at V [--seconds S]\n";

int main(int argc, char **argv) {
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    const char *path = NULL;
    long keys = 100000;
    uint64_t tx = 0;
    llmdb_time valid_at = LLMDB_TIME_UNSET;
    double seconds = 1;
    for (int a = 2; a + 1 < argc; a += 2) {
        if (!strcmp(argv[a], "--db")) path = argv[a + 1];
        else if (!strcmp(argv[a], "--keys")) keys = atol(argv[a + 1]);
        else if (!strcmp(argv[a], "--tx")) tx = strtoull(argv[a + 1], NULL, 10);
        else if (!strcmp(argv[a], "--valid-at")) valid_at = strtoll(argv[a + 1], NULL, 10);
        else if (!strcmp(argv[a], "--seconds")) seconds = atof(argv[a + 1]);
        else {
            fprintf(stderr, "bench_abi: unknown argument %s\n%s", argv[a], usage);
            return 2;
        }
    }
    if (!path || keys < 1 || keys >= (long)STEP || seconds <= 0 || (argc % 2) != 0) {
        fputs(usage, stderr);
        return 2;
    }
    if (!strcmp(argv[1], "build")) return build(path, keys);
    if (!strcmp(argv[1], "run") && tx > 0 && valid_at != LLMDB_TIME_UNSET) return run(path, keys, tx, valid_at, seconds);
    fputs(usage, stderr);
    return 2;
}
