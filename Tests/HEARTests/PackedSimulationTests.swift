import Foundation
import Testing
import HEAR
import HETensor
import HERing

/// The packed slot programs (HETensor) on the clear-slot simulator against the folded network.
@Suite("packed programs on the clear-slot simulator")
struct PackedSimulationTests {
    static let cases: [(String, HEMethod)] = NetworkArchitecture.all.flatMap { a in HEMethod.allCases.map { (a.name, $0) } }

    func model(_ name: String) throws -> HEARModel {
        if sharedDataPresent, FileManager.default.fileExists(atPath: sharedDataDirectory.appendingPathComponent("models/\(name)").path) {
            return try paperModel(name)
        }
        return HEARModel.randomlyInitialized(architecture: NetworkArchitecture(name: name)!, seed: 1)
    }

    @Test("simulated scores equal the folded network (synthetic inputs, every strategy)", arguments: cases)
    func synthetic(name: String, method: HEMethod) throws {
        let model = try model(name)
        let folded = try FoldedNetwork(folding: model)
        let inputs = NetworkTests().syntheticInputs(1, seed: 3)
        for strategy in [nil] + ConvolutionStrategy.allCases.map(Optional.some) {
            let program = PackedProgram.compile(folded.packed, slotCount: 8192, method: method,
                                                strategies: [ConvolutionStrategy?](repeating: strategy, count: 3))
            for input in inputs {
                let scores = ClearSlotSimulator.scores(program, input: program.inputSlots(input.tensor.values))
                let expected = folded.logits(input)
                #expect(maximumDifference(scores, expected) < 1e-9, "\(name) \(method) \(String(describing: strategy)): \(scores) vs \(expected)")
            }
        }
    }
}
