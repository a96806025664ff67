/*
 * page.h — walking an input page safely, for the LLMDB wasm examples.
 *
 *     const llmdb_page *page = page_open(in_ptr, in_len);
 *     uint32_t offset = LLMDB_PAGE_HEADER_SIZE;
 *     for (uint32_t i = 0; i < page->count; i++) {
 *         const llmdb_record *r = page_record(in_ptr, in_len, &offset);
 *         ...
 *     }
 *
 * The host builds pages correctly; these checks make a module fail with a message rather
 * than read past the page if it ever does not (or when a test calls the module by hand).
 */
#ifndef LLMDB_EXAMPLES_PAGE_H
#define LLMDB_EXAMPLES_PAGE_H

#include "llmdb_wasm.h"

/* Fails the call with a string literal as the message. */
#define FAIL(literal) llmdb_fail(literal, sizeof(literal) - 1)

/* The page at in_ptr, after checking its header against in_len. */
static inline const llmdb_page *page_open(uint32_t in_ptr, uint32_t in_len) {
    const llmdb_page *page = (const llmdb_page *)(uintptr_t)in_ptr;
    if (in_len < LLMDB_PAGE_HEADER_SIZE || page->size != in_len) FAIL("bad page header");
    return page;
}

/* The record at *offset, checked to lie inside the page; advances *offset past it. */
static inline const llmdb_record *page_record(uint32_t in_ptr, uint32_t in_len,
                                              uint32_t *offset) {
    uint32_t at = *offset;
    if (at > in_len || in_len - at < LLMDB_RECORD_HEADER_SIZE) FAIL("bad record");
    const llmdb_record *r = (const llmdb_record *)(uintptr_t)(in_ptr + at);
    uint64_t need = (uint64_t)LLMDB_RECORD_HEADER_SIZE + r->key_len + r->value_len;
    if (r->size % 8 != 0 || r->size > in_len - at || need > r->size) FAIL("bad record");
    *offset = at + r->size;
    return r;
}

#endif /* LLMDB_EXAMPLES_PAGE_H */
