import HERing

/// The plaintext kernels of the networks. Feature maps are flat arrays in the order
/// [channel][row][column] (row-major), the layout of PyTorch and of the encrypted packing.
public enum Kernels {
    /// Same-padding, stride-1 convolution (cross-correlation, as PyTorch computes it):
    ///   out[o, i, j] = Σ_c Σ_a Σ_b w[o, c, a, b] · in[c, i + a − ⌊kh/2⌋, j + b − ⌊kw/2⌋],
    /// reads outside the map being 0. `weight` has shape [cout, cin, kh, kw].
    ///
    /// The input is copied into a zero-bordered map of width W' = W + kw − 1; then every kernel
    /// tap (c, a, b) is the same map shifted by c·plane + a·W' + b, and the output on the W'-wide
    /// grid (its kw − 1 extra columns dropped at the end) is the matrix product
    /// out[o, q] = Σ_k w[o, k] · map[q + shift_k] (`shiftedProduct`). Each output sums its taps in
    /// the order (c, a, b), as a plain loop would.
    public static func convolve(_ input: [Double], channels cin: Int, height: Int, width: Int,
                         weight: [Double], outputChannels cout: Int, kernelHeight kh: Int, kernelWidth kw: Int) -> [Double] {
        precondition(input.count == cin * height * width && weight.count == cout * cin * kh * kw)
        let map = ShiftedMap(input, channels: cin, height: height, width: width, kernelHeight: kh, kernelWidth: kw)
        let (padded, shifts, columns, wideWidth) = (map.padded, map.shifts, map.columns, map.wideWidth)
        var wide = [Double](repeating: 0, count: cout * columns)
        padded.withUnsafeBufferPointer { x in
            weight.withUnsafeBufferPointer { w in
                wide.withUnsafeMutableBufferPointer { y in
                    shiftedProduct(weights: w.baseAddress!, rows: cout, source: x.baseAddress!, shifts: shifts,
                                   output: y.baseAddress!, columns: columns)
                }
            }
        }
        var output = [Double](repeating: 0, count: cout * height * width)
        for o in 0..<cout {
            for i in 0..<height {
                for j in 0..<width { output[(o * height + i) * width + j] = wide[o * columns + i * wideWidth + j] }
            }
        }
        return output
    }

    /// A feature map zero-bordered on a grid of width W' = W + kw − 1 (with slack after the last
    /// channel for whole vectors), and the shift of every kernel tap (c, a, b) in the order of
    /// the weights: tap k reads the map at q + shifts[k] for output position q of the W'-wide
    /// grid. The source of `shiftedProduct` and `shiftedTransposedProduct`.
    public struct ShiftedMap {
        /// The channels zero-bordered on the W'-wide grid, with slack after the last channel.
        public let padded: [Double]
        /// Per kernel tap (c, a, b), in the weights' order: its offset into `padded`.
        public let shifts: [Int]
        /// W' and the output columns: H·W' rounded up to a multiple of 8.
        public let wideWidth: Int, columns: Int

        /// The map of `input` (channels × height × width) for a kernel of `kernelHeight × kernelWidth` with same padding.
        public init(_ input: [Double], channels cin: Int, height: Int, width: Int, kernelHeight kh: Int, kernelWidth kw: Int) {
            let ph = kh / 2, pw = kw / 2
            wideWidth = width + kw - 1
            let widePlane = height * wideWidth
            columns = (widePlane + 7) / 8 * 8  // whole vectors; the extra columns read slack and are dropped
            let paddedPlane = (height + kh - 1) * wideWidth + kw
            var padded = [Double](repeating: 0, count: cin * paddedPlane + columns - widePlane + kw)
            for c in 0..<cin {
                for i in 0..<height {
                    for j in 0..<width {
                        padded[c * paddedPlane + (i + ph) * wideWidth + j + pw] = input[(c * height + i) * width + j]
                    }
                }
            }
            var shifts: [Int] = []
            for c in 0..<cin {
                for a in 0..<kh {
                    for b in 0..<kw { shifts.append(c * paddedPlane + a * wideWidth + b) }
                }
            }
            self.padded = padded
            self.shifts = shifts
        }
    }

    /// Eight doubles from an unaligned address.
    @inlinable @inline(__always)
    static func loadVector(_ p: UnsafePointer<Double>) -> SIMD8<Double> { UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Double>.self) }

    /// Rows `first … first + 3` of a row-major matrix whose rows are `stride` apart, those past
    /// `last` replaced by row `last`: the four rows of a register block, valid at the edge.
    @inlinable @inline(__always)
    static func fourRows(_ base: UnsafePointer<Double>, first: Int, last: Int, stride: Int)
        -> (UnsafePointer<Double>, UnsafePointer<Double>, UnsafePointer<Double>, UnsafePointer<Double>) {
        (base + first * stride, base + min(first + 1, last) * stride, base + min(first + 2, last) * stride,
         base + min(first + 3, last) * stride)
    }

    /// out[o, q] = Σ_k w[o, k] · source[shift_k + q] for o < rows, q < columns (a multiple of 8),
    /// k in order: a matrix product whose right factor's rows are shifted views of one buffer.
    /// Four rows × sixteen columns at a time in vector registers, each weight broadcast, each
    /// source vector loaded once for four rows.
    @inlinable
    public static func shiftedProduct(weights w: UnsafePointer<Double>, rows: Int, source: UnsafePointer<Double>, shifts: [Int],
                                      output: UnsafeMutablePointer<Double>, columns: Int) {
        let k = shifts.count
        shifts.withUnsafeBufferPointer { shift in
            let load = loadVector
            func store(_ v: SIMD8<Double>, _ p: UnsafeMutablePointer<Double>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Double>.self) }
            var o = 0
            while o < rows {
                let block = min(4, rows - o)
                let (w0, w1, w2, w3) = fourRows(w, first: o, last: rows - 1, stride: k)
                var q = 0
                while q < columns {
                    let wide = q + 16 <= columns
                    var a0 = SIMD8<Double>(), a1 = SIMD8<Double>(), a2 = SIMD8<Double>(), a3 = SIMD8<Double>()
                    var b0 = SIMD8<Double>(), b1 = SIMD8<Double>(), b2 = SIMD8<Double>(), b3 = SIMD8<Double>()
                    for t in 0..<k {
                        let p = source + shift[t] + q
                        let x = load(p)
                        a0 = a0 + SIMD8(repeating: w0[t]) * x
                        a1 = a1 + SIMD8(repeating: w1[t]) * x
                        a2 = a2 + SIMD8(repeating: w2[t]) * x
                        a3 = a3 + SIMD8(repeating: w3[t]) * x
                        if wide {
                            let y = load(p + 8)
                            b0 = b0 + SIMD8(repeating: w0[t]) * y
                            b1 = b1 + SIMD8(repeating: w1[t]) * y
                            b2 = b2 + SIMD8(repeating: w2[t]) * y
                            b3 = b3 + SIMD8(repeating: w3[t]) * y
                        }
                    }
                    let row = output + o * columns + q
                    store(a0, row)
                    if block > 1 { store(a1, row + columns) }
                    if block > 2 { store(a2, row + 2 * columns) }
                    if block > 3 { store(a3, row + 3 * columns) }
                    if wide {
                        store(b0, row + 8)
                        if block > 1 { store(b1, row + columns + 8) }
                        if block > 2 { store(b2, row + 2 * columns + 8) }
                        if block > 3 { store(b3, row + 3 * columns + 8) }
                    }
                    q += wide ? 16 : 8
                }
                o += 4
            }
        }
    }

    /// out[o, k] += Σ_q g[o, q] · source[shift_k + q] for o < rows, q < columns (a multiple of 8):
    /// the transposed companion of `shiftedProduct` (the weight gradient of a convolution).
    /// Four rows × four shifts at a time, sixteen vector accumulators.
    @inlinable
    public static func shiftedTransposedProduct(_ g: UnsafePointer<Double>, rows: Int, columns: Int, source: UnsafePointer<Double>,
                                                shifts: [Int], output: UnsafeMutablePointer<Double>) {
        let k = shifts.count
        shifts.withUnsafeBufferPointer { shift in
            let load = loadVector
            var o = 0
            while o < rows {
                let block = min(4, rows - o)
                let (g0, g1, g2, g3) = fourRows(g, first: o, last: rows - 1, stride: columns)
                var t = 0
                while t < k {
                    let taps = min(4, k - t)
                    let s0 = source + shift[t], s1 = source + shift[min(t + 1, k - 1)]
                    let s2 = source + shift[min(t + 2, k - 1)], s3 = source + shift[min(t + 3, k - 1)]
                    var a0 = SIMD8<Double>(), a1 = SIMD8<Double>(), a2 = SIMD8<Double>(), a3 = SIMD8<Double>()
                    var a4 = SIMD8<Double>(), a5 = SIMD8<Double>(), a6 = SIMD8<Double>(), a7 = SIMD8<Double>()
                    var a8 = SIMD8<Double>(), a9 = SIMD8<Double>(), a10 = SIMD8<Double>(), a11 = SIMD8<Double>()
                    var a12 = SIMD8<Double>(), a13 = SIMD8<Double>(), a14 = SIMD8<Double>(), a15 = SIMD8<Double>()
                    var q = 0
                    while q < columns {
                        let x0 = load(s0 + q), x1 = load(s1 + q), x2 = load(s2 + q), x3 = load(s3 + q)
                        let y0 = load(g0 + q), y1 = load(g1 + q), y2 = load(g2 + q), y3 = load(g3 + q)
                        a0 = a0 + y0 * x0; a1 = a1 + y0 * x1; a2 = a2 + y0 * x2; a3 = a3 + y0 * x3
                        a4 = a4 + y1 * x0; a5 = a5 + y1 * x1; a6 = a6 + y1 * x2; a7 = a7 + y1 * x3
                        a8 = a8 + y2 * x0; a9 = a9 + y2 * x1; a10 = a10 + y2 * x2; a11 = a11 + y2 * x3
                        a12 = a12 + y3 * x0; a13 = a13 + y3 * x1; a14 = a14 + y3 * x2; a15 = a15 + y3 * x3
                        q += 8
                    }
                    let sums = [a0.sum(), a1.sum(), a2.sum(), a3.sum(), a4.sum(), a5.sum(), a6.sum(), a7.sum(),
                                a8.sum(), a9.sum(), a10.sum(), a11.sum(), a12.sum(), a13.sum(), a14.sum(), a15.sum()]
                    for r in 0..<block {
                        for u in 0..<taps { output[(o + r) * k + t + u] += sums[4 * r + u] }
                    }
                    t += 4
                }
                o += 4
            }
        }
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

    /// Reference logits of many inputs, in parallel over inputs on `parallelism`'s threads;
    /// the result does not depend on the thread count.
    public func referenceLogits(_ inputs: [ActionInput], parallelism: Parallelism = .allProcessors) -> [[Double]] {
        parallelism.map(inputs.count) { referenceLogits(inputs[$0]) }
    }
}
