// `HEARBenchmarks files`: the party files of a model, their sizes and the wall time to write
// them to bytes (signed) and to read them back (with every check of `init(file:)`: signatures,
// certificates, digests), one JSON line each; then what authentication adds to each party's
// step: SHA-256 digests of the file's objects and one Ed25519 signature or verification, against
// the step's inference time.
import CKKS
import Foundation
import HEAR
import HEARCrypto
import HERing
import HETensor

func benchmarkFiles(_ options: InferenceBenchmarkOptions) throws {
    let parallelism = try Parallelism(threads: options.threads)
    let (model, testSet) = try benchmarkModel(options)
    let folded = try FoldedNetwork(folding: model)
    let parameters = try CKKSParameters.preset(named: options.preset)
    let keys = try MonitoringStation.generateKeys(for: folded, method: options.method, packing: options.packing, parameters: parameters,
                                                  parallelism: parallelism)
    let station = keys.station.identity
    func device(_ role: PartyRole) throws -> DeviceCredentials {
        let identity = SigningIdentity.deterministic(role: role, name: role.rawValue, seed: Array(role.rawValue.utf8))
        return try DeviceCredentials(identity: identity, certificate: try Certificate(certifying: identity.publicIdentity, by: station))
    }
    let camera = try device(.camera), cloud = try device(.cloud)
    var client = try Client(publicKey: keys.publicKey)
    let inputFile = try client.encrypt(Preprocessing.normalize(testSet.sequences[0])).serialized(signedBy: camera, sequence: 1)
    let input = try SessionCiphertext(file: inputFile, kind: .inputCiphertext, source: "in", trusting: keys.station.trust)
    let server = try CloudServer(network: folded, evaluationKeys: keys.evaluationKeys, weightBudget: options.weightBudget)
    let inferenceStart = Date()
    let result = try server.evaluate(input).result
    let inferenceSeconds = Date().timeIntervalSince(inferenceStart)
    let common: [(String, Any)] = [("model", model.name), ("method", options.method.rawValue), ("preset", parameters.name),
                                   ("threads", options.threads)]
    emit(common + [("phase", "keygen"), ("median_s", keys.seconds), ("min_s", keys.seconds)])
    emit(common + [("phase", "inference"), ("seconds", inferenceSeconds)])
    func report(_ file: String, _ serialize: () throws -> [UInt8], _ deserialize: ([UInt8]) throws -> Void) throws {
        let bytes = try serialize()
        var failure: Error?
        let write = measure(runs: 5, warmup: 1, wallClock: true) { do { _ = try serialize() } catch { failure = error } }
        let read = measure(runs: 5, warmup: 1, wallClock: true) { do { try deserialize(bytes) } catch { failure = error } }
        if let failure { throw failure }
        // what authentication costs in this file: hashing every byte once, one signature, one verification
        let hash = measure(runs: 5, warmup: 1, wallClock: true) { _ = SHA256Tree.hash(bytes, concurrency: parallelism.threadCount) }
        let header = [UInt8](bytes.prefix(4096))
        let sign = measure(runs: 21, warmup: 2, wallClock: true) { _ = Ed25519.SigningKey(seed: Array(header.prefix(32))).signature(for: header) }
        let signature = Ed25519.SigningKey(seed: Array(header.prefix(32))).signature(for: header)
        let publicKey = Ed25519.SigningKey(seed: Array(header.prefix(32))).publicKey
        let verify = measure(runs: 21, warmup: 2, wallClock: true) { _ = Ed25519.isValidSignature(signature, of: header, publicKey: publicKey) }
        let added = (hash.median + sign.median + verify.median) / 1e6
        emit(common + [("file", file), ("bytes", bytes.count), ("serialize_median_s", write.median / 1e6),
                       ("deserialize_median_s", read.median / 1e6), ("sha256_digests_s", hash.median / 1e6),
                       ("ed25519_sign_s", sign.median / 1e6), ("ed25519_verify_s", verify.median / 1e6),
                       ("authentication_s", added), ("authentication_percent_of_inference", 100 * added / inferenceSeconds)])
    }
    try report("public-key", { try keys.publicKeyFile() }) { _ = try SessionPublicKey(file: $0, source: "pk", trusting: keys.station.trust) }
    try report("evaluation-keys", { try keys.evaluationKeysFile() }) {
        _ = try EvaluationKeys(file: $0, source: "ek", trusting: keys.station.trust)
    }
    try report("secret-key", { keys.station.secretKeyFile() }) { _ = try MonitoringStation(secretKeyFile: $0, source: "sk", identity: station) }
    try report("input-ciphertext", { try input.serialized(signedBy: camera, sequence: 1) }) {
        _ = try SessionCiphertext(file: $0, kind: .inputCiphertext, source: "in", trusting: keys.station.trust, context: server.context)
    }
    try report("result-ciphertext", { try result.serialized(signedBy: cloud) }) {
        _ = try SessionCiphertext(file: $0, kind: .resultCiphertext, source: "out", trusting: keys.station.trust, context: server.context)
    }
}
