import HEAR
import HERing

/// The body-joint order of the data (HRNet's MPII output as the paper's files store it), read
/// from the test set's mean pose: 0 head top, 1 upper neck, 2 pelvis, 3–5 and 6–8 the two arms
/// (shoulder, elbow, wrist), 9–11 and 12–14 the two legs (hip, knee, ankle).
public enum JointLayout {
    /// Left/right pairs, swapped by a horizontal flip.
    public static let mirrorPairs = [(3, 6), (4, 7), (5, 8), (9, 12), (10, 13), (11, 14)]
    /// Knees and ankles: the joints a person sitting behind furniture or lying on the floor
    /// often loses.
    public static let lowerLimbs = [10, 11, 13, 14]
}

/// The paper's augmentations ("Training"), applied to a 32-frame clip and its network input:
/// horizontal flip with the left/right joints swapped, random removal of the lower-limb joints,
/// random scale and translation of the normalised coordinates. Undetected joints stay 0.
/// Deterministic in the generator's state.
public struct Augmentation: Sendable {
    public var flipProbability = 0.5
    public var lowerLimbRemovalProbability = 0.2
    /// Scale factors are drawn from [1 − scaleRange, 1 + scaleRange], per coordinate.
    public var scaleRange = 0.2
    /// Offsets are drawn from [−translationRange, translationRange], per coordinate.
    public var translationRange = 0.1

    public init() {}

    /// No augmentation at all.
    public static let none: Augmentation = {
        var a = Augmentation()
        a.flipProbability = 0
        a.lowerLimbRemovalProbability = 0
        a.scaleRange = 0
        a.translationRange = 0
        return a
    }()

    /// An augmented network input (flat [3][32][15]) of a 32-frame clip.
    public func input(_ sequence: SkeletonSequence, generator: inout ChaCha20) -> [Double] {
        var clip = sequence
        if uniform(&generator) < flipProbability {
            // x → (min + max) − x over the clip's detected joints (the mirror image within the same
            // pixel range, so the normalisation sees positive coordinates) and swap the sides
            let xs = clip.frames.flatMap { $0.joints.filter(\.isDetected).map(\.x) }.filter { $0 > 0 }
            let axis = (xs.min() ?? 0) + (xs.max() ?? 0)
            for f in clip.frames.indices {
                var joints = clip.frames[f].joints
                for j in joints.indices where joints[j].isDetected { joints[j].x = axis - joints[j].x }
                for (a, b) in JointLayout.mirrorPairs { joints.swapAt(a, b) }
                clip.frames[f].joints = joints
            }
        }
        if uniform(&generator) < lowerLimbRemovalProbability {
            for f in clip.frames.indices {
                for j in JointLayout.lowerLimbs { clip.frames[f].joints[j] = Keypoint(x: 0, y: 0, score: 0) }
            }
        }
        var values = Preprocessing.normalize(clip).tensor.values
        let plane = ActionInput.frames * ActionInput.joints
        for channel in 0..<2 {
            let scale = 1 + scaleRange * (2 * uniform(&generator) - 1)
            let offset = translationRange * (2 * uniform(&generator) - 1)
            guard scale != 1 || offset != 0 else { continue }
            for k in 0..<plane {
                let joint = clip.frames[k / ActionInput.joints].joints[k % ActionInput.joints]
                if joint.isDetected { values[channel * plane + k] = values[channel * plane + k] * scale + offset }
            }
        }
        return values
    }

    /// A uniform double in [0, 1).
    func uniform(_ generator: inout ChaCha20) -> Double { Double(generator.next() >> 11) * 0x1p-53 }
}
