// Residue number system bases, CRT reconstruction and base conversion.

/// An RNS basis `{q₀, …, q_{L−1}}` of distinct NTT-friendly primes for ring degree `N`, with its
/// NTT tables and CRT constants.
///
/// An integer `x ∈ [0, Q)`, `Q = ∏ qᵢ`, is represented by its residues `xᵢ = x mod qᵢ`. The CRT
/// gives it back as `x = Σᵢ [xᵢ·q̂ᵢ⁻¹]_{qᵢ}·q̂ᵢ mod Q` with `q̂ᵢ = Q/qᵢ` ("punctured product").
public final class RNSBasis: Sendable, CustomStringConvertible {
    /// The ring degree `N`.
    public let degree: Int
    /// The moduli, in order (limb `i` of a polynomial is modulo `moduli[i]`).
    public let moduli: [Modulus]
    /// One NTT table per modulus (shared, immutable).
    public let nttTables: [NTTTables]
    /// `Q = ∏ qᵢ`.
    public let product: BigUInt
    /// `q̂ᵢ = Q/qᵢ`.
    public let puncturedProducts: [BigUInt]
    /// `q̂ᵢ⁻¹ mod qᵢ`, and the Shoup companions.
    public let puncturedInverses: [UInt64]
    /// Shoup companions of `puncturedInverses`.
    public let puncturedInversesShoup: [UInt64]
    /// The threads that operations on polynomials over this basis (NTTs, limb-wise arithmetic,
    /// base conversions into it) use: an execution setting, not part of the basis's identity
    /// (`isSame(as:)` ignores it). A `CKKSContext` builds its bases with its own setting.
    public let parallelism: Parallelism

    /// Builds a basis from NTT tables (sharing them with other bases).
    /// - Throws: `HERingError.duplicateModulus`, or `.mismatch` when the tables have different degrees.
    public init(tables: [NTTTables], parallelism: Parallelism = .serial) throws(HERingError) {
        guard let first = tables.first else { throw .invalidArgument("an RNS basis needs at least one modulus") }
        var seen = Set<UInt64>()
        for t in tables {
            guard t.degree == first.degree else {
                throw .mismatch("NTT tables of degree \(t.degree) and \(first.degree) in one basis")
            }
            guard seen.insert(t.modulus.q).inserted else { throw .duplicateModulus(t.modulus.q) }
        }
        degree = first.degree
        self.parallelism = parallelism
        nttTables = tables
        moduli = tables.map(\.modulus)
        var q = BigUInt(1)
        for m in moduli { q = q * m.q }
        product = q
        puncturedProducts = moduli.map { q.quotientAndRemainder(dividingBy: $0.q).quotient }
        var inverses: [UInt64] = []
        for (i, m) in moduli.enumerated() {
            // the moduli are distinct primes, so q̂ᵢ is invertible mod qᵢ
            inverses.append(m.inverse(puncturedProducts[i].remainder(dividingBy: m.q))!)
        }
        puncturedInverses = inverses
        puncturedInversesShoup = zip(moduli, inverses).map { $0.shoup($1) }
    }

    /// Builds a basis and its NTT tables from primes.
    public convenience init(degree: Int, primes: [UInt64], parallelism: Parallelism = .serial) throws(HERingError) {
        var tables: [NTTTables] = []
        for p in primes { tables.append(try NTTTables(degree: degree, modulus: Modulus(validating: p))) }
        try self.init(tables: tables, parallelism: parallelism)
    }

    /// The number of moduli `L`.
    public var count: Int { moduli.count }

    /// The basis of the first `count` moduli (sharing the NTT tables).
    /// - Throws: `HERingError.invalidArgument` unless `1 ≤ count ≤ self.count`.
    public func prefix(_ count: Int) throws(HERingError) -> RNSBasis {
        guard count >= 1 && count <= self.count else {
            throw .invalidArgument("a prefix of \(count) moduli of a basis of \(self.count)")
        }
        return prefix(validated: count)
    }

    /// As `prefix(_:)` for a count the caller has checked.
    @usableFromInline
    package func prefix(validated count: Int) -> RNSBasis {
        if count == self.count { return self }
        return try! RNSBasis(tables: Array(nttTables.prefix(count)), parallelism: parallelism)
    }

    /// Whether both bases have the same degree and moduli in the same order.
    public func isSame(as other: RNSBasis) -> Bool {
        self === other || (degree == other.degree && moduli == other.moduli)
    }

    /// The moduli and their bit sizes, for messages and debugging.
    public var description: String {
        "RNSBasis(N = \(degree), moduli = [\(moduli.map { "\($0.q)" }.joined(separator: ", "))])"
    }

    // MARK: CRT

    /// The residues of `x` (any size) modulo each prime.
    public func decompose(_ x: BigUInt) -> [UInt64] { moduli.map { x.remainder(dividingBy: $0.q) } }

    /// `x ∈ [0, Q)` from its residues `xᵢ < qᵢ` (CRT).
    /// - Throws: `HERingError.invalidArgument` unless there is one residue `xᵢ < qᵢ` per modulus.
    public func compose(_ residues: [UInt64]) throws(HERingError) -> BigUInt {
        guard residues.count == count else { throw .invalidArgument("\(residues.count) residues for \(count) moduli") }
        for (i, m) in moduli.enumerated() where residues[i] >= m.q {
            throw .invalidArgument("residue \(residues[i]) is not below its modulus \(m.q)")
        }
        var sum = BigUInt.zero
        for i in 0..<count {
            let y = moduli[i].multiply(residues[i], by: puncturedInverses[i], shoup: puncturedInversesShoup[i])
            sum += puncturedProducts[i] * y
        }
        // sum < L·Q: at most L − 1 subtractions of Q
        while sum >= product { sum = sum - product }
        return sum
    }

    /// The centred representative of the residues, in [−Q/2, Q/2): sign and magnitude.
    /// - Throws: as `compose(_:)`.
    public func composeCentered(_ residues: [UInt64]) throws(HERingError) -> (isNegative: Bool, magnitude: BigUInt) {
        let x = try compose(residues)
        let half = product.quotientAndRemainder(dividingBy: 2).quotient
        if x < half || (x == half && product.remainder(dividingBy: 2) == 1) { return (false, x) }
        return (true, product - x)
    }
}

/// Conversion of residues from basis `Q = {qᵢ}` to basis `P = {pⱼ}` (coefficient form), as
/// used by hybrid key switching (ModUp: digit → the rest of Q∪P; ModDown: P → Q) and by
/// rescaling.
///
/// **Fast (approximate) conversion** (Bajard et al. 2016, Halevi–Polyakov–Shoup 2019):
/// `yᵢ = [xᵢ·q̂ᵢ⁻¹]_{qᵢ}` and `Conv(x)ⱼ = Σᵢ yᵢ·(q̂ᵢ mod pⱼ) mod pⱼ`. Since `Σᵢ yᵢ·q̂ᵢ ≡ x (mod Q)`
/// and each `yᵢ < qᵢ`, the integer `Σᵢ yᵢ·q̂ᵢ = x + u·Q` with `u = ⌊Σᵢ yᵢ/qᵢ⌋ ∈ [0, L)`: the
/// result is the residue of `x + u·Q`, an overshoot of fewer than `L` multiples of `Q` —
/// harmless when it is later multiplied by something ≡ 0 mod Q, or divided away.
///
/// **Exact conversion of the centred representative**: `v = ⌊Σᵢ yᵢ/qᵢ + ½⌋` computed in
/// floating point, then `Σᵢ yᵢ·q̂ᵢ − v·Q` is the centred `x ∈ [−Q/2, Q/2)`. The floating sum has
/// an error below `L·2⁻⁵²`, so the result is exact unless `x` lies within `L·2⁻⁵²·Q` of `±Q/2`
/// (never the case for the small values FHE converts exactly).
public final class BaseConverter: Sendable {
    /// The basis `{qᵢ}` the residues come from.
    public let source: RNSBasis
    /// The basis `{pⱼ}` the residues go to.
    public let target: RNSBasis
    /// `q̂ᵢ mod pⱼ`, row `j`, column `i`.
    public let puncturedModTarget: [[UInt64]]
    /// `Q mod pⱼ`.
    public let productModTarget: [UInt64]
    /// `1/qᵢ` in floating point, for the exact correction.
    let inverseModuli: [Double]
    /// The target basis's thread setting, which the conversion runs under.
    public var parallelism: Parallelism { target.parallelism }

    /// Precomputes `q̂ᵢ mod pⱼ`, `Q mod pⱼ` and `1/qᵢ` for converting from `source` to `target`.
    public init(from source: RNSBasis, to target: RNSBasis) throws(HERingError) {
        guard source.degree == target.degree else {
            throw .mismatch("base conversion between degrees \(source.degree) and \(target.degree)")
        }
        guard source.count <= 64 else { throw .invalidArgument("base conversion supports at most 64 source moduli") }
        self.source = source
        self.target = target
        puncturedModTarget = target.moduli.map { p in source.puncturedProducts.map { $0.remainder(dividingBy: p.q) } }
        productModTarget = target.moduli.map { source.product.remainder(dividingBy: $0.q) }
        inverseModuli = source.moduli.map { 1.0 / Double($0.q) }
    }

    /// Converts the coefficient-form residues `input` (`source.count × N`, limb-major, each below
    /// its modulus) to the target basis (`target.count × N`): with `exact == false` the residues
    /// of `x + u·Q`, `0 ≤ u < L`; with `exact == true` those of the centred `x`.
    /// - Throws: `HERingError.mismatch` for a wrong count, `.invalidArgument` for a residue not
    ///   below its modulus.
    public func convert(_ input: [UInt64], exact: Bool) throws(HERingError) -> [UInt64] {
        let n = source.degree
        guard input.count == source.count * n else {
            throw .mismatch("\(input.count) residues for a source basis of \(source.count) limbs of N = \(n)")
        }
        for i in 0..<source.count {
            let q = source.moduli[i].q
            for k in 0..<n where input[i * n + k] >= q {
                throw .invalidArgument("residue \(input[i * n + k]) in limb \(i) is not below its modulus \(q)")
            }
        }
        var output = [UInt64](repeating: 0, count: target.count * n)
        input.withUnsafeBufferPointer { i in
            output.withUnsafeMutableBufferPointer { o in convert(i.baseAddress!, into: o.baseAddress!, exact: exact) }
        }
        return output
    }

    /// Converts `N` coefficients per limb: `input` holds `source.count × N` residues (limb-major,
    /// each < its modulus), `output` receives `target.count × N`. With `exact == false` the
    /// result is `x + u·Q`, `0 ≤ u < L`; with `exact == true` it is the centred `x`.
    /// Parallel over target limbs.
    /// The unchecked pointer form, for our own layers.
    package func convert(_ input: UnsafePointer<UInt64>, into output: UnsafeMutablePointer<UInt64>, exact: Bool) {
        let n = source.degree
        convert(input, intoLimbs: (0..<target.count).map { output + $0 * n }, exact: exact)
    }

    /// As `convert(_:into:exact:)`, writing target limb `j` to `outputs[j]` (limbs of a larger
    /// polynomial need not be contiguous).
    /// The caller gives one output pointer per target limb.
    package func convert(_ input: UnsafePointer<UInt64>, intoLimbs outputs: [UnsafeMutablePointer<UInt64>], exact: Bool) {
        let n = source.degree, l = source.count
        let outputPointers = UncheckedSendable(outputs)
        if l == 1 {
            // q̂₀ = 1: the conversion is x mod pⱼ itself; exact (centred) subtracts q₀ when
            // x > q₀/2 (branch-free)
            let inp = UncheckedSendable(input)
            let q = source.moduli[0].q, half = q >> 1
            parallelism.forEach(target.count) { j in
                let p = target.moduli[j]
                let qModP = p.reduce(q)
                let src = inp.value, dst = outputPointers.value[j]
                if exact {
                    for k in 0..<n {
                        let x = src[k]
                        let upper = UInt64(0) &- ((half &- x) >> 63)          // all ones iff x > q/2
                        dst[k] = p.subtract(p.reduce(x), qModP & upper)
                    }
                } else {
                    for k in 0..<n { dst[k] = p.reduce(src[k]) }
                }
            }
            return
        }
        if (source.moduli + target.moduli).allSatisfy(\.supportsFloatingProduct) {
            convertFloating(input, outputs: outputPointers, exact: exact)
            return
        }
        let (y, v) = scaledResidues(input, exact: exact)
        y.withUnsafeBufferPointer { yBuffer in
            v.withUnsafeBufferPointer { vBuffer in
                let yp = UncheckedSendable(yBuffer.baseAddress!)
                let vp = UncheckedSendable(exact ? vBuffer.baseAddress : nil)
                parallelism.forEach(target.count) { j in
                    let p = target.moduli[j]
                    let row = puncturedModTarget[j]
                    let dst = outputPointers.value[j]
                    for k in 0..<n {
                        // Σ of at most 64 products < 2¹²² each: fits in 128 bits
                        var low: UInt64 = 0, high: UInt64 = 0
                        for i in 0..<l {
                            let prod = yp.value[i * n + k].multipliedFullWidth(by: row[i])
                            let (s, c) = low.addingReportingOverflow(prod.low)
                            low = s
                            high &+= prod.high &+ (c ? 1 : 0)
                        }
                        var r = p.reduce(UInt128(high) << 64 | UInt128(low))
                        if let vp = vp.value {
                            r = p.subtract(r, p.multiply(p.reduce(vp[k]), productModTarget[j]))
                        }
                        dst[k] = r
                    }
                }
            }
        }
    }

    /// The first step of both conversions: `yᵢ = [xᵢ·q̂ᵢ⁻¹]_{qᵢ}` (limb-major, parallel over
    /// the source limbs; `multiplyFloating` below 2⁵⁰, Shoup otherwise — both exact), and for
    /// the exact conversion `v = ⌊Σᵢ yᵢ/qᵢ + ½⌋` per coefficient (empty otherwise), summed in
    /// source order over loops on the coefficients.
    func scaledResidues(_ input: UnsafePointer<UInt64>, exact: Bool) -> (y: [UInt64], v: [UInt64]) {
        let n = source.degree, l = source.count
        var y = [UInt64](repeating: 0, count: l * n)
        var v = [UInt64](repeating: 0, count: exact ? n : 0)
        y.withUnsafeMutableBufferPointer { yBuffer in
            let yp = UncheckedSendable(yBuffer.baseAddress!), inp = UncheckedSendable(input)
            parallelism.forEach(l) { i in
                let m = source.moduli[i]
                let w = source.puncturedInverses[i], ws = source.puncturedInversesShoup[i]
                let src = inp.value + i * n, dst = yp.value + i * n
                if m.supportsFloatingProduct {
                    for k in 0..<n { dst[k] = m.multiplyFloating(src[k], w) }
                } else {
                    for k in 0..<n { dst[k] = m.multiply(src[k], by: w, shoup: ws) }
                }
            }
            if exact {
                var sums = [Double](repeating: 0.5, count: n)
                for i in 0..<l {
                    let inverse = inverseModuli[i], row = yBuffer.baseAddress! + i * n
                    for k in 0..<n { sums[k] += Double(row[k]) * inverse }
                }
                for k in 0..<n { v[k] = UInt64(sums[k].rounded(.down)) }
            }
        }
        return (y, v)
    }

    /// The conversion for moduli below 2⁵⁰, written as loops over the coefficients that the
    /// compiler vectorizes: every product by `multiplyFloating` (valid for a first factor
    /// below 2⁵⁰ and a second below the modulus), sums kept reduced by a branch-free
    /// subtraction, and the exact correction `v` of `scaledResidues`. Results equal the scalar
    /// path's.
    func convertFloating(_ input: UnsafePointer<UInt64>, outputs: UncheckedSendable<[UnsafeMutablePointer<UInt64>]>,
                         exact: Bool) {
        let n = source.degree, l = source.count
        let (y, v) = scaledResidues(input, exact: exact)
        y.withUnsafeBufferPointer { yBuffer in
            v.withUnsafeBufferPointer { vBuffer in
                let yp = UncheckedSendable(yBuffer.baseAddress!)
                let vp = UncheckedSendable(exact ? vBuffer.baseAddress : nil)   // an empty buffer may have a base address
                parallelism.forEach(target.count) { j in
                    let p = target.moduli[j]
                    let row = puncturedModTarget[j]
                    let dst = outputs.value[j]
                    // Σᵢ [yᵢ·(q̂ᵢ mod pⱼ)]_{pⱼ}, kept in [0, pⱼ) (yᵢ < qᵢ < 2⁵⁰ may exceed pⱼ:
                    // multiplyFloating allows a first factor up to 2⁵⁰)
                    for k in 0..<n { dst[k] = p.multiplyFloating(yp.value[k], row[0]) }
                    for i in 1..<max(l, 1) {
                        let yi = yp.value + i * n, w = row[i]
                        for k in 0..<n { dst[k] = p.add(dst[k], p.multiplyFloating(yi[k], w)) }
                    }
                    if let v = vp.value {
                        let qModP = productModTarget[j]
                        for k in 0..<n { dst[k] = p.subtract(dst[k], p.multiplyFloating(v[k], qModP)) }
                    }
                }
            }
        }
    }

}
