// The files that cross between the three parties, and the session they all belong to.
//
// Every file is one container:
//
//   magic "HEARFILE" · version u16 · kind u8 · section count u8 · descriptor length u32 ·
//   section lengths (u64 each) · session descriptor (UTF-8 JSON) ·
//   FNV-1a-64 checksum of everything before it (u64) · sections
//
// The sections are objects in the CKKS serialization format (`Serialization.swift`: bit-packed,
// each with its own header, parameter fingerprint and checksum); the first is always the CKKS
// parameter set. Which sections follow depends on the kind:
//
//   parameters        (the session only)
//   public key        public key                               → clients
//   evaluation keys   relinearization key · Galois keys         → the cloud server
//   secret key        secret key                               stays at the monitoring station
//   input ciphertext  ciphertext (at the plan's start level)   client → cloud
//   result ciphertext ciphertext (level 0)                     cloud → monitoring station
//
// The descriptor names the model plan (model fingerprint, method, strategies, packing, levels,
// key levels: `planFingerprint`) and the key set (`keySetID`, from the public key), so that a
// loader can say exactly which two files do not belong together.
import CKKS
import Foundation
import HERing
import HETensor

/// Why a party file or a party's input was refused. `source` names the file (or "the input").
public enum ProtocolError: Error, Equatable, CustomStringConvertible {
    /// Not a HEAR party file (no "HEARFILE" magic).
    case notAPartyFile(source: String)
    /// Text where a party file was expected: most likely two arguments swapped.
    case textNotPartyFile(source: String)
    case unsupportedVersion(source: String, version: UInt16)
    /// Another kind of file than the one asked for.
    case wrongKind(source: String, expected: String, found: String)
    /// A secret key offered to the cloud server, which must never hold one.
    case secretKeyRefused(source: String)
    /// Cut short, corrupted or with invalid content.
    case damaged(source: String, reason: String)
    /// Two objects that do not belong together; the text says which and how they differ.
    case mismatch(String)
    /// Parameters without security (the insecure test sets) are refused for real parties.
    case insecureParameters(source: String, name: String)
    /// A value a party cannot use.
    case invalidInput(String)
    case cannotRead(path: String, reason: String)
    case cannotWrite(path: String, reason: String)

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
        case let .mismatch(text): return text
        case let .insecureParameters(source, name):
            return "\(source) uses the parameter set '\(name)', which has NO SECURITY (a test set): refused"
        case let .invalidInput(text): return text
        case let .cannotRead(path, reason): return "cannot read \(path): \(reason)"
        case let .cannotWrite(path, reason): return "cannot write \(path): \(reason)"
        }
    }
}

/// The kinds of party files.
public enum PartyFileKind: UInt8, Sendable, CaseIterable {
    case parameters = 1, publicKey, evaluationKeys, secretKey, inputCiphertext, resultCiphertext

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
    /// The model's name and `HEARModel.fingerprint` (16 hex digits).
    public var modelName: String
    public var modelFingerprint: String
    /// `cnn2d-64`, …
    public var architecture: String
    public var classNames: [String]
    /// The class that raises an alert (`fall`).
    public var alertClass: Int
    /// `fast-hear` or `hear`; the strategies as requested (`auto` or a strategy per block) and as
    /// compiled; the packing option and the packing compiled per block.
    public var method: String
    public var requestedStrategies: [String]
    public var strategies: [String]
    public var packing: String
    public var complexPacked: [Bool]
    /// The CKKS parameter set (name and fingerprint; the set itself is the file's first section).
    public var parameters: String
    public var parametersFingerprint: String
    /// The client's encoding: encrypted input channels, level and scale of the input ciphertext.
    public var inputChannels: Int
    public var inputLevel: Int
    public var inputScale: Double
    /// The station's decoding: the slot of each class score in the result.
    public var outputSlots: [Int]
    /// A fingerprint of everything above and of the key levels: files with the same plan
    /// fingerprint were made for the same computation.
    public var planFingerprint: String
    /// Which key generation the files come from (a fingerprint of the public key's seed).
    public var keySetID: String

    static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    /// The descriptor of a compiled model (`keySetID` is filled in by key generation).
    init(network: FoldedNetwork, program: PackedProgram, plan: LevelPlan, parameters: CKKSParameters,
         requestedStrategies: [ConvolutionStrategy?], packing: ChannelPacking) {
        modelName = network.modelName
        modelFingerprint = Self.hex(network.modelFingerprint)
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
        parametersFingerprint = Self.hex(parameters.fingerprint)
        inputChannels = program.inputLayout.channels
        inputLevel = plan.startLevel
        inputScale = plan.inputScale
        outputSlots = program.outputSlots
        keySetID = ""
        var hash = FNV1a()
        hash.mix(network.modelFingerprint)
        hash.mix(parameters.fingerprint)
        hash.mix(method)
        strategies.forEach { hash.mix($0) }
        complexPacked.forEach { hash.mix($0 ? 1 : 0) }
        hash.mix(UInt64(inputChannels))
        hash.mix(UInt64(inputLevel))
        hash.mix(inputScale.bitPattern)
        outputSlots.forEach { hash.mix(UInt64($0)) }
        for (step, level) in plan.rotationLevels.sorted(by: { $0.key < $1.key }) {
            hash.mix(UInt64(step))
            hash.mix(UInt64(level))
        }
        hash.mix(UInt64(plan.relinearizationLevel))
        hash.mix(UInt64(plan.conjugationLevel.map { $0 + 1 } ?? 0))
        planFingerprint = Self.hex(hash.value)
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
        func isHex(_ s: String) -> Bool { s.count == 16 && UInt64(s, radix: 16) != nil }
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
            throw bad("a fingerprint is not 16 hexadecimal digits")
        }
        guard parametersFingerprint == Self.hex(parameters.fingerprint), self.parameters == parameters.name else {
            throw bad("it names parameter set '\(self.parameters)' (\(parametersFingerprint)), the file holds '\(parameters.name)' "
                      + "(\(Self.hex(parameters.fingerprint)))")
        }
        let blocks = parameters.slotCount / 512
        guard parameters.slotCount % 512 == 0, blocks >= NetworkArchitecture.classCount else {
            throw bad("parameter set '\(parameters.name)' has too few slots for the networks (\(parameters.slotCount))")
        }
        guard (1...ActionInput.channels).contains(inputChannels), blocks % inputChannels == 0 else { throw bad("\(inputChannels) input channels") }
        guard (0...parameters.maxLevel).contains(inputLevel) else { throw bad("input level \(inputLevel) outside 0…\(parameters.maxLevel)") }
        guard inputScale.isFinite, inputScale >= 1 else { throw bad("input scale \(inputScale)") }
        guard outputSlots.count == NetworkArchitecture.classCount, outputSlots.allSatisfy({ (0..<parameters.slotCount).contains($0) }) else {
            throw bad("the result slots are not \(NetworkArchitecture.classCount) slots below \(parameters.slotCount)")
        }
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

    /// Reads only the session of a party file of any kind (checking the container and the
    /// parameter set; key material is not decoded).
    public static func read(from bytes: [UInt8], source: String) throws(ProtocolError) -> (kind: PartyFileKind, session: SessionDescriptor) {
        guard let kind = PartyFileKind.of(bytes) else { throw .notAPartyFile(source: source) }
        var (file, _) = try PartyFile.read(bytes, expected: kind, source: source, allowingInsecure: true)
        for i in file.sections.indices { file.sections[i].withUnsafeMutableBytes { wipe($0) } }
        return (kind, file.session)
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

/// One party file in memory: kind, session, the CKKS sections (parameters first).
struct PartyFile {
    static let magic: [UInt8] = Array("HEARFILE".utf8)
    static let version: UInt16 = 1

    var kind: PartyFileKind
    var session: SessionDescriptor
    var sections: [[UInt8]]

    func serialized() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let descriptor = Array(try! encoder.encode(session))
        var bytes = Self.magic
        func append<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
        append(Self.version)
        append(kind.rawValue)
        append(UInt8(sections.count))
        append(UInt32(descriptor.count))
        for section in sections { append(UInt64(section.count)) }
        bytes += descriptor
        var hash = FNV1a()
        hash.mix(bytes: bytes)
        append(hash.value)
        bytes.reserveCapacity(bytes.count + sections.reduce(0) { $0 + $1.count })
        for section in sections { bytes += section }
        return bytes
    }

    /// The kind in the header, without reading further (nil when the bytes are no party file).
    static func kind(of bytes: [UInt8]) -> PartyFileKind? {
        guard bytes.count >= 11, Array(bytes[0..<8]) == magic else { return nil }
        return PartyFileKind(rawValue: bytes[10])
    }

    /// Reads and checks the container and the parameter set; the other sections are returned
    /// as bytes for the caller to deserialize. `expected`: the kind the caller needs.
    static func read(_ bytes: [UInt8], expected: PartyFileKind, source: String, allowingInsecure: Bool = false)
        throws(ProtocolError) -> (file: PartyFile, parameters: CKKSParameters) {
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
        guard bytes.count >= 16 else { throw truncated(16) }
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
        guard kind == expected else {
            if kind == .secretKey { throw .secretKeyRefused(source: source) }
            throw .wrongKind(source: source, expected: expected.name, found: kind.name)
        }
        let sectionCount = Int(bytes[11])
        let descriptorLength = Int(read(12) as UInt32)
        let headerEnd = 16 + 8 * sectionCount + descriptorLength + 8
        guard bytes.count >= headerEnd else { throw truncated(headerEnd) }
        var hash = FNV1a()
        hash.mix(bytes: bytes[0..<(headerEnd - 8)])
        guard hash.value == read(headerEnd - 8) as UInt64 else {
            throw .damaged(source: source, reason: "the header checksum does not match: the file is corrupted")
        }
        guard sectionCount == kind.sectionCount else {
            throw .damaged(source: source, reason: "\(sectionCount) sections, \(kind.sectionCount) expected for \(kind.name)")
        }
        var lengths: [Int] = []
        var total = headerEnd
        for i in 0..<sectionCount {
            let length: UInt64 = read(16 + 8 * i)
            guard length <= UInt64(bytes.count) else { throw truncated(headerEnd + Int(min(length, UInt64(Int.max / 4)))) }
            lengths.append(Int(length))
            total += Int(length)   // at most 255 sections of at most bytes.count each: no overflow
        }
        guard bytes.count >= total else { throw truncated(total) }
        guard bytes.count == total else {
            throw .damaged(source: source, reason: "\(bytes.count - total) unexpected bytes after the last section")
        }
        let descriptorStart = 16 + 8 * sectionCount
        let session: SessionDescriptor
        do {
            session = try JSONDecoder().decode(SessionDescriptor.self, from: Data(bytes[descriptorStart..<(descriptorStart + descriptorLength)]))
        } catch {
            throw .damaged(source: source, reason: "the session descriptor is not valid JSON of the expected form")
        }
        var sections: [[UInt8]] = []
        var offset = headerEnd
        for length in lengths {
            sections.append(Array(bytes[offset..<(offset + length)]))
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
        try session.validate(parameters: parameters, source: source)
        return (PartyFile(kind: kind, session: session, sections: sections), parameters)
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
}

// MARK: - Reading and writing files

/// File input and output for the parties: whole-file reads with clear errors, and writes that
/// never leave a partial file (a temporary file in the same directory, `fsync`, `rename`).
public enum PartyStorage {
    /// The bytes of a file.
    public static func read(_ url: URL, limit: Int = maximumFileBytes) throws(ProtocolError) -> [UInt8] {
        switch FileInput.read(url.path, limit: limit) {
        case let .success(bytes): return bytes
        case let .failure(failure):
            if failure.isMissing { throw .cannotRead(path: url.relativePath, reason: failure.description) }
            throw .damaged(source: url.relativePath, reason: failure.description)
        }
    }

    /// The largest party file read (the largest evaluation keys, 2D-CNN-128's, are 0.23 GB).
    public static let maximumFileBytes = 4 << 30

    /// Writes `bytes` to `url` atomically, the file created with `permissions` (0600 for a
    /// secret key: no moment where another user could read it). On any failure the temporary
    /// file is removed and a file already at `url` is left as it was.
    public static func write(_ bytes: [UInt8], to url: URL, permissions: UInt16 = 0o644) throws(ProtocolError) {
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
        if failure == nil, rename(temporary.path, url.path) != 0 { failure = String(cString: strerror(errno)) }
        if let failure {
            unlink(temporary.path)
            throw .cannotWrite(path: url.relativePath, reason: failure)
        }
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
