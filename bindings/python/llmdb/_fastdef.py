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
#include <stdlib.h>
#include "llmdb.h"

typedef struct { int32_t status; int32_t type; size_t len; const char *data; } fast_value;

/* Each thread's read buffer: the value is copied into it, and Python copies it out into a
 * bytes object before the thread's next get. It grows to the largest value read (values
 * over 1 MiB get a buffer of their own, freed at the next get) and lives as long as the
 * thread. */
static __thread char *fast_buffer;
static __thread size_t fast_capacity;
static __thread char *fast_large;

/* llmdb_get_value with the buffer kept here: fewer and smaller arguments to convert.
 * `given` says which of valid_at (1), tx (2) and tx_time (4) are set; the others are
 * the defaults, so that Python passes small integers. */
static fast_value fast_get(uintptr_t db, uint32_t partition, const char *key, size_t key_len,
                           int32_t given, int64_t valid_at, uint64_t tx, int64_t tx_time) {
    fast_value r = {0, 0, 0, NULL};
    int64_t va = (given & 1) ? valid_at : LLMDB_TIME_UNSET;
    uint64_t t = (given & 2) ? tx : LLMDB_TX_LATEST;
    int64_t tt = (given & 4) ? tx_time : LLMDB_TIME_UNSET;
    free(fast_large);
    fast_large = NULL;
    if (fast_buffer == NULL) {
        fast_buffer = malloc(4096);
        if (fast_buffer == NULL) { r.status = LLMDB_E_INTERNAL; return r; }
        fast_capacity = 4096;
    }
    size_t len = 0;
    int32_t type = 0;
    int32_t st = llmdb_get_value((llmdb *)db, partition, key, key_len, va, t, tt,
                                 fast_buffer, fast_capacity, &len, &type);
    char *data = fast_buffer;
    if (st == LLMDB_E_BUFFER_TOO_SMALL) {
        size_t cap = len <= (1u << 20) ? (len > 2 * fast_capacity ? len : 2 * fast_capacity) : len;
        char *bigger = malloc(cap > 0 ? cap : 1);
        if (bigger == NULL) { r.status = LLMDB_E_INTERNAL; return r; }
        st = llmdb_get_value((llmdb *)db, partition, key, key_len, va, t, tt, bigger, cap, &len, &type);
        if (len <= (1u << 20)) {
            free(fast_buffer);
            fast_buffer = bigger;
            fast_capacity = cap;
        } else {
            fast_large = bigger;
        }
        data = bigger;
    }
    r.status = st;
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
