/// The encoded key of one entry in the `facts` table:
/// `[partition u32 BE][escaped user key][0x00 0x00][valid_from u64 BE, sign flipped][tx_id u64 BE]`.
///
/// Escaping (`0x00` → `0x00 0xFF`, terminated by `0x00 0x00`) keeps byte order of encoded
/// keys equal to the order of (partition, user key, valid_from, tx_id), and a user-key
/// prefix a byte prefix. All entries of a key are adjacent, ordered by valid_from then tx.
/// These rules are the file format: never change them.
package enum EntryKey {
    static let terminator: [UInt8] = [0x00, 0x00]

    @inline(__always)
    package static func appendU32(_ v: UInt32, to out: inout [UInt8]) {
        out.append(UInt8(truncatingIfNeeded: v >> 24))
        out.append(UInt8(truncatingIfNeeded: v >> 16))
        out.append(UInt8(truncatingIfNeeded: v >> 8))
        out.append(UInt8(truncatingIfNeeded: v))
    }

    @inline(__always)
    package static func appendU64(_ v: UInt64, to out: inout [UInt8]) {
        var s = 56
        while s >= 0 {
            out.append(UInt8(truncatingIfNeeded: v >> UInt64(s)))
            s -= 8
        }
    }

    /// Instants sort as unsigned big-endian with the sign bit flipped.
    @inline(__always)
    package static func timeBits(_ t: Instant) -> UInt64 { UInt64(bitPattern: t.microseconds) ^ (1 << 63) }

    @inline(__always)
    package static func instant(fromBits b: UInt64) -> Instant {
        Instant(microseconds: Int64(bitPattern: b ^ (1 << 63)))
    }

    /// `[partition][escaped key]` with no terminator: the byte prefix of every key that
    /// starts with `key.bytes`.
    package static func prefix(_ key: Key) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(4 + key.bytes.count + 2)
        appendU32(key.partition, to: &out)
        for b in key.bytes {
            out.append(b)
            if b == 0 { out.append(0xFF) }
        }
        return out
    }

    /// `[partition][escaped key][00 00]`: the prefix of every entry of exactly this key.
    package static func keyPrefix(_ key: Key) -> [UInt8] {
        var out = prefix(key)
        out.append(0)
        out.append(0)
        return out
    }

    /// A full entry key.
    package static func encode(_ key: Key, validFrom: Instant, tx: TxID) -> [UInt8] {
        var out = keyPrefix(key)
        appendU64(timeBits(validFrom), to: &out)
        appendU64(tx, to: &out)
        return out
    }

    /// Replaces the trailing 16 bytes of `buffer` (built by ``keyPrefix(_:)`` plus 16) in place.
    @inline(__always)
    package static func setTimes(_ buffer: inout [UInt8], prefixCount: Int, validFrom: Instant, tx: TxID) {
        let vb = timeBits(validFrom)
        buffer.withUnsafeMutableBytes { p in
            p.storeBytes(of: vb.bigEndian, toByteOffset: prefixCount, as: UInt64.self)
            p.storeBytes(of: tx.bigEndian, toByteOffset: prefixCount + 8, as: UInt64.self)
        }
    }

    @inline(__always)
    package static func readU64(_ p: UnsafeRawBufferPointer, at offset: Int) -> UInt64 {
        UInt64(bigEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    /// The (valid_from, tx) of an encoded entry key.
    @inline(__always)
    package static func times(_ encoded: UnsafeRawBufferPointer) -> (validFrom: Instant, tx: TxID) {
        let n = encoded.count
        return (instant(fromBits: readU64(encoded, at: n - 16)), readU64(encoded, at: n - 8))
    }

    /// Whether `encoded` is an entry of the key whose ``keyPrefix(_:)`` is `prefix`.
    @inline(__always)
    package static func belongs(_ encoded: UnsafeRawBufferPointer, to prefix: [UInt8]) -> Bool {
        guard encoded.count == prefix.count + 16 else { return false }
        return prefix.withUnsafeBytes { p in memcmpEqual(p, encoded, count: p.count) }
    }

    /// Whether `encoded` starts with `prefix`.
    @inline(__always)
    package static func hasPrefix(_ encoded: UnsafeRawBufferPointer, _ prefix: [UInt8]) -> Bool {
        guard encoded.count >= prefix.count else { return false }
        return prefix.withUnsafeBytes { p in memcmpEqual(p, encoded, count: p.count) }
    }

    /// Decodes an entry key. Returns nil when malformed.
    package static func decode(_ encoded: UnsafeRawBufferPointer) -> (key: Key, validFrom: Instant, tx: TxID)? {
        guard encoded.count >= 4 + 1 + 2 + 16 else { return nil }
        let partition = UInt32(bigEndian: encoded.loadUnaligned(as: UInt32.self))
        var bytes: [UInt8] = []
        var i = 4
        let end = encoded.count - 16
        while i < end {
            let b = encoded[i]
            if b == 0 {
                guard i + 1 < end else { return nil }
                let n = encoded[i + 1]
                if n == 0 { break }
                guard n == 0xFF else { return nil }
                bytes.append(0)
                i += 2
            } else {
                bytes.append(b)
                i += 1
            }
        }
        guard i + 2 == end, !bytes.isEmpty else { return nil }
        let t = times(encoded)
        return (Key(bytes, partition: partition), t.validFrom, t.tx)
    }

    /// Whether two encoded keys are the same bytes.
    @inline(__always)
    package static func same(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        a.count == b.count && memcmpEqual(a, b, count: a.count)
    }

    /// The length of `[partition][escaped key][00 00]` within an encoded entry key.
    package static func keyPartLength(_ encoded: UnsafeRawBufferPointer) -> Int { encoded.count - 16 }
}

@inline(__always)
package func memcmpEqual(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer, count: Int) -> Bool {
    guard let pa = a.baseAddress, let pb = b.baseAddress else { return count == 0 }
    return memcmp(pa, pb, count) == 0
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
