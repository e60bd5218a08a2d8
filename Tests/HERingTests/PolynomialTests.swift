import Dispatch
import Testing
import HERing

@Suite("RNS polynomials", .serialized)
struct PolynomialTests {
    static func basis(n: Int = 64, count: Int = 3, bits: Int = 45) throws -> RNSBasis {
        try RNSBasis(degree: n, primes: Primes.nttPrimes(bits: bits, degree: n, count: count))
    }

    typealias CoefficientPolynomial = RNSPolynomial<Coefficient, OverQ>
    typealias EvaluationPolynomial = RNSPolynomial<Evaluation, OverQ>

    static func random(_ basis: RNSBasis, _ rng: inout TestRNG) -> CoefficientPolynomial {
        Sampler.uniformPolynomial(basis: basis, using: &rng)
    }

    static func randomNTT(_ basis: RNSBasis, _ rng: inout TestRNG) -> EvaluationPolynomial {
        Sampler.uniformPolynomial(basis: basis, using: &rng)
    }

    @Test("ring product through the NTT equals the schoolbook product in every limb")
    func ringProduct() throws {
        let basis = try Self.basis()
        var rng = TestRNG(seed: 51)
        let a = Self.random(basis, &rng), b = Self.random(basis, &rng)
        var fa = a.forwardNTT()
        try fa.multiply(b.forwardNTT())
        let product = fa.inverseNTT()
        // (a pointwise product of the coefficient forms, `a.multiply(b)`, does not compile:
        // `multiply` is declared for `Evaluation` only)
        for (i, m) in basis.moduli.enumerated() {
            #expect(try Array(product.limb(i)) == schoolbookNegacyclic(Array(a.limb(i)), Array(b.limb(i)), modulus: m))
        }
    }

    @Test("addition, subtraction, negation and scalars agree with CRT arithmetic on the big integers")
    func additiveAgreesWithCRT() throws {
        let basis = try Self.basis(count: 4)
        var rng = TestRNG(seed: 52)
        let a = Self.random(basis, &rng), b = Self.random(basis, &rng)
        let sum = try a + b, difference = try a - b, negated = -a
        var scaled = a
        scaled.multiply(byScalar: 123_456_789)
        let n = basis.degree, q = basis.product
        for k in 0..<n {
            let x = try basis.compose((0..<4).map { a.data[$0 * n + k] })
            let y = try basis.compose((0..<4).map { b.data[$0 * n + k] })
            func value(_ p: CoefficientPolynomial) throws -> BigUInt { try basis.compose((0..<4).map { p.data[$0 * n + k] }) }
            #expect(try value(sum) == (x + y).remainder(dividingBy: q))
            #expect(try value(difference) == (x + q - y).remainder(dividingBy: q))
            #expect(try value(negated) == (q - x).remainder(dividingBy: q))
            #expect(try value(scaled) == (x * 123_456_789).remainder(dividingBy: q))
        }
    }

    @Test("the multiply-accumulate kernel equals reduced sums of products: both paths, past the fold, permuted, in chunks",
          arguments: [30, 60])
    func productSums(bits: Int) throws {
        // 30-bit primes take the floating-quotient path, 60-bit ones the 128-bit sums (folded
        // every 63 products: 130 terms fold twice)
        let basis = try Self.basis(n: 64, count: 2, bits: bits)
        #expect(basis.moduli.allSatisfy { $0.supportsFloatingProduct } == (bits == 30))
        var rng = TestRNG(seed: 53)
        let n = basis.degree
        let permutation = try GaloisAutomorphism.permutation(degree: n, galoisElement: 5)
        var us: [EvaluationPolynomial] = [], vs: [EvaluationPolynomial] = [], ws: [EvaluationPolynomial] = []
        var expected0 = EvaluationPolynomial(zeroIn: basis), expected1 = expected0
        for t in 0..<130 {
            let u = Self.randomNTT(basis, &rng), v = Self.randomNTT(basis, &rng), w = Self.randomNTT(basis, &rng)
            us.append(u); vs.append(v); ws.append(w)
            // odd terms read through the permutation
            let pu = t % 2 == 1 ? try u.applyingAutomorphism(galoisElement: 5, permutation: permutation) : u
            let pv = t % 2 == 1 ? try v.applyingAutomorphism(galoisElement: 5, permutation: permutation) : v
            try expected0.multiplyAdd(pu, w)
            try expected1.multiplyAdd(pv, w)
        }
        // the residues and the permutation in memory of their own, so that the terms' pointers stay valid
        let size = 2 * n
        let store = UnsafeMutablePointer<UInt64>.allocate(capacity: 3 * 130 * size)
        let pi = UnsafeMutablePointer<UInt32>.allocate(capacity: n)
        defer { store.deallocate(); pi.deallocate() }
        for t in 0..<130 {
            for (j, p) in [us[t], vs[t], ws[t]].enumerated() { (store + (3 * t + j) * size).initialize(from: p.data, count: size) }
        }
        pi.initialize(from: permutation, count: n)
        for chunk in [130, 7] {   // one call, and calls of 7 terms that accumulate
            var first = [UInt64](repeating: 0, count: 2 * n), second = first
            for i in 0..<2 {
                for start in stride(from: 0, to: 130, by: chunk) {
                    let terms = (start..<min(start + chunk, 130)).map { t in
                        ProductSums.Term(u: store + 3 * t * size + i * n, v: store + (3 * t + 1) * size + i * n,
                                         w: store + (3 * t + 2) * size + i * n, permutation: t % 2 == 1 ? UnsafePointer(pi) : nil)
                    }
                    terms.withUnsafeBufferPointer { buffer in
                        first.withUnsafeMutableBufferPointer { f in
                            second.withUnsafeMutableBufferPointer { s in
                                ProductSums.limb(modulus: basis.moduli[i], count: n, terms: buffer, first: f.baseAddress! + i * n,
                                                 second: s.baseAddress! + i * n, accumulate: start > 0)
                            }
                        }
                    }
                }
            }
            #expect(first == expected0.data, "chunks of \(chunk)")
            #expect(second == expected1.data, "chunks of \(chunk)")
        }
    }

    @Test("the 128-bit sums fold before they overflow: 130 products of the largest residues of 61-bit primes")
    func productSumsFold() throws {
        // (q − 1)² ≈ 2¹²¹·⁹ for a 61-bit q: 130 of them exceed 2¹²⁸ unless the sums are folded
        let n = 64
        let moduli = try Primes.nttPrimes(bits: 61, degree: n, count: 2).map { try Modulus(validating: $0) }
        for m in moduli {
            let top = [UInt64](repeating: m.q - 1, count: n)
            var first = [UInt64](repeating: 0, count: n), second = first
            top.withUnsafeBufferPointer { x in
                let terms = [ProductSums.Term](repeating: ProductSums.Term(u: x.baseAddress!, v: x.baseAddress!, w: x.baseAddress!), count: 130)
                terms.withUnsafeBufferPointer { buffer in
                    first.withUnsafeMutableBufferPointer { f in
                        second.withUnsafeMutableBufferPointer { s in
                            ProductSums.limb(modulus: m, count: n, terms: buffer, first: f.baseAddress!, second: s.baseAddress!)
                        }
                    }
                }
            }
            // Σ (−1)² = 130 mod q
            #expect(first == [UInt64](repeating: 130, count: n) && second == first, "q = \(m.q)")
        }
    }

    @Test("NTT-form automorphism equals coefficient-form automorphism followed by the NTT",
          arguments: [3, 5, 25, 127, 2 * 256 - 1, 2 * 256 - 5])
    func automorphisms(galoisElement g: Int) throws {
        let basis = try Self.basis(n: 256, count: 2)
        var rng = TestRNG(seed: 54)
        let a = Self.random(basis, &rng)
        let viaCoefficients = try a.applyingAutomorphism(galoisElement: g).forwardNTT()
        // an element outside 1 … 2N − 1 (−5 ≡ 507) is refused, not reduced: one canonical name per automorphism
        expectError(HERingError.self, saying: "Galois element \(g - 512) is not an automorphism") {
            try a.applyingAutomorphism(galoisElement: g - 512)
        }
        let transformed = a.forwardNTT()
        #expect(try transformed.applyingAutomorphism(galoisElement: g) == viaCoefficients)
        // X → X^g on the monomial X: lands on ±X^(g mod N)
        var monomial = [UInt64](repeating: 0, count: 2 * 256)
        for i in 0..<2 { monomial[i * 256 + 1] = 1 }
        let x = try CoefficientPolynomial(basis: basis, data: monomial)
        let image = try x.applyingAutomorphism(galoisElement: g)
        let e = ((g % 512) + 512) % 512
        #expect(image.data[e % 256] == (e < 256 ? 1 : basis.moduli[0].q - 1))
    }

    @Test("automorphisms compose: σ_g ∘ σ_h = σ_{gh}, and σ_{2N−1}∘σ_{2N−1} = id")
    func automorphismGroup() throws {
        let basis = try Self.basis(n: 128, count: 1)
        var rng = TestRNG(seed: 55)
        let a = Self.random(basis, &rng).forwardNTT()
        let composed = try a.applyingAutomorphism(galoisElement: 5).applyingAutomorphism(galoisElement: 25)
        #expect(try composed == a.applyingAutomorphism(galoisElement: 125))
        #expect(try a.applyingAutomorphism(galoisElement: 255).applyingAutomorphism(galoisElement: 255) == a)
    }

    @Test("divide-and-round by the last modulus matches ⌊(x + ⌊q_L/2⌋)/q_L⌋ on the big integers",
          arguments: [Coefficient.name, Evaluation.name])
    func rescale(form: String) throws {
        let n = 32
        let primes = try Primes.nttPrimes(bits: 40, degree: n, count: 3) + Primes.nttPrimes(bits: 55, degree: n, count: 1)
        let basis = try RNSBasis(degree: n, primes: primes)
        var rng = TestRNG(seed: 56)
        let a = Self.random(basis, &rng)
        var b = a
        if form == Evaluation.name {
            var t = a.forwardNTT()
            try t.divideAndRoundByLastModulus()
            b = t.inverseNTT()
        } else {
            try b.divideAndRoundByLastModulus()
        }
        #expect(b.limbCount == 3)
        let qL = primes[3]
        let smaller = try basis.prefix(3)
        for k in 0..<n {
            let x = try basis.compose((0..<4).map { a.data[$0 * n + k] })
            let expected = (x + qL / 2).quotientAndRemainder(dividingBy: qL).quotient.remainder(dividingBy: smaller.product)
            #expect(try smaller.compose((0..<3).map { b.data[$0 * n + k] }) == expected)
        }
    }

    @Test("dropping limbs keeps the residues of the remaining primes")
    func dropLimbs() throws {
        let basis = try Self.basis(count: 4)
        var rng = TestRNG(seed: 57)
        let a = Self.random(basis, &rng)
        var b = a
        try b.dropLastLimbs(2)
        #expect(b.limbCount == 2 && Array(b.data) == Array(a.data.prefix(2 * basis.degree)))
    }

    @Test("results are identical for 1, 2 and 5 threads")
    func threadCountIndependence() throws {
        let basis = try Self.basis(n: 1024, count: 6)
        var rng = TestRNG(seed: 58)
        let a = Self.random(basis, &rng), b = Self.random(basis, &rng)
        var results: [CoefficientPolynomial] = []
        for threads in [1, 2, 5] {
            // the same primes and residues, in a basis that runs on `threads` threads
            let threaded = try RNSBasis(tables: basis.nttTables, parallelism: try Parallelism(threads: threads))
            #expect(threaded.isSame(as: basis) && threaded.parallelism.threadCount == threads)
            var x = try CoefficientPolynomial(basis: threaded, data: a.data).forwardNTT()
            let y = try CoefficientPolynomial(basis: threaded, data: b.data).forwardNTT()
            try x.multiply(y)
            try x.add(y)
            try x.divideAndRoundByLastModulus()
            let result = x.inverseNTT()
            #expect(result.basis.parallelism.threadCount == threads)   // the dropped limb kept the setting
            results.append(result)
        }
        #expect(results[0] == results[1] && results[1] == results[2])
    }

    @Test("a thread setting is validated, and two threads run two items at the same time")
    func parallelismSetting() throws {
        #expect(throws: HERingError.invalidArgument("a thread count must be between 1 and 4096, not 0")) { try Parallelism(threads: 0) }
        #expect(throws: HERingError.invalidArgument("a thread count must be between 1 and 4096, not 5000")) { try Parallelism(threads: 5000) }
        #expect(Parallelism.serial.threadCount == 1 && Parallelism.allProcessors.threadCount >= 1)
        // item 0 waits for item 1: on one thread it would time out (item 1 runs after it)
        let signal = DispatchSemaphore(value: 0)
        final class Flag: @unchecked Sendable { var met = false }
        let flag = Flag()
        try Parallelism(threads: 2).forEach(2) { i in
            if i == 0 { flag.met = signal.wait(timeout: .now() + 60) == .success } else { signal.signal() }
        }
        #expect(flag.met, "the two items did not run at the same time")
        // and the order of `map` never depends on the threads
        #expect(try Parallelism(threads: 3).map(10) { $0 * $0 } == (0..<10).map { $0 * $0 })
    }

    @Test("nested loops share the threads: an item's own loops get ⌊threads / workers⌋, every item runs once")
    func threadShares() throws {
        let four = try Parallelism(threads: 4)
        func shares(_ count: Int, _ parallelism: Parallelism) -> [Int] {
            var seen = [Int](repeating: 0, count: count)
            seen.withUnsafeMutableBufferPointer { buffer in
                let slots = UncheckedSendable(buffer)
                parallelism.forEach(count) { i in slots.value[i] += parallelism.availableThreads }   // += : a second run shows
            }
            return seen
        }
        // The rule, on this machine's processors P (loops run at most P workers): a loop of
        // `items` under an available `a` runs w = min(a, items) workers, each item's loops get
        // ⌊a / w⌋. With P ≥ 2 (CI has 2) every line below tells a set share from an unset one.
        let p = Parallelism.processors
        func share(_ available: Int, items: Int) -> Int { items <= 1 ? available : max(1, available / min(available, items)) }
        #expect(four.availableThreads == min(4, p))
        #expect(shares(1, four) == [min(4, p)])                         // one item keeps all the threads
        #expect(shares(2, four) == [Int](repeating: share(min(4, p), items: 2), count: 2))
        #expect(shares(3, four) == [Int](repeating: share(min(4, p), items: 3), count: 3))
        #expect(shares(9, four) == Array(repeating: 1, count: 9))
        #expect(four.availableThreads == min(4, p))                     // the caller's share is back after the join
        #expect(shares(5, try Parallelism(threads: 16)) == Array(repeating: share(min(16, p), items: 5), count: 5))
        if p >= 2 { #expect(shares(2, try Parallelism(threads: 2)) == [1, 1]) }
        // two levels: 2 items, each with 2 items, and the outer share restored in between
        let eight = try Parallelism(threads: 8)
        var inner = [Int](repeating: 0, count: 6)
        inner.withUnsafeMutableBufferPointer { buffer in
            let slots = UncheckedSendable(buffer)
            eight.forEach(2) { i in
                eight.forEach(2) { j in slots.value[2 * i + j] = eight.availableThreads }
                slots.value[4 + i] = eight.availableThreads
            }
        }
        let outer = share(min(8, p), items: 2)
        #expect(inner == [Int](repeating: share(outer, items: 2), count: 4) + [outer, outer])
        // a one-thread setting inside, and an inner setting of its own
        #expect(shares(2, .serial) == [1, 1])
        var small = [Int](repeating: 0, count: 2)
        small.withUnsafeMutableBufferPointer { buffer in
            let slots = UncheckedSendable(buffer)
            let two = try! Parallelism(threads: 2)
            four.forEach(1) { _ in two.forEach(2) { j in slots.value[j] = four.availableThreads } }
        }
        #expect(small == [Int](repeating: share(min(2, p), items: 2), count: 2))   // the inner loop's own setting

        // a reduction: one accumulator per worker (at most the threads), every item in exactly one
        for threads in [1, 2, 3, 8] {
            let parallelism = try Parallelism(threads: threads)
            let parts = parallelism.reduce(100, initial: { [Int]() }) { items, i in items.append(i) }
            #expect(parts.count >= 1 && parts.count <= min(threads, 100))
            #expect(parts.joined().sorted() == Array(0..<100))
            #expect(parts.allSatisfy { $0 == $0.sorted() })   // a worker takes its items in order
        }
        #expect(four.reduce(0, initial: { 0 }) { $0 += $1 }.isEmpty)
    }

    @Test("the parallel profile: top-level loops, items and inner widths recorded; the work/span model schedules them")
    func parallelProfile() throws {
        func loop(_ items: [Double], inner: [[Int: Double]]? = nil, workers: Int = 1) -> ParallelProfile.Loop {
            ParallelProfile.Loop(phase: "", items: items.count, workers: workers, wall: items.reduce(0, +),
                                 workerBusy: [items.reduce(0, +)], itemSeconds: items,
                                 innerWork: inner ?? Array(repeating: [:], count: items.count))
        }
        func model(_ p: Int, _ serial: Double, _ loops: [ParallelProfile.Loop]) -> Double {
            ParallelProfile.predictedSeconds(threads: p, serial: serial, loops: loops) ?? .nan
        }
        // four equal items: halved on two threads, one item each from four threads on
        #expect(model(1, 0.5, [loop([1, 1, 1, 1])]) == 4.5)
        #expect(model(2, 0.5, [loop([1, 1, 1, 1])]) == 2.5)
        #expect(model(16, 0.5, [loop([1, 1, 1, 1])]) == 1.5)
        // forEach's schedule, each item to the worker free first: 3 | 1 + 2, then the last
        // item to worker 0 (free at 3, like worker 1): 4 (round-robin would give 5)
        #expect(model(2, 0, [loop([3, 1, 2, 1])]) == 4)
        // one item of 1 s, 0.8 s of it in loops over 8 limbs: ⌈8/q⌉ rounds of a limb each
        #expect(abs(model(4, 0, [loop([1], inner: [[8: 0.8]])]) - 0.4) < 1e-12)
        #expect(abs(model(3, 0, [loop([1], inner: [[8: 0.8]])]) - 0.5) < 1e-12)
        #expect(abs(model(16, 0, [loop([1], inner: [[8: 0.8]])]) - 0.3) < 1e-12)
        // two items share the threads: q = 2 each at four threads
        #expect(abs(model(4, 0, [loop([1, 1], inner: [[8: 0.8], [8: 0.8]])]) - 0.6) < 1e-12)
        // only a one-thread recording predicts
        #expect(ParallelProfile.predictedSeconds(threads: 2, serial: 0, loops: [loop([1, 1], workers: 2)]) == nil)

        // a real recording on one thread: five items, each with a loop over 3 that has its own
        // loop over 2 inside (not added: only the outermost inner loop counts)
        let serial = Parallelism.serial
        var out = [Int](repeating: 0, count: 5)
        let (_, single) = ParallelProfile.record { recorder in
            recorder.setPhase("sums")
            out.withUnsafeMutableBufferPointer { buffer in
                let slots = UncheckedSendable(buffer)
                serial.forEach(5) { i in
                    var s = 0
                    serial.forEach(3) { j in serial.forEach(2) { k in s += (i + 1) * (j + 1) * (k + 1) } }
                    slots.value[i] = s
                }
            }
        }
        #expect(out == (0..<5).map { 18 * ($0 + 1) })
        #expect(single.loops.count == 1 && single.phases == ["sums"])
        let recorded = try #require(single.loops.first)
        #expect(recorded.phase == "sums" && recorded.items == 5 && recorded.workers == 1 && recorded.itemSeconds.count == 5)
        #expect(recorded.innerWork.allSatisfy { Array($0.keys) == [3] } && recorded.innerLoops == 5)
        let one = try #require(single.predictedSeconds(threads: 1)), sixteen = try #require(single.predictedSeconds(threads: 16))
        #expect(one <= single.wall * (1 + 1e-9) && sixteen <= one)
        // on two threads: two workers' busy times, and no model
        let (_, double) = ParallelProfile.record { _ in try? Parallelism(threads: 2).forEach(4) { _ in } }
        #expect(double.loops.count == 1 && double.loops[0].workers == 2 && double.workerTotals().count == 2)
        #expect(double.predictedSeconds(threads: 4) == nil)
    }

    @Test("bad inputs are refused with clear errors")
    func validation() throws {
        let basis = try Self.basis(n: 16, count: 2)
        expectError(HERingError.self, saying: "3 residues for 2 limbs of N = 16") { try EvaluationPolynomial(basis: basis, data: [1, 2, 3]) }
        var data = [UInt64](repeating: 0, count: 32)
        data[20] = basis.moduli[1].q
        expectError(HERingError.self, saying: "in limb 1 is not below its modulus") { try EvaluationPolynomial(basis: basis, data: data) }
        let q = basis.moduli[0].q
        #expect(throws: HERingError.duplicateModulus(q)) { try RNSBasis(degree: 16, primes: [q, q]) }
    }
}
