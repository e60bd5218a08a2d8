import HERing

/// The plaintext kernels of the networks. Feature maps are flat arrays in the order
/// [channel][row][column] (row-major), the layout of PyTorch and of the encrypted packing.
public enum Kernels {
    /// Same-padding, stride-1 convolution (cross-correlation, as PyTorch computes it):
    ///   out[o, i, j] = Σ_c Σ_a Σ_b w[o, c, a, b] · in[c, i + a − ⌊kh/2⌋, j + b − ⌊kw/2⌋],
    /// reads outside the map being 0. `weight` has shape [cout, cin, kh, kw].
    ///
    /// The input is copied into a zero-bordered map of width W' = W + kw − 1; then every kernel
    /// tap is one contiguous multiply-add over the flattened rows (the output is computed on the
    /// W'-wide grid and its kw − 1 extra columns are dropped), which the compiler vectorizes.
    public static func convolve(_ input: [Double], channels cin: Int, height: Int, width: Int,
                         weight: [Double], outputChannels cout: Int, kernelHeight kh: Int, kernelWidth kw: Int) -> [Double] {
        precondition(input.count == cin * height * width && weight.count == cout * cin * kh * kw)
        let ph = kh / 2, pw = kw / 2
        let wideWidth = width + kw - 1, paddedHeight = height + kh - 1
        let paddedPlane = paddedHeight * wideWidth + kw  // slack: the last taps read past the last row
        let widePlane = height * wideWidth
        var padded = [Double](repeating: 0, count: cin * paddedPlane)
        for c in 0..<cin {
            for i in 0..<height {
                for j in 0..<width {
                    padded[c * paddedPlane + (i + ph) * wideWidth + j + pw] = input[(c * height + i) * width + j]
                }
            }
        }
        var wide = [Double](repeating: 0, count: widePlane)
        var output = [Double](repeating: 0, count: cout * height * width)
        padded.withUnsafeBufferPointer { x in
            weight.withUnsafeBufferPointer { w in
                wide.withUnsafeMutableBufferPointer { y in
                    let target = y.baseAddress!
                    for o in 0..<cout {
                        for q in 0..<widePlane { target[q] = 0 }
                        for c in 0..<cin {
                            let map = x.baseAddress! + c * paddedPlane
                            for a in 0..<kh {
                                for b in 0..<kw {
                                    let value = w[((o * cin + c) * kh + a) * kw + b]
                                    let source = map + a * wideWidth + b
                                    for q in 0..<widePlane { target[q] += value * source[q] }
                                }
                            }
                        }
                        for i in 0..<height {
                            for j in 0..<width { output[(o * height + i) * width + j] = target[i * wideWidth + j] }
                        }
                    }
                }
            }
        }
        return output
    }

    /// Sum over non-overlapping windows ph × pw with stride (ph, pw), floor (rows and columns
    /// that do not fill a window are dropped): [C, H, W] → [C, ⌊H/ph⌋, ⌊W/pw⌋].
    public static func sumPool(_ input: [Double], channels: Int, height: Int, width: Int, poolHeight ph: Int, poolWidth pw: Int) -> [Double] {
        let oh = height / ph, ow = width / pw
        var output = [Double](repeating: 0, count: channels * oh * ow)
        for c in 0..<channels {
            for i in 0..<oh {
                for j in 0..<ow {
                    var sum = 0.0
                    for a in 0..<ph {
                        for b in 0..<pw { sum += input[(c * height + i * ph + a) * width + j * pw + b] }
                    }
                    output[(c * oh + i) * ow + j] = sum
                }
            }
        }
        return output
    }

    /// Σ over each channel's map: [C, H, W] → [C].
    public static func globalSum(_ input: [Double], channels: Int, plane: Int) -> [Double] {
        (0..<channels).map { c in input[(c * plane)..<((c + 1) * plane)].reduce(0, +) }
    }

    /// y = W·x + b for W of shape [rows, x.count].
    public static func affine(_ x: [Double], weight: [Double], bias: [Double]) -> [Double] {
        let columns = x.count
        return bias.indices.map { r in
            var sum = bias[r]
            for k in 0..<columns { sum += weight[r * columns + k] * x[k] }
            return sum
        }
    }
}

extension HEARModel {
    /// Reference inference in `Double`, layer by layer as PyTorch evaluates the model:
    /// conv (same padding) → BN with running statistics, (z − μ)/√(σ² + ε)·γ + β → act
    /// α·y² + β·y + c → average pooling (floor), global average pooling after the third block →
    /// linear. Returns the 10 logits.
    public func referenceLogits(_ input: ActionInput) -> [Double] {
        var x = input.tensor.values
        for t in 0..<NetworkArchitecture.blockCount {
            let block = block(t)
            let size = architecture.inputSize(ofBlock: t)
            let cout = block.outputChannels, plane = size.height * size.width
            var z = Kernels.convolve(x, channels: block.inputChannels, height: size.height, width: size.width,
                                     weight: block.weight.values, outputChannels: cout,
                                     kernelHeight: architecture.kernel.height, kernelWidth: architecture.kernel.width)
            for o in 0..<cout {
                let deviation = (block.runningVariance[o] + batchNormEpsilon).squareRoot()
                for p in 0..<plane {
                    let convolved = z[o * plane + p] + block.bias[o]
                    let y = (convolved - block.runningMean[o]) / deviation * block.bnWeight[o] + block.bnBias[o]
                    z[o * plane + p] = block.alpha * y * y + block.beta * y + block.c
                }
            }
            if t < NetworkArchitecture.blockCount - 1 {
                let window = Double(architecture.pool.height * architecture.pool.width)
                x = Kernels.sumPool(z, channels: cout, height: size.height, width: size.width,
                                    poolHeight: architecture.pool.height, poolWidth: architecture.pool.width).map { $0 / window }
            } else {
                x = Kernels.globalSum(z, channels: cout, plane: plane).map { $0 / Double(plane) }
            }
        }
        return Kernels.affine(x, weight: linearWeight.values, bias: linearBias)
    }

    /// Reference logits of many inputs, in parallel over inputs (`Parallelism.threadCount`);
    /// the result does not depend on the thread count.
    public func referenceLogits(_ inputs: [ActionInput]) -> [[Double]] {
        parallelMap(inputs) { referenceLogits($0) }
    }
}

/// Applies `transform` to every element on `Parallelism.threadCount` threads, keeping the order.
func parallelMap<T, R>(_ items: [T], _ transform: (T) -> R) -> [R] {
    var results = [R?](repeating: nil, count: items.count)
    results.withUnsafeMutableBufferPointer { buffer in
        let slots = UncheckedSendable(buffer)
        Parallelism.forEach(items.count) { i in slots.value[i] = transform(items[i]) }
    }
    return results.map { $0! }
}
