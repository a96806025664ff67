import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where transaction times come from. The database makes them strictly increasing on top
/// of whatever the clock says (a clock that steps back yields last + 1 µs).
public protocol TransactionClock: Sendable {
    /// The current instant according to this clock.
    func now() -> Instant
}

/// The system's real-time clock.
public struct WallClock: TransactionClock {
    public init() {}
    public func now() -> Instant {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Instant(microseconds: Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000)
    }
}

/// A counter: each call returns the previous value plus one microsecond. Deterministic.
public final class LogicalClock: TransactionClock {
    private let value: Mutex<Int64>
    public init(start: Instant = Instant(microseconds: 0)) { value = Mutex(start.microseconds) }
    public func now() -> Instant {
        Instant(
            microseconds: value.withLock { v in
                v += 1
                return v
            }
        )
    }
}

/// A clock that only moves when told: for tests and replays.
public final class ManualClock: TransactionClock {
    private let value: Mutex<Int64>
    public init(start: Instant) { value = Mutex(start.microseconds) }
    public func now() -> Instant { Instant(microseconds: value.withLock { $0 }) }
    /// Moves the clock forward (or back, with a negative amount).
    public func advance(by microseconds: Int64) { value.withLock { $0 += microseconds } }
    /// Sets the clock.
    public func set(_ instant: Instant) { value.withLock { $0 = instant.microseconds } }
}

extension TransactionClock where Self == WallClock {
    /// The system clock.
    public static var wall: WallClock { WallClock() }
}

extension TransactionClock where Self == LogicalClock {
    /// A counting clock starting after `start`.
    public static func logical(start: Instant = Instant(microseconds: 0)) -> LogicalClock { LogicalClock(start: start) }
}

extension TransactionClock where Self == ManualClock {
    /// A clock that moves only when advanced.
    public static func manual(start: Instant) -> ManualClock { ManualClock(start: start) }
}
