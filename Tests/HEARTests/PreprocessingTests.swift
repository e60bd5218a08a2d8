import Foundation
import Testing
import HEAR

@Suite("client-side preprocessing")
struct PreprocessingTests {
    /// A 32-frame sequence whose joint j in frame f sits at the given function of (f, j), or is
    /// undetected where the function returns nil.
    func sequence(frames: Int = 32, _ position: (Int, Int) -> (Double, Double)?) -> SkeletonSequence {
        SkeletonSequence(frames: (0..<frames).map { f in
            SkeletonFrame(joints: (0..<SkeletonFrame.jointCount).map { j in
                position(f, j).map { Keypoint(x: $0.0, y: $0.1, score: 0.5) } ?? Keypoint(x: 0, y: 0, score: 0)
            })
        })
    }

    @Test("min-max per coordinate over the positive entries, zeros kept, scores zeroed")
    func normalizeKnownAnswer() {
        // x = 100 + 2f + j (range 100 … 176), y = 50 + f (range 50 … 81); joint 3 never detected,
        // joint 7 undetected in odd frames.
        let clip = sequence { f, j in
            if j == 3 || (j == 7 && f % 2 == 1) { return nil }
            return (Double(100 + 2 * f + j), Double(50 + f))
        }
        let input = Preprocessing.normalize(clip).tensor
        #expect(input.shape == [3, 32, 15])
        #expect(input[0, 0, 0] == 0)                      // the minimum x maps to 0
        #expect(input[0, 31, 14] == 1)                    // the maximum x maps to 1
        #expect(input[0, 10, 5] == Double(20 + 5) / 76)   // (100 + 20 + 5 − 100) / 76
        #expect(input[1, 31, 0] == 1)
        #expect(input[1, 16, 9] == 16.0 / 31)
        for f in 0..<32 {
            #expect(input[0, f, 3] == 0 && input[1, f, 3] == 0)
            if f % 2 == 1 { #expect(input[0, f, 7] == 0 && input[1, f, 7] == 0) }
            for j in 0..<15 { #expect(input[2, f, j] == 0) }
        }
    }

    @Test("a constant coordinate maps to zeros, not to 0/0")
    func constantCoordinate() {
        let clip = sequence { f, j in j < 4 ? (Double(10 + f), 240) : nil }
        let input = Preprocessing.normalize(clip).tensor
        #expect(input.values[(32 * 15)..<(64 * 15)].allSatisfy { $0 == 0 })
        #expect(input[0, 31, 0] == 1 && input[0, 0, 2] == 0 && input[0, 1, 1] == 1.0 / 31)
        #expect(input.values.allSatisfy { $0.isFinite })
    }

    @Test("a clip with no detected joint gives the zero input")
    func nothingDetected() {
        let input = Preprocessing.normalize(sequence { _, _ in nil }).tensor
        #expect(input.values.allSatisfy { $0 == 0 })
    }

    @Test("a negative coordinate (just outside the image) is shifted and scaled like the others")
    func negativeCoordinate() {
        let clip = sequence { f, j in
            if f == 0 && j == 0 { return (-2, 60) }
            return j < 2 ? (Double(10 + f), 60 + Double(j)) : nil
        }
        let input = Preprocessing.normalize(clip).tensor
        // Positive x range 10 … 41 (frame 0, joint 1 is 10): m = 10, M = 31.
        #expect(input[0, 0, 0] == -12.0 / 31)
        #expect(input[0, 0, 1] == 0 && input[0, 31, 1] == 1)
    }

    @Test("the 1D view is the same array read as 3 × 480")
    func flattenedView() {
        let input = Preprocessing.normalize(sequence { f, j in (Double(1 + f * 15 + j), 1) })
        let flat = input.flattenedFrames
        #expect(flat.shape == [3, 480])
        #expect(flat[0, 5 * 15 + 7] == input.tensor[0, 5, 7])
    }
}

@Suite("frame selection")
struct FrameSelectionTests {
    /// A clip of `count` frames; joint j of frame f at (x(f) + 10j, 100 + 5j), all detected.
    func clip(_ count: Int, x: (Int) -> Double) -> SkeletonSequence {
        SkeletonSequence(frames: (0..<count).map { f in frame((0..<15).map { (x(f) + 10 * Double($0), 100 + 5 * Double($0)) }) })
    }

    @Test("the interchangeability score is the mean displacement over joints detected in both frames")
    func displacement() {
        let a = frame([(10, 10), (20, 20), (30, 30)])
        let b = frame([(13, 14), (20, 20), (0, 0)])  // 5 px and 0 px; joint 2 undetected in b
        #expect(FrameSelection.displacement(from: a, to: b) == 2.5)
        #expect(FrameSelection.displacement(from: a, to: .empty) == 0)
    }

    @Test("exactly 32 frames are kept as they are")
    func exact() {
        let sequence = clip(32) { Double($0) }
        #expect(FrameSelection.selectedIndices(sequence) == Array(0..<32))
        #expect(FrameSelection.select(sequence) == sequence)
    }

    @Test("still frames are dropped first, the earliest on a tie")
    func stillFramesDropped() {
        // 40 frames moving 10 px per frame, except that frames 6 … 13 repeat frame 5 (no motion).
        let sequence = clip(40) { f in 10 * Double(f < 6 ? f : f < 14 ? 5 : f - 8) }
        let kept = FrameSelection.selectedIndices(sequence)
        #expect(kept == Array(0...5) + Array(14..<40))
    }

    @Test("slow motion below the threshold: the least-moving frame goes, neighbours are rescored")
    func slowMotion() {
        // 34 frames at 3 px per frame (below 5): dropping frame 1 makes frame 2 move 6 px from
        // frame 0, so the next lowest score is frame 3 (3 px from frame 2) … every second frame
        // goes until 32 remain: frames 1 and 3.
        let sequence = clip(34) { 3 * Double($0) }
        #expect(FrameSelection.selectedIndices(sequence) == [0, 2] + Array(4..<34))
    }

    @Test("fast motion above the threshold: evenly spaced subsampling")
    func fastMotion() {
        let sequence = clip(64) { 10 * Double($0) }
        #expect(FrameSelection.selectedIndices(sequence) == (0..<32).map { 2 * $0 })
        // With a threshold of 15 px the same clip loses its frames by score instead: all score
        // 10 at first, so frame 1 goes and frame 2 now scores 20; then frame 3, … and at last
        // frame 63 — the odd frames, the same selection reached the other way.
        #expect(FrameSelection.selectedIndices(sequence, threshold: 15) == (0..<32).map { 2 * $0 })
        // A threshold of 0 drops nothing, so the subsampling decides.
        #expect(FrameSelection.selectedIndices(clip(96) { 3 * Double($0) }, threshold: 0) == (0..<32).map { 3 * $0 })
    }

    @Test("empty frames (nothing detected) are dropped before moving ones")
    func emptyFramesFirst() {
        var sequence = clip(35) { 10 * Double($0) }
        for f in [7, 8, 20] { sequence.frames[f] = .empty }
        #expect(FrameSelection.selectedIndices(sequence) == (0..<35).filter { ![7, 8, 20].contains($0) })
    }

    @Test("too few frames: frames repeated at evenly spaced positions")
    func tooFewFrames() {
        let sequence = clip(20) { Double($0) }
        let kept = FrameSelection.selectedIndices(sequence)
        #expect(kept == (0..<32).map { $0 * 20 / 32 })
        #expect(Set(kept) == Set(0..<20))
        #expect(FrameSelection.selectedIndices(clip(1) { _ in 5 }) == Array(repeating: 0, count: 32))
        // The whole pipeline turns any clip into one input.
        #expect(Preprocessing.input(for: sequence).tensor.shape == [3, 32, 15])
    }
}
