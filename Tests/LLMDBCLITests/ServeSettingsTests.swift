import Foundation
import Testing

/// `llmdb serve` checks every numeric setting at start-up. Each run listens on 0.0.0.0
/// without keys, so that a start that gets past the settings stops at once with the no-keys
/// error instead of serving.
@Suite struct ServeSettingsTests {
    static let noKeys = "without API keys"

    /// Every numeric setting, its environment variable and its range.
    static let settings: [(key: String, env: String, low: Int, high: Int)] = [
        ("port", "LLMDB_PORT", 0, 65535),
        ("max_body_bytes", "LLMDB_MAX_BODY_BYTES", 1, 1 << 30),
        ("max_concurrent", "LLMDB_MAX_CONCURRENT", 1, 4096),
        ("max_concurrent_per_key", "LLMDB_MAX_CONCURRENT_PER_KEY", 1, 4096),
        ("body_timeout_ms", "LLMDB_BODY_TIMEOUT_MS", 1, 86_400_000),
        ("min_body_rate", "LLMDB_MIN_BODY_RATE", 1, 1 << 30),
        ("mcp_max_sessions", "LLMDB_MCP_MAX_SESSIONS", 1, 100_000),
        ("mcp_max_sessions_per_key", "LLMDB_MCP_MAX_SESSIONS_PER_KEY", 1, 100_000),
        ("mcp_session_history_bytes", "LLMDB_MCP_SESSION_HISTORY_BYTES", 0, 1 << 30),
        ("query_timeout_ms", "LLMDB_QUERY_TIMEOUT_MS", 1, 86_400_000),
        ("query_max_rows", "LLMDB_QUERY_MAX_ROWS", 1, 1_000_000_000),
        ("query_max_memory_mb", "LLMDB_QUERY_MAX_MEMORY_MB", 1, 1 << 30),
    ]

    func serve(_ d: TempDir, _ args: [String] = [], environment: [String: String] = [:]) throws -> Output {
        // The port from the environment when the test sets it (the flag would win).
        let port = environment["LLMDB_PORT"] == nil ? ["--port", "0"] : []
        return try llmdb(["serve", "--db", d.db, "--host", "0.0.0.0"] + port + args, environment: environment)
    }

    @Test("a numeric setting out of its range stops the start, naming the setting and its range")
    func outOfRange() throws {
        let d = TempDir()
        for s in Self.settings {
            for bad in [s.high + 1, s.low - 1, Int.max] where s.key != "port" {
                let r = try serve(d, environment: [s.env: String(bad)])
                #expect(r.status != 0)
                #expect(
                    r.stderr.contains("\(s.key) must be an integer from \(s.low) to \(s.high), not '\(bad)'"),
                    "\(s.key)=\(bad): \(r.stderr)"
                )
            }
            // Its bounds themselves are accepted: the start goes on to the next check.
            for good in [s.low, s.high] where s.key != "port" {
                let r = try serve(d, environment: [s.env: String(good)])
                #expect(r.stderr.contains(Self.noKeys), "\(s.key)=\(good): \(r.stderr)")
            }
        }
        let port = try serve(d, environment: ["LLMDB_PORT": "65536"])
        #expect(port.stderr.contains("port must be an integer from 0 to 65535"), "\(port.stderr)")
    }

    @Test("flags and config files are checked the same way; a value beyond 64 bits is refused, not trapped")
    func flagsAndFiles() throws {
        let d = TempDir()
        let flag = try serve(d, ["--body-timeout-ms", "9000000000000000"])
        #expect(flag.status != 0)
        #expect(flag.stderr.contains("body_timeout_ms must be an integer from 1 to 86400000"), "\(flag.stderr)")
        let config = d.path + "/serve.json"
        try #"{"query_timeout_ms": 9223372036854775807}"#.write(toFile: config, atomically: true, encoding: .utf8)
        let file = try serve(d, ["--config", config])
        #expect(file.stderr.contains("query_timeout_ms must be an integer from 1 to 86400000"), "\(file.stderr)")
        let huge = try serve(d, environment: ["LLMDB_QUERY_TIMEOUT_MS": "99999999999999999999999"])
        #expect(huge.stderr.contains("query_timeout_ms must be an integer from 1 to 86400000"), "\(huge.stderr)")
        try #"{"max_body_bytes": 1e30}"#.write(toFile: config, atomically: true, encoding: .utf8)
        let double = try serve(d, ["--config", config])
        #expect(double.status != 0)
        #expect(
            double.stderr.contains("'max_body_bytes' must be a string, an integer or a boolean"),
            "\(double.stderr)"
        )
    }
}
