/*
 * require_title.c — a tx_hook module: rejects a transaction if one of its puts writes a
 * value that is not JSON, or a JSON value without a top-level "title" field. Deletes and
 * erases are accepted.
 *
 *     llmdb code add build/wasm/require_title.wasm --name require-title
 *     llmdb hook add require-title --prefix doc:
 *
 * The reason names the key when it is printable UTF-8 (its first 64 bytes, then "...");
 * other keys are shown as "(a binary key)".
 */
#include "json_field.h"
#include "llmdb_wasm.h"
#include "page.h"

LLMDB_BUMP_ALLOCATOR

#define KEY_SHOWN 64u

typedef struct text {
    uint8_t bytes[128]; /* at most 9 + 64 + 3 + 21 = 97 bytes; append stops at the end anyway */
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

/* How many bytes of the UTF-8 character starting with `lead` (0 if it cannot start one). */
static uint32_t utf8_length(uint8_t lead) {
    if (lead < 0x80) return 1;
    if (lead >= 0xC2 && lead <= 0xDF) return 2;
    if (lead >= 0xE0 && lead <= 0xEF) return 3;
    if (lead >= 0xF0 && lead <= 0xF4) return 4;
    return 0;
}

/* Appends the key if it is printable UTF-8 (no control characters), cut to KEY_SHOWN bytes
   on a character boundary; otherwise a placeholder. */
static void append_key(text *t, const uint8_t *key, uint32_t n) {
    uint32_t shown = 0;
    for (uint32_t i = 0; i < n;) {
        uint8_t c = key[i];
        uint32_t k = utf8_length(c);
        if (k == 0 || k > n - i || c < 0x20 || c == 0x7F) {
            append_str(t, "(a binary key)");
            return;
        }
        for (uint32_t j = 1; j < k; j++) {
            if ((key[i + j] & 0xC0) != 0x80) {
                append_str(t, "(a binary key)");
                return;
            }
        }
        if (i + k <= KEY_SHOWN) shown = i + k;
        i += k;
    }
    append(t, key, shown);
    if (shown < n) append_str(t, "...");
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
            append_str(&reason, "value of ");
            append_key(&reason, llmdb_record_key(r), r->key_len);
            append_str(&reason, " is not JSON");
        } else if (!json_field(llmdb_record_value(r), r->value_len, "title", &title)) {
            append_str(&reason, "document ");
            append_key(&reason, llmdb_record_key(r), r->key_len);
            append_str(&reason, " has no \"title\" field");
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
