/// SHA-256 (FIPS 180-4, §6.2), from the standard alone.
///
/// The message is processed in 512-bit blocks; each block expands into 64 schedule words
///     W_t = σ1(W_{t−2}) + W_{t−7} + σ0(W_{t−15}) + W_{t−16}   (t ≥ 16)
/// and runs 64 rounds of the compression function over the eight working variables a…h. The
/// message is padded with a 1 bit, zeros, and its bit length as a 64-bit big-endian integer, so
/// that the padded length is a multiple of 512 bits (§5.1.1).
///
/// Incremental: `update` any number of times, then `finalize` once. The hash has no secret
/// state of its own; a caller that hashes secrets wipes its inputs.
public struct SHA256: Sendable {
    /// The digest length in bytes.
    public static let digestByteCount = 32

    /// The first 32 bits of the fractional parts of the cube roots of the first 64 primes (§4.2.2).
    static let roundConstants: [UInt32] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ]

    /// The first 32 bits of the fractional parts of the square roots of the first 8 primes (§5.3.3).
    static let initialState: [UInt32] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
    ]

    private var core = SHA2Core(initialState: SHA256.initialState, blockSize: 64, lengthFieldSize: 8)

    /// A hasher with FIPS 180-4's initial hash value H⁽⁰⁾ and an empty message.
    public init() {}

    /// Absorbs more message bytes.
    public mutating func update<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 { core.update(bytes, compress: Self.compress) }

    /// Pads the message and returns the 32-byte digest.
    public mutating func finalize() -> [UInt8] { core.finalize(compress: Self.compress) }

    /// The digest of a whole message.
    public static func hash<Bytes: Sequence>(_ bytes: Bytes) -> [UInt8] where Bytes.Element == UInt8 {
        var hasher = SHA256()
        hasher.update(bytes)
        return hasher.finalize()
    }

    /// The compression function over whole 64-byte blocks.
    private static func compress(_ state: inout [UInt32], _ blocks: UnsafeRawBufferPointer) {
        precondition(blocks.count % 64 == 0)
        var w = [UInt32](repeating: 0, count: 64)
        roundConstants.withUnsafeBufferPointer { k in
            w.withUnsafeMutableBufferPointer { w in
                var start = 0
                while start < blocks.count {
                    for t in 0..<16 {
                        let p = start + 4 * t
                        w[t] = UInt32(blocks[p]) << 24 | UInt32(blocks[p + 1]) << 16 | UInt32(blocks[p + 2]) << 8 | UInt32(blocks[p + 3])
                    }
                    for t in 16..<64 {
                        let x = w[t - 15], y = w[t - 2]
                        let s0 = x.rotatedRight(7) ^ x.rotatedRight(18) ^ (x >> 3)
                        let s1 = y.rotatedRight(17) ^ y.rotatedRight(19) ^ (y >> 10)
                        w[t] = s1 &+ w[t - 7] &+ s0 &+ w[t - 16]
                    }
                    var a = state[0], b = state[1], c = state[2], d = state[3]
                    var e = state[4], f = state[5], g = state[6], h = state[7]
                    for t in 0..<64 {
                        let sum1 = e.rotatedRight(6) ^ e.rotatedRight(11) ^ e.rotatedRight(25)
                        let choose = (e & f) ^ (~e & g)
                        let t1 = h &+ sum1 &+ choose &+ k[t] &+ w[t]
                        let sum0 = a.rotatedRight(2) ^ a.rotatedRight(13) ^ a.rotatedRight(22)
                        let majority = (a & b) ^ (a & c) ^ (b & c)
                        let t2 = sum0 &+ majority
                        h = g; g = f; f = e; e = d &+ t1
                        d = c; c = b; b = a; a = t1 &+ t2
                    }
                    state[0] &+= a; state[1] &+= b; state[2] &+= c; state[3] &+= d
                    state[4] &+= e; state[5] &+= f; state[6] &+= g; state[7] &+= h
                    start += 64
                }
            }
        }
    }
}

extension UInt32 {
    @inline(__always) func rotatedRight(_ n: UInt32) -> UInt32 { (self >> n) | (self << (32 &- n)) }
}

/// Lower-case hexadecimal of bytes (fingerprints, digests in messages).
public func hexString<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
    return String(decoding: out, as: UTF8.self)
}
