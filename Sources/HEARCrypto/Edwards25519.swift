/// A point of the twisted Edwards curve −x² + y² = 1 + d·x²·y² over GF(2²⁵⁵ − 19), in extended
/// coordinates (X : Y : Z : T) with x = X/Z, y = Y/Z, x·y = T/Z (RFC 8032 §5.1.4). The addition
/// law is complete (d is not a square), so one formula serves every pair of points, the identity
/// included: scalar multiplication needs no special cases and so no secret-dependent branches.
struct EdwardsPoint: Sendable {
    var x: Field25519, y: Field25519, z: Field25519, t: Field25519

    static let identity = EdwardsPoint(x: .zero, y: .one, z: .one, t: .zero)

    /// The base point B: y = 4/5, x even (RFC 8032 §5.1).
    static let base: EdwardsPoint = {
        let encoding = [0x58] + [UInt8](repeating: 0x66, count: 31)
        return EdwardsPoint(encoding: encoding)!
    }()

    /// P + Q (RFC 8032 §5.1.4, "add").
    static func + (p: EdwardsPoint, q: EdwardsPoint) -> EdwardsPoint {
        let a = (p.y - p.x) * (q.y - q.x), b = (p.y + p.x) * (q.y + q.x)
        let c = p.t * Field25519.twoD * q.t, d = (p.z + p.z) * q.z
        let e = b - a, f = d - c, g = d + c, h = b + a
        return EdwardsPoint(x: e * f, y: g * h, z: f * g, t: e * h)
    }

    /// 2P (RFC 8032 §5.1.4, "double").
    var doubled: EdwardsPoint {
        let a = x.squared, b = y.squared, c = z.squared + z.squared
        let h = a + b, e = h - (x + y).squared, g = a - b, f = c + g
        return EdwardsPoint(x: e * f, y: g * h, z: f * g, t: e * h)
    }

    static prefix func - (p: EdwardsPoint) -> EdwardsPoint { EdwardsPoint(x: -p.x, y: p.y, z: p.z, t: -p.t) }

    /// `q` when `condition` is 1, `p` when 0, by masks.
    static func select(_ p: EdwardsPoint, _ q: EdwardsPoint, _ condition: UInt64) -> EdwardsPoint {
        EdwardsPoint(x: .select(p.x, q.x, condition), y: .select(p.y, q.y, condition),
                     z: .select(p.z, q.z, condition), t: .select(p.t, q.t, condition))
    }

    /// [k]P for a scalar of 32 little-endian bytes, by a Montgomery ladder: every bit costs one
    /// addition and one doubling, and the bit only decides, by masks, which of two registers is
    /// which. The time and the memory accesses do not depend on k.
    func multiplied(by scalar: [UInt8]) -> EdwardsPoint {
        precondition(scalar.count == 32)
        var r0 = EdwardsPoint.identity, r1 = self
        for i in stride(from: 255, through: 0, by: -1) {
            let bit = UInt64((scalar[i >> 3] >> UInt8(i & 7)) & 1)
            // Invariant r1 − r0 = P. bit 0: (r0, r1) ← (2·r0, r0 + r1); bit 1: (r0 + r1, 2·r1).
            let sum = r0 + r1
            let doubled = EdwardsPoint.select(r0, r1, bit).doubled
            r0 = EdwardsPoint.select(doubled, sum, bit)
            r1 = EdwardsPoint.select(sum, doubled, bit)
        }
        return r0
    }

    /// The 32-byte encoding: y little-endian, the sign (low bit) of x in bit 255 (§5.1.2).
    var encoding: [UInt8] {
        let zInverse = z.inverse
        var bytes = (y * zInverse).canonicalBytes
        if (x * zInverse).isNegative { bytes[31] |= 0x80 }
        return bytes
    }

    /// Decodes with every rejection of RFC 8032 §5.1.3: y ≥ p (non-canonical), no square root
    /// for x, and x = 0 with the sign bit set. Nil for an invalid encoding. (Only public keys and
    /// signatures are decoded: the branches here depend on public data.)
    init?(encoding bytes: [UInt8]) {
        guard bytes.count == 32 else { return nil }
        let sign = bytes[31] >> 7
        var yBytes = bytes
        yBytes[31] &= 0x7f
        let y = Field25519(bytes: yBytes)
        guard y.canonicalBytes == yBytes else { return nil }  // y ≥ p
        // x² = (y² − 1) / (d·y² + 1) = u / v; candidate x = u·v³·(u·v⁷)^((p − 5)/8)
        let y2 = y.squared
        let u = y2 - .one, v = Field25519.d * y2 + .one
        let v3 = v.squared * v
        var x = u * v3 * (u * v3.squared * v).power(Field25519.pMinus5Over8)
        let vx2 = v * x.squared
        if vx2 == u {
        } else if vx2 == -u {
            x = x * Field25519.sqrtMinusOne
        } else {
            return nil
        }
        if x.isZero && sign == 1 { return nil }
        if (x.isNegative ? 1 : 0) != sign { x = -x }
        self.init(x: x, y: y, z: .one, t: x * y)
    }

    init(x: Field25519, y: Field25519, z: Field25519, t: Field25519) {
        self.x = x; self.y = y; self.z = z; self.t = t
    }

    /// Whether P is the identity (X = 0 and Y = Z).
    var isIdentity: Bool { x.isZero && y == z }
}
