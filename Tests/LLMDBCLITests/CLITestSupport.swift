import Foundation
import Testing

/// The built `llmdb` executable, next to the test bundle.
let llmdbBinary: String = {
    let bundleDir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
    for candidate in [bundleDir + "/llmdb", bundleDir + "/../llmdb"]
    where FileManager.default.isExecutableFile(atPath: candidate) {
        return candidate
    }
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    return root + "/.build/debug/llmdb"
}()

struct Output {
    var status: Int32
    var stdout: String
    var stderr: String
    var json: Any? { try? JSONSerialization.jsonObject(with: Data(stdout.utf8), options: [.fragmentsAllowed]) }
}

/// Runs `llmdb` with `args` (and `stdin`) to completion.
@discardableResult
func llmdb(_ args: [String], stdin: String? = nil, environment: [String: String]? = nil) throws -> Output {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: llmdbBinary)
    p.arguments = args
    if let environment {
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    }
    let out = Pipe()
    let err = Pipe()
    let inp = Pipe()
    p.standardOutput = out
    p.standardError = err
    p.standardInput = inp
    try p.run()
    if let stdin { inp.fileHandleForWriting.write(Data(stdin.utf8)) }
    try inp.fileHandleForWriting.close()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return Output(
        status: p.terminationStatus,
        stdout: String(decoding: o, as: UTF8.self),
        stderr: String(decoding: e, as: UTF8.self)
    )
}

/// A temporary directory holding a database path.
final class TempDir {
    let path = NSTemporaryDirectory() + "llmdb-cli-" + UUID().uuidString
    var db: String { path + "/db.llmdb" }
    init() { try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}
