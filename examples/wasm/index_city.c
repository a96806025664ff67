/*
 * index_city.c — a custom_index module: for each JSON record with a string field "city",
 * one index key, the city's bytes. Records without one (and tombstones) get no key; an
 * empty city or one longer than 255 bytes is skipped. A city written with backslash
 * escapes fails the write: this small reader does not decode them, and an index that
 * silently missed such records would be wrong.
 *
 *     llmdb code add build/wasm/index_city.wasm --name index-city
 *     llmdb index add by-city --module index-city --prefix user:
 *     llmdb index get by-city Paris
 */
#include "json_field.h"
#include "llmdb_wasm.h"
#include "page.h"

LLMDB_BUMP_ALLOCATOR

LLMDB_EXPORT(custom_index)
uint32_t custom_index(uint32_t in_ptr, uint32_t in_len, uint32_t out_ptr, uint32_t out_cap) {
    const llmdb_page *page = page_open(in_ptr, in_len);
    uint8_t *out = (uint8_t *)(uintptr_t)out_ptr;
    /* `size` counts every byte needed; entries are written only while they fit. */
    uint32_t size = 0;
    uint32_t offset = LLMDB_PAGE_HEADER_SIZE;
    for (uint32_t i = 0; i < page->count; i++) {
        const llmdb_record *r = page_record(in_ptr, in_len, &offset);
        if (r->tag != LLMDB_TAG_JSON) continue; /* tombstones too */
        json_span v, city;
        if (!json_field(llmdb_record_value(r), r->value_len, "city", &v)) continue;
        int kind = json_string(v, &city);
        if (kind == JSON_UNSUPPORTED) FAIL("index-city: a \"city\" with escapes is not supported");
        if (kind != JSON_OK || city.len == 0 || city.len > 255) continue;
        uint32_t entry = (uint32_t)sizeof(llmdb_index_key) + ((city.len + 3u) & ~3u);
        if (size <= out_cap && entry <= out_cap - size) {
            llmdb_index_key *header = (llmdb_index_key *)(out + size);
            header->record = i;
            header->key_len = city.len;
            uint8_t *key = out + size + sizeof(llmdb_index_key);
            json_copy(key, city.ptr, city.len);
            for (uint32_t k = city.len; k < entry - sizeof(llmdb_index_key); k++) key[k] = 0;
        }
        size += entry;
    }
    return size;
}
