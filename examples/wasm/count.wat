;; count.wat — a reduce_pages module in WebAssembly text: counts the records it is given.
;; The accumulator is one little-endian u64; reduce_finish writes it as a JSON number.
;;
;;     llmdb code add examples/wasm/count.wat --name count
;;     llmdb reduce --prefix order: --reduce count
(module
  (memory (export "memory") 1)

  ;; The first free byte. Below it: nothing (this module has no data).
  (global $top (mut i32) (i32.const 1024))

  ;; llmdb_alloc(size) -> ptr: a bump allocator, 16-byte aligned, growing memory as
  ;; needed; 0 when memory cannot grow. Never frees: an instance lives for one operation.
  (func (export "llmdb_alloc") (param $size i32) (result i32)
    (local $p i64)
    (local $end i64)
    (local $have i64)
    ;; In 64-bit arithmetic, so that nothing wraps near 4 GiB.
    (local.set $p
      (i64.and (i64.add (i64.extend_i32_u (global.get $top)) (i64.const 15)) (i64.const -16)))
    (local.set $end (i64.add (local.get $p) (i64.extend_i32_u (local.get $size))))
    (if (i64.gt_u (local.get $end) (i64.const 0xFFFFFFFF)) (then (return (i32.const 0))))
    (local.set $have (i64.shl (i64.extend_i32_u (memory.size)) (i64.const 16)))
    (if (i64.gt_u (local.get $end) (local.get $have))
      (then
        (if (i32.eq
              (memory.grow
                (i32.wrap_i64
                  (i64.shr_u
                    (i64.add (i64.sub (local.get $end) (local.get $have)) (i64.const 0xFFFF))
                    (i64.const 16))))
              (i32.const -1))
          (then (return (i32.const 0))))))
    (global.set $top (i32.wrap_i64 (local.get $end)))
    (i32.wrap_i64 (local.get $p)))

  ;; reduce_pages(in_ptr, in_len, out_ptr, out_cap) -> accumulator length (8).
  ;; The page header is {u32 size, u32 count, u32 kind, u32 acc_len}.
  (func (export "reduce_pages")
    (param $in_ptr i32) (param $in_len i32) (param $out_ptr i32) (param $out_cap i32)
    (result i32)
    (local $acc i64)
    (if (i32.lt_u (local.get $in_len) (i32.const 16)) (then unreachable))
    ;; Too little room: write nothing, ask for 8 bytes.
    (if (i32.lt_u (local.get $out_cap) (i32.const 8)) (then (return (i32.const 8))))
    ;; acc_len is 0 on the first call (start from 0), else 8.
    (if (i32.load offset=12 (local.get $in_ptr))
      (then
        (if (i32.ne (i32.load offset=12 (local.get $in_ptr)) (i32.const 8)) (then unreachable))
        (local.set $acc (i64.load (local.get $out_ptr)))))
    (i64.store (local.get $out_ptr)
      (i64.add (local.get $acc) (i64.extend_i32_u (i32.load offset=4 (local.get $in_ptr)))))
    (i32.const 8))

  ;; reduce_finish(acc_ptr, acc_len, out_ptr, out_cap) -> bytes of the decimal count.
  (func (export "reduce_finish")
    (param $acc_ptr i32) (param $acc_len i32) (param $out_ptr i32) (param $out_cap i32)
    (result i32)
    (local $n i64)
    (local $m i64)
    (local $len i32)
    (local $i i32)
    (if (local.get $acc_len)
      (then
        (if (i32.ne (local.get $acc_len) (i32.const 8)) (then unreachable))
        (local.set $n (i64.load (local.get $acc_ptr)))))
    ;; Count the digits.
    (local.set $m (local.get $n))
    (local.set $len (i32.const 1))
    (block $done
      (loop $more
        (br_if $done (i64.lt_u (local.get $m) (i64.const 10)))
        (local.set $m (i64.div_u (local.get $m) (i64.const 10)))
        (local.set $len (i32.add (local.get $len) (i32.const 1)))
        (br $more)))
    (if (i32.gt_u (local.get $len) (local.get $out_cap)) (then (return (local.get $len))))
    ;; Write them from the last one back.
    (local.set $i (local.get $len))
    (loop $digit
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (i32.store8 (i32.add (local.get $out_ptr) (local.get $i))
        (i32.add (i32.const 48) (i32.wrap_i64 (i64.rem_u (local.get $n) (i64.const 10)))))
      (local.set $n (i64.div_u (local.get $n) (i64.const 10)))
      (br_if $digit (local.get $i)))
    (local.get $len))
)
