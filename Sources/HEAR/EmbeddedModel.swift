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
        var candidates: [URL] = []
        if let path = ProcessInfo.processInfo.environment["HEAR_DEFAULT_MODEL"], !path.isEmpty {
            candidates.append(URL(fileURLWithPath: path))
        }
        var directories = [URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()]
        if let url = Bundle.main.executableURL?.resolvingSymlinksInPath().deletingLastPathComponent() { directories.append(url) }
        for directory in directories {
            for bundle in ["HEAR_HEAR.resources", "HEAR_HEAR.bundle/Contents/Resources", "HEAR_HEAR.bundle"] {
                candidates.append(directory.appendingPathComponent(bundle).appendingPathComponent(embeddedDefaultName))
            }
        }
        if let url = Bundle.main.resourceURL { candidates.append(url.appendingPathComponent(embeddedDefaultName)) }
        return candidates.first { FileManager.default.isReadableFile(atPath: $0.path) }
    }
}
