// swift-tools-version:6.2
// The LLMDB benchmarks: a sibling package, built in release by `make bench` (llmdb-bench),
// `make bench-wasm` (llmdb-wasm-bench), `make bench-docs` (llmdb-doc-bench), `make bench-lql`
// (llmdb-lql-bench), `make bench-server` (llmdb-server-bench) and `make bench-abi`
// (llmdb-abi-bench).
import Foundation
import PackageDescription

// A path dependency's identity is its folder's name, which depends on where the
// repository was cloned: derive it.
let rootIdentity = URL(fileURLWithPath: Context.packageDirectory).deletingLastPathComponent().lastPathComponent
    .lowercased()

let package = Package(
    name: "llmdb-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [.package(path: "..")],
    targets: [
        // Helpers the newer benchmark programs share (clock, medians, the document data set).
        .target(name: "BenchSupport", swiftSettings: [.swiftLanguageMode(.v6)]),
        .executableTarget(
            name: "llmdb-bench",
            dependencies: [.product(name: "LLMDB", package: rootIdentity)],
            swiftSettings: [.swiftLanguageMode(.v6), .unsafeFlags(["-Ounchecked"])]
        ),
        // The WebAssembly benchmark of issue 3 (`make bench-wasm`, scripts/bench_wasm.py).
        .executableTarget(
            name: "llmdb-wasm-bench",
            dependencies: [
                "BenchSupport",
                .product(name: "LLMDB", package: rootIdentity),
                .product(name: "LLMDBWasm", package: rootIdentity),
            ],
            swiftSettings: [.swiftLanguageMode(.v6), .unsafeFlags(["-Ounchecked"])]
        ),
        // The documents benchmark of issue 4 (`make bench-docs`, scripts/bench_docs.py).
        .executableTarget(
            name: "llmdb-doc-bench",
            dependencies: [
                "BenchSupport",
                .product(name: "LLMDB", package: rootIdentity),
                .product(name: "LLMDBDocuments", package: rootIdentity),
            ],
            swiftSettings: [.swiftLanguageMode(.v6), .unsafeFlags(["-Ounchecked"])]
        ),
        // The LQL benchmark of issue 5 (`make bench-lql`, scripts/bench_lql.py).
        .executableTarget(
            name: "llmdb-lql-bench",
            dependencies: [
                "BenchSupport",
                .product(name: "LLMDB", package: rootIdentity),
                .product(name: "LLMDBDocuments", package: rootIdentity),
                .product(name: "LLMDBQuery", package: rootIdentity),
            ],
            swiftSettings: [.swiftLanguageMode(.v6), .unsafeFlags(["-Ounchecked"])]
        ),
        // The C ABI benchmark (`make bench-abi`, scripts/bench_abi.py): Database.get beside
        // Benchmarks/c/bench_abi.c's llmdb_get on the same database. No -Ounchecked: the
        // library it is compared with (scripts/build-lib.sh) is built with plain -O.
        .executableTarget(
            name: "llmdb-abi-bench",
            dependencies: ["BenchSupport", .product(name: "LLMDB", package: rootIdentity)],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // The server benchmark of issue 6, its in-process reference (`make bench-server`,
        // scripts/bench_server.py, which drives `llmdb serve` with wrk beside it).
        .executableTarget(
            name: "llmdb-server-bench",
            dependencies: [
                "BenchSupport",
                .product(name: "LLMDB", package: rootIdentity),
                .product(name: "LLMDBMemory", package: rootIdentity),
            ],
            swiftSettings: [.swiftLanguageMode(.v6), .unsafeFlags(["-Ounchecked"])]
        ),
        // The distance kernels (`make bench-vector-kernels`): SIMD beside a scalar loop.
        .executableTarget(
            name: "llmdb-vector-bench",
            dependencies: ["BenchSupport", .product(name: "LLMDBVector", package: rootIdentity)],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
    ]
)
