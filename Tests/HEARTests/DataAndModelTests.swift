import Foundation
import Testing
import HEAR

@Suite("skeleton data readers")
struct DataReaderTests {
    func write(_ text: String, _ name: String = "clip.csv") throws -> URL {
        let url = try temporaryDirectory("data").appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    func row(_ base: Double) -> String { (0..<45).map { "\(base + Double($0))" }.joined(separator: ",") }

    @Test("a keypoint CSV with a header, comments, blank lines and CRLF line ends")
    func keypointCSV() throws {
        let header = (0..<15).map { "x\($0),y\($0),s\($0)" }.joined(separator: ",")
        let url = try write("\(header)\r\n# recorded by camera 2\r\n\(row(1))\r\n\r\n\(row(100))\r\n")
        let clip = try KeypointCSV.read(from: url)
        #expect(clip.frames.count == 2)
        #expect(clip.frames[0].joints[0] == Keypoint(x: 1, y: 2, score: 3))
        #expect(clip.frames[1].joints[14] == Keypoint(x: 142, y: 143, score: 144))
        // The writer's output reads back the same.
        let copy = url.deletingLastPathComponent().appendingPathComponent("copy.csv")
        try KeypointCSV.write(clip, to: copy)
        #expect(try KeypointCSV.read(from: copy) == clip)
    }

    @Test("malformed keypoint rows name the line and the problem")
    func keypointErrors() throws {
        let short = try write("\(row(1))\n1,2,3\n")
        #expect(throws: DataError.malformedRow(path: short.path, line: 2,
                                               reason: "expected 45 numbers (x, y, score for 15 joints), found 3")) {
            try KeypointCSV.read(from: short)
        }
        let text = row(1).replacingOccurrences(of: ",7.0,", with: ",seven,")
        let wrong = try write("\(row(1))\n\n\(text)\n")
        #expect(throws: DataError.malformedRow(path: wrong.path, line: 3, reason: "column 7 is \"seven\", not a finite number")) {
            try KeypointCSV.read(from: wrong)
        }
        let empty = try write("# nothing\n")
        #expect(throws: DataError.inconsistent(path: empty.path, reason: "the file has no frames")) {
            try KeypointCSV.read(from: empty)
        }
        let missing = URL(fileURLWithPath: "/nonexistent/clip.csv")
        #expect(throws: DataError.cannotRead(path: missing.path, reason: "no such file")) {
            try KeypointCSV.read(from: missing)
        }
        let infinite = try write(row(1).replacingOccurrences(of: ",7.0,", with: ",inf,"))
        expectError(DataError.self, saying: "line 1: column 7 is \"inf\", not a finite number") { try KeypointCSV.read(from: infinite) }
    }

    @Test("test-set reader: shapes, labels in range, matching counts")
    func testSetErrors() throws {
        let directory = try temporaryDirectory("testset")
        let good = (0..<32).map { _ in row(1) }.joined(separator: ",")
        try "\(good)\n\(good)\n".write(to: directory.appendingPathComponent("test_inputs.csv"), atomically: true, encoding: .utf8)
        try "3\n9\n".write(to: directory.appendingPathComponent("test_labels.csv"), atomically: true, encoding: .utf8)
        let loaded = try HEARTestSet.load(directory: directory)
        #expect(loaded.count == 2 && loaded.labels == [3, 9] && loaded.sequences[1].frames.count == 32)

        let labels = directory.appendingPathComponent("test_labels.csv")
        try "3\n10\n".write(to: labels, atomically: true, encoding: .utf8)
        #expect(throws: DataError.malformedRow(path: labels.path, line: 2, reason: "\"10\" is not a class index 0…9")) {
            try HEARTestSet.load(directory: directory)
        }
        try "3\n".write(to: labels, atomically: true, encoding: .utf8)
        #expect(throws: DataError.inconsistent(path: labels.path, reason: "1 labels for 2 input rows in test_inputs.csv")) {
            try HEARTestSet.load(directory: directory)
        }
        let inputs = directory.appendingPathComponent("test_inputs.csv")
        try "\(good)\n\(row(1))\n".write(to: inputs, atomically: true, encoding: .utf8)
        #expect(throws: DataError.malformedRow(path: inputs.path, line: 2,
                                               reason: "expected 1440 numbers (32 frames × 15 joints × x, y, score), found 45")) {
            try HEARTestSet.load(directory: directory)
        }
    }

    @Test("the paper's test set (bundled): 608 clips, 29 falls")
    func paperData() throws {
        let testSet = try #require(paperTestSet)
        #expect(testSet.count == 608)
        #expect(testSet.labels.filter { $0 == HEARTestSet.fallClass }.count == 29)
        #expect(testSet.sequences.allSatisfy { $0.frames.count == 32 })
        // First value of the file: 146.711, 41.977, 0.894.
        #expect(testSet.sequences[0].frames[0].joints[0] == Keypoint(x: 146.711, y: 41.977, score: 0.894))
    }
}

@Suite("model files")
struct ModelFileTests {
    @Test("architectures: names, shapes and map sizes")
    func architectures() {
        let a = NetworkArchitecture(name: "cnn2d-128")!
        #expect(a.convolution == .twoD && a.filters == 128 && a.name == "cnn2d-128")
        #expect((0...3).map(a.channels) == [3, 128, 256, 512])
        #expect(a.inputSize(ofBlock: 1) == (16, 7) && a.inputSize(ofBlock: 2) == (8, 3))
        let b = NetworkArchitecture(name: "CNN1D-64")!
        #expect(b.inputSize(ofBlock: 2) == (1, 120) && b.inputShape == [3, 480])
        #expect(b.tensorShapes.first { $0.name == "conv2.weight" }!.shape == [128, 64, 3])
        #expect(b.tensorShapes.count == 29)
        #expect(NetworkArchitecture(name: "cnn3d-64") == nil && NetworkArchitecture(name: "cnn2d-0") == nil)
    }

    @Test("a written model reads back identically; init is deterministic in the seed")
    func roundTrip() throws {
        let directory = try temporaryDirectory("model").appendingPathComponent("cnn2d-64-init")
        let model = HEARModel.randomlyInitialized(architecture: NetworkArchitecture(name: "cnn2d-64")!, seed: 7)
        try model.write(to: directory)
        let loaded = try HEARModel(contentsOf: directory)
        #expect(loaded.tensors == model.tensors && loaded.architecture == model.architecture && loaded.name == model.name)
        let again = HEARModel.randomlyInitialized(architecture: model.architecture, seed: 7)
        let other = HEARModel.randomlyInitialized(architecture: model.architecture, seed: 8)
        #expect(again.tensors == model.tensors && other.tensors != model.tensors)
        // Xavier bound for conv2: √(6 / ((64 + 128)·9)) ≈ 0.0589; BN at the identity.
        let conv2 = model.tensors["conv2.weight"]!.values
        let bound = (6.0 / Double(192 * 9)).squareRoot()
        #expect(conv2.allSatisfy { abs($0) <= bound } && conv2.max()! > 0.9 * bound && conv2.min()! < -0.9 * bound)
        #expect(model.tensors["bn3.running_var"]!.values.allSatisfy { $0 == 1 })
        #expect(model.tensors["conv1.bias"]!.values.allSatisfy { $0 == 0 })
        // Writing over a non-empty directory is refused and changes nothing.
        expectError(ModelError.self, saying: "it exists and is not an empty directory (nothing was changed)") { try other.write(to: directory) }
        #expect(try HEARModel(contentsOf: directory).tensors == model.tensors)
    }

    /// A model directory copied from `source` with every file renamed to the original repository's
    /// convention, `<tensor>_torch.Size([d0, d1, …]).csv`, and no manifest.
    func originalNamesCopy(of source: URL, model: HEARModel) throws -> URL {
        let directory = try temporaryDirectory("original").appendingPathComponent("weights")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for (name, shape) in model.architecture.tensorShapes {
            let shown = name.hasPrefix("act") ? "[]" : "[\(shape.map(String.init).joined(separator: ", "))]"
            try FileManager.default.copyItem(at: source.appendingPathComponent("\(name).csv"),
                                             to: directory.appendingPathComponent("\(name)_torch.Size(\(shown)).csv"))
        }
        return directory
    }

    @Test("binary model form: exact round trip; truncated or corrupted data gives a clear error")
    func binaryForm() throws {
        let model = HEARModel.randomlyInitialized(architecture: NetworkArchitecture(name: "cnn1d-64")!, seed: 9)
        let data = model.binaryRepresentation
        let back = try HEARModel(binary: data)
        #expect(back.tensors == model.tensors && back.name == model.name && back.architecture == model.architecture)
        // at most 8 bytes per weight (5 for tensors of short decimals) plus a small header and the digest
        let weights = model.architecture.tensorShapes.reduce(0) { $0 + Tensor.elementCount(of: $1.shape) }
        #expect(data.count > 5 * weights && data.count < 8 * weights + 4096)
        for cut in [0, 7, 12, 20, 300, data.count - 1] {
            expectError(ModelError.self, sayingOneOf: ["not a HEAR binary model", "the SHA-256 digest does not match", "the file is truncated"]) { try HEARModel(binary: data.prefix(cut)) }
        }
        var wrongMagic = data
        wrongMagic[0] = 0x41
        expectError(ModelError.self, saying: "not a HEAR binary model (no HEARMODL header)") { try HEARModel(binary: wrongMagic) }
        var wrongVersion = data
        wrongVersion[8] = 3
        expectError(ModelError.self, saying: "binary model version 3, this build reads 1 and 2") { try HEARModel(binary: wrongVersion) }
        // version 1 (doubles, no digest) with the last weight NaN: refused by the model's checks
        let jsonCount = Int(data[12]) | Int(data[13]) << 8
        var notFinite = Array(data.prefix(16 + jsonCount))
        notFinite[8] = 1
        for (name, _) in model.architecture.tensorShapes {
            for value in model.tensors[name]!.values { notFinite += (0..<8).map { UInt8(truncatingIfNeeded: value.bitPattern >> (8 * $0)) } }
        }
        #expect(try HEARModel(binary: Data(notFinite)).tensors == model.tensors)
        for b in 0..<8 { notFinite[notFinite.count - 8 + b] = b == 7 ? 0x7F : 0xFF }
        expectError(ModelError.self, saying: "linear.bias: holds a value that is not a finite number") { try HEARModel(binary: Data(notFinite)) }
        expectError(ModelError.self, saying: "the SHA-256 digest does not match") { try HEARModel(binary: data + Data([0])) }
    }

    @Test("both file-name conventions load the same model")
    func fileNameConventions() throws {
        let source = try temporaryDirectory("convention").appendingPathComponent("m")
        let model = HEARModel.randomlyInitialized(architecture: NetworkArchitecture(name: "cnn1d-64")!, seed: 3)
        try model.write(to: source)
        let original = try originalNamesCopy(of: source, model: model)
        let loaded = try HEARModel(contentsOf: original)
        #expect(loaded.architecture == model.architecture && loaded.tensors == model.tensors)
    }

    @Test("the paper's models (bundled) load under both directory conventions")
    func paperModels() throws {
        for name in ["cnn2d-64", "cnn1d-64", "cnn1d-128"] {
            let model = try paperModel(name)
            #expect(model.architecture.name == name)
            let source = try temporaryDirectory("paper-\(name)").appendingPathComponent(name)
            try model.write(to: source)
            let loaded = try HEARModel(contentsOf: try originalNamesCopy(of: source, model: model))
            #expect(loaded.tensors == model.tensors)
        }
    }

    @Test("loader errors: missing tensor, wrong shape, wrong count, non-numeric cell, bad manifest")
    func loaderErrors() throws {
        let model = HEARModel.randomlyInitialized(architecture: NetworkArchitecture(name: "cnn1d-64")!, seed: 1)
        func fresh() throws -> URL {
            let url = try temporaryDirectory("errors").appendingPathComponent("cnn1d-64")
            try model.write(to: url)
            return url
        }
        // A missing tensor.
        var directory = try fresh()
        try FileManager.default.removeItem(at: directory.appendingPathComponent("bn2.running_var.csv"))
        #expect(throws: ModelError.missingTensor(name: "bn2.running_var", directory: directory.path)) {
            try HEARModel(contentsOf: directory)
        }
        // A manifest stating a wrong shape.
        directory = try fresh()
        let manifestURL = directory.appendingPathComponent("manifest.json")
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: manifestURL)) as! [String: Any]
        var shapes = json["tensors"] as! [String: [Int]]
        shapes["conv3.bias"] = [255]
        json["tensors"] = shapes
        try JSONSerialization.data(withJSONObject: json).write(to: manifestURL)
        #expect(throws: ModelError.shapeMismatch(name: "conv3.bias", expected: [256], found: [255], source: manifestURL.path)) {
            try HEARModel(contentsOf: directory)
        }
        // A file name stating a wrong shape (original convention).
        directory = try fresh()
        try FileManager.default.removeItem(at: directory.appendingPathComponent("manifest.json"))
        try FileManager.default.moveItem(at: directory.appendingPathComponent("linear.weight.csv"),
                                         to: directory.appendingPathComponent("linear.weight_torch.Size([10, 128]).csv"))
        #expect(throws: ModelError.shapeMismatch(name: "linear.weight", expected: [10, 256], found: [10, 128],
                                                 source: "its file name linear.weight_torch.Size([10, 128]).csv")) {
            try HEARModel(contentsOf: directory)
        }
        // Too few values.
        directory = try fresh()
        let bias = directory.appendingPathComponent("conv1.bias.csv")
        try (0..<63).map { _ in "0.5" }.joined(separator: "\n").write(to: bias, atomically: true, encoding: .utf8)
        #expect(throws: ModelError.valueCount(path: bias.path, expected: 64, found: 63)) { try HEARModel(contentsOf: directory) }
        // A non-numeric cell.
        try ((0..<10).map { _ in "0.5" } + ["0.5x"] + (0..<53).map { _ in "1" }).joined(separator: "\n")
            .write(to: bias, atomically: true, encoding: .utf8)
        #expect(throws: ModelError.malformedValue(path: bias.path, line: 11, reason: "column 1 is \"0.5x\", not a finite number")) {
            try HEARModel(contentsOf: directory)
        }
        // A negative running variance.
        directory = try fresh()
        try (["-1"] + (0..<63).map { _ in "1" }).joined(separator: "\n")
            .write(to: directory.appendingPathComponent("bn1.running_var.csv"), atomically: true, encoding: .utf8)
        #expect(throws: ModelError.invalidParameter(name: "bn1.running_var", reason: "a running variance is negative")) {
            try HEARModel(contentsOf: directory)
        }
        // A manifest that is not JSON, and a directory that does not exist.
        directory = try fresh()
        try "{ not json".write(to: directory.appendingPathComponent("manifest.json"), atomically: true, encoding: .utf8)
        expectError(ModelError.self, saying: "manifest.json: not a model manifest") { try HEARModel(contentsOf: directory) }
        #expect(throws: ModelError.cannotRead(path: "/nonexistent/model", reason: "no such directory")) {
            try HEARModel(contentsOf: URL(fileURLWithPath: "/nonexistent/model"))
        }
    }
}
