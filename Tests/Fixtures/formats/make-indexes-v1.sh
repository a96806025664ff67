#!/usr/bin/env bash
# Makes Tests/Fixtures/formats/indexes-v1.llmdb with the three index kinds as the core wrote
# them before the derived-data seam (commit 21a06ac): a JSON-path index, two full-text
# indexes (a collection's and agent memory's) and a WebAssembly custom index, with history
# (versions, a delete, an erase) in each one's scope.
#
# Kept as a record of how the file was made; it only means something run with the `llmdb`
# binary and the C library of that commit:
#   LLMDB=.build/debug/llmdb LLMDB_LIBRARY=.build/debug/libLLMDBEmbedded.so \
#     bash make-indexes-v1.sh indexes-v1.llmdb
# The custom index's module is WAT.indexByValue of Tests/LLMDBWasmTests/WasmTestSupport.swift.
set -euo pipefail
db=$1
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
l() { "$LLMDB" "$@" --db "$db" --sync full > /dev/null; }
l doc insert notes '{"title":"alpha","body":"the quick brown fox","tags":["x","y"]}' --id n1
l doc insert notes '{"title":"beta","body":"lazy dogs sleep all day","tags":["y"]}' --id n2
l doc index notes title
l doc insert notes '{"title":"alpha","body":"brown bears fish"}' --id n3
l doc patch notes n1 '{"title":"gamma","body":"a quick red fox"}'
l doc delete notes n2
PYTHONPATH="$root/bindings/python" python3 - "$db" <<'PY'
import sys, llmdb
with llmdb.open(sys.argv[1], sync="full") as db:
    db.call("createTextIndex", collection="notes", path="body")
    db.call("insertDocument", collection="notes", id="n4", document={"title": "delta", "body": "quick thinking fox"})
    db.remember("agent:knowledge:fox", "foxes are quick and clever")
    db.remember("agent:knowledge:dog", "dogs are loyal and lazy")
    db.correct("agent:knowledge:fox", content="foxes are quick, clever and red", reason="they are red")
    db.remember("agent:knowledge:owl", "owls hunt at night")
    db.forget("agent:knowledge:owl", erase=True)
    db.forget("agent:knowledge:dog")
PY
cat > "${db}.wat" <<'WAT'
(module
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
  (func (export "custom_index") (param $in i32) (param $len i32) (param $out i32) (param $cap i32) (result i32)
    (local $n i32) (local $i i32) (local $r i32) (local $o i32) (local $vl i32) (local $need i32)
    (local.set $n (i32.load offset=4 (local.get $in)))
    (local.set $r (i32.add (local.get $in) (i32.const 16)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $vl (i32.load offset=12 (local.get $r)))
      (if (i32.and (i32.ne (i32.load8_u offset=40 (local.get $r)) (i32.const 255))
                   (i32.and (i32.gt_u (local.get $vl) (i32.const 0)) (i32.le_u (local.get $vl) (i32.const 255))))
        (then
          (local.set $need (i32.and (i32.add (local.get $vl) (i32.const 11)) (i32.const -4)))
          (if (i32.le_u (i32.add (local.get $o) (local.get $need)) (local.get $cap))
            (then
              (i32.store (i32.add (local.get $out) (local.get $o)) (local.get $i))
              (i32.store offset=4 (i32.add (local.get $out) (local.get $o)) (local.get $vl))
              (memory.copy
                (i32.add (i32.add (local.get $out) (local.get $o)) (i32.const 8))
                (i32.add (i32.add (local.get $r) (i32.const 48)) (i32.load offset=8 (local.get $r)))
                (local.get $vl))))
          (local.set $o (i32.add (local.get $o) (local.get $need)))))
      (local.set $r (i32.add (local.get $r) (i32.load (local.get $r))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (local.get $o))
)
WAT
l put c:1 red --type raw
l put c:2 blue --type raw
l code add "${db}.wat" --name by-value --kind custom_index
l index add colour --module by-value --prefix c:
l put c:3 red --type raw
l put c:2 green --type raw
l put c:4 blue --type raw
l erase c:4
rm -f "${db}.wat" "${db}-lock"
