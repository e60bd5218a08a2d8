// Versioned, bit-packed, validated binary format for every object that crosses a party boundary.
//
// Layout (little-endian):
//   magic "HEAR" · version u16 · kind u8 · reserved u8 (0) · parameter fingerprint (16 bytes) ·
//   payload · digest: `SHA256Tree` of everything before it (32 bytes)
// The digest detects corruption and, once a party file's signature covers it, forgery too (the
// signed header of a party file lists the digest of each object it holds, so each byte is
// hashed once).
// Residues are bit-packed per limb with the width of that limb's prime (a 31-bit prime takes 31
// bits per coefficient, not 64); uniform polynomials that come from a seed are stored as the
// 32-byte seed. Decoding checks everything (magic, version, kind, fingerprint, digest, level,
// counts, every residue below its prime, every flag) and throws; it never traps.
import Foundation
import HEARCrypto
import HERing

/// Why a serialized object was refused.
public enum SerializationError: Error, Equatable, CustomStringConvertible {
    /// Fewer bytes than the format needs at this point.
    case truncated(needed: Int, available: Int)
    /// The first four bytes are not "HEAR".
    case badMagic
    /// A format version this build does not read.
    case unsupportedVersion(UInt16)
    /// A serialized object of another kind (e.g. a public key where a ciphertext was expected).
    case wrongKind(expected: String, found: UInt8)
    /// The object was made under another parameter set.
    case parameterMismatch(expected: Fingerprint, found: Fingerprint)
    /// The trailing SHA-256 digest does not match the bytes before it.
    case digestMismatch
    /// A field holds a value the format does not allow (a level above the chain, a residue not below its prime, …).
    case invalidValue(String)
    /// Bytes after the end of the object.
    case trailingBytes(Int)

    /// The message a user reads: what is wrong with the bytes and what to do.
    public var description: String {
        switch self {
        case let .truncated(needed, available):
            return "the data is truncated: \(needed) more bytes needed, \(available) available"
        case .badMagic: return "not a HEAR object (the magic bytes 'HEAR' are missing)"
        case let .unsupportedVersion(v):
            return "format version \(v) is not supported (this build reads version \(Serialization.version))"
        case let .wrongKind(expected, found):
            return "expected a serialized \(expected), found object kind \(found)"
        case let .parameterMismatch(expected, found):
            return "the object belongs to another parameter set (fingerprint \(found.hex), "
                + "expected \(expected.hex)): use the parameters it was made with"
        case .digestMismatch: return "the SHA-256 digest does not match: the data is corrupted or was altered"
        case let .invalidValue(what): return "invalid content: \(what)"
        case let .trailingBytes(count): return "\(count) unexpected bytes after the object"
        }
    }
}

/// Format constants.
public enum Serialization {
    /// The four bytes every serialized object starts with: "HEAR".
    public static let magic: [UInt8] = Array("HEAR".utf8)
    /// The format version written (and the only one read).
    public static let version: UInt16 = 3

    /// Object kinds.
    enum Kind: UInt8 {
        case parameters = 1, publicKey, relinearizationKey, galoisKeys, secretKey, plaintext, ciphertext
        var name: String {
            switch self {
            case .parameters: return "parameter set"
            case .publicKey: return "public key"
            case .relinearizationKey: return "relinearization key"
            case .galoisKeys: return "Galois key set"
            case .secretKey: return "secret key"
            case .plaintext: return "plaintext"
            case .ciphertext: return "ciphertext"
            }
        }
    }

    /// Bytes of the header (magic, version, kind, reserved, fingerprint) and of the digest.
    static let headerSize = 24, digestSize = 32

    /// The digest of an object's bytes before the digest (`SHA256Tree`, on the context's
    /// threads; the digest does not depend on them).
    static func digest(_ bytes: ArraySlice<UInt8>, parallelism: Parallelism) -> [UInt8] {
        bytes.withUnsafeBytes { SHA256Tree.hash($0, concurrency: parallelism.threadCount) }
    }

    /// The digest stored at the end of a serialized object (checked when the object is
    /// deserialized; a party file's signed header lists it). Nil when `bytes` is too short.
    public static func storedDigest(of bytes: [UInt8]) -> [UInt8]? {
        guard bytes.count >= headerSize + digestSize else { return nil }
        return Array(bytes.suffix(digestSize))
    }
}

// MARK: Writer and reader

struct ByteWriter {
    var bytes: [UInt8] = []
    let parallelism: Parallelism

    init(kind: Serialization.Kind, fingerprint: Fingerprint, parallelism: Parallelism = .serial) {
        self.parallelism = parallelism
        bytes += Serialization.magic
        append(Serialization.version)
        bytes.append(kind.rawValue)
        bytes.append(0)
        bytes += fingerprint.bytes
    }

    mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
    }

    mutating func append(_ value: Double) { append(value.bitPattern) }
    mutating func append(raw: [UInt8]) { bytes += raw }

    /// Residues of `limbs` limbs of `n` values, limb `i` packed with `widths[i]` bits each.
    mutating func appendPacked(_ data: ArraySlice<UInt64>, n: Int, widths: [Int]) {
        var accumulator: UInt64 = 0, filled = 0
        var index = data.startIndex
        for width in widths {
            for _ in 0..<n {
                let v = data[index]
                index += 1
                accumulator |= v << UInt64(filled)
                let total = filled + width
                if total >= 64 {
                    append(accumulator)
                    accumulator = filled == 0 ? 0 : v >> UInt64(64 - filled)
                    filled = total - 64
                } else {
                    filled = total
                }
            }
        }
        // flush the remaining bits, whole bytes
        var remaining = filled
        while remaining > 0 {
            bytes.append(UInt8(truncatingIfNeeded: accumulator))
            accumulator >>= 8
            remaining -= 8
        }
    }

    /// Finishes with the digest.
    mutating func finish() -> [UInt8] {
        bytes += Serialization.digest(bytes[...], parallelism: parallelism)
        return bytes
    }
}

struct ByteReader {
    let bytes: [UInt8]
    var offset: Int
    let end: Int   // before the digest

    /// Checks magic, version, kind, digest and fingerprint; positions after the header.
    init(_ bytes: [UInt8], kind: Serialization.Kind, fingerprint expected: Fingerprint?,
         parallelism: Parallelism = .serial) throws(SerializationError) {
        self.bytes = bytes
        let minimum = Serialization.headerSize + Serialization.digestSize
        guard bytes.count >= 4, Array(bytes[0..<4]) == Serialization.magic else {
            if bytes.count < 4 { throw .truncated(needed: minimum - bytes.count, available: bytes.count) }
            throw .badMagic
        }
        guard bytes.count >= minimum else { throw .truncated(needed: minimum - bytes.count, available: bytes.count) }
        offset = 4
        end = bytes.count - Serialization.digestSize
        let version: UInt16 = try read()
        guard version == Serialization.version else { throw .unsupportedVersion(version) }
        let foundKind: UInt8 = try read()
        guard foundKind == kind.rawValue else { throw .wrongKind(expected: kind.name, found: foundKind) }
        let reserved: UInt8 = try read()
        guard reserved == 0 else { throw .invalidValue("reserved header byte is \(reserved), expected 0") }
        guard Serialization.digest(bytes[0..<end], parallelism: parallelism) == Array(bytes[end...]) else { throw .digestMismatch }
        let fingerprint = Fingerprint(bytes: try readRaw(Fingerprint.byteCount))!
        if let expected, fingerprint != expected { throw .parameterMismatch(expected: expected, found: fingerprint) }
    }

    var fingerprintInHeader: Fingerprint { Fingerprint(bytes: Array(bytes[8..<24]))! }

    mutating func need(_ count: Int) throws(SerializationError) {
        guard count >= 0, end - offset >= count else { throw .truncated(needed: count, available: max(0, end - offset)) }
    }

    mutating func read<T: FixedWidthInteger>() throws(SerializationError) -> T {
        try need(MemoryLayout<T>.size)
        var v = T.zero
        withUnsafeMutableBytes(of: &v) { $0.copyBytes(from: bytes[offset..<(offset + MemoryLayout<T>.size)]) }
        offset += MemoryLayout<T>.size
        return T(littleEndian: v)
    }

    mutating func readDouble() throws(SerializationError) -> Double { Double(bitPattern: try read()) }

    mutating func readRaw(_ count: Int) throws(SerializationError) -> [UInt8] {
        try need(count)
        defer { offset += count }
        return Array(bytes[offset..<(offset + count)])
    }

    /// Unpacks residues written by `appendPacked`, checking each against its modulus.
    mutating func readPacked(n: Int, moduli: [Modulus]) throws(SerializationError) -> [UInt64] {
        let totalBits = moduli.reduce(0) { $0 + $1.bits } * n
        let byteCount = (totalBits + 7) / 8
        try need(byteCount)
        var out = [UInt64](repeating: 0, count: moduli.count * n)
        var bitPosition = 0
        let base = offset
        var index = 0
        for m in moduli {
            let width = m.bits
            let mask: UInt64 = width == 64 ? ~0 : (1 << UInt64(width)) - 1
            for _ in 0..<n {
                // gather up to 9 bytes covering [bitPosition, bitPosition + width)
                let byte = base + bitPosition >> 3, shift = bitPosition & 7
                var word: UInt64 = 0
                let available = min(8, base + byteCount - byte)
                for b in 0..<available { word |= UInt64(bytes[byte + b]) << UInt64(8 * b) }
                var v = word >> UInt64(shift)
                if shift + width > 64 && byte + 8 < base + byteCount {
                    v |= UInt64(bytes[byte + 8]) << UInt64(64 - shift)
                }
                v &= mask
                guard v < m.q else {
                    throw .invalidValue("residue \(v) of limb modulo \(m.q) is not below its modulus")
                }
                out[index] = v
                index += 1
                bitPosition += width
            }
        }
        // the padding bits of the last byte must be zero
        if totalBits % 8 != 0 {
            let last = bytes[base + byteCount - 1]
            guard last >> UInt8(totalBits % 8) == 0 else { throw .invalidValue("nonzero padding bits") }
        }
        offset += byteCount
        return out
    }

    func finish() throws(SerializationError) {
        guard offset == end else { throw .trailingBytes(end - offset) }
    }
}

func polynomialWidths(_ basis: RNSBasis) -> [Int] { basis.moduli.map(\.bits) }

// MARK: Parameters

extension CKKSParameters {
    /// The parameter set (its defining sizes; the primes are re-derived and checked on load).
    public func serialized() -> [UInt8] {
        var w = ByteWriter(kind: .parameters, fingerprint: fingerprint)
        let nameBytes = Array(name.utf8.prefix(255))
        w.append(UInt8(nameBytes.count))
        w.append(raw: nameBytes)
        w.append(UInt32(degree))
        w.append(UInt8(dataPrimeBits.count))
        w.append(raw: dataPrimeBits.map { UInt8($0) })
        w.append(UInt8(specialPrimeBits.count))
        w.append(raw: specialPrimeBits.map { UInt8($0) })
        w.append(UInt8(log2Scale))
        w.append(UInt8(digitCount))
        w.append(UInt8(SecurityStandard.allCases.firstIndex(of: security)!))
        return w.finish()
    }

    /// Reads a parameter set: every field is validated by the same checks as `init` (including
    /// the security check of the recorded standard), and the fingerprint must match.
    public init(deserializing bytes: [UInt8]) throws(SerializationError) {
        var r = try ByteReader(bytes, kind: .parameters, fingerprint: nil)
        let nameLength: UInt8 = try r.read()
        guard let name = String(bytes: try r.readRaw(Int(nameLength)), encoding: .utf8) else {
            throw .invalidValue("the name is not UTF-8")
        }
        let degree: UInt32 = try r.read()
        let dataCount: UInt8 = try r.read()
        let dataBits = try r.readRaw(Int(dataCount)).map(Int.init)
        let specialCount: UInt8 = try r.read()
        let specialBits = try r.readRaw(Int(specialCount)).map(Int.init)
        let log2Scale: UInt8 = try r.read()
        let digitCount: UInt8 = try r.read()
        let securityIndex: UInt8 = try r.read()
        try r.finish()
        guard Int(securityIndex) < SecurityStandard.allCases.count else { throw .invalidValue("unknown security standard \(securityIndex)") }
        do {
            self = try CKKSParameters(name: name, degree: Int(degree), dataPrimeBits: dataBits, specialPrimeBits: specialBits,
                                      log2Scale: Int(log2Scale), digitCount: Int(digitCount),
                                      security: SecurityStandard.allCases[Int(securityIndex)])
        } catch {
            throw .invalidValue("\(error)")
        }
        guard fingerprint == r.fingerprintInHeader else {
            throw .parameterMismatch(expected: fingerprint, found: r.fingerprintInHeader)
        }
    }
}

// MARK: Ciphertexts and plaintexts

extension Ciphertext {
    /// Bit-packed; a fresh secret-key ciphertext stores the seed of `c₁` instead of `c₁`.
    public func serialized(context: CKKSContext) throws(CKKSError) -> [UInt8] {
        try Evaluator(context: context).checkCiphertext(self)
        var w = ByteWriter(kind: .ciphertext, fingerprint: context.parameters.fingerprint, parallelism: context.parallelism)
        w.append(UInt8(level))
        w.append(UInt8(size))
        w.append(scale)
        let widths = polynomialWidths(context.dataBases[level])
        if let seed, size == 2 {
            w.append(UInt8(1))
            w.append(raw: seed)
            w.appendPacked(parts[0].data[...], n: context.degree, widths: widths)
        } else {
            w.append(UInt8(0))
            for part in parts { w.appendPacked(part.data[...], n: context.degree, widths: widths) }
        }
        return w.finish()
    }

    /// Reads and validates a ciphertext of `context`'s parameter set.
    public init(deserializing bytes: [UInt8], context: CKKSContext) throws(SerializationError) {
        var r = try ByteReader(bytes, kind: .ciphertext, fingerprint: context.parameters.fingerprint, parallelism: context.parallelism)
        let level = Int(try r.read() as UInt8)
        guard level <= context.maxLevel else { throw .invalidValue("level \(level) above the top level \(context.maxLevel)") }
        let size = Int(try r.read() as UInt8)
        guard size == 2 || size == 3 else { throw .invalidValue("a ciphertext has 2 or 3 parts, not \(size)") }
        let scale = try r.readDouble()
        guard scale.isFinite, scale > 0 else { throw .invalidValue("scale \(scale) is not a positive finite number") }
        let seeded: UInt8 = try r.read()
        guard seeded <= 1, seeded == 0 || size == 2 else { throw .invalidValue("bad seed flag \(seeded)") }
        let basis = context.dataBases[level]
        var parts: [DataPolynomial] = []
        var seed: [UInt8]?
        if seeded == 1 {
            let s = try r.readRaw(32)
            seed = s
            let c0 = try r.readPacked(n: context.degree, moduli: basis.moduli)
            parts = [DataPolynomial(basis: basis, trustedData: c0),   // validated by readPacked
                     Sampler.uniformPolynomial(basis: basis, seed: s, domain: Decryptor.seedDomain)]
        } else {
            for _ in 0..<size {
                let data = try r.readPacked(n: context.degree, moduli: basis.moduli)   // validated
                parts.append(DataPolynomial(basis: basis, trustedData: data))
            }
        }
        try r.finish()
        self.init(parts: parts, scale: scale, seed: seed)
    }
}

extension Plaintext {
    /// `level u8 · 0 u8 (not extended) · scale · packed residues`.
    public func serialized(context: CKKSContext) throws(CKKSError) -> [UInt8] {
        try context.checkPlaintext(self, level: level)
        return serializedPlaintext(polynomial.data, level: level, extended: false, scale: scale,
                                   basis: context.dataBases[level], context: context)
    }

    /// Reads a plaintext written by `serialized(context:)`, checking the kind, the parameters' fingerprint, the level, every residue and the digest.
    /// - Throws: `SerializationError` naming the first check that failed.
    public init(deserializing bytes: [UInt8], context: CKKSContext) throws(SerializationError) {
        let (data, level, scale) = try deserializedPlaintext(bytes, extended: false, context: context)
        self.init(polynomial: DataPolynomial(basis: context.dataBases[level], trustedData: data), scale: scale)
    }
}

extension ExtendedPlaintext {
    /// `level u8 · 1 u8 (extended) · scale · packed residues` (the residues of `Q_ℓ·P`).
    public func serialized(context: CKKSContext) throws(CKKSError) -> [UInt8] {
        try context.checkPlaintext(self)
        return serializedPlaintext(polynomial.data, level: level, extended: true, scale: scale,
                                   basis: context.extendedBases[level], context: context)
    }

    /// Reads an extended plaintext written by `serialized(context:)`, with the same checks as `Plaintext`'s.
    /// - Throws: `SerializationError` naming the first check that failed.
    public init(deserializing bytes: [UInt8], context: CKKSContext) throws(SerializationError) {
        let (data, level, scale) = try deserializedPlaintext(bytes, extended: true, context: context)
        self.init(polynomial: ExtendedPolynomial(basis: context.extendedBases[level], trustedData: data), scale: scale,
                  level: level)
    }
}

private func serializedPlaintext(_ data: [UInt64], level: Int, extended: Bool, scale: Double, basis: RNSBasis,
                                 context: CKKSContext) -> [UInt8] {
    var w = ByteWriter(kind: .plaintext, fingerprint: context.parameters.fingerprint, parallelism: context.parallelism)
    w.append(UInt8(level))
    w.append(UInt8(extended ? 1 : 0))
    w.append(scale)
    w.appendPacked(data[...], n: context.degree, widths: polynomialWidths(basis))
    return w.finish()
}

/// The residues (validated below their moduli), level and scale of a plaintext file of the
/// expected kind (a plaintext over `Q_ℓ`, or an extended one over `Q_ℓ·P`).
private func deserializedPlaintext(_ bytes: [UInt8], extended expected: Bool,
                                   context: CKKSContext) throws(SerializationError) -> ([UInt64], Int, Double) {
    var r = try ByteReader(bytes, kind: .plaintext, fingerprint: context.parameters.fingerprint, parallelism: context.parallelism)
    let level = Int(try r.read() as UInt8)
    guard level <= context.maxLevel else { throw .invalidValue("level \(level) above the top level \(context.maxLevel)") }
    let extended: UInt8 = try r.read()
    guard extended <= 1 else { throw .invalidValue("bad extended flag \(extended)") }
    guard (extended == 1) == expected else {
        throw .invalidValue(expected ? "a plaintext over Q_ℓ, not an extended one (read it as Plaintext)"
                                     : "an extended plaintext over Q_ℓ·P (read it as ExtendedPlaintext)")
    }
    let scale = try r.readDouble()
    guard scale.isFinite, scale > 0 else { throw .invalidValue("scale \(scale) is not a positive finite number") }
    let basis = expected ? context.extendedBases[level] : context.dataBases[level]
    let data = try r.readPacked(n: context.degree, moduli: basis.moduli)   // validated
    try r.finish()
    return (data, level, scale)
}

// MARK: Keys

extension PublicKey {
    /// The seed of `a` and the packed `b`.
    public func serialized(context: CKKSContext) throws(CKKSError) -> [UInt8] {
        guard parametersFingerprint == context.parameters.fingerprint else {
            throw .parameterMismatch("the public key belongs to another parameter set")
        }
        var w = ByteWriter(kind: .publicKey, fingerprint: parametersFingerprint, parallelism: context.parallelism)
        w.append(raw: seed)
        w.appendPacked(b.data[...], n: context.degree, widths: polynomialWidths(context.keyBasis))
        return w.finish()
    }

    /// Reads a public key written by `serialized(context:)`: expands `a` from the seed and checks `b`'s residues and the digest.
    /// - Throws: `SerializationError` naming the first check that failed.
    public init(deserializing bytes: [UInt8], context: CKKSContext) throws(SerializationError) {
        var r = try ByteReader(bytes, kind: .publicKey, fingerprint: context.parameters.fingerprint, parallelism: context.parallelism)
        let seed = try r.readRaw(32)
        let basis = context.keyBasis
        let b = try r.readPacked(n: context.degree, moduli: basis.moduli)
        try r.finish()
        self.init(parametersFingerprint: context.parameters.fingerprint,
                  b: ExtendedPolynomial(basis: basis, trustedData: b),   // validated by readPacked
                  a: Sampler.uniformPolynomial(basis: basis, seed: seed, domain: KeyGenerator.publicKeyDomain),
                  seed: seed)
    }
}

extension KeySwitchingKey {
    /// `level u8 · digits u8 · seed · packed b` (the `a_j` follow from the seed).
    func write(to w: inout ByteWriter, context: CKKSContext) {
        w.append(UInt8(level))
        w.append(UInt8(digitCount))
        w.append(raw: seed)
        w.appendPacked(b[...], n: context.degree,
                       widths: Array(repeating: polynomialWidths(context.extendedBases[level]), count: digitCount).flatMap { $0 })
    }

    static func read(from r: inout ByteReader, context: CKKSContext) throws(SerializationError) -> KeySwitchingKey {
        let level = Int(try r.read() as UInt8)
        guard level <= context.maxLevel else { throw .invalidValue("key level \(level) above the top level \(context.maxLevel)") }
        let digits = Int(try r.read() as UInt8)
        let expected = context.keySwitching[level].digits.count
        guard digits == expected else { throw .invalidValue("\(digits) key-switching digits at level \(level), expected \(expected)") }
        let seed = try r.readRaw(32)
        let basis = context.extendedBases[level]
        let b = try r.readPacked(n: context.degree, moduli: Array(repeating: basis.moduli, count: digits).flatMap { $0 })
        var a: [UInt64] = []
        a.reserveCapacity(b.count)
        for j in 0..<digits {
            a += (Sampler.uniformPolynomial(basis: basis, seed: seed, domain: UInt64(j)) as ExtendedPolynomial).data
        }
        return KeySwitchingKey(parametersFingerprint: context.parameters.fingerprint, level: level, digitCount: digits,
                               basis: basis, b: b, a: a, seed: seed)
    }
}

extension RelinearizationKey {
    /// The header, then `level u8 · digits u8 · seed · packed b_j` (the `a_j` follow from the seed), then the digest.
    /// - Throws: `CKKSError.parameterMismatch` when the key belongs to another parameter set.
    public func serialized(context: CKKSContext) throws(CKKSError) -> [UInt8] {
        guard key.parametersFingerprint == context.parameters.fingerprint else {
            throw .parameterMismatch("the relinearization key belongs to another parameter set")
        }
        var w = ByteWriter(kind: .relinearizationKey, fingerprint: key.parametersFingerprint, parallelism: context.parallelism)
        key.write(to: &w, context: context)
        return w.finish()
    }

    /// Reads a relinearization key written by `serialized(context:)`, checking its shape against the context and every residue.
    /// - Throws: `SerializationError` naming the first check that failed.
    public init(deserializing bytes: [UInt8], context: CKKSContext) throws(SerializationError) {
        var r = try ByteReader(bytes, kind: .relinearizationKey, fingerprint: context.parameters.fingerprint, parallelism: context.parallelism)
        let key = try KeySwitchingKey.read(from: &r, context: context)
        try r.finish()
        self.init(key: key)
    }
}

extension GaloisKeys {
    /// All keys, or only those of `elements`.
    public func serialized(context: CKKSContext, elements: [Int]? = nil) throws(CKKSError) -> [UInt8] {
        guard parametersFingerprint == context.parameters.fingerprint else {
            throw .parameterMismatch("the Galois keys belong to another parameter set")
        }
        let chosen = (elements ?? galoisElements).sorted()
        var w = ByteWriter(kind: .galoisKeys, fingerprint: parametersFingerprint, parallelism: context.parallelism)
        w.append(UInt32(chosen.count))
        for g in chosen {
            guard let entry = entries[g] else { throw .missingGaloisKey(galoisElement: g, description: "serialization") }
            w.append(UInt32(g))
            entry.key.write(to: &w, context: context)
        }
        return w.finish()
    }

    /// Reads Galois keys written by `serialized(context:)`: every Galois element valid and listed once, every key's shape and residues checked; the permutations are recomputed, not read.
    /// - Throws: `SerializationError` naming the first check that failed.
    public init(deserializing bytes: [UInt8], context: CKKSContext) throws(SerializationError) {
        var r = try ByteReader(bytes, kind: .galoisKeys, fingerprint: context.parameters.fingerprint, parallelism: context.parallelism)
        let count = Int(try r.read() as UInt32)
        guard count <= context.degree else { throw .invalidValue("\(count) Galois keys: more than the group has") }
        var entries: [Int: Entry] = [:]
        for _ in 0..<count {
            let g = Int(try r.read() as UInt32)
            guard g != 1 else { throw .invalidValue("Galois element 1 (the identity) needs no key") }
            if let problem = GaloisAutomorphism.problem(withElement: g, degree: context.degree) { throw .invalidValue(problem) }
            guard entries[g] == nil else { throw .invalidValue("Galois element \(g) appears twice") }
            let key = try KeySwitchingKey.read(from: &r, context: context)
            entries[g] = Entry(galoisElement: g, key: key,
                               permutation: GaloisAutomorphism.permutation(degree: context.degree, validatedElement: g))
        }
        try r.finish()
        self.init(parametersFingerprint: context.parameters.fingerprint, entries: entries)
    }
}

extension SecretKey {
    /// The ternary coefficients, two bits each (0 → 00, 1 → 01, −1 → 10). Handle the bytes
    /// as secret: write them only where the key belongs (the client or the nursing station).
    public func serialized() -> [UInt8] {
        var w = ByteWriter(kind: .secretKey, fingerprint: parametersFingerprint)
        var packed = [UInt8](repeating: 0, count: (degree + 3) / 4)
        // the exact size up front: no reallocation leaves a copy of the key behind in freed memory
        w.bytes.reserveCapacity(w.bytes.count + packed.count + Serialization.digestSize)
        for k in 0..<degree {
            let c = coefficients[k]
            let code: UInt8 = c == 1 ? 1 : (c == -1 ? 2 : 0)
            packed[k >> 2] |= code << UInt8(2 * (k & 3))
        }
        w.append(raw: packed)
        packed.withUnsafeMutableBytes { wipe($0) }
        return w.finish()   // the one copy: the caller's (it wipes it after writing)
    }

    /// Reads a secret key written by `serialized(context:)`, checking that every coefficient is ternary.
    /// - Throws: `SerializationError` naming the first check that failed.
    public convenience init(deserializing bytes: [UInt8], context: CKKSContext) throws(SerializationError) {
        var r = try ByteReader(bytes, kind: .secretKey, fingerprint: context.parameters.fingerprint, parallelism: context.parallelism)
        let n = context.degree
        var packed = try r.readRaw((n + 3) / 4)
        try r.finish()
        defer { packed.withUnsafeMutableBytes { wipe($0) } }
        var coefficients = [Int8](repeating: 0, count: n)
        defer { coefficients.withUnsafeMutableBytes { wipe($0) } }
        for k in 0..<n {
            let code = (packed[k >> 2] >> UInt8(2 * (k & 3))) & 3
            guard code != 3 else { throw .invalidValue("invalid ternary code in the secret key") }
            coefficients[k] = code == 1 ? 1 : (code == 2 ? -1 : 0)
        }
        if n % 4 != 0, packed[packed.count - 1] >> UInt8(2 * (n % 4)) != 0 {
            throw .invalidValue("nonzero padding bits in the secret key")
        }
        self.init(context: context, coefficients: coefficients)
    }
}
