// swift-tools-version:6.2
// The LLMDB benchmark: a sibling package, built in release by `make bench`.
import PackageDescription

let package = Package(
    name: "llmdb-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [.package(path: "..")],
    targets: [
        .executableTarget(
            name: "llmdb-bench",
            dependencies: [.product(name: "LLMDB", package: "llmdb")],
            swiftSettings: [.swiftLanguageMode(.v6), .unsafeFlags(["-Ounchecked"])]
        )
    ]
)
