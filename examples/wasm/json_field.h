/*
 * json_field.h — a tiny freestanding JSON field reader for the LLMDB wasm examples.
 *
 * No libc, no allocation. It reads the top level of one JSON object:
 *
 *     json_span v;
 *     if (json_field(value, value_len, "amount", &v)) { ... v.ptr, v.len: the raw value ... }
 *
 * json_field walks the object's members in order, skipping nested objects, arrays and
 * strings properly, so `"amount"` inside a nested object or inside a string never matches.
 * Member names are compared byte for byte as written (a name spelled with escapes does not
 * match). It is a reader for well-formed input, not a validator: on malformed JSON it returns
 * "not found", never reads out of bounds, and never loops forever.
 */
#ifndef LLMDB_EXAMPLES_JSON_FIELD_H
#define LLMDB_EXAMPLES_JSON_FIELD_H

#include <stdint.h>

/* A span of bytes inside the value. */
typedef struct json_span {
    const uint8_t *ptr;
    uint32_t len;
} json_span;

/* Results of json_string. */
#define JSON_OK 1
#define JSON_NO 0           /* not that type (or malformed) */
#define JSON_UNSUPPORTED -1 /* a string with backslash escapes: not decoded */

static inline int json_is_space_(uint8_t c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static inline uint32_t json_skip_space_(const uint8_t *p, uint32_t n, uint32_t i) {
    while (i < n && json_is_space_(p[i])) i++;
    return i;
}

/* p[i] is '"': returns the index just past the closing quote, or n + 1 if unterminated. */
static inline uint32_t json_skip_string_(const uint8_t *p, uint32_t n, uint32_t i) {
    i++;
    while (i < n) {
        uint8_t c = p[i];
        if (c == '\\') {
            i += 2;
        } else if (c == '"') {
            return i + 1;
        } else {
            i++;
        }
    }
    return n + 1;
}

/* Returns the index just past the value starting at p[i], or n + 1 if malformed. */
static inline uint32_t json_skip_value_(const uint8_t *p, uint32_t n, uint32_t i) {
    if (i >= n) return n + 1;
    uint8_t c = p[i];
    if (c == '"') return json_skip_string_(p, n, i);
    if (c == '{' || c == '[') {
        uint32_t depth = 0;
        while (i < n) {
            c = p[i];
            if (c == '"') {
                i = json_skip_string_(p, n, i);
                continue;
            }
            if (c == '{' || c == '[') {
                depth++;
            } else if (c == '}' || c == ']') {
                depth--;
                if (depth == 0) return i + 1;
            }
            i++;
        }
        return n + 1;
    }
    /* A number, true, false or null: up to the next delimiter. */
    uint32_t start = i;
    while (i < n) {
        c = p[i];
        if (c == ',' || c == '}' || c == ']' || c == ':' || c == '"' || c == '{' || c == '['
            || json_is_space_(c))
            break;
        i++;
    }
    return i > start ? i : n + 1;
}

/* Whether bytes p[a..b) equal the NUL-terminated name. */
static inline int json_name_equals_(const uint8_t *p, uint32_t a, uint32_t b, const char *name) {
    uint32_t k = 0;
    while (a + k < b) {
        if (name[k] == 0 || (uint8_t)name[k] != p[a + k]) return 0;
        k++;
    }
    return name[k] == 0;
}

/*
 * Finds the member `name` of the JSON object in p[0..n). On success sets *out to the raw
 * value (e.g. `123`, `"Paris"`, `{"a":1}`) and returns 1; returns 0 if the value is not an
 * object, has no such member, or is malformed before the member is reached. With duplicate
 * names, the first one wins.
 */
static inline int json_field(const uint8_t *p, uint32_t n, const char *name, json_span *out) {
    uint32_t i = json_skip_space_(p, n, 0);
    if (i >= n || p[i] != '{') return 0;
    i = json_skip_space_(p, n, i + 1);
    if (i < n && p[i] == '}') return 0;
    while (i < n) {
        if (p[i] != '"') return 0;
        uint32_t name_start = i + 1;
        i = json_skip_string_(p, n, i);
        if (i > n) return 0;
        uint32_t name_end = i - 1;
        i = json_skip_space_(p, n, i);
        if (i >= n || p[i] != ':') return 0;
        i = json_skip_space_(p, n, i + 1);
        uint32_t value_start = i;
        i = json_skip_value_(p, n, i);
        if (i > n) return 0;
        if (json_name_equals_(p, name_start, name_end, name)) {
            out->ptr = p + value_start;
            out->len = i - value_start;
            return 1;
        }
        i = json_skip_space_(p, n, i);
        if (i >= n || p[i] != ',') return 0; /* '}' (the end) or malformed */
        i = json_skip_space_(p, n, i + 1);
    }
    return 0;
}

/*
 * Parses the span as a JSON integer: an optional '-', then decimal digits, nothing else
 * (so `1.5`, `1e3`, `"1"` and out-of-range numbers are not integers). Returns 1 and sets
 * *out, or 0.
 */
static inline int json_int(json_span v, int64_t *out) {
    uint32_t i = 0;
    int negative = 0;
    if (i < v.len && v.ptr[i] == '-') {
        negative = 1;
        i++;
    }
    if (i >= v.len) return 0;
    /* Accumulate as a negative number: -9223372036854775808 fits, its opposite does not. */
    int64_t acc = 0;
    const int64_t min = (-9223372036854775807LL - 1);
    for (; i < v.len; i++) {
        uint8_t c = v.ptr[i];
        if (c < '0' || c > '9') return 0;
        int64_t d = c - '0';
        if (acc < (min + d) / 10) return 0;
        acc = acc * 10 - d;
    }
    if (!negative) {
        if (acc == min) return 0;
        acc = -acc;
    }
    *out = acc;
    return 1;
}

/*
 * Reads the span as a JSON string without escapes. Returns JSON_OK and sets *out to the
 * bytes between the quotes; JSON_NO if the span is not a string; JSON_UNSUPPORTED if the
 * string contains a backslash escape (this helper does not decode them, rather than return
 * wrong bytes).
 */
static inline int json_string(json_span v, json_span *out) {
    if (v.len < 2 || v.ptr[0] != '"' || v.ptr[v.len - 1] != '"') return JSON_NO;
    for (uint32_t i = 1; i + 1 < v.len; i++) {
        if (v.ptr[i] == '\\') return JSON_UNSUPPORTED;
    }
    out->ptr = v.ptr + 1;
    out->len = v.len - 2;
    return JSON_OK;
}

/* Copies n bytes (there is no libc). */
static inline void json_copy(uint8_t *dst, const uint8_t *src, uint32_t n) {
    /* One memory.copy instruction (bulk memory, -mbulk-memory): a byte loop is ~2x slower. */
    __builtin_memcpy(dst, src, n);
}

#endif /* LLMDB_EXAMPLES_JSON_FIELD_H */
