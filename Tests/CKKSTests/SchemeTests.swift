import Foundation
import Testing
import CKKS
import HERing

/// One small insecure context with keys, shared by the scheme tests (N = 2^11, scale 2^40,
/// four data primes, two special primes, dnum = 2).
final class SmallScheme: @unchecked Sendable {
    static let shared = SmallScheme()
    static let steps = [1, 2, 3, 7, -1, -5, 100, 511, 1023]

    let context: CKKSContext
    let generator: KeyGenerator
    let publicKey: PublicKey
    let relinearizationKey: RelinearizationKey
    let galoisKeys: GaloisKeys

    init() {
        let parameters = try! CKKSParameters.insecureTesting(degree: 1 << 11, dataPrimeBits: [55, 40, 40, 40],
                                                              specialPrimeBits: [60, 60], log2Scale: 40, digitCount: 2)
        context = CKKSContext(parameters)
        var generator = KeyGenerator(context: context, deterministicSeed: [UInt8](repeating: 7, count: 32))
        publicKey = generator.publicKey()
        relinearizationKey = generator.relinearizationKey()
        galoisKeys = generator.galoisKeys(steps: Self.steps, conjugation: true)
        self.generator = generator
    }

    var evaluator: Evaluator { Evaluator(context: context) }
    func encryptor(_ seed: UInt8 = 1) -> Encryptor {
        try! Encryptor(context: context, publicKey: publicKey, deterministicSeed: [UInt8](repeating: seed, count: 32))
    }
    var decryptor: Decryptor {
        try! Decryptor(context: context, secretKey: generator.secretKey, deterministicSeed: [UInt8](repeating: 3, count: 32))
    }

    /// Deterministic test vectors in [−1, 1] (real) or the unit square (complex).
    func values(_ salt: Double) -> [Double] {
        (0..<context.slotCount).map { sin(Double($0) * 0.37 + salt) }
    }
    func complexValues(_ salt: Double) -> [Complex] {
        (0..<context.slotCount).map { Complex(sin(Double($0) * 0.37 + salt), cos(Double($0) * 0.11 - salt)) }
    }
}

/// The clear-slot rotation: slot `i` receives slot `i + step` (cyclically; negative steps rotate
/// right), the reference for `Evaluator.rotate`.
func rotatedLeft<T>(_ v: [T], by step: Int) -> [T] {
    let n = v.count
    return (0..<n).map { v[(($0 + step) % n + n) % n] }
}

/// `−log₂ max |a − b|`.
func precision(_ expected: [Double], _ actual: [Double]) -> Double {
    let error = zip(expected, actual).map { abs($0 - $1) }.max() ?? 0
    return error == 0 ? .infinity : -log2(error)
}

@Suite("CKKS parameters and security")
struct ParameterTests {
    @Test("presets: the paper's chains and our default, with their log2(QP)")
    func presets() throws {
        let hear = CKKSParameters.hear(), fast = CKKSParameters.fastHEAR(), ours = CKKSParameters.standard()
        #expect(hear.totalModulusBits == 376 && hear.maxLevel == 10 && hear.digitCount == 11)
        #expect(fast.totalModulusBits == 432 && fast.maxLevel == 12 && fast.digitCount == 13)
        #expect(ours.totalModulusBits <= 430 && ours.security == .guideline2024)
        let seal = CKKSParameters.sealStyle()
        #expect(seal.dataPrimeBits == ours.dataPrimeBits && seal.digitCount == seal.dataPrimes.count && seal.totalModulusBits == 391)
        #expect(try CKKSParameters.preset(named: "seal-style") == seal && seal.fingerprint != ours.fingerprint)
        // primes: distinct, NTT-friendly, of the requested sizes
        for p in [hear, fast, ours, seal] {
            let all = p.dataPrimes + p.specialPrimes
            #expect(Set(all).count == all.count)
            for (q, bits) in zip(all, p.dataPrimeBits + p.specialPrimeBits) {
                #expect(Primes.isPrime(q) && q % UInt64(2 * p.degree) == 1 && q.bitWidth - q.leadingZeroBitCount == bits)
            }
        }
        // the digits of our default fit below P (noise of key switching below rounding noise)
        let logP = ours.specialPrimes.reduce(0.0) { $0 + log2(Double($1)) }
        for start in stride(from: 0, to: ours.dataPrimes.count, by: ours.primesPerDigit) {
            let digit = ours.dataPrimes[start..<min(start + ours.primesPerDigit, ours.dataPrimes.count)]
            #expect(digit.reduce(0.0) { $0 + log2(Double($1)) } <= logP)
        }
    }

    @Test("the security check refuses over-budget chains unless insecure is named")
    func securityCheck() throws {
        // 2018 table at N = 2^14: 438 bits
        expectError(CKKSError.self, saying: "log2(QP) = 480 exceeds the 128-bit bound 438 for N = 16384 (he-standard-2018)") {
            try CKKSParameters(degree: 1 << 14, dataPrimeBits: Array(repeating: 40, count: 11), specialPrimeBits: [40],
                               log2Scale: 30, security: .heStandard2018)
        }
        // Fast-HEAR's 432 bits: fine under 2018, refused under the 2024 guideline
        let fastBits = [33, 31, 31, 31, 31, 28, 31, 31, 31, 28, 31, 31, 31]
        _ = try CKKSParameters(degree: 1 << 14, dataPrimeBits: fastBits, specialPrimeBits: [33], log2Scale: 31,
                               security: .heStandard2018)
        expectError(CKKSError.self, saying: "log2(QP) = 432 exceeds the 128-bit bound 430 for N = 16384 (guideline-2024)") {
            try CKKSParameters(degree: 1 << 14, dataPrimeBits: fastBits, specialPrimeBits: [33], log2Scale: 31,
                               security: .guideline2024)
        }
        // small rings only with the insecure opt-in
        expectError(CKKSError.self, saying: "exceeds the 128-bit bound 26 for N = 1024") {
            try CKKSParameters(degree: 1 << 10, dataPrimeBits: [50, 40], specialPrimeBits: [50], log2Scale: 40)
        }
        _ = try CKKSParameters.insecureTesting(degree: 1 << 10)
        // other validation
        expectError(CKKSError.self, saying: "log2Scale 40 must be at least 1 and below the size of q0 (30 bits)") { try CKKSParameters.insecureTesting(dataPrimeBits: [30, 40], log2Scale: 40) }
        expectError(CKKSError.self, saying: "at least one special prime is needed") { try CKKSParameters.insecureTesting(specialPrimeBits: []) }
        expectError(CKKSError.self, saying: "digit count 9 must be 1 … 4") { try CKKSParameters.insecureTesting(digitCount: 9) }
        // digits larger than P: one digit of 170 bits over P = 2^100 would leave 70 bits of noise
        do {
            _ = try CKKSParameters.insecureTesting(digitCount: 1)
            Issue.record("a key-switching digit 70 bits larger than P was accepted")
        } catch {
            #expect(error.description.contains("a key-switching digit has 70"))
        }
        // one prime per digit, as SEAL does: every digit fits
        #expect(try CKKSParameters.insecureTesting(digitCount: 4).digitCount == 4)
        // every preset passes the check
        for name in ["default", "seal-style", "hear", "fast-hear"] { _ = try CKKSParameters.preset(named: name) }
    }

    @Test("dnum is what key switching does: a count it would change is refused, the others make that many digits")
    func digitCounts() throws {
        let bits = [40] + Array(repeating: 30, count: 9)
        var made: [Int] = []
        for dnum in 2...10 {
            do {
                let parameters = try CKKSParameters.insecureTesting(degree: 1 << 10, dataPrimeBits: bits, specialPrimeBits: [60, 60, 60],
                                                                    log2Scale: 30, digitCount: dnum)
                let context = CKKSContext(parameters, parallelism: .serial)
                #expect(context.keySwitching[parameters.maxLevel].digits.count == dnum)
                #expect(parameters.description.contains("dnum = \(dnum)"))
                made.append(dnum)
            } catch {
                #expect(error.description.contains("with 10 data primes, dnum = \(dnum) would make"), "\(error)")
                #expect(error.description.contains("choose one of 1, 2, 3, 4, 5, 10"), "\(error)")
            }
        }
        // 10 primes: dnum 6 … 9 would all make 5 digits of 2 primes
        #expect(made == [2, 3, 4, 5, 10])
    }

    @Test("fingerprints separate parameter sets")
    func fingerprints() throws {
        let a = try CKKSParameters.insecureTesting(), b = try CKKSParameters.insecureTesting(digitCount: 4)
        #expect(a.fingerprint == (try CKKSParameters.insecureTesting()).fingerprint)
        #expect(a.fingerprint != b.fingerprint)
        #expect(CKKSParameters.hear().fingerprint != CKKSParameters.fastHEAR().fingerprint)
    }
}

@Suite("CKKS encryption and evaluation")
struct SchemeTests {
    let s = SmallScheme.shared

    @Test("public-key and secret-key encryption decrypt to the message (≥ 25 bits at Δ = 2^40)")
    func encryptDecrypt() throws {
        let z = s.values(0.5)
        var encryptor = s.encryptor()
        var decryptor = s.decryptor
        let ct = try encryptor.encrypt(z)
        #expect(ct.level == s.context.maxLevel && ct.size == 2)
        #expect(precision(z, try decryptor.decryptReal(ct)) > 25)
        let cs = try decryptor.encryptSymmetric(s.context.encode(z))
        #expect(cs.seed?.count == 32)
        #expect(precision(z, try decryptor.decryptReal(cs)) > 25)
        // complex values, lower level
        let w = s.complexValues(0.2)
        let cl = try encryptor.encrypt(s.context.encode(w, level: 1))
        let back = try s.context.decode(decryptor.decrypt(cl))
        #expect(precisionBits(expected: w, actual: back) > 25)
    }

    @Test("a copy of an encryptor never encrypts with the randomness of the original")
    func encryptorCopies() throws {
        var original = s.encryptor(9)
        var copy = original
        let plaintext = try s.context.encode(s.values(0.3))
        let a = try original.encrypt(plaintext), b = try copy.encrypt(plaintext)
        #expect(a.parts[1] != b.parts[1] && a.parts[0] != b.parts[0])
        // the same seed, a new encryptor: the same ciphertext (deterministic for tests)
        var again = s.encryptor(9)
        #expect(try again.encrypt(plaintext) == a)
    }

    @Test("decryption with another secret key does not give the message")
    func wrongKey() throws {
        let z = s.values(0.1)
        var encryptor = s.encryptor()
        let ct = try encryptor.encrypt(z)
        let other = KeyGenerator(context: s.context, deterministicSeed: [UInt8](repeating: 99, count: 32))
        let wrong = try Decryptor(context: s.context, secretKey: other.secretKey).decryptReal(ct)
        // a wrong key leaves a uniform-looking mask of size ~Q/Δ, not the message
        #expect(zip(z, wrong).map { abs($0 - $1) }.max()! > 1e6)
    }

    @Test("additions, negation and constants match the clear slots")
    func additive() throws {
        let a = s.values(0.1), b = s.values(1.3)
        var encryptor = s.encryptor()
        let ca = try encryptor.encrypt(a), cb = try encryptor.encrypt(b)
        let e = s.evaluator, d = s.decryptor
        #expect(precision(zip(a, b).map(+), try d.decryptReal(e.add(ca, cb))) > 24)
        #expect(precision(zip(a, b).map(-), try d.decryptReal(e.subtract(ca, cb))) > 24)
        #expect(precision(a.map { -$0 }, try d.decryptReal(e.negate(ca))) > 24)
        let pb = try s.context.encode(b)
        #expect(precision(zip(a, b).map(+), try d.decryptReal(e.add(ca, pb))) > 24)
        #expect(precision(zip(a, b).map(-), try d.decryptReal(e.subtract(ca, pb))) > 24)
        #expect(precision(a.map { $0 + 2.75 }, try d.decryptReal(e.add(ca, constant: 2.75))) > 24)
        #expect(precision(a.map { $0 * -3 }, try d.decryptReal(e.multiply(ca, integer: -3))) > 23)
        // level and scale mismatches are errors
        let low = try e.dropLevel(ca, to: 1)
        expectError(CKKSError.self, saying: "operands at levels 1 and 3") { try e.add(low, cb) }
        expectError(CKKSError.self, saying: "operands at scales 2^40.0 and 2^30.0") { try e.add(ca, s.context.encode(b, scale: 0x1p30)) }
        #expect(precision(a, try d.decryptReal(low)) > 24)
    }

    @Test("plaintext and constant products, rescaled: relative error under 2^-20")
    func plainProducts() throws {
        let a = s.values(0.4), b = s.values(2.0)
        var encryptor = s.encryptor()
        let ca = try encryptor.encrypt(a)
        let e = s.evaluator, d = s.decryptor
        let product = try e.rescale(e.multiply(ca, s.context.encode(b)))
        #expect(product.level == s.context.maxLevel - 1)
        #expect(precision(zip(a, b).map(*), try d.decryptReal(product)) > 24)
        let byConstant = try e.rescale(e.multiply(ca, constant: -0.625))
        #expect(abs(byConstant.scale - ca.scale) / ca.scale < 1e-12)   // Δ_c = q_ℓ: back to Δ
        #expect(precision(a.map { $0 * -0.625 }, try d.decryptReal(byConstant)) > 24)
        // lazy rescaling: Σ aᵢ·pᵢ reduced once, rescaled once
        let cs = try (0..<5).map { i in try encryptor.encrypt(s.values(Double(i))) }
        let ps = try (0..<5).map { i in try s.context.encode(s.values(Double(i) + 7)) }
        let sum = try e.rescale(e.multiplyAccumulate(Array(zip(cs, ps))))
        var expected = [Double](repeating: 0, count: s.context.slotCount)
        for i in 0..<5 {
            let x = s.values(Double(i)), y = s.values(Double(i) + 7)
            for k in expected.indices { expected[k] += x[k] * y[k] }
        }
        #expect(precision(expected, try d.decryptReal(sum)) > 22)
        var eager = try e.multiply(cs[0], ps[0])
        for i in 1..<5 { eager = try e.add(eager, e.multiply(cs[i], ps[i])) }
        #expect(try e.rescale(eager) == sum)    // lazy reduction is exact
    }

    @Test("compact plaintexts: products bit-identical to the expanded plaintexts', alone or mixed with resident ones")
    func compactProducts() throws {
        var encryptor = s.encryptor()
        let e = s.evaluator, d = s.decryptor, level = s.context.maxLevel, scale = s.context.parameters.scale
        // 19 terms: more than one 16-term chunk, and an odd count (the last expansion group holds one)
        let count = 19
        let cs = try (0..<count).map { i in try encryptor.encrypt(s.values(Double(i) * 0.1)) }
        let compact = try (0..<count).map { i throws -> CompactPlaintext in
            let rounded = try #require(try s.context.encoder.roundedCoefficients(s.values(Double(i) + 3), scale: scale))
            return try s.context.compactPlaintext(fromRounded: rounded, level: level, scale: scale)
        }
        let expanded = try compact.map { try s.context.plaintext($0) }
        let reference = try e.multiplyAccumulate(Array(zip(cs, expanded)))
        #expect(try e.multiplyAccumulate([], compact: Array(zip(cs, compact))) == reference)
        #expect(try e.multiplyAccumulate(Array(zip(cs.prefix(7), expanded.prefix(7))),
                                         compact: Array(zip(cs.dropFirst(7), compact.dropFirst(7)))) == reference)
        var expected = [Double](repeating: 0, count: s.context.slotCount)
        for i in 0..<count {
            let x = s.values(Double(i) * 0.1), y = s.values(Double(i) + 3)
            for k in expected.indices { expected[k] += x[k] * y[k] }
        }
        #expect(precision(expected, try d.decryptReal(e.rescale(reference))) > 20)
        // coefficients beyond 2^50: the exact (non-floating) reduction, still equal
        let big = try #require(try s.context.encoder.roundedCoefficients(s.values(5), scale: 0x1p58))
        let bigCompact = try s.context.compactPlaintext(fromRounded: big, level: level, scale: 0x1p58)
        #expect(big.contains { $0.magnitude >= 1 << 50 })
        #expect(try e.multiplyAccumulate([], compact: [(cs[1], bigCompact)]) == e.multiplyAccumulate([(cs[1], s.context.plaintext(bigCompact))]))
        // a compact plaintext at another level than the ciphertext, and a wrong length, are refused
        let lower = try s.context.compactPlaintext(fromRounded: compact[0].coefficients, level: level - 1, scale: scale)
        expectError(CKKSError.self, saying: "level") { try e.multiplyAccumulate([], compact: [(cs[0], lower)]) }
        expectError(CKKSError.self, saying: "degree") {
            try s.context.compactPlaintext(fromRounded: Array(compact[0].coefficients.dropLast()), level: level, scale: scale)
        }
    }

    /// A chain with both packed widths: q0 of 44 bits and p0 of 45 (high bits in a `UInt16`),
    /// two data primes of 36 bits (high bits in a byte).
    static func packingChain() throws -> CKKSContext {
        CKKSContext(try CKKSParameters.insecureTesting(degree: 1 << 11, dataPrimeBits: [44, 36, 36],
                                                       specialPrimeBits: [45], log2Scale: 36))
    }

    @Test("packed plaintexts (5 or 6 bytes a residue): round trip and products bit-identical to the NTT form")
    func packedProducts() throws {
        let context = try Self.packingChain()
        let parameters = context.parameters
        var generator = KeyGenerator(context: context, deterministicSeed: [UInt8](repeating: 9, count: 32))
        var encryptor = try Encryptor(context: context, publicKey: generator.publicKey(), deterministicSeed: [UInt8](repeating: 2, count: 32))
        let e = Evaluator(context: context)
        func values(_ salt: Double) -> [Double] { (0..<context.slotCount).map { sin(Double($0) * 0.37 + salt) } }
        let count = 18   // more than one 16-term chunk
        let cs = try (0..<count).map { i in try encryptor.encrypt(values(Double(i))) }
        let ps = try (0..<count).map { i in try context.encode(values(Double(i) + 0.5)) }
        let packed = try ps.map { p throws -> PackedPlaintext in try #require(try context.packed(p)) }
        #expect(packed[0].byteCount == context.degree * (6 + 5 + 5))
        #expect(try packed.map { try context.plaintext($0) } == ps)
        // built from the integer coefficients limb by limb: the same bytes
        let rounded = try #require(try context.encoder.roundedCoefficients(values(0.5), scale: parameters.scale))
        #expect(try context.packedPlaintext(fromRounded: rounded, level: context.maxLevel, scale: parameters.scale) == packed[0])
        let reference = try e.multiplyAccumulate(Array(zip(cs, ps)))
        #expect(try e.multiplyAccumulate([], packed: Array(zip(cs, packed)), compact: []) == reference)
        #expect(try e.multiplyAccumulate(Array(zip(cs.prefix(5), ps.prefix(5))),
                                         packed: Array(zip(cs.dropFirst(5), packed.dropFirst(5))), compact: []) == reference)
        // at another level than the ciphertext: refused
        let low = try #require(try context.packed(context.encode(values(1), level: 1)))
        expectError(CKKSError.self, saying: "level") { try e.multiplyAccumulate([], packed: [(cs[0], low)], compact: []) }
        // a chain with a prime of 2^48 or more has no packed form
        #expect(try s.context.packed(s.context.encode(s.values(1))) == nil)
    }

    @Test("packed key-switching keys (5 or 6 bytes a residue): key products equal the naive sums over the words, rotations decrypt")
    func packedKeys() throws {
        let context = try Self.packingChain()
        var generator = KeyGenerator(context: context, deterministicSeed: [UInt8](repeating: 5, count: 32))
        var encryptor = try Encryptor(context: context, publicKey: generator.publicKey(), deterministicSeed: [UInt8](repeating: 6, count: 32))
        let decryptor = try Decryptor(context: context, secretKey: generator.secretKey)
        let keys = generator.galoisKeys(steps: [1, -3])
        let key = try #require(keys.entries[context.galoisElement(forRotation: 1)]?.key)
        let n = context.degree
        #expect(key.isPacked)
        #expect(key.byteCount == 2 * key.digitCount * n * (6 + 5 + 5 + 6))
        // a chain with a prime of 2^48 or more keeps its keys in words
        #expect(s.galoisKeys.entries.values.allSatisfy { !$0.key.isPacked && $0.key.byteCount == ($0.key.b.count + $0.key.a.count) * 8 })
        let z = (0..<context.slotCount).map { cos(Double($0) * 0.21) }
        let ct = try encryptor.encrypt(context.encode(z))
        let b = key.b, a = key.a
        for level in 0...context.maxLevel {
            let c = try Evaluator(context: context).dropLevel(ct, to: level)
            let decomposed = try context.decompose(c.parts[1], level: level)
            let (x0, x1) = try context.keyProduct(decomposed, key: key)
            // Σ_j d_j·b_j, Σ_j d_j·a_j, coefficient by coefficient with a full-width remainder
            let basis = context.extendedBases[level], limbs = basis.count
            var expected0 = [UInt64](repeating: 0, count: limbs * n), expected1 = expected0
            for t in 0..<limbs {
                let q = basis.moduli[t].q, row = t <= level ? t : t + (key.level - level)
                for k in 0..<n {
                    var s0: UInt64 = 0, s1: UInt64 = 0
                    for j in 0..<decomposed.digitCount {
                        let d = decomposed.data[(j * limbs + t) * n + k], r = (j * key.limbCount + row) * n + k
                        s0 = (s0 + q.dividingFullWidth(d.multipliedFullWidth(by: b[r])).remainder) % q
                        s1 = (s1 + q.dividingFullWidth(d.multipliedFullWidth(by: a[r])).remainder) % q
                    }
                    expected0[t * n + k] = s0
                    expected1[t * n + k] = s1
                }
            }
            #expect(x0.data == expected0 && x1.data == expected1, "level \(level)")
            for step in [1, -3] {
                let rotated = try decryptor.decryptReal(Evaluator(context: context).rotate(c, by: step, keys: keys))
                #expect(precision(rotatedLeft(z, by: step), rotated) > 20, "level \(level), step \(step)")
            }
        }
        // the serialized key is the words' one: a round trip gives the same packed key
        #expect(try GaloisKeys(deserializing: keys.serialized(context: context), context: context) == keys)
    }

    @Test("ciphertext products with relinearization, down the whole chain")
    func ciphertextProducts() throws {
        let a = s.values(0.9), b = s.values(-0.3)
        var encryptor = s.encryptor()
        let ca = try encryptor.encrypt(a), cb = try encryptor.encrypt(b)
        let e = s.evaluator, d = s.decryptor
        let rk = s.relinearizationKey
        let unrelinearized = try e.multiplyWithoutRelinearization(ca, cb)
        #expect(unrelinearized.size == 3)
        #expect(precision(zip(a, b).map(*), try d.decryptReal(unrelinearized)) > 24)
        // rescaling before relinearizing multiplies the rounding error by s² (measured 2^-22)
        #expect(precision(zip(a, b).map(*), try d.decryptReal(e.rescale(unrelinearized))) > 20)
        var x = try e.rescale(e.multiply(ca, cb, relinearizationKey: rk))
        var expected = zip(a, b).map(*)
        #expect(x.size == 2)
        // relative error after mul+relin+rescale below 2^-20 (stated bound; measured ~2^-28)
        #expect(precision(expected, try d.decryptReal(x)) > 20)
        // square down to level 0
        while x.level > 0 {
            x = try e.rescale(e.square(x, relinearizationKey: rk))
            expected = expected.map { $0 * $0 }
            #expect(precision(expected, try d.decryptReal(x)) > 18, "level \(x.level)")
        }
        expectError(CKKSError.self, saying: "a level-0 ciphertext cannot be rescaled") { try e.rescale(x) }
    }

    @Test("rotation by every step of the key list, and conjugation")
    func rotations() throws {
        let z = s.complexValues(0.3)
        var encryptor = s.encryptor()
        let ct = try encryptor.encrypt(s.context.encode(z))
        let e = s.evaluator, d = s.decryptor
        for step in SmallScheme.steps {
            let rotated = try s.context.decode(d.decrypt(e.rotate(ct, by: step, keys: s.galoisKeys)))
            let expected = rotatedLeft(z, by: step)
            #expect(precisionBits(expected: expected, actual: rotated) > 22, "step \(step)")
        }
        let conjugated = try s.context.decode(d.decrypt(e.conjugate(ct, keys: s.galoisKeys)))
        #expect(precisionBits(expected: z.map { Complex($0.real, -$0.imaginary) }, actual: conjugated) > 22)
        expectError(CKKSError.self, saying: "no Galois key for rotation by 4") { try e.rotate(ct, by: 4, keys: s.galoisKeys) }
        // at a lower level too
        let low = try e.dropLevel(ct, to: 1)
        let rotatedLow = try s.context.decode(d.decrypt(e.rotate(low, by: 3, keys: s.galoisKeys)))
        #expect(precisionBits(expected: rotatedLeft(z, by: 3), actual: rotatedLow) > 22)
    }

    @Test("multiplying by the monomial X^(N/2) multiplies every slot by i, exactly, at every level")
    func imaginaryUnit() throws {
        let z = s.complexValues(0.5)
        var encryptor = s.encryptor()
        let ct = try encryptor.encrypt(s.context.encode(z))
        let e = s.evaluator, d = s.decryptor
        for level in [3, 1, 0] {
            let x = try e.dropLevel(ct, to: level)
            let product = try e.multiplyByImaginaryUnit(x)
            #expect(product.level == level && product.scale == x.scale)
            let slots = try s.context.decode(d.decrypt(product))
            #expect(precisionBits(expected: z.map { Complex(-$0.imaginary, $0.real) }, actual: slots) > 22, "level \(level)")
            // exact: i·(i·x) = −x, coefficient for coefficient
            #expect(try e.multiplyByImaginaryUnit(product) == e.negate(x))
        }
    }

    @Test("keys generated for a lower level: smaller, correct up to their level, refused above it, serializable")
    func levelLimitedKeys() throws {
        var generator = try KeyGenerator(context: s.context, secretKey: s.generator.secretKey,
                                         deterministicSeed: [UInt8](repeating: 9, count: 32))
        let keys = try generator.galoisKeys(rotationLevels: [3: 1, 7: 2, -5: 1, 100: 0], conjugationLevel: 1)
        let relin = try generator.relinearizationKey(level: 1)
        #expect(keys.entries[s.context.conjugationElement]?.key.level == 1)
        let full = s.galoisKeys.entries[s.context.galoisElement(forRotation: 3)]!.key
        let low = keys.entries[s.context.galoisElement(forRotation: 3)]!.key
        // level 1 of N = 2^11, dnum 2 (two primes per digit): one digit over q0, q1, p0, p1
        #expect(low.level == 1 && low.digitCount == 1 && low.limbCount == 4)
        #expect(full.level == 3 && full.digitCount == 2 && full.limbCount == 6)
        #expect(low.b.count * 3 == full.b.count)
        let z = s.complexValues(0.8)
        var encryptor = s.encryptor()
        let ct = try encryptor.encrypt(s.context.encode(z))
        let e = s.evaluator, d = s.decryptor
        for level in 0...1 {
            let x = try e.dropLevel(ct, to: level)
            let rotated = try s.context.decode(d.decrypt(e.rotate(x, by: 3, keys: keys)))
            #expect(precisionBits(expected: rotatedLeft(z, by: 3), actual: rotated) > 22, "level \(level)")
            let hoisted = try e.rotations(x, by: [3, -5], keys: keys)
            #expect(precisionBits(expected: rotatedLeft(z, by: -5), actual: try s.context.decode(d.decrypt(hoisted[1]))) > 22)
        }
        let x1 = try e.dropLevel(ct, to: 1)
        let conjugated = try s.context.decode(d.decrypt(e.conjugate(x1, keys: keys)))
        #expect(precisionBits(expected: z.map(\.conjugate), actual: conjugated) > 22)
        expectError(CKKSError.self, saying: "serves levels up to 1 only; generate it for level 2") { try e.conjugate(e.dropLevel(ct, to: 2), keys: keys) }
        let squared = try s.context.decode(d.decrypt(e.rescale(e.square(x1, relinearizationKey: relin))))
        #expect(precisionBits(expected: z.map { $0 * $0 }, actual: squared) > 22)
        expectError(CKKSError.self, saying: "the key of Galois element 2289 serves levels up to 0 only") { try e.rotate(x1, by: 100, keys: keys) }
        // above the key's level: a clear error, not a wrong result
        expectError(CKKSError.self, saying: "the key of Galois element 125 serves levels up to 1 only") { try e.rotate(e.dropLevel(ct, to: 2), by: 3, keys: keys) }
        expectError(CKKSError.self, saying: "the key of rotation by 7 serves levels up to 2 only") { try e.rotations(ct, by: [7], keys: keys) }
        expectError(CKKSError.self, saying: "the relinearization key serves levels up to 1 only") { try e.square(e.dropLevel(ct, to: 2), relinearizationKey: relin) }
        let rotated = try e.rotate(e.dropLevel(ct, to: 2), by: 7, keys: keys)
        #expect(precisionBits(expected: rotatedLeft(z, by: 7), actual: try s.context.decode(d.decrypt(rotated))) > 22)
        // the level travels with the key
        let c = s.context
        #expect(try GaloisKeys(deserializing: keys.serialized(context: c), context: c) == keys)
        #expect(try RelinearizationKey(deserializing: relin.serialized(context: c), context: c) == relin)
    }

    @Test("hoisted rotations equal the plain rotations")
    func hoistedRotations() throws {
        var encryptor = s.encryptor()
        let z = s.values(1.1)
        let ct = try encryptor.encrypt(z)
        let e = s.evaluator, d = s.decryptor
        let steps = [0, 1, 7, -5, 100]
        let hoisted = try e.rotations(ct, by: steps, keys: s.galoisKeys)
        for (step, h) in zip(steps, hoisted) {
            let plain = try e.rotate(ct, by: step, keys: s.galoisKeys)
            // the same decomposition and key product: bit-identical
            #expect(h == plain, "step \(step)")
            let expected = rotatedLeft(z, by: step)
            #expect(precision(expected, try d.decryptReal(h)) > 22)
        }
    }

    @Test("a sum of rotations with one shared ModDown equals the sum of the rotations, with no more error")
    func sumOfRotations() throws {
        var encryptor = s.encryptor()
        let e = s.evaluator, d = s.decryptor
        let steps = [0, 1, 7, -5, 100, 1, 1023]
        let inputs = steps.indices.map { s.values(Double($0) + 0.3) }
        let ciphertexts = try inputs.map { try encryptor.encrypt($0) }
        let hoisted = try e.sumOfRotations(Array(zip(ciphertexts, steps)), keys: s.galoisKeys)
        var plain = try e.rotate(ciphertexts[0], by: steps[0], keys: s.galoisKeys)
        for i in 1..<steps.count { plain = try e.add(plain, e.rotate(ciphertexts[i], by: steps[i], keys: s.galoisKeys)) }
        let n = inputs[0].count
        var expected = [Double](repeating: 0, count: n)
        for (step, z) in zip(steps, inputs) {
            let rotated = rotatedLeft(z, by: step)
            for k in 0..<n { expected[k] += rotated[k] }
        }
        let h = try d.decryptReal(hoisted), p = try d.decryptReal(plain)
        #expect(hoisted.level == ciphertexts[0].level && hoisted.scale == ciphertexts[0].scale)
        // one rounding by 1/P instead of six: at least as precise as the plain sum (to noise)
        #expect(precision(expected, h) > 20)
        #expect(precision(expected, h) >= precision(expected, p) - 0.5)
        #expect(precision(p, h) > 20)
        // a single zero step is the ciphertext itself; one nonzero step is one rotation
        #expect(try d.decryptReal(e.sumOfRotations([(ciphertexts[2], 0)], keys: s.galoisKeys)) == d.decryptReal(ciphertexts[2]))
        #expect(precision(rotatedLeft(inputs[3], by: 7), try d.decryptReal(e.sumOfRotations([(ciphertexts[3], 7)], keys: s.galoisKeys))) > 20)
        // operands it cannot sum: clear errors
        let lower = try e.dropLevel(ciphertexts[1], to: ciphertexts[1].level - 1)
        expectError(CKKSError.self, saying: "operands at levels") { try e.sumOfRotations([(ciphertexts[0], 1), (lower, 7)], keys: s.galoisKeys) }
        let rescaled = try e.multiply(ciphertexts[1], constant: 0.5)
        expectError(CKKSError.self, saying: "operands at scales") { try e.sumOfRotations([(ciphertexts[0], 1), (rescaled, 7)], keys: s.galoisKeys) }
        expectError(CKKSError.self, saying: "no Galois key for rotation by 4") { try e.sumOfRotations([(ciphertexts[0], 1), (ciphertexts[1], 4)], keys: s.galoisKeys) }
        expectError(CKKSError.self, saying: "needs at least one term") { try e.sumOfRotations([], keys: s.galoisKeys) }
        // a box sum of one ciphertext (one decomposition and one ModDown shared): Σ_r ρ(a, r)
        let box = [0, 1, 2, 3]   // the box of steps 1 and 2
        let boxed = try d.decryptReal(e.sumOfRotations(of: ciphertexts[4], by: box, keys: s.galoisKeys))
        var boxExpected = [Double](repeating: 0, count: n)
        for step in box { for (k, v) in rotatedLeft(inputs[4], by: step).enumerated() { boxExpected[k] += v } }
        #expect(precision(boxExpected, boxed) > 20)
        expectError(CKKSError.self, saying: "no Galois key for rotation by 4") { try e.sumOfRotations(of: ciphertexts[0], by: [1, 4], keys: s.galoisKeys) }
    }

    @Test("hoisted multiply-accumulate equals Σ rotate·multiply to the bound")
    func hoistedMultiplyAccumulate() throws {
        var encryptor = s.encryptor()
        let z = s.values(0.7)
        let ct = try encryptor.encrypt(z)
        let e = s.evaluator, d = s.decryptor
        let steps = [0, 1, 2, 3, 7, -1]
        let weights = steps.map { s.values(Double($0) * 0.5 + 3) }
        let terms = try zip(steps, weights).map { (step: $0, plaintext: try s.context.encodeExtended($1, level: ct.level)) }
        let hoisted = try e.rescale(e.hoistedMultiplyAccumulate(ct, terms, keys: s.galoisKeys))
        var plain = try e.multiply(e.rotate(ct, by: steps[0], keys: s.galoisKeys), s.context.encode(weights[0]))
        for i in 1..<steps.count {
            plain = try e.add(plain, e.multiply(e.rotate(ct, by: steps[i], keys: s.galoisKeys), s.context.encode(weights[i])))
        }
        plain = try e.rescale(plain)
        let n = z.count
        var expected = [Double](repeating: 0, count: n)
        for (step, w) in zip(steps, weights) {
            let rotated = rotatedLeft(z, by: step)
            for k in 0..<n { expected[k] += rotated[k] * w[k] }
        }
        let h = try d.decryptReal(hoisted), p = try d.decryptReal(plain)
        #expect(precision(expected, h) > 20)
        #expect(precision(expected, p) > 20)
        #expect(precision(p, h) > 20)
    }

    @Test("contexts on 1, 2 and 3 threads give bit-identical ciphertexts from the same seeds")
    func threadIndependence() throws {
        // Each run has its own context with its own thread count (no shared setting another
        // test could change meanwhile), and checks that the setting reached every polynomial.
        // Galois keys are made in parallel (one item per key), hoisted rotations over the steps,
        // sums of rotations as a reduction over the key switches: all compared word for word.
        func run(threads: Int) throws -> (ciphertexts: [Ciphertext], keys: [Int: [UInt64]]) {
            let parallelism = try Parallelism(threads: threads)
            let context = CKKSContext(s.context.parameters, parallelism: parallelism)
            #expect(context.parallelism.threadCount == threads)
            var generator = KeyGenerator(context: context, deterministicSeed: [UInt8](repeating: 42, count: 32))
            let pk = generator.publicKey()
            let rk = generator.relinearizationKey()
            let gk = generator.galoisKeys(steps: [1, 5, 7, 12])
            var encryptor = try Encryptor(context: context, publicKey: pk, deterministicSeed: [UInt8](repeating: 9, count: 32))
            let e = Evaluator(context: context)
            let a = try encryptor.encrypt(s.values(0.2)), b = try encryptor.encrypt(s.values(0.6))
            let product = try e.rescale(e.multiply(a, b, relinearizationKey: rk))
            let rotated = try e.rotations(product, by: [1, 5, 7, 12], keys: gk)
            let sums = [try e.sumOfRotations([(a, 1), (b, 5), (a, 7), (b, 0), (a, 12)], keys: gk),
                        try e.sumOfRotations(of: b, by: [0, 1, 5, 7, 12], keys: gk)]
            let all = [a, b, product] + rotated + sums
            for c in all { #expect(c.parts.allSatisfy { $0.basis.parallelism == parallelism }) }
            return (all, gk.entries.mapValues { $0.key.b + $0.key.a + rk.key.b })
        }
        let one = try run(threads: 1)
        #expect(one.keys.count == 4)
        for threads in [2, 3, 5] {
            let other = try run(threads: threads)
            #expect(other.ciphertexts == one.ciphertexts, "\(threads) threads")
            #expect(other.keys == one.keys, "\(threads) threads")
        }
    }
}

/// `body` throws an `E` whose description says `fact`: the case *and* the message a user acts on.
func expectError<E: Error & CustomStringConvertible, T>(_ type: E.Type, saying fact: String,
                                                         sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> T) {
    let error = #expect(throws: E.self, sourceLocation: sourceLocation) { _ = try body() }
    if let error {
        #expect(error.description.contains(fact), "«\(error.description)» does not say «\(fact)»", sourceLocation: sourceLocation)
    }
}
