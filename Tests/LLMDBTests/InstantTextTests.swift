import LLMDB
import Testing

@Suite("Instants: what is printed reads back")
struct InstantTextTests {
    @Test(
        "the ends of the range and years past 0000–9999 print in ISO-8601's expanded form",
        arguments: [
            (Int64.min, "-290308-12-21T19:59:05.224192Z"),
            (Int64.max - 1, "+294247-01-10T04:00:54.775806Z"),
            (Int64.max, "∞"),
            (-62_167_219_200_000_000, "0000-01-01T00:00:00.000000Z"),
            (-62_167_219_200_000_001, "-000001-12-31T23:59:59.999999Z"),
            (253_402_300_799_999_999, "9999-12-31T23:59:59.999999Z"),
            (253_402_300_800_000_000, "+010000-01-01T00:00:00.000000Z"),
            (0, "1970-01-01T00:00:00.000000Z"),
            (-1, "1969-12-31T23:59:59.999999Z"),
        ] as [(Int64, String)]
    )
    func text(us: Int64, text: String) throws {
        #expect(Instant(microseconds: us).iso8601 == text)
        #expect(Instant(parsing: text) == Instant(microseconds: us))
    }

    @Test("property: every instant's text parses back to it")
    func roundTrip() throws {
        var state: UInt64 = 0x1234_5678_9ABC_DEF0
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state
        }
        var samples: [Int64] = [.min, .min + 1, .min + 999_999, .min + 1_000_000, .max - 1, -1, 0, 1]
        for _ in 0..<20_000 { samples.append(Int64(bitPattern: next())) }
        // Around year boundaries, small and large magnitudes.
        for _ in 0..<5_000 { samples.append(Int64(bitPattern: next()) >> Int64(next() % 63)) }
        for us in samples {
            let t = Instant(microseconds: us)
            #expect(Instant(parsing: t.iso8601) == t, "\(us) → \(t.iso8601)")
        }
    }

    @Test(
        "text outside the range of instants, or malformed years, is refused",
        arguments: [
            "-290308-12-21T19:59:05.224191Z", "+294247-01-10T04:00:54.775808Z", "+999999-12-31T23:59:59Z",
            "-999999-01-01", "+12345-01-01", "-2024-01-01", "12024-01-01", "+2024-01-01", "-0000001-01-01",
            "+294247-01-10T04:00:54.775807-00:01",
        ]
    )
    func refused(text: String) {
        #expect(Instant(parsing: text) == nil, "\(text)")
    }

    @Test("expanded years with offsets and dates only")
    func expanded() {
        #expect(Instant(parsing: "-000044-03-15")?.iso8601 == "-000044-03-15T00:00:00.000000Z")
        #expect(Instant(parsing: "+010000-01-01T01:00:00+01:00")?.iso8601 == "+010000-01-01T00:00:00.000000Z")
        #expect(Instant(parsing: "0000-02-29")?.iso8601 == "0000-02-29T00:00:00.000000Z")  // year 0 is a leap year
        #expect(Instant(parsing: "-000001-02-29") == nil)
    }
}
