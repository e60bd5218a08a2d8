// libFuzzer harness for every parser of untrusted bytes (built by Tests/Fuzz/fuzz.sh with
// `swiftc -sanitize=fuzzer,address` from the package's own sources, `-enable-testing`).
//
// One binary; the target is chosen by HEAR_FUZZ_TARGET:
//   parameters, public-key, evaluation-keys, secret-key, ciphertext   CKKS objects: the harness
//       re-seals the trailing digest so that mutations reach the field checks behind it;
//   party-file     the party-file container of any kind (header, descriptor, provenance, section
//                  table, digests, sections), parsed without the signature check so that
//                  mutations reach what is behind it;
//   signed-file    the public readers of input and result files, with every signature checked:
//                  the harness signs the mutated header again with the keys it trusts;
//   descriptor     the session descriptor (JSON) and its validation against a parameter set;
//   envelopes      signing-key files, public identities, certificates, replay registries;
//   model, clips   .hearmodel and .hearclips files (inputs of even length get their trailing
//                  SHA-256 re-sealed, so that mutations reach the decoders);  csv  keypoint CSV.
// Every input must end in a typed error or a value; a trap, a crash or a sanitizer report is a bug.
// HEAR_FUZZ_WRITE_SEEDS=<dir>: write one valid input per target into <dir>/<target>/ and exit.
@testable import CKKS
import Foundation
import HEARCrypto
@testable import HEAR
import HERing

enum Fuzz {
    /// The tiny ring of the CKKS-object targets (N = 2^10, two data primes and one special
    /// prime, no security: parsing only; small objects keep each run short).
    static let tiny: CKKSContext = CKKSContext(try! CKKSParameters.insecureTesting(dataPrimeBits: [40, 30], specialPrimeBits: [45], log2Scale: 30))
    /// N = 2^14 with one data prime: the smallest ring a party file's session accepts.
    static let small: CKKSContext = CKKSContext(try! CKKSParameters.insecureTesting(degree: 1 << 14, dataPrimeBits: [40],
                                                                                    specialPrimeBits: [40], log2Scale: 30))
    static let station = SigningIdentity.deterministic(role: .station, name: "station", seed: [1])
    static func device(_ role: PartyRole, _ name: String) -> DeviceCredentials {
        let identity = SigningIdentity.deterministic(role: role, name: name, seed: Array(name.utf8))
        return try! DeviceCredentials(identity: identity, certificate: try! Certificate(certifying: identity.publicIdentity, by: station))
    }
    static let camera = device(.camera, "camera"), cloud = device(.cloud, "cloud")
    static let trust = StationTrust(publicKey: station.publicKey)

    /// A CKKS object's bytes with the trailing digest made valid again.
    static func resealed(_ bytes: [UInt8]) -> [UInt8] {
        guard bytes.count >= 32 else { return bytes }
        let body = Array(bytes.dropLast(32))
        return body + SHA256Tree.hash(body)
    }

    /// A model or clip file's bytes with the trailing plain SHA-256 made valid again.
    static func resealedPlain(_ bytes: [UInt8]) -> [UInt8] {
        guard bytes.count >= 32 else { return bytes }
        let body = Array(bytes.dropLast(32))
        return body + SHA256.hash(body)
    }

    /// A session descriptor for `small` (one level: input and result at level 0).
    static let session: SessionDescriptor = {
        let parameters = small.parameters
        let object: [String: Any] = [
            "modelName": "fuzz", "modelFingerprint": String(repeating: "ab", count: 16), "architecture": "cnn1d-64",
            "classNames": HEARTestSet.classNames, "alertClass": 9, "method": "fast-hear",
            "requestedStrategies": ["auto", "auto", "auto"], "strategies": ["full", "full", "full"], "packing": "auto",
            "complexPacked": [false, false, false], "parameters": parameters.name, "parametersFingerprint": parameters.fingerprint.hex,
            "inputChannels": 1, "inputLevel": 0, "inputScale": 1073741824.0, "outputSlots": Array(0..<10),
            "resultLevel": 0, "resultScale": 1073741824.0, "scoreBound": 100.0,
            "planFingerprint": String(repeating: "cd", count: 16), "keySetID": String(repeating: "ef", count: 16),
        ]
        let data = try! JSONSerialization.data(withJSONObject: object)
        let session = try! JSONDecoder().decode(SessionDescriptor.self, from: data)
        try! session.validate(parameters: parameters, source: "seed")
        return session
    }()

    // MARK: seeds

    static func seed(_ value: UInt8) -> [UInt8] { [UInt8](repeating: value, count: 32) }

    static func seeds() -> [String: [[UInt8]]] {
        var generator = KeyGenerator(context: tiny, deterministicSeed: seed(7))
        var encryptor = try! Encryptor(context: tiny, publicKey: generator.publicKey(), deterministicSeed: seed(8))
        let ciphertext = try! encryptor.encrypt(try! tiny.encode([0.5, -1, 2], level: tiny.maxLevel))
        var seeds: [String: [[UInt8]]] = [
            "parameters": [tiny.parameters.serialized(), small.parameters.serialized()],
            "public-key": [try! generator.publicKey().serialized(context: tiny)],
            "evaluation-keys": [[0] + (try! generator.relinearizationKey().serialized(context: tiny)),
                                [1] + (try! generator.galoisKeys(steps: [1, -2], conjugation: true).serialized(context: tiny))],
            "secret-key": [generator.secretKey.serialized()],
            "ciphertext": [try! ciphertext.serialized(context: tiny)],
        ]
        // party files of every kind on the one-level ring
        var smallGenerator = KeyGenerator(context: small, deterministicSeed: seed(9))
        let publicKey = smallGenerator.publicKey()
        var smallEncryptor = try! Encryptor(context: small, publicKey: publicKey, deterministicSeed: seed(10))
        let input = try! smallEncryptor.encrypt(try! small.encode([0.25], level: 0, scale: session.inputScale))
        let parameterSection = small.parameters.serialized()
        func file(_ kind: PartyFileKind, _ sections: [[UInt8]], _ provenance: Provenance, _ signer: SigningIdentity) -> [UInt8] {
            PartyFile(kind: kind, session: session, provenance: provenance, sections: [parameterSection] + sections).serialized(signedBy: signer)
        }
        let inputFile = file(.inputCiphertext, [try! input.serialized(context: small)],
                             Provenance(signer: .camera, certificate: camera.certificate, sequence: 3), camera.identity)
        let inputHeader = try! PartyFile.readHeader(inputFile, expected: .inputCiphertext, source: "seed")
        let resultFile = file(.resultCiphertext, [try! input.serialized(context: small)],
                              Provenance(signer: .cloud, certificate: cloud.certificate, sequence: 3,
                                         input: Data(inputFile[0..<inputHeader.end]).base64EncodedString()), cloud.identity)
        let parties = [
            file(.parameters, [], .station(), station),
            file(.publicKey, [try! publicKey.serialized(context: small)], .station(), station),
            file(.evaluationKeys, [try! smallGenerator.relinearizationKey().serialized(context: small),
                                   try! smallGenerator.galoisKeys(steps: [1]).serialized(context: small)], .station(), station),
            file(.secretKey, [smallGenerator.secretKey.serialized()], .station(), station),
            inputFile, resultFile,
        ]
        let streamInput = file(.inputCiphertext, [try! input.serialized(context: small)],
                               Provenance(signer: .camera, certificate: camera.certificate, sequence: 4,
                                          captured: CaptureWindow(start: 1.5, end: 2.5)), camera.identity)
        seeds["party-file"] = parties + [streamInput]
        seeds["signed-file"] = [inputFile, resultFile, streamInput]
        seeds["descriptor"] = [PartyFile.json(session)]
        let registry: SequenceRegistry = { var r = SequenceRegistry(); r.record(camera: camera.identity.fingerprint, sequence: 4); return r }()
        seeds["envelopes"] = [[0] + station.secretFile(), [1] + camera.identity.publicIdentity.serialized(),
                              [2] + camera.certificate.serialized(), [3] + PartyFile.json(registry)]
        let model = HEARModel.randomlyInitialized(architecture: NetworkArchitecture(name: "cnn1d-64")!, seed: 3)
        seeds["model"] = [[UInt8](model.binaryRepresentation)]
        var lines = ["# a keypoint recording", (0..<45).map { "x\($0)" }.joined(separator: ",")]
        for f in 0..<4 { lines.append((0..<45).map { j in j % 3 == 2 ? "0.9" : String(100 + f + j) }.joined(separator: ",")) }
        seeds["csv"] = [Array(lines.joined(separator: "\n").utf8)]
        let frames = (0..<32).map { f in SkeletonFrame(joints: (0..<15).map { Keypoint(x: 10 + Double(f), y: Double($0), score: 0.5) }) }
        let set = HEARTestSet(sequences: [SkeletonSequence(frames: frames)], labels: [3])
        seeds["clips"] = [[UInt8](try! ClipBundle.encode(set))]
        let stream = ["# a stream"] + frames.enumerated().map { FrameStreamReader.line(TimedFrame(time: Double($0.offset) / 30, frame: $0.element)) }
        seeds["stream"] = [Array(stream.joined(separator: "\n").utf8)]
        return seeds
    }

    // MARK: targets

    static func run(_ target: String, _ bytes: [UInt8]) {
        switch target {
        case "parameters":
            _ = try? CKKSParameters(deserializing: resealed(bytes))
        case "public-key":
            _ = try? PublicKey(deserializing: resealed(bytes), context: tiny)
        case "evaluation-keys":
            guard let first = bytes.first else { return }
            if first & 1 == 0 {
                _ = try? RelinearizationKey(deserializing: resealed(Array(bytes.dropFirst())), context: tiny)
            } else {
                _ = try? GaloisKeys(deserializing: resealed(Array(bytes.dropFirst())), context: tiny)
            }
        case "secret-key":
            _ = try? SecretKey(deserializing: resealed(bytes), context: tiny)
        case "ciphertext":
            _ = try? Ciphertext(deserializing: resealed(bytes), context: tiny)
        case "party-file":
            guard let kind = PartyFileKind.of(bytes) else { _ = try? PartyFile.readHeader(bytes, expected: nil, source: "f", authenticate: false); return }
            guard let (file, parameters) = try? PartyFile.read(bytes, expected: kind, source: "f", allowingInsecure: true, authenticate: false),
                  parameters == small.parameters else { return }
            switch kind {
            case .parameters: break
            case .publicKey: _ = try? PartyFile.section(file, 1, "k", source: "f") { b throws(SerializationError) in try PublicKey(deserializing: b, context: small) }
            case .evaluationKeys:
                _ = try? PartyFile.section(file, 1, "k", source: "f") { b throws(SerializationError) in try RelinearizationKey(deserializing: b, context: small) }
                _ = try? PartyFile.section(file, 2, "k", source: "f") { b throws(SerializationError) in try GaloisKeys(deserializing: b, context: small) }
            case .secretKey: _ = try? PartyFile.section(file, 1, "k", source: "f") { b throws(SerializationError) in try SecretKey(deserializing: b, context: small) }
            case .inputCiphertext, .resultCiphertext:
                _ = try? PartyFile.section(file, 1, "c", source: "f") { b throws(SerializationError) in try Ciphertext(deserializing: b, context: small) }
                if let encoded = file.provenance.input, let header = Data(base64Encoded: encoded) {
                    _ = try? PartyFile.readHeader([UInt8](header), expected: .inputCiphertext, source: "i", authenticate: false)
                }
            }
        case "signed-file":
            // sign the (mutated) header again as its kind's signer, then read it as a party would
            guard let kind = PartyFileKind.of(bytes), kind == .inputCiphertext || kind == .resultCiphertext,
                  let header = try? PartyFile.readHeader(bytes, expected: kind, source: "f", authenticate: false) else { return }
            let signer = kind == .inputCiphertext ? camera.identity : cloud.identity
            var signed = Array(bytes[0..<(header.end - 96)]) + signer.publicKey
            signed += signer.sign(signed)
            signed += bytes[header.end...]
            _ = try? SessionCiphertext(file: signed, kind: kind, source: "f", trusting: trust, allowingInsecureParameters: true)
        case "descriptor":
            guard let session = try? JSONDecoder().decode(SessionDescriptor.self, from: Data(bytes)) else { return }
            _ = try? session.validate(parameters: small.parameters, source: "f")
            _ = session.summary
            _ = session.mismatch(with: Self.session, source: "a", otherSource: "b")?.description
        case "envelopes":
            guard let first = bytes.first else { return }
            let rest = Array(bytes.dropFirst())
            switch first % 4 {
            case 0: _ = try? SigningIdentity(secretFile: rest, source: "k")
            case 1: _ = try? PublicIdentity(file: rest, source: "p")
            case 2: _ = try? Certificate(file: rest, source: "c")
            default:
                if let registry = try? JSONDecoder().decode(SequenceRegistry.self, from: Data(rest)) {
                    _ = registry.contains(camera: camera.identity.fingerprint, sequence: 4)
                }
            }
        case "model":   // half the inputs re-sealed, so that mutations reach the decoder
            _ = try? HEARModel(binary: Data(bytes.count % 2 == 0 ? resealedPlain(bytes) : bytes))
        case "clips":
            _ = try? ClipBundle.decode(Data(bytes.count % 2 == 0 ? resealedPlain(bytes) : bytes), source: "f")
        case "csv":
            _ = try? KeypointCSV.parse(bytes: bytes, path: "f")
        case "stream":   // hear monitor's reader and window, line by line
            var reader = FrameStreamReader()
            var window = try! SlidingWindow(length: 4, stride: 2)
            for line in bytes.split(separator: 10, omittingEmptySubsequences: false) {
                if case let .frame(frame) = reader.read(String(decoding: line, as: UTF8.self)), let (frames, _) = window.append(frame) {
                    _ = Client.input(for: SkeletonSequence(frames: frames.map(\.frame)))
                }
            }
        default:
            fatalError("unknown HEAR_FUZZ_TARGET '\(target)'")
        }
    }

    static let target: String = ProcessInfo.processInfo.environment["HEAR_FUZZ_TARGET"] ?? ""
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    if let directory = ProcessInfo.processInfo.environment["HEAR_FUZZ_WRITE_SEEDS"] {
        for (target, inputs) in Fuzz.seeds() {
            let folder = URL(fileURLWithPath: directory).appendingPathComponent(target)
            try! FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for (i, bytes) in inputs.enumerated() {
                try! Data(bytes).write(to: folder.appendingPathComponent("seed-\(i)"))
            }
        }
        exit(0)
    }
    guard !Fuzz.target.isEmpty else { fatalError("set HEAR_FUZZ_TARGET") }
    _ = Fuzz.session
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    Fuzz.run(Fuzz.target, Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}
