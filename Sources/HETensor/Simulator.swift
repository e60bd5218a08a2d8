import HERing

/// The clear-slot backend: the program's slot operations on plain `[Double]` vectors
/// (rotations, pattern products, additions, squares), so that the packing logic is testable in
/// milliseconds and an encrypted result can be compared with it slot by slot. Rescaling and
/// relinearization have no clear-slot effect.
public struct ClearSlotBackend: SlotBackend {
    public let program: PackedProgram

    public init(program: PackedProgram) { self.program = program }

    var n: Int { program.geometry.slotCount }

    public func rotations(_ x: [Double], by steps: [Int]) -> [[Double]] {
        steps.map { step in
            [Double](unsafeUninitializedCapacity: n) { buffer, count in
                x.withUnsafeBufferPointer { source in
                    (buffer.baseAddress!).initialize(from: source.baseAddress! + step, count: n - step)
                    (buffer.baseAddress! + (n - step)).initialize(from: source.baseAddress!, count: step)
                }
                count = n
            }
        }
    }

    /// Σ pattern ⊙ x, visiting only the pattern's nonzero slots.
    public func multiplyAccumulate(_ terms: [(value: [Double], pattern: Int)]) -> [Double] {
        let n = self.n
        var sum = [Double](repeating: 0, count: n)
        sum.withUnsafeMutableBufferPointer { acc in
            for term in terms {
                term.value.withUnsafeBufferPointer { x in
                    switch program.patterns[term.pattern].form {
                    case let .blockwise(values, offsets, positions, shift):
                        let m = offsets.count
                        program.positionSets[positions].withUnsafeBufferPointer { set in
                            for index in values.indices where values[index] != 0 {
                                let w = values[index]
                                let base = ((index / m) * 512 + offsets[index % m] + shift) % n
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
                        for (slot, v) in zip(slots, values) { acc[slot] += v * x[slot] }
                    }
                }
            }
        }
        return sum
    }

    public func add(_ values: [[Double]]) -> [Double] {
        var sum = values[0]
        for x in values.dropFirst() {
            for i in 0..<n { sum[i] += x[i] }
        }
        return sum
    }

    public func addPattern(_ x: [Double], pattern: Int) -> [Double] {
        var x = x
        switch program.patterns[pattern].form {
        case let .listed(slots, values):
            for (slot, v) in zip(slots, values) { x[slot] += v }
        case .blockwise:
            let constant = program.patterns[pattern].materialize(slotCount: n, positionSets: program.positionSets)
            for i in 0..<n { x[i] += constant[i] }
        }
        return x
    }

    public func square(_ x: [Double]) -> [Double] { x.map { $0 * $0 } }
}

/// Runs programs on the clear-slot backend.
public enum ClearSlotSimulator {
    /// The result slot vector of the program on one input slot vector.
    public static func run(_ program: PackedProgram, input: [Double]) -> [Double] {
        precondition(input.count == program.geometry.slotCount,
                     "the input has \(input.count) slots, the program \(program.geometry.slotCount)")
        return program.run(on: ClearSlotBackend(program: program), input: input).result
    }

    /// The class scores: the result's output slots.
    public static func scores(_ program: PackedProgram, input: [Double]) -> [Double] {
        let result = run(program, input: input)
        return program.outputSlots.map { result[$0] }
    }
}
