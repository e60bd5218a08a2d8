import Testing
import CKKS
import HERing

/// The public API never traps on caller input: every misuse of the evaluator, the encryptor,
/// the decryptor, the encoder and the key generator throws the named error, and says the fact
/// a user needs. Each case is checked for its case *and* its message.
@Suite("misuse of the public API: a named error, never a trap")
struct MisuseTests {
    let s = SmallScheme.shared

    /// Another parameter set of the same shape (same N, same number of primes, other primes).
    static let foreign: (context: CKKSContext, ciphertext: Ciphertext, plaintext: Plaintext) = {
        let parameters = try! CKKSParameters.insecureTesting(degree: 1 << 11, dataPrimeBits: [54, 41, 41, 41],
                                                              specialPrimeBits: [60, 60], log2Scale: 40, digitCount: 2)
        let context = CKKSContext(parameters, parallelism: .serial)
        var generator = KeyGenerator(context: context, deterministicSeed: [UInt8](repeating: 8, count: 32))
        var encryptor = try! Encryptor(context: context, publicKey: generator.publicKey(), deterministicSeed: [UInt8](repeating: 2, count: 32))
        let plaintext = try! context.encode([0.5, 0.25])
        return (context, try! encryptor.encrypt(plaintext), plaintext)
    }()

    /// `body` must throw exactly `expected`-like error whose description contains `fact`.
    func expectRefusal<T>(_ what: String, _ fact: String, _ matches: (CKKSError) -> Bool,
                          _ body: () throws(CKKSError) -> T) {
        do {
            _ = try body()
            Issue.record("\(what): accepted")
        } catch {
            #expect(matches(error), "\(what): \(error)")
            #expect(error.description.contains(fact), "\(what): «\(error.description)» does not say «\(fact)»")
        }
    }

    @Test("ciphertexts and plaintexts of another context, at impossible levels, in the wrong form")
    func foreignAndMalformed() throws {
        let e = s.evaluator, d = s.decryptor
        var encryptor = s.encryptor()
        let good = try encryptor.encrypt(s.values(0.1))
        let foreign = Self.foreign
        func isMismatch(_ error: CKKSError) -> Bool { if case .parameterMismatch = error { true } else { false } }
        func isLevel(_ error: CKKSError) -> Bool { if case .invalidLevel = error { true } else { false } }
        let notOurs = "does not belong to this context"
        expectRefusal("add a foreign ciphertext", notOurs, isMismatch) { () throws(CKKSError) in try e.add(good, foreign.ciphertext) }
        expectRefusal("rotate a foreign ciphertext", notOurs, isMismatch) { () throws(CKKSError) in try e.rotate(foreign.ciphertext, by: 1, keys: s.galoisKeys) }
        expectRefusal("decrypt a foreign ciphertext", notOurs, isMismatch) { () throws(CKKSError) in try d.decrypt(foreign.ciphertext) }
        expectRefusal("serialize a foreign ciphertext", notOurs, isMismatch) { () throws(CKKSError) in try foreign.ciphertext.serialized(context: s.context) }
        expectRefusal("multiply by a foreign plaintext", notOurs, isMismatch) { () throws(CKKSError) in try e.multiply(good, foreign.plaintext) }
        expectRefusal("encrypt a foreign plaintext", notOurs, isMismatch) { () throws(CKKSError) in try encryptor.encrypt(foreign.plaintext) }
        var symmetric = s.decryptor
        expectRefusal("encrypt a foreign plaintext with the secret key", notOurs, isMismatch) { () throws(CKKSError) in
            try symmetric.encryptSymmetric(foreign.plaintext)
        }
        expectRefusal("decode a foreign plaintext", notOurs, isMismatch) { () throws(CKKSError) in try s.context.decode(foreign.plaintext) }
        // the level is the basis of the parts, so a level that disagrees with the limbs can no longer
        // be written (`Ciphertext(parts:scale:level:)` is gone); a basis longer than the chain, or none, is refused
        let n = s.context.degree
        let long = try RNSBasis(degree: n, primes: Primes.nttPrimes(bits: 40, degree: n, count: 10))
        let tooHigh = Ciphertext(parts: [DataPolynomial(zeroIn: long), DataPolynomial(zeroIn: long)], scale: good.scale)
        #expect(tooHigh.level == 9)
        expectRefusal("decrypt at level 9 of a 4-prime chain", "outside 0 … 3", isLevel) { () throws(CKKSError) in try d.decrypt(tooHigh) }
        expectRefusal("a ciphertext of no part (level −1)", "outside 0 … 3", isLevel) { () throws(CKKSError) in
            try e.add(Ciphertext(parts: [], scale: good.scale), good)
        }
        let lower = try e.dropLevel(good, to: 1)
        expectRefusal("parts of levels 3 and 1", notOurs, isMismatch) { () throws(CKKSError) in
            try d.decrypt(Ciphertext(parts: [good.parts[0], lower.parts[1]], scale: good.scale))
        }
        expectRefusal("a ciphertext of one part", notOurs, isMismatch) { () throws(CKKSError) in
            try e.negate(Ciphertext(parts: [good.parts[0]], scale: good.scale))
        }
        // A part in coefficient form, or over Q_ℓ·P, cannot be put in a ciphertext: `parts` holds
        // RNSPolynomial<Evaluation, OverQ> only, so
        //     Ciphertext(parts: [good.parts[0], good.parts[1].inverseNTT()], scale: good.scale)
        // does not compile ("cannot convert RNSPolynomial<Coefficient, OverQ>"); nor does an
        // extended plaintext where a plaintext is expected:
        //     try e.multiply(good, s.context.encodeExtended(s.values(0.1), level: 3))
        // The check that remains dynamic is that of the primes themselves (above).
    }

    @Test("levels, scales and keys that do not fit the operation")
    func operandMismatches() throws {
        let e = s.evaluator
        var encryptor = s.encryptor()
        let top = try encryptor.encrypt(s.values(0.2))
        let lower = try e.dropLevel(top, to: 2)
        expectRefusal("add at levels 3 and 2", "levels 3 and 2", { if case .levelMismatch(3, 2) = $0 { true } else { false } }) { () throws(CKKSError) in
            try e.add(top, lower)
        }
        let otherScale = try encryptor.encrypt(s.context.encode(s.values(0.3), scale: 0x1p30))
        expectRefusal("add at scales 2^40 and 2^30", "scales 2^40.0 and 2^30.0", { if case .scaleMismatch = $0 { true } else { false } }) { () throws(CKKSError) in
            try e.add(top, otherScale)
        }
        expectRefusal("a plaintext at level 2 for a level-3 ciphertext", "levels 3 and 2",
                      { if case .levelMismatch(3, 2) = $0 { true } else { false } }) { () throws(CKKSError) in
            try e.multiply(top, s.context.encode(s.values(0.4), level: 2))
        }
        expectRefusal("drop to level 5", "cannot drop a level-3 ciphertext", { if case .invalidLevel(5, _) = $0 { true } else { false } }) { () throws(CKKSError) in
            try e.dropLevel(top, to: 5)
        }
        expectRefusal("drop to level −1", "cannot drop a level-3 ciphertext", { if case .invalidLevel(-1, _) = $0 { true } else { false } }) { () throws(CKKSError) in
            try e.dropLevel(top, to: -1)
        }
        expectRefusal("rescale at level 0", "cannot be rescaled", { if case .invalidLevel(0, _) = $0 { true } else { false } }) { () throws(CKKSError) in
            try e.rescale(e.dropLevel(top, to: 0))
        }
        expectRefusal("encode at level 4", "outside 0 … 3", { if case .invalidLevel(4, _) = $0 { true } else { false } }) { () throws(CKKSError) in
            try s.context.encode(s.values(0.5), level: 4)
        }
        expectRefusal("rotate without its key", "generate the keys for this step",
                      { if case .missingGaloisKey = $0 { true } else { false } }) { () throws(CKKSError) in
            try e.rotate(top, by: 4, keys: s.galoisKeys)
        }
        expectRefusal("an even Galois element", "generate the keys", { if case .missingGaloisKey(4, _) = $0 { true } else { false } }) { () throws(CKKSError) in
            try e.applyGalois(top, element: 4, keys: s.galoisKeys)
        }
    }

    @Test("key generation at levels the chain does not have, for elements that are not automorphisms")
    func keyGeneration() throws {
        var generator = try KeyGenerator(context: s.context, secretKey: s.generator.secretKey, deterministicSeed: [UInt8](repeating: 4, count: 32))
        func isLevel(_ level: Int) -> (CKKSError) -> Bool { { if case .invalidLevel(level, _) = $0 { true } else { false } } }
        for level in [-1, 4, 100] {
            expectRefusal("relinearization key at level \(level)", "outside 0 … 3", isLevel(level)) { () throws(CKKSError) in
                try generator.relinearizationKey(level: level)
            }
            expectRefusal("Galois keys at level \(level)", "outside 0 … 3", isLevel(level)) { () throws(CKKSError) in
                try generator.galoisKeys(steps: [1], level: level)
            }
            expectRefusal("a rotation key at level \(level)", "outside 0 … 3", isLevel(level)) { () throws(CKKSError) in
                try generator.galoisKeys(rotationLevels: [1: level])
            }
            expectRefusal("a conjugation key at level \(level)", "outside 0 … 3", isLevel(level)) { () throws(CKKSError) in
                try generator.galoisKeys(rotationLevels: [:], conjugationLevel: level)
            }
        }
        for g in [0, 2, 4096, 4097, -3] {
            expectRefusal("Galois element \(g)", "is not an automorphism of Z[X]/(X^2048 + 1): it must be odd and in 1 … 4095",
                          { if case .invalidOperand = $0 { true } else { false } }) { () throws(CKKSError) in
                try generator.galoisKeys(elements: [5, g])
            }
        }
        // the valid ones still work, at the level asked
        #expect(try generator.galoisKeys(elements: [5, 4095], level: 1).entries[4095]?.key.level == 1)
        #expect(try generator.relinearizationKey(level: 0).key.level == 0)
    }

    @Test("the ring layer: even Galois elements and permutations of the wrong size")
    func ringAutomorphisms() throws {
        let basis = s.context.dataBases[0]
        let x = DataPolynomial(zeroIn: basis)
        for g in [4, -5, 4097] {
            expectError(HERingError.self, saying: "Galois element \(g) is not an automorphism of Z[X]/(X^2048 + 1): it must be odd and in 1 … 4095") {
                try x.applyingAutomorphism(galoisElement: g)
            }
        }
        // the coefficient form refuses the same elements
        expectError(HERingError.self, saying: "Galois element 2 is not an automorphism") {
            try x.inverseNTT().applyingAutomorphism(galoisElement: 2)
        }
        #expect(throws: HERingError.invalidArgument("a permutation of 3 NTT slots for N = 2048")) {
            try x.applyingAutomorphism(galoisElement: 5, permutation: [0, 1, 2])
        }
        #expect(throws: HERingError.invalidArgument("ring degree 12 is not a power of two")) {
            try GaloisAutomorphism.permutation(degree: 12, galoisElement: 5)
        }
        #expect(try GaloisAutomorphism.permutation(degree: 2048, galoisElement: 5).count == 2048)
    }
}

/// A randomized misuse driver: random operations of the public API on random operands drawn
/// from a pool of good and bad ones (other contexts, impossible and mismatched levels, scales
/// that differ, malformed ciphertexts, even and missing Galois elements, extended plaintexts at
/// the wrong level). An independent model says, from the operands alone, which error (if any)
/// each call must throw; the call must throw exactly that case — and never trap, which would
/// end the test process.
@Suite("the public API under random misuse")
struct RandomMisuseTests {
    let s = SmallScheme.shared

    /// The error case, without its payload.
    static func kind(_ error: CKKSError) -> String {
        switch error {
        case .levelMismatch: "levelMismatch"
        case .scaleMismatch: "scaleMismatch"
        case .invalidLevel: "invalidLevel"
        case .missingGaloisKey: "missingGaloisKey"
        case .parameterMismatch: "parameterMismatch"
        case .invalidOperand: "invalidOperand"
        default: "other: \(error)"
        }
    }

    /// A ciphertext of the pool and what the model knows of it.
    struct Operand {
        let ciphertext: Ciphertext
        /// nil for a well-formed ciphertext of our context, else the error `checkCiphertext` gives.
        let defect: String?
        let level: Int
        let scale: Double
        let size: Int
    }

    @Test("1200 random calls: each throws exactly the error the model predicts, or succeeds when it predicts none")
    func randomCalls() throws {
        let e = s.evaluator, d = s.decryptor, c = s.context
        var encryptor = s.encryptor(9)
        let top = try encryptor.encrypt(s.values(0.3))
        var pool: [Operand] = []
        for level in 0...3 {
            pool.append(Operand(ciphertext: try e.dropLevel(top, to: level), defect: nil, level: level, scale: top.scale, size: 2))
        }
        let otherScale = try encryptor.encrypt(c.encode(s.values(0.2), scale: 0x1p30))
        pool.append(Operand(ciphertext: otherScale, defect: nil, level: 3, scale: 0x1p30, size: 2))
        let three = try e.multiplyWithoutRelinearization(top, top)
        pool.append(Operand(ciphertext: three, defect: nil, level: 3, scale: three.scale, size: 3))
        pool.append(Operand(ciphertext: MisuseTests.foreign.ciphertext, defect: "parameterMismatch", level: 3, scale: top.scale, size: 2))
        pool.append(Operand(ciphertext: Ciphertext(parts: [], scale: top.scale), defect: "invalidLevel", level: -1, scale: top.scale, size: 0))
        pool.append(Operand(ciphertext: Ciphertext(parts: [top.parts[0]], scale: top.scale), defect: "parameterMismatch",
                            level: 3, scale: top.scale, size: 1))
        let low = pool[1].ciphertext
        pool.append(Operand(ciphertext: Ciphertext(parts: [top.parts[0], low.parts[1]], scale: top.scale), defect: "parameterMismatch",
                            level: 3, scale: top.scale, size: 2))
        // plaintexts: (plaintext, defect, level, scale)
        var plaintexts: [(Plaintext, String?, Int, Double)] = try (0...3).map { (try c.encode(s.values(0.4), level: $0), nil, $0, c.parameters.scale) }
        plaintexts.append((try c.encode(s.values(0.4), scale: 0x1p30), nil, 3, 0x1p30))
        plaintexts.append((MisuseTests.foreign.plaintext, "parameterMismatch", 3, c.parameters.scale))
        let extended = try (0...3).map { try c.encodeExtended(s.values(0.6), level: $0) }
        let keyed = Set(s.galoisKeys.entries.keys)

        var rng = ChaCha20(seed: [UInt8](repeating: 42, count: 32))
        func pick<T>(_ xs: [T]) -> T { xs[Int(rng.next() % UInt64(xs.count))] }
        var counts: [String: Int] = [:]
        for trial in 0..<1200 {
            let a = pick(pool), b = pick(pool)
            let (p, pDefect, pLevel, pScale) = pick(plaintexts)
            let op = Int(rng.next() % 8)
            var expected: String?
            let call: () throws(CKKSError) -> Void
            func sameScale(_ x: Double, _ y: Double) -> Bool { abs(x - y) <= 1e-9 * max(x, y) }
            switch op {
            case 0:
                expected = a.defect ?? b.defect ?? (a.level != b.level ? "levelMismatch" : nil)
                    ?? (sameScale(a.scale, b.scale) ? nil : "scaleMismatch")
                call = { () throws(CKKSError) in _ = try e.add(a.ciphertext, b.ciphertext) }
            case 1:
                // a plaintext's level is checked before its primes
                expected = a.defect ?? (pLevel != a.level ? "levelMismatch" : nil) ?? pDefect
                call = { () throws(CKKSError) in _ = try e.multiply(a.ciphertext, p) }
            case 2:
                expected = a.defect ?? (pLevel != a.level ? "levelMismatch" : nil) ?? pDefect
                    ?? (sameScale(a.scale, pScale) ? nil : "scaleMismatch")
                call = { () throws(CKKSError) in _ = try e.add(a.ciphertext, p) }
            case 3:
                expected = a.defect ?? (a.level == 0 ? "invalidLevel" : nil)
                call = { () throws(CKKSError) in _ = try e.rescale(a.ciphertext) }
            case 4:
                let target = Int(rng.next() % 7) - 2
                expected = a.defect ?? (target < 0 || target > a.level ? "invalidLevel" : nil)
                call = { () throws(CKKSError) in _ = try e.dropLevel(a.ciphertext, to: target) }
            case 5:
                let g = pick([1, 2, 3, 4, 5, 25, 4095, 4096, 125, c.galoisElement(forRotation: 7)])
                expected = a.defect ?? (a.size != 2 ? "invalidOperand" : nil) ?? (g == 1 || keyed.contains(g) ? nil : "missingGaloisKey")
                call = { () throws(CKKSError) in _ = try e.applyGalois(a.ciphertext, element: g, keys: s.galoisKeys) }
            case 6:
                let x = pick(extended), step = pick([0, 1, 2, 4, 7])
                let g = c.galoisElement(forRotation: step)
                expected = a.defect ?? (a.size != 2 ? "invalidOperand" : nil) ?? (x.level != a.level ? "invalidOperand" : nil)
                    ?? (g == 1 || keyed.contains(g) ? nil : "missingGaloisKey")
                call = { () throws(CKKSError) in _ = try e.hoistedMultiplyAccumulate(a.ciphertext, [(step: step, plaintext: x)], keys: s.galoisKeys) }
            default:
                expected = a.defect
                call = { () throws(CKKSError) in _ = try d.decrypt(a.ciphertext) }
            }
            do {
                try call()
                #expect(expected == nil, "trial \(trial), operation \(op): accepted, expected \(expected ?? "")")
                counts["accepted", default: 0] += 1
            } catch {
                #expect(Self.kind(error) == expected, "trial \(trial), operation \(op): \(error), expected \(expected ?? "success")")
                counts[Self.kind(error), default: 0] += 1
            }
        }
        // the draw reached every outcome
        for outcome in ["accepted", "levelMismatch", "scaleMismatch", "invalidLevel", "missingGaloisKey", "parameterMismatch", "invalidOperand"] {
            #expect(counts[outcome, default: 0] > 10, "\(outcome) drawn \(counts[outcome, default: 0]) times")
        }
    }

    @Test("the key-switching steps, the encoder and the embedding refuse what is not theirs")
    func lowerEntries() throws {
        let c = s.context
        var encryptor = s.encryptor(3)
        let good = try encryptor.encrypt(s.values(0.5))
        expectError(CKKSError.self, saying: "not over this context's Q_2") { try c.decompose(good.parts[1], level: 2) }
        expectError(CKKSError.self, saying: "outside 0 … 3") { try c.decompose(good.parts[1], level: 4) }
        let decomposed = try c.decompose(good.parts[1], level: 3)
        var generator = s.generator
        let lowKey = try generator.relinearizationKey(level: 1)
        expectError(CKKSError.self, saying: "operands at levels 1 and 3") { try c.keyProduct(decomposed, key: lowKey.key) }
        let (x0, _) = try c.keyProduct(decomposed, key: s.relinearizationKey.key)
        expectError(CKKSError.self, saying: "not over this context's Q_2·P") { try c.modDown(x0, level: 2) }
        // the three steps compose to keySwitch
        #expect(try c.modDown(x0, level: 3) == c.keySwitch(good.parts[1], level: 3, key: s.relinearizationKey.key).0)
        expectError(CKKSError.self, saying: "ring degree 12 is not a power of two") { try CKKSEncoder(degree: 12) }
        let embedding = try CanonicalEmbedding(degree: 16)
        expectError(CKKSError.self, saying: "degree 3 given to an encoder of degree 16") { try embedding.slots(ofCoefficients: [1, 2, 3]) }
        expectError(CKKSError.self, saying: "9 values do not fit in 8 slots") { try embedding.coefficients(ofSlots: Array(repeating: Complex(1), count: 9)) }
        expectError(CKKSError.self, saying: "degree 5 given to an encoder of degree 2048") { try c.encoder.polynomial(fromRounded: [1, 2, 3, 4, 5], basis: c.dataBases[0]) }
    }
}
