// The three parties of HEAR (paper, Fig. 1), each holding only what it may hold:
//
//   MonitoringStation  generates the keys for a compiled model, keeps the secret key, decrypts
//                      results into decisions;
//   Client             (the camera) holds the public key: recording → input tensor → ciphertext;
//   CloudServer        holds the model and the evaluation keys (no API takes a secret key):
//                      input ciphertext → result ciphertext.
//
// What crosses a boundary is one of the types below, each with `serialized()` and a validating
// `init(file:source:)` (`PartyFiles.swift`).
import CKKS
import Dispatch
import Foundation
import HEARCrypto
import HERing
import HETensor

extension PartyFile {
    /// Reads a file of `kind` and gives its context (`existing` when it has the same parameters,
    /// else a new one running on `parallelism`).
    static func open(_ bytes: [UInt8], kind: PartyFileKind, source: String, context existing: CKKSContext?,
                     parallelism: Parallelism, allowingInsecure: Bool) throws(ProtocolError) -> (file: PartyFile, context: CKKSContext) {
        let (file, parameters) = try read(bytes, expected: kind, source: source, allowingInsecure: allowingInsecure)
        if let existing, existing.parameters.fingerprint == parameters.fingerprint { return (file, existing) }
        return (file, CKKSContext(parameters, parallelism: parallelism))
    }

    /// The bytes of a file of `kind`: the parameter set, then `objects()` (CKKS-serialized),
    /// signed by `identity`.
    static func serialize(_ kind: PartyFileKind, session: SessionDescriptor, provenance: Provenance = .station(), context: CKKSContext,
                          signedBy identity: SigningIdentity, _ objects: () throws(CKKSError) -> [[UInt8]]) throws(ProtocolError) -> [UInt8] {
        guard identity.role == provenance.signer else {
            throw .invalidInput("\(kind.name) is signed by the \(provenance.signer.title), not by a \(identity.role.title)")
        }
        do {
            return PartyFile(kind: kind, session: session, provenance: provenance,
                             sections: [context.parameters.serialized()] + (try objects())).serialized(signedBy: identity)
        } catch { throw .invalidInput("cannot serialize \(kind.name): \(error.description)") }
    }

    /// Checks that the station `trust` signed this file (the session, keys).
    func checkStationSignature(_ trust: StationTrust, source: String) throws(ProtocolError) {
        try trust.check(signer: signer, source: source, pinnedIn: nil)
    }
}

/// The session without keys: what `hear keygen` writes as `parameters.hear`, for anyone who
/// wants to see which model plan and parameter set a key directory was made for.
public struct SessionParameters: Sendable {
    /// The session the parameters were made for.
    public let session: SessionDescriptor
    /// The CKKS parameter set.
    public let parameters: CKKSParameters

    /// The file, signed by the station.
    public func serialized(signedBy station: SigningIdentity) -> [UInt8] {
        PartyFile(kind: .parameters, session: session, provenance: .station(), sections: [parameters.serialized()]).serialized(signedBy: station)
    }

    /// Parameters with their session.
    public init(session: SessionDescriptor, parameters: CKKSParameters) {
        self.session = session
        self.parameters = parameters
    }

    /// Reads the session file; it must be signed by the station `trust` names.
    public init(file bytes: [UInt8], source: String, trusting trust: StationTrust, allowingInsecureParameters: Bool = false) throws(ProtocolError) {
        let (file, parameters) = try PartyFile.read(bytes, expected: .parameters, source: source,
                                                    allowingInsecure: allowingInsecureParameters)
        try file.checkStationSignature(trust, source: source)
        self.init(session: file.session, parameters: parameters)
    }
}

/// The public key with its session: what a client needs to encrypt.
public struct SessionPublicKey: Sendable {
    /// The session the key belongs to.
    public let session: SessionDescriptor
    /// The context of the session's parameters.
    public let context: CKKSContext
    /// The public key.
    public let publicKey: PublicKey

    /// The file, signed by the station.
    public func serialized(signedBy station: SigningIdentity) throws(ProtocolError) -> [UInt8] {
        try PartyFile.serialize(.publicKey, session: session, context: context, signedBy: station) { () throws(CKKSError) in
            [try publicKey.serialized(context: context)]
        }
    }

    init(session: SessionDescriptor, context: CKKSContext, publicKey: PublicKey) {
        self.session = session
        self.context = context
        self.publicKey = publicKey
    }

    /// Reads a public key; it must be signed by the station `trust` names.
    public init(file bytes: [UInt8], source: String, trusting trust: StationTrust, context existing: CKKSContext? = nil,
                parallelism: Parallelism = .allProcessors, allowingInsecureParameters: Bool = false) throws(ProtocolError) {
        let (file, context) = try PartyFile.open(bytes, kind: .publicKey, source: source, context: existing,
                                                 parallelism: parallelism, allowingInsecure: allowingInsecureParameters)
        try file.checkStationSignature(trust, source: source)
        let key = try PartyFile.section(file, 1, "public key", source: source) { b throws(SerializationError) in
            try PublicKey(deserializing: b, context: context)
        }
        guard SessionDescriptor.keySetID(ofPublicKeyObject: file.sections[1]) == file.session.keySetID else {
            throw .damaged(source: source, reason: "the public key is not the one of key set \(file.session.keySetID)")
        }
        self.init(session: file.session, context: context, publicKey: key)
    }
}

/// The evaluation keys with their session: what the cloud server needs besides the model. The
/// relinearization key and a Galois key for exactly each rotation step of the model's plan
/// (and the conjugation where the plan has one), each only up to the level where it is used.
public struct EvaluationKeys: Sendable {
    /// The session the keys belong to.
    public let session: SessionDescriptor
    /// The context of the session's parameters.
    public let context: CKKSContext
    /// The relinearization key (up to the highest level of a square).
    public let relinearizationKey: RelinearizationKey
    /// The Galois keys of the plan's rotation steps (and conjugation).
    public let galoisKeys: GaloisKeys

    /// The file, signed by the station.
    public func serialized(signedBy station: SigningIdentity) throws(ProtocolError) -> [UInt8] {
        try PartyFile.serialize(.evaluationKeys, session: session, context: context, signedBy: station) { () throws(CKKSError) in
            [try relinearizationKey.serialized(context: context), try galoisKeys.serialized(context: context)]
        }
    }

    init(session: SessionDescriptor, context: CKKSContext, relinearizationKey: RelinearizationKey, galoisKeys: GaloisKeys) {
        self.session = session
        self.context = context
        self.relinearizationKey = relinearizationKey
        self.galoisKeys = galoisKeys
    }

    /// Reads evaluation keys; they must be signed by the station `trust` names. A file holding a
    /// secret key is refused before any of it is read (`ProtocolError.secretKeyRefused`).
    public init(file bytes: [UInt8], source: String, trusting trust: StationTrust, context existing: CKKSContext? = nil,
                parallelism: Parallelism = .allProcessors, allowingInsecureParameters: Bool = false) throws(ProtocolError) {
        let (file, context) = try PartyFile.open(bytes, kind: .evaluationKeys, source: source, context: existing,
                                                 parallelism: parallelism, allowingInsecure: allowingInsecureParameters)
        try file.checkStationSignature(trust, source: source)
        let relinearization = try PartyFile.section(file, 1, "relinearization key", source: source) { b throws(SerializationError) in
            try RelinearizationKey(deserializing: b, context: context)
        }
        let galois = try PartyFile.section(file, 2, "Galois keys", source: source) { b throws(SerializationError) in
            try GaloisKeys(deserializing: b, context: context)
        }
        self.init(session: file.session, context: context, relinearizationKey: relinearization, galoisKeys: galois)
    }
}

/// Where a ciphertext read from a file comes from, as its verified signatures say.
public struct CiphertextOrigin: Sendable, Equatable {
    /// The camera that encrypted the recording (name and key fingerprint, certified by the station).
    public var camera: String
    /// The fingerprint of the camera's key.
    public var cameraFingerprint: Fingerprint
    /// The camera's sequence number of the recording.
    public var sequence: UInt64
    /// SHA-256 of the input file's signed header, which lists the digest of the input ciphertext:
    /// it names that input file exactly.
    public var inputDigest: [UInt8]
    /// For an input from a stream: the camera-clock times of the window's first and last frame
    /// (signed by the camera; a result carries its input's).
    public var captured: CaptureWindow?
    /// For a result: the cloud server that computed it.
    public var cloud: String?
    /// The fingerprint of the cloud server's key.
    public var cloudFingerprint: Fingerprint?
}

/// A ciphertext with its session: the client's encrypted input or the server's encrypted result.
public struct SessionCiphertext: Sendable {
    /// Input ciphertext (from a camera) or result ciphertext (from a cloud server).
    public let kind: PartyFileKind
    /// The session it was made in.
    public let session: SessionDescriptor
    /// The context of the session's parameters.
    public let context: CKKSContext
    /// The ciphertext.
    public let ciphertext: Ciphertext
    /// Set when the ciphertext was read from a signed file.
    public internal(set) var origin: CiphertextOrigin?
    /// The signed header of the input: of this file (an input read from a file) or of the input
    /// a result was computed from.
    var inputHeader: [UInt8]?

    init(kind: PartyFileKind, session: SessionDescriptor, context: CKKSContext, ciphertext: Ciphertext) {
        self.kind = kind
        self.session = session
        self.context = context
        self.ciphertext = ciphertext
    }

    /// A result that a server computed by other means than `CloudServer.evaluate` from `input`:
    /// what a dishonest server can always send (it holds the evaluation keys and can compute
    /// anything). For tests of what the station refuses.
    public static func result(_ ciphertext: Ciphertext, claimingInput input: SessionCiphertext) -> SessionCiphertext {
        var result = SessionCiphertext(kind: .resultCiphertext, session: input.session, context: input.context, ciphertext: ciphertext)
        result.origin = input.origin
        result.inputHeader = input.inputHeader
        return result
    }

    /// An input ciphertext file, signed by the camera `camera` with its sequence number
    /// `sequence` (which the camera never uses twice: `DeviceDirectory.nextSequence`) and, for a
    /// window of a stream, the camera-clock times of its first and last frame (`captured`).
    /// - Throws: `ProtocolError.invalidInput` for a result or a capture window that is not finite and in order.
    public func serialized(signedBy camera: DeviceCredentials, sequence: UInt64, captured: CaptureWindow? = nil) throws(ProtocolError) -> [UInt8] {
        guard kind == .inputCiphertext else { throw .invalidInput("a camera signs input ciphertexts, not \(kind.name)") }
        if let captured, !(captured.start.isFinite && captured.end.isFinite && captured.start <= captured.end) {
            throw .invalidInput("a capture window has finite times, start ≤ end")
        }
        let provenance = Provenance(signer: .camera, certificate: camera.certificate, sequence: sequence, captured: captured)
        return try PartyFile.serialize(kind, session: session, provenance: provenance, context: context, signedBy: camera.identity) { () throws(CKKSError) in
            [try ciphertext.serialized(context: context)]
        }
    }

    /// A result file, signed by the cloud server `cloud`; it carries the signed header of the
    /// input it was computed from and that input's sequence number.
    public func serialized(signedBy cloud: DeviceCredentials) throws(ProtocolError) -> [UInt8] {
        guard kind == .resultCiphertext else { throw .invalidInput("a cloud server signs results, not \(kind.name)") }
        guard let inputHeader, let sequence = origin?.sequence else {
            throw .invalidInput("the result's input did not come from a signed file: nothing to bind the result to")
        }
        let provenance = Provenance(signer: .cloud, certificate: cloud.certificate, sequence: sequence,
                                    input: Data(inputHeader).base64EncodedString())
        return try PartyFile.serialize(kind, session: session, provenance: provenance, context: context, signedBy: cloud.identity) { () throws(CKKSError) in
            [try ciphertext.serialized(context: context)]
        }
    }

    /// Reads a ciphertext file of `kind` (`.inputCiphertext` or `.resultCiphertext`) and checks
    /// every signature against the station `trust` names: an input must be signed by a camera
    /// the station certified; a result by a cloud server the station certified, and the input
    /// header it carries by such a camera, for the same session and sequence number.
    public init(file bytes: [UInt8], kind: PartyFileKind, source: String, trusting trust: StationTrust, context existing: CKKSContext? = nil,
                parallelism: Parallelism = .allProcessors, allowingInsecureParameters: Bool = false) throws(ProtocolError) {
        guard kind == .inputCiphertext || kind == .resultCiphertext else {
            throw .invalidInput("a ciphertext file is an input or a result, not \(kind.name)")
        }
        let (file, context) = try PartyFile.open(bytes, kind: kind, source: source, context: existing,
                                                 parallelism: parallelism, allowingInsecure: allowingInsecureParameters)
        let provenance = file.provenance
        guard let certificate = provenance.certificate, let sequence = provenance.sequence else {
            throw .damaged(source: source, reason: "no certificate or sequence number")   // excluded by PartyFile.read
        }
        var origin: CiphertextOrigin
        let inputHeader: [UInt8]
        if kind == .inputCiphertext {
            try certificate.check(issuedBy: trust.publicKey, role: .camera, source: source)
            inputHeader = file.header
            origin = CiphertextOrigin(camera: certificate.name, cameraFingerprint: certificate.subjectFingerprint, sequence: sequence,
                                      inputDigest: SHA256.hash(inputHeader), captured: provenance.captured)
        } else {
            try certificate.check(issuedBy: trust.publicKey, role: .cloud, source: source)
            guard let encoded = provenance.input, let header = Data(base64Encoded: encoded).map({ [UInt8]($0) }) else {
                throw .damaged(source: source, reason: "the input header it carries is not base64")
            }
            let inputSource = "the input that \(source) was computed from"
            let input = try PartyFile.readHeader(header, expected: .inputCiphertext, source: inputSource)
            guard input.end == header.count else { throw .damaged(source: source, reason: "the input header it carries has extra bytes") }
            guard let camera = input.provenance.certificate, let inputSequence = input.provenance.sequence else {
                throw .damaged(source: source, reason: "the input header it carries has no certificate")
            }
            try camera.check(issuedBy: trust.publicKey, role: .camera, source: inputSource)
            if let problem = file.session.mismatch(with: input.session, source: source, otherSource: inputSource) { throw problem }
            guard inputSequence == sequence else {
                throw .mismatch("\(source) claims sequence number \(sequence), its input was sequence number \(inputSequence): refused")
            }
            inputHeader = header
            origin = CiphertextOrigin(camera: camera.name, cameraFingerprint: camera.subjectFingerprint, sequence: sequence,
                                      inputDigest: SHA256.hash(header), captured: input.provenance.captured,
                                      cloud: certificate.name, cloudFingerprint: certificate.subjectFingerprint)
        }
        let ciphertext = try PartyFile.section(file, 1, "ciphertext", source: source) { b throws(SerializationError) in
            try Ciphertext(deserializing: b, context: context)
        }
        guard ciphertext.size == 2 else { throw .damaged(source: source, reason: "a ciphertext of \(ciphertext.size) parts, 2 expected") }
        self.init(kind: kind, session: file.session, context: context, ciphertext: ciphertext)
        self.origin = origin
        self.inputHeader = inputHeader
    }
}

/// The monitoring station's decision for one result: the class, a rounded confidence and the
/// alert. Only this leaves the station by default: the rounding removes the low-order digits
/// of the decrypted scores, which carry the encryption noise (see `Docs/Protocol.md`).
public struct Decision: Sendable, Equatable, CustomStringConvertible {
    /// The released confidence is a multiple of this.
    public static let confidenceStep = 0.01

    /// The predicted class (largest score).
    public var classIndex: Int
    /// Its name.
    public var className: String
    /// The softmax probability of the class, rounded to a multiple of `confidenceStep`.
    public var confidence: Double
    /// Whether the class is the alert class (`fall`).
    public var isAlert: Bool

    /// The decision for decrypted `scores`: the largest score's class, its softmax probability rounded to `confidenceStep`, and whether it is `alertClass`.
    public init(scores: [Double], classNames: [String], alertClass: Int) {
        let best = predictedClass(scores)
        let top = scores[best]
        let probability = 1 / scores.reduce(0) { $0 + exp($1 - top) }
        classIndex = best
        className = classNames[best]
        confidence = (probability / Self.confidenceStep).rounded() * Self.confidenceStep
        isAlert = best == alertClass
    }

    /// "class (confidence 0.97)", and the alert when there is one.
    public var description: String {
        "\(className) (confidence \(String(format: "%.2f", confidence)))" + (isAlert ? " — FALL DETECTED: alert" : "")
    }
}

/// The monitoring station (e.g. a nursing station): generates the keys, keeps the secret key,
/// decrypts results. It is the only party that ever holds a `SecretKey`.
public final class MonitoringStation: @unchecked Sendable {
    /// The session the keys were generated for.
    public let session: SessionDescriptor
    /// The context of the session's parameters.
    public let context: CKKSContext
    /// The station's long-term signing identity: it signs the session, the keys and the
    /// certificates, and its public key is what cameras and cloud servers trust.
    public let identity: SigningIdentity
    let secretKey: SecretKey
    let decryptor: Decryptor

    /// The trust anchor this station is for the other parties.
    public var trust: StationTrust { StationTrust(publicKey: identity.publicKey, holder: "this station") }

    init(session: SessionDescriptor, context: CKKSContext, secretKey: SecretKey, identity: SigningIdentity) throws(ProtocolError) {
        guard identity.role == .station else { throw .invalidInput("the station's identity has the role \(identity.role.rawValue)") }
        self.session = session
        self.context = context
        self.identity = identity
        self.secretKey = secretKey
        do { decryptor = try Decryptor(context: context, secretKey: secretKey) } catch {
            throw ProtocolError(error, "the secret key does not fit its parameters")
        }
    }

    /// What key generation produces: the station (with the secret key) and what it hands out.
    public struct KeyGeneration: Sendable {
        /// The station, which holds the secret key.
        public let station: MonitoringStation
        /// The session and parameters (`parameters.hear`).
        public let parameters: SessionParameters
        /// The public key (`public.hear`, for cameras).
        public let publicKey: SessionPublicKey
        /// The relinearization and Galois keys (`evaluation.hear`, for cloud servers).
        public let evaluationKeys: EvaluationKeys
        /// The compiled program the keys are for.
        public let program: PackedProgram
        /// The levels and scales of the program.
        public let plan: LevelPlan
        /// Wall seconds of generating the keys (not of compiling the program).
        public let seconds: Double

        /// The files the station hands out, signed by it.
        public func parametersFile() -> [UInt8] { parameters.serialized(signedBy: station.identity) }
        /// The public-key file, signed by the station.
        /// - Throws: `ProtocolError` when the key cannot be serialized.
        public func publicKeyFile() throws(ProtocolError) -> [UInt8] { try publicKey.serialized(signedBy: station.identity) }
        /// The evaluation-key file, signed by the station.
        /// - Throws: `ProtocolError` when the keys cannot be serialized.
        public func evaluationKeysFile() throws(ProtocolError) -> [UInt8] { try evaluationKeys.serialized(signedBy: station.identity) }
    }

    /// Compiles `network` into its packed program, fixes the levels, and generates the secret
    /// key, the public key, the relinearization key and the Galois keys of exactly the plan's
    /// rotation steps (and conjugation), each up to the level where it is used.
    /// `identity`: the station's signing identity (a new one from system entropy when nil).
    /// `scoreBound`: the largest |class score| `decide` accepts (default: the largest value the
    /// result's level can hold, |x| < Q_ℓ / (2Δ); `hear keygen` records 4 × the largest score
    /// of the plaintext network over the paper's 608 test clips).
    /// `deterministicSeed`: reproducible keys for tests and benchmarks only; real keys come from
    /// system entropy.
    /// `parallelism`: the threads of the key generation and of the context it returns.
    public static func generateKeys(for network: FoldedNetwork, method: HEMethod = .fastHEAR,
                                    strategies: [ConvolutionStrategy?] = [], packing: ChannelPacking = .auto,
                                    parameters: CKKSParameters = .standard(), identity: SigningIdentity? = nil,
                                    scoreBound: Double? = nil, deterministicSeed: [UInt8]? = nil,
                                    parallelism: Parallelism = .allProcessors)
        throws(ProtocolError) -> KeyGeneration {
        let signer: SigningIdentity
        if let identity { signer = identity } else if let deterministicSeed {
            signer = SigningIdentity.deterministic(role: .station, name: "station", seed: deterministicSeed)
        } else {
            signer = try SigningIdentity.generate(role: .station, name: "station")
        }
        let program = try network.compiled(slotCount: parameters.slotCount, method: method, strategies: strategies, packing: packing)
        let plan: LevelPlan
        do { plan = try LevelPlan(program: program, parameters: parameters) } catch {
            throw .invalidInput("cannot run \(network.modelName) with parameter set \(parameters.name): \(error.description)")
        }
        let context = CKKSContext(parameters, parallelism: parallelism)
        let start = DispatchTime.now().uptimeNanoseconds
        var generator: KeyGenerator
        if let deterministicSeed {
            generator = KeyGenerator(context: context, deterministicSeed: deterministicSeed)
        } else {
            do { generator = try KeyGenerator(context: context) } catch {
                throw .entropyUnavailable("cannot seed the key generator: \(error.description)")
            }
        }
        let publicKey = generator.publicKey()
        let relinearizationKey: RelinearizationKey, galoisKeys: GaloisKeys
        do {
            relinearizationKey = try generator.relinearizationKey(level: plan.relinearizationLevel)
            galoisKeys = try generator.galoisKeys(rotationLevels: plan.rotationLevels, conjugationLevel: plan.conjugationLevel)
        } catch {
            throw .invalidInput("the level plan of \(network.modelName) asks for keys the parameter set \(parameters.name) cannot make: \(error.description)")
        }
        let seconds = wallSeconds(since: start)
        let resultLevel = plan.registerLevels[program.outputRegister], resultScale = plan.registerScales[program.outputRegister]
        let representable = parameters.dataPrimes[0...resultLevel].reduce(1.0) { $0 * Double($1) } / (2 * resultScale)
        var session = SessionDescriptor(network: network, program: program, plan: plan, parameters: parameters,
                                        requestedStrategies: strategies, packing: packing,
                                        scoreBound: min(scoreBound ?? representable, representable))
        do { session.keySetID = SessionDescriptor.keySetID(ofPublicKeyObject: try publicKey.serialized(context: context)) } catch {
            throw .invalidInput("cannot serialize the public key: \(error.description)")
        }
        let station = try MonitoringStation(session: session, context: context, secretKey: generator.secretKey, identity: signer)
        return KeyGeneration(station: station, parameters: SessionParameters(session: session, parameters: parameters),
                             publicKey: SessionPublicKey(session: session, context: context, publicKey: publicKey),
                             evaluationKeys: EvaluationKeys(session: session, context: context, relinearizationKey: relinearizationKey,
                                                            galoisKeys: galoisKeys),
                             program: program, plan: plan, seconds: seconds)
    }

    /// The secret key file, signed by the station (write it with mode 0600, e.g.
    /// `PartyStorage.write(_:to:permissions:)`, and wipe it after writing).
    public func secretKeyFile() -> [UInt8] {
        var file = PartyFile(kind: .secretKey, session: session, provenance: .station(),
                             sections: [context.parameters.serialized(), secretKey.serialized()])
        defer { file.sections[1].withUnsafeMutableBytes { wipe($0) } }
        return file.serialized(signedBy: identity)
    }

    /// The station from its secret key file and its signing identity (which must have signed the file).
    public convenience init(secretKeyFile bytes: [UInt8], source: String, identity: SigningIdentity,
                            parallelism: Parallelism = .allProcessors, allowingInsecureParameters: Bool = false) throws(ProtocolError) {
        var (file, parameters) = try PartyFile.read(bytes, expected: .secretKey, source: source, allowingInsecure: allowingInsecureParameters)
        defer { for i in file.sections.indices { file.sections[i].withUnsafeMutableBytes { wipe($0) } } }   // the key's bytes
        guard file.signer == identity.publicKey else {
            throw .untrusted("\(source) was written by station \(identityFingerprint(file.signer)), not by this station "
                             + "(\(identity.fingerprint)): the secret key and the station key belong to different stations")
        }
        let context = CKKSContext(parameters, parallelism: parallelism)
        let key = try PartyFile.section(file, 1, "secret key", source: source) { b throws(SerializationError) in
            try SecretKey(deserializing: b, context: context)
        }
        try self.init(session: file.session, context: context, secretKey: key, identity: identity)
    }

    /// The decrypted class scores of a result. Release with care: exact decrypted values carry
    /// the encryption noise (Li–Micciancio); `decide` rounds them.
    public func decryptScores(_ result: SessionCiphertext, source: String = "the result") throws(ProtocolError) -> [Double] {
        scores(ofResultSlots: try decryptSlots(result, source: source))
    }

    /// Every decrypted slot of a result.
    public func decryptSlots(_ result: SessionCiphertext, source: String = "the result") throws(ProtocolError) -> [Double] {
        guard result.kind == .resultCiphertext else {
            throw .wrongKind(source: source, expected: PartyFileKind.resultCiphertext.name, found: result.kind.name)
        }
        if let problem = session.mismatch(with: result.session, source: "the secret key", otherSource: source) { throw problem }
        let ciphertext = result.ciphertext
        guard ciphertext.level == session.resultLevel, ciphertext.scale == session.resultScale else {
            throw .mismatch("\(source) is at level \(ciphertext.level), scale 2^\(String(format: "%.2f", log2(ciphertext.scale))); the plan's "
                            + "result is at level \(session.resultLevel), scale 2^\(String(format: "%.2f", log2(session.resultScale))): "
                            + "not a result of this computation, refused")
        }
        do { return try decryptor.decryptReal(ciphertext) } catch {
            throw .damaged(source: source, reason: "cannot decrypt: \(error.description)")
        }
    }

    func scores(ofResultSlots slots: [Double]) -> [Double] { session.outputSlots.map { slots[$0] } }

    /// The decision for a result: class, rounded confidence, alert. A result whose class scores
    /// lie outside ±`session.scoreBound` is refused: no genuine evaluation of the model on a
    /// recording gives it (a forged or broken result), and nothing of it is released.
    public func decide(_ result: SessionCiphertext, source: String = "the result") throws(ProtocolError) -> Decision {
        let scores = try decryptScores(result, source: source)
        guard scores.allSatisfy({ $0.isFinite && abs($0) <= session.scoreBound }) else {
            throw .mismatch("\(source) decrypts to class scores outside ±\(String(format: "%.1f", session.scoreBound)), the range this model "
                            + "produces: not a genuine result, refused")
        }
        return Decision(scores: scores, classNames: session.classNames, alertClass: session.alertClass)
    }
}

/// The client (the camera at home): holds only the public key. Turns a recording into the
/// network input and encrypts it at the level and scale the plan starts with.
public struct Client {
    /// The session the public key belongs to.
    public let session: SessionDescriptor
    /// The context of the session's parameters.
    public let context: CKKSContext
    let geometry: SlotGeometry
    var encryptor: Encryptor

    /// `deterministicSeed`: reproducible encryptions, for tests and benchmarks only.
    public init(publicKey: SessionPublicKey, deterministicSeed: [UInt8]? = nil) throws(ProtocolError) {
        session = publicKey.session
        context = publicKey.context
        guard let architecture = NetworkArchitecture(name: session.architecture) else {
            throw .invalidInput("unknown architecture \(session.architecture)")
        }
        do { geometry = try SlotGeometry(slotCount: context.slotCount, dimension: architecture.convolution == .twoD ? .two : .one) } catch {
            throw .invalidInput("the public key's parameters cannot hold the network: \(error.description)")
        }
        do {
            if let deterministicSeed {
                encryptor = try Encryptor(context: context, publicKey: publicKey.publicKey, deterministicSeed: deterministicSeed)
            } else {
                encryptor = try Encryptor(context: context, publicKey: publicKey.publicKey)
            }
        } catch { throw ProtocolError(error, "the public key does not fit its parameters") }
    }

    /// The network input of a recording of any length: frame selection to 32 frames, then
    /// normalisation (`Preprocessing`).
    public static func input(for recording: SkeletonSequence, threshold: Double = FrameSelection.defaultThreshold) -> ActionInput {
        Preprocessing.input(for: recording, threshold: threshold)
    }

    /// Encrypts one input tensor with the public key.
    public mutating func encrypt(_ input: ActionInput) throws(ProtocolError) -> SessionCiphertext {
        let slots: [Double]
        do { slots = try PackedProgram.inputSlots(input.tensor.values, geometry: geometry, channels: session.inputChannels) } catch {
            throw .invalidInput("cannot encrypt the input: \(error.description)")
        }
        do {
            let plaintext = try context.encode(slots, level: session.inputLevel, scale: session.inputScale)
            return SessionCiphertext(kind: .inputCiphertext, session: session, context: context, ciphertext: try encryptor.encrypt(plaintext))
        } catch { throw ProtocolError(error, "cannot encrypt the input") }
    }
}

/// The cloud server: holds the model in the clear and the evaluation keys, never a secret key.
/// Compiles the model with the options the keys were made for, checks that it is the same
/// plan, encodes the weights, and evaluates input ciphertexts into result ciphertexts.
public final class CloudServer: @unchecked Sendable {
    /// The session the evaluation keys belong to.
    public let session: SessionDescriptor
    /// The context of the session's parameters.
    public let context: CKKSContext
    /// The compiled program (checked against the session's plan).
    public let program: PackedProgram
    /// The levels and scales of the program.
    public let plan: LevelPlan
    /// The backend: encoded weights and evaluation keys.
    public let backend: CKKSBackend
    /// Wall seconds of encoding the weight plaintexts.
    public let weightEncodingSeconds: Double

    /// `weightBudget`: bytes of weight plaintexts kept encoded (nil: all), see `PatternStore`.
    public convenience init(network: FoldedNetwork, evaluationKeys: EvaluationKeys,
                            weightBudget: Int? = EncryptedInference.defaultWeightBudget) throws(ProtocolError) {
        try self.init(network: network, evaluationKeys: evaluationKeys, weightBudget: weightBudget, compiled: nil)
    }

    init(network: FoldedNetwork, evaluationKeys keys: EvaluationKeys, weightBudget: Int?,
         compiled: (program: PackedProgram, plan: LevelPlan)?) throws(ProtocolError) {
        let session = keys.session
        guard network.modelFingerprint.hex == session.modelFingerprint else {
            throw .mismatch("the evaluation keys were generated for model '\(session.modelName)' (fingerprint \(session.modelFingerprint)), "
                            + "the model given is '\(printable(network.modelName))' (fingerprint \(network.modelFingerprint.hex)): "
                            + "use that model, or generate keys for this one")
        }
        guard let options = session.compileOptions else { throw .invalidInput("the evaluation keys name an unknown method or strategy") }
        let parameters = keys.context.parameters
        let program: PackedProgram
        if let compiled { program = compiled.program } else {
            program = try network.compiled(slotCount: parameters.slotCount, method: options.method, strategies: options.strategies,
                                           packing: options.packing)
        }
        let plan: LevelPlan
        if let compiled { plan = compiled.plan } else {
            do { plan = try LevelPlan(program: program, parameters: parameters) } catch {
                throw .invalidInput("cannot run \(network.modelName) with parameter set \(parameters.name): \(error.description)")
            }
        }
        let own = SessionDescriptor(network: network, program: program, plan: plan, parameters: parameters,
                                    requestedStrategies: options.strategies, packing: options.packing, scoreBound: session.scoreBound)
        guard own.planFingerprint == session.planFingerprint else {
            throw .mismatch("the evaluation keys were made for plan \(session.planFingerprint), this build compiles the model to plan "
                            + "\(own.planFingerprint) (strategies \(own.strategies.joined(separator: ",")) vs "
                            + "\(session.strategies.joined(separator: ","))): generate the keys with this build")
        }
        // the keys must cover every operation of the plan at its level
        let context = keys.context
        for (step, level) in plan.rotationLevels {
            guard let key = keys.galoisKeys.entries[context.galoisElement(forRotation: step)], key.key.level >= level else {
                throw .mismatch("the evaluation keys lack the rotation key for step \(step) at level \(level)")
            }
        }
        if let level = plan.conjugationLevel {
            guard let key = keys.galoisKeys.entries[context.conjugationElement], key.key.level >= level else {
                throw .mismatch("the evaluation keys lack the conjugation key at level \(level)")
            }
        }
        guard keys.relinearizationKey.key.level >= plan.relinearizationLevel else {
            throw .mismatch("the relinearization key stops at level \(keys.relinearizationKey.key.level), the plan squares at level "
                            + "\(plan.relinearizationLevel)")
        }
        self.session = session
        self.context = context
        self.program = program
        self.plan = plan
        let start = DispatchTime.now().uptimeNanoseconds
        let patterns: PatternStore
        do { patterns = try PatternStore(program: program, plan: plan, context: context, budget: weightBudget) } catch {
            throw .invalidInput("cannot encode the weights: \(error.description)")
        }
        weightEncodingSeconds = wallSeconds(since: start)
        backend = CKKSBackend(context: context, plan: plan, patterns: patterns, galoisKeys: keys.galoisKeys,
                              relinearizationKey: keys.relinearizationKey)
    }

    /// Evaluates the network on an input ciphertext; returns the result ciphertext (level 0),
    /// the wall seconds of each phase ("block1" … "dense") and, with `profiling`, where the time
    /// went (`ProgramProfile`: per phase, kind of instruction and level).
    public func evaluate(_ input: SessionCiphertext, source: String = "the input ciphertext", profiling: Bool = false)
        throws(ProtocolError) -> (result: SessionCiphertext, phaseSeconds: [(phase: String, seconds: Double)], profile: ProgramProfile?) {
        guard input.kind == .inputCiphertext else {
            throw .wrongKind(source: source, expected: PartyFileKind.inputCiphertext.name, found: input.kind.name)
        }
        if let problem = session.mismatch(with: input.session, source: "the evaluation keys", otherSource: source) { throw problem }
        let ciphertext = input.ciphertext
        guard ciphertext.level == plan.startLevel, ciphertext.scale == plan.inputScale else {
            throw .invalidInput("\(source) is at level \(ciphertext.level), scale \(ciphertext.scale); the plan starts at level "
                                + "\(plan.startLevel), scale \(plan.inputScale)")
        }
        do {
            let run = try program.run(on: backend, input: ciphertext, profiling: profiling)
            var result = SessionCiphertext(kind: .resultCiphertext, session: session, context: context, ciphertext: run.result)
            result.origin = input.origin
            result.inputHeader = input.inputHeader
            return (result, run.phaseSeconds, run.profile)
        } catch {
            throw .invalidInput("the evaluation failed: \(error.description)")
        }
    }
}

extension SessionDescriptor {
    /// The key-set identifier: a fingerprint of the serialized public key's digest (public; it
    /// names the key generation and nothing else can have it).
    static func keySetID(ofPublicKeyObject bytes: [UInt8]) -> String {
        var hash = FingerprintHasher(domain: "HEAR key set 1")
        hash.mix(bytes: Serialization.storedDigest(of: bytes) ?? [])
        return hash.finalize().hex
    }
}

extension ProtocolError {
    /// A CKKS failure at the protocol level, keeping its cause: no randomness stays
    /// `.entropyUnavailable` (exit 70 in the CLI), another parameter set `.mismatch`, anything
    /// else an `.invalidInput` that says what was being done.
    public init(_ error: CKKSError, _ doing: String) {
        switch error {
        case .entropyUnavailable: self = .entropyUnavailable("\(doing): \(error.description)")
        case .parameterMismatch: self = .mismatch("\(doing): \(error.description)")
        default: self = .invalidInput("\(doing): \(error.description)")
        }
    }
}
