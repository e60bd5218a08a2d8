import Testing
import HERing

@Suite("Modular arithmetic")
struct ModulusTests {
    static let bitSizes = [20, 28, 31, 33, 40, 50, 55, 59, 60, 61]

    /// NTT primes at the very top of each size, plus random odd moduli (and 2^bits − 1).
    static func moduli(bits: Int) throws -> [Modulus] {
        var rng = TestRNG(seed: UInt64(bits))
        let primes = try Primes.nttPrimes(bits: bits, degree: bits <= 20 ? 1 << 8 : 1 << 12, count: 6)
        let odd = randomOddModuli(bits: bits, count: 6, rng: &rng) + [(UInt64(1) << bits) - 1]
        return (primes + odd).map { Modulus($0) }
    }

    @Test("Barrett multiply and reduce match the UInt128 remainder", arguments: bitSizes)
    func barrett(bits: Int) throws {
        var rng = TestRNG(seed: 1000 + UInt64(bits))
        for m in try Self.moduli(bits: bits) {
            let q128 = UInt128(m.q)
            for (x, y) in boundaryAndRandomPairs(below: m.q, count: 3000, rng: &rng) {
                #expect(m.multiply(x, y) == UInt64((UInt128(x) * UInt128(y)) % q128), "\(x)·\(y) mod \(m.q)")
                let z = rng.next() % m.q
                #expect(m.multiplyAdd(x, y, z) == UInt64((UInt128(x) * UInt128(y) + UInt128(z)) % q128))
                let wide = UInt128(rng.next()) << 64 | UInt128(rng.next())
                #expect(m.reduce(wide) == UInt64(wide % q128))
                let word = rng.next()
                #expect(m.reduce(word) == word % m.q)
            }
            for word in [UInt64.max, UInt64.max - 1, m.q, 2 * m.q, m.q * (UInt64.max / m.q)] {
                #expect(m.reduce(word) == word % m.q)
            }
            #expect(m.reduce(UInt128.max) == UInt64(UInt128.max % q128))
        }
    }

    @Test("floating-quotient products match the UInt128 remainder for every q < 2^50",
          arguments: [20, 28, 31, 33, 40, 45, 49, 50])
    func floatingProduct(bits: Int) throws {
        var rng = TestRNG(seed: 2000 + UInt64(bits))
        // 50-bit: the largest moduli allowed (2^50 − 1 is odd, not prime: the bound is about size)
        let moduli = try Self.moduli(bits: bits).filter(\.supportsFloatingProduct)
        #expect(moduli.count >= 6)
        for m in moduli {
            let q128 = UInt128(m.q)
            for (x, y) in boundaryAndRandomPairs(below: m.q, count: 5000, rng: &rng) {
                #expect(m.multiplyFloating(x, y) == UInt64((UInt128(x) * UInt128(y)) % q128), "\(x)·\(y) mod \(m.q)")
                // the first factor may be any value below 2^50
                let wide = rng.next() >> 14
                #expect(m.multiplyFloating(wide, y) == UInt64((UInt128(wide) * UInt128(y)) % q128))
            }
            #expect(m.multiplyFloating((1 << 50) - 1, m.q - 1) == UInt64((UInt128((1 << 50) - 1) * UInt128(m.q - 1)) % q128))
        }
        #expect(!Modulus(Modulus.floatingProductBound + 1).supportsFloatingProduct)
    }

    @Test("Shoup products: lazy in [0, 2q) and congruent, reduced exact, for any 64-bit x", arguments: bitSizes)
    func shoup(bits: Int) throws {
        var rng = TestRNG(seed: 2000 + UInt64(bits))
        for m in try Self.moduli(bits: bits) {
            for (w, x0) in boundaryAndRandomPairs(below: m.q, count: 3000, rng: &rng) {
                let ws = m.shoup(w)
                for x in [x0, rng.next(), UInt64.max, 4 * m.q - 1] {
                    let exact = UInt64((UInt128(x) * UInt128(w)) % UInt128(m.q))
                    let lazy = m.multiplyLazy(x, by: w, shoup: ws)
                    #expect(lazy < 2 * m.q && lazy % m.q == exact)
                    #expect(m.multiply(x, by: w, shoup: ws) == exact)
                }
            }
        }
    }

    @Test("Montgomery products match x·y·2⁻⁶⁴ and round-trip through Montgomery form", arguments: bitSizes)
    func montgomery(bits: Int) throws {
        var rng = TestRNG(seed: 3000 + UInt64(bits))
        for m in try Self.moduli(bits: bits) {
            #expect(m.q &* m.qInverse == 1)
            let rInverse = UInt64((UInt128(m.inverseOfTwoTo64()) ) % UInt128(m.q))
            for (x, y) in boundaryAndRandomPairs(below: m.q, count: 3000, rng: &rng) {
                let expected = UInt64((UInt128(m.multiply(x, y)) * UInt128(rInverse)) % UInt128(m.q))
                #expect(m.multiplyMontgomery(x, y) == expected)
                #expect(m.fromMontgomery(m.toMontgomery(x)) == x)
                #expect(m.multiplyMontgomery(x, m.toMontgomery(y)) == m.multiply(x, y))
            }
        }
    }

    @Test("add, subtract, negate, signed lift and centring at the boundaries", arguments: bitSizes)
    func additive(bits: Int) throws {
        var rng = TestRNG(seed: 4000 + UInt64(bits))
        for m in try Self.moduli(bits: bits) {
            let q = UInt128(m.q)
            for (x, y) in boundaryAndRandomPairs(below: m.q, count: 2000, rng: &rng) {
                #expect(m.add(x, y) == UInt64((UInt128(x) + UInt128(y)) % q))
                #expect(m.subtract(x, y) == UInt64((UInt128(x) + q - UInt128(y)) % q))
                #expect(m.negate(x) == UInt64((q - UInt128(x)) % q))
                #expect(m.reduce(signed: Int64(m.centered(x))) == x)
            }
            for v: Int64 in [0, 1, -1, 19, -19, Int64.max, Int64.min + 1, Int64.min] {
                let expected = v >= 0 ? UInt64(v) % m.q : (m.q - UInt64(v.magnitude % m.q)) % m.q
                #expect(m.reduce(signed: v) == expected)
            }
        }
    }

    @Test("out-of-range moduli are refused with an error, not a crash")
    func validation() throws {
        expectError(HERingError.self, saying: "modulus 1 is outside [2, 2^61)") { try Modulus(validating: 1) }
        expectError(HERingError.self, saying: "modulus 2305843009213693952 is outside [2, 2^61)") { try Modulus(validating: 1 << 61) }
        #expect(try Modulus(validating: (1 << 61) - 1).bits == 61)
    }

    @Test("power and inverse")
    func powerAndInverse() throws {
        var rng = TestRNG(seed: 5)
        for bits in Self.bitSizes {
            let m = Modulus(try Primes.nttPrimes(bits: bits, degree: 1 << 10, count: 1)[0])
            for _ in 0..<200 {
                let x = 1 + rng.next() % (m.q - 1)
                let inv = try #require(m.inverse(x))
                #expect(m.multiply(x, inv) == 1)
                #expect(m.power(x, m.q - 1) == 1, "Fermat")
            }
            #expect(m.inverse(0) == nil)
            #expect(m.power(3, 0) == 1)
        }
    }
}

extension Modulus {
    /// 2⁻⁶⁴ mod q, by the extended Euclid on 128-bit integers (independent of the Montgomery code).
    func inverseOfTwoTo64() -> UInt64 {
        var (r0, r1) = (Int128(q), Int128(UInt128(1) << 64 % UInt128(q)))
        var (t0, t1): (Int128, Int128) = (0, 1)
        while r1 != 0 {
            let quotient = r0 / r1
            (r0, r1) = (r1, r0 - quotient * r1)
            (t0, t1) = (t1, t0 - quotient * t1)
        }
        return UInt64((t0 % Int128(q) + Int128(q)) % Int128(q))
    }
}
