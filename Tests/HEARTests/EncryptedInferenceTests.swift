import CKKS
import Foundation
import Testing
import HEAR
import HETensor
import HERing

/// Whether the encrypted suites run: they work at N = 2^14 (the packed layout needs 8192 slots),
/// so like the full-data suites they run in release builds (CI runs `swift test -c release`) and
/// in debug builds only with `HEAR_SLOW_TESTS=1`.
let encryptedTests = fullDataTests

/// A short insecure chain at N = 2^14 for the small-parameter runs: ten data primes (q0 45 bits,
/// nine of 32 bits, scale 2^32) and two 50-bit special primes, dnum 5.
func smallChain() throws -> CKKSParameters {
    try CKKSParameters.insecureTesting(degree: 1 << 14, dataPrimeBits: [45] + Array(repeating: 32, count: 9),
                                       specialPrimeBits: [50, 50], log2Scale: 32, digitCount: 5)
}

let seed = [UInt8](repeating: 42, count: 32)

@Suite("level plans of packed programs")
struct LevelPlanTests {
    @Test("levels, scales and key levels follow the program (cnn1d-64, Fast-HEAR, default preset)")
    func knownAnswers() throws {
        let folded = try FoldedNetwork(folding: HEARModel.randomlyInitialized(architecture: NetworkArchitecture(name: "cnn1d-64")!, seed: 2))
        let program = try PackedProgram.compile(folded.packed, slotCount: 8192, method: .fastHEAR)
        let parameters = CKKSParameters.standard()
        let plan = try LevelPlan(program: program, parameters: parameters)
        #expect(program.depth == 9 && plan.startLevel == 9)
        // the output is at level 0, at a scale within 1 % of the input scale (each square turns
        // Δ into Δ²/q, and the primes are within 2^-10 of 2^34: the drift doubles per square)
        #expect(plan.registerLevels[program.outputRegister] == 0)
        #expect(abs(plan.registerScales[program.outputRegister] / plan.inputScale - 1) < 1e-2)
        // the first square follows the first convolution: level 8; keys never above the start
        #expect(plan.relinearizationLevel == 8)
        #expect(Set(plan.rotationLevels.keys) == Set(program.rotationSteps))
        // the cost model pairs the outputs of blocks 2 and 3 (block 1 has 2 products per output);
        // the first conjugation splits block 2's convolution: level 9 − 2 (block 1) − 2 (merge,
        // convolution) = 5
        #expect(program.complexPacked == [false, true, true] && plan.conjugationLevel == 5)
        #expect(try LevelPlan(program: try PackedProgram.compile(folded.packed, slotCount: 8192, method: .fastHEAR, packing: .real),
                              parameters: parameters).conjugationLevel == nil)
        #expect(plan.rotationLevels.values.allSatisfy { (0...9).contains($0) })
        // every product pattern at the scale of the prime its rescale removes
        for case let .multiplyAccumulate(terms, _) in program.stages.flatMap({ $0.groups.joined() }) {
            for term in terms {
                let level = plan.patternLevels[term.pattern]
                #expect(plan.patternScales[term.pattern] == Double(parameters.dataPrimes[level]))
                #expect(plan.registerLevels[term.register] == level)
            }
        }
        // memory: level-aware encoding is below encoding everything at the top level
        let topLevelBytes = program.patterns.count * 10 * 16384 * 8
        #expect(plan.patternBytes(degree: 16384) < topLevelBytes / 2)
        // a chain with too few levels is refused with a clear error
        let short = try CKKSParameters.insecureTesting(degree: 1 << 14, dataPrimeBits: [50, 40, 40, 40])
        expectError(CKKSError.self, saying: "the program needs 9 levels, parameter set 'INSECURE-testing' has 3") { try LevelPlan(program: program, parameters: short) }
        // the paper's chain: q0 of 33 bits leaves too little room above the result's scale
        expectError(CKKSError.self, saying: "q0 (33 bits) leaves 2.0 bits above the result scale; the network's scores need 7") { try LevelPlan(program: program, parameters: .hear()) }
    }
}

@Suite("encrypted inference", .enabled(if: encryptedTests, "N = 2^14: release builds, or HEAR_SLOW_TESTS=1"), .serialized)
struct EncryptedInferenceTests {
    /// A random input in the network's range.
    func input() -> ActionInput { NetworkTests().syntheticInputs(1, seed: 11)[0] }

    @Test("ciphertext result = clear-slot simulator on every slot, both methods and packings (small insecure chain, cnn1d-64)",
          arguments: HEMethod.allCases, [ChannelPacking.real, .complex])
    func smallChainEveryMethod(method: HEMethod, packing: ChannelPacking) throws {
        let folded = try FoldedNetwork(folding: HEARModel.randomlyInitialized(architecture: NetworkArchitecture(name: "cnn1d-64")!, seed: 5))
        // HEAR's thousands of plaintexts are encoded on use (budget 0): bounded memory in the test
        let inference = try EncryptedInference(network: folded, method: method, packing: packing, parameters: try smallChain(),
                                               weightBudget: method == .hear ? 0 : nil, deterministicSeed: seed)
        #expect(inference.program.complexPacked == [Bool](repeating: packing == .complex, count: 3))
        #expect((inference.plan.conjugationLevel != nil) == (packing == .complex))
        let x = input()
        let prediction = try inference.predict(x)
        let simulated = try ClearSlotSimulator.run(inference.program, input: inference.program.inputSlots(x.tensor.values))
        let slotError = maximumDifference(prediction.resultSlots, simulated)
        let scale = simulated.map(abs).max()!
        #expect(slotError < 1e-3 * max(1, scale), "\(method) \(packing): slot error \(slotError), slot magnitude \(scale)")
        let logitError = maximumDifference(prediction.scores, folded.logits(x))
        #expect(logitError < 1e-3, "\(method) \(packing): logit error \(logitError)")
        #expect(predictedClass(prediction.scores) == predictedClass(folded.logits(x)))
        // the phases are reported in order
        #expect(prediction.seconds.map(\.phase) == ["encrypt", "block1", "block2", "block3", "dense", "decrypt"])
    }

    @Test("1 and 3 threads: bit-identical results, and the 3-thread run really ran items on several threads")
    func threadCountIndependence() throws {
        let folded = try FoldedNetwork(folding: HEARModel.randomlyInitialized(architecture: NetworkArchitecture(name: "cnn1d-64")!, seed: 7))
        func inference(threads: Int) throws -> EncryptedInference {
            let inference = try EncryptedInference(network: folded, method: .fastHEAR, parameters: try smallChain(),
                                                   deterministicSeed: seed, parallelism: try Parallelism(threads: threads))
            #expect(inference.context.parallelism.threadCount == threads)
            return inference
        }
        let single = try inference(threads: 1)
        // Dispatch runs the workers of a loop inline when every processor is busy (other suites
        // run beside this one), so a 3-thread prediction is repeated, equal every time, until one
        // ran its items on more than one thread (the n-th prediction of each inference uses the
        // n-th encryption seed: they are compared in pairs)
        let three = try inference(threads: 3)
        var mostThreads = 0
        for attempt in 0..<30 where mostThreads < 2 {
            if attempt > 0 { Thread.sleep(forTimeInterval: 0.2) }
            let (one, serial) = try ParallelProfile.record { _ in try single.predict(input()) }
            #expect(serial.distinctThreads == 1 && serial.loops.allSatisfy { $0.workers == 1 })
            let (prediction, parallel) = try ParallelProfile.record { _ in try three.predict(input()) }
            // (loops run at most one worker per processor: 2 on a 2-core machine)
            #expect(parallel.loops.contains { $0.workers == min(3, Parallelism.processors) })
            #expect(one.resultSlots == prediction.resultSlots && one.scores == prediction.scores, "attempt \(attempt)")
            mostThreads = max(mostThreads, parallel.distinctThreads)
        }
        #expect(mostThreads >= 2, "no 3-thread prediction in 30 ran on more than one thread")
    }

    @Test("a trace: every stage's decrypted result within 1.5 bits of the noise model's precision, counts and scores consistent")
    func traceAgreesWithTheNoiseModel() throws {
        let folded = try FoldedNetwork(folding: HEARModel.randomlyInitialized(architecture: NetworkArchitecture(name: "cnn1d-64")!, seed: 5))
        let inference = try EncryptedInference(network: folded, method: .fastHEAR, parameters: try smallChain(), deterministicSeed: seed)
        let x = input()
        let trace = try inference.trace(x)
        #expect(trace.steps.map(\.stage) == Array(inference.program.stages.indices))
        for step in trace.steps {
            // measured against the simulator (= the plaintext network in the layout), every slot
            #expect(step.measuredBits > 8 && step.compared >= 1, "\(step.phase) \(step.name)")
            #expect(abs(step.measuredBits - step.predictedBits) <= 1.5,
                    "\(step.phase) \(step.name): \(step.measuredBits) bits measured, \(step.predictedBits) predicted")
        }
        // levels fall by one at each product or square stage, from the input's to 0
        #expect(trace.steps.last?.level == 0 && trace.steps.first?.level == inference.plan.startLevel)
        let rescales = trace.steps.reduce(0) { $0 + $1.counts.rescales }, counts = inference.program.counts
        #expect(rescales == counts.rescales && trace.steps.reduce(0) { $0 + $1.counts.plaintextProducts } == counts.plaintextProducts)
        #expect(trace.steps.reduce(0) { $0 + $1.counts.keySwitches } == counts.rotations + counts.conjugations + counts.squarings)
        // the scores: the simulator's are the folded network's; the decrypted ones within the last stage's error
        #expect(maximumDifference(trace.referenceScores, folded.logits(x)) < 1e-9)
        #expect(trace.scoreError <= (trace.steps.last?.maxError ?? 0) + 1e-12 && trace.scoreError < 1e-3)
        // a model that ignored the masks (every slot's error everywhere) would miss by bits: the
        // prediction is per slot; and the chart and the table carry every stage
        let chart = trace.chart()
        #expect(chart.components(separatedBy: "<circle").count - 1 == trace.steps.count)
        #expect(trace.table.split(separator: "\n").count == trace.steps.count + 1)
    }

    @Test("weights encoded on use give bit-identical results to resident ones")
    func streamedEqualsResident() throws {
        let folded = try FoldedNetwork(folding: HEARModel.randomlyInitialized(architecture: NetworkArchitecture(name: "cnn1d-64")!, seed: 6))
        let resident = try EncryptedInference(network: folded, method: .fastHEAR, parameters: try smallChain(), deterministicSeed: seed)
        let streamed = try EncryptedInference(network: folded, method: .fastHEAR, parameters: try smallChain(),
                                              weightBudget: 100_000_000, deterministicSeed: seed)
        #expect(streamed.backend.patterns.forms.contains(.compact) && streamed.backend.patterns.forms.contains(.streamed))
        #expect(streamed.backend.patterns.residentBytes <= 100_000_000)
        // forms are chosen pattern by pattern: the budget is used up to within one plaintext
        #expect(streamed.backend.patterns.residentBytes > 100_000_000 - 10 * 16384 * 8)
        #expect(resident.backend.patterns.residentCount == resident.program.patterns.count)
        let x = input()
        #expect(try resident.predict(x).resultSlots == streamed.predict(x).resultSlots)
    }

    @Test("the paper's cnn2d-64 at the default (128-bit) preset: scores within 3.5e-3 of the plaintext network")
    func productionSlice() throws {
        let testSet = try #require(paperTestSet)
        let folded = try FoldedNetwork(folding: paperModel("cnn2d-64"))
        let inference = try EncryptedInference(network: folded, method: .fastHEAR, parameters: .standard(), deterministicSeed: seed)
        // the evaluation keys: exactly the program's steps, each at the level it is used at
        #expect(inference.backend.galoisKeys.entries.count == inference.program.rotationSteps.count + 1)
        #expect(inference.backend.galoisKeys.entries[inference.context.conjugationElement]?.key.level == inference.plan.conjugationLevel)
        for (step, level) in inference.plan.rotationLevels {
            #expect(inference.backend.galoisKeys.entries[inference.context.galoisElement(forRotation: step)]?.key.level == level)
        }
        for index in [0, 101, 377] {
            let x = Preprocessing.normalize(testSet.sequences[index])
            let prediction = try inference.predict(x)
            let expected = folded.logits(x)
            #expect(maximumDifference(prediction.scores, expected) < 3.5e-3, "sample \(index)")
            #expect(predictedClass(prediction.scores) == predictedClass(expected), "sample \(index)")
        }
    }
}
