import HERing

/// Clear slot values: real parts and, once a complex pattern has been applied, imaginary parts.
public struct ClearSlots: Sendable {
    /// Real parts of the slots.
    public var real: [Double]
    /// nil: all zero.
    public var imaginary: [Double]?

    /// Slot values; `imaginary` nil when all imaginary parts are zero.
    public init(real: [Double], imaginary: [Double]? = nil) {
        self.real = real
        self.imaginary = imaginary
    }
}

/// The clear-slot backend: the program's slot operations on plain vectors (rotations, pattern
/// products, additions, squares, conjugations), so that the packing logic is testable in
/// milliseconds and an encrypted result can be compared with it slot by slot. Rescaling and
/// relinearization have no clear-slot effect. Imaginary parts are carried only where a complex
/// pattern made them nonzero.
public struct ClearSlotBackend: SlotBackend {
    /// The program whose patterns the backend reads.
    public let program: PackedProgram
    /// The threads for the independent groups of a stage.
    public let parallelism: Parallelism

    /// A simulator of `program`.
    public init(program: PackedProgram, parallelism: Parallelism = .serial) {
        self.program = program
        self.parallelism = parallelism
    }

    var n: Int { program.geometry.slotCount }

    /// Every public operation checks its operands: slot vectors of the program's size, patterns
    /// of the program.
    func check(_ x: ClearSlots) throws(HETensorError) {
        guard x.real.count == n, x.imaginary.map({ $0.count == n }) ?? true else {
            throw .invalidInput("a slot vector of \(x.real.count) real and \(x.imaginary?.count ?? 0) imaginary values for \(n) slots")
        }
    }

    func check(pattern: Int) throws(HETensorError) {
        guard program.patterns.indices.contains(pattern) else {
            throw .invalidInput("pattern \(pattern) is not one of the program's \(program.patterns.count)")
        }
    }

    func rotated(_ x: [Double], by step: Int) -> [Double] {
        [Double](unsafeUninitializedCapacity: n) { buffer, count in
            x.withUnsafeBufferPointer { source in
                (buffer.baseAddress!).initialize(from: source.baseAddress! + step, count: n - step)
                (buffer.baseAddress! + (n - step)).initialize(from: source.baseAddress!, count: step)
            }
            count = n
        }
    }

    /// Rotations to the left by each step (any integer: taken modulo the slot count, as CKKS does).
    public func rotations(_ x: ClearSlots, by steps: [Int]) throws(HETensorError) -> [ClearSlots] {
        try check(x)
        let n = self.n
        return steps.map { step in
            let r = ((step % n) + n) % n
            return ClearSlots(real: rotated(x.real, by: r), imaginary: x.imaginary.map { rotated($0, by: r) })
        }
    }

    /// acc[slot] += sign · w[slot] · x[slot] over the nonzero slots of one pattern part.
    func accumulate(_ form: SlotPattern.Form, sign: Double, _ x: [Double], into acc: UnsafeMutableBufferPointer<Double>) {
        let n = self.n
        x.withUnsafeBufferPointer { x in
            switch form {
            case let .blockwise(values, offsets, positions, shift):
                let m = offsets.count
                program.positionSets[positions].withUnsafeBufferPointer { set in
                    for index in values.indices where values[index] != 0 {
                        let w = sign * values[index]
                        let base = ((index / m) * SlotGeometry.blockSize + offsets[index % m] + shift) % n
                        if base + 512 <= n {  // the block does not wrap around
                            for p in set { acc[base + p] += w * x[base + p] }
                        } else {
                            for p in set {
                                let slot = (base + p) % n
                                acc[slot] += w * x[slot]
                            }
                        }
                    }
                }
            case let .listed(slots, values):
                for (slot, v) in zip(slots, values) { acc[slot] += sign * v * x[slot] }
            }
        }
    }

    /// Σ pattern ⊙ x (complex products where either side is complex), visiting only the
    /// patterns' nonzero slots.
    public func multiplyAccumulate(_ terms: [(value: ClearSlots, pattern: Int)]) throws(HETensorError) -> ClearSlots {
        guard !terms.isEmpty else { throw .invalidInput("a product sum needs at least one term") }
        for term in terms { try check(term.value); try check(pattern: term.pattern) }
        let complex = terms.contains { $0.value.imaginary != nil || program.patterns[$0.pattern].imaginary != nil }
        var real = [Double](repeating: 0, count: n)
        var imaginary = [Double](repeating: 0, count: complex ? n : 0)
        real.withUnsafeMutableBufferPointer { re in
            imaginary.withUnsafeMutableBufferPointer { im in
                for term in terms {
                    let pattern = program.patterns[term.pattern]
                    accumulate(pattern.form, sign: 1, term.value.real, into: re)
                    if let xIm = term.value.imaginary {
                        accumulate(pattern.form, sign: 1, xIm, into: im)
                        if let pIm = pattern.imaginary { accumulate(pIm, sign: -1, xIm, into: re) }
                    }
                    if let pIm = pattern.imaginary { accumulate(pIm, sign: 1, term.value.real, into: im) }
                }
            }
        }
        return ClearSlots(real: real, imaginary: complex ? imaginary : nil)
    }

    static func sum(_ a: [Double]?, _ b: [Double]?, count n: Int) -> [Double]? {
        guard let a else { return b }
        guard let b else { return a }
        var s = a
        for i in 0..<n { s[i] += b[i] }
        return s
    }

    /// Σ values, slot by slot.
    public func add(_ values: [ClearSlots]) throws(HETensorError) -> ClearSlots {
        guard let first = values.first else { throw .invalidInput("a sum needs at least one value") }
        for x in values { try check(x) }
        var sum = first
        for x in values.dropFirst() {
            sum.real = Self.sum(sum.real, x.real, count: n)!
            sum.imaginary = Self.sum(sum.imaginary, x.imaginary, count: n)
        }
        return sum
    }

    /// x + pattern (real and imaginary parts).
    public func addPattern(_ x: ClearSlots, pattern: Int) throws(HETensorError) -> ClearSlots {
        try check(x); try check(pattern: pattern)
        let p = program.patterns[pattern]
        var x = x
        switch p.form {
        case let .listed(slots, values):
            for (slot, v) in zip(slots, values) { x.real[slot] += v }
        case .blockwise:
            let constant = p.materialize(slotCount: n, positionSets: program.positionSets)
            for i in 0..<n { x.real[i] += constant[i] }
        }
        if p.imaginary != nil {
            x.imaginary = Self.sum(x.imaginary, p.materializeImaginary(slotCount: n, positionSets: program.positionSets), count: n)
        }
        return x
    }

    /// x², complex where x is: (a + ib)² = a² − b² + 2iab.
    public func square(_ x: ClearSlots) throws(HETensorError) -> ClearSlots {
        try check(x)
        guard let im = x.imaginary else { return ClearSlots(real: x.real.map { $0 * $0 }) }
        return ClearSlots(real: (0..<n).map { x.real[$0] * x.real[$0] - im[$0] * im[$0] },
                          imaginary: (0..<n).map { 2 * x.real[$0] * im[$0] })
    }

    /// x̄: the imaginary parts negated.
    public func conjugate(_ x: ClearSlots) throws(HETensorError) -> ClearSlots {
        try check(x)
        return ClearSlots(real: x.real, imaginary: x.imaginary.map { $0.map { -$0 } })
    }

    /// z + z̄ and i·(z̄ − z), computed exactly as complex vectors (with c = z̄ they are 2·Re z and
    /// 2·Im z, real: their imaginary parts, zero, are dropped).
    public func splitComplex(_ z: ClearSlots, conjugate c: ClearSlots) throws(HETensorError) -> (real: ClearSlots, imaginary: ClearSlots) {
        try check(z); try check(c)
        let zero = [Double](repeating: 0, count: n)
        let zIm = z.imaginary ?? zero, cIm = c.imaginary ?? zero
        func nonzero(_ v: [Double]) -> [Double]? { v.contains { $0 != 0 } ? v : nil }
        let sum = ClearSlots(real: (0..<n).map { z.real[$0] + c.real[$0] }, imaginary: nonzero((0..<n).map { zIm[$0] + cIm[$0] }))
        // i·((c − z)_re + i·(c − z)_im) = (z − c)_im + i·(c − z)_re
        let rotatedDifference = ClearSlots(real: (0..<n).map { zIm[$0] - cIm[$0] },
                                           imaginary: nonzero((0..<n).map { c.real[$0] - z.real[$0] }))
        return (sum, rotatedDifference)
    }
}

/// Runs programs on the clear-slot backend.
public enum ClearSlotSimulator {
    /// The result slot vector of the program on one input slot vector (real parts: the result
    /// of a network is real).
    /// - Throws: `HETensorError.invalidInput` for an input of another size than the slots.
    public static func run(_ program: PackedProgram, input: [Double]) throws(HETensorError) -> [Double] {
        guard input.count == program.geometry.slotCount else {
            throw .invalidInput("the input has \(input.count) slots, the program \(program.geometry.slotCount)")
        }
        return try program.run(on: ClearSlotBackend(program: program), input: ClearSlots(real: input)).result.real
    }

    /// The class scores: the result's output slots.
    public static func scores(_ program: PackedProgram, input: [Double]) throws(HETensorError) -> [Double] {
        let result = try run(program, input: input)
        return program.outputSlots.map { result[$0] }
    }
}
