// `hear evaluate --encrypted`: the networks on ciphertexts, with the time of every step.
import CKKS
import Foundation
import HEAR
import HERing
import HETensor

/// The encrypted evaluation's options.
struct EncryptedSettings {
    var method: HEMethod
    var parameters: CKKSParameters
    var strategies: [ConvolutionStrategy?]
    var packing: ChannelPacking
    /// Bytes of resident weight plaintexts (nil: all).
    var weightBudget: Int?
}

extension EncryptedSettings {
    init(_ options: Options) throws(CommandFailure) {
        weightBudget = try HEARCommand.weightBudget(options)
        method = try parseMethod(options.values["method"])
        strategies = try parseStrategies(options.values["strategy"])
        packing = try parsePacking(options.values["packing"])
        do {
            parameters = try CKKSParameters.preset(named: options.values["preset"] ?? "default")
        } catch {
            throw CommandFailure(code: .usage, message: "--preset: \(error.description)")
        }
    }
}

func megabytes(_ bytes: Int) -> String {
    if bytes < 100_000 { return String(format: "%.1f kB", Double(bytes) / 1e3) }
    return String(format: bytes < 10_000_000 ? "%.2f MB" : "%.1f MB", Double(bytes) / 1e6)
}

/// Runs the encrypted evaluation and prints its report; returns the decrypted logits.
func evaluateEncrypted(model: HEARModel, modelOrigin: String, inputs: [ActionInput], labels: [Int], samples: [Int],
                       dataOrigin: String, note: String = "", settings: EncryptedSettings) throws(CommandFailure) -> [[Double]] {
    let folded: FoldedNetwork
    do { folded = try FoldedNetwork(folding: model) } catch { throw failure(error) }
    let parameters = settings.parameters
    print("model     \(printable(model.name)) (\(model.architecture.convolution.rawValue.uppercased()) CNN, f = \(model.architecture.filters)) from \(modelOrigin)")
    print("data      \(samples.count) samples from \(dataOrigin)\(note)")
    print("method    \(settings.method.rawValue), preset \(parameters.name): N = \(parameters.degree), "
          + "log2 QP = \(parameters.totalModulusBits), scale 2^\(parameters.log2Scale), \(parameters.security.rawValue), "
          + "\(commandParallelism.threadCount) thread(s)")
    let inference: EncryptedInference
    Progress.note("generating the keys and encoding the weights…")
    do {
        inference = try EncryptedInference(network: folded, method: settings.method, strategies: settings.strategies,
                                           packing: settings.packing, parameters: parameters, weightBudget: settings.weightBudget,
                                           parallelism: commandParallelism)
    } catch {
        guard case .invalidInput = error else { throw failure(error) }
        throw CommandFailure(code: .usage, message: "cannot run \(printable(model.name)) with preset \(parameters.name): \(error.description)")
    }
    let program = inference.program, plan = inference.plan
    print("program   depth \(program.depth) (input at level \(plan.startLevel) of \(parameters.maxLevel)), strategies "
          + program.strategies.map(\.rawValue).joined(separator: ", ") + ", packing "
          + program.complexPacked.map { $0 ? "complex" : "real" }.joined(separator: ", "))
    print(String(format: "keys      %.2f s: %d Galois keys (levels %d…%d%@) + relinearization (level %d), %@ held by the server",
                 inference.keyGenerationSeconds, inference.backend.galoisKeys.entries.count,
                 plan.rotationLevels.values.min() ?? 0, plan.rotationLevels.values.max() ?? 0,
                 plan.conjugationLevel.map { ", conjugation at \($0)" } ?? "", plan.relinearizationLevel,
                 megabytes(inference.evaluationKeyBytes)))
    let store = inference.backend.patterns
    print(String(format: "weights   %.2f s: %d plaintexts at their levels: %d in NTT form (%d of them packed), %d compact; %@ kept",
                 inference.weightEncodingSeconds, program.patterns.count, store.residentCount, store.packedCount, store.compactCount,
                 megabytes(store.residentBytes)))
    if !store.nonResidentStages.isEmpty {
        print("          over the --weights-memory budget: " + store.nonResidentStages.map { entry in
            let stage = program.stages[entry.stage]
            let parts = [entry.compact > 0 ? "\(entry.compact) compact" : nil, entry.streamed > 0 ? "\(entry.streamed) streamed" : nil]
            return "\(stage.phase) \(stage.name): " + parts.compactMap { $0 }.joined(separator: ", ") + " of \(entry.patterns)"
        }.joined(separator: "; "))
    }

    let plainLogits = folded.logits(inputs, parallelism: commandParallelism)
    var logits: [[Double]] = []
    var times = EncryptedInference.StepTimes()
    let progress = Progress("encrypted inference", total: inputs.count)
    progress.update(0)
    for (index, input) in inputs.enumerated() {
        let prediction: EncryptedInference.Prediction
        do { prediction = try inference.predict(input) } catch {
            throw CommandFailure(code: .dataError, message: "sample \(samples[index]): \(error.description)")
        }
        logits.append(prediction.scores)
        times.record(prediction)
        progress.update(index + 1)
    }
    progress.finish()
    let sizes: (input: Int, result: Int)
    do { sizes = try inference.ciphertextBytes() } catch { throw CommandFailure(code: .dataError, message: error.description) }
    print("ciphertexts  input \(megabytes(sizes.input)) (level \(plan.startLevel)), result \(megabytes(sizes.result)) (level 0)")
    print("")
    print("step          median s     min s   (\(inputs.count) sample(s))")
    for step in times.steps {
        let (median, minimum, _) = times.summary(step)
        print(step.padding(toLength: 12, withPad: " ", startingAt: 0) + String(format: "%10.4f%10.4f", median, minimum))
    }
    print("")
    printCounts(program)
    print("")
    let metrics = ClassificationMetrics(predictions: logits.map(predictedClass), labels: labels, classNames: model.classNames)
    print(metrics.report())
    print("")
    let agreement = zip(logits, plainLogits).filter { predictedClass($0.0) == predictedClass($0.1) }.count
    var largest = 0.0, worst = 0
    for (i, (a, b)) in zip(logits, plainLogits).enumerated() {
        let d = zip(a, b).map { abs($0 - $1) }.max() ?? 0
        if d > largest { largest = d; worst = samples[i] }
    }
    print("agreement with the plaintext network: argmax \(agreement) / \(inputs.count), "
          + String(format: "max |logit difference| %.3e (sample %d)", largest, worst))
    if let peak = peakResidentBytes() { print("peak memory (VmHWM) \(megabytes(peak))") }
    return logits
}
