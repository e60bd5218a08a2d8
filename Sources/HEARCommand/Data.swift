// Where the models and clips come from: the bundled paper data (the default: it needs nothing
// beside the build), or a directory in the original layout given with --data.
import Foundation
import HEAR

/// The source of the paper's models and test clips.
enum DataSource {
    /// The package resources (`Resources/paper`).
    case bundle
    /// A directory with `test_inputs.csv`, `test_labels.csv` and `models/<name>/`.
    case directory(URL)

    var description: String {
        switch self {
        case .bundle: return "the bundled paper data"
        case let .directory(url): return url.path
        }
    }
}

/// `--data <dir>` when given (`--data bundled` names the bundle), else the bundle.
func dataSource(_ options: Options) -> DataSource {
    guard let path = options.values["data"], path != "bundled" else { return .bundle }
    return .directory(URL(fileURLWithPath: path))
}

/// The test set from the source; a directory must hold both CSV files.
func loadTestSet(_ source: DataSource) throws(CommandFailure) -> HEARTestSet {
    switch source {
    case .bundle:
        do { return try PaperData.bundledTestSet() } catch { throw failure(error) }
    case let .directory(url):
        do {
            return try HEARTestSet.load(directory: url)
        } catch {
            var problem = failure(error)
            if case .cannotRead = error, !FileManager.default.fileExists(atPath: url.path) {
                problem.message = "no data directory \(url.path) (--data needs a directory with test_inputs.csv and test_labels.csv)"
            }
            throw problem
        }
    }
}

/// One clip of the test set by index, with a description for messages.
func testClip(_ index: Int, source: DataSource) throws(CommandFailure) -> (clip: SkeletonSequence, label: Int) {
    let testSet = try loadTestSet(source)
    guard index >= 0, index < testSet.count else {
        throw CommandFailure(code: .usage, message: "--clip \(index) is out of range: the test set has \(testSet.count) clips (0…\(testSet.count - 1))")
    }
    return (testSet.sequences[index], testSet.labels[index])
}

/// The names `--model` accepts besides paths.
let modelNamesHelp = "default (the paper's 2D-CNN-64), cnn2d-64, cnn1d-64, cnn1d-128, synthetic"

/// Resolves `--model`: `default` (the paper's 2D-CNN-64), a paper model name (from `--data`'s
/// `models/` when given and present, else the bundle), `synthetic` (the embedded model trained on
/// synthetic clips), a model directory or a `.hearmodel` file. Returns the model and where it came
/// from (for messages).
func loadModel(_ reference: String, source: DataSource) throws(CommandFailure) -> (HEARModel, String) {
    let fm = FileManager.default
    let name = reference == "default" ? PaperData.defaultModelName : reference
    let looksLikeName = !reference.contains("/") && !reference.hasSuffix(".hearmodel") && reference != "." && reference != ".."
    if looksLikeName && !fm.fileExists(atPath: reference) {
        if name == "synthetic" {
            do {
                let model = try HEARModel.embeddedSynthetic()
                return (model, "the embedded model trained on SYNTHETIC clips (\(HEARModel.embeddedSyntheticName))")
            } catch { throw failure(error) }
        }
        if case let .directory(data) = source {
            let url = data.appendingPathComponent("models").appendingPathComponent(name)
            if fm.fileExists(atPath: url.path) {
                do { return (try HEARModel(contentsOf: url), url.path) } catch { throw failure(error) }
            }
        }
        if PaperData.modelNames.contains(name) {
            do { return (try PaperData.bundledModel(named: name), "the bundled paper models (\(name).hearmodel)") } catch { throw failure(error) }
        }
        var available = modelNamesHelp
        if case let .directory(data) = source,
           let extra = try? fm.contentsOfDirectory(atPath: data.appendingPathComponent("models").path).filter({ !$0.hasPrefix(".") }),
           !extra.isEmpty {
            available += "; in \(data.path)/models: " + extra.sorted().joined(separator: ", ")
        }
        throw CommandFailure(code: .noInput, message: "no model named \"\(printable(reference))\" (available: \(available); or a model directory or .hearmodel file)")
    }
    var isDirectory: ObjCBool = false
    let url = URL(fileURLWithPath: reference)
    guard fm.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
        throw CommandFailure(code: .noInput, message: "no model directory or file \(printable(url.path))")
    }
    if isDirectory.boolValue {
        do { return (try HEARModel(contentsOf: url), url.path) } catch { throw failure(error) }
    }
    let bytes = try readInputFile(url, limit: HEARModel.binaryMaximumBytes, what: "model file")
    do { return (try HEARModel(binary: bytes, source: url.path), url.path) } catch { throw failure(error) }
}

/// Reads a whole input file through `FileInput` (the reasons come from the system: no such
/// file, permission denied, a directory), refusing one larger than `limit`.
func readInputFile(_ url: URL, limit: Int, what: String) throws(CommandFailure) -> Data {
    switch FileInput.read(url.path, limit: limit) {
    case let .success(bytes): return Data(bytes)
    case let .failure(.cannotOpen(reason)):
        throw CommandFailure(code: .noInput, message: "cannot read \(printable(url.path)): \(reason)")
    case let .failure(.tooLarge(size, limit)):
        throw CommandFailure(code: .dataError, message: "\(printable(url.path)) is \(size) bytes, more than any \(what) (at most \(limit))")
    }
}

/// A string from a file or the command line made safe to print: control characters (terminal
/// escapes among them) become `?`, and it is cut at 200 characters.

let bundleHelp = """
    usage: hear bundle --data <dir> --out <dir>

      Converts the paper's published data (a directory in the original layout: test_inputs.csv,
      test_labels.csv, models/<name>/) into the compact resources this package ships
      (Sources/HEAR/Resources/paper): <model>.hearmodel for cnn2d-64, cnn1d-64, cnn1d-128 and
      test-set.hearclips. Every file is read back and compared with the CSV data bit for bit
      before it is written. <dir> must not exist or be empty.
    """

/// `hear bundle`: writes the bundled form of a data directory and checks it reads back exactly.
func bundle(_ arguments: ArraySlice<String>) throws(CommandFailure) {
    let options = try Options(arguments, allowed: ["data", "out"])
    let data = URL(fileURLWithPath: try options.required("data"))
    let out = URL(fileURLWithPath: try options.required("out"))
    if let contents = try? FileManager.default.contentsOfDirectory(atPath: out.path), !contents.isEmpty {
        throw CommandFailure(code: .cannotCreate, message: "cannot write \(out.path): the directory is not empty (nothing is overwritten)")
    }
    var files: [(String, Data)] = []
    let testSet = try loadTestSet(.directory(data))
    let clips: Data
    do { clips = try ClipBundle.encode(testSet) } catch { throw failure(error) }
    let decoded: HEARTestSet
    do { decoded = try ClipBundle.decode(clips, source: PaperData.testSetFileName) } catch { throw failure(error) }
    guard decoded.labels == testSet.labels,
          zip(decoded.sequences, testSet.sequences).allSatisfy({ a, b in
              zip(a.frames.flatMap(\.joints), b.frames.flatMap(\.joints)).allSatisfy {
                  $0.x.bitPattern == $1.x.bitPattern && $0.y.bitPattern == $1.y.bitPattern && $0.score.bitPattern == $1.score.bitPattern
              }
          }) else {
        throw CommandFailure(code: .dataError, message: "the clip file does not read back bit for bit")
    }
    files.append((PaperData.testSetFileName, clips))
    for name in PaperData.modelNames {
        let (model, _) = try loadModel(name, source: .directory(data))
        let bytes = model.binaryRepresentation
        let back: HEARModel
        do { back = try HEARModel(binary: bytes, source: name) } catch { throw failure(error) }
        guard back.architecture == model.architecture, back.name == model.name, back.classNames == model.classNames,
              model.architecture.tensorShapes.allSatisfy({ back.tensors[$0.name]!.values.map(\.bitPattern) == model.tensors[$0.name]!.values.map(\.bitPattern) }) else {
            throw CommandFailure(code: .dataError, message: "model \(name) does not read back bit for bit")
        }
        files.append(("\(name).hearmodel", bytes))
    }
    do {
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        for (file, bytes) in files {
            try bytes.write(to: out.appendingPathComponent(file), options: .atomic)
            print(String(format: "%-22@ %9d bytes", file as NSString, bytes.count))
        }
    } catch {
        throw CommandFailure(code: .cannotCreate, message: "cannot write \(out.path): \(error.localizedDescription)")
    }
}
