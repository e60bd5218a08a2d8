import HERing

/// The clear-slot simulator: runs a `PackedProgram` on plain `[Double]` slot vectors with exactly
/// the slot operations the encrypted run performs (rotations, pattern products, additions,
/// squares), so the packing logic is testable in milliseconds and the encrypted result can be
/// compared with it slot by slot. Rescaling and relinearization have no clear-slot effect.
public enum ClearSlotSimulator {
    /// The result slot vector of the program on one input slot vector.
    public static func run(_ program: PackedProgram, input: [Double]) -> [Double] {
        let n = program.geometry.slotCount
        precondition(input.count == n, "the input has \(input.count) slots, the program \(n)")
        // The stage after which each register is no longer read (to free it).
        var lastUse = [Int](repeating: -1, count: program.registerCount)
        for (index, stage) in program.stages.enumerated() {
            for instruction in stage.groups.joined() {
                for r in reads(instruction) { lastUse[r] = index }
            }
        }
        lastUse[program.outputRegister] = program.stages.count
        var registers = [[Double]?](repeating: nil, count: program.registerCount)
        registers[program.inputRegister] = input
        for (index, stage) in program.stages.enumerated() {
            registers.withUnsafeMutableBufferPointer { buffer in
                let store = UncheckedSendable(buffer)
                Parallelism.forEach(stage.groups.count) { g in
                    for instruction in stage.groups[g] {
                        execute(instruction, program: program, registers: store.value)
                    }
                }
            }
            for r in registers.indices where registers[r] != nil && lastUse[r] == index { registers[r] = nil }
        }
        return registers[program.outputRegister]!
    }

    /// The class scores: the result's output slots.
    public static func scores(_ program: PackedProgram, input: [Double]) -> [Double] {
        let result = run(program, input: input)
        return program.outputSlots.map { result[$0] }
    }

    static func reads(_ instruction: SlotInstruction) -> [Int] {
        switch instruction {
        case let .rotate(source, _, _): return [source]
        case let .multiplyAccumulate(terms, _): return terms.map(\.register)
        case let .add(sources, _): return sources
        case let .addPattern(source, _, _): return [source]
        case let .square(source, _): return [source]
        }
    }

    static func execute(_ instruction: SlotInstruction, program: PackedProgram, registers: UnsafeMutableBufferPointer<[Double]?>) {
        let n = program.geometry.slotCount
        switch instruction {
        case let .rotate(source, steps, targets):
            let x = registers[source]!
            for (step, target) in zip(steps, targets) {
                registers[target] = [Double](unsafeUninitializedCapacity: n) { buffer, count in
                    x.withUnsafeBufferPointer { source in
                        (buffer.baseAddress!).initialize(from: source.baseAddress! + step, count: n - step)
                        (buffer.baseAddress! + (n - step)).initialize(from: source.baseAddress!, count: step)
                    }
                    count = n
                }
            }
        case let .multiplyAccumulate(terms, target):
            var sum = [Double](repeating: 0, count: n)
            sum.withUnsafeMutableBufferPointer { acc in
                for term in terms {
                    registers[term.register]!.withUnsafeBufferPointer { x in
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
            registers[target] = sum
        case let .add(sources, target):
            var sum = registers[sources[0]]!
            for source in sources.dropFirst() {
                let x = registers[source]!
                for i in 0..<n { sum[i] += x[i] }
            }
            registers[target] = sum
        case let .addPattern(source, pattern, target):
            var x = registers[source]!
            switch program.patterns[pattern].form {
            case let .listed(slots, values):
                for (slot, v) in zip(slots, values) { x[slot] += v }
            case .blockwise:
                let constant = program.patterns[pattern].materialize(slotCount: n, positionSets: program.positionSets)
                for i in 0..<n { x[i] += constant[i] }
            }
            registers[target] = x
        case let .square(source, target):
            registers[target] = registers[source]!.map { $0 * $0 }
        }
    }
}
