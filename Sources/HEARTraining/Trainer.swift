import Dispatch
import Foundation
import HEAR
import HERing

/// A labelled set of 32-frame clips.
public struct LabelledClips: Sendable {
    public var sequences: [SkeletonSequence]
    public var labels: [Int]

    public init(sequences: [SkeletonSequence], labels: [Int]) {
        precondition(sequences.count == labels.count)
        self.sequences = sequences
        self.labels = labels
    }

    public var count: Int { labels.count }

    public func subset(_ indices: [Int]) -> LabelledClips {
        LabelledClips(sequences: indices.map { sequences[$0] }, labels: indices.map { labels[$0] })
    }

    /// Fold `fold` of `folds` for cross-validation: stratified (each class's samples, in order,
    /// dealt round-robin to the folds), so every fold has the class proportions of the whole.
    /// Returns (training, validation) indices.
    public func crossValidationSplit(folds: Int, fold: Int) -> (training: [Int], validation: [Int]) {
        precondition(folds >= 2 && (0..<folds).contains(fold))
        var validation: [Int] = [], training: [Int] = []
        var seen = [Int: Int]()
        for (index, label) in labels.enumerated() {
            let k = seen[label, default: 0]
            seen[label] = k + 1
            if k % folds == fold { validation.append(index) } else { training.append(index) }
        }
        return (training, validation)
    }
}

/// The paper's training recipe ("Training"): SGD with momentum 0.9 and weight decay 5·10⁻⁴,
/// mini-batches of 64, learning rate 0.05 decayed by 0.1 (here at 50 % and 75 % of the epochs),
/// class-balanced sampling, augmentations.
public struct TrainingConfiguration: Sendable {
    public var epochs = 60
    public var batchSize = 64
    public var learningRate = 0.05
    public var momentum = 0.9
    public var weightDecay = 5e-4
    /// Fractions of the epochs after which the learning rate is multiplied by `decay`.
    public var milestones = [0.5, 0.75]
    public var decay = 0.1
    /// The learning rate rises linearly from 0 over this many first epochs (per batch): the
    /// quadratic activations make the first steps from random weights unstable at full rate.
    public var warmupEpochs = 3
    /// The gradient of a batch is scaled down to this global norm when it is longer (nil: no
    /// clipping). Quadratic activations can turn one large step into a runaway.
    public var gradientClipNorm: Double? = 1.0
    /// Draw each epoch's samples with probability ∝ 1 / (size of their class), with
    /// replacement: every class is seen equally often (falls are rare in real data).
    public var balancedSampling = true
    public var augmentation = Augmentation()
    public var seed: UInt64 = 1
    /// The threads of the batch computations (the trained weights do not depend on them).
    public var parallelism: Parallelism = .allProcessors

    public init() {}

    /// The learning rate of an epoch (0-based).
    public func learningRate(epoch: Int) -> Double {
        var rate = learningRate
        for milestone in milestones where Double(epoch) >= milestone * Double(epochs) { rate *= decay }
        return rate
    }
}

/// One epoch's report.
public struct EpochReport: Sendable {
    public var epoch: Int
    public var learningRate: Double
    /// Mean training loss over the epoch's batches.
    public var loss: Double
    /// Accuracy on the augmented training batches (training mode).
    public var trainingAccuracy: Double
    /// Accuracy on the validation clips (evaluation mode), when there are any.
    public var validationAccuracy: Double?
    public var seconds: Double
}

/// Trains a `TrainableNetwork` with SGD. Deterministic in the configuration's seed and
/// independent of the thread count.
public struct Trainer {
    public var configuration: TrainingConfiguration
    public var network: TrainableNetwork
    var velocity: [String: [Double]]
    var generator: ChaCha20

    public init(network: TrainableNetwork, configuration: TrainingConfiguration) {
        self.network = network
        self.configuration = configuration
        velocity = network.parameters.mapValues { [Double](repeating: 0, count: $0.count) }
        var seed = [UInt8](repeating: 0, count: 32)
        withUnsafeBytes(of: configuration.seed.littleEndian) { for (i, b) in $0.enumerated() { seed[i] = b } }
        generator = ChaCha20(seed: seed, domain: 0x4845_4152_7472_6169)  // "HEARtrai"
    }

    /// One SGD step with momentum and weight decay (PyTorch's form): g ← ∇ + λ·θ,
    /// v ← μ·v + g, θ ← θ − η·v.
    public mutating func step(gradients: [String: [Double]], learningRate: Double) {
        let (mu, lambda) = (configuration.momentum, configuration.weightDecay)
        var factor = 1.0
        if let limit = configuration.gradientClipNorm {
            var squares = 0.0
            for name in network.trainableNames { for g in gradients[name] ?? [] { squares += g * g } }
            let norm = squares.squareRoot()
            if norm > limit { factor = limit / norm }
        }
        for name in network.trainableNames {
            guard var g = gradients[name] else { continue }
            if factor != 1 { g = g.map { $0 * factor } }
            var theta = network.parameters[name]!, v = velocity[name]!
            for k in theta.indices {
                v[k] = mu * v[k] + g[k] + lambda * theta[k]
                theta[k] -= learningRate * v[k]
            }
            network.parameters[name] = theta
            velocity[name] = v
        }
    }

    /// The sample indices of one epoch (balanced or a shuffle).
    mutating func epochOrder(_ labels: [Int]) -> [Int] {
        let n = labels.count
        if configuration.balancedSampling {
            var byClass = [Int: [Int]]()
            for (index, label) in labels.enumerated() { byClass[label, default: []].append(index) }
            let classes = byClass.keys.sorted()
            return (0..<n).map { _ in
                let members = byClass[classes[Int(generator.next() % UInt64(classes.count))]]!
                return members[Int(generator.next() % UInt64(members.count))]
            }
        }
        var order = Array(0..<n)
        for i in stride(from: n - 1, to: 0, by: -1) { order.swapAt(i, Int(generator.next() % UInt64(i + 1))) }
        return order
    }

    /// Trains for `configuration.epochs` epochs; `report` is called after each.
    public mutating func train(_ data: LabelledClips, validation: LabelledClips? = nil,
                               report: (EpochReport) -> Void = { _ in }) throws(ModelError) {
        for epoch in 0..<configuration.epochs {
            let start = DispatchTime.now().uptimeNanoseconds
            let rate = configuration.learningRate(epoch: epoch)
            let order = epochOrder(data.labels)
            let batchesPerEpoch = (order.count + configuration.batchSize - 1) / configuration.batchSize
            var lossSum = 0.0, correct = 0, seen = 0, batches = 0
            for first in stride(from: 0, to: order.count, by: configuration.batchSize) {
                let indices = Array(order[first..<min(first + configuration.batchSize, order.count)])
                guard indices.count > 1 else { continue }
                // augmentation draws in sample order (deterministic), the inputs in parallel
                var seeds: [[UInt8]] = []
                for _ in indices { seeds.append(generator.nextBytes(32)) }
                let augmentation = configuration.augmentation
                let inputs = configuration.parallelism.map(indices.count) { k in
                    var g = ChaCha20(seed: seeds[k])
                    return augmentation.input(data.sequences[indices[k]], generator: &g)
                }
                let result = network.forwardBackward(inputs, labels: indices.map { data.labels[$0] }, parallelism: configuration.parallelism)
                let warmup = configuration.warmupEpochs * batchesPerEpoch
                let done = epoch * batchesPerEpoch + batches
                step(gradients: result.gradients, learningRate: done < warmup ? rate * Double(done + 1) / Double(warmup) : rate)
                network.updateRunningStatistics(result.batchStatistics, batchSize: indices.count)
                lossSum += result.loss
                correct += result.correct
                seen += indices.count
                batches += 1
            }
            var validationAccuracy: Double? = nil
            if let validation, validation.count > 0 {
                validationAccuracy = try accuracy(on: validation)
            }
            let seconds = wallSeconds(since: start)
            report(EpochReport(epoch: epoch, learningRate: rate, loss: lossSum / Double(max(batches, 1)),
                               trainingAccuracy: Double(correct) / Double(max(seen, 1)), validationAccuracy: validationAccuracy,
                               seconds: seconds))
        }
    }

    /// Accuracy of the current network (evaluation mode) on labelled clips.
    public func accuracy(on data: LabelledClips) throws(ModelError) -> Double {
        let predictions = try predictions(on: data)
        return Double(zip(predictions, data.labels).filter { $0 == $1 }.count) / Double(data.count)
    }

    /// The predicted classes (evaluation mode) of labelled clips.
    public func predictions(on data: LabelledClips) throws(ModelError) -> [Int] {
        let model = try network.model(name: "training")
        return model.referenceLogits(data.sequences.map(Preprocessing.normalize)).map { logits in
            logits.indices.max { logits[$0] < logits[$1] }!
        }
    }
}
