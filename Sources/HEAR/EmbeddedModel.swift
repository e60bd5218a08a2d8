import Foundation

extension HEARModel {
    /// The file name of the embedded default model (a package resource of the `HEAR` target).
    public static let embeddedDefaultName = "default-cnn2d-64.hearmodel"

    /// The embedded default model: a 2D-CNN-64 trained by `hear train` on SYNTHETIC clips only
    /// (the README records the command that regenerates it bit for bit). It runs the demo
    /// anywhere, without `../shared`; it is not a fall detector for real people.
    ///
    /// The resource is looked up beside the executable (SwiftPM's `HEAR_HEAR.resources`
    /// directory on Linux, `HEAR_HEAR.bundle` on Apple platforms) and in the main bundle;
    /// `HEAR_DEFAULT_MODEL=<file>` overrides it. A missing file is an error, not a crash.
    public static func embeddedDefault() throws(ModelError) -> HEARModel {
        guard let url = embeddedDefaultURL(), let data = FileManager.default.contents(atPath: url.path) else {
            throw .cannotRead(path: embeddedDefaultName, reason: "the embedded default model was not found beside the executable "
                + "(HEAR_HEAR.resources); rebuild with `swift build`, or set HEAR_DEFAULT_MODEL to a .hearmodel file")
        }
        return try HEARModel(binary: data, source: url.path)
    }

    /// Where the embedded default model is read from, or nil when it cannot be found.
    public static func embeddedDefaultURL() -> URL? {
        if let path = ProcessInfo.processInfo.environment["HEAR_DEFAULT_MODEL"], !path.isEmpty,
           FileManager.default.isReadableFile(atPath: path) {
            return URL(fileURLWithPath: path)
        }
        return EmbeddedResources.url(embeddedDefaultName)
    }
}

/// The `HEAR` target's package resources (the default model, the demo's sample recordings),
/// found beside the executable (SwiftPM's `HEAR_HEAR.resources` on Linux, `HEAR_HEAR.bundle`
/// on Apple platforms) or in the main bundle, without `Bundle.module` (which traps when the
/// resources are missing).
public enum EmbeddedResources {
    /// A resource file or directory by its path inside the resources, or nil when absent.
    public static func url(_ name: String) -> URL? {
        var candidates: [URL] = []
        var directories = [URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()]
        if let url = Bundle.main.executableURL?.resolvingSymlinksInPath().deletingLastPathComponent() { directories.append(url) }
        for directory in directories {
            for bundle in ["HEAR_HEAR.resources", "HEAR_HEAR.bundle/Contents/Resources", "HEAR_HEAR.bundle"] {
                candidates.append(directory.appendingPathComponent(bundle).appendingPathComponent(name))
            }
        }
        if let url = Bundle.main.resourceURL { candidates.append(url.appendingPathComponent(name)) }
        return candidates.first { FileManager.default.isReadableFile(atPath: $0.path) }
    }

    /// The demo's sample recordings (`recordings/*.csv`, per-frame keypoint CSVs of SYNTHETIC
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
