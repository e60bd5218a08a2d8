import CKKS
import Foundation
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

/// Reads a party file's layout (as `PartyFiles.swift` documents it) to tamper with it.
func fnv1a(_ bytes: ArraySlice<UInt8>) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in bytes { hash = (hash ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
    return hash
}

func littleEndian<T: FixedWidthInteger>(_ bytes: [UInt8], at offset: Int, as: T.Type) -> T {
    (0..<MemoryLayout<T>.size).reduce(T.zero) { $0 | T(bytes[offset + $1]) << (8 * $1) }
}

@Suite("the three parties and their files", .enabled(if: encryptedTests, "N = 2^14: release builds, or HEAR_SLOW_TESTS=1"))
struct PartiesTests {
    let small = SmallSession.shared
    let insecure = true

    @Test("every file round-trips byte for byte, and the parties agree with the plaintext network through files")
    func throughFiles() throws {
        let keys = small.keys
        let parametersFile = keys.parameters.serialized()
        let publicFile = try keys.publicKey.serialized(), evaluationFile = try keys.evaluationKeys.serialized()
        let secretFile = keys.station.secretKeyFile()
        #expect(try SessionParameters(file: parametersFile, source: "p", allowingInsecureParameters: insecure).serialized() == parametersFile)
        let publicKey = try SessionPublicKey(file: publicFile, source: "pk", allowingInsecureParameters: insecure)
        #expect(try publicKey.serialized() == publicFile)
        let evaluationKeys = try EvaluationKeys(file: evaluationFile, source: "ek", allowingInsecureParameters: insecure)
        #expect(try evaluationKeys.serialized() == evaluationFile)
        let station = try MonitoringStation(secretKeyFile: secretFile, source: "sk", allowingInsecureParameters: insecure)
        #expect(station.secretKeyFile() == secretFile)
        #expect(publicKey.session == keys.station.session && evaluationKeys.session == keys.station.session)
        // the evaluation keys are exactly the plan's: one Galois key per rotation step (+ conjugation), at its level
        let plan = keys.plan
        #expect(evaluationKeys.galoisKeys.entries.count == plan.rotationLevels.count + (plan.conjugationLevel == nil ? 0 : 1))
        #expect(evaluationKeys.relinearizationKey.key.level == plan.relinearizationLevel)

        var client = try Client(publicKey: publicKey, deterministicSeed: [UInt8](repeating: 3, count: 32))
        let inputFile = try client.encrypt(small.input).serialized()
        let input = try SessionCiphertext(file: inputFile, kind: .inputCiphertext, source: "in", allowingInsecureParameters: insecure)
        #expect(try input.serialized() == inputFile && input.ciphertext.level == plan.startLevel)
        let server = try CloudServer(network: small.network, evaluationKeys: evaluationKeys, weightBudget: nil)
        let resultFile = try server.evaluate(input).result.serialized()
        let result = try SessionCiphertext(file: resultFile, kind: .resultCiphertext, source: "out", allowingInsecureParameters: insecure)
        #expect(try result.serialized() == resultFile && result.ciphertext.level == 0)
        let scores = try station.decryptScores(result)
        let expected = small.network.logits(small.input)
        #expect(maximumDifference(scores, expected) < 1e-3, "\(scores) vs \(expected)")
        let decision = try station.decide(result)
        #expect(decision.classIndex == predictedClass(expected))
        #expect(decision == Decision(scores: expected, classNames: HEARTestSet.classNames, alertClass: 9))
    }

    @Test("parameter sets without security are refused unless the loader opts in")
    func insecureRefused() throws {
        let file = try small.keys.publicKey.serialized()
        #expect(throws: ProtocolError.insecureParameters(source: "pk", name: "INSECURE-testing")) {
            try SessionPublicKey(file: file, source: "pk")
        }
    }

    @Test("truncated files and every flipped bit are refused, never a crash")
    func truncatedAndCorrupted() throws {
        let file = try small.encryptedInput().serialized()
        let descriptorLength = Int(littleEndian(file, at: 12, as: UInt32.self))
        let headerEnd = 16 + 8 * 2 + descriptorLength + 8
        for length in [0, 3, 8, 15, 16, 40, headerEnd - 1, headerEnd, headerEnd + 100, file.count / 2, file.count - 1] {
            #expect(throws: ProtocolError.self, "prefix of \(length) bytes") {
                try SessionCiphertext(file: Array(file.prefix(length)), kind: .inputCiphertext, source: "in", allowingInsecureParameters: true)
            }
        }
        #expect(throws: ProtocolError.damaged(source: "in", reason: "1 unexpected bytes after the last section")) {
            try SessionCiphertext(file: file + [0], kind: .inputCiphertext, source: "in", allowingInsecureParameters: true)
        }
        // every byte of the header, the descriptor and the section headers; a stride through the residues
        var positions = Array(0..<min(file.count, headerEnd + 200))
        positions += stride(from: headerEnd + 200, to: file.count, by: 40_009)
        let context = small.keys.publicKey.context
        for position in positions {
            var corrupted = file
            corrupted[position] ^= UInt8(1 << (position % 8))
            #expect(throws: ProtocolError.self, "bit flip at byte \(position)") {
                try SessionCiphertext(file: corrupted, kind: .inputCiphertext, source: "in", context: context, allowingInsecureParameters: true)
            }
        }
        #expect(throws: ProtocolError.notAPartyFile(source: "x")) {
            try SessionCiphertext(file: [0xff, 0x00, 0x17] + Array("not a key at all".utf8), kind: .inputCiphertext, source: "x")
        }
        #expect(throws: ProtocolError.textNotPartyFile(source: "x")) {  // text: most likely arguments swapped
            try SessionCiphertext(file: Array("x0,y0,score0\n1,2,3\n".utf8), kind: .inputCiphertext, source: "x")
        }
    }

    @Test("a descriptor that does not fit its parameters is refused even with a valid checksum")
    func descriptorValidated() throws {
        let file = try small.encryptedInput().serialized()
        let descriptorLength = Int(littleEndian(file, at: 12, as: UInt32.self))
        let start = 16 + 16, end = start + descriptorLength
        let text = String(decoding: file[start..<end], as: UTF8.self)
        let level = small.keys.plan.startLevel
        let tampered = Array(text.replacingOccurrences(of: "\"inputLevel\":\(level)", with: "\"inputLevel\":\(level + 40)").utf8)
        #expect(tampered.count == descriptorLength + 1)
        var bytes = Array(file[0..<12])
        withUnsafeBytes(of: UInt32(tampered.count).littleEndian) { bytes += $0 }
        bytes += file[16..<start] + tampered
        withUnsafeBytes(of: fnv1a(bytes[...]).littleEndian) { bytes += $0 }
        bytes += file[(end + 8)...]
        #expect(throws: ProtocolError.damaged(source: "in", reason: "invalid session descriptor: input level \(level + 40) outside 0…\(small.keys.publicKey.context.parameters.maxLevel)")) {
            try SessionCiphertext(file: bytes, kind: .inputCiphertext, source: "in", allowingInsecureParameters: true)
        }
    }

    @Test("files of the wrong kind; a secret key is refused wherever it is not the station's")
    func wrongKinds() throws {
        let secret = small.keys.station.secretKeyFile(), publicKey = try small.keys.publicKey.serialized()
        #expect(throws: ProtocolError.secretKeyRefused(source: "sk")) {
            try EvaluationKeys(file: secret, source: "sk", allowingInsecureParameters: true)
        }
        #expect(throws: ProtocolError.secretKeyRefused(source: "sk")) {
            try SessionPublicKey(file: secret, source: "sk", allowingInsecureParameters: true)
        }
        #expect(throws: ProtocolError.wrongKind(source: "pk", expected: "a secret key", found: "a public key")) {
            try MonitoringStation(secretKeyFile: publicKey, source: "pk", allowingInsecureParameters: true)
        }
        let input = try small.encryptedInput().serialized()
        #expect(throws: ProtocolError.wrongKind(source: "in", expected: "a result ciphertext", found: "an input ciphertext")) {
            try SessionCiphertext(file: input, kind: .resultCiphertext, source: "in", allowingInsecureParameters: true)
        }
        #expect(PartyFileKind.of(secret) == .secretKey && PartyFileKind.of(Array(secret.prefix(7))) == nil)
        #expect(try SessionDescriptor.read(from: secret, source: "sk").kind == .secretKey)
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
        let (result, _) = try server.evaluate(try small.encryptedInput())
        #expect(throws: ProtocolError.self) { try other.station.decide(result) }
        // another plan (HEAR instead of Fast-HEAR) of the same model
        let hearPlan = try MonitoringStation.generateKeys(for: network, method: .hear, parameters: try smallChain(), deterministicSeed: seed)
        let planProblem = try #require(keys.station.session.mismatch(with: hearPlan.station.session, source: "a", otherSource: "b"))
        #expect(planProblem.description.contains("was made for model plan \(hearPlan.station.session.planFingerprint)")
                && planProblem.description.contains("the same model with another plan (method hear vs fast-hear"))
        // another model
        let otherNetwork = try FoldedNetwork(folding: HEARModel.randomlyInitialized(architecture: NetworkArchitecture(name: "cnn1d-64")!, seed: 6))
        #expect(throws: ProtocolError.self) { try CloudServer(network: otherNetwork, evaluationKeys: keys.evaluationKeys, weightBudget: 0) }
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
        #expect(throws: ProtocolError.self) { try PartyStorage.write([4], to: directory.appendingPathComponent("missing/x.hear")) }
        #expect(throws: ProtocolError.cannotRead(path: directory.appendingPathComponent("none").path, reason: "no such file")) {
            try PartyStorage.read(directory.appendingPathComponent("none"))
        }
        // a non-empty directory is refused and left as it was
        #expect(throws: ProtocolError.self) { try PartyStorage.writeDirectory([("a", [9], 0o644)], to: directory) }
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
        let evaluationKeys = try EvaluationKeys(file: try keys.evaluationKeys.serialized(), source: "ek")
        let server = try CloudServer(network: network, evaluationKeys: evaluationKeys)
        let station = try MonitoringStation(secretKeyFile: keys.station.secretKeyFile(), source: "sk")
        let recordings = try EmbeddedResources.sampleRecordings()
        #expect(recordings.map(\.name) == ["fall", "sit", "walk"])
        for (name, recording) in recordings {
            let input = Client.input(for: recording)
            var client = try Client(publicKey: keys.publicKey, deterministicSeed: seed)
            let encrypted = try SessionCiphertext(file: try client.encrypt(input).serialized(), kind: .inputCiphertext, source: name)
            let result = try server.evaluate(encrypted).result
            let expected = network.logits(input)
            #expect(maximumDifference(try station.decryptScores(result), expected) < 3.5e-3, "\(name)")
            let decision = try station.decide(result)
            #expect(decision.className == name, "the default model on its own synthetic \(name) clip")
            #expect(decision.classIndex == predictedClass(expected))
        }
    }
}
