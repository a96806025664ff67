/// A point in time: microseconds since the Unix epoch (UTC), signed.
///
/// ``endOfTime`` stands for +∞ (an open end). Text form: ISO-8601 in UTC with six
/// fractional digits, `2024-05-01T12:00:00.000000Z`; years before 0000 or after 9999 in
/// ISO-8601's expanded form, a sign and six digits (`-290308-12-21T19:59:05.224192Z`, as
/// JavaScript writes them), which parsing accepts too, so every instant's text reads back
/// as the same instant.
public struct Instant: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var microseconds: Int64

    public init(microseconds: Int64) { self.microseconds = microseconds }

    /// +∞: the open end of a valid-time range.
    public static let endOfTime = Instant(microseconds: .max)
    /// The earliest representable instant.
    public static let beginningOfTime = Instant(microseconds: .min)

    public static func < (a: Instant, b: Instant) -> Bool { a.microseconds < b.microseconds }

    /// This instant plus `microseconds`, saturating at the ends.
    public func advanced(by microseconds: Int64) -> Instant {
        let (sum, overflow) = self.microseconds.addingReportingOverflow(microseconds)
        if overflow { return microseconds > 0 ? .endOfTime : .beginningOfTime }
        return Instant(microseconds: sum)
    }

    public var description: String { iso8601 }

    /// ISO-8601 text in UTC with microseconds; `∞` for ``endOfTime``.
    public var iso8601: String {
        if self == .endOfTime { return "∞" }
        let us = microseconds
        let (secs, frac) = us.quotientAndRemainder(dividingBy: 1_000_000)
        var s = secs
        var f = frac
        if f < 0 {
            s -= 1
            f += 1_000_000
        }
        let (daysRaw, sodRaw) = s.quotientAndRemainder(dividingBy: 86_400)
        var days = daysRaw
        var sod = sodRaw
        if sod < 0 {
            days -= 1
            sod += 86_400
        }
        let (y, m, d) = civil(fromDays: days)
        let hh = sod / 3600
        let mm = (sod % 3600) / 60
        let ss = sod % 60
        let year = (0...9999).contains(y) ? pad(y, 4) : (y < 0 ? "-" : "+") + pad(abs(y), 6)
        return "\(year)-\(pad(m, 2))-\(pad(d, 2))T\(pad(hh, 2)):\(pad(mm, 2)):\(pad(ss, 2)).\(pad(f, 6))Z"
    }

    /// Parses ISO-8601 (`2024-05-01`, `2024-05-01T12:00:00Z`, fractional seconds up to
    /// microseconds, `+02:00` offsets, expanded years `±YYYYYY`), integer microseconds since
    /// the epoch, or `∞`/`inf`. Text outside the range of instants (about ±292,000 years)
    /// is refused.
    public init?(parsing text: String) {
        let t = text.trimmingWhitespace
        if t == "∞" || t == "inf" || t == "infinity" || t == "+inf" {
            self = .endOfTime
            return
        }
        if let n = Int64(t) {
            self.init(microseconds: n)
            return
        }
        guard let v = parseISO8601(Array(t.utf8)) else { return nil }
        self.init(microseconds: v)
    }
}

private func pad(_ v: Int64, _ width: Int) -> String {
    let neg = v < 0
    var s = String(neg ? -v : v)
    while s.count < width { s = "0" + s }
    return neg ? "-" + s : s
}

/// Howard Hinnant's days-from-civil algorithm (proleptic Gregorian).
func days(fromCivil y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
    let y = m <= 2 ? y0 - 1 : y0
    let era = (y >= 0 ? y : y - 399) / 400
    let yoe = y - era * 400
    let mp = (m + 9) % 12
    let doy = (153 * mp + 2) / 5 + d - 1
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
    return era * 146_097 + doe - 719_468
}

func civil(fromDays z0: Int64) -> (Int64, Int64, Int64) {
    let z = z0 + 719_468
    let era = (z >= 0 ? z : z - 146_096) / 146_097
    let doe = z - era * 146_097
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
    let y = yoe + era * 400
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
    let mp = (5 * doy + 2) / 153
    let d = doy - (153 * mp + 2) / 5 + 1
    let m = mp < 10 ? mp + 3 : mp - 9
    return (m <= 2 ? y + 1 : y, m, d)
}

private func parseISO8601(_ b: [UInt8]) -> Int64? {
    var i = 0
    func digits(_ n: Int) -> Int64? {
        guard i + n <= b.count else { return nil }
        var v: Int64 = 0
        for k in 0..<n {
            let c = b[i + k]
            guard c >= 48 && c <= 57 else { return nil }
            v = v * 10 + Int64(c - 48)
        }
        i += n
        return v
    }
    func expect(_ c: UInt8) -> Bool {
        guard i < b.count, b[i] == c else { return false }
        i += 1
        return true
    }
    // A year of four digits, or ISO-8601's expanded form: a sign and six digits.
    var year: Int64? = nil
    if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
        let negative = b[i] == UInt8(ascii: "-")
        i += 1
        year = digits(6).map { negative ? -$0 : $0 }
    } else {
        year = digits(4)
    }
    guard let y = year, expect(UInt8(ascii: "-")), let mo = digits(2), expect(UInt8(ascii: "-")),
        let d = digits(2)
    else { return nil }
    guard (1...12).contains(mo), d >= 1, d <= daysIn(month: mo, year: y) else { return nil }
    // Six-digit years reach past the range of instants: every step is checked.
    var seconds = days(fromCivil: y, mo, d) * 86_400
    var micros: Int64 = 0
    func total(_ seconds: Int64, _ micros: Int64) -> Int64? {
        // seconds × 10⁶ + micros; in the earliest second the product alone passes Int64.min.
        let (s, us) = seconds < 0 && micros > 0 ? (seconds + 1, micros - 1_000_000) : (seconds, micros)
        let (product, o1) = s.multipliedReportingOverflow(by: 1_000_000)
        let (sum, o2) = product.addingReportingOverflow(us)
        return o1 || o2 ? nil : sum
    }
    if i == b.count { return total(seconds, 0) }
    guard expect(UInt8(ascii: "T")) || expect(UInt8(ascii: " ")) || expect(UInt8(ascii: "t")) else { return nil }
    guard let hh = digits(2), expect(UInt8(ascii: ":")), let mm = digits(2) else { return nil }
    var ss: Int64 = 0
    if expect(UInt8(ascii: ":")) {
        guard let s = digits(2) else { return nil }
        ss = s
        if expect(UInt8(ascii: ".")) || expect(UInt8(ascii: ",")) {
            var n = 0
            while i < b.count, b[i] >= 48, b[i] <= 57 {
                if n < 6 { micros = micros * 10 + Int64(b[i] - 48) } else if n >= 9 { return nil }
                n += 1
                i += 1
            }
            guard n > 0 else { return nil }
            // Digits past microseconds must be zero: refuse silent truncation.
            if n > 6 {
                for k in (i - (n - 6))..<i where b[k] != 48 { return nil }
            }
            for _ in 0..<max(0, 6 - n) { micros *= 10 }
        }
    }
    guard hh <= 23, mm <= 59, ss <= 59 else { return nil }
    seconds += hh * 3600 + mm * 60 + ss
    if expect(UInt8(ascii: "Z")) || expect(UInt8(ascii: "z")) {
    } else if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
        let sign: Int64 = b[i] == UInt8(ascii: "+") ? 1 : -1
        i += 1
        guard let oh = digits(2) else { return nil }
        _ = expect(UInt8(ascii: ":"))
        guard let om = digits(2), oh <= 23, om <= 59 else { return nil }
        seconds -= sign * (oh * 3600 + om * 60)
    } else if i != b.count {
        return nil
    }
    guard i == b.count else { return nil }
    return total(seconds, micros)
}

private func daysIn(month: Int64, year: Int64) -> Int64 {
    switch month {
    case 2: return (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) ? 29 : 28  // proleptic Gregorian
    case 4, 6, 9, 11: return 30
    default: return 31
    }
}

extension String {
    var trimmingWhitespace: String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}
