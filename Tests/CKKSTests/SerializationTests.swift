import Foundation
import Testing
import CKKS
import HEARCrypto
import HERing

/// Bytes of an object's header (magic, version, kind, reserved, 16-byte parameter fingerprint)
/// and of its trailing digest.
let headerSize = 24, digestSize = 32

/// Replaces the trailing digest so that a deliberately edited payload reaches validation.
func resealed(_ bytes: [UInt8]) -> [UInt8] {
    let body = Array(bytes.dropLast(digestSize))
    return body + SHA256Tree.hash(body)
}

@Suite("CKKS serialization")
struct SerializationTests {
    let s = SmallScheme.shared

    /// Every object type, serialized, with a decoder that throws on bad input.
    func objects() throws -> [(name: String, bytes: [UInt8], decode: ([UInt8]) throws -> Void)] {
        let c = s.context
        var encryptor = s.encryptor(5)
        var decryptor = s.decryptor
        let pt = try c.encode(s.values(0.3), level: 2)
        let ct = try encryptor.encrypt(s.values(0.1))
        let seeded = try decryptor.encryptSymmetric(c.encode(s.values(0.2)))
        return [
            ("parameters", c.parameters.serialized(), { _ = try CKKSParameters(deserializing: $0) }),
            ("public key", try s.publicKey.serialized(context: c), { _ = try PublicKey(deserializing: $0, context: c) }),
            ("relinearization key", try s.relinearizationKey.serialized(context: c),
             { _ = try RelinearizationKey(deserializing: $0, context: c) }),
            ("Galois keys", try s.galoisKeys.serialized(context: c, elements: [c.galoisElement(forRotation: 1), c.conjugationElement]),
             { _ = try GaloisKeys(deserializing: $0, context: c) }),
            ("secret key", s.generator.secretKey.serialized(), { _ = try SecretKey(deserializing: $0, context: c) }),
            ("plaintext", try pt.serialized(context: c), { _ = try Plaintext(deserializing: $0, context: c) }),
            ("ciphertext", try ct.serialized(context: c), { _ = try Ciphertext(deserializing: $0, context: c) }),
            ("seeded ciphertext", try seeded.serialized(context: c), { _ = try Ciphertext(deserializing: $0, context: c) }),
        ]
    }

    @Test("round trips reproduce every object exactly")
    func roundTrips() throws {
        let c = s.context
        let params = try CKKSParameters(deserializing: c.parameters.serialized())
        #expect(params == c.parameters && params.fingerprint == c.parameters.fingerprint)
        #expect(try PublicKey(deserializing: s.publicKey.serialized(context: c), context: c) == s.publicKey)
        #expect(try RelinearizationKey(deserializing: s.relinearizationKey.serialized(context: c), context: c) == s.relinearizationKey)
        #expect(try GaloisKeys(deserializing: s.galoisKeys.serialized(context: c), context: c) == s.galoisKeys)
        // the secret key: same decryptions
        let sk = try SecretKey(deserializing: s.generator.secretKey.serialized(), context: c)
        var encryptor = s.encryptor(6)
        let ct = try encryptor.encrypt(s.values(0.4))
        #expect(try Decryptor(context: c, secretKey: sk).decrypt(ct) == s.decryptor.decrypt(ct))
        #expect("\(sk)".contains("secret") && !"\(sk)".contains("1, "))
        // plaintexts (normal and extended), ciphertexts (2 and 3 parts, low level, seeded)
        let pt = try c.encode(s.values(1), level: 0), extended = try c.encodeExtended(s.values(2), level: 1)
        #expect(try Plaintext(deserializing: pt.serialized(context: c), context: c) == pt)
        #expect(try ExtendedPlaintext(deserializing: extended.serialized(context: c), context: c) == extended)
        // each refuses the other's file, naming the type to read it with
        expectError(SerializationError.self, saying: "read it as ExtendedPlaintext") {
            try Plaintext(deserializing: extended.serialized(context: c), context: c)
        }
        expectError(SerializationError.self, saying: "read it as Plaintext") {
            try ExtendedPlaintext(deserializing: pt.serialized(context: c), context: c)
        }
        let e = s.evaluator
        let three = try e.multiplyWithoutRelinearization(ct, ct)
        for x in [ct, three, try e.dropLevel(ct, to: 0)] {
            #expect(try Ciphertext(deserializing: x.serialized(context: c), context: c) == x)
        }
        var decryptor = s.decryptor
        let seeded = try decryptor.encryptSymmetric(c.encode(s.values(0.9)))
        let bytes = try seeded.serialized(context: c)
        #expect(try Ciphertext(deserializing: bytes, context: c) == seeded)
        // the seed halves the size of a fresh secret-key ciphertext
        #expect(Double(bytes.count) < 0.51 * Double(try ct.serialized(context: c).count))
    }

    @Test("bit-packed sizes: residues take the width of their prime")
    func packedSizes() throws {
        let c = s.context
        var encryptor = s.encryptor(7)
        let ct = try encryptor.encrypt(s.values(0.4))
        let bitsPerCoefficient = c.parameters.dataPrimeBits.reduce(0, +)
        let payload = 2 * c.degree * bitsPerCoefficient / 8
        let size = try ct.serialized(context: c).count
        #expect(size > payload && size < payload + 96)   // header, level, scale, flags, digest
    }

    @Test("golden digests of one serialized object per type")
    func goldenDigests() throws {
        let digests = Dictionary(uniqueKeysWithValues: try objects().map { ($0.name, hexString(SHA256.hash($0.bytes))) })
        let golden: [String: String] = GoldenDigests.values
        for (name, digest) in digests.sorted(by: { $0.key < $1.key }) {
            #expect(golden[name] == digest, "\(name): digest \(digest)")
        }
    }

    @Test("truncated input is refused with a typed error")
    func truncated() throws {
        for object in try objects() {
            let n = object.bytes.count
            for length in Set([0, 1, 3, 4, 8, 15, 16, 23, 24, 30, 55, 56, n / 3, n / 2, n - 33, n - 32, n - 1]) where length < n {
                #expect(throws: SerializationError.self, "\(object.name) cut at \(length)") {
                    try object.decode(Array(object.bytes.prefix(length)))
                }
            }
            expectError(SerializationError.self, saying: "the SHA-256 digest does not match") { try object.decode(object.bytes + [0]) }
        }
    }

    @Test("bit flips anywhere are refused")
    func bitFlips() throws {
        let rng = ChaCha20(seed: [UInt8](repeating: 11, count: 32))
        for object in try objects() {
            let n = object.bytes.count
            var positions = [0, 4, 6, 7, 8, 15, 16, 23, 24, n - 33, n - 32, n - 1]
            for _ in 0..<12 { positions.append(Int(rng.next() % UInt64(n))) }
            for position in positions {
                var bad = object.bytes
                bad[position] ^= UInt8(1) << UInt8(rng.next() % 8)
                #expect(throws: SerializationError.self, "\(object.name) flipped at \(position)") { try object.decode(bad) }
            }
        }
    }

    @Test("random edits behind a valid digest reach validation and never trap")
    func resealedFuzz() throws {
        let rng = ChaCha20(seed: [UInt8](repeating: 12, count: 32))
        for object in try objects() {
            for _ in 0..<40 {
                var bad = object.bytes
                let position = headerSize + Int(rng.next() % UInt64(bad.count - headerSize - digestSize))   // the payload
                bad[position] = UInt8(truncatingIfNeeded: rng.next())
                // either still a valid object or a typed error: reaching the next line is the test
                do { try object.decode(resealed(bad)) } catch is SerializationError {} catch {
                    Issue.record("\(object.name): untyped error \(error)")
                }
            }
        }
    }

    @Test("objects of another parameter set, another kind, or with invalid content are refused")
    func wrongInputs() throws {
        let c = s.context
        let other = CKKSContext(try CKKSParameters.insecureTesting(degree: 1 << 11, dataPrimeBits: [55, 40, 40, 40],
                                                                  specialPrimeBits: [60, 60], log2Scale: 40, digitCount: 4))
        var encryptor = s.encryptor(8)
        let ct = try encryptor.encrypt(s.values(0.4))
        let bytes = try ct.serialized(context: c)
        #expect(throws: SerializationError.parameterMismatch(expected: other.parameters.fingerprint, found: c.parameters.fingerprint)) {
            try Ciphertext(deserializing: bytes, context: other)
        }
        expectError(SerializationError.self, saying: "belongs to another parameter set") { try RelinearizationKey(deserializing: s.relinearizationKey.serialized(context: c), context: other) }
        #expect(throws: SerializationError.wrongKind(expected: "plaintext", found: 7)) { try Plaintext(deserializing: bytes, context: c) }
        var badMagic = bytes
        badMagic[0] = UInt8(ascii: "X")
        #expect(throws: SerializationError.badMagic) { try Ciphertext(deserializing: badMagic, context: c) }
        var badVersion = bytes
        badVersion[4] = 9
        #expect(throws: SerializationError.unsupportedVersion(9)) { try Ciphertext(deserializing: badVersion, context: c) }
        // a residue ≥ its prime, with a valid digest: the first coefficient of c₀ (55 bits) set
        // to all ones
        var badResidue = bytes
        let firstCoefficient = headerSize + 1 + 1 + 8 + 1
        for i in 0..<7 { badResidue[firstCoefficient + i] = 0xff }
        expectError(SerializationError.self, saying: "is not below its modulus") { _ = try Ciphertext(deserializing: resealed(badResidue), context: c) }
        // a level above the top, with a valid digest
        var badLevel = bytes
        badLevel[headerSize] = 9
        expectError(SerializationError.self, saying: "level 9 above the top level 3") { _ = try Ciphertext(deserializing: resealed(badLevel), context: c) }
        // a parameter file whose chain breaks the security table is refused on load too
        var params = c.parameters.serialized()
        params[params.count - digestSize - 1] = 0   // security standard → he-standard-2018, which N = 2^11 fails
        expectError(SerializationError.self, saying: "exceeds the 128-bit bound 54 for N = 2048") { try CKKSParameters(deserializing: resealed(params)) }
        // an invalid ternary code in a secret key
        var sk = s.generator.secretKey.serialized()
        sk[headerSize] = 0xff
        expectError(SerializationError.self, saying: "invalid ternary code in the secret key") { try SecretKey(deserializing: resealed(sk), context: c) }
    }
}
