import Testing
import HERing

@Suite("Primes and roots of unity")
struct PrimesTests {
    /// Trial division up to √n (independent of Miller–Rabin), for n < 2⁴⁰.
    static func isPrimeByTrialDivision(_ n: UInt64) -> Bool {
        if n < 2 { return false }
        var d: UInt64 = 2
        while d * d <= n {
            if n % d == 0 { return false }
            d += 1
        }
        return true
    }

    @Test("Miller–Rabin agrees with trial division")
    func millerRabinSmall() {
        for n in UInt64(0)..<20_000 { #expect(Primes.isPrime(n) == Self.isPrimeByTrialDivision(n), "\(n)") }
        var rng = TestRNG(seed: 11)
        for _ in 0..<300 {
            let n = (rng.next() >> 26) | 1   // < 2³⁸
            #expect(Primes.isPrime(n) == Self.isPrimeByTrialDivision(n), "\(n)")
        }
    }

    @Test("Miller–Rabin on known 64-bit primes and strong pseudoprimes")
    func millerRabinLarge() {
        // 2⁶¹ − 1 and 2³¹ − 1 are Mersenne primes; 2⁶⁴ − 59 is the largest 64-bit prime
        for p: UInt64 in [2_305_843_009_213_693_951, 2_147_483_647, 18_446_744_073_709_551_557] {
            #expect(Primes.isPrime(p))
        }
        // strong pseudoprimes to several small bases, and Carmichael numbers
        for c: UInt64 in [3_215_031_751, 2_152_302_898_747, 3_474_749_660_383, 341_550_071_728_321,
                          3_825_123_056_546_413_051, 561, 1_105, 1_729, 2_305_843_009_213_693_953,
                          18_446_744_073_709_551_615] {
            #expect(!Primes.isPrime(c), "\(c)")
        }
    }

    static let primeCases: [(bits: Int, logDegree: Int)] = [(20, 10), (28, 14), (31, 14), (33, 14), (50, 16), (60, 17), (61, 16)]

    @Test("NTT primes: prime, ≡ 1 mod 2N, exact bit size, distinct, from the top down", arguments: primeCases)
    func nttPrimes(bits: Int, logDegree: Int) throws {
        let degree = 1 << logDegree
        let primes = try Primes.nttPrimes(bits: bits, degree: degree, count: bits == 20 ? 4 : 12)
        #expect(Set(primes).count == primes.count)
        #expect(primes == primes.sorted(by: >))
        for p in primes {
            #expect(Primes.isPrime(p))
            #expect(p % UInt64(2 * degree) == 1)
            #expect(64 - p.leadingZeroBitCount == bits)
        }
        // nothing was skipped: no prime ≡ 1 mod 2N lies between 2^bits and the first one found
        var candidate = primes[0] + UInt64(2 * degree)
        while candidate < UInt64(1) << bits {
            #expect(!Primes.isPrime(candidate))
            candidate += UInt64(2 * degree)
        }
        let more = try Primes.nttPrimes(bits: bits, degree: degree, count: 2, excluding: Set(primes))
        #expect(Set(more).isDisjoint(with: primes))
    }

    @Test("running out of primes is a clear error")
    func notEnoughPrimes() {
        // the only one is 786433 = 3·2¹⁸ + 1
        #expect(throws: HERingError.notEnoughPrimes(bits: 20, degree: 1 << 17, requested: 5, found: 1)) {
            try Primes.nttPrimes(bits: 20, degree: 1 << 17, count: 5)
        }
    }

    @Test("minimal primitive 2N-th roots", arguments: [1 << 4, 1 << 10, 1 << 14])
    func primitiveRoots(degree: Int) throws {
        for bits in [22, 40, 60] {
            for q in try Primes.nttPrimes(bits: bits, degree: degree, count: 2) {
                let m = Modulus(q)
                let psi = try Primes.minimalPrimitiveRoot(ofOrder: 2 * degree, modulo: q)
                #expect(m.power(psi, UInt64(degree)) == q - 1, "ψ^N = −1, so ψ has order exactly 2N")
                if bits == 22 {
                    // minimal, by brute force: no smaller x has x^N = −1
                    var smaller = 0
                    for x in UInt64(2)..<psi where m.power(x, UInt64(degree)) == q - 1 { smaller += 1 }
                    #expect(smaller == 0)
                }
            }
        }
    }
}
