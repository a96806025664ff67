// swift-tools-version:6.2
// The LLMDB benchmark: a sibling package, built in release by `make bench`.
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
        .executableTarget(
            name: "llmdb-bench",
            dependencies: [.product(name: "LLMDB", package: rootIdentity)],
            swiftSettings: [.swiftLanguageMode(.v6), .unsafeFlags(["-Ounchecked"])]
        )
    ]
)
