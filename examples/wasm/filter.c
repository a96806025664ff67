/*
 * filter.c — a map_pages module: keeps the JSON records whose "amount" is an integer of at
 * least 100, unchanged, and drops every other record.
 *
 *     llmdb code add build/wasm/filter.wasm --name filter
 *     llmdb scan --prefix order: --map filter
 */
#include "json_field.h"
#include "llmdb_wasm.h"
#include "page.h"

LLMDB_BUMP_ALLOCATOR

static int keep(const llmdb_record *r) {
    if (r->tag != LLMDB_TAG_JSON) return 0;
    json_span v;
    int64_t amount;
    return json_field(llmdb_record_value(r), r->value_len, "amount", &v) && json_int(v, &amount)
        && amount >= 100;
}

LLMDB_EXPORT(map_pages)
uint32_t map_pages(uint32_t in_ptr, uint32_t in_len, uint32_t out_ptr, uint32_t out_cap) {
    const llmdb_page *page = page_open(in_ptr, in_len);
    uint8_t *out = (uint8_t *)(uintptr_t)out_ptr;
    /* `size` counts every byte the output needs; bytes are written only while they fit,
       so a too-small buffer is never overrun and the host learns the size to retry with. */
    uint32_t size = LLMDB_PAGE_HEADER_SIZE;
    uint32_t count = 0;
    uint32_t offset = LLMDB_PAGE_HEADER_SIZE;
    for (uint32_t i = 0; i < page->count; i++) {
        const llmdb_record *r = page_record(in_ptr, in_len, &offset);
        if (!keep(r)) continue;
        if (size <= out_cap && r->size <= out_cap - size)
            json_copy(out + size, (const uint8_t *)r, r->size);
        size += r->size; /* cannot overflow: the kept records are a part of the input */
        count++;
    }
    if (size > out_cap) return size;
    llmdb_page *header = (llmdb_page *)out;
    header->size = size;
    header->count = count;
    header->kind = LLMDB_PAGE_MAP;
    header->acc_len = 0;
    return size;
}
