// CKKS parameter sets: ring degree, modulus chain, special primes, scale, key-switching digits,
// and the security check that guards them.
import Foundation
import HEARCrypto
import HERing

/// Which table of maximal modulus sizes a parameter set is checked against.
///
/// Both tables bound `log₂(QP)` (every prime, data and special) for 128-bit security of RLWE with
/// a uniform ternary secret and Gaussian error σ = 3.2, classical attacks.
public enum SecurityStandard: String, Sendable, Hashable, CaseIterable {
    /// HomomorphicEncryption.org standard (Albrecht et al., 2018), Table 1, 128-bit, ternary.
    case heStandard2018 = "he-standard-2018"
    /// The 2024 guideline (Bossuat et al., "Security Guidelines for Implementing Homomorphic
    /// Encryption", ePrint 2024/463, Table 5.2: uniform ternary secret, 128-bit), slightly
    /// stricter than the 2018 table for every ring degree (N = 2^14: 430 instead of 438).
    case guideline2024 = "guideline-2024"
    /// No security at all: small rings for fast tests. Never use for data.
    case insecureNoSecurity = "INSECURE-no-security"

    /// HomomorphicEncryption.org 2018 (Albrecht et al., Table 1), 128-bit classical, ternary
    /// secret: N → max log₂(QP).
    public static let heStandard2018Table: [Int: Int] = [
        1024: 27, 2048: 54, 4096: 109, 8192: 218, 16384: 438, 32768: 881, 65536: 1772,
    ]
    /// The 2024 guideline (ePrint 2024/463, Table 5.2), 128-bit, uniform ternary secret:
    /// N → max log₂(QP), for every ring degree the guideline lists up to 2^16.
    public static let guideline2024Table: [Int: Int] = [
        1024: 26, 2048: 53, 4096: 106, 8192: 214, 16384: 430, 32768: 868, 65536: 1747,
    ]

    /// The largest admissible `log₂(QP)` for ring degree `n`, or nil when the table has no entry.
    public func maximalLogModulus(degree n: Int) -> Int? {
        switch self {
        case .heStandard2018: return Self.heStandard2018Table[n]
        case .guideline2024: return Self.guideline2024Table[n]
        case .insecureNoSecurity: return nil
        }
    }
}

/// A CKKS parameter set: everything both parties must agree on.
///
/// The ciphertext modulus at level `ℓ` is `Q_ℓ = q₀·q₁⋯q_ℓ` (the data primes, `q₀` first: it is the
/// last one left, so it must hold the final scale plus the result's magnitude). Rescaling at
/// level `ℓ` divides by `q_ℓ`, so data primes near the scale keep it steady. Key switching works
/// in `Q_ℓ·P`, `P = p₀⋯p_{K−1}` the special primes, with the data primes split into `dnum` digits
/// of `α = ⌈(L+1)/dnum⌉` consecutive primes (hybrid key switching; `dnum = L + 1` with one
/// special prime is SEAL's form).
///
/// Primes are derived deterministically from the bit sizes: for each size, the NTT-friendly
/// primes `q ≡ 1 (mod 2N)` just below `2^bits`, in descending order, handed out in the order the
/// sizes appear (data primes, then special primes), so that both parties get the same chain.
public struct CKKSParameters: Sendable, Hashable, CustomStringConvertible {
    /// The ring degree `N` (a power of two); `N/2` slots.
    public let degree: Int
    /// Bit sizes of the data primes, `q₀` first.
    public let dataPrimeBits: [Int]
    /// Bit sizes of the special (key-switching) primes.
    public let specialPrimeBits: [Int]
    /// The data primes `q₀ … q_L`.
    public let dataPrimes: [UInt64]
    /// The special primes `p₀ … p_{K−1}`.
    public let specialPrimes: [UInt64]
    /// `log₂ Δ`: the default scale of fresh encodings is `2^log2Scale`.
    public let log2Scale: Int
    /// The number of key-switching digits `dnum` at the top level: exactly the digits key
    /// switching makes (`⌈(L+1)/α⌉ = dnum`; a count it would change is refused).
    public let digitCount: Int
    /// The table the parameters were checked against.
    public let security: SecurityStandard
    /// A name for messages and benchmarks ("hear", "fast-hear", "default", …).
    public let name: String

    /// Builds and checks a parameter set.
    ///
    /// - Parameters:
    ///   - name: a name for messages and benchmarks.
    ///   - degree: `N`, a power of two from 2^3 (tests) to 2^16.
    ///   - dataPrimeBits: sizes of `q₀ … q_L` (at least one).
    ///   - specialPrimeBits: sizes of the special primes (at least one).
    ///   - log2Scale: the scale's exponent, below the size of `q₀`.
    ///   - digitCount: `dnum`, 1 … L+1; nil picks the smallest count whose digits (products of
    ///     `α` data primes) are no larger than `P`, which keeps the key-switching noise below the
    ///     rescaling noise.
    ///   - security: the table to check against; `.insecureNoSecurity` skips the check.
    /// - Throws: `CKKSError.invalidParameters` or `.insecureParameters`.
    public init(name: String = "custom", degree: Int, dataPrimeBits: [Int], specialPrimeBits: [Int],
                log2Scale: Int, digitCount: Int? = nil,
                security: SecurityStandard = .guideline2024) throws(CKKSError) {
        guard degree >= 8, degree <= 1 << 16, degree & (degree - 1) == 0 else {
            throw .invalidParameters("ring degree \(degree) must be a power of two from 8 to 65536")
        }
        guard !dataPrimeBits.isEmpty else { throw .invalidParameters("at least one data prime is needed") }
        guard !specialPrimeBits.isEmpty else {
            throw .invalidParameters("at least one special prime is needed for key switching")
        }
        for bits in dataPrimeBits + specialPrimeBits where !(20...60).contains(bits) {
            throw .invalidParameters("prime size \(bits) bits is outside 20 … 60")
        }
        guard dataPrimeBits.count + specialPrimeBits.count <= 64 else {
            throw .invalidParameters("at most 64 primes in all")
        }
        guard log2Scale >= 1, log2Scale < dataPrimeBits[0] else {
            throw .invalidParameters("log2Scale \(log2Scale) must be at least 1 and below the size of q0 (\(dataPrimeBits[0]) bits)")
        }
        // Primes: per bit size, descending from 2^bits, in order of appearance.
        let all = dataPrimeBits + specialPrimeBits
        var pools: [Int: [UInt64]] = [:]
        for bits in Set(all) {
            let count = all.filter { $0 == bits }.count
            do {
                pools[bits] = try Primes.nttPrimes(bits: bits, degree: degree, count: count)
            } catch {
                throw .invalidParameters("\(error)")
            }
        }
        var primes: [UInt64] = []
        for bits in all { primes.append(pools[bits]!.removeFirst()) }
        let dataCount = dataPrimeBits.count
        let dnum = digitCount ?? Self.smallestDigitCount(dataPrimes: Array(primes.prefix(dataCount)),
                                                         specialPrimes: Array(primes.suffix(specialPrimeBits.count)))
        guard dnum >= 1, dnum <= dataCount else {
            throw .invalidParameters("digit count \(dnum) must be 1 … \(dataCount) (the number of data primes)")
        }
        // Digits are runs of α = ⌈(L+1)/dnum⌉ consecutive data primes, so only a dnum with
        // ⌈(L+1)/α⌉ = dnum is what key switching does; any other would be silently changed
        // (10 primes: dnum 6 … 9 all make 5 digits of 2 primes) while naming another set.
        guard Self.digitCountIsExact(dnum, dataPrimes: dataCount) else {
            let alpha = (dataCount + dnum - 1) / dnum
            let valid = (1...dataCount).filter { Self.digitCountIsExact($0, dataPrimes: dataCount) }
            throw .invalidParameters("with \(dataCount) data primes, dnum = \(dnum) would make \((dataCount + alpha - 1) / alpha) digits "
                                     + "of \(alpha) primes, not \(dnum); choose one of \(valid.map(String.init).joined(separator: ", "))")
        }
        // Key switching multiplies each digit (< its product of primes) by an error and divides
        // by P: a digit much larger than P leaves its excess as noise. Allow at most one bit
        // (SEAL-style chains, one prime per digit and a special prime of the same size).
        if let excess = Self.largestDigitExcess(dataPrimes: Array(primes.prefix(dataCount)),
                                                specialPrimes: Array(primes.suffix(specialPrimeBits.count)), digitCount: dnum), excess > 1 {
            throw .invalidParameters("with dnum = \(dnum) a key-switching digit has \(String(format: "%.1f", excess)) bits more than the "
                                     + "special primes' product P: key switching would add that much noise; use more digits or larger special primes")
        }
        self.name = name
        self.degree = degree
        self.dataPrimeBits = dataPrimeBits
        self.specialPrimeBits = specialPrimeBits
        self.dataPrimes = Array(primes.prefix(dataCount))
        self.specialPrimes = Array(primes.suffix(specialPrimeBits.count))
        self.log2Scale = log2Scale
        self.digitCount = dnum
        self.security = security
        if let bound = security.maximalLogModulus(degree: degree) {
            guard totalModulusBits <= bound else {
                throw .insecureParameters(degree: degree, log2QP: totalModulusBits, maximum: bound, standard: security)
            }
        } else if security != .insecureNoSecurity {
            throw .invalidParameters("no \(security.rawValue) bound is known for N = \(degree); use 2^10 … 2^16")
        }
    }

    /// log₂ of the largest digit product over P for `digitCount` digits of consecutive data
    /// primes (nil with no special prime).
    static func largestDigitExcess(dataPrimes: [UInt64], specialPrimes: [UInt64], digitCount dnum: Int) -> Double? {
        guard !specialPrimes.isEmpty else { return nil }
        let logP = specialPrimes.reduce(0.0) { $0 + log2(Double($1)) }
        let alpha = (dataPrimes.count + dnum - 1) / dnum
        return stride(from: 0, to: dataPrimes.count, by: alpha).map { start in
            dataPrimes[start..<min(start + alpha, dataPrimes.count)].reduce(0.0) { $0 + log2(Double($1)) } - logP
        }.max()
    }

    /// Whether `dnum` digits of `α = ⌈count/dnum⌉` consecutive primes are exactly `dnum` digits.
    static func digitCountIsExact(_ dnum: Int, dataPrimes count: Int) -> Bool {
        let alpha = (count + dnum - 1) / dnum
        return (count + alpha - 1) / alpha == dnum
    }

    /// The smallest `dnum` with every digit product `∏ of α data primes ≤ P`.
    static func smallestDigitCount(dataPrimes: [UInt64], specialPrimes: [UInt64]) -> Int {
        let logP = specialPrimes.reduce(0.0) { $0 + log2(Double($1)) }
        for dnum in 1...dataPrimes.count {
            let alpha = (dataPrimes.count + dnum - 1) / dnum
            var fits = true
            for start in stride(from: 0, to: dataPrimes.count, by: alpha) {
                let digit = dataPrimes[start..<min(start + alpha, dataPrimes.count)]
                if digit.reduce(0.0, { $0 + log2(Double($1)) }) > logP { fits = false }
            }
            if fits && digitCountIsExact(dnum, dataPrimes: dataPrimes.count) { return dnum }
        }
        return dataPrimes.count
    }

    // MARK: Derived values

    /// `L`: the top level (the number of data primes minus one).
    public var maxLevel: Int { dataPrimes.count - 1 }
    /// The number of slots, `N/2`.
    public var slotCount: Int { degree / 2 }
    /// The default scale `Δ = 2^log2Scale`.
    public var scale: Double { Double(sign: .plus, exponent: log2Scale, significand: 1) }
    /// `α`: data primes per key-switching digit.
    public var primesPerDigit: Int { (dataPrimes.count + digitCount - 1) / digitCount }
    /// `Σ` of the nominal prime sizes: the `log₂(QP)` the security tables bound (each prime is
    /// below `2^bits`, so the true `log₂(QP)` is slightly smaller).
    public var totalModulusBits: Int { (dataPrimeBits + specialPrimeBits).reduce(0, +) }

    /// A 128-bit fingerprint of everything that defines the ring and the keys (truncated SHA-256
    /// over the degree, the primes, the scale exponent and `dnum`); serialized objects carry it
    /// so that a key or ciphertext of another parameter set is refused.
    public var fingerprint: Fingerprint {
        var hash = FingerprintHasher(domain: "HEAR CKKS parameters 1")
        hash.mix(degree)
        hash.mix(dataPrimes.count)
        dataPrimes.forEach { hash.mix($0) }
        hash.mix(specialPrimes.count)
        specialPrimes.forEach { hash.mix($0) }
        hash.mix(log2Scale)
        hash.mix(digitCount)
        return hash.finalize()
    }

    /// One line: ring degree, prime sizes, log₂(QP), scale, dnum and security level.
    public var description: String {
        "CKKS \(name): N = \(degree), data primes \(dataPrimeBits) bits, special primes \(specialPrimeBits) bits, "
            + "log2(QP) = \(totalModulusBits), scale 2^\(log2Scale), dnum = \(digitCount), \(security.rawValue)"
    }

    /// Equal when the ring degree, the primes, the scale and dnum are the same.
    public static func == (a: CKKSParameters, b: CKKSParameters) -> Bool {
        a.degree == b.degree && a.dataPrimes == b.dataPrimes && a.specialPrimes == b.specialPrimes
            && a.log2Scale == b.log2Scale && a.digitCount == b.digitCount
    }

    /// Hashes the fingerprint (the parameters' identity).
    public func hash(into hasher: inout Hasher) { hasher.combine(fingerprint) }

    // MARK: Presets

    /// The paper's HEAR chain: N = 2^14, q₀ 33 bits, ten 31-bit primes, one 33-bit special
    /// prime (log₂ QP = 376), scale 2^31, one digit per prime (SEAL's key switching).
    public static func hear() -> CKKSParameters {
        try! CKKSParameters(name: "hear", degree: 1 << 14, dataPrimeBits: [33] + Array(repeating: 31, count: 10),
                            specialPrimeBits: [33], log2Scale: 31, digitCount: 11, security: .guideline2024)
    }

    /// The paper's Fast-HEAR chain: N = 2^14, 33, 31, 31, 31, 31, 28, 31, 31, 31, 28, 31, 31, 31,
    /// special 33 (log₂ QP = 432), scale 2^31, one digit per prime. 128-bit under the 2018
    /// table (438) but not under the 2024 guideline (430): a comparison preset only.
    public static func fastHEAR() -> CKKSParameters {
        try! CKKSParameters(name: "fast-hear", degree: 1 << 14,
                            dataPrimeBits: [33, 31, 31, 31, 31, 28, 31, 31, 31, 28, 31, 31, 31],
                            specialPrimeBits: [33], log2Scale: 31, digitCount: 13, security: .heStandard2018)
    }

    /// Our default for the networks: N = 2^14, 128-bit under the 2024 guideline (log₂ QP = 430).
    /// Ten data primes (q₀ 42 bits, leaving 2^8 of headroom above the scale for the results;
    /// nine of 34 bits: scale 2^34, three bits more precision per level than the paper's 2^31)
    /// and two 41-bit special primes. With `P ≈ 2^82` a digit can hold two data primes
    /// (≤ 2^76 < P), so `dnum = 5`: a key switch at the top level costs
    /// 5 digit conversions into 12 primes instead of SEAL-style 13 into 14, and a Galois key
    /// is 5 × 12 limbs instead of 13 × 14. See `Docs/CKKS.md`.
    public static func standard() -> CKKSParameters {
        try! CKKSParameters(name: "default", degree: 1 << 14, dataPrimeBits: [42] + Array(repeating: 34, count: 9),
                            specialPrimeBits: [41, 41], log2Scale: 34, security: .guideline2024)
    }

    /// The default chain with SEAL's key switching: one digit per data prime (`dnum = 10`) and
    /// one 43-bit special prime (log₂ QP = 391). A comparison preset for hybrid key switching:
    /// the same levels and precision, Galois keys of 10 × 11 limbs instead of 5 × 12, ten
    /// digit conversions per key switch instead of five.
    public static func sealStyle() -> CKKSParameters {
        try! CKKSParameters(name: "seal-style", degree: 1 << 14, dataPrimeBits: [42] + Array(repeating: 34, count: 9),
                            specialPrimeBits: [43], log2Scale: 34, digitCount: 10, security: .guideline2024)
    }

    /// INSECURE: a tiny ring (N = 2^10 by default) for fast unit tests; no security whatsoever.
    public static func insecureTesting(degree: Int = 1 << 10, dataPrimeBits: [Int] = [50, 40, 40, 40],
                                       specialPrimeBits: [Int] = [50, 50], log2Scale: Int = 40,
                                       digitCount: Int? = nil) throws(CKKSError) -> CKKSParameters {
        try CKKSParameters(name: "INSECURE-testing", degree: degree, dataPrimeBits: dataPrimeBits,
                           specialPrimeBits: specialPrimeBits, log2Scale: log2Scale, digitCount: digitCount,
                           security: .insecureNoSecurity)
    }

    /// The presets by their command-line names.
    public static func preset(named name: String) throws(CKKSError) -> CKKSParameters {
        switch name.lowercased() {
        case "hear": return hear()
        case "fast-hear", "fasthear": return fastHEAR()
        case "default", "standard": return standard()
        case "seal-style": return sealStyle()
        default: throw .invalidParameters("unknown preset '\(name)': choose default, seal-style, hear or fast-hear")
        }
    }
}
