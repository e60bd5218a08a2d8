import Foundation
import Testing
import HEAR

/// The paper's data in its original CSV form, read from `../shared/data/hear-paper` beside the
/// package (or `$HEAR_DATA`). Only what the package does not ship needs it: the paper's PyTorch
/// logits (a test oracle) and the check that the bundled resources equal the CSV files bit for
/// bit. Those tests are disabled with a message when it is absent; everything else runs on the
/// bundled data (`PaperData`).
let sharedDataDirectory: URL = {
    if let path = ProcessInfo.processInfo.environment["HEAR_DATA"], !path.isEmpty { return URL(fileURLWithPath: path) }
    return URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("shared/data/hear-paper")
}()

let sharedDataPresent = FileManager.default.fileExists(atPath: sharedDataDirectory.appendingPathComponent("test_inputs.csv").path)
let sharedDataMessage: Comment = "needs the paper's PyTorch logits, a test oracle the package does not ship, at \(sharedDataDirectory.path) (../shared/data/hear-paper beside the package, or set HEAR_DATA)"
let sharedCSVMessage: Comment = "compares the bundle with the paper's CSV files, expected at \(sharedDataDirectory.path) (../shared/data/hear-paper beside the package, or set HEAR_DATA)"

/// Whether tests over all 608 samples run: always in release builds (CI runs `swift test -c
/// release`), in debug builds only with `HEAR_SLOW_TESTS=1`; debug builds check a slice.
let fullDataTests: Bool = {
    #if DEBUG
    return ProcessInfo.processInfo.environment["HEAR_SLOW_TESTS"] == "1"
    #else
    return true
    #endif
}()

/// The bundled test set, loaded once for all suites (nil only if the resources are missing,
/// which the tests that use it then report as a failure).
let paperTestSet: HEARTestSet? = try? PaperData.bundledTestSet()

/// A bundled paper model.
func paperModel(_ name: String) throws -> HEARModel {
    try PaperData.bundledModel(named: name)
}

/// The paper's PyTorch logits for a model, one row of 10 per test sample.
func paperReferenceLogits(_ name: String) throws -> [[Double]] {
    let text = try String(contentsOf: sharedDataDirectory.appendingPathComponent("reference_logits/\(name).csv"), encoding: .utf8)
    return text.split(separator: "\n").map { $0.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces))! } }
}

/// The root of this test process's temporary directories, removed when the process exits (a
/// run used to leave a directory of keys and models behind per test).
let testScratchRoot: URL = {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("hear-tests-\(UUID().uuidString)")
    atexit { try? FileManager.default.removeItem(at: testScratchRoot) }
    return url
}()

/// A fresh empty temporary directory (under `testScratchRoot`).
func temporaryDirectory(_ label: String) throws -> URL {
    let url = testScratchRoot.appendingPathComponent("\(label)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// A frame with the given (x, y) for the first joints and undetected joints after them.
func frame(_ points: [(Double, Double)], score: Double = 0.9) -> SkeletonFrame {
    var joints = points.map { Keypoint(x: $0.0, y: $0.1, score: score) }
    joints += Array(repeating: Keypoint(x: 0, y: 0, score: 0), count: SkeletonFrame.jointCount - joints.count)
    return SkeletonFrame(joints: joints)
}

/// `body` throws an `E` whose description says `fact`: the case *and* the message a user acts on.
func expectError<E: Error & CustomStringConvertible, T>(_ type: E.Type, saying fact: String,
                                                         sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> T) {
    let error = #expect(throws: E.self, sourceLocation: sourceLocation) { _ = try body() }
    if let error {
        #expect(error.description.contains(fact), "«\(error.description)» does not say «\(fact)»", sourceLocation: sourceLocation)
    }
}

/// As `expectError(_:saying:)` where the message depends on the input (a loop over truncations
/// or flipped bits): it says one of `facts`.
func expectError<E: Error & CustomStringConvertible, T>(_ type: E.Type, sayingOneOf facts: [String],
                                                         sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> T) {
    let error = #expect(throws: E.self, sourceLocation: sourceLocation) { _ = try body() }
    if let error {
        #expect(facts.contains { error.description.contains($0) }, "«\(error.description)» says none of \(facts)",
                sourceLocation: sourceLocation)
    }
}
