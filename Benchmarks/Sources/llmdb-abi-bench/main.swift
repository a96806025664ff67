// The C ABI benchmark, the Swift side (scripts/bench_abi.py runs it in turns with
// Benchmarks/c/bench_abi.c on the same database, and reports C ÷ Swift):
//   llmdb-abi-bench --db PATH --keys N --tx T --valid-at V [--seconds S]
// Opens the database that `bench_abi build` wrote (read-only, as the C side does) and checks
// every key's value as of (valid time V, transaction T) once: the first version,
// {"id":i,"v":1,…}. Then times, for about S seconds each (default 1), over the keys
// bench/%08d in the order i = (j * 1000003) % N (the C side's order, keys built beforehand
// as the C side builds its strings beforehand):
//   get          `Database.get(key, validAt:, tx: .id(T))`: the API the ABI is measured
//                against (a copy of the value, valid_to not computed);
//   get_valid_to `Database.read(validAt:tx:) { $0.getWithValidTo(key) }`: the same read with
//                valid_to filled in, as llmdb_get's llmdb_fact has it.
// Prints one JSON object on stdout; progress goes to stderr.
//
// Built like the other benchmark programs, but without -Ounchecked: the library it is
// compared with (scripts/build-lib.sh) is built with plain -O.
import BenchSupport
import Foundation
import LLMDB

benchName = "llmdb-abi-bench"

// MARK: Arguments

var path = ""
var keyCount = 0
var txArg: UInt64 = 0
var validAtArg: Int64? = nil
var seconds = 1.0
var args = CommandLine.arguments.dropFirst()
let usage = "usage: llmdb-abi-bench --db PATH --keys N --tx T --valid-at V [--seconds S]"
while let a = args.popFirst() {
    switch a {
    case "--db": path = args.popFirst() ?? ""
    case "--keys": keyCount = Int(args.popFirst() ?? "") ?? -1
    case "--tx": txArg = UInt64(args.popFirst() ?? "") ?? 0
    case "--valid-at": validAtArg = Int64(args.popFirst() ?? "")
    case "--seconds": seconds = Double(args.popFirst() ?? "") ?? -1
    case "-h", "--help":
        print(usage)
        exit(0)
    default:
        log("unknown argument \(a)\n\(usage)")
        exit(2)
    }
}
let step = 1_000_003  // the C side's: a prime above the largest N
let batch = 1000  // reads between two looks at the clock
guard !path.isEmpty, keyCount > 0, keyCount < step, txArg > 0, let validAtMicros = validAtArg, seconds > 0 else {
    log(usage)
    exit(2)
}

func valueJSON(_ i: Int, version: Int) -> String {
    #"{"id":\#(i),"v":\#(version),"name":"Name \#(i)","score":\#(i * 7 % 1000),"pad":"abcdefghijklmnopqrstuvwxyz0123"}"#
}

do {
    var o = Database.Options()
    o.readOnly = true
    let db = try Database.open(path: path, options: o)
    let validAt = Instant(microseconds: validAtMicros)
    let tx = TxSelector.id(txArg)
    let order = (0..<keyCount).map { $0 * step % keyCount }
    let keys = order.map { Key(String(format: "bench/%08d", $0)) }

    for (j, i) in order.enumerated() {
        guard let f = try db.get(keys[j], validAt: validAt, tx: tx), f.txID <= txArg,
            f.value == (try Value.json(valueJSON(i, version: 1)))
        else { fail("\(keys[j]) as of tx \(txArg): not the first version") }
    }

    var sum = 0
    func time(_ read: (Key) throws -> Fact?) throws -> (Double, Int) {
        var ops = 0
        var j = 0
        let t0 = now()
        var t = 0.0
        repeat {
            for _ in 0..<batch {
                guard let f = try read(keys[j]) else { fail("\(keys[j]): no value") }
                sum &+= f.value!.payload.count &+ Int(f.value!.payload[0])
                j += 1
                if j == keyCount { j = 0 }
            }
            ops += batch
            t = now() - t0
        } while t < seconds
        return (Double(ops) / t, ops)
    }
    let (getOps, getReads) = try time { try db.get($0, validAt: validAt, tx: tx) }
    let (toOps, toReads) = try time { k in try db.read(validAt: validAt, tx: tx) { try $0.getWithValidTo(k) } }
    db.close()
    log(
        String(
            format: "Database.get %.0f ops/s (%d reads), with valid_to %.0f ops/s (%d reads)",
            getOps,
            getReads,
            toOps,
            toReads
        )
    )
    print(
        String(
            format:
                #"{"get_ops_s":%.1f,"get_valid_to_ops_s":%.1f,"get_reads":%d,"get_valid_to_reads":%d,"checksum":%d}"#,
            getOps,
            toOps,
            getReads,
            toReads,
            sum
        )
    )
} catch {
    fail("\(error)")
}
