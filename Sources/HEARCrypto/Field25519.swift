/// An element of the field GF(p), p = 2²⁵⁵ − 19, in radix 2⁵¹: value = Σ limbᵢ · 2⁵¹ⁱ.
///
/// Invariant: after every operation the limbs are below 2⁵¹ + 2¹⁸ ("weakly reduced": the value
/// may exceed p by a little, never 2²⁵⁵ by much); `canonicalBytes` reduces fully. Products of
/// two limbs are below 2¹⁰⁴, a row of five of them times 19 below 2¹¹², so a `UInt128` holds it.
///
/// Constant time: no operation branches on or indexes memory by a limb's value. Carries are
/// shifts and masks, the final reduction is a computed subtraction, selection is by masks.
/// Only `power` branches, on its exponent, which is always a public constant (p − 2, (p − 5)/8).
struct Field25519: Sendable {
    var l0: UInt64, l1: UInt64, l2: UInt64, l3: UInt64, l4: UInt64

    static let mask: UInt64 = (1 << 51) - 1
    static let zero = Field25519(l0: 0, l1: 0, l2: 0, l3: 0, l4: 0)
    static let one = Field25519(l0: 1, l1: 0, l2: 0, l3: 0, l4: 0)

    init(l0: UInt64, l1: UInt64, l2: UInt64, l3: UInt64, l4: UInt64) {
        self.l0 = l0; self.l1 = l1; self.l2 = l2; self.l3 = l3; self.l4 = l4
    }

    init(_ small: UInt64) { self.init(l0: small & Self.mask, l1: small >> 51, l2: 0, l3: 0, l4: 0) }

    /// From 32 little-endian bytes; the top bit (bit 255) is ignored. The value may be ≥ p (a
    /// decoder that must reject that compares `canonicalBytes` with its input).
    init<Bytes: Collection>(bytes: Bytes) where Bytes.Element == UInt8, Bytes.Index == Int {
        precondition(bytes.count == 32)
        let start = bytes.startIndex
        func word(_ i: Int) -> UInt64 {
            var w: UInt64 = 0
            for b in 0..<8 { w |= UInt64(bytes[start + 8 * i + b]) << (8 * UInt64(b)) }
            return w
        }
        let w0 = word(0), w1 = word(1), w2 = word(2), w3 = word(3) & 0x7fff_ffff_ffff_ffff
        self.init(l0: w0 & Self.mask,
                  l1: (w0 >> 51 | w1 << 13) & Self.mask,
                  l2: (w1 >> 38 | w2 << 26) & Self.mask,
                  l3: (w2 >> 25 | w3 << 39) & Self.mask,
                  l4: w3 >> 12)
    }

    /// Carries every limb into the next, the top carry times 19 into the lowest (2²⁵⁵ ≡ 19).
    @inline(__always) mutating func carry() {
        var c = l0 >> 51; l0 &= Self.mask; l1 &+= c
        c = l1 >> 51; l1 &= Self.mask; l2 &+= c
        c = l2 >> 51; l2 &= Self.mask; l3 &+= c
        c = l3 >> 51; l3 &= Self.mask; l4 &+= c
        c = l4 >> 51; l4 &= Self.mask; l0 &+= 19 &* c
        c = l0 >> 51; l0 &= Self.mask; l1 &+= c
    }

    static func + (a: Field25519, b: Field25519) -> Field25519 {
        var r = Field25519(l0: a.l0 &+ b.l0, l1: a.l1 &+ b.l1, l2: a.l2 &+ b.l2, l3: a.l3 &+ b.l3, l4: a.l4 &+ b.l4)
        r.carry()
        return r
    }

    /// a − b computed as a + 4p − b, which keeps every limb non-negative for weakly reduced b.
    static func - (a: Field25519, b: Field25519) -> Field25519 {
        let fourPLow: UInt64 = 0x1f_ffff_ffff_ffb4, fourP: UInt64 = 0x1f_ffff_ffff_fffc  // 4·(2⁵¹ − 19), 4·(2⁵¹ − 1)
        var r = Field25519(l0: a.l0 &+ fourPLow &- b.l0, l1: a.l1 &+ fourP &- b.l1, l2: a.l2 &+ fourP &- b.l2,
                           l3: a.l3 &+ fourP &- b.l3, l4: a.l4 &+ fourP &- b.l4)
        r.carry()
        return r
    }

    static prefix func - (a: Field25519) -> Field25519 { .zero - a }

    /// Schoolbook product with the wrap-around 2²⁵⁵ ≡ 19 folded into the upper products.
    static func * (a: Field25519, b: Field25519) -> Field25519 {
        @inline(__always) func m(_ x: UInt64, _ y: UInt64) -> UInt128 { UInt128(x) * UInt128(y) }
        let b1 = 19 &* b.l1, b2 = 19 &* b.l2, b3 = 19 &* b.l3, b4 = 19 &* b.l4
        let r0 = m(a.l0, b.l0) + m(a.l1, b4) + m(a.l2, b3) + m(a.l3, b2) + m(a.l4, b1)
        var r1 = m(a.l0, b.l1) + m(a.l1, b.l0) + m(a.l2, b4) + m(a.l3, b3) + m(a.l4, b2)
        var r2 = m(a.l0, b.l2) + m(a.l1, b.l1) + m(a.l2, b.l0) + m(a.l3, b4) + m(a.l4, b3)
        var r3 = m(a.l0, b.l3) + m(a.l1, b.l2) + m(a.l2, b.l1) + m(a.l3, b.l0) + m(a.l4, b4)
        var r4 = m(a.l0, b.l4) + m(a.l1, b.l3) + m(a.l2, b.l2) + m(a.l3, b.l1) + m(a.l4, b.l0)
        let mask = UInt128(Self.mask)
        r1 += r0 >> 51; r2 += r1 >> 51; r3 += r2 >> 51; r4 += r3 >> 51
        var r = Field25519(l0: UInt64(r0 & mask), l1: UInt64(r1 & mask), l2: UInt64(r2 & mask),
                           l3: UInt64(r3 & mask), l4: UInt64(r4 & mask))
        r.l0 &+= 19 &* UInt64(r4 >> 51)
        r.carry()
        return r
    }

    var squared: Field25519 { self * self }

    /// self^e for a public exponent given as 32 little-endian bytes (square and multiply).
    func power(_ exponent: [UInt8]) -> Field25519 {
        var result = Field25519.one
        for bit in stride(from: 255, through: 0, by: -1) {
            result = result.squared
            if (exponent[bit / 8] >> (bit % 8)) & 1 == 1 { result = result * self }
        }
        return result
    }

    /// 1 / self (0 for 0), as self^(p − 2).
    var inverse: Field25519 { power(Field25519.pMinus2) }

    /// The unique representative in [0, p), as 32 little-endian bytes (bit 255 clear).
    var canonicalBytes: [UInt8] {
        var t = self
        t.carry()
        t.carry()
        // q = 1 exactly when t ≥ p: t + 19 then overflows 2²⁵⁵.
        var q = (t.l0 &+ 19) >> 51
        q = (t.l1 &+ q) >> 51; q = (t.l2 &+ q) >> 51; q = (t.l3 &+ q) >> 51; q = (t.l4 &+ q) >> 51
        t.l0 &+= 19 &* q  // t + 19q − q·2²⁵⁵: drop bit 255 below
        var c = t.l0 >> 51; t.l0 &= Self.mask; t.l1 &+= c
        c = t.l1 >> 51; t.l1 &= Self.mask; t.l2 &+= c
        c = t.l2 >> 51; t.l2 &= Self.mask; t.l3 &+= c
        c = t.l3 >> 51; t.l3 &= Self.mask; t.l4 &+= c
        t.l4 &= Self.mask
        let words = [t.l0 | t.l1 << 51, t.l1 >> 13 | t.l2 << 38, t.l2 >> 26 | t.l3 << 25, t.l3 >> 39 | t.l4 << 12]
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32)
        for w in words { for b in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: w >> (8 * UInt64(b)))) } }
        return bytes
    }

    /// Whether the canonical value is odd (the "sign" of x in the point encoding).
    var isNegative: Bool { canonicalBytes[0] & 1 == 1 }
    var isZero: Bool { canonicalBytes.allSatisfy { $0 == 0 } }

    static func == (a: Field25519, b: Field25519) -> Bool { constantTimeEqual(a.canonicalBytes, b.canonicalBytes) }

    /// `b` when `condition` is 1, `a` when it is 0, by masks (no branch).
    static func select(_ a: Field25519, _ b: Field25519, _ condition: UInt64) -> Field25519 {
        let m = 0 &- condition
        return Field25519(l0: a.l0 ^ (m & (a.l0 ^ b.l0)), l1: a.l1 ^ (m & (a.l1 ^ b.l1)), l2: a.l2 ^ (m & (a.l2 ^ b.l2)),
                          l3: a.l3 ^ (m & (a.l3 ^ b.l3)), l4: a.l4 ^ (m & (a.l4 ^ b.l4)))
    }

    /// p − 2 = 2²⁵⁵ − 21, little-endian.
    static let pMinus2: [UInt8] = [0xeb] + [UInt8](repeating: 0xff, count: 30) + [0x7f]
    /// (p − 5) / 8 = 2²⁵² − 3, little-endian.
    static let pMinus5Over8: [UInt8] = [0xfd] + [UInt8](repeating: 0xff, count: 30) + [0x0f]
    /// √−1 = 2^((p − 1)/4).
    static let sqrtMinusOne: Field25519 = {
        var exponent = [UInt8](repeating: 0xff, count: 32)  // (p − 1)/4 = 2²⁵³ − 5
        exponent[0] = 0xfb
        exponent[31] = 0x1f
        return Field25519(2).power(exponent)
    }()
    /// The curve constant d = −121665 / 121666.
    static let d: Field25519 = -(Field25519(121665) * Field25519(121666).inverse)
    static let twoD: Field25519 = d + d
}
