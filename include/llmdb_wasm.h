/*
 * llmdb_wasm.h — the byte ABI between LLMDB and WebAssembly modules (ABI version 1).
 *
 * For module authors writing C for wasm32 (clang --target=wasm32 -nostdlib). The full
 * contract, with examples, is docs/wasm-abi.md. In short:
 *
 *  - A module exports its linear memory as "memory", an allocator "llmdb_alloc", and one
 *    function of one of four kinds, each with the signature
 *        uint32_t f(uint32_t in_ptr, uint32_t in_len, uint32_t out_ptr, uint32_t out_cap)
 *    (wasm: (i32, i32, i32, i32) -> i32).
 *  - The host allocates the input and output buffers once per instance by calling
 *    llmdb_alloc, and again (never freeing) when it needs bigger ones. An instance lives
 *    for one operation (one scan, one reduce, one transaction's hooks or index updates) and
 *    is then discarded: nothing leaks from one operation to the next.
 *  - The input is a page (llmdb_page) of records (llmdb_record), little-endian.
 *  - A return value larger than out_cap means "call me again with this much room": the
 *    host grows the output buffer and calls again with the same input. So a function must
 *    give the same answer for the same input (reduce: for the same accumulator).
 *  - To fail, call llmdb_fail(message, length): the enclosing read or write fails with
 *    that message and nothing is written. A trap (e.g. __builtin_trap()) fails it too.
 *  - No capabilities: the only import a module may use without configuration is
 *    llmdb.fail. llmdb.clock_now and llmdb.random_fill exist only when the operator grants
 *    "clock" and "random"; any other import is refused at registration.
 */
#ifndef LLMDB_WASM_H
#define LLMDB_WASM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LLMDB_ABI_VERSION 1

/* Page kinds (llmdb_page.kind). */
#define LLMDB_PAGE_MAP 1u
#define LLMDB_PAGE_REDUCE 2u
#define LLMDB_PAGE_HOOK 3u
#define LLMDB_PAGE_INDEX 4u

/* Value tags (llmdb_record.tag), as stored by LLMDB. */
#define LLMDB_TAG_BYTES 0x00u
#define LLMDB_TAG_JSON 0x01u
#define LLMDB_TAG_MSGPACK 0x02u
#define LLMDB_TAG_PROTOBUF 0x03u
#define LLMDB_TAG_EDGE 0x10u
#define LLMDB_TAG_VECTOR 0x20u
#define LLMDB_TAG_TOMBSTONE 0xFFu

/* Operations seen by a tx_hook (llmdb_record.op). */
#define LLMDB_OP_PUT 0u
#define LLMDB_OP_DELETE 1u
#define LLMDB_OP_ERASE 2u

/* valid_to of a record whose validity has no known end. */
#define LLMDB_TIME_OPEN INT64_MAX

/* The header of every page: 16 bytes, then `count` records back to back. */
typedef struct llmdb_page {
    uint32_t size;    /* bytes of the page, header included */
    uint32_t count;   /* records in the page */
    uint32_t kind;    /* LLMDB_PAGE_* (in output pages written by map_pages: ignored) */
    uint32_t acc_len; /* reduce_pages: bytes of the accumulator at out_ptr; else 0 */
} llmdb_page;

/* One record: a 48-byte header, the key bytes, the value bytes, zero padding to `size`. */
typedef struct llmdb_record {
    uint32_t size;       /* bytes of the record, header included; a multiple of 8 */
    uint32_t partition;  /* the key's partition */
    uint32_t key_len;    /* bytes of the user key, right after this header */
    uint32_t value_len;  /* bytes of the value payload (without its tag), after the key */
    int64_t valid_from;  /* microseconds since 1970-01-01T00:00:00Z */
    int64_t valid_to;    /* hooks: the end of a ranged write; else LLMDB_TIME_OPEN */
    uint64_t tx_id;      /* the entry's transaction (hooks: the transaction being written) */
    uint8_t tag;         /* LLMDB_TAG_* */
    uint8_t op;          /* hooks: LLMDB_OP_*; else 0 */
    uint16_t reserved0;  /* 0 */
    uint32_t reserved1;  /* 0 */
} llmdb_record;

#define LLMDB_PAGE_HEADER_SIZE 16u
#define LLMDB_RECORD_HEADER_SIZE 48u

#ifdef __cplusplus
static_assert(sizeof(llmdb_page) == LLMDB_PAGE_HEADER_SIZE, "llmdb_page is 16 bytes");
static_assert(sizeof(llmdb_record) == LLMDB_RECORD_HEADER_SIZE, "llmdb_record is 48 bytes");
#else
_Static_assert(sizeof(llmdb_page) == LLMDB_PAGE_HEADER_SIZE, "llmdb_page is 16 bytes");
_Static_assert(sizeof(llmdb_record) == LLMDB_RECORD_HEADER_SIZE, "llmdb_record is 48 bytes");
#endif

/* custom_index output: entries back to back, each padded to a multiple of 4 bytes. */
typedef struct llmdb_index_key {
    uint32_t record;  /* the input record (0-based) this key belongs to */
    uint32_t key_len; /* bytes of the index key that follow (1 to 255) */
} llmdb_index_key;

static inline const uint8_t *llmdb_record_key(const llmdb_record *r) {
    return (const uint8_t *)r + LLMDB_RECORD_HEADER_SIZE;
}
static inline const uint8_t *llmdb_record_value(const llmdb_record *r) {
    return (const uint8_t *)r + LLMDB_RECORD_HEADER_SIZE + r->key_len;
}
static inline const llmdb_record *llmdb_page_first(const llmdb_page *p) {
    return (const llmdb_record *)((const uint8_t *)p + LLMDB_PAGE_HEADER_SIZE);
}
static inline const llmdb_record *llmdb_record_next(const llmdb_record *r) {
    return (const llmdb_record *)((const uint8_t *)r + r->size);
}
static inline uint32_t llmdb_record_size(uint32_t key_len, uint32_t value_len) {
    return (LLMDB_RECORD_HEADER_SIZE + key_len + value_len + 7u) & ~7u;
}

#define LLMDB_EXPORT(name) __attribute__((export_name(#name)))
#define LLMDB_IMPORT(name) __attribute__((import_module("llmdb"), import_name(#name)))

/* Fails the current call: the enclosing operation fails with this message. Never returns. */
LLMDB_IMPORT(fail) __attribute__((noreturn)) void llmdb_fail(const char *message, uint32_t length);

/* Granted only with the "clock" capability: the host's wall clock, in microseconds. */
LLMDB_IMPORT(clock_now) int64_t llmdb_clock_now(void);
/* Granted only with the "random" capability: fills `length` bytes at `buffer`. */
LLMDB_IMPORT(random_fill) void llmdb_random_fill(uint8_t *buffer, uint32_t length);

/*
 * LLMDB_BUMP_ALLOCATOR defines llmdb_alloc as a bump allocator over the heap, growing
 * memory as needed; it never frees (an instance lives for one operation). Use it once
 * in a module unless you bring your own allocator.
 */
#define LLMDB_BUMP_ALLOCATOR                                                              \
    extern unsigned char __heap_base;                                                     \
    static uintptr_t llmdb_heap_top_;                                                     \
    LLMDB_EXPORT(llmdb_alloc) uint32_t llmdb_alloc(uint32_t size) {                       \
        if (llmdb_heap_top_ == 0) llmdb_heap_top_ = (uintptr_t)&__heap_base;              \
        uintptr_t p = (llmdb_heap_top_ + 15u) & ~(uintptr_t)15u;                          \
        uintptr_t end = p + size;                                                         \
        if (end < p) return 0;                                                            \
        uintptr_t have = __builtin_wasm_memory_size(0) * 65536u;                          \
        if (end > have) {                                                                 \
            uintptr_t pages = (end - have + 65535u) / 65536u;                             \
            if (__builtin_wasm_memory_grow(0, pages) == (uintptr_t)-1) return 0;          \
        }                                                                                 \
        llmdb_heap_top_ = end;                                                            \
        return (uint32_t)p;                                                               \
    }

#ifdef __cplusplus
}
#endif

#endif /* LLMDB_WASM_H */
