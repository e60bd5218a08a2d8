import Testing
import HEAR

/// The third DocC tutorial's final code (`Sources/HEAR/HEAR.docc/Resources`, linked into this
/// target under `Tutorials/`) is compiled and run here; the numbers the tutorial shows are checked.
@Suite("the packed-convolution tutorial, compiled and run")
struct PackedConvolutionTutorialTests {
    @Test("clip 164 through 2D-CNN-64: the slot the tutorial names, block 1's stages, the scores",
          .enabled(if: encryptedTests, "N = 2^14: release builds, or HEAR_SLOW_TESTS=1"))
    func packedConvolutionRuns() throws {
        let (slot, block1, scores, plaintext) = try packedConvolution()
        #expect(slot == 512 + 16 * 3 + 4)
        #expect(block1.map(\.name) == ["baby-step rotations (giant)", "products", "giant steps", "bias and split", "square", "pooling"])
        #expect(block1.map(\.level) == [9, 8, 8, 8, 7, 7])
        for step in block1 { #expect(step.measuredBits > 12 && abs(step.measuredBits - step.predictedBits) <= 1.5, "\(step.name)") }
        #expect(maximumDifference(scores, plaintext) < 1e-3)
        let decided = scores.indices.max { scores[$0] < scores[$1] }!
        #expect(decided == plaintext.indices.max { plaintext[$0] < plaintext[$1] })
        #expect(try PaperData.bundledModel(named: "cnn2d-64").classNames[decided] == "fall")   // as the tutorial says
    }
}
