import Foundation

extension HEARModel {
    /// The magic bytes of the binary model format.
    static let binaryMagic = Array("HEARMODL".utf8)

    /// The compact binary form of the model (the embedded default model uses it):
    ///
    ///     "HEARMODL" · version (UInt32 LE, 1) · n (UInt32 LE) · n bytes of manifest JSON
    ///     · every tensor of `architecture.tensorShapes`, in that order, as little-endian
    ///       IEEE-754 doubles
    ///
    /// The manifest is the `manifest.json` of a model directory. Exact: the doubles are the
    /// weights bit for bit.
    public var binaryRepresentation: Data {
        var manifest = ModelManifest(name: name, convolution: architecture.convolution.rawValue, filters: architecture.filters,
                                     classes: classNames, input_shape: architecture.inputShape, batchnorm_eps: batchNormEpsilon,
                                     tensors: [:])
        for (tensorName, shape) in architecture.tensorShapes { manifest.tensors![tensorName] = shape }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = try! encoder.encode(manifest)
        var data = Data(Self.binaryMagic)
        withUnsafeBytes(of: UInt32(1).littleEndian) { data.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt32(json.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(json)
        for (tensorName, _) in architecture.tensorShapes {
            for value in tensors[tensorName]!.values {
                withUnsafeBytes(of: value.bitPattern.littleEndian) { data.append(contentsOf: $0) }
            }
        }
        return data
    }

    /// Reads the binary form, checking the magic, the version, the manifest, the architecture's
    /// shapes and the exact length. `source` names the file in errors.
    public init(binary data: Data, source: String = "the model file") throws(ModelError) {
        let bytes = [UInt8](data)
        func word(at offset: Int) -> UInt32 {
            UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24
        }
        guard bytes.count >= 16, Array(bytes[0..<8]) == Self.binaryMagic else {
            throw .invalidManifest(path: source, reason: "not a HEAR binary model (no HEARMODL header)")
        }
        guard word(at: 8) == 1 else { throw .invalidManifest(path: source, reason: "binary model version \(word(at: 8)), this build reads 1") }
        let jsonCount = Int(word(at: 12))
        guard jsonCount <= bytes.count - 16 else { throw .invalidManifest(path: source, reason: "truncated manifest") }
        let manifest: ModelManifest
        do {
            manifest = try JSONDecoder().decode(ModelManifest.self, from: Data(bytes[16..<(16 + jsonCount)]))
        } catch {
            throw .invalidManifest(path: source, reason: "manifest: " + Self.describe(error))
        }
        guard let kind = manifest.convolution.flatMap(NetworkArchitecture.Convolution.init(rawValue:)),
              let filters = manifest.filters, filters > 0, filters <= 4096 else {
            throw .invalidManifest(path: source, reason: "the manifest needs a convolution (1d or 2d) and a filter count")
        }
        let architecture = NetworkArchitecture(convolution: kind, filters: filters)
        var offset = 16 + jsonCount
        let needed = architecture.tensorShapes.reduce(0) { $0 + 8 * Tensor.elementCount(of: $1.shape) }
        guard bytes.count - offset == needed else {
            throw .invalidManifest(path: source, reason: "\(bytes.count - offset) bytes of weights, \(architecture.name) needs \(needed)")
        }
        var tensors: [String: Tensor] = [:]
        for (tensorName, shape) in architecture.tensorShapes {
            if let stated = manifest.tensors?[tensorName], stated != shape {
                throw .shapeMismatch(name: tensorName, expected: shape, found: stated, source: source)
            }
            let count = Tensor.elementCount(of: shape)
            var values = [Double](repeating: 0, count: count)
            for i in 0..<count {
                var bits: UInt64 = 0
                for b in 0..<8 { bits |= UInt64(bytes[offset + 8 * i + b]) << (8 * UInt64(b)) }
                values[i] = Double(bitPattern: bits)
            }
            offset += 8 * count
            tensors[tensorName] = Tensor(shape: shape, values: values)
        }
        try self.init(architecture: architecture, tensors: tensors, name: manifest.name ?? architecture.name,
                      classNames: manifest.classes ?? HEARTestSet.classNames, batchNormEpsilon: manifest.batchnorm_eps ?? 1e-5)
    }
}
