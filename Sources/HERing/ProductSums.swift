// The one multiply-accumulate kernel: pairs of sums of pointwise products, one limb at a time.

/// Pairs of sums of pointwise products over one limb (NTT form), the kernel of key switching
/// (`Σⱼ dⱼ ⊙ (bⱼ, aⱼ)`), of plaintext products (`Σₜ pₜ ⊙ (c₀ₜ, c₁ₜ)`) and of hoisted
/// accumulation (`Σₜ pₜ ⊙ (σₜ(x₀ₜ), σₜ(x₁ₜ))`):
///
///     first[k]  = Σₜ uₜ[πₜ(k)] · wₜ[k]  mod q
///     second[k] = Σₜ vₜ[πₜ(k)] · wₜ[k]  mod q
///
/// with `πₜ` the identity or the NTT-slot permutation of an automorphism. Every input residue
/// is below `q`. Two ways, chosen by the size of `q`, equal results:
///
/// - `q < 2⁵⁰` (`Modulus.supportsFloatingProduct`, every shipped preset): each product is reduced
///   at once by the floating-point quotient (`multiplyFloating`, which vectorizes) and added
///   modulo `q` with a branch-free subtraction. Nothing is ever above `2q`: no margin to track.
/// - `q ≥ 2⁵⁰`: products below `q² < 2¹²²` are summed in 128 bits and reduced once (Barrett)
///   at the end. **The one overflow margin:** a 128-bit sum holds at most 64 values below 2¹²²
///   (`64·2¹²² = 2¹²⁸`); after 63 products the sum is folded back below `q` (which counts as one
///   of the 64) and summing goes on, so any number of terms is safe.
///
/// The coefficients go by tiles of 1024, so that the sums (two or four words per coefficient)
/// stay in L1 while every term's tile streams through once.
public enum ProductSums {
    /// One term: the shared factor `w`, the two factors `u`, `v` (read through `permutation`
    /// when there is one), each a pointer to the limb's `N` residues.
    public struct Term {
        /// The first factor (`N` residues, read through `permutation` when there is one).
        public var u: UnsafePointer<UInt64>
        /// The second factor (`N` residues, read through `permutation` when there is one).
        public var v: UnsafePointer<UInt64>
        /// The shared factor (`N` residues, read in order).
        public var w: UnsafePointer<UInt64>
        /// An optional index map applied to `u` and `v`: element `k` is read at `permutation[k]`.
        public var permutation: UnsafePointer<UInt32>?

        /// A term of three limbs and an optional permutation of the first two.
        @inlinable
        public init(u: UnsafePointer<UInt64>, v: UnsafePointer<UInt64>, w: UnsafePointer<UInt64>,
                    permutation: UnsafePointer<UInt32>? = nil) {
            self.u = u
            self.v = v
            self.w = w
            self.permutation = permutation
        }
    }

    /// Coefficients per tile.
    public static let tile = 1024
    /// Products a 128-bit sum takes before it is folded (with the folded residue: 64 values
    /// below 2¹²²).
    public static let productsPerFold = 63

    /// Writes the two sums of `terms` over `count` coefficients modulo `m` into `first` and
    /// `second`, or with `accumulate` adds them to the residues already there (below `q`), so
    /// that a long sum can be taken in several calls. `first`, `second` may not alias an input.
    @inlinable
    public static func limb(modulus m: Modulus, count n: Int, terms: UnsafeBufferPointer<Term>,
                            first: UnsafeMutablePointer<UInt64>, second: UnsafeMutablePointer<UInt64>,
                            accumulate: Bool = false) {
        guard !terms.isEmpty else { return clearUnlessAccumulating(first, second, count: n, accumulate: accumulate) }
        let tile = min(Self.tile, n)
        if m.supportsFloatingProduct {
            var start = 0
            while start < n {
                let count = min(tile, n - start)
                let out0 = first + start, out1 = second + start
                for (t, term) in terms.enumerated() {
                    let w = term.w + start
                    let assign = t == 0 && !accumulate
                    if let pi = term.permutation {
                        let p = pi + start
                        if assign {
                            for k in 0..<count {
                                out0[k] = m.multiplyFloating(term.u[Int(p[k])], w[k])
                                out1[k] = m.multiplyFloating(term.v[Int(p[k])], w[k])
                            }
                        } else {
                            for k in 0..<count {
                                out0[k] = m.add(out0[k], m.multiplyFloating(term.u[Int(p[k])], w[k]))
                                out1[k] = m.add(out1[k], m.multiplyFloating(term.v[Int(p[k])], w[k]))
                            }
                        }
                    } else {
                        let u = term.u + start, v = term.v + start
                        if assign {
                            for k in 0..<count {
                                out0[k] = m.multiplyFloating(u[k], w[k])
                                out1[k] = m.multiplyFloating(v[k], w[k])
                            }
                        } else {
                            for k in 0..<count {
                                out0[k] = m.add(out0[k], m.multiplyFloating(u[k], w[k]))
                                out1[k] = m.add(out1[k], m.multiplyFloating(v[k], w[k]))
                            }
                        }
                    }
                }
                start += count
            }
            return
        }
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: 4 * tile) { scratch in
            let low0 = scratch.baseAddress!, high0 = low0 + tile, low1 = high0 + tile, high1 = low1 + tile
            var start = 0
            while start < n {
                let count = min(tile, n - start)
                scratch.initialize(repeating: 0)
                var pending = 0
                if accumulate {   // the partial sums, below q, count as one value each
                    (low0).update(from: first + start, count: count)
                    (low1).update(from: second + start, count: count)
                    pending = 1
                }
                for term in terms {
                    if pending == productsPerFold {
                        for k in 0..<count {
                            low0[k] = m.reduce(high: m.reduce(high0[k]), low: low0[k]); high0[k] = 0
                            low1[k] = m.reduce(high: m.reduce(high1[k]), low: low1[k]); high1[k] = 0
                        }
                        pending = 0
                    }
                    let w = term.w + start, u = term.u, v = term.v
                    // coefficient k of the tile reads u, v at `index` (permuted or not)
                    @inline(__always) func accumulateProduct(_ k: Int, _ index: Int) {
                        let y = w[k]
                        let p0 = u[index].multipliedFullWidth(by: y), p1 = v[index].multipliedFullWidth(by: y)
                        let (s0, c0) = low0[k].addingReportingOverflow(p0.low)
                        low0[k] = s0
                        high0[k] &+= p0.high &+ (c0 ? 1 : 0)
                        let (s1, c1) = low1[k].addingReportingOverflow(p1.low)
                        low1[k] = s1
                        high1[k] &+= p1.high &+ (c1 ? 1 : 0)
                    }
                    if let pi = term.permutation {
                        let p = pi + start
                        for k in 0..<count { accumulateProduct(k, Int(p[k])) }
                    } else {
                        for k in 0..<count { accumulateProduct(k, start + k) }
                    }
                    pending += 1
                }
                let out0 = first + start, out1 = second + start
                for k in 0..<count {
                    out0[k] = m.reduce(high: m.reduce(high0[k]), low: low0[k])
                    out1[k] = m.reduce(high: m.reduce(high1[k]), low: low1[k])
                }
                start += count
            }
        }
    }

    /// An empty sum: zeros, or nothing added.
    @inlinable
    static func clearUnlessAccumulating(_ first: UnsafeMutablePointer<UInt64>, _ second: UnsafeMutablePointer<UInt64>,
                                        count n: Int, accumulate: Bool) {
        guard !accumulate else { return }
        first.update(repeating: 0, count: n)
        second.update(repeating: 0, count: n)
    }

    /// A term whose shared factor is stored packed: residue `w[k] = low[k] + high[k]·2³²`
    /// (`High` = `UInt8` for primes below 2⁴⁰: 5 bytes a residue; `UInt16` below 2⁴⁸: 6 bytes).
    public struct PackedTerm<High: FixedWidthInteger & UnsignedInteger> {
        /// The first factor (`N` residues).
        public var u: UnsafePointer<UInt64>
        /// The second factor (`N` residues).
        public var v: UnsafePointer<UInt64>
        /// The low 32 bits of each residue of the shared factor.
        public var low: UnsafePointer<UInt32>
        /// The high bits of each residue of the shared factor.
        public var high: UnsafePointer<High>

        /// A term whose shared factor is `low[k] + high[k]·2³²`.
        @inlinable
        public init(u: UnsafePointer<UInt64>, v: UnsafePointer<UInt64>, low: UnsafePointer<UInt32>, high: UnsafePointer<High>) {
            self.u = u
            self.v = v
            self.low = low
            self.high = high
        }
    }

    /// `limb` for packed shared factors (no permutation): the same sums, bit for bit, with each
    /// `w[k]` rebuilt from its two parts as it is read. Needs `q < 2⁵⁰`
    /// (`Modulus.supportsFloatingProduct`) and every residue below `q`.
    @inlinable
    public static func limbPacked<High>(modulus m: Modulus, count n: Int, terms: UnsafeBufferPointer<PackedTerm<High>>,
                                        first: UnsafeMutablePointer<UInt64>, second: UnsafeMutablePointer<UInt64>,
                                        accumulate: Bool) {
        precondition(m.supportsFloatingProduct, "packed residues need a prime below 2^50")
        guard !terms.isEmpty else { return clearUnlessAccumulating(first, second, count: n, accumulate: accumulate) }
        let tile = min(Self.tile, n)
        var start = 0
        while start < n {
            let count = min(tile, n - start)
            let out0 = first + start, out1 = second + start
            for (t, term) in terms.enumerated() {
                let low = term.low + start, high = term.high + start
                let u = term.u + start, v = term.v + start
                if t == 0 && !accumulate {
                    for k in 0..<count {
                        let w = UInt64(low[k]) | UInt64(high[k]) &<< 32
                        out0[k] = m.multiplyFloating(u[k], w)
                        out1[k] = m.multiplyFloating(v[k], w)
                    }
                } else {
                    for k in 0..<count {
                        let w = UInt64(low[k]) | UInt64(high[k]) &<< 32
                        out0[k] = m.add(out0[k], m.multiplyFloating(u[k], w))
                        out1[k] = m.add(out1[k], m.multiplyFloating(v[k], w))
                    }
                }
            }
            start += count
        }
    }

    /// A term whose two factors are stored packed (a key's `b_j`, `a_j`), the shared factor `w`
    /// in words: `u[k] = uLow[k] + uHigh[k]·2³²`, the same for `v`.
    public struct PackedPairTerm<High: FixedWidthInteger & UnsignedInteger> {
        /// The low 32 bits of each residue of the first factor.
        public var uLow: UnsafePointer<UInt32>
        /// The high bits of each residue of the first factor.
        public var uHigh: UnsafePointer<High>
        /// The low 32 bits of each residue of the second factor.
        public var vLow: UnsafePointer<UInt32>
        /// The high bits of each residue of the second factor.
        public var vHigh: UnsafePointer<High>
        /// The shared factor (`N` residues in words).
        public var w: UnsafePointer<UInt64>

        /// A term whose two factors are packed and whose shared factor is in words.
        @inlinable
        public init(uLow: UnsafePointer<UInt32>, uHigh: UnsafePointer<High>, vLow: UnsafePointer<UInt32>,
                    vHigh: UnsafePointer<High>, w: UnsafePointer<UInt64>) {
            self.uLow = uLow
            self.uHigh = uHigh
            self.vLow = vLow
            self.vHigh = vHigh
            self.w = w
        }
    }

    /// `limb` for packed `u`, `v` (no permutation, no accumulation): the same sums, bit for bit.
    /// Needs `q < 2⁵⁰` and every residue below `q`.
    @inlinable
    public static func limbPackedPair<High>(modulus m: Modulus, count n: Int, terms: UnsafeBufferPointer<PackedPairTerm<High>>,
                                            first: UnsafeMutablePointer<UInt64>, second: UnsafeMutablePointer<UInt64>) {
        precondition(m.supportsFloatingProduct, "packed residues need a prime below 2^50")
        guard !terms.isEmpty else { return clearUnlessAccumulating(first, second, count: n, accumulate: false) }
        let tile = min(Self.tile, n)
        var start = 0
        while start < n {
            let count = min(tile, n - start)
            let out0 = first + start, out1 = second + start
            for (t, term) in terms.enumerated() {
                let uLow = term.uLow + start, uHigh = term.uHigh + start
                let vLow = term.vLow + start, vHigh = term.vHigh + start, w = term.w + start
                if t == 0 {
                    for k in 0..<count {
                        let u = UInt64(uLow[k]) | UInt64(uHigh[k]) &<< 32, v = UInt64(vLow[k]) | UInt64(vHigh[k]) &<< 32
                        out0[k] = m.multiplyFloating(u, w[k])
                        out1[k] = m.multiplyFloating(v, w[k])
                    }
                } else {
                    for k in 0..<count {
                        let u = UInt64(uLow[k]) | UInt64(uHigh[k]) &<< 32, v = UInt64(vLow[k]) | UInt64(vHigh[k]) &<< 32
                        out0[k] = m.add(out0[k], m.multiplyFloating(u, w[k]))
                        out1[k] = m.add(out1[k], m.multiplyFloating(v, w[k]))
                    }
                }
            }
            start += count
        }
    }
}

/// Residues below 2⁴⁸ kept in 5 or 6 bytes: the low 32 bits, and the high bits in a byte (for a
/// prime below 2⁴⁰) or a `UInt16`. The one split used by packed plaintexts and packed keys; the
/// products rebuild `low | high << 32` as they read (`ProductSums.limbPacked`, `limbPackedPair`).
public enum ResiduePacking {
    /// Primes below this keep their high bits in a byte, the others (below 2⁴⁸) in a `UInt16`.
    public static let narrowPrimeBound: UInt64 = 1 << 40

    /// Bytes of one residue modulo `prime`: 4 + 1, or 4 + 2 for a prime of 40 bits or more.
    @inlinable
    public static func bytes(prime: UInt64) -> Int { prime < narrowPrimeBound ? 5 : 6 }

    /// Whether residues modulo `m` can be packed (below 2⁴⁸, and the floating product applies).
    @inlinable
    public static func supports(_ m: Modulus) -> Bool { m.q < 1 << 48 && m.supportsFloatingProduct }

    /// Splits `count` residues `w` into `low` and `high`.
    @inlinable
    public static func pack<High: FixedWidthInteger & UnsignedInteger>(_ w: UnsafePointer<UInt64>, count n: Int,
                                                                       low: UnsafeMutablePointer<UInt32>,
                                                                       high: UnsafeMutablePointer<High>) {
        for k in 0..<n {
            low[k] = UInt32(truncatingIfNeeded: w[k])
            high[k] = High(truncatingIfNeeded: w[k] >> 32)
        }
    }

    /// Rebuilds `count` residues from `low` and `high` into `w`.
    @inlinable
    public static func unpack<High: FixedWidthInteger & UnsignedInteger>(low: UnsafePointer<UInt32>, high: UnsafePointer<High>,
                                                                         count n: Int, into w: UnsafeMutablePointer<UInt64>) {
        for k in 0..<n { w[k] = UInt64(low[k]) | UInt64(high[k]) &<< 32 }
    }
}
