/*
 * Shared helpers for the LLMDB benchmark baselines (lmdb_raw.c, sqlite_bitemporal.c).
 *
 * The LLMDB Swift benchmark (Benchmarks/.build/release/llmdb-bench) must follow
 * the same contract so the three systems see identical workloads:
 *
 *   PROG --dir DIR --workload W[,W2,...]|all [--scale S]
 *
 *   - stdout: exactly one JSON line per measured workload:
 *       {"system":"lmdb","workload":"point_read","ops":1000000,"seconds":1.234567,
 *        "ns_per_op":1234.567,"ops_per_sec":810000.0}
 *     everything else goes to stderr.
 *   - scaled count: n(N) = max(1, llround(N * S)).
 *   - PRNG: splitmix64, state reset to 42 at the start of EVERY workload
 *     (so `--workload all` and a single workload produce identical sequences).
 *     rand_below(n) = splitmix64_next() % n   (plain modulo, bias accepted).
 *   - shuffle (bulk_load): Fisher-Yates, for i = n-1 down to 1:
 *       j = rand_below(i+1); swap(a[i], a[j]);   starting from a[i] = i.
 *   - key(i)   = "key%08d" (11 ASCII bytes, no NUL).
 *   - value(v) = "{\"v\":<v>,\"pad\":\"" + 'x' * (85 - digits(v)) + "\"}"  (exactly 100 bytes).
 */
#ifndef LLMDB_BASELINES_COMMON_H
#define LLMDB_BASELINES_COMMON_H

#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define KEY_LEN 11
#define VALUE_LEN 100
#define TXN_BATCH 10000 /* puts per write transaction / reads per read transaction */

/* ---------- PRNG: splitmix64, seed 42 ---------- */
static uint64_t prng_state = 42;

static inline void prng_reset(void) { prng_state = 42; }

static inline uint64_t prng_next(void) {
    uint64_t z = (prng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static inline uint64_t rand_below(uint64_t n) { return prng_next() % n; }

/* ---------- scaling ---------- */
static double g_scale = 1.0;

static inline int64_t scaled(int64_t n) {
    long long v = llround((double)n * g_scale);
    return v < 1 ? 1 : (int64_t)v;
}

/* ---------- keys and values ---------- */
/* key%08d into buf (11 bytes, not NUL-terminated). Keys are < 10^8. */
static inline void make_key(char *buf, int64_t i) {
    buf[0] = 'k'; buf[1] = 'e'; buf[2] = 'y';
    for (int d = 10; d >= 3; d--) { buf[d] = (char)('0' + i % 10); i /= 10; }
}

/* {"v":<v>,"pad":"xxx...x"} padded with x to exactly 100 bytes. */
static inline void make_value(char *buf, int64_t v) {
    char digits[24];
    int nd = 0;
    uint64_t u = (uint64_t)v;
    do { digits[nd++] = (char)('0' + u % 10); u /= 10; } while (u);
    memcpy(buf, "{\"v\":", 5);
    int p = 5;
    while (nd) buf[p++] = digits[--nd];
    memcpy(buf + p, ",\"pad\":\"", 8);
    p += 8;
    memset(buf + p, 'x', (size_t)(VALUE_LEN - 2 - p));
    buf[VALUE_LEN - 2] = '"';
    buf[VALUE_LEN - 1] = '}';
}

/* Parse <v> back out of a value (for untimed sanity checks). */
static inline int64_t value_v(const void *val, size_t len) {
    const char *s = val;
    if (len < 6 || memcmp(s, "{\"v\":", 5) != 0) return -1;
    int64_t v = 0;
    for (size_t i = 5; i < len && s[i] >= '0' && s[i] <= '9'; i++) v = v * 10 + (s[i] - '0');
    return v;
}

/* ---------- timing and reporting ---------- */
static inline double now_sec(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static const char *g_system = "?";

static inline void report(const char *workload, int64_t ops, double seconds) {
    printf("{\"system\":\"%s\",\"workload\":\"%s\",\"ops\":%" PRId64
           ",\"seconds\":%.6f,\"ns_per_op\":%.3f,\"ops_per_sec\":%.3f}\n",
           g_system, workload, ops, seconds, seconds * 1e9 / (double)ops,
           seconds > 0 ? (double)ops / seconds : 0.0);
    fflush(stdout);
}

#define DIE(...) do { fprintf(stderr, "%s: ", g_system); fprintf(stderr, __VA_ARGS__); \
                      fputc('\n', stderr); exit(1); } while (0)

/* ---------- workloads and command line ---------- */
static const char *const ALL_WORKLOADS[] = {
    "bulk_load", "point_read",
    "versions_1", "versions_10", "versions_100", "versions_1000",
    "prefix_scan", "durable_commit_1", "durable_commit_8",
};
#define N_WORKLOADS (sizeof ALL_WORKLOADS / sizeof ALL_WORKLOADS[0])

typedef struct {
    const char *dir;
    int selected[N_WORKLOADS];
} options;

static inline void usage(const char *prog, int code) {
    fprintf(code ? stderr : stdout,
            "usage: %s --dir DIR --workload W[,W...]|all [--scale S]\n"
            "workloads: all", prog);
    for (size_t i = 0; i < N_WORKLOADS; i++) fprintf(code ? stderr : stdout, " %s", ALL_WORKLOADS[i]);
    fputc('\n', code ? stderr : stdout);
    exit(code);
}

static inline void parse_args(int argc, char **argv, options *o) {
    const char *wl = NULL;
    memset(o, 0, sizeof *o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) usage(argv[0], 0);
        if (i + 1 >= argc) { fprintf(stderr, "missing value for %s\n", a); usage(argv[0], 2); }
        if (!strcmp(a, "--dir")) o->dir = argv[++i];
        else if (!strcmp(a, "--workload")) wl = argv[++i];
        else if (!strcmp(a, "--scale")) {
            char *end;
            g_scale = strtod(argv[++i], &end);
            if (*end || !(g_scale > 0)) { fprintf(stderr, "bad --scale %s\n", argv[i]); exit(2); }
        } else { fprintf(stderr, "unknown argument %s\n", a); usage(argv[0], 2); }
    }
    if (!o->dir || !wl) usage(argv[0], 2);
    char *list = strdup(wl), *save = NULL;
    for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int found = 0;
        for (size_t k = 0; k < N_WORKLOADS; k++)
            if (!strcmp(t, "all") || !strcmp(t, ALL_WORKLOADS[k])) { o->selected[k] = 1; found = 1; }
        if (!found) { fprintf(stderr, "unknown workload %s\n", t); usage(argv[0], 2); }
    }
    free(list);
    if (mkdir(o->dir, 0755) != 0 && errno != EEXIST) DIE("mkdir %s: %s", o->dir, strerror(errno));
}

static inline void path_join(char *out, size_t cap, const char *dir, const char *name) {
    if ((size_t)snprintf(out, cap, "%s/%s", dir, name) >= cap) DIE("path too long");
}

static inline void remove_file(const char *path) {
    if (unlink(path) != 0 && errno != ENOENT) DIE("unlink %s: %s", path, strerror(errno));
}

#endif
