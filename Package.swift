// swift-tools-version:6.2
import PackageDescription

let strictSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "llmdb",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "LLMDB", targets: ["LLMDB"]),
        .library(name: "LLMDBText", targets: ["LLMDBText"]),
        .library(name: "LLMDBVector", targets: ["LLMDBVector"]),
        .library(name: "LLMDBWasm", targets: ["LLMDBWasm"]),
        .library(name: "LLMDBDocuments", targets: ["LLMDBDocuments"]),
        .library(name: "LLMDBQuery", targets: ["LLMDBQuery"]),
        .library(name: "LLMDBMemory", targets: ["LLMDBMemory"]),
        .library(name: "LLMDBService", targets: ["LLMDBService"]),
        .library(name: "LLMDBServer", targets: ["LLMDBServer"]),
        // The C ABI: libllmdb.so (SwiftPM names the file libLLMDBEmbedded.so;
        // scripts/build-lib.sh copies it under its soname, libllmdb.so).
        .library(name: "LLMDBEmbedded", type: .dynamic, targets: ["LLMDBEmbedded"]),
        .executable(name: "llmdb", targets: ["llmdb"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/swiftwasm/WasmKit", exact: "0.4.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/modelcontextprotocol/swift-sdk", from: "0.12.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.34.1"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        // MARK: - L0 physical storage: the C library

        .systemLibrary(
            name: "CLMDB",
            pkgConfig: "lmdb",
            providers: [.apt(["liblmdb-dev"])]
        ),

        // MARK: - Storage: LMDB environment, transactions, cursors, errors

        .target(
            name: "LLMDBStorage",
            dependencies: ["CLMDB"],
            swiftSettings: strictSettings + [.strictMemorySafety()]
        ),

        // MARK: - Core: bitemporal keys, values, clocks, the database API

        .target(
            name: "LLMDB",
            dependencies: ["LLMDBStorage"],
            swiftSettings: strictSettings
        ),

        // MARK: - Full text: the analyzer, the BM25 index kind and its search (documents and
        // agent memory both use it)

        .target(
            name: "LLMDBText",
            dependencies: ["LLMDB", "LLMDBStorage"],
            swiftSettings: strictSettings
        ),

        // MARK: - Vectors: collections of bitemporal vectors, exact search, the distance kernels

        .target(
            name: "LLMDBVector",
            dependencies: ["LLMDB", "LLMDBStorage"],
            swiftSettings: strictSettings
        ),

        // MARK: - WASM: the WasmKit engine, the code registry, the ABI, limits

        .target(
            name: "LLMDBWasm",
            dependencies: [
                "LLMDB",
                .product(name: "WasmKit", package: "WasmKit"),
                .product(name: "WasmParser", package: "WasmKit"),
                .product(name: "WAT", package: "WasmKit"),
            ],
            swiftSettings: strictSettings
        ),

        // MARK: - Data models: documents (collections, filters, JSON-path indexes, schemas)

        .target(
            name: "LLMDBDocuments",
            dependencies: ["LLMDB", "LLMDBText", "LLMDBWasm"],
            swiftSettings: strictSettings
        ),

        // MARK: - Query: LQL lexer, parser, planner, executor

        .target(
            name: "LLMDBQuery",
            dependencies: ["LLMDB", "LLMDBDocuments", "LLMDBWasm"],
            swiftSettings: strictSettings
        ),

        // MARK: - Agent memory: namespaces, metadata, recall (BM25), correct/forget/rollback

        .target(
            name: "LLMDBMemory",
            dependencies: ["LLMDB", "LLMDBText"],
            swiftSettings: strictSettings
        ),

        // MARK: - API: the operations on JSON (route table, arguments, principals), shared by
        // REST, MCP and the C ABI

        .target(
            name: "LLMDBService",
            dependencies: [
                "LLMDB", "LLMDBText", "LLMDBWasm", "LLMDBDocuments", "LLMDBQuery", "LLMDBMemory", "LLMDBVector",
            ],
            swiftSettings: strictSettings
        ),

        // MARK: - API: the C ABI (libllmdb.so, include/llmdb.h)

        // The header as a Swift module, so the ABI's structs and constants are the header's.
        .systemLibrary(name: "CLLMDBABI", path: "include"),
        .target(
            name: "LLMDBEmbedded",
            dependencies: [
                "CLLMDBABI", "LLMDB", "LLMDBDocuments", "LLMDBWasm", "LLMDBQuery", "LLMDBMemory", "LLMDBService",
                "LLMDBVector",
            ],
            swiftSettings: strictSettings,
            linkerSettings: [.unsafeFlags(["-Xlinker", "-soname=libllmdb.so"])]
        ),

        // MARK: - API: the server (REST on Hummingbird, MCP, auth, metrics)

        .target(
            name: "LLMDBServer",
            dependencies: [
                "LLMDB",
                "LLMDBWasm",
                "LLMDBDocuments",
                "LLMDBQuery",
                "LLMDBMemory",
                "LLMDBService",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "MCP", package: "swift-sdk"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
            ],
            swiftSettings: strictSettings
        ),

        // MARK: - API: the command-line interface (a library) and its thin executable

        .target(
            name: "LLMDBCLI",
            dependencies: [
                "LLMDB",
                "LLMDBWasm",
                "LLMDBDocuments",
                "LLMDBQuery",
                "LLMDBMemory",
                "LLMDBService",
                "LLMDBServer",
                "LLMDBVector",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "llmdb",
            dependencies: ["LLMDBCLI"],
            swiftSettings: strictSettings
        ),

        // MARK: - Tests

        .testTarget(
            name: "LLMDBStorageTests",
            dependencies: ["LLMDBStorage"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "LLMDBTests",
            dependencies: ["LLMDB", "LLMDBStorage"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "LLMDBVectorTests",
            dependencies: ["LLMDBVector", "LLMDB", "LLMDBStorage"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "LLMDBWasmTests",
            dependencies: ["LLMDBWasm", "LLMDB"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "LLMDBDocumentsTests",
            dependencies: ["LLMDBDocuments", "LLMDB", "LLMDBWasm"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "LLMDBQueryTests",
            dependencies: ["LLMDBQuery", "LLMDBDocuments", "LLMDB", "LLMDBWasm"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "LLMDBMemoryTests",
            dependencies: ["LLMDBMemory", "LLMDBText", "LLMDB"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "LLMDBServerTests",
            dependencies: [
                "LLMDBServer", "LLMDBService", "LLMDBMemory", "LLMDB", "LLMDBVector",
                // Run as another process (`llmdb key create` beside a server).
                "llmdb",
                .product(name: "MCP", package: "swift-sdk"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "LLMDBCLITests",
            dependencies: ["LLMDBCLI", "LLMDB", "llmdb"],
            swiftSettings: strictSettings
        ),
    ]
)
