/// Ed25519 signatures (RFC 8032 §5.1), from the RFC alone.
///
///     key generation  h = SHA-512(seed); s = clamp(h[0..<32]); A = [s]B; prefix = h[32..<64]
///     signing         r = SHA-512(prefix ‖ M) mod ℓ; R = [r]B; k = SHA-512(R ‖ A ‖ M) mod ℓ;
///                     S = (r + k·s) mod ℓ; the signature is R ‖ S
///     verification    decode A and R (rejecting non-canonical and invalid encodings), reject
///                     S ≥ ℓ, then check [8]([S]B − R − [k]A) = 0 (the cofactored equation, §5.1.7)
///
/// Secret-dependent work — [s]B, [r]B, k·s mod ℓ and r mod ℓ — runs in constant time: a
/// Montgomery ladder with masked selection, fixed-length schoolbook products, a bit-by-bit
/// reduction with masked subtraction (see Docs/Security.md for what Swift cannot promise).
public enum Ed25519 {
    /// Bytes of a private seed (RFC 8032 §5.1.5: the secret from which the scalar and prefix derive).
    public static let seedByteCount = 32
    /// Bytes of an encoded public key (the point A, RFC 8032 §5.1.2).
    public static let publicKeyByteCount = 32
    /// Bytes of a signature (R ‖ S).
    public static let signatureByteCount = 64

    /// A signing key: the 32-byte secret seed and what it expands to. Wiped when released.
    public final class SigningKey: @unchecked Sendable {
        private var seed: [UInt8]
        private var scalar: [UInt8]
        private var prefix: [UInt8]
        /// The 32-byte public key A.
        public let publicKey: [UInt8]

        /// The key of a 32-byte seed (RFC 8032 §5.1.5).
        public init(seed: [UInt8]) {
            precondition(seed.count == 32, "an Ed25519 seed has 32 bytes")
            var h = SHA512.hash(seed)
            self.seed = seed
            scalar = Array(h[0..<32])
            scalar[0] &= 248
            scalar[31] &= 127
            scalar[31] |= 64
            prefix = Array(h[32..<64])
            wipe(&h)
            publicKey = EdwardsPoint.base.multiplied(by: scalar).encoding
        }

        deinit {
            wipe(&seed)
            wipe(&scalar)
            wipe(&prefix)
        }

        /// The seed, for storing the key (the caller wipes its copy).
        public var seedBytes: [UInt8] { seed }

        /// The 64-byte signature R ‖ S of `message` (RFC 8032 §5.1.6).
        public func signature<Message: Collection>(for message: Message) -> [UInt8] where Message.Element == UInt8 {
            var hasher = SHA512()
            hasher.update(prefix)
            hasher.update(message)
            var rHash = hasher.finalize()
            var r = Scalar25519.reduce(rHash)
            let encodedR = EdwardsPoint.base.multiplied(by: r).encoding
            var kHasher = SHA512()
            kHasher.update(encodedR)
            kHasher.update(publicKey)
            kHasher.update(message)
            let k = Scalar25519.reduce(kHasher.finalize())
            let s = Scalar25519.multiplyAdd(k, scalar, r)
            wipe(&rHash)
            wipe(&r)
            return encodedR + s
        }
    }

    /// Whether 32 bytes are a canonical encoding of a point on the curve (a usable public key).
    public static func isValidPublicKey(_ publicKey: [UInt8]) -> Bool {
        publicKey.count == 32 && EdwardsPoint(encoding: publicKey) != nil
    }

    /// Whether `signature` is a valid Ed25519 signature of `message` under `publicKey`
    /// (RFC 8032 §5.1.7). Every malformed input is simply invalid: wrong lengths, a public key or
    /// R that does not decode (non-canonical y, no square root, x = 0 with the sign set), S ≥ ℓ.
    public static func isValidSignature<Message: Collection>(_ signature: [UInt8], of message: Message, publicKey: [UInt8]) -> Bool
        where Message.Element == UInt8 {
        guard signature.count == 64, publicKey.count == 32,
              let a = EdwardsPoint(encoding: publicKey),
              let r = EdwardsPoint(encoding: Array(signature[0..<32])) else { return false }
        let s = Array(signature[32..<64])
        guard Scalar25519.isCanonical(s) else { return false }
        var hasher = SHA512()
        hasher.update(signature[0..<32])
        hasher.update(publicKey)
        hasher.update(message)
        let k = Scalar25519.reduce(hasher.finalize())
        let difference = EdwardsPoint.base.multiplied(by: s) + (-r) + (-a.multiplied(by: k))
        return difference.doubled.doubled.doubled.isIdentity
    }
}

/// Integers modulo the group order ℓ = 2²⁵² + 27742317777372353535851937790883648493, as 32
/// little-endian bytes.
enum Scalar25519 {
    /// ℓ in four little-endian 64-bit words.
    static let order: [UInt64] = [0x5812_631a_5cf5_d3ed, 0x14de_f9de_a2f7_9cd6, 0, 0x1000_0000_0000_0000]

    /// x mod ℓ for x given as little-endian bytes (any length up to 64): bit by bit from the top,
    /// r ← 2r + bit, then r − ℓ replaces r when it does not borrow (selected by a mask). The same
    /// steps run for every value.
    static func reduce<Bytes: Collection>(_ bytes: Bytes) -> [UInt8] where Bytes.Element == UInt8 {
        let input = Array(bytes)
        var r: [UInt64] = [0, 0, 0, 0, 0]
        for i in stride(from: 8 * input.count - 1, through: 0, by: -1) {
            let bit = UInt64((input[i >> 3] >> UInt8(i & 7)) & 1)
            // r ← 2r + bit (r < ℓ < 2²⁵³, so 2r + 1 < 2²⁵⁴ fits)
            var carry = bit
            for j in 0..<5 {
                let next = r[j] >> 63
                r[j] = r[j] << 1 | carry
                carry = next
            }
            // t = r − ℓ; keep it when there is no borrow
            var t = [UInt64](repeating: 0, count: 5)
            var borrow: UInt64 = 0
            for j in 0..<5 {
                let subtrahend = j < 4 ? order[j] : 0
                let (d1, b1) = r[j].subtractingReportingOverflow(subtrahend)
                let (d2, b2) = d1.subtractingReportingOverflow(borrow)
                t[j] = d2
                borrow = (b1 ? 1 : 0) | (b2 ? 1 : 0)
            }
            let keep = 0 &- (1 &- borrow)  // all ones when r ≥ ℓ
            for j in 0..<5 { r[j] = r[j] ^ (keep & (r[j] ^ t[j])) }
        }
        var out: [UInt8] = []
        out.reserveCapacity(32)
        for j in 0..<4 { for b in 0..<8 { out.append(UInt8(truncatingIfNeeded: r[j] >> (8 * UInt64(b)))) } }
        return out
    }

    /// (a·b + c) mod ℓ for 32-byte little-endian a, b, c: a fixed 4 × 4-word schoolbook product
    /// into 512 bits, then `reduce`.
    static func multiplyAdd(_ a: [UInt8], _ b: [UInt8], _ c: [UInt8]) -> [UInt8] {
        func words(_ x: [UInt8]) -> [UInt64] {
            (0..<4).map { j in (0..<8).reduce(UInt64(0)) { $0 | UInt64(x[8 * j + $1]) << (8 * UInt64($1)) } }
        }
        let x = words(a), y = words(b), z = words(c)
        var product = [UInt64](repeating: 0, count: 8)
        for i in 0..<4 {
            var carry: UInt64 = 0
            for j in 0..<4 {
                let (high, low) = x[i].multipliedFullWidth(by: y[j])
                let (s1, o1) = product[i + j].addingReportingOverflow(low)
                let (s2, o2) = s1.addingReportingOverflow(carry)
                product[i + j] = s2
                carry = high &+ (o1 ? 1 : 0) &+ (o2 ? 1 : 0)
            }
            product[i + 4] = carry
        }
        var carry: UInt64 = 0
        for j in 0..<8 {
            let (s1, o1) = product[j].addingReportingOverflow(j < 4 ? z[j] : 0)
            let (s2, o2) = s1.addingReportingOverflow(carry)
            product[j] = s2
            carry = (o1 ? 1 : 0) &+ (o2 ? 1 : 0)
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(64)
        for w in product { for b in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: w >> (8 * UInt64(b)))) } }
        defer { wipe(&bytes) }
        return reduce(bytes)
    }

    /// Whether s < ℓ (the canonical form RFC 8032 §5.1.7 requires of S; public data).
    static func isCanonical(_ s: [UInt8]) -> Bool {
        for j in stride(from: 3, through: 0, by: -1) {
            let w = (0..<8).reduce(UInt64(0)) { $0 | UInt64(s[8 * j + $1]) << (8 * UInt64($1)) }
            if w != order[j] { return w < order[j] }
        }
        return false
    }
}
