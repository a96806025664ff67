/*
 * require_title.c — a tx_hook module: rejects a transaction if one of its puts writes a
 * value that is not JSON, or a JSON value without a top-level "title" field. Deletes and
 * erases are accepted.
 *
 *     llmdb code add build/wasm/require_title.wasm --name require-title
 *     llmdb hook add require-title --prefix doc:
 *
 * The reason does not quote the key or the value: like LLMDB's own errors, it names the
 * problem without copying data into logs.
 */
#include "json_field.h"
#include "llmdb_wasm.h"
#include "page.h"

LLMDB_BUMP_ALLOCATOR

typedef struct text {
    uint8_t bytes[128]; /* append stops at the end */
    uint32_t len;
} text;

static void append(text *t, const uint8_t *p, uint32_t n) {
    for (uint32_t i = 0; i < n && t->len < sizeof(t->bytes); i++) t->bytes[t->len++] = p[i];
}

static void append_str(text *t, const char *s) {
    uint32_t n = 0;
    while (s[n]) n++;
    append(t, (const uint8_t *)s, n);
}

LLMDB_EXPORT(tx_hook)
uint32_t tx_hook(uint32_t in_ptr, uint32_t in_len, uint32_t out_ptr, uint32_t out_cap) {
    const llmdb_page *page = page_open(in_ptr, in_len);
    uint32_t offset = LLMDB_PAGE_HEADER_SIZE;
    for (uint32_t i = 0; i < page->count; i++) {
        const llmdb_record *r = page_record(in_ptr, in_len, &offset);
        if (r->op != LLMDB_OP_PUT) continue; /* deletes and erases are fine */
        text reason;
        reason.len = 0;
        json_span title;
        if (r->tag != LLMDB_TAG_JSON) {
            append_str(&reason, "a value written under the hook's prefix is not JSON");
        } else if (!json_field(llmdb_record_value(r), r->value_len, "title", &title)) {
            append_str(&reason, "a document has no \"title\" field");
        } else {
            continue;
        }
        /* Too little room: write nothing and ask for more; the host calls again. */
        if (reason.len > out_cap) return reason.len;
        json_copy((uint8_t *)(uintptr_t)out_ptr, reason.bytes, reason.len);
        return reason.len;
    }
    return 0;
}
