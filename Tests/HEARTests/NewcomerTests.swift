import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
import HEAR

/// What a new user meets on a fresh clone: the bundled data by default, `--version`, usage, and
/// each input mistake answered by one sentence and the right exit status.
@Suite("the hear command on a fresh clone", .enabled(if: hearExecutable != nil, "the hear executable is built beside the test runner"))
struct NewcomerTests {
    /// No `../shared`: the command must not look there.
    let noData = ["HEAR_DATA": "/nonexistent/hear-data"]

    func oneLine(_ run: CommandResult, status: Int32, containing text: String, _ label: String) {
        #expect(run.status == status, "\(label): exit \(run.status), \(run.error)")
        #expect(run.error.hasPrefix("hear: ") && run.error.split(separator: "\n").count == 1 && run.error.contains(text),
                "\(label): \(run.error)")
    }

    @Test("--version, and no arguments: usage on stderr, exit 64")
    func versionAndUsage() throws {
        let version = try hear(["--version"])
        #expect(version.status == 0 && version.output.hasPrefix("hear \(HEARVersion.string)"))
        let bare = try hear([])
        #expect(bare.status == 64 && bare.output.isEmpty && bare.error.contains("usage: hear <command>"))
    }

    @Test("classify --clip reads the bundled test set; the model names are listed for an unknown one")
    func bundledClips() throws {
        let run = try hear(["classify", "--clip", "164"], environment: noData)
        #expect(run.status == 0 && run.output.contains("test clip 164") && run.output.contains("class     fall"), "\(run.output) \(run.error)")
        oneLine(try hear(["classify", "--clip", "608"], environment: noData), status: 64, containing: "the test set has 608 clips (0…607)", "range")
        oneLine(try hear(["classify", "--model", "cnn3d-64", "--clip", "1"], environment: noData), status: 66,
                containing: "available: default (the paper's 2D-CNN-64), cnn2d-64, cnn1d-64, cnn1d-128, synthetic", "unknown model")
        oneLine(try hear(["demo", "--clip", "700"], environment: noData), status: 64, containing: "--clip 700 is out of range", "demo clip")
        // the representative slice: every 8th clip of each class, 80 clips with 4 falls
        let slice = try hear(["evaluate", "--samples", "slice"], environment: noData)
        #expect(slice.status == 0 && slice.output.contains("data      80 of 608 samples") && slice.output.contains("(3 of 4)"),
                "\(slice.output)")
        let synthetic = try hear(["classify", "--model", "synthetic", "--clip", "0"], environment: noData)
        #expect(synthetic.status == 0 && synthetic.output.contains("synthetic"), "\(synthetic.error)")
    }

    @Test("input mistakes: swapped arguments, huge coordinates, a test-set row without --row, a short clip, bad files")
    func mistakes() throws {
        let directory = try temporaryDirectory("newcomer")
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        // A valid clip and a fake party file.
        let clip = path("clip.csv")
        let frames = (0..<40).map { f in SkeletonFrame(joints: (0..<15).map { Keypoint(x: 100 + Double(f + $0), y: 80 + 4 * Double($0), score: 0.9) }) }
        try KeypointCSV.write(SkeletonSequence(frames: frames), to: URL(fileURLWithPath: clip))
        var party = Array("HEARFILE".utf8)
        party += [UInt8](repeating: 7, count: 100)
        try Data(party).write(to: URL(fileURLWithPath: path("public-key.hear")))

        // a camera certified by a station
        let camera = directory.appendingPathComponent("camera")
        let station = SigningIdentity.deterministic(role: .station, name: "station", seed: [4])
        let identity = try DeviceDirectory.create(at: camera, role: .camera, name: "kitchen")
        try PartyStorage.write(try Certificate(certifying: identity, by: station).serialized(),
                               to: camera.appendingPathComponent(DeviceDirectory.certificate))
        // encrypt --public-key clip.csv --input public-key.hear: both readers say the files look swapped.
        oneLine(try hear(["encrypt", "--device", camera.path, "--public-key", clip, "--input", path("public-key.hear"), "--out", path("x.hear")]),
                status: 65, containing: "swapped", "swapped")
        oneLine(try hear(["encrypt", "--device", camera.path, "--public-key", clip, "--input", clip, "--out", path("x.hear")]),
                status: 65, containing: "are two arguments swapped", "key is text")

        // 1e300: the file, line and column.
        var text = try String(contentsOfFile: clip, encoding: .utf8).split(separator: "\n").map(String.init)
        var cells = text[3].split(separator: ",").map(String.init)
        cells[4] = "1e300"
        text[3] = cells.joined(separator: ",")
        try (text.joined(separator: "\n") + "\n").write(toFile: path("huge.csv"), atomically: true, encoding: .utf8)
        oneLine(try hear(["classify", "--keypoints", path("huge.csv")]), status: 65, containing: "huge.csv, line 4: column 5 is 1e+300", "1e300")

        // A 1440-column row of the test-set format without --row.
        let row = (0..<1440).map { i in i % 3 == 2 ? "0.9" : String(100 + i % 50) }.joined(separator: ",")
        try (row + "\n").write(toFile: path("test_inputs.csv"), atomically: true, encoding: .utf8)
        oneLine(try hear(["classify", "--keypoints", path("test_inputs.csv")]), status: 65, containing: "add --row <i>", "1440 columns")
        let withRow = try hear(["classify", "--keypoints", path("test_inputs.csv"), "--row", "0"])
        #expect(withRow.status == 0, "\(withRow.error)")

        // A one-frame clip: classified, with a warning.
        try KeypointCSV.write(SkeletonSequence(frames: [frames[0]]), to: URL(fileURLWithPath: path("one.csv")))
        let short = try hear(["classify", "--keypoints", path("one.csv")])
        #expect(short.status == 0 && short.error.contains("warning") && short.error.contains("1 frame;"), "\(short.error)")

        // Missing, a directory, a path through a file; a truncated and a corrupted model file.
        oneLine(try hear(["classify", "--keypoints", path("none.csv")]), status: 66, containing: "none.csv: no such file", "missing")
        oneLine(try hear(["classify", "--keypoints", directory.path]), status: 66, containing: "it is a directory", "directory")
        oneLine(try hear(["classify", "--keypoints", clip + "/x.csv"]), status: 66, containing: "not a directory", "not a directory")
        let model = try PaperData.bundledModel(named: "cnn1d-64").binaryRepresentation
        try model.prefix(model.count - 1000).write(to: URL(fileURLWithPath: path("truncated.hearmodel")))
        oneLine(try hear(["classify", "--model", path("truncated.hearmodel"), "--clip", "0"], environment: noData), status: 65,
                containing: "SHA-256 digest does not match", "truncated model")
        var flipped = model
        flipped[model.count / 2] ^= 1
        try flipped.write(to: URL(fileURLWithPath: path("flipped.hearmodel")))
        oneLine(try hear(["classify", "--model", path("flipped.hearmodel"), "--clip", "0"], environment: noData), status: 65,
                containing: "SHA-256 digest does not match", "flipped model")
        // model convert: the compact form of any model, never over an existing file.
        let converted = try hear(["model", "convert", "--model", "cnn1d-64", "--out", path("c.hearmodel")], environment: noData)
        #expect(converted.status == 0, "\(converted.error)")
        #expect(try HEARModel(binary: Data(contentsOf: URL(fileURLWithPath: path("c.hearmodel")))).fingerprint
                == PaperData.bundledModel(named: "cnn1d-64").fingerprint)
        oneLine(try hear(["model", "convert", "--model", "cnn1d-64", "--out", path("c.hearmodel")], environment: noData), status: 73,
                containing: "the file exists", "convert over a file")
        // A --data folder of the wrong shape.
        let wrong = directory.appendingPathComponent("wrong")
        try FileManager.default.createDirectory(at: wrong, withIntermediateDirectories: true)
        try "1,2,3\n".write(to: wrong.appendingPathComponent("test_inputs.csv"), atomically: true, encoding: .utf8)
        try "0\n".write(to: wrong.appendingPathComponent("test_labels.csv"), atomically: true, encoding: .utf8)
        oneLine(try hear(["evaluate", "--data", wrong.path]), status: 65, containing: "expected 1440 numbers", "wrong data shape")
    }
}

/// The README shows the library example that CI compiles (Docs/Examples/Consumer), verbatim.
@Suite("the README's library example")
struct ReadmeExampleTests {
    @Test("the README's Swift example is Docs/Examples/Consumer/Sources/Consumer/main.swift")
    func example() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let main = try String(contentsOf: root.appendingPathComponent("Docs/Examples/Consumer/Sources/Consumer/main.swift"), encoding: .utf8)
        #expect(main.contains("import HEAR") && main.contains("MonitoringStation.generateKeys"))
        #expect(readme.contains("```swift\n" + main + "```"), "README.md must show the consumer's main.swift as it is")
    }
}

/// Docs/Packing.md's layout pictures are `hear plan --draw` output, verbatim.
@Suite("the layout pictures of Docs/Packing.md", .enabled(if: hearExecutable != nil, "the hear executable is built beside the test runner"))
struct PackingPictureTests {
    @Test("every picture marked `drawn by hear plan …` equals that command's output")
    func pictures() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let document = try String(contentsOf: root.appendingPathComponent("Docs/Packing.md"), encoding: .utf8)
        let lines = document.components(separatedBy: "\n")
        var checked: [String] = []
        for (index, line) in lines.enumerated() where line.hasPrefix("<!-- drawn by `hear ") {
            let command = line.dropFirst("<!-- drawn by `hear ".count).prefix { $0 != "`" }
            #expect(index + 1 < lines.count && lines[index + 1] == "```text", "\(command): a ```text block follows the marker")
            guard let end = lines[(index + 2)...].firstIndex(of: "```") else {
                Issue.record("\(command): the picture's block is not closed")
                continue
            }
            let picture = lines[(index + 2)..<end].joined(separator: "\n") + "\n"
            let result = try hear(command.split(separator: " ").map(String.init))
            #expect(result.status == 0, "hear \(command): \(result.error)")
            #expect(result.output == picture, "Docs/Packing.md differs from `hear \(command)`; paste its output there")
            checked.append(String(command))
        }
        #expect(checked.count >= 3 && checked.contains { $0.contains("--draw block2") }, "pictures found: \(checked)")
    }

    @Test("--svg writes a well-formed SVG of the same layout; a layer that does not exist is a usage error")
    func svgAndErrors() throws {
        let directory = try temporaryDirectory("draw")
        let path = directory.appendingPathComponent("block3.svg").path
        let result = try hear(["plan", "--model", "cnn2d-64", "--draw", "block3", "--svg", path])
        #expect(result.status == 0, "\(result.error)")
        let svg = try String(contentsOfFile: path, encoding: .utf8)
        #expect(svg.hasPrefix("<?xml") && svg.hasSuffix("</svg>\n"))
        let parser = XMLParser(data: Data(svg.utf8))
        #expect(parser.parse(), "not well-formed XML: \(String(describing: parser.parserError))")
        // block 3 reads 8 sparse ciphertexts merged into one at stride 4: sub-positions 0–7 in block 0
        #expect(svg.contains("<title>slot 17: channel 80, entry (0, 0), sub-position 5</title>"))
        #expect(svg.contains("<title>slot 32: nothing valid</title>"))
        let bad = try hear(["plan", "--model", "cnn2d-64", "--draw", "block4"])
        #expect(bad.status == 64 && bad.error.contains("no layer 'block4'") && bad.error.contains("block3, dense"))
        let alone = try hear(["plan", "--model", "cnn2d-64", "--svg", path])
        #expect(alone.status == 64 && alone.error.contains("--svg goes with --draw"))
    }
}
