// Where a program run's time goes: per phase, kind of instruction and level.

/// The time of one program run, broken down per phase ("block1", …, "dense"), per kind of slot
/// instruction and per level: how many instructions ran, how many elementary operations they
/// stand for (rotations, plaintext products, …) and their busy seconds, summed over the threads
/// that ran them (so a phase's total can exceed its wall time when groups ran in parallel).
///
/// Filled by `PackedProgram.run(on:input:profiling: true)`; with the backend's `level(of:)`
/// (the CKKS backend gives a ciphertext's level; the clear-slot one has none).
public struct ProgramProfile: Sendable {
    /// A kind of instruction, with what one elementary operation of it is.
    public enum Kind: String, Sendable, CaseIterable, Comparable {
        /// A rotation alone: one decomposition (ModUp), key product and ModDown.
        case rotation
        /// Rotations of one ciphertext sharing one decomposition; an operation is one rotation.
        case hoistedRotation
        /// Rotations of different ciphertexts summed with one shared ModDown; an operation is one
        /// rotation (its ModUp and key product).
        case rotationSum
        /// A box sum Σ_r ρ(x, r): one decomposition and one ModDown shared; an operation is one
        /// rotation (its key product and permutation).
        case boxSum
        /// Σ pattern ⊙ x and one rescale; an operation is one plaintext product.
        case productSum
        /// A ciphertext product (x²), its relinearization (a key switch) and one rescale.
        case square
        /// Complex conjugation: a key switch like a rotation.
        case conjugation
        /// Sums of ciphertexts; an operation is one addition.
        case addition
        /// A pattern added to a ciphertext (a bias).
        case patternAddition
        /// Splitting z and z̄ into real and imaginary parts (additions and a monomial product).
        case complexSplit

        /// The order of the cases (rotations first, complex splits last).
        public static func < (a: Kind, b: Kind) -> Bool {
            allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
        }
    }

    /// One row of the breakdown.
    public struct Key: Hashable, Sendable {
        /// The phase ("block1", …, "dense").
        public var phase: String
        /// The kind of instruction.
        public var kind: Kind
        /// The level of the instruction's (first) operand, where the backend has levels.
        public var level: Int?
    }

    /// What a row adds up to.
    public struct Totals: Sendable, Equatable {
        /// Instructions of the row's phase, kind and level.
        public var instructions = 0
        /// Elementary operations those instructions stand for.
        public var operations = 0
        /// Their busy seconds, summed over the threads that ran them.
        public var seconds = 0.0
    }

    /// Totals per phase, kind and level.
    public internal(set) var rows: [Key: Totals] = [:]
    /// The phases in program order.
    public internal(set) var phases: [String] = []

    /// An empty profile.
    public init() {}

    /// The rows in program order of phase, then kind, then descending level.
    public var sortedRows: [(key: Key, totals: Totals)] {
        rows.map { ($0.key, $0.value) }.sorted { a, b in
            let pa = phases.firstIndex(of: a.key.phase) ?? 0, pb = phases.firstIndex(of: b.key.phase) ?? 0
            if pa != pb { return pa < pb }
            if a.key.kind != b.key.kind { return a.key.kind < b.key.kind }
            return (a.key.level ?? -1) > (b.key.level ?? -1)
        }
    }

    /// The totals of one kind over all phases and levels.
    public func totals(of kind: Kind) -> Totals {
        rows.filter { $0.key.kind == kind }.values.reduce(into: Totals()) {
            $0.instructions += $1.instructions; $0.operations += $1.operations; $0.seconds += $1.seconds
        }
    }

    mutating func record(phase: String, kind: Kind, level: Int?, operations: Int, seconds: Double) {
        if !phases.contains(phase) { phases.append(phase) }
        var totals = rows[Key(phase: phase, kind: kind, level: level), default: Totals()]
        totals.instructions += 1
        totals.operations += operations
        totals.seconds += seconds
        rows[Key(phase: phase, kind: kind, level: level)] = totals
    }
}

extension SlotInstruction {
    /// The kind of the instruction, the number of elementary operations it stands for, and the
    /// register whose level it runs at.
    var profileEntry: (kind: ProgramProfile.Kind, operations: Int, operand: Int) {
        switch self {
        case let .rotate(source, steps, _):
            let nonzero = steps.filter { $0 != 0 }.count
            return (nonzero > 1 ? .hoistedRotation : .rotation, nonzero, source)
        case let .multiplyAccumulate(terms, _): return (.productSum, terms.count, terms.first?.register ?? 0)
        case let .add(sources, _): return (.addition, max(0, sources.count - 1), sources.first ?? 0)
        case let .rotateSum(sources, steps, _): return (.rotationSum, steps.filter { $0 != 0 }.count, sources.first ?? 0)
        case let .boxSum(source, steps, _): return (.boxSum, steps.filter { $0 != 0 }.count, source)
        case let .addPattern(source, _, _): return (.patternAddition, 1, source)
        case let .square(source, _): return (.square, 1, source)
        case let .conjugate(source, _): return (.conjugation, 1, source)
        case let .splitComplex(source, _, _, _): return (.complexSplit, 1, source)
        }
    }
}
