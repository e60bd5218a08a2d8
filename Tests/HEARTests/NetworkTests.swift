import Foundation
import Testing
import HEAR
import HERing

/// An independent, deliberately plain implementation of the paper's networks (explicit bounds
/// checks instead of padded maps, averages instead of sums, no folding), to check the library's
/// reference inference against.
func naiveLogits(_ model: HEARModel, _ input: ActionInput) -> [Double] {
    let a = model.architecture
    var x = input.tensor.values
    var (height, width) = a.convolution == .twoD ? (32, 15) : (1, 480)
    for t in 0..<3 {
        let block = model.block(t)
        let cin = block.inputChannels, cout = block.outputChannels
        let kh = a.kernel.height, kw = a.kernel.width
        var activated = [Double](repeating: 0, count: cout * height * width)
        for o in 0..<cout {
            for i in 0..<height {
                for j in 0..<width {
                    var z = block.bias[o]
                    for c in 0..<cin {
                        for u in 0..<kh {
                            for v in 0..<kw {
                                let r = i + u - kh / 2, s = j + v - kw / 2
                                if r >= 0 && r < height && s >= 0 && s < width {
                                    z += block.weight.values[((o * cin + c) * kh + u) * kw + v] * x[(c * height + r) * width + s]
                                }
                            }
                        }
                    }
                    let y = block.bnWeight[o] * (z - block.runningMean[o]) / (block.runningVariance[o] + 1e-5).squareRoot() + block.bnBias[o]
                    activated[(o * height + i) * width + j] = block.alpha * y * y + block.beta * y + block.c
                }
            }
        }
        if t < 2 {
            let (ph, pw) = a.pool
            let oh = height / ph, ow = width / pw
            x = [Double](repeating: 0, count: cout * oh * ow)
            for o in 0..<cout {
                for i in 0..<oh {
                    for j in 0..<ow {
                        var mean = 0.0
                        for u in 0..<ph { for v in 0..<pw { mean += activated[(o * height + i * ph + u) * width + j * pw + v] } }
                        x[(o * oh + i) * ow + j] = mean / Double(ph * pw)
                    }
                }
            }
            (height, width) = (oh, ow)
        } else {
            x = (0..<cout).map { o in activated[(o * height * width)..<((o + 1) * height * width)].reduce(0, +) / Double(height * width) }
        }
    }
    let w = model.linearWeight.values
    var logits = model.linearBias
    for r in 0..<10 {
        for k in 0..<x.count { logits[r] += w[r * x.count + k] * x[k] }
    }
    return logits
}

func maximumDifference(_ a: [Double], _ b: [Double]) -> Double {
    zip(a, b).map { abs($0 - $1) }.max()!
}

@Suite("networks in the clear")
struct NetworkTests {
    /// Deterministic pseudo-random inputs in [0, 1) with some zeros (undetected joints).
    func syntheticInputs(_ count: Int, seed: UInt64) -> [ActionInput] {
        var state = seed
        func next() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Double(state >> 11) * 0x1p-53
        }
        return (0..<count).map { _ in
            let values = (0..<(3 * 32 * 15)).map { index -> Double in
                let v = next()
                return index >= 2 * 480 || v < 0.1 ? 0 : v
            }
            return ActionInput(tensor: Tensor(shape: [3, 32, 15], values: values))
        }
    }

    @Test("convolution kernel equals a direct sum with bounds checks", arguments: [(3, 3, 32, 15), (1, 3, 1, 480), (3, 3, 8, 3), (1, 3, 1, 5)])
    func convolution(kernel: (Int, Int, Int, Int)) {
        let (kh, kw, height, width) = kernel
        let cin = 3, cout = 4
        let input = (0..<(cin * height * width)).map { sin(Double($0)) }
        let weight = (0..<(cout * cin * kh * kw)).map { cos(Double($0) * 0.7) }
        let fast = Kernels.convolve(input, channels: cin, height: height, width: width, weight: weight,
                                    outputChannels: cout, kernelHeight: kh, kernelWidth: kw)
        var worst = 0.0
        for o in 0..<cout {
            for i in 0..<height {
                for j in 0..<width {
                    var sum = 0.0
                    for c in 0..<cin {
                        for u in 0..<kh {
                            for v in 0..<kw {
                                let r = i + u - kh / 2, s = j + v - kw / 2
                                guard r >= 0, r < height, s >= 0, s < width else { continue }
                                sum += weight[((o * cin + c) * kh + u) * kw + v] * input[(c * height + r) * width + s]
                            }
                        }
                    }
                    worst = max(worst, abs(sum - fast[(o * height + i) * width + j]))
                }
            }
        }
        #expect(worst < 1e-12)
    }

    @Test("reference and folded inference equal the plain implementation (fresh weights, every architecture)",
          arguments: NetworkArchitecture.all)
    func freshModels(architecture: NetworkArchitecture) throws {
        var model = HEARModel.randomlyInitialized(architecture: architecture, seed: 11)
        // Give batch normalisation and the activations non-trivial values, α < 0 in one block.
        var tensors = model.tensors
        for t in 1...3 {
            let n = architecture.channels(t)
            tensors["bn\(t).running_mean"] = Tensor(shape: [n], values: (0..<n).map { 0.1 * sin(Double($0)) })
            tensors["bn\(t).running_var"] = Tensor(shape: [n], values: (0..<n).map { 0.5 + 0.3 * cos(Double($0)) })
            tensors["bn\(t).weight"] = Tensor(shape: [n], values: (0..<n).map { 1 + 0.2 * sin(Double(3 * $0)) })
            tensors["conv\(t).bias"] = Tensor(shape: [n], values: (0..<n).map { 0.05 * cos(Double(5 * $0)) })
        }
        tensors["act2.alpha"] = Tensor(shape: [1], values: [-0.7])
        model = try HEARModel(architecture: architecture, tensors: tensors)
        let folded = try FoldedNetwork(folding: model)
        #expect(folded.blocks.map(\.activationSign) == [1, -1, 1])
        for input in syntheticInputs(architecture.filters == 128 ? 1 : 2, seed: 5) {
            let reference = model.referenceLogits(input)
            #expect(maximumDifference(reference, naiveLogits(model, input)) < 1e-9)
            #expect(maximumDifference(reference, folded.logits(input)) < 1e-9)
        }
    }

    @Test("a linear activation (α = 0) cannot be folded and says so")
    func linearActivation() throws {
        let architecture = NetworkArchitecture(name: "cnn1d-64")!
        var tensors = HEARModel.randomlyInitialized(architecture: architecture, seed: 1).tensors
        tensors["act3.alpha"] = Tensor(shape: [1], values: [0])
        let model = try HEARModel(architecture: architecture, tensors: tensors)
        expectError(ModelError.self, saying: "act3.alpha: is 0: the activation is linear") { try FoldedNetwork(folding: model) }
    }

    @Test("results do not depend on the thread count")
    func threadCounts() throws {
        let model = HEARModel.randomlyInitialized(architecture: NetworkArchitecture(name: "cnn1d-64")!, seed: 2)
        let inputs = syntheticInputs(6, seed: 9)
        let one = model.referenceLogits(inputs, parallelism: .serial)
        #expect(model.referenceLogits(inputs, parallelism: try Parallelism(threads: 2)) == one)
        #expect(model.referenceLogits(inputs, parallelism: try Parallelism(threads: 4)) == one)
        #expect(one == inputs.map { model.referenceLogits($0) })
    }
}

/// The paper's figures (bundled models and clips) and logits (the PyTorch logits from
/// `../shared/data/hear-paper`). Over all 608 samples in release builds; debug builds check the
/// first 24 (set HEAR_SLOW_TESTS=1 for all).
@Suite("the paper's models on the paper's test set", .serialized)
struct PaperModelTests {
    var sampleCount: Int { fullDataTests ? 608 : 24 }

    func inputs() throws -> ([ActionInput], [Int]) {
        let set = try #require(paperTestSet)
        let count = min(sampleCount, set.count)
        return (set.sequences.prefix(count).map { Preprocessing.normalize($0) }, Array(set.labels.prefix(count)))
    }

    @Test("2D-CNN-64 reproduces the paper's figures", .enabled(if: fullDataTests, "all 608 samples: release builds or HEAR_SLOW_TESTS=1"))
    func paperFigures() throws {
        let (inputs, labels) = try inputs()
        let model = try paperModel("cnn2d-64")
        let metrics = ClassificationMetrics(predictions: model.referenceLogits(inputs).map(predictedClass), labels: labels)
        func percent(_ x: Double) -> Double { (10000 * x).rounded() / 100 }
        #expect(percent(metrics.accuracy) == 87.99)
        #expect(percent(metrics.sensitivity) == 86.21)
        #expect(percent(metrics.specificity) == 99.14)
        #expect(percent(metrics.precision) == 83.33)
        #expect(percent(metrics.f1) == 84.75)
    }

    @Test("folded = reference to 1e-9, and = a plain implementation", arguments: ["cnn2d-64", "cnn1d-64", "cnn1d-128"])
    func folded(name: String) throws {
        let (inputs, _) = try inputs()
        let model = try paperModel(name)
        let ours = model.referenceLogits(inputs)
        let folded = try FoldedNetwork(folding: model).logits(inputs)
        let worst = zip(ours, folded).map { maximumDifference($0, $1) }.max()!
        #expect(worst < 1e-9, "\(name): folded differs by \(worst)")
        // The plain implementation agrees (one sample: it is slow in debug builds).
        #expect(maximumDifference(ours[1], naiveLogits(model, inputs[1])) < 1e-9)
    }

    @Test("our logits match the paper's PyTorch logits", .enabled(if: sharedDataPresent, sharedDataMessage),
          arguments: ["cnn2d-64", "cnn1d-64", "cnn1d-128"])
    func logits(name: String) throws {
        let (inputs, _) = try inputs()
        let model = try paperModel(name)
        let ours = model.referenceLogits(inputs)
        let paper = Array(try paperReferenceLogits(name).prefix(inputs.count))
        let differences = zip(ours, paper).map { maximumDifference($0, $1) }
        let close = differences.filter { $0 <= 1e-4 }.count
        let agree = zip(ours, paper).filter { predictedClass($0) == predictedClass($1) }.count
        // Measured: 468 / 463 / 465 of 608 within 1e-4 (the paper's run dropped joints at random
        // in ~1/4 of the samples), argmax 606 / 603 / 605 of 608; the issue asks for 455 and 99 %.
        let needed = fullDataTests ? 455 : Int(0.7 * Double(inputs.count))
        #expect(close >= needed, "\(name): \(close) of \(inputs.count) within 1e-4")
        #expect(Double(agree) >= 0.99 * Double(inputs.count) - (fullDataTests ? 0 : 1), "\(name): argmax agrees on \(agree)")
    }
}

@Suite("metrics")
struct MetricsTests {
    @Test("confusion matrix and fall-detection figures on a hand-made case")
    func handMade() {
        // 3 falls (class 9): 2 found, 1 called "sit"; 5 others: one "walk" called a fall.
        let labels = [9, 9, 9, 0, 1, 5, 7, 7]
        let predictions = [9, 9, 5, 0, 1, 5, 9, 7]
        let m = ClassificationMetrics(predictions: predictions, labels: labels)
        #expect(m.sampleCount == 8 && m.correctCount == 6 && m.accuracy == 0.75)
        #expect(m.truePositives == 2 && m.falseNegatives == 1 && m.falsePositives == 1 && m.trueNegatives == 4)
        #expect(m.sensitivity == 2.0 / 3 && m.specificity == 0.8 && m.precision == 2.0 / 3)
        #expect(abs(m.f1 - 2.0 / 3) < 1e-15)
        #expect(m.confusion[9][5] == 1 && m.confusion[7][9] == 1 && m.confusion[7][7] == 1)
        #expect(m.perClassAccuracy[7] == 0.5 && m.perClassAccuracy[9] == 2.0 / 3 && m.perClassAccuracy[2].isNaN)
        #expect(m.report().contains("fall sensitivity    66.67 %  (2 of 3)"))
        #expect(predictedClass([0.5, 2, 2, -1]) == 1)
    }
}
