// Samplers for RLWE: uniform residues, ternary secrets, the centred discrete Gaussian.
import Foundation

/// The distributions of RLWE keys, encryptions and errors.
///
/// Timing: `ternary`, `discreteGaussian` and `uniform` perform the same operations whatever
/// the values drawn (no branch or table index depends on them), except where a function
/// says otherwise in a `- Warning`.
public enum Sampler {
    /// The standard deviation of RLWE errors in the HE standard: σ = 3.2.
    public static let standardDeviation = 3.2
    /// The tail cut: samples satisfy `|e| ≤ ⌊6σ⌋ = 19`.
    public static let gaussianBound = 19

    /// Uniform in `[0, q)` by rejection: draw `bits(q)` bits, retry while `≥ q` (expected < 2
    /// draws). Unbiased.
    /// - Warning: the number of draws varies; use for public values (the `a` polynomials).
    @inlinable
    public static func uniform<R: RandomNumberGenerator>(below q: UInt64, using rng: inout R) -> UInt64 {
        let mask = q.leadingZeroBitCount == 0 ? UInt64.max : (UInt64(1) << (64 - q.leadingZeroBitCount)) - 1
        while true {
            let r = rng.next() & mask
            if r < q { return r }
        }
    }

    /// A polynomial with each residue uniform in `[0, qᵢ)` (independent limbs are uniform
    /// modulo Q by the CRT). The uniform distribution is the same in both forms, so the type
    /// asked for only labels the result.
    public static func uniformPolynomial<F: PolynomialForm, B: BasisKind, R: RandomNumberGenerator>(
        basis: RNSBasis, using rng: inout R) -> RNSPolynomial<F, B> {
        RNSPolynomial(basis: basis, trustedData: uniformResidues(basis: basis, using: &rng))
    }

    /// The uniform polynomial expanded from a public 32-byte seed (ChaCha20 keystream, `domain`
    /// separates polynomials drawn from one seed).
    public static func uniformPolynomial<F: PolynomialForm, B: BasisKind>(basis: RNSBasis, seed: [UInt8],
                                                                         domain: UInt64 = 0) -> RNSPolynomial<F, B> {
        var rng = ChaCha20(seed: seed, domain: domain)
        // the residues are drawn by code specialized for ChaCha20 (no generic call per word),
        // then labelled with the representation asked for
        return RNSPolynomial(basis: basis, trustedData: uniformResidues(basis: basis, using: &rng))
    }

    /// `basis.count × N` residues, limb `i` uniform in `[0, qᵢ)`.
    @inlinable
    static func uniformResidues<R: RandomNumberGenerator>(basis: RNSBasis, using rng: inout R) -> [UInt64] {
        let n = basis.degree
        var residues = [UInt64](repeating: 0, count: basis.count * n)
        for (i, m) in basis.moduli.enumerated() {
            for k in 0..<n { residues[i * n + k] = uniform(below: m.q, using: &rng) }
        }
        return residues
    }

    /// `N` coefficients uniform in {−1, 0, 1}: `⌊3·r/2⁶⁴⌋ − 1` for a 64-bit `r` (Lemire's
    /// multiply-shift; bias below 2⁻⁶³, constant time).
    public static func ternary<R: RandomNumberGenerator>(degree n: Int, using rng: inout R) -> [Int64] {
        (0..<n).map { _ in Int64(bitPattern: rng.next().multipliedFullWidth(by: 3).high) - 1 }
    }

    /// `N` coefficients in {−1, 0, 1} with exactly `hammingWeight` nonzero ones, at uniformly
    /// random positions (partial Fisher–Yates shuffle) with uniform signs.
    /// - Warning: the memory accesses of the shuffle depend on the secret positions (a cache
    ///   timing channel); prefer `ternary(degree:using:)` where that matters.
    public static func ternary<R: RandomNumberGenerator>(degree n: Int, hammingWeight h: Int,
                                                         using rng: inout R) throws(HERingError) -> [Int64] {
        guard h >= 0 && h <= n else { throw .invalidArgument("Hamming weight \(h) outside 0 … \(n)") }
        var indices = Array(0..<n)
        var result = [Int64](repeating: 0, count: n)
        for i in 0..<h {
            let j = i + Int(uniform(below: UInt64(n - i), using: &rng))
            indices.swapAt(i, j)
            let sign = Int64(rng.next() & 1)
            result[indices[i]] = 1 - 2 * sign
        }
        return result
    }

    /// Cumulative thresholds of |e| for the tail-cut discrete Gaussian: `T[k]` = 2⁶⁴·P(|e| ≤ k),
    /// `k = 0 … 18` (P(|e| ≤ 19) = 1). P(|e| = 0) = ρ(0)/S and P(|e| = k) = 2ρ(k)/S with
    /// ρ(x) = exp(−x²/2σ²), S = Σ_{|x|≤19} ρ(x). Computed in double precision: each threshold
    /// is within 2⁻⁵³ (relative) of the exact value, a statistical distance below 2⁻⁴⁸.
    public static let gaussianThresholds: [UInt64] = {
        let sigma = standardDeviation, bound = gaussianBound
        let rho = (0...bound).map { exp(-Double($0 * $0) / (2 * sigma * sigma)) }
        let total = rho[0] + 2 * rho[1...].reduce(0, +)
        var cumulative = 0.0
        var thresholds: [UInt64] = []
        for k in 0..<bound {
            cumulative += (k == 0 ? rho[0] : 2 * rho[k]) / total
            thresholds.append(UInt64(min(cumulative * 18446744073709551616.0, 18446744073709549568.0)))
        }
        return thresholds
    }()

    /// `N` samples of the centred discrete Gaussian with σ = 3.2, tail-cut at 6σ (|e| ≤ 19).
    ///
    /// Cumulative-distribution-table sampling, constant time: the magnitude is the number of
    /// thresholds a uniform 64-bit word reaches, counted over the *whole* table with branch-free
    /// comparisons (no early exit, no data-dependent index), and the sign is applied with a
    /// mask.
    public static func discreteGaussian<R: RandomNumberGenerator>(degree n: Int, using rng: inout R) -> [Int64] {
        let thresholds = gaussianThresholds
        return (0..<n).map { _ in
            let u = rng.next()
            var magnitude: Int64 = 0
            for t in thresholds { magnitude &+= u.subtractingReportingOverflow(t).overflow ? 0 : 1 }
            let sign = Int64(bitPattern: rng.next() & 1)               // 0 or 1
            return (magnitude ^ (0 &- sign)) &+ sign                   // ±magnitude
        }
    }
}
