// `HEARBenchmarks files`: the party files of a model, their sizes and the wall time to write
// them to bytes and to read them back (with every check of `init(file:)`), one JSON line each.
import CKKS
import Foundation
import HEAR
import HERing
import HETensor

func benchmarkFiles(_ options: InferenceBenchmarkOptions) throws {
    Parallelism.threadCount = options.threads
    let (model, testSet) = try benchmarkModel(options)
    let folded = try FoldedNetwork(folding: model)
    let parameters = try CKKSParameters.preset(named: options.preset)
    let keys = try MonitoringStation.generateKeys(for: folded, method: options.method, packing: options.packing, parameters: parameters)
    var client = try Client(publicKey: keys.publicKey)
    let input = try client.encrypt(Preprocessing.normalize(testSet.sequences[0]))
    let server = try CloudServer(network: folded, evaluationKeys: keys.evaluationKeys, weightBudget: options.weightBudget)
    let result = try server.evaluate(input).result
    let common: [(String, Any)] = [("model", model.name), ("method", options.method.rawValue), ("preset", parameters.name),
                                   ("threads", options.threads)]
    emit(common + [("phase", "keygen"), ("median_s", keys.seconds), ("min_s", keys.seconds)])
    func report(_ file: String, _ serialize: () throws -> [UInt8], _ deserialize: ([UInt8]) throws -> Void) throws {
        let bytes = try serialize()
        var failure: Error?
        let write = measure(runs: 5, warmup: 1, wallClock: true) { do { _ = try serialize() } catch { failure = error } }
        let read = measure(runs: 5, warmup: 1, wallClock: true) { do { try deserialize(bytes) } catch { failure = error } }
        if let failure { throw failure }
        emit(common + [("file", file), ("bytes", bytes.count), ("serialize_median_s", write.median / 1e6),
                       ("deserialize_median_s", read.median / 1e6)])
    }
    try report("public-key", { try keys.publicKey.serialized() }) { _ = try SessionPublicKey(file: $0, source: "pk") }
    try report("evaluation-keys", { try keys.evaluationKeys.serialized() }) { _ = try EvaluationKeys(file: $0, source: "ek") }
    try report("secret-key", { keys.station.secretKeyFile() }) { _ = try MonitoringStation(secretKeyFile: $0, source: "sk") }
    try report("input-ciphertext", { try input.serialized() }) {
        _ = try SessionCiphertext(file: $0, kind: .inputCiphertext, source: "in", context: server.context)
    }
    try report("result-ciphertext", { try result.serialized() }) {
        _ = try SessionCiphertext(file: $0, kind: .resultCiphertext, source: "out", context: server.context)
    }
}
