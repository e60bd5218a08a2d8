import CKKS
import Foundation
import HEAR
import HETensor

/// One real clip through the first packed 2D convolution of the paper's 2D-CNN-64, on
/// ciphertexts, followed stage by stage.
func packedConvolution() throws {
    // 1. The paper's 2D-CNN-64 and test clip 164 (a fall), preprocessed as the camera does:
    //    32 frames × 15 joints, x and y normalised. Folding puts batch normalisation and the
    //    activation's affine part into the weights: each block is one convolution, one square.
    let model = try PaperData.bundledModel(named: "cnn2d-64")
    let clip = Preprocessing.normalize(try PaperData.bundledTestSet().sequences[164])
    let network = try FoldedNetwork(folding: model)

    // 2. Compile for 8192 slots: one ciphertext of 16 blocks of 512; block k holds input channel
    //    k mod 2 (x, y, x, …), frame i and joint j at slot 512·k + 16·i + j.
    let program = try network.compiled(slotCount: 8192, method: .fastHEAR)
    let slot = program.inputLayout.location(channel: 1, row: 3, column: 4).slot   // y of joint 4, frame 3
    print("y(3, 4) is in slot \(slot)")
    print(LayoutDrawing(program: program, layer: "block1")!.text)
}
