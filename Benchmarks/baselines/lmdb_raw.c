/*
 * Raw LMDB baseline: plain key -> latest value, one entry per key, no
 * bitemporal encoding. This is the "ideal" lookup cost LLMDB is compared to.
 *
 * Usage: lmdb_raw --dir DIR --workload W[,W...]|all [--scale S]
 * See common.h for the output format, PRNG and key/value format.
 *
 * Database file: DIR/lmdb_raw.mdb (+ DIR/lmdb_raw.mdb-lock), deleted and
 * recreated for every workload. Single file (MDB_NOSUBDIR), map size 4 GiB,
 * MDB_NOSYNC|MDB_NOMETASYNC except for the durable_commit_* workloads.
 */
#include "common.h"

#include <lmdb.h>
#include <pthread.h>

#define MAP_SIZE (4ULL << 30)

static const char *g_dir;
static char g_path[4096], g_lock_path[4200];

#define CHECK(expr) do { int rc_ = (expr); if (rc_ != MDB_SUCCESS) \
    DIE("%s:%d: %s: %s", __FILE__, __LINE__, #expr, mdb_strerror(rc_)); } while (0)

typedef struct {
    MDB_env *env;
    MDB_dbi dbi;
} db_t;

static db_t db_open(int durable) {
    db_t db;
    remove_file(g_path);
    remove_file(g_lock_path);
    CHECK(mdb_env_create(&db.env));
    CHECK(mdb_env_set_mapsize(db.env, MAP_SIZE));
    CHECK(mdb_env_set_maxreaders(db.env, 126));
    unsigned flags = MDB_NOSUBDIR | (durable ? 0 : (MDB_NOSYNC | MDB_NOMETASYNC));
    CHECK(mdb_env_open(db.env, g_path, flags, 0644));
    MDB_txn *txn;
    CHECK(mdb_txn_begin(db.env, NULL, 0, &txn));
    CHECK(mdb_dbi_open(txn, NULL, 0, &db.dbi));
    CHECK(mdb_txn_commit(txn));
    return db;
}

static void db_close(db_t *db) {
    mdb_env_close(db->env);
    remove_file(g_path);
    remove_file(g_lock_path);
}

static void put(MDB_txn *txn, MDB_dbi dbi, int64_t k, int64_t v) {
    char kb[KEY_LEN], vb[VALUE_LEN];
    make_key(kb, k);
    make_value(vb, v);
    MDB_val key = {KEY_LEN, kb}, val = {VALUE_LEN, vb};
    CHECK(mdb_put(txn, dbi, &key, &val, 0));
}

/* Untimed load: keys 0..n-1 in ascending order, value(k*vmul + vadd), 10,000 puts per txn. */
static void load_keys(db_t *db, int64_t n, int64_t vmul, int64_t vadd) {
    MDB_txn *txn = NULL;
    for (int64_t k = 0; k < n; k++) {
        if (!txn) CHECK(mdb_txn_begin(db->env, NULL, 0, &txn));
        put(txn, db->dbi, k, k * vmul + vadd);
        if ((k + 1) % TXN_BATCH == 0 || k + 1 == n) { CHECK(mdb_txn_commit(txn)); txn = NULL; }
    }
}

static void expect_value(db_t *db, int64_t k, int64_t v) {
    MDB_txn *txn;
    char kb[KEY_LEN];
    make_key(kb, k);
    MDB_val key = {KEY_LEN, kb}, val;
    CHECK(mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn));
    CHECK(mdb_get(txn, db->dbi, &key, &val));
    if (val.mv_size != VALUE_LEN || value_v(val.mv_data, val.mv_size) != v)
        DIE("sanity check failed for key %" PRId64 ": expected v=%" PRId64, k, v);
    mdb_txn_abort(txn);
}

/* ---------- bulk_load ---------- */
static void w_bulk_load(const char *name) {
    int64_t n = scaled(1000000);
    int64_t *perm = malloc((size_t)n * sizeof *perm);
    if (!perm) DIE("oom");
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)rand_below((uint64_t)i + 1);
        int64_t t = perm[i]; perm[i] = perm[j]; perm[j] = t;
    }
    db_t db = db_open(0);
    double t0 = now_sec();
    MDB_txn *txn = NULL;
    for (int64_t i = 0; i < n; i++) {
        if (!txn) CHECK(mdb_txn_begin(db.env, NULL, 0, &txn));
        put(txn, db.dbi, perm[i], perm[i]);
        if ((i + 1) % TXN_BATCH == 0 || i + 1 == n) { CHECK(mdb_txn_commit(txn)); txn = NULL; }
    }
    double t1 = now_sec();
    MDB_stat st;
    CHECK(mdb_txn_begin(db.env, NULL, MDB_RDONLY, &txn));
    CHECK(mdb_stat(txn, db.dbi, &st));
    mdb_txn_abort(txn);
    if ((int64_t)st.ms_entries != n) DIE("bulk_load: %zu entries, expected %" PRId64, st.ms_entries, n);
    expect_value(&db, perm[0], perm[0]);
    report(name, n, t1 - t0);
    db_close(&db);
    free(perm);
}

/* ---------- random point reads over keys 0..nkeys-1 (point_read, versions_D) ---------- */
static void timed_reads(db_t *db, const char *name, int64_t nkeys, int64_t nreads) {
    uint64_t checksum = 0;
    MDB_txn *txn;
    char kb[KEY_LEN];
    MDB_val key = {KEY_LEN, kb}, val;
    double t0 = now_sec();
    CHECK(mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn));
    for (int64_t i = 0; i < nreads; i++) {
        if (i > 0 && i % TXN_BATCH == 0) { mdb_txn_reset(txn); CHECK(mdb_txn_renew(txn)); }
        make_key(kb, (int64_t)rand_below((uint64_t)nkeys));
        CHECK(mdb_get(txn, db->dbi, &key, &val));
        checksum += (uint64_t)((const unsigned char *)val.mv_data)[0] + val.mv_size;
    }
    mdb_txn_abort(txn);
    double t1 = now_sec();
    fprintf(stderr, "lmdb %s: checksum %" PRIu64 "\n", name, checksum);
    report(name, nreads, t1 - t0);
}

static void w_point_read(const char *name) {
    int64_t n = scaled(1000000);
    db_t db = db_open(0);
    load_keys(&db, n, 1, 0);
    expect_value(&db, n - 1, n - 1);
    timed_reads(&db, name, n, scaled(1000000));
    db_close(&db);
}

/* Raw LMDB has no versions. To compare lookups over the same amount of data, it stores all
 * K x D entries under plain keys key%08d + version j (4 bytes, big-endian), and a read is an
 * exact get of the latest version (key, D-1): what a user who always knows the version
 * would do. The tree has the same number of entries as LLMDB's. */
static void versioned_key(char *kb, int64_t k, int64_t j) {
    make_key(kb, k);
    kb[KEY_LEN] = (char)(j >> 24); kb[KEY_LEN + 1] = (char)(j >> 16);
    kb[KEY_LEN + 2] = (char)(j >> 8); kb[KEY_LEN + 3] = (char)j;
}

static void w_versions(const char *name, int64_t d) {
    int64_t total = scaled(100000);
    int64_t k = total / d < 1 ? 1 : total / d;
    db_t db = db_open(0);
    MDB_txn *txn = NULL;
    char kb[KEY_LEN + 4], vb[VALUE_LEN];
    int64_t n = 0;
    for (int64_t key = 0; key < k; key++) {
        for (int64_t j = 0; j < d; j++) {
            if (!txn) CHECK(mdb_txn_begin(db.env, NULL, 0, &txn));
            versioned_key(kb, key, j);
            make_value(vb, key * d + j);
            MDB_val mk = {KEY_LEN + 4, kb}, mv = {VALUE_LEN, vb};
            CHECK(mdb_put(txn, db.dbi, &mk, &mv, 0));
            if (++n % TXN_BATCH == 0) { CHECK(mdb_txn_commit(txn)); txn = NULL; }
        }
    }
    if (txn) CHECK(mdb_txn_commit(txn));
    int64_t nreads = scaled(200000);
    uint64_t checksum = 0;
    MDB_val key = {KEY_LEN + 4, kb}, val;
    double t0 = now_sec();
    CHECK(mdb_txn_begin(db.env, NULL, MDB_RDONLY, &txn));
    for (int64_t i = 0; i < nreads; i++) {
        if (i > 0 && i % TXN_BATCH == 0) { mdb_txn_reset(txn); CHECK(mdb_txn_renew(txn)); }
        int64_t r = (int64_t)rand_below((uint64_t)k);
        versioned_key(kb, r, d - 1);
        CHECK(mdb_get(txn, db.dbi, &key, &val));
        checksum += (uint64_t)((const unsigned char *)val.mv_data)[0] + val.mv_size;
    }
    mdb_txn_abort(txn);
    double t1 = now_sec();
    fprintf(stderr, "lmdb %s: checksum %" PRIu64 "\n", name, checksum);
    versioned_key(kb, k - 1, d - 1);
    CHECK(mdb_txn_begin(db.env, NULL, MDB_RDONLY, &txn));
    CHECK(mdb_get(txn, db.dbi, &key, &val));
    if (value_v(val.mv_data, val.mv_size) != (k - 1) * d + d - 1) DIE("versions: wrong latest value");
    mdb_txn_abort(txn);
    report(name, nreads, t1 - t0);
    db_close(&db);
}

/* ---------- prefix_scan ---------- */
static void w_prefix_scan(const char *name) {
    int64_t n = scaled(1000000);
    int64_t nprefix = n / 100 < 1 ? 1 : n / 100;
    int64_t nscans = scaled(10000);
    db_t db = db_open(0);
    load_keys(&db, n, 1, 0);
    uint64_t checksum = 0;
    int64_t rows = 0, expected_rows = 0;
    MDB_txn *txn;
    MDB_cursor *cur;
    char pb[KEY_LEN];
    double t0 = now_sec();
    CHECK(mdb_txn_begin(db.env, NULL, MDB_RDONLY, &txn));
    CHECK(mdb_cursor_open(txn, db.dbi, &cur));
    for (int64_t s = 0; s < nscans; s++) {
        /* one read txn per 100 scans (= up to 10,000 rows) */
        if (s > 0 && s % (TXN_BATCH / 100) == 0) {
            mdb_txn_reset(txn);
            CHECK(mdb_txn_renew(txn));
            CHECK(mdb_cursor_renew(txn, cur));
        }
        int64_t p = (int64_t)rand_below((uint64_t)nprefix);
        make_key(pb, p * 100); /* first 9 bytes = "key%06d" of p */
        int64_t hi = p * 100 + 100 < n ? p * 100 + 100 : n;
        expected_rows += hi - p * 100;
        MDB_val key = {KEY_LEN - 2, pb}, val;
        int rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
        while (rc == MDB_SUCCESS && key.mv_size >= KEY_LEN - 2 && memcmp(key.mv_data, pb, KEY_LEN - 2) == 0) {
            checksum += (uint64_t)((const unsigned char *)key.mv_data)[key.mv_size - 1] +
                        ((const unsigned char *)val.mv_data)[0] + val.mv_size;
            rows++;
            rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
        }
        if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) CHECK(rc);
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    double t1 = now_sec();
    if (rows != expected_rows) DIE("prefix_scan: %" PRId64 " rows, expected %" PRId64, rows, expected_rows);
    fprintf(stderr, "lmdb %s: %" PRId64 " rows, checksum %" PRIu64 "\n", name, rows, checksum);
    report(name, nscans, t1 - t0);
    db_close(&db);
}

/* ---------- durable commits ---------- */
typedef struct {
    db_t *db;
    int64_t lo, hi;
    pthread_barrier_t *barrier;
} writer_arg;

static void *writer(void *p) {
    writer_arg *a = p;
    if (a->barrier) pthread_barrier_wait(a->barrier);
    for (int64_t i = a->lo; i < a->hi; i++) {
        MDB_txn *txn;
        CHECK(mdb_txn_begin(a->db->env, NULL, 0, &txn));
        put(txn, a->db->dbi, i, i);
        CHECK(mdb_txn_commit(txn)); /* fsync: env opened without MDB_NOSYNC */
    }
    return NULL;
}

static void w_durable(const char *name, int nthreads) {
    int64_t total = scaled(2000);
    db_t db = db_open(1);
    double t0, t1;
    if (nthreads == 1) {
        writer_arg a = {&db, 0, total, NULL};
        t0 = now_sec();
        writer(&a);
        t1 = now_sec();
    } else {
        pthread_t th[64];
        writer_arg args[64];
        pthread_barrier_t barrier;
        pthread_barrier_init(&barrier, NULL, (unsigned)nthreads + 1);
        for (int t = 0; t < nthreads; t++) {
            args[t] = (writer_arg){&db, total * t / nthreads, total * (t + 1) / nthreads, &barrier};
            if (pthread_create(&th[t], NULL, writer, &args[t]) != 0) DIE("pthread_create");
        }
        pthread_barrier_wait(&barrier);
        t0 = now_sec();
        for (int t = 0; t < nthreads; t++) pthread_join(th[t], NULL);
        t1 = now_sec();
        pthread_barrier_destroy(&barrier);
    }
    MDB_stat st;
    MDB_txn *txn;
    CHECK(mdb_txn_begin(db.env, NULL, MDB_RDONLY, &txn));
    CHECK(mdb_stat(txn, db.dbi, &st));
    mdb_txn_abort(txn);
    if ((int64_t)st.ms_entries != total) DIE("%s: %zu entries, expected %" PRId64, name, st.ms_entries, total);
    report(name, total, t1 - t0);
    db_close(&db);
}

int main(int argc, char **argv) {
    options o;
    g_system = "lmdb";
    parse_args(argc, argv, &o);
    g_dir = o.dir;
    path_join(g_path, sizeof g_path, g_dir, "lmdb_raw.mdb");
    path_join(g_lock_path, sizeof g_lock_path, g_dir, "lmdb_raw.mdb-lock");
    for (size_t w = 0; w < N_WORKLOADS; w++) {
        if (!o.selected[w]) continue;
        const char *name = ALL_WORKLOADS[w];
        prng_reset();
        fprintf(stderr, "lmdb: running %s (scale %g)\n", name, g_scale);
        if (!strcmp(name, "bulk_load")) w_bulk_load(name);
        else if (!strcmp(name, "point_read")) w_point_read(name);
        else if (!strncmp(name, "versions_", 9)) w_versions(name, atoll(name + 9));
        else if (!strcmp(name, "prefix_scan")) w_prefix_scan(name);
        else if (!strcmp(name, "durable_commit_1")) w_durable(name, 1);
        else if (!strcmp(name, "durable_commit_8")) w_durable(name, 8);
    }
    return 0;
}
