import Foundation
import HEARCrypto

/// The compact binary form of a labelled clip set (the bundled test set, `test-set.hearclips`):
///
///     "HEARCLIP" · version (UInt32 LE, 1) · clips C · frames F (32) · values per frame V (45)
///     · decimals d (UInt32 LE each)
///     · C labels (one byte each, class index 0…9)
///     · payload length L (UInt32 LE) · L bytes of payload
///     · SHA-256 of every byte before it (32 bytes)
///
/// The payload holds every value of every clip in the order of `test_inputs.csv` (clip, frame,
/// joint, then x, y, score) as an integer m with value = m / 10^d (`DecimalExact`; the paper's
/// coordinates have three decimals), each stored as the zigzag LEB128 varint of m minus the same
/// joint's m one frame earlier (0 before the first frame). Joints move little between frames,
/// so most differences take one or two bytes: 1.37 MB for the 608 clips, against 6.1 MB of CSV.
/// Exact: the values read back are those a decimal parser reads from the CSV, bit for bit.
public enum ClipBundle {
    static let magic = Array("HEARCLIP".utf8)
    /// The format version written and read.
    public static let version: UInt32 = 1
    /// The largest clip file read.
    public static let maximumBytes = 256 << 20

    /// Encodes a test set whose values all have at most `decimals` decimals; throws when one has
    /// more (the format would not be exact).
    public static func encode(_ testSet: HEARTestSet, decimals: Int = 3) throws(DataError) -> Data {
        precondition((0...9).contains(decimals))
        let scale = DecimalExact.powersOfTen[decimals]
        var payload: [UInt8] = []
        for (c, sequence) in testSet.sequences.enumerated() {
            guard sequence.frames.count == ActionInput.frames else {
                throw .inconsistent(path: "clip \(c)", reason: "\(sequence.frames.count) frames, the format holds \(ActionInput.frames)")
            }
            var previous = [Int64](repeating: 0, count: SkeletonFrame.valuesPerFrame)
            for frame in sequence.frames {
                for (j, joint) in frame.joints.enumerated() {
                    for (i, value) in [joint.x, joint.y, joint.score].enumerated() {
                        let scaled = (value * scale).rounded()
                        guard abs(scaled) < 0x1p52, DecimalExact.value(mantissa: Int64(scaled), exponent: decimals).bitPattern == value.bitPattern else {
                            throw .inconsistent(path: "clip \(c)", reason: "the value \(value) has more than \(decimals) decimals")
                        }
                        let m = Int64(scaled), slot = 3 * j + i
                        payload.appendVarint(zigzag(m - previous[slot]))
                        previous[slot] = m
                    }
                }
            }
        }
        var bytes = magic
        for word in [version, UInt32(testSet.count), UInt32(ActionInput.frames), UInt32(SkeletonFrame.valuesPerFrame), UInt32(decimals)] {
            bytes.appendLittleEndian(word)
        }
        bytes += testSet.labels.map { UInt8($0) }
        bytes.appendLittleEndian(UInt32(payload.count))
        bytes += payload
        bytes += SHA256.hash(bytes)
        return Data(bytes)
    }

    /// Decodes and validates: magic, version, the digest, the shape (32 frames of 45 values),
    /// the labels, and a payload that holds exactly the values it should. `source` names the file.
    public static func decode(_ data: Data, source: String) throws(DataError) -> HEARTestSet {
        func damaged(_ reason: String) -> DataError { .inconsistent(path: source, reason: reason) }
        guard data.count <= maximumBytes else { throw damaged("\(data.count) bytes is more than a clip file this build reads") }
        var bytes = [UInt8](data)
        var reader = ByteReader(bytes)
        guard let head = reader.take(8), Array(head) == magic else { throw damaged("not a HEAR clip file (no HEARCLIP header)") }
        guard let fileVersion = reader.uint32() else { throw damaged("the file is truncated") }
        guard fileVersion == version else { throw damaged("clip file version \(fileVersion), this build reads \(version)") }
        if let problem = removeTrailingDigest(&bytes, minimum: 32) { throw damaged(problem) }
        reader = ByteReader(bytes, offset: 12)
        guard let count = reader.uint32().map(Int.init), let frames = reader.uint32(), let perFrame = reader.uint32(),
              let decimals = reader.uint32() else { throw damaged("the file is truncated") }
        guard count > 0, count <= 1_000_000 else { throw damaged("\(count) clips") }
        guard frames == UInt32(ActionInput.frames), perFrame == UInt32(SkeletonFrame.valuesPerFrame) else {
            throw damaged("clips of \(frames) frames × \(perFrame) values, expected \(ActionInput.frames) × \(SkeletonFrame.valuesPerFrame)")
        }
        guard decimals <= 9 else { throw damaged("\(decimals) decimals") }
        guard let labelBytes = reader.take(count) else { throw damaged("the file is truncated in the labels") }
        let labels = labelBytes.map(Int.init)
        guard labels.allSatisfy(HEARTestSet.classNames.indices.contains) else { throw damaged("a label is not a class index 0…9") }
        guard let payloadCount = reader.uint32().map(Int.init), payloadCount == reader.remaining else {
            throw damaged("the payload length does not match the file")
        }
        let scale = Int(decimals)
        var sequences: [SkeletonSequence] = []
        sequences.reserveCapacity(count)
        for c in 0..<count {
            var previous = [Int64](repeating: 0, count: SkeletonFrame.valuesPerFrame)
            var frameList: [SkeletonFrame] = []
            frameList.reserveCapacity(ActionInput.frames)
            var values = [Double](repeating: 0, count: SkeletonFrame.valuesPerFrame)
            for _ in 0..<ActionInput.frames {
                for slot in 0..<SkeletonFrame.valuesPerFrame {
                    guard let z = reader.varint() else { throw damaged("clip \(c): the payload ends early or holds a bad number") }
                    let (m, overflow) = previous[slot].addingReportingOverflow(unzigzag(z))
                    guard !overflow, abs(m) < 1 << 52 else { throw damaged("clip \(c): a value out of range") }
                    previous[slot] = m
                    values[slot] = DecimalExact.value(mantissa: m, exponent: scale)
                }
                frameList.append(SkeletonFrame(values: values))
            }
            sequences.append(SkeletonSequence(frames: frameList))
        }
        guard reader.remaining == 0 else { throw damaged("\(reader.remaining) bytes after the last clip") }
        return HEARTestSet(sequences: sequences, labels: labels)
    }
}
