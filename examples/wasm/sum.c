/*
 * sum.c — a reduce_pages module: the count and the sum of the integer field "amount" over
 * the JSON records that have one. The accumulator is 16 bytes, {int64 count; int64 sum},
 * little-endian; reduce_finish turns it into {"count":N,"sum":S}.
 *
 *     llmdb code add build/wasm/sum.wasm --name sum
 *     llmdb reduce --prefix order: --reduce sum
 */
#include "json_field.h"
#include "llmdb_wasm.h"
#include "page.h"

LLMDB_BUMP_ALLOCATOR

typedef struct accumulator {
    int64_t count;
    int64_t sum;
} accumulator;

#define ACC_SIZE ((uint32_t)sizeof(accumulator))

/* Reads the accumulator: zero when acc_len is 0 (the first call). */
static accumulator load(uint32_t ptr, uint32_t len) {
    accumulator acc = {0, 0};
    if (len == 0) return acc;
    if (len != ACC_SIZE) FAIL("sum: the accumulator is not 16 bytes");
    __builtin_memcpy(&acc, (const void *)(uintptr_t)ptr, ACC_SIZE);
    return acc;
}

LLMDB_EXPORT(reduce_pages)
uint32_t reduce_pages(uint32_t in_ptr, uint32_t in_len, uint32_t out_ptr, uint32_t out_cap) {
    const llmdb_page *page = page_open(in_ptr, in_len);
    /* Nothing is written unless the result fits: the host calls again with the same input
       and the same accumulator. */
    if (out_cap < ACC_SIZE) return ACC_SIZE;
    accumulator acc = load(out_ptr, page->acc_len);
    uint32_t offset = LLMDB_PAGE_HEADER_SIZE;
    for (uint32_t i = 0; i < page->count; i++) {
        const llmdb_record *r = page_record(in_ptr, in_len, &offset);
        if (r->tag != LLMDB_TAG_JSON) continue;
        json_span v;
        int64_t amount;
        if (!json_field(llmdb_record_value(r), r->value_len, "amount", &v)) continue;
        if (!json_int(v, &amount)) continue;
        if (__builtin_add_overflow(acc.sum, amount, &acc.sum)) FAIL("sum: the sum overflows int64");
        acc.count++;
    }
    __builtin_memcpy((void *)(uintptr_t)out_ptr, &acc, ACC_SIZE);
    return ACC_SIZE;
}

/* Writes n in decimal at p; returns the number of bytes (at most 20). */
static uint32_t format_int(uint8_t *p, int64_t n) {
    uint8_t digits[20];
    uint32_t k = 0;
    uint64_t m = n < 0 ? (uint64_t)0 - (uint64_t)n : (uint64_t)n;
    do {
        digits[k++] = (uint8_t)('0' + m % 10);
        m /= 10;
    } while (m != 0);
    uint32_t len = 0;
    if (n < 0) p[len++] = '-';
    while (k > 0) p[len++] = digits[--k];
    return len;
}

static uint32_t append(uint8_t *p, uint32_t len, const char *s) {
    while (*s) p[len++] = (uint8_t)*s++;
    return len;
}

LLMDB_EXPORT(reduce_finish)
uint32_t reduce_finish(uint32_t acc_ptr, uint32_t acc_len, uint32_t out_ptr, uint32_t out_cap) {
    accumulator acc = load(acc_ptr, acc_len);
    uint8_t text[64]; /* {"count":,"sum":} is 17 bytes, and each number at most 20 */
    uint32_t len = append(text, 0, "{\"count\":");
    len += format_int(text + len, acc.count);
    len = append(text, len, ",\"sum\":");
    len += format_int(text + len, acc.sum);
    len = append(text, len, "}");
    if (len > out_cap) return len;
    json_copy((uint8_t *)(uintptr_t)out_ptr, text, len);
    return len;
}
