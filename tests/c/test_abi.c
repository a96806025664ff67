/*
 * test_abi.c: a test of the C ABI of LLMDB (include/llmdb.h, libllmdb.so) from C.
 *
 * Calls every function of the header, on its success paths and its error paths: bad handles
 * (NULL, made up, closed, finished, of another type), NULL pointers, invalid UTF-8, bad
 * values and times, conflicts, as-of reads by transaction, by transaction time and by valid
 * time, scans longer than one of the library's pages, LQL, agent memory, documents through
 * llmdb_call, the code registry, threads (readers beside a writer; per-thread errors), and
 * closing a database while other threads call it (every racing call completes or returns
 * LLMDB_E_INVALID_HANDLE).
 * Every failure prints file:line, the call, the status's name and llmdb_last_error(), and
 * exits 1. Run by scripts/check-c-abi.sh, normally and under valgrind.
 *
 *   cc -std=c11 -Wall -Wextra -Werror -Iinclude tests/c/test_abi.c -LLIBDIR -lllmdb \
 *      -Wl,-rpath,LIBDIR -lpthread -o test_abi && ./test_abi
 *
 * Environment: LLMDB_TEST_COMMITS (default 500: the writer's commits in the thread test),
 * LLMDB_TEST_SCAN_KEYS (default 1000), LLMDB_TEST_CLOSE_ROUNDS (default 40, 3 under
 * valgrind: rounds of the close race), TMPDIR (where the scratch directory goes),
 * LLMDB_TEST_UNDER_VALGRIND=1 (set by the script: a WebAssembly call may then pass its
 * wall-clock deadline).
 */
#define _XOPEN_SOURCE 700

#include "llmdb.h"

#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- Checks ---------------------------------------------------------------------------- */

static char scratch[512];

/* llmdb_last_error() is valid until the next llmdb_* call on this thread: copy it first. */
static void last_error_copy(char *buf, size_t cap) {
    const char *e = llmdb_last_error();
    snprintf(buf, cap, "%s", e ? e : "(NULL)");
}

static void fail_status(const char *file, int line, const char *call, llmdb_status got, llmdb_status want) {
    char err[2048];
    last_error_copy(err, sizeof err);
    fprintf(stderr, "%s:%d: FAILED: %s\n    returned %d (%s), expected %d (%s)\n    llmdb_last_error: %s\n",
            file, line, call, (int)got, llmdb_status_name(got), (int)want, llmdb_status_name(want), err);
    exit(1);
}

static void fail_check(const char *file, int line, const char *cond, const char *detail) {
    char err[2048];
    last_error_copy(err, sizeof err);
    fprintf(stderr, "%s:%d: FAILED: %s\n", file, line, cond);
    if (detail) fprintf(stderr, "    %s\n", detail);
    fprintf(stderr, "    llmdb_last_error: %s\n", err);
    exit(1);
}

/* After an error: a message in llmdb_last_error(), on one line (the header's promise). */
static void check_message(const char *file, int line, const char *call) {
    const char *m = llmdb_last_error();
    if (m[0] == '\0') fail_check(file, line, call, "an error with an empty llmdb_last_error()");
    if (strchr(m, '\n') || strchr(m, '\r')) fail_check(file, line, call, "llmdb_last_error() is not one line");
}

/* `call` must return `want`; an error must also leave a one-line message. */
#define EXPECT(want, call)                                                                   \
    do {                                                                                     \
        llmdb_status s_ = (call);                                                            \
        if (s_ != (want)) fail_status(__FILE__, __LINE__, #call, s_, (want));                \
        if ((want) >= LLMDB_E_INVALID_HANDLE) check_message(__FILE__, __LINE__, #call);      \
    } while (0)
#define OK(call) EXPECT(LLMDB_OK, call)
#define CHECK(cond)                                                                          \
    do {                                                                                     \
        if (!(cond)) fail_check(__FILE__, __LINE__, #cond, NULL);                            \
    } while (0)
/* `call` must return one of two statuses (where the header leaves the place of a check
 * open: at llmdb_txn_begin or at llmdb_txn_commit); the status is kept in `var`. */
#define EXPECT_EITHER(var, a, b, call)                                                       \
    do {                                                                                     \
        var = (call);                                                                        \
        if (var != (a) && var != (b)) fail_status(__FILE__, __LINE__, #call, var, (a));      \
        if (var >= LLMDB_E_INVALID_HANDLE) check_message(__FILE__, __LINE__, #call);         \
    } while (0)

/* `call` must fail with an error of the database or of the boundary (not LLMDB_E_INTERNAL):
 * for inputs whose exact code the header leaves open. */
#define EXPECT_ERROR(call)                                                                   \
    do {                                                                                     \
        llmdb_status s_ = (call);                                                            \
        if (s_ < LLMDB_E_INVALID_HANDLE || s_ == LLMDB_E_INTERNAL)                           \
            fail_status(__FILE__, __LINE__, #call " (any error)", s_, LLMDB_E_INVALID_ARGUMENT); \
        check_message(__FILE__, __LINE__, #call);                                            \
    } while (0)

/* JSON text with the whitespace outside strings removed, so that the checks below can look
 * for "key":value without caring how the library spaces its output. Caller frees. */
static char *compact(const char *json) {
    size_t n = strlen(json);
    char *out = malloc(n + 1);
    size_t j = 0;
    int in_string = 0, escaped = 0;
    for (size_t i = 0; i < n; i++) {
        char c = json[i];
        if (in_string) {
            out[j++] = c;
            if (escaped) escaped = 0;
            else if (c == '\\') escaped = 1;
            else if (c == '"') in_string = 0;
        } else if (c == '"') {
            in_string = 1;
            out[j++] = c;
        } else if (c != ' ' && c != '\n' && c != '\t' && c != '\r') {
            out[j++] = c;
        }
    }
    out[j] = '\0';
    return out;
}

static int count_of(const char *hay, const char *needle) {
    int n = 0;
    size_t len = strlen(needle);
    for (const char *p = strstr(hay, needle); p; p = strstr(p + len, needle)) n++;
    return n;
}

static void json_check(const char *file, int line, const char *json, const char *needle, int want_count,
                       int exact) {
    char *c = compact(json);
    int n = count_of(c, needle);
    if (exact ? n != want_count : n < want_count) {
        char detail[4096];
        snprintf(detail, sizeof detail, "expected %s%d of %s, found %d in:\n    %.3000s", exact ? "" : "at least ",
                 want_count, needle, n, c);
        free(c);
        fail_check(file, line, "JSON content", detail);
    }
    free(c);
}
/* JSON_HAS: the compacted JSON contains `needle`; JSON_LACKS: it does not; JSON_COUNT: exactly n times. */
#define JSON_HAS(json, needle) json_check(__FILE__, __LINE__, (json), (needle), 1, 0)
#define JSON_LACKS(json, needle) json_check(__FILE__, __LINE__, (json), (needle), 0, 1)
#define JSON_COUNT(json, needle, n) json_check(__FILE__, __LINE__, (json), (needle), (n), 1)

/* The integer after the first `"name":` in the JSON, or INT64_MIN. */
static int64_t json_int(const char *json, const char *name) {
    char *c = compact(json);
    char pat[128];
    snprintf(pat, sizeof pat, "\"%s\":", name);
    char *p = strstr(c, pat);
    int64_t v = INT64_MIN;
    if (p) {
        char *end;
        long long x = strtoll(p + strlen(pat), &end, 10);
        if (end != p + strlen(pat)) v = x;
    }
    free(c);
    return v;
}

static int env_int(const char *name, int def) {
    const char *s = getenv(name);
    return s && *s ? atoi(s) : def;
}

/* ---- Helpers ------------------------------------------------------------------------- */

static void path_in_scratch(char *buf, size_t cap, const char *name) {
    snprintf(buf, cap, "%s/%s", scratch, name);
}

static llmdb *open_db(const char *name) {
    char path[600];
    path_in_scratch(path, sizeof path, name);
    llmdb_options o;
    llmdb_options_init(&o);
    o.sync = LLMDB_SYNC_NONE; /* a test: no fsync */
    llmdb *db = NULL;
    OK(llmdb_open(path, &o, &db));
    CHECK(db != NULL);
    return db;
}

static llmdb_status put_json(llmdb_txn *t, uint32_t partition, const char *key, const char *json, llmdb_time from,
                             llmdb_time to) {
    return llmdb_txn_put(t, partition, key, strlen(key), json, strlen(json), LLMDB_VALUE_JSON, from, to);
}

/* One transaction putting `json` for `key`; returns its id. */
static uint64_t commit_put(llmdb *db, llmdb_time tx_time, const char *key, const char *json, llmdb_time from,
                           llmdb_time to, llmdb_time *tx_time_out) {
    llmdb_txn *t = NULL;
    OK(llmdb_txn_begin(db, tx_time, &t));
    OK(put_json(t, 0, key, json, from, to));
    uint64_t tx = 0;
    llmdb_time tt = 0;
    OK(llmdb_txn_commit(t, &tx, &tt));
    CHECK(tx > 0);
    if (tx_time != LLMDB_TIME_UNSET) CHECK(tt == tx_time);
    if (tx_time_out) *tx_time_out = tt;
    return tx;
}

/* llmdb_get of `key` (partition 0) must give the JSON `want` (NULL: LLMDB_NOT_FOUND, with
 * `out` left untouched). The fact is copied to *fact_out when given. */
static void expect_get(const char *file, int line, llmdb *db, const char *key, llmdb_time valid_at, uint64_t tx,
                       llmdb_time tx_time, const char *want, llmdb_fact *fact_out) {
    llmdb_fact f;
    memset(&f, 0xAB, sizeof f);
    llmdb_fact before = f;
    llmdb_status s = llmdb_get(db, 0, key, strlen(key), valid_at, tx, tx_time, &f);
    char call[256];
    snprintf(call, sizeof call, "llmdb_get('%s', valid_at %" PRId64 ", tx %" PRIu64 ", tx_time %" PRId64 ")", key,
             valid_at, tx, tx_time);
    if (!want) {
        if (s != LLMDB_NOT_FOUND) fail_status(file, line, call, s, LLMDB_NOT_FOUND);
        if (memcmp(&f, &before, sizeof f) != 0) fail_check(file, line, call, "LLMDB_NOT_FOUND wrote to *out");
        return;
    }
    if (s != LLMDB_OK) fail_status(file, line, call, s, LLMDB_OK);
    if (f.value_type != LLMDB_VALUE_JSON || f.value_len != strlen(want) || memcmp(f.value, want, f.value_len) != 0) {
        char detail[512];
        snprintf(detail, sizeof detail, "value %.*s (type %d), expected %s", (int)(f.value_len < 200 ? f.value_len : 200),
                 (const char *)f.value, (int)f.value_type, want);
        llmdb_free((void *)f.value);
        fail_check(file, line, call, detail);
    }
    llmdb_free((void *)f.value);
    f.value = NULL;
    if (fact_out) *fact_out = f;
}
#define EXPECT_GET(db, key, valid_at, tx, tx_time, want, out) \
    expect_get(__FILE__, __LINE__, (db), (key), (valid_at), (tx), (tx_time), (want), (out))

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void write_file(const char *path, const void *bytes, size_t n) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    CHECK(fwrite(bytes, 1, n, f) == n);
    CHECK(fclose(f) == 0);
}

/* The fixed times of the bitemporal tests: transaction times in November 2023 (before the
 * wall clock, which the later tests use), valid times from September 2020. */
#define T0 INT64_C(1700000000000000)
#define SEC INT64_C(1000000)
#define VF0 INT64_C(1600000000000000)
#define VA (VF0 + 100 * SEC)
#define VB (VF0 + 150 * SEC)
#define VD (VF0 + 250 * SEC)

static const char bad_utf8[] = "bad\xff\xfe utf8";   /* 0xFF never occurs in UTF-8 */
static const char truncated_utf8[] = "caf\xc3";      /* a lead byte with no continuation */
static const char overlong_utf8[] = "\xc0\xaf";      /* an overlong encoding of '/' */
static const char surrogate_utf8[] = "\xed\xa0\x80"; /* U+D800, a surrogate */

/* ---- Status names, version, free ------------------------------------------------------ */

static void test_static(void) {
    CHECK(strcmp(llmdb_last_error(), "") == 0); /* no error yet on this thread */
    CHECK(llmdb_abi_version() == LLMDB_ABI_VERSION);
    llmdb_free(NULL);

    static const struct {
        llmdb_status code;
        const char *name;
    } names[] = {
        {LLMDB_OK, "ok"},
        {LLMDB_NOT_FOUND, "not_found"},
        {LLMDB_DONE, "done"},
        {LLMDB_E_INVALID_HANDLE, "invalid_handle"},
        {LLMDB_E_NULL_ARGUMENT, "null_argument"},
        {LLMDB_E_INVALID_UTF8, "invalid_utf8"},
        {LLMDB_E_BUFFER_TOO_SMALL, "buffer_too_small"},
        {LLMDB_E_INTERNAL, "internal"},
        {LLMDB_E_FORBIDDEN, "forbidden"},
        {LLMDB_E_BUSY, "busy"},
        {LLMDB_E_EMPTY_KEY, "empty_key"},
        {LLMDB_E_KEY_TOO_LONG, "key_too_long"},
        {LLMDB_E_NULL_VALUE, "null_value"},
        {LLMDB_E_INVALID_JSON, "invalid_json"},
        {LLMDB_E_INVALID_VALUE, "invalid_value"},
        {LLMDB_E_INVALID_TIME_RANGE, "invalid_time_range"},
        {LLMDB_E_TX_TIME_NOT_INCREASING, "tx_time_not_increasing"},
        {LLMDB_E_UNKNOWN_VALUE_TAG, "unknown_value_tag"},
        {LLMDB_E_NOT_A_DATABASE, "not_a_database"},
        {LLMDB_E_FORMAT_VERSION, "format_version"},
        {LLMDB_E_READ_ONLY, "read_only"},
        {LLMDB_E_MAP_FULL, "map_full"},
        {LLMDB_E_DISK_FULL, "disk_full"},
        {LLMDB_E_CORRUPTED, "corrupted"},
        {LLMDB_E_INVALID_ARGUMENT, "invalid_argument"},
        {LLMDB_E_STORAGE, "storage"},
        {LLMDB_E_CLOSED, "closed"},
        {LLMDB_E_RESERVED_PARTITION, "reserved_partition"},
        {LLMDB_E_NO_SUCH, "no_such"}, /* the REST API calls it not_found; LLMDB_NOT_FOUND has that name */
        {LLMDB_E_INVALID_MODULE, "invalid_module"},
        {LLMDB_E_HOOK_REJECTED, "hook_rejected"},
        {LLMDB_E_CODE_FAILED, "code_failed"},
        {LLMDB_E_CODE_LIMIT, "code_limit"},
        {LLMDB_E_CODE_UNAVAILABLE, "code_unavailable"},
        {LLMDB_E_CONFLICT, "conflict"},
        {LLMDB_E_SCHEMA_VIOLATION, "schema_violation"},
        {LLMDB_E_INVALID_SCHEMA, "invalid_schema"},
        {LLMDB_E_INVALID_QUERY, "invalid_query"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *got = llmdb_status_name(names[i].code);
        if (!got || strcmp(got, names[i].name) != 0) {
            char detail[256];
            snprintf(detail, sizeof detail, "llmdb_status_name(%d) is \"%s\", expected \"%s\"", (int)names[i].code,
                     got ? got : "(NULL)", names[i].name);
            fail_check(__FILE__, __LINE__, "llmdb_status_name", detail);
        }
        CHECK(llmdb_status_name(names[i].code) == got); /* a static string */
    }
    static const llmdb_status unknown[] = {-1, 3, 9, 17, 19, 48, 100, INT32_MAX, INT32_MIN};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        const char *got = llmdb_status_name(unknown[i]);
        CHECK(got && strcmp(got, "unknown") == 0);
    }
    CHECK(strcmp(llmdb_last_error(), "") == 0); /* none of these is an error */
}

/* ---- Opening --------------------------------------------------------------------------- */

static void test_open(void) {
    llmdb_options o;
    memset(&o, 0x5A, sizeof o);
    llmdb_options_init(&o);
    CHECK(o.size == sizeof(llmdb_options));
    CHECK(o.read_only == 0);
    CHECK(o.create == 1);
    CHECK(o.sync == LLMDB_SYNC_FULL);
    CHECK(o.map_size == UINT64_C(64) << 20);
    CHECK(o.max_map_size == UINT64_C(1) << 40);

    char path[600], dir[600], junk[600], empty[600];
    path_in_scratch(path, sizeof path, "open.llmdb");
    path_in_scratch(dir, sizeof dir, "a-directory");
    path_in_scratch(junk, sizeof junk, "junk.bin");
    path_in_scratch(empty, sizeof empty, "empty.bin");
    CHECK(mkdir(dir, 0755) == 0);

    llmdb *db = (llmdb *)0x1;
    EXPECT(LLMDB_E_NULL_ARGUMENT, llmdb_open(NULL, NULL, &db));
    CHECK(db == (llmdb *)0x1); /* not written on an error */
    EXPECT(LLMDB_E_NULL_ARGUMENT, llmdb_open(path, NULL, NULL));
    EXPECT(LLMDB_E_INVALID_UTF8, llmdb_open(bad_utf8, NULL, &db));
    EXPECT(LLMDB_E_INVALID_UTF8, llmdb_open(truncated_utf8, NULL, &db));
    CHECK(db == (llmdb *)0x1);

    /* Read-only, or without create, on a missing file: refused, and nothing is created. */
    llmdb_options ro;
    llmdb_options_init(&ro);
    ro.read_only = 1;
    EXPECT(LLMDB_E_INVALID_ARGUMENT, llmdb_open(path, &ro, &db));
    llmdb_options nocreate;
    llmdb_options_init(&nocreate);
    nocreate.create = 0;
    EXPECT(LLMDB_E_INVALID_ARGUMENT, llmdb_open(path, &nocreate, &db));
    CHECK(access(path, F_OK) != 0);
    CHECK(db == (llmdb *)0x1);

    /* A directory, a file that is not LMDB, an empty file: not a database, left untouched. */
    EXPECT(LLMDB_E_NOT_A_DATABASE, llmdb_open(dir, NULL, &db));
    char bytes[8192];
    for (size_t i = 0; i < sizeof bytes; i++) bytes[i] = (char)('a' + i % 26);
    write_file(junk, bytes, sizeof bytes);
    EXPECT(LLMDB_E_NOT_A_DATABASE, llmdb_open(junk, NULL, &db));
    EXPECT(LLMDB_E_NOT_A_DATABASE, llmdb_open(junk, &ro, &db));
    struct stat st;
    CHECK(stat(junk, &st) == 0 && st.st_size == (off_t)sizeof bytes);
    write_file(empty, "", 0);
    EXPECT(LLMDB_E_NOT_A_DATABASE, llmdb_open(empty, NULL, &db));
    CHECK(db == (llmdb *)0x1);

    /* Options that make no sense. */
    llmdb_options badsync;
    llmdb_options_init(&badsync);
    badsync.sync = 7;
    EXPECT(LLMDB_E_INVALID_ARGUMENT, llmdb_open(path, &badsync, &db));
    llmdb_options badsize;
    llmdb_options_init(&badsize);
    badsize.size = 3; /* smaller than any version of the struct */
    EXPECT(LLMDB_E_INVALID_ARGUMENT, llmdb_open(path, &badsize, &db));
    CHECK(db == (llmdb *)0x1);

    /* Defaults (options NULL): creates the file; then reopen it, and read-only. */
    db = NULL;
    OK(llmdb_open(path, NULL, &db));
    CHECK(db != NULL);
    llmdb_txn *t = NULL;
    OK(llmdb_txn_begin(db, LLMDB_TIME_UNSET, &t));
    OK(put_json(t, 0, "k", "\"v\"", LLMDB_TIME_UNSET, LLMDB_TIME_UNSET));
    uint64_t tx = 0;
    OK(llmdb_txn_commit(t, &tx, NULL));
    CHECK(tx == 1);
    OK(llmdb_close(db));
    CHECK(access(path, F_OK) == 0);

    llmdb_options init;
    llmdb_options_init(&init);
    OK(llmdb_open(path, &init, &db));
    EXPECT_GET(db, "k", LLMDB_TIME_UNSET, LLMDB_TX_LATEST, LLMDB_TIME_UNSET, "\"v\"", NULL);
    OK(llmdb_close(db));

    OK(llmdb_open(path, &ro, &db));
    EXPECT_GET(db, "k", LLMDB_TIME_UNSET, LLMDB_TX_LATEST, LLMDB_TIME_UNSET, "\"v\"", NULL);
    /* A write on a read-only database: refused at begin or at commit. */
    llmdb_status s;
    EXPECT_EITHER(s, LLMDB_OK, LLMDB_E_READ_ONLY, llmdb_txn_begin(db, LLMDB_TIME_UNSET, &t));
    if (s == LLMDB_OK) {
        OK(put_json(t, 0, "k2", "1", LLMDB_TIME_UNSET, LLMDB_TIME_UNSET));
        uint64_t tx2 = 77;
        EXPECT(LLMDB_E_READ_ONLY, llmdb_txn_commit(t, &tx2, NULL));
        CHECK(tx2 == 77);
    }
    char *json = NULL;
    EXPECT(LLMDB_E_READ_ONLY,
           llmdb_remember(db, "{\"key\":\"agent:fact:x\",\"content\":\"x\"}", &json, NULL));
    CHECK(json == NULL);
    EXPECT(LLMDB_E_READ_ONLY, llmdb_query(db, "INSERT INTO c (_id, a) VALUES ('x', 1)", NULL, &json, NULL));
    OK(llmdb_close(db));
    OK(llmdb_open(path, NULL, &db));
    EXPECT_GET(db, "k2", LLMDB_TIME_UNSET, LLMDB_TX_LATEST, LLMDB_TIME_UNSET, NULL, NULL);
    OK(llmdb_close(db));
}

/* ---- Bad handles --------------------------------------------------------------------- */

/* Every function that takes a database handle, with `bad`: LLMDB_E_INVALID_HANDLE, and no
 * output written. */
static void expect_db_rejected(const char *file, int line, llmdb *bad) {
#define REJECT(call)                                                                          \
    do {                                                                                      \
        llmdb_status s_ = (call);                                                             \
        if (s_ != LLMDB_E_INVALID_HANDLE) fail_status(file, line, #call, s_, LLMDB_E_INVALID_HANDLE); \
    } while (0)
    llmdb_txn *t = (llmdb_txn *)0x1;
    llmdb_iter *it = (llmdb_iter *)0x1;
    char *json = (char *)0x1;
    size_t len = 12345;
    uint64_t tx = 12345;
    llmdb_fact f;
    memset(&f, 0xAB, sizeof f);
    llmdb_fact before = f;
    char buf[16];
    REJECT(llmdb_close(bad));
    REJECT(llmdb_txn_begin(bad, LLMDB_TIME_UNSET, &t));
    REJECT(llmdb_get(bad, 0, "k", 1, LLMDB_TIME_UNSET, LLMDB_TX_LATEST, LLMDB_TIME_UNSET, &f));
    REJECT(llmdb_get_into(bad, 0, "k", 1, LLMDB_TIME_UNSET, LLMDB_TX_LATEST, LLMDB_TIME_UNSET, buf, sizeof buf, &f));
    size_t vlen = 777;
    int32_t vtype = 777;
    REJECT(llmdb_get_value(bad, 0, "k", 1, LLMDB_TIME_UNSET, LLMDB_TX_LATEST, LLMDB_TIME_UNSET, buf, sizeof buf, &vlen, &vtype));
    CHECK(vlen == 777 && vtype == 777);
    REJECT(llmdb_tx_at(bad, 0, &tx));
    REJECT(llmdb_history(bad, 0, "k", 1, LLMDB_TX_LATEST, 0, &json, &len));
    REJECT(llmdb_timeline(bad, 0, "k", 1, LLMDB_TX_LATEST, LLMDB_TIME_UNSET, LLMDB_TIME_UNSET, &json, &len));
    REJECT(llmdb_versions(bad, 0, "k", 1, LLMDB_TX_LATEST, &json, &len));
    REJECT(llmdb_scan(bad, 0, "k", 1, LLMDB_TIME_UNSET, LLMDB_TX_LATEST, LLMDB_TIME_UNSET, &it));
    REJECT(llmdb_query(bad, "SELECT * FROM kv", NULL, &json, &len));
    REJECT(llmdb_remember(bad, "{\"key\":\"agent:fact:a\",\"content\":\"a\"}", &json, &len));
    REJECT(llmdb_recall(bad, "{\"query\":\"a\"}", &json, &len));
    REJECT(llmdb_correct(bad, "{\"key\":\"agent:fact:a\",\"reason\":\"r\",\"content\":\"b\"}", &json, &len));
    REJECT(llmdb_forget(bad, "{\"key\":\"agent:fact:a\"}", &json, &len));
    REJECT(llmdb_memory_history(bad, "{\"key\":\"agent:fact:a\"}", &json, &len));
    REJECT(llmdb_memory_evolution(bad, "{\"prefix\":\"agent:\"}", &json, &len));
    REJECT(llmdb_memory_as_of(bad, "{\"tx\":1}", &json, &len));
    REJECT(llmdb_memory_rollback(bad, "{\"prefix\":\"agent:\",\"tx\":1,\"reason\":\"r\"}", &json, &len));
    REJECT(llmdb_memory_namespaces(bad, "{}", &json, &len));
    REJECT(llmdb_call(bad, "getFact", "{\"key\":\"k\"}", &json, &len));
    REJECT(llmdb_code_add(bad, "m", "(module)", 8, NULL, NULL, &json, &len));
    REJECT(llmdb_code_list(bad, &json, &len));
    REJECT(llmdb_code_remove(bad, "m", 0, &tx));
    if (t != (llmdb_txn *)0x1 || it != (llmdb_iter *)0x1 || json != (char *)0x1 || len != 12345 || tx != 12345 ||
        memcmp(&f, &before, sizeof f) != 0)
        fail_check(file, line, "outputs untouched", "a call with a bad database handle wrote an output");
}

static void expect_txn_rejected(const char *file, int line, llmdb_txn *bad) {
    uint64_t tx = 12345;
    llmdb_time tt = 12345;
    REJECT(llmdb_txn_put(bad, 0, "k", 1, "1", 1, LLMDB_VALUE_JSON, LLMDB_TIME_UNSET, LLMDB_TIME_UNSET));
    REJECT(llmdb_txn_delete(bad, 0, "k", 1, LLMDB_TIME_UNSET, LLMDB_TIME_UNSET));
    REJECT(llmdb_txn_erase(bad, 0, "k", 1));
    REJECT(llmdb_txn_expect(bad, 0, "k", 1, LLMDB_EXPECT_ABSENT, 0));
    REJECT(llmdb_txn_commit(bad, &tx, &tt));
    REJECT(llmdb_txn_abort(bad));
    if (tx != 12345 || tt != 12345)
        fail_check(file, line, "outputs untouched", "a commit with a bad transaction handle wrote an output");
}

static void expect_iter_rejected(const char *file, int line, llmdb_iter *bad) {
    const uint8_t *key = (const uint8_t *)0x1;
    size_t key_len = 12345;
    llmdb_fact row;
    memset(&row, 0xAB, sizeof row);
    llmdb_fact before = row;
    REJECT(llmdb_iter_next(bad, &key, &key_len, &row));
    REJECT(llmdb_iter_close(bad));
    if (key != (const uint8_t *)0x1 || key_len != 12345 || memcmp(&row, &before, sizeof row) != 0)
        fail_check(file, line, "outputs untouched", "llmdb_iter_next with a bad handle wrote an output");
#undef REJECT
}
#define EXPECT_DB_REJECTED(h) expect_db_rejected(__FILE__, __LINE__, (h))
#define EXPECT_TXN_REJECTED(h) expect_txn_rejected(__FILE__, __LINE__, (h))
#define EXPECT_ITER_REJECTED(h) expect_iter_rejected(__FILE__, __LINE__, (h))

static void test_handles(llmdb *db) {
    /* NULL and made-up pointers: unmapped (0x1234, the top of the address space), and a
     * real heap block full of zeros or of 0xFF that was never a handle. */
    void *zeros = calloc(1, 4096);
    void *ones = malloc(4096);
    memset(ones, 0xFF, 4096);
    void *made_up[] = {NULL, (void *)0x1234, (void *)(uintptr_t)0xFFFFFFFFFFFFF000u, (void *)0x8, zeros, ones};
    for (size_t i = 0; i < sizeof made_up / sizeof made_up[0]; i++) {
        EXPECT_DB_REJECTED((llmdb *)made_up[i]);
        EXPECT_TXN_REJECTED((llmdb_txn *)made_up[i]);
        EXPECT_ITER_REJECTED((llmdb_iter *)made_up[i]);
    }
    free(zeros);
    free(ones);

    /* A handle of another type. */
    llmdb_txn *t = NULL;
    OK(llmdb_txn_begin(db, LLMDB_TIME_UNSET, &t));
    llmdb_iter *it = NULL;
    OK(llmdb_scan(db, 0, "", 0, LLMDB_TIME_UNSET, LLMDB_TX_LATEST, LLMDB_TIME_UNSET, &it));
    EXPECT_TXN_REJECTED((llmdb_txn *)db);
    EXPECT_TXN_REJECTED((llmdb_txn *)it);
    EXPECT_ITER_REJECTED((llmdb_iter *)db);
    EXPECT_ITER_REJECTED((llmdb_iter *)t);
    EXPECT_DB_REJECTED((llmdb *)t);
    EXPECT_DB_REJECTED((llmdb *)it);
    /* The real handles still work after all that. */
    OK(put_json(t, 0, "handles", "1", LLMDB_TIME_UNSET, LLMDB_TIME_UNSET));
    OK(llmdb_txn_abort(t));
    OK(llmdb_iter_close(it));

    /* Finished handles: committed, aborted, closed. */
    OK(llmdb_txn_begin(db, LLMDB_TIME_UNSET, &t));
    OK(llmdb_txn_abort(t));
    EXPECT_TXN_REJECTED(t);
    OK(llmdb_txn_begin(db, LLMDB_TIME_UNSET, &t));
    OK(put_json(t, 0, "handles", "2", LLMDB_TIME_UNSET, LLMDB_TIME_UNSET));
    uint64_t tx = 0;
    OK(llmdb_txn_commit(t, &tx, NULL));
    EXPECT_TXN_REJECTED(t);
    /* A commit that fails frees the handle too. */
    OK(llmdb_txn_begin(db, LLMDB_TIME_UNSET, &t));
    OK(llmdb_txn_expect(t, 0, "handles", 7, LLMDB_EXPECT_ABSENT, 0));
    OK(put_json(t, 0, "handles", "3", LLMDB_TIME_UNSET, LLMDB_TIME_UNSET));
    EXPECT(LLMDB_E_CONFLICT, llmdb_txn_commit(t, NULL, NULL));
    EXPECT_TXN_REJECTED(t);
    OK(llmdb_scan(db, 0, "", 0, LLMDB_TIME_UNSET, LLMDB_TX_LATEST, LLMDB_TIME_UNSET, &it));
    OK(llmdb_iter_close(it));
    EXPECT_ITER_REJECTED(it);
    EXPECT_GET(db, "handles", LLMDB_TIME_UNSET, LLMDB_TX_LATEST, LLMDB_TIME_UNSET, "2", NULL);

    /* A closed database, its transactions and iterators; the handle stays invalid after
     * other databases are opened (handles are not reused). */
    llmdb *other = open_db("closed.llmdb");
    llmdb_txn *ot = NULL;
    OK(llmdb_txn_begin(other, LLMDB_TIME_UNSET, &ot));
    OK(put_json(ot, 0, "uncommitted", "1", LLMDB_TIME_UNSET, LLMDB_TIME_UNSET));
    llmdb_txn *ot2 = NULL;
    OK(llmdb_txn_begin(other, LLMDB_TIME_UNSET, &ot2));
    llmdb_iter *oit = NULL;
    OK(llmdb_scan(other, 0, "", 0, LLMDB_TIME_UNSET, LLMDB_TX_LATEST, LLMDB_TIME_UNSET, &oit));
    OK(llmdb_close(other));
    EXPECT_DB_REJECTED(other);
    EXPECT_TXN_REJECTED(ot);
    EXPECT_TXN_REJECTED(ot2);
    EXPECT_ITER_REJECTED(oit);
    llmdb *again[4];
    for (int i = 0; i < 4; i++) again[i] = open_db("closed.llmdb");
    EXPECT_DB_REJECTED(other);
    EXPECT_TXN_REJECTED(ot);
    EXPECT_ITER_REJECTED(oit);
    /* Closing does not commit what was only collected. */
    EXPECT_GET(again[0], "uncommitted", LLMDB_TIME_UNSET, LLMDB_TX_LATEST, LLMDB_TIME_UNSET, NULL, NULL);
    /* Handles on one file share it: closing one leaves the others working, and what one
     * writes the others read. */
    OK(llmdb_close(again[0]));
    EXPECT_DB_REJECTED(again[0]);
    commit_put(again[1], LLMDB_TIME_UNSET, "shared", "\"s\"", LLMDB_TIME_UNSET, LLMDB_TIME_UNSET, NULL);
    EXPECT_GET(again[2], "shared", LLMDB_TIME_UNSET, LLMDB_TX_LATEST, LLMDB_TIME_UNSET, "\"s\"", NULL);
    /* A read-only handle on a file open for writing: reads, and refuses writes. */
    char path[600];
    path_in_scratch(path, sizeof path, "closed.llmdb");
    llmdb_options ro;
    llmdb_options_init(&ro);
    ro.read_only = 1;
    llmdb *reader = NULL;
    OK(llmdb_open(path, &ro, &reader));
    EXPECT_GET(reader, "shared", LLMDB_TIME_UNSET, LLMDB_TX_LATEST, LLMDB_TIME_UNSET, "\"s\"", NULL);
    llmdb_status s;
    EXPECT_EITHER(s, LLMDB_OK, LLMDB_E_READ_ONLY, llmdb_txn_begin(reader, LLMDB_TIME_UNSET, &t));
    if (s == LLMDB_OK) {
        OK(put_json(t, 0, "shared", "1", LLMDB_TIME_UNSET, LLMDB_TIME_UNSET));
        EXPECT(LLMDB_E_READ_ONLY, llmdb_txn_commit(t, NULL, NULL));
    }
    char *json = NULL;
    EXPECT(LLMDB_E_READ_ONLY, llmdb_forget(reader, "{\"key\":\"agent:fact:x\"}", &json, NULL));
    EXPECT(LLMDB_E_READ_ONLY, llmdb_code_remove(reader, "m", 1, NULL));
    OK(llmdb_close(reader));
    for (int i = 1; i < 4; i++) OK(llmdb_close(again[i]));
}

/* ---- NULL arguments ------------------------------------------------------------------ */

static void test_null_arguments(llmdb *db) {
    llmdb_fact f;
    char buf[64];
    char *json = (char *)0x1;
    size_t len = 12345;
    llmdb_iter *it = (llmdb_iter *)0x1;
    uint64_t tx = 12345;
    const llmdb_time U = LLMDB_TIME_UNSET;
    const uint64_t L = LLMDB_TX_LATEST;

    EXPECT(LLMDB_E_NULL_ARGUMENT, llmdb_txn_begin(db, U, NULL));
    llmdb_txn *t = NULL;
    OK(llmdb_txn_begin(db, U, &t));
    EXPECT(LLMDB_E_NULL_ARGUMENT, llmdb_txn_put(t, 0, NULL, 3, "1", 1, LLMDB_VALUE_JSON, U, U));
    EXPECT(LLMDB_E_NULL_ARGUMENT, llmdb_txn_put(t, 0, "key", 3, NULL, 5, LLMDB_VALUE_JSON, U, U));
    EXPECT(LLMDB_E_NULL_ARGUMENT, llmdb_txn_put(t, 0, "key", 3, NULL, 5, LLMDB_VALUE_RAW, U, U));
    EXPECT(LLMDB_E_NULL_ARGUMENT, llmdb_txn_delete(t, 0, NULL, 3, U, U));
    EXPECT(LLMDB_E_NULL_ARGUMENT, llmdb_txn_erase(t, 0, NULL, 3));
    EXPECT(LLMDB_E_NULL_ARGUMENT, llmdb_txn_expect(t, 0, NULL, 3, LLMDB_EXPECT_ABSENT, 0));
    /* The transaction is still usable after refused operations, and the refused ones are
     * not in it. */
    OK(put_json(t, 0, "null-args", "1", U, U));
    OK(llmdb_txn_commit(t, &tx, NULL));
    EXPECT_GET(db, "null-args", U, L, U, "1", NULL);
    EXPECT_GET(db, "key", U, L, U, NULL, NULL);

    EXPECT(LLMDB_E_NULL_ARGUMENT, llmdb_get(db, 0, NULL, 3, U, L, U, &f));
    EXPECT(LLMDB_E_NULL_ARGUMENT, llmdb_get(db, 0, "null-args", 9, U, L, U, NULL));
    EXPECT(LLMDB_E_NULL_ARGUMENT, llmdb_get_into(db, 0, NULL, 3, U, L, U, buf, sizeof buf, &f));
    EXPECT(LLMDB_E_NULL_ARGUMENT, llmdb_get_into(db, 0, "null-args", 9, U, L, U, buf, sizeof buf, NULL));
    EXPECT(LLMDB_E_NULL_ARGUMENT, llmdb_get_into(db, 0, "null-args", 9, U, L, U, NULL, 16, &f));
    {
        size_t vl;
        int32_t vt;
        EXPECT(LLMDB_E_NULL_ARGUMENT, llmdb_get_value(db, 0, NULL, 3, U, L, U, buf, sizeof buf, &vl, &vt));
        EXPECT(LLMDB_E_NULL_ARGUMENT, llmdb_get_value(db, 0, "null-args", 9, U, L, U, buf, sizeof buf, NULL, &vt));
        EXPECT(LLMDB_E_NULL_ARGUMENT, llmdb_get_value(db, 0, "null-args", 9, U, L, U, buf, sizeof buf, &vl, NULL));
        EXPECT(LLMDB_E_NULL_ARGUMENT, llmdb_tx_at(db, 0, NULL));
    }
    EXPECT(LLMDB_E_NULL_ARGUMENT, llmdb_history(db, 0, NULL, 3, L, 0, &json, &len));
    EXPECT(LLMDB_E_NULL_ARGUMENT, llmdb_history(db, 0, "k", 1, L, 0, NULL, &len));
    EXPECT(LLMDB_E_NULL_ARGUMENT, llmdb_timeline(db, 0, NULL, 3, L, U, U, &json, &len));
    EXPECT(LLMDB_E_NULL_ARGUMENT, llmdb_timeline(db, 0, "k", 1, L, U, U, NULL, &len));
    EXPECT(LLMDB_E_NULL_ARGUMENT, llmdb_versions(db, 0, NULL, 3, L, &json, &len));
    EXPECT(LLMDB_E_NULL_ARGUMENT, llmdb_versions(db, 0, "k", 1, L, NULL, &len));
    EXPECT(LLMDB_E_NULL_ARGUMENT, llmdb_scan(db, 0, NULL, 3, U, L, U, &it));
    EXPECT(LLMDB_E_NULL_ARGUMENT, llmdb_scan(db, 0, "k", 1, U, L, U, NULL));
    EXPECT(LLMDB_E_NULL_ARGUMENT, llmdb_query(db, NULL, NULL, &json, &len));
    EXPECT(LLMDB_E_NULL_ARGUMENT, llmdb_query(db, "SELECT key FROM kv", NULL, NULL, &len));

    typedef llmdb_status (*json_op)(llmdb *, const char *, char **, size_t *);
    static const struct {
        const char *name;
        json_op op;
        const char *args;
    } ops[] = {
        {"remember", llmdb_remember, "{\"key\":\"agent:fact:n\",\"content\":\"n\"}"},
        {"recall", llmdb_recall, "{\"query\":\"n\"}"},
        {"correct", llmdb_correct, "{\"key\":\"agent:fact:n\",\"reason\":\"r\",\"content\":\"m\"}"},
        {"forget", llmdb_forget, "{\"key\":\"agent:fact:n\"}"},
        {"memory_history", llmdb_memory_history, "{\"key\":\"agent:fact:n\"}"},
        {"memory_evolution", llmdb_memory_evolution, "{\"prefix\":\"agent:\"}"},
        {"memory_as_of", llmdb_memory_as_of, "{\"tx\":1}"},
        {"memory_rollback", llmdb_memory_rollback, "{\"prefix\":\"agent:fact:n\",\"tx\":1,\"reason\":\"r\"}"},
        {"memory_namespaces", llmdb_memory_namespaces, "{}"},
    };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        llmdb_status s = ops[i].op(db, NULL, &json, &len);
        if (s != LLMDB_E_NULL_ARGUMENT) fail_status(__FILE__, __LINE__, ops[i].name, s, LLMDB_E_NULL_ARGUMENT);
        s = ops[i].op(db, ops[i].args, NULL, &len);
        if (s != LLMDB_E_NULL_ARGUMENT) fail_status(__FILE__, __LINE__, ops[i].name, s, LLMDB_E_NULL_ARGUMENT);
        /* Invalid UTF-8, and JSON that does not parse or is not an object. */
        s = ops[i].op(db, bad_utf8, &json, &len);
        if (s != LLMDB_E_INVALID_UTF8) fail_status(__FILE__, __LINE__, ops[i].name, s, LLMDB_E_INVALID_UTF8);
        s = ops[i].op(db, "{\"key\":", &json, &len);
        if (s != LLMDB_E_INVALID_JSON) fail_status(__FILE__, __LINE__, ops[i].name, s, LLMDB_E_INVALID_JSON);
        s = ops[i].op(db, "[1,2]", &json, &len);
        if (s != LLMDB_E_INVALID_ARGUMENT) fail_status(__FILE__, __LINE__, ops[i].name, s, LLMDB_E_INVALID_ARGUMENT);
        /* Unknown fields are refused (with the valid ones beside them). */
        char with_unknown[512];
        size_t n = strlen(ops[i].args); /* "{…}" becomes "{…,\"no_such_field\":1}" */
        snprintf(with_unknown, sizeof with_unknown, "%.*s%s\"no_such_field\":1}", (int)(n - 1), ops[i].args,
                 n > 2 ? "," : "");
        s = ops[i].op(db, with_unknown, &json, &len);
        if (s != LLMDB_E_INVALID_ARGUMENT) fail_status(__FILE__, __LINE__, with_unknown, s, LLMDB_E_INVALID_ARGUMENT);
        JSON_HAS(llmdb_last_error(), "no_such_field");
    }
    EXPECT(LLMDB_E_NULL_ARGUMENT, llmdb_call(db, NULL, "{}", &json, &len));
    EXPECT(LLMDB_E_NULL_ARGUMENT, llmdb_call(db, "getFact", NULL, &json, &len));
    EXPECT(LLMDB_E_NULL_ARGUMENT, llmdb_call(db, "getFact", "{\"key\":\"k\"}", NULL, &len));
    EXPECT(LLMDB_E_NULL_ARGUMENT, llmdb_code_add(db, NULL, "(module)", 8, NULL, NULL, &json, &len));
    EXPECT(LLMDB_E_NULL_ARGUMENT, llmdb_code_add(db, "m", NULL, 8, NULL, NULL, &json, &len));
    EXPECT(LLMDB_E_NULL_ARGUMENT, llmdb_code_add(db, "m", "(module)", 8, NULL, NULL, NULL, &len));
    EXPECT(LLMDB_E_NULL_ARGUMENT, llmdb_code_list(db, NULL, &len));
    EXPECT(LLMDB_E_NULL_ARGUMENT, llmdb_code_remove(db, NULL, 0, &tx));
    CHECK(json == (char *)0x1 && len == 12345 && it == (llmdb_iter *)0x1);

    it = NULL;
    OK(llmdb_scan(db, 0, "null-args", 9, U, L, U, &it));
    const uint8_t *key;
    size_t key_len;
    llmdb_fact row;
    EXPECT(LLMDB_E_NULL_ARGUMENT, llmdb_iter_next(it, NULL, &key_len, &row));
    EXPECT(LLMDB_E_NULL_ARGUMENT, llmdb_iter_next(it, &key, NULL, &row));
    EXPECT(LLMDB_E_NULL_ARGUMENT, llmdb_iter_next(it, &key, &key_len, NULL));
    OK(llmdb_iter_close(it));

    /* Optional pointers: NULL len_out, NULL tx_out, NULL params, an empty prefix given as
     * NULL with length 0. */
    json = NULL;
    OK(llmdb_history(db, 0, "null-args", 9, L, 0, &json, NULL));
    JSON_HAS(json, "\"value\":1");
    llmdb_free(json);
    json = NULL;
    OK(llmdb_code_list(db, &json, NULL));
    CHECK(json != NULL);
    llmdb_free(json);
    OK(llmdb_scan(db, 0, NULL, 0, U, L, U, &it));
    OK(llmdb_iter_close(it));
    OK(llmdb_versions(db, 0, NULL, 0, L, &json, &len));
    CHECK(len == strlen(json));
    llmdb_free(json);
}

/* ---- Invalid UTF-8 in text arguments ------------------------------------------------- */

static void test_utf8(llmdb *db) {
    char *json = (char *)0x1;
    size_t len = 12345;
    uint64_t tx = 12345;
    const char *bad[] = {bad_utf8, truncated_utf8, overlong_utf8, surrogate_utf8};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *b = bad[i];
        llmdb *out = (llmdb *)0x1;
        EXPECT(LLMDB_E_INVALID_UTF8, llmdb_open(b, NULL, &out));
        EXPECT(LLMDB_E_INVALID_UTF8, llmdb_query(db, b, NULL, &json, &len));
        EXPECT(LLMDB_E_INVALID_UTF8, llmdb_query(db, "SELECT key FROM kv", b, &json, &len));
        EXPECT(LLMDB_E_INVALID_UTF8, llmdb_remember(db, b, &json, &len));
        EXPECT(LLMDB_E_INVALID_UTF8, llmdb_call(db, b, "{}", &json, &len));
        EXPECT(LLMDB_E_INVALID_UTF8, llmdb_call(db, "getFact", b, &json, &len));
        EXPECT(LLMDB_E_INVALID_UTF8, llmdb_code_add(db, b, "(module)", 8, NULL, NULL, &json, &len));
        EXPECT(LLMDB_E_INVALID_UTF8, llmdb_code_add(db, "m", "(module)", 8, b, NULL, &json, &len));
        EXPECT(LLMDB_E_INVALID_UTF8, llmdb_code_add(db, "m", "(module)", 8, NULL, b, &json, &len));
        EXPECT(LLMDB_E_INVALID_UTF8, llmdb_code_remove(db, b, 0, &tx));
        CHECK(out == (llmdb *)0x1);
    }
    /* Invalid UTF-8 inside a JSON string of the arguments. */
    char args[128];
    snprintf(args, sizeof args, "{\"key\":\"agent:fact:%s\",\"content\":\"x\"}", bad_utf8);
    EXPECT(LLMDB_E_INVALID_UTF8, llmdb_remember(db, args, &json, &len));
    CHECK(json == (char *)0x1 && len == 12345 && tx == 12345);
    /* Keys are bytes, not text: a key that is not UTF-8 is fine. */
    llmdb_txn *t = NULL;
    OK(llmdb_txn_begin(db, LLMDB_TIME_UNSET, &t));
    OK(llmdb_txn_put(t, 0, bad_utf8, strlen(bad_utf8), "1", 1, LLMDB_VALUE_JSON, LLMDB_TIME_UNSET, LLMDB_TIME_UNSET));
    OK(llmdb_txn_commit(t, NULL, NULL));
    EXPECT_GET(db, bad_utf8, LLMDB_TIME_UNSET, LLMDB_TX_LATEST, LLMDB_TIME_UNSET, "1", NULL);
}

/* ---- Bitemporal writes and as-of reads ------------------------------------------------ */

/* Run first on a fresh database: explicit transaction times T0 + n seconds. */
static void test_bitemporal(llmdb *db) {
    const llmdb_time U = LLMDB_TIME_UNSET;
    const uint64_t L = LLMDB_TX_LATEST;
    llmdb_time tt1, tt2, tt3;
    /* tx1: price = 10 from VF0, open. tx2: 8 over [VA, VB). tx3: a correction of tx2: 9
     * over [VA, VB) (the same valid_from, a later transaction). */
    uint64_t tx1 = commit_put(db, T0 + 1 * SEC, "price", "10", VF0, U, &tt1);
    uint64_t tx2 = commit_put(db, T0 + 2 * SEC, "price", "8", VA, VB, &tt2);
    uint64_t tx3 = commit_put(db, T0 + 3 * SEC, "price", "9", VA, VB, &tt3);
    CHECK(tx1 == 1 && tx2 == 2 && tx3 == 3);
    CHECK(tt1 == T0 + SEC && tt2 == T0 + 2 * SEC && tt3 == T0 + 3 * SEC);

    llmdb_fact f;
    /* Latest: the correction, over [VA, VB). */
    EXPECT_GET(db, "price", VA + 1, L, U, "9", &f);
    CHECK(f.valid_from == VA && f.valid_to == VB && f.tx == tx3 && f.tx_time == tt3);
    CHECK(f.value_type == LLMDB_VALUE_JSON);
    EXPECT_GET(db, "price", VA, L, U, "9", NULL);           /* valid_from is inclusive */
    EXPECT_GET(db, "price", VB - 1, L, U, "9", NULL);
    /* As of tx2: before the correction. */
    EXPECT_GET(db, "price", VA + 1, tx2, U, "8", &f);
    CHECK(f.valid_from == VA && f.valid_to == VB && f.tx == tx2 && f.tx_time == tt2);
    /* As of tx1: the first value, open-ended. */
    EXPECT_GET(db, "price", VA + 1, tx1, U, "10", &f);
    CHECK(f.valid_from == VF0 && f.valid_to == LLMDB_TIME_END && f.tx == tx1 && f.tx_time == tt1);
    /* get_value: the same values, without the times. */
    {
        char vb[8];
        size_t vl = 0;
        int32_t vt = -1;
        OK(llmdb_get_value(db, 0, "price", 5, VA + 1, L, U, vb, sizeof vb, &vl, &vt));
        CHECK(vl == 1 && vb[0] == '9' && vt == LLMDB_VALUE_JSON);
        OK(llmdb_get_value(db, 0, "price", 5, VA + 1, tx2, U, vb, sizeof vb, &vl, &vt));
        CHECK(vl == 1 && vb[0] == '8');
        OK(llmdb_get_value(db, 0, "price", 5, VA + 1, L, tt1, vb, sizeof vb, &vl, &vt));
        CHECK(vl == 2 && memcmp(vb, "10", 2) == 0);
        EXPECT(LLMDB_E_BUFFER_TOO_SMALL, llmdb_get_value(db, 0, "price", 5, VA + 1, tx1, U, vb, 1, &vl, &vt));
        CHECK(vl == 2 && vt == LLMDB_VALUE_JSON);
        EXPECT(LLMDB_NOT_FOUND, llmdb_get_value(db, 0, "price", 5, VF0 - 1, L, U, vb, sizeof vb, &vl, &vt));
        EXPECT(LLMDB_E_INVALID_ARGUMENT, llmdb_get_value(db, 0, "price", 5, VA + 1, tx1, tt1, vb, sizeof vb, &vl, &vt));
        /* tx_at: the last transaction at or before a time; 0 before the first. */
        uint64_t at = 99;
        OK(llmdb_tx_at(db, tt2, &at));
        CHECK(at == tx2);
        OK(llmdb_tx_at(db, tt2 + SEC / 2, &at));
        CHECK(at == tx2);
        OK(llmdb_tx_at(db, tt1 - 1, &at));
        CHECK(at == 0);
        OK(llmdb_tx_at(db, LLMDB_TIME_END, &at));
        CHECK(at >= tx3);
    }
    /* By transaction time: the last transaction at or before it. */
    EXPECT_GET(db, "price", VA + 1, L, tt2, "8", NULL);
    EXPECT_GET(db, "price", VA + 1, L, tt2 + SEC / 2, "8", NULL);
    EXPECT_GET(db, "price", VA + 1, L, tt3 - 1, "8", NULL);
    EXPECT_GET(db, "price", VA + 1, L, tt3, "9", NULL);
    EXPECT_GET(db, "price", VA + 1, L, tt1, "10", NULL);
    EXPECT_GET(db, "price", VA + 1, L, tt1 - 1, NULL, NULL); /* before any transaction */
    EXPECT_GET(db, "price", VA + 1, L, LLMDB_TIME_END, "9", NULL);
    /* By valid time: before, inside and after the window (the old value comes back at VB),
     * and now (valid_at unset). */
    EXPECT_GET(db, "price", VF0 - 1, L, U, NULL, NULL);
    EXPECT_GET(db, "price", VF0, L, U, "10", &f);
    CHECK(f.valid_from == VF0 && f.valid_to == VA && f.tx == tx1);
    EXPECT_GET(db, "price", VB, L, U, "10", &f);
    CHECK(f.valid_from == VB && f.valid_to == LLMDB_TIME_END);
    EXPECT_GET(db, "price", U, L, U, "10", NULL);
    EXPECT_GET(db, "price", LLMDB_TIME_BEGINNING, L, U, NULL, NULL);
    /* tx and tx_time together: refused. */
    EXPECT(LLMDB_E_INVALID_ARGUMENT, llmdb_get(db, 0, "price", 5, VA + 1, tx2, tt2, &f));
    /* Another partition holds other keys. */
    EXPECT(LLMDB_NOT_FOUND, llmdb_get(db, 7, "price", 5, VA + 1, L, U, &f));

    /* History: with and without corrections; as of a transaction. */
    char *json = NULL;
    size_t len = 0;
    OK(llmdb_history(db, 0, "price", 5, L, 0, &json, &len));
    CHECK(len == strlen(json));
    JSON_HAS(json, "\"key\":\"price\"");
    JSON_HAS(json, "\"value\":10");
    JSON_HAS(json, "\"value\":9");
    JSON_LACKS(json, "\"value\":8");       /* corrected by tx3 */
    JSON_HAS(json, "\"retracted\":false");
    JSON_LACKS(json, "\"retracted\":true");
    JSON_HAS(json, "\"partition\":0");
    JSON_COUNT(json, "\"tx\":2", 0);
    CHECK(json[0] == '[');
    /* In valid-time order: 10 (VF0), 9 (VA), then 10 again (VB). */
    {
        char *c = compact(json);
        char *a = strstr(c, "\"value\":10"), *b = strstr(c, "\"value\":9");
        CHECK(a && b && a < b && strstr(b, "\"value\":10"));
        free(c);
    }
    int without = count_of(json, "\"valid_from\"");
    llmdb_free(json);
    OK(llmdb_history(db, 0, "price", 5, L, 1, &json, &len));
    JSON_HAS(json, "\"value\":8");
    JSON_HAS(json, "\"value\":9");
    JSON_HAS(json, "\"tx\":2");
    CHECK(count_of(json, "\"valid_from\"") > without);
    llmdb_free(json);
    /* As of tx1: only tx1's value. (The core may show it split at VB, where tx2 restored
     * it: a split keeps the value and the tx of the entry it splits.) */
    OK(llmdb_history(db, 0, "price", 5, tx1, 1, &json, &len));
    JSON_HAS(json, "\"value\":10");
    JSON_LACKS(json, "\"value\":8");
    JSON_LACKS(json, "\"value\":9");
    JSON_COUNT(json, "\"tx\":1,", count_of(json, "\"value\":"));
    llmdb_free(json);
    OK(llmdb_history(db, 0, "nothing-here", 12, L, 1, &json, &len));
    JSON_COUNT(json, "[]", 1);
    CHECK(len == 2);
    llmdb_free(json);

    /* Timeline: runs of equal values over valid time. */
    OK(llmdb_timeline(db, 0, "price", 5, L, U, U, &json, &len));
    CHECK(len == strlen(json));
    JSON_COUNT(json, "\"value\":", 3);
    JSON_COUNT(json, "\"value\":9", 1);
    JSON_COUNT(json, "\"value\":10", 2);
    llmdb_free(json);
    OK(llmdb_timeline(db, 0, "price", 5, tx2, U, U, &json, &len));
    JSON_COUNT(json, "\"value\":8", 1);
    JSON_LACKS(json, "\"value\":9");
    llmdb_free(json);
    OK(llmdb_timeline(db, 0, "price", 5, L, VB + 1, U, &json, &len)); /* after the window */
    JSON_COUNT(json, "\"value\":", 1);
    JSON_HAS(json, "\"value\":10");
    llmdb_free(json);
    OK(llmdb_timeline(db, 0, "price", 5, L, VA, VA + 1, &json, &len)); /* inside it */
    JSON_COUNT(json, "\"value\":", 1);
    JSON_HAS(json, "\"value\":9");
    llmdb_free(json);
    EXPECT(LLMDB_E_INVALID_TIME_RANGE, llmdb_timeline(db, 0, "price", 5, L, VB, VA, &json, &len));

    /* Versions: every entry of every key under a prefix, corrections included. */
    CHECK(commit_put(db, T0 + 4 * SEC, "pricing-note", "\"n\"", VF0, U, NULL) == 4);
    OK(llmdb_versions(db, 0, "pric", 4, L, &json, &len));
    CHECK(len == strlen(json));
    JSON_HAS(json, "\"value\":8");
    JSON_HAS(json, "\"value\":9");
    JSON_HAS(json, "\"value\":10");
    JSON_HAS(json, "\"key\":\"pricing-note\"");
    {
        /* By key: price's entries before pricing-note's. */
        char *c = compact(json);
        char *p = strstr(c, "\"key\":\"price\""), *n = strstr(c, "\"key\":\"pricing-note\"");
        CHECK(p && n && p < n && !strstr(n, "\"key\":\"price\""));
        free(c);
    }
    llmdb_free(json);
    OK(llmdb_versions(db, 0, "pric", 4, tx1, &json, &len));
    JSON_HAS(json, "\"value\":10");
    JSON_LACKS(json, "\"value\":8");
    JSON_LACKS(json, "\"value\":9");
    JSON_LACKS(json, "pricing-note");
    llmdb_free(json);

    /* A retraction from VD, open-ended: absent after it, there before it and in the past. */
    llmdb_txn *t = NULL;
    OK(llmdb_txn_begin(db, T0 + 5 * SEC, &t));
    OK(llmdb_txn_delete(t, 0, "price", 5, VD, U));
    uint64_t tx5 = 0;
    OK(llmdb_txn_commit(t, &tx5, NULL));
    CHECK(tx5 == 5);
    EXPECT_GET(db, "price", VD + 1, L, U, NULL, NULL);
    EXPECT_GET(db, "price", U, L, U, NULL, NULL);
    EXPECT_GET(db, "price", VD - 1, L, U, "10", &f);
    CHECK(f.valid_from == VB && f.valid_to == VD);
    EXPECT_GET(db, "price", VD + 1, tx3, U, "10", NULL);
    OK(llmdb_history(db, 0, "price", 5, L, 0, &json, &len));
    JSON_COUNT(json, "\"retracted\":true", 1);
    llmdb_free(json);
    /* A retraction over a window only: the value comes back after it. */
    commit_put(db, T0 + 6 * SEC, "window", "\"w\"", VF0, U, NULL);
    OK(llmdb_txn_begin(db, T0 + 7 * SEC, &t));
    OK(llmdb_txn_delete(t, 0, "window", 6, VA, VB));
    OK(llmdb_txn_commit(t, NULL, NULL));
    EXPECT_GET(db, "window", VA - 1, L, U, "\"w\"", NULL);
    EXPECT_GET(db, "window", VA, L, U, NULL, NULL);
    EXPECT_GET(db, "window", VB, L, U, "\"w\"", NULL);

    /* Erase: every entry, for all times; history is empty afterwards. */
    commit_put(db, T0 + 8 * SEC, "secret", "\"s1\"", VF0, U, NULL);
    uint64_t tx_s2 = commit_put(db, T0 + 9 * SEC, "secret", "\"s2\"", VA, U, NULL);
    OK(llmdb_txn_begin(db, T0 + 10 * SEC, &t));
    OK(llmdb_txn_erase(t, 0, "secret", 6));
    OK(llmdb_txn_commit(t, NULL, NULL));
    EXPECT_GET(db, "secret", VA + 1, L, U, NULL, NULL);
    EXPECT_GET(db, "secret", VA + 1, tx_s2, U, NULL, NULL);
    EXPECT_GET(db, "secret", VF0, L, T0 + 8 * SEC, NULL, NULL);
    OK(llmdb_history(db, 0, "secret", 6, L, 1, &json, &len));
    CHECK(strcmp(json, "[]") == 0);
    llmdb_free(json);
    OK(llmdb_versions(db, 0, "secret", 6, L, &json, &len));
    CHECK(strcmp(json, "[]") == 0);
    llmdb_free(json);

    /* Transaction times must increase: an explicit time at or before the last one is
     * refused (at begin or at commit), and nothing is written. */
    llmdb_time last = T0 + 10 * SEC;
    llmdb_time stale[] = {last, last - 1, T0, 1, LLMDB_TIME_BEGINNING};
    for (size_t i = 0; i < sizeof stale / sizeof stale[0]; i++) {
        llmdb_status s;
        t = (llmdb_txn *)0x1;
        EXPECT_EITHER(s, LLMDB_OK, LLMDB_E_TX_TIME_NOT_INCREASING, llmdb_txn_begin(db, stale[i], &t));
        if (s == LLMDB_OK) {
            OK(put_json(t, 0, "stale", "1", U, U));
            uint64_t txs = 99;
            EXPECT(LLMDB_E_TX_TIME_NOT_INCREASING, llmdb_txn_commit(t, &txs, NULL));
            CHECK(txs == 99);
        } else {
            CHECK(t == (llmdb_txn *)0x1);
        }
    }
    EXPECT_GET(db, "stale", U, L, U, NULL, NULL);
    commit_put(db, last + 1, "after-stale", "1", U, U, NULL);
    /* valid_from unset: the transaction time. */
    EXPECT_GET(db, "after-stale", last + 1, L, U, "1", &f);
    CHECK(f.valid_from == last + 1 && f.tx_time == last + 1);
    EXPECT_GET(db, "after-stale", last, L, U, NULL, NULL);
}

/* ---- Transaction errors, expect, abort ------------------------------------------------ */

static void test_txn_errors(llmdb *db) {
    const llmdb_time U = LLMDB_TIME_UNSET;
    const uint64_t L = LLMDB_TX_LATEST;
    llmdb_txn *t = NULL;
    OK(llmdb_txn_begin(db, U, &t));
    /* Empty key (as a put, a delete, an erase, an expect). */
    EXPECT(LLMDB_E_EMPTY_KEY, llmdb_txn_put(t, 0, "", 0, "1", 1, LLMDB_VALUE_JSON, U, U));
    EXPECT(LLMDB_E_EMPTY_KEY, llmdb_txn_delete(t, 0, "", 0, U, U));
    EXPECT(LLMDB_E_EMPTY_KEY, llmdb_txn_erase(t, 0, "", 0));
    EXPECT(LLMDB_E_EMPTY_KEY, llmdb_txn_expect(t, 0, "", 0, LLMDB_EXPECT_ABSENT, 0));
    /* Key too long: 600 bytes (LMDB's keys are at most 511). */
    char longkey[600];
    memset(longkey, 'k', sizeof longkey);
    EXPECT(LLMDB_E_KEY_TOO_LONG, llmdb_txn_put(t, 0, longkey, sizeof longkey, "1", 1, LLMDB_VALUE_JSON, U, U));
    EXPECT(LLMDB_E_KEY_TOO_LONG, llmdb_txn_delete(t, 0, longkey, sizeof longkey, U, U));
    EXPECT(LLMDB_E_KEY_TOO_LONG, llmdb_txn_erase(t, 0, longkey, sizeof longkey));
    /* Values: invalid JSON, JSON null, invalid MessagePack, an unknown type. */
    static const char *bad_json[] = {"{", "{\"a\":}", "nul", "[1,2", "'single'", "1 2", ""};
    for (size_t i = 0; i < sizeof bad_json / sizeof bad_json[0]; i++)
        EXPECT(LLMDB_E_INVALID_JSON,
               llmdb_txn_put(t, 0, "v", 1, bad_json[i], strlen(bad_json[i]), LLMDB_VALUE_JSON, U, U));
    llmdb_status s = llmdb_txn_put(t, 0, "v", 1, "\"\xff\"", 3, LLMDB_VALUE_JSON, U, U);
    if (s != LLMDB_E_INVALID_JSON && s != LLMDB_E_INVALID_UTF8)
        fail_status(__FILE__, __LINE__, "a JSON value that is not UTF-8", s, LLMDB_E_INVALID_JSON);
    EXPECT(LLMDB_E_NULL_VALUE, llmdb_txn_put(t, 0, "v", 1, "null", 4, LLMDB_VALUE_JSON, U, U));
    EXPECT(LLMDB_E_INVALID_VALUE, llmdb_txn_put(t, 0, "v", 1, "\xc1", 1, LLMDB_VALUE_MSGPACK, U, U));
    EXPECT(LLMDB_E_INVALID_VALUE, llmdb_txn_put(t, 0, "v", 1, "\x92\x01", 2, LLMDB_VALUE_MSGPACK, U, U));
    /* A type a put does not take: unknown_value_tag or invalid_argument (the header names
     * only the three LLMDB_VALUE_* for a put). */
    EXPECT_EITHER(s, LLMDB_E_UNKNOWN_VALUE_TAG, LLMDB_E_INVALID_ARGUMENT, llmdb_txn_put(t, 0, "v", 1, "x", 1, 0x77, U, U));
    /* Not a byte; the tombstone's tag (a put is not a delete): refused, one way or another. */
    EXPECT_ERROR(llmdb_txn_put(t, 0, "v", 1, "x", 1, -1, U, U));
    EXPECT_ERROR(llmdb_txn_put(t, 0, "v", 1, "x", 1, 256, U, U));
    EXPECT_ERROR(llmdb_txn_put(t, 0, "v", 1, "", 0, 0xFF, U, U));
    /* Time ranges: valid_to <= valid_from; valid_from at the end of time. */
    EXPECT(LLMDB_E_INVALID_TIME_RANGE, put_json(t, 0, "v", "1", VB, VA));
    EXPECT(LLMDB_E_INVALID_TIME_RANGE, put_json(t, 0, "v", "1", VA, VA));
    EXPECT(LLMDB_E_INVALID_TIME_RANGE, llmdb_txn_delete(t, 0, "v", 1, VB, VA));
    EXPECT(LLMDB_E_INVALID_TIME_RANGE, put_json(t, 0, "v", "1", LLMDB_TIME_END, U));
    /* The reserved partition. */
    EXPECT(LLMDB_E_RESERVED_PARTITION, put_json(t, 0xFFFFFFFFu, "v", "1", U, U));
    EXPECT(LLMDB_E_RESERVED_PARTITION, llmdb_txn_delete(t, 0xFFFFFFFFu, "v", 1, U, U));
    EXPECT(LLMDB_E_RESERVED_PARTITION, llmdb_txn_erase(t, 0xFFFFFFFFu, "v", 1));
    /* An unknown expectation. */
    EXPECT(LLMDB_E_INVALID_ARGUMENT, llmdb_txn_expect(t, 0, "v", 1, 3, 0));
    EXPECT(LLMDB_E_INVALID_ARGUMENT, llmdb_txn_expect(t, 0, "v", 1, -1, 0));
    /* None of those was added: the transaction commits what is valid. */
    OK(put_json(t, 0, "txn-errors", "\"ok\"", U, U));
    OK(put_json(t, 5, "in-partition-5", "5", U, U));
    uint64_t tx = 0;
    OK(llmdb_txn_commit(t, &tx, NULL));
    char *json = (char *)0x1;
    EXPECT_GET(db, "txn-errors", U, tx, U, "\"ok\"", NULL);
    EXPECT_GET(db, "v", U, L, U, NULL, NULL);
    llmdb_fact f;
    OK(llmdb_get(db, 5, "in-partition-5", 14, U, L, U, &f));
    CHECK(f.value_len == 1 && f.value[0] == '5' && f.tx == tx);
    llmdb_free((void *)f.value);
    EXPECT(LLMDB_NOT_FOUND, llmdb_get(db, 0, "in-partition-5", 14, U, L, U, &f));

    /* Reads check keys as writes do. */
    EXPECT(LLMDB_E_KEY_TOO_LONG, llmdb_get(db, 0, longkey, sizeof longkey, U, L, U, &f));
    EXPECT(LLMDB_E_EMPTY_KEY, llmdb_get(db, 0, "", 0, U, L, U, &f));
    EXPECT(LLMDB_E_KEY_TOO_LONG, llmdb_history(db, 0, longkey, sizeof longkey, L, 0, &json, NULL));
    EXPECT(LLMDB_E_EMPTY_KEY, llmdb_timeline(db, 0, "", 0, L, U, U, &json, NULL));

    /* valid_to before the transaction time, with valid_from unset (the transaction time):
     * refused at the put or at the commit, nothing written. */
    OK(llmdb_txn_begin(db, U, &t));
    OK(put_json(t, 0, "range-late", "1", U, U));
    EXPECT_EITHER(s, LLMDB_OK, LLMDB_E_INVALID_TIME_RANGE, put_json(t, 0, "range", "1", U, VF0));
    if (s == LLMDB_OK) EXPECT(LLMDB_E_INVALID_TIME_RANGE, llmdb_txn_commit(t, NULL, NULL));
    else OK(llmdb_txn_abort(t));
    EXPECT_GET(db, "range-late", U, L, U, NULL, NULL);
    /* The end of time is no transaction time. */
    EXPECT_EITHER(s, LLMDB_OK, LLMDB_E_INVALID_TIME_RANGE, llmdb_txn_begin(db, LLMDB_TIME_END, &t));
    if (s == LLMDB_OK) {
        OK(put_json(t, 0, "at-the-end", "1", U, U));
        EXPECT(LLMDB_E_INVALID_TIME_RANGE, llmdb_txn_commit(t, NULL, NULL));
    }

    /* Reads do not see a transaction before it commits; abort discards it. */
    OK(llmdb_txn_begin(db, U, &t));
    OK(put_json(t, 0, "aborted", "1", U, U));
    EXPECT_GET(db, "aborted", U, L, U, NULL, NULL);
    OK(llmdb_txn_abort(t));
    EXPECT_GET(db, "aborted", U, L, U, NULL, NULL);
    /* An empty transaction commits (a transaction with no operations). */
    OK(llmdb_txn_begin(db, U, &t));
    uint64_t empty_tx = 0;
    llmdb_status es;
    EXPECT_EITHER(es, LLMDB_OK, LLMDB_E_INVALID_ARGUMENT, llmdb_txn_commit(t, &empty_tx, NULL));
    if (es == LLMDB_OK) CHECK(empty_tx == tx + 1);
}

static void test_expect(llmdb *db) {
    const llmdb_time U = LLMDB_TIME_UNSET;
    const uint64_t L = LLMDB_TX_LATEST;
    uint64_t txa = commit_put(db, U, "cas", "\"a\"", U, U, NULL);
    llmdb_txn *t = NULL;

    /* VERSION holds: the put goes in. */
    OK(llmdb_txn_begin(db, U, &t));
    OK(llmdb_txn_expect(t, 0, "cas", 3, LLMDB_EXPECT_VERSION, txa));
    OK(llmdb_txn_expect(t, 0, "cas", 3, LLMDB_EXPECT_PRESENT, 0));
    OK(llmdb_txn_expect(t, 0, "cas-new", 7, LLMDB_EXPECT_ABSENT, 0));
    OK(put_json(t, 0, "cas", "\"b\"", U, U));
    OK(put_json(t, 0, "cas-new", "1", U, U));
    uint64_t txb = 0;
    OK(llmdb_txn_commit(t, &txb, NULL));
    EXPECT_GET(db, "cas", U, L, U, "\"b\"", NULL);

    /* Each failing expectation: LLMDB_E_CONFLICT, nothing of the transaction written (the
     * puts before and after it), no transaction id used. */
    struct {
        const char *key;
        int32_t expectation;
        uint64_t tx;
    } failing[] = {
        {"cas", LLMDB_EXPECT_VERSION, 0}, /* txa, set below: no longer the version */
        {"cas", LLMDB_EXPECT_ABSENT, 0},
        {"cas-none", LLMDB_EXPECT_PRESENT, 0},
        {"cas-none", LLMDB_EXPECT_VERSION, 0},
    };
    failing[0].tx = txa;
    failing[3].tx = txb;
    for (size_t i = 0; i < sizeof failing / sizeof failing[0]; i++) {
        OK(llmdb_txn_begin(db, U, &t));
        OK(put_json(t, 0, "cas-side", "1", U, U));
        OK(llmdb_txn_expect(t, 0, failing[i].key, strlen(failing[i].key), failing[i].expectation, failing[i].tx));
        OK(put_json(t, 0, "cas", "\"c\"", U, U));
        uint64_t txc = 4242;
        llmdb_time ttc = 4242;
        EXPECT(LLMDB_E_CONFLICT, llmdb_txn_commit(t, &txc, &ttc));
        CHECK(txc == 4242 && ttc == 4242);
        EXPECT_GET(db, "cas", U, L, U, "\"b\"", NULL);
        EXPECT_GET(db, "cas-side", U, L, U, NULL, NULL);
    }
    /* Expectations see the earlier operations of their own transaction. */
    OK(llmdb_txn_begin(db, U, &t));
    OK(llmdb_txn_delete(t, 0, "cas", 3, U, U));
    OK(llmdb_txn_expect(t, 0, "cas", 3, LLMDB_EXPECT_ABSENT, 0));
    OK(put_json(t, 0, "cas", "\"d\"", U, U));
    uint64_t txd = 0;
    OK(llmdb_txn_commit(t, &txd, NULL));
    CHECK(txd > txb);
    EXPECT_GET(db, "cas", U, L, U, "\"d\"", NULL);
}

/* ---- Values and get_into ------------------------------------------------------------- */

static void test_values(llmdb *db) {
    const llmdb_time U = LLMDB_TIME_UNSET;
    const uint64_t L = LLMDB_TX_LATEST;
    static const uint8_t raw[] = {0x00, 0x01, 0xFF, 0x00, 'r', 'a', 'w'};
    static const uint8_t msgpack[] = {0x93, 0x01, 0x02, 0xA1, 'x'}; /* [1, 2, "x"] */
    static const char big_json[] = "{\"text\":\"hello, world: a value longer than a small buffer\",\"n\":42}";
    llmdb_txn *t = NULL;
    OK(llmdb_txn_begin(db, U, &t));
    OK(llmdb_txn_put(t, 0, "raw", 3, raw, sizeof raw, LLMDB_VALUE_RAW, U, U));
    OK(llmdb_txn_put(t, 0, "raw-empty", 9, "", 0, LLMDB_VALUE_RAW, U, U));
    OK(llmdb_txn_put(t, 0, "msgpack", 7, msgpack, sizeof msgpack, LLMDB_VALUE_MSGPACK, U, U));
    OK(put_json(t, 0, "big", big_json, U, U));
    uint8_t binkey[] = {0x00, 0xFF, 0x00, 0x7F};
    OK(llmdb_txn_put(t, 0, binkey, sizeof binkey, "1", 1, LLMDB_VALUE_JSON, U, U));
    uint64_t tx = 0;
    llmdb_time tt = 0;
    OK(llmdb_txn_commit(t, &tx, &tt));

    llmdb_fact f;
    OK(llmdb_get(db, 0, "raw", 3, U, L, U, &f));
    CHECK(f.value_type == LLMDB_VALUE_RAW && f.value_len == sizeof raw && memcmp(f.value, raw, sizeof raw) == 0);
    CHECK(f.tx == tx && f.tx_time == tt && f.valid_from == tt && f.valid_to == LLMDB_TIME_END);
    llmdb_free((void *)f.value);
    OK(llmdb_get(db, 0, "raw-empty", 9, U, L, U, &f));
    CHECK(f.value_type == LLMDB_VALUE_RAW && f.value_len == 0);
    llmdb_free((void *)f.value);
    OK(llmdb_get(db, 0, "msgpack", 7, U, L, U, &f));
    CHECK(f.value_type == LLMDB_VALUE_MSGPACK && f.value_len == sizeof msgpack &&
          memcmp(f.value, msgpack, sizeof msgpack) == 0);
    llmdb_free((void *)f.value);
    OK(llmdb_get(db, 0, binkey, sizeof binkey, U, L, U, &f));
    CHECK(f.value_len == 1 && f.value[0] == '1');
    llmdb_free((void *)f.value);
    /* A key that is a prefix of another is a different key. */
    EXPECT(LLMDB_NOT_FOUND, llmdb_get(db, 0, binkey, 3, U, L, U, &f));
    EXPECT(LLMDB_NOT_FOUND, llmdb_get(db, 0, "ra", 2, U, L, U, &f));

    /* get_into: too small (the size needed, and the other fields), then exact, then larger. */
    size_t n = strlen(big_json);
    char small[8];
    memset(small, 'Z', sizeof small);
    llmdb_fact g;
    memset(&g, 0, sizeof g);
    EXPECT(LLMDB_E_BUFFER_TOO_SMALL, llmdb_get_into(db, 0, "big", 3, U, L, U, small, sizeof small, &g));
    CHECK(g.value_len == n);
    CHECK(g.tx == tx && g.tx_time == tt && g.valid_from == tt && g.value_type == LLMDB_VALUE_JSON);
    EXPECT(LLMDB_E_BUFFER_TOO_SMALL, llmdb_get_into(db, 0, "big", 3, U, L, U, small, 0, &g));
    CHECK(g.value_len == n);
    char *exact = malloc(n);
    OK(llmdb_get_into(db, 0, "big", 3, U, L, U, exact, n, &g));
    CHECK(g.value == (const uint8_t *)exact && g.value_len == n && memcmp(exact, big_json, n) == 0);
    CHECK(g.tx == tx && g.value_type == LLMDB_VALUE_JSON && g.valid_to == LLMDB_TIME_END);
    free(exact);
    char large[256];
    memset(large, 'Z', sizeof large);
    OK(llmdb_get_into(db, 0, "big", 3, U, L, U, large, sizeof large, &g));
    CHECK(g.value == (const uint8_t *)large && g.value_len == n && memcmp(large, big_json, n) == 0);
    CHECK(large[n] == 'Z'); /* nothing written past the value */
    /* An empty value fits in a zero-capacity buffer. */
    OK(llmdb_get_into(db, 0, "raw-empty", 9, U, L, U, large, 0, &g));
    CHECK(g.value_len == 0);
    /* Absent and retracted: NOT_FOUND, nothing written. */
    memset(&g, 0xAB, sizeof g);
    llmdb_fact before = g;
    EXPECT(LLMDB_NOT_FOUND, llmdb_get_into(db, 0, "absent", 6, U, L, U, large, sizeof large, &g));
    OK(llmdb_txn_begin(db, U, &t));
    OK(llmdb_txn_delete(t, 0, "big", 3, U, U));
    OK(llmdb_txn_commit(t, NULL, NULL));
    EXPECT(LLMDB_NOT_FOUND, llmdb_get_into(db, 0, "big", 3, U, L, U, large, sizeof large, &g));
    EXPECT(LLMDB_NOT_FOUND, llmdb_get(db, 0, "big", 3, U, L, U, &g));
    CHECK(memcmp(&g, &before, sizeof g) == 0);
    CHECK(large[n] == 'Z');
    /* The past still has it. */
    OK(llmdb_get_into(db, 0, "big", 3, U, tx, U, large, sizeof large, &g));
    CHECK(g.value_len == n && g.tx == tx);
}

/* ---- Scans ----------------------------------------------------------------------------- */

static void test_scan(llmdb *db) {
    const llmdb_time U = LLMDB_TIME_UNSET;
    const uint64_t L = LLMDB_TX_LATEST;
    int keys = env_int("LLMDB_TEST_SCAN_KEYS", 1000);
    CHECK(keys >= 20 && keys <= 100000);
    /* scan/00000 … in one transaction, in a random order; neighbours outside the prefix;
     * one key retracted; a partition of its own. */
    llmdb_txn *t = NULL;
    OK(llmdb_txn_begin(db, U, &t));
    uint32_t x = 12345;
    int *order = malloc(sizeof(int) * (size_t)keys);
    for (int i = 0; i < keys; i++) order[i] = i;
    for (int i = keys - 1; i > 0; i--) {
        x = x * 1103515245u + 12345u;
        int j = (int)(x % (uint32_t)(i + 1));
        int tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
    for (int n = 0; n < keys; n++) {
        char k[32], v[32];
        snprintf(k, sizeof k, "scan/%05d", order[n]);
        snprintf(v, sizeof v, "%d", order[n]);
        OK(put_json(t, 0, k, v, U, U));
    }
    free(order);
    OK(put_json(t, 0, "scan.", "\"after\"", U, U));
    OK(put_json(t, 0, "scan", "\"before\"", U, U));
    OK(put_json(t, 0, "scam/1", "\"before\"", U, U));
    OK(put_json(t, 3, "scan/00001", "\"other partition\"", U, U));
    uint64_t tx_load = 0;
    OK(llmdb_txn_commit(t, &tx_load, NULL));
    OK(llmdb_txn_begin(db, U, &t));
    OK(llmdb_txn_delete(t, 0, "scan/00007", 10, U, U));
    uint64_t tx_del = 0;
    OK(llmdb_txn_commit(t, &tx_del, NULL));

    /* Start, read a few rows, then write (a new key ahead, a new value ahead, a retraction
     * ahead): the iterator keeps reading the transaction it started at. */
    llmdb_iter *it = NULL;
    OK(llmdb_scan(db, 0, "scan/", 5, U, L, U, &it));
    int seen = 0, expect_i = 0;
    const uint8_t *key;
    size_t key_len;
    llmdb_fact row;
    char prev[64] = "";
    for (;;) {
        llmdb_status s = llmdb_iter_next(it, &key, &key_len, &row);
        if (s == LLMDB_DONE) break;
        OK(s);
        if (expect_i == 7) expect_i++; /* retracted: skipped */
        char want_key[32], want_val[32];
        snprintf(want_key, sizeof want_key, "scan/%05d", expect_i);
        snprintf(want_val, sizeof want_val, "%d", expect_i);
        if (key_len != strlen(want_key) || memcmp(key, want_key, key_len) != 0 || row.value_len != strlen(want_val) ||
            memcmp(row.value, want_val, row.value_len) != 0) {
            char detail[256];
            snprintf(detail, sizeof detail, "row %d: key %.*s value %.*s, expected %s = %s", seen, (int)key_len,
                     (const char *)key, (int)row.value_len, (const char *)row.value, want_key, want_val);
            fail_check(__FILE__, __LINE__, "scan row", detail);
        }
        CHECK(strcmp(prev, want_key) < 0);
        snprintf(prev, sizeof prev, "%s", want_key);
        CHECK(row.tx == tx_load && row.value_type == LLMDB_VALUE_JSON && row.valid_to == LLMDB_TIME_END);
        seen++;
        expect_i++;
        if (seen == 3) {
            char k[32];
            OK(llmdb_txn_begin(db, U, &t));
            snprintf(k, sizeof k, "scan/%05d", keys - 1);
            OK(put_json(t, 0, k, "-1", U, U));                 /* a new value ahead */
            OK(put_json(t, 0, "scan/00500x", "\"new\"", U, U)); /* a new key ahead */
            snprintf(k, sizeof k, "scan/%05d", keys - 2);
            OK(llmdb_txn_delete(t, 0, k, strlen(k), U, U));    /* a retraction ahead */
            OK(llmdb_txn_commit(t, NULL, NULL));
        }
    }
    CHECK(seen == keys - 1);
    EXPECT(LLMDB_DONE, llmdb_iter_next(it, &key, &key_len, &row));
    EXPECT(LLMDB_DONE, llmdb_iter_next(it, &key, &key_len, &row));
    OK(llmdb_iter_close(it));

    /* Now the writes are seen. */
    OK(llmdb_scan(db, 0, "scan/", 5, U, L, U, &it));
    int count = 0, saw_new = 0;
    while (llmdb_iter_next(it, &key, &key_len, &row) == LLMDB_OK) {
        count++;
        if (key_len == 11 && memcmp(key, "scan/00500x", 11) == 0) saw_new = 1;
    }
    CHECK(count == keys - 1 && saw_new); /* one retracted more, one key more */
    OK(llmdb_iter_close(it));
    /* As of the load: the retracted key is there; before it: nothing. */
    OK(llmdb_scan(db, 0, "scan/", 5, U, tx_load, U, &it));
    count = 0;
    while (llmdb_iter_next(it, &key, &key_len, &row) == LLMDB_OK) count++;
    CHECK(count == keys);
    OK(llmdb_iter_close(it));
    OK(llmdb_scan(db, 0, "scan/", 5, U, tx_load - 1, U, &it));
    EXPECT(LLMDB_DONE, llmdb_iter_next(it, &key, &key_len, &row));
    OK(llmdb_iter_close(it));
    /* A valid time before the load's transaction time: nothing yet. */
    OK(llmdb_scan(db, 0, "scan/", 5, VF0, L, U, &it));
    EXPECT(LLMDB_DONE, llmdb_iter_next(it, &key, &key_len, &row));
    OK(llmdb_iter_close(it));
    /* Another partition. */
    OK(llmdb_scan(db, 3, "scan/", 5, U, L, U, &it));
    OK(llmdb_iter_next(it, &key, &key_len, &row));
    CHECK(key_len == 10 && memcmp(key, "scan/00001", 10) == 0);
    CHECK(row.value_len == 17 && memcmp(row.value, "\"other partition\"", 17) == 0);
    EXPECT(LLMDB_DONE, llmdb_iter_next(it, &key, &key_len, &row));
    OK(llmdb_iter_close(it));
    /* A prefix nothing has, and an iterator closed before its end (no leak). */
    OK(llmdb_scan(db, 0, "zzz-none", 8, U, L, U, &it));
    EXPECT(LLMDB_DONE, llmdb_iter_next(it, &key, &key_len, &row));
    OK(llmdb_iter_close(it));
    OK(llmdb_scan(db, 0, "scan/", 5, U, L, U, &it));
    OK(llmdb_iter_next(it, &key, &key_len, &row));
    OK(llmdb_iter_close(it));
    /* tx and tx_time together: refused. */
    it = (llmdb_iter *)0x1;
    EXPECT(LLMDB_E_INVALID_ARGUMENT, llmdb_scan(db, 0, "scan/", 5, U, tx_load, T0, &it));
    CHECK(it == (llmdb_iter *)0x1);
    /* An erase during a scan: the header says erased entries vanish from the iterator. */
    OK(llmdb_scan(db, 0, "scan/", 5, U, L, U, &it));
    OK(llmdb_txn_begin(db, U, &t));
    char last_key[32];
    snprintf(last_key, sizeof last_key, "scan/%05d", keys - 1);
    OK(llmdb_txn_erase(t, 0, last_key, strlen(last_key)));
    OK(llmdb_txn_commit(t, NULL, NULL));
    count = 0;
    int saw_erased = 0;
    while (llmdb_iter_next(it, &key, &key_len, &row) == LLMDB_OK) {
        count++;
        if (key_len == strlen(last_key) && memcmp(key, last_key, key_len) == 0) saw_erased = 1;
    }
    /* Rows the iterator had already read into a page may still show it; later pages not. */
    CHECK(count == keys - 1 - !saw_erased);
    OK(llmdb_iter_close(it));
}

/* Keys with 0x00 and 0xFF bytes (escaped in the stored encoding) across page boundaries,
 * and values large enough that a page ends on its byte budget rather than its row count. */
static void test_scan_pages(llmdb *db) {
    const llmdb_time U = LLMDB_TIME_UNSET;
    const uint64_t L = LLMDB_TX_LATEST;
    enum { BIN = 700 };
    llmdb_txn *t = NULL;
    OK(llmdb_txn_begin(db, U, &t));
    for (int i = BIN - 1; i >= 0; i--) {
        uint8_t k[6] = {'b', 0x00, (uint8_t)(i >> 8), (uint8_t)i, 0xFF, 0x00};
        char v[16];
        snprintf(v, sizeof v, "%d", i);
        OK(llmdb_txn_put(t, 0, k, i % 2 ? 6 : 5, v, strlen(v), LLMDB_VALUE_JSON, U, U));
    }
    OK(llmdb_txn_commit(t, NULL, NULL));
    llmdb_iter *it = NULL;
    static const uint8_t prefix[] = {'b', 0x00};
    OK(llmdb_scan(db, 0, prefix, sizeof prefix, U, L, U, &it));
    const uint8_t *key;
    size_t key_len;
    llmdb_fact row;
    int i = 0;
    llmdb_status s;
    while ((s = llmdb_iter_next(it, &key, &key_len, &row)) == LLMDB_OK) {
        uint8_t want[6] = {'b', 0x00, (uint8_t)(i >> 8), (uint8_t)i, 0xFF, 0x00};
        char v[16];
        snprintf(v, sizeof v, "%d", i);
        if (key_len != (size_t)(i % 2 ? 6 : 5) || memcmp(key, want, key_len) != 0 || row.value_len != strlen(v) ||
            memcmp(row.value, v, row.value_len) != 0) {
            char detail[128];
            snprintf(detail, sizeof detail, "row %d: a key of %zu bytes, value %.*s", i, key_len, (int)row.value_len,
                     (const char *)row.value);
            fail_check(__FILE__, __LINE__, "binary key scan", detail);
        }
        i++;
    }
    EXPECT(LLMDB_DONE, s);
    CHECK(i == BIN);
    OK(llmdb_iter_close(it));

    /* 7 values of 400 KB: more than one page of the iterator's byte budget. */
    enum { BIG = 7, SIZE = 400 * 1024 };
    uint8_t *value = malloc(SIZE);
    OK(llmdb_txn_begin(db, U, &t));
    for (int n = 0; n < BIG; n++) {
        memset(value, 'a' + n, SIZE);
        char k[16];
        snprintf(k, sizeof k, "large/%d", n);
        OK(llmdb_txn_put(t, 0, k, strlen(k), value, SIZE - n, LLMDB_VALUE_RAW, U, U));
    }
    OK(llmdb_txn_commit(t, NULL, NULL));
    OK(llmdb_scan(db, 0, "large/", 6, U, L, U, &it));
    i = 0;
    while ((s = llmdb_iter_next(it, &key, &key_len, &row)) == LLMDB_OK) {
        CHECK(row.value_type == LLMDB_VALUE_RAW && row.value_len == (size_t)(SIZE - i));
        memset(value, 'a' + i, SIZE);
        CHECK(memcmp(row.value, value, row.value_len) == 0);
        CHECK(key_len == 7 && key[6] == '0' + i);
        i++;
    }
    EXPECT(LLMDB_DONE, s);
    CHECK(i == BIG);
    OK(llmdb_iter_close(it));
    free(value);
}

/* ---- LQL ------------------------------------------------------------------------------- */

static void test_query(llmdb *db) {
    char *json = NULL;
    size_t len = 0;
    OK(llmdb_query(db, "INSERT INTO people (_id, name, age, city) VALUES ('ada', 'Ada', 36, 'London'), "
                       "('bob', 'Bob', 41, 'Paris'), ('cy', 'Cy', 29, 'Paris')",
                   NULL, &json, &len));
    CHECK(len == strlen(json));
    JSON_HAS(json, "\"columns\":");
    JSON_HAS(json, "\"rows\":");
    JSON_HAS(json, "\"columns\":[\"affected\",\"tx_id\",\"tx_time\"]");
    JSON_HAS(json, "\"affected\":3");
    llmdb_free(json);

    OK(llmdb_query(db, "SELECT name FROM people WHERE city = :city ORDER BY age", "{\"city\":\"Paris\"}", &json,
                   &len));
    JSON_HAS(json, "\"columns\":[\"name\"]");
    JSON_HAS(json, "\"rows\":[{\"name\":\"Cy\"},{\"name\":\"Bob\"}]");
    JSON_HAS(json, "\"plan\":");
    llmdb_free(json);
    OK(llmdb_query(db, "SELECT name, age FROM people WHERE age > $1 AND city = $2", "[30, \"London\"]", &json,
                   NULL));
    JSON_HAS(json, "\"rows\":[{\"name\":\"Ada\",\"age\":36}]");
    llmdb_free(json);
    /* A write with a parameter, then a read as of before it. */
    OK(llmdb_query(db, "UPDATE people SET age = :age WHERE _id = 'ada'", "{\"age\":37}", &json, &len));
    JSON_HAS(json, "\"affected\":1");
    int64_t tx = json_int(json, "tx_id");
    CHECK(tx > 0);
    llmdb_free(json);
    char q[256];
    snprintf(q, sizeof q, "SELECT age FROM people AS OF TRANSACTION %" PRId64 " WHERE _id = 'ada'", tx - 1);
    OK(llmdb_query(db, q, NULL, &json, &len));
    JSON_HAS(json, "\"rows\":[{\"age\":36}]");
    llmdb_free(json);
    OK(llmdb_query(db, "SELECT age FROM people WHERE _id = 'ada'", "{}", &json, &len));
    JSON_HAS(json, "\"rows\":[{\"age\":37}]");
    llmdb_free(json);
    /* The documents are facts: the C reads see them. */
    llmdb_fact f;
    OK(llmdb_get(db, 0, "people/bob", 10, LLMDB_TIME_UNSET, LLMDB_TX_LATEST, LLMDB_TIME_UNSET, &f));
    CHECK(f.value_type == LLMDB_VALUE_JSON);
    {
        char *v = malloc(f.value_len + 1);
        memcpy(v, f.value, f.value_len);
        v[f.value_len] = '\0';
        JSON_HAS(v, "\"name\":\"Bob\"");
        free(v);
    }
    llmdb_free((void *)f.value);

    /* Errors: bad LQL, a missing parameter, bad parameters. Nothing is written. */
    json = (char *)0x1;
    len = 12345;
    EXPECT(LLMDB_E_INVALID_QUERY, llmdb_query(db, "SELEC name FROM people", NULL, &json, &len));
    EXPECT(LLMDB_E_INVALID_QUERY, llmdb_query(db, "SELECT FROM", NULL, &json, &len));
    llmdb_status s;
    EXPECT_EITHER(s, LLMDB_E_INVALID_QUERY, LLMDB_E_INVALID_ARGUMENT, llmdb_query(db, "", NULL, &json, &len));
    EXPECT(LLMDB_E_INVALID_QUERY, llmdb_query(db, "SELECT name FROM people WHERE age > :missing", "{}", &json, &len));
    EXPECT(LLMDB_E_INVALID_QUERY, llmdb_query(db, "SELECT name FROM people WHERE age > $1", NULL, &json, &len));
    EXPECT(LLMDB_E_INVALID_JSON, llmdb_query(db, "SELECT name FROM people", "{\"a\":", &json, &len));
    EXPECT(LLMDB_E_INVALID_JSON, llmdb_query(db, "SELECT name FROM people", "not json", &json, &len));
    EXPECT(LLMDB_E_INVALID_ARGUMENT, llmdb_query(db, "SELECT name FROM people", "42", &json, &len));
    EXPECT(LLMDB_E_CONFLICT, llmdb_query(db, "INSERT INTO people (_id, name) VALUES ('ada', 'Again')", NULL, &json,
                                         &len));
    CHECK(json == (char *)0x1 && len == 12345);
    OK(llmdb_query(db, "SELECT name FROM people WHERE _id = 'ada'", NULL, &json, &len));
    JSON_HAS(json, "\"rows\":[{\"name\":\"Ada\"}]");
    llmdb_free(json);
}

/* ---- Agent memory ---------------------------------------------------------------------- */

static char *call_json(const char *file, int line, const char *what,
                       llmdb_status (*op)(llmdb *, const char *, char **, size_t *), llmdb *db, const char *args) {
    char *json = NULL;
    size_t len = 0;
    llmdb_status s = op(db, args, &json, &len);
    if (s != LLMDB_OK) fail_status(file, line, what, s, LLMDB_OK);
    if (!json || len != strlen(json)) fail_check(file, line, what, "no JSON, or len_out is not its length");
    return json;
}
#define CALL(op, db, args) call_json(__FILE__, __LINE__, #op " " args, op, (db), (args))

static void test_memory(llmdb *db) {
    char *j = CALL(llmdb_remember, db,
                   "{\"key\":\"agent:fact:sky\",\"content\":\"the sky is blue\",\"confidence\":0.9,\"source\":\"look\"}");
    int64_t tx_sky = json_int(j, "tx");
    CHECK(tx_sky > 0);
    JSON_HAS(j, "\"keys\":[\"agent:fact:sky\"]");
    JSON_HAS(j, "\"tx_time\":\"");
    llmdb_free(j);
    j = CALL(llmdb_remember, db,
             "{\"memories\":[{\"key\":\"agent:fact:grass\",\"content\":\"grass is green\"},"
             "{\"key\":\"agent:preference:tea\",\"content\":\"likes green tea\",\"confidence\":0.5}]}");
    int64_t tx_batch = json_int(j, "tx");
    CHECK(tx_batch == tx_sky + 1); /* one transaction for the batch */
    JSON_HAS(j, "\"keys\":[\"agent:fact:grass\",\"agent:preference:tea\"]");
    llmdb_free(j);

    j = CALL(llmdb_recall, db, "{\"query\":\"green\",\"limit\":5}");
    JSON_HAS(j, "\"key\":\"agent:fact:grass\"");
    JSON_HAS(j, "\"key\":\"agent:preference:tea\"");
    JSON_LACKS(j, "agent:fact:sky");
    JSON_HAS(j, "\"score\":");
    llmdb_free(j);
    j = CALL(llmdb_recall, db, "{\"query\":\"green\",\"namespace\":\"agent:fact:\"}");
    JSON_HAS(j, "agent:fact:grass");
    JSON_LACKS(j, "agent:preference:tea");
    llmdb_free(j);
    j = CALL(llmdb_recall, db, "{\"query\":\"green\",\"limit\":1}");
    JSON_COUNT(j, "\"score\":", 1);
    llmdb_free(j);

    j = CALL(llmdb_correct, db,
             "{\"key\":\"agent:fact:sky\",\"reason\":\"at sunset\",\"content\":\"the sky is orange\",\"confidence\":0.6}");
    int64_t tx_corr = json_int(j, "tx");
    CHECK(tx_corr == tx_batch + 1);
    JSON_HAS(j, "\"correction_reason\":\"at sunset\"");
    JSON_HAS(j, "\"content\":\"the sky is orange\"");
    llmdb_free(j);
    j = CALL(llmdb_recall, db, "{\"query\":\"sky\"}");
    JSON_HAS(j, "the sky is orange");
    JSON_LACKS(j, "the sky is blue");
    llmdb_free(j);
    char args[256];
    snprintf(args, sizeof args, "{\"query\":\"sky\",\"tx\":%" PRId64 "}", tx_sky);
    j = call_json(__FILE__, __LINE__, args, llmdb_recall, db, args);
    JSON_HAS(j, "the sky is blue");
    llmdb_free(j);

    j = CALL(llmdb_memory_history, db, "{\"key\":\"agent:fact:sky\"}");
    JSON_HAS(j, "\"versions\":");
    JSON_HAS(j, "the sky is blue");
    JSON_HAS(j, "the sky is orange");
    llmdb_free(j);
    snprintf(args, sizeof args, "{\"key\":\"agent:fact:sky\",\"tx\":%" PRId64 "}", tx_sky);
    j = call_json(__FILE__, __LINE__, args, llmdb_memory_history, db, args);
    JSON_HAS(j, "the sky is blue");
    JSON_LACKS(j, "the sky is orange");
    llmdb_free(j);

    j = CALL(llmdb_memory_evolution, db, "{\"prefix\":\"agent:fact:sky\"}");
    JSON_HAS(j, "\"confidence_change\":");
    JSON_HAS(j, "the sky is blue");
    JSON_HAS(j, "the sky is orange");
    {
        char *c = compact(j);
        CHECK(strstr(c, "\"confidence_change\":-0.3") != NULL); /* 0.9 -> 0.6 */
        free(c);
    }
    llmdb_free(j);

    snprintf(args, sizeof args, "{\"tx\":%" PRId64 ",\"prefix\":\"agent:\"}", tx_sky);
    j = call_json(__FILE__, __LINE__, args, llmdb_memory_as_of, db, args);
    JSON_HAS(j, "the sky is blue");
    JSON_LACKS(j, "orange");
    JSON_LACKS(j, "grass");
    llmdb_free(j);
    EXPECT(LLMDB_E_INVALID_ARGUMENT, llmdb_memory_as_of(db, "{\"prefix\":\"agent:\"}", &j, NULL));
    EXPECT(LLMDB_E_INVALID_ARGUMENT, llmdb_memory_as_of(db, "{\"tx\":999999}", &j, NULL));

    j = CALL(llmdb_forget, db, "{\"key\":\"agent:fact:grass\"}");
    CHECK(json_int(j, "tx") == tx_corr + 1);
    llmdb_free(j);
    j = CALL(llmdb_recall, db, "{\"query\":\"green\"}");
    JSON_LACKS(j, "agent:fact:grass");
    JSON_HAS(j, "agent:preference:tea");
    llmdb_free(j);

    j = CALL(llmdb_memory_namespaces, db, "{}");
    JSON_HAS(j, "{\"namespace\":\"agent:fact\",\"count\":1}");
    JSON_HAS(j, "{\"namespace\":\"agent:preference\",\"count\":1}");
    llmdb_free(j);

    /* Roll agent:fact: back to the batch: grass comes back, the sky is blue again. */
    snprintf(args, sizeof args, "{\"prefix\":\"agent:fact:\",\"tx\":%" PRId64 ",\"reason\":\"undo\"}", tx_batch);
    j = call_json(__FILE__, __LINE__, args, llmdb_memory_rollback, db, args);
    JSON_HAS(j, "\"restored\":");
    JSON_HAS(j, "agent:fact:grass");
    JSON_HAS(j, "agent:fact:sky");
    llmdb_free(j);
    j = CALL(llmdb_recall, db, "{\"query\":\"sky\"}");
    JSON_HAS(j, "the sky is blue");
    llmdb_free(j);
    llmdb_fact f;
    OK(llmdb_get(db, 0, "agent:fact:grass", 16, LLMDB_TIME_UNSET, LLMDB_TX_LATEST, LLMDB_TIME_UNSET, &f));
    llmdb_free((void *)f.value);

    /* Errors: a missing required field, a wrong type, an unknown memory. */
    j = (char *)0x1;
    EXPECT(LLMDB_E_INVALID_ARGUMENT, llmdb_recall(db, "{}", &j, NULL));
    EXPECT(LLMDB_E_INVALID_ARGUMENT, llmdb_correct(db, "{\"key\":\"agent:fact:sky\",\"content\":\"x\"}", &j, NULL));
    EXPECT(LLMDB_E_INVALID_ARGUMENT, llmdb_recall(db, "{\"query\":7}", &j, NULL));
    EXPECT(LLMDB_E_INVALID_ARGUMENT, llmdb_memory_rollback(db, "{\"prefix\":\"agent:\",\"reason\":\"r\"}", &j, NULL));
    EXPECT(LLMDB_E_NO_SUCH, llmdb_correct(db, "{\"key\":\"agent:fact:none\",\"reason\":\"r\",\"content\":\"x\"}", &j,
                                          NULL));
    CHECK(j == (char *)0x1);
    /* erase: true removes every version. */
    j = CALL(llmdb_forget, db, "{\"key\":\"agent:preference:tea\",\"erase\":true}");
    llmdb_free(j);
    EXPECT(LLMDB_E_NO_SUCH, llmdb_memory_history(db, "{\"key\":\"agent:preference:tea\"}", &j, NULL));
    EXPECT(LLMDB_E_NO_SUCH, llmdb_forget(db, "{\"key\":\"agent:preference:tea\"}", &j, NULL));
}

/* ---- llmdb_call: documents, facts, unknown operations ---------------------------------- */

static void test_call(llmdb *db) {
    char *j = NULL;
    size_t len = 0;
    OK(llmdb_call(db, "insertDocument",
                  "{\"collection\":\"books\",\"id\":\"dune\",\"document\":{\"title\":\"Dune\",\"year\":1965}}", &j, &len));
    CHECK(len == strlen(j));
    JSON_HAS(j, "\"id\":\"dune\"");
    int64_t tx = json_int(j, "tx");
    CHECK(tx > 0);
    llmdb_free(j);
    OK(llmdb_call(db, "getDocument", "{\"collection\":\"books\",\"id\":\"dune\"}", &j, &len));
    JSON_HAS(j, "\"document\":{\"title\":\"Dune\",\"year\":1965}");
    JSON_HAS(j, "\"id\":\"dune\"");
    llmdb_free(j);
    OK(llmdb_call(db, "patchDocument", "{\"collection\":\"books\",\"id\":\"dune\",\"patch\":{\"year\":1966}}", &j, &len));
    llmdb_free(j);
    OK(llmdb_call(db, "getDocument", "{\"collection\":\"books\",\"id\":\"dune\"}", &j, &len));
    JSON_HAS(j, "\"year\":1966");
    llmdb_free(j);
    char args[128];
    snprintf(args, sizeof args, "{\"collection\":\"books\",\"id\":\"dune\",\"tx\":%" PRId64 "}", tx);
    OK(llmdb_call(db, "getDocument", args, &j, &len));
    JSON_HAS(j, "\"year\":1965");
    llmdb_free(j);
    OK(llmdb_call(db, "findDocuments", "{\"collection\":\"books\",\"filter\":{\"year\":{\"$gte\":1960}}}", &j, &len));
    JSON_HAS(j, "Dune");
    llmdb_free(j);
    /* A fact operation, with its partition. */
    OK(llmdb_call(db, "putFact", "{\"key\":\"via-call\",\"value\":{\"a\":1},\"partition\":2}", &j, &len));
    llmdb_free(j);
    llmdb_fact f;
    OK(llmdb_get(db, 2, "via-call", 8, LLMDB_TIME_UNSET, LLMDB_TX_LATEST, LLMDB_TIME_UNSET, &f));
    CHECK(f.value_len == 7 && memcmp(f.value, "{\"a\":1}", 7) == 0);
    llmdb_free((void *)f.value);

    j = (char *)0x1;
    len = 12345;
    EXPECT(LLMDB_E_NO_SUCH, llmdb_call(db, "noSuchOperation", "{}", &j, &len));
    EXPECT(LLMDB_E_NO_SUCH, llmdb_call(db, "", "{}", &j, &len));
    EXPECT(LLMDB_E_NO_SUCH, llmdb_call(db, "getDocument", "{\"collection\":\"books\",\"id\":\"none\"}", &j, &len));
    EXPECT(LLMDB_E_INVALID_ARGUMENT,
           llmdb_call(db, "getDocument", "{\"collection\":\"books\",\"id\":\"dune\",\"bogus\":1}", &j, &len));
    JSON_HAS(llmdb_last_error(), "bogus");
    EXPECT(LLMDB_E_INVALID_ARGUMENT, llmdb_call(db, "insertDocument", "{\"collection\":\"books\"}", &j, &len));
    EXPECT(LLMDB_E_INVALID_JSON, llmdb_call(db, "getDocument", "{\"collection\":", &j, &len));
    CHECK(j == (char *)0x1 && len == 12345);
}

/* ---- Vectors: floats in as they lie in memory ------------------------------------------ */

static void test_vectors(llmdb *db) {
    char *j = NULL;
    size_t len = 0;
    OK(llmdb_call(db, "createVectorCollection", "{\"collection\":\"emb\",\"dimensions\":3,\"metric\":\"l2\"}", &j,
                  &len));
    JSON_HAS(j, "\"dimensions\":3");
    llmdb_free(j);
    const char *keys[] = {"a", "b", "c"};
    const float rows[] = {0, 0, 0, 1, 0, 0, 5, 5, 5};
    const char *meta[] = {"{\"lang\":\"en\"}", NULL, "{\"lang\":\"en\"}"};
    uint64_t tx = 0;
    OK(llmdb_vector_put(db, "emb", 3, keys, rows, 3, meta, &tx));
    CHECK(tx > 0);
    const float q[] = {0.9f, 0, 0};
    OK(llmdb_vector_search(db, "emb", q, 3, 2, NULL, &j, &len));
    CHECK(len == strlen(j));
    JSON_HAS(j, "\"hits\":[{\"key\":\"b\"");
    JSON_COUNT(j, "\"key\":", 2);
    llmdb_free(j);
    OK(llmdb_vector_search(db, "emb", q, 3, 5, "{\"filter\":{\"lang\":\"en\"}}", &j, &len));
    JSON_HAS(j, "\"hits\":[{\"key\":\"a\"");
    JSON_LACKS(j, "\"key\":\"b\"");
    llmdb_free(j);
    /* A new version of b; as of tx, the old one. */
    const float far[] = {9, 9, 9};
    const char *kb[] = {"b"};
    uint64_t tx2 = 0;
    OK(llmdb_vector_put(db, "emb", 1, kb, far, 3, NULL, &tx2));
    CHECK(tx2 == tx + 1);
    char opts[64];
    snprintf(opts, sizeof opts, "{\"tx\":%" PRIu64 "}", tx);
    OK(llmdb_vector_search(db, "emb", q, 3, 1, opts, &j, &len));
    JSON_HAS(j, "\"key\":\"b\"");
    llmdb_free(j);
    OK(llmdb_vector_search(db, "emb", q, 3, 1, NULL, &j, &len));
    JSON_HAS(j, "\"key\":\"a\"");
    llmdb_free(j);
    OK(llmdb_call(db, "getVector", "{\"collection\":\"emb\",\"key\":\"b\"}", &j, &len));
    JSON_HAS(j, "\"vector\":[9");
    llmdb_free(j);

    /* Bad input: a clear status, and nothing written. */
    uint64_t before = 0;
    OK(llmdb_tx_at(db, LLMDB_TIME_UNSET, &before));
    const float nan_row[] = {0, NAN, 0};
    EXPECT(LLMDB_E_INVALID_VALUE, llmdb_vector_put(db, "emb", 1, kb, nan_row, 3, NULL, &tx));
    JSON_HAS(llmdb_last_error(), "finite");
    EXPECT(LLMDB_E_INVALID_VALUE, llmdb_vector_put(db, "emb", 1, kb, far, 2, NULL, &tx));
    CHECK(strstr(llmdb_last_error(), "the vector has 2 dimensions") != NULL);
    EXPECT(LLMDB_E_NO_SUCH, llmdb_vector_put(db, "none", 1, kb, far, 3, NULL, &tx));
    EXPECT(LLMDB_E_INVALID_ARGUMENT, llmdb_vector_put(db, "emb", 0, kb, far, 3, NULL, &tx));
    EXPECT(LLMDB_E_NULL_ARGUMENT, llmdb_vector_put(db, "emb", 1, NULL, far, 3, NULL, &tx));
    EXPECT(LLMDB_E_NULL_ARGUMENT, llmdb_vector_put(db, "emb", 1, kb, NULL, 3, NULL, &tx));
    const char *bad_meta[] = {"{"};
    EXPECT(LLMDB_E_INVALID_JSON, llmdb_vector_put(db, "emb", 1, kb, far, 3, bad_meta, &tx));
    uint64_t after = 0;
    OK(llmdb_tx_at(db, LLMDB_TIME_UNSET, &after));
    CHECK(after == before);
    j = (char *)0x1;
    len = 12345;
    EXPECT(LLMDB_E_INVALID_ARGUMENT, llmdb_vector_search(db, "emb", q, 3, 0, NULL, &j, &len));
    CHECK(strstr(llmdb_last_error(), "'k' must be from 1 to 1000") != NULL);
    EXPECT(LLMDB_E_INVALID_ARGUMENT, llmdb_vector_search(db, "emb", q, 2, 1, NULL, &j, &len));
    EXPECT(LLMDB_E_INVALID_ARGUMENT, llmdb_vector_search(db, "emb", q, 3, 1, "{\"bogus\":1}", &j, &len));
    JSON_HAS(llmdb_last_error(), "bogus");
    EXPECT(LLMDB_E_NULL_ARGUMENT, llmdb_vector_search(db, "emb", q, 3, 1, NULL, NULL, &len));
    CHECK(j == (char *)0x1 && len == 12345);
}

/* ---- The code registry ----------------------------------------------------------------- */

/* A map_pages that copies its page (the WAT of Tests/LLMDBWasmTests/WasmTestSupport.swift's
 * identityMap); MAP_WAT(extra) adds functions, for a module with another digest. */
#define MAP_WAT(extra) \
    "(module\n" \
    "  (memory (export \"memory\") 1)\n" \
    "  (global $top (mut i32) (i32.const 1024))\n" \
    "  (func (export \"llmdb_alloc\") (param $n i32) (result i32)\n" \
    "    (local $p i32) (local $end i32)\n" \
    "    (local.set $p (i32.and (i32.add (global.get $top) (i32.const 15)) (i32.const -16)))\n" \
    "    (local.set $end (i32.add (local.get $p) (local.get $n)))\n" \
    "    (if (i32.gt_u (local.get $end) (i32.mul (memory.size) (i32.const 65536)))\n" \
    "      (then\n" \
    "        (if (i32.eq\n" \
    "              (memory.grow (i32.sub (i32.div_u (i32.add (local.get $end) (i32.const 65535)) (i32.const 65536)) " \
    "(memory.size)))\n" \
    "              (i32.const -1))\n" \
    "          (then (return (i32.const 0))))))\n" \
    "    (global.set $top (local.get $end))\n" \
    "    (local.get $p))\n" \
    "  (func (export \"map_pages\") (param $in i32) (param $len i32) (param $out i32) (param $cap i32) (result i32)\n" \
    "    (if (i32.gt_u (local.get $len) (local.get $cap)) (then (return (local.get $len))))\n" \
    "    (memory.copy (local.get $out) (local.get $in) (local.get $len))\n" \
    "    (local.get $len))\n" extra ")\n"
static const char map_wat[] = MAP_WAT("");
static const char map_wat2[] = MAP_WAT("  (func $unused (nop))\n");

static void test_code(llmdb *db) {
    char *j = NULL;
    size_t len = 0;
    OK(llmdb_code_add(db, "identity", map_wat, strlen(map_wat), "map_pages", NULL, &j, &len));
    CHECK(len == strlen(j));
    JSON_HAS(j, "\"name\":\"identity\"");
    JSON_HAS(j, "\"kind\":\"map_pages\"");
    JSON_HAS(j, "\"function\":\"map_pages\"");
    JSON_HAS(j, "\"sha256\":\"");
    llmdb_free(j);
    /* Kind and function inferred. */
    OK(llmdb_code_add(db, "identity2", map_wat2, strlen(map_wat2), NULL, NULL, &j, &len));
    JSON_HAS(j, "\"kind\":\"map_pages\"");
    llmdb_free(j);
    OK(llmdb_code_list(db, &j, &len));
    JSON_HAS(j, "\"modules\":[");
    JSON_HAS(j, "\"name\":\"identity\"");
    JSON_HAS(j, "\"name\":\"identity2\"");
    llmdb_free(j);
    /* The module runs: a map over a scan in LQL. Under valgrind (50 times slower) a guest
     * call can pass its 25 ms wall-clock deadline: then the query must fail with
     * LLMDB_E_CODE_LIMIT, naming the deadline, and nothing else. */
    llmdb_status s = llmdb_query(db, "SELECT key FROM EMBEDDED WASM identity(kv('people/'))", NULL, &j, &len);
    if (s == LLMDB_E_CODE_LIMIT && env_int("LLMDB_TEST_UNDER_VALGRIND", 0)) {
        JSON_HAS(llmdb_last_error(), "deadline");
        fprintf(stderr, "test_abi: code: the WebAssembly query hit its deadline under valgrind (allowed there)\n");
    } else {
        OK(s);
        JSON_HAS(j, "people/ada");
        llmdb_free(j);
    }

    /* A guest that traps: the query fails with code_failed (or, under valgrind, may pass its
     * deadline first: code_limit), with a one-line message naming the module. */
    static const char trap_wat[] =
        "(module (memory (export \"memory\") 1)\n"
        "  (func (export \"llmdb_alloc\") (param i32) (result i32) (i32.const 1024))\n"
        "  (func (export \"map_pages\") (param i32 i32 i32 i32) (result i32) unreachable))\n";
    OK(llmdb_code_add(db, "trapper", trap_wat, strlen(trap_wat), "map_pages", NULL, &j, &len));
    llmdb_free(j);
    j = (char *)0x1;
    s = llmdb_query(db, "SELECT key FROM EMBEDDED WASM trapper(kv('people/'))", NULL, &j, &len);
    if (s == LLMDB_E_CODE_LIMIT && env_int("LLMDB_TEST_UNDER_VALGRIND", 0)) JSON_HAS(llmdb_last_error(), "deadline");
    else if (s != LLMDB_E_CODE_FAILED)
        fail_status(__FILE__, __LINE__, "llmdb_query of a guest that traps", s, LLMDB_E_CODE_FAILED);
    check_message(__FILE__, __LINE__, "llmdb_query of a guest that traps");
    JSON_HAS(llmdb_last_error(), "trapper");
    CHECK(j == (char *)0x1);
    OK(llmdb_code_remove(db, "trapper", 0, NULL));

    uint64_t tx = 0;
    OK(llmdb_code_remove(db, "identity", 0, &tx));
    CHECK(tx > 0);
    OK(llmdb_code_list(db, &j, &len));
    JSON_LACKS(j, "\"name\":\"identity\"");
    JSON_HAS(j, "\"name\":\"identity2\"");
    llmdb_free(j);
    OK(llmdb_code_remove(db, "identity2", 1, NULL));

    j = (char *)0x1;
    len = 12345;
    tx = 12345;
    EXPECT(LLMDB_E_NO_SUCH, llmdb_code_remove(db, "identity", 0, &tx));
    EXPECT(LLMDB_E_NO_SUCH, llmdb_code_remove(db, "never-added", 0, &tx));
    EXPECT(LLMDB_E_INVALID_MODULE, llmdb_code_add(db, "junk", "\0asm\x07", 5, NULL, NULL, &j, &len));
    EXPECT(LLMDB_E_INVALID_MODULE, llmdb_code_add(db, "junk", "(module (func", 13, NULL, NULL, &j, &len));
    EXPECT(LLMDB_E_INVALID_MODULE, llmdb_code_add(db, "junk", "(module)", 8, NULL, NULL, &j, &len));
    EXPECT(LLMDB_E_INVALID_MODULE, llmdb_code_add(db, "junk", map_wat, strlen(map_wat), "reduce_pages", NULL, &j,
                                                  &len));
    EXPECT(LLMDB_E_INVALID_MODULE, llmdb_code_add(db, "junk", map_wat, strlen(map_wat), NULL, "no_such_export", &j,
                                                  &len));
    s = llmdb_code_add(db, "junk", map_wat, strlen(map_wat), "not_a_kind", NULL, &j, &len);
    if (s != LLMDB_E_INVALID_ARGUMENT && s != LLMDB_E_INVALID_MODULE)
        fail_status(__FILE__, __LINE__, "llmdb_code_add with kind 'not_a_kind'", s, LLMDB_E_INVALID_ARGUMENT);
    CHECK(j == (char *)0x1 && len == 12345 && tx == 12345);
    OK(llmdb_code_list(db, &j, &len));
    JSON_LACKS(j, "junk");
    llmdb_free(j);
}

/* ---- Threads: readers beside a writer --------------------------------------------------- */

#define THREAD_KEYS 10
#define READERS 4

struct shared {
    llmdb *db;
    int commits;
    atomic_int done;
    atomic_long reads;
    atomic_int failed;
    char failure[512];
    pthread_mutex_t lock;
};

static void thread_fail(struct shared *sh, const char *what, llmdb_status s) {
    char err[300];
    last_error_copy(err, sizeof err);
    pthread_mutex_lock(&sh->lock);
    if (!atomic_load(&sh->failed)) {
        snprintf(sh->failure, sizeof sh->failure, "%s (status %d %s; last error: %s)", what, (int)s,
                 llmdb_status_name(s), err);
        atomic_store(&sh->failed, 1);
    }
    pthread_mutex_unlock(&sh->lock);
}

/* Commit c (1…commits) writes c * 16 + k to key tk (k = c % 10); commit 0 wrote k to each. */
static void *writer_main(void *arg) {
    struct shared *sh = arg;
    for (int c = 1; c <= sh->commits && !atomic_load(&sh->failed); c++) {
        int k = c % THREAD_KEYS;
        char key[8], val[32];
        snprintf(key, sizeof key, "t%d", k);
        snprintf(val, sizeof val, "%d", c * 16 + k);
        llmdb_txn *t = NULL;
        llmdb_status s = llmdb_txn_begin(sh->db, LLMDB_TIME_UNSET, &t);
        if (s == LLMDB_OK) s = put_json(t, 0, key, val, LLMDB_TIME_UNSET, LLMDB_TIME_UNSET);
        if (s == LLMDB_OK) s = llmdb_txn_commit(t, NULL, NULL);
        else llmdb_txn_abort(t);
        if (s != LLMDB_OK) {
            char what[64];
            snprintf(what, sizeof what, "writer: commit %d failed", c);
            thread_fail(sh, what, s);
        }
    }
    atomic_store(&sh->done, 1);
    return NULL;
}

static void *reader_main(void *arg) {
    struct shared *sh = arg;
    int last[THREAD_KEYS] = {0};
    uint64_t last_tx[THREAD_KEYS] = {0};
    uint32_t x = (uint32_t)(uintptr_t)&last;
    long n = 0;
    char buf[64];
    while (!atomic_load(&sh->failed) && (!atomic_load(&sh->done) || n < 200)) {
        x = x * 1103515245u + 12345u;
        int k = (int)((x >> 16) % THREAD_KEYS);
        char key[8];
        snprintf(key, sizeof key, "t%d", k);
        llmdb_fact f;
        llmdb_status s;
        int use_into = (n & 1) != 0;
        if (use_into) s = llmdb_get_into(sh->db, 0, key, strlen(key), LLMDB_TIME_UNSET, LLMDB_TX_LATEST,
                                         LLMDB_TIME_UNSET, buf, sizeof buf - 1, &f);
        else s = llmdb_get(sh->db, 0, key, strlen(key), LLMDB_TIME_UNSET, LLMDB_TX_LATEST, LLMDB_TIME_UNSET, &f);
        if (s != LLMDB_OK) {
            char what[64];
            snprintf(what, sizeof what, "reader: get t%d failed (read %ld)", k, n);
            thread_fail(sh, what, s);
            break;
        }
        char text[64];
        size_t len = f.value_len < sizeof text - 1 ? f.value_len : sizeof text - 1;
        memcpy(text, f.value, len);
        text[len] = '\0';
        if (!use_into) llmdb_free((void *)f.value);
        char *end;
        long v = strtol(text, &end, 10);
        long c = v / 16;
        /* A value that was written to this key: c * 16 + k with c % 10 == k, c ≤ commits. */
        if (*end || v < 0 || v % 16 != k || c > sh->commits || (c != 0 && c % THREAD_KEYS != k)) {
            char what[128];
            snprintf(what, sizeof what, "reader: t%d holds '%s', a value never written to it", k, text);
            thread_fail(sh, what, LLMDB_OK);
            break;
        }
        /* Never older than what this thread saw before. */
        if (c < last[k] || f.tx < last_tx[k]) {
            char what[128];
            snprintf(what, sizeof what, "reader: t%d went back from commit %d to %ld", k, last[k], c);
            thread_fail(sh, what, LLMDB_OK);
            break;
        }
        last[k] = (int)c;
        last_tx[k] = f.tx;
        n++;
    }
    atomic_fetch_add(&sh->reads, n);
    return NULL;
}

static void test_threads(llmdb *db) {
    struct shared sh;
    memset(&sh, 0, sizeof sh);
    sh.db = db;
    sh.commits = env_int("LLMDB_TEST_COMMITS", 500);
    CHECK(sh.commits >= THREAD_KEYS);
    atomic_init(&sh.done, 0);
    atomic_init(&sh.reads, 0);
    atomic_init(&sh.failed, 0);
    pthread_mutex_init(&sh.lock, NULL);
    llmdb_txn *t = NULL;
    OK(llmdb_txn_begin(db, LLMDB_TIME_UNSET, &t));
    for (int k = 0; k < THREAD_KEYS; k++) {
        char key[8], val[8];
        snprintf(key, sizeof key, "t%d", k);
        snprintf(val, sizeof val, "%d", k);
        OK(put_json(t, 0, key, val, LLMDB_TIME_UNSET, LLMDB_TIME_UNSET));
    }
    uint64_t tx0 = 0;
    OK(llmdb_txn_commit(t, &tx0, NULL));

    pthread_t readers[READERS], writer;
    for (int i = 0; i < READERS; i++) CHECK(pthread_create(&readers[i], NULL, reader_main, &sh) == 0);
    CHECK(pthread_create(&writer, NULL, writer_main, &sh) == 0);
    CHECK(pthread_join(writer, NULL) == 0);
    for (int i = 0; i < READERS; i++) CHECK(pthread_join(readers[i], NULL) == 0);
    if (atomic_load(&sh.failed)) fail_check(__FILE__, __LINE__, "threads", sh.failure);
    CHECK(atomic_load(&sh.reads) >= READERS * 200);
    /* The end state: each key holds its last commit; one transaction per commit. */
    for (int k = 0; k < THREAD_KEYS; k++) {
        int c = sh.commits - ((sh.commits - k) % THREAD_KEYS + THREAD_KEYS) % THREAD_KEYS;
        char key[8], val[32];
        snprintf(key, sizeof key, "t%d", k);
        snprintf(val, sizeof val, "%d", c * 16 + k);
        llmdb_fact f;
        EXPECT_GET(db, key, LLMDB_TIME_UNSET, LLMDB_TX_LATEST, LLMDB_TIME_UNSET, val, &f);
        CHECK(f.tx == tx0 + (uint64_t)c);
    }
    fprintf(stderr, "test_abi: threads: %ld reads beside %d commits\n", (long)atomic_load(&sh.reads), sh.commits);
    pthread_mutex_destroy(&sh.lock);
}

/* Two writers at once: every commit gets its own transaction id, none is lost. */
struct writer_arg {
    llmdb *db;
    int id, commits;
    uint64_t *txs;
    llmdb_status status;
};

static void *concurrent_writer(void *p) {
    struct writer_arg *a = p;
    for (int i = 0; i < a->commits; i++) {
        char key[32];
        snprintf(key, sizeof key, "cw/%d/%04d", a->id, i);
        llmdb_txn *t = NULL;
        llmdb_status s = llmdb_txn_begin(a->db, LLMDB_TIME_UNSET, &t);
        if (s == LLMDB_OK) s = put_json(t, 0, key, "1", LLMDB_TIME_UNSET, LLMDB_TIME_UNSET);
        if (s == LLMDB_OK) s = llmdb_txn_commit(t, &a->txs[i], NULL);
        if (s != LLMDB_OK) {
            a->status = s;
            return NULL;
        }
    }
    return NULL;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void test_concurrent_writers(llmdb *db) {
    int commits = env_int("LLMDB_TEST_COMMITS", 500) / 5;
    if (commits < 5) commits = 5;
    uint64_t *txs = calloc((size_t)commits * 2, sizeof(uint64_t));
    struct writer_arg a[2];
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        a[i] = (struct writer_arg){db, i, commits, txs + i * commits, LLMDB_OK};
        CHECK(pthread_create(&th[i], NULL, concurrent_writer, &a[i]) == 0);
    }
    for (int i = 0; i < 2; i++) {
        CHECK(pthread_join(th[i], NULL) == 0);
        OK(a[i].status);
    }
    qsort(txs, (size_t)commits * 2, sizeof(uint64_t), cmp_u64);
    for (int i = 1; i < commits * 2; i++) CHECK(txs[i] == txs[i - 1] + 1);
    llmdb_iter *it = NULL;
    OK(llmdb_scan(db, 0, "cw/", 3, LLMDB_TIME_UNSET, LLMDB_TX_LATEST, LLMDB_TIME_UNSET, &it));
    int n = 0;
    const uint8_t *key;
    size_t key_len;
    llmdb_fact row;
    while (llmdb_iter_next(it, &key, &key_len, &row) == LLMDB_OK) n++;
    OK(llmdb_iter_close(it));
    CHECK(n == commits * 2);
    free(txs);
}

/* ---- llmdb_last_error is per thread ----------------------------------------------------- */

struct error_arg {
    llmdb *db;
    pthread_barrier_t *barrier;
    char first[512];  /* the message right after this thread's error */
    char later[512];  /* the message after the other thread's error */
    char initial[64]; /* before any error on this thread */
    int which;
};

static void *error_thread(void *p) {
    struct error_arg *a = p;
    last_error_copy(a->initial, sizeof a->initial);
    if (a->which == 0) {
        /* First: an empty key. Then wait while the other thread makes another error. */
        llmdb_txn *t = NULL;
        if (llmdb_txn_begin(a->db, LLMDB_TIME_UNSET, &t) == LLMDB_OK) {
            llmdb_txn_put(t, 0, "", 0, "1", 1, LLMDB_VALUE_JSON, LLMDB_TIME_UNSET, LLMDB_TIME_UNSET);
            last_error_copy(a->first, sizeof a->first);
            llmdb_txn_abort(t); /* a success: does not clear the message */
        }
        pthread_barrier_wait(a->barrier);
        pthread_barrier_wait(a->barrier);
    } else {
        pthread_barrier_wait(a->barrier);
        char *json = NULL;
        llmdb_query(a->db, "SELEC nothing", NULL, &json, NULL);
        last_error_copy(a->first, sizeof a->first);
        pthread_barrier_wait(a->barrier);
    }
    last_error_copy(a->later, sizeof a->later);
    return NULL;
}

static void test_last_error_per_thread(llmdb *db) {
    /* This thread's message: a known error, kept across the other threads' errors and
     * across successful calls here. */
    llmdb_fact f;
    EXPECT(LLMDB_E_NULL_ARGUMENT, llmdb_get(db, 0, NULL, 1, LLMDB_TIME_UNSET, LLMDB_TX_LATEST, LLMDB_TIME_UNSET, &f));
    char mine[512];
    last_error_copy(mine, sizeof mine);
    EXPECT(LLMDB_NOT_FOUND, llmdb_get(db, 0, "absent", 6, LLMDB_TIME_UNSET, LLMDB_TX_LATEST, LLMDB_TIME_UNSET, &f));
    CHECK(strcmp(llmdb_last_error(), mine) == 0); /* not cleared by a success */

    pthread_barrier_t barrier;
    CHECK(pthread_barrier_init(&barrier, NULL, 2) == 0);
    struct error_arg a[2];
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        memset(&a[i], 0, sizeof a[i]);
        a[i].db = db;
        a[i].barrier = &barrier;
        a[i].which = i;
        CHECK(pthread_create(&th[i], NULL, error_thread, &a[i]) == 0);
    }
    for (int i = 0; i < 2; i++) CHECK(pthread_join(th[i], NULL) == 0);
    pthread_barrier_destroy(&barrier);
    for (int i = 0; i < 2; i++) {
        CHECK(strcmp(a[i].initial, "") == 0); /* a new thread has no error */
        CHECK(a[i].first[0] != '\0');
        if (strcmp(a[i].first, a[i].later) != 0) {
            char detail[1200];
            snprintf(detail, sizeof detail, "thread %d: \"%s\" became \"%s\"", i, a[i].first, a[i].later);
            fail_check(__FILE__, __LINE__, "per-thread llmdb_last_error", detail);
        }
    }
    CHECK(strcmp(a[0].first, a[1].first) != 0);
    CHECK(strcmp(llmdb_last_error(), mine) == 0);
}

/* ---- main ---------------------------------------------------------------------------- */

static void run(const char *name, void (*test)(llmdb *), llmdb *db) {
    fprintf(stderr, "test_abi: %s\n", name);
    test(db);
}

/* ---- fork, and open/close of one file from several threads ---------------------------- */

/* After fork the child's inherited handle is invalid (LMDB forbids using the parent's
 * environment), closing it only forgets it, and an open in the child is a fresh one whose
 * writes the parent sees. The parent's handle keeps working. */
static void test_fork(llmdb *unused) {
    (void)unused;
    llmdb *db = open_db("fork.llmdb");
    uint64_t tx0 = commit_put(db, LLMDB_TIME_UNSET, "before-fork", "1", LLMDB_TIME_UNSET, LLMDB_TIME_UNSET, NULL);
    CHECK(tx0 >= 1);
    char path[600];
    path_in_scratch(path, sizeof path, "fork.llmdb");
    /* The child reports "ok" through a pipe as its last step: under valgrind its exit
     * status is valgrind's (the parent's other threads do not exist in the child, so the
     * memory they held reads as leaked there), so the pipe is what counts. */
    int report[2];
    CHECK(pipe(report) == 0);
    fflush(stderr);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(report[0]);
        /* The child: exit codes name the first failed step. */
        char buf[16];
        size_t n;
        int32_t type;
        llmdb_txn *t;
        if (llmdb_get_value(db, 0, "before-fork", 11, LLMDB_TIME_UNSET, LLMDB_TX_LATEST, LLMDB_TIME_UNSET, buf,
                            sizeof buf, &n, &type) != LLMDB_E_INVALID_HANDLE)
            _exit(10);
        if (llmdb_txn_begin(db, LLMDB_TIME_UNSET, &t) != LLMDB_E_INVALID_HANDLE) _exit(11);
        if (strstr(llmdb_last_error(), "fork") == NULL) _exit(12);
        if (llmdb_close(db) != LLMDB_OK) _exit(13);
        if (llmdb_close(db) != LLMDB_E_INVALID_HANDLE) _exit(14);
        llmdb *mine;
        if (llmdb_open(path, NULL, &mine) != LLMDB_OK) _exit(15);
        if (llmdb_get_value(mine, 0, "before-fork", 11, LLMDB_TIME_UNSET, LLMDB_TX_LATEST, LLMDB_TIME_UNSET, buf,
                            sizeof buf, &n, &type) != LLMDB_OK || n != 1 || buf[0] != '1')
            _exit(16);
        if (llmdb_txn_begin(mine, LLMDB_TIME_UNSET, &t) != LLMDB_OK) _exit(17);
        if (llmdb_txn_put(t, 0, "from-child", 10, "2", 1, LLMDB_VALUE_JSON, LLMDB_TIME_UNSET, LLMDB_TIME_UNSET) !=
            LLMDB_OK)
            _exit(18);
        if (llmdb_txn_commit(t, NULL, NULL) != LLMDB_OK) _exit(19);
        if (llmdb_close(mine) != LLMDB_OK) _exit(20);
        if (write(report[1], "ok", 2) != 2) _exit(21);
        _exit(0);
    }
    close(report[1]);
    char said[3] = {0};
    ssize_t got = read(report[0], said, 2);
    close(report[0]);
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    int under_valgrind = env_int("LLMDB_TEST_UNDER_VALGRIND", 0);
    if (got != 2 || strcmp(said, "ok") != 0 || !WIFEXITED(status) ||
        (WEXITSTATUS(status) != 0 && !(under_valgrind && WEXITSTATUS(status) == 99))) {
        fprintf(stderr, "test_abi: the forked child failed at step %d (status %d)\n",
                WIFEXITED(status) ? WEXITSTATUS(status) : -1, status);
        exit(1);
    }
    llmdb_fact f;
    OK(llmdb_get(db, 0, "from-child", 10, LLMDB_TIME_UNSET, LLMDB_TX_LATEST, LLMDB_TIME_UNSET, &f));
    CHECK(f.value_len == 1 && f.value[0] == '2');
    llmdb_free((void *)f.value);
    OK(llmdb_close(db));
}

typedef struct {
    char path[600];
    int rounds;
    atomic_int failures;
} reopen_args;

static void *reopen_worker(void *p) {
    reopen_args *a = p;
    for (int i = 0; i < a->rounds; i++) {
        llmdb *db;
        llmdb_options o;
        llmdb_options_init(&o);
        o.sync = LLMDB_SYNC_NONE;
        if (llmdb_open(a->path, &o, &db) != LLMDB_OK) {
            fprintf(stderr, "test_abi: reopen: open: %s\n", llmdb_last_error());
            atomic_fetch_add(&a->failures, 1);
            continue;
        }
        llmdb_txn *t;
        if (llmdb_txn_begin(db, LLMDB_TIME_UNSET, &t) != LLMDB_OK ||
            llmdb_txn_put(t, 0, "n", 1, "1", 1, LLMDB_VALUE_JSON, LLMDB_TIME_UNSET, LLMDB_TIME_UNSET) != LLMDB_OK ||
            llmdb_txn_commit(t, NULL, NULL) != LLMDB_OK) {
            fprintf(stderr, "test_abi: reopen: write: %s\n", llmdb_last_error());
            atomic_fetch_add(&a->failures, 1);
        }
        if (llmdb_close(db) != LLMDB_OK) atomic_fetch_add(&a->failures, 1);
    }
    return NULL;
}

/* Threads opening, writing and closing one file at once: every open either shares the
 * open database or waits for a closing one to close; none fails, and the file is whole. */
static void test_reopen(llmdb *unused) {
    (void)unused;
    reopen_args a;
    path_in_scratch(a.path, sizeof a.path, "reopen.llmdb");
    a.rounds = getenv("LLMDB_TEST_UNDER_VALGRIND") ? 10 : 40;
    atomic_init(&a.failures, 0);
    pthread_t th[3];
    for (int i = 0; i < 3; i++) CHECK(pthread_create(&th[i], NULL, reopen_worker, &a) == 0);
    for (int i = 0; i < 3; i++) CHECK(pthread_join(th[i], NULL) == 0);
    CHECK(atomic_load(&a.failures) == 0);
    llmdb *db;
    OK(llmdb_open(a.path, NULL, &db));
    char *json;
    OK(llmdb_history(db, 0, "n", 1, LLMDB_TX_LATEST, 1, &json, NULL));
    int entries = 0;
    for (const char *p = json; (p = strstr(p, "\"tx\":")) != NULL; p++) entries++;
    llmdb_free(json);
    CHECK(entries == 3 * a.rounds);
    OK(llmdb_close(db));
}

/* ---- Closing a database while other threads call it ------------------------------------- */

/* Every call that runs while llmdb_close closes its database either completes as if it came
 * first or returns LLMDB_E_INVALID_HANDLE, the status of any call after the close (never
 * LLMDB_E_CLOSED, never a scan that ends early as if done); a commit that returns it wrote
 * nothing; no transaction or iterator outlives the close; the file opens again at once. */

#define RACE_KEYS 300 /* more than one page of an iterator (256 rows) */
enum { RACE_WRITE, RACE_GET, RACE_SCAN, RACE_QUERY, RACE_REMEMBER, RACE_ROLES };
static const char *const race_roles[RACE_ROLES] = {"write", "get", "scan", "query", "remember"};

typedef struct {
    llmdb *db;
    int role, id;
    atomic_int *started;
    llmdb_status last; /* the status that ended its loop */
    char call[48];     /* the call that returned it */
    char error[300];
    int truncated;     /* a scan that ended (LLMDB_DONE) before its last row: its row count */
    llmdb_txn *txn;    /* a transaction it left open when the loop ended */
    llmdb_iter *iter;  /* an iterator it left open */
    int commits;       /* commits that returned LLMDB_OK */
    char lost[48];     /* the key of the commit that failed (must not be in the file) */
} race_arg;

static void race_end(race_arg *a, const char *call, llmdb_status s) {
    a->last = s;
    snprintf(a->call, sizeof a->call, "%s", call);
    last_error_copy(a->error, sizeof a->error);
}

#define RACE_END(call, s)                                                                    \
    do {                                                                                     \
        race_end(a, (call), (s));                                                            \
        return NULL;                                                                         \
    } while (0)

static void *race_worker(void *p) {
    race_arg *a = p;
    int first = 1;
    for (int i = 0;; i++) {
        if (first) {
            atomic_fetch_add(a->started, 1);
            first = 0;
        }
        llmdb_status s;
        char key[48], *json = NULL;
        switch (a->role) {
        case RACE_WRITE: {
            llmdb_txn *t = NULL;
            snprintf(key, sizeof key, "w%d-%d", a->id, i);
            if ((s = llmdb_txn_begin(a->db, LLMDB_TIME_UNSET, &t)) != LLMDB_OK) RACE_END("llmdb_txn_begin", s);
            if ((s = put_json(t, 0, key, "1", LLMDB_TIME_UNSET, LLMDB_TIME_UNSET)) != LLMDB_OK) {
                a->txn = t;
                RACE_END("llmdb_txn_put", s);
            }
            if ((s = llmdb_txn_commit(t, NULL, NULL)) != LLMDB_OK) {
                snprintf(a->lost, sizeof a->lost, "%s", key);
                RACE_END("llmdb_txn_commit", s);
            }
            a->commits++;
            break;
        }
        case RACE_GET: {
            char buf[16];
            size_t n;
            int32_t type;
            snprintf(key, sizeof key, "k%03d", i % RACE_KEYS);
            s = llmdb_get_value(a->db, 0, key, strlen(key), LLMDB_TIME_UNSET, LLMDB_TX_LATEST, LLMDB_TIME_UNSET, buf,
                                sizeof buf, &n, &type);
            if (s != LLMDB_OK) RACE_END("llmdb_get_value", s);
            break;
        }
        case RACE_SCAN: {
            llmdb_iter *it = NULL;
            if ((s = llmdb_scan(a->db, 0, "k", 1, LLMDB_TIME_UNSET, LLMDB_TX_LATEST, LLMDB_TIME_UNSET, &it)) != LLMDB_OK)
                RACE_END("llmdb_scan", s);
            int rows = 0;
            const uint8_t *k;
            size_t klen;
            llmdb_fact f;
            while ((s = llmdb_iter_next(it, &k, &klen, &f)) == LLMDB_OK) rows++;
            if (s != LLMDB_DONE) {
                a->iter = it;
                RACE_END("llmdb_iter_next", s);
            }
            if (rows != RACE_KEYS) {
                a->truncated = rows;
                a->iter = it;
                RACE_END("llmdb_iter_next", s);
            }
            if ((s = llmdb_iter_close(it)) != LLMDB_OK) RACE_END("llmdb_iter_close", s);
            break;
        }
        case RACE_QUERY: {
            char lql[128];
            snprintf(lql, sizeof lql, "INSERT INTO race (_id, n) VALUES ('q%d-%d', %d)", a->id, i, i);
            if ((s = llmdb_query(a->db, lql, NULL, &json, NULL)) != LLMDB_OK) RACE_END("llmdb_query", s);
            llmdb_free(json);
            break;
        }
        default: {
            char args[128];
            snprintf(args, sizeof args, "{\"key\":\"agent:race:%d-%d\",\"content\":\"x\"}", a->id, i);
            if ((s = llmdb_remember(a->db, args, &json, NULL)) != LLMDB_OK) RACE_END("llmdb_remember", s);
            llmdb_free(json);
            break;
        }
        }
    }
}

static void test_close_race(llmdb *unused) {
    (void)unused;
    int valgrind = env_int("LLMDB_TEST_UNDER_VALGRIND", 0);
    int rounds = env_int("LLMDB_TEST_CLOSE_ROUNDS", valgrind ? 3 : 40);
    enum { THREADS = 2 * RACE_ROLES };
    char path[600];
    path_in_scratch(path, sizeof path, "close-race.llmdb");
    llmdb_options o;
    llmdb_options_init(&o);
    o.sync = LLMDB_SYNC_NONE;
    int ended_in[RACE_ROLES] = {0};
    for (int r = 0; r < rounds; r++) {
        llmdb *db = NULL;
        OK(llmdb_open(path, &o, &db));
        if (r == 0) {
            llmdb_txn *t = NULL;
            OK(llmdb_txn_begin(db, LLMDB_TIME_UNSET, &t));
            for (int k = 0; k < RACE_KEYS; k++) {
                char key[8];
                snprintf(key, sizeof key, "k%03d", k);
                OK(put_json(t, 0, key, "0", LLMDB_TIME_UNSET, LLMDB_TIME_UNSET));
            }
            OK(llmdb_txn_commit(t, NULL, NULL));
        }
        atomic_int started;
        atomic_init(&started, 0);
        race_arg a[THREADS];
        pthread_t th[THREADS];
        memset(a, 0, sizeof a);
        for (int i = 0; i < THREADS; i++) {
            a[i].db = db;
            a[i].role = i % RACE_ROLES;
            a[i].id = r * THREADS + i;
            a[i].started = &started;
            CHECK(pthread_create(&th[i], NULL, race_worker, &a[i]) == 0);
        }
        while (atomic_load(&started) < THREADS) sched_yield();
        struct timespec pause = {0, (long)(r % 8) * 250000}; /* 0 to 1.75 ms of calls */
        nanosleep(&pause, NULL);
        OK(llmdb_close(db));
        for (int i = 0; i < THREADS; i++) CHECK(pthread_join(th[i], NULL) == 0);
        for (int i = 0; i < THREADS; i++) {
            char what[512];
            snprintf(what, sizeof what, "round %d: the %s thread: %s returned %d (%s) while the database closed: %s", r,
                     race_roles[a[i].role], a[i].call, (int)a[i].last, llmdb_status_name(a[i].last), a[i].error);
            if (a[i].truncated || a[i].last == LLMDB_DONE) {
                snprintf(what, sizeof what, "round %d: a scan ended (LLMDB_DONE) after %d of its %d rows as the database closed",
                         r, a[i].truncated, RACE_KEYS);
                fail_check(__FILE__, __LINE__, "llmdb_iter_next racing with llmdb_close", what);
            }
            if (a[i].last != LLMDB_E_INVALID_HANDLE) fail_check(__FILE__, __LINE__, "a call racing with llmdb_close", what);
            if (a[i].error[0] == '\0') fail_check(__FILE__, __LINE__, "LLMDB_E_INVALID_HANDLE without a message", what);
            if (strcmp(a[i].call, "llmdb_txn_commit") == 0 || strcmp(a[i].call, "llmdb_iter_next") == 0 ||
                strcmp(a[i].call, "llmdb_query") == 0 || strcmp(a[i].call, "llmdb_remember") == 0)
                ended_in[a[i].role]++;
            /* Handles a thread still held are invalid: llmdb_close freed them. */
            if (a[i].txn) EXPECT(LLMDB_E_INVALID_HANDLE, llmdb_txn_abort(a[i].txn));
            if (a[i].iter) EXPECT(LLMDB_E_INVALID_HANDLE, llmdb_iter_close(a[i].iter));
        }
        /* The file opens again at once (nothing kept it open), with every acknowledged commit
         * and none of the refused ones. */
        OK(llmdb_open(path, &o, &db));
        for (int i = 0; i < THREADS; i++) {
            if (a[i].role != RACE_WRITE) continue;
            char key[48];
            char buf[16];
            size_t n;
            int32_t type;
            if (a[i].commits > 0) {
                snprintf(key, sizeof key, "w%d-%d", a[i].id, a[i].commits - 1);
                OK(llmdb_get_value(db, 0, key, strlen(key), LLMDB_TIME_UNSET, LLMDB_TX_LATEST, LLMDB_TIME_UNSET, buf,
                                   sizeof buf, &n, &type));
            }
            if (a[i].lost[0])
                EXPECT(LLMDB_NOT_FOUND, llmdb_get_value(db, 0, a[i].lost, strlen(a[i].lost), LLMDB_TIME_UNSET,
                                                        LLMDB_TX_LATEST, LLMDB_TIME_UNSET, buf, sizeof buf, &n, &type));
        }
        OK(llmdb_close(db));
    }
    fprintf(stderr, "test_abi: close race: %d rounds; threads that ended at llmdb_txn_commit: %d, llmdb_iter_next: %d, "
                    "llmdb_query: %d, llmdb_remember: %d\n",
            rounds, ended_in[RACE_WRITE], ended_in[RACE_SCAN], ended_in[RACE_QUERY], ended_in[RACE_REMEMBER]);
}

int main(void) {
    setvbuf(stderr, NULL, _IONBF, 0);
    const char *tmp = getenv("TMPDIR");
    snprintf(scratch, sizeof scratch, "%s/llmdb-c-abi.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(scratch)) {
        fprintf(stderr, "test_abi: mkdtemp %s: %s\n", scratch, strerror(errno));
        return 1;
    }
    fprintf(stderr, "test_abi: scratch directory %s\n", scratch);

    fprintf(stderr, "test_abi: static\n");
    test_static();
    fprintf(stderr, "test_abi: open\n");
    test_open();

    llmdb *db = open_db("main.llmdb");
    run("bitemporal", test_bitemporal, db); /* first: explicit transaction times */
    run("handles", test_handles, db);
    run("null arguments", test_null_arguments, db);
    run("utf8", test_utf8, db);
    run("transaction errors", test_txn_errors, db);
    run("expect", test_expect, db);
    run("values and get_into", test_values, db);
    run("scan", test_scan, db);
    run("scan pages", test_scan_pages, db);
    run("query", test_query, db);
    run("memory", test_memory, db);
    run("call", test_call, db);
    run("vectors", test_vectors, db);
    run("code", test_code, db);
    run("threads", test_threads, db);
    run("concurrent writers", test_concurrent_writers, db);
    run("last error per thread", test_last_error_per_thread, db);
    run("fork", test_fork, db);
    run("open and close from several threads", test_reopen, db);
    run("closing while other threads call", test_close_race, db);
    OK(llmdb_close(db));
    EXPECT_DB_REJECTED(db);

    if (nftw(scratch, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) {
        fprintf(stderr, "test_abi: could not remove %s: %s\n", scratch, strerror(errno));
        return 1;
    }
    fprintf(stderr, "test_abi: passed\n");
    return 0;
}
