// The files that cross between the three parties, and the session they all belong to.
//
// Every file is one container, signed by the party that wrote it:
//
//   magic "HEARFILE" · version u16 (2) · kind u8 · section count u8 · descriptor length u32 ·
//   provenance length u32 · per section: length u64 · digest (32 bytes) ·
//   session descriptor (UTF-8 JSON) · provenance (UTF-8 JSON) ·
//   signer's Ed25519 public key (32) · Ed25519 signature of every byte before it (64) ·
//   sections
//
// The sections are objects in the CKKS serialization format (`Serialization.swift`: bit-packed,
// each with its own header, parameter fingerprint and trailing `SHA256Tree` digest); the first is
// always the CKKS parameter set. The header lists each section's digest, so the signature over
// the header covers every byte of the file while each byte is hashed once (when its object is
// decoded). Which sections follow depends on the kind:
//
//   parameters        (the session only)                       signed by the station
//   public key        public key                               station → clients
//   evaluation keys   relinearization key · Galois keys         station → the cloud server
//   secret key        secret key                               stays at the monitoring station
//   input ciphertext  ciphertext (at the plan's start level)   camera → cloud (camera-signed)
//   result ciphertext ciphertext (the plan's result level)     cloud → station (cloud-signed)
//
// The descriptor names the model plan (model fingerprint, method, strategies, packing, levels,
// key levels: `planFingerprint`) and the key set (`keySetID`, from the public key), so that a
// loader can say exactly which two files do not belong together. The provenance says who signed
// (the station; or a camera or cloud server with the station's certificate), the camera's
// sequence number, and for a result the signed header of the input it was computed from.
import CKKS
import Foundation
import HEARCrypto
import HERing
import HETensor

/// Why a party file or a party's input was refused. `source` names the file (or "the input").
public enum ProtocolError: Error, Equatable, CustomStringConvertible {
    /// Not a HEAR party file (no "HEARFILE" magic).
    case notAPartyFile(source: String)
    /// Text where a party file was expected: most likely two arguments swapped.
    case textNotPartyFile(source: String)
    /// A file format version this build does not read.
    case unsupportedVersion(source: String, version: UInt16)
    /// Another kind of file than the one asked for.
    case wrongKind(source: String, expected: String, found: String)
    /// A secret key offered to the cloud server, which must never hold one.
    case secretKeyRefused(source: String)
    /// Cut short, corrupted, altered or with invalid content.
    case damaged(source: String, reason: String)
    /// Two objects that do not belong together; the text says which and how they differ.
    case mismatch(String)
    /// Signed by a party this one does not trust (another station, an uncertified camera).
    case untrusted(String)
    /// A sequence number already seen for this camera.
    case replayed(String)
    /// Parameters without security (the insecure test sets) are refused for real parties.
    case insecureParameters(source: String, name: String)
    /// A value a party cannot use.
    case invalidInput(String)
    /// The operating system gave no randomness (keys cannot be made).
    case entropyUnavailable(String)
    /// A file could not be read.
    case cannotRead(path: String, reason: String)
    /// A file could not be written.
    case cannotWrite(path: String, reason: String)

    /// The message a user reads: which file, what is wrong and what to do.
    public var description: String {
        switch self {
        case let .notAPartyFile(source):
            return "\(source) is not a HEAR key or ciphertext file (the magic bytes 'HEARFILE' are missing)"
        case let .textNotPartyFile(source):
            return "\(source) is a text file (a keypoint CSV?), not a HEAR key or ciphertext file: are two arguments swapped?"
        case let .unsupportedVersion(source, version):
            return "\(source) has file format version \(version); this build reads version \(PartyFile.version)"
        case let .wrongKind(source, expected, found):
            return "\(source) holds \(found), not \(expected)"
        case let .secretKeyRefused(source):
            return "\(source) holds a SECRET KEY, which only the monitoring station may hold: refused "
                + "(the cloud server takes evaluation-keys.hear, a client public-key.hear)"
        case let .damaged(source, reason):
            return "\(source) is damaged: \(reason)"
        case let .mismatch(text), let .untrusted(text), let .replayed(text), let .invalidInput(text): return text
        case let .insecureParameters(source, name):
            return "\(source) uses the parameter set '\(name)', which has NO SECURITY (a test set): refused"
        case let .entropyUnavailable(reason): return "no randomness from the operating system: \(reason)"
        case let .cannotRead(path, reason): return "cannot read \(path): \(reason)"
        case let .cannotWrite(path, reason): return "cannot write \(path): \(reason)"
        }
    }
}

/// The kinds of party files.
public enum PartyFileKind: UInt8, Sendable, CaseIterable {
    /// The session's CKKS parameters and descriptor (station → camera, cloud).
    case parameters = 1
    /// The session's public encryption key (station → camera).
    case publicKey
    /// The relinearization and Galois keys (station → cloud).
    case evaluationKeys
    /// The session's secret key (kept by the station, never sent).
    case secretKey
    /// An encrypted clip (camera → cloud).
    case inputCiphertext
    /// The encrypted class scores (cloud → station).
    case resultCiphertext

    /// With an article, for messages ("holds a secret key, not an input ciphertext").
    public var name: String {
        switch self {
        case .parameters: return "the session parameters"
        case .publicKey: return "a public key"
        case .evaluationKeys: return "evaluation keys"
        case .secretKey: return "a secret key"
        case .inputCiphertext: return "an input ciphertext"
        case .resultCiphertext: return "a result ciphertext"
        }
    }

    /// The kind of a party file's bytes, or nil when they are not one.
    public static func of(_ bytes: [UInt8]) -> PartyFileKind? { PartyFile.kind(of: bytes) }

    /// The CKKS sections after the parameter set.
    var sectionCount: Int {
        switch self {
        case .parameters: return 1
        case .evaluationKeys: return 3
        default: return 2
        }
    }
}

/// What every file of one key generation agrees on: the model plan, the parameter set, the
/// encodings of the input and the result, and the key set. Stored as JSON in each file.
public struct SessionDescriptor: Codable, Sendable, Equatable {
    /// The model's name and `HEARModel.fingerprint` (32 hex digits).
    public var modelName: String
    /// `HEARModel.fingerprint` of the model (32 hex digits).
    public var modelFingerprint: String
    /// `cnn2d-64`, …
    public var architecture: String
    /// The class names, in score order.
    public var classNames: [String]
    /// The class that raises an alert (`fall`).
    public var alertClass: Int
    /// `fast-hear` or `hear`; the strategies as requested (`auto` or a strategy per block) and as
    /// compiled; the packing option and the packing compiled per block.
    public var method: String
    /// The strategies as requested: `auto` or one per block.
    public var requestedStrategies: [String]
    /// The strategies compiled, one per block.
    public var strategies: [String]
    /// The packing option (`auto`, `real` or `complex`).
    public var packing: String
    /// Whether each block's convolution was compiled with complex patterns.
    public var complexPacked: [Bool]
    /// The CKKS parameter set (name and fingerprint; the set itself is the file's first section).
    public var parameters: String
    /// The parameter set's fingerprint (32 hex digits).
    public var parametersFingerprint: String
    /// The client's encoding: encrypted input channels, level and scale of the input ciphertext.
    public var inputChannels: Int
    /// The level the input ciphertext is encrypted at.
    public var inputLevel: Int
    /// The scale of the input ciphertext.
    public var inputScale: Double
    /// The station's decoding: the slot of each class score in the result.
    public var outputSlots: [Int]
    /// The level and scale of the result ciphertext the plan produces (the station refuses any other).
    public var resultLevel: Int
    /// The scale of the result ciphertext.
    public var resultScale: Double
    /// The largest |class score| the station accepts: a result beyond it is no evaluation of this
    /// model on a real recording (see `MonitoringStation.generateKeys`).
    public var scoreBound: Double
    /// A fingerprint of everything above and of the key levels: files with the same plan
    /// fingerprint were made for the same computation.
    public var planFingerprint: String
    /// Which key generation the files come from (a fingerprint of the public key's seed).
    public var keySetID: String

    /// The descriptor of a compiled model (`keySetID` is filled in by key generation).
    init(network: FoldedNetwork, program: PackedProgram, plan: LevelPlan, parameters: CKKSParameters,
         requestedStrategies: [ConvolutionStrategy?], packing: ChannelPacking, scoreBound: Double) {
        modelName = Self.safeName(network.modelName)
        modelFingerprint = network.modelFingerprint.hex
        architecture = network.architecture.name
        classNames = network.classNames
        alertClass = network.classNames.firstIndex(of: "fall") ?? HEARTestSet.fallClass
        method = program.method.rawValue
        self.requestedStrategies = (0..<NetworkArchitecture.blockCount).map { t in
            t < requestedStrategies.count ? requestedStrategies[t]?.rawValue ?? "auto" : "auto"
        }
        strategies = program.strategies.map(\.rawValue)
        self.packing = packing.rawValue
        complexPacked = program.complexPacked
        self.parameters = parameters.name
        parametersFingerprint = parameters.fingerprint.hex
        inputChannels = program.inputLayout.channels
        inputLevel = plan.startLevel
        inputScale = plan.inputScale
        outputSlots = program.outputSlots
        resultLevel = plan.registerLevels[program.outputRegister]
        resultScale = plan.registerScales[program.outputRegister]
        self.scoreBound = scoreBound
        keySetID = ""
        var hash = FingerprintHasher(domain: "HEAR model plan 1")
        hash.mix(bytes: network.modelFingerprint.bytes)
        hash.mix(bytes: parameters.fingerprint.bytes)
        hash.mix(method)
        strategies.forEach { hash.mix($0) }
        complexPacked.forEach { hash.mix($0 ? 1 : 0) }
        hash.mix(inputChannels)
        hash.mix(inputLevel)
        hash.mix(inputScale)
        hash.mix(outputSlots.count)
        outputSlots.forEach { hash.mix($0) }
        hash.mix(resultLevel)
        hash.mix(resultScale)
        hash.mix(plan.rotationLevels.count)
        for (step, level) in plan.rotationLevels.sorted(by: { $0.key < $1.key }) {
            hash.mix(step)
            hash.mix(level)
        }
        hash.mix(plan.relinearizationLevel)
        hash.mix(plan.conjugationLevel.map { $0 + 1 } ?? 0)
        planFingerprint = hash.finalize().hex
    }

    /// A model name as files record it: letters, digits, '.', '_' and '-' (others become '_'),
    /// at most 64 characters, never empty (names reach terminals and file names).
    static func safeName(_ name: String) -> String {
        let kept = String(name.unicodeScalars.prefix(64).map { c -> Character in
            let v = c.value
            return (48...57).contains(v) || (65...90).contains(v) || (97...122).contains(v) || v == 46 || v == 95 || v == 45 ? Character(c) : "_"
        })
        return kept.isEmpty ? "model" : kept
    }

    /// The compile options it records.
    var compileOptions: (method: HEMethod, strategies: [ConvolutionStrategy?], packing: ChannelPacking)? {
        guard let method = HEMethod(rawValue: method), let packing = ChannelPacking(rawValue: packing) else { return nil }
        var strategies: [ConvolutionStrategy?] = []
        for name in requestedStrategies {
            if name == "auto" { strategies.append(nil); continue }
            guard let s = ConvolutionStrategy(rawValue: name) else { return nil }
            strategies.append(s)
        }
        return (method, strategies, packing)
    }

    /// Checks the fields against the parameter set of the file; `source` names the file.
    func validate(parameters: CKKSParameters, source: String) throws(ProtocolError) {
        func bad(_ reason: String) -> ProtocolError { .damaged(source: source, reason: "invalid session descriptor: \(reason)") }
        func isHex(_ s: String) -> Bool { Fingerprint(hex: s)?.hex == s }
        guard let architecture = NetworkArchitecture(name: architecture) else { throw bad("unknown architecture '\(self.architecture)'") }
        guard classNames.count == NetworkArchitecture.classCount, classNames.indices.contains(alertClass) else {
            throw bad("expected \(NetworkArchitecture.classCount) class names and an alert class among them")
        }
        guard compileOptions != nil, requestedStrategies.count == NetworkArchitecture.blockCount,
              strategies.count == NetworkArchitecture.blockCount, complexPacked.count == NetworkArchitecture.blockCount,
              strategies.allSatisfy({ ConvolutionStrategy(rawValue: $0) != nil }) else {
            throw bad("unknown method, strategy or packing")
        }
        guard isHex(modelFingerprint), isHex(parametersFingerprint), isHex(planFingerprint), isHex(keySetID) else {
            throw bad("a fingerprint is not 32 lower-case hexadecimal digits")
        }
        guard isValidIdentityName(modelName) else { throw bad("the model name is not 1–64 letters, digits, '.', '_' or '-'") }
        guard classNames.allSatisfy(isValidIdentityName), self.parameters.utf8.count <= 64, self.parameters.unicodeScalars.allSatisfy({ (33...126).contains($0.value) }) else {
            throw bad("a class or parameter-set name has characters outside letters, digits and punctuation")
        }
        guard parametersFingerprint == parameters.fingerprint.hex, self.parameters == parameters.name else {
            throw bad("it names parameter set '\(self.parameters)' (\(parametersFingerprint)), the file holds '\(parameters.name)' "
                      + "(\(parameters.fingerprint.hex))")
        }
        let blocks = parameters.slotCount / SlotGeometry.blockSize
        guard parameters.slotCount % SlotGeometry.blockSize == 0, blocks >= NetworkArchitecture.classCount else {
            throw bad("parameter set '\(parameters.name)' has too few slots for the networks (\(parameters.slotCount))")
        }
        guard (1...ActionInput.channels).contains(inputChannels), blocks % inputChannels == 0 else { throw bad("\(inputChannels) input channels") }
        guard (0...parameters.maxLevel).contains(inputLevel) else { throw bad("input level \(inputLevel) outside 0…\(parameters.maxLevel)") }
        guard inputScale.isFinite, inputScale >= 1 else { throw bad("input scale \(inputScale)") }
        guard outputSlots.count == NetworkArchitecture.classCount, outputSlots.allSatisfy({ (0..<parameters.slotCount).contains($0) }) else {
            throw bad("the result slots are not \(NetworkArchitecture.classCount) slots below \(parameters.slotCount)")
        }
        guard (0...inputLevel).contains(resultLevel), resultScale.isFinite, resultScale >= 1 else {
            throw bad("result level \(resultLevel), scale \(resultScale)")
        }
        guard scoreBound.isFinite, scoreBound > 0 else { throw bad("score bound \(scoreBound)") }
        _ = architecture
    }

    /// The compiled plan in one line: "fast-hear, strategies giant,baby,baby, packing complex,…, plan 1a2b…".
    public var planSummary: String {
        "\(method), strategies \(strategies.joined(separator: ",")), packing "
            + complexPacked.map { $0 ? "complex" : "real" }.joined(separator: ",") + ", plan \(planFingerprint)"
    }

    /// One line for messages: "model cnn2d-64 (3f2c…), fast-hear, plan 1a2b…, key set 9c8d…".
    public var summary: String {
        "model '\(modelName)' (\(modelFingerprint)), \(method), parameters '\(parameters)', plan \(planFingerprint), key set \(keySetID)"
    }

    /// Reads only the session of a party file of any kind, with who signed it (checking the
    /// container, the signature and the parameter set; key material is not decoded, and the
    /// signer is not checked against any trust: for `hear inspect`).
    public static func read(from bytes: [UInt8], source: String) throws(ProtocolError)
        -> (kind: PartyFileKind, session: SessionDescriptor, signer: PartyRole, signerFingerprint: Fingerprint, sequence: UInt64?) {
        guard let kind = PartyFileKind.of(bytes) else { throw .notAPartyFile(source: source) }
        var (file, _) = try PartyFile.read(bytes, expected: kind, source: source, allowingInsecure: true)
        for i in file.sections.indices { file.sections[i].withUnsafeMutableBytes { wipe($0) } }
        return (kind, file.session, file.provenance.signer, identityFingerprint(file.signer), file.provenance.sequence)
    }

    /// Why `other` (from `otherSource`) does not belong with this one (from `source`), or nil.
    public func mismatch(with other: SessionDescriptor, source: String, otherSource: String) -> ProtocolError? {
        if parametersFingerprint != other.parametersFingerprint {
            return .mismatch("\(otherSource) belongs to parameter set '\(other.parameters)' (\(other.parametersFingerprint)), "
                             + "\(source) to '\(parameters)' (\(parametersFingerprint)): they come from different key generations")
        }
        if planFingerprint != other.planFingerprint {
            var differences: [String] = []
            if method != other.method { differences.append("method \(other.method) vs \(method)") }
            if strategies != other.strategies {
                differences.append("strategies \(other.strategies.joined(separator: ",")) vs \(strategies.joined(separator: ","))")
            }
            if complexPacked != other.complexPacked { differences.append("packing \(other.packing) vs \(packing)") }
            let models = modelFingerprint == other.modelFingerprint
                ? "the same model with another plan" + (differences.isEmpty ? "" : " (\(differences.joined(separator: ", ")))")
                : "model '\(other.modelName)' (\(other.modelFingerprint)) vs '\(modelName)' (\(modelFingerprint))"
            return .mismatch("\(otherSource) was made for model plan \(other.planFingerprint), \(source) for plan "
                             + "\(planFingerprint): \(models)")
        }
        if keySetID != other.keySetID {
            return .mismatch("\(otherSource) belongs to key set \(other.keySetID), \(source) to key set \(keySetID): "
                             + "the same model plan, but keys from two different key generations")
        }
        return nil
    }
}

/// Where a party file comes from, as its signer states it (JSON in the signed header).
struct Provenance: Codable, Sendable, Equatable {
    /// The signer's role: the station for the session and keys, a camera for an input, a cloud
    /// server for a result.
    var signer: PartyRole
    /// For a camera or a cloud server: the station's certificate of the signing key.
    var certificate: Certificate?
    /// For an input or a result: the camera's sequence number of the recording.
    var sequence: UInt64?
    /// For a result: the signed header of the input ciphertext it was computed from (base64).
    var input: String?
    /// For an input from a stream (`hear monitor`): the camera-clock times of the window's first
    /// and last frame. Optional: files without it read as before.
    var captured: CaptureWindow?

    static func station() -> Provenance { Provenance(signer: .station) }
}

/// One party file in memory: kind, session, provenance, the CKKS sections (parameters first),
/// and, once read, the signer's key and the signed header.
struct PartyFile {
    static let magic: [UInt8] = Array("HEARFILE".utf8)
    static let version: UInt16 = 2
    /// Fixed part of the header: magic, version, kind, section count, two lengths.
    static let fixedHeader = 20
    static let digestSize = 32, keySize = 32, signatureSize = 64

    var kind: PartyFileKind
    var session: SessionDescriptor
    var provenance: Provenance
    var sections: [[UInt8]]
    /// The signer's public key (set by `read`).
    var signer: [UInt8] = []
    /// The signed header, signature included (set by `read`).
    var header: [UInt8] = []

    init(kind: PartyFileKind, session: SessionDescriptor, provenance: Provenance, sections: [[UInt8]]) {
        self.kind = kind
        self.session = session
        self.provenance = provenance
        self.sections = sections
    }

    static func json<T: Encodable>(_ value: T) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array(try! encoder.encode(value))
    }

    /// The file, signed by `identity`.
    func serialized(signedBy identity: SigningIdentity) -> [UInt8] {
        let descriptor = Self.json(session), provenance = Self.json(self.provenance)
        var bytes = Self.magic
        func append<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
        append(Self.version)
        append(kind.rawValue)
        append(UInt8(sections.count))
        append(UInt32(descriptor.count))
        append(UInt32(provenance.count))
        for section in sections {
            append(UInt64(section.count))
            bytes += Serialization.storedDigest(of: section) ?? [UInt8](repeating: 0, count: Self.digestSize)
        }
        bytes += descriptor
        bytes += provenance
        bytes += identity.publicKey
        bytes += identity.sign(bytes)
        bytes.reserveCapacity(bytes.count + sections.reduce(0) { $0 + $1.count })
        for section in sections { bytes += section }
        return bytes
    }

    /// The kind in the header, without reading further (nil when the bytes are no party file).
    static func kind(of bytes: [UInt8]) -> PartyFileKind? {
        guard bytes.count >= 11, Array(bytes[0..<8]) == magic else { return nil }
        return PartyFileKind(rawValue: bytes[10])
    }

    /// The parsed header: where it ends, the section lengths and digests, descriptor, provenance, signer.
    struct Header {
        var kind: PartyFileKind
        var end: Int
        var lengths: [Int]
        var digests: [[UInt8]]
        var session: SessionDescriptor
        var provenance: Provenance
        var signer: [UInt8]
    }

    /// Parses and authenticates a header: magic, version, kind, lengths, the signature (with the
    /// key in the header; who that key belongs to is the caller's question), the descriptor and
    /// the provenance, and that the provenance fits the kind. `bytes` may end after the header.
    /// `authenticate`: false for the fuzz harness (`Tests/Fuzz`), which reaches the parsers
    /// behind the signature that way, and for the size-limit peek at a file's first bytes
    /// (`sizeLimit(ofPrefix:kind:)`); every reader of a file's content checks it.
    static func readHeader(_ bytes: [UInt8], expected: PartyFileKind?, source: String, authenticate: Bool = true) throws(ProtocolError) -> Header {
        guard bytes.count >= 8, Array(bytes[0..<8]) == magic else {
            if bytes.count < 8 && magic.starts(with: bytes) {
                throw .damaged(source: source, reason: "the file is truncated (\(bytes.count) bytes)")
            }
            let head = bytes.prefix(256)
            if !head.isEmpty, head.allSatisfy({ (32...126).contains($0) || $0 == 9 || $0 == 10 || $0 == 13 }) {
                throw .textNotPartyFile(source: source)
            }
            throw .notAPartyFile(source: source)
        }
        func truncated(_ needed: Int) -> ProtocolError {
            .damaged(source: source, reason: "the file is truncated: \(bytes.count) bytes, at least \(needed) expected")
        }
        guard bytes.count >= fixedHeader else { throw truncated(fixedHeader) }
        func read<T: FixedWidthInteger>(_ offset: Int) -> T {
            var v = T.zero
            withUnsafeMutableBytes(of: &v) { $0.copyBytes(from: bytes[offset..<(offset + MemoryLayout<T>.size)]) }
            return T(littleEndian: v)
        }
        let version: UInt16 = read(8)
        guard version == Self.version else { throw .unsupportedVersion(source: source, version: version) }
        guard let kind = PartyFileKind(rawValue: bytes[10]) else {
            throw .damaged(source: source, reason: "unknown file kind \(bytes[10])")
        }
        if let expected, kind != expected {
            if kind == .secretKey { throw .secretKeyRefused(source: source) }
            throw .wrongKind(source: source, expected: expected.name, found: kind.name)
        }
        let sectionCount = Int(bytes[11])
        guard sectionCount == kind.sectionCount else {
            throw .damaged(source: source, reason: "\(sectionCount) sections, \(kind.sectionCount) expected for \(kind.name)")
        }
        let descriptorLength = Int(read(12) as UInt32), provenanceLength = Int(read(16) as UInt32)
        guard descriptorLength <= 1 << 20, provenanceLength <= 1 << 20 else {
            throw .damaged(source: source, reason: "the header claims \(descriptorLength + provenanceLength) bytes of descriptor (at most 2 MiB)")
        }
        let sectionTable = fixedHeader, descriptorStart = sectionTable + sectionCount * (8 + digestSize)
        let signerStart = descriptorStart + descriptorLength + provenanceLength
        let end = signerStart + keySize + signatureSize
        guard bytes.count >= end else { throw truncated(end) }
        let signer = Array(bytes[signerStart..<(signerStart + keySize)])
        guard !authenticate || Ed25519.isValidSignature(Array(bytes[(end - signatureSize)..<end]), of: bytes[0..<(end - signatureSize)], publicKey: signer) else {
            throw .damaged(source: source, reason: "the signature does not verify: the file was altered or corrupted")
        }
        var lengths: [Int] = [], digests: [[UInt8]] = []
        for i in 0..<sectionCount {
            let at = sectionTable + i * (8 + digestSize)
            let length: UInt64 = read(at)
            guard length <= UInt64(Int.max / 512) else { throw .damaged(source: source, reason: "section \(i) claims \(length) bytes") }
            lengths.append(Int(length))
            digests.append(Array(bytes[(at + 8)..<(at + 8 + digestSize)]))
        }
        let session: SessionDescriptor, provenance: Provenance
        do {
            session = try JSONDecoder().decode(SessionDescriptor.self, from: Data(bytes[descriptorStart..<(descriptorStart + descriptorLength)]))
        } catch {
            throw .damaged(source: source, reason: "the session descriptor is not valid JSON of the expected form")
        }
        do {
            provenance = try JSONDecoder().decode(Provenance.self, from: Data(bytes[(descriptorStart + descriptorLength)..<signerStart]))
        } catch {
            throw .damaged(source: source, reason: "the provenance is not valid JSON of the expected form")
        }
        try checkProvenance(provenance, kind: kind, signer: signer, source: source)
        return Header(kind: kind, end: end, lengths: lengths, digests: digests, session: session, provenance: provenance, signer: signer)
    }

    /// The signer and the fields a file of `kind` must (and must not) carry.
    static func checkProvenance(_ p: Provenance, kind: PartyFileKind, signer: [UInt8], source: String) throws(ProtocolError) {
        func bad(_ reason: String) -> ProtocolError { .damaged(source: source, reason: "invalid provenance: \(reason)") }
        switch kind {
        case .parameters, .publicKey, .evaluationKeys, .secretKey:
            guard p.signer == .station, p.certificate == nil, p.sequence == nil, p.input == nil, p.captured == nil else {
                throw bad("\(kind.name) is signed by the monitoring station alone")
            }
        case .inputCiphertext, .resultCiphertext:
            let role: PartyRole = kind == .inputCiphertext ? .camera : .cloud
            guard p.signer == role, let certificate = p.certificate, p.sequence != nil, (p.input != nil) == (kind == .resultCiphertext) else {
                throw bad("\(kind.name) is signed by a \(role.title) with its certificate and a sequence number")
            }
            if let captured = p.captured {
                guard kind == .inputCiphertext, captured.start.isFinite, captured.end.isFinite, captured.start <= captured.end else {
                    throw bad("a capture window belongs to an input, with finite times, start ≤ end")
                }
            }
            guard certificate.isValid else { throw bad("the \(role.title)'s certificate does not verify") }
            guard certificate.role == role, certificate.subjectKey == signer else {
                throw bad("the signing key is not the one the certificate names")
            }
        }
    }

    /// Reads and checks the container and the parameter set; the other sections are returned
    /// as bytes for the caller to deserialize (their contents are checked against their digests
    /// then). `expected`: the kind the caller needs. Who signed is checked by the caller.
    static func read(_ bytes: [UInt8], expected: PartyFileKind, source: String, allowingInsecure: Bool = false, authenticate: Bool = true)
        throws(ProtocolError) -> (file: PartyFile, parameters: CKKSParameters) {
        let header = try readHeader(bytes, expected: expected, source: source, authenticate: authenticate)
        let total = header.lengths.reduce(header.end, +)
        guard bytes.count >= total else {
            throw .damaged(source: source, reason: "the file is truncated: \(bytes.count) bytes, at least \(total) expected")
        }
        guard bytes.count == total else {
            throw .damaged(source: source, reason: "\(bytes.count - total) unexpected bytes after the last section")
        }
        var sections: [[UInt8]] = []
        var offset = header.end
        for (i, length) in header.lengths.enumerated() {
            let section = Array(bytes[offset..<(offset + length)])
            guard Serialization.storedDigest(of: section) == header.digests[i] else {
                throw .damaged(source: source, reason: "section \(i) does not end with the digest the signed header lists: the file was altered")
            }
            sections.append(section)
            offset += length
        }
        let parameters: CKKSParameters
        do {
            parameters = try CKKSParameters(deserializing: sections[0])
        } catch {
            throw .damaged(source: source, reason: "the parameter set: \(error.description)")
        }
        guard parameters.security != .insecureNoSecurity || allowingInsecure else {
            throw .insecureParameters(source: source, name: parameters.name)
        }
        try header.session.validate(parameters: parameters, source: source)
        var file = PartyFile(kind: header.kind, session: header.session, provenance: header.provenance, sections: sections)
        file.signer = header.signer
        file.header = Array(bytes[0..<header.end])
        return (file, parameters)
    }

    /// Deserializes section `index` with `decode`, naming the section in errors.
    static func section<T>(_ file: PartyFile, _ index: Int, _ what: String, source: String,
                           _ decode: ([UInt8]) throws(SerializationError) -> T) throws(ProtocolError) -> T {
        do {
            return try decode(file.sections[index])
        } catch {
            throw .damaged(source: source, reason: "the \(what): \(error.description)")
        }
    }

    /// The largest file of `kind` that parameters with `degree` N and `bits` bits of all primes
    /// (data and special) can produce, with room for the header; larger files are refused
    /// before they are read. Evaluation keys: at most `maximumGaloisKeys` keys of at most one
    /// digit per prime.
    static func sizeLimit(kind: PartyFileKind, degree: Int, dataBits: Int, allBits: Int, primeCount: Int) -> Int {
        let polynomial = degree * dataBits / 8 + 1024, extended = degree * allBits / 8 + 1024
        let header = 4 << 20
        switch kind {
        case .parameters: return header
        case .publicKey, .inputCiphertext, .resultCiphertext: return header + 2 * polynomial
        case .secretKey: return header + 8 * degree * (primeCount + 1)
        case .evaluationKeys: return header + (maximumGaloisKeys + 1) * primeCount * extended
        }
    }

    /// The size limit for a file whose first bytes are `prefix`, from the parameter set in its
    /// first section; nil when the prefix does not get that far (the full read then reports
    /// what is wrong). The prefix's signature is not checked here: the limit can only lower
    /// the caller's cap, and the full read that follows verifies the header once.
    static func sizeLimit(ofPrefix prefix: [UInt8], kind: PartyFileKind) -> Int? {
        guard let header = try? readHeader(prefix, expected: nil, source: "", authenticate: false), header.end + header.lengths[0] <= prefix.count,
              let parameters = try? CKKSParameters(deserializing: Array(prefix[header.end..<(header.end + header.lengths[0])])) else { return nil }
        return sizeLimit(kind: kind, degree: parameters.degree, dataBits: parameters.dataPrimeBits.reduce(0, +),
                         allBits: parameters.totalModulusBits, primeCount: parameters.dataPrimes.count + parameters.specialPrimes.count)
    }

    /// The most Galois keys an evaluation-key file may hold (our plans use 20 to 60).
    static let maximumGaloisKeys = 256
}

// MARK: - Reading and writing files

/// File input and output for the parties: whole-file reads with clear errors, and writes that
/// never leave a partial file (a temporary file in the same directory, `fsync`, `rename`).
public enum PartyStorage {
    /// The bytes of a file. With `kind`, the file is refused before it is read when it is larger
    /// than a file of that kind can be with the parameters its header names
    /// (`PartyFile.sizeLimit`), so that a 50 GB file never reaches memory.
    public static func read(_ url: URL, kind: PartyFileKind? = nil, limit: Int = maximumFileBytes) throws(ProtocolError) -> [UInt8] {
        // a file of another kind is refused from its header, before the rest is read
        final class Found: @unchecked Sendable { var kind: PartyFileKind? }
        let found = Found()
        let refine: (([UInt8]) -> Int)? = kind.map { kind in
            { prefix in
                if let other = PartyFileKind.of(prefix), other != kind {
                    found.kind = other
                    return min(limit, prefix.count)
                }
                return PartyFile.sizeLimit(ofPrefix: prefix, kind: kind) ?? limit
            }
        }
        switch FileInput.read(url.path, limit: limit, limitFromPrefix: refine) {
        case let .success(bytes): return bytes
        case let .failure(failure):
            if failure.isMissing { throw .cannotRead(path: url.relativePath, reason: failure.description) }
            if let other = found.kind, let kind {
                if other == .secretKey { throw .secretKeyRefused(source: url.relativePath) }
                throw .wrongKind(source: url.relativePath, expected: kind.name, found: other.name)
            }
            throw .damaged(source: url.relativePath, reason: failure.description)
        }
    }

    /// The largest party file read (the largest evaluation keys, 2D-CNN-128's, are 0.23 GB).
    public static let maximumFileBytes = 4 << 30

    /// Writes `bytes` to `url` atomically, the file created with `permissions` (0600 for a
    /// secret key: no moment where another user could read it). On any failure the temporary
    /// file is removed and a file already at `url` is left as it was.
    public static func write(_ bytes: [UInt8], to url: URL, permissions: UInt16 = 0o644) throws(ProtocolError) {
        _ = try write(bytes, to: url, permissions: permissions, replacing: true)
    }

    /// Writes `bytes` to `url` atomically unless a file is already there: the complete temporary
    /// file is hard-linked to `url`, which fails when `url` exists (atomic on a local file system
    /// and on NFS), so that of several writers racing for one name exactly one wins. Returns
    /// false, leaving the existing file as it was, when `url` already existed.
    /// - Throws: `ProtocolError.cannotWrite` when the file cannot be written.
    public static func writeNew(_ bytes: [UInt8], to url: URL, permissions: UInt16 = 0o644) throws(ProtocolError) -> Bool {
        try write(bytes, to: url, permissions: permissions, replacing: false)
    }

    static func write(_ bytes: [UInt8], to url: URL, permissions: UInt16, replacing: Bool) throws(ProtocolError) -> Bool {
        let directory = url.deletingLastPathComponent()
        let temporary = directory.appendingPathComponent(".\(url.lastPathComponent).partial-\(UInt32.random(in: 0...UInt32.max))")
        let descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL, mode_t(permissions))
        guard descriptor >= 0 else {
            throw .cannotWrite(path: url.relativePath, reason: String(cString: strerror(errno)))
        }
        var failure: String? = nil
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Foundation.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = String(cString: strerror(errno))
                    return
                }
                offset += written
            }
        }
        if failure == nil, fsync(descriptor) != 0 { failure = String(cString: strerror(errno)) }
        if close(descriptor) != 0, failure == nil { failure = String(cString: strerror(errno)) }
        var created = true
        if failure == nil {
            if replacing {
                if rename(temporary.path, url.path) != 0 { failure = String(cString: strerror(errno)) }
            } else {
                if link(temporary.path, url.path) != 0 {
                    if errno == EEXIST { created = false } else { failure = String(cString: strerror(errno)) }
                }
                unlink(temporary.path)
            }
        }
        if let failure {
            unlink(temporary.path)
            throw .cannotWrite(path: url.relativePath, reason: failure)
        }
        return created
    }

    /// Writes several files into a new directory `url` all at once: they are written into a
    /// temporary directory beside it (mode 0700) that is then renamed to `url`. `url` must not
    /// exist or be an empty directory; on failure nothing is left behind.
    public static func writeDirectory(_ files: [(name: String, bytes: [UInt8], permissions: UInt16)], to url: URL) throws(ProtocolError) {
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        if manager.fileExists(atPath: url.path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw .cannotWrite(path: url.relativePath, reason: "it exists and is not a directory") }
            let entries = (try? manager.contentsOfDirectory(atPath: url.path)) ?? ["?"]
            guard entries.isEmpty else {
                throw .cannotWrite(path: url.relativePath, reason: "the directory is not empty (it may hold keys; nothing is overwritten)")
            }
        }
        let parent = url.deletingLastPathComponent()
        guard manager.fileExists(atPath: parent.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw .cannotWrite(path: url.relativePath, reason: "the directory \(parent.path) does not exist")
        }
        let temporary = parent.appendingPathComponent(".\(url.lastPathComponent).partial-\(UInt32.random(in: 0...UInt32.max))")
        guard mkdir(temporary.path, 0o700) == 0 else { throw .cannotWrite(path: url.relativePath, reason: String(cString: strerror(errno))) }
        do throws(ProtocolError) {
            for file in files {
                try write(file.bytes, to: temporary.appendingPathComponent(file.name), permissions: file.permissions)
            }
            guard rename(temporary.path, url.path) == 0 else { throw .cannotWrite(path: url.relativePath, reason: String(cString: strerror(errno))) }
        } catch {
            try? manager.removeItem(at: temporary)
            throw error
        }
    }
}
