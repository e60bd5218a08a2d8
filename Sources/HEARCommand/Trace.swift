// `hear trace`: one encrypted prediction followed stage by stage (station-side debug mode).
import CKKS
import Foundation
import HEAR
import HERing
import HETensor

let traceHelp = """
    usage: hear trace [--model <name|dir|file>] [--data <dir>] [--clip <0..607>] [--method fast-hear|hear]
                      [--preset <name>] [--strategy …] [--packing …] [--threads <n>] [--json <file>] [--svg <file>]

      STATION-SIDE DEBUG MODE: generates a key pair in this process, encrypts one test clip,
      runs the encrypted network and, after every stage of the slot program, DECRYPTS what the
      stage wrote with the secret key. No real deployment decrypts intermediates; the keys
      made here are thrown away.

      Per stage: the phase (block1 … dense), the stage, its independent groups, the level and
      log2 of the scale of its result, the measured precision — bits = −log2 of the largest
      |decrypted − simulated| over every slot of (up to 4 of) the registers it wrote, the
      clear-slot simulator being the plaintext network in the packed layout — beside the bits
      the noise model predicts (Docs/Packing.md §6), the largest |value|, the operation counts
      (key switches: rotations, conjugations, relinearizations; products; rescales) and the
      wall time (decryptions not counted). Then the decrypted scores against the plaintext
      network's.
      --clip   the test clip (default 0)
      --json   also write the trace as JSON (atomically)
      --svg    also write a chart of the measured and predicted bits and the level per stage
    """

func trace(_ arguments: ArraySlice<String>) throws(CommandFailure) {
    let options = try Options(arguments, allowed: ["model", "data", "clip", "method", "preset", "strategy", "packing", "threads",
                                                   "json", "svg"])
    try setThreads(options)
    let settings = try EncryptedSettings(options)
    let jsonURL = options.values["json"].map { URL(fileURLWithPath: $0) }
    let svgURL = options.values["svg"].map { URL(fileURLWithPath: $0) }
    for url in [jsonURL, svgURL].compactMap({ $0 }) { try checkWritable(url) }
    let data = dataSource(options)
    let testSet = try loadTestSet(data)
    let clip = try options.integer("clip", range: 0...(testSet.count - 1)) ?? 0
    let (model, _) = try loadModel(options.values["model"] ?? "default", source: data)
    let folded: FoldedNetwork
    do { folded = try FoldedNetwork(folding: model) } catch { throw failure(error) }
    let input = Preprocessing.normalize(testSet.sequences[clip])
    FileHandle.standardError.write(Data("hear trace: station-side debug mode — intermediates are decrypted with a secret key made for this run\n".utf8))
    Progress.note("generating the keys and encoding the weights…")
    let inference: EncryptedInference
    do {
        inference = try EncryptedInference(network: folded, method: settings.method, strategies: settings.strategies,
                                           packing: settings.packing, parameters: settings.parameters,
                                           weightBudget: settings.weightBudget, parallelism: commandParallelism)
    } catch {
        guard case .invalidInput = error else { throw failure(error) }
        throw CommandFailure(code: .usage, message: "cannot run \(printable(model.name)) with preset \(settings.parameters.name): \(error.description)")
    }
    Progress.note("tracing clip \(clip)…")
    var result: ProgramTrace
    do { result = try inference.trace(input, model: model.name, method: settings.method.rawValue) } catch { throw failure(error) }
    let network = model.referenceLogits([input], parallelism: commandParallelism)[0]
    result.networkScores = network
    print("model     \(printable(model.name)), \(settings.method.rawValue), preset \(settings.parameters.name), clip \(clip) "
          + "(label \(model.classNames[testSet.labels[clip]])), \(commandParallelism.threadCount) thread(s)")
    print("trace     station-side debug mode: every stage's result decrypted with the secret key")
    print("")
    print(result.table, terminator: "")
    print("")
    let predicted = network.indices.max { network[$0] < network[$1] }!
    let decrypted = result.scores.indices.max { result.scores[$0] < result.scores[$1] }!
    print(String(format: "scores    largest gap to the plaintext network %.2e (to the simulator %.2e); class %@ (plaintext: %@)",
                 zip(result.scores, network).reduce(0) { max($0, abs($1.0 - $1.1)) }, result.scoreError,
                 model.classNames[decrypted], model.classNames[predicted]))
    if let jsonURL {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do { try encoder.encode(result).write(to: jsonURL, options: .atomic) } catch {
            throw CommandFailure(code: .cannotCreate, message: "--json: cannot write \(jsonURL.path): \(error.localizedDescription)")
        }
    }
    if let svgURL {
        do { try Data(result.chart().utf8).write(to: svgURL, options: .atomic) } catch {
            throw CommandFailure(code: .cannotCreate, message: "--svg: cannot write \(svgURL.path): \(error.localizedDescription)")
        }
    }
}
