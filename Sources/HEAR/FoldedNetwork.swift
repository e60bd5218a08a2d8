import HEARCrypto
import HETensor
import HERing

/// The inference plan the encrypted path evaluates: each block is one convolution with folded
/// weights and a folded bias map, one squaring, and a sum pooling; then one affine layer.
///
/// Block t of the trained network computes, with BN scale s = γ/√(σ² + ε) and shift
/// τ = β_bn − s·μ (per output channel),
///
///     y = s ⊙ (conv(P_{t−1}; W_t) + b_t) + τ,    a = α·y² + β·y + c,    P_t = avgpool(a).
///
/// Completing the square (α ≠ 0), with σ_t = sign(α) and d_t = c − β²/(4α):
///
///     a = σ_t · u² + d_t,    u = √|α| · (y + β/(2α)) = conv(P_{t−1}; V_t) + √|α|·(s ⊙ b_t + τ + β/(2α)),
///
/// where V_t = √|α| · s ⊙ W_t. Average pooling over k_t values is (1/k_t)·Σ, and the constant d_t
/// survives it, so P_t = (σ_t/k_t) · S_t + d_t with S_t = sumpool(u_t²). The next convolution is
/// linear, hence
///
///     conv(P_t; V_{t+1}) = conv(S_t; (σ_t/k_t)·V_{t+1}) + d_t · conv(1; V_{t+1}),
///
/// where conv(1; V) — the convolution of the all-ones map — is not constant: at the borders the
/// same padding reads zeros. So block t + 1 becomes
///
///     u_{t+1} = conv(S_t; W̃_{t+1}) + B̃_{t+1},   W̃_{t+1} = (σ_t/k_t)·V_{t+1},
///     B̃_{t+1} = √|α|·(s ⊙ b + τ + β/(2α)) + d_t · conv(1; V_{t+1})   (a map, per output position),
///
/// and the head, after global average pooling over the k_3 positions of the last map,
///
///     logits = L·(σ_3/k_3 · Σ u_3² + d_3) + b_L = L̃·Σ u_3² + b̃,   L̃ = (σ_3/k_3)·L,   b̃ = b_L + d_3·L·1.
///
/// Everything but one squaring per block is in the weights: the encrypted network spends one
/// level on each convolution (a plaintext product) and one on each square, instead of a third
/// for the activation's α·y² + β·y + c.
public struct FoldedNetwork: Sendable {
    /// One folded block: W̃, B̃, the map size, the pooling and the folded activation's constants.
    public struct Block: Sendable {
        /// W̃, shape [out, in, kh, kw] (kh = 1 for the 1D networks).
        public var weight: Tensor
        /// B̃, shape [out, H, W]: the folded bias at every output position.
        public var biasMap: Tensor
        /// The input map size (height, width) of this block (same padding keeps it).
        public var height: Int
        /// The input map's width.
        public var width: Int
        /// The sum-pooling window after the squaring; nil for the global sum of the last block.
        public var pool: (height: Int, width: Int)?
        /// σ_t = sign(α_t) and d_t = c − β²/(4α) of the completed square, already folded into the
        /// next layer (kept for inspection and for the encrypted path's tests).
        public var activationSign: Double
        /// d_t = c − β²/(4α).
        public var activationOffset: Double

        /// Input channels of the convolution.
        public var inputChannels: Int { weight.shape[1] }
        /// Output channels of the convolution.
        public var outputChannels: Int { weight.shape[0] }
    }

    /// The network's shape (1D or 2D, filters).
    public var architecture: NetworkArchitecture
    /// The folded model's name and `HEARModel.fingerprint`: the identity the key files record.
    public var modelName: String
    /// The fingerprint of the model the network was folded from.
    public var modelFingerprint: Fingerprint
    /// The names of the ten classes, in score order.
    public var classNames: [String]
    /// The folded blocks in order.
    public var blocks: [Block]
    /// L̃, shape [10, 4f].
    public var linearWeight: Tensor
    /// b̃, 10 values.
    public var linearBias: [Double]

    /// Folds a trained model. Throws `.invalidParameter` when an activation has α = 0 (a linear
    /// activation has no square to complete).
    public init(folding model: HEARModel) throws(ModelError) {
        let architecture = model.architecture
        let kernel = architecture.kernel
        var blocks: [Block] = []
        var previousScale = 1.0   // σ_{t−1}/k_{t−1}; 1 for the input
        var previousOffset = 0.0  // d_{t−1}; 0 for the input
        for t in 0..<NetworkArchitecture.blockCount {
            let block = model.block(t)
            guard block.alpha != 0 else {
                throw .invalidParameter(name: "act\(t + 1).alpha",
                                        reason: "is 0: the activation is linear and cannot be folded into one squaring per block")
            }
            let size = architecture.inputSize(ofBlock: t)
            let cin = block.inputChannels, cout = block.outputChannels
            let rootAlpha = abs(block.alpha).squareRoot()
            let taps = cin * kernel.height * kernel.width
            var v = block.weight.values  // V_t = √|α|·s ⊙ W_t
            var constant = [Double](repeating: 0, count: cout)
            for o in 0..<cout {
                let s = block.bnWeight[o] / (block.runningVariance[o] + model.batchNormEpsilon).squareRoot()
                let tau = block.bnBias[o] - s * block.runningMean[o]
                for k in 0..<taps { v[o * taps + k] *= rootAlpha * s }
                constant[o] = rootAlpha * (s * block.bias[o] + tau + block.beta / (2 * block.alpha))
            }
            let plane = size.height * size.width
            var biasMap = [Double](repeating: 0, count: cout * plane)
            if previousOffset != 0 {
                biasMap = Kernels.convolve([Double](repeating: 1, count: cin * plane), channels: cin,
                                           height: size.height, width: size.width, weight: v, outputChannels: cout,
                                           kernelHeight: kernel.height, kernelWidth: kernel.width)
                for i in biasMap.indices { biasMap[i] *= previousOffset }
            }
            for o in 0..<cout {
                for p in 0..<plane { biasMap[o * plane + p] += constant[o] }
            }
            let last = t == NetworkArchitecture.blockCount - 1
            let sign: Double = block.alpha > 0 ? 1 : -1
            let offset = block.c - block.beta * block.beta / (4 * block.alpha)
            blocks.append(Block(weight: Tensor(shape: block.weight.shape, values: v.map { $0 * previousScale }),
                                biasMap: Tensor(shape: [cout, size.height, size.width], values: biasMap),
                                height: size.height, width: size.width,
                                pool: last ? nil : architecture.pool,
                                activationSign: sign, activationOffset: offset))
            let window = last ? plane : architecture.pool.height * architecture.pool.width
            previousScale = sign / Double(window)
            previousOffset = offset
        }
        let linear = model.linearWeight
        let columns = linear.shape[1]
        var bias = model.linearBias
        for r in bias.indices {
            for k in 0..<columns { bias[r] += previousOffset * linear.values[r * columns + k] }
        }
        self.architecture = architecture
        self.modelName = model.name
        self.modelFingerprint = model.fingerprint
        self.classNames = model.classNames
        self.blocks = blocks
        self.linearWeight = Tensor(shape: linear.shape, values: linear.values.map { $0 * previousScale })
        self.linearBias = bias
    }

    /// Plaintext evaluation of the folded plan: per block u = conv(x; W̃) + B̃, x ← sumpool(u²)
    /// (the global sum after the last block), then L̃·x + b̃. Equals `HEARModel.referenceLogits`
    /// up to rounding.
    public func logits(_ input: ActionInput) -> [Double] {
        var x = input.tensor.values
        for block in blocks {
            var u = Kernels.convolve(x, channels: block.inputChannels, height: block.height, width: block.width,
                                     weight: block.weight.values, outputChannels: block.outputChannels,
                                     kernelHeight: block.weight.shape[2], kernelWidth: block.weight.shape[3])
            for i in u.indices {
                let value = u[i] + block.biasMap.values[i]
                u[i] = value * value
            }
            if let pool = block.pool {
                x = Kernels.sumPool(u, channels: block.outputChannels, height: block.height, width: block.width,
                                    poolHeight: pool.height, poolWidth: pool.width)
            } else {
                x = Kernels.globalSum(u, channels: block.outputChannels, plane: block.height * block.width)
            }
        }
        return Kernels.affine(x, weight: linearWeight.values, bias: linearBias)
    }

    /// Folded logits of many inputs, in parallel over inputs on `parallelism`'s threads;
    /// independent of the thread count.
    public func logits(_ inputs: [ActionInput], parallelism: Parallelism = .allProcessors) -> [[Double]] {
        parallelism.map(inputs.count) { logits(inputs[$0]) }
    }

    /// The folded network in the form the packed evaluation compiles (`HETensor`).
    public var packed: FoldedCNN {
        get throws(HETensorError) { try packedNetwork() }
    }

    func packedNetwork() throws(HETensorError) -> FoldedCNN {
        var packedBlocks: [FoldedCNN.Block] = []
        for block in blocks {
            packedBlocks.append(try FoldedCNN.Block(weight: block.weight.values, outputChannels: block.outputChannels,
                                                    inputChannels: block.inputChannels, kernelHeight: block.weight.shape[2],
                                                    kernelWidth: block.weight.shape[3], biasMap: block.biasMap.values,
                                                    height: block.height, width: block.width))
        }
        return try FoldedCNN(dimension: architecture.convolution == .twoD ? .two : .one, blocks: packedBlocks,
                             linearWeight: linearWeight.values, linearBias: linearBias)
    }

    /// The packed program of this network in `slotCount` slots (`PackedProgram.compile`).
    /// - Throws: `ProtocolError.invalidInput` when the network does not fit the slots.
    public func compiled(slotCount: Int, method: HEMethod, strategies: [ConvolutionStrategy?] = [],
                         packing: ChannelPacking = .auto) throws(ProtocolError) -> PackedProgram {
        do {
            return try PackedProgram.compile(packedNetwork(), slotCount: slotCount, method: method, strategies: strategies, packing: packing)
        } catch {
            throw .invalidInput("cannot pack \(printable(modelName)) into \(slotCount) slots: \(error.description)")
        }
    }
}
