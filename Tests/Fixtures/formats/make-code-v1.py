"""Makes Tests/Fixtures/formats/code-v1.llmdb with the code registry as it was before name
records (commit 3ce275a): each `_meta/code/{sha256}` record names its one module inline.

Kept as a record of how the file was made; it only means something run against the
library and Python package of that commit:  python make-code-v1.py code-v1.llmdb
The modules are the WAT of Tests/LLMDBWasmTests/WasmTestSupport.swift (WAT.identityMap,
WAT.countReduce), so that a test can register the same bytes again."""
import sys, llmdb
ALLOC = '''
  (memory (export "memory") 1)
  (global $top (mut i32) (i32.const 1024))
  (func (export "llmdb_alloc") (param $n i32) (result i32)
    (local $p i32) (local $end i32)
    (local.set $p (i32.and (i32.add (global.get $top) (i32.const 15)) (i32.const -16)))
    (local.set $end (i32.add (local.get $p) (local.get $n)))
    (if (i32.gt_u (local.get $end) (i32.mul (memory.size) (i32.const 65536)))
      (then
        (if (i32.eq
              (memory.grow (i32.sub (i32.div_u (i32.add (local.get $end) (i32.const 65535)) (i32.const 65536)) (memory.size)))
              (i32.const -1))
          (then (return (i32.const 0))))))
    (global.set $top (local.get $end))
    (local.get $p))
'''
def module(body): return "(module\n" + ALLOC + body + "\n)"
IDENTITY = module('''
(func (export "map_pages") (param $in i32) (param $len i32) (param $out i32) (param $cap i32) (result i32)
  (if (i32.gt_u (local.get $len) (local.get $cap)) (then (return (local.get $len))))
  (memory.copy (local.get $out) (local.get $in) (local.get $len))
  (local.get $len))''')
COUNT = module('''
(func (export "reduce_pages") (param $in i32) (param $len i32) (param $out i32) (param $cap i32) (result i32)
  (if (i32.lt_u (local.get $cap) (i32.const 8)) (then (return (i32.const 8))))
  (i64.store (local.get $out)
    (i64.add
      (if (result i64) (i32.eqz (i32.load offset=12 (local.get $in))) (then (i64.const 0)) (else (i64.load (local.get $out))))
      (i64.extend_i32_u (i32.load offset=4 (local.get $in)))))
  (i32.const 8))''')
NOTHING = module('''
(func (export "map_pages") (param $in i32) (param $len i32) (param $out i32) (param $cap i32) (result i32)
  (i32.const 0))''')
with llmdb.open(sys.argv[1], sync="full") as db:
    db.put("k:1", {"n": 1})
    db.put("k:2", {"n": 2})
    a = db.code.add("legacy-map", IDENTITY)
    print("legacy-map", a["sha256"], a["tx"])
    c = db.code.add("legacy-count", COUNT)
    print("legacy-count", c["sha256"], c["tx"])
    g = db.code.add("gone", NOTHING)
    print("gone", g["sha256"], g["tx"])
    print("gone removed at", db.code.remove("gone"))
    m1 = db.code.add("moved", COUNT.replace("reduce_pages", "reduce_pages"), kind="reduce_pages")
    print("moved (same bytes as legacy-count?)", m1["sha256"], m1["tx"])
    print([ (m["name"], m["sha256"][:8], m["tx"]) for m in db.code.list()])
