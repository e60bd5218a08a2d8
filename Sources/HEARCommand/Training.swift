// `hear train`: the paper's networks trained from scratch by our own trainer.
import Foundation
import HEAR
import HEARTraining
import HERing

let trainHelp = """
    usage: hear train --architecture <cnn1d-64|cnn1d-128|cnn2d-64|cnn2d-128>
                      (--data <dir> [--folds <k> [--fold <i>]] | --synthetic <count> [--data <dir>])
                      --epochs <E> --seed <S> --out <dir> [--batch-size 64] [--learning-rate 0.05] [--threads <n>]
                      [--clip 1] [--no-augmentation] [--no-balancing]

      Trains a network from freshly initialised weights (`hear model init`) with the paper's recipe:
      SGD, momentum 0.9, weight decay 5e-4, mini-batches of 64, learning rate 0.05 decayed by 0.1 at
      50 % and 75 % of the epochs, class-balanced sampling, augmentations (flip with left/right
      swap, lower-limb removal, scale, translation); plus a 3-epoch warm-up and gradients clipped
      to a global norm of --clip (0: none), which keep the quadratic activations stable. Prints loss, training accuracy, validation
      accuracy and time per epoch. Deterministic in --seed, whatever the thread count.
      --data      a directory with test_inputs.csv and test_labels.csv (the paper's format)
      --folds     k-fold cross-validation (stratified): trains on k − 1 folds, validates on the
                  other, for every fold (or only fold --fold, 1 … k); writes <out>/fold-<i>
      --synthetic trains on this many SYNTHETIC clips (`hear synth`, seed --seed) instead; with
                  --data, validates on those real clips after every epoch
      --out       the model directory to write (must not exist or be empty), the format
                  `hear evaluate --model <dir>` and the encrypted evaluation read; a name ending in
                  .hearmodel writes the compact binary form instead (one file, exact doubles)
    """

func train(_ arguments: ArraySlice<String>) throws(CommandFailure) {
    let options = try Options(arguments, allowed: ["architecture", "data", "folds", "fold", "epochs", "seed", "out", "batch-size",
                                                   "learning-rate", "threads", "synthetic", "clip"],
                              flags: ["no-augmentation", "no-balancing"])
    try setThreads(options)
    let name = try options.required("architecture")
    guard let architecture = NetworkArchitecture(name: name), [64, 128].contains(architecture.filters) else {
        throw CommandFailure(code: .usage, message: "unknown architecture \"\(name)\" (cnn1d-64, cnn1d-128, cnn2d-64 or cnn2d-128)")
    }
    guard let seedText = options.values["seed"], let seed = UInt64(seedText) else {
        throw CommandFailure(code: .usage, message: "--seed needs a non-negative integer")
    }
    var configuration = TrainingConfiguration()
    configuration.parallelism = commandParallelism
    configuration.seed = seed
    guard let epochs = try options.integer("epochs", range: 1...100_000) else {
        throw CommandFailure(code: .usage, message: "missing option --epochs")
    }
    configuration.epochs = epochs
    configuration.batchSize = try options.integer("batch-size", range: 2...4096) ?? 64
    if let text = options.values["learning-rate"] {
        guard let rate = Double(text), rate > 0, rate.isFinite else {
            throw CommandFailure(code: .usage, message: "--learning-rate must be a positive number, got \"\(text)\"")
        }
        configuration.learningRate = rate
    }
    if let text = options.values["clip"] {
        guard let limit = Double(text), limit >= 0, limit.isFinite else {
            throw CommandFailure(code: .usage, message: "--clip must be a number ≥ 0 (0: no clipping), got \"\(text)\"")
        }
        configuration.gradientClipNorm = limit > 0 ? limit : nil
    }
    if options.flags.contains("no-augmentation") { configuration.augmentation = .none }
    if options.flags.contains("no-balancing") { configuration.balancedSampling = false }
    let folds = try options.integer("folds", range: 2...100)
    let onlyFold = try options.integer("fold", range: 1...100)
    if onlyFold != nil && folds == nil { throw CommandFailure(code: .usage, message: "--fold needs --folds") }
    if let onlyFold, let folds, onlyFold > folds { throw CommandFailure(code: .usage, message: "--fold must be in 1…\(folds)") }
    let out = URL(fileURLWithPath: try options.required("out"))
    if folds != nil && out.pathExtension == "hearmodel" {
        throw CommandFailure(code: .usage, message: "--folds writes one model directory per fold: give --out a directory")
    }
    try checkEmptyDirectory(out)
    let synthetic = try options.integer("synthetic", range: 10...10_000_000)
    if synthetic != nil && folds != nil { throw CommandFailure(code: .usage, message: "--folds applies to --data, not to --synthetic") }
    guard options.values["data"] != nil || synthetic != nil else {
        throw CommandFailure(code: .usage, message: "give --data <dir> (labelled clips) or --synthetic <count>")
    }
    var real: LabelledClips? = nil
    if options.values["data"] != nil {
        let testSet = try loadTestSet(dataSource(options))
        real = LabelledClips(sequences: testSet.sequences, labels: testSet.labels)
    }
    let clips: LabelledClips
    if let synthetic {
        clips = SyntheticSkeletons(seed: seed).clips(synthetic, parallelism: commandParallelism)
        print("training  \(architecture.name) on \(synthetic) SYNTHETIC clips (seed \(seed))"
              + (real.map { ", validating on \($0.count) clips from \(dataSource(options).description)" } ?? ""))
    } else {
        clips = real!
        print("training  \(architecture.name) on \(clips.count) clips from \(dataSource(options).description)")
    }
    print("          seed \(seed), \(configuration.epochs) epochs, batch \(configuration.batchSize), learning rate "
          + "\(configuration.learningRate), \(commandParallelism.threadCount) thread(s)")

    var summary: [(fold: Int, accuracy: Double, sensitivity: Double)] = []
    let runs: [Int?] = folds.map { k in onlyFold.map { [$0] } ?? Array(1...k) } ?? [nil]
    for fold in runs {
        var split = (training: Array(0..<clips.count), validation: [Int]())
        if let fold, let folds { split = clips.crossValidationSplit(folds: folds, fold: fold - 1) }
        let training = clips.subset(split.training)
        let validation = synthetic != nil ? (real ?? clips.subset([])) : clips.subset(split.validation)
        if let fold { print("fold \(fold) of \(folds!): \(training.count) training clips, \(validation.count) validation clips") }
        var foldConfiguration = configuration
        foldConfiguration.seed = seed &+ UInt64(fold ?? 0)
        let initial = HEARModel.randomlyInitialized(architecture: architecture, seed: foldConfiguration.seed)
        var trainer = Trainer(network: TrainableNetwork(model: initial), configuration: foldConfiguration)
        do {
            try trainer.train(training, validation: validation.count > 0 ? validation : nil) { r in
                var line = String(format: "epoch %4d/%d  lr %.4f  loss %.4f  train %5.1f %%", r.epoch + 1, foldConfiguration.epochs,
                                  r.learningRate, r.loss, 100 * r.trainingAccuracy)
                if let v = r.validationAccuracy { line += String(format: "  validation %5.1f %%", 100 * v) }
                print(line + String(format: "  %.1f s", r.seconds))
                fflush(nil)  // progress appears per epoch in a log file too
            }
        } catch { throw failure(error) }
        let target = fold.map { out.appendingPathComponent("fold-\($0)") } ?? out
        let modelName = "\(architecture.name)-trained-seed\(seed)" + (synthetic.map { "-synthetic\($0)" } ?? "")
            + (fold.map { "-fold\($0)of\(folds!)" } ?? "")
        let model: HEARModel
        do { model = try trainer.network.model(name: modelName) } catch { throw failure(error) }
        if target.pathExtension == "hearmodel" {
            do { try model.binaryRepresentation.write(to: target, options: .atomic) } catch {
                throw CommandFailure(code: .cannotCreate, message: "cannot write \(target.path): \(error.localizedDescription)")
            }
        } else {
            do { try model.write(to: target) } catch { throw failure(error) }
        }
        if validation.count > 0 {
            let predictions: [Int]
            do { predictions = try trainer.predictions(on: validation) } catch { throw failure(error) }
            let metrics = ClassificationMetrics(predictions: predictions, labels: validation.labels)
            print(String(format: "%@: validation accuracy %.2f %%, fall sensitivity %.2f %% (%d of %d falls), wrote %@",
                         fold.map { "fold \($0)" } ?? "final", 100 * metrics.accuracy, 100 * metrics.sensitivity, metrics.truePositives,
                         metrics.truePositives + metrics.falseNegatives, target.path))
            summary.append((fold ?? 0, metrics.accuracy, metrics.sensitivity))
        } else {
            print("wrote \(target.path)")
        }
    }
    if summary.count > 1 {
        let n = Double(summary.count)
        let meanAccuracy = summary.map(\.accuracy).reduce(0, +) / n, meanSensitivity = summary.map(\.sensitivity).reduce(0, +) / n
        print(String(format: "cross-validation (%d folds): mean accuracy %.2f %%, mean fall sensitivity %.2f %%", summary.count,
                     100 * meanAccuracy, 100 * meanSensitivity))
    }
}

/// Fails early (before hours of training) when `url` exists and is not an empty directory (or,
/// for a .hearmodel file, exists at all).
func checkEmptyDirectory(_ url: URL) throws(CommandFailure) {
    var isDirectory: ObjCBool = false
    if url.pathExtension == "hearmodel", FileManager.default.fileExists(atPath: url.path) {
        throw CommandFailure(code: .cannotCreate, message: "\(url.path) exists; choose a new --out")
    }
    if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) {
        let contents = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
        guard isDirectory.boolValue, contents.isEmpty else {
            throw CommandFailure(code: .cannotCreate, message: "\(url.path) exists and is not an empty directory; choose a new --out")
        }
    }
    let parent = url.deletingLastPathComponent()
    guard FileManager.default.fileExists(atPath: parent.path, isDirectory: &isDirectory), isDirectory.boolValue else {
        throw CommandFailure(code: .cannotCreate, message: "cannot write \(url.path): the directory \(parent.path) does not exist")
    }
}

let synthHelp = """
    usage: hear synth --count <N> --out <file.csv> [--seed <S>]
           hear synth --recording <class> [--frames <F>] [--index <i>] [--seed <S>] --out <clip.csv>

      Writes N SYNTHETIC skeleton clips (procedural stick-figure kinematics, not recordings of
      people; classes in turn) in the test set's raw format: one row of 32 frames × 15 joints ×
      (x, y, score) per clip in <file.csv>, and the class indices, one per line, in the labels
      file beside it (test_inputs.csv → test_labels.csv, otherwise <name>_labels.csv), so that a
      directory holding test_inputs.csv works as `--data`. Deterministic in --seed (default 1).

      --recording writes one SYNTHETIC clip of the class (clap, jump, pick, pour, run, sit, stand,
      walk, wave, fall) as a per-frame keypoint CSV (the `hear classify` / `hear encrypt` input):
      F frames (default 32) spanning the motion, clip number --index (default 0).
    """

func synth(_ arguments: ArraySlice<String>) throws(CommandFailure) {
    let options = try Options(arguments, allowed: ["count", "out", "seed", "recording", "frames", "index"])
    var seed: UInt64 = 1
    if let text = options.values["seed"] {
        guard let value = UInt64(text) else { throw CommandFailure(code: .usage, message: "--seed needs a non-negative integer") }
        seed = value
    }
    let out = URL(fileURLWithPath: try options.required("out"))
    if let name = options.values["recording"] {
        guard options.values["count"] == nil else { throw CommandFailure(code: .usage, message: "--count and --recording exclude each other") }
        guard let label = HEARTestSet.classNames.firstIndex(of: name) else {
            throw CommandFailure(code: .usage, message: "--recording takes a class name (\(HEARTestSet.classNames.joined(separator: ", "))), got \"\(name)\"")
        }
        let frames = try options.integer("frames", range: 2...100_000) ?? 32
        let index = try options.integer("index", range: 0...Int(Int32.max)) ?? 0
        try checkWritable(out)
        let clip = SyntheticSkeletons(seed: seed).clip(index, label: label, frames: frames)
        let comment = "SYNTHETIC \(name) clip (not a recording of a person): hear synth --recording \(name) --frames \(frames) "
            + "--index \(index) --seed \(seed)"
        do { try KeypointCSV.write(clip, to: out, comment: comment) } catch {
            throw CommandFailure(code: .cannotCreate, message: "cannot write \(out.path): \(error.localizedDescription)")
        }
        print("wrote a SYNTHETIC \(name) clip of \(frames) frames (seed \(seed), clip \(index)) to \(out.path)")
        return
    }
    if let name = ["frames", "index"].first(where: { options.values[$0] != nil }) {
        throw CommandFailure(code: .usage, message: "--\(name) applies to --recording")
    }
    guard let count = try options.integer("count", range: 1...10_000_000) else {
        throw CommandFailure(code: .usage, message: "missing option --count (or --recording <class>)")
    }
    let name = out.lastPathComponent
    let labelsName = name.contains("inputs") ? name.replacingOccurrences(of: "inputs", with: "labels")
        : (name.hasSuffix(".csv") ? String(name.dropLast(4)) : name) + "_labels.csv"
    let labelsURL = out.deletingLastPathComponent().appendingPathComponent(labelsName)
    try checkWritable(out)
    try checkWritable(labelsURL)
    let text = SyntheticSkeletons(seed: seed).clips(count).testSetFormat
    do {
        try Data(text.labels.utf8).write(to: labelsURL, options: .atomic)
        try Data(text.inputs.utf8).write(to: out, options: .atomic)
    } catch {
        throw CommandFailure(code: .cannotCreate, message: "cannot write \(out.path): \(error.localizedDescription)")
    }
    print("wrote \(count) SYNTHETIC clips (seed \(seed)) to \(out.path), labels to \(labelsURL.path)")
}
