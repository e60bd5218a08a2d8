// The canonical embedding of CKKS: real polynomials of degree < N ↔ N/2 complex slots.
import Foundation

/// A complex number in double precision (the slot type of CKKS).
public struct Complex: Sendable, Hashable, CustomStringConvertible {
    /// The real part.
    public var real: Double
    /// The imaginary part.
    public var imaginary: Double

    /// `real + imaginary·i`.
    @inlinable public init(_ real: Double, _ imaginary: Double = 0) {
        self.real = real
        self.imaginary = imaginary
    }

    /// `e^(iθ)`.
    @inlinable public init(phase theta: Double) { self.init(cos(theta), sin(theta)) }

    /// The complex conjugate `real − imaginary·i`.
    @inlinable public var conjugate: Complex { Complex(real, -imaginary) }
    /// The modulus `|z| = √(re² + im²)`.
    @inlinable public var magnitude: Double { (real * real + imaginary * imaginary).squareRoot() }

    /// The sum.
    @inlinable public static func + (a: Complex, b: Complex) -> Complex {
        Complex(a.real + b.real, a.imaginary + b.imaginary)
    }
    /// The difference.
    @inlinable public static func - (a: Complex, b: Complex) -> Complex {
        Complex(a.real - b.real, a.imaginary - b.imaginary)
    }
    /// The product `(ac − bd) + (ad + bc)i`.
    @inlinable public static func * (a: Complex, b: Complex) -> Complex {
        Complex(a.real * b.real - a.imaginary * b.imaginary, a.real * b.imaginary + a.imaginary * b.real)
    }
    /// The product with a real number.
    @inlinable public static func * (a: Complex, s: Double) -> Complex { Complex(a.real * s, a.imaginary * s) }

    /// `a+bi`, for messages and debugging.
    public var description: String { "\(real)\(imaginary < 0 ? "-" : "+")\(abs(imaginary))i" }
}

/// The CKKS encoding map between real polynomials `m(X) = Σₖ mₖXᵏ` of degree < N and
/// `n = N/2` complex slots: slot `j` is `m(ζ^(5ʲ mod 2N))`, `ζ = e^(2πi/2N)`.
///
/// **Why this is a plain FFT.** `ζ^n = e^(iπ/2) = i`, and every `5ʲ ≡ 1 (mod 4)`, so
/// `ζ^(n·5ʲ) = i`. Folding the upper half of the coefficients onto the lower one with that
/// factor, `m(ζ^g) = Σ_{k<n} wₖ·(ζ^g)ᵏ` with `wₖ = mₖ + i·m_{k+n}`. The points `ζ^g`,
/// `g ≡ 1 (mod 4)`, are the n roots of `Xⁿ = i`: `ζ^(1+4t) = ζ·ωᵗ` with `ω = e^(2πi/n)`. Hence
/// `m(ζ^(1+4t)) = Σₖ (wₖζᵏ)·ω^(kt)`: twist by `ζᵏ`, then a length-n DFT, and slot `j` is DFT
/// output `t = (5ʲ mod 2N − 1)/4`. Encoding runs the same steps backwards; the map
/// `w ∈ Cⁿ ↔ slots ∈ Cⁿ` is a bijection, so every slot vector has exactly one real
/// polynomial preimage (`mₖ = Re wₖ`, `m_{k+n} = Im wₖ`). The conjugate roots `ζ^(−5ʲ)` carry
/// the conjugate values automatically because the coefficients are real.
public final class CanonicalEmbedding: Sendable {
    /// The ring degree `N`.
    public let degree: Int
    /// The number of slots `n = N/2`.
    public let slotCount: Int
    /// `ζᵏ`, `k < n` (the twist).
    let twist: [Complex]
    /// `ω^k` for the length-n FFT, `k < n/2`.
    let fftRoots: [Complex]
    /// Slot `j` ↔ DFT index `(5ʲ mod 2N − 1)/4`.
    public let slotToFFTIndex: [Int]

    /// The embedding of ring degree `degree`: its FFT roots and slot order, computed once.
    /// - Throws: `CKKSError.invalidParameters` unless `N` is a power of two, 4 ≤ N ≤ 2¹⁷.
    public convenience init(degree: Int) throws(CKKSError) {
        guard degree >= 4 && degree <= 1 << 17 && degree & (degree - 1) == 0 else {
            throw .invalidParameters("ring degree \(degree) is not a power of two in 4 … 2^17")
        }
        self.init(validatedDegree: degree)
    }

    init(validatedDegree degree: Int) {
        self.degree = degree
        let n = degree / 2
        slotCount = n
        let twoN = 2 * degree
        twist = (0..<n).map { Complex(phase: 2 * Double.pi * Double($0) / Double(twoN)) }
        fftRoots = (0..<max(n / 2, 1)).map { Complex(phase: 2 * Double.pi * Double($0) / Double(n)) }
        var indices = [Int](repeating: 0, count: n)
        var g = 1
        for j in 0..<n {
            indices[j] = (g - 1) / 4
            g = (g * 5) % twoN
        }
        slotToFFTIndex = indices
    }

    /// In-place iterative radix-2 FFT of length n: `out[t] = Σₖ a[k]·ω^(±kt)`, `ω = e^(2πi/n)`
    /// (`+` forward, `−` inverse, unscaled).
    func fft(_ a: inout [Complex], inverse: Bool) {
        let n = a.count
        guard n > 1 else { return }
        // bit-reversal permutation
        var j = 0
        for i in 1..<n {
            var bit = n >> 1
            while j & bit != 0 { j ^= bit; bit >>= 1 }
            j |= bit
            if i < j { a.swapAt(i, j) }
        }
        var length = 2
        while length <= n {
            let half = length / 2
            let stride = n / length
            for start in Swift.stride(from: 0, to: n, by: length) {
                for k in 0..<half {
                    var w = fftRoots[k * stride]
                    if inverse { w = w.conjugate }
                    let u = a[start + k], v = a[start + k + half] * w
                    a[start + k] = u + v
                    a[start + k + half] = u - v
                }
            }
            length <<= 1
        }
    }

    /// The slots of the real polynomial with coefficients `coefficients` (N values).
    /// - Throws: `CKKSError.degreeMismatch` unless there are `N` coefficients.
    public func slots(ofCoefficients coefficients: [Double]) throws(CKKSError) -> [Complex] {
        guard coefficients.count == degree else { throw .degreeMismatch(expected: degree, got: coefficients.count) }
        return slots(trustedCoefficients: coefficients)
    }

    func slots(trustedCoefficients coefficients: [Double]) -> [Complex] {
        let n = slotCount
        var w = (0..<n).map { Complex(coefficients[$0], coefficients[$0 + n]) * twist[$0] }
        fft(&w, inverse: false)
        return slotToFFTIndex.map { w[$0] }
    }

    /// The real polynomial (N coefficients) whose slots are `slots` (n values).
    /// - Throws: `CKKSError.tooManySlots` unless there are `n` slots (pad with zeros).
    public func coefficients(ofSlots slots: [Complex]) throws(CKKSError) -> [Double] {
        guard slots.count == slotCount else { throw .tooManySlots(given: slots.count, available: slotCount) }
        return coefficients(trustedSlots: slots)
    }

    func coefficients(trustedSlots slots: [Complex]) -> [Double] {
        let n = slotCount
        var w = [Complex](repeating: Complex(0), count: n)
        for (j, t) in slotToFFTIndex.enumerated() { w[t] = slots[j] }
        fft(&w, inverse: true)
        let scale = 1.0 / Double(n)
        var coefficients = [Double](repeating: 0, count: degree)
        for k in 0..<n {
            let v = w[k] * twist[k].conjugate * scale
            coefficients[k] = v.real
            coefficients[k + n] = v.imaginary
        }
        return coefficients
    }
}
