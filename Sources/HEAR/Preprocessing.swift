/// Client-side preprocessing: a clip of any length becomes the 3 × 32 × 15 network input.
///
/// 1. `FrameSelection` reduces the clip to 32 frames (paper, Methods, "Data preprocessing").
/// 2. `Preprocessing.normalize` applies the transform the pretrained models were trained with:
///    the score channel is zeroed; for x and for y separately, the minimum of the strictly
///    positive entries is subtracted and the result divided by its maximum; entries that were 0
///    (undetected joints) stay 0.
public enum Preprocessing {
    /// Frame selection followed by normalisation.
    public static func input(for sequence: SkeletonSequence,
                             threshold: Double = FrameSelection.defaultThreshold) -> ActionInput {
        normalize(FrameSelection.select(sequence, threshold: threshold))
    }

    /// The network input of a 32-frame sequence.
    ///
    /// For each coordinate c ∈ {x, y} with entries v over all 32 × 15 joints:
    ///   m = min{ v : v > 0 },  v' = v − m for v ≠ 0 and v' = 0 for v = 0,  M = max v',  v'' = v' / M.
    /// The pose estimator occasionally places a joint just outside the image (a negative pixel
    /// coordinate, 280 of the test set's 875 520 values); such an entry is not 0, so it is
    /// shifted and scaled like the others and lands slightly below 0. When no entry is positive
    /// the channel is all zeros; when M = 0 (every nonzero entry equal to m) the channel is zeros
    /// as well (there is no spread to normalise, and 0/0 is not a number).
    public static func normalize(_ sequence: SkeletonSequence) -> ActionInput {
        precondition(sequence.frames.count == ActionInput.frames,
                     "normalize expects \(ActionInput.frames) frames; use FrameSelection.select first")
        let plane = ActionInput.frames * ActionInput.joints
        var values = [Double](repeating: 0, count: ActionInput.channels * plane)
        for channel in 0..<2 {
            let raw: [Double] = sequence.frames.flatMap { frame in frame.joints.map { channel == 0 ? $0.x : $0.y } }
            guard let minimum = raw.filter({ $0 > 0 }).min() else { continue }
            let shifted = raw.map { $0 == 0 ? 0 : $0 - minimum }
            let maximum = shifted.max()!
            guard maximum > 0 else { continue }
            for (index, v) in shifted.enumerated() { values[channel * plane + index] = v / maximum }
        }
        // Channel 2 (the detector scores) stays zero.
        return ActionInput(tensor: Tensor(shape: [ActionInput.channels, ActionInput.frames, ActionInput.joints], values: values))
    }
}

/// The paper's frame selection, which makes the network independent of the camera's frame rate.
///
/// The interchangeability score of a frame is the mean Euclidean distance, in pixels, between its
/// joints and the same joints in the previous kept frame (over the joints detected in both; a
/// frame with no joint in common scores 0, it carries no evidence of motion). While more than 32
/// frames remain, the frame with the lowest score is dropped if that score is below the
/// threshold (5 pixels), and the score of the frame after it is recomputed against its new
/// predecessor; ties go to the earlier frame and the first frame is always kept. A clip that
/// still has more than 32 frames once every remaining score reaches the threshold (fast motion)
/// is subsampled at evenly spaced positions; a clip shorter than 32 frames is stretched by
/// repeating frames at evenly spaced positions (nearest-neighbour resampling in time).
public enum FrameSelection {
    /// The default movement threshold: 5 pixels.
    public static let defaultThreshold = 5.0
    /// The fewest frames a recording should have: shorter clips are stretched to 32 frames by
    /// repeating frames, and the networks were trained on clips of 32 or more (the CLI warns).
    public static let recommendedMinimumFrames = 16

    /// The interchangeability score of `frame` after `previous`.
    public static func displacement(from previous: SkeletonFrame, to frame: SkeletonFrame) -> Double {
        var sum = 0.0
        var common = 0
        for (a, b) in zip(previous.joints, frame.joints) where a.isDetected && b.isDetected {
            let dx = b.x - a.x, dy = b.y - a.y
            sum += (dx * dx + dy * dy).squareRoot()
            common += 1
        }
        return common == 0 ? 0 : sum / Double(common)
    }

    /// The indices (into `sequence.frames`, increasing) of the selected frames.
    public static func selectedIndices(_ sequence: SkeletonSequence, count: Int = ActionInput.frames,
                                       threshold: Double = defaultThreshold) -> [Int] {
        precondition(count > 0, "select at least one frame")
        let frames = sequence.frames
        let n = frames.count
        precondition(n > 0, "a clip needs at least one frame")
        if n <= count {
            return (0..<count).map { $0 * n / count }
        }
        // Doubly linked list of kept frames; score[i] is against the previous kept frame.
        var previous = Array(-1..<(n - 1))
        var next = Array(1...n)
        var kept = [Bool](repeating: true, count: n)
        var score = [Double](repeating: .infinity, count: n)
        for i in 1..<n { score[i] = displacement(from: frames[i - 1], to: frames[i]) }
        var remaining = n
        while remaining > count {
            var lowest = -1
            for i in 1..<n where kept[i] && (lowest < 0 || score[i] < score[lowest]) { lowest = i }
            guard lowest > 0, score[lowest] < threshold else { break }
            kept[lowest] = false
            remaining -= 1
            let before = previous[lowest], after = next[lowest]
            next[before] = after
            if after < n {
                previous[after] = before
                score[after] = displacement(from: frames[before], to: frames[after])
            }
        }
        let survivors = (0..<n).filter { kept[$0] }
        if survivors.count == count { return survivors }
        return (0..<count).map { survivors[$0 * survivors.count / count] }
    }

    /// The selected frames as a sequence of exactly `count` frames.
    public static func select(_ sequence: SkeletonSequence, count: Int = ActionInput.frames,
                              threshold: Double = defaultThreshold) -> SkeletonSequence {
        SkeletonSequence(frames: selectedIndices(sequence, count: count, threshold: threshold).map { sequence.frames[$0] })
    }
}
