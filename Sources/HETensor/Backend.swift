import Dispatch
import Foundation
import HERing

/// The slot operations a packed program is made of. A program is written once (by the
/// compiler, as `SlotInstruction`s) and runs on any backend: the CKKS evaluator on ciphertexts
/// (`CKKSBackend`) or the clear-slot simulator on `[Double]` (`ClearSlotBackend`), which performs
/// the very same rotations, products, additions and squares.
///
/// Rotations are to the left: ρ(x, r)[i] = x[(i + r) mod n], with 0 < r < n. Patterns are the
/// program's constant vectors (`PackedProgram.patterns`), which a backend prepares beforehand (the
/// CKKS backend encodes each at the level and scale where it is used).
public protocol SlotBackend: Sendable {
    /// What a register holds: a ciphertext, or clear slot values.
    associatedtype Value: Sendable
    /// The error the backend's operations throw.
    associatedtype Failure: Error

    /// ρ(x, r) for every r of `steps`, in order; with several steps, hoisted (one decomposition
    /// of x shared by all of them).
    func rotations(_ x: Value, by steps: [Int]) throws(Failure) -> [Value]
    /// Σᵢ ρ(xᵢ, rᵢ) (a zero step adds xᵢ itself). The CKKS backend shares one ModDown among the
    /// key switches; by default, the rotations one by one and their sum.
    func rotateSum(_ terms: [(value: Value, step: Int)]) throws(Failure) -> Value
    /// Σ_{r ∈ steps} ρ(x, r) (a zero step adds x). The CKKS backend shares one decomposition and
    /// one ModDown among the key switches; by default, hoisted rotations and their sum.
    func boxSum(_ x: Value, steps: [Int]) throws(Failure) -> Value
    /// Σᵢ patternᵢ ⊙ xᵢ, then one rescale (one level).
    func multiplyAccumulate(_ terms: [(value: Value, pattern: Int)]) throws(Failure) -> Value
    /// Σ values (same level and scale).
    func add(_ values: [Value]) throws(Failure) -> Value
    /// x + pattern, at x's level and scale.
    func addPattern(_ x: Value, pattern: Int) throws(Failure) -> Value
    /// x², relinearized and rescaled (one level).
    func square(_ x: Value) throws(Failure) -> Value
    /// x̄, the complex conjugate of every slot.
    func conjugate(_ x: Value) throws(Failure) -> Value
    /// (z + z̄, i·(z̄ − z)) from z and its conjugate: twice the real and the imaginary part.
    func splitComplex(_ z: Value, conjugate: Value) throws(Failure) -> (real: Value, imaginary: Value)
    /// The threads a program run uses for the independent groups of a stage.
    var parallelism: Parallelism { get }
    /// The level of a value, for a profile (nil where values have none).
    func level(of value: Value) -> Int?
}

extension SlotBackend {
    /// No levels by default (the clear-slot simulator).
    public func level(of value: Value) -> Int? { nil }

    /// The default: each term rotated alone, then the sum.
    public func rotateSum(_ terms: [(value: Value, step: Int)]) throws(Failure) -> Value {
        var parts: [Value] = []
        for term in terms { parts.append(term.step == 0 ? term.value : try rotations(term.value, by: [term.step])[0]) }
        return try add(parts)
    }

    /// The default: one hoisted rotation of `x` by the nonzero steps, then the sum with `x` once per zero step.
    public func boxSum(_ x: Value, steps: [Int]) throws(Failure) -> Value {
        let nonzero = steps.filter { $0 != 0 }
        var parts = Array(repeating: x, count: steps.count - nonzero.count)
        if !nonzero.isEmpty { parts += try rotations(x, by: nonzero) }
        return try add(parts)
    }
}

/// The result of running a program, with the wall time of each phase.
public struct ProgramRun<Value> {
    /// The output register's value.
    public var result: Value
    /// Seconds per phase ("block1", …, "dense"), in program order.
    public var phaseSeconds: [(phase: String, seconds: Double)]
    /// Per phase, kind of instruction and level: counts and busy seconds (when asked for).
    public var profile: ProgramProfile?
}

extension PackedProgram {
    /// For each register, the index of the last stage that reads it (the output: past the end), so
    /// that a run can free registers as soon as they are dead.
    var lastUse: [Int] {
        var last = [Int](repeating: -1, count: registerCount)
        for (index, stage) in stages.enumerated() {
            for instruction in stage.groups.joined() {
                for r in instruction.reads { last[r] = index }
            }
        }
        last[outputRegister] = stages.count
        return last
    }

    /// Runs the program on `backend` from the input value (the encrypted or clear input slots).
    ///
    /// Stages run in order; the groups of a stage are independent and run in parallel
    /// (`backend.parallelism`), each group's instructions in order. Registers are freed after their
    /// last reading stage. The result is the same for any thread count: every value is computed by
    /// one group in a fixed order. The first failure (in group order) is thrown.
    ///
    /// With `profiling`, each instruction is timed on the thread that runs it and the run carries
    /// a `ProgramProfile` (the results are the same).
    ///
    /// `observer` (a trace, `hear trace`): called after each stage, outside its timing, with the
    /// stage's index, its wall seconds and the values of the registers it wrote, in instruction
    /// order.
    public func run<Backend: SlotBackend>(on backend: Backend, input: Backend.Value, profiling: Bool = false,
                                          observer: ((_ stage: Int, _ seconds: Double, _ written: [(register: Int, value: Backend.Value)]) -> Void)? = nil)
        throws(Backend.Failure) -> ProgramRun<Backend.Value> {
        let lastUse = self.lastUse
        var profile: ProgramProfile? = profiling ? ProgramProfile() : nil
        var registers = [Backend.Value?](repeating: nil, count: registerCount)
        registers[inputRegister] = input
        var phases: [(phase: String, seconds: Double)] = []
        for (index, stage) in stages.enumerated() {
            ParallelProfile.installed?.setPhase(stage.phase)
            let start = DispatchTime.now().uptimeNanoseconds
            var failures = [Backend.Failure?](repeating: nil, count: stage.groups.count)
            // (kind, level, operations, seconds) of each instruction, per group, when profiling
            var timings = [[(ProgramProfile.Kind, Int?, Int, Double)]](repeating: [], count: profiling ? stage.groups.count : 0)
            registers.withUnsafeMutableBufferPointer { buffer in
                failures.withUnsafeMutableBufferPointer { failureBuffer in
                    timings.withUnsafeMutableBufferPointer { timingBuffer in
                        let store = UncheckedSendable(buffer), failed = UncheckedSendable(failureBuffer)
                        let timed = UncheckedSendable(timingBuffer)
                        backend.parallelism.forEach(stage.groups.count) { g in
                            do throws(Backend.Failure) {
                                for instruction in stage.groups[g] {
                                    guard profiling else {
                                        try Self.execute(instruction, on: backend, registers: store.value)
                                        continue
                                    }
                                    let entry = instruction.profileEntry
                                    let level = store.value[entry.operand].flatMap { backend.level(of: $0) }
                                    let begin = DispatchTime.now().uptimeNanoseconds
                                    try Self.execute(instruction, on: backend, registers: store.value)
                                    timed.value[g].append((entry.kind, level, entry.operations, wallSeconds(since: begin)))
                                }
                            } catch {
                                failed.value[g] = error
                            }
                        }
                    }
                }
            }
            if let failure = failures.lazy.compactMap({ $0 }).first { throw failure }
            for group in timings {   // merged in group order: the profile does not depend on the threads' timing order
                for (kind, level, operations, seconds) in group {
                    profile?.record(phase: stage.phase, kind: kind, level: level, operations: operations, seconds: seconds)
                }
            }
            let seconds = wallSeconds(since: start)
            if let observer {
                observer(index, seconds, stage.groups.joined().flatMap(\.writes).compactMap { r in registers[r].map { (r, $0) } })
            }
            for r in registers.indices where registers[r] != nil && lastUse[r] == index { registers[r] = nil }
            if let last = phases.last, last.phase == stage.phase {
                phases[phases.count - 1].seconds += seconds
            } else {
                phases.append((stage.phase, seconds))
            }
        }
        return ProgramRun(result: registers[outputRegister]!, phaseSeconds: phases, profile: profile)
    }

    static func execute<Backend: SlotBackend>(_ instruction: SlotInstruction, on backend: Backend,
                                              registers: UnsafeMutableBufferPointer<Backend.Value?>) throws(Backend.Failure) {
        switch instruction {
        case let .rotate(source, steps, targets):
            let rotated = try backend.rotations(registers[source]!, by: steps)
            for (target, value) in zip(targets, rotated) { registers[target] = value }
        case let .multiplyAccumulate(terms, target):
            registers[target] = try backend.multiplyAccumulate(terms.map { (registers[$0.register]!, $0.pattern) })
        case let .add(sources, target):
            registers[target] = try backend.add(sources.map { registers[$0]! })
        case let .rotateSum(sources, steps, target):
            registers[target] = try backend.rotateSum(zip(sources, steps).map { (registers[$0.0]!, $0.1) })
        case let .boxSum(source, steps, target):
            registers[target] = try backend.boxSum(registers[source]!, steps: steps)
        case let .addPattern(source, pattern, target):
            registers[target] = try backend.addPattern(registers[source]!, pattern: pattern)
        case let .square(source, target):
            registers[target] = try backend.square(registers[source]!)
        case let .conjugate(source, target):
            registers[target] = try backend.conjugate(registers[source]!)
        case let .splitComplex(source, conjugate, real, imaginary):
            (registers[real], registers[imaginary]) = try backend.splitComplex(registers[source]!, conjugate: registers[conjugate]!)
        }
    }
}

extension SlotInstruction {
    /// The registers the instruction writes.
    public var writes: [Int] {
        switch self {
        case let .rotate(_, _, targets): return targets
        case let .multiplyAccumulate(_, target), let .add(_, target), let .rotateSum(_, _, target), let .boxSum(_, _, target),
             let .addPattern(_, _, target), let .square(_, target), let .conjugate(_, target):
            return [target]
        case let .splitComplex(_, _, real, imaginary): return [real, imaginary]
        }
    }

    /// The registers the instruction reads.
    public var reads: [Int] {
        switch self {
        case let .rotate(source, _, _): return [source]
        case let .multiplyAccumulate(terms, _): return terms.map(\.register)
        case let .add(sources, _), let .rotateSum(sources, _, _): return sources
        case let .addPattern(source, _, _), let .boxSum(source, _, _): return [source]
        case let .square(source, _): return [source]
        case let .conjugate(source, _): return [source]
        case let .splitComplex(source, conjugate, _, _): return [source, conjugate]
        }
    }

    /// The patterns the instruction uses.
    var patterns: [Int] {
        switch self {
        case let .multiplyAccumulate(terms, _): return terms.map(\.pattern)
        case let .addPattern(_, pattern, _): return [pattern]
        default: return []
        }
    }
}
