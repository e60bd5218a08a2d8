// Primality and NTT-friendly primes.

/// Primality and prime search for 64-bit integers. Public data only: nothing here is constant time.
public enum Primes {
    /// `a·b mod m` through a 128-bit product (cold path, any 64-bit modulus).
    @usableFromInline
    static func mulMod(_ a: UInt64, _ b: UInt64, _ m: UInt64) -> UInt64 {
        let p = a.multipliedFullWidth(by: b)
        return m.dividingFullWidth((p.high % m, p.low)).remainder
    }

    static func powMod(_ base: UInt64, _ exponent: UInt64, _ m: UInt64) -> UInt64 {
        var result: UInt64 = 1 % m, b = base % m, e = exponent
        while e > 0 {
            if e & 1 == 1 { result = mulMod(result, b, m) }
            b = mulMod(b, b, m)
            e >>= 1
        }
        return result
    }

    /// Deterministic Miller–Rabin for every 64-bit `n`.
    ///
    /// The first twelve primes as witnesses (2 … 37) decide primality correctly for all
    /// `n < 3.3·10²⁴` (Sorenson–Webster 2015), which covers every 64-bit integer.
    public static func isPrime(_ n: UInt64) -> Bool {
        let witnesses: [UInt64] = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37]
        if n < 2 { return false }
        for p in witnesses {
            if n == p { return true }
            if n % p == 0 { return false }
        }
        // n − 1 = d·2^s with d odd
        let s = (n - 1).trailingZeroBitCount
        let d = (n - 1) >> s
        witnessLoop: for a in witnesses {
            var x = powMod(a, d, n)
            if x == 1 || x == n - 1 { continue }
            for _ in 1..<max(s, 1) {
                x = mulMod(x, x, n)
                if x == n - 1 { continue witnessLoop }
            }
            return false
        }
        return true
    }

    /// `count` distinct primes `q ≡ 1 (mod 2N)` with exactly `bits` bits, found by searching
    /// down from 2^bits: the result is deterministic and sorted in decreasing order.
    ///
    /// - Parameters:
    ///   - bits: bit size of each prime, 20 … 61.
    ///   - degree: the ring degree `N` (a power of two); primes support the negacyclic NTT of
    ///     size `N`.
    ///   - count: how many primes.
    ///   - excluding: primes to skip (for example those already in another basis).
    /// - Throws: `HERingError.notEnoughPrimes` when the bit size holds fewer such primes.
    public static func nttPrimes(bits: Int, degree: Int, count: Int,
                                 excluding: Set<UInt64> = []) throws(HERingError) -> [UInt64] {
        guard (2...61).contains(bits) else { throw .unsupportedBitSize(bits) }
        guard degree >= 1, degree & (degree - 1) == 0 else { throw .unsupportedDegree(degree) }
        let step = UInt64(2 * degree)
        let lowest = UInt64(1) << (bits - 1)
        // largest k with k·2N + 1 < 2^bits
        var candidate = ((UInt64(1) << bits) - 2) / step * step + 1
        var found: [UInt64] = []
        while found.count < count && candidate > lowest {
            if !excluding.contains(candidate) && isPrime(candidate) { found.append(candidate) }
            if candidate < step { break }
            candidate -= step
        }
        guard found.count == count else {
            throw .notEnoughPrimes(bits: bits, degree: degree, requested: count, found: found.count)
        }
        return found
    }

    /// The smallest primitive `2N`-th root of unity modulo the prime `q` (it exists iff
    /// `q ≡ 1 mod 2N`). Smallest makes the choice canonical, so transforms are reproducible.
    ///
    /// A candidate `g = x^((q−1)/2N)` has order dividing 2N; as 2N is a power of two its order
    /// is exactly 2N iff `g^N = −1`. All primitive roots are then `g^k` for odd `k < 2N`.
    public static func minimalPrimitiveRoot(ofOrder twoN: Int, modulo q: UInt64) throws(HERingError) -> UInt64 {
        let order = UInt64(twoN)
        guard twoN >= 2, twoN & (twoN - 1) == 0, isPrime(q), (q - 1) % order == 0 else {
            throw .notNTTFriendly(modulus: q, degree: max(twoN / 2, 1))
        }
        var generator: UInt64 = 0
        for x in UInt64(2)..<q {
            let g = powMod(x, (q - 1) / order, q)
            if powMod(g, order / 2, q) == q - 1 { generator = g; break }
        }
        precondition(generator != 0, "a prime q ≡ 1 mod 2N always has a primitive 2N-th root")
        let square = mulMod(generator, generator, q)
        var smallest = generator, current = generator
        for _ in 0..<(twoN / 2) {  // g, g³, g⁵, …
            if current < smallest { smallest = current }
            current = mulMod(current, square, q)
        }
        return smallest
    }
}
