// A minimal arbitrary-precision unsigned integer: enough for CRT reconstruction, the RNS
// constants and independent checks in tests. Cold paths only; variable time.

/// An unsigned integer of any size, little-endian 64-bit words, no leading zero words.
///
/// - Warning: variable time; never use it on secret data outside tests and decryption
///   diagnostics.
public struct BigUInt: Sendable, Hashable, Comparable, CustomStringConvertible, ExpressibleByIntegerLiteral {
    /// The words, least significant first; empty for zero.
    public private(set) var words: [UInt64]

    /// The integer `value`.
    public init(_ value: UInt64) { words = value == 0 ? [] : [value] }
    /// The integer written as a literal.
    public init(integerLiteral value: UInt64) { self.init(value) }
    /// From little-endian words (leading zero words are removed).
    public init(words: [UInt64]) {
        self.words = words
        normalize()
    }

    /// The integer 0 (no words).
    public static let zero = BigUInt(0)
    /// Whether the integer is 0.
    public var isZero: Bool { words.isEmpty }
    /// Number of significant bits (0 for zero).
    public var bitWidth: Int { words.isEmpty ? 0 : words.count * 64 - words.last!.leadingZeroBitCount }

    private mutating func normalize() {
        while let last = words.last, last == 0 { words.removeLast() }
    }

    // MARK: Comparison

    /// Numeric order.
    public static func < (a: BigUInt, b: BigUInt) -> Bool {
        if a.words.count != b.words.count { return a.words.count < b.words.count }
        for i in stride(from: a.words.count - 1, through: 0, by: -1) where a.words[i] != b.words[i] {
            return a.words[i] < b.words[i]
        }
        return false
    }

    // MARK: Arithmetic

    /// The sum (arbitrary length: the result grows by a word when the top carries).
    public static func + (a: BigUInt, b: BigUInt) -> BigUInt {
        let count = max(a.words.count, b.words.count)
        var result = [UInt64](repeating: 0, count: count + 1)
        var carry: UInt64 = 0
        for i in 0..<count {
            let x = i < a.words.count ? a.words[i] : 0
            let y = i < b.words.count ? b.words[i] : 0
            let (s1, c1) = x.addingReportingOverflow(y)
            let (s2, c2) = s1.addingReportingOverflow(carry)
            result[i] = s2
            carry = (c1 ? 1 : 0) + (c2 ? 1 : 0)
        }
        result[count] = carry
        return BigUInt(words: result)
    }

    /// `a − b`; precondition `a ≥ b`.
    public static func - (a: BigUInt, b: BigUInt) -> BigUInt {
        precondition(a >= b, "BigUInt subtraction would be negative")
        var result = a.words
        var borrow: UInt64 = 0
        for i in 0..<result.count {
            let y = i < b.words.count ? b.words[i] : 0
            let (d1, b1) = result[i].subtractingReportingOverflow(y)
            let (d2, b2) = d1.subtractingReportingOverflow(borrow)
            result[i] = d2
            borrow = (b1 ? 1 : 0) + (b2 ? 1 : 0)
        }
        return BigUInt(words: result)
    }

    /// The product (schoolbook, word by word with 128-bit partial products).
    public static func * (a: BigUInt, b: BigUInt) -> BigUInt {
        if a.isZero || b.isZero { return .zero }
        var result = [UInt64](repeating: 0, count: a.words.count + b.words.count)
        for i in 0..<a.words.count {
            var carry: UInt64 = 0
            for j in 0..<b.words.count {
                let p = a.words[i].multipliedFullWidth(by: b.words[j])
                let (s1, c1) = p.low.addingReportingOverflow(result[i + j])
                let (s2, c2) = s1.addingReportingOverflow(carry)
                result[i + j] = s2
                carry = p.high &+ (c1 ? 1 : 0) &+ (c2 ? 1 : 0)  // ≤ 2⁶⁴ − 1: no overflow
            }
            result[i + b.words.count] = carry
        }
        return BigUInt(words: result)
    }

    /// The product with one machine word.
    public static func * (a: BigUInt, b: UInt64) -> BigUInt { a * BigUInt(b) }
    /// The sum with one machine word.
    public static func + (a: BigUInt, b: UInt64) -> BigUInt { a + BigUInt(b) }
    /// Adds `b` to `a`.
    public static func += (a: inout BigUInt, b: BigUInt) { a = a + b }

    /// Quotient and remainder of a division by a nonzero word (schoolbook, one word at a time).
    public func quotientAndRemainder(dividingBy d: UInt64) -> (quotient: BigUInt, remainder: UInt64) {
        precondition(d != 0, "division by zero")
        var quotient = [UInt64](repeating: 0, count: words.count)
        var remainder: UInt64 = 0
        for i in stride(from: words.count - 1, through: 0, by: -1) {
            let (q, r) = d.dividingFullWidth((remainder, words[i]))
            quotient[i] = q
            remainder = r
        }
        return (BigUInt(words: quotient), remainder)
    }

    /// `self mod d` for a nonzero word.
    public func remainder(dividingBy d: UInt64) -> UInt64 { quotientAndRemainder(dividingBy: d).remainder }

    /// `self mod m` for a nonzero `m`, by binary long division (cold path).
    public func remainder(dividingBy m: BigUInt) -> BigUInt {
        precondition(!m.isZero, "division by zero")
        if self < m { return self }
        var r = BigUInt.zero
        for bit in stride(from: bitWidth - 1, through: 0, by: -1) {
            r = r.shiftedLeftOne()
            if (words[bit / 64] >> UInt64(bit % 64)) & 1 == 1 { r = r + 1 }
            if r >= m { r = r - m }
        }
        return r
    }

    private func shiftedLeftOne() -> BigUInt {
        var result = [UInt64](repeating: 0, count: words.count + 1)
        var carry: UInt64 = 0
        for i in 0..<words.count {
            result[i] = (words[i] << 1) | carry
            carry = words[i] >> 63
        }
        result[words.count] = carry
        return BigUInt(words: result)
    }

    /// The value as a `Double` (rounded; for diagnostics and error bounds).
    public var doubleValue: Double {
        var result = 0.0
        for w in words.reversed() { result = result * 18446744073709551616.0 + Double(w) }
        return result
    }

    /// Decimal digits.
    public var description: String {
        if isZero { return "0" }
        var digits: [String] = []
        var value = self
        while !value.isZero {
            let (q, r) = value.quotientAndRemainder(dividingBy: 10_000_000_000_000_000_000)
            digits.append(String(r))
            value = q
        }
        var text = digits.removeLast()
        for chunk in digits.reversed() { text += String(repeating: "0", count: 19 - chunk.count) + chunk }
        return text
    }
}
