;; empty.wat — a map_pages module that returns 0 (no output) at once. It measures what one
;; call costs on its own: the host's copy in and out, the engine's entry and exit.
;;
;;     llmdb code add examples/wasm/empty.wat --name empty
(module
  (memory (export "memory") 1)
  (global $top (mut i32) (i32.const 1024))

  ;; llmdb_alloc(size) -> ptr: as in count.wat, a 16-byte aligned bump allocator.
  (func (export "llmdb_alloc") (param $size i32) (result i32)
    (local $p i64)
    (local $end i64)
    (local $have i64)
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

  (func (export "map_pages")
    (param $in_ptr i32) (param $in_len i32) (param $out_ptr i32) (param $out_cap i32)
    (result i32)
    (i32.const 0))
)
