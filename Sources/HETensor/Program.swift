/// A folded CNN as the packed evaluation sees it: per block one convolution (weights W̃, bias
/// map B̃), one squaring, and a sum pooling (none after the last block, which is followed by the
/// global sum inside the dense layer), then the dense layer L̃·x + b̃. The application layer
/// builds it from its trained models (`Docs/Networks.md` §4 derives the folding).
public struct FoldedCNN: Sendable {
    /// One convolution block: the folded weights W̃ and bias map B̃, applied to a map of `height × width`.
    public struct Block: Sendable {
        /// W̃ flattened [out, in, kh, kw].
        public var weight: [Double]
        /// Output channels of the convolution.
        public var outputChannels: Int
        /// Input channels of the convolution.
        public var inputChannels: Int
        /// Kernel rows (frames in 2D).
        public var kernelHeight: Int
        /// Kernel columns (joints in 2D; frames in 1D).
        public var kernelWidth: Int
        /// B̃ flattened [out, height, width].
        public var biasMap: [Double]
        /// Map rows of the block's input (and output).
        public var height: Int
        /// Map columns of the block's input (and output).
        public var width: Int

        /// A block; the shapes must agree with the weights and the bias map.
        /// - Throws: `HETensorError.invalidNetwork` when a size is outside 1 … 65 536 or a vector's length does not match.
        public init(weight: [Double], outputChannels: Int, inputChannels: Int, kernelHeight: Int, kernelWidth: Int,
                    biasMap: [Double], height: Int, width: Int) throws(HETensorError) {
            guard [outputChannels, inputChannels, kernelHeight, kernelWidth, height, width].allSatisfy({ $0 >= 1 && $0 <= 1 << 16 }) else {
                throw .invalidNetwork("a block of \(outputChannels) × \(inputChannels) × \(kernelHeight) × \(kernelWidth) on \(height) × \(width) maps")
            }
            guard weight.count == outputChannels * inputChannels * kernelHeight * kernelWidth else {
                throw .invalidNetwork("\(weight.count) weights for \(outputChannels) × \(inputChannels) × \(kernelHeight) × \(kernelWidth)")
            }
            guard biasMap.count == outputChannels * height * width else {
                throw .invalidNetwork("a bias map of \(biasMap.count) values for \(outputChannels) × \(height) × \(width)")
            }
            self.weight = weight
            self.outputChannels = outputChannels
            self.inputChannels = inputChannels
            self.kernelHeight = kernelHeight
            self.kernelWidth = kernelWidth
            self.biasMap = biasMap
            self.height = height
            self.width = width
        }

        func w(_ o: Int, _ c: Int, _ a: Int, _ b: Int) -> Double {
            weight[((o * inputChannels + c) * kernelHeight + a) * kernelWidth + b]
        }
    }

    /// 1D or 2D convolutions.
    public var dimension: SlotGeometry.Dimension
    /// The convolution blocks in order.
    public var blocks: [Block]
    /// L̃ flattened [classes, channels of the last block].
    public var linearWeight: [Double]
    /// b̃, one bias per class.
    public var linearBias: [Double]
    /// Input channels the ciphertext carries: 2 (x and y). The network's third input channel
    /// (the detector scores) is zero after preprocessing, so its weights multiply zeros and the
    /// client does not send it.
    public var encryptedInputChannels: Int

    /// A folded network; the dense layer must read the last block's channels.
    /// - Throws: `HETensorError.invalidNetwork` when there is no block or the dense weights do not fit.
    public init(dimension: SlotGeometry.Dimension, blocks: [Block], linearWeight: [Double], linearBias: [Double],
                encryptedInputChannels: Int = 2) throws(HETensorError) {
        guard let last = blocks.last else { throw .invalidNetwork("no convolution block") }
        guard linearWeight.count == linearBias.count * last.outputChannels else {
            throw .invalidNetwork("\(linearWeight.count) linear weights for \(linearBias.count) classes × \(last.outputChannels) channels")
        }
        guard encryptedInputChannels >= 1 else { throw .invalidNetwork("\(encryptedInputChannels) encrypted input channels") }
        self.dimension = dimension
        self.blocks = blocks
        self.linearWeight = linearWeight
        self.linearBias = linearBias
        self.encryptedInputChannels = encryptedInputChannels
    }

    /// The number of classes.
    public var classCount: Int { linearBias.count }
}

/// A constant slot vector of the program: a weight, mask or bias plaintext.
///
/// Most are *blockwise*: one value per (block k, sub-position m), repeated at a set of in-block
/// positions, the whole vector rotated right by `shift` (a pre-rotated plaintext of a baby-step /
/// giant-step sum): slot (512·k + p + offset[m] + shift) mod n holds values[k·M + m] for every p
/// in the position set. The others list their nonzero slots.
///
/// A pattern may be complex (`imaginary` not nil): the weights of two output channels packed as
/// (w₁ + i·w₂)/2 in one plaintext, so that one product computes both (see
/// `SlotInstruction.splitComplex`).
public struct SlotPattern: Sendable {
    /// The values of a pattern, blockwise or listed.
    public enum Form: Sendable {
        /// `values[k·M + m]` at slot `(512·k + p + offsets[m] + shift) mod n` for every `p` in `positionSets[positions]` (M = `offsets.count`).
        case blockwise(values: [Double], offsets: [Int], positions: Int, shift: Int)
        /// `values[i]` at slot `slots[i]`, zeros elsewhere.
        case listed(slots: [Int], values: [Double])
    }

    /// The real part.
    public var form: Form
    /// The imaginary part, nil for a real pattern.
    public var imaginary: Form?
    /// The multiplicative depth already consumed where the pattern is used (for level-aware
    /// encoding: a backend encodes it at level L − depth).
    public var depth: Int

    /// A pattern; `depth` is the levels consumed before its use.
    public init(form: Form, imaginary: Form? = nil, depth: Int) {
        self.form = form
        self.imaginary = imaginary
        self.depth = depth
    }

    /// The full slot vector of the real part.
    public func materialize(slotCount n: Int, positionSets: [[Int]]) -> [Double] {
        Self.materialize(form, slotCount: n, positionSets: positionSets)
    }

    /// The full slot vector of the imaginary part (zeros for a real pattern).
    public func materializeImaginary(slotCount n: Int, positionSets: [[Int]]) -> [Double] {
        guard let imaginary else { return [Double](repeating: 0, count: n) }
        return Self.materialize(imaginary, slotCount: n, positionSets: positionSets)
    }

    static func materialize(_ form: Form, slotCount n: Int, positionSets: [[Int]]) -> [Double] {
        var vector = [Double](repeating: 0, count: n)
        switch form {
        case let .blockwise(values, offsets, positions, shift):
            let m = offsets.count
            for index in values.indices where values[index] != 0 {
                let base = (index / m) * SlotGeometry.blockSize + offsets[index % m] + shift
                for p in positionSets[positions] { vector[(base + p) % n] = values[index] }
            }
        case let .listed(slots, values):
            for (s, v) in zip(slots, values) { vector[s] = v }
        }
        return vector
    }
}

/// One operation on slot vectors. Registers hold ciphertexts (or clear vectors in the simulator).
/// Rotation ρ(x, r)[i] = x[(i + r) mod n] (to the left).
public enum SlotInstruction: Sendable {
    /// ρ(source, r) for every r in `steps` into `targets`; hoisted (one decomposition) when there
    /// are several.
    case rotate(source: Int, steps: [Int], targets: [Int])
    /// Σ pattern ⊙ register, then one rescale (one level).
    case multiplyAccumulate(terms: [Term], target: Int)
    /// Σ sources into `target` (same level and scale).
    case add(sources: [Int], target: Int)
    /// Σᵢ ρ(sourcesᵢ, stepsᵢ) into `target` (same level and scale; a zero step adds the source
    /// itself): one key switch per nonzero step with a shared ModDown (the giant steps of a
    /// baby-step giant-step sum).
    case rotateSum(sources: [Int], steps: [Int], target: Int)
    /// Σ_{r ∈ steps} ρ(source, r) into `target` (a zero step adds the source): a box sum, as in
    /// sum pooling, with one decomposition and one ModDown shared by all the key switches.
    case boxSum(source: Int, steps: [Int], target: Int)
    /// source + pattern, at the source's scale (no level).
    case addPattern(source: Int, pattern: Int, target: Int)
    /// source², relinearized and rescaled (one level).
    case square(source: Int, target: Int)
    /// The complex conjugate of every slot (one key switch, like a rotation).
    case conjugate(source: Int, target: Int)
    /// With z = (a + i·b)/2 in `source` and z̄ in `conjugate`: a = z + z̄ into `real` and
    /// b = i·(z̄ − z) into `imaginary` (additions and a product by the monomial X^{N/2}; no level,
    /// no noise). This unpacks two output channels computed by complex patterns.
    case splitComplex(source: Int, conjugate: Int, real: Int, imaginary: Int)

    /// One product of a multiply-accumulate: register ⊙ pattern.
    public struct Term: Sendable {
        /// The register multiplied.
        public var register: Int
        /// The pattern it is multiplied by.
        public var pattern: Int
    }
}

/// Operation counts of a part of the program.
public struct OperationCounts: Sendable, Equatable, Codable, CustomStringConvertible {
    /// Key switches of rotations (hoisted ones and those of sums of rotations included).
    public var rotations = 0
    /// Of those, rotations that share a decomposition with others (hoisted).
    public var hoistedRotations = 0
    /// Complex conjugations (key switches too, not counted in `rotations`).
    public var conjugations = 0
    /// Plaintext-ciphertext products.
    public var plaintextProducts = 0
    /// Ciphertext squares (each with a relinearization).
    public var squarings = 0
    /// Rescales (one level each).
    public var rescales = 0
    /// Ciphertext additions.
    public var additions = 0

    /// Key switches: rotations, conjugations and the relinearization of every square.
    public var keySwitches: Int { rotations + conjugations + squarings }

    /// Field-by-field sum.
    public static func + (a: OperationCounts, b: OperationCounts) -> OperationCounts {
        OperationCounts(rotations: a.rotations + b.rotations, hoistedRotations: a.hoistedRotations + b.hoistedRotations,
                        conjugations: a.conjugations + b.conjugations, plaintextProducts: a.plaintextProducts + b.plaintextProducts, squarings: a.squarings + b.squarings,
                        rescales: a.rescales + b.rescales, additions: a.additions + b.additions)
    }

    /// One line of the counts.
    public var description: String {
        "\(rotations) rotations (\(hoistedRotations) hoisted), "
            + (conjugations > 0 ? "\(conjugations) conjugations, " : "")
            + "\(plaintextProducts) plaintext products, \(squarings) squarings, \(rescales) rescales"
    }
}

/// A stage: groups of instructions that are independent of each other (each writes only its own
/// registers and reads registers of earlier stages), so a backend may run the groups in parallel.
public struct ProgramStage: Sendable {
    /// The phase it belongs to: "block1", "block2", "block3", "dense".
    public var phase: String
    /// What the stage does ("products", "giant steps", "square", …).
    public var name: String
    /// Independent groups of instructions, each run in order by one worker.
    public var groups: [[SlotInstruction]]

    /// The counts of every instruction in the stage.
    public var counts: OperationCounts {
        var c = OperationCounts()
        for instruction in groups.joined() {
            switch instruction {
            case let .rotate(_, steps, _):
                let nonzero = steps.filter { $0 != 0 }.count
                c.rotations += nonzero
                if nonzero > 1 { c.hoistedRotations += nonzero }
            case let .multiplyAccumulate(terms, _):
                c.plaintextProducts += terms.count
                c.rescales += 1
                c.additions += max(0, terms.count - 1)
            case let .add(sources, _): c.additions += sources.count - 1
            case let .rotateSum(sources, steps, _):
                c.rotations += steps.filter { $0 != 0 }.count
                c.additions += sources.count - 1
            case let .boxSum(_, steps, _):
                let nonzero = steps.filter { $0 != 0 }.count
                c.rotations += nonzero
                if nonzero > 1 { c.hoistedRotations += nonzero }
                c.additions += steps.count - 1
            case .addPattern: c.additions += 1
            case .square:
                c.squarings += 1
                c.rescales += 1
            case .conjugate: c.conjugations += 1
            case .splitComplex: c.additions += 2
            }
        }
        return c
    }
}
