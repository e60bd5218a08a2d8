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
        if PaperData.modelNames.contains(name) { return try paperModel(name) }
        return HEARModel.randomlyInitialized(architecture: NetworkArchitecture(name: name)!, seed: 1)
    }

    @Test("simulated scores equal the folded network (synthetic inputs, every strategy and packing)", arguments: cases)
    func synthetic(name: String, method: HEMethod) throws {
        let model = try model(name)
        let folded = try FoldedNetwork(folding: model)
        let inputs = NetworkTests().syntheticInputs(1, seed: 3)
        for strategy in [nil] + ConvolutionStrategy.allCases.map(Optional.some) {
            for packing in ChannelPacking.allCases {
                let program = try PackedProgram.compile(folded.packed, slotCount: 8192, method: method,
                                                    strategies: [ConvolutionStrategy?](repeating: strategy, count: 3), packing: packing)
                #expect(program.complexPacked == [Bool](repeating: packing == .complex, count: 3) || packing == .auto)
                for input in inputs {
                    let scores = try ClearSlotSimulator.scores(program, input: program.inputSlots(input.tensor.values))
                    let expected = folded.logits(input)
                    #expect(maximumDifference(scores, expected) < 1e-9,
                            "\(name) \(method) \(String(describing: strategy)) \(packing): \(scores) vs \(expected)")
                }
            }
        }
        // complex packing: half the products of the convolutions, one conjugation per pair
        let real = try PackedProgram.compile(folded.packed, slotCount: 8192, method: method, packing: .real)
        let complex = try PackedProgram.compile(folded.packed, slotCount: 8192, method: method, packing: .complex)
        for (r, c) in zip(real.countsByPhase.dropLast(), complex.countsByPhase.dropLast()) {
            #expect(c.counts.plaintextProducts <= r.counts.plaintextProducts / 2 + r.counts.plaintextProducts / 8, "\(r.phase)")
            #expect(r.counts.conjugations == 0 && c.counts.conjugations > 0)
        }
        // The comparison can fail: one changed weight in the first convolution changes the scores.
        var broken = try PackedProgram.compile(folded.packed, slotCount: 8192, method: method)
        if case .blockwise(var values, let offsets, let positions, let shift) = broken.patterns[0].form {
            values[values.firstIndex { $0 != 0 }!] += 0.01
            broken.patterns[0].form = .blockwise(values: values, offsets: offsets, positions: positions, shift: shift)
        }
        let input = inputs[0]
        let scores = try ClearSlotSimulator.scores(broken, input: broken.inputSlots(input.tensor.values))
        #expect(maximumDifference(scores, folded.logits(input)) > 1e-6)
    }
}

/// Every test sample through the simulator, for the four architectures and both methods
/// (2D-CNN-128 with `hear model init` weights, seed 1, as its trained weights were never published).
/// Release builds run all 608 samples (about 2.5 minutes on two cores), debug builds 4.
@Suite("packed programs on the paper's test set", .serialized)
struct PackedPaperTests {
    @Test("simulator = folded network on every test sample", arguments: PackedSimulationTests.cases)
    func everySample(name: String, method: HEMethod) throws {
        let testSet = try #require(paperTestSet)
        let count = fullDataTests ? testSet.count : 4
        let model = try PackedSimulationTests().model(name)
        let folded = try FoldedNetwork(folding: model)
        let program = try PackedProgram.compile(folded.packed, slotCount: 8192, method: method)
        var worst = 0.0
        for sequence in testSet.sequences.prefix(count) {
            let input = Preprocessing.normalize(sequence)
            let scores = try ClearSlotSimulator.scores(program, input: program.inputSlots(input.tensor.values))
            worst = max(worst, maximumDifference(scores, folded.logits(input)))
        }
        #expect(worst < 1e-9, "\(name) \(method.rawValue): \(worst)")
    }
}
