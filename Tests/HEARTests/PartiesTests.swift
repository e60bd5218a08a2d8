import CKKS
import Foundation
import HEARCrypto
import HETensor
import Testing
import HEAR

/// One key generation on the small insecure chain (cnn1d-64, random weights), shared by the
/// file tests: loading its files needs the explicit insecure opt-in.
struct SmallSession: Sendable {
    let network: FoldedNetwork
    let keys: MonitoringStation.KeyGeneration

    static let shared: SmallSession = {
        let network = try! FoldedNetwork(folding: HEARModel.randomlyInitialized(architecture: NetworkArchitecture(name: "cnn1d-64")!, seed: 5))
        return SmallSession(network: network, keys: try! MonitoringStation.generateKeys(for: network, parameters: try! smallChain(),
                                                                                       deterministicSeed: seed))
    }()

    var input: ActionInput { NetworkTests().syntheticInputs(1, seed: 11)[0] }

    func encryptedInput(seed value: UInt8 = 7) throws -> SessionCiphertext {
        var client = try Client(publicKey: keys.publicKey, deterministicSeed: [UInt8](repeating: value, count: 32))
        return try client.encrypt(input)
    }
}

/// The signing parties of the small session: the station's identity (deterministic from
/// `seed`, as `generateKeys` makes it), a camera and a cloud server it certified, and a
/// second station with its own camera.
struct SmallParties: Sendable {
    let station: SigningIdentity
    let camera: DeviceCredentials
    let cloud: DeviceCredentials
    let otherStation: SigningIdentity
    let strangerCamera: DeviceCredentials

    static func device(_ role: PartyRole, _ name: String, by station: SigningIdentity) -> DeviceCredentials {
        let identity = SigningIdentity.deterministic(role: role, name: name, seed: Array(name.utf8))
        return try! DeviceCredentials(identity: identity, certificate: try! Certificate(certifying: identity.publicIdentity, by: station))
    }

    static let shared: SmallParties = {
        let station = SmallSession.shared.keys.station.identity
        let other = SigningIdentity.deterministic(role: .station, name: "other", seed: [1, 2, 3])
        return SmallParties(station: station, camera: device(.camera, "kitchen", by: station), cloud: device(.cloud, "cloud-1", by: station),
                            otherStation: other, strangerCamera: device(.camera, "intruder", by: other))
    }()
}

func littleEndian<T: FixedWidthInteger>(_ bytes: [UInt8], at offset: Int, as: T.Type) -> T {
    (0..<MemoryLayout<T>.size).reduce(T.zero) { $0 | T(bytes[offset + $1]) << (8 * $1) }
}

/// The layout of a party file's header (as `PartyFiles.swift` documents it), to tamper with it.
struct HeaderLayout {
    let sectionCount: Int, descriptorStart: Int, descriptorLength: Int, provenanceLength: Int
    var signerStart: Int { descriptorStart + descriptorLength + provenanceLength }
    var end: Int { signerStart + 32 + 64 }

    init(_ file: [UInt8]) {
        sectionCount = Int(file[11])
        descriptorLength = Int(littleEndian(file, at: 12, as: UInt32.self))
        provenanceLength = Int(littleEndian(file, at: 16, as: UInt32.self))
        descriptorStart = 20 + sectionCount * 40
    }

    /// `file` with its descriptor replaced and the header signed again with `key` (a forger who
    /// holds a signing key, or the station itself writing a bad descriptor).
    static func replacingDescriptor(of file: [UInt8], with descriptor: [UInt8], signingWith key: Ed25519.SigningKey) -> [UInt8] {
        let layout = HeaderLayout(file)
        var bytes = Array(file[0..<12])
        withUnsafeBytes(of: UInt32(descriptor.count).littleEndian) { bytes += $0 }
        bytes += file[16..<layout.descriptorStart] + descriptor
        bytes += file[(layout.descriptorStart + layout.descriptorLength)..<layout.signerStart]
        bytes += key.publicKey
        bytes += key.signature(for: bytes)
        return bytes + file[layout.end...]
    }
}

/// The station's Ed25519 key of the small session (as `SigningIdentity.deterministic` derives it).
let smallStationKey = Ed25519.SigningKey(seed: SHA256.hash(seed))

@Suite("the three parties and their files", .enabled(if: encryptedTests, "N = 2^14: release builds, or HEAR_SLOW_TESTS=1"))
struct PartiesTests {
    let small = SmallSession.shared
    let parties = SmallParties.shared
    let insecure = true
    var trust: StationTrust { small.keys.station.trust }

    func inputFile(sequence: UInt64 = 1, camera: DeviceCredentials? = nil, seed value: UInt8 = 7) throws -> [UInt8] {
        try small.encryptedInput(seed: value).serialized(signedBy: camera ?? parties.camera, sequence: sequence)
    }

    func readInput(_ file: [UInt8]) throws(ProtocolError) -> SessionCiphertext {
        try SessionCiphertext(file: file, kind: .inputCiphertext, source: "in", trusting: trust, allowingInsecureParameters: true)
    }

    func readResult(_ file: [UInt8]) throws(ProtocolError) -> SessionCiphertext {
        try SessionCiphertext(file: file, kind: .resultCiphertext, source: "out", trusting: trust, allowingInsecureParameters: true)
    }

    /// A result file: evaluated by the small network's server, signed by `cloud`.
    func resultFile(sequence: UInt64 = 1, cloud: DeviceCredentials? = nil) throws -> [UInt8] {
        let server = try CloudServer(network: small.network, evaluationKeys: small.keys.evaluationKeys, weightBudget: 0)
        return try server.evaluate(try readInput(try inputFile(sequence: sequence))).result.serialized(signedBy: cloud ?? parties.cloud)
    }

    @Test("every file round-trips byte for byte, signed; the parties agree with the plaintext network through files")
    func throughFiles() throws {
        let keys = small.keys
        let parametersFile = keys.parametersFile()
        let publicFile = try keys.publicKeyFile(), evaluationFile = try keys.evaluationKeysFile()
        let secretFile = keys.station.secretKeyFile()
        #expect(try SessionParameters(file: parametersFile, source: "p", trusting: trust, allowingInsecureParameters: insecure)
            .serialized(signedBy: parties.station) == parametersFile)
        let publicKey = try SessionPublicKey(file: publicFile, source: "pk", trusting: parties.camera.station, allowingInsecureParameters: insecure)
        #expect(try publicKey.serialized(signedBy: parties.station) == publicFile)
        let evaluationKeys = try EvaluationKeys(file: evaluationFile, source: "ek", trusting: parties.cloud.station, allowingInsecureParameters: insecure)
        #expect(try evaluationKeys.serialized(signedBy: parties.station) == evaluationFile)
        let station = try MonitoringStation(secretKeyFile: secretFile, source: "sk", identity: parties.station, allowingInsecureParameters: insecure)
        #expect(station.secretKeyFile() == secretFile)
        #expect(publicKey.session == keys.station.session && evaluationKeys.session == keys.station.session)
        // the evaluation keys are exactly the plan's: one Galois key per rotation step (+ conjugation), at its level
        let plan = keys.plan
        #expect(evaluationKeys.galoisKeys.entries.count == plan.rotationLevels.count + (plan.conjugationLevel == nil ? 0 : 1))
        #expect(evaluationKeys.relinearizationKey.key.level == plan.relinearizationLevel)

        var client = try Client(publicKey: publicKey, deterministicSeed: [UInt8](repeating: 3, count: 32))
        let inputFile = try client.encrypt(small.input).serialized(signedBy: parties.camera, sequence: 17)
        let input = try SessionCiphertext(file: inputFile, kind: .inputCiphertext, source: "in", trusting: parties.cloud.station,
                                          allowingInsecureParameters: insecure)
        #expect(try input.serialized(signedBy: parties.camera, sequence: 17) == inputFile && input.ciphertext.level == plan.startLevel)
        #expect(input.origin?.camera == "kitchen" && input.origin?.sequence == 17 && input.origin?.cameraFingerprint == parties.camera.identity.fingerprint)
        let server = try CloudServer(network: small.network, evaluationKeys: evaluationKeys, weightBudget: nil)
        let resultFile = try server.evaluate(input).result.serialized(signedBy: parties.cloud)
        let result = try SessionCiphertext(file: resultFile, kind: .resultCiphertext, source: "out", trusting: station.trust,
                                           allowingInsecureParameters: insecure)
        #expect(try result.serialized(signedBy: parties.cloud) == resultFile && result.ciphertext.level == station.session.resultLevel)
        #expect(result.origin?.sequence == 17 && result.origin?.cloud == "cloud-1" && result.origin?.inputDigest == input.origin?.inputDigest)
        let scores = try station.decryptScores(result)
        let expected = small.network.logits(small.input)
        #expect(maximumDifference(scores, expected) < 1e-3, "\(scores) vs \(expected)")
        let decision = try station.decide(result)
        #expect(decision.classIndex == predictedClass(expected))
        #expect(decision == Decision(scores: expected, classNames: HEARTestSet.classNames, alertClass: 9))
    }

    @Test("parameter sets without security are refused unless the loader opts in")
    func insecureRefused() throws {
        let file = try small.keys.publicKeyFile()
        #expect(throws: ProtocolError.insecureParameters(source: "pk", name: "INSECURE-testing")) {
            try SessionPublicKey(file: file, source: "pk", trusting: trust)
        }
    }

    /// Every kind of file, each truncated and with a bit flipped in every byte of its header and
    /// at a stride through its objects: refused with a typed error, never a crash.
    @Test("truncated files and flipped bits in every kind of file are refused, never a crash")
    func truncatedAndCorrupted() throws {
        let keys = small.keys
        let context = keys.publicKey.context
        let station = parties.station
        let files: [(String, [UInt8], ([UInt8]) throws -> Void)] = [
            ("parameters", keys.parametersFile(), { _ = try SessionParameters(file: $0, source: "f", trusting: trust, allowingInsecureParameters: true) }),
            ("public key", try keys.publicKeyFile(), { _ = try SessionPublicKey(file: $0, source: "f", trusting: trust, context: context, allowingInsecureParameters: true) }),
            ("evaluation keys", try keys.evaluationKeysFile(), { _ = try EvaluationKeys(file: $0, source: "f", trusting: trust, context: context, allowingInsecureParameters: true) }),
            ("secret key", keys.station.secretKeyFile(), { _ = try MonitoringStation(secretKeyFile: $0, source: "f", identity: station, allowingInsecureParameters: true) }),
            ("input", try inputFile(), { _ = try SessionCiphertext(file: $0, kind: .inputCiphertext, source: "f", trusting: trust, context: context, allowingInsecureParameters: true) }),
            ("result", try resultFile(), { _ = try SessionCiphertext(file: $0, kind: .resultCiphertext, source: "f", trusting: trust, context: context, allowingInsecureParameters: true) }),
        ]
        for (name, file, read) in files {
            try read(file)   // the intact file is accepted
            let end = HeaderLayout(file).end
            for length in [0, 3, 8, 19, 20, 40, end - 1, end, end + 100, file.count / 2, file.count - 1] where length < file.count {
                #expect(throws: ProtocolError.self, "\(name): prefix of \(length) bytes") { try read(Array(file.prefix(length))) }
            }
            #expect(throws: ProtocolError.damaged(source: "f", reason: "1 unexpected bytes after the last section")) { try read(file + [0]) }
            var positions = Array(0..<min(file.count, end + 64))
            positions += stride(from: end + 64, to: file.count, by: max(1, file.count / 97))
            positions.append(file.count - 1)
            for position in positions {
                var corrupted = file
                corrupted[position] ^= UInt8(1 << (position % 8))
                #expect(throws: ProtocolError.self, "\(name): bit flip at byte \(position)") { try read(corrupted) }
            }
        }
        #expect(throws: ProtocolError.notAPartyFile(source: "x")) {
            try SessionCiphertext(file: [0xff, 0x00, 0x17] + Array("not a key at all".utf8), kind: .inputCiphertext, source: "x", trusting: trust)
        }
        #expect(throws: ProtocolError.textNotPartyFile(source: "x")) {  // text: most likely arguments swapped
            try SessionCiphertext(file: Array("x0,y0,score0\n1,2,3\n".utf8), kind: .inputCiphertext, source: "x", trusting: trust)
        }
    }

    @Test("a descriptor that does not fit its parameters is refused even when validly signed")
    func descriptorValidated() throws {
        let file = try small.keys.publicKeyFile()
        let layout = HeaderLayout(file)
        let text = String(decoding: file[layout.descriptorStart..<(layout.descriptorStart + layout.descriptorLength)], as: UTF8.self)
        let level = small.keys.plan.startLevel
        let tampered = Array(text.replacingOccurrences(of: "\"inputLevel\":\(level)", with: "\"inputLevel\":\(level + 40)").utf8)
        #expect(tampered.count == layout.descriptorLength + 1)
        let bytes = HeaderLayout.replacingDescriptor(of: file, with: tampered, signingWith: smallStationKey)
        #expect(throws: ProtocolError.damaged(source: "pk", reason: "invalid session descriptor: input level \(level + 40) outside 0…\(small.keys.publicKey.context.parameters.maxLevel)")) {
            try SessionPublicKey(file: bytes, source: "pk", trusting: trust, allowingInsecureParameters: true)
        }
        // the same change signed with another key: the signature verifies, the signer is not trusted
        let forged = HeaderLayout.replacingDescriptor(of: file, with: Array(text.utf8), signingWith: Ed25519.SigningKey(seed: [UInt8](repeating: 5, count: 32)))
        expectError(ProtocolError.self, saying: "but this station trusts station") { try SessionPublicKey(file: forged, source: "pk", trusting: trust, allowingInsecureParameters: true) }
        do {
            _ = try SessionPublicKey(file: forged, source: "pk", trusting: trust, allowingInsecureParameters: true)
        } catch {
            guard case .untrusted(let text) = error else { Issue.record("\(error)"); return }
            #expect(text.contains("pk is signed by station") && text.contains("but this station trusts station \(parties.station.fingerprint)"))
        }
    }

    @Test("who signed: keys of another station, cameras and servers it did not certify, roles swapped")
    func signers() throws {
        let keys = small.keys
        // the station's keys re-signed by another station
        let otherTrust = StationTrust(publicKey: parties.otherStation.publicKey, holder: "this camera")
        expectError(ProtocolError.self, saying: "but this camera trusts station") { try SessionPublicKey(file: try keys.publicKeyFile(), source: "pk", trusting: otherTrust, allowingInsecureParameters: true) }
        let reSigned = try keys.publicKey.serialized(signedBy: parties.otherStation)
        expectError(ProtocolError.self, saying: "but this station trusts station") { try SessionPublicKey(file: reSigned, source: "pk", trusting: trust, allowingInsecureParameters: true) }
        expectError(ProtocolError.self, saying: "the secret key and the station key belong to different stations") {
            try MonitoringStation(secretKeyFile: keys.station.secretKeyFile(), source: "sk", identity: parties.otherStation, allowingInsecureParameters: true)
        }
        // an input from a camera of another station
        let stranger = try inputFile(camera: parties.strangerCamera)
        do {
            _ = try readInput(stranger)
            Issue.record("an input of an unknown camera was accepted")
        } catch {
            guard case .untrusted(let text) = error else { Issue.record("\(error)"); return }
            #expect(text.contains("camera 'intruder'") && text.contains("an unknown camera"))
        }
        // a camera cannot sign a result, nor a cloud server an input (its certificate names its role)
        expectError(ProtocolError.self, saying: "an input ciphertext is signed by the camera, not by a cloud server") { try small.encryptedInput().serialized(signedBy: parties.cloud, sequence: 1) }
        expectError(ProtocolError.self, saying: "a result ciphertext is signed by the cloud server, not by a camera") { try resultFile(cloud: parties.camera) }
        // a certificate that does not name the signing key
        expectError(ProtocolError.self, saying: "the certificate is for camera 'kitchen'") {
            try DeviceCredentials(identity: parties.cloud.identity, certificate: parties.camera.certificate)
        }
        // a result by a server of another station
        let strangerCloud = SmallParties.device(.cloud, "rogue", by: parties.otherStation)
        expectError(ProtocolError.self, saying: "an unknown cloud server") { try readResult(try resultFile(cloud: strangerCloud)) }
    }

    @Test("a result binds its input: the input header it carries is checked, signature and sequence")
    func resultBinding() throws {
        let file = try resultFile(sequence: 5)
        let result = try readResult(file)
        #expect(result.origin?.sequence == 5)
        // the embedded input header with one byte changed: the camera's signature fails
        let layout = HeaderLayout(file)
        let provenanceStart = layout.descriptorStart + layout.descriptorLength
        let provenance = String(decoding: file[provenanceStart..<layout.signerStart], as: UTF8.self)
        struct P: Codable { var signer: String; var certificate: Certificate?; var sequence: UInt64?; var input: String? }
        var p = try JSONDecoder().decode(P.self, from: Data(provenance.utf8))
        var header = [UInt8](Data(base64Encoded: p.input!)!)
        header[40] ^= 1
        p.input = Data(header).base64EncodedString()
        // rebuild the header with an altered provenance and sign it as the cloud server would
        let cloudKey = Ed25519.SigningKey(seed: SHA256.hash(Array("cloud-1".utf8)))
        #expect(cloudKey.publicKey == parties.cloud.identity.publicKey)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        func signed(with provenance: P) throws -> [UInt8] {
            let json = Array(try encoder.encode(provenance))
            var bytes = Array(file[0..<16])
            withUnsafeBytes(of: UInt32(json.count).littleEndian) { bytes += $0 }
            bytes += file[20..<provenanceStart] + json + cloudKey.publicKey
            bytes += cloudKey.signature(for: bytes)
            return bytes + file[layout.end...]
        }
        expectError(ProtocolError.self, saying: "the input that out was computed from is damaged: the signature does not verify") { try readResult(try signed(with: p)) }
        // a sequence number that is not the input's
        var q = try JSONDecoder().decode(P.self, from: Data(provenance.utf8))
        q.sequence = 6
        let other = try signed(with: q)
        do {
            _ = try readResult(other)
            Issue.record("a result with another sequence number was accepted")
        } catch {
            #expect(error.description.contains("claims sequence number 6, its input was sequence number 5"))
        }
    }

    @Test("the station refuses results at another level or scale and scores outside the model's range")
    func resultChecks() throws {
        let station = small.keys.station
        let session = station.session
        let input = try readInput(try inputFile(sequence: 9))
        // the input itself sent back as the result: the level of the input, not the result's
        let echoed = try readResult(try SessionCiphertext.result(input.ciphertext, claimingInput: input).serialized(signedBy: parties.cloud))
        expectError(ProtocolError.self, saying: "the result is at level 9") { try station.decide(echoed) }
        do { _ = try station.decide(echoed) } catch { #expect(error.description.contains("is at level \(session.inputLevel)")) }
        // a ciphertext at the result level with another scale
        let context = small.keys.publicKey.context
        var encryptor = try Encryptor(context: context, publicKey: small.keys.publicKey.publicKey, deterministicSeed: seed)
        let scores = [Double](repeating: 0.5, count: context.slotCount)
        let wrongScale = try encryptor.encrypt(try context.encode(scores, level: session.resultLevel, scale: session.resultScale * 2))
        let scaled = try readResult(try SessionCiphertext.result(wrongScale, claimingInput: input).serialized(signedBy: parties.cloud))
        do { _ = try station.decide(scaled); Issue.record("a result at another scale was accepted") } catch {
            #expect(error.description.contains("scale 2^"))
        }
        // the right level and scale, scores far outside what the model produces
        var huge = [Double](repeating: 0, count: context.slotCount)
        for slot in session.outputSlots { huge[slot] = 4 * session.scoreBound }
        let outOfRange = try encryptor.encrypt(try context.encode(huge, level: session.resultLevel, scale: session.resultScale))
        let forged = try readResult(try SessionCiphertext.result(outOfRange, claimingInput: input).serialized(signedBy: parties.cloud))
        do { _ = try station.decide(forged); Issue.record("scores outside the bound were accepted") } catch {
            #expect(error.description.contains("outside ±"))
        }
        // and a genuine result passes every check
        let genuine = try readResult(try resultFile(sequence: 10))
        _ = try station.decide(genuine)
    }

    @Test("a CKKS failure keeps its cause at the protocol level: no randomness, another parameter set, bad input")
    func errorCauses() {
        let entropy = ProtocolError(CKKSError.entropyUnavailable("getrandom failed with errno 38"), "cannot encrypt the input")
        #expect(entropy == .entropyUnavailable("cannot encrypt the input: no randomness from the operating system: getrandom failed with errno 38"))
        let foreign = ProtocolError(CKKSError.parameterMismatch("the public key belongs to another parameter set"), "the public key does not fit")
        #expect(foreign == .mismatch("the public key does not fit: parameter mismatch: the public key belongs to another parameter set"))
        let level = ProtocolError(CKKSError.invalidLevel(level: 12, reason: "outside 0 … 9"), "cannot encrypt the input")
        #expect(level == .invalidInput("cannot encrypt the input: level 12: outside 0 … 9"))
    }

    @Test("files of the wrong kind; a secret key is refused wherever it is not the station's")
    func wrongKinds() throws {
        let secret = small.keys.station.secretKeyFile(), publicKey = try small.keys.publicKeyFile()
        #expect(throws: ProtocolError.secretKeyRefused(source: "sk")) {
            try EvaluationKeys(file: secret, source: "sk", trusting: trust, allowingInsecureParameters: true)
        }
        #expect(throws: ProtocolError.secretKeyRefused(source: "sk")) {
            try SessionPublicKey(file: secret, source: "sk", trusting: trust, allowingInsecureParameters: true)
        }
        #expect(throws: ProtocolError.wrongKind(source: "pk", expected: "a secret key", found: "a public key")) {
            try MonitoringStation(secretKeyFile: publicKey, source: "pk", identity: parties.station, allowingInsecureParameters: true)
        }
        let input = try inputFile()
        #expect(throws: ProtocolError.wrongKind(source: "in", expected: "a result ciphertext", found: "an input ciphertext")) {
            try SessionCiphertext(file: input, kind: .resultCiphertext, source: "in", trusting: trust, allowingInsecureParameters: true)
        }
        #expect(PartyFileKind.of(secret) == .secretKey && PartyFileKind.of(Array(secret.prefix(7))) == nil)
        let read = try SessionDescriptor.read(from: secret, source: "sk")
        #expect(read.kind == .secretKey && read.signer == .station && read.signerFingerprint == parties.station.fingerprint)
        #expect(try SessionDescriptor.read(from: input, source: "in").sequence == 1)
    }

    @Test("files from another key set, plan, model or parameter set do not mix, and say why")
    func mismatches() throws {
        let keys = small.keys
        let network = small.network
        // another key generation of the same plan
        let other = try MonitoringStation.generateKeys(for: network, parameters: try smallChain(), deterministicSeed: [UInt8](repeating: 9, count: 32))
        #expect(other.station.session.planFingerprint == keys.station.session.planFingerprint)
        #expect(other.station.session.keySetID != keys.station.session.keySetID)
        var client = try Client(publicKey: other.publicKey)
        let foreignInput = try client.encrypt(small.input)
        let server = try CloudServer(network: network, evaluationKeys: keys.evaluationKeys, weightBudget: 0)
        do {
            _ = try server.evaluate(foreignInput)
            Issue.record("an input of another key set was evaluated")
        } catch let error {
            guard case .mismatch(let text) = error else { Issue.record("\(error)"); return }
            #expect(text.contains("key set \(other.station.session.keySetID)") && text.contains("two different key generations"))
        }
        let (result, _, _) = try server.evaluate(try small.encryptedInput())
        // a profiled evaluation: every instruction at a level of the plan, the first at the start level
        let profiled = try server.evaluate(try small.encryptedInput(), profiling: true)
        let levels = try #require(profiled.profile).rows.keys.map { $0.level }
        #expect(!levels.isEmpty && levels.allSatisfy { $0 != nil && (0...server.plan.startLevel).contains($0!) })
        #expect(levels.compactMap { $0 }.max() == server.plan.startLevel)
        expectError(ProtocolError.self, saying: "keys from two different key generations") { try other.station.decide(result) }
        // another plan (HEAR instead of Fast-HEAR) of the same model
        let hearPlan = try MonitoringStation.generateKeys(for: network, method: .hear, parameters: try smallChain(), deterministicSeed: seed)
        let planProblem = try #require(keys.station.session.mismatch(with: hearPlan.station.session, source: "a", otherSource: "b"))
        #expect(planProblem.description.contains("was made for model plan \(hearPlan.station.session.planFingerprint)")
                && planProblem.description.contains("the same model with another plan (method hear vs fast-hear"))
        // another model
        let otherNetwork = try FoldedNetwork(folding: HEARModel.randomlyInitialized(architecture: NetworkArchitecture(name: "cnn1d-64")!, seed: 6))
        #expect(otherNetwork.modelFingerprint != network.modelFingerprint)
        expectError(ProtocolError.self, saying: "the evaluation keys were generated for model") { try CloudServer(network: otherNetwork, evaluationKeys: keys.evaluationKeys, weightBudget: 0) }
        do {
            _ = try CloudServer(network: otherNetwork, evaluationKeys: keys.evaluationKeys, weightBudget: 0)
        } catch {
            #expect(error.description.contains("the evaluation keys were generated for model"))
        }
        // another parameter set
        let otherChain = try CKKSParameters.insecureTesting(degree: 1 << 14, dataPrimeBits: [46] + Array(repeating: 32, count: 9),
                                                            specialPrimeBits: [50, 50], log2Scale: 32, digitCount: 5)
        let otherParameters = try MonitoringStation.generateKeys(for: network, parameters: otherChain, deterministicSeed: seed)
        let parameterProblem = try #require(keys.station.session.mismatch(with: otherParameters.station.session, source: "a", otherSource: "b"))
        #expect(parameterProblem.description.hasPrefix("b belongs to parameter set"))
    }

    @Test("a file larger than its kind can be with its parameters is refused before it is read")
    func sizeLimits() throws {
        let directory = try temporaryDirectory("oversized")
        let url = directory.appendingPathComponent("input.hear")
        let file = try inputFile()
        try PartyStorage.write(file, to: url)
        #expect(try PartyStorage.read(url, kind: .inputCiphertext) == file)
        let handle = try FileHandle(forWritingTo: url)
        try handle.truncate(atOffset: 50_000_000_000)   // sparse: 50 GB that are never read
        try handle.close()
        do {
            _ = try PartyStorage.read(url, kind: .inputCiphertext)
            Issue.record("a 50 GB input ciphertext was read")
        } catch {
            #expect(error.description.contains("the file has 50000000000 bytes, more than this kind of file can have"))
        }
    }
}

@Suite("party files on disk and decisions")
struct PartyStorageTests {
    @Test("storage: atomic writes, mode 0600, a key directory appears whole and never overwrites")
    func storage() throws {
        let directory = try temporaryDirectory("storage")
        let secret = directory.appendingPathComponent("secret.hear")
        try PartyStorage.write([1, 2, 3], to: secret, permissions: 0o600)
        let attributes = try FileManager.default.attributesOfItem(atPath: secret.path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        #expect(try PartyStorage.read(secret) == [1, 2, 3])
        expectError(ProtocolError.self, saying: "No such file or directory") { try PartyStorage.write([4], to: directory.appendingPathComponent("missing/x.hear")) }
        #expect(throws: ProtocolError.cannotRead(path: directory.appendingPathComponent("none").path, reason: "no such file")) {
            try PartyStorage.read(directory.appendingPathComponent("none"))
        }
        // a non-empty directory is refused and left as it was
        expectError(ProtocolError.self, saying: "the directory is not empty (it may hold keys; nothing is overwritten)") { try PartyStorage.writeDirectory([("a", [9], 0o644)], to: directory) }
        #expect(try PartyStorage.read(secret) == [1, 2, 3])
        let keys = directory.appendingPathComponent("keys")
        try PartyStorage.writeDirectory([("a", [1], 0o644), ("b", [2, 2], 0o600)], to: keys)
        #expect(try FileManager.default.contentsOfDirectory(atPath: keys.path).sorted() == ["a", "b"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted() == ["keys", "secret.hear"])
    }

    @Test("decisions: the argmax, the softmax confidence rounded to 0.01, the alert for fall")
    func decisions() {
        let names = HEARTestSet.classNames
        let tie = Decision(scores: [Double](repeating: 1, count: 10), classNames: names, alertClass: 9)
        #expect(tie.classIndex == 0 && tie.confidence == 0.1 && !tie.isAlert)
        var scores = [Double](repeating: 0, count: 10)
        scores[9] = log(9 * 0.734 / (1 - 0.734))   // softmax probability 0.734
        let fall = Decision(scores: scores, classNames: names, alertClass: 9)
        #expect(fall.className == "fall" && fall.isAlert && abs(fall.confidence - 0.73) < 1e-12)
        #expect(fall.description.contains("FALL DETECTED"))
    }
}

@Suite("the parties at the default preset", .enabled(if: encryptedTests, "N = 2^14: release builds, or HEAR_SLOW_TESTS=1"),
       .enabled(if: EmbeddedResources.url("recordings") != nil, "the bundled recordings are beside the test runner"))
struct DefaultPresetPartiesTests {
    @Test("embedded model, bundled recordings, 128-bit preset: each decision equals the plaintext network's")
    func bundledRecordings() throws {
        let model = try HEARModel.embeddedSynthetic()
        let network = try FoldedNetwork(folding: model)
        let keys = try MonitoringStation.generateKeys(for: network, parameters: .standard(), deterministicSeed: seed)
        let evaluationKeys = try EvaluationKeys(file: try keys.evaluationKeysFile(), source: "ek", trusting: keys.station.trust)
        let server = try CloudServer(network: network, evaluationKeys: evaluationKeys)
        let station = try MonitoringStation(secretKeyFile: keys.station.secretKeyFile(), source: "sk", identity: keys.station.identity)
        let camera = SmallParties.device(.camera, "camera", by: keys.station.identity), cloud = SmallParties.device(.cloud, "cloud", by: keys.station.identity)
        let recordings = try EmbeddedResources.sampleRecordings()
        #expect(recordings.map(\.name) == ["fall", "sit", "walk"])
        for (index, (name, recording)) in recordings.enumerated() {
            let input = Client.input(for: recording)
            var client = try Client(publicKey: keys.publicKey, deterministicSeed: seed)
            let encrypted = try SessionCiphertext(file: try client.encrypt(input).serialized(signedBy: camera, sequence: UInt64(index + 1)),
                                                  kind: .inputCiphertext, source: name, trusting: keys.station.trust)
            let result = try SessionCiphertext(file: try server.evaluate(encrypted).result.serialized(signedBy: cloud), kind: .resultCiphertext,
                                               source: name, trusting: station.trust)
            let expected = network.logits(input)
            #expect(maximumDifference(try station.decryptScores(result), expected) < 3.5e-3, "\(name)")
            let decision = try station.decide(result)
            #expect(decision.className == name, "the default model on its own synthetic \(name) clip")
            #expect(decision.classIndex == predictedClass(expected))
        }
    }
}
