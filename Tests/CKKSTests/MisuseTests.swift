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
        // a level the chain does not have, and a level that does not match the limbs
        let tooHigh = Ciphertext(parts: good.parts, scale: good.scale, level: 9)
        expectRefusal("decrypt at level 9 of a 4-prime chain", "outside 0 … 3", isLevel) { () throws(CKKSError) in try d.decrypt(tooHigh) }
        expectRefusal("add at level −1", "outside 0 … 3", isLevel) { () throws(CKKSError) in
            try e.add(Ciphertext(parts: good.parts, scale: good.scale, level: -1), good)
        }
        let mislabelled = Ciphertext(parts: good.parts, scale: good.scale, level: 1)
        expectRefusal("decrypt limbs of level 3 labelled level 1", notOurs, isMismatch) { () throws(CKKSError) in try d.decrypt(mislabelled) }
        expectRefusal("a ciphertext of one part", notOurs, isMismatch) { () throws(CKKSError) in
            try e.negate(Ciphertext(parts: [good.parts[0]], scale: good.scale, level: good.level))
        }
        expectRefusal("a ciphertext of no part", notOurs, isMismatch) { () throws(CKKSError) in
            try d.decrypt(Ciphertext(parts: [], scale: good.scale, level: good.level))
        }
        var coefficients = good.parts[1]
        coefficients.inverseNTT()
        expectRefusal("a part in coefficient form", notOurs, isMismatch) { () throws(CKKSError) in
            try e.square(Ciphertext(parts: [good.parts[0], coefficients], scale: good.scale, level: good.level),
                         relinearizationKey: s.relinearizationKey)
        }
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
            expectRefusal("Galois element \(g)", "is not an automorphism of the ring",
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
        let x = RNSPolynomial(zeroIn: basis, form: .ntt)
        #expect(throws: HERingError.invalidArgument("Galois element 4 is even: X → X^g is an automorphism of Z[X]/(X^N + 1) only for odd g")) {
            try x.applyingAutomorphism(galoisElement: 4)
        }
        #expect(throws: HERingError.invalidArgument("a permutation of 3 NTT slots for N = 2048")) {
            try x.applyingAutomorphism(galoisElement: 5, permutation: [0, 1, 2])
        }
        #expect(throws: HERingError.invalidArgument("ring degree 12 is not a power of two")) {
            try RNSPolynomial.automorphismPermutation(degree: 12, galoisElement: 5)
        }
        #expect(try RNSPolynomial.automorphismPermutation(degree: 2048, galoisElement: 5).count == 2048)
    }
}
