import Foundation
import Testing
import HEAR

/// The bundled paper data and its formats: exact against the CSV files, every damage refused.
@Suite("the bundled paper data")
struct BundleTests {
    @Test("bundle = the paper's CSV files, bit for bit (test set and the three models)", .enabled(if: sharedDataPresent, sharedCSVMessage))
    func bitIdentical() throws {
        let csv = try HEARTestSet.load(directory: sharedDataDirectory)
        let bundled = try #require(paperTestSet)
        #expect(bundled.labels == csv.labels)
        #expect(bundled.sequences.count == csv.sequences.count)
        var different = 0
        for (a, b) in zip(bundled.sequences, csv.sequences) {
            for (p, q) in zip(a.frames.flatMap(\.joints), b.frames.flatMap(\.joints))
            where p.x.bitPattern != q.x.bitPattern || p.y.bitPattern != q.y.bitPattern || p.score.bitPattern != q.score.bitPattern {
                different += 1
            }
        }
        #expect(different == 0)
        for name in PaperData.modelNames {
            let fromCSV = try HEARModel(contentsOf: sharedDataDirectory.appendingPathComponent("models/\(name)"))
            let fromBundle = try paperModel(name)
            #expect(fromBundle.name == fromCSV.name && fromBundle.classNames == fromCSV.classNames)
            #expect(fromBundle.batchNormEpsilon.bitPattern == fromCSV.batchNormEpsilon.bitPattern)
            for (tensor, _) in fromCSV.architecture.tensorShapes {
                #expect(fromBundle.tensors[tensor]!.values.map(\.bitPattern) == fromCSV.tensors[tensor]!.values.map(\.bitPattern), "\(name) \(tensor)")
            }
            #expect(fromBundle.fingerprint == fromCSV.fingerprint)
        }
    }

    @Test("the bundled test set: 608 clips of 32 frames, 29 falls, labels of every class")
    func testSet() throws {
        let set = try #require(paperTestSet)
        #expect(set.count == 608 && set.sequences.allSatisfy { $0.frames.count == 32 })
        #expect(set.labels.filter { $0 == HEARTestSet.fallClass }.count == 29)
        #expect(Set(set.labels) == Set(0..<10))
        #expect(set.sequences[0].frames[0].joints[1] == Keypoint(x: 147, y: 100, score: 0.717))
    }

    @Test("exact decimals: m / 10^k reproduces the parsed double", arguments: [
        "0.06649889", "-0.0193193443", "1e-05", "146.711", "0", "-2.2726073", "12.0", "3.4028235e+38", "7e-20",
    ])
    func decimals(text: String) throws {
        let value = try #require(Double(text))
        if abs(value) > 1e10 {  // more than 31 bits of mantissa: stored as a double instead
            #expect(DecimalExact.decompose(value) == nil)
            return
        }
        let (m, k) = try #require(DecimalExact.decompose(value))
        #expect(DecimalExact.value(mantissa: Int64(m), exponent: Int(k)).bitPattern == value.bitPattern)
    }

    @Test("exact decimals: values that are no short decimal are refused (and then stored as doubles)")
    func notDecimals() {
        for value in [1.0 / 3, .pi, -0.0, .nan, .infinity, 1e-30] { #expect(DecimalExact.decompose(value) == nil, "\(value)") }
        // random 8-digit decimals, parsed by the C library, all reproduced
        var seed: UInt64 = 12345
        for _ in 0..<2000 {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            let mantissa = Int(seed >> 37) % 100_000_000 - 50_000_000, exponent = Int(seed >> 20) % 12
            let value = Double("\(mantissa)e-\(exponent)")!
            let (m, k) = DecimalExact.decompose(value)!
            #expect(DecimalExact.value(mantissa: Int64(m), exponent: Int(k)).bitPattern == value.bitPattern)
        }
    }

    @Test("the model format: version 2 round trip (decimal and double tensors), version 1 still read")
    func modelFormat() throws {
        let paper = try paperModel("cnn1d-64")
        let random = HEARModel.randomlyInitialized(architecture: paper.architecture, seed: 9)
        for model in [paper, random] {
            let back = try HEARModel(binary: model.binaryRepresentation)
            #expect(back.tensors == model.tensors && back.name == model.name && back.fingerprint == model.fingerprint)
        }
        // decimal tensors take 5 bytes a value, doubles 8
        let values = paper.architecture.tensorShapes.reduce(0) { $0 + Tensor.elementCount(of: $1.shape) }
        #expect(paper.binaryRepresentation.count < 5 * values + 10_000)
        let convolution = Tensor.elementCount(of: [256, 128, 3])  // conv3: Xavier-uniform doubles
        #expect(random.binaryRepresentation.count > 8 * convolution)
        // version 1: magic, 1, manifest, doubles
        let v2 = [UInt8](random.binaryRepresentation)
        let jsonCount = Int(v2[12]) | Int(v2[13]) << 8 | Int(v2[14]) << 16
        var v1 = Array(v2[0..<(16 + jsonCount)])
        v1[8] = 1
        for (name, _) in random.architecture.tensorShapes {
            for value in random.tensors[name]!.values { v1 += (0..<8).map { UInt8(truncatingIfNeeded: value.bitPattern >> (8 * $0)) } }
        }
        #expect(try HEARModel(binary: Data(v1)).tensors == random.tensors)
    }

    @Test("the model format: every truncation and a flipped bit anywhere are refused with a reason, never a crash")
    func modelDamage() throws {
        let bytes = [UInt8](try paperModel("cnn1d-64").binaryRepresentation)
        for length in [0, 5, 8, 12, 16, 100, bytes.count / 2, bytes.count - 33, bytes.count - 1] {
            expectError(ModelError.self, sayingOneOf: ["not a HEAR binary model", "the SHA-256 digest does not match", "the file is truncated"]) { try HEARModel(binary: Data(bytes.prefix(length))) }
        }
        for position in stride(from: 0, to: bytes.count, by: 9973) + [bytes.count - 1] {
            var damaged = bytes
            damaged[position] ^= 0x10
            #expect(throws: ModelError.self, "byte \(position)") { try HEARModel(binary: Data(damaged)) }
        }
        expectError(ModelError.self, saying: "the SHA-256 digest does not match") { try HEARModel(binary: Data(bytes + [0])) }
    }

    @Test("the clip format: round trip, more decimals refused on writing, damage refused on reading")
    func clipFormat() throws {
        let set = try #require(paperTestSet)
        let small = HEARTestSet(sequences: Array(set.sequences[0..<20]), labels: Array(set.labels[0..<20]))
        let bytes = [UInt8](try ClipBundle.encode(small))
        let back = try ClipBundle.decode(Data(bytes), source: "small")
        #expect(back.labels == small.labels && back.sequences == small.sequences)
        var finer = small
        finer.sequences[3].frames[5].joints[2].x = 100.0001
        expectError(DataError.self, saying: "clip 3: the value 100.0001 has more than 3 decimals") { try ClipBundle.encode(finer) }
        for length in [0, 8, 11, 40, bytes.count / 2, bytes.count - 1] {
            expectError(DataError.self, sayingOneOf: ["not a HEAR clip file", "the SHA-256 digest does not match", "the file is truncated"]) { try ClipBundle.decode(Data(bytes.prefix(length)), source: "t") }
        }
        for position in stride(from: 0, to: bytes.count, by: 997) {
            var damaged = bytes
            damaged[position] ^= 0x01
            #expect(throws: DataError.self, "byte \(position)") { try ClipBundle.decode(Data(damaged), source: "t") }
        }
    }

    @Test("the demo's clips are classified as labelled by the plaintext network")
    func demoClips() throws {
        let set = try #require(paperTestSet)
        let model = try paperModel("cnn2d-64")
        let clips = [164, 381, 98, 426]  // hear demo's default clips
        #expect(Set(clips.map { set.labels[$0] }).contains(HEARTestSet.fallClass))
        for clip in clips {
            #expect(predictedClass(model.referenceLogits(Preprocessing.normalize(set.sequences[clip]))) == set.labels[clip], "clip \(clip)")
        }
    }
}
