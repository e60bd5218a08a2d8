import Foundation

/// One detected body joint in one video frame: pixel coordinates and the detector's confidence.
/// The pose estimator writes `(0, 0)` for a joint it did not detect (paper, "Data preprocessing").
public struct Keypoint: Equatable, Sendable {
    /// Horizontal pixel coordinate.
    public var x: Double
    /// Vertical pixel coordinate.
    public var y: Double
    /// The detector's confidence.
    public var score: Double

    /// A joint at (x, y) with confidence `score`.
    public init(x: Double, y: Double, score: Double) {
        self.x = x
        self.y = y
        self.score = score
    }

    /// Whether the detector found this joint (the undetected marker is x = y = 0).
    public var isDetected: Bool { x != 0 || y != 0 }
}

/// The 15 MPII body joints of one frame, in the order of the paper's data (HRNet's MPII output:
/// ankles, knees, hips, shoulders, wrists, elbows, upper neck, head top, as the data set orders
/// them). Each joint contributes three numbers `x, y, score`, 45 per frame.
public struct SkeletonFrame: Equatable, Sendable {
    /// Joints per frame (the MPII layout).
    public static let jointCount = 15
    /// Numbers per frame in the CSV formats: x, y, score for every joint.
    public static let valuesPerFrame = 3 * jointCount

    /// The 15 joints in the MPII order.
    public var joints: [Keypoint]

    /// A frame of exactly 15 joints (precondition).
    public init(joints: [Keypoint]) {
        precondition(joints.count == SkeletonFrame.jointCount, "a frame has \(SkeletonFrame.jointCount) joints")
        self.joints = joints
    }

    /// A frame from 45 numbers `x0, y0, score0, x1, y1, score1, …`.
    public init<C: Collection>(values: C) where C.Element == Double {
        precondition(values.count == SkeletonFrame.valuesPerFrame, "a frame has \(SkeletonFrame.valuesPerFrame) values")
        let v = Array(values)
        self.joints = (0..<SkeletonFrame.jointCount).map { Keypoint(x: v[3 * $0], y: v[3 * $0 + 1], score: v[3 * $0 + 2]) }
    }

    /// The largest magnitude accepted for a coordinate or score: pixel coordinates of any real
    /// camera are far below it, and larger values would overflow the encoding (value × scale).
    public static let maximumMagnitude = 1e6

    /// Throws for a value outside ±`maximumMagnitude`, naming the line and column (from 1).
    static func checkRange(_ values: [Double], path: String, line: Int) throws(DataError) {
        if let column = values.firstIndex(where: { abs($0) > maximumMagnitude }) {
            throw .malformedRow(path: path, line: line, reason: "column \(column + 1) is \(values[column]), outside the range of "
                                + "pixel coordinates and scores (at most \(Int(maximumMagnitude)) in magnitude)")
        }
    }

    /// A frame in which no joint was detected.
    public static let empty = SkeletonFrame(joints: Array(repeating: Keypoint(x: 0, y: 0, score: 0), count: jointCount))
}

/// A recorded clip: any number of frames at any frame rate. `FrameSelection` reduces it to the
/// network's 32 frames, `Preprocessing` turns those into the network input.
public struct SkeletonSequence: Equatable, Sendable {
    /// The frames, in time order.
    public var frames: [SkeletonFrame]

    /// A clip of `frames`.
    public init(frames: [SkeletonFrame]) {
        self.frames = frames
    }
}

/// The network input: a 3 × 32 × 15 tensor (channels x, y, score; 32 frames as rows; 15 joints as
/// columns), normalised as the pretrained models expect. The 1D networks read the same values
/// as 3 × 480 (index = frame · 15 + joint), which is the same row-major array.
public struct ActionInput: Equatable, Sendable {
    /// Input channels: x, y, score.
    public static let channels = 3
    /// Frames the network reads.
    public static let frames = 32
    /// Joints per frame.
    public static let joints = SkeletonFrame.jointCount

    /// Shape `[3, 32, 15]`.
    public var tensor: Tensor

    /// An input from a tensor of shape `[3, 32, 15]` (precondition).
    public init(tensor: Tensor) {
        precondition(tensor.shape == [ActionInput.channels, ActionInput.frames, ActionInput.joints],
                     "an action input has shape [3, 32, 15]")
        self.tensor = tensor
    }

    /// The 1D networks' view, shape `[3, 480]`.
    public var flattenedFrames: Tensor { tensor.reshaped([ActionInput.channels, ActionInput.frames * ActionInput.joints]) }
}

/// Errors reading skeleton data. Each says which file and, for a bad row, which line and what is
/// wrong with it.
public enum DataError: Error, Equatable, CustomStringConvertible {
    /// The file could not be opened or is not UTF-8 text.
    case cannotRead(path: String, reason: String)
    /// A row that does not have the expected form (line numbers start at 1).
    case malformedRow(path: String, line: Int, reason: String)
    /// The file as a whole does not fit (no rows, counts that disagree with another file).
    case inconsistent(path: String, reason: String)

    /// The message a user reads: which file, which line, what is wrong.
    public var description: String {
        switch self {
        case let .cannotRead(path, reason): return "cannot read \(path): \(reason)"
        case let .malformedRow(path, line, reason): return "\(path), line \(line): \(reason)"
        case let .inconsistent(path, reason): return "\(path): \(reason)"
        }
    }
}

/// A per-frame keypoint CSV as a camera pipeline writes it: one frame per line, 45 numbers
/// (x, y, score for the 15 joints in the paper's order). Blank lines and lines starting with `#`
/// are ignored; the first line may be a header of column names.
public enum KeypointCSV {
    /// Reads a keypoint CSV file.
    /// - Throws: `DataError` naming the file and, for a bad row, the line.
    public static func read(from url: URL) throws(DataError) -> SkeletonSequence {
        try parse(NumericCSV(contentsOf: url), path: url.path)
    }

    /// The frames of a CSV file's bytes; `path` names it in errors.
    public static func parse(bytes: [UInt8], path: String) throws(DataError) -> SkeletonSequence {
        try parse(NumericCSV(bytes: bytes, path: path), path: path)
    }

    static func parse(_ csv: NumericCSV, path: String) throws(DataError) -> SkeletonSequence {
        var frames: [SkeletonFrame] = []
        var first = true
        for line in csv.lines {
            let cells = csv.cells(line.range)
            if csv.text(cells[0]).hasPrefix("#") { continue }
            defer { first = false }
            if first, cells.allSatisfy({ csv.number($0) == nil }) { continue }  // a header of column names
            let values = try csv.numbers(line: line)
            let number = line.number
            guard values.count == SkeletonFrame.valuesPerFrame else {
                let hint = values.count == ActionInput.frames * SkeletonFrame.valuesPerFrame
                    ? ": this is a row of 32 frames in the format of the paper's test_inputs.csv; add --row <i> to read one row" : ""
                throw .malformedRow(path: path, line: number,
                                    reason: "expected \(SkeletonFrame.valuesPerFrame) numbers (x, y, score for 15 joints), found \(values.count)\(hint)")
            }
            try SkeletonFrame.checkRange(values, path: path, line: number)
            frames.append(SkeletonFrame(values: values))
        }
        guard !frames.isEmpty else { throw .inconsistent(path: path, reason: "the file has no frames") }
        return SkeletonSequence(frames: frames)
    }

    /// Writes frames in the same format (a `# comment` line if given, a header line), atomically.
    public static func write(_ sequence: SkeletonSequence, to url: URL, comment: String? = nil) throws {
        var text = comment.map { "# \($0)\n" } ?? ""
        text += (0..<SkeletonFrame.jointCount).map { "x\($0),y\($0),score\($0)" }.joined(separator: ",") + "\n"
        for frame in sequence.frames {
            text += frame.joints.map { "\($0.x),\($0.y),\($0.score)" }.joined(separator: ",") + "\n"
        }
        try text.write(to: url, atomically: true, encoding: .utf8)
    }
}

/// The paper's test set (`test_inputs.csv`, `test_labels.csv`): 608 clips of 32 frames with their
/// class labels, in raw pixel coordinates.
public struct HEARTestSet: Sendable {
    /// The class names in label order (`fall` is 9).
    public static let classNames = ["clap", "jump", "pick", "pour", "run", "sit", "stand", "walk", "wave", "fall"]
    /// The index of `fall`, the class the monitoring station raises an alert for.
    public static let fallClass = 9

    /// The clips.
    public var sequences: [SkeletonSequence]
    /// The class index of each clip.
    public var labels: [Int]

    /// The number of clips.
    public var count: Int { labels.count }

    /// Clips with their class indices (one label per clip).
    public init(sequences: [SkeletonSequence], labels: [Int]) {
        precondition(sequences.count == labels.count, "one label per clip")
        self.sequences = sequences
        self.labels = labels
    }

    /// Reads `test_inputs.csv` (rows of 32 × 15 × 3 values) and `test_labels.csv` (one class
    /// index per row) from a directory.
    public static func load(directory: URL) throws(DataError) -> HEARTestSet {
        let inputsURL = directory.appendingPathComponent("test_inputs.csv")
        let labelsURL = directory.appendingPathComponent("test_labels.csv")
        var sequences: [SkeletonSequence] = []
        let inputs = try NumericCSV(contentsOf: inputsURL)
        for line in inputs.lines { sequences.append(try sequence(line, of: inputs, path: inputsURL.path)) }
        var labels: [Int] = []
        let labelFile = try NumericCSV(contentsOf: labelsURL)
        for line in labelFile.lines {
            let cell = labelFile.text(line.range).trimmingCharacters(in: .whitespaces)
            guard let label = Int(cell), classNames.indices.contains(label) else {
                throw .malformedRow(path: labelsURL.path, line: line.number,
                                    reason: "\"\(cell.prefix(40))\" is not a class index 0…\(classNames.count - 1)")
            }
            labels.append(label)
        }
        guard !sequences.isEmpty else { throw .inconsistent(path: inputsURL.path, reason: "the file has no rows") }
        guard labels.count == sequences.count else {
            throw .inconsistent(path: labelsURL.path,
                                reason: "\(labels.count) labels for \(sequences.count) input rows in \(inputsURL.lastPathComponent)")
        }
        return HEARTestSet(sequences: sequences, labels: labels)
    }

    /// One clip of a file in the format of `test_inputs.csv`: row `row` (from 0) of 32 frames.
    public static func sequence(row: Int, of url: URL) throws(DataError) -> SkeletonSequence {
        let inputs = try NumericCSV(contentsOf: url)
        guard row >= 0, row < inputs.lines.count else {
            throw .inconsistent(path: url.path, reason: "there is no row \(row): the file has \(inputs.lines.count) rows (0…\(inputs.lines.count - 1))")
        }
        return try sequence(inputs.lines[row], of: inputs, path: url.path)
    }

    /// A row of 32 × 15 × (x, y, score) numbers as a clip.
    static func sequence(_ line: (number: Int, range: Range<Int>), of csv: NumericCSV, path: String) throws(DataError) -> SkeletonSequence {
        let rowLength = ActionInput.frames * SkeletonFrame.valuesPerFrame
        let values = try csv.numbers(line: line)
        guard values.count == rowLength else {
            throw .malformedRow(path: path, line: line.number,
                                reason: "expected \(rowLength) numbers (32 frames × 15 joints × x, y, score), found \(values.count)")
        }
        try SkeletonFrame.checkRange(values, path: path, line: line.number)
        return SkeletonSequence(frames: (0..<ActionInput.frames).map { f in
            SkeletonFrame(values: values[(f * SkeletonFrame.valuesPerFrame)..<((f + 1) * SkeletonFrame.valuesPerFrame)])
        })
    }
}
