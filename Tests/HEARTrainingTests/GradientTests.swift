import Foundation
import Testing
import HEAR
import HEARTraining
import HERing

/// Deterministic pseudo-random values in [−1, 1).
func randomValues(_ count: Int, seed: UInt8) -> [Double] {
    let g = ChaCha20(seed: [UInt8](repeating: seed, count: 32))
    return (0..<count).map { _ in Double(g.next() >> 11) * 0x1p-52 - 1 }
}

/// The central difference (f(θ + h) − f(θ − h)) / 2h.
func centralDifference(_ h: Double = 1e-5, _ f: (Double) -> Double) -> Double { (f(h) - f(-h)) / (2 * h) }

func relativeError(_ a: Double, _ b: Double) -> Double { abs(a - b) / max(1e-8, abs(a) + abs(b)) }

@Suite("training: backward passes against finite differences")
struct GradientTests {
    @Test("convolution: dW, db and dx (2D 3 × 3 and 1D 1 × 3 kernels)", arguments: [(3, 3), (1, 3)])
    func convolution(kh: Int, kw: Int) {
        let (cin, cout, h, w) = (3, 4, kh == 1 ? 1 : 6, 7)
        let x = randomValues(cin * h * w, seed: 1), weight = randomValues(cout * cin * kh * kw, seed: 2)
        let bias = randomValues(cout, seed: 3), r = randomValues(cout * h * w, seed: 4)
        func loss(_ x: [Double], _ weight: [Double], _ bias: [Double]) -> Double {
            let z = TrainingLayers.convolution(x, channels: cin, height: h, width: w, weight: weight, bias: bias,
                                               kernelHeight: kh, kernelWidth: kw)
            return zip(z, r).reduce(0) { $0 + $1.0 * $1.1 }
        }
        var dw = [Double](repeating: 0, count: weight.count), db = [Double](repeating: 0, count: cout)
        let dx = TrainingLayers.convolutionBackward(r, input: x, channels: cin, height: h, width: w, weight: weight,
                                                    kernelHeight: kh, kernelWidth: kw, weightGradient: &dw, biasGradient: &db,
                                                    inputGradient: true)!
        for k in weight.indices {
            let numeric = centralDifference { e in var v = weight; v[k] += e; return loss(x, v, bias) }
            #expect(relativeError(numeric, dw[k]) < 1e-6, "dW[\(k)]: \(dw[k]) vs \(numeric)")
        }
        for k in bias.indices {
            let numeric = centralDifference { e in var v = bias; v[k] += e; return loss(x, weight, v) }
            #expect(relativeError(numeric, db[k]) < 1e-6)
        }
        for k in x.indices {  // every input position, borders included
            let numeric = centralDifference { e in var v = x; v[k] += e; return loss(v, weight, bias) }
            #expect(relativeError(numeric, dx[k]) < 1e-6, "dx[\(k)]: \(dx[k]) vs \(numeric)")
        }
    }

    @Test("average pooling (odd sizes: the floor drops a row and a column)")
    func pooling() {
        let (c, h, w) = (2, 5, 7)
        let x = randomValues(c * h * w, seed: 5), r = randomValues(c * 2 * 3, seed: 6)
        func loss(_ x: [Double]) -> Double {
            zip(TrainingLayers.averagePool(x, channels: c, height: h, width: w, poolHeight: 2, poolWidth: 2), r).reduce(0) { $0 + $1.0 * $1.1 }
        }
        let dx = TrainingLayers.averagePoolBackward(r, channels: c, height: h, width: w, poolHeight: 2, poolWidth: 2)
        for k in x.indices {
            let numeric = centralDifference { e in var v = x; v[k] += e; return loss(v) }
            #expect(abs(numeric - dx[k]) < 1e-9)
        }
    }

    @Test("softmax cross-entropy")
    func crossEntropy() {
        let logits = randomValues(10, seed: 7).map { 3 * $0 }
        let (loss, gradient) = TrainingLayers.softmaxCrossEntropy(logits, label: 4)
        let expected = -log(exp(logits[4]) / logits.map(exp).reduce(0, +))
        #expect(abs(loss - expected) < 1e-12)
        for k in logits.indices {
            let numeric = centralDifference { e in var v = logits; v[k] += e; return TrainingLayers.softmaxCrossEntropy(v, label: 4).loss }
            #expect(relativeError(numeric, gradient[k]) < 1e-6)
        }
    }

    /// A small network (f = 2: channels 3 → 2 → 4 → 8) with non-trivial batch normalisation and
    /// activation parameters.
    func smallNetwork(_ convolution: NetworkArchitecture.Convolution) -> TrainableNetwork {
        var network = TrainableNetwork(model: HEARModel.randomlyInitialized(
            architecture: NetworkArchitecture(convolution: convolution, filters: 2), seed: 4))
        for name in network.parameters.keys where name.hasPrefix("bn") && !name.contains("running") {
            let count = network.parameters[name]!.count
            network.parameters[name] = randomValues(count, seed: UInt8(name.count)).map { name.hasSuffix("weight") ? 1 + 0.5 * $0 : 0.3 * $0 }
        }
        return network
    }

    @Test("the whole network in training mode: every trainable tensor and the input (batch normalisation, activation, global pooling, linear)",
          arguments: NetworkArchitecture.Convolution.allCases)
    func network(convolution: NetworkArchitecture.Convolution) {
        let network = smallNetwork(convolution)
        let inputs = (0..<3).map { randomValues(3 * 480, seed: UInt8(20 + $0)).map { 0.5 + 0.5 * $0 } }
        let labels = [2, 9, 2]
        let result = network.forwardBackward(inputs, labels: labels, inputGradients: true)
        func loss(_ network: TrainableNetwork, _ inputs: [[Double]]) -> Double { network.forwardBackward(inputs, labels: labels).loss }
        for name in network.trainableNames {
            let values = network.parameters[name]!
            let probes = values.count <= 4 ? Array(values.indices) : [0, values.count / 3, values.count / 2, values.count - 1]
            for k in probes {
                let numeric = centralDifference { e in
                    var n = network
                    n.parameters[name]![k] += e
                    return loss(n, inputs)
                }
                let analytic = result.gradients[name]![k]
                #expect(relativeError(numeric, analytic) < 1e-5 || abs(numeric - analytic) < 1e-9,
                        "\(convolution) \(name)[\(k)]: \(analytic) vs \(numeric)")
            }
        }
        for (s, k) in [(0, 0), (1, 17), (2, 479), (0, 960 + 33)] {
            let numeric = centralDifference { e in
                var x = inputs
                x[s][k] += e
                return loss(network, x)
            }
            let analytic = result.inputGradients![s][k]
            #expect(relativeError(numeric, analytic) < 1e-5 || abs(numeric - analytic) < 1e-9, "input \(s), \(k)")
        }
        // the gradients are not trivially zero
        #expect(result.gradients["conv1.weight"]!.contains { abs($0) > 1e-6 })
    }
}
