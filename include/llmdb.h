/*
 * llmdb.h: the C ABI of LLMDB, a bitemporal memory store for agents (libllmdb.so).
 *
 * Every fact keeps a valid time (when it is true in the world) and a transaction time
 * (when the database learned it); nothing is overwritten. See docs/embedding.md for a
 * tour and docs/time-semantics.md for the exact rules.
 *
 * Conventions
 * - Every function returns an llmdb_status: LLMDB_OK (0), LLMDB_NOT_FOUND or LLMDB_DONE
 *   for the two expected non-answers, or an error (>= LLMDB_E_INVALID_HANDLE). After an
 *   error, llmdb_last_error() gives a one-line message on the calling thread.
 * - Handles (llmdb, llmdb_txn, llmdb_iter) are checked on every call: a NULL, closed or
 *   made-up handle is LLMDB_E_INVALID_HANDLE, never a crash. A closed database's handle
 *   stays invalid forever (handles are not reused). After fork(), the child's copies of
 *   its parent's handles are invalid too (LMDB forbids using them): llmdb_close only
 *   forgets them, and llmdb_open opens the file afresh in the child. Fork while no other
 *   thread is inside an llmdb_* call (a lock held at the fork stays held in the child).
 * - Buffers the library returns through an `out` pointer (values, JSON text) are owned by
 *   the caller and freed with llmdb_free(). Pointers the library lends (an iterator's row,
 *   llmdb_last_error(), llmdb_status_name()) stay owned by the library; the header says
 *   until when.
 * - Text arguments (paths, JSON, LQL, names) are NUL-terminated UTF-8; invalid UTF-8 is
 *   LLMDB_E_INVALID_UTF8. Keys and raw values are byte strings with a length.
 * - Times are llmdb_time: microseconds since 1970-01-01T00:00:00Z (UTC).
 * - Thread safety: a database handle may be used from any number of threads at once.
 *   Reads never wait for the writer. Write transactions are collected on the caller's
 *   thread and committed one at a time (concurrent commits share one fsync). One
 *   transaction or iterator handle must not be used from two threads at the same time.
 * - Closing while other threads call: a call on a database, or on a transaction or an
 *   iterator of it, that runs while another thread's llmdb_close closes that database
 *   either completes as if it had come first, or returns LLMDB_E_INVALID_HANDLE, the
 *   status of every call after the close. That holds for every function (reads, writes,
 *   commits, scans and iterator steps, LQL, the JSON operations, the code registry):
 *   none returns LLMDB_E_CLOSED, and an iterator never reports LLMDB_DONE early.
 *   An llmdb_txn_commit that returns LLMDB_E_INVALID_HANDLE wrote nothing; no transaction
 *   or iterator begun by a racing call outlives the close. Rows an iterator lent are
 *   still freed by the close: read them before closing the database.
 * - Output parameters are written only on LLMDB_OK (and, where stated, LLMDB_NOT_FOUND
 *   or LLMDB_E_BUFFER_TOO_SMALL).
 */
#ifndef LLMDB_H
#define LLMDB_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this ABI; llmdb_abi_version() returns the library's. */
#define LLMDB_ABI_VERSION 1

/* ---- Status codes -------------------------------------------------------------------- */

typedef int32_t llmdb_status;

#define LLMDB_OK 0
/* A get of a key with no value at that (valid time, transaction): absent or retracted. */
#define LLMDB_NOT_FOUND 1
/* An iterator has no more rows. */
#define LLMDB_DONE 2

/* Errors of the C boundary. */
#define LLMDB_E_INVALID_HANDLE 10     /* NULL, closed, finished or unknown handle */
#define LLMDB_E_NULL_ARGUMENT 11      /* a required pointer argument is NULL */
#define LLMDB_E_INVALID_UTF8 12       /* a text argument is not valid UTF-8 */
#define LLMDB_E_BUFFER_TOO_SMALL 13   /* llmdb_get_into: the needed size is in value_len */
#define LLMDB_E_INTERNAL 14           /* a failure the library did not expect */
#define LLMDB_E_FORBIDDEN 15
#define LLMDB_E_BUSY 16

/* Errors of the database (their names are the `code` of the REST API's errors). */
#define LLMDB_E_EMPTY_KEY 20              /* empty_key */
#define LLMDB_E_KEY_TOO_LONG 21           /* key_too_long */
#define LLMDB_E_NULL_VALUE 22             /* null_value: JSON null as a value */
#define LLMDB_E_INVALID_JSON 23           /* invalid_json */
#define LLMDB_E_INVALID_VALUE 24          /* invalid_value: bytes that do not decode as their type */
#define LLMDB_E_INVALID_TIME_RANGE 25     /* invalid_time_range: valid_to <= valid_from, ... */
#define LLMDB_E_TX_TIME_NOT_INCREASING 26 /* tx_time_not_increasing */
#define LLMDB_E_UNKNOWN_VALUE_TAG 27      /* unknown_value_tag */
#define LLMDB_E_NOT_A_DATABASE 28         /* not_a_database */
#define LLMDB_E_FORMAT_VERSION 29         /* format_version */
#define LLMDB_E_READ_ONLY 30              /* read_only */
#define LLMDB_E_MAP_FULL 31               /* map_full */
#define LLMDB_E_DISK_FULL 32              /* disk_full */
#define LLMDB_E_CORRUPTED 33              /* corrupted */
#define LLMDB_E_INVALID_ARGUMENT 34       /* invalid_argument */
#define LLMDB_E_STORAGE 35                /* storage: another LMDB failure */
#define LLMDB_E_CLOSED 36                 /* closed: the server's database is closing (REST);
                                             not returned by this library: a call racing
                                             with llmdb_close gets LLMDB_E_INVALID_HANDLE */
#define LLMDB_E_RESERVED_PARTITION 37     /* reserved_partition: partition 0xFFFFFFFF */
#define LLMDB_E_NO_SUCH 38                /* no_such: no such module, memory, collection, ...
                                             (the REST API's not_found) */
#define LLMDB_E_INVALID_MODULE 39         /* invalid_module */
#define LLMDB_E_HOOK_REJECTED 40          /* hook_rejected */
#define LLMDB_E_CODE_FAILED 41            /* code_failed */
#define LLMDB_E_CODE_LIMIT 42             /* code_limit */
#define LLMDB_E_CODE_UNAVAILABLE 43       /* code_unavailable */
#define LLMDB_E_CONFLICT 44               /* conflict: an llmdb_txn_expect did not hold */
#define LLMDB_E_SCHEMA_VIOLATION 45       /* schema_violation */
#define LLMDB_E_INVALID_SCHEMA 46         /* invalid_schema */
#define LLMDB_E_INVALID_QUERY 47          /* invalid_query: LQL that does not parse or run */

/* The message of the last error on this thread ("" if none). Owned by the library; valid
 * until the next llmdb_* call on this thread. Successful calls do not clear it. */
const char *llmdb_last_error(void);

/* The stable snake_case name of a status ("ok", "key_too_long", ...), or "unknown".
 * A static string; never freed. */
const char *llmdb_status_name(llmdb_status status);

/* LLMDB_ABI_VERSION of the library. */
int32_t llmdb_abi_version(void);

/* Frees a buffer the library returned (a value, JSON text). NULL is ignored. */
void llmdb_free(void *buffer);

/* ---- Times and selectors ------------------------------------------------------------- */

typedef int64_t llmdb_time; /* microseconds since the Unix epoch, UTC */

#define LLMDB_TIME_BEGINNING INT64_MIN   /* the beginning of time */
#define LLMDB_TIME_END INT64_MAX         /* the end of time: an open valid_to */
#define LLMDB_TIME_UNSET (INT64_MIN + 1) /* "not given": the default the function states */

#define LLMDB_TX_LATEST UINT64_MAX /* as of the latest transaction */

/* Value types (the first byte of a stored value). */
#define LLMDB_VALUE_RAW 0x00     /* opaque bytes */
#define LLMDB_VALUE_JSON 0x01    /* UTF-8 JSON text, validated on write */
#define LLMDB_VALUE_MSGPACK 0x02 /* MessagePack, validated on write */

/* ---- Opening ------------------------------------------------------------------------- */

typedef struct llmdb llmdb;

#define LLMDB_SYNC_FULL 0 /* fsync on every commit: an acknowledged commit survives a crash */
#define LLMDB_SYNC_META 1 /* no fsync of the meta page: a crash may lose the last commits */
#define LLMDB_SYNC_NONE 2 /* no fsync: for tests and bulk loads */

typedef struct llmdb_options {
    uint32_t size;        /* sizeof(llmdb_options); set by llmdb_options_init */
    int32_t read_only;    /* 1: open read-only (writes fail with LLMDB_E_READ_ONLY) */
    int32_t create;       /* 1 (default): create the file if it does not exist */
    int32_t sync;         /* LLMDB_SYNC_FULL (default), _META or _NONE */
    uint64_t map_size;    /* initial map size in bytes (default 64 MiB; grows as needed) */
    uint64_t max_map_size; /* the largest the map may grow to (default 1 TiB) */
} llmdb_options;

/* Fills `options` with the defaults. */
void llmdb_options_init(llmdb_options *options);

/* Opens (or creates) the database file at `path` (plus LMDB's `path-lock` beside it).
 * `options` may be NULL for the defaults. On LLMDB_OK, *out is a handle for llmdb_close.
 * Any number of processes may open one file: readers run alongside, writers take turns.
 * A file this process already has open is shared, not opened twice (LMDB forbids that):
 * a read-only handle may join a read-write one, not the other way round, `sync` must
 * match, and the first open's map sizes apply. The file closes with its last handle; an
 * open of it meanwhile waits until it is closed. */
llmdb_status llmdb_open(const char *path, const llmdb_options *options, llmdb **out);

/* Waits for queued commits, then closes the database and invalidates the handle.
 * Iterators and transactions still open on it are freed and become invalid too: every
 * later call on them, llmdb_txn_abort and llmdb_iter_close included, is
 * LLMDB_E_INVALID_HANDLE. Calls other threads are making meanwhile complete or return
 * LLMDB_E_INVALID_HANDLE (see "Closing while other threads call" above). */
llmdb_status llmdb_close(llmdb *db);

/* ---- Write transactions -------------------------------------------------------------- */

typedef struct llmdb_txn llmdb_txn;

/* Starts collecting a write transaction. `tx_time` is its transaction time, or
 * LLMDB_TIME_UNSET for the clock (an explicit time must be after the last one).
 * Operations are checked as they are added and applied atomically, in order, by
 * llmdb_txn_commit; reads do not see them before. */
llmdb_status llmdb_txn_begin(llmdb *db, llmdb_time tx_time, llmdb_txn **out);

/* Puts `value` (of `value_type`, LLMDB_VALUE_*) for `key` in `partition` from `valid_from`
 * (LLMDB_TIME_UNSET: the transaction time). `valid_to`: LLMDB_TIME_UNSET or LLMDB_TIME_END
 * for "until the key's next entry in valid time"; otherwise the value holds over
 * [valid_from, valid_to) and what was in effect at valid_to is restored there. */
llmdb_status llmdb_txn_put(llmdb_txn *txn, uint32_t partition, const void *key, size_t key_len,
                           const void *value, size_t value_len, int32_t value_type,
                           llmdb_time valid_from, llmdb_time valid_to);

/* Retracts `key` from `valid_from` (open-ended, or over [valid_from, valid_to)). */
llmdb_status llmdb_txn_delete(llmdb_txn *txn, uint32_t partition, const void *key, size_t key_len,
                              llmdb_time valid_from, llmdb_time valid_to);

/* Removes every entry of `key`, for all valid and transaction times (for data that must
 * go: the only operation that destroys history). */
llmdb_status llmdb_txn_erase(llmdb_txn *txn, uint32_t partition, const void *key, size_t key_len);

#define LLMDB_EXPECT_ABSENT 0  /* no value now */
#define LLMDB_EXPECT_PRESENT 1 /* some value now */
#define LLMDB_EXPECT_VERSION 2 /* the value written by transaction `tx` */

/* Makes the commit fail with LLMDB_E_CONFLICT, writing nothing, unless `key` is in the
 * expected state when this operation is applied: a compare-and-set. */
llmdb_status llmdb_txn_expect(llmdb_txn *txn, uint32_t partition, const void *key, size_t key_len,
                              int32_t expectation, uint64_t tx);

/* Commits: durable when it returns LLMDB_OK (with LLMDB_SYNC_FULL). Writes the transaction's
 * id and time to `tx_out` and `tx_time_out` (each may be NULL). The handle is freed
 * whatever the result; on an error nothing was written. */
llmdb_status llmdb_txn_commit(llmdb_txn *txn, uint64_t *tx_out, llmdb_time *tx_time_out);

/* Discards the transaction and frees the handle. */
llmdb_status llmdb_txn_abort(llmdb_txn *txn);

/* ---- Reads --------------------------------------------------------------------------- */

/* Every read takes the point it reads as of:
 *   valid_at  the valid time (LLMDB_TIME_UNSET: now),
 *   tx        the last transaction seen (LLMDB_TX_LATEST: the latest),
 *   tx_time   if not LLMDB_TIME_UNSET, the last transaction at or before this time
 *             (then `tx` must be LLMDB_TX_LATEST). */

typedef struct llmdb_fact {
    const uint8_t *value; /* llmdb_get: owned by the caller (llmdb_free); llmdb_get_into:
                             the caller's buffer; iterators: lent until the next row */
    size_t value_len;
    int32_t value_type;    /* LLMDB_VALUE_* (or another stored type: edge 0x10, vector 0x20) */
    llmdb_time valid_from; /* the start of the entry's valid time */
    llmdb_time valid_to;   /* the end of the value's run (LLMDB_TIME_END: open) */
    uint64_t tx;           /* the transaction that wrote it */
    llmdb_time tx_time;    /* that transaction's time */
} llmdb_fact;

/* The value of `key` as of (valid_at, tx): LLMDB_OK with *out filled (out->value allocated:
 * free it with llmdb_free), or LLMDB_NOT_FOUND. */
llmdb_status llmdb_get(llmdb *db, uint32_t partition, const void *key, size_t key_len,
                       llmdb_time valid_at, uint64_t tx, llmdb_time tx_time, llmdb_fact *out);

/* As llmdb_get, but copies the value into the caller's `buffer` of `capacity` bytes
 * (out->value = buffer). If it does not fit: LLMDB_E_BUFFER_TOO_SMALL with the size needed
 * in out->value_len (the other fields filled too). No allocation. */
llmdb_status llmdb_get_into(llmdb *db, uint32_t partition, const void *key, size_t key_len,
                            llmdb_time valid_at, uint64_t tx, llmdb_time tx_time,
                            void *buffer, size_t capacity, llmdb_fact *out);

/* The value only, for the hottest reads: as llmdb_get_into, without the valid_to and
 * tx_time that cost llmdb_get two more lookups. Writes the value's size (also on
 * LLMDB_E_BUFFER_TOO_SMALL) and type. */
llmdb_status llmdb_get_value(llmdb *db, uint32_t partition, const void *key, size_t key_len,
                             llmdb_time valid_at, uint64_t tx, llmdb_time tx_time,
                             void *buffer, size_t capacity, size_t *value_len, int32_t *value_type);

/* Every entry of `key` as known at `tx` (LLMDB_TX_LATEST: now), as a JSON array of
 * {"key","partition","value","value_type","retracted","valid_from","valid_to","tx","tx_time"}
 * in valid time order; with `with_corrections` also the entries later corrected. "value"
 * is the JSON value, or {"tag","base64"} for another type, null for a retraction;
 * "value_type" is LLMDB_VALUE_* (null for a retraction); times are ISO-8601 text. *json_out is
 * NUL-terminated and owned by the caller (llmdb_free); *len_out (may be NULL) its length. */
llmdb_status llmdb_history(llmdb *db, uint32_t partition, const void *key, size_t key_len,
                           uint64_t tx, int32_t with_corrections, char **json_out, size_t *len_out);

/* The key's value over valid time, as known at `tx`: a JSON array of
 * {"value","value_type","valid_from","valid_to"} runs, limited to those overlapping [from, to)
 * (LLMDB_TIME_UNSET for either: unbounded). */
llmdb_status llmdb_timeline(llmdb *db, uint32_t partition, const void *key, size_t key_len,
                            uint64_t tx, llmdb_time from, llmdb_time to,
                            char **json_out, size_t *len_out);

/* Every version of every key starting with `prefix`, as known at `tx`: a JSON array of
 * facts as llmdb_history gives them (retractions and corrections included), by key, then
 * valid time, then transaction. For "how did this evolve". */
llmdb_status llmdb_versions(llmdb *db, uint32_t partition, const void *prefix, size_t prefix_len,
                            uint64_t tx, char **json_out, size_t *len_out);

/* The last transaction at or before `tx_time` (0 if none): to read history, timeline and
 * versions as of a transaction time. */
llmdb_status llmdb_tx_at(llmdb *db, llmdb_time tx_time, uint64_t *tx_out);

/* ---- Prefix scans -------------------------------------------------------------------- */

typedef struct llmdb_iter llmdb_iter;

/* Starts a scan of the keys of `partition` starting with `prefix` (may be empty), in key
 * order, as of (valid_at, tx, tx_time); retracted keys are skipped. The iterator reads
 * in pages from the transaction it started at, so writes made later are not seen (an
 * erase is the exception: erased entries vanish). */
llmdb_status llmdb_scan(llmdb *db, uint32_t partition, const void *prefix, size_t prefix_len,
                        llmdb_time valid_at, uint64_t tx, llmdb_time tx_time, llmdb_iter **out);

/* The next row: LLMDB_OK with *key, *key_len and *row filled, or LLMDB_DONE. The key and
 * row->value are lent: valid until the next llmdb_iter_next, llmdb_iter_close, or
 * llmdb_close of its database. */
llmdb_status llmdb_iter_next(llmdb_iter *iter, const uint8_t **key, size_t *key_len, llmdb_fact *row);

/* Frees the iterator. */
llmdb_status llmdb_iter_close(llmdb_iter *iter);

/* ---- LQL ----------------------------------------------------------------------------- */

/* Runs an LQL statement (docs/lql.md). `params_json` (may be NULL) is a JSON object for
 * :name parameters or an array for $1, $2, .... Writes (INSERT, UPDATE, DELETE, ERASE)
 * commit before it returns. *json_out: {"columns":[...],"rows":[...],"plan":[...]},
 * owned by the caller (llmdb_free). */
llmdb_status llmdb_query(llmdb *db, const char *lql, const char *params_json,
                         char **json_out, size_t *len_out);

/* ---- Operations on JSON: agent memory, documents, schemas -------------------------------
 *
 * Each takes a JSON object of arguments (not NULL), with the fields of the REST route of
 * the same name (docs/server.md), and returns its JSON answer (owned by the caller,
 * llmdb_free). Unknown fields are refused. Times in the answers are ISO-8601 text. They run
 * with every right (there are no API keys in process); through a read-only handle, the
 * operations that write fail with LLMDB_E_READ_ONLY. */

/* remember: {"key","content","confidence","source","dependencies","expires_at","valid_from",
 * "partition"} or {"memories":[...]} in one transaction. */
llmdb_status llmdb_remember(llmdb *db, const char *args_json, char **json_out, size_t *len_out);
/* recall: {"query", "namespace", "limit", "max_tokens", "max_bytes", "valid_at", "tx", ...} */
llmdb_status llmdb_recall(llmdb *db, const char *args_json, char **json_out, size_t *len_out);
/* correct: {"key", "reason", "content", "confidence", ...}: same valid time, new transaction. */
llmdb_status llmdb_correct(llmdb *db, const char *args_json, char **json_out, size_t *len_out);
/* forget: {"key", "valid_from", "erase"}: a retraction (erase: true removes it). */
llmdb_status llmdb_forget(llmdb *db, const char *args_json, char **json_out, size_t *len_out);
/* memoryHistory: {"key", "tx", "tx_time", "limit", "cursor"}. */
llmdb_status llmdb_memory_history(llmdb *db, const char *args_json, char **json_out, size_t *len_out);
/* knowledgeEvolution: {"prefix", "tx", ...}: every version with its confidence change. */
llmdb_status llmdb_memory_evolution(llmdb *db, const char *args_json, char **json_out, size_t *len_out);
/* asOf: {"tx" or "tx_time", "prefix", "valid_at", "limit", "cursor"}. */
llmdb_status llmdb_memory_as_of(llmdb *db, const char *args_json, char **json_out, size_t *len_out);
/* rollback: {"prefix", "tx", "reason", "decision"}. */
llmdb_status llmdb_memory_rollback(llmdb *db, const char *args_json, char **json_out, size_t *len_out);
/* listNamespaces: {"partition"}. */
llmdb_status llmdb_memory_namespaces(llmdb *db, const char *args_json, char **json_out, size_t *len_out);

/* Any operation of the REST API by its operationId in /openapi.json ("insertDocument",
 * "findDocuments", "setSchema", "applyMigration", ...), with its path parameters among the
 * arguments. LLMDB_E_NO_SUCH for an unknown operation. */
llmdb_status llmdb_call(llmdb *db, const char *operation, const char *args_json,
                        char **json_out, size_t *len_out);

/* ---- Vectors (docs/vectors.md) --------------------------------------------------------
 *
 * The floats go in as they lie in memory (float32, row-major); the rest of the vector API
 * is llmdb_call with the REST operations: createVectorCollection {"collection",
 * "dimensions", "metric", "partition"}, getVector {"collection", "key", "valid_at", "tx"},
 * deleteVector, vectorCollectionStats, listVectorCollections, dropVectorCollection. */

/* Stores n vectors of `dims` floats each (n * dims floats at `vectors`), the i-th under
 * keys[i] (NUL-terminated UTF-8) with metadata_json[i] (a JSON object, or NULL for none; the
 * array itself may be NULL), valid from now, in one transaction: all or none. */
llmdb_status llmdb_vector_put(llmdb *db, const char *collection, size_t n, const char *const *keys,
                              const float *vectors, size_t dims, const char *const *metadata_json,
                              uint64_t *tx_out);
/* The k (1 to 1000) vectors nearest to `query` (dims floats) in the collection, nearest
 * first. options_json: NULL or {"filter": {"path": value, ...}, "valid_at", "tx", "tx_time",
 * "max_bytes"}. *json_out: {"hits": [{"key", "distance", "metadata", "valid_from", "tx"}],
 * "truncated"}, owned by the caller (llmdb_free). */
llmdb_status llmdb_vector_search(llmdb *db, const char *collection, const float *query, size_t dims,
                                 int32_t k, const char *options_json, char **json_out, size_t *len_out);

/* ---- The code registry (WebAssembly modules) ------------------------------------------ */

/* Registers a module (a WebAssembly binary, or WAT text) under `name`. `kind` is
 * "map_pages", "reduce_pages", "tx_hook" or "custom_index", or NULL to infer it;
 * `function` the export to call, or NULL for the kind's name. *json_out describes it. */
llmdb_status llmdb_code_add(llmdb *db, const char *name, const void *module, size_t module_len,
                            const char *kind, const char *function, char **json_out, size_t *len_out);

/* The live modules: {"modules":[{"name","kind","function","sha256","size",...}]}. */
llmdb_status llmdb_code_list(llmdb *db, char **json_out, size_t *len_out);

/* Retracts the module named `name` (refused while a hook or index uses it, unless
 * `force`). */
llmdb_status llmdb_code_remove(llmdb *db, const char *name, int32_t force, uint64_t *tx_out);

#ifdef __cplusplus
}
#endif

#endif /* LLMDB_H */
