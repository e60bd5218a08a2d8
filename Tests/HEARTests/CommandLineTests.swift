import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import HEARCrypto
import Testing
import HEAR

/// The `hear` executable built beside the test runner, or nil.
let hearExecutable: URL? = {
    let runner = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    var directory = runner.deletingLastPathComponent()
    for _ in 0..<4 {  // …/debug/HEARPackageTests.xctest[/Contents/MacOS/…]
        let candidate = directory.appendingPathComponent("hear")
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        directory = directory.deletingLastPathComponent()
    }
    return nil
}()

struct CommandResult {
    var status: Int32
    var output: String
    var error: String
}

func hear(_ arguments: [String], environment: [String: String] = [:]) throws -> CommandResult {
    let process = Process()
    guard let executable = hearExecutable else { throw CocoaError(.fileNoSuchFile) }
    process.executableURL = executable
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let output = Pipe(), error = Pipe()
    process.standardOutput = output
    process.standardError = error
    try process.run()
    let out = output.fileHandleForReading.readDataToEndOfFile()
    let err = error.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return CommandResult(status: process.terminationStatus, output: String(decoding: out, as: UTF8.self),
                         error: String(decoding: err, as: UTF8.self))
}

@Suite("the hear command", .enabled(if: hearExecutable != nil, "the hear executable is built beside the test runner"))
struct CommandLineTests {
    /// A two-sample test set in a temporary directory (raw pixel coordinates, labels 9 and 4).
    func tinyTestSet() throws -> URL {
        let directory = try temporaryDirectory("cli-data")
        var rows: [String] = []
        for sample in 0..<2 {
            var cells: [String] = []
            for i in 0..<1440 {
                let pixel: Double = 40 + Double((i * 37 + sample * 11) % 200)
                if i % 3 == 2 {
                    cells.append("0.8")
                } else if i % 7 == 0 {
                    cells.append("0")
                } else {
                    cells.append(String(format: "%.3f", pixel))
                }
            }
            rows.append(cells.joined(separator: ","))
        }
        try (rows.joined(separator: "\n") + "\n").write(to: directory.appendingPathComponent("test_inputs.csv"), atomically: true, encoding: .utf8)
        try "9\n4\n".write(to: directory.appendingPathComponent("test_labels.csv"), atomically: true, encoding: .utf8)
        return directory
    }

    @Test("help and usage errors: exit 0 for help, 64 with a one-line reason otherwise")
    func usage() throws {
        let help = try hear(["--help"])
        #expect(help.status == 0 && help.output.contains("evaluate") && help.output.contains("model init"))
        #expect(try hear(["evaluate", "--help"]).output.contains("--logits"))
        for command in ["keygen", "enroll", "certify", "encrypt", "infer", "decrypt", "demo", "inspect", "monitor", "serve", "watch", "make-stream"] {
            let help = try hear([command, "--help"])
            #expect(help.status == 0 && help.output.contains("usage: hear \(command)"), "\(command)")
            #expect(try hear(["help", command]).output == help.output)
            #expect(try hear(["--help"]).output.contains("  \(command) "), "\(command) in the command list")
        }
        for arguments in [["frobnicate"], ["evaluate", "--model"], ["evaluate", "--model", "x", "--colour", "red"],
                          ["evaluate", "--model", "a", "--model", "b"], ["evaluate", "--model", "a", "--threads", "0"],
                          ["evaluate", "--model", "a", "--plan", "fast"], ["model", "init", "--architecture", "cnn3d-64", "--seed", "1", "--out", "/tmp/x"],
                          ["model", "init", "--architecture", "cnn2d-64", "--seed", "-1", "--out", "/tmp/x"], ["model", "delete"],
                          ["evaluate", "--model", "a", "--method", "hear"], ["evaluate", "--model", "a", "--encrypted", "--preset", "tiny"],
                          ["evaluate", "--model", "a", "--encrypted", "--weights-memory", "lots"],
                          ["evaluate", "--model", "a", "--encrypted", "--plan", "folded"], ["evaluate", "--model", "a", "--encrypted", "--encrypted"],
                          ["evaluate", "--model", "a", "--encrypted", "--method", "fastest"],
                          ["evaluate", "--model", "a", "--encrypted", "--strategy", "full,baby"],
                          ["keygen"], ["keygen", "--model", "default", "--out", "/tmp/x", "--preset", "tiny"],
                          ["encrypt", "--public-key", "pk.hear"], ["encrypt", "--public-key", "a", "--input", "b", "--row", "-1", "--out", "c"],
                          ["infer"], ["infer", "--model", "a", "--eval-keys", "b", "--in", "c", "--out", "d", "--threads", "0"],
                          ["decrypt"], ["decrypt", "--secret-key", "a", "--in", "b", "--raw", "--raw"], ["inspect"],
                          ["inspect", "a", "b"], ["demo", "--threads", "0"], ["demo", "--frobnicate"],
                          ["synth", "--recording", "dance", "--out", "/tmp/x.csv"], ["enroll", "--role", "station", "--name", "s", "--out", "/tmp/x"],
                          ["enroll", "--role", "camera", "--name", "bad\u{1b}name", "--out", "/tmp/hear-never"], ["certify", "--keys", "k"],
                          ["encrypt", "--device", "d", "--trust", "xyz", "--public-key", "a", "--clip", "1", "--out", "c"],
                          ["encrypt", "--device", "d", "--public-key", "a", "--clip", "1", "--clip", "2", "--out", "/tmp/c"],
                          ["encrypt", "--device", "d", "--public-key", "a", "--clip", "1", "--input", "x.csv", "--out", "/tmp/c", "--out", "/tmp/d"],
                          ["encrypt", "--device", "d", "--public-key", "a", "--clip", "1", "--clip", "2", "--out", "/tmp/c", "--out", "/tmp/c"],
                          ["infer", "--device", "d", "--eval-keys", "k", "--in", "a", "--in", "b", "--out", "/tmp/c"],
                          ["monitor", "--device", "d", "--public-key", "p", "--spool", "/tmp/hear-never-spool", "--window", "0"],
                          ["monitor", "--device", "d", "--public-key", "p", "--spool", "/tmp/hear-never-spool", "--stride", "x"],
                          ["serve", "--device", "d", "--eval-keys", "k", "--spool", "/tmp/hear-never-spool", "--lease", "-1"],
                          ["serve", "--device", "d", "--eval-keys", "k", "--spool", "/tmp/hear-never-spool", "--worker", "a@b"],
                          ["serve", "--device", "d", "--eval-keys", "k", "--spool", "/tmp/hear-never-spool", "--max-attempts", "0"],
                          ["watch", "--secret-key", "k", "--spool", "/tmp/hear-never-spool", "--alert", "3/2"],
                          ["watch", "--secret-key", "k", "--spool", "/tmp/hear-never-spool", "--cool-down", "soon"],
                          ["make-stream", "--clips", "1,x", "--out", "/tmp/hear-never.txt"],
                          ["make-stream", "--clips", "608", "--out", "/tmp/hear-never.txt"]] {
            let result = try hear(arguments)
            #expect(result.status == 64, "\(arguments)")
            #expect(result.error.hasPrefix("hear: ") && result.error.split(separator: "\n").count == 1, "\(arguments): \(result.error)")
        }
        #expect(!FileManager.default.fileExists(atPath: "/tmp/hear-never-spool") && !FileManager.default.fileExists(atPath: "/tmp/hear-never.txt"))
    }

    @Test("missing and malformed inputs: exit 66 and 65, outputs checked before any work (73)")
    func badInputs() throws {
        let data = try tinyTestSet()
        let noData = try hear(["evaluate", "--model", "cnn2d-64", "--data", "/nonexistent/hear"])
        #expect(noData.status == 66 && noData.error.contains("no data directory /nonexistent/hear"), "\(noData.error)")
        let noModel = try hear(["evaluate", "--model", "cnn9d", "--data", data.path])
        #expect(noModel.status == 66 && noModel.error.contains("no model"))
        let noDirectory = try hear(["evaluate", "--model", "cnn2d-64", "--data", data.path, "--logits", "/nonexistent/dir/out.csv"])
        #expect(noDirectory.status == 73 && noDirectory.error.contains("does not exist"))

        try "9\nfall\n".write(to: data.appendingPathComponent("test_labels.csv"), atomically: true, encoding: .utf8)
        let badLabel = try hear(["evaluate", "--model", "cnn2d-64", "--data", data.path])
        #expect(badLabel.status == 65 && badLabel.error.contains("test_labels.csv, line 2"))

        let modelDirectory = data.appendingPathComponent("model")
        #expect(try hear(["model", "init", "--architecture", "cnn1d-64", "--seed", "4", "--out", modelDirectory.path]).status == 0)
        try "1\n2\n".write(to: modelDirectory.appendingPathComponent("act1.alpha.csv"), atomically: true, encoding: .utf8)
        let clip = data.appendingPathComponent("clip.csv")
        try KeypointCSV.write(SkeletonSequence(frames: [frame([(10, 20), (30, 40)])]), to: clip)
        let badModel = try hear(["classify", "--model", modelDirectory.path, "--keypoints", clip.path])
        #expect(badModel.status == 65 && badModel.error.contains("act1.alpha.csv holds 2 values, its shape needs 1"), "\(badModel.error)")
        let noClip = try hear(["classify", "--model", modelDirectory.path, "--keypoints", "/nonexistent.csv"])
        #expect(noClip.status == 66 && noClip.error.contains("/nonexistent.csv: no such file"))
    }

    @Test("model init, evaluate and classify on a small data set; logits written at full precision")
    func endToEnd() throws {
        let data = try tinyTestSet()
        let modelDirectory = data.appendingPathComponent("models/cnn2d-64")
        let created = try hear(["model", "init", "--architecture", "cnn2d-64", "--seed", "1", "--out", modelDirectory.path])
        #expect(created.status == 0, "\(created.error)")
        let model = try HEARModel(contentsOf: modelDirectory)
        #expect(model.tensors == HEARModel.randomlyInitialized(architecture: model.architecture, seed: 1).tensors)
        // The directory now exists: a second init refuses (73) and leaves it as it was.
        let again = try hear(["model", "init", "--architecture", "cnn1d-64", "--seed", "2", "--out", modelDirectory.path])
        #expect(again.status == 73)
        #expect(try HEARModel(contentsOf: modelDirectory).tensors == model.tensors)

        let logitsURL = data.appendingPathComponent("logits.csv")
        for plan in ["reference", "folded"] {
            let run = try hear(["evaluate", "--model", "cnn2d-64", "--data", data.path, "--logits", logitsURL.path, "--plan", plan, "--threads", "1"])
            #expect(run.status == 0, "\(run.error)")
            #expect(run.output.contains("samples             2") && run.output.contains("confusion matrix"))
            let written = try String(contentsOf: logitsURL, encoding: .utf8).split(separator: "\n")
                .map { $0.split(separator: ",").map { Double($0)! } }
            let set = try HEARTestSet.load(directory: data)
            let expected = set.sequences.map { model.referenceLogits(Preprocessing.normalize($0)) }
            #expect(written.count == 2 && written.allSatisfy { $0.count == 10 })
            let worst = zip(written, expected).map { maximumDifference($0, $1) }.max()!
            #expect(plan == "reference" ? worst == 0 : worst < 1e-9, "\(plan): \(worst)")
        }

        // A clip of 50 frames from a camera pipeline.
        let clipURL = data.appendingPathComponent("clip.csv")
        let frames = (0..<50).map { f in SkeletonFrame(joints: (0..<15).map { Keypoint(x: 100 + 3 * Double(f) + Double($0), y: 80 + 4 * Double($0), score: 0.9) }) }
        try KeypointCSV.write(SkeletonSequence(frames: frames), to: clipURL)
        let classified = try hear(["classify", "--model", modelDirectory.path, "--keypoints", clipURL.path])
        #expect(classified.status == 0 && classified.output.contains("50 frames") && classified.output.contains("class     "))
        try "1,2,3\n".write(to: clipURL, atomically: true, encoding: .utf8)
        let malformed = try hear(["classify", "--model", modelDirectory.path, "--keypoints", clipURL.path])
        #expect(malformed.status == 65 && malformed.error.contains("clip.csv, line 1: expected 45 numbers"))
    }

    @Test("hear evaluate --encrypted: samples in the order asked, logits = plaintext network, bad --samples refused",
          .enabled(if: encryptedTests, "N = 2^14: release builds, or HEAR_SLOW_TESTS=1"))
    func encryptedEndToEnd() throws {
        let data = try tinyTestSet()
        let modelDirectory = data.appendingPathComponent("models/cnn1d-64")
        #expect(try hear(["model", "init", "--architecture", "cnn1d-64", "--seed", "3", "--out", modelDirectory.path]).status == 0)
        for bad in ["0..2", "1..0", "x", "0,,1"] {
            let run = try hear(["evaluate", "--model", "cnn1d-64", "--data", data.path, "--samples", bad])
            #expect(run.status == 64, "\(bad): \(run.error)")
        }
        let logitsURL = data.appendingPathComponent("encrypted.csv")
        let run = try hear(["evaluate", "--model", "cnn1d-64", "--data", data.path, "--encrypted", "--samples", "1,0",
                            "--threads", "2", "--logits", logitsURL.path])
        #expect(run.status == 0, "\(run.error)")
        for text in ["keys ", "weights ", "block3", "dense", "decrypt", "inference", "argmax 2 / 2", "peak memory", "rotations"] {
            #expect(run.output.contains(text), "\(text)")
        }
        let written = try String(contentsOf: logitsURL, encoding: .utf8).split(separator: "\n")
            .map { $0.split(separator: ",").map { Double($0)! } }
        let set = try HEARTestSet.load(directory: data)
        let folded = try FoldedNetwork(folding: HEARModel(contentsOf: modelDirectory))
        let expected = [1, 0].map { folded.logits(Preprocessing.normalize(set.sequences[$0])) }
        #expect(written.count == 2)
        #expect(zip(written, expected).map { maximumDifference($0, $1) }.max()! < 1e-3)
    }

    @Test("hear trace: a table per stage, JSON and SVG written, the debug mode said; bad options refused",
          .enabled(if: encryptedTests, "N = 2^14: release builds, or HEAR_SLOW_TESTS=1"))
    func traceCommand() throws {
        let directory = try temporaryDirectory("cli-trace")
        let json = directory.appendingPathComponent("trace.json"), svg = directory.appendingPathComponent("trace.svg")
        let run = try hear(["trace", "--model", "cnn1d-64", "--clip", "3", "--threads", "2", "--json", json.path, "--svg", svg.path])
        #expect(run.status == 0, "\(run.error)")
        #expect(run.error.contains("station-side debug mode") && run.output.contains("station-side debug mode"))
        let trace = try JSONDecoder().decode(ProgramTrace.self, from: Data(contentsOf: json))
        #expect(trace.model == "cnn1d-64" && trace.preset == "default" && !trace.steps.isEmpty)
        for step in trace.steps {
            #expect(abs(step.measuredBits - step.predictedBits) <= 1.5, "\(step.phase) \(step.name)")
            #expect(run.output.contains(step.name))
        }
        #expect(trace.networkScores.map { maximumDifference($0, trace.scores) < 1e-3 } == true)
        let parser = XMLParser(data: try Data(contentsOf: svg))
        #expect(parser.parse())
        #expect(try hear(["trace", "--clip", "608"]).status == 64)
        #expect(try hear(["trace", "--model", "cnn1d-64", "--bogus", "1"]).status == 64)
    }

    @Test("the three parties through files: keygen, encrypt, infer, decrypt, demo; each bad file refused with its reason",
          .enabled(if: encryptedTests, "N = 2^14: release builds, or HEAR_SLOW_TESTS=1"))
    func parties() throws {
        let directory = try temporaryDirectory("cli-parties")
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        let noData = ["HEAR_DATA": "/nonexistent/hear-data"]   // the embedded model and recordings only
        let keygen = try hear(["keygen", "--model", "default", "--out", path("keys")], environment: noData)
        #expect(keygen.status == 0, "\(keygen.error)")
        for file in ["keys/secret-key.hear", "keys/station.key"] {
            let mode = try FileManager.default.attributesOfItem(atPath: path(file))[.posixPermissions] as? NSNumber
            #expect(mode?.intValue == 0o600, "\(file)")
        }
        let stationLine = keygen.output.split(separator: "\n").first { $0.hasPrefix("station   ") }
        let station = try #require(stationLine?.split(separator: " ").dropFirst().first.map(String.init))
        let stationKey = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path("keys/station.key"))))
        let seedHex = hexString(stationKey[18..<50])   // "HEARIDKY" · version · role · name length · "station" · seed
        #expect(station.count == 32 && !keygen.output.contains(seedHex) && !keygen.error.contains(seedHex))
        for (role, name) in [("camera", "kitchen"), ("cloud", "cloud-1")] {
            let enroll = try hear(["enroll", "--role", role, "--name", name, "--out", path(role)])
            #expect(enroll.status == 0 && enroll.output.contains("'\(name)', fingerprint "), "\(enroll.error)")
            // encrypt/infer before the certificate is installed: refused with the command that fixes it
            let certify = try hear(["certify", "--keys", path("keys"), "--device", path("\(role)/identity.pub"), "--out", path("\(role)/certificate.hear")])
            #expect(certify.status == 0 && certify.output.contains("certified"), "\(certify.error)")
        }
        let clip = path("fall.csv")
        #expect(try hear(["synth", "--recording", "fall", "--frames", "50", "--seed", "77", "--out", clip]).status == 0)
        let encrypt = try hear(["encrypt", "--device", path("camera"), "--trust", station, "--public-key", path("keys/public-key.hear"),
                                "--input", clip, "--out", path("in.hear")])
        #expect(encrypt.status == 0 && encrypt.output.contains("50 frames") && encrypt.output.contains("sequence number 1"), "\(encrypt.error)")
        #expect(encrypt.error.contains("pinned station \(station)"))
        let infer = try hear(["infer", "--device", path("cloud"), "--model", "default", "--eval-keys", path("keys/evaluation-keys.hear"),
                              "--in", path("in.hear"), "--out", path("out.hear"), "--threads", "2"], environment: noData)
        #expect(infer.status == 0, "\(infer.error)")
        let raw = try hear(["decrypt", "--secret-key", path("keys/secret-key.hear"), "--in", path("out.hear"), "--raw"])
        #expect(raw.status == 0 && raw.output.contains("scores    clap ") && raw.error.contains("warning"), "\(raw.error)")
        #expect(raw.output.contains("verified  camera 'kitchen'") && raw.output.contains("cloud server 'cloud-1'"))
        let plain = try hear(["classify", "--model", "default", "--keypoints", clip], environment: noData)
        let decided = raw.output.split(separator: "\n").first { $0.hasPrefix("decision  ") }?.split(separator: " ").dropFirst().first
        let expected = plain.output.split(separator: "\n").first { $0.hasPrefix("class     ") }?.split(separator: " ").dropFirst().first
        #expect(decided != nil && decided == expected, "\(raw.output) vs \(plain.output)")
        // the same result again: a replay
        let again = try hear(["decrypt", "--secret-key", path("keys/secret-key.hear"), "--in", path("out.hear")])
        #expect(again.status == 65 && again.error.contains("a replay, refused") && !again.output.contains("decision"), "\(again.error)")
        let inspect = try hear(["inspect", path("keys/secret-key.hear")])
        #expect(inspect.status == 0 && inspect.output.contains("a secret key") && inspect.output.contains("key set")
                && inspect.output.contains("signed    by a monitoring station"))

        // a dishonest cloud server, which holds a valid certificate: results it forged are refused by the station
        let cloudCredentials = try DeviceDirectory(URL(fileURLWithPath: path("cloud"))).credentials().credentials
        let trust = cloudCredentials.station
        let inputFile = try PartyStorage.read(URL(fileURLWithPath: path("in.hear")))
        let input = try SessionCiphertext(file: inputFile, kind: .inputCiphertext, source: "in.hear", trusting: trust)
        try PartyStorage.write(try SessionCiphertext.result(input.ciphertext, claimingInput: input).serialized(signedBy: cloudCredentials),
                               to: URL(fileURLWithPath: path("echo.hear")))
        let echo = try hear(["decrypt", "--secret-key", path("keys/secret-key.hear"), "--in", path("echo.hear"), "--state", path("state-2.json")])
        #expect(echo.status == 65 && echo.error.contains("echo.hear is at level 9") && echo.error.contains("not a result of this computation"),
                "\(echo.error)")
        #expect(!FileManager.default.fileExists(atPath: path("state-2.json")))

        // bad files: each its own message, a non-zero exit, no output left behind
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path("in.hear")))
        try bytes.prefix(5000).write(to: URL(fileURLWithPath: path("truncated.hear")))
        var corrupted = bytes
        corrupted[bytes.count / 2] ^= 0x40
        try corrupted.write(to: URL(fileURLWithPath: path("corrupted.hear")))
        try "x0,y0\n1,2,3\n".write(toFile: path("bad.csv"), atomically: true, encoding: .utf8)
        let inferBase = ["infer", "--device", path("cloud"), "--model", "default", "--eval-keys", path("keys/evaluation-keys.hear"),
                         "--out", path("never.hear")]
        let encryptBase = ["encrypt", "--device", path("camera"), "--out", path("never.hear")]
        #expect(try hear(["enroll", "--role", "camera", "--name", "stranger", "--out", path("stranger")]).status == 0)
        let cases: [([String], Int32, String)] = [
            (inferBase + ["--in", path("missing.hear")], 66, "missing.hear: no such file"),
            (inferBase + ["--in", path("truncated.hear")], 65, "the file is truncated"),
            (inferBase + ["--in", path("corrupted.hear")], 65, "the SHA-256 digest does not match"),
            (inferBase + ["--in", path("in.hear")], 65, "which was already accepted: a replay"),
            (["infer", "--device", path("cloud"), "--model", "default", "--eval-keys", path("keys/secret-key.hear"), "--in", path("in.hear"),
              "--out", path("never.hear")], 65, "holds a SECRET KEY"),
            (encryptBase + ["--public-key", path("keys/public-key.hear"), "--input", path("bad.csv")], 65, "bad.csv, line 2: expected 45 numbers"),
            (encryptBase + ["--public-key", path("keys/evaluation-keys.hear"), "--input", clip], 65, "holds evaluation keys, not a public key"),
            (encryptBase + ["--trust", String(repeating: "ab", count: 16), "--public-key", path("keys/public-key.hear"), "--input", clip],
             65, "not by the station abababababababababababababababab given with --trust"),
            (["encrypt", "--device", path("stranger"), "--public-key", path("keys/public-key.hear"), "--input", clip, "--out", path("never.hear")],
             65, "has no certificate.hear"),
            (["decrypt", "--secret-key", path("keys/secret-key.hear"), "--in", path("in.hear")], 65, "not a result ciphertext"),
            (["keygen", "--model", "default", "--out", path("keys")], 73, "the directory is not empty"),
        ]
        for (arguments, status, message) in cases {
            let run = try hear(arguments, environment: noData)
            #expect(run.status == status && run.error.contains(message), "\(arguments): \(run.error)")
            #expect(run.error.split(separator: "\n").count == 1, "\(run.error)")
        }
        let left = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        #expect(!left.contains("never.hear") && !left.contains { $0.contains("partial") }, "\(left)")

        // A real fall of the bundled test set through the three parties, from an empty directory.
        let fall = try hear(["encrypt", "--device", path("camera"), "--public-key", path("keys/public-key.hear"), "--clip", "164",
                             "--out", path("fall.hear")], environment: noData)
        #expect(fall.status == 0 && fall.output.contains("test clip 164") && fall.output.contains("label fall"), "\(fall.error)")
        let fallResult = try hear(["infer", "--device", path("cloud"), "--eval-keys", path("keys/evaluation-keys.hear"), "--in", path("fall.hear"),
                                   "--out", path("fall-result.hear"), "--threads", "2"], environment: noData)
        #expect(fallResult.status == 0, "\(fallResult.error)")
        let json = try hear(["decrypt", "--secret-key", path("keys/secret-key.hear"), "--in", path("fall-result.hear"), "--json"])
        #expect(json.status == 0, "\(json.error)")
        let object = try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any]
        #expect(object?["class"] as? String == "fall" && object?["alert"] as? Bool == true && object?["classIndex"] as? Int == 9,
                "\(json.output)")
        #expect(object?["camera"] as? String == "kitchen" && object?["sequence"] as? Int == 2, "\(json.output)")
        #expect(object?["scores"] == nil)
        let plainFall = try hear(["classify", "--clip", "164"], environment: noData)
        #expect(plainFall.output.contains("class     fall"), "\(plainFall.output)")

        // The demo on real test clips (bundled), each decided as labelled and as the plaintext network.
        let demo = try hear(["demo", "--threads", "2"], environment: noData)
        #expect(demo.status == 0, "\(demo.error)")
        for (clip, name) in [(164, "fall"), (381, "walk"), (98, "sit"), (426, "pick")] {
            #expect(demo.output.contains("[station] clip \(clip) (label \(name)): \(name) (confidence")
                    && demo.output.contains("(plaintext network: \(name);"), "\(clip) \(name): \(demo.output)")
        }
        #expect(demo.output.contains("4 of 4 encrypted decisions equal the label"))
    }

    @Test("hear evaluate --model default prints the paper's figures from the bundled data, without ../shared",
          .enabled(if: fullDataTests, "release builds or HEAR_SLOW_TESTS=1"))
    func paperFigures() throws {
        let run = try hear(["evaluate", "--model", "default"], environment: ["HEAR_DATA": "/nonexistent/hear-data"])
        #expect(run.status == 0, "\(run.error)")
        for line in ["accuracy            87.99 %", "fall sensitivity    86.21 %", "fall specificity    99.14 %",
                     "fall precision      83.33 %", "fall F1             84.75 %"] {
            #expect(run.output.contains(line), "\(line)")
        }
    }

    @Test("hear synth and hear train: synthetic clips in the test-set format, a trained model that loads, usage errors")
    func training() throws {
        let directory = try temporaryDirectory("cli-train")
        let inputs = directory.appendingPathComponent("test_inputs.csv")
        let synth = try hear(["synth", "--count", "20", "--out", inputs.path, "--seed", "2"])
        #expect(synth.status == 0, "\(synth.error)")
        let set = try HEARTestSet.load(directory: directory)
        #expect(set.count == 20 && set.labels == (0..<20).map { $0 % 10 })
        let out = directory.appendingPathComponent("model")
        let run = try hear(["train", "--architecture", "cnn1d-64", "--data", directory.path, "--folds", "2", "--fold", "1",
                            "--epochs", "1", "--batch-size", "5", "--seed", "3", "--out", out.path, "--threads", "2"])
        #expect(run.status == 0, "\(run.error)")
        for text in ["epoch    1/1", "loss", "validation", "fold 1: validation accuracy"] { #expect(run.output.contains(text), "\(text)") }
        let model = try HEARModel(contentsOf: out.appendingPathComponent("fold-1"))
        #expect(model.architecture.name == "cnn1d-64")
        // the binary form: one file, read back by --model
        let file = directory.appendingPathComponent("model.hearmodel")
        let binary = try hear(["train", "--architecture", "cnn1d-64", "--synthetic", "20", "--epochs", "1", "--batch-size", "10",
                               "--seed", "3", "--out", file.path])
        #expect(binary.status == 0, "\(binary.error)")
        let evaluated = try hear(["evaluate", "--model", file.path, "--data", directory.path])
        #expect(evaluated.status == 0 && evaluated.output.contains("accuracy"), "\(evaluated.error)")
        #expect(try hear(["train", "--architecture", "cnn1d-64", "--synthetic", "20", "--epochs", "1", "--seed", "3",
                          "--out", file.path]).status == 73)  // exists: not overwritten
        // usage errors, and an --out that would overwrite something, before any training
        for bad in [["--epochs", "1", "--seed", "1", "--out", "x"],
                    ["--architecture", "cnn1d-64", "--synthetic", "20", "--seed", "1", "--out", directory.appendingPathComponent("y").path],
                    ["--architecture", "cnn1d-64", "--data", directory.path, "--fold", "1", "--epochs", "1", "--seed", "1", "--out", "z"],
                    ["--architecture", "cnn3d-64", "--synthetic", "20", "--epochs", "1", "--seed", "1", "--out", "z"]] {
            #expect(try hear(["train"] + bad).status == 64, "\(bad)")
        }
        let occupied = try hear(["train", "--architecture", "cnn1d-64", "--synthetic", "20", "--epochs", "1", "--seed", "1",
                                 "--out", directory.path])
        #expect(occupied.status == 73 && occupied.error.contains("not an empty directory"))
        #expect(try hear(["synth", "--count", "0", "--out", inputs.path]).status == 64)
    }
}
