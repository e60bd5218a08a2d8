// `hear`: the HEAR command-line tool.
//
// Exit status: 0 success; 64 bad arguments; 65 malformed data or model; 66 an input that does not
// exist or cannot be read; 73 an output that cannot be written. Errors are one line on stderr.
#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import Foundation
import HEAR
import HERing
import HETensor
import CKKS

enum ExitCode: Int32 {
    case success = 0
    case usage = 64
    case dataError = 65
    case noInput = 66
    /// An internal failure of the system (no randomness from the OS).
    case software = 70
    case cannotCreate = 73
}

struct CommandFailure: Error {
    var code: ExitCode
    var message: String
}

let mainHelp = """
    hear — human action recognition on skeleton data, in the clear and encrypted.

    usage: hear <command> [options]        hear --version

    commands:
      evaluate     run a model on the paper's test set and print accuracy and fall-detection figures
      classify     classify one clip from a per-frame keypoint CSV (any length and frame rate)
      model init   create a model directory with freshly initialised weights
      train        train a network from scratch (cross-validation on labelled clips, or synthetic clips)
      synth        write synthetic skeleton clips in the test set's format
      plan         compile a model into the packed program of the encrypted evaluation and print its counts
      trace        follow one encrypted prediction stage by stage: level, scale, precision (station-side debug)
      bundle       convert the paper's published data directory into the package's bundled resources

    the three parties, through signed files:
      demo         run all three on real test clips with the paper's 2D-CNN-64 (bundled: needs nothing else)
      keygen       monitoring station: generate the keys for a model and the station's signing identity
      enroll       camera or cloud server: make a device directory with its own signing identity
      certify      monitoring station: certify a camera's or cloud server's identity
      encrypt      camera: encrypt a keypoint recording with the public key, sign it
      infer        cloud server: evaluate the model on an input ciphertext with the evaluation keys, sign the result
      decrypt      monitoring station: verify and decrypt a result, print the decision (class, confidence, alert)
      inspect      say what a key or ciphertext file holds and who signed it (never key material)

    continuous monitoring, through a spool directory (JSON lines on stdout):
      monitor      camera: a stream of frames in, one encrypted window every --stride frames out
      serve        cloud worker: evaluate the spool's jobs (any number of workers; a dead one's jobs are retaken)
      watch        monitoring station: decide each window in order, alert when k of the last n say fall
      make-stream  a stream of real test clips (and their labels) to try the three on

    The paper's three models (cnn2d-64 = default, cnn1d-64, cnn1d-128) and its 608 test clips are
    bundled; --data <dir> reads them from a directory in the original layout instead.
    Run `hear help <command>` (or `hear <command> --help`) for the options of a command.
    Exit status: 0 success, 64 bad arguments, 65 malformed data or model, 66 missing input,
    73 output cannot be written.
    """

let evaluateHelp = """
    usage: hear evaluate [--model <name|dir|file>] [--data <dir>] [--samples <list>] [--logits <out.csv>] [--plan reference|folded] [--threads <n>]
           hear evaluate [--model <name|dir|file>] --encrypted [--method fast-hear|hear] [--preset <name>]
                         [--strategy auto|full|giant|baby[,…]] [--packing auto|real|complex]
                         [--weights-memory <MB>|all] [--samples <list>] [--threads <n>] [--logits <out.csv>]

      --model    default (the paper's 2D-CNN-64; the default), cnn2d-64, cnn1d-64, cnn1d-128 (the paper's
                 published models, bundled), synthetic (a 2D-CNN-64 trained on SYNTHETIC clips only),
                 a model directory or a .hearmodel file
      --data     a directory in the original layout (test_inputs.csv, test_labels.csv, models/<name>/)
                 to read instead of the bundled copy
      --logits   also write one row of 10 logits per sample (full precision) to this CSV file
      --plan     reference: layer-by-layer inference as PyTorch computes it (default);
                 folded: the folded plan the encrypted path evaluates (one square per block)
      --threads  threads (default: $HEAR_THREADS, else the number of cores)
      --samples  which test samples, in this order: all, slice (every 8th clip of each class: 80
                 clips, 4 falls), or indices and inclusive ranges, e.g. 0..607 or 3,17,42 (default: all
                 in the clear, slice when encrypted); --logits rows follow this order

    Encrypted (--encrypted): generates the keys, encodes the weights, then for each sample encrypts,
    evaluates on the ciphertext with the evaluation keys only, and decrypts. Prints the time of each
    step, the peak resident memory, the operation counts, the key and ciphertext sizes, the metrics
    and the agreement with the plaintext (folded) network.
      --method    fast-hear (default) or hear (convolutions on the sparse ciphertexts)
      --preset    CKKS parameters: default (N = 2^14, 128-bit, log2 QP = 430, hybrid key switching),
                  seal-style (the same chain, one key-switching digit per prime), hear, fast-hear
                  (the paper's chains; see Docs/CKKS.md)
      --strategy  convolution strategy, one for all blocks or one per block (default auto)
      --packing   output packing of the convolutions: real, complex (two output ciphertexts per
                  product, split by a conjugation: half the weights and products) or auto (per
                  block, by the cost model; default)
      --weights-memory  the most megabytes of weight plaintexts kept encoded (default 2500); beyond
                  it, plaintexts are kept compact (N words, transformed inside each product: ℓ + 1
                  NTTs per use), highest levels first, or encoded during the evaluation (slower,
                  bounded memory); all: keep every plaintext. 2D-CNN-64 peaks at 1.2 GB with 600
    """

let classifyHelp = """
    usage: hear classify [--model <name|dir|file>] --keypoints <clip.csv> [--threshold <pixels>]
           hear classify [--model <name|dir|file>] --keypoints <test_inputs.csv> --row <i>
           hear classify [--model <name|dir|file>] --clip <i> [--data <dir>]

      --keypoints  one frame per line, 45 numbers: x, y, score for the 15 joints (0, 0 = not detected);
                   the paper's frame selection reduces the clip to 32 frames
      --row        read row i (from 0) of a file in the format of the paper's test_inputs.csv instead
      --clip       classify clip i (0…607) of the paper's test set (bundled, or from --data)
      --threshold  the frame-selection threshold on the mean joint displacement (default 5 pixels)
      --model, --data  as for `hear evaluate`
    """

let modelInitHelp = """
    usage: hear model init --architecture <cnn1d-64|cnn1d-128|cnn2d-64|cnn2d-128> --seed <n> --out <dir>
           hear model convert [--model <name|dir|file>] [--data <dir>] --out <file.hearmodel>

      init: writes manifest.json and one CSV per tensor: Xavier-uniform convolution and linear
      weights, zero biases, batch normalisation at the identity, deterministic in the seed. <dir>
      must not exist or be empty.
      convert: writes any model (a name, a directory, a .hearmodel file) in the compact binary form
      (HEARMODL version 2, exact, with its SHA-256); the file must not exist.
    """

/// Parsed `--name value` options; every option takes one value.
struct Options {
    var values: [String: String] = [:]

    var flags: Set<String> = []

    /// Every value of a `repeatable` option, in order (`values` holds the first).
    var lists: [String: [String]] = [:]

    /// `allowed` options take a value; `flags` take none; `repeatable` ones (a subset of
    /// `allowed`) may be given several times.
    init(_ arguments: ArraySlice<String>, allowed: Set<String>, flags allowedFlags: Set<String> = [],
         repeatable: Set<String> = []) throws(CommandFailure) {
        var rest = arguments
        while let argument = rest.popFirst() {
            guard argument.hasPrefix("--"), argument.count > 2 else {
                throw CommandFailure(code: .usage, message: "unexpected argument \"\(argument)\" (options start with --)")
            }
            let name = String(argument.dropFirst(2))
            if allowedFlags.contains(name) {
                guard flags.insert(name).inserted else { throw CommandFailure(code: .usage, message: "option --\(name) given twice") }
                continue
            }
            guard allowed.contains(name) else {
                let all = allowed.union(allowedFlags).sorted().map { "--" + $0 }.joined(separator: ", ")
                throw CommandFailure(code: .usage, message: "unknown option --\(name) (allowed: \(all))")
            }
            guard let value = rest.popFirst(), !value.hasPrefix("--") else {
                throw CommandFailure(code: .usage, message: "option --\(name) needs a value")
            }
            lists[name, default: []].append(value)
            guard values[name] == nil else {
                if repeatable.contains(name) { continue }
                throw CommandFailure(code: .usage, message: "option --\(name) given twice")
            }
            values[name] = value
        }
    }

    func required(_ name: String) throws(CommandFailure) -> String {
        guard let value = values[name] else { throw CommandFailure(code: .usage, message: "missing option --\(name)") }
        return value
    }

    func integer(_ name: String, range: ClosedRange<Int>) throws(CommandFailure) -> Int? {
        guard let text = values[name] else { return nil }
        guard let value = Int(text), range.contains(value) else {
            throw CommandFailure(code: .usage, message: "--\(name) must be an integer in \(range.lowerBound)…\(range.upperBound), got \"\(text)\"")
        }
        return value
    }
}

func failure(_ error: DataError) -> CommandFailure {
    if case .cannotRead = error { return CommandFailure(code: .noInput, message: error.description) }
    return CommandFailure(code: .dataError, message: error.description)
}

func failure(_ error: ModelError) -> CommandFailure {
    switch error {
    case .cannotRead: return CommandFailure(code: .noInput, message: error.description)
    case .cannotWrite: return CommandFailure(code: .cannotCreate, message: error.description)
    default: return CommandFailure(code: .dataError, message: error.description)
    }
}

/// The threads of this process's work: `--threads`, else `HEAR_THREADS`, else one per core. The
/// command line owns its process, so this one setting lives here; the library takes it as an
/// argument (`CKKSContext(_:parallelism:)`, `TrainingConfiguration.parallelism`, …).
nonisolated(unsafe) var commandParallelism: Parallelism = {
    if let text = ProcessInfo.processInfo.environment["HEAR_THREADS"], let n = Int(text), let setting = try? Parallelism(threads: n) {
        return setting
    }
    return .allProcessors
}()

func setThreads(_ options: Options) throws(CommandFailure) {
    if let threads = try options.integer("threads", range: 1...1024) { commandParallelism = try! Parallelism(threads: threads) }
}

/// Checks before a long computation that an output file can be created where asked.
func checkWritable(_ url: URL) throws(CommandFailure) {
    var isDirectory: ObjCBool = false
    let parent = url.deletingLastPathComponent()
    guard FileManager.default.fileExists(atPath: parent.path, isDirectory: &isDirectory), isDirectory.boolValue else {
        throw CommandFailure(code: .cannotCreate, message: "cannot write \(url.path): the directory \(parent.path) does not exist")
    }
    if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue {
        throw CommandFailure(code: .cannotCreate, message: "cannot write \(url.path): it is a directory")
    }
    guard FileManager.default.isWritableFile(atPath: parent.path) else {
        throw CommandFailure(code: .cannotCreate, message: "cannot write \(url.path): the directory is not writable")
    }
}

func evaluate(_ arguments: ArraySlice<String>) throws(CommandFailure) {
    let options = try Options(arguments, allowed: ["model", "data", "logits", "plan", "threads", "samples", "method", "preset",
                                                   "strategy", "packing", "weights-memory"],
                              flags: ["encrypted"])
    let modelReference = options.values["model"] ?? "default"
    let encrypted = options.flags.contains("encrypted")
    if !encrypted, let name = ["method", "preset", "strategy", "packing", "weights-memory"].first(where: { options.values[$0] != nil }) {
        throw CommandFailure(code: .usage, message: "--\(name) applies to the encrypted evaluation: add --encrypted")
    }
    if encrypted, options.values["plan"] != nil {
        throw CommandFailure(code: .usage, message: "--plan applies to the evaluation in the clear (the encrypted one always runs the folded plan)")
    }
    let plan = options.values["plan"] ?? "reference"
    guard plan == "reference" || plan == "folded" else {
        throw CommandFailure(code: .usage, message: "--plan must be reference or folded, got \"\(plan)\"")
    }
    try setThreads(options)
    let encryptedSettings = encrypted ? try EncryptedSettings(options) : nil
    let logitsURL = options.values["logits"].map { URL(fileURLWithPath: $0) }
    if let logitsURL { try checkWritable(logitsURL) }
    let data = dataSource(options)
    let testSet = try loadTestSet(data)
    let (model, modelOrigin) = try loadModel(modelReference, source: data)
    let samples = try parseSamples(options.values["samples"] ?? (encrypted ? "slice" : "all"), labels: testSet.labels)
    let inputs = samples.map { Preprocessing.normalize(testSet.sequences[$0]) }
    let labels = samples.map { testSet.labels[$0] }
    if let encryptedSettings {
        let logits = try evaluateEncrypted(model: model, modelOrigin: modelOrigin, inputs: inputs, labels: labels, samples: samples,
                                           dataOrigin: data.description, note: samplesNote(options, encrypted: true),
                                           settings: encryptedSettings)
        if let logitsURL { try writeLogits(logits, to: logitsURL) }
        return
    }

    let start = Date()
    let logits: [[Double]]
    if plan == "folded" {
        let folded: FoldedNetwork
        do { folded = try FoldedNetwork(folding: model) } catch { throw failure(error) }
        logits = folded.logits(inputs, parallelism: commandParallelism)
    } else {
        logits = model.referenceLogits(inputs, parallelism: commandParallelism)
    }
    let seconds = Date().timeIntervalSince(start)
    let metrics = ClassificationMetrics(predictions: logits.map(predictedClass), labels: labels, classNames: model.classNames)
    print("model     \(model.name) (\(model.architecture.convolution.rawValue.uppercased()) CNN, f = \(model.architecture.filters)) from \(modelOrigin)")
    print("data      \(samples.count) of \(testSet.count) samples from \(data.description)\(samplesNote(options, encrypted: false))")
    print("plan      \(plan == "folded" ? "folded (one square per block, constants in the weights)" : "reference (layer by layer)"), Double precision")
    print(String(format: "time      %.3f s on %d thread(s)", seconds, commandParallelism.threadCount))
    print("")
    print(metrics.report())
    if let logitsURL { try writeLogits(logits, to: logitsURL) }
}

/// Writes one row of logits per sample at full precision (atomically).
func writeLogits(_ logits: [[Double]], to url: URL) throws(CommandFailure) {
    let text = logits.map { row in row.map { "\($0)" }.joined(separator: ",") }.joined(separator: "\n") + "\n"
    do {
        try Data(text.utf8).write(to: url, options: .atomic)
    } catch {
        throw CommandFailure(code: .cannotCreate, message: "cannot write \(url.path): \(error.localizedDescription)")
    }
    print("")
    print("logits    \(logits.count) rows written to \(url.path)")
}

/// Every how many clips of a class the representative slice takes one (`--samples slice`).
let sliceStride = 8

/// The representative slice the encrypted evaluation runs by default: every 8th clip of each
/// class (its 1st, 9th, 17th, …), in index order — a stratified sample with the classes in the
/// test set's proportions: 80 of the paper's 608 clips, 4 of them falls.
func representativeSlice(labels: [Int]) -> [Int] {
    var seen: [Int: Int] = [:]
    return labels.indices.filter { i in
        defer { seen[labels[i], default: 0] += 1 }
        return seen[labels[i], default: 0] % sliceStride == 0
    }
}

/// What the data line says about a default sample choice.
func samplesNote(_ options: Options, encrypted: Bool) -> String {
    let choice = options.values["samples"] ?? (encrypted ? "slice" : "all")
    return choice == "slice" ? " (the representative slice: every \(sliceStride)th clip of each class; --samples all for every clip)" : ""
}

/// `--samples`: `all`, `slice` (`representativeSlice`), or ranges `a..b` (inclusive) and single
/// indices, comma-separated, in the order given.
func parseSamples(_ text: String?, labels: [Int]) throws(CommandFailure) -> [Int] {
    let count = labels.count
    guard let text, text != "all" else { return Array(0..<count) }
    if text == "slice" { return representativeSlice(labels: labels) }
    var result: [Int] = []
    for part in text.split(separator: ",", omittingEmptySubsequences: false) {
        let bounds = part.components(separatedBy: "..")
        let numbers = bounds.map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard (1...2).contains(numbers.count), numbers.allSatisfy({ $0 != nil }) else {
            throw CommandFailure(code: .usage, message: "--samples takes all, slice, or indices and ranges like 0..607 or 3,17,42, got \"\(part)\"")
        }
        let low = numbers[0]!, high = numbers.last!!
        guard low >= 0, high < count, low <= high else {
            throw CommandFailure(code: .usage, message: "--samples: \"\(part)\" is outside 0…\(count - 1) or empty")
        }
        result += Array(low...high)
    }
    return result
}

func classify(_ arguments: ArraySlice<String>) throws(CommandFailure) {
    var options = try Options(arguments, allowed: ["model", "data", "keypoints", "threshold", "row", "clip"])
    let modelReference = options.values["model"] ?? "default"
    if options.values["clip"] == nil { options.values["input"] = try options.required("keypoints") }
    if options.values["clip"] != nil, options.values["keypoints"] != nil {
        throw CommandFailure(code: .usage, message: "give --keypoints or --clip, not both")
    }
    let threshold = try frameThreshold(options)
    let (sequence, source) = try readRecording(options)
    let (model, _) = try loadModel(modelReference, source: dataSource(options))
    let input = Preprocessing.input(for: sequence, threshold: threshold)
    let logits = model.referenceLogits(input)
    let predicted = predictedClass(logits)
    print("clip      \(sequence.frames.count) frames from \(source), 32 selected")
    warnIfShort(sequence, source: source)
    print("model     \(model.name)")
    print("logits    " + zip(model.classNames, logits).map { "\($0) \(String(format: "%.4f", $1))" }.joined(separator: ", "))
    print("class     \(model.classNames[predicted])\(predicted == HEARTestSet.fallClass ? "  — FALL DETECTED" : "")")
}

func modelConvert(_ arguments: ArraySlice<String>) throws(CommandFailure) {
    let options = try Options(arguments, allowed: ["model", "data", "out"])
    let out = URL(fileURLWithPath: try options.required("out"))
    try checkWritable(out)
    guard !FileManager.default.fileExists(atPath: out.path) else {
        throw CommandFailure(code: .cannotCreate, message: "cannot write \(out.path): the file exists (nothing is overwritten)")
    }
    let (model, origin) = try loadModel(options.values["model"] ?? "default", source: dataSource(options))
    let bytes = model.binaryRepresentation
    try writePartyFile([UInt8](bytes), to: out)  // a temporary file, synced, then renamed: never half-written
    print("wrote \(model.name) from \(origin) to \(out.path) (\(bytes.count) bytes, fingerprint \(model.fingerprint.hex))")
}

func modelInit(_ arguments: ArraySlice<String>) throws(CommandFailure) {
    let options = try Options(arguments, allowed: ["architecture", "seed", "out"])
    let name = try options.required("architecture")
    guard let architecture = NetworkArchitecture(name: name), [64, 128].contains(architecture.filters) else {
        throw CommandFailure(code: .usage, message: "unknown architecture \"\(name)\" (cnn1d-64, cnn1d-128, cnn2d-64 or cnn2d-128)")
    }
    guard let seedText = options.values["seed"], let seed = UInt64(seedText) else {
        throw CommandFailure(code: .usage, message: "--seed needs a non-negative integer")
    }
    let out = URL(fileURLWithPath: try options.required("out"))
    let model = HEARModel.randomlyInitialized(architecture: architecture, seed: seed)
    do { try model.write(to: out) } catch { throw failure(error) }
    print("wrote \(architecture.name) (seed \(seed)) to \(out.path)")
}

let planHelp = """
    usage: hear plan [--model <name|dir|file>] [--data <dir>] [--method fast-hear|hear] [--strategy auto|full|giant|baby[,…]]
                     [--packing auto|real|complex] [--slots 8192] [--preset default|seal-style|hear|fast-hear]
                     [--draw input|block1|block2|…|dense [--svg <file>]]

      Compiles the model into the packed slot program the encrypted evaluation runs and prints
      the layouts, the convolution strategy and output packing of each block, the operation
      counts per phase (rotations, of them hoisted, conjugations, products, …), the
      multiplicative depth, the rotation steps (the Galois keys needed) and, for the preset, the
      memory of the encoded plaintexts and of the keys.
      --strategy  one value for every block, or one per block separated by commas (default auto)
      --packing   auto (default), real or complex (see `hear evaluate --help`)
      --draw      instead: the slot layout of one layer, drawn from the compiler's layout objects —
                  for a block the layout its convolution reads (after any Fast-HEAR merge) and
                  the one it leaves (after pooling): which channels each block of slots holds and
                  which channel entry (or nothing: garbage) sits in each slot of block 0
      --svg       with --draw: also write the picture as SVG to this file (atomically)
    """

func parseStrategies(_ text: String?) throws(CommandFailure) -> [ConvolutionStrategy?] {
    guard let text else { return [] }
    var result: [ConvolutionStrategy?] = []
    for part in text.split(separator: ",") {
        if part == "auto" { result.append(nil); continue }
        guard let s = ConvolutionStrategy(rawValue: String(part)) else {
            throw CommandFailure(code: .usage, message: "--strategy takes auto, full, giant or baby (comma-separated per block), got \"\(part)\"")
        }
        result.append(s)
    }
    if result.count == 1 { result = Array(repeating: result[0], count: 3) }
    guard result.count == 3 else { throw CommandFailure(code: .usage, message: "--strategy needs one value or three (one per block)") }
    return result
}

func parseMethod(_ text: String?) throws(CommandFailure) -> HEMethod {
    guard let text else { return .fastHEAR }
    guard let method = HEMethod(rawValue: text) else {
        throw CommandFailure(code: .usage, message: "--method must be fast-hear or hear, got \"\(text)\"")
    }
    return method
}

func parsePacking(_ text: String?) throws(CommandFailure) -> ChannelPacking {
    guard let text else { return .auto }
    guard let packing = ChannelPacking(rawValue: text) else {
        throw CommandFailure(code: .usage, message: "--packing must be auto, real or complex, got \"\(text)\"")
    }
    return packing
}

/// The operation counts per phase and in total, as a table.
func printCounts(_ program: PackedProgram) {
    func row(_ label: String, _ c: OperationCounts) -> String {
        label.padding(toLength: 9, withPad: " ", startingAt: 0)
            + String(format: "%11d%9d%7d%13d%11d%9d", c.rotations, c.hoistedRotations, c.conjugations, c.plaintextProducts,
                     c.squarings, c.rescales)
    }
    print("phase     rotations  hoisted  conj  pt-products  squarings  rescales")
    for (phase, counts) in program.countsByPhase { print(row(phase, counts)) }
    print(row("total", program.counts))
}

func plan(_ arguments: ArraySlice<String>) throws(CommandFailure) {
    let options = try Options(arguments, allowed: ["model", "data", "method", "strategy", "packing", "slots", "preset", "draw", "svg"])
    if options.values["svg"] != nil, options.values["draw"] == nil {
        throw CommandFailure(code: .usage, message: "--svg goes with --draw <layer>")
    }
    let method = try parseMethod(options.values["method"])
    let packing = try parsePacking(options.values["packing"])
    let strategies = try parseStrategies(options.values["strategy"])
    let slots = try options.integer("slots", range: 5120...65536) ?? 8192
    guard slots % SlotGeometry.blockSize == 0 else {
        throw CommandFailure(code: .usage, message: "--slots must be a multiple of \(SlotGeometry.blockSize)")
    }
    let (model, _) = try loadModel(options.values["model"] ?? "default", source: dataSource(options))
    let folded: FoldedNetwork
    do { folded = try FoldedNetwork(folding: model) } catch { throw failure(error) }
    let program: PackedProgram
    do { program = try folded.compiled(slotCount: slots, method: method, strategies: strategies, packing: packing) } catch {
        throw CommandFailure(code: .usage, message: error.description)
    }
    if let layer = options.values["draw"] {
        guard let drawing = LayoutDrawing(program: program, layer: layer) else {
            throw CommandFailure(code: .usage, message: "--draw: no layer '\(layer)'; this model has "
                                 + LayoutDrawing.layers(of: program).joined(separator: ", "))
        }
        print("\(model.name), \(method.rawValue), \(layer)")
        print(drawing.text, terminator: "")
        if let path = options.values["svg"] {
            do { try Data(drawing.svg.utf8).write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
                throw CommandFailure(code: .cannotCreate, message: "--svg: cannot write \(path): \(error.localizedDescription)")
            }
        }
        return
    }
    print("model     \(model.name), method \(method.rawValue), \(slots) slots")
    print("input     \(program.inputLayout)")
    for (t, layout) in program.convolutionLayouts.enumerated() {
        print("block\(t + 1)    conv on \(layout); strategy \(program.strategies[t].rawValue), "
              + (program.complexPacked[t] ? "complex" : "real") + " packing")
    }
    print("depth     \(program.depth) levels")
    print("")
    printCounts(program)
    print("")
    print("rotation steps (\(program.rotationSteps.count) Galois keys): \(program.rotationSteps.map(String.init).joined(separator: " "))")
    print("weight, mask and bias plaintexts: \(program.patterns.count)")
    let parameters: CKKSParameters
    do { parameters = try CKKSParameters.preset(named: options.values["preset"] ?? "default") } catch {
        throw CommandFailure(code: .usage, message: "--preset: \(error.description)")
    }
    guard parameters.slotCount == slots else { return }
    do {
        let levels = try LevelPlan(program: program, parameters: parameters)
        let keys = levels.keyBytes(parameters: parameters)
        print("")
        print("at preset \(parameters.name): input at level \(levels.startLevel) of \(parameters.maxLevel); encoded plaintexts "
              + "\(megabytes(levels.patternBytes(degree: parameters.degree))), Galois keys \(megabytes(keys.galois)), "
              + "relinearization key \(megabytes(keys.relinearization)) (level \(levels.relinearizationLevel))")
    } catch {
        print("")
        print("at preset \(parameters.name): \(error.description)")
    }
}

func run(_ arguments: [String]) throws(CommandFailure) {
    let wantsHelp = arguments.contains("--help") || arguments.contains("-h")
    switch arguments.first {
    case nil:
        FileHandle.standardError.write(Data((mainHelp + "\n").utf8))
        throw CommandFailure(code: .usage, message: "no command given")
    case "--version", "version":
        print("hear \(HEARVersion.string) (HEAR in Swift: RNS-CKKS and encrypted human action recognition)")
    case "--help", "-h":
        print(mainHelp)
    case "help" where arguments.count == 1:
        print(mainHelp)
    case "help":
        switch arguments.dropFirst().joined(separator: " ") {
        case "evaluate": print(evaluateHelp)
        case "classify": print(classifyHelp)
        case "plan": print(planHelp)
        case "trace": print(traceHelp)
        case "model", "model init": print(modelInitHelp)
        case "train": print(trainHelp)
        case "synth": print(synthHelp)
        case "keygen": print(keygenHelp)
        case "enroll": print(enrollHelp)
        case "certify": print(certifyHelp)
        case "encrypt": print(encryptHelp)
        case "infer": print(inferHelp)
        case "decrypt": print(decryptHelp)
        case "demo": print(demoHelp)
        case "inspect": print(inspectHelp)
        case "bundle": print(bundleHelp)
        case "monitor": print(monitorHelp)
        case "serve": print(serveHelp)
        case "watch": print(watchHelp)
        case "make-stream": print(makeStreamHelp)
        default: throw CommandFailure(code: .usage, message: "no command \"\(arguments.dropFirst().joined(separator: " "))\"; see `hear --help`")
        }
    case "evaluate":
        if wantsHelp { print(evaluateHelp) } else { try evaluate(arguments.dropFirst()) }
    case "classify":
        if wantsHelp { print(classifyHelp) } else { try classify(arguments.dropFirst()) }
    case "plan":
        if wantsHelp { print(planHelp) } else { try plan(arguments.dropFirst()) }
    case "trace":
        if wantsHelp { print(traceHelp) } else { try trace(arguments.dropFirst()) }
    case "train":
        if wantsHelp { print(trainHelp) } else { try train(arguments.dropFirst()) }
    case "synth":
        if wantsHelp { print(synthHelp) } else { try synth(arguments.dropFirst()) }
    case "keygen":
        if wantsHelp { print(keygenHelp) } else { try keygen(arguments.dropFirst()) }
    case "enroll":
        if wantsHelp { print(enrollHelp) } else { try enroll(arguments.dropFirst()) }
    case "certify":
        if wantsHelp { print(certifyHelp) } else { try certify(arguments.dropFirst()) }
    case "encrypt":
        if wantsHelp { print(encryptHelp) } else { try encrypt(arguments.dropFirst()) }
    case "infer":
        if wantsHelp { print(inferHelp) } else { try infer(arguments.dropFirst()) }
    case "decrypt":
        if wantsHelp { print(decryptHelp) } else { try decrypt(arguments.dropFirst()) }
    case "demo":
        if wantsHelp { print(demoHelp) } else { try demo(arguments.dropFirst()) }
    case "inspect":
        if wantsHelp { print(inspectHelp) } else { try inspect(arguments.dropFirst()) }
    case "bundle":
        if wantsHelp { print(bundleHelp) } else { try bundle(arguments.dropFirst()) }
    case "monitor":
        if wantsHelp { print(monitorHelp) } else { try monitor(arguments.dropFirst()) }
    case "serve":
        if wantsHelp { print(serveHelp) } else { try serve(arguments.dropFirst()) }
    case "watch":
        if wantsHelp { print(watchHelp) } else { try watch(arguments.dropFirst()) }
    case "make-stream":
        if wantsHelp { print(makeStreamHelp) } else { try makeStream(arguments.dropFirst()) }
    case "model":
        guard arguments.count >= 2, ["init", "convert", "--help", "-h"].contains(arguments[1]) else {
            throw CommandFailure(code: .usage, message: "unknown model command\(arguments.count >= 2 ? " \"\(arguments[1])\"" : ""); use `hear model init` or `hear model convert`")
        }
        if wantsHelp { print(modelInitHelp) } else if arguments[1] == "convert" { try modelConvert(arguments.dropFirst(2)) } else { try modelInit(arguments.dropFirst(2)) }
    case let command?:
        throw CommandFailure(code: .usage, message: "unknown command \"\(command)\"; see `hear --help`")
    }
}

// Result lines appear as they are produced, also when stdout is a file or a pipe.
setvbuf(stdout, nil, _IOLBF, 0)
// Large polynomial buffers stay in this process's heap (the library never tunes the allocator).
MemoryTuning.keepLargeBlocksInHeap()
do {
    try run(Array(CommandLine.arguments.dropFirst()))
} catch {
    FileHandle.standardError.write(Data("hear: \(error.message)\n".utf8))
    exit(error.code.rawValue)
}
