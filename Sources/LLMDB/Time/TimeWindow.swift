/// A window over valid or transaction time, with SQL:2011 period semantics.
///
/// A period `[start, end)` (end exclusive, `nil`/``Instant/endOfTime`` = open) matches:
/// - `AS OF t`: `start ≤ t < end`
/// - `FROM a TO b` (half-open): `start < b and end > a`
/// - `BETWEEN a AND b` (closed): `start ≤ b and end > a`
/// - `ALL`: always.
public struct TimeWindow: Hashable, Sendable, CustomStringConvertible {
    enum Kind: Hashable, Sendable { case asOf, fromTo, between, all }
    let kind: Kind
    public let lower: Instant
    public let upper: Instant

    public static func asOf(_ t: Instant) -> TimeWindow { TimeWindow(kind: .asOf, lower: t, upper: t) }
    public static func from(_ a: Instant, to b: Instant) -> TimeWindow { TimeWindow(kind: .fromTo, lower: a, upper: b) }
    public static func between(_ a: Instant, and b: Instant) -> TimeWindow {
        TimeWindow(kind: .between, lower: a, upper: b)
    }
    public static let all = TimeWindow(kind: .all, lower: .beginningOfTime, upper: .endOfTime)

    /// Whether the period `[start, end)` matches this window.
    public func matches(start: Instant, end: Instant) -> Bool {
        switch kind {
        case .asOf: start <= lower && lower < end
        case .fromTo: start < upper && end > lower
        case .between: start <= upper && end > lower
        case .all: true
        }
    }

    /// Whether the instant `t` (a transaction time, the period `[t, t+1µs)`) matches.
    public func matches(instant t: Instant) -> Bool {
        matches(start: t, end: t.advanced(by: 1))
    }

    public var description: String {
        switch kind {
        case .asOf: "AS OF \(lower)"
        case .fromTo: "FROM \(lower) TO \(upper)"
        case .between: "BETWEEN \(lower) AND \(upper)"
        case .all: "ALL"
        }
    }
}
