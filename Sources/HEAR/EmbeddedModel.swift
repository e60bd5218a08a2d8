import Foundation

/// The paper's published models and test clips, shipped as package resources
/// (`Resources/paper/`: `<model>.hearmodel`, `test-set.hearclips`, the MIT `LICENSE` and
/// `PROVENANCE.md`), so that everything runs on a fresh clone. The same data can be read from a
/// directory in the original layout (`--data`, `../shared/data/hear-paper`); both give the same
/// tensors bit for bit (`DecimalExact`).
public enum PaperData {
    /// The paper's published models, in the bundle and under `<data>/models/`. The 2D-CNN-128's
    /// weights were not published complete.
    public static let modelNames = ["cnn2d-64", "cnn1d-64", "cnn1d-128"]
    /// The model `--model default` names: the paper's 2D-CNN-64.
    public static let defaultModelName = "cnn2d-64"
    /// The file name of the bundled test set.
    public static let testSetFileName = "test-set.hearclips"

    /// The bundled resource directory `paper/`, or nil when the resources are not beside the
    /// executable.
    public static var bundleDirectory: URL? { EmbeddedResources.url("paper") }

    /// A bundled model by name (`cnn2d-64`, `cnn1d-64`, `cnn1d-128`).
    public static func bundledModel(named name: String) throws(ModelError) -> HEARModel {
        guard modelNames.contains(name) else {
            throw .cannotRead(path: name, reason: "no bundled model of that name (available: \(modelNames.joined(separator: ", ")))")
        }
        let url = try bundledFile("\(name).hearmodel")
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw .cannotRead(path: url.path, reason: "the bundled model cannot be opened")
        }
        return try HEARModel(binary: data, source: url.path)
    }

    /// The bundled test set: the paper's 608 clips (raw pixel coordinates) with their labels.
    public static func bundledTestSet() throws(DataError) -> HEARTestSet {
        let url: URL
        do { url = try bundledFile(testSetFileName) } catch { throw .cannotRead(path: testSetFileName, reason: error.reason) }
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw .cannotRead(path: url.path, reason: "the bundled test set cannot be opened")
        }
        return try ClipBundle.decode(data, source: url.path)
    }

    static func bundledFile(_ name: String) throws(ModelError) -> URL {
        guard let directory = bundleDirectory else {
            throw .cannotRead(path: "paper/\(name)", reason: "the bundled paper data was not found beside the executable "
                              + "(HEAR_HEAR.resources/paper); rebuild with `swift build`, or pass --data <dir>")
        }
        let url = directory.appendingPathComponent(name)
        guard FileManager.default.isReadableFile(atPath: url.path) else {
            throw .cannotRead(path: url.path, reason: "the bundled file is missing; rebuild with `swift build`, or pass --data <dir>")
        }
        return url
    }
}

extension ModelError {
    /// The reason part of a read error (for re-wrapping into another error type).
    var reason: String {
        if case let .cannotRead(_, reason) = self { return reason }
        return description
    }
}

extension HEARModel {
    /// The file name of the embedded model trained on synthetic clips (`--model synthetic`).
    public static let embeddedSyntheticName = "synthetic-cnn2d-64.hearmodel"

    /// The embedded SYNTHETIC model: a 2D-CNN-64 trained by `hear train` on synthetic stick-figure
    /// clips only (the README records the command that regenerates it bit for bit). It shows the
    /// cryptography on the bundled synthetic recordings; on real clips it is no fall detector
    /// (about 7 % accuracy on the paper's test set).
    ///
    /// `HEAR_SYNTHETIC_MODEL=<file>` overrides the resource. A missing file is an error, not a crash.
    public static func embeddedSynthetic() throws(ModelError) -> HEARModel {
        guard let url = embeddedSyntheticURL(), let data = FileManager.default.contents(atPath: url.path) else {
            throw .cannotRead(path: embeddedSyntheticName, reason: "the embedded synthetic model was not found beside the executable "
                + "(HEAR_HEAR.resources); rebuild with `swift build`, or set HEAR_SYNTHETIC_MODEL to a .hearmodel file")
        }
        return try HEARModel(binary: data, source: url.path)
    }

    /// Where the embedded synthetic model is read from, or nil when it cannot be found.
    public static func embeddedSyntheticURL() -> URL? {
        if let path = ProcessInfo.processInfo.environment["HEAR_SYNTHETIC_MODEL"], !path.isEmpty,
           FileManager.default.isReadableFile(atPath: path) {
            return URL(fileURLWithPath: path)
        }
        return EmbeddedResources.url(embeddedSyntheticName)
    }
}

/// The `HEAR` target's package resources (the paper's data, the synthetic model, the synthetic
/// recordings), found beside the executable — SwiftPM's `<package>_HEAR.resources` on Linux,
/// `<package>_HEAR.bundle` on Apple platforms, whatever the package is called in a consumer's
/// build — or in the main bundle, without `Bundle.module` (which traps when they are missing).
public enum EmbeddedResources {
    /// A resource file or directory by its path inside the resources, or nil when absent.
    public static func url(_ name: String) -> URL? {
        var candidates: [URL] = []
        var directories = [URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()]
        if let url = Bundle.main.executableURL?.resolvingSymlinksInPath().deletingLastPathComponent() { directories.append(url) }
        for directory in directories {
            var bundles = ["HEAR_HEAR.resources", "HEAR_HEAR.bundle/Contents/Resources", "HEAR_HEAR.bundle"]
            let siblings = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
            for sibling in siblings.sorted() where sibling.hasSuffix("_HEAR.resources") || sibling.hasSuffix("_HEAR.bundle") {
                bundles += [sibling, sibling + "/Contents/Resources"]
            }
            for bundle in bundles {
                candidates.append(directory.appendingPathComponent(bundle).appendingPathComponent(name))
            }
        }
        if let url = Bundle.main.resourceURL { candidates.append(url.appendingPathComponent(name)) }
        return candidates.first { FileManager.default.isReadableFile(atPath: $0.path) }
    }

    /// The synthetic demo recordings (`recordings/*.csv`, per-frame keypoint CSVs of SYNTHETIC
    /// clips, see `hear synth --recording`), sorted by file name.
    public static func sampleRecordings() throws(DataError) -> [(name: String, recording: SkeletonSequence)] {
        guard let directory = url("recordings"),
              let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else {
            throw .cannotRead(path: "recordings", reason: "the bundled sample recordings were not found beside the executable "
                              + "(HEAR_HEAR.resources/recordings); rebuild with `swift build`")
        }
        var result: [(String, SkeletonSequence)] = []
        for name in names.sorted() where name.hasSuffix(".csv") {
            result.append((String(name.dropLast(4)), try KeypointCSV.read(from: directory.appendingPathComponent(name))))
        }
        return result
    }
}
