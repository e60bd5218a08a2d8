import Testing
import HERing

@Suite("Negacyclic NTT")
struct NTTTests {
    static let primeBits = [28, 31, 33, 45, 50, 55, 60, 61]

    @Test("NTT product equals the schoolbook negacyclic product", arguments: [16, 64, 256, 1024, 2048])
    func productMatchesSchoolbook(degree: Int) throws {
        var rng = TestRNG(seed: UInt64(degree))
        for bits in Self.primeBits {
            let q = try Primes.nttPrimes(bits: bits, degree: degree, count: 1)[0]
            let m = Modulus(q)
            let tables = try NTTTables(degree: degree, modulus: m)
            let a = (0..<degree).map { _ in rng.next() % q }
            let b = (0..<degree).map { _ in rng.next() % q }
            var fa = a, fb = b
            try tables.forward(&fa)
            try tables.forward(&fb)
            var fc = zip(fa, fb).map { m.multiply($0, $1) }
            try tables.inverse(&fc)
            #expect(fc == schoolbookNegacyclic(a, b, modulus: m), "N = \(degree), \(bits)-bit q = \(q)")
        }
    }

    @Test("NTT evaluates at the odd powers of ψ in bit-reversed order")
    func evaluationPoints() throws {
        let n = 32
        let q = try Primes.nttPrimes(bits: 31, degree: n, count: 1)[0]
        let m = Modulus(q)
        let tables = try NTTTables(degree: n, modulus: m)
        var rng = TestRNG(seed: 7)
        let a = (0..<n).map { _ in rng.next() % q }
        var transformed = a
        try tables.forward(&transformed)
        for k in 0..<n {
            var brv = 0  // bit reversal written independently of the library's
            for bit in 0..<5 where k & (1 << bit) != 0 { brv |= 1 << (4 - bit) }
            #expect(bitReverse(k, bits: 5) == brv)
            let point = m.power(tables.psi, UInt64(2 * brv + 1))
            var value: UInt64 = 0
            for j in (0..<n).reversed() { value = m.add(m.multiply(value, point), a[j]) }  // Horner
            #expect(transformed[k] == value)
        }
        #expect(m.power(tables.psi, UInt64(n)) == q - 1, "ψ is a primitive 2N-th root: ψ^N = −1")
    }

    @Test("inverse ∘ forward = identity", arguments: [10, 12, 13, 14, 15, 16, 17])
    func roundTrip(logDegree: Int) throws {
        let n = 1 << logDegree
        var rng = TestRNG(seed: UInt64(logDegree) &* 31)
        for bits in [30, 50, 61] {
            let q = try Primes.nttPrimes(bits: bits, degree: n, count: 1)[0]
            let tables = try NTTTables(degree: n, modulus: Modulus(q))
            let original = (0..<n).map { _ in rng.next() % q }
            var values = original
            try tables.forward(&values)
            #expect(values.allSatisfy { $0 < q }, "forward output fully reduced")
            #expect(values != original)
            try tables.inverse(&values)
            #expect(values == original, "N = 2^\(logDegree), \(bits)-bit q")
        }
    }

    @Test("scalar and eight-lane kernels agree, including lazy inputs", arguments: [32, 64, 128, 1024, 8192, 16384])
    func kernelsAgree(degree: Int) throws {
        var rng = TestRNG(seed: 99 &+ UInt64(degree))
        for bits in Self.primeBits {
            let q = try Primes.nttPrimes(bits: bits, degree: degree, count: 1)[0]
            let t = try NTTTables(degree: degree, modulus: Modulus(q))
            // forward accepts [0, 4q): include values at the top of that range
            var input = (0..<degree).map { _ in rng.next() % (4 * q) }
            input[0] = 4 * q - 1
            input[degree - 1] = 4 * q - 1
            var scalar = input, vector = input
            scalar.withUnsafeMutableBufferPointer { p in
                NTTKernels.forward(p.baseAddress!, degree: degree, q: q,
                                   twiddles: t.forwardTwiddles, twiddlesShoup: t.forwardTwiddlesShoup)
            }
            vector.withUnsafeMutableBufferPointer { p in
                NTTKernels.forwardVector(p.baseAddress!, degree: degree, q: q,
                                         twiddles: t.forwardTwiddles, twiddlesShoup: t.forwardTwiddlesShoup)
            }
            #expect(scalar == vector, "forward, N = \(degree), \(bits)-bit q")
            #expect(scalar.allSatisfy { $0 < q })
            // inverse accepts [0, 2q)
            var inverseInput = (0..<degree).map { _ in rng.next() % (2 * q) }
            inverseInput[1] = 2 * q - 1
            var scalarInverse = inverseInput, vectorInverse = inverseInput
            scalarInverse.withUnsafeMutableBufferPointer { p in
                NTTKernels.inverse(p.baseAddress!, degree: degree, q: q,
                                   twiddles: t.inverseTwiddles, twiddlesShoup: t.inverseTwiddlesShoup,
                                   inverseDegree: t.inverseDegree, inverseDegreeShoup: t.inverseDegreeShoup)
            }
            vectorInverse.withUnsafeMutableBufferPointer { p in
                NTTKernels.inverseVector(p.baseAddress!, degree: degree, q: q,
                                         twiddles: t.inverseTwiddles, twiddlesShoup: t.inverseTwiddlesShoup,
                                         inverseDegree: t.inverseDegree, inverseDegreeShoup: t.inverseDegreeShoup)
            }
            #expect(scalarInverse == vectorInverse, "inverse, N = \(degree), \(bits)-bit q")
            #expect(scalarInverse.allSatisfy { $0 < q })
        }
    }

    @Test("unsupported degrees and non-NTT-friendly moduli are refused")
    func refusesBadParameters() throws {
        #expect(throws: HERingError.unsupportedDegree(24)) { try NTTTables(degree: 24, modulus: Modulus(97)) }
        #expect(throws: HERingError.unsupportedDegree(1 << 18)) {
            try NTTTables(degree: 1 << 18, modulus: Modulus(786433))
        }
        // 97 ≡ 1 mod 32 but not mod 64
        #expect(throws: HERingError.notNTTFriendly(modulus: 97, degree: 32)) {
            try NTTTables(degree: 32, modulus: Modulus(97))
        }
    }
}
