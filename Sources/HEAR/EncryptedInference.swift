import CKKS
import Dispatch
import Foundation
import HERing
import HETensor

/// Encrypted inference of a folded network in one process: the three parties of
/// `Parties.swift` wired together without files (the evaluation command, benchmarks, tests).
///
/// - the **monitoring station** compiles the network, generates the secret key and the
///   evaluation keys: the public key, the relinearization key and Galois keys for exactly the
///   program's rotation steps, each only up to the level where the program uses it;
/// - the **cloud server** encodes every weight, mask and bias at the level and scale where it
///   is used, and evaluates ciphertexts with the evaluation keys only (`CKKSBackend` holds no
///   secret);
/// - per sample the **client** encodes and encrypts the input slots, the server runs the
///   program, the station decrypts and reads the class scores.
///
/// The secret key lives in `station`; it is never printed.
public final class EncryptedInference: @unchecked Sendable {
    /// The compiled slot program of the network.
    public let program: PackedProgram
    /// The session's CKKS context.
    public let context: CKKSContext
    /// The levels and scales the program runs at.
    public let plan: LevelPlan
    /// The station: secret key, decryption and decision.
    public let station: MonitoringStation
    /// The cloud server: evaluation keys and encoded weights.
    public let server: CloudServer
    /// What a client holds.
    public let clientKey: SessionPublicKey
    /// The server's side: encoded patterns and evaluation keys.
    public var backend: CKKSBackend { server.backend }
    /// The session's public key (what a client encrypts with).
    public var publicKey: PublicKey { clientKey.publicKey }
    /// Wall seconds of key generation (public, relinearization and Galois keys).
    public let keyGenerationSeconds: Double
    /// Wall seconds of encoding the patterns.
    public var weightEncodingSeconds: Double { server.weightEncodingSeconds }
    let seed: [UInt8]?
    let lock = NSLock()
    var encryptions = 0

    /// The default bytes of kept weight plaintexts (`weightBudget`): with the keys and the
    /// working ciphertexts, 2D-CNN-128 Fast-HEAR stays under 4 GB.
    public static let defaultWeightBudget = 2_500_000_000

    /// Compiles `network` for `parameters`, generates the keys and encodes the weights.
    /// `weightBudget`: the most bytes of resident weight plaintexts (nil: all resident); the
    /// largest stages beyond it are encoded during the evaluation (`PatternStore`).
    /// `deterministicSeed` makes keys and encryptions reproducible (tests and benchmarks only;
    /// real keys come from system entropy). `parallelism`: the threads of every step.
    public init(network: FoldedNetwork, method: HEMethod, strategies: [ConvolutionStrategy?] = [],
                packing: ChannelPacking = .auto, parameters: CKKSParameters, weightBudget: Int? = nil,
                deterministicSeed: [UInt8]? = nil, parallelism: Parallelism = .allProcessors) throws(ProtocolError) {
        let keys = try MonitoringStation.generateKeys(for: network, method: method, strategies: strategies, packing: packing,
                                                      parameters: parameters, deterministicSeed: deterministicSeed,
                                                      parallelism: parallelism)
        program = keys.program
        plan = keys.plan
        context = keys.publicKey.context
        station = keys.station
        clientKey = keys.publicKey
        keyGenerationSeconds = keys.seconds
        seed = deterministicSeed
        server = try CloudServer(network: network, evaluationKeys: keys.evaluationKeys, weightBudget: weightBudget,
                                 compiled: (keys.program, keys.plan))
    }

    /// One encrypted prediction.
    public struct Prediction: Sendable {
        /// The decrypted class scores (logits).
        public var scores: [Double]
        /// Every decrypted slot of the result (the scores sit at `program.outputSlots`).
        public var resultSlots: [Double]
        /// Wall seconds per step: "encrypt", "block1" … "dense", "decrypt".
        public var seconds: [(phase: String, seconds: Double)]
        /// Where the server's time went, when the prediction was made with `profiling`.
        public var profile: ProgramProfile?
        /// Wall seconds of the whole prediction (encrypt, evaluate, decrypt).
        public var totalSeconds: Double { seconds.reduce(0) { $0 + $1.seconds } }
    }

    /// Per-step wall times of a series of predictions, steps in order and "inference" (the
    /// whole prediction) last.
    public struct StepTimes: Sendable {
        /// The steps in the order first recorded, "inference" last.
        public private(set) var steps: [String] = []
        var samples: [String: [Double]] = [:]

        /// No predictions recorded yet.
        public init() {}

        /// Adds one prediction's step times and its total.
        public mutating func record(_ prediction: Prediction) {
            for (step, seconds) in prediction.seconds + [("inference", prediction.totalSeconds)] {
                if samples[step] == nil { steps.append(step) }
                samples[step, default: []].append(seconds)
            }
        }

        /// Median, minimum and count of one step's times.
        public func summary(_ step: String) -> (median: Double, minimum: Double, count: Int) {
            let sorted = (samples[step] ?? []).sorted()
            guard !sorted.isEmpty else { return (0, 0, 0) }
            let middle = sorted.count / 2
            let median = sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
            return (median, sorted[0], sorted.count)
        }
    }

    /// Encrypts `input` (client), evaluates (server), decrypts (monitoring station); with
    /// `profiling`, the prediction carries the server's `ProgramProfile`.
    public func predict(_ input: ActionInput, profiling: Bool = false) throws(ProtocolError) -> Prediction {
        var start = DispatchTime.now().uptimeNanoseconds
        var sampleSeed: [UInt8]? = nil
        if var seed {
            lock.lock()
            encryptions += 1
            let counter = encryptions
            lock.unlock()
            withUnsafeBytes(of: UInt64(counter).littleEndian) { for (i, b) in $0.enumerated() { seed[i] ^= b } }
            sampleSeed = seed
        }
        ParallelProfile.installed?.setPhase("encrypt")
        var client = try Client(publicKey: clientKey, deterministicSeed: sampleSeed)
        let ciphertext = try client.encrypt(input)
        var seconds: [(phase: String, seconds: Double)] = [("encrypt", wallSeconds(since: start))]
        let (result, phases, profile) = try server.evaluate(ciphertext, profiling: profiling)
        seconds += phases
        start = DispatchTime.now().uptimeNanoseconds
        ParallelProfile.installed?.setPhase("decrypt")
        let slots = try station.decryptSlots(result)
        let scores = program.scores(ofDecryptedSlots: slots)
        seconds.append(("decrypt", wallSeconds(since: start)))
        return Prediction(scores: scores, resultSlots: slots, seconds: seconds, profile: profile)
    }

    /// Serialized sizes of an input ciphertext (level `plan.startLevel`) and of a result (level
    /// 0): fixed by the level, measured on encryptions of zero.
    public func ciphertextBytes() throws(CKKSError) -> (input: Int, result: Int) {
        var encryptor = try Encryptor(context: context, publicKey: publicKey)
        let zeros = [Double](repeating: 0, count: context.slotCount)
        let input = try encryptor.encrypt(context.encode(zeros, level: plan.startLevel, scale: plan.inputScale))
        let result = try encryptor.encrypt(context.encode(zeros, level: 0, scale: plan.inputScale))
        return (try input.serialized(context: context).count, try result.serialized(context: context).count)
    }

    /// Bytes of the evaluation keys held by the server (Galois and relinearization keys).
    public var evaluationKeyBytes: Int {
        let galois = backend.galoisKeys.entries.values.reduce(0) { $0 + $1.key.byteCount }
        let relinearization = backend.relinearizationKey.key.byteCount
        return galois + relinearization
    }
}

/// The process's peak resident memory (Linux `VmHWM`), or nil where it cannot be read.
public func peakResidentBytes() -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        if fields.count >= 2, let kilobytes = Int(fields[1]) { return kilobytes * 1024 }
    }
    return nil
}
