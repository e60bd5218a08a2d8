// `HEARBenchmarks inference`: the encrypted networks, one JSON line per phase.
import CKKS
import Foundation
import HEAR
import HERing
import HETensor

/// Options of `HEARBenchmarks inference`.
struct InferenceBenchmarkOptions {
    var model = "cnn2d-64"
    var method = HEMethod.fastHEAR
    var packing = ChannelPacking.auto
    var preset = "default"
    var threads = 2
    var samples = 5
    var data: String?
    var weightBudget: Int? = EncryptedInference.defaultWeightBudget

    init(_ arguments: [String]) throws {
        for (flag, value) in try optionPairs(arguments) {
            switch flag {
            case "--model": model = value
            case "--method":
                guard let m = HEMethod(rawValue: value) else { throw BenchmarkError.usage("--method takes fast-hear or hear") }
                method = m
            case "--packing":
                guard let p = ChannelPacking(rawValue: value) else { throw BenchmarkError.usage("--packing takes auto, real or complex") }
                packing = p
            case "--preset": preset = value
            case "--data": data = value
            case "--threads": threads = try positiveInteger(flag, value)
            case "--samples": samples = try positiveInteger(flag, value)
            case "--weights-memory":
                if value == "all" { weightBudget = nil } else {
                    guard let mb = Int(value), mb >= 0 else { throw BenchmarkError.usage("--weights-memory takes megabytes or all") }
                    weightBudget = mb * 1_000_000
                }
            default: throw BenchmarkError.usage("unknown option \(flag)")
            }
        }
    }
}

/// The model and the test set named by the options: a model directory or `.hearmodel` file, or a
/// paper model's name (from `--data <dir>/models` when given, else the bundled copy); the test
/// set from `--data` when given, else the bundled one.
func benchmarkModel(_ options: InferenceBenchmarkOptions) throws -> (HEARModel, HEARTestSet) {
    let data = options.data.map { URL(fileURLWithPath: $0) }
    let testSet = try data.map { try HEARTestSet.load(directory: $0) } ?? PaperData.bundledTestSet()
    var isDirectory: ObjCBool = false
    let direct = URL(fileURLWithPath: options.model)
    if FileManager.default.fileExists(atPath: direct.path, isDirectory: &isDirectory) {
        if isDirectory.boolValue { return (try HEARModel(contentsOf: direct), testSet) }
        return (try HEARModel(binary: Data(contentsOf: direct), source: direct.path), testSet)
    }
    if let data, FileManager.default.fileExists(atPath: data.appendingPathComponent("models/\(options.model)").path) {
        return (try HEARModel(contentsOf: data.appendingPathComponent("models/\(options.model)")), testSet)
    }
    guard PaperData.modelNames.contains(options.model) else {
        throw BenchmarkError.usage("no model \(options.model): a bundled one (\(PaperData.modelNames.joined(separator: ", "))), a model "
                                   + "directory or a .hearmodel file (for cnn2d-128: `hear model init --architecture cnn2d-128 --seed 1 --out <dir>`)")
    }
    return (try PaperData.bundledModel(named: options.model), testSet)
}

func benchmarkInference(_ options: InferenceBenchmarkOptions) throws {
    let (model, testSet) = try benchmarkModel(options)
    let folded = try FoldedNetwork(folding: model)
    let parameters = try CKKSParameters.preset(named: options.preset)
    let inference = try EncryptedInference(network: folded, method: options.method, packing: options.packing, parameters: parameters,
                                           weightBudget: options.weightBudget, parallelism: try Parallelism(threads: options.threads))
    let common: [(String, Any)] = [("model", model.name), ("method", options.method.rawValue),
                                   ("packing", inference.program.complexPacked.map { $0 ? "complex" : "real" }.joined(separator: ",")),
                                   ("preset", parameters.name),
                                   ("threads", options.threads)]
    emit(common + [("phase", "keygen"), ("median_s", inference.keyGenerationSeconds), ("min_s", inference.keyGenerationSeconds)])
    emit(common + [("phase", "encode_weights"), ("median_s", inference.weightEncodingSeconds),
                   ("min_s", inference.weightEncodingSeconds)])
    var times = EncryptedInference.StepTimes()
    var worst = 0.0, agree = 0
    for index in 0..<min(options.samples, testSet.count) {
        let input = Preprocessing.normalize(testSet.sequences[index])
        let prediction = try inference.predict(input)
        times.record(prediction)
        let expected = folded.logits(input)
        worst = max(worst, zip(prediction.scores, expected).map { abs($0 - $1) }.max() ?? 0)
        if predictedClass(prediction.scores) == predictedClass(expected) { agree += 1 }
    }
    for step in times.steps {
        let (median, minimum, count) = times.summary(step)
        emit(common + [("phase", step), ("median_s", median), ("min_s", minimum), ("samples", count)])
    }
    let c = inference.program.counts
    let peak = Double(peakResidentBytes() ?? 0) / 1e6
    emit(common + [("peak_rss_mb", peak), ("rotations", c.rotations), ("hoisted_rotations", c.hoistedRotations),
                   ("conjugations", c.conjugations),
                   ("plaintext_products", c.plaintextProducts), ("squarings", c.squarings), ("rescales", c.rescales),
                   ("galois_keys", inference.backend.galoisKeys.entries.count),
                   ("resident_weights_mb", Double(inference.backend.patterns.residentBytes) / 1e6),
                   ("argmax_agreement", agree), ("max_logit_error", String(format: "%.3e", worst))])
}
