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
        .executable(name: "llmdb", targets: ["llmdb"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0")
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

        // MARK: - API: the command-line interface (a library) and its thin executable

        .target(
            name: "LLMDBCLI",
            dependencies: [
                "LLMDB",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
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
            name: "LLMDBCLITests",
            dependencies: ["LLMDBCLI", "LLMDB", "llmdb"],
            swiftSettings: strictSettings
        ),
    ]
)
