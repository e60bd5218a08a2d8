import HEARCrypto

/// Exact decimal storage of doubles that came from short decimal text.
///
/// The paper's weights were published as decimal text (float32 values written with at most nine
/// significant digits) and its clips as pixel coordinates with three decimals. A double read
/// from such text is the IEEE double nearest to the decimal m · 10^−k. IEEE division is
/// correctly rounded and m and 10^k (k ≤ 22) are exact doubles, so `Double(m) / 10^k` is that
/// same double bit for bit: storing the integer m (31 bits) and k (one byte) reproduces what a
/// decimal parser gives from the original text, in 5 bytes instead of 8, with no platform
/// formatting involved.
public enum DecimalExact {
    /// 10^0 … 10^22, every one an exact double.
    public static let powersOfTen: [Double] = (0...22).map { k in (0..<k).reduce(1.0) { value, _ in value * 10 } }

    /// The double m / 10^k.
    @inline(__always) public static func value(mantissa: Int64, exponent: Int) -> Double {
        Double(mantissa) / powersOfTen[exponent]
    }

    /// (m, k) with |m| < 2^31 and 0 ≤ k ≤ 22 such that m / 10^k is `value` bit for bit, or nil.
    /// Tries the shortest decimal that round-trips (Swift's `description`), which has at most as
    /// many digits as any text the value was read from.
    public static func decompose(_ value: Double) -> (mantissa: Int32, exponent: UInt8)? {
        guard value.isFinite else { return nil }
        if value == 0 { return value.sign == .minus ? nil : (0, 0) }
        let text = Array(value.description.utf8)
        var index = 0
        var negative = false
        if text[index] == UInt8(ascii: "-") { negative = true; index += 1 }
        var digits: Int64 = 0, fractionDigits = 0, seenPoint = false, significant = 0
        while index < text.count, text[index] != UInt8(ascii: "e") {
            let c = text[index]
            if c == UInt8(ascii: ".") { seenPoint = true } else {
                guard c >= 48, c <= 57 else { return nil }
                digits = digits * 10 + Int64(c - 48)
                if digits > 0 { significant += 1 }
                if seenPoint { fractionDigits += 1 }
                guard significant <= 10 else { return nil }
            }
            index += 1
        }
        var exponent = 0
        if index < text.count {
            guard let e = Int(String(decoding: text[(index + 1)...], as: UTF8.self)) else { return nil }
            exponent = e
        }
        var k = fractionDigits - exponent
        while k > 0, digits % 10 == 0, digits != 0 { digits /= 10; k -= 1 }  // "12.0" → 12
        while k < 0 { digits *= 10; k += 1; guard digits < 1 << 31 else { return nil } }
        guard k <= 22, digits < 1 << 31 else { return nil }
        let m = negative ? -digits : digits
        guard Self.value(mantissa: m, exponent: k).bitPattern == value.bitPattern else { return nil }
        return (Int32(m), UInt8(k))
    }
}

/// The reason a file that ends with the SHA-256 of its contents fails that check, or nil after
/// removing the digest. `minimum`: the fewest bytes a valid file has before the digest.
func removeTrailingDigest(_ bytes: inout [UInt8], minimum: Int) -> String? {
    guard bytes.count >= minimum + SHA256.digestByteCount else { return "the file is truncated" }
    let body = bytes.count - SHA256.digestByteCount
    guard constantTimeEqual(SHA256.hash(bytes[0..<body]), Array(bytes[body...])) else {
        return "the SHA-256 digest does not match: the file is corrupted or truncated"
    }
    bytes.removeLast(SHA256.digestByteCount)
    return nil
}

/// Little-endian reading of a byte array with bounds checks: every read past the end is an error
/// (`nil`), never a trap.
struct ByteReader {
    let bytes: [UInt8]
    private(set) var offset: Int

    init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    var remaining: Int { bytes.count - offset }

    mutating func take(_ count: Int) -> ArraySlice<UInt8>? {
        guard count >= 0, count <= remaining else { return nil }
        defer { offset += count }
        return bytes[offset..<(offset + count)]
    }

    mutating func uint8() -> UInt8? { take(1)?.first }

    mutating func uint32() -> UInt32? {
        guard let s = take(4) else { return nil }
        return s.reversed().reduce(0) { $0 << 8 | UInt32($1) }
    }

    mutating func uint64() -> UInt64? {
        guard let s = take(8) else { return nil }
        return s.reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// An unsigned LEB128 integer of at most 9 bytes (63 bits).
    mutating func varint() -> UInt64? {
        var result: UInt64 = 0
        for shift in stride(from: 0, to: 63, by: 7) {
            guard let byte = uint8() else { return nil }
            result |= UInt64(byte & 0x7f) << UInt64(shift)
            if byte & 0x80 == 0 { return result }
        }
        return nil
    }
}

extension Array where Element == UInt8 {
    mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }

    /// Unsigned LEB128: seven bits a byte, low bits first, the high bit set on all but the last.
    mutating func appendVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 { append(UInt8(v & 0x7f) | 0x80); v >>= 7 }
        append(UInt8(v))
    }
}

/// Zigzag coding of signed integers for varints: 0, −1, 1, −2, … ↦ 0, 1, 2, 3, …
@inline(__always) func zigzag(_ n: Int64) -> UInt64 { UInt64(bitPattern: (n << 1) ^ (n >> 63)) }
@inline(__always) func unzigzag(_ z: UInt64) -> Int64 { Int64(bitPattern: z >> 1) ^ -Int64(bitPattern: z & 1) }
