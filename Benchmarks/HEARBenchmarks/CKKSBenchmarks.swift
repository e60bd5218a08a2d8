// CKKS operation benchmarks at a preset: the op names of the peer benchmark (SEAL / OpenFHE).
import Foundation
import CKKS
import HERing

/// Options of `HEARBenchmarks ckks`.
struct CKKSBenchmarkOptions {
    var preset = "fast-hear"
    var threads = 1

    init(_ arguments: [String]) throws {
        for (flag, value) in try optionPairs(arguments) {
            switch flag {
            case "--preset": preset = value
            case "--threads": threads = try positiveInteger(flag, value)
            default: throw BenchmarkError.usage("unknown option \(flag)")
            }
        }
    }
}

/// `--flag value` pairs, in order.
func optionPairs(_ arguments: [String]) throws -> [(String, String)] {
    guard arguments.count % 2 == 0 else { throw BenchmarkError.usage("\(arguments.last!) needs a value") }
    return stride(from: 0, to: arguments.count, by: 2).map { (arguments[$0], arguments[$0 + 1]) }
}

func positiveInteger(_ flag: String, _ value: String) throws -> Int {
    guard let n = Int(value), n >= 1 else { throw BenchmarkError.usage("\(flag) needs a positive integer") }
    return n
}

enum BenchmarkError: Error, CustomStringConvertible {
    case usage(String)
    var description: String {
        switch self { case let .usage(why): return why }
    }
}

func benchmarkCKKS(_ options: CKKSBenchmarkOptions) throws {
    let parameters = try CKKSParameters.preset(named: options.preset)
    // one thread: thread CPU time (like the peers' process CPU time); more: wall time
    let wall = options.threads > 1
    let context = CKKSContext(parameters, parallelism: try Parallelism(threads: options.threads))
    let top = context.maxLevel
    func report(_ op: String, level: Int = top, runs: Int, _ body: () throws -> Void) throws {
        var failure: Error?
        let r = measure(runs: runs, warmup: min(3, runs), wallClock: wall) {
            do { try body() } catch { failure = error }
        }
        if let failure { throw failure }
        emit([("op", op), ("preset", parameters.name), ("level", level), ("threads", options.threads),
              ("median_ms", r.median / 1000), ("min_ms", r.min / 1000)])
    }

    // the chain, for the peer script (Benchmarks/Peers), which builds the same one
    emit([("parameters", parameters.name), ("degree", parameters.degree), ("data_bits", parameters.dataPrimeBits),
          ("special_bits", parameters.specialPrimeBits), ("dnum", parameters.digitCount), ("log2_scale", parameters.log2Scale),
          ("top_level", top)])
    var generator = KeyGenerator(context: context, deterministicSeed: [UInt8](repeating: 1, count: 32))
    let publicKey = generator.publicKey()
    let relinearizationKey = generator.relinearizationKey()
    let galoisKeys = generator.galoisKeys(steps: Array(1...8))
    var encryptor = try Encryptor(context: context, publicKey: publicKey)
    let decryptor = try Decryptor(context: context, secretKey: generator.secretKey)
    let evaluator = Evaluator(context: context)
    let values = (0..<context.slotCount).map { sin(Double($0)) }

    var plaintext = try context.encode(values)
    try report("encode", runs: 31) { plaintext = try context.encode(values) }
    var ciphertext = try encryptor.encrypt(plaintext)
    try report("encrypt_pk", runs: 31) { ciphertext = try encryptor.encrypt(plaintext) }
    try report("decrypt_decode", runs: 31) { _ = try context.decode(decryptor.decrypt(ciphertext)) }
    let other = try encryptor.encrypt(plaintext)
    try report("add", runs: 101) { _ = try evaluator.add(ciphertext, other) }
    try report("mul_plain", runs: 101) { _ = try evaluator.multiply(ciphertext, plaintext) }
    try report("mul_scalar", runs: 101) { _ = try evaluator.multiply(ciphertext, constant: 0.75) }
    try report("mul_relin", runs: 21) { _ = try evaluator.multiply(ciphertext, other, relinearizationKey: relinearizationKey) }
    let threePart = try evaluator.multiplyWithoutRelinearization(ciphertext, other)
    try report("relin", runs: 21) { _ = try evaluator.relinearize(threePart, key: relinearizationKey) }
    let product = try evaluator.relinearize(threePart, key: relinearizationKey)
    try report("rescale", runs: 51) { _ = try evaluator.rescale(product) }
    try report("rotate_1", runs: 21) { _ = try evaluator.rotate(ciphertext, by: 1, keys: galoisKeys) }
    try report("rotate_8_plain", runs: 7) {
        for step in 1...8 { _ = try evaluator.rotate(ciphertext, by: step, keys: galoisKeys) }
    }
    try report("rotate_8_hoisted", runs: 7) { _ = try evaluator.rotations(ciphertext, by: Array(1...8), keys: galoisKeys) }
    // the middle level: 7 primes
    let mid = 6
    let ciphertextMid = try evaluator.dropLevel(ciphertext, to: mid), otherMid = try evaluator.dropLevel(other, to: mid)
    try report("mul_relin_mid", level: mid, runs: 21) {
        _ = try evaluator.multiply(ciphertextMid, otherMid, relinearizationKey: relinearizationKey)
    }
    try report("rotate_1_mid", level: mid, runs: 21) { _ = try evaluator.rotate(ciphertextMid, by: 1, keys: galoisKeys) }
    try report("keygen_sk_pk_relin", runs: 5) {
        var g = try KeyGenerator(context: context)
        _ = g.publicKey()
        _ = g.relinearizationKey()
    }
    try report("rotkeys_gen_30", runs: 3) {
        var g = try KeyGenerator(context: context, secretKey: generator.secretKey)
        _ = g.galoisKeys(steps: Array(1...30))
    }
    let level0 = try evaluator.dropLevel(ciphertext, to: 0)
    let sizes: [(String, Int)] = [
        ("fresh_ciphertext", try ciphertext.serialized(context: context).count),
        ("level0_ciphertext", try level0.serialized(context: context).count),
        ("galois_key", try galoisKeys.serialized(context: context, elements: [context.galoisElement(forRotation: 1)]).count),
    ]
    for (name, bytes) in sizes {
        emit([("size", name), ("preset", parameters.name), ("bytes", bytes)])
    }
}
