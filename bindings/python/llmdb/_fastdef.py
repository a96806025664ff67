"""The declarations of the hot calls (get, put) for cffi, shared by the build (setup.py
compiles them into the extension llmdb._fastc) and the fallback in _fast.py.

The wrappers take handles as `uintptr_t`, so the package's integer handles pass as they
are, and their C side casts them to the header's pointer types. `fast_get` keeps the read
buffer on the C side, so a get converts eight small arguments and reads one struct.
"""

CDEF = """
typedef struct { int32_t status; int32_t type; size_t len; const char *data; } fast_value;
fast_value fast_get(uintptr_t db, uint32_t partition, const char *key, size_t key_len,
                    int32_t given, int64_t valid_at, uint64_t tx, int64_t tx_time);
int32_t fast_txn_put(uintptr_t txn, uint32_t partition, const char *key, size_t key_len,
                     const char *value, size_t value_len, int32_t value_type,
                     int32_t given, int64_t valid_from, int64_t valid_to);
"""

SOURCE = """
#include <pthread.h>
#include <stdlib.h>
#include "llmdb.h"

typedef struct { int32_t status; int32_t type; size_t len; const char *data; } fast_value;

/* A status of the shim's own: memory ran out (Python raises MemoryError). */
#define FAST_NO_MEMORY (-1)
#define FAST_KEEP (1u << 20)

/* Each thread's read buffer: the value is copied into it, and Python copies it out into a
 * bytes object before the thread's next get. It grows to the largest value read up to
 * 1 MiB (a larger value gets a buffer of its own, freed at the thread's next get) and is
 * freed when the thread exits. */
typedef struct { char *buffer; size_t capacity; char *large; } fast_state;

static pthread_key_t fast_key;
static pthread_once_t fast_once = PTHREAD_ONCE_INIT;

static void fast_free_state(void *p) {
    fast_state *st = p;
    free(st->buffer);
    free(st->large);
    free(st);
}

static void fast_make_key(void) { pthread_key_create(&fast_key, fast_free_state); }

static fast_state *fast_thread_state(void) {
    pthread_once(&fast_once, fast_make_key);
    fast_state *st = pthread_getspecific(fast_key);
    if (st == NULL) {
        st = calloc(1, sizeof *st);
        if (st == NULL) return NULL;
        st->buffer = malloc(4096);
        if (st->buffer == NULL) { free(st); return NULL; }
        st->capacity = 4096;
        pthread_setspecific(fast_key, st);
    }
    return st;
}

/* llmdb_get_value with the buffer kept here: fewer and smaller arguments to convert.
 * `given` says which of valid_at (1), tx (2) and tx_time (4) are set; the others are
 * the defaults, so that Python passes small integers. */
static fast_value fast_get(uintptr_t db, uint32_t partition, const char *key, size_t key_len,
                           int32_t given, int64_t valid_at, uint64_t tx, int64_t tx_time) {
    fast_value r = {FAST_NO_MEMORY, 0, 0, NULL};
    int64_t va = (given & 1) ? valid_at : LLMDB_TIME_UNSET;
    uint64_t t = (given & 2) ? tx : LLMDB_TX_LATEST;
    int64_t tt = (given & 4) ? tx_time : LLMDB_TIME_UNSET;
    fast_state *st = fast_thread_state();
    if (st == NULL) return r;
    free(st->large);
    st->large = NULL;
    size_t len = 0;
    int32_t type = 0;
    char *data = st->buffer;
    int32_t status = llmdb_get_value((llmdb *)db, partition, key, key_len, va, t, tt,
                                     st->buffer, st->capacity, &len, &type);
    /* Too small: a bigger buffer, and again (a concurrent write may have grown the value
     * between the two reads, so loop). */
    while (status == LLMDB_E_BUFFER_TOO_SMALL) {
        if (len <= FAST_KEEP) {
            size_t cap = 2 * st->capacity;
            if (cap < len) cap = len;
            if (cap > FAST_KEEP) cap = FAST_KEEP;
            char *bigger = malloc(cap);
            if (bigger == NULL) return r;
            free(st->buffer);
            st->buffer = bigger;
            st->capacity = cap;
            data = bigger;
            status = llmdb_get_value((llmdb *)db, partition, key, key_len, va, t, tt, bigger, cap, &len, &type);
        } else {
            free(st->large);
            st->large = malloc(len);
            if (st->large == NULL) return r;
            data = st->large;
            status = llmdb_get_value((llmdb *)db, partition, key, key_len, va, t, tt, st->large, len, &len, &type);
        }
    }
    r.status = status;
    r.type = type;
    r.len = len;
    r.data = data;
    return r;
}

/* llmdb_txn_put; `given` says which of valid_from (1) and valid_to (2) are set. */
static int32_t fast_txn_put(uintptr_t txn, uint32_t partition, const char *key, size_t key_len,
                            const char *value, size_t value_len, int32_t value_type,
                            int32_t given, int64_t valid_from, int64_t valid_to) {
    return llmdb_txn_put((llmdb_txn *)txn, partition, key, key_len, value, value_len, value_type,
                         (given & 1) ? valid_from : LLMDB_TIME_UNSET,
                         (given & 2) ? valid_to : LLMDB_TIME_UNSET);
}
"""

# For cffi's ABI mode (no compiler at install time), the library's own functions.
ABI_CDEF = """
int32_t llmdb_get_value(uintptr_t db, uint32_t partition, const char *key, size_t key_len,
                        int64_t valid_at, uint64_t tx, int64_t tx_time,
                        char *buffer, size_t capacity, size_t *value_len, int32_t *value_type);
int32_t llmdb_txn_put(uintptr_t txn, uint32_t partition, const char *key, size_t key_len,
                      const char *value, size_t value_len, int32_t value_type,
                      int64_t valid_from, int64_t valid_to);
"""
