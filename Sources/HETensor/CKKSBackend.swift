import CKKS
import Foundation
import HERing

/// The levels and scales of a packed program on a CKKS chain, fixed before any ciphertext
/// exists, so that every constant is encoded once at the level and scale where it is used
/// (level-aware encoding) and every key is generated only up to the level where it is used.
///
/// The input is encrypted at level `startLevel` = the program's depth (no limb is carried that
/// the program would not use) and scale `inputScale`. Then:
/// - a product Σ p ⊙ x at level ℓ uses patterns encoded at scale `q_ℓ`, the prime the following
///   rescale divides by, so the scale is unchanged: Δ·q_ℓ/q_ℓ = Δ;
/// - a square at level ℓ turns Δ into Δ²/q_ℓ (the primes are close to Δ, so the scale drifts by
///   parts per million, tracked exactly);
/// - a bias addition at level ℓ uses a pattern encoded at the register's own scale.
/// Scales are computed with the evaluator's own floating-point operations, so they match it.
public struct LevelPlan: Sendable {
    /// The level the input is encrypted at: the program's depth.
    public let startLevel: Int
    /// The scale the input is encrypted at (the parameter set's Δ unless one was given).
    public let inputScale: Double
    /// Level and scale of each register.
    public let registerLevels: [Int]
    /// Scales of the registers, in the same order.
    public let registerScales: [Double]
    /// Level and scale each pattern is encoded at.
    public let patternLevels: [Int]
    /// Scales of the patterns, in the same order.
    public let patternScales: [Double]
    /// Each rotation step with the highest level it is applied at (its Galois key's level).
    public let rotationLevels: [Int: Int]
    /// The highest level of a square (the relinearization key's level).
    public let relinearizationLevel: Int
    /// The highest level of a conjugation (its key's level), nil when the program has none.
    public let conjugationLevel: Int?

    /// The plan of `program` on the chain of `parameters`: every register's and pattern's level and scale, and the level each key is needed at.
    /// - Throws: `CKKSError.invalidParameters` when the program was compiled for another slot count or the chain has fewer levels than its depth.
    public init(program: PackedProgram, parameters: CKKSParameters, inputScale: Double? = nil) throws(CKKSError) {
        guard program.geometry.slotCount == parameters.slotCount else {
            throw .invalidParameters("the program is compiled for \(program.geometry.slotCount) slots, the parameters have \(parameters.slotCount)")
        }
        guard program.depth <= parameters.maxLevel else {
            throw .invalidParameters("the program needs \(program.depth) levels, parameter set '\(parameters.name)' has \(parameters.maxLevel)")
        }
        let start = program.depth
        let scale = inputScale ?? parameters.scale
        let primes = parameters.dataPrimes.map { Double($0) }  // (not map(Double.init): that is init(bitPattern:))
        var levels = [Int](repeating: -1, count: program.registerCount)
        var scales = [Double](repeating: 0, count: program.registerCount)
        var patternLevels = [Int](repeating: -1, count: program.patterns.count)
        var patternScales = [Double](repeating: 0, count: program.patterns.count)
        var rotations: [Int: Int] = [:]
        var relinearization = 0
        var conjugation: Int? = nil
        levels[program.inputRegister] = start
        scales[program.inputRegister] = scale

        func fixPattern(_ p: Int, level: Int, scale: Double) throws(CKKSError) {
            if patternLevels[p] < 0 {
                patternLevels[p] = level
                patternScales[p] = scale
            } else if patternLevels[p] != level || patternScales[p] != scale {
                throw .invalidOperand("pattern \(p) is used at two levels or scales")
            }
        }
        func operand(_ r: Int) throws(CKKSError) -> (Int, Double) {
            guard levels[r] >= 0 else { throw .invalidOperand("register \(r) is read before it is written") }
            return (levels[r], scales[r])
        }
        func same(_ registers: [Int]) throws(CKKSError) -> (Int, Double) {
            let (level, scale) = try operand(registers[0])
            for r in registers.dropFirst() {
                let (l, s) = try operand(r)
                guard l == level else { throw .levelMismatch(l, level) }
                guard abs(s - scale) <= 1e-9 * scale else { throw .scaleMismatch(s, scale) }
            }
            return (level, scale)
        }
        for stage in program.stages {
            for instruction in stage.groups.joined() {
                switch instruction {
                case let .rotate(source, steps, targets):
                    let (level, scale) = try operand(source)
                    for (step, target) in zip(steps, targets) {
                        rotations[step] = max(rotations[step] ?? 0, level)
                        (levels[target], scales[target]) = (level, scale)
                    }
                case let .multiplyAccumulate(terms, target):
                    let (level, scale) = try same(terms.map(\.register))
                    guard level > 0 else { throw .invalidLevel(level: 0, reason: "a product needs a level to rescale") }
                    for term in terms { try fixPattern(term.pattern, level: level, scale: primes[level]) }
                    (levels[target], scales[target]) = (level - 1, scale * primes[level] / primes[level])
                case let .add(sources, target):
                    (levels[target], scales[target]) = try same(sources)
                case let .boxSum(source, steps, target):
                    let (level, scale) = try operand(source)
                    for step in steps where step != 0 { rotations[step] = max(rotations[step] ?? 0, level) }
                    (levels[target], scales[target]) = (level, scale)
                case let .rotateSum(sources, steps, target):
                    let (level, scale) = try same(sources)
                    for step in steps where step != 0 { rotations[step] = max(rotations[step] ?? 0, level) }
                    (levels[target], scales[target]) = (level, scale)
                case let .addPattern(source, pattern, target):
                    let (level, scale) = try operand(source)
                    try fixPattern(pattern, level: level, scale: scale)
                    (levels[target], scales[target]) = (level, scale)
                case let .square(source, target):
                    let (level, scale) = try operand(source)
                    guard level > 0 else { throw .invalidLevel(level: 0, reason: "a square needs a level to rescale") }
                    relinearization = max(relinearization, level)
                    (levels[target], scales[target]) = (level - 1, scale * scale / primes[level])
                case let .conjugate(source, target):
                    let (level, scale) = try operand(source)
                    conjugation = max(conjugation ?? 0, level)
                    (levels[target], scales[target]) = (level, scale)
                case let .splitComplex(source, conjugate, real, imaginary):
                    let (level, scale) = try same([source, conjugate])
                    (levels[real], scales[real]) = (level, scale)
                    (levels[imaginary], scales[imaginary]) = (level, scale)
                }
            }
        }
        // The result is decrypted at level 0: its slots (scores and partial sums) times the
        // scale must stay below q₀/2. Require 2⁷ of headroom (|values| < 64 with margin).
        let resultScale = scales[program.outputRegister]
        guard primes[0] / resultScale >= 128 else {
            throw .invalidParameters("parameter set '\(parameters.name)': q0 (\(parameters.dataPrimeBits[0]) bits) leaves "
                + String(format: "%.1f", log2(primes[0] / resultScale)) + " bits above the result scale; "
                + "the network's scores need 7 (use the default preset)")
        }
        startLevel = start
        self.inputScale = scale
        registerLevels = levels
        registerScales = scales
        self.patternLevels = patternLevels
        self.patternScales = patternScales
        rotationLevels = rotations
        relinearizationLevel = relinearization
        conjugationLevel = conjugation
    }

    /// Bytes of the encoded patterns: (level + 1) limbs of N words each.
    public func patternBytes(degree: Int) -> Int {
        patternLevels.reduce(0) { $0 + ($1 + 1) * degree * 8 }
    }

    /// Bytes of the Galois keys (rotations and conjugation; two polynomials per digit over
    /// `Q_ℓ·P`) and the relinearization key.
    public func keyBytes(parameters: CKKSParameters) -> (galois: Int, relinearization: Int) {
        let k = parameters.specialPrimes.count, alpha = parameters.primesPerDigit, n = parameters.degree
        func bytes(_ level: Int) -> Int { 2 * ((level + alpha) / alpha) * (level + 1 + k) * n * 8 }
        let galois = rotationLevels.values.reduce(0) { $0 + bytes($1) } + (conjugationLevel.map(bytes) ?? 0)
        return (galois, bytes(relinearizationLevel))
    }
}

/// The patterns of a program as CKKS plaintexts, each encoded at its level and scale, kept in
/// one of three forms chosen per pattern under a memory budget:
///
/// - **NTT form** (resident): ready to multiply; `(ℓ + 1)·N` residues each, by default
///   **packed** in 5 bytes a residue (6 for a prime of 40 bits or more; `PackedPlaintext`),
///   read at the same speed;
/// - **compact**: the integer polynomial `⌊Δ·σ⁻¹(z)⌉`, `N` words whatever the level, turned into
///   NTT form on use (`ℓ + 1` reductions and NTTs: a fraction of a product's cost per limb);
/// - **streamed**: nothing kept; encoded from the slot values on use (also an FFT).
///
/// When all NTT forms exceed the budget, patterns are made compact, from the highest level down
/// (a compact pattern at level ℓ saves `ℓ·N` words for `ℓ + 1` NTTs per use, so the highest
/// levels cost the least work per byte saved), within a level stage by stage from the stage with
/// the most bytes, one pattern at a time until the rest fits (so the budget is used up); if every
/// compact form still exceeds it, patterns are streamed in the same order. A compact pattern is
/// never expanded into storage: the product reduces and transforms it limb by limb in a scratch
/// (`Evaluator.multiplyAccumulate(_:compact:)`). Memory stays bounded, at the price of work during
/// the evaluation (`Docs/Performance.md` §6 measures the trade). Any form gives bit-identical
/// products.
public final class PatternStore: @unchecked Sendable {
    /// How the store keeps the encoded patterns between evaluations.
    public enum Form: String, Sendable {
        /// Full NTT-form plaintexts at their level: the fastest products, the most memory.
        case ntt
        /// NTT form with each residue packed in 5 bytes (6 for primes of 40 bits or more), read at full speed.
        case packed
        /// The integer polynomial ⌊Δ·σ⁻¹(z)⌉, N words at any level, reduced and transformed per use.
        case compact
        /// Nothing kept: encoded from the slot values when an instruction uses it.
        case streamed
    }

    // Written only during init; read concurrently afterwards.
    let resident: [Plaintext?]
    let packed: [PackedPlaintext?]
    let compact: [CompactPlaintext?]
    let program: PackedProgram
    let plan: LevelPlan
    let context: CKKSContext
    /// The form of each pattern (the kept form, `.packed` or `.ntt`, for the ones no instruction
    /// uses, which are not encoded).
    public let forms: [Form]
    /// The stage of each pattern's first use (−1: unused).
    let stageOf: [Int]

    /// Encodes the kept patterns (in parallel). `budget`: the most bytes of kept plaintexts
    /// (nil: every pattern kept ready to multiply). `packResidues`: keep them packed (5 or 6
    /// bytes a residue, `PackedPlaintext`) where the chain's primes allow, rather than in 8.
    public init(program: PackedProgram, plan: LevelPlan, context: CKKSContext, budget: Int? = nil,
                packResidues: Bool = true) throws(CKKSError) {
        self.program = program
        self.plan = plan
        self.context = context
        // the stage of each pattern and the bytes of each stage in NTT form
        var stageOf = [Int](repeating: -1, count: program.patterns.count)
        var patternsOfStage = [[Int]](repeating: [], count: program.stages.count)
        for (index, stage) in program.stages.enumerated() {
            for instruction in stage.groups.joined() {
                for p in instruction.patterns where stageOf[p] < 0 {
                    stageOf[p] = index
                    patternsOfStage[index].append(p)
                }
            }
        }
        let n = context.degree
        let pack = packResidues && context.canPack(level: context.maxLevel)
        // bytes of a pattern ready to multiply: 8 a residue, or packed
        func nttBytes(_ p: Int) -> Int {
            let level = plan.patternLevels[p]
            guard pack else { return (level + 1) * n * 8 }
            return context.parameters.dataPrimes.prefix(level + 1).reduce(0) { $0 + n * ResiduePacking.bytes(prime: $1) }
        }
        let stageBytes = patternsOfStage.map { $0.reduce(0) { $0 + nttBytes($1) } }
        var forms = [Form](repeating: pack ? .packed : .ntt, count: program.patterns.count)
        if let budget {
            // a compact pattern at level ℓ saves ℓ·N words for ℓ + 1 NTTs per use: highest levels
            // first (least work per byte saved), then the stage with the most bytes first
            let stageRank = stageBytes.indices.sorted { stageBytes[$0] > stageBytes[$1] }
            let order = stageRank.flatMap { patternsOfStage[$0] }.enumerated().sorted {
                let (a, b) = (plan.patternLevels[$0.element], plan.patternLevels[$1.element])
                return a != b ? a > b : $0.offset < $1.offset
            }.map(\.element)
            var total = stageBytes.reduce(0, +)
            for p in order where total > budget && nttBytes(p) > n * 8 {
                forms[p] = .compact
                total -= nttBytes(p) - n * 8
            }
            for p in order where total > budget {
                total -= forms[p] == .compact ? n * 8 : nttBytes(p)
                forms[p] = .streamed
            }
        }
        self.forms = forms
        self.stageOf = stageOf
        let kept = (0..<program.patterns.count).filter { stageOf[$0] >= 0 && forms[$0] != .streamed }
        var ntt = [Plaintext?](repeating: nil, count: program.patterns.count)
        var packedOut = [PackedPlaintext?](repeating: nil, count: program.patterns.count)
        var integers = [CompactPlaintext?](repeating: nil, count: program.patterns.count)
        var failures = [CKKSError?](repeating: nil, count: kept.count)
        ntt.withUnsafeMutableBufferPointer { nttOut in
          packedOut.withUnsafeMutableBufferPointer { packedOut in
            integers.withUnsafeMutableBufferPointer { integerOut in
                failures.withUnsafeMutableBufferPointer { failed in
                    let nttOut = UncheckedSendable(nttOut), integerOut = UncheckedSendable(integerOut)
                    let packedOut = UncheckedSendable(packedOut)
                    let failed = UncheckedSendable(failed)
                    context.parallelism.forEach(kept.count) { i in
                        let p = kept[i]
                        do throws(CKKSError) {
                            if forms[p] == .ntt {
                                nttOut.value[p] = try Self.encode(p, program: program, plan: plan, context: context)
                            } else if forms[p] == .packed {
                                guard let packed = try context.packedPlaintext(
                                    fromRounded: Self.integers(p, program: program, plan: plan, context: context),
                                    level: plan.patternLevels[p], scale: plan.patternScales[p]) else {
                                    throw .invalidOperand("pattern \(p): the chain's primes do not allow packed residues")
                                }
                                packedOut.value[p] = packed
                            } else {
                                integerOut.value[p] = try context.compactPlaintext(
                                    fromRounded: Self.integers(p, program: program, plan: plan, context: context),
                                    level: plan.patternLevels[p], scale: plan.patternScales[p])
                            }
                        } catch {
                            failed.value[i] = error
                        }
                    }
                }
            }
          }
        }
        if let failure = failures.lazy.compactMap({ $0 }).first { throw failure }
        resident = ntt
        packed = packedOut
        compact = integers
    }

    /// The slot values of pattern `p`, complex ones for a complex pattern.
    static func slots(_ p: Int, program: PackedProgram) -> [Complex] {
        let pattern = program.patterns[p], n = program.geometry.slotCount
        let real = pattern.materialize(slotCount: n, positionSets: program.positionSets)
        guard pattern.imaginary != nil else { return real.map { Complex($0) } }
        let imaginary = pattern.materializeImaginary(slotCount: n, positionSets: program.positionSets)
        return (0..<n).map { Complex(real[$0], imaginary[$0]) }
    }

    static func encode(_ p: Int, program: PackedProgram, plan: LevelPlan, context: CKKSContext) throws(CKKSError) -> Plaintext {
        try context.encode(slots(p, program: program), level: plan.patternLevels[p], scale: plan.patternScales[p])
    }

    /// The integer polynomial of pattern `p` (compact form).
    static func integers(_ p: Int, program: PackedProgram, plan: LevelPlan, context: CKKSContext) throws(CKKSError) -> [Int64] {
        guard let rounded = try context.encoder.roundedCoefficients(slots(p, program: program), scale: plan.patternScales[p]) else {
            throw .invalidOperand("pattern \(p) has a coefficient beyond 2^63 at scale \(plan.patternScales[p])")
        }
        return rounded
    }

    /// Pattern `p` in NTT form: kept, expanded from its compact form, or freshly encoded.
    public func plaintext(_ p: Int) throws(CKKSError) -> Plaintext {
        guard resident.indices.contains(p) else {
            throw .invalidOperand("pattern \(p) is not one of the program's \(resident.count)")
        }
        if let plaintext = resident[p] { return plaintext }
        if let packed = packed[p] { return try context.plaintext(packed) }
        if let compact = compact[p] { return try context.plaintext(compact) }
        return try Self.encode(p, program: program, plan: plan, context: context)
    }

    /// Pattern `p` as a product takes it: the kept NTT form, the kept compact form (expanded
    /// inside the product), or freshly encoded.
    public func operand(_ p: Int) throws(CKKSError) -> Operand {
        guard resident.indices.contains(p) else {
            throw .invalidOperand("pattern \(p) is not one of the program's \(resident.count)")
        }
        if let plaintext = resident[p] { return .ntt(plaintext) }
        if let packed = packed[p] { return .packed(packed) }
        if let compact = compact[p] { return .compact(compact) }
        return .ntt(try Self.encode(p, program: program, plan: plan, context: context))
    }

    /// A pattern in the form a product takes it.
    public enum Operand: Sendable {
        /// A plaintext in NTT form at the pattern's level.
        case ntt(Plaintext)
        /// An NTT-form plaintext with packed residues.
        case packed(PackedPlaintext)
        /// The integer polynomial, reduced and transformed during the product.
        case compact(CompactPlaintext)
    }

    /// The stages with patterns not kept in NTT form: how many are compact and streamed, of all.
    public var nonResidentStages: [(stage: Int, compact: Int, streamed: Int, patterns: Int)] {
        var result: [(stage: Int, compact: Int, streamed: Int, patterns: Int)] = []
        for stage in program.stages.indices {
            let patterns = forms.indices.filter { stageOf[$0] == stage }
            let compact = patterns.filter { forms[$0] == .compact }.count
            let streamed = patterns.filter { forms[$0] == .streamed }.count
            if compact + streamed > 0 { result.append((stage, compact, streamed, patterns.count)) }
        }
        return result
    }

    /// Bytes held by the kept plaintexts (NTT and compact forms).
    public var residentBytes: Int {
        resident.reduce(0) { $0 + ($1?.polynomial.data.count ?? 0) * 8 } + packed.reduce(0) { $0 + ($1?.byteCount ?? 0) }
            + compact.reduce(0) { $0 + ($1?.coefficients.count ?? 0) * 8 }
    }
    /// Patterns kept ready to multiply (NTT form, packed or not).
    public var residentCount: Int { resident.reduce(0) { $0 + ($1 == nil ? 0 : 1) } + packedCount }
    /// Of those, patterns kept packed (5 or 6 bytes a residue).
    public var packedCount: Int { packed.reduce(0) { $0 + ($1 == nil ? 0 : 1) } }
    /// Patterns kept compact.
    public var compactCount: Int { compact.reduce(0) { $0 + ($1 == nil ? 0 : 1) } }
}

/// The CKKS backend: runs a program's slot operations on ciphertexts with the evaluation keys
/// (Galois keys for the program's rotation steps, the relinearization key) and the encoded
/// patterns. Holds no secret: this is what the cloud server has.
public struct CKKSBackend: SlotBackend {
    /// The context of the session's parameters.
    public let context: CKKSContext
    /// The levels and scales the program runs at.
    public let plan: LevelPlan
    /// The program's patterns, encoded at their levels and scales.
    public let patterns: PatternStore
    /// The keys of the program's rotation steps (and of conjugation, when it has complex patterns).
    public let galoisKeys: GaloisKeys
    /// The key of every square's relinearization.
    public let relinearizationKey: RelinearizationKey
    let evaluator: Evaluator
    /// The context's threads.
    public var parallelism: Parallelism { context.parallelism }

    /// A backend for a program whose patterns and keys were prepared for `plan`.
    public init(context: CKKSContext, plan: LevelPlan, patterns: PatternStore, galoisKeys: GaloisKeys,
                relinearizationKey: RelinearizationKey) {
        self.context = context
        self.plan = plan
        self.patterns = patterns
        self.galoisKeys = galoisKeys
        self.relinearizationKey = relinearizationKey
        evaluator = Evaluator(context: context)
    }

    /// One rotation key-switched alone, or several hoisted (one decomposition shared).
    public func rotations(_ x: Ciphertext, by steps: [Int]) throws(CKKSError) -> [Ciphertext] {
        if steps.count == 1 { return [try evaluator.rotate(x, by: steps[0], keys: galoisKeys)] }
        return try evaluator.rotations(x, by: steps, keys: galoisKeys)
    }

    /// `Evaluator.sumOfRotations(_:keys:)`: the key switches share one ModDown.
    public func rotateSum(_ terms: [(value: Ciphertext, step: Int)]) throws(CKKSError) -> Ciphertext {
        try evaluator.sumOfRotations(terms.map { ($0.value, $0.step) }, keys: galoisKeys)
    }

    /// `Evaluator.sumOfRotations(of:by:keys:)`: one decomposition and one ModDown shared.
    public func boxSum(_ x: Ciphertext, steps: [Int]) throws(CKKSError) -> Ciphertext {
        try evaluator.sumOfRotations(of: x, by: steps, keys: galoisKeys)
    }

    /// The products in whichever form each pattern is kept (all summed before one rescale), then the rescale.
    public func multiplyAccumulate(_ terms: [(value: Ciphertext, pattern: Int)]) throws(CKKSError) -> Ciphertext {
        var pairs: [(Ciphertext, Plaintext)] = [], packed: [(Ciphertext, PackedPlaintext)] = []
        var compact: [(Ciphertext, CompactPlaintext)] = []
        pairs.reserveCapacity(terms.count)
        for term in terms {
            switch try patterns.operand(term.pattern) {
            case let .ntt(plaintext): pairs.append((term.value, plaintext))
            case let .packed(plaintext): packed.append((term.value, plaintext))
            case let .compact(plaintext): compact.append((term.value, plaintext))
            }
        }
        return try evaluator.rescale(evaluator.multiplyAccumulate(pairs, packed: packed, compact: compact))
    }

    /// The ciphertexts added in order.
    public func add(_ values: [Ciphertext]) throws(CKKSError) -> Ciphertext {
        guard let first = values.first else { throw .invalidOperand("a sum needs at least one ciphertext") }
        var sum = first
        for x in values.dropFirst() { sum = try evaluator.add(sum, x) }
        return sum
    }

    /// The pattern (encoded at the register's scale) added.
    public func addPattern(_ x: Ciphertext, pattern: Int) throws(CKKSError) -> Ciphertext {
        try evaluator.add(x, patterns.plaintext(pattern))
    }

    /// Squared, relinearized and rescaled.
    public func square(_ x: Ciphertext) throws(CKKSError) -> Ciphertext {
        try evaluator.rescale(evaluator.square(x, relinearizationKey: relinearizationKey))
    }

    /// Conjugated with the Galois key of `2N − 1`.
    public func conjugate(_ x: Ciphertext) throws(CKKSError) -> Ciphertext {
        try evaluator.conjugate(x, keys: galoisKeys)
    }

    /// The ciphertext's level.
    public func level(of value: Ciphertext) -> Int? { value.level }

    /// `z + z̄` and `i·(z̄ − z)`: additions and the product by X^{N/2} (`i` in every slot), no level spent.
    public func splitComplex(_ z: Ciphertext, conjugate: Ciphertext) throws(CKKSError) -> (real: Ciphertext, imaginary: Ciphertext) {
        (try evaluator.add(z, conjugate), try evaluator.multiplyByImaginaryUnit(evaluator.subtract(conjugate, z)))
    }
}

extension PackedProgram {
    /// The monitoring station's side: the class scores from the decrypted result's slots.
    public func scores(ofDecryptedSlots slots: [Double]) -> [Double] { outputSlots.map { slots[$0] } }
}
