import Foundation
import HEAR
import HERing

/// SYNTHETIC skeleton clips: procedural 2-D kinematics of the 15 joints (`JointLayout`) over 32
/// frames for the ten classes, in the raw pixel format of the test set (a 320 × 240 image,
/// undetected joints at (0, 0)). Not recordings of people: a stick figure whose joint angles
/// follow a few hand-written functions of time per class, with varied body size, position,
/// speed, facing (camera mirroring), viewing angle, jitter and undetected joints. Deterministic
/// in the seed.
public struct SyntheticSkeletons: Sendable {
    public static let imageWidth = 320.0, imageHeight = 240.0
    public var seed: UInt64

    public init(seed: UInt64) { self.seed = seed }

    /// `count` clips, classes in turn (clip n has class n mod 10).
    public func clips(_ count: Int, parallelism: Parallelism = .allProcessors) -> LabelledClips {
        let sequences = parallelism.map(count) { clip($0, label: $0 % NetworkArchitecture.classCount) }
        return LabelledClips(sequences: sequences, labels: (0..<count).map { $0 % NetworkArchitecture.classCount })
    }

    /// Joint angles of one frame, in radians from "straight down", positive = towards the
    /// facing direction; `lean` tilts the torso forward from upright.
    struct Pose {
        var lean = 0.0
        var upperArm = (0.15, -0.15), forearm = (0.3, -0.1)  // (arm A, arm B)
        var thigh = (0.0, 0.0), shin = (0.0, 0.0)             // (leg A, leg B)
        /// Arms spread sideways (clap, wave): the angles act in the body's frontal plane.
        var armsFrontal = false
        var lift = 0.0       // jump height, body heights
        var advance = 0.0    // forward travel, body heights
    }

    /// Clip `index` of class `label`: `frames` frames spanning the same motion (32 as in the test
    /// set; more frames sample it more densely, as a faster camera would).
    public func clip(_ index: Int, label: Int, frames frameCount: Int = 32) -> SkeletonSequence {
        precondition(frameCount >= 2, "a clip has at least two frames")
        var seedBytes = [UInt8](repeating: 0, count: 32)
        withUnsafeBytes(of: seed.littleEndian) { for (i, b) in $0.enumerated() { seedBytes[i] = b } }
        withUnsafeBytes(of: UInt64(index).littleEndian) { for (i, b) in $0.enumerated() { seedBytes[8 + i] = b } }
        let g = ChaCha20(seed: seedBytes, domain: 0x5359_4e54_4845_5449)  // "SYNTHETI"
        func uniform(_ low: Double, _ high: Double) -> Double { low + (high - low) * Double(g.next() >> 11) * 0x1p-53 }
        func gaussian() -> Double {
            let u = max(uniform(0, 1), 1e-12), v = uniform(0, 1)
            return (-2 * log(u)).squareRoot() * cos(2 * Double.pi * v)
        }
        let height = uniform(70, 190)                       // head top to ankle, pixels
        let facing = uniform(0, 1) < 0.5 ? -1.0 : 1.0       // camera mirroring
        let view = uniform(0.25, 1)                          // 1: frontal, shoulders fully spread
        let speed = uniform(0.7, 1.4), phase = uniform(0, 2 * Double.pi)
        let onset = uniform(0.1, 0.55)                       // when a one-off movement starts
        let ground = uniform(max(height + 10, 150), 235)
        var startX = uniform(0.3, 0.7) * Self.imageWidth
        let jitter = 0.012 * height
        // which joints the detector misses for the whole clip
        var missing = Set<Int>()
        if uniform(0, 1) < 0.5 { missing.insert(2) }  // the pelvis is often not found
        if uniform(0, 1) < 0.15 { missing.formUnion(JointLayout.lowerLimbs) }
        for j in 0..<15 where uniform(0, 1) < 0.04 { missing.insert(j) }
        let frameDropout = uniform(0, 0.12)
        let travel: Double = [4: 1.6, 7: 0.7][label] ?? 0
        startX -= facing * travel * height * speed / 2

        func smoothstep(_ x: Double) -> Double { let t = min(max(x, 0), 1); return t * t * (3 - 2 * t) }
        func pose(_ t: Double) -> Pose {
            var p = Pose()
            switch label {
            case 0:  // clap: forearms meet in front of the chest, repeatedly
                let w = sin(2 * Double.pi * 2.5 * speed * t + phase)
                p.armsFrontal = true
                p.upperArm = (0.5 + 0.25 * w, 0.5 + 0.25 * w)
                p.forearm = (-0.9 - 0.5 * w, -0.9 - 0.5 * w)
            case 1:  // jump: crouch, take off, land
                let w = sin(2 * Double.pi * 1.5 * speed * t + phase)
                let air = max(0, w), crouch = max(0, -w)
                p.lift = 0.22 * air
                p.thigh = (0.8 * crouch, 0.8 * crouch)
                p.shin = (-0.7 * crouch, -0.7 * crouch)
                p.lean = 0.3 * crouch
                p.upperArm = (-0.3 + 2.4 * air, -0.3 + 2.4 * air)
                p.forearm = (p.upperArm.0 + 0.2, p.upperArm.1 + 0.2)
            case 2:  // pick: bend down to the floor and come back up
                let u = sin(Double.pi * min(max((t - onset) / 0.45, 0), 1))
                p.lean = 1.35 * u
                p.thigh = (-0.3 * u, -0.3 * u)
                p.shin = (0.2 * u, 0.2 * u)
                p.upperArm = (0.2 * u, 0.05 * u)
                p.forearm = (0.25 * u, 0.1 * u)
            case 3:  // pour: a forearm held forward tilts slowly
                let w = sin(2 * Double.pi * 0.6 * speed * t + phase)
                p.lean = 0.1
                p.upperArm = (0.9, 0.5)
                p.forearm = (1.6 + 0.5 * w, 1.3)
            case 4:  // run: wide leg swing, bent knees and elbows, forward lean
                let w = 2 * Double.pi * 2.6 * speed * t + phase
                p.lean = 0.2
                p.thigh = (0.7 * sin(w), -0.7 * sin(w))
                p.shin = (p.thigh.0 - 1.1 * max(0, -cos(w)) - 0.3, p.thigh.1 - 1.1 * max(0, cos(w)) - 0.3)
                p.upperArm = (-0.6 * sin(w), 0.6 * sin(w))
                p.forearm = (p.upperArm.0 + 1.4, p.upperArm.1 + 1.4)
                p.lift = 0.03 * abs(sin(w))
                p.advance = travel * speed * t
            case 5, 6:  // sit down / stand up
                var u = smoothstep((t - onset) / 0.35)
                if label == 6 { u = 1 - u }
                p.lean = 0.35 * u
                p.thigh = (1.5 * u, 1.45 * u)
                p.shin = (0.1 * u, 0.05 * u)
                p.upperArm = (0.15 + 0.4 * u, 0.1 + 0.4 * u)
                p.forearm = (0.3 + 0.8 * u, 0.2 + 0.8 * u)
            case 7:  // walk
                let w = 2 * Double.pi * 1.2 * speed * t + phase
                p.thigh = (0.35 * sin(w), -0.35 * sin(w))
                p.shin = (p.thigh.0 - 0.4 * max(0, -cos(w)), p.thigh.1 - 0.4 * max(0, cos(w)))
                p.upperArm = (-0.3 * sin(w), 0.3 * sin(w))
                p.forearm = (p.upperArm.0 + 0.25, p.upperArm.1 + 0.25)
                p.advance = travel * speed * t
            case 8:  // wave: one hand above the shoulder, the forearm swinging
                let w = sin(2 * Double.pi * 3.5 * speed * t + phase)
                p.armsFrontal = true
                p.upperArm = (2.2, 0.15)
                p.forearm = (2.9 + 0.5 * w, 0.1)
            default:  // fall: the body tips over and ends on the floor
                let u = smoothstep((t - onset) / 0.3)
                let direction = phase < Double.pi ? 1.0 : -1.0  // forward or backward
                p.lean = direction * 1.5 * u
                p.thigh = (direction * 0.3 * u - 0.2 * u, direction * 0.5 * u)
                p.shin = (p.thigh.0 + 0.3 * u, p.thigh.1 - 0.2 * u)
                p.upperArm = (direction * 1.8 * u, direction * 2.3 * u)
                p.forearm = (p.upperArm.0 + 0.3, p.upperArm.1 + 0.2)
            }
            return p
        }

        var frames: [SkeletonFrame] = []
        for f in 0..<frameCount {
            let p = pose(Double(f) / Double(frameCount - 1))
            // body frame: pelvis at the origin, y down, x towards the facing direction
            let h = height
            func offset(_ angle: Double, _ length: Double) -> (Double, Double) { (length * sin(angle), length * cos(angle)) }
            let torso = offset(Double.pi - p.lean, 0.30 * h)  // pelvis → neck: up, tilted forward by lean
            let neck = torso
            let headUp = offset(Double.pi - p.lean, 0.17 * h)
            let head = (neck.0 + headUp.0, neck.1 + headUp.1)
            // shoulders and hips spread sideways by the viewing angle (shown along x)
            let side = (cos(p.lean), sin(p.lean))
            let shoulderSpread = 0.11 * h * view, hipSpread = 0.07 * h * view
            let shoulderA = (neck.0 + shoulderSpread * side.0, neck.1 + shoulderSpread * side.1 * 0.2)
            let shoulderB = (neck.0 - shoulderSpread * side.0, neck.1 - shoulderSpread * side.1 * 0.2)
            let hipA = (hipSpread, 0.0), hipB = (-hipSpread, 0.0)
            func limb(_ root: (Double, Double), _ a1: Double, _ a2: Double, _ l1: Double, _ l2: Double, outward: Double)
                -> ((Double, Double), (Double, Double)) {
                // frontal arms swing sideways (outward sign), the others forward
                let s = outward
                let j1 = offset(a1, l1), j2 = offset(a2, l2)
                let mid = (root.0 + s * j1.0, root.1 + j1.1)
                return (mid, (mid.0 + s * j2.0, mid.1 + j2.1))
            }
            let armSignB = p.armsFrontal ? -1.0 : 1.0  // frontal arms swing away from the body on each side
            let (elbowA, wristA) = limb(shoulderA, p.upperArm.0, p.forearm.0, 0.16 * h, 0.15 * h, outward: 1)
            let (elbowB, wristB) = limb(shoulderB, p.upperArm.1, p.forearm.1, 0.16 * h, 0.15 * h, outward: armSignB)
            let (kneeA, ankleA) = limb(hipA, p.thigh.0, p.shin.0, 0.25 * h, 0.25 * h, outward: 1)
            let (kneeB, ankleB) = limb(hipB, p.thigh.1, p.shin.1, 0.25 * h, 0.25 * h, outward: 1)
            var body = [head, neck, (0.0, 0.0), shoulderA, elbowA, wristA, shoulderB, elbowB, wristB,
                        hipA, kneeA, ankleA, hipB, kneeB, ankleB]
            // stand on the ground: the lowest joint touches it; then lift, travel, facing
            let lowest = body.map(\.1).max()!
            body = body.map { ($0.0, $0.1 - lowest) }
            let originX = startX + facing * p.advance * h, originY = ground - p.lift * h
            var joints: [Keypoint] = []
            for (j, point) in body.enumerated() {
                let x = originX + facing * point.0 + jitter * gaussian()
                let y = originY + point.1 + jitter * gaussian()
                let inside = x > -15 && x < Self.imageWidth + 5 && y > -5 && y < Self.imageHeight + 10
                if missing.contains(j) || !inside || uniform(0, 1) < frameDropout {
                    joints.append(Keypoint(x: 0, y: 0, score: 0))
                } else {
                    joints.append(Keypoint(x: (x * 1000).rounded() / 1000, y: (y * 1000).rounded() / 1000,
                                           score: (uniform(0.3, 0.95) * 1000).rounded() / 1000))
                }
            }
            frames.append(SkeletonFrame(joints: joints))
        }
        return SkeletonSequence(frames: frames)
    }
}

extension LabelledClips {
    /// The clips as rows of the test set's `test_inputs.csv` (32 frames × 15 joints × x, y,
    /// score) and the labels as its `test_labels.csv`.
    public var testSetFormat: (inputs: String, labels: String) {
        let inputs = sequences.map { sequence in
            sequence.frames.map { frame in
                frame.joints.map { String(format: "%.3f,%.3f,%.3f", $0.x, $0.y, $0.score) }.joined(separator: ",")
            }.joined(separator: ",")
        }.joined(separator: "\n") + "\n"
        return (inputs, labels.map(String.init).joined(separator: "\n") + "\n")
    }
}
