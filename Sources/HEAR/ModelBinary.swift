import Foundation
import HEARCrypto

extension HEARModel {
    /// The magic bytes of the binary model format.
    static let binaryMagic = Array("HEARMODL".utf8)
    /// The version this build writes; it reads 1 and 2.
    public static let binaryVersion: UInt32 = 2
    /// The largest model file read (a 2D-CNN-1024 is about 150 MB).
    public static let binaryMaximumBytes = 512 << 20

    /// How one tensor's values are stored in the binary form.
    enum TensorEncoding: UInt8 {
        /// IEEE-754 doubles, little-endian: 8 bytes a value.
        case doubles = 0
        /// `DecimalExact`: every value is m / 10^k (Int32 m, then one byte k per value): 5 bytes a
        /// value, chosen when every value of the tensor came from short decimal text.
        case decimal = 1
    }

    /// The compact binary form of the model (the `.hearmodel` files, the bundled models):
    ///
    ///     "HEARMODL" · version (UInt32 LE, 2) · n (UInt32 LE) · n bytes of manifest JSON
    ///     · for every tensor of `architecture.tensorShapes`, in that order:
    ///         encoding (1 byte: 0 doubles, 1 decimal)
    ///         doubles: count × IEEE-754 double, little-endian
    ///         decimal: count × Int32 LE mantissa m, then count × UInt8 power of ten k
    ///                  (the value is m / 10^k, `DecimalExact`)
    ///     · SHA-256 of every byte before it (32 bytes)
    ///
    /// Version 1 (still read) had no encoding bytes (doubles only) and no digest. The manifest is
    /// the `manifest.json` of a model directory. Exact either way: the values read back are the
    /// weights bit for bit.
    public var binaryRepresentation: Data {
        var manifest = ModelManifest(name: name, convolution: architecture.convolution.rawValue, filters: architecture.filters,
                                     classes: classNames, input_shape: architecture.inputShape, batchnorm_eps: batchNormEpsilon,
                                     tensors: [:])
        for (tensorName, shape) in architecture.tensorShapes { manifest.tensors![tensorName] = shape }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = try! encoder.encode(manifest)
        var bytes = Self.binaryMagic
        bytes.appendLittleEndian(Self.binaryVersion)
        bytes.appendLittleEndian(UInt32(json.count))
        bytes += json
        for (tensorName, _) in architecture.tensorShapes {
            let values = tensors[tensorName]!.values
            let decimals = values.map(DecimalExact.decompose)
            if decimals.allSatisfy({ $0 != nil }) {
                bytes.append(TensorEncoding.decimal.rawValue)
                for d in decimals { bytes.appendLittleEndian(d!.mantissa) }
                for d in decimals { bytes.append(d!.exponent) }
            } else {
                bytes.append(TensorEncoding.doubles.rawValue)
                for value in values { bytes.appendLittleEndian(value.bitPattern) }
            }
        }
        bytes += SHA256.hash(bytes)
        return Data(bytes)
    }

    /// Reads the binary form, checking the magic, the version, the digest (version 2), the
    /// manifest, the architecture's shapes, every encoding and the exact length. `source` names
    /// the file in errors.
    public init(binary data: Data, source: String = "the model file") throws(ModelError) {
        func invalid(_ reason: String) -> ModelError { .invalidManifest(path: source, reason: reason) }
        guard data.count <= Self.binaryMaximumBytes else {
            throw invalid("\(data.count) bytes is more than any model this build reads (\(Self.binaryMaximumBytes >> 20) MB)")
        }
        var bytes = [UInt8](data)
        var reader = ByteReader(bytes)
        guard let magic = reader.take(8), Array(magic) == Self.binaryMagic, let version = reader.uint32() else {
            throw invalid("not a HEAR binary model (no HEARMODL header)")
        }
        guard version == 1 || version == 2 else { throw invalid("binary model version \(version), this build reads 1 and 2") }
        if version == 2 {
            if let problem = removeTrailingDigest(&bytes, minimum: 16) { throw invalid(problem) }
            reader = ByteReader(bytes, offset: 12)
        }
        guard let jsonCount = reader.uint32().map(Int.init), let json = reader.take(jsonCount) else { throw invalid("truncated manifest") }
        let manifest: ModelManifest
        do {
            manifest = try JSONDecoder().decode(ModelManifest.self, from: Data(json))
        } catch {
            throw invalid("manifest: " + Self.describe(error))
        }
        guard let kind = manifest.convolution.flatMap(NetworkArchitecture.Convolution.init(rawValue:)),
              let filters = manifest.filters, filters > 0, filters <= 4096 else {
            throw invalid("the manifest needs a convolution (1d or 2d) and a filter count")
        }
        let architecture = NetworkArchitecture(convolution: kind, filters: filters)
        if version == 1 {
            let needed = architecture.tensorShapes.reduce(0) { $0 + 8 * Tensor.elementCount(of: $1.shape) }
            guard reader.remaining == needed else {
                throw invalid("\(reader.remaining) bytes of weights, \(architecture.name) needs \(needed)")
            }
        }
        var tensors: [String: Tensor] = [:]
        for (tensorName, shape) in architecture.tensorShapes {
            if let stated = manifest.tensors?[tensorName], stated != shape {
                throw .shapeMismatch(name: tensorName, expected: shape, found: stated, source: source)
            }
            let count = Tensor.elementCount(of: shape)
            var encoding = TensorEncoding.doubles
            if version == 2 {
                guard let byte = reader.uint8() else { throw invalid("truncated before tensor \(tensorName)") }
                guard let e = TensorEncoding(rawValue: byte) else { throw invalid("tensor \(tensorName): unknown encoding \(byte)") }
                encoding = e
            }
            var values = [Double](repeating: 0, count: count)
            switch encoding {
            case .doubles:
                guard let raw = reader.take(8 * count) else { throw invalid("truncated in tensor \(tensorName)") }
                raw.withUnsafeBytes { buffer in
                    for i in 0..<count { values[i] = Double(bitPattern: UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))) }
                }
            case .decimal:
                guard let mantissas = reader.take(4 * count), let exponents = reader.take(count) else {
                    throw invalid("truncated in tensor \(tensorName)")
                }
                guard exponents.allSatisfy({ Int($0) < DecimalExact.powersOfTen.count }) else {
                    throw invalid("tensor \(tensorName): a power of ten above 10^22")
                }
                let k = Array(exponents)
                mantissas.withUnsafeBytes { buffer in
                    for i in 0..<count {
                        let m = Int32(littleEndian: buffer.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self))
                        values[i] = DecimalExact.value(mantissa: Int64(m), exponent: Int(k[i]))
                    }
                }
            }
            tensors[tensorName] = Tensor(shape: shape, values: values)
        }
        guard reader.remaining == 0 else { throw invalid("\(reader.remaining) bytes after the last tensor") }
        try self.init(architecture: architecture, tensors: tensors, name: manifest.name ?? architecture.name,
                      classNames: manifest.classes ?? HEARTestSet.classNames, batchNormEpsilon: manifest.batchnorm_eps ?? 1e-5)
    }
}
