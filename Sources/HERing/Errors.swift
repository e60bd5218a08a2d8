/// Errors of the arithmetic layer, each with a message a user can act on.
public enum HERingError: Error, Equatable, CustomStringConvertible {
    /// Fewer NTT-friendly primes of the requested size exist than were asked for.
    case notEnoughPrimes(bits: Int, degree: Int, requested: Int, found: Int)
    /// A bit size outside what the arithmetic supports.
    case unsupportedBitSize(Int)
    /// A ring degree that is not a power of two in the supported range.
    case unsupportedDegree(Int)
    /// `q` is not ≡ 1 (mod 2N), so no primitive 2N-th root of unity exists.
    case notNTTFriendly(modulus: UInt64, degree: Int)
    /// The same prime appears twice in an RNS basis (CRT needs coprime moduli).
    case duplicateModulus(UInt64)
    /// Two objects that must share a ring or a basis do not.
    case mismatch(String)
    /// The operating system's entropy source failed.
    case entropyUnavailable(String)
    /// A sampler argument out of range.
    case invalidArgument(String)

    /// The message a user reads: what went wrong and which value caused it.
    public var description: String {
        switch self {
        case let .notEnoughPrimes(bits, degree, requested, found):
            return "only \(found) of the \(requested) requested \(bits)-bit primes q ≡ 1 (mod \(2 * degree)) exist "
                + "below 2^\(bits); use fewer primes, a larger bit size, or a smaller ring degree"
        case let .unsupportedBitSize(bits):
            return "prime bit size \(bits) is unsupported: choose 20 ... 61 bits (q < 2^61)"
        case let .unsupportedDegree(n):
            return "ring degree \(n) is unsupported: choose a power of two from 2 to 2^17"
        case let .notNTTFriendly(q, n):
            return "modulus \(q) is not ≡ 1 (mod \(2 * n)) or not prime: it has no primitive \(2 * n)-th root of unity"
        case let .duplicateModulus(q):
            return "modulus \(q) appears twice in the RNS basis; moduli must be distinct primes"
        case let .mismatch(what):
            return "mismatch: \(what)"
        case let .entropyUnavailable(why):
            return "the system entropy source failed (\(why)); cannot generate secrets safely"
        case let .invalidArgument(what):
            return "invalid argument: \(what)"
        }
    }
}

import HEARCrypto

/// The engine's CSPRNG and seed expander (RFC 8439), from `HEARCrypto`.
public typealias ChaCha20 = HEARCrypto.ChaCha20
