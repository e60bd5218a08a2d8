import Testing
import HERing

@Suite("Big integers, CRT and base conversion")
struct RNSTests {
    @Test("BigUInt arithmetic against UInt128")
    func bigIntegers() {
        var rng = TestRNG(seed: 21)
        for _ in 0..<2000 {
            let a = UInt128(rng.next() >> (rng.next() % 64)) << 32 | UInt128(rng.next() >> 32)
            let b = UInt128(rng.next() >> (rng.next() % 64))
            let ba = BigUInt(words: [UInt64(truncatingIfNeeded: a), UInt64(truncatingIfNeeded: a >> 64)])
            let bb = BigUInt(UInt64(b))
            func value(_ x: BigUInt) -> UInt128 {
                precondition(x.words.count <= 2)
                return x.words.enumerated().reduce(UInt128(0)) { $0 | UInt128($1.element) << (64 * $1.offset) }
            }
            if a.addingReportingOverflow(b).overflow == false { #expect(value(ba + bb) == a + b) }
            if a >= b { #expect(value(ba - bb) == a - b) }
            #expect((ba < bb) == (a < b))
            if b != 0 {
                let (q, r) = ba.quotientAndRemainder(dividingBy: UInt64(b))
                #expect(value(q) == a / b && UInt128(r) == a % b)
                #expect(value(ba.remainder(dividingBy: bb)) == a % b)
            }
            if a >> 64 == 0 { #expect(value(BigUInt(UInt64(a)) * bb) == a * b) }
        }
        // (2¹²⁸ − 1)² = 2²⁵⁶ − 2¹²⁹ + 1, and its decimal form
        let m = BigUInt(words: [.max, .max])
        let square = m * m
        #expect(square.words == [1, 0, UInt64.max - 1, UInt64.max])
        #expect(m.description == "340282366920938463463374607431768211455")
        #expect(square.remainder(dividingBy: m).isZero)
    }

    static func basis(count: Int, bits: Int = 50, degree: Int = 16) throws -> RNSBasis {
        try RNSBasis(degree: degree, primes: Primes.nttPrimes(bits: bits, degree: degree, count: count))
    }

    @Test("CRT round trip against the big integer", arguments: [1, 2, 5, 12])
    func crtRoundTrip(count: Int) throws {
        let basis = try Self.basis(count: count)
        var rng = TestRNG(seed: UInt64(count))
        let qMinusOne = basis.product - 1
        for trial in 0..<300 {
            var x = BigUInt(words: (0..<count).map { _ in rng.next() }).remainder(dividingBy: basis.product)
            if trial == 0 { x = .zero }
            if trial == 1 { x = qMinusOne }
            let residues = basis.decompose(x)
            #expect(try basis.compose(residues) == x)
            let (negative, magnitude) = try basis.composeCentered(residues)
            let twice = magnitude * 2
            #expect(negative ? (twice <= basis.product && basis.product - magnitude == x) : (twice < basis.product + 1 && magnitude == x))
        }
        #expect(try basis.composeCentered(basis.decompose(qMinusOne)) == (true, BigUInt(1)))
    }

    @Test("fast base conversion: x + u·Q with 0 ≤ u < L, checked against the big integer", arguments: [1, 5], [55, 45])
    func fastBaseConversion(sourceCount: Int, bits: Int) throws {
        let n = 16
        let all = try Primes.nttPrimes(bits: bits, degree: n, count: 9)
        let source = try RNSBasis(degree: n, primes: Array(all[0..<sourceCount]))
        let target = try RNSBasis(degree: n, primes: Array(all[5..<9]))
        let converter = try BaseConverter(from: source, to: target)
        var rng = TestRNG(seed: 31)
        var xs: [BigUInt] = (0..<n).map { _ in BigUInt(words: (0..<5).map { _ in rng.next() }).remainder(dividingBy: source.product) }
        xs[0] = .zero
        xs[1] = source.product - 1
        var input = [UInt64](repeating: 0, count: sourceCount * n)
        for k in 0..<n { for (i, r) in source.decompose(xs[k]).enumerated() { input[i * n + k] = r } }
        var output = [UInt64](repeating: 0, count: 4 * n)
        output = try converter.convert(input, exact: false)
        for k in 0..<n {
            let got = (0..<4).map { output[$0 * n + k] }
            // some u in [0, L) explains every target residue
            let u = (0..<5).first { u in target.decompose(xs[k] + source.product * UInt64(u)) == got }
            #expect(u != nil, "coefficient \(k): no u < L with x + u·Q matching")
        }
    }

    @Test("exact base conversion of the centred representative (one prime: its own path; < 2^50: the floating path)",
          arguments: [1, 3, 6], [60, 40])
    func exactBaseConversion(sourceCount: Int, bits: Int) throws {
        let n = 32
        let all = try Primes.nttPrimes(bits: bits, degree: n, count: 10)
        let source = try RNSBasis(degree: n, primes: Array(all[0..<sourceCount]))
        let target = try RNSBasis(degree: n, primes: Array(all[sourceCount..<10]))
        let converter = try BaseConverter(from: source, to: target)
        var rng = TestRNG(seed: 41)
        let half = source.product.quotientAndRemainder(dividingBy: 2).quotient
        let signed: [(Bool, BigUInt)] = (0..<n).map { k in
            switch k {
            case 0: return (false, .zero)
            case 1: return (true, BigUInt(1))
            // Q/2⁴⁰ from ±Q/2: close to the edge, but outside the L·2⁻⁵²·Q band where the
            // floating-point correction may round the wrong way
            case 2: return (false, half - source.product.quotientAndRemainder(dividingBy: 1 << 40).quotient)
            case 3: return (true, half - source.product.quotientAndRemainder(dividingBy: 1 << 40).quotient)
            default:
                let m = BigUInt(words: (0..<source.count).map { _ in rng.next() }).remainder(dividingBy: half)
                return (rng.next() & 1 == 1, m)
            }
        }
        var input = [UInt64](repeating: 0, count: source.count * n)
        for k in 0..<n {
            let (negative, magnitude) = signed[k]
            let x = negative && !magnitude.isZero ? source.product - magnitude : magnitude
            for (i, r) in source.decompose(x).enumerated() { input[i * n + k] = r }
        }
        var output = [UInt64](repeating: 0, count: target.count * n)
        output = try converter.convert(input, exact: true)
        for k in 0..<n {
            let (negative, magnitude) = signed[k]
            for (j, p) in target.moduli.enumerated() {
                let r = magnitude.remainder(dividingBy: p.q)
                #expect(output[j * n + k] == (negative ? p.negate(r) : r), "coefficient \(k), target prime \(j)")
            }
        }
    }
}
