/// The two homomorphic evaluation methods of the paper.
public enum HEMethod: String, Sendable, CaseIterable {
    /// Convolutions directly on the sparse ciphertexts left by pooling.
    case hear
    /// Merge the sparse ciphertexts first (mask, rotate, add), convolve the dense result with
    /// concatenated kernels, then sum the partial results across sub-positions.
    case fastHEAR = "fast-hear"
}

/// How a multi-channel convolution arranges its rotations (paper eq. 7–10). With n_in input
/// ciphertexts, n_out outputs, D diagonals (block rotations by 512·d) and T kernel taps:
public enum ConvolutionStrategy: String, Sendable, CaseIterable {
    /// Every input rotated by every (diagonal, tap) combination, shared by all outputs:
    /// n_in·(D·T − 1) hoisted rotations.
    case full
    /// Baby steps over the taps (hoisted), giant steps over the diagonals (one per output and
    /// diagonal, on the accumulated sum; an output's giant steps share one ModDown):
    /// n_in·(T − 1) + n_out·(D − 1).
    case giant
    /// Baby steps over the diagonals (hoisted), giant steps over the taps:
    /// n_in·(D − 1) + n_out·(T − 1).
    case baby

    /// Rotation cost in key switches: hoisted rotations (one ModUp shared) at `hoistedWeight`
    /// of a full one, the giant steps of an output (summed with one ModDown shared,
    /// `SlotInstruction.rotateSum`) at `sumWeight`. Both weights measured on 2D-CNN-64 at the
    /// default preset (`HEARBenchmarks inference --profile yes`): a hoisted rotation costs 0.55–0.65
    /// of a single one, a rotation of a sum 0.45–0.65 (ModDown is 40–50 % of a key switch).
    static func cost(_ s: ConvolutionStrategy, inputs: Int, outputs: Int, diagonals: Int, taps: Int,
                     hoistedWeight: Double = 0.6, sumWeight: Double = 0.6) -> Double {
        switch s {
        case .full: return hoistedWeight * Double(inputs * (diagonals * taps - 1))
        case .giant: return hoistedWeight * Double(inputs * (taps - 1)) + sumWeight * Double(outputs * (diagonals - 1))
        case .baby: return hoistedWeight * Double(inputs * (diagonals - 1)) + sumWeight * Double(outputs * (taps - 1))
        }
    }
}

/// How a convolution's output channels are packed into the products.
///
/// With *complex* packing one plaintext holds the weights of two output ciphertexts o₁, o₂ as
/// (w₁ + i·w₂)/2: the inputs are real, so one product computes z = (a + i·b)/2 with a, b the two
/// outputs. The sub-position sums and the bias (b₁ + i·b₂)/2 act on z; one conjugation then
/// splits it: a = z + z̄, b = i·(z̄ − z). Half the weight plaintexts, half the products and half
/// the output-side rotations, for one conjugation per pair.
public enum ChannelPacking: String, Sendable, CaseIterable {
    /// Complex where the cost model says it saves time (many products per output).
    case auto
    /// One real output ciphertext per product sum.
    case real
    /// Pair the output ciphertexts of every convolution with two or more.
    case complex
}

/// A network compiled to slot operations: the layouts, the constant vectors, the instruction
/// stages, the rotation steps (Galois keys are generated for these and no others) and the
/// multiplicative depth (the levels the ciphertext must start with).
public struct PackedProgram: Sendable {
    /// How slots are grouped into channel blocks.
    public var geometry: SlotGeometry
    /// HEAR (sparse layouts) or Fast-HEAR (merged layouts).
    public var method: HEMethod
    /// Per block, how its convolution is computed (the compiler's choice or the one asked for).
    public var strategies: [ConvolutionStrategy]
    /// Whether each block's convolution pairs its outputs with complex patterns.
    public var complexPacked: [Bool]
    /// Where the input clip's channels sit in the input ciphertext.
    public var inputLayout: PackedLayout
    /// The layout entering each block's convolution (after any Fast-HEAR merge).
    public var convolutionLayouts: [PackedLayout]
    /// The layout each block leaves (after its pooling; the last block's, unpooled, is what the
    /// dense layer reads).
    public var blockOutputLayouts: [PackedLayout]
    /// The program's constant vectors, indexed by the instructions' `pattern` fields.
    public var patterns: [SlotPattern]
    /// Sets of in-block positions that blockwise patterns repeat their values at (shared, by index).
    public var positionSets: [[Int]]
    /// The stages in order; each stage's groups may run in parallel.
    public var stages: [ProgramStage]
    /// Registers the program uses (0 is the input).
    public var registerCount: Int
    /// The register holding the input ciphertext.
    public let inputRegister = 0
    /// The register holding the result after the last stage.
    public var outputRegister: Int
    /// The slot of class r's score in the result ciphertext.
    public var outputSlots: [Int]
    /// Levels consumed from input to result.
    public var depth: Int

    /// The rotation steps used, in 1 ..< slotCount (a left rotation by −r is one by n − r).
    public var rotationSteps: [Int] {
        var steps = Set<Int>()
        for instruction in stages.flatMap({ $0.groups.joined() }) {
            switch instruction {
            case let .rotate(_, s, _), let .rotateSum(_, s, _), let .boxSum(_, s, _): steps.formUnion(s.filter { $0 != 0 })
            default: break
            }
        }
        return steps.sorted()
    }

    /// Operation counts of the whole program.
    public var counts: OperationCounts { stages.map(\.counts).reduce(OperationCounts(), +) }

    /// Counts per phase ("block1", …, "dense"), in program order.
    public var countsByPhase: [(phase: String, counts: OperationCounts)] {
        var result: [(String, OperationCounts)] = []
        for stage in stages {
            if let last = result.last, last.0 == stage.phase {
                result[result.count - 1].1 = last.1 + stage.counts
            } else {
                result.append((stage.phase, stage.counts))
            }
        }
        return result
    }

    /// The input tensor ([channels][height][width] flattened, at least `encryptedInputChannels`
    /// channels; 1D: [channels][480]) as the slot vector the client encrypts.
    /// - Throws: `HETensorError.invalidInput` when `input` is shorter than the encrypted channels.
    public func inputSlots(_ input: [Double]) throws(HETensorError) -> [Double] {
        try Self.inputSlots(input, geometry: geometry, channels: inputLayout.channels)
    }

    /// The client's encoding of the input, which needs no more of the program than the slot
    /// geometry and the number of encrypted input channels C: block k of the slot vector holds
    /// input channel k mod C (the replicated layout), entry (i, j) at offset i·W_row + j.
    public static func inputSlots(_ input: [Double], geometry: SlotGeometry, channels: Int) throws(HETensorError) -> [Double] {
        guard channels >= 1, geometry.blockCount % channels == 0 else {
            throw .invalidInput("\(channels) input channels do not divide the \(geometry.blockCount) blocks of a ciphertext")
        }
        let layout = PackedLayout(geometry: geometry, kind: .replicated, channels: channels,
                                  height: geometry.inputHeight, width: geometry.inputWidth, stride: 1)
        let plane = layout.height * layout.width
        guard input.count >= channels * plane else {
            throw .invalidInput("\(input.count) input values for \(channels) channels of \(layout.height) × \(layout.width)")
        }
        var slots = [Double](repeating: 0, count: geometry.slotCount)
        for k in 0..<geometry.blockCount {
            let c = k % layout.channels
            for i in 0..<layout.height {
                for j in 0..<layout.width {
                    slots[k * SlotGeometry.blockSize + geometry.offset(row: i, column: j, stride: 1)] = input[c * plane + i * layout.width + j]
                }
            }
        }
        return slots
    }

    /// Compiles a folded network. `strategies[t]` fixes block t's convolution strategy; nil (or a
    /// missing entry) picks the one with the fewest rotations. `packing`: real or complex output
    /// packing of the convolutions (auto: by the cost model, per block).
    public static func compile(_ network: FoldedCNN, slotCount: Int, method: HEMethod,
                               strategies requested: [ConvolutionStrategy?] = [],
                               packing: ChannelPacking = .auto) throws(HETensorError) -> PackedProgram {
        var builder = ProgramBuilder(geometry: try SlotGeometry(slotCount: slotCount, dimension: network.dimension))
        return try builder.compile(network, method: method, requested: requested, packing: packing)
    }
}

struct ProgramBuilder {
    /// A plaintext product's cost relative to a key switch, for the packing choice. Measured in
    /// the 2D-CNN-64 program at the default preset (perf, one thread): 2 032 products take 30 %
    /// of the evaluation and 236 key switches 55 %, a product ≈ 1/16 of a key switch (the weight
    /// plaintexts stream from memory). The choices are the same from 1/70 (an isolated product
    /// on cached data) to 1/16, except 2D-CNN-128's block 1.
    static let productCost = 0.05

    let geometry: SlotGeometry
    var patterns: [SlotPattern] = []
    var positionSets: [[Int]] = []
    var positionSetIndex: [[Int]: Int] = [:]
    var stages: [ProgramStage] = []
    var nextRegister = 1

    init(geometry: SlotGeometry) { self.geometry = geometry }

    var n: Int { geometry.slotCount }
    var blocks: Int { geometry.blockCount }

    mutating func register() -> Int {
        defer { nextRegister += 1 }
        return nextRegister
    }

    mutating func positionSet(_ positions: [Int]) -> Int {
        if let index = positionSetIndex[positions] { return index }
        positionSets.append(positions)
        positionSetIndex[positions] = positionSets.count - 1
        return positionSets.count - 1
    }

    mutating func pattern(_ form: SlotPattern.Form, depth: Int) -> Int {
        patterns.append(SlotPattern(form: form, depth: depth))
        return patterns.count - 1
    }

    func normalized(_ step: Int) -> Int { ((step % n) + n) % n }

    /// The in-block offsets of the valid entries of an H × W map at stride s.
    func positions(height: Int, width: Int, stride: Int, rows: Range<Int>? = nil, columns: Range<Int>? = nil) -> [Int] {
        var result: [Int] = []
        for i in rows ?? 0..<height {
            for j in columns ?? 0..<width { result.append(geometry.offset(row: i, column: j, stride: stride)) }
        }
        return result
    }

    /// ρ(source, step) appended to `group`, or `source` itself when the step is a multiple of n.
    mutating func rotated(_ source: Int, by step: Int, into group: inout [SlotInstruction]) -> Int {
        let step = normalized(step)
        guard step != 0 else { return source }
        let target = register()
        group.append(.rotate(source: source, steps: [step], targets: [target]))
        return target
    }

    /// The sum of x over the box of offsets spanned by `steps` (every subset sum of them). With
    /// two or three steps one box sum (`SlotInstruction.boxSum`: 3 or 7 key products sharing one
    /// decomposition and one ModDown; measured on 2D-CNN-64 at levels 2–7, 0.65–0.71 of the time
    /// of the 2 or 3 sequential rotations, for one to three more Galois keys (the diagonal
    /// offsets)); otherwise rotate-and-add, x + ρ(x, step) for each step in turn.
    mutating func rotateAndAdd(_ source: Int, steps: [Int], into group: inout [SlotInstruction]) -> Int {
        if (2...3).contains(steps.count) {
            let offsets = steps.reduce([0]) { sums, step in sums + sums.map { normalized($0 + step) } }
            let target = register()
            group.append(.boxSum(source: source, steps: offsets, target: target))
            return target
        }
        var current = source
        for step in steps {
            let moved = rotated(current, by: step, into: &group)
            let sum = register()
            group.append(.add(sources: [current, moved], target: sum))
            current = sum
        }
        return current
    }

    /// A stage with one group per source: its rotate-and-add over `steps`. Returns the sums.
    mutating func rotateAndAddStage(_ sources: [Int], steps: [Int], phase: String, name: String) -> [Int] {
        var result: [Int] = [], groups: [[SlotInstruction]] = []
        for source in sources {
            var g: [SlotInstruction] = []
            result.append(rotateAndAdd(source, steps: steps, into: &g))
            groups.append(g)
        }
        stages.append(ProgramStage(phase: phase, name: name, groups: groups))
        return result
    }

    mutating func compile(_ network: FoldedCNN, method: HEMethod, requested: [ConvolutionStrategy?],
                          packing: ChannelPacking) throws(HETensorError) -> PackedProgram {
        let inputLayout = PackedLayout(geometry: geometry, kind: .replicated, channels: network.encryptedInputChannels,
                                       height: geometry.inputHeight, width: geometry.inputWidth, stride: 1)
        guard network.encryptedInputChannels >= 1, blocks % network.encryptedInputChannels == 0 else {
            throw .invalidNetwork("\(network.encryptedInputChannels) encrypted input channels do not divide the \(blocks) blocks of a ciphertext")
        }
        var layout = inputLayout
        var current = [0]
        var depth = 0
        var chosen: [ConvolutionStrategy] = []
        var complexPacked: [Bool] = []
        var convolutionLayouts: [PackedLayout] = [], blockOutputLayouts: [PackedLayout] = []
        for (t, block) in network.blocks.enumerated() {
            let phase = "block\(t + 1)"
            guard block.height == layout.height && block.width == layout.width else {
                throw .invalidNetwork("block \(t + 1) expects \(block.height) × \(block.width) maps, its input is \(layout.height) × \(layout.width)")
            }
            // Fast-HEAR: interlace the sparse ciphertexts.
            if method == .fastHEAR, case .sparse = layout.kind {
                let load = min(geometry.load(stride: layout.stride), layout.sparseCount)
                if load > 1 {
                    (current, layout) = merge(current, layout: layout, load: load, depth: depth, phase: phase)
                    depth += 1
                }
            }
            convolutionLayouts.append(layout)
            let strategy = t < requested.count ? requested[t] : nil
            var subpositionSteps: [Int] = []
            if case .merged = layout.kind {
                subpositionSteps = postProcessSteps(subpositions: layout.subpositionCount(ciphertext: 0), stride: layout.stride)
            }
            let (outputs, used, pairs) = convolve(current, layout: layout, block: block, depth: depth, phase: phase,
                                                  strategy: strategy, packing: packing, outputSideSteps: subpositionSteps.count)
            chosen.append(used)
            complexPacked.append(pairs.contains { $0.count == 2 })
            depth += 1
            var outputLayout = PackedLayout(geometry: geometry, kind: .sparse, channels: block.outputChannels,
                                            height: block.height, width: block.width, stride: layout.stride)
            // Fast-HEAR: sum the partial results of the sub-positions.
            var summed = outputs
            if !subpositionSteps.isEmpty {
                summed = rotateAndAddStage(outputs, steps: subpositionSteps, phase: phase, name: "sum sub-positions")
            }
            // Bias map, then the square; complex pairs are split after the bias.
            func biasMap(_ o: Int, factor: Double) -> SlotPattern.Form {
                var slots: [Int] = [], values: [Double] = []
                for k in 0..<blocks where o * blocks + k < block.outputChannels {
                    let c = o * blocks + k
                    for i in 0..<block.height {
                        for j in 0..<block.width {
                            slots.append(k * SlotGeometry.blockSize + geometry.offset(row: i, column: j, stride: layout.stride))
                            values.append(factor * block.biasMap[(c * block.height + i) * block.width + j])
                        }
                    }
                }
                return .listed(slots: slots, values: values)
            }
            // the bias (and the split of a complex pair), then each channel's square as a group of
            // its own: two squares of a pair are independent work
            var split: [[SlotInstruction]] = [], squaring: [[SlotInstruction]] = []
            var squares: [Int] = []
            for (pair, summedRegister) in zip(pairs, summed) {
                let shifted = register()
                var channels: [Int] = []
                if pair.count == 1 {
                    let bias = pattern(biasMap(pair[0], factor: 1), depth: depth)
                    split.append([.addPattern(source: summedRegister, pattern: bias, target: shifted)])
                    channels = [shifted]
                } else {
                    let bias = patterns.count
                    patterns.append(SlotPattern(form: biasMap(pair[0], factor: 0.5), imaginary: biasMap(pair[1], factor: 0.5),
                                                depth: depth))
                    let conjugated = register(), first = register(), second = register()
                    split.append([.addPattern(source: summedRegister, pattern: bias, target: shifted),
                                  .conjugate(source: shifted, target: conjugated),
                                  .splitComplex(source: shifted, conjugate: conjugated, real: first, imaginary: second)])
                    channels = [first, second]
                }
                for channel in channels {
                    let square = register()
                    squaring.append([.square(source: channel, target: square)])
                    squares.append(square)
                }
            }
            stages.append(ProgramStage(phase: phase, name: pairs.contains { $0.count > 1 } ? "bias and split" : "bias", groups: split))
            stages.append(ProgramStage(phase: phase, name: "square", groups: squaring))
            depth += 1
            current = squares
            // Sum pooling (not after the last block: the dense layer sums globally).
            if t < network.blocks.count - 1 {
                let s = layout.stride
                let steps = geometry.dimension == .two ? [s, s * geometry.rowWidth] : [s]
                current = rotateAndAddStage(current, steps: steps, phase: phase, name: "pooling")
                outputLayout = PackedLayout(geometry: geometry, kind: .sparse, channels: block.outputChannels,
                                            height: geometry.dimension == .two ? block.height / 2 : 1,
                                            width: block.width / 2, stride: 2 * s)
            }
            layout = outputLayout
            blockOutputLayouts.append(outputLayout)
        }
        let (result, slots) = dense(current, layout: layout, network: network, depth: depth)
        depth += 1
        return PackedProgram(geometry: geometry, method: method, strategies: chosen, complexPacked: complexPacked,
                             inputLayout: inputLayout,
                             convolutionLayouts: convolutionLayouts, blockOutputLayouts: blockOutputLayouts, patterns: patterns, positionSets: positionSets,
                             stages: stages, registerCount: nextRegister, outputRegister: result, outputSlots: slots, depth: depth)
    }

    /// Masks the valid entries of `load` sparse ciphertexts and interlaces them into one.
    mutating func merge(_ sources: [Int], layout: PackedLayout, load: Int, depth: Int, phase: String) -> ([Int], PackedLayout) {
        let s = layout.stride
        let mask = pattern(.blockwise(values: [Double](repeating: 1, count: blocks), offsets: [0],
                                      positions: positionSet(positions(height: layout.height, width: layout.width, stride: s)), shift: 0),
                           depth: depth)
        // each source masked and shifted to its sub-position (a group each), then the sums
        var merged: [Int] = [], shifting: [[SlotInstruction]] = [], groups: [[SlotInstruction]] = []
        for g in 0..<((sources.count + load - 1) / load) {
            var parts: [Int] = []
            for m in 0..<min(load, sources.count - g * load) {
                let masked = register()
                var group: [SlotInstruction] = [.multiplyAccumulate(terms: [.init(register: sources[g * load + m], pattern: mask)],
                                                                    target: masked)]
                parts.append(rotated(masked, by: -geometry.subpositionOffset(m, stride: s), into: &group))
                shifting.append(group)
            }
            let target = register()
            groups.append([.add(sources: parts, target: target)])
            merged.append(target)
        }
        stages.append(ProgramStage(phase: phase, name: "mask and shift", groups: shifting))
        stages.append(ProgramStage(phase: phase, name: "merge", groups: groups))
        var mergedLayout = layout
        mergedLayout.kind = .merged(load: load)
        return (merged, mergedLayout)
    }

    /// The rotate-and-add steps that sum the partial results at the sub-positions of each cell
    /// into sub-position 0 (Fast-HEAR, after a merged convolution).
    func postProcessSteps(subpositions used: Int, stride s: Int) -> [Int] {
        var steps: [Int] = []
        if geometry.dimension == .two {
            let columns = min(s, used), rows = (used + s - 1) / s
            var c = 1
            while c < columns { steps.append(c); c *= 2 }
            var r = 1
            while r < rows { steps.append(r * geometry.rowWidth); r *= 2 }
        } else {
            var c = 1
            while c < used { steps.append(c); c *= 2 }
        }
        return steps
    }

    /// The multi-channel convolution (paper eq. 7–10), masks folded into the weight patterns.
    mutating func convolve(_ sources: [Int], layout: PackedLayout, block: FoldedCNN.Block, depth: Int, phase: String,
                           strategy requested: ConvolutionStrategy?, packing: ChannelPacking,
                           outputSideSteps: Int) -> ([Int], ConvolutionStrategy, [[Int]]) {
        let plan = planConvolution(sourceCount: sources.count, layout: layout, block: block, strategy: requested,
                                   packing: packing, outputSideSteps: outputSideSteps)
        let weights = ConvolutionWeights(plan: plan, layout: layout, block: block, blockCount: blocks, depth: depth)
        let outputs: [Int]
        switch plan.strategy {
        case .full: outputs = emitFullStep(sources, plan: plan, weights: weights, phase: phase)
        case .giant, .baby: outputs = emitBabyGiant(sources, plan: plan, weights: weights, phase: phase)
        }
        return (outputs, plan.strategy, plan.pairs)
    }

    /// The kernel taps that touch the map (tap (a, b) shifts by (a − ⌊kh/2⌋, b − ⌊kw/2⌋); a tap
    /// whose shifted map is empty is left out), the diagonals, and the choice of strategy and
    /// packing by their cost in key switches: rotations (hoisted ones and giant steps at 0.6), products
    /// (`productCost` each), the output-side sub-position sums and conjugations.
    mutating func planConvolution(sourceCount inputCount: Int, layout: PackedLayout, block: FoldedCNN.Block,
                                  strategy requested: ConvolutionStrategy?, packing: ChannelPacking,
                                  outputSideSteps: Int) -> ConvolutionPlan {
        let s = layout.stride
        let ph = block.kernelHeight / 2, pw = block.kernelWidth / 2
        let diagonals: [Int] = layout.kind == .replicated ? Array(0..<layout.channels) : Array(0..<blocks)
        var taps: [ConvolutionPlan.Tap] = []
        for a in 0..<block.kernelHeight {
            for b in 0..<block.kernelWidth {
                let u = a - ph, v = b - pw
                let rows = max(0, -u)..<min(block.height, block.height - u)
                let columns = max(0, -v)..<min(block.width, block.width - v)
                guard !rows.isEmpty, !columns.isEmpty else { continue }
                let offset = geometry.dimension == .two ? s * (u * geometry.rowWidth + v) : s * v
                let set = positionSet(positions(height: block.height, width: block.width, stride: s, rows: rows, columns: columns))
                taps.append(.init(a: a, b: b, offset: offset, positions: set))
            }
        }
        let outputCount = (block.outputChannels + blocks - 1) / blocks
        let (d, t) = (diagonals.count, taps.count)
        func best(groups: Int) -> (ConvolutionStrategy, Double) {
            let candidates = requested.map { [$0] } ?? ConvolutionStrategy.allCases
            return candidates.map { ($0, ConvolutionStrategy.cost($0, inputs: inputCount, outputs: groups, diagonals: d, taps: t)) }
                .min { $0.1 < $1.1 }!
        }
        func total(groups: Int, conjugations: Int) -> (ConvolutionStrategy, Double) {
            let (strategy, rotations) = best(groups: groups)
            let products = Double(inputCount * d * t * groups) * Self.productCost
            return (strategy, rotations + products + Double(outputSideSteps * groups + conjugations))
        }
        let real = total(groups: outputCount, conjugations: 0)
        let complex = total(groups: (outputCount + 1) / 2, conjugations: outputCount / 2)
        let paired: Bool
        switch packing {
        case .real: paired = false
        case .complex: paired = outputCount > 1
        case .auto: paired = outputCount > 1 && complex.1 < real.1
        }
        let pairs: [[Int]] = paired
            ? stride(from: 0, to: outputCount, by: 2).map { Array($0..<min($0 + 2, outputCount)) }
            : (0..<outputCount).map { [$0] }
        let subpositions = (0..<inputCount).map { layout.subpositionCount(ciphertext: $0) }
        return ConvolutionPlan(taps: taps, diagonals: diagonals, pairs: pairs, strategy: paired ? complex.0 : real.0,
                               subpositions: subpositions,
                               offsets: (0..<(subpositions.first ?? 1)).map { geometry.subpositionOffset($0, stride: s) })
    }

    /// Full-step: every (diagonal, tap) rotation of every input, hoisted per input and shared by
    /// all outputs, then one multiply-accumulate per output.
    mutating func emitFullStep(_ sources: [Int], plan: ConvolutionPlan, weights: ConvolutionWeights, phase: String) -> [Int] {
        let taps = plan.taps
        let steps = plan.diagonals.flatMap { d in taps.map { SlotGeometry.blockSize * d + $0.offset } }
        let rotated = hoistedRotationStage(sources, steps: steps, phase: phase, name: "rotations (full-step)")   // [input][d · taps + tap]
        var groups: [[SlotInstruction]] = []
        var outputs: [Int] = []
        for o in plan.pairs.indices {
            var terms: [SlotInstruction.Term] = []
            for x in sources.indices {
                for (di, d) in plan.diagonals.enumerated() {
                    for tap in taps.indices {
                        if let p = weights.pattern(o, x, d, tap, shift: 0, builder: &self) {
                            terms.append(.init(register: rotated[x][di * taps.count + tap], pattern: p))
                        }
                    }
                }
            }
            let target = register()
            groups.append([.multiplyAccumulate(terms: terms, target: target)])
            outputs.append(target)
        }
        stages.append(ProgramStage(phase: phase, name: "products", groups: groups))
        return outputs
    }

    /// One stage of hoisted rotations, a group per source: `[source][step]` is the register of
    /// the source rotated by `steps[step]` (normalized; a zero step is the source itself).
    mutating func hoistedRotationStage(_ sources: [Int], steps: [Int], phase: String, name: String) -> [[Int]] {
        var rotated: [[Int]] = []
        var groups: [[SlotInstruction]] = []
        let normalizedSteps = steps.map(normalized)
        for source in sources {
            let targets = normalizedSteps.map { $0 == 0 ? source : register() }
            let pairs = zip(normalizedSteps, targets).filter { $0.0 != 0 }
            groups.append([.rotate(source: source, steps: pairs.map(\.0), targets: pairs.map(\.1))])
            rotated.append(targets)
        }
        stages.append(ProgramStage(phase: phase, name: name, groups: groups))
        return rotated
    }

    /// Baby-step giant-step: hoisted baby-step rotations of each input; per output and giant
    /// index, the sum of the products with patterns pre-rotated by the giant step, then one
    /// rotation of that sum. `.giant`: taps are the baby steps, diagonals the giant ones;
    /// `.baby` the other way round.
    mutating func emitBabyGiant(_ sources: [Int], plan: ConvolutionPlan, weights: ConvolutionWeights, phase: String) -> [Int] {
        let strategy = plan.strategy
        let blockOffsets = plan.diagonals.map { SlotGeometry.blockSize * $0 }, tapOffsets = plan.taps.map(\.offset)
        let babyOffsets = strategy == .giant ? tapOffsets : blockOffsets
        let giantOffsets = strategy == .giant ? blockOffsets : tapOffsets
        let rotated = hoistedRotationStage(sources, steps: babyOffsets, phase: phase, name: "baby-step rotations (\(strategy.rawValue))")
        // one stage of products, a group per (output, giant step): the widest independent work of
        // the convolution; then one stage of giant steps, a group per output
        var productGroups: [[SlotInstruction]] = [], giantGroups: [[SlotInstruction]] = []
        var outputs: [Int] = []
        for o in plan.pairs.indices {
            var parts: [Int] = [], steps: [Int] = []
            for (gi, giant) in giantOffsets.enumerated() {
                var terms: [SlotInstruction.Term] = []
                for x in sources.indices {
                    for bi in babyOffsets.indices {
                        let (di, tap) = strategy == .giant ? (gi, bi) : (bi, gi)
                        if let p = weights.pattern(o, x, plan.diagonals[di], tap, shift: giant, builder: &self) {
                            terms.append(.init(register: rotated[x][bi], pattern: p))
                        }
                    }
                }
                guard !terms.isEmpty else { continue }
                let inner = register()
                productGroups.append([.multiplyAccumulate(terms: terms, target: inner)])
                parts.append(inner)
                steps.append(normalized(giant))
            }
            let target = register()
            giantGroups.append([.rotateSum(sources: parts, steps: steps, target: target)])
            outputs.append(target)
        }
        stages.append(ProgramStage(phase: phase, name: "products", groups: productGroups))
        stages.append(ProgramStage(phase: phase, name: "giant steps", groups: giantGroups))
        return outputs
    }

    /// Global sum and the dense layer into one ciphertext: class r in block r, slot 512·r.
    ///
    /// V = Σ_d ρ(Σ_x Q_{x,d} ⊙ z_x, 512·d), where Q_{x,d} holds at block b the weight of class
    /// (b − d) mod B for channel B·x + b at every valid position; then a rotate-and-add over the
    /// valid positions of each block sums them into the block's first slot.
    mutating func dense(_ sources: [Int], layout: PackedLayout, network: FoldedCNN, depth: Int) -> (Int, [Int]) {
        let classes = network.classCount
        let channels = layout.channels
        let s = layout.stride
        let set = positionSet(positions(height: layout.height, width: layout.width, stride: s))
        var productGroups: [[SlotInstruction]] = []
        var parts: [Int] = []
        for d in 0..<blocks {
            var terms: [SlotInstruction.Term] = []
            for x in sources.indices {
                var values = [Double](repeating: 0, count: blocks)
                var any = false
                for b in 0..<blocks {
                    let r = ((b - d) % blocks + blocks) % blocks, c = x * blocks + b
                    guard r < classes, c < channels else { continue }
                    values[b] = network.linearWeight[r * channels + c]
                    if values[b] != 0 { any = true }
                }
                guard any else { continue }
                terms.append(.init(register: sources[x],
                                   pattern: pattern(.blockwise(values: values, offsets: [0], positions: set, shift: 0), depth: depth)))
            }
            guard !terms.isEmpty else { continue }
            let inner = register()
            var group: [SlotInstruction] = [.multiplyAccumulate(terms: terms, target: inner)]
            parts.append(rotated(inner, by: SlotGeometry.blockSize * d, into: &group))
            productGroups.append(group)
        }
        // the products and their rotations are independent per diagonal d: one group each
        stages.append(ProgramStage(phase: "dense", name: "dense products", groups: productGroups))
        var group: [SlotInstruction] = []
        let gathered = register()
        group.append(.add(sources: parts, target: gathered))
        // Sum each block's valid positions into its first slot.
        var steps: [Int] = []
        var c = 1
        while c < layout.width { steps.append(s * c); c *= 2 }
        if geometry.dimension == .two {
            var r = 1
            while r < layout.height { steps.append(s * r * geometry.rowWidth); r *= 2 }
        }
        let summed = rotateAndAdd(gathered, steps: steps, into: &group)
        let slots = (0..<classes).map { $0 * SlotGeometry.blockSize }
        let bias = pattern(.listed(slots: slots, values: network.linearBias), depth: depth + 1)
        let result = register()
        group.append(.addPattern(source: summed, pattern: bias, target: result))
        stages.append(ProgramStage(phase: "dense", name: "global sum", groups: [group]))
        return (result, slots)
    }
}

/// What `planConvolution` decides for one convolution block: the taps that touch the map, the
/// diagonals (block rotations), the output ciphertexts grouped in pairs (two per ciphertext with
/// complex packing), the strategy, and the Fast-HEAR sub-positions of each input.
struct ConvolutionPlan {
    struct Tap {
        /// Kernel row and column.
        let a: Int, b: Int
        /// The slot offset of the tap's shift.
        let offset: Int
        /// The position set of the map entries the tap reaches.
        let positions: Int
    }
    let taps: [Tap]
    let diagonals: [Int]
    let pairs: [[Int]]
    let strategy: ConvolutionStrategy
    /// Sub-positions of each input ciphertext, and their in-block offsets.
    let subpositions: [Int]
    let offsets: [Int]
}

/// The weight patterns of one convolution: for output pair `o`, input ciphertext `x`, diagonal
/// `d` and tap, the values at each (block, sub-position), as a real pattern (one output) or a
/// complex one (two outputs: `(w₁ + i·w₂)/2`).
struct ConvolutionWeights {
    let plan: ConvolutionPlan
    let layout: PackedLayout
    let block: FoldedCNN.Block
    let blockCount: Int
    let depth: Int

    /// The values of output ciphertext `o`, or nil when all are zero.
    func values(_ o: Int, _ x: Int, _ d: Int, _ tap: Int, factor: Double) -> [Double]? {
        let m = plan.subpositions[x]
        var values = [Double](repeating: 0, count: blockCount * m)
        var any = false
        for k in 0..<blockCount where o * blockCount + k < block.outputChannels {
            for sub in 0..<m {
                guard let c = layout.channel(ciphertext: x, block: (k + d) % blockCount, subposition: sub) else { continue }
                let w = block.w(o * blockCount + k, c, plan.taps[tap].a, plan.taps[tap].b)
                values[k * m + sub] = factor * w
                if w != 0 { any = true }
            }
        }
        return any ? values : nil
    }

    /// Appends the pattern of output pair `pair` to the builder, pre-rotated by `shift`; its
    /// index, or nil when every weight is zero.
    func pattern(_ pair: Int, _ x: Int, _ d: Int, _ tap: Int, shift: Int, builder: inout ProgramBuilder) -> Int? {
        let outputs = plan.pairs[pair]
        let factor = outputs.count == 2 ? 0.5 : 1
        let real = values(outputs[0], x, d, tap, factor: factor)
        let imaginary = outputs.count == 2 ? values(outputs[1], x, d, tap, factor: factor) : nil
        guard real != nil || imaginary != nil else { return nil }
        let m = plan.subpositions[x]
        func form(_ values: [Double]) -> SlotPattern.Form {
            .blockwise(values: values, offsets: Array(plan.offsets.prefix(m)), positions: plan.taps[tap].positions,
                       shift: builder.normalized(shift))
        }
        builder.patterns.append(SlotPattern(form: form(real ?? [Double](repeating: 0, count: blockCount * m)),
                                            imaginary: imaginary.map(form), depth: depth))
        return builder.patterns.count - 1
    }
}
