// Word-size modular arithmetic for the RNS primes (q < 2⁶¹).
//
// Every function states the range of its inputs and of its result. A name ending in `Lazy`
// returns a value in [0, 2q) instead of [0, q). Conditional subtractions are branch-free by
// construction (`subtractIfAtLeast`), so the hot paths neither branch on data nor leak timing.

/// `x ≥ m ? x − m : x` without a branch, valid for `x < 2⁶³ + m` (and `m < 2⁶³`).
///
/// The subtraction borrows exactly when `x < m`; the borrow sets bit 63 of `x − m`, which is
/// turned into an all-ones mask that adds `m` back.
@inlinable @inline(__always)
public func subtractIfAtLeast(_ x: UInt64, _ m: UInt64) -> UInt64 {
    let d = x &- m
    return d &+ (m & (0 &- (d &>> 63)))
}

/// A prime (or odd) modulus `q` with `2 ≤ q < 2⁶¹` and the constants of its three reductions.
///
/// - Barrett: `barrettRatio = ⌊2¹²⁸ / q⌋` as two words, for reducing products `x·y` with
///   `x, y < q` (and any 128-bit value below `q·2⁶⁴`).
/// - Shoup: for a fixed operand `w < q`, `w' = ⌊w·2⁶⁴ / q⌋` (see `shoup(_:)`).
/// - Montgomery: `R = 2⁶⁴`, `qInverse = q⁻¹ mod 2⁶⁴`; `montgomeryRSquared = R² mod q` converts
///   into Montgomery form. No engine path uses it (the vector products take the floating-quotient
///   path, `multiplyFloating`, which measured faster with no conversion in or out); it stays as
///   a scalar primitive, tested and benchmarked against the others (`HEARBenchmarks ntt`).
///
/// The bound `q < 2⁶¹` leaves three bits of headroom: lazy values in [0, 4q) and the Barrett
/// estimate's two corrections (values in [0, 3q)) never overflow 64 bits, and a product of two
/// residues is below 2¹²², so up to 64 of them can be summed in a `UInt128` before reducing.
public struct Modulus: Sendable, Hashable, CustomStringConvertible {
    /// The modulus.
    public let q: UInt64
    /// `q`'s bit length: `2^(bits−1) ≤ q < 2^bits`.
    public let bits: Int
    /// `⌊2¹²⁸ / q⌋`, high word.
    public let barrettHigh: UInt64
    /// `⌊2¹²⁸ / q⌋`, low word.
    public let barrettLow: UInt64
    /// `⌊2⁶⁴ / q⌋`, for reducing a single word.
    public let barrettWord: UInt64
    /// `q⁻¹ mod 2⁶⁴` (only meaningful for odd `q`).
    public let qInverse: UInt64
    /// `2¹²⁸ mod q = R² mod q`, to enter Montgomery form with one Montgomery product.
    public let montgomeryRSquared: UInt64

    /// `1/q` rounded to the nearest double, for `multiplyFloating` (`q < 2⁵⁰`).
    public let inverseAsDouble: Double

    /// The largest modulus this type accepts (exclusive): 2⁶¹.
    public static let upperBound: UInt64 = 1 << 61

    /// Creates the modulus and its constants, for a `q` our own layers produced (the prime
    /// generator, a validated parameter set); the public entry is `init(validating:)`.
    /// - Precondition: `2 ≤ q < 2⁶¹`.
    package init(_ q: UInt64) {
        precondition(q >= 2 && q < Modulus.upperBound, "modulus \(q) outside [2, 2^61)")
        self.q = q
        self.bits = 64 - q.leadingZeroBitCount
        // ⌊2¹²⁸/q⌋ = ⌊(2¹²⁸ − 1)/q⌋ unless q divides 2¹²⁸, i.e. q a power of two; q ≥ 2 odd in practice.
        let (hi, hiRem) = UInt64.max.quotientAndRemainder(dividingBy: q)
        let (lo, _) = q.dividingFullWidth((hiRem, UInt64.max))
        var high = hi, low = lo
        if q & (q - 1) == 0 {  // power of two: (2¹²⁸ − 1)/q is one short of 2¹²⁸/q
            let (l, c) = low.addingReportingOverflow(1)
            low = l
            high &+= c ? 1 : 0
        }
        self.barrettHigh = high
        self.barrettLow = low
        self.barrettWord = q & (q - 1) == 0 ? (q == 1 ? 0 : UInt64(1) << (64 - q.trailingZeroBitCount))
            : UInt64.max / q
        // Newton iteration for the inverse modulo 2⁶⁴: each step doubles the correct low bits.
        var inv: UInt64 = q  // q·q ≡ 1 mod 8 for odd q: 3 correct bits
        for _ in 0..<5 { inv = inv &* (2 &- q &* inv) }
        self.qInverse = inv
        // R mod q, then R² mod q = (R mod q)·2⁶⁴ mod q via a 128-bit remainder.
        let rModQ = UInt64((UInt128(1) << 64) % UInt128(q))
        self.montgomeryRSquared = UInt64((UInt128(rModQ) << 64) % UInt128(q))
        self.inverseAsDouble = 1.0 / Double(q)
    }

    /// Creates the modulus after checking the range, for values that come from outside
    /// (parameters files, user input) rather than from the prime generator.
    /// - Throws: `HERingError.invalidArgument` unless `2 ≤ q < 2⁶¹`.
    public init(validating q: UInt64) throws(HERingError) {
        guard q >= 2 && q < Modulus.upperBound else {
            throw .invalidArgument("modulus \(q) is outside [2, 2^61): RNS primes must be word-size with 3 bits of headroom")
        }
        self.init(q)
    }

    /// `Modulus(q, bits)`, for messages and debugging.
    public var description: String { "Modulus(\(q), \(bits) bits)" }

    // MARK: Addition

    /// `(x + y) mod q` for `x, y < q`.
    @inlinable @inline(__always)
    public func add(_ x: UInt64, _ y: UInt64) -> UInt64 { subtractIfAtLeast(x &+ y, q) }

    /// `(x − y) mod q` for `x, y < q`.
    @inlinable @inline(__always)
    public func subtract(_ x: UInt64, _ y: UInt64) -> UInt64 {
        let d = x &- y
        return d &+ (q & (0 &- (d &>> 63)))
    }

    /// `−x mod q` for `x < q` (0 stays 0).
    @inlinable @inline(__always)
    public func negate(_ x: UInt64) -> UInt64 {
        // q − x, masked to 0 when x = 0: (x | −x) has bit 63 set exactly when x ≠ 0.
        (q &- x) & (0 &- ((x | (0 &- x)) &>> 63))
    }

    // MARK: Barrett

    /// `x mod q` for any 64-bit `x`: quotient estimate `⌊x·⌊2⁶⁴/q⌋ / 2⁶⁴⌋` is low by at most 1.
    @inlinable @inline(__always)
    public func reduce(_ x: UInt64) -> UInt64 {
        let estimate = x.multipliedFullWidth(by: barrettWord).high
        return subtractIfAtLeast(x &- estimate &* q, q)
    }

    /// `x mod q` for a 128-bit `x = high·2⁶⁴ + low` with `high < q` (so that `x < q·2⁶⁴`; every
    /// product of two residues qualifies).
    ///
    /// The quotient is estimated as `⌊x·⌊2¹²⁸/q⌋ / 2¹²⁸⌋` from three of the four partial
    /// products (the fourth only feeds a carry, taken from its high word). Each of the two
    /// truncations loses less than one unit and `⌊2¹²⁸/q⌋` loses less than `x/2¹²⁸ < 1`, so the
    /// estimate is low by at most 2: the remainder lies in [0, 3q) and two corrections finish.
    @inlinable @inline(__always)
    public func reduce(high: UInt64, low: UInt64) -> UInt64 {
        let carry = low.multipliedFullWidth(by: barrettLow).high
        let lowByHigh = low.multipliedFullWidth(by: barrettHigh)       // · 2⁶⁴
        let highByLow = high.multipliedFullWidth(by: barrettLow)       // · 2⁶⁴
        let (mid, c1) = lowByHigh.low.addingReportingOverflow(carry)
        let (_, c2) = mid.addingReportingOverflow(highByLow.low)
        let estimate = high &* barrettHigh &+ lowByHigh.high &+ highByLow.high
            &+ (c1 ? 1 : 0) &+ (c2 ? 1 : 0)
        let r = low &- estimate &* q                                   // [0, 3q)
        return subtractIfAtLeast(subtractIfAtLeast(r, q), q)
    }

    /// `x mod q` for any 128-bit value (two Barrett steps: the high word first).
    @inlinable
    public func reduce(_ x: UInt128) -> UInt64 {
        let high = UInt64(truncatingIfNeeded: x >> 64)
        let low = UInt64(truncatingIfNeeded: x)
        return reduce(high: reduce(high), low: low)
    }

    /// `x·y mod q` for `x, y < q` (Barrett, fully reduced).
    @inlinable @inline(__always)
    public func multiply(_ x: UInt64, _ y: UInt64) -> UInt64 {
        let p = x.multipliedFullWidth(by: y)
        return reduce(high: p.high, low: p.low)
    }

    /// `(x·y + z) mod q` for `x, y, z < q`.
    @inlinable @inline(__always)
    public func multiplyAdd(_ x: UInt64, _ y: UInt64, _ z: UInt64) -> UInt64 {
        let p = x.multipliedFullWidth(by: y)
        let (low, c) = p.low.addingReportingOverflow(z)
        return reduce(high: p.high &+ (c ? 1 : 0), low: low)
    }

    // MARK: Floating-point quotient (q < 2^50)

    /// Moduli below this bound may use `multiplyFloating`.
    public static let floatingProductBound: UInt64 = 1 << 50

    /// Whether `multiplyFloating` is exact for this modulus (`q < 2⁵⁰`).
    @inlinable public var supportsFloatingProduct: Bool { q < Modulus.floatingProductBound }

    /// `x·y mod q` for `x < 2⁵⁰`, `y < q < 2⁵⁰`, with the quotient estimated in double precision
    /// (the method of Shoup's NTL `MulMod`): only 64-bit *low* products and floating-point
    /// arithmetic, which compilers vectorize (eight lanes with AVX-512: ~7× faster than a
    /// scalar Barrett product over an array).
    ///
    /// `x` and `y` convert to doubles exactly (< 2⁵³, by the exponent trick: the bits of
    /// `x | 0x4330…` read as a double are `2⁵² + x`). `e = x̃·ỹ·(1/q)~` has relative error below
    /// `3·2⁻⁵³`, so `|e − xy/q| < x·3·2⁻⁵³ < 3/8` (as `xy/q < x`); adding `2⁵²` rounds `e` (< 2⁵⁰) to the nearest
    /// integer `t`, held in the low mantissa bits. Hence `|t − xy/q| < 7/8` and
    /// `r = xy − t·q ∈ (−q, q)`, computed exactly with wrapping 64-bit products (`|r| < 2⁶³`),
    /// then moved into `[0, q)` without a branch.
    @inlinable @inline(__always)
    public func multiplyFloating(_ x: UInt64, _ y: UInt64) -> UInt64 {
        let magic: UInt64 = 0x4330_0000_0000_0000            // the double 2⁵²
        let two52 = Double(bitPattern: magic)
        let xd = Double(bitPattern: x | magic) - two52
        let yd = Double(bitPattern: y | magic) - two52
        let rounded = xd * yd * inverseAsDouble + two52       // 2⁵² + t
        let t = rounded.bitPattern & 0x000F_FFFF_FFFF_FFFF
        let r = x &* y &- t &* q                              // (−q, q), exact modulo 2⁶⁴
        return r &+ (q & UInt64(bitPattern: Int64(bitPattern: r) >> 63))
    }

    /// `x[k] ← x[k]·y[k] mod q` for `k < count` (residues): `multiplyFloating` when `q < 2⁵⁰`
    /// (the loop vectorizes), Barrett otherwise.
    @inlinable
    public func multiply(_ x: UnsafeMutablePointer<UInt64>, by y: UnsafePointer<UInt64>, count: Int) {
        if supportsFloatingProduct {
            for k in 0..<count { x[k] = multiplyFloating(x[k], y[k]) }
        } else {
            for k in 0..<count { x[k] = multiply(x[k], y[k]) }
        }
    }

    /// `x[k] ← x[k] + a[k]·b[k] mod q` for `k < count`, path as in `multiply(_:by:count:)`.
    @inlinable
    public func multiplyAdd(_ x: UnsafeMutablePointer<UInt64>, _ a: UnsafePointer<UInt64>, _ b: UnsafePointer<UInt64>,
                            count: Int) {
        if supportsFloatingProduct {
            for k in 0..<count { x[k] = add(multiplyFloating(a[k], b[k]), x[k]) }
        } else {
            for k in 0..<count { x[k] = multiplyAdd(a[k], b[k], x[k]) }
        }
    }

    /// `x[k] ← x[k] − a[k]·b[k] mod q` for `k < count`, path as in `multiply(_:by:count:)`.
    @inlinable
    public func subtractProduct(_ x: UnsafeMutablePointer<UInt64>, _ a: UnsafePointer<UInt64>, _ b: UnsafePointer<UInt64>,
                                count: Int) {
        if supportsFloatingProduct {
            for k in 0..<count { x[k] = subtract(x[k], multiplyFloating(a[k], b[k])) }
        } else {
            for k in 0..<count { x[k] = subtract(x[k], multiply(a[k], b[k])) }
        }
    }

    // MARK: Shoup

    /// Shoup's companion of a fixed operand `w < q`: `⌊w·2⁶⁴ / q⌋`.
    @inlinable
    public func shoup(_ w: UInt64) -> UInt64 {
        precondition(w < q, "Shoup operand must be reduced")
        return q.dividingFullWidth((w, 0)).quotient
    }

    /// `x·w mod q` in [0, 2q) for any 64-bit `x`, with `w < q` and `wShoup = shoup(w)`.
    ///
    /// `⌊x·wShoup / 2⁶⁴⌋` underestimates `⌊x·w/q⌋` by less than 2 (it loses
    /// `x·frac(w·2⁶⁴/q)/2⁶⁴ < 1` and one floor), so `x·w − estimate·q ∈ [0, 2q)`; this
    /// difference is below 2⁶⁴ and is computed exactly by wrapping arithmetic.
    @inlinable @inline(__always)
    public func multiplyLazy(_ x: UInt64, by w: UInt64, shoup wShoup: UInt64) -> UInt64 {
        x &* w &- x.multipliedFullWidth(by: wShoup).high &* q
    }

    /// `x·w mod q` in [0, q) for any 64-bit `x`, with `w < q` and `wShoup = shoup(w)`.
    @inlinable @inline(__always)
    public func multiply(_ x: UInt64, by w: UInt64, shoup wShoup: UInt64) -> UInt64 {
        subtractIfAtLeast(multiplyLazy(x, by: w, shoup: wShoup), q)
    }

    // MARK: Montgomery (R = 2⁶⁴)

    /// `x·y·2⁻⁶⁴ mod q` in [0, q) for `x·y < q·2⁶⁴` (for example `x, y < q`).
    ///
    /// With `m = (x·y mod 2⁶⁴)·q⁻¹ mod 2⁶⁴`, `x·y − m·q` is divisible by 2⁶⁴ and its quotient
    /// `hi(x·y) − hi(m·q)` lies in (−q, q); a negative result gets `q` added without a branch.
    @inlinable @inline(__always)
    public func multiplyMontgomery(_ x: UInt64, _ y: UInt64) -> UInt64 {
        let p = x.multipliedFullWidth(by: y)
        let r = p.high &- (p.low &* qInverse).multipliedFullWidth(by: q).high
        return r &+ (q & (0 &- (r &>> 63)))
    }

    /// `x·2⁶⁴ mod q`: the Montgomery form of `x < q`.
    @inlinable @inline(__always)
    public func toMontgomery(_ x: UInt64) -> UInt64 { multiplyMontgomery(x, montgomeryRSquared) }

    /// `x·2⁻⁶⁴ mod q`: leaves Montgomery form.
    @inlinable @inline(__always)
    public func fromMontgomery(_ x: UInt64) -> UInt64 { multiplyMontgomery(x, 1) }

    // MARK: Powers, inverses, lifting

    /// `base^exponent mod q` by square-and-multiply.
    ///
    /// - Warning: variable time in `exponent`; use only with public exponents.
    public func power(_ base: UInt64, _ exponent: UInt64) -> UInt64 {
        var result: UInt64 = 1 % q
        var b = reduce(base)
        var e = exponent
        while e > 0 {
            if e & 1 == 1 { result = multiply(result, b) }
            b = multiply(b, b)
            e >>= 1
        }
        return result
    }

    /// The inverse of `x` modulo a prime `q` (Fermat: `x^(q−2)`), or `nil` when `x ≡ 0`.
    ///
    /// - Warning: variable time; use only with public values.
    public func inverse(_ x: UInt64) -> UInt64? {
        let r = reduce(x)
        guard r != 0 else { return nil }
        let inv = power(r, q - 2)
        return multiply(inv, r) == 1 ? inv : nil
    }

    /// The residue of a signed integer: `x mod q` in [0, q).
    @inlinable @inline(__always)
    public func reduce(signed x: Int64) -> UInt64 {
        let magnitude = reduce(x.magnitude)
        let negativeMask = UInt64(bitPattern: x >> 63)  // all ones when x < 0
        // x < 0 → q − |x| mod q (0 stays 0), selected by mask, not by a branch
        return magnitude ^ ((magnitude ^ negate(magnitude)) & negativeMask)
    }

    /// The centred representative of `x < q` in (−q/2, q/2].
    @inlinable @inline(__always)
    public func centered(_ x: UInt64) -> Int64 {
        x > q >> 1 ? Int64(bitPattern: x &- q) : Int64(bitPattern: x)
    }
}
