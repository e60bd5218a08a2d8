import Foundation
import HEAR

/// The forward and backward passes of the layers of the paper's CNNs, one sample at a time
/// (batch normalisation, which couples the samples of a batch, is split into per-sample parts
/// and per-channel sums). Feature maps are flat [channel][row][column] arrays; a 1D network is a
/// 2D one of height 1. `Docs/Training.md` derives each backward formula.
public enum TrainingLayers {
    /// Same-padding convolution: `Kernels.convolve` plus the bias.
    public static func convolution(_ x: [Double], channels cin: Int, height: Int, width: Int, weight: [Double], bias: [Double],
                                   kernelHeight kh: Int, kernelWidth kw: Int) -> [Double] {
        let cout = bias.count, plane = height * width
        var z = Kernels.convolve(x, channels: cin, height: height, width: width, weight: weight, outputChannels: cout,
                                 kernelHeight: kh, kernelWidth: kw)
        for o in 0..<cout {
            for p in 0..<plane { z[o * plane + p] += bias[o] }
        }
        return z
    }

    /// The gradients of a same-padding convolution z = conv(x; W) + b from dL/dz:
    ///
    ///     dW[o,c,a,b] = Σ_(i,j) dz[o,i,j] · x[c, i+a−⌊kh/2⌋, j+b−⌊kw/2⌋]      (outside the map: 0)
    ///     db[o]       = Σ_(i,j) dz[o,i,j]
    ///     dx          = conv(dz; W′),  W′[c,o,a,b] = W[o,c,kh−1−a,kw−1−b]     (same padding, odd kernels)
    ///
    /// dW and db are added to `weightGradient` and `biasGradient`; dx is returned when asked.
    public static func convolutionBackward(_ dz: [Double], input x: [Double], channels cin: Int, height: Int, width: Int,
                                           weight: [Double], kernelHeight kh: Int, kernelWidth kw: Int,
                                           weightGradient: inout [Double], biasGradient: inout [Double],
                                           inputGradient: Bool) -> [Double]? {
        let cout = biasGradient.count
        // x zero-bordered on the wide grid, dz on the wide grid (its extra columns zero): then
        // dW = dz × (the shifted views of x)ᵀ, one matrix product (Kernels.shiftedTransposedProduct)
        let map = Kernels.ShiftedMap(x, channels: cin, height: height, width: width, kernelHeight: kh, kernelWidth: kw)
        let (padded, shifts, columns, wideWidth) = (map.padded, map.shifts, map.columns, map.wideWidth)
        var wide = [Double](repeating: 0, count: cout * columns)
        for o in 0..<cout {
            var sum = 0.0
            for i in 0..<height {
                for j in 0..<width {
                    let g = dz[(o * height + i) * width + j]
                    wide[o * columns + i * wideWidth + j] = g
                    sum += g
                }
            }
            biasGradient[o] += sum
        }
        padded.withUnsafeBufferPointer { xp in
            wide.withUnsafeBufferPointer { gp in
                weightGradient.withUnsafeMutableBufferPointer { dw in
                    Kernels.shiftedTransposedProduct(gp.baseAddress!, rows: cout, columns: columns, source: xp.baseAddress!,
                                                     shifts: shifts, output: dw.baseAddress!)
                }
            }
        }
        guard inputGradient else { return nil }
        var flipped = [Double](repeating: 0, count: weight.count)
        for o in 0..<cout {
            for c in 0..<cin {
                for a in 0..<kh {
                    for b in 0..<kw {
                        flipped[((c * cout + o) * kh + (kh - 1 - a)) * kw + (kw - 1 - b)] = weight[((o * cin + c) * kh + a) * kw + b]
                    }
                }
            }
        }
        return Kernels.convolve(dz, channels: cout, height: height, width: width, weight: flipped, outputChannels: cin,
                                kernelHeight: kh, kernelWidth: kw)
    }

    /// Average pooling over windows ph × pw with stride (ph, pw), floor.
    public static func averagePool(_ x: [Double], channels: Int, height: Int, width: Int, poolHeight ph: Int, poolWidth pw: Int) -> [Double] {
        let window = Double(ph * pw)
        return Kernels.sumPool(x, channels: channels, height: height, width: width, poolHeight: ph, poolWidth: pw).map { $0 / window }
    }

    /// dL/dx of average pooling: each window's gradient spread evenly over it (rows and columns
    /// that fill no window get 0).
    public static func averagePoolBackward(_ dy: [Double], channels: Int, height: Int, width: Int,
                                           poolHeight ph: Int, poolWidth pw: Int) -> [Double] {
        let oh = height / ph, ow = width / pw, window = Double(ph * pw)
        var dx = [Double](repeating: 0, count: channels * height * width)
        for c in 0..<channels {
            for i in 0..<oh {
                for j in 0..<ow {
                    let g = dy[(c * oh + i) * ow + j] / window
                    for a in 0..<ph {
                        for b in 0..<pw { dx[(c * height + i * ph + a) * width + j * pw + b] = g }
                    }
                }
            }
        }
        return dx
    }

    /// Softmax cross-entropy of one sample: the loss −log softmax(z)[label] and dL/dz =
    /// softmax(z) − onehot(label).
    public static func softmaxCrossEntropy(_ logits: [Double], label: Int) -> (loss: Double, gradient: [Double]) {
        let top = logits.max()!
        let exponentials = logits.map { exp($0 - top) }
        let total = exponentials.reduce(0, +)
        var gradient = exponentials.map { $0 / total }
        let loss = log(total) - (logits[label] - top)
        gradient[label] -= 1
        return (loss, gradient)
    }
}

