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
    /// Also profile one prediction and print the cost model beside it.
    var profile = false
    /// Also record the parallel loops of one prediction on one thread and on `threads`, and
    /// print the work/span model's prediction for 2, 4, 8 and 16 threads beside the measurement.
    var parallelProfile = false
    /// With `--parallel-profile loops`: also one line per top-level loop of the one-thread run.
    var parallelLoops = false

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
            case "--profile":
                guard value == "yes" || value == "no" else { throw BenchmarkError.usage("--profile takes yes or no") }
                profile = value == "yes"
            case "--parallel-profile":
                guard ["yes", "no", "loops"].contains(value) else { throw BenchmarkError.usage("--parallel-profile takes yes, no or loops") }
                parallelProfile = value != "no"
                parallelLoops = value == "loops"
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
    if options.parallelProfile, testSet.count > 0 {
        let input = Preprocessing.normalize(testSet.sequences[0])
        let serial = try EncryptedInference(network: folded, method: options.method, packing: options.packing, parameters: parameters,
                                            weightBudget: options.weightBudget, parallelism: .serial)
        try emitParallelProfile(one: serial, many: inference, threads: options.threads, input: input, loops: options.parallelLoops,
                                common: common)
    }
    if options.profile, testSet.count > 0 {
        let prediction = try inference.predict(Preprocessing.normalize(testSet.sequences[0]), profiling: true)
        guard let profile = prediction.profile else { return }
        try emitProfile(profile, wall: prediction.seconds, inference: inference, common: common)
    }
}

/// One profiled prediction: per phase, kind and level the measured busy seconds next to the
/// cost model (instructions and operations × the cost of one, measured alone at that level on
/// the same context and keys), then per phase the busy total, the model and the wall time.
func emitProfile(_ profile: ProgramProfile, wall: [(phase: String, seconds: Double)], inference: EncryptedInference,
                 common: [(String, Any)]) throws {
    var costs = try UnitCosts(inference: inference)
    var phaseBusy: [String: Double] = [:], phaseModel: [String: Double] = [:]
    for (key, totals) in profile.sortedRows {
        let model = try key.level.map { try costs.model(key.kind, level: $0, instructions: totals.instructions, operations: totals.operations) } ?? nil
        phaseBusy[key.phase, default: 0] += totals.seconds
        if let model { phaseModel[key.phase, default: 0] += model }
        emit(common + [("profile", key.phase), ("kind", key.kind.rawValue), ("level", key.level ?? -1),
                       ("instructions", totals.instructions), ("operations", totals.operations),
                       ("busy_s", String(format: "%.4f", totals.seconds)),
                       ("model_s", model.map { String(format: "%.4f", $0) } ?? "n/a")])
    }
    for phase in profile.phases {
        emit(common + [("profile_phase", phase), ("busy_s", String(format: "%.4f", phaseBusy[phase] ?? 0)),
                       ("model_s", String(format: "%.4f", phaseModel[phase] ?? 0)),
                       ("wall_s", String(format: "%.4f", wall.first { $0.phase == phase }?.seconds ?? 0))])
    }
}

/// The cost of one operation of each kind at each level, measured alone (median of 5) on the
/// inference's context, keys and threads, on encryptions of zero. Product sums are modelled as
/// `a + b·terms` (the rescale and the kernel's fixed cost, then each product), from 1 and 16 terms;
/// sums of rotations as `a + b·rotations` (the shared ModDown, then each ModUp and key product).
struct UnitCosts {
    let inference: EncryptedInference
    let evaluator: Evaluator
    var encryptor: Encryptor
    var cache: [String: (Double, Double)] = [:]

    init(inference: EncryptedInference) throws {
        self.inference = inference
        evaluator = Evaluator(context: inference.context)
        encryptor = try Encryptor(context: inference.context, publicKey: inference.publicKey)
    }

    static func median(_ body: () throws -> Void) rethrows -> Double {
        var times: [Double] = []
        for _ in 0..<5 {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            times.append(wallSeconds(since: start))
        }
        return times.sorted()[2]
    }

    /// (cost per instruction, cost per operation) of `kind` at `level`; nil where no key serves it.
    mutating func unit(_ kind: ProgramProfile.Kind, level: Int) throws -> (Double, Double)? {
        let name = "\(kind.rawValue)@\(level)"
        if let known = cache[name] { return known }
        let context = inference.context, backend = inference.backend, plan = inference.plan
        let zeros = [Double](repeating: 0, count: 8)
        let x = try encryptor.encrypt(context.encode(zeros, level: level))
        let steps = plan.rotationLevels.filter { $0.value >= level }.keys.sorted()
        let result: (Double, Double)?
        switch kind {
        case .rotation:
            guard let step = steps.first else { return nil }
            result = (0, try Self.median { _ = try evaluator.rotate(x, by: step, keys: backend.galoisKeys) })
        case .hoistedRotation:
            let some = Array(steps.prefix(8))
            guard some.count > 1 else { return nil }
            result = (0, try Self.median { _ = try evaluator.rotations(x, by: some, keys: backend.galoisKeys) } / Double(some.count))
        case .rotationSum:
            // a + b·rotations: the shared ModDown, then each rotation's ModUp and key product
            let some = Array(steps.prefix(8))
            guard some.count > 1 else { return nil }
            let one = try Self.median { _ = try evaluator.sumOfRotations([(x, some[0])], keys: backend.galoisKeys) }
            let many = try Self.median { _ = try evaluator.sumOfRotations(some.map { (x, $0) }, keys: backend.galoisKeys) }
            let perRotation = max(0, (many - one) / Double(some.count - 1))
            result = (one - perRotation, perRotation)
        case .boxSum:
            // a + b·rotations: the decomposition and ModDown, then each key product
            let some = Array(steps.prefix(7))
            guard some.count > 1 else { return nil }
            let one = try Self.median { _ = try evaluator.sumOfRotations(of: x, by: [some[0]], keys: backend.galoisKeys) }
            let many = try Self.median { _ = try evaluator.sumOfRotations(of: x, by: some, keys: backend.galoisKeys) }
            let perRotation = max(0, (many - one) / Double(some.count - 1))
            result = (one - perRotation, perRotation)
        case .productSum:
            guard level > 0 else { return nil }
            let p = try context.encode(zeros, level: level)
            func sum(_ terms: Int) throws -> Double {
                let pairs = Array(repeating: (x, p), count: terms)
                return try Self.median { _ = try evaluator.rescale(evaluator.multiplyAccumulate(pairs)) }
            }
            let one = try sum(1), sixteen = try sum(16)
            let perTerm = max(0, (sixteen - one) / 15)
            result = (one - perTerm, perTerm)
        case .square:
            guard level > 0, plan.relinearizationLevel >= level else { return nil }
            result = (0, try Self.median { _ = try evaluator.rescale(evaluator.square(x, relinearizationKey: backend.relinearizationKey)) })
        case .conjugation:
            guard let top = plan.conjugationLevel, top >= level else { return nil }
            result = (0, try Self.median { _ = try evaluator.conjugate(x, keys: backend.galoisKeys) })
        case .addition:
            result = (0, try Self.median { _ = try evaluator.add(x, x) })
        case .patternAddition:
            let p = try context.encode(zeros, level: level, scale: x.scale)
            result = (0, try Self.median { _ = try evaluator.add(x, p) })
        case .complexSplit:
            result = (0, try Self.median { _ = (try evaluator.add(x, x), try evaluator.multiplyByImaginaryUnit(evaluator.subtract(x, x))) })
        }
        cache[name] = result
        return result
    }

    /// The modelled seconds of `instructions` instructions standing for `operations` operations.
    mutating func model(_ kind: ProgramProfile.Kind, level: Int, instructions: Int, operations: Int) throws -> Double? {
        guard let (perInstruction, perOperation) = try unit(kind, level: level) else { return nil }
        return Double(instructions) * perInstruction + Double(operations) * perOperation
    }
}

/// One prediction recorded on one thread and one on `threads` (each after a warm-up
/// prediction): per phase and in all, the serial seconds, the work/span model's wall time at 2,
/// 4, 8 and 16 threads (from the one-thread recording), the measured wall time on `threads`,
/// and each worker's busy and join-wait seconds there; with `loops`, first one line per top-level
/// loop of the one-thread run (items, seconds, longest item, inner loops by width, model at 2)
/// beside the same loop's wall time on `threads`.
func emitParallelProfile(one: EncryptedInference, many: EncryptedInference, threads: Int, input: ActionInput,
                         loops: Bool, common: [(String, Any)]) throws {
    func recorded(_ inference: EncryptedInference) throws -> ParallelProfile {
        _ = try inference.predict(input)
        return try ParallelProfile.record { _ in try inference.predict(input) }.1
    }
    let single = try recorded(one), multiple = try recorded(many)
    func f(_ x: Double?) -> String { x.map { String(format: "%.4f", $0) } ?? "n/a" }
    if loops {
        for (index, loop) in single.loops.enumerated() {
            let inner = loop.innerWork.reduce(into: [Int: Double]()) { $0.merge($1, uniquingKeysWith: +) }
            emit(common + [("loop", index), ("phase", loop.phase), ("items", loop.items), ("inner_loops", loop.innerLoops),
                           ("seconds", f(loop.wall)),
                           ("longest_item_s", f(loop.itemSeconds.max())),
                           ("inner_by_width", inner.keys.sorted().map { "\($0):\(f(inner[$0]))" }.joined(separator: ",")),
                           ("model_2_s", f(ParallelProfile.predictedSeconds(threads: 2, serial: 0, loops: [loop]))),
                           // the same loop of the run on `threads` (the program runs the same loops in the same order)
                           ("measured_\(threads)_s", f(multiple.loops.count == single.loops.count ? multiple.loops[index].wall : nil))])
        }
    }
    for phase in single.phases.map(Optional.some) + [nil] {
        let oneThread = phase.map { single.phaseWall[$0] ?? 0 } ?? single.wall
        let measured = phase.map { multiple.phaseWall[$0] ?? 0 } ?? multiple.wall
        let workers = multiple.workerTotals(phase: phase)
        var line = common + [("parallel_profile", phase ?? "prediction"), ("one_thread_s", f(oneThread)),
                             ("serial_s", f(single.serialSeconds(phase: phase))),
                             ("serial_fraction", f(oneThread > 0 ? single.serialSeconds(phase: phase) / oneThread : 0))]
        for p in [2, 4, 8, 16] { line.append(("model_\(p)_s", f(single.predictedSeconds(threads: p, phase: phase)))) }
        line += [("measured_\(threads)_s", f(measured)),
                 ("measured_speedup", f(measured > 0 ? oneThread / measured : nil)),
                 ("busy_s", workers.map { f($0.busy) }.joined(separator: ",")),
                 ("join_wait_s", workers.map { f($0.wait) }.joined(separator: ","))]
        emit(line)
    }
}

