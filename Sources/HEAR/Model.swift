import Foundation
import HEARCrypto
import HERing

/// One of the paper's four networks: 1D or 2D convolutions, f ∈ {64, 128} filters in the first
/// layer (DESIGN §4, paper "Network architecture").
///
/// 2D-CNN-f: input 3 × 32 × 15; three blocks conv 3×3 (same padding, stride 1) → BN → act →
/// average pooling, with channels 3 → f → 2f → 4f and maps 32×15 → 16×7 → 8×3 (pooling 2×2,
/// stride 2, floor), the last block ending in global average pooling over 8×3; linear 4f → 10.
/// 1D-CNN-f: the same input read as 3 × 480; kernels of width 3, pooling 2 (480 → 240 → 120),
/// global average over 120. Internally a 1D network is a 2D one of height 1 (kernel 1 × 3,
/// pooling 1 × 2), which is exactly the same arithmetic.
public struct NetworkArchitecture: Hashable, Sendable, CustomStringConvertible {
    /// 1D (over frames) or 2D (over frames and joints).
    public enum Convolution: String, Sendable, CaseIterable {
        /// Convolutions over frames, the joints and coordinates as channels.
        case oneD = "1d"
        /// Convolutions over the frames × joints map.
        case twoD = "2d"
    }

    /// Classes the networks predict.
    public static let classCount = 10
    /// Convolution blocks of every network.
    public static let blockCount = 3

    /// 1D or 2D convolutions.
    public var convolution: Convolution
    /// Output channels of the first convolution (the paper's f).
    public var filters: Int

    /// An architecture with `filters` first-block channels (precondition: positive).
    public init(convolution: Convolution, filters: Int) {
        precondition(filters > 0, "a network needs at least one filter")
        self.convolution = convolution
        self.filters = filters
    }

    /// The paper's four networks.
    public static let all: [NetworkArchitecture] = [
        .init(convolution: .oneD, filters: 64), .init(convolution: .oneD, filters: 128),
        .init(convolution: .twoD, filters: 64), .init(convolution: .twoD, filters: 128),
    ]

    /// Parses `cnn1d-64`, `cnn2d-128`, … (any positive filter count).
    public init?(name: String) {
        let lower = name.lowercased()
        for kind in Convolution.allCases {
            let prefix = "cnn\(kind.rawValue)-"
            if lower.hasPrefix(prefix), let f = Int(lower.dropFirst(prefix.count)), f > 0, f <= 4096 {
                self.init(convolution: kind, filters: f)
                return
            }
        }
        return nil
    }

    /// `cnn1d-64`, `cnn2d-128`, ….
    public var name: String { "cnn\(convolution.rawValue)-\(filters)" }
    /// The name.
    public var description: String { name }

    /// Input channels of block t (t = 0, 1, 2) and the linear layer's input (t = 3): 3, f, 2f, 4f.
    public func channels(_ t: Int) -> Int { t == 0 ? 3 : filters << (t - 1) }

    /// Kernel (height, width): 3 × 3 in 2D, 1 × 3 in 1D.
    public var kernel: (height: Int, width: Int) { convolution == .twoD ? (3, 3) : (1, 3) }
    /// Pooling window and stride (height, width): 2 × 2 in 2D, 1 × 2 in 1D.
    public var pool: (height: Int, width: Int) { convolution == .twoD ? (2, 2) : (1, 2) }

    /// The input map of block t (height, width): 2D 32×15, 16×7, 8×3; 1D 1×480, 1×240, 1×120.
    public func inputSize(ofBlock t: Int) -> (height: Int, width: Int) {
        var size = convolution == .twoD ? (height: 32, width: 15) : (height: 1, width: 480)
        for _ in 0..<t { size = (size.height / pool.height, size.width / pool.width) }
        return size
    }

    /// The network input's shape as the model files state it: [3, 32, 15] or [3, 480].
    public var inputShape: [Int] { convolution == .twoD ? [3, 32, 15] : [3, 480] }

    /// Every tensor of the PyTorch state dict with its shape, in the order of the model.
    public var tensorShapes: [(name: String, shape: [Int])] {
        var shapes: [(String, [Int])] = []
        for t in 0..<NetworkArchitecture.blockCount {
            let i = t + 1, cin = channels(t), cout = channels(t + 1)
            let weight = convolution == .twoD ? [cout, cin, 3, 3] : [cout, cin, 3]
            shapes += [("conv\(i).weight", weight), ("conv\(i).bias", [cout]),
                       ("bn\(i).weight", [cout]), ("bn\(i).bias", [cout]),
                       ("bn\(i).running_mean", [cout]), ("bn\(i).running_var", [cout]),
                       ("act\(i).alpha", [1]), ("act\(i).beta", [1]), ("act\(i).c", [1])]
        }
        shapes += [("linear.weight", [NetworkArchitecture.classCount, channels(3)]),
                   ("linear.bias", [NetworkArchitecture.classCount])]
        return shapes
    }
}

/// Errors loading, validating or writing a model. Each names the file or tensor and what to do.
public enum ModelError: Error, Equatable, CustomStringConvertible {
    /// A file could not be read.
    case cannotRead(path: String, reason: String)
    /// The model's manifest is malformed.
    case invalidManifest(path: String, reason: String)
    /// An architecture name that is not `cnn1d-f` or `cnn2d-f`.
    case unknownArchitecture(String)
    /// A tensor the architecture needs has no file.
    case missingTensor(name: String, directory: String)
    /// A tensor's shape differs from the architecture's.
    case shapeMismatch(name: String, expected: [Int], found: [Int], source: String)
    /// A row of a tensor CSV file that does not parse (lines count from 1).
    case malformedValue(path: String, line: Int, reason: String)
    /// A tensor file with the wrong number of values.
    case valueCount(path: String, expected: Int, found: Int)
    /// A parameter outside its allowed range.
    case invalidParameter(name: String, reason: String)
    /// A file could not be written.
    case cannotWrite(path: String, reason: String)

    /// The message a user reads: which file and what is wrong.
    public var description: String {
        switch self {
        case let .cannotRead(path, reason): return "cannot read \(path): \(reason)"
        case let .invalidManifest(path, reason): return "\(path): \(reason)"
        case let .unknownArchitecture(name):
            return "unknown architecture \"\(name)\" (expected cnn1d-64, cnn1d-128, cnn2d-64 or cnn2d-128)"
        case let .missingTensor(name, directory):
            return "\(directory) has no file for tensor \(name) (expected \(name).csv or \(name)_torch.Size([…]).csv)"
        case let .shapeMismatch(name, expected, found, source):
            return "tensor \(name) has shape \(found) in \(source), the architecture needs \(expected)"
        case let .malformedValue(path, line, reason): return "\(path), line \(line): \(reason)"
        case let .valueCount(path, expected, found): return "\(path) holds \(found) values, its shape needs \(expected)"
        case let .invalidParameter(name, reason): return "\(name): \(reason)"
        case let .cannotWrite(path, reason): return "cannot write \(path): \(reason)"
        }
    }
}

/// The parameters of one convolution block: conv (weight, bias), batch normalisation with running
/// statistics, and the activation act(x) = α·x² + β·x + c.
public struct ConvolutionBlock: Sendable {
    /// Shape [out, in, kh, kw] (1D weights are given kh = 1).
    public var weight: Tensor
    /// The convolution's bias, one per output channel.
    public var bias: [Double]
    /// Batch normalisation's scale γ, per channel.
    public var bnWeight: [Double]
    /// Batch normalisation's shift β, per channel.
    public var bnBias: [Double]
    /// Batch normalisation's running mean, per channel.
    public var runningMean: [Double]
    /// Batch normalisation's running variance, per channel.
    public var runningVariance: [Double]
    /// α of the activation α·x² + β·x + c.
    public var alpha: Double
    /// β of the activation.
    public var beta: Double
    /// c of the activation.
    public var c: Double

    /// Output channels.
    public var outputChannels: Int { weight.shape[0] }
    /// Input channels.
    public var inputChannels: Int { weight.shape[1] }
}

/// A network with its weights: the paper's PyTorch state dict, by tensor name.
public struct HEARModel: Sendable {
    /// The network's shape.
    public var architecture: NetworkArchitecture
    /// The model's name (the manifest's, else the architecture's).
    public var name: String
    /// The class names, in score order.
    public var classNames: [String]
    /// Batch normalisation's ε.
    public var batchNormEpsilon: Double
    /// Tensors by state-dict name, in the shapes of `architecture.tensorShapes`.
    public private(set) var tensors: [String: Tensor]

    /// A model from its tensors; checks that every tensor is present with the right shape and
    /// that the values make sense (running variances ≥ 0).
    public init(architecture: NetworkArchitecture, tensors: [String: Tensor], name: String? = nil,
                classNames: [String] = HEARTestSet.classNames, batchNormEpsilon: Double = 1e-5) throws(ModelError) {
        for (tensorName, shape) in architecture.tensorShapes {
            guard let tensor = tensors[tensorName] else {
                throw .missingTensor(name: tensorName, directory: "the model")
            }
            guard tensor.shape == shape else {
                throw .shapeMismatch(name: tensorName, expected: shape, found: tensor.shape, source: "the model")
            }
            guard tensor.values.allSatisfy(\.isFinite) else {
                throw .invalidParameter(name: tensorName, reason: "holds a value that is not a finite number")
            }
        }
        for t in 1...NetworkArchitecture.blockCount where tensors["bn\(t).running_var"]!.values.contains(where: { $0 < 0 }) {
            throw .invalidParameter(name: "bn\(t).running_var", reason: "a running variance is negative")
        }
        guard classNames.count == NetworkArchitecture.classCount else {
            throw .invalidParameter(name: "classes", reason: "\(classNames.count) class names for \(NetworkArchitecture.classCount) outputs")
        }
        guard batchNormEpsilon >= 0, batchNormEpsilon.isFinite else {
            throw .invalidParameter(name: "batchnorm_eps", reason: "must be a finite number ≥ 0")
        }
        self.architecture = architecture
        self.name = name ?? architecture.name
        self.classNames = classNames
        self.batchNormEpsilon = batchNormEpsilon
        self.tensors = tensors.filter { key, _ in architecture.tensorShapes.contains { $0.name == key } }
    }

    /// Block t = 0, 1, 2 (the paper's conv1 … conv3).
    public func block(_ t: Int) -> ConvolutionBlock {
        let i = t + 1
        let kernel = architecture.kernel
        let weight = tensors["conv\(i).weight"]!
        return ConvolutionBlock(
            weight: weight.reshaped([weight.shape[0], weight.shape[1], kernel.height, kernel.width]),
            bias: tensors["conv\(i).bias"]!.values,
            bnWeight: tensors["bn\(i).weight"]!.values, bnBias: tensors["bn\(i).bias"]!.values,
            runningMean: tensors["bn\(i).running_mean"]!.values, runningVariance: tensors["bn\(i).running_var"]!.values,
            alpha: tensors["act\(i).alpha"]!.values[0], beta: tensors["act\(i).beta"]!.values[0], c: tensors["act\(i).c"]!.values[0])
    }

    /// The linear layer: weight [10, 4f] and bias [10].
    public var linearWeight: Tensor { tensors["linear.weight"]! }
    /// The linear layer's bias, one per class.
    public var linearBias: [Double] { tensors["linear.bias"]!.values }

    /// A 128-bit fingerprint of what the model computes: truncated SHA-256 over the
    /// architecture, the class names, the batch-norm ε and every tensor's name and values (IEEE
    /// bit patterns, in the order of `architecture.tensorShapes`). The name and the file format
    /// do not enter it, so a model renamed or converted between a directory and a `.hearmodel`
    /// file keeps it; any change of a weight changes it, and no other model can be made to match.
    public var fingerprint: Fingerprint {
        var hash = FingerprintHasher(domain: "HEAR model 1")
        hash.mix(architecture.name)
        hash.mix(classNames.count)
        classNames.forEach { hash.mix($0) }
        hash.mix(batchNormEpsilon)
        for (tensorName, _) in architecture.tensorShapes {
            hash.mix(tensorName)
            hash.mix(doubles: tensors[tensorName]!.values)
        }
        return hash.finalize()
    }
}

// MARK: - Model directories

/// `manifest.json` of a model directory (the format of `../shared/data/hear-paper/models`).
struct ModelManifest: Codable {
    var name: String?
    var convolution: String?
    var filters: Int?
    var classes: [String]?
    var input_shape: [Int]?
    var batchnorm_eps: Double?
    var tensors: [String: [Int]]?
}

extension HEARModel {
    /// Loads a model directory: `manifest.json` plus one CSV per tensor (`conv1.weight.csv`, …),
    /// or the original repository's files named like `conv1.weight_torch.Size([64, 3, 3, 3]).csv`,
    /// whose shape is read from the name. Without a manifest the architecture comes from the
    /// shape of `conv1.weight` in its file name, else from a directory name like `cnn1d-64`.
    /// CSV files hold the values in C order, separated by newlines or commas.
    public init(contentsOf directory: URL) throws(ModelError) {
        let fileNames: [String]
        do {
            fileNames = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        } catch {
            let exists = FileManager.default.fileExists(atPath: directory.path)
            throw .cannotRead(path: directory.path, reason: exists ? "not a readable directory" : "no such directory")
        }
        let directoryPath = directory.path

        // The manifest, when there is one.
        var manifest: ModelManifest?
        if fileNames.contains("manifest.json") {
            let path = directory.appendingPathComponent("manifest.json").path
            guard let data = FileManager.default.contents(atPath: path) else {
                throw .cannotRead(path: path, reason: "the file cannot be opened")
            }
            do {
                manifest = try JSONDecoder().decode(ModelManifest.self, from: data)
            } catch {
                throw .invalidManifest(path: path, reason: "not a model manifest (\(Self.describe(error)))")
            }
        }

        // Where each tensor lives, and the shape its file name states.
        func locate(_ tensorName: String) -> (file: String, namedShape: [Int]?)? {
            if fileNames.contains("\(tensorName).csv") { return ("\(tensorName).csv", nil) }
            let prefix = "\(tensorName)_torch.Size([", suffix = "]).csv"
            for file in fileNames.sorted() where file.hasPrefix(prefix) && file.hasSuffix(suffix) {
                let inner = file.dropFirst(prefix.count).dropLast(suffix.count)
                let parts = inner.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                let dims = parts.compactMap { Int($0) }
                if dims.count == parts.count, dims.allSatisfy({ $0 >= 0 }) { return (file, dims) }
            }
            return nil
        }

        // The architecture: the manifest, else the shape of conv1.weight, else the directory name.
        let manifestPath = directory.appendingPathComponent("manifest.json").path
        let architecture: NetworkArchitecture
        if let manifest, manifest.convolution != nil || manifest.filters != nil {
            guard let kind = manifest.convolution.flatMap(NetworkArchitecture.Convolution.init(rawValue:)),
                  let filters = manifest.filters, filters > 0, filters <= 4096 else {
                throw .invalidManifest(path: manifestPath,
                                       reason: "\"convolution\" must be \"1d\" or \"2d\" and \"filters\" a positive count")
            }
            architecture = NetworkArchitecture(convolution: kind, filters: filters)
        } else if let shape = locate("conv1.weight")?.namedShape, shape.count == 3 || shape.count == 4, shape[0] > 0 {
            architecture = NetworkArchitecture(convolution: shape.count == 4 ? .twoD : .oneD, filters: shape[0])
        } else if let named = NetworkArchitecture(name: directory.lastPathComponent) {
            architecture = named
        } else {
            throw .invalidManifest(path: directoryPath,
                                   reason: "cannot tell the architecture: add a manifest.json, use file names with shapes, or name the directory like cnn2d-64")
        }

        var tensors: [String: Tensor] = [:]
        for (tensorName, expected) in architecture.tensorShapes {
            guard let (file, namedShape) = locate(tensorName) else {
                throw .missingTensor(name: tensorName, directory: directoryPath)
            }
            let path = directory.appendingPathComponent(file).path
            // A scalar may be stored with shape [] as well as [1].
            func fits(_ shape: [Int]) -> Bool { shape == expected || (expected == [1] && shape.isEmpty) }
            if let stated = manifest?.tensors?[tensorName], !fits(stated) {
                throw .shapeMismatch(name: tensorName, expected: expected, found: stated, source: manifestPath)
            }
            if let namedShape, !fits(namedShape) {
                throw .shapeMismatch(name: tensorName, expected: expected, found: namedShape, source: "its file name \(file)")
            }
            let values = try Self.readValues(path: path)
            let needed = Tensor.elementCount(of: expected)
            guard values.count == needed else { throw .valueCount(path: path, expected: needed, found: values.count) }
            tensors[tensorName] = Tensor(shape: expected, values: values)
        }
        try self.init(architecture: architecture, tensors: tensors,
                      name: manifest?.name ?? architecture.name,
                      classNames: manifest?.classes ?? HEARTestSet.classNames,
                      batchNormEpsilon: manifest?.batchnorm_eps ?? 1e-5)
        if let shape = manifest?.input_shape, shape != architecture.inputShape {
            throw .shapeMismatch(name: "input", expected: architecture.inputShape, found: shape, source: manifestPath)
        }
    }

    static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context),
             DecodingError.keyNotFound(_, let context), DecodingError.dataCorrupted(let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? context.debugDescription : "\(path): \(context.debugDescription)"
        default:
            return "invalid JSON"
        }
    }

    /// The numbers of a tensor CSV (newline- or comma-separated, finite).
    static func readValues(path: String) throws(ModelError) -> [Double] {
        do {
            let csv = try NumericCSV(contentsOf: URL(fileURLWithPath: path))
            var values: [Double] = []
            for line in csv.lines { values += try csv.numbers(line: line) }
            return values
        } catch {
            switch error {
            case let .cannotRead(path, reason): throw .cannotRead(path: path, reason: reason)
            case let .malformedRow(path, line, reason): throw .malformedValue(path: path, line: line, reason: reason)
            case let .inconsistent(path, reason): throw .cannotRead(path: path, reason: reason)
            }
        }
    }

    /// Writes the model as a directory in the manifest format (`manifest.json` and one CSV per
    /// tensor, full double precision). The directory must not exist or be empty; the files are
    /// written to a temporary sibling first and moved into place at the end, so a failure leaves
    /// nothing half-written.
    public func write(to directory: URL) throws(ModelError) {
        let fm = FileManager.default
        let target = directory.standardizedFileURL
        if fm.fileExists(atPath: target.path) {
            let contents = (try? fm.contentsOfDirectory(atPath: target.path)) ?? ["?"]
            guard contents.isEmpty else {
                throw .cannotWrite(path: target.path, reason: "it exists and is not an empty directory (nothing was changed)")
            }
        }
        let staging = target.deletingLastPathComponent()
            .appendingPathComponent(".\(target.lastPathComponent).partial-\(ProcessInfo.processInfo.processIdentifier)")
        do {
            try? fm.removeItem(at: staging)
            try fm.createDirectory(at: staging, withIntermediateDirectories: true)
            var manifest = ModelManifest(name: name, convolution: architecture.convolution.rawValue,
                                         filters: architecture.filters, classes: classNames,
                                         input_shape: architecture.inputShape, batchnorm_eps: batchNormEpsilon,
                                         tensors: [:])
            for (tensorName, shape) in architecture.tensorShapes {
                manifest.tensors![tensorName] = shape
                let text = tensors[tensorName]!.values.map { "\($0)" }.joined(separator: "\n") + "\n"
                try text.write(to: staging.appendingPathComponent("\(tensorName).csv"), atomically: false, encoding: .utf8)
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(manifest).write(to: staging.appendingPathComponent("manifest.json"))
            if fm.fileExists(atPath: target.path) { try fm.removeItem(at: target) }  // empty, checked above
            try fm.moveItem(at: staging, to: target)
        } catch {
            try? fm.removeItem(at: staging)
            throw .cannotWrite(path: target.path, reason: error.localizedDescription)
        }
    }

    /// A model with fresh weights, as the paper's training code initialises them: convolution and
    /// linear weights Xavier-uniform, U(−b, b) with b = √(6 / (fan_in + fan_out)) where
    /// fan = channels × kernel area; biases 0; batch normalisation at the identity (weight 1,
    /// bias 0, running mean 0, running variance 1); activation coefficients α ∈ [0.5, 1.5),
    /// β ∈ [−0.5, 0.5), c ∈ [−0.5, 0.5). Deterministic in `seed` (a ChaCha20 stream): the
    /// benchmark model for 2D-CNN-128, whose trained weights were never published.
    public static func randomlyInitialized(architecture: NetworkArchitecture, seed: UInt64) -> HEARModel {
        var seedBytes = [UInt8](repeating: 0, count: 32)
        for i in 0..<8 { seedBytes[i] = UInt8(truncatingIfNeeded: seed >> (8 * UInt64(i))) }
        let generator = ChaCha20(seed: seedBytes, domain: 0x4845_4152_696E_6974)  // "HEARinit"
        func uniform(_ low: Double, _ high: Double) -> Double {
            low + (high - low) * Double(generator.next() >> 11) * 0x1p-53
        }
        var tensors: [String: Tensor] = [:]
        for (tensorName, shape) in architecture.tensorShapes {
            let count = Tensor.elementCount(of: shape)
            var values = [Double](repeating: 0, count: count)
            if tensorName.hasSuffix(".weight") && (tensorName.hasPrefix("conv") || tensorName.hasPrefix("linear")) {
                let receptive = shape.dropFirst(2).reduce(1, *)
                let bound = (6.0 / Double((shape[0] + shape[1]) * receptive)).squareRoot()
                for i in 0..<count { values[i] = uniform(-bound, bound) }
            } else if tensorName.hasSuffix("running_var") || (tensorName.hasPrefix("bn") && tensorName.hasSuffix(".weight")) {
                values = [Double](repeating: 1, count: count)
            } else if tensorName.hasSuffix(".alpha") {
                values = [uniform(0.5, 1.5)]
            } else if tensorName.hasSuffix(".beta") || tensorName.hasSuffix(".c") {
                values = [uniform(-0.5, 0.5)]
            }
            tensors[tensorName] = Tensor(shape: shape, values: values)
        }
        return try! HEARModel(architecture: architecture, tensors: tensors, name: "\(architecture.name)-init-seed\(seed)")
    }
}
