import Foundation
import HEAR
import HERing

/// The paper's CNN with its parameters by state-dict name (the names and shapes of
/// `NetworkArchitecture.tensorShapes`, so a trained network is a `HEARModel` as it is), with
/// the training-mode forward pass and its backward pass over a mini-batch.
///
/// Block t: z = conv(x) + b → batch normalisation (training: the batch's mean and biased
/// variance per channel over samples × positions; the running statistics follow with momentum
/// 0.1 and the unbiased variance, as PyTorch) → a = α·y² + β·y + c → average pooling (after
/// blocks 1–2) or global average pooling (block 3) → linear → softmax cross-entropy.
public struct TrainableNetwork: Sendable {
    public var architecture: NetworkArchitecture
    /// Tensors by state-dict name, flat in C order.
    public var parameters: [String: [Double]]
    public var batchNormEpsilon: Double
    public var batchNormMomentum = 0.1

    /// The trainable tensors (the running statistics are not: they follow the batches).
    public var trainableNames: [String] {
        architecture.tensorShapes.map(\.name).filter { !$0.hasSuffix("running_mean") && !$0.hasSuffix("running_var") }
    }

    public init(model: HEARModel) {
        architecture = model.architecture
        batchNormEpsilon = model.batchNormEpsilon
        parameters = model.tensors.mapValues(\.values)
    }

    /// The network as a model (evaluation mode: batch normalisation with the running statistics).
    public func model(name: String) throws(ModelError) -> HEARModel {
        var tensors: [String: Tensor] = [:]
        for (tensorName, shape) in architecture.tensorShapes { tensors[tensorName] = Tensor(shape: shape, values: parameters[tensorName]!) }
        return try HEARModel(architecture: architecture, tensors: tensors, name: name, batchNormEpsilon: batchNormEpsilon)
    }

    /// The result of one training-mode pass over a batch.
    public struct BatchResult: Sendable {
        /// Mean cross-entropy over the batch.
        public var loss: Double
        /// Samples whose largest logit is their label.
        public var correct: Int
        /// dL/dθ of the mean loss for every trainable tensor.
        public var gradients: [String: [Double]]
        /// dL/dx for every input (only when asked: gradient checks).
        public var inputGradients: [[Double]]?
        /// The batch statistics of each block (mean, biased variance per channel).
        public var batchStatistics: [(mean: [Double], variance: [Double])]
    }

    /// Samples are split into this many fixed chunks whose parameter gradients are summed in
    /// order: the result does not depend on the thread count.
    static let chunkCount = 8

    /// Forward and backward over a batch in training mode. `inputs`: the flat 3 × 32 × 15 (or
    /// 3 × 480) network inputs.
    public func forwardBackward(_ inputs: [[Double]], labels: [Int], inputGradients wantInputGradients: Bool = false,
                                parallelism: Parallelism = .allProcessors) -> BatchResult {
        let batch = inputs.count
        precondition(batch > 1 && labels.count == batch, "a training batch needs at least two labelled samples")
        let blocks = NetworkArchitecture.blockCount
        let (kh, kw) = architecture.kernel
        let (poolH, poolW) = architecture.pool
        var x = inputs
        // caches per block: inputs, normalized values x̂, BN outputs y; per channel 1/σ
        var blockInputs: [[[Double]]] = [], normalized: [[[Double]]] = [], bnOutputs: [[[Double]]] = []
        var inverseDeviations: [[Double]] = [], statistics: [(mean: [Double], variance: [Double])] = []
        for t in 0..<blocks {
            let i = t + 1, cin = architecture.channels(t), cout = architecture.channels(t + 1)
            let size = architecture.inputSize(ofBlock: t), plane = size.height * size.width
            let weight = parameters["conv\(i).weight"]!, bias = parameters["conv\(i).bias"]!
            let gamma = parameters["bn\(i).weight"]!, shift = parameters["bn\(i).bias"]!
            let alpha = parameters["act\(i).alpha"]![0], beta = parameters["act\(i).beta"]![0], c = parameters["act\(i).c"]![0]
            let input = x
            let z = parallelism.map(batch) { s in
                TrainingLayers.convolution(input[s], channels: cin, height: size.height, width: size.width, weight: weight,
                                           bias: bias, kernelHeight: kh, kernelWidth: kw)
            }
            // batch statistics, summed in sample order
            let count = Double(batch * plane)
            var mean = [Double](repeating: 0, count: cout), variance = [Double](repeating: 0, count: cout)
            for s in 0..<batch {
                for o in 0..<cout { for p in 0..<plane { mean[o] += z[s][o * plane + p] } }
            }
            for o in 0..<cout { mean[o] /= count }
            for s in 0..<batch {
                for o in 0..<cout {
                    for p in 0..<plane {
                        let d = z[s][o * plane + p] - mean[o]
                        variance[o] += d * d
                    }
                }
            }
            for o in 0..<cout { variance[o] /= count }
            let inverse = variance.map { 1 / ($0 + batchNormEpsilon).squareRoot() }
            let pooled = t < blocks - 1
            let results = parallelism.map(batch) { s -> (xhat: [Double], y: [Double], out: [Double]) in
                var xhat = z[s], y = z[s], a = z[s]
                for o in 0..<cout {
                    for p in 0..<plane {
                        let index = o * plane + p
                        xhat[index] = (z[s][index] - mean[o]) * inverse[o]
                        y[index] = gamma[o] * xhat[index] + shift[o]
                        a[index] = alpha * y[index] * y[index] + beta * y[index] + c
                    }
                }
                let out = pooled
                    ? TrainingLayers.averagePool(a, channels: cout, height: size.height, width: size.width, poolHeight: poolH, poolWidth: poolW)
                    : Kernels.globalSum(a, channels: cout, plane: plane).map { $0 / Double(plane) }
                return (xhat, y, out)
            }
            blockInputs.append(input)
            normalized.append(results.map(\.xhat))
            bnOutputs.append(results.map(\.y))
            inverseDeviations.append(inverse)
            statistics.append((mean, variance))
            x = results.map(\.out)
        }
        // linear layer and loss
        let linearWeight = parameters["linear.weight"]!, linearBias = parameters["linear.bias"]!
        let features = architecture.channels(blocks), classes = NetworkArchitecture.classCount
        var loss = 0.0, correct = 0
        var dFeatures: [[Double]] = []
        var gradients: [String: [Double]] = [:]
        for name in trainableNames { gradients[name] = [Double](repeating: 0, count: parameters[name]!.count) }
        var linearWeightGradient = [Double](repeating: 0, count: linearWeight.count)
        var linearBiasGradient = [Double](repeating: 0, count: classes)
        for s in 0..<batch {
            let logits = Kernels.affine(x[s], weight: linearWeight, bias: linearBias)
            let (sampleLoss, dLogits) = TrainingLayers.softmaxCrossEntropy(logits, label: labels[s])
            loss += sampleLoss
            if logits.indices.max(by: { logits[$0] < logits[$1] }) == labels[s] { correct += 1 }
            let scaled = dLogits.map { $0 / Double(batch) }
            var df = [Double](repeating: 0, count: features)
            for r in 0..<classes {
                linearBiasGradient[r] += scaled[r]
                for k in 0..<features {
                    linearWeightGradient[r * features + k] += scaled[r] * x[s][k]
                    df[k] += linearWeight[r * features + k] * scaled[r]
                }
            }
            dFeatures.append(df)
        }
        gradients["linear.weight"] = linearWeightGradient
        gradients["linear.bias"] = linearBiasGradient
        // blocks, last to first
        var dOut = dFeatures
        for t in stride(from: blocks - 1, through: 0, by: -1) {
            let i = t + 1, cin = architecture.channels(t), cout = architecture.channels(t + 1)
            let size = architecture.inputSize(ofBlock: t), plane = size.height * size.width
            let gamma = parameters["bn\(i).weight"]!
            let alpha = parameters["act\(i).alpha"]![0], beta = parameters["act\(i).beta"]![0]
            let pooled = t < blocks - 1
            let xhat = normalized[t], y = bnOutputs[t], gradientOut = dOut
            // dL/dy per sample, and the per-sample partial sums of the activation's and the
            // channels' gradients
            let perSample = parallelism.map(batch) { s -> (dy: [Double], act: [Double], sumDy: [Double], sumDyXhat: [Double]) in
                let da = pooled
                    ? TrainingLayers.averagePoolBackward(gradientOut[s], channels: cout, height: size.height, width: size.width,
                                                         poolHeight: poolH, poolWidth: poolW)
                    : (0..<(cout * plane)).map { gradientOut[s][$0 / plane] / Double(plane) }
                var dy = da
                var act = [0.0, 0.0, 0.0]
                var sumDy = [Double](repeating: 0, count: cout), sumDyXhat = [Double](repeating: 0, count: cout)
                for o in 0..<cout {
                    for p in 0..<plane {
                        let index = o * plane + p, v = y[s][index], g = da[index]
                        act[0] += g * v * v
                        act[1] += g * v
                        act[2] += g
                        dy[index] = g * (2 * alpha * v + beta)
                        sumDy[o] += dy[index]
                        sumDyXhat[o] += dy[index] * xhat[s][index]
                    }
                }
                return (dy, act, sumDy, sumDyXhat)
            }
            var sumDy = [Double](repeating: 0, count: cout), sumDyXhat = [Double](repeating: 0, count: cout)
            var activation = [0.0, 0.0, 0.0]
            for s in 0..<batch {
                for k in 0..<3 { activation[k] += perSample[s].act[k] }
                for o in 0..<cout {
                    sumDy[o] += perSample[s].sumDy[o]
                    sumDyXhat[o] += perSample[s].sumDyXhat[o]
                }
            }
            gradients["act\(i).alpha"] = [activation[0]]
            gradients["act\(i).beta"] = [activation[1]]
            gradients["act\(i).c"] = [activation[2]]
            gradients["bn\(i).weight"] = sumDyXhat
            gradients["bn\(i).bias"] = sumDy
            // dL/dz = γ/σ · (dy − mean(dy) − x̂ · mean(dy · x̂)), then the convolution
            let count = Double(batch * plane), inverse = inverseDeviations[t]
            let weight = parameters["conv\(i).weight"]!
            let inputs = blockInputs[t]
            let wantInput = t > 0 || wantInputGradients
            let chunks = min(Self.chunkCount, batch)
            let chunkResults = parallelism.map(chunks) { k -> (dw: [Double], db: [Double], dx: [[Double]]) in
                var dw = [Double](repeating: 0, count: weight.count), db = [Double](repeating: 0, count: cout)
                var dx: [[Double]] = []
                for s in stride(from: k, to: batch, by: chunks) {
                    var dz = perSample[s].dy
                    for o in 0..<cout {
                        let factor = gamma[o] * inverse[o], meanDy = sumDy[o] / count, meanDyXhat = sumDyXhat[o] / count
                        for p in 0..<plane {
                            let index = o * plane + p
                            dz[index] = factor * (dz[index] - meanDy - xhat[s][index] * meanDyXhat)
                        }
                    }
                    let g = TrainingLayers.convolutionBackward(dz, input: inputs[s], channels: cin, height: size.height,
                                                               width: size.width, weight: weight, kernelHeight: kh, kernelWidth: kw,
                                                               weightGradient: &dw, biasGradient: &db, inputGradient: wantInput)
                    if let g { dx.append(g) }
                }
                return (dw, db, dx)
            }
            var next = [[Double]](repeating: [], count: batch)
            var weightGradient = [Double](repeating: 0, count: weight.count), biasGradient = [Double](repeating: 0, count: cout)
            for k in 0..<chunks {
                for (index, value) in chunkResults[k].dw.enumerated() { weightGradient[index] += value }
                for (index, value) in chunkResults[k].db.enumerated() { biasGradient[index] += value }
                for (j, s) in stride(from: k, to: batch, by: chunks).enumerated() where wantInput { next[s] = chunkResults[k].dx[j] }
            }
            gradients["conv\(i).weight"] = weightGradient
            gradients["conv\(i).bias"] = biasGradient
            dOut = next
        }
        return BatchResult(loss: loss / Double(batch), correct: correct, gradients: gradients,
                           inputGradients: wantInputGradients ? dOut : nil, batchStatistics: statistics)
    }

    /// Moves the running statistics toward a batch's: r ← (1 − m)·r + m·b, with the unbiased
    /// variance (× M/(M − 1), M = samples × positions).
    public mutating func updateRunningStatistics(_ statistics: [(mean: [Double], variance: [Double])], batchSize: Int) {
        let m = batchNormMomentum
        for (t, stat) in statistics.enumerated() {
            let i = t + 1, size = architecture.inputSize(ofBlock: t)
            let count = Double(batchSize * size.height * size.width)
            for o in stat.mean.indices {
                parameters["bn\(i).running_mean"]![o] = (1 - m) * parameters["bn\(i).running_mean"]![o] + m * stat.mean[o]
                parameters["bn\(i).running_var"]![o] = (1 - m) * parameters["bn\(i).running_var"]![o]
                    + m * stat.variance[o] * count / (count - 1)
            }
        }
    }
}
